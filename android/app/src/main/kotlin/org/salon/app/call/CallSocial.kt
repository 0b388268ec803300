package org.salon.app.call

import androidx.compose.animation.core.Animatable
import androidx.compose.animation.core.LinearEasing
import androidx.compose.animation.core.tween
import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.PaddingValues
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.offset
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.shape.RoundedCornerShape
import androidx.compose.material3.Button
import androidx.compose.material3.FilledTonalButton
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.alpha
import androidx.compose.ui.draw.clip
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.semantics.contentDescription
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.font.FontStyle
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import org.salon.core.MAX_CHAT_CHARS

// The call screen's reactions, raised hands and chat (issue 14). Text from people is shown as
// plain text only: Compose's Text never interprets markup or links.

/** What stands in for a message this link cannot open. */
const val CANT_READ = "Can't be read with this link"

/** What a guest sees instead of the chat field during panic. */
const val CHAT_PAUSED = "Chat is paused by a host"

/**
 * "React" (opening the eight reactions above), my hand ("Raise hand" / "Lower hand", filled while
 * up) and "Chat" with the number of unread messages; my own reaction floats beside them (I have
 * no tile). [reactionsOpen] opens the reactions from the start (screenshots).
 */
@Composable
internal fun SocialControls(state: CallState, enabled: Boolean, reactionsOpen: Boolean, onEvent: (CallEvent) -> Unit) {
    var picking by remember { mutableStateOf(reactionsOpen) }
    val mayReact = enabled && !state.chatPaused
    if (picking && mayReact) {
        ReactionPicker(state.reactions) { emoji ->
            picking = false
            onEvent(CallEvent.React(emoji))
        }
    }
    Row(
        Modifier.fillMaxWidth(),
        horizontalArrangement = Arrangement.spacedBy(8.dp, Alignment.CenterHorizontally),
        verticalAlignment = Alignment.CenterVertically,
    ) {
        Box(contentAlignment = Alignment.Center) {
            OutlinedButton(onClick = { picking = !picking }, enabled = mayReact, contentPadding = compact) { Text("React") }
            state.myReaction?.let { FloatingReaction(it, Modifier.offset(y = (-28).dp)) }
        }
        if (state.handRaised) {
            FilledTonalButton(onClick = { onEvent(CallEvent.ToggleHand) }, enabled = enabled, contentPadding = compact) { Text("Lower hand") }
        } else {
            OutlinedButton(onClick = { onEvent(CallEvent.ToggleHand) }, enabled = enabled, contentPadding = compact) { Text("Raise hand") }
        }
        val chatLabel = if (state.unread > 0) "Chat (${state.unread})" else "Chat"
        if (state.chatOpen) {
            FilledTonalButton(onClick = { onEvent(CallEvent.CloseChat) }, contentPadding = compact) { Text(chatLabel) }
        } else {
            OutlinedButton(
                onClick = { onEvent(CallEvent.OpenChat) },
                contentPadding = compact,
                modifier = Modifier.semantics { contentDescription = if (state.unread > 0) "Chat, ${state.unread} unread" else "Chat" },
            ) { Text(chatLabel) }
        }
    }
}

/** Three buttons side by side on a phone: less padding than Material's 24 dp a side. */
private val compact = PaddingValues(horizontal = 14.dp, vertical = 8.dp)

/** The eight reactions in a row; picking one sends it. */
@Composable
private fun ReactionPicker(reactions: List<String>, onPick: (String) -> Unit) {
    Surface(shape = RoundedCornerShape(24.dp), color = MaterialTheme.colorScheme.surfaceVariant, modifier = Modifier.fillMaxWidth()) {
        Row(Modifier.padding(horizontal = 4.dp), horizontalArrangement = Arrangement.SpaceEvenly) {
            for (emoji in reactions) {
                TextButton(onClick = { onPick(emoji) }, contentPadding = PaddingValues(0.dp), modifier = Modifier.size(40.dp)) {
                    Text(emoji, fontSize = 22.sp)
                }
            }
        }
    }
}

/** A reaction rising and fading for [CallViewModel.REACTION_MS]; a new one starts again. */
@Composable
internal fun FloatingReaction(reaction: Floating, modifier: Modifier = Modifier, color: Color = Color.Unspecified) {
    val rise = remember(reaction) { Animatable(0f) }
    LaunchedEffect(reaction) { rise.animateTo(1f, tween(CallViewModel.REACTION_MS.toInt(), easing = LinearEasing)) }
    Text(
        reaction.emoji,
        modifier.offset(y = (-40 * rise.value).dp).alpha(1f - 0.8f * rise.value),
        color = color,
        fontSize = 40.sp,
    )
}

