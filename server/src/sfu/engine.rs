//! The media engine: worker threads that own peer connections and move every datagram of every
//! call through one UDP port.
//!
//! - **One port.** Each worker has its own socket on the same port (`SO_REUSEPORT`); every
//!   connection advertises that one address. An incoming datagram is routed to its connection
//!   by the ICE username fragment of a connectivity check, then by the sender's address
//!   ([`super::demux`]). A datagram that lands on another worker's socket is handed to the
//!   owner (the kernel picks the socket by a hash of the addresses).
//! - **Rooms pinned to workers.** All connections of a room live on one worker, chosen by the
//!   room id, so forwarding a packet to the room is a function call: no task, no channel, no
//!   lock per packet.
//! - **Fan-out never waits.** Writing a subscriber's copy means encrypting it and handing it to
//!   the kernel with a non-blocking `send_to`. A subscriber that cannot keep up (its kernel
//!   buffer, or the network toward it, is full) loses only its own packets, which are counted,
//!   and gets a keyframe when its sending works again. Nothing a subscriber does slows the
//!   ingress or anyone else's copies.
//! - **Sans-IO.** The connections are webrtc-rs's `rtc::RTCPeerConnection`s: we feed them
//!   datagrams and time and drain what they produce. The signaling side (tokio tasks) talks to a
//!   worker with closures run on the worker's thread ([`WorkerHandle::call`]), in order.
//!
//! - **TCP when UDP is blocked.** A TCP port beside the UDP one takes ICE-TCP streams
//!   ([`super::tcp`]); a stream is handed to the worker that owns the connection its first
//!   check names, and from then on its frames are that connection's datagrams.
//!
//! A panic inside a connection (hostile input reaching a bug in the stack) ends that connection
//! only: each step that touches one is run under `catch_unwind`.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, mpsc};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use rtc::interceptor::Acknowledgement;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::RTCMessage;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId, RTCRtpTransceiverId};
use rtc::sansio::Protocol;
use rtc::shared::marshal::{Marshal, MarshalSize};
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use tokio::sync::{mpsc as tokio_mpsc, oneshot};

use super::demux;
use super::downlink::Downlink;
use super::feedback::{self, Feedback};
use super::forward::{Publication, Track};
use super::history::{self, History};
use super::keyframe::VideoCodec;
use super::layers::{self, LayerView, Switch, Verdict, Want};
use super::munger::Munger;
use super::rewrite::{Rewrite, stamp_transport_seq};
use super::speakers::{self, Selection, Voice};
use super::tcp;
use super::udp::{self, Sent};
use crate::metrics::{DropReason, Metrics};

/// The RFC 6464 header extension that carries each audio packet's level.
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// Shortest time between two keyframe requests sent for one publication's layer (its one
/// stream, without simulcast).
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(300);
/// Datagrams read from the socket before timers and jobs get a turn.
const READ_BUDGET: usize = 512;
/// Jobs and handed-over datagrams handled in one pass of a worker's loop, and the longest time
/// spent on them, before the sockets and the timers get a turn: participant tasks can post
/// renegotiations faster than a busy worker runs them (a large room's setup), and a queue
/// drained to the end would starve reading and ICE's timers until every connection fails.
const INPUT_BUDGET: usize = 512;
const INPUT_TIME_BUDGET: Duration = Duration::from_millis(5);
/// Largest datagram read (larger ones are truncated and then fail to parse).
const MAX_DATAGRAM: usize = 2048;
/// Kernel buffer sizes asked for on the media socket (the kernel caps them at `rmem_max` /
/// `wmem_max`).
const SOCKET_BUFFER: usize = 8 << 20;
/// Datagrams handed over to a worker and not yet handled; more are dropped (a flood must not
/// grow a queue without bound).
const MAX_HANDED_OVER: usize = 4096;
/// Longest a worker sleeps when nothing is due (it wakes for datagrams and jobs anyway).
const IDLE_WAIT: Duration = Duration::from_millis(100);

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
const LISTENER: Token = Token(2);
/// Tokens of pinned sockets and TCP streams start here.
const FIRST_PIN: usize = 3;
/// TCP streams one worker holds; connections beyond are refused at accept.
const MAX_STREAMS: usize = 1024;
/// Streams from one IP address that have not yet named their connection (a flood of idle
/// connections from one host cannot take the rest).
const MAX_UNBOUND_STREAMS_PER_IP: usize = 8;
/// Streams accepted per readiness of the listener before other work gets a turn.
const ACCEPT_BUDGET: usize = 64;
/// Remote addresses of one connection that get a pinned socket (the rest still arrive on the
/// shared socket): a client knows its own password and could send checks from many ports.
const MAX_PINS_PER_LEG: usize = 4;

/// A connection, unique over the server's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegId(u64);

/// A publication (one received track), unique over the server's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PubId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A hasher for the engine's small integer keys (connection, publication and sender ids),
/// which are looked up once per packet and subscriber: a multiply instead of SipHash. The keys
/// are counters the server hands out, never chosen by a client.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type IdMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LegKey {
    worker: usize,
    leg: LegId,
}

/// Where datagrams go: a connection's local username fragment, and the remote addresses seen so
/// far. Read for every datagram that is not from an address the receiving worker already knows.
#[derive(Default)]
struct Routes {
    /// Local username fragment → the connection and its ICE password (to verify checks).
    ufrags: HashMap<String, (LegKey, Arc<[u8]>)>,
    addrs: HashMap<SocketAddr, LegKey>,
}

/// What every worker shares.
struct Shared {
    routes: RwLock<Routes>,
    workers: Vec<WorkerHandle>,
    /// The address every connection advertises (its one host candidate).
    advertised: SocketAddr,
    /// The ICE-TCP address advertised after it, if TCP is on.
    advertised_tcp: Option<SocketAddr>,
    metrics: Arc<Metrics>,
}

/// Events a connection sends to the participant task that owns it.
#[derive(Debug)]
pub enum LegEvent {
    /// ICE and DTLS are up; again after [`LegEvent::Disconnected`] when the client's packets
    /// came back.
    Connected,
    /// Nothing came from the client for a few seconds (ICE `disconnected`): it may come back
    /// ([`LegEvent::Connected`] again), or fail.
    Disconnected,
    /// The connection failed or closed (or a panic ended it).
    Failed,
    /// The client started sending a track.
    Published(Arc<Publication>),
    /// The room's speakers changed (participant ids, the dominant one first).
    Speakers(Arc<[String]>),
    /// Somebody / nobody watches this participant's video now.
    VideoWatched(bool),
    /// The simulcast layers of this participant's video somebody needs now (rids, lowest
    /// first, never empty).
    VideoLayers(Arc<[String]>),
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

enum Input {
    Job(Job),
    /// A datagram another worker's socket received for one of ours.
    Datagram {
        from: SocketAddr,
        data: BytesMut,
        /// When it reached the kernel.
        at: Instant,
    },
    /// A TCP stream another worker accepted whose first check names one of our connections,
    /// with that check.
    Stream(Box<Link>, BytesMut),
    Stop,
}

/// The signaling side's handle on one worker.
#[derive(Clone)]
pub struct WorkerHandle {
    index: usize,
    tx: mpsc::Sender<Input>,
    waker: Arc<Waker>,
    /// Handed-over datagrams in `tx` (bounded by [`MAX_HANDED_OVER`]).
    handed_over: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WorkerHandle({})", self.index)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the media engine has stopped")]
pub struct EngineGone;

impl WorkerHandle {
    fn send(&self, input: Input) -> bool {
        self.tx.send(input).is_ok() && self.waker.wake().is_ok()
    }

    /// Runs `f` on the worker's thread, without waiting for it.
    pub fn post(&self, f: impl FnOnce(&mut Worker) + Send + 'static) {
        self.send(Input::Job(Box::new(f)));
    }

    /// Runs `f` on the worker's thread and returns its result.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Worker) -> R + Send + 'static,
    ) -> Result<R, EngineGone> {
        let (tx, rx) = oneshot::channel();
        if !self.send(Input::Job(Box::new(move |w| {
            let _ = tx.send(f(w));
        }))) {
            return Err(EngineGone);
        }
        rx.await.map_err(|_| EngineGone)
    }
}

/// The engine: its workers and the one address they share.
pub struct Engine {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("advertised", &self.shared.advertised)
            .field("workers", &self.shared.workers.len())
            .finish()
    }
}

/// How the engine binds.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub bind_ip: IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    /// The ICE-TCP port.
    pub tcp: TcpPort,
    /// The address to advertise instead of the bound one (a server behind 1:1 NAT).
    pub public_ip: Option<IpAddr>,
    pub workers: usize,
}

/// Where the engine listens for ICE-TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpPort {
    /// No TCP: UDP only.
    Off,
    /// The UDP port's number (with a UDP port picked by the system, any free port if that
    /// number is taken for TCP).
    SameAsUdp,
    /// This port (0: any free port).
    Port(u16),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind UDP {addr} for media: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen on TCP {addr} for media (ICE-TCP): {source}")]
    BindTcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the media engine: {0}")]
    Io(#[from] std::io::Error),
}

