//! Room bombing, round two: attacks by one hostile guest through real sockets, each of which
//! worked before its defense (see `docs/security.md`, "Round two"). Media-path and HTTP-level
//! attacks have their own files (`media_abuse.rs`, `http_abuse.rs`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestServer, WsClient, eventually, lock, owner, room};
use salon_protocol::{ClientMessage, ErrorCode, MediaState, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

/// Everything the server sends within `quiet` of the previous message (or of the call).
async fn drain(c: &mut WsClient, quiet: Duration) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(quiet, c.recv()).await {
        seen.push(m);
    }
    seen
}

fn media(on: bool) -> MediaState {
    MediaState {
        audio: on,
        video: on,
    }
}

/// Attack 2: fifty idle guest sockets fill the room; the owner still gets in, and the newest
/// seat without media is the one given up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_gets_into_a_room_filled_by_idle_guests() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut squatters = Vec::new();
    for i in 0..salon_protocol::MAX_PARTICIPANTS {
        let (c, _) = WsClient::joined(&url, &format!("Idle {i}")).await;
        squatters.push(c);
    }
    // A guest cannot get in any more...
    let (_late, reply) = WsClient::connect_as(&url, "Late", None, None).await;
    assert!(
        matches!(
            reply,
            ServerMessage::Error {
                code: ErrorCode::RoomFull,
                ..
            }
        ),
        "{reply:?}"
    );
    // ...but the owner can, with a seat taken from the newest idle guest.
    let mut host = owner(&s, &id, &key).await;
    let newest = squatters.last_mut().unwrap();
    let told = newest
        .recv_until(|m| match m {
            ServerMessage::Error { code, fatal, .. } => Some((*code, *fatal)),
            _ => None,
        })
        .await;
    assert_eq!(told, (ErrorCode::RoomFull, true));
    assert_eq!(
        s.participants(&id).await,
        salon_protocol::MAX_PARTICIPANTS as u64
    );
    // And the owner can act: lock the room.
    lock(&mut host).await;
}

