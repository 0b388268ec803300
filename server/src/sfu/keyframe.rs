//! Whether an RTP packet starts a keyframe, for the video codecs Salon forwards. A downstream
//! that starts (a new subscriber, a tile scrolled back into view, a publication resumed) waits
//! for one: frames before it cannot be decoded and would only cost bandwidth and make the
//! subscriber's decoder ask again.

/// The video codecs the engine can look into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    Vp8,
}

impl VideoCodec {
    /// From a negotiated codec's MIME type (`video/H264`, `video/VP8`); `None` for others,
    /// whose packets are never held back.
    pub fn from_mime(mime: &str) -> Option<Self> {
        if mime.eq_ignore_ascii_case("video/h264") {
            Some(Self::H264)
        } else if mime.eq_ignore_ascii_case("video/vp8") {
            Some(Self::Vp8)
        } else {
            None
        }
    }

    /// The packet with this payload is the first of a keyframe (for H.264: it carries the
    /// sequence parameter set, or the start of an IDR picture).
    /// The picture size, `(width, height)`, a packet that starts a keyframe tells: VP8's
    /// keyframe header, H.264's sequence parameter set (sent with every keyframe by browsers
    /// and the core). `None` when the packet does not carry it.
    pub fn keyframe_size(self, payload: &[u8]) -> Option<(u16, u16)> {
        match self {
            Self::H264 => h264_sps_size(payload),
            Self::Vp8 => crate::sfu::layers::vp8_keyframe_size(payload),
        }
    }

    pub fn starts_keyframe(self, payload: &[u8]) -> bool {
        match self {
            Self::H264 => h264_starts_keyframe(payload),
            Self::Vp8 => vp8_starts_keyframe(payload),
        }
    }
}

/// A sequence parameter set longer than this is not looked into (real ones are tens of bytes).
const MAX_SPS_BYTES: usize = 256;

/// The picture size an H.264 payload's sequence parameter set gives (a single NAL unit, or one
/// inside a STAP-A), after cropping; `None` without one, or for one that does not parse.
pub fn h264_sps_size(payload: &[u8]) -> Option<(u16, u16)> {
    let first = *payload.first()?;
    let sps = match first & 0x1f {
        NAL_SPS => payload,
        NAL_STAP_A => {
            let mut rest = payload.get(1..)?;
            loop {
                let size = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
                let nal = rest.get(2..2 + size)?;
                if nal.first().is_some_and(|b| b & 0x1f == NAL_SPS) {
                    break nal;
                }
                rest = &rest[2 + size..];
            }
        }
        _ => return None,
    };
    if sps.len() > MAX_SPS_BYTES {
        return None;
    }
    let rbsp = h264_reader::rbsp::decode_nal(sps).ok()?;
    let parsed = h264_reader::nal::sps::SeqParameterSet::from_bits(
        h264_reader::rbsp::BitReader::new(&rbsp[..]),
    )
    .ok()?;
    let (width, height) = parsed.pixel_dimensions().ok()?;
    let width = u16::try_from(width).ok().filter(|w| *w > 0)?;
    let height = u16::try_from(height).ok().filter(|h| *h > 0)?;
    Some((width, height))
}

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_STAP_A: u8 = 24;
const NAL_FU_A: u8 = 28;

fn is_keyframe_nal(nal_type: u8) -> bool {
    nal_type == NAL_IDR || nal_type == NAL_SPS
}

/// RFC 6184: a single NAL unit, an aggregation (STAP-A) or a fragment (FU-A).
fn h264_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1f {
        NAL_STAP_A => {
            let mut rest = &payload[1..];
            while rest.len() > 2 {
                let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let Some(nal) = rest.get(2..2 + size) else {
                    return false;
                };
                if nal.first().is_some_and(|b| is_keyframe_nal(b & 0x1f)) {
                    return true;
                }
                rest = &rest[2 + size..];
            }
            false
        }
        NAL_FU_A => payload
            .get(1)
            .is_some_and(|fu| fu & 0x80 != 0 && is_keyframe_nal(fu & 0x1f)),
        t => is_keyframe_nal(t),
    }
}

