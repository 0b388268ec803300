package org.salon.app.media

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotSame
import org.junit.Assert.assertSame
import org.junit.Test

/** Remote pictures reuse three buffers per participant; the one on screen is never the next written. */
class PictureRingTest {
    @Test
    fun `three buffers are reused in turn and a new size starts over`() {
        var created = 0
        val released = ArrayList<IntArray>()
        val ring = PictureRing(create = { w, h -> created++; IntArray(w * h) }, release = { released += it })
        val a = ring.next(2, 2)
        val b = ring.next(2, 2)
        val c = ring.next(2, 2)
        assertNotSame(a, b)
        assertNotSame(b, c)
        assertSame(a, ring.next(2, 2))
        assertSame(b, ring.next(2, 2))
        assertEquals(3, created)
        val big = ring.next(4, 4)
        assertEquals(16, big.size)
        assertEquals(3, released.size)
    }
}
