//! Turns the counters into the figures: one JSON object and a table.

use crate::signal::Counters;
use std::sync::atomic::Ordering;

use serde::Serialize;

use crate::Args;
use crate::e2ee::KindStats;
use crate::expect::{self, SentLog, Tally};
use crate::media::{PeerReport, Role, Shared, WorkerReport};
use crate::shape::{self, AUDIO, VIDEO};
use crate::stats::{Histogram, ProcSample, quantile_ms};

/// One late joiner's wave.
#[derive(Debug, Clone, Serialize)]
pub struct Wave {
    pub participant: usize,
    /// Server offers the newcomer got before the wave settled.
    pub newcomer_offers: u32,
    /// Server offers each participant already inside got during the wave: most and mean.
    pub others_offers_max: u32,
    pub others_offers_mean: f64,
    /// Join → a packet from every stream that was flowing when it joined.
    pub all_flowing_ms: Option<f64>,
}

pub struct Input<'a> {
    pub args: &'a Args,
    pub roles: &'a [Role],
    pub shared: &'a Shared,
    pub workers: Vec<WorkerReport>,
    pub setup_s: f64,
    pub setup_offers: Vec<u32>,
    pub waves: Vec<Wave>,
    pub window_s: f64,
    pub server: Option<(ProcSample, ProcSample)>,
    /// Machine-wide (busy, steal) CPU seconds at the window's start and end.
    pub machine: Option<((f64, f64), (f64, f64))>,
    pub bench: Option<(ProcSample, ProcSample)>,
    pub server_pid: Option<u32>,
    pub server_started: bool,
    pub server_log_bytes: Option<u64>,
    pub server_drops: u64,
    /// The server's counters at the window's start and end (empty if it did not answer).
    pub counters: (Counters, Counters),
    pub bench_drops: u64,
    pub stalled_drops: u64,
    pub window_start_ns: u64,
    pub rss_idle_kib: u64,
    pub load_start: String,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub samples: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct KindFigures {
    /// Packets the publishers sent inside the window, per second.
    pub offered_pps: f64,
    /// Packets that should have arrived (each sent packet × its receivers).
    pub expected: u64,
    pub received: u64,
    pub loss: Option<f64>,
    /// Packets sent in the window × the other (non-stalled) participants that were not
    /// expected: audio the server did not announce, video outside a receiver's view, and the
    /// packets around each change (`expect::GRACE_NS`).
    pub not_expected: u64,
    /// Packets that arrived although sent outside every announced stretch (changes ± the
    /// grace): forwarded without being announced.
    pub unannounced_received: u64,
    /// Transit, send stamp → out of the bench's `poll_read` (ms).
    pub transit_ms: Quantiles,
}

/// Over every receiver (stalled ones excepted) and every whole second of the window: how many
/// distinct streams of one kind delivered packets in that second.
#[derive(Debug, Clone, Serialize, Default)]
pub struct StreamsPerSecond {
    pub max: u32,
    pub mean: f64,
}

/// A rate per participant per minute of window: mean and most.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PerMinute {
    pub mean: Option<f64>,
    pub max: Option<f64>,
}

/// One simulcast layer's figures (with a single layer: the video as a whole).
#[derive(Debug, Clone, Serialize, Default)]
pub struct LayerFigures {
    /// Its rid (empty without simulcast).
    pub rid: String,
    /// Payload kbit/s of one video received at this layer: its payload bytes that arrived in the
    /// window over the whole seconds in which they arrived.
    pub received_kbps_per_stream: Option<f64>,
    /// Payload kbit/s received at this layer per receiver (mean over the non-stalled ones).
    pub received_kbps_per_receiver: f64,
    /// (receiver, video, second of the window) in which this layer arrived.
    pub stream_seconds: u64,
    /// Videos a receiver got at this layer at the end (of those still in its view).
    pub streams_at_end: u64,
    /// Keyframe requests (PLI/FIR) naming this layer's SSRC, per video publisher per minute.
    pub keyframe_requests_per_publisher_min: PerMinute,
}

