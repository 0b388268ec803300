//! Screen sharing's rules (pure): who presents, and who may start or stop a share.
//!
//! At most [`MAX_SHARES`] member presents at a time and the **first one wins**: a second
//! member's share is refused until the first stops (or a host stops it), so nobody can take the
//! room's large view from someone presenting — a host included, who stops the share first. During
//! panic a guest cannot start one (and panic stops theirs, like their microphone and camera).

use salon_protocol::{MAX_SHARES, Participant};

use super::Membership;

/// Why a share was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareRefused {
    #[error("{0} is presenting; you can share your screen once they stop")]
    Busy(String),
    #[error("The host paused the room; you can share your screen when they release it")]
    Paused,
}

impl Membership {
    /// Who shares their screen now, if anyone.
    pub fn presenter(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.participant.screen)
            .map(|m| m.participant.id.as_str())
    }

    /// `id` starts (`active`) or stops sharing its screen; `paused`: panic is on. Returns the
    /// participant if anything changed.
    pub fn set_screen(
        &mut self,
        id: &str,
        active: bool,
        paused: bool,
    ) -> Result<Option<Participant>, ShareRefused> {
        let sharing = self
            .members
            .iter()
            .filter(|m| m.participant.screen && m.participant.id != id)
            .count();
        let Some(m) = self.get_mut(id) else {
            return Ok(None);
        };
        if active && !m.participant.screen {
            if paused && !m.participant.role.is_host() {
                return Err(ShareRefused::Paused);
            }
            if sharing >= MAX_SHARES {
                let name = self
                    .members
                    .iter()
                    .find(|m| m.participant.screen)
                    .map_or_else(|| "Someone".to_owned(), |m| m.participant.name.clone());
                return Err(ShareRefused::Busy(name));
            }
        }
        let m = self.get_mut(id).filter(|m| m.participant.screen != active);
        Ok(m.map(|m| {
            m.participant.screen = active;
            m.participant.clone()
        }))
    }

    /// Stops `id`'s share (a host's `stop_share`, panic, a lost connection). Returns the
    /// participant if they were sharing.
    pub fn stop_screen(&mut self, id: &str) -> Option<Participant> {
        self.set_screen(id, false, false).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use salon_protocol::{MediaState, Role};

    use super::*;
    use crate::identity::Identity;

    fn join(m: &mut Membership, id: &str, role: Role) {
        let participant = Participant {
            id: id.into(),
            name: format!("name {id}"),
            media: MediaState::default(),
            role,
            e2ee: None,
            hand: None,
            screen: false,
        };
        let who = Identity::new("room", None, std::net::IpAddr::from([192, 0, 2, 1]));
        m.join(participant, who).expect("space");
    }

    #[test]
    fn the_first_share_wins_until_it_stops() {
        let mut m = Membership::default();
        join(&mut m, "a", Role::Guest);
        join(&mut m, "b", Role::Owner);
        assert_eq!(m.presenter(), None);
        assert!(m.set_screen("a", true, false).expect("free").is_some());
        assert!(
            m.set_screen("a", true, false).expect("again").is_none(),
            "no change"
        );
        assert_eq!(m.presenter(), Some("a"));
        assert_eq!(
            m.set_screen("b", true, false),
            Err(ShareRefused::Busy("name a".into())),
            "not even the owner takes the view over"
        );
        assert!(m.set_screen("b", false, false).expect("stopping").is_none());
        assert!(m.stop_screen("a").is_some_and(|p| !p.screen));
        assert!(m.stop_screen("a").is_none());
        assert!(m.set_screen("b", true, false).expect("free").is_some());
        assert_eq!(m.presenter(), Some("b"));
        assert!(
            m.set_screen("ghost", true, false)
                .expect("nobody")
                .is_none()
        );
    }

    #[test]
    fn panic_keeps_guests_from_sharing() {
        let mut m = Membership::default();
        join(&mut m, "g", Role::Guest);
        join(&mut m, "h", Role::Cohost);
        assert_eq!(m.set_screen("g", true, true), Err(ShareRefused::Paused));
        assert!(m.set_screen("h", true, true).expect("hosts may").is_some());
        assert!(m.set_screen("h", false, true).expect("stopping").is_some());
    }
}
