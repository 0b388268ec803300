import Foundation

/// An in-memory `SalonService` for SwiftUI previews and tests: friends and rooms live in
/// dictionaries, room status is whatever the test sets with `setStatus`, and `join` hands out a
/// `FakeCall` the test drives. It follows the real service's rules where a UI can tell (a
/// duplicate room link is `.duplicateFriend`, an unknown room `.roomNotFound`). Mirrors the
/// Kotlin `FakeSalonService`.
public final class FakeSalonService: SalonService, @unchecked Sendable {
    private let lock = NSLock()
    private var friendsById: [Int64: Friend] = [:]
    private var rooms: [String: MyRoom] = [:]
    private var statuses: [String: RoomStatus] = [:]
    private var nextId: Int64 = 1
    private var failure: SalonError?
    private var joined: [FakeCall] = []
    private var doorsByLink: [String: DoorState] = [:]
    private let presenceReaders = Broadcast<PresenceUpdate>()
    private var watchers = 0

    public let coreVersion: String

    public init(coreVersion: String = "0.0.0-fake") {
        self.coreVersion = coreVersion
    }

    /// The status `roomStatus(link:)` gives for `link`; nil makes it `.roomNotFound`.
    public func setStatus(_ status: RoomStatus?, for link: String) {
        locked { statuses[link] = status }
    }

    /// The next call to the service throws `error` (once).
    public func failNext(with error: SalonError) {
        locked { failure = error }
    }

    /// Every call joined so far, newest last.
    public var calls: [FakeCall] { locked { joined } }

    /// The door of one of my rooms as `setDoor` left it.
    public func door(of link: String) -> DoorState? { locked { doorsByLink[link] } }

    /// How many `presence` streams are being read (the real service holds one connection each).
    public var presenceWatchers: Int { locked { watchers } }

    /// Delivers `update` to every `presence` reader, as the core would after a change.
    public func emitPresence(_ update: PresenceUpdate) {
        presenceReaders.publish(update)
    }

