//! A joined room. [`Call::join`] connects (returning room-not-found, room-full, removed, network
//! errors at once) and returns once you are in — or waiting in the lobby of a locked room. A
//! driver task then keeps the call going: it waits in the lobby, answers the server's
//! renegotiations, starts receivers for new tracks, follows the room, carries out host actions,
//! and reconnects with backoff when the socket drops or ICE fails — resuming the same
//! participant id, so the others see no ghost. When only the socket dropped and the peer
//! connection is still up, it keeps that connection (media goes on flowing) and asks the server
//! to go on with it; if the server cannot, or ICE fails meanwhile, the call starts over with a
//! new peer connection. A removal, a denied knock or an ended room end the call for good: no
//! reconnect.

pub mod backoff;
mod connect;
mod driver;
pub mod e2ee;
mod host;
pub mod ice;
pub mod media_in;
pub mod media_out;
pub mod peer;
pub mod route;
mod screen;
pub mod signal;
pub mod simulcast;
mod social;
pub mod state;
pub mod view;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salon_protocol::{ClientMessage, ErrorCode, MediaState, Tile, Validate as _};
use tokio::sync::{mpsc, oneshot};

use self::driver::Driver;
use self::media_in::{AudioSink, ReceiveContext, RemoteStats, StatsMap, VideoSink};
use self::media_out::{OutTracks, Outgoing};
use self::state::RoomState;
use self::view::ParticipantView;
use crate::error::CoreError;
use crate::media::background::{Background, PersonMask};
use crate::media::video::{I420Frame, VideoEncoderConfig};
use crate::store::InviteLink;

/// Told about every visible change of the call, and about moments that are not state (a host
/// asks you to mute, the server refused something). Called from the call's task; keep it quick.
pub trait CallListener: Send + Sync + 'static {
    fn on_state_changed(&self, state: RoomState);

    /// Something happened that the state does not keep. The default ignores it.
    fn on_event(&self, event: CallEvent) {
        let _ = event;
    }
}

/// What a call tells the app besides its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A host (`by`, their name) asks you to mute your microphone. Your choice.
    MuteRequested { by: String },
    /// A host (`by`) turned your microphone (and maybe camera) off. The core has already
    /// switched them off; the switches are now as given. You may turn them on again (except
    /// during panic).
    Muted {
        by: String,
        microphone_on: bool,
        camera_on: bool,
    },
    /// The server refused something you did — a host action, a host key — and nothing
    /// changed. `message` is the server's explanation, written for people.
    Refused { reason: Refusal, message: String },
    /// Someone reacted (you too: your own reaction comes back). Show `emoji` floating over
    /// their tile for a moment.
    Reaction {
        participant_id: String,
        emoji: String,
    },
}

/// Why the server refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// You may not do that: you are not a host, the target outranks you, the host key is
    /// wrong, or the room holds microphones off.
    NotAllowed,
    /// The person, knock or ban is no longer there.
    NotFound,
    /// Too many messages; slow down.
    RateLimited,
    /// The message was not acceptable (e.g. plain chat in an encrypted room); the text says
    /// why.
    Invalid,
    /// The server could not do it (e.g. its storage failed); try again later.
    Failed,
}

impl Refusal {
    fn from_code(code: ErrorCode) -> Option<Self> {
        match code {
            ErrorCode::NotAllowed => Some(Self::NotAllowed),
            ErrorCode::NotFound => Some(Self::NotFound),
            ErrorCode::RateLimited => Some(Self::RateLimited),
            ErrorCode::InvalidField | ErrorCode::BadMessage | ErrorCode::MessageTooLarge => {
                Some(Self::Invalid)
            }
            ErrorCode::Internal => Some(Self::Failed),
            _ => None,
        }
    }
}

