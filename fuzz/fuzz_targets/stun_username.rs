//! `demux::local_ufrag`: every datagram that reaches the media port from anyone on the Internet
//! is routed by it.
//!
//! Properties: never panics or reads past the datagram; a fragment it returns is non-empty, has
//! no colon, and is found verbatim inside the datagram; only STUN (first byte 0–3) yields one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use salon_server::sfu::demux::{self, Kind};

fuzz_target!(|data: &[u8]| {
    if let Some(ufrag) = demux::local_ufrag(data) {
        assert!(!ufrag.is_empty());
        assert!(!ufrag.contains(':'));
        assert_eq!(demux::classify(data), Kind::Stun);
        let needle = ufrag.as_bytes();
        assert!(data.windows(needle.len()).any(|w| w == needle));
    }
});
