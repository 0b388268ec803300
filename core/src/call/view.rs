//! What the app shows: its view of each participant (hidden, thumbnail, large), and the `view`
//! messages that tell the server, whole and coalesced. Pure: the driver feeds it the app's
//! choices, the participant list and the clock, and sends what [`ViewSender::poll`] returns.
//!
//! Until the app sets a view for the first time, the core sends nothing and the server forwards
//! every video. From then on the whole view (every participant present and not hidden; those
//! the app never set are thumbnails) goes out whenever it changes — a view, someone arriving or
//! leaving — at most once per [`VIEW_EVERY`] (the latest state always wins), and again on every
//! new connection.
//!
//! A screen share is a video of its own, named like its stream: `<participant id>|screen`. It
//! is large unless the app says otherwise (everyone shows a share large).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use salon_protocol::{MAX_PARTICIPANTS, Tile, TileSize, VideoSource, split_stream_id};

/// At most one `view` message this often.
pub const VIEW_EVERY: Duration = Duration::from_millis(200);

/// How the app shows one participant's video.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ParticipantView {
    /// Not shown (off screen, on another page, minimized): its video is not sent to us.
    Hidden,
    /// A small tile in a grid (the default).
    #[default]
    Thumbnail,
    /// The main tile: speaker view, pinned, a grid of very few.
    Large,
}

/// What the driver should do about the view now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewPoll {
    /// Nothing to send.
    Idle,
    /// Send these tiles now.
    Send(Vec<Tile>),
    /// Something changed, but the last message went out too recently: poll again then.
    At(Instant),
}

/// The app's views and what the server was last told.
#[derive(Debug, Default)]
pub struct ViewSender {
    views: HashMap<String, ParticipantView>,
    /// The app has set a view at least once.
    active: bool,
    /// The tiles the server has now (on this connection).
    sent: Option<Vec<Tile>>,
    last_sent: Option<Instant>,
}

impl ViewSender {
    /// The app shows `participant` this way from now on.
    pub fn set(&mut self, participant: &str, view: ParticipantView) {
        self.active = true;
        if view == ParticipantView::Thumbnail && split_stream_id(participant).1.is_camera() {
            // The default: nothing to remember.
            self.views.remove(participant);
        } else {
            self.views.insert(participant.to_owned(), view);
        }
    }

    /// The app's view of `participant` (or of a share, `<id>|screen`: large by default).
    pub fn view_of(&self, participant: &str) -> ParticipantView {
        let default = match split_stream_id(participant).1 {
            VideoSource::Camera => ParticipantView::Thumbnail,
            VideoSource::Screen => ParticipantView::Large,
        };
        self.views.get(participant).copied().unwrap_or(default)
    }

    /// `participant` left the room: forget the app's view of them (and of their share).
    pub fn forget(&mut self, participant: &str) {
        self.views.remove(participant);
        self.views.remove(&salon_protocol::video_stream_id(
            participant,
            VideoSource::Screen,
        ));
    }

    /// A new connection: the server knows nothing yet; the next poll sends the whole view at
    /// once (if the app ever set one).
    pub fn reconnected(&mut self) {
        self.sent = None;
        self.last_sent = None;
    }

