//! TURN with a real coturn: the credentials Salon hands each participant in `joined` open an
//! allocation; coturn relays to the Salon node and to nothing else on loopback or private
//! ranges; an expired or forged credential is refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use common::coturn::{Coturn, Outcome, TurnClient};
use common::{TestServer, WsClient};
use salon_protocol::{IceServer, ServerMessage};

const SECRET: &str = "test-secret-0123456789abcdef";

async fn salon_with(turn: &Coturn) -> TestServer {
    let url = format!("turn:{}?transport=udp", turn.addr);
    TestServer::start_configured(move |c| {
        c.turn_urls = vec![url];
        c.turn_secret = Some(SECRET.to_owned());
        c.turn_ttl = 600;
    })
    .await
}

/// Joins a room and returns the TURN servers of the `joined`.
async fn join_for_turn(s: &TestServer) -> (WsClient, String, Vec<IceServer>) {
    let id = s.room_id().await;
    let (c, reply) = WsClient::connect_as(&s.ws_url(&id), "Ada", None, None).await;
    let ServerMessage::Joined {
        participant_id,
        ice_servers,
        ..
    } = reply
    else {
        panic!("expected joined, got {reply:?}");
    };
    (c, participant_id, ice_servers)
}

fn refused_with(outcome: &Outcome, code: &str) -> bool {
    matches!(outcome, Outcome::Refused(why) if why.contains(code))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participants_credential_relays_to_the_salon_node_and_nothing_else_local() {
    let turn = Coturn::start(SECRET, Ipv4Addr::LOCALHOST);
    let s = salon_with(&turn).await;
    let (_c, me, servers) = join_for_turn(&s).await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    let server = &servers[0];
    assert_eq!(
        server.urls,
        [format!("turn:127.0.0.1:{}?transport=udp", turn.addr.port())]
    );
    // Minted for this participant, for the configured 10 minutes.
    let (expiry, who) = server.username.split_once(':').unwrap();
    assert_eq!(who, me);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "{expiry} vs {now}"
    );

    let media: SocketAddr = s.server.state.media.engine.advertised();
    let (username, password) = (server.username.clone(), server.credential.clone());
    let addr = turn.addr;
    tokio::task::spawn_blocking(move || {
        let mut client = TurnClient::new(addr, &username, &password);
        let relayed = client.allocate();
        assert!(matches!(relayed, Outcome::Ok(_)), "{relayed:?}");
        // The Salon node's media port: allowed.
        let salon = client.permit(media);
        assert_eq!(salon, Outcome::Ok(media));
        // Anything else on loopback, or in a private range: forbidden (403).
        for peer in [
            "127.0.0.2:9",
            "127.0.0.53:53",
            "10.0.0.1:80",
            "192.168.1.1:80",
        ] {
            let peer: SocketAddr = peer.parse().unwrap();
            let outcome = client.permit(peer);
            assert!(refused_with(&outcome, "403"), "{peer}: {outcome:?}");
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_forged_credential_is_refused() {
    let turn = Coturn::start(SECRET, Ipv4Addr::LOCALHOST);
    let addr = turn.addr;
    tokio::task::spawn_blocking(move || {
        let past = SystemTime::now() - Duration::from_secs(60);
        let expired = salon_server::turn::Turn::from_settings(
            &[format!("turn:{addr}")],
            Some(SECRET),
            Duration::from_secs(60),
        )
        .unwrap()
        .unwrap()
        // Minted two minutes ago, for one minute: expired a minute ago.
        .credential("p1", past - Duration::from_secs(60));
        assert!(expired.expires_at().unwrap() < now_secs());
        let outcome = TurnClient::new(addr, &expired.username, &expired.credential).allocate();
        assert!(refused_with(&outcome, "401"), "expired: {outcome:?}");

        // A fresh username with a password not made with the secret.
        let username = format!("{}:p1", now_secs() + 600);
        let forged = salon_server::turn::password(b"not-the-secret-at-all", &username);
        let outcome = TurnClient::new(addr, &username, &forged).allocate();
        assert!(refused_with(&outcome, "401"), "forged: {outcome:?}");

        // The same username with the right password works (the refusals were about them).
        let good = salon_server::turn::password(SECRET.as_bytes(), &username);
        let outcome = TurnClient::new(addr, &username, &good).allocate();
        assert!(matches!(outcome, Outcome::Ok(_)), "{outcome:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn without_turn_settings_joined_has_no_ice_servers() {
    let s = TestServer::start().await;
    let (_c, _, servers) = join_for_turn(&s).await;
    assert!(servers.is_empty());
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