    /// A presence snapshot for `friend`, for tests to emit.
    public func presenceOf(
        _ friend: Friend, doorOpen: Bool, people: Int = 0, names: [String]? = nil, available: Bool = true
    ) -> FriendPresence {
        FriendPresence(
            friend: friend, available: available, connected: true, doorOpen: doorOpen, until: nil,
            people: people, names: names)
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func op<R>(_ body: () throws -> R) throws -> R {
        try locked {
            if let failure {
                self.failure = nil
                throw failure
            }
            return try body()
        }
    }

    public func friends() async throws -> [Friend] {
        try op { friendsById.values.sorted { $0.id < $1.id } }
    }

    public func addFriend(name: String, roomLink: String, notes: String) async throws -> Friend {
        try op {
            if friendsById.values.contains(where: { $0.roomLink == roomLink }) { throw SalonError.duplicateFriend }
            let friend = Friend(id: nextId, name: name, roomLink: roomLink, notes: notes, addedAt: 0)
            nextId += 1
            friendsById[friend.id] = friend
            return friend
        }
    }

    public func addFriendFromCard(_ card: String) async throws -> Friend {
        let items = URLComponents(string: card)?.queryItems ?? []
        guard let name = items.first(where: { $0.name == "name" })?.value,
              let room = items.first(where: { $0.name == "room" })?.value
        else { throw SalonError.invalidLink("not a friend card") }
        let friend = try await addFriend(name: name, roomLink: room, notes: "")
        guard items.contains(where: { $0.name == "presence" }) else { return friend }
        return locked {
            friendsById[friend.id]?.hasPresence = true
            return friendsById[friend.id] ?? friend
        }
    }

    public func renameFriend(id: Int64, name: String) async throws {
        try op {
            guard friendsById[id] != nil else { throw SalonError.notFound }
            friendsById[id]?.name = name
        }
    }

    public func setFriendNotes(id: Int64, notes: String) async throws {
        try op {
            guard friendsById[id] != nil else { throw SalonError.notFound }
            friendsById[id]?.notes = notes
        }
    }

    public func removeFriend(id: Int64) async throws -> Bool {
        try op { friendsById.removeValue(forKey: id) != nil }
    }

    public func friendCard(myName: String, roomLink: String) async throws -> String {
        try op {
            let encode = { (s: String) in s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
            let server = roomLink.components(separatedBy: "/r/").first ?? roomLink
            return "\(server)/friend?v=1&name=\(encode(myName))&room=\(encode(roomLink))"
        }
    }

    private func requireMine(_ link: String) throws {
        guard rooms.values.contains(where: { $0.link == link }) else {
            throw SalonError.notAllowed("not one of my rooms")
        }
    }

    public func myFriendCard(myName: String, roomLink: String) async throws -> String {
        try op { try requireMine(roomLink) }
        return try await friendCard(myName: myName, roomLink: roomLink) + "&presence=fake-presence-key"
    }

    public func rotatePresenceKey(roomLink: String) async throws {
        try op { try requireMine(roomLink) }
    }

    public func setDoor(roomLink: String, mode: DoorMode, until: Int64?, showNames: Bool?)
        async throws -> DoorState
    {
        try op {
            try requireMine(roomLink)
            let door = DoorState(
                mode: mode, until: until,
                showNames: showNames ?? doorsByLink[roomLink]?.showNames ?? false,
                doorOpen: mode == .open, people: statuses[roomLink]?.participants ?? 0)
            doorsByLink[roomLink] = door
            return door
        }
    }

    public func peek(link: String) async throws -> Peek {
        try op {
            guard let status = statuses[link] else { throw SalonError.roomNotFound }
            return Peek(
                roomId: status.id, name: status.name, doorOpen: doorsByLink[link]?.doorOpen ?? false,
                people: status.participants, names: nil, full: status.full, locked: false)
        }
    }

    public func setFriendNotify(id: Int64, notify: Bool) async throws {
        try op {
            guard friendsById[id] != nil else { throw SalonError.notFound }
            friendsById[id]?.notify = notify
        }
    }

    public func presence(doorOpenedEverySeconds: Int) -> AsyncStream<PresenceUpdate> {
        locked { watchers += 1 }
        let updates = presenceReaders.stream(bufferingNewest: 64)
        return AsyncStream { continuation in
            let task = Task {
                for await update in updates { continuation.yield(update) }
                continuation.finish()
            }
            continuation.onTermination = { [weak self] _ in
                task.cancel()
                guard let self else { return }
                self.locked { self.watchers -= 1 }
            }
        }
    }

    public func joinFriend(friendId: Int64, options: JoinOptions) async throws -> any Call {
        let friend = try op {
            guard let friend = friendsById[friendId] else { throw SalonError.notFound }
            return friend
        }
        return try await join(link: friend.roomLink, options: options)
    }

    public func createRoom(server: String, name: String?) async throws -> MyRoom {
        try op {
            let id = "fake-room-\(nextId)"
            nextId += 1
            let room = MyRoom(id: id, link: "\(server)/r/\(id)", hostKey: "fake-key", name: name, createdAt: 0)
            rooms[id] = room
            statuses[room.link] = RoomStatus(id: id, name: name, participants: 0, maxParticipants: 8, full: false)
            return room
        }
    }

    public func myRooms() async throws -> [MyRoom] {
        try op { rooms.values.sorted { $0.id < $1.id } }
    }

    public func forgetMyRoom(id: String) async throws -> Bool {
        try op { rooms.removeValue(forKey: id) != nil }
    }

    public func roomStatus(link: String) async throws -> RoomStatus {
        try op {
            guard let status = statuses[link] else { throw SalonError.roomNotFound }
            return status
        }
    }

    public func join(link: String, options: JoinOptions) async throws -> any Call {
        let status = try await roomStatus(link: link)
        let call = FakeCall(
            initial: RoomState(roomId: status.id, roomName: status.name, me: "me", participants: [], connection: .connected),
            options: options)
        locked { joined.append(call) }
        return call
    }

    public func testPatternFrame(width: Int, height: Int, index: Int64) throws -> I420Frame {
        let luma = width * height
        var data = Data(count: luma * 3 / 2)
        for i in 0..<data.count {
            data[i] = i < luma ? UInt8(truncatingIfNeeded: i + Int(index)) : 128
        }
        return I420Frame(width: width, height: height, data: data, timestampUs: index * 33_333)
    }

    public var reactions: [String] { fakeReactions }
}

/// The core's eight reactions, in its order.
let fakeReactions = ["👍", "❤️", "😂", "😮", "👏", "🎉", "🙌", "🔥"]

/// A `Call` driven by the test: `emit` a state, `emitVideo` a picture, `emitEvent` an event;
/// what the app sends is recorded, host actions as text in `hostActions` ("remove b",
/// "lock true"), views in `views` (the latest per participant) and `viewLog` (every call, e.g.
/// "b hidden"), network changes in `networkChanges`. Mirrors the Kotlin `FakeCall`.
public final class FakeCall: Call, @unchecked Sendable {
    private let lock = NSLock()
    private var current: RoomState
    private var sent: (video: [I420Frame], audio: [[Int16]]) = ([], [])
    private var media: (microphone: Bool, camera: Bool)
    private let stateReaders = Broadcast<RoomState>()
    private let video = Broadcast<RemoteFrame>()
    private let audio = Broadcast<RemoteAudio>()
    private let eventReaders = Broadcast<CallEvent>()
    private var actions: [String] = []
    private var viewState: (latest: [String: ParticipantView], log: [String]) = ([:], [])

    public let options: JoinOptions

    public var hostActions: [String] { locked { actions } }
    /// The latest `setView` per participant (never set: absent, which the core takes as
    /// `.thumbnail`).
    public var views: [String: ParticipantView] { locked { viewState.latest } }
    /// Every `setView` call in order, as "<id> <view>".
    public var viewLog: [String] { locked { viewState.log } }

    public init(initial: RoomState, options: JoinOptions) {
        current = initial
        self.options = options
        media = (options.microphoneOn, options.cameraOn)
    }

    public var sentVideo: [I420Frame] { locked { sent.video } }
    public var sentAudio: [[Int16]] { locked { sent.audio } }
    public var microphoneOn: Bool { locked { media.microphone } }
    public var cameraOn: Bool { locked { media.camera } }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    public func emit(_ state: RoomState) {
        locked {
            current = state
            stateReaders.publish(state)
        }
    }

    /// Delivers `frame` to the current `videoFrames()` readers, as the core would.
    public func emitVideo(_ frame: RemoteFrame) { video.publish(frame) }

    /// Delivers `audio` to the current `audioFrames()` readers.
    public func emitAudio(_ audio: RemoteAudio) { self.audio.publish(audio) }

    /// Delivers `event` to the current `events()` readers.
    public func emitEvent(_ event: CallEvent) { eventReaders.publish(event) }

    public func events() -> AsyncStream<CallEvent> { eventReaders.stream(bufferingNewest: 16) }

    public var state: RoomState { locked { current } }

    public func states() -> AsyncStream<RoomState> {
        locked { stateReaders.stream(bufferingNewest: 1, first: current) }
    }

    public func videoFrames() -> AsyncStream<RemoteFrame> { video.stream(bufferingNewest: 1) }

    public func audioFrames() -> AsyncStream<RemoteAudio> { audio.stream(bufferingNewest: 50) }

    public func remoteStats() -> [RemoteStats] { [] }

    public func sendVideoFrame(_ frame: I420Frame) throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            sent.video.append(frame)
        }
    }

