package org.salon.app.friends

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import org.salon.core.DoorMode
import org.salon.core.Friend
import org.salon.core.FriendPresence
import org.salon.core.MyRoom
import org.salon.core.PresenceUpdate
import org.salon.core.SalonError
import org.salon.core.SalonService

/** Everything the rooms screen shows: my rooms with their doors, and my friends' rooms. */
data class FriendsState(
    val friends: List<FriendRow> = emptyList(),
    val myRooms: List<MyRoomRow> = emptyList(),
    val loading: Boolean = true,
    val addDialogOpen: Boolean = false,
    val error: String? = null,
    /** "Ada's door is open", until dismissed. */
    val doorOpened: String? = null,
)

data class FriendRow(
    val id: Long,
    val name: String,
    val roomLink: String,
    val presence: Presence,
    /** Tell me when their door opens. */
    val notify: Boolean = false,
)

/** One of my rooms and its door. */
data class MyRoomRow(
    val id: String,
    val name: String,
    val link: String,
    /** Null until the server answered. */
    val doorOpen: Boolean? = null,
    val people: Int = 0,
    val names: List<String>? = null,
)

/** Whether a friend's room is open to drop in on, and who is inside. */
sealed interface Presence {
    data object Checking : Presence

    /** The door is open; [names] when the owner shows them. */
    data class Open(val people: Int, val names: List<String>? = null) : Presence

    data object Closed : Presence

    /** The room no longer exists on its server. */
    data object Gone : Presence

    /** Their card's presence key no longer works (they made a new one or a new link). */
    data object NotShared : Presence

    /** The server could not be asked. */
    data object Unknown : Presence
}

/** Everything the user can do on the rooms screen. */
sealed interface FriendsEvent {
    data object Refresh : FriendsEvent

    data object OpenAddDialog : FriendsEvent

    data object CloseAddDialog : FriendsEvent

    /** [linkOrCard]: a room link, or a friend card (`salon:friend?…`) that carries the name too. */
    data class AddFriend(val name: String, val linkOrCard: String) : FriendsEvent

    data class RemoveFriend(val id: Long) : FriendsEvent

    /** Be told (or not) when this friend's door opens. */
    data class SetNotify(val id: Long, val notify: Boolean) : FriendsEvent

    /** Open or close the door of one of my rooms. */
    data class SetDoor(val link: String, val open: Boolean) : FriendsEvent

    /** Handled by navigation, not by the ViewModel. */
    data class DropIn(val friend: FriendRow) : FriendsEvent

    /** Handled by navigation: enter one of my rooms. */
    data class EnterMyRoom(val room: MyRoomRow) : FriendsEvent

    /** Send my room's invite link through another app (handled by the platform: share sheet). */
    data class ShareMyRoom(val room: MyRoomRow) : FriendsEvent

    data object DismissError : FriendsEvent

    data object DismissDoorOpened : FriendsEvent
}

/**
 * My rooms and my friends' rooms. Friends whose card carried a presence key are watched live
 * through [SalonService.presence] (one connection per server for the whole list); the others are
 * asked once per refresh with [SalonService.roomStatus]. "Door opened" events go to
 * [doorOpened] (the activity raises a local notification) and to a banner.
 */
class FriendsViewModel(private val salon: SalonService) : ViewModel() {
    private val mutableState = MutableStateFlow(FriendsState())
    val state: StateFlow<FriendsState> = mutableState.asStateFlow()
    private val mutableDoorOpened = MutableSharedFlow<String>(extraBufferCapacity = 8)

    /** "Ada's door is open", once per event (rate-limited per friend by the core). */
    val doorOpened: SharedFlow<String> = mutableDoorOpened.asSharedFlow()
    private var loading: Job? = null
    private var watching: Job? = null
    private var watched: Set<Long> = emptySet()

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
            is FriendsEvent.SetNotify -> change { salon.setFriendNotify(event.id, event.notify) }
            is FriendsEvent.SetDoor -> setDoor(event.link, event.open)
            is FriendsEvent.DropIn, is FriendsEvent.EnterMyRoom, is FriendsEvent.ShareMyRoom -> Unit
            FriendsEvent.DismissError -> mutableState.update { it.copy(error = null) }
            FriendsEvent.DismissDoorOpened -> mutableState.update { it.copy(doorOpened = null) }
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

