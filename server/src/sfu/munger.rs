//! Sequence numbers and timestamps of one downstream, pure and allocation-free.
//!
//! A subscriber's decoder expects one continuous stream per SSRC: sequence numbers without holes
//! (a hole means loss: it asks for retransmissions and waits) and timestamps that move with the
//! media clock. The server sometimes breaks that: a host pauses a publication and resumes it
//! later, or a reused send slot starts carrying another publisher. The [`Munger`] keeps what
//! the subscriber sees continuous across such breaks: after a break, the next packet continues
//! the subscriber's sequence at the next number and its timestamp advances by the wall-clock time
//! that passed. Between breaks, numbers are shifted by a constant, so the publisher's own holes
//! (real loss) stay holes and retransmission requests can be mapped back.
//!
//! Internally sequence numbers and timestamps are 64-bit ("extended") so wraparounds of the
//! 16-bit and 32-bit fields never confuse ordering.

use std::time::Instant;

/// Extends 16-bit RTP sequence numbers to 64 bits, across wraparounds and reordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqExtender {
    last: Option<u64>,
}

impl SeqExtender {
    /// The extended value of `seq`: the one nearest to the last extended value seen.
    pub fn extend(&mut self, seq: u16) -> u64 {
        let ext = match self.last {
            None => (1u64 << 16) + u64::from(seq),
            Some(last) => {
                let delta = i64::from(seq.wrapping_sub(last as u16) as i16);
                last.saturating_add_signed(delta)
            }
        };
        if self.last.is_none_or(|last| ext > last) {
            self.last = Some(ext);
        }
        ext
    }
}

/// Extends 32-bit RTP timestamps to 64 bits, across wraparounds and reordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimestampExtender {
    last: Option<u64>,
}

impl TimestampExtender {
    pub fn extend(&mut self, ts: u32) -> u64 {
        let ext = match self.last {
            None => (1u64 << 32) + u64::from(ts),
            Some(last) => {
                let delta = i64::from(ts.wrapping_sub(last as u32) as i32);
                last.saturating_add_signed(delta)
            }
        };
        if self.last.is_none_or(|last| ext > last) {
            self.last = Some(ext);
        }
        ext
    }
}

/// The fields of an outgoing packet that the munger sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Munged {
    pub sequence_number: u16,
    pub timestamp: u32,
}

/// One downstream's translation from the source's numbering to the subscriber's.
#[derive(Debug, Clone)]
pub struct Munger {
    /// The media clock in Hz (90 000 for video, 48 000 for Opus).
    clock_rate: u32,
    seq_in: SeqExtender,
    ts_in: TimestampExtender,
    /// Added (wrapping, in extended space) to an incoming extended number to get the outgoing one.
    seq_offset: u64,
    ts_offset: u64,
    /// Lowest incoming extended sequence number of the current run; older packets belong to
    /// the previous run and are not forwarded.
    run_start: Option<u64>,
    /// Highest outgoing extended sequence number, and the timestamp and time of that packet.
    last_out: Option<(u64, u64, Instant)>,
    /// Which of the [`SENT_WINDOW`] outgoing numbers up to `last_out` went out (bit `i`:
    /// `last_out - i`).
    sent: u128,
    /// The next packet starts a new run (a pause ended, or the source changed).
    break_pending: bool,
}

/// How far behind the newest outgoing number a packet may still go out (once).
pub const SENT_WINDOW: u64 = 128;

impl Munger {
    /// A munger whose first packet starts at `first_seq` / `first_ts` on the wire (random values,
    /// as RFC 3550 asks).
    pub fn new(clock_rate: u32, first_seq: u16, first_ts: u32) -> Self {
        let mut seq_in = SeqExtender::default();
        let mut ts_in = TimestampExtender::default();
        Self {
            clock_rate: clock_rate.max(1),
            seq_offset: seq_in.extend(first_seq),
            ts_offset: ts_in.extend(first_ts),
            seq_in: SeqExtender::default(),
            ts_in: TimestampExtender::default(),
            run_start: None,
            last_out: None,
            sent: 0,
            break_pending: true,
        }
    }

    /// The stream breaks here (paused and resumed, or another source): the next packet continues
    /// the subscriber's numbering instead of the source's.
    pub fn mark_break(&mut self) {
        self.break_pending = true;
    }

