//! A client whose signaling connection drops reconnects by itself, keeps its participant id,
//! and the others never see it leave.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use salon_core::media::audio::Channels;
use salon_core::media::pattern::{TestPattern, Tone};
use salon_core::{Call, CallConfig, Client, ConnectionStatus};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to the server whose connections the test can cut, like a network change.
struct Relay {
    addr: std::net::SocketAddr,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let list = conns.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(handle);
            }
        });
        Self { addr, conns }
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
