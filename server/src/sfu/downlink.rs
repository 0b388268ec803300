//! A subscriber's downlink, measured by delay: the engine numbers every copy it sends the
//! subscriber (transport-wide sequence numbers, `rewrite::stamp_transport_seq`), the
//! subscriber's browser or app reports when each arrived (transport-wide congestion control
//! feedback, TWCC), and the delay-based half of Google Congestion Control tells whether the
//! queue toward it is growing: packets grouped by send time, the change of their one-way delay
//! filtered (`rtc`'s `SlopeEstimator`, a Kalman filter) and compared with an adaptive threshold
//! (`rtc`'s `OveruseDetector`).
//!
//! A growing queue is the early sign of a downlink that cannot carry what it is sent, before any
//! packet is lost; `layers::DelayControl` turns it into a limit on the subscriber's layers. The
//! estimator's other half (a rate that climbs ~8 % a second, and probing to climb faster) is not
//! used: layers go up when a view asks for them, and the delay signal and the loss reports bring
//! them down when the link cannot take it.

use std::time::{Duration, Instant};

use rtc::interceptor::{Acknowledgement, OveruseDetector, PacketReport, SlopeEstimator, Usage};

/// Sent packets remembered to match feedback against: about two seconds of a full room's
/// downlink (~1,000 packets a second), far longer than feedback takes to come back (~100 ms).
const LOG: usize = 2048;

/// What the delay signal says about the queue toward a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Queue {
    /// Neither growing nor draining.
    #[default]
    Steady,
    /// Growing: more is sent than the path carries.
    Growing,
    /// Draining: the path carries more than it is sent.
    Draining,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    /// The packet's transport-wide number, unwrapped.
    number: u64,
    at: Instant,
    size: usize,
    /// Sent again on a retransmission request (same bytes, same number): when it arrived says
    /// nothing about the queue, since it left long after `at`.
    resent: bool,
}

/// One subscriber connection's numbering and delay detector.
pub struct Downlink {
    /// The unwrapped number of the next packet.
    next: u64,
    log: Box<[Option<Sent>]>,
    /// The highest number fed to the detector (each packet is fed once, in order).
    fed: Option<u64>,
    slope: SlopeEstimator,
    detector: OveruseDetector,
    /// Feedback items that matched a packet sent.
    matched: u64,
    /// Delay readings so far, up to [`MAX_GROUPS`].
    groups: u32,
    /// The first arrived packet (departure, arrival) of the previous and of the current half
    /// second, and the latest one: what the link delivered lately, against what was sent.
    span: Span,
}

/// How long a stretch of packets [`Downlink`] compares departures and arrivals over (two of
/// them, so between this and twice this).
const SPAN: Duration = Duration::from_millis(500);

/// Arrivals may spread this much more than departures and the link still counts as carrying
/// what it is sent (above, it delivers less than ~90 % of it).
const KEEPING_UP: f64 = 1.1;

#[derive(Debug, Clone, Copy, Default)]
struct Span {
    previous: Option<(Instant, Duration)>,
    current: Option<(Instant, Duration)>,
    latest: Option<(Instant, Duration)>,
}

impl Span {
    fn add(&mut self, departure: Instant, arrival: Duration) {
        let current = *self.current.get_or_insert((departure, arrival));
        if departure.saturating_duration_since(current.0) >= SPAN {
            self.previous = Some(current);
            self.current = Some((departure, arrival));
        }
        self.latest = Some((departure, arrival));
    }

    /// Whether the packets of the last half second to second arrived about as fast as they
    /// left (`None`: too few to say). A receiver that stalls for a moment and then reads its
    /// backlog delays its timestamps as a queue would, but over a second it received as much
    /// as it was sent; a link that cannot carry the rate spreads the arrivals out.
    fn keeping_up(&self) -> Option<bool> {
        let (first, last) = (self.previous.or(self.current)?, self.latest?);
        let sent = last.0.saturating_duration_since(first.0).as_secs_f64();
        let arrived = last.1.saturating_sub(first.1).as_secs_f64();
        (sent >= SPAN.as_secs_f64()).then_some(arrived <= sent * KEEPING_UP)
    }
}

/// The most readings the delay estimate is multiplied by (libwebrtc's `kMinNumDeltas` cap).
const MAX_GROUPS: u32 = 60;

impl Default for Downlink {
    fn default() -> Self {
        Self {
            next: 0,
            log: vec![None; LOG].into_boxed_slice(),
            fed: None,
            slope: SlopeEstimator::new(),
            detector: OveruseDetector::new(),
            matched: 0,
            groups: 0,
            span: Span::default(),
        }
    }
}

