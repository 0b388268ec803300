//! Which packets a receiver should get and which it got: the pure bookkeeping behind loss when
//! the server forwards only some streams to each participant (the speakers it announces, the
//! videos the participant's `view` lists), and behind the streams-per-second figures.
//!
//! A receiver is *told* when a stream starts or stops being forwarded to it (a `speakers`
//! message, its own `view`). The server acts a little before or after telling, so packets sent
//! close to a change are neither expected nor lost: a stream that starts is expected from its
//! first packet that arrives (at most [`start_cap`] after the change), one that stops is no
//! longer expected [`GRACE_NS`] before the change.

/// Packets sent this close before a stream stops being forwarded are not expected (the server
/// announces the speakers at most every 200 ms, from a 100 ms tick, after it changed them).
pub const GRACE_NS: u64 = 500_000_000;

/// How long after a stream starts being forwarded its first packet may take before the missing
/// ones count as loss: for audio [`GRACE_NS`], for video a keyframe interval more (the server
/// waits for a keyframe before it forwards a video it had not been forwarding).
pub fn start_cap(video: bool, keyframe_interval_ns: u64) -> u64 {
    if video {
        GRACE_NS + keyframe_interval_ns
    } else {
        GRACE_NS
    }
}

/// Stamp sequence numbers received, as sorted, disjoint, non-adjacent runs `[start, end)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqRuns {
    runs: Vec<(u32, u32)>,
}

impl SeqRuns {
    /// Adds one sequence number (duplicates count once; arrival order does not matter).
    pub fn insert(&mut self, seq: u32) {
        let Some(next) = seq.checked_add(1) else {
            return;
        };
        match self.runs.last_mut() {
            None => {
                self.runs.push((seq, next));
                return;
            }
            Some(last) if last.1 == seq => {
                last.1 = next;
                return;
            }
            Some(last) if seq > last.1 => {
                self.runs.push((seq, next));
                return;
            }
            Some(_) => {}
        }
        // Out of order: the first run that ends at or after `seq`.
        let i = self.runs.partition_point(|r| r.1 < seq);
        let Some(&(start, end)) = self.runs.get(i) else {
            return;
        };
        if start <= seq && seq < end {
            return;
        }
        if end == seq {
            self.runs[i].1 = next;
            if let Some(&(s, e)) = self.runs.get(i + 1)
                && s == next
            {
                self.runs[i].1 = e;
                self.runs.remove(i + 1);
            }
        } else if start == next {
            self.runs[i].0 = seq;
        } else {
            self.runs.insert(i, (seq, next));
        }
    }

    /// How many numbers in `lo..hi` were received.
    pub fn count_in(&self, lo: u32, hi: u32) -> u64 {
        let first = self.runs.partition_point(|r| r.1 <= lo);
        self.runs
            .get(first..)
            .unwrap_or_default()
            .iter()
            .take_while(|r| r.0 < hi)
            .map(|&(s, e)| u64::from(e.min(hi).saturating_sub(s.max(lo))))
            .sum()
    }

    /// The lowest received number at or after `seq`.
    pub fn first_at_or_after(&self, seq: u32) -> Option<u32> {
        let i = self.runs.partition_point(|r| r.1 <= seq);
        self.runs.get(i).map(|r| r.0.max(seq))
    }

    pub fn total(&self) -> u64 {
        self.runs.iter().map(|&(s, e)| u64::from(e - s)).sum()
    }
}

/// When a publisher sent each of its packets of one kind inside the measurement window
/// (their stamp sequence numbers are consecutive).
#[derive(Debug, Clone, Default)]
pub struct SentLog {
    first_seq: u32,
    times: Vec<u64>,
}

impl SentLog {
    pub fn push(&mut self, seq: u32, sent_ns: u64) {
        if self.times.is_empty() {
            self.first_seq = seq;
        }
        self.times.push(sent_ns);
    }

    /// Sequence numbers of the packets sent in `[a, b)`.
    fn seq_range(&self, a: u64, b: u64) -> (u32, u32) {
        let at = |t: u64| {
            let i = self.times.partition_point(|&x| x < t);
            self.first_seq
                .saturating_add(u32::try_from(i).unwrap_or(u32::MAX))
        };
        (at(a), at(b).max(at(a)))
    }

