//! Receiving media over RTP: H.264 packets back into Annex-B access units.
//!
//! [`H264Assembler`] is a small reorder buffer plus frame assembler, sans-I/O: push each RTP
//! packet of one video SSRC, get whole frames back in decode order. It relies on the `rtc`
//! crate's [`H264Packet`] depacketizer (RFC 6184: single NAL units, STAP-A, FU-A) for the
//! payload-to-Annex-B step, but first checks each frame's payloads itself, because that
//! depacketizer indexes past the end of a truncated STAP-A (a panic on network input) and
//! carries FU-A state from one frame into the next after a loss. We also do not use rtc's
//! `SampleBuilder`: it preallocates two 65536-slot tables per stream (about 12 MB per
//! remote video), counts drops in `u16`s that can overflow (a panic in debug builds), and holds every
//! frame back until the first packet of the next one arrives.
//!
//! The decoder can only use a frame if it has every frame since the last keyframe, so after a
//! loss the assembler withholds delta frames until the next keyframe (SPS + IDR) and says so
//! through [`H264Assembler::wants_keyframe`]: the driver then sends a PLI (rate-limited).
//!
//! **Opus needs no assembler**: one RTP payload is exactly one Opus packet (RFC 7587), so the
//! receiver hands `packet.payload` straight to [`super::audio::AudioDecoder::decode`] and calls
//! `decode_lost` for a sequence-number gap.
//!
//! **Sending needs no packetizer here**: webrtc's `TrackLocalStaticSample` packetizes Annex-B
//! H.264 (as `H264Payloader` does in the tests below) and Opus.

use std::collections::BTreeMap;

use rtc::rtp::Packet;
use rtc::rtp::codec::h264::{
    FU_END_BITMASK, FU_START_BITMASK, FUA_NALU_TYPE, H264Packet, NALU_TYPE_BITMASK, STAPA_NALU_TYPE,
};
use rtc::rtp::packetizer::Depacketizer;

/// Packets kept at most, and how far back (in sequence numbers) a late packet may arrive.
const MAX_PACKETS: usize = 1024;
/// Payload bytes kept at most.
const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Complete frames allowed to wait behind a gap before the gap counts as lost (about 170 ms
/// at 30 fps: room for reordering and a NACK retransmission).
const DEFAULT_REORDER_FRAMES: usize = 5;
/// Extended sequence numbers start here so that early packets can still sit below the first.
const SEQ_BASE: u64 = 1 << 32;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_AUD: u8 = 9;

/// One reassembled access unit.
#[derive(Clone, PartialEq, Eq)]
pub struct AssembledFrame {
    /// Annex-B NAL units with 4-byte start codes, ready for [`super::video::VideoDecoder`].
    pub data: Vec<u8>,
    /// The RTP timestamp (90 kHz) shared by the frame's packets.
    pub rtp_timestamp: u32,
    /// Carries SPS and an IDR slice: decoding can start here.
    pub keyframe: bool,
}

impl std::fmt::Debug for AssembledFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssembledFrame")
            .field("len", &self.data.len())
            .field("rtp_timestamp", &self.rtp_timestamp)
            .field("keyframe", &self.keyframe)
            .finish()
    }
}

/// Reorders the RTP packets of one H.264 stream and returns complete access units in order.
/// Memory is bounded (1024 packets, 4 MiB); bad packets are dropped, never panicked on.
#[derive(Debug)]
pub struct H264Assembler {
    /// Buffered packets by extended sequence number.
    packets: BTreeMap<u64, Packet>,
    bytes: usize,
    ssrc: Option<u32>,
    highest: Option<u64>,
    /// The last packet of the last frame handed out; `None` while waiting for a keyframe.
    last_end: Option<u64>,
    reorder_frames: usize,
}

impl Default for H264Assembler {
    fn default() -> Self {
        Self::new()
    }
}

/// A run of packets from one RTP timestamp ending in a marker packet.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
    /// The packet before `start` is known to belong to another frame.
    known_start: bool,
}

/// What the payloads of a span contain, if they are well formed.
#[derive(Debug, Clone, Copy)]
struct Contents {
    first_nal: u8,
    has_sps: bool,
    has_idr: bool,
}

impl H264Assembler {
    pub fn new() -> Self {
        Self {
            packets: BTreeMap::new(),
            bytes: 0,
            ssrc: None,
            highest: None,
            last_end: None,
            reorder_frames: DEFAULT_REORDER_FRAMES,
        }
    }

