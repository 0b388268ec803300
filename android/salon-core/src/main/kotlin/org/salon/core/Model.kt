package org.salon.core

/**
 * Salon's own types for apps. They mirror the records of the generated bindings
 * (`org.salon.core.ffi`), but are immutable, use `Int`/`Long` instead of unsigned types, and turn
 * stringly-typed fields into sealed types, so that UI code can compare and copy them freely and
 * never needs to import the generated package.
 */

/** A friend in the local list: their display name and the link of their room. */
data class Friend(
    val id: Long,
    val name: String,
    val roomLink: String,
    val notes: String,
    /** Unix time in seconds. */
    val addedAt: Long,
    /** Their card carried a presence key: their door and who is inside can be watched. */
    val hasPresence: Boolean = false,
    /** Tell me ([PresenceUpdate.DoorOpened]) when their door opens. */
    val notify: Boolean = false,
)

/** How the owner sets the door of a room. */
enum class DoorMode {
    /** Open while I am inside (every room starts like this). */
    Auto,

    /** Open (until a time, if given). */
    Open,

    /** Closed, even while I am inside. */
    Closed,
}

/** My door as the server now has it. */
data class DoorState(
    val mode: DoorMode,
    /** Unix seconds when an open door goes back to [DoorMode.Auto]. */
    val until: Long?,
    /** Friends (and people with the link) see the names of who is inside. */
    val showNames: Boolean,
    val doorOpen: Boolean,
    val people: Int,
)

/** A look into a room before joining. */
data class Peek(
    val roomId: String,
    val name: String?,
    val doorOpen: Boolean,
    val people: Int,
    /** Who is inside, when the door is open and the owner shows names; else null. */
    val names: List<String>?,
    val full: Boolean,
    val locked: Boolean,
)

/** A friend with their room's presence, as their server last said. */
data class FriendPresence(
    val friend: Friend,
    /** False when the card has no presence key, the owner revoked it, or no answer came yet. */
    val available: Boolean,
    /** The presence connection to the friend's server is up. */
    val connected: Boolean,
    val doorOpen: Boolean,
    /** Unix seconds when an open door closes by itself. */
    val until: Long?,
    val people: Int,
    /** Who is inside when the owner shows names; else null. */
    val names: List<String>?,
)

/** What a presence watch tells. */
sealed interface PresenceUpdate {
    /** Every friend with what is known now (after every change). */
    data class Friends(val friends: List<FriendPresence>) : PresenceUpdate

    /** A friend marked `notify` opened their door (at most once per interval per friend). */
    data class DoorOpened(val friend: FriendPresence) : PresenceUpdate
}

/** A room I created. [hostKey] proves ownership: store it like a password. */
data class MyRoom(
    val id: String,
    val link: String,
    val hostKey: String,
    val name: String?,
    /** Unix time in seconds. */
    val createdAt: Long,
)

/** Whether a room exists and who is in it, as the room's server says right now. */
data class RoomStatus(
    val id: String,
    val name: String?,
    val participants: Int,
    val maxParticipants: Int,
    val full: Boolean,
) {
    /** A room is "open" while someone is in it: that is when friends can drop in. */
    val isOpen: Boolean get() = participants > 0
}

/** How to join a call. The defaults are the core's. */
data class JoinOptions(
    val name: String,
    val microphoneOn: Boolean = true,
    val cameraOn: Boolean = true,
    val videoWidth: Int = 640,
    val videoHeight: Int = 360,
    val videoBitrateBps: Int = 800_000,
    val videoMaxFps: Float = 30f,
)

