//! Frame protection through the public API: round trips per codec, tampering, keys, replay,
//! generations and the shared counter (ADR 0003 §1, §14).

use std::sync::Arc;
use std::time::{Duration, Instant};

use salon_e2ee::{
    Codec, FrameSealer, KeyTable, OpenError, SealError, SenderKey, escape, is_protected_shape,
    split_prefix, unescape,
};

/// Annex B H.264 key frame: SPS, PPS, two IDR slices; payloads full of `00 00 0x`.
fn h264_key_frame(salt: u8) -> Vec<u8> {
    let mut f = vec![
        0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8,
    ];
    f.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x06, 0xe2]);
    f.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88]);
    for i in 0..400u32 {
        // emulation-prevented like a real slice: 00 00 03 0x, and plenty of lone zeros
        match i % 7 {
            0 | 1 => f.push(0),
            2 => f.push(3),
            3 => f.push((i % 4) as u8),
            _ => f.push((i as u8).wrapping_mul(salt) | 0x10),
        }
    }
    f.extend_from_slice(&[0, 0, 1, 0x65, 0xb8, 0x40, 0, 0, 3, 1, 0, 0, 3, 0, 0x77]);
    f
}

/// Annex B H.264 delta frame: two non-IDR slices.
fn h264_delta_frame() -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0x41, 0x9a, 0x00, 0x00, 0x03, 0x00, 0x21];
    f.extend((0..300u32).map(|i| if i % 3 == 0 { 0 } else { (i % 5) as u8 }));
    f.extend_from_slice(&[0, 0, 1, 0x41, 0x9b, 0, 0, 3, 2, 9]);
    f
}

fn vp8_key_frame() -> Vec<u8> {
    let mut f = vec![0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
    f.extend((0..500u32).map(|i| (i * 7) as u8));
    f
}

fn vp8_delta_frame() -> Vec<u8> {
    let mut f = vec![0x31, 0x07, 0x00];
    f.extend((0..200u32).map(|i| (i * 13) as u8));
    f
}

fn opus_frame() -> Vec<u8> {
    let mut f = vec![0x78];
    f.extend((0..80u32).map(|i| (i * 3) as u8));
    f
}

fn all_frames() -> Vec<(Codec, Vec<u8>)> {
    vec![
        (Codec::H264, h264_key_frame(3)),
        (Codec::H264, h264_delta_frame()),
        (Codec::Vp8, vp8_key_frame()),
        (Codec::Vp8, vp8_delta_frame()),
        (Codec::Opus, opus_frame()),
        (Codec::Opus, vec![0xfc]),
    ]
}

fn key(kid: u64, byte: u8) -> SenderKey {
    SenderKey {
        kid,
        key: [byte; 16],
    }
}

fn setup(kid: u64) -> (FrameSealer, KeyTable) {
    let k = key(kid, 0x11);
    let sealer = FrameSealer::new(k.clone()).expect("sealer");
    let mut table = KeyTable::new();
    assert!(table.insert("alice", k));
    (sealer, table)
}

fn has_start_code(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 1)
}

#[test]
fn round_trips_every_codec() {
    let (sealer, mut table) = setup(0);
    let now = Instant::now();
    for (codec, frame) in all_frames() {
        let p = split_prefix(codec, &frame).expect("prefix");
        let protected = sealer.seal(codec, &frame).expect("seal");
        assert_eq!(protected[..p], frame[..p], "prefix unchanged");
        assert!(is_protected_shape(codec, &protected));
        assert_ne!(protected[p..], frame[p..]);
        if codec == Codec::H264 {
            // no start code from the slice NAL header on: A and the escaped part
            assert!(!has_start_code(&protected[p - 2..]));
            assert!(
                has_start_code(&frame[p..]),
                "the test frame has inner start codes"
            );
            assert_eq!(split_prefix(codec, &protected), Some(p));
        }
        let opened = table.open("alice", codec, &protected, now).expect("open");
        assert_eq!(opened, frame);
    }
}

#[test]
fn escaping_happens_and_is_undone() {
    // About 2.4e-7 of ciphertext positions start `00 00 0x` (x ≤ 3): 24 MiB of deterministic
    // ciphertext (fixed key, counters and plaintexts) hold a few.
    let (sealer, mut table) = setup(1);
    let now = Instant::now();
    let mut escaped = 0;
    for i in 0..24u32 {
        let mut frame = vec![0, 0, 0, 1, 0x65, if i % 2 == 0 { 0 } else { 0x88 }];
        frame.extend((0..1u32 << 20).map(|j| (i + j) as u8));
        let protected = sealer.seal(Codec::H264, &frame).expect("seal");
        let p = 6;
        assert!(!has_start_code(&protected[p - 2..]));
        let raw = unescape(&protected[p - 2..p], &protected[p..]);
        if raw.len() != protected.len() - p {
            escaped += 1;
            assert_eq!(escape(&protected[p - 2..p], &raw), protected[p..]);
        }
        assert_eq!(table.open("alice", Codec::H264, &protected, now), Ok(frame));
    }
    assert!(escaped > 0, "no ciphertext needed escaping");
}

