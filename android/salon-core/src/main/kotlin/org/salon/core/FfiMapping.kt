package org.salon.core

import org.salon.core.ffi.BackgroundChoice
import org.salon.core.ffi.BanRecord
import org.salon.core.ffi.CallEventRecord
import org.salon.core.ffi.ChatRecord
import org.salon.core.ffi.ConnectionRecord
import org.salon.core.ffi.EndReasonRecord
import org.salon.core.ffi.DoorModeRecord
import org.salon.core.ffi.DoorStateRecord
import org.salon.core.ffi.E2eeRecord
import org.salon.core.ffi.FriendPresenceRecord
import org.salon.core.ffi.FriendRecord
import org.salon.core.ffi.PeekRecord
import org.salon.core.ffi.InternalException
import org.salon.core.ffi.KnockRecord
import org.salon.core.ffi.MyRoomRecord
import org.salon.core.ffi.ParticipantRecord
import org.salon.core.ffi.ParticipantViewRecord
import org.salon.core.ffi.RefusalRecord
import org.salon.core.ffi.RemoteStatsRecord
import org.salon.core.ffi.RoleRecord
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
        is SalonException.Removed -> SalonError.Removed(this)
        is SalonException.KnockDenied -> SalonError.KnockDenied(this)
        is SalonException.RoomEnded -> SalonError.RoomEnded(this)
        is SalonException.NotAllowed -> SalonError.NotAllowed(reason, this)
        is SalonException.E2ee -> SalonError.E2ee(reason, this)
        is SalonException.Internal -> SalonError.Internal(reason, this)
    }

internal fun FriendRecord.toFriend() =
    Friend(id = id, name = name, roomLink = roomLink, notes = notes, addedAt = addedAt, hasPresence = hasPresence, notify = notify)

internal fun DoorMode.toFfi(): DoorModeRecord =
    when (this) {
        DoorMode.Auto -> DoorModeRecord.AUTO
        DoorMode.Open -> DoorModeRecord.OPEN
        DoorMode.Closed -> DoorModeRecord.CLOSED
    }

internal fun DoorStateRecord.toDoorState() =
    DoorState(
        mode =
            when (mode) {
                DoorModeRecord.AUTO -> DoorMode.Auto
                DoorModeRecord.OPEN -> DoorMode.Open
                DoorModeRecord.CLOSED -> DoorMode.Closed
            },
        until = until,
        showNames = showNames,
        doorOpen = doorOpen,
        people = people.toInt(),
    )

internal fun PeekRecord.toPeek() =
    Peek(roomId = roomId, name = name, doorOpen = doorOpen, people = people.toInt(), names = names, full = full, locked = locked)

internal fun FriendPresenceRecord.toFriendPresence() =
    FriendPresence(
        friend = friend.toFriend(),
        available = available,
        connected = connected,
        doorOpen = doorOpen,
        until = until,
        people = people.toInt(),
        names = names,
    )

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
        link = link,
        role = role.toRole(),
        locked = locked,
        panic = panic,
        microphoneOn = microphoneOn,
        cameraOn = cameraOn,
        knocks = knocks.map { it.toKnock() },
        bans = bans.map { it.toBan() },
        speakers = speakers,
        speaking = speaking,
        videoWatched = videoWatched,
        e2ee = e2ee?.toE2ee(),
        myHand = myHand?.toLong(),
        chat = chat.map { it.toChatMessage() },
    )

internal fun ChatRecord.toChatMessage() = ChatMessage(id = id.toLong(), from = from, name = name, atMs = atMs, text = text)

internal fun E2eeRecord.toE2ee() =
    E2ee(safetyCode = safetyCode, keyHolders = keyHolders.toInt(), unverified = unverified)

internal fun ParticipantView.toFfi(): ParticipantViewRecord =
    when (this) {
        ParticipantView.Hidden -> ParticipantViewRecord.HIDDEN
        ParticipantView.Thumbnail -> ParticipantViewRecord.THUMBNAIL
        ParticipantView.Large -> ParticipantViewRecord.LARGE
    }

internal fun ParticipantRecord.toParticipant() =
    Participant(
        id = id,
        name = name,
        audioOn = audioOn,
        videoOn = videoOn,
        receivingAudio = receivingAudio,
        receivingVideo = receivingVideo,
        speaking = speaking,
        role = role.toRole(),
        hand = hand?.toLong(),
        screen = screen,
        receivingScreen = receivingScreen,
    )

internal fun RoleRecord.toRole(): Role =
    when (this) {
        RoleRecord.GUEST -> Role.Guest
        RoleRecord.COHOST -> Role.Cohost
        RoleRecord.OWNER -> Role.Owner
    }

internal fun KnockRecord.toKnock() = Knock(id = id, name = name, deniedBefore = deniedBefore.toInt())

internal fun BanRecord.toBan() = Ban(id = id, name = name, at = at)

internal fun ConnectionRecord.toConnection(): Connection =
    when (this) {
        is ConnectionRecord.Connecting -> Connection.Connecting
        is ConnectionRecord.Waiting -> Connection.Waiting(hostPresent)
        is ConnectionRecord.Connected -> Connection.Connected
        is ConnectionRecord.Reconnecting -> Connection.Reconnecting(attempt.toInt())
        is ConnectionRecord.Ended -> Connection.Ended(reason.toEndReason())
    }

internal fun EndReasonRecord.toEndReason(): EndReason =
    when (this) {
        is EndReasonRecord.Left -> EndReason.Left
        is EndReasonRecord.RoomNotFound -> EndReason.RoomNotFound
        is EndReasonRecord.RoomFull -> EndReason.RoomFull
        is EndReasonRecord.Incompatible -> EndReason.Incompatible
        is EndReasonRecord.Removed -> EndReason.Removed
        is EndReasonRecord.KnockDenied -> EndReason.KnockDenied
        is EndReasonRecord.RoomEnded -> EndReason.RoomEnded
        is EndReasonRecord.Error -> EndReason.Error(message)
    }

internal fun CallEventRecord.toCallEvent(): CallEvent =
    when (this) {
        is CallEventRecord.MuteRequested -> CallEvent.MuteRequested(by)
        is CallEventRecord.Muted -> CallEvent.Muted(by, microphoneOn, cameraOn)
        is CallEventRecord.Refused -> CallEvent.Refused(reason.toRefusal(), message)
        is CallEventRecord.Reaction -> CallEvent.Reaction(participantId, emoji)
    }

internal fun RefusalRecord.toRefusal(): Refusal =
    when (this) {
        RefusalRecord.NOT_ALLOWED -> Refusal.NotAllowed
        RefusalRecord.NOT_FOUND -> Refusal.NotFound
        RefusalRecord.RATE_LIMITED -> Refusal.RateLimited
        RefusalRecord.INVALID -> Refusal.Invalid
        RefusalRecord.FAILED -> Refusal.Failed
    }

internal fun VideoFrame.toI420Frame() =
    I420Frame(width = width.toInt(), height = height.toInt(), data = data, timestampUs = timestampUs.toLong())

internal fun I420Frame.toFfi() =
    VideoFrame(width = width.toUInt(), height = height.toUInt(), data = data, timestampUs = timestampUs.toULong())

internal fun PersonMask.toFfi() =
    org.salon.core.ffi.PersonMask(width = width.toUInt(), height = height.toUInt(), data = data)

internal fun Background.toFfi(): BackgroundChoice =
    when (this) {
        Background.Off -> BackgroundChoice.Off
        Background.Blur -> BackgroundChoice.Blur
        is Background.Picture -> BackgroundChoice.Replace(image.toFfi())
    }

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