    /// Translates one incoming packet received at `now`. `None` when it must not be forwarded: a
    /// late packet from before the last break, one whose outgoing number already went out (a
    /// duplicate), or one more than [`SENT_WINDOW`] behind the newest.
    pub fn forward(&mut self, seq: u16, ts: u32, now: Instant) -> Option<Munged> {
        if self.break_pending {
            // A new run: forget the old source's numbering and continue ours.
            self.seq_in = SeqExtender::default();
            self.ts_in = TimestampExtender::default();
        }
        let seq_ext = self.seq_in.extend(seq);
        let ts_ext = self.ts_in.extend(ts);
        if self.break_pending {
            self.break_pending = false;
            let (next_seq, next_ts) = match self.last_out {
                // The very first packet: the starting values given to `new`.
                None => (self.seq_offset, self.ts_offset),
                Some((out_seq, out_ts, at)) => {
                    let elapsed = now.saturating_duration_since(at);
                    let ticks = (elapsed.as_secs_f64() * f64::from(self.clock_rate)) as u64;
                    (out_seq + 1, out_ts + ticks.max(1))
                }
            };
            self.seq_offset = next_seq.wrapping_sub(seq_ext);
            self.ts_offset = next_ts.wrapping_sub(ts_ext);
            self.run_start = Some(seq_ext);
        }
        if self.run_start.is_some_and(|start| seq_ext < start) {
            return None;
        }
        let out_seq = seq_ext.wrapping_add(self.seq_offset);
        let out_ts = ts_ext.wrapping_add(self.ts_offset);
        // Each outgoing number goes out once: the subscriber's SRTP must never protect two
        // packets under one index (a publisher's duplicate, or a repair of a packet that came
        // after all, would be a second packet with that number), and a number far behind is
        // of no use to it.
        match self.last_out {
            Some((last, _, _)) if out_seq <= last => {
                let back = last - out_seq;
                if back >= SENT_WINDOW || self.sent & (1 << back) != 0 {
                    return None;
                }
                self.sent |= 1 << back;
            }
            last => {
                let ahead = last.map_or(SENT_WINDOW, |(last, _, _)| out_seq - last);
                self.sent = if ahead >= SENT_WINDOW {
                    1
                } else {
                    self.sent << ahead | 1
                };
                self.last_out = Some((out_seq, out_ts, now));
            }
        }
        Some(Munged {
            sequence_number: out_seq as u16,
            timestamp: out_ts as u32,
        })
    }

    /// The source's sequence number for a subscriber's `seq` (to pass a retransmission request
    /// upstream), if it belongs to the current run.
    pub fn source_seq(&self, seq: u16) -> Option<u16> {
        let (last_out, _, _) = self.last_out?;
        let delta = i64::from(seq.wrapping_sub(last_out as u16) as i16);
        let out_ext = last_out.checked_add_signed(delta)?;
        let in_ext = out_ext.wrapping_sub(self.seq_offset);
        let start = self.run_start?;
        (in_ext >= start && !self.break_pending).then_some(in_ext as u16)
    }

