package org.salon.app.addfriend

import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test

/** My card as a QR code, and reading one back from a camera's luminance plane. */
class QrCodeTest {
    private val card =
        "salon:friend?v=1&name=Zo%C3%AB&room=https%3A%2F%2Fsalon.example.org%2Fr%2Fabcdefghijklmnopqrstuv&presence=k3y-Presence_key"

    /**
     * What a camera would see: the code drawn at [scale] pixels a module with its quiet zone, at
     * ([left], [top]) on a mid-grey picture of [width] × [height], rows [rowStride] bytes apart.
     */
    private fun luminance(matrix: QrMatrix, width: Int, height: Int, rowStride: Int, scale: Int, left: Int, top: Int): ByteArray {
        val plane = ByteArray(rowStride * height) { 0x80.toByte() }
        val side = (matrix.size + 2 * QR_QUIET_ZONE) * scale
        for (y in 0 until side) {
            for (x in 0 until side) {
                val mx = x / scale - QR_QUIET_ZONE
                val my = y / scale - QR_QUIET_ZONE
                val dark = mx in 0 until matrix.size && my in 0 until matrix.size && matrix[mx, my]
                plane[(top + y) * rowStride + left + x] = (if (dark) 20 else 235).toByte()
            }
        }
        return plane
    }

    @Test
    fun `a card encoded then read from a luminance plane is the same card`() {
        val matrix = encodeQr(card)
        assertTrue("a version 5 or larger code for a card this long", matrix.size >= 37)
        val plane = luminance(matrix, width = 640, height = 480, rowStride = 640, scale = 4, left = 150, top = 60)
        assertEquals(card, decodeQr(plane, 640, 480))
    }

    @Test
    fun `rows padded past the width (a camera's row stride) are read right`() {
        val matrix = encodeQr(card)
        val plane = luminance(matrix, width = 480, height = 360, rowStride = 512, scale = 3, left = 100, top = 40)
        assertEquals(card, decodeQr(plane, width = 480, height = 360, rowStride = 512))
    }

    @Test
    fun `a picture without a code is null`() {
        assertNull(decodeQr(ByteArray(320 * 240) { (it % 251).toByte() }, 320, 240))
    }

    @Test
    fun `encoding is deterministic and the matrix is square`() {
        val a = encodeQr(card)
        assertEquals(a, encodeQr(card))
        // Finder patterns: the three corners are dark.
        assertTrue(a[0, 0] && a[a.size - 1, 0] && a[0, a.size - 1])
    }
}
