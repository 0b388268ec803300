//! Who is in a room: pure membership rules, no I/O. The room actor in [`crate::hub`] applies them.

use salon_protocol::{MAX_PARTICIPANTS, MediaState, Participant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinRefused {
    #[error("the room is full")]
    Full,
}

/// The participants of one room, in order of arrival.
#[derive(Debug, Default)]
pub struct Membership {
    members: Vec<Participant>,
}

impl Membership {
    /// Admits `participant` unless the room is full; returns the others already inside.
    pub fn join(&mut self, participant: Participant) -> Result<Vec<Participant>, JoinRefused> {
        if self.members.len() >= MAX_PARTICIPANTS {
            return Err(JoinRefused::Full);
        }
        let others = self.members.clone();
        self.members.push(participant);
        Ok(others)
    }

    /// Removes a participant; false if they were not here.
    pub fn leave(&mut self, id: &str) -> bool {
        let before = self.members.len();
        self.members.retain(|p| p.id != id);
        self.members.len() != before
    }

    /// Records a mic/camera change; returns the updated participant if it changed anything.
    pub fn set_media(&mut self, id: &str, media: MediaState) -> Option<Participant> {
        let p = self.members.iter_mut().find(|p| p.id == id)?;
        if p.media == media {
            return None;
        }
        p.media = media;
        Some(p.clone())
    }

    /// Renames and re-states a participant (a resumed connection); returns them.
    pub fn update(&mut self, id: &str, name: String, media: MediaState) -> Option<Participant> {
        let p = self.members.iter_mut().find(|p| p.id == id)?;
        p.name = name;
        p.media = media;
        Some(p.clone())
    }

    /// Everyone but `id`.
    pub fn others(&self, id: &str) -> Vec<Participant> {
        self.members
            .iter()
            .filter(|p| p.id != id)
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|p| p.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str) -> Participant {
        Participant {
            id: id.into(),
            name: format!("name {id}"),
            media: MediaState::default(),
        }
    }

    #[test]
    fn the_fifty_first_is_refused() {
        let mut m = Membership::default();
        for i in 0..MAX_PARTICIPANTS {
            m.join(p(&i.to_string())).expect("room has space");
        }
        assert_eq!(m.join(p("late")), Err(JoinRefused::Full));
        assert!(m.leave("3"));
        assert!(m.join(p("late")).is_ok());
    }

    #[test]
    fn joiners_see_who_is_already_there() {
        let mut m = Membership::default();
        assert!(m.join(p("a")).expect("join").is_empty());
        let others = m.join(p("b")).expect("join");
        assert_eq!(others, vec![p("a")]);
    }

    #[test]
    fn media_changes_are_reported_once() {
        let mut m = Membership::default();
        m.join(p("a")).expect("join");
        let off = MediaState {
            audio: false,
            video: true,
        };
        assert_eq!(m.set_media("a", off).map(|p| p.media), Some(off));
        assert_eq!(m.set_media("a", off), None);
        assert_eq!(m.set_media("ghost", off), None);
    }

    #[test]
    fn leaving_twice_is_harmless() {
        let mut m = Membership::default();
        m.join(p("a")).expect("join");
        assert!(m.leave("a"));
        assert!(!m.leave("a"));
        assert!(m.is_empty());
    }
}
