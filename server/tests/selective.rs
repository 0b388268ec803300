//! What each subscriber gets in a busy room, through real WebRTC: only the loudest few voices
//! (read from the audio-level extension), only the videos it shows (`view`), each video starting
//! at a keyframe; publishers nobody watches are told to stop sending video.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::TestServer;
use common::rtc::{JoinOptions, RtcClient};
use salon_protocol::{ClientMessage, MAX_SPEAKERS, ServerMessage, Tile, TileSize};

/// Voice bit set, level in −dBov.
fn voice(level: u8) -> u8 {
    0x80 | level
}
const SILENCE: u8 = 127;

async fn join_speaking(url: &str, name: &str, level: u8) -> RtcClient {
    RtcClient::join_with(
        url,
        name,
        JoinOptions {
            audio_level: Some(level),
            mdns: false,
            ..JoinOptions::default()
        },
    )
    .await
}

/// Pumps every client's signaling for `d`; returns what each saw besides offers.
async fn pump_all(clients: &mut [RtcClient], d: Duration) -> Vec<Vec<ServerMessage>> {
    futures_util::future::join_all(clients.iter_mut().map(|c| c.pump(d))).await
}

/// Audio packets `to` received from each of `from` so far.
fn audio_counts(to: &RtcClient, from: &[String]) -> Vec<u64> {
    from.iter()
        .map(|id| to.received_from(id).audio_packets)
        .collect()
}

