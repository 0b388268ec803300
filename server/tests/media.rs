//! Real WebRTC through the SFU: native test participants publish RTP, and every other
//! participant receives it rewritten for its own leg.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::TestServer;
use common::rtc::RtcClient;
use salon_protocol::ServerMessage;

/// Pumps every client's signaling for `d`.
async fn pump_all(clients: &mut [&mut RtcClient], d: Duration) {
    let futures = clients.iter_mut().map(|c| c.pump(d));
    futures_util::future::join_all(futures).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_receive_each_other() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "Ada").await;
    let mut b = RtcClient::join(&url, "Bo").await;
    let mut c = RtcClient::join(&url, "Cy").await;

    let mut ok = false;
    for _ in 0..30 {
        pump_all(&mut [&mut a, &mut b, &mut c], Duration::from_millis(500)).await;
        let pairs = [
            (&a, &b.id),
            (&a, &c.id),
            (&b, &a.id),
            (&b, &c.id),
            (&c, &a.id),
            (&c, &b.id),
        ];
        if pairs.iter().all(|(rx, from)| {
            let r = rx.received_from(from);
            r.audio_packets > 20 && r.video_packets > 10
        }) {
            ok = true;
            break;
        }
    }
    let report = |x: &RtcClient, from: &str| x.received_from(from);
    assert!(
        ok,
        "not everyone received everyone: a<-b {:?}, a<-c {:?}, b<-a {:?}, c<-a {:?}",
        report(&a, &b.id),
        report(&a, &c.id),
        report(&b, &a.id),
        report(&c, &a.id)
    );

    // Each leg gets one SSRC per track, payloads untouched.
    let r = a.received_from(&b.id);
    assert_eq!(r.ssrcs.len(), 2, "{r:?}");
    assert!(
        // Audio payloads are the text; video ones a NAL header byte and the text.
        String::from_utf8_lossy(&r.last_payload).contains("salon-test-"),
        "{r:?}"
    );
    // Publishers were asked for keyframes when subscribers arrived.
    assert!(b.keyframe_requests() > 0 && c.keyframe_requests() > 0);

    // Someone leaves: the others are told, and media from them stops.
    let c_id = c.id.clone();
    c.leave().await;
    let mut told = 0;
    for x in [&mut a, &mut b] {
        let seen = x.pump(Duration::from_secs(3)).await;
        if seen
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == c_id))
        {
            told += 1;
        }
    }
    assert_eq!(told, 2);
    let before = a.received_from(&c_id).audio_packets;
    a.pump(Duration::from_secs(1)).await;
    assert_eq!(
        a.received_from(&c_id).audio_packets,
        before,
        "media from a leaver keeps coming"
    );
    // A and B still hear each other.
    let before = a.received_from(&b.id).audio_packets;
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(1)).await;
    assert!(a.received_from(&b.id).audio_packets > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_receives_those_already_there() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "Early").await;
    a.pump(Duration::from_secs(1)).await;
    let mut late = RtcClient::join(&url, "Late").await;
    let mut ok = false;
    for _ in 0..20 {
        pump_all(&mut [&mut a, &mut late], Duration::from_millis(500)).await;
        if late.received_from(&a.id).video_packets > 10
            && a.received_from(&late.id).video_packets > 10
        {
            ok = true;
            break;
        }
    }
    assert!(
        ok,
        "late <- early {:?}; early <- late {:?}",
        late.received_from(&a.id),
        a.received_from(&late.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_vanishes_is_gone_for_the_others() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "Stays").await;
    let mut b = RtcClient::join(&url, "Vanishes").await;
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(2)).await;
    let b_id = b.id.clone();
    b.vanish().await;
    let seen = a.pump(Duration::from_secs(8)).await;
    assert!(
        seen.iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == b_id)),
        "{seen:?}"
    );
    assert_eq!(s.participants(&id).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_peer_connection_ends_the_participant_even_with_the_socket_open() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "Stays").await;
    let mut b = RtcClient::join(&url, "Loses media").await;
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(2)).await;
    let b_id = b.id.clone();
    // Media dies, signaling stays up (as when UDP is blocked mid-call).
    b.pc.close().await.unwrap();
    let seen = a.pump(Duration::from_secs(12)).await;
    assert!(
        seen.iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == b_id)),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_and_rooms_are_freed_when_everyone_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().to_owned());
    let server = salon_server::start(&config).await.unwrap();
    let http = reqwest::Client::new();
    let room: serde_json::Value = http
        .post(format!("{}/api/rooms", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "ws://{}/api/rooms/{}/ws",
        server.addr,
        room["id"].as_str().unwrap()
    );
    let engine = server.state.media.engine.clone();

    let mut a = RtcClient::join(&url, "A").await;
    let mut b = RtcClient::join(&url, "B").await;
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(1)).await;
    assert_eq!(engine.legs().await, 2);
    // Each client's address got a socket of its own on the media port (its connection's
    // worker reads it directly).
    assert!(engine.pins().await >= 2, "pins: {}", engine.pins().await);
    assert_eq!(server.state.hub.live_rooms(), 1);
    a.leave().await;
    b.vanish().await;
    let hub = server.state.hub.clone();
    assert!(
        common::eventually(Duration::from_secs(10), async || engine.legs().await == 0
            && engine.pins().await == 0
            && hub.live_rooms() == 0)
        .await,
        "media connections: {}, live rooms: {}",
        engine.legs().await,
        hub.live_rooms()
    );
}
