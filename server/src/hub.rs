//! Live rooms. Each room with people in it has one actor task that owns its membership and its
//! publications and tells participants what changed. The hub maps room ids to those actors and
//! starts one on the first join; an actor that becomes empty removes itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use salon_protocol::{MediaState, Participant, Resume, ServerMessage};
use tokio::sync::{mpsc, oneshot};

use crate::ids::{new_participant_id, new_resume_token, token_matches};
use crate::room::{JoinRefused, Membership};
use crate::sfu::forward::Publication;

/// What a room tells one participant's task.
pub enum ToParticipant {
    /// Pass this message to the client.
    Signal(ServerMessage),
    /// Start receiving this publication.
    Subscribe(Arc<Publication>),
    /// Stop receiving `publisher`'s track of this kind.
    Unsubscribe {
        publisher: String,
        kind: RtpCodecKind,
    },
    /// The room dropped you (your queue overflowed).
    Evicted,
}

/// How long a participant who left can still come back under the same id.
const RECENTLY_LEFT_FOR: std::time::Duration = std::time::Duration::from_secs(120);

/// Capacity of a participant's queue of room events.
const PARTICIPANT_QUEUE: usize = 1024;

pub struct Joined {
    pub participant_id: String,
    pub others: Vec<Participant>,
    pub events: mpsc::Receiver<ToParticipant>,
    /// Secret for reconnecting as the same participant.
    pub resume_token: String,
    /// This join took over an earlier connection of the same participant.
    pub resumed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    Full,
    /// The room actor was shutting down; try again.
    Retry,
}

enum RoomCmd {
    Join {
        name: String,
        media: MediaState,
        resume: Option<Resume>,
        reply: oneshot::Sender<Result<(Joined, u64), JoinError>>,
    },
    Leave {
        id: String,
        seat: u64,
    },
    Media {
        id: String,
        seat: u64,
        media: MediaState,
    },
    Publish {
        seat: u64,
        publication: Arc<Publication>,
    },
}

#[derive(Clone)]
struct RoomHandle {
    tx: mpsc::UnboundedSender<RoomCmd>,
    count: Arc<AtomicUsize>,
}

/// All live rooms.
#[derive(Clone, Default)]
pub struct Hub {
    rooms: Arc<Mutex<HashMap<String, RoomHandle>>>,
}

/// A participant's link to its room. Every command carries the participant's *seat*, the number
/// of this particular connection, so a connection that was replaced by a resumed one can no
/// longer act for the participant.
#[derive(Clone)]
pub struct RoomLink {
    room_id: String,
    id: String,
    seat: u64,
    tx: mpsc::UnboundedSender<RoomCmd>,
}

impl RoomLink {
    pub fn room_id(&self) -> &str {
        &self.room_id
    }

    pub fn leave(&self) {
        let _ = self.tx.send(RoomCmd::Leave {
            id: self.id.clone(),
            seat: self.seat,
        });
    }

    pub fn set_media(&self, media: MediaState) {
        let _ = self.tx.send(RoomCmd::Media {
            id: self.id.clone(),
            seat: self.seat,
            media,
        });
    }

    pub fn publish(&self, publication: Arc<Publication>) {
        let _ = self.tx.send(RoomCmd::Publish {
            seat: self.seat,
            publication,
        });
    }
}

impl Hub {
    /// How many people are in a room now (0 when it has no live actor).
    pub fn participant_count(&self, room_id: &str) -> usize {
        self.lock()
            .get(room_id)
            .map_or(0, |h| h.count.load(Ordering::Relaxed))
    }