impl Downlink {
    /// Numbers a packet of `size` bytes sent now; returns its number (the low 16 bits go on the
    /// wire).
    pub fn stamp(&mut self, size: usize, now: Instant) -> u64 {
        let number = self.next;
        self.next += 1;
        if let Some(slot) = self.log.get_mut(index(number)) {
            *slot = Some(Sent {
                number,
                at: now,
                size,
                resent: false,
            });
        }
        number
    }

    /// Packet `number` went out again (a retransmission): feedback about it is not fed to the
    /// detector.
    pub fn resent(&mut self, number: u64) {
        if let Some(Some(sent)) = self.log.get_mut(index(number))
            && sent.number == number
        {
            sent.resent = true;
        }
    }

    /// The subscriber's feedback about packets it was sent: what the queue toward it does now,
    /// if the feedback closed a group of packets to measure (`None`: nothing new to say).
    /// Items about packets not sent, too old, already reported or sent again are ignored.
    pub fn on_feedback(&mut self, acks: &[Acknowledgement]) -> Option<Queue> {
        let mut said = None;
        for ack in acks {
            // The packet sent last with these low 16 bits.
            // (0: a number not sent yet, or one 65,536 packets old.)
            let back = (self.next as u16).wrapping_sub(ack.sequence_number);
            let Some(number) = self.next.checked_sub(u64::from(back)).filter(|_| back > 0) else {
                continue;
            };
            if self.fed.is_some_and(|f| number <= f) {
                continue;
            }
            let Some(Some(sent)) = self.log.get(index(number)).copied() else {
                continue;
            };
            if sent.number != number {
                continue;
            }
            self.fed = Some(number);
            self.matched += 1;
            if sent.resent {
                continue;
            }
            if ack.arrived
                && let Some(arrival) = ack.arrival
            {
                self.span.add(sent.at, arrival);
            }
            let report = PacketReport {
                ssrc: 0,
                id: number,
                rtp_sequence_number: 0,
                is_twcc: true,
                twcc_sequence_number: ack.sequence_number,
                size: sent.size,
                arrived: ack.arrived,
                departure: sent.at,
                arrival: ack.arrival,
                ecn: ack.ecn,
            };
            if let Some(trend) = self.slope.accumulate(&report) {
                // As libwebrtc's detector does (`rtc`'s compares the bare per-group estimate
                // with a 12.5 ms threshold, which only a link carrying a fraction of what it is
                // sent would cross): the estimate counts times the groups seen, at most 60.
                self.groups = (self.groups + 1).min(MAX_GROUPS);
                let scaled = trend.estimate_ms * f64::from(self.groups);
                said = Some(match self.detector.update(trend.at, scaled) {
                    Usage::Normal => Queue::Steady,
                    Usage::Over => Queue::Growing,
                    Usage::Under => Queue::Draining,
                });
            }
        }
        // A growing delay while everything sent lately arrived about as fast as it left is a
        // receiver that stalled (a busy machine stamps arrivals late), not a link that cannot
        // carry the rate: nothing to cut for.
        if said == Some(Queue::Growing) && self.span.keeping_up() == Some(true) {
            said = Some(Queue::Steady);
        }
        said
    }

    /// Feedback items that matched a packet sent, so far.
    pub fn matched(&self) -> u64 {
        self.matched
    }
}