    fn time_of(&self, seq: u32) -> Option<u64> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.times.get(i).copied()
    }
}

/// One receiver's view of one stream: when it was told the stream starts (`true`) or stops
/// (`false`) being forwarded, in order (ns since the epoch).
pub type Changes = [(u64, bool)];

/// Stretches `[start, end)` of time (ns since the epoch; `end` `None`: until the end).
pub type Stretches = Vec<(u64, Option<u64>)>;

/// The intervals `[start, end)` in which a stream was announced (`end` `None`: until the end).
/// With `always`, the stream is forwarded from the start without being told (a start of 0 is
/// never a change).
pub fn intervals(changes: &Changes, always: bool) -> Stretches {
    if always {
        return vec![(0, None)];
    }
    let mut out = Vec::new();
    let mut open: Option<u64> = None;
    for &(at, on) in changes {
        match (open, on) {
            (None, true) => open = Some(at.max(1)),
            (Some(start), false) => {
                out.push((start, Some(at)));
                open = None;
            }
            _ => {}
        }
    }
    if let Some(start) = open {
        out.push((start, None));
    }
    out
}

/// Expected and received packets of one stream at one receiver inside the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Sent inside an announced interval (less the grace at its edges).
    pub expected: u64,
    /// Of those, received.
    pub received: u64,
    /// Received although sent outside every announced interval (grace included): forwarded
    /// without being announced.
    pub unannounced: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Self) {
        self.expected += o.expected;
        self.received += o.received;
        self.unannounced += o.unannounced;
    }
}

/// A stretch of send time in which one stream (audio, or one layer of a video) should arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// With `start_exact`, the send time of the first packet of a layer the receiver switched to
    /// (it arrived, and everything from it on is expected); otherwise when the stream was
    /// announced (0: from the beginning), expected from its first packet that arrived, at most
    /// the start cap later.
    pub start: u64,
    pub start_exact: bool,
    /// With `end_exact`, where a switch to another layer ended it; otherwise the end of the
    /// announcement (`None`: none), less [`GRACE_NS`].
    pub end: Option<u64>,
    pub end_exact: bool,
}

impl Piece {
    fn announced(a: u64, b: Option<u64>) -> Self {
        Self {
            start: a,
            start_exact: false,
            end: b,
            end_exact: false,
        }
    }
}

/// Where a receiver's video changed layer: the first packet of each run of one layer (its send
/// time, its arrival, the layer), in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub sent_ns: u64,
    pub arrival_ns: u64,
    pub layer: u8,
}

/// The layer a receiver got at send time `t`: that of the last segment begun by then (before
/// the first: the first one's; without any: the lowest).
pub fn layer_at(segments: &[Segment], t: u64) -> u8 {
    segments
        .iter()
        .rev()
        .find(|s| s.sent_ns <= t)
        .or(segments.first())
        .map_or(0, |s| s.layer)
}

/// Splits the announced stretches of one video by the layer the receiver got: per layer (of
/// `layers`), the pieces in which that layer was the one expected. The server forwards one layer
/// at a time and switches at a packet of the new layer, so a switch ends one layer's piece and
/// starts the next one's exactly there.
pub fn layer_pieces(
    announced: &[(u64, Option<u64>)],
    segments: &[Segment],
    layers: usize,
) -> Vec<Vec<Piece>> {
    let mut out = vec![Vec::new(); layers.max(1)];
    let mut push = |layer: u8, piece: Piece| {
        let i = usize::from(layer).min(out.len() - 1);
        if let Some(v) = out.get_mut(i) {
            v.push(piece);
        }
    };
    // The changes of layer, by send time.
    let mut switches: Vec<(u64, u8)> = Vec::new();
    let mut current = segments.first().map(|s| s.layer);
    for s in segments.iter().skip(1) {
        if Some(s.layer) != current {
            switches.push((s.sent_ns, s.layer));
            current = Some(s.layer);
        }
    }
    for &(a, b) in announced {
        let mut piece = Piece::announced(a, b);
        let mut layer = layer_at(segments, a);
        for &(at, next) in switches
            .iter()
            .filter(|&&(at, _)| at > a && b.is_none_or(|b| at < b))
        {
            push(
                layer,
                Piece {
                    end: Some(at),
                    end_exact: true,
                    ..piece
                },
            );
            piece = Piece {
                start: at,
                start_exact: true,
                end: b,
                end_exact: false,
            };
            layer = next;
        }
        push(layer, piece);
    }
    out
}

