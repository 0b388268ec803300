//! Getting into a room: the socket and `join` ([`open`]), the lobby or the room ([`enter`]),
//! and in the room the peer connection with our two tracks — the video in two simulcast layers
//! (`super::simulcast`) — and the first negotiation ([`establish`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use salon_protocol::{ClientMessage, MediaState, Resume, ServerMessage};
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use super::media_out::{LayerOut, OutTracks, VideoOut};
use super::peer::{self, ClientPeer};
use super::route::{NODE_CONNECT_TIMEOUT, Route, Step, Walk};
use super::signal::{Admission, Answer, JoinReply, JoinRequest, Signal};
use super::simulcast::{self, LAYERS};
use super::{CallConfig, Refusal, Shared, TrackHandles};
use crate::error::CoreError;
use crate::store::InviteLink;

/// RFC 6464 client-to-mixer audio level, which every audio packet we send carries.
const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// A connection in the room: its socket and peer connection.
pub(super) struct Session {
    pub signal: Signal,
    pub peer: ClientPeer,
}

/// Where a connection stands once the server answered `join`.
pub(super) enum Stage {
    /// In the lobby of a locked room: only the socket, waiting for a host.
    Lobby(Signal),
    Live(Session),
}

/// Opens the socket and sends `join` (resuming if asked, and asking to keep our peer connection
/// if `keep_media`) with the host key and device id.
///
/// Cluster mode: the socket goes to the room's node when `route` knows it, else to the link's
/// server (the entry). A `moved` answer is checked and followed — the same `join` sent there —
/// at most [`super::route::MAX_MOVES`] times in a row, remembering the node in `route`. A node that
/// cannot be reached (a dead owner) is forgotten and the entry tried instead, which sends us on
/// to the room's new owner.
pub(super) async fn open(
    link: &InviteLink,
    route: &mut Route,
    config: &CallConfig,
    media: MediaState,
    resume: Option<Resume>,
    keep_media: bool,
    shared: &Shared,
) -> Result<(Signal, Admission), CoreError> {
    let mut walk = Walk::new(link.ws_url());
    let mut url = route.url(&walk.entry, &link.room_id);
    loop {
        let connecting = if url == walk.entry {
            Signal::connect(&url).await
        } else {
            Signal::connect_within(&url, NODE_CONNECT_TIMEOUT).await
        };
        let mut signal = match connecting {
            Ok(signal) => signal,
            Err(e) => match walk.unreachable(route, &url, e) {
                Step::Connect(next) => {
                    tracing::info!("the room's node is unreachable; asking the entry server");
                    url = next;
                    continue;
                }
                Step::Fail(e) => return Err(e),
            },
        };
        let request = JoinRequest {
            name: &config.name,
            media,
            resume: resume.clone(),
            host_key: config.host_key.as_deref(),
            device: config.device_id.as_deref(),
            keep_media,
            e2ee: shared.kx().join_field(),
        };
        let answer = match signal
            .join(request, |code, message| shared.refused(code, message))
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                // A node that failed our join may no longer hold the room: the next try asks
                // the entry, which knows who does.
                if url != walk.entry {
                    route.node = None;
                }
                return Err(e);
            }
        };
        match answer {
            Answer::Admitted(admission) => return Ok((signal, *admission)),
            Answer::Moved(to) => {
                signal.close().await;
                match walk.moved(route, &to, &url) {
                    Step::Connect(next) => {
                        tracing::info!(moves = walk.moves(), "the room lives on another node");
                        url = next;
                    }
                    Step::Fail(e) => return Err(e),
                }
            }
        }
    }
}

