//! Simulcast through real WebRTC: a publisher sends three layers the way Chrome does (its offer
//! names them by rid only; mid and rid ride on each layer's first packets and then stop; each
//! layer's retransmissions go on an undeclared stream named only by repaired-rid), and each
//! subscriber gets the layer its view asks for, switching at a keyframe of the new layer.
//! A renegotiation of the publisher's connection (someone joins) must not lose its layers: `rtc`
//! 0.21 forgets rid-bound SSRCs at every renegotiation, and the engine keeps them itself
//! (`docs/adr/0002-simulcast.md`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::rtc::{JoinOptions, RtcClient};
use common::{TestServer, WsClient};
use rtc::interceptor::Registry;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_simulcast_extension_headers, register_default_interceptors,
};
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use salon_protocol::{ClientMessage, ServerMessage, Tile, TileSize};
use salon_rtc::keyframe::{self, KeyframeRequests};

use rtc::sdp::extmap::{
    SDES_MID_URI as MID_URI, SDES_REPAIR_RTP_STREAM_ID_URI as RRID_URI,
    SDES_RTP_STREAM_ID_URI as RID_URI,
};

/// The publisher's layers, lowest first: rid, and the marker byte that ends each payload.
const LAYERS: [(&str, u8); 3] = [("q", b'q'), ("h", b'h'), ("f", b'f')];

/// Each layer's payload size: at 30 packets a second about 19, 72 and 240 kb/s, so that the
/// layers cost what real ones do relative to each other (a subscriber's budget counts them).
const LAYER_BYTES: [usize; 3] = [80, 300, 1000];

/// H.264 like the test clients (they offer only the codecs they send, so they could not receive
/// VP8): layer heights are then unknown to the server, and views choose by size class.
const H264_FMTP: &str = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";

/// Packets per layer that carry mid and rid (Chrome stops once the receiver acknowledged the
/// SSRC).
const NAMED_PACKETS: u64 = 20;

/// A keyframe per layer every this many packets, besides the ones asked for (rare, so a
/// switch within a few hundred milliseconds shows that the server asked the right layer).
const KEYFRAME_EVERY: u64 = 600;

#[derive(Default)]
struct PublisherStats {
    /// Keyframe requests received per layer.
    keyframe_requests: [u64; 3],
    /// Offers from the server answered (renegotiations).
    offers_answered: u64,
    /// Packets sent per layer.
    sent: [u64; 3],
    /// Every `video_layers` received, in order.
    video_layers: Vec<Vec<String>>,
}

