//! The UniFFI surface for Kotlin and Swift: a thin layer over [`Client`] and [`Call`]. Objects
//! wrap the Rust types, records are plain data converted with `From`, errors map to one short
//! enum, listeners are foreign traits, and every async function runs on one tokio runtime owned
//! here. No logic lives in this file.

use std::sync::{Arc, OnceLock};

use crate::call::media_in::{AudioSink, RemoteStats, VideoSink};
use crate::call::state::{
    Ban, ChatEntry, ConnectionStatus, EndReason, Knock, RemoteParticipant, RoomState,
};
use crate::call::view::ParticipantView;
use crate::call::{Call, CallConfig, CallEvent, CallListener, Refusal};
use crate::client::{Client, RoomStatus};
use crate::error::CoreError;
use crate::media::background::{Background, Compositor, PersonMask as CoreMask};
use crate::media::video::I420Frame;
use crate::presence::{
    DoorMode, DoorState, FriendPresence, Peek, PresenceListener, PresenceWatch, WatchOptions,
};
use crate::store::{Friend, MyRoom};
use salon_protocol::Role;

/// The one runtime every exported async function and every call runs on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("salon-core")
            .enable_all()
            .build()
            // Without a runtime nothing in the core can work; this only fails when the OS
            // refuses to create threads at all.
            .expect("cannot start the salon-core runtime")
    })
}

/// Runs `f` on the core's runtime and awaits it from whatever executor the caller uses.
async fn on_runtime<T: Send + 'static>(
    f: impl std::future::Future<Output = Result<T, SalonError>> + Send + 'static,
) -> Result<T, SalonError> {
    runtime().spawn(f).await.map_err(|e| SalonError::Internal {
        reason: e.to_string(),
    })?
}

/// Errors an app can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SalonError {
    #[error("room not found")]
    RoomNotFound,
    #[error("the room is full")]
    RoomFull,
    #[error("invalid link: {reason}")]
    InvalidLink { reason: String },
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    #[error("network error: {reason}")]
    Network { reason: String },
    #[error("server error: {reason}")]
    Server { reason: String },
    #[error("incompatible server: {reason}")]
    Incompatible { reason: String },
    #[error("media error: {reason}")]
    Media { reason: String },
    #[error("storage error: {reason}")]
    Storage { reason: String },
    #[error("this friend is already in your list")]
    DuplicateFriend,
    #[error("not found")]
    NotFound,
    #[error("the call has ended")]
    CallEnded,
    /// A host removed you from this room, or you are banned from it.
    #[error("you were removed from this room")]
    Removed,
    /// A host did not let you in (or turned you away twice already).
    #[error("the host didn't let you in")]
    KnockDenied,
    /// A host ended the call for everyone.
    #[error("the host ended the call")]
    RoomEnded,
    /// Not now: e.g. turning the microphone on while a host holds everyone's off.
    #[error("not allowed: {reason}")]
    NotAllowed { reason: String },
    /// End-to-end encryption stands in the way (a link without its key, a server that claims
    /// an encrypted room is not); the reason is written for people.
    #[error("{reason}")]
    E2ee { reason: String },
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl From<CoreError> for SalonError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::RoomNotFound => Self::RoomNotFound,
            CoreError::RoomFull => Self::RoomFull,
            CoreError::InvalidLink { reason } => Self::InvalidLink { reason },
            CoreError::InvalidInput { reason } => Self::InvalidInput { reason },
            CoreError::Network { reason } => Self::Network { reason },
            CoreError::Server { reason } => Self::Server { reason },
            CoreError::Incompatible { reason } => Self::Incompatible { reason },
            CoreError::Media { reason } => Self::Media { reason },
            CoreError::Storage { reason } => Self::Storage { reason },
            CoreError::DuplicateFriend => Self::DuplicateFriend,
            CoreError::NotFound => Self::NotFound,
            CoreError::CallEnded => Self::CallEnded,
            CoreError::Removed => Self::Removed,
            CoreError::KnockDenied => Self::KnockDenied,
            CoreError::RoomEnded => Self::RoomEnded,
            CoreError::NotAllowed { reason } => Self::NotAllowed { reason },
            CoreError::E2ee { reason } => Self::E2ee { reason },
        }
    }
}

/// A room I created. `host_key` proves ownership; store it like a password.
#[derive(Debug, Clone, uniffi::Record)]
pub struct MyRoomRecord {
    pub id: String,
    pub link: String,
    pub host_key: String,
    pub name: Option<String>,
    pub created_at: i64,
}