fn last_speakers(messages: &[ServerMessage]) -> Option<Vec<String>> {
    messages.iter().rev().find_map(|m| match m {
        ServerMessage::Speakers { speakers } => Some(speakers.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_loudest_voices_are_forwarded_and_announced() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    // Five people talk, at different loudness; one listens in silence.
    let mut clients = Vec::new();
    for (i, level) in [20u8, 22, 24, 26, 28].into_iter().enumerate() {
        clients.push(join_speaking(&url, &format!("Talker {i}"), voice(level)).await);
    }
    clients.push(join_speaking(&url, "Listener", SILENCE).await);
    let talkers: Vec<String> = clients[..5].iter().map(|c| c.id.clone()).collect();
    let mut seen = pump_all(&mut clients, Duration::from_secs(4)).await;

    // The server told the browser to use Opus DTX.
    let answer = &clients[0].first_answer;
    assert!(
        answer.contains("usedtx=1"),
        "no DTX in the answer:\n{answer}"
    );

    // Over two seconds, the listener gets exactly three voices, and they are the ones announced.
    let before = audio_counts(&clients[5], &talkers);
    let more = pump_all(&mut clients, Duration::from_secs(2)).await;
    for (all, new) in seen.iter_mut().zip(more) {
        all.extend(new);
    }
    let after = audio_counts(&clients[5], &talkers);
    let heard: HashSet<&String> = talkers
        .iter()
        .zip(before.iter().zip(&after))
        .filter(|(_, (b, a))| *a > *b)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        heard.len(),
        MAX_SPEAKERS,
        "the listener heard {heard:?} (before {before:?}, after {after:?})"
    );
    let announced = last_speakers(&seen[5]).expect("no speakers message reached the listener");
    assert_eq!(
        announced.iter().collect::<HashSet<_>>(),
        heard,
        "announced speakers differ from the voices forwarded"
    );
    // A talker who is a speaker is listed too, and every participant got the same list.
    for messages in &seen {
        assert_eq!(last_speakers(messages).as_ref(), Some(&announced));
    }

    // One of the speakers goes quiet (DTX-like silence): after the hold time a waiting voice
    // takes the seat, and its audio continues without a hole in its numbering.
    let quiet = talkers.iter().position(|t| heard.contains(t)).unwrap();
    clients[quiet].set_audio_level(SILENCE);
    let seen = pump_all(&mut clients, Duration::from_secs(3)).await;
    let now = last_speakers(&seen[5]).expect("no new speakers list");
    assert!(!now.contains(&talkers[quiet]), "{now:?}");
    assert_eq!(now.len(), MAX_SPEAKERS, "{now:?}");
    let before = audio_counts(&clients[5], &talkers);
    pump_all(&mut clients, Duration::from_secs(1)).await;
    let after = audio_counts(&clients[5], &talkers);
    assert_eq!(
        after[quiet], before[quiet],
        "a quiet voice is still forwarded"
    );
    for t in &now {
        let r = clients[5].received_from(t);
        assert!(r.largest_audio_seq_step <= 2, "{t}: {r:?}");
    }
    let metrics = s.metrics().await;
    assert!(
        metrics.contains(r#"reason="not_speaking""#),
        "withheld audio is not counted:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_without_levels_is_always_forwarded() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut clients = Vec::new();
    for i in 0..5 {
        clients.push(RtcClient::join(&url, &format!("Old client {i}")).await);
    }
    pump_all(&mut clients, Duration::from_secs(4)).await;
    let others: Vec<String> = clients[1..].iter().map(|c| c.id.clone()).collect();
    let counts = audio_counts(&clients[0], &others);
    assert!(counts.iter().all(|n| *n > 20), "{counts:?}");
}

fn view(ids: &[&str]) -> ClientMessage {
    ClientMessage::View {
        tiles: ids
            .iter()
            .map(|id| Tile {
                participant_id: (*id).to_owned(),
                source: Default::default(),
                size: TileSize::Thumbnail,
                width: 320,
                height: 180,
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_videos_shown_are_forwarded_each_from_a_keyframe() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut clients = vec![
        RtcClient::join(&url, "Viewer").await,
        RtcClient::join(&url, "Shown").await,
        RtcClient::join(&url, "Hidden").await,
    ];
    let (shown, hidden) = (clients[1].id.clone(), clients[2].id.clone());
    pump_all(&mut clients, Duration::from_secs(3)).await;
    assert!(clients[0].received_from(&hidden).video_packets > 10);

    // The viewer shows only one of the two.
    clients[0].ws.send(&view(&[&shown])).await;
    pump_all(&mut clients, Duration::from_millis(500)).await;
    let before: Vec<u64> = [&shown, &hidden]
        .iter()
        .map(|p| clients[0].received_from(p).video_packets)
        .collect();
    pump_all(&mut clients, Duration::from_secs(2)).await;
    let after: Vec<u64> = [&shown, &hidden]
        .iter()
        .map(|p| clients[0].received_from(p).video_packets)
        .collect();
    assert!(
        after[0] > before[0] + 30,
        "the shown video stopped: {before:?} → {after:?}"
    );
    assert_eq!(after[1], before[1], "a hidden video is still forwarded");
    // Its audio is not affected.
    let audio = clients[0].received_from(&hidden).audio_packets;
    pump_all(&mut clients, Duration::from_millis(500)).await;
    assert!(clients[0].received_from(&hidden).audio_packets > audio);

    // Shown again: video comes back within a second, starting at a keyframe the server asked
    // for.
    let asked = clients[2].keyframe_requests();
    clients[0].ws.send(&view(&[&shown, &hidden])).await;
    pump_all(&mut clients, Duration::from_secs(1)).await;
    let r = clients[0].received_from(&hidden);
    assert!(r.video_packets > after[1] + 5, "{r:?}");
    assert!(clients[2].keyframe_requests() > asked);
    // Every start of a video stream (the first, and after the gap) was a keyframe.
    for p in [&shown, &hidden] {
        let r = clients[0].received_from(p);
        assert!(!r.video_starts.is_empty(), "{r:?}");
        assert!(r.video_starts.iter().all(|b| *b == 0x67), "{p}: {r:?}");
    }
    assert_eq!(clients[0].received_from(&hidden).video_starts.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_nobody_watches_is_told_to_stop_its_video() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut clients = vec![
        RtcClient::join(&url, "A").await,
        RtcClient::join(&url, "B").await,
        RtcClient::join(&url, "C").await,
    ];
    let (a, b) = (clients[0].id.clone(), clients[1].id.clone());
    pump_all(&mut clients, Duration::from_secs(2)).await;
    let watched = |messages: &[ServerMessage]| -> Vec<bool> {
        messages
            .iter()
            .filter_map(|m| match m {
                ServerMessage::VideoWatched { watched } => Some(*watched),
                _ => None,
            })
            .collect()
    };
    // A hides B; C still shows it: B keeps sending.
    clients[0].ws.send(&view(&[])).await;
    let seen = pump_all(&mut clients, Duration::from_secs(3)).await;
    assert!(watched(&seen[1]).is_empty(), "{:?}", seen[1]);
    // C hides B too: after the grace period B is told nobody watches.
    clients[2].ws.send(&view(&[&a])).await;
    let seen = pump_all(&mut clients, Duration::from_secs(3)).await;
    assert_eq!(watched(&seen[1]), vec![false]);
    // A is still shown by C, and C by B (who never sent a view: it shows everyone).
    assert!(watched(&seen[0]).is_empty() && watched(&seen[2]).is_empty());
    // B's signaling drops and resumes with its media kept: the new socket is told again.
    assert!(clients[1].resume_keeping_media(&url).await);
    let seen = pump_all(&mut clients, Duration::from_millis(500)).await;
    assert_eq!(watched(&seen[1]), vec![false]);
    // A shows B again: B is told at once.
    clients[0].ws.send(&view(&[&b])).await;
    let seen = pump_all(&mut clients, Duration::from_millis(600)).await;
    assert_eq!(watched(&seen[1]), vec![true]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toggling_a_view_cannot_make_a_publisher_send_keyframes_all_the_time() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut clients = vec![
        RtcClient::join(&url, "Toggler").await,
        RtcClient::join(&url, "Publisher").await,
    ];
    let publisher = clients[1].id.clone();
    pump_all(&mut clients, Duration::from_secs(3)).await;
    let before = clients[1].keyframe_requests();
    // Hide and show the publisher 20 times in 4 seconds (within the rate limit).
    for _ in 0..10 {
        clients[0].ws.send(&view(&[])).await;
        pump_all(&mut clients, Duration::from_millis(200)).await;
        clients[0].ws.send(&view(&[&publisher])).await;
        pump_all(&mut clients, Duration::from_millis(200)).await;
    }
    let asked = clients[1].keyframe_requests() - before;
    assert!(
        (1..=3).contains(&asked),
        "{asked} keyframe requests reached the publisher in 4 s"
    );
}
