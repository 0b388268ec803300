//! Receiving: each remote track is read on a task; H.264 is reassembled into frames and decoded
//! on a thread of its own (openh264 is not async), Opus likewise; decoded media goes to the
//! app's sinks, and counters to the stats map.
//!
//! webrtc ends a remote track only when the peer connection closes. The server parks a section
//! (inactive) when its publisher leaves and later reuses it for the next publisher of that kind:
//! same SSRC, a new track id, a new stream id. The old track then never ends, so [`Receivers`]
//! ends its task (and with it the decoder thread) when a new track takes over its SSRC, or when
//! its participant leaves.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::Packet;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use tokio::sync::{mpsc, oneshot};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use salon_e2ee::Codec;
use salon_protocol::{VideoSource, split_stream_id};

use super::state::MediaKind;
use crate::media::audio::{AudioDecoder, Channels};
use crate::media::depacketize::H264Assembler;
use crate::media::video::{I420Frame, VideoDecoder};

/// Receives each remote participant's decoded video. Called on a decoder thread. A screen
/// share's frames come with the id `<participant id>|screen` (`salon_protocol::split_stream_id`
/// tells them apart), a camera's with the participant's id.
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
    /// Frames (video and audio) dropped because they did not decrypt: no key from them yet, a
    /// wrong key, or altered on the way. Only in end-to-end encrypted rooms.
    pub frames_undecryptable: u64,
}

pub type StatsMap = Arc<Mutex<HashMap<String, RemoteStats>>>;

/// What the receiving side tells the call driver.
pub enum MediaEvent {
    Receiving {
        participant: String,
        kind: MediaKind,
        on: bool,
    },
}

#[derive(Clone)]
pub struct ReceiveContext {
    pub video_sink: Option<Arc<dyn VideoSink>>,
    pub audio_sink: Option<Arc<dyn AudioSink>>,
    pub stats: StatsMap,
    pub events: mpsc::UnboundedSender<MediaEvent>,
    /// The receive tasks running now.
    pub receivers: Receivers,
    /// Opens frames in an end-to-end encrypted room (passes them on otherwise).
    pub crypto: Arc<super::e2ee::MediaCrypto>,
    /// Tests: sees each reassembled video frame before decryption.
    pub raw_video_tap: Option<super::RawVideoTap>,
}

/// Why a receive task stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The track ended (the peer connection closed).
    Ended,
    /// A newer track took over: the same SSRC (a reused section), or the same participant's
    /// stream of the same kind (`same_source`, which then goes on on the new track).
    Replaced { same_source: bool },
    /// The participant left the room.
    Left,
}

/// What a receive task reads, once it has looked at its track.
#[derive(Debug, Clone)]
struct Source {
    who: String,
    kind: MediaKind,
    ssrcs: Vec<u32>,
}

impl Source {
    /// Whether a task reading `self` is superseded by a new track reading `newer`: they share an
    /// SSRC (the section was reused, and webrtc delivers that SSRC's packets to the newer track
    /// only), or they are the same participant's stream of the same kind (the server forwards at
    /// most one of those to us, so the older one went quiet).
    fn superseded_by(&self, newer: &Source) -> bool {
        self.ssrcs.iter().any(|s| newer.ssrcs.contains(s))
            || (!newer.who.is_empty() && self.who == newer.who && self.kind == newer.kind)
    }
}

struct Running {
    /// Sending (or dropping) it stops the task.
    stop: oneshot::Sender<Stop>,
    /// `None` until the task has read its track.
    source: Option<Source>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    running: HashMap<u64, Running>,
}

/// The receive tasks running now, so that the ones webrtc never ends can be stopped: see the
/// module's documentation.
#[derive(Clone, Default)]
pub struct Receivers(Arc<Mutex<Table>>);

/// A task's place in [`Receivers`]; dropping it (the task ended, however) frees the place.
struct Registration {
    receivers: Receivers,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.receivers.table().running.remove(&self.id);
    }
}

