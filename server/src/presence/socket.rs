//! One presence connection: it waits for one `subscribe` (every room at once), answers with
//! the presence of each, and then sends what changes, gathered for 50 ms. The rooms it watches
//! live in this task's memory only: no table, no log line, no metric names them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt as _;
use salon_protocol::{
    ErrorCode, PresenceClientMessage, PresenceServerMessage, PresenceSubscription, RoomPresence,
    decode_presence_client, encode,
};
use tokio::sync::broadcast::error::RecvError;

use super::{ConnectionSlot, Event, hash_key, key_matches, next_change, now_unix, view};
use crate::AppState;
use crate::conn::WRITE_TIMEOUT;
use crate::ratelimit::TokenBucket;
use crate::store::Door;

/// How long a new connection may take to subscribe.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection whose client sent nothing (no `ping`) for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Changes are gathered this long before they go out.
const GATHER: Duration = Duration::from_millis(50);
/// Messages per second a client may send (it needs one `ping` every 20 s), and the burst.
const MESSAGES_PER_SECOND: f64 = 1.0;
const MESSAGES_BURST: f64 = 10.0;

/// A room this connection may see.
struct Watched {
    link: String,
    key_hash: Vec<u8>,
    door: Door,
    last: Option<RoomPresence>,
}

struct Session {
    ws: WebSocket,
    state: AppState,
    bucket: TokenBucket,
    last_heard: Instant,
    dead: bool,
}

impl Session {
    async fn send(&mut self, message: &PresenceServerMessage) -> bool {
        if self.dead {
            return false;
        }
        let frame = Message::Text(encode(message).into());
        let written = tokio::time::timeout(WRITE_TIMEOUT, self.ws.send(frame)).await;
        self.dead = !matches!(written, Ok(Ok(())));
        !self.dead
    }

    async fn error(&mut self, code: ErrorCode, message: &str, fatal: bool) {
        self.send(&PresenceServerMessage::Error {
            code,
            message: message.to_owned(),
            fatal,
        })
        .await;
        if fatal && !self.dead {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, self.ws.close()).await;
            self.dead = true;
        }
    }

    /// One frame from the client: `None` when the socket closed, `Some(None)` when it was
    /// handled here (an error replied, a control frame).
    async fn read(
        &mut self,
        frame: Option<Result<Message, axum::Error>>,
    ) -> Option<Option<PresenceClientMessage>> {
        let text = match frame? {
            Err(_) | Ok(Message::Close(_)) => return None,
            Ok(Message::Ping(_) | Message::Pong(_)) => return Some(None),
            Ok(Message::Text(text)) => Some(text),
            Ok(Message::Binary(_)) => None,
        };
        self.last_heard = Instant::now();
        if !self.bucket.try_take(self.last_heard) {
            self.error(
                ErrorCode::RateLimited,
                "Too many messages; slow down.",
                true,
            )
            .await;
            return None;
        }
        let Some(text) = text else {
            self.error(ErrorCode::BadMessage, "Send JSON text.", false)
                .await;
            return Some(None);
        };
        match decode_presence_client(text.as_str()) {
            Ok(message) => Some(Some(message)),
            Err(e) => {
                self.error(e.code(), &e.to_string(), false).await;
                Some(None)
            }
        }
    }
}

/// Answers a refused connection with one fatal error.
pub async fn refuse(ws: WebSocket, code: ErrorCode, message: &'static str) {
    let mut ws = ws;
    let error = PresenceServerMessage::Error {
        code,
        message: message.to_owned(),
        fatal: true,
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        let _ = ws.send(Message::Text(encode(&error).into())).await;
        let _ = ws.close().await;
    })
    .await;
}

pub async fn run(ws: WebSocket, state: AppState, slot: ConnectionSlot) {
    let _slot = slot;
    let now = Instant::now();
    let mut session = Session {
        ws,
        state,
        bucket: TokenBucket::new(now, MESSAGES_PER_SECOND, MESSAGES_BURST),
        last_heard: now,
        dead: false,
    };
    // Listen before reading the rooms, so no change between the two is missed.
    let mut events = session.state.hub.presence().events();
    let Some(rooms) = wait_for_subscribe(&mut session).await else {
        return;
    };
    let mut watched = HashMap::new();
    let mut answer = Vec::with_capacity(rooms.len());
    let mut seen = HashSet::new();
    for sub in rooms {
        if !seen.insert(sub.room.clone()) {
            continue;
        }
        match resolve(&session.state, &sub).await {
            Ok(Some((room, mut w))) => {
                let p = current(&session.state, &room, &w);
                w.last = Some(p.clone());
                answer.push(p);
                watched.insert(room, w);
            }
            Ok(None) => answer.push(RoomPresence::unavailable(sub.room)),
            Err(()) => {
                session
                    .error(
                        ErrorCode::Internal,
                        "The server cannot read its rooms right now; try again later.",
                        true,
                    )
                    .await;
                return;
            }
        }
    }
    if !session
        .send(&PresenceServerMessage::Presence { rooms: answer })
        .await
    {
        return;
    }
    serve(&mut session, &mut events, watched).await;
}

async fn wait_for_subscribe(session: &mut Session) -> Option<Vec<PresenceSubscription>> {
    let deadline = tokio::time::Instant::now() + SUBSCRIBE_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, session.ws.recv())
            .await
            .ok()?;
        match session.read(frame).await? {
            Some(PresenceClientMessage::Subscribe { rooms }) => return Some(rooms),
            Some(PresenceClientMessage::Ping) => {
                session.send(&PresenceServerMessage::Pong).await;
            }
            None => {}
        }
        if session.dead {
            return None;
        }
    }
}

