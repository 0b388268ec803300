//! Salon's signaling wire types.
//!
//! Every message between a participant (browser guest page, the Rust client core) and the server
//! is one JSON object sent as one WebSocket text frame, tagged by its `"type"` field. This crate
//! is the single definition of that language: the server and the core depend on it, and
//! `docs/protocol.md` describes the same types for the browser.
//!
//! Decoding is strict and total: [`decode_client`] and [`decode_server`] check the size first,
//! then the JSON shape, then every field ([`Validate`]), and return a [`ProtocolError`] that maps
//! to an [`ErrorCode`] for the reply. Nothing here panics on input. Unknown message types are
//! errors; unknown fields are ignored, so a newer peer can add optional fields.

pub mod presence;
pub mod screen;
pub mod social;
mod validate;

use serde::{Deserialize, Serialize};

pub use presence::{
    MAX_PRESENCE_ROOMS, PresenceClientMessage, PresenceServerMessage, PresenceSubscription,
    RoomPresence, decode_presence_client, decode_presence_server, validate_presence_key,
};
pub use screen::{MAX_SHARES, SCREEN_STREAM_SUFFIX, VideoSource, split_stream_id, video_stream_id};
pub use social::{
    ChatMessage, MAX_CHAT_CHARS, MAX_CHAT_HISTORY_BATCH, MAX_CHAT_SEALED_CHARS, REACTIONS,
};
pub use validate::{
    MAX_BANS_LISTED, MAX_MOVED_URL_BYTES, Validate, check_moved_url, clean_display_name,
    validate_device_id, validate_room_id,
};

/// Version of the signaling protocol. A client states the version it speaks in
/// [`ClientMessage::Join`]; the server refuses any other with [`ErrorCode::UnsupportedVersion`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest WebSocket message either side accepts, in bytes. An SDP for a full room
/// (50 participants, two media sections each) stays well below this.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Largest SDP accepted, in bytes.
pub const MAX_SDP_BYTES: usize = 200 * 1024;

/// Largest ICE candidate line accepted, in bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;

/// Display names (of people and rooms) are trimmed and then hold 1 to this many characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Most people in one room at once.
pub const MAX_PARTICIPANTS: usize = 50;

/// Room ids are this many URL-safe base64 characters (128 random bits).
pub const ROOM_ID_LEN: usize = 22;

/// Most participants whose audio is forwarded at once (the loudest; see
/// [`ServerMessage::Speakers`]).
pub const MAX_SPEAKERS: usize = 3;

/// At most this many simulcast layers per video (browsers send up to three).
pub const MAX_SIMULCAST_LAYERS: usize = 3;

/// A simulcast layer's id (RFC 8851 `rid`) is at most this long.
pub const MAX_RID_CHARS: usize = 16;

/// Participant ids are opaque strings of at most this many characters.
pub const MAX_PARTICIPANT_ID_CHARS: usize = 64;

