import Foundation
import SalonCoreFFI

// The one place where generated types become ours and back. No logic beyond conversion.
// Inside this module our own `SalonError`, `JoinOptions`… shadow the generated ones; the
// generated ones are always written with their module name.

/// Runs a call into the core, turning its errors into `SalonError`.
func mapErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SalonCoreFFI.SalonError {
        throw SalonError(error)
    } catch let error as SalonError {
        throw error
    } catch {
        throw SalonError.internalError(String(describing: error))
    }
}

/// `mapErrors` for async calls. (A separate name: in async code Swift would prefer an async
/// overload even for synchronous calls.)
func mapErrorsAsync<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as SalonCoreFFI.SalonError {
        throw SalonError(error)
    } catch let error as SalonError {
        throw error
    } catch {
        throw SalonError.internalError(String(describing: error))
    }
}

extension SalonError {
    init(_ error: SalonCoreFFI.SalonError) {
        switch error {
        case .RoomNotFound: self = .roomNotFound
        case .RoomFull: self = .roomFull
        case let .InvalidLink(reason): self = .invalidLink(reason)
        case let .InvalidInput(reason): self = .invalidInput(reason)
        case let .Network(reason): self = .network(reason)
        case let .Server(reason): self = .server(reason)
        case let .Incompatible(reason): self = .incompatible(reason)
        case let .Media(reason): self = .media(reason)
        case let .Storage(reason): self = .storage(reason)
        case .DuplicateFriend: self = .duplicateFriend
        case .NotFound: self = .notFound
        case .CallEnded: self = .callEnded
        case .Removed: self = .removed
        case .KnockDenied: self = .knockDenied
        case .RoomEnded: self = .roomEnded
        case let .NotAllowed(reason): self = .notAllowed(reason)
        case let .E2ee(reason): self = .e2ee(reason)
        case let .Internal(reason): self = .internalError(reason)
        }
    }
}

extension Friend {
    init(_ r: FriendRecord) {
        self.init(
            id: r.id, name: r.name, roomLink: r.roomLink, notes: r.notes, addedAt: r.addedAt,
            hasPresence: r.hasPresence, notify: r.notify)
    }
}

extension DoorMode {
    var ffi: DoorModeRecord {
        switch self {
        case .auto: return .auto
        case .open: return .open
        case .closed: return .closed
        }
    }

    init(_ r: DoorModeRecord) {
        switch r {
        case .auto: self = .auto
        case .open: self = .open
        case .closed: self = .closed
        }
    }
}

extension DoorState {
    init(_ r: DoorStateRecord) {
        self.init(
            mode: DoorMode(r.mode), until: r.until, showNames: r.showNames, doorOpen: r.doorOpen,
            people: Int(r.people))
    }
}

extension Peek {
    init(_ r: PeekRecord) {
        self.init(
            roomId: r.roomId, name: r.name, doorOpen: r.doorOpen, people: Int(r.people),
            names: r.names, full: r.full, locked: r.locked)
    }
}

extension FriendPresence {
    init(_ r: FriendPresenceRecord) {
        self.init(
            friend: Friend(r.friend), available: r.available, connected: r.connected,
            doorOpen: r.doorOpen, until: r.until, people: Int(r.people), names: r.names)
    }
}

extension MyRoom {
    init(_ r: MyRoomRecord) {
        self.init(id: r.id, link: r.link, hostKey: r.hostKey, name: r.name, createdAt: r.createdAt)
    }
}

extension RoomStatus {
    init(_ r: RoomStatusRecord) {
        self.init(
            id: r.id, name: r.name, participants: Int(r.participants),
            maxParticipants: Int(r.maxParticipants), full: r.full)
    }
}

extension JoinOptions {
    var ffi: SalonCoreFFI.JoinOptions {
        SalonCoreFFI.JoinOptions(
            name: name,
            microphoneOn: microphoneOn,
            cameraOn: cameraOn,
            videoWidth: UInt32(clamping: videoWidth),
            videoHeight: UInt32(clamping: videoHeight),
            videoBitrateBps: UInt32(clamping: videoBitrateBps),
            videoMaxFps: videoMaxFps)
    }
}

extension RoomState {
    init(_ r: RoomStateRecord) {
        self.init(
            roomId: r.roomId, roomName: r.roomName, me: r.me,
            participants: r.participants.map { Participant($0) }, connection: Connection(r.connection),
            link: r.link, role: Role(r.role), locked: r.locked, panic: r.panic,
            microphoneOn: r.microphoneOn, cameraOn: r.cameraOn,
            knocks: r.knocks.map { Knock($0) }, bans: r.bans.map { Ban($0) },
            speakers: r.speakers, speaking: r.speaking, videoWatched: r.videoWatched,
            e2ee: r.e2ee.map { E2ee($0) }, myHand: r.myHand, chat: r.chat.map { ChatMessage($0) })
    }
}

