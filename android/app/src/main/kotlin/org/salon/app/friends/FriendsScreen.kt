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

/** The friend list, wired to its ViewModel; drop-ins go to [onDropIn]. */
@Composable
fun FriendsRoute(viewModel: FriendsViewModel, onDropIn: (FriendRow) -> Unit) {
    val state by viewModel.state.collectAsStateWithLifecycle()
    // Whose room is open changes all the time: look again whenever the list comes into view.
    LifecycleResumeEffect(Unit) {
        viewModel.onEvent(FriendsEvent.Refresh)
        onPauseOrDispose { }
    }
    FriendsScreen(state) { event ->
        if (event is FriendsEvent.DropIn) onDropIn(event.friend) else viewModel.onEvent(event)
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun FriendsScreen(state: FriendsState, onEvent: (FriendsEvent) -> Unit) {
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("Friends") },
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
            when {
                state.loading -> Text("Loading…", Modifier.padding(16.dp))
                state.friends.isEmpty() -> Text("No friends yet. Add one with their room link or friend card.", Modifier.padding(16.dp))
                else ->
                    LazyColumn {
                        items(state.friends, key = { it.id }) { friend ->
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
        TextButton(onClick = { onEvent(FriendsEvent.RemoveFriend(friend.id)) }) { Text("Remove") }
    }
}

private fun Presence.label(): String =
    when (this) {
        Presence.Checking -> "…"
        is Presence.Open -> if (people == 1) "Open · 1 person" else "Open · $people people"
        Presence.Closed -> "Closed"
        Presence.Gone -> "This room no longer exists"
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
                        FriendRow(1, "Ada", "https://salon.example.org/r/a", Presence.Open(2)),
                        FriendRow(2, "Bob", "https://salon.example.org/r/b", Presence.Closed),
                        FriendRow(3, "Cy", "https://salon.example.org/r/c", Presence.Checking),
                    ),
            ),
            onEvent = {},
        )
    }
}
