//! Sending: the app hands in camera frames and microphone audio; encoder threads turn them into
//! H.264 and Opus; a writer task puts the encoded frames on the current peer connection's tracks
//! (which change when the call reconnects).
//!
//! Audio: every packet carries the RFC 6464 audio level of its frame (what the server ranks
//! speakers by), and Opus DTX leaves silence (a muted microphone too) at a packet every 400 ms.
//! Video goes out as two simulcast layers (`super::simulcast`): each camera frame is encoded
//! once halved (`q`) and once at full size (`f`), one after the other on the one encoder thread,
//! each layer with its own openh264 encoder, SSRC and keyframes. While nobody watches it (the
//! server's `video_watched`), camera frames are neither encoded nor sent; a layer nobody
//! watches (`video_layers`) is skipped before its encoder. The first frame of a layer back on
//! is a keyframe.
//!
//! Backgrounds: with one set ([`Outgoing::set_background`]), each camera frame is composited
//! (`crate::media::background`) on the encoder thread, with the person mask the app gave with
//! it, before both layers are encoded; the app's camera callback never waits for it. A frame
//! that comes without a mask while a background is on is composited as all background (blurred
//! all over, or only the picture), never sent as it came, and counted in
//! [`SendStats::video_frames_unmasked`].

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use rtc::media::Sample;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;

use salon_e2ee::Codec;

use super::e2ee::MediaCrypto;
use super::simulcast::{LAYER_COUNT, LAYERS, LayerSwitches};
use crate::error::CoreError;
use crate::media::audio::{AudioEncoder, Channels, audio_level, is_dtx_packet};
use crate::media::background::{Background, Compositor, PersonMask};
use crate::media::scale;
use crate::media::video::{I420Frame, VideoEncoder, VideoEncoderConfig};

/// Where encoded media goes right now: the tracks of the current peer connection, with the SSRC
/// and payload type each negotiated.
pub struct OutTracks {
    pub audio: Option<(Arc<TrackLocalStaticSample>, u32, u8)>,
    pub video: Option<VideoOut>,
    /// The screen section (`super::screen`): nothing goes out on it unless its `mirror` is on.
    pub screen: Option<ScreenOut>,
}

/// The screen share's track: one plain stream. The core captures no screen; as test support
/// ([`Call::share_camera_as_screen`](super::Call::share_camera_as_screen)) it sends the
/// camera's full layer on it too, sealed again (every copy has a frame counter of its own).
pub struct ScreenOut {
    pub track: Arc<TrackLocalStaticSample>,
    pub ssrc: u32,
    pub pt: u8,
    /// The mid extension every packet carries.
    pub extensions: Vec<HeaderExtension>,
    pub mirror: AtomicBool,
}

/// The video track of the current peer connection: one track, one encoding per layer.
pub struct VideoOut {
    pub track: Arc<TrackLocalStaticSample>,
    /// The negotiated H.264 payload type.
    pub pt: u8,
    /// Per layer, in [`LAYERS`] order.
    pub layers: Vec<LayerOut>,
}

/// One layer's RTP stream.
pub struct LayerOut {
    pub ssrc: u32,
    /// The mid and rid extensions every packet of it carries (empty when the server did not
    /// accept them).
    pub extensions: Vec<HeaderExtension>,
}

/// Counters for the app and the CLI.
#[derive(Debug, Default)]
pub struct SendStats {
    pub video_frames_in: AtomicU64,
    pub video_frames_dropped: AtomicU64,
    /// Encoded video frames sent, every layer counted (a camera frame sent on both layers
    /// counts twice).
    pub video_frames_sent: AtomicU64,
    /// Keyframes encoded, every layer counted.
    pub keyframes_sent: AtomicU64,
    /// Camera frames not encoded because nobody watches my video.
    pub video_frames_unwatched: AtomicU64,
    /// Camera frames that went out with the background blurred or replaced.
    pub video_frames_composited: AtomicU64,
    /// Of those, frames that came without a person mask (composited as all background).
    pub video_frames_unmasked: AtomicU64,
    /// Audio packets sent (each 10 or 20 ms).
    pub audio_frames_sent: AtomicU64,
    /// Audio frames not sent: silence that Opus DTX left out.
    pub audio_frames_dtx: AtomicU64,
    /// Per simulcast layer, in [`LAYERS`] order (`q`, then `f`).
    pub video_layers: [LayerStats; LAYER_COUNT],
}

