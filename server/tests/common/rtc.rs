//! A minimal native WebRTC participant for tests: publishes synthetic Opus and H.264 RTP (the
//! SFU never looks inside payloads), answers the server's renegotiation offers, and counts
//! what it receives from each remote participant.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MediaEngine,
};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use salon_protocol::{ClientMessage, ServerMessage};
use salon_rtc::keyframe::{self, KeyframeRequests};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    Registry, register_default_interceptors,
};

use super::WsClient;

/// What one participant received from one remote participant.
#[derive(Debug, Default, Clone)]
pub struct Received {
    pub audio_packets: u64,
    pub video_packets: u64,
    pub payload_types: Vec<u8>,
    pub ssrcs: Vec<u32>,
    /// Payloads arrive byte-for-byte (first bytes of the last packet).
    pub last_payload: Vec<u8>,
    /// The largest step forward between two consecutive audio sequence numbers (1 for a
    /// stream without holes).
    pub largest_audio_seq_step: u16,
    /// The first payload byte of each video packet that started the stream or came after
    /// 300 ms without video (0x67, a sequence parameter set: a keyframe's start).
    pub video_starts: Vec<u8>,
    /// When the last video packet arrived.
    pub last_video_at: Option<std::time::Instant>,
    /// Each video packet's sequence number and arrival, in arrival order (a retransmission
    /// shows as a number seen twice, with `JoinOptions::accept_repeats`).
    pub video_seqs: Vec<(u16, std::time::Instant)>,
}

impl Received {
    /// How many times video packet `seq` arrived.
    pub fn times_seen(&self, seq: u16) -> usize {
        self.video_seqs.iter().filter(|(s, _)| *s == seq).count()
    }
}

#[derive(Default)]
pub struct Stats {
    pub by_participant: Mutex<HashMap<String, Received>>,
    pub keyframe_requests: Mutex<u64>,
    pub keyframes_sent: Mutex<u64>,
    /// The negotiated id of the audio-level extension, and the level byte sent with it.
    pub audio_level_ext: Mutex<Option<u8>>,
    pub audio_level: Mutex<u8>,
    /// While set, the client sends a receiver report every 200 ms for each video it receives
    /// that says this fraction (in 256ths) of its packets was lost (a lossy downlink, as far
    /// as the server can tell).
    pub reported_video_loss: Mutex<Option<u8>>,
    /// The video track received from each remote participant (to send RTCP about it).
    pub video_tracks: Mutex<HashMap<String, Arc<dyn TrackRemote>>>,
    /// With `JoinOptions::own_congestion_feedback`: the negotiated id of the transport-wide
    /// sequence number extension, the numbers received (and when) since the last feedback, and
    /// how fast the queue the feedback tells of grows (ms per second).
    pub own_feedback: std::sync::atomic::AtomicBool,
    pub transport_cc_ext: Mutex<Option<u8>>,
    pub arrivals: Mutex<Vec<(u16, std::time::Instant)>>,
    pub queue_growth_ms_per_s: Mutex<f64>,
}

/// The id `sdp` gives the transport-wide sequence number extension.
fn transport_cc_id(sdp: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let (id, uri) = l.strip_prefix("a=extmap:")?.split_once(' ')?;
        (uri.trim() == rtc::sdp::extmap::TRANSPORT_CC_URI)
            .then(|| id.split('/').next()?.parse().ok())?
    })
}

