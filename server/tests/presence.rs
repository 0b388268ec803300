//! Drop-in presence through the real server: the owner's door and who is inside reach a friend
//! holding the presence key within a second, over one socket; without the key (or after a
//! rotation, or a new invite link) nothing is seen; every input is bounded and checked.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, WsClient, owner, room};
use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::{
    ErrorCode, MAX_PRESENCE_ROOMS, PresenceClientMessage, PresenceServerMessage,
    PresenceSubscription, RoomPresence, decode_presence_server, encode,
};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A presence socket from a test.
struct Watcher {
    ws: Socket,
}

impl Watcher {
    async fn connect(s: &TestServer) -> Self {
        let url = format!("ws://{}/api/presence", s.server.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self { ws }
    }

    async fn send(&mut self, message: &PresenceClientMessage) {
        self.send_text(&encode(message)).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    async fn recv(&mut self) -> PresenceServerMessage {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a message within 10 s")
                .expect("socket open")
                .unwrap();
            if let Message::Text(text) = frame {
                return decode_presence_server(&text).unwrap();
            }
        }
    }

    /// The rooms of the next `presence` message.
    async fn presence(&mut self) -> Vec<RoomPresence> {
        match self.recv().await {
            PresenceServerMessage::Presence { rooms } => rooms,
            other => panic!("expected presence, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, rooms: &[(&str, &str)]) -> Vec<RoomPresence> {
        self.send(&PresenceClientMessage::Subscribe {
            rooms: rooms
                .iter()
                .map(|(room, key)| PresenceSubscription {
                    room: (*room).into(),
                    key: (*key).into(),
                })
                .collect(),
        })
        .await;
        self.presence().await
    }

    async fn error(&mut self) -> (ErrorCode, bool) {
        match self.recv().await {
            PresenceServerMessage::Error { code, fatal, .. } => (code, fatal),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

async fn post(s: &TestServer, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", s.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn presence_key(s: &TestServer, id: &str, host_key: &str, rotate: bool) -> String {
    let (status, body) = post(
        s,
        &format!("/api/rooms/{id}/presence-key"),
        serde_json::json!({ "host_key": host_key, "rotate": rotate }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["room"], id);
    body["presence_key"].as_str().unwrap().to_owned()
}

async fn set_door(s: &TestServer, id: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, answer) = post(s, &format!("/api/rooms/{id}/door"), body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Waits for the next change of room `id` and says how long it took.
async fn next_change(w: &mut Watcher, id: &str) -> (RoomPresence, Duration) {
    let start = Instant::now();
    loop {
        let rooms = w.presence().await;
        if let Some(r) = rooms.into_iter().find(|r| r.room == id) {
            return (r, start.elapsed());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friend_sees_the_door_and_who_is_inside_change_within_a_second() {
    let s = TestServer::start().await;
    let (id, host_key) = room(&s).await;
    let key = presence_key(&s, &id, &host_key, false).await;
    assert_eq!(
        key,
        presence_key(&s, &id, &host_key, false).await,
        "every device of the owner gets the same key"
    );
    let (other, _) = room(&s).await;

    let mut w = Watcher::connect(&s).await;
    let first = w.subscribe(&[(&id, &key), (&other, &key)]).await;
    assert_eq!(first.len(), 2);
    assert_eq!(
        first[0],
        RoomPresence {
            room: id.clone(),
            available: true,
            door_open: false,
            until: None,
            people: 0,
            names: None
        },
        "nobody home: the door (auto) is closed"
    );
    assert_eq!(
        first[1],
        RoomPresence::unavailable(other.clone()),
        "the key opens its own room only"
    );

    // The owner comes in: an auto door opens.
    let host = owner(&s, &id, &host_key).await;
    let (seen, took) = next_change(&mut w, &id).await;
    assert!(seen.door_open && seen.people == 1, "{seen:?}");
    assert_eq!(
        seen.names, None,
        "names are hidden unless the owner shows them"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Names shown; a friend drops in.
    set_door(
        &s,
        &id,
        serde_json::json!({"host_key": host_key, "show_names": true}),
    )
    .await;
    let (seen, _) = next_change(&mut w, &id).await;
    assert_eq!(seen.names.as_deref(), Some(&["Owner".to_owned()][..]));
    let (guest, _) = WsClient::joined(&s.ws_url(&id), "Bo").await;
    let (seen, took) = next_change(&mut w, &id).await;
    assert_eq!(
        (seen.people, seen.names.clone()),
        (2, Some(vec!["Owner".to_owned(), "Bo".to_owned()]))
    );
    assert!(took < Duration::from_secs(1), "{took:?}");

    // The owner closes the door while inside: nothing is seen through it.
    let answer = set_door(
        &s,
        &id,
        serde_json::json!({"host_key": host_key, "door": "closed"}),
    )
    .await;
    assert_eq!(answer["door"], "closed");
    assert_eq!(answer["door_open"], false);
    let (seen, took) = next_change(&mut w, &id).await;
    assert!(
        !seen.door_open && seen.people == 0 && seen.names.is_none(),
        "{seen:?}"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    let info = s.room_info(&id).await;
    assert_eq!(info["door_open"], false);
    assert!(info.get("names").is_none(), "{info}");

    // Open with an end time, then everyone leaves: still open until then.
    let until = salon_server::presence::now_unix() + 3600;
    set_door(
        &s,
        &id,
        serde_json::json!({"host_key": host_key, "door": "open", "until": until}),
    )
    .await;
    let (seen, _) = next_change(&mut w, &id).await;
    assert!(seen.door_open);
    assert_eq!(seen.until, Some(until));
    let info = s.room_info(&id).await;
    assert_eq!(info["door_open"], true);
    assert_eq!(info["names"], serde_json::json!(["Owner", "Bo"]));
    let mut host = host;
    let mut guest = guest;
    host.send(&salon_protocol::ClientMessage::Leave).await;
    guest.send(&salon_protocol::ClientMessage::Leave).await;
    let (seen, _) = next_change(&mut w, &id).await;
    assert!(seen.door_open, "{seen:?}");
    // Two left; the change may come in one message or two.
    let seen = if seen.people == 0 {
        seen
    } else {
        next_change(&mut w, &id).await.0
    };
    assert_eq!((seen.people, seen.names), (0, Some(vec![])));

    // The socket stays open with pings.
    w.send(&PresenceClientMessage::Ping).await;
    assert_eq!(w.recv().await, PresenceServerMessage::Pong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_open_until_a_time_closes_by_itself() {
    let s = TestServer::start().await;
    let (id, host_key) = room(&s).await;
    let key = presence_key(&s, &id, &host_key, false).await;
    let until = salon_server::presence::now_unix() + 2;
    set_door(
        &s,
        &id,
        serde_json::json!({"host_key": host_key, "door": "open", "until": until}),
    )
    .await;
    let mut w = Watcher::connect(&s).await;
    assert!(w.subscribe(&[(&id, &key)]).await[0].door_open);
    let (seen, took) = tokio::time::timeout(Duration::from_secs(5), next_change(&mut w, &id))
        .await
        .expect("the door closes by itself");
    assert!(!seen.door_open, "{seen:?}");
    assert!(took <= Duration::from_secs(4), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_or_a_new_link_revokes_the_card_at_once() {
    let s = TestServer::start().await;
    let (id, host_key) = room(&s).await;
    let old = presence_key(&s, &id, &host_key, false).await;
    let mut w = Watcher::connect(&s).await;
    assert!(w.subscribe(&[(&id, &old)]).await[0].available);

    let new = presence_key(&s, &id, &host_key, true).await;
    assert_ne!(new, old);
    let (seen, took) = next_change(&mut w, &id).await;
    assert_eq!(seen, RoomPresence::unavailable(id.clone()));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let mut again = Watcher::connect(&s).await;
    assert!(
        !again.subscribe(&[(&id, &old)]).await[0].available,
        "the old key is dead"
    );
    let mut fresh = Watcher::connect(&s).await;
    assert!(fresh.subscribe(&[(&id, &new)]).await[0].available);

    // A new invite link: the room is gone for everyone watching, under any key.
    let mut host = owner(&s, &id, &host_key).await;
    let _ = next_change(&mut fresh, &id).await; // the owner came in
    host.send(&salon_protocol::ClientMessage::RotateLink { e2ee: false })
        .await;
    let new_link = host
        .recv_until(|m| match m {
            salon_protocol::ServerMessage::RoomUpdated { room } if room.id != id => {
                Some(room.id.clone())
            }
            _ => None,
        })
        .await;
    let (seen, _) = next_change(&mut fresh, &id).await;
    assert_eq!(seen, RoomPresence::unavailable(id.clone()));
    // The new link has its own key; the old one does not open it.
    let mut w = Watcher::connect(&s).await;
    assert!(!w.subscribe(&[(&new_link, &new)]).await[0].available);
    let newest = presence_key(&s, &new_link, &host_key, false).await;
    let mut w = Watcher::connect(&s).await;
    let rooms = w.subscribe(&[(&new_link, &newest)]).await;
    assert!(rooms[0].available && rooms[0].door_open, "{rooms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_input_is_bounded_and_checked() {
    let s = TestServer::start().await;
    let (id, host_key) = room(&s).await;
    let key = presence_key(&s, &id, &host_key, false).await;

    // Too many rooms, malformed keys, garbage: errors, no subscription.
    let mut w = Watcher::connect(&s).await;
    let many: Vec<(String, String)> = (0..=MAX_PRESENCE_ROOMS)
        .map(|_| (id.clone(), key.clone()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    w.send(&PresenceClientMessage::Subscribe {
        rooms: many
            .iter()
            .map(|(room, key)| PresenceSubscription {
                room: (*room).into(),
                key: (*key).into(),
            })
            .collect(),
    })
    .await;
    assert_eq!(w.error().await, (ErrorCode::InvalidField, false));
    w.send_text("not json").await;
    assert_eq!(w.error().await, (ErrorCode::BadMessage, false));
    w.send_text(&format!(
        r#"{{"type":"subscribe","rooms":[{{"room":"{id}","key":"short"}}]}}"#
    ))
    .await;
    assert_eq!(w.error().await, (ErrorCode::InvalidField, false));
    // Then a good one, once; a second is refused.
    let rooms = w.subscribe(&many[..MAX_PRESENCE_ROOMS]).await;
    assert_eq!(rooms.len(), 1, "repeats are answered once");
    w.send(&PresenceClientMessage::Subscribe { rooms: vec![] })
        .await;
    assert_eq!(w.error().await, (ErrorCode::AlreadyJoined, false));

    // A flood of messages ends the connection.
    for _ in 0..30 {
        let _ = w.ws.send(Message::Text(r#"{"type":"ping"}"#.into())).await;
    }
    // The server says so (a fatal `rate_limited`) and closes; the closing may reset the
    // connection before the client reads the error, so what counts is that it ends.
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(5), w.ws.next()).await {
            Err(_) => break false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break true,
            Ok(Some(Ok(Message::Text(text)))) => {
                if let Ok(PresenceServerMessage::Error { code, .. }) = decode_presence_server(&text)
                {
                    assert_eq!(code, ErrorCode::RateLimited);
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    };
    assert!(ended, "a flooding client is disconnected");

    // The owner's endpoints: wrong key, unknown room, bad fields, another site's page.
    let door = |body: serde_json::Value| {
        let s = &s;
        let id = id.clone();
        async move { post(s, &format!("/api/rooms/{id}/door"), body).await }
    };
    let (status, body) = door(serde_json::json!({"host_key": key, "door": "open"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_allowed"))
    );
    let (status, _) = door(serde_json::json!({"host_key": host_key, "door": "ajar"})).await;
    assert_eq!(status, 400);
    let (status, body) =
        door(serde_json::json!({"host_key": host_key, "door": "closed", "until": 1})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_field"))
    );
    let far = salon_server::presence::now_unix() + 8 * 24 * 3600;
    let (status, _) =
        door(serde_json::json!({"host_key": host_key, "door": "open", "until": far})).await;
    assert_eq!(status, 400);
    let (status, _) = door(serde_json::json!({"host_key": "x".repeat(100), "door": "open"})).await;
    assert_eq!(status, 400);
    let (status, body) = post(
        &s,
        "/api/rooms/AAAAAAAAAAAAAAAAAAAAAA/presence-key",
        serde_json::json!({"host_key": host_key}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("room_not_found"))
    );
    let foreign = reqwest::Client::new()
        .post(format!("{}/api/rooms/{id}/door", s.url()))
        .header("Origin", "https://evil.example")
        .json(&serde_json::json!({"host_key": host_key, "door": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let r = reqwest::Client::new()
        .post(format!("{}/api/rooms/{id}/door", s.url()))
        .body(vec![b'x'; 8 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "bodies are bounded");
    // Nothing changed.
    assert_eq!(s.room_info(&id).await["door_open"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_open_presence_sockets_without_end() {
    let s = TestServer::start().await;
    let mut refused = 0;
    let mut open = Vec::new();
    let start = Instant::now();
    for _ in 0..40 {
        let mut w = Watcher::connect(&s).await;
        w.send(&PresenceClientMessage::Ping).await;
        match w.recv().await {
            PresenceServerMessage::Pong => open.push(w),
            PresenceServerMessage::Error { code, fatal, .. } => {
                assert_eq!((code, fatal), (ErrorCode::RateLimited, true));
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    // A burst of 20, then one every 2 s.
    let refilled = (start.elapsed().as_secs_f64() / 2.0).ceil() as usize;
    assert!(
        open.len() <= 20 + refilled,
        "burst of 20 (+{refilled}), got {}",
        open.len()
    );
    assert_eq!(refused + open.len(), 40);
    assert!(refused >= 20 - refilled.min(20), "{refused}");
}