/// A publisher on a sans-IO `rtc` peer connection that sends one video track in three rid
/// layers (H.264-shaped payloads), driven by a task of its own.
struct SimulcastPublisher {
    id: String,
    stats: Arc<Mutex<PublisherStats>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SimulcastPublisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn transport(local: SocketAddr, peer: SocketAddr) -> TransportContext {
    TransportContext {
        local_addr: local,
        peer_addr: peer,
        ecn: None,
        transport_protocol: TransportProtocol::UDP,
    }
}

/// An H.264-shaped payload of `size` bytes: a sequence parameter set (a keyframe's start; one
/// the server cannot read a picture size from, so views choose by size class) or a non-IDR
/// slice, zeros, and the layer's marker byte last (upper case: the packet goes out as a
/// retransmission).
fn payload(keyframe: bool, marker: u8, size: usize) -> Bytes {
    let nal = if keyframe { 0x67 } else { 0x41 };
    let mut bytes = vec![0u8; size.max(4)];
    bytes[0] = nal;
    bytes[1] = 0x42;
    if let Some(last) = bytes.last_mut() {
        *last = marker;
    }
    Bytes::from(bytes)
}

/// How the publisher's retransmission streams look, as Chrome sends them: one per layer, on an
/// SSRC no SDP line declares, named by mid and repaired-rid on its first packets only.
#[derive(Default)]
struct RtxPlan {
    /// (media SSRC, RTX SSRC, rid) per layer.
    streams: Vec<(u32, u32, &'static str)>,
    payload_type: u8,
    mid_id: u8,
    rrid_id: u8,
    seq: [u16; 3],
    sent: [u64; 3],
}

/// The publisher's wire-most interceptor: every packet whose marker byte is upper case leaves
/// as an RFC 4588 retransmission instead (`rtc` cannot send on an undeclared SSRC itself). The
/// media stream then has a hole there that only the retransmission fills: a server that ignores
/// rid retransmissions forwards half the packets.
struct Rtxify {
    plan: Arc<Mutex<RtxPlan>>,
    writes: std::collections::VecDeque<rtc::interceptor::TaggedPacket>,
    reads: std::collections::VecDeque<rtc::interceptor::TaggedPacket>,
}

impl Protocol<rtc::interceptor::TaggedPacket, rtc::interceptor::TaggedPacket, ()> for Rtxify {
    type Rout = rtc::interceptor::TaggedPacket;
    type Wout = rtc::interceptor::TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: Self::Rout) -> Result<(), Self::Error> {
        self.reads.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, mut msg: Self::Wout) -> Result<(), Self::Error> {
        if let rtc::interceptor::Packet::Rtp(p) = &mut msg.message.packet
            && p.payload.last().is_some_and(u8::is_ascii_uppercase)
        {
            let mut plan = self.plan.lock().unwrap();
            if let Some(i) = plan.streams.iter().position(|s| s.0 == p.header.ssrc) {
                let (_, rtx, rid) = plan.streams[i];
                let mut payload = p.header.sequence_number.to_be_bytes().to_vec();
                payload.extend_from_slice(&p.payload);
                p.payload = Bytes::from(payload);
                p.header.ssrc = rtx;
                p.header.payload_type = plan.payload_type;
                plan.seq[i] = plan.seq[i].wrapping_add(1);
                p.header.sequence_number = plan.seq[i];
                if plan.sent[i] < NAMED_PACKETS {
                    p.header
                        .set_extension(plan.mid_id, Bytes::from("1"))
                        .unwrap();
                    p.header
                        .set_extension(plan.rrid_id, Bytes::from(rid))
                        .unwrap();
                }
                plan.sent[i] += 1;
            }
        }
        self.writes.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.writes.pop_front()
    }
}

impl rtc::interceptor::Interceptor for Rtxify {
    fn bind_local_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
    fn bind_remote_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
    fn unbind_remote_stream(&mut self, _info: &rtc::interceptor::StreamInfo) {}
}

impl SimulcastPublisher {
    async fn join(url: &str, name: &str) -> Self {
        let (mut ws, reply) = WsClient::connect_as(url, name, None, None).await;
        let ServerMessage::Joined { participant_id, .. } = reply else {
            panic!("expected joined, got {reply:?}");
        };
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut me = salon_rtc::media_engine().unwrap();
        configure_simulcast_extension_headers(&mut me).unwrap();
        let (requests, keyframe_requests) = tokio::sync::mpsc::channel(64);
        let rtx_plan = Arc::new(Mutex::new(RtxPlan::default()));
        let registry = register_default_interceptors(Registry::new(), &mut me)
            .unwrap()
            .with(
                keyframe::SLOT.into(),
                KeyframeRequests::reporting_to(requests),
            )
            .with(
                500.into(),
                Rtxify {
                    plan: rtx_plan.clone(),
                    writes: Default::default(),
                    reads: Default::default(),
                },
            );
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_interceptor_registry(registry)
            .build(Instant::now())
            .unwrap();
        pc.add_local_candidate(salon_rtc::host_candidate(local).unwrap())
            .unwrap();
        pc.add_local_candidate(Default::default()).unwrap();
        let h264 = RTCRtpCodec {
            mime_type: "video/H264".to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: H264_FMTP.to_owned(),
            rtcp_feedback: vec![],
        };
        let ssrcs: [u32; 3] = std::array::from_fn(|_| rand::random());
        let codings = LAYERS
            .iter()
            .zip(ssrcs)
            .map(|((rid, _), ssrc)| RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    rid: (*rid).to_owned(),
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: h264.clone(),
                ..Default::default()
            })
            .collect();
        // An audio section too, as a browser offers (never sent on: a muted microphone).
        let opus = RTCRtpCodec {
            mime_type: "audio/opus".to_owned(),
            clock_rate: 48_000,
            channels: 2,
            sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
            rtcp_feedback: vec![],
        };
        pc.add_track(MediaStreamTrack::new(
            format!("{participant_id}-stream"),
            format!("{participant_id}-mic"),
            "mic".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(rand::random()),
                    ..Default::default()
                },
                codec: opus,
                ..Default::default()
            }],
        ))
        .unwrap();
        let video = pc
            .add_track(MediaStreamTrack::new(
                format!("{participant_id}-stream"),
                format!("{participant_id}-cam"),
                "cam".to_owned(),
                RtpCodecKind::Video,
                codings,
            ))
            .unwrap();
        let offer = pc.create_offer(None).unwrap();
        pc.set_local_description(Instant::now(), offer).unwrap();
        let sdp = pc.local_description().unwrap().sdp;
        assert!(
            sdp.contains("a=simulcast:send q;h;f"),
            "not a simulcast offer:\n{sdp}"
        );
        ws.send(&ClientMessage::Offer { sdp }).await;
        let answer = ws
            .recv_until(|m| match m {
                ServerMessage::Answer { sdp } => Some(sdp.clone()),
                _ => None,
            })
            .await;
        assert!(
            answer.contains("a=simulcast:recv q;h;f"),
            "the server's answer does not receive simulcast:\n{answer}"
        );
        pc.set_remote_description(
            Instant::now(),
            RTCSessionDescription::answer(answer).unwrap(),
        )
        .unwrap();
        let stats = Arc::new(Mutex::new(PublisherStats::default()));
        // The retransmission streams, once the answer told the payload types and extension ids.
        {
            let mut sender = pc.rtp_sender(video).unwrap();
            let params = sender.get_parameters();
            let ext = |uri: &str| {
                params
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .find(|h| h.uri == uri)
                    .and_then(|h| u8::try_from(h.id).ok())
                    .unwrap()
            };
            let h264 = params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.sdp_fmtp_line == H264_FMTP)
                .map(|c| c.payload_type)
                .unwrap();
            let rtx = params
                .rtp_parameters
                .codecs
                .iter()
                .find(|c| c.rtp_codec.sdp_fmtp_line == format!("apt={h264}"))
                .map(|c| c.payload_type)
                .unwrap();
            let mut plan = rtx_plan.lock().unwrap();
            plan.payload_type = rtx;
            plan.mid_id = ext(MID_URI);
            plan.rrid_id = ext(RRID_URI);
            plan.streams = LAYERS
                .iter()
                .zip(ssrcs)
                .map(|((rid, _), ssrc)| (ssrc, rand::random(), *rid))
                .collect();
        }
        let task = tokio::spawn(run(
            pc,
            socket,
            ws,
            (video, ssrcs),
            keyframe_requests,
            stats.clone(),
        ));
        Self {
            id: participant_id,
            stats,
            task,
        }
    }

    fn keyframe_requests(&self) -> [u64; 3] {
        self.stats.lock().unwrap().keyframe_requests
    }

    fn offers_answered(&self) -> u64 {
        self.stats.lock().unwrap().offers_answered
    }

    fn sent(&self) -> [u64; 3] {
        self.stats.lock().unwrap().sent
    }

    /// The last `video_layers` received (`None`: none yet).
    fn video_layers(&self) -> Option<Vec<String>> {
        self.stats.lock().unwrap().video_layers.last().cloned()
    }
}

