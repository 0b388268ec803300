package org.salon.app.media

import android.graphics.Bitmap
import org.salon.core.I420Frame
import org.salon.core.toArgb

/**
 * Turns decoded I420 pictures into Bitmaps for Compose. One instance per stream of pictures;
 * not thread-safe (its pixel buffer is reused). Each call returns a new Bitmap, so one being
 * drawn is never written to.
 */
class PictureConverter {
    private var pixels = IntArray(0)

    fun toBitmap(frame: I420Frame): Bitmap {
        val size = frame.width * frame.height
        if (pixels.size != size) pixels = IntArray(size)
        frame.toArgb(pixels)
        return Bitmap.createBitmap(pixels, frame.width, frame.height, Bitmap.Config.ARGB_8888)
    }
}