/// A message from a participant to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on a new socket: who I am and which protocol I speak.
    Join {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// Display name, 1–64 characters after trimming, no control characters.
        name: String,
        /// What the participant starts publishing.
        #[serde(default)]
        media: MediaState,
        /// Set when reconnecting: take back the identity from an earlier `joined`, replacing
        /// that connection if the server still has it (so the others see no ghost).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
        /// The room's host key (from room creation): proves the sender owns the room. A wrong
        /// key is refused with [`ErrorCode::NotAllowed`]; the join goes on as a guest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_key: Option<String>,
        /// A random id the client keeps (browser local storage, the app's database): lets a
        /// removal stick to this browser or device. 16–64 URL-safe characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// With `resume`: the client kept its peer connection and would like to go on with it
        /// (a signaling blip, media still up). The server answers with `media_kept` in
        /// `joined`; when that is false the client starts over with a new connection and offer.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keep_media: bool,
        /// "I encrypt my media end to end": the commitment to this call's public key
        /// (ADR 0003 §2.2). An end-to-end encrypted room refuses a join without it
        /// ([`ErrorCode::E2eeRequired`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        e2ee: Option<E2eeJoin>,
    },
    /// The participant's SDP offer. The first offer after `joined` publishes its media; the
    /// server answers with [`ServerMessage::Answer`].
    Offer { sdp: String },
    /// The participant's answer to a [`ServerMessage::Offer`].
    Answer { sdp: String },
    /// A trickled ICE candidate of the participant.
    IceCandidate(IceCandidate),
    /// Microphone / camera switched on or off.
    Media(MediaState),
    /// Keep-alive; the server answers [`ServerMessage::Pong`].
    Ping,
    /// Leaving on purpose. The server closes the socket afterwards.
    Leave,

    // Host actions. From a guest (or aimed at someone of equal or higher role) they are refused
    // with [`ErrorCode::NotAllowed`] and change nothing.
    /// Lock or unlock the room. In a locked room newcomers wait in the lobby until a host
    /// admits them.
    SetLocked { locked: bool },
    /// Let a knocking person in.
    Admit { knock_id: String },
    /// Turn a knocking person away. Someone denied twice cannot knock again until the room
    /// empties.
    Deny { knock_id: String },
    /// Disconnect someone and ban their device and address from this room (until a host lifts
    /// the ban). Locks the room too; a host can unlock.
    Remove { participant_id: String },
    /// Lift a ban (see [`ServerMessage::Bans`]).
    Unban { ban_id: String },
    /// Ask someone to mute their microphone; they choose.
    AskMute { participant_id: String },
    /// Turn someone's microphone (and with `video`, their camera) off. The server stops
    /// forwarding it; they can switch it back on themselves unless the room is paused.
    Mute {
        participant_id: String,
        #[serde(default)]
        video: bool,
    },
    /// Name or un-name a co-host for this session (the owner only).
    SetCohost {
        participant_id: String,
        cohost: bool,
    },
    /// Panic: lock the room, turn off every guest's microphone and camera and keep them off
    /// until released (`active: false`). The lock stays after release.
    SetPanic { active: bool },
    /// Make a new invite link; the old one stops working for anyone not already inside. With
    /// `e2ee: true` the room becomes end-to-end encrypted from then on (it never goes back).
    RotateLink {
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        e2ee: bool,
    },
    /// End the call for everyone (the room itself stays, with its lock and bans).
    EndRoom,
    /// The videos this participant shows now, and how big. Only their video is forwarded to
    /// it: everyone not listed is hidden (off screen, on another page, minimized). Until a
    /// participant sends its first `view`, it receives every video. Send the whole view each
    /// time it changes (debounced: at most a few per second); at most [`MAX_PARTICIPANTS`]
    /// tiles, each participant once.
    View { tiles: Vec<Tile> },
    /// This participant's public key for the call, with the MAC that proves it holds the
    /// room secret (ADR 0003 §2.2). The server relays it to everyone else and keeps the latest
    /// with the participant, in memory only.
    E2eeAnnounce {
        #[serde(rename = "pub")]
        public: String,
        mac: String,
    },
    /// Sealed boxes (a sender key or a new room secret) for other members; each goes to its
    /// `to` only, as [`ServerMessage::E2eeKey`]. At most [`MAX_PARTICIPANTS`]` - 1` boxes.
    E2eeKeys { boxes: Vec<E2eeBox> },
    /// A key for `participant_id`'s media arrived late: ask them for a keyframe (throttled
    /// like any keyframe request).
    KeyframeRequest { participant_id: String },
    /// Start (`active: true`) or stop presenting: the client's second video section carries
    /// its screen (see `docs/protocol.md`, "Screen sharing"). At most [`MAX_SHARES`] member
    /// presents at a time: the first one wins, a later one is refused with `not_allowed`.
    Share { active: bool },
    /// (Hosts) stop someone's screen share; they get [`ServerMessage::ShareStopped`].
    StopShare { participant_id: String },

    // The social side (issue 14). Refused with `rate_limited` beyond a member's budget, and
    // (reactions and chat from guests) with `not_allowed` during panic.
    /// A reaction (one of [`REACTIONS`]) floating over my tile for everyone.
    React { emoji: String },
    /// Raise or lower my hand. Raised hands form a queue in the order they went up.
    RaiseHand { raised: bool },
    /// (Hosts) lower someone's hand; without `participant_id`, everyone's.
    LowerHands {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        participant_id: Option<String>,
    },
    /// A chat message to the room: `text` in a room without end-to-end encryption, `sealed`
    /// (ADR 0003 §16) in an encrypted one. The server keeps it for the people inside now and
    /// the room's owner, and shows it to them when they come back.
    ChatSend {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed: Option<String>,
    },
    /// (The owner) delete the room's chat, for everyone.
    ChatClear,
}

