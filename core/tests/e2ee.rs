//! End-to-end encryption through a real server (ADR 0003): native clients in an encrypted room
//! see and hear each other and show the same safety code; what the server forwards decodes to
//! nothing without the keys; someone with a wrong link key sees nothing and is shown as
//! unverified; a removal moves everyone to keys the removed person never gets; links without
//! their key, and servers that deny a link's encryption, are refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{feed, server, wait_for};
use salon_core::media::video::VideoDecoder;
use salon_core::{Call, CallConfig, Client, CoreError, RemoteStats};
use salon_e2ee::{Codec, KeyTable, is_protected_shape};

fn stats(call: &Call, of: &str) -> RemoteStats {
    call.remote_stats().get(of).cloned().unwrap_or_default()
}

/// Video frames as they arrived from the server, before decryption, with their arrival time.
type Captured = Arc<Mutex<Vec<(Instant, String, Vec<u8>)>>>;

fn tapped(name: &str, captured: &Captured) -> CallConfig {
    let mut config = CallConfig::new(name);
    config.video.width = 320;
    config.video.height = 240;
    let sink = captured.clone();
    config.raw_video_tap = Some(Arc::new(move |who: &str, frame: &[u8]| {
        sink.lock()
            .unwrap()
            .push((Instant::now(), who.to_owned(), frame.to_vec()));
    }));
    config
}

