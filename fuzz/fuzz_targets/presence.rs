//! The presence socket's decoders (`docs/protocol.md`, "Presence"): what the server reads from
//! anyone who opens `/api/presence`, and what the core reads back.
//!
//! Properties, for both directions: never panics; `TooLarge` exactly for text over the presence
//! limit; an accepted message survives `encode` → decode unchanged (what we would send is what we
//! accept).

#![no_main]

use libfuzzer_sys::fuzz_target;
use salon_protocol::{ProtocolError, decode_presence_client, decode_presence_server, encode};

/// Checks one decoder on `text`.
fn check<T>(text: &str, decode: fn(&str) -> Result<T, ProtocolError>)
where
    T: serde::Serialize + PartialEq + std::fmt::Debug,
{
    let limit = salon_protocol::presence::MAX_PRESENCE_MESSAGE_BYTES;
    match decode(text) {
        Ok(message) => {
            let wire = encode(&message);
            // `encode` writes defaulted fields too, so an input just under the limit can
            // encode a little over it; nothing re-sends what it received.
            if wire.len() <= limit {
                let again = decode(&wire).unwrap_or_else(|e| {
                    panic!("an accepted message does not decode after encode: {e}")
                });
                assert_eq!(again, message, "the round trip changed the message");
                assert_eq!(encode(&again), wire, "encoding is not stable");
            }
        }
        Err(ProtocolError::TooLarge { size, limit: l }) => {
            assert_eq!(size, text.len());
            assert_eq!(l, limit);
            assert!(size > limit);
        }
        Err(_) => assert!(text.len() <= limit, "over-limit text not refused as TooLarge"),
    }
}

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames: the socket library has already checked UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text, decode_presence_client);
    check(text, decode_presence_server);
});
