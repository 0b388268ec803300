package org.salon.core

import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** The I420 to ARGB conversion the apps draw remote video with. */
class I420Test {
    private fun solid(width: Int, height: Int, y: Int, u: Int, v: Int): I420Frame {
        val luma = width * height
        val chroma = luma / 4
        val data = ByteArray(luma + 2 * chroma)
        data.fill(y.toByte(), 0, luma)
        data.fill(u.toByte(), luma, luma + chroma)
        data.fill(v.toByte(), luma + chroma, luma + 2 * chroma)
        return I420Frame(width, height, data, 0)
    }

    private fun rgb(argb: Int) = Triple((argb shr 16) and 0xff, (argb shr 8) and 0xff, argb and 0xff)

    @Test
    fun `limited-range black, white and primaries`() {
        assertEquals(Triple(0, 0, 0), rgb(solid(2, 2, 16, 128, 128).toArgb()[0]))
        assertEquals(Triple(255, 255, 255), rgb(solid(2, 2, 235, 128, 128).toArgb()[0]))
        val (r, g, b) = rgb(solid(2, 2, 81, 90, 240).toArgb()[0]) // BT.601 red
        assertTrue(r > 250 && g < 5 && b < 5, "red came out as $r,$g,$b")
        val (r2, g2, b2) = rgb(solid(2, 2, 41, 240, 110).toArgb()[0]) // BT.601 blue
        assertTrue(b2 > 250 && r2 < 5 && g2 < 5, "blue came out as $r2,$g2,$b2")
        assertEquals(0xff, solid(2, 2, 16, 128, 128).toArgb()[3] ushr 24, "opaque")
    }

    @Test
    fun `each 2x2 block shares its chroma`() {
        val frame = solid(4, 2, 128, 128, 128)
        // Make the right-hand block red-tinted by changing its V sample only.
        frame.data[4 * 2 + 2 + 1] = 240.toByte()
        val pixels = frame.toArgb()
        val left = rgb(pixels[0])
        val right = rgb(pixels[2])
        assertEquals(left, rgb(pixels[5]))
        assertEquals(right, rgb(pixels[7]))
        assertTrue(right.first > left.first)
    }

    @Test
    fun `the core's test pattern converts, into a reused array`() {
        requireNativeLibrary()
        val dir = tempDir("salon-i420")
        val salon = RustSalonService(dir.path)
        val frame = salon.testPatternFrame(320, 240, 7)
        val out = IntArray(320 * 240)
        assertTrue(frame.toArgb(out) === out)
        assertTrue(out.toSet().size > 16, "a pattern has more than a few colours")
        assertFailsWith<IllegalArgumentException> { I420Frame(3, 2, ByteArray(9), 0).toArgb() }
        assertFailsWith<SalonError.InvalidInput> { salon.testPatternFrame(3, 3, 0) }
        salon.close()
        dir.deleteRecursively()
    }
}
