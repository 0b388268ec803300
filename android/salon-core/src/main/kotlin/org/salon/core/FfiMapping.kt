package org.salon.core

import org.salon.core.ffi.ConnectionRecord
import org.salon.core.ffi.FriendRecord
import org.salon.core.ffi.InternalException
import org.salon.core.ffi.MyRoomRecord
import org.salon.core.ffi.ParticipantRecord
import org.salon.core.ffi.RemoteStatsRecord
import org.salon.core.ffi.RoomStateRecord
import org.salon.core.ffi.RoomStatusRecord
import org.salon.core.ffi.SalonException
import org.salon.core.ffi.VideoFrame
import org.salon.core.ffi.JoinOptions as FfiJoinOptions

// The one place where generated types become ours and back. No logic beyond conversion.

/** Runs a call into the core, turning its errors into [SalonError]. */
internal inline fun <T> mapErrors(block: () -> T): T =
    try {
        block()
    } catch (e: SalonException) {
        throw e.toSalonError()
    } catch (e: InternalException) {
        throw SalonError.Internal(e.message ?: "", e)
    }

internal fun SalonException.toSalonError(): SalonError =
    when (this) {
        is SalonException.RoomNotFound -> SalonError.RoomNotFound(this)
        is SalonException.RoomFull -> SalonError.RoomFull(this)
        is SalonException.InvalidLink -> SalonError.InvalidLink(reason, this)
        is SalonException.InvalidInput -> SalonError.InvalidInput(reason, this)
        is SalonException.Network -> SalonError.Network(reason, this)
        is SalonException.Server -> SalonError.Server(reason, this)
        is SalonException.Incompatible -> SalonError.Incompatible(reason, this)
        is SalonException.Media -> SalonError.Media(reason, this)
        is SalonException.Storage -> SalonError.Storage(reason, this)
        is SalonException.DuplicateFriend -> SalonError.DuplicateFriend(this)
        is SalonException.NotFound -> SalonError.NotFound(this)
        is SalonException.CallEnded -> SalonError.CallEnded(this)
        is SalonException.Internal -> SalonError.Internal(reason, this)
    }

internal fun FriendRecord.toFriend() =
    Friend(id = id, name = name, roomLink = roomLink, notes = notes, addedAt = addedAt)

internal fun MyRoomRecord.toMyRoom() =
    MyRoom(id = id, link = link, hostKey = hostKey, name = name, createdAt = createdAt)

internal fun RoomStatusRecord.toRoomStatus() =
    RoomStatus(
        id = id,
        name = name,
        participants = participants.toInt(),
        maxParticipants = maxParticipants.toInt(),
        full = full,
    )

internal fun JoinOptions.toFfi() =
    FfiJoinOptions(
        name = name,
        microphoneOn = microphoneOn,
        cameraOn = cameraOn,
        videoWidth = videoWidth.toUInt(),
        videoHeight = videoHeight.toUInt(),
        videoBitrateBps = videoBitrateBps.toUInt(),
        videoMaxFps = videoMaxFps,
    )

internal fun RoomStateRecord.toRoomState() =
    RoomState(
        roomId = roomId,
        roomName = roomName,
        me = me,
        participants = participants.map { it.toParticipant() },
        connection = connection.toConnection(),
    )

internal fun ParticipantRecord.toParticipant() =
    Participant(
        id = id,
        name = name,
        audioOn = audioOn,
        videoOn = videoOn,
        receivingAudio = receivingAudio,
        receivingVideo = receivingVideo,
        speaking = speaking,
    )

internal fun ConnectionRecord.toConnection(): Connection =
    when (this) {
        is ConnectionRecord.Connecting -> Connection.Connecting
        is ConnectionRecord.Connected -> Connection.Connected
        is ConnectionRecord.Reconnecting -> Connection.Reconnecting(attempt.toInt())
        is ConnectionRecord.Ended -> Connection.Ended(endReason(reason))
    }

/** The core sends the end reason as text: "left", "room_not_found", … or an error message. */
internal fun endReason(reason: String): EndReason =
    when (reason) {
        "left" -> EndReason.Left
        "room_not_found" -> EndReason.RoomNotFound
        "room_full" -> EndReason.RoomFull
        "incompatible" -> EndReason.Incompatible
        else -> EndReason.Error(reason)
    }

internal fun VideoFrame.toI420Frame() =
    I420Frame(width = width.toInt(), height = height.toInt(), data = data, timestampUs = timestampUs.toLong())

internal fun I420Frame.toFfi() =
    VideoFrame(width = width.toUInt(), height = height.toUInt(), data = data, timestampUs = timestampUs.toULong())

internal fun RemoteStatsRecord.toRemoteStats() =
    RemoteStats(
        participantId = participantId,
        framesReceived = framesReceived.toLong(),
        framesDecoded = framesDecoded.toLong(),
        width = width.toInt(),
        height = height.toInt(),
        videoCodec = videoCodec,
        audioPackets = audioPackets.toLong(),
        audioFramesDecoded = audioFramesDecoded.toLong(),
    )