impl From<MyRoom> for MyRoomRecord {
    fn from(r: MyRoom) -> Self {
        Self {
            id: r.id,
            link: r.link,
            host_key: r.host_key,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct FriendRecord {
    pub id: i64,
    pub name: String,
    pub room_link: String,
    pub added_at: i64,
    pub notes: String,
    /// Their card carried a presence key: their door and who is inside can be seen.
    pub has_presence: bool,
    /// Tell me (`on_door_opened`) when their door opens.
    pub notify: bool,
}

impl From<Friend> for FriendRecord {
    fn from(f: Friend) -> Self {
        Self {
            id: f.id,
            name: f.name,
            room_link: f.room_link,
            added_at: f.added_at,
            notes: f.notes,
            has_presence: f.presence_key.is_some(),
            notify: f.notify,
        }
    }
}

/// How the owner sets the door: `Auto` is open while the owner is inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DoorModeRecord {
    Auto,
    Open,
    Closed,
}

impl From<DoorModeRecord> for DoorMode {
    fn from(m: DoorModeRecord) -> Self {
        match m {
            DoorModeRecord::Auto => Self::Auto,
            DoorModeRecord::Open => Self::Open,
            DoorModeRecord::Closed => Self::Closed,
        }
    }
}

impl From<DoorMode> for DoorModeRecord {
    fn from(m: DoorMode) -> Self {
        match m {
            DoorMode::Auto => Self::Auto,
            DoorMode::Open => Self::Open,
            DoorMode::Closed => Self::Closed,
        }
    }
}

/// My door as the server now has it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct DoorStateRecord {
    pub mode: DoorModeRecord,
    /// Unix seconds when an open door goes back to `Auto`.
    pub until: Option<i64>,
    pub show_names: bool,
    pub door_open: bool,
    pub people: u32,
}

impl From<DoorState> for DoorStateRecord {
    fn from(d: DoorState) -> Self {
        Self {
            mode: d.mode.into(),
            until: d.until,
            show_names: d.show_names,
            door_open: d.door_open,
            people: d.people,
        }
    }
}

/// A look into a room before joining.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PeekRecord {
    pub room_id: String,
    pub name: Option<String>,
    pub door_open: bool,
    pub people: u32,
    /// Who is inside, when the door is open and the owner shows names.
    pub names: Option<Vec<String>>,
    pub full: bool,
    pub locked: bool,
}

impl From<Peek> for PeekRecord {
    fn from(p: Peek) -> Self {
        Self {
            room_id: p.room_id,
            name: p.name,
            door_open: p.door_open,
            people: p.people,
            names: p.names,
            full: p.full,
            locked: p.locked,
        }
    }
}

/// A friend with their room's presence.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FriendPresenceRecord {
    pub friend: FriendRecord,
    /// The server showed this room for the friend's key (false: no key, revoked, or not
    /// answered yet).
    pub available: bool,
    /// The presence socket to the friend's server is up.
    pub connected: bool,
    pub door_open: bool,
    pub until: Option<i64>,
    pub people: u32,
    pub names: Option<Vec<String>>,
}

impl From<FriendPresence> for FriendPresenceRecord {
    fn from(p: FriendPresence) -> Self {
        Self {
            friend: p.friend.into(),
            available: p.available,
            connected: p.connected,
            door_open: p.door_open,
            until: p.until,
            people: p.people,
            names: p.names,
        }
    }
}

/// Told about my friends' presence: the whole list after every change, and "door opened" for
/// the friends marked `notify` (rate-limited per friend). Raise a local notification from it.
#[uniffi::export(foreign)]
pub trait FriendsPresenceListener: Send + Sync {
    fn on_presence(&self, friends: Vec<FriendPresenceRecord>);
    fn on_door_opened(&self, friend: FriendPresenceRecord);
}

struct PresenceBridge(Arc<dyn FriendsPresenceListener>);
impl PresenceListener for PresenceBridge {
    fn on_presence(&self, friends: Vec<FriendPresence>) {
        self.0
            .on_presence(friends.into_iter().map(Into::into).collect());
    }

    fn on_door_opened(&self, friend: FriendPresence) {
        self.0.on_door_opened(friend.into());
    }
}

/// A live watch on my friends' rooms; stops when released or with `stop`.
#[derive(uniffi::Object)]
pub struct SalonPresenceWatch {
    inner: PresenceWatch,
}

#[uniffi::export]
impl SalonPresenceWatch {
    /// Every friend with what is known now.
    pub fn current(&self) -> Vec<FriendPresenceRecord> {
        self.inner.current().into_iter().map(Into::into).collect()
    }

