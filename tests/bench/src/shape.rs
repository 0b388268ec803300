//! Pre-built media shapes: H.264-looking video frames and Opus-looking audio packets, each
//! payload ending in a stamp (who sent it, which stream, a sequence number and the send time).
//! The SFU forwards payloads untouched, so the receiver reads the stamp back; nothing is
//! encoded or decoded.

/// The stamp at the end of every payload.
pub const STAMP_LEN: usize = 24;
const MAGIC: [u8; 4] = *b"SBN1";

/// Audio or video: index into per-kind arrays.
pub const AUDIO: usize = 0;
pub const VIDEO: usize = 1;

/// What a stamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub publisher: u16,
    pub kind: u8,
    /// The simulcast layer (0 lowest; 0 for audio and single-layer video).
    pub layer: u8,
    /// Per publisher, kind and layer: consecutive from 1.
    pub seq: u32,
    /// Nanoseconds since the bench's epoch, when the packet was built.
    pub sent_ns: u64,
    pub run: u32,
}

impl Stamp {
    pub fn write(&self, out: &mut [u8]) {
        let n = out.len();
        if n < STAMP_LEN {
            return;
        }
        let s = &mut out[n - STAMP_LEN..];
        s[0..4].copy_from_slice(&MAGIC);
        s[4..6].copy_from_slice(&self.publisher.to_be_bytes());
        s[6] = self.kind;
        s[7] = self.layer;
        s[8..12].copy_from_slice(&self.seq.to_be_bytes());
        s[12..20].copy_from_slice(&self.sent_ns.to_be_bytes());
        s[20..24].copy_from_slice(&self.run.to_be_bytes());
    }

    /// Reads the stamp at the end of `payload`; `None` for anything else (never panics).
    pub fn read(payload: &[u8]) -> Option<Self> {
        let n = payload.len();
        let s = payload.get(n.checked_sub(STAMP_LEN)?..)?;
        if s.get(0..4)? != MAGIC {
            return None;
        }
        let u16_at = |i: usize| -> Option<u16> {
            Some(u16::from_be_bytes(s.get(i..i + 2)?.try_into().ok()?))
        };
        let u32_at = |i: usize| -> Option<u32> {
            Some(u32::from_be_bytes(s.get(i..i + 4)?.try_into().ok()?))
        };
        let u64_at = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(s.get(i..i + 8)?.try_into().ok()?))
        };
        Some(Self {
            publisher: u16_at(4)?,
            kind: *s.get(6)?,
            layer: *s.get(7)?,
            seq: u32_at(8)?,
            sent_ns: u64_at(12)?,
            run: u32_at(20)?,
        })
    }
}

/// A small deterministic generator (xorshift) so that frame sizes vary without a syscall.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % u64::from(hi - lo + 1)) as u32
    }
}

/// Builds the payloads of one video frame: a keyframe is a STAP-A (SPS, PPS) followed by FU-A
/// fragments of an IDR slice; a delta frame is a single non-IDR NAL or its FU-A fragments. Each
/// payload is `size` bytes (the last fragment of a delta frame is shorter, by up to `shorten`
/// bytes) with the H.264 headers first and the stamp last.
pub fn video_frame(
    keyframe: bool,
    packets: u32,
    size: usize,
    shorten: u32,
    rng: &mut Rng,
) -> Vec<Vec<u8>> {
    let size = size.max(STAMP_LEN + 16);
    let packets = packets.max(1);
    let mut out = Vec::with_capacity(packets as usize + 1);
    if keyframe {
        // STAP-A: type 24 with its units' highest NRI (RFC 6184 §5.7), then (len, NAL) for SPS
        // and PPS.
        let sps: [u8; 11] = [
            0x67, 0x42, 0xe0, 0x1f, 0xda, 0x02, 0x80, 0xf6, 0x9b, 0x80, 0x80,
        ];
        let pps: [u8; 4] = [0x68, 0xce, 0x06, 0xe2];
        let mut p = vec![0x78u8];
        for nal in [&sps[..], &pps[..]] {
            p.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            p.extend_from_slice(nal);
        }
        p.resize(p.len() + STAMP_LEN, 0);
        out.push(p);
    }
    let nal_type: u8 = if keyframe { 5 } else { 1 };
    let nri = 0x60u8;
    if packets == 1 && !keyframe {
        let len = size - (rng.range(0, shorten) as usize).min(size - STAMP_LEN - 8);
        let mut p = vec![0u8; len];
        p[0] = nri | nal_type;
        out.push(p);
        return out;
    }
    for i in 0..packets {
        let last = i + 1 == packets;
        let len = if last && !keyframe {
            size - (rng.range(0, shorten) as usize).min(size - STAMP_LEN - 8)
        } else {
            size
        };
        let mut p = vec![0u8; len];
        // FU indicator (type 28), FU header with S/E bits and the NAL type.
        p[0] = nri | 28;
        p[1] = nal_type | if i == 0 { 0x80 } else { 0 } | if last { 0x40 } else { 0 };
        out.push(p);
    }
    out
}

/// At most this many simulcast layers per video (`--simulcast` sends three).
pub const MAX_LAYERS: usize = 3;

/// The rids of `layers` simulcast layers, lowest first (none for a single layer).
pub fn rids(layers: usize) -> &'static [&'static str] {
    match layers {
        0 | 1 => &[],
        2 => &["q", "f"],
        _ => &["q", "h", "f"],
    }
}

/// How much smaller than the top layer layer `layer` of `layers` is: 4 for the lowest of three
/// (a quarter of the packets per frame and of their size), 2 for the middle, 1 for the top.
pub fn layer_divisor(layer: usize, layers: usize) -> u32 {
    let below_top = layers.saturating_sub(1).saturating_sub(layer).min(8);
    1 << below_top
}

