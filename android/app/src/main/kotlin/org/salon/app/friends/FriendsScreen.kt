package org.salon.app.friends

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.tooling.preview.Preview
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.LifecycleResumeEffect
import androidx.lifecycle.compose.collectAsStateWithLifecycle

/**
 * The rooms screen, wired to its ViewModel: drop-ins go to [onDropIn], my own rooms to
 * [onEnterMyRoom], and "door opened" events to [onDoorOpened] (a local notification). With
 * [onAddFriend], "Add" opens the add-a-friend screen (QR code, my card) instead of the dialog.
 * "Share" on one of my rooms hands its invite link to [onShare] (the share sheet).
 */
@Composable
fun FriendsRoute(
    viewModel: FriendsViewModel,
    onDropIn: (FriendRow) -> Unit,
    onEnterMyRoom: (MyRoomRow) -> Unit = {},
    onDoorOpened: (String) -> Unit = {},
    onAddFriend: (() -> Unit)? = null,
    onShare: (String) -> Unit = {},
) {
    val state by viewModel.state.collectAsStateWithLifecycle()
    // Friends with a presence key are watched live; the others and my rooms are asked again
    // whenever the screen comes into view.
    LifecycleResumeEffect(Unit) {
        viewModel.onEvent(FriendsEvent.Refresh)
        onPauseOrDispose { }
    }
    LaunchedEffect(viewModel) {
        viewModel.doorOpened.collect { onDoorOpened(it) }
    }
    FriendsScreen(state) { event ->
        when (event) {
            is FriendsEvent.DropIn -> onDropIn(event.friend)
            is FriendsEvent.EnterMyRoom -> onEnterMyRoom(event.room)
            is FriendsEvent.ShareMyRoom -> onShare(event.room.link)
            FriendsEvent.OpenAddDialog -> onAddFriend?.invoke() ?: viewModel.onEvent(event)
            else -> viewModel.onEvent(event)
        }
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun FriendsScreen(state: FriendsState, onEvent: (FriendsEvent) -> Unit) {
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("Rooms") },
                actions = {
                    TextButton(onClick = { onEvent(FriendsEvent.Refresh) }) { Text("Refresh") }
                    TextButton(onClick = { onEvent(FriendsEvent.OpenAddDialog) }) { Text("Add") }
                },
            )
        },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            state.error?.let { error ->
                Text(
                    text = error,
                    color = MaterialTheme.colorScheme.error,
                    modifier = Modifier.fillMaxWidth().clickable { onEvent(FriendsEvent.DismissError) }.padding(16.dp),
                )
            }
            state.doorOpened?.let { text ->
                Text(
                    text = text,
                    color = Color(0xFF2E7D32),
                    modifier = Modifier.fillMaxWidth().clickable { onEvent(FriendsEvent.DismissDoorOpened) }.padding(16.dp),
                )
            }
            if (state.loading) {
                Text("Loading…", Modifier.padding(16.dp))
            } else {
                LazyColumn {
                    if (state.myRooms.isNotEmpty()) {
                        item { SectionTitle("My rooms") }
                        items(state.myRooms, key = { "room-" + it.id }) { room ->
                            MyRoomItem(room, onEvent)
                            HorizontalDivider()
                        }
                    }
                    item { SectionTitle("Friends") }
                    if (state.friends.isEmpty()) {
                        item { Text("No friends yet. Add one with their friend card or room link.", Modifier.padding(16.dp)) }
                    }
                    items(state.friends, key = { "friend-" + it.id }) { friend ->
                        FriendItem(friend, onEvent)
                        HorizontalDivider()
                    }
                }
            }
        }
    }
    if (state.addDialogOpen) AddFriendDialog(onEvent)
}

@Composable
private fun SectionTitle(text: String) {
    Text(
        text,
        style = MaterialTheme.typography.labelLarge,
        color = Color.Gray,
        modifier = Modifier.padding(start = 16.dp, top = 16.dp, end = 16.dp, bottom = 4.dp),
    )
}

