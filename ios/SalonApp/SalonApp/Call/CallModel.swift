import Foundation
import SalonCore

/// Everything the call screen shows.
struct CallState {
    var roomName: String?
    var status: CallStatus = .joining
    var tiles: [Tile] = []
    /// Someone's screen share (one at a time): drawn large above everyone's tiles.
    var share: Tile?
    var sendingTestPattern = false
    /// Owner or co-host: the host menu, the lobby and each tile's menu are shown.
    var isHost = false
    var locked = false
    var panic = false
    /// People waiting in the lobby (hosts only).
    var knocks: [Knock] = []
    /// The invite link to share (changes after "New link").
    var link: String?
    /// A one-off message: a host asked me to mute, muted me, or refused something.
    var notice: String?
    /// The tile I pinned (drawn big), while they are here.
    var pinned: String?
    /// Somebody shows my video; while false the core sends none and the test picture pauses.
    var videoWatched = true
    /// The call's end-to-end encryption (the safety code); nil in a room that is not encrypted.
    var e2ee: E2ee?
    /// The reactions to pick from (the core's eight, in its order).
    var reactions: [String] = []
    /// My own reaction, floating for a moment (I have no tile of my own).
    var myReaction: Floating?
    /// My hand is up.
    var handRaised = false
    /// Raised hands in queue order, me included (hosts only: they lower them).
    var hands: [RaisedHand] = []
    /// The room's chat, oldest first.
    var chat: [ChatLine] = []
    /// The chat sheet is open.
    var chatOpen = false
    /// What I am typing (at most `maxChatCharacters`).
    var chatDraft = ""
    /// Messages from others not seen yet (0 while the chat is open).
    var unread = 0
    /// I own the room: I may clear the chat for everyone.
    var canClearChat = false
    /// A host's panic pauses a guest's chat and reactions (the server would refuse them).
    var chatPaused = false

    /// The tile drawn big above the grid: someone's screen share, else the pinned one, else the only one.
    var mainTile: Tile? {
        if let share { return share }
        guard let id = TileViews.mainTile(participants: tiles.map(\.id), pinned: pinned) else { return nil }
        return tiles.first { $0.id == id }
    }

    /// The tiles in the grid: everyone but the `mainTile`.
    var gridTiles: [Tile] {
        guard let main = mainTile else { return tiles }
        return tiles.filter { $0.id != main.id }
    }
}

enum CallStatus: Equatable {
    case joining
    /// In the lobby of a locked room until a host lets me in.
    case waiting(hostPresent: Bool)
    case live
    case reconnecting(attempt: Int)
    case ended(String)
}

/// One other person: their name, whether they speak or are muted, and their latest picture.
struct Tile: Identifiable {
    let id: String
    let name: String
    let speaking: Bool
    /// The loudest speaker now (first of the room's speakers): a stronger ring.
    var dominant = false
    let muted: Bool
    let cameraOff: Bool
    let picture: TilePicture?
    /// Whether I may ask them to mute, mute or remove them (I am a host of a higher role).
    var canModerate = false
    /// Their keys could not be checked: they see and hear nothing of me (a broken-lock badge).
    var unverified = false
    /// Their hand is up: their place in the queue, from 1.
    var hand: Int?
    /// Their reaction, floating over the tile for a moment.
    var reaction: Floating?
    /// A screen share (its `id` is the presenter's screen video id): large, labelled "Presenting".
    var presenting = false
    /// For a share: the presenter's participant id (what a host stops).
    var presenter: String?
}

/// A reaction shown for `CallModel.reactionSeconds`; `seq` tells a repeated emoji from the last one.
struct Floating: Equatable {
    let emoji: String
    let seq: Int
}

/// A raised hand in the queue (`position` from 1); `mine` when it is my own.
struct RaisedHand: Equatable, Identifiable {
    let participantId: String
    let name: String
    let position: Int
    var mine = false
    var id: String { participantId }
}

/// One chat message as shown: `text` is plain text, never markup; nil when it can't be read with
/// this link (sealed under a key this device never held).
struct ChatLine: Equatable, Identifiable {
    let id: UInt64
    let name: String
    let text: String?
    let mine: Bool
}

