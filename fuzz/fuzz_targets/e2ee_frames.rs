//! End-to-end encrypted frames (`salon-e2ee`, ADR 0003): whatever a server or a member sends
//! as a protected frame.
//!
//! Properties: `KeyTable::open` never panics on any bytes, for any codec, and opens nothing that
//! was not sealed under its key (a random input never authenticates); a frame the sealer
//! accepts opens back to itself; H.264 escaping round-trips and leaves no start code.

#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use salon_e2ee::{Codec, FrameSealer, KeyTable, SenderKey, escape, unescape};

const KEY: [u8; 16] = [7; 16];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let codec = match selector % 3 {
        0 => Codec::Opus,
        1 => Codec::H264,
        _ => Codec::Vp8,
    };
    let mut table = KeyTable::new();
    table.insert("a", SenderKey { kid: 0, key: KEY });
    // Arbitrary bytes as a received frame: never a panic, and never opened (empty frames
    // pass through by design).
    if let Ok(opened) = table.open("a", codec, frame, Instant::now()) {
        assert!(frame.is_empty() && opened.is_empty(), "random bytes opened");
    }

    // Arbitrary bytes as an encoded frame: sealed (or refused), then opened back.
    let sealer = FrameSealer::new(SenderKey { kid: 0, key: KEY }).expect("sealer");
    if let Ok(sealed) = sealer.seal(codec, frame) {
        let mut fresh = KeyTable::new();
        fresh.insert("a", SenderKey { kid: 0, key: KEY });
        let opened = fresh
            .open("a", codec, &sealed, Instant::now())
            .expect("a sealed frame opens");
        assert_eq!(opened, frame, "the frame changed on the way");
    }

    // Escaping: reversible, and no `00 00 0x` (x ≤ 3) is left in the output.
    let (seed, body) = frame.split_at(frame.len().min(2));
    let escaped = escape(seed, body);
    assert_eq!(unescape(seed, &escaped), body, "escape does not round-trip");
    let mut joined = seed.to_vec();
    joined.extend_from_slice(&escaped);
    for w in joined.windows(3).skip(seed.len().saturating_sub(2)) {
        assert!(!(w[0] == 0 && w[1] == 0 && w[2] <= 2), "a start code survived escaping");
    }
});
