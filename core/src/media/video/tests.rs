use super::*;
use crate::media::pattern::TestPattern;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn config(width: u32, height: u32) -> VideoEncoderConfig {
    VideoEncoderConfig {
        width,
        height,
        bitrate_bps: 1_000_000,
        max_fps: 30.0,
    }
}

fn frame_at(pattern: &mut TestPattern, index: u64) -> I420Frame {
    pattern.next_frame(index * 33_333)
}

/// NAL unit types in an Annex-B buffer (4- or 3-byte start codes).
fn nal_types(annexb: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < annexb.len() {
        if annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1 {
            types.push(annexb[i + 3] & 0x1f);
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

#[test]
fn codec_types_are_send() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<VideoEncoder>();
    send::<VideoDecoder>();
    sync::<VideoEncoder>();
    sync::<VideoDecoder>();
}

#[test]
fn frame_constructor_checks_size() {
    assert!(I420Frame::new(4, 2, vec![0; 12], 0).is_ok());
    assert!(I420Frame::new(4, 2, vec![0; 11], 0).is_err());
    assert!(I420Frame::new(3, 2, vec![0; 9], 0).is_err());
    assert!(I420Frame::new(0, 0, vec![], 0).is_err());
    assert!(I420Frame::new(u32::MAX - 1, u32::MAX - 1, vec![], 0).is_err());
    let frame = I420Frame::new(4, 2, (0..12).collect(), 0).expect("valid");
    let (y, u, v) = frame.planes();
    assert_eq!((y.len(), u.len(), v.len()), (8, 2, 2));
    assert_eq!((u[0], v[0]), (8, 10));
}

#[test]
fn round_trip_640x360() {
    let mut pattern = TestPattern::new(640, 360).expect("pattern");
    let mut encoder = VideoEncoder::new(config(640, 360)).expect("encoder");
    let mut decoder = VideoDecoder::new().expect("decoder");
    let mut decoded = 0;
    for i in 0..30 {
        let frame = frame_at(&mut pattern, i);
        let encoded = encoder.encode(&frame, i == 15).expect("encode");
        let encoded = encoded.expect("no frame skipped at 1 Mbit/s");
        assert_eq!(encoded.timestamp_us, frame.timestamp_us);
        if i == 0 || i == 15 {
            assert!(encoded.keyframe, "frame {i} must be a keyframe");
            let types = nal_types(&encoded.data);
            assert!(types.contains(&7) && types.contains(&8) && types.contains(&5));
        } else {
            assert!(!encoded.keyframe, "frame {i} should be a delta frame");
        }
        let picture = decoder
            .decode(&encoded.data)
            .expect("decode")
            .expect("a picture");
        assert_eq!((picture.width, picture.height), (640, 360));
        assert_eq!(picture.data.len(), 640 * 360 * 3 / 2);
        decoded += 1;
    }
    assert_eq!(decoded, 30);
}

#[test]
fn stream_is_constrained_baseline() {
    let mut pattern = TestPattern::new(320, 240).expect("pattern");
    let mut encoder = VideoEncoder::new(config(320, 240)).expect("encoder");
    let au = encoder
        .encode(&frame_at(&mut pattern, 0), false)
        .expect("encode");
    let data = au.expect("first frame").data;
    let sps = data
        .windows(5)
        .position(|w| w[..4] == [0, 0, 0, 1] && w[4] & 0x1f == 7)
        .expect("SPS present");
    let profile_idc = data[sps + 5];
    let constraints = data[sps + 6];
    assert_eq!(profile_idc, 66, "baseline");
    assert_ne!(
        constraints & 0x40,
        0,
        "constraint_set1 (constrained baseline)"
    );
}

#[test]
fn decoded_picture_resembles_input() {
    let mut pattern = TestPattern::new(320, 180).expect("pattern");
    let mut encoder = VideoEncoder::new(config(320, 180)).expect("encoder");
    let mut decoder = VideoDecoder::new().expect("decoder");
    let frame = frame_at(&mut pattern, 0);
    let au = encoder
        .encode(&frame, false)
        .expect("encode")
        .expect("frame");
    let picture = decoder.decode(&au.data).expect("decode").expect("picture");
    let diff: u64 = frame
        .data
        .iter()
        .zip(&picture.data)
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    let mean = diff as f64 / frame.data.len() as f64;
    assert!(mean < 6.0, "mean absolute error {mean}");
}

#[test]
fn resolution_change_rebuilds_encoder() {
    let mut encoder = VideoEncoder::new(config(640, 360)).expect("encoder");
    let mut decoder = VideoDecoder::new().expect("decoder");
    for (w, h) in [(640, 360), (320, 180), (1280, 720), (640, 360)] {
        let mut pattern = TestPattern::new(w, h).expect("pattern");
        for i in 0..3 {
            let au = encoder
                .encode(&frame_at(&mut pattern, i), false)
                .expect("encode");
            let au = au.expect("frame");
            assert_eq!(au.keyframe, i == 0, "{w}x{h} frame {i}");
            let picture = decoder.decode(&au.data).expect("decode").expect("picture");
            assert_eq!((picture.width, picture.height), (w, h));
        }
        assert_eq!((encoder.config().width, encoder.config().height), (w, h));
    }
}

#[test]
fn keyframe_request_and_bitrate_change() {
    let mut pattern = TestPattern::new(320, 180).expect("pattern");
    let mut encoder = VideoEncoder::new(config(320, 180)).expect("encoder");
    let mut keyframes = Vec::new();
    for i in 0..8 {
        if i == 3 {
            encoder.request_keyframe();
        }
        if i == 6 {
            encoder.set_bitrate(300_000).expect("bitrate");
        }
        let au = encoder
            .encode(&frame_at(&mut pattern, i), false)
            .expect("encode");
        keyframes.push(au.expect("frame").keyframe);
    }
    let expected = [true, false, false, true, false, false, true, false];
    assert_eq!(keyframes, expected);
    assert!(encoder.set_bitrate(0).is_err());
}

#[test]
fn bad_configs_and_frames_are_errors() {
    assert!(VideoEncoder::new(config(641, 360)).is_err());
    assert!(VideoEncoder::new(config(0, 360)).is_err());
    assert!(VideoEncoder::new(config(7680, 4320)).is_err());
    let mut bad_fps = config(640, 360);
    bad_fps.max_fps = f32::NAN;
    assert!(VideoEncoder::new(bad_fps).is_err());

    let mut encoder = VideoEncoder::new(config(64, 64)).expect("encoder");
    let tampered = I420Frame {
        width: 64,
        height: 64,
        data: vec![0; 10],
        timestamp_us: 0,
    };
    assert!(matches!(
        encoder.encode(&tampered, false),
        Err(MediaError::InvalidFrame { .. })
    ));
    let too_big = I420Frame {
        width: 4000,
        height: 2,
        data: vec![0; 12_000],
        timestamp_us: 0,
    };
    assert!(encoder.encode(&too_big, false).is_err());
    // Frames below one macroblock are refused; the encoder carries on afterwards.
    for (w, h, ok) in [(2, 2, false), (2, 64, false), (16, 16, true), (8, 8, false)] {
        let frame = I420Frame::new(w, h, vec![128; (w * h * 3 / 2) as usize], 0).expect("frame");
        assert_eq!(encoder.encode(&frame, false).is_ok(), ok, "{w}x{h}");
    }
}

#[test]
fn garbage_never_panics_the_decoder() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut decoder = VideoDecoder::new().expect("decoder");
    assert_eq!(decoder.decode(&[]), Ok(None));
    for _ in 0..300 {
        let len = rng.random_range(1..4000);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if rng.random_bool(0.5) {
            bytes.splice(0..0, [0, 0, 0, 1]);
        }
        let _ = decoder.decode(&bytes);
    }

    // Corrupted copies of a real stream: the dangerous case, past the parameter sets.
    let mut pattern = TestPattern::new(320, 180).expect("pattern");
    let mut encoder = VideoEncoder::new(config(320, 180)).expect("encoder");
    let mut decoder = VideoDecoder::new().expect("decoder");
    for i in 0..40 {
        let au = encoder
            .encode(&frame_at(&mut pattern, i), i % 10 == 0)
            .expect("encode");
        let mut data = au.expect("frame").data;
        for _ in 0..rng.random_range(0..20) {
            let at = rng.random_range(0..data.len());
            data[at] ^= 1 << rng.random_range(0..8);
        }
        if rng.random_bool(0.2) {
            data.truncate(rng.random_range(0..data.len()));
        }
        if let Ok(Some(picture)) = decoder.decode(&data) {
            assert!(picture.validate().is_ok());
        }
    }
}