/// The end-to-end part of a `join` (ADR 0003).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct E2eeJoin {
    /// `base64url(SHA-256("salon/e2ee/v1/commit" || pub))`, 43 characters.
    pub commit: String,
}

/// What a participant's key exchange looks like to the others: the commitment from its join
/// and, once announced, its public key and MAC. All base64url (no padding), 43 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct E2eeMember {
    pub commit: String,
    #[serde(rename = "pub", default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// One sealed box for one member (ADR 0003 §2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct E2eeBox {
    pub to: String,
    #[serde(rename = "box")]
    pub sealed: String,
}

/// A commitment, public key or MAC: 32 bytes as unpadded base64url.
pub const E2EE_KEY_CHARS: usize = 43;

/// A sealed box is at most this many base64url characters (the largest, a room secret, is 82).
pub const MAX_E2EE_BOX_CHARS: usize = 128;

/// One video a participant shows (see [`ClientMessage::View`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tile {
    pub participant_id: String,
    /// Which of their videos: the camera (the default) or their screen share.
    #[serde(default, skip_serializing_if = "VideoSource::is_camera")]
    pub source: VideoSource,
    #[serde(default)]
    pub size: TileSize,
    /// The tile's size on screen in device pixels, when known (0: unknown). At most
    /// [`MAX_TILE_PIXELS`] each way.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub width: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub height: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Largest tile width or height a `view` may state, in pixels.
pub const MAX_TILE_PIXELS: u32 = 16_384;

/// How a participant shows someone's video.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TileSize {
    /// A small tile in a grid.
    #[default]
    Thumbnail,
    /// The main tile: speaker view, a pinned participant, a grid of very few.
    Large,
}

