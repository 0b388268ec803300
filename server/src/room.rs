//! Who is in a room and what they may do: pure rules, no I/O. The room actor in
//! [`crate::actor`] applies them.

use salon_protocol::{
    E2eeMember, Knock, MAX_NAME_CHARS, MAX_PARTICIPANTS, MediaState, Participant, Role,
};

use crate::identity::Identity;

mod sharing;
pub use sharing::ShareRefused;

/// Why a key announcement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceRefused {
    #[error("you did not join with end-to-end encryption")]
    NotEncrypting,
    #[error("this key is not the one your join committed to")]
    CommitMismatch,
}

/// `commit == base64url(SHA-256("salon/e2ee/v1/commit" || pub))` (ADR 0003 §14).
pub fn commitment_matches(commit: &str, public: &str) -> bool {
    use base64::Engine as _;
    use sha2::Digest as _;
    let Ok(public) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(public) else {
        return false;
    };
    if public.len() != 32 {
        return false;
    }
    let mut h = sha2::Sha256::new();
    h.update(b"salon/e2ee/v1/commit");
    h.update(&public);
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.finalize());
    use subtle::ConstantTimeEq as _;
    expected.as_bytes().ct_eq(commit.as_bytes()).into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinRefused {
    #[error("the room is full")]
    Full,
}

/// One person inside, with what the server keeps about them for this session.
#[derive(Debug, Clone)]
pub struct Member {
    pub participant: Participant,
    pub identity: Identity,
    /// A host turned this off; the server does not forward it until the member turns it on
    /// again (which panic forbids for guests).
    pub forced_off: MediaState,
    /// Their media is up (ICE and DTLS connected). A seat without media is the first given up
    /// when a host needs room.
    pub connected: bool,
}

/// The participants of one room, in order of arrival.
#[derive(Debug, Default)]
pub struct Membership {
    members: Vec<Member>,
}

/// Whether someone of role `actor` may act on someone of role `target`: only downwards.
pub fn outranks(actor: Role, target: Role) -> bool {
    actor.is_host() && actor > target
}

/// No media is forced off.
pub const NOTHING_FORCED: MediaState = MediaState {
    audio: false,
    video: false,
};

impl Membership {
    /// Admits `participant` unless the room is full; returns the others already inside.
    pub fn join(
        &mut self,
        participant: Participant,
        identity: Identity,
    ) -> Result<Vec<Participant>, JoinRefused> {
        if self.members.len() >= MAX_PARTICIPANTS {
            return Err(JoinRefused::Full);
        }
        let others = self.members.iter().map(|m| m.participant.clone()).collect();
        self.members.push(Member {
            participant,
            identity,
            forced_off: NOTHING_FORCED,
            connected: false,
        });
        Ok(others)
    }

    /// Whose seat a host takes when the room is full: the newest guest whose media never
    /// connected (an idle or half-open join), else the newest guest. `None` if everyone inside
    /// is a host.
    pub fn seat_for_host(&self) -> Option<&str> {
        let guests = || {
            self.members
                .iter()
                .rev()
                .filter(|m| m.participant.role == Role::Guest)
        };
        guests()
            .find(|m| !m.connected)
            .or_else(|| guests().next())
            .map(|m| m.participant.id.as_str())
    }

    /// Records that `id`'s media is up.
    pub fn mark_connected(&mut self, id: &str) {
        if let Some(m) = self.get_mut(id) {
            m.connected = true;
        }
    }

    /// `name`, or if someone else inside (not `id`) already goes by it, the name with the
    /// first free suffix " (2)", " (3)", …, so nobody can pass for someone else in the list.
    /// Names are compared without regard to case.
    pub fn unique_name(&self, id: &str, name: &str) -> String {
        let taken = |candidate: &str| {
            self.members.iter().any(|m| {
                m.participant.id != id
                    && m.participant.name.to_lowercase() == candidate.to_lowercase()
            })
        };
        if !taken(name) {
            return name.to_owned();
        }
        (2..)
            .map(|n| {
                let suffix = format!(" ({n})");
                let room = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
                let base: String = name.chars().take(room).collect();
                format!("{}{suffix}", base.trim_end())
            })
            .find(|candidate| !taken(candidate))
            .unwrap_or_else(|| name.to_owned())
    }

    /// Removes a participant; returns them if they were here.
    pub fn leave(&mut self, id: &str) -> Option<Member> {
        let at = self.members.iter().position(|m| m.participant.id == id)?;
        Some(self.members.remove(at))
    }