/** On the tile of someone whose hand is up: "Hand" and their place in the queue. */
@Composable
internal fun HandBadge(position: Int, modifier: Modifier = Modifier) {
    Text(
        "Hand $position",
        modifier
            .clip(RoundedCornerShape(10.dp))
            .background(Color(0xFFFFB300))
            .padding(horizontal = 8.dp, vertical = 2.dp)
            .semantics { contentDescription = "Hand raised, number $position in the queue" },
        color = Color.Black,
        style = MaterialTheme.typography.labelLarge,
    )
}

/** (Hosts) the raised hands in the order they went up, each to lower, and "Lower all". */
@Composable
internal fun HandsQueue(hands: List<RaisedHand>, onEvent: (CallEvent) -> Unit) {
    Column(Modifier.fillMaxWidth().padding(horizontal = 16.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text("Raised hands", Modifier.weight(1f), style = MaterialTheme.typography.titleSmall)
            TextButton(onClick = { onEvent(CallEvent.LowerAllHands) }) { Text("Lower all") }
        }
        for (hand in hands) {
            Row(verticalAlignment = Alignment.CenterVertically) {
                Text("${hand.position}. ${hand.name}", Modifier.weight(1f))
                TextButton(onClick = { onEvent(if (hand.mine) CallEvent.ToggleHand else CallEvent.LowerHand(hand.participantId)) }) {
                    Text("Lower")
                }
            }
        }
    }
}

/**
 * The chat: messages oldest first with the newest at the bottom, each with its sender's name and
 * its text as plain text ([CANT_READ] for one this link cannot open); the field (at most
 * [MAX_CHAT_CHARS]) and Send, or [CHAT_PAUSED] for a guest during panic; the owner's "Clear chat".
 */
@Composable
internal fun ChatPanel(state: CallState, onEvent: (CallEvent) -> Unit, modifier: Modifier = Modifier) {
    Column(modifier.padding(horizontal = 16.dp)) {
        Row(verticalAlignment = Alignment.CenterVertically) {
            Text("Chat", Modifier.weight(1f), style = MaterialTheme.typography.titleMedium)
            if (state.canClearChat && state.chat.isNotEmpty()) {
                TextButton(onClick = { onEvent(CallEvent.ClearChat) }) { Text("Clear chat") }
            }
            TextButton(onClick = { onEvent(CallEvent.CloseChat) }) { Text("Close") }
        }
        HorizontalDivider()
        if (state.chat.isEmpty()) {
            Box(Modifier.weight(1f).fillMaxWidth(), contentAlignment = Alignment.Center) {
                Text("No messages yet.", color = Color.Gray)
            }
        } else {
            // Reversed: the newest sits at the bottom and stays in view as messages arrive.
            LazyColumn(
                Modifier.weight(1f).fillMaxWidth(),
                reverseLayout = true,
                contentPadding = PaddingValues(vertical = 8.dp),
                verticalArrangement = Arrangement.spacedBy(8.dp, Alignment.Bottom),
            ) {
                items(state.chat.asReversed(), key = { it.id }) { line -> ChatMessageRow(line) }
            }
        }
        HorizontalDivider()
        if (state.chatPaused) {
            Text(CHAT_PAUSED, Modifier.padding(vertical = 16.dp), color = Color.Gray)
        } else {
            Row(Modifier.padding(vertical = 8.dp), verticalAlignment = Alignment.CenterVertically) {
                OutlinedTextField(
                    value = state.chatDraft,
                    onValueChange = { onEvent(CallEvent.ChatDraft(it)) },
                    modifier = Modifier.weight(1f),
                    placeholder = { Text("Message") },
                    maxLines = 4,
                    supportingText =
                        if (state.chatDraft.length > MAX_CHAT_CHARS - 100) {
                            { Text("${state.chatDraft.length} / $MAX_CHAT_CHARS") }
                        } else {
                            null
                        },
                )
                Button(
                    onClick = { onEvent(CallEvent.SendChat) },
                    enabled = state.chatDraft.isNotBlank() && state.status == CallStatus.Live,
                    modifier = Modifier.padding(start = 8.dp),
                ) { Text("Send") }
            }
        }
    }
}

/** One message: who sent it, then what they wrote. */
@Composable
private fun ChatMessageRow(line: ChatLine) {
    Column(Modifier.fillMaxWidth()) {
        Text(
            line.name,
            style = MaterialTheme.typography.labelMedium,
            fontWeight = FontWeight.Bold,
            color = if (line.mine) MaterialTheme.colorScheme.primary else Color.Unspecified,
        )
        val text = line.text
        if (text != null) {
            Text(text, style = MaterialTheme.typography.bodyMedium)
        } else {
            Text(CANT_READ, style = MaterialTheme.typography.bodyMedium, fontStyle = FontStyle.Italic, color = Color.Gray)
        }
    }
}
