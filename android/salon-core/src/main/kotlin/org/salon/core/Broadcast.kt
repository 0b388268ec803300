package org.salon.core

import java.util.concurrent.CopyOnWriteArraySet
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.ProducerScope
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/**
 * Fans one callback out to any number of collectors. The core takes its listeners once, when a
 * call is joined; each [asFlow] collector registers here through `callbackFlow` and unregisters
 * when it stops collecting. [publish] never blocks and never throws: it runs on the core's
 * threads, and a full collector loses its oldest values.
 */
internal class Broadcast<T> {
    private val subscribers = CopyOnWriteArraySet<ProducerScope<T>>()
    private val lock = Any()
    private var closed = false

    val hasSubscribers: Boolean get() = subscribers.isNotEmpty()

    fun publish(value: T) {
        for (subscriber in subscribers) subscriber.trySend(value)
    }

    /** Completes every collector, now and later. */
    fun close() {
        synchronized(lock) { closed = true }
        for (subscriber in subscribers) subscriber.close()
        subscribers.clear()
    }

    /** A flow of what is published from now on; keeps at most [capacity] values for a slow collector. */
    fun asFlow(capacity: Int): Flow<T> =
        callbackFlow {
            val added = synchronized(lock) { !closed && subscribers.add(this) }
            if (!added) close()
            awaitClose { subscribers.remove(this) }
        }.buffer(capacity, BufferOverflow.DROP_OLDEST)
}
