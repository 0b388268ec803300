//! Simulcast layers, pure: which layer a subscriber should get, and when a downstream may move
//! from one layer to another.
//!
//! A publisher that sends simulcast sends the same video up to three times (layers), lowest
//! resolution first, each on its own SSRC with its own sequence numbers and timestamps. Each of
//! its downstreams forwards one layer at a time onto the subscriber's one SSRC:
//!
//! - [`ideal`] is the layer a tile needs: by its height in pixels when the layers' heights are
//!   known, else by its size class. [`choose`] replaces a layer that does not flow (the
//!   publisher paused it, or has not started it yet) by the nearest one that does, lower first.
//! - [`Switch`] is one downstream's current and target layer. It keeps forwarding the current
//!   layer until the target layer starts a keyframe, and moves there on that packet: the
//!   subscriber's decoder never gets a frame it cannot decode, and its picture never freezes
//!   while it waits. The caller breaks the munger's run there (`Munger::mark_break`), so the
//!   subscriber's numbering stays continuous across the change.
//!
//! - [`allocate`] caps the layers a subscriber gets by its downlink budget: the videos share
//!   it, the large ones first, each starting from its lowest layer. A layer's cost is its
//!   measured bitrate ([`RateMeter`]).
//!
//! - [`LossControl`] and [`DelayControl`] are the other limits on a subscriber's layers: the
//!   loss its receiver reports tell, and whether the queue toward it grows (from its congestion
//!   control feedback); each cuts at once and grows back slowly.
//!
//! - [`Dynacast`] turns layers nobody needs off at the publisher (after [`LAYER_IDLE_AFTER`])
//!   and back on as soon as somebody needs them.
//!
//! A track without simulcast is one layer, and all of this reduces to "forward it".

use std::time::{Duration, Instant};

pub use super::downlink::Queue;

/// At most this many layers per track (browsers send up to three).
pub const MAX_LAYERS: usize = 3;

/// What a subscriber asked for one video (see `ClientMessage::View`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    /// The main tile (speaker view, pinned): the best layer. Otherwise a thumbnail.
    pub large: bool,
    /// The tile's height in device pixels (0: not said).
    pub height: u32,
}

impl Want {
    /// The best layer, whatever the tile (a subscriber that never sent a view).
    pub const BEST: Self = Self {
        large: true,
        height: 0,
    };
}

/// What the engine knows about one layer when it chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerView {
    /// Packets arrived lately.
    pub live: bool,
    /// Its picture height, from its last keyframe (when the codec tells it).
    pub height: Option<u16>,
}

/// Thumbnails taller than this get the second layer when the layers' heights are not known.
const TALL_THUMBNAIL: u32 = 300;

/// The layer to send for `want`, among `layers` (lowest first): the one it needs
/// ([`ideal`]), or the nearest that flows ([`flowing`]).
pub fn choose(layers: &[LayerView], want: Want) -> u8 {
    flowing(layers, ideal(layers, want))
}

/// The layer `want` needs, among `layers` (lowest first), whether it flows or not:
///
/// - With the tile's height and every layer's height known: the smallest layer at least 0.8 ×
///   the tile's height (a little upscaling is invisible), else the top one.
/// - Otherwise by size class: a large tile gets the top layer, a thumbnail the lowest (the
///   second above [`TALL_THUMBNAIL`] pixels).
pub fn ideal(layers: &[LayerView], want: Want) -> u8 {
    let n = layers.len().min(MAX_LAYERS);
    if n <= 1 {
        return 0;
    }
    let top = n - 1;
    let heights: Option<Vec<u32>> = layers[..n]
        .iter()
        .map(|l| l.height.map(u32::from))
        .collect();
    let ideal = match heights {
        Some(heights) if want.height > 0 => heights
            .iter()
            .position(|h| u64::from(*h) * 5 >= u64::from(want.height) * 4)
            .unwrap_or(top),
        _ if want.large => top,
        _ if want.height > TALL_THUMBNAIL => 1,
        _ => 0,
    };
    u8::try_from(ideal).unwrap_or(0)
}

/// `layer` if it flows, else the highest flowing one below it, else the lowest flowing one
/// above it; with none flowing, `layer` (nothing flows anyway).
pub fn flowing(layers: &[LayerView], layer: u8) -> u8 {
    let n = layers.len().min(MAX_LAYERS);
    let wanted = usize::from(layer);
    if wanted >= n {
        return u8::try_from(n.saturating_sub(1)).unwrap_or(0);
    }
    if layers[wanted].live {
        return layer;
    }
    let live = |i: &usize| layers[*i].live;
    let chosen = (0..wanted)
        .rev()
        .find(live)
        .or_else(|| (wanted + 1..n).find(live))
        .unwrap_or(wanted);
    u8::try_from(chosen).unwrap_or(0)
}

