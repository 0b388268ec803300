import Foundation
import SalonCoreFFI

/// `SalonService` over the Rust core, on the local database in `dataDirectory` (created if
/// needed). Mirrors the Kotlin `RustSalonService`.
public final class RustSalonService: SalonService, @unchecked Sendable {
    private let client: SalonClient

    /// Opens the database: a quick disk operation, but still better done off the main thread.
    public init(dataDirectory: URL) throws {
        let path = dataDirectory.path
        client = try mapErrors { try SalonClient.open(dataDir: path) }
    }

    public var coreVersion: String { SalonCoreFFI.coreVersion() }

    public var reactions: [String] { SalonCoreFFI.salonReactions() }

    public func friends() async throws -> [Friend] {
        try mapErrors { try client.friends().map { Friend($0) } }
    }

    public func addFriend(name: String, roomLink: String, notes: String) async throws -> Friend {
        try mapErrors { try Friend(client.addFriend(name: name, roomLink: roomLink, notes: notes)) }
    }

    public func addFriendFromCard(_ card: String) async throws -> Friend {
        try mapErrors { try Friend(client.addFriendFromCard(card: card)) }
    }

    public func renameFriend(id: Int64, name: String) async throws {
        try mapErrors { try client.renameFriend(id: id, name: name) }
    }

    public func setFriendNotes(id: Int64, notes: String) async throws {
        try mapErrors { try client.setFriendNotes(id: id, notes: notes) }
    }

    public func removeFriend(id: Int64) async throws -> Bool {
        try mapErrors { try client.removeFriend(id: id) }
    }

    public func friendCard(myName: String, roomLink: String) async throws -> String {
        try mapErrors { try client.friendCard(myName: myName, roomLink: roomLink) }
    }

    public func myFriendCard(myName: String, roomLink: String) async throws -> String {
        try await mapErrorsAsync { try await client.myFriendCard(myName: myName, roomLink: roomLink) }
    }

    public func rotatePresenceKey(roomLink: String) async throws {
        _ = try await mapErrorsAsync { try await client.rotatePresenceKey(roomLink: roomLink) }
    }

    public func setDoor(roomLink: String, mode: DoorMode, until: Int64?, showNames: Bool?)
        async throws -> DoorState
    {
        try await mapErrorsAsync {
            try await DoorState(
                client.setDoor(roomLink: roomLink, mode: mode.ffi, until: until, showNames: showNames))
        }
    }

    public func peek(link: String) async throws -> Peek {
        try await mapErrorsAsync { try await Peek(client.peek(link: link)) }
    }

    public func setFriendNotify(id: Int64, notify: Bool) async throws {
        try mapErrors { try client.setFriendNotify(id: id, notify: notify) }
    }

    public func presence(doorOpenedEverySeconds: Int) -> AsyncStream<PresenceUpdate> {
        AsyncStream(bufferingPolicy: .bufferingNewest(64)) { continuation in
            let relay = PresenceRelay(continuation)
            do {
                let watch = try client.watchPresence(
                    listener: relay, doorOpenedEverySeconds: UInt32(clamping: doorOpenedEverySeconds))
                continuation.onTermination = { _ in watch.stop() }
            } catch {
                continuation.finish()
            }
        }
    }

    public func joinFriend(friendId: Int64, options: JoinOptions) async throws -> any Call {
        let relay = CallRelay()
        let call = try await mapErrorsAsync {
            try await client.joinFriend(
                friendId: friendId, options: options.ffi, listener: relay, videoSink: relay,
                audioSink: relay)
        }
        return RustCall(call: call, relay: relay)
    }

    public func createRoom(server: String, name: String?) async throws -> MyRoom {
        try await mapErrorsAsync { try await MyRoom(client.createRoom(server: server, name: name)) }
    }

    public func myRooms() async throws -> [MyRoom] {
        try mapErrors { try client.myRooms().map { MyRoom($0) } }
    }

