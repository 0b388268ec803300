package org.salon.app.addfriend

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.tooling.preview.Preview
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle

/**
 * The add-a-friend screen, wired to its ViewModel: [onShare] hands my card to the share sheet,
 * [onBack] leaves. [scanner] is the platform's QR scanner ([QrScan]), which sends what it reads as
 * [AddFriendEvent.Scanned].
 */
@Composable
fun AddFriendRoute(
    viewModel: AddFriendViewModel,
    onShare: (String) -> Unit,
    onBack: () -> Unit,
    scanner: @Composable () -> Unit = {},
) {
    val state by viewModel.state.collectAsStateWithLifecycle()
    AddFriendScreen(state, scanner = scanner) { event ->
        when (event) {
            is AddFriendEvent.Share -> onShare(event.card)
            AddFriendEvent.Back -> onBack()
            else -> viewModel.onEvent(event)
        }
    }
}

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun AddFriendScreen(state: AddFriendState, scanner: @Composable () -> Unit = {}, onEvent: (AddFriendEvent) -> Unit) {
    Scaffold(
        topBar = {
            TopAppBar(
                title = { Text("Add a friend") },
                navigationIcon = { TextButton(onClick = { onEvent(AddFriendEvent.Back) }) { Text("Back") } },
            )
        },
    ) { padding ->
        Column(
            Modifier.padding(padding).fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 16.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            Text("Their card", style = MaterialTheme.typography.titleMedium)
            Text(
                "Scan their QR code, open the card they sent you, or paste it here.",
                color = Color.Gray,
                style = MaterialTheme.typography.bodyMedium,
            )
            // The platform's camera scanner (nothing in previews and renders).
            scanner()
            OutlinedTextField(
                value = state.text,
                onValueChange = { onEvent(AddFriendEvent.TextChanged(it)) },
                label = { Text("Friend card or room link") },
                supportingText = {
                    when (state.pasted) {
                        Pasted.Card -> Text("A friend card: their name comes with it")
                        Pasted.RoomLink -> Text("A room link: say whose room it is")
                        Pasted.Empty, Pasted.Other -> Text("salon:friend?… or https://…/friend?…")
                    }
                },
                maxLines = 3,
                modifier = Modifier.fillMaxWidth(),
            )
            if (state.pasted == Pasted.RoomLink) {
                OutlinedTextField(
                    value = state.name,
                    onValueChange = { onEvent(AddFriendEvent.NameChanged(it)) },
                    label = { Text("Their name") },
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
            }
            state.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            state.added?.let { Text(it, color = Color(0xFF2E7D32)) }
            Button(onClick = { onEvent(AddFriendEvent.Add) }, enabled = state.canAdd, modifier = Modifier.fillMaxWidth()) {
                if (state.adding) {
                    CircularProgressIndicator(Modifier.size(18.dp), strokeWidth = 2.dp, color = MaterialTheme.colorScheme.onSurface)
                    Spacer(Modifier.width(12.dp))
                    Text("Adding…")
                } else {
                    Text("Add friend")
                }
            }
            HorizontalDivider(Modifier.padding(vertical = 8.dp))
            Text("My card", style = MaterialTheme.typography.titleMedium)
            when (val card = state.myCard) {
                MyCard.Loading -> Text("Making your card…", color = Color.Gray)
                MyCard.NoRoom -> Text("Create a room first: your card lets friends drop in on it.", color = Color.Gray)
                is MyCard.Failed -> Text(card.message, color = MaterialTheme.colorScheme.error)
                is MyCard.Ready -> {
                    Text(
                        "Let a friend scan this to add ${card.roomName}: they will see when your door is open.",
                        color = Color.Gray,
                        style = MaterialTheme.typography.bodyMedium,
                    )
                    QrCodeImage(
                        card.qr,
                        Modifier.size(240.dp).align(Alignment.CenterHorizontally),
                        contentDescription = "My friend card as a QR code",
                    )
                    OutlinedButton(onClick = { onEvent(AddFriendEvent.Share(card.card)) }, modifier = Modifier.fillMaxWidth()) {
                        Text("Share my card")
                    }
                }
            }
            Spacer(Modifier.size(8.dp))
        }
    }
}

@Preview
@Composable
private fun AddFriendScreenPreview() {
    val card = "salon:friend?v=1&name=Zo%C3%AB&room=https%3A%2F%2Fsalon.example.org%2Fr%2Fz"
    MaterialTheme {
        AddFriendScreen(AddFriendState(myCard = MyCard.Ready(card, "Kitchen", encodeQr(card))), onEvent = {})
    }
}
