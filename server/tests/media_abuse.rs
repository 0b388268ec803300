//! Media resources against abuse, through real sockets and real WebRTC: seats and UDP ports are
//! taken late and given back early, churn does not grow anyone's SDP, hostile candidates make
//! the server send almost nothing, and the server does no mDNS at all.
//!
//! Every client here runs without mDNS, so the mDNS test can check that no socket of this
//! process listens on port 5353.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::rtc::{JoinOptions, RtcClient, add_to_first_media};
use common::{TestServer, WsClient};
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use salon_protocol::{ClientMessage, ErrorCode, IceCandidate, ServerMessage};
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, SettingEngineBuilder};

/// Pumps every client's signaling for `d`.
async fn pump_all(clients: &mut [&mut RtcClient], d: Duration) {
    let futures = clients.iter_mut().map(|c| c.pump(d));
    futures_util::future::join_all(futures).await;
}

async fn join(url: &str, name: &str) -> RtcClient {
    RtcClient::join_with(url, name, JoinOptions::default()).await
}

/// A peer connection that only makes offers (no mDNS, a socket on 127.0.0.1).
async fn offering_pc() -> Arc<dyn PeerConnection> {
    use rtc::ice::mdns::MulticastDnsMode;
    let mut me = MediaEngine::default();
    me.register_default_codecs().unwrap();
    let pc: Arc<dyn PeerConnection> = Arc::new(
        PeerConnectionBuilder::new()
            .with_media_engine(me)
            .with_setting_engine(
                SettingEngineBuilder::new()
                    .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                    .build(),
            )
            .with_handler(
                salon_rtc::events::ChannelHandler::new().0
                    as Arc<dyn webrtc::peer_connection::PeerConnectionEventHandler>,
            )
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .unwrap(),
    );
    for kind in [RtpCodecKind::Audio, RtpCodecKind::Video] {
        pc.add_transceiver_from_kind(
            kind,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                streams: vec![],
                send_encodings: vec![],
            }),
        )
        .await
        .unwrap();
    }
    pc
}

/// A valid offer without candidates (the peer connection never learns the answer, so it never
/// connects).
async fn bare_offer() -> (Arc<dyn PeerConnection>, String) {
    let pc = offering_pc().await;
    let offer = pc.create_offer(None).await.unwrap();
    pc.set_local_description(offer).await.unwrap();
    let sdp = pc.local_description().await.unwrap().sdp;
    let sdp = sdp
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("a=candidate:") && !l.starts_with("a=end-of-candidates"))
        .collect::<String>();
    (pc, sdp)
}

async fn expect_answer(ws: &mut WsClient) -> String {
    ws.recv_until(|m| match m {
        ServerMessage::Answer { sdp } => Some(sdp.clone()),
        ServerMessage::Error { code, message, .. } => panic!("{code:?}: {message}"),
        _ => None,
    })
    .await
}

