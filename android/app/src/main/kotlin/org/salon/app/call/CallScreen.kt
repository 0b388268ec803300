package org.salon.app.call

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.Canvas
import androidx.compose.foundation.Image
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.clickable
import androidx.compose.foundation.gestures.detectTapGestures
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.grid.GridCells
import androidx.compose.foundation.lazy.grid.LazyVerticalGrid
import androidx.compose.foundation.lazy.grid.items
import androidx.compose.foundation.lazy.grid.rememberLazyGridState
import androidx.compose.foundation.shape.CircleShape
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Button
import androidx.compose.material3.ButtonDefaults
import androidx.compose.material3.DropdownMenu
import androidx.compose.material3.DropdownMenuItem
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberUpdatedState
import androidx.compose.runtime.setValue
import androidx.compose.runtime.snapshotFlow
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.clip
import androidx.compose.ui.geometry.CornerRadius
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.graphics.StrokeCap
import androidx.compose.ui.graphics.asImageBitmap
import androidx.compose.ui.graphics.drawscope.Stroke
import androidx.compose.ui.input.pointer.pointerInput
import androidx.compose.ui.layout.ContentScale
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.tooling.preview.Preview
import androidx.compose.ui.unit.Dp
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.filterNotNull
import org.salon.core.E2ee

/** The call screen, wired to its ViewModel; [onClose] goes back to the friend list. */
@Composable
fun CallRoute(viewModel: CallViewModel, title: String, onClose: () -> Unit) {
    val state by viewModel.state.collectAsStateWithLifecycle()
    val leave = {
        viewModel.onEvent(CallEvent.Leave)
        onClose()
    }
    BackHandler(onBack = leave)
    CallScreen(state, title) { event -> if (event == CallEvent.Leave) leave() else viewModel.onEvent(event) }
}

/**
 * The call: the lobby while waiting to be let in, the room while in it, and why it ended once
 * over (removed, not let in, ended by the host, the room gone or full...). Under the room's name,
 * a chip says whether the call is end-to-end encrypted; tapped, it shows the safety code.
 * Reactions float over their sender's tile; hands raised show on tiles, and hosts see the queue
 * to lower them; the chat panel takes the tiles' place while open.
 * [hostMenuOpen] opens the host menu, [safetyCodeOpen] the safety code and [reactionsOpen] the
 * reactions from the start (previews and screenshots).
 */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun CallScreen(
    state: CallState,
    title: String,
    hostMenuOpen: Boolean = false,
    safetyCodeOpen: Boolean = false,
    reactionsOpen: Boolean = false,
    onEvent: (CallEvent) -> Unit,
) {
    if (state.status is CallStatus.Waiting) {
        LobbyScreen(state.roomName ?: title, state.status.hostPresent) { onEvent(CallEvent.Leave) }
        return
    }
    if (state.status is CallStatus.Ended) {
        EndedScreen(state.roomName ?: title, state.status.why) { onEvent(CallEvent.Leave) }
        return
    }
    if (state.pictureInPicture) {
        // A small window: the one tile, nothing to press.
        state.pipTile?.let { ParticipantTile(it, canPin = false, onEvent = onEvent, modifier = Modifier.fillMaxSize(), fill = true) }
            ?: Box(Modifier.fillMaxSize().background(Color(0xFF263238)))
        return
    }
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text(state.roomName ?: title) },
                actions = { if (state.isHost && state.status == CallStatus.Live) HostMenu(state, hostMenuOpen, onEvent) },
            )
        },
        bottomBar = { Controls(state, reactionsOpen, onEvent) },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            var codeOpen by remember { mutableStateOf(safetyCodeOpen) }
            EncryptionChip(state.e2ee, Modifier.padding(start = 16.dp, end = 16.dp, bottom = 4.dp)) { codeOpen = true }
            val e2ee = state.e2ee
            if (codeOpen && e2ee != null) {
                SafetyCodeDialog(e2ee, Encryption.unverifiedLine(state.tiles)) { codeOpen = false }
            }
            statusLine(state.status)?.let { Text(it, Modifier.padding(16.dp), color = Color.Gray) }
            state.permissionNote?.let { note ->
                Row(Modifier.fillMaxWidth().padding(horizontal = 16.dp), verticalAlignment = Alignment.CenterVertically) {
                    Text(note.text, Modifier.weight(1f), color = MaterialTheme.colorScheme.error)
                    TextButton(onClick = { onEvent(CallEvent.FixPermissions) }) { Text(note.actionLabel) }
                }
            }
            state.notice?.let { notice ->
                Row(Modifier.fillMaxWidth().padding(horizontal = 16.dp), verticalAlignment = Alignment.CenterVertically) {
                    Text(notice, Modifier.weight(1f))
                    TextButton(onClick = { onEvent(CallEvent.DismissNotice) }) { Text("OK") }
                }
            }
            if (state.isHost) {
                for (knock in state.knocks) {
                    Row(Modifier.fillMaxWidth().padding(horizontal = 16.dp), verticalAlignment = Alignment.CenterVertically) {
                        Text("${knock.name} is waiting to come in", Modifier.weight(1f))
                        TextButton(onClick = { onEvent(CallEvent.Deny(knock.id)) }) { Text("Deny") }
                        Button(onClick = { onEvent(CallEvent.Admit(knock.id)) }) { Text("Admit") }
                    }
                }
            }
            if (state.hands.isNotEmpty()) HandsQueue(state.hands, onEvent)
            if (state.chatOpen) {
                ChatPanel(state, onEvent, Modifier.weight(1f).fillMaxWidth())
                return@Column
            }
            if (state.status == CallStatus.Live && state.tiles.isEmpty()) {
                Text("Nobody else is here yet.", Modifier.padding(16.dp))
            }
            val main = state.mainTile
            val grid = state.gridTiles
            if (main != null) {
                // A screen share, the pinned tile, or the only one: big, above the others.
                ParticipantTile(
                    main,
                    canPin = !main.presenting && state.tiles.size > 1,
                    onEvent = onEvent,
                    modifier = Modifier.weight(1f).fillMaxWidth().padding(8.dp),
                    fill = true,
                )
            }
            if (grid.isNotEmpty()) {
                TileGrid(
                    grid,
                    onEvent,
                    modifier = if (main != null) Modifier.fillMaxWidth().height(150.dp) else Modifier.weight(1f),
                    minTile = if (main != null) 120.dp else 160.dp,
                )
            }
            if (state.sendingTestPattern && !state.videoWatched) {
                Text(
                    "Nobody is watching your video: the test picture is paused.",
                    Modifier.padding(horizontal = 16.dp),
                    color = Color.Gray,
                    style = MaterialTheme.typography.bodySmall,
                )
            }
        }
    }
}

