package org.salon.app.media

import org.junit.Assert.assertEquals
import org.junit.Test
import org.salon.app.addfriend.decodeQr
import org.salon.app.addfriend.encodeQr
import org.salon.core.I420Frame

class QrScannerTest {
    private fun frame(tag: Int) = I420Frame(4, 4, ByteArray(24) { tag.toByte() }, 0)

    @Test
    fun `decodes at most every 250 ms and reports each text once`() {
        val found = mutableListOf<String>()
        var decoded = 0
        val scanner =
            QrScanner(onText = { found += it }) { frame ->
                decoded++
                if (frame.data[0].toInt() == 0) null else "card-${frame.data[0]}"
            }
        scanner.offer(frame(0), nowMs = 1_000)
        scanner.offer(frame(1), nowMs = 1_100) // too soon: not even decoded
        scanner.offer(frame(1), nowMs = 1_300)
        scanner.offer(frame(1), nowMs = 1_600) // the same code again: not reported twice
        scanner.offer(frame(2), nowMs = 1_900)
        assertEquals(4, decoded)
        assertEquals(listOf("card-1", "card-2"), found)
    }

    @Test
    fun `reads a card from the luminance plane of a camera picture`() {
        val card = "https://salon.example.org/friend?v=1&name=Ada&room=https://salon.example.org/r/AAAAAAAAAAAAAAAAAAAAAA"
        val qr = encodeQr(card)
        // A 400×400 I420 picture: the code drawn black on white in the Y plane, 6 pixels a module.
        val w = 400
        val data = ByteArray(w * w * 3 / 2) { 0x80.toByte() }
        val scale = 6
        val offset = (w - qr.size * scale) / 2
        for (y in 0 until w) for (x in 0 until w) {
            val mx = (x - offset) / scale
            val my = (y - offset) / scale
            val dark = x >= offset && y >= offset && mx < qr.size && my < qr.size && qr[mx, my]
            data[y * w + x] = (if (dark) 16 else 235).toByte()
        }
        val found = mutableListOf<String>()
        QrScanner(onText = { found += it }) { f -> decodeQr(f.data, f.width, f.height) }.offer(I420Frame(w, w, data, 0), nowMs = 0)
        assertEquals(listOf(card), found)
    }
}