/// The publisher's loop: datagrams, timers, the server's offers, and a frame per layer every
/// 33 ms on the layers the server's `video_layers` lists (every layer until the first one; a
/// layer that comes back starts with a keyframe, as an encoder that restarts does).
async fn run(
    mut pc: RTCPeerConnection,
    socket: tokio::net::UdpSocket,
    mut ws: WsClient,
    (video, ssrcs): (RTCRtpSenderId, [u32; 3]),
    mut keyframe_requests: tokio::sync::mpsc::Receiver<u32>,
    stats: Arc<Mutex<PublisherStats>>,
) {
    let local = socket.local_addr().unwrap();
    let mut buf = vec![0u8; 2048];
    let mut frame = tokio::time::interval(Duration::from_millis(33));
    let mut sent = [0u64; 3];
    let mut seq: [u16; 3] = std::array::from_fn(|_| rand::random());
    let mut ts: [u32; 3] = std::array::from_fn(|_| rand::random());
    let mut keyframe_asked = [false; 3];
    let mut active = [true; 3];
    let mut connected = false;
    loop {
        let wake = pc
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| {
                t.saturating_duration_since(Instant::now())
            })
            .min(Duration::from_millis(50));
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = received {
                    let _ = pc.handle_read(TaggedBytesMut {
                        now: Instant::now(),
                        transport: transport(local, from),
                        message: BytesMut::from(&buf[..n]),
                    });
                }
            }
            message = ws.recv() => match message {
                Some(ServerMessage::Offer { sdp }) => {
                    let now = Instant::now();
                    pc.set_remote_description(now, RTCSessionDescription::offer(sdp).unwrap())
                        .unwrap();
                    let answer = pc.create_answer(None).unwrap();
                    pc.set_local_description(now, answer).unwrap();
                    let sdp = pc.local_description().unwrap().sdp;
                    ws.send(&ClientMessage::Answer { sdp }).await;
                    stats.lock().unwrap().offers_answered += 1;
                }
                Some(ServerMessage::VideoLayers { layers }) => {
                    for (i, (rid, _)) in LAYERS.iter().enumerate() {
                        let on = layers.iter().any(|l| l == rid);
                        if on && !active[i] {
                            keyframe_asked[i] = true;
                        }
                        active[i] = on;
                    }
                    stats.lock().unwrap().video_layers.push(layers);
                }
                Some(_) => {}
                None => return,
            },
            _ = frame.tick() => {
                // Media flows once DTLS is up (what went before would be lost, with its mid and
                // rid).
                if !connected {
                    continue;
                }
                let Some(mut sender) = pc.rtp_sender(video) else { continue };
                let params = sender.get_parameters();
                let ext = |uri: &str| {
                    params
                        .rtp_parameters
                        .header_extensions
                        .iter()
                        .find(|h| h.uri == uri)
                        .and_then(|h| u8::try_from(h.id).ok())
                };
                let (mid_id, rid_id) = (ext(MID_URI), ext(RID_URI));
                let pt = params
                    .rtp_parameters
                    .codecs
                    .iter()
                    .find(|c| c.rtp_codec.sdp_fmtp_line == H264_FMTP)
                    .map(|c| c.payload_type);
                let Some(pt) = pt else { continue };
                let mid = "1";
                for (i, (rid, marker)) in LAYERS.iter().enumerate() {
                    if !active[i] {
                        continue;
                    }
                    seq[i] = seq[i].wrapping_add(1);
                    ts[i] = ts[i].wrapping_add(3000);
                    let keyframe = sent[i].is_multiple_of(KEYFRAME_EVERY)
                        || std::mem::take(&mut keyframe_asked[i]);
                    let mut header = rtp::header::Header {
                        version: 2,
                        marker: true,
                        payload_type: pt,
                        sequence_number: seq[i],
                        timestamp: ts[i],
                        ssrc: ssrcs[i],
                        ..Default::default()
                    };
                    if sent[i] < NAMED_PACKETS
                        && let (Some(m), Some(r)) = (mid_id, rid_id)
                    {
                        header.set_extension(m, Bytes::from(mid)).unwrap();
                        header.set_extension(r, Bytes::from(rid.to_string())).unwrap();
                    }
                    let packet = rtp::Packet {
                        header,
                        // Every second interframe after the first ones goes out as a
                        // retransmission only.
                        payload: payload(
                            keyframe,
                            if !keyframe && sent[i] >= NAMED_PACKETS && sent[i] % 2 == 1 {
                                marker.to_ascii_uppercase()
                            } else {
                                *marker
                            },
                            LAYER_BYTES[i],
                        ),
                    };
                    if sender.write_rtp(Instant::now(), packet).is_ok() {
                        sent[i] += 1;
                        stats.lock().unwrap().sent[i] += 1;
                    }
                }
            }
            () = tokio::time::sleep(wake) => {
                let _ = pc.handle_timeout(Instant::now());
            }
        }
        while pc.poll_read().is_some() {}
        while let Ok(ssrc) = keyframe_requests.try_recv() {
            if let Some(i) = ssrcs.iter().position(|s| *s == ssrc) {
                keyframe_asked[i] = true;
                stats.lock().unwrap().keyframe_requests[i] += 1;
            }
        }
        while let Some(event) = pc.poll_event() {
            if let RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) = event {
                connected = state == RTCPeerConnectionState::Connected;
            }
        }
        while let Some(out) = pc.poll_write() {
            let _ = socket.send_to(&out.message, out.transport.peer_addr).await;
        }
    }
}

