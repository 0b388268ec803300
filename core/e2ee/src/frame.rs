//! Per-codec clear prefixes and H.264 escaping (ADR 0003 §1, §14).
//!
//! A protected frame is `P || SFrame(rest, metadata = kind || A)`, with `P` the clear prefix the
//! server reads and `A` the part of `P` that is authenticated. For H.264 the SFrame part is
//! escaped with emulation prevention so that no start code appears in it.

/// The codecs a frame can be protected for, with their `kind` byte (§14 "metadata").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Opus audio: the TOC byte stays clear (kind 1).
    Opus,
    /// H.264 in Annex B: everything up to the first slice NAL's header and one more byte stays
    /// clear (kind 2).
    H264,
    /// VP8: the first 10 (keyframe) or 3 (delta) bytes stay clear (kind 3).
    Vp8,
}

impl Codec {
    /// Maps a MIME type (`audio/opus`, `video/H264`, `video/VP8`, case-insensitive) to a codec.
    pub fn from_mime(mime: &str) -> Option<Self> {
        let mime = mime.trim();
        if mime.eq_ignore_ascii_case("audio/opus") {
            Some(Self::Opus)
        } else if mime.eq_ignore_ascii_case("video/h264") {
            Some(Self::H264)
        } else if mime.eq_ignore_ascii_case("video/vp8") {
            Some(Self::Vp8)
        } else {
            None
        }
    }

    /// The `kind` byte that starts the SFrame metadata: 1 Opus, 2 H.264, 3 VP8.
    pub fn kind(self) -> u8 {
        match self {
            Self::Opus => 1,
            Self::H264 => 2,
            Self::Vp8 => 3,
        }
    }
}

/// Length of the clear prefix `P` of `frame`, or `None` when the frame lacks the structure its
/// codec needs (empty Opus, VP8 shorter than 10/3 bytes, H.264 without a slice NAL of type 1 or
/// 5 followed by one more byte). Works the same on plain and on protected frames.
pub fn split_prefix(codec: Codec, frame: &[u8]) -> Option<usize> {
    let p = match codec {
        Codec::Opus => 1,
        Codec::Vp8 => {
            let first = *frame.first()?;
            if first & 1 == 0 { 10 } else { 3 }
        }
        Codec::H264 => first_slice_header(frame)? + 2,
    };
    (frame.len() >= p).then_some(p)
}

/// The authenticated part `A` of a prefix `P`: all of it, except for H.264 its last 2 bytes.
pub(crate) fn authenticated(codec: Codec, prefix: &[u8]) -> &[u8] {
    match codec {
        Codec::H264 => prefix
            .get(prefix.len().saturating_sub(2)..)
            .unwrap_or(prefix),
        Codec::Opus | Codec::Vp8 => prefix,
    }
}

/// SFrame metadata: `kind || A`.
pub(crate) fn metadata(codec: Codec, prefix: &[u8]) -> Vec<u8> {
    let a = authenticated(codec, prefix);
    let mut m = Vec::with_capacity(1 + a.len());
    m.push(codec.kind());
    m.extend_from_slice(a);
    m
}

/// Index of the NAL header byte of the first slice NAL (type 1 or 5) after an Annex B start
/// code (`00 00 01`, which also matches the tail of `00 00 00 01`).
fn first_slice_header(frame: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(window) = frame.get(i..i + 3) {
        if window == [0, 0, 1] {
            let header = i + 3;
            let nal_type = frame.get(header)? & 0x1f;
            if nal_type == 1 || nal_type == 5 {
                return Some(header);
            }
            i = header;
        } else {
            i += 1;
        }
    }
    None
}

/// Number of trailing zero bytes of `seed` as the escaper counts them (0, 1 or 2+).
fn zero_run(seed: &[u8]) -> usize {
    seed.iter()
        .fold(0, |zeros, &b| if b == 0 { zeros + 1 } else { 0 })
}

