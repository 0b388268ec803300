package org.salon.app.friends

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.salon.core.Friend
import org.salon.core.SalonError
import org.salon.core.SalonService

/** Everything the friend list shows. */
data class FriendsState(
    val friends: List<FriendRow> = emptyList(),
    val loading: Boolean = true,
    val addDialogOpen: Boolean = false,
    val error: String? = null,
)

data class FriendRow(val id: Long, val name: String, val roomLink: String, val presence: Presence)

/** Whether a friend's room is open, i.e. whether someone is in it to drop in on. */
sealed interface Presence {
    data object Checking : Presence

    data class Open(val people: Int) : Presence

    data object Closed : Presence

    /** The room no longer exists on its server. */
    data object Gone : Presence

    /** The server could not be asked. */
    data object Unknown : Presence
}

/** Everything the user can do on the friend list. */
sealed interface FriendsEvent {
    data object Refresh : FriendsEvent

    data object OpenAddDialog : FriendsEvent

    data object CloseAddDialog : FriendsEvent

    /** [linkOrCard]: a room link, or a friend card (`salon:friend?…`) that carries the name too. */
    data class AddFriend(val name: String, val linkOrCard: String) : FriendsEvent

    data class RemoveFriend(val id: Long) : FriendsEvent

    /** Handled by navigation, not by the ViewModel. */
    data class DropIn(val friend: FriendRow) : FriendsEvent

    data object DismissError : FriendsEvent
}

class FriendsViewModel(private val salon: SalonService) : ViewModel() {
    private val mutableState = MutableStateFlow(FriendsState())
    val state: StateFlow<FriendsState> = mutableState.asStateFlow()
    private var loading: Job? = null

    init {
        reload()
    }

    fun onEvent(event: FriendsEvent) {
        when (event) {
            FriendsEvent.Refresh -> reload()
            FriendsEvent.OpenAddDialog -> mutableState.update { it.copy(addDialogOpen = true) }
            FriendsEvent.CloseAddDialog -> mutableState.update { it.copy(addDialogOpen = false) }
            is FriendsEvent.AddFriend -> change { add(event.name.trim(), event.linkOrCard.trim()) }
            is FriendsEvent.RemoveFriend -> change { salon.removeFriend(event.id) }
            is FriendsEvent.DropIn -> Unit
            FriendsEvent.DismissError -> mutableState.update { it.copy(error = null) }
        }
    }

    private suspend fun add(name: String, linkOrCard: String) {
        val isCard = linkOrCard.startsWith("salon:") || linkOrCard.contains("/friend?")
        if (isCard) salon.addFriendFromCard(linkOrCard) else salon.addFriend(name, linkOrCard)
        mutableState.update { it.copy(addDialogOpen = false) }
    }

    /** Runs a change to the list, then shows the list again; a refusal becomes an error line. */
    private fun change(block: suspend () -> Unit) {
        viewModelScope.launch {
            try {
                block()
                reload()
            } catch (e: SalonError) {
                mutableState.update { it.copy(error = e.message) }
            }
        }
    }

    /** Reads the list, then asks each friend's server, all at once, whether their room is open. */
    private fun reload() {
        loading?.cancel()
        loading =
            viewModelScope.launch {
                val friends =
                    try {
                        salon.friends()
                    } catch (e: SalonError) {
                        mutableState.update { it.copy(loading = false, error = e.message) }
                        return@launch
                    }
                mutableState.update { state ->
                    val known = state.friends.associateBy { it.id }
                    state.copy(loading = false, friends = friends.map { it.toRow(known[it.id]?.presence ?: Presence.Checking) })
                }
                for (friend in friends) {
                    launch {
                        val presence = presenceOf(friend.roomLink)
                        mutableState.update { state ->
                            state.copy(friends = state.friends.map { if (it.id == friend.id) it.copy(presence = presence) else it })
                        }
                    }
                }
            }
    }

    private suspend fun presenceOf(link: String): Presence =
        try {
            val status = salon.roomStatus(link)
            if (status.isOpen) Presence.Open(status.participants) else Presence.Closed
        } catch (e: SalonError.RoomNotFound) {
            Presence.Gone
        } catch (e: SalonError) {
            Presence.Unknown
        }

    private fun Friend.toRow(presence: Presence) = FriendRow(id, name, roomLink, presence)
}