    private fun setDoor(link: String, open: Boolean) {
        viewModelScope.launch {
            try {
                val door = salon.setDoor(link, if (open) DoorMode.Open else DoorMode.Closed)
                updateRoom(link) { it.copy(doorOpen = door.doorOpen, people = door.people) }
            } catch (e: SalonError) {
                mutableState.update { it.copy(error = e.message) }
            }
        }
    }

    private fun updateRoom(link: String, change: (MyRoomRow) -> MyRoomRow) =
        mutableState.update { state -> state.copy(myRooms = state.myRooms.map { if (it.link == link) change(it) else it }) }

    private fun updateFriend(id: Long, change: (FriendRow) -> FriendRow) =
        mutableState.update { state -> state.copy(friends = state.friends.map { if (it.id == id) change(it) else it }) }

    /** Reads my rooms and friends; watches the friends with a presence key, asks about the rest. */
    private fun reload() {
        loading?.cancel()
        loading =
            viewModelScope.launch {
                val (friends, rooms) =
                    try {
                        salon.friends() to salon.myRooms()
                    } catch (e: SalonError) {
                        mutableState.update { it.copy(loading = false, error = e.message) }
                        return@launch
                    }
                mutableState.update { state ->
                    val known = state.friends.associateBy { it.id }
                    val knownRooms = state.myRooms.associateBy { it.link }
                    state.copy(
                        loading = false,
                        friends = friends.map { it.toRow(known[it.id]?.presence ?: Presence.Checking) },
                        myRooms = rooms.map { knownRooms[it.link] ?: it.toRow() },
                    )
                }
                watch(friends.filter { it.hasPresence }.map { it.id }.toSet())
                for (room in rooms) {
                    launch {
                        try {
                            val peek = salon.peek(room.link)
                            updateRoom(room.link) { it.copy(doorOpen = peek.doorOpen, people = peek.people, names = peek.names) }
                        } catch (e: SalonError) {
                            updateRoom(room.link) { it.copy(doorOpen = null) }
                        }
                    }
                }
                for (friend in friends.filter { !it.hasPresence }) {
                    launch {
                        val presence = statusOf(friend.roomLink)
                        updateFriend(friend.id) { it.copy(presence = presence) }
                    }
                }
            }
    }

    /** (Re)starts the live watch when the set of friends with presence changed. */
    private fun watch(ids: Set<Long>) {
        if (ids == watched && watching?.isActive == true) return
        watching?.cancel()
        watched = ids
        if (ids.isEmpty()) return
        watching =
            viewModelScope.launch {
                try {
                    salon.presence().collect { update ->
                        when (update) {
                            is PresenceUpdate.Friends ->
                                for (p in update.friends) {
                                    if (p.friend.hasPresence) updateFriend(p.friend.id) { it.copy(presence = p.toPresence()) }
                                }
                            is PresenceUpdate.DoorOpened -> {
                                val text = "${update.friend.friend.name}'s door is open"
                                mutableState.update { it.copy(doorOpened = text) }
                                mutableDoorOpened.tryEmit(text)
                            }
                        }
                    }
                } catch (e: SalonError) {
                    mutableState.update { it.copy(error = e.message) }
                }
            }
    }

    private suspend fun statusOf(link: String): Presence =
        try {
            val status = salon.roomStatus(link)
            if (status.isOpen) Presence.Open(status.participants) else Presence.Closed
        } catch (e: SalonError.RoomNotFound) {
            Presence.Gone
        } catch (e: SalonError) {
            Presence.Unknown
        }

    private fun Friend.toRow(presence: Presence) = FriendRow(id, name, roomLink, presence, notify)

    private fun MyRoom.toRow() = MyRoomRow(id = id, name = name ?: "My room", link = link)
}

/** What a friend's row shows for their room's live presence. */
internal fun FriendPresence.toPresence(): Presence =
    when {
        // Not answered yet, or reconnecting: the watch reconnects by itself.
        !connected -> Presence.Checking
        !available -> Presence.NotShared
        doorOpen -> Presence.Open(people, names)
        else -> Presence.Closed
    }