/// A message from the server to a participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Reply to [`ClientMessage::Join`]: you are in.
    Joined {
        version: u32,
        /// Your participant id in this room.
        participant_id: String,
        room: RoomInfo,
        /// Everyone else already in the room.
        participants: Vec<Participant>,
        /// Secret that lets this participant reconnect under the same id (see `Resume`).
        resume_token: String,
        /// True when this join took over an earlier connection of the same participant.
        #[serde(default)]
        resumed: bool,
        /// Your role in the room.
        #[serde(default)]
        role: Role,
        /// People waiting in the lobby (hosts only; empty for guests).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        knocks: Vec<Knock>,
        /// A resume with `keep_media` re-attached to the participant's existing peer
        /// connection: no new offer, the others were not renegotiated.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        media_kept: bool,
        /// TURN servers to reach the media through when a direct path fails, with credentials
        /// minted for this participant (they expire; a later `joined` brings new ones). Empty
        /// when the server has none configured.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// The room is locked: you wait in the lobby until a host admits you (then `joined`
    /// follows) or denies you (a fatal `knock_denied`). No media and no participant list
    /// reach you meanwhile.
    Waiting {
        /// The room's name, to show while waiting.
        room_name: Option<String>,
        /// Whether any host is in the room to answer right now.
        host_present: bool,
    },
    /// The room's state changed: lock, panic, or a new invite link (`room.id`).
    RoomUpdated { room: RoomInfo },
    /// (Hosts) someone knocked.
    KnockReceived { knock: Knock },
    /// (Hosts) a knock was admitted, denied or given up; remove it from the list.
    KnockEnded { knock_id: String },
    /// (Hosts) the room's ban list, sent after `joined` and whenever it changes.
    Bans { bans: Vec<Ban> },
    /// A host asks you to mute your microphone. Your choice.
    MuteRequested { by: String },
    /// A host turned your microphone (and maybe camera) off: `media` is your state now.
    /// Turn the local devices off to match.
    Muted { by: String, media: MediaState },
    /// A host stopped your screen share (`by` is their name): stop capturing it.
    ShareStopped { by: String },
    /// Someone entered the room.
    ParticipantJoined { participant: Participant },
    /// Someone's published state or role changed (mute, camera, co-host). Also sent to the
    /// participant themself when a host changed it.
    ParticipantUpdated { participant: Participant },
    /// Someone left (on purpose, lost connection, or ICE failed).
    ParticipantLeft { participant_id: String },
    /// The server's answer to the participant's offer.
    Answer { sdp: String },
    /// The server renegotiates: tracks of other participants were added or removed.
    /// The participant answers with [`ClientMessage::Answer`]. Each forwarded track's media
    /// stream id is the publishing participant's id.
    Offer { sdp: String },
    /// Reply to [`ClientMessage::Ping`].
    Pong,
    /// Who is speaking now, loudest first (at most [`MAX_SPEAKERS`]; empty when nobody is).
    /// Only these participants' audio is forwarded (you never get your own, but your id is
    /// listed when you speak). Sent whenever the list changes, at most about five times a
    /// second.
    Speakers { speakers: Vec<String> },
    /// Whether anyone watches your video now. When nobody does (`watched: false`), stop
    /// encoding and sending it (keep the track) until `watched: true` comes; the server asks
    /// for a keyframe then.
    VideoWatched { watched: bool },
    /// Which simulcast layers of your video someone watches now, by rid (lowest first): keep
    /// encoding and sending these, pause the others (keep their encodings; browsers:
    /// `RTCRtpSender.setParameters` with `active: false`). Sent only for video published with
    /// simulcast, while it is watched (never empty: with nobody watching,
    /// [`ServerMessage::VideoWatched`] says so); a layer nobody needs goes off after about 5 s,
    /// one somebody needs comes back at once. Until the first one, send every layer.
    VideoLayers { layers: Vec<String> },
    /// A member announced (or re-announced, after a new link) its public key.
    E2eeAnnounce {
        participant_id: String,
        #[serde(rename = "pub")]
        public: String,
        mac: String,
    },
    /// A sealed box from `from` for you (see [`ClientMessage::E2eeKeys`]).
    E2eeKey {
        from: String,
        #[serde(rename = "box")]
        sealed: String,
    },
    /// Someone reacted (also sent back to the sender).
    Reaction {
        participant_id: String,
        emoji: String,
    },
    /// A new chat message (also sent back to the sender: its `id` and `at` are the room's).
    Chat { message: ChatMessage },
    /// Chat kept from before you (re)joined, that you may read: oldest first, in batches of
    /// at most [`MAX_CHAT_HISTORY_BATCH`], right after `joined`.
    ChatHistory { messages: Vec<ChatMessage> },
    /// The owner deleted the room's chat.
    ChatCleared,
    /// Cluster mode (`docs/deploy.md`): this room lives on another node. Sent instead of any
    /// answer to `join` (or `resume`), or to everyone in a room its node gives up (lost lease,
    /// end of a drain); the server then closes the socket. Connect to `url` (a `ws://` or
    /// `wss://` URL of the same room's signaling) and send the same `join` or `resume` there.
    /// A client follows at most a few moves in a row.
    Moved { url: String },
    /// Something went wrong. `fatal` errors are followed by the server closing the socket.
    Error {
        code: ErrorCode,
        message: String,
        fatal: bool,
    },
}

/// Proof that a reconnecting client is the participant it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub participant_id: String,
    pub token: String,
}

/// Resume tokens are this many URL-safe characters.
pub const MAX_RESUME_TOKEN_CHARS: usize = 64;

/// A TURN server as WebRTC's `RTCIceServer` takes it: `urls` such as
/// `turn:turn.example:3478?transport=udp` or `turns:turn.example:443?transport=tcp`, and the
/// time-limited credential of the TURN REST scheme (`username` = `expiry:participant`, with
/// `expiry` in Unix seconds; `credential` = base64 of HMAC-SHA1 over `username` with the secret
/// the server shares with the TURN server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

/// At most this many TURN URLs in one `joined` (clients ignore the rest).
pub const MAX_ICE_SERVER_URLS: usize = 8;

