//! Reactions, raised hands and chat through the real server and SQLite (issue 14): what one
//! member sends reaches the others, budgets hold, hosts clear hands, and chat stays for the
//! people who were inside — not for strangers — across leaving and coming back.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{TestServer, WsClient, b64, e2ee_commit, room};
use salon_protocol::{
    ChatMessage, ClientMessage, E2eeJoin, ErrorCode, MediaState, PROTOCOL_VERSION, ServerMessage,
};

const DEVICE_OWNER: &str = "device-oooooooooooo";
const DEVICE_ADA: &str = "device-aaaaaaaaaaaa";
const DEVICE_BO: &str = "device-bbbbbbbbbbbb";

/// Joins with a device id (and the host key); returns the client, its id and the chat it was
/// shown on joining.
async fn enter(
    s: &TestServer,
    id: &str,
    name: &str,
    host_key: Option<&str>,
    device: &str,
) -> (WsClient, String, Vec<ChatMessage>) {
    let (mut c, reply) = WsClient::connect_as(&s.ws_url(id), name, host_key, Some(device)).await;
    let ServerMessage::Joined { participant_id, .. } = reply else {
        panic!("expected joined, got {reply:?}");
    };
    let history = history_of(&mut c).await;
    (c, participant_id, history)
}

/// The `chat_history` that follows a `joined`: always at least one message, maybe empty (a
/// longer history comes in more batches right behind the first).
async fn history_of(c: &mut WsClient) -> Vec<ChatMessage> {
    let mut all = loop {
        if let ServerMessage::ChatHistory { messages } = c.recv_any().await.expect("socket open") {
            break messages;
        }
    };
    while let Ok(Some(ServerMessage::ChatHistory { messages })) =
        tokio::time::timeout(Duration::from_millis(300), c.recv_any()).await
    {
        all.extend(messages);
    }
    all
}

fn texts(messages: &[ChatMessage]) -> Vec<&str> {
    messages.iter().filter_map(|m| m.text.as_deref()).collect()
}

async fn say(c: &mut WsClient, text: &str) -> ChatMessage {
    c.send(&ClientMessage::ChatSend {
        text: Some(text.to_owned()),
        sealed: None,
    })
    .await;
    c.recv_until(|m| match m {
        ServerMessage::Chat { message } => Some(message.clone()),
        ServerMessage::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
        _ => None,
    })
    .await
}

async fn refused(c: &mut WsClient) -> ErrorCode {
    c.recv_until(|m| match m {
        ServerMessage::Error { code, fatal, .. } => {
            assert!(!fatal, "a refusal keeps the connection");
            Some(*code)
        }
        _ => None,
    })
    .await
}

/// Reads messages for `d` and returns them.
async fn drain(c: &mut WsClient, d: Duration) -> Vec<ServerMessage> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(d, async {
        while let Some(m) = c.recv().await {
            seen.push(m);
        }
    })
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_reaches_everyone_and_a_flood_is_cut() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let (mut owner, _, _) = enter(&s, &id, "Owner", Some(&key), DEVICE_OWNER).await;
    let (mut ada, ada_id, _) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;
    ada.send(&ClientMessage::React {
        emoji: "🎉".into()
    })
    .await;
    for c in [&mut owner, &mut ada] {
        let (from, emoji) = c
            .recv_until(|m| match m {
                ServerMessage::Reaction {
                    participant_id,
                    emoji,
                } => Some((participant_id.clone(), emoji.clone())),
                _ => None,
            })
            .await;
        assert_eq!((from.as_str(), emoji.as_str()), (ada_id.as_str(), "🎉"));
    }
    // Not one of the room's reactions: refused before it reaches the room.
    ada.send_text(r#"{"type":"react","emoji":"<img src=x>"}"#)
        .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::InvalidField);

    // A flood: 40 at once. The sender is told to slow down; the room sees at most the burst.
    for _ in 0..40 {
        ada.send(&ClientMessage::React {
            emoji: "🔥".into()
        })
        .await;
    }
    let at_owner = drain(&mut owner, Duration::from_millis(1500)).await;
    let passed = at_owner
        .iter()
        .filter(|m| matches!(m, ServerMessage::Reaction { .. }))
        .count();
    assert!((5..=9).contains(&passed), "{passed} reactions passed");
    let at_ada = drain(&mut ada, Duration::from_millis(200)).await;
    assert!(
        at_ada.iter().any(|m| matches!(
            m,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            }
        )),
        "{at_ada:?}"
    );
}