/// The layer marker of the last video payload `to` received from `from` (the publisher sends no
/// audio), and how many video packets it received.
fn layer_seen(to: &RtcClient, from: &str) -> (Option<char>, u64) {
    let r = to.received_from(from);
    (
        r.last_payload
            .last()
            .map(|b| char::from(b.to_ascii_lowercase())),
        r.video_packets,
    )
}

/// Each client's last video packet from `from` came on the layer with that marker, in order.
fn on_layers(clients: &[&mut RtcClient], from: &str, markers: &[char]) -> bool {
    clients.len() >= markers.len()
        && clients
            .iter()
            .zip(markers)
            .all(|(c, m)| layer_seen(c, from).0 == Some(*m))
}

/// A (joined with `options`, named `name`) and B ("Good downlink") in the room at `url`, both
/// showing publisher `p` large and receiving its top layer, whose rates have been measured
/// for two seconds.
async fn two_on_the_top_layer(
    url: &str,
    p: &str,
    name: &str,
    options: JoinOptions,
) -> (RtcClient, RtcClient) {
    let mut a = RtcClient::join_with(url, name, options).await;
    let mut b = RtcClient::join(url, "Good downlink").await;
    a.ws.send(&view(p, TileSize::Large, 0)).await;
    b.ws.send(&view(p, TileSize::Large, 0)).await;
    let top = pump_until(&mut [&mut a, &mut b], Duration::from_secs(10), |c| {
        on_layers(c, p, &['f', 'f'])
    })
    .await;
    assert!(
        top.is_some(),
        "a {:?}, b {:?}",
        layer_seen(&a, p),
        layer_seen(&b, p)
    );
    // Let the layers' rates be measured (about a second of memory).
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(2)).await;
    (a, b)
}