fn per_minute(counts: &[u64], window_s: f64) -> PerMinute {
    let minutes = window_s.max(1e-9) / 60.0;
    if counts.is_empty() {
        return PerMinute::default();
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    PerMinute {
        mean: Some(counts.iter().sum::<u64>() as f64 / counts.len() as f64 / minutes),
        max: Some(max as f64 / minutes),
    }
}

/// `--e2ee`, one kind (over the whole run, not only the window: every frame counts).
#[derive(Debug, Clone, Serialize, Default)]
pub struct E2eeKind {
    pub frames_sealed: u64,
    /// Frames that could not be sealed (never sent).
    pub seal_errors: u64,
    /// Frames the receivers opened (each receiver opens its own copy).
    pub frames_opened: u64,
    /// Complete frames that did not open, in all and by reason: the tag did not verify, not
    /// `P || SFrame`, a KID without a key, refused by the replay window (a CTR seen before or
    /// more than 128 below the highest).
    pub frames_failed: u64,
    pub failed_authentication: u64,
    pub failed_malformed: u64,
    pub failed_unknown_key: u64,
    pub failed_replay: u64,
    /// Video frames with a packet missing (loss, a stream that began mid-frame): not opened,
    /// not failures.
    pub frames_incomplete: u64,
    /// RTP packets sent, and how many more than the plaintext frames needed.
    pub packets_sent: u64,
    pub extra_packets: u64,
    /// Payload bytes added over the plaintext, per packet sent and per frame, and as a share
    /// of the plaintext payload.
    pub bytes_added_per_packet: Option<f64>,
    pub bytes_added_per_frame: Option<f64>,
    pub payload_overhead: Option<f64>,
    /// Plaintext frame size.
    pub plain_bytes_per_frame: Option<f64>,
    /// Client crypto time per frame (µs): sealing (with the H.264 split and escaping), opening
    /// (with the unescaping and the replay window). Reassembly and packetizing not included.
    pub seal_us_per_frame: Option<f64>,
    pub open_us_per_frame: Option<f64>,
}

impl E2eeKind {
    fn of(s: &KindStats) -> Self {
        let per = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let added = s.sealed_bytes.saturating_sub(s.plain_bytes);
        Self {
            frames_sealed: s.frames_sealed,
            seal_errors: s.seal_errors,
            frames_opened: s.frames_opened,
            frames_failed: s.frames_failed(),
            failed_authentication: s.failed_authentication,
            failed_malformed: s.failed_malformed,
            failed_unknown_key: s.failed_unknown_key,
            failed_replay: s.failed_replay,
            frames_incomplete: s.incomplete,
            packets_sent: s.packets,
            extra_packets: s.packets.saturating_sub(s.plain_packets),
            bytes_added_per_packet: per(added, s.packets),
            bytes_added_per_frame: per(
                s.sealed_frame_bytes.saturating_sub(s.plain_frame_bytes),
                s.frames_sealed,
            ),
            payload_overhead: per(added, s.plain_bytes),
            plain_bytes_per_frame: per(s.plain_frame_bytes, s.frames_sealed),
            seal_us_per_frame: per(s.seal_ns, s.frames_sealed).map(|ns| ns / 1000.0),
            open_us_per_frame: per(s.open_ns, s.frames_opened).map(|ns| ns / 1000.0),
        }
    }
}

/// `--e2ee`: whether frames were sealed, and what it cost.
#[derive(Debug, Clone, Serialize, Default)]
pub struct E2eeFigures {
    pub enabled: bool,
    pub frames_sealed: u64,
    pub frames_opened: u64,
    pub frames_failed: u64,
    pub frames_incomplete: u64,
    pub audio: E2eeKind,
    pub video: E2eeKind,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub label: Option<String>,
    pub date_utc: String,
    pub machine: String,
    pub cpus: usize,
    pub loadavg_at_start: String,
    pub participants: usize,
    pub video_publishers: usize,
    pub audio_publishers: usize,
    pub subscribers: usize,
    pub stalled: usize,
    pub late: usize,
    /// Audio publishers that speak (`--speakers`); the others are quiet (DTX).
    pub speakers: usize,
    /// `--view-grid` (0: no `view`).
    pub view_grid: usize,
    /// Simulcast layers per video (1: none), and `--view-churn` in seconds (0: none).
    pub layers: usize,
    pub view_churn_s: f64,
    pub window_s: f64,
    pub setup_s: f64,

    pub forwarded_packets: u64,
    pub forwarded_pps: f64,
    pub forwarded_per_server_cpu_s: Option<f64>,
    pub server_us_per_forwarded: Option<f64>,
    pub audio: KindFigures,
    pub video: KindFigures,
    pub loss: Option<f64>,
    /// `loss` minus the packets the kernel dropped at the bench's own (non-stalled) sockets in
    /// the window: roughly the server's share when the bench itself fell behind.
    pub loss_without_bench_drops: Option<f64>,
    pub transit_ms: Quantiles,
    /// Streams (receiver, publisher, kind) announced to the receiver at the end (or forwarded
    /// to all) that never delivered a packet.
    pub streams_never_flowing: u64,
    /// Distinct audio and video streams each receiver got packets of, per second.
    pub audio_streams_per_s: StreamsPerSecond,
    pub video_streams_per_s: StreamsPerSecond,
    /// Whole seconds of the window those are counted over.
    pub stream_count_windows: usize,
    /// Keyframe requests (PLI/FIR) each video publisher got, per minute of window.
    pub keyframe_requests_per_publisher_min: PerMinute,
    /// Changes of the layer a receiver got of a video (summed over the videos it got) that
    /// arrived in the window: per receiver per minute, and in all.
    pub layer_switches_per_subscriber_min: PerMinute,
    pub layer_switches: u64,
    /// A `view` that made a tile large (sent inside the window) → the first packet of that
    /// video's top layer at the receiver (0 when it was flowing already).
    pub grow_to_high_layer_ms: Quantiles,
    /// Tiles made large in the window whose top layer had not arrived when they shrank again
    /// or the run ended.
    pub grow_to_high_layer_missed: u64,
    /// Per layer, lowest first: received bitrate, keyframe requests.
    pub video_layers: Vec<LayerFigures>,
    /// `speakers` messages each participant got, per minute of window.
    pub speakers_msgs_per_participant_min: PerMinute,
    /// `speakers` messages in all (the whole run).
    pub speakers_msgs_total: u64,
    /// `view` messages the participants sent (the whole run).
    pub views_sent: u64,
    /// `video_watched` messages received, `watched: false` and `watched: true` (the whole run),
    /// and video publishers paused at the end.
    pub video_unwatched_msgs: u64,
    pub video_watched_msgs: u64,
    pub video_paused_at_end: u64,
    /// `video_layers` messages received (the whole run), and simulcast layers paused at the
    /// end (dynacast).
    pub video_layers_msgs: u64,
    pub layers_paused_at_end: u64,
    /// Audio packets received (the whole run) that carried the audio-level extension, and of
    /// those with voice activity; audio publishers whose server answer lacked the extension.
    pub audio_level_received: u64,
    pub audio_voice_received: u64,
    pub audio_level_not_negotiated: u64,
    /// Packets the stalled subscribers got inside the window.
    pub stalled_received: u64,
    /// Stalled subscribers the server dropped (ICE failure) before the end.
    pub stalled_dropped: u64,
    /// Seconds from the stall to the server dropping each (the latest one).
    pub stalled_dropped_after_s: Option<f64>,
    /// Packets the kernel dropped at the stalled subscribers' sockets in the window.
    pub stalled_socket_drops: u64,

    pub join_first_media_ms: Quantiles,
    pub join_all_flowing_ms: Quantiles,
    pub joins_never_all_flowing: u64,
    pub participants_failed: u64,
    pub server_offers_setup_total: u64,
    pub server_offers_per_participant: f64,
    pub server_offers_per_participant_max: u32,
    pub late_waves: Vec<Wave>,

    pub server_pid: Option<u32>,
    pub server_started_by_bench: bool,
    pub server_cpu_per_s: Option<f64>,
    pub server_runq_wait_per_s: Option<f64>,
    pub server_rss_idle_kib: u64,
    pub server_rss_kib: Option<u64>,
    pub server_rss_per_participant_kib: Option<f64>,
    pub server_socket_drops: u64,
    pub server_log_bytes: Option<u64>,
    /// From the server's counters: times a growing queue toward a subscriber cut its video
    /// budget, before the window (during the joins) and in it; video packets sent again on
    /// subscribers' requests in the window.
    pub server_delay_cuts_before: Option<u64>,
    pub server_delay_cuts: Option<u64>,
    pub server_resent: Option<u64>,

    /// CPUs busy machine-wide during the window (all processes, the kernel included), and the
    /// share of that stolen by the hypervisor.
    pub machine_busy_cpus: Option<f64>,
    pub machine_steal_cpus: Option<f64>,
    pub bench_cpu_per_s: Option<f64>,
    pub bench_runq_wait_per_s: Option<f64>,
    pub bench_us_per_packet: Option<f64>,
    pub bench_socket_drops: u64,
    pub bench_send_drops: u64,
    pub bench_write_errors: u64,
    pub bench_lag_skips: u64,
    pub bench_pc_errors: u64,
    pub unknown_packets: u64,
    pub keyframe_requests: u64,
    /// Keyframe requests that named none of the publisher's video SSRCs.
    pub keyframe_requests_unknown: u64,
    /// End-to-end encryption (`--e2ee`): frames sealed, opened, failed; bytes and time added.
    pub e2ee: E2eeFigures,
    pub errors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_log_head: Vec<String>,
}

/// A join's "all flowing" counts the streams announced to the newcomer within this long of
/// its join (its first `view`, the first `speakers` it gets) and for at least as long, not
/// later changes.
const JOIN_HORIZON_NS: u64 = 5_000_000_000;

fn ms(us: Option<u64>) -> Option<f64> {
    us.map(|u| u as f64 / 1000.0)
}

fn quantiles_of(h: &Histogram) -> Quantiles {
    Quantiles {
        p50: ms(h.quantile_us(0.5)),
        p99: ms(h.quantile_us(0.99)),
        max: ms(h.quantile_us(1.0)),
        samples: h.count(),
    }
}

fn quantiles_ms(mut v: Vec<f64>) -> Quantiles {
    Quantiles {
        p50: quantile_ms(&mut v, 0.5),
        p99: quantile_ms(&mut v, 0.99),
        max: quantile_ms(&mut v, 1.0),
        samples: v.len() as u64,
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| 1.0 - a as f64 / b as f64)
}

fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn machine_name() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, Linux {}", kernel.trim())
}

