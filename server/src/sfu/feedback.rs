//! What the engine itself takes out of a connection's interceptor chain.
//!
//! Inbound RTCP normally ends inside the chain. Two kinds matter to forwarding and can only be
//! handled across connections: a subscriber's keyframe request (PLI, FIR) belongs to the
//! publisher of the track it names, and a publisher's sender report (its NTP ↔ RTP clock mapping,
//! what receivers use for lip sync) belongs to every subscriber, translated to their numbering.
//! So do a subscriber's retransmission requests (NACK) and its congestion control feedback
//! (TWCC, for `super::downlink`): the engine sends forwarded copies past
//! the stack (`super::history`), so it answers them itself.
//! This interceptor copies those into an [`Inbox`] the engine drains after each datagram.
//!
//! It also takes the RTP of the streams the engine has claimed (every received stream, once the
//! stack announced it) out of the chain into the inbox, instead of letting the stack's endpoint
//! look up their track. That lookup forgets simulcast layers at every renegotiation in `rtc`
//! 0.21 (the layers' SSRCs are reset and a browser no longer names them), which would silently
//! drop their media for good (`docs/adr/0002-simulcast.md`); the engine keeps its own map from
//! SSRC to layer instead. Everything else goes on down the chain untouched.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{
    Acknowledgement, Interceptor, Packet, StreamInfo, TaggedPacket, convert_twcc,
};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_cc::{PacketStatusChunk, TransportLayerCc};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Position in the chain: after the built-in interceptors.
pub const SLOT: usize = 14_000;

/// Most feedback items kept between two drains; more are dropped (a flood of requests is
/// worth no more than one).
const MAX_PENDING: usize = 64;

/// Most RTP packets kept between two drains (the engine drains after every datagram, so this
/// is never reached in practice); more are dropped.
const MAX_DIVERTED: usize = 256;

/// Most streams one connection can have claimed (a few tracks of at most three layers each).
pub const MAX_CLAIMED: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A keyframe request about the stream this connection receives as `media_ssrc`.
    Keyframe { media_ssrc: u32 },
    /// The remote's reception report about the stream it receives as `media_ssrc`: the
    /// fraction of its packets lost since the last report (RFC 3550, in 256ths).
    Loss { media_ssrc: u32, fraction_lost: u8 },
    /// The remote asks for packets of the stream it receives as `media_ssrc` again: `packet_id`
    /// and those the bitmask names (one NACK item, RFC 4585 §6.2.1).
    Nack {
        media_ssrc: u32,
        packet_id: u16,
        lost_packets: u16,
    },
    /// The remote sender's report for its stream `ssrc`.
    SenderReport {
        ssrc: u32,
        ntp_time: u64,
        rtp_time: u32,
        packet_count: u32,
        octet_count: u32,
    },
}

/// What a connection's interceptors hand the engine, and what the engine tells them.
#[derive(Default)]
pub struct Inbox {
    feedback: Vec<Feedback>,
    /// RTP of claimed streams, in arrival order.
    rtp: Vec<rtp::Packet>,
    /// SSRCs whose RTP goes to the engine directly (at most [`MAX_CLAIMED`]).
    claimed: Vec<u32>,
    /// RTX payload type → the media payload type it repairs, for [`super::repair::Repair`].
    apt: Vec<(u8, u8)>,
    /// What the remote's congestion control feedback (TWCC) says of the packets it was sent,
    /// for `super::downlink`.
    acks: Vec<Acknowledgement>,
}

/// Feedback items about sent packets kept between two drains; more are dropped.
const MAX_ACKS: usize = 2048;

/// The most packets one congestion control feedback report may tell of (browsers report every
/// 50–100 ms: a few hundred packets at most); longer ones are ignored.
pub const MAX_ACKS_PER_REPORT: usize = 1024;

/// What one congestion control feedback report says, if it tells of at most
/// [`MAX_ACKS_PER_REPORT`] packets and of no more than `room`. Measured from its chunks, not from
/// its status count: two bytes of run-length chunk can claim 8,191 packets whatever the count
/// says, and the conversion walks every one, which would cost the worker (everyone on it) more
/// than any report is worth.
pub fn acks_of(cc: &TransportLayerCc, room: usize) -> Option<Vec<Acknowledgement>> {
    let limit = MAX_ACKS_PER_REPORT.min(room);
    let mut claimed = 0usize;
    for chunk in &cc.packet_chunks {
        claimed += match chunk {
            PacketStatusChunk::RunLengthChunk(run) => usize::from(run.run_length),
            PacketStatusChunk::StatusVectorChunk(vector) => vector.symbol_list.len(),
        };
        if claimed > limit {
            return None;
        }
    }
    if usize::from(cc.packet_status_count) > limit {
        return None;
    }
    let acks = convert_twcc(cc);
    (acks.len() <= limit).then_some(acks)
}