/// How to join.
#[derive(Clone)]
pub struct CallConfig {
    /// Your display name (1–64 characters).
    pub name: String,
    /// Microphone and camera on at the start.
    pub audio_on: bool,
    pub video_on: bool,
    /// Encoder targets for the camera.
    pub video: VideoEncoderConfig,
    /// Local UDP addresses for media. The default binds every interface and loopback.
    pub udp_addrs: Vec<String>,
    /// Local addresses ICE-TCP dials the server's TCP port from, when UDP has not connected
    /// within [`peer::TCP_FALLBACK_AFTER`] (at once without `udp_addrs`): RFC 6544, for
    /// networks that let no UDP out. The default is the same as `udp_addrs`; empty: no TCP.
    pub tcp_addrs: Vec<String>,
    /// The room's host key: join as its owner. [`crate::Client::join`] fills it in for rooms
    /// in "my rooms".
    pub host_key: Option<String>,
    /// This device's id, so that a host's removal sticks to it. [`crate::Client::join`] fills
    /// it in from the local store.
    pub device_id: Option<String>,
    /// Tests only: sees every received video frame as it arrived, before decryption
    /// (participant id, Annex B bytes).
    #[doc(hidden)]
    pub raw_video_tap: Option<RawVideoTap>,
    /// Tests only: reach the server through its TURN servers alone (relay candidates only),
    /// as a client on a network with no direct path would.
    #[doc(hidden)]
    pub relay_only: bool,
}

/// See [`CallConfig::raw_video_tap`].
pub type RawVideoTap = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

impl fmt::Debug for CallConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The host key is a credential and the device id a tracking handle: keep them out of logs.
        f.debug_struct("CallConfig")
            .field("name", &self.name)
            .field("audio_on", &self.audio_on)
            .field("video_on", &self.video_on)
            .field("video", &self.video)
            .field("udp_addrs", &self.udp_addrs)
            .field("tcp_addrs", &self.tcp_addrs)
            .field("host_key", &self.host_key.as_ref().map(|_| "<redacted>"))
            .field("device_id", &self.device_id.as_ref().map(|_| "<redacted>"))
            .field("relay_only", &self.relay_only)
            .finish()
    }
}

impl CallConfig {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            audio_on: true,
            video_on: true,
            video: VideoEncoderConfig {
                width: 640,
                height: 360,
                bitrate_bps: 800_000,
                max_fps: 30.0,
            },
            udp_addrs: vec!["0.0.0.0:0".into(), "127.0.0.1:0".into()],
            tcp_addrs: vec!["0.0.0.0:0".into(), "127.0.0.1:0".into()],
            host_key: None,
            device_id: None,
            raw_video_tap: None,
            relay_only: false,
        }
    }
}

/// Told when a host rotated the room's link: `(old room id, new invite link)`. The client uses
/// it to keep "my rooms" pointing at the room.
pub(crate) type RelinkHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Where a call reports to.
#[derive(Default)]
pub(crate) struct Hooks {
    pub listener: Option<Arc<dyn CallListener>>,
    pub video_sink: Option<Arc<dyn VideoSink>>,
    pub audio_sink: Option<Arc<dyn AudioSink>>,
    pub on_relink: Option<RelinkHook>,
}

enum Cmd {
    SetMicrophone(bool),
    SetCamera(bool),
    /// A host action for the server.
    Host(ClientMessage),
    /// The app shows this participant this way now.
    SetView(String, ParticipantView),
    /// The device's network changed: restart ICE.
    NetworkChanged,
    Leave(oneshot::Sender<()>),
}

struct Shared {
    state: Mutex<RoomState>,
    listener: Option<Arc<dyn CallListener>>,
    /// Names of everyone seen in this call, also after they left (for reports).
    names: Mutex<HashMap<String, String>>,
    /// Resumes on which the server went on with our peer connection.
    media_kept: AtomicU64,
    /// Offers from the server (renegotiations) answered.
    server_offers: AtomicU64,
    /// ICE restart offers sent.
    ice_restarts: AtomicU64,
    /// The key exchange (end-to-end encryption), fed every server message by [`driver::follow`].
    kx: Mutex<e2ee::KeyExchange>,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut RoomState) -> bool) {
        let snapshot = {
            let mut state = self.state();
            if !f(&mut state) {
                return;
            }
            let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            for p in &state.participants {
                names.insert(p.id.clone(), p.name.clone());
            }
            state.clone()
        };
        if let Some(listener) = &self.listener {
            listener.on_state_changed(snapshot);
        }
    }

    fn kx(&self) -> std::sync::MutexGuard<'_, e2ee::KeyExchange> {
        self.kx.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: CallEvent) {
        if let Some(listener) = &self.listener {
            listener.on_event(event);
        }
    }

    /// Passes a server refusal on as an event; other non-fatal errors are only logged.
    fn refused(&self, code: ErrorCode, message: String) {
        match Refusal::from_code(code) {
            Some(reason) => self.emit(CallEvent::Refused { reason, message }),
            None => tracing::warn!(?code, %message, "the server refused a message"),
        }
    }
}

