//! Retransmissions of simulcast layers, turned back into the layer's own packets.
//!
//! A browser that publishes simulcast retransmits each layer's lost packets (RFC 4588 RTX) on a
//! stream of its own, which no SDP line declares: the stream names the layer it repairs only
//! with the `repaired-rtp-stream-id` header extension (rrid) on its first packets. `rtc` 0.21
//! does not support rrid (webrtc-rs/rtc#12): it drops those packets, its NACK generator never
//! sees the holes filled and keeps asking, and the browser ends up sending more retransmissions
//! than media (`docs/adr/0002-simulcast.md`).
//!
//! [`Repair`] sits in the read chain before the NACK generator. It learns which SSRC carries
//! which layer (packets with the `mid` and `rid` extensions) and which SSRC repairs which layer
//! (`mid` and `rrid`), and rewrites each retransmission into the packet it repeats: the layer's
//! SSRC, the media payload type (the RTX payload type's `apt`), the original sequence number
//! from the first two payload bytes, the rest as payload ([`deencapsulate`], the same as `rtc`
//! does for declared RTX streams). Everything after it (NACK generator, receiver reports, the
//! engine) sees an ordinary packet of the layer. Padding-only packets (bandwidth probes) and
//! anything it cannot map pass untouched; the transport-wide congestion control feedback still
//! counts them, and the stack drops them afterwards.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtp;
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

use super::feedback::{self, Queue};

/// Position in the read chain: after the FEC decoder (6 000), before the NACK generator (7 000),
/// the TWCC receiver (8 000) and the receiver reports (10 000).
pub const SLOT: usize = 6_500;

/// Layers (and repair streams) remembered per connection. A connection publishes a few tracks
/// of at most a few layers each; beyond this, new ones are not learned (their retransmissions
/// are dropped by the stack, as without this interceptor).
const MAX_STREAMS: usize = 32;

/// Longest `mid` or `rid` value kept (RFC 8852 allows any length; real ones are a few bytes).
const MAX_ID_LEN: usize = 16;

use rtc::sdp::extmap::{
    SDES_MID_URI as MID_URI, SDES_REPAIR_RTP_STREAM_ID_URI as RRID_URI,
    SDES_RTP_STREAM_ID_URI as RID_URI,
};

/// A layer, named by its media section and stream id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LayerName {
    mid: Box<[u8]>,
    rid: Box<[u8]>,
}

/// Turns an RTX packet into the packet it retransmits, in place: `ssrc` and `payload_type` of
/// the original stream, the original sequence number (the first two payload bytes), and the
/// rest of the payload. Returns false, and leaves the packet alone, when it carries no original
/// sequence number (a padding-only probe, or a truncated packet).
pub fn deencapsulate(packet: &mut rtp::Packet, ssrc: u32, payload_type: u8) -> bool {
    let (Some(&hi), Some(&lo)) = (packet.payload.first(), packet.payload.get(1)) else {
        return false;
    };
    let header = &mut packet.header;
    header.ssrc = ssrc;
    header.payload_type = payload_type;
    header.sequence_number = u16::from_be_bytes([hi, lo]);
    // The stack strips padding when it parses; the rewritten payload has none.
    header.padding = false;
    packet.payload = packet.payload.slice(2..);
    true
}

