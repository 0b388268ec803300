package org.salon.core

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.StateFlow

/**
 * What an app can do with Salon: keep a friend list, create rooms, see whether a room is open,
 * and join one. Apps depend on this interface; [RustSalonService] implements it over the Rust
 * core and [FakeSalonService] in memory for UI tests and previews.
 *
 * Every function is main-safe: blocking work (SQLite) runs on an I/O dispatcher and network work
 * on the core's own runtime. Failures are thrown as [SalonError].
 */
interface SalonService : AutoCloseable {
    /** The core's version, e.g. "0.1.0". */
    val coreVersion: String

    // --- Friends -------------------------------------------------------------------------------

    suspend fun friends(): List<Friend>

    /** Adds a friend by the link of their room. The same room twice is [SalonError.DuplicateFriend]. */
    suspend fun addFriend(name: String, roomLink: String, notes: String = ""): Friend

    /** Adds a friend from a card made by [friendCard] (`https://<server>/friend?…`, or the same query as `salon:friend?…`). */
    suspend fun addFriendFromCard(card: String): Friend

    /** [SalonError.NotFound] if there is no such friend. */
    suspend fun renameFriend(id: Long, name: String)

    /** [SalonError.NotFound] if there is no such friend. */
    suspend fun setFriendNotes(id: Long, notes: String)

    /** Whether a friend was removed. */
    suspend fun removeFriend(id: Long): Boolean

    /** A card a friend can add me from: my name and one of my rooms. */
    suspend fun friendCard(myName: String, roomLink: String): String

    // --- Drop-in presence ----------------------------------------------------------------------

    /**
     * My card for one of my rooms with its presence key: whoever adds it sees my door and who is
     * inside. [SalonError.NotAllowed] if the room is not mine.
     */
    suspend fun myFriendCard(myName: String, roomLink: String): String

    /** A new presence key for one of my rooms: every card shared before stops showing presence. */
    suspend fun rotatePresenceKey(roomLink: String)

    /**
     * Opens (until [until], Unix seconds, at most 7 days ahead), closes or resets the door of one
     * of my rooms; [showNames], when given, chooses whether names are shown.
     */
    suspend fun setDoor(roomLink: String, mode: DoorMode, until: Long? = null, showNames: Boolean? = null): DoorState

    /** Who is inside a room before joining (names when the owner shows them). */
    suspend fun peek(link: String): Peek

    /** Whether to be told ([PresenceUpdate.DoorOpened]) when this friend's door opens. */
    suspend fun setFriendNotify(id: Long, notify: Boolean)

    /**
     * My friends' presence, live: collecting opens one connection per server (all the friends on
     * it in one batch) and emits [PresenceUpdate.Friends] after every change and
     * [PresenceUpdate.DoorOpened] for friends marked `notify` (at most once per
     * [doorOpenedEverySeconds], 0 for the core's 5 minutes). Cancelling stops it. Friends added
     * later are watched by the next collection.
     */
    fun presence(doorOpenedEverySeconds: Int = 0): Flow<PresenceUpdate>

    /** Drops in on a friend: joins their room in one call (see [join]). */
    suspend fun joinFriend(friendId: Long, options: JoinOptions): Call

    // --- Rooms ---------------------------------------------------------------------------------

    /** Creates a room on [server] (e.g. "https://salon.example.org") and remembers it as mine. */
    suspend fun createRoom(server: String, name: String? = null): MyRoom

    suspend fun myRooms(): List<MyRoom>

    /** Whether a room of mine was forgotten (the room itself stays on its server). */
    suspend fun forgetMyRoom(id: String): Boolean

    /** Whether the room behind [link] exists and who is in it; [SalonError.RoomNotFound] if not. */
    suspend fun roomStatus(link: String): RoomStatus

    /**
     * Joins the room behind [link]: returns once in, or waiting in the lobby of a locked room
     * ([Connection.Waiting]); see [Call.state] from then on. One of my rooms is joined as its
     * owner. [SalonError.Removed] if a host banned this device from the room.
     */
    suspend fun join(link: String, options: JoinOptions): Call

    // --- Media helpers -------------------------------------------------------------------------

    /** A synthetic moving picture (frame [index] of a 30 fps sequence), for demos without a camera. */
    fun testPatternFrame(width: Int, height: Int, index: Long): I420Frame

    /** The reactions a room accepts ([Call.react]), in the order to show them (eight emoji). */
    val reactions: List<String>
}

/** Longest chat message, in characters ([Call.sendChat]). */
const val MAX_CHAT_CHARS: Int = 1000

/**
 * A joined room. [state] always holds the latest snapshot; [videoFrames], [audioFrames] and
 * [events] are cold flows from the moment of collection. After [leave] they complete and
 * [state] ends on [Connection.Ended].
 *
 * Host actions ([setLocked] … [endRoom]) send one message and return; the result shows in
 * [state], and a refusal (not a host, the target outranks me, no longer there) comes as
 * [CallEvent.Refused]. They throw [SalonError.InvalidInput] for a malformed id,
 * [SalonError.CallEnded] after the call, and [SalonError.Network] while waiting or reconnecting.
 */
interface Call {
    /** The room as it is now: who is here, who speaks, my role, the lobby, the connection. */
    val state: StateFlow<RoomState>

