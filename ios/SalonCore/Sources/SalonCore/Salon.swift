import Foundation

/// What an app can do with Salon: keep a friend list, create rooms, see whether a room is open,
/// and join one. Apps depend on this protocol; `RustSalonService` implements it over the Rust
/// core and `FakeSalonService` in memory for previews and tests. Mirrors the Kotlin
/// `SalonService`.
///
/// Functions are `async` and nonisolated, so blocking work (SQLite) runs off the main actor and
/// network work on the core's own runtime. Failures are thrown as `SalonError`.
public protocol SalonService: AnyObject, Sendable {
    /// The core's version, e.g. "0.1.0".
    var coreVersion: String { get }

    // MARK: Friends

    func friends() async throws -> [Friend]
    /// Adds a friend by the link of their room. The same room twice is `.duplicateFriend`.
    func addFriend(name: String, roomLink: String, notes: String) async throws -> Friend
    /// Adds a friend from a card made by `friendCard` (`https://<server>/friend?…`, or the same query as `salon:friend?…`).
    func addFriendFromCard(_ card: String) async throws -> Friend
    /// `.notFound` if there is no such friend.
    func renameFriend(id: Int64, name: String) async throws
    /// `.notFound` if there is no such friend.
    func setFriendNotes(id: Int64, notes: String) async throws
    /// Whether a friend was removed.
    func removeFriend(id: Int64) async throws -> Bool
    /// A card a friend can add me from: my name and one of my rooms.
    func friendCard(myName: String, roomLink: String) async throws -> String

    // MARK: Drop-in presence

    /// My card for one of my rooms with its presence key: whoever adds it sees my door and who
    /// is inside. `.notAllowed` if the room is not mine.
    func myFriendCard(myName: String, roomLink: String) async throws -> String
    /// A new presence key for one of my rooms: every card shared before stops showing presence.
    func rotatePresenceKey(roomLink: String) async throws
    /// Opens (until `until`, Unix seconds, at most 7 days ahead), closes or resets the door of
    /// one of my rooms; `showNames`, when given, chooses whether names are shown.
    func setDoor(roomLink: String, mode: DoorMode, until: Int64?, showNames: Bool?) async throws
        -> DoorState
    /// Who is inside a room before joining (names when the owner shows them).
    func peek(link: String) async throws -> Peek
    /// Whether to be told (`.doorOpened`) when this friend's door opens.
    func setFriendNotify(id: Int64, notify: Bool) async throws
    /// My friends' presence, live: reading opens one connection per server (all the friends on
    /// it in one batch) and yields `.friends` after every change and `.doorOpened` for friends
    /// marked `notify` (at most once per `doorOpenedEverySeconds`, 0 for the core's 5 minutes).
    /// Ending the stream (or its task) stops it.
    func presence(doorOpenedEverySeconds: Int) -> AsyncStream<PresenceUpdate>
    /// Drops in on a friend: joins their room in one call (see `join`).
    func joinFriend(friendId: Int64, options: JoinOptions) async throws -> any Call

    // MARK: Rooms

    /// Creates a room on `server` (e.g. "https://salon.example.org") and remembers it as mine.
    func createRoom(server: String, name: String?) async throws -> MyRoom
    func myRooms() async throws -> [MyRoom]
    /// Whether a room of mine was forgotten (the room itself stays on its server).
    func forgetMyRoom(id: String) async throws -> Bool
    /// Whether the room behind `link` exists and who is in it; `.roomNotFound` if not.
    func roomStatus(link: String) async throws -> RoomStatus
    /// Joins the room behind `link`: returns once in, or waiting in the lobby of a locked room
    /// (`.waiting`); see `Call.states()` from then on. One of my rooms is joined as its owner.
    /// `.removed` if a host banned this device from the room.
    func join(link: String, options: JoinOptions) async throws -> any Call

    // MARK: Media helpers

    /// A synthetic moving picture (frame `index` of a 30 fps sequence), for demos without a camera.
    func testPatternFrame(width: Int, height: Int, index: Int64) throws -> I420Frame

    /// The reactions a room accepts (`Call.react`), in the order to show them (eight emoji).
    var reactions: [String] { get }
}

/// Longest chat message, in characters (`Call.sendChat`).
public let maxChatCharacters = 1000

extension SalonService {
    public func addFriend(name: String, roomLink: String) async throws -> Friend {
        try await addFriend(name: name, roomLink: roomLink, notes: "")
    }

    public func createRoom(server: String) async throws -> MyRoom {
        try await createRoom(server: server, name: nil)
    }

    public func setDoor(roomLink: String, mode: DoorMode) async throws -> DoorState {
        try await setDoor(roomLink: roomLink, mode: mode, until: nil, showNames: nil)
    }

    public func presence() -> AsyncStream<PresenceUpdate> {
        presence(doorOpenedEverySeconds: 0)
    }
}

/// A joined room. `state` is the latest snapshot and `states()` streams it; `videoFrames()`,
/// `audioFrames()` and `events()` stream from the moment of the call. After `leave()` every
/// stream finishes and the state ends on `.ended`. Mirrors the Kotlin `Call`.
///
/// Host actions (`setLocked` … `endRoom`) send one message and return; the result shows in the
/// state, and a refusal (not a host, the target outranks me, no longer there) comes as
/// `CallEvent.refused`. They throw `.invalidInput` for a malformed id, `.callEnded` after the
/// call, and `.network` while waiting or reconnecting.
public protocol Call: AnyObject, Sendable {
    /// The room as it is now: who is here, who speaks, my role, the lobby, the connection.
    var state: RoomState { get }