/// A server, a room and a simulcast publisher in it; the room's signaling URL.
async fn room_with_publisher() -> (TestServer, String, SimulcastPublisher) {
    let server = TestServer::start().await;
    let id = server.room_id().await;
    let url = server.ws_url(&id);
    let publisher = SimulcastPublisher::join(&url, "Simulcaster").await;
    (server, url, publisher)
}

fn view(of: &str, size: TileSize, height: u32) -> ClientMessage {
    ClientMessage::View {
        tiles: vec![Tile {
            participant_id: of.to_owned(),
            source: Default::default(),
            size,
            width: height * 16 / 9,
            height,
        }],
    }
}

async fn pump_all(clients: &mut [&mut RtcClient], d: Duration) {
    futures_util::future::join_all(clients.iter_mut().map(|c| c.pump(d))).await;
}

/// Pumps until `check` holds for the clients (or `within` passed); returns how long it took.
async fn pump_until(
    clients: &mut [&mut RtcClient],
    within: Duration,
    check: impl Fn(&[&mut RtcClient]) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if check(clients) {
            return Some(start.elapsed());
        }
        pump_all(clients, Duration::from_millis(100)).await;
    }
    check(clients).then(|| start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_the_layer_its_view_asks_for_across_renegotiations() {
    let (_server, url, publisher) = room_with_publisher().await;
    let p = publisher.id.clone();
    let mut a = RtcClient::join(&url, "Big screen").await;
    let mut b = RtcClient::join(&url, "Small tile").await;
    a.ws.send(&view(&p, TileSize::Large, 0)).await;
    b.ws.send(&view(&p, TileSize::Thumbnail, 180)).await;

    // A gets the top layer, B the lowest.
    let took = pump_until(&mut [&mut a, &mut b], Duration::from_secs(10), |c| {
        on_layers(c, &p, &['f', 'q'])
    })
    .await;
    assert!(
        took.is_some(),
        "a: {:?}, b: {:?}, keyframe requests {:?}",
        layer_seen(&a, &p),
        layer_seen(&b, &p),
        publisher.keyframe_requests()
    );
    // Each gets one layer only: about one layer's worth of packets (30/s), not three; and all
    // of it, although half of each layer arrives as retransmissions on streams only their
    // repaired-rid names (without `repair`, about 20/s: what NACKs recover on the layer's own
    // SSRC).
    let (_, a0) = layer_seen(&a, &p);
    let (_, b0) = layer_seen(&b, &p);
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(2)).await;
    let (la, a1) = layer_seen(&a, &p);
    let (lb, b1) = layer_seen(&b, &p);
    assert_eq!((la, lb), (Some('f'), Some('q')));
    for (who, n) in [("a", a1 - a0), ("b", b1 - b0)] {
        assert!((50..=75).contains(&n), "{who} got {n} packets in 2 s");
    }
    assert_eq!(
        a.received_from(&p).ssrcs.len(),
        1,
        "one stream per subscriber"
    );

    // Someone joins: every connection is renegotiated, the publisher's too, long after its
    // layers stopped naming themselves. All layers keep flowing.
    let offers = publisher.offers_answered();
    let mut c = RtcClient::join(&url, "Latecomer").await;
    let renegotiated = pump_until(
        &mut [&mut a, &mut b, &mut c],
        Duration::from_secs(10),
        |_| publisher.offers_answered() > offers,
    )
    .await;
    assert!(renegotiated.is_some(), "the publisher was not renegotiated");
    pump_all(&mut [&mut a, &mut b, &mut c], Duration::from_secs(1)).await;
    let (_, a0) = layer_seen(&a, &p);
    let (_, b0) = layer_seen(&b, &p);
    pump_all(&mut [&mut a, &mut b, &mut c], Duration::from_secs(2)).await;
    let (la, a1) = layer_seen(&a, &p);
    let (lb, b1) = layer_seen(&b, &p);
    assert_eq!((la, lb), (Some('f'), Some('q')));
    assert!(
        a1 - a0 >= 50 && b1 - b0 >= 50,
        "layers froze after the renegotiation: a {a0}→{a1}, b {b0}→{b1}"
    );
    // The newcomer (no view yet: the best layer) gets the top layer too.
    let (lc, nc) = layer_seen(&c, &p);
    assert_eq!(lc, Some('f'), "{nc} packets");

    // The views swap. Each subscriber moves within one keyframe of the new layer (asked for
    // at once; the publisher's own keyframes are 20 s apart), and its numbering stays
    // continuous (one SSRC, no resets the receiver would notice).
    let asked = publisher.keyframe_requests();
    a.ws.send(&view(&p, TileSize::Thumbnail, 180)).await;
    b.ws.send(&view(&p, TileSize::Large, 720)).await;
    let took = pump_until(&mut [&mut a, &mut b, &mut c], Duration::from_secs(5), |c| {
        on_layers(c, &p, &['q', 'f'])
    })
    .await;
    let now_asked = publisher.keyframe_requests();
    assert!(
        took.is_some_and(|t| t < Duration::from_secs(2)),
        "switch took {took:?}: a {:?}, b {:?}, keyframe requests {asked:?} → {now_asked:?}",
        layer_seen(&a, &p),
        layer_seen(&b, &p)
    );
    assert!(now_asked[0] > asked[0] && now_asked[2] > asked[2]);
    assert_eq!(a.received_from(&p).ssrcs.len(), 1);
    assert_eq!(b.received_from(&p).ssrcs.len(), 1);

    // Hidden: nothing more. Shown again as a thumbnail: the lowest layer again.
    a.ws.send(&ClientMessage::View { tiles: vec![] }).await;
    pump_all(&mut [&mut a, &mut b, &mut c], Duration::from_millis(500)).await;
    let (_, hidden0) = layer_seen(&a, &p);
    pump_all(&mut [&mut a, &mut b, &mut c], Duration::from_secs(1)).await;
    let (_, hidden1) = layer_seen(&a, &p);
    assert!(hidden1 - hidden0 <= 2, "a hidden video still flows");
    a.leave().await;
    b.leave().await;
    c.leave().await;
    drop(publisher);
}

