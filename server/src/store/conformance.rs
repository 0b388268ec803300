//! What every backend must do alike: each check takes a [`Store`] and is run on SQLite here
//! and on Redis in `redis_tests`, so the two give the same answers.

use super::*;

pub(super) fn room(id: &str) -> StoredRoom {
    StoredRoom {
        id: id.into(),
        link: format!("link-{id}"),
        name: Some("Friday".into()),
        host_key_hash: vec![1, 2, 3],
        created_at: 1_700_000_000,
        locked: false,
        e2ee: false,
    }
}

pub(super) fn message(body: &str) -> StoredChat {
    StoredChat {
        seq: 0,
        at: 1,
        sender: "p1".into(),
        name: "Ada".into(),
        sealed: false,
        body: body.into(),
    }
}

pub(super) async fn rooms_and_links(store: &Store) {
    store.insert_room(room("r1")).await.expect("insert");
    assert_eq!(
        store.room_by_link("link-r1").await.expect("query"),
        Some(room("r1"))
    );
    assert_eq!(store.room_now("r1").expect("query"), Some(room("r1")));
    assert_eq!(store.room_by_link("nope").await.expect("query"), None);
    assert_eq!(store.room_now("nope").expect("query"), None);
    assert!(store.insert_room(room("r1")).await.is_err(), "same id");
    let same_link = StoredRoom {
        link: "link-r1".into(),
        ..room("r2")
    };
    assert!(store.insert_room(same_link).await.is_err(), "same link");
    assert_eq!(
        store.room_now("r2").expect("query"),
        None,
        "nothing written"
    );
    let unnamed = StoredRoom {
        name: None,
        e2ee: true,
        ..room("r3")
    };
    store.insert_room(unnamed.clone()).await.expect("insert");
    assert_eq!(store.room_now("r3").expect("query"), Some(unnamed));
    assert_eq!(
        store.all_room_ids().await.expect("list"),
        ["r1".to_owned(), "r3".to_owned()]
    );
}

pub(super) async fn rotation_and_lock(store: &Store) {
    store.insert_room(room("r1")).await.expect("insert");
    store.insert_room(room("r2")).await.expect("insert");
    store.claim_for_test("r1");
    store.set_locked_now("r1", true).expect("lock");
    store.set_link_now("r1", "fresh", false).expect("rotate");
    assert_eq!(store.room_by_link("link-r1").await.expect("query"), None);
    assert_eq!(
        store.presence_by_link("link-r1").await.expect("query"),
        None
    );
    let r = store
        .room_by_link("fresh")
        .await
        .expect("query")
        .expect("room");
    assert!(r.locked);
    assert_eq!(r.id, "r1");
    assert!(!r.e2ee);
    assert_eq!(store.room_now("r1").expect("query"), Some(r));
    // A rotation that asks for encryption turns it on; a later plain one keeps it.
    store.set_link_now("r1", "fresher", true).expect("rotate");
    assert!(store.room_now("r1").expect("read").expect("row").e2ee);
    store.set_link_now("r1", "freshest", false).expect("rotate");
    assert!(store.room_now("r1").expect("read").expect("row").e2ee);
    assert_eq!(store.room_by_link("fresh").await.expect("query"), None);
    assert_eq!(store.room_by_link("fresher").await.expect("query"), None);
    // Another room's link is not taken over.
    assert!(store.set_link_now("r1", "link-r2", false).is_err());
    assert_eq!(
        store
            .room_by_link("link-r2")
            .await
            .expect("query")
            .map(|r| r.id),
        Some("r2".into())
    );
    assert_eq!(
        store
            .room_by_link("freshest")
            .await
            .expect("query")
            .map(|r| r.id),
        Some("r1".into())
    );
    store.set_locked_now("r1", false).expect("unlock");
    assert!(!store.room_now("r1").expect("read").expect("row").locked);
    // Changes to a room that does not exist change nothing.
    store.claim_for_test("nope");
    store
        .set_locked_now("nope", true)
        .expect("no room, no error");
    store.set_link_now("nope", "other", false).expect("no room");
    assert_eq!(store.room_now("nope").expect("query"), None);
    assert_eq!(store.room_by_link("other").await.expect("query"), None);
}

