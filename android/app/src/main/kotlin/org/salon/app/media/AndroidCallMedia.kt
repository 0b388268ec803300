package org.salon.app.media

import android.content.Context
import android.os.Handler
import android.os.Looper
import android.util.Log
import kotlinx.coroutines.flow.StateFlow
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant
import org.salon.app.permissions.PermissionBroker
import org.salon.app.service.CallService
import org.salon.core.I420Frame

/** [CallMedia] over Camera2, AudioRecord, AudioManager and [CallService]. */
class AndroidCallMedia(context: Context) : CallMedia {
    private val app = context.applicationContext
    private val permissions = PermissionBroker.of(app)
    private val main = Handler(Looper.getMainLooper())
    private var camera: CameraCapture? = null
    private var microphone: MicCapture? = null
    private var focusListener: (FocusChange) -> Unit = {}
    private val session = AudioSession(app) { focusListener(it) }

    /** The room of the call in progress (between [beginCall] and [endCall]). */
    @Volatile private var room: String? = null

    override suspend fun requestPermissions(wanted: Set<Capture>): MediaGrant {
        val grant = permissions.request(wanted)
        // A permission granted during the call: the service claims its foreground type now
        // (while the app is in front), or the camera or microphone is cut off in the background.
        room?.let { if (grant.camera || grant.microphone) CallService.start(app, it) }
        return grant
    }

    override fun openAppSettings() = permissions.openAppSettings()

    @Synchronized
    override fun startCamera(front: Boolean, onFrame: (I420Frame) -> Unit) {
        val c = camera ?: CameraCapture(app, onFrame, onError = { Log.w(TAG, it) }).also { camera = it }
        c.start(front)
    }

    @Synchronized
    override fun stopCamera() {
        camera?.stop()
        camera = null
    }

    @Synchronized
    override fun setCameraSending(sending: Boolean) {
        camera?.sending = sending
    }

    @Synchronized
    override fun startMicrophone(onFrame: (ShortArray) -> Unit) {
        val m = microphone ?: MicCapture(onFrame, onError = { Log.w(TAG, it) }).also { microphone = it }
        m.start()
    }

    @Synchronized
    override fun stopMicrophone() {
        microphone?.stop()
        microphone = null
    }

    override val routes: StateFlow<RouteState> get() = session.routes

    override fun pickRoute(route: AudioRoute) = onMain { session.pick(route) }

    override fun beginCall(roomName: String, cameraOn: Boolean, onFocus: (FocusChange) -> Unit) {
        focusListener = onFocus
        room = roomName
        onMain {
            session.cameraOn = cameraOn
            session.start()
        }
        CallService.start(app, roomName)
    }

    override fun cameraChanged(on: Boolean) = onMain { session.cameraOn = on }

    override fun endCall() {
        room = null
        stopCamera()
        stopMicrophone()
        onMain { session.stop() }
        CallService.stop(app)
        focusListener = {}
    }

    private fun onMain(block: () -> Unit) {
        if (Looper.myLooper() == Looper.getMainLooper()) block() else main.post(block)
    }

    private companion object {
        const val TAG = "SalonMedia"
    }
}