    pub fn stop(&self) {
        self.inner.stop();
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct RoomStatusRecord {
    pub id: String,
    pub name: Option<String>,
    pub participants: u32,
    pub max_participants: u32,
    pub full: bool,
}

impl From<RoomStatus> for RoomStatusRecord {
    fn from(s: RoomStatus) -> Self {
        Self {
            id: s.id,
            name: s.name,
            participants: s.participants,
            max_participants: s.max_participants,
            full: s.full,
        }
    }
}

/// What someone may do in a room: owner (has the host key) and co-hosts are hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RoleRecord {
    Guest,
    Cohost,
    Owner,
}

impl From<Role> for RoleRecord {
    fn from(r: Role) -> Self {
        match r {
            Role::Guest => Self::Guest,
            Role::Cohost => Self::Cohost,
            Role::Owner => Self::Owner,
        }
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct ParticipantRecord {
    pub id: String,
    pub name: String,
    pub role: RoleRecord,
    pub audio_on: bool,
    pub video_on: bool,
    pub receiving_audio: bool,
    pub receiving_video: bool,
    /// Among the room's active speakers (from the server).
    pub speaking: bool,
    /// Their hand is up; the number orders the queue (smaller went up earlier).
    pub hand: Option<u64>,
    /// They share their screen now (show it large); its frames reach the video sink as
    /// [`screen_share_video_id`] of them. Whether it is reaching us.
    pub screen: bool,
    pub receiving_screen: bool,
}

/// The id a participant's screen share comes with at the [`VideoFrameSink`] (and that
/// `set_view` takes for it): `<participant id>|screen`.
#[uniffi::export]
pub fn screen_share_video_id(participant_id: String) -> String {
    salon_protocol::video_stream_id(&participant_id, salon_protocol::VideoSource::Screen)
}

impl From<RemoteParticipant> for ParticipantRecord {
    fn from(p: RemoteParticipant) -> Self {
        Self {
            id: p.id,
            name: p.name,
            role: p.role.into(),
            audio_on: p.audio_on,
            video_on: p.video_on,
            receiving_audio: p.receiving_audio,
            receiving_video: p.receiving_video,
            speaking: p.speaking,
            hand: p.hand,
            screen: p.screen,
            receiving_screen: p.receiving_screen,
        }
    }
}

/// One chat message of the room.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChatRecord {
    /// The room's number for it (increasing).
    pub id: u64,
    /// The sender's participant id and name when it was sent.
    pub from: String,
    pub name: String,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `None`: it cannot be read here (sealed under a link key this device does not have).
    pub text: Option<String>,
}

impl From<ChatEntry> for ChatRecord {
    fn from(e: ChatEntry) -> Self {
        Self {
            id: e.id,
            from: e.from,
            name: e.name,
            at_ms: e.at_ms,
            text: e.text,
        }
    }
}

/// Someone waiting in the lobby (hosts see them).
#[derive(Debug, Clone, uniffi::Record)]
pub struct KnockRecord {
    pub id: String,
    pub name: String,
    /// Turned away before (0 or 1 times).
    pub denied_before: u32,
}

impl From<Knock> for KnockRecord {
    fn from(k: Knock) -> Self {
        Self {
            id: k.id,
            name: k.name,
            denied_before: k.denied_before,
        }
    }
}

/// A removal that sticks (hosts see them and can lift them with `unban`).
#[derive(Debug, Clone, uniffi::Record)]
pub struct BanRecord {
    pub id: String,
    /// The name they had when removed.
    pub name: String,
    /// Unix seconds.
    pub at: i64,
}

impl From<Ban> for BanRecord {
    fn from(b: Ban) -> Self {
        Self {
            id: b.id,
            name: b.name,
            at: b.at,
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum EndReasonRecord {
    /// I left.
    Left,
    RoomNotFound,
    RoomFull,
    /// Update the app.
    Incompatible,
    /// A host removed me (or I am banned from this room): rejoining will not work.
    Removed,
    /// A host did not let me in from the lobby.
    KnockDenied,
    /// A host ended the call for everyone.
    RoomEnded,
    /// Something else; the message says what.
    Error {
        message: String,
    },
}

impl From<EndReason> for EndReasonRecord {
    fn from(r: EndReason) -> Self {
        match r {
            EndReason::Left => Self::Left,
            EndReason::RoomNotFound => Self::RoomNotFound,
            EndReason::RoomFull => Self::RoomFull,
            EndReason::Incompatible => Self::Incompatible,
            EndReason::Removed => Self::Removed,
            EndReason::KnockDenied => Self::KnockDenied,
            EndReason::RoomEnded => Self::RoomEnded,
            EndReason::Error(message) => Self::Error { message },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ConnectionRecord {
    Connecting,
    /// In the lobby of a locked room until a host answers; `host_present`: whether a host is
    /// in the room right now.
    Waiting {
        host_present: bool,
    },
    Connected,
    Reconnecting {
        attempt: u32,
    },
    Ended {
        reason: EndReasonRecord,
    },
}

impl From<ConnectionStatus> for ConnectionRecord {
    fn from(c: ConnectionStatus) -> Self {
        match c {
            ConnectionStatus::Connecting => Self::Connecting,
            ConnectionStatus::Waiting { host_present } => Self::Waiting { host_present },
            ConnectionStatus::Connected => Self::Connected,
            ConnectionStatus::Reconnecting { attempt } => Self::Reconnecting { attempt },
            ConnectionStatus::Ended { reason } => Self::Ended {
                reason: reason.into(),
            },
        }
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct RoomStateRecord {
    pub room_id: String,
    /// The current invite link (changes when a host rotates it).
    pub link: String,
    pub room_name: Option<String>,
    pub me: Option<String>,
    pub role: RoleRecord,
    pub locked: bool,
    pub panic: bool,
    /// My own switches (a host's mute turns them off).
    pub microphone_on: bool,
    pub camera_on: bool,
    pub participants: Vec<ParticipantRecord>,
    /// Hosts only.
    pub knocks: Vec<KnockRecord>,
    /// Hosts only.
    pub bans: Vec<BanRecord>,
    /// Who is speaking, loudest first (at most three; my own id when I speak).
    pub speakers: Vec<String>,
    /// I am among the speakers.
    pub speaking: bool,
    /// Somebody shows my video. While false the core sends no video (the camera may pause).
    pub video_watched: bool,
    pub connection: ConnectionRecord,
    /// End-to-end encryption; `None` in a room that is not encrypted.
    pub e2ee: Option<E2eeRecord>,
    /// My hand is up (its place in the queue).
    pub my_hand: Option<u64>,
    /// The chat I may read, oldest first (the newest 200).
    pub chat: Vec<ChatRecord>,
}

/// An encrypted call's safety code: everyone comparing it aloud should see the same. It
/// changes when someone comes or goes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct E2eeRecord {
    /// 12 digits, `dddd dddd dddd`.
    pub safety_code: String,
    /// People holding keys, me included.
    pub key_holders: u32,
    /// Participants whose keys could not be checked (yet): they see and hear nothing of me.
    pub unverified: Vec<String>,
}

impl From<RoomState> for RoomStateRecord {
    fn from(s: RoomState) -> Self {
        Self {
            room_id: s.room_id,
            link: s.link,
            room_name: s.room_name,
            me: s.me,
            role: s.role.into(),
            locked: s.locked,
            panic: s.panic,
            microphone_on: s.microphone_on,
            camera_on: s.camera_on,
            participants: s.participants.into_iter().map(Into::into).collect(),
            knocks: s.knocks.into_iter().map(Into::into).collect(),
            bans: s.bans.into_iter().map(Into::into).collect(),
            speakers: s.speakers,
            speaking: s.speaking,
            video_watched: s.video_watched,
            connection: s.connection.into(),
            e2ee: s.e2ee.map(|e| E2eeRecord {
                safety_code: e.safety_code,
                key_holders: e.key_holders,
                unverified: e.unverified,
            }),
            my_hand: s.my_hand,
            chat: s.chat.into_iter().map(Into::into).collect(),
        }
    }
}

/// How the app shows a participant's video (`SalonCall.set_view`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ParticipantViewRecord {
    /// Not on screen: their video stops coming.
    Hidden,
    /// A small tile (the default for everyone the app never set).
    Thumbnail,
    /// The main tile.
    Large,
}

impl From<ParticipantViewRecord> for ParticipantView {
    fn from(v: ParticipantViewRecord) -> Self {
        match v {
            ParticipantViewRecord::Hidden => Self::Hidden,
            ParticipantViewRecord::Thumbnail => Self::Thumbnail,
            ParticipantViewRecord::Large => Self::Large,
        }
    }
}

/// Why the server refused something I did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RefusalRecord {
    /// Not a host, aimed at an equal or higher role, a wrong host key, or unmuting during panic.
    NotAllowed,
    /// The person, knock or ban is no longer there.
    NotFound,
    RateLimited,
    /// Not acceptable (e.g. too long); the message says why.
    Invalid,
    /// The server could not do it (its storage failed); try again later.
    Failed,
}

impl From<Refusal> for RefusalRecord {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotAllowed => Self::NotAllowed,
            Refusal::NotFound => Self::NotFound,
            Refusal::RateLimited => Self::RateLimited,
            Refusal::Invalid => Self::Invalid,
            Refusal::Failed => Self::Failed,
        }
    }
}

/// What a call tells besides its state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CallEventRecord {
    /// A host (`by`) asks me to mute my microphone; my choice.
    MuteRequested { by: String },
    /// A host (`by`) turned my microphone (and maybe camera) off; the core already did.
    Muted {
        by: String,
        microphone_on: bool,
        camera_on: bool,
    },
    /// The server refused something I did and nothing changed; `message` is for people.
    Refused {
        reason: RefusalRecord,
        message: String,
    },
    /// Someone reacted (me too): show `emoji` over their tile for a moment.
    Reaction {
        participant_id: String,
        emoji: String,
    },
}

impl From<CallEvent> for CallEventRecord {
    fn from(e: CallEvent) -> Self {
        match e {
            CallEvent::MuteRequested { by } => Self::MuteRequested { by },
            CallEvent::Muted {
                by,
                microphone_on,
                camera_on,
            } => Self::Muted {
                by,
                microphone_on,
                camera_on,
            },
            CallEvent::Refused { reason, message } => Self::Refused {
                reason: reason.into(),
                message,
            },
            CallEvent::Reaction {
                participant_id,
                emoji,
            } => Self::Reaction {
                participant_id,
                emoji,
            },
        }
    }
}

/// An I420 picture: Y, then U, then V planes, tightly packed; even width and height.
#[derive(Debug, Clone, uniffi::Record)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    pub timestamp_us: u64,
}

impl From<I420Frame> for VideoFrame {
    fn from(f: I420Frame) -> Self {
        Self {
            width: f.width,
            height: f.height,
            data: f.data,
            timestamp_us: f.timestamp_us,
        }
    }
}

impl TryFrom<VideoFrame> for I420Frame {
    type Error = SalonError;

