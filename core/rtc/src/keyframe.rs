//! An interceptor that passes inbound keyframe requests (PLI, FIR) on to the application.
//!
//! Inbound RTCP normally ends inside the interceptor chain. A keyframe request about a track we
//! send can only be answered by whoever produces its frames — the publisher, for a track the SFU
//! forwards; the encoder, for a track a client publishes — so this interceptor marks those packets
//! `DeliverToApplication`; they then arrive on the local track's `poll()`. Every other inbound RTCP packet is left to the interceptors that
//! act on it (reports, NACK, TWCC) and stops here.
//!
//! Built with [`KeyframeRequests::reporting_to`], it instead reports the SSRC each request is
//! about on a channel and delivers nothing: the server reuses a send transceiver for someone
//! else's track under a new track id, and the application-level routing (by track id) would no
//! longer find the track.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Attribute, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Position in the chain: after the built-in interceptors, so they have seen every packet.
pub const SLOT: usize = 14_000;

#[derive(Default)]
pub struct KeyframeRequests {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
    /// Where to report the media SSRCs of keyframe requests, instead of delivering them.
    sink: Option<tokio::sync::mpsc::Sender<u32>>,
}

impl KeyframeRequests {
    /// Reports the SSRC of every keyframe request on `sink` (dropped when it is full) and
    /// delivers none to the application.
    pub fn reporting_to(sink: tokio::sync::mpsc::Sender<u32>) -> Self {
        Self {
            sink: Some(sink),
            ..Self::default()
        }
    }
}

pub fn is_keyframe_request(packet: &dyn rtc::rtcp::Packet) -> bool {
    let any = packet.as_any();
    any.is::<PictureLossIndication>() || any.is::<FullIntraRequest>()
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequests {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &mut msg.message.packet {
            packets.retain(|p| is_keyframe_request(p.as_ref()));
            if packets.is_empty() {
                return Ok(());
            }
            if let Some(sink) = &self.sink {
                for packet in packets.iter() {
                    for ssrc in packet.destination_ssrc() {
                        // A full queue means requests are already pending: dropping is fine.
                        let _ = sink.try_send(ssrc);
                    }
                }
                return Ok(());
            }
            msg.message.add(Attribute::DeliverToApplication);
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

impl Interceptor for KeyframeRequests {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}
