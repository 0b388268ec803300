package org.salon.app.addfriend

import androidx.compose.foundation.Canvas
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import kotlin.math.floor

/**
 * Draws [matrix] with its quiet zone on white, in whole pixels per module (so that it stays
 * sharp and scannable), centred in the space [modifier] gives.
 */
@Composable
fun QrCodeImage(matrix: QrMatrix, modifier: Modifier = Modifier, contentDescription: String? = null) {
    Canvas(if (contentDescription != null) modifier.semantics { this.contentDescription = contentDescription } else modifier) {
        val modules = matrix.size + 2 * QR_QUIET_ZONE
        val module = floor(size.minDimension / modules).coerceAtLeast(1f)
        val side = module * modules
        val left = floor((size.width - side) / 2)
        val top = floor((size.height - side) / 2)
        drawRect(Color.White, Offset(left, top), Size(side, side))
        for (y in 0 until matrix.size) {
            var x = 0
            while (x < matrix.size) {
                if (!matrix[x, y]) {
                    x++
                    continue
                }
                // One rectangle per run of dark modules in a row.
                val start = x
                while (x < matrix.size && matrix[x, y]) x++
                drawRect(
                    Color.Black,
                    Offset(left + (start + QR_QUIET_ZONE) * module, top + (y + QR_QUIET_ZONE) * module),
                    Size((x - start) * module, module),
                )
            }
        }
    }
}
