//! When the server offers, through real WebRTC: changes are batched (a newcomer's audio and
//! video, a join wave), and a client's own extra offers change nothing for the others.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::rtc::RtcClient;
use common::{TestServer, eventually};
use salon_protocol::{ClientMessage, ErrorCode, ServerMessage};
use webrtc::peer_connection::RTCSessionDescription;

async fn pump_all(clients: &mut [&mut RtcClient], d: Duration) {
    futures_util::future::join_all(clients.iter_mut().map(|c| c.pump(d))).await;
}

fn flowing(to: &RtcClient, from: &RtcClient) -> bool {
    let r = to.received_from(&from.id);
    r.audio_packets > 10 && r.video_packets > 5
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomers_audio_and_video_cost_one_offer_and_a_wave_a_few() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    a.pump(Duration::from_millis(500)).await;
    let before = a.server_offers;

    let mut b = RtcClient::join(&url, "B").await;
    let ok = eventually(Duration::from_secs(15), async || {
        pump_all(&mut [&mut a, &mut b], Duration::from_millis(300)).await;
        flowing(&a, &b) && flowing(&b, &a)
    })
    .await;
    assert!(ok, "no media between A and B");
    pump_all(&mut [&mut a, &mut b], Duration::from_millis(500)).await;
    assert_eq!(
        a.server_offers - before,
        1,
        "B's audio and video in one offer"
    );
    assert_eq!(b.server_offers, 1, "A's tracks in one offer");

    // Three people at once.
    let before = a.server_offers;
    let (c, d, e) = tokio::join!(
        RtcClient::join(&url, "C"),
        RtcClient::join(&url, "D"),
        RtcClient::join(&url, "E")
    );
    let (mut c, mut d, mut e) = (c, d, e);
    let ok = eventually(Duration::from_secs(20), async || {
        pump_all(
            &mut [&mut a, &mut b, &mut c, &mut d, &mut e],
            Duration::from_millis(300),
        )
        .await;
        [&c, &d, &e].iter().all(|n| flowing(&a, n)) && flowing(&e, &a) && flowing(&c, &d)
    })
    .await;
    assert!(ok, "not all tracks flow after the wave");
    pump_all(
        &mut [&mut a, &mut b, &mut c, &mut d, &mut e],
        Duration::from_millis(500),
    )
    .await;
    let wave = a.server_offers - before;
    assert!(wave <= 3, "{wave} offers to A for a wave of three");
    for n in [&c, &d, &e] {
        assert!(
            n.server_offers <= 3,
            "{} offers to a newcomer",
            n.server_offers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_extra_offers_change_nothing_for_the_others() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    let mut m = RtcClient::join(&url, "Mallory").await;
    let ok = eventually(Duration::from_secs(15), async || {
        pump_all(&mut [&mut a, &mut m], Duration::from_millis(300)).await;
        flowing(&a, &m) && flowing(&m, &a)
    })
    .await;
    assert!(ok, "no media to start with");
    let offers_to_a = a.server_offers;

    // Mallory re-offers ten times, each with one more media section.
    let mut refusals = 0;
    for _ in 0..10 {
        m.pc.add_transceiver_from_kind(rtc::rtp_transceiver::rtp_sender::RtpCodecKind::Video, None)
            .await
            .unwrap();
        let offer = m.pc.create_offer(None).await.unwrap();
        m.pc.set_local_description(offer).await.unwrap();
        let sdp = m.pc.local_description().await.unwrap().sdp;
        m.ws.send(&ClientMessage::Offer { sdp }).await;
        let seen = m.pump(Duration::from_millis(300)).await;
        refusals += seen
            .iter()
            .filter(|msg| {
                matches!(msg, ServerMessage::Error { code: ErrorCode::NegotiationFailed, fatal: false, message }
                    if message.contains("may not add media sections"))
            })
            .count();
        // Back to the negotiated state on Mallory's side.
        m.pc.set_local_description(RTCSessionDescription::default())
            .await
            .ok();
    }
    assert_eq!(refusals, 10, "every extra offer refused, clearly");
    pump_all(&mut [&mut a, &mut m], Duration::from_secs(1)).await;
    assert_eq!(a.server_offers, offers_to_a, "A was offered nothing new");
    let before = a.received_from(&m.id).audio_packets;
    let ok = eventually(Duration::from_secs(5), async || {
        pump_all(&mut [&mut a, &mut m], Duration::from_millis(300)).await;
        a.received_from(&m.id).audio_packets > before + 10
    })
    .await;
    assert!(ok, "Mallory's media stopped reaching A");
}