    pub fn get(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.participant.id == id)
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.participant.id == id)
    }

    pub fn role(&self, id: &str) -> Option<Role> {
        self.get(id).map(|m| m.participant.role)
    }

    /// Records a mic/camera change asked for by the participant. Turning on something a host
    /// forced off lifts that, unless `paused` (panic) and the participant is a guest: then it is
    /// refused. Returns the updated participant if anything changed.
    pub fn set_media(
        &mut self,
        id: &str,
        media: MediaState,
        paused: bool,
    ) -> Result<Option<Participant>, MediaRefused> {
        let Some(m) = self.get_mut(id) else {
            return Ok(None);
        };
        let turns_on_forced =
            (media.audio && m.forced_off.audio) || (media.video && m.forced_off.video);
        if turns_on_forced && paused && !m.participant.role.is_host() {
            return Err(MediaRefused::Paused);
        }
        if media.audio {
            m.forced_off.audio = false;
        }
        if media.video {
            m.forced_off.video = false;
        }
        if m.participant.media == media {
            return Ok(None);
        }
        m.participant.media = media;
        Ok(Some(m.participant.clone()))
    }

    /// A host turns `id`'s microphone (and with `video`, camera) off. Returns the participant
    /// with their new state.
    pub fn force_off(&mut self, id: &str, video: bool) -> Option<Participant> {
        let m = self.get_mut(id)?;
        m.forced_off.audio = true;
        m.participant.media.audio = false;
        if video {
            m.forced_off.video = true;
            m.participant.media.video = false;
        }
        Some(m.participant.clone())
    }

    /// What of `id`'s media the server must not forward now.
    pub fn forced_off(&self, id: &str) -> MediaState {
        self.get(id).map_or(NOTHING_FORCED, |m| m.forced_off)
    }

    /// Records a member's key announcement (ADR 0003 §2.2) after checking it against the
    /// commitment from their join: a member cannot swap keys later, and a server bug cannot
    /// pass one member's key off as another's.
    pub fn announce_key(
        &mut self,
        id: &str,
        public: &str,
        mac: &str,
    ) -> Result<(), AnnounceRefused> {
        let m = self.get_mut(id).ok_or(AnnounceRefused::NotEncrypting)?;
        let e2ee = m
            .participant
            .e2ee
            .as_mut()
            .ok_or(AnnounceRefused::NotEncrypting)?;
        if !commitment_matches(&e2ee.commit, public) {
            return Err(AnnounceRefused::CommitMismatch);
        }
        e2ee.public = Some(public.to_owned());
        e2ee.mac = Some(mac.to_owned());
        Ok(())
    }

    /// Whether `id` is inside and exchanges keys.
    pub fn encrypts(&self, id: &str) -> bool {
        self.get(id).is_some_and(|m| m.participant.e2ee.is_some())
    }

    /// Raises (`Some(order)`) or lowers (`None`) `id`'s hand. Returns the participant if that
    /// changed anything (a raised hand stays where it is in the queue).
    pub fn set_hand(&mut self, id: &str, hand: Option<u64>) -> Option<Participant> {
        let m = self.get_mut(id)?;
        if m.participant.hand.is_some() == hand.is_some() {
            return None;
        }
        m.participant.hand = hand;
        Some(m.participant.clone())
    }

    /// The members whose hand is up.
    pub fn raised_hands(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.participant.hand.is_some())
            .map(|m| m.participant.id.clone())
            .collect()
    }

    pub fn set_role(&mut self, id: &str, role: Role) -> Option<Participant> {
        let m = self.get_mut(id)?;
        if m.participant.role == role {
            return None;
        }
        m.participant.role = role;
        Some(m.participant.clone())
    }

    /// Renames and re-states a participant (a resumed connection, maybe from another network);
    /// returns them.
    pub fn update(
        &mut self,
        id: &str,
        name: String,
        media: MediaState,
        identity: Identity,
        e2ee: Option<E2eeMember>,
    ) -> Option<Participant> {
        let m = self.get_mut(id)?;
        m.identity = identity;
        // The same call keeps its key pair across a resume (the same commitment keeps the
        // announcement); a new commitment starts the key exchange over.
        let same =
            matches!((&m.participant.e2ee, &e2ee), (Some(a), Some(b)) if a.commit == b.commit);
        if !same {
            m.participant.e2ee = e2ee;
        }
        m.participant.name = name;
        // A new connection: its media has yet to come up.
        m.connected = false;
        m.participant.media = MediaState {
            audio: media.audio && !m.forced_off.audio,
            video: media.video && !m.forced_off.video,
        };
        Some(m.participant.clone())
    }

    /// Everyone but `id`.
    pub fn others(&self, id: &str) -> Vec<Participant> {
        self.members
            .iter()
            .filter(|m| m.participant.id != id)
            .map(|m| m.participant.clone())
            .collect()
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.iter()
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn has_host(&self) -> bool {
        self.members.iter().any(|m| m.participant.role.is_host())
    }

    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(|m| m.participant.role.is_host())
            .map(|m| m.participant.id.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MediaRefused {
    #[error(
        "the host paused the room; you can turn your microphone and camera on when they release it"
    )]
    Paused,
}