pub(super) async fn door_and_presence_key(store: &Store) {
    store.insert_room(room("r1")).await.expect("insert");
    store.claim_for_test("r1");
    let fresh = store
        .presence_by_link("link-r1")
        .await
        .expect("query")
        .expect("room");
    assert_eq!(fresh.door, Door::default());
    assert_eq!((fresh.epoch, fresh.key_hash), (0, None));
    let door = Door {
        mode: DoorMode::Open,
        until: Some(1_900_000_000),
        show_names: true,
    };
    store.set_door("r1", door).await.expect("door");
    store
        .set_presence_key("r1", 3, vec![4; 32])
        .await
        .expect("key");
    let p = store.presence_of("r1").await.expect("query").expect("room");
    assert_eq!(p.door, door);
    assert_eq!((p.epoch, p.key_hash.as_deref()), (3, Some(&[4u8; 32][..])));
    let closed = Door {
        mode: DoorMode::Closed,
        until: None,
        show_names: false,
    };
    store.set_door("r1", closed).await.expect("door");
    assert_eq!(
        store.presence_of("r1").await.expect("q").expect("r").door,
        closed
    );
    store.set_door("r1", door).await.expect("door");
    store.set_link_now("r1", "fresh", false).expect("rotate");
    let p = store
        .presence_by_link("fresh")
        .await
        .expect("query")
        .expect("room");
    assert_eq!(p.key_hash, None, "a new link revokes the presence key");
    assert_eq!(p.epoch, 3);
    assert_eq!(p.door, door, "the door stays");
    // The owner's settings of a room that does not exist change nothing.
    store.set_door("nope", door).await.expect("no room");
    store
        .set_presence_key("nope", 1, vec![1])
        .await
        .expect("no room");
    assert_eq!(store.presence_of("nope").await.expect("query"), None);
    assert_eq!(store.room_now("nope").expect("query"), None);
}

pub(super) async fn bans(store: &Store) {
    store.insert_room(room("r1")).await.expect("insert");
    store.insert_room(room("r2")).await.expect("insert");
    store.claim_for_test("r1");
    let ban = |id: &str, at: i64| StoredBan {
        id: id.into(),
        name: "Troll".into(),
        device_key: Some(vec![7; 32]),
        address_key: (at % 2 == 1).then(|| vec![9; 32]),
        at,
    };
    store.insert_ban_now("r1", &ban("b1", 5)).expect("ban");
    assert!(
        store.bans_now("r2").expect("list").is_empty(),
        "another room"
    );
    assert_eq!(store.bans_now("r1").expect("list"), vec![ban("b1", 5)]);
    assert!(
        store.insert_ban_now("r1", &ban("b1", 6)).is_err(),
        "same id"
    );
    // Oldest first, then in the order they were made.
    store.insert_ban_now("r1", &ban("b3", 8)).expect("ban");
    store.insert_ban_now("r1", &ban("b2", 4)).expect("ban");
    store.insert_ban_now("r1", &ban("b0", 5)).expect("ban");
    let ids = |bans: Vec<StoredBan>| bans.into_iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.bans_now("r1").expect("list")),
        ["b2", "b1", "b0", "b3"]
    );
    assert!(store.delete_ban_now("r1", "b1").expect("unban"));
    assert!(!store.delete_ban_now("r1", "b1").expect("unban twice"));
    assert_eq!(ids(store.bans_now("r1").expect("list")), ["b2", "b0", "b3"]);
    store.claim_for_test("nope");
    assert!(
        store.insert_ban_now("nope", &ban("b1", 1)).is_err(),
        "no room"
    );
    assert!(store.bans_now("nope").expect("list").is_empty());
}

/// Chat kept for its readers and the owner, cleared, and trimmed to [`CHAT_KEPT`].
pub(super) async fn chat(store: &Store) {
    store.insert_room(room("R1")).await.expect("insert");
    store.insert_room(room("R2")).await.expect("insert");
    store.claim_for_test("R1");
    store.claim_for_test("R2");
    let (ada, bo) = (vec![1u8; 32], vec![2u8; 32]);
    let first = store
        .insert_chat_now("R1", message("one"), &[ada.clone(), bo.clone()])
        .expect("one");
    let second = store
        .insert_chat_now("R1", message("two"), std::slice::from_ref(&ada))
        .expect("two");
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(first.body, "one");
    let bodies = |v: Vec<StoredChat>| v.into_iter().map(|m| m.body).collect::<Vec<_>>();
    assert_eq!(
        store.chat_for_now("R1", Some(&ada), false).unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        bodies(store.chat_for_now("R1", Some(&bo), false).unwrap()),
        ["one"]
    );
    assert!(
        store
            .chat_for_now("R1", Some(&[9u8; 32]), false)
            .unwrap()
            .is_empty()
    );
    assert!(store.chat_for_now("R1", None, false).unwrap().is_empty());
    assert_eq!(
        bodies(store.chat_for_now("R1", None, true).unwrap()),
        ["one", "two"]
    );
    assert!(
        store
            .chat_for_now("R2", Some(&ada), false)
            .unwrap()
            .is_empty()
    );
    store.clear_chat_now("R1").expect("clear");
    assert!(store.chat_for_now("R1", None, true).unwrap().is_empty());
    assert!(
        store
            .chat_for_now("R1", Some(&ada), false)
            .unwrap()
            .is_empty()
    );
    // Numbering goes on after a clear.
    let third = store
        .insert_chat_now("R1", message("three"), &[])
        .expect("three");
    assert_eq!(third.seq, 3);
    let dump = store.dump_room("R1").await.expect("dump").expect("room");
    assert_eq!(dump.chat_seq, 3);
    assert_eq!(
        dump.chat,
        vec![DumpedChat {
            message: third,
            readers: Vec::new()
        }]
    );
    // A room keeps its newest CHAT_KEPT messages; readers of dropped ones go with them.
    for i in 0..CHAT_KEPT + 5 {
        store
            .insert_chat_now("R2", message(&format!("m{i}")), std::slice::from_ref(&ada))
            .expect("insert");
    }
    let all = store.chat_for_now("R2", Some(&ada), false).unwrap();
    assert_eq!(all.len(), CHAT_SHOWN);
    assert_eq!(all.last().unwrap().body, format!("m{}", CHAT_KEPT + 4));
    assert_eq!(all.last().unwrap().seq, (CHAT_KEPT + 5) as u64);
    let everything = store.chat_for_now("R2", None, true).unwrap();
    assert_eq!(everything.len(), CHAT_SHOWN);
    assert_eq!(
        everything.first().unwrap().body,
        format!("m{}", CHAT_KEPT + 5 - CHAT_SHOWN)
    );
    let dump = store.dump_room("R2").await.expect("dump").expect("room");
    assert_eq!(dump.chat.len(), CHAT_KEPT);
    assert_eq!(dump.chat.first().unwrap().message.seq, 6);
    let readers: usize = dump.chat.iter().map(|m| m.readers.len()).sum();
    assert_eq!(readers, CHAT_KEPT);
    // No room, no message.
    store.claim_for_test("nope");
    assert!(store.insert_chat_now("nope", message("x"), &[]).is_err());
}