    /// The current state, then every change (a slow reader sees only the newest).
    func states() -> AsyncStream<RoomState>

    /// Moments the state does not keep: a host asks me to mute, a host muted me, a refusal.
    func events() -> AsyncStream<CallEvent>

    /// Decoded pictures of every other participant. A slow reader sees only the newest picture
    /// (older ones are dropped, never queued), so the core's decoder thread is never held up.
    func videoFrames() -> AsyncStream<RemoteFrame>

    /// Decoded audio of every other participant, 10–20 ms at a time; about a second is buffered.
    func audioFrames() -> AsyncStream<RemoteAudio>

    /// What has arrived from each other participant so far, ordered by participant id.
    func remoteStats() -> [RemoteStats]

    /// Sends a camera picture. Never blocks; once the call is over it throws `.callEnded`.
    func sendVideoFrame(_ frame: I420Frame) throws

    /// Sends a camera picture with the person segmenter's `mask` for it. With a background set
    /// (`setBackground`), the core blurs or replaces what is not the person on its encoder
    /// thread, before encoding. Never blocks.
    func sendVideoFrame(_ frame: I420Frame, mask: PersonMask) throws

    /// What goes behind me from the next picture on. While it is not `.off`, pictures sent
    /// without a mask go out as all background (blurred all over, or only the picture), never as
    /// the camera saw them. Throws `.invalidInput` for a picture that is not valid I420 or is
    /// larger than 4096 on a side.
    func setBackground(_ background: Background) throws

    /// Sends 10 or 20 ms of 48 kHz mono PCM (480 or 960 samples). Never blocks.
    func sendAudioFrame(_ pcm: [Int16]) throws

    /// Throws `.notAllowed` when turning it on while panic holds guests' microphones off.
    func setMicrophone(_ on: Bool) throws

    /// Throws `.notAllowed` when turning it on during panic.
    func setCamera(_ on: Bool) throws

    /// How the app shows `participantId`'s video: `.hidden` for tiles off screen (their video
    /// stops coming within about a second; their audio does not change), `.thumbnail` (what
    /// everyone never set counts as) or `.large` for the main tile. Until the first call every
    /// video arrives; from then on the core keeps the server told, coalesced. Call it when what
    /// is shown changes (a grid scrolled, a tile pinned), not per frame. Works in the lobby and
    /// while reconnecting; throws `.invalidInput` for a malformed id and `.callEnded` after the
    /// call.
    func setView(participantId: String, view: ParticipantView) throws

    /// The device's network changed: another path (Wi-Fi to mobile data and back, a VPN, a
    /// network again after none). In the room the core restarts ICE on the same connection, so
    /// my media moves to the new network and nobody else is renegotiated; in the lobby and while
    /// reconnecting it does nothing. Never blocks; throws `.callEnded` after the call (a change
    /// racing the end of the call, which the app can ignore).
    func onNetworkChanged() throws

    /// Leaves the room (also from the lobby). Safe to call more than once.
    func leave() async

    // MARK: Host actions

    /// Locks the room (newcomers knock) or unlocks it (everyone waiting comes in).
    func setLocked(_ locked: Bool) throws
    func admit(knockId: String) throws
    func deny(knockId: String) throws
    /// Disconnects them and bans their device and network from this room; also locks it.
    func remove(participantId: String) throws
    func unban(banId: String) throws
    /// Asks them to mute; they decide.
    func askToMute(participantId: String) throws
    /// Turns their microphone (and with `video`, camera) off.
    func mute(participantId: String, video: Bool) throws
    /// Stops their screen share (`Participant.screen`); they may share again later.
    func stopShare(participantId: String) throws
    /// The owner names (or un-names) a co-host.
    func setCohost(participantId: String, cohost: Bool) throws
    /// Panic: lock and turn every guest's microphone and camera off until released.
    func setPanic(_ active: Bool) throws
    /// A new invite link (`RoomState.link` follows); the old one stops working.
    func rotateLink() throws
    /// Turns end-to-end encryption on in a room made before it (`RoomState.e2ee` is nil): a new
    /// link with a new key (`RoomState.link` follows), then the call ends for everyone
    /// (`.roomEnded`); join again through the new link and share it.
    func turnOnEncryption() throws
    /// Ends the call for everyone, this one included (`.roomEnded`).
    func endRoom() throws

    // MARK: Reactions, hands and chat

    /// Sends a reaction, one of `SalonService.reactions`; everyone (me too) gets it as
    /// `.reaction`. Anything else is `.invalidInput`; beyond my budget, or a guest during panic,
    /// the server answers `.refused`.
    func react(_ emoji: String) throws
    /// Raises or lowers my hand; `RoomState.myHand` follows.
    func raiseHand(_ raised: Bool) throws
    /// (Hosts) lowers `participantId`'s hand, or with nil everyone's.
    func lowerHands(participantId: String?) throws
    /// Sends a chat message (1–1000 characters once trimmed, else `.invalidInput`); it arrives in
    /// `RoomState.chat`. End-to-end encrypted in an encrypted room.
    func sendChat(_ text: String) throws
    /// (The owner) deletes the room's chat for everyone.
    func clearChat() throws
}