    fn try_from(f: VideoFrame) -> Result<Self, SalonError> {
        I420Frame::new(f.width, f.height, f.data, f.timestamp_us).map_err(|e| {
            SalonError::InvalidInput {
                reason: e.to_string(),
            }
        })
    }
}

/// Where the person is in a camera frame: `width * height` bytes, row by row, `255` = person,
/// `0` = background, values between blend (a platform's confidence × 255). Any size (up to
/// 4096 a side; it is stretched over the frame), the frame's orientation.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PersonMask {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl TryFrom<PersonMask> for CoreMask {
    type Error = SalonError;

    fn try_from(m: PersonMask) -> Result<Self, SalonError> {
        Ok(CoreMask::new(m.width, m.height, m.data).map_err(CoreError::from)?)
    }
}

/// What goes behind the person in my video.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum BackgroundChoice {
    Off,
    Blur,
    /// A picture (I420, any even size up to 4096 a side; scaled to cover the frame).
    Replace {
        image: VideoFrame,
    },
}

impl TryFrom<BackgroundChoice> for Background {
    type Error = SalonError;

    fn try_from(c: BackgroundChoice) -> Result<Self, SalonError> {
        Ok(match c {
            BackgroundChoice::Off => Self::Off,
            BackgroundChoice::Blur => Self::Blur,
            BackgroundChoice::Replace { image } => Self::Replace(image.try_into()?),
        })
    }
}

/// Composites backgrounds on the app's side, e.g. for a preview before joining (a call does
/// its own, on its encoder thread). Keeps the picture scaled to the last frame size.
#[derive(uniffi::Object)]
pub struct BackgroundCompositor {
    inner: std::sync::Mutex<Compositor>,
}

#[uniffi::export]
impl BackgroundCompositor {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: std::sync::Mutex::new(Compositor::new()),
        })
    }

    /// `InvalidInput` for a picture that is not a valid I420 frame or is too large.
    pub fn set_background(&self, choice: BackgroundChoice) -> Result<(), SalonError> {
        let background = choice.try_into()?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Ok(inner.set_background(background).map_err(CoreError::from)?)
    }

    /// `frame` with the background behind the person (without a mask: all background).
    /// Runs on the caller's thread, a few milliseconds at 640×360. `InvalidInput` for a frame
    /// or mask that does not add up.
    pub fn composite(
        &self,
        frame: VideoFrame,
        mask: Option<PersonMask>,
    ) -> Result<VideoFrame, SalonError> {
        let mut frame: I420Frame = frame.try_into()?;
        let mask = mask.map(CoreMask::try_from).transpose()?;
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner
            .composite(&mut frame, mask.as_ref())
            .map_err(CoreError::from)?;
        Ok(frame.into())
    }
}

