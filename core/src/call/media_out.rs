//! Sending: the app hands in camera frames and microphone audio; encoder threads turn them into
//! H.264 and Opus; a writer task puts the encoded frames on the current peer connection's tracks
//! (which change when the call reconnects).
//!
//! Audio: every packet carries the RFC 6464 audio level of its frame (what the server ranks
//! speakers by), and Opus DTX leaves silence (a muted microphone too) at a packet every 400 ms.
//! Video: while nobody watches it (the server's `video_watched`), camera frames are neither
//! encoded nor sent; the first one after is a keyframe.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use rtc::media::Sample;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;

use crate::error::CoreError;
use crate::media::audio::{AudioEncoder, Channels, audio_level, is_dtx_packet};
use crate::media::video::{I420Frame, VideoEncoder, VideoEncoderConfig};

/// Where encoded media goes right now: the tracks of the current peer connection, with the SSRC
/// and payload type each negotiated.
pub struct OutTracks {
    pub audio: Option<(Arc<TrackLocalStaticSample>, u32, u8)>,
    pub video: Option<(Arc<TrackLocalStaticSample>, u32, u8)>,
}

/// Counters for the app and the CLI.
#[derive(Debug, Default)]
pub struct SendStats {
    pub video_frames_in: AtomicU64,
    pub video_frames_dropped: AtomicU64,
    pub video_frames_sent: AtomicU64,
    pub keyframes_sent: AtomicU64,
    /// Camera frames not encoded because nobody watches my video.
    pub video_frames_unwatched: AtomicU64,
    /// Audio packets sent (each 10 or 20 ms).
    pub audio_frames_sent: AtomicU64,
    /// Audio frames not sent: silence that Opus DTX left out.
    pub audio_frames_dtx: AtomicU64,
}

enum Encoded {
    Video {
        data: Vec<u8>,
        duration: Duration,
    },
    Audio {
        data: Vec<u8>,
        duration: Duration,
        level: AudioLevelExtension,
    },
}

/// The sending half of a call. Cloning is cheap; dropping the last clone stops the threads.
pub struct Outgoing {
    video: SyncSender<I420Frame>,
    audio: SyncSender<Vec<i16>>,
    pub tracks: Arc<ArcSwapOption<OutTracks>>,
    pub keyframe_wanted: Arc<AtomicBool>,
    pub video_on: Arc<AtomicBool>,
    /// Somebody watches my video; while not, frames are dropped before the encoder.
    pub video_watched: Arc<AtomicBool>,
    pub audio_on: Arc<AtomicBool>,
    pub stats: Arc<SendStats>,
}

impl Outgoing {
    pub fn start(
        video_config: VideoEncoderConfig,
        audio_channels: Channels,
    ) -> Result<Self, CoreError> {
        // Fail early (and on the caller's thread) if the codecs cannot be created.
        let video_encoder = VideoEncoder::new(video_config)?;
        let audio_encoder = AudioEncoder::new(audio_channels)?;
        let (video_tx, video_rx) = sync_channel::<I420Frame>(2);
        let (audio_tx, audio_rx) = sync_channel::<Vec<i16>>(8);
        let (encoded_tx, encoded_rx) = mpsc::channel::<Encoded>(32);
        let tracks: Arc<ArcSwapOption<OutTracks>> = Arc::new(ArcSwapOption::empty());
        let keyframe_wanted = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(SendStats::default());
        let video_on = Arc::new(AtomicBool::new(true));
        let video_watched = Arc::new(AtomicBool::new(true));
        let audio_on = Arc::new(AtomicBool::new(true));

        let max_fps = video_config.max_fps.max(1.0);
        {
            let tx = encoded_tx.clone();
            let keyframe = keyframe_wanted.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("salon-video-enc".into())
                .spawn(move || video_thread(video_encoder, video_rx, tx, keyframe, stats, max_fps))
                .map_err(CoreError::media)?;
        }
        std::thread::Builder::new()
            .name("salon-audio-enc".into())
            .spawn(move || {
                audio_thread(audio_encoder, audio_rx, encoded_tx, audio_channels.count())
            })
            .map_err(CoreError::media)?;
        tokio::spawn(write_loop(encoded_rx, tracks.clone(), stats.clone()));
        Ok(Self {
            video: video_tx,
            audio: audio_tx,
            tracks,
            keyframe_wanted,
            video_on,
            video_watched,
            audio_on,
            stats,
        })
    }

