package org.salon.app.media

import android.Manifest
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.os.Handler
import android.os.Looper
import androidx.compose.foundation.Image
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.graphics.graphicsLayer
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.platform.LocalContext
import androidx.core.content.ContextCompat
import org.salon.core.I420Frame

/**
 * The camera's own picture on screen while this is shown: the pre-join preview (the front camera,
 * mirrored like a mirror) and the QR scanner (the back camera). It runs its own [CameraCapture]
 * only if the `CAMERA` permission is already granted (asking is the caller's part, in context),
 * and lets the camera go when it leaves the screen. Each picture is converted on the camera's
 * thread into one of three reused Bitmaps and the newest drawn; [onFrame] (if any) sees every
 * picture first, on that thread, and must not keep it (its array is reused).
 */
@Composable
fun CameraView(
    front: Boolean,
    modifier: Modifier = Modifier,
    onFrame: ((I420Frame) -> Unit)? = null,
    /** Shown until the first picture (and when the camera may not be used yet). */
    placeholder: @Composable () -> Unit = {},
) {
    val context = LocalContext.current
    var picture by remember { mutableStateOf<Bitmap?>(null) }
    val frameHandler by rememberUpdatedState(onFrame)
    val allowed = ContextCompat.checkSelfPermission(context, Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED
    DisposableEffect(allowed, front) {
        if (!allowed) return@DisposableEffect onDispose { }
        val main = Handler(Looper.getMainLooper())
        val converter = PictureConverter()
        val camera =
            CameraCapture(context.applicationContext, onFrame = { frame ->
                frameHandler?.invoke(frame)
                val bitmap = converter.toBitmap(SELF, frame)
                main.post { picture = bitmap }
            })
        camera.start(front)
        onDispose {
            camera.stop()
            main.removeCallbacksAndMessages(null)
            picture = null
        }
    }
    val bitmap = picture
    if (bitmap == null) {
        placeholder()
    } else {
        Image(
            bitmap = bitmap.asImageBitmap(),
            contentDescription = if (front) "Your camera" else "Camera",
            contentScale = ContentScale.Crop,
            modifier = modifier.fillMaxSize().graphicsLayer { if (front) scaleX = -1f },
        )
    }
}

private const val SELF = "self"

/**
 * Reads QR codes from camera pictures, at most [everyMs] apart (decoding a 720p picture takes
 * tens of milliseconds: not every picture needs it), and hands each new text found to [onText]
 * once. Used from the camera's thread.
 */
class QrScanner(private val onText: (String) -> Unit, private val everyMs: Long = 250, private val decode: (I420Frame) -> String?) {
    private var last: Long? = null
    private var lastText: String? = null

    fun offer(frame: I420Frame, nowMs: Long = System.currentTimeMillis()) {
        if (last?.let { nowMs - it < everyMs } == true) return
        last = nowMs
        val text = decode(frame) ?: return
        if (text == lastText) return
        lastText = text
        onText(text)
    }
}