    /** Moments the state does not keep: a host asks me to mute, a host muted me, a refusal. */
    fun events(): Flow<CallEvent>

    /**
     * Decoded pictures of every other participant. A slow collector sees only the newest picture
     * (older ones are dropped, never queued), so the core's decoder thread is never held up.
     */
    fun videoFrames(): Flow<RemoteFrame>

    /** Decoded audio of every other participant, 10–20 ms at a time; about a second is buffered. */
    fun audioFrames(): Flow<RemoteAudio>

    /** What has arrived from each other participant so far, ordered by participant id. */
    fun remoteStats(): List<RemoteStats>

    /** Sends a camera picture. Never blocks; once the call is over it throws [SalonError.CallEnded]. */
    fun sendVideoFrame(frame: I420Frame)

    /**
     * Sends a camera picture with the person segmenter's [mask] for it. With a background set
     * ([setBackground]), the core blurs or replaces what is not the person on its encoder thread,
     * before encoding. Never blocks.
     */
    fun sendVideoFrame(frame: I420Frame, mask: PersonMask)

    /**
     * What goes behind me from the next picture on. While it is not [Background.Off], pictures
     * sent without a mask go out as all background (blurred all over, or only the picture), never
     * as the camera saw them. Throws [SalonError.InvalidInput] for a picture that is not valid
     * I420 or is larger than 4096 on a side.
     */
    fun setBackground(background: Background)

    /** Sends 10 or 20 ms of 48 kHz mono PCM (480 or 960 samples). Never blocks. */
    fun sendAudioFrame(pcm: ShortArray)

    /** Throws [SalonError.NotAllowed] when turning it on while panic holds guests' microphones off. */
    fun setMicrophone(on: Boolean)

    /** Throws [SalonError.NotAllowed] when turning it on during panic. */
    fun setCamera(on: Boolean)

    /**
     * How the app shows [participantId]'s video: [ParticipantView.Hidden] for tiles off screen
     * (their video stops coming within about a second; their audio does not change),
     * [ParticipantView.Thumbnail] (what everyone never set counts as) or
     * [ParticipantView.Large] for the main tile. Until the first call every video arrives; from
     * then on the core keeps the server told, coalesced. Call it when what is shown changes (a
     * grid scrolled, a tile pinned), not per frame. Works in the lobby and while reconnecting;
     * throws [SalonError.InvalidInput] for a malformed id and [SalonError.CallEnded] after the call.
     */
    fun setView(participantId: String, view: ParticipantView)

    /**
     * The device's network changed: another default network (Wi-Fi to mobile data and back, a
     * VPN), or new addresses on it. In the room the core restarts ICE on the same connection, so
     * my media moves to the new network and nobody else is renegotiated; in the lobby and while
     * reconnecting it does nothing. Never blocks; throws [SalonError.CallEnded] after the call
     * (a change racing the end of the call, which the app can ignore).
     */
    fun onNetworkChanged()

    /** Leaves the room (also from the lobby). Safe to call more than once. */
    suspend fun leave()

    // --- Reactions, hands and chat -------------------------------------------------------------

    /**
     * Sends a reaction, one of [SalonService.reactions]; everyone (me too) gets it as
     * [CallEvent.Reaction]. Anything else is [SalonError.InvalidInput]; beyond my budget, or a
     * guest during panic, the server answers [CallEvent.Refused].
     */
    fun react(emoji: String)

    /** Raises or lowers my hand; [RoomState.myHand] follows. */
    fun raiseHand(raised: Boolean)

    /** (Hosts) lowers [participantId]'s hand, or with null everyone's. */
    fun lowerHands(participantId: String? = null)

    /**
     * Sends a chat message (1–1000 characters once trimmed, else [SalonError.InvalidInput]); it
     * arrives in [RoomState.chat]. End-to-end encrypted in an encrypted room.
     */
    fun sendChat(text: String)

    /** (The owner) deletes the room's chat for everyone. */
    fun clearChat()

    // --- Host actions --------------------------------------------------------------------------

    /** Locks the room (newcomers knock) or unlocks it (everyone waiting comes in). */
    fun setLocked(locked: Boolean)

    fun admit(knockId: String)

    fun deny(knockId: String)

    /** Disconnects them and bans their device and network from this room; also locks it. */
    fun remove(participantId: String)

    fun unban(banId: String)

    /** Asks them to mute; they decide. */
    fun askToMute(participantId: String)

    /** Turns their microphone (and with [video], camera) off. */
    fun mute(participantId: String, video: Boolean = false)

    /** Stops their screen share ([Participant.screen]); they may share again later. */
    fun stopShare(participantId: String)

    /** The owner names (or un-names) a co-host. */
    fun setCohost(participantId: String, cohost: Boolean)

    /** Panic: lock and turn every guest's microphone and camera off until released. */
    fun setPanic(active: Boolean)

    /** A new invite link ([RoomState.link] follows); the old one stops working. */
    fun rotateLink()

    /**
     * Turns end-to-end encryption on in a room made before it ([RoomState.e2ee] is null): a new
     * link with a new key ([RoomState.link] follows), then the call ends for everyone
     * ([EndReason.RoomEnded]); join again through the new link and share it.
     */
    fun turnOnEncryption()

    /** Ends the call for everyone, this one included ([EndReason.RoomEnded]). */
    fun endRoom()
}