/** A snapshot of a call: the room, everyone else in it, my role and switches, and the connection. */
data class RoomState(
    val roomId: String,
    val roomName: String?,
    /** My participant id, once joined. */
    val me: String?,
    /** Everyone else, in order of arrival. */
    val participants: List<Participant>,
    val connection: Connection,
    /** The current invite link (changes when a host makes a new one). */
    val link: String = "",
    /** My role: [Role.Owner] when I joined one of my rooms, [Role.Cohost] when the owner named me. */
    val role: Role = Role.Guest,
    /** Newcomers wait in the lobby until a host lets them in. */
    val locked: Boolean = false,
    /** A host turned every guest's microphone and camera off until released. */
    val panic: Boolean = false,
    /** My own microphone switch (a host's mute turns it off). */
    val microphoneOn: Boolean = true,
    /** My own camera switch. */
    val cameraOn: Boolean = true,
    /** People waiting in the lobby, oldest first (hosts only). */
    val knocks: List<Knock> = emptyList(),
    /** People removed from this room (hosts only). */
    val bans: List<Ban> = emptyList(),
    /**
     * Who speaks now, loudest first, as the server says (at most three; my own id when I speak).
     * Only their audio is forwarded. [Participant.speaking] and [speaking] follow it.
     */
    val speakers: List<String> = emptyList(),
    /** I am among the [speakers]. */
    val speaking: Boolean = false,
    /**
     * Somebody shows my video. While false the core sends none (frames given to
     * [Call.sendVideoFrame] are dropped), so the app may pause its camera.
     */
    val videoWatched: Boolean = true,
    /** End-to-end encryption of this call; null in a room that is not encrypted (a legacy room). */
    val e2ee: E2ee? = null,
    /** My hand is up: its place in the queue (smaller went up earlier); null when down. */
    val myHand: Long? = null,
    /** The room's chat I may read, oldest first (the newest 200). */
    val chat: List<ChatMessage> = emptyList(),
) {
    val isHost: Boolean get() = role.isHost

    /** The loudest speaker now (maybe me), or null when nobody speaks. */
    val dominantSpeaker: String? get() = speakers.firstOrNull()
}

/**
 * An encrypted call's safety code: everyone reading it aloud should see the same. It changes when
 * someone comes or goes.
 */
data class E2ee(
    /** 12 digits, `dddd dddd dddd`. */
    val safetyCode: String,
    /** People holding keys, me included. */
    val keyHolders: Int,
    /** Participant ids whose keys could not be checked (yet): they see and hear nothing of me. */
    val unverified: List<String> = emptyList(),
)

/** Another person in the room. */
data class Participant(
    val id: String,
    val name: String,
    /** Their microphone switch. */
    val audioOn: Boolean,
    /** Their camera switch. */
    val videoOn: Boolean,
    /** Whether their audio reaches me. */
    val receivingAudio: Boolean,
    /** Whether their video reaches me. */
    val receivingVideo: Boolean,
    val speaking: Boolean,
    val role: Role = Role.Guest,
    /** Their hand is up: its place in the queue (smaller went up earlier); null when down. */
    val hand: Long? = null,
    /** They share their screen now: show it large. Its pictures come as [screenVideoId]. */
    val screen: Boolean = false,
    /** Whether their screen share reaches me. */
    val receivingScreen: Boolean = false,
) {
    /** The id their screen share's pictures come with in [Call.videoFrames] (and [Call.setView] takes). */
    val screenVideoId: String get() = screenVideoId(id)
}

/** The id [participantId]'s screen share comes with: the core's rule (`<id>|screen`). */
fun screenVideoId(participantId: String): String = "$participantId|screen"

/** One chat message of the room. */
data class ChatMessage(
    /** The room's number for it (increasing). */
    val id: Long,
    /** The sender's participant id and their name when they sent it. */
    val from: String,
    val name: String,
    /** Unix milliseconds. */
    val atMs: Long,
    /**
     * The text, to show as plain text; null when it can't be read with this link (sealed under a
     * key from before a new link this device never saw).
     */
    val text: String?,
)

/** How the app shows someone's video: tell the core with [Call.setView]. */
enum class ParticipantView {
    /** Not on screen (scrolled off, another page, minimized): their video stops coming. */
    Hidden,

    /** A small tile: what everyone the app never set counts as. */
    Thumbnail,

    /** The main tile (pinned, or the only one filling the screen). */
    Large,
}

/** What someone may do in a room. Hosts (owner and co-hosts) act on people of a lower role. */
enum class Role {
    Guest,

    /** Named by the owner for this call. */
    Cohost,

    /** Joined with the room's host key. */
    Owner,
    ;

    val isHost: Boolean get() = this != Guest
}

/** Someone waiting in the lobby of a locked room. */
data class Knock(
    val id: String,
    val name: String,
    /** Turned away before (0 or 1 times; twice and they cannot knock again). */
    val deniedBefore: Int,
)

/** A removal that sticks to the person's device and network until a host lifts it. */
data class Ban(
    val id: String,
    /** The name they had when removed. */
    val name: String,
    /** Unix time in seconds. */
    val at: Long,
)

/** Where a call's connection stands. */
sealed interface Connection {
    data object Connecting : Connection

    /**
     * The room is locked: waiting in the lobby until a host lets me in ([Connected]) or not
     * ([EndReason.KnockDenied]). Can last minutes; [Call.leave] works meanwhile.
     */
    data class Waiting(val hostPresent: Boolean) : Connection

    data object Connected : Connection

