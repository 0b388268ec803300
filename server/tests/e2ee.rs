//! End-to-end encrypted rooms, the server's part (ADR 0003 §4, §7): who may join, key
//! announcements checked against the join's commitment, sealed boxes relayed to the one member
//! they name, keyframe requests, and turning a legacy room's encryption on.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestServer, WsClient, b64, e2ee_commit};
use salon_protocol::{
    ClientMessage, E2eeBox, E2eeJoin, ErrorCode, MediaState, PROTOCOL_VERSION, ServerMessage,
};

/// A made-up public key `n` and its commitment.
fn key(n: u8) -> (String, String) {
    let public = [n; 32];
    (b64(&public), e2ee_commit(&public))
}

async fn create(s: &TestServer, e2ee: bool) -> (String, String) {
    let r = s
        .create_room_with(serde_json::json!({ "name": "Secret", "e2ee": e2ee }))
        .await;
    assert_eq!(r["e2ee"], e2ee);
    (
        r["id"].as_str().unwrap().to_owned(),
        r["host_key"].as_str().unwrap().to_owned(),
    )
}

fn join(name: &str, commit: Option<&str>, host_key: Option<&str>) -> ClientMessage {
    ClientMessage::Join {
        version: PROTOCOL_VERSION,
        name: name.into(),
        media: MediaState::default(),
        resume: None,
        host_key: host_key.map(str::to_owned),
        device: None,
        keep_media: false,
        e2ee: commit.map(|c| E2eeJoin {
            commit: c.to_owned(),
        }),
    }
}

/// Joins with key `n`; returns the client, its id and the `joined`.
async fn member(s: &TestServer, id: &str, name: &str, n: u8) -> (WsClient, String, ServerMessage) {
    let mut c = WsClient::connect(&s.ws_url(id)).await;
    c.send(&join(name, Some(&key(n).1), None)).await;
    let reply = c.recv().await.unwrap();
    let ServerMessage::Joined { participant_id, .. } = &reply else {
        panic!("expected joined, got {reply:?}");
    };
    (c, participant_id.clone(), reply)
}

async fn announce(c: &mut WsClient, n: u8) {
    c.send(&ClientMessage::E2eeAnnounce {
        public: key(n).0,
        mac: b64(&[n ^ 0xff; 32]),
    })
    .await;
}

/// The next message that is not a participant's media update or other room noise.
async fn next_key_message(c: &mut WsClient) -> ServerMessage {
    c.recv_until(|m| {
        matches!(
            m,
            ServerMessage::E2eeAnnounce { .. }
                | ServerMessage::E2eeKey { .. }
                | ServerMessage::Error { .. }
        )
        .then(|| m.clone())
    })
    .await
}

#[tokio::test]
async fn an_encrypted_room_refuses_a_join_that_does_not_encrypt() {
    let s = TestServer::start().await;
    let (id, host_key) = create(&s, true).await;
    assert_eq!(s.room_info(&id).await["e2ee"], true);
    for host in [None, Some(host_key.as_str())] {
        let mut c = WsClient::connect(&s.ws_url(&id)).await;
        c.send(&join("Plain", None, host)).await;
        match c.recv().await {
            Some(ServerMessage::Error {
                code: ErrorCode::E2eeRequired,
                fatal: true,
                message,
            }) => assert!(message.contains("end-to-end encrypted"), "{message}"),
            other => panic!("expected e2ee_required, got {other:?}"),
        }
    }
    // Someone who encrypts gets in and sees the room marked as encrypted.
    let (_c, _, joined) = member(&s, &id, "Ada", 1).await;
    let ServerMessage::Joined { room, .. } = joined else {
        unreachable!()
    };
    assert!(room.e2ee);
}