/// A dump stored elsewhere reads back the same; a taken id or link is refused.
pub(super) async fn dumps(store: &Store) {
    store.insert_room(room("r1")).await.expect("insert");
    store.claim_for_test("r1");
    store.set_locked_now("r1", true).expect("lock");
    store
        .set_presence_key("r1", 2, vec![5; 32])
        .await
        .expect("key");
    store
        .insert_ban_now(
            "r1",
            &StoredBan {
                id: "b1".into(),
                name: "Troll".into(),
                device_key: None,
                address_key: Some(vec![3; 32]),
                at: 9,
            },
        )
        .expect("ban");
    store
        .insert_chat_now("r1", message("hi"), &[vec![2; 32], vec![1; 32]])
        .expect("chat");
    let dump = store.dump_room("r1").await.expect("dump").expect("room");
    assert_eq!(dump.chat[0].readers, [vec![1; 32], vec![2; 32]], "sorted");
    assert!(store.dump_room("nope").await.expect("dump").is_none());
    let copy = RoomDump {
        room: StoredRoom {
            id: "r2".into(),
            link: "link-r2".into(),
            ..dump.room.clone()
        },
        ..dump.clone()
    };
    store.insert_dump(copy.clone()).await.expect("insert dump");
    assert_eq!(
        store.dump_room("r2").await.expect("dump"),
        Some(copy.clone())
    );
    // The copy goes on numbering its chat and its bans where the original left off.
    store.claim_for_test("r2");
    let next = store
        .insert_chat_now("r2", message("next"), &[])
        .expect("chat");
    assert_eq!(next.seq, 2);
    assert!(
        store.insert_ban_now("r2", &copy.bans[0]).is_err(),
        "the ban id is taken in the copy too"
    );
    let taken_id = RoomDump {
        room: StoredRoom {
            link: "link-r3".into(),
            ..copy.room.clone()
        },
        ..copy.clone()
    };
    let err = store.insert_dump(taken_id).await.expect_err("taken id");
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
    let taken_link = RoomDump {
        room: StoredRoom {
            id: "r3".into(),
            ..copy.room.clone()
        },
        ..copy
    };
    let err = store.insert_dump(taken_link).await.expect_err("taken link");
    assert!(matches!(err, StoreError::Refused(_)), "{err}");
    assert!(store.dump_room("r3").await.expect("dump").is_none());
}

mod on_sqlite {
    use super::*;

    fn store() -> Store {
        Store::in_memory().expect("open")
    }

    #[tokio::test]
    async fn rooms_and_links() {
        super::rooms_and_links(&store()).await;
    }

    #[tokio::test]
    async fn rotation_and_lock() {
        super::rotation_and_lock(&store()).await;
    }

    #[tokio::test]
    async fn door_and_presence_key() {
        super::door_and_presence_key(&store()).await;
    }

    #[tokio::test]
    async fn bans() {
        super::bans(&store()).await;
    }

    #[tokio::test]
    async fn chat() {
        super::chat(&store()).await;
    }

    #[tokio::test]
    async fn dumps() {
        super::dumps(&store()).await;
    }

    #[tokio::test]
    async fn fencing_is_a_no_op() {
        let store = store();
        store.insert_room(room("r1")).await.expect("insert");
        store.release_lease("r1");
        store
            .set_locked_now("r1", true)
            .expect("one node: nothing to fence");
        store.hold_lease("r1", "n:1".into());
        assert!(!store.is_redis());
        store.ping().await.expect("ping");
    }
}
