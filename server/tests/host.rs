//! Host controls through the real server: WebSocket signaling, SQLite and WebRTC forwarding.
//! One behaviour per test: a mute stops forwarding, a removal sticks, a knocker learns nothing,
//! guests cannot act as hosts, a rotated link retires the old one.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::rtc::RtcClient;
use common::{TestServer, WsClient, eventually, lock, owner, room};
use salon_protocol::{ClientMessage, ErrorCode, MediaState, Role, ServerMessage};

const DEVICE_A: &str = "device-aaaaaaaaaaaa";
const DEVICE_B: &str = "device-bbbbbbbbbbbb";

async fn pump_all(clients: &mut [&mut RtcClient], d: Duration) {
    let futures = clients.iter_mut().map(|c| c.pump(d));
    futures_util::future::join_all(futures).await;
}

fn is_error(m: &ServerMessage, want: ErrorCode) -> bool {
    matches!(m, ServerMessage::Error { code, .. } if *code == want)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_mute_stops_forwarding_until_the_guest_unmutes() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = RtcClient::join_as(&url, "Host", Some(&key)).await;
    let mut guest = RtcClient::join(&url, "Guest").await;
    let guest_id = guest.id.clone();
    let flowing = eventually(Duration::from_secs(20), async || {
        pump_all(&mut [&mut host, &mut guest], Duration::from_millis(300)).await;
        host.received_from(&guest_id).audio_packets > 20
    })
    .await;
    assert!(flowing, "no audio from the guest to start with");

    host.ws
        .send(&ClientMessage::Mute {
            participant_id: guest_id.clone(),
            video: true,
        })
        .await;
    // The guest is told; its client keeps sending, which is the point: the server must drop it.
    let seen = guest.pump(Duration::from_secs(1)).await;
    assert!(
        seen.iter().any(
            |m| matches!(m, ServerMessage::Muted { media, .. } if !media.audio && !media.video)
        ),
        "{seen:?}"
    );
    pump_all(&mut [&mut host, &mut guest], Duration::from_millis(500)).await;
    let before = host.received_from(&guest_id);
    pump_all(&mut [&mut host, &mut guest], Duration::from_secs(2)).await;
    let after = host.received_from(&guest_id);
    assert!(
        after.audio_packets <= before.audio_packets + 2
            && after.video_packets <= before.video_packets + 2,
        "forwarding went on while muted: {before:?} -> {after:?}"
    );

    guest
        .ws
        .send(&ClientMessage::Media(MediaState::default()))
        .await;
    let resumed = eventually(Duration::from_secs(10), async || {
        pump_all(&mut [&mut host, &mut guest], Duration::from_millis(300)).await;
        host.received_from(&guest_id).audio_packets > after.audio_packets + 20
    })
    .await;
    assert!(resumed, "forwarding did not resume after the guest unmuted");
    // The packets dropped while muted leave no hole in what the host receives (a hole would
    // read as loss: retransmission requests, a stalled jitter buffer).
    let step = host.received_from(&guest_id).largest_audio_seq_step;
    assert!(
        step <= 3,
        "a hole of {step} sequence numbers after the mute"
    );
}