    /// Hands a camera frame to the encoder. Never blocks: when the encoder is busy the frame is
    /// dropped (and counted), as a camera would.
    pub fn send_video(&self, frame: I420Frame) -> Result<(), CoreError> {
        self.stats.video_frames_in.fetch_add(1, Ordering::Relaxed);
        if !self.video_on.load(Ordering::Relaxed) {
            return Ok(());
        }
        if !self.video_watched.load(Ordering::Relaxed) {
            self.stats
                .video_frames_unwatched
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        match self.video.try_send(frame) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.stats
                    .video_frames_dropped
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(CoreError::CallEnded),
        }
    }

    /// Hands 10 or 20 ms of 48 kHz PCM to the encoder (silence is encoded while muted, which
    /// DTX turns into a packet every 400 ms).
    pub fn send_audio(&self, mut pcm: Vec<i16>) -> Result<(), CoreError> {
        if !self.audio_on.load(Ordering::Relaxed) {
            pcm.fill(0);
        }
        match self.audio.try_send(pcm) {
            Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(CoreError::CallEnded),
        }
    }
}

fn video_thread(
    mut encoder: VideoEncoder,
    frames: Receiver<I420Frame>,
    out: mpsc::Sender<Encoded>,
    keyframe: Arc<AtomicBool>,
    stats: Arc<SendStats>,
    max_fps: f32,
) {
    let mut last_ts: Option<u64> = None;
    let default = Duration::from_secs_f32(1.0 / max_fps);
    while let Ok(frame) = frames.recv() {
        let force = keyframe.swap(false, Ordering::Relaxed);
        let duration = last_ts
            .and_then(|t| frame.timestamp_us.checked_sub(t))
            .map(Duration::from_micros)
            .filter(|d| !d.is_zero() && *d < Duration::from_secs(1))
            .unwrap_or(default);
        last_ts = Some(frame.timestamp_us);
        match encoder.encode(&frame, force) {
            Ok(Some(encoded)) => {
                if encoded.keyframe {
                    stats.keyframes_sent.fetch_add(1, Ordering::Relaxed);
                }
                let message = Encoded::Video {
                    data: encoded.data,
                    duration,
                };
                if out.blocking_send(message).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "video frame not encoded"),
        }
    }
}

fn audio_thread(
    mut encoder: AudioEncoder,
    frames: Receiver<Vec<i16>>,
    out: mpsc::Sender<Encoded>,
    channels: usize,
) {
    while let Ok(pcm) = frames.recv() {
        let samples = pcm.len() / channels.max(1);
        let duration = Duration::from_micros(samples as u64 * 1_000_000 / 48_000);
        let (level, voice) = audio_level(&pcm);
        let level = AudioLevelExtension { level, voice };
        match encoder.encode(&pcm) {
            Ok(data) => {
                if out
                    .blocking_send(Encoded::Audio {
                        data,
                        duration,
                        level,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "audio frame not encoded"),
        }
    }
}

async fn write_loop(
    mut encoded: mpsc::Receiver<Encoded>,
    tracks: Arc<ArcSwapOption<OutTracks>>,
    stats: Arc<SendStats>,
) {
    while let Some(item) = encoded.recv().await {
        let Some(current) = tracks.load_full() else {
            continue;
        };
        let (slot, data, duration, counter, extensions) = match item {
            Encoded::Video { data, duration } => (
                &current.video,
                data,
                duration,
                &stats.video_frames_sent,
                Vec::new(),
            ),
            Encoded::Audio {
                data,
                duration,
                level,
            } => {
                if is_dtx_packet(&data) {
                    // Nothing goes out, but the RTP clock moves on: an empty sample advances
                    // the packetizer's timestamp without a packet (nor a sequence number).
                    (
                        &current.audio,
                        Vec::new(),
                        duration,
                        &stats.audio_frames_dtx,
                        Vec::new(),
                    )
                } else {
                    (
                        &current.audio,
                        data,
                        duration,
                        &stats.audio_frames_sent,
                        vec![HeaderExtension::AudioLevel(level)],
                    )
                }
            }
        };
        let Some((track, ssrc, pt)) = slot else {
            continue;
        };
        let mut sample = Sample::new(Instant::now());
        sample.data = Bytes::from(data);
        sample.duration = duration;
        match track.write_sample(*ssrc, *pt, &sample, &extensions).await {
            Ok(()) => {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::trace!(error = %e, "sample not written (connection not ready)"),
        }
    }
}
