//! A publication is one track a participant sends; its downstreams are the copies the server
//! sends to each subscriber. The forwarding loop reads the publisher's RTP once and writes a
//! rewritten copy to every ready downstream.
//!
//! The subscriber list is an `ArcSwap` snapshot: the loop reads it without taking a lock, and the
//! participant tasks replace it when someone subscribes or leaves.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RtpCodecKind};
use tokio::sync::watch;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::munger::Munger;
use super::rewrite::Rewrite;
use crate::metrics::{DropReason, Metrics};

/// Fewest milliseconds between two keyframe requests sent to one publisher.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(300);

/// One track that one participant publishes.
pub struct Publication {
    pub publisher: String,
    pub kind: RtpCodecKind,
    pub codec: RTCRtpCodec,
    pub ssrc: u32,
    /// The publisher leg's payload type for `codec`, when known.
    pub payload_type: Option<u8>,
    /// The publisher leg's negotiated header extensions, `(uri, id)`.
    pub extensions: Vec<(String, u16)>,
    track: Arc<dyn TrackRemote>,
    downstreams: ArcSwap<Vec<Arc<Downstream>>>,
    started: Instant,
    last_keyframe_request_ms: AtomicU64,
    /// A host muted the publisher (or panic is on): read and drop, forward nothing.
    paused: AtomicBool,
    /// How often forwarding resumed after a pause: each downstream's numbering breaks there.
    resumes: AtomicU64,
    stop: watch::Sender<bool>,
}

/// The copy of a publication that goes to one subscriber.
pub struct Downstream {
    pub subscriber: String,
    pub track: Arc<TrackLocalStaticRTP>,
    pub ssrc: u32,
    /// `None` until the subscriber's leg has negotiated this track.
    rewrite: ArcSwapOption<Rewrite>,
    /// Sequence numbers and timestamps on the leg's SSRC, shared with the send slot so that a
    /// reused slot continues where its previous subscription stopped. Only the publication's
    /// forwarding loop locks it, so it is never contended.
    munger: Arc<Mutex<Munger>>,
    /// The publication's resume count this downstream has seen.
    resumes_seen: AtomicU64,
}

impl Downstream {
    pub fn new(
        subscriber: String,
        track: Arc<TrackLocalStaticRTP>,
        ssrc: u32,
        munger: Arc<Mutex<Munger>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            subscriber,
            track,
            ssrc,
            rewrite: ArcSwapOption::empty(),
            munger,
            resumes_seen: AtomicU64::new(0),
        })
    }

    pub fn set_rewrite(&self, rewrite: Rewrite) {
        self.rewrite.store(Some(Arc::new(rewrite)));
    }

    pub fn is_ready(&self) -> bool {
        self.rewrite.load().is_some()
    }
}

impl Publication {
    pub fn new(
        publisher: String,
        kind: RtpCodecKind,
        codec: RTCRtpCodec,
        ssrc: u32,
        payload_type: Option<u8>,
        extensions: Vec<(String, u16)>,
        track: Arc<dyn TrackRemote>,
    ) -> Arc<Self> {
        Arc::new(Self {
            publisher,
            kind,
            codec,
            ssrc,
            payload_type,
            extensions,
            track,
            downstreams: ArcSwap::from_pointee(Vec::new()),
            started: Instant::now(),
            last_keyframe_request_ms: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            resumes: AtomicU64::new(0),
            stop: watch::Sender::new(false),
        })
    }

    pub fn add_downstream(&self, downstream: Arc<Downstream>) {
        self.downstreams.rcu(|list| {
            let mut list = Vec::clone(list);
            list.retain(|d| d.subscriber != downstream.subscriber);
            list.push(downstream.clone());
            list
        });
    }

    pub fn remove_downstream(&self, subscriber: &str) {
        self.downstreams.rcu(|list| {
            let mut list = Vec::clone(list);
            list.retain(|d| d.subscriber != subscriber);
            list
        });
    }

