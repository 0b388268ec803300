//! What the server counts, for `GET /metrics` (Prometheus / OpenMetrics text). Counts are
//! server-wide: no metric is labelled by room, participant or address, so the metrics say how
//! busy the server is and never who talks to whom.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Why a packet from a publisher did not reach a subscriber.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum DropReason {
    /// A host muted the publisher (or panic is on).
    Paused,
    /// A late packet from before a break in the stream, or a duplicate of one the subscriber
    /// was already sent (see `sfu::munger`).
    Late,
    /// The subscriber's connection refused it (not connected yet, or closing).
    WriteFailed,
    /// The kernel's send buffer was full: a subscriber (or the network toward it) could not
    /// keep up, and only that subscriber lost the datagram.
    SendBuffer,
    /// A datagram on the media port that belongs to no connection.
    Unrouted,
    /// A datagram a connection could not parse or did not expect.
    Malformed,
    /// RTP of a track whose codec was not negotiated.
    UnknownTrack,
    /// A datagram for a connection on another media thread, whose queue was full.
    Overload,
    /// Audio of someone who is not among the room's speakers now (not a loss: only the
    /// loudest few voices are forwarded).
    NotSpeaking,
    /// Video the subscriber does not show now (per subscriber; not a loss).
    Hidden,
    /// Video for a subscriber that waits for a keyframe to start (per subscriber).
    AwaitingKeyframe,
}