/// Dynacast: a layer nobody needs is paused at the publisher after a grace period, and comes
/// back at once (with a keyframe) when somebody needs it; the lowest layer too, when only the
/// top one is watched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_nobody_needs_are_paused_at_the_publisher_and_come_back_at_once() {
    let (_server, url, publisher) = room_with_publisher().await;
    let p = publisher.id.clone();
    let mut a = RtcClient::join(&url, "Small tile").await;
    a.ws.send(&view(&p, TileSize::Thumbnail, 180)).await;
    let got_q = pump_until(&mut [&mut a], Duration::from_secs(10), |c| {
        on_layers(c, &p, &['q'])
    })
    .await;
    assert!(got_q.is_some(), "{:?}", layer_seen(&a, &p));

    // Only a thumbnail watches: h and f go off after the grace period (5 s), not before.
    pump_all(&mut [&mut a], Duration::from_secs(2)).await;
    assert_eq!(publisher.video_layers(), None, "too early");
    let paused = pump_until(&mut [&mut a], Duration::from_secs(8), |_| {
        publisher.video_layers() == Some(vec!["q".to_owned()])
    })
    .await;
    assert!(paused.is_some(), "told {:?}", publisher.video_layers());
    pump_all(&mut [&mut a], Duration::from_millis(300)).await;
    let before = publisher.sent();
    let (_, q0) = layer_seen(&a, &p);
    pump_all(&mut [&mut a], Duration::from_secs(1)).await;
    let after = publisher.sent();
    let (lq, q1) = layer_seen(&a, &p);
    assert_eq!(
        (after[1] - before[1], after[2] - before[2]),
        (0, 0),
        "h and f still sent"
    );
    assert!(
        after[0] - before[0] >= 20,
        "q stopped: {before:?} → {after:?}"
    );
    assert_eq!(lq, Some('q'));
    assert!(q1 - q0 >= 20, "the thumbnail froze: {q0} → {q1}");

    // The tile grows: f is needed, on at once, and the subscriber gets it within a second
    // (the layer starts with a keyframe). q stays on for its grace period.
    a.ws.send(&view(&p, TileSize::Large, 720)).await;
    let grown = pump_until(&mut [&mut a], Duration::from_secs(3), |c| {
        on_layers(c, &p, &['f'])
    })
    .await;
    assert!(
        grown.is_some_and(|t| t < Duration::from_millis(1500)),
        "grew in {grown:?}, told {:?}",
        publisher.video_layers()
    );
    assert_eq!(
        publisher.video_layers(),
        Some(vec!["q".to_owned(), "f".to_owned()])
    );
    // Only f is watched: q goes off too, after its grace period.
    let only_f = pump_until(&mut [&mut a], Duration::from_secs(8), |_| {
        publisher.video_layers() == Some(vec!["f".to_owned()])
    })
    .await;
    assert!(only_f.is_some(), "told {:?}", publisher.video_layers());

    // A newcomer shows it as a thumbnail: q is back at once, and the newcomer gets q while
    // the first subscriber keeps f.
    let mut b = RtcClient::join(&url, "Latecomer").await;
    b.ws.send(&view(&p, TileSize::Thumbnail, 180)).await;
    let both = pump_until(&mut [&mut a, &mut b], Duration::from_secs(5), |c| {
        on_layers(c, &p, &['f', 'q'])
    })
    .await;
    assert!(
        both.is_some(),
        "a {:?}, b {:?}, told {:?}",
        layer_seen(&a, &p),
        layer_seen(&b, &p),
        publisher.video_layers()
    );
    assert_eq!(
        publisher.video_layers(),
        Some(vec!["q".to_owned(), "f".to_owned()])
    );
    let told = publisher.stats.lock().unwrap().video_layers.len();
    assert!(told <= 4, "told too often: {told}");
    a.leave().await;
    b.leave().await;
    drop(publisher);
}