/// The interceptor (see the module documentation).
pub struct Repair {
    /// Where the engine records the negotiated RTX payload types (`apt`).
    inbox: Queue,
    /// Negotiated extension ids (0: not negotiated), learned from the streams bound to the chain.
    mid: u8,
    rid: u8,
    rrid: u8,
    /// Layer → its media SSRC.
    layers: Vec<(LayerName, u32)>,
    /// Repair SSRC → the layer it repairs.
    repairs: Vec<(u32, LayerName)>,
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Repair {
    pub fn new(inbox: Queue) -> Self {
        Self {
            inbox,
            mid: 0,
            rid: 0,
            rrid: 0,
            layers: Vec::new(),
            repairs: Vec::new(),
            reads: VecDeque::new(),
            writes: VecDeque::new(),
        }
    }

    /// An extension's value, if the id is negotiated and the value has a sane length.
    fn value(header: &rtp::header::Header, id: u8) -> Option<Box<[u8]>> {
        if id == 0 || !header.extension {
            return None;
        }
        header
            .extensions
            .iter()
            .find(|e| e.id == id)
            .map(|e| &e.payload[..])
            .filter(|v| !v.is_empty() && v.len() <= MAX_ID_LEN)
            .map(Box::from)
    }

    /// Learns from one packet, and rewrites it if it is a retransmission of a known layer.
    /// Returns whether it was rewritten.
    fn on_rtp(&mut self, packet: &mut rtp::Packet) -> bool {
        let ssrc = packet.header.ssrc;
        if let Some(mid) = Self::value(&packet.header, self.mid) {
            if let Some(rid) = Self::value(&packet.header, self.rid) {
                let name = LayerName { mid, rid };
                if let Some((_, s)) = self.layers.iter_mut().find(|(n, _)| *n == name) {
                    *s = ssrc;
                } else if self.layers.len() < MAX_STREAMS {
                    self.layers.push((name, ssrc));
                }
            } else if let Some(rid) = Self::value(&packet.header, self.rrid) {
                let name = LayerName { mid, rid };
                if let Some((_, n)) = self.repairs.iter_mut().find(|(s, _)| *s == ssrc) {
                    *n = name;
                } else if self.repairs.len() < MAX_STREAMS {
                    self.repairs.push((ssrc, name));
                }
            }
        }
        let Some((_, name)) = self.repairs.iter().find(|(s, _)| *s == ssrc) else {
            return false;
        };
        let Some(&(_, primary)) = self.layers.iter().find(|(n, _)| n == name) else {
            return false;
        };
        let pt = packet.header.payload_type;
        let Some(media_pt) = feedback::apt(&self.inbox, pt) else {
            return false;
        };
        deencapsulate(packet, primary, media_pt)
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Repair {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if self.rrid != 0
            && let Packet::Rtp(packet) = &mut msg.message.packet
        {
            self.on_rtp(packet);
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

impl Interceptor for Repair {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}

    /// The negotiated ids of `mid`, `rid` and `rrid` (one id per URI on a connection).
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        for ext in &info.rtp_header_extensions {
            let Ok(id) = u8::try_from(ext.id) else {
                continue;
            };
            match ext.uri.as_str() {
                MID_URI => self.mid = id,
                RID_URI => self.rid = id,
                RRID_URI => self.rrid = id,
                _ => {}
            }
        }
    }

    fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rtc::interceptor::RTPHeaderExtension;
    use rtc::rtp::header::{Extension, Header};

    const MID: u8 = 9;
    const RID: u8 = 10;
    const RRID: u8 = 11;

    fn packet(ssrc: u32, pt: u8, seq: u16, exts: &[(u8, &str)], payload: &[u8]) -> rtp::Packet {
        rtp::Packet {
            header: Header {
                version: 2,
                payload_type: pt,
                sequence_number: seq,
                ssrc,
                extension: !exts.is_empty(),
                extension_profile: if exts.is_empty() { 0 } else { 0xBEDE },
                extensions: exts
                    .iter()
                    .map(|(id, v)| Extension {
                        id: *id,
                        payload: Bytes::copy_from_slice(v.as_bytes()),
                    })
                    .collect(),
                ..Default::default()
            },
            payload: Bytes::copy_from_slice(payload),
        }
    }

    fn repair() -> Repair {
        let inbox = Queue::default();
        feedback::add_apt(&inbox, 97, 96);
        let mut r = Repair::new(inbox);
        r.bind_remote_stream(&StreamInfo {
            rtp_header_extensions: [(MID_URI, MID), (RID_URI, RID), (RRID_URI, RRID)]
                .iter()
                .map(|(uri, id)| RTPHeaderExtension {
                    uri: (*uri).to_owned(),
                    id: u16::from(*id),
                })
                .collect(),
            ..Default::default()
        });
        r
    }

    #[test]
    fn deencapsulates_and_refuses_short_payloads() {
        let mut p = packet(7, 97, 500, &[], &[0x12, 0x34, 0xAA, 0xBB]);
        p.header.padding = true;
        assert!(deencapsulate(&mut p, 1000, 96));
        assert_eq!(
            (
                p.header.ssrc,
                p.header.payload_type,
                p.header.sequence_number
            ),
            (1000, 96, 0x1234)
        );
        assert!(!p.header.padding);
        assert_eq!(&p.payload[..], &[0xAA, 0xBB]);
        // An OSN with nothing after it is a valid (empty) original payload.
        let mut p = packet(7, 97, 501, &[], &[0x00, 0x01]);
        assert!(deencapsulate(&mut p, 1000, 96));
        assert!(p.payload.is_empty());
        for short in [&[][..], &[0x12][..]] {
            let mut p = packet(7, 97, 502, &[], short);
            let before = p.clone();
            assert!(!deencapsulate(&mut p, 1000, 96));
            assert_eq!(p, before);
        }
    }

    #[test]
    fn a_layer_retransmission_becomes_the_layer_packet() {
        let mut r = repair();
        // The layer and its repair stream announce themselves on their first packets only.
        let mut media = packet(1000, 96, 10, &[(MID, "1"), (RID, "h")], b"frame");
        assert!(!r.on_rtp(&mut media));
        assert_eq!(media.header.ssrc, 1000);
        let mut first = packet(2000, 97, 1, &[(MID, "1"), (RRID, "h")], &[0, 10, b'x']);
        assert!(r.on_rtp(&mut first));
        assert_eq!(
            (
                first.header.ssrc,
                first.header.payload_type,
                first.header.sequence_number
            ),
            (1000, 96, 10)
        );
        assert_eq!(&first.payload[..], b"x");
        let mut later = packet(2000, 97, 2, &[], &[0, 11, b'y', b'z']);
        assert!(r.on_rtp(&mut later));
        assert_eq!(
            (later.header.ssrc, later.header.sequence_number),
            (1000, 11)
        );
        // A padding-only probe (the stack stripped its padding: no payload) passes untouched.
        let mut probe = packet(2000, 97, 3, &[], &[]);
        probe.header.padding = true;
        let before = probe.clone();
        assert!(!r.on_rtp(&mut probe));
        assert_eq!(probe, before);
    }

    #[test]
    fn unknown_or_hostile_input_passes_untouched() {
        let mut r = repair();
        // A repair stream for a layer never seen, a payload type without apt, a truncated OSN.
        let mut orphan = packet(3000, 97, 1, &[(MID, "1"), (RRID, "f")], &[0, 1, 2]);
        let before = orphan.clone();
        assert!(!r.on_rtp(&mut orphan));
        assert_eq!(orphan, before);
        let mut media = packet(1000, 96, 1, &[(MID, "1"), (RID, "f")], b"k");
        r.on_rtp(&mut media);
        let mut wrong_pt = packet(3000, 100, 2, &[], &[0, 1, 2]);
        assert!(!r.on_rtp(&mut wrong_pt));
        assert_eq!(wrong_pt.header.ssrc, 3000);
        let mut truncated = packet(3000, 97, 3, &[], &[9]);
        assert!(!r.on_rtp(&mut truncated));
        assert_eq!(truncated.header.ssrc, 3000);
        // Overlong ids are ignored; empty ones too.
        let long = "x".repeat(MAX_ID_LEN + 1);
        let mut p = packet(4000, 97, 1, &[(MID, "1"), (RRID, &long)], &[0, 1]);
        assert!(!r.on_rtp(&mut p));
        let mut p = packet(4001, 96, 1, &[(MID, ""), (RID, "q")], &[0, 1]);
        assert!(!r.on_rtp(&mut p));
        // A flood of made-up streams is bounded.
        for ssrc in 0..1000u32 {
            let rid = format!("r{ssrc}");
            let mut p = packet(10_000 + ssrc, 97, 1, &[(MID, "1"), (RRID, &rid)], &[0, 1]);
            r.on_rtp(&mut p);
            let mut p = packet(20_000 + ssrc, 96, 1, &[(MID, "1"), (RID, &rid)], &[0, 1]);
            r.on_rtp(&mut p);
        }
        assert!(r.layers.len() <= MAX_STREAMS && r.repairs.len() <= MAX_STREAMS);
    }
}