/// The raised hands of a room as a queue, for hosts to take in turn.
enum Hands {
    /// Everyone whose hand is up, me included ("You"), in the order they raised it: the core's
    /// numbers only order the queue, the positions shown count from 1.
    static func queue(_ room: RoomState) -> [RaisedHand] {
        var up = room.participants.compactMap { p in p.hand.map { (order: $0, id: p.id, name: p.name) } }
        if let me = room.me, let mine = room.myHand { up.append((order: mine, id: me, name: "You")) }
        up.sort { ($0.order, $0.id) < ($1.order, $1.id) }
        return up.enumerated().map { i, hand in
            RaisedHand(participantId: hand.id, name: hand.name, position: i + 1, mine: hand.id == room.me)
        }
    }
}

/// Everything the user can do in a call.
enum CallEvent {
    /// Sends a moving test picture as my camera, for trying Salon without a camera.
    case toggleTestPattern
    case leave
    case dismissNotice
    /// What the grid shows now (see `TilesShown`); the core is told what changed.
    case shown(TilesShown)
    /// Draws them big (and tells the core so); pinning them again unpins.
    case pin(participantId: String)
    // Host actions.
    case toggleLock
    case togglePanic
    case newLink
    case endForEveryone
    case admit(knockId: String)
    case deny(knockId: String)
    case askToMute(participantId: String)
    case mute(participantId: String)
    case remove(participantId: String)
    /// (Hosts) stops this person's screen share.
    case stopShare(participantId: String)
    // Reactions, hands and chat.
    case react(String)
    /// Raises my hand, or lowers it.
    case toggleHand
    /// (Hosts) lowers one person's hand.
    case lowerHand(participantId: String)
    /// (Hosts) lowers every hand.
    case lowerAllHands
    case openChat
    case closeChat
    /// The chat field's text changed (cut at `maxChatCharacters`).
    case chatDraft(String)
    /// Sends the draft (trimmed; nothing if blank).
    case sendChat
    /// (The owner) deletes the chat for everyone.
    case clearChat
}

/// Joins the room behind `link` as `myName` and shows it; mirrors the Android `CallViewModel`.
/// The phone's own camera and microphone are not captured yet: it joins with both off, and can
/// send the core's test pattern instead. The core hears of the device's network changes
/// (`network`) while the call lasts.
@MainActor
final class CallModel: ObservableObject {
    @Published private(set) var state = CallState()
    private let salon: any SalonService
    private let link: String
    private let myName: String
    private var call: (any Call)?
    private var room: RoomState?
    private var pictures: [String: TilePicture] = [:]
    private var testPattern: Task<Void, Never>?
    private let network: any NetworkPaths
    /// Tells the call of network changes, until the call ends.
    private var watchingNetwork: Task<Void, Never>?
    private var pinned: String?
    private var shown: TilesShown?
    private var views: TileViews?
    /// The participants the views were last worked out for.
    private var viewedIds: [String]?

    /// A call the pre-join screen already joined: `run` only shows it.
    private let joined: (any Call)?
    /// Reactions floating now, by participant id (mine under my own id).
    private var floating: [String: Floating] = [:]
    private var floatSeq = 0
    /// The newest chat message id seen with the chat open.
    private var readUpTo: UInt64 = 0

    /// How long a reaction floats over a tile.
    nonisolated static let reactionSeconds = 2.0

    init(
        salon: any SalonService, link: String, myName: String, joined: (any Call)? = nil,
        network: any NetworkPaths = DevicePaths()
    ) {
        self.salon = salon
        self.link = link
        self.myName = myName
        self.joined = joined
        self.network = network
        state.reactions = salon.reactions
    }

    /// Joins (unless the pre-join screen already did), then shows the call until it ends or the
    /// screen goes away (which cancels this and leaves the call).
    func run() async {
        let call: any Call
        if let joined {
            call = joined
        } else {
            do {
                call = try await salon.join(
                    link: link, options: JoinOptions.camera(name: myName, microphoneOn: false, cameraOn: false))
            } catch {
                state.status = .ended(error.localizedDescription)
                return
            }
        }
        self.call = call
        watchNetwork(call)
        views = TileViews { [call] id, view in try call.setView(participantId: id, view: view) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { @MainActor [weak self] in
                for await room in call.states() { self?.show(room) }
            }
            group.addTask { @MainActor [weak self] in
                for await event in call.events() {
                    if case let .reaction(id, emoji) = event {
                        self?.float(emoji, from: id)
                    } else {
                        self?.state.notice = CallModel.describe(event)
                    }
                }
            }
            group.addTask { [weak self] in
                // Off the main actor: converting a picture is real work.
                for await remote in call.videoFrames() {
                    guard let picture = try? remote.frame.tilePicture() else { continue }
                    await self?.show(picture, of: remote.participantId)
                }
            }
            // Remote audio plays in CallMedia's voice-processing engine (Media/CallMedia.swift),
            // so that the echo canceller hears what it has to cancel.
        }
        // The streams end when the call is left, or when this task is cancelled.
        leave()
    }

