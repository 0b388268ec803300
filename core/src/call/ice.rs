//! When the call restarts ICE on its peer connection instead of rebuilding it: after the media
//! has been `disconnected` for [`DISCONNECTED_FOR`] (about 3 s without a packet in all), and
//! when the app says the device's network
//! changed (`Call::on_network_changed`). A restart is our offer with fresh ICE credentials (the
//! stack gathers again, on the interfaces there are now); the server answers it and nobody else
//! is renegotiated.
//!
//! Offers cross: the server may send one of its own while ours is on its way. It then refuses
//! ours ("answer mine first", non-fatal); we roll ours back, answer its offer, and restart again
//! once its refusal has come, so the refusal is never taken for the next restart's.
//!
//! A `failed` connection is not restarted: the server lets a participant go about 9 s after its
//! last packet, so by then there is nothing left to restart; the call reconnects instead.

use std::time::{Duration, Instant};

/// How long the media may stay `disconnected` (which the peer connection says after
/// [`super::peer::DISCONNECTED_AFTER`] without a packet) before a restart. The server lets a
/// participant go about 9 s after its last packet: the restart, a check that the socket is
/// still there and, if not, a resume on a new one must fit in that.
pub const DISCONNECTED_FOR: Duration = Duration::from_secs(1);

/// What the driver should do after telling [`IceRestart`] something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing now.
    Wait,
    /// Send a restart offer now (then call [`IceRestart::sent`]).
    Restart,
}

/// What an answer or an error means for our restart offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// It answers our restart offer: apply it.
    Ours(Next),
    /// Not about our offer (none is out, or a refusal we expected after crossing offers).
    NotOurs(Next),
}

#[derive(Debug, Default)]
pub struct IceRestart {
    /// When the connection went `disconnected` (cleared by `connected`).
    disconnected_since: Option<Instant>,
    /// Our restart offer is out, waiting for the server's answer.
    outstanding: bool,
    /// Another restart is due once the one in flight settles (the network changed again, or
    /// offers crossed).
    again: bool,
    /// Offers crossed: the server's refusal of ours is still to come.
    refusal_due: bool,
    /// The restart for the current disconnection was sent (one per disconnection).
    restarted_this_time: bool,
}

impl IceRestart {
    /// The peer connection's state changed.
    pub fn connected(&mut self, connected: bool, now: Instant) {
        if connected {
            self.disconnected_since = None;
            self.restarted_this_time = false;
        } else if self.disconnected_since.is_none() {
            self.disconnected_since = Some(now);
        }
    }

    /// When a restart is due for a disconnection that lasts, if one is.
    pub fn due_at(&self) -> Option<Instant> {
        if self.outstanding || self.refusal_due || self.restarted_this_time {
            return None;
        }
        self.disconnected_since.map(|t| t + DISCONNECTED_FOR)
    }

    /// [`IceRestart::due_at`] has come.
    pub fn due(&mut self) -> Next {
        self.restarted_this_time = true;
        self.want()
    }

    /// The device's network changed (or a disconnection lasted): restart now, or as soon as
    /// the restart in flight settles.
    pub fn want(&mut self) -> Next {
        if self.outstanding || self.refusal_due {
            self.again = true;
            Next::Wait
        } else {
            Next::Restart
        }
    }

    /// Our restart offer went out.
    pub fn sent(&mut self) {
        self.outstanding = true;
        self.again = false;
    }

    /// Sending the offer failed before it went out (the socket, the stack).
    pub fn not_sent(&mut self) {
        self.outstanding = false;
    }

    /// Whether our restart offer waits for its answer (a server offer now means they crossed).
    pub fn outstanding(&self) -> bool {
        self.outstanding
    }

    /// A server offer came while ours was out: ours was rolled back; the server refuses it.
    pub fn crossed(&mut self) {
        self.outstanding = false;
        self.refusal_due = true;
        self.again = true;
    }

