//! Receiving: each remote track is read on a task; H.264 is reassembled into frames and decoded
//! on a thread of its own (openh264 is not async), Opus likewise; decoded media goes to the
//! app's sinks, and counters to the stats map.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::state::{MediaKind, SpeakingDetector};
use crate::media::audio::{AudioDecoder, Channels};
use crate::media::depacketize::H264Assembler;
use crate::media::video::{I420Frame, VideoDecoder};

/// Receives each remote participant's decoded video. Called on a decoder thread.
pub trait VideoSink: Send + Sync + 'static {
    fn on_video_frame(&self, participant_id: &str, frame: I420Frame);
}

/// Receives each remote participant's decoded audio (48 kHz, interleaved). Called on a decoder
/// thread, every 10–20 ms per participant.
pub trait AudioSink: Send + Sync + 'static {
    fn on_audio_frame(&self, participant_id: &str, pcm: &[i16], channels: u16);
}

/// What arrived from one remote participant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteStats {
    /// Complete video frames reassembled from RTP.
    pub frames_received: u64,
    /// Frames the decoder turned into pictures.
    pub frames_decoded: u64,
    /// Size of the last decoded picture.
    pub width: u32,
    pub height: u32,
    /// Video codec of their stream (e.g. "video/H264").
    pub video_codec: String,
    pub audio_packets: u64,
    pub audio_frames_decoded: u64,
}

pub type StatsMap = Arc<Mutex<HashMap<String, RemoteStats>>>;

/// What the receiving side tells the call driver.
pub enum MediaEvent {
    Receiving {
        participant: String,
        kind: MediaKind,
        on: bool,
    },
    Speaking {
        participant: String,
        on: bool,
    },
}

#[derive(Clone)]
pub struct ReceiveContext {
    pub video_sink: Option<Arc<dyn VideoSink>>,
    pub audio_sink: Option<Arc<dyn AudioSink>>,
    pub stats: StatsMap,
    pub events: mpsc::UnboundedSender<MediaEvent>,
}

fn with_stats(stats: &StatsMap, who: &str, f: impl FnOnce(&mut RemoteStats)) {
    let mut map = stats.lock().unwrap_or_else(|p| p.into_inner());
    f(map.entry(who.to_owned()).or_default());
}

/// Starts receiving `track` (its media stream id is the publisher's participant id).
pub fn receive(track: Arc<dyn TrackRemote>, ctx: ReceiveContext) {
    tokio::spawn(async move {
        let who = track.stream_id().await;
        let kind = track.kind().await;
        match kind {
            RtpCodecKind::Audio => receive_audio(track, who, ctx).await,
            RtpCodecKind::Video => receive_video(track, who, ctx).await,
            _ => {}
        }
    });
}

