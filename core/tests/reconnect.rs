//! A client whose signaling connection drops reconnects by itself, keeps its participant id,
//! and the others never see it leave. With its peer connection still up, it goes on with it:
//! the server keeps the media, nobody is renegotiated, media never stops. When the server can
//! no longer keep it (the seat's grace ran out), the client starts over with a new connection.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait_for;
use salon_core::media::audio::Channels;
use salon_core::media::pattern::{TestPattern, Tone};
use salon_core::{Call, CallConfig, Client, ConnectionStatus};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to the server whose connections the test can cut, like a network change.
struct Relay {
    addr: std::net::SocketAddr,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// While set, new connections are dropped at once (the server is unreachable).
    refusing: Arc<AtomicBool>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let refusing = Arc::new(AtomicBool::new(false));
        let list = conns.clone();
        let refuse = refusing.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if refuse.load(Ordering::Relaxed) {
                    drop(inbound);
                    continue;
                }
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(handle);
            }
        });
        Self {
            addr,
            conns,
            refusing,
        }
    }

    fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

fn feed(call: Arc<Call>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pattern = TestPattern::new(320, 240).unwrap();
        let mut tone = Tone::new(330.0, Channels::Mono).unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut t_us = 0u64;
        loop {
            tick.tick().await;
            let _ = call.send_audio_frame(tone.next_frame_20ms());
            if (t_us / 20_000).is_multiple_of(3) {
                let _ = call.send_video_frame(pattern.next_frame(t_us));
            }
            t_us += 20_000;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_resumed_without_a_ghost() {
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().to_owned());
    let server = salon_server::start(&config).await.unwrap();
    let relay = Relay::start(server.addr).await;

    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let alice = Arc::new(
        client
            .join(&room.link, CallConfig::new("Alice"), None, None, None)
            .await
            .unwrap(),
    );
    let via_relay = room
        .link
        .replace(&server.addr.to_string(), &relay.addr.to_string());
    let bob = Arc::new(
        client
            .join(&via_relay, CallConfig::new("Bob"), None, None, None)
            .await
            .unwrap(),
    );
    let _feeders = [feed(alice.clone()), feed(bob.clone())];
    let bob_id = bob.state().me.unwrap();

    let decoded_from_bob = || {
        alice
            .remote_stats()
            .get(&bob_id)
            .map_or(0, |s| s.frames_decoded)
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while decoded_from_bob() < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(decoded_from_bob() >= 5, "no video from Bob before the drop");

    relay.cut();
    // Watch Alice's view closely while Bob reconnects: Bob must never disappear.
    let mut saw_reconnecting = false;
    let mut reconnected = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        let alice_view = alice.state();
        assert!(
            alice_view.participants.iter().any(|p| p.id == bob_id),
            "Alice saw Bob leave: {alice_view:?}"
        );
        match bob.state().connection {
            ConnectionStatus::Reconnecting { .. } => saw_reconnecting = true,
            ConnectionStatus::Connected if saw_reconnecting => {
                reconnected = true;
                break;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        saw_reconnecting && reconnected,
        "Bob did not reconnect: {:?}",
        bob.state().connection
    );
    assert_eq!(
        bob.state().me.as_deref(),
        Some(bob_id.as_str()),
        "Bob's id changed"
    );
    assert_eq!(alice.state().participants.len(), 1);

    // Media flows again.
    let before = decoded_from_bob();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while decoded_from_bob() < before + 10 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        decoded_from_bob() >= before + 10,
        "video from Bob did not resume"
    );
    assert_eq!(server.state.participants_in(&room.id).await, 2);
}

/// Alice (direct) and Bob (through `relay`) in a fresh room, each decoding the other's video.
async fn two_in_a_room(
    server: &salon_server::Server,
    relay: &Relay,
) -> (Client, salon_core::store::MyRoom, Arc<Call>, Arc<Call>) {
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let alice = Arc::new(
        client
            .join(&room.link, CallConfig::new("Alice"), None, None, None)
            .await
            .unwrap(),
    );
    let via_relay = room
        .link
        .replace(&server.addr.to_string(), &relay.addr.to_string());
    let bob = Arc::new(
        client
            .join(&via_relay, CallConfig::new("Bob"), None, None, None)
            .await
            .unwrap(),
    );
    (client, room, alice, bob)
}

/// [`two_in_a_room`], both sending video, once each decodes the other's.
async fn video_both_ways(
    server: &salon_server::Server,
    relay: &Relay,
) -> (
    Client,
    salon_core::store::MyRoom,
    Arc<Call>,
    Arc<Call>,
    [tokio::task::JoinHandle<()>; 2],
) {
    let (client, room, alice, bob) = two_in_a_room(server, relay).await;
    let feeders = [feed(alice.clone()), feed(bob.clone())];
    let alice_id = alice.state().me.unwrap();
    let bob_id = bob.state().me.unwrap();
    assert!(
        wait_for(Duration::from_secs(15), || decoded(&alice, &bob_id) >= 5
            && decoded(&bob, &alice_id) >= 5)
        .await,
        "no video both ways to start with"
    );
    (client, room, alice, bob, feeders)
}

/// Frames of `from` that `to` decoded so far.
fn decoded(to: &Call, from: &str) -> u64 {
    to.remote_stats().get(from).map_or(0, |s| s.frames_decoded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signaling_blip_keeps_the_media_and_renegotiates_nobody() {
    let (server, _dir) = common::server().await;
    let relay = Relay::start(server.addr).await;
    let (_client, room, alice, bob, _feeders) = video_both_ways(&server, &relay).await;
    let alice_id = alice.state().me.unwrap();
    let bob_id = bob.state().me.unwrap();
    // Let the first negotiations settle, then count from here.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alice_before = alice.connection_counters();
    let bob_before = bob.connection_counters();
    assert_eq!(bob_before.resumes_media_kept, 0);

    // Only Bob's signaling socket goes; his media flows straight to the server over UDP.
    relay.cut();
    let mut at_drop = None;
    let mut during_outage = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut reconnected = false;
    while tokio::time::Instant::now() < deadline {
        let alice_view = alice.state();
        assert!(
            alice_view.participants.iter().any(|p| p.id == bob_id),
            "Alice saw Bob leave: {alice_view:?}"
        );
        match bob.state().connection {
            ConnectionStatus::Reconnecting { .. } => {
                let now = decoded(&alice, &bob_id);
                let start = *at_drop.get_or_insert(now);
                during_outage = now - start;
            }
            ConnectionStatus::Connected if at_drop.is_some() => {
                reconnected = true;
                break;
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        reconnected,
        "Bob did not reconnect: {:?}",
        bob.state().connection
    );
    assert_eq!(
        bob.state().me.as_deref(),
        Some(bob_id.as_str()),
        "Bob's id changed"
    );
    assert_eq!(
        bob.connection_counters().resumes_media_kept,
        1,
        "Bob did not go on with his peer connection"
    );
    // Media never stopped: Alice kept decoding Bob while his socket was gone.
    assert!(
        during_outage >= 3,
        "Bob's video stopped while only his socket was gone ({during_outage} frames)"
    );

    // Media flows both ways, on the same connections.
    let (from_bob, from_alice) = (decoded(&alice, &bob_id), decoded(&bob, &alice_id));
    let started = tokio::time::Instant::now();
    assert!(
        wait_for(Duration::from_secs(15), || decoded(&alice, &bob_id)
            >= from_bob + 10
            && decoded(&bob, &alice_id) >= from_alice + 10)
        .await,
        "media did not keep flowing both ways"
    );
    // Give a renegotiation time to show up, if there were one.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(started.elapsed())).await;
    assert_eq!(
        alice.connection_counters().server_offers,
        alice_before.server_offers,
        "Alice was renegotiated"
    );
    assert_eq!(
        bob.connection_counters().server_offers,
        bob_before.server_offers,
        "Bob was renegotiated"
    );
    assert_eq!(alice.state().participants.len(), 1);
    assert!(alice.state().participants.iter().any(|p| p.id == bob_id));
    assert_eq!(server.state.participants_in(&room.id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_too_late_to_keep_the_media_starts_over() {
    let (server, _dir) = common::server().await;
    let relay = Relay::start(server.addr).await;
    let (_client, room, alice, bob, _feeders) = video_both_ways(&server, &relay).await;
    let alice_id = alice.state().me.unwrap();

    // The server stays out of reach past the seat's grace (20 s while Bob's media is up): what
    // Bob kept is gone there.
    relay.refusing.store(true, Ordering::Relaxed);
    relay.cut();
    assert!(
        wait_for(Duration::from_secs(5), || matches!(
            bob.state().connection,
            ConnectionStatus::Reconnecting { .. }
        ))
        .await
    );
    tokio::time::sleep(Duration::from_secs(22)).await;
    relay.refusing.store(false, Ordering::Relaxed);
    assert!(
        wait_for(Duration::from_secs(30), || bob.state().connection
            == ConnectionStatus::Connected)
        .await,
        "Bob did not reconnect: {:?}",
        bob.state().connection
    );
    assert_eq!(
        bob.connection_counters().resumes_media_kept,
        0,
        "the server cannot have kept Bob's media"
    );

    // Bob started over with a new peer connection: media flows both ways again.
    let bob_id = bob.state().me.unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || alice
            .state()
            .participants
            .iter()
            .any(|p| p.id == bob_id))
        .await
    );
    let (from_bob, from_alice) = (decoded(&alice, &bob_id), decoded(&bob, &alice_id));
    assert!(
        wait_for(Duration::from_secs(20), || decoded(&alice, &bob_id)
            >= from_bob + 10
            && decoded(&bob, &alice_id) >= from_alice + 10)
        .await,
        "media did not come back both ways"
    );
    assert_eq!(server.state.participants_in(&room.id).await, 2);
}

/// Video frames of `from` that reached `to` so far, and audio packets.
fn arrived(to: &Call, from: &str) -> (u64, u64) {
    to.remote_stats()
        .get(from)
        .map_or((0, 0), |s| (s.frames_received, s.audio_packets))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_is_sent_again_on_a_new_connection() {
    let (server, _dir) = common::server().await;
    let relay = Relay::start(server.addr).await;
    let (_client, _room, alice, bob) = two_in_a_room(&server, &relay).await;
    let _feeders = [feed(alice.clone()), feed(bob.clone())];
    let alice_id = alice.state().me.unwrap();
    assert!(
        wait_for(Duration::from_secs(15), || decoded(&bob, &alice_id) >= 5).await,
        "no video from Alice"
    );

    // Bob hides Alice: her video stops reaching him.
    bob.set_view(&alice_id, salon_core::ParticipantView::Hidden)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (frames, _) = arrived(&bob, &alice_id);

    // Bob loses the server for longer than it keeps his seat's media (20 s while it is up): a
    // new connection, which the server knows nothing about.
    relay.refusing.store(true, Ordering::Relaxed);
    relay.cut();
    tokio::time::sleep(Duration::from_secs(22)).await;
    relay.refusing.store(false, Ordering::Relaxed);
    assert!(
        wait_for(Duration::from_secs(30), || bob.state().connection
            == ConnectionStatus::Connected)
        .await,
        "Bob did not reconnect: {:?}",
        bob.state().connection
    );
    assert_eq!(bob.connection_counters().resumes_media_kept, 0);

    // Alice's audio comes again, her video does not: the core told the new connection the view.
    let (_, audio) = arrived(&bob, &alice_id);
    assert!(
        wait_for(Duration::from_secs(20), || arrived(&bob, &alice_id).1
            >= audio + 50)
        .await,
        "no audio from Alice after the reconnect"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (after, _) = arrived(&bob, &alice_id);
    assert!(
        after <= frames + 2,
        "a hidden video came back after the reconnect: {frames} -> {after} frames"
    );

    // Shown again, it decodes again.
    let before = decoded(&bob, &alice_id);
    bob.set_view(&alice_id, salon_core::ParticipantView::Large)
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || decoded(&bob, &alice_id)
            >= before + 5)
        .await,
        "Alice's video did not come back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_change_restarts_ice_on_the_same_connection_and_renegotiates_nobody_else() {
    let (server, _dir) = common::server().await;
    let relay = Relay::start(server.addr).await;
    let (_client, room, alice, bob, _feeders) = video_both_ways(&server, &relay).await;
    let alice_id = alice.state().me.unwrap();
    let bob_id = bob.state().me.unwrap();
    let alice_before = alice.connection_counters();
    let bob_before = bob.connection_counters();
    assert_eq!(bob_before.ice_restarts, 0);

    // The app says the network changed: Bob offers an ICE restart (fresh credentials, sockets
    // bound again, candidates gathered again) on the same peer connection.
    bob.on_network_changed().unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || bob
            .connection_counters()
            .ice_restarts
            == 1)
        .await,
        "Bob did not restart ICE"
    );
    // Media flows both ways after it, on the same connection: no reconnect, no rejoin.
    let (from_bob, from_alice) = (decoded(&alice, &bob_id), decoded(&bob, &alice_id));
    let started = tokio::time::Instant::now();
    assert!(
        wait_for(Duration::from_secs(20), || decoded(&alice, &bob_id)
            >= from_bob + 15
            && decoded(&bob, &alice_id) >= from_alice + 15)
        .await,
        "media did not flow both ways after the ICE restart: Alice has {} more frames of Bob, Bob {} of Alice",
        decoded(&alice, &bob_id) - from_bob,
        decoded(&bob, &alice_id) - from_alice
    );
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(started.elapsed())).await;
    assert_eq!(bob.state().connection, ConnectionStatus::Connected);
    assert_eq!(bob.state().me.as_deref(), Some(bob_id.as_str()));
    let bob_after = bob.connection_counters();
    assert_eq!(bob_after.ice_restarts, 1, "one change, one restart");
    assert_eq!(bob_after.resumes_media_kept, 0, "Bob reconnected");
    assert_eq!(
        alice.connection_counters(),
        alice_before,
        "Alice was renegotiated or restarted"
    );
    assert_eq!(server.state.participants_in(&room.id).await, 2);
    // Twice more in a row (a phone flapping between networks): each one goes through.
    bob.on_network_changed().unwrap();
    bob.on_network_changed().unwrap();
    assert!(
        wait_for(Duration::from_secs(15), || bob
            .connection_counters()
            .ice_restarts
            == 3)
        .await,
        "the second and third change did not restart ICE: {:?}",
        bob.connection_counters()
    );
    let from_bob = decoded(&alice, &bob_id);
    assert!(
        wait_for(Duration::from_secs(20), || decoded(&alice, &bob_id)
            >= from_bob + 15)
        .await,
        "Bob's video did not come back after three restarts"
    );
    assert_eq!(bob.state().connection, ConnectionStatus::Connected);
}
