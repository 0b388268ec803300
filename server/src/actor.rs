//! The actor of one live room: joins, the lobby, leaves, media state and publications, applied
//! one command at a time so no lock is needed. Host actions are in [`crate::hosting`]; the
//! rules themselves (who may do what, the lobby's bookkeeping) are pure, in [`crate::room`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use salon_protocol::{
    Ban, E2eeMember, MAX_BANS_LISTED, MAX_PARTICIPANTS, MediaState, Participant, Resume, Role,
    RoomInfo, ServerMessage,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::hub::{
    Admission, Hub, JoinError, JoinReply, JoinRequest, Joined, RoomCmd, ToParticipant,
};
use crate::identity::Identity;
use crate::ids::{new_participant_id, new_resume_token, token_matches};
use crate::room::{JoinRefused, KnockRefused, Lobby, MediaRefused, Membership};
use crate::sfu::forward::{Publication, Track};
use crate::sleep_until;
use crate::store::{Store, StoredBan, StoredRoom};

/// How long a participant who left can still come back under the same id.
const RECENTLY_LEFT_FOR: Duration = Duration::from_secs(120);

/// Capacity of a participant's queue of room events.
const PARTICIPANT_QUEUE: usize = 1024;

/// Shortest time between two updates of one member's own microphone/camera state sent to the
/// room; changes in between are held and the latest goes out when the time is up, so a member
/// toggling in a loop costs the others at most a few small messages a second.
const MEMBER_UPDATE_EVERY: Duration = Duration::from_millis(250);

/// What waits in the lobby with a knock: the media the knocker asked for and where to send the
/// host's answer.
pub(crate) type Ticket = (MediaState, Option<E2eeMember>, oneshot::Sender<Admission>);

pub(crate) struct RoomActor {
    /// The room's permanent key (never sent to clients).
    pub(crate) room_id: String,
    /// The room as participants see it: `id` is the current invite link id.
    pub(crate) info: RoomInfo,
    pub(crate) hub: Hub,
    pub(crate) store: Store,
    pub(crate) membership: Membership,
    pub(crate) lobby: Lobby<Ticket>,
    /// This room's bans, oldest first (the database holds the same).
    pub(crate) bans: Vec<StoredBan>,
    queues: HashMap<String, mpsc::Sender<ToParticipant>>,
    /// Each participant's current connection number and resume token.
    seats: HashMap<String, (u64, String)>,
    /// Resume tokens of people who left recently, with the role they had, so a client that
    /// was dropped can come back under the same id (and a co-host as co-host).
    recently_left: HashMap<String, (String, Instant, Role)>,
    /// When each member's last own media update went out, and whether a newer one is held.
    media_updates: HashMap<String, (Instant, bool)>,
    /// Each member's budget of end-to-end key messages (`crate::e2ee`).
    pub(crate) key_budgets: HashMap<String, crate::ratelimit::TokenBucket>,
    /// Reactions, hands and chat (`crate::social`).
    pub(crate) social: crate::social::Social,
    next_seat: u64,
    pub(crate) publications: Vec<Arc<Publication>>,
    count: Arc<AtomicUsize>,
    /// Whether a host is inside, for the people waiting in the lobby.
    host_present: watch::Sender<bool>,
}

impl RoomActor {
    pub(crate) fn new(room: &StoredRoom, hub: Hub, store: Store, count: Arc<AtomicUsize>) -> Self {
        Self {
            room_id: room.id.clone(),
            info: RoomInfo {
                id: room.link.clone(),
                name: room.name.clone(),
                max_participants: MAX_PARTICIPANTS as u32,
                locked: room.locked,
                panic: false,
                e2ee: room.e2ee,
            },
            hub,
            store,
            membership: Membership::default(),
            lobby: Lobby::default(),
            bans: Vec::new(),
            queues: HashMap::new(),
            seats: HashMap::new(),
            recently_left: HashMap::new(),
            media_updates: HashMap::new(),
            key_budgets: HashMap::new(),
            social: crate::social::Social::new(Instant::now()),
            next_seat: 1,
            publications: Vec::new(),
            count,
            host_present: watch::Sender::new(false),
        }
    }

