//! `InviteLink::parse`: whatever a user pastes as a room link.
//!
//! Properties of an accepted link: its canonical form (`to_url`) parses back to the same value
//! and is a fixed point; the server is an http(s) origin without a trailing slash; the room id
//! has the room-id shape; the WebSocket URL is the matching ws(s) URL of that room.

#![no_main]

use libfuzzer_sys::fuzz_target;
use salon_core::store::InviteLink;
use salon_protocol::validate_room_id;

fuzz_target!(|data: &[u8]| {
    // Pasted text reaches the parser as a Rust string (UI or FFI), so always UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(link) = InviteLink::parse(text) else {
        return;
    };

    let url = link.to_url();
    let again = InviteLink::parse(&url).unwrap_or_else(|e| {
        panic!(
            "the canonical link does not parse: {e}\n  input: {} bytes\n  to_url: {} bytes, starts {:?}",
            text.len(),
            url.len(),
            url.chars().take(200).collect::<String>()
        )
    });
    assert_eq!(
        again, link,
        "canonical link {url:?} parses to another value"
    );
    assert_eq!(again.to_url(), url, "canonical form is not a fixed point");

    assert!(
        validate_room_id(&link.room_id).is_ok(),
        "room id {:?}",
        link.room_id
    );
    assert!(
        !link.server.ends_with('/'),
        "server {:?} ends with '/'",
        link.server
    );
    let ws = link.ws_url();
    let (web_scheme, ws_scheme) = if link.server.starts_with("https://") {
        ("https://", "wss://")
    } else {
        assert!(
            link.server.starts_with("http://"),
            "server {:?}",
            link.server
        );
        ("http://", "ws://")
    };
    assert!(
        ws.starts_with(ws_scheme),
        "ws url {ws:?} for server {:?}",
        link.server
    );
    assert_eq!(
        ws,
        format!(
            "{ws_scheme}{}/api/rooms/{}/ws",
            &link.server[web_scheme.len()..],
            link.room_id
        )
    );
});
