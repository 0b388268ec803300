//! A joined room. [`Call::join`] connects (returning room-not-found, room-full, network errors
//! at once), then a driver task keeps the call going: it answers the server's renegotiations,
//! starts receivers for new tracks, follows the room, and reconnects with backoff when the
//! socket drops or ICE fails — resuming the same participant id, so the others see no ghost.

pub mod backoff;
pub mod media_in;
pub mod media_out;
pub mod peer;
pub mod signal;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use salon_protocol::{ClientMessage, ErrorCode, MediaState, Resume, ServerMessage};
use tokio::sync::{mpsc, oneshot};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::RTCPeerConnectionState;

use self::backoff::Backoff;
use self::media_in::{AudioSink, MediaEvent, ReceiveContext, RemoteStats, StatsMap, VideoSink};
use self::media_out::{OutTracks, Outgoing};
use self::peer::{ClientPeer, PeerEvent};
use self::signal::Signal;
use self::state::{ConnectionStatus, EndReason, RoomState};
use crate::error::CoreError;
use crate::media::video::{I420Frame, VideoEncoderConfig};
use crate::store::InviteLink;

/// Told about every visible change of the call. Called from the call's task; keep it quick.
pub trait CallListener: Send + Sync + 'static {
    fn on_state_changed(&self, state: RoomState);
}

/// How to join.
#[derive(Debug, Clone)]
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
        }
    }
}

enum Cmd {
    SetMedia(MediaState),
    Leave(oneshot::Sender<()>),
}

struct Shared {
    state: Mutex<RoomState>,
    listener: Option<Arc<dyn CallListener>>,
    /// Names of everyone seen in this call, also after they left (for reports).
    names: Mutex<HashMap<String, String>>,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut RoomState) -> bool) {
        let snapshot = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
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
}

/// A joined room. Dropping it leaves the room.
pub struct Call {
    shared: Arc<Shared>,
    outgoing: Outgoing,
    stats: StatsMap,
    cmd: mpsc::UnboundedSender<Cmd>,
    media: Mutex<MediaState>,
}

/// One connection attempt's worth of state.
struct Session {
    signal: Signal,
    peer: ClientPeer,
    me: String,
    resume_token: String,
}

impl Call {
    /// Joins the room behind `link`. Must be called inside a tokio runtime.
    pub async fn join(
        link: &InviteLink,
        config: CallConfig,
        listener: Option<Arc<dyn CallListener>>,
        video_sink: Option<Arc<dyn VideoSink>>,
        audio_sink: Option<Arc<dyn AudioSink>>,
    ) -> Result<Self, CoreError> {
        let name = salon_protocol::clean_display_name("name", &config.name).map_err(|e| {
            CoreError::InvalidInput {
                reason: e.to_string(),
            }
        })?;
        let config = CallConfig { name, ..config };
        let shared = Arc::new(Shared {
            state: Mutex::new(RoomState::new(link.room_id.clone())),
            listener,
            names: Mutex::new(HashMap::new()),
        });
        let outgoing = Outgoing::start(config.video, crate::media::audio::Channels::Mono)?;
        outgoing
            .audio_on
            .store(config.audio_on, std::sync::atomic::Ordering::Relaxed);
        outgoing
            .video_on
            .store(config.video_on, std::sync::atomic::Ordering::Relaxed);
        let stats = StatsMap::default();
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let ctx = ReceiveContext {
            video_sink,
            audio_sink,
            stats: stats.clone(),
            events: media_tx,
        };
        let media = MediaState {
            audio: config.audio_on,
            video: config.video_on,
        };
        let session = connect(
            link,
            &config,
            media,
            None,
            &shared,
            &outgoing.clone_handles(),
        )
        .await?;
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            link: link.clone(),
            config,
            shared: shared.clone(),
            tracks: outgoing.clone_handles(),
            ctx,
            media,
        };
        tokio::spawn(driver.run(session, cmd_rx, media_rx));
        Ok(Self {
            shared,
            outgoing,
            stats,
            cmd,
            media: Mutex::new(media),
        })
    }

    /// The room as it is now.
    pub fn state(&self) -> RoomState {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

    /// Counters of what was sent.
    pub fn send_stats(&self) -> &media_out::SendStats {
        &self.outgoing.stats
    }

    /// A camera frame (I420). Never blocks; frames are dropped while the encoder is busy.
    pub fn send_video_frame(&self, frame: I420Frame) -> Result<(), CoreError> {
        self.outgoing.send_video(frame)
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

    /// Switches the microphone on or off (off sends silence and tells the room).
    pub fn set_microphone(&self, on: bool) {
        self.outgoing
            .audio_on
            .store(on, std::sync::atomic::Ordering::Relaxed);
        self.set_media(|m| m.audio = on);
    }

    /// Switches the camera on or off (off stops sending frames and tells the room).
    pub fn set_camera(&self, on: bool) {
        self.outgoing
            .video_on
            .store(on, std::sync::atomic::Ordering::Relaxed);
        if on {
            self.outgoing
                .keyframe_wanted
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.set_media(|m| m.video = on);
    }

    fn set_media(&self, f: impl FnOnce(&mut MediaState)) {
        let mut media = self.media.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut media);
        let _ = self.cmd.send(Cmd::SetMedia(*media));
    }

    /// Leaves the room and waits until the server has been told.
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
            keyframe_wanted: self.keyframe_wanted.clone(),
        }
    }
}

