import Foundation

// Salon's own types for apps. They mirror the records of the generated bindings (SalonCoreFFI),
// with `Int` for counts and sizes and enums instead of stringly-typed fields, so that apps never
// import the generated module. Same names and shapes as the Kotlin wrapper (org.salon.core).

/// A friend in the local list: their display name and the link of their room.
public struct Friend: Equatable, Hashable, Identifiable, Sendable {
    public var id: Int64
    public var name: String
    public var roomLink: String
    public var notes: String
    /// Unix time in seconds.
    public var addedAt: Int64
    /// Their card carried a presence key: their door and who is inside can be watched.
    public var hasPresence: Bool
    /// Tell me (`PresenceUpdate.doorOpened`) when their door opens.
    public var notify: Bool

    public init(
        id: Int64, name: String, roomLink: String, notes: String, addedAt: Int64,
        hasPresence: Bool = false, notify: Bool = false
    ) {
        self.id = id
        self.name = name
        self.roomLink = roomLink
        self.notes = notes
        self.addedAt = addedAt
        self.hasPresence = hasPresence
        self.notify = notify
    }
}

/// How the owner sets the door of a room.
public enum DoorMode: Equatable, Hashable, Sendable {
    /// Open while I am inside (every room starts like this).
    case auto
    /// Open (until a time, if given).
    case open
    /// Closed, even while I am inside.
    case closed
}

/// My door as the server now has it.
public struct DoorState: Equatable, Hashable, Sendable {
    public var mode: DoorMode
    /// Unix seconds when an open door goes back to `.auto`.
    public var until: Int64?
    /// Friends (and people with the link) see the names of who is inside.
    public var showNames: Bool
    public var doorOpen: Bool
    public var people: Int

    public init(mode: DoorMode, until: Int64?, showNames: Bool, doorOpen: Bool, people: Int) {
        self.mode = mode
        self.until = until
        self.showNames = showNames
        self.doorOpen = doorOpen
        self.people = people
    }
}

/// A look into a room before joining.
public struct Peek: Equatable, Hashable, Sendable {
    public var roomId: String
    public var name: String?
    public var doorOpen: Bool
    public var people: Int
    /// Who is inside, when the door is open and the owner shows names; else nil.
    public var names: [String]?
    public var full: Bool
    public var locked: Bool

    public init(
        roomId: String, name: String?, doorOpen: Bool, people: Int, names: [String]?, full: Bool,
        locked: Bool
    ) {
        self.roomId = roomId
        self.name = name
        self.doorOpen = doorOpen
        self.people = people
        self.names = names
        self.full = full
        self.locked = locked
    }
}

/// A friend with their room's presence, as their server last said.
public struct FriendPresence: Equatable, Hashable, Sendable {
    public var friend: Friend
    /// False when the card has no presence key, the owner revoked it, or no answer came yet.
    public var available: Bool
    /// The presence connection to the friend's server is up.
    public var connected: Bool
    public var doorOpen: Bool
    /// Unix seconds when an open door closes by itself.
    public var until: Int64?
    public var people: Int
    /// Who is inside when the owner shows names; else nil.
    public var names: [String]?

    public init(
        friend: Friend, available: Bool, connected: Bool, doorOpen: Bool, until: Int64?,
        people: Int, names: [String]?
    ) {
        self.friend = friend
        self.available = available
        self.connected = connected
        self.doorOpen = doorOpen
        self.until = until
        self.people = people
        self.names = names
    }
}

/// What a presence watch tells.
public enum PresenceUpdate: Equatable, Sendable {
    /// Every friend with what is known now (after every change).
    case friends([FriendPresence])
    /// A friend marked `notify` opened their door (at most once per interval per friend).
    case doorOpened(FriendPresence)
}

/// A room I created. `hostKey` proves ownership: store it like a password.
public struct MyRoom: Equatable, Hashable, Identifiable, Sendable {
    public var id: String
    public var link: String
    public var hostKey: String
    public var name: String?
    /// Unix time in seconds.
    public var createdAt: Int64

    public init(id: String, link: String, hostKey: String, name: String?, createdAt: Int64) {
        self.id = id
        self.link = link
        self.hostKey = hostKey
        self.name = name
        self.createdAt = createdAt
    }
}

/// Whether a room exists and who is in it, as the room's server says right now.
public struct RoomStatus: Equatable, Hashable, Sendable {
    public var id: String
    public var name: String?
    public var participants: Int
    public var maxParticipants: Int
    public var full: Bool

