//! Builds the server side of one participant's peer connection and turns its callbacks into
//! [`PeerEvent`]s on a channel, so the participant's task handles them in order.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateType, RTCIceGatheringState, RTCPeerConnectionState, Registry,
    SettingEngineBuilder, register_default_interceptors,
};

use super::keyframe::{self, KeyframeRequests};
use crate::ports::{PortLease, PortPool};

/// Where and how media sockets bind.
#[derive(Clone)]
pub struct MediaSettings {
    pub bind_ip: IpAddr,
    pub public_ip: Option<IpAddr>,
    pub ports: Arc<Mutex<PortPool>>,
}

/// What a peer connection tells its participant.
pub enum PeerEvent {
    State(RTCPeerConnectionState),
    Track(Arc<dyn TrackRemote>),
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("no free UDP port for media in the configured range")]
    NoPort,
    #[error("webrtc: {0}")]
    Webrtc(#[from] webrtc::error::Error),
}

/// A built peer connection with the port it holds.
pub struct Peer {
    pub pc: Arc<dyn PeerConnection>,
    pub gathering: watch::Receiver<RTCIceGatheringState>,
    _port: PortLease,
}

struct Handler {
    events: mpsc::UnboundedSender<PeerEvent>,
    gathering: watch::Sender<RTCIceGatheringState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(PeerEvent::State(state));
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.gathering.send(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(PeerEvent::Track(track));
    }
}

const H264_FMTPS: [&str; 2] = [
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
];

/// Opus for audio; H.264 (constrained baseline and baseline, packetization mode 1) and VP8 for
/// video, each with RTX. Nothing else: every codec here must be one a native client can handle.
fn media_engine() -> Result<MediaEngine, PeerError> {
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
            payload_type: 111,
        },
        RtpCodecKind::Audio,
    )?;
    let feedback = ["goog-remb:", "ccm:fir", "nack:", "nack:pli"]
        .iter()
        .filter_map(|f| f.split_once(':'))
        .map(|(typ, parameter)| RTCPFeedback {
            typ: typ.to_owned(),
            parameter: parameter.to_owned(),
        })
        .collect::<Vec<_>>();
    let video = |mime: &str, fmtp: &str, pt: u8| RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: mime.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: fmtp.to_owned(),
            rtcp_feedback: feedback.clone(),
        },
        payload_type: pt,
    };
    let rtx = |pt: u8, apt: u8| RTCRtpCodecParameters {
        rtp_codec: RTCRtpCodec {
            mime_type: MIME_TYPE_RTX.to_owned(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: format!("apt={apt}"),
            rtcp_feedback: vec![],
        },
        payload_type: pt,
    };
    for codec in [
        video(MIME_TYPE_H264, H264_FMTPS[0], 102),
        rtx(103, 102),
        video(MIME_TYPE_H264, H264_FMTPS[1], 104),
        rtx(105, 104),
        video(MIME_TYPE_VP8, "", 96),
        rtx(97, 96),
    ] {
        me.register_codec(codec, RtpCodecKind::Video)?;
    }
    for (uri, kind) in [
        (
            "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            RtpCodecKind::Audio,
        ),
        ("urn:3gpp:video-orientation", RtpCodecKind::Video),
    ] {
        me.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: uri.to_owned(),
            },
            kind,
            None,
        )?;
    }
    Ok(me)
}

/// Builds a peer connection bound to one port from the pool.
pub async fn build(
    settings: &MediaSettings,
    events: mpsc::UnboundedSender<PeerEvent>,
) -> Result<Peer, PeerError> {
    let (gathering_tx, gathering) = watch::channel(RTCIceGatheringState::New);
    let handler = Arc::new(Handler {
        events,
        gathering: gathering_tx,
    });

    // A port in the range may be held by another program: try a few before giving up.
    let mut last_err = None;
    for _ in 0..16 {
        let port = PortLease::take(&settings.ports).ok_or(PeerError::NoPort)?;
        let addr = std::net::SocketAddr::new(settings.bind_ip, port.port).to_string();
        let mut me = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut me)?
            .with(keyframe::SLOT.into(), KeyframeRequests::default());
        let mut se = SettingEngineBuilder::new().with_ice_timeouts(
            Some(Duration::from_secs(3)),
            Some(Duration::from_secs(6)),
            Some(Duration::from_secs(1)),
        );
        if let Some(ip) = settings.public_ip {
            se = se.with_nat_1to1_ips(vec![ip.to_string()], RTCIceCandidateType::Host);
        }
        let built = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(me)
            .with_setting_engine(se.build())
            .with_interceptor_registry(registry)
            .with_handler(handler.clone() as Arc<dyn PeerConnectionEventHandler>)
            .with_udp_addrs(vec![addr])
            .build()
            .await;
        match built {
            Ok(pc) => {
                return Ok(Peer {
                    pc: Arc::new(pc),
                    gathering,
                    _port: port,
                });
            }
            Err(e) => {
                tracing::debug!(port = port.port, error = %e, "could not build a peer connection on this port");
                last_err = Some(e);
            }
        }
    }
    Err(last_err.map_or(PeerError::NoPort, PeerError::Webrtc))
}
