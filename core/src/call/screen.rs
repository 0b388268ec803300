//! Screen sharing on a [`Call`] (docs/protocol.md, "Screen sharing"). The apps receive and show
//! shares: a presenter's frames reach the video sink as `<participant id>|screen`, and
//! [`RemoteParticipant::screen`](super::state::RemoteParticipant) says who presents. Hosts can
//! stop a share. The core captures no screen itself; its publishing offer carries the screen
//! section anyway (the second video section: the server forbids adding sections later), and as
//! test support it can send its camera there.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use salon_protocol::ClientMessage;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::rtp_transceiver::RtpTransceiver;

use super::media_out::ScreenOut;
use super::peer::ClientPeer;
use super::simulcast::{self, LAYERS};
use super::{Call, TrackHandles};
use crate::error::CoreError;

impl Call {
    /// (Hosts) stops `participant_id`'s screen share; they get told who stopped it. Refused
    /// like any host action (see [`Call::remove`]).
    pub fn stop_share(&self, participant_id: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::StopShare {
            participant_id: participant_id.to_owned(),
        })
    }

    /// Test support: presents the camera as a screen share (`on`), or stops. The room refuses a
    /// share while someone else presents (a `Refused` event).
    #[doc(hidden)]
    pub fn share_camera_as_screen(&self, on: bool) -> Result<(), CoreError> {
        if let Some(tracks) = self.outgoing.tracks.load_full()
            && let Some(screen) = &tracks.screen
        {
            screen.mirror.store(on, Ordering::Relaxed);
            self.outgoing.layers.request_keyframes();
        }
        self.host(ClientMessage::Share { active: on })
    }
}

/// The screen section of a publishing offer: a sendonly video transceiver after the camera's,
/// with one plain stream. Returns its track, SSRC and transceiver.
pub(super) async fn add_section(
    peer: &ClientPeer,
    me: &str,
    now: std::time::Instant,
) -> Result<(Arc<TrackLocalStaticSample>, u32, Arc<dyn RtpTransceiver>), CoreError> {
    let ssrc = rand::random::<u32>();
    let encoding = RTCRtpEncodingParameters {
        rtp_coding_parameters: RTCRtpCodingParameters {
            ssrc: Some(ssrc),
            ..Default::default()
        },
        codec: salon_rtc::h264_codec(),
        ..Default::default()
    };
    let label = format!("{me}-screen");
    let track = MediaStreamTrack::new(
        me.to_owned(),
        label.clone(),
        label,
        RtpCodecKind::Video,
        vec![encoding],
    );
    let track = Arc::new(TrackLocalStaticSample::new(now, track).map_err(CoreError::media)?);
    let transceiver = super::connect::add_sendonly(peer, &track, me).await?;
    Ok((track, ssrc, transceiver))
}

/// After the answer: where a share would go (`None` if the server did not take the section).
/// Keyframe requests for it reach the camera's full layer (what the test support sends).
pub(super) async fn negotiated(
    (track, ssrc, transceiver): (Arc<TrackLocalStaticSample>, u32, Arc<dyn RtpTransceiver>),
    handles: &TrackHandles,
) -> Option<ScreenOut> {
    let sender = transceiver.sender().await.ok().flatten()?;
    let params = sender.get_parameters().await.ok()?;
    let pt = params.rtp_parameters.codecs.first()?.payload_type;
    let mid = transceiver.mid().await.ok().flatten();
    let named = params
        .rtp_parameters
        .header_extensions
        .iter()
        .any(|e| e.uri == simulcast::MID_URI);
    let extensions = match &mid {
        // The mid alone: the screen has no layers.
        Some(mid) if named => simulcast::sdes_extensions(mid, "")
            .into_iter()
            .take(1)
            .collect(),
        _ => Vec::new(),
    };
    let layers = handles.layers.clone();
    let watched = track.clone();
    tokio::spawn(async move {
        while let Some(event) = watched.poll().await {
            let TrackLocalEvent::OnRtcpPacket(packets) = event else {
                continue;
            };
            if packets
                .iter()
                .any(|p| salon_rtc::keyframe::is_keyframe_request(p.as_ref()))
            {
                layers.request_keyframe(LAYERS.len() - 1);
            }
        }
    });
    Some(ScreenOut {
        track,
        ssrc,
        pt,
        extensions,
        mirror: AtomicBool::new(false),
    })
}