pub fn build(input: Input<'_>) -> Report {
    let Input {
        args,
        roles,
        shared,
        workers,
        setup_s,
        setup_offers,
        mut waves,
        window_s,
        server,
        machine,
        bench,
        server_pid,
        server_started,
        server_log_bytes,
        server_drops,
        counters,
        bench_drops,
        stalled_drops,
        window_start_ns,
        rss_idle_kib,
        load_start,
        errors,
    } = input;
    let n = roles.len();
    let mut peers: Vec<Option<PeerReport>> = (0..n).map(|_| None).collect();
    let mut latency = [Histogram::default(), Histogram::default()];
    let mut crypto = [KindStats::default(), KindStats::default()];
    let mut r = Report {
        label: args.label.clone(),
        date_utc: utc_now(),
        machine: machine_name(),
        cpus: std::thread::available_parallelism().map_or(0, |c| c.get()),
        loadavg_at_start: load_start.trim().to_owned(),
        participants: n,
        video_publishers: args.video,
        audio_publishers: args.audio,
        subscribers: args.subscribers,
        stalled: args.stalled,
        late: args.late,
        speakers: roles.iter().filter(|r| r.audio && r.speaker).count(),
        view_grid: shared.view_grid,
        layers: crate::layers(args),
        view_churn_s: shared.view_churn.map_or(0.0, |d| d.as_secs_f64()),
        window_s,
        setup_s,
        server_pid,
        server_started_by_bench: server_started,
        server_rss_idle_kib: rss_idle_kib,
        server_socket_drops: server_drops,
        server_log_bytes,
        server_delay_cuts_before: counter(&counters.0, "salon_downlink_delay_cuts"),
        server_delay_cuts: window_count(&counters, "salon_downlink_delay_cuts"),
        server_resent: window_count(&counters, "salon_rtp_resent_packets"),
        bench_socket_drops: bench_drops,
        stalled_socket_drops: stalled_drops,
        errors: errors.into_iter().take(10).collect(),
        late_waves: Vec::new(),
        ..Report::default()
    };
    for w in workers {
        for peer in w.peers {
            let idx = peer.idx;
            if let Some(slot) = peers.get_mut(idx) {
                *slot = Some(peer);
            }
        }
        latency[AUDIO].merge(&w.latency[AUDIO]);
        latency[VIDEO].merge(&w.latency[VIDEO]);
        crypto[AUDIO].merge(&w.e2ee[AUDIO]);
        crypto[VIDEO].merge(&w.e2ee[VIDEO]);
        r.unknown_packets += w.unknown;
        r.bench_write_errors += w.write_errors;
        r.bench_send_drops += w.send_drops;
        r.bench_pc_errors += w.pc_errors;
        r.bench_lag_skips += w.lag_skips;
        r.keyframe_requests += w.keyframe_requests;
        r.keyframe_requests_unknown += w.keyframe_requests_unknown;
    }

    let (audio, video) = (E2eeKind::of(&crypto[AUDIO]), E2eeKind::of(&crypto[VIDEO]));
    r.e2ee = E2eeFigures {
        enabled: args.e2ee,
        frames_sealed: audio.frames_sealed + video.frames_sealed,
        frames_opened: audio.frames_opened + video.frames_opened,
        frames_failed: audio.frames_failed + video.frames_failed,
        frames_incomplete: audio.frames_incomplete + video.frames_incomplete,
        audio,
        video,
    };

    // Loss: every packet a publisher sent in the window while the receiver was told it gets
    // that stream (every video without views), for each receiver but itself.
    let sent =
        |q: usize, kind: usize| shared.people[q].sent_in_window[kind].load(Ordering::Relaxed);
    let no_log = SentLog::default();
    let window_ns = (
        window_start_ns,
        window_start_ns.saturating_add((window_s * 1e9) as u64),
    );
    let keyframe_ns = u64::try_from(args.keyframe_interval.as_nanos()).unwrap_or(u64::MAX);
    // Per receiver, per stream: the stretches it was announced in.
    let announced: Vec<Vec<expect::Stretches>> = (0..n)
        .map(|p| {
            let expect = shared.people[p].expect.lock();
            let changes = expect.as_ref().map(|e| &e.changes);
            (0..n * 2)
                .map(|key| {
                    let all_video = key % 2 == VIDEO && shared.view_grid == 0;
                    let c = changes
                        .ok()
                        .and_then(|c| c.get(key))
                        .map_or(&[][..], Vec::as_slice);
                    expect::intervals(c, all_video)
                })
                .collect()
        })
        .collect();
    let mut tallies = [Tally::default(); 2];
    let mut offered_to_receivers = [0u64; 2];
    for (p, role) in roles.iter().enumerate() {
        let streams = peers[p].as_ref().map_or(&[][..], |r| r.rx.as_slice());
        for (q, qrole) in roles.iter().enumerate() {
            if q == p {
                continue;
            }
            for kind in [AUDIO, VIDEO] {
                if !qrole.sends(kind) {
                    continue;
                }
                let key = q * 2 + kind;
                let stretches = &announced[p][key];
                let got = streams.get(key).cloned().unwrap_or_default();
                if got.first_ns == 0 && stretches.last().is_some_and(|&(_, end)| end.is_none()) {
                    r.streams_never_flowing += 1;
                }
                if role.stall {
                    r.stalled_received += got.in_window;
                    continue;
                }
                let logs = peers[q]
                    .as_ref()
                    .map_or(&[][..], |r| r.sent[kind].as_slice());
                let cap = expect::start_cap(kind == VIDEO, keyframe_ns);
                let t = if kind == VIDEO {
                    // One layer at a time, whichever the receiver got.
                    let segments = &got.segments;
                    expect::tally_layers(stretches, segments, logs, &got.runs, window_ns, cap)
                } else {
                    let log = logs.first().unwrap_or(&no_log);
                    expect::tally(stretches, log, &got.runs[0], window_ns, cap)
                };
                tallies[kind].expected += t.expected;
                tallies[kind].received += t.received;
                tallies[kind].unannounced += t.unannounced;
                offered_to_receivers[kind] += sent(q, kind);
            }
        }
    }
    let expected = [tallies[AUDIO].expected, tallies[VIDEO].expected];
    let received = [tallies[AUDIO].received, tallies[VIDEO].received];
    let window = window_s.max(1e-9);
    for (kind, fig) in [(AUDIO, &mut r.audio), (VIDEO, &mut r.video)] {
        fig.offered_pps = (0..n).map(|q| sent(q, kind)).sum::<u64>() as f64 / window;
        fig.expected = expected[kind];
        fig.received = received[kind];
        fig.loss = ratio(received[kind], expected[kind]);
        fig.not_expected = offered_to_receivers[kind].saturating_sub(expected[kind]);
        fig.unannounced_received = tallies[kind].unannounced;
        fig.transit_ms = quantiles_of(&latency[kind]);
    }
    r.loss = ratio(received[0] + received[1], expected[0] + expected[1]);
    let want = expected[0] + expected[1];
    if want > 0 {
        let lost = want.saturating_sub(received[0] + received[1]);
        r.loss_without_bench_drops = Some(lost.saturating_sub(bench_drops) as f64 / want as f64);
    }
    let mut all = latency[AUDIO].clone();
    all.merge(&latency[VIDEO]);
    r.transit_ms = quantiles_of(&all);
    r.forwarded_packets = all.count();
    r.forwarded_pps = r.forwarded_packets as f64 / window;

    if let Some((a, b)) = server {
        let cpu = b.cpu_s - a.cpu_s;
        r.server_cpu_per_s = Some(cpu / window);
        r.server_runq_wait_per_s = Some((b.runq_wait_s - a.runq_wait_s) / window);
        if cpu > 0.0 {
            r.forwarded_per_server_cpu_s = Some(r.forwarded_packets as f64 / cpu);
        }
        if r.forwarded_packets > 0 {
            r.server_us_per_forwarded = Some(cpu * 1e6 / r.forwarded_packets as f64);
        }
        r.server_rss_kib = Some(a.rss_kib);
        r.server_rss_per_participant_kib =
            Some(a.rss_kib.saturating_sub(rss_idle_kib) as f64 / n as f64);
    }
    if let Some(((busy0, steal0), (busy1, steal1))) = machine {
        r.machine_busy_cpus = Some((busy1 - busy0) / window);
        r.machine_steal_cpus = Some((steal1 - steal0) / window);
    }
    if let Some((a, b)) = bench {
        let cpu = b.cpu_s - a.cpu_s;
        r.bench_cpu_per_s = Some(cpu / window);
        r.bench_runq_wait_per_s = Some((b.runq_wait_s - a.runq_wait_s) / window);
        let sent_total: u64 = (0..n).map(|q| sent(q, AUDIO) + sent(q, VIDEO)).sum();
        let packets = sent_total + r.forwarded_packets;
        if packets > 0 {
            r.bench_us_per_packet = Some(cpu * 1e6 / packets as f64);
        }
    }

    // Joins: measured against the streams that were already flowing when each one joined.
    let mut first_media = Vec::new();
    let mut all_flowing = Vec::new();
    let mut all_flowing_of = vec![None; n];
    for p in 0..n {
        let person = &shared.people[p];
        if person.failed.load(Ordering::Relaxed) {
            if roles[p].stall {
                r.stalled_dropped += 1;
                let at = person.failed_ns.load(Ordering::Relaxed);
                let after = at.saturating_sub(window_start_ns) as f64 / 1e9;
                r.stalled_dropped_after_s = Some(
                    r.stalled_dropped_after_s
                        .map_or(after, |a: f64| a.max(after)),
                );
            } else {
                r.participants_failed += 1;
            }
        }
        let join = person.join_ns.load(Ordering::Relaxed);
        if join == 0 {
            continue;
        }
        let streams = peers[p].as_ref().map_or(&[][..], |r| r.rx.as_slice());
        let mut first: Option<u64> = None;
        let mut last: Option<u64> = Some(0);
        let mut any = false;
        for (q, qrole) in roles.iter().enumerate() {
            if q == p {
                continue;
            }
            for kind in [AUDIO, VIDEO] {
                let began = shared.people[q].sending_ns[kind].load(Ordering::Relaxed);
                if !qrole.sends(kind) || began == 0 || began >= join {
                    continue;
                }
                // Only what it was told it gets soon after joining, and for long enough (a
                // video shown for a moment while everyone joins may never arrive).
                let told = announced[p][q * 2 + kind].first().is_some_and(|&(a, b)| {
                    a <= join.saturating_add(JOIN_HORIZON_NS)
                        && b.is_none_or(|b| b.saturating_sub(a) >= JOIN_HORIZON_NS)
                });
                if !told {
                    continue;
                }
                any = true;
                let at = streams.get(q * 2 + kind).map_or(0, |s| s.first_ns);
                if at == 0 {
                    last = None;
                } else {
                    first = Some(first.map_or(at, |f| f.min(at)));
                    last = last.map(|l| l.max(at));
                }
            }
        }
        if !any {
            continue;
        }
        if let Some(f) = first {
            first_media.push(f.saturating_sub(join) as f64 / 1e6);
        }
        match last {
            Some(l) => {
                let v = l.saturating_sub(join) as f64 / 1e6;
                all_flowing.push(v);
                all_flowing_of[p] = Some(v);
            }
            None => r.joins_never_all_flowing += 1,
        }
    }
    r.join_first_media_ms = quantiles_ms(first_media);
    r.join_all_flowing_ms = quantiles_ms(all_flowing);
    for w in &mut waves {
        w.all_flowing_ms = all_flowing_of.get(w.participant).copied().flatten();
    }
    r.late_waves = waves;

    // Streams per second, keyframe requests, speakers messages, views.
    let whole_seconds = window_s.floor() as usize;
    r.stream_count_windows = whole_seconds;
    let counted: Vec<&[[u32; 2]]> = roles
        .iter()
        .enumerate()
        .filter(|(_, role)| !role.stall)
        .map(|(p, _)| peers[p].as_ref().map_or(&[][..], |r| r.windows.as_slice()))
        .collect();
    for (kind, out) in [
        (AUDIO, &mut r.audio_streams_per_s),
        (VIDEO, &mut r.video_streams_per_s),
    ] {
        let (max, mean) = expect::window_stats(&counted, kind, whole_seconds);
        *out = StreamsPerSecond { max, mean };
    }
    let keyframe_requests: Vec<u64> = roles
        .iter()
        .enumerate()
        .filter(|(_, role)| role.video && !role.stall)
        .map(|(q, _)| {
            peers[q]
                .as_ref()
                .map_or(0, |r| r.keyframe_requests_in_window.iter().sum())
        })
        .collect();
    r.keyframe_requests_per_publisher_min = per_minute(&keyframe_requests, window_s);
    layer_figures(&mut r, roles, shared, &peers, &announced, window_ns);
    let speakers_msgs: Vec<u64> = roles
        .iter()
        .enumerate()
        .filter(|(_, role)| !role.stall)
        .map(|(p, _)| {
            u64::from(
                shared.people[p]
                    .speakers_msgs_in_window
                    .load(Ordering::Relaxed),
            )
        })
        .collect();
    r.speakers_msgs_per_participant_min = per_minute(&speakers_msgs, window_s);
    for (p, role) in roles.iter().enumerate() {
        let person = &shared.people[p];
        r.speakers_msgs_total += u64::from(person.speakers_msgs.load(Ordering::Relaxed));
        r.views_sent += u64::from(person.views_sent.load(Ordering::Relaxed));
        r.video_unwatched_msgs += u64::from(person.watched_msgs[0].load(Ordering::Relaxed));
        r.video_watched_msgs += u64::from(person.watched_msgs[1].load(Ordering::Relaxed));
        r.video_layers_msgs += u64::from(person.layers_msgs.load(Ordering::Relaxed));
        if let Some(peer) = &peers[p] {
            r.video_paused_at_end += u64::from(role.video && peer.video_paused);
            r.layers_paused_at_end += peer.layers_paused as u64;
            r.audio_level_received += peer.audio_with_level;
            r.audio_voice_received += peer.audio_with_voice;
            r.audio_level_not_negotiated += u64::from(role.audio && peer.level_ext.is_none());
        }
    }
    let initial = n - args.late;
    r.server_offers_setup_total = setup_offers
        .iter()
        .take(initial)
        .map(|&o| u64::from(o))
        .sum();
    r.server_offers_per_participant = r.server_offers_setup_total as f64 / initial.max(1) as f64;
    r.server_offers_per_participant_max = setup_offers
        .iter()
        .take(initial)
        .copied()
        .max()
        .unwrap_or(0);
    r
}

