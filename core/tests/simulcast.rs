//! The core's camera in two simulcast layers, through a real server (issue 10): the layer a
//! subscriber gets follows the view its app asks for (a thumbnail gets the half-size `q`, a
//! large tile the full `f`), and a layer nobody watches is paused at the publisher (dynacast:
//! the server's `video_layers`) and comes back, from a keyframe, when somebody needs it.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{feed, server, wait_for};

use salon_core::media::video::I420Frame;
use salon_core::{Call, CallConfig, Client, ParticipantView, VideoSink};

/// The publisher's camera, and what each layer carries.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 180;
const FULL: (u32, u32) = (WIDTH, HEIGHT);
const HALF: (u32, u32) = (WIDTH / 2, HEIGHT / 2);

/// The sizes of the pictures decoded from each participant, in order.
#[derive(Default)]
struct Sizes(Mutex<Vec<(String, (u32, u32))>>);

impl VideoSink for Sizes {
    fn on_video_frame(&self, participant_id: &str, frame: I420Frame) {
        self.0
            .lock()
            .unwrap()
            .push((participant_id.to_owned(), (frame.width, frame.height)));
    }
}

impl Sizes {
    /// How many pictures came from `who` so far.
    fn count(&self, who: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == who)
            .count()
    }

    /// The sizes of `who`'s pictures after the first `from`.
    fn since(&self, who: &str, from: usize) -> Vec<(u32, u32)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == who)
            .skip(from)
            .map(|(_, size)| *size)
            .collect()
    }

    /// Waits until `who`'s pictures come at `size`: at least 10 of them in a row after the
    /// first `from`. Returns the picture count when that began, or what arrived instead.
    async fn wait_for_size(
        &self,
        who: &str,
        from: usize,
        size: (u32, u32),
        timeout: Duration,
    ) -> Result<usize, Vec<(u32, u32)>> {
        let settled = || {
            let sizes = self.since(who, from);
            let tail = sizes.iter().rev().take_while(|s| **s == size).count();
            (tail >= 10).then(|| from + sizes.len() - tail)
        };
        if wait_for(timeout, || settled().is_some()).await {
            settled().ok_or_else(|| self.since(who, from))
        } else {
            let sizes = self.since(who, from);
            Err(sizes[sizes.len().saturating_sub(20)..].to_vec())
        }
    }
}

async fn join(
    client: &Client,
    link: &str,
    name: &str,
    video: bool,
    sink: Option<Arc<Sizes>>,
) -> Arc<Call> {
    let mut config = CallConfig::new(name);
    config.video_on = video;
    config.video.width = WIDTH;
    config.video.height = HEIGHT;
    config.video.bitrate_bps = 400_000;
    config.video.max_fps = 25.0;
    let sink = sink.map(|s| s as Arc<dyn VideoSink>);
    Arc::new(client.join(link, config, None, sink, None).await.unwrap())
}

/// A real server, a publisher feeding its camera and a viewer that counts picture sizes.
struct Room {
    server: salon_server::Server,
    dir: tempfile::TempDir,
    publisher: Arc<Call>,
    viewer: Arc<Call>,
    sizes: Arc<Sizes>,
    /// The publisher's participant id.
    p: String,
    feeder: tokio::task::JoinHandle<()>,
}

impl Room {
    async fn open() -> Self {
        let (server, dir) = server().await;
        let client = Client::in_memory().unwrap();
        let room = client.create_room(&server.url(), None).await.unwrap();
        let publisher = join(&client, &room.link, "Publisher", true, None).await;
        let sizes = Arc::new(Sizes::default());
        let viewer = join(&client, &room.link, "Viewer", false, Some(sizes.clone())).await;
        let p = publisher.state().me.unwrap();
        let feeder = feed(publisher.clone(), WIDTH, HEIGHT);
        Self {
            server,
            dir,
            publisher,
            viewer,
            sizes,
            p,
            feeder,
        }
    }
}

