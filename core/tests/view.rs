//! What each native client shows and hears, through a real server (issue 10): a client that
//! hides a publisher stops receiving its video and gets it back (from a keyframe) when it shows
//! it again; a publisher nobody watches stops encoding; a loud client is among the others'
//! speakers, and a silent one sends next to nothing (Opus DTX).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{server, wait_for};

use salon_core::media::audio::Channels;
use salon_core::media::pattern::{Silence, TestPattern, Tone};
use salon_core::{Call, CallConfig, Client, ParticipantView};

/// What the feeder sends.
#[derive(Clone, Copy)]
struct Feed {
    video: bool,
    loud: bool,
}

/// Feeds 20 ms audio frames (a tone when `loud`, else digital silence) and, with `video`, a
/// 160×120 pattern at 25 frames/s, until the returned task is aborted.
fn feed(call: Arc<Call>, what: Feed) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pattern = TestPattern::new(160, 120).unwrap();
        let mut tone = Tone::new(440.0, Channels::Mono).unwrap();
        let mut silence = Silence::new(Channels::Mono);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut n = 0u64;
        loop {
            tick.tick().await;
            let pcm = if what.loud {
                tone.next_frame_20ms()
            } else {
                silence.next_frame_20ms()
            };
            let _ = call.send_audio_frame(pcm);
            if what.video && n.is_multiple_of(2) {
                let _ = call.send_video_frame(pattern.next_frame(n * 20_000));
            }
            n += 1;
        }
    })
}

async fn join(client: &Client, link: &str, name: &str, video: bool) -> Arc<Call> {
    let mut config = CallConfig::new(name);
    config.video_on = video;
    config.video.width = 160;
    config.video.height = 120;
    config.video.bitrate_bps = 200_000;
    config.video.max_fps = 25.0;
    Arc::new(client.join(link, config, None, None, None).await.unwrap())
}

