package org.salon.app.media

import android.content.Context
import android.media.AudioAttributes
import android.media.AudioDeviceCallback
import android.media.AudioDeviceInfo
import android.media.AudioFocusRequest
import android.media.AudioManager
import android.os.Build
import android.os.Handler
import android.os.Looper
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** The route a device of `AudioDeviceInfo.TYPE_*` [type] stands for, or null for others (HDMI, …). */
fun routeOfDeviceType(type: Int): AudioRoute? =
    when (type) {
        AudioDeviceInfo.TYPE_BUILTIN_EARPIECE -> AudioRoute.Earpiece
        AudioDeviceInfo.TYPE_BUILTIN_SPEAKER -> AudioRoute.Speaker
        AudioDeviceInfo.TYPE_WIRED_HEADSET, AudioDeviceInfo.TYPE_WIRED_HEADPHONES, AudioDeviceInfo.TYPE_USB_HEADSET -> AudioRoute.WiredHeadset
        AudioDeviceInfo.TYPE_BLUETOOTH_SCO, TYPE_BLE_HEADSET -> AudioRoute.Bluetooth
        else -> null
    }

/** `AudioDeviceInfo.TYPE_BLE_HEADSET` (API 31). */
private const val TYPE_BLE_HEADSET = 26

/**
 * The phone's audio while in a call: `MODE_IN_COMMUNICATION`, audio focus
 * (`AUDIOFOCUS_GAIN`; changes go to [onFocus]) and the route ([RouteChooser]): through
 * `setCommunicationDevice` on Android 12+, the speakerphone and Bluetooth SCO switches before.
 * Headsets coming and going re-choose the route. Call [start] when the call starts and [stop]
 * when it ends; both on the main thread.
 */
class AudioSession(context: Context, private val onFocus: (FocusChange) -> Unit) {
    private val audio = context.getSystemService(AudioManager::class.java)
    private val main = Handler(Looper.getMainLooper())
    private val mutableRoutes = MutableStateFlow(RouteState())
    val routes: StateFlow<RouteState> = mutableRoutes.asStateFlow()
    private var started = false
    private var focus: AudioFocusRequest? = null
    private var picked: AudioRoute? = null

    /** `startBluetoothSco` was called and not yet undone (before Android 12). */
    private var scoStarted = false

    /** Whether my camera is on: a video call defaults to the loudspeaker. */
    var cameraOn = false
        set(value) {
            field = value
            if (started) apply()
        }

    private val devices =
        object : AudioDeviceCallback() {
            override fun onAudioDevicesAdded(added: Array<out AudioDeviceInfo>) = apply()

            override fun onAudioDevicesRemoved(removed: Array<out AudioDeviceInfo>) = apply()
        }

    fun start() {
        if (started || audio == null) return
        started = true
        audio.mode = AudioManager.MODE_IN_COMMUNICATION
        val request =
            AudioFocusRequest.Builder(AudioManager.AUDIOFOCUS_GAIN)
                .setAudioAttributes(
                    AudioAttributes.Builder()
                        .setUsage(AudioAttributes.USAGE_VOICE_COMMUNICATION)
                        .setContentType(AudioAttributes.CONTENT_TYPE_SPEECH)
                        .build(),
                ).setOnAudioFocusChangeListener({ change -> FocusChange.of(change)?.let(onFocus) }, main)
                .build()
        focus = request
        audio.requestAudioFocus(request)
        audio.registerAudioDeviceCallback(devices, main)
        apply()
    }

    fun stop() {
        if (!started || audio == null) return
        started = false
        audio.unregisterAudioDeviceCallback(devices)
        if (Build.VERSION.SDK_INT >= 31) {
            audio.clearCommunicationDevice()
        } else {
            @Suppress("DEPRECATION")
            audio.isSpeakerphoneOn = false
            stopSco()
        }
        focus?.let { audio.abandonAudioFocusRequest(it) }
        focus = null
        // Back to normal, not to the mode found at start: that may have been another app's call
        // (or ours, left over), and keeping MODE_IN_COMMUNICATION after the call would keep the
        // phone's audio in call routing (Android 12+ makes this app the mode's owner).
        audio.mode = AudioManager.MODE_NORMAL
        mutableRoutes.value = RouteState()
    }

    /** The user picked a route (the screen's audio button): kept while that device is there. */
    fun pick(route: AudioRoute) {
        picked = route
        if (started) apply()
    }

    private fun apply() {
        val audio = audio ?: return
        if (!started) return
        if (Build.VERSION.SDK_INT >= 31) {
            val byRoute = LinkedHashMap<AudioRoute, AudioDeviceInfo>()
            for (device in audio.availableCommunicationDevices) {
                val route = routeOfDeviceType(device.type) ?: continue
                byRoute.putIfAbsent(route, device)
            }
            val route = RouteChooser.choose(byRoute.keys, picked, cameraOn)
            val device = route?.let { byRoute[it] }
            if (device != null && audio.communicationDevice?.id != device.id) {
                try {
                    audio.setCommunicationDevice(device)
                } catch (e: IllegalArgumentException) {
                    // The device went away between the listing and now; its removal calls apply() again.
                }
            }
            mutableRoutes.value = RouteState(byRoute.keys.toList(), route, picked)
        } else {
            val present = audio.getDevices(AudioManager.GET_DEVICES_OUTPUTS).mapNotNullTo(LinkedHashSet()) { routeOfDeviceType(it.type) }
            present += AudioRoute.Speaker
            val route = RouteChooser.choose(present, picked, cameraOn)
            @Suppress("DEPRECATION")
            run {
                audio.isSpeakerphoneOn = route == AudioRoute.Speaker
                if (route == AudioRoute.Bluetooth) {
                    // Once: apply() runs again for every device coming or going, and older
                    // Androids count startBluetoothSco calls.
                    if (!scoStarted) {
                        scoStarted = true
                        audio.startBluetoothSco()
                        audio.isBluetoothScoOn = true
                    }
                } else {
                    stopSco()
                }
            }
            mutableRoutes.value = RouteState(AudioRoute.entries.filter { it in present }, route, picked)
        }
    }

    @Suppress("DEPRECATION")
    private fun stopSco() {
        val audio = audio ?: return
        if (scoStarted || audio.isBluetoothScoOn) {
            scoStarted = false
            audio.isBluetoothScoOn = false
            audio.stopBluetoothSco()
        }
    }
}