/// Expected and received packets of `pieces` inside the window.
fn expected_received(
    pieces: &[Piece],
    sent: &SentLog,
    got: &SeqRuns,
    window: (u64, u64),
    start_cap_ns: u64,
) -> (u64, u64) {
    let (ws, we) = window;
    let (mut expected, mut received) = (0, 0);
    for p in pieces {
        let a = p.start;
        let start = if p.start_exact || a == 0 {
            a
        } else {
            let (first_sent, _) = sent.seq_range(a, a);
            let first_got = got
                .first_at_or_after(first_sent)
                .and_then(|s| sent.time_of(s));
            let cap = a.saturating_add(start_cap_ns);
            first_got.map_or(cap, |f| f.min(cap)).max(a)
        };
        let end = match p.end {
            None => u64::MAX,
            Some(b) if p.end_exact => b,
            Some(b) => b.saturating_sub(GRACE_NS),
        };
        let (lo, hi) = (start.max(ws), end.min(we));
        if lo < hi {
            let (s0, s1) = sent.seq_range(lo, hi);
            expected += u64::from(s1 - s0);
            received += got.count_in(s0, s1);
        }
    }
    (expected, received)
}

/// Packets received although sent outside every announced stretch (widened by the grace).
fn unannounced(announced: &[(u64, Option<u64>)], sent: &SentLog, got: &SeqRuns) -> u64 {
    let mut covered: Vec<(u64, u64)> = Vec::new();
    for &(a, b) in announced {
        let wide_start = if a == 0 {
            0
        } else {
            a.saturating_sub(GRACE_NS)
        };
        let wide_end = b.map_or(u64::MAX, |b| b.saturating_add(GRACE_NS));
        match covered.last_mut() {
            Some(last) if wide_start <= last.1 => last.1 = last.1.max(wide_end),
            _ => covered.push((wide_start, wide_end)),
        }
    }
    let inside: u64 = covered
        .iter()
        .map(|&(a, b)| {
            let (s0, s1) = sent.seq_range(a, b);
            got.count_in(s0, s1)
        })
        .sum();
    got.total().saturating_sub(inside)
}

/// Counts one stream at one receiver: the intervals it was announced in, what its publisher
/// sent in the window `[window.0, window.1)`, what arrived.
pub fn tally(
    announced: &[(u64, Option<u64>)],
    sent: &SentLog,
    got: &SeqRuns,
    window: (u64, u64),
    start_cap_ns: u64,
) -> Tally {
    let pieces: Vec<Piece> = announced
        .iter()
        .map(|&(a, b)| Piece::announced(a, b))
        .collect();
    let (expected, received) = expected_received(&pieces, sent, got, window, start_cap_ns);
    Tally {
        expected,
        received,
        unannounced: unannounced(announced, sent, got),
    }
}

/// Counts one simulcast video at one receiver: per layer, what the publisher sent of it while
/// it was the layer the receiver got (`segments`) inside an announced interval. A switch of
/// layer changes which stream is expected; it is not loss. With one layer this is [`tally`].
pub fn tally_layers(
    announced: &[(u64, Option<u64>)],
    segments: &[Segment],
    sent: &[SentLog],
    got: &[SeqRuns],
    window: (u64, u64),
    start_cap_ns: u64,
) -> Tally {
    let no_sent = SentLog::default();
    let no_runs = SeqRuns::default();
    let layers = sent.len().max(1);
    let mut t = Tally::default();
    for (layer, pieces) in layer_pieces(announced, segments, layers).iter().enumerate() {
        let sent = sent.get(layer).unwrap_or(&no_sent);
        let got = got.get(layer).unwrap_or(&no_runs);
        let (expected, received) = expected_received(pieces, sent, got, window, start_cap_ns);
        t += Tally {
            expected,
            received,
            unannounced: unannounced(announced, sent, got),
        };
    }
    t
}

/// Layer switches of one video at one receiver that happened (arrived) in `[a, b)`.
pub fn switches_in(segments: &[Segment], a: u64, b: u64) -> u64 {
    segments
        .windows(2)
        .filter(|w| w[0].layer != w[1].layer && (a..b).contains(&w[1].arrival_ns))
        .count() as u64
}

