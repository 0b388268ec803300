//! The media side: one thread drives many sans-IO `rtc` peer connections, each with its own
//! UDP socket on 127.0.0.1, from one `mio` readiness loop. No task or allocation per packet
//! beyond what `rtc` itself does: datagrams go into `handle_read`, RTP comes out of
//! `poll_read`, datagrams to send out of `poll_write`, and time is driven with
//! `handle_timeout`/`poll_timeout` (cached per connection, refreshed after each touch).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_twcc_receiver_only;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverId, RTCRtpTransceiverInit,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use salon_rtc::keyframe::{self, KeyframeRequests};
use tokio::sync::oneshot;

use salon_e2ee::{FrameSealer, SenderKey};

use crate::e2ee::{self, KindStats};
use crate::expect::{Segment, SentLog, SeqRuns, WindowCounter};
use crate::shape::{
    self, AUDIO, AUDIO_LEVEL_URI, LEVEL_BYTES, MAX_LAYERS, Rng, STAMP_LEN, Stamp, VIDEO,
};
use crate::stats::Histogram;

/// What one participant does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    pub audio: bool,
    pub video: bool,
    /// Stops reading its socket (and driving its connection) when the measurement starts.
    pub stall: bool,
    /// Its microphone hears speech (audio level around −25 dBov, voice activity); otherwise
    /// silence (−127 dBov, no voice activity) at the Opus DTX rate.
    pub speaker: bool,
}

impl Role {
    pub fn sends(&self, kind: usize) -> bool {
        if kind == AUDIO {
            self.audio
        } else {
            self.video
        }
    }
}

/// Media shapes (from the command line).
#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub fps: u32,
    pub video_packets: (u32, u32),
    pub video_size: usize,
    pub keyframe_interval: Duration,
    pub keyframe_packets: u32,
    pub audio_pps: u32,
    pub audio_size: usize,
    pub recv_buffer: usize,
    /// Negotiate transport-wide congestion control and send its feedback (every 100 ms, as
    /// `rtc`'s receiver does), as browsers do.
    pub twcc: bool,
    /// Simulcast layers of every video (1: none; 3: q, h, f).
    pub layers: usize,
    /// How long each layer's packets carry the mid and rid header extensions from its first
    /// packet (`None`: always).
    pub rid_for: Option<Duration>,
    /// Seal every frame before packetizing it and open every frame received (`--e2ee`).
    pub e2ee: bool,
}

/// The header extensions that name a simulcast layer (RFC 8852), and the one that names a
/// layer's retransmissions (offered as browsers do; the bench sends no retransmissions).
pub use rtc::sdp::extmap::{
    SDES_MID_URI as MID_URI, SDES_REPAIR_RTP_STREAM_ID_URI as RRID_URI,
    SDES_RTP_STREAM_ID_URI as RID_URI,
};

/// What a participant was told it receives: whose audio (`speakers`) and whose video (its own
/// `view`), now and every change (for the loss figures, `expect::tally`).
#[derive(Debug, Default)]
pub struct Expect {
    /// Per stream (`publisher * 2 + kind`): forwarded to it now.
    pub current: Vec<bool>,
    /// Per stream: when it was told the stream starts (`true`) or stops, ns since the epoch.
    pub changes: Vec<Vec<(u64, bool)>>,
    /// It sent a `view` (until then it receives every video).
    pub view_sent: bool,
    /// Whose tile is large in its view, from when (ns since the epoch; `None`: nobody's).
    pub large: Vec<(u64, Option<usize>)>,
}

impl Expect {
    pub fn new(n: usize) -> Self {
        Self {
            current: vec![false; n * 2],
            changes: vec![Vec::new(); n * 2],
            view_sent: false,
            large: Vec::new(),
        }
    }

    /// From now on, streams of `kind` come from `publishers` (bench indices; `me` and unknown
    /// ones ignored) and from nobody else.
    pub fn set(&mut self, kind: usize, publishers: &[usize], me: usize, now_ns: u64) {
        let n = self.current.len() / 2;
        let mut want = vec![false; n];
        for &q in publishers {
            if q != me
                && let Some(w) = want.get_mut(q)
            {
                *w = true;
            }
        }
        for (q, &on) in want.iter().enumerate() {
            let key = q * 2 + kind;
            if let (Some(cur), Some(log)) = (self.current.get_mut(key), self.changes.get_mut(key))
                && *cur != on
            {
                *cur = on;
                log.push((now_ns, on));
            }
        }
    }
}

/// One participant's shared counters (signaling and media threads both write here).
#[derive(Default)]
pub struct Person {
    pub role: Option<Role>,
    /// When the participant started joining (ns since the epoch; 0 = not yet).
    pub join_ns: AtomicU64,
    pub connected_ns: AtomicU64,
    /// When it sent its first audio / video packet.
    pub sending_ns: [AtomicU64; 2],
    pub first_media_ns: AtomicU64,
    /// Server offers received.
    pub offers: AtomicU32,
    /// Packets sent with a stamp inside the measurement window, per kind.
    pub sent_in_window: [AtomicU64; 2],
    /// Signaling errors from the server (non-fatal ones included).
    pub errors: AtomicU32,
    /// The server ended this participant (fatal error, closed socket) or ICE failed.
    pub failed: AtomicBool,
    /// When that happened (ns since the epoch).
    pub failed_ns: AtomicU64,
    /// Per stream (`publisher * 2 + kind`): a packet arrived.
    pub seen: Vec<AtomicBool>,
    /// Whose audio and video the server said it forwards to this participant.
    pub expect: Mutex<Expect>,
    /// `speakers` messages received, in all and inside the window.
    pub speakers_msgs: AtomicU32,
    pub speakers_msgs_in_window: AtomicU32,
    /// `view` messages sent.
    pub views_sent: AtomicU32,
    /// `video_watched` messages received: `watched: false`, `watched: true`.
    pub watched_msgs: [AtomicU32; 2],
    /// `video_layers` messages received.
    pub layers_msgs: AtomicU32,
}

