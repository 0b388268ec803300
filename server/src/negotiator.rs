//! When the server offers: the negotiation state of one participant's connection, pure (the
//! caller passes the time and does the SDP work).
//!
//! The client's first offer publishes its media; every later offer comes from the server, one at
//! a time, so there is no glare. Changes to the participant's subscriptions are gathered for a
//! short while and go out in one offer — people who join together (a "join wave"), or the audio
//! and video track of one newcomer, cost each participant one offer, not one per track. An
//! offer that gets no applicable answer in time is replaced by a fresh one, so a lost or refused
//! answer never stalls the connection.

use std::time::{Duration, Instant};

/// How long subscription changes are gathered before the server offers.
pub const BATCH_DELAY: Duration = Duration::from_millis(100);

/// How long the server waits for the answer to one of its offers before offering again.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the caller should do when [`Negotiator::next_deadline`] has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing yet.
    Nothing,
    /// Make an offer and send it (then call [`Negotiator::offer_sent`]).
    Offer,
    /// The outstanding offer was never answered: it is forgotten, and an offer will follow.
    AnswerTimedOut,
}

/// Why the server refuses an offer from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OfferRefused {
    #[error("an offer from the server is waiting for your answer; answer it first")]
    Glare,
    #[error(
        "your media was negotiated when you joined; an offer may not add media sections (reconnect to publish something new)"
    )]
    AddsSections,
    #[error(
        "a publishing offer has at most one audio and two video sections (camera, screen) and nothing else"
    )]
    TooManySections,
}

/// A publishing offer's sections: one audio, and video for the camera and the screen.
pub const MAX_PUBLISHED_AUDIO: usize = 1;
pub const MAX_PUBLISHED_VIDEO: usize = 2;

#[derive(Debug, Clone)]
pub struct Negotiator {
    batch_delay: Duration,
    answer_timeout: Duration,
    /// The client's first offer has been answered: the server may offer from now on.
    published: bool,
    /// The server's offer awaiting an answer: its number and when it was sent.
    outstanding: Option<(u64, Instant)>,
    offers_made: u64,
    /// Number of the last server offer whose answer was applied.
    offers_answered: u64,
    /// Subscriptions changed since this time and no offer carried the change yet.
    changed_since: Option<Instant>,
}

impl Default for Negotiator {
    fn default() -> Self {
        Self::new(BATCH_DELAY, ANSWER_TIMEOUT)
    }
}

impl Negotiator {
    pub fn new(batch_delay: Duration, answer_timeout: Duration) -> Self {
        Self {
            batch_delay,
            answer_timeout,
            published: false,
            outstanding: None,
            offers_made: 0,
            offers_answered: 0,
            changed_since: None,
        }
    }

    /// Whether the client may offer now; `sdp` is its offer. The first offer publishes; a later
    /// one (an ICE restart) may not add media sections beyond those the connection has.
    pub fn check_client_offer(
        &self,
        sdp: &str,
        negotiated_sections: usize,
    ) -> Result<(), OfferRefused> {
        if self.outstanding.is_some() {
            return Err(OfferRefused::Glare);
        }
        if self.published && media_sections(sdp) > negotiated_sections {
            return Err(OfferRefused::AddsSections);
        }
        if !self.published {
            let (audio, video) = (sections_of(sdp, "audio"), sections_of(sdp, "video"));
            if audio > MAX_PUBLISHED_AUDIO
                || video > MAX_PUBLISHED_VIDEO
                || media_sections(sdp) > audio + video
            {
                return Err(OfferRefused::TooManySections);
            }
        }
        Ok(())
    }

    /// The client's offer was answered. Returns true the first time (the media is published).
    pub fn client_offer_answered(&mut self) -> bool {
        if self.published {
            return false;
        }
        self.published = true;
        true
    }

    pub fn is_published(&self) -> bool {
        self.published
    }

    /// The participant's subscriptions changed at `now`: an offer should carry it.
    pub fn changed(&mut self, now: Instant) {
        self.changed_since.get_or_insert(now);
    }