#[derive(Debug, Clone, uniffi::Record)]
pub struct RemoteStatsRecord {
    pub participant_id: String,
    pub frames_received: u64,
    pub frames_decoded: u64,
    pub width: u32,
    pub height: u32,
    pub video_codec: String,
    pub audio_packets: u64,
    pub audio_frames_decoded: u64,
}

impl RemoteStatsRecord {
    fn new(participant_id: String, s: RemoteStats) -> Self {
        Self {
            participant_id,
            frames_received: s.frames_received,
            frames_decoded: s.frames_decoded,
            width: s.width,
            height: s.height,
            video_codec: s.video_codec,
            audio_packets: s.audio_packets,
            audio_frames_decoded: s.audio_frames_decoded,
        }
    }
}

/// How to join a call.
#[derive(Debug, Clone, uniffi::Record)]
pub struct JoinOptions {
    pub name: String,
    pub microphone_on: bool,
    pub camera_on: bool,
    pub video_width: u32,
    pub video_height: u32,
    pub video_bitrate_bps: u32,
    pub video_max_fps: f32,
}

impl From<JoinOptions> for CallConfig {
    fn from(o: JoinOptions) -> Self {
        let mut config = CallConfig::new(o.name);
        config.audio_on = o.microphone_on;
        config.video_on = o.camera_on;
        config.video.width = o.video_width;
        config.video.height = o.video_height;
        config.video.bitrate_bps = o.video_bitrate_bps;
        config.video.max_fps = o.video_max_fps;
        config
    }
}

/// Told about every change of a call's room state, and about events the state does not keep.
#[uniffi::export(foreign)]
pub trait RoomListener: Send + Sync {
    fn on_state_changed(&self, state: RoomStateRecord);
    fn on_event(&self, event: CallEventRecord);
}

/// Receives each remote participant's decoded video: their camera under their id, their screen
/// share under [`screen_share_video_id`].
#[uniffi::export(foreign)]
pub trait VideoFrameSink: Send + Sync {
    fn on_video_frame(&self, participant_id: String, frame: VideoFrame);
}

/// Receives each remote participant's decoded audio: 48 kHz, interleaved `channels`.
#[uniffi::export(foreign)]
pub trait AudioFrameSink: Send + Sync {
    fn on_audio_frame(&self, participant_id: String, pcm: Vec<i16>, channels: u16);
}

struct Listener(Arc<dyn RoomListener>);
impl CallListener for Listener {
    fn on_state_changed(&self, state: RoomState) {
        self.0.on_state_changed(state.into());
    }

    fn on_event(&self, event: CallEvent) {
        self.0.on_event(event.into());
    }
}

struct Video(Arc<dyn VideoFrameSink>);
impl VideoSink for Video {
    fn on_video_frame(&self, participant_id: &str, frame: I420Frame) {
        self.0
            .on_video_frame(participant_id.to_owned(), frame.into());
    }
}

struct Audio(Arc<dyn AudioFrameSink>);
impl AudioSink for Audio {
    fn on_audio_frame(&self, participant_id: &str, pcm: &[i16], channels: u16) {
        self.0
            .on_audio_frame(participant_id.to_owned(), pcm.to_vec(), channels);
    }
}

