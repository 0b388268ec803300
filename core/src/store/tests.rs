use super::*;

const ID1: &str = "AAAAAAAAAAAAAAAAAAAAAA";
const ID2: &str = "BBBBBBBBBBBBBBBBBBBBBB";
const ID3: &str = "CCCCCCCCCCCCCCCCCCCCCC";
const NOW: i64 = 1_795_711_200;

fn store() -> LocalStore {
    LocalStore::in_memory().unwrap()
}

fn room_link(id: &str) -> String {
    format!("https://salon.example.org/r/{id}")
}

fn my_room(id: &str, created_at: i64) -> MyRoom {
    MyRoom {
        id: id.into(),
        link: room_link(id),
        host_key: "2yW-secret_key".into(),
        name: Some("Friday".into()),
        created_at,
    }
}

#[test]
fn my_rooms_are_saved_listed_newest_first_and_forgotten() {
    let s = store();
    s.save_my_room(&my_room(ID1, 10)).unwrap();
    s.save_my_room(&my_room(ID2, 30)).unwrap();
    s.save_my_room(&my_room(ID3, 20)).unwrap();
    let ids: Vec<String> = s.my_rooms().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, [ID2, ID3, ID1]);

    assert_eq!(s.my_room(ID1).unwrap(), my_room(ID1, 10));
    assert!(s.forget_my_room(ID1).unwrap());
    assert!(!s.forget_my_room(ID1).unwrap());
    assert!(matches!(s.my_room(ID1), Err(StoreError::NotFound)));
    assert_eq!(s.my_rooms().unwrap().len(), 2);
}

#[test]
fn saving_a_room_again_updates_it_and_cleans_it() {
    let s = store();
    s.save_my_room(&my_room(ID1, 10)).unwrap();
    let mut changed = my_room(ID1, 10);
    changed.link = format!("HTTPS://Salon.Example.org:443/r/{ID1}/");
    changed.name = Some("   ".into());
    let saved = s.save_my_room(&changed).unwrap();
    assert_eq!(saved.link, room_link(ID1));
    assert_eq!(saved.name, None);
    assert_eq!(s.my_room(ID1).unwrap(), saved);
    assert_eq!(s.my_rooms().unwrap().len(), 1);
}

#[test]
fn bad_rooms_are_refused() {
    let s = store();
    let mut wrong_id = my_room(ID1, 1);
    wrong_id.link = room_link(ID2);
    assert!(matches!(
        s.save_my_room(&wrong_id),
        Err(StoreError::InvalidLink(_))
    ));

    let mut bad_link = my_room(ID1, 1);
    bad_link.link = "ftp://x".into();
    assert!(matches!(
        s.save_my_room(&bad_link),
        Err(StoreError::InvalidLink(_))
    ));

    for key in ["", "has space", "ключ", &"k".repeat(MAX_HOST_KEY_BYTES + 1)] {
        let mut bad_key = my_room(ID1, 1);
        bad_key.host_key = key.into();
        assert!(
            matches!(s.save_my_room(&bad_key), Err(StoreError::InvalidHostKey(_))),
            "{key:?}"
        );
    }

    let mut bad_name = my_room(ID1, 1);
    bad_name.name = Some("x".repeat(65));
    assert!(matches!(
        s.save_my_room(&bad_name),
        Err(StoreError::InvalidName(_))
    ));
    assert!(s.my_rooms().unwrap().is_empty());
}

#[test]
fn debug_output_hides_the_host_key() {
    let text = format!("{:?}", my_room(ID1, 1));
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains(ID1), "{text}");
}

#[test]
fn friends_are_added_with_clean_names_and_canonical_links() {
    let s = store();
    let ann = s
        .add_friend(
            "  Ann  ",
            &format!("HTTPS://Salon.Example.org/r/{ID1}/?x=1"),
            "",
            NOW,
        )
        .unwrap();
    assert_eq!(
        ann,
        Friend {
            id: ann.id,
            name: "Ann".into(),
            room_link: room_link(ID1),
            added_at: NOW,
            notes: String::new(),
            presence_key: None,
            notify: false,
        }
    );
    assert_eq!(s.friend(ann.id).unwrap(), ann);
    assert_eq!(
        s.friend_by_link(&format!("salon.example.org/r/{ID1}"))
            .unwrap(),
        Some(ann)
    );
    assert_eq!(s.friend_by_link(&room_link(ID2)).unwrap(), None);
}