#[tokio::test]
async fn a_removed_guest_stays_out_under_any_name_and_device_until_the_ban_is_lifted() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    let (mut troll, reply) = WsClient::connect_as(&url, "Troll", None, Some(DEVICE_A)).await;
    let ServerMessage::Joined { participant_id, .. } = reply else {
        panic!("troll could not join: {reply:?}");
    };
    host.send(&ClientMessage::Remove {
        participant_id: participant_id.clone(),
    })
    .await;
    let removed = troll
        .recv_until(|m| match m {
            ServerMessage::Error {
                code,
                fatal,
                message,
            } => Some((*code, *fatal, message.clone())),
            _ => None,
        })
        .await;
    assert_eq!(removed.0, ErrorCode::Removed);
    assert!(removed.1, "removal is fatal");
    assert!(
        removed.2.contains("You were removed from this room"),
        "{}",
        removed.2
    );
    assert!(
        troll.recv().await.is_none(),
        "the socket closes after removal"
    );
    let ban_id = host
        .recv_until(|m| match m {
            ServerMessage::Bans { bans } if !bans.is_empty() => Some(bans[0].id.clone()),
            _ => None,
        })
        .await;

    // Same device with a new name; a new device id (a fresh browser profile) from the same
    // address; no device id at all: all refused.
    for (name, device) in [
        ("Nice Person", Some(DEVICE_A)),
        ("Other", Some(DEVICE_B)),
        ("Anon", None),
    ] {
        let (mut again, reply) = WsClient::connect_as(&url, name, None, device).await;
        assert!(is_error(&reply, ErrorCode::Removed), "{name}: {reply:?}");
        assert!(again.recv().await.is_none());
    }
    // The room is locked by the removal and stays locked after a restart of the room.
    let info = s.room_info(&id).await;
    assert_eq!(info["locked"], true);

    host.send(&ClientMessage::Unban { ban_id }).await;
    host.recv_until(|m| matches!(m, ServerMessage::Bans { bans } if bans.is_empty()).then_some(()))
        .await;
    let (mut back, reply) = WsClient::connect_as(&url, "Troll", None, Some(DEVICE_A)).await;
    assert!(
        matches!(reply, ServerMessage::Waiting { ref room_name, host_present: true } if room_name.as_deref() == Some("Friday")),
        "{reply:?}"
    );
    let knock_id = host
        .recv_until(|m| match m {
            ServerMessage::KnockReceived { knock } => Some(knock.id.clone()),
            _ => None,
        })
        .await;
    host.send(&ClientMessage::Admit { knock_id }).await;
    let joined = back.recv().await.expect("admitted");
    assert!(
        matches!(
            joined,
            ServerMessage::Joined {
                role: Role::Guest,
                ..
            }
        ),
        "{joined:?}"
    );
}

#[tokio::test]
async fn a_knocker_gets_no_list_no_media_and_cannot_signal() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    lock(&mut host).await;
    let (mut knocker, reply) = WsClient::connect_as(&url, "Knocker", None, Some(DEVICE_B)).await;
    assert!(matches!(reply, ServerMessage::Waiting { .. }), "{reply:?}");
    for message in [
        ClientMessage::Offer {
            sdp: "v=0\r\n".into(),
        },
        ClientMessage::Media(MediaState::default()),
        ClientMessage::SetLocked { locked: false },
        ClientMessage::RotateLink { e2ee: false },
    ] {
        knocker.send(&message).await;
        let (code, fatal) = knocker.expect_error().await;
        assert_eq!((code, fatal), (ErrorCode::NotJoined, false), "{message:?}");
    }
    knocker.send(&ClientMessage::Ping).await;
    assert_eq!(
        knocker.recv().await,
        Some(ServerMessage::Pong),
        "only pong, no room data"
    );
    assert_eq!(
        s.participants(&id).await,
        1,
        "a knocker is not counted as inside"
    );
}

#[tokio::test]
async fn guests_cannot_use_host_actions_and_a_wrong_host_key_is_just_a_guest() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    let (mut faker, reply) =
        WsClient::connect_as(&url, "Faker", Some("not-the-key"), Some(DEVICE_A)).await;
    assert!(is_error(&reply, ErrorCode::NotAllowed), "{reply:?}");
    let joined = faker.recv().await.expect("joined as a guest");
    assert!(
        matches!(
            joined,
            ServerMessage::Joined {
                role: Role::Guest,
                ..
            }
        ),
        "{joined:?}"
    );
    host.recv_until(|m| matches!(m, ServerMessage::ParticipantJoined { .. }).then_some(()))
        .await;
    for action in [
        ClientMessage::SetLocked { locked: true },
        ClientMessage::SetPanic { active: true },
        ClientMessage::RotateLink { e2ee: false },
        ClientMessage::EndRoom,
        ClientMessage::Unban { ban_id: "b".into() },
    ] {
        faker.send(&action).await;
        let (code, fatal) = faker.expect_error().await;
        assert_eq!((code, fatal), (ErrorCode::NotAllowed, false), "{action:?}");
    }
    // The host heard nothing of it, and the room is unchanged.
    host.send(&ClientMessage::Ping).await;
    assert_eq!(host.recv().await, Some(ServerMessage::Pong));
    let info = s.room_info(&id).await;
    assert_eq!(info["locked"], false);
}

