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
use salon_core::{Call, CallConfig, Client};

const SECRET: &str = "core-test-secret-0123456789";

/// A coturn, a server that hands out credentials made with `server_secret` (coturn's own, or
/// not), and a room with Alice (relay candidates only) and Bob (any path) in it, both sending.
struct TurnCall {
    alice: Arc<Call>,
    bob: Arc<Call>,
    feeders: [tokio::task::JoinHandle<()>; 2],
    _turn: coturn::Coturn,
    _server: salon_server::Server,
    _dir: tempfile::TempDir,
}

impl TurnCall {
    async fn start(server_secret: &str) -> Self {
        let turn = coturn::Coturn::start(SECRET, Ipv4Addr::LOCALHOST);
        let dir = tempfile::tempdir().unwrap();
        let mut config = salon_server::config::Config::for_tests(dir.path().join("server"));
        config.turn_urls = vec![format!("turn:{}?transport=udp", turn.addr)];
        config.turn_secret = Some(server_secret.to_owned());
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
        let bob = Arc::new(
            Client::in_memory()
                .unwrap()
                .join(&room.link, CallConfig::new("Bob"), None, None, None)
                .await
                .unwrap(),
        );
        let feeders = [feed(alice.clone(), 320, 240), feed(bob.clone(), 320, 240)];
        Self {
            alice,
            bob,
            feeders,
            _turn: turn,
            _server: server,
            _dir: dir,
        }
    }

    /// Frames each decoded of the other's video so far (Alice's, Bob's).
    fn decoded(&self) -> (u64, u64) {
        let (Some(alice_id), Some(bob_id)) = (self.alice.state().me, self.bob.state().me) else {
            return (0, 0);
        };
        let frames =
            |call: &Call, id: &str| call.remote_stats().get(id).map_or(0, |s| s.frames_decoded);
        (frames(&self.alice, &bob_id), frames(&self.bob, &alice_id))
    }

    async fn end(self) {
        for f in self.feeders {
            f.abort();
        }
        self.alice.leave().await;
        self.bob.leave().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_relay_candidates_only_calls_through_turn() {
    let call = TurnCall::start(SECRET).await;
    let flowing = wait_for(Duration::from_secs(30), || {
        let (alice, bob) = call.decoded();
        alice > 10 && bob > 10
    })
    .await;
    assert!(
        flowing,
        "media through TURN: (Alice, Bob) decoded {:?}",
        call.decoded()
    );
    call.end().await;
}

/// The control: the same relay-only client, with a credential coturn refuses (the server
/// was given another secret), gets no media at all, so the test above went through TURN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_only_client_with_a_refused_credential_gets_nothing() {
    let call = TurnCall::start("not-the-coturn-secret-at-all").await;
    let got_any = wait_for(Duration::from_secs(8), || call.decoded().0 > 0).await;
    assert!(!got_any, "media reached a relay-only client without TURN");
    call.end().await;
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
