package org.salon.app.addfriend

import android.os.Handler
import android.os.Looper
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.unit.dp
import kotlinx.coroutines.launch
import org.salon.app.media.CameraView
import org.salon.app.media.QrScanner
import org.salon.app.permissions.Capture
import org.salon.app.permissions.MediaGrant

/**
 * "Scan a QR code": asks for the camera (in context: now), then shows the back camera and reads
 * QR codes from its pictures ([decodeQr] on the luminance plane) until one is found, which goes
 * to [onScanned]. [requestCamera] is the platform's permission flow.
 */
@Composable
fun QrScan(requestCamera: suspend (Set<Capture>) -> MediaGrant, onScanned: (String) -> Unit) {
    var scanning by remember { mutableStateOf(false) }
    var refused by remember { mutableStateOf<String?>(null) }
    val scope = rememberCoroutineScope()
    val scanned by rememberUpdatedState(onScanned)
    Column {
        if (!scanning) {
            OutlinedButton(onClick = {
                scope.launch {
                    val grant = requestCamera(setOf(Capture.Camera))
                    refused = grant.note?.text
                    scanning = grant.camera
                }
            }) { Text("Scan a QR code") }
            refused?.let { Text(it) }
        } else {
            val main = remember { Handler(Looper.getMainLooper()) }
            val reader =
                remember {
                    QrScanner(onText = { text ->
                        main.post {
                            scanning = false
                            scanned(text)
                        }
                    }) { frame -> decodeQr(frame.data, frame.width, frame.height) }
                }
            Box(Modifier.fillMaxWidth().aspectRatio(1f).clip(RoundedCornerShape(12.dp))) {
                CameraView(front = false, onFrame = reader::offer)
            }
            OutlinedButton(onClick = { scanning = false }) { Text("Stop scanning") }
        }
    }
}
