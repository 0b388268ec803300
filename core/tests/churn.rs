//! A long call with people coming and going: a native client stays while publishers join and
//! leave one after another. The server reuses the client's receive sections for the newcomers
//! (same SSRC, new track id), and webrtc never ends the departed publisher's track, so the core
//! must end those receivers itself: the number of video decoder threads stays bounded while the
//! last newcomer's video still arrives.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{feed, server, wait_for};

use salon_core::media::video::I420Frame;
use salon_core::{Call, CallConfig, Client, VideoSink};

/// Publishers that come and go before the last one.
const DEPARTED: usize = 6;

/// Decoded frames per participant, as the app's sink sees them.
#[derive(Default)]
struct Frames(Mutex<HashMap<String, u64>>);

impl VideoSink for Frames {
    fn on_video_frame(&self, participant_id: &str, _frame: I420Frame) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(participant_id.to_owned())
            .or_default() += 1;
    }
}

impl Frames {
    fn of(&self, who: &str) -> u64 {
        self.0.lock().unwrap().get(who).copied().unwrap_or(0)
    }
}

/// Live threads of this process named `name` (as `/proc/self/task/*/comm` shows them).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// A publisher of audio and video (160×120), fed until the returned task is aborted.
async fn publisher(
    client: &Client,
    link: &str,
    name: &str,
) -> (Arc<Call>, String, tokio::task::JoinHandle<()>) {
    let mut config = CallConfig::new(name);
    config.video.width = 160;
    config.video.height = 120;
    config.video.bitrate_bps = 200_000;
    config.video.max_fps = 25.0;
    let call = Arc::new(client.join(link, config, None, None, None).await.unwrap());
    let id = call.state().me.unwrap();
    let feeder = feed(call.clone(), 160, 120);
    (call, id, feeder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn departed_publishers_leave_no_decoders_behind() {
    let (server, _dir) = server().await;
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();

    // The watcher publishes nothing (microphone and camera off, nothing fed), so the publishers
    // decode nothing: every video decoder thread in this process is the watcher's.
    let baseline = threads_named("salon-video-dec");
    let frames = Arc::new(Frames::default());
    let mut watcher_config = CallConfig::new("Watcher");
    watcher_config.audio_on = false;
    watcher_config.video_on = false;
    let watcher = client
        .join(
            &room.link,
            watcher_config,
            None,
            Some(frames.clone() as Arc<dyn VideoSink>),
            None,
        )
        .await
        .unwrap();

    let mut counts = Vec::new();
    let mut after_leaving = Vec::new();
    for i in 0..DEPARTED {
        let (call, id, feeder) = publisher(&client, &room.link, &format!("Guest {i}")).await;
        assert!(
            wait_for(Duration::from_secs(10), || frames.of(&id) >= 3).await,
            "the watcher never decoded guest {i}'s video: {:?}",
            watcher.remote_stats().get(&id)
        );
        counts.push(threads_named("salon-video-dec").saturating_sub(baseline));
        feeder.abort();
        call.leave().await;
        drop(call);
        assert!(
            wait_for(Duration::from_secs(5), || !watcher
                .state()
                .participants
                .iter()
                .any(|p| p.id == id))
            .await,
            "guest {i} never left the watcher's room"
        );
        // Their decoder ends when they leave (not only when someone else reuses their section).
        wait_for(Duration::from_secs(3), || {
            threads_named("salon-video-dec").saturating_sub(baseline) == 0
        })
        .await;
        after_leaving.push(threads_named("salon-video-dec").saturating_sub(baseline));
    }

    // One more: the watcher receives them (on a reused section) ...
    let (last, last_id, feeder) = publisher(&client, &room.link, "Last").await;
    let seen = wait_for(Duration::from_secs(10), || frames.of(&last_id) >= 10).await;
    let stats = watcher.remote_stats().get(&last_id).cloned();
    assert!(seen, "the watcher never decoded the last guest: {stats:?}");
    let stats = stats.unwrap_or_default();
    assert_eq!((stats.width, stats.height), (160, 120));
    assert!(
        wait_for(Duration::from_secs(2), || watcher
            .state()
            .participants
            .iter()
            .any(|p| p.id == last_id && p.receiving_video))
        .await
    );

    // ... and decodes them on one thread, not one more per departed guest.
    let settled = wait_for(Duration::from_secs(5), || {
        threads_named("salon-video-dec").saturating_sub(baseline) <= 2
    })
    .await;
    let video_decoders = threads_named("salon-video-dec").saturating_sub(baseline);
    let audio_decoders = threads_named("salon-audio-dec");
    eprintln!(
        "video decoder threads while each guest was in: {counts:?}, after each left: \
         {after_leaving:?}; at the end: {video_decoders} video, {audio_decoders} audio"
    );
    assert!(
        settled,
        "{video_decoders} video decoder threads alive after {DEPARTED} guests left (while each \
         was in: {counts:?})"
    );
    assert!(
        audio_decoders <= 2,
        "{audio_decoders} audio decoder threads alive after {DEPARTED} guests left"
    );
    assert_eq!(
        after_leaving,
        vec![0; DEPARTED],
        "video decoder threads still alive after each guest left"
    );
    // Frames keep coming from the last guest after the clean-up.
    let before = frames.of(&last_id);
    assert!(wait_for(Duration::from_secs(5), || frames.of(&last_id) >= before + 5).await);

    feeder.abort();
    last.leave().await;
    watcher.leave().await;
}
