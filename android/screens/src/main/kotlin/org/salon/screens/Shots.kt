package org.salon.screens

import androidx.compose.runtime.Composable
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import org.salon.app.addfriend.AddFriendEvent
import org.salon.app.addfriend.AddFriendScreen
import org.salon.app.addfriend.AddFriendState
import org.salon.app.addfriend.AddFriendViewModel
import org.salon.app.addfriend.MyCard
import org.salon.app.call.CallEvent
import org.salon.app.call.CallScreen
import org.salon.app.call.CallState
import org.salon.app.call.CallStatus
import org.salon.app.call.CallViewModel
import org.salon.app.friends.FriendsScreen
import org.salon.app.friends.FriendsState
import org.salon.app.friends.FriendsViewModel
import org.salon.app.friends.Presence
import org.salon.app.permissions.Capture
import org.salon.app.permissions.PermissionNote
import org.salon.app.prejoin.CameraPlaceholder
import org.salon.app.prejoin.PreJoinEvent
import org.salon.app.prejoin.PreJoinScreen
import org.salon.app.prejoin.PreJoinState
import org.salon.app.prejoin.PreJoinViewModel
import org.salon.app.prejoin.RoomInfo
import org.salon.core.CallEvent as CoreEvent
import org.salon.core.ChatMessage
import org.salon.core.Connection
import org.salon.core.DoorMode
import org.salon.core.E2ee
import org.salon.core.EndReason
import org.salon.core.FakeCall
import org.salon.core.FakeSalonService
import org.salon.core.Knock
import org.salon.core.Participant
import org.salon.core.PresenceUpdate
import org.salon.core.RemoteFrame
import org.salon.core.Role
import org.salon.core.RoomState
import org.salon.core.RoomStatus
import org.salon.core.SalonError
import org.salon.core.screenVideoId

/** One screen in one state: [prepare] drives the real ViewModel over the fake service to it. */
class Shot(val name: String, val description: String, val prepare: suspend () -> @Composable () -> Unit)

private const val SERVER = "https://salon.example.org"

/** A well-formed invite link (22-character room id, as the server makes them). */
private fun roomLink(id: String) = "$SERVER/r/" + id.padEnd(22, 'x')

/** Work that outlives a screen (the call's leave): never waited for here. */
private val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

/** Waits until the ViewModel's state settles where [ok] says. */
private suspend fun <T> StateFlow<T>.await(what: String, ok: (T) -> Boolean): T =
    withTimeoutOrNull(10_000) { first(ok) } ?: error("timed out waiting for $what; state is $value")

/** ViewModels launch on the main dispatcher, as on Android. */
private suspend fun <T> onMain(block: suspend () -> T): T = withContext(Dispatchers.Main) { block() }

// --- Rooms ------------------------------------------------------------------------------------

private suspend fun friendsState(fill: suspend FakeSalonService.() -> Unit, ok: (FriendsState) -> Boolean): FriendsState {
    val salon = FakeSalonService().apply { fill() }
    val vm = onMain { FriendsViewModel(salon) }
    return vm.state.await("the rooms") { !it.loading && it.friends.none { f -> f.presence == Presence.Checking } && ok(it) }
}

private suspend fun FakeSalonService.fillRooms() {
    val kitchen = createRoom(SERVER, "Kitchen")
    statuses[kitchen.link] = RoomStatus(kitchen.id, "Kitchen", participants = 1, maxParticipants = 8, full = false)
    setDoor(kitchen.link, DoorMode.Open, showNames = true)
    val open = roomLink("ada")
    val closed = roomLink("bob")
    statuses[open] = RoomStatus("ada", "Ada's", participants = 2, maxParticipants = 8, full = false)
    statuses[closed] = RoomStatus("bob", null, participants = 0, maxParticipants = 8, full = false)
    val ada = addFriend("Ada", open)
    setFriendNotify(ada.id, true)
    addFriend("Bob", closed)
    addFriend("Cy", roomLink("cy"))
    val dee = addFriendFromCard(friendCard("Dee", roomLink("dee")) + "&presence=key")
    presenceUpdates.tryEmit(PresenceUpdate.Friends(listOf(presenceOf(dee, doorOpen = true, people = 3, names = listOf("Dee", "Eli", "Fay")))))
}