fn received(call: &Call, from: &str) -> (u64, u64) {
    let s = call.remote_stats().get(from).cloned().unwrap_or_default();
    (s.frames_received, s.frames_decoded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_videos_stop_coming_and_come_back_from_a_keyframe() {
    let (server, _dir) = server().await;
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let publisher = join(&client, &room.link, "Publisher", true).await;
    let viewer = join(&client, &room.link, "Viewer", false).await;
    let other = join(&client, &room.link, "Other", false).await;
    let p = publisher.state().me.unwrap();
    let feeder = feed(
        publisher.clone(),
        Feed {
            video: true,
            loud: false,
        },
    );

    // Both watchers decode the publisher (nobody set a view yet: everything is forwarded).
    assert!(
        wait_for(Duration::from_secs(20), || received(&viewer, &p).1 > 5
            && received(&other, &p).1 > 5)
        .await,
        "viewer {:?}, other {:?}",
        received(&viewer, &p),
        received(&other, &p)
    );

    // The viewer hides the publisher: within about a second nothing more arrives, while the
    // other watcher goes on receiving and the publisher goes on sending.
    viewer.set_view(&p, ParticipantView::Hidden).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (hidden_at, _) = received(&viewer, &p);
    let (other_at, _) = received(&other, &p);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (hidden_after, _) = received(&viewer, &p);
    let (other_after, _) = received(&other, &p);
    assert!(
        hidden_after - hidden_at <= 1,
        "a hidden publisher's video still arrives: {hidden_at} -> {hidden_after} frames in 1 s"
    );
    assert!(
        other_after - other_at >= 10,
        "the other watcher stopped receiving too: {other_at} -> {other_after}"
    );
    assert!(publisher.state().video_watched);

    // The other hides it too: nobody watches, so the publisher stops encoding.
    other.set_view(&p, ParticipantView::Hidden).unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || !publisher.state().video_watched).await,
        "the publisher was not told that nobody watches"
    );
    let stats = publisher.send_stats();
    let sent = stats
        .video_frames_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    let unwatched = stats
        .video_frames_unwatched
        .load(std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        stats
            .video_frames_sent
            .load(std::sync::atomic::Ordering::Relaxed)
            <= sent + 1,
        "an unwatched publisher goes on sending video"
    );
    assert!(
        stats
            .video_frames_unwatched
            .load(std::sync::atomic::Ordering::Relaxed)
            >= unwatched + 10
    );

    // The viewer shows it again: the publisher resumes with a keyframe and the viewer decodes.
    let keyframes = stats
        .keyframes_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    let (_, decoded) = received(&viewer, &p);
    viewer.set_view(&p, ParticipantView::Thumbnail).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || received(&viewer, &p).1
            >= decoded + 10)
        .await,
        "the shown video does not decode again: {decoded} -> {:?}",
        received(&viewer, &p)
    );
    assert!(publisher.state().video_watched);
    assert!(
        stats
            .keyframes_sent
            .load(std::sync::atomic::Ordering::Relaxed)
            > keyframes
    );
    // The other still hides it.
    let (other_now, _) = received(&other, &p);
    assert!(other_now - other_after <= 2, "{other_after} -> {other_now}");

    feeder.abort();
    for call in [&publisher, &viewer, &other] {
        call.leave().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loud_client_is_among_the_speakers_and_silence_is_nearly_free() {
    let (server, _dir) = server().await;
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let loud = join(&client, &room.link, "Loud", false).await;
    let quiet = join(&client, &room.link, "Quiet", false).await;
    let muted = join(&client, &room.link, "Muted", false).await;
    muted.set_microphone(false).unwrap();
    let (l, q, m) = (
        loud.state().me.unwrap(),
        quiet.state().me.unwrap(),
        muted.state().me.unwrap(),
    );
    let feeders = [
        feed(
            loud.clone(),
            Feed {
                video: false,
                loud: true,
            },
        ),
        feed(
            quiet.clone(),
            Feed {
                video: false,
                loud: false,
            },
        ),
        // A muted microphone with a loud room around it: the core sends silence.
        feed(
            muted.clone(),
            Feed {
                video: false,
                loud: true,
            },
        ),
    ];

    // Everyone sees the loud one speaking, first in the list; the loud one sees itself.
    let heard = |call: &Call| {
        let s = call.state();
        s.speakers.first() == Some(&l)
            && !s.speakers.contains(&q)
            && !s.speakers.contains(&m)
            && s.participants.iter().all(|p| p.speaking == (p.id == l))
    };
    assert!(
        wait_for(Duration::from_secs(10), || heard(&quiet) && heard(&muted)).await,
        "quiet sees {:?}, muted sees {:?}",
        quiet.state().speakers,
        muted.state().speakers
    );
    assert!(
        wait_for(Duration::from_secs(5), || {
            let s = loud.state();
            s.speaking && s.speakers.first() == Some(&l)
        })
        .await,
        "the loud one sees {:?}",
        loud.state().speakers
    );
    // And hears the silent ones' audio little or not at all, while they hear the loud one.
    assert!(
        wait_for(Duration::from_secs(5), || {
            quiet
                .remote_stats()
                .get(&l)
                .is_some_and(|s| s.audio_frames_decoded > 50)
        })
        .await
    );

    // Silence (a silent room, a muted microphone) costs about 2.5 packets a second with DTX.
    use std::sync::atomic::Ordering::Relaxed;
    for call in [&quiet, &muted] {
        let stats = call.send_stats();
        let (sent, dtx) = (
            stats.audio_frames_sent.load(Relaxed),
            stats.audio_frames_dtx.load(Relaxed),
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let sent = stats.audio_frames_sent.load(Relaxed) - sent;
        let dtx = stats.audio_frames_dtx.load(Relaxed) - dtx;
        assert!(sent <= 8, "{sent} audio packets in 2 s of silence");
        assert!(dtx >= 80, "only {dtx} frames left out in 2 s of silence");
    }

    // The loud one falls silent: the list empties.
    feeders[0].abort();
    let hush = feed(
        loud.clone(),
        Feed {
            video: false,
            loud: false,
        },
    );
    assert!(
        wait_for(Duration::from_secs(8), || {
            let s = quiet.state();
            !s.speakers.contains(&l) && s.participants.iter().all(|p| !p.speaking)
        })
        .await,
        "still speaking: {:?}",
        quiet.state().speakers
    );
    hush.abort();
    for f in &feeders {
        f.abort();
    }
    for call in [&loud, &quiet, &muted] {
        call.leave().await;
    }
}
