//! The property both signaling targets check; included by `signaling_client.rs` and
//! `signaling_server.rs` with `#[path]`.

use std::fmt::Debug;

use salon_protocol::{MAX_MESSAGE_BYTES, ProtocolError, Validate, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes `data` the way a WebSocket peer does and checks what the decoder promises:
///
/// - it never panics (libFuzzer reports a panic as a crash);
/// - `TooLarge` is returned exactly for text over [`MAX_MESSAGE_BYTES`];
/// - a message it accepts survives `encode` → decode unchanged, and encoding is stable (what we
///   send is what we would accept).
///
/// The size limit is not part of the round trip: `encode` writes every field, including those
/// the input left out for their default (a `join` without `media` gets `"media":{…}`), so a
/// message received just under [`MAX_MESSAGE_BYTES`] can encode a little over it. Nothing
/// re-encodes a received message (the server only sends `ServerMessage`s it builds itself, and
/// the client core never sends back what it received), so when the encoded text is over the
/// limit the round trip is checked with the same JSON reading and validation as `decode`,
/// minus the size check. See docs/fuzzing.md, "Findings".
pub fn check<T>(data: &[u8], decode: fn(&str) -> Result<T, ProtocolError>)
where
    T: Serialize + DeserializeOwned + Validate + PartialEq + Debug,
{
    // Signaling arrives as WebSocket text frames, which the socket library has already checked
    // to be UTF-8; invalid UTF-8 never reaches the decoder.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let message = match decode(text) {
        Ok(message) => message,
        Err(ProtocolError::TooLarge { size, limit }) => {
            assert_eq!(size, text.len());
            assert_eq!(limit, MAX_MESSAGE_BYTES);
            assert!(size > limit, "TooLarge for {size} bytes");
            return;
        }
        Err(_) => {
            assert!(
                text.len() <= MAX_MESSAGE_BYTES,
                "over-limit text not refused as TooLarge"
            );
            return;
        }
    };
    let wire = encode(&message);
    let decoded = if wire.len() > MAX_MESSAGE_BYTES {
        decode_unlimited(&wire)
    } else {
        decode(&wire)
    };
    let again = match decoded {
        Ok(again) => again,
        Err(e) => panic!(
            "a decoded message does not decode after encode: {e}\n  input: {} bytes\n  encoded: {} bytes, starts {:?}",
            text.len(),
            wire.len(),
            wire.chars().take(200).collect::<String>(),
        ),
    };
    assert_eq!(again, message, "encode -> decode changed the message");
    assert_eq!(encode(&again), wire, "encoding is not stable");
}

/// `decode` without its size check: the JSON reading and validation only.
fn decode_unlimited<T: DeserializeOwned + Validate>(text: &str) -> Result<T, ProtocolError> {
    let message: T =
        serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    message.validate()?;
    Ok(message)
}