fn index(number: u64) -> usize {
    (number % LOG as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::rtcp::transport_feedbacks::cc_feedback_report::Ecn;
    use std::time::Duration;

    fn arrived(seq: u16, at: Duration) -> Acknowledgement {
        Acknowledgement::received(seq, Some(at), Ecn::default())
    }

    /// Sends a packet every 5 ms for `seconds` and reports each arrival after a one-way delay
    /// of `delay(i)`, in feedback batches of 20; returns what the downlink said after each.
    fn run(seconds: u64, delay: impl Fn(u64) -> Duration) -> Vec<Queue> {
        let t0 = Instant::now();
        let mut d = Downlink::default();
        let mut said = Vec::new();
        let mut batch = Vec::new();
        for i in 0..seconds * 200 {
            let sent = Duration::from_millis(5 * i);
            let seq = d.stamp(1_200, t0 + sent) as u16;
            batch.push(arrived(seq, sent + delay(i)));
            if batch.len() == 20 {
                said.push(d.on_feedback(&batch).unwrap_or(Queue::Steady));
                batch.clear();
            }
        }
        said
    }

    #[test]
    fn a_steady_path_is_steady() {
        let said = run(4, |_| Duration::from_millis(20));
        assert!(said.iter().all(|q| *q == Queue::Steady), "{said:?}");
    }

    #[test]
    fn a_queue_that_builds_up_is_growing_and_one_that_drains_is_draining() {
        // For a second from the second second on, every packet waits 1 ms longer than the one
        // before (the link carries 5/6 of what it is sent), then the queue empties as fast.
        // (Each entry of `said` is 100 ms of packets.)
        let said = run(5, |i| {
            let ms = match i {
                0..200 => 0,
                200..400 => i - 200,
                400..600 => 600 - i,
                _ => 0,
            };
            Duration::from_millis(20 + ms)
        });
        // Said within half a second of the queue starting to grow (once the arrivals are seen
        // to spread out: about 100 ms of queue), and not before.
        let building = &said[10..17];
        assert!(building.contains(&Queue::Growing), "{said:?}");
        let draining = &said[20..30];
        assert!(draining.contains(&Queue::Draining), "{said:?}");
        assert!(said[..10].iter().all(|q| *q == Queue::Steady), "{said:?}");
    }

    #[test]
    fn jitter_alone_is_not_a_growing_queue() {
        // Up to 4 ms of jitter each way on every packet (a busy receiver), and no queue.
        let mut x: u64 = 12_345;
        let jitter: Vec<u64> = (0..2_000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (x >> 33) % 9
            })
            .collect();
        let said = run(10, |i| Duration::from_millis(16 + jitter[i as usize]));
        let growing = said.iter().filter(|q| **q == Queue::Growing).count();
        assert!(
            growing * 20 <= said.len(),
            "{growing} of {}: {said:?}",
            said.len()
        );
    }

    #[test]
    fn a_receiver_that_stalls_now_and_then_is_not_a_growing_queue() {
        // Every 600 ms the receiver stops reading for 150 ms, then reads its backlog at once
        // (a busy machine): arrivals are late in bursts, but it keeps up.
        let said = run(6, |i| {
            let sent = 5 * i;
            let in_cycle = sent % 600;
            let delay = 150_u64.saturating_sub(in_cycle);
            Duration::from_millis(20 + delay)
        });
        assert!(!said.contains(&Queue::Growing), "{said:?}");
    }

    #[test]
    fn a_packet_sent_again_says_nothing_about_the_queue() {
        // A steady path where every 10th packet is lost, asked for and sent again: it arrives
        // 150 ms after it first left, in the same feedback as its neighbours.
        let t0 = Instant::now();
        let mut d = Downlink::default();
        let mut batch = Vec::new();
        for i in 0..800u64 {
            let sent = Duration::from_millis(5 * i);
            let number = d.stamp(1_200, t0 + sent);
            let late = i % 10 == 3;
            if late {
                d.resent(number);
            }
            let delay = Duration::from_millis(if late { 150 } else { 20 });
            batch.push(arrived(number as u16, sent + delay));
            if batch.len() == 20 {
                let said = d.on_feedback(&batch);
                assert_ne!(said, Some(Queue::Growing), "at packet {i}");
                batch.clear();
            }
        }
        assert_eq!(
            d.matched(),
            800,
            "the resent ones count as reported, not measured"
        );
    }

    #[test]
    fn feedback_about_packets_never_sent_old_or_repeated_is_ignored() {
        let t0 = Instant::now();
        let mut d = Downlink::default();
        for i in 0..3_000u64 {
            d.stamp(100, t0 + Duration::from_millis(i));
        }
        // 3,000 sent: numbers 0–2999; the log holds the last 2,048.
        d.on_feedback(&[arrived(500, Duration::ZERO)]);
        assert_eq!(d.matched(), 0, "too old");
        d.on_feedback(&[arrived(2_999, Duration::from_millis(5))]);
        assert_eq!(d.matched(), 1);
        d.on_feedback(&[
            arrived(2_999, Duration::from_millis(5)),
            arrived(2_998, Duration::from_millis(5)),
        ]);
        assert_eq!(d.matched(), 1, "repeated, or older than what was fed");
        d.on_feedback(&[
            arrived(3_000, Duration::ZERO),
            arrived(60_000, Duration::ZERO),
        ]);
        assert_eq!(d.matched(), 1, "never sent");
        d.on_feedback(&[Acknowledgement::lost(2_999)]);
        // Wrapping: numbers go on past 65,535.
        for i in 0..70_000u64 {
            d.stamp(100, t0 + Duration::from_micros(i));
        }
        d.on_feedback(&[arrived(
            ((3_000 + 70_000 - 1) % 65_536) as u16,
            Duration::ZERO,
        )]);
        assert_eq!(d.matched(), 2);
    }
}
