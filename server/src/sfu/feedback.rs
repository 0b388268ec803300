//! The RTCP the engine itself acts on, taken out of a connection's interceptor chain.
//!
//! Inbound RTCP normally ends inside the chain. Two kinds matter to forwarding and can only be
//! handled across connections: a subscriber's keyframe request (PLI, FIR) belongs to the
//! publisher of the track it names, and a publisher's sender report (its NTP ↔ RTP clock mapping,
//! what receivers use for lip sync) belongs to every subscriber, translated to their numbering.
//! This interceptor copies those into a queue the engine drains after each datagram; everything
//! else goes on down the chain untouched.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::sender_report::SenderReport;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Position in the chain: after the built-in interceptors.
pub const SLOT: usize = 14_000;

/// Most feedback items kept between two drains; more are dropped (a flood of requests is
/// worth no more than one).
const MAX_PENDING: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A keyframe request about the stream this connection receives as `media_ssrc`.
    Keyframe { media_ssrc: u32 },
    /// The remote sender's report for its stream `ssrc`.
    SenderReport {
        ssrc: u32,
        ntp_time: u64,
        rtp_time: u32,
        packet_count: u32,
        octet_count: u32,
    },
}

/// The queue shared between a connection's interceptor and the engine (same thread; the lock is
/// never contended).
pub type Queue = Arc<Mutex<Vec<Feedback>>>;

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

/// Takes everything queued so far.
pub fn drain(queue: &Queue, into: &mut Vec<Feedback>) {
    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
    into.append(&mut q);
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Tap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            for packet in packets {
                if q.len() >= MAX_PENDING {
                    break;
                }
                let any = packet.as_any();
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