    /// Number of rooms with people in them.
    pub fn live_rooms(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RoomHandle>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self, room_id: &str) -> RoomHandle {
        let mut rooms = self.lock();
        if let Some(h) = rooms.get(room_id)
            && !h.tx.is_closed()
        {
            return h.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = RoomHandle {
            tx,
            count: Arc::new(AtomicUsize::new(0)),
        };
        rooms.insert(room_id.to_owned(), handle.clone());
        let actor = RoomActor {
            room_id: room_id.to_owned(),
            hub: self.clone(),
            membership: Membership::default(),
            queues: HashMap::new(),
            seats: HashMap::new(),
            recently_left: HashMap::new(),
            next_seat: 1,
            publications: Vec::new(),
            count: handle.count.clone(),
        };
        tokio::spawn(actor.run(rx));
        handle
    }

    /// Enters a room (starting its actor if needed).
    pub async fn join(
        &self,
        room_id: &str,
        name: String,
        media: MediaState,
        resume: Option<Resume>,
    ) -> Result<(Joined, RoomLink), JoinError> {
        for _ in 0..8 {
            let handle = self.handle(room_id);
            let (reply, answer) = oneshot::channel();
            let sent = handle.tx.send(RoomCmd::Join {
                name: name.clone(),
                media,
                resume: resume.clone(),
                reply,
            });
            if sent.is_err() {
                continue;
            }
            match answer.await {
                Ok(Ok((joined, seat))) => {
                    let link = RoomLink {
                        room_id: room_id.to_owned(),
                        id: joined.participant_id.clone(),
                        seat,
                        tx: handle.tx.clone(),
                    };
                    return Ok((joined, link));
                }
                Ok(Err(JoinError::Retry)) | Err(_) => continue,
                Ok(Err(e)) => return Err(e),
            }
        }
        Err(JoinError::Retry)
    }
}

struct RoomActor {
    room_id: String,
    hub: Hub,
    membership: Membership,
    queues: HashMap<String, mpsc::Sender<ToParticipant>>,
    /// Each participant's current connection number and resume token.
    seats: HashMap<String, (u64, String)>,
    /// Resume tokens of people who left recently, so a client that was dropped can come back
    /// under the same id.
    recently_left: HashMap<String, (String, std::time::Instant)>,
    next_seat: u64,
    publications: Vec<Arc<Publication>>,
    count: Arc<AtomicUsize>,
}

impl RoomActor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<RoomCmd>) {
        tracing::debug!(room = %self.room_id, "room is live");
        loop {
            let Some(cmd) = rx.recv().await else { break };
            self.handle(cmd);
            if self.membership.is_empty() && self.retire(&mut rx) {
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
            RoomCmd::Join {
                name,
                media,
                resume,
                reply,
            } => self.join(name, media, resume, reply),
            RoomCmd::Leave { id, seat } => {
                if self.is_current(&id, seat) {
                    self.leave(&id);
                }
            }
            RoomCmd::Media { id, seat, media } => {
                if !self.is_current(&id, seat) {
                    return;
                }
                if let Some(participant) = self.membership.set_media(&id, media) {
                    self.broadcast(&id, || {
                        ToParticipant::Signal(ServerMessage::ParticipantUpdated {
                            participant: participant.clone(),
                        })
                    });
                }
            }
            RoomCmd::Publish { seat, publication } => {
                if !self.is_current(&publication.publisher, seat) {
                    publication.stop();
                    return;
                }
                self.publications.retain(|p| {
                    let replaced =
                        p.publisher == publication.publisher && p.kind == publication.kind;
                    if replaced {
                        p.stop();
                    }
                    !replaced
                });
                self.publications.push(publication.clone());
                let publisher = publication.publisher.clone();
                self.broadcast(&publisher, || ToParticipant::Subscribe(publication.clone()));
            }
        }
        self.count.store(self.membership.len(), Ordering::Relaxed);
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

    fn join(
        &mut self,
        name: String,
        media: MediaState,
        resume: Option<Resume>,
        reply: oneshot::Sender<Result<(Joined, u64), JoinError>>,
    ) {
        let mut reuse_id = None;
        if let Some(resume) = resume {
            if let Some((_, token)) = self.seats.get(&resume.participant_id)
                && token_matches(&resume.token, token)
            {
                self.resume(resume.participant_id, name, media, reply);
                return;
            }
            self.recently_left
                .retain(|_, (_, at)| at.elapsed() < RECENTLY_LEFT_FOR);
            if let Some((token, _)) = self.recently_left.get(&resume.participant_id)
                && token_matches(&resume.token, token)
            {
                // Gone already (the others saw them leave), but the same person is back.
                self.recently_left.remove(&resume.participant_id);
                reuse_id = Some(resume.participant_id);
            }
        }
        let id = reuse_id.unwrap_or_else(new_participant_id);
        let participant = Participant {
            id: id.clone(),
            name,
            media,
        };
        let others = match self.membership.join(participant.clone()) {
            Ok(others) => others,
            Err(JoinRefused::Full) => {
                let _ = reply.send(Err(JoinError::Full));
                return;
            }
        };
        let (seat, resume_token) = self.take_seat(&id);
        let (tx, events) = mpsc::channel(PARTICIPANT_QUEUE);
        // Existing publications go into the newcomer's queue before anything else can.
        for publication in &self.publications {
            let _ = tx.try_send(ToParticipant::Subscribe(publication.clone()));
        }
        let joined = Joined {
            participant_id: id.clone(),
            others,
            events,
            resume_token,
            resumed: false,
        };
        if reply.send(Ok((joined, seat))).is_err() {
            // The joiner went away while waiting.
            self.membership.leave(&id);
            self.seats.remove(&id);
            return;
        }
        self.broadcast(&id, || {
            ToParticipant::Signal(ServerMessage::ParticipantJoined {
                participant: participant.clone(),
            })
        });
        self.queues.insert(id, tx);
        tracing::info!(room = %self.room_id, count = self.membership.len(), "participant joined");
    }

    /// A participant reconnected while its old connection is still here: the new connection
    /// takes its place under the same id, and the others see an update rather than a ghost.
    fn resume(
        &mut self,
        id: String,
        name: String,
        media: MediaState,
        reply: oneshot::Sender<Result<(Joined, u64), JoinError>>,
    ) {
        // Dropping the old queue ends the old connection's task quietly.
        self.queues.remove(&id);
        self.drop_publications_of(&id);
        let Some(participant) = self.membership.update(&id, name, media) else {
            let _ = reply.send(Err(JoinError::Retry));
            return;
        };
        let (seat, resume_token) = self.take_seat(&id);
        let (tx, events) = mpsc::channel(PARTICIPANT_QUEUE);
        for publication in &self.publications {
            let _ = tx.try_send(ToParticipant::Subscribe(publication.clone()));
        }
        let others = self.membership.others(&id);
        let joined = Joined {
            participant_id: id.clone(),
            others,
            events,
            resume_token,
            resumed: true,
        };
        if reply.send(Ok((joined, seat))).is_err() {
            self.leave(&id);
            return;
        }
        self.queues.insert(id.clone(), tx);
        self.broadcast(&id, || {
            ToParticipant::Signal(ServerMessage::ParticipantUpdated {
                participant: participant.clone(),
            })
        });
        tracing::info!(room = %self.room_id, "participant resumed");
    }

    /// Stops a participant's publications and tells the others to unsubscribe.
    fn drop_publications_of(&mut self, id: &str) {
        let mut gone = Vec::new();
        self.publications.retain(|p| {
            let theirs = p.publisher == id;
            if theirs {
                p.stop();
                gone.push(p.kind);
            }
            !theirs
        });
        for kind in gone {
            self.broadcast(id, || ToParticipant::Unsubscribe {
                publisher: id.to_owned(),
                kind,
            });
        }
        // Their downstreams on others' publications go with their peer connection; drop them
        // from the forwarding lists now so no packet is copied for them.
        for p in &self.publications {
            p.remove_downstream(id);
        }
    }

    fn leave(&mut self, id: &str) {
        if !self.membership.leave(id) {
            return;
        }
        self.queues.remove(id);
        if let Some((_, token)) = self.seats.remove(id) {
            self.recently_left
                .insert(id.to_owned(), (token, std::time::Instant::now()));
        }
        self.drop_publications_of(id);
        self.broadcast(id, || {
            ToParticipant::Signal(ServerMessage::ParticipantLeft {
                participant_id: id.to_owned(),
            })
        });
        tracing::info!(room = %self.room_id, count = self.membership.len(), "participant left");
    }

    /// Sends a message to everyone but `except`. A participant whose queue is full is evicted,
    /// so one stuck client cannot hold up the room.
    fn broadcast(&mut self, except: &str, message: impl Fn() -> ToParticipant) {
        let mut stuck = Vec::new();
        for (id, tx) in &self.queues {
            if id == except {
                continue;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(message()) {
                stuck.push(id.clone());
            }
        }
        for id in stuck {
            tracing::warn!(room = %self.room_id, participant = %id, "participant's queue is full; evicting");
            if let Some(tx) = self.queues.get(&id) {
                // The queue is full, so this cannot land; closing the channel is what tells them.
                let _ = tx.try_send(ToParticipant::Evicted);
            }
            self.queues.remove(&id);
            self.leave(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> MediaState {
        MediaState::default()
    }

    #[tokio::test]
    async fn joins_and_leaves_are_announced_and_the_room_retires() {
        let hub = Hub::default();
        let (mut a, link) = hub
            .join("room", "A".into(), media(), None)
            .await
            .expect("join a");
        let (b, b_link) = hub
            .join("room", "B".into(), media(), None)
            .await
            .expect("join b");
        assert_eq!(b.others.len(), 1);
        assert_eq!(hub.participant_count("room"), 2);
        match a.events.recv().await {
            Some(ToParticipant::Signal(ServerMessage::ParticipantJoined { participant })) => {
                assert_eq!(participant.name, "B");
            }
            _ => panic!("expected participant_joined"),
        }
        b_link.leave();
        match a.events.recv().await {
            Some(ToParticipant::Signal(ServerMessage::ParticipantLeft { participant_id })) => {
                assert_eq!(participant_id, b.participant_id);
            }
            _ => panic!("expected participant_left"),
        }
        link.leave();
        for _ in 0..100 {
            if hub.live_rooms() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(hub.live_rooms(), 0);
        // A later join starts a fresh actor.
        let (c, _) = hub
            .join("room", "C".into(), media(), None)
            .await
            .expect("join c");
        assert!(c.others.is_empty());
    }

    #[tokio::test]
    async fn a_resumed_participant_keeps_its_id_and_the_old_connection_is_powerless() {
        let hub = Hub::default();
        let (mut a, _a_link) = hub
            .join("room", "A".into(), media(), None)
            .await
            .expect("join a");
        let (b, old_link) = hub
            .join("room", "B".into(), media(), None)
            .await
            .expect("join b");
        let _ = a.events.recv().await; // participant_joined
        let resume = Resume {
            participant_id: b.participant_id.clone(),
            token: b.resume_token.clone(),
        };
        let (b2, new_link) = hub
            .join("room", "B again".into(), media(), Some(resume))
            .await
            .expect("resume");
        assert!(b2.resumed);
        assert_eq!(b2.participant_id, b.participant_id);
        assert_ne!(b2.resume_token, b.resume_token);
        match a.events.recv().await {
            Some(ToParticipant::Signal(ServerMessage::ParticipantUpdated { participant })) => {
                assert_eq!(participant.name, "B again");
            }
            _ => panic!("expected participant_updated"),
        }
        // The replaced connection's goodbye does not remove the resumed one.
        old_link.leave();
        new_link.set_media(MediaState {
            audio: false,
            video: false,
        });
        match a.events.recv().await {
            Some(ToParticipant::Signal(ServerMessage::ParticipantUpdated { participant })) => {
                assert!(!participant.media.audio);
            }
            _ => panic!("expected the resumed participant to still be here"),
        }
        assert_eq!(hub.participant_count("room"), 2);
        // A wrong token is just a new participant.
        let forged = Resume {
            participant_id: b.participant_id.clone(),
            token: "forged".into(),
        };
        let (c, _) = hub
            .join("room", "C".into(), media(), Some(forged))
            .await
            .expect("join c");
        assert!(!c.resumed);
        assert_ne!(c.participant_id, b.participant_id);
    }

    #[tokio::test]
    async fn the_cap_holds() {
        let hub = Hub::default();
        let mut keep = Vec::new();
        for i in 0..salon_protocol::MAX_PARTICIPANTS {
            keep.push(
                hub.join("r", format!("p{i}"), media(), None)
                    .await
                    .expect("space"),
            );
        }
        assert!(matches!(
            hub.join("r", "late".into(), media(), None).await,
            Err(JoinError::Full)
        ));
    }
}