/// See [`Call::connection_counters`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounters {
    /// Reconnects on which the server went on with the existing peer connection (no new
    /// offer, media never stopped).
    pub resumes_media_kept: u64,
    /// Renegotiations the server started (its offers) that this client answered.
    pub server_offers: u64,
    /// ICE restarts this client offered (a lasting disconnection, a network change).
    pub ice_restarts: u64,
}

/// A joined room. Dropping it leaves the room.
pub struct Call {
    shared: Arc<Shared>,
    outgoing: Outgoing,
    stats: StatsMap,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl Call {
    /// Joins the room behind `link`. Must be called inside a tokio runtime.
    ///
    /// Returns once you are in (`Connected`), or waiting in the lobby of a locked room
    /// (`Waiting`): a host's answer then turns the state `Connected` or ends the call with
    /// `KnockDenied`. Errors: room not found or full, [`CoreError::Removed`] (banned),
    /// [`CoreError::KnockDenied`] (turned away twice already), network and media failures.
    pub async fn join(
        link: &InviteLink,
        config: CallConfig,
        listener: Option<Arc<dyn CallListener>>,
        video_sink: Option<Arc<dyn VideoSink>>,
        audio_sink: Option<Arc<dyn AudioSink>>,
    ) -> Result<Self, CoreError> {
        let hooks = Hooks {
            listener,
            video_sink,
            audio_sink,
            on_relink: None,
        };
        Self::start(link, config, hooks).await
    }

    pub(crate) async fn start(
        link: &InviteLink,
        config: CallConfig,
        hooks: Hooks,
    ) -> Result<Self, CoreError> {
        let name = salon_protocol::clean_display_name("name", &config.name).map_err(|e| {
            CoreError::InvalidInput {
                reason: e.to_string(),
            }
        })?;
        let config = CallConfig { name, ..config };
        let media = MediaState {
            audio: config.audio_on,
            video: config.video_on,
        };
        let first_key = salon_e2ee::SenderKey::random(0);
        let crypto = Arc::new(e2ee::MediaCrypto::new(first_key.clone())?);
        let kx = e2ee::KeyExchange::new(
            link.secret.as_deref(),
            &link.room_id,
            crypto.clone(),
            first_key,
        )?;
        let shared = Arc::new(Shared {
            state: Mutex::new(RoomState::new(link.room_id.clone(), link.to_url(), media)),
            listener: hooks.listener,
            names: Mutex::new(HashMap::new()),
            media_kept: AtomicU64::new(0),
            server_offers: AtomicU64::new(0),
            ice_restarts: AtomicU64::new(0),
            kx: Mutex::new(kx),
        });
        let outgoing = Outgoing::start(
            config.video,
            crate::media::audio::Channels::Mono,
            crypto.clone(),
        )?;
        outgoing.audio_on.store(config.audio_on, Ordering::Relaxed);
        outgoing.video_on.store(config.video_on, Ordering::Relaxed);
        let stats = StatsMap::default();
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let ctx = ReceiveContext {
            video_sink: hooks.video_sink,
            audio_sink: hooks.audio_sink,
            stats: stats.clone(),
            events: media_tx,
            receivers: Default::default(),
            crypto,
            raw_video_tap: config.raw_video_tap.clone(),
        };
        let handles = outgoing.clone_handles();
        let mut route = route::Route::default();
        let (signal, admission) =
            connect::open(link, &mut route, &config, media, None, false, &shared).await?;
        let mut resume = None;
        let first = connect::enter(
            signal,
            admission,
            &config,
            &shared,
            &handles,
            &mut resume,
            None,
        )
        .await?;
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            link: link.clone(),
            route,
            config,
            shared: shared.clone(),
            tracks: handles,
            ctx,
            resume,
            on_relink: hooks.on_relink,
            kept: None,
            view: Default::default(),
            view_at: None,
            ice: Default::default(),
            hear_by: None,
        };
        tokio::spawn(driver.run(first, cmd_rx, media_rx));
        Ok(Self {
            shared,
            outgoing,
            stats,
            cmd,
        })
    }

