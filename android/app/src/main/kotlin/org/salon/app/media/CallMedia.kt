package org.salon.app.media

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant
import org.salon.core.I420Frame

/**
 * The phone's media as the call's ViewModel sees it, without Android types, so that the
 * ViewModel is tested with a fake: permissions, the camera, the microphone, audio routing and
 * focus, and the foreground service. [AndroidCallMedia] is the real one.
 */
interface CallMedia {
    /** Asks (in context, when joining) for what [wanted] needs; says what the call may use. */
    suspend fun requestPermissions(wanted: Set<Capture>): MediaGrant

    fun openAppSettings()

    /**
     * Starts the camera ([front] or back); pictures go to [onFrame] on the camera's thread. A
     * picture's array is reused for a later one once [onFrame] returns (`Call.sendVideoFrame`
     * copies it): copy what you keep.
     */
    fun startCamera(front: Boolean, onFrame: (I420Frame) -> Unit)

    fun stopCamera()

    /** Whether pictures are converted and sent (false while nobody watches me). */
    fun setCameraSending(sending: Boolean)

    /** Starts the microphone: 20 ms frames go to [onFrame] on the microphone's thread. */
    fun startMicrophone(onFrame: (ShortArray) -> Unit)

    fun stopMicrophone()

    val routes: StateFlow<RouteState>

    fun pickRoute(route: AudioRoute)

    /**
     * The call is on: audio mode, focus (changes go to [onFocus]), routing, the foreground
     * service with its notification for [roomName].
     */
    fun beginCall(roomName: String, cameraOn: Boolean, onFocus: (FocusChange) -> Unit)

    /** My camera went on or off (the route follows: video calls default to the speaker). */
    fun cameraChanged(on: Boolean)

    /** The call is over: everything above is let go. Safe to call more than once. */
    fun endCall()
}

/** No capture at all: the ViewModel's tests and previews. Grants nothing. */
object NoMedia : CallMedia {
    override suspend fun requestPermissions(wanted: Set<Capture>) = MediaGrant(camera = false, microphone = false)

    override fun openAppSettings() {}

    override fun startCamera(front: Boolean, onFrame: (I420Frame) -> Unit) {}

    override fun stopCamera() {}

    override fun setCameraSending(sending: Boolean) {}

    override fun startMicrophone(onFrame: (ShortArray) -> Unit) {}

    override fun stopMicrophone() {}

    override val routes: StateFlow<RouteState> = MutableStateFlow(RouteState())

    override fun pickRoute(route: AudioRoute) {}

    override fun beginCall(roomName: String, cameraOn: Boolean, onFocus: (FocusChange) -> Unit) {}

    override fun cameraChanged(on: Boolean) {}

    override fun endCall() {}
}