    /// The subscriber's timestamp for a source timestamp (to translate a sender report).
    pub fn out_timestamp(&self, ts: u32) -> u32 {
        let mut ts_in = self.ts_in;
        ts_in.extend(ts).wrapping_add(self.ts_offset) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_outgoing_number_goes_out_once() {
        let t0 = Instant::now();
        let mut m = Munger::new(90_000, 100, 0);
        let first = m.forward(5_000, 0, t0).unwrap().sequence_number;
        assert_eq!(first, 100);
        assert!(m.forward(5_001, 10, t0).is_some());
        assert_eq!(m.forward(5_001, 10, t0), None, "a duplicate");
        assert_eq!(
            m.forward(5_000, 0, t0),
            None,
            "a repair of a packet that came"
        );
        // A real gap repaired later goes out once.
        assert!(m.forward(5_004, 40, t0).is_some());
        assert_eq!(
            m.forward(5_003, 30, t0).map(|o| o.sequence_number),
            Some(103)
        );
        assert_eq!(m.forward(5_003, 30, t0), None);
        assert!(m.forward(5_002, 20, t0).is_some());
        // Far ahead, then something from before the window.
        assert!(m.forward(5_300, 3_000, t0).is_some());
        assert_eq!(
            m.forward(5_100, 1_000, t0),
            None,
            "more than the window behind"
        );
        assert!(m.forward(5_200, 2_000, t0).is_some(), "within the window");
        // Across a break the numbering continues; the old run's packets stay out.
        m.mark_break();
        let next = m.forward(9, 0, t0).unwrap().sequence_number;
        assert_eq!(next, 401);
        assert_eq!(m.forward(9, 0, t0), None);
    }

    #[test]
    fn sequence_numbers_extend_across_the_wrap_and_reordering() {
        let mut e = SeqExtender::default();
        let a = e.extend(65_534);
        let b = e.extend(65_535);
        let c = e.extend(0);
        let d = e.extend(65_533); // late, from before the wrap
        let f = e.extend(2);
        assert_eq!((b - a, c - b, f - c), (1, 1, 2));
        assert_eq!(a - d, 1);
        // Many wraps in a row keep counting up.
        let mut e = SeqExtender::default();
        let first = e.extend(0);
        let mut last = first;
        for i in 1..=300_000u32 {
            last = e.extend(i as u16);
        }
        assert_eq!(last - first, 300_000);
    }

    #[test]
    fn timestamps_extend_across_the_wrap() {
        let mut e = TimestampExtender::default();
        let a = e.extend(u32::MAX - 1_500);
        let b = e.extend(1_500);
        assert_eq!(b - a, 3_001);
        let late = e.extend(u32::MAX - 3_000);
        assert_eq!(a - late, 1_500);
    }

    #[test]
    fn a_steady_stream_is_shifted_and_keeps_its_holes() {
        let t = Instant::now();
        let mut m = Munger::new(90_000, 1_000, 5_000);
        let out: Vec<Munged> = [(40_000u16, 10u32), (40_001, 3_010), (40_003, 9_010)]
            .iter()
            .map(|&(s, ts)| m.forward(s, ts, t).expect("forwarded"))
            .collect();
        assert_eq!(
            out.iter().map(|o| o.sequence_number).collect::<Vec<_>>(),
            vec![1_000, 1_001, 1_003],
            "real loss stays a hole"
        );
        assert_eq!(
            out.iter().map(|o| o.timestamp).collect::<Vec<_>>(),
            vec![5_000, 8_000, 14_000]
        );
        // A retransmission request for the hole maps back to the source's number.
        assert_eq!(m.source_seq(1_002), Some(40_002));
        // Reordered packets keep their place.
        assert_eq!(
            m.forward(40_002, 6_010, t).map(|o| o.sequence_number),
            Some(1_002)
        );
    }

    #[test]
    fn the_subscribers_numbers_wrap_cleanly() {
        let t = Instant::now();
        let mut m = Munger::new(48_000, 65_534, u32::MAX - 960);
        let out: Vec<Munged> = (0..4u16)
            .map(|i| {
                m.forward(100 + i, 960 * u32::from(i), t)
                    .expect("forwarded")
            })
            .collect();
        let seqs: Vec<u16> = out.iter().map(|o| o.sequence_number).collect();
        assert_eq!(seqs, vec![65_534, 65_535, 0, 1]);
        assert_eq!(out[3].timestamp, 1_919);
        assert_eq!(m.source_seq(0), Some(102));
        assert_eq!(m.source_seq(65_535), Some(101));
    }

    #[test]
    fn a_source_wrapping_under_a_shift_is_seamless() {
        let t = Instant::now();
        let mut m = Munger::new(90_000, 7, 7);
        let mut last = None;
        for i in 0..200_000u32 {
            let seq = (60_000 + i) as u16;
            let ts = (u32::MAX - 100_000).wrapping_add(i * 3_000);
            let out = m.forward(seq, ts, t).expect("forwarded");
            if let Some((ls, lt)) = last {
                assert_eq!(out.sequence_number, u16::wrapping_add(ls, 1));
                assert_eq!(out.timestamp, u32::wrapping_add(lt, 3_000));
            }
            last = Some((out.sequence_number, out.timestamp));
        }
    }

    #[test]
    fn after_a_break_numbering_continues_without_a_gap() {
        let t0 = Instant::now();
        let mut m = Munger::new(90_000, 500, 0);
        for i in 0..10u16 {
            m.forward(
                2_000 + i,
                3_000 * u32::from(i),
                t0 + Duration::from_millis(33 * u64::from(i)),
            )
            .expect("forwarded");
        }
        let before = m
            .forward(2_010, 30_000, t0 + Duration::from_millis(330))
            .expect("fwd");
        // Paused for 2 s: the source went on numbering (or another source took over).
        m.mark_break();
        let resumed = t0 + Duration::from_millis(2_330);
        let after = m.forward(31_000, 77_777_777, resumed).expect("forwarded");
        assert_eq!(
            after.sequence_number,
            before.sequence_number.wrapping_add(1)
        );
        assert_eq!(
            after.timestamp,
            before.timestamp.wrapping_add(180_000),
            "advanced by the 2 s that passed"
        );
        // The new run is shifted like any other...
        let next = m.forward(31_001, 77_780_777, resumed).expect("forwarded");
        assert_eq!(next.sequence_number, after.sequence_number.wrapping_add(1));
        assert_eq!(next.timestamp, after.timestamp.wrapping_add(3_000));
        // ...and a late packet from before the break is not forwarded.
        assert_eq!(m.forward(30_999, 77_774_777, resumed), None);
        // Retransmission requests for the old run no longer map to the new source.
        assert_eq!(m.source_seq(before.sequence_number), None);
        assert_eq!(m.source_seq(next.sequence_number), Some(31_001));
    }

    #[test]
    fn sender_report_timestamps_are_translated() {
        let t = Instant::now();
        let mut m = Munger::new(90_000, 0, 1_000_000);
        m.forward(9, 5_000, t).expect("forwarded");
        assert_eq!(m.out_timestamp(5_000), 1_000_000);
        assert_eq!(m.out_timestamp(8_000), 1_003_000);
        assert_eq!(m.out_timestamp(4_000), 999_000);
    }
}
