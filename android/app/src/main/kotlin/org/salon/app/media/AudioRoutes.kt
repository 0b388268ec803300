package org.salon.app.media

/** Where the call's sound goes (and, for headsets, where the microphone listens). */
enum class AudioRoute(val label: String) {
    Earpiece("Phone"),
    Speaker("Speaker"),
    WiredHeadset("Headphones"),
    Bluetooth("Bluetooth"),
}

/** The routes there are now, the one in use, and the one the user picked (if any). */
data class RouteState(
    val available: List<AudioRoute> = emptyList(),
    val current: AudioRoute? = null,
    val picked: AudioRoute? = null,
)

/**
 * Which route a call uses, a pure rule so that it can be tested:
 * 1. what the user picked, while it is there;
 * 2. else a headset just plugged in or connected (Bluetooth first, then wired): people put one
 *    on to be private;
 * 3. else the loudspeaker for a video call (the phone is held in front of the face) and the
 *    earpiece for an audio-only one held to the ear; a phone without an earpiece (a tablet) uses
 *    the speaker.
 */
object RouteChooser {
    fun choose(available: Collection<AudioRoute>, picked: AudioRoute?, cameraOn: Boolean): AudioRoute? {
        if (available.isEmpty()) return null
        if (picked != null && picked in available) return picked
        if (AudioRoute.Bluetooth in available) return AudioRoute.Bluetooth
        if (AudioRoute.WiredHeadset in available) return AudioRoute.WiredHeadset
        if (!cameraOn && AudioRoute.Earpiece in available) return AudioRoute.Earpiece
        if (AudioRoute.Speaker in available) return AudioRoute.Speaker
        return available.first()
    }

    /** The route a "switch audio" button goes to next: the following available one, in [AudioRoute] order. */
    fun next(available: Collection<AudioRoute>, current: AudioRoute?): AudioRoute? {
        val ordered = AudioRoute.entries.filter { it in available }
        if (ordered.isEmpty()) return null
        val at = ordered.indexOf(current)
        return ordered[(at + 1) % ordered.size]
    }
}
