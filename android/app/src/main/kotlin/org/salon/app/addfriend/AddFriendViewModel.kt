package org.salon.app.addfriend

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.salon.app.OpenedLink
import org.salon.app.openedLink
import org.salon.core.SalonError
import org.salon.core.SalonService

/** Everything the add-a-friend screen shows. */
data class AddFriendState(
    /** What was pasted (or scanned): a friend card, or a room link. */
    val text: String = "",
    /** Their name, asked only for a plain room link (a card carries it). */
    val name: String = "",
    val adding: Boolean = false,
    val error: String? = null,
    /** "Ada is now in your friends", after an add. */
    val added: String? = null,
    val myCard: MyCard = MyCard.Loading,
) {
    val pasted: Pasted get() = classify(text)

    val canAdd: Boolean
        get() =
            !adding &&
                when (pasted) {
                    Pasted.Card -> true
                    Pasted.RoomLink -> name.isNotBlank()
                    Pasted.Empty, Pasted.Other -> false
                }
}

/** What the pasted text is. */
enum class Pasted { Empty, Card, RoomLink, Other }

/** Reads pasted or scanned text the way links that open the app are read ([openedLink]). */
fun classify(text: String): Pasted {
    val trimmed = text.trim()
    if (trimmed.isEmpty()) return Pasted.Empty
    return when (openedLink(trimmed)) {
        is OpenedLink.Friend -> Pasted.Card
        is OpenedLink.Room -> Pasted.RoomLink
        null -> Pasted.Other
    }
}

/** My card, to show as a QR code or share. */
sealed interface MyCard {
    data object Loading : MyCard

    /** [card] for my room [roomName]; [qr] is the card as a QR code. */
    data class Ready(val card: String, val roomName: String, val qr: QrMatrix) : MyCard

    /** I have no room yet, so there is nothing to drop in on. */
    data object NoRoom : MyCard

    data class Failed(val message: String) : MyCard
}

sealed interface AddFriendEvent {
    data class TextChanged(val text: String) : AddFriendEvent

    data class NameChanged(val name: String) : AddFriendEvent

    data object Add : AddFriendEvent

    /** The camera read a QR code: a card is added at once. */
    data class Scanned(val text: String) : AddFriendEvent

    /** Share my card through the share sheet: handled by the platform. */
    data class Share(val card: String) : AddFriendEvent

    data object DismissError : AddFriendEvent

    /** Handled by navigation. */
    data object Back : AddFriendEvent
}

/**
 * Adds a friend from their card (pasted, opened as a link, or scanned from their QR code) or
 * from their room link and a name; and shows my own card (for my first room, with its presence
 * key) as a QR code and as text to share. [card] is a card the app was opened with: filled in,
 * added once I confirm.
 */
class AddFriendViewModel(
    private val salon: SalonService,
    private val myName: String,
    card: String? = null,
) : ViewModel() {
    private val mutableState = MutableStateFlow(AddFriendState(text = card.orEmpty()))
    val state: StateFlow<AddFriendState> = mutableState.asStateFlow()

    init {
        // A card the app was opened with is shown, and added only when I tap Add: any web page
        // can open a link, and a friend's server learns my address whenever I watch their door.
        loadMyCard()
    }

    fun onEvent(event: AddFriendEvent) {
        when (event) {
            is AddFriendEvent.TextChanged -> mutableState.update { it.copy(text = event.text, error = null, added = null) }
            is AddFriendEvent.NameChanged -> mutableState.update { it.copy(name = event.name, error = null) }
            AddFriendEvent.Add -> add()
            is AddFriendEvent.Scanned -> scanned(event.text)
            AddFriendEvent.DismissError -> mutableState.update { it.copy(error = null) }
            is AddFriendEvent.Share, AddFriendEvent.Back -> Unit
        }
    }

    private fun scanned(text: String) {
        if (classify(text) != Pasted.Card) {
            mutableState.update { it.copy(error = "This QR code is not a Salon friend card.") }
            return
        }
        mutableState.update { it.copy(text = text.trim(), error = null, added = null) }
        add()
    }

    private fun add() {
        val now = state.value
        if (now.adding) return
        val text = now.text.trim()
        val problem =
            when (now.pasted) {
                Pasted.Empty -> "Paste your friend's card or the link of their room."
                Pasted.Other -> "This is not a friend card or a room link. A card starts with salon:friend? or https://…/friend?"
                Pasted.RoomLink -> if (now.name.isBlank()) "This is a room link: enter your friend's name too." else null
                Pasted.Card -> null
            }
        if (problem != null) {
            mutableState.update { it.copy(error = problem) }
            return
        }
        mutableState.update { it.copy(adding = true, error = null, added = null) }
        viewModelScope.launch {
            try {
                val friend =
                    if (now.pasted == Pasted.Card) salon.addFriendFromCard(text) else salon.addFriend(now.name.trim(), text)
                mutableState.update { it.copy(adding = false, text = "", name = "", added = "${friend.name} is now in your friends") }
            } catch (e: SalonError) {
                mutableState.update { it.copy(adding = false, error = addErrorMessage(e)) }
            }
        }
    }

    private fun loadMyCard() {
        viewModelScope.launch {
            val card =
                try {
                    val room = salon.myRooms().firstOrNull()
                    if (room == null) {
                        MyCard.NoRoom
                    } else {
                        val text = salon.myFriendCard(myName, room.link)
                        MyCard.Ready(text, room.name ?: "My room", encodeQr(text))
                    }
                } catch (e: SalonError) {
                    MyCard.Failed("Your card could not be made: ${e.message}")
                }
            mutableState.update { it.copy(myCard = card) }
        }
    }
}

/** Why adding did not work, for people. */
fun addErrorMessage(e: SalonError): String =
    when (e) {
        is SalonError.DuplicateFriend -> "This friend is already in your list."
        is SalonError.InvalidLink -> "This card or link is damaged or not from Salon (${e.reason})."
        is SalonError.InvalidInput -> "Check the name and the link: ${e.reason}."
        is SalonError.Storage -> "Your friend list could not be saved. Try again."
        else -> "Could not add this friend: ${e.message}"
    }