    func send(_ event: CallEvent) {
        switch event {
        case .toggleTestPattern: toggleTestPattern()
        case .leave: leave()
        case .dismissNotice: state.notice = nil
        case let .shown(shown):
            guard shown != self.shown else { return }
            self.shown = shown
            updateViews(force: true)
        case let .pin(id):
            pinned = pinned == id ? nil : id
            render()
            updateViews(force: true)
        case .toggleLock: host { [locked = state.locked] in try $0.setLocked(!locked) }
        case .togglePanic: host { [panic = state.panic] in try $0.setPanic(!panic) }
        case .newLink: host { try $0.rotateLink() }
        case .endForEveryone: host { try $0.endRoom() }
        case let .admit(id): host { try $0.admit(knockId: id) }
        case let .deny(id): host { try $0.deny(knockId: id) }
        case let .askToMute(id): host { try $0.askToMute(participantId: id) }
        case let .mute(id): host { try $0.mute(participantId: id, video: false) }
        case let .stopShare(id): host { try $0.stopShare(participantId: id) }
        case let .remove(id): host { try $0.remove(participantId: id) }
        case let .react(emoji): host { try $0.react(emoji) }
        case .toggleHand: host { [raised = state.handRaised] in try $0.raiseHand(!raised) }
        case let .lowerHand(id): host { try $0.lowerHands(participantId: id) }
        case .lowerAllHands: host { try $0.lowerHands(participantId: nil) }
        case .openChat:
            state.chatOpen = true
            render()
        case .closeChat:
            state.chatOpen = false
            render()
        case let .chatDraft(text): state.chatDraft = String(text.prefix(maxChatCharacters))
        case .sendChat: sendChat()
        case .clearChat: host { try $0.clearChat() }
        }
    }

    /// Floats a reaction over its sender's tile for `reactionSeconds`; a newer one replaces it.
    private func float(_ emoji: String, from participantId: String) {
        floatSeq += 1
        let shown = Floating(emoji: emoji, seq: floatSeq)
        floating[participantId] = shown
        render()
        Task { @MainActor [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(CallModel.reactionSeconds * 1_000_000_000))
            guard let self, self.floating[participantId] == shown else { return }
            self.floating[participantId] = nil
            self.render()
        }
    }

    private func sendChat() {
        let text = state.chatDraft.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, let call else { return }
        do {
            try call.sendChat(text)
            state.chatDraft = ""
        } catch {
            state.notice = error.localizedDescription
        }
    }

    /// A host action: the result shows in the state; a refusal arrives as an event.
    private func host(_ action: (any Call) throws -> Void) {
        guard let call else { return }
        do {
            try action(call)
        } catch {
            state.notice = error.localizedDescription
        }
    }

    private func show(_ room: RoomState) {
        self.room = room
        // An ended call has no media left to move.
        if case .ended = room.connection { watchingNetwork?.cancel() }
        render()
        updateViews(force: false)
    }

    /// Another network (Wi-Fi to mobile data, a VPN, a network again after none): the core
    /// restarts ICE, so the media moves without the call being left and joined again.
    private func watchNetwork(_ call: any Call) {
        let network = self.network
        watchingNetwork = Task.detached {
            var policy = NetworkChangePolicy()
            for await path in network.paths() {
                // Throws only `.callEnded`: a change racing the end of the call has nothing to move.
                if policy.changed(to: path) { try? call.onNetworkChanged() }
            }
        }
    }

    /// Views follow who is here, the pin and the grid's reports; never the pictures or the
    /// speakers, so the core hears when what is shown changes, not per frame.
    private func updateViews(force: Bool) {
        guard let room, let views else { return }
        let ids = room.participants.map(\.id)
        if !force && ids == viewedIds { return }
        viewedIds = ids
        views.update(participants: ids, main: TileViews.mainTile(participants: ids, pinned: pinned), shown: shown)
    }

    private func show(_ picture: TilePicture, of participantId: String) {
        pictures[participantId] = picture
        render()
    }