/// Goes where the server put us: the lobby, or into the room (then `resume` becomes this
/// connection's proof, before establishing can fail).
///
/// `kept` is the peer connection that outlived a lost socket (its tracks still publishing):
/// when the server says it kept the media, the call goes on with it — no new offer; otherwise
/// it is closed and the call starts over.
pub(super) async fn enter(
    mut signal: Signal,
    admission: Admission,
    config: &CallConfig,
    shared: &Shared,
    handles: &TrackHandles,
    resume: &mut Option<Resume>,
    kept: Option<ClientPeer>,
) -> Result<Stage, CoreError> {
    match admission {
        Admission::Waiting(waiting) => {
            drop_peer(kept, handles).await;
            super::driver::follow(shared, handles, &waiting);
            Ok(Stage::Lobby(signal))
        }
        Admission::Joined(reply) => {
            // A link with a key never joins a room the server calls unencrypted.
            let checked = match &reply.joined {
                ServerMessage::Joined { room, .. } => shared.kx().check_room(room),
                _ => Ok(()),
            };
            if let Err(e) = checked {
                let _ = signal.send(&ClientMessage::Leave).await;
                signal.close().await;
                drop_peer(kept, handles).await;
                return Err(e);
            }
            *resume = Some(reply.resume());
            if reply.media_kept {
                let Some(peer) = kept else {
                    // We asked to keep media but lost the connection meanwhile: the server
                    // holds media we no longer have. Try again without asking.
                    signal.close().await;
                    return Err(CoreError::network(
                        "the media connection ended while resuming",
                    ));
                };
                super::driver::follow(shared, handles, &reply.joined);
                shared.media_kept.fetch_add(1, Ordering::Relaxed);
                tracing::info!("resumed with the media kept");
                // A subscriber that arrived meanwhile wants a keyframe; one more costs little.
                handles.layers.request_keyframes();
                return Ok(Stage::Live(Session { signal, peer }));
            }
            if kept.is_some() {
                tracing::info!("the server could not keep the media; starting over");
            }
            drop_peer(kept, handles).await;
            let session = establish(signal, reply, config, shared, handles).await?;
            Ok(Stage::Live(session))
        }
    }
}

/// Closes a kept peer connection: its tracks stop publishing.
pub(super) async fn drop_peer(kept: Option<ClientPeer>, handles: &TrackHandles) {
    if let Some(peer) = kept {
        handles.tracks.store(None);
        let _ = peer.pc.close().await;
    }
}