/// A stream's bitrate, measured from the bytes it carried: an average over roughly the last
/// second, updated on every [`RateMeter::tick`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RateMeter {
    bytes: u64,
    since: Option<Instant>,
    bits_per_second: f64,
}

impl RateMeter {
    /// Smoothing per tick (ticks are 100 ms apart: about a second of memory).
    const WEIGHT: f64 = 0.2;

    pub fn add(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes as u64);
    }

    /// Folds in what arrived since the last tick.
    pub fn tick(&mut self, now: Instant) {
        let Some(since) = self.since.replace(now) else {
            self.bytes = 0;
            return;
        };
        let elapsed = now.saturating_duration_since(since).as_secs_f64();
        if elapsed <= 0.0 {
            return;
        }
        let rate = std::mem::take(&mut self.bytes) as f64 * 8.0 / elapsed;
        self.bits_per_second += (rate - self.bits_per_second) * Self::WEIGHT;
    }

    pub fn bits_per_second(&self) -> f64 {
        self.bits_per_second
    }
}

/// One video a subscriber shows, for [`allocate`].
#[derive(Debug, Clone, Copy)]
pub struct Demand {
    /// The layer its view asks for ([`choose`]).
    pub want: u8,
    /// Each layer's bitrate, lowest first (0 past the last layer).
    pub rates: [f64; MAX_LAYERS],
    /// A large tile: served first.
    pub large: bool,
}

/// The layer each video gets within `budget` bits per second: every video gets its lowest
/// layer (pausing a video for bandwidth is not done), then, large tiles first and otherwise in
/// order, each climbs toward the layer its view asks for while the next step fits.
pub fn allocate(demands: &[Demand], budget: f64) -> Vec<u8> {
    let rate = |d: &Demand, layer: u8| d.rates.get(usize::from(layer)).copied().unwrap_or(0.0);
    let mut used: f64 = demands.iter().map(|d| rate(d, 0)).sum();
    let mut layers = vec![0u8; demands.len()];
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|i| !demands[*i].large);
    for i in order {
        let d = &demands[i];
        while layers[i] < d.want {
            let step = rate(d, layers[i] + 1) - rate(d, layers[i]);
            if used + step.max(0.0) > budget {
                break;
            }
            used += step.max(0.0);
            layers[i] += 1;
        }
    }
    layers
}

/// Loss above this (the fraction of packets a subscriber's receiver reports say it lost)
/// lowers its video budget.
pub const LOSS_HIGH: f64 = 0.10;

/// Loss below this lets the budget grow again.
pub const LOSS_LOW: f64 = 0.02;

/// How fast the budget grows per second while loss stays low (libwebrtc's loss-based
/// controller grows by 8 % a second).
pub const LOSS_GROWTH_PER_S: f64 = 0.08;

/// Heavy loss cuts the budget at most this often (the reports that follow a cut still tell of
/// the rate before it).
pub const LOSS_CUT_EVERY: Duration = Duration::from_secs(1);

/// A limit on a subscriber's video, cut by a congestion signal and grown back slowly: what
/// [`LossControl`] and [`DelayControl`] share.
#[derive(Debug, Clone, Copy, Default)]
struct Limit {
    allowed: Option<f64>,
    last: Option<Instant>,
    last_cut: Option<Instant>,
}

impl Limit {
    /// Seconds since the last report (at most 2: a long silence is no reason to grow fast).
    fn elapsed(&mut self, now: Instant) -> f64 {
        self.last
            .replace(now)
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
            .min(2.0)
    }

    /// The limit becomes `factor` times what the subscriber receives (or the limit, if lower),
    /// at most once per `every` (the signals that follow a cut still tell of the rate before).
    fn cut(&mut self, receiving: f64, factor: f64, every: Duration, now: Instant) -> bool {
        if self
            .last_cut
            .is_some_and(|t| now.saturating_duration_since(t) < every)
        {
            return false;
        }
        let from = self.allowed.map_or(receiving, |a| a.min(receiving));
        self.allowed = Some(from * factor);
        self.last_cut = Some(now);
        true
    }

    /// Grows the limit by [`LOSS_GROWTH_PER_S`], and lifts it once it covers `wanted`.
    fn grow(&mut self, elapsed: f64, wanted: f64) {
        if let Some(allowed) = self.allowed {
            let grown = allowed * (1.0 + LOSS_GROWTH_PER_S * elapsed);
            self.allowed = (grown < wanted).then_some(grown);
        }
    }
}

/// A subscriber's video budget from the loss its receiver reports tell: a loss-based
/// controller in the manner of libwebrtc's. Above [`LOSS_HIGH`] the budget becomes what the
/// subscriber receives now less half the loss (at most once per [`LOSS_CUT_EVERY`]); below
/// [`LOSS_LOW`] it grows by [`LOSS_GROWTH_PER_S`] (and is lifted once it covers everything the
/// subscriber's views ask for, so an old cut does not linger); in between it holds. Without
/// loss it never limits anything. It needs no bandwidth probing: a layer it allows is its own
/// probe, and the loss that follows an upgrade the link cannot carry brings the budget back
/// down.
#[derive(Debug, Clone, Copy, Default)]
pub struct LossControl {
    limit: Limit,
}