    /// A room is "open" while someone is in it: that is when friends can drop in.
    public var isOpen: Bool { participants > 0 }

    public init(id: String, name: String?, participants: Int, maxParticipants: Int, full: Bool) {
        self.id = id
        self.name = name
        self.participants = participants
        self.maxParticipants = maxParticipants
        self.full = full
    }
}

/// How to join a call. The defaults are the core's.
public struct JoinOptions: Equatable, Hashable, Sendable {
    public var name: String
    public var microphoneOn: Bool
    public var cameraOn: Bool
    public var videoWidth: Int
    public var videoHeight: Int
    public var videoBitrateBps: Int
    public var videoMaxFps: Float

    public init(
        name: String,
        microphoneOn: Bool = true,
        cameraOn: Bool = true,
        videoWidth: Int = 640,
        videoHeight: Int = 360,
        videoBitrateBps: Int = 800_000,
        videoMaxFps: Float = 30
    ) {
        self.name = name
        self.microphoneOn = microphoneOn
        self.cameraOn = cameraOn
        self.videoWidth = videoWidth
        self.videoHeight = videoHeight
        self.videoBitrateBps = videoBitrateBps
        self.videoMaxFps = videoMaxFps
    }
}

/// A snapshot of a call: the room, everyone else in it, my role and switches, and the connection.
public struct RoomState: Equatable, Hashable, Sendable {
    public var roomId: String
    public var roomName: String?
    /// My participant id, once joined.
    public var me: String?
    /// Everyone else, in order of arrival.
    public var participants: [Participant]
    public var connection: Connection
    /// The current invite link (changes when a host makes a new one).
    public var link: String
    /// My role: `.owner` when I joined one of my rooms, `.cohost` when the owner named me.
    public var role: Role
    /// Newcomers wait in the lobby until a host lets them in.
    public var locked: Bool
    /// A host turned every guest's microphone and camera off until released.
    public var panic: Bool
    /// My own switches (a host's mute turns them off).
    public var microphoneOn: Bool
    public var cameraOn: Bool
    /// People waiting in the lobby, oldest first (hosts only).
    public var knocks: [Knock]
    /// People removed from this room (hosts only).
    public var bans: [Ban]
    /// Who speaks now, loudest first, as the server says (at most three; my own id when I
    /// speak). Only their audio is forwarded. `Participant.speaking` and `speaking` follow it.
    public var speakers: [String]
    /// I am among the `speakers`.
    public var speaking: Bool
    /// Somebody shows my video. While false the core sends none (frames given to
    /// `sendVideoFrame` are dropped), so the app may pause its camera.
    public var videoWatched: Bool
    /// End-to-end encryption of this call; nil in a room that is not encrypted (a legacy room).
    public var e2ee: E2ee?
    /// My hand is up: its place in the queue (smaller went up earlier); nil when down.
    public var myHand: UInt64?
    /// The room's chat I may read, oldest first (the newest 200).
    public var chat: [ChatMessage]

    public var isHost: Bool { role.isHost }

    /// The loudest speaker now (maybe me), or nil when nobody speaks.
    public var dominantSpeaker: String? { speakers.first }

    public init(
        roomId: String, roomName: String?, me: String?, participants: [Participant], connection: Connection,
        link: String = "", role: Role = .guest, locked: Bool = false, panic: Bool = false,
        microphoneOn: Bool = true, cameraOn: Bool = true, knocks: [Knock] = [], bans: [Ban] = [],
        speakers: [String] = [], speaking: Bool = false, videoWatched: Bool = true, e2ee: E2ee? = nil,
        myHand: UInt64? = nil, chat: [ChatMessage] = []
    ) {
        self.roomId = roomId
        self.roomName = roomName
        self.me = me
        self.participants = participants
        self.connection = connection
        self.link = link
        self.role = role
        self.locked = locked
        self.panic = panic
        self.microphoneOn = microphoneOn
        self.cameraOn = cameraOn
        self.knocks = knocks
        self.bans = bans
        self.speakers = speakers
        self.speaking = speaking
        self.videoWatched = videoWatched
        self.e2ee = e2ee
        self.myHand = myHand
        self.chat = chat
    }
}

/// One chat message of the room.
public struct ChatMessage: Equatable, Hashable, Identifiable, Sendable {
    /// The room's number for it (increasing).
    public var id: UInt64
    /// The sender's participant id and their name when they sent it.
    public var from: String
    public var name: String
    /// Unix milliseconds.
    public var atMs: Int64
    /// The text, to show as plain text; nil when it can't be read with this link (sealed under a
    /// key from before a new link this device never saw).
    public var text: String?

