package org.salon.app.media

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotSame
import org.junit.Test

/** Microphone reads of any length become the 20 ms frames `sendAudioFrame` takes. */
class AudioChunkerTest {
    @Test
    fun `frames are 960 samples, 20 ms of 48 kHz mono`() {
        assertEquals(960, AudioChunker.FRAME_SAMPLES)
    }

    @Test
    fun `reads of odd lengths become whole frames in order, the rest waits`() {
        val chunker = AudioChunker(frameSamples = 4)
        val frames = ArrayList<ShortArray>()
        chunker.add(shortArrayOf(1, 2, 3)) { frames += it }
        assertEquals(0, frames.size)
        assertEquals(3, chunker.buffered)
        chunker.add(shortArrayOf(4, 5, 6, 7, 8, 9, 10)) { frames += it }
        assertEquals(2, frames.size)
        assertArrayEquals(shortArrayOf(1, 2, 3, 4), frames[0])
        assertArrayEquals(shortArrayOf(5, 6, 7, 8), frames[1])
        assertEquals(2, chunker.buffered)
        // Each frame is its own array (the core keeps what it is given).
        assertNotSame(frames[0], frames[1])
    }

    @Test
    fun `a range of a buffer, as AudioRecord read fills it`() {
        val chunker = AudioChunker(frameSamples = 2)
        val frames = ArrayList<ShortArray>()
        chunker.add(shortArrayOf(9, 1, 2, 3, 9), offset = 1, count = 3) { frames += it }
        assertEquals(1, frames.size)
        assertArrayEquals(shortArrayOf(1, 2), frames[0])
        assertEquals(1, chunker.buffered)
    }

    @Test
    fun `reset drops a partial frame`() {
        val chunker = AudioChunker(frameSamples = 3)
        val frames = ArrayList<ShortArray>()
        chunker.add(shortArrayOf(1, 2)) { frames += it }
        chunker.reset()
        chunker.add(shortArrayOf(3, 4, 5)) { frames += it }
        assertArrayEquals(shortArrayOf(3, 4, 5), frames.single())
    }

    @Test
    fun `a full read of 960 is exactly one frame`() {
        val chunker = AudioChunker()
        var count = 0
        repeat(5) { chunker.add(ShortArray(960)) { frame -> assertEquals(960, frame.size); count++ } }
        assertEquals(5, count)
        assertEquals(0, chunker.buffered)
    }
}