    /// Removes this very downstream (not a newer one of the same subscriber).
    pub fn remove_exact_downstream(&self, downstream: &Arc<Downstream>) {
        self.downstreams.rcu(|list| {
            let mut list = Vec::clone(list);
            list.retain(|d| !Arc::ptr_eq(d, downstream));
            list
        });
    }

    pub fn downstream_count(&self) -> usize {
        self.downstreams.load().len()
    }

    /// Asks the publisher for a keyframe, at most once per [`KEYFRAME_REQUEST_GAP`].
    pub fn request_keyframe(self: &Arc<Self>) {
        if self.kind != RtpCodecKind::Video {
            return;
        }
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_keyframe_request_ms.load(Ordering::Relaxed);
        let gap = u64::try_from(KEYFRAME_REQUEST_GAP.as_millis()).unwrap_or(u64::MAX);
        if last != 0 && now_ms.saturating_sub(last) < gap {
            return;
        }
        self.last_keyframe_request_ms
            .store(now_ms.max(1), Ordering::Relaxed);
        let this = self.clone();
        tokio::spawn(async move {
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: this.ssrc,
            };
            if let Err(e) = this.track.write_rtcp(vec![Box::new(pli)]).await {
                tracing::debug!(publisher = %this.publisher, error = %e, "keyframe request failed");
            }
        });
    }

    /// Stops or resumes forwarding (a host mute). Resumed video starts at a fresh keyframe.
    pub fn set_paused(self: &Arc<Self>, paused: bool) {
        let was = self.paused.swap(paused, Ordering::Relaxed);
        if was && !paused {
            self.resumes.fetch_add(1, Ordering::Relaxed);
            self.request_keyframe();
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Stops the forwarding loop.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Reads the publisher's RTP until the track ends or [`stop`](Self::stop) is called, and
    /// writes a rewritten copy to every ready downstream, counting in `metrics`.
    pub async fn forward(self: Arc<Self>, metrics: Arc<Metrics>) {
        let mut stop = self.stop.subscribe();
        loop {
            let event = tokio::select! {
                event = self.track.poll() => event,
                _ = stop.wait_for(|s| *s) => break,
            };
            match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => {
                    let bytes = packet.payload.len();
                    metrics.received(bytes);
                    if self.paused.load(Ordering::Relaxed) {
                        metrics.dropped(DropReason::Paused, 1);
                        continue;
                    }
                    let (mut sent, mut late, mut failed) = (0, 0, 0);
                    let now = Instant::now();
                    let resumes = self.resumes.load(Ordering::Relaxed);
                    let downstreams = self.downstreams.load();
                    for d in downstreams.iter() {
                        let Some(rewrite) = d.rewrite.load_full() else {
                            continue;
                        };
                        let mut copy = packet.clone();
                        if !rewrite.apply(&mut copy) {
                            continue;
                        }
                        let munged = {
                            let mut munger = d.munger.lock().unwrap_or_else(|p| p.into_inner());
                            // Resumed after a pause: no hole where the paused packets were.
                            if d.resumes_seen.swap(resumes, Ordering::Relaxed) != resumes {
                                munger.mark_break();
                            }
                            munger.forward(copy.header.sequence_number, copy.header.timestamp, now)
                        };
                        // None: a late packet from before a break.
                        let Some(munged) = munged else {
                            late += 1;
                            continue;
                        };
                        copy.header.sequence_number = munged.sequence_number;
                        copy.header.timestamp = munged.timestamp;
                        match d.track.write_rtp(copy).await {
                            Ok(()) => sent += 1,
                            Err(e) => {
                                failed += 1;
                                tracing::trace!(subscriber = %d.subscriber, error = %e, "write_rtp failed");
                            }
                        }
                    }
                    metrics.forwarded(sent, bytes);
                    metrics.dropped(DropReason::Late, late);
                    metrics.dropped(DropReason::WriteFailed, failed);
                }
                Some(TrackRemoteEvent::OnEnded) | None => break,
                Some(_) => {}
            }
        }
        tracing::debug!(publisher = %self.publisher, kind = %self.kind, "forwarding stopped");
    }
}