impl IceServer {
    /// The Unix time (seconds) the credential expires at, read from the username.
    pub fn expires_at(&self) -> Option<u64> {
        self.username.split_once(':')?.0.parse().ok()
    }
}

/// What one TURN URL says: `turn:` or `turns:` (TLS), a host, a port, and the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnUrl {
    pub secure: bool,
    pub host: String,
    pub port: u16,
    pub transport: TurnTransport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnTransport {
    Udp,
    Tcp,
}

/// Why a TURN URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadTurnUrl(pub String);

impl TurnUrl {
    /// Reads `turn:HOST[:PORT][?transport=udp|tcp]` or `turns:HOST[:PORT][?transport=tcp]`
    /// (RFC 7065). The port defaults to 3478 (`turn:`) or 5349 (`turns:`); the transport to UDP
    /// for `turn:` and TCP for `turns:`. IPv6 hosts go in brackets.
    pub fn parse(url: &str) -> Result<Self, BadTurnUrl> {
        let bad = |why: &str| BadTurnUrl(format!("TURN URL {url:?}: {why}"));
        if url.len() > 256 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("too long, or has spaces or control characters"));
        }
        let (secure, rest) = if let Some(rest) = url.strip_prefix("turns:") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("turn:") {
            (false, rest)
        } else {
            return Err(bad("it must start with turn: or turns:"));
        };
        let (hostport, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let transport = match query {
            None => {
                if secure {
                    TurnTransport::Tcp
                } else {
                    TurnTransport::Udp
                }
            }
            Some("transport=udp") if !secure => TurnTransport::Udp,
            Some("transport=tcp") => TurnTransport::Tcp,
            Some(_) => {
                return Err(bad(
                    "the only query is ?transport=udp or ?transport=tcp (turns: is TCP)",
                ));
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address in brackets"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
            };
            (format!("[{host}]"), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && (host.starts_with('[')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
        if !host_ok {
            return Err(bad("the host must be a name or an IP address"));
        }
        let port = match port {
            None => {
                if secure {
                    5349
                } else {
                    3478
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad("the port must be 1 to 65535")),
            },
        };
        Ok(Self {
            secure,
            host,
            port,
            transport,
        })
    }
}

impl std::fmt::Display for TurnUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.secure { "turns" } else { "turn" };
        let transport = match self.transport {
            TurnTransport::Udp => "udp",
            TurnTransport::Tcp => "tcp",
        };
        write!(
            f,
            "{scheme}:{}:{}?transport={transport}",
            self.host, self.port
        )
    }
}

/// What a room looks like to someone inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's id as in its current invite link (`/r/<id>`); changes when a host rotates
    /// the link.
    pub id: String,
    pub name: Option<String>,
    pub max_participants: u32,
    /// Newcomers wait in the lobby.
    #[serde(default)]
    pub locked: bool,
    /// Panic is on: guests' microphones and cameras stay off.
    #[serde(default)]
    pub panic: bool,
    /// Media in this room is end-to-end encrypted (ADR 0003); a join must carry `e2ee`.
    #[serde(default)]
    pub e2ee: bool,
}

/// One person in a room, as the others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub id: String,
    pub name: String,
    pub media: MediaState,
    #[serde(default)]
    pub role: Role,
    /// Their end-to-end key exchange, in an E2EE room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2ee: Option<E2eeMember>,
    /// They are sharing their screen now (their second video, stream id
    /// `<id>|screen`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub screen: bool,
    /// Their hand is up: the number says when (smaller went up earlier), so everyone can show
    /// the queue in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand: Option<u64>,
}

/// What someone may do in a room. Hosts (owner and co-hosts) can act on people of a lower role.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Guest,
    /// Named by the owner for this session.
    Cohost,
    /// Joined with the room's host key.
    Owner,
}

impl Role {
    pub fn is_host(self) -> bool {
        self != Self::Guest
    }
}

/// Someone waiting in the lobby of a locked room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Knock {
    pub id: String,
    pub name: String,
    /// How many times this person was denied already (0 or 1).
    #[serde(default)]
    pub denied_before: u32,
}

