package org.salon.app.net

/**
 * The device's default network as the call's ViewModel sees it, without Android types, so that
 * the ViewModel is tested with a fake. [AndroidNetworkWatch] is the real one.
 */
interface NetworkWatch {
    /** The default network now, by its handle; null when there is none. */
    val current: Long?

    /** From now until [stop], [onEvent] gets every callback about the default network, on the main thread. */
    fun start(onEvent: (NetworkEvent) -> Unit)

    /** Stops the callbacks. Safe to call more than once. */
    fun stop()
}

/** No network news at all: the ViewModel's tests and previews. */
object NoNetworkWatch : NetworkWatch {
    override val current: Long? = null

    override fun start(onEvent: (NetworkEvent) -> Unit) {}

    override fun stop() {}
}