    public func forgetMyRoom(id: String) async throws -> Bool {
        try mapErrors { try client.forgetMyRoom(id: id) }
    }

    public func roomStatus(link: String) async throws -> RoomStatus {
        try await mapErrorsAsync { try await RoomStatus(client.roomStatus(link: link)) }
    }

    public func join(link: String, options: JoinOptions) async throws -> any Call {
        let relay = CallRelay()
        let call = try await mapErrorsAsync {
            try await client.join(
                link: link, options: options.ffi, listener: relay, videoSink: relay, audioSink: relay)
        }
        return RustCall(call: call, relay: relay)
    }

    public func testPatternFrame(width: Int, height: Int, index: Int64) throws -> I420Frame {
        try mapErrors {
            try I420Frame(
                SalonCoreFFI.testPatternFrame(
                    width: UInt32(clamping: width), height: UInt32(clamping: height),
                    index: UInt64(clamping: index)))
        }
    }
}

/// Hands the core's presence callbacks (on its threads) to an `AsyncStream`.
private final class PresenceRelay: FriendsPresenceListener, @unchecked Sendable {
    private let continuation: AsyncStream<PresenceUpdate>.Continuation

    init(_ continuation: AsyncStream<PresenceUpdate>.Continuation) {
        self.continuation = continuation
    }

    func onPresence(friends: [FriendPresenceRecord]) {
        continuation.yield(.friends(friends.map { FriendPresence($0) }))
    }

    func onDoorOpened(friend: FriendPresenceRecord) {
        continuation.yield(.doorOpened(FriendPresence(friend)))
    }
}

/// The listener and sinks one call hands to the core, called on the core's threads. It keeps
/// the latest state (a snapshot is the whole state, so keeping only the latest loses nothing)
/// and fans state, pictures and audio out to whoever reads at the time.
private final class CallRelay: RoomListener, VideoFrameSink, AudioFrameSink, @unchecked Sendable {
    private let stateLock = NSLock()
    private var current: RoomState?
    let states = Broadcast<RoomState>()
    let video = Broadcast<RemoteFrame>()
    let audio = Broadcast<RemoteAudio>()
    let events = Broadcast<CallEvent>()

    func onEvent(event: CallEventRecord) {
        events.publish(CallEvent(event))
    }

    func onStateChanged(state: RoomStateRecord) {
        let snapshot = RoomState(state)
        stateLock.lock()
        defer { stateLock.unlock() }
        current = snapshot
        states.publish(snapshot)
    }

    func onVideoFrame(participantId: String, frame: VideoFrame) {
        if video.hasReaders {
            video.publish(RemoteFrame(participantId: participantId, frame: I420Frame(frame)))
        }
    }

    func onAudioFrame(participantId: String, pcm: [Int16], channels: UInt16) {
        if audio.hasReaders {
            audio.publish(RemoteAudio(participantId: participantId, pcm: pcm, channels: Int(channels)))
        }
    }

    /// Starts from the last snapshot the listener delivered while `join` was still running, or
    /// else from `initial`. Snapshots are delivered in order, so whatever arrives later is newer.
    func attach(initial: () -> RoomState) {
        stateLock.lock()
        defer { stateLock.unlock() }
        if current == nil { current = initial() }
    }

    var latest: RoomState {
        stateLock.lock()
        defer { stateLock.unlock() }
        // `attach` runs before the call is handed out, so there is always a state by now.
        return current ?? RoomState(roomId: "", roomName: nil, me: nil, participants: [], connection: .connecting)
    }

    /// The current state, then every change; registering and reading the current state happen
    /// under the lock that publishing takes, so no change falls in between.
    func stateStream() -> AsyncStream<RoomState> {
        stateLock.lock()
        defer { stateLock.unlock() }
        return states.stream(bufferingNewest: 1, first: current)
    }

    func close() {
        states.close()
        video.close()
        audio.close()
        events.close()
    }
}

