//! A native client with no direct path to the server reaches it through a real coturn: the
//! TURN servers and credential of its `joined` are used, and media flows both ways.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../server/tests/common/coturn.rs"]
mod coturn;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use common::{feed, wait_for};
use salon_core::{CallConfig, Client};

const SECRET: &str = "core-test-secret-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_relay_candidates_only_calls_through_turn() {
    let turn = coturn::Coturn::start(SECRET, Ipv4Addr::LOCALHOST);
    let dir = tempfile::tempdir().unwrap();
    let mut config = salon_server::config::Config::for_tests(dir.path().join("server"));
    config.turn_urls = vec![format!("turn:{}?transport=udp", turn.addr)];
    config.turn_secret = Some(SECRET.to_owned());
    let server = salon_server::start(&config).await.unwrap();

    let client = Client::open(&dir.path().join("alice")).unwrap();
    let room = client
        .create_room(&server.url(), Some("Through TURN"))
        .await
        .unwrap();
    let mut relayed = CallConfig::new("Alice");
    relayed.relay_only = true;
    let alice = Arc::new(
        client
            .join(&room.link, relayed, None, None, None)
            .await
            .unwrap(),
    );
    let bob_client = Client::in_memory().unwrap();
    let bob = Arc::new(
        bob_client
            .join(&room.link, CallConfig::new("Bob"), None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [feed(alice.clone(), 320, 240), feed(bob.clone(), 320, 240)];
    let alice_id = alice.state().me.unwrap();
    let bob_id = bob.state().me.unwrap();
    let flowing = wait_for(Duration::from_secs(30), || {
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
        a.frames_decoded > 10 && b.frames_decoded > 10
    })
    .await;
    for f in feeders {
        f.abort();
    }
    assert!(
        flowing,
        "media through TURN: Alice got {:?}, Bob got {:?}",
        alice.remote_stats().get(&bob_id),
        bob.remote_stats().get(&alice_id)
    );
    alice.leave().await;
    bob.leave().await;
}

/// The control: the same relay-only client, with a credential coturn refuses (the server
/// was given another secret), gets no media at all, so the test above went through TURN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_client_with_a_refused_credential_gets_nothing() {
    let turn = coturn::Coturn::start(SECRET, Ipv4Addr::LOCALHOST);
    let dir = tempfile::tempdir().unwrap();
    let mut config = salon_server::config::Config::for_tests(dir.path().join("server"));
    config.turn_urls = vec![format!("turn:{}?transport=udp", turn.addr)];
    config.turn_secret = Some("not-the-coturn-secret-at-all".to_owned());
    let server = salon_server::start(&config).await.unwrap();
    let client = Client::open(&dir.path().join("alice")).unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let bob_client = Client::in_memory().unwrap();
    let bob = Arc::new(
        bob_client
            .join(&room.link, CallConfig::new("Bob"), None, None, None)
            .await
            .unwrap(),
    );
    let mut relayed = CallConfig::new("Alice");
    relayed.relay_only = true;
    let alice = Arc::new(
        client
            .join(&room.link, relayed, None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [feed(alice.clone(), 320, 240), feed(bob.clone(), 320, 240)];
    let bob_id = bob.state().me.unwrap();
    let got_any = wait_for(Duration::from_secs(8), || {
        alice
            .remote_stats()
            .get(&bob_id)
            .is_some_and(|s| s.frames_decoded > 0)
    })
    .await;
    for f in feeders {
        f.abort();
    }
    assert!(!got_any, "media reached a relay-only client without TURN");
    alice.leave().await;
    bob.leave().await;
}

#[test]
fn only_udp_turn_urls_reach_the_stack() {
    use salon_protocol::IceServer;
    let servers = [IceServer {
        urls: vec![
            "turn:t.example:3478?transport=udp".into(),
            "turn:t.example:3478?transport=tcp".into(),
            "turns:t.example:443?transport=tcp".into(),
            "stun:t.example".into(),
            "turn:t.example".into(),
        ],
        username: "1796000000:p1".into(),
        credential: "c".into(),
    }];
    let got = salon_core::call::peer::turn_servers(&servers);
    assert_eq!(got.len(), 1);
    // The two spellings of the same UDP server, once.
    assert_eq!(got[0].urls, ["turn:t.example:3478?transport=udp"]);
    assert_eq!(got[0].username, "1796000000:p1");
    let none = IceServer {
        urls: vec!["turns:t.example:443".into()],
        ..servers[0].clone()
    };
    assert!(salon_core::call::peer::turn_servers(&[none]).is_empty());
}
