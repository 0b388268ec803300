//! Support for the core's integration tests: an in-process server, synthetic media, waiting.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use salon_core::Call;
use salon_core::media::audio::Channels;
use salon_core::media::pattern::{TestPattern, Tone};

/// A salon-server on 127.0.0.1 with a fresh data folder (kept while the folder lives).
pub async fn server() -> (salon_server::Server, tempfile::TempDir) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().join("server"));
    (salon_server::start(&config).await.unwrap(), dir)
}

/// Feeds a `width`×`height` moving pattern at 25 frames/s and a tone into `call` until the
/// returned task is aborted.
pub fn feed(call: Arc<Call>, width: u32, height: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pattern = TestPattern::new(width, height).unwrap();
        let mut tone = Tone::new(440.0, Channels::Mono).unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut t_us = 0u64;
        let mut n = 0u64;
        loop {
            tick.tick().await;
            let _ = call.send_audio_frame(tone.next_frame_20ms());
            if n.is_multiple_of(2) {
                let _ = call.send_video_frame(pattern.next_frame(t_us));
            }
            n += 1;
            t_us += 20_000;
        }
    })
}

/// Polls `f` until it holds or `timeout` passes; its last answer.
pub async fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}