    /// Reads the room's stored state: a previous actor may have changed the lock or link after
    /// the joiner's lookup, and the bans are needed before anyone is let in.
    fn load(&mut self) {
        match self.store.room_now(&self.room_id) {
            Ok(Some(room)) => {
                self.info.id = room.link;
                self.info.name = room.name;
                self.info.locked = room.locked;
                self.info.e2ee = room.e2ee;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(room = %self.room_id, error = %e, "cannot re-read the room"),
        }
        match self.store.bans_now(&self.room_id) {
            Ok(bans) => self.bans = bans,
            Err(e) => {
                // Fail closed: without the ban list nobody but the owner gets in directly.
                tracing::error!(room = %self.room_id, error = %e, "cannot read the bans; locking");
                self.info.locked = true;
            }
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<RoomCmd>) {
        tracing::debug!(room = %self.room_id, "room is live");
        self.load();
        loop {
            let flush_at = self.next_media_flush();
            let cmd = tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => cmd,
                    None => break,
                },
                () = sleep_until(flush_at) => {
                    self.flush_media_updates();
                    continue;
                }
            };
            self.handle(cmd);
            if self.membership.is_empty() && self.lobby.is_empty() && self.retire(&mut rx) {
                break;
            }
        }
        tracing::debug!(room = %self.room_id, "room is empty; actor stopped");
    }

    /// Removes this actor from the hub if nothing is waiting for it. Joins that raced in are
    /// told to retry (they will start a fresh actor).
    fn retire(&mut self, rx: &mut mpsc::UnboundedReceiver<RoomCmd>) -> bool {
        let mut rooms = self.hub.lock();
        if !rx.is_empty() {
            return false;
        }
        rooms.remove(&self.room_id);
        rx.close();
        drop(rooms);
        while let Ok(cmd) = rx.try_recv() {
            if let RoomCmd::Join { reply, .. } = cmd {
                let _ = reply.send(Err(JoinError::Retry));
            }
        }
        true
    }

    fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join { request, reply } => self.join(request, reply),
            RoomCmd::Leave { id, seat } => {
                if self.is_current(&id, seat) {
                    self.leave(&id, true);
                }
            }
            RoomCmd::Media { id, seat, media } => {
                if self.is_current(&id, seat) {
                    self.media(&id, media);
                }
            }
            RoomCmd::Publish { seat, publication } => {
                if self.is_current(&publication.publisher, seat) {
                    self.publish(publication);
                } else {
                    publication.stop();
                }
            }
            RoomCmd::Host { id, seat, action } => {
                if self.is_current(&id, seat) {
                    self.host_action(&id, action);
                }
            }
            RoomCmd::CancelKnock { knock_id } => {
                if self.lobby.take(&knock_id).is_some() {
                    self.knock_ended(&knock_id);
                }
            }
            RoomCmd::Connected { id, seat } => {
                if self.is_current(&id, seat) {
                    self.membership.mark_connected(&id);
                }
            }
            RoomCmd::MediaReset { id, seat } => {
                if self.is_current(&id, seat) {
                    self.drop_publications_of(&id);
                    // Its share went with its media: the new connection shares anew (its
                    // client says `share` again; it is not told, which would stop its capture).
                    if let Some(participant) = self.membership.stop_screen(&id) {
                        self.broadcast(&id, || ServerMessage::ParticipantUpdated {
                            participant: participant.clone(),
                        });
                    }
                }
            }
            RoomCmd::Share { id, seat, active } => {
                if self.is_current(&id, seat) {
                    self.share(&id, active);
                }
            }
            RoomCmd::E2ee { id, seat, message } => {
                if self.is_current(&id, seat) {
                    self.e2ee_message(&id, message);
                }
            }
            RoomCmd::Social { id, seat, message } => {
                if self.is_current(&id, seat) {
                    self.social_message(&id, message);
                }
            }
            RoomCmd::Evacuate { base } => self.evacuate(&base),
        }
        self.count.store(self.membership.len(), Ordering::Relaxed);
        self.hub.presence().update_room(&self.room_id, || {
            self.membership
                .members()
                .map(|m| (m.participant.name.as_str(), m.participant.role))
        });
        self.host_present.send_if_modified(|present| {
            let now = self.membership.has_host();
            std::mem::replace(present, now) != now
        });
    }

    fn is_current(&self, id: &str, seat: u64) -> bool {
        self.seats.get(id).is_some_and(|(s, _)| *s == seat)
    }

    fn take_seat(&mut self, id: &str) -> (u64, String) {
        let seat = self.next_seat;
        self.next_seat += 1;
        let token = new_resume_token();
        self.seats.insert(id.to_owned(), (seat, token.clone()));
        (seat, token)
    }

    pub(crate) fn is_banned(&self, identity: &Identity) -> bool {
        self.bans
            .iter()
            .any(|b| identity.overlaps(b.device_key.as_deref(), b.address_key.as_deref()))
    }

    fn join(&mut self, request: JoinRequest, reply: oneshot::Sender<Result<JoinReply, JoinError>>) {
        let JoinRequest {
            name,
            media,
            resume,
            mut role,
            identity,
            link,
            keep_media,
            e2ee,
        } = request;
        // An encrypted room lets in only people who encrypt (ADR 0003 §7); an unencrypted one
        // ignores the offer (nobody there encrypts).
        if self.info.e2ee && e2ee.is_none() {
            let _ = reply.send(Err(JoinError::E2eeRequired));
            return;
        }
        let e2ee = e2ee.filter(|_| self.info.e2ee).map(|commit| E2eeMember {
            commit,
            public: None,
            mac: None,
        });
        let mut reuse_id = None;
        if let Some(Resume {
            participant_id,
            token,
        }) = resume
        {
            if let Some((_, expected)) = self.seats.get(&participant_id)
                && token_matches(&token, expected)
            {
                self.resume(
                    participant_id,
                    (name, media, e2ee),
                    identity,
                    keep_media,
                    reply,
                );
                return;
            }
            self.recently_left
                .retain(|_, (_, at, _)| at.elapsed() < RECENTLY_LEFT_FOR);
            if let Some((expected, _, had)) = self.recently_left.get(&participant_id)
                && token_matches(&token, expected)
            {
                // Gone already (the others saw them leave), but the same person is back, in
                // the role they had (a co-host stays one across a dropped connection).
                role = role.max(*had);
                self.recently_left.remove(&participant_id);
                reuse_id = Some(participant_id);
            }
        }
        // A link rotated since this socket opened is closed to everyone who was not inside.
        if link != self.info.id && role != Role::Owner && reuse_id.is_none() {
            let _ = reply.send(Err(JoinError::LinkGone));
            return;
        }
        if role != Role::Owner && self.is_banned(&identity) {
            let _ = reply.send(Err(JoinError::Banned));
            return;
        }
        // Someone who was inside a moment ago was admitted already.
        if self.info.locked && role != Role::Owner && reuse_id.is_none() {
            self.knock(name, media, e2ee, identity, reply);
            return;
        }
        let id = reuse_id.unwrap_or_else(new_participant_id);
        match self.admit(id, name, media, e2ee, role, identity) {
            Ok((joined, seat)) => {
                let id = joined.participant_id.clone();
                if reply.send(Ok(JoinReply::Admitted(joined, seat))).is_err() {
                    // The joiner went away while waiting.
                    self.undo_admit(&id);
                } else {
                    self.announce(&id);
                }
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    fn knock(
        &mut self,
        name: String,
        media: MediaState,
        e2ee: Option<E2eeMember>,
        identity: Identity,
        reply: oneshot::Sender<Result<JoinReply, JoinError>>,
    ) {
        let knock_id = new_participant_id();
        let (decide, decision) = oneshot::channel();
        match self
            .lobby
            .knock(knock_id.clone(), name, identity, (media, e2ee, decide))
        {
            Ok(knock) => {
                let waiting = JoinReply::Waiting {
                    knock_id: knock_id.clone(),
                    host_present: self.host_present.subscribe(),
                    decision,
                };
                if reply.send(Ok(waiting)).is_err() {
                    self.lobby.take(&knock_id);
                    return;
                }
                tracing::info!(room = %self.room_id, "someone knocks");
                self.tell_hosts(|| ServerMessage::KnockReceived {
                    knock: knock.clone(),
                });
            }
            Err(KnockRefused::DeniedTwice) => {
                let _ = reply.send(Err(JoinError::DeniedTwice));
            }
            Err(KnockRefused::LobbyFull) => {
                let _ = reply.send(Err(JoinError::LobbyFull));
            }
        }
    }

    /// Lets a knocker in (a host admitted them, or the room was unlocked).
    pub(crate) fn admit_waiting(&mut self, knock_id: &str) -> bool {
        let Some(waiting) = self.lobby.take(knock_id) else {
            return false;
        };
        let (media, e2ee, decide) = waiting.ticket;
        let outcome = self.admit(
            new_participant_id(),
            waiting.knock.name,
            media,
            e2ee,
            Role::Guest,
            waiting.identity,
        );
        match outcome {
            Ok((joined, seat)) => {
                let id = joined.participant_id.clone();
                if decide.send(Ok((joined, seat))).is_err() {
                    self.undo_admit(&id);
                } else {
                    self.announce(&id);
                }
            }
            Err(e) => {
                let _ = decide.send(Err(e));
            }
        }
        self.knock_ended(knock_id);
        true
    }

    /// Takes a seat in the room for `id`. The newcomer's queue starts with the existing
    /// publications (and, for hosts, the ban list); the others hear of it in [`Self::announce`]
    /// once the newcomer has its answer.
    fn admit(
        &mut self,
        id: String,
        name: String,
        media: MediaState,
        e2ee: Option<E2eeMember>,
        role: Role,
        identity: Identity,
    ) -> Result<(Joined, u64), JoinError> {
        let participant = Participant {
            id: id.clone(),
            name,
            media,
            role,
            e2ee,
            hand: None,
            screen: false,
        };
        // Hosts always get in: in a full room the newest guest without media (else the newest
        // guest) gives up their seat, so idle joins cannot lock the owner out.
        if role.is_host()
            && self.membership.len() >= MAX_PARTICIPANTS
            && let Some(guest) = self.membership.seat_for_host().map(str::to_owned)
        {
            tracing::warn!(room = %self.room_id, "room full: a guest gives up their seat to a host");
            self.expel(
                &guest,
                salon_protocol::ErrorCode::RoomFull,
                "The room is full and one of its hosts needed a seat; try again later.",
            );
        }
        let participant = Participant {
            name: self.membership.unique_name(&id, &participant.name),
            ..participant
        };
        let others = match self.membership.join(participant, identity) {
            Ok(others) => others,
            Err(JoinRefused::Full) => return Err(JoinError::Full),
        };
        // During panic a guest comes in with microphone and camera off, like everyone else.
        let muted = if self.info.panic && !role.is_host() {
            self.membership.force_off(&id, true)
        } else {
            None
        };
        let (seat, resume_token) = self.take_seat(&id);
        let (joined, tx) = self.place(id.clone(), role, others, resume_token, false);
        if let Some(me) = muted {
            let _ = tx.try_send(ToParticipant::Signal(ServerMessage::Muted {
                by: "A host".to_owned(),
                media: me.media,
            }));
        }
        self.queues.insert(id, tx);
        Ok((joined, seat))
    }

    /// The `Joined` for a participant and the sending end of their queue, filled with what
    /// they need first.
    fn place(
        &self,
        id: String,
        role: Role,
        others: Vec<Participant>,
        resume_token: String,
        resumed: bool,
    ) -> (Joined, mpsc::Sender<ToParticipant>) {
        let (tx, events) = mpsc::channel(PARTICIPANT_QUEUE);
        // Existing publications go into the newcomer's queue before anything else can (its
        // own, kept through a resume, excepted).
        for publication in self
            .publications
            .iter()
            .filter(|p| p.publisher != id && self.is_shown(p))
        {
            let _ = tx.try_send(ToParticipant::Subscribe(publication.clone()));
        }
        if role.is_host() {
            let _ = tx.try_send(ToParticipant::Signal(self.bans_message()));
        }
        // The chat they may read (kept from before, or from their last visit).
        if let Some(member) = self.membership.get(&id) {
            for history in self.chat_history(&member.identity, role) {
                let _ = tx.try_send(ToParticipant::Signal(history));
            }
        }
        let joined = Joined {
            participant_id: id,
            room: self.info.clone(),
            role,
            others,
            knocks: if role.is_host() {
                self.lobby.knocks()
            } else {
                Vec::new()
            },
            events,
            resume_token,
            resumed,
            keep_media: false,
        };
        (joined, tx)
    }

    fn undo_admit(&mut self, id: &str) {
        self.membership.leave(id);
        self.seats.remove(id);
        self.queues.remove(id);
    }

    fn announce(&mut self, id: &str) {
        let Some(participant) = self.membership.get(id).map(|m| m.participant.clone()) else {
            return;
        };
        self.broadcast(id, || ServerMessage::ParticipantJoined {
            participant: participant.clone(),
        });
        tracing::info!(room = %self.room_id, count = self.membership.len(), "participant joined");
    }

    /// A participant reconnected while its old connection is still here: the new connection
    /// takes its place under the same id, and the others see an update rather than a ghost.
    fn resume(
        &mut self,
        id: String,
        (name, media, e2ee): (String, MediaState, Option<E2eeMember>),
        identity: Identity,
        keep_media: bool,
        reply: oneshot::Sender<Result<JoinReply, JoinError>>,
    ) {
        // Dropping the old queue ends the old connection's task quietly.
        self.queues.remove(&id);
        // Kept media keeps its publications: the others see no change at all. (If the new
        // connection cannot take the old one's media over, it says so: `MediaReset`.)
        if !keep_media {
            self.drop_publications_of(&id);
            // A new connection shares anew (the update below tells everyone).
            self.membership.stop_screen(&id);
        }
        // A resume may not take another member's name.
        let name = self.membership.unique_name(&id, &name);
        let Some(participant) = self.membership.update(&id, name, media, identity, e2ee) else {
            let _ = reply.send(Err(JoinError::Retry));
            return;
        };
        let (seat, resume_token) = self.take_seat(&id);
        let others = self.membership.others(&id);
        let (mut joined, tx) = self.place(id.clone(), participant.role, others, resume_token, true);
        joined.keep_media = keep_media;
        if reply.send(Ok(JoinReply::Admitted(joined, seat))).is_err() {
            self.leave(&id, true);
            return;
        }
        self.queues.insert(id.clone(), tx);
        self.broadcast(&id, || ServerMessage::ParticipantUpdated {
            participant: participant.clone(),
        });
        tracing::info!(room = %self.room_id, "participant resumed");
    }

    fn media(&mut self, id: &str, media: MediaState) {
        match self.membership.set_media(id, media, self.info.panic) {
            Ok(Some(participant)) => {
                self.apply_pauses(id);
                let now = Instant::now();
                match self.media_updates.get_mut(id) {
                    // Sent one a moment ago: hold this one (the latest state goes out later).
                    Some((sent, held)) if now.duration_since(*sent) < MEMBER_UPDATE_EVERY => {
                        *held = true;
                    }
                    _ => {
                        self.media_updates.insert(id.to_owned(), (now, false));
                        self.broadcast(id, || ServerMessage::ParticipantUpdated {
                            participant: participant.clone(),
                        });
                    }
                }
            }
            Ok(None) => self.apply_pauses(id),
            Err(MediaRefused::Paused) => {
                self.send_to(
                    id,
                    ServerMessage::error(
                        salon_protocol::ErrorCode::NotAllowed,
                        MediaRefused::Paused.to_string(),
                    ),
                );
                // Tell the client its state as the room sees it, so its buttons match.
                if let Some(me) = self.membership.get(id).map(|m| m.participant.clone()) {
                    self.send_to(id, ServerMessage::ParticipantUpdated { participant: me });
                }
            }
        }
    }

    /// When the next held media update is due, if any.
    fn next_media_flush(&self) -> Option<Instant> {
        self.media_updates
            .values()
            .filter(|(_, held)| *held)
            .map(|(sent, _)| *sent + MEMBER_UPDATE_EVERY)
            .min()
    }

    /// Sends the held media updates that are due, each with the member's current state.
    fn flush_media_updates(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .media_updates
            .iter()
            .filter(|(_, (sent, held))| *held && now.duration_since(*sent) >= MEMBER_UPDATE_EVERY)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            self.media_updates.insert(id.clone(), (now, false));
            if let Some(participant) = self.membership.get(&id).map(|m| m.participant.clone()) {
                self.broadcast(&id, || ServerMessage::ParticipantUpdated {
                    participant: participant.clone(),
                });
            }
        }
    }

    fn publish(&mut self, publication: Arc<Publication>) {
        self.publications.retain(|p| {
            let replaced = p.publisher == publication.publisher && p.track == publication.track;
            if replaced {
                p.stop();
            }
            !replaced
        });
        self.publications.push(publication.clone());
        self.apply_pauses(&publication.publisher);
        // A screen nobody shares yet waits for its `share` (`crate::screenshare`).
        if !self.is_shown(&publication) {
            return;
        }
        let publisher = publication.publisher.clone();
        self.broadcast_events(&publisher, || ToParticipant::Subscribe(publication.clone()));
    }

    /// Pauses whatever of `id`'s media a host forced off or they turned off themselves, resumes
    /// the rest.
    pub(crate) fn apply_pauses(&self, id: &str) {
        let forced = self.membership.forced_off(id);
        // What the member says they send: a microphone they turned off forwards nothing either
        // (browsers keep sending silence for a disabled track; it costs every subscriber).
        let on = self
            .membership
            .get(id)
            .map_or(MediaState::default(), |m| m.participant.media);
        let sharing = self
            .membership
            .get(id)
            .is_some_and(|m| m.participant.screen);
        for p in self.publications.iter().filter(|p| p.publisher == id) {
            let off = match p.track {
                Track::Audio => forced.audio || !on.audio,
                Track::Camera => forced.video || !on.video,
                Track::Screen => !sharing,
            };
            p.set_paused(off);
        }
    }

    /// Stops a participant's publications and tells the others to unsubscribe.
    fn drop_publications_of(&mut self, id: &str) {
        let mut gone = Vec::new();
        self.publications.retain(|p| {
            let theirs = p.publisher == id;
            if theirs {
                p.stop();
                gone.push(p.track);
            }
            !theirs
        });
        for track in gone {
            self.broadcast_events(id, || ToParticipant::Unsubscribe {
                publisher: id.to_owned(),
                track,
            });
        }
        // Their downstreams on others' publications go with their peer connection (the engine
        // forgets them when it closes).
    }

    /// Takes `id` out of the room. With `may_return`, their last resume token stays valid for
    /// a while (a dropped connection); a removed participant's does not.
    pub(crate) fn leave(&mut self, id: &str, may_return: bool) {
        let Some(left) = self.membership.leave(id) else {
            return;
        };
        self.queues.remove(id);
        if let Some((_, token)) = self.seats.remove(id)
            && may_return
        {
            self.recently_left.insert(
                id.to_owned(),
                (token, Instant::now(), left.participant.role),
            );
        }
        self.media_updates.remove(id);
        self.key_budgets.remove(id);
        self.social.forget(id);
        self.drop_publications_of(id);
        self.broadcast(id, || ServerMessage::ParticipantLeft {
            participant_id: id.to_owned(),
        });
        tracing::info!(room = %self.room_id, count = self.membership.len(), "participant left");
        if self.membership.is_empty() {
            // The session is over: denials and panic are forgotten; the lock stays.
            self.lobby.forget_denials();
            self.info.panic = false;
        }
    }

    /// Ends `id`'s connection with a fatal error and takes them out without a way back.
    pub(crate) fn expel(&mut self, id: &str, code: salon_protocol::ErrorCode, message: &str) {
        if let Some(tx) = self.queues.get(id) {
            let _ = tx.try_send(ToParticipant::Ended {
                code,
                message: message.to_owned(),
            });
        }
        self.leave(id, false);
    }

    pub(crate) fn bans_message(&self) -> ServerMessage {
        let skip = self.bans.len().saturating_sub(MAX_BANS_LISTED);
        ServerMessage::Bans {
            bans: self
                .bans
                .iter()
                .skip(skip)
                .map(|b| Ban {
                    id: b.id.clone(),
                    name: b.name.clone(),
                    at: b.at,
                })
                .collect(),
        }
    }

    pub(crate) fn name_of(&self, id: &str) -> String {
        self.membership
            .get(id)
            .map_or_else(|| "A host".to_owned(), |m| m.participant.name.clone())
    }

    /// Sends a message to one participant.
    pub(crate) fn send_to(&mut self, id: &str, message: ServerMessage) {
        self.deliver(vec![id.to_owned()], || {
            ToParticipant::Signal(message.clone())
        });
    }

    /// Tells the hosts that a knock left the lobby (admitted, denied or given up).
    pub(crate) fn knock_ended(&mut self, knock_id: &str) {
        self.tell_hosts(|| ServerMessage::KnockEnded {
            knock_id: knock_id.to_owned(),
        });
    }

    /// Sends the hosts the current ban list.
    pub(crate) fn announce_bans(&mut self) {
        let bans = self.bans_message();
        self.tell_hosts(|| bans.clone());
    }

    /// Sends a message to every host.
    pub(crate) fn tell_hosts(&mut self, message: impl Fn() -> ServerMessage) {
        let hosts: Vec<String> = self.membership.hosts().map(str::to_owned).collect();
        self.deliver(hosts, || ToParticipant::Signal(message()));
    }

    /// Sends a message to everyone but `except` (`""` for everyone).
    pub(crate) fn broadcast(&mut self, except: &str, message: impl Fn() -> ServerMessage) {
        self.broadcast_events(except, || ToParticipant::Signal(message()));
    }

    pub(crate) fn broadcast_events(&mut self, except: &str, event: impl Fn() -> ToParticipant) {
        let ids: Vec<String> = self
            .queues
            .keys()
            .filter(|id| id.as_str() != except)
            .cloned()
            .collect();
        self.deliver(ids, event);
    }

    /// Queues an event for each of `ids`. A participant whose queue is full is evicted, so one
    /// stuck client cannot hold up the room.
    fn deliver(&mut self, ids: Vec<String>, mut event: impl FnMut() -> ToParticipant) {
        let mut stuck = Vec::new();
        for id in ids {
            let Some(tx) = self.queues.get(&id) else {
                continue;
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(event()) {
                stuck.push(id);
            }
        }
        self.evict(stuck);
    }

    fn evict(&mut self, stuck: Vec<String>) {
        for id in stuck {
            tracing::warn!(room = %self.room_id, participant = %id, "participant's queue is full; evicting");
            if let Some(tx) = self.queues.get(&id) {
                // The queue is full, so this cannot land; closing the channel is what tells them.
                let _ = tx.try_send(ToParticipant::Evicted);
            }
            self.queues.remove(&id);
            self.leave(&id, true);
        }
    }

    /// Turns away everyone waiting in the lobby with `error` (e.g. they came through a link
    /// that was just rotated).
    pub(crate) fn clear_lobby(&mut self, error: JoinError) {
        for waiting in self.lobby.drain() {
            let _ = waiting.ticket.2.send(Err(error));
            self.knock_ended(&waiting.knock.id);
        }
    }

    fn member_ids(&self) -> Vec<String> {
        self.membership
            .members()
            .map(|m| m.participant.id.clone())
            .collect()
    }

    /// Cluster mode: the room now lives on the node at `base`. Everyone inside gets `moved`
    /// there (and rejoins or resumes by themselves); people in the lobby knock again there.
    pub(crate) fn evacuate(&mut self, base: &str) {
        let url = crate::cluster::ws_url(base, &self.info.id);
        for waiting in self.lobby.drain() {
            // The lobby is not carried over: knockers are sent to the new owner to knock again
            // (`admission::wait_in_lobby`).
            let _ = waiting.ticket.2.send(Err(JoinError::Retry));
        }
        for id in self.member_ids() {
            if let Some(tx) = self.queues.get(&id) {
                let _ = tx.try_send(ToParticipant::Moved { url: url.clone() });
            }
            self.leave(&id, false);
        }
        self.recently_left.clear();
    }

    /// Everyone inside and waiting is sent away (the call ended); the room's stored state
    /// (lock, bans) stays.
    pub(crate) fn clear(&mut self, message: &str) {
        for waiting in self.lobby.drain() {
            let _ = waiting.ticket.2.send(Err(JoinError::Ended));
        }
        for id in self.member_ids() {
            self.expel(&id, salon_protocol::ErrorCode::RoomEnded, message);
        }
        self.recently_left.clear();
    }
}
