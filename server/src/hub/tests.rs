use std::net::IpAddr;
use std::time::Duration;

use salon_protocol::{ClientMessage, ErrorCode, MediaState, Resume, Role, ServerMessage};

use super::*;
use crate::identity::Identity;
use crate::store::{Store, StoredRoom};

fn media() -> MediaState {
    MediaState::default()
}

async fn setup() -> (Hub, Store, StoredRoom) {
    let store = Store::in_memory().expect("store");
    let room = StoredRoom {
        id: "room-key".into(),
        link: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        name: Some("Friday".into()),
        host_key_hash: vec![0; 32],
        created_at: 0,
        locked: false,
        e2ee: false,
    };
    store.insert_room(room.clone()).await.expect("insert");
    (Hub::new(store.clone()), store, room)
}

fn person(n: u8) -> Identity {
    Identity::new(
        "room-key",
        Some(&format!("device-{n:0>12}")),
        IpAddr::from([192, 0, 2, n]),
    )
}

fn request(name: &str, role: Role, who: u8) -> JoinRequest {
    JoinRequest {
        name: name.into(),
        media: media(),
        resume: None,
        role,
        identity: person(who),
        link: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        keep_media: false,
        e2ee: None,
    }
}

async fn enter(hub: &Hub, room: &StoredRoom, req: JoinRequest) -> (Joined, RoomLink) {
    match hub.join(room, req).await.expect("join") {
        Entry::Joined(joined, link) => (joined, link),
        Entry::Waiting(_) => panic!("expected to get in, got the lobby"),
    }
}

async fn knock(hub: &Hub, room: &StoredRoom, req: JoinRequest) -> Knocking {
    match hub.join(room, req).await.expect("join") {
        Entry::Waiting(k) => k,
        Entry::Joined(..) => panic!("expected the lobby"),
    }
}

/// The next signaling message in a participant's queue (skipping media events, and the chat
/// history every join is sent: `server/tests/social.rs` tests that).
async fn next(joined: &mut Joined) -> ServerMessage {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), joined.events.recv())
            .await
            .expect("a room event within 5 s");
        match event {
            Some(ToParticipant::Signal(ServerMessage::ChatHistory { .. })) => {}
            Some(ToParticipant::Signal(message)) => return message,
            Some(ToParticipant::Ended { code, message }) => {
                return ServerMessage::Error {
                    code,
                    message,
                    fatal: true,
                };
            }
            Some(_) => {}
            None => panic!("queue closed"),
        }
    }
}

/// Skips messages until one matches.
async fn until(joined: &mut Joined, want: impl Fn(&ServerMessage) -> bool) -> ServerMessage {
    loop {
        let m = next(joined).await;
        if want(&m) {
            return m;
        }
    }
}

fn is_error(code: ErrorCode) -> impl Fn(&ServerMessage) -> bool {
    move |m| matches!(m, ServerMessage::Error { code: c, .. } if *c == code)
}

#[tokio::test]
async fn joins_and_leaves_are_announced_and_the_room_retires() {
    let (hub, _, room) = setup().await;
    let (mut a, link) = enter(&hub, &room, request("A", Role::Guest, 1)).await;
    let (b, b_link) = enter(&hub, &room, request("B", Role::Guest, 2)).await;
    assert_eq!(b.others.len(), 1);
    assert_eq!(
        b.room.id, room.link,
        "participants see the link id, not the room key"
    );
    assert_eq!(hub.participant_count(&room.id), 2);
    match next(&mut a).await {
        ServerMessage::ParticipantJoined { participant } => assert_eq!(participant.name, "B"),
        other => panic!("expected participant_joined, got {other:?}"),
    }
    b_link.leave();
    match next(&mut a).await {
        ServerMessage::ParticipantLeft { participant_id } => {
            assert_eq!(participant_id, b.participant_id);
        }
        other => panic!("expected participant_left, got {other:?}"),
    }
    link.leave();
    for _ in 0..100 {
        if hub.live_rooms() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hub.live_rooms(), 0);
    let (c, _) = enter(&hub, &room, request("C", Role::Guest, 3)).await;
    assert!(c.others.is_empty());
}