#[tokio::test]
async fn announcements_are_checked_against_the_commitment_and_relayed() {
    let s = TestServer::start().await;
    let (id, _) = create(&s, true).await;
    let (mut a, a_id, _) = member(&s, &id, "Ada", 1).await;
    let (mut b, b_id, joined) = member(&s, &id, "Bo", 2).await;
    // Bo sees Ada's commitment, not yet a key.
    let ServerMessage::Joined { participants, .. } = joined else {
        unreachable!()
    };
    let ada = participants.iter().find(|p| p.id == a_id).unwrap();
    let e2ee = ada.e2ee.as_ref().unwrap();
    assert_eq!(e2ee.commit, key(1).1);
    assert!(e2ee.public.is_none() && e2ee.mac.is_none());

    // A key that is not the committed one is refused and not relayed.
    a.send(&ClientMessage::E2eeAnnounce {
        public: key(9).0,
        mac: b64(&[0; 32]),
    })
    .await;
    match next_key_message(&mut a).await {
        ServerMessage::Error { code, fatal, .. } => {
            assert_eq!(code, ErrorCode::InvalidField);
            assert!(!fatal);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The committed key goes to Bo, with Ada's id.
    announce(&mut b, 2).await;
    announce(&mut a, 1).await;
    match next_key_message(&mut b).await {
        ServerMessage::E2eeAnnounce {
            participant_id,
            public,
            ..
        } => {
            assert_eq!(participant_id, a_id);
            assert_eq!(public, key(1).0);
        }
        other => panic!("expected Ada's announcement, got {other:?}"),
    }
    match next_key_message(&mut a).await {
        ServerMessage::E2eeAnnounce { participant_id, .. } => assert_eq!(participant_id, b_id),
        other => panic!("expected Bo's announcement, got {other:?}"),
    }
    // A newcomer finds both announcements in the list.
    let (_c, _, joined) = member(&s, &id, "Cy", 3).await;
    let ServerMessage::Joined { participants, .. } = joined else {
        unreachable!()
    };
    for (pid, n) in [(&a_id, 1), (&b_id, 2)] {
        let p = participants.iter().find(|p| &p.id == pid).unwrap();
        let e2ee = p.e2ee.as_ref().unwrap();
        assert_eq!(e2ee.public.as_deref(), Some(key(n).0.as_str()));
        assert_eq!(e2ee.mac.as_deref(), Some(b64(&[n ^ 0xff; 32]).as_str()));
    }
}

#[tokio::test]
async fn a_box_reaches_only_the_member_it_names() {
    let s = TestServer::start().await;
    let (id, _) = create(&s, true).await;
    let (mut a, a_id, _) = member(&s, &id, "Ada", 1).await;
    let (mut b, b_id, _) = member(&s, &id, "Bo", 2).await;
    let (mut c, _c_id, _) = member(&s, &id, "Cy", 3).await;
    let sealed = b64(&[7; 53]);
    a.send(&ClientMessage::E2eeKeys {
        boxes: vec![
            E2eeBox {
                to: b_id.clone(),
                sealed: sealed.clone(),
            },
            // Not in the room, and Ada herself: dropped.
            E2eeBox {
                to: "nobody-here".into(),
                sealed: b64(&[8; 53]),
            },
            E2eeBox {
                to: a_id.clone(),
                sealed: b64(&[9; 53]),
            },
        ],
    })
    .await;
    match next_key_message(&mut b).await {
        ServerMessage::E2eeKey { from, sealed: got } => {
            assert_eq!(from, a_id);
            assert_eq!(got, sealed);
        }
        other => panic!("expected Ada's box, got {other:?}"),
    }
    // Neither Cy nor Ada get anything.
    for client in [&mut c, &mut a] {
        let nothing = tokio::time::timeout(
            Duration::from_millis(400),
            client.recv_until(|m| matches!(m, ServerMessage::E2eeKey { .. }).then_some(())),
        )
        .await;
        assert!(nothing.is_err(), "a box reached the wrong member");
    }
    // Malformed boxes are refused by the protocol layer with a clear error.
    a.send_text(r#"{"type":"e2ee_keys","boxes":[{"to":"x","box":"not base64!"}]}"#)
        .await;
    assert_eq!(a.expect_error().await, (ErrorCode::InvalidField, false));
    let too_many: Vec<_> = (0..50)
        .map(|i| E2eeBox {
            to: format!("p{i}"),
            sealed: b64(&[1; 53]),
        })
        .collect();
    a.send(&ClientMessage::E2eeKeys { boxes: too_many }).await;
    assert_eq!(a.expect_error().await, (ErrorCode::InvalidField, false));
}

#[tokio::test]
async fn a_legacy_room_ignores_keys_and_turns_encryption_on_with_a_new_link() {
    let s = TestServer::start().await;
    let (id, host_key) = create(&s, false).await;
    // A client that encrypts joins a legacy room (the client decides whether to stay); the
    // room relays no keys.
    let (mut g, _, joined) = member(&s, &id, "Guest", 4).await;
    let ServerMessage::Joined { room, .. } = joined else {
        unreachable!()
    };
    assert!(!room.e2ee);
    announce(&mut g, 4).await;
    assert_eq!(g.expect_error().await, (ErrorCode::InvalidField, false));

    let mut owner = WsClient::connect(&s.ws_url(&id)).await;
    owner.send(&join("Owner", None, Some(&host_key))).await;
    assert!(matches!(
        owner.recv().await,
        Some(ServerMessage::Joined { .. })
    ));
    owner.send(&ClientMessage::RotateLink { e2ee: true }).await;
    // Everyone hears of the new, encrypted link, and the call starts over.
    let new_link = owner
        .recv_until(|m| match m {
            ServerMessage::RoomUpdated { room } if room.e2ee => Some(room.id.clone()),
            _ => None,
        })
        .await;
    for c in [&mut owner, &mut g] {
        let code = c
            .recv_until(|m| match m {
                ServerMessage::Error {
                    code, fatal: true, ..
                } => Some(*code),
                _ => None,
            })
            .await;
        assert_eq!(code, ErrorCode::RoomEnded);
    }
    assert_eq!(s.room_info(&new_link).await["e2ee"], true);
    // From now on only encrypting joins get in, the owner's too.
    let mut plain = WsClient::connect(&s.ws_url(&new_link)).await;
    plain.send(&join("Owner", None, Some(&host_key))).await;
    assert_eq!(plain.expect_error().await, (ErrorCode::E2eeRequired, true));
    let (_m, _, _) = member(&s, &new_link, "Ada", 5).await;
    // Encryption never goes off again: a plain rotation keeps it.
    let mut owner = WsClient::connect(&s.ws_url(&new_link)).await;
    owner
        .send(&join("Owner", Some(&key(6).1), Some(&host_key)))
        .await;
    assert!(matches!(
        owner.recv().await,
        Some(ServerMessage::Joined { .. })
    ));
    owner.send(&ClientMessage::RotateLink { e2ee: false }).await;
    let newest = owner
        .recv_until(|m| match m {
            ServerMessage::RoomUpdated { room } => Some((room.id.clone(), room.e2ee)),
            _ => None,
        })
        .await;
    assert!(newest.1);
    assert_eq!(s.room_info(&newest.0).await["e2ee"], true);
}

#[tokio::test]
async fn a_resume_keeps_the_announcement_of_the_same_key() {
    let s = TestServer::start().await;
    let (id, _) = create(&s, true).await;
    let (mut a, a_id, joined) = member(&s, &id, "Ada", 1).await;
    let ServerMessage::Joined { resume_token, .. } = joined else {
        unreachable!()
    };
    announce(&mut a, 1).await;
    let (mut b, _, _) = member(&s, &id, "Bo", 2).await;
    a.close().await;
    // Ada comes back under the same id with the same key: Bo sees her key still announced.
    let mut again = WsClient::connect(&s.ws_url(&id)).await;
    let mut message = join("Ada", Some(&key(1).1), None);
    if let ClientMessage::Join { resume, .. } = &mut message {
        *resume = Some(salon_protocol::Resume {
            participant_id: a_id.clone(),
            token: resume_token,
        });
    }
    again.send(&message).await;
    assert!(matches!(
        again.recv().await,
        Some(ServerMessage::Joined { resumed: true, .. })
    ));
    let update = b
        .recv_until(|m| match m {
            ServerMessage::ParticipantUpdated { participant } if participant.id == a_id => {
                Some(participant.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(
        update.e2ee.unwrap().public.as_deref(),
        Some(key(1).0.as_str())
    );
}

#[tokio::test]
async fn one_member_cannot_make_the_server_flood_the_room_with_boxes() {
    let s = TestServer::start().await;
    let (id, _) = create(&s, true).await;
    let (mut a, _, _) = member(&s, &id, "Ada", 1).await;
    let (mut b, b_id, _) = member(&s, &id, "Bo", 2).await;
    // Far more key messages than any client sends: most are dropped, and the sender is told.
    for _ in 0..150 {
        a.send(&ClientMessage::E2eeKeys {
            boxes: vec![E2eeBox {
                to: b_id.clone(),
                sealed: b64(&[7; 53]),
            }],
        })
        .await;
    }
    let code = a
        .recv_until(|m| match m {
            ServerMessage::Error {
                code, fatal: false, ..
            } => Some(*code),
            _ => None,
        })
        .await;
    assert_eq!(code, ErrorCode::RateLimited);
    let mut relayed = 0;
    while let Ok(Some(_)) = tokio::time::timeout(
        Duration::from_millis(500),
        b.recv_until(|m| matches!(m, ServerMessage::E2eeKey { .. }).then_some(())),
    )
    .await
    .map(Some)
    {
        relayed += 1;
    }
    assert!(
        (60..=75).contains(&relayed),
        "the burst is relayed, the rest dropped ({relayed})"
    );
}