/// The hand `who` has in `m`, if `m` is an update of them.
fn hand_of(m: &ServerMessage, who: &str) -> Option<Option<u64>> {
    match m {
        ServerMessage::ParticipantUpdated { participant } if participant.id == who => {
            Some(participant.hand)
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hands_queue_in_order_and_hosts_lower_them() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let (mut owner, _, _) = enter(&s, &id, "Owner", Some(&key), DEVICE_OWNER).await;
    let (mut ada, ada_id, _) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;
    let (mut bo, bo_id, _) = enter(&s, &id, "Bo", None, DEVICE_BO).await;

    bo.send(&ClientMessage::RaiseHand { raised: true }).await;
    let bo_hand = owner.recv_until(|m| hand_of(m, &bo_id)).await.unwrap();
    ada.send(&ClientMessage::RaiseHand { raised: true }).await;
    let ada_hand = owner.recv_until(|m| hand_of(m, &ada_id)).await.unwrap();
    assert!(
        bo_hand < ada_hand,
        "the queue keeps the order hands went up"
    );
    // Everyone sees the hands, not only hosts.
    assert_eq!(ada.recv_until(|m| hand_of(m, &bo_id)).await, Some(bo_hand));

    // A guest may lower only their own hand.
    ada.send(&ClientMessage::LowerHands {
        participant_id: Some(bo_id.clone()),
    })
    .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::NotAllowed);
    ada.send(&ClientMessage::LowerHands {
        participant_id: None,
    })
    .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::NotAllowed);

    // The host lowers Bo's, then everyone's.
    owner
        .send(&ClientMessage::LowerHands {
            participant_id: Some(bo_id.clone()),
        })
        .await;
    bo.recv_until(|m| (hand_of(m, &bo_id) == Some(None)).then_some(()))
        .await;
    owner
        .send(&ClientMessage::LowerHands {
            participant_id: None,
        })
        .await;
    ada.recv_until(|m| (hand_of(m, &ada_id) == Some(None)).then_some(()))
        .await;

    // Panic pauses reactions and chat for guests; a hand still goes up.
    owner.send(&ClientMessage::SetPanic { active: true }).await;
    ada.recv_until(|m| {
        matches!(m, ServerMessage::RoomUpdated { room } if room.panic).then_some(())
    })
    .await;
    ada.send(&ClientMessage::React {
        emoji: "👍".into()
    })
    .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::NotAllowed);
    ada.send(&ClientMessage::ChatSend {
        text: Some("let me in".into()),
        sealed: None,
    })
    .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::NotAllowed);
    ada.send(&ClientMessage::RaiseHand { raised: true }).await;
    let again = owner.recv_until(|m| hand_of(m, &ada_id).flatten()).await;
    assert!(
        again > ada_hand,
        "a hand raised again goes to the end of the queue"
    );
    // The host still talks.
    say(&mut owner, "one moment please").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stays_for_the_people_inside_and_is_refused_to_strangers() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let (mut owner, _, first) = enter(&s, &id, "Owner", Some(&key), DEVICE_OWNER).await;
    assert!(first.is_empty());
    let (mut ada, ada_id, _) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;

    let sent = say(
        &mut ada,
        "  the cake is in the <b>fridge</b> https://x.test  ",
    )
    .await;
    assert_eq!(sent.from, ada_id);
    assert_eq!(sent.name, "Ada");
    // Kept as text, trimmed, never interpreted.
    assert_eq!(
        sent.text.as_deref(),
        Some("the cake is in the <b>fridge</b> https://x.test")
    );
    let at_owner = owner
        .recv_until(|m| match m {
            ServerMessage::Chat { message } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(at_owner, sent);

    // Ada leaves; something is said while she is away.
    ada.send(&ClientMessage::Leave).await;
    ada.close().await;
    owner
        .recv_until(|m| {
            matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == ada_id)
                .then_some(())
        })
        .await;
    say(&mut owner, "while Ada was out").await;

    // A stranger (another device) sees nothing of it.
    let (bo, _, bo_history) = enter(&s, &id, "Bo", None, DEVICE_BO).await;
    assert!(bo_history.is_empty(), "a stranger was shown {bo_history:?}");
    bo.close().await;

    // Ada comes back (new connection, same device): what was said while she was inside.
    let (ada, _, ada_history) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;
    assert_eq!(
        texts(&ada_history),
        ["the cake is in the <b>fridge</b> https://x.test"]
    );
    ada.close().await;

    // The owner sees everything when coming back.
    owner.send(&ClientMessage::Leave).await;
    owner.close().await;
    let (mut owner, _, owner_history) = enter(&s, &id, "Owner", Some(&key), DEVICE_OWNER).await;
    assert_eq!(
        texts(&owner_history),
        [
            "the cake is in the <b>fridge</b> https://x.test",
            "while Ada was out"
        ]
    );

    // Only the owner clears it; then nobody gets it back.
    let (mut ada, _, _) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;
    ada.send(&ClientMessage::ChatClear).await;
    assert_eq!(refused(&mut ada).await, ErrorCode::NotAllowed);
    owner.send(&ClientMessage::ChatClear).await;
    ada.recv_until(|m| matches!(m, ServerMessage::ChatCleared).then_some(()))
        .await;
    ada.close().await;
    let (_ada, _, after) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;
    assert!(after.is_empty(), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_has_a_budget() {
    let s = TestServer::start().await;
    let (id, _) = room(&s).await;
    let (mut ada, _, _) = enter(&s, &id, "Ada", None, DEVICE_ADA).await;
    for i in 0..5 {
        say(&mut ada, &format!("message {i}")).await;
    }
    ada.send(&ClientMessage::ChatSend {
        text: Some("one too many".into()),
        sealed: None,
    })
    .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::RateLimited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_room_keeps_only_ciphertext() {
    let s = TestServer::start().await;
    let created = s
        .create_room_with(serde_json::json!({ "name": "Secret", "e2ee": true }))
        .await;
    let id = created["id"].as_str().unwrap();
    let mut ada = WsClient::connect(&s.ws_url(id)).await;
    ada.send(&ClientMessage::Join {
        version: PROTOCOL_VERSION,
        name: "Ada".into(),
        media: MediaState::default(),
        resume: None,
        host_key: None,
        device: Some(DEVICE_ADA.into()),
        keep_media: false,
        e2ee: Some(E2eeJoin {
            commit: e2ee_commit(&[7; 32]),
        }),
    })
    .await;
    assert!(matches!(
        ada.recv().await,
        Some(ServerMessage::Joined { .. })
    ));
    // Plain text is refused in an encrypted room.
    ada.send(&ClientMessage::ChatSend {
        text: Some("in the clear".into()),
        sealed: None,
    })
    .await;
    assert_eq!(refused(&mut ada).await, ErrorCode::InvalidField);
    // Sealed text is relayed and kept as it came.
    let sealed = b64(&[1u8; 60]);
    ada.send(&ClientMessage::ChatSend {
        text: None,
        sealed: Some(sealed.clone()),
    })
    .await;
    let echoed = ada
        .recv_until(|m| match m {
            ServerMessage::Chat { message } => Some(message.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (echoed.text, echoed.sealed.as_deref()),
        (None, Some(sealed.as_str()))
    );
}
