//! Screen sharing, applied by the room actor (the rules are in `room::sharing`). A member's
//! screen is a publication of its own (`Track::Screen`, the second video section of its
//! publishing offer); the others subscribe to it only while the member shares, so each
//! subscriber carries at most one share's media section at a time (a parked section is reused
//! for the next share), and a screen that stopped costs nobody anything.

use salon_protocol::{ErrorCode, Participant, ServerMessage};

use crate::actor::RoomActor;
use crate::hub::ToParticipant;
use crate::sfu::forward::{Publication, Track};

impl RoomActor {
    /// Whether the others should receive `publication` now: anything but a screen nobody
    /// shares.
    pub(crate) fn is_shown(&self, publication: &Publication) -> bool {
        publication.track != Track::Screen
            || self
                .membership
                .get(&publication.publisher)
                .is_some_and(|m| m.participant.screen)
    }

    /// `id` starts or stops sharing its screen (`share {active}`).
    pub(crate) fn share(&mut self, id: &str, active: bool) {
        match self.membership.set_screen(id, active, self.info.panic) {
            Ok(Some(participant)) => self.share_changed(participant),
            Ok(None) => {}
            Err(refused) => {
                let code = ErrorCode::NotAllowed;
                self.send_to(id, ServerMessage::error(code, format!("{refused}.")));
                // Its state as the room sees it, so that its button matches.
                if let Some(me) = self.membership.get(id).map(|m| m.participant.clone()) {
                    self.send_to(id, ServerMessage::ParticipantUpdated { participant: me });
                }
            }
        }
    }

    /// A host stops `target`'s share (`stop_share`; the target's role was checked).
    pub(crate) fn stop_share(&mut self, from: &str, target: &str) {
        let Some(participant) = self.membership.stop_screen(target) else {
            self.send_to(
                from,
                ServerMessage::error(ErrorCode::NotFound, "They are not sharing their screen."),
            );
            return;
        };
        tracing::info!(room = %self.room_id, "a host stopped a screen share");
        let by = self.name_of(from);
        self.send_to(target, ServerMessage::ShareStopped { by });
        self.share_changed(participant);
    }

    /// Panic: every guest's share stops (hosts keep theirs).
    pub(crate) fn stop_guest_shares(&mut self, from: &str) {
        let presenting: Vec<String> = self
            .membership
            .members()
            .filter(|m| m.participant.screen && !m.participant.role.is_host())
            .map(|m| m.participant.id.clone())
            .collect();
        for id in presenting {
            self.stop_share(from, &id);
        }
    }

    /// Someone's share started or stopped: the others subscribe to its screen or drop it, and
    /// everyone (the sharer too, whose client may have asked for something else) sees the
    /// state.
    fn share_changed(&mut self, participant: Participant) {
        let id = participant.id.clone();
        tracing::debug!(room = %self.room_id, sharing = participant.screen, "screen share changed");
        self.apply_pauses(&id);
        let screen = self
            .publications
            .iter()
            .find(|p| p.publisher == id && p.track == Track::Screen)
            .cloned();
        if participant.screen {
            // Before its first packet there is no publication yet: `publish` sends it out.
            if let Some(screen) = screen {
                self.broadcast_events(&id, || ToParticipant::Subscribe(screen.clone()));
            }
        } else {
            self.broadcast_events(&id, || ToParticipant::Unsubscribe {
                publisher: id.clone(),
                track: Track::Screen,
            });
        }
        self.broadcast("", || ServerMessage::ParticipantUpdated {
            participant: participant.clone(),
        });
    }
}