    /// When [`Self::due`] next has something to say: the end of the batch, or the answer's
    /// deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.outstanding {
            Some((_, sent)) => Some(sent + self.answer_timeout),
            None if self.published => self.changed_since.map(|at| at + self.batch_delay),
            None => None,
        }
    }

    /// What to do at `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        if let Some((_, sent)) = self.outstanding {
            if now.saturating_duration_since(sent) < self.answer_timeout {
                return Due::Nothing;
            }
            self.outstanding = None;
            // Whatever the lost offer carried must go out again.
            self.changed_since = Some(now - self.batch_delay);
            return Due::AnswerTimedOut;
        }
        match self.changed_since {
            Some(at) if self.published && now.saturating_duration_since(at) >= self.batch_delay => {
                Due::Offer
            }
            _ => Due::Nothing,
        }
    }

    /// An offer went out at `now`, carrying every change so far. Returns its number.
    pub fn offer_sent(&mut self, now: Instant) -> u64 {
        self.offers_made += 1;
        self.outstanding = Some((self.offers_made, now));
        self.changed_since = None;
        self.offers_made
    }

    /// Making the offer failed: try again after another batch delay.
    pub fn offer_failed(&mut self, now: Instant) {
        self.changed_since = Some(now);
    }

    pub fn is_offer_outstanding(&self) -> bool {
        self.outstanding.is_some()
    }

    /// The client answered the outstanding offer and the answer applied.
    pub fn answer_applied(&mut self) {
        if let Some((number, _)) = self.outstanding.take() {
            self.offers_answered = number;
        }
    }

    /// The client's answer did not apply: the next offer goes out at once.
    pub fn answer_failed(&mut self, now: Instant) {
        self.outstanding = None;
        self.changed_since = Some(now - self.batch_delay);
    }

    /// How many offers the server made.
    pub fn offers_made(&self) -> u64 {
        self.offers_made
    }

    /// Whether the client has applied an offer made after offer number `offer` (e.g. one that
    /// showed a section inactive, so the section may carry something new).
    pub fn answered_after(&self, offer: u64) -> bool {
        self.offers_answered > offer
    }
}

/// The number of media sections (`m=` lines) in an SDP.
pub fn media_sections(sdp: &str) -> usize {
    sdp.lines().filter(|l| l.starts_with("m=")).count()
}

fn sections_of(sdp: &str, kind: &str) -> usize {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("m="))
        .filter(|l| l.split(' ').next() == Some(kind))
        .count()
}