/**
 * Reactions, my hand and the chat; my microphone and camera (and which camera), where the sound
 * goes, the test picture, and leaving. Switches are disabled until in the room.
 */
@Composable
private fun Controls(state: CallState, reactionsOpen: Boolean, onEvent: (CallEvent) -> Unit) {
    val live = state.status == CallStatus.Live || state.status is CallStatus.Reconnecting
    Column(
        Modifier.fillMaxWidth().padding(horizontal = 16.dp, vertical = 8.dp),
        verticalArrangement = Arrangement.spacedBy(4.dp),
    ) {
        SocialControls(state, enabled = state.status == CallStatus.Live, reactionsOpen, onEvent)
        Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp, Alignment.CenterHorizontally)) {
            Toggle(if (state.microphoneOn) "Mic on" else "Mic off", on = state.microphoneOn, enabled = live) {
                onEvent(CallEvent.ToggleMicrophone)
            }
            Toggle(if (state.cameraOn) "Camera on" else "Camera off", on = state.cameraOn, enabled = live) {
                onEvent(CallEvent.ToggleCamera)
            }
            if (state.cameraOn) {
                TextButton(onClick = { onEvent(CallEvent.FlipCamera) }, enabled = live) { Text(if (state.frontCamera) "Front" else "Back") }
            }
            if (state.audioRoutes.size > 1) {
                TextButton(onClick = { onEvent(CallEvent.NextAudioRoute) }) { Text(state.audioRoute?.label ?: "Sound") }
            }
        }
        Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(12.dp, Alignment.CenterHorizontally)) {
            TextButton(onClick = { onEvent(CallEvent.ToggleTestPattern) }, enabled = state.status == CallStatus.Live) {
                Text(if (state.sendingTestPattern) "Stop test picture" else "Send test picture")
            }
            Button(
                onClick = { onEvent(CallEvent.Leave) },
                colors = ButtonDefaults.buttonColors(containerColor = MaterialTheme.colorScheme.error),
            ) { Text("Leave") }
        }
    }
}