#[tokio::test]
async fn a_resumed_participant_keeps_its_id_and_the_old_connection_is_powerless() {
    let (hub, _, room) = setup().await;
    let (mut a, _a_link) = enter(&hub, &room, request("A", Role::Guest, 1)).await;
    let (b, old_link) = enter(&hub, &room, request("B", Role::Guest, 2)).await;
    let _ = next(&mut a).await; // participant_joined
    let mut again = request("B again", Role::Guest, 2);
    again.resume = Some(Resume {
        participant_id: b.participant_id.clone(),
        token: b.resume_token.clone(),
    });
    let (b2, new_link) = enter(&hub, &room, again).await;
    assert!(b2.resumed);
    assert_eq!(b2.participant_id, b.participant_id);
    assert_ne!(b2.resume_token, b.resume_token);
    match next(&mut a).await {
        ServerMessage::ParticipantUpdated { participant } => {
            assert_eq!(participant.name, "B again");
        }
        other => panic!("expected participant_updated, got {other:?}"),
    }
    old_link.leave();
    new_link.set_media(MediaState {
        audio: false,
        video: false,
    });
    match next(&mut a).await {
        ServerMessage::ParticipantUpdated { participant } => assert!(!participant.media.audio),
        other => panic!("expected the resumed participant to still be here, got {other:?}"),
    }
    assert_eq!(hub.participant_count(&room.id), 2);
    let mut forged = request("C", Role::Guest, 3);
    forged.resume = Some(Resume {
        participant_id: b.participant_id.clone(),
        token: "forged".into(),
    });
    let (c, _) = enter(&hub, &room, forged).await;
    assert!(!c.resumed);
    assert_ne!(c.participant_id, b.participant_id);
}

#[tokio::test]
async fn the_cap_holds() {
    let (hub, _, room) = setup().await;
    let mut keep = Vec::new();
    for i in 0..salon_protocol::MAX_PARTICIPANTS {
        keep.push(enter(&hub, &room, request(&format!("p{i}"), Role::Guest, 1)).await);
    }
    assert!(matches!(
        hub.join(&room, request("late", Role::Guest, 2)).await,
        Err(JoinError::Full)
    ));
}