/// Layer switches, tile growth → top layer, and the per-layer figures.
fn layer_figures(
    r: &mut Report,
    roles: &[Role],
    shared: &Shared,
    peers: &[Option<PeerReport>],
    announced: &[Vec<expect::Stretches>],
    (ws, we): (u64, u64),
) {
    let layers = r.layers.max(1);
    let top = u8::try_from(layers - 1).unwrap_or(0);
    let rids = shape::rids(layers);
    let receivers: Vec<usize> = (0..roles.len()).filter(|&p| !roles[p].stall).collect();
    let mut switches = Vec::new();
    let mut grow = Vec::new();
    let mut bytes = vec![0u64; layers];
    let mut seconds = vec![0u64; layers];
    let mut at_end = vec![0u64; layers];
    for &p in &receivers {
        let streams = peers[p].as_ref().map_or(&[][..], |r| r.rx.as_slice());
        let mut mine = 0;
        for (q, qrole) in roles.iter().enumerate() {
            if q == p || !qrole.video {
                continue;
            }
            let Some(rx) = streams.get(q * 2 + VIDEO) else {
                continue;
            };
            mine += expect::switches_in(&rx.segments, ws, we);
            for l in 0..layers {
                bytes[l] += rx.bytes.get(l).copied().unwrap_or(0);
                seconds[l] += rx.layer_seconds.get(l).copied().unwrap_or(0);
            }
            let shown_at_end = announced[p][q * 2 + VIDEO]
                .last()
                .is_some_and(|&(_, end)| end.is_none());
            if shown_at_end && let Some(last) = rx.segments.last() {
                at_end[usize::from(last.layer).min(layers - 1)] += 1;
            }
        }
        switches.push(mine);
        // Tiles made large inside the window (with simulcast; one layer is always the top).
        if layers > 1
            && let Ok(expect) = shared.people[p].expect.lock()
        {
            for (k, &(at, large)) in expect.large.iter().enumerate() {
                let Some(q) = large else { continue };
                if !(ws..we).contains(&at) {
                    continue;
                }
                let shrunk = expect.large.get(k + 1).map(|&(t, _)| t);
                let segments = streams
                    .get(q * 2 + VIDEO)
                    .map_or(&[][..], |rx| rx.segments.as_slice());
                match expect::grow_latency(segments, at, shrunk, top) {
                    Some(ns) => grow.push(ns as f64 / 1e6),
                    None => r.grow_to_high_layer_missed += 1,
                }
            }
        }
    }
    r.layer_switches = switches.iter().sum();
    r.layer_switches_per_subscriber_min = per_minute(&switches, r.window_s);
    r.grow_to_high_layer_ms = quantiles_ms(grow);
    let window = r.window_s.max(1e-9);
    r.video_layers = (0..layers)
        .map(|l| {
            let requests: Vec<u64> = roles
                .iter()
                .enumerate()
                .filter(|(_, role)| role.video && !role.stall)
                .map(|(q, _)| {
                    peers[q].as_ref().map_or(0, |r| {
                        r.keyframe_requests_in_window.get(l).copied().unwrap_or(0)
                    })
                })
                .collect();
            LayerFigures {
                rid: rids.get(l).map_or_else(String::new, |r| (*r).to_owned()),
                received_kbps_per_stream: (seconds[l] > 0)
                    .then(|| bytes[l] as f64 * 8.0 / 1000.0 / seconds[l] as f64),
                received_kbps_per_receiver: bytes[l] as f64 * 8.0
                    / 1000.0
                    / window
                    / receivers.len().max(1) as f64,
                stream_seconds: seconds[l],
                streams_at_end: at_end[l],
                keyframe_requests_per_publisher_min: per_minute(&requests, r.window_s),
            }
        })
        .collect();
}

