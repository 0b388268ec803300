package org.salon.app.service

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * The call in progress, for what lives outside its screen: [CallService]'s notification (its
 * Leave action) and the activity's picture-in-picture. The call's ViewModel [begin]s and [end]s it.
 */
object OngoingCall {
    /** A call in progress: the room's name and how to leave it. */
    class Active(val roomName: String, val leave: () -> Unit)

    private val mutableActive = MutableStateFlow<Active?>(null)
    val active: StateFlow<Active?> = mutableActive.asStateFlow()

    private val mutablePictureInPicture = MutableStateFlow(false)

    /** The activity shows the call as a picture-in-picture window. */
    val pictureInPicture: StateFlow<Boolean> = mutablePictureInPicture.asStateFlow()

    fun begin(call: Active) {
        mutableActive.value = call
    }

    /** Ends [call] if it is still the one in progress. */
    fun end(call: Active) {
        mutableActive.compareAndSet(call, null)
    }

    /** Leaves the call in progress (the notification's Leave action). */
    fun leave() {
        mutableActive.getAndSet(null)?.leave?.invoke()
    }

    fun setPictureInPicture(inPip: Boolean) {
        mutablePictureInPicture.value = inPip
    }
}

private fun <T> MutableStateFlow<T>.getAndSet(value: T): T {
    while (true) {
        val old = this.value
        if (compareAndSet(old, value)) return old
    }
}