/// Attack 6: a `join` with a made-up `resume` skipped the knock limit.
#[tokio::test]
async fn a_made_up_resume_is_counted_as_a_knock() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    lock(&mut host).await;
    let mut knocks = 0;
    let mut refused = None;
    for i in 0..40 {
        let mut c = WsClient::connect(&url).await;
        c.send_join(
            &format!("Knocker {i}"),
            Some(("made-up-id", "made-up-token")),
        )
        .await;
        match c.recv().await.expect("a reply") {
            ServerMessage::Waiting { .. } => {
                knocks += 1;
                c.close().await;
            }
            ServerMessage::Error { code, .. } => {
                refused = Some(code);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(refused, Some(ErrorCode::RateLimited));
    assert_eq!(knocks, 20, "the same burst of 20 as plain knocks");
}

/// Attack 7: sixty room creations from one IPv6 /64, each from another address of it.
#[tokio::test]
async fn one_ipv6_slash_64_shares_one_rate_limit() {
    let s = TestServer::start_behind_proxy().await;
    let http = reqwest::Client::new();
    let mut created = 0;
    let mut limited = 0;
    for i in 0..60 {
        let r = http
            .post(format!("{}/api/rooms", s.url()))
            .header("x-forwarded-for", format!("2001:db8:5:6::{:x}", i + 1))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            201 => created += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, limited), (20, 40));
    // Another /64 is another subscriber.
    let r = http
        .post(format!("{}/api/rooms", s.url()))
        .header("x-forwarded-for", "2001:db8:5:7::1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Attack 9: sockets opened on the old link just before a rotation got in afterwards (and
/// learnt the new link). Knockers who came through the old link are turned away too.
#[tokio::test]
async fn a_rotated_link_closes_the_door_on_sockets_already_open() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    let (inside, _) = WsClient::joined(&url, "Inside").await;
    // Opened on the old link, not joined yet.
    let mut early = WsClient::connect(&url).await;
    lock(&mut host).await;
    let (mut knocker, reply) = WsClient::connect_as(&url, "Knocker", None, None).await;
    assert!(matches!(reply, ServerMessage::Waiting { .. }), "{reply:?}");
    host.send(&ClientMessage::SetLocked { locked: false }).await;
    // Unlocking admits the knocker; lock again and knock again for the rotation to find.
    knocker
        .recv_until(|m| matches!(m, ServerMessage::Joined { .. }).then_some(()))
        .await;
    lock(&mut host).await;
    let (mut waiting, reply) = WsClient::connect_as(&url, "Waiting", None, None).await;
    assert!(matches!(reply, ServerMessage::Waiting { .. }), "{reply:?}");

    host.send(&ClientMessage::RotateLink { e2ee: false }).await;
    let new_link = host
        .recv_until(|m| match m {
            ServerMessage::RoomUpdated { room } if room.id != id => Some(room.id.clone()),
            _ => None,
        })
        .await;
    host.send(&ClientMessage::SetLocked { locked: false }).await;
    host.recv_until(|m| {
        matches!(m, ServerMessage::RoomUpdated { room } if !room.locked).then_some(())
    })
    .await;

    // The knocker from the old link is sent away as if the link never existed.
    let (code, fatal) = waiting.expect_error().await;
    assert_eq!((code, fatal), (ErrorCode::RoomNotFound, true));
    // The early socket joins now, with the room unlocked: refused the same way, learning
    // nothing of the new link.
    early.send_join("Early", None).await;
    match early.recv().await.expect("a reply") {
        ServerMessage::Error { code, message, .. } => {
            assert_eq!(code, ErrorCode::RoomNotFound);
            assert!(!message.contains(&new_link));
        }
        other => panic!("the early socket got in: {other:?}"),
    }
    // People already inside stay; the owner may use either link.
    assert_eq!(s.participants(&new_link).await, 3);
    drop(inside);
    let _again = WsClient::connect_as(&s.ws_url(&new_link), "Fresh", None, None).await;
}

/// Attack 11: a member toggling microphone and camera in a loop pushed every update to
/// everyone; updates are now held to a few a second per member, and the last state arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_flooding_media_toggles_reaches_others_a_few_times_a_second() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let (mut watcher, _) = WsClient::joined(&url, "Watcher").await;
    let (mut flooder, flooder_id) = WsClient::joined(&url, "Flooder").await;
    watcher
        .recv_until(|m| matches!(m, ServerMessage::ParticipantJoined { .. }).then_some(()))
        .await;
    let started = std::time::Instant::now();
    // 90 changes at once (within the per-socket burst), ending with everything on.
    for i in 0..90 {
        flooder.send(&ClientMessage::Media(media(i % 2 == 1))).await;
    }
    let seen = drain(&mut watcher, Duration::from_millis(800)).await;
    let elapsed = started.elapsed();
    let updates: Vec<MediaState> = seen
        .iter()
        .filter_map(|m| match m {
            ServerMessage::ParticipantUpdated { participant } if participant.id == flooder_id => {
                Some(participant.media)
            }
            _ => None,
        })
        .collect();
    // At most one every 250 ms, plus the first.
    let allowed = (elapsed.as_millis() / 250) as usize + 2;
    assert!(
        !updates.is_empty() && updates.len() <= allowed,
        "{} updates in {elapsed:?} (allowed {allowed})",
        updates.len()
    );
    assert_eq!(updates.last(), Some(&media(true)), "the last state arrives");
}

/// Attack 11: a resume took another member's exact name; names in use get a suffix.
#[tokio::test]
async fn nobody_can_take_the_name_of_someone_inside() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let (mut ada, _) = WsClient::joined(&url, "Ada").await;
    // A newcomer under the same name (any case) is listed with a suffix.
    let (_copy, copy_id) = WsClient::joined(&url, "ADA").await;
    let listed = ada
        .recv_until(|m| match m {
            ServerMessage::ParticipantJoined { participant } if participant.id == copy_id => {
                Some(participant.name.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(listed, "ADA (2)");
    // A member who resumes under Ada's name gets a suffix too.
    let mut bob = WsClient::connect(&url).await;
    let (bob_id, token) = match bob.join("Bob").await {
        ServerMessage::Joined {
            participant_id,
            resume_token,
            ..
        } => (participant_id, resume_token),
        other => panic!("{other:?}"),
    };
    let mut again = WsClient::connect(&url).await;
    again.send_join("Ada", Some((&bob_id, &token))).await;
    match again.recv().await.expect("a reply") {
        ServerMessage::Joined { resumed, .. } => assert!(resumed),
        other => panic!("{other:?}"),
    }
    let renamed = ada
        .recv_until(|m| match m {
            ServerMessage::ParticipantUpdated { participant } if participant.id == bob_id => {
                Some(participant.name.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(renamed, "Ada (3)");
}

/// Attack 13: names that disguise themselves with direction overrides, or show nothing.
#[tokio::test]
async fn names_with_direction_overrides_or_nothing_visible_are_refused() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    for bad in [
        "Ada\u{202E})tsoh(",
        "\u{200B}\u{2060}",
        "\u{3164}",
        "\u{2066}x",
    ] {
        let (_c, reply) = WsClient::connect_as(&url, bad, None, None).await;
        assert!(
            matches!(
                reply,
                ServerMessage::Error {
                    code: ErrorCode::InvalidField,
                    ..
                }
            ),
            "{bad:?}: {reply:?}"
        );
    }
    // A decomposed accent is stored composed (one spelling per name).
    let (mut watcher, _) = WsClient::joined(&url, "Watcher").await;
    let (_zoe, _) = WsClient::joined(&url, "Zoe\u{301}").await;
    let name = watcher
        .recv_until(|m| match m {
            ServerMessage::ParticipantJoined { participant } => Some(participant.name.clone()),
            _ => None,
        })
        .await;
    assert_eq!(name, "Zo\u{e9}");
    // The API refuses them as room names too.
    let r = reqwest::Client::new()
        .post(format!("{}/api/rooms", s.url()))
        .json(&serde_json::json!({ "name": "Ada\u{202E})tsoh(" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// Attack 14: binary frames skipped the per-socket message limit (500 frames, 500 replies).
#[tokio::test]
async fn binary_frames_count_against_the_message_limit() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (mut c, _) = WsClient::joined(&s.ws_url(&id), "Binary").await;
    for _ in 0..500 {
        c.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    }
    let replies = drain(&mut c, Duration::from_millis(500)).await;
    let errors = |want: ErrorCode| {
        replies
            .iter()
            .filter(|m| matches!(m, ServerMessage::Error { code, .. } if *code == want))
            .count()
    };
    // Told to slow down (again each time a refilled token was spent and the bucket ran dry).
    assert!((1..=10).contains(&errors(ErrorCode::RateLimited)));
    // The burst of 100, and a few more refilled while the frames arrived.
    assert!(
        (100..=130).contains(&errors(ErrorCode::BadMessage)),
        "{} replies",
        replies.len()
    );
    assert!(replies.len() <= 140, "{} replies", replies.len());
    // The socket is still fine.
    c.send(&ClientMessage::Ping).await;
    assert!(
        eventually(Duration::from_secs(3), async || {
            drain(&mut c, Duration::from_millis(200))
                .await
                .iter()
                .any(|m| matches!(m, ServerMessage::Pong))
        })
        .await
    );
}