impl Receivers {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new task, and what tells it to stop.
    fn register(&self) -> (Registration, oneshot::Receiver<Stop>) {
        let (stop, stopped) = oneshot::channel();
        let mut table = self.table();
        let id = table.next_id;
        table.next_id += 1;
        table.running.insert(id, Running { stop, source: None });
        drop(table);
        let registration = Registration {
            receivers: self.clone(),
            id,
        };
        (registration, stopped)
    }

    /// Records what the task at `registration` reads, and stops the tasks it supersedes.
    fn claim(&self, registration: &Registration, source: Source) {
        let mut replaced = Vec::new();
        {
            let mut table = self.table();
            let older: Vec<u64> = table
                .running
                .iter()
                .filter(|(id, r)| {
                    **id != registration.id
                        && r.source.as_ref().is_some_and(|s| s.superseded_by(&source))
                })
                .map(|(id, _)| *id)
                .collect();
            for id in older {
                if let Some(r) = table.running.remove(&id) {
                    replaced.push(r);
                }
            }
            if let Some(mine) = table.running.get_mut(&registration.id) {
                mine.source = Some(source.clone());
            }
        }
        for r in replaced {
            let same_source = r
                .source
                .as_ref()
                .is_some_and(|s| s.who == source.who && s.kind == source.kind);
            tracing::debug!(
                participant = %source.who,
                kind = ?source.kind,
                ssrcs = ?source.ssrcs,
                replaced = ?r.source,
                "a new track took over; its predecessor's receiver stops"
            );
            let _ = r.stop.send(Stop::Replaced { same_source });
        }
    }

    /// Stops the tasks receiving `participant` (who left the room).
    pub fn participant_left(&self, participant: &str) {
        self.stop_where(|s| s.who == participant);
    }

    /// Stops the task receiving `participant`'s screen (their share ended: the server parks its
    /// section, and webrtc never ends the track).
    pub fn share_ended(&self, participant: &str) {
        self.stop_where(|s| s.who == participant && s.kind == MediaKind::Screen);
    }

    fn stop_where(&self, which: impl Fn(&Source) -> bool) {
        let left: Vec<Running> = {
            let mut table = self.table();
            let ids: Vec<u64> = table
                .running
                .iter()
                .filter(|(_, r)| r.source.as_ref().is_some_and(&which))
                .map(|(id, _)| *id)
                .collect();
            ids.iter()
                .filter_map(|id| table.running.remove(id))
                .collect()
        };
        for r in left {
            let _ = r.stop.send(Stop::Left);
        }
    }

    /// How many receive tasks are running.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().running.len()
    }
}

fn with_stats(stats: &StatsMap, who: &str, f: impl FnOnce(&mut RemoteStats)) {
    let mut map = stats.lock().unwrap_or_else(|p| p.into_inner());
    f(map.entry(who.to_owned()).or_default());
}

/// Starts receiving `track` (its media stream id is the publisher's participant id, with
/// `|screen` for a screen share). Stops the receiver of a track it supersedes (see
/// [`Receivers`]).
pub fn receive(track: Arc<dyn TrackRemote>, ctx: ReceiveContext) {
    let (registration, stop) = ctx.receivers.register();
    tokio::spawn(async move {
        let stream = track.stream_id().await;
        let (publisher, source) = split_stream_id(&stream);
        let who = publisher.to_owned();
        let kind = match track.kind().await {
            RtpCodecKind::Audio => MediaKind::Audio,
            RtpCodecKind::Video if source == VideoSource::Screen => MediaKind::Screen,
            RtpCodecKind::Video => MediaKind::Video,
            _ => return,
        };
        // Known by now: webrtc fills in the track's codings before it hands the track out.
        let ssrcs = track.ssrcs().await;
        ctx.receivers.claim(
            &registration,
            Source {
                who: who.clone(),
                kind,
                ssrcs,
            },
        );
        match kind {
            MediaKind::Audio => receive_audio(track, who, ctx, stop).await,
            MediaKind::Video | MediaKind::Screen => {
                receive_video(track, (stream, who, kind), ctx, stop).await;
            }
        }
        drop(registration);
    });
}

