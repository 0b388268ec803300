//! `salon-bench`: N synthetic participants over real ICE/DTLS/SRTP against a salon-server on
//! loopback. Publishers send pre-built H.264-shaped video and Opus-shaped audio whose payloads
//! end in a send timestamp and sequence number; every participant counts what arrives. Nothing
//! is encoded or decoded. With `--e2ee` the room is end-to-end encrypted and every frame is
//! sealed with `salon-e2ee` before it is packetized and opened at every receiver (`e2ee.rs`).
//! See `docs/performance.md` for the figures and how to run it.
//!
//! `salon-bench composite [...]` instead measures the core's background compositing per camera
//! frame (`composite.rs`); no server is involved.

mod composite;
mod e2ee;
mod expect;
mod media;
mod report;
mod shape;
mod signal;
mod stats;

use std::io::{BufRead as _, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command as Process, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::sync::{oneshot, watch};

use media::{Command, MediaConfig, Person, Role, Shared, WorkerHandle, WorkerReport};
use shape::{AUDIO, VIDEO};

/// Load generator for salon-server: synthetic participants with real ICE/DTLS/SRTP on loopback.
#[derive(Debug, Clone, Parser)]
#[command(name = "salon-bench", version, about, long_about = None)]
pub struct Args {
    /// Start this salon-server binary on a free loopback port (with a fresh data folder) and
    /// measure it; it is stopped at the end.
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
    /// Extra argument for --server-bin (repeatable), e.g. --server-arg=--log=error.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    server_arg: Vec<String>,
    /// The running server to measure (its /proc entry), with --url.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Base URL of a running server (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Use this room (id or invite link) instead of creating one.
    #[arg(long)]
    room: Option<String>,

    /// Participants publishing video and audio.
    #[arg(long, default_value_t = 2)]
    video: usize,
    /// Participants publishing audio only.
    #[arg(long, default_value_t = 0)]
    audio: usize,
    /// Participants publishing nothing.
    #[arg(long, default_value_t = 10)]
    subscribers: usize,
    /// Extra pure subscribers that stop reading their socket when the measurement starts.
    #[arg(long, default_value_t = 0)]
    stalled: usize,
    /// The last N participants (of video, audio, subscribers, in that order) join one at a
    /// time after everyone else is flowing; each join is one measured join wave.
    #[arg(long, default_value_t = 0)]
    late: usize,

    /// Measurement window.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Pause between two initial joins.
    #[arg(long, default_value = "100ms", value_parser = parse_duration)]
    join_interval: Duration,
    /// Quiet time after setup before the window opens.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    settle: Duration,
    /// Longest wait for everyone's media to flow (per phase).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    setup_timeout: Duration,

    /// Video frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Packets per delta frame, "LO-HI" (uniform).
    #[arg(long, default_value = "1-5", value_parser = parse_range)]
    video_packets: (u32, u32),
    /// Video packet payload size in bytes.
    #[arg(long, default_value_t = 1100)]
    video_size: usize,
    /// A keyframe at least this often (and when the server asks with PLI/FIR).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    keyframe_interval: Duration,
    /// Packets per keyframe (after the SPS/PPS packet).
    #[arg(long, default_value_t = 15)]
    keyframe_packets: u32,
    /// Audio packets per second.
    #[arg(long, default_value_t = 50)]
    audio_pps: u32,
    /// Audio payload size in bytes.
    #[arg(long, default_value_t = 80)]
    audio_size: usize,
    /// The first K audio publishers speak (audio level −20 to −30 dBov with voice activity,
    /// --audio-pps); the others are quiet (level −127 dBov, no voice activity, one packet per
    /// 400 ms as Opus DTX). Default: everyone speaks. Every audio packet carries the RFC 6464
    /// audio-level extension; the server forwards only the voices it announces in `speakers`.
    #[arg(long, value_name = "K")]
    speakers: Option<usize>,
    /// Every participant sends a `view` of at most N other video publishers (a different,
    /// fixed rotation for each; the first large 1280x720, the rest thumbnails 320x180) and
    /// sends it again when someone joins or leaves. 0: no `view`, every video is forwarded.
    #[arg(long, value_name = "N", default_value_t = 0)]
    view_grid: usize,
    /// With --view-grid: every SECS, each participant's large tile moves to the next tile of
    /// its view (the others become thumbnails), so layers switch during the window. 0: never.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_duration)]
    view_churn: Duration,
    /// Video publishers send simulcast: three layers with rids q, h, f (lowest first, declared
    /// with `a=rid`/`a=simulcast:send`), each on its own SSRC with its own keyframes; q has a
    /// quarter of the packets per frame and a quarter of the size of --video-packets and
    /// --video-size, h half, f all of them.
    #[arg(long)]
    simulcast: bool,
    /// With --simulcast: how long each layer's packets carry the mid and rid header extensions
    /// after its first one (Chrome stops once the receiver acknowledges the SSRC, after about a
    /// second); 0: on every packet.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    rid_for: Duration,
    /// Receive buffer of each participant's UDP socket (capped by net.core.rmem_max).
    #[arg(long, default_value_t = 1 << 20)]
    recv_buffer: usize,
    /// Participants do not negotiate transport-wide congestion control (browsers do: the
    /// server then numbers every copy it forwards and reads their feedback about it).
    #[arg(long)]
    no_twcc: bool,
    /// Media threads of the bench.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// End-to-end encryption (ADR 0003): the room is created with `e2ee: true`, every
    /// participant joins with a commitment, publishers seal every frame (SFrame, per-codec
    /// clear prefix) before packetizing it and every receiver reassembles and opens what it
    /// gets. Keys are shared in-process (no key exchange): this measures the media path.
    #[arg(long)]
    e2ee: bool,

    /// Free text copied into the report (e.g. which server build this is).
    #[arg(long)]
    label: Option<String>,
    /// Print only the JSON object.
    #[arg(long)]
    json: bool,
    /// Exit non-zero when nothing was forwarded, a participant failed, loss exceeds
    /// --check-max-loss, a receiver got more audio streams in a second than
    /// --check-max-audio-streams, or fewer layers are paused than --check-min-layers-paused;
    /// with --e2ee also when a complete frame did not open (its tag, shape, key or replay
    /// window), a frame could not be sealed, or no frame of a kind sent opened.
    #[arg(long)]
    check: bool,
    /// Loss (0..1) above which --check fails.
    #[arg(long, default_value_t = 0.25)]
    check_max_loss: f64,
    /// With --check: fail when any receiver got packets of more than M audio streams within
    /// one second of the window (the server should forward at most 3 voices).
    #[arg(long, value_name = "M")]
    check_max_audio_streams: Option<u32>,
    /// With --check: fail when fewer than N simulcast layers are paused at the end (with views
    /// that need one layer of each video, dynacast pauses the others after 5 s).
    #[arg(long, value_name = "N")]
    check_min_layers_paused: Option<u64>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let v: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s or m)")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_range(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let lo: u32 = a.trim().parse().map_err(|_| format!("bad range {s:?}"))?;
    let hi: u32 = b.trim().parse().map_err(|_| format!("bad range {s:?}"))?;
    if lo == 0 || hi < lo || hi > 100 {
        return Err(format!(
            "range {s:?} must be LO-HI with 1 <= LO <= HI <= 100"
        ));
    }
    Ok((lo, hi))
}