// --- Pre-join ---------------------------------------------------------------------------------

private suspend fun preJoin(
    name: String = "Zoë",
    known: Boolean = true,
    act: suspend (FakeSalonService, PreJoinViewModel) -> Unit = { _, _ -> },
    ok: (PreJoinState) -> Boolean = { true },
): PreJoinState {
    val salon = FakeSalonService()
    val link = roomLink("ada")
    if (known) salon.statuses[link] = RoomStatus("ada", "Ada's kitchen", participants = 2, maxParticipants = 8, full = false)
    val vm = onMain { PreJoinViewModel(salon, link, title = "Ada", savedName = name) }
    vm.state.await("the room's status") { it.room != RoomInfo.Checking }
    onMain { act(salon, vm) }
    return vm.state.await("the pre-join screen") { !it.joining && ok(it) }
}

@Composable
private fun PreJoin(state: PreJoinState) = PreJoinScreen(state, cameraPreview = { CameraPlaceholder(state.name) }) {}

// --- Add a friend -----------------------------------------------------------------------------

private suspend fun addFriend(
    withRoom: Boolean = true,
    act: (AddFriendViewModel) -> Unit = {},
    ok: (AddFriendState) -> Boolean = { true },
): AddFriendState {
    val salon = FakeSalonService()
    if (withRoom) salon.createRoom(SERVER, "Kitchen")
    val vm = onMain { AddFriendViewModel(salon, myName = "Zoë") }
    vm.state.await("my card") { it.myCard != MyCard.Loading }
    onMain { act(vm) }
    return vm.state.await("the add-a-friend screen") { !it.adding && ok(it) }
}

// --- Calls ------------------------------------------------------------------------------------

private val people =
    listOf("Ada", "Bob", "Cy", "Dee", "Eli", "Fay").map { name ->
        Participant(name.lowercase(), name, audioOn = true, videoOn = false, receivingAudio = true, receivingVideo = false, speaking = false)
    }

private fun room(
    count: Int,
    speakers: List<String> = emptyList(),
    muted: Set<String> = emptySet(),
    video: Set<String> = emptySet(),
    role: Role = Role.Guest,
    connection: Connection = Connection.Connected,
    knocks: List<Knock> = emptyList(),
    locked: Boolean = false,
    microphoneOn: Boolean = true,
    cameraOn: Boolean = false,
    e2ee: E2ee? = null,
) = RoomState(
    roomId = "ada",
    roomName = "Ada's kitchen",
    me = "me",
    participants =
        people.take(count).map {
            it.copy(speaking = it.id in speakers, audioOn = it.id !in muted, videoOn = it.id in video, receivingVideo = it.id in video)
        },
    connection = connection,
    role = role,
    speakers = speakers,
    knocks = knocks,
    locked = locked,
    microphoneOn = microphoneOn,
    cameraOn = cameraOn,
    e2ee = e2ee,
)

/** An encrypted call of four (me, Ada, Bob, Cy) whose keys could not be exchanged with Cy. */
private val safetyCode = E2ee("4821 0937 1165", keyHolders = 3, unverified = listOf("cy"))

/**
 * Joins with the real CallViewModel over a FakeCall, lets [act] drive the call (state, pictures,
 * events) and the screen's own events, and waits until the screen's state passes [ok].
 */
private suspend fun call(
    state: RoomState,
    act: suspend (FakeCall, CallViewModel, FakeSalonService) -> Unit = { _, _, _ -> },
    ok: (CallState) -> Boolean = { true },
): CallState {
    val salon = FakeSalonService()
    val link = roomLink("ada")
    salon.statuses[link] = RoomStatus("ada", "Ada's kitchen", participants = state.participants.size, maxParticipants = 8, full = false)
    val vm = onMain { CallViewModel(salon, link, "Zoë", appScope) }
    val joined = withTimeoutOrNull(10_000) { while (salon.calls.isEmpty()) delay(10); salon.calls.single() } ?: error("never joined")
    joined.emit(state)
    // The fake call starts connected and empty: wait for the state emitted here, not that one.
    vm.state.await("the call") { it.tiles.size == state.participants.size && it.status.matches(state.connection) }
    act(joined, vm, salon)
    return vm.state.await("the call screen") { ok(it) }
}

