//! ICE-TCP: a client whose network lets no UDP through reaches the media engine over its TCP
//! port (RFC 6544 passive candidate, RFC 4571 framing), through real WebRTC (webrtc-rs as the
//! active side); and what a stranger's TCP connections to that port can do (nothing lasting).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestServer;
use common::rtc::{JoinOptions, RtcClient};

/// Waits up to `within` for the server to end `stream` (EOF or reset), and says how long it took.
fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 512];
    while started.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

/// Whether the server has ended `stream` already (without waiting).
fn closed_now(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let closed = match stream.peek(&mut [0u8; 1]) {
        Ok(n) => n == 0,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// A client with no UDP socket: ICE-TCP is its only way in.
async fn join_over_tcp(url: &str) -> RtcClient {
    let options = JoinOptions {
        tcp_only: true,
        ..JoinOptions::default()
    };
    RtcClient::join_with(url, "A", options).await
}

/// Pumps both clients until each got audio and video from the other (15 s at most).
async fn media_both_ways(a: &mut RtcClient, b: &mut RtcClient) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        futures_util::future::join_all([
            a.pump(Duration::from_secs(1)),
            b.pump(Duration::from_secs(1)),
        ])
        .await;
        let (ab, ba) = (a.received_from(&b.id), b.received_from(&a.id));
        if ab.audio_packets > 20
            && ab.video_packets > 10
            && ba.audio_packets > 20
            && ba.video_packets > 10
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "media over ICE-TCP did not flow both ways: A got {ab:?}, B got {ba:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_udp_gets_in_over_ice_tcp_and_media_flows_both_ways() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let engine = s.server.state.media.engine.clone();
    let tcp = engine.advertised_tcp().expect("ICE-TCP is on by default");

    let mut a = join_over_tcp(&url).await;
    // The answer offers UDP first, then the passive TCP candidate at a lower priority.
    let answer = a.first_answer.clone();
    let udp_at = answer.find(" udp ").expect("a UDP candidate");
    let tcp_line = answer
        .lines()
        .find(|l| l.contains(" tcp "))
        .expect("a TCP candidate");
    assert!(answer.find(" tcp ").unwrap() > udp_at);
    assert!(tcp_line.contains(&format!(
        " {} {} typ host tcptype passive",
        tcp.ip(),
        tcp.port()
    )));

    let mut b = RtcClient::join(&url, "B").await;
    media_both_ways(&mut a, &mut b).await;
    // A's media is on one stream, tied to its connection; B's is on UDP.
    assert_eq!(engine.tcp_streams().await, (1, 1));

    // A leaves: its stream is closed with its connection.
    a.leave().await;
    common::eventually(Duration::from_secs(5), || {
        let engine = engine.clone();
        async move { engine.tcp_streams().await == (0, 0) }
    })
    .await;
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_on_the_tcp_port_are_cut_off_and_cannot_crowd_it() {
    let s = TestServer::start().await;
    let engine = s.server.state.media.engine.clone();
    let tcp = engine.advertised_tcp().unwrap();

    // Something that is not a connectivity check: closed at once.
    let mut http = TcpStream::connect(tcp).unwrap();
    http.write_all(b"\x00\x10GET / HTTP/1.1\r\n\r\n").unwrap();
    assert!(closed_within(&mut http, Duration::from_secs(2)).is_some());

    // A well-formed STUN binding request naming no connection of ours: closed too.
    let mut stun = vec![0x00, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[7u8; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x07]);
    stun.extend_from_slice(b"nobody:x\x00");
    let mut framed = (stun.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&stun);
    let mut check = TcpStream::connect(tcp).unwrap();
    check.write_all(&framed).unwrap();
    assert!(closed_within(&mut check, Duration::from_secs(2)).is_some());

    // A frame longer than any datagram: closed before its bytes are waited for.
    let mut big = TcpStream::connect(tcp).unwrap();
    big.write_all(&[0xff, 0xff, 0x00]).unwrap();
    assert!(closed_within(&mut big, Duration::from_secs(2)).is_some());

    // Silent connections: one address holds at most 8 that name nothing (per media thread;
    // the test server runs 2): the others are closed at once, and the kept ones after 5 s.
    let mut idle: Vec<TcpStream> = (0..24).map(|_| TcpStream::connect(tcp).unwrap()).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (open, bound) = engine.tcp_streams().await;
    assert_eq!(bound, 0);
    assert!(
        (1..=16).contains(&open),
        "{open} silent streams kept from one address"
    );
    let cut = idle.iter().filter(|s| closed_now(s)).count();
    assert_eq!(
        cut,
        24 - open,
        "the refused streams were not closed at once"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(2)).is_some(),
            "a silent stream stayed open past 5 s"
        );
    }
    assert_eq!(engine.tcp_streams().await, (0, 0));

    // The port still takes a real client afterwards.
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = join_over_tcp(&url).await;
    let mut b = RtcClient::join(&url, "B").await;
    media_both_ways(&mut a, &mut b).await;
}