/// The fatal error that ends a connection, skipping room events.
async fn fatal_error(ws: &mut WsClient) -> (ErrorCode, String) {
    ws.recv_until(|m| match m {
        ServerMessage::Error {
            code,
            message,
            fatal: true,
        } => Some((*code, message.clone())),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_that_never_offer_take_no_media_state_and_are_released_after_the_bound() {
    let s = TestServer::start_configured(|c| c.behind_proxy = true).await;
    s.server
        .state
        .media
        .connect_timeout
        .set(Duration::from_millis(1500));
    let engine = s.server.state.media.engine.clone();
    let mut rooms = Vec::new();
    for _ in 0..5 {
        rooms.push(s.room_id().await);
    }
    let mut idle = Vec::new();
    for i in 0..200usize {
        let room = &rooms[i % rooms.len()];
        let from = format!("198.51.{}.{}", 100 + i / 200, 1 + i % 200);
        let mut c = WsClient::connect_from(&s.ws_url(room), &from).await;
        c.send_join(&format!("Idle {i}"), None).await;
        match c.recv().await {
            Some(ServerMessage::Joined { .. }) => {}
            other => panic!("join {i} got {other:?}"),
        }
        idle.push(c);
    }
    assert_eq!(
        engine.legs().await,
        0,
        "joins without an offer made peer connections"
    );

    // Nobody connected media: each is told so and let go, and every seat is free again.
    for c in &mut idle {
        let (code, message) = fatal_error(c).await;
        assert_eq!(code, ErrorCode::NegotiationFailed, "{message}");
        assert!(message.contains("did not connect"), "{message}");
    }
    for room in &rooms {
        let s = &s;
        assert!(
            common::eventually(Duration::from_secs(5), async || s.participants(room).await
                == 0)
            .await,
            "seats still held in {room}"
        );
    }
    assert_eq!(engine.legs().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_whose_media_never_connects_frees_its_seat_and_connection() {
    let s = TestServer::start().await;
    s.server
        .state
        .media
        .connect_timeout
        .set(Duration::from_millis(1500));
    let engine = s.server.state.media.engine.clone();
    let id = s.room_id().await;
    let (mut ws, _) = WsClient::joined(&s.ws_url(&id), "Stalls").await;
    assert_eq!(engine.legs().await, 0, "a connection made before any offer");
    let (_pc, sdp) = bare_offer().await;
    ws.send(&ClientMessage::Offer { sdp }).await;
    expect_answer(&mut ws).await;
    assert_eq!(engine.legs().await, 1, "the offer makes one connection");

    let started = std::time::Instant::now();
    let (code, message) = fatal_error(&mut ws).await;
    assert_eq!(code, ErrorCode::NegotiationFailed);
    assert!(message.contains("did not connect"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(
        common::eventually(Duration::from_secs(5), async || engine.legs().await == 0).await,
        "connection still held"
    );
    assert_eq!(s.participants(&id).await, 0);
}

/// `m=` sections in an SDP.
fn sections(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.starts_with("m=")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_does_not_grow_the_sdp_and_a_latecomer_still_reaches_the_victim() {
    const ROUNDS: usize = 16;
    const GUESTS: usize = 4;
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut victim = join(&url, "Victim").await;
    victim.pump(Duration::from_millis(300)).await;
    let mut most_sections = 0;
    for round in 0..ROUNDS {
        let mut guests = Vec::new();
        for g in 0..GUESTS {
            guests.push(join(&url, &format!("Guest {round}.{g}")).await);
        }
        // Each guest publishes and the victim receives every one of them (on reused sections).
        let mut reached = false;
        for _ in 0..40 {
            let mut all: Vec<&mut RtcClient> = guests.iter_mut().collect();
            all.push(&mut victim);
            pump_all(&mut all, Duration::from_millis(250)).await;
            if guests.iter().all(|g| {
                let r = victim.received_from(&g.id);
                r.audio_packets > 0 && r.video_packets > 0
            }) {
                reached = true;
                break;
            }
        }
        assert!(
            reached,
            "round {round}: the victim did not receive every guest: {:?}",
            guests
                .iter()
                .map(|g| victim.received_from(&g.id))
                .collect::<Vec<_>>()
        );
        for g in guests {
            g.leave().await;
        }
        victim.pump(Duration::from_millis(300)).await;
        let offer = victim.last_server_offer().await.unwrap();
        most_sections = most_sections.max(sections(&offer));
    }
    let offer = victim.last_server_offer().await.unwrap();
    println!(
        "after {} join/publish/leave cycles: {} m-sections (most {most_sections}), {} bytes",
        ROUNDS * GUESTS,
        sections(&offer),
        offer.len()
    );
    // Its own two, plus two per concurrent publisher; parked sections are reused.
    let bound = 2 + 2 * GUESTS * 2;
    assert!(most_sections <= bound, "{most_sections} m-sections");
    assert!(offer.len() < 40 * 1024, "{} bytes", offer.len());

    let mut late = join(&url, "Latecomer").await;
    let mut ok = false;
    for _ in 0..40 {
        pump_all(&mut [&mut victim, &mut late], Duration::from_millis(250)).await;
        if victim.received_from(&late.id).video_packets > 10
            && victim.received_from(&late.id).audio_packets > 10
            && late.received_from(&victim.id).video_packets > 10
        {
            ok = true;
            break;
        }
    }
    assert!(
        ok,
        "victim <- latecomer {:?}; latecomer <- victim {:?}",
        victim.received_from(&late.id),
        late.received_from(&victim.id)
    );
}

/// The next server offer or error for `c`, skipping room events.
async fn next_offer_or_error(c: &mut RtcClient) -> ServerMessage {
    c.ws.recv_until(|m| match m {
        ServerMessage::Offer { .. } | ServerMessage::Error { .. } => Some(m.clone()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_answer_gets_an_error_and_a_fresh_offer() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut victim = join(&url, "Victim").await;
    let mut publisher = join(&url, "Publisher").await;
    publisher.pump(Duration::from_millis(500)).await;
    let ServerMessage::Offer { .. } = next_offer_or_error(&mut victim).await else {
        panic!("expected an offer");
    };

    // An answer that does not parse: an error, then a fresh offer at once.
    victim
        .ws
        .send(&ClientMessage::Answer {
            sdp: "v=0\r\nthis is not sdp\r\n".into(),
        })
        .await;
    match next_offer_or_error(&mut victim).await {
        ServerMessage::Error { code, fatal, .. } => {
            assert_eq!((code, fatal), (ErrorCode::NegotiationFailed, false));
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let ServerMessage::Offer { .. } = next_offer_or_error(&mut victim).await else {
        panic!("expected a fresh offer");
    };

    // An answer over the SDP size limit never reaches the session (the socket refuses it): an
    // error, and a fresh offer after a few seconds.
    let huge = format!("v=0\r\n{}", "a=x-padding\r\n".repeat(20_000));
    victim.ws.send(&ClientMessage::Answer { sdp: huge }).await;
    match next_offer_or_error(&mut victim).await {
        ServerMessage::Error { fatal, .. } => assert!(!fatal),
        other => panic!("expected an error, got {other:?}"),
    }
    let started = std::time::Instant::now();
    let ServerMessage::Offer { sdp } = next_offer_or_error(&mut victim).await else {
        panic!("expected a fresh offer");
    };
    assert!(started.elapsed() < Duration::from_secs(8));

    // Answered properly, the call goes on.
    victim
        .pc
        .set_remote_description(RTCSessionDescription::offer(sdp).unwrap())
        .await
        .unwrap();
    let answer = victim.pc.create_answer(None).await.unwrap();
    victim.pc.set_local_description(answer).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sdp = victim.pc.local_description().await.unwrap().sdp;
    victim.ws.send(&ClientMessage::Answer { sdp }).await;
    let mut ok = false;
    for _ in 0..30 {
        pump_all(
            &mut [&mut victim, &mut publisher],
            Duration::from_millis(300),
        )
        .await;
        if victim.received_from(&publisher.id).video_packets > 10 {
            ok = true;
            break;
        }
    }
    assert!(ok, "{:?}", victim.received_from(&publisher.id));
}

/// Counts the datagrams and bytes that arrive on `sockets` during `window`.
async fn count_arrivals(sockets: Vec<tokio::net::UdpSocket>, window: Duration) -> (usize, usize) {
    let counts = sockets.into_iter().map(|socket| async move {
        let mut buf = [0u8; 2048];
        let (mut packets, mut bytes) = (0, 0);
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            packets += 1;
            bytes += n;
        }
        (packets, bytes)
    });
    futures_util::future::join_all(counts)
        .await
        .into_iter()
        .fold((0, 0), |(p, b), (p2, b2)| (p + p2, b + b2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_candidates_make_the_server_send_little_stun() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (mut ws, _) = WsClient::joined(&s.ws_url(&id), "Reflector").await;
    // The "victim": a hundred UDP sockets on another loopback address.
    let mut sockets = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..100 {
        let socket = tokio::net::UdpSocket::bind("127.0.0.3:0").await.unwrap();
        ports.push(socket.local_addr().unwrap().port());
        sockets.push(socket);
    }
    // 100 candidates in the offer, one per socket, then 50 more trickled (other attributes,
    // same sockets).
    let named = |i: usize| {
        format!(
            "candidate:{} 1 udp {} 127.0.0.3 {} typ host",
            1000 + i,
            2_000_000_000 - i,
            ports[i % ports.len()]
        )
    };
    let lines: Vec<String> = (0..100).map(named).collect();
    let (_pc, sdp) = bare_offer().await;
    ws.send(&ClientMessage::Offer {
        sdp: add_to_first_media(&sdp, &lines),
    })
    .await;
    expect_answer(&mut ws).await;
    for i in 100..150 {
        ws.send(&ClientMessage::IceCandidate(IceCandidate {
            candidate: named(i),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: None,
        }))
        .await;
    }
    let (packets, bytes) = count_arrivals(sockets, Duration::from_secs(5)).await;
    println!("150 named candidates: {packets} datagrams, {bytes} bytes to the named sockets");
    // At most 8 addresses, each checked 3 times.
    assert!(packets <= 24, "{packets} datagrams ({bytes} bytes)");
}

/// Inodes of this process's UDP sockets bound to `port` (IPv4 and IPv6).
fn own_udp_sockets_on(port: u16) -> Vec<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/self/net/udp", "/proc/self/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(local) = fields.get(1) else { continue };
            let Some((_, hex_port)) = local.rsplit_once(':') else {
                continue;
            };
            if u16::from_str_radix(hex_port, 16).ok() == Some(port)
                && let Some(inode) = fields.get(9)
            {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    let mut mine = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for entry in dir.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().into_owned();
                if inodes.contains(&target) {
                    mine.push(target);
                }
            }
        }
    }
    mine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mdns_candidates_make_no_multicast_and_the_call_connects() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let names: Vec<String> = (0..50)
        .map(|i| {
            format!("candidate:{} 1 udp 2122260223 {i:08x}-1f2e-4d3c-8b7a-0123456789ab.local 5{i:04} typ host", 7000 + i)
        })
        .collect();
    let in_offer = names.clone();
    let mut a = join(&url, "Plain").await;
    let mut b = RtcClient::join_with(
        &url,
        "Local names",
        JoinOptions {
            edit_offer: Some(Box::new(move |sdp| add_to_first_media(&sdp, &in_offer))),
            ..JoinOptions::default()
        },
    )
    .await;
    for (i, name) in names.iter().enumerate() {
        b.ws.send(&ClientMessage::IceCandidate(IceCandidate {
            candidate: name.replace("candidate:7", &format!("candidate:9{i}")),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: None,
        }))
        .await;
    }
    let mut ok = false;
    for _ in 0..30 {
        pump_all(&mut [&mut a, &mut b], Duration::from_millis(300)).await;
        if a.received_from(&b.id).video_packets > 10 && b.received_from(&a.id).video_packets > 10 {
            ok = true;
            break;
        }
    }
    assert!(
        ok,
        "a <- b {:?}; b <- a {:?}",
        a.received_from(&b.id),
        b.received_from(&a.id)
    );
    let mdns = own_udp_sockets_on(5353);
    assert!(mdns.is_empty(), "mDNS sockets open: {mdns:?}");
}
