package org.salon.screens

import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Surface
import androidx.compose.material3.Typography
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.ImageComposeScene
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.platform.Font
import androidx.compose.ui.unit.Density
import androidx.compose.ui.use
import java.io.File
import org.jetbrains.skia.EncodedImageFormat

/** Every screen is drawn at this size (a 360 × 760 dp phone) and density: 720 × 1520 pixels. */
const val WIDTH_DP = 360
const val HEIGHT_DP = 760
const val DENSITY = 2f

/**
 * One font for every text, loaded from a file rather than found by the system, so that a render
 * is the same on every machine with Debian's fonts-dejavu-core (2.37).
 */
object Fonts {
    val dir = File(System.getenv("SALON_SCREENS_FONT_DIR") ?: "/usr/share/fonts/truetype/dejavu")

    val family: FontFamily by lazy {
        val regular = File(dir, "DejaVuSans.ttf")
        val bold = File(dir, "DejaVuSans-Bold.ttf")
        check(regular.isFile && bold.isFile) {
            "DejaVu Sans is missing in $dir: install Debian's fonts-dejavu-core (or set SALON_SCREENS_FONT_DIR)"
        }
        FontFamily(Font(regular, FontWeight.Normal), Font(bold, FontWeight.Bold))
    }

    val typography: Typography by lazy {
        val t = Typography()
        val f = family
        Typography(
            displayLarge = t.displayLarge.copy(fontFamily = f),
            displayMedium = t.displayMedium.copy(fontFamily = f),
            displaySmall = t.displaySmall.copy(fontFamily = f),
            headlineLarge = t.headlineLarge.copy(fontFamily = f),
            headlineMedium = t.headlineMedium.copy(fontFamily = f),
            headlineSmall = t.headlineSmall.copy(fontFamily = f),
            titleLarge = t.titleLarge.copy(fontFamily = f),
            titleMedium = t.titleMedium.copy(fontFamily = f),
            titleSmall = t.titleSmall.copy(fontFamily = f),
            bodyLarge = t.bodyLarge.copy(fontFamily = f),
            bodyMedium = t.bodyMedium.copy(fontFamily = f),
            bodySmall = t.bodySmall.copy(fontFamily = f),
            labelLarge = t.labelLarge.copy(fontFamily = f),
            labelMedium = t.labelMedium.copy(fontFamily = f),
            labelSmall = t.labelSmall.copy(fontFamily = f),
        )
    }
}

/** The app's look: Material 3's light scheme, the fixed font, on the window's background. */
@Composable
fun AppFrame(content: @Composable () -> Unit) {
    MaterialTheme(colorScheme = lightColorScheme(), typography = Fonts.typography) {
        Surface(Modifier.fillMaxSize(), color = MaterialTheme.colorScheme.background) { content() }
    }
}

/**
 * Draws [content] off-screen (no window, no display) into a PNG. The frame clock is driven by
 * hand through the same times on every run, so animations (menus opening, a progress spinner)
 * are caught at the same moment.
 */
fun renderPng(content: @Composable () -> Unit): ByteArray {
    val width = (WIDTH_DP * DENSITY).toInt()
    val height = (HEIGHT_DP * DENSITY).toInt()
    return ImageComposeScene(width, height, Density(DENSITY)) { AppFrame(content) }.use { scene ->
        for (frame in 0 until 30) scene.render(frame * 16_000_000L)
        val image = scene.render(1_000_000_000L)
        image.encodeToData(EncodedImageFormat.PNG)!!.bytes
    }
}