impl SendStats {
    /// The counters of the layer with this rid.
    pub fn layer(&self, rid: &str) -> Option<&LayerStats> {
        super::simulcast::layer_of(rid).and_then(|i| self.video_layers.get(i))
    }
}

/// Counters of one simulcast layer.
#[derive(Debug, Default)]
pub struct LayerStats {
    /// Frames its encoder produced.
    pub frames_encoded: AtomicU64,
    /// Frames sent on it.
    pub frames_sent: AtomicU64,
    pub keyframes: AtomicU64,
    /// Camera frames not encoded on it because nobody watches this layer (the server's
    /// `video_layers`) while somebody watches another.
    pub frames_paused: AtomicU64,
    /// The size of its last encoded frame.
    pub width: AtomicU32,
    pub height: AtomicU32,
}

enum Encoded {
    Video {
        layer: usize,
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
    video: SyncSender<CameraFrame>,
    audio: SyncSender<Vec<i16>>,
    pub tracks: Arc<ArcSwapOption<OutTracks>>,
    /// Which layers to encode, and which owe a keyframe.
    pub layers: Arc<LayerSwitches>,
    pub video_on: Arc<AtomicBool>,
    /// Somebody watches my video; while not, frames are dropped before the encoder.
    pub video_watched: Arc<AtomicBool>,
    pub audio_on: Arc<AtomicBool>,
    pub stats: Arc<SendStats>,
    /// A background chosen since the encoder thread last looked (it takes it from here).
    background: Arc<Mutex<Option<Background>>>,
}

/// A camera frame on its way to the encoder thread, with the platform's person mask if any.
struct CameraFrame {
    frame: I420Frame,
    mask: Option<PersonMask>,
}

impl Outgoing {
    pub fn start(
        video_config: VideoEncoderConfig,
        audio_channels: Channels,
        crypto: Arc<MediaCrypto>,
    ) -> Result<Self, CoreError> {
        // Fail early (and on the caller's thread) if the codecs cannot be created.
        let video_encoders = LAYERS
            .iter()
            .map(|layer| {
                let (width, height) = if layer.halved {
                    scale::half_size(video_config.width, video_config.height)
                        .unwrap_or((video_config.width, video_config.height))
                } else {
                    (video_config.width, video_config.height)
                };
                VideoEncoder::new(VideoEncoderConfig {
                    width,
                    height,
                    bitrate_bps: layer.bitrate_bps(video_config.bitrate_bps),
                    ..video_config
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let audio_encoder = AudioEncoder::new(audio_channels)?;
        let (video_tx, video_rx) = sync_channel::<CameraFrame>(2);
        let (audio_tx, audio_rx) = sync_channel::<Vec<i16>>(8);
        let (encoded_tx, encoded_rx) = mpsc::channel::<Encoded>(32);
        let tracks: Arc<ArcSwapOption<OutTracks>> = Arc::new(ArcSwapOption::empty());
        let layers = Arc::new(LayerSwitches::default());
        let stats = Arc::new(SendStats::default());
        let video_on = Arc::new(AtomicBool::new(true));
        let video_watched = Arc::new(AtomicBool::new(true));
        let audio_on = Arc::new(AtomicBool::new(true));
        let background = Arc::new(Mutex::new(None));

        let max_fps = video_config.max_fps.max(1.0);
        {
            let tx = encoded_tx.clone();
            let layers = layers.clone();
            let stats = stats.clone();
            let background = background.clone();
            std::thread::Builder::new()
                .name("salon-video-enc".into())
                .spawn(move || {
                    let ctx = VideoContext {
                        out: tx,
                        layers,
                        stats,
                        max_fps,
                        background,
                    };
                    video_thread(video_encoders, video_rx, ctx)
                })
                .map_err(CoreError::media)?;
        }
        std::thread::Builder::new()
            .name("salon-audio-enc".into())
            .spawn(move || {
                audio_thread(audio_encoder, audio_rx, encoded_tx, audio_channels.count())
            })
            .map_err(CoreError::media)?;
        tokio::spawn(write_loop(
            encoded_rx,
            tracks.clone(),
            stats.clone(),
            crypto,
        ));
        Ok(Self {
            video: video_tx,
            audio: audio_tx,
            tracks,
            layers,
            video_on,
            video_watched,
            audio_on,
            stats,
            background,
        })
    }

    /// Changes the background from the next camera frame on (the encoder thread scales a
    /// picture once per frame size). A picture that is not a valid I420 frame, or too large, is
    /// refused here and changes nothing.
    pub fn set_background(&self, background: Background) -> Result<(), CoreError> {
        background.check()?;
        *self.background.lock().unwrap_or_else(|p| p.into_inner()) = Some(background);
        Ok(())
    }

    /// Hands a camera frame to the encoder. Never blocks: when the encoder is busy the frame is
    /// dropped (and counted), as a camera would.
    pub fn send_video(&self, frame: I420Frame) -> Result<(), CoreError> {
        self.send_video_masked(frame, None)
    }

    /// Hands a camera frame and the platform's person mask for it to the encoder thread, which
    /// puts the background behind the person first (if one is set). Never blocks.
    pub fn send_video_masked(
        &self,
        frame: I420Frame,
        mask: Option<PersonMask>,
    ) -> Result<(), CoreError> {
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
        match self.video.try_send(CameraFrame { frame, mask }) {
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

/// What the video encoder thread works with besides its encoders.
struct VideoContext {
    out: mpsc::Sender<Encoded>,
    layers: Arc<LayerSwitches>,
    stats: Arc<SendStats>,
    max_fps: f32,
    background: Arc<Mutex<Option<Background>>>,
}

/// Puts the background in (if one is set), then encodes each camera frame on every layer that
/// is on: halved for `q`, as is for `f`.
fn video_thread(mut encoders: Vec<VideoEncoder>, frames: Receiver<CameraFrame>, ctx: VideoContext) {
    let VideoContext {
        out,
        layers,
        stats,
        max_fps,
        background,
    } = ctx;
    let mut compositor = Compositor::new();
    let mut last_ts: [Option<u64>; LAYER_COUNT] = [None; LAYER_COUNT];
    let default = Duration::from_secs_f32(1.0 / max_fps);
    while let Ok(CameraFrame { mut frame, mask }) = frames.recv() {
        let chosen = background.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(chosen) = chosen
            && let Err(e) = compositor.set_background(chosen)
        {
            tracing::warn!(error = %e, "background not changed");
        }
        match compositor.composite(&mut frame, mask.as_ref()) {
            Ok(true) => {
                stats
                    .video_frames_composited
                    .fetch_add(1, Ordering::Relaxed);
                if mask.is_none() {
                    stats.video_frames_unmasked.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(false) => {}
            Err(e) => {
                // Only a frame that does not add up gets here; the encoder refuses it too.
                tracing::warn!(error = %e, "background not composited");
                continue;
            }
        }
        for (i, (layer, encoder)) in LAYERS.iter().zip(encoders.iter_mut()).enumerate() {
            let counters = &stats.video_layers[i];
            if !layers.is_on(i) {
                counters.frames_paused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // A frame too small to halve goes out as is (see `simulcast`).
            let halved = if layer.halved {
                scale::half(&frame)
            } else {
                None
            };
            let input = halved.as_ref().unwrap_or(&frame);
            let force = layers.take_keyframe(i);
            let duration = last_ts[i]
                .and_then(|t| input.timestamp_us.checked_sub(t))
                .map(Duration::from_micros)
                .filter(|d| !d.is_zero() && *d < Duration::from_secs(1))
                .unwrap_or(default);
            last_ts[i] = Some(input.timestamp_us);
            match encoder.encode(input, force) {
                Ok(Some(encoded)) => {
                    counters.frames_encoded.fetch_add(1, Ordering::Relaxed);
                    counters.width.store(input.width, Ordering::Relaxed);
                    counters.height.store(input.height, Ordering::Relaxed);
                    if encoded.keyframe {
                        stats.keyframes_sent.fetch_add(1, Ordering::Relaxed);
                        counters.keyframes.fetch_add(1, Ordering::Relaxed);
                    }
                    let message = Encoded::Video {
                        layer: i,
                        data: encoded.data,
                        duration,
                    };
                    if out.blocking_send(message).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, rid = layer.rid, "video frame not encoded"),
            }
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
    crypto: Arc<MediaCrypto>,
) {
    while let Some(item) = encoded.recv().await {
        let Some(current) = tracks.load_full() else {
            continue;
        };
        match item {
            Encoded::Video {
                layer,
                data,
                duration,
            } => {
                let Some(video) = &current.video else {
                    continue;
                };
                let Some(out) = video.layers.get(layer) else {
                    continue;
                };
                if let Some(screen) = &current.screen
                    && layer + 1 == video.layers.len()
                    && screen.mirror.load(Ordering::Relaxed)
                    && let Some(copy) = crypto.outgoing(Codec::H264, data.clone())
                {
                    let (track, ssrc, pt) = (&screen.track, screen.ssrc, screen.pt);
                    write(track, ssrc, pt, copy, duration, &screen.extensions).await;
                }
                // Sealed after the encoder, before packetization (ADR 0003 §6); never sent in
                // the clear in an encrypted room.
                let Some(data) = crypto.outgoing(Codec::H264, data) else {
                    continue;
                };
                if write(
                    &video.track,
                    out.ssrc,
                    video.pt,
                    data,
                    duration,
                    &out.extensions,
                )
                .await
                {
                    stats.video_frames_sent.fetch_add(1, Ordering::Relaxed);
                    if let Some(counters) = stats.video_layers.get(layer) {
                        counters.frames_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Encoded::Audio {
                data,
                duration,
                level,
            } => {
                let Some((track, ssrc, pt)) = &current.audio else {
                    continue;
                };
                if is_dtx_packet(&data) {
                    // Nothing goes out, but the RTP clock moves on: an empty sample advances
                    // the packetizer's timestamp without a packet (nor a sequence number).
                    if write(track, *ssrc, *pt, Vec::new(), duration, &[]).await {
                        stats.audio_frames_dtx.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    let Some(data) = crypto.outgoing(Codec::Opus, data) else {
                        continue;
                    };
                    let extensions = [HeaderExtension::AudioLevel(level)];
                    if write(track, *ssrc, *pt, data, duration, &extensions).await {
                        stats.audio_frames_sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

/// Writes one encoded frame as a sample on `ssrc`; whether it went out.
async fn write(
    track: &TrackLocalStaticSample,
    ssrc: u32,
    pt: u8,
    data: Vec<u8>,
    duration: Duration,
    extensions: &[HeaderExtension],
) -> bool {
    let mut sample = Sample::new(Instant::now());
    sample.data = Bytes::from(data);
    sample.duration = duration;
    match track.write_sample(ssrc, pt, &sample, extensions).await {
        Ok(()) => true,
        Err(e) => {
            tracing::trace!(error = %e, "sample not written (connection not ready)");
            false
        }
    }
}