impl LossControl {
    /// A report: `loss` (0–1) while the subscriber receives `receiving` bits per second of
    /// video, and its views ask for `wanted` (what it would receive without a limit).
    pub fn report(&mut self, loss: f64, receiving: f64, wanted: f64, now: Instant) {
        if !loss.is_finite() || !receiving.is_finite() || receiving < 0.0 || !wanted.is_finite() {
            return;
        }
        let loss = loss.clamp(0.0, 1.0);
        let elapsed = self.limit.elapsed(now);
        if loss > LOSS_HIGH {
            self.limit
                .cut(receiving, 1.0 - 0.5 * loss, LOSS_CUT_EVERY, now);
        } else if loss < LOSS_LOW {
            self.limit.grow(elapsed, wanted);
        }
    }

    /// What video may use (`None`: no limit).
    pub fn allowed(&self) -> Option<f64> {
        self.limit.allowed
    }
}

/// A growing queue toward a subscriber cuts its budget to this share of what it receives
/// (libwebrtc's AIMD decrease factor).
pub const DELAY_CUT: f64 = 0.85;

/// At most one cut per this long (about the time the queue needs to drain once the subscriber
/// gets less: the readings in between still tell of the old rate).
pub const DELAY_CUT_EVERY: Duration = Duration::from_millis(500);

/// Reports in a row that must say the queue grows before the budget is cut (ticks are 100 ms
/// apart): a receiver that stalls for a moment (a busy laptop) delays its timestamps as a
/// queue would, but not for long.
pub const DELAY_GROWING_REPORTS: u8 = 2;

/// A subscriber's video budget from the delay its congestion control feedback tells
/// (`downlink::Downlink`): the queue toward it growing ([`DELAY_GROWING_REPORTS`] reports in
/// a row) cuts the budget to [`DELAY_CUT`] of what it receives (at most once per
/// [`DELAY_CUT_EVERY`]); a steady queue grows it by
/// [`LOSS_GROWTH_PER_S`] and lifts it once it covers what the views ask for; a draining queue
/// holds it. Like [`LossControl`], it needs no probing: a layer it allows is its own probe,
/// and it acts before the loss does.
#[derive(Debug, Clone, Copy, Default)]
pub struct DelayControl {
    limit: Limit,
    /// Reports in a row that said the queue grows.
    growing: u8,
    /// When feedback last told anything.
    last_news: Option<Instant>,
}

/// Without feedback for this long, a cut budget grows again as if the queue were steady (a
/// receiver that stopped sending feedback must not stay limited for good).
pub const DELAY_NO_NEWS: Duration = Duration::from_secs(1);

impl DelayControl {
    /// What the queue did since the last report (`None`: no feedback came), while the
    /// subscriber received `receiving` bits per second of video and its views asked for
    /// `wanted`. True if the budget was cut.
    pub fn report(
        &mut self,
        queue: Option<Queue>,
        receiving: f64,
        wanted: f64,
        now: Instant,
    ) -> bool {
        if !receiving.is_finite() || receiving < 0.0 || !wanted.is_finite() {
            return false;
        }
        let elapsed = self.limit.elapsed(now);
        let queue = match queue {
            Some(queue) => {
                self.last_news = Some(now);
                queue
            }
            // No news holds everything as it is, for a while.
            None if self
                .last_news
                .is_some_and(|t| now.saturating_duration_since(t) < DELAY_NO_NEWS) =>
            {
                return false;
            }
            None => Queue::Steady,
        };
        match queue {
            Queue::Growing => {
                self.growing = self.growing.saturating_add(1);
                self.growing >= DELAY_GROWING_REPORTS
                    && self.limit.cut(receiving, DELAY_CUT, DELAY_CUT_EVERY, now)
            }
            Queue::Steady => {
                self.growing = 0;
                self.limit.grow(elapsed, wanted);
                false
            }
            Queue::Draining => {
                self.growing = 0;
                false
            }
        }
    }

    /// What video may use (`None`: no limit).
    pub fn allowed(&self) -> Option<f64> {
        self.limit.allowed
    }
}