/// Takes the congestion control feedback queued so far.
pub fn take_acks(queue: &Queue, acks: &mut Vec<Acknowledgement>) {
    acks.append(&mut lock(queue).acks);
}

/// The inbox shared between a connection's interceptors and the engine (same thread; the lock
/// is never contended).
pub type Queue = Arc<Mutex<Inbox>>;

fn lock(queue: &Queue) -> std::sync::MutexGuard<'_, Inbox> {
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

/// Routes `ssrc`'s RTP to the engine from now on. False if the connection has claimed too many
/// streams already (its packets then take the stack's own path).
pub fn claim(queue: &Queue, ssrc: u32) -> bool {
    let mut inbox = lock(queue);
    if inbox.claimed.contains(&ssrc) {
        return true;
    }
    if inbox.claimed.len() >= MAX_CLAIMED {
        return false;
    }
    inbox.claimed.push(ssrc);
    true
}

/// Records a negotiated RTX payload type and the media payload type it repairs.
pub fn add_apt(queue: &Queue, rtx: u8, media: u8) {
    let mut inbox = lock(queue);
    if !inbox.apt.iter().any(|(r, _)| *r == rtx) && inbox.apt.len() < MAX_PENDING {
        inbox.apt.push((rtx, media));
    }
}

pub struct Tap {
    queue: Queue,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Tap {
    pub fn new(queue: Queue) -> Self {
        Self {
            queue,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }
}

/// The media payload type that RTX payload type `rtx` repairs, if negotiated.
pub fn apt(queue: &Queue, rtx: u8) -> Option<u8> {
    lock(queue)
        .apt
        .iter()
        .find(|(r, _)| *r == rtx)
        .map(|(_, m)| *m)
}

/// Takes everything queued so far: feedback, and the claimed streams' RTP.
pub fn drain(queue: &Queue, feedback: &mut Vec<Feedback>, rtp: &mut Vec<rtp::Packet>) {
    let mut inbox = lock(queue);
    feedback.append(&mut inbox.feedback);
    rtp.append(&mut inbox.rtp);
}

/// The loss each reception report block tells, while there is room.
fn push_losses(q: &mut Vec<Feedback>, reports: &[ReceptionReport]) {
    for r in reports {
        if q.len() >= MAX_PENDING {
            return;
        }
        q.push(Feedback::Loss {
            media_ssrc: r.ssrc,
            fraction_lost: r.fraction_lost,
        });
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Tap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(packet) = &msg.message.packet {
            let mut inbox = lock(&self.queue);
            if inbox.claimed.contains(&packet.header.ssrc) {
                if inbox.rtp.len() < MAX_DIVERTED
                    && let Packet::Rtp(packet) = msg.message.packet
                {
                    inbox.rtp.push(packet);
                }
                return Ok(());
            }
        }
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let mut inbox = lock(&self.queue);
            let inbox = &mut *inbox;
            let q = &mut inbox.feedback;
            for packet in packets {
                let any = packet.as_any();
                if let Some(cc) = any.downcast_ref::<TransportLayerCc>() {
                    let room = MAX_ACKS.saturating_sub(inbox.acks.len());
                    if let Some(acks) = acks_of(cc, room) {
                        inbox.acks.extend(acks);
                    }
                    continue;
                }
                if q.len() >= MAX_PENDING {
                    break;
                }
                if salon_rtc::keyframe::is_keyframe_request(packet.as_ref()) {
                    for media_ssrc in packet.destination_ssrc() {
                        q.push(Feedback::Keyframe { media_ssrc });
                    }
                } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
                    q.push(Feedback::SenderReport {
                        ssrc: sr.ssrc,
                        ntp_time: sr.ntp_time,
                        rtp_time: sr.rtp_time,
                        packet_count: sr.packet_count,
                        octet_count: sr.octet_count,
                    });
                    push_losses(q, &sr.reports);
                } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                    push_losses(q, &rr.reports);
                } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                    for pair in &nack.nacks {
                        if q.len() >= MAX_PENDING {
                            break;
                        }
                        q.push(Feedback::Nack {
                            media_ssrc: nack.media_ssrc,
                            packet_id: pair.packet_id,
                            lost_packets: pair.lost_packets,
                        });
                    }
                }
            }
        }
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl Interceptor for Tap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::AttributedPacket;
    use rtc::shared::{TransportContext, TransportMessage, TransportProtocol};

    fn rtp_of(ssrc: u32) -> TaggedPacket {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
        TransportMessage {
            now: Instant::now(),
            transport: TransportContext {
                local_addr: addr,
                peer_addr: addr,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: AttributedPacket::new(Packet::Rtp(rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    ssrc,
                    ..Default::default()
                },
                payload: bytes::Bytes::from_static(b"x"),
            })),
        }
    }

    #[test]
    fn claimed_streams_leave_the_chain_into_the_inbox() {
        let queue = Queue::default();
        let mut tap = Tap::new(queue.clone());
        assert!(claim(&queue, 7));
        assert!(claim(&queue, 7), "claiming twice is harmless");
        tap.handle_read(rtp_of(7)).unwrap();
        tap.handle_read(rtp_of(8)).unwrap();
        // The claimed stream's packet went to the engine, the other one on down the chain.
        let passed: Vec<u32> = std::iter::from_fn(|| tap.poll_read())
            .filter_map(|m| match m.message.packet {
                Packet::Rtp(p) => Some(p.header.ssrc),
                _ => None,
            })
            .collect();
        assert_eq!(passed, vec![8]);
        let (mut items, mut rtp) = (Vec::new(), Vec::new());
        drain(&queue, &mut items, &mut rtp);
        assert_eq!(
            rtp.iter().map(|p| p.header.ssrc).collect::<Vec<_>>(),
            vec![7]
        );
        assert!(items.is_empty());
        // Bounded: claims, and packets between two drains.
        for ssrc in 100..200 {
            claim(&queue, ssrc);
        }
        assert!(!claim(&queue, 1000));
        for _ in 0..MAX_DIVERTED + 10 {
            tap.handle_read(rtp_of(7)).unwrap();
        }
        drain(&queue, &mut items, &mut rtp);
        assert_eq!(rtp.len(), 1 + MAX_DIVERTED);
        // Congestion control feedback: kept for `downlink`, within bounds.
        let twcc = |base: u16, count: u16| {
            use rtc::rtcp::transport_feedbacks::transport_layer_cc::{
                PacketStatusChunk, RecvDelta, RunLengthChunk, StatusChunkTypeTcc, SymbolTypeTcc,
            };
            let mut m = rtp_of(0);
            m.message = AttributedPacket::new(Packet::Rtcp(vec![Box::new(TransportLayerCc {
                base_sequence_number: base,
                packet_status_count: count,
                packet_chunks: vec![PacketStatusChunk::RunLengthChunk(RunLengthChunk {
                    type_tcc: StatusChunkTypeTcc::RunLengthChunk,
                    packet_status_symbol: SymbolTypeTcc::PacketReceivedLargeDelta,
                    run_length: count,
                })],
                recv_deltas: (0..count)
                    .map(|_| RecvDelta {
                        type_tcc_packet: SymbolTypeTcc::PacketReceivedLargeDelta,
                        delta: 1_000,
                    })
                    .collect(),
                ..Default::default()
            })]));
            m
        };
        tap.handle_read(twcc(10, 3)).unwrap();
        tap.handle_read(twcc(0, u16::MAX)).unwrap();
        tap.handle_read(twcc(20, MAX_ACKS_PER_REPORT as u16 + 1))
            .unwrap();
        // A small status count with one long run: judged by the run.
        let mut sneaky = twcc(30, 8_000);
        if let Packet::Rtcp(packets) = &mut sneaky.message.packet
            && let Some(cc) = packets[0].as_any().downcast_ref::<TransportLayerCc>()
        {
            let mut cc = cc.clone();
            cc.packet_status_count = 1;
            packets[0] = Box::new(cc);
        }
        tap.handle_read(sneaky).unwrap();
        let mut acks = Vec::new();
        take_acks(&queue, &mut acks);
        let seqs: Vec<u16> = acks.iter().map(|a| a.sequence_number).collect();
        assert_eq!(seqs, vec![10, 11, 12], "oversized reports are ignored");
        for _ in 0..5 {
            tap.handle_read(twcc(0, MAX_ACKS_PER_REPORT as u16))
                .unwrap();
        }
        take_acks(&queue, &mut acks);
        assert_eq!(
            acks.len(),
            3 + MAX_ACKS,
            "at most MAX_ACKS between two drains"
        );

        // Negotiated RTX payload types, for `repair`.
        add_apt(&queue, 97, 96);
        add_apt(&queue, 97, 100);
        assert_eq!((apt(&queue, 97), apt(&queue, 96)), (Some(96), None));
    }
}