async fn receive_video(track: Arc<dyn TrackRemote>, who: String, ctx: ReceiveContext) {
    let (frames_tx, frames_rx) = sync_channel::<Vec<u8>>(8);
    let want_keyframe = Arc::new(AtomicBool::new(false));
    {
        let who = who.clone();
        let ctx = ctx.clone();
        let want_keyframe = want_keyframe.clone();
        let spawned = std::thread::Builder::new()
            .name("salon-video-dec".into())
            .spawn(move || {
                let mut decoder = match VideoDecoder::new() {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!(error = %e, "no video decoder");
                        return;
                    }
                };
                while let Ok(frame) = frames_rx.recv() {
                    match decoder.decode(&frame) {
                        Ok(Some(picture)) => {
                            with_stats(&ctx.stats, &who, |s| {
                                s.frames_decoded += 1;
                                s.width = picture.width;
                                s.height = picture.height;
                            });
                            if let Some(sink) = &ctx.video_sink {
                                sink.on_video_frame(&who, picture);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            tracing::debug!(error = %e, "undecodable frame; asking for a keyframe");
                            want_keyframe.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a video decoder thread");
            return;
        }
    }
    let mut assembler = H264Assembler::new();
    let mut announced = false;
    let mut codec_checked = false;
    let mut is_h264 = true;
    let mut last_pli: Option<Instant> = None;
    while let Some(event) = track.poll().await {
        let packet = match event {
            TrackRemoteEvent::OnRtpPacket(packet) => packet,
            TrackRemoteEvent::OnEnded => break,
            _ => continue,
        };
        let remote_ssrc = packet.header.ssrc;
        if !codec_checked {
            codec_checked = true;
            let codec = track.codec(packet.header.ssrc).await.map(|c| c.mime_type);
            let codec = codec.unwrap_or_default();
            is_h264 = codec.eq_ignore_ascii_case("video/h264");
            if !is_h264 {
                tracing::warn!(participant = %who, %codec, "cannot decode this video codec");
            }
            with_stats(&ctx.stats, &who, |s| s.video_codec = codec);
        }
        if !announced {
            announced = true;
            let _ = ctx.events.send(MediaEvent::Receiving {
                participant: who.clone(),
                kind: MediaKind::Video,
                on: true,
            });
        }
        if !is_h264 {
            continue;
        }
        let frames = assembler.push(packet);
        if assembler.wants_keyframe() {
            // A loss left us without a reference picture (or we joined mid-stream).
            want_keyframe.store(true, Ordering::Relaxed);
        }
        for frame in frames {
            with_stats(&ctx.stats, &who, |s| s.frames_received += 1);
            if let Err(TrySendError::Full(_)) = frames_tx.try_send(frame) {
                // The decoder fell behind; what follows needs a fresh keyframe.
                want_keyframe.store(true, Ordering::Relaxed);
            }
        }
        if want_keyframe.load(Ordering::Relaxed)
            && last_pli.is_none_or(|t| t.elapsed() > Duration::from_millis(500))
        {
            want_keyframe.store(false, Ordering::Relaxed);
            last_pli = Some(Instant::now());
            let pli = PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc: remote_ssrc,
            };
            let _ = track.write_rtcp(vec![Box::new(pli)]).await;
        }
    }
    let _ = ctx.events.send(MediaEvent::Receiving {
        participant: who,
        kind: MediaKind::Video,
        on: false,
    });
}

async fn receive_audio(track: Arc<dyn TrackRemote>, who: String, ctx: ReceiveContext) {
    let (packets_tx, packets_rx) = sync_channel::<Vec<u8>>(50);
    {
        let who = who.clone();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("salon-audio-dec".into())
            .spawn(move || {
                let channels = 1;
                let mut decoder = match AudioDecoder::new(Channels::Mono) {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!(error = %e, "no audio decoder");
                        return;
                    }
                };
                let mut speaking = SpeakingDetector::default();
                while let Ok(packet) = packets_rx.recv() {
                    let Ok(pcm) = decoder.decode(&packet) else {
                        continue;
                    };
                    with_stats(&ctx.stats, &who, |s| s.audio_frames_decoded += 1);
                    if let Some(on) = speaking.feed(&pcm) {
                        let _ = ctx.events.send(MediaEvent::Speaking {
                            participant: who.clone(),
                            on,
                        });
                    }
                    if let Some(sink) = &ctx.audio_sink {
                        sink.on_audio_frame(&who, &pcm, channels);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start an audio decoder thread");
            return;
        }
    }
    let mut announced = false;
    while let Some(event) = track.poll().await {
        let packet = match event {
            TrackRemoteEvent::OnRtpPacket(packet) => packet,
            TrackRemoteEvent::OnEnded => break,
            _ => continue,
        };
        if !announced {
            announced = true;
            let _ = ctx.events.send(MediaEvent::Receiving {
                participant: who.clone(),
                kind: MediaKind::Audio,
                on: true,
            });
        }
        with_stats(&ctx.stats, &who, |s| s.audio_packets += 1);
        // A full queue means the decoder is behind: dropping a packet is what a jitter buffer
        // would do, and Opus conceals it.
        let _ = packets_tx.try_send(packet.payload.to_vec());
    }
    let _ = ctx.events.send(MediaEvent::Receiving {
        participant: who,
        kind: MediaKind::Audio,
        on: false,
    });
}