/// In the room: builds the peer connection, publishes, and completes the first negotiation.
pub(super) async fn establish(
    mut signal: Signal,
    reply: JoinReply,
    config: &CallConfig,
    shared: &Shared,
    handles: &TrackHandles,
) -> Result<Session, CoreError> {
    let checked = match &reply.joined {
        ServerMessage::Joined { room, .. } => shared.kx().check_room(room),
        _ => Ok(()),
    };
    if let Err(e) = checked {
        let _ = signal.send(&ClientMessage::Leave).await;
        signal.close().await;
        return Err(e);
    }
    super::driver::follow(shared, handles, &reply.joined);
    let ice_servers = match &reply.joined {
        ServerMessage::Joined { ice_servers, .. } => ice_servers.as_slice(),
        _ => &[],
    };
    let mut peer = peer::build(
        &config.udp_addrs,
        &config.tcp_addrs,
        ice_servers,
        config.relay_only,
    )
    .await?;
    let me = reply.participant_id.clone();

    let now = std::time::Instant::now();
    let mut sources = Vec::new();
    for (kind, codec, label) in [
        (RtpCodecKind::Audio, salon_rtc::opus_codec(), "audio"),
        (RtpCodecKind::Video, salon_rtc::h264_codec(), "video"),
    ] {
        // Video: one encoding per simulcast layer, lowest first (`a=simulcast:send q;f`), each
        // named by its rid and with an SSRC of its own. Audio: one plain encoding.
        let rids: Vec<&str> = match kind {
            RtpCodecKind::Video => LAYERS.iter().map(|l| l.rid).collect(),
            _ => vec![""],
        };
        let ssrcs: Vec<u32> = rids.iter().map(|_| rand::random::<u32>()).collect();
        let encodings = rids
            .iter()
            .zip(&ssrcs)
            .map(|(rid, ssrc)| RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    rid: (*rid).to_owned(),
                    ssrc: Some(*ssrc),
                    ..Default::default()
                },
                codec: codec.clone(),
                ..Default::default()
            })
            .collect();
        let track = Arc::new(
            TrackLocalStaticSample::new(
                now,
                MediaStreamTrack::new(
                    me.clone(),
                    format!("{me}-{label}"),
                    format!("{me}-{label}"),
                    kind,
                    encodings,
                ),
            )
            .map_err(CoreError::media)?,
        );
        let transceiver = add_sendonly(&peer, &track, &me).await?;
        sources.push((kind, track, ssrcs, transceiver));
    }
    // The screen: the second video section, silent unless the call shares (`super::screen`).
    let screen = super::screen::add_section(&peer, &me, now).await?;

    let offer = peer.pc.create_offer(None).await.map_err(CoreError::media)?;
    peer.pc
        .set_local_description(offer)
        .await
        .map_err(CoreError::media)?;
    let sdp = peer::local_sdp(&mut peer).await?;
    signal.send(&ClientMessage::Offer { sdp }).await?;
    let answer = loop {
        match signal.recv().await? {
            None => return Err(CoreError::network("the server closed the connection")),
            Some(ServerMessage::Answer { sdp }) => break sdp,
            Some(ServerMessage::Error {
                code,
                message,
                fatal,
            }) => {
                if fatal || Refusal::from_code(code).is_none() {
                    return Err(CoreError::from_code(code, &message));
                }
                shared.refused(code, message);
            }
            Some(other) => super::driver::follow(shared, handles, &other),
        }
    };
    peer::apply_answer(&mut peer, &answer).await?;

    let mut out = OutTracks {
        audio: None,
        video: None,
        screen: super::screen::negotiated(screen, handles).await,
    };
    for (kind, track, ssrcs, transceiver) in sources {
        let Ok(Some(sender)) = transceiver.sender().await else {
            continue;
        };
        let params = sender.get_parameters().await.map_err(CoreError::media)?;
        let Some(pt) = params.rtp_parameters.codecs.first().map(|c| c.payload_type) else {
            tracing::warn!(%kind, "the server did not accept this track's codec");
            continue;
        };
        let accepted = |uri: &str| {
            params
                .rtp_parameters
                .header_extensions
                .iter()
                .any(|e| e.uri == uri)
        };
        if kind == RtpCodecKind::Video {
            // The server tells the layers apart by the mid and rid on their packets.
            let mid = transceiver.mid().await.ok().flatten();
            let named = accepted(simulcast::MID_URI) && accepted(simulcast::RID_URI);
            if !named || mid.is_none() {
                tracing::warn!("the server did not accept the simulcast header extensions");
            }
            let layers = LAYERS
                .iter()
                .zip(&ssrcs)
                .map(|(layer, ssrc)| LayerOut {
                    ssrc: *ssrc,
                    extensions: match &mid {
                        Some(mid) if named => simulcast::sdes_extensions(mid, layer.rid),
                        _ => Vec::new(),
                    },
                })
                .collect();
            // Keyframe requests from the server (a new subscriber, a loss, a switch of layer)
            // reach the encoder of the layer they are about.
            let switches = handles.layers.clone();
            let watched = track.clone();
            tokio::spawn(async move {
                while let Some(event) = watched.poll().await {
                    let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                        continue;
                    };
                    for packet in packets
                        .iter()
                        .filter(|p| salon_rtc::keyframe::is_keyframe_request(p.as_ref()))
                    {
                        let layers: Vec<usize> = packet
                            .destination_ssrc()
                            .iter()
                            .filter_map(|s| ssrcs.iter().position(|mine| mine == s))
                            .collect();
                        if layers.is_empty() {
                            switches.request_keyframes();
                        }
                        for layer in layers {
                            switches.request_keyframe(layer);
                        }
                    }
                }
            });
            out.video = Some(VideoOut { track, pt, layers });
        } else {
            // The server ranks speakers by this extension; without it our audio is forwarded
            // always but we never count as speaking.
            if !accepted(AUDIO_LEVEL_URI) {
                tracing::warn!("the server did not accept the audio-level extension");
            }
            let Some(ssrc) = ssrcs.first().copied() else {
                continue;
            };
            out.audio = Some((track, ssrc, pt));
        }
    }
    handles.tracks.store(Some(Arc::new(out)));
    handles.layers.request_keyframes();
    Ok(Session { signal, peer })
}

/// Adds a send-only transceiver carrying `track` in media stream `stream` (my participant id).
pub(super) async fn add_sendonly(
    peer: &ClientPeer,
    track: &Arc<TrackLocalStaticSample>,
    stream: &str,
) -> Result<Arc<dyn webrtc::rtp_transceiver::RtpTransceiver>, CoreError> {
    peer.pc
        .add_transceiver_from_track(
            track.clone() as Arc<dyn TrackLocal>,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                streams: vec![stream.to_owned()],
                send_encodings: vec![],
            }),
        )
        .await
        .map_err(CoreError::media)
}