/// `packets` shrunk by `divisor`, at least one: rounded up or down at random in proportion to
/// the remainder, so the mean is right (1–5 packets over 4 gives 1 or 2).
pub fn scaled_packets(packets: u32, divisor: u32, rng: &mut Rng) -> u32 {
    let divisor = divisor.max(1);
    let (q, r) = (packets / divisor, packets % divisor);
    let up = u32::from(r > 0 && rng.range(0, divisor - 1) < r);
    (q + up).max(1)
}

/// One Opus packet of `size` bytes: a TOC byte (CELT fullband, 20 ms), filler, the stamp.
pub fn audio_packet(size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size.max(STAMP_LEN + 1)];
    p[0] = 0xfc;
    p
}

/// The RTP header extension that carries a packet's audio level (RFC 6464).
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// A quiet participant's microphone: silence (127 −dBov) without voice activity.
pub const SILENCE_LEVEL: u8 = 127;

/// The one-byte payload of the audio-level extension: the V bit (voice activity) and the level
/// in −dBov (0 loudest, 127 silence; larger values are clamped).
pub fn audio_level_byte(voice: bool, level_dbov: u8) -> u8 {
    (if voice { 0x80 } else { 0 }) | level_dbov.min(127)
}

/// Every possible audio-level byte, so that a packet's extension payload is a static slice.
pub static LEVEL_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as u8;
        i += 1;
    }
    t
};

/// A speaker's level for one packet: around −20 to −30 dBov, its own base (from `seed`) plus
/// some variation per packet.
pub fn speaker_level(seed: usize, rng: &mut Rng) -> u8 {
    let base = 22 + (seed % 5) as u32; // 22..=26
    u8::try_from(rng.range(base - 2, base + 4)).unwrap_or(25)
}

/// The audio-level extension id in an SDP (`a=extmap:ID[/direction] URI`), if negotiated.
pub fn extmap_id(sdp: &str, uri: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("a=extmap:")?;
        let (id, tail) = rest.split_once(' ')?;
        if tail.split_whitespace().next()? != uri {
            return None;
        }
        id.split('/').next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_rejects_garbage() {
        let s = Stamp {
            publisher: 7,
            kind: 1,
            layer: 2,
            seq: 123_456,
            sent_ns: 987_654_321_000,
            run: 42,
        };
        let mut p = audio_packet(80);
        s.write(&mut p);
        assert_eq!(Stamp::read(&p), Some(s));
        assert_eq!(Stamp::read(&p[..10]), None);
        assert_eq!(Stamp::read(&[]), None);
        p[80 - STAMP_LEN] = b'X';
        assert_eq!(Stamp::read(&p), None);
    }

    #[test]
    fn frames_look_like_h264() {
        let mut rng = Rng::new(9);
        let key = video_frame(true, 10, 1100, 600, &mut rng);
        assert_eq!(key.len(), 11);
        assert_eq!(key[0][0] & 0x1f, 24);
        assert_eq!(key[1][1], 0x80 | 5);
        assert_eq!(key[10][1], 0x40 | 5);
        let delta = video_frame(false, 1, 1100, 600, &mut rng);
        assert_eq!(delta.len(), 1);
        assert_eq!(delta[0][0] & 0x1f, 1);
        assert!(delta.iter().all(|p| p.len() >= STAMP_LEN));
    }

    #[test]
    fn audio_level_bytes() {
        assert_eq!(audio_level_byte(true, 25), 0x80 | 25);
        assert_eq!(audio_level_byte(false, SILENCE_LEVEL), 0x7f);
        assert_eq!(audio_level_byte(true, 200), 0xff);
        assert_eq!(audio_level_byte(false, 0), 0);
        assert!((0..256).all(|i| usize::from(LEVEL_BYTES[i]) == i));
        let mut rng = Rng::new(3);
        for seed in 0..10 {
            for _ in 0..100 {
                assert!((20..=30).contains(&speaker_level(seed, &mut rng)));
            }
        }
    }

    #[test]
    fn extmap_ids_come_from_the_sdp() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
                   a=extmap:3 urn:3gpp:video-orientation\r\n\
                   a=extmap:7/sendrecv urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
        assert_eq!(extmap_id(sdp, AUDIO_LEVEL_URI), Some(7));
        assert_eq!(extmap_id(sdp, "urn:3gpp:video-orientation"), Some(3));
        assert_eq!(extmap_id("v=0\r\n", AUDIO_LEVEL_URI), None);
    }

    #[test]
    fn layers_shrink_toward_the_bottom() {
        assert_eq!(rids(1), &[] as &[&str]);
        assert_eq!(rids(3), &["q", "h", "f"]);
        assert_eq!(
            (0..3).map(|l| layer_divisor(l, 3)).collect::<Vec<_>>(),
            [4, 2, 1]
        );
        assert_eq!(layer_divisor(0, 1), 1);
        let mut rng = Rng::new(5);
        assert_eq!(scaled_packets(15, 1, &mut rng), 15);
        assert_eq!(scaled_packets(1, 4, &mut rng), 1);
        assert_eq!(scaled_packets(8, 4, &mut rng), 2);
        // 3 over 4 is 0.75: at least 1 each time, so the mean is 1.
        let n = 4000;
        let sum: u32 = (0..n).map(|_| scaled_packets(6, 4, &mut rng)).sum();
        let mean = f64::from(sum) / f64::from(n);
        assert!((1.4..1.6).contains(&mean), "{mean}");
    }
}
