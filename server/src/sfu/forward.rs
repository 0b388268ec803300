//! A publication is one track a participant sends. The engine owns its forwarding state (its
//! downstreams, pause, keyframe requests) on the worker of its room; this handle is what the
//! room and the other participants' tasks hold.

use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use salon_protocol::VideoSource;

use super::engine::{PubId, WorkerHandle};

/// Which of its publisher's tracks a publication is. A participant publishes at most one of
/// each: a new one replaces the old.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    Audio,
    Camera,
    /// Its screen share: the second video section of its publishing offer.
    Screen,
}

impl Track {
    pub fn kind(self) -> RtpCodecKind {
        match self {
            Self::Audio => RtpCodecKind::Audio,
            Self::Camera | Self::Screen => RtpCodecKind::Video,
        }
    }

    /// The video source a view names it by (`None`: audio).
    pub fn source(self) -> Option<VideoSource> {
        match self {
            Self::Audio => None,
            Self::Camera => Some(VideoSource::Camera),
            Self::Screen => Some(VideoSource::Screen),
        }
    }
}

/// One track that one participant publishes.
#[derive(Debug)]
pub struct Publication {
    pub publisher: String,
    pub kind: RtpCodecKind,
    pub track: Track,
    pub codec: RTCRtpCodec,
    /// The SSRC of its first packet (of its first layer to arrive, with simulcast).
    pub ssrc: u32,
    /// The publisher leg's payload type for `codec`, when known.
    pub payload_type: Option<u8>,
    /// The publisher leg's negotiated header extensions, `(uri, id)`.
    pub extensions: Vec<(String, u16)>,
    /// Its simulcast layers' stream ids (rids), lowest first; empty without simulcast. The
    /// server picks one layer per subscriber, so subscribers always get one plain stream.
    pub layers: Vec<String>,
    pub id: PubId,
    /// The worker that owns the publisher's connection (and the whole room's).
    pub worker: WorkerHandle,
}

impl Publication {
    /// Stops or resumes forwarding (a host mute). Resumed video starts at a fresh keyframe.
    pub fn set_paused(&self, paused: bool) {
        let id = self.id;
        self.worker.post(move |w| w.set_paused(id, paused));
    }

    /// Asks the publisher for a keyframe (at most one request per 300 ms reaches it).
    pub fn request_keyframe(&self) {
        let id = self.id;
        self.worker.post(move |w| w.keyframe_now(id));
    }

    /// Stops forwarding it for good (its publisher left or replaced it).
    pub fn stop(&self) {
        let id = self.id;
        self.worker.post(move |w| w.stop_publication(id));
    }
}