#[derive(Clone)]
struct TrackHandles {
    tracks: Arc<arc_swap::ArcSwapOption<OutTracks>>,
    keyframe_wanted: Arc<std::sync::atomic::AtomicBool>,
}

/// Connects, joins (resuming if asked), publishes, and completes the first negotiation.
async fn connect(
    link: &InviteLink,
    config: &CallConfig,
    media: MediaState,
    resume: Option<Resume>,
    shared: &Shared,
    handles: &TrackHandles,
) -> Result<Session, CoreError> {
    let mut signal = Signal::connect(&link.ws_url()).await?;
    let reply = signal.join(&config.name, media, resume).await?;
    shared.update(|s| s.apply(&reply.joined));
    let mut peer = peer::build(&config.udp_addrs).await?;
    let me = reply.participant_id.clone();

    let now = std::time::Instant::now();
    let mut sources = Vec::new();
    for (kind, codec, label) in [
        (RtpCodecKind::Audio, salon_rtc::opus_codec(), "audio"),
        (RtpCodecKind::Video, salon_rtc::h264_codec(), "video"),
    ] {
        let ssrc = rand::random::<u32>();
        let track = Arc::new(
            TrackLocalStaticSample::new(
                now,
                MediaStreamTrack::new(
                    me.clone(),
                    format!("{me}-{label}"),
                    format!("{me}-{label}"),
                    kind,
                    vec![RTCRtpEncodingParameters {
                        rtp_coding_parameters: RTCRtpCodingParameters {
                            ssrc: Some(ssrc),
                            ..Default::default()
                        },
                        codec,
                        ..Default::default()
                    }],
                ),
            )
            .map_err(CoreError::media)?,
        );
        let transceiver = peer
            .pc
            .add_transceiver_from_track(
                track.clone() as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec![me.clone()],
                    send_encodings: vec![],
                }),
            )
            .await
            .map_err(CoreError::media)?;
        sources.push((kind, track, ssrc, transceiver));
    }

    let offer = peer.pc.create_offer(None).await.map_err(CoreError::media)?;
    peer.pc
        .set_local_description(offer)
        .await
        .map_err(CoreError::media)?;
    let sdp = peer::local_sdp(&mut peer).await?;
    signal.send(&ClientMessage::Offer { sdp }).await?;
    let answer = loop {
        match signal.recv().await? {
            None => return Err(CoreError::network("the server closed the connection")),
            Some(ServerMessage::Answer { sdp }) => break sdp,
            Some(ServerMessage::Error { code, message, .. }) => {
                return Err(CoreError::from_code(code, &message));
            }
            Some(other) => shared.update(|s| s.apply(&other)),
        }
    };
    let answer = RTCSessionDescription::answer(answer).map_err(CoreError::media)?;
    peer.pc
        .set_remote_description(answer)
        .await
        .map_err(CoreError::media)?;

    let mut out = OutTracks {
        audio: None,
        video: None,
    };
    for (kind, track, ssrc, transceiver) in sources {
        let Ok(Some(sender)) = transceiver.sender().await else {
            continue;
        };
        let params = sender.get_parameters().await.map_err(CoreError::media)?;
        let Some(pt) = params.rtp_parameters.codecs.first().map(|c| c.payload_type) else {
            tracing::warn!(%kind, "the server did not accept this track's codec");
            continue;
        };
        if kind == RtpCodecKind::Video {
            // Keyframe requests from the server (a new subscriber, a loss) reach the encoder.
            let wanted = handles.keyframe_wanted.clone();
            let watched = track.clone();
            tokio::spawn(async move {
                while let Some(event) = watched.poll().await {
                    if let TrackLocalEvent::OnRtcpPacket(packets) = event
                        && packets
                            .iter()
                            .any(|p| salon_rtc::keyframe::is_keyframe_request(p.as_ref()))
                    {
                        wanted.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
            out.video = Some((track, ssrc, pt));
        } else {
            out.audio = Some((track, ssrc, pt));
        }
    }
    handles.tracks.store(Some(Arc::new(out)));
    handles
        .keyframe_wanted
        .store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(Session {
        signal,
        peer,
        me,
        resume_token: reply.resume_token,
    })
}

enum Outcome {
    Left,
    Lost(String),
    Ended(EndReason),
}

struct Driver {
    link: InviteLink,
    config: CallConfig,
    shared: Arc<Shared>,
    tracks: TrackHandles,
    ctx: ReceiveContext,
    media: MediaState,
}

impl Driver {
    async fn run(
        mut self,
        first: Session,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut media_events: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        let mut session = first;
        let mut backoff = Backoff::default();
        let mut leave_ack: Option<oneshot::Sender<()>> = None;
        loop {
            let outcome = self
                .serve(&mut session, &mut cmds, &mut media_events, &mut leave_ack)
                .await;
            self.tracks.tracks.store(None);
            let resume = Resume {
                participant_id: session.me.clone(),
                token: session.resume_token.clone(),
            };
            let _ = session.peer.pc.close().await;
            session.signal.close().await;
            let reason = match outcome {
                Outcome::Left => EndReason::Left,
                Outcome::Ended(reason) => reason,
                Outcome::Lost(why) => {
                    tracing::info!(reason = %why, "connection lost; reconnecting");
                    match self.reconnect(resume, &mut backoff, &mut cmds).await {
                        Ok(next) => {
                            session = next;
                            backoff.reset();
                            continue;
                        }
                        Err(reason) => reason,
                    }
                }
            };
            self.shared
                .update(|s| s.set_connection(ConnectionStatus::Ended { reason }));
            if let Some(ack) = leave_ack.take() {
                let _ = ack.send(());
            }
            return;
        }
    }

    async fn reconnect(
        &mut self,
        resume: Resume,
        backoff: &mut Backoff,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
    ) -> Result<Session, EndReason> {
        loop {
            let attempt = backoff.attempts() + 1;
            self.shared
                .update(|s| s.set_connection(ConnectionStatus::Reconnecting { attempt }));
            let delay = backoff.next_delay(rand::random::<f64>());
            // Waiting is interruptible: leaving while reconnecting ends the call at once.
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    cmd = cmds.recv() => match cmd {
                        None => return Err(EndReason::Left),
                        Some(Cmd::Leave(ack)) => {
                            let _ = ack.send(());
                            return Err(EndReason::Left);
                        }
                        Some(Cmd::SetMedia(media)) => self.media = media,
                    },
                }
            }
            match connect(
                &self.link,
                &self.config,
                self.media,
                Some(resume.clone()),
                &self.shared,
                &self.tracks,
            )
            .await
            {
                Ok(session) => return Ok(session),
                Err(CoreError::RoomNotFound) => return Err(EndReason::RoomNotFound),
                Err(CoreError::RoomFull) => return Err(EndReason::RoomFull),
                Err(CoreError::Incompatible { .. }) => return Err(EndReason::Incompatible),
                Err(e) => tracing::info!(error = %e, attempt, "reconnect failed"),
            }
        }
    }

    async fn serve(
        &mut self,
        session: &mut Session,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
        media_events: &mut mpsc::UnboundedReceiver<MediaEvent>,
        leave_ack: &mut Option<oneshot::Sender<()>>,
    ) -> Outcome {
        let mut ping = tokio::time::interval(Duration::from_secs(15));
        ping.reset();
        loop {
            tokio::select! {
                message = session.signal.recv() => match message {
                    Ok(Some(message)) => {
                        if let Some(outcome) = self.on_server(session, message).await {
                            return outcome;
                        }
                    }
                    Ok(None) => return Outcome::Lost("the server closed the connection".into()),
                    Err(e) => return Outcome::Lost(e.to_string()),
                },
                Some(event) = session.peer.events.recv() => match event {
                    PeerEvent::State(RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) => {
                        return Outcome::Lost("the media connection failed".into());
                    }
                    PeerEvent::State(_) => {}
                    PeerEvent::Track(track) => media_in::receive(track, self.ctx.clone()),
                },
                Some(event) = media_events.recv() => match event {
                    MediaEvent::Receiving { participant, kind, on } => {
                        self.shared.update(|s| s.set_receiving(&participant, kind, on));
                    }
                    MediaEvent::Speaking { participant, on } => {
                        self.shared.update(|s| s.set_speaking(&participant, on));
                    }
                },
                cmd = cmds.recv() => match cmd {
                    None => {
                        let _ = session.signal.send(&ClientMessage::Leave).await;
                        return Outcome::Left;
                    }
                    Some(Cmd::Leave(ack)) => {
                        let _ = session.signal.send(&ClientMessage::Leave).await;
                        *leave_ack = Some(ack);
                        return Outcome::Left;
                    }
                    Some(Cmd::SetMedia(media)) => {
                        self.media = media;
                        if session.signal.send(&ClientMessage::Media(media)).await.is_err() {
                            return Outcome::Lost("the server connection dropped".into());
                        }
                    }
                },
                _ = ping.tick() => {
                    if session.signal.send(&ClientMessage::Ping).await.is_err() {
                        return Outcome::Lost("the server connection dropped".into());
                    }
                }
            }
        }
    }

    async fn on_server(
        &mut self,
        session: &mut Session,
        message: ServerMessage,
    ) -> Option<Outcome> {
        match message {
            ServerMessage::Offer { sdp } => {
                if let Err(e) = answer(session, sdp).await {
                    return Some(Outcome::Lost(format!("renegotiation failed: {e}")));
                }
            }
            ServerMessage::Error {
                code,
                message,
                fatal,
            } => {
                tracing::warn!(?code, %message, "server error");
                if fatal {
                    return Some(match code {
                        ErrorCode::RoomNotFound => Outcome::Ended(EndReason::RoomNotFound),
                        ErrorCode::RoomFull => Outcome::Ended(EndReason::RoomFull),
                        ErrorCode::UnsupportedVersion => Outcome::Ended(EndReason::Incompatible),
                        _ => Outcome::Lost(message),
                    });
                }
            }
            other => self.shared.update(|s| s.apply(&other)),
        }
        None
    }
}

async fn answer(session: &mut Session, sdp: String) -> Result<(), CoreError> {
    let offer = RTCSessionDescription::offer(sdp).map_err(CoreError::media)?;
    let pc = session.peer.pc.clone();
    pc.set_remote_description(offer)
        .await
        .map_err(CoreError::media)?;
    let answer = pc.create_answer(None).await.map_err(CoreError::media)?;
    pc.set_local_description(answer)
        .await
        .map_err(CoreError::media)?;
    let sdp = peer::local_sdp(&mut session.peer).await?;
    session.signal.send(&ClientMessage::Answer { sdp }).await
}