impl Report {
    /// Why a `--check` run fails (empty: it passes).
    pub fn check_problems(
        &self,
        max_loss: f64,
        max_audio_streams: Option<u32>,
        min_layers_paused: Option<u64>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        if self.forwarded_packets == 0 {
            problems.push("nothing was forwarded".to_owned());
        }
        if self.participants_failed > 0 {
            problems.push(format!("{} participants failed", self.participants_failed));
        }
        for (name, fig) in [("audio", &self.audio), ("video", &self.video)] {
            if let Some(loss) = fig.loss
                && loss > max_loss
            {
                problems.push(format!(
                    "{name} loss {:.1}% is over {:.1}%",
                    loss * 100.0,
                    max_loss * 100.0
                ));
            }
        }
        if let Some(max) = max_audio_streams
            && self.audio_streams_per_s.max > max
        {
            problems.push(format!(
                "a receiver got {} audio streams within one second (at most {max} allowed)",
                self.audio_streams_per_s.max
            ));
        }
        if let Some(min) = min_layers_paused
            && self.layers_paused_at_end < min
        {
            problems.push(format!(
                "{} simulcast layers paused at the end (at least {min} expected)",
                self.layers_paused_at_end
            ));
        }
        if self.e2ee.enabled {
            let e = &self.e2ee;
            for (name, k) in [("audio", &e.audio), ("video", &e.video)] {
                if k.frames_failed > 0 {
                    problems.push(format!(
                        "{} {name} frames did not open ({} authentication, {} malformed, {} \
                         unknown key, {} replay)",
                        k.frames_failed,
                        k.failed_authentication,
                        k.failed_malformed,
                        k.failed_unknown_key,
                        k.failed_replay
                    ));
                }
                if k.seal_errors > 0 {
                    problems.push(format!(
                        "{} {name} frames could not be sealed",
                        k.seal_errors
                    ));
                }
                if k.frames_sealed > 0 && k.frames_opened == 0 {
                    problems.push(format!("no {name} frame opened"));
                }
            }
        }
        problems
    }
}

