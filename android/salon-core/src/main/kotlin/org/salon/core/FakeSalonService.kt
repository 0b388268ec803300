package org.salon.core

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/**
 * An in-memory [SalonService] for UI tests and previews: friends and rooms live in maps, room
 * status is whatever the test sets in [statuses], and [join] hands out a [FakeCall] the test
 * drives. It follows the real service's rules where a UI can tell (a duplicate room link is
 * [SalonError.DuplicateFriend], an unknown room is [SalonError.RoomNotFound]).
 */
class FakeSalonService(
    override val coreVersion: String = "0.0.0-fake",
) : SalonService {
    private val lock = Any()
    private val friendsById = linkedMapOf<Long, Friend>()
    private val rooms = linkedMapOf<String, MyRoom>()
    private var nextId = 1L

    /** Room status by link; a link missing here is [SalonError.RoomNotFound]. */
    val statuses: MutableMap<String, RoomStatus> = java.util.concurrent.ConcurrentHashMap()

    /** If set, the next call to the service throws it (then it is cleared). */
    @Volatile
    var failNext: SalonError? = null

    /** Every call joined so far, newest last. */
    val calls: MutableList<FakeCall> = java.util.concurrent.CopyOnWriteArrayList()

    /** The door of each of my rooms, by link, as [setDoor] left it. */
    val doors: MutableMap<String, DoorState> = java.util.concurrent.ConcurrentHashMap()

    /**
     * What [presence] collectors get: the test emits [PresenceUpdate]s here (e.g. with
     * [presenceOf]), as the core would after a change on a friend's server.
     */
    val presenceUpdates = MutableSharedFlow<PresenceUpdate>(replay = 1, extraBufferCapacity = 64)

    /** How many [presence] collections are running (the real service holds one connection each). */
    @Volatile
    var presenceWatchers: Int = 0
        private set

    /** A presence snapshot for [friend], for tests to emit. */
    fun presenceOf(
        friend: Friend,
        doorOpen: Boolean,
        people: Int = 0,
        names: List<String>? = null,
        available: Boolean = true,
    ) = FriendPresence(friend, available, connected = true, doorOpen = doorOpen, until = null, people = people, names = names)

    private fun <T> op(block: () -> T): T {
        failNext?.let {
            failNext = null
            throw it
        }
        return synchronized(lock) { block() }
    }

    override suspend fun friends(): List<Friend> = op { friendsById.values.toList() }

    override suspend fun addFriend(name: String, roomLink: String, notes: String): Friend =
        op {
            if (friendsById.values.any { it.roomLink == roomLink }) throw SalonError.DuplicateFriend()
            Friend(nextId++, name, roomLink, notes, addedAt = 0).also { friendsById[it.id] = it }
        }

    override suspend fun addFriendFromCard(card: String): Friend {
        val query = card.substringAfter('?', "").split('&').associate { it.substringBefore('=') to it.substringAfter('=') }
        val name = query["name"]?.let { java.net.URLDecoder.decode(it, "UTF-8") }
        val room = query["room"]?.let { java.net.URLDecoder.decode(it, "UTF-8") }
        if (name == null || room == null) throw SalonError.InvalidLink("not a friend card")
        val friend = addFriend(name, room)
        if (query["presence"] == null) return friend
        return op { friend.copy(hasPresence = true).also { friendsById[it.id] = it } }
    }

    override suspend fun renameFriend(id: Long, name: String) =
        op { friendsById[id] = friendsById[id]?.copy(name = name) ?: throw SalonError.NotFound() }

    override suspend fun setFriendNotes(id: Long, notes: String) =
        op { friendsById[id] = friendsById[id]?.copy(notes = notes) ?: throw SalonError.NotFound() }

    override suspend fun removeFriend(id: Long): Boolean = op { friendsById.remove(id) != null }

    override suspend fun friendCard(myName: String, roomLink: String): String =
        op {
            val enc = { s: String -> java.net.URLEncoder.encode(s, "UTF-8") }
            "${roomLink.substringBefore("/r/")}/friend?v=1&name=${enc(myName)}&room=${enc(roomLink)}"
        }

    override suspend fun myFriendCard(myName: String, roomLink: String): String {
        op { if (rooms.values.none { it.link == roomLink }) throw SalonError.NotAllowed("not one of my rooms") }
        return friendCard(myName, roomLink) + "&presence=fake-presence-key"
    }

    override suspend fun rotatePresenceKey(roomLink: String) =
        op { if (rooms.values.none { it.link == roomLink }) throw SalonError.NotAllowed("not one of my rooms") }

    override suspend fun setDoor(roomLink: String, mode: DoorMode, until: Long?, showNames: Boolean?): DoorState =
        op {
            if (rooms.values.none { it.link == roomLink }) throw SalonError.NotAllowed("not one of my rooms")
            val before = doors[roomLink]
            val people = statuses[roomLink]?.participants ?: 0
            DoorState(
                mode = mode,
                until = until,
                showNames = showNames ?: before?.showNames ?: false,
                doorOpen = mode == DoorMode.Open,
                people = people,
            ).also { doors[roomLink] = it }
        }

    override suspend fun peek(link: String): Peek =
        op {
            val status = statuses[link] ?: throw SalonError.RoomNotFound()
            val door = doors[link]
            Peek(status.id, status.name, door?.doorOpen ?: false, status.participants, names = null, full = status.full, locked = false)
        }

    override suspend fun setFriendNotify(id: Long, notify: Boolean) =
        op { friendsById[id] = friendsById[id]?.copy(notify = notify) ?: throw SalonError.NotFound() }

    override fun presence(doorOpenedEverySeconds: Int): Flow<PresenceUpdate> =
        kotlinx.coroutines.flow.flow {
            synchronized(lock) { presenceWatchers++ }
            try {
                presenceUpdates.collect { emit(it) }
            } finally {
                synchronized(lock) { presenceWatchers-- }
            }
        }

    override suspend fun joinFriend(friendId: Long, options: JoinOptions): Call {
        val friend = op { friendsById[friendId] ?: throw SalonError.NotFound() }
        return join(friend.roomLink, options)
    }

    override suspend fun createRoom(server: String, name: String?): MyRoom =
        op {
            val id = "fake-room-${nextId++}"
            val room = MyRoom(id, "$server/r/$id", hostKey = "fake-key", name = name, createdAt = 0)
            rooms[id] = room
            statuses[room.link] = RoomStatus(id, name, participants = 0, maxParticipants = 8, full = false)
            room
        }

    override suspend fun myRooms(): List<MyRoom> = op { rooms.values.toList() }

    override suspend fun forgetMyRoom(id: String): Boolean = op { rooms.remove(id) != null }

    override suspend fun roomStatus(link: String): RoomStatus = op { statuses[link] ?: throw SalonError.RoomNotFound() }

    override suspend fun join(link: String, options: JoinOptions): Call {
        val status = roomStatus(link)
        val call =
            FakeCall(
                RoomState(status.id, status.name, me = "me", participants = emptyList(), connection = Connection.Connected),
                options,
            )
        calls += call
        return call
    }

    override fun testPatternFrame(width: Int, height: Int, index: Long): I420Frame {
        val luma = width * height
        val data = ByteArray(luma * 3 / 2) { i -> if (i < luma) ((i + index) % 256).toByte() else 128.toByte() }
        return I420Frame(width, height, data, index * 33_333)
    }

    override val reactions: List<String> = FAKE_REACTIONS

    override fun close() = Unit
}