#[test]
fn the_same_room_cannot_be_added_twice() {
    let s = store();
    s.add_friend("Ann", &room_link(ID1), "", NOW).unwrap();
    let again = s.add_friend(
        "Annie",
        &format!("https://SALON.example.org:443/r/{ID1}/"),
        "",
        NOW,
    );
    assert!(
        matches!(again, Err(StoreError::DuplicateFriend)),
        "{again:?}"
    );
    assert_eq!(s.friends().unwrap().len(), 1);
    // Another room on the same server is another friend.
    s.add_friend("Ann", &room_link(ID2), "", NOW).unwrap();
}

#[test]
fn bad_friends_are_refused() {
    let s = store();
    for name in ["", "   ", "bell\u{7}", &"x".repeat(65)] {
        let err = s.add_friend(name, &room_link(ID1), "", NOW).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidName(_)),
            "{name:?}: {err:?}"
        );
    }
    for link in ["", "https://example.org/r/short", "salon:friend?v=1"] {
        let err = s.add_friend("Ann", link, "", NOW).unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidLink(_)),
            "{link:?}: {err:?}"
        );
    }
    let long = "n".repeat(MAX_NOTES_CHARS + 1);
    assert!(matches!(
        s.add_friend("Ann", &room_link(ID1), &long, NOW),
        Err(StoreError::InvalidNotes(_))
    ));
    assert!(s.friends().unwrap().is_empty());
}

#[test]
fn friends_come_from_cards() {
    let s = store();
    let card = FriendCard::new("Zoë Lee", InviteLink::parse(&room_link(ID1)).unwrap()).unwrap();
    let zoe = s.add_friend_from_card(&card.to_link(), NOW).unwrap();
    assert_eq!(
        (zoe.name.as_str(), zoe.room_link.as_str()),
        ("Zoë Lee", room_link(ID1).as_str())
    );
    assert!(matches!(
        s.add_friend_from_card(&card.to_link(), NOW + 1),
        Err(StoreError::DuplicateFriend)
    ));

    let newer = format!("salon:friend?v=2&name=A&room={}", room_link(ID2));
    let err = s.add_friend_from_card(&newer, NOW).unwrap_err();
    assert!(matches!(err, StoreError::InvalidLink(_)), "{err:?}");
    assert!(err.to_string().contains("made by a newer Salon"), "{err}");

    let nameless = format!("salon:friend?v=1&name=%20&room={}", room_link(ID2));
    assert!(matches!(
        s.add_friend_from_card(&nameless, NOW),
        Err(StoreError::InvalidName(_))
    ));
}

#[test]
fn friends_are_renamed_annotated_and_removed() {
    let s = store();
    let ann = s.add_friend("Ann", &room_link(ID1), "", NOW).unwrap();
    s.rename_friend(ann.id, " Annie ").unwrap();
    s.set_friend_notes(ann.id, "Tuesdays\n\tafter 8 🎉")
        .unwrap();
    let now = s.friend(ann.id).unwrap();
    assert_eq!(now.name, "Annie");
    assert_eq!(now.notes, "Tuesdays\n\tafter 8 🎉");

    assert!(matches!(
        s.rename_friend(ann.id, ""),
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        s.set_friend_notes(ann.id, "nul\u{0}"),
        Err(StoreError::InvalidNotes(_))
    ));
    s.set_friend_notes(ann.id, &"é".repeat(MAX_NOTES_CHARS))
        .unwrap();
    assert!(matches!(
        s.set_friend_notes(ann.id, &"é".repeat(MAX_NOTES_CHARS + 1)),
        Err(StoreError::InvalidNotes(_))
    ));

    assert!(s.remove_friend(ann.id).unwrap());
    assert!(!s.remove_friend(ann.id).unwrap());
    // The room can be added again once its friend is gone, under a fresh id.
    let back = s.add_friend("Ann", &room_link(ID1), "", NOW).unwrap();
    assert_ne!(back.id, ann.id);
}

#[test]
fn unknown_ids_are_not_found() {
    let s = store();
    for result in [
        s.friend(42).map(drop),
        s.rename_friend(42, "Ann"),
        s.set_friend_notes(42, "hi"),
        s.friend(-1).map(drop),
        s.my_room("nope").map(drop),
    ] {
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    }
    assert!(!s.remove_friend(i64::MAX).unwrap());
}

#[test]
fn friends_are_sorted_by_name_ignoring_case() {
    let s = store();
    for (name, id) in [("bob", ID1), ("Émile", ID2), ("alice", ID3)] {
        s.add_friend(name, &room_link(id), "", NOW).unwrap();
    }
    s.add_friend(
        "Ålex",
        "http://127.0.0.1:8080/r/DDDDDDDDDDDDDDDDDDDDDD",
        "",
        NOW,
    )
    .unwrap();
    s.add_friend(
        "Bob",
        "http://127.0.0.1:8080/r/EEEEEEEEEEEEEEEEEEEEEE",
        "",
        NOW,
    )
    .unwrap();
    let names: Vec<String> = s.friends().unwrap().into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["alice", "bob", "Bob", "Ålex", "Émile"]);
}