/// The app's handle on the core, opened on a data folder.
#[derive(uniffi::Object)]
pub struct SalonClient {
    inner: Arc<Client>,
}

#[uniffi::export]
impl SalonClient {
    /// Opens (creating if needed) the core's data in `data_dir`.
    #[uniffi::constructor]
    pub fn open(data_dir: String) -> Result<Arc<Self>, SalonError> {
        let inner = Client::open(std::path::Path::new(&data_dir))?;
        Ok(Arc::new(Self {
            inner: Arc::new(inner),
        }))
    }

    /// Creates a room on `server` (e.g. "https://salon.example.org") and remembers it.
    pub async fn create_room(
        &self,
        server: String,
        name: Option<String>,
    ) -> Result<MyRoomRecord, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.create_room(&server, name.as_deref()).await?.into()) })
            .await
    }

    /// Whether the room behind `link` exists and how many people are in it.
    pub async fn room_status(&self, link: String) -> Result<RoomStatusRecord, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.room_status(&link).await?.into()) }).await
    }

    /// Joins the room behind `link`: returns once in, or waiting in the lobby of a locked room
    /// (the state says `Waiting`). One of my rooms is joined as its owner (with its host key).
    /// Errors include `Removed` (banned from this room) and `KnockDenied`.
    pub async fn join(
        &self,
        link: String,
        options: JoinOptions,
        listener: Option<Arc<dyn RoomListener>>,
        video_sink: Option<Arc<dyn VideoFrameSink>>,
        audio_sink: Option<Arc<dyn AudioFrameSink>>,
    ) -> Result<Arc<SalonCall>, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move {
            let call = inner
                .join(
                    &link,
                    options.into(),
                    listener.map(|l| Arc::new(Listener(l)) as Arc<dyn CallListener>),
                    video_sink.map(|s| Arc::new(Video(s)) as Arc<dyn VideoSink>),
                    audio_sink.map(|s| Arc::new(Audio(s)) as Arc<dyn AudioSink>),
                )
                .await?;
            Ok(Arc::new(SalonCall {
                inner: Arc::new(call),
            }))
        })
        .await
    }

    pub fn my_rooms(&self) -> Result<Vec<MyRoomRecord>, SalonError> {
        Ok(self.inner.my_rooms()?.into_iter().map(Into::into).collect())
    }

    pub fn forget_my_room(&self, id: String) -> Result<bool, SalonError> {
        Ok(self.inner.forget_my_room(&id)?)
    }

    pub fn friends(&self) -> Result<Vec<FriendRecord>, SalonError> {
        Ok(self.inner.friends()?.into_iter().map(Into::into).collect())
    }

    pub fn add_friend(
        &self,
        name: String,
        room_link: String,
        notes: String,
    ) -> Result<FriendRecord, SalonError> {
        Ok(self.inner.add_friend(&name, &room_link, &notes)?.into())
    }

    pub fn add_friend_from_card(&self, card: String) -> Result<FriendRecord, SalonError> {
        Ok(self.inner.add_friend_from_card(&card)?.into())
    }

    pub fn rename_friend(&self, id: i64, name: String) -> Result<(), SalonError> {
        Ok(self.inner.rename_friend(id, &name)?)
    }

    pub fn set_friend_notes(&self, id: i64, notes: String) -> Result<(), SalonError> {
        Ok(self.inner.set_friend_notes(id, &notes)?)
    }

    pub fn remove_friend(&self, id: i64) -> Result<bool, SalonError> {
        Ok(self.inner.remove_friend(id)?)
    }

    /// A link a friend can add me from: my name and my room.
    pub fn friend_card(&self, my_name: String, room_link: String) -> Result<String, SalonError> {
        Ok(self.inner.friend_card(&my_name, &room_link)?)
    }

    /// My friend card for one of my rooms with its presence key: whoever adds it sees my door
    /// and who is inside. `NotAllowed` if the room is not mine (no host key).
    pub async fn my_friend_card(
        &self,
        my_name: String,
        room_link: String,
    ) -> Result<String, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.my_friend_card(&my_name, &room_link).await?) }).await
    }

    /// A new presence key for one of my rooms: every card shared before stops showing
    /// presence at once. Returns the new key (make new cards with `my_friend_card`).
    pub async fn rotate_presence_key(&self, room_link: String) -> Result<String, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.presence_key(&room_link, true).await?) }).await
    }

    /// Opens (until `until`, Unix seconds, at most 7 days ahead), closes or resets (`Auto`) the
    /// door of one of my rooms; `show_names`, when given, chooses whether names are shown.
    pub async fn set_door(
        &self,
        room_link: String,
        mode: DoorModeRecord,
        until: Option<i64>,
        show_names: Option<bool>,
    ) -> Result<DoorStateRecord, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move {
            Ok(inner
                .set_door(&room_link, mode.into(), until, show_names)
                .await?
                .into())
        })
        .await
    }

    /// Who is inside a room before joining (names when the owner shows them).
    pub async fn peek(&self, link: String) -> Result<PeekRecord, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move { Ok(inner.peek(&link).await?.into()) }).await
    }

    /// Every friend with their presence, asked once (one socket per server).
    pub async fn friends_presence(&self) -> Result<Vec<FriendPresenceRecord>, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move {
            Ok(inner
                .friends_presence()
                .await?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .await
    }

    /// Watches every friend's presence live until the returned watch is stopped or released.
    /// `door_opened_every_seconds`: at most one "door opened" per friend this often (0 for
    /// the default, 300).
    pub fn watch_presence(
        &self,
        listener: Arc<dyn FriendsPresenceListener>,
        door_opened_every_seconds: u32,
    ) -> Result<Arc<SalonPresenceWatch>, SalonError> {
        let mut options = WatchOptions::default();
        if door_opened_every_seconds > 0 {
            options.door_opened_every =
                std::time::Duration::from_secs(u64::from(door_opened_every_seconds));
        }
        let _entered = runtime().enter();
        let inner = self
            .inner
            .watch_presence(Arc::new(PresenceBridge(listener)), options)?;
        Ok(Arc::new(SalonPresenceWatch { inner }))
    }

    /// Whether to be told when this friend's door opens.
    pub fn set_friend_notify(&self, id: i64, notify: bool) -> Result<(), SalonError> {
        Ok(self.inner.set_friend_notify(id, notify)?)
    }

    /// Drops in on a friend: joins their room in one call (see `join`).
    pub async fn join_friend(
        &self,
        friend_id: i64,
        options: JoinOptions,
        listener: Option<Arc<dyn RoomListener>>,
        video_sink: Option<Arc<dyn VideoFrameSink>>,
        audio_sink: Option<Arc<dyn AudioFrameSink>>,
    ) -> Result<Arc<SalonCall>, SalonError> {
        let inner = self.inner.clone();
        on_runtime(async move {
            let call = inner
                .join_friend(
                    friend_id,
                    options.into(),
                    listener.map(|l| Arc::new(Listener(l)) as Arc<dyn CallListener>),
                    video_sink.map(|s| Arc::new(Video(s)) as Arc<dyn VideoSink>),
                    audio_sink.map(|s| Arc::new(Audio(s)) as Arc<dyn AudioSink>),
                )
                .await?;
            Ok(Arc::new(SalonCall {
                inner: Arc::new(call),
            }))
        })
        .await
    }
}