/// The mid of the screen's section in a publishing offer: its second video section
/// (`docs/protocol.md`, "Screen sharing"), if it has one and names it.
pub fn screen_mid(sdp: &str) -> Option<String> {
    let mut videos = 0;
    let mut in_screen = false;
    for line in sdp.lines() {
        if let Some(m) = line.strip_prefix("m=") {
            if in_screen {
                return None;
            }
            if m.split(' ').next() == Some("video") {
                videos += 1;
                in_screen = videos == 2;
            }
        } else if in_screen && let Some(mid) = line.strip_prefix("a=mid:") {
            let mid = mid.trim();
            return (!mid.is_empty()).then(|| mid.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str =
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
    const MS: Duration = Duration::from_millis(1);

    fn published(t: Instant) -> Negotiator {
        let mut n = Negotiator::default();
        assert!(n.check_client_offer(OFFER, 0).is_ok());
        assert!(n.client_offer_answered());
        assert_eq!(n.due(t), Due::Nothing);
        n
    }

    #[test]
    fn nothing_is_offered_before_the_client_published() {
        let t = Instant::now();
        let mut n = Negotiator::default();
        n.changed(t);
        assert_eq!(n.next_deadline(), None);
        assert_eq!(n.due(t + Duration::from_secs(9)), Due::Nothing);
        assert!(n.client_offer_answered());
        assert!(!n.client_offer_answered(), "published once");
        assert_eq!(
            n.due(t + Duration::from_secs(9)),
            Due::Offer,
            "changes waiting go out"
        );
    }

    #[test]
    fn changes_in_one_batch_make_one_offer() {
        let t = Instant::now();
        let mut n = published(t);
        // A newcomer's audio, then its video, then a second newcomer, within the batch delay.
        n.changed(t);
        n.changed(t + 30 * MS);
        n.changed(t + 90 * MS);
        assert_eq!(n.next_deadline(), Some(t + BATCH_DELAY));
        assert_eq!(n.due(t + 99 * MS), Due::Nothing);
        assert_eq!(n.due(t + BATCH_DELAY), Due::Offer);
        assert_eq!(n.offer_sent(t + BATCH_DELAY), 1);
        // Changes while the offer is out wait for its answer, then go out together.
        n.changed(t + 150 * MS);
        n.changed(t + 160 * MS);
        assert_eq!(n.due(t + 400 * MS), Due::Nothing);
        n.answer_applied();
        assert_eq!(n.due(t + 400 * MS), Due::Offer);
        assert_eq!(n.offer_sent(t + 400 * MS), 2);
        n.answer_applied();
        assert_eq!(n.next_deadline(), None);
        assert_eq!(n.offers_made(), 2);
    }

    #[test]
    fn an_unanswered_offer_is_replaced() {
        let t = Instant::now();
        let mut n = published(t);
        n.changed(t);
        n.offer_sent(t + BATCH_DELAY);
        assert_eq!(n.next_deadline(), Some(t + BATCH_DELAY + ANSWER_TIMEOUT));
        assert_eq!(n.due(t + Duration::from_secs(3)), Due::Nothing);
        let late = t + BATCH_DELAY + ANSWER_TIMEOUT;
        assert_eq!(n.due(late), Due::AnswerTimedOut);
        assert_eq!(
            n.due(late),
            Due::Offer,
            "at once: the client has waited long enough"
        );
        assert_eq!(n.offer_sent(late), 2);
    }

    #[test]
    fn a_failed_answer_is_followed_by_a_fresh_offer_at_once() {
        let t = Instant::now();
        let mut n = published(t);
        n.changed(t);
        n.offer_sent(t + BATCH_DELAY);
        n.answer_failed(t + 200 * MS);
        assert_eq!(n.due(t + 200 * MS), Due::Offer);
        assert!(!n.answered_after(0));
    }

    #[test]
    fn the_client_may_not_add_sections_after_publishing_nor_offer_over_ours() {
        let t = Instant::now();
        let mut n = published(t);
        let bigger = format!("{OFFER}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
        assert_eq!(
            n.check_client_offer(&bigger, 2),
            Err(OfferRefused::AddsSections)
        );
        // The same sections again (an ICE restart) are fine.
        assert!(n.check_client_offer(OFFER, 2).is_ok());
        n.changed(t);
        n.offer_sent(t + BATCH_DELAY);
        assert_eq!(n.check_client_offer(OFFER, 2), Err(OfferRefused::Glare));
    }

    #[test]
    fn a_publishing_offer_has_a_camera_a_screen_and_a_microphone_at_most() {
        let n = Negotiator::default();
        let screen = format!("{OFFER}m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n");
        assert!(n.check_client_offer(&screen, 0).is_ok());
        assert_eq!(screen_mid(&screen).as_deref(), Some("2"));
        assert_eq!(screen_mid(OFFER), None, "no second video section");
        for bad in [
            format!("{screen}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"),
            format!("{OFFER}m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"),
            format!("{OFFER}m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
        ] {
            assert_eq!(
                n.check_client_offer(&bad, 0),
                Err(OfferRefused::TooManySections)
            );
        }
    }

    #[test]
    fn sections_are_reusable_once_a_later_offer_was_answered() {
        let t = Instant::now();
        let mut n = published(t);
        n.changed(t);
        let parked_at = n.offers_made();
        assert!(!n.answered_after(parked_at));
        n.offer_sent(t + BATCH_DELAY);
        assert!(!n.answered_after(parked_at), "not before the answer");
        n.answer_applied();
        assert!(n.answered_after(parked_at));
    }
}
