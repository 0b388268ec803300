//! `salon_protocol::decode_server`: what the client core reads from the server's socket.
//! Properties: see `signaling.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "signaling.rs"]
mod signaling;

fuzz_target!(|data: &[u8]| {
    signaling::check(data, salon_protocol::decode_server);
});
