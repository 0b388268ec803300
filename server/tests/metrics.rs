//! `GET /metrics` through a real call: packets, offers, joins and the join-to-media time are
//! counted, and nothing in the output names a room.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::rtc::RtcClient;
use common::{TestServer, eventually};

/// The value of the sample line `name` (exact series, labels included).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn scrape(s: &TestServer) -> String {
    let r = reqwest::get(format!("{}/metrics", s.url())).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_shows_in_the_metrics_and_no_room_does() {
    let s = TestServer::start().await;
    let idle = scrape(&s).await;
    assert_eq!(sample(&idle, "salon_rooms"), Some(0.0));
    assert_eq!(
        sample(&idle, "salon_rtp_forwarded_packets_total"),
        Some(0.0)
    );

    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    let mut b = RtcClient::join(&url, "B").await;
    let b_id = b.id.clone();
    let flowing = eventually(Duration::from_secs(15), async || {
        futures_util::future::join(
            a.pump(Duration::from_millis(300)),
            b.pump(Duration::from_millis(300)),
        )
        .await;
        a.received_from(&b_id).audio_packets > 20
    })
    .await;
    assert!(flowing, "no media");

    let text = scrape(&s).await;
    assert_eq!(sample(&text, "salon_rooms"), Some(1.0));
    assert_eq!(sample(&text, "salon_participants"), Some(2.0));
    assert_eq!(sample(&text, "salon_joins_total"), Some(2.0));
    assert!(
        sample(&text, "salon_offers_total").unwrap() >= 2.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "salon_join_to_media_seconds_count"),
        Some(2.0)
    );
    let received = sample(&text, "salon_rtp_received_packets_total").unwrap();
    let forwarded = sample(&text, "salon_rtp_forwarded_packets_total").unwrap();
    assert!(received > 20.0 && forwarded > 20.0, "{text}");
    // Two people: each packet goes to one subscriber at most.
    assert!(forwarded <= received, "{text}");
    // Server-wide only: no room link or key, no participant id.
    assert!(!text.contains(&id) && !text.contains(&b_id), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_live_on_their_own_address_and_then_only_there() {
    let s = TestServer::start_configured(|c| {
        c.metrics_bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let at = s.server.metrics_addr.expect("a metrics address");
    assert_ne!(at, s.server.addr);
    let r = reqwest::get(format!("http://{at}/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert_eq!(sample(&text, "salon_rooms"), Some(0.0), "{text}");
    assert!(text.contains("salon_media_connections"));
    // Not on the public address any more, and nothing else on the metrics one.
    let main = reqwest::get(format!("{}/metrics", s.url())).await.unwrap();
    assert_eq!(main.status(), 404);
    let other = reqwest::get(format!("http://{at}/api/rooms/x"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}