/// How long after its tile grew (`grown_ns`) a receiver got the first packet of the `top` layer
/// of that video, given that the tile shrank again at `shrunk_ns` (if it did): `Some(0)` if the
/// top layer was flowing already, `None` if it did not come before the tile shrank.
pub fn grow_latency(
    segments: &[Segment],
    grown_ns: u64,
    shrunk_ns: Option<u64>,
    top: u8,
) -> Option<u64> {
    let before = segments.iter().rev().find(|s| s.arrival_ns <= grown_ns);
    if before.is_some_and(|s| s.layer == top) {
        return Some(0);
    }
    segments
        .iter()
        .find(|s| s.arrival_ns > grown_ns && s.layer == top)
        .map(|s| s.arrival_ns - grown_ns)
        .filter(|&d| shrunk_ns.is_none_or(|e| grown_ns + d < e))
}

/// Per receiver: how many distinct audio and video streams delivered packets in each second of
/// the window (by arrival time).
#[derive(Debug, Clone, Default)]
pub struct WindowCounter {
    /// Per stream (`publisher * 2 + kind`): the last window it was counted in, plus one (0:
    /// never).
    last: Vec<u32>,
    /// Per window: streams per kind.
    pub counts: Vec<[u32; 2]>,
}

impl WindowCounter {
    pub fn new(streams: usize) -> Self {
        Self {
            last: vec![0; streams],
            counts: Vec::new(),
        }
    }

    /// A packet of stream `key` (of `kind`, 0 audio, 1 video) arrived in window `window`.
    pub fn record(&mut self, key: usize, kind: usize, window: usize) {
        let Some(last) = self.last.get_mut(key) else {
            return;
        };
        let mark = u32::try_from(window + 1).unwrap_or(u32::MAX);
        if *last == mark {
            return;
        }
        *last = mark;
        if self.counts.len() <= window {
            self.counts.resize(window + 1, [0, 0]);
        }
        if let Some(c) = self.counts.get_mut(window).and_then(|c| c.get_mut(kind)) {
            *c += 1;
        }
    }
}

