package org.salon.core

/**
 * This picture as ARGB_8888 pixels, row by row: what Android's `Bitmap.createBitmap(IntArray, …)`
 * and `Bitmap.setPixels` take. BT.601 limited range, which is what the core's H.264 decoder
 * produces. Pass [out] to reuse an array between frames.
 */
fun I420Frame.toArgb(out: IntArray = IntArray(width * height)): IntArray {
    val w = width
    val h = height
    val chromaWidth = w / 2
    val uStart = w * h
    val vStart = uStart + chromaWidth * (h / 2)
    require(w > 0 && h > 0 && w % 2 == 0 && h % 2 == 0) { "I420 needs an even, non-zero size, got ${w}x$h" }
    require(data.size >= vStart + chromaWidth * (h / 2)) { "${data.size} bytes is too short for I420 ${w}x$h" }
    require(out.size >= w * h) { "the output holds ${out.size} pixels, ${w * h} needed" }

    for (row in 0 until h) {
        val yRow = row * w
        val chromaRow = (row / 2) * chromaWidth
        for (col in 0 until w) {
            val y = (data[yRow + col].toInt() and 0xff) - 16
            val u = (data[uStart + chromaRow + col / 2].toInt() and 0xff) - 128
            val v = (data[vStart + chromaRow + col / 2].toInt() and 0xff) - 128
            val luma = 298 * y + 128
            val r = clampByte((luma + 409 * v) shr 8)
            val g = clampByte((luma - 100 * u - 208 * v) shr 8)
            val b = clampByte((luma + 516 * u) shr 8)
            out[yRow + col] = (0xff shl 24) or (r shl 16) or (g shl 8) or b
        }
    }
    return out
}

private fun clampByte(x: Int): Int = if (x < 0) 0 else if (x > 255) 255 else x