    /// How many complete frames may wait behind a missing packet before it counts as lost
    /// (default 5). Larger tolerates more reordering and slower retransmission, at the cost
    /// of a longer freeze when the packet is really gone.
    pub fn with_reorder_frames(mut self, frames: usize) -> Self {
        self.reorder_frames = frames.max(1);
        self
    }

    /// True until the first keyframe and again after a loss: only a keyframe can restart
    /// decoding, so the receiver should ask the sender for one (PLI).
    pub fn wants_keyframe(&self) -> bool {
        self.last_end.is_none()
    }

    /// Adds one packet; returns the Annex-B access units it completed, oldest first.
    pub fn push(&mut self, packet: Packet) -> Vec<Vec<u8>> {
        self.push_frames(packet)
            .into_iter()
            .map(|f| f.data)
            .collect()
    }

    /// Like [`H264Assembler::push`], with each frame's RTP timestamp and keyframe flag.
    pub fn push_frames(&mut self, packet: Packet) -> Vec<AssembledFrame> {
        if self.ssrc != Some(packet.header.ssrc) {
            // A new stream: nothing buffered for the old one can be continued.
            *self = Self {
                ssrc: Some(packet.header.ssrc),
                ..Self::new().with_reorder_frames(self.reorder_frames)
            };
        }
        let seq = self.extend_seq(packet.header.sequence_number);
        let too_old = self.last_end.is_some_and(|end| seq <= end)
            || self
                .highest
                .is_some_and(|h| seq.saturating_add(MAX_PACKETS as u64) <= h);
        if too_old || self.packets.contains_key(&seq) {
            return Vec::new();
        }
        self.bytes += packet.payload.len();
        self.packets.insert(seq, packet);
        self.highest = Some(self.highest.map_or(seq, |h| h.max(seq)));
        self.enforce_bounds();
        self.collect()
    }

    /// Maps a 16-bit sequence number to the 64-bit value nearest the highest seen so far.
    fn extend_seq(&self, seq: u16) -> u64 {
        match self.highest {
            None => SEQ_BASE + u64::from(seq),
            Some(highest) => {
                let delta = seq.wrapping_sub(highest as u16) as i16;
                highest.saturating_add_signed(i64::from(delta))
            }
        }
    }

    fn enforce_bounds(&mut self) {
        let highest = self.highest.unwrap_or(0);
        while let Some((&first, _)) = self.packets.first_key_value() {
            let over = self.packets.len() > MAX_PACKETS
                || self.bytes > MAX_BYTES
                || first.saturating_add(MAX_PACKETS as u64) <= highest;
            if !over {
                break;
            }
            self.remove_through(first);
            // Data that was never handed out is gone: the chain of references is broken.
            self.last_end = None;
        }
        if self
            .last_end
            .is_some_and(|end| end.saturating_add(MAX_PACKETS as u64) <= highest)
        {
            self.last_end = None;
        }
    }

    /// Drops every buffered packet up to and including `seq`.
    fn remove_through(&mut self, seq: u64) {
        let kept = self.packets.split_off(&(seq + 1));
        let removed = std::mem::replace(&mut self.packets, kept);
        self.bytes -= removed.values().map(|p| p.payload.len()).sum::<usize>();
    }

    /// Hands out every frame that can be decoded now, dropping what never can be.
    fn collect(&mut self) -> Vec<AssembledFrame> {
        let mut out = Vec::new();
        loop {
            self.skip_padding();
            let mut blocked = Vec::new();
            let mut progressed = false;
            for span in self.spans() {
                let contents = self.inspect(span);
                let contiguous = self.last_end.is_some_and(|end| {
                    (end + 1..span.start)
                        .all(|s| self.packets.get(&s).is_some_and(|p| p.payload.is_empty()))
                });
                let starts_keyframe = contents.is_some_and(|c| {
                    c.has_sps && c.has_idr && matches!(c.first_nal, NAL_SPS | NAL_AUD)
                });
                let keyframe = contents.is_some_and(|c| c.has_sps && c.has_idr);
                if contiguous || starts_keyframe || (span.known_start && keyframe) {
                    match self.assemble(span, contents) {
                        Some(frame) => {
                            self.remove_through(span.end);
                            self.last_end = Some(span.end);
                            out.push(frame);
                        }
                        None => {
                            self.remove_through(span.end);
                            self.last_end = None;
                        }
                    }
                    progressed = true;
                    break;
                }
                if span.known_start && (self.last_end.is_none() || contents.is_none()) {
                    // A whole frame that can never be decoded (a delta frame while waiting
                    // for a keyframe, or a malformed one): free it.
                    self.remove_through(span.end);
                    if contents.is_none() {
                        self.last_end = None;
                    }
                    progressed = true;
                    break;
                }
                blocked.push(span);
            }
            if progressed {
                continue;
            }
            if self.last_end.is_some() && blocked.len() >= self.reorder_frames {
                // The gap is not going to fill: give up on everything behind it.
                if let Some(last) = blocked.last() {
                    self.remove_through(last.end);
                }
                self.last_end = None;
                continue;
            }
            return out;
        }
    }