/** The core's eight reactions, in its order. */
internal val FAKE_REACTIONS = listOf("👍", "❤️", "😂", "😮", "👏", "🎉", "🙌", "🔥")

/**
 * A [Call] driven by the test: [emit] a state, [emitVideo] a frame, [emitEvent] an event; what
 * the app sends is recorded, host actions as text in [hostActions] (e.g. "remove b",
 * "lock true"), views in [views] (the latest per participant) and [viewLog] (every call, e.g.
 * "b Hidden"), network changes in [networkChanges].
 */
class FakeCall(initial: RoomState, val options: JoinOptions) : Call {
    private val mutableState = MutableStateFlow(initial)
    private val video = Broadcast<RemoteFrame>()
    private val audio = Broadcast<RemoteAudio>()
    private val events = Broadcast<CallEvent>()

    val hostActions: MutableList<String> = java.util.concurrent.CopyOnWriteArrayList()

    /** The latest [setView] per participant (never set: absent, which the core takes as Thumbnail). */
    val views: MutableMap<String, ParticipantView> = java.util.concurrent.ConcurrentHashMap()

    /** Every [setView] call in order, as "<id> <view>". */
    val viewLog: MutableList<String> = java.util.concurrent.CopyOnWriteArrayList()

    val sentVideo: MutableList<I420Frame> = java.util.concurrent.CopyOnWriteArrayList()
    val sentAudio: MutableList<ShortArray> = java.util.concurrent.CopyOnWriteArrayList()
    var microphoneOn: Boolean = options.microphoneOn
        private set
    var cameraOn: Boolean = options.cameraOn
        private set

