//! Two native clients in one room through a real server: each receives and decodes the other's
//! H.264 test pattern at its real size, and the other's Opus tone.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::{feed, server, wait_for};
use std::time::Duration;

use salon_core::{CallConfig, CallListener, Client, ConnectionStatus, RoomState};

struct Recorder(Mutex<Vec<RoomState>>);

impl CallListener for Recorder {
    fn on_state_changed(&self, state: RoomState) {
        self.0.lock().unwrap().push(state);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_native_clients_see_and_hear_each_other() {
    let (server, dir) = server().await;
    let client = Client::open(&dir.path().join("alice")).unwrap();
    let room = client
        .create_room(&server.url(), Some("Core test"))
        .await
        .unwrap();
    assert_eq!(client.my_rooms().unwrap().len(), 1);
    let status = client.room_status(&room.link).await.unwrap();
    assert_eq!(status.participants, 0);

    let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
    let alice = Arc::new(
        client
            .join(
                &room.link,
                CallConfig::new("Alice"),
                Some(recorder.clone()),
                None,
                None,
            )
            .await
            .unwrap(),
    );
    let bob_client = Client::in_memory().unwrap();
    let mut bob_config = CallConfig::new("Bob");
    bob_config.video.width = 320;
    bob_config.video.height = 240;
    let bob = Arc::new(
        bob_client
            .join(&room.link, bob_config, None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [feed(alice.clone(), 640, 360), feed(bob.clone(), 320, 240)];

    let alice_id = alice.state().me.unwrap();
    let bob_id = bob.state().me.unwrap();
    let ok = wait_for(Duration::from_secs(20), || {
        let a = alice
            .remote_stats()
            .get(&bob_id)
            .cloned()
            .unwrap_or_default();
        let b = bob
            .remote_stats()
            .get(&alice_id)
            .cloned()
            .unwrap_or_default();
        a.frames_decoded > 10
            && b.frames_decoded > 10
            && a.audio_frames_decoded > 20
            && b.audio_frames_decoded > 20
    })
    .await;
    let a = alice
        .remote_stats()
        .get(&bob_id)
        .cloned()
        .unwrap_or_default();
    let b = bob
        .remote_stats()
        .get(&alice_id)
        .cloned()
        .unwrap_or_default();
    assert!(ok, "alice <- bob {a:?}; bob <- alice {b:?}");
    assert_eq!((a.width, a.height), (320, 240));
    assert_eq!((b.width, b.height), (640, 360));
    assert!(a.video_codec.eq_ignore_ascii_case("video/h264"));

    // Alice's state names Bob, receiving both kinds; the tone makes him "speaking".
    let state = alice.state();
    assert_eq!(state.connection, ConnectionStatus::Connected);
    let bob_seen = state.participants.iter().find(|p| p.id == bob_id).unwrap();
    assert_eq!(bob_seen.name, "Bob");
    assert!(bob_seen.receiving_audio && bob_seen.receiving_video);
    assert!(
        wait_for(Duration::from_secs(5), || alice
            .state()
            .participants
            .iter()
            .any(|p| p.speaking))
        .await
    );

    // Bob mutes: Alice sees it.
    bob.set_microphone(false).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || {
            alice
                .state()
                .participants
                .iter()
                .any(|p| p.id == bob_id && !p.audio_on)
        })
        .await
    );

    // Bob leaves: he is gone from Alice's state.
    bob.leave().await;
    assert!(
        wait_for(Duration::from_secs(5), || alice
            .state()
            .participants
            .is_empty())
        .await
    );
    assert!(matches!(
        bob.state().connection,
        ConnectionStatus::Ended { .. }
    ));
    for f in feeders {
        f.abort();
    }
    assert!(!recorder.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn joining_a_missing_or_malformed_room_is_a_clear_error() {
    let (server, _dir) = server().await;
    let client = Client::in_memory().unwrap();
    let missing = format!("{}/r/AAAAAAAAAAAAAAAAAAAAAA", server.url());
    assert_eq!(
        client.room_status(&missing).await.unwrap_err(),
        salon_core::CoreError::RoomNotFound
    );
    let err = client
        .join(&missing, CallConfig::new("X"), None, None, None)
        .await
        .err()
        .unwrap();
    assert_eq!(err, salon_core::CoreError::RoomNotFound);
    let err = client
        .join("not a link", CallConfig::new("X"), None, None, None)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, salon_core::CoreError::InvalidLink { .. }));
    let err = client
        .create_room("ftp://nowhere", None)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, salon_core::CoreError::InvalidLink { .. }));
    let unreachable = client
        .room_status("http://127.0.0.1:9/r/AAAAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap_err();
    assert!(matches!(unreachable, salon_core::CoreError::Network { .. }));
}
