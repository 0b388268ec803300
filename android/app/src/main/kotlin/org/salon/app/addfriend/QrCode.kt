package org.salon.app.addfriend

import com.google.zxing.BinaryBitmap
import com.google.zxing.DecodeHintType
import com.google.zxing.EncodeHintType
import com.google.zxing.PlanarYUVLuminanceSource
import com.google.zxing.ReaderException
import com.google.zxing.common.HybridBinarizer
import com.google.zxing.qrcode.QRCodeReader
import com.google.zxing.qrcode.decoder.ErrorCorrectionLevel
import com.google.zxing.qrcode.encoder.Encoder

/** A QR code's modules: [size] × [size], `true` for dark. No quiet zone (draw one around it). */
class QrMatrix(val size: Int, private val dark: BooleanArray) {
    init {
        require(dark.size == size * size) { "a QR matrix is size × size" }
    }

    operator fun get(x: Int, y: Int): Boolean = dark[y * size + x]

    override fun equals(other: Any?): Boolean = other is QrMatrix && size == other.size && dark.contentEquals(other.dark)

    override fun hashCode(): Int = 31 * size + dark.contentHashCode()

    override fun toString(): String = "QrMatrix(${size}x$size)"
}

/** Modules of quiet zone a reader needs around a QR code. */
const val QR_QUIET_ZONE = 4

/** Encodes [text] (a friend card) as a QR code, medium error correction, UTF-8. */
fun encodeQr(text: String): QrMatrix {
    val code = Encoder.encode(text, ErrorCorrectionLevel.M, mapOf(EncodeHintType.CHARACTER_SET to "UTF-8"))
    val matrix = code.matrix
    val size = matrix.width
    return QrMatrix(size, BooleanArray(size * size) { i -> matrix.get(i % size, i / size).toInt() == 1 })
}

/**
 * Reads a QR code from a camera picture's luminance (the Y plane of a YUV image: one byte per
 * pixel, [rowStride] bytes per row, as Android's `ImageProxy.planes[0]` gives it), or null when
 * there is none. The whole picture is searched; any rotation works.
 */
fun decodeQr(luminance: ByteArray, width: Int, height: Int, rowStride: Int = width): String? {
    require(width > 0 && height > 0 && rowStride >= width) { "bad picture size" }
    require(luminance.size >= rowStride * (height - 1) + width) { "the plane is smaller than the picture" }
    val source = PlanarYUVLuminanceSource(luminance, rowStride, height, 0, 0, width, height, false)
    val hints = mapOf(DecodeHintType.TRY_HARDER to true, DecodeHintType.CHARACTER_SET to "UTF-8")
    return try {
        QRCodeReader().decode(BinaryBitmap(HybridBinarizer(source)), hints).text
    } catch (e: ReaderException) {
        null
    }
}