    override val state: StateFlow<RoomState> = mutableState.asStateFlow()

    fun emit(state: RoomState) {
        mutableState.value = state
    }

    /** Delivers [frame] to the current [videoFrames] collectors, as the core would. */
    fun emitVideo(frame: RemoteFrame) = video.publish(frame)

    /** Delivers [audio] to the current [audioFrames] collectors. */
    fun emitAudio(audio: RemoteAudio) = this.audio.publish(audio)

    /** Delivers [event] to the current [events] collectors. */
    fun emitEvent(event: CallEvent) = events.publish(event)

    override fun events(): Flow<CallEvent> = events.asFlow(capacity = 16)

    override fun videoFrames(): Flow<RemoteFrame> = video.asFlow(capacity = 1)

    override fun audioFrames(): Flow<RemoteAudio> = audio.asFlow(capacity = 50)

    override fun remoteStats(): List<RemoteStats> = emptyList()

    private fun checkOpen() {
        if (mutableState.value.connection is Connection.Ended) throw SalonError.CallEnded()
    }

    override fun sendVideoFrame(frame: I420Frame) {
        checkOpen()
        sentVideo += frame
    }

    /** The masks sent with [sendVideoFrame], in order (their frames are in [sentVideo]). */
    val sentMasks: MutableList<PersonMask> = java.util.concurrent.CopyOnWriteArrayList()

    /** The latest [setBackground]. */
    @Volatile
    var background: Background = Background.Off
        private set

    override fun sendVideoFrame(frame: I420Frame, mask: PersonMask) {
        checkOpen()
        sentVideo += frame
        sentMasks += mask
    }

    override fun setBackground(background: Background) {
        checkOpen()
        this.background = background
    }

    override fun sendAudioFrame(pcm: ShortArray) {
        checkOpen()
        sentAudio += pcm
    }

    /** Like the core: guests cannot turn anything on during panic. */
    private fun checkMayTurnOn(on: Boolean) {
        val state = mutableState.value
        if (on && state.panic && !state.isHost) throw SalonError.NotAllowed("panic")
    }

    override fun setMicrophone(on: Boolean) {
        checkMayTurnOn(on)
        microphoneOn = on
    }

    override fun setCamera(on: Boolean) {
        checkMayTurnOn(on)
        cameraOn = on
    }

    /** Like the core: a blank id is [SalonError.InvalidInput]; after the call [SalonError.CallEnded]. */
    override fun setView(participantId: String, view: ParticipantView) {
        checkOpen()
        if (participantId.isBlank()) throw SalonError.InvalidInput("participant id")
        views[participantId] = view
        viewLog += "$participantId $view"
    }

    /** How many times [onNetworkChanged] was called during the call. */
    @Volatile
    var networkChanges: Int = 0
        private set

    /** Like the core: after the call [SalonError.CallEnded]. */
    @Synchronized
    override fun onNetworkChanged() {
        checkOpen()
        networkChanges++
    }