struct Handler {
    stats: Arc<Stats>,
    gathered: tokio::sync::watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let stats = self.stats.clone();
        tokio::spawn(async move {
            let who = track.stream_id().await;
            let kind = track.kind().await;
            tracing::debug!(%who, %kind, "test client got a track");
            if kind == RtpCodecKind::Video {
                tokio::spawn(report_loss(track.clone(), stats.clone()));
                stats
                    .video_tracks
                    .lock()
                    .unwrap()
                    .insert(who.clone(), track.clone());
            }
            let mut last_seq: Option<u16> = None;
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(p) => {
                        if stats
                            .own_feedback
                            .load(std::sync::atomic::Ordering::Relaxed)
                            && let Some(id) = *stats.transport_cc_ext.lock().unwrap()
                            && let Some(v) = p.header.get_extension(id)
                            && v.len() == 2
                        {
                            stats.arrivals.lock().unwrap().push((
                                u16::from_be_bytes([v[0], v[1]]),
                                std::time::Instant::now(),
                            ));
                        }
                        let mut map = stats.by_participant.lock().unwrap();
                        let r = map.entry(who.clone()).or_default();
                        match kind {
                            RtpCodecKind::Audio => {
                                r.audio_packets += 1;
                                let seq = p.header.sequence_number;
                                if let Some(last) = last_seq {
                                    let step = seq.wrapping_sub(last);
                                    if step < 0x8000 {
                                        r.largest_audio_seq_step =
                                            r.largest_audio_seq_step.max(step);
                                    }
                                }
                                last_seq = Some(seq);
                            }
                            _ => {
                                r.video_packets += 1;
                                let now = std::time::Instant::now();
                                if r.last_video_at.is_none_or(|t| {
                                    now.duration_since(t) > Duration::from_millis(300)
                                }) {
                                    r.video_starts.push(p.payload.first().copied().unwrap_or(0));
                                }
                                r.last_video_at = Some(now);
                                r.video_seqs.push((p.header.sequence_number, now));
                            }
                        }
                        if !r.payload_types.contains(&p.header.payload_type) {
                            r.payload_types.push(p.header.payload_type);
                        }
                        if !r.ssrcs.contains(&p.header.ssrc) {
                            r.ssrcs.push(p.header.ssrc);
                        }
                        r.last_payload = p.payload.to_vec();
                    }
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

/// Sends the receiver reports [`Stats::reported_video_loss`] asks for, until the track ends.
async fn report_loss(track: Arc<dyn TrackRemote>, stats: Arc<Stats>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let Some(fraction_lost) = *stats.reported_video_loss.lock().unwrap() else {
            continue;
        };
        let reports = track
            .ssrcs()
            .await
            .into_iter()
            .map(|ssrc| rtc::rtcp::reception_report::ReceptionReport {
                ssrc,
                fraction_lost,
                ..Default::default()
            })
            .collect();
        let rr = rtc::rtcp::receiver_report::ReceiverReport {
            ssrc: 1,
            reports,
            ..Default::default()
        };
        if track.write_rtcp(vec![Box::new(rr)]).await.is_err() {
            return;
        }
    }
}

pub struct RtcClient {
    pub ws: WsClient,
    pub id: String,
    pub name: String,
    /// From the latest `joined`.
    pub resume_token: String,
    pub pc: Arc<dyn PeerConnection>,
    pub stats: Arc<Stats>,
    /// Offers the server sent (and [`RtcClient::pump`] answered).
    pub server_offers: u64,
    /// The server's answer to the publishing offer.
    pub first_answer: String,
    gathered: tokio::sync::watch::Receiver<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn codec(mime: &str, clock: u32, channels: u16, fmtp: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.into(),
        clock_rate: clock,
        channels,
        sdp_fmtp_line: fmtp.into(),
        rtcp_feedback: vec![],
    }
}

impl RtcClient {
    /// Joins `ws_url` as `name`, publishes audio and video, and completes the first negotiation.
    pub async fn join(ws_url: &str, name: &str) -> Self {
        Self::join_as(ws_url, name, None).await
    }

    /// Like [`RtcClient::join`], with the room's host key.
    pub async fn join_as(ws_url: &str, name: &str, host_key: Option<&str>) -> Self {
        let options = JoinOptions {
            host_key: host_key.map(str::to_owned),
            mdns: true,
            ..JoinOptions::default()
        };
        Self::join_with(ws_url, name, options).await
    }

    async fn add_source(
        &mut self,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
    ) -> Arc<TrackLocalStaticRTP> {
        let ssrc = rand::random::<u32>();
        let label = if kind == RtpCodecKind::Audio {
            "mic"
        } else {
            "cam"
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            format!("{}-stream", self.id),
            format!("{}-{label}", self.id),
            label.to_owned(),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        )));
        self.pc
            .add_transceiver_from_track(
                track.clone() as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec![],
                    send_encodings: vec![],
                }),
            )
            .await
            .unwrap();
        track
    }

    async fn local_sdp(&mut self) -> String {
        let _ = tokio::time::timeout(Duration::from_secs(3), self.gathered.wait_for(|g| *g)).await;
        self.pc.local_description().await.unwrap().sdp
    }

    /// Handles signaling (answers server offers) for `duration`, returning other messages seen.
    pub async fn pump(&mut self, duration: Duration) -> Vec<ServerMessage> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + duration;
        while let Ok(message) = tokio::time::timeout_at(deadline, self.ws.recv()).await {
            let Some(message) = message else { break };
            match message {
                ServerMessage::Offer { sdp } => {
                    tracing::trace!(%sdp, "server offer");
                    self.server_offers += 1;
                    if let Some(id) = transport_cc_id(&sdp) {
                        *self.stats.transport_cc_ext.lock().unwrap() = Some(id);
                    }
                    self.pc
                        .set_remote_description(RTCSessionDescription::offer(sdp).unwrap())
                        .await
                        .unwrap();
                    let answer = self.pc.create_answer(None).await.unwrap();
                    self.pc.set_local_description(answer).await.unwrap();
                    let sdp = self.local_sdp().await;
                    self.ws.send(&ClientMessage::Answer { sdp }).await;
                }
                other => seen.push(other),
            }
        }
        seen
    }

    pub fn received_from(&self, participant: &str) -> Received {
        self.stats
            .by_participant
            .lock()
            .unwrap()
            .get(participant)
            .cloned()
            .unwrap_or_default()
    }

    pub fn keyframe_requests(&self) -> u64 {
        *self.stats.keyframe_requests.lock().unwrap()
    }

    pub async fn leave(mut self) {
        self.ws.send(&ClientMessage::Leave).await;
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.pc.close().await;
    }

    /// Vanishes without a word: the socket and the peer connection just stop.
    pub async fn vanish(self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.pc.close().await;
        drop(self.ws);
    }
}