    private func render() {
        guard let room else { return }
        state.roomName = room.roomName
        switch room.connection {
        case .connecting: state.status = .joining
        case let .waiting(hostPresent): state.status = .waiting(hostPresent: hostPresent)
        case .connected: state.status = .live
        case let .reconnecting(attempt): state.status = .reconnecting(attempt: attempt)
        case let .ended(reason): state.status = .ended(Self.describe(reason))
        }
        let queue = Hands.queue(room)
        state.tiles = room.participants.map { p in
            Tile(
                id: p.id, name: p.name, speaking: p.speaking, dominant: p.id == room.dominantSpeaker,
                muted: !p.audioOn, cameraOff: !p.videoOn, picture: pictures[p.id],
                canModerate: Self.outranks(room.role, p.role),
                unverified: Encryption.unverified(room.e2ee, p.id),
                hand: queue.first { $0.participantId == p.id }?.position,
                reaction: floating[p.id])
        }
        state.share = room.participants.first(where: \.screen).map { p in
            Tile(
                id: p.screenVideoId, name: "\(p.name)'s screen", speaking: false, muted: false, cameraOff: false,
                picture: pictures[p.screenVideoId], canModerate: Self.outranks(room.role, p.role),
                presenting: true, presenter: p.id)
        }
        state.myReaction = room.me.flatMap { floating[$0] }
        state.handRaised = room.myHand != nil
        state.hands = room.isHost ? queue : []
        state.chat = room.chat.map { m in
            ChatLine(id: m.id, name: m.from == room.me ? "You" : m.name, text: m.text, mine: m.from == room.me)
        }
        if state.chatOpen { readUpTo = max(readUpTo, room.chat.last?.id ?? 0) }
        state.unread = state.chatOpen ? 0 : room.chat.filter { $0.id > readUpTo && $0.from != room.me }.count
        state.canClearChat = room.role == .owner
        state.chatPaused = room.panic && !room.isHost
        state.pinned = pinned.flatMap { id in room.participants.contains { $0.id == id } ? id : nil }
        state.videoWatched = room.videoWatched
        state.isHost = room.isHost
        state.locked = room.locked
        state.panic = room.panic
        state.knocks = room.knocks
        state.link = room.link
        state.e2ee = room.e2ee
    }

    private func toggleTestPattern() {
        guard let call else { return }
        if let running = testPattern {
            running.cancel()
            testPattern = nil
            try? call.setCamera(false)
        } else {
            do {
                try call.setCamera(true)
            } catch {
                state.notice = error.localizedDescription
                return
            }
            testPattern = Task.detached { [salon] in
                var index: Int64 = 0
                while !Task.isCancelled {
                    do {
                        // Nobody shows my video: the core would drop the picture, so make none.
                        if call.state.videoWatched {
                            try call.sendVideoFrame(salon.testPatternFrame(width: 640, height: 360, index: index))
                            index += 1
                        }
                    } catch {
                        break
                    }
                    try? await Task.sleep(nanoseconds: 66_000_000)  // about 15 pictures a second
                }
            }
        }
        state.sendingTestPattern = testPattern != nil
    }

    /// Leaves in a task of its own, so that leaving finishes even as this screen goes away.
    private func leave() {
        testPattern?.cancel()
        testPattern = nil
        watchingNetwork?.cancel()
        guard let call else { return }
        Task.detached { await call.leave() }
    }

    private static func describe(_ reason: EndReason) -> String {
        switch reason {
        case .left: return "You left"
        case .roomNotFound: return "This room no longer exists"
        case .roomFull: return "The room is full"
        case .incompatible: return "Update Salon to join this room"
        case .removed: return "You were removed from this room"
        case .knockDenied: return "The host didn't let you in"
        case .roomEnded: return "The host ended the call"
        case let .error(message): return message
        }
    }

    private static func describe(_ event: SalonCore.CallEvent) -> String {
        switch event {
        case let .muteRequested(by): return "\(by) asks you to mute your microphone"
        case let .muted(by, _, _): return "\(by) turned your microphone off"
        case let .refused(_, message): return message
        case let .reaction(_, emoji): return emoji
        }
    }

    /// Hosts act only on people of a lower role.
    private static func outranks(_ me: Role, _ them: Role) -> Bool {
        func rank(_ role: Role) -> Int {
            switch role {
            case .guest: return 0
            case .cohost: return 1
            case .owner: return 2
            }
        }
        return me.isHost && rank(me) > rank(them)
    }
}