/// A counter's value, if the server reported it (0 if it answered without it: not counted yet).
fn counter(counters: &Counters, name: &str) -> Option<u64> {
    if counters.is_empty() {
        return None;
    }
    Some(
        counters
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v),
    )
}

/// How much a counter grew between the window's start and end.
fn window_count(counters: &(Counters, Counters), name: &str) -> Option<u64> {
    Some(counter(&counters.1, name)?.saturating_sub(counter(&counters.0, name)?))
}

fn opt_count(v: Option<u64>) -> String {
    v.map_or("-".to_owned(), |v| v.to_string())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.3}%", v * 100.0))
}

pub fn print_table(r: &Report) {
    let q = |q: &Quantiles| {
        format!(
            "{} / {} ms (max {}, n={})",
            opt(q.p50, 2),
            opt(q.p99, 2),
            opt(q.max, 1),
            q.samples
        )
    };
    let rows: Vec<(&str, String)> = vec![
        ("label", r.label.clone().unwrap_or_default()),
        ("date (UTC)", r.date_utc.clone()),
        (
            "machine",
            format!(
                "{} ({} CPUs), load at start {}",
                r.machine, r.cpus, r.loadavg_at_start
            ),
        ),
        (
            "shape",
            format!(
                "{} participants: {} video+audio, {} audio, {} subscribers, {} stalled, {} late; window {:.1} s",
                r.participants,
                r.video_publishers,
                r.audio_publishers,
                r.subscribers,
                r.stalled,
                r.late,
                r.window_s
            ),
        ),
        (
            "speech, views",
            format!(
                "{} speakers, the other {} audio publishers quiet (DTX); {}",
                r.speakers,
                (r.video_publishers + r.audio_publishers).saturating_sub(r.speakers),
                if r.view_grid == 0 {
                    "no view (every video)".to_owned()
                } else {
                    format!("views of at most {} videos", r.view_grid)
                }
            ),
        ),
        ("setup (all flowing)", format!("{:.1} s", r.setup_s)),
        (
            "offered",
            format!(
                "audio {:.0} pkt/s, video {:.0} pkt/s",
                r.audio.offered_pps, r.video.offered_pps
            ),
        ),
        (
            "forwarded",
            format!(
                "{} packets, {:.0} pkt/s",
                r.forwarded_packets, r.forwarded_pps
            ),
        ),
        (
            "forwarded / server CPU-s",
            format!(
                "{} ({} µs per packet)",
                opt(r.forwarded_per_server_cpu_s, 0),
                opt(r.server_us_per_forwarded, 1)
            ),
        ),
        (
            "loss audio / video / all",
            format!(
                "{} / {} / {}",
                pct(r.audio.loss),
                pct(r.video.loss),
                pct(r.loss)
            ),
        ),
        (
            "  without bench socket drops",
            pct(r.loss_without_bench_drops),
        ),
        (
            "  not expected audio / video",
            format!(
                "{} / {} (not announced, out of view, at a change); {} / {} came unannounced",
                r.audio.not_expected,
                r.video.not_expected,
                r.audio.unannounced_received,
                r.video.unannounced_received
            ),
        ),
        ("streams never flowing", r.streams_never_flowing.to_string()),
        (
            "streams / receiver / s",
            format!(
                "audio max {} mean {:.2}, video max {} mean {:.2} (over {} s)",
                r.audio_streams_per_s.max,
                r.audio_streams_per_s.mean,
                r.video_streams_per_s.max,
                r.video_streams_per_s.mean,
                r.stream_count_windows
            ),
        ),
        (
            "audio levels received",
            format!(
                "{} packets with the extension, {} with voice; {} publishers without it",
                r.audio_level_received, r.audio_voice_received, r.audio_level_not_negotiated
            ),
        ),
        (
            "speakers msgs / participant / min",
            format!(
                "{} mean, {} max ({} in all)",
                opt(r.speakers_msgs_per_participant_min.mean, 1),
                opt(r.speakers_msgs_per_participant_min.max, 1),
                r.speakers_msgs_total
            ),
        ),
        (
            "views, video_watched, layers",
            format!(
                "{} views sent; watched false {} / true {}; {} videos paused at the end; \
                 {} video_layers, {} layers paused at the end",
                r.views_sent,
                r.video_unwatched_msgs,
                r.video_watched_msgs,
                r.video_paused_at_end,
                r.video_layers_msgs,
                r.layers_paused_at_end
            ),
        ),
        ("transit p50 / p99", q(&r.transit_ms)),
        ("  audio", q(&r.audio.transit_ms)),
        ("  video", q(&r.video.transit_ms)),
        ("join → first media p50/p99", q(&r.join_first_media_ms)),
        ("join → all flowing p50/p99", q(&r.join_all_flowing_ms)),
        (
            "joins never all flowing",
            r.joins_never_all_flowing.to_string(),
        ),
        (
            "server offers / participant",
            format!(
                "{:.1} mean, {} max ({} in setup)",
                r.server_offers_per_participant,
                r.server_offers_per_participant_max,
                r.server_offers_setup_total
            ),
        ),
        ("participants failed", r.participants_failed.to_string()),
        ("server CPU / s", opt(r.server_cpu_per_s, 3)),
        (
            "server run-queue wait / s",
            opt(r.server_runq_wait_per_s, 3),
        ),
        (
            "server RSS",
            format!(
                "{} KiB ({} KiB idle, {} KiB per participant)",
                r.server_rss_kib.map_or("-".to_owned(), |v| v.to_string()),
                r.server_rss_idle_kib,
                opt(r.server_rss_per_participant_kib, 0)
            ),
        ),
        ("server socket drops", r.server_socket_drops.to_string()),
        (
            "server delay cuts, resent",
            format!(
                "{} before the window, {} in it (a subscriber's queue grew); {} packets resent",
                opt_count(r.server_delay_cuts_before),
                opt_count(r.server_delay_cuts),
                opt_count(r.server_resent)
            ),
        ),
        (
            "server log",
            r.server_log_bytes
                .map_or("-".to_owned(), |b| format!("{b} bytes")),
        ),
        (
            "bench CPU / s",
            format!(
                "{} ({} µs per packet sent or received)",
                opt(r.bench_cpu_per_s, 3),
                opt(r.bench_us_per_packet, 2)
            ),
        ),
        ("bench run-queue wait / s", opt(r.bench_runq_wait_per_s, 3)),
        (
            "machine busy CPUs (steal)",
            format!(
                "{} of {} ({})",
                opt(r.machine_busy_cpus, 2),
                r.cpus,
                opt(r.machine_steal_cpus, 2)
            ),
        ),
        (
            "bench drops",
            format!(
                "socket {}, send {}, write errors {}, lag skips {}, unknown {}",
                r.bench_socket_drops,
                r.bench_send_drops,
                r.bench_write_errors,
                r.bench_lag_skips,
                r.unknown_packets
            ),
        ),
        (
            "keyframe requests seen",
            format!(
                "{} in all; per video publisher per min: {} mean, {} max",
                r.keyframe_requests,
                opt(r.keyframe_requests_per_publisher_min.mean, 1),
                opt(r.keyframe_requests_per_publisher_min.max, 1)
            ),
        ),
    ];
    for (k, v) in rows {
        println!("{k:<30} {v}");
    }
    print_e2ee(&r.e2ee);
    if r.layers > 1 || r.view_churn_s > 0.0 {
        println!(
            "{:<30} {} layers; large tile moves every {} s; {} switches, per receiver per min: {} mean, {} max",
            "simulcast",
            r.layers,
            if r.view_churn_s > 0.0 {
                format!("{:.1}", r.view_churn_s)
            } else {
                "-".to_owned()
            },
            r.layer_switches,
            opt(r.layer_switches_per_subscriber_min.mean, 1),
            opt(r.layer_switches_per_subscriber_min.max, 1)
        );
        println!(
            "{:<30} {} ({} missed: shrank first or never came)",
            "tile grows → top layer p50/p99",
            q(&r.grow_to_high_layer_ms),
            r.grow_to_high_layer_missed
        );
        for l in &r.video_layers {
            println!(
                "{:<30} {} kbit/s per video, {:.0} kbit/s per receiver ({} video-seconds, {} at the end); keyframe requests per publisher per min {} mean, {} max",
                format!("  layer {}", if l.rid.is_empty() { "-" } else { &l.rid }),
                opt(l.received_kbps_per_stream, 0),
                l.received_kbps_per_receiver,
                l.stream_seconds,
                l.streams_at_end,
                opt(l.keyframe_requests_per_publisher_min.mean, 1),
                opt(l.keyframe_requests_per_publisher_min.max, 1)
            );
        }
    }
    if r.stalled > 0 {
        println!(
            "{:<30} {} packets in the window, {} kernel drops at their sockets; {} dropped by the server ({} s after the stall)",
            "stalled subscribers",
            r.stalled_received,
            r.stalled_socket_drops,
            r.stalled_dropped,
            opt(r.stalled_dropped_after_s, 1)
        );
    }
    for w in &r.late_waves {
        println!(
            "{:<30} participant {}: all flowing {} ms; offers: newcomer {}, others max {} mean {:.1}",
            "late join wave",
            w.participant,
            opt(w.all_flowing_ms, 0),
            w.newcomer_offers,
            w.others_offers_max,
            w.others_offers_mean
        );
    }
    for e in &r.errors {
        println!("{:<30} {e}", "error");
    }
}