/// The smaller of two limits (`None`: no limit).
pub fn tighter(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// How long a layer nobody needs keeps flowing before its publisher is told to pause it (a
/// tile that shrinks and grows back within moments finds its layer still there).
pub const LAYER_IDLE_AFTER: Duration = Duration::from_secs(5);

/// Dynacast for one simulcast publication: which of its layers the publisher should send.
/// A layer some subscriber needs is on at once; one nobody needs goes off after
/// [`LAYER_IDLE_AFTER`]. Never all off: a video nobody watches at all is the business of
/// `video_watched`, so a set with nothing needed leaves the layers as they are.
#[derive(Debug, Clone, Copy)]
pub struct Dynacast {
    /// What the publisher was last told (it sends every layer until told otherwise).
    on: [bool; MAX_LAYERS],
    idle_since: [Option<Instant>; MAX_LAYERS],
}

impl Default for Dynacast {
    fn default() -> Self {
        Self {
            on: [true; MAX_LAYERS],
            idle_since: [None; MAX_LAYERS],
        }
    }
}

impl Dynacast {
    /// `needed[i]`: some subscriber needs layer `i` now (lowest first). Returns the layers that
    /// should be on when that changed (tell the publisher), else `None`.
    pub fn update(&mut self, needed: &[bool], now: Instant) -> Option<[bool; MAX_LAYERS]> {
        let n = needed.len().min(MAX_LAYERS);
        let mut next = self.on;
        for i in 0..n {
            if needed[i] {
                self.idle_since[i] = None;
                next[i] = true;
            } else {
                let since = *self.idle_since[i].get_or_insert(now);
                next[i] = self.on[i] && now.saturating_duration_since(since) < LAYER_IDLE_AFTER;
            }
        }
        if !next[..n].iter().any(|on| *on) || next == self.on {
            return None;
        }
        self.on = next;
        Some(next)
    }

    /// Whether the publisher was told to send layer `i`.
    pub fn is_on(&self, i: usize) -> bool {
        self.on.get(i).copied().unwrap_or(false)
    }
}

/// What to do with one packet on one downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not for this downstream (another layer, or it waits for a keyframe).
    Skip,
    /// Forward it. `switched`: it is the first packet of another layer than the last one
    /// forwarded (break the munger's run before it).
    Forward { switched: bool },
}

/// One downstream's layers: the one it forwards now, and the one it should forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// The layer forwarded now (`None`: nothing yet).
    current: Option<u8>,
    /// The layer wanted (the same as `current` when no switch is pending).
    target: u8,
    /// Nothing goes out until a keyframe of the target layer (a new or resumed downstream).
    awaiting_keyframe: bool,
}

impl Switch {
    /// A downstream that starts on `target`; `keyframe_first`: it waits for a keyframe (video
    /// whose keyframes the engine recognizes).
    pub fn new(target: u8, keyframe_first: bool) -> Self {
        Self {
            current: (!keyframe_first).then_some(target),
            target,
            awaiting_keyframe: keyframe_first,
        }
    }

    pub fn current(&self) -> Option<u8> {
        self.current
    }

    pub fn target(&self) -> u8 {
        self.target
    }

    /// Nothing goes out until a keyframe of the target layer.
    pub fn awaiting_keyframe(&self) -> bool {
        self.awaiting_keyframe
    }

    /// A switch is pending (or the start): a keyframe of [`Self::target`] is needed.
    pub fn needs_keyframe(&self) -> bool {
        self.awaiting_keyframe || self.current != Some(self.target)
    }

    /// Wants `target` from now on. Returns whether that changed anything.
    pub fn set_target(&mut self, target: u8) -> bool {
        std::mem::replace(&mut self.target, target) != target
    }

    /// Nothing more goes out until a keyframe of the target layer (shown again, resumed).
    pub fn await_keyframe(&mut self) {
        self.awaiting_keyframe = true;
    }

    /// A packet of `layer` arrived; `keyframe`: it starts a keyframe (pass true for every
    /// packet of a codec whose keyframes are not recognized: it then switches at once).
    pub fn on_packet(&mut self, layer: u8, keyframe: bool) -> Verdict {
        if layer == self.target && keyframe && self.needs_keyframe() {
            let switched = self.current != Some(layer);
            self.current = Some(layer);
            self.awaiting_keyframe = false;
            return Verdict::Forward { switched };
        }
        if !self.awaiting_keyframe && self.current == Some(layer) {
            return Verdict::Forward { switched: false };
        }
        Verdict::Skip
    }
}

