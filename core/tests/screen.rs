//! Screen sharing through the core against a real server (docs/protocol.md, "Screen sharing"):
//! a presenter's share reaches another client as a video of its own (`<id>|screen` at the video
//! sink, next to the camera), the room state says who presents, one share at a time, the owner
//! stops it, a guest cannot, and panic stops a guest's share and keeps it off. The presenter here is a core client showing its camera as its screen (test
//! support: the apps receive and show shares, they do not capture screens).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{feed, server, wait_for};
use salon_core::media::video::I420Frame;
use salon_core::{
    Call, CallConfig, CallEvent, CallListener, Client, Refusal, RoomState, VideoSink,
};

/// Decoded frames per id, as the app's sink sees them.
#[derive(Default)]
struct Frames(Mutex<HashMap<String, (u64, u32)>>);

impl VideoSink for Frames {
    fn on_video_frame(&self, participant_id: &str, frame: I420Frame) {
        let mut seen = self.0.lock().unwrap();
        let entry = seen.entry(participant_id.to_owned()).or_default();
        entry.0 += 1;
        entry.1 = frame.width;
    }
}

impl Frames {
    fn of(&self, id: &str) -> (u64, u32) {
        self.0.lock().unwrap().get(id).copied().unwrap_or_default()
    }
}

#[derive(Default)]
struct Events(Mutex<Vec<CallEvent>>);

impl CallListener for Events {
    fn on_state_changed(&self, _state: RoomState) {}

    fn on_event(&self, event: CallEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Events {
    fn refused(&self) -> bool {
        self.0.lock().unwrap().iter().any(|e| {
            matches!(
                e,
                CallEvent::Refused {
                    reason: Refusal::NotAllowed,
                    ..
                }
            )
        })
    }
}

async fn join(
    client: &Client,
    link: &str,
    name: &str,
    sink: Option<Arc<Frames>>,
) -> (Arc<Call>, Arc<Events>) {
    let mut config = CallConfig::new(name);
    config.video.width = 320;
    config.video.height = 240;
    config.video.bitrate_bps = 300_000;
    config.video.max_fps = 25.0;
    let events = Arc::new(Events::default());
    let call = client
        .join(
            link,
            config,
            Some(events.clone() as Arc<dyn CallListener>),
            sink.map(|s| s as Arc<dyn VideoSink>),
            None,
        )
        .await
        .unwrap();
    (Arc::new(call), events)
}

fn presenting(call: &Call, who: &str) -> Option<(bool, bool)> {
    let state = call.state();
    let p = state.participants.iter().find(|p| p.id == who)?;
    Some((p.screen, p.receiving_screen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_share_arrives_as_its_own_video_and_the_owner_stops_it() {
    let (server, dir) = server().await;
    let owner = Client::open(&dir.path().join("owner")).unwrap();
    let room = owner
        .create_room(&server.url(), Some("Share test"))
        .await
        .unwrap();
    let guest = Client::open(&dir.path().join("guest")).unwrap();
    let other = Client::open(&dir.path().join("other")).unwrap();

    let owner_frames = Arc::new(Frames::default());
    let (host, _) = join(&owner, &room.link, "Hana", Some(owner_frames.clone())).await;
    let (bo, _) = join(&guest, &room.link, "Bo", None).await;
    let (cy, cy_events) = join(&other, &room.link, "Cy", None).await;
    let feeders = [feed(bo.clone(), 320, 240), feed(cy.clone(), 320, 240)];
    let bo_id = bo.state().me.unwrap();
    let cy_id = cy.state().me.unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || owner_frames.of(&bo_id).0 > 5).await,
        "the owner sees Bo's camera"
    );

    // Bo presents: the owner's state says so, and the share's frames come as Bo's screen.
    bo.share_camera_as_screen(true).unwrap();
    let screen = format!("{bo_id}|screen");
    assert!(
        wait_for(Duration::from_secs(20), || owner_frames.of(&screen).0 > 10).await,
        "the owner decodes Bo's share ({:?})",
        owner_frames.of(&screen)
    );
    assert_eq!(presenting(&host, &bo_id), Some((true, true)));
    assert_eq!(
        owner_frames.of(&screen).1,
        320,
        "the share at its full size"
    );
    let camera_before = owner_frames.of(&bo_id).0;
    assert!(
        wait_for(Duration::from_secs(10), || owner_frames.of(&bo_id).0
            > camera_before + 10)
        .await,
        "the camera goes on next to the share"
    );

    // One at a time: Cy's share is refused while Bo presents.
    cy.share_camera_as_screen(true).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || cy_events.refused()).await,
        "Cy's share is refused"
    );
    assert_eq!(presenting(&host, &cy_id).map(|p| p.0), Some(false));

    // The owner stops Bo's share: everyone sees it end, and its frames stop.
    host.stop_share(&bo_id).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || {
            presenting(&host, &bo_id) == Some((false, false))
                && presenting(&cy, &bo_id).map(|p| p.0) == Some(false)
        })
        .await,
        "the share ended for everyone ({:?})",
        presenting(&host, &bo_id)
    );
    let stopped_at = owner_frames.of(&screen).0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        owner_frames.of(&screen).0 <= stopped_at + 3,
        "no share frames after the stop"
    );
    // A guest cannot stop a share.
    bo.share_camera_as_screen(false).unwrap();
    cy.share_camera_as_screen(true).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || presenting(&host, &cy_id)
            .map(|p| p.0)
            == Some(true))
        .await
    );
    bo.stop_share(&cy_id).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(presenting(&host, &cy_id).map(|p| p.0), Some(true));

    // Panic stops a guest's share and keeps it off while it lasts.
    host.set_panic(true).unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || presenting(&host, &cy_id)
            .map(|p| p.0)
            == Some(false))
        .await,
        "panic stops Cy's share"
    );
    cy.share_camera_as_screen(true).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(presenting(&host, &cy_id).map(|p| p.0), Some(false));

    for f in feeders {
        f.abort();
    }
    for call in [host, bo, cy] {
        call.leave().await;
    }
}
