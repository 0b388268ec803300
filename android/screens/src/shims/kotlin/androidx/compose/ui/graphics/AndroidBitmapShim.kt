// Shim: Android's Bitmap.asImageBitmap() for the desktop's Bitmap shim, through Skia.
package androidx.compose.ui.graphics

import org.jetbrains.skia.ColorAlphaType
import org.jetbrains.skia.ImageInfo

fun android.graphics.Bitmap.asImageBitmap(): ImageBitmap {
    val bytes = ByteArray(width * height * 4)
    for (i in pixels.indices) {
        val argb = pixels[i]
        bytes[4 * i] = (argb and 0xff).toByte() // B
        bytes[4 * i + 1] = (argb shr 8 and 0xff).toByte() // G
        bytes[4 * i + 2] = (argb shr 16 and 0xff).toByte() // R
        bytes[4 * i + 3] = (argb ushr 24).toByte() // A
    }
    val bitmap = org.jetbrains.skia.Bitmap()
    bitmap.allocPixels(ImageInfo.makeN32(width, height, ColorAlphaType.UNPREMUL))
    bitmap.installPixels(bytes)
    return bitmap.asComposeImageBitmap()
}