/// A salon-server the bench started.
struct ServerProcess {
    child: Child,
    dir: PathBuf,
    log_bytes: Arc<AtomicU64>,
    log_head: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    fn start(args: &Args, bin: &PathBuf) -> Result<(Self, String), String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("salon-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut child = Process::new(bin)
            .args(["--bind", "127.0.0.1:0", "--udp-port", "0"])
            .args(["--max-connections-per-address", "1000"])
            .arg("--data-dir")
            .arg(&dir)
            .args(&args.server_arg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let log_bytes = Arc::new(AtomicU64::new(0));
        let log_head = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let bytes = log_bytes.clone();
            let head = log_head.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                let mut first = Vec::new();
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if first.len() < 16 * 1024 {
                        first.extend_from_slice(buf.get(..n).unwrap_or_default());
                        if let Ok(mut h) = head.lock() {
                            *h = String::from_utf8_lossy(&first)
                                .lines()
                                .take(20)
                                .map(str::to_owned)
                                .collect();
                        }
                    }
                }
            });
        }
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut sent = false;
                for line in std::io::BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                {
                    if !sent && let Some(url) = line.split("listening on ").nth(1) {
                        let _ = url_tx.send(url.trim().to_owned());
                        sent = true;
                    }
                }
            });
        }
        let mut server = Self {
            child,
            dir,
            log_bytes,
            log_head,
        };
        match url_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => Ok((server, url)),
            Err(_) => {
                let head = server.log_head();
                server.stop();
                Err(format!(
                    "{} did not say where it listens; its log:\n{}",
                    bin.display(),
                    head.join("\n")
                ))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_head(&self) -> Vec<String> {
        self.log_head.lock().map(|h| h.clone()).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("composite") {
        return composite::main(std::env::args().skip(1));
    }
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("salon-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("salon-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Whether participant `p` receives what it should from the participants `among`: every
/// video (every one until it sent a `view`, then those it shows: `views`), every voice the
/// server announced to it (`current`, per `publisher * 2 + kind`), and at least as many voices
/// as there are speakers among the others, up to 3 (2 when `p` speaks itself: the server
/// forwards the 3 loudest, and the announcement may not have reached `p` yet). `seen`: per
/// stream, whether a packet arrived.
fn flowing(
    roles: &[Role],
    p: usize,
    among: std::ops::Range<usize>,
    views: bool,
    current: &[bool],
    seen: impl Fn(usize) -> bool,
) -> bool {
    let mut speakers = 0;
    let mut voices = 0;
    for q in among.filter(|&q| q != p) {
        let role = roles[q];
        let video = if views {
            current.get(q * 2 + VIDEO).copied().unwrap_or(false)
        } else {
            role.video
        };
        let audio = role.audio && current.get(q * 2 + AUDIO).copied().unwrap_or(false);
        if (video && !seen(q * 2 + VIDEO)) || (audio && !seen(q * 2 + AUDIO)) {
            return false;
        }
        if role.audio && role.speaker {
            speakers += 1;
        }
        if role.audio && seen(q * 2 + AUDIO) {
            voices += 1;
        }
    }
    let floor = if roles[p].audio && roles[p].speaker {
        2
    } else {
        3
    };
    voices >= speakers.min(floor)
}

/// Simulcast layers per video.
fn layers(args: &Args) -> usize {
    if args.simulcast { 3 } else { 1 }
}

/// Who does what: video+audio publishers, audio publishers, subscribers, stalled subscribers,
/// in that order; the first `speakers` audio publishers speak.
fn make_roles(args: &Args) -> Vec<Role> {
    let role = |audio: bool, video: bool, stall: bool| Role {
        audio,
        video,
        stall,
        speaker: false,
    };
    let mut roles = Vec::new();
    roles.extend(std::iter::repeat_n(role(true, true, false), args.video));
    roles.extend(std::iter::repeat_n(role(true, false, false), args.audio));
    roles.extend(std::iter::repeat_n(
        role(false, false, false),
        args.subscribers,
    ));
    roles.extend(std::iter::repeat_n(role(false, false, true), args.stalled));
    let speakers = args.speakers.unwrap_or(usize::MAX);
    for r in roles.iter_mut().filter(|r| r.audio).take(speakers) {
        r.speaker = true;
    }
    roles
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let roles = make_roles(&args);
    let n = roles.len();
    if !(2..=1000).contains(&n) {
        return Err("need between 2 and 1000 participants".to_owned());
    }
    if args.late >= n {
        return Err("--late must leave at least one participant in the room".to_owned());
    }
    if !(args.url.starts_with("http://127.") || args.url.starts_with("http://localhost")) {
        return Err("--url must be a loopback http:// address".to_owned());
    }

    // The server: ours or the one named.
    let mut server = None;
    let (base, pid) = match (&args.server_bin, args.server_pid) {
        (Some(bin), _) => {
            let (s, url) = ServerProcess::start(&args, bin)?;
            let pid = s.pid();
            server = Some(s);
            (url, Some(pid))
        }
        (None, pid) => (args.url.trim_end_matches('/').to_owned(), pid),
    };
    let result = measure(&args, roles, &base, pid, server.as_ref()).await;
    let log_head = server.as_ref().map(ServerProcess::log_head);
    if let Some(s) = server.as_mut() {
        s.stop();
    }
    let mut report = result?;
    if let Some(head) = log_head
        && report.participants_failed > 0
    {
        report.server_log_head = head;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        report::print_table(&report);
        println!();
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    }
    if args.check {
        let problems = report.check_problems(
            args.check_max_loss,
            args.check_max_audio_streams,
            args.check_min_layers_paused,
        );
        if !problems.is_empty() {
            for p in problems {
                eprintln!("salon-bench --check: {p}");
            }
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn measure(
    args: &Args,
    roles: Vec<Role>,
    base: &str,
    pid: Option<u32>,
    server: Option<&ServerProcess>,
) -> Result<report::Report, String> {
    let n = roles.len();
    let started = Instant::now();
    let load_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let rss_idle = pid.and_then(stats::sample).map(|s| s.rss_kib).unwrap_or(0);
    let room = match &args.room {
        Some(link) => signal::room_id(link),
        None => signal::create_room(base, args.e2ee).await?,
    };
    let ws_url = format!(
        "{}/api/rooms/{room}/ws",
        base.replacen("http://", "ws://", 1)
    );

    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        run: rand::random(),
        stop: AtomicBool::new(false),
        window_start_ns: AtomicU64::new(u64::MAX),
        window_end_ns: AtomicU64::new(u64::MAX),
        stalled_ports: Mutex::new(Vec::new()),
        people: roles.iter().map(|r| Person::new(*r, roles.len())).collect(),
        view_grid: args.view_grid.min(salon_protocol::MAX_PARTICIPANTS),
        // The protocol asks for a few views per second at most.
        view_churn: (!args.view_churn.is_zero())
            .then(|| args.view_churn.max(Duration::from_millis(500))),
        keys: if args.e2ee {
            (0..roles.len())
                .map(|_| salon_e2ee::SenderKey::random(0))
                .collect()
        } else {
            Vec::new()
        },
    });
    let config = MediaConfig {
        fps: args.fps.clamp(1, 240),
        video_packets: args.video_packets,
        video_size: args.video_size.clamp(64, 1200),
        keyframe_interval: args.keyframe_interval.max(Duration::from_millis(100)),
        keyframe_packets: args.keyframe_packets.clamp(1, 200),
        audio_pps: args.audio_pps.clamp(1, 200),
        audio_size: args.audio_size.clamp(32, 1200),
        recv_buffer: args.recv_buffer,
        twcc: !args.no_twcc,
        layers: layers(args),
        rid_for: (!args.rid_for.is_zero()).then_some(args.rid_for),
        e2ee: args.e2ee,
    };
    let mut workers: Vec<WorkerHandle> = Vec::new();
    let mut threads = Vec::new();
    for t in 0..args.threads.clamp(1, 16) {
        let (h, j) = media::spawn(shared.clone(), config.clone(), format!("bench-media-{t}"))
            .map_err(|e| e.to_string())?;
        workers.push(h);
        threads.push(j);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let spawn = |idx: usize| {
        let worker = workers[idx % workers.len()].clone();
        let run = signal::participant(
            ws_url.clone(),
            idx,
            roles[idx],
            args.e2ee,
            shared.clone(),
            worker,
            stop_rx.clone(),
        );
        let started = Instant::now();
        tokio::spawn(async move {
            let result = run.await;
            // Said at once, not only in the final report: a bench that is stopped early (a test
            // that failed meanwhile) still shows why its participants left.
            if let Err(e) = &result {
                eprintln!(
                    "salon-bench: participant {idx} ended after {:.1} s: {e}",
                    started.elapsed().as_secs_f64()
                );
            }
            result
        })
    };

    // Phase 1: everyone but the late joiners, `join_interval` apart.
    let initial = n - args.late;
    for idx in 0..initial {
        tasks.push(spawn(idx));
        tokio::time::sleep(args.join_interval).await;
    }
    let flowing_now = |p: usize, among: std::ops::Range<usize>| {
        let person = &shared.people[p];
        if person.failed.load(Ordering::Relaxed) {
            return true;
        }
        if person.connected_ns.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let Ok(expect) = person.expect.lock() else {
            return false;
        };
        // With views, nothing is certain before its first `view` went out.
        let views = shared.view_grid > 0;
        if views && !expect.view_sent {
            return false;
        }
        flowing(&roles, p, among, views, &expect.current, |k| {
            person.has_seen(k)
        })
    };
    let all_flowing =
        |among: std::ops::Range<usize>| among.clone().all(|p| flowing_now(p, among.clone()));
    let deadline = Instant::now() + args.setup_timeout;
    while !all_flowing(0..initial) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let setup_s = started.elapsed().as_secs_f64();
    let setup_offers: Vec<u32> = shared
        .people
        .iter()
        .map(|p| p.offers.load(Ordering::Relaxed))
        .collect();

    // Phase 2: late joiners, one wave each.
    let mut waves = Vec::new();
    for idx in initial..n {
        let before: Vec<u32> = shared
            .people
            .iter()
            .map(|p| p.offers.load(Ordering::Relaxed))
            .collect();
        let t0 = Instant::now();
        tasks.push(spawn(idx));
        let deadline = t0 + args.setup_timeout;
        while !flowing_now(idx, 0..idx + 1) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Let the renegotiation settle: 1 s without a new offer anywhere (at most 10 s).
        let quiet_deadline = Instant::now() + Duration::from_secs(10);
        let mut last_total: u32 = 0;
        let mut last_change = Instant::now();
        while Instant::now() < quiet_deadline {
            let total: u32 = shared
                .people
                .iter()
                .map(|p| p.offers.load(Ordering::Relaxed))
                .sum();
            if total != last_total {
                last_total = total;
                last_change = Instant::now();
            } else if last_change.elapsed() >= Duration::from_secs(1) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let others: Vec<u32> = (0..idx)
            .map(|q| {
                shared.people[q]
                    .offers
                    .load(Ordering::Relaxed)
                    .saturating_sub(before[q])
            })
            .collect();
        waves.push(report::Wave {
            participant: idx,
            newcomer_offers: shared.people[idx].offers.load(Ordering::Relaxed),
            others_offers_max: others.iter().copied().max().unwrap_or(0),
            others_offers_mean: others.iter().map(|&o| f64::from(o)).sum::<f64>()
                / others.len().max(1) as f64,
            all_flowing_ms: None,
        });
    }

    // Phase 3: the measurement window. Its edges are set a little ahead of time, so that every
    // packet is on the same side of each edge for its sender and for its receivers.
    tokio::time::sleep(args.settle).await;
    const EDGE: Duration = Duration::from_millis(20);
    let edge_ns = u64::try_from(EDGE.as_nanos()).unwrap_or(0);
    let at = |ns: u64| tokio::time::Instant::from_std(shared.epoch + Duration::from_nanos(ns));
    let window_start = shared.now_ns() + edge_ns;
    shared
        .window_start_ns
        .store(window_start, Ordering::Relaxed);
    let stalled_ports = shared
        .stalled_ports
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    tokio::time::sleep_until(at(window_start)).await;
    let me = std::process::id();
    let server0 = pid.and_then(stats::sample);
    let bench0 = stats::sample(me);
    let machine0 = stats::machine_cpu();
    let server_drops0 = pid.map(media::process_udp_drops).unwrap_or(0);
    let counters0 = signal::counters(base).await.unwrap_or_default();
    let bench_drops0 = media::process_udp_drops(me);
    let stalled_drops0 = media::port_udp_drops(&stalled_ports);
    for (idx, role) in roles.iter().enumerate() {
        if role.stall {
            workers[idx % workers.len()].send(Command::Stall { idx });
        }
    }
    let window_end = window_start + u64::try_from(args.duration.as_nanos()).unwrap_or(u64::MAX);
    tokio::time::sleep_until(at(window_end.saturating_sub(edge_ns))).await;
    shared.window_end_ns.store(window_end, Ordering::Relaxed);
    tokio::time::sleep_until(at(window_end)).await;
    let window_s = window_end.saturating_sub(window_start) as f64 / 1e9;
    let server1 = pid.and_then(stats::sample);
    let bench1 = stats::sample(me);
    let machine1 = stats::machine_cpu();
    let server_drops1 = pid.map(media::process_udp_drops).unwrap_or(0);
    let counters1 = signal::counters(base).await.unwrap_or_default();
    let bench_drops1 = media::process_udp_drops(me);
    let stalled_drops1 = media::port_udp_drops(&stalled_ports);
    let stalled_drops = stalled_drops1.saturating_sub(stalled_drops0);
    // Packets still in flight at the end of the window.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut reports: Vec<WorkerReport> = Vec::new();
    for w in &workers {
        let (tx, rx) = oneshot::channel();
        w.send(Command::Finish { reply: tx });
        if let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(10), rx).await {
            reports.push(r);
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    stop_tx.send_replace(true);
    let mut errors = Vec::new();
    for (idx, t) in tasks.into_iter().enumerate() {
        let who = if roles[idx].stall {
            format!("participant {idx} (stalled)")
        } else {
            format!("participant {idx}")
        };
        match tokio::time::timeout(Duration::from_secs(3), t).await {
            Ok(Ok(Err(e))) => errors.push(format!("{who}: {e}")),
            Ok(Err(e)) => errors.push(format!("{who}: task: {e}")),
            _ => {}
        }
    }
    for j in threads {
        let _ = j.join();
    }

    let input = report::Input {
        args,
        roles: &roles,
        shared: &shared,
        workers: reports,
        setup_s,
        setup_offers,
        waves,
        window_s,
        server: server0.zip(server1),
        machine: machine0.zip(machine1),
        bench: bench0.zip(bench1),
        server_pid: pid,
        server_started: server.is_some(),
        server_log_bytes: server.map(|s| s.log_bytes.load(Ordering::Relaxed)),
        server_drops: server_drops1.saturating_sub(server_drops0),
        counters: (counters0, counters1),
        bench_drops: bench_drops1
            .saturating_sub(bench_drops0)
            .saturating_sub(stalled_drops),
        stalled_drops,
        window_start_ns: shared.window_start_ns.load(Ordering::Relaxed),
        rss_idle_kib: rss_idle,
        load_start,
        errors,
    };
    Ok(report::build(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_ranges_parse() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5h").is_err());
        assert_eq!(parse_range("1-5"), Ok((1, 5)));
        assert_eq!(parse_range("3"), Ok((3, 3)));
        assert!(parse_range("5-1").is_err());
    }

    fn role(audio: bool, video: bool, speaker: bool) -> Role {
        Role {
            audio,
            video,
            stall: false,
            speaker,
        }
    }

    #[test]
    fn flowing_wants_the_announced_streams_and_enough_voices() {
        // 0, 1: video+audio speakers; 2, 3: audio, quiet and speaking; 4: subscriber.
        let roles = [
            role(true, true, true),
            role(true, true, true),
            role(true, false, false),
            role(true, false, true),
            role(false, false, false),
        ];
        let none = [false; 10];
        let seen_all = |_| true;
        // Without views every video must flow, and 3 voices (the 3 speakers) must arrive.
        assert!(!flowing(&roles, 4, 0..5, false, &none, |k| k % 2 == AUDIO));
        assert!(flowing(&roles, 4, 0..5, false, &none, seen_all));
        // Three voices of any kind are enough (the server forwards the loudest).
        let not_3 = |k: usize| k != 3 * 2;
        assert!(flowing(&roles, 4, 0..5, false, &none, not_3));
        let two_voices = |k: usize| k % 2 == VIDEO || k == 0 || k == 2;
        assert!(!flowing(&roles, 4, 0..5, false, &none, two_voices));
        // Participant 0 speaks itself: 2 voices of the others are enough.
        let two = |k: usize| k == 2 || k == 3 || k == 2 * 2;
        assert!(flowing(&roles, 0, 0..5, false, &none, two));
        // A view showing only 1, and 3 announced as a speaker: 0's video is not needed, 1's
        // video and 3's voice are.
        let mut current = [false; 10];
        current[2 + VIDEO] = true;
        current[3 * 2 + AUDIO] = true;
        let seen = |k: usize| k == 2 + VIDEO || k == 6 || k == 2 || k == 0;
        assert!(flowing(&roles, 4, 0..5, true, &current, seen));
        let seen = |k: usize| k == 6 || k == 2 || k == 0;
        assert!(!flowing(&roles, 4, 0..5, true, &current, seen));
        let seen = |k: usize| k == 2 + VIDEO || k == 4 || k == 2 || k == 0;
        assert!(!flowing(&roles, 4, 0..5, true, &current, seen));
        // Only the first two joined yet.
        assert!(flowing(&roles, 0, 0..2, false, &none, |k| k == 2 || k == 3));
    }

    #[test]
    fn the_first_k_audio_publishers_speak() {
        let args = Args::parse_from([
            "salon-bench",
            "--video",
            "2",
            "--audio",
            "3",
            "--subscribers",
            "1",
            "--speakers",
            "3",
        ]);
        let roles = make_roles(&args);
        let speakers: Vec<bool> = roles.iter().map(|r| r.speaker).collect();
        assert_eq!(speakers, [true, true, true, false, false, false]);
        let args = Args::parse_from(["salon-bench", "--video", "1", "--audio", "2"]);
        assert!(
            make_roles(&args)
                .iter()
                .filter(|r| r.audio)
                .all(|r| r.speaker)
        );
    }
}