    /** Lost the connection and trying again; [attempt] counts from 1. */
    data class Reconnecting(val attempt: Int) : Connection

    /** The call is over. */
    data class Ended(val reason: EndReason) : Connection
}

/** Why a call ended. */
sealed interface EndReason {
    /** I left. */
    data object Left : EndReason

    data object RoomNotFound : EndReason

    data object RoomFull : EndReason

    /** The server does not speak this app's protocol version: update the app. */
    data object Incompatible : EndReason

    /** A host removed me ("You were removed from this room"); rejoining will not work. */
    data object Removed : EndReason

    /** A host did not let me in from the lobby. */
    data object KnockDenied : EndReason

    /** A host ended the call for everyone. */
    data object RoomEnded : EndReason

    /** Anything else; [message] says what. */
    data class Error(val message: String) : EndReason
}

/** What a call tells besides its state: moments to show once (a snackbar), not to keep. */
sealed interface CallEvent {
    /** A host ([by], their name) asks me to mute my microphone. My choice. */
    data class MuteRequested(val by: String) : CallEvent

    /** A host ([by]) turned my microphone (and maybe camera) off; the core already did. */
    data class Muted(val by: String, val microphoneOn: Boolean, val cameraOn: Boolean) : CallEvent

    /** The server refused something I did and nothing changed; [message] is written for people. */
    data class Refused(val reason: Refusal, val message: String) : CallEvent

    /** Someone ([participantId], maybe me) reacted: float [emoji] over their tile for a moment. */
    data class Reaction(val participantId: String, val emoji: String) : CallEvent
}

/** Why the server refused. */
enum class Refusal {
    /** Not a host, aimed at an equal or higher role, a wrong host key, or unmuting during panic. */
    NotAllowed,

    /** The person, knock or ban is no longer there. */
    NotFound,

    /** Too many messages. */
    RateLimited,

    /** Not acceptable (e.g. too long); the message says why. */
    Invalid,

    /** The server could not do it (its storage failed); try again later. */
    Failed,
}

/**
 * An I420 picture: the Y plane, then U, then V, tightly packed (`width * height * 3 / 2` bytes).
 * Width and height are even.
 */
class I420Frame(
    val width: Int,
    val height: Int,
    val data: ByteArray,
    val timestampUs: Long,
) {
    override fun equals(other: Any?): Boolean =
        other is I420Frame &&
            width == other.width &&
            height == other.height &&
            timestampUs == other.timestampUs &&
            data.contentEquals(other.data)

    override fun hashCode(): Int = 31 * (31 * width + height) + data.contentHashCode()

    override fun toString(): String = "I420Frame(${width}x$height, t=${timestampUs}us)"
}

/**
 * Where the person is in a camera picture: [width] × [height] coverage bytes, row by row; 255 is
 * the person, 0 the background, values between blend (a segmenter's confidence × 255). Any size up
 * to 4096 on a side: the core stretches it over the picture, so it must show the same picture, in
 * the same orientation.
 */
class PersonMask(
    val width: Int,
    val height: Int,
    val data: ByteArray,
) {
    override fun equals(other: Any?): Boolean =
        other is PersonMask && width == other.width && height == other.height && data.contentEquals(other.data)

    override fun hashCode(): Int = 31 * (31 * width + height) + data.contentHashCode()

    override fun toString(): String = "PersonMask(${width}x$height)"
}

/** What goes behind me in my video ([Call.setBackground]). */
sealed interface Background {
    data object Off : Background

    data object Blur : Background

    /** A picture, scaled to cover my video and cropped at its centre; at most 4096 on a side. */
    data class Picture(val image: I420Frame) : Background
}

/** A decoded picture from another participant. */
data class RemoteFrame(val participantId: String, val frame: I420Frame)

/** Decoded audio from another participant: 48 kHz, [channels] interleaved. */
class RemoteAudio(val participantId: String, val pcm: ShortArray, val channels: Int) {
    override fun equals(other: Any?): Boolean =
        other is RemoteAudio &&
            participantId == other.participantId &&
            channels == other.channels &&
            pcm.contentEquals(other.pcm)

    override fun hashCode(): Int = 31 * (31 * participantId.hashCode() + channels) + pcm.contentHashCode()

    override fun toString(): String = "RemoteAudio($participantId, ${pcm.size} samples, $channels ch)"
}

/** What has arrived from one other participant. */
data class RemoteStats(
    val participantId: String,
    val framesReceived: Long,
    val framesDecoded: Long,
    val width: Int,
    val height: Int,
    val videoCodec: String,
    val audioPackets: Long,
    val audioFramesDecoded: Long,
)