fn small(name: &str) -> CallConfig {
    let mut config = CallConfig::new(name);
    config.video.width = 320;
    config.video.height = 240;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_room_plays_for_its_members_and_nothing_decodes_without_keys() {
    let (server, dir) = server().await;
    let owner = Client::open(&dir.path().join("owner")).unwrap();
    let room = owner
        .create_room(&server.url(), Some("Secret"))
        .await
        .unwrap();
    assert!(room.link.contains("#k="), "the invite link carries the key");
    let secret = room.link.split_once("#k=").unwrap().1.to_owned();
    assert_eq!(secret.len(), 43);

    let captured: Captured = Arc::default();
    let ada = Arc::new(
        owner
            .join(&room.link, tapped("Ada", &captured), None, None, None)
            .await
            .unwrap(),
    );
    let bo = Arc::new(
        Client::in_memory()
            .unwrap()
            .join(&room.link, small("Bo"), None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [feed(ada.clone(), 320, 240), feed(bo.clone(), 320, 240)];
    let ada_id = ada.state().me.unwrap();
    let bo_id = bo.state().me.unwrap();
    let playing = wait_for(Duration::from_secs(20), || {
        let a = stats(&ada, &bo_id);
        let b = stats(&bo, &ada_id);
        a.frames_decoded > 10
            && b.frames_decoded > 10
            && a.audio_frames_decoded > 20
            && b.audio_frames_decoded > 20
    })
    .await;
    assert!(
        playing,
        "ada <- bo {:?}; bo <- ada {:?}",
        stats(&ada, &bo_id),
        stats(&bo, &ada_id)
    );

    // The same safety code on both screens, two key holders, nobody unverified.
    let (a, b) = (ada.state().e2ee.unwrap(), bo.state().e2ee.unwrap());
    assert_eq!(a.safety_code, b.safety_code);
    assert_eq!((a.key_holders, b.key_holders), (2, 2));
    assert!(a.unverified.is_empty() && b.unverified.is_empty());
    assert_eq!(a.safety_code.len(), 14, "dddd dddd dddd: {}", a.safety_code);

    // What the server forwarded to Ada: every frame is protected, and an H.264 decoder fed
    // those bytes as they came produces no picture — while Ada's own decoder, with the keys,
    // shows Bo.
    let frames: Vec<Vec<u8>> = captured
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, who, _)| *who == bo_id)
        .map(|(_, _, f)| f.clone())
        .collect();
    assert!(frames.len() > 10, "frames were captured ({})", frames.len());
    assert!(
        frames.iter().all(|f| is_protected_shape(Codec::H264, f)),
        "a frame went through the server unprotected"
    );
    let mut decoder = VideoDecoder::new().unwrap();
    let pictures = frames
        .iter()
        .filter(|f| matches!(decoder.decode(f), Ok(Some(_))))
        .count();
    assert_eq!(pictures, 0, "the server's bytes decoded to pictures");
    assert!(stats(&ada, &bo_id).frames_decoded > 10);

    // A guest with a wrong link key: the room lets them in (the server cannot tell), but they
    // see and hear nothing, and the members show them as unverified.
    let wrong_key = salon_e2ee::RoomSecret::generate().to_base64url();
    let wrong_link = format!("{}#k={wrong_key}", room.link.split_once('#').unwrap().0);
    let eve = Client::in_memory()
        .unwrap()
        .join(&wrong_link, small("Eve"), None, None, None)
        .await
        .unwrap();
    let eve_id = eve.state().me.unwrap();
    let seen = wait_for(Duration::from_secs(10), || {
        stats(&eve, &ada_id).frames_received > 20
            && ada
                .state()
                .e2ee
                .is_some_and(|e| e.unverified.contains(&eve_id))
    })
    .await;
    assert!(seen, "eve <- ada {:?}", stats(&eve, &ada_id));
    let e = stats(&eve, &ada_id);
    assert_eq!((e.frames_decoded, e.audio_frames_decoded), (0, 0), "{e:?}");
    assert!(e.frames_undecryptable > 0);
    // Eve changes nobody's code (nobody exchanges keys with her) and the call goes on.
    assert_eq!(ada.state().e2ee.unwrap().safety_code, a.safety_code);
    let before = stats(&bo, &ada_id).frames_decoded;
    assert!(
        wait_for(Duration::from_secs(5), || stats(&bo, &ada_id)
            .frames_decoded
            > before + 10)
        .await
    );
    for f in feeders {
        f.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_cannot_decrypt_what_is_sent_after() {
    let (server, dir) = server().await;
    let owner = Client::open(&dir.path().join("owner")).unwrap();
    let room = owner.create_room(&server.url(), None).await.unwrap();
    let ada = Arc::new(
        owner
            .join(&room.link, small("Ada"), None, None, None)
            .await
            .unwrap(),
    );
    let captured: Captured = Arc::default();
    let dan = Arc::new(
        Client::in_memory()
            .unwrap()
            .join(&room.link, tapped("Dan", &captured), None, None, None)
            .await
            .unwrap(),
    );
    let cy = Arc::new(
        Client::in_memory()
            .unwrap()
            .join(&room.link, small("Cy"), None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [
        feed(ada.clone(), 320, 240),
        feed(dan.clone(), 320, 240),
        feed(cy.clone(), 320, 240),
    ];
    let ada_id = ada.state().me.unwrap();
    let cy_id = cy.state().me.unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || stats(&cy, &ada_id)
            .frames_decoded
            > 10
            && stats(&dan, &ada_id).frames_decoded > 10)
        .await,
        "cy <- ada {:?}",
        stats(&cy, &ada_id)
    );
    let code_before = ada.state().e2ee.unwrap().safety_code;

    // Ada removes Cy. Everything Cy ever received is kept (as a removed client replaying its
    // old keys would).
    let cy_keys = cy.received_sender_keys();
    assert!(cy_keys.iter().any(|(who, _)| *who == ada_id));
    let removed_at = Instant::now();
    ada.remove(&cy_id).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            ada.state().e2ee.is_some_and(|e| e.key_holders == 2)
                && dan.state().e2ee.is_some_and(|e| e.key_holders == 2)
        })
        .await
    );
    let code_after = ada.state().e2ee.unwrap().safety_code;
    assert_ne!(
        code_after, code_before,
        "the code changes when someone goes"
    );
    assert_eq!(dan.state().e2ee.unwrap().safety_code, code_after);
    // Dan keeps decoding Ada under the new key.
    let decoded = stats(&dan, &ada_id).frames_decoded;
    assert!(
        wait_for(Duration::from_secs(10), || stats(&dan, &ada_id)
            .frames_decoded
            > decoded + 40)
        .await
    );

    // Ada's frames that reached Dan 4 s or more after the removal: Dan could open them
    // (they decoded), but none opens with any key Cy ever held.
    // New keys are drawn 0.5 s after the departure and used 1 s later (ADR 0003 §2.4); the
    // rest is the departure's way through the server and frames queued on a busy machine
    // (the test asserts the property, not the timing: the bench and docs give the 1.5 s).
    let cut = removed_at + Duration::from_secs(4);
    tokio::time::sleep_until((cut + Duration::from_secs(3)).into()).await;
    let late: Vec<Vec<u8>> = captured
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, who, _)| *at >= cut && *who == ada_id)
        .map(|(_, _, f)| f.clone())
        .collect();
    assert!(late.len() > 20, "frames after the removal ({})", late.len());
    let mut replay = KeyTable::new();
    for (who, key) in &cy_keys {
        replay.insert(who, key.clone());
    }
    let opened = late
        .iter()
        .filter(|f| replay.open(&ada_id, Codec::H264, f, Instant::now()).is_ok())
        .count();
    assert_eq!(
        opened, 0,
        "the removed member's keys opened frames sent after"
    );
    for f in feeders {
        f.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_without_their_key_and_denied_encryption_are_refused() {
    let (server, dir) = server().await;
    let owner = Client::open(&dir.path().join("owner")).unwrap();
    let room = owner.create_room(&server.url(), None).await.unwrap();
    let bare = room.link.split_once('#').unwrap().0.to_owned();
    // A stranger with the link cut before '#'.
    let cut = Client::in_memory()
        .unwrap()
        .join(&bare, small("Guest"), None, None, None)
        .await;
    match cut {
        Err(CoreError::E2ee { reason }) => assert!(reason.contains("missing its key"), "{reason}"),
        Err(other) => panic!("expected the missing-key refusal, got {other:?}"),
        Ok(_) => panic!("joined without the key"),
    }
    // The owner's own device knows the key even from a bare link.
    let mine = owner
        .join(&bare, small("Owner"), None, None, None)
        .await
        .unwrap();
    assert!(mine.state().e2ee.is_some());
    assert!(mine.state().link.contains("#k="));
    mine.leave().await;

    // A room the server calls unencrypted, reached through a link that carries a key: not
    // joined (a server cannot downgrade a link's encryption).
    let plain: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/rooms", server.url()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let plain_url = plain["url"].as_str().unwrap();
    let key = salon_e2ee::RoomSecret::generate().to_base64url();
    let downgraded = Client::in_memory()
        .unwrap()
        .join(
            &format!("{plain_url}#k={key}"),
            small("Guest"),
            None,
            None,
            None,
        )
        .await;
    match downgraded {
        Err(CoreError::E2ee { reason }) => assert!(reason.contains("not encrypted"), "{reason}"),
        Err(other) => panic!("expected the downgrade refusal, got {other:?}"),
        Ok(_) => panic!("joined a downgraded room"),
    }
    // The same room through its plain link works, unencrypted, and says so.
    let legacy = Client::in_memory()
        .unwrap()
        .join(plain_url, small("Guest"), None, None, None)
        .await
        .unwrap();
    assert!(legacy.state().e2ee.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_turns_encryption_on_in_a_room_made_before_it() {
    let (server, dir) = server().await;
    let owner = Client::open(&dir.path().join("owner")).unwrap();
    // A room as an older app made it: unencrypted, its host key in "my rooms".
    let made: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/rooms", server.url()))
        .json(&serde_json::json!({ "name": "Old" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let old_link = made["url"].as_str().unwrap().to_owned();
    let host_key = made["host_key"].as_str().unwrap().to_owned();
    let as_owner = || {
        let mut config = small("Owner");
        config.host_key = Some(host_key.clone());
        config
    };
    let call = owner
        .join(&old_link, as_owner(), None, None, None)
        .await
        .unwrap();
    let guest = Client::in_memory()
        .unwrap()
        .join(&old_link, small("Guest"), None, None, None)
        .await
        .unwrap();
    assert!(call.state().e2ee.is_none() && guest.state().e2ee.is_none());
    assert!(matches!(
        guest.turn_on_encryption(),
        Err(CoreError::NotAllowed { .. })
    ));

    call.turn_on_encryption().unwrap();
    let ended = |c: &Call| {
        matches!(
            c.state().connection,
            salon_core::ConnectionStatus::Ended {
                reason: salon_core::EndReason::RoomEnded
            }
        )
    };
    assert!(wait_for(Duration::from_secs(10), || ended(&call) && ended(&guest)).await);
    // The owner's call names the new link, with its secret; through it the room is encrypted,
    // and a guest with the whole link gets in encrypted too.
    let link = call.state().link;
    assert!(!link.starts_with(&old_link), "{link}");
    assert!(link.contains("#k="), "{link}");
    let again = owner
        .join(&link, as_owner(), None, None, None)
        .await
        .unwrap();
    assert!(again.state().e2ee.is_some());
    let back = Client::in_memory()
        .unwrap()
        .join(&link, small("Guest"), None, None, None)
        .await
        .unwrap();
    assert!(back.state().e2ee.is_some());
    // The old link leads nowhere.
    assert_eq!(
        Client::in_memory()
            .unwrap()
            .join(&old_link, small("Late"), None, None, None)
            .await
            .err(),
        Some(CoreError::RoomNotFound)
    );
}