/// Sends transport-wide congestion control feedback every 50 ms about the packets received
/// since the last, each reported as arriving when it did plus the queue's delay at that moment
/// (`Stats::queue_growth_ms_per_s`), until the client goes.
async fn send_congestion_feedback(stats: Arc<Stats>) {
    use rtc::rtcp::transport_feedbacks::transport_layer_cc::{
        PacketStatusChunk, RecvDelta, RunLengthChunk, StatusChunkTypeTcc, SymbolTypeTcc,
        TransportLayerCc,
    };
    let t0 = std::time::Instant::now();
    // The queue's delay: `queue_us` at `queue_at`, growing at the current rate since.
    let (mut queue_us, mut queue_at) = (0.0f64, t0);
    let mut count: u8 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let now = std::time::Instant::now();
        let growth = *stats.queue_growth_ms_per_s.lock().unwrap();
        let mut batch = std::mem::take(&mut *stats.arrivals.lock().unwrap());
        let Some(&(first, _)) = batch.first() else {
            queue_us += growth * 1_000.0 * now.duration_since(queue_at).as_secs_f64();
            queue_at = now;
            continue;
        };
        // In numbering order from the lowest (a batch spans far less than half the range).
        let lowest = batch
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|s| s.wrapping_sub(first.wrapping_sub(1_000)))
            .unwrap();
        batch.sort_by_key(|(s, _)| s.wrapping_sub(lowest));
        batch.dedup_by_key(|(s, _)| *s);
        // Each arrival on the receiver's clock (in 250 µs steps), with the queue's delay.
        let arrival_us = |at: std::time::Instant| {
            let queued = queue_us + growth * 1_000.0 * at.duration_since(queue_at).as_secs_f64();
            let us = at.duration_since(t0).as_micros() as i64 + queued as i64;
            us / 250 * 250
        };
        let reference_time = (arrival_us(batch[0].1).max(0) / 64_000) as u32;
        let mut previous = i64::from(reference_time) * 64_000;
        let mut chunks: Vec<PacketStatusChunk> = Vec::new();
        let mut deltas = Vec::new();
        let push = |symbol: SymbolTypeTcc, chunks: &mut Vec<PacketStatusChunk>| {
            if let Some(PacketStatusChunk::RunLengthChunk(last)) = chunks.last_mut()
                && last.packet_status_symbol == symbol
                && last.run_length < 8_000
            {
                last.run_length += 1;
                return;
            }
            chunks.push(PacketStatusChunk::RunLengthChunk(RunLengthChunk {
                type_tcc: StatusChunkTypeTcc::RunLengthChunk,
                packet_status_symbol: symbol,
                run_length: 1,
            }));
        };
        let mut expected = lowest;
        for (seq, at) in &batch {
            while expected != *seq {
                push(SymbolTypeTcc::PacketNotReceived, &mut chunks);
                expected = expected.wrapping_add(1);
            }
            push(SymbolTypeTcc::PacketReceivedLargeDelta, &mut chunks);
            let us = arrival_us(*at);
            deltas.push(RecvDelta {
                type_tcc_packet: SymbolTypeTcc::PacketReceivedLargeDelta,
                delta: us - previous,
            });
            previous = us;
            expected = expected.wrapping_add(1);
        }
        queue_us += growth * 1_000.0 * now.duration_since(queue_at).as_secs_f64();
        queue_at = now;
        let feedback = TransportLayerCc {
            sender_ssrc: 1,
            media_ssrc: 0,
            base_sequence_number: lowest,
            packet_status_count: expected.wrapping_sub(lowest),
            reference_time,
            fb_pkt_count: count,
            packet_chunks: chunks,
            recv_deltas: deltas,
        };
        count = count.wrapping_add(1);
        let track = stats.video_tracks.lock().unwrap().values().next().cloned();
        if let Some(track) = track {
            let _ = track.write_rtcp(vec![Box::new(feedback)]).await;
        }
    }
}