/// A joined room.
#[derive(uniffi::Object)]
pub struct SalonCall {
    inner: Arc<Call>,
}

#[uniffi::export]
impl SalonCall {
    pub fn state(&self) -> RoomStateRecord {
        self.inner.state().into()
    }

    pub fn remote_stats(&self) -> Vec<RemoteStatsRecord> {
        let mut stats: Vec<_> = self
            .inner
            .remote_stats()
            .into_iter()
            .map(|(id, s)| RemoteStatsRecord::new(id, s))
            .collect();
        stats.sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
        stats
    }

    /// A camera frame. Never blocks.
    pub fn send_video_frame(&self, frame: VideoFrame) -> Result<(), SalonError> {
        let frame = I420Frame::new(frame.width, frame.height, frame.data, frame.timestamp_us)
            .map_err(|e| SalonError::InvalidInput {
                reason: e.to_string(),
            })?;
        Ok(self.inner.send_video_frame(frame)?)
    }

    /// A camera frame with the platform's person mask for it: with a background set
    /// (`set_background`), what is not the person is blurred or replaced on the core's
    /// encoder thread. Never blocks.
    pub fn send_video_frame_masked(
        &self,
        frame: VideoFrame,
        mask: PersonMask,
    ) -> Result<(), SalonError> {
        let frame = frame.try_into()?;
        let mask = mask.try_into()?;
        Ok(self.inner.send_video_frame_masked(frame, mask)?)
    }

    /// What goes behind me from the next frame on. Frames sent without a mask
    /// (`send_video_frame`) while a background is on go out as all background — blurred all
    /// over, or only the picture — never as the camera saw them. `InvalidInput` for a picture
    /// that is not a valid I420 frame or is larger than 4096 a side.
    pub fn set_background(&self, choice: BackgroundChoice) -> Result<(), SalonError> {
        Ok(self.inner.set_background(choice.try_into()?)?)
    }

    /// 10 or 20 ms of 48 kHz mono PCM (480 or 960 samples).
    pub fn send_audio_frame(&self, pcm: Vec<i16>) -> Result<(), SalonError> {
        Ok(self.inner.send_audio_frame(pcm)?)
    }

    /// `NotAllowed` when turning it on while a host holds guests' microphones off (panic).
    pub fn set_microphone(&self, on: bool) -> Result<(), SalonError> {
        Ok(self.inner.set_microphone(on)?)
    }

    /// `NotAllowed` when turning it on during panic.
    pub fn set_camera(&self, on: bool) -> Result<(), SalonError> {
        Ok(self.inner.set_camera(on)?)
    }

    /// How the app shows `participant_id`'s video: `Hidden` (off screen: it stops coming),
    /// `Thumbnail` (the default) or `Large`. After the first call the core keeps the server
    /// told (coalesced, at most five messages a second). `InvalidInput` for a malformed id.
    pub fn set_view(
        &self,
        participant_id: String,
        view: ParticipantViewRecord,
    ) -> Result<(), SalonError> {
        Ok(self.inner.set_view(&participant_id, view.into())?)
    }

