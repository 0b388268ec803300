package org.salon.app.media

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Test
import java.nio.ByteBuffer

/** Camera pictures (synthetic planes, as `Image.Plane` gives them) into the core's I420. */
class YuvToI420Test {
    // A 4×2 picture: Y = 1..8, U = 101, 102 and V = 201, 202 (one chroma row of two).
    private val y = byteArrayOf(1, 2, 3, 4, 5, 6, 7, 8)
    private val u = byteArrayOf(101, 102)
    private val v = byteArrayOf(-55, -54) // 201, 202
    private val expected = y + u + v

    private fun plane(bytes: ByteArray, rowStride: Int, pixelStride: Int = 1) = YuvPlane(ByteBuffer.wrap(bytes), rowStride, pixelStride)

    /** Lays [rows] of [width] samples out with [rowStride] and [pixelStride], padding with junk (0x7f). */
    private fun strided(samples: ByteArray, width: Int, rowStride: Int, pixelStride: Int): ByteArray {
        val rows = samples.size / width
        val out = ByteArray((rows - 1) * rowStride + (width - 1) * pixelStride + 1) { 0x7f }
        for (r in 0 until rows) for (c in 0 until width) out[r * rowStride + c * pixelStride] = samples[r * width + c]
        return out
    }

    @Test
    fun `planar pictures with tight rows are copied as they are`() {
        val frame = yuv420ToI420(4, 2, plane(y, 4), plane(u, 2), plane(v, 2), rotation = 0, timestampUs = 7)
        assertEquals(4, frame.width)
        assertEquals(2, frame.height)
        assertEquals(7, frame.timestampUs)
        assertArrayEquals(expected, frame.data)
    }

    @Test
    fun `padded rows lose their padding`() {
        val frame = yuv420ToI420(4, 2, plane(strided(y, 4, 8, 1), 8), plane(strided(u, 2, 16, 1), 16), plane(strided(v, 2, 16, 1), 16), 0, 0)
        assertArrayEquals(expected, frame.data)
    }

    @Test
    fun `NV12 and NV21 interleaved chroma (pixel stride 2) is split into U and V`() {
        // NV12: one buffer U V U V; the U plane starts at 0 and the V plane at 1, both with pixel stride 2.
        val uv = byteArrayOf(101, -55, 102, -54)
        val uPlane = YuvPlane(ByteBuffer.wrap(uv, 0, 3).slice(), 4, 2)
        val vPlane = YuvPlane(ByteBuffer.wrap(uv, 1, 3).slice(), 4, 2)
        assertArrayEquals(expected, yuv420ToI420(4, 2, plane(y, 4), uPlane, vPlane, 0, 0).data)
        // NV21: V U V U.
        val vu = byteArrayOf(-55, 101, -54, 102)
        val nv21 = yuv420ToI420(4, 2, plane(y, 4), YuvPlane(ByteBuffer.wrap(vu, 1, 3).slice(), 4, 2), YuvPlane(ByteBuffer.wrap(vu, 0, 3).slice(), 4, 2), 0, 0)
        assertArrayEquals(expected, nv21.data)
    }

    @Test
    fun `a buffer's position is where its plane starts, and is not moved`() {
        val buffer = ByteBuffer.wrap(byteArrayOf(99, 99) + y)
        buffer.position(2)
        val frame = yuv420ToI420(4, 2, YuvPlane(buffer, 4, 1), plane(u, 2), plane(v, 2), 0, 0)
        assertArrayEquals(expected, frame.data)
        assertEquals(2, buffer.position())
    }

    @Test
    fun `turning by 90 180 and 270 degrees clockwise`() {
        // 4×2 luma, chroma 2×1.
        val r90 = yuv420ToI420(4, 2, plane(y, 4), plane(u, 2), plane(v, 2), 90, 0)
        assertEquals(2, r90.width)
        assertEquals(4, r90.height)
        // Clockwise: the bottom row (5 6 7 8) becomes the left column.
        assertArrayEquals(byteArrayOf(5, 1, 6, 2, 7, 3, 8, 4, 101, 102, -55, -54), r90.data)
        val r180 = yuv420ToI420(4, 2, plane(y, 4), plane(u, 2), plane(v, 2), 180, 0)
        assertArrayEquals(byteArrayOf(8, 7, 6, 5, 4, 3, 2, 1, 102, 101, -54, -55), r180.data)
        val r270 = yuv420ToI420(4, 2, plane(y, 4), plane(u, 2), plane(v, 2), 270, 0)
        assertArrayEquals(byteArrayOf(4, 8, 3, 7, 2, 6, 1, 5, 102, 101, -54, -55), r270.data)
    }

    @Test
    fun `odd sizes lose their last row and column`() {
        // 5×3 luma with row stride 5; chroma of a 5×3 camera picture is 3×2, of which 2×1 is used.
        val y5 = ByteArray(15) { (it + 1).toByte() }
        val frame = yuv420ToI420(5, 3, plane(y5, 5), plane(byteArrayOf(101, 102, 103, 104, 105, 106), 3), plane(byteArrayOf(1, 2, 3, 4, 5, 6), 3), 0, 0)
        assertEquals(4, frame.width)
        assertEquals(2, frame.height)
        assertArrayEquals(byteArrayOf(1, 2, 3, 4, 6, 7, 8, 9, 101, 102, 1, 2), frame.data)
    }