    public init(id: UInt64, from: String, name: String, atMs: Int64, text: String?) {
        self.id = id
        self.from = from
        self.name = name
        self.atMs = atMs
        self.text = text
    }
}

/// An encrypted call's safety code: everyone reading it aloud should see the same. It changes when
/// someone comes or goes.
public struct E2ee: Equatable, Hashable, Sendable {
    /// 12 digits, `dddd dddd dddd`.
    public var safetyCode: String
    /// People holding keys, me included.
    public var keyHolders: Int
    /// Participant ids whose keys could not be checked (yet): they see and hear nothing of me.
    public var unverified: [String]

    public init(safetyCode: String, keyHolders: Int, unverified: [String] = []) {
        self.safetyCode = safetyCode
        self.keyHolders = keyHolders
        self.unverified = unverified
    }
}

/// Another person in the room.
public struct Participant: Equatable, Hashable, Identifiable, Sendable {
    public var id: String
    public var name: String
    /// Their microphone switch.
    public var audioOn: Bool
    /// Their camera switch.
    public var videoOn: Bool
    /// Whether their audio reaches me.
    public var receivingAudio: Bool
    /// Whether their video reaches me.
    public var receivingVideo: Bool
    public var speaking: Bool
    public var role: Role
    /// Their hand is up: its place in the queue (smaller went up earlier); nil when down.
    public var hand: UInt64?
    /// They share their screen now: show it large. Its pictures come as `screenVideoId`.
    public var screen: Bool
    /// Whether their screen share reaches me.
    public var receivingScreen: Bool

    /// The id their screen share's pictures come with (and `Call.setView` takes).
    public var screenVideoId: String { Participant.screenVideoId(of: id) }

    /// The id `participantId`'s screen share comes with: the core's rule (`<id>|screen`).
    public static func screenVideoId(of participantId: String) -> String { "\(participantId)|screen" }

    public init(
        id: String, name: String, audioOn: Bool, videoOn: Bool,
        receivingAudio: Bool, receivingVideo: Bool, speaking: Bool, role: Role = .guest, hand: UInt64? = nil,
        screen: Bool = false, receivingScreen: Bool = false
    ) {
        self.id = id
        self.name = name
        self.audioOn = audioOn
        self.videoOn = videoOn
        self.receivingAudio = receivingAudio
        self.receivingVideo = receivingVideo
        self.speaking = speaking
        self.role = role
        self.hand = hand
        self.screen = screen
        self.receivingScreen = receivingScreen
    }
}

/// How the app shows someone's video: tell the core with `Call.setView`.
public enum ParticipantView: Equatable, Hashable, Sendable {
    /// Not on screen (scrolled off, another page, minimized): their video stops coming.
    case hidden
    /// A small tile: what everyone the app never set counts as.
    case thumbnail
    /// The main tile (pinned, or the only one filling the screen).
    case large
}

/// What someone may do in a room. Hosts (owner and co-hosts) act on people of a lower role.
public enum Role: Equatable, Hashable, Sendable {
    case guest
    /// Named by the owner for this call.
    case cohost
    /// Joined with the room's host key.
    case owner

    public var isHost: Bool { self != .guest }
}

/// Someone waiting in the lobby of a locked room.
public struct Knock: Equatable, Hashable, Identifiable, Sendable {
    public var id: String
    public var name: String
    /// Turned away before (0 or 1 times; twice and they cannot knock again).
    public var deniedBefore: Int

    public init(id: String, name: String, deniedBefore: Int) {
        self.id = id
        self.name = name
        self.deniedBefore = deniedBefore
    }
}

/// A removal that sticks to the person's device and network until a host lifts it.
public struct Ban: Equatable, Hashable, Identifiable, Sendable {
    public var id: String
    /// The name they had when removed.
    public var name: String
    /// Unix time in seconds.
    public var at: Int64

    public init(id: String, name: String, at: Int64) {
        self.id = id
        self.name = name
        self.at = at
    }
}

/// Where a call's connection stands.
public enum Connection: Equatable, Hashable, Sendable {
    case connecting
    /// The room is locked: waiting in the lobby until a host lets me in (`.connected`) or not
    /// (`.ended(.knockDenied)`). Can last minutes; `leave()` works meanwhile.
    case waiting(hostPresent: Bool)
    case connected
    /// Lost the connection and trying again; `attempt` counts from 1.
    case reconnecting(attempt: Int)
    /// The call is over.
    case ended(EndReason)
}