    /// The room as it is now.
    pub fn state(&self) -> RoomState {
        self.shared.state().clone()
    }

    /// What arrived from each remote participant so far.
    pub fn remote_stats(&self) -> HashMap<String, RemoteStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The name of a participant seen in this call (also after they left).
    pub fn name_of(&self, participant_id: &str) -> Option<String> {
        self.shared
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(participant_id)
            .cloned()
    }

    /// Counters of the connection's life, for tests and diagnostics.
    #[doc(hidden)]
    pub fn connection_counters(&self) -> ConnectionCounters {
        ConnectionCounters {
            resumes_media_kept: self.shared.media_kept.load(Ordering::Relaxed),
            server_offers: self.shared.server_offers.load(Ordering::Relaxed),
            ice_restarts: self.shared.ice_restarts.load(Ordering::Relaxed),
        }
    }

    /// Tests only: every sender key this call received, in order (participant id, key), to
    /// show what a removed participant could still decrypt.
    #[doc(hidden)]
    pub fn received_sender_keys(&self) -> Vec<(String, salon_e2ee::SenderKey)> {
        self.shared.kx().received_keys().to_vec()
    }

    /// Counters of what was sent.
    pub fn send_stats(&self) -> &media_out::SendStats {
        &self.outgoing.stats
    }

    /// A camera frame (I420). Never blocks; frames are dropped while the encoder is busy.
    pub fn send_video_frame(&self, frame: I420Frame) -> Result<(), CoreError> {
        self.outgoing.send_video(frame)
    }

    /// A camera frame with the platform's person mask for it (see
    /// [`crate::media::background`]): with a background set, the encoder thread blurs or
    /// replaces what is not the person before encoding. Never blocks.
    pub fn send_video_frame_masked(
        &self,
        frame: I420Frame,
        mask: PersonMask,
    ) -> Result<(), CoreError> {
        self.outgoing.send_video_masked(frame, Some(mask))
    }

    /// What goes behind me in my video from the next frame on: off, blurred, or a picture
    /// (scaled to cover the frame). Frames sent without a mask while a background is on go out
    /// as all background (blurred all over, or only the picture), never as they came.
    /// [`CoreError::InvalidInput`] for a picture that is not a valid I420 frame or is larger
    /// than [`crate::media::background::MAX_IMAGE_SIDE`] a side.
    pub fn set_background(&self, background: Background) -> Result<(), CoreError> {
        self.outgoing.set_background(background)
    }

    /// 10 or 20 ms of 48 kHz mono PCM.
    pub fn send_audio_frame(&self, pcm: Vec<i16>) -> Result<(), CoreError> {
        if pcm.len() != 480 && pcm.len() != 960 {
            return Err(CoreError::InvalidInput {
                reason: format!(
                    "audio frames must be 480 or 960 samples (10 or 20 ms at 48 kHz mono), got {}",
                    pcm.len()
                ),
            });
        }
        self.outgoing.send_audio(pcm)
    }

    /// Switches the microphone on or off (off sends silence — with DTX, a packet every 400 ms —
    /// and tells the room). Turning it on while a host holds guests' microphones off (panic) is
    /// [`CoreError::NotAllowed`].
    pub fn set_microphone(&self, on: bool) -> Result<(), CoreError> {
        self.check_may_turn_on(on)?;
        self.outgoing.audio_on.store(on, Ordering::Relaxed);
        let _ = self.cmd.send(Cmd::SetMicrophone(on));
        Ok(())
    }