    /// The server's answer came.
    pub fn answer(&mut self) -> Reply {
        if !self.outstanding {
            return Reply::NotOurs(Next::Wait);
        }
        self.outstanding = false;
        Reply::Ours(self.next_after())
    }

    /// The server refused an offer (`negotiation_failed`, not fatal).
    pub fn refused(&mut self) -> Reply {
        if self.refusal_due {
            // The refusal of the offer that crossed the server's: now restart again.
            self.refusal_due = false;
            return Reply::NotOurs(self.next_after());
        }
        if self.outstanding {
            // Refused for another reason: not tried again, so it cannot loop.
            self.outstanding = false;
            self.again = false;
            return Reply::Ours(Next::Wait);
        }
        Reply::NotOurs(Next::Wait)
    }

    fn next_after(&mut self) -> Next {
        if std::mem::take(&mut self.again) {
            Next::Restart
        } else {
            Next::Wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disconnection_that_lasts_restarts_once() {
        let t = Instant::now();
        let mut ice = IceRestart::default();
        assert_eq!(ice.due_at(), None);
        ice.connected(false, t);
        ice.connected(false, t + Duration::from_millis(500));
        assert_eq!(ice.due_at(), Some(t + DISCONNECTED_FOR));
        assert_eq!(ice.due(), Next::Restart);
        ice.sent();
        assert_eq!(ice.due_at(), None);
        assert_eq!(ice.answer(), Reply::Ours(Next::Wait));
        assert_eq!(ice.due_at(), None, "one restart per disconnection");
        // Connected again, then another disconnection: another restart.
        ice.connected(true, t + Duration::from_secs(3));
        ice.connected(false, t + Duration::from_secs(10));
        assert_eq!(
            ice.due_at(),
            Some(t + Duration::from_secs(10) + DISCONNECTED_FOR)
        );
    }

    #[test]
    fn a_blip_shorter_than_the_wait_restarts_nothing() {
        let t = Instant::now();
        let mut ice = IceRestart::default();
        ice.connected(false, t);
        ice.connected(true, t + Duration::from_secs(1));
        assert_eq!(ice.due_at(), None);
    }

    #[test]
    fn a_network_change_during_a_restart_restarts_again_after_its_answer() {
        let mut ice = IceRestart::default();
        assert_eq!(ice.want(), Next::Restart);
        ice.sent();
        assert_eq!(ice.want(), Next::Wait);
        assert_eq!(ice.answer(), Reply::Ours(Next::Restart));
        ice.sent();
        assert_eq!(ice.answer(), Reply::Ours(Next::Wait));
    }

    #[test]
    fn crossed_offers_restart_again_only_after_the_refusal() {
        let mut ice = IceRestart::default();
        assert_eq!(ice.want(), Next::Restart);
        ice.sent();
        // The server's offer arrives: ours is rolled back, theirs answered.
        assert!(ice.outstanding());
        ice.crossed();
        assert!(!ice.outstanding());
        // Nothing new before the refusal of the crossed offer.
        assert_eq!(ice.want(), Next::Wait);
        assert_eq!(ice.answer(), Reply::NotOurs(Next::Wait));
        assert_eq!(ice.refused(), Reply::NotOurs(Next::Restart));
        ice.sent();
        assert_eq!(ice.answer(), Reply::Ours(Next::Wait));
    }

    #[test]
    fn a_refusal_for_another_reason_is_not_tried_again() {
        let mut ice = IceRestart::default();
        ice.want();
        ice.sent();
        assert_eq!(ice.refused(), Reply::Ours(Next::Wait));
        assert!(!ice.outstanding());
        assert_eq!(ice.refused(), Reply::NotOurs(Next::Wait));
        assert_eq!(ice.want(), Next::Restart);
    }

    #[test]
    fn an_answer_nobody_asked_for_is_not_ours() {
        let mut ice = IceRestart::default();
        assert_eq!(ice.answer(), Reply::NotOurs(Next::Wait));
    }
}