/// RFC 7741: the payload descriptor, then (at the start of a partition) the VP8 frame header,
/// whose lowest bit is 0 for a keyframe.
fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    let start_of_partition = first & 0x10 != 0;
    let partition_id = first & 0x07;
    if !start_of_partition || partition_id != 0 {
        return false;
    }
    let mut at = 1;
    if first & 0x80 != 0 {
        // Extended control bits: I (picture id), L (TL0PICIDX), T and K (TID/KEYIDX).
        let Some(&x) = payload.get(at) else {
            return false;
        };
        at += 1;
        if x & 0x80 != 0 {
            let Some(&pid) = payload.get(at) else {
                return false;
            };
            at += if pid & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1;
        }
        if x & 0x30 != 0 {
            at += 1;
        }
    }
    payload.get(at).is_some_and(|header| header & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_single_nal_units() {
        let h = VideoCodec::H264;
        assert!(h.starts_keyframe(&[0x67, 0x42, 0xe0]), "SPS");
        assert!(h.starts_keyframe(&[0x65, 0x88]), "IDR slice");
        assert!(!h.starts_keyframe(&[0x68, 0xce]), "PPS alone");
        assert!(!h.starts_keyframe(&[0x41, 0x9a]), "non-IDR slice");
        assert!(!h.starts_keyframe(&[]));
    }

    #[test]
    fn h264_aggregates_and_fragments() {
        let h = VideoCodec::H264;
        // STAP-A with SPS and PPS (as browsers send before an IDR).
        let stap = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
        assert!(h.starts_keyframe(&stap));
        // STAP-A of two non-IDR units.
        assert!(!h.starts_keyframe(&[0x78, 0x00, 0x01, 0x41, 0x00, 0x01, 0x41]));
        // A truncated STAP-A is not a keyframe (and does not panic).
        assert!(!h.starts_keyframe(&[0x78, 0x00, 0x09, 0x67]));
        assert!(!h.starts_keyframe(&[0x78, 0xff]));
        // FU-A: start of an IDR, middle of an IDR, start of a non-IDR.
        assert!(h.starts_keyframe(&[0x7c, 0x85, 0x00]));
        assert!(!h.starts_keyframe(&[0x7c, 0x05, 0x00]));
        assert!(!h.starts_keyframe(&[0x7c, 0x81, 0x00]));
        assert!(!h.starts_keyframe(&[0x7c]));
    }

    #[test]
    fn vp8_descriptors() {
        let v = VideoCodec::Vp8;
        // Minimal descriptor (S=1, PID=0), keyframe header bit 0.
        assert!(v.starts_keyframe(&[0x10, 0x50]));
        // The same for an interframe.
        assert!(!v.starts_keyframe(&[0x10, 0x51]));
        // Not the start of the partition.
        assert!(!v.starts_keyframe(&[0x00, 0x50]));
        // Extended: I with a 15-bit picture id, L, T: four bytes of descriptor before the header.
        assert!(v.starts_keyframe(&[0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x50]));
        assert!(!v.starts_keyframe(&[0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x51]));
        // Extended with a 7-bit picture id only.
        assert!(v.starts_keyframe(&[0x90, 0x80, 0x12, 0x50]));
        // Truncated descriptors do not panic.
        assert!(!v.starts_keyframe(&[0x90]));
        assert!(!v.starts_keyframe(&[0x90, 0x80]));
        assert!(!v.starts_keyframe(&[0x10]));
    }

    #[test]
    fn other_codecs_are_not_inspected() {
        assert_eq!(VideoCodec::from_mime("video/H264"), Some(VideoCodec::H264));
        assert_eq!(VideoCodec::from_mime("video/vp8"), Some(VideoCodec::Vp8));
        assert_eq!(VideoCodec::from_mime("video/AV1"), None);
        assert_eq!(VideoCodec::from_mime("audio/opus"), None);
    }

    /// Constrained-baseline sequence parameter sets written bit by bit from H.264 7.3.2.1.1:
    /// 40×23 macroblocks cropped by 8 lines at the bottom (640×360), and 20×12 cropped by 12
    /// (320×180).
    const SPS_640X360: [u8; 10] = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x40];
    const SPS_320X180: [u8; 9] = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x05, 0x06, 0x7e, 0x74];

    #[test]
    fn h264_picture_size_from_the_sps() {
        let h = VideoCodec::H264;
        assert_eq!(h.keyframe_size(&SPS_640X360), Some((640, 360)));
        assert_eq!(h.keyframe_size(&SPS_320X180), Some((320, 180)));
        // Inside a STAP-A, after another NAL unit (and followed by the PPS).
        let mut stap = vec![0x78, 0x00, 0x02, 0x09, 0x10, 0x00, 10];
        stap.extend_from_slice(&SPS_640X360);
        stap.extend_from_slice(&[0x00, 0x04, 0x68, 0xce, 0x3c, 0x80]);
        assert_eq!(h.keyframe_size(&stap), Some((640, 360)));
        // No SPS, a truncated one, a STAP-A whose size runs past the end.
        assert_eq!(h.keyframe_size(&[0x65, 0x88, 0x84]), None);
        assert_eq!(h.keyframe_size(&SPS_640X360[..5]), None);
        assert_eq!(h.keyframe_size(&[0x78, 0x00, 0x20, 0x67, 0x42]), None);
        assert_eq!(h.keyframe_size(&[]), None);
        // An oversized one is not parsed.
        let mut long = SPS_640X360.to_vec();
        long.resize(MAX_SPS_BYTES + 1, 0);
        assert_eq!(h.keyframe_size(&long), None);
    }

    /// End-to-end encrypted frames (ADR 0003 §1) keep in clear exactly what this module reads:
    /// sealed like a client seals them and packetized like `rtc` packetizes them, a keyframe
    /// still starts with the SPS (its size readable) and a delta frame is still not a keyframe.
    #[test]
    fn h264_sealed_frames_keep_what_the_engine_reads() {
        use rtc::rtp::codec::h264::H264Payloader;
        use rtc::rtp::packetizer::Payloader as _;
        use salon_e2ee::{Codec, FrameSealer, SenderKey};
        let sealer = FrameSealer::new(SenderKey::random(0)).expect("sealer");
        let h = VideoCodec::H264;
        let body: Vec<u8> = (0..4000u32).map(|i| (i * 7 % 5) as u8).collect();
        let mut key = vec![0, 0, 0, 1];
        key.extend_from_slice(&SPS_640X360);
        key.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 1, 0x65, 0x88]);
        key.extend_from_slice(&body);
        let mut delta = vec![0, 0, 0, 1, 0x41, 0x9a];
        delta.extend_from_slice(&body);
        for (frame, keyframe) in [(key, true), (delta, false)] {
            let sealed = sealer.seal(Codec::H264, &frame).expect("seal");
            assert_ne!(sealed, frame);
            let payloads = H264Payloader::default()
                .payload(1200, &bytes::Bytes::from(sealed))
                .expect("packetize");
            assert!(payloads.len() > 3, "fragmented");
            assert_eq!(h.starts_keyframe(&payloads[0]), keyframe);
            if keyframe {
                assert_eq!(h.keyframe_size(&payloads[0]), Some((640, 360)));
            }
            // A keyframe: the STAP-A with SPS and PPS, then the IDR's first fragment; the rest
            // (all ciphertext) never looks like the start of one.
            let starts = usize::from(keyframe) * 2;
            assert!(payloads[..starts].iter().all(|p| h.starts_keyframe(p)));
            assert!(
                payloads[starts.max(1)..]
                    .iter()
                    .all(|p| !h.starts_keyframe(p))
            );
        }
    }

    #[test]
    fn vp8_sealed_frames_keep_what_the_engine_reads() {
        use salon_e2ee::{Codec, FrameSealer, SenderKey};
        let sealer = FrameSealer::new(SenderKey::random(0)).expect("sealer");
        let v = VideoCodec::Vp8;
        // A keyframe header (RFC 6386 §9.1): tag with P=0, start code, 640×360.
        let mut key = vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
        key.extend_from_slice(&[0xaa; 900]);
        let mut delta = vec![0x51, 0x2a, 0x00];
        delta.extend_from_slice(&[0xbb; 300]);
        for (frame, keyframe) in [(key, true), (delta, false)] {
            let sealed = sealer.seal(Codec::Vp8, &frame).expect("seal");
            // The packetizer's payload descriptor (S=1) goes in front of the sealed frame.
            let mut payload = vec![0x10];
            payload.extend_from_slice(&sealed);
            assert_eq!(v.starts_keyframe(&payload), keyframe);
            assert_eq!(
                v.keyframe_size(&payload),
                keyframe.then_some((640, 360)),
                "the clear keyframe header still gives the size"
            );
        }
    }

    /// Garbage after an SPS or STAP-A header (what anyone in a room can send) never panics, and a
    /// size found is never zero. (The `media_payloads` fuzz target goes further.)
    #[test]
    fn h264_sps_garbage_is_harmless() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for i in 0..100_000 {
            let len = rng.random_range(1..64);
            let mut payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            payload[0] = if i % 2 == 0 { 0x67 } else { 0x78 };
            if let Some((w, h)) = h264_sps_size(&payload) {
                assert!(w > 0 && h > 0);
            }
        }
    }
}