/// The picture size a VP8 packet gives, `(width, height)`, if it starts a keyframe (RFC 7741
/// payload descriptor, then the RFC 6386 keyframe header: frame tag, start code, sizes).
pub fn vp8_keyframe_size(payload: &[u8]) -> Option<(u16, u16)> {
    let first = *payload.first()?;
    if first & 0x10 == 0 || first & 0x07 != 0 {
        return None;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        let x = *payload.get(at)?;
        at += 1;
        if x & 0x80 != 0 {
            let pid = *payload.get(at)?;
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1;
        }
        if x & 0x30 != 0 {
            at += 1;
        }
    }
    let header = payload.get(at..at + 10)?;
    if header[0] & 0x01 != 0 || header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([header[6], header[7]]) & 0x3fff;
    let height = u16::from_le_bytes([header[8], header[9]]) & 0x3fff;
    (width > 0 && height > 0).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfu::munger::Munger;

    fn live(heights: &[Option<u16>]) -> Vec<LayerView> {
        heights
            .iter()
            .map(|h| LayerView {
                live: true,
                height: *h,
            })
            .collect()
    }

    const THUMB: Want = Want {
        large: false,
        height: 0,
    };

    #[test]
    fn one_layer_is_always_layer_zero() {
        assert_eq!(choose(&[], Want::BEST), 0);
        assert_eq!(choose(&live(&[Some(720)]), THUMB), 0);
    }

    #[test]
    fn size_class_without_heights() {
        let three = live(&[None, None, None]);
        assert_eq!(choose(&three, Want::BEST), 2);
        assert_eq!(choose(&three, THUMB), 0);
        let tall = Want {
            large: false,
            height: 400,
        };
        assert_eq!(choose(&three, tall), 1);
        // One height unknown: the size class decides.
        let partly = live(&[Some(180), None, Some(720)]);
        assert_eq!(
            choose(
                &partly,
                Want {
                    large: false,
                    height: 180
                }
            ),
            0
        );
        assert_eq!(choose(&live(&[None, None]), tall), 1);
    }

    #[test]
    fn by_pixels_when_heights_are_known() {
        let three = live(&[Some(180), Some(360), Some(720)]);
        let at = |large, height| choose(&three, Want { large, height });
        assert_eq!(at(false, 180), 0);
        assert_eq!(at(false, 225), 0, "180 ≥ 0.8 × 225");
        assert_eq!(at(false, 226), 1);
        assert_eq!(at(true, 400), 1, "a large tile of 400 px needs no 720p");
        assert_eq!(at(true, 700), 2);
        assert_eq!(at(true, 2160), 2, "nothing is big enough: the top");
        assert_eq!(at(true, 0), 2, "no pixels: by size class");
        assert_eq!(at(false, 0), 0);
        assert_eq!(at(false, u32::MAX), 2, "no overflow");
    }

    #[test]
    fn layers_that_do_not_flow_give_way() {
        let mut three = live(&[None, None, None]);
        three[2].live = false;
        assert_eq!(choose(&three, Want::BEST), 1, "the highest live below");
        three[0].live = false;
        three[1].live = false;
        three[2].live = true;
        assert_eq!(
            choose(&three, THUMB),
            2,
            "none below: the lowest live above"
        );
        three[2].live = false;
        assert_eq!(choose(&three, THUMB), 0, "none live: the choice stands");
        assert_eq!(choose(&three, Want::BEST), 2);
    }

    #[test]
    fn a_switch_waits_for_a_keyframe_of_the_target() {
        let mut s = Switch::new(0, true);
        assert!(s.needs_keyframe());
        assert_eq!(s.on_packet(0, false), Verdict::Skip, "no keyframe yet");
        assert_eq!(s.on_packet(1, true), Verdict::Skip, "not the target");
        assert_eq!(s.on_packet(0, true), Verdict::Forward { switched: true });
        assert!(!s.needs_keyframe());
        assert_eq!(s.on_packet(0, false), Verdict::Forward { switched: false });
        assert!(s.set_target(2));
        assert!(!s.set_target(2));
        assert!(s.needs_keyframe());
        // The old layer keeps flowing; the target's deltas are skipped.
        assert_eq!(s.on_packet(2, false), Verdict::Skip);
        assert_eq!(s.on_packet(0, false), Verdict::Forward { switched: false });
        assert_eq!(s.on_packet(1, true), Verdict::Skip);
        assert_eq!(s.on_packet(2, true), Verdict::Forward { switched: true });
        assert_eq!(s.current(), Some(2));
        // From then on the old layer is skipped.
        assert_eq!(s.on_packet(0, true), Verdict::Skip);
        assert_eq!(s.on_packet(2, false), Verdict::Forward { switched: false });
        // Back to where it is before the switch happened: nothing pending.
        s.set_target(0);
        s.set_target(2);
        assert!(!s.needs_keyframe());
        // Shown again: waits for a keyframe of the same layer, no layer change.
        s.await_keyframe();
        assert_eq!(s.on_packet(2, false), Verdict::Skip);
        assert_eq!(s.on_packet(2, true), Verdict::Forward { switched: false });
    }

    #[test]
    fn audio_and_unknown_codecs_flow_at_once() {
        let mut s = Switch::new(0, false);
        assert!(!s.needs_keyframe());
        assert_eq!(s.on_packet(0, false), Verdict::Forward { switched: false });
        assert_eq!(s.on_packet(1, false), Verdict::Skip);
    }

    /// Layer 0 and layer 2 of one publisher: independent sequence numbers and timestamps. The
    /// subscriber sees one stream without holes or steps back across the switch.
    #[test]
    fn numbering_stays_continuous_across_a_switch() {
        let start = Instant::now();
        let mut munger = Munger::new(90_000, 65_000, 4_000_000_000);
        let mut s = Switch::new(0, true);
        let mut out: Vec<(u16, u32)> = Vec::new();
        let (mut seq0, mut ts0) = (60_000u16, 1_000u32);
        let (mut seq2, mut ts2) = (100u16, 3_000_000_000u32);
        for i in 0..200u32 {
            let now = start + Duration::from_millis(u64::from(i) * 10);
            if i == 50 {
                s.set_target(2);
            }
            // Layer 0 keyframes at 0 and 120; layer 2 at 90 (the switch) and 150.
            for (layer, seq, ts, keyframe) in [
                (2u8, &mut seq2, &mut ts2, i == 90 || i == 150),
                (0u8, &mut seq0, &mut ts0, i == 0 || i == 120),
            ] {
                *seq = seq.wrapping_add(1);
                *ts = ts.wrapping_add(900);
                if let Verdict::Forward { switched } = s.on_packet(layer, keyframe) {
                    if switched {
                        munger.mark_break();
                    }
                    let m = munger.forward(*seq, *ts, now).expect("in the run");
                    out.push((m.sequence_number, m.timestamp));
                }
            }
        }
        assert_eq!(
            out.len(),
            200,
            "each tick forwards exactly one layer's packet"
        );
        for pair in out.windows(2) {
            assert_eq!(
                pair[1].0,
                pair[0].0.wrapping_add(1),
                "no hole, no duplicate"
            );
            let step = pair[1].1.wrapping_sub(pair[0].1);
            assert!((1..=900).contains(&step), "timestamps move forward: {step}");
        }
        assert_eq!(s.current(), Some(2));
        // A late packet of the old layer after the switch is refused.
        assert_eq!(s.on_packet(0, false), Verdict::Skip);
    }

    #[test]
    fn rates_are_measured_per_tick() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.tick(t0);
        for i in 1..=50u64 {
            m.add(12_500); // 1 Mb/s in 100 ms ticks
            m.tick(t0 + Duration::from_millis(100 * i));
        }
        assert!(
            (m.bits_per_second() - 1_000_000.0).abs() < 10_000.0,
            "{}",
            m.bits_per_second()
        );
        m.tick(t0 + Duration::from_millis(5_000));
        for i in 51..=80u64 {
            m.tick(t0 + Duration::from_millis(100 * i));
        }
        assert!(
            m.bits_per_second() < 10_000.0,
            "stopped: {}",
            m.bits_per_second()
        );
    }

    #[test]
    fn videos_share_the_budget_large_first() {
        let three = |want, large| Demand {
            want,
            rates: [150_000.0, 500_000.0, 1_500_000.0],
            large,
        };
        // Plenty: everyone gets what the view asks.
        let all = [three(2, true), three(0, false), three(1, false)];
        assert_eq!(allocate(&all, 10e6), vec![2, 0, 1]);
        // 1.2 Mb/s: everyone's lowest (450 k), then the large tile climbs as far as it can
        // (to 500 k: +350 k), then the thumbnail asking for the middle layer (+350 k).
        let listed = [three(1, false), three(2, true), three(0, false)];
        assert_eq!(allocate(&listed, 1_200_000.0), vec![1, 1, 0]);
        assert_eq!(allocate(&listed, 1_000_000.0), vec![0, 1, 0]);
        // Not even the lowest layers fit: they are sent anyway (nothing is paused).
        assert_eq!(allocate(&listed, 100_000.0), vec![0, 0, 0]);
        // One-layer videos and unknown rates.
        let single = Demand {
            want: 0,
            rates: [800_000.0, 0.0, 0.0],
            large: true,
        };
        let unknown = Demand {
            want: 2,
            rates: [0.0; MAX_LAYERS],
            large: false,
        };
        assert_eq!(allocate(&[single, unknown], 900_000.0), vec![0, 2]);
        assert!(allocate(&[], 1.0).is_empty());
    }

    #[test]
    fn vp8_sizes_from_keyframes_only() {
        // S=1, PID=0; frame tag (keyframe: bit 0 clear), start code, 1280 × 720.
        let key = [
            0x10, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02,
        ];
        assert_eq!(vp8_keyframe_size(&key), Some((1280, 720)));
        // With an extended descriptor (I, 15-bit picture id) and scaling bits set.
        let ext = [
            0x90, 0x80, 0x81, 0x23, 0x50, 0x2a, 0x01, 0x9d, 0x01, 0x2a, 0x40, 0x41, 0xb4, 0xc0,
        ];
        assert_eq!(vp8_keyframe_size(&ext), Some((320, 180)));
        let mut inter = key;
        inter[1] |= 1;
        assert_eq!(vp8_keyframe_size(&inter), None);
        let mut bad_code = key;
        bad_code[5] = 0;
        assert_eq!(vp8_keyframe_size(&bad_code), None);
        for n in 0..key.len() {
            assert_eq!(vp8_keyframe_size(&key[..n]), None, "truncated at {n}");
        }
        assert_eq!(vp8_keyframe_size(&[0x90]), None);
        assert_eq!(
            vp8_keyframe_size(&[0x00, 0x50]),
            None,
            "not a partition start"
        );
    }

    #[test]
    fn dynacast_turns_a_layer_off_after_idling_and_on_at_once() {
        let t0 = Instant::now();
        let mut d = Dynacast::default();
        assert!(
            d.is_on(0) && d.is_on(1) && d.is_on(2),
            "every layer until told"
        );
        // Only the lowest layer needed: nothing changes until the others idled long enough.
        assert_eq!(d.update(&[true, false, false], t0), None);
        assert_eq!(
            d.update(&[true, false, false], t0 + LAYER_IDLE_AFTER / 2),
            None
        );
        assert_eq!(
            d.update(&[true, false, false], t0 + LAYER_IDLE_AFTER),
            Some([true, false, false])
        );
        assert!(!d.is_on(2));
        assert_eq!(
            d.update(&[true, false, false], t0 + LAYER_IDLE_AFTER * 2),
            None,
            "told once"
        );
        // The top layer needed again: on at the same tick.
        let t1 = t0 + LAYER_IDLE_AFTER * 3;
        assert_eq!(
            d.update(&[true, false, true], t1),
            Some([true, false, true])
        );
        // Needed for a moment only: it stays on for the whole grace period again.
        assert_eq!(d.update(&[true, false, false], t1), None);
        assert_eq!(
            d.update(
                &[true, false, false],
                t1 + LAYER_IDLE_AFTER - Duration::from_millis(1)
            ),
            None
        );
        assert_eq!(
            d.update(&[true, false, false], t1 + LAYER_IDLE_AFTER),
            Some([true, false, false])
        );
    }

    #[test]
    fn dynacast_never_turns_every_layer_off() {
        let t0 = Instant::now();
        let mut d = Dynacast::default();
        assert_eq!(d.update(&[false, true], t0), None);
        assert_eq!(
            d.update(&[false, true], t0 + LAYER_IDLE_AFTER),
            Some([false, true, true]),
            "past the publication's layers nothing is touched"
        );
        // Nobody needs anything (nobody watches): left as it is, whatever the time.
        assert_eq!(d.update(&[false, false], t0 + LAYER_IDLE_AFTER * 2), None);
        assert_eq!(d.update(&[false, false], t0 + LAYER_IDLE_AFTER * 9), None);
        assert!(d.is_on(1));
        // Watched again as a thumbnail: the lowest layer comes back, and the top one, idle
        // for long, goes off at once.
        assert_eq!(
            d.update(&[true, false], t0 + LAYER_IDLE_AFTER * 10),
            Some([true, false, true])
        );
    }

    #[test]
    fn loss_cuts_the_budget_and_low_loss_grows_it_back() {
        let t0 = Instant::now();
        let sec = Duration::from_secs(1);
        let mut c = LossControl::default();
        c.report(0.0, 1_000_000.0, 2_000_000.0, t0);
        c.report(0.05, 1_000_000.0, 2_000_000.0, t0 + sec);
        assert_eq!(c.allowed(), None, "no limit without heavy loss");
        // 30 % lost while receiving 1 Mb/s: 850 kb/s.
        c.report(0.3, 1_000_000.0, 2_000_000.0, t0 + sec * 2);
        let cut = c.allowed().unwrap();
        assert!((cut - 850_000.0).abs() < 1.0, "{cut}");
        // Within a second of the cut, more loss changes nothing (it tells of the old rate).
        c.report(0.3, 1_000_000.0, 2_000_000.0, t0 + sec * 2 + sec / 2);
        assert!((c.allowed().unwrap() - 850_000.0).abs() < 1.0);
        // Still lossy while receiving less (a lower layer): cut again from what it receives.
        c.report(0.2, 600_000.0, 2_000_000.0, t0 + sec * 3);
        assert!((c.allowed().unwrap() - 540_000.0).abs() < 1.0);
        // Moderate loss holds.
        c.report(0.05, 500_000.0, 2_000_000.0, t0 + sec * 4);
        assert!((c.allowed().unwrap() - 540_000.0).abs() < 1.0);
        // Low loss: 8 % a second (a long silence counts as 2 s at most).
        c.report(0.0, 500_000.0, 2_000_000.0, t0 + sec * 5);
        assert!((c.allowed().unwrap() - 583_200.0).abs() < 1.0);
        c.report(0.0, 500_000.0, 2_000_000.0, t0 + sec * 60);
        assert!((c.allowed().unwrap() - 583_200.0 * 1.16).abs() < 1.0);
        // Lifted once it covers what the views ask for (2 Mb/s), not before, however little
        // the subscriber receives meanwhile (a low layer, because of this very limit).
        let mut t = t0 + sec * 60;
        for _ in 0..12 {
            t += sec;
            c.report(0.0, 100_000.0, 2_000_000.0, t);
        }
        assert!(c.allowed().is_some_and(|a| a < 2_000_000.0));
        for _ in 0..8 {
            t += sec;
            c.report(0.0, 100_000.0, 2_000_000.0, t);
        }
        assert_eq!(c.allowed(), None);
        // Nonsense is ignored.
        c.report(f64::NAN, 1.0, 2_000_000.0, t);
        c.report(0.5, -1.0, 2_000_000.0, t);
        assert_eq!(c.allowed(), None);
    }

    #[test]
    fn a_growing_queue_cuts_the_budget_a_steady_one_grows_it_back() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut c = DelayControl::default();
        assert!(!c.report(Some(Queue::Steady), 1_000_000.0, 2_000_000.0, t0));
        assert!(!c.report(
            Some(Queue::Draining),
            1_000_000.0,
            2_000_000.0,
            t0 + ms(100)
        ));
        assert_eq!(c.allowed(), None, "no limit while the queue does not grow");
        // Growing once: a stall, maybe; twice in a row while receiving 2 Mb/s: 1.7 Mb/s.
        assert!(!c.report(Some(Queue::Growing), 2_000_000.0, 2_000_000.0, t0 + ms(100)));
        assert!(!c.report(Some(Queue::Steady), 2_000_000.0, 2_000_000.0, t0 + ms(150)));
        assert!(!c.report(Some(Queue::Growing), 2_000_000.0, 2_000_000.0, t0 + ms(180)));
        assert_eq!(c.allowed(), None);
        assert!(c.report(Some(Queue::Growing), 2_000_000.0, 2_000_000.0, t0 + ms(200)));
        assert!((c.allowed().unwrap() - 1_700_000.0).abs() < 1.0);
        // Still growing 300 ms later: the queue has not had time to drain; no second cut.
        assert!(!c.report(Some(Queue::Growing), 1_700_000.0, 2_000_000.0, t0 + ms(500)));
        // Still growing after 500 ms: cut again, from what it receives now.
        assert!(c.report(Some(Queue::Growing), 1_500_000.0, 2_000_000.0, t0 + ms(700)));
        assert!((c.allowed().unwrap() - 1_275_000.0).abs() < 1.0);
        // Draining holds; steady grows 8 % a second and lifts once the views are covered.
        c.report(
            Some(Queue::Draining),
            1_200_000.0,
            2_000_000.0,
            t0 + ms(1_700),
        );
        assert!((c.allowed().unwrap() - 1_275_000.0).abs() < 1.0);
        c.report(
            Some(Queue::Steady),
            1_200_000.0,
            2_000_000.0,
            t0 + ms(2_700),
        );
        assert!((c.allowed().unwrap() - 1_377_000.0).abs() < 1.0);
        let mut t = t0 + ms(2_700);
        for _ in 0..7 {
            t += Duration::from_secs(1);
            c.report(Some(Queue::Steady), 1_200_000.0, 2_000_000.0, t);
        }
        assert_eq!(c.allowed(), None);
        // No feedback holds the limit for a second, then lets it grow.
        assert!(!c.report(Some(Queue::Growing), 1_000_000.0, 2_000_000.0, t + ms(600)));
        assert!(c.report(Some(Queue::Growing), 1_000_000.0, 2_000_000.0, t + ms(700)));
        assert!(!c.report(
            Some(Queue::Growing),
            1_000_000.0,
            2_000_000.0,
            t + ms(1_000)
        ));
        let cut = c.allowed().unwrap();
        c.report(None, 800_000.0, 2_000_000.0, t + ms(1_800));
        assert_eq!(c.allowed(), Some(cut), "held");
        c.report(None, 800_000.0, 2_000_000.0, t + ms(3_100));
        assert!(c.allowed().unwrap() > cut, "grows without news");
        let t = t + ms(3_100);
        for i in 1..=20 {
            c.report(None, 800_000.0, 2_000_000.0, t + Duration::from_secs(i));
        }
        assert_eq!(c.allowed(), None);
        // Nonsense is ignored.
        assert!(!c.report(Some(Queue::Growing), f64::NAN, 2_000_000.0, t + ms(600)));
        assert_eq!(c.allowed(), None);
    }

    #[test]
    fn the_tighter_limit_wins() {
        assert_eq!(tighter(None, None), None);
        assert_eq!(tighter(Some(5.0), None), Some(5.0));
        assert_eq!(tighter(None, Some(3.0)), Some(3.0));
        assert_eq!(tighter(Some(5.0), Some(3.0)), Some(3.0));
    }
}