/// The next RTP packet of `track`, or why its receiver stops.
async fn next_packet(
    track: &Arc<dyn TrackRemote>,
    stop: &mut oneshot::Receiver<Stop>,
) -> Result<Packet, Stop> {
    loop {
        tokio::select! {
            event = track.poll() => match event {
                Some(TrackRemoteEvent::OnRtpPacket(packet)) => return Ok(packet),
                Some(TrackRemoteEvent::OnEnded) | None => return Err(Stop::Ended),
                Some(_) => {}
            },
            // A dropped sender only happens with the whole table gone: stop too.
            why = &mut *stop => return Err(why.unwrap_or(Stop::Ended)),
        }
    }
}

/// Tells the room that `who`'s `kind` stopped arriving, unless their stream goes on on a newer
/// track.
fn receiving_stopped(ctx: &ReceiveContext, who: String, kind: MediaKind, why: Stop) {
    if matches!(why, Stop::Replaced { same_source: true }) {
        return;
    }
    let _ = ctx.events.send(MediaEvent::Receiving {
        participant: who,
        kind,
        on: false,
    });
}

/// `stream`: the id the app's sink and the stats know the video by (its media stream id:
/// `<publisher>` for a camera, `<publisher>|screen` for a share); `who`: the publisher, whose
/// key opens it; `kind`: [`MediaKind::Video`] or [`MediaKind::Screen`].
async fn receive_video(
    track: Arc<dyn TrackRemote>,
    (stream, who, kind): (String, String, MediaKind),
    ctx: ReceiveContext,
    mut stop: oneshot::Receiver<Stop>,
) {
    let (frames_tx, frames_rx) = sync_channel::<Vec<u8>>(8);
    let want_keyframe = Arc::new(AtomicBool::new(false));
    {
        let who = who.clone();
        let stream = stream.clone();
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
                // Frames stopped decrypting (no key yet): the first one that opens again asks
                // for a keyframe to start from. A member who never gets a key (a wrong link key)
                // never asks, so it cannot make everyone send keyframes over and over.
                let mut undecryptable = false;
                while let Ok(frame) = frames_rx.recv() {
                    // Never decode what did not decrypt: the server (or anyone on the way)
                    // cannot show us a picture of its own.
                    let frame = match ctx.crypto.incoming(&who, Codec::H264, frame) {
                        Ok(frame) => frame,
                        Err(e) => {
                            tracing::trace!(error = %e, "video frame did not decrypt");
                            with_stats(&ctx.stats, &stream, |s| s.frames_undecryptable += 1);
                            undecryptable = true;
                            continue;
                        }
                    };
                    if std::mem::take(&mut undecryptable) {
                        want_keyframe.store(true, Ordering::Relaxed);
                    }
                    match decoder.decode(&frame) {
                        Ok(Some(picture)) => {
                            with_stats(&ctx.stats, &stream, |s| {
                                s.frames_decoded += 1;
                                s.width = picture.width;
                                s.height = picture.height;
                            });
                            if let Some(sink) = &ctx.video_sink {
                                sink.on_video_frame(&stream, picture);
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
    let why = loop {
        let packet = match next_packet(&track, &mut stop).await {
            Ok(packet) => packet,
            Err(why) => break why,
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
            with_stats(&ctx.stats, &stream, |s| s.video_codec = codec);
        }
        if !announced {
            announced = true;
            let _ = ctx.events.send(MediaEvent::Receiving {
                participant: who.clone(),
                kind,
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
            with_stats(&ctx.stats, &stream, |s| s.frames_received += 1);
            if let Some(tap) = &ctx.raw_video_tap {
                tap(&stream, &frame);
            }
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
    };
    // Dropping `frames_tx` (on return) ends the decoder thread.
    receiving_stopped(&ctx, who, kind, why);
}

async fn receive_audio(
    track: Arc<dyn TrackRemote>,
    who: String,
    ctx: ReceiveContext,
    mut stop: oneshot::Receiver<Stop>,
) {
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
                while let Ok(packet) = packets_rx.recv() {
                    let packet = match ctx.crypto.incoming(&who, Codec::Opus, packet) {
                        Ok(packet) => packet,
                        Err(_) => {
                            with_stats(&ctx.stats, &who, |s| s.frames_undecryptable += 1);
                            continue;
                        }
                    };
                    let Ok(pcm) = decoder.decode(&packet) else {
                        continue;
                    };
                    with_stats(&ctx.stats, &who, |s| s.audio_frames_decoded += 1);
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
    let why = loop {
        let packet = match next_packet(&track, &mut stop).await {
            Ok(packet) => packet,
            Err(why) => break why,
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
    };
    // Dropping `packets_tx` (on return) ends the decoder thread.
    receiving_stopped(&ctx, who, MediaKind::Audio, why);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(who: &str, kind: MediaKind, ssrcs: &[u32]) -> Source {
        Source {
            who: who.into(),
            kind,
            ssrcs: ssrcs.to_vec(),
        }
    }

    #[test]
    fn a_track_on_a_reused_ssrc_stops_the_old_receiver_only() {
        let receivers = Receivers::default();
        let (alice, mut alice_stop) = receivers.register();
        receivers.claim(&alice, source("alice", MediaKind::Video, &[7]));
        let (carol, mut carol_stop) = receivers.register();
        receivers.claim(&carol, source("carol", MediaKind::Video, &[9]));
        assert_eq!(receivers.len(), 2);

        // Alice left; her section now carries Bob, on the same SSRC.
        let (bob, mut bob_stop) = receivers.register();
        receivers.claim(&bob, source("bob", MediaKind::Video, &[7]));
        assert_eq!(
            alice_stop.try_recv(),
            Ok(Stop::Replaced { same_source: false })
        );
        assert!(carol_stop.try_recv().is_err());
        assert!(bob_stop.try_recv().is_err());
        assert_eq!(receivers.len(), 2);
        // The stopped task ending later does not take the others with it.
        drop(alice);
        assert_eq!(receivers.len(), 2);
        drop(carol);
        assert_eq!(receivers.len(), 1);
        drop(bob);
        assert_eq!(receivers.len(), 0);
    }

    #[test]
    fn a_new_track_of_the_same_stream_replaces_the_old_one_without_an_off() {
        let receivers = Receivers::default();
        let (old_video, mut old_video_stop) = receivers.register();
        receivers.claim(&old_video, source("alice", MediaKind::Video, &[1]));
        let (audio, mut audio_stop) = receivers.register();
        receivers.claim(&audio, source("alice", MediaKind::Audio, &[2]));
        let (video, _video_stop) = receivers.register();
        receivers.claim(&video, source("alice", MediaKind::Video, &[3]));
        assert_eq!(
            old_video_stop.try_recv(),
            Ok(Stop::Replaced { same_source: true })
        );
        assert!(audio_stop.try_recv().is_err());
    }

    #[test]
    fn leaving_stops_that_participants_receivers() {
        let receivers = Receivers::default();
        let (a_audio, mut a_audio_stop) = receivers.register();
        receivers.claim(&a_audio, source("alice", MediaKind::Audio, &[1]));
        let (a_video, mut a_video_stop) = receivers.register();
        receivers.claim(&a_video, source("alice", MediaKind::Video, &[2]));
        let (b_video, mut b_video_stop) = receivers.register();
        receivers.claim(&b_video, source("bob", MediaKind::Video, &[3]));
        // Not yet known whose: left alone.
        let (_unknown, mut unknown_stop) = receivers.register();

        receivers.participant_left("alice");
        assert_eq!(a_audio_stop.try_recv(), Ok(Stop::Left));
        assert_eq!(a_video_stop.try_recv(), Ok(Stop::Left));
        assert!(b_video_stop.try_recv().is_err());
        assert!(unknown_stop.try_recv().is_err());
        assert_eq!(receivers.len(), 2);
        receivers.participant_left("nobody");
        assert_eq!(receivers.len(), 2);
    }
}