    override suspend fun leave() {
        mutableState.update { it.copy(connection = Connection.Ended(EndReason.Left)) }
        video.close()
        audio.close()
        events.close()
    }

    private fun host(action: String) {
        checkOpen()
        hostActions += action
    }

    override fun setLocked(locked: Boolean) = host("lock $locked")

    override fun admit(knockId: String) = host("admit $knockId")

    override fun deny(knockId: String) = host("deny $knockId")

    override fun remove(participantId: String) = host("remove $participantId")

    override fun unban(banId: String) = host("unban $banId")

    override fun askToMute(participantId: String) = host("ask-mute $participantId")

    override fun mute(participantId: String, video: Boolean) = host("mute $participantId video=$video")

    override fun stopShare(participantId: String) = host("stop-share $participantId")

    override fun setCohost(participantId: String, cohost: Boolean) = host("cohost $participantId $cohost")

    override fun setPanic(active: Boolean) = host("panic $active")

    override fun rotateLink() = host("rotate")

    override fun turnOnEncryption() = host("encrypt")

    override fun endRoom() = host("end")

    // Reactions, hands and chat: like the core with an instant server. A reaction comes back to
    // me as an event, a hand and a message land in the state; a guest's reaction or message
    // during panic is refused (as the server would); bad input is [SalonError.InvalidInput].

    /** Every reaction sent, in order. */
    val sentReactions: MutableList<String> = java.util.concurrent.CopyOnWriteArrayList()

    /** The clock of the messages [sendChat] echoes (Unix milliseconds); tests may fix it. */
    @Volatile
    var now: () -> Long = System::currentTimeMillis

    private val myId: String get() = mutableState.value.me ?: "me"

    /** The server's refusal of a guest's reaction or message during panic; true if refused. */
    private fun refusedForPanic(): Boolean {
        val state = mutableState.value
        if (!state.panic || state.isHost) return false
        events.publish(CallEvent.Refused(Refusal.NotAllowed, "Paused by a host"))
        return true
    }

    override fun react(emoji: String) {
        checkOpen()
        if (emoji !in FAKE_REACTIONS) throw SalonError.InvalidInput("not a reaction: $emoji")
        if (refusedForPanic()) return
        sentReactions += emoji
        events.publish(CallEvent.Reaction(myId, emoji))
    }

    override fun raiseHand(raised: Boolean) {
        checkOpen()
        mutableState.update { state ->
            val last = (state.participants.mapNotNull { it.hand } + listOfNotNull(state.myHand)).maxOrNull() ?: 0L
            state.copy(myHand = if (raised) state.myHand ?: (last + 1) else null)
        }
    }

    override fun lowerHands(participantId: String?) {
        host("lower-hands ${participantId ?: "all"}")
        if (!mutableState.value.isHost) {
            events.publish(CallEvent.Refused(Refusal.NotAllowed, "Only a host can do that"))
            return
        }
        mutableState.update { state ->
            state.copy(
                participants = state.participants.map { if (participantId == null || it.id == participantId) it.copy(hand = null) else it },
                myHand = if (participantId == null || participantId == state.me) null else state.myHand,
            )
        }
    }

    override fun sendChat(text: String) {
        checkOpen()
        val trimmed = text.trim()
        if (trimmed.isEmpty()) throw SalonError.InvalidInput("empty message")
        if (trimmed.codePointCount(0, trimmed.length) > MAX_CHAT_CHARS) throw SalonError.InvalidInput("longer than $MAX_CHAT_CHARS characters")
        if (refusedForPanic()) return
        mutableState.update { state ->
            val id = (state.chat.maxOfOrNull { it.id } ?: 0L) + 1
            state.copy(chat = (state.chat + ChatMessage(id, myId, options.name, atMs = now(), text = trimmed)).takeLast(200))
        }
    }

    override fun clearChat() {
        host("clear-chat")
        if (mutableState.value.role != Role.Owner) {
            events.publish(CallEvent.Refused(Refusal.NotAllowed, "Only the owner can clear the chat"))
            return
        }
        mutableState.update { it.copy(chat = emptyList()) }
    }
}