/// A removal that sticks: the removed person's device and address stay out of the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub id: String,
    /// The name they had when removed.
    pub name: String,
    /// Unix time of the removal, in seconds.
    pub at: i64,
}

/// Host keys are at most this many URL-safe characters.
pub const MAX_HOST_KEY_CHARS: usize = 64;

/// Device ids are this many URL-safe characters at least, and at most
/// [`MAX_DEVICE_ID_CHARS`].
pub const MIN_DEVICE_ID_CHARS: usize = 16;
pub const MAX_DEVICE_ID_CHARS: usize = 64;

/// Whether a participant's microphone and camera are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaState {
    pub audio: bool,
    pub video: bool,
}

impl Default for MediaState {
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
        }
    }
}

/// An ICE candidate as the browser's `RTCIceCandidate.toJSON()` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_mline_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

/// Machine-readable error kinds, shared by the WebSocket and the HTTP API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No room with that id (or the link is malformed).
    RoomNotFound,
    /// The room already holds [`MAX_PARTICIPANTS`] people.
    RoomFull,
    /// The message was not valid JSON or not a known message.
    BadMessage,
    /// A field was present but its value is not acceptable.
    InvalidField,
    /// The message was larger than [`MAX_MESSAGE_BYTES`].
    MessageTooLarge,
    /// The client speaks another protocol version.
    UnsupportedVersion,
    /// A message that needs a joined participant came before `join`.
    NotJoined,
    /// `join` was sent twice on one socket.
    AlreadyJoined,
    /// The SDP could not be applied.
    NegotiationFailed,
    /// Too many requests; slow down.
    RateLimited,
    /// A host action from someone who may not do it (or aimed at a higher role).
    NotAllowed,
    /// The participant, knock or ban named in a host action is not (or no longer) there.
    NotFound,
    /// A host removed you; you cannot come back to this room.
    Removed,
    /// A host did not let you in.
    KnockDenied,
    /// A host ended the call for everyone.
    RoomEnded,
    /// The server failed; the message says what.
    Internal,
    /// The room is end-to-end encrypted and the join did not offer encryption.
    E2eeRequired,
}

impl ErrorCode {
    /// Whether the server closes the connection after sending this error.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            Self::RoomNotFound
                | Self::RoomFull
                | Self::UnsupportedVersion
                | Self::Internal
                | Self::Removed
                | Self::KnockDenied
                | Self::RoomEnded
                | Self::E2eeRequired
        )
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("message is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not a valid message: {0}")]
    Malformed(String),
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl ProtocolError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } => ErrorCode::MessageTooLarge,
            Self::Malformed(_) => ErrorCode::BadMessage,
            Self::InvalidField { .. } => ErrorCode::InvalidField,
        }
    }

    pub(crate) fn field(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

fn decode<T: serde::de::DeserializeOwned + Validate>(text: &str) -> Result<T, ProtocolError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::TooLarge {
            size: text.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    let message: T = serde_json::from_str(text).map_err(|e| {
        // serde's messages name the unexpected tag or field, which is what a client developer
        // needs; cap the length so an echo cannot be used to amplify.
        let reason: String = e.to_string().chars().take(200).collect();
        ProtocolError::Malformed(reason)
    })?;
    message.validate()?;
    Ok(message)
}

/// Decodes and validates one message from a participant.
pub fn decode_client(text: &str) -> Result<ClientMessage, ProtocolError> {
    decode(text)
}

/// Decodes and validates one message from the server.
pub fn decode_server(text: &str) -> Result<ServerMessage, ProtocolError> {
    decode(text)
}

/// Encodes a message. Serialising these types cannot fail (no maps with non-string keys, no
/// foreign `Serialize` impls), so this returns the JSON text directly.
pub fn encode<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).unwrap_or_else(|e| {
        // Unreachable for this crate's types; keep the wire alive with an error message instead.
        format!(
            r#"{{"type":"error","code":"internal","message":"encode failed: {e}","fatal":false}}"#
        )
    })
}

impl ServerMessage {
    /// An error reply whose `fatal` flag follows its code.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            fatal: code.is_fatal(),
        }
    }
}

#[cfg(test)]
mod tests;
