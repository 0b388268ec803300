//! A scanner trying thousands of random room ids, over HTTP and WebSocket, from many addresses:
//! it is rate limited, every miss looks the same, and real rooms stay usable for their guests.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestServer, WsClient};
use salon_protocol::{ErrorCode, ServerMessage};

/// A random-looking 22-character id from a counter (deterministic, so failures reproduce).
fn fake_id(i: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5a10;
    (0..22)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ALPHABET[(x >> 58) as usize] as char
        })
        .collect()
}

#[tokio::test]
async fn thousands_of_guesses_are_slowed_down_and_learn_nothing() {
    let s = TestServer::start_behind_proxy().await;
    let server = &s.server;
    let base = server.url();
    let http = reqwest::Client::new();
    let real: serde_json::Value = http
        .post(format!("{base}/api/rooms"))
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let real_id = real["id"].as_str().unwrap().to_owned();

    // 3000 guesses spread over 10 addresses of one scanner. Each address may make 100 in a
    // burst and then 10 a second, so at most about 1000 + 100 per second of test get through.
    let started = std::time::Instant::now();
    let mut statuses = BTreeMap::new();
    let mut miss_bodies = BTreeSet::new();
    for i in 0..3000u64 {
        let address = format!("198.51.100.{}", i % 10);
        let r = http
            .get(format!("{base}/api/rooms/{}", fake_id(i)))
            .header("x-forwarded-for", address)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        *statuses.entry(status).or_insert(0u32) += 1;
        if status == 404 {
            miss_bodies.insert(r.text().await.unwrap());
        }
    }
    assert_eq!(
        statuses.get(&200),
        None,
        "a guess found a room: {statuses:?}"
    );
    let seconds = started.elapsed().as_secs_f64().ceil() as u32;
    let answered = statuses.get(&404).copied().unwrap_or(0);
    assert!(
        answered <= 1000 + 100 * seconds,
        "{answered} guesses answered in {seconds} s: {statuses:?}"
    );
    assert_eq!(
        answered + statuses.get(&429).copied().unwrap_or(0),
        3000,
        "{statuses:?}"
    );
    assert_eq!(
        miss_bodies.len(),
        1,
        "every miss must look the same: {miss_bodies:?}"
    );

    // Sockets: a guess answers room_not_found, exactly as for any wrong id, until the limit.
    let ws = |id: String| format!("ws://{}/api/rooms/{id}/ws", server.addr);
    let mut codes = BTreeMap::new();
    for i in 0..120u64 {
        let (_c, reply) = WsClient::connect_as(&ws(fake_id(10_000 + i)), "Scan", None, None).await;
        match reply {
            ServerMessage::Error {
                code, fatal: true, ..
            } => *codes.entry(format!("{code:?}")).or_insert(0) += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        codes.contains_key(&format!("{:?}", ErrorCode::RoomNotFound)),
        "{codes:?}"
    );
    assert!(
        codes.contains_key(&format!("{:?}", ErrorCode::RateLimited)),
        "{codes:?}"
    );
    assert_eq!(codes.len(), 2, "{codes:?}");

    // The real room still answers its guests, who come from elsewhere.
    let r = http
        .get(format!("{base}/api/rooms/{real_id}"))
        .header("x-forwarded-for", "203.0.113.50")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