/// The room a subscription names, if its key opens it; `Err` when the database failed.
async fn resolve(
    state: &AppState,
    sub: &PresenceSubscription,
) -> Result<Option<(Arc<str>, Watched)>, ()> {
    let stored = state
        .store
        .presence_by_link(&sub.room)
        .await
        .map_err(drop)?;
    let Some(stored) = stored else {
        // Same work as for a room that exists, so timing tells little.
        let _ = key_matches(&sub.key, None);
        return Ok(None);
    };
    if !key_matches(&sub.key, stored.key_hash.as_deref()) {
        return Ok(None);
    }
    // Cluster mode: who is inside a room another node owns is that node's to say.
    if let Some(cluster) = &state.cluster {
        cluster.fetch_occupants(&stored.id).await;
    }
    Ok(Some((
        stored.id.as_str().into(),
        Watched {
            link: stored.link,
            key_hash: hash_key(&sub.key),
            door: stored.door,
            last: None,
        },
    )))
}

fn current(state: &AppState, room: &str, w: &Watched) -> RoomPresence {
    view(
        &w.link,
        &w.door,
        &state.hub.presence().occupants(room),
        now_unix(),
    )
}

/// Re-reads every watched room from the database (after missing events): rooms whose link or
/// key changed are lost. `Err` when the database failed.
async fn reload(
    state: &AppState,
    watched: &mut HashMap<Arc<str>, Watched>,
    lost: &mut Vec<RoomPresence>,
) -> Result<(), ()> {
    let rooms: Vec<Arc<str>> = watched.keys().cloned().collect();
    for room in rooms {
        let stored = state.store.presence_of(&room).await.map_err(drop)?;
        let keep = match (&stored, watched.get_mut(&room)) {
            (Some(s), Some(w)) if s.link == w.link && s.key_hash.as_ref() == Some(&w.key_hash) => {
                w.door = s.door;
                true
            }
            _ => false,
        };
        if !keep && let Some(w) = watched.remove(&room) {
            lost.push(RoomPresence::unavailable(w.link));
        }
    }
    Ok(())
}

async fn serve(
    session: &mut Session,
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    mut watched: HashMap<Arc<str>, Watched>,
) {
    let mut dirty: HashSet<Arc<str>> = HashSet::new();
    let mut lost: Vec<RoomPresence> = Vec::new();
    let mut flush_at: Option<Instant> = None;
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if session.dead {
            return;
        }
        let now_s = now_unix();
        let door_at = watched
            .values()
            .filter_map(|w| next_change(&w.door, now_s))
            .min()
            .map(|at| {
                let secs = u64::try_from(at.saturating_sub(now_s)).unwrap_or(0);
                Instant::now() + Duration::from_secs(secs)
            });
        tokio::select! {
            frame = session.ws.recv() => {
                match session.read(frame).await {
                    None => return,
                    Some(Some(PresenceClientMessage::Ping)) => {
                        session.send(&PresenceServerMessage::Pong).await;
                    }
                    Some(Some(PresenceClientMessage::Subscribe { .. })) => {
                        session.error(
                            ErrorCode::AlreadyJoined,
                            "This connection is subscribed already; open a new one to watch other rooms.",
                            false,
                        ).await;
                    }
                    Some(None) => {}
                }
            }
            event = events.recv() => {
                match event {
                    Ok(Event::Occupants { room }) => {
                        if watched.contains_key(&room) {
                            dirty.insert(room);
                        }
                    }
                    Ok(Event::Door { room, door }) => {
                        if let Some(w) = watched.get_mut(&room) {
                            w.door = door;
                            dirty.insert(room);
                        }
                    }
                    Ok(Event::Key { room, key_hash }) => {
                        let revoked = watched
                            .get(&room)
                            .is_some_and(|w| key_hash.as_ref() != Some(&w.key_hash));
                        if revoked && let Some(w) = watched.remove(&room) {
                            dirty.remove(&room);
                            lost.push(RoomPresence::unavailable(w.link));
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        if reload(&session.state, &mut watched, &mut lost).await.is_err() {
                            session.error(ErrorCode::Internal, "The server cannot read its rooms right now; reconnect later.", true).await;
                            return;
                        }
                        dirty.extend(watched.keys().cloned());
                    }
                    Err(RecvError::Closed) => return,
                }
                if (!dirty.is_empty() || !lost.is_empty()) && flush_at.is_none() {
                    flush_at = Some(Instant::now() + GATHER);
                }
            }
            () = crate::sleep_until(flush_at) => {
                flush_at = None;
                let mut changed = std::mem::take(&mut lost);
                for room in dirty.drain() {
                    if let Some(w) = watched.get_mut(&room) {
                        let now = current(&session.state, &room, w);
                        if w.last.as_ref() != Some(&now) {
                            w.last = Some(now.clone());
                            changed.push(now);
                        }
                    }
                }
                if !changed.is_empty() {
                    session.send(&PresenceServerMessage::Presence { rooms: changed }).await;
                }
            }
            () = crate::sleep_until(door_at) => {
                let now = now_unix();
                for (room, w) in &watched {
                    if w.door.until.is_some_and(|u| u <= now) {
                        dirty.insert(room.clone());
                    }
                }
                flush_at.get_or_insert(Instant::now());
            }
            _ = ping.tick() => {
                if session.last_heard.elapsed() > IDLE_TIMEOUT {
                    session.error(ErrorCode::BadMessage, "Nothing heard for 60 s: send a ping every 20 s.", true).await;
                    return;
                }
                if !session.dead {
                    let written = tokio::time::timeout(WRITE_TIMEOUT, session.ws.send(Message::Ping(Default::default()))).await;
                    session.dead = !matches!(written, Ok(Ok(())));
                }
            }
        }
    }
}