/// A subscriber whose receiver reports tell heavy loss gets a lower layer than its view asks
/// for (its budget is cut to what it receives less half the loss), and the layer comes back
/// once the loss is gone (the budget grows 8 % a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_reported_by_a_subscriber_lowers_its_layer_until_it_clears() {
    assert_eq!(
        salon_server::sfu::keyframe::VideoCodec::H264.keyframe_size(&payload(true, b'f', 1000)),
        None,
        "the test's keyframes must not carry a picture size"
    );
    let (_server, url, publisher) = room_with_publisher().await;
    let p = publisher.id.clone();
    let (mut a, mut b) =
        two_on_the_top_layer(&url, &p, "Lossy downlink", JoinOptions::default()).await;

    // A reports 40 % loss: its budget becomes 80 % of the top layer, which no longer fits;
    // the middle one does (and, the loss going on at that layer, a second later the lowest).
    // B is not affected.
    a.report_video_loss(Some(102));
    let lowered = pump_until(&mut [&mut a, &mut b], Duration::from_secs(5), |c| {
        on_layers(c, &p, &['h'])
    })
    .await;
    assert!(lowered.is_some(), "a still on {:?}", layer_seen(&a, &p));
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(2)).await;
    assert_eq!(
        layer_seen(&a, &p).0,
        Some('q'),
        "a goes lower while still lossy"
    );
    assert_eq!(layer_seen(&b, &p).0, Some('f'), "b keeps the top layer");

    // The loss clears: the budget grows 8 % a second from about 46 kb/s; the top layer (240
    // kb/s) fits again after some 20 s.
    a.report_video_loss(Some(0));
    let recovered = pump_until(&mut [&mut a, &mut b], Duration::from_secs(40), |c| {
        on_layers(c, &p, &['f'])
    })
    .await;
    assert!(recovered.is_some(), "a stuck on {:?}", layer_seen(&a, &p));
    a.leave().await;
    b.leave().await;
    drop(publisher);
}