/** A switch of mine as a button: filled while on. */
@Composable
private fun Toggle(label: String, on: Boolean, enabled: Boolean, onClick: () -> Unit) {
    if (on) {
        FilledTonalButton(onClick = onClick, enabled = enabled) { Text(label) }
    } else {
        OutlinedButton(onClick = onClick, enabled = enabled) { Text(label) }
    }
}

/**
 * The other participants' tiles, scrollable. It reports which of them are on screen
 * ([CallEvent.Shown]) whenever that set changes, so that the core stops the videos scrolled off.
 */
@Composable
private fun TileGrid(tiles: List<Tile>, onEvent: (CallEvent) -> Unit, modifier: Modifier, minTile: Dp) {
    val gridState = rememberLazyGridState()
    val ids by rememberUpdatedState(tiles.map { it.id })
    val report by rememberUpdatedState(onEvent)
    LaunchedEffect(gridState) {
        snapshotFlow {
            val layout = gridState.layoutInfo
            // Only once the layout has caught up with the tiles: a tile just added is not yet
            // laid out, and must not be taken as scrolled off.
            if (layout.totalItemsCount != ids.size) return@snapshotFlow null
            TilesShown(visible = layout.visibleItemsInfo.mapTo(HashSet()) { it.key as String }, of = ids.toSet())
        }.filterNotNull()
            .distinctUntilChanged()
            .collect { report(CallEvent.Shown(it)) }
    }
    LazyVerticalGrid(
        columns = GridCells.Adaptive(minSize = minTile),
        modifier = modifier,
        state = gridState,
        contentPadding = PaddingValues(8.dp),
        horizontalArrangement = Arrangement.spacedBy(8.dp),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        items(tiles, key = { it.id }) { tile -> ParticipantTile(tile, canPin = true, onEvent = onEvent) }
    }
}

/** The lobby of a locked room: nothing of the room is visible until a host lets me in. */
@Composable
private fun LobbyScreen(roomName: String, hostPresent: Boolean, onLeave: () -> Unit) {
    RoomNotice(roomName) {
        Text("Waiting for a host to let you in…")
        if (!hostPresent) Text("No host is in the room right now.", color = Color.Gray)
        OutlinedButton(onClick = onLeave) { Text("Leave") }
    }
}

/**
 * Why the call is over, in words ("You were removed from this room", "The host didn't let you
 * in", "The host ended the call"...), and the way back.
 */
@Composable
private fun EndedScreen(roomName: String, why: String, onBack: () -> Unit) {
    RoomNotice(roomName) {
        Text(why, style = MaterialTheme.typography.titleMedium)
        Text("The call is over.", color = Color.Gray)
        Button(onClick = onBack) { Text("Back to rooms") }
    }
}

/** The room's name and [content], centred on the whole screen (the lobby, the end of a call). */
@Composable
private fun RoomNotice(roomName: String, content: @Composable () -> Unit) {
    Column(
        Modifier.fillMaxSize().padding(32.dp),
        verticalArrangement = Arrangement.spacedBy(16.dp, Alignment.CenterVertically),
        horizontalAlignment = Alignment.CenterHorizontally,
    ) {
        Text(roomName, style = MaterialTheme.typography.headlineSmall)
        content()
    }
}

/**
 * "Encrypted · 4821 0937 1165" with a lock in an encrypted call (tapping it shows the safety code),
 * else a muted "Not end-to-end encrypted".
 */
@Composable
private fun EncryptionChip(e2ee: E2ee?, modifier: Modifier, onOpen: () -> Unit) {
    val shape = RoundedCornerShape(8.dp)
    val encrypted = e2ee != null
    Surface(
        shape = shape,
        color = if (encrypted) Color(0xFFE8F5E9) else MaterialTheme.colorScheme.surfaceVariant,
        contentColor = if (encrypted) Color(0xFF1B5E20) else Color.Gray,
        modifier =
            modifier.then(
                if (encrypted) Modifier.clip(shape).clickable(onClickLabel = "Show the safety code", role = Role.Button, onClick = onOpen) else Modifier,
            ),
    ) {
        Row(Modifier.padding(horizontal = 10.dp, vertical = 6.dp), verticalAlignment = Alignment.CenterVertically) {
            if (encrypted) {
                LockGlyph(Color(0xFF2E7D32), broken = false, Modifier.size(14.dp))
                Spacer(Modifier.width(6.dp))
            }
            Text(Encryption.chipLabel(e2ee), style = MaterialTheme.typography.labelLarge)
        }
    }
}