    /// The tiles for the videos present (cameras in the room's order, and shares:
    /// `<id>|screen`), hidden ones left out.
    pub fn tiles<'a>(&self, present: impl IntoIterator<Item = &'a str>) -> Vec<Tile> {
        let mut cameras = 0;
        present
            .into_iter()
            .filter_map(|id| {
                let size = match self.view_of(id) {
                    ParticipantView::Hidden => return None,
                    ParticipantView::Thumbnail => TileSize::Thumbnail,
                    ParticipantView::Large => TileSize::Large,
                };
                let (participant, source) = split_stream_id(id);
                if source.is_camera() {
                    cameras += 1;
                    if cameras > MAX_PARTICIPANTS {
                        return None;
                    }
                }
                Some(Tile {
                    participant_id: participant.to_owned(),
                    source,
                    size,
                    width: 0,
                    height: 0,
                })
            })
            .collect()
    }

    /// What to send now, given who is present. A `Send` counts as sent.
    pub fn poll<'a>(
        &mut self,
        now: Instant,
        present: impl IntoIterator<Item = &'a str>,
    ) -> ViewPoll {
        if !self.active {
            return ViewPoll::Idle;
        }
        let tiles = self.tiles(present);
        if self.sent.as_ref() == Some(&tiles) {
            return ViewPoll::Idle;
        }
        if let Some(last) = self.last_sent {
            let next = last + VIEW_EVERY;
            if now < next {
                return ViewPoll::At(next);
            }
        }
        self.sent = Some(tiles.clone());
        self.last_sent = Some(now);
        ViewPoll::Send(tiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(poll: &ViewPoll) -> Vec<(String, TileSize)> {
        match poll {
            ViewPoll::Send(tiles) => tiles
                .iter()
                .map(|t| (t.participant_id.clone(), t.size))
                .collect(),
            other => panic!("expected a send, got {other:?}"),
        }
    }

    fn pairs(list: &[(&str, TileSize)]) -> Vec<(String, TileSize)> {
        list.iter().map(|(id, s)| ((*id).to_owned(), *s)).collect()
    }

    #[test]
    fn nothing_is_sent_until_the_app_sets_a_view() {
        let mut v = ViewSender::default();
        let t0 = Instant::now();
        assert_eq!(v.poll(t0, ["a", "b"]), ViewPoll::Idle);
        v.reconnected();
        assert_eq!(v.poll(t0, ["a", "b"]), ViewPoll::Idle);
        // The first view sends the whole room: the others default to thumbnails.
        v.set("b", ParticipantView::Large);
        let sent = v.poll(t0, ["a", "b", "c"]);
        use TileSize::{Large, Thumbnail};
        assert_eq!(
            ids(&sent),
            pairs(&[("a", Thumbnail), ("b", Large), ("c", Thumbnail)])
        );
        // Nothing changed: nothing to send.
        assert_eq!(v.poll(t0 + VIEW_EVERY * 5, ["a", "b", "c"]), ViewPoll::Idle);
    }

    #[test]
    fn changes_are_coalesced_and_the_latest_wins() {
        use TileSize::{Large, Thumbnail};
        let mut v = ViewSender::default();
        let t0 = Instant::now();
        v.set("a", ParticipantView::Hidden);
        assert_eq!(ids(&v.poll(t0, ["a", "b"])), pairs(&[("b", Thumbnail)]));
        // Three changes within the interval: one message at its end, with the last state.
        let t1 = t0 + Duration::from_millis(20);
        v.set("a", ParticipantView::Large);
        assert_eq!(v.poll(t1, ["a", "b"]), ViewPoll::At(t0 + VIEW_EVERY));
        v.set("b", ParticipantView::Hidden);
        assert_eq!(v.poll(t1, ["a", "b"]), ViewPoll::At(t0 + VIEW_EVERY));
        v.set("a", ParticipantView::Thumbnail);
        let t2 = t0 + VIEW_EVERY;
        assert_eq!(ids(&v.poll(t2, ["a", "b"])), pairs(&[("a", Thumbnail)]));
        // Changed and changed back within the interval: nothing to send.
        v.set("b", ParticipantView::Large);
        v.set("b", ParticipantView::Hidden);
        assert_eq!(
            v.poll(t2 + Duration::from_millis(1), ["a", "b"]),
            ViewPoll::Idle
        );
        // Long after the last message, a change goes out at once.
        v.set("a", ParticipantView::Large);
        let t3 = t2 + Duration::from_secs(3);
        assert_eq!(ids(&v.poll(t3, ["a", "b"])), pairs(&[("a", Large)]));
    }

    #[test]
    fn arrivals_and_departures_change_the_view() {
        use TileSize::Thumbnail;
        let mut v = ViewSender::default();
        let t0 = Instant::now();
        v.set("a", ParticipantView::Hidden);
        assert_eq!(ids(&v.poll(t0, ["a"])), Vec::new());
        // Someone new is shown by default.
        let t1 = t0 + VIEW_EVERY;
        assert_eq!(ids(&v.poll(t1, ["a", "n"])), pairs(&[("n", Thumbnail)]));
        // They leave: the view no longer lists them.
        v.forget("n");
        let t2 = t1 + VIEW_EVERY;
        assert_eq!(ids(&v.poll(t2, ["a"])), Vec::new());
        // A hidden participant leaving changes nothing on the wire; their view is forgotten.
        v.forget("a");
        assert_eq!(v.poll(t2 + VIEW_EVERY, Vec::<&str>::new()), ViewPoll::Idle);
        assert_eq!(v.view_of("a"), ParticipantView::Thumbnail);
    }

    #[test]
    fn a_new_connection_gets_the_whole_view_at_once() {
        use TileSize::Large;
        let mut v = ViewSender::default();
        let t0 = Instant::now();
        v.set("a", ParticipantView::Large);
        assert_eq!(ids(&v.poll(t0, ["a"])), pairs(&[("a", Large)]));
        v.reconnected();
        assert_eq!(
            ids(&v.poll(t0 + Duration::from_millis(1), ["a"])),
            pairs(&[("a", Large)])
        );
    }

    #[test]
    fn a_share_is_large_unless_the_app_says_otherwise() {
        use TileSize::{Large, Thumbnail};
        let mut v = ViewSender::default();
        let t0 = Instant::now();
        v.set("b", ParticipantView::Thumbnail);
        let ViewPoll::Send(tiles) = v.poll(t0, ["a", "b", "a|screen"]) else {
            panic!("expected a send")
        };
        let seen: Vec<_> = tiles
            .iter()
            .map(|t| (t.participant_id.as_str(), t.source, t.size))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", VideoSource::Camera, Thumbnail),
                ("b", VideoSource::Camera, Thumbnail),
                ("a", VideoSource::Screen, Large),
            ]
        );
        v.set("a|screen", ParticipantView::Hidden);
        let t1 = t0 + VIEW_EVERY;
        assert_eq!(
            ids(&v.poll(t1, ["a", "b", "a|screen"])),
            pairs(&[("a", Thumbnail), ("b", Thumbnail)])
        );
        v.forget("a");
        assert_eq!(v.view_of("a|screen"), ParticipantView::Large);
    }

    #[test]
    fn the_view_stays_within_the_protocol_limit() {
        let mut v = ViewSender::default();
        v.set("x", ParticipantView::Thumbnail);
        let many: Vec<String> = (0..80).map(|i| format!("p{i}")).collect();
        let sent = v.poll(Instant::now(), many.iter().map(String::as_str));
        let ViewPoll::Send(tiles) = sent else {
            panic!("expected a send")
        };
        assert_eq!(tiles.len(), MAX_PARTICIPANTS);
        let message = salon_protocol::ClientMessage::View { tiles };
        use salon_protocol::Validate as _;
        assert!(message.validate().is_ok());
    }
}
