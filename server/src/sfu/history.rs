//! What the server keeps of the video it sent each subscriber, to answer its retransmission
//! requests (NACK, RFC 4585).
//!
//! The engine encrypts each forwarded copy itself (`RTCPeerConnection::protect_rtp`, the
//! vendored `rtc` patch), past the stack's interceptors, so the stack's NACK responder never
//! sees them: the engine keeps the protected datagrams here and sends a lost one again as it
//! was. The same bytes, not a re-encryption: SRTP must never protect two different payloads
//! under one packet index, and a resent datagram is exactly what the receiver would have had.
//!
//! Bounded three ways, so that one subscriber cannot make the server work or remember much for
//! it: by age ([`MAX_AGE`]) and count ([`MAX_PACKETS`]) per stream, by how often one packet goes
//! again ([`MAX_RESENDS`]), and by a per-connection budget that grows only with what the
//! connection is sent ([`Allowance`]), which every packet asked for costs, found or not. A
//! look-up is a binary search, never a scan.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Older packets are not sent again: past a second, a retransmission arrives after the
/// receiver's jitter buffer gave up on it, and a keyframe request is the better repair.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Most packets kept per stream (a 5 Mb/s screen share sends ~500 a second).
pub const MAX_PACKETS: usize = 512;

/// How many times one packet may be sent again.
pub const MAX_RESENDS: u8 = 2;

struct Entry {
    seq: u16,
    at: Instant,
    datagram: Bytes,
    /// Its transport-wide number, if it carries one (`super::downlink`).
    transport: Option<u64>,
    resends: u8,
}

/// The protected datagrams recently sent on one stream, oldest first.
#[derive(Default)]
pub struct History {
    sent: VecDeque<Entry>,
}

impl History {
    /// Remembers a datagram just sent with sequence number `seq` (and transport-wide number
    /// `transport`), and forgets what has aged out.
    pub fn push(&mut self, seq: u16, datagram: Bytes, transport: Option<u64>, now: Instant) {
        self.prune(now);
        if self.sent.len() >= MAX_PACKETS {
            self.sent.pop_front();
        }
        self.sent.push_back(Entry {
            seq,
            at: now,
            datagram,
            transport,
            resends: 0,
        });
    }

    /// The datagram with sequence number `seq` and its transport-wide number, if it was sent
    /// less than [`MAX_AGE`] ago and has not been sent again [`MAX_RESENDS`] times already (this
    /// counts as one more).
    pub fn resend(&mut self, seq: u16, now: Instant) -> Option<(Bytes, Option<u64>)> {
        self.prune(now);
        let first = self.sent.front()?.seq;
        // Entries are in the munger's order (rising, at most a window apart), with gaps where a
        // copy was not sent: a binary search by distance from the oldest, never a scan, so a
        // request for packets that are not here costs next to nothing.
        let offset = seq.wrapping_sub(first);
        let at = self
            .sent
            .binary_search_by_key(&offset, |e| e.seq.wrapping_sub(first))
            .ok()?;
        let entry = self.sent.get_mut(at)?;
        if entry.resends >= MAX_RESENDS {
            return None;
        }
        entry.resends += 1;
        Some((entry.datagram.clone(), entry.transport))
    }

    pub fn len(&self) -> usize {
        self.sent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }

    fn prune(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|e| now.saturating_duration_since(e.at) > MAX_AGE)
        {
            self.sent.pop_front();
        }
    }
}

/// A connection's retransmission budget: each packet sent to it earns a quarter of a resend,
/// up to [`Allowance::BURST`]. A subscriber on a lossy link gets its losses repaired (up to a
/// quarter of its stream); one that asks for everything again gets no more than that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allowance {
    tokens: f32,
}

impl Allowance {
    pub const BURST: f32 = 64.0;
    const PER_PACKET: f32 = 0.25;

    pub fn new() -> Self {
        Self {
            tokens: Self::BURST,
        }
    }

