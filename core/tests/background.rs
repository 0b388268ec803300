//! A background set on a call goes out in the video: Alice replaces hers with a flat picture
//! and sends her test pattern with a mask that says "no person here"; Bob decodes the picture,
//! not the pattern. Then she turns it off and Bob sees the pattern again.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{server, wait_for};
use salon_core::media::background::{Background, PersonMask};
use salon_core::media::pattern::TestPattern;
use salon_core::media::video::I420Frame;
use salon_core::{CallConfig, Client, VideoSink};

/// Keeps the last decoded picture.
#[derive(Default)]
struct Last(Mutex<Option<I420Frame>>);

impl VideoSink for Last {
    fn on_video_frame(&self, _participant_id: &str, frame: I420Frame) {
        *self.0.lock().unwrap() = Some(frame);
    }
}

fn flat(width: u32, height: u32, y: u8, u: u8, v: u8) -> I420Frame {
    let luma = (width * height) as usize;
    let mut data = vec![y; luma];
    data.extend(std::iter::repeat_n(u, luma / 4));
    data.extend(std::iter::repeat_n(v, luma / 4));
    I420Frame::new(width, height, data, 0).unwrap()
}

/// How far the picture's luma strays from `y` at most, or `None` before one arrived.
fn luma_distance(last: &Last, y: u8) -> Option<u8> {
    let guard = last.0.lock().unwrap();
    let frame = guard.as_ref()?;
    let (luma, _, _) = frame.planes();
    luma.iter().map(|&s| s.abs_diff(y)).max()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_background_is_what_the_others_receive() {
    let (server, dir) = server().await;
    let client = Client::open(&dir.path().join("alice")).unwrap();
    let room = client
        .create_room(&server.url(), Some("Backgrounds"))
        .await
        .unwrap();
    let mut config = CallConfig::new("Alice");
    config.video.width = 320;
    config.video.height = 180;
    let alice = Arc::new(
        client
            .join(&room.link, config, None, None, None)
            .await
            .unwrap(),
    );
    let last = Arc::new(Last::default());
    let bob_client = Client::in_memory().unwrap();
    let _bob = bob_client
        .join(
            &room.link,
            CallConfig::new("Bob"),
            None,
            Some(last.clone()),
            None,
        )
        .await
        .unwrap();

    // A picture of another size than the camera's: the core scales it to cover.
    alice
        .set_background(Background::Replace(flat(64, 48, 180, 90, 160)))
        .unwrap();
    // A bad picture is refused and changes nothing.
    let mut broken = flat(64, 48, 0, 0, 0);
    broken.data.pop();
    assert!(alice.set_background(Background::Replace(broken)).is_err());

    let feeder = {
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut pattern = TestPattern::new(320, 180).unwrap();
            let nobody = PersonMask::filled(40, 24, 0).unwrap();
            let mut tick = tokio::time::interval(Duration::from_millis(40));
            for n in 0u64.. {
                tick.tick().await;
                let _ =
                    alice.send_video_frame_masked(pattern.next_frame(n * 40_000), nobody.clone());
            }
        })
    };
    let replaced = wait_for(Duration::from_secs(20), || {
        luma_distance(&last, 180).is_some_and(|d| d <= 6)
    })
    .await;
    assert!(
        replaced,
        "Bob's picture strays {:?} from the background's luma",
        luma_distance(&last, 180)
    );
    let stats = alice.send_stats();
    assert!(stats.video_frames_composited.load(Ordering::Relaxed) > 0);
    assert_eq!(stats.video_frames_unmasked.load(Ordering::Relaxed), 0);

    // Off: the pattern (far from flat) comes back.
    alice.set_background(Background::Off).unwrap();
    let back = wait_for(Duration::from_secs(10), || {
        luma_distance(&last, 180).is_some_and(|d| d > 60)
    })
    .await;
    assert!(back, "the test pattern did not come back");
    feeder.abort();
}

/// The FFI's compositor for previews: the same compositing on the caller's thread, with the
/// FFI's records and errors.
#[test]
fn the_ffi_compositor_replaces_and_refuses_bad_input() {
    use salon_core::ffi::{
        BackgroundChoice, BackgroundCompositor, PersonMask, SalonError, VideoFrame,
    };

    let compositor = BackgroundCompositor::new();
    let camera: VideoFrame = TestPattern::new(320, 180).unwrap().next_frame(0).into();
    // Off: unchanged.
    let out = compositor.composite(camera.clone(), None).unwrap();
    assert_eq!(out.data, camera.data);

    let picture: VideoFrame = flat(64, 48, 180, 90, 160).into();
    compositor
        .set_background(BackgroundChoice::Replace { image: picture })
        .unwrap();
    let nobody = PersonMask {
        width: 16,
        height: 9,
        data: vec![0; 16 * 9],
    };
    let out = compositor.composite(camera.clone(), Some(nobody)).unwrap();
    assert_eq!(out.data, flat(320, 180, 180, 90, 160).data);
    assert_eq!(
        (out.width, out.height, out.timestamp_us),
        (320, 180, camera.timestamp_us)
    );

    let short_mask = PersonMask {
        width: 16,
        height: 9,
        data: vec![0; 10],
    };
    assert!(matches!(
        compositor.composite(camera.clone(), Some(short_mask)),
        Err(SalonError::InvalidInput { .. })
    ));
    let odd = VideoFrame {
        width: 33,
        ..camera.clone()
    };
    assert!(matches!(
        compositor.composite(odd, None),
        Err(SalonError::InvalidInput { .. })
    ));
    let broken = VideoFrame {
        data: vec![0; 10],
        ..camera
    };
    assert!(matches!(
        compositor.set_background(BackgroundChoice::Replace { image: broken }),
        Err(SalonError::InvalidInput { .. })
    ));
}
