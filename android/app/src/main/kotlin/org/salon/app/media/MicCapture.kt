package org.salon.app.media

import android.annotation.SuppressLint
import android.media.AudioFormat
import android.media.AudioRecord
import android.media.MediaRecorder
import android.media.audiofx.AcousticEchoCanceler
import android.media.audiofx.AudioEffect
import android.media.audiofx.AutomaticGainControl
import android.media.audiofx.NoiseSuppressor
import android.os.Process
import android.util.Log
import java.util.concurrent.atomic.AtomicReference

/**
 * The microphone: `AudioRecord` on the voice-communication source (the platform's call tuning),
 * 48 kHz mono 16-bit, with the platform's echo canceller, noise suppressor and gain control
 * where the phone has them. Reads on its own thread and hands 20 ms frames ([AudioChunker]) to
 * [onFrame] (which is `Call.sendAudioFrame`: it never blocks). [start] needs `RECORD_AUDIO`.
 */
class MicCapture(private val onFrame: (ShortArray) -> Unit, private val onError: (String) -> Unit = {}) {
    /** The capture thread that should be running; any other one (stopped, timed out) ends at its next read. */
    private val current = AtomicReference<Thread?>(null)

    val isRunning: Boolean get() = current.get() != null

    @Synchronized
    fun start() {
        if (current.get() != null) return
        val t = Thread(::capture, "salon-mic")
        current.set(t)
        t.start()
    }

    /** Stops and waits (up to a second) for the capture thread to let the microphone go. */
    @Synchronized
    fun stop() {
        val t = current.getAndSet(null) ?: return
        t.join(1000)
    }

    /** Whether the calling capture thread should go on. */
    private val running: Boolean get() = current.get() === Thread.currentThread()

    @SuppressLint("MissingPermission") // the caller checked RECORD_AUDIO (PermissionBroker)
    private fun capture() {
        Process.setThreadPriority(Process.THREAD_PRIORITY_URGENT_AUDIO)
        val minimum = AudioRecord.getMinBufferSize(SAMPLE_RATE, AudioFormat.CHANNEL_IN_MONO, AudioFormat.ENCODING_PCM_16BIT)
        val record =
            try {
                AudioRecord(
                    MediaRecorder.AudioSource.VOICE_COMMUNICATION,
                    SAMPLE_RATE,
                    AudioFormat.CHANNEL_IN_MONO,
                    AudioFormat.ENCODING_PCM_16BIT,
                    // Room for 100 ms, so that a late read does not lose audio.
                    maxOf(minimum, SAMPLE_RATE / 10 * 2),
                )
            } catch (e: RuntimeException) {
                fail("Microphone unavailable: ${e.message}")
                return
            }
        if (record.state != AudioRecord.STATE_INITIALIZED) {
            record.release()
            fail("Microphone unavailable")
            return
        }
        val effects = attachEffects(record.audioSessionId)
        val chunker = AudioChunker()
        val buffer = ShortArray(AudioChunker.FRAME_SAMPLES)
        try {
            record.startRecording()
            if (record.recordingState != AudioRecord.RECORDSTATE_RECORDING) {
                // Another app holds the microphone (a phone call) on some phones.
                fail("Microphone busy")
                return
            }
            while (running) {
                val read = record.read(buffer, 0, buffer.size)
                if (read < 0) {
                    fail("Microphone stopped ($read)")
                    break
                }
                chunker.add(buffer, 0, read) { frame ->
                    try {
                        onFrame(frame)
                    } catch (e: Exception) {
                        // The call ended under us (SalonError.CallEnded): stop quietly.
                        endThisThread()
                    }
                }
            }
        } catch (e: IllegalStateException) {
            fail("Microphone unavailable: ${e.message}")
        } finally {
            try {
                record.stop()
            } catch (_: IllegalStateException) {
            }
            effects.forEach { it.release() }
            record.release()
        }
    }

    private fun fail(message: String) {
        Log.w(TAG, message)
        if (running) {
            endThisThread()
            onError(message)
        }
    }

    /** This capture thread is done: the next [start] starts a new one. */
    private fun endThisThread() {
        current.compareAndSet(Thread.currentThread(), null)
    }

    private fun attachEffects(session: Int): List<AudioEffect> {
        val effects = ArrayList<AudioEffect>()
        fun <T : AudioEffect> add(available: Boolean, create: () -> T?) {
            if (!available) return
            var effect: T? = null
            try {
                effect = create() ?: return
                effect.enabled = true
                effects += effect
            } catch (e: RuntimeException) {
                // Created but not enabled: release it, or it holds the effect engine until GC.
                effect?.release()
                Log.w(TAG, "audio effect unavailable: ${e.message}")
            }
        }
        add(AcousticEchoCanceler.isAvailable()) { AcousticEchoCanceler.create(session) }
        add(NoiseSuppressor.isAvailable()) { NoiseSuppressor.create(session) }
        add(AutomaticGainControl.isAvailable()) { AutomaticGainControl.create(session) }
        return effects
    }

    private companion object {
        const val TAG = "SalonMic"
        const val SAMPLE_RATE = AudioChunker.SAMPLE_RATE
    }
}