#[tokio::test]
async fn a_rotated_link_retires_the_old_one_and_looks_like_any_wrong_id() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let mut host = owner(&s, &id, &key).await;
    host.send(&ClientMessage::RotateLink { e2ee: false }).await;
    let new_id = host
        .recv_until(|m| match m {
            ServerMessage::RoomUpdated { room } => Some(room.id.clone()),
            _ => None,
        })
        .await;
    assert_ne!(new_id, id);
    let body = |link: String| {
        let url = format!("{}/api/rooms/{link}", s.url());
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let old = body(id.clone()).await;
    let random = body("AAAAAAAAAAAAAAAAAAAAAA".into()).await;
    assert_eq!(
        old, random,
        "a retired link answers exactly like an id that never existed"
    );
    assert_eq!(old.0, 404);
    assert_eq!(body(new_id.clone()).await.0, 200);
    let (_c, reply) = WsClient::connect_as(&s.ws_url(&id), "Late", None, None).await;
    assert!(is_error(&reply, ErrorCode::RoomNotFound), "{reply:?}");
    // The owner's key still works on the new link.
    let _again = owner(&s, &new_id, &key).await;
}

#[tokio::test]
async fn knocking_is_rate_limited_per_address() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    lock(&mut host).await;
    let mut refused = None;
    for i in 0..40 {
        let (c, reply) = WsClient::connect_as(&url, &format!("Knocker {i}"), None, None).await;
        match reply {
            ServerMessage::Waiting { .. } => c.close().await,
            ServerMessage::Error { code, message, .. } => {
                refused = Some((i, code, message));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let (after, code, message) = refused.expect("knocks were never limited");
    assert_eq!(code, ErrorCode::RateLimited);
    assert!(message.contains("Too many knocks"), "{message}");
    assert_eq!(after, 20, "the burst is 20 knocks");
}

#[tokio::test]
async fn a_knocker_hears_when_a_host_arrives() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let url = s.ws_url(&id);
    let mut host = owner(&s, &id, &key).await;
    lock(&mut host).await;
    host.send(&ClientMessage::Leave).await;
    assert!(
        eventually(Duration::from_secs(5), async || s.participants(&id).await
            == 0)
        .await
    );
    let (mut knocker, reply) = WsClient::connect_as(&url, "Early", None, Some(DEVICE_B)).await;
    assert!(
        matches!(
            reply,
            ServerMessage::Waiting {
                host_present: false,
                ..
            }
        ),
        "{reply:?}"
    );
    let (_host, joined) = WsClient::connect_as(&url, "Owner", Some(&key), None).await;
    match joined {
        ServerMessage::Joined { role, knocks, .. } => {
            assert_eq!(role, Role::Owner);
            assert_eq!(knocks.len(), 1, "the returning owner finds the knock");
            assert_eq!(knocks[0].name, "Early");
        }
        other => panic!("expected joined, got {other:?}"),
    }
    let update = knocker.recv().await.expect("still waiting");
    assert!(
        matches!(
            update,
            ServerMessage::Waiting {
                host_present: true,
                ..
            }
        ),
        "{update:?}"
    );
}

#[tokio::test]
async fn ownership_the_lock_and_bans_survive_a_restart() {
    let s = TestServer::start().await;
    let (id, key) = room(&s).await;
    let mut host = owner(&s, &id, &key).await;
    let (_troll, reply) = WsClient::connect_as(&s.ws_url(&id), "Troll", None, Some(DEVICE_A)).await;
    let ServerMessage::Joined { participant_id, .. } = reply else {
        panic!("expected joined, got {reply:?}");
    };
    host.send(&ClientMessage::Remove { participant_id }).await;
    host.recv_until(|m| {
        matches!(m, ServerMessage::Bans { bans } if !bans.is_empty()).then_some(())
    })
    .await;
    host.close().await;
    s.server.stop();
    let s = TestServer::start_in(s.dir).await;

    let (mut host, reply) = WsClient::connect_as(&s.ws_url(&id), "Owner", Some(&key), None).await;
    match reply {
        ServerMessage::Joined { role, room, .. } => {
            assert_eq!(role, Role::Owner);
            assert!(room.locked, "the removal's lock is kept");
        }
        other => panic!("expected joined, got {other:?}"),
    }
    let bans = host
        .recv_until(|m| match m {
            ServerMessage::Bans { bans } => Some(bans.clone()),
            _ => None,
        })
        .await;
    assert_eq!(bans.len(), 1);
    assert_eq!(bans[0].name, "Troll");
    let (_c, reply) = WsClient::connect_as(&s.ws_url(&id), "Troll", None, Some(DEVICE_A)).await;
    assert!(is_error(&reply, ErrorCode::Removed), "{reply:?}");
}
