//! Drop-in presence between two real core clients and a real server: each holds the other's
//! friend card, sees the other's door and who is inside change within a second, gets "door
//! opened" once however the door flaps, drops in with one call, and loses sight of the room
//! when the owner rotates the presence key.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use salon_core::{CallConfig, Client, DoorMode, FriendPresence, PresenceListener, WatchOptions};

#[derive(Default)]
struct Seen {
    latest: Mutex<Vec<FriendPresence>>,
    opened: Mutex<Vec<String>>,
}

impl PresenceListener for Seen {
    fn on_presence(&self, friends: Vec<FriendPresence>) {
        *self.latest.lock().unwrap() = friends;
    }
    fn on_door_opened(&self, friend: FriendPresence) {
        self.opened.lock().unwrap().push(friend.friend.name);
    }
}

impl Seen {
    fn of(&self, name: &str) -> Option<FriendPresence> {
        self.latest
            .lock()
            .unwrap()
            .iter()
            .find(|p| p.friend.name == name)
            .cloned()
    }

    /// Waits until `name`'s presence satisfies `f`; how long it took.
    async fn until(&self, name: &str, f: impl Fn(&FriendPresence) -> bool) -> Duration {
        let start = Instant::now();
        let ok = common::wait_for(Duration::from_secs(10), || {
            self.of(name).is_some_and(|p| f(&p))
        })
        .await;
        assert!(ok, "{name}: last seen {:?}", self.of(name));
        start.elapsed()
    }
}

fn quiet(name: &str) -> CallConfig {
    let mut config = CallConfig::new(name.to_owned());
    config.audio_on = false;
    config.video_on = false;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn friends_see_doors_and_people_live_drop_in_and_lose_a_revoked_card() {
    let (server, _dir) = common::server().await;
    let ada = Client::in_memory().unwrap();
    let bo = Client::in_memory().unwrap();
    let ada_room = ada.create_room(&server.url(), Some("Ada's")).await.unwrap();
    let bo_room = bo.create_room(&server.url(), Some("Bo's")).await.unwrap();

    // They swap cards (with presence keys).
    let ada_card = ada.my_friend_card("Ada", &ada_room.link).await.unwrap();
    let bo_card = bo.my_friend_card("Bo", &bo_room.link).await.unwrap();
    assert!(ada_card.contains("&presence="), "{ada_card}");
    let ada_for_bo = bo.add_friend_from_card(&ada_card).unwrap();
    let bo_for_ada = ada.add_friend_from_card(&bo_card).unwrap();
    assert!(ada_for_bo.presence_key.is_some());
    bo.set_friend_notify(ada_for_bo.id, true).unwrap();
    // A card for a room that is not mine is refused.
    assert!(bo.my_friend_card("Bo", &ada_room.link).await.is_err());

    ada.set_door(&ada_room.link, DoorMode::Auto, None, Some(true))
        .await
        .unwrap();

    let bo_sees = Arc::new(Seen::default());
    let options = WatchOptions {
        door_opened_every: Duration::from_secs(300),
    };
    let bo_watch = bo.watch_presence(bo_sees.clone(), options).unwrap();
    let ada_sees = Arc::new(Seen::default());
    let ada_watch = ada.watch_presence(ada_sees.clone(), options).unwrap();
    bo_sees
        .until("Ada", |p| p.connected && p.available && !p.door_open)
        .await;
    ada_sees.until("Bo", |p| p.available && !p.door_open).await;

    // Ada comes in: her (auto) door opens with her inside.
    let ada_call = ada
        .join(&ada_room.link, quiet("Ada"), None, None, None)
        .await
        .unwrap();
    bo_sees
        .until("Ada", |p| {
            p.door_open && p.people == 1 && p.names.as_deref() == Some(&["Ada".to_owned()][..])
        })
        .await;

    // She closes the door while inside, then opens it: each seen within a second.
    let state = ada
        .set_door(&ada_room.link, DoorMode::Closed, None, None)
        .await
        .unwrap();
    assert!(!state.door_open && state.people == 1);
    let took = bo_sees
        .until("Ada", |p| !p.door_open && p.people == 0)
        .await;
    assert!(took < Duration::from_secs(1), "closed seen after {took:?}");
    ada.set_door(&ada_room.link, DoorMode::Open, None, None)
        .await
        .unwrap();
    let took = bo_sees.until("Ada", |p| p.door_open && p.people == 1).await;
    assert!(took < Duration::from_secs(1), "open seen after {took:?}");
    assert_eq!(*bo_sees.opened.lock().unwrap(), vec!["Ada".to_owned()]);

    // A flapping door tells Bo nothing more.
    for _ in 0..3 {
        ada.set_door(&ada_room.link, DoorMode::Closed, None, None)
            .await
            .unwrap();
        ada.set_door(&ada_room.link, DoorMode::Open, None, None)
            .await
            .unwrap();
    }
    bo_sees.until("Ada", |p| p.door_open).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bo_sees.opened.lock().unwrap().len(), 1, "rate-limited");

    // Bo peeks, then drops in with one call; who is inside changes for him within a second.
    let peek = bo.peek(&ada_room.link).await.unwrap();
    assert!(peek.door_open);
    assert_eq!(peek.names, Some(vec!["Ada".to_owned()]));
    let start = Instant::now();
    let bo_call = bo
        .join_friend(ada_for_bo.id, quiet("Bo"), None, None, None)
        .await
        .unwrap();
    assert_eq!(bo_call.state().room_id, ada_room.id);
    bo_sees
        .until("Ada", |p| {
            p.people == 2 && p.names == Some(vec!["Ada".to_owned(), "Bo".to_owned()])
        })
        .await;
    assert!(start.elapsed() < Duration::from_secs(10));

    // The other way round: Bo's door, seen by Ada (names not shown: only the count).
    bo.set_door(&bo_room.link, DoorMode::Open, None, None)
        .await
        .unwrap();
    let took = ada_sees
        .until("Bo", |p| p.door_open && p.people == 0 && p.names.is_none())
        .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    bo_call.leave().await;
    let took = bo_sees.until("Ada", |p| p.people == 1).await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // Ada rotates her presence key: Bo's card stops working at once, live and when asked.
    ada.presence_key(&ada_room.link, true).await.unwrap();
    let took = bo_sees.until("Ada", |p| !p.available).await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    let asked = bo.friends_presence().await.unwrap();
    let a = asked.iter().find(|p| p.friend.name == "Ada").unwrap();
    assert!(
        a.connected && !a.available && !a.door_open && a.people == 0,
        "{a:?}"
    );
    // A new card brings a new key, which works.
    let new_card = ada.my_friend_card("Ada", &ada_room.link).await.unwrap();
    assert_ne!(new_card, ada_card);
    bo.add_friend_from_card(&new_card).unwrap();
    let asked = bo.friends_presence().await.unwrap();
    let a = asked.iter().find(|p| p.friend.name == "Ada").unwrap();
    assert!(a.available && a.door_open && a.people == 1, "{a:?}");
    let _ = bo_for_ada;

    drop(bo_watch);
    drop(ada_watch);
    ada_call.leave().await;
}

#[test]
fn watching_outside_a_runtime_is_an_error_not_a_panic() {
    let client = Client::in_memory().unwrap();
    let err = client
        .watch_presence(Arc::new(Seen::default()), WatchOptions::default())
        .err()
        .expect("refused");
    assert!(
        matches!(err, salon_core::CoreError::InvalidInput { .. }),
        "{err:?}"
    );
}