#[tokio::test]
async fn a_locked_room_keeps_knockers_in_the_lobby_until_a_host_answers() {
    let (hub, store, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    assert_eq!(owner.role, Role::Owner);
    assert!(matches!(next(&mut owner).await, ServerMessage::Bans { bans } if bans.is_empty()));
    owner_link.host(ClientMessage::SetLocked { locked: true });
    match next(&mut owner).await {
        ServerMessage::RoomUpdated { room: info } => assert!(info.locked),
        other => panic!("expected room_updated, got {other:?}"),
    }
    assert!(
        store.room_now(&room.id).expect("db").expect("room").locked,
        "lock is stored"
    );

    let mut waiting = knock(&hub, &room, request("Knocker", Role::Guest, 2)).await;
    assert!(*waiting.host_present.borrow());
    let knock_id = match next(&mut owner).await {
        ServerMessage::KnockReceived { knock } => {
            assert_eq!(knock.name, "Knocker");
            knock.id
        }
        other => panic!("expected knock_received, got {other:?}"),
    };
    assert_eq!(
        hub.participant_count(&room.id),
        1,
        "a knocker is not inside"
    );
    owner_link.host(ClientMessage::Admit { knock_id });
    let (joined, _link) = waiting.answer().await.expect("admitted");
    assert_eq!(joined.others.len(), 1);
    assert_eq!(joined.role, Role::Guest);
    assert!(joined.room.locked);
    // The owner skips the lobby.
    let (again, _) = enter(&hub, &room, request("Owner 2", Role::Owner, 1)).await;
    assert_eq!(again.role, Role::Owner);
}

#[tokio::test]
async fn someone_denied_twice_cannot_knock_again_until_the_room_empties() {
    let (hub, _, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    owner_link.host(ClientMessage::SetLocked { locked: true });
    for round in 0..2 {
        let mut waiting = knock(&hub, &room, request("Pest", Role::Guest, 2)).await;
        let ServerMessage::KnockReceived { knock } = until(&mut owner, |m| {
            matches!(m, ServerMessage::KnockReceived { .. })
        })
        .await
        else {
            unreachable!()
        };
        assert_eq!(knock.denied_before, round);
        owner_link.host(ClientMessage::Deny { knock_id: knock.id });
        assert!(matches!(waiting.answer().await, Err(JoinError::Denied)));
    }
    assert!(matches!(
        hub.join(&room, request("Pest again", Role::Guest, 2)).await,
        Err(JoinError::DeniedTwice)
    ));
    // A withdrawn knock is taken off the hosts' list.
    let waiting = knock(&hub, &room, request("Shy", Role::Guest, 3)).await;
    let id = waiting.knock_id.clone();
    drop(waiting);
    let ended = until(
        &mut owner,
        |m| matches!(m, ServerMessage::KnockEnded { knock_id } if *knock_id == id),
    )
    .await;
    assert!(matches!(ended, ServerMessage::KnockEnded { .. }));
}

#[tokio::test]
async fn unlocking_lets_everyone_waiting_in() {
    let (hub, _, room) = setup().await;
    let (_owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    owner_link.host(ClientMessage::SetLocked { locked: true });
    let mut a = knock(&hub, &room, request("A", Role::Guest, 2)).await;
    let mut b = knock(&hub, &room, request("B", Role::Guest, 3)).await;
    owner_link.host(ClientMessage::SetLocked { locked: false });
    assert!(a.answer().await.is_ok());
    assert!(b.answer().await.is_ok());
}

#[tokio::test]
async fn a_removal_sticks_to_device_and_address_and_locks_the_room() {
    let (hub, store, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let (mut troll, _troll_link) = enter(&hub, &room, request("Troll", Role::Guest, 2)).await;
    let _ = until(&mut owner, |m| {
        matches!(m, ServerMessage::ParticipantJoined { .. })
    })
    .await;
    owner_link.host(ClientMessage::Remove {
        participant_id: troll.participant_id.clone(),
    });
    let removed = until(&mut troll, is_error(ErrorCode::Removed)).await;
    assert!(matches!(removed, ServerMessage::Error { message, .. } if message.contains("removed")));
    let _ = until(&mut owner, |m| {
        matches!(m, ServerMessage::ParticipantLeft { .. })
    })
    .await;
    let bans = match until(
        &mut owner,
        |m| matches!(m, ServerMessage::Bans { bans } if !bans.is_empty()),
    )
    .await
    {
        ServerMessage::Bans { bans } => bans,
        _ => unreachable!(),
    };
    assert_eq!(bans[0].name, "Troll");
    assert!(
        store.room_now(&room.id).expect("db").expect("room").locked,
        "removal locks"
    );
    assert_eq!(
        store.bans_now(&room.id).expect("db").len(),
        1,
        "the ban is stored"
    );

    // Same device, new address; new device, same address: both refused.
    let same_device = JoinRequest {
        identity: Identity::new(
            "room-key",
            Some("device-000000000002"),
            IpAddr::from([198, 51, 100, 9]),
        ),
        ..request("New name", Role::Guest, 9)
    };
    assert!(matches!(
        hub.join(&room, same_device).await,
        Err(JoinError::Banned)
    ));
    let same_address = JoinRequest {
        identity: Identity::new(
            "room-key",
            Some("fresh-browser-profile"),
            IpAddr::from([192, 0, 2, 2]),
        ),
        ..request("Another name", Role::Guest, 9)
    };
    assert!(matches!(
        hub.join(&room, same_address.clone()).await,
        Err(JoinError::Banned)
    ));
    // A resume token from before the removal does not help either.
    let mut resume = request("Troll", Role::Guest, 2);
    resume.resume = Some(Resume {
        participant_id: troll.participant_id.clone(),
        token: troll.resume_token.clone(),
    });
    assert!(matches!(
        hub.join(&room, resume).await,
        Err(JoinError::Banned)
    ));

    owner_link.host(ClientMessage::Unban {
        ban_id: bans[0].id.clone(),
    });
    let _ = until(
        &mut owner,
        |m| matches!(m, ServerMessage::Bans { bans } if bans.is_empty()),
    )
    .await;
    assert!(store.bans_now(&room.id).expect("db").is_empty());
    // Lifted: they may knock again (the room is still locked).
    let _waiting = knock(&hub, &room, same_address).await;
}

#[tokio::test]
async fn guests_and_cohosts_cannot_act_above_their_role() {
    let (hub, _, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let (mut guest, guest_link) = enter(&hub, &room, request("Guest", Role::Guest, 2)).await;
    let (mut other, _other_link) = enter(&hub, &room, request("Other", Role::Guest, 3)).await;
    let target = other.participant_id.clone();
    for action in [
        ClientMessage::SetLocked { locked: true },
        ClientMessage::Remove {
            participant_id: owner.participant_id.clone(),
        },
        ClientMessage::Remove {
            participant_id: target.clone(),
        },
        ClientMessage::Mute {
            participant_id: target.clone(),
            video: true,
        },
        ClientMessage::AskMute {
            participant_id: target.clone(),
        },
        ClientMessage::SetPanic { active: true },
        ClientMessage::RotateLink { e2ee: false },
        ClientMessage::EndRoom,
        ClientMessage::SetCohost {
            participant_id: guest.participant_id.clone(),
            cohost: true,
        },
        ClientMessage::Unban { ban_id: "x".into() },
        ClientMessage::Admit {
            knock_id: "x".into(),
        },
    ] {
        guest_link.host(action.clone());
        let refused = until(&mut guest, |m| matches!(m, ServerMessage::Error { .. })).await;
        assert!(
            matches!(
                refused,
                ServerMessage::Error {
                    code: ErrorCode::NotAllowed,
                    fatal: false,
                    ..
                }
            ),
            "{action:?}: {refused:?}"
        );
    }
    // Nothing reached the others: the first thing `other` hears is the owner's request.
    owner_link.host(ClientMessage::AskMute {
        participant_id: target.clone(),
    });
    let got = next(&mut other).await;
    assert!(
        matches!(got, ServerMessage::MuteRequested { ref by } if by == "Owner"),
        "{got:?}"
    );

    // A co-host may act on guests but not on the owner or another co-host.
    owner_link.host(ClientMessage::SetCohost {
        participant_id: guest.participant_id.clone(),
        cohost: true,
    });
    let promoted = until(&mut guest, |m| {
        matches!(m, ServerMessage::ParticipantUpdated { .. })
    })
    .await;
    assert!(
        matches!(promoted, ServerMessage::ParticipantUpdated { participant } if participant.role == Role::Cohost)
    );
    guest_link.host(ClientMessage::Mute {
        participant_id: owner.participant_id.clone(),
        video: false,
    });
    assert!(matches!(
        until(&mut guest, |m| matches!(m, ServerMessage::Error { .. })).await,
        ServerMessage::Error {
            code: ErrorCode::NotAllowed,
            ..
        }
    ));
    guest_link.host(ClientMessage::Mute {
        participant_id: target.clone(),
        video: false,
    });
    let muted = until(&mut other, |m| matches!(m, ServerMessage::Muted { .. })).await;
    assert!(
        matches!(muted, ServerMessage::Muted { ref by, media } if by == "Guest" && !media.audio && media.video),
        "{muted:?}"
    );
    // Unknown targets are not_found.
    owner_link.host(ClientMessage::Remove {
        participant_id: "nobody".into(),
    });
    assert!(matches!(
        until(&mut owner, |m| matches!(m, ServerMessage::Error { .. })).await,
        ServerMessage::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));
}

#[tokio::test]
async fn panic_mutes_guests_and_keeps_them_muted_until_released() {
    let (hub, store, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let (mut guest, guest_link) = enter(&hub, &room, request("Guest", Role::Guest, 2)).await;
    owner_link.host(ClientMessage::SetPanic { active: true });
    let muted = until(&mut guest, |m| matches!(m, ServerMessage::Muted { .. })).await;
    assert!(matches!(muted, ServerMessage::Muted { media, .. } if !media.audio && !media.video));
    let updated = until(&mut guest, |m| {
        matches!(m, ServerMessage::RoomUpdated { .. })
    })
    .await;
    assert!(matches!(updated, ServerMessage::RoomUpdated { room } if room.panic && room.locked));
    assert!(store.room_now(&room.id).expect("db").expect("room").locked);
    guest_link.set_media(MediaState::default());
    let refused = until(&mut guest, |m| matches!(m, ServerMessage::Error { .. })).await;
    assert!(matches!(
        refused,
        ServerMessage::Error {
            code: ErrorCode::NotAllowed,
            ..
        }
    ));
    owner_link.host(ClientMessage::SetPanic { active: false });
    let _ = until(
        &mut guest,
        |m| matches!(m, ServerMessage::RoomUpdated { room } if !room.panic),
    )
    .await;
    guest_link.set_media(MediaState::default());
    let back = until(&mut owner, |m| matches!(m, ServerMessage::ParticipantUpdated { participant } if participant.media.audio && participant.role == Role::Guest)).await;
    assert!(matches!(back, ServerMessage::ParticipantUpdated { .. }));
}

#[tokio::test]
async fn a_rotated_link_reaches_everyone_inside_and_is_stored() {
    let (hub, store, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let (mut guest, _g) = enter(&hub, &room, request("Guest", Role::Guest, 2)).await;
    owner_link.host(ClientMessage::RotateLink { e2ee: false });
    let new_id = match until(&mut guest, |m| {
        matches!(m, ServerMessage::RoomUpdated { .. })
    })
    .await
    {
        ServerMessage::RoomUpdated { room: info } => info.id,
        _ => unreachable!(),
    };
    assert_ne!(new_id, room.link);
    salon_protocol::validate_room_id(&new_id).expect("a room id");
    let _ = until(&mut owner, |m| {
        matches!(m, ServerMessage::RoomUpdated { .. })
    })
    .await;
    assert!(store.room_by_link(&room.link).await.expect("db").is_none());
    assert_eq!(
        store
            .room_by_link(&new_id)
            .await
            .expect("db")
            .expect("room")
            .id,
        room.id
    );
}

#[tokio::test]
async fn ending_the_call_sends_everyone_away_but_keeps_the_room() {
    let (hub, store, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let (mut guest, _g) = enter(&hub, &room, request("Guest", Role::Guest, 2)).await;
    owner_link.host(ClientMessage::SetLocked { locked: true });
    let mut waiting = knock(&hub, &room, request("Late", Role::Guest, 3)).await;
    owner_link.host(ClientMessage::EndRoom);
    for joined in [&mut owner, &mut guest] {
        let ended = until(joined, is_error(ErrorCode::RoomEnded)).await;
        assert!(
            matches!(ended, ServerMessage::Error { message, .. } if message.contains("Owner ended"))
        );
    }
    assert!(matches!(waiting.answer().await, Err(JoinError::Ended)));
    for _ in 0..100 {
        if hub.live_rooms() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hub.live_rooms(), 0);
    let stored = store.room_now(&room.id).expect("db").expect("room stays");
    assert!(stored.locked, "the lock outlives the call");
}

#[tokio::test]
async fn someone_sharing_an_address_with_a_removed_person_can_still_reconnect() {
    let (hub, _, room) = setup().await;
    let (_owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let household =
        |device: &str| Identity::new("room-key", Some(device), IpAddr::from([203, 0, 113, 5]));
    let sibling = JoinRequest {
        identity: household("sibling-device-0001"),
        ..request("Sibling", Role::Guest, 0)
    };
    let (mut kept, _kept_link) = enter(&hub, &room, sibling.clone()).await;
    let troll = JoinRequest {
        identity: household("troll-device-00001"),
        ..request("Troll", Role::Guest, 0)
    };
    let (troll, _troll_link) = enter(&hub, &room, troll).await;
    owner_link.host(ClientMessage::Remove {
        participant_id: troll.participant_id.clone(),
    });
    let _ = until(&mut kept, |m| {
        matches!(m, ServerMessage::ParticipantLeft { .. })
    })
    .await;
    // The sibling's connection drops and comes back with its resume token: still in.
    let mut again = sibling;
    again.resume = Some(Resume {
        participant_id: kept.participant_id.clone(),
        token: kept.resume_token.clone(),
    });
    let (back, _) = enter(&hub, &room, again).await;
    assert!(back.resumed);
}

#[tokio::test]
async fn bans_and_the_lock_are_read_back_when_the_room_comes_alive_again() {
    let (hub, store, room) = setup().await;
    let ban = crate::store::StoredBan {
        id: "b1".into(),
        name: "Troll".into(),
        device_key: person(2).device,
        address_key: Some(person(2).address),
        at: 1,
    };
    store.insert_ban_now(&room.id, &ban).expect("ban");
    store.set_locked_now(&room.id, true).expect("lock");
    // `room` was read before the lock: the actor re-reads it.
    assert!(!room.locked);
    assert!(matches!(
        hub.join(&room, request("Troll", Role::Guest, 2)).await,
        Err(JoinError::Banned)
    ));
    let _waiting = knock(&hub, &room, request("Friend", Role::Guest, 3)).await;
}

#[tokio::test]
async fn a_knocker_who_leaves_as_they_are_admitted_leaves_no_ghost() {
    let (hub, _, room) = setup().await;
    let (mut owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    owner_link.host(ClientMessage::SetLocked { locked: true });
    let waiting = knock(&hub, &room, request("Flaky", Role::Guest, 2)).await;
    let knock_id = waiting.knock_id.clone();
    owner_link.host(ClientMessage::Admit { knock_id });
    // Admitted (the owner hears of it), but the knocker's socket is gone before it reads that.
    let _ = until(&mut owner, |m| {
        matches!(m, ServerMessage::ParticipantJoined { .. })
    })
    .await;
    drop(waiting);
    let _ = until(&mut owner, |m| {
        matches!(m, ServerMessage::ParticipantLeft { .. })
    })
    .await;
    assert_eq!(hub.participant_count(&room.id), 1);
}

#[tokio::test]
async fn a_guest_let_in_during_panic_comes_in_muted() {
    let (hub, _, room) = setup().await;
    let (_owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    owner_link.host(ClientMessage::SetPanic { active: true });
    let mut waiting = knock(&hub, &room, request("Late", Role::Guest, 2)).await;
    owner_link.host(ClientMessage::Admit {
        knock_id: waiting.knock_id.clone(),
    });
    let (mut late, late_link) = waiting.answer().await.expect("admitted");
    assert!(late.room.panic);
    let muted = until(&mut late, |m| matches!(m, ServerMessage::Muted { .. })).await;
    assert!(matches!(muted, ServerMessage::Muted { media, .. } if !media.audio && !media.video));
    late_link.set_media(MediaState::default());
    let refused = until(&mut late, |m| matches!(m, ServerMessage::Error { .. })).await;
    assert!(matches!(
        refused,
        ServerMessage::Error {
            code: ErrorCode::NotAllowed,
            fatal: false,
            ..
        }
    ));
}

#[tokio::test]
async fn a_removal_bans_the_network_someone_resumed_from() {
    let (hub, _, room) = setup().await;
    let (_owner, owner_link) = enter(&hub, &room, request("Owner", Role::Owner, 1)).await;
    let (moved, _old) = enter(&hub, &room, request("Mover", Role::Guest, 2)).await;
    // Back from mobile data: same device, new address.
    let mut again = JoinRequest {
        identity: Identity::new("room-key", None, IpAddr::from([198, 51, 100, 77])),
        ..request("Mover", Role::Guest, 2)
    };
    again.resume = Some(Resume {
        participant_id: moved.participant_id.clone(),
        token: moved.resume_token.clone(),
    });
    let (back, _link) = enter(&hub, &room, again).await;
    assert!(back.resumed);
    owner_link.host(ClientMessage::Remove {
        participant_id: back.participant_id.clone(),
    });
    // The new address is banned (a stranger from it is refused) …
    let from_new_address = JoinRequest {
        identity: Identity::new(
            "room-key",
            Some("stranger-device-01"),
            IpAddr::from([198, 51, 100, 77]),
        ),
        ..request("Stranger", Role::Guest, 0)
    };
    // The room handles commands in order, so the removal is done before this join.
    assert!(
        matches!(
            hub.join(&room, from_new_address).await,
            Err(JoinError::Banned)
        ),
        "the address the removed person resumed from is not banned"
    );
}
