//! Live rooms. Each room with people in it (or waiting at its door) has one actor task
//! ([`crate::actor`]) that owns its membership, lobby and publications and tells participants
//! what changed. The hub maps room keys to those actors and starts one on the first join; an
//! actor that becomes empty removes itself.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use salon_protocol::{
    ClientMessage, ErrorCode, Knock, MediaState, Participant, Resume, Role, RoomInfo, ServerMessage,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::actor::RoomActor;
use crate::identity::Identity;
use crate::presence::Presence;
use crate::sfu::forward::{Publication, Track};
use crate::store::{Store, StoredRoom};

/// What a room tells one participant's task.
pub enum ToParticipant {
    /// Pass this message to the client.
    Signal(ServerMessage),
    /// Start receiving this publication.
    Subscribe(Arc<Publication>),
    /// Stop receiving `publisher`'s track (its audio, camera or screen share).
    Unsubscribe { publisher: String, track: Track },
    /// The room dropped you (your queue overflowed).
    Evicted,
    /// You are out (removed, or the call ended): send this fatal error and close.
    Ended { code: ErrorCode, message: String },
    /// The room went to another node (cluster mode): send `moved` with this URL and close.
    Moved { url: String },
}

/// Someone asking to enter a room.
#[derive(Clone)]
pub struct JoinRequest {
    pub name: String,
    pub media: MediaState,
    pub resume: Option<Resume>,
    /// [`Role::Owner`] when the join carried the room's host key, else [`Role::Guest`].
    pub role: Role,
    pub identity: Identity,
    /// The invite link id the client came through; a link rotated since then lets in only
    /// people who were already inside (a resume) and the owner.
    pub link: String,
    /// A resume that hopes to keep its peer connection: the participant's publications stay
    /// (the others are not renegotiated) unless its task later reports the media lost.
    pub keep_media: bool,
    /// The joiner's key commitment when it encrypts end to end (ADR 0003).
    pub e2ee: Option<String>,
}

/// A participant's place in the room.
pub struct Joined {
    pub participant_id: String,
    pub room: RoomInfo,
    pub role: Role,
    pub others: Vec<Participant>,
    /// People in the lobby (for hosts).
    pub knocks: Vec<Knock>,
    pub events: mpsc::Receiver<ToParticipant>,
    /// Secret for reconnecting as the same participant.
    pub resume_token: String,
    /// This join took over an earlier connection of the same participant.
    pub resumed: bool,
    /// ... and asked to keep that connection's media (the room kept its publications).
    pub keep_media: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    Full,
    /// The room actor was shutting down; try again.
    Retry,
    /// This device or address was removed from the room.
    Banned,
    /// A host turned the knock down.
    Denied,
    /// Denied twice already this session.
    DeniedTwice,
    /// Too many people are waiting.
    LobbyFull,
    /// A host ended the call while the knock waited.
    Ended,
    /// The link the client came through was rotated: it now leads nowhere.
    LinkGone,
    /// The room is end-to-end encrypted and the join did not offer encryption.
    E2eeRequired,
}

/// What the actor answers to a join.
pub(crate) enum JoinReply {
    Admitted(Joined, u64),
    Waiting {
        knock_id: String,
        host_present: watch::Receiver<bool>,
        decision: oneshot::Receiver<Admission>,
    },
}

/// The answer to a knock: a place and its seat number, or why not.
pub(crate) type Admission = Result<(Joined, u64), JoinError>;

pub(crate) enum RoomCmd {
    Join {
        request: JoinRequest,
        reply: oneshot::Sender<Result<JoinReply, JoinError>>,
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
    /// A host action (one of the host variants of [`ClientMessage`]).
    Host {
        id: String,
        seat: u64,
        action: ClientMessage,
    },
    /// A knocker went away.
    CancelKnock {
        knock_id: String,
    },
    /// The participant's media connected (ICE and DTLS are up).
    Connected {
        id: String,
        seat: u64,
    },
    /// A resume that asked to keep its media could not: drop the old publications.
    MediaReset {
        id: String,
        seat: u64,
    },
    /// The participant starts or stops sharing its screen.
    Share {
        id: String,
        seat: u64,
        active: bool,
    },
    /// An end-to-end key message (`e2ee_announce`, `e2ee_keys`) to relay.
    E2ee {
        id: String,
        seat: u64,
        message: ClientMessage,
    },
    /// A reaction, hand or chat message (`crate::social`).
    Social {
        id: String,
        seat: u64,
        message: ClientMessage,
    },
    /// Cluster mode: this node gave the room up. Everyone goes to the node at `base` (its
    /// public base URL) with `moved`.
    Evacuate {
        base: String,
    },
}

#[derive(Clone)]
pub(crate) struct RoomHandle {
    tx: mpsc::UnboundedSender<RoomCmd>,
    count: Arc<AtomicUsize>,
}

/// All live rooms.
#[derive(Clone)]
pub struct Hub {
    rooms: Arc<Mutex<HashMap<String, RoomHandle>>>,
    store: Store,
    presence: Presence,
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

    /// Tells the room this connection's media is up: its seat is in real use (a seat without
    /// media is the first to go when a host needs room).
    pub fn media_connected(&self) {
        let _ = self.tx.send(RoomCmd::Connected {
            id: self.id.clone(),
            seat: self.seat,
        });
    }

    /// A resume asked to keep its media but could not (the old peer connection was gone): the
    /// room drops this participant's old publications, and the new connection publishes anew.
    pub fn media_reset(&self) {
        let _ = self.tx.send(RoomCmd::MediaReset {
            id: self.id.clone(),
            seat: self.seat,
        });
    }