fn print_e2ee(e: &E2eeFigures) {
    if !e.enabled {
        println!("{:<30} off", "e2ee");
        return;
    }
    let (a, v) = (&e.audio, &e.video);
    println!(
        "{:<30} on: {} frames sealed ({} audio, {} video), {} opened, {} failed, {} incomplete \
         (a packet missing: not opened)",
        "e2ee",
        e.frames_sealed,
        a.frames_sealed,
        v.frames_sealed,
        e.frames_opened,
        e.frames_failed,
        e.frames_incomplete
    );
    for (name, k) in [("audio", a), ("video", v)] {
        if k.frames_failed > 0 || k.seal_errors > 0 {
            println!(
                "{:<30} {name}: {} authentication, {} malformed, {} unknown key, {} replay; {} \
                 not sealed",
                "  e2ee failures",
                k.failed_authentication,
                k.failed_malformed,
                k.failed_unknown_key,
                k.failed_replay,
                k.seal_errors
            );
        }
    }
    println!(
        "{:<30} audio +{} B per packet ({}), video +{} B per packet ({}; +{} B per frame of \
         {} B, {} extra packets of {})",
        "  e2ee bytes added",
        opt(a.bytes_added_per_packet, 1),
        pct(a.payload_overhead),
        opt(v.bytes_added_per_packet, 1),
        pct(v.payload_overhead),
        opt(v.bytes_added_per_frame, 1),
        opt(v.plain_bytes_per_frame, 0),
        v.extra_packets,
        v.packets_sent
    );
    println!(
        "{:<30} seal audio {} / video {} µs; open audio {} / video {} µs",
        "  e2ee crypto per frame",
        opt(a.seal_us_per_frame, 2),
        opt(v.seal_us_per_frame, 2),
        opt(a.open_us_per_frame, 2),
        opt(v.open_us_per_frame, 2)
    );
}
