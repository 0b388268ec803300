package org.salon.core

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.withContext
import org.salon.core.ffi.AudioFrameSink
import org.salon.core.ffi.CallEventRecord
import org.salon.core.ffi.FriendPresenceRecord
import org.salon.core.ffi.FriendsPresenceListener
import org.salon.core.ffi.RoomListener
import org.salon.core.ffi.RoomStateRecord
import org.salon.core.ffi.SalonCall
import org.salon.core.ffi.SalonClient
import org.salon.core.ffi.VideoFrame
import org.salon.core.ffi.VideoFrameSink
import org.salon.core.ffi.coreVersion as ffiCoreVersion
import org.salon.core.ffi.salonReactions
import org.salon.core.ffi.testPatternFrame as ffiTestPatternFrame

/**
 * [SalonService] over the Rust core. The local database in [dataDir] is opened on first use, on
 * [io], so constructing this is cheap and main-safe; an error opening it surfaces from that first
 * call as [SalonError.Storage].
 */
class RustSalonService(
    private val dataDir: String,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : SalonService {
    private val opened = lazy { mapErrors { SalonClient.open(dataDir) } }

    private suspend fun client(): SalonClient =
        if (opened.isInitialized()) opened.value else withContext(io) { opened.value }

    /** Runs a blocking (SQLite) call of the core on [io]. */
    private suspend fun <T> blocking(block: (SalonClient) -> T): T {
        val client = client()
        return withContext(io) { mapErrors { block(client) } }
    }

    override val coreVersion: String get() = ffiCoreVersion()

    override suspend fun friends(): List<Friend> = blocking { c -> c.friends().map { it.toFriend() } }

    override suspend fun addFriend(name: String, roomLink: String, notes: String): Friend =
        blocking { it.addFriend(name, roomLink, notes).toFriend() }

    override suspend fun addFriendFromCard(card: String): Friend = blocking { it.addFriendFromCard(card).toFriend() }

    override suspend fun renameFriend(id: Long, name: String) = blocking { it.renameFriend(id, name) }

    override suspend fun setFriendNotes(id: Long, notes: String) = blocking { it.setFriendNotes(id, notes) }

    override suspend fun removeFriend(id: Long): Boolean = blocking { it.removeFriend(id) }

    override suspend fun friendCard(myName: String, roomLink: String): String =
        blocking { it.friendCard(myName, roomLink) }

    override suspend fun myFriendCard(myName: String, roomLink: String): String {
        val client = client()
        return mapErrors { client.myFriendCard(myName, roomLink) }
    }

    override suspend fun rotatePresenceKey(roomLink: String) {
        val client = client()
        mapErrors { client.rotatePresenceKey(roomLink) }
    }

    override suspend fun setDoor(roomLink: String, mode: DoorMode, until: Long?, showNames: Boolean?): DoorState {
        val client = client()
        return mapErrors { client.setDoor(roomLink, mode.toFfi(), until, showNames).toDoorState() }
    }

    override suspend fun peek(link: String): Peek {
        val client = client()
        return mapErrors { client.peek(link).toPeek() }
    }

    override suspend fun setFriendNotify(id: Long, notify: Boolean) = blocking { it.setFriendNotify(id, notify) }

    override fun presence(doorOpenedEverySeconds: Int): Flow<PresenceUpdate> =
        callbackFlow {
            val client = client()
            val listener =
                object : FriendsPresenceListener {
                    override fun onPresence(friends: List<FriendPresenceRecord>) {
                        trySend(PresenceUpdate.Friends(friends.map { it.toFriendPresence() }))
                    }

                    override fun onDoorOpened(friend: FriendPresenceRecord) {
                        trySend(PresenceUpdate.DoorOpened(friend.toFriendPresence()))
                    }
                }
            val watch = withContext(io) { mapErrors { client.watchPresence(listener, doorOpenedEverySeconds.coerceAtLeast(0).toUInt()) } }
            awaitClose {
                watch.stop()
                watch.close()
            }
        }

    override suspend fun joinFriend(friendId: Long, options: JoinOptions): Call {
        val client = client()
        val relay = CallRelay()
        val call = mapErrors { client.joinFriend(friendId, options.toFfi(), relay, relay, relay) }
        return RustCall(call, relay)
    }

    override suspend fun createRoom(server: String, name: String?): MyRoom {
        val client = client()
        return mapErrors { client.createRoom(server, name).toMyRoom() }
    }

    override suspend fun myRooms(): List<MyRoom> = blocking { c -> c.myRooms().map { it.toMyRoom() } }

    override suspend fun forgetMyRoom(id: String): Boolean = blocking { it.forgetMyRoom(id) }

    override suspend fun roomStatus(link: String): RoomStatus {
        val client = client()
        return mapErrors { client.roomStatus(link).toRoomStatus() }
    }

    override suspend fun join(link: String, options: JoinOptions): Call {
        val client = client()
        val relay = CallRelay()
        val call = mapErrors { client.join(link, options.toFfi(), relay, relay, relay) }
        return RustCall(call, relay)
    }

    override fun testPatternFrame(width: Int, height: Int, index: Long): I420Frame =
        mapErrors { ffiTestPatternFrame(width.toUInt(), height.toUInt(), index.toULong()).toI420Frame() }

    override val reactions: List<String> by lazy { salonReactions() }

    /** Releases the core's handle on the database. Calls still running finish first. */
    override fun close() {
        if (opened.isInitialized()) opened.value.close()
    }
}

/**
 * The listener and sinks one call hands to the core, called on the core's threads. State goes
 * into a [MutableStateFlow] (a snapshot is the whole state, so keeping only the latest loses
 * nothing); events and media are fanned out to whoever collects at the time.
 */
private class CallRelay : RoomListener, VideoFrameSink, AudioFrameSink {
    private val lock = Any()
    private var early: RoomState? = null
    private var state: MutableStateFlow<RoomState>? = null
    val video = Broadcast<RemoteFrame>()
    val audio = Broadcast<RemoteAudio>()
    val events = Broadcast<CallEvent>()

    override fun onEvent(event: CallEventRecord) {
        events.publish(event.toCallEvent())
    }

    override fun onStateChanged(state: RoomStateRecord) {
        val snapshot = state.toRoomState()
        synchronized(lock) {
            val flow = this.state
            if (flow == null) early = snapshot else flow.value = snapshot
        }
    }

    override fun onVideoFrame(participantId: String, frame: VideoFrame) {
        if (video.hasSubscribers) video.publish(RemoteFrame(participantId, frame.toI420Frame()))
    }

    override fun onAudioFrame(participantId: String, pcm: List<Short>, channels: UShort) {
        if (audio.hasSubscribers) audio.publish(RemoteAudio(participantId, pcm.toShortArray(), channels.toInt()))
    }

    /**
     * The call's state flow, starting from the last snapshot the listener delivered while `join`
     * was still running, or else from [current]. Snapshots are delivered in order, so whatever
     * arrives afterwards is newer.
     */
    fun attach(current: () -> RoomState): StateFlow<RoomState> =
        synchronized(lock) {
            MutableStateFlow(early ?: current()).also { state = it }.asStateFlow()
        }

    fun close() {
        video.close()
        audio.close()
        events.close()
    }
}

private class RustCall(private val call: SalonCall, private val relay: CallRelay) : Call {
    override val state: StateFlow<RoomState> = relay.attach { call.state().toRoomState() }

    override fun videoFrames(): Flow<RemoteFrame> = relay.video.asFlow(capacity = 1)

    /** 50 frames of 20 ms: a second of audio. */
    override fun audioFrames(): Flow<RemoteAudio> = relay.audio.asFlow(capacity = 50)

    override fun remoteStats(): List<RemoteStats> = call.remoteStats().map { it.toRemoteStats() }

    override fun sendVideoFrame(frame: I420Frame) = mapErrors { call.sendVideoFrame(frame.toFfi()) }

    override fun sendVideoFrame(frame: I420Frame, mask: PersonMask) =
        mapErrors { call.sendVideoFrameMasked(frame.toFfi(), mask.toFfi()) }

    override fun setBackground(background: Background) = mapErrors { call.setBackground(background.toFfi()) }

    override fun sendAudioFrame(pcm: ShortArray) = mapErrors { call.sendAudioFrame(pcm.asList()) }

    /** Events are rare; a slow collector still sees the last 16. */
    override fun events(): Flow<CallEvent> = relay.events.asFlow(capacity = 16)

    override fun setMicrophone(on: Boolean) = mapErrors { call.setMicrophone(on) }

    override fun setCamera(on: Boolean) = mapErrors { call.setCamera(on) }

    override fun setView(participantId: String, view: ParticipantView) = mapErrors { call.setView(participantId, view.toFfi()) }

    override fun onNetworkChanged() = mapErrors { call.onNetworkChanged() }

    override fun setLocked(locked: Boolean) = mapErrors { call.setLocked(locked) }

    override fun admit(knockId: String) = mapErrors { call.admit(knockId) }

    override fun deny(knockId: String) = mapErrors { call.deny(knockId) }

    override fun remove(participantId: String) = mapErrors { call.remove(participantId) }

    override fun unban(banId: String) = mapErrors { call.unban(banId) }

    override fun askToMute(participantId: String) = mapErrors { call.askMute(participantId) }

    override fun mute(participantId: String, video: Boolean) = mapErrors { call.mute(participantId, video) }

    override fun stopShare(participantId: String) = mapErrors { call.stopShare(participantId) }

    override fun setCohost(participantId: String, cohost: Boolean) = mapErrors { call.setCohost(participantId, cohost) }

    override fun setPanic(active: Boolean) = mapErrors { call.setPanic(active) }

    override fun rotateLink() = mapErrors { call.rotateLink() }

    override fun turnOnEncryption() = mapErrors { call.turnOnEncryption() }

    override fun endRoom() = mapErrors { call.endRoom() }

    override fun react(emoji: String) = mapErrors { call.react(emoji) }

    override fun raiseHand(raised: Boolean) = mapErrors { call.raiseHand(raised) }

    override fun lowerHands(participantId: String?) = mapErrors { call.lowerHands(participantId) }

    override fun sendChat(text: String) = mapErrors { call.sendChat(text) }

    override fun clearChat() = mapErrors { call.clearChat() }

    override suspend fun leave() {
        try {
            call.leave()
        } finally {
            relay.close()
        }
    }
}
