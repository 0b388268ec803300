//! The HTTP API and the signaling protocol against a real server on 127.0.0.1:0.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestServer, WsClient, eventually};
use salon_protocol::{ClientMessage, ErrorCode, MAX_PARTICIPANTS, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn creating_a_room_returns_id_link_and_host_key() {
    let s = TestServer::start().await;
    let room = s.create_room(Some("  Friday drinks ")).await;
    let id = room["id"].as_str().unwrap();
    salon_protocol::validate_room_id(id).unwrap();
    assert_eq!(room["name"], "Friday drinks");
    assert_eq!(room["url"], format!("{}/r/{id}", s.url()));
    assert_eq!(room["host_key"].as_str().unwrap().len(), 43);

    let info: serde_json::Value = reqwest::get(format!("{}/api/rooms/{id}", s.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["name"], "Friday drinks");
    assert_eq!(info["participants"], 0);
    assert_eq!(info["max_participants"], 50);
    assert_eq!(info["full"], false);
}

#[tokio::test]
async fn an_empty_body_makes_an_unnamed_room_and_bad_bodies_are_refused() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/rooms", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["name"].is_null());

    for (body, code) in [
        ("not json", "invalid_request"),
        (r#"{"name": 5}"#, "invalid_request"),
        (r#"{"name": "a\u0007b"}"#, "invalid_field"),
    ] {
        let r = http
            .post(format!("{}/api/rooms", s.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], code, "{body}");
    }
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(10_000));
    let r = http
        .post(format!("{}/api/rooms", s.url()))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn unknown_rooms_are_404_and_the_socket_says_room_not_found() {
    let s = TestServer::start().await;
    for id in ["AAAAAAAAAAAAAAAAAAAAAA", "nonsense", "bad%20id"] {
        let r = reqwest::get(format!("{}/api/rooms/{id}", s.url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{id}");
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "room_not_found");
    }
    let mut c = WsClient::connect(&s.ws_url("AAAAAAAAAAAAAAAAAAAAAA")).await;
    assert_eq!(c.expect_error().await, (ErrorCode::RoomNotFound, true));
    assert!(
        c.recv().await.is_none(),
        "socket closes after a fatal error"
    );
}

#[tokio::test]
async fn pages_and_assets_are_served() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    for path in ["/".to_owned(), format!("/r/{id}")] {
        let r = reqwest::get(format!("{}{path}", s.url())).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        // Our scripts only, no framing, and the secret URL never leaks as a referrer.
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("worker-src 'self'"), "{csp}");
        // WebAssembly may compile (the effects' MediaPipe); eval stays refused.
        assert!(
            csp.contains("'wasm-unsafe-eval'") && !csp.contains("'unsafe-eval'"),
            "{csp}"
        );
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    }
    assert_eq!(
        reqwest::get(format!("{}/healthz", s.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    let r = reqwest::get(format!("{}/assets/..%2FCargo.toml", s.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // (A client folds `..` segments itself: only escaped slashes reach the server.)
    for path in [
        "vendor/..%2F..%2FCargo.toml",
        "vendor/mediapipe/..%2F..%2Froom.html",
        "vendor/%2E%2E%2Froom.html",
    ] {
        let r = reqwest::get(format!("{}/assets/{path}", s.url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // The effects' MediaPipe: from this origin, as WebAssembly, cached for long (versioned path).
    let r = reqwest::get(format!(
        "{}/assets/vendor/mediapipe/face_mesh-0.4.1633559619/face_mesh_solution_simd_wasm_bin.wasm",
        s.url()
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn rooms_survive_a_restart() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    s.server.stop();
    let dir = s.dir;
    let s = TestServer::start_in(dir).await;
    let r = reqwest::get(format!("{}/api/rooms/{id}", s.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_c, _) = WsClient::joined(&s.ws_url(&id), "Back again").await;
}

#[tokio::test]
async fn joins_and_leaves_are_announced() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (mut a, a_id) = WsClient::joined(&s.ws_url(&id), "Ada").await;
    let mut b = WsClient::connect(&s.ws_url(&id)).await;
    match b.join("  Bo  ").await {
        ServerMessage::Joined {
            participants, room, ..
        } => {
            assert_eq!(room.id, id);
            assert_eq!(participants.len(), 1);
            assert_eq!(participants[0].id, a_id);
            assert_eq!(participants[0].name, "Ada");
        }
        other => panic!("{other:?}"),
    }
    let b_id = a
        .recv_until(|m| match m {
            ServerMessage::ParticipantJoined { participant } => {
                assert_eq!(participant.name, "Bo");
                Some(participant.id.clone())
            }
            _ => None,
        })
        .await;
    b.send(&ClientMessage::Media(salon_protocol::MediaState {
        audio: false,
        video: true,
    }))
    .await;
    a.recv_until(|m| match m {
        ServerMessage::ParticipantUpdated { participant } if participant.id == b_id => {
            assert!(!participant.media.audio);
            Some(())
        }
        _ => None,
    })
    .await;
    // Closing the socket without a word is leaving too.
    b.close().await;
    a.recv_until(|m| match m {
        ServerMessage::ParticipantLeft { participant_id } if *participant_id == b_id => Some(()),
        _ => None,
    })
    .await;
    let info = format!("{}/api/rooms/{id}", s.url());
    assert!(
        eventually(Duration::from_secs(5), async || {
            let v: serde_json::Value = reqwest::get(&info).await.unwrap().json().await.unwrap();
            v["participants"] == 1
        })
        .await
    );
}

#[tokio::test]
async fn the_fifty_first_participant_is_told_the_room_is_full() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let mut inside = Vec::new();
    for i in 0..MAX_PARTICIPANTS {
        inside.push(WsClient::joined(&s.ws_url(&id), &format!("guest {i}")).await);
    }
    let info: serde_json::Value = reqwest::get(format!("{}/api/rooms/{id}", s.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["participants"], 50);
    assert_eq!(info["full"], true);

    let mut late = WsClient::connect(&s.ws_url(&id)).await;
    match late.join("one too many").await {
        ServerMessage::Error {
            code,
            fatal,
            message,
        } => {
            assert_eq!(code, ErrorCode::RoomFull);
            assert!(fatal);
            assert!(message.contains("full"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // When someone leaves, there is room again.
    let (mut leaver, _) = inside.pop().unwrap();
    leaver.send(&ClientMessage::Leave).await;
    assert!(leaver.recv().await.is_none());
    let url = s.ws_url(&id);
    assert!(
        eventually(Duration::from_secs(5), async || {
            let mut c = WsClient::connect(&url).await;
            matches!(c.join("finally").await, ServerMessage::Joined { .. })
        })
        .await
    );
}

#[tokio::test]
async fn bad_messages_get_clear_errors_and_the_socket_survives() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let mut c = WsClient::connect(&s.ws_url(&id)).await;

    c.send(&ClientMessage::Ping).await;
    assert_eq!(c.recv().await, Some(ServerMessage::Pong));
    c.send(&ClientMessage::Media(Default::default())).await;
    assert_eq!(c.expect_error().await, (ErrorCode::NotJoined, false));
    c.send_text("{").await;
    assert_eq!(c.expect_error().await, (ErrorCode::BadMessage, false));
    c.send_text(r#"{"type":"teleport"}"#).await;
    assert_eq!(c.expect_error().await, (ErrorCode::BadMessage, false));
    c.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(c.expect_error().await, (ErrorCode::BadMessage, false));
    c.send_text(r#"{"type":"join","version":1,"name":""}"#)
        .await;
    assert_eq!(c.expect_error().await, (ErrorCode::InvalidField, false));
    let big = format!(
        r#"{{"type":"offer","sdp":"v=0{}"}}"#,
        "x".repeat(300 * 1024)
    );
    c.send_text(&big).await;
    assert_eq!(c.expect_error().await, (ErrorCode::MessageTooLarge, false));

    assert!(matches!(
        c.join("Finally valid").await,
        ServerMessage::Joined { .. }
    ));
    c.send_text(r#"{"type":"join","version":1,"name":"again"}"#)
        .await;
    assert_eq!(c.expect_error().await, (ErrorCode::AlreadyJoined, false));
    c.send(&ClientMessage::Answer {
        sdp: "v=0\r\n".into(),
    })
    .await;
    assert_eq!(
        c.expect_error().await,
        (ErrorCode::NegotiationFailed, false)
    );
    c.send(&ClientMessage::Offer {
        sdp: "v=0\r\nthis is not sdp\r\n".into(),
    })
    .await;
    assert_eq!(
        c.expect_error().await,
        (ErrorCode::NegotiationFailed, false)
    );
    c.send_text(r#"{"type":"ice_candidate","candidate":"candidate:garbage","sdpMid":"0"}"#)
        .await;
    // Still alive and in the room.
    c.send(&ClientMessage::Ping).await;
    c.recv_until(|m| (*m == ServerMessage::Pong).then_some(()))
        .await;
}

#[tokio::test]
async fn unsupported_versions_are_refused() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let mut c = WsClient::connect(&s.ws_url(&id)).await;
    c.send_text(r#"{"type":"join","version":99,"name":"Future"}"#)
        .await;
    assert_eq!(
        c.expect_error().await,
        (ErrorCode::UnsupportedVersion, true)
    );
}

#[tokio::test]
async fn floods_are_rate_limited_without_hurting_others() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (mut calm, _) = WsClient::joined(&s.ws_url(&id), "Calm").await;
    let (mut noisy, _) = WsClient::joined(&s.ws_url(&id), "Noisy").await;
    for _ in 0..300 {
        noisy.send(&ClientMessage::Ping).await;
    }
    noisy
        .recv_until(|m| match m {
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => Some(()),
            _ => None,
        })
        .await;
    calm.send(&ClientMessage::Ping).await;
    calm.recv_until(|m| (*m == ServerMessage::Pong).then_some(()))
        .await;
}

#[tokio::test]
async fn a_reconnecting_participant_keeps_its_id_and_leaves_no_ghost() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (mut a, _) = WsClient::joined(&s.ws_url(&id), "Ada").await;
    let mut b = WsClient::connect(&s.ws_url(&id)).await;
    let (b_id, token) = match b.join("Bo").await {
        ServerMessage::Joined {
            participant_id,
            resume_token,
            resumed,
            ..
        } => {
            assert!(!resumed);
            (participant_id, resume_token)
        }
        other => panic!("{other:?}"),
    };
    // Bo's network changes: a new socket resumes while the old one is still open.
    let mut b2 = WsClient::connect(&s.ws_url(&id)).await;
    b2.send_join("Bo", Some((&b_id, &token))).await;
    match b2.recv().await {
        Some(ServerMessage::Joined {
            participant_id,
            resumed,
            participants,
            ..
        }) => {
            assert!(resumed);
            assert_eq!(participant_id, b_id);
            assert_eq!(participants.len(), 1, "only Ada, no ghost of Bo");
        }
        other => panic!("{other:?}"),
    }
    // The old socket is closed by the server; Ada never sees Bo leave.
    assert!(b.recv().await.is_none());
    let info = format!("{}/api/rooms/{id}", s.url());
    let v: serde_json::Value = reqwest::get(&info).await.unwrap().json().await.unwrap();
    assert_eq!(v["participants"], 2);
    a.send(&ClientMessage::Ping).await;
    loop {
        match a.recv().await.unwrap() {
            ServerMessage::Pong => break,
            ServerMessage::ParticipantLeft { .. } => panic!("Ada saw a ghost leave"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn someone_who_left_can_come_back_under_the_same_id() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (_a, _) = WsClient::joined(&s.ws_url(&id), "Ada").await;
    let mut b = WsClient::connect(&s.ws_url(&id)).await;
    let (b_id, token) = match b.join("Bo").await {
        ServerMessage::Joined {
            participant_id,
            resume_token,
            ..
        } => (participant_id, resume_token),
        other => panic!("{other:?}"),
    };
    b.send(&ClientMessage::Leave).await;
    assert!(b.recv().await.is_none());
    let mut again = WsClient::connect(&s.ws_url(&id)).await;
    again.send_join("Bo", Some((&b_id, &token))).await;
    match again.recv().await {
        Some(ServerMessage::Joined {
            participant_id,
            resumed,
            ..
        }) => {
            assert_eq!(participant_id, b_id);
            assert!(
                !resumed,
                "the others saw Bo leave, so this is a new entrance"
            );
        }
        other => panic!("{other:?}"),
    }
    // The token was used up: it cannot be replayed to take the seat.
    let mut thief = WsClient::connect(&s.ws_url(&id)).await;
    thief.send_join("Thief", Some((&b_id, &token))).await;
    match thief.recv().await {
        Some(ServerMessage::Joined { participant_id, .. }) => assert_ne!(participant_id, b_id),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn scanners_and_room_factories_are_rate_limited_per_address() {
    let s = TestServer::start_behind_proxy().await;
    let server = &s.server;
    let base = server.url();
    let http = reqwest::Client::new();

    // A scanner trying random ids learns nothing but "not found", then is slowed down.
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..150 {
        let id = format!("{:0>22}", i);
        let r = http
            .get(format!("{base}/api/rooms/{id}"))
            .header("x-forwarded-for", "198.51.100.7")
            .send()
            .await
            .unwrap();
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            let e: serde_json::Value = r.json().await.unwrap();
            assert_eq!(e["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(statuses.get(&404), Some(&100), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&50), "{statuses:?}");
    // Someone else is not affected.
    let r = http
        .get(format!("{base}/api/rooms/AAAAAAAAAAAAAAAAAAAAAA"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Creating rooms in bulk is refused after a burst.
    let mut created = 0;
    let mut refused = 0;
    for _ in 0..30 {
        let r = http
            .post(format!("{base}/api/rooms"))
            .header("x-forwarded-for", "198.51.100.8")
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => created += 1,
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, refused), (20, 10));

    // Join floods get a clear error on the socket.
    let room: serde_json::Value = http
        .post(format!("{base}/api/rooms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "ws://{}/api/rooms/{}/ws",
        server.addr,
        room["id"].as_str().unwrap()
    );
    let mut limited = false;
    for _ in 0..120 {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                url.as_str(),
            )
            .unwrap();
        request
            .headers_mut()
            .insert("x-forwarded-for", "198.51.100.9".parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut c = WsClient::from_stream(ws);
        c.send(&ClientMessage::Ping).await;
        match c.recv().await {
            Some(ServerMessage::Error {
                code: ErrorCode::RateLimited,
                fatal: true,
                ..
            }) => {
                limited = true;
                break;
            }
            Some(ServerMessage::Pong) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(limited, "100 joins a burst, then rate_limited");
}