/** The safety code, large, how many hold the keys, and what to do with it. */
@Composable
private fun SafetyCodeDialog(e2ee: E2ee, unverifiedLine: String?, onDismiss: () -> Unit) {
    AlertDialog(
        onDismissRequest = onDismiss,
        confirmButton = { TextButton(onClick = onDismiss) { Text("Done") } },
        title = { Text("Safety code") },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(12.dp)) {
                Text(e2ee.safetyCode, style = MaterialTheme.typography.headlineMedium, fontSize = 30.sp)
                Text(Encryption.keyHolders(e2ee.keyHolders), style = MaterialTheme.typography.titleSmall)
                Text(Encryption.READ_ALOUD)
                unverifiedLine?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            }
        },
    )
}

/**
 * A padlock drawn by hand (the app ships no icon font): closed, or [broken] with its shackle
 * lifted out of the body.
 */
@Composable
private fun LockGlyph(color: Color, broken: Boolean, modifier: Modifier) {
    Canvas(modifier) {
        val w = size.width
        val h = size.height
        val line = w * 0.13f
        drawRoundRect(color, topLeft = Offset(w * 0.14f, h * 0.44f), size = Size(w * 0.72f, h * 0.52f), cornerRadius = CornerRadius(w * 0.1f))
        val lift = if (broken) h * 0.14f else 0f
        val left = w * 0.3f
        val right = w * 0.7f
        drawArc(
            color,
            startAngle = 180f,
            sweepAngle = 180f,
            useCenter = false,
            topLeft = Offset(left, h * 0.06f - lift),
            size = Size(right - left, h * 0.4f),
            style = Stroke(width = line),
        )
        drawLine(color, Offset(right, h * 0.26f - lift), Offset(right, h * 0.46f), strokeWidth = line, cap = StrokeCap.Butt)
        drawLine(color, Offset(left, h * 0.26f - lift), Offset(left, if (broken) h * 0.3f - lift else h * 0.46f), strokeWidth = line, cap = StrokeCap.Butt)
    }
}

/** On the tile of someone whose keys could not be checked: a broken lock, "Can't exchange keys". */
@Composable
private fun UnverifiedBadge(modifier: Modifier) {
    Box(
        modifier
            .size(24.dp)
            .clip(CircleShape)
            .background(Color(0xFFC62828))
            .semantics { contentDescription = Encryption.CANT_EXCHANGE_KEYS },
        contentAlignment = Alignment.Center,
    ) {
        LockGlyph(Color.White, broken = true, Modifier.size(14.dp))
    }
}

/** Lock, panic, a new link and ending the call, for hosts. */
@Composable
private fun HostMenu(state: CallState, initiallyOpen: Boolean, onEvent: (CallEvent) -> Unit) {
    var open by remember { mutableStateOf(initiallyOpen) }
    TextButton(onClick = { open = true }) { Text(if (state.knocks.isEmpty()) "Host" else "Host (${state.knocks.size})") }
    DropdownMenu(expanded = open, onDismissRequest = { open = false }) {
        val pick = { event: CallEvent ->
            open = false
            onEvent(event)
        }
        DropdownMenuItem(text = { Text(if (state.locked) "Unlock room" else "Lock room") }, onClick = { pick(CallEvent.ToggleLock) })
        DropdownMenuItem(text = { Text(if (state.panic) "Release panic" else "Panic") }, onClick = { pick(CallEvent.TogglePanic) })
        DropdownMenuItem(text = { Text("New link") }, onClick = { pick(CallEvent.NewLink) })
        DropdownMenuItem(text = { Text("End for everyone") }, onClick = { pick(CallEvent.EndForEveryone) })
    }
}

private fun statusLine(status: CallStatus): String? =
    when (status) {
        CallStatus.Joining -> "Joining…"
        is CallStatus.Waiting -> "Waiting for a host to let you in…"
        CallStatus.Live -> null
        is CallStatus.Reconnecting -> "Connection lost, reconnecting (attempt ${status.attempt})…"
        is CallStatus.Ended -> "Call ended: ${status.why}"
    }

/**
 * One person: their picture (or initial), name, muted/speaking, a ring while they speak (a
 * thicker, brighter one for the loudest speaker), their raised hand's place in the queue and
 * their reaction floating up. Long-press, or "Pin", pins it ([canPin]);
 * [fill] draws it as the big tile, filling [modifier]'s space instead of a 4:3 box.
 */