#[test]
fn empty_frames_pass_and_structureless_frames_are_refused() {
    let (sealer, mut table) = setup(0);
    let now = Instant::now();
    for codec in [Codec::Opus, Codec::H264, Codec::Vp8] {
        assert_eq!(sealer.seal(codec, &[]), Ok(Vec::new()));
        assert_eq!(table.open("alice", codec, &[], now), Ok(Vec::new()));
        assert!(is_protected_shape(codec, &[]));
    }
    // empty frames take no counter
    let first = sealer.seal(Codec::Opus, &[0x78, 1]).expect("seal");
    assert_eq!(first[1], 0x00, "KID 0, CTR 0");
    for (codec, frame) in [
        (Codec::H264, vec![0, 0, 0, 1, 0x67, 0x42, 0, 0x1f]), // SPS only
        (Codec::H264, vec![0, 0, 0, 1, 0x65]),                // slice header without a byte
        (Codec::H264, vec![0x65, 0x88, 0x84, 0x21]),          // no start code
        (Codec::Vp8, vec![0x50; 9]),                          // key frame shorter than 10
        (Codec::Vp8, vec![0x31, 0]),                          // delta shorter than 3
    ] {
        assert_eq!(sealer.seal(codec, &frame), Err(SealError::Malformed));
        assert_eq!(
            table.open("alice", codec, &frame, now),
            Err(OpenError::Malformed)
        );
        assert!(!is_protected_shape(codec, &frame));
    }
    // prefix only, no SFrame behind it
    assert_eq!(
        table.open("alice", Codec::Opus, &[0x78], now),
        Err(OpenError::Malformed)
    );
    assert_eq!(
        table.open("alice", Codec::Opus, &[0x78, 0x00, 1, 2], now),
        Err(OpenError::Malformed)
    );
}

#[test]
fn tampering_fails_authentication() {
    let now = Instant::now();
    for (codec, frame) in all_frames() {
        let (sealer, mut table) = setup(0);
        let protected = sealer.seal(codec, &frame).expect("seal");
        let p = split_prefix(codec, &frame).expect("prefix");
        let a_start = if codec == Codec::H264 { p - 2 } else { 0 };
        // A: every byte except VP8's byte 0, whose P bit changes the prefix length
        for i in a_start..p {
            if codec == Codec::Vp8 && i == 0 {
                continue;
            }
            if codec == Codec::H264 && i == p - 2 {
                // keep the NAL type a slice (1 or 5) so the prefix stays the same
                let mut bad = protected.clone();
                bad[i] ^= 0x60; // nal_ref_idc bits
                assert_eq!(
                    table.open("alice", codec, &bad, now),
                    Err(OpenError::Authentication)
                );
                continue;
            }
            let mut bad = protected.clone();
            bad[i] ^= 0x80;
            assert_eq!(
                table.open("alice", codec, &bad, now),
                Err(OpenError::Authentication),
                "{codec:?} A byte {i}"
            );
        }
        // header (1 byte here: KID 0, small CTR), ciphertext and tag
        for i in p..protected.len() {
            let mut bad = protected.clone();
            bad[i] ^= 0x80;
            let result = table.open("alice", codec, &bad, now);
            if i == p {
                assert!(result.is_err(), "{codec:?} header");
            } else if codec == Codec::H264 {
                assert!(
                    matches!(
                        result,
                        Err(OpenError::Authentication | OpenError::Malformed)
                    ),
                    "{codec:?} byte {i}: {result:?}"
                );
            } else {
                assert_eq!(result, Err(OpenError::Authentication), "{codec:?} byte {i}");
            }
        }
        // truncations never open
        for len in 0..protected.len() {
            assert!(table.open("alice", codec, &protected[..len], now).is_err() || len == 0);
        }
        // the untouched frame still opens (failed attempts did not poison the window)
        assert_eq!(table.open("alice", codec, &protected, now), Ok(frame));
    }
}