@Composable
private fun MyRoomItem(room: MyRoomRow, onEvent: (FriendsEvent) -> Unit) {
    val open = room.doorOpen == true
    Row(
        modifier =
            Modifier
                .fillMaxWidth()
                .clickable { onEvent(FriendsEvent.EnterMyRoom(room)) }
                .padding(horizontal = 16.dp, vertical = 12.dp),
        verticalAlignment = Alignment.CenterVertically,
        horizontalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(if (open) "●" else "○", color = if (open) Color(0xFF2E7D32) else Color.Gray)
        Column(Modifier.weight(1f)) {
            Text(room.name, style = MaterialTheme.typography.titleMedium)
            Text(room.label(), style = MaterialTheme.typography.bodySmall, color = Color.Gray)
        }
        TextButton(onClick = { onEvent(FriendsEvent.ShareMyRoom(room)) }) { Text("Share") }
        TextButton(onClick = { onEvent(FriendsEvent.SetDoor(room.link, open = !open)) }, enabled = room.doorOpen != null) {
            Text(if (open) "Close door" else "Open door")
        }
    }
}

@Composable
private fun FriendItem(friend: FriendRow, onEvent: (FriendsEvent) -> Unit) {
    val open = friend.presence is Presence.Open
    Row(
        modifier =
            Modifier
                .fillMaxWidth()
                .clickable { onEvent(FriendsEvent.DropIn(friend)) }
                .padding(horizontal = 16.dp, vertical = 12.dp),
        verticalAlignment = Alignment.CenterVertically,
        horizontalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(if (open) "●" else "○", color = if (open) Color(0xFF2E7D32) else Color.Gray)
        Column(Modifier.weight(1f)) {
            Text(friend.name, style = MaterialTheme.typography.titleMedium)
            Text(friend.presence.label(), style = MaterialTheme.typography.bodySmall, color = Color.Gray)
        }
        TextButton(onClick = { onEvent(FriendsEvent.SetNotify(friend.id, !friend.notify)) }) {
            Text(if (friend.notify) "Notifying" else "Notify me")
        }
        TextButton(onClick = { onEvent(FriendsEvent.RemoveFriend(friend.id)) }) { Text("Remove") }
    }
}

private fun inside(people: Int, names: List<String>?): String {
    val count = if (people == 1) "1 person inside" else "$people people inside"
    return if (names.isNullOrEmpty()) count else "$count: ${names.joinToString(", ")}"
}

private fun MyRoomRow.label(): String =
    when (doorOpen) {
        null -> "…"
        true -> "Door open · " + inside(people, names)
        false -> if (people > 0) "Door closed · you can be inside unseen" else "Door closed"
    }

/** What a friend's row says about their door and who is inside. */
fun Presence.label(): String =
    when (this) {
        Presence.Checking -> "…"
        is Presence.Open -> "Door open · " + inside(people, names)
        Presence.Closed -> "Door closed"
        Presence.Gone -> "This room no longer exists"
        Presence.NotShared -> "They stopped sharing their door: ask for a new card"
        Presence.Unknown -> "Can't reach their server"
    }

@Composable
private fun AddFriendDialog(onEvent: (FriendsEvent) -> Unit) {
    var name by remember { mutableStateOf("") }
    var link by remember { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = { onEvent(FriendsEvent.CloseAddDialog) },
        title = { Text("Add a friend") },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                OutlinedTextField(value = name, onValueChange = { name = it }, label = { Text("Name") }, singleLine = true)
                OutlinedTextField(value = link, onValueChange = { link = it }, label = { Text("Room link or friend card") })
            }
        },
        confirmButton = {
            TextButton(onClick = { onEvent(FriendsEvent.AddFriend(name, link)) }, enabled = link.isNotBlank()) { Text("Add") }
        },
        dismissButton = { TextButton(onClick = { onEvent(FriendsEvent.CloseAddDialog) }) { Text("Cancel") } },
    )
}

@Preview
@Composable
private fun FriendsScreenPreview() {
    MaterialTheme {
        FriendsScreen(
            FriendsState(
                loading = false,
                friends =
                    listOf(
                        FriendRow(1, "Ada", "https://salon.example.org/r/a", Presence.Open(2, listOf("Ada", "Bo")), notify = true),
                        FriendRow(2, "Bob", "https://salon.example.org/r/b", Presence.Closed),
                        FriendRow(3, "Cy", "https://salon.example.org/r/c", Presence.Checking),
                    ),
                myRooms = listOf(MyRoomRow("m", "Kitchen", "https://salon.example.org/r/m", doorOpen = true, people = 1)),
            ),
            onEvent = {},
        )
    }
}