    public func sendAudioFrame(_ pcm: [Int16]) throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            sent.audio.append(pcm)
        }
    }

    private var masks: [PersonMask] = []
    private var chosenBackground: Background = .off
    /// The masks sent with `sendVideoFrame(_:mask:)`, in order (their frames are in `sentVideo`).
    public var sentMasks: [PersonMask] { locked { masks } }
    /// The latest `setBackground`.
    public var background: Background { locked { chosenBackground } }

    public func sendVideoFrame(_ frame: I420Frame, mask: PersonMask) throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            sent.video.append(frame)
            masks.append(mask)
        }
    }

    public func setBackground(_ background: Background) throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            chosenBackground = background
        }
    }

    /// Like the core: guests cannot turn anything on during panic.
    private func checkMayTurnOn(_ on: Bool) throws {
        if on && current.panic && !current.isHost { throw SalonError.notAllowed("panic") }
    }

    public func setMicrophone(_ on: Bool) throws {
        try locked {
            try checkMayTurnOn(on)
            media.microphone = on
        }
    }

    public func setCamera(_ on: Bool) throws {
        try locked {
            try checkMayTurnOn(on)
            media.camera = on
        }
    }

    /// Like the core: an empty id is `.invalidInput`; after the call `.callEnded`.
    public func setView(participantId: String, view: ParticipantView) throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            if participantId.isEmpty { throw SalonError.invalidInput("participant id") }
            viewState.latest[participantId] = view
            viewState.log.append("\(participantId) \(view)")
        }
    }

    private var networkChangeCount = 0
    /// How many times `onNetworkChanged()` was called during the call.
    public var networkChanges: Int { locked { networkChangeCount } }

    /// Like the core: after the call `.callEnded`.
    public func onNetworkChanged() throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            networkChangeCount += 1
        }
    }

    public func leave() async {
        var ended = state
        ended.connection = .ended(.left)
        emit(ended)
        stateReaders.close()
        video.close()
        audio.close()
        eventReaders.close()
    }

    private func host(_ action: String) throws {
        try locked {
            if case .ended = current.connection { throw SalonError.callEnded }
            actions.append(action)
        }
    }

    public func setLocked(_ locked: Bool) throws { try host("lock \(locked)") }
    public func admit(knockId: String) throws { try host("admit \(knockId)") }
    public func deny(knockId: String) throws { try host("deny \(knockId)") }
    public func remove(participantId: String) throws { try host("remove \(participantId)") }
    public func unban(banId: String) throws { try host("unban \(banId)") }
    public func askToMute(participantId: String) throws { try host("ask-mute \(participantId)") }
    public func mute(participantId: String, video: Bool) throws { try host("mute \(participantId) video=\(video)") }
    public func stopShare(participantId: String) throws { try host("stop-share \(participantId)") }
    public func setCohost(participantId: String, cohost: Bool) throws { try host("cohost \(participantId) \(cohost)") }
    public func setPanic(_ active: Bool) throws { try host("panic \(active)") }
    public func rotateLink() throws { try host("rotate") }
    public func turnOnEncryption() throws { try host("encrypt") }
    public func endRoom() throws { try host("end") }

    // Reactions, hands and chat: like the core with an instant server. A reaction comes back to
    // me as an event, a hand and a message land in the state; a guest's reaction or message
    // during panic is refused (as the server would); bad input is `.invalidInput`.

    private var reacted: [String] = []
    /// Every reaction sent, in order.
    public var sentReactions: [String] { locked { reacted } }
    /// The clock of the messages `sendChat` echoes (Unix milliseconds); tests may fix it.
    public var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Changes the state as the core would after the server's answer.
    private func update(_ change: (inout RoomState) -> Void) {
        locked {
            change(&current)
            stateReaders.publish(current)
        }
    }

    /// The server's refusal of a guest's reaction or message during panic; true if refused.
    private func refusedForPanic() -> Bool {
        let state = self.state
        guard state.panic && !state.isHost else { return false }
        eventReaders.publish(.refused(.notAllowed, message: "Paused by a host"))
        return true
    }

    private func checkOpen() throws {
        if case .ended = state.connection { throw SalonError.callEnded }
    }

    public func react(_ emoji: String) throws {
        try checkOpen()
        guard fakeReactions.contains(emoji) else { throw SalonError.invalidInput("not a reaction: \(emoji)") }
        if refusedForPanic() { return }
        locked { reacted.append(emoji) }
        eventReaders.publish(.reaction(participantId: state.me ?? "me", emoji: emoji))
    }

    public func raiseHand(_ raised: Bool) throws {
        try checkOpen()
        update { state in
            let last = (state.participants.compactMap(\.hand) + [state.myHand].compactMap { $0 }).max() ?? 0
            state.myHand = raised ? (state.myHand ?? last + 1) : nil
        }
    }

    public func lowerHands(participantId: String?) throws {
        try host("lower-hands \(participantId ?? "all")")
        guard state.isHost else {
            eventReaders.publish(.refused(.notAllowed, message: "Only a host can do that"))
            return
        }
        update { state in
            for i in state.participants.indices where participantId == nil || state.participants[i].id == participantId {
                state.participants[i].hand = nil
            }
            if participantId == nil || participantId == state.me { state.myHand = nil }
        }
    }

    public func sendChat(_ text: String) throws {
        try checkOpen()
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { throw SalonError.invalidInput("empty message") }
        if trimmed.unicodeScalars.count > maxChatCharacters {
            throw SalonError.invalidInput("longer than \(maxChatCharacters) characters")
        }
        if refusedForPanic() { return }
        let at = now()
        let name = options.name
        update { state in
            let id = (state.chat.map(\.id).max() ?? 0) + 1
            state.chat.append(ChatMessage(id: id, from: state.me ?? "me", name: name, atMs: at, text: trimmed))
            if state.chat.count > 200 { state.chat.removeFirst(state.chat.count - 200) }
        }
    }

    public func clearChat() throws {
        try host("clear-chat")
        guard state.role == .owner else {
            eventReaders.publish(.refused(.notAllowed, message: "Only the owner can clear the chat"))
            return
        }
        update { $0.chat = [] }
    }
}