    /// Padding packets (empty payload) right after the last frame just advance the stream.
    fn skip_padding(&mut self) {
        while let Some(end) = self.last_end {
            match self.packets.get(&(end + 1)) {
                Some(p) if p.payload.is_empty() => {
                    self.remove_through(end + 1);
                    self.last_end = Some(end + 1);
                }
                _ => return,
            }
        }
    }

    /// Every run of consecutive packets with one timestamp that ends in a marker packet.
    fn spans(&self) -> Vec<Span> {
        let mut spans = Vec::new();
        for (&end, packet) in &self.packets {
            if !packet.header.marker || packet.payload.is_empty() {
                continue;
            }
            let ts = packet.header.timestamp;
            let mut start = end;
            let known_start = loop {
                match self.packets.get(&(start - 1)) {
                    Some(p)
                        if !p.payload.is_empty()
                            && !p.header.marker
                            && p.header.timestamp == ts =>
                    {
                        start -= 1;
                    }
                    Some(_) => break true,
                    None => break self.last_end == Some(start - 1),
                }
            };
            spans.push(Span {
                start,
                end,
                known_start,
            });
        }
        spans
    }

    /// Checks the RFC 6184 structure of a span's payloads (so the depacketizer cannot fail or
    /// panic on them) and notes which NAL unit types it carries.
    fn inspect(&self, span: Span) -> Option<Contents> {
        let mut contents: Option<Contents> = None;
        let mut in_fragment = false;
        let mut note = |nal: u8| {
            let c = contents.get_or_insert(Contents {
                first_nal: nal,
                has_sps: false,
                has_idr: false,
            });
            c.has_sps |= nal == NAL_SPS;
            c.has_idr |= nal == NAL_IDR;
        };
        for (_, packet) in self.packets.range(span.start..=span.end) {
            let p = &packet.payload[..];
            let nal_type = *p.first()? & NALU_TYPE_BITMASK;
            // The depacketizer's own minimum sizes.
            if p.len() < 2 || (p.len() < 3 && nal_type != NAL_AUD) {
                return None;
            }
            match nal_type {
                1..=23 if !in_fragment => note(nal_type),
                STAPA_NALU_TYPE if !in_fragment => {
                    let mut at = 1;
                    while at < p.len() {
                        let size = usize::from(u16::from_be_bytes([p[at], *p.get(at + 1)?]));
                        at += 2;
                        if size == 0 || at + size > p.len() {
                            return None;
                        }
                        note(p[at] & NALU_TYPE_BITMASK);
                        at += size;
                    }
                }
                FUA_NALU_TYPE => {
                    let header = p[1];
                    if header & FU_START_BITMASK != 0 {
                        if in_fragment {
                            return None;
                        }
                        in_fragment = true;
                        note(header & NALU_TYPE_BITMASK);
                    } else if !in_fragment {
                        return None;
                    }
                    if header & FU_END_BITMASK != 0 {
                        in_fragment = false;
                    }
                }
                _ => return None,
            }
        }
        if in_fragment { None } else { contents }
    }

    /// Depacketizes a checked span with a fresh depacketizer (no state from other frames).
    fn assemble(&self, span: Span, contents: Option<Contents>) -> Option<AssembledFrame> {
        let contents = contents?;
        let mut depacketizer = H264Packet::default();
        let mut data = Vec::new();
        let mut rtp_timestamp = 0;
        for (_, packet) in self.packets.range(span.start..=span.end) {
            rtp_timestamp = packet.header.timestamp;
            data.extend_from_slice(&depacketizer.depacketize(&packet.payload).ok()?);
        }
        Some(AssembledFrame {
            data,
            rtp_timestamp,
            keyframe: contents.has_sps && contents.has_idr,
        })
    }
}

#[cfg(test)]
mod tests;
