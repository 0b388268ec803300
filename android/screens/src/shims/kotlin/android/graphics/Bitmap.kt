// Shim: the call screen's tiles hold an android.graphics.Bitmap (made by media/Pictures.kt);
// here it is an array of ARGB pixels with the few calls the app makes.
package android.graphics

class Bitmap private constructor(val width: Int, val height: Int, val pixels: IntArray) {
    enum class Config { ARGB_8888 }

    fun setPixels(colors: IntArray, offset: Int, stride: Int, x: Int, y: Int, width: Int, height: Int) {
        for (row in 0 until height) {
            System.arraycopy(colors, offset + row * stride, pixels, (y + row) * this.width + x, width)
        }
    }

    companion object {
        @JvmStatic
        @Suppress("UNUSED_PARAMETER")
        fun createBitmap(width: Int, height: Int, config: Config): Bitmap = Bitmap(width, height, IntArray(width * height))

        @JvmStatic
        @Suppress("UNUSED_PARAMETER")
        fun createBitmap(colors: IntArray, width: Int, height: Int, config: Config): Bitmap = Bitmap(width, height, colors.copyOf(width * height))
    }
}