/// Most and mean streams per window of one kind over all receivers' first `windows` windows (a
/// window a receiver got nothing in counts as 0).
pub fn window_stats(receivers: &[&[[u32; 2]]], kind: usize, windows: usize) -> (u32, f64) {
    let mut max = 0;
    let mut sum = 0u64;
    let mut n = 0u64;
    for counts in receivers {
        for w in 0..windows {
            let c = counts
                .get(w)
                .and_then(|c| c.get(kind))
                .copied()
                .unwrap_or(0);
            max = max.max(c);
            sum += u64::from(c);
            n += 1;
        }
    }
    (max, if n == 0 { 0.0 } else { sum as f64 / n as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(seqs: &[u32]) -> SeqRuns {
        let mut r = SeqRuns::default();
        for &s in seqs {
            r.insert(s);
        }
        r
    }

    #[test]
    fn runs_merge_in_any_order_and_ignore_duplicates() {
        let r = runs(&[5, 6, 7, 10, 11, 9, 8, 8, 2, 3, 1, 20]);
        assert_eq!(r.runs, vec![(1, 4), (5, 12), (20, 21)]);
        assert_eq!(r.total(), 11);
        assert_eq!(r.count_in(0, 100), 11);
        assert_eq!(r.count_in(3, 6), 2);
        assert_eq!(r.count_in(12, 20), 0);
        assert_eq!(r.first_at_or_after(4), Some(5));
        assert_eq!(r.first_at_or_after(6), Some(6));
        assert_eq!(r.first_at_or_after(21), None);
        let mut r = runs(&[1, 3]);
        r.insert(2);
        assert_eq!(r.runs, vec![(1, 4)]);
        r.insert(u32::MAX);
        assert_eq!(r.total(), 3);
    }

    #[test]
    fn intervals_follow_the_announcements() {
        assert_eq!(intervals(&[], true), vec![(0, None)]);
        assert_eq!(intervals(&[], false), vec![]);
        let c = [(10, true), (20, true), (30, false), (40, false), (50, true)];
        assert_eq!(intervals(&c, false), vec![(10, Some(30)), (50, None)]);
    }

    /// A publisher sending one packet every 20 ms from t = 0 to 10 s; the window is 2 s to 8 s.
    fn every_20ms() -> SentLog {
        let mut log = SentLog::default();
        for k in 100..400u32 {
            log.push(k, u64::from(k - 100) * 20_000_000);
        }
        log
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn a_stream_forwarded_all_along_counts_every_packet_of_the_window() {
        let sent = every_20ms();
        let window = (2_000 * MS, 8_000 * MS);
        // Seq 100..400 were sent 0..6 s; in the window (from 2 s): seq 200..400.
        let got = runs(&(100..400).collect::<Vec<_>>());
        let t = tally(&[(0, None)], &sent, &got, window, 0);
        assert_eq!((t.expected, t.received, t.unannounced), (200, 200, 0));
        // Two packets lost.
        let got = runs(
            &(100..400)
                .filter(|&s| s != 250 && s != 251)
                .collect::<Vec<_>>(),
        );
        let t = tally(&[(0, None)], &sent, &got, window, 0);
        assert_eq!((t.expected, t.received), (200, 198));
    }

    #[test]
    fn withheld_stretches_are_not_loss() {
        let sent = every_20ms(); // seq 100 at 0 ms … seq 399 at 5980 ms
        let window = (0, 6_000 * MS);
        // Announced from 1 s to 4 s; the server forwarded from 1.1 s (seq 155) to 3.8 s (seq 290).
        let got = runs(&(155..290).collect::<Vec<_>>());
        let t = tally(
            &[(1_000 * MS, Some(4_000 * MS))],
            &sent,
            &got,
            window,
            GRACE_NS,
        );
        // Expected: first arrival (1.1 s) to 4 s − 0.5 s = 3.5 s: seq 155..275.
        assert_eq!((t.expected, t.received, t.unannounced), (120, 120, 0));
        // Forwarded although never announced: all unannounced.
        let t = tally(&[], &sent, &got, window, GRACE_NS);
        assert_eq!((t.expected, t.received, t.unannounced), (0, 0, 135));
        // Announced but nothing came: loss from the cap on.
        let t = tally(
            &[(1_000 * MS, None)],
            &sent,
            &SeqRuns::default(),
            window,
            GRACE_NS,
        );
        // From 1.5 s (seq 175) to the last packet (seq 399).
        assert_eq!((t.expected, t.received), (225, 0));
    }

    #[test]
    fn streams_are_counted_once_per_window() {
        let mut w = WindowCounter::new(6);
        for _ in 0..3 {
            w.record(0, 0, 0);
            w.record(2, 0, 0);
            w.record(3, 1, 0);
        }
        w.record(0, 0, 2);
        w.record(99, 0, 2);
        assert_eq!(w.counts, vec![[2, 1], [0, 0], [1, 0]]);
        let other = [[3, 0]];
        let all: [&[[u32; 2]]; 2] = [&w.counts, &other];
        // Three windows each: (2 + 0 + 1 + 3 + 0 + 0) / 6.
        assert_eq!(window_stats(&all, 0, 3), (3, 1.0));
        assert_eq!(window_stats(&all, 1, 3), (1, 1.0 / 6.0));
        assert_eq!(window_stats(&[], 1, 3), (0, 0.0));
    }

    fn seg(sent_ms: u64, arrival_ms: u64, layer: u8) -> Segment {
        Segment {
            sent_ns: sent_ms * MS,
            arrival_ns: arrival_ms * MS,
            layer,
        }
    }

    #[test]
    fn layer_pieces_split_at_switches() {
        // Layer 0 from the start, 2 from 2 s, 0 again from 4 s.
        let segments = [seg(0, 1, 0), seg(2_000, 2_001, 2), seg(4_000, 4_001, 0)];
        assert_eq!(layer_at(&segments, 1_999 * MS), 0);
        assert_eq!(layer_at(&segments, 2_000 * MS), 2);
        assert_eq!(layer_at(&[], 5), 0);
        assert_eq!(layer_at(&segments[1..], 0), 2);
        let p = layer_pieces(&[(1_000 * MS, Some(5_000 * MS))], &segments, 3);
        let piece = |start, start_exact, end: Option<u64>, end_exact| Piece {
            start: start * MS,
            start_exact,
            end: end.map(|e| e * MS),
            end_exact,
        };
        assert_eq!(
            p[0],
            [
                piece(1_000, false, Some(2_000), true),
                piece(4_000, true, Some(5_000), false)
            ]
        );
        assert!(p[1].is_empty());
        assert_eq!(p[2], [piece(2_000, true, Some(4_000), true)]);
        // No switch: the announced stretches as they are, at the layer that arrived.
        let p = layer_pieces(&[(0, None)], &[seg(0, 1, 1)], 3);
        assert_eq!(p[1], [Piece::announced(0, None)]);
        // A single layer: one list.
        assert_eq!(layer_pieces(&[(0, None)], &[], 1).len(), 1);
    }

    /// Layers 0 and 2 each sending one packet every 20 ms from t = 0 (seq 1, 2, …).
    fn two_layers() -> Vec<SentLog> {
        (0..3)
            .map(|l| {
                let mut log = SentLog::default();
                if l != 1 {
                    for k in 0..300u32 {
                        log.push(k + 1, u64::from(k) * 20 * MS);
                    }
                }
                log
            })
            .collect()
    }

    #[test]
    fn a_layer_switch_is_not_loss() {
        let sent = two_layers();
        let window = (0, 6_000 * MS);
        // Layer 0 until 2 s (seq 1..=100), then layer 2 from its packet sent at 2 s (seq 101).
        let mut got = vec![SeqRuns::default(), SeqRuns::default(), SeqRuns::default()];
        for s in 1..=100 {
            got[0].insert(s);
        }
        for s in 101..=300 {
            got[2].insert(s);
        }
        let segments = [seg(0, 1, 0), seg(2_000, 2_001, 2)];
        let t = tally_layers(&[(0, None)], &segments, &sent, &got, window, 0);
        assert_eq!((t.expected, t.received, t.unannounced), (300, 300, 0));
        // Per layer on its own, each would look half lost.
        let t0 = tally(&[(0, None)], &sent[0], &got[0], window, 0);
        assert_eq!((t0.expected, t0.received), (300, 100));
        // A packet of the new layer lost is loss.
        let mut lossy = got.clone();
        lossy[2] = SeqRuns::default();
        for s in (101..=300).filter(|&s| s != 150) {
            lossy[2].insert(s);
        }
        let t = tally_layers(&[(0, None)], &segments, &sent, &lossy, window, 0);
        assert_eq!((t.expected, t.received), (300, 299));
        // Shown from 1 s to 5 s only: expected from 1 s (its first packet) to 4.5 s.
        let t = tally_layers(
            &[(1_000 * MS, Some(5_000 * MS))],
            &segments,
            &sent,
            &got,
            window,
            GRACE_NS,
        );
        assert_eq!((t.expected, t.received), (175, 175));
        // One layer, no switch: the same as `tally`.
        let one = tally_layers(&[(0, None)], &[], &sent[..1], &got[..1], window, 0);
        assert_eq!(one, t0);
    }

    #[test]
    fn switches_and_growth_come_from_the_segments() {
        let segments = [
            seg(0, 10, 0),
            seg(3_000, 3_030, 2),
            seg(6_000, 6_020, 0),
            seg(9_000, 9_010, 2),
        ];
        assert_eq!(switches_in(&segments, 0, 10_000 * MS), 3);
        assert_eq!(switches_in(&segments, 4_000 * MS, 10_000 * MS), 2);
        assert_eq!(switches_in(&segments[..1], 0, 10_000 * MS), 0);
        // Grown at 2.9 s: the top layer came 130 ms later.
        assert_eq!(grow_latency(&segments, 2_900 * MS, None, 2), Some(130 * MS));
        // Already at the top layer.
        assert_eq!(grow_latency(&segments, 4_000 * MS, None, 2), Some(0));
        // Shrunk again before it came.
        assert_eq!(
            grow_latency(&segments, 7_000 * MS, Some(8_000 * MS), 2),
            None
        );
        assert_eq!(
            grow_latency(&segments, 7_000 * MS, Some(9_500 * MS), 2),
            Some(2_010 * MS)
        );
        assert_eq!(grow_latency(&[], 0, None, 2), None);
    }
}
