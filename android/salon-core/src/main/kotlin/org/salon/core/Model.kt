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
)

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

/** A snapshot of a call: the room, everyone else in it, and the connection. */
data class RoomState(
    val roomId: String,
    val roomName: String?,
    /** My participant id, once joined. */
    val me: String?,
    /** Everyone else, in order of arrival. */
    val participants: List<Participant>,
    val connection: Connection,
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
)

/** Where a call's connection stands. */
sealed interface Connection {
    data object Connecting : Connection

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

    /** Anything else; [message] says what. */
    data class Error(val message: String) : EndReason
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
