//! A native client whose network lets no UDP through reaches the server over ICE-TCP (it dials
//! the server's passive TCP candidate), media flows both ways, and an ICE restart (a network
//! change) dials again on the same call; a client whose UDP gets nowhere falls back to TCP.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{feed, wait_for};
use salon_core::{Call, CallConfig, Client};

/// Frames `viewer` decoded of `sender`'s video so far.
fn decoded(viewer: &Call, sender: &Call) -> u64 {
    sender
        .state()
        .me
        .and_then(|id| viewer.remote_stats().get(&id).map(|s| s.frames_decoded))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_udp_calls_over_ice_tcp_and_dials_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().join("server"));
    let server = salon_server::start(&config).await.unwrap();
    let engine = server.state.media.engine.clone();
    let client = Client::open(&dir.path().join("alice")).unwrap();
    let room = client
        .create_room(&server.url(), Some("No UDP"))
        .await
        .unwrap();
    // No UDP socket at all: TCP from loopback is the only way to the server.
    let mut tcp_only = CallConfig::new("Alice");
    tcp_only.udp_addrs = Vec::new();
    tcp_only.tcp_addrs = vec!["127.0.0.1:0".into()];
    let alice = Arc::new(
        client
            .join(&room.link, tcp_only, None, None, None)
            .await
            .unwrap(),
    );
    // Bob on UDP alone, so that every stream the server holds is Alice's.
    let mut udp_only = CallConfig::new("Bob");
    udp_only.tcp_addrs = Vec::new();
    let bob = Arc::new(
        Client::in_memory()
            .unwrap()
            .join(&room.link, udp_only, None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [feed(alice.clone(), 320, 240), feed(bob.clone(), 320, 240)];

    let both = |at_least: (u64, u64)| {
        let (alice, bob) = (alice.clone(), bob.clone());
        move || decoded(&alice, &bob) > at_least.0 && decoded(&bob, &alice) > at_least.1
    };
    assert!(
        wait_for(Duration::from_secs(20), both((10, 10))).await,
        "media over ICE-TCP: Alice decoded {} of Bob's frames, Bob {} of Alice's",
        decoded(&alice, &bob),
        decoded(&bob, &alice)
    );
    assert_eq!(engine.tcp_streams().await, (1, 1));

    // A network change restarts ICE: the old stream goes with the old sockets, a new one is
    // dialled, and the video goes on.
    alice.on_network_changed().unwrap();
    let restarted = wait_for(Duration::from_secs(10), || {
        alice.connection_counters().ice_restarts >= 1
    })
    .await;
    assert!(restarted, "no ICE restart");
    let now = (decoded(&alice, &bob), decoded(&bob, &alice));
    assert!(
        wait_for(Duration::from_secs(20), both((now.0 + 10, now.1 + 10))).await,
        "no media over ICE-TCP after the restart: Alice decoded {} of Bob's frames, Bob {} of Alice's",
        decoded(&alice, &bob),
        decoded(&bob, &alice)
    );
    let streams = engine.tcp_streams().await;
    assert_eq!(
        streams.1, 1,
        "streams (open, carrying a connection): {streams:?}"
    );

    for f in feeders {
        f.abort();
    }
    alice.leave().await;
    bob.leave().await;
}

/// UDP that cannot reach the server (the client's only UDP socket is IPv6, the server's media
/// port IPv4): the server's TCP candidate, held back from the answer, is dialled once UDP has
/// had its chance, and the call goes on over TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_udp_gets_nowhere_falls_back_to_ice_tcp() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: the fallback case cannot be set up; skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().join("server"));
    let server = salon_server::start(&config).await.unwrap();
    let engine = server.state.media.engine.clone();
    let client = Client::open(&dir.path().join("alice")).unwrap();
    let room = client
        .create_room(&server.url(), Some("Bad UDP"))
        .await
        .unwrap();
    let mut stuck = CallConfig::new("Alice");
    stuck.udp_addrs = vec!["[::1]:0".into()];
    stuck.tcp_addrs = vec!["127.0.0.1:0".into()];
    let started = std::time::Instant::now();
    let alice = Arc::new(
        client
            .join(&room.link, stuck, None, None, None)
            .await
            .unwrap(),
    );
    let mut udp_only = CallConfig::new("Bob");
    udp_only.tcp_addrs = Vec::new();
    let bob = Arc::new(
        Client::in_memory()
            .unwrap()
            .join(&room.link, udp_only, None, None, None)
            .await
            .unwrap(),
    );
    let feeders = [feed(alice.clone(), 320, 240), feed(bob.clone(), 320, 240)];
    // Nothing is dialled before UDP had its chance.
    assert_eq!(engine.tcp_streams().await, (0, 0));
    let flowing = wait_for(Duration::from_secs(20), || {
        decoded(&alice, &bob) > 10 && decoded(&bob, &alice) > 10
    })
    .await;
    assert!(
        flowing,
        "no media after the TCP fallback: Alice decoded {}, Bob {}",
        decoded(&alice, &bob),
        decoded(&bob, &alice)
    );
    assert!(started.elapsed() >= salon_core::call::peer::TCP_FALLBACK_AFTER);
    assert_eq!(engine.tcp_streams().await, (1, 1));
    for f in feeders {
        f.abort();
    }
    alice.leave().await;
    bob.leave().await;
}