impl DropReason {
    const ALL: [(DropReason, &'static str); 11] = [
        (DropReason::Paused, "paused"),
        (DropReason::Late, "late"),
        (DropReason::WriteFailed, "write_failed"),
        (DropReason::SendBuffer, "send_buffer_full"),
        (DropReason::Unrouted, "unrouted"),
        (DropReason::Malformed, "malformed"),
        (DropReason::UnknownTrack, "unknown_track"),
        (DropReason::Overload, "overload"),
        (DropReason::NotSpeaking, "not_speaking"),
        (DropReason::Hidden, "hidden"),
        (DropReason::AwaitingKeyframe, "awaiting_keyframe"),
    ];
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: &'static str,
}

/// The server's counters. Cheap to update (atomics); shared by every part that counts.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    rtp_received: Counter,
    rtp_received_bytes: Counter,
    rtp_forwarded: Counter,
    rtp_forwarded_bytes: Counter,
    rtp_resent: Counter,
    rtp_resends_refused: Counter,
    downlink_feedback: Counter,
    downlink_cuts: Counter,
    path_changes: Counter,
    rtp_dropped: Family<DropLabels, Counter>,
    /// Each reason's counter of `rtp_dropped`, looked up once: the forwarding loop counts drops
    /// without the family's lock and hash (a series appears when first counted).
    dropped_by_reason: [OnceLock<Counter>; DropReason::ALL.len()],
    offers: Counter,
    joins: Counter,
    join_to_media: Histogram,
    rooms: Gauge,
    participants: Gauge,
    media_connections: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            rtp_received: Counter::default(),
            rtp_received_bytes: Counter::default(),
            rtp_forwarded: Counter::default(),
            rtp_forwarded_bytes: Counter::default(),
            rtp_resent: Counter::default(),
            rtp_resends_refused: Counter::default(),
            downlink_feedback: Counter::default(),
            downlink_cuts: Counter::default(),
            path_changes: Counter::default(),
            rtp_dropped: Family::default(),
            dropped_by_reason: Default::default(),
            offers: Counter::default(),
            joins: Counter::default(),
            join_to_media: Histogram::new([0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0]),
            rooms: Gauge::default(),
            participants: Gauge::default(),
            media_connections: Gauge::default(),
            registry: Registry::with_prefix("salon"),
        };
        m.registry.register(
            "rtp_received_packets",
            "RTP packets read from publishers",
            m.rtp_received.clone(),
        );
        m.registry.register(
            "rtp_received_bytes",
            "Payload bytes of the RTP packets read from publishers",
            m.rtp_received_bytes.clone(),
        );
        m.registry.register(
            "rtp_forwarded_packets",
            "RTP packets written to subscribers (one per packet and subscriber)",
            m.rtp_forwarded.clone(),
        );
        m.registry.register(
            "rtp_forwarded_bytes",
            "Payload bytes of the RTP packets written to subscribers",
            m.rtp_forwarded_bytes.clone(),
        );
        m.registry.register(
            "rtp_resent_packets",
            "Video packets sent again because a subscriber asked (NACK)",
            m.rtp_resent.clone(),
        );
        m.registry.register(
            "rtp_resends_refused_packets",
            "Retransmissions a subscriber asked for beyond its allowance (a quarter of what it \
             is sent)",
            m.rtp_resends_refused.clone(),
        );
        m.registry.register(
            "downlink_feedback_packets",
            "Forwarded packets a subscriber's congestion control feedback (TWCC) reported on",
            m.downlink_feedback.clone(),
        );
        m.registry.register(
            "downlink_delay_cuts",
            "Times a growing queue toward a subscriber cut its video budget (lower layers)",
            m.downlink_cuts.clone(),
        );
        m.registry.register(
            "media_path_changes",
            "Times a media connection's path moved to another client address (a client changed \
             networks; fresh keyframes are asked for both ways)",
            m.path_changes.clone(),
        );
        m.registry.register(
            "rtp_dropped_packets",
            "Packets not forwarded, by reason (paused: a host mute; late: from before a break in \
             the stream, or a duplicate; write_failed: the subscriber's leg refused it; send_buffer_full: the \
             kernel refused a datagram to one subscriber; unrouted: a datagram on the media port \
             for no connection; malformed: a datagram a connection refused; unknown_track: RTP of \
             a codec not negotiated; overload: a datagram for another media thread whose queue was \
             full)",
            m.rtp_dropped.clone(),
        );
        m.registry
            .register("offers", "SDP offers the server sent", m.offers.clone());
        m.registry.register(
            "joins",
            "Participants let into a room (resumes included)",
            m.joins.clone(),
        );
        m.registry.register(
            "join_to_media_seconds",
            "From being let in to media connected",
            m.join_to_media.clone(),
        );
        m.registry
            .register("rooms", "Rooms with people in them", m.rooms.clone());
        m.registry.register(
            "participants",
            "People in rooms (not counting the lobby)",
            m.participants.clone(),
        );
        m.registry.register(
            "media_connections",
            "Peer connections the media engine holds",
            m.media_connections.clone(),
        );
        m
    }

    /// A media connection was added (+1) or removed (-1).
    pub fn legs_changed(&self, by: i64) {
        self.media_connections.inc_by(by);
    }

    /// One packet read from a publisher.
    pub fn received(&self, bytes: usize) {
        self.rtp_received.inc();
        self.rtp_received_bytes.inc_by(bytes as u64);
    }

    /// `packets` copies of `bytes` payload bytes written to subscribers.
    pub fn forwarded(&self, packets: u64, bytes: usize) {
        if packets > 0 {
            self.rtp_forwarded.inc_by(packets);
            self.rtp_forwarded_bytes.inc_by(packets * bytes as u64);
        }
    }

    /// `packets` video packets sent again on a subscriber's request.
    pub fn resent(&self, packets: u64) {
        self.rtp_resent.inc_by(packets);
    }

    /// `packets` asked for again beyond the subscriber's allowance, and not sent.
    pub fn resend_refused(&self, packets: u64) {
        self.rtp_resends_refused.inc_by(packets);
    }

    /// `packets` forwarded packets reported on by subscribers' congestion control feedback.
    pub fn downlink_feedback(&self, packets: u64) {
        self.downlink_feedback.inc_by(packets);
    }

    /// `cuts` subscribers' video budgets cut because the queue toward them grew.
    pub fn downlink_cut(&self, cuts: u64) {
        self.downlink_cuts.inc_by(cuts);
    }

    /// A media connection's selected path moved to another client address.
    pub fn path_changed(&self) {
        self.path_changes.inc();
    }

    pub fn dropped(&self, reason: DropReason, packets: u64) {
        if packets == 0 {
            return;
        }
        let Some(slot) = DropReason::ALL.iter().position(|(r, _)| *r == reason) else {
            return;
        };
        let reason = DropReason::ALL[slot].1;
        self.dropped_by_reason[slot]
            .get_or_init(|| {
                self.rtp_dropped
                    .get_or_create(&DropLabels { reason })
                    .clone()
            })
            .inc_by(packets);
    }

    pub fn offer_sent(&self) {
        self.offers.inc();
    }

    pub fn joined(&self) {
        self.joins.inc();
    }

    pub fn media_connected(&self, after: std::time::Duration) {
        self.join_to_media.observe(after.as_secs_f64());
    }

    /// The text for `GET /metrics`, with the room and participant gauges as of now.
    pub fn render(&self, rooms: usize, participants: usize) -> String {
        self.rooms.set(i64::try_from(rooms).unwrap_or(i64::MAX));
        self.participants
            .set(i64::try_from(participants).unwrap_or(i64::MAX));
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openmetrics_text() {
        let m = Metrics::new();
        m.received(100);
        m.forwarded(3, 100);
        m.dropped(DropReason::Paused, 2);
        m.dropped(DropReason::Late, 0);
        m.offer_sent();
        m.joined();
        m.media_connected(std::time::Duration::from_millis(300));
        let text = m.render(1, 2);
        for line in [
            "salon_rtp_received_packets_total 1",
            "salon_rtp_forwarded_packets_total 3",
            "salon_rtp_forwarded_bytes_total 300",
            "salon_rtp_dropped_packets_total{reason=\"paused\"} 2",
            "salon_offers_total 1",
            "salon_joins_total 1",
            "salon_join_to_media_seconds_count 1",
            "salon_rooms 1",
            "salon_participants 2",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line:?} missing in\n{text}"
            );
        }
        assert!(
            !text.contains("reason=\"late\""),
            "no series for a reason never counted"
        );
        // Later drops add to the same series.
        m.dropped(DropReason::Paused, 1);
        let text = m.render(1, 2);
        assert!(
            text.lines()
                .any(|l| l == "salon_rtp_dropped_packets_total{reason=\"paused\"} 3"),
            "{text}"
        );
    }
}