private fun CallStatus.matches(connection: Connection): Boolean =
    when (connection) {
        Connection.Connecting -> this == CallStatus.Joining
        is Connection.Waiting -> this == CallStatus.Waiting(connection.hostPresent)
        Connection.Connected -> this == CallStatus.Live
        is Connection.Reconnecting -> this == CallStatus.Reconnecting(connection.attempt)
        is Connection.Ended -> this is CallStatus.Ended
    }

/** Keeps sending [what] until [done]: the ViewModel's collectors start on their own time. */
private suspend fun until(done: () -> Boolean, what: () -> Unit) {
    withTimeoutOrNull(10_000) {
        while (!done()) {
            what()
            delay(20)
        }
    } ?: error("the call never showed it")
}

/** The picture a camera would send: the core's test pattern (frame 0, so always the same). */
private suspend fun showVideo(call: FakeCall, vm: CallViewModel, salon: FakeSalonService, id: String) =
    until({ vm.state.value.tiles.first { it.id == id }.picture != null }) {
        call.emitVideo(RemoteFrame(id, salon.testPatternFrame(320, 240, 0)))
    }

@Composable
private fun Call(state: CallState, hostMenuOpen: Boolean = false, safetyCodeOpen: Boolean = false, reactionsOpen: Boolean = false) =
    CallScreen(state, title = "Ada", hostMenuOpen = hostMenuOpen, safetyCodeOpen = safetyCodeOpen, reactionsOpen = reactionsOpen) {}

/** Raised hands: Cy first, then Ada (their places in the queue come from the core's numbers). */
private fun RoomState.withHands(myHand: Long? = null) =
    copy(participants = participants.map { it.copy(hand = mapOf("cy" to 4L, "ada" to 7L)[it.id]) }, myHand = myHand)

/** A chat of four messages, one sealed under a key from before a new link (unreadable here). */
private val chat =
    listOf(
        ChatMessage(1, "bob", "Bob", atMs = 1_764_460_800_000, text = null),
        ChatMessage(2, "ada", "Ada", atMs = 1_764_460_860_000, text = "Who's bringing the cake?"),
        ChatMessage(3, "me", "Zoë", atMs = 1_764_460_920_000, text = "Me! Chocolate, as always."),
        ChatMessage(4, "ada", "Ada", atMs = 1_764_460_980_000, text = "<b>Perfect</b> — see https://example.org/cake"),
    )

private val knocks = listOf(Knock("k1", "Gus", deniedBefore = 0), Knock("k2", "Hal", deniedBefore = 1))