@Composable
private fun ParticipantTile(
    tile: Tile,
    canPin: Boolean,
    onEvent: (CallEvent) -> Unit,
    modifier: Modifier = Modifier,
    fill: Boolean = false,
) {
    val shape = RoundedCornerShape(12.dp)
    val (ringWidth, ring) =
        when {
            tile.dominant -> 5.dp to Color(0xFF00E676)
            tile.speaking -> 3.dp to Color(0xFF43A047)
            else -> 3.dp to Color.Transparent
        }
    val pin by rememberUpdatedState(onEvent)
    Box(
        modifier
            .then(if (fill) Modifier else Modifier.aspectRatio(4f / 3f))
            .border(ringWidth, ring, shape)
            .clip(shape)
            .background(Color(0xFF263238))
            .then(
                if (canPin) {
                    Modifier.pointerInput(tile.id) { detectTapGestures(onLongPress = { pin(CallEvent.Pin(tile.id)) }) }
                } else {
                    Modifier
                },
            ),
    ) {
        val picture = tile.picture
        if (picture != null && !tile.cameraOff) {
            Image(
                bitmap = picture.asImageBitmap(),
                contentDescription = "${tile.name}'s video",
                contentScale = if (fill) ContentScale.Fit else ContentScale.Crop,
                modifier = Modifier.fillMaxSize(),
            )
        } else {
            Text(
                tile.name.take(1).uppercase(),
                Modifier.align(Alignment.Center),
                color = Color.White,
                style = MaterialTheme.typography.headlineLarge,
            )
        }
        Row(
            Modifier.align(Alignment.BottomStart).fillMaxWidth().background(Color(0x88000000)).padding(6.dp),
            horizontalArrangement = Arrangement.spacedBy(6.dp),
        ) {
            if (tile.presenting) Text("Presenting", color = Color(0xFF81D4FA))
            Text(tile.name, color = Color.White, modifier = Modifier.weight(1f))
            if (tile.muted) Text("muted", color = Color(0xFFEF9A9A))
            if (tile.speaking) Text("speaking", color = Color(0xFFA5D6A7))
            if (canPin) {
                Text(
                    if (fill) "Unpin" else "Pin",
                    color = Color.White,
                    modifier = Modifier.clickable { onEvent(CallEvent.Pin(tile.id)) },
                )
            }
            if (tile.canModerate && tile.presenting) {
                Text(
                    "Stop sharing",
                    color = Color.White,
                    modifier = Modifier.clickable { tile.presenter?.let { onEvent(CallEvent.StopShare(it)) } },
                )
            } else if (tile.canModerate) {
                TileMenu(tile, onEvent)
            }
        }
        if (tile.unverified) UnverifiedBadge(Modifier.align(Alignment.TopEnd).padding(6.dp))
        tile.hand?.let { HandBadge(it, Modifier.align(Alignment.TopStart).padding(6.dp)) }
        tile.reaction?.let { FloatingReaction(it, Modifier.align(Alignment.Center), color = Color.White) }
    }
}

/** What a host can do to one person. */
@Composable
private fun TileMenu(tile: Tile, onEvent: (CallEvent) -> Unit) {
    var open by remember { mutableStateOf(false) }
    Box {
        Text("⋮", color = Color.White, modifier = Modifier.clickable { open = true })
        DropdownMenu(expanded = open, onDismissRequest = { open = false }) {
            val pick = { event: CallEvent ->
                open = false
                onEvent(event)
            }
            DropdownMenuItem(text = { Text("Ask to mute") }, onClick = { pick(CallEvent.AskToMute(tile.id)) })
            DropdownMenuItem(text = { Text("Mute") }, onClick = { pick(CallEvent.Mute(tile.id)) })
            DropdownMenuItem(text = { Text("Remove from room") }, onClick = { pick(CallEvent.Remove(tile.id)) })
        }
    }
}

@Preview
@Composable
private fun CallScreenPreview() {
    MaterialTheme {
        CallScreen(
            CallState(
                roomName = "Ada's room",
                status = CallStatus.Live,
                tiles =
                    listOf(
                        Tile("a", "Ada", speaking = true, dominant = true, muted = false, cameraOff = true, picture = null),
                        Tile("b", "Bob", speaking = false, muted = true, cameraOff = true, picture = null, unverified = true),
                    ),
                e2ee = E2ee("4821 0937 1165", keyHolders = 2, unverified = listOf("b")),
            ),
            title = "Ada",
            onEvent = {},
        )
    }
}