    @Test
    fun `an array of the right size is reused`() {
        val reuse = ByteArray(12)
        val frame = yuv420ToI420(4, 2, plane(y, 4), plane(u, 2), plane(v, 2), 0, 0, reuse)
        assert(frame.data === reuse)
    }

    @Test
    fun `every rotation of interleaved, padded chroma matches a sample-by-sample turn`() {
        // 6×4 luma with padded rows (stride 8) and NV21-like chroma (pixel stride 2, stride 8).
        val w = 6
        val h = 4
        val luma = ByteArray(w * h) { (it * 7 + 3).toByte() }
        val cu = ByteArray(w / 2 * h / 2) { (100 + it).toByte() }
        val cv = ByteArray(w / 2 * h / 2) { (50 + it).toByte() }
        fun turned(samples: ByteArray, sw: Int, sh: Int, rotation: Int): ByteArray {
            val out = ByteArray(samples.size)
            for (r in 0 until sh) for (c in 0 until sw) {
                val (x, yy, ow) =
                    when (rotation) {
                        0 -> Triple(c, r, sw)
                        90 -> Triple(sh - 1 - r, c, sh)
                        180 -> Triple(sw - 1 - c, sh - 1 - r, sw)
                        else -> Triple(r, sw - 1 - c, sh)
                    }
                out[yy * ow + x] = samples[r * sw + c]
            }
            return out
        }
        for (rotation in listOf(0, 90, 180, 270)) {
            val frame =
                yuv420ToI420(
                    w,
                    h,
                    plane(strided(luma, w, 8, 1), 8),
                    plane(strided(cu, w / 2, 8, 2), 8, 2),
                    plane(strided(cv, w / 2, 8, 2), 8, 2),
                    rotation,
                    0,
                )
            val expected = turned(luma, w, h, rotation) + turned(cu, w / 2, h / 2, rotation) + turned(cv, w / 2, h / 2, rotation)
            assertArrayEquals("rotation $rotation", expected, frame.data)
        }
    }

    @Test
    fun `a crop rectangle starts the planes at its corner`() {
        // An 8×4 picture of which the camera says the 4×2 at (2, 2) is the picture.
        val luma = ByteArray(32) { it.toByte() }
        val cu = ByteArray(8) { (100 + it).toByte() }
        val cv = ByteArray(8) { (50 + it).toByte() }
        val frame =
            yuv420ToI420(
                4,
                2,
                plane(luma, 8).cropped(2, 2),
                plane(cu, 4).cropped(1, 1),
                plane(cv, 4).cropped(1, 1),
                0,
                0,
            )
        assertArrayEquals(byteArrayOf(18, 19, 20, 21, 26, 27, 28, 29, 105, 106, 55, 56), frame.data)
        // The original planes are not moved.
        assertEquals(0, plane(luma, 8).cropped(0, 0).buffer.position())
    }

    @Test(expected = IllegalArgumentException::class)
    fun `a plane too short is refused`() {
        yuv420ToI420(4, 2, plane(y.copyOf(6), 4), plane(u, 2), plane(v, 2), 0, 0)
    }

    @Test
    fun `the rotation follows the sensor and the way the phone is held`() {
        // A typical phone: back sensor at 90°, front at 270°.
        assertEquals(90, captureRotation(90, 0, frontFacing = false))
        assertEquals(0, captureRotation(90, 90, frontFacing = false))
        assertEquals(180, captureRotation(90, 270, frontFacing = false))
        assertEquals(270, captureRotation(270, 0, frontFacing = true))
        assertEquals(0, captureRotation(270, 90, frontFacing = true))
        assertEquals(180, captureRotation(270, 270, frontFacing = true))
    }

    @Test
    fun `the capture size is 1280x720 or the nearest of the same shape`() {
        assertEquals(1280 to 720, chooseCaptureSize(listOf(1920 to 1080, 1280 to 720, 640 to 480)))
        assertEquals(960 to 540, chooseCaptureSize(listOf(1920 to 1080, 960 to 540, 1280 to 960)))
        // No 16:9 at all: the closest in area.
        assertEquals(1280 to 960, chooseCaptureSize(listOf(640 to 480, 1280 to 960, 2560 to 1920)))
        assertEquals(null, chooseCaptureSize(emptyList()))
    }

    @Test
    fun `the frame rate goes up to 30 and may drop to 15 in the dark`() {
        assertEquals(15 to 30, chooseFpsRange(listOf(15 to 15, 7 to 30, 15 to 30, 30 to 30, 24 to 60)))
        assertEquals(24 to 24, chooseFpsRange(listOf(10 to 24, 24 to 24)))
        assertEquals(30 to 30, chooseFpsRange(listOf(30 to 30, 60 to 60)))
        assertEquals(null, chooseFpsRange(emptyList()))
    }
}