/// H.264 emulation prevention (ITU-T H.264 §7.4.1) of `data`: after two zero bytes, a byte
/// `≤ 3` gets `0x03` inserted before it. The zero run starts from `seed` (the authenticated
/// bytes `A` in front of the data), so a start code cannot form across the boundary.
///
/// Ciphertext has a zero byte once in 256, so the runs between zeros are copied whole.
pub fn escape(seed: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 1);
    let mut zeros = zero_run(seed);
    let mut i = 0;
    while i < data.len() {
        if zeros < 2 {
            // Up to the next zero nothing is inserted or dropped (that needs two zeros first).
            let run = copy_to_next_zero(&data[i..], &mut out);
            if run > 0 {
                i += run;
                zeros = 0;
                continue;
            }
        }
        let b = data[i];
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
        i += 1;
    }
    out
}

/// Copies `rest` up to (not including) its first zero byte into `out`; how many bytes that was.
fn copy_to_next_zero(rest: &[u8], out: &mut Vec<u8>) -> usize {
    let run = memchr::memchr(0, rest).unwrap_or(rest.len());
    out.extend_from_slice(&rest[..run]);
    run
}

/// Inverse of [`escape`]: drops a `0x03` that follows two zero bytes, counting zeros from
/// `seed` as the escaper did.
pub fn unescape(seed: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut zeros = zero_run(seed);
    let mut i = 0;
    while i < data.len() {
        if zeros < 2 {
            // Up to the next zero nothing is inserted or dropped (that needs two zeros first).
            let run = copy_to_next_zero(&data[i..], &mut out);
            if run > 0 {
                i += run;
                zeros = 0;
                continue;
            }
        }
        let b = data[i];
        i += 1;
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// Whether escaped data (after `seed`) is free of the sequences the escaper never leaves:
/// `00 00 00`, `00 00 01`, `00 00 02`.
fn is_escaped(seed: &[u8], data: &[u8]) -> bool {
    let mut zeros = zero_run(seed);
    for &b in data {
        if zeros >= 2 && b <= 2 {
            return false;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    true
}

/// Whether `frame` looks like a protected frame of `codec` to an observer without keys: empty,
/// or `P` followed by (for H.264: properly escaped) data that starts with a well-formed SFrame
/// header and holds at least a 16-byte tag after it.
///
/// This is a shape check only: random bytes can pass it, and it proves nothing about who made
/// the frame.
pub fn is_protected_shape(codec: Codec, frame: &[u8]) -> bool {
    if frame.is_empty() {
        return true;
    }
    let Some(p) = split_prefix(codec, frame) else {
        return false;
    };
    let (prefix, rest) = frame.split_at(p);
    let sframe = match codec {
        Codec::H264 => {
            let a = authenticated(codec, prefix);
            if !is_escaped(a, rest) {
                return false;
            }
            unescape(a, rest)
        }
        Codec::Opus | Codec::Vp8 => rest.to_vec(),
    };
    crate::sframe::parse_header(&sframe)
        .is_some_and(|h| sframe.len() >= h.len + crate::sframe::TAG_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_from_mime() {
        assert_eq!(Codec::from_mime("audio/opus"), Some(Codec::Opus));
        assert_eq!(Codec::from_mime("video/H264"), Some(Codec::H264));
        assert_eq!(Codec::from_mime("VIDEO/vp8"), Some(Codec::Vp8));
        assert_eq!(Codec::from_mime("video/VP9"), None);
        assert_eq!(Codec::from_mime(""), None);
    }

    #[test]
    fn prefixes() {
        assert_eq!(split_prefix(Codec::Opus, &[]), None);
        assert_eq!(split_prefix(Codec::Opus, &[0x78]), Some(1));
        assert_eq!(split_prefix(Codec::Vp8, &[0x10; 10]), Some(10));
        assert_eq!(split_prefix(Codec::Vp8, &[0x10; 9]), None);
        assert_eq!(split_prefix(Codec::Vp8, &[0x11; 3]), Some(3));
        assert_eq!(split_prefix(Codec::Vp8, &[0x11; 2]), None);
        assert_eq!(split_prefix(Codec::Vp8, &[]), None);
        // SPS, PPS, IDR with a 4-byte and 3-byte start codes.
        let f = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0x1f, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88, 0x84,
        ];
        assert_eq!(split_prefix(Codec::H264, &f), Some(19));
        assert_eq!(split_prefix(Codec::H264, &f[..19]), Some(19));
        assert_eq!(split_prefix(Codec::H264, &f[..18]), None);
        assert_eq!(split_prefix(Codec::H264, &[0, 0, 1, 0x67, 1, 2, 3]), None);
        assert_eq!(split_prefix(Codec::H264, &[0x65, 1, 2, 3]), None);
        assert_eq!(split_prefix(Codec::H264, &[0, 0, 1]), None);
        assert_eq!(split_prefix(Codec::H264, &[0, 0, 1, 0x41, 0x9a]), Some(5));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape(&[0x65, 0x88], &[0, 0, 1]), vec![0, 0, 3, 1]);
        assert_eq!(escape(&[0x65, 0x00], &[0, 1]), vec![0, 3, 1]);
        assert_eq!(escape(&[0x65, 0x00], &[0, 4]), vec![0, 4]);
        assert_eq!(escape(&[], &[0, 0, 0, 0, 0]), vec![0, 0, 3, 0, 0, 3, 0]);
        assert_eq!(escape(&[], &[0, 0, 3]), vec![0, 0, 3, 3]);
        assert_eq!(escape(&[], &[0, 0]), vec![0, 0]);
        for (seed, data) in [
            (
                &[0x65u8, 0][..],
                &[0u8, 0, 0, 1, 2, 3, 0, 0, 0, 0, 3, 3, 0][..],
            ),
            (&[0x41, 0x9a], &[3, 0, 0, 3, 0, 0, 2]),
            (&[], &[]),
        ] {
            let e = escape(seed, data);
            assert!(is_escaped(seed, &e));
            assert_eq!(unescape(seed, &e), data);
        }
    }

    #[test]
    fn escaped_output_never_has_start_codes() {
        let mut x = 0x1234_5678_u32;
        for _ in 0..200 {
            let data: Vec<u8> = (0..300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    (x % 5) as u8
                })
                .collect();
            for seed in [&[0x65u8, 0][..], &[0x65, 7][..]] {
                let e = escape(seed, &data);
                let joined = [seed, &e[..]].concat();
                assert!(
                    !joined
                        .windows(3)
                        .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2)
                );
                assert_eq!(unescape(seed, &e), data);
            }
        }
    }

    /// The byte-at-a-time definition the fast paths must equal.
    fn escape_reference(seed: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut zeros = zero_run(seed);
        for &b in data {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        out
    }

    fn unescape_reference(seed: &[u8], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut zeros = zero_run(seed);
        for &b in data {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        out
    }

    #[test]
    fn the_fast_escaper_equals_the_definition() {
        let mut x = 0x9e37_79b9_u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..2000 {
            let len = (next() % 400) as usize;
            // From mostly zeros and small values to mostly random bytes.
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    let v = next();
                    if round % 3 == 0 {
                        (v % 4) as u8
                    } else if v % 7 == 0 {
                        0
                    } else {
                        v as u8
                    }
                })
                .collect();
            let seeds: [&[u8]; 4] = [&[], &[0], &[0, 0], &[0x65, 0]];
            for seed in seeds {
                let e = escape(seed, &data);
                assert_eq!(e, escape_reference(seed, &data));
                assert_eq!(unescape(seed, &e), data);
                assert_eq!(unescape(seed, &data), unescape_reference(seed, &data));
            }
        }
    }
}
