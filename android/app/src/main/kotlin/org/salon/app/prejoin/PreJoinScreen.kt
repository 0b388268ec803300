package org.salon.app.prejoin

import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.shape.CircleShape
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.text.style.TextAlign
import androidx.compose.ui.tooling.preview.Preview
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle

/**
 * The pre-join screen, wired to its ViewModel. [cameraPreview] is the platform's live camera
 * picture (drawn while the camera is on and allowed); [onPermissionAction] asks again or opens
 * the app's settings; [onJoined] moves on to the call; [onBack] leaves.
 */
@Composable
fun PreJoinRoute(
    viewModel: PreJoinViewModel,
    onJoined: (Joined) -> Unit,
    onBack: () -> Unit,
    onPermissionAction: () -> Unit = {},
    cameraPreview: @Composable () -> Unit = {},
) {
    val state by viewModel.state.collectAsStateWithLifecycle()
    val joined by viewModel.joined.collectAsStateWithLifecycle()
    LaunchedEffect(joined) { joined?.let(onJoined) }
    PreJoinScreen(state, cameraPreview = cameraPreview) { event ->
        when (event) {
            PreJoinEvent.Back -> onBack()
            PreJoinEvent.PermissionAction -> onPermissionAction()
            else -> viewModel.onEvent(event)
        }
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun PreJoinScreen(
    state: PreJoinState,
    cameraPreview: @Composable () -> Unit = { CameraPlaceholder(state.name) },
    onEvent: (PreJoinEvent) -> Unit,
) {
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("Join") },
                navigationIcon = { TextButton(onClick = { onEvent(PreJoinEvent.Back) }) { Text("Back") } },
            )
        },
    ) { padding ->
        Column(
            Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 16.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text(state.roomName, style = MaterialTheme.typography.headlineSmall)
            Row(verticalAlignment = Alignment.CenterVertically) {
                Text(state.room.label(), Modifier.weight(1f), color = Color.Gray, style = MaterialTheme.typography.bodyMedium)
                if (state.room == RoomInfo.Unreachable) {
                    TextButton(onClick = { onEvent(PreJoinEvent.Refresh) }) { Text("Try again") }
                }
            }
            Box(
                Modifier.fillMaxWidth().aspectRatio(4f / 3f).clip(RoundedCornerShape(12.dp)).background(Color(0xFF263238)),
                contentAlignment = Alignment.Center,
            ) {
                if (state.cameraLive) {
                    cameraPreview()
                } else {
                    CameraOff(state.name, allowed = state.cameraAllowed)
                }
            }
            Toggle("Camera", checked = state.cameraLive, enabled = state.cameraAllowed) { onEvent(PreJoinEvent.ToggleCamera) }
            Toggle("Microphone", checked = state.microphoneLive, enabled = state.microphoneAllowed) {
                onEvent(PreJoinEvent.ToggleMicrophone)
            }
            state.permission?.let { note ->
                Row(verticalAlignment = Alignment.CenterVertically) {
                    Text(note.text, Modifier.weight(1f), color = MaterialTheme.colorScheme.error)
                    TextButton(onClick = { onEvent(PreJoinEvent.PermissionAction) }) { Text(note.actionLabel) }
                }
            }
            OutlinedTextField(
                value = state.name,
                onValueChange = { onEvent(PreJoinEvent.NameChanged(it)) },
                label = { Text("Your name") },
                supportingText = { Text("Everyone in the room sees this name") },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
            state.error?.let { error -> Text(error, color = MaterialTheme.colorScheme.error) }
            Button(onClick = { onEvent(PreJoinEvent.Join) }, enabled = state.canJoin, modifier = Modifier.fillMaxWidth()) {
                if (state.joining) {
                    CircularProgressIndicator(Modifier.size(18.dp), strokeWidth = 2.dp, color = MaterialTheme.colorScheme.onSurface)
                    Spacer(Modifier.width(12.dp))
                    Text("Joining…")
                } else {
                    Text(if ((state.room as? RoomInfo.Ready)?.locked == true) "Knock" else "Join")
                }
            }
            Spacer(Modifier.size(8.dp))
        }
    }
}

@Composable
private fun Toggle(label: String, checked: Boolean, enabled: Boolean, onToggle: () -> Unit) {
    Row(Modifier.fillMaxWidth(), verticalAlignment = Alignment.CenterVertically) {
        Text(label, Modifier.weight(1f), style = MaterialTheme.typography.titleMedium)
        Text(
            if (!enabled) "Not allowed" else if (checked) "On" else "Off",
            Modifier.padding(end = 12.dp),
            color = Color.Gray,
        )
        Switch(checked = checked, onCheckedChange = { onToggle() }, enabled = enabled)
    }
}

/** My initial in a circle, while the camera is off (or not allowed). */
@Composable
private fun CameraOff(name: String, allowed: Boolean) {
    Column(horizontalAlignment = Alignment.CenterHorizontally, verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Box(Modifier.size(72.dp).clip(CircleShape).background(Color(0xFF455A64)), contentAlignment = Alignment.Center) {
            Text(name.trim().take(1).uppercase(), color = Color.White, style = MaterialTheme.typography.headlineMedium)
        }
        Text(if (allowed) "Camera off" else "Camera not allowed", color = Color.White)
    }
}

/** What stands in for the camera picture where there is no camera (previews, screenshots). */
@Composable
fun CameraPlaceholder(name: String) {
    Box(Modifier.fillMaxSize().background(Color(0xFF37474F)), contentAlignment = Alignment.Center) {
        Text(
            "Camera preview" + if (name.isNotBlank()) "\n$name" else "",
            color = Color.White,
            textAlign = TextAlign.Center,
        )
    }
}

@Preview
@Composable
private fun PreJoinScreenPreview() {
    MaterialTheme {
        PreJoinScreen(
            PreJoinState(title = "Ada", room = RoomInfo.Ready("Ada's kitchen", people = 2, names = listOf("Ada", "Bo")), name = "Zoë"),
            onEvent = {},
        )
    }
}