#[test]
fn h264_parameter_sets_are_clear_but_not_authenticated() {
    let (sealer, mut table) = setup(0);
    let frame = h264_key_frame(5);
    let mut protected = sealer.seal(Codec::H264, &frame).expect("seal");
    protected[8] ^= 0x01; // an SPS byte
    let mut expected = frame.clone();
    expected[8] ^= 0x01;
    assert_eq!(
        table.open("alice", Codec::H264, &protected, Instant::now()),
        Ok(expected)
    );
}

#[test]
fn wrong_or_relabelled_sender() {
    let (sealer, mut table) = setup(0);
    let now = Instant::now();
    let protected = sealer.seal(Codec::Opus, &opus_frame()).expect("seal");
    assert_eq!(
        table.open("bob", Codec::Opus, &protected, now),
        Err(OpenError::UnknownKey { kid: 0 })
    );
    // bob's own key has the same KID: A's frame relabelled as B's fails B's key
    table.insert("bob", key(0, 0x22));
    assert_eq!(
        table.open("bob", Codec::Opus, &protected, now),
        Err(OpenError::Authentication)
    );
    table.remove_sender("alice");
    assert_eq!(
        table.open("alice", Codec::Opus, &protected, now),
        Err(OpenError::UnknownKey { kid: 0 })
    );
    // a KID the table does not hold
    let later = FrameSealer::new(key(3, 0x11)).expect("sealer");
    let protected = later.seal(Codec::Opus, &opus_frame()).expect("seal");
    assert_eq!(
        table.open("bob", Codec::Opus, &protected, now),
        Err(OpenError::UnknownKey { kid: 3 })
    );
}

#[test]
fn replays_and_old_frames_are_refused() {
    let (sealer, mut table) = setup(0);
    let now = Instant::now();
    let frames: Vec<Vec<u8>> = (0..300)
        .map(|_| sealer.seal(Codec::Opus, &opus_frame()).expect("seal"))
        .collect();
    assert!(table.open("alice", Codec::Opus, &frames[0], now).is_ok());
    assert_eq!(
        table.open("alice", Codec::Opus, &frames[0], now),
        Err(OpenError::Replay)
    );
    // out of order inside the window is fine, once
    assert!(table.open("alice", Codec::Opus, &frames[200], now).is_ok());
    assert!(table.open("alice", Codec::Opus, &frames[150], now).is_ok());
    assert!(table.open("alice", Codec::Opus, &frames[72], now).is_ok()); // 128 below
    assert_eq!(
        table.open("alice", Codec::Opus, &frames[71], now),
        Err(OpenError::Replay)
    );
    assert_eq!(
        table.open("alice", Codec::Opus, &frames[150], now),
        Err(OpenError::Replay)
    );
    assert!(table.open("alice", Codec::Opus, &frames[299], now).is_ok());
    assert_eq!(
        table.open("alice", Codec::Opus, &frames[200], now),
        Err(OpenError::Replay)
    );
    assert!(table.open("alice", Codec::Opus, &frames[298], now).is_ok());
}

#[test]
fn previous_generation_kept_five_seconds_after_first_new_frame() {
    let (sealer, mut table) = setup(0);
    let t0 = Instant::now();
    let old: Vec<Vec<u8>> = (0..4)
        .map(|_| sealer.seal(Codec::Opus, &opus_frame()).expect("seal"))
        .collect();
    assert!(table.open("alice", Codec::Opus, &old[0], t0).is_ok());

    // generation 1 arrives; the sender switches a little later
    assert!(table.insert("alice", key(1, 0x12)));
    assert!(!table.insert("alice", key(0, 0x11)), "stale box ignored");
    assert!(!table.insert("alice", key(1, 0x12)), "same key ignored");
    assert_eq!(table.current_kid("alice"), Some(1));
    // without a frame under the new key, the old one lasts
    let t1 = t0 + Duration::from_secs(60);
    assert!(table.open("alice", Codec::Opus, &old[1], t1).is_ok());

    sealer.set_key(key(1, 0x12)).expect("set_key");
    assert_eq!(sealer.current_kid(), 1);
    let new = sealer.seal(Codec::Opus, &opus_frame()).expect("seal");
    assert_eq!(
        new[1], 0x10,
        "KID 1, CTR 0: a new key starts its counter at 0"
    );
    assert!(table.open("alice", Codec::Opus, &new, t1).is_ok());

    assert!(
        table
            .open(
                "alice",
                Codec::Opus,
                &old[2],
                t1 + Duration::from_millis(4999)
            )
            .is_ok()
    );
    assert_eq!(
        table.open("alice", Codec::Opus, &old[3], t1 + Duration::from_secs(5)),
        Err(OpenError::UnknownKey { kid: 0 })
    );
    // forgotten for good, even with an earlier clock
    assert_eq!(
        table.open("alice", Codec::Opus, &old[3], t1),
        Err(OpenError::UnknownKey { kid: 0 })
    );
    let newer = sealer.seal(Codec::Opus, &opus_frame()).expect("seal");
    assert!(
        table
            .open("alice", Codec::Opus, &newer, t1 + Duration::from_secs(9))
            .is_ok()
    );
}

