// Shim for media/AudioOut.kt (android.media.AudioTrack), which CallViewModel uses: no sound here.
package org.salon.app.media

import org.salon.core.RemoteAudio

class AudioOut : AutoCloseable {
    @Suppress("UNUSED_PARAMETER")
    fun play(audio: RemoteAudio) = Unit

    @Suppress("UNUSED_PARAMETER")
    fun keepOnly(participantIds: Set<String>) = Unit

    override fun close() = Unit
}