/// A subscriber whose downlink queues up (its congestion control feedback tells that each
/// packet arrives a little later than the one before) is moved down a layer before it loses
/// anything, by the delay signal alone (`sfu::downlink`, `layers::DelayControl`); once the
/// queue stops growing it climbs back to the top layer (8 % a second). Another subscriber keeps
/// the top layer throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_queue_toward_a_subscriber_lowers_its_layer_until_it_stops_growing() {
    let (server, url, publisher) = room_with_publisher().await;
    let p = publisher.id.clone();
    let options = JoinOptions {
        own_congestion_feedback: true,
        ..JoinOptions::default()
    };
    let (mut a, mut b) = two_on_the_top_layer(&url, &p, "Queued downlink", options).await;
    // The feedback told of a steady path: nothing changed.
    assert!(
        server
            .counter("salon_downlink_feedback_packets_total")
            .await
            > 50
    );
    assert_eq!(server.counter("salon_downlink_delay_cuts_total").await, 0);
    assert_eq!(layer_seen(&a, &p).0, Some('f'));

    // A's queue grows by 200 ms a second (its link carries 5/6 of what it is sent).
    a.set_queue_growth(200.0);
    let lowered = pump_until(&mut [&mut a, &mut b], Duration::from_secs(5), |c| {
        layer_seen(c[0], &p).0.is_some_and(|l| l != 'f')
    })
    .await;
    assert!(lowered.is_some(), "a still on {:?}", layer_seen(&a, &p));
    assert!(server.counter("salon_downlink_delay_cuts_total").await > 0);
    assert_eq!(layer_seen(&b, &p).0, Some('f'), "b keeps the top layer");

    // The queue stops growing (it stays as long as it is): back to the top layer.
    a.set_queue_growth(0.0);
    let recovered = pump_until(&mut [&mut a, &mut b], Duration::from_secs(40), |c| {
        on_layers(c, &p, &['f', 'f'])
    })
    .await;
    assert!(recovered.is_some(), "a stuck on {:?}", layer_seen(&a, &p));
    a.leave().await;
    b.leave().await;
    drop(publisher);
}