extension ChatMessage {
    init(_ r: ChatRecord) {
        self.init(id: r.id, from: r.from, name: r.name, atMs: r.atMs, text: r.text)
    }
}

extension E2ee {
    init(_ r: E2eeRecord) {
        self.init(safetyCode: r.safetyCode, keyHolders: Int(r.keyHolders), unverified: r.unverified)
    }
}

extension Participant {
    init(_ r: ParticipantRecord) {
        self.init(
            id: r.id, name: r.name, audioOn: r.audioOn, videoOn: r.videoOn,
            receivingAudio: r.receivingAudio, receivingVideo: r.receivingVideo, speaking: r.speaking,
            role: Role(r.role), hand: r.hand, screen: r.screen, receivingScreen: r.receivingScreen)
    }
}

extension ParticipantView {
    var ffi: ParticipantViewRecord {
        switch self {
        case .hidden: return .hidden
        case .thumbnail: return .thumbnail
        case .large: return .large
        }
    }
}

extension Role {
    init(_ r: RoleRecord) {
        switch r {
        case .guest: self = .guest
        case .cohost: self = .cohost
        case .owner: self = .owner
        }
    }
}

extension Knock {
    init(_ r: KnockRecord) {
        self.init(id: r.id, name: r.name, deniedBefore: Int(r.deniedBefore))
    }
}

extension Ban {
    init(_ r: BanRecord) {
        self.init(id: r.id, name: r.name, at: r.at)
    }
}

extension Connection {
    init(_ r: ConnectionRecord) {
        switch r {
        case .connecting: self = .connecting
        case let .waiting(hostPresent): self = .waiting(hostPresent: hostPresent)
        case .connected: self = .connected
        case let .reconnecting(attempt): self = .reconnecting(attempt: Int(attempt))
        case let .ended(reason): self = .ended(EndReason(reason))
        }
    }
}

extension EndReason {
    init(_ r: EndReasonRecord) {
        switch r {
        case .left: self = .left
        case .roomNotFound: self = .roomNotFound
        case .roomFull: self = .roomFull
        case .incompatible: self = .incompatible
        case .removed: self = .removed
        case .knockDenied: self = .knockDenied
        case .roomEnded: self = .roomEnded
        case let .error(message): self = .error(message)
        }
    }
}

extension CallEvent {
    init(_ r: CallEventRecord) {
        switch r {
        case let .muteRequested(by): self = .muteRequested(by: by)
        case let .muted(by, microphoneOn, cameraOn):
            self = .muted(by: by, microphoneOn: microphoneOn, cameraOn: cameraOn)
        case let .refused(reason, message): self = .refused(Refusal(reason), message: message)
        case let .reaction(participantId, emoji): self = .reaction(participantId: participantId, emoji: emoji)
        }
    }
}

extension Refusal {
    init(_ r: RefusalRecord) {
        switch r {
        case .notAllowed: self = .notAllowed
        case .notFound: self = .notFound
        case .rateLimited: self = .rateLimited
        case .invalid: self = .invalid
        case .failed: self = .failed
        }
    }
}

extension I420Frame {
    init(_ r: VideoFrame) {
        self.init(
            width: Int(r.width), height: Int(r.height), data: r.data,
            timestampUs: Int64(clamping: r.timestampUs))
    }

    var ffi: VideoFrame {
        VideoFrame(
            width: UInt32(clamping: width), height: UInt32(clamping: height), data: data,
            timestampUs: UInt64(clamping: timestampUs))
    }
}

extension PersonMask {
    var ffi: SalonCoreFFI.PersonMask {
        SalonCoreFFI.PersonMask(
            width: UInt32(clamping: width), height: UInt32(clamping: height), data: data)
    }
}

extension Background {
    var ffi: BackgroundChoice {
        switch self {
        case .off: return .off
        case .blur: return .blur
        case .picture(let image): return .replace(image: image.ffi)
        }
    }
}

extension RemoteStats {
    init(_ r: RemoteStatsRecord) {
        self.init(
            participantId: r.participantId,
            framesReceived: Int(clamping: r.framesReceived),
            framesDecoded: Int(clamping: r.framesDecoded),
            width: Int(r.width),
            height: Int(r.height),
            videoCodec: r.videoCodec,
            audioPackets: Int(clamping: r.audioPackets),
            audioFramesDecoded: Int(clamping: r.audioFramesDecoded))
    }
}