#[test]
fn set_key_rules() {
    let sealer = FrameSealer::new(key(2, 1)).expect("sealer");
    let a = sealer.seal(Codec::Opus, &[0x78, 1]).expect("seal");
    assert_eq!(a[1], 0x20);
    // setting the same key keeps the counter (no nonce reuse)
    sealer.set_key(key(2, 1)).expect("same key");
    let b = sealer.seal(Codec::Opus, &[0x78, 1]).expect("seal");
    assert_eq!(b[1], 0x21);
    assert_eq!(sealer.set_key(key(2, 9)), Err(SealError::KeyNotNewer));
    assert_eq!(sealer.set_key(key(1, 9)), Err(SealError::KeyNotNewer));
    assert_eq!(sealer.current_kid(), 2);
    sealer.set_key(key(9, 9)).expect("newer");
    let c = sealer.seal(Codec::Opus, &[0x78, 1]).expect("seal");
    assert_eq!(c[1..3], [0x80, 0x09], "extended KID 9, CTR 0");
}

#[test]
fn one_counter_shared_across_codecs_and_threads() {
    let (sealer, mut table) = setup(0);
    let sealer = Arc::new(sealer);
    let now = Instant::now();
    // sequentially across codecs: 0, 1, 2, … whatever the codec
    for (expected, (codec, frame)) in all_frames().into_iter().enumerate() {
        let protected = sealer.seal(codec, &frame).expect("seal");
        let p = split_prefix(codec, &frame).expect("p");
        let sframe = if codec == Codec::H264 {
            unescape(&protected[p - 2..p], &protected[p..])
        } else {
            protected[p..].to_vec()
        };
        assert_eq!(u64::from(sframe[0] & 0x07), expected as u64);
        assert!(table.open("alice", codec, &protected, now).is_ok());
    }
    // concurrently: 4 threads, 250 frames each, every counter used exactly once
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let sealer = Arc::clone(&sealer);
            std::thread::spawn(move || {
                let codec = [Codec::Opus, Codec::Vp8, Codec::H264, Codec::Opus][t];
                let frame = match codec {
                    Codec::Opus => opus_frame(),
                    Codec::Vp8 => vp8_delta_frame(),
                    Codec::H264 => h264_delta_frame(),
                };
                (0..250)
                    .map(|_| (codec, sealer.seal(codec, &frame).expect("seal")))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut sealed = Vec::new();
    for handle in handles {
        for (codec, protected) in handle.join().expect("thread") {
            let p = split_prefix(codec, &protected).expect("p");
            let sframe = if codec == Codec::H264 {
                unescape(&protected[p - 2..p], &protected[p..])
            } else {
                protected[p..].to_vec()
            };
            // KID 0, CTR 6..1006: config byte 0x08|(len-1), then 1 or 2 CTR bytes
            let ctr = match sframe[0] {
                c @ 0..=7 => u64::from(c),
                0x08 => u64::from(sframe[1]),
                _ => u64::from(u16::from_be_bytes([sframe[1], sframe[2]])),
            };
            sealed.push((ctr, codec, protected));
        }
    }
    sealed.sort_by_key(|s| s.0);
    let ctrs: Vec<u64> = sealed.iter().map(|s| s.0).collect();
    assert_eq!(ctrs, (6..1006).collect::<Vec<_>>());
    for (_, codec, protected) in sealed {
        assert!(table.open("alice", codec, &protected, now).is_ok());
    }
}

#[test]
fn arbitrary_input_never_panics() {
    let (sealer, mut table) = setup(0);
    let now = Instant::now();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..3000 {
        let len = (next() % 64) as usize;
        let mut frame: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 3 == 0 { 0 } else { r as u8 }
            })
            .collect();
        if round % 4 == 0 && len > 4 {
            frame[..4].copy_from_slice(&[0, 0, 1, 0x65]);
        }
        for codec in [Codec::Opus, Codec::H264, Codec::Vp8] {
            let _ = sealer.seal(codec, &frame);
            let _ = table.open("alice", codec, &frame, now);
            let _ = table.open("nobody", codec, &frame, now);
            let _ = is_protected_shape(codec, &frame);
            let _ = split_prefix(codec, &frame);
            let _ = unescape(&frame, &frame);
        }
    }
}