#[test]
fn a_reopened_file_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("deeper").join("salon.db");
    {
        let s = LocalStore::open(&path).unwrap();
        s.save_my_room(&my_room(ID1, 10)).unwrap();
        let ann = s.add_friend("Ann", &room_link(ID2), "", NOW).unwrap();
        s.set_friend_notes(ann.id, "hi").unwrap();
    }
    let s = LocalStore::open(&path).unwrap();
    assert_eq!(s.my_rooms().unwrap(), vec![my_room(ID1, 10)]);
    let friends = s.friends().unwrap();
    assert_eq!(friends.len(), 1);
    assert_eq!(
        (friends[0].name.as_str(), friends[0].notes.as_str()),
        ("Ann", "hi")
    );
    let mode: String = s
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = s
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn opening_bad_files_gives_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not sqlite ".repeat(200)).unwrap();
    assert!(matches!(
        LocalStore::open(&junk),
        Err(StoreError::Corrupt(_))
    ));

    let newer = dir.path().join("newer.db");
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = LocalStore::open(&newer).err().unwrap();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");

    // A folder where the file should be, and a file where a folder should be.
    assert!(LocalStore::open(dir.path()).is_err());
    let blocked = junk.join("salon.db");
    assert!(matches!(LocalStore::open(&blocked), Err(StoreError::Io(_))));
}

#[test]
fn the_device_id_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("salon.db");
    let first = LocalStore::open(&path).unwrap().device_id().unwrap();
    assert_eq!(first.len(), 22);
    assert!(
        salon_protocol::validate_device_id(&first).is_ok(),
        "{first}"
    );
    let again = LocalStore::open(&path).unwrap();
    assert_eq!(again.device_id().unwrap(), first);
    assert_eq!(again.device_id().unwrap(), first);
    // Another installation has another id.
    assert_ne!(store().device_id().unwrap(), first);
}

#[test]
fn a_rotated_link_follows_my_room() {
    let s = store();
    s.save_my_room(&my_room(ID1, 10)).unwrap();
    assert!(s.relink_my_room(ID1, &room_link(ID2)).unwrap());
    let room = s.my_room(ID2).unwrap();
    assert_eq!(room.link, room_link(ID2));
    assert_eq!(room.host_key, my_room(ID1, 10).host_key);
    assert!(matches!(s.my_room(ID1), Err(StoreError::NotFound)));
    // Not one of mine: nothing to do.
    assert!(!s.relink_my_room(ID3, &room_link(ID1)).unwrap());
    // Another server is not the same room.
    assert!(matches!(
        s.relink_my_room(ID2, &format!("https://elsewhere.example/r/{ID3}")),
        Err(StoreError::InvalidLink(_))
    ));
    assert!(s.my_room(ID2).is_ok());
}

#[test]
fn cards_bring_presence_keys_and_a_new_card_replaces_the_key() {
    let s = store();
    let room = InviteLink::parse(&room_link(ID1)).unwrap();
    let plain = FriendCard::new("Zoë", room.clone()).unwrap();
    let k1 = "a".repeat(43);
    let k2 = "b".repeat(43);
    let with_key = plain.clone().with_presence(&k1).unwrap();
    let zoe = s.add_friend_from_card(&with_key.to_link(), NOW).unwrap();
    assert_eq!(zoe.presence_key.as_deref(), Some(k1.as_str()));
    assert!(!zoe.notify);
    assert!(matches!(
        s.add_friend_from_card(&with_key.to_link(), NOW),
        Err(StoreError::DuplicateFriend)
    ));
    assert!(matches!(
        s.add_friend_from_card(&plain.to_link(), NOW),
        Err(StoreError::DuplicateFriend)
    ));
    let rotated = plain.with_presence(&k2).unwrap();
    let again = s.add_friend_from_card(&rotated.to_link(), NOW).unwrap();
    assert_eq!(again.id, zoe.id);
    assert_eq!(again.presence_key.as_deref(), Some(k2.as_str()));
    s.set_friend_notify(zoe.id, true).unwrap();
    assert!(s.friend(zoe.id).unwrap().notify);
    assert!(s.set_friend_presence_key(zoe.id, Some("bad")).is_err());
    s.set_friend_presence_key(zoe.id, None).unwrap();
    assert_eq!(s.friend(zoe.id).unwrap().presence_key, None);
    assert!(matches!(
        s.set_friend_notify(9999, true),
        Err(StoreError::NotFound)
    ));
}