impl Person {
    pub fn new(role: Role, n: usize) -> Self {
        Self {
            role: Some(role),
            seen: (0..n * 2).map(|_| AtomicBool::new(false)).collect(),
            expect: Mutex::new(Expect::new(n)),
            ..Self::default()
        }
    }

    pub fn has_seen(&self, key: usize) -> bool {
        self.seen
            .get(key)
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    pub fn fail(&self, now_ns: u64) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            self.failed_ns.store(now_ns, Ordering::Relaxed);
        }
    }
}

/// State every thread shares.
pub struct Shared {
    pub epoch: Instant,
    pub run: u32,
    pub stop: AtomicBool,
    /// Measurement window in ns since the epoch (`u64::MAX` = not set).
    pub window_start_ns: AtomicU64,
    pub window_end_ns: AtomicU64,
    pub people: Vec<Person>,
    /// Local ports of the stalled subscribers' sockets (their drops are expected).
    pub stalled_ports: Mutex<Vec<u16>>,
    /// Participants send a `view` of at most this many videos (0: no `view`, every video).
    pub view_grid: usize,
    /// The large tile of every view moves to the next tile this often (`None`: never).
    pub view_churn: Option<Duration>,
    /// With `--e2ee`: every participant's sender key, by bench index (empty without). Shared
    /// in-process instead of exchanged: the bench measures the media path, not the handshake.
    pub keys: Vec<SenderKey>,
}

impl Shared {
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn ns_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    pub fn in_window(&self, ns: u64) -> bool {
        ns >= self.window_start_ns.load(Ordering::Relaxed)
            && ns < self.window_end_ns.load(Ordering::Relaxed)
    }
}

