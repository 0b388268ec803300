//! WebRTC pieces that Salon's server and client core must agree on: the codec set every peer
//! connection registers, the interceptor that surfaces keyframe requests, and the event handler
//! that turns webrtc's callbacks into a channel.

pub mod events;
pub mod keyframe;

use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MediaEngine,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
pub use rtc::shared::error::Error;

/// The H.264 variants Salon sends and receives: constrained baseline and baseline, packetization
/// mode 1 — what openh264 encodes and every browser decodes.
pub const H264_FMTPS: [&str; 2] = [
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
];

/// A UDP host candidate for `addr`, for a sans-IO connection that owns its sockets (the server's
/// media engine, the load bench) and tells the ICE agent its address itself.
pub fn host_candidate(
    addr: std::net::SocketAddr,
) -> Result<rtc::peer_connection::transport::RTCIceCandidateInit, Error> {
    host("udp", addr, rtc::ice::tcp_type::TcpType::Unspecified)
}

/// A passive ICE-TCP host candidate (RFC 6544) at `addr`: the other side connects to it. Its
/// priority is below a UDP host candidate's, so UDP is preferred where it works.
pub fn passive_tcp_candidate(
    addr: std::net::SocketAddr,
) -> Result<rtc::peer_connection::transport::RTCIceCandidateInit, Error> {
    host("tcp", addr, rtc::ice::tcp_type::TcpType::Passive)
}

/// A host candidate (RTP component) on `network` at `addr`.
fn host(
    network: &str,
    addr: std::net::SocketAddr,
    tcp_type: rtc::ice::tcp_type::TcpType,
) -> Result<rtc::peer_connection::transport::RTCIceCandidateInit, Error> {
    use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: network.to_owned(),
            address: addr.ip().to_string(),
            port: addr.port(),
            component: 1,
            ..Default::default()
        },
        tcp_type,
    }
    .new_candidate_host()?;
    RTCIceCandidate::from(&candidate).to_json()
}

/// Opus for audio.
pub fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// H.264 constrained baseline, packetization mode 1.
pub fn h264_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: H264_FMTPS[0].to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Opus for audio; H.264 (constrained baseline and baseline, packetization mode 1) and VP8 for
/// video, each with RTX. Nothing else: every codec here must be one a native client can handle.
pub fn media_engine() -> Result<MediaEngine, Error> {
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus_codec(),
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
