//! The URL a cluster node sends clients to (`moved`): only a signaling URL of a room.

use salon_protocol::{ServerMessage, Validate as _, check_moved_url};

const ROOM: &str = "AbCdEfGhIjKlMnOpQrStUv";

#[test]
fn signaling_urls_of_a_room_pass() {
    for url in [
        format!("ws://127.0.0.1:8081/api/rooms/{ROOM}/ws"),
        format!("wss://salon.example/n/b/api/rooms/{ROOM}/ws"),
    ] {
        assert_eq!(check_moved_url(&url).expect(&url), ROOM);
        assert!(ServerMessage::Moved { url }.validate().is_ok());
    }
}

#[test]
fn anything_else_is_refused() {
    let long = format!("wss://{}/api/rooms/{ROOM}/ws", "a".repeat(3000));
    for url in [
        format!("https://salon.example/api/rooms/{ROOM}/ws"),
        format!("javascript://x/api/rooms/{ROOM}/ws"),
        format!("wss://user:pw@evil.example/api/rooms/{ROOM}/ws"),
        format!("wss://salon.example/api/rooms/{ROOM}/ws?x=1"),
        format!("wss://salon.example/api/rooms/{ROOM}/ws#k=secret"),
        format!("wss://salon.example/api/rooms/{ROOM}"),
        format!("wss://salon.example/xapi/rooms/{ROOM}/ws"),
        "wss://salon.example/api/rooms/not a room/ws".to_owned(),
        "wss://salon.example/api/rooms/../ws".to_owned(),
        format!("wss:///api/rooms/{ROOM}/ws"),
        long,
        String::new(),
    ] {
        assert!(check_moved_url(&url).is_err(), "{url}");
        assert!(ServerMessage::Moved { url }.validate().is_err());
    }
}