/// What a test client's media source sends.
#[derive(Clone, Copy)]
enum Source {
    /// Audio packets, with an RFC 6464 audio-level extension (id, level byte) when set (its
    /// level can change: see [`RtcClient::set_audio_level`]).
    Audio(Option<u8>),
    /// H.264-shaped video: each payload starts with a NAL header byte, a sequence parameter
    /// set (a keyframe's start, as the server sees it) at the start, every 30 packets and
    /// after a keyframe request, a non-IDR slice otherwise.
    Video,
}

/// Sends a packet every `period_ms` with a recognisable payload, and counts keyframe requests.
async fn send_loop(
    track: Arc<TrackLocalStaticRTP>,
    pt: u8,
    period_ms: u64,
    stats: Arc<Stats>,
    source: Source,
) {
    let ssrc = track.track().await.ssrcs().next().unwrap_or(0);
    let rtcp_track = track.clone();
    let rtcp_stats = stats.clone();
    let asked = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let asked_by_rtcp = asked.clone();
    tokio::spawn(async move {
        while let Some(event) = rtcp_track.poll().await {
            if let TrackLocalEvent::OnRtcpPacket(packets) = event
                && packets
                    .iter()
                    .any(|p| keyframe::is_keyframe_request(p.as_ref()))
            {
                *rtcp_stats.keyframe_requests.lock().unwrap() += 1;
                asked_by_rtcp.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let mut seq: u16 = rand::random();
    let mut ts: u32 = rand::random();
    let mut tick = tokio::time::interval(Duration::from_millis(period_ms));
    let mut sent = 0u64;
    loop {
        tick.tick().await;
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(960);
        let text = format!("salon-test-{pt}-{seq}");
        let mut header = rtp::header::Header {
            version: 2,
            marker: true,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            ..Default::default()
        };
        let payload = match source {
            Source::Audio(level) => {
                let ext = *stats.audio_level_ext.lock().unwrap();
                if level.is_some()
                    && let Some(id) = ext
                {
                    let level = *stats.audio_level.lock().unwrap();
                    header.extension = true;
                    header.extension_profile = 0xBEDE;
                    header.extensions = vec![rtp::header::Extension {
                        id,
                        payload: Bytes::copy_from_slice(&[level]),
                    }];
                }
                Bytes::from(text.into_bytes())
            }
            Source::Video => {
                let keyframe = sent.is_multiple_of(30)
                    || asked.swap(false, std::sync::atomic::Ordering::Relaxed);
                let nal = if keyframe { 0x67 } else { 0x41 };
                if keyframe {
                    *stats.keyframes_sent.lock().unwrap() += 1;
                }
                let mut bytes = vec![nal];
                bytes.extend_from_slice(text.as_bytes());
                Bytes::from(bytes)
            }
        };
        sent += 1;
        let packet = rtp::Packet { header, payload };
        if track.write_rtp(packet).await.is_err() {
            // Not bound yet (negotiation in flight); keep trying.
            continue;
        }
    }
}

/// How [`RtcClient::join_with`] joins.
#[derive(Default)]
pub struct JoinOptions {
    /// The room's host key, to join as its owner.
    pub host_key: Option<String>,
    /// Leave the client's mDNS on (webrtc's default opens a multicast socket on port 5353).
    pub mdns: bool,
    /// Rewrites the publishing offer before it is sent (to add hostile candidates, …).
    pub edit_offer: Option<Box<dyn FnOnce(String) -> String + Send>>,
    /// Audio packets carry an audio-level extension with this level byte (voice bit and
    /// −dBov), as browsers send; without it, none (the server then always forwards the audio).
    pub audio_level: Option<u8>,
    /// No SRTP replay protection on what it receives, so that a packet the server sends again
    /// (a retransmission of one that did arrive) reaches the track instead of being dropped
    /// as a replay: how a test sees what a real loss would have been repaired with.
    pub accept_repeats: bool,
    /// Send its own congestion control feedback (TWCC) instead of its stack's, telling of a
    /// queue that grows as fast as `RtcClient::set_queue_growth` says: a congested downlink, as
    /// far as the server can tell.
    pub own_congestion_feedback: bool,
    /// No UDP socket at all: the client reaches the server only through its ICE-TCP
    /// candidate (webrtc-rs connects to a passive candidate given to `add_ice_candidate`).
    pub tcp_only: bool,
}

impl RtcClient {
    /// Like [`RtcClient::join`], with options; by default without mDNS, so that a test can
    /// check that no socket of this process listens on port 5353.
    pub async fn join_with(ws_url: &str, name: &str, options: JoinOptions) -> Self {
        use rtc::ice::mdns::MulticastDnsMode;
        use webrtc::peer_connection::SettingEngineBuilder;

        let (ws, reply) =
            WsClient::connect_as(ws_url, name, options.host_key.as_deref(), None).await;
        let ServerMessage::Joined {
            participant_id: id,
            resume_token,
            ..
        } = reply
        else {
            panic!("expected joined, got {reply:?}");
        };
        let stats = Arc::new(Stats::default());
        let (gathered_tx, gathered) = tokio::sync::watch::channel(false);
        let mut me = MediaEngine::default();
        me.register_default_codecs().unwrap();
        if options.audio_level.is_some() {
            me.register_header_extension(
                rtc::rtp_transceiver::rtp_sender::RTCRtpHeaderExtensionCapability {
                    uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level".to_owned(),
                },
                RtpCodecKind::Audio,
                None,
            )
            .unwrap();
        }
        let registry = if options.own_congestion_feedback {
            use rtc::peer_connection::configuration::interceptor_registry::{
                configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers,
                configure_twcc_receiver_only,
            };
            // The extension and the feedback type negotiated, without the interceptor that
            // would send the real feedback.
            let _ = configure_twcc_receiver_only(Registry::new(), &mut me).unwrap();
            configure_simulcast_extension_headers(&mut me).unwrap();
            configure_rtcp_reports(configure_nack(Registry::new(), &mut me))
        } else {
            register_default_interceptors(Registry::new(), &mut me).unwrap()
        }
        .with(keyframe::SLOT.into(), KeyframeRequests::default());
        let mut se = SettingEngineBuilder::new();
        if !options.mdns {
            se = se.with_multicast_dns_mode(MulticastDnsMode::Disabled);
        }
        if options.accept_repeats {
            se = se.with_srtp_replay_protection_window(0);
        }
        let pc: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_media_engine(me)
                .with_setting_engine(se.build())
                .with_interceptor_registry(registry)
                .with_handler(Arc::new(Handler {
                    stats: stats.clone(),
                    gathered: gathered_tx,
                }) as Arc<dyn PeerConnectionEventHandler>)
                .with_udp_addrs(if options.tcp_only {
                    Vec::new()
                } else {
                    vec!["127.0.0.1:0".to_owned()]
                })
                .with_tcp_addrs(if options.tcp_only {
                    vec!["127.0.0.1:0".to_owned()]
                } else {
                    Vec::new()
                })
                .build()
                .await
                .unwrap(),
        );
        let mut client = Self {
            ws,
            id,
            name: name.to_owned(),
            resume_token,
            pc,
            stats,
            gathered,
            server_offers: 0,
            first_answer: String::new(),
            tasks: Vec::new(),
        };
        let audio = client
            .add_source(
                RtpCodecKind::Audio,
                codec(MIME_TYPE_OPUS, 48_000, 2, "minptime=10;useinbandfec=1"),
            )
            .await;
        let video = client
            .add_source(
                RtpCodecKind::Video,
                codec(
                    MIME_TYPE_H264,
                    90_000,
                    0,
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                ),
            )
            .await;
        let offer = client.pc.create_offer(None).await.unwrap();
        client.pc.set_local_description(offer).await.unwrap();
        let mut sdp = client.local_sdp().await;
        if let Some(edit) = options.edit_offer {
            sdp = edit(sdp);
        }
        client.ws.send(&ClientMessage::Offer { sdp }).await;
        let answer = client
            .ws
            .recv_until(|m| match m {
                ServerMessage::Answer { sdp } => Some(sdp.clone()),
                _ => None,
            })
            .await;
        client.first_answer = answer.clone();
        *client.stats.transport_cc_ext.lock().unwrap() = transport_cc_id(&answer);
        if options.own_congestion_feedback {
            client
                .stats
                .own_feedback
                .store(true, std::sync::atomic::Ordering::Relaxed);
            client
                .tasks
                .push(tokio::spawn(send_congestion_feedback(client.stats.clone())));
        }
        client
            .pc
            .set_remote_description(RTCSessionDescription::answer(answer.clone()).unwrap())
            .await
            .unwrap();
        if options.tcp_only {
            // (Each bundled media section repeats the candidates, and `rtc` lists each for an
            // RTCP component 2 too, unused with rtcp-mux: one connection is enough.)
            let mut lines: Vec<&str> = answer.lines().filter(|l| l.contains(" 1 tcp ")).collect();
            lines.sort_unstable();
            lines.dedup();
            for line in lines {
                let candidate = line.trim().trim_start_matches("a=").to_owned();
                client
                    .pc
                    .add_ice_candidate(webrtc::peer_connection::RTCIceCandidateInit {
                        candidate,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
            }
        }
        let mut pts = [0u8; 2];
        for sender in client.pc.get_senders().await {
            let params = sender.get_parameters().await.unwrap();
            if let Some(ext) = params
                .rtp_parameters
                .header_extensions
                .iter()
                .find(|h| h.uri == "urn:ietf:params:rtp-hdrext:ssrc-audio-level")
            {
                *client.stats.audio_level_ext.lock().unwrap() = u8::try_from(ext.id).ok();
            }
            let pt = params
                .rtp_parameters
                .codecs
                .first()
                .map(|c| c.payload_type)
                .unwrap();
            let slot = usize::from(sender.track().kind().await != RtpCodecKind::Audio);
            pts[slot] = pt;
        }
        if let Some(level) = options.audio_level {
            *client.stats.audio_level.lock().unwrap() = level;
        }
        client.tasks.push(tokio::spawn(send_loop(
            audio,
            pts[0],
            20,
            client.stats.clone(),
            Source::Audio(options.audio_level),
        )));
        client.tasks.push(tokio::spawn(send_loop(
            video,
            pts[1],
            33,
            client.stats.clone(),
            Source::Video,
        )));
        client
    }

    /// Drops the signaling socket (the peer connection stays) and resumes on a new one, asking to
    /// keep the media. Returns `media_kept` from the server's `joined`.
    pub async fn resume_keeping_media(&mut self, ws_url: &str) -> bool {
        // The old socket goes first (the server notices and holds the seat), then a new one
        // resumes.
        self.drop_signaling(ws_url).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.resume().await
    }

    /// Closes the signaling socket without a `leave` (the peer connection and its media go
    /// on) and opens a new one that says nothing yet.
    pub async fn drop_signaling(&mut self, ws_url: &str) {
        let old = std::mem::replace(&mut self.ws, WsClient::connect(ws_url).await);
        old.close().await;
    }

    /// Resumes on the socket [`RtcClient::drop_signaling`] opened, asking to keep the media;
    /// whether the server kept it.
    pub async fn resume(&mut self) -> bool {
        self.ws
            .send_resume_keeping_media(&self.name, &self.id, &self.resume_token)
            .await;
        let reply = self
            .ws
            .recv_until(|m| match m {
                ServerMessage::Joined { .. } => Some(m.clone()),
                _ => None,
            })
            .await;
        let ServerMessage::Joined {
            participant_id,
            resume_token,
            resumed,
            media_kept,
            ..
        } = reply
        else {
            unreachable!()
        };
        assert!(resumed, "the resume was not accepted");
        assert_eq!(participant_id, self.id);
        self.resume_token = resume_token;
        media_kept
    }

    /// The level byte its audio packets carry from now on (with `JoinOptions::audio_level`).
    pub fn set_audio_level(&self, level: u8) {
        *self.stats.audio_level.lock().unwrap() = level;
    }

    /// Keyframes its video sent so far.
    /// Makes the client report this loss (in 256ths) about every video it receives (`None`:
    /// only its own reports).
    pub fn report_video_loss(&self, fraction_lost: Option<u8>) {
        *self.stats.reported_video_loss.lock().unwrap() = fraction_lost;
    }

    pub fn keyframes_sent(&self) -> u64 {
        *self.stats.keyframes_sent.lock().unwrap()
    }

    /// With `JoinOptions::own_congestion_feedback`: how fast the queue its feedback tells of
    /// grows from now on, in ms per second (0: it stays as it is).
    pub fn set_queue_growth(&self, ms_per_s: f64) {
        *self.stats.queue_growth_ms_per_s.lock().unwrap() = ms_per_s;
    }

    /// Asks the server again for video packets `seqs` from `participant` (a NACK, as a receiver
    /// that lost them sends). False if no video from them has arrived yet.
    pub async fn nack_video(&self, participant: &str, seqs: &[u16]) -> bool {
        use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
            TransportLayerNack, nack_pairs_from_sequence_numbers,
        };
        let track = self
            .stats
            .video_tracks
            .lock()
            .unwrap()
            .get(participant)
            .cloned();
        let Some(track) = track else {
            return false;
        };
        let Some(media_ssrc) = track.ssrcs().await.into_iter().next() else {
            return false;
        };
        let nack = TransportLayerNack {
            sender_ssrc: 1,
            media_ssrc,
            nacks: nack_pairs_from_sequence_numbers(seqs),
        };
        track.write_rtcp(vec![Box::new(nack)]).await.is_ok()
    }

    /// The server's latest offer to this client (its view of everyone else's tracks).
    pub async fn last_server_offer(&self) -> Option<String> {
        self.pc.remote_description().await.map(|d| d.sdp)
    }
}

/// Adds `lines` (each without `a=`) as the last attributes of the first media section of
/// `sdp`.
pub fn add_to_first_media(sdp: &str, lines: &[String]) -> String {
    let mut out = String::with_capacity(sdp.len() + lines.len() * 80);
    let mut sections = 0;
    let mut done = false;
    let add = |out: &mut String| {
        for extra in lines {
            out.push_str("a=");
            out.push_str(extra);
            out.push_str("\r\n");
        }
    };
    for line in sdp.split_inclusive('\n') {
        if line.starts_with("m=") {
            sections += 1;
            if sections == 2 && !done {
                add(&mut out);
                done = true;
            }
        }
        out.push_str(line);
    }
    if !done {
        add(&mut out);
    }
    out
}