    /// Switches the camera on or off (off stops sending frames and tells the room). Turning
    /// it on during panic is [`CoreError::NotAllowed`] for guests.
    pub fn set_camera(&self, on: bool) -> Result<(), CoreError> {
        self.check_may_turn_on(on)?;
        self.outgoing.video_on.store(on, Ordering::Relaxed);
        if on {
            self.outgoing.layers.request_keyframes();
        }
        let _ = self.cmd.send(Cmd::SetCamera(on));
        Ok(())
    }

    /// How the app shows `participant_id`'s video: hidden (not on screen — its video stops
    /// coming), a thumbnail, or large. Participants never set count as thumbnails; a screen
    /// share (`<participant id>|screen`, the id its frames come with) counts as large. Until the
    /// first call the server sends every video; from then on the core tells it the whole view
    /// (at most five times a second, and again after a reconnect). Works in the lobby and while
    /// reconnecting too (it applies once in the room). Errors: [`CoreError::InvalidInput`] for a
    /// malformed id, [`CoreError::CallEnded`].
    pub fn set_view(&self, participant_id: &str, view: ParticipantView) -> Result<(), CoreError> {
        let (id, source) = salon_protocol::split_stream_id(participant_id);
        let check = ClientMessage::View {
            tiles: vec![Tile {
                participant_id: id.to_owned(),
                source,
                size: Default::default(),
                width: 0,
                height: 0,
            }],
        };
        check.validate().map_err(|e| CoreError::InvalidInput {
            reason: e.to_string(),
        })?;
        if matches!(
            self.shared.state().connection,
            state::ConnectionStatus::Ended { .. }
        ) {
            return Err(CoreError::CallEnded);
        }
        self.cmd
            .send(Cmd::SetView(participant_id.to_owned(), view))
            .map_err(|_| CoreError::CallEnded)
    }

    /// The device's network changed (Wi-Fi to mobile data and back, a VPN, a cable): in the
    /// room, the call restarts ICE on the same peer connection (the others are not
    /// renegotiated); in the lobby or while reconnecting, nothing is needed. Cheap and safe to
    /// call on every change the platform reports. [`CoreError::CallEnded`] after the call ended.
    pub fn on_network_changed(&self) -> Result<(), CoreError> {
        self.cmd
            .send(Cmd::NetworkChanged)
            .map_err(|_| CoreError::CallEnded)
    }

    fn check_may_turn_on(&self, on: bool) -> Result<(), CoreError> {
        if on && self.shared.state().media_held_off() {
            return Err(CoreError::NotAllowed {
                reason: "a host has turned everyone's microphone and camera off for now".into(),
            });
        }
        Ok(())
    }

    /// Leaves the room (also from the lobby) and waits until the server has been told.
    pub async fn leave(&self) {
        let (done, wait) = oneshot::channel();
        if self.cmd.send(Cmd::Leave(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let (done, _) = oneshot::channel();
        let _ = self.cmd.send(Cmd::Leave(done));
    }
}

impl Outgoing {
    fn clone_handles(&self) -> TrackHandles {
        TrackHandles {
            tracks: self.tracks.clone(),
            layers: self.layers.clone(),
            audio_on: self.audio_on.clone(),
            video_watched: self.video_watched.clone(),
            video_on: self.video_on.clone(),
        }
    }
}

/// The driver's handles on the sending half: where encoded media goes, and the switches a
/// host's mute turns off.
#[derive(Clone)]
struct TrackHandles {
    tracks: Arc<arc_swap::ArcSwapOption<OutTracks>>,
    /// Which video layers to encode, and which owe a keyframe.
    layers: Arc<simulcast::LayerSwitches>,
    audio_on: Arc<AtomicBool>,
    video_on: Arc<AtomicBool>,
    /// Somebody watches my video (the server's `video_watched`): encode and send it.
    video_watched: Arc<AtomicBool>,
}