    /// Starts or stops this participant's screen share (the room may refuse: one at a time).
    pub fn share(&self, active: bool) {
        let _ = self.tx.send(RoomCmd::Share {
            id: self.id.clone(),
            seat: self.seat,
            active,
        });
    }

    /// Passes on a reaction, hand or chat message (`crate::social`).
    pub fn social(&self, message: ClientMessage) {
        let _ = self.tx.send(RoomCmd::Social {
            id: self.id.clone(),
            seat: self.seat,
            message,
        });
    }

    /// Passes on an end-to-end key message; the room relays it to the members it names.
    pub fn e2ee(&self, message: ClientMessage) {
        let _ = self.tx.send(RoomCmd::E2ee {
            id: self.id.clone(),
            seat: self.seat,
            message,
        });
    }

    /// Passes on a host action; the room checks the sender's role and answers them.
    pub fn host(&self, action: ClientMessage) {
        let _ = self.tx.send(RoomCmd::Host {
            id: self.id.clone(),
            seat: self.seat,
            action,
        });
    }
}

/// How one join went.
pub enum Entry {
    Joined(Joined, RoomLink),
    /// The room is locked: wait for a host's answer.
    Waiting(Knocking),
}

/// A knock waiting for a host. Dropping it withdraws the knock.
pub struct Knocking {
    pub knock_id: String,
    /// Whether a host is in the room to answer; changes as hosts come and go.
    pub host_present: watch::Receiver<bool>,
    room_id: String,
    decision: oneshot::Receiver<Admission>,
    tx: mpsc::UnboundedSender<RoomCmd>,
    answered: bool,
}

impl Knocking {
    /// Waits for a host's answer.
    pub async fn answer(&mut self) -> Result<(Joined, RoomLink), JoinError> {
        let admission = (&mut self.decision).await;
        self.answered = true;
        let (joined, seat) = admission.unwrap_or(Err(JoinError::Retry))?;
        let link = RoomLink {
            room_id: self.room_id.clone(),
            id: joined.participant_id.clone(),
            seat,
            tx: self.tx.clone(),
        };
        Ok((joined, link))
    }
}

impl Drop for Knocking {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        // Admitted in the very moment the knocker went away: give the seat back.
        if let Ok(Ok((joined, seat))) = self.decision.try_recv() {
            let _ = self.tx.send(RoomCmd::Leave {
                id: joined.participant_id,
                seat,
            });
            return;
        }
        let _ = self.tx.send(RoomCmd::CancelKnock {
            knock_id: self.knock_id.clone(),
        });
    }
}

impl Hub {
    pub fn new(store: Store) -> Self {
        Self {
            rooms: Arc::default(),
            store,
            presence: Presence::new(),
        }
    }

    /// Who is inside each live room, and the door events, for friends' presence.
    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// How many people are in a room now (0 when it has no live actor).
    pub fn participant_count(&self, room_id: &str) -> usize {
        self.lock()
            .get(room_id)
            .map_or(0, |h| h.count.load(Ordering::Relaxed))
    }

    /// Whether the room has a live actor here.
    pub fn is_live(&self, room_id: &str) -> bool {
        self.lock().get(room_id).is_some_and(|h| !h.tx.is_closed())
    }

    /// Cluster mode: sends everyone in the room (and its lobby) to the node at `base`.
    pub fn evacuate(&self, room_id: &str, base: String) {
        if let Some(h) = self.lock().get(room_id) {
            let _ = h.tx.send(RoomCmd::Evacuate { base });
        }
    }

    /// Number of rooms with people in them.
    pub fn live_rooms(&self) -> usize {
        self.lock().len()
    }

    /// People in all rooms together.
    pub fn participants_total(&self) -> usize {
        self.lock()
            .values()
            .map(|h| h.count.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, RoomHandle>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn handle(&self, room: &StoredRoom) -> RoomHandle {
        let mut rooms = self.lock();
        if let Some(h) = rooms.get(&room.id)
            && !h.tx.is_closed()
        {
            return h.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = RoomHandle {
            tx,
            count: Arc::new(AtomicUsize::new(0)),
        };
        rooms.insert(room.id.clone(), handle.clone());
        let actor = RoomActor::new(room, self.clone(), self.store.clone(), handle.count.clone());
        tokio::spawn(actor.run(rx));
        handle
    }

    /// Enters a room (starting its actor if needed), or knocks if it is locked.
    pub async fn join(&self, room: &StoredRoom, request: JoinRequest) -> Result<Entry, JoinError> {
        for _ in 0..8 {
            let handle = self.handle(room);
            let (reply, answer) = oneshot::channel();
            let cmd = RoomCmd::Join {
                request: request.clone(),
                reply,
            };
            if handle.tx.send(cmd).is_err() {
                continue;
            }
            match answer.await {
                Ok(Ok(JoinReply::Admitted(joined, seat))) => {
                    let link = RoomLink {
                        room_id: room.id.clone(),
                        id: joined.participant_id.clone(),
                        seat,
                        tx: handle.tx.clone(),
                    };
                    return Ok(Entry::Joined(joined, link));
                }
                Ok(Ok(JoinReply::Waiting {
                    knock_id,
                    host_present,
                    decision,
                })) => {
                    return Ok(Entry::Waiting(Knocking {
                        knock_id,
                        host_present,
                        room_id: room.id.clone(),
                        decision,
                        tx: handle.tx.clone(),
                        answered: false,
                    }));
                }
                // The actor retired under us: the next round starts a fresh one.
                Ok(Err(JoinError::Retry)) | Err(_) => continue,
                Ok(Err(e)) => return Err(e),
            }
        }
        Err(JoinError::Retry)
    }
}

#[cfg(test)]
mod tests;
