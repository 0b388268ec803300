package org.salon.app.media

import android.media.AudioAttributes
import android.media.AudioFormat
import android.media.AudioTrack
import android.util.Log
import org.salon.core.RemoteAudio

/**
 * Plays other participants' decoded audio: one AudioTrack per participant (the system mixes
 * them), 48 kHz 16-bit. Writes never block: if a track's buffer is full, the excess is dropped.
 * Safe to call from several threads.
 */
class AudioOut : AutoCloseable {
    private class Output(val channels: Int, val track: AudioTrack)

    private val outputs = HashMap<String, Output>()
    private var closed = false

    /**
     * Plays [audio]; dropped after [close], or when the system gives no track (too many open,
     * the audio server restarting): a lost frame is better than a crashed call.
     */
    @Synchronized
    fun play(audio: RemoteAudio) {
        if (closed) return
        val output =
            outputs[audio.participantId]?.takeIf { it.channels == audio.channels }
                ?: try {
                    Output(audio.channels, open(audio.channels))
                } catch (e: RuntimeException) {
                    // UnsupportedOperationException from build(), IllegalStateException from play().
                    Log.w(TAG, "no audio track for ${audio.participantId}: ${e.message}")
                    return
                }.also { new -> outputs.put(audio.participantId, new)?.track?.release() }
        output.track.write(audio.pcm, 0, audio.pcm.size, AudioTrack.WRITE_NON_BLOCKING)
    }

    /** Stops the tracks of participants who are no longer in the room. */
    @Synchronized
    fun keepOnly(participantIds: Set<String>) {
        val gone = outputs.keys - participantIds
        for (id in gone) outputs.remove(id)?.track?.release()
    }

    @Synchronized
    override fun close() {
        closed = true
        outputs.values.forEach { it.track.release() }
        outputs.clear()
    }

    private fun open(channels: Int): AudioTrack {
        val mask = if (channels == 2) AudioFormat.CHANNEL_OUT_STEREO else AudioFormat.CHANNEL_OUT_MONO
        val minimum = AudioTrack.getMinBufferSize(SAMPLE_RATE, mask, AudioFormat.ENCODING_PCM_16BIT)
        // A fifth of a second of audio absorbs network jitter without adding much delay.
        val fifthOfASecond = SAMPLE_RATE / 5 * channels * 2
        return AudioTrack.Builder()
            .setAudioAttributes(
                AudioAttributes.Builder()
                    .setUsage(AudioAttributes.USAGE_VOICE_COMMUNICATION)
                    .setContentType(AudioAttributes.CONTENT_TYPE_SPEECH)
                    .build(),
            ).setAudioFormat(
                AudioFormat.Builder()
                    .setSampleRate(SAMPLE_RATE)
                    .setEncoding(AudioFormat.ENCODING_PCM_16BIT)
                    .setChannelMask(mask)
                    .build(),
            ).setBufferSizeInBytes(maxOf(minimum, fifthOfASecond))
            .setTransferMode(AudioTrack.MODE_STREAM)
            .build()
            .also { track ->
                try {
                    track.play()
                } catch (e: IllegalStateException) {
                    track.release()
                    throw e
                }
            }
    }

    private companion object {
        const val SAMPLE_RATE = 48_000
        const val TAG = "SalonAudioOut"
    }
}