/** Every screen in every state worth seeing, in gallery order. */
val shots: List<Shot> =
    listOf(
        Shot("friends", "Rooms: my room with its door open, friends whose room is open (one live, with names), closed and gone") {
            val state = friendsState({ fillRooms() }) { it.friends.size == 4 && it.myRooms.all { r -> r.doorOpen != null } }
            ({ FriendsScreen(state) {} })
        },
        Shot("friends-empty", "Rooms: no room of my own and no friends yet") {
            val state = friendsState({}) { true }
            ({ FriendsScreen(state) {} })
        },
        Shot("prejoin", "Pre-join: the room and who is inside, my remembered name, camera preview, camera and microphone on") {
            val state = preJoin()
            ({ PreJoin(state) })
        },
        Shot("prejoin-camera-refused", "Pre-join: the camera permission was refused for good, with the way to the settings") {
            val note = PermissionNote(setOf(Capture.Camera), settingsNeeded = true)
            val state = preJoin(act = { _, vm -> vm.onEvent(PreJoinEvent.PermissionChanged(note)) }) { it.permission != null }
            ({ PreJoin(state) })
        },
        Shot("prejoin-joining", "Pre-join: Join pressed, waiting for the room (camera off, microphone on)") {
            val state = preJoin(act = { _, vm -> vm.onEvent(PreJoinEvent.ToggleCamera) }) { !it.cameraOn }.copy(joining = true)
            ({ PreJoin(state) })
        },
        Shot("prejoin-removed", "Pre-join: joining failed because a host removed me from this room") {
            val state =
                preJoin(act = { salon, vm ->
                    salon.failNext = SalonError.Removed()
                    vm.onEvent(PreJoinEvent.Join)
                }) { it.error != null }
            ({ PreJoin(state) })
        },
        Shot("prejoin-e2ee-no-key", "Pre-join: the link lost its key (the part after #), so the encrypted room refuses it") {
            val state =
                preJoin(act = { salon, vm ->
                    salon.failNext = SalonError.E2ee("This link is missing its key (the part after #). Ask for the whole link.")
                    vm.onEvent(PreJoinEvent.Join)
                }) { it.error != null }
            ({ PreJoin(state) })
        },
        Shot("prejoin-gone", "Pre-join: the room no longer exists, and no name entered yet") {
            val state = preJoin(name = "", known = false)
            ({ PreJoin(state) })
        },
        Shot("addfriend", "Add a friend: the paste field, and my card as a QR code to scan, with Share") {
            val state = addFriend()
            ({ AddFriendScreen(state) {} })
        },
        Shot("addfriend-room-link", "Add a friend: a room link pasted, so their name is asked") {
            val state =
                addFriend(act = { vm ->
                    vm.onEvent(AddFriendEvent.TextChanged(roomLink("ada")))
                    vm.onEvent(AddFriendEvent.NameChanged("Ada"))
                }) { it.name == "Ada" }
            ({ AddFriendScreen(state) {} })
        },
        Shot("addfriend-error", "Add a friend: what was pasted is neither a card nor a room link") {
            val state =
                addFriend(act = { vm ->
                    vm.onEvent(AddFriendEvent.TextChanged("see you at 8"))
                    vm.onEvent(AddFriendEvent.Add)
                }) { it.error != null }
            ({ AddFriendScreen(state) {} })
        },
        Shot("addfriend-added", "Add a friend: a scanned card added Bob; I have no room yet, so no card of mine") {
            val card = "salon:friend?v=1&name=Bob&room=" + java.net.URLEncoder.encode(roomLink("bob"), "UTF-8")
            val state = addFriend(withRoom = false, act = { vm -> vm.onEvent(AddFriendEvent.Scanned(card)) }) { it.added != null }
            ({ AddFriendScreen(state) {} })
        },
        Shot("call-1", "Call: alone with Ada, who speaks; her tile fills the screen (the calls below are in a room made before encryption: the muted chip)") {
            val state = call(room(1, speakers = listOf("ada")))
            ({ Call(state) })
        },
        Shot("call-2", "Call: Ada (video, loudest speaker) and Bob (muted)") {
            val state =
                call(room(2, speakers = listOf("ada"), muted = setOf("bob"), video = setOf("ada")), act = { c, vm, s -> showVideo(c, vm, s, "ada") })
            ({ Call(state) })
        },
        Shot("call-6", "Call: six people in the grid, two speaking, one muted") {
            val state = call(room(6, speakers = listOf("bob", "eli"), muted = setOf("cy")))
            ({ Call(state) })
        },
        Shot("call-e2ee", "Call, end-to-end encrypted: the safety code in the lock chip; Cy's keys could not be checked (broken lock)") {
            val state = call(room(3, speakers = listOf("ada"), e2ee = safetyCode)) { it.e2ee != null }
            ({ Call(state) })
        },
        Shot("call-e2ee-code", "Call, end-to-end encrypted: the chip tapped, the safety code to read aloud") {
            val state = call(room(3, speakers = listOf("ada"), e2ee = safetyCode)) { it.e2ee != null }
            ({ Call(state, safetyCodeOpen = true) })
        },
        Shot("call-pinned", "Call: six people, Dee pinned big above the others") {
            val state =
                call(room(6, speakers = listOf("dee")), act = { _, vm, _ -> onMain { vm.onEvent(CallEvent.Pin("dee")) } }) { it.pinned == "dee" }
            ({ Call(state) })
        },
        Shot("call-share", "Call as the owner: Bob presents his screen, large with his name, Presenting and Stop sharing; everyone's tile below") {
            val sharing = room(3, role = Role.Owner).let { r -> r.copy(participants = r.participants.map { it.copy(screen = it.id == "bob") }) }
            val state =
                call(sharing, act = { c, vm, s ->
                    until({ vm.state.value.share?.picture != null }) {
                        c.emitVideo(RemoteFrame(screenVideoId("bob"), s.testPatternFrame(640, 360, 0)))
                    }
                }) { it.share?.picture != null }
            ({ Call(state) })
        },
        Shot("call-host-knocks", "Call as the owner of a locked room: two people knocking, a menu on each tile") {
            val state = call(room(3, role = Role.Owner, knocks = knocks, locked = true)) { it.knocks.size == 2 }
            ({ Call(state) })
        },
        Shot("call-host-menu", "Call as the owner: the host menu (lock, panic, new link, end for everyone)") {
            val state = call(room(3, role = Role.Owner, knocks = knocks, locked = true)) { it.knocks.size == 2 }
            ({ Call(state, hostMenuOpen = true) })
        },
        Shot("call-notice", "Call: a host asks me to mute (a notice to dismiss)") {
            val state =
                call(room(2), act = { c, vm, _ -> until({ vm.state.value.notice != null }) { c.emitEvent(CoreEvent.MuteRequested("Ada")) } })
            ({ Call(state) })
        },
        Shot("call-reactions", "Call: the reactions open, Ada's reaction floating over her tile, Cy's and Ada's hands up, two unread messages") {
            val state =
                call(
                    room(3, speakers = listOf("ada")).withHands().copy(chat = chat.take(2)),
                    act = { c, vm, _ -> until({ vm.state.value.tiles.any { it.reaction != null } }) { c.emitEvent(CoreEvent.Reaction("ada", "❤️")) } },
                ) { it.unread == 2 && it.tiles.any { t -> t.hand != null } }
            ({ Call(state, reactionsOpen = true) })
        },
        Shot("call-hands-host", "Call as the owner: the raised hands in queue order (mine among them), each to lower, and Lower all") {
            val state = call(room(3, role = Role.Owner).withHands(myHand = 5)) { it.hands.size == 3 }
            ({ Call(state) })
        },
        Shot("call-chat", "Call: the chat open, a message that can't be read with this link, my own, markup shown as text; the owner can clear it") {
            val state =
                call(
                    room(2, role = Role.Owner).copy(chat = chat),
                    act = { _, vm, _ ->
                        onMain {
                            vm.onEvent(CallEvent.OpenChat)
                            vm.onEvent(CallEvent.ChatDraft("See you at 8"))
                        }
                    },
                ) { it.chatOpen && it.chat.size == 4 }
            ({ Call(state) })
        },
        Shot("call-chat-paused", "Call as a guest during panic: the chat is paused by a host") {
            val state =
                call(room(2).copy(panic = true, chat = chat.take(2)), act = { _, vm, _ -> onMain { vm.onEvent(CallEvent.OpenChat) } }) {
                    it.chatOpen && it.chatPaused
                }
            ({ Call(state) })
        },
        Shot("call-reconnecting", "Call: the connection dropped, reconnecting") {
            val state = call(room(2, connection = Connection.Reconnecting(2)))
            ({ Call(state) })
        },
        Shot("call-lobby", "Lobby: waiting for a host of a locked room to let me in; no host inside") {
            val state = call(room(0, connection = Connection.Waiting(hostPresent = false)))
            ({ Call(state) })
        },
        Shot("call-removed", "Ended: a host removed me from the room") {
            val state = call(room(0, connection = Connection.Ended(EndReason.Removed)))
            ({ Call(state) })
        },
        Shot("call-denied", "Ended: the host did not let me in from the lobby") {
            val state = call(room(0, connection = Connection.Ended(EndReason.KnockDenied)))
            ({ Call(state) })
        },
        Shot("call-room-ended", "Ended: the host ended the call for everyone") {
            val state = call(room(0, connection = Connection.Ended(EndReason.RoomEnded)))
            ({ Call(state) })
        },
    )