/// Why a call ended.
public enum EndReason: Equatable, Hashable, Sendable {
    /// I left.
    case left
    case roomNotFound
    case roomFull
    /// The server does not speak this app's protocol version: update the app.
    case incompatible
    /// A host removed me ("You were removed from this room"); rejoining will not work.
    case removed
    /// A host did not let me in from the lobby.
    case knockDenied
    /// A host ended the call for everyone.
    case roomEnded
    /// Anything else; the text says what.
    case error(String)
}

/// What a call tells besides its state: moments to show once, not to keep.
public enum CallEvent: Equatable, Hashable, Sendable {
    /// A host (`by`, their name) asks me to mute my microphone. My choice.
    case muteRequested(by: String)
    /// A host turned my microphone (and maybe camera) off; the core already did.
    case muted(by: String, microphoneOn: Bool, cameraOn: Bool)
    /// The server refused something I did and nothing changed; the message is for people.
    case refused(Refusal, message: String)
    /// Someone (maybe me) reacted: float `emoji` over their tile for a moment.
    case reaction(participantId: String, emoji: String)
}

/// Why the server refused.
public enum Refusal: Equatable, Hashable, Sendable {
    /// Not a host, aimed at an equal or higher role, a wrong host key, or unmuting during panic.
    case notAllowed
    /// The person, knock or ban is no longer there.
    case notFound
    case rateLimited
    /// Not acceptable (e.g. too long); the message says why.
    case invalid
    /// The server could not do it (its storage failed); try again later.
    case failed
}

/// An I420 picture: the Y plane, then U, then V, tightly packed (`width * height * 3 / 2`
/// bytes). Width and height are even.
public struct I420Frame: Equatable, Hashable, Sendable {
    public var width: Int
    public var height: Int
    public var data: Data
    public var timestampUs: Int64

    public init(width: Int, height: Int, data: Data, timestampUs: Int64) {
        self.width = width
        self.height = height
        self.data = data
        self.timestampUs = timestampUs
    }
}

/// Where the person is in a camera picture: `width` × `height` coverage bytes, row by row; 255
/// is the person, 0 the background, values between blend (a segmenter's confidence × 255). Any
/// size up to 4096 on a side: the core stretches it over the picture, so it must show the same
/// picture, in the same orientation.
public struct PersonMask: Equatable, Hashable, Sendable {
    public var width: Int
    public var height: Int
    public var data: Data

    public init(width: Int, height: Int, data: Data) {
        self.width = width
        self.height = height
        self.data = data
    }
}

/// What goes behind me in my video (`Call.setBackground`).
public enum Background: Equatable, Hashable, Sendable {
    case off
    case blur
    /// A picture, scaled to cover my video and cropped at its centre; at most 4096 on a side.
    case picture(I420Frame)
}

/// A decoded picture from another participant.
public struct RemoteFrame: Equatable, Sendable {
    public var participantId: String
    public var frame: I420Frame

    public init(participantId: String, frame: I420Frame) {
        self.participantId = participantId
        self.frame = frame
    }
}

/// Decoded audio from another participant: 48 kHz, `channels` interleaved.
public struct RemoteAudio: Equatable, Sendable {
    public var participantId: String
    public var pcm: [Int16]
    public var channels: Int

    public init(participantId: String, pcm: [Int16], channels: Int) {
        self.participantId = participantId
        self.pcm = pcm
        self.channels = channels
    }
}

/// What has arrived from one other participant.
public struct RemoteStats: Equatable, Hashable, Sendable {
    public var participantId: String
    public var framesReceived: Int
    public var framesDecoded: Int
    public var width: Int
    public var height: Int
    public var videoCodec: String
    public var audioPackets: Int
    public var audioFramesDecoded: Int

    public init(
        participantId: String, framesReceived: Int, framesDecoded: Int, width: Int, height: Int,
        videoCodec: String, audioPackets: Int, audioFramesDecoded: Int
    ) {
        self.participantId = participantId
        self.framesReceived = framesReceived
        self.framesDecoded = framesDecoded
        self.width = width
        self.height = height
        self.videoCodec = videoCodec
        self.audioPackets = audioPackets
        self.audioFramesDecoded = audioFramesDecoded
    }
}