impl Engine {
    /// Binds the media port (one socket per worker) and starts the workers.
    pub fn start(config: &EngineConfig, metrics: Arc<Metrics>) -> Result<Self, StartError> {
        let workers = config.workers.clamp(1, 64);
        let mut sockets = Vec::with_capacity(workers);
        let mut addr = SocketAddr::new(config.bind_ip, config.port);
        for _ in 0..workers {
            let socket =
                bind_media_socket(addr).map_err(|source| StartError::Bind { addr, source })?;
            // Port 0: the rest bind the port the first one got.
            addr = socket.local_addr()?;
            sockets.push(socket);
        }
        let advertised_ip = match config.public_ip {
            Some(ip) => ip,
            None if addr.ip().is_unspecified() => primary_ip(addr.ip()),
            None => addr.ip(),
        };
        let advertised = SocketAddr::new(advertised_ip, addr.port());
        let mut listeners: Vec<Option<std::net::TcpListener>> =
            (0..workers).map(|_| None).collect();
        let mut advertised_tcp = None;
        let tcp_port = match config.tcp {
            TcpPort::Off => None,
            TcpPort::SameAsUdp => Some(addr.port()),
            TcpPort::Port(port) => Some(port),
        };
        if let Some(port) = tcp_port {
            let mut tcp_addr = SocketAddr::new(config.bind_ip, port);
            for (i, slot) in listeners.iter_mut().enumerate() {
                let mut bound = bind_media_listener(tcp_addr);
                if i == 0 && bound.is_err() && config.tcp == TcpPort::SameAsUdp && config.port == 0
                {
                    tcp_addr.set_port(0);
                    bound = bind_media_listener(tcp_addr);
                }
                let listener = bound.map_err(|source| StartError::BindTcp {
                    addr: tcp_addr,
                    source,
                })?;
                tcp_addr = listener.local_addr()?;
                *slot = Some(listener);
            }
            advertised_tcp = Some(SocketAddr::new(advertised_ip, tcp_addr.port()));
        }
        let mut polls = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        let mut receivers = Vec::with_capacity(workers);
        for index in 0..workers {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (tx, rx) = mpsc::channel();
            handles.push(WorkerHandle {
                index,
                tx,
                waker,
                handed_over: Arc::default(),
            });
            polls.push(poll);
            receivers.push(rx);
        }
        let shared = Arc::new(Shared {
            routes: RwLock::new(Routes::default()),
            workers: handles,
            advertised,
            advertised_tcp,
            metrics,
        });
        let mut threads = Vec::with_capacity(workers);
        for (index, (((socket, poll), rx), listener)) in sockets
            .into_iter()
            .zip(polls)
            .zip(receivers)
            .zip(listeners)
            .enumerate()
        {
            let mut socket = UdpSocket::from_std(socket);
            poll.registry()
                .register(&mut socket, SOCKET, Interest::READABLE)?;
            let listener = match listener {
                Some(l) => {
                    let mut l = TcpListener::from_std(l);
                    poll.registry()
                        .register(&mut l, LISTENER, Interest::READABLE)?;
                    Some(l)
                }
                None => None,
            };
            if !udp::stamp_arrivals(&socket) {
                tracing::warn!(
                    "the kernel does not stamp datagram arrivals (SO_TIMESTAMPNS): congestion feedback will carry the server's own delays"
                );
            }
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("salon-media-{index}"))
                .spawn(move || {
                    let mut worker = Worker {
                        index,
                        poll,
                        socket,
                        inputs: rx,
                        shared,
                        legs: IdMap::default(),
                        pubs: IdMap::default(),
                        by_addr: HashMap::new(),
                        dirty: Vec::new(),
                        flushing: Vec::new(),
                        runs: Vec::new(),
                        scratch: Vec::new(),
                        acks: Vec::new(),
                        reads: Vec::new(),
                        diverted: Vec::new(),
                        outbox: Vec::new(),
                        plain: Vec::new(),
                        outcomes: Vec::new(),
                        problems: Problems::default(),
                        pins: IdMap::default(),
                        pinned: HashMap::new(),
                        next_pin: FIRST_PIN,
                        pins_pending: Vec::new(),
                        listener,
                        links: IdMap::default(),
                        links_pending: Vec::new(),
                        links_written: Vec::new(),
                        rooms: HashMap::new(),
                        next_tick: Instant::now(),
                        now: Instant::now(),
                        stamp_space: udp::stamp_space(),
                    };
                    worker.run();
                })?;
            threads.push(thread);
        }
        match advertised_tcp {
            Some(tcp) => {
                tracing::info!(%advertised, %tcp, bound = %addr, workers, "media engine started")
            }
            None => tracing::info!(%advertised, bound = %addr, workers, "media engine started"),
        }
        Ok(Self { shared, threads })
    }

    /// The address every connection advertises.
    pub fn advertised(&self) -> SocketAddr {
        self.shared.advertised
    }

    /// The ICE-TCP address every connection advertises after the UDP one, if TCP is on.
    pub fn advertised_tcp(&self) -> Option<SocketAddr> {
        self.shared.advertised_tcp
    }

    /// ICE-TCP streams open on all workers, and how many of them carry a connection (tests).
    pub async fn tcp_streams(&self) -> (usize, usize) {
        let open = self.sum_over_workers(|w| w.links.len() as u64).await;
        let bound = self
            .sum_over_workers(|w| w.links.values().filter(|l| l.leg.is_some()).count() as u64)
            .await;
        (open as usize, bound as usize)
    }

    /// The worker that owns `room`'s connections.
    pub fn worker_for(&self, room: &str) -> WorkerHandle {
        // FNV-1a: stable, cheap, and rooms spread evenly enough.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in room.as_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        let n = self.shared.workers.len() as u64;
        let index = usize::try_from(h % n).unwrap_or(0);
        self.shared.workers[index].clone()
    }

    /// RTP packets written so far to `participant`'s connection (tests: nothing may reach a
    /// subscriber before its leg negotiated the track).
    pub async fn packets_to(&self, participant: &str) -> u64 {
        let who = participant.to_owned();
        self.sum_over_workers(move |w| {
            w.legs
                .values()
                .filter(|l| l.participant == who)
                .flat_map(|l| l.slots.values())
                .map(|s| u64::from(s.packets))
                .sum()
        })
        .await
    }

    /// Client addresses with a pinned socket on all workers (tests).
    pub async fn pins(&self) -> usize {
        self.sum_over_workers(|w| w.pins.len() as u64).await as usize
    }

    /// Connections alive on all workers (for tests and metrics).
    pub async fn legs(&self) -> usize {
        self.sum_over_workers(|w| w.legs.len() as u64).await as usize
    }

    /// Loses the next `n` video datagrams forwarded to `participant` on the way out, as a lossy
    /// network would: they are kept for retransmission but not sent (tests: a real receiver
    /// notices the gap, asks for them, and gets them from the history). Returns how many
    /// connections were told.
    #[doc(hidden)]
    pub async fn lose_video_to(&self, participant: &str, n: u32) -> u64 {
        let who = participant.to_owned();
        self.sum_over_workers(move |w| {
            let mut told = 0;
            for leg in w.legs.values_mut().filter(|l| l.participant == who) {
                leg.lose = n;
                told += 1;
            }
            told
        })
        .await
    }

    /// `count` run on every worker, added up (a stopped worker counts 0).
    async fn sum_over_workers(
        &self,
        count: impl Fn(&mut Worker) -> u64 + Clone + Send + 'static,
    ) -> u64 {
        let mut total = 0;
        for w in &self.shared.workers {
            let count = count.clone();
            total += w.call(move |w| count(w)).await.unwrap_or(0);
        }
        total
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for w in &self.shared.workers {
            w.send(Input::Stop);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn bind_media_socket(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn bind_media_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The address this host would use to reach the Internet (no packet is sent), for a server
/// bound to the unspecified address without `--public-ip`. Loopback if there is no route.
fn primary_ip(unspecified: IpAddr) -> IpAddr {
    let (bind, probe): (SocketAddr, SocketAddr) = if unspecified.is_ipv4() {
        (([0, 0, 0, 0], 0).into(), ([192, 0, 2, 1], 9).into())
    } else {
        (
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            (
                "2001:db8::1"
                    .parse::<IpAddr>()
                    .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)),
                9,
            )
                .into(),
        )
    };
    std::net::UdpSocket::bind(bind)
        .and_then(|s| s.connect(probe).and_then(|()| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or(if unspecified.is_ipv4() {
            IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
        })
}

/// A send slot: one transceiver toward a subscriber, with its SSRC and numbering. Reused for a
/// new publication when its subscription ends, so its munger continues where it stopped.
struct SendSlot {
    ssrc: u32,
    munger: Munger,
    /// The publication it carries now, if any.
    source: Option<PubId>,
    /// Packets and bytes sent on it (for the sender reports it passes on).
    packets: u32,
    octets: u32,
    /// The video datagrams sent on it lately, for retransmission requests.
    history: History,
}

/// One peer connection and what the engine keeps about it.
pub struct Leg {
    pub pc: RTCPeerConnection,
    events: tokio_mpsc::UnboundedSender<LegEvent>,
    /// The participant's id (publications carry it).
    participant: String,
    /// The room it is in (its speakers are chosen together).
    room: Arc<str>,
    ufrag: String,
    next_timeout: Option<Instant>,
    connected: bool,
    /// Said [`LegEvent::Disconnected`] and not yet connected again.
    silent: bool,
    failed: bool,
    /// Remote track id → receiver, from the track events.
    receivers: HashMap<String, RTCRtpReceiverId>,
    /// The media section (mid) the client shares its screen on: the second video section of
    /// its publishing offer (`docs/protocol.md`, "Screen sharing"), if it has one.
    screen_mid: Option<String>,
    /// Remote track id → its publication once its first packet arrived (`None`: its codec was
    /// not negotiated, and its packets are dropped).
    tracks: HashMap<String, Option<PubId>>,
    /// The streams it sends (one per layer of each track), by SSRC: kept for the life of the
    /// connection, whatever the stack forgets at a renegotiation (see `feedback`). At most
    /// [`feedback::MAX_CLAIMED`].
    routes: Vec<Route>,
    slots: IdMap<RTCRtpSenderId, SendSlot>,
    /// Listed in `Worker::dirty` (it has datagrams to send or a timeout to refresh).
    dirty: bool,
    feedback: feedback::Queue,
    /// Datagrams the kernel refused (buffer full) since sending last worked.
    send_drops: u64,
    /// What video may use toward this subscriber, from the loss its receiver reports tell.
    loss: layers::LossControl,
    /// Loss reported about its videos since the last tick: the sum of the fractions (in
    /// 256ths) and how many reports.
    loss_reported: (u32, u32),
    /// The video it receives, in bits per second, as of the last tick (the layers it is
    /// forwarded, at their measured rates).
    receiving: f64,
    /// Forwarded datagrams, protected by the engine (`RTCPeerConnection::protect_rtp`), waiting
    /// for the next flush; they never pass through the stack's queues.
    raw: Vec<(Bytes, SocketAddr)>,
    /// Where the last of them (or of its SRTP/SRTCP) went: ICE's selected pair, for
    /// retransmissions.
    peer: Option<SocketAddr>,
    /// ICE's selected pair moved to another address since the last flush (the client changed
    /// networks): what it sends and receives lost packets on the way, so fresh keyframes are
    /// asked for at once instead of when the receivers' decoders notice.
    moved: bool,
    /// When a move last asked for keyframes (at most once per [`KEYFRAME_ASK_PER_SUBSCRIBER`]:
    /// a client that sends from two paths in turn cannot make every camera send keyframes).
    moved_keyframes: Option<Instant>,
    /// Its ICE-TCP streams: the client's address on each, and the stream's token (at most
    /// [`MAX_PINS_PER_LEG`]).
    tcp: Vec<(SocketAddr, usize)>,
    /// Forwarded video datagrams still to lose on purpose (`Engine::lose_video_to`).
    lose: u32,
    /// Its transport-wide numbering and delay detector, what the detector said last, and the
    /// limit that follows from it.
    downlink: Downlink,
    queue: Option<layers::Queue>,
    delay: layers::DelayControl,
    /// What it may still be sent again on request.
    resends: history::Allowance,
}

/// One stream a publisher's connection receives: a track, or one simulcast layer of it.
struct Route {
    ssrc: u32,
    track_id: String,
    /// The layer's stream id (`None`: the track has no simulcast).
    rid: Option<String>,
    /// Its publication and layer, once its first packet arrived.
    to: Option<(PubId, u8)>,
}

/// One simulcast layer of a publication (a track without simulcast has one).
#[derive(Default)]
struct Layer {
    /// Its stream id (`None`: the track has no simulcast).
    rid: Option<String>,
    /// Its SSRC, once known; kept even while the publisher pauses the layer (it resumes on the
    /// same SSRC without naming it again).
    ssrc: Option<u32>,
    last_packet: Option<Instant>,
    /// Its picture height, from its last keyframe (VP8's header, H.264's SPS).
    height: Option<u16>,
    last_keyframe_request: Option<Instant>,
    /// What it brings in (what a subscriber's budget is charged for it).
    rate: layers::RateMeter,
    /// Its rate when it last flowed (what it will cost again once dynacast resumes it).
    known_rate: f64,
}

impl Layer {
    /// A keyframe request for it would not be refused by [`KEYFRAME_REQUEST_GAP`] now.
    fn may_request(&self, now: Instant) -> bool {
        self.last_keyframe_request
            .is_none_or(|t| now.saturating_duration_since(t) >= KEYFRAME_REQUEST_GAP)
    }

    /// It flows: a packet arrived within [`LAYER_LIVE`].
    fn is_live(&self, now: Instant) -> bool {
        self.last_packet
            .is_some_and(|t| now.saturating_duration_since(t) < LAYER_LIVE)
    }
}

/// One subscriber's video, for `Worker::retarget`: what its one-layer videos cost, and what each
/// simulcast downstream (publication, index in its downstreams) asks for.
#[derive(Default)]
struct Wanted {
    fixed: f64,
    /// What its simulcast videos bring now (the layers they forward), and would bring at the
    /// layers its views ask for.
    receiving: f64,
    wanting: f64,
    demands: Vec<(PubId, usize, layers::Demand)>,
}

/// A layer flows if a packet arrived within this time (a publisher pauses layers it cannot
/// afford or that nobody watches; video sends many packets a second).
const LAYER_LIVE: Duration = Duration::from_secs(1);

/// A downstream still waiting for its target layer's keyframe asks again after this long.
const SWITCH_ASK_AGAIN: Duration = Duration::from_secs(1);

/// A track a publisher sends, and where its copies go.
struct Pub {
    leg: LegId,
    room: Arc<str>,
    receiver: RTCRtpReceiverId,
    kind: RtpCodecKind,
    /// A screen share: always sent while shared (`video_watched` and `video_layers` speak of
    /// the camera only; a share is everyone's large tile).
    screen: bool,
    /// Lowest first; one for a track without simulcast.
    layers: Vec<Layer>,
    downs: Vec<Down>,
    paused: bool,
    /// Audio with the audio-level extension: its id and the voice's loudness. Such audio is
    /// forwarded only while it is among the room's speakers; audio without it always is.
    voice: Option<(u8, Voice)>,
    /// Video whose keyframes the engine can recognize (downstreams wait for one to start).
    video: Option<VideoCodec>,
    /// What the publisher was last told about its video (it assumes watched at first), and
    /// since when nobody watches it.
    watched: bool,
    unwatched_since: Option<Instant>,
    /// Which of its simulcast layers the publisher sends (layers nobody needs are paused).
    dynacast: layers::Dynacast,
    /// How often forwarding resumed after a pause (each downstream's numbering breaks there).
    resumes: u64,
}

impl Pub {
    /// What layer choice needs to know about each layer now.
    fn layer_views(&self, now: Instant) -> Vec<LayerView> {
        self.layers
            .iter()
            .map(|l| LayerView {
                live: l.is_live(now),
                height: l.height,
            })
            .collect()
    }
}

/// The copy of a publication that goes to one subscriber's send slot.
struct Down {
    leg: LegId,
    sender: RTCRtpSenderId,
    /// `None` until the subscriber's leg has negotiated the slot for this publication.
    rewrite: Option<Rewrite>,
    resumes_seen: u64,
    /// The subscriber shows this video (see `ClientMessage::View`); always true for audio.
    shown: bool,
    /// What the subscriber's view asks of this video (the layer it should get).
    want: Want,
    /// The layer it forwards and the one it should; nothing goes out until a packet that starts
    /// a keyframe of the target layer (video only).
    switch: Switch,
    /// When a keyframe of the target layer was last asked for on its behalf.
    switch_asked: Option<Instant>,
    /// Shown again after being hidden: the next packet continues the subscriber's numbering.
    restart: bool,
    /// When this subscriber last made the server ask the publisher for a keyframe, per layer.
    last_keyframe_ask: [Option<Instant>; layers::MAX_LAYERS],
}

/// How often one subscriber can make a publisher send a keyframe of one layer (by its own
/// requests, by showing a video again, or by a view that changes its layer): a keyframe costs
/// the publisher's upload and everyone's download, so one subscriber toggling its view cannot
/// make every publisher send keyframes all the time. Per layer, so that a tile that grows gets
/// its first keyframe of the bigger layer at once even right after one of the small layer.
const KEYFRAME_ASK_PER_SUBSCRIBER: Duration = Duration::from_secs(2);

impl Down {
    /// Whether this subscriber may ask for a keyframe of `layer` now (at most once per
    /// [`KEYFRAME_ASK_PER_SUBSCRIBER`]); records the ask.
    fn may_ask(&mut self, layer: u8, now: Instant) -> bool {
        let Some(last) = self.last_keyframe_ask.get_mut(usize::from(layer)) else {
            return false;
        };
        if last.is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_ASK_PER_SUBSCRIBER) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// How long nobody must have watched a video before its publisher is told to stop sending it
/// (paging through a grid hides and shows tiles within moments).
const UNWATCHED_AFTER: Duration = Duration::from_secs(2);

/// How often a worker sums up what went wrong (never per packet).
const PROBLEM_REPORT_EVERY: Duration = Duration::from_secs(30);

/// Drops worth a warning, counted between two reports.
#[derive(Default)]
struct Problems {
    send_buffer: u64,
    malformed: u64,
    unrouted: u64,
    write_failed: u64,
    /// ICE-TCP connections refused at accept (too many streams).
    tcp_refused: u64,
    since: Option<Instant>,
}

/// One worker thread's state.
pub struct Worker {
    index: usize,
    poll: Poll,
    socket: UdpSocket,
    inputs: mpsc::Receiver<Input>,
    shared: Arc<Shared>,
    legs: IdMap<LegId, Leg>,
    pubs: IdMap<PubId, Pub>,
    /// Remote address → our connection, for datagrams from addresses this worker has routed
    /// before.
    by_addr: HashMap<SocketAddr, LegId>,
    /// Connections with datagrams to send or a timeout to refresh, and the list being flushed.
    dirty: Vec<LegId>,
    flushing: Vec<LegId>,
    scratch: Vec<Feedback>,
    /// Congestion control feedback of one input (kept for its capacity).
    acks: Vec<Acknowledgement>,
    /// Received RTP of one input: with its track id when the stack delivered it, without when
    /// the engine's own tap did (a claimed stream).
    reads: Vec<(Option<String>, rtp::Packet)>,
    diverted: Vec<rtp::Packet>,
    /// Datagrams of one flush, and whether the kernel took each (kept for their capacity).
    outbox: Vec<(Bytes, SocketAddr)>,
    /// Where a forwarded copy is marshalled before it is protected (kept for its capacity).
    plain: Vec<u8>,
    outcomes: Vec<Sent>,
    /// Who produced the outbox's datagrams: runs of (connection, count).
    runs: Vec<(LegId, usize)>,
    problems: Problems,
    /// Sockets connected to one client address each, bound to the media port too: the kernel
    /// delivers that client's datagrams to the worker that owns its connection, instead of to
    /// whichever worker's shared socket the address hashes to.
    pins: IdMap<usize, Pin>,
    pinned: HashMap<SocketAddr, usize>,
    next_pin: usize,
    /// Pinned sockets that still had data when their read budget ran out.
    pins_pending: Vec<usize>,
    /// The ICE-TCP listener (this worker's, on the shared TCP port), if TCP is on.
    listener: Option<TcpListener>,
    /// ICE-TCP streams by token.
    links: IdMap<usize, Link>,
    /// Streams that still had data when their read budget ran out.
    links_pending: Vec<usize>,
    /// Streams given datagrams in this flush (written after it).
    links_written: Vec<usize>,
    now: Instant,
    /// Room for the kernel's arrival stamp of a datagram.
    stamp_space: Vec<u8>,
    /// Each room's speakers, by room id.
    rooms: HashMap<Arc<str>, Selection<PubId>>,
    next_tick: Instant,
}

struct Pin {
    socket: UdpSocket,
    remote: SocketAddr,
    leg: LegId,
}

/// An ICE-TCP stream and the connection it carries (`None` until its first check names one).
pub struct Link {
    stream: tcp::Stream<TcpStream>,
    leg: Option<LegId>,
}

/// Why a leg operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error("the media connection is gone")]
    Gone,
    #[error("{0}")]
    Rtc(String),
}

impl From<EngineGone> for LegError {
    fn from(_: EngineGone) -> Self {
        Self::Gone
    }
}

/// The participant task's handle on its connection.
#[derive(Debug, Clone)]
pub struct LegHandle {
    pub worker: WorkerHandle,
    pub id: LegId,
}

impl LegHandle {
    /// Runs `f` on the connection (on its worker), then lets the worker send what it produced.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Leg, Instant) -> R + Send + 'static,
    ) -> Result<R, LegError> {
        let id = self.id;
        self.worker
            .call(move |w| w.with_leg(id, f))
            .await?
            .ok_or(LegError::Gone)
    }

    /// Closes the connection and forgets it (its publications and subscriptions too).
    pub fn close(&self) {
        let id = self.id;
        self.worker.post(move |w| w.remove_leg(id, true));
    }
}

/// What a new connection needs.
pub struct NewLeg {
    pub participant: String,
    /// The room's stable id (not its invite link, which rotates).
    pub room: Arc<str>,
    pub ufrag: String,
    /// The connection's ICE password (checks on the shared port are verified with it).
    pub password: String,
    pub pc: RTCPeerConnection,
    pub feedback: feedback::Queue,
    pub events: tokio_mpsc::UnboundedSender<LegEvent>,
}

impl WorkerHandle {
    /// Adds a connection to this worker.
    pub async fn open(&self, leg: NewLeg) -> Result<LegHandle, EngineGone> {
        let handle = self.clone();
        let id = self
            .call(move |w| {
                let id = LegId(next_id());
                w.rooms.entry(leg.room.clone()).or_default();
                {
                    let mut routes = w.shared.routes.write().unwrap_or_else(|p| p.into_inner());
                    routes.ufrags.insert(
                        leg.ufrag.clone(),
                        (
                            LegKey {
                                worker: w.index,
                                leg: id,
                            },
                            Arc::from(leg.password.as_bytes()),
                        ),
                    );
                }
                w.legs.insert(
                    id,
                    Leg {
                        pc: leg.pc,
                        events: leg.events,
                        participant: leg.participant,
                        room: leg.room,
                        ufrag: leg.ufrag,
                        next_timeout: None,
                        connected: false,
                        silent: false,
                        failed: false,
                        receivers: HashMap::new(),
                        screen_mid: None,
                        tracks: HashMap::new(),
                        routes: Vec::new(),
                        slots: IdMap::default(),
                        dirty: false,
                        feedback: leg.feedback,
                        send_drops: 0,
                        loss: layers::LossControl::default(),
                        loss_reported: (0, 0),
                        receiving: 0.0,
                        raw: Vec::new(),
                        peer: None,
                        moved: false,
                        moved_keyframes: None,
                        tcp: Vec::new(),
                        lose: 0,
                        downlink: Downlink::default(),
                        queue: None,
                        delay: layers::DelayControl::default(),
                        resends: history::Allowance::new(),
                    },
                );
                w.shared.metrics.legs_changed(1);
                id
            })
            .await?;
        Ok(LegHandle { worker: handle, id })
    }
}

impl Leg {
    /// Notes where ICE's selected pair sent now, and whether that moved from another address.
    fn note_peer(&mut self, to: SocketAddr) {
        if self.peer != Some(to) {
            self.moved |= self.peer.is_some();
            self.peer = Some(to);
        }
    }

    /// The publications it is sent (its send slots' sources).
    fn sources(&self) -> impl Iterator<Item = PubId> + '_ {
        self.slots.values().filter_map(|s| s.source)
    }

    /// Counts one flush's forwarded copies toward it that were lost (`lost`) and that went out
    /// (`sent`); true when sending works again after losses, so a fresh picture is due.
    fn sending_recovered(&mut self, lost: u64, sent: u64) -> bool {
        if lost > 0 {
            self.send_drops += lost;
            false
        } else if sent > 0 && self.send_drops > 0 {
            self.send_drops = 0;
            true
        } else {
            false
        }
    }

    /// Registers a new send slot (after `add_transceiver_from_track`).
    pub fn add_slot(&mut self, sender: RTCRtpSenderId, ssrc: u32, clock_rate: u32) {
        self.slots.insert(
            sender,
            SendSlot {
                ssrc,
                munger: Munger::new(clock_rate, rand::random(), rand::random()),
                source: None,
                packets: 0,
                octets: 0,
                history: History::default(),
            },
        );
    }

    /// The client's publishing offer named this section its screen (see [`Leg::screen_mid`]).
    /// Set before its first packet can arrive (with the offer); never changes afterwards.
    pub fn set_screen_mid(&mut self, mid: Option<String>) {
        if self.screen_mid.is_none() {
            self.screen_mid = mid;
        }
    }

    /// The next packet on this slot starts a new run (it carries someone else from now on).
    pub fn break_slot(&mut self, sender: RTCRtpSenderId) {
        if let Some(slot) = self.slots.get_mut(&sender) {
            slot.munger.mark_break();
        }
    }

    pub fn remove_slot(&mut self, sender: RTCRtpSenderId) {
        self.slots.remove(&sender);
    }

    /// The participant this connection belongs to.
    pub fn participant(&self) -> &str {
        &self.participant
    }

    /// The stack announced a received stream (a track, or one simulcast layer of it): its
    /// packets are routed by SSRC from now on, and taken out of the chain by `feedback::Tap`
    /// (so a renegotiation, which makes `rtc` forget simulcast layers, cannot lose them).
    fn open_stream(&mut self, ssrc: u32, track_id: &str, rid: Option<String>) {
        if self.routes.iter().any(|r| r.ssrc == ssrc) || self.routes.len() >= feedback::MAX_CLAIMED
        {
            return;
        }
        if !feedback::claim(&self.feedback, ssrc) {
            return;
        }
        self.routes.push(Route {
            ssrc,
            track_id: track_id.to_owned(),
            rid: rid.filter(|r| !r.is_empty()),
            to: None,
        });
    }
}

impl Worker {
    fn run(&mut self) {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut more_to_read = false;
        let mut more_inputs = false;
        let mut more_accepts = false;
        let mut readable = Vec::new();
        let mut link_ready = Vec::new();
        loop {
            let wait = if more_to_read
                || more_inputs
                || more_accepts
                || !self.pins_pending.is_empty()
                || !self.links_pending.is_empty()
            {
                Duration::ZERO
            } else {
                let now = Instant::now();
                let next = self
                    .legs
                    .values()
                    .filter_map(|l| l.next_timeout)
                    .min()
                    .map_or(IDLE_WAIT, |t| t.saturating_duration_since(now));
                let tick = if self.rooms.is_empty() {
                    IDLE_WAIT
                } else {
                    self.next_tick.saturating_duration_since(now)
                };
                next.min(tick).min(IDLE_WAIT)
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != ErrorKind::Interrupted
            {
                tracing::error!(worker = self.index, error = %e, "media poll failed");
                std::thread::sleep(Duration::from_millis(10));
            }
            self.now = Instant::now();
            let mut shared_socket = more_to_read;
            let mut accept = more_accepts;
            readable.clear();
            readable.append(&mut self.pins_pending);
            link_ready.clear();
            link_ready.extend(self.links_pending.drain(..).map(|t| (t, true, false)));
            for event in events.iter() {
                match event.token() {
                    SOCKET => shared_socket = true,
                    WAKER => {}
                    LISTENER => accept = true,
                    Token(t) if self.links.contains_key(&t) => link_ready.push((
                        t,
                        event.is_readable() || event.is_read_closed() || event.is_error(),
                        event.is_writable(),
                    )),
                    Token(pin) => readable.push(pin),
                }
            }
            // Jobs and handed-over datagrams, a budget's worth (see `INPUT_BUDGET`); the rest
            // in the next pass, which then does not wait.
            more_inputs = false;
            let started = Instant::now();
            for handled in 0.. {
                if handled >= INPUT_BUDGET
                    || (handled > 0 && started.elapsed() >= INPUT_TIME_BUDGET)
                {
                    more_inputs = true;
                    break;
                }
                match self.inputs.try_recv() {
                    Ok(Input::Job(job)) => {
                        if std::panic::catch_unwind(AssertUnwindSafe(|| job(self))).is_err() {
                            tracing::error!(worker = self.index, "a media job panicked");
                        }
                    }
                    Ok(Input::Datagram { from, data, at }) => {
                        self.shared.workers[self.index]
                            .handed_over
                            .fetch_sub(1, Ordering::Relaxed);
                        self.now = Instant::now();
                        self.on_datagram(from, data, at);
                    }
                    Ok(Input::Stream(link, first)) => {
                        self.now = Instant::now();
                        self.adopt(*link, first, &mut buf);
                    }
                    Ok(Input::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                        self.shutdown();
                        return;
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                }
            }
            more_to_read = shared_socket && self.read_from(None, &mut buf);
            readable.sort_unstable();
            readable.dedup();
            for pin in readable.drain(..) {
                if self.read_from(Some(pin), &mut buf) {
                    self.pins_pending.push(pin);
                }
            }
            more_accepts = accept && self.accept();
            link_ready.sort_unstable();
            link_ready.dedup_by(|a, b| {
                // One entry per stream, with both kinds of readiness.
                if a.0 == b.0 {
                    b.1 |= a.1;
                    b.2 |= a.2;
                    true
                } else {
                    false
                }
            });
            for (token, readable, writable) in link_ready.drain(..) {
                self.now = Instant::now();
                self.link_ready(token, readable, writable, &mut buf);
            }
            self.now = Instant::now();
            self.handle_timeouts();
            if self.now >= self.next_tick {
                self.next_tick = self.now + speakers::TICK;
                self.tick();
                self.sweep_links();
            }
            self.flush();
            self.report_problems();
        }
    }

    fn count_drop(&mut self, reason: DropReason, n: u64) {
        self.shared.metrics.dropped(reason, n);
        let p = &mut self.problems;
        match reason {
            DropReason::SendBuffer => p.send_buffer += n,
            DropReason::Malformed => p.malformed += n,
            DropReason::Unrouted | DropReason::Overload => p.unrouted += n,
            _ => {}
        }
    }

    /// One warning per [`PROBLEM_REPORT_EVERY`] with the counts, when something was dropped.
    fn report_problems(&mut self) {
        let since = *self.problems.since.get_or_insert(self.now);
        if self.now.saturating_duration_since(since) < PROBLEM_REPORT_EVERY {
            return;
        }
        let p = std::mem::take(&mut self.problems);
        self.problems.since = Some(self.now);
        if p.tcp_refused > 0 {
            tracing::warn!(
                worker = self.index,
                refused = p.tcp_refused,
                seconds = PROBLEM_REPORT_EVERY.as_secs(),
                "ICE-TCP connections refused (too many streams)"
            );
        }
        if p.send_buffer + p.malformed + p.unrouted + p.write_failed > 0 {
            tracing::warn!(
                worker = self.index,
                send_buffer_full = p.send_buffer,
                malformed = p.malformed,
                unrouted = p.unrouted,
                write_failed = p.write_failed,
                seconds = PROBLEM_REPORT_EVERY.as_secs(),
                "media datagrams dropped"
            );
        }
    }

    fn shutdown(&mut self) {
        let ids: Vec<LegId> = self.legs.keys().copied().collect();
        for id in ids {
            self.remove_leg(id, true);
        }
    }

    /// Reads up to [`READ_BUDGET`] datagrams from the shared socket (`pin: None`) or a pinned
    /// one. Returns true if it may have more. Each datagram is timed by its arrival in the
    /// kernel, not by when this (possibly busy) worker got to it: the transport-wide feedback
    /// built from these times is how publishers judge their path, and a worker's own wait
    /// would read to them as a queue on it.
    fn read_from(&mut self, pin: Option<usize>, buf: &mut [u8]) -> bool {
        let arrivals = udp::Arrivals::now();
        let mut space = std::mem::take(&mut self.stamp_space);
        let mut more = true;
        for _ in 0..READ_BUDGET {
            let received = match pin {
                None => udp::recv_stamped(&self.socket, buf, &mut space),
                Some(token) => match self.pins.get(&token) {
                    Some(p) => udp::recv_stamped(&p.socket, buf, &mut space),
                    None => {
                        more = false;
                        break;
                    }
                },
            };
            match received {
                Ok(got) => {
                    self.now = Instant::now();
                    let arrived = arrivals.arrival(got.stamp, self.now);
                    let data = BytesMut::from(buf.get(..got.len).unwrap_or_default());
                    self.on_datagram(got.from, data, arrived);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    more = false;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // ICMP errors (a client went away) surface here on Linux; nothing to do.
                Err(_) => {}
            }
        }
        self.stamp_space = space;
        more
    }

    /// Gives a client address of one of our connections a socket of its own (see `pins`).
    fn pin(&mut self, remote: SocketAddr, leg: LegId) {
        if self.pinned.contains_key(&remote)
            || self.pins.values().filter(|p| p.leg == leg).count() >= MAX_PINS_PER_LEG
        {
            return;
        }
        let Ok(local) = self.socket.local_addr() else {
            return;
        };
        let made = (|| -> std::io::Result<UdpSocket> {
            use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
            let socket = Socket::new(
                Domain::for_address(local),
                Type::DGRAM,
                Some(SockProtocol::UDP),
            )?;
            socket.set_reuse_port(true)?;
            socket.set_nonblocking(true)?;
            socket.bind(&local.into())?;
            socket.connect(&remote.into())?;
            let socket = UdpSocket::from_std(socket.into());
            udp::stamp_arrivals(&socket);
            Ok(socket)
        })();
        let mut socket = match made {
            Ok(socket) => socket,
            Err(e) => {
                tracing::debug!(%remote, error = %e, "cannot pin a client address; it stays on the shared socket");
                return;
            }
        };
        let Some(token) = self.register_new(&mut socket, Interest::READABLE) else {
            return;
        };
        self.pins.insert(
            token,
            Pin {
                socket,
                remote,
                leg,
            },
        );
        self.pinned.insert(remote, token);
    }

    fn unpin_leg(&mut self, leg: LegId) {
        let tokens: Vec<usize> = self
            .pins
            .iter()
            .filter(|(_, p)| p.leg == leg)
            .map(|(t, _)| *t)
            .collect();
        for token in tokens {
            if let Some(mut pin) = self.pins.remove(&token) {
                let _ = self.poll.registry().deregister(&mut pin.socket);
                self.pinned.remove(&pin.remote);
            }
        }
        self.pins_pending.retain(|t| self.pins.contains_key(t));
    }

    /// The connection a datagram belongs to, wherever it lives.
    fn route(&mut self, from: SocketAddr, data: &[u8]) -> Option<LegKey> {
        // A connectivity check names its connection: it may move an address to another
        // connection (a new connection from the same socket, or a check that corrects a
        // candidate someone else named).
        if demux::local_ufrag(data).is_some() {
            let key = self.named_by_check(data)?;
            let known = {
                let routes = self.shared.routes.read().unwrap_or_else(|p| p.into_inner());
                routes.addrs.get(&from).copied()
            };
            if known != Some(key) {
                let mut routes = self
                    .shared
                    .routes
                    .write()
                    .unwrap_or_else(|p| p.into_inner());
                routes.addrs.insert(from, key);
            }
            if key.worker == self.index {
                self.by_addr.insert(from, key.leg);
                self.pin(from, key.leg);
            } else {
                self.by_addr.remove(&from);
            }
            return Some(key);
        }
        if let Some(leg) = self.by_addr.get(&from) {
            return Some(LegKey {
                worker: self.index,
                leg: *leg,
            });
        }
        let key = {
            let routes = self.shared.routes.read().unwrap_or_else(|p| p.into_inner());
            routes.addrs.get(&from).copied()?
        };
        if key.worker == self.index {
            self.by_addr.insert(from, key.leg);
        }
        Some(key)
    }

    /// The connection a connectivity check names, if it is signed with that connection's ICE
    /// password (only such a check may tie an address or a stream to a connection).
    fn named_by_check(&self, data: &[u8]) -> Option<LegKey> {
        let ufrag = demux::local_ufrag(data)?;
        let (key, password) = {
            let routes = self.shared.routes.read().unwrap_or_else(|p| p.into_inner());
            let (key, password) = routes.ufrags.get(ufrag)?;
            (*key, password.clone())
        };
        demux::integrity_ok(data, &password).then_some(key)
    }

    /// Feeds a datagram that reached the kernel at `arrived` to its connection (handing it to
    /// the worker that owns it, if another). The stack times it by `arrived` (the congestion
    /// feedback and receiver reports it builds are about the path to us); everything it sets
    /// off from here (forwarding, the send times that downlink feedback is measured against)
    /// happens at `self.now`.
    fn on_datagram(&mut self, from: SocketAddr, data: BytesMut, arrived: Instant) {
        let Some(key) = self.route(from, &data) else {
            self.count_drop(DropReason::Unrouted, 1);
            return;
        };
        if key.worker != self.index {
            if let Some(owner) = self.shared.workers.get(key.worker) {
                if owner.handed_over.fetch_add(1, Ordering::Relaxed) >= MAX_HANDED_OVER {
                    owner.handed_over.fetch_sub(1, Ordering::Relaxed);
                    self.count_drop(DropReason::Overload, 1);
                } else {
                    owner.send(Input::Datagram {
                        from,
                        data,
                        at: arrived,
                    });
                }
            }
            return;
        }
        self.feed(key.leg, from, data, arrived, TransportProtocol::UDP);
    }

    /// Gives a connection one datagram (or ICE-TCP frame) from `from`.
    fn feed(
        &mut self,
        id: LegId,
        from: SocketAddr,
        data: BytesMut,
        arrived: Instant,
        transport_protocol: TransportProtocol,
    ) {
        let local_addr = match (transport_protocol, self.shared.advertised_tcp) {
            (TransportProtocol::TCP, Some(tcp)) => tcp,
            _ => self.shared.advertised,
        };
        let media = demux::classify(&data) == demux::Kind::Rtp;
        let fed = self.guard(id, |leg| {
            let msg = TaggedBytesMut {
                now: arrived,
                transport: TransportContext {
                    local_addr,
                    peer_addr: from,
                    ecn: None,
                    transport_protocol,
                },
                message: data,
            };
            // Malformed or unexpected datagrams are refused by the stack; nothing to report
            // per packet.
            let read = leg.pc.handle_read(msg).is_ok();
            // SRTP or SRTCP that authenticated, from another address than the one we send to:
            // the client moved its media to another path it proved (a browser leaving a dead
            // network tells by USE-CANDIDATE only seconds later). Follow at once.
            if read && media && leg.peer.is_some_and(|p| p != from) {
                let tcp = transport_protocol == TransportProtocol::TCP;
                leg.pc.follow_media_from(arrived, from, tcp);
            }
            read
        });
        if fed == Some(false) {
            self.count_drop(DropReason::Malformed, 1);
        }
        self.after_input(id);
    }

    // --- ICE-TCP streams ([`tcp`]) ----------------------------------------------------------

    /// Accepts waiting TCP connections (a budget's worth). Returns true if there may be more.
    fn accept(&mut self) -> bool {
        // Taken out for the loop (and put back): accepting registers with `self`.
        let Some(listener) = self.listener.take() else {
            return false;
        };
        let more = self.accept_from(&listener);
        self.listener = Some(listener);
        more
    }

    fn accept_from(&mut self, listener: &TcpListener) -> bool {
        for _ in 0..ACCEPT_BUDGET {
            let (mut socket, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors, most likely: the next connection tries again.
                    tracing::warn!(worker = self.index, error = %e, "cannot accept an ICE-TCP connection");
                    return false;
                }
            };
            let unbound_from_peer = self
                .links
                .values()
                .filter(|l| l.leg.is_none() && l.stream.peer.ip() == peer.ip())
                .count();
            if self.links.len() >= MAX_STREAMS || unbound_from_peer >= MAX_UNBOUND_STREAMS_PER_IP {
                self.problems.tcp_refused += 1;
                continue;
            }
            let _ = socket.set_nodelay(true);
            let Some(token) = self.register_new(&mut socket, Interest::READABLE) else {
                continue;
            };
            self.links.insert(
                token,
                Link {
                    stream: tcp::Stream::new(socket, peer, self.now),
                    leg: None,
                },
            );
        }
        true
    }

    /// Registers a new socket (a pinned one or a stream) under a fresh token.
    fn register_new(
        &mut self,
        source: &mut impl mio::event::Source,
        interest: Interest,
    ) -> Option<usize> {
        let token = self.next_pin;
        self.next_pin += 1;
        self.poll
            .registry()
            .register(source, Token(token), interest)
            .ok()
            .map(|()| token)
    }

    /// A stream is readable or writable.
    fn link_ready(&mut self, token: usize, readable: bool, writable: bool, buf: &mut [u8]) {
        if writable && !self.write_link(token) {
            return;
        }
        if !readable {
            return;
        }
        for _ in 0..tcp::READ_BUDGET {
            let Some(link) = self.links.get_mut(&token) else {
                return;
            };
            match link.stream.read(buf, self.now) {
                Ok(true) => {}
                Ok(false) => return,
                Err(why) => {
                    self.close_link(token, why);
                    return;
                }
            }
            if !self.take_frames(token) {
                return;
            }
        }
        self.links_pending.push(token);
    }

    /// Feeds a stream's whole frames to its connection; the first must be a check that names
    /// one. False if the stream was closed or handed to another worker.
    fn take_frames(&mut self, token: usize) -> bool {
        loop {
            let Some(link) = self.links.get_mut(&token) else {
                return false;
            };
            let peer = link.stream.peer;
            let frame = match link.stream.frames.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return true,
                Err(why) => {
                    self.close_link(token, why);
                    return false;
                }
            };
            if let Some(leg) = link.leg {
                if !self.legs.contains_key(&leg) {
                    self.close_link(token, tcp::Closed::Gone);
                    return false;
                }
                self.feed(leg, peer, frame, self.now, TransportProtocol::TCP);
                continue;
            }
            match self.named_by_check(&frame) {
                Some(key) if key.worker == self.index => {
                    if !self.bind_link(token, key.leg) {
                        return false;
                    }
                    self.feed(key.leg, peer, frame, self.now, TransportProtocol::TCP);
                }
                Some(key) => {
                    self.hand_over(token, key.worker, frame);
                    return false;
                }
                None => {
                    // Anything but a signed check first: not an ICE-TCP client of ours.
                    self.count_drop(DropReason::Unrouted, 1);
                    self.close_link(token, tcp::Closed::Gone);
                    return false;
                }
            }
        }
    }

    /// Ties a stream to one of this worker's connections (its first check named it). False
    /// (the stream closed) if the connection is gone or has its most streams already.
    fn bind_link(&mut self, token: usize, id: LegId) -> bool {
        let bound = match (self.links.get_mut(&token), self.legs.get_mut(&id)) {
            (Some(link), Some(leg)) if leg.tcp.len() < MAX_PINS_PER_LEG => {
                link.leg = Some(id);
                leg.tcp.push((link.stream.peer, token));
                true
            }
            _ => false,
        };
        if !bound {
            self.close_link(token, tcp::Closed::Gone);
        }
        bound
    }

    /// Moves a stream to the worker that owns the connection its first check (`first`) names.
    fn hand_over(&mut self, token: usize, worker: usize, first: BytesMut) {
        let Some(mut link) = self.links.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut link.stream.socket);
        if let Some(owner) = self.shared.workers.get(worker) {
            owner.send(Input::Stream(Box::new(link), first));
        }
    }

    /// Takes in a stream another worker accepted, with the check that names our connection.
    fn adopt(&mut self, mut link: Link, first: BytesMut, buf: &mut [u8]) {
        link.stream.wants_write = link.stream.pending();
        let interest = if link.stream.wants_write {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let Some(token) = self.register_new(&mut link.stream.socket, interest) else {
            return;
        };
        let peer = link.stream.peer;
        self.links.insert(token, link);
        // Checked again here: the connection may have gone meanwhile (a stream is never handed
        // on twice).
        match self.named_by_check(&first) {
            Some(key) if key.worker == self.index && self.bind_link(token, key.leg) => {
                self.feed(key.leg, peer, first, self.now, TransportProtocol::TCP);
            }
            Some(key) if key.worker == self.index => return,
            _ => {
                self.close_link(token, tcp::Closed::Gone);
                return;
            }
        }
        // What arrived behind the check, and what the kernel got since the hand-over.
        if self.take_frames(token) {
            self.link_ready(token, true, false, buf);
        }
    }

    /// Writes what waits for a stream; asks for writability while the kernel takes no more.
    /// False if the stream closed.
    fn write_link(&mut self, token: usize) -> bool {
        let Some(link) = self.links.get_mut(&token) else {
            return false;
        };
        if let Err(why) = link.stream.write() {
            self.close_link(token, why);
            return false;
        }
        let pending = link.stream.pending();
        if pending != link.stream.wants_write {
            let interest = if pending {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut link.stream.socket, Token(token), interest)
                .is_err()
            {
                self.close_link(token, tcp::Closed::Gone);
                return false;
            }
            link.stream.wants_write = pending;
        }
        true
    }

    fn close_link(&mut self, token: usize, why: tcp::Closed) {
        let Some(mut link) = self.links.remove(&token) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut link.stream.socket);
        if let Some(leg) = link.leg.and_then(|id| self.legs.get_mut(&id)) {
            leg.tcp.retain(|(_, t)| *t != token);
        }
        if why == tcp::Closed::Oversized {
            self.count_drop(DropReason::Malformed, 1);
        }
        tracing::debug!(peer = %link.stream.peer, ?why, "ICE-TCP stream closed");
    }

    /// Closes streams that never named a connection in time, and silent ones.
    fn sweep_links(&mut self) {
        if self.links.is_empty() {
            return;
        }
        let now = self.now;
        let stale: Vec<usize> = self
            .links
            .iter()
            .filter(|(_, l)| match l.leg {
                None => now.saturating_duration_since(l.stream.opened) >= tcp::HELLO_WITHIN,
                Some(_) => now.saturating_duration_since(l.stream.last_read) >= tcp::IDLE_AFTER,
            })
            .map(|(t, _)| *t)
            .collect();
        for token in stale {
            self.close_link(token, tcp::Closed::Gone);
        }
    }

    /// Runs `f` on a leg, ending the leg if it panics. `None` if there is no such leg (or it
    /// panicked).
    fn guard<R>(&mut self, id: LegId, f: impl FnOnce(&mut Leg) -> R) -> Option<R> {
        let leg = self.legs.get_mut(&id)?;
        match std::panic::catch_unwind(AssertUnwindSafe(|| f(leg))) {
            Ok(r) => Some(r),
            Err(_) => {
                tracing::error!(leg = ?id, "a media connection panicked; it is closed");
                self.remove_leg(id, false);
                None
            }
        }
    }

    /// Runs a participant task's request on its leg, then handles what the leg produced.
    fn with_leg<R>(&mut self, id: LegId, f: impl FnOnce(&mut Leg, Instant) -> R) -> Option<R> {
        let now = Instant::now();
        self.now = now;
        let r = self.guard(id, |leg| f(leg, now))?;
        self.after_input(id);
        self.flush();
        Some(r)
    }

    /// After a leg was fed: its events, its received media (forwarded at once), the feedback
    /// it took in, and what it has to send.
    fn after_input(&mut self, id: LegId) {
        let mut reads = std::mem::take(&mut self.reads);
        let mut diverted = std::mem::take(&mut self.diverted);
        let mut feedback = std::mem::take(&mut self.scratch);
        let mut acks = std::mem::take(&mut self.acks);
        let mut matched = 0;
        let mut connected = false;
        let polled = self.guard(id, |leg| {
            while let Some(event) = leg.pc.poll_event() {
                match event {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => match state {
                        RTCPeerConnectionState::Connected if !leg.connected => {
                            leg.connected = true;
                            connected = true;
                            let _ = leg.events.send(LegEvent::Connected);
                        }
                        RTCPeerConnectionState::Connected if leg.silent && !leg.failed => {
                            leg.silent = false;
                            let _ = leg.events.send(LegEvent::Connected);
                        }
                        RTCPeerConnectionState::Disconnected if leg.connected && !leg.failed => {
                            leg.silent = true;
                            let _ = leg.events.send(LegEvent::Disconnected);
                        }
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                            if !leg.failed =>
                        {
                            leg.failed = true;
                            let _ = leg.events.send(LegEvent::Failed);
                        }
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
                        leg.open_stream(init.ssrc, &init.track_id, init.rid);
                        leg.receivers.insert(init.track_id, init.receiver_id);
                    }
                    _ => {}
                }
            }
            while let Some(m) = leg.pc.poll_read() {
                if let RTCMessage::RtpPacket(track_id, packet) = m.message {
                    reads.push((Some(track_id), packet));
                }
            }
            feedback::drain(&leg.feedback, &mut feedback, &mut diverted);
            feedback::take_acks(&leg.feedback, &mut acks);
            if !acks.is_empty() {
                let before = leg.downlink.matched();
                if let Some(queue) = leg.downlink.on_feedback(&acks) {
                    leg.queue = Some(queue);
                }
                matched += leg.downlink.matched() - before;
                acks.clear();
            }
        });
        if matched > 0 {
            self.shared.metrics.downlink_feedback(matched);
        }
        if connected {
            self.tell_speakers(id);
        }
        if polled.is_some() {
            // The engine's own streams first: they left the chain before the stack's.
            for packet in diverted.drain(..) {
                self.forward(id, None, packet);
            }
            for (track_id, packet) in reads.drain(..) {
                self.forward(id, track_id.as_deref(), packet);
            }
            for item in feedback.drain(..) {
                self.on_feedback(id, item);
            }
            self.mark_dirty(id);
        }
        reads.clear();
        diverted.clear();
        feedback.clear();
        self.reads = reads;
        self.diverted = diverted;
        self.scratch = feedback;
        self.acks = acks;
    }

    /// Tells a newly connected participant who speaks now (later changes reach it with
    /// everyone else's).
    fn tell_speakers(&self, id: LegId) {
        let Some(leg) = self.legs.get(&id) else {
            return;
        };
        let Some(selection) = self.rooms.get(&leg.room) else {
            return;
        };
        if selection.announced().is_empty() {
            return;
        }
        let _ = leg.events.send(LegEvent::Speakers(
            self.speaker_names(selection.announced()),
        ));
    }

    /// The participants whose publications these are.
    fn speaker_names(&self, speakers: &[PubId]) -> Arc<[String]> {
        speakers
            .iter()
            .filter_map(|id| self.pubs.get(id))
            .filter_map(|p| self.legs.get(&p.leg))
            .map(|l| l.participant.clone())
            .collect()
    }

    fn mark_dirty(&mut self, id: LegId) {
        if let Some(leg) = self.legs.get_mut(&id)
            && !leg.dirty
        {
            leg.dirty = true;
            self.dirty.push(id);
        }
    }

    /// The publication and layer a received packet belongs to, by its SSRC (`track_id`: the
    /// stack's, for a packet it delivered itself). The publication is made on the first packet
    /// of its track.
    fn layer_of(
        &mut self,
        id: LegId,
        track_id: Option<&str>,
        packet: &rtp::Packet,
    ) -> Option<(PubId, u8)> {
        let ssrc = packet.header.ssrc;
        let leg = self.legs.get_mut(&id)?;
        let index = match leg.routes.iter().position(|r| r.ssrc == ssrc) {
            Some(index) => index,
            None => {
                // Delivered by the stack without an announcement (cannot happen with `rtc`
                // 0.21, which announces every stream before its first packet): a track
                // without simulcast.
                let track_id = track_id?;
                if leg.routes.len() >= feedback::MAX_CLAIMED {
                    return None;
                }
                leg.routes.push(Route {
                    ssrc,
                    track_id: track_id.to_owned(),
                    rid: None,
                    to: None,
                });
                leg.routes.len() - 1
            }
        };
        if let Some(to) = leg.routes[index].to {
            return Some(to);
        }
        let track_id = leg.routes[index].track_id.clone();
        let rid = leg.routes[index].rid.clone();
        let pub_id = self.publication_for(id, &track_id, packet)?;
        let p = self.pubs.get_mut(&pub_id)?;
        let layer = match p.layers.iter().position(|l| l.rid == rid) {
            Some(layer) => layer,
            None if p.layers.len() == 1 => 0,
            // A stream id the track does not have (the stack checks it against the SDP).
            None => return None,
        };
        p.layers[layer].ssrc = Some(ssrc);
        let to = (pub_id, u8::try_from(layer).unwrap_or(0));
        if let Some(route) = self.legs.get_mut(&id).and_then(|l| l.routes.get_mut(index)) {
            route.to = Some(to);
        }
        Some(to)
    }

    /// The publication a received track belongs to, made on its first packet.
    fn publication_for(
        &mut self,
        id: LegId,
        track_id: &str,
        packet: &rtp::Packet,
    ) -> Option<PubId> {
        let leg = self.legs.get_mut(&id)?;
        if let Some(p) = leg.tracks.get(track_id) {
            return *p;
        }
        let receiver_id = *leg.receivers.get(track_id)?;
        let mid = leg
            .pc
            .rtp_transceiver(RTCRtpTransceiverId::from(receiver_id))
            .and_then(|t| t.mid().clone());
        let screen = mid.is_some() && mid == leg.screen_mid;
        let mut receiver = leg.pc.rtp_receiver(receiver_id)?;
        let kind = receiver.track().kind();
        let track = match kind {
            RtpCodecKind::Audio => Track::Audio,
            _ if screen => Track::Screen,
            _ => Track::Camera,
        };
        // Simulcast layers in the order of the publisher's `a=simulcast` line: lowest first
        // (`docs/protocol.md`).
        let rids: Vec<String> = receiver
            .track()
            .codings()
            .iter()
            .map(|c| c.rtp_coding_parameters.rid.clone())
            .filter(|rid| !rid.is_empty())
            .take(layers::MAX_LAYERS)
            .collect();
        let params = &receiver.get_parameters().rtp_parameters;
        let payload_type = packet.header.payload_type;
        let codec: Option<RTCRtpCodec> = params
            .codecs
            .iter()
            .find(|c| c.payload_type == payload_type)
            .map(|c| c.rtp_codec.clone());
        let extensions: Vec<(String, u16)> = params
            .header_extensions
            .iter()
            .map(|h| (h.uri.clone(), h.id))
            .collect();
        // Which RTX payload type repairs which codec (for `repair`: simulcast retransmissions).
        for c in &params.codecs {
            let media = c
                .rtp_codec
                .sdp_fmtp_line
                .split(';')
                .find_map(|p| p.trim().strip_prefix("apt="))
                .and_then(|apt| apt.parse::<u8>().ok());
            if c.rtp_codec.mime_type.eq_ignore_ascii_case("video/rtx")
                && let Some(media) = media
            {
                feedback::add_apt(&leg.feedback, c.payload_type, media);
            }
        }
        let Some(codec) = codec else {
            // Decided once, not per packet.
            leg.tracks.insert(track_id.to_owned(), None);
            tracing::warn!(participant = %leg.participant, payload_type, "track with an unknown codec ignored");
            return None;
        };
        let pub_id = PubId(next_id());
        leg.tracks.insert(track_id.to_owned(), Some(pub_id));
        let ssrc = packet.header.ssrc;
        let voice = extensions
            .iter()
            .find(|(uri, _)| uri == AUDIO_LEVEL_URI)
            .and_then(|(_, id)| u8::try_from(*id).ok())
            .filter(|_| kind == RtpCodecKind::Audio)
            .map(|id| (id, Voice::default()));
        let video = VideoCodec::from_mime(&codec.mime_type).filter(|_| kind == RtpCodecKind::Video);
        let layers: Vec<Layer> = if rids.is_empty() || kind != RtpCodecKind::Video {
            vec![Layer::default()]
        } else {
            rids.iter()
                .map(|rid| Layer {
                    rid: Some(rid.clone()),
                    ..Layer::default()
                })
                .collect()
        };
        let publication = Arc::new(Publication {
            publisher: leg.participant.clone(),
            kind,
            track,
            codec,
            ssrc,
            payload_type: Some(payload_type),
            extensions,
            layers: rids,
            id: pub_id,
            worker: self.shared.workers[self.index].clone(),
        });
        tracing::info!(
            participant = %leg.participant,
            kind = %publication.kind,
            screen,
            codec = %publication.codec.mime_type,
            payload_type,
            layers = layers.len(),
            "publishing"
        );
        let _ = leg.events.send(LegEvent::Published(publication));
        self.pubs.insert(
            pub_id,
            Pub {
                leg: id,
                room: leg.room.clone(),
                receiver: receiver_id,
                kind,
                screen,
                layers,
                downs: Vec::new(),
                paused: false,
                voice,
                video,
                watched: true,
                unwatched_since: None,
                dynacast: layers::Dynacast::default(),
                resumes: 0,
            },
        );
        Some(pub_id)
    }

    /// Writes a rewritten copy of `packet` to every ready downstream of its publication that
    /// forwards its layer.
    fn forward(&mut self, from: LegId, track_id: Option<&str>, packet: rtp::Packet) {
        self.shared.metrics.received(packet.payload.len());
        let Some((pub_id, layer)) = self.layer_of(from, track_id, &packet) else {
            self.shared.metrics.dropped(DropReason::UnknownTrack, 1);
            return;
        };
        // A borrow, not a clone: the refcount's cache line would bounce between media threads
        // on every packet.
        let metrics = &self.shared.metrics;
        let now = self.now;
        let Some(publication) = self.pubs.get_mut(&pub_id) else {
            return;
        };
        let keyframe = publication
            .video
            .is_some_and(|codec| codec.starts_keyframe(&packet.payload));
        if let Some(l) = publication.layers.get_mut(usize::from(layer)) {
            l.last_packet = Some(now);
            l.rate.add(packet.payload.len());
            if keyframe
                && let Some(codec) = publication.video
                && let Some((_, height)) = codec.keyframe_size(&packet.payload)
            {
                l.height = Some(height);
            }
        }
        if publication.paused {
            metrics.dropped(DropReason::Paused, 1);
            return;
        }
        if let Some((ext, voice)) = &mut publication.voice {
            if packet.header.extension
                && let Some(score) = packet
                    .header
                    .extensions
                    .iter()
                    .find(|e| e.id == *ext)
                    .and_then(|e| speakers::score(&e.payload))
            {
                voice.hear(score);
            }
            if !voice.selected() {
                metrics.dropped(DropReason::NotSpeaking, 1);
                return;
            }
        }
        // Without keyframe detection, a layer change happens at once.
        let switch_here = keyframe || publication.video.is_none();
        // Video is kept for retransmission requests; audio is not (Opus repairs itself).
        let video = publication.kind == RtpCodecKind::Video;
        let (mut sent, mut late, mut failed, mut hidden, mut waiting) = (0u64, 0, 0, 0, 0);
        let bytes = packet.payload.len();
        for d in &mut publication.downs {
            let Some(rewrite) = &d.rewrite else {
                continue;
            };
            if !d.shown {
                if layer == d.switch.target() {
                    hidden += 1;
                }
                continue;
            }
            let awaiting = d.switch.awaiting_keyframe();
            match d.switch.on_packet(layer, switch_here) {
                Verdict::Skip => {
                    // Another layer's packet is no loss; one this downstream waits for is.
                    if awaiting && layer == d.switch.target() {
                        waiting += 1;
                    }
                    continue;
                }
                // Another layer from here on: the subscriber's numbering continues.
                Verdict::Forward { switched: true } => d.restart = true,
                Verdict::Forward { switched: false } => {}
            }
            let Some(leg) = self.legs.get_mut(&d.leg) else {
                continue;
            };
            let Some(slot) = leg.slots.get_mut(&d.sender) else {
                continue;
            };
            let mut copy = packet.clone();
            if !rewrite.apply(&mut copy) {
                continue;
            }
            // Resumed after a pause (or the voice got a seat again, or another layer): no hole
            // where the withheld packets were.
            if d.resumes_seen != publication.resumes || d.restart {
                d.resumes_seen = publication.resumes;
                d.restart = false;
                slot.munger.mark_break();
            }
            let Some(m) =
                slot.munger
                    .forward(copy.header.sequence_number, copy.header.timestamp, now)
            else {
                late += 1;
                continue;
            };
            copy.header.sequence_number = m.sequence_number;
            copy.header.timestamp = m.timestamp;
            slot.packets = slot.packets.wrapping_add(1);
            slot.octets = slot
                .octets
                .wrapping_add(u32::try_from(bytes).unwrap_or(u32::MAX));
            // Marshalled and protected here, not through the sender's `write_rtp` and the
            // stack's queues: `rewrite` already matches this leg's negotiation (see `history`).
            let plain = &mut self.plain;
            let downlink = &mut leg.downlink;
            let written = std::panic::catch_unwind(AssertUnwindSafe(|| {
                plain.resize(copy.marshal_size(), 0);
                let n = copy.marshal_to(plain).ok()?;
                let wire = plain.get_mut(..n)?;
                // `apply` put the extension's placeholder first, so the stamp cannot miss.
                let transport = rewrite.transport_cc.and_then(|id| {
                    let number = downlink.stamp(n, now);
                    stamp_transport_seq(wire, id, number as u16).then_some(number)
                });
                let (datagram, to) = leg.pc.protect_rtp(wire, &copy.header).ok()?;
                Some((datagram, to, transport))
            }));
            match written {
                Ok(Some((datagram, to, transport))) => {
                    let datagram = datagram.freeze();
                    if video {
                        slot.history
                            .push(m.sequence_number, datagram.clone(), transport, now);
                    }
                    if video && leg.lose > 0 {
                        leg.lose -= 1;
                    } else {
                        leg.raw.push((datagram, to));
                    }
                    leg.note_peer(to);
                    leg.resends.earn();
                    sent += 1;
                }
                Ok(None) => failed += 1,
                Err(_) => {
                    failed += 1;
                    leg.failed = true;
                }
            }
            if !leg.dirty {
                leg.dirty = true;
                self.dirty.push(d.leg);
            }
        }
        if sent > 0 {
            metrics.forwarded(sent, bytes);
        }
        if late > 0 {
            metrics.dropped(DropReason::Late, late);
        }
        if hidden > 0 {
            metrics.dropped(DropReason::Hidden, hidden);
        }
        if waiting > 0 {
            metrics.dropped(DropReason::AwaitingKeyframe, waiting);
        }
        if failed > 0 {
            metrics.dropped(DropReason::WriteFailed, failed);
            self.problems.write_failed += failed;
        }
    }

    fn on_feedback(&mut self, from: LegId, item: Feedback) {
        match item {
            Feedback::Keyframe { media_ssrc } => {
                let Some((sender, source)) = self.legs.get(&from).and_then(|leg| {
                    leg.slots
                        .iter()
                        .find(|(_, s)| s.ssrc == media_ssrc)
                        .and_then(|(sender, s)| s.source.map(|p| (*sender, p)))
                }) else {
                    return;
                };
                let now = self.now;
                // A keyframe of the layer the subscriber gets (or is about to get).
                let allowed = self.pubs.get_mut(&source).and_then(|p| {
                    p.downs
                        .iter_mut()
                        .find(|d| d.leg == from && d.sender == sender)
                        .and_then(|d| {
                            let layer = d.switch.target();
                            d.may_ask(layer, now).then_some(layer)
                        })
                });
                if let Some(layer) = allowed {
                    self.request_layer_keyframe(source, layer);
                }
            }
            Feedback::SenderReport {
                ssrc,
                ntp_time,
                rtp_time,
                ..
            } => self.relay_sender_report(from, ssrc, ntp_time, rtp_time),
            Feedback::Loss {
                media_ssrc,
                fraction_lost,
            } => {
                // Only the videos it receives count (audio has its own loss and no layers).
                let Some(leg) = self.legs.get_mut(&from) else {
                    return;
                };
                let video = leg
                    .slots
                    .values()
                    .find(|s| s.ssrc == media_ssrc)
                    .and_then(|s| s.source)
                    .and_then(|p| self.pubs.get(&p))
                    .is_some_and(|p| p.kind == RtpCodecKind::Video);
                if video {
                    let (sum, n) = &mut leg.loss_reported;
                    *sum = sum.saturating_add(u32::from(fraction_lost));
                    *n = n.saturating_add(1);
                }
            }
            Feedback::Nack {
                media_ssrc,
                packet_id,
                lost_packets,
            } => {
                let now = self.now;
                let Some(leg) = self.legs.get_mut(&from) else {
                    return;
                };
                let Some(slot) = leg.slots.values_mut().find(|s| s.ssrc == media_ssrc) else {
                    return;
                };
                let Some(to) = leg.peer else {
                    return;
                };
                let (mut resent, mut refused) = (0, 0);
                for seq in history::nacked(packet_id, lost_packets) {
                    // Every packet asked for costs the allowance, found or not: asking for
                    // packets that are not there is no way around it.
                    if !leg.resends.spend() {
                        refused += 1;
                        continue;
                    }
                    if let Some((datagram, transport)) = slot.history.resend(seq, now) {
                        leg.raw.push((datagram, to));
                        if let Some(number) = transport {
                            leg.downlink.resent(number);
                        }
                        resent += 1;
                    }
                }
                if refused > 0 {
                    self.shared.metrics.resend_refused(refused);
                }
                if resent > 0 {
                    self.shared.metrics.resent(resent);
                    if !leg.dirty {
                        leg.dirty = true;
                        self.dirty.push(from);
                    }
                }
            }
        }
    }

    /// Passes a publisher's sender report on to each subscriber, in the subscriber's SSRC and
    /// timestamp numbering: the NTP ↔ RTP mapping is the publisher's, so receivers can line up
    /// its audio and video.
    /// With simulcast, each layer has its own clock; a subscriber gets the report of the layer
    /// it is forwarded now.
    fn relay_sender_report(&mut self, from: LegId, ssrc: u32, ntp_time: u64, rtp_time: u32) {
        let Some((pub_id, layer)) = self
            .legs
            .get(&from)
            .and_then(|l| l.routes.iter().find(|r| r.ssrc == ssrc))
            .and_then(|r| r.to)
        else {
            return;
        };
        let Some(publication) = self.pubs.get(&pub_id) else {
            return;
        };
        let now = self.now;
        let mut touched = Vec::new();
        for d in &publication.downs {
            let Some(rewrite) = &d.rewrite else {
                continue;
            };
            if d.switch.current() != Some(layer) {
                continue;
            }
            let Some(leg) = self.legs.get_mut(&d.leg) else {
                continue;
            };
            let Some(slot) = leg.slots.get(&d.sender) else {
                continue;
            };
            if slot.packets == 0 {
                continue;
            }
            let report = SenderReport {
                ssrc: rewrite.ssrc,
                ntp_time,
                rtp_time: slot.munger.out_timestamp(rtp_time),
                packet_count: slot.packets,
                octet_count: slot.octets,
                ..Default::default()
            };
            if let Some(mut sender) = leg.pc.rtp_sender(d.sender) {
                let _ = sender.write_rtcp(now, vec![Box::new(report)]);
                touched.push(d.leg);
            }
        }
        for id in touched {
            self.mark_dirty(id);
        }
    }

    /// Asks a publication's publisher for a keyframe of each layer a shown downstream wants
    /// (the lowest if none), each at most once per [`KEYFRAME_REQUEST_GAP`].
    pub fn request_keyframe(&mut self, id: PubId) {
        let Some(p) = self.pubs.get(&id) else {
            return;
        };
        let mut wanted = [false; layers::MAX_LAYERS];
        for d in p.downs.iter().filter(|d| d.shown) {
            if let Some(w) = wanted.get_mut(usize::from(d.switch.target())) {
                *w = true;
            }
        }
        if !wanted.contains(&true) {
            wanted[0] = true;
        }
        for (layer, _) in (0u8..).zip(wanted).filter(|(_, w)| *w) {
            self.request_layer_keyframe(id, layer);
        }
    }

    /// Asks a publication's publisher for a keyframe of one layer, at most once per
    /// [`KEYFRAME_REQUEST_GAP`] per layer.
    fn request_layer_keyframe(&mut self, id: PubId, layer: u8) {
        let now = Instant::now();
        let Some(p) = self.pubs.get_mut(&id) else {
            return;
        };
        if p.kind != RtpCodecKind::Video {
            return;
        }
        let Some(l) = p.layers.get_mut(usize::from(layer)) else {
            return;
        };
        let Some(ssrc) = l.ssrc else {
            return;
        };
        if !l.may_request(now) {
            return;
        }
        l.last_keyframe_request = Some(now);
        let (leg_id, receiver) = (p.leg, p.receiver);
        let Some(leg) = self.legs.get_mut(&leg_id) else {
            return;
        };
        if let Some(mut r) = leg.pc.rtp_receiver(receiver) {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: ssrc,
            };
            let _ = r.write_rtcp(now, vec![Box::new(pli)]);
        }
        self.mark_dirty(leg_id);
    }

    /// Every [`speakers::TICK`]: each room's speakers, and whether each video is watched.
    fn tick(&mut self) {
        let now = self.now;
        let mut announce: Vec<(Arc<str>, Vec<PubId>)> = Vec::new();
        let mut resumed: Vec<PubId> = Vec::new();
        for (room, selection) in &mut self.rooms {
            let mut voices: Vec<(PubId, &mut Voice)> = Vec::new();
            let mut before: Vec<(PubId, bool)> = Vec::new();
            for (id, p) in &mut self.pubs {
                if p.room != *room {
                    continue;
                }
                if let Some((_, voice)) = &mut p.voice {
                    before.push((*id, voice.selected()));
                    voices.push((*id, voice));
                }
            }
            if voices.is_empty() && selection.announced().is_empty() {
                continue;
            }
            let changed = selection.tick(&mut voices, now);
            for ((id, voice), (_, was)) in voices.iter().zip(&before) {
                if voice.selected() && !was {
                    resumed.push(*id);
                }
            }
            if let Some(list) = changed {
                announce.push((room.clone(), list));
            }
        }
        for id in resumed {
            if let Some(p) = self.pubs.get_mut(&id) {
                p.resumes += 1;
            }
        }
        for (room, list) in announce {
            let names = self.speaker_names(&list);
            for leg in self.legs.values().filter(|l| l.room == room) {
                let _ = leg.events.send(LegEvent::Speakers(names.clone()));
            }
        }
        // Videos nobody watches: their publisher stops sending them (after a grace period),
        // and starts again as soon as somebody does.
        let mut wanted_again = Vec::new();
        for (id, p) in &mut self.pubs {
            if p.kind != RtpCodecKind::Video || p.screen {
                continue;
            }
            let watched = p.downs.iter().any(|d| d.shown);
            let tell = if watched {
                p.unwatched_since = None;
                !p.watched
            } else {
                let since = *p.unwatched_since.get_or_insert(now);
                p.watched && now.saturating_duration_since(since) >= UNWATCHED_AFTER
            };
            if tell {
                p.watched = watched;
                if let Some(leg) = self.legs.get(&p.leg) {
                    let _ = leg.events.send(LegEvent::VideoWatched(watched));
                }
                if watched {
                    wanted_again.push(*id);
                }
            }
        }
        for id in wanted_again {
            self.request_keyframe(id);
        }
        for p in self.pubs.values_mut() {
            for l in &mut p.layers {
                l.rate.tick(now);
                if l.is_live(now) {
                    l.known_rate = l.rate.bits_per_second();
                }
            }
        }
        self.retarget();
    }

    /// Each simulcast downstream's target layer, and which layers each publisher should send.
    ///
    /// A downstream needs the layer its view asks for (`layers::ideal`), capped by its
    /// subscriber's bandwidth budget (`layers::allocate`, shared by all the videos it shows,
    /// large ones first; one-layer videos count as fixed costs). The budget is the tighter of
    /// what the delay of its congestion control feedback tells (`layers::DelayControl`) and
    /// what the loss its receiver reports tell (`layers::LossControl`). It targets that layer
    /// if it flows, else the nearest one that does (`layers::flowing`). A downstream whose
    /// target changed, or that still waits for its target's keyframe, asks for one (throttled per
    /// subscriber and per layer; while the layer's gap holds, it asks at a later tick rather
    /// than spend its own allowance on a request that would be refused). The layers nobody
    /// needs are paused at their publisher (`dynacast`).
    fn retarget(&mut self) {
        let now = self.now;
        // Per subscriber leg: the fixed video cost, and each simulcast downstream's demand.
        let mut wanted: IdMap<LegId, Wanted> = IdMap::default();
        let mut views: IdMap<PubId, Vec<LayerView>> = IdMap::default();
        for (id, p) in &self.pubs {
            if p.kind != RtpCodecKind::Video {
                continue;
            }
            let layer_views = p.layer_views(now);
            let mut rates = [0.0; layers::MAX_LAYERS];
            for (rate, l) in rates.iter_mut().zip(&p.layers) {
                *rate = l.known_rate;
            }
            for (i, d) in p.downs.iter().enumerate() {
                if !d.shown || d.rewrite.is_none() {
                    continue;
                }
                let entry = wanted.entry(d.leg).or_default();
                if p.layers.len() < 2 {
                    entry.fixed += rates[0];
                    continue;
                }
                let current = d.switch.current().unwrap_or(0);
                let want = layers::ideal(&layer_views, d.want);
                entry.receiving += rates.get(usize::from(current)).copied().unwrap_or(0.0);
                entry.wanting += rates.get(usize::from(want)).copied().unwrap_or(0.0);
                entry.demands.push((
                    *id,
                    i,
                    layers::Demand {
                        want,
                        rates,
                        large: d.want.large,
                    },
                ));
            }
            if p.layers.len() >= 2 {
                views.insert(*id, layer_views);
            }
        }
        let mut needs: Vec<(PubId, usize, u8)> = Vec::new();
        let mut cuts = 0;
        for (
            leg_id,
            Wanted {
                fixed,
                receiving,
                wanting,
                demands: list,
            },
        ) in wanted
        {
            let budget = self.legs.get_mut(&leg_id).and_then(|l| {
                l.receiving = fixed + receiving;
                // The loss reported since the last tick, against what it received then.
                let (sum, n) = std::mem::take(&mut l.loss_reported);
                if n > 0 {
                    let loss = f64::from(sum) / f64::from(n) / 256.0;
                    l.loss.report(loss, l.receiving, fixed + wanting, now);
                }
                // What the feedback since the last tick said, if any came.
                let queue = l.queue.take();
                if l.delay.report(queue, l.receiving, fixed + wanting, now) {
                    cuts += 1;
                    tracing::debug!(
                        participant = %l.participant,
                        receiving = l.receiving,
                        allowed = l.delay.allowed(),
                        "the queue toward a subscriber grows: its video budget is cut"
                    );
                }
                layers::tighter(l.loss.allowed(), l.delay.allowed())
            });
            let demands: Vec<layers::Demand> = list.iter().map(|(_, _, d)| *d).collect();
            let allowed = match budget {
                Some(budget) => layers::allocate(&demands, budget - fixed),
                None => demands.iter().map(|d| d.want).collect(),
            };
            needs.extend(
                list.iter()
                    .zip(allowed)
                    .map(|((id, i, _), layer)| (*id, *i, layer)),
            );
        }
        if cuts > 0 {
            self.shared.metrics.downlink_cut(cuts);
        }
        let mut needed: IdMap<PubId, [bool; layers::MAX_LAYERS]> = IdMap::default();
        let mut ask: Vec<(PubId, u8)> = Vec::new();
        for (id, i, need) in needs {
            if let Some(slot) = needed.entry(id).or_default().get_mut(usize::from(need)) {
                *slot = true;
            }
            let (Some(p), Some(layer_views)) = (self.pubs.get_mut(&id), views.get(&id)) else {
                continue;
            };
            let target = layers::flowing(layer_views, need);
            let open = p
                .layers
                .get(usize::from(target))
                .is_some_and(|l| l.may_request(now));
            let Some(d) = p.downs.get_mut(i) else {
                continue;
            };
            if d.switch.set_target(target) {
                d.switch_asked = None;
            }
            if !d.switch.needs_keyframe() {
                continue;
            }
            let due = d
                .switch_asked
                .is_none_or(|t| now.saturating_duration_since(t) >= SWITCH_ASK_AGAIN);
            if due && open && d.may_ask(target, now) {
                d.switch_asked = Some(now);
                ask.push((id, target));
            }
        }
        for (id, layer) in ask {
            self.request_layer_keyframe(id, layer);
        }
        self.dynacast(&needed);
    }

    /// Tells each simulcast publisher which layers somebody needs (`needed`, from
    /// [`Self::retarget`]; a publication missing from it is needed by nobody). Only for
    /// publications whose layers all have rids (the names the publisher knows them by).
    fn dynacast(&mut self, needed: &IdMap<PubId, [bool; layers::MAX_LAYERS]>) {
        let now = self.now;
        for (id, p) in &mut self.pubs {
            if p.kind != RtpCodecKind::Video || p.screen || p.layers.len() < 2 {
                continue;
            }
            let n = p.layers.len().min(layers::MAX_LAYERS);
            let need = needed.get(id).copied().unwrap_or_default();
            let Some(on) = p.dynacast.update(&need[..n], now) else {
                continue;
            };
            let rids: Option<Vec<String>> = p.layers[..n]
                .iter()
                .zip(on)
                .filter(|(_, on)| *on)
                .map(|(l, _)| l.rid.clone())
                .collect();
            if let (Some(rids), Some(leg)) = (rids, self.legs.get(&p.leg)) {
                let _ = leg.events.send(LegEvent::VideoLayers(rids.into()));
            }
        }
    }

    fn handle_timeouts(&mut self) {
        let now = self.now;
        let due: Vec<LegId> = self
            .legs
            .iter()
            .filter(|(_, l)| l.next_timeout.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if self.guard(id, |leg| leg.pc.handle_timeout(now)).is_some() {
                self.after_input(id);
            }
        }
    }

    /// Sends what the dirty connections produced, and refreshes their timeouts.
    fn flush(&mut self) {
        // Twice at most: keyframe requests made while flushing dirty their publishers again.
        for _ in 0..2 {
            if self.dirty.is_empty() {
                return;
            }
            self.flush_once();
        }
    }

    fn flush_once(&mut self) {
        // The dirty list is swapped with its spare, so neither loses its capacity.
        let mut dirty = std::mem::take(&mut self.flushing);
        std::mem::swap(&mut dirty, &mut self.dirty);
        let mut recovered = Vec::new();
        let mut moved = Vec::new();
        let mut failed = Vec::new();
        let mut out = std::mem::take(&mut self.outbox);
        // Who produced each datagram, as runs of (leg, count) in `out`'s order.
        let mut runs = std::mem::take(&mut self.runs);
        // ICE-TCP datagrams of the leg being drained (whether each is a forwarded copy), and how
        // many found no room.
        let mut tcp_out: Vec<(Bytes, SocketAddr, bool)> = Vec::new();
        let mut tcp_dropped = 0;
        for id in &dirty {
            let Some(leg) = self.legs.get_mut(id) else {
                continue;
            };
            leg.dirty = false;
            let before = out.len();
            let mut new_addrs = Vec::new();
            let drained = std::panic::catch_unwind(AssertUnwindSafe(|| {
                while let Some(datagram) = leg.pc.poll_write() {
                    let to = datagram.transport.peer_addr;
                    // SRTP and SRTCP go where the selected pair is (ICE's checks go to every
                    // candidate pair).
                    if demux::classify(&datagram.message) == demux::Kind::Rtp {
                        leg.note_peer(to);
                    }
                    if datagram.transport.transport_protocol == TransportProtocol::TCP {
                        tcp_out.push((datagram.message.freeze(), to, false));
                        continue;
                    }
                    if !self.by_addr.contains_key(&to) && !new_addrs.contains(&to) {
                        new_addrs.push(to);
                    }
                    out.push((datagram.message.freeze(), to));
                }
                leg.next_timeout = leg.pc.poll_timeout();
            }));
            if drained.is_err() {
                out.truncate(before);
                tcp_out.clear();
                failed.push(*id);
                continue;
            }
            if leg.tcp.is_empty() {
                out.append(&mut leg.raw);
            } else {
                // Forwarded copies go where ICE's selected pair is: a stream of this leg's, or
                // UDP.
                for (datagram, to) in leg.raw.drain(..) {
                    if leg.tcp.iter().any(|(a, _)| *a == to) {
                        tcp_out.push((datagram, to, true));
                    } else {
                        out.push((datagram, to));
                    }
                }
            }
            let (mut tcp_queued, mut tcp_lost) = (0, 0);
            for (datagram, to, forwarded) in tcp_out.drain(..) {
                let link = leg
                    .tcp
                    .iter()
                    .find(|(a, _)| *a == to)
                    .and_then(|(_, t)| Some(*t).zip(self.links.get_mut(t)));
                match link.map(|(token, link)| (token, link.stream.queue(&datagram))) {
                    Some((token, true)) => {
                        if !self.links_written.contains(&token) {
                            self.links_written.push(token);
                        }
                        tcp_queued += u64::from(forwarded);
                    }
                    // A full stream, or none toward that address (closed): lost, as on UDP. (A
                    // forwarded copy lost makes a keyframe due once sending works again; the
                    // stack's own checks toward a closed stream do not.)
                    _ => {
                        if forwarded {
                            tcp_lost += 1;
                        }
                        tcp_dropped += 1;
                    }
                }
            }
            if leg.sending_recovered(tcp_lost, tcp_queued) {
                recovered.push(*id);
            }
            if out.len() > before {
                runs.push((*id, out.len() - before));
            }
            if std::mem::take(&mut leg.moved) {
                moved.push(*id);
            }
            // Addresses we send to first (our own checks toward a candidate the client named):
            // their answers come back to this connection, unless a check that names another
            // connection claims the address.
            if !new_addrs.is_empty() {
                let key = LegKey {
                    worker: self.index,
                    leg: *id,
                };
                let mut routes = self
                    .shared
                    .routes
                    .write()
                    .unwrap_or_else(|p| p.into_inner());
                for addr in new_addrs {
                    let owner = *routes.addrs.entry(addr).or_insert(key);
                    if owner == key {
                        self.by_addr.insert(addr, *id);
                    }
                }
            }
        }
        let mut outcomes = std::mem::take(&mut self.outcomes);
        udp::send_all(&self.socket, &out, &mut outcomes);
        if tcp_dropped > 0 {
            self.count_drop(DropReason::SendBuffer, tcp_dropped);
        }
        let mut written = std::mem::take(&mut self.links_written);
        for token in written.drain(..) {
            self.write_link(token);
        }
        self.links_written = written;
        let mut at = 0;
        for (id, n) in runs.drain(..) {
            let results = outcomes.get(at..at + n).unwrap_or_default();
            at += n;
            let refused = results.iter().filter(|o| **o == Sent::Refused).count() as u64;
            let sent = n as u64 - refused;
            let Some(leg) = self.legs.get_mut(&id) else {
                continue;
            };
            if leg.sending_recovered(refused, sent) {
                recovered.push(id);
            }
            if refused > 0 {
                self.count_drop(DropReason::SendBuffer, refused);
            }
        }
        out.clear();
        outcomes.clear();
        dirty.clear();
        self.outbox = out;
        self.outcomes = outcomes;
        self.flushing = dirty;
        self.runs = runs;
        for id in failed {
            tracing::error!(leg = ?id, "a media connection panicked; it is closed");
            self.remove_leg(id, false);
        }
        for id in recovered {
            let sources: Vec<PubId> = self
                .legs
                .get(&id)
                .map(|l| l.sources().collect())
                .unwrap_or_default();
            for p in sources {
                self.request_keyframe(p);
            }
        }
        // A client on a new path: what it receives and what it sends both lost packets while
        // the old path died, so keyframes of both, now (its receivers would ask only once
        // their decoders give up on the gap, up to seconds later).
        for id in moved {
            self.shared.metrics.path_changed();
            let now = self.now;
            let Some(leg) = self.legs.get_mut(&id) else {
                continue;
            };
            tracing::debug!(leg = ?id, "a media connection's path moved to another address");
            if leg
                .moved_keyframes
                .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_ASK_PER_SUBSCRIBER)
            {
                continue;
            }
            leg.moved_keyframes = Some(now);
            let mut pubs: Vec<PubId> = leg.sources().collect();
            for (p, _) in leg.routes.iter().filter_map(|r| r.to) {
                if !pubs.contains(&p) {
                    pubs.push(p);
                }
            }
            for p in pubs {
                self.request_keyframe(p);
            }
        }
    }

    /// Forgets a leg, its routes, its publications, and its downstreams.
    fn remove_leg(&mut self, id: LegId, close: bool) {
        let Some(mut leg) = self.legs.remove(&id) else {
            return;
        };
        self.shared.metrics.legs_changed(-1);
        if close {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let _ = leg.pc.close();
                while let Some(out) = leg.pc.poll_write() {
                    // (Its streams close below; what it says on them is not waited for.)
                    if out.transport.transport_protocol == TransportProtocol::UDP {
                        let _ = self.socket.send_to(&out.message, out.transport.peer_addr);
                    }
                }
            }));
        }
        if !leg.failed {
            let _ = leg.events.send(LegEvent::Failed);
        }
        {
            let mut routes = self
                .shared
                .routes
                .write()
                .unwrap_or_else(|p| p.into_inner());
            routes.ufrags.remove(&leg.ufrag);
            routes.addrs.retain(|_, key| key.leg != id);
        }
        self.by_addr.retain(|_, leg| *leg != id);
        self.unpin_leg(id);
        for (_, token) in std::mem::take(&mut leg.tcp) {
            self.close_link(token, tcp::Closed::Gone);
        }
        self.pubs.retain(|_, p| p.leg != id);
        for p in self.pubs.values_mut() {
            p.downs.retain(|d| d.leg != id);
        }
        self.dirty.retain(|d| *d != id);
        if !self.legs.values().any(|l| l.room == leg.room) {
            self.rooms.remove(&leg.room);
        }
    }

    // --- What participant tasks ask for (through `WorkerHandle::post`/`call`) ---------------

    /// Starts sending `publication` on a subscriber's slot (forwarding waits for
    /// [`Self::set_rewrite`]).
    /// `view`: what the subscriber's view asks of it (`None`: hidden).
    pub fn add_down(
        &mut self,
        publication: PubId,
        leg: LegId,
        sender: RTCRtpSenderId,
        view: Option<Want>,
    ) {
        let now = self.now;
        let Some(p) = self.pubs.get_mut(&publication) else {
            return;
        };
        p.downs.retain(|d| !(d.leg == leg && d.sender == sender));
        let resumes = p.resumes;
        let video = p.video.is_some();
        let want = view.unwrap_or(Want::BEST);
        let target = layers::choose(&p.layer_views(now), want);
        p.downs.push(Down {
            leg,
            sender,
            rewrite: None,
            resumes_seen: resumes,
            shown: view.is_some() || p.kind != RtpCodecKind::Video,
            want,
            switch: Switch::new(target, video),
            switch_asked: None,
            restart: false,
            last_keyframe_ask: [None; layers::MAX_LAYERS],
        });
        if let Some(slot) = self
            .legs
            .get_mut(&leg)
            .and_then(|l| l.slots.get_mut(&sender))
        {
            slot.source = Some(publication);
        }
    }

    /// The subscriber's leg negotiated the slot: forwarding starts.
    pub fn set_rewrite(
        &mut self,
        publication: PubId,
        leg: LegId,
        sender: RTCRtpSenderId,
        rewrite: Rewrite,
    ) -> bool {
        let Some(d) = self.pubs.get_mut(&publication).and_then(|p| {
            p.downs
                .iter_mut()
                .find(|d| d.leg == leg && d.sender == sender)
        }) else {
            return false;
        };
        d.rewrite = Some(rewrite);
        true
    }

    /// Which of a subscriber's videos it shows, and how (`(publication, slot, view)`, `None`:
    /// hidden). A video shown again starts at a keyframe, asked for at once; one whose tile
    /// changed size moves to the layer that fits (and that the subscriber's bandwidth allows)
    /// at the target layer's next keyframe, asked for at once too.
    pub fn set_shown(&mut self, leg: LegId, views: Vec<(PubId, RTCRtpSenderId, Option<Want>)>) {
        let now = self.now;
        let mut ask = Vec::new();
        let mut retarget = false;
        for (publication, sender, view) in views {
            let Some(p) = self.pubs.get_mut(&publication) else {
                continue;
            };
            if p.kind != RtpCodecKind::Video {
                continue;
            }
            let video = p.video.is_some();
            let simulcast = p.layers.len() > 1;
            let Some(d) = p
                .downs
                .iter_mut()
                .find(|d| d.leg == leg && d.sender == sender)
            else {
                continue;
            };
            let shown_again = view.is_some() && !d.shown;
            d.shown = view.is_some();
            let Some(want) = view else {
                continue;
            };
            let resized = std::mem::replace(&mut d.want, want) != want;
            if shown_again {
                if video {
                    d.switch.await_keyframe();
                }
                d.restart = true;
                d.switch_asked = None;
            }
            if simulcast {
                // Layer choice and its keyframe request: `retarget`, below.
                retarget |= shown_again || resized;
            } else if shown_again && d.switch.needs_keyframe() && d.may_ask(0, now) {
                ask.push(publication);
            }
        }
        for publication in ask {
            self.request_layer_keyframe(publication, 0);
        }
        if retarget {
            self.retarget();
        }
        self.flush();
    }

    /// Stops sending `publication` on that slot.
    pub fn remove_down(&mut self, publication: PubId, leg: LegId, sender: RTCRtpSenderId) {
        if let Some(p) = self.pubs.get_mut(&publication) {
            p.downs.retain(|d| !(d.leg == leg && d.sender == sender));
        }
        if let Some(slot) = self
            .legs
            .get_mut(&leg)
            .and_then(|l| l.slots.get_mut(&sender))
            && slot.source == Some(publication)
        {
            slot.source = None;
        }
    }

    /// Stops or resumes forwarding a publication (a host mute). Resumed video starts at a
    /// fresh keyframe.
    pub fn set_paused(&mut self, publication: PubId, paused: bool) {
        let Some(p) = self.pubs.get_mut(&publication) else {
            return;
        };
        let was = std::mem::replace(&mut p.paused, paused);
        if was && !paused {
            p.resumes += 1;
            for l in &mut p.layers {
                l.last_keyframe_request = None;
            }
            if p.video.is_some() {
                for d in &mut p.downs {
                    d.switch.await_keyframe();
                }
            }
            self.request_keyframe(publication);
            self.flush();
        }
    }

    /// Forgets a publication (its publisher left, or replaced it).
    pub fn stop_publication(&mut self, publication: PubId) {
        if let Some(p) = self.pubs.remove(&publication) {
            for d in p.downs {
                if let Some(slot) = self
                    .legs
                    .get_mut(&d.leg)
                    .and_then(|l| l.slots.get_mut(&d.sender))
                    && slot.source == Some(publication)
                {
                    slot.source = None;
                }
            }
        }
    }

    /// Asks for a keyframe now (a new subscriber's picture) and sends the request.
    pub fn keyframe_now(&mut self, publication: PubId) {
        self.request_keyframe(publication);
        self.flush();
    }

    /// Asks again for the keyframe a subscriber's downstream waits for, if it still waits
    /// (a request or its keyframe can be lost while a new connection settles).
    pub fn keyframe_if_waiting(&mut self, publication: PubId, leg: LegId, sender: RTCRtpSenderId) {
        let target = self.pubs.get(&publication).and_then(|p| {
            p.downs
                .iter()
                .find(|d| d.leg == leg && d.sender == sender && d.shown)
                .filter(|d| d.switch.needs_keyframe())
                .map(|d| d.switch.target())
        });
        if let Some(layer) = target {
            self.request_layer_keyframe(publication, layer);
            self.flush();
        }
    }

    /// How many downstreams a publication has, and how many are forwarding (tests).
    pub fn downstreams(&self, publication: PubId) -> (usize, usize) {
        self.pubs.get(&publication).map_or((0, 0), |p| {
            (
                p.downs.len(),
                p.downs.iter().filter(|d| d.rewrite.is_some()).count(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unrouted(metrics: &Metrics) -> u64 {
        metrics
            .render(0, 0)
            .lines()
            .find(|l| l.starts_with("salon_rtp_dropped_packets") && l.contains("\"unrouted\""))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    }

    /// A worker with a long queue of jobs (participant tasks renegotiating faster than it runs
    /// them) still reads its socket between them: a queue drained to the end starved reading and
    /// ICE's timers, and every connection of a large room failed (`IceFailed`) during its setup.
    #[test]
    fn a_flood_of_jobs_does_not_starve_the_socket() {
        let metrics = Arc::new(Metrics::new());
        let engine = Engine::start(
            &EngineConfig {
                bind_ip: IpAddr::from([127, 0, 0, 1]),
                port: 0,
                tcp: TcpPort::Off,
                public_ip: None,
                workers: 1,
            },
            metrics.clone(),
        )
        .unwrap();
        let worker = engine.worker_for("room");
        // Four seconds of work, queued at once.
        for _ in 0..4000 {
            worker.post(|_| std::thread::sleep(Duration::from_millis(1)));
        }
        // A datagram for no connection: counted as unrouted once the socket is read.
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .send_to(b"not for anyone", engine.advertised())
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(1500);
        while unrouted(&metrics) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            unrouted(&metrics),
            1,
            "the socket was not read while jobs were queued"
        );
    }
}
