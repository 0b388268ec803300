use std::time::Instant;

use bytes::Bytes;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rtc::rtp::codec::h264::H264Payloader;
use rtc::rtp::header::Header;
use rtc::rtp::packetizer::{Packetizer, new_packetizer};
use rtc::rtp::sequence::new_fixed_sequencer;

use super::*;
use crate::media::pattern::TestPattern;
use crate::media::video::{EncodedVideo, VideoDecoder, VideoEncoder, VideoEncoderConfig};

const SSRC: u32 = 0x5a10;
const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1f, 0xda];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

fn packet(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Packet {
    Packet {
        header: Header {
            version: 2,
            marker,
            payload_type: 102,
            sequence_number: seq,
            timestamp: ts,
            ssrc: SSRC,
            ..Default::default()
        },
        payload: Bytes::copy_from_slice(payload),
    }
}

fn stap_a(nals: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0x78];
    for nal in nals {
        out.extend((nal.len() as u16).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// A keyframe as three packets: STAP-A(SPS, PPS), then an IDR slice split in two FU-As.
fn keyframe(seq: u16, ts: u32) -> Vec<Packet> {
    vec![
        packet(seq, ts, false, &stap_a(&[SPS, PPS])),
        packet(seq.wrapping_add(1), ts, false, &[0x7c, 0x85, 1, 2, 3]),
        packet(seq.wrapping_add(2), ts, true, &[0x7c, 0x45, 4, 5, 6]),
    ]
}

/// A delta frame as one single-NAL packet.
fn delta(seq: u16, ts: u32) -> Packet {
    packet(seq, ts, true, &[0x41, 0x9a, seq as u8])
}

fn push_all(assembler: &mut H264Assembler, packets: Vec<Packet>) -> Vec<AssembledFrame> {
    packets
        .into_iter()
        .flat_map(|p| assembler.push_frames(p))
        .collect()
}

fn timestamps(frames: &[AssembledFrame]) -> Vec<u32> {
    frames.iter().map(|f| f.rtp_timestamp).collect()
}

#[test]
fn frames_come_out_in_order_and_whole() {
    let mut a = H264Assembler::new();
    assert!(a.wants_keyframe());
    let mut packets = keyframe(100, 0);
    packets.push(delta(103, 3000));
    packets.push(delta(104, 6000));
    let frames = push_all(&mut a, packets);
    assert_eq!(timestamps(&frames), [0, 3000, 6000]);
    assert!(frames[0].keyframe && !frames[1].keyframe);
    let expected: Vec<u8> = [
        &[0, 0, 0, 1],
        SPS,
        &[0, 0, 0, 1],
        PPS,
        &[0, 0, 0, 1, 0x65, 1, 2, 3, 4, 5, 6],
    ]
    .concat();
    assert_eq!(frames[0].data, expected);
    assert_eq!(frames[1].data, [0, 0, 0, 1, 0x41, 0x9a, 103]);
    assert!(!a.wants_keyframe());
    assert!(a.packets.is_empty() && a.bytes == 0);
}

#[test]
fn delta_frames_before_the_first_keyframe_are_dropped() {
    let mut a = H264Assembler::new();
    assert!(a.push(delta(10, 0)).is_empty());
    assert!(a.push(delta(11, 3000)).is_empty());
    let frames = push_all(&mut a, keyframe(12, 6000));
    assert_eq!(timestamps(&frames), [6000]);
    assert!(a.packets.is_empty());
}

#[test]
fn reordering_and_duplicates_are_absorbed() {
    let mut a = H264Assembler::new();
    let mut packets = keyframe(65534, 0); // wraps through 0
    packets.extend([delta(1, 3000), delta(2, 6000), delta(3, 9000)]);
    let order = [1, 0, 4, 2, 3, 2, 0, 5];
    let frames: Vec<_> = order
        .iter()
        .flat_map(|&i| a.push_frames(packets[i].clone()))
        .collect();
    assert_eq!(timestamps(&frames), [0, 3000, 6000, 9000]);
    assert!(!a.wants_keyframe());
}

#[test]
fn loss_withholds_delta_frames_until_a_keyframe() {
    let mut a = H264Assembler::new();
    let mut got = push_all(&mut a, keyframe(0, 0));
    // Packet 3 (frame at 3000) is lost; the following delta frames cannot be decoded.
    for seq in 4..10 {
        got.extend(a.push_frames(delta(seq, u32::from(seq) * 3000)));
    }
    assert_eq!(timestamps(&got), [0]);
    assert!(
        a.wants_keyframe(),
        "gave up on the gap after 5 blocked frames"
    );
    got.extend(push_all(&mut a, keyframe(10, 30_000)));
    got.extend(a.push_frames(delta(13, 33_000)));
    assert_eq!(timestamps(&got), [0, 30_000, 33_000]);
    assert!(!a.wants_keyframe());
}

#[test]
fn a_late_packet_fills_the_gap_in_time() {
    let mut a = H264Assembler::new();
    let mut got = push_all(&mut a, keyframe(0, 0));
    for seq in [4, 5, 6] {
        got.extend(a.push_frames(delta(seq, u32::from(seq) * 3000)));
    }
    assert_eq!(timestamps(&got), [0]);
    got.extend(a.push_frames(delta(3, 9000)));
    assert_eq!(timestamps(&got), [0, 9000, 12_000, 15_000, 18_000]);
}

#[test]
fn keyframe_after_a_lost_marker_restarts_the_stream() {
    let mut a = H264Assembler::new();
    push_all(&mut a, keyframe(0, 0));
    // Packet 3 (the only packet of a delta frame) is lost; a keyframe follows right away.
    let frames = push_all(&mut a, keyframe(4, 6000));
    assert_eq!(timestamps(&frames), [6000]);
}

#[test]
fn padding_between_frames_keeps_the_stream_going() {
    let mut a = H264Assembler::new();
    let mut packets = keyframe(0, 0);
    packets.push(packet(3, 0, false, &[]));
    packets.push(packet(4, 0, false, &[]));
    packets.push(delta(5, 3000));
    let frames = push_all(&mut a, packets);
    assert_eq!(timestamps(&frames), [0, 3000]);
}

#[test]
fn a_new_ssrc_starts_over() {
    let mut a = H264Assembler::new();
    push_all(&mut a, keyframe(0, 0));
    let mut other = delta(3, 3000);
    other.header.ssrc = SSRC + 1;
    assert!(
        a.push(other).is_empty(),
        "a new stream needs its own keyframe"
    );
    assert!(a.wants_keyframe());
}

#[test]
fn malformed_payloads_are_dropped() {
    let bad: [&[u8]; 7] = [
        &[0x78, 0x00, 0x01, 0x67, 0x00], // STAP-A cut inside a length field
        &[0x78, 0x00, 0x09, 0x67, 0x42], // STAP-A length past the end
        &[0x78, 0x00, 0x00, 0x00, 0x02, 1, 2], // STAP-A with an empty unit
        &[0x7c, 0x05, 1, 2],             // FU-A continuation without a start
        &[0x7c, 0x85, 1, 2],             // FU-A start without an end
        &[0x1e, 1, 2, 3],                // NAL type 30
        &[0x65],                         // too short
    ];
    for payload in bad {
        let mut a = H264Assembler::new();
        push_all(&mut a, keyframe(0, 0));
        assert!(
            a.push(packet(3, 3000, true, payload)).is_empty(),
            "{payload:?}"
        );
        assert!(a.wants_keyframe(), "{payload:?} breaks the stream");
        assert!(a.packets.is_empty());
    }
}

#[test]
fn random_packets_never_panic_and_memory_stays_bounded() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut a = H264Assembler::new();
    let mut seq: u16 = 0;
    let mut frames = 0;
    for i in 0..20_000 {
        seq = match rng.random_range(0..10) {
            0 => rng.random(),
            1 => seq.wrapping_sub(rng.random_range(0..2000)),
            _ => seq.wrapping_add(rng.random_range(0..3)),
        };
        let len = rng.random_range(0..if i % 100 == 0 { 60_000 } else { 40 });
        let mut payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if let Some(first) = payload.first_mut() {
            *first = [0x78, 0x7c, 0x65, 0x67, 0x41, *first][rng.random_range(0..6)];
        }
        let mut p = packet(
            seq,
            rng.random_range(0..4) * 3000,
            rng.random_bool(0.4),
            &payload,
        );
        if i % 5000 == 4999 {
            p.header.ssrc ^= 1;
        }
        frames += a.push(p).len();
        assert!(a.packets.len() <= MAX_PACKETS && a.bytes <= MAX_BYTES);
        assert_eq!(
            a.bytes,
            a.packets.values().map(|p| p.payload.len()).sum::<usize>()
        );
    }
    assert!(frames > 0, "some random packets form valid frames");
}

/// Packetizes encoded frames the way webrtc's `TrackLocalStaticSample` does.
fn packetize(frames: &[EncodedVideo], first_seq: u16) -> Vec<Vec<Packet>> {
    let now = Instant::now();
    let mut packetizer = new_packetizer(
        now,
        1200,
        102,
        SSRC,
        Box::new(H264Payloader::default()),
        Box::new(new_fixed_sequencer(first_seq)),
        90_000,
    );
    frames
        .iter()
        .map(|f| {
            let packets = packetizer.packetize(now, &Bytes::copy_from_slice(&f.data), 3000);
            packets.expect("packetize")
        })
        .collect()
}

#[test]
fn rtp_round_trip_with_reordering_and_loss() {
    let (w, h) = (640, 360);
    let mut pattern = TestPattern::new(w, h).expect("pattern");
    let config = VideoEncoderConfig {
        width: w,
        height: h,
        bitrate_bps: 1_500_000,
        max_fps: 30.0,
    };
    let mut encoder = VideoEncoder::new(config).expect("encoder");
    let encoded: Vec<EncodedVideo> = (0..30)
        .map(|i| {
            let frame = pattern.next_frame(i * 33_333);
            encoder
                .encode(&frame, i == 20)
                .expect("encode")
                .expect("not skipped")
        })
        .collect();
    let per_frame = packetize(&encoded, 65_500); // sequence numbers wrap mid-stream
    assert!(
        per_frame[0].len() >= 2,
        "STAP-A with SPS and PPS, then the IDR"
    );
    assert!(
        per_frame.iter().any(|p| p.len() >= 5),
        "big frames are split into FU-As"
    );
    assert!(
        per_frame
            .iter()
            .flatten()
            .all(|p| p.payload.len() <= 1200 - 12)
    );

    // Lose the second packet of frame 10, then shuffle neighbours a little.
    let mut wire: Vec<Packet> = Vec::new();
    for (i, packets) in per_frame.into_iter().enumerate() {
        let lost = if packets.len() > 1 { 1 } else { 0 };
        for (j, p) in packets.into_iter().enumerate() {
            if !(i == 10 && j == lost) {
                wire.push(p);
            }
        }
    }
    let mut rng = StdRng::seed_from_u64(5);
    for chunk in wire.chunks_mut(3) {
        if rng.random_bool(0.3) {
            chunk.shuffle(&mut rng);
        }
    }

    let mut assembler = H264Assembler::new();
    let mut decoder = VideoDecoder::new().expect("decoder");
    let mut decoded = Vec::new();
    for p in wire {
        for frame in assembler.push_frames(p) {
            let picture = decoder
                .decode(&frame.data)
                .expect("decode")
                .expect("picture");
            assert_eq!((picture.width, picture.height), (w, h));
            decoded.push((frame.rtp_timestamp, frame.keyframe));
        }
    }
    let first_ts = decoded.first().map(|d| d.0).unwrap_or(0);
    let indices: Vec<u32> = decoded
        .iter()
        .map(|d| d.0.wrapping_sub(first_ts) / 3000)
        .collect();
    let expected: Vec<u32> = (0..10).chain(20..30).collect();
    assert_eq!(
        indices, expected,
        "frames 10..20 wait for the keyframe at 20"
    );
    assert!(decoded[0].1 && decoded[10].1, "restarts are keyframes");
    assert!(!assembler.wants_keyframe());
}