/// Most people waiting in one lobby.
pub const MAX_WAITING: usize = MAX_PARTICIPANTS;

/// Most people waiting from one address (IPv4 address or IPv6 /64) at once, so one network
/// cannot fill the lobby.
pub const MAX_WAITING_PER_ADDRESS: usize = 5;

/// Denials after which someone cannot knock again until the room empties.
pub const DENIALS_TO_BLOCK: u32 = 2;

/// Knocks on a locked room, and who was turned away this session.
#[derive(Debug)]
pub struct Lobby<T> {
    waiting: Vec<Waiting<T>>,
    /// Identities denied this session and how often.
    denied: Vec<(Identity, u32)>,
}

impl<T> Default for Lobby<T> {
    fn default() -> Self {
        Self {
            waiting: Vec::new(),
            denied: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub struct Waiting<T> {
    pub knock: Knock,
    pub identity: Identity,
    /// What the driver needs to answer the knocker (its reply channel).
    pub ticket: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KnockRefused {
    #[error("denied twice")]
    DeniedTwice,
    #[error("the lobby is full")]
    LobbyFull,
}

impl<T> Lobby<T> {
    fn times_denied(&self, identity: &Identity) -> u32 {
        self.denied
            .iter()
            .filter(|(d, _)| identity.overlaps(d.device.as_deref(), Some(&d.address)))
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }

    /// Puts someone in the lobby under knock id `id`.
    pub fn knock(
        &mut self,
        id: String,
        name: String,
        identity: Identity,
        ticket: T,
    ) -> Result<Knock, KnockRefused> {
        let denied_before = self.times_denied(&identity);
        if denied_before >= DENIALS_TO_BLOCK {
            return Err(KnockRefused::DeniedTwice);
        }
        let from_address = self
            .waiting
            .iter()
            .filter(|w| w.identity.address == identity.address)
            .count();
        if self.waiting.len() >= MAX_WAITING || from_address >= MAX_WAITING_PER_ADDRESS {
            return Err(KnockRefused::LobbyFull);
        }
        let knock = Knock {
            id,
            name,
            denied_before,
        };
        self.waiting.push(Waiting {
            knock: knock.clone(),
            identity,
            ticket,
        });
        Ok(knock)
    }

    /// Takes a knock out of the lobby (admitted or given up).
    pub fn take(&mut self, knock_id: &str) -> Option<Waiting<T>> {
        let at = self.waiting.iter().position(|w| w.knock.id == knock_id)?;
        Some(self.waiting.remove(at))
    }

    pub fn identity_of(&self, knock_id: &str) -> Option<&Identity> {
        self.waiting
            .iter()
            .find(|w| w.knock.id == knock_id)
            .map(|w| &w.identity)
    }

    /// Takes a knock out and remembers the denial.
    pub fn deny(&mut self, knock_id: &str) -> Option<Waiting<T>> {
        let waiting = self.take(knock_id)?;
        match self.denied.iter_mut().find(|(d, _)| d == &waiting.identity) {
            Some((_, n)) => *n += 1,
            None => self.denied.push((waiting.identity.clone(), 1)),
        }
        Some(waiting)
    }

    /// Everyone waiting, oldest first.
    pub fn drain(&mut self) -> Vec<Waiting<T>> {
        std::mem::take(&mut self.waiting)
    }

    pub fn knocks(&self) -> Vec<Knock> {
        self.waiting.iter().map(|w| w.knock.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The room emptied: denials are forgotten.
    pub fn forget_denials(&mut self) {
        self.denied.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(n: u8) -> Identity {
        Identity::new(
            "room",
            Some(&format!("device-{n:0>12}")),
            std::net::IpAddr::from([192, 0, 2, n]),
        )
    }

    fn p(id: &str) -> Participant {
        Participant {
            id: id.into(),
            name: format!("name {id}"),
            media: MediaState::default(),
            role: Role::Guest,
            e2ee: None,
            hand: None,
            screen: false,
        }
    }

    #[test]
    fn the_fifty_first_is_refused() {
        let mut m = Membership::default();
        for i in 0..MAX_PARTICIPANTS {
            m.join(p(&i.to_string()), who(1)).expect("room has space");
        }
        assert_eq!(m.join(p("late"), who(1)).err(), Some(JoinRefused::Full));
        assert!(m.leave("3").is_some());
        assert!(m.join(p("late"), who(1)).is_ok());
    }

    #[test]
    fn a_host_takes_the_newest_unconnected_guests_seat() {
        let mut m = Membership::default();
        for i in 0..4 {
            m.join(p(&i.to_string()), who(1)).expect("space");
        }
        m.set_role("0", Role::Cohost);
        m.mark_connected("1");
        m.mark_connected("3");
        assert_eq!(m.seat_for_host(), Some("2"), "newest without media");
        m.mark_connected("2");
        assert_eq!(m.seat_for_host(), Some("3"), "else the newest guest");
        let mut hosts = Membership::default();
        hosts.join(p("h"), who(1)).expect("space");
        hosts.set_role("h", Role::Owner);
        assert_eq!(hosts.seat_for_host(), None, "hosts are never displaced");
    }

    #[test]
    fn a_name_in_use_gets_a_suffix() {
        let mut m = Membership::default();
        let mut ada = p("a");
        ada.name = "Ada".into();
        m.join(ada, who(1)).expect("space");
        assert_eq!(m.unique_name("b", "Ada"), "Ada (2)");
        assert_eq!(m.unique_name("b", "ADA"), "ADA (2)");
        assert_eq!(
            m.unique_name("a", "Ada"),
            "Ada",
            "one's own name is not taken"
        );
        assert_eq!(m.unique_name("b", "Bob"), "Bob");
        let mut second = p("b");
        second.name = "Ada (2)".into();
        m.join(second, who(2)).expect("space");
        assert_eq!(m.unique_name("c", "Ada"), "Ada (3)");
        let long = "x".repeat(MAX_NAME_CHARS);
        let mut l = p("l");
        l.name = long.clone();
        m.join(l, who(3)).expect("space");
        let suffixed = m.unique_name("c", &long);
        assert!(suffixed.ends_with(" (2)"));
        assert_eq!(suffixed.chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn joiners_see_who_is_already_there() {
        let mut m = Membership::default();
        assert!(m.join(p("a"), who(1)).expect("join").is_empty());
        let others = m.join(p("b"), who(2)).expect("join");
        assert_eq!(others, vec![p("a")]);
    }

    #[test]
    fn a_hand_keeps_its_place_until_lowered() {
        let mut m = Membership::default();
        m.join(p("a"), who(1)).expect("a");
        m.join(p("b"), who(2)).expect("b");
        assert_eq!(m.set_hand("a", Some(1)).and_then(|p| p.hand), Some(1));
        assert!(
            m.set_hand("a", Some(5)).is_none(),
            "raising twice keeps the place"
        );
        assert_eq!(m.get("a").and_then(|x| x.participant.hand), Some(1));
        m.set_hand("b", Some(2)).expect("b up");
        assert_eq!(m.raised_hands(), ["a", "b"]);
        assert!(m.set_hand("a", None).is_some_and(|p| p.hand.is_none()));
        assert!(m.set_hand("a", None).is_none());
        assert!(m.set_hand("nobody", Some(3)).is_none());
        assert_eq!(m.raised_hands(), ["b"]);
    }

    #[test]
    fn media_changes_are_reported_once() {
        let mut m = Membership::default();
        m.join(p("a"), who(1)).expect("join");
        let off = MediaState {
            audio: false,
            video: true,
        };
        assert_eq!(
            m.set_media("a", off, false)
                .expect("allowed")
                .map(|p| p.media),
            Some(off)
        );
        assert_eq!(m.set_media("a", off, false), Ok(None));
        assert_eq!(m.set_media("ghost", off, false), Ok(None));
    }

    #[test]
    fn leaving_twice_is_harmless() {
        let mut m = Membership::default();
        m.join(p("a"), who(1)).expect("join");
        assert!(m.leave("a").is_some());
        assert!(m.leave("a").is_none());
        assert!(m.is_empty());
    }

    #[test]
    fn hosts_act_only_downwards() {
        use Role::*;
        assert!(outranks(Owner, Cohost));
        assert!(outranks(Owner, Guest));
        assert!(outranks(Cohost, Guest));
        for (a, t) in [
            (Cohost, Cohost),
            (Cohost, Owner),
            (Owner, Owner),
            (Guest, Guest),
            (Guest, Owner),
        ] {
            assert!(!outranks(a, t), "{a:?} on {t:?}");
        }
    }

    #[test]
    fn a_forced_mute_is_lifted_by_the_member_unless_paused() {
        let mut m = Membership::default();
        m.join(p("a"), who(1)).expect("join");
        let muted = m.force_off("a", false).expect("member");
        assert!(!muted.media.audio && muted.media.video);
        assert!(m.forced_off("a").audio && !m.forced_off("a").video);
        let on = MediaState::default();
        assert_eq!(m.set_media("a", on, true), Err(MediaRefused::Paused));
        assert!(
            m.forced_off("a").audio,
            "still forced after a refused unmute"
        );
        let back = m
            .set_media("a", on, false)
            .expect("allowed")
            .expect("changed");
        assert!(back.media.audio);
        assert_eq!(m.forced_off("a"), NOTHING_FORCED);
    }

    #[test]
    fn hosts_may_unmute_during_panic() {
        let mut m = Membership::default();
        m.join(p("h"), who(1)).expect("join");
        m.set_role("h", Role::Cohost).expect("promoted");
        m.force_off("h", true);
        assert!(m.set_media("h", MediaState::default(), true).is_ok());
    }

    #[test]
    fn a_resume_keeps_a_forced_mute() {
        let mut m = Membership::default();
        m.join(p("a"), who(1)).expect("join");
        m.force_off("a", true);
        let again = m
            .update("a", "A".into(), MediaState::default(), who(2), None)
            .expect("member");
        assert!(!again.media.audio && !again.media.video);
    }

    #[test]
    fn twice_denied_cannot_knock_until_the_room_empties() {
        let mut lobby: Lobby<()> = Lobby::default();
        let k = lobby
            .knock("k1".into(), "T".into(), who(5), ())
            .expect("knock");
        assert_eq!(k.denied_before, 0);
        lobby.deny("k1").expect("waiting");
        let k = lobby
            .knock("k2".into(), "T".into(), who(5), ())
            .expect("knock");
        assert_eq!(k.denied_before, 1);
        lobby.deny("k2").expect("waiting");
        assert_eq!(
            lobby.knock("k3".into(), "T".into(), who(5), ()).err(),
            Some(KnockRefused::DeniedTwice)
        );
        // The same person from a new browser (new device id, same address) is still refused.
        let new_browser = Identity::new(
            "room",
            Some("another-device-id"),
            std::net::IpAddr::from([192, 0, 2, 5]),
        );
        assert!(
            lobby
                .knock("k4".into(), "T2".into(), new_browser, ())
                .is_err()
        );
        // Someone else is not affected.
        assert!(lobby.knock("k5".into(), "U".into(), who(6), ()).is_ok());
        lobby.forget_denials();
        assert!(lobby.knock("k6".into(), "T".into(), who(5), ()).is_ok());
    }

    #[test]
    fn the_lobby_has_a_size_limit() {
        let mut lobby: Lobby<()> = Lobby::default();
        for i in 0..MAX_WAITING {
            lobby
                .knock(format!("k{i}"), "x".into(), who(i as u8 + 10), ())
                .expect("space");
        }
        assert_eq!(
            lobby.knock("late".into(), "x".into(), who(2), ()).err(),
            Some(KnockRefused::LobbyFull)
        );
        assert!(lobby.take("k0").is_some());
        assert!(lobby.take("k0").is_none());
        assert_eq!(lobby.knocks().len(), MAX_WAITING - 1);
    }

    #[test]
    fn one_network_cannot_fill_the_lobby() {
        let mut lobby: Lobby<()> = Lobby::default();
        let from = |n: usize| {
            Identity::new(
                "room",
                Some(&format!("browser-profile-{n:04}")),
                std::net::IpAddr::from([198, 51, 100, 1]),
            )
        };
        for i in 0..MAX_WAITING_PER_ADDRESS {
            lobby
                .knock(format!("k{i}"), "x".into(), from(i), ())
                .expect("space");
        }
        assert_eq!(
            lobby.knock("more".into(), "x".into(), from(99), ()).err(),
            Some(KnockRefused::LobbyFull)
        );
        assert!(lobby.knock("other".into(), "y".into(), who(7), ()).is_ok());
    }
}