/// Frames sent so far on the publisher's layer `rid`.
fn sent(call: &Call, rid: &str) -> u64 {
    call.send_stats()
        .layer(rid)
        .unwrap()
        .frames_sent
        .load(Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_a_subscriber_gets_follows_its_view() {
    let Room {
        server: _server,
        dir: _dir,
        publisher,
        viewer,
        sizes,
        p,
        feeder,
    } = Room::open().await;

    // Both layers go out, each at its size.
    assert!(
        wait_for(Duration::from_secs(20), || sent(&publisher, "q") > 10
            && sent(&publisher, "f") > 10)
        .await,
        "the publisher does not send both layers: q {}, f {}",
        sent(&publisher, "q"),
        sent(&publisher, "f")
    );
    let stats = publisher.send_stats();
    let size = |rid: &str| {
        let l = stats.layer(rid).unwrap();
        (l.width.load(Relaxed), l.height.load(Relaxed))
    };
    assert_eq!((size("q"), size("f")), (HALF, FULL));

    // Before any view the viewer gets the top layer.
    sizes
        .wait_for_size(&p, 0, FULL, Duration::from_secs(20))
        .await
        .unwrap_or_else(|got| panic!("no full-size picture before a view: {got:?}"));

    // A thumbnail gets the half-size layer, a large tile the full one, and back.
    for (view, size) in [
        (ParticipantView::Thumbnail, HALF),
        (ParticipantView::Large, FULL),
        (ParticipantView::Thumbnail, HALF),
    ] {
        let from = sizes.count(&p);
        viewer.set_view(&p, view).unwrap();
        let began = sizes
            .wait_for_size(&p, from, size, Duration::from_secs(8))
            .await
            .unwrap_or_else(|got| panic!("{view:?} does not bring {size:?}: {got:?}"));
        // Once switched, it stays switched: every picture since is at that size.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = sizes.since(&p, began);
        assert!(
            after.len() >= 15 && after.iter().all(|s| *s == size),
            "{view:?}: pictures after the switch {after:?}"
        );
    }

    feeder.abort();
    publisher.leave().await;
    viewer.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_nobody_watches_is_paused_and_comes_back_from_a_keyframe() {
    let Room {
        server: _server,
        dir: _dir,
        publisher,
        viewer,
        sizes,
        p,
        feeder,
    } = Room::open().await;
    let stats = publisher.send_stats();
    let layers = |call: &Call| call.state().video_layers;
    let named = |rids: &[&str]| Some(rids.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>());

    // The only viewer shows a thumbnail: after the server's grace (about 5 s) nobody needs the
    // full layer, and the publisher stops encoding it.
    viewer.set_view(&p, ParticipantView::Thumbnail).unwrap();
    sizes
        .wait_for_size(&p, 0, HALF, Duration::from_secs(20))
        .await
        .unwrap_or_else(|got| panic!("the thumbnail does not come at half size: {got:?}"));
    assert!(
        wait_for(Duration::from_secs(12), || layers(&publisher)
            == named(&["q"]))
        .await,
        "the server did not ask for the low layer only (video_layers: {:?})",
        layers(&publisher)
    );
    assert!(publisher.state().video_watched);
    let f = stats.layer("f").unwrap();
    let (f_sent, f_paused, q_sent) = (
        f.frames_sent.load(Relaxed),
        f.frames_paused.load(Relaxed),
        sent(&publisher, "q"),
    );
    let from = sizes.count(&p);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        f.frames_sent.load(Relaxed) <= f_sent + 1,
        "the paused layer goes on: {f_sent} -> {}",
        f.frames_sent.load(Relaxed)
    );
    assert!(
        f.frames_paused.load(Relaxed) >= f_paused + 30,
        "the full layer's encoder still runs"
    );
    assert!(
        sent(&publisher, "q") >= q_sent + 30,
        "the watched layer stopped too"
    );
    let meanwhile = sizes.since(&p, from);
    assert!(
        meanwhile.len() >= 30 && meanwhile.iter().all(|s| *s == HALF),
        "the thumbnail suffered: {meanwhile:?}"
    );

    // It goes large: the full layer comes back at once, from a keyframe of its own, and the
    // viewer decodes it.
    let f_keyframes = f.keyframes.load(Relaxed);
    let from = sizes.count(&p);
    viewer.set_view(&p, ParticipantView::Large).unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || layers(&publisher)
            .is_some_and(|l| l.iter().any(|r| r == "f")))
        .await,
        "the server did not ask for the full layer again: {:?}",
        layers(&publisher)
    );
    sizes
        .wait_for_size(&p, from, FULL, Duration::from_secs(8))
        .await
        .unwrap_or_else(|got| panic!("the large tile does not come at full size: {got:?}"));
    assert!(f.keyframes.load(Relaxed) > f_keyframes);
    assert!(f.frames_sent.load(Relaxed) > f_sent + 10);

    // Now nobody needs the low layer: it pauses in turn.
    assert!(
        wait_for(Duration::from_secs(12), || layers(&publisher)
            == named(&["f"]))
        .await,
        "the server did not ask for the full layer only (video_layers: {:?})",
        layers(&publisher)
    );
    let q_sent = sent(&publisher, "q");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sent(&publisher, "q") <= q_sent + 1);

    feeder.abort();
    publisher.leave().await;
    viewer.leave().await;
}
