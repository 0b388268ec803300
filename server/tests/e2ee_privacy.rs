//! The server holds nothing of an encrypted room's keys (ADR 0003 §7): after key traffic
//! (commitments, announcements, boxes, a rotation), neither its logs (captured at trace level
//! for the server's own code), nor its database file's bytes, nor its metrics contain a
//! commitment, public key, MAC or box.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{TestServer, WsClient, b64, e2ee_commit};
use salon_protocol::{
    ClientMessage, E2eeBox, E2eeJoin, MediaState, PROTOCOL_VERSION, ServerMessage,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_traffic_leaves_no_trace_in_logs_database_or_metrics() {
    let captured = common::capture_logs();

    let s = TestServer::start().await;
    let created = s
        .create_room_with(serde_json::json!({ "e2ee": true }))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let host_key = created["host_key"].as_str().unwrap().to_owned();

    // Every secret-ish string the clients send: random, so a hit cannot be a coincidence.
    let mut secrets = Vec::new();
    let mut clients = Vec::new();
    for n in 0..3u8 {
        let public: [u8; 32] = rand::random();
        let mac: [u8; 32] = rand::random();
        secrets.extend([b64(&public), e2ee_commit(&public), b64(&mac)]);
        let mut c = WsClient::connect(&s.ws_url(&id)).await;
        c.send(&ClientMessage::Join {
            version: PROTOCOL_VERSION,
            name: format!("P{n}"),
            media: MediaState::default(),
            resume: None,
            host_key: (n == 0).then(|| host_key.clone()),
            device: None,
            keep_media: false,
            e2ee: Some(E2eeJoin {
                commit: e2ee_commit(&public),
            }),
        })
        .await;
        let ServerMessage::Joined { participant_id, .. } = c.recv().await.unwrap() else {
            panic!("not joined");
        };
        c.send(&ClientMessage::E2eeAnnounce {
            public: b64(&public),
            mac: b64(&mac),
        })
        .await;
        clients.push((c, participant_id));
    }
    let ids: Vec<String> = clients.iter().map(|(_, id)| id.clone()).collect();
    for (c, me) in &mut clients {
        let boxes: Vec<E2eeBox> = ids
            .iter()
            .filter(|to| *to != me)
            .map(|to| {
                let sealed: [u8; 53] = std::array::from_fn(|_| rand::random());
                E2eeBox {
                    to: to.clone(),
                    sealed: b64(&sealed),
                }
            })
            .collect();
        secrets.extend(boxes.iter().map(|b| b.sealed.clone()));
        c.send(&ClientMessage::E2eeKeys { boxes }).await;
    }
    // Every box arrives (so the relay really ran), then a rotation and everyone leaves.
    for (c, _) in &mut clients {
        for _ in 0..2 {
            c.recv_until(|m| matches!(m, ServerMessage::E2eeKey { .. }).then_some(()))
                .await;
        }
    }
    clients[0]
        .0
        .send(&ClientMessage::RotateLink { e2ee: true })
        .await;
    clients[0]
        .0
        .recv_until(|m| matches!(m, ServerMessage::RoomUpdated { .. }).then_some(()))
        .await;
    for (mut c, _) in clients {
        c.send(&ClientMessage::Leave).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logs = captured.text();
    assert!(
        logs.contains("participant joined"),
        "capture works:\n{logs}"
    );
    let metrics = s.metrics().await;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(s.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(files.iter().any(|(p, _)| p.ends_with("salon.db")));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "key material in the logs");
        assert!(
            !metrics.contains(secret.as_str()),
            "key material in the metrics"
        );
        // The raw bytes too, in case something stored them decoded.
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .unwrap();
        for (path, bytes) in &files {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes())
                    && !bytes.windows(raw.len()).any(|w| w == raw.as_slice()),
                "key material in {}",
                path.display()
            );
        }
    }
}
