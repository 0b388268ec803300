package org.salon.app.media

/**
 * Cuts microphone reads of any length into the frames `Call.sendAudioFrame` takes: exactly
 * [frameSamples] samples each (960 = 20 ms of 48 kHz mono by default). What is left over waits
 * for the next read. Not thread-safe: one per capture thread.
 */
class AudioChunker(private val frameSamples: Int = FRAME_SAMPLES) {
    init {
        require(frameSamples > 0) { "frames need samples" }
    }

    private var pending = ShortArray(frameSamples)
    private var filled = 0

    /** Samples waiting for a frame to fill. */
    val buffered: Int get() = filled

    /** Adds [count] samples of [samples] from [offset]; [emit] gets every frame completed, in order. */
    fun add(samples: ShortArray, offset: Int = 0, count: Int = samples.size - offset, emit: (ShortArray) -> Unit) {
        require(offset >= 0 && count >= 0 && offset + count <= samples.size) { "bad range $offset+$count of ${samples.size}" }
        var at = offset
        var left = count
        while (left > 0) {
            val take = minOf(left, frameSamples - filled)
            System.arraycopy(samples, at, pending, filled, take)
            filled += take
            at += take
            left -= take
            if (filled == frameSamples) {
                // The frame goes to the core, which keeps it: the next one needs a fresh array.
                emit(pending)
                pending = ShortArray(frameSamples)
                filled = 0
            }
        }
    }

    /** Forgets a partly filled frame (after a pause, so that stale audio is not sent). */
    fun reset() {
        filled = 0
    }

    companion object {
        const val SAMPLE_RATE = 48_000

        /** 20 ms of 48 kHz mono. */
        const val FRAME_SAMPLES = SAMPLE_RATE / 50
    }
}