private final class RustCall: Call, @unchecked Sendable {
    private let call: SalonCall
    private let relay: CallRelay

    init(call: SalonCall, relay: CallRelay) {
        self.call = call
        self.relay = relay
        relay.attach { RoomState(call.state()) }
    }

    var state: RoomState { relay.latest }

    func states() -> AsyncStream<RoomState> { relay.stateStream() }

    func videoFrames() -> AsyncStream<RemoteFrame> { relay.video.stream(bufferingNewest: 1) }

    /// 50 frames of 20 ms: a second of audio.
    func audioFrames() -> AsyncStream<RemoteAudio> { relay.audio.stream(bufferingNewest: 50) }

    func remoteStats() -> [RemoteStats] { call.remoteStats().map { RemoteStats($0) } }

    func sendVideoFrame(_ frame: I420Frame) throws {
        try mapErrors { try call.sendVideoFrame(frame: frame.ffi) }
    }

    func sendVideoFrame(_ frame: I420Frame, mask: PersonMask) throws {
        try mapErrors { try call.sendVideoFrameMasked(frame: frame.ffi, mask: mask.ffi) }
    }

    func setBackground(_ background: Background) throws {
        try mapErrors { try call.setBackground(choice: background.ffi) }
    }

    func sendAudioFrame(_ pcm: [Int16]) throws {
        try mapErrors { try call.sendAudioFrame(pcm: pcm) }
    }

    /// Events are rare; a slow reader still sees the last 16.
    func events() -> AsyncStream<CallEvent> { relay.events.stream(bufferingNewest: 16) }

    func setMicrophone(_ on: Bool) throws { try mapErrors { try call.setMicrophone(on: on) } }

    func setCamera(_ on: Bool) throws { try mapErrors { try call.setCamera(on: on) } }

    func setView(participantId: String, view: ParticipantView) throws {
        try mapErrors { try call.setView(participantId: participantId, view: view.ffi) }
    }

    func onNetworkChanged() throws { try mapErrors { try call.onNetworkChanged() } }

    func setLocked(_ locked: Bool) throws { try mapErrors { try call.setLocked(locked: locked) } }

    func admit(knockId: String) throws { try mapErrors { try call.admit(knockId: knockId) } }

    func deny(knockId: String) throws { try mapErrors { try call.deny(knockId: knockId) } }

    func remove(participantId: String) throws { try mapErrors { try call.remove(participantId: participantId) } }

    func unban(banId: String) throws { try mapErrors { try call.unban(banId: banId) } }

    func askToMute(participantId: String) throws { try mapErrors { try call.askMute(participantId: participantId) } }

    func mute(participantId: String, video: Bool) throws {
        try mapErrors { try call.mute(participantId: participantId, video: video) }
    }

    func stopShare(participantId: String) throws { try mapErrors { try call.stopShare(participantId: participantId) } }

    func setCohost(participantId: String, cohost: Bool) throws {
        try mapErrors { try call.setCohost(participantId: participantId, cohost: cohost) }
    }

    func setPanic(_ active: Bool) throws { try mapErrors { try call.setPanic(active: active) } }

    func rotateLink() throws { try mapErrors { try call.rotateLink() } }
    func turnOnEncryption() throws { try mapErrors { try call.turnOnEncryption() } }

    func endRoom() throws { try mapErrors { try call.endRoom() } }

    func react(_ emoji: String) throws { try mapErrors { try call.react(emoji: emoji) } }

    func raiseHand(_ raised: Bool) throws { try mapErrors { try call.raiseHand(raised: raised) } }

    func lowerHands(participantId: String?) throws {
        try mapErrors { try call.lowerHands(participantId: participantId) }
    }

    func sendChat(_ text: String) throws { try mapErrors { try call.sendChat(text: text) } }

    func clearChat() throws { try mapErrors { try call.clearChat() } }

    func leave() async {
        await call.leave()
        relay.close()
    }
}