    /// The device's network changed: the app calls this on every change its platform reports
    /// (Android's default-network callback, iOS's `NWPathMonitor`). In the room the call
    /// restarts ICE on the same connection, so media moves to the new network without anyone
    /// being renegotiated; otherwise nothing is needed. `CallEnded` after the call ended.
    pub fn on_network_changed(&self) -> Result<(), SalonError> {
        Ok(self.inner.on_network_changed()?)
    }

    // Host actions: each sends one message. The result shows in the state; a refusal comes as
    // `CallEventRecord::Refused`. Errors: `InvalidInput` (malformed id), `CallEnded`, `Network`
    // (waiting in the lobby or reconnecting).

    pub fn set_locked(&self, locked: bool) -> Result<(), SalonError> {
        Ok(self.inner.set_locked(locked)?)
    }

    pub fn admit(&self, knock_id: String) -> Result<(), SalonError> {
        Ok(self.inner.admit(&knock_id)?)
    }

    pub fn deny(&self, knock_id: String) -> Result<(), SalonError> {
        Ok(self.inner.deny(&knock_id)?)
    }

    /// Disconnects and bans them (device and address) from this room; also locks it.
    pub fn remove(&self, participant_id: String) -> Result<(), SalonError> {
        Ok(self.inner.remove(&participant_id)?)
    }

    pub fn unban(&self, ban_id: String) -> Result<(), SalonError> {
        Ok(self.inner.unban(&ban_id)?)
    }

    pub fn ask_mute(&self, participant_id: String) -> Result<(), SalonError> {
        Ok(self.inner.ask_mute(&participant_id)?)
    }

    /// Turns their microphone (and with `video`, camera) off.
    pub fn mute(&self, participant_id: String, video: bool) -> Result<(), SalonError> {
        Ok(self.inner.mute(&participant_id, video)?)
    }

    /// Stops their screen share.
    pub fn stop_share(&self, participant_id: String) -> Result<(), SalonError> {
        Ok(self.inner.stop_share(&participant_id)?)
    }

    /// The owner names (or un-names) a co-host.
    pub fn set_cohost(&self, participant_id: String, cohost: bool) -> Result<(), SalonError> {
        Ok(self.inner.set_cohost(&participant_id, cohost)?)
    }

    pub fn set_panic(&self, active: bool) -> Result<(), SalonError> {
        Ok(self.inner.set_panic(active)?)
    }

    /// A new invite link; the state's `link` follows, and so does "my rooms".
    pub fn rotate_link(&self) -> Result<(), SalonError> {
        Ok(self.inner.rotate_link()?)
    }

    /// Turns end-to-end encryption on in a room made before it (state `e2ee` is null): a new
    /// link with a new secret (the state's `link` and "my rooms" follow), then the call ends
    /// for everyone (`RoomEnded`); join again and share the new link.
    pub fn turn_on_encryption(&self) -> Result<(), SalonError> {
        Ok(self.inner.turn_on_encryption()?)
    }

    /// Sends a reaction (one of `salon_reactions()`); it floats over my tile for everyone.
    pub fn react(&self, emoji: String) -> Result<(), SalonError> {
        Ok(self.inner.react(&emoji)?)
    }

    /// Raises or lowers my hand.
    pub fn raise_hand(&self, raised: bool) -> Result<(), SalonError> {
        Ok(self.inner.raise_hand(raised)?)
    }

    /// (Hosts) lowers someone's hand; with no id, everyone's.
    pub fn lower_hands(&self, participant_id: Option<String>) -> Result<(), SalonError> {
        Ok(self.inner.lower_hands(participant_id.as_deref())?)
    }

    /// Sends a chat message (1–1000 characters; end-to-end encrypted in an encrypted room).
    pub fn send_chat(&self, text: String) -> Result<(), SalonError> {
        Ok(self.inner.send_chat(&text)?)
    }

    /// (The owner) deletes the room's chat for everyone.
    pub fn clear_chat(&self) -> Result<(), SalonError> {
        Ok(self.inner.clear_chat()?)
    }

    /// Ends the call for everyone (this one ends with `RoomEnded`).
    pub fn end_room(&self) -> Result<(), SalonError> {
        Ok(self.inner.end_room()?)
    }

    pub async fn leave(&self) {
        let inner = self.inner.clone();
        let _ = on_runtime(async move {
            inner.leave().await;
            Ok(())
        })
        .await;
    }
}

/// The reactions a room accepts, in the order to show them.
#[uniffi::export]
pub fn salon_reactions() -> Vec<String> {
    Call::reactions()
}

/// The core's version, e.g. "0.1.0".
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// A synthetic test picture at frame `index` of a moving sequence (30 fps), for demos and tests
/// without a camera.
#[uniffi::export]
pub fn test_pattern_frame(width: u32, height: u32, index: u64) -> Result<VideoFrame, SalonError> {
    let mut pattern = crate::media::pattern::TestPattern::new(width, height).map_err(|e| {
        SalonError::InvalidInput {
            reason: e.to_string(),
        }
    })?;
    Ok(pattern.next_frame(index.saturating_mul(33_333)).into())
}