/// Requests from the signaling side. Replies come back on oneshot channels.
pub enum Command {
    /// Build the participant's connection and return its publishing offer.
    Open {
        idx: usize,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// The server's answer to the publishing offer.
    Answer {
        idx: usize,
        sdp: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A server offer: returns our answer.
    Offer {
        idx: usize,
        sdp: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// Stop reading this participant's socket and driving its connection.
    Stall { idx: usize },
    /// The server says whether anyone watches this participant's video (`video_watched`).
    VideoWatched { idx: usize, watched: bool },
    /// The server says which simulcast layers of this participant's video somebody needs
    /// (`video_layers`: rids).
    VideoLayers { idx: usize, rids: Vec<String> },
    /// Report and stop.
    Finish {
        reply: oneshot::Sender<WorkerReport>,
    },
}

/// What one receiver saw of one (publisher, kind) stream.
#[derive(Debug, Clone, Default)]
pub struct StreamRx {
    /// First packet's arrival (ns since the epoch; 0 = never).
    pub first_ns: u64,
    /// Packets whose stamp lies in the measurement window.
    pub in_window: u64,
    /// Their stamp sequence numbers, per layer (audio: the first; not kept for stalled
    /// subscribers).
    pub runs: [SeqRuns; MAX_LAYERS],
    /// Video: each change of the layer that arrives (the first segment is the first packet).
    pub segments: Vec<Segment>,
    /// Payload bytes that arrived inside the window, per layer.
    pub bytes: [u64; MAX_LAYERS],
    /// Whole seconds of the window in which packets of each layer arrived (`last_second`: the
    /// last one counted, plus one).
    pub layer_seconds: [u64; MAX_LAYERS],
    last_second: [u64; MAX_LAYERS],
}

impl StreamRx {
    /// A packet of `layer` sent at `sent_ns` arrived at `at_ns`: a new segment when the layer
    /// differs from the one arriving (a late packet of an earlier segment is not a change).
    pub fn note_layer(&mut self, layer: u8, sent_ns: u64, at_ns: u64) {
        match self.segments.last() {
            Some(last) if last.layer == layer || sent_ns < last.sent_ns => {}
            _ => self.segments.push(Segment {
                sent_ns,
                arrival_ns: at_ns,
                layer,
            }),
        }
    }

    /// `bytes` of `layer` arrived in second `second` of the window.
    pub fn note_bytes(&mut self, layer: usize, bytes: usize, second: u64) {
        let (Some(b), Some(last), Some(secs)) = (
            self.bytes.get_mut(layer),
            self.last_second.get_mut(layer),
            self.layer_seconds.get_mut(layer),
        ) else {
            return;
        };
        *b += bytes as u64;
        if *last != second + 1 {
            *last = second + 1;
            *secs += 1;
        }
    }
}

/// What one participant did, handed back at the end.
#[derive(Default)]
pub struct PeerReport {
    pub idx: usize,
    /// Per `publisher * 2 + kind`: what arrived.
    pub rx: Vec<StreamRx>,
    /// Per kind and layer (audio: one): when it sent each packet of the window.
    pub sent: [Vec<SentLog>; 2],
    /// Per second of the window (by arrival): audio and video streams that delivered packets.
    pub windows: Vec<[u32; 2]>,
    /// Keyframe requests (PLI/FIR) that arrived inside the window, per video layer they named.
    pub keyframe_requests_in_window: Vec<u64>,
    /// Audio packets received with the audio-level extension, and of those with voice activity.
    pub audio_with_level: u64,
    pub audio_with_voice: u64,
    /// The audio-level extension id its audio sender uses (publishers only).
    pub level_ext: Option<u8>,
    /// Its video is paused now because nobody watches it.
    pub video_paused: bool,
    /// Its simulcast layers paused now because nobody needs them (`video_layers`).
    pub layers_paused: usize,
}

/// What a worker hands back at the end.
#[derive(Default)]
pub struct WorkerReport {
    /// Per participant on this worker.
    pub peers: Vec<PeerReport>,
    pub latency: [Histogram; 2],
    /// Media packets (any time) whose payload carried no stamp of this run.
    pub unknown: u64,
    /// `write_rtp` refusals, socket send failures (buffer full), connection errors.
    pub write_errors: u64,
    pub send_drops: u64,
    pub pc_errors: u64,
    /// Times the sender fell more than 200 ms behind schedule and skipped ahead.
    pub lag_skips: u64,
    pub keyframe_requests: u64,
    /// Keyframe requests that named none of the video's SSRCs.
    pub keyframe_requests_unknown: u64,
    /// With `--e2ee`, per kind: frames sealed and opened, bytes added, crypto time.
    pub e2ee: [KindStats; 2],
}

/// The signaling side's handle on a worker.
#[derive(Clone)]
pub struct WorkerHandle {
    tx: mpsc::Sender<Command>,
    waker: Arc<Waker>,
}

impl WorkerHandle {
    pub fn send(&self, command: Command) {
        if self.tx.send(command).is_ok() {
            let _ = self.waker.wake();
        }
    }
}

const WAKER: Token = Token(usize::MAX - 1);
/// Datagrams read from one socket before moving on to the others.
const READ_BUDGET: usize = 256;
/// Units (audio packets or video frames) one stream may catch up in one pass.
const SEND_BUDGET: u32 = 16;
/// A quiet microphone's packet interval: Opus with DTX sends one packet per 400 ms of silence.
pub const DTX_PERIOD: Duration = Duration::from_millis(400);

/// Starts a worker thread.
pub fn spawn(
    shared: Arc<Shared>,
    config: MediaConfig,
    name: String,
) -> std::io::Result<(WorkerHandle, std::thread::JoinHandle<()>)> {
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new().name(name).spawn(move || {
        let mut worker = Worker {
            shared,
            config,
            poll,
            rx,
            peers: Vec::new(),
            report: WorkerReport::default(),
            pending: Vec::new(),
            buf: vec![0u8; 2048],
        };
        worker.run();
    })?;
    Ok((WorkerHandle { tx, waker }, thread))
}

/// One RTP stream a participant sends: its audio, or one layer of its video.
struct Outgoing {
    ssrc: u32,
    rtp_seq: u16,
    rtp_ts: u32,
    stamp_seq: u32,
    /// When it sent each packet of the window.
    sent: SentLog,
    /// Video: when its next keyframe is due, when it sent the last one, whether one was asked
    /// for (a PLI/FIR naming its SSRC).
    next_keyframe: Instant,
    last_keyframe: Option<Instant>,
    keyframe_requested: bool,
    keyframe_requests_in_window: u64,
    /// When it sent its first packet (mid and rid ride on its packets for a while from then).
    first_sent: Option<Instant>,
    /// A simulcast layer nobody needs (`video_layers`): it sends nothing.
    paused: bool,
}

impl Outgoing {
    /// A video stream that comes back after a pause starts with a keyframe, as an encoder
    /// does, and its keyframe schedule starts over from it.
    fn restart(&mut self, now: Instant) {
        self.next_keyframe = now;
        self.last_keyframe = None;
    }

    fn new(ssrc: u32, now: Instant) -> Self {
        Self {
            ssrc,
            rtp_seq: rand::random(),
            rtp_ts: rand::random(),
            stamp_seq: 0,
            sent: SentLog::default(),
            next_keyframe: now,
            last_keyframe: None,
            keyframe_requested: false,
            keyframe_requests_in_window: 0,
            first_sent: None,
            paused: false,
        }
    }
}

/// The negotiated ids of the mid and rid header extensions, and the video section's mid.
struct Sdes {
    mid_id: u8,
    rid_id: u8,
    mid: Bytes,
}

struct Peer {
    idx: usize,
    pc: RTCPeerConnection,
    socket: UdpSocket,
    local: SocketAddr,
    /// Per kind: the sender (publishers only), and the negotiated payload type.
    senders: [Option<RTCRtpSenderId>; 2],
    pts: [Option<u8>; 2],
    /// Per kind: what it sends (audio: one stream; video: one per layer, lowest first).
    outs: [Vec<Outgoing>; 2],
    /// The video transceiver, and the mid/rid extensions its layers carry (simulcast only).
    video_transceiver: RTCRtpTransceiverId,
    sdes: Option<Sdes>,
    connected: bool,
    stalled: bool,
    next_send: [Option<Instant>; 2],
    rng: Rng,
    next_timeout: Option<Instant>,
    rx: Vec<StreamRx>,
    speaker: bool,
    /// The negotiated id of the audio-level extension on its audio sender, and in the server's
    /// offers (what it receives).
    level_ext: Option<u8>,
    rx_level_ext: Option<u8>,
    /// Nobody watches its video (`video_watched: false`): it sends none.
    video_paused: bool,
    windows: WindowCounter,
    audio_with_level: u64,
    audio_with_voice: u64,
    /// With `--e2ee`: its sender key's sealer (publishers), and its keys for the others' frames.
    sealer: Option<FrameSealer>,
    receiver: Option<e2ee::Receiver>,
}

struct Worker {
    shared: Arc<Shared>,
    config: MediaConfig,
    poll: Poll,
    rx: mpsc::Receiver<Command>,
    peers: Vec<Peer>,
    report: WorkerReport,
    /// Sockets that still had data when their read budget ran out.
    pending: Vec<usize>,
    buf: Vec<u8>,
}

fn h264() -> RTCRtpCodec {
    salon_rtc::h264_codec()
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            let mut finish = None;
            while let Ok(command) = self.rx.try_recv() {
                if let Command::Finish { reply } = command {
                    finish = Some(reply);
                } else {
                    self.command(command);
                }
            }
            if let Some(reply) = finish {
                for p in &mut self.peers {
                    let sent = |outs: &mut Vec<Outgoing>| {
                        outs.iter_mut()
                            .map(|o| std::mem::take(&mut o.sent))
                            .collect::<Vec<_>>()
                    };
                    let [audio, video] = &mut p.outs;
                    self.report.peers.push(PeerReport {
                        idx: p.idx,
                        rx: std::mem::take(&mut p.rx),
                        sent: [sent(audio), sent(video)],
                        windows: std::mem::take(&mut p.windows.counts),
                        keyframe_requests_in_window: video
                            .iter()
                            .map(|o| o.keyframe_requests_in_window)
                            .collect(),
                        audio_with_level: p.audio_with_level,
                        audio_with_voice: p.audio_with_voice,
                        level_ext: p.level_ext,
                        video_paused: p.video_paused,
                        layers_paused: video.iter().filter(|o| o.paused).count(),
                    });
                }
                let _ = reply.send(std::mem::take(&mut self.report));
                return;
            }
            let now = Instant::now();
            for i in 0..self.peers.len() {
                self.send_media(i, now);
                let due = self.peers[i].next_timeout.is_some_and(|t| t <= now);
                if due && !self.peers[i].stalled {
                    if self.peers[i].pc.handle_timeout(now).is_err() {
                        self.report.pc_errors += 1;
                    }
                    self.after_touch(i);
                }
            }
            // Sleep until the next send, timeout, or socket readiness (at most 50 ms).
            let now = Instant::now();
            let mut deadline = now + Duration::from_millis(50);
            for p in &self.peers {
                if p.stalled {
                    continue;
                }
                for t in p.next_send.iter().flatten() {
                    deadline = deadline.min(*t);
                }
                if let Some(t) = p.next_timeout {
                    deadline = deadline.min(t);
                }
            }
            let wait = if self.pending.is_empty() {
                deadline.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != ErrorKind::Interrupted
            {
                self.report.pc_errors += 1;
            }
            let mut ready: Vec<usize> = std::mem::take(&mut self.pending);
            for event in events.iter() {
                if event.token() != WAKER {
                    ready.push(event.token().0);
                }
            }
            ready.sort_unstable();
            ready.dedup();
            for i in ready {
                if i < self.peers.len() {
                    self.read_socket(i);
                }
            }
        }
    }

    fn find(&self, idx: usize) -> Option<usize> {
        self.peers.iter().position(|p| p.idx == idx)
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Open { idx, reply } => {
                let r = self.open(idx);
                let _ = reply.send(r);
            }
            Command::Answer { idx, sdp, reply } => {
                let r = match self.find(idx) {
                    Some(i) => {
                        let r = self.apply_answer(i, sdp);
                        self.after_touch(i);
                        r
                    }
                    None => Err("no such participant".to_owned()),
                };
                let _ = reply.send(r);
            }
            Command::Offer { idx, sdp, reply } => {
                let r = match self.find(idx) {
                    Some(i) => {
                        let r = self.answer_offer(i, sdp);
                        self.after_touch(i);
                        r
                    }
                    None => Err("no such participant".to_owned()),
                };
                let _ = reply.send(r);
            }
            Command::Stall { idx } => {
                if let Some(i) = self.find(idx) {
                    let p = &mut self.peers[i];
                    p.stalled = true;
                    let _ = self.poll.registry().deregister(&mut p.socket);
                }
            }
            Command::VideoWatched { idx, watched } => {
                if let Some(i) = self.find(idx) {
                    let p = &mut self.peers[i];
                    if p.video_paused && watched {
                        // Resume with a keyframe on every layer, as an encoder does (their
                        // schedules spread out again after it).
                        let now = Instant::now();
                        for o in &mut p.outs[VIDEO] {
                            o.restart(now);
                        }
                    }
                    p.video_paused = !watched;
                }
            }
            Command::VideoLayers { idx, rids } => {
                let names = shape::rids(self.config.layers);
                if let Some(i) = self.find(idx) {
                    let now = Instant::now();
                    for (o, rid) in self.peers[i].outs[VIDEO].iter_mut().zip(names) {
                        let on = rids.iter().any(|r| r == rid);
                        if o.paused && on {
                            o.restart(now);
                        }
                        o.paused = !on;
                    }
                }
            }
            Command::Finish { .. } => {}
        }
    }

    fn open(&mut self, idx: usize) -> Result<String, String> {
        let role = self
            .shared
            .people
            .get(idx)
            .and_then(|p| p.role)
            .ok_or("no such participant")?;
        let now = Instant::now();
        let std_socket = bind_socket(self.config.recv_buffer).map_err(|e| e.to_string())?;
        let local = std_socket.local_addr().map_err(|e| e.to_string())?;
        if role.stall
            && let Ok(mut ports) = self.shared.stalled_ports.lock()
        {
            ports.push(local.port());
        }
        let mut socket = UdpSocket::from_std(std_socket);
        let token = Token(self.peers.len());
        self.poll
            .registry()
            .register(&mut socket, token, Interest::READABLE)
            .map_err(|e| e.to_string())?;

        let mut me = salon_rtc::media_engine().map_err(|e| e.to_string())?;
        if self.config.layers > 1 {
            // As a browser offering simulcast: the layers are named by mid and rid.
            for uri in [MID_URI, RID_URI, RRID_URI] {
                me.register_header_extension(
                    RTCRtpHeaderExtensionCapability {
                        uri: uri.to_owned(),
                    },
                    RtpCodecKind::Video,
                    None,
                )
                .map_err(|e| e.to_string())?;
            }
        }
        // The keyframe-request interceptor, and TWCC feedback as browsers send it (unless
        // `--no-twcc`): no reports or NACKs, which keeps the bench's own cost per packet low.
        let registry = Registry::new().with(keyframe::SLOT.into(), KeyframeRequests::default());
        let registry = if self.config.twcc {
            configure_twcc_receiver_only(registry, &mut me).map_err(|e| e.to_string())?
        } else {
            registry
        };
        let se = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .build();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(se)
            .with_interceptor_registry(registry)
            .build(now)
            .map_err(|e| e.to_string())?;

        let mut senders = [None, None];
        let mut outs: [Vec<Outgoing>; 2] = [Vec::new(), Vec::new()];
        let mut video_transceiver = RTCRtpTransceiverId::default();
        for (kind, rkind) in [(AUDIO, RtpCodecKind::Audio), (VIDEO, RtpCodecKind::Video)] {
            let codec = if kind == AUDIO {
                salon_rtc::opus_codec()
            } else {
                h264()
            };
            // Video in simulcast: one encoding per rid, lowest first (`a=simulcast:send q;h;f`).
            let rids: Vec<&str> = if kind == VIDEO {
                shape::rids(self.config.layers).to_vec()
            } else {
                Vec::new()
            };
            let rids = if rids.is_empty() { vec![""] } else { rids };
            let mut encodings = Vec::new();
            for rid in rids {
                let ssrc = rand::random::<u32>();
                outs[kind].push(Outgoing::new(ssrc, now));
                encodings.push(RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        rid: rid.to_owned(),
                        ssrc: Some(ssrc),
                        ..Default::default()
                    },
                    codec: codec.clone(),
                    ..Default::default()
                });
            }
            // Both sections are always offered sendonly (a participant without a camera
            // still offers video); only the kinds the role publishes ever carry packets.
            let label = if kind == AUDIO { "mic" } else { "cam" };
            let track = MediaStreamTrack::new(
                format!("bench-{idx}"),
                format!("bench-{idx}-{label}"),
                label.to_owned(),
                rkind,
                encodings,
            );
            let tid = pc
                .add_transceiver_from_track(
                    track,
                    Some(RTCRtpTransceiverInit {
                        direction: RTCRtpTransceiverDirection::Sendonly,
                        streams: vec![],
                        send_encodings: vec![],
                    }),
                )
                .map_err(|e| e.to_string())?;
            if kind == VIDEO {
                video_transceiver = tid;
            }
            if role.sends(kind) {
                senders[kind] = Some(RTCRtpSenderId::from(tid));
            }
        }
        let init = salon_rtc::host_candidate(local).map_err(|e| e.to_string())?;
        pc.add_local_candidate(init).map_err(|e| e.to_string())?;
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .map_err(|e| e.to_string())?;
        let offer = pc.create_offer(None).map_err(|e| e.to_string())?;
        pc.set_local_description(now, offer)
            .map_err(|e| e.to_string())?;
        let sdp = pc
            .local_description()
            .map(|d| d.sdp)
            .ok_or("no local description")?;
        let n = self.shared.people.len();
        let (sealer, receiver) = if self.config.e2ee {
            let key = self.shared.keys.get(idx).ok_or("no sender key")?;
            let sealer = if role.audio || role.video {
                Some(FrameSealer::new(key.clone()).map_err(|e| e.to_string())?)
            } else {
                None
            };
            (sealer, Some(e2ee::Receiver::new(&self.shared.keys, idx)))
        } else {
            (None, None)
        };
        self.peers.push(Peer {
            idx,
            pc,
            socket,
            local,
            senders,
            pts: [None, None],
            outs,
            video_transceiver,
            sdes: None,
            connected: false,
            stalled: false,
            next_send: [None, None],
            rng: Rng::new(rand::random()),
            next_timeout: None,
            rx: vec![StreamRx::default(); n * 2],
            speaker: role.speaker,
            level_ext: None,
            rx_level_ext: None,
            video_paused: false,
            windows: WindowCounter::new(n * 2),
            audio_with_level: 0,
            audio_with_voice: 0,
            sealer,
            receiver,
        });
        let i = self.peers.len() - 1;
        self.after_touch(i);
        Ok(sdp)
    }

    fn apply_answer(&mut self, i: usize, sdp: String) -> Result<(), String> {
        let p = &mut self.peers[i];
        let desc = RTCSessionDescription::answer(sdp).map_err(|e| e.to_string())?;
        p.pc.set_remote_description(Instant::now(), desc)
            .map_err(|e| e.to_string())?;
        for kind in [AUDIO, VIDEO] {
            let Some(id) = p.senders[kind] else {
                continue;
            };
            let Some(mut sender) = p.pc.rtp_sender(id) else {
                continue;
            };
            let codecs = &sender.get_parameters().rtp_parameters.codecs;
            let want = if kind == AUDIO {
                salon_rtc::opus_codec().mime_type
            } else {
                h264().mime_type
            };
            p.pts[kind] = codecs
                .iter()
                .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(&want))
                .or(codecs.first())
                .map(|c| c.payload_type);
            if kind == AUDIO {
                // The id the server accepted; a packet with any other id would be refused.
                p.level_ext = sender
                    .get_parameters()
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .find(|h| h.uri == AUDIO_LEVEL_URI)
                    .and_then(|h| u8::try_from(h.id).ok())
                    .filter(|id| (1..=14).contains(id));
            } else if p.outs[VIDEO].len() > 1 {
                // The ids the server accepted for mid and rid, which name each layer.
                let exts = sender
                    .get_parameters()
                    .rtp_parameters
                    .header_extensions
                    .clone();
                let ext = |uri: &str| {
                    exts.iter()
                        .find(|h| h.uri == uri)
                        .and_then(|h| u8::try_from(h.id).ok())
                        .filter(|id| (1..=14).contains(id))
                };
                let ids = ext(MID_URI).zip(ext(RID_URI));
                let mid =
                    p.pc.rtp_transceiver(p.video_transceiver)
                        .and_then(|t| t.mid().clone());
                p.sdes = ids.zip(mid).map(|((mid_id, rid_id), mid)| Sdes {
                    mid_id,
                    rid_id,
                    mid: Bytes::from(mid),
                });
            }
        }
        if p.connected {
            self.start_sending(i);
        }
        Ok(())
    }

    fn answer_offer(&mut self, i: usize, sdp: String) -> Result<String, String> {
        let p = &mut self.peers[i];
        let now = Instant::now();
        if let Some(id) = shape::extmap_id(&sdp, AUDIO_LEVEL_URI) {
            p.rx_level_ext = Some(id);
        }
        let desc = RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())?;
        p.pc.set_remote_description(now, desc)
            .map_err(|e| e.to_string())?;
        let answer = p.pc.create_answer(None).map_err(|e| e.to_string())?;
        p.pc.set_local_description(now, answer)
            .map_err(|e| e.to_string())?;
        p.pc.local_description()
            .map(|d| d.sdp)
            .ok_or_else(|| "no local description".to_owned())
    }

    fn start_sending(&mut self, i: usize) {
        let now = Instant::now();
        let p = &mut self.peers[i];
        for kind in [AUDIO, VIDEO] {
            if p.next_send[kind].is_none() && p.senders[kind].is_some() && p.pts[kind].is_some() {
                // A random phase so that publishers do not all send in the same instant.
                let phase = Duration::from_micros(u64::from(p.rng.range(0, 20_000)));
                p.next_send[kind] = Some(now + phase);
            }
        }
        for o in &mut p.outs[VIDEO] {
            o.next_keyframe = now;
        }
    }

    /// Drains everything the connection has for us after we fed it something.
    fn after_touch(&mut self, i: usize) {
        self.drain_reads(i, None);
        let mut connected_now = false;
        {
            let p = &mut self.peers[i];
            while let Some(event) = p.pc.poll_event() {
                if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                    match state {
                        RTCPeerConnectionState::Connected if !p.connected => {
                            p.connected = true;
                            connected_now = true;
                        }
                        RTCPeerConnectionState::Failed => {
                            eprintln!(
                                "salon-bench: participant {}: media connection failed",
                                p.idx
                            );
                            if let Some(person) = self.shared.people.get(p.idx) {
                                person.fail(self.shared.now_ns());
                            }
                        }
                        RTCPeerConnectionState::Disconnected => {
                            eprintln!(
                                "salon-bench: participant {}: media connection disconnected",
                                p.idx
                            );
                        }
                        _ => {}
                    }
                }
            }
        }
        if connected_now {
            let idx = self.peers[i].idx;
            if let Some(person) = self.shared.people.get(idx) {
                person
                    .connected_ns
                    .store(self.shared.now_ns(), Ordering::Relaxed);
            }
            self.start_sending(i);
        }
        self.flush(i);
        let p = &mut self.peers[i];
        p.next_timeout = p.pc.poll_timeout();
    }

    fn flush(&mut self, i: usize) {
        let p = &mut self.peers[i];
        while let Some(out) = p.pc.poll_write() {
            match p.socket.send_to(&out.message, out.transport.peer_addr) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => self.report.send_drops += 1,
                Err(_) => self.report.write_errors += 1,
            }
        }
    }

    fn drain_reads(&mut self, i: usize, arrived: Option<Instant>) {
        let shared = &self.shared;
        let layers = self.config.layers.clamp(1, MAX_LAYERS);
        let p = &mut self.peers[i];
        while let Some(m) = p.pc.poll_read() {
            match m.message {
                RTCMessage::RtpPacket(_, packet) => {
                    let at = arrived.unwrap_or_else(Instant::now);
                    let at_ns = shared.ns_at(at);
                    let Some(stamp) = Stamp::read(&packet.payload) else {
                        self.report.unknown += 1;
                        continue;
                    };
                    let kind = usize::from(stamp.kind & 1);
                    let key = usize::from(stamp.publisher) * 2 + kind;
                    let layer = usize::from(stamp.layer);
                    if stamp.run != shared.run || key >= p.rx.len() || layer >= layers {
                        self.report.unknown += 1;
                        continue;
                    }
                    if !p.stalled
                        && let Some(receiver) = p.receiver.as_mut()
                    {
                        // The stamp rides outside the sealed frame: cut it off, then open.
                        let body = packet
                            .payload
                            .get(..packet.payload.len() - STAMP_LEN)
                            .unwrap_or_default();
                        let publisher = usize::from(stamp.publisher);
                        let stats = &mut self.report.e2ee[kind];
                        if kind == AUDIO {
                            receiver.audio(publisher, body, stats);
                        } else {
                            let h = &packet.header;
                            let (seq, ts, marker) = (h.sequence_number, h.timestamp, h.marker);
                            receiver.video(publisher, body, seq, ts, marker, stats);
                        }
                    }
                    let rx = &mut p.rx[key];
                    if kind == VIDEO {
                        rx.note_layer(stamp.layer, stamp.sent_ns, at_ns);
                    }
                    if rx.first_ns == 0 {
                        rx.first_ns = at_ns.max(1);
                        if let Some(person) = shared.people.get(p.idx) {
                            if let Some(seen) = person.seen.get(key) {
                                seen.store(true, Ordering::Relaxed);
                            }
                            let _ = person.first_media_ns.compare_exchange(
                                0,
                                at_ns.max(1),
                                Ordering::Relaxed,
                                Ordering::Relaxed,
                            );
                        }
                    }
                    if shared.in_window(stamp.sent_ns) {
                        rx.in_window += 1;
                        if !p.stalled
                            && let Some(runs) = rx.runs.get_mut(layer)
                        {
                            runs.insert(stamp.seq);
                        }
                        let us = at_ns.saturating_sub(stamp.sent_ns) / 1000;
                        self.report.latency[kind].record_us(us);
                    }
                    if shared.in_window(at_ns) {
                        let start = shared.window_start_ns.load(Ordering::Relaxed);
                        let second = (at_ns - start) / 1_000_000_000;
                        rx.note_bytes(layer, packet.payload.len(), second);
                        let second = usize::try_from(second).unwrap_or(usize::MAX);
                        p.windows.record(key, kind, second);
                    }
                    if kind == AUDIO
                        && let Some(level) = p
                            .rx_level_ext
                            .and_then(|id| packet.header.get_extension(id))
                        && let Some(&b) = level.first()
                    {
                        p.audio_with_level += 1;
                        if b & 0x80 != 0 {
                            p.audio_with_voice += 1;
                        }
                    }
                }
                RTCMessage::RtcpPacket(_, packets) => {
                    let at_ns = shared.ns_at(arrived.unwrap_or_else(Instant::now));
                    let video = &mut p.outs[VIDEO];
                    for request in packets
                        .iter()
                        .filter(|p| keyframe::is_keyframe_request(p.as_ref()))
                    {
                        self.report.keyframe_requests += 1;
                        // The layer it names; a single-layer video whatever it names.
                        let mut named = false;
                        for ssrc in request.destination_ssrc() {
                            let layer = video.iter().position(|o| o.ssrc == ssrc);
                            let layer = layer.or((video.len() == 1).then_some(0));
                            if let Some(o) = layer.and_then(|l| video.get_mut(l)) {
                                named = true;
                                o.keyframe_requested = true;
                                if shared.in_window(at_ns) {
                                    o.keyframe_requests_in_window += 1;
                                }
                            }
                        }
                        if !named {
                            self.report.keyframe_requests_unknown += 1;
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn read_socket(&mut self, i: usize) {
        if self.peers[i].stalled {
            return;
        }
        let mut n_read = 0;
        loop {
            if n_read == READ_BUDGET {
                self.pending.push(i);
                break;
            }
            let p = &mut self.peers[i];
            match p.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    n_read += 1;
                    let now = Instant::now();
                    let msg = TaggedBytesMut {
                        now,
                        transport: TransportContext {
                            local_addr: p.local,
                            peer_addr: from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(self.buf.get(..n).unwrap_or_default()),
                    };
                    if p.pc.handle_read(msg).is_err() {
                        self.report.pc_errors += 1;
                    }
                    self.drain_reads(i, Some(now));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.report.pc_errors += 1;
                    break;
                }
            }
        }
        if n_read > 0 {
            self.after_touch(i);
        }
    }

    /// Sends whatever audio packets and video frames are due.
    fn send_media(&mut self, i: usize, now: Instant) {
        if self.peers[i].stalled || !self.peers[i].connected {
            return;
        }
        let mut sent_any = false;
        for kind in [AUDIO, VIDEO] {
            let Some(mut t) = self.peers[i].next_send[kind] else {
                continue;
            };
            let period = self.period(i, kind);
            let mut budget = SEND_BUDGET;
            while t <= now && budget > 0 {
                if kind == AUDIO {
                    self.send_audio(i);
                } else {
                    self.send_video_frame(i, now);
                }
                sent_any = true;
                t += period;
                budget -= 1;
            }
            if t + Duration::from_millis(200) < now {
                self.report.lag_skips += 1;
                t = now + period;
            }
            self.peers[i].next_send[kind] = Some(t);
        }
        if sent_any {
            self.flush(i);
            let p = &mut self.peers[i];
            p.next_timeout = p.pc.poll_timeout();
        }
    }

    /// Time between two audio packets (a speaker: `--audio-pps`; a quiet microphone: DTX) or
    /// two video frames.
    fn period(&self, i: usize, kind: usize) -> Duration {
        if kind == VIDEO {
            Duration::from_secs(1) / self.config.fps.max(1)
        } else if self.peers[i].speaker {
            Duration::from_secs(1) / self.config.audio_pps.max(1)
        } else {
            DTX_PERIOD
        }
    }

    fn stamp(&mut self, i: usize, kind: usize, layer: usize, payload: &mut [u8]) {
        let shared = &self.shared;
        let p = &mut self.peers[i];
        let Some(out) = p.outs[kind].get_mut(layer) else {
            return;
        };
        let sent_ns = shared.now_ns();
        out.stamp_seq = out.stamp_seq.wrapping_add(1);
        Stamp {
            publisher: u16::try_from(p.idx).unwrap_or(u16::MAX),
            kind: kind as u8,
            layer: u8::try_from(layer).unwrap_or(u8::MAX),
            seq: out.stamp_seq,
            sent_ns,
            run: shared.run,
        }
        .write(payload);
        if let Some(person) = shared.people.get(p.idx) {
            let _ = person.sending_ns[kind].compare_exchange(
                0,
                sent_ns.max(1),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if shared.in_window(sent_ns) {
                person.sent_in_window[kind].fetch_add(1, Ordering::Relaxed);
                out.sent.push(out.stamp_seq, sent_ns);
            }
        }
    }

    /// Writes one RTP packet of `kind` (video: of `layer`); `level` is the audio-level
    /// extension's byte (sent when the server negotiated the extension). A simulcast layer's
    /// packets carry mid and rid for `--rid-for` after its first one (always with `None`).
    fn write(
        &mut self,
        i: usize,
        kind: usize,
        layer: usize,
        marker: bool,
        payload: Vec<u8>,
        level: Option<u8>,
    ) {
        let rid_for = self.config.rid_for;
        let rids = shape::rids(self.config.layers);
        let p = &mut self.peers[i];
        let (Some(id), Some(pt)) = (p.senders[kind], p.pts[kind]) else {
            return;
        };
        let Some(out) = p.outs[kind].get_mut(layer) else {
            return;
        };
        let now = Instant::now();
        let mut packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                marker,
                payload_type: pt,
                sequence_number: out.rtp_seq,
                timestamp: out.rtp_ts,
                ssrc: out.ssrc,
                ..Default::default()
            },
            payload: Bytes::from(payload),
        };
        out.rtp_seq = out.rtp_seq.wrapping_add(1);
        let first = *out.first_sent.get_or_insert(now);
        let mut ext_ok = true;
        if let (Some(ext), Some(b)) = (p.level_ext, level) {
            let byte = usize::from(b);
            let payload = Bytes::from_static(LEVEL_BYTES.get(byte..=byte).unwrap_or_default());
            ext_ok &= packet.header.set_extension(ext, payload).is_ok();
        }
        if kind == VIDEO
            && let (Some(sdes), Some(rid)) = (&p.sdes, rids.get(layer))
            && rid_for.is_none_or(|d| now.saturating_duration_since(first) < d)
        {
            ext_ok &= packet
                .header
                .set_extension(sdes.mid_id, sdes.mid.clone())
                .is_ok();
            ext_ok &= packet
                .header
                .set_extension(sdes.rid_id, Bytes::from_static(rid.as_bytes()))
                .is_ok();
        }
        if !ext_ok {
            self.report.write_errors += 1;
        }
        let ok = match p.pc.rtp_sender(id) {
            Some(mut sender) => sender.write_rtp(now, packet).is_ok(),
            None => false,
        };
        if !ok {
            self.report.write_errors += 1;
        }
    }

    fn send_audio(&mut self, i: usize) {
        let mut payload = shape::audio_packet(self.config.audio_size);
        if let Some(sealer) = &self.peers[i].sealer {
            // A frame that cannot be sealed is never sent (counted as a seal error).
            let sealed = e2ee::seal_audio(sealer, &payload, &mut self.report.e2ee[AUDIO]);
            match sealed {
                Ok(sealed) => payload = sealed,
                Err(_) => return,
            }
        }
        self.stamp(i, AUDIO, 0, &mut payload);
        let p = &mut self.peers[i];
        let level = if p.speaker {
            shape::audio_level_byte(true, shape::speaker_level(p.idx, &mut p.rng))
        } else {
            shape::audio_level_byte(false, shape::SILENCE_LEVEL)
        };
        self.write(i, AUDIO, 0, true, payload, Some(level));
        let step = u32::try_from(self.period(i, AUDIO).as_micros() * 48 / 1000).unwrap_or(960);
        if let Some(o) = self.peers[i].outs[AUDIO].first_mut() {
            o.rtp_ts = o.rtp_ts.wrapping_add(step);
        }
    }

    /// One frame of every layer, lowest first. A layer `d` times smaller than the top one
    /// (`shape::layer_divisor`) has 1/d of the packets (at least one) of 1/d of the size. Each
    /// layer has its own keyframes: on its own schedule (staggered across the interval) and
    /// when a PLI/FIR names its SSRC.
    fn send_video_frame(&mut self, i: usize, now: Instant) {
        let step = 90_000 / self.config.fps.max(1);
        let interval = self.config.keyframe_interval;
        let p = &mut self.peers[i];
        if p.video_paused {
            // Nobody watches: no frame, but the clock goes on.
            for o in &mut p.outs[VIDEO] {
                o.rtp_ts = o.rtp_ts.wrapping_add(step);
            }
            return;
        }
        let (lo, hi) = self.config.video_packets;
        let full = p.rng.range(lo, hi);
        let layers = p.outs[VIDEO].len();
        for layer in 0..layers {
            let p = &mut self.peers[i];
            let Some(o) = p.outs[VIDEO].get_mut(layer) else {
                break;
            };
            if o.paused {
                o.rtp_ts = o.rtp_ts.wrapping_add(step);
                continue;
            }
            let requested = o.keyframe_requested
                && o.last_keyframe
                    .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_millis(300));
            let keyframe = requested || now >= o.next_keyframe;
            if keyframe {
                o.keyframe_requested = false;
                // After the first keyframe, the layers' schedules are spread over the interval.
                o.next_keyframe = if o.last_keyframe.is_none() {
                    now + interval * u32::try_from(layer + 1).unwrap_or(1)
                        / u32::try_from(layers).unwrap_or(1)
                } else {
                    now + interval
                };
                o.last_keyframe = Some(now);
            }
            let divisor = shape::layer_divisor(layer, layers);
            let packets = if keyframe {
                self.config.keyframe_packets.div_ceil(divisor)
            } else {
                shape::scaled_packets(full, divisor, &mut p.rng)
            };
            let size = self.config.video_size / divisor as usize;
            // The last fragment of a delta frame is up to 600 bytes shorter at the top layer.
            let frame = shape::video_frame(keyframe, packets, size, 600 / divisor, &mut p.rng);
            let frame = match &self.peers[i].sealer {
                None => frame,
                // The same packets' frame, sealed and packetized again (`e2ee.rs`).
                Some(sealer) => {
                    match e2ee::seal_video(sealer, &frame, size, &mut self.report.e2ee[VIDEO]) {
                        Ok(sealed) => sealed,
                        Err(_) => {
                            if let Some(o) = self.peers[i].outs[VIDEO].get_mut(layer) {
                                o.rtp_ts = o.rtp_ts.wrapping_add(step);
                            }
                            continue;
                        }
                    }
                }
            };
            let n = frame.len();
            for (k, mut payload) in frame.into_iter().enumerate() {
                if payload.len() < STAMP_LEN {
                    continue;
                }
                self.stamp(i, VIDEO, layer, &mut payload);
                self.write(i, VIDEO, layer, k + 1 == n, payload, None);
            }
            if let Some(o) = self.peers[i].outs[VIDEO].get_mut(layer) {
                o.rtp_ts = o.rtp_ts.wrapping_add(step);
            }
        }
    }
}

/// A UDP socket on 127.0.0.1 with a receive buffer of `recv_buffer` bytes (the kernel caps it
/// at `net.core.rmem_max`), non-blocking.
fn bind_socket(recv_buffer: usize) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(SockProtocol::UDP))?;
    if recv_buffer > 0 {
        let _ = socket.set_recv_buffer_size(recv_buffer);
    }
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Sum of the kernel's receive drops on the UDP sockets that process `pid` holds open
/// (`/proc/<pid>/fd` socket inodes matched against `/proc/net/udp`).
pub fn process_udp_drops(pid: u32) -> u64 {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    let inodes: std::collections::HashSet<u64> = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect();
    udp_table()
        .into_iter()
        .filter(|row| inodes.contains(&row.inode))
        .map(|row| row.drops)
        .sum()
}

/// Kernel receive drops on the UDP sockets bound to these local ports (`/proc/net/udp`).
pub fn port_udp_drops(ports: &[u16]) -> u64 {
    udp_table()
        .into_iter()
        .filter(|row| ports.contains(&row.port))
        .map(|row| row.drops)
        .sum()
}

/// One row of `/proc/net/udp`.
pub struct UdpRow {
    pub port: u16,
    pub inode: u64,
    pub drops: u64,
}

pub fn udp_table() -> Vec<UdpRow> {
    let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
        return Vec::new();
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port = f.get(1)?.split(':').nth(1)?;
            Some(UdpRow {
                port: u16::from_str_radix(port, 16).ok()?,
                inode: f.get(9)?.parse().ok()?,
                drops: f.get(12)?.parse().ok()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_notes_layer_changes_and_bytes() {
        let mut rx = StreamRx::default();
        rx.note_layer(0, 100, 110);
        rx.note_layer(0, 120, 130);
        rx.note_layer(2, 200, 210);
        // A late packet of the old layer is not a change back.
        rx.note_layer(0, 190, 215);
        rx.note_layer(0, 300, 310);
        let layers: Vec<(u64, u8)> = rx.segments.iter().map(|s| (s.sent_ns, s.layer)).collect();
        assert_eq!(layers, [(100, 0), (200, 2), (300, 0)]);
        rx.note_bytes(0, 100, 0);
        rx.note_bytes(0, 100, 0);
        rx.note_bytes(0, 50, 2);
        rx.note_bytes(2, 1000, 2);
        rx.note_bytes(7, 1000, 2);
        assert_eq!(rx.bytes, [250, 0, 1000]);
        assert_eq!(rx.layer_seconds, [2, 0, 1]);
    }
}