    /// One packet sent.
    pub fn earn(&mut self) {
        self.tokens = (self.tokens + Self::PER_PACKET).min(Self::BURST);
    }

    /// Takes one resend from the budget, if there is one left.
    pub fn spend(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Default for Allowance {
    fn default() -> Self {
        Self::new()
    }
}

/// The sequence numbers one NACK item asks for: `packet_id`, and each `packet_id + i + 1` whose
/// bit `i` of `lost_packets` is set (RFC 4585 §6.2.1).
pub fn nacked(packet_id: u16, lost_packets: u16) -> impl Iterator<Item = u16> {
    std::iter::once(packet_id).chain(
        (0..16u16)
            .filter(move |i| lost_packets & (1 << i) != 0)
            .map(move |i| packet_id.wrapping_add(i + 1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(seq: u16) -> Bytes {
        Bytes::from(seq.to_be_bytes().to_vec())
    }

    #[test]
    fn resends_what_it_kept_at_most_twice_and_only_while_fresh() {
        let t0 = Instant::now();
        let mut h = History::default();
        for (i, seq) in (65_530u16..=65_535).chain(0..10).enumerate() {
            h.push(
                seq,
                datagram(seq),
                None,
                t0 + Duration::from_millis(i as u64),
            );
        }
        let now = t0 + Duration::from_millis(20);
        // Across the wrap, found at its offset.
        assert_eq!(h.resend(65_535, now), Some((datagram(65_535), None)));
        assert_eq!(h.resend(3, now), Some((datagram(3), None)));
        assert_eq!(h.resend(3, now), Some((datagram(3), None)));
        assert_eq!(h.resend(3, now), None, "a third resend of one packet");
        assert_eq!(h.resend(500, now), None, "never sent");
        // Aged out.
        let later = t0 + MAX_AGE + Duration::from_millis(20);
        assert_eq!(h.resend(4, later), None);
        assert_eq!(h.resend(9, later), None);
        assert!(h.is_empty());
    }

    #[test]
    fn finds_packets_after_a_gap_in_the_numbering() {
        let t0 = Instant::now();
        let mut h = History::default();
        for seq in [65_533u16, 65_535, 1, 2, 3, 40, 41] {
            h.push(seq, datagram(seq), None, t0);
        }
        for seq in [65_533, 65_535, 2, 40, 41] {
            assert_eq!(h.resend(seq, t0), Some((datagram(seq), None)), "{seq}");
        }
        for seq in [65_534, 0, 4, 39, 42, 30_000, 65_532] {
            assert_eq!(h.resend(seq, t0), None, "{seq}");
        }
    }

    #[test]
    fn keeps_at_most_max_packets() {
        let t0 = Instant::now();
        let mut h = History::default();
        for seq in 0..(MAX_PACKETS as u16 + 100) {
            h.push(seq, datagram(seq), None, t0);
        }
        assert_eq!(h.len(), MAX_PACKETS);
        assert_eq!(h.resend(99, t0), None);
        assert_eq!(h.resend(100, t0), Some((datagram(100), None)));
    }

    #[test]
    fn the_allowance_grows_with_what_is_sent() {
        let mut a = Allowance::new();
        let mut granted = 0;
        while a.spend() {
            granted += 1;
        }
        assert_eq!(granted, Allowance::BURST as usize);
        for _ in 0..40 {
            a.earn();
        }
        let mut more = 0;
        while a.spend() {
            more += 1;
        }
        assert_eq!(more, 10, "a quarter of the 40 packets sent since");
    }

    #[test]
    fn nack_items_name_the_packet_and_its_bitmask() {
        assert_eq!(nacked(10, 0).collect::<Vec<_>>(), vec![10]);
        assert_eq!(
            nacked(65_534, 0b101).collect::<Vec<_>>(),
            vec![65_534, 65_535, 1]
        );
        assert_eq!(nacked(0, u16::MAX).count(), 17);
    }
}
