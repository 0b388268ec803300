//! Drop-in presence on the client: my door, peeking into a room, and watching my friends'
//! rooms live.
//!
//! A [`PresenceWatch`] opens **one** presence socket per server (`docs/protocol.md`,
//! "Presence") and subscribes, in one batch, to every friend on that server whose card carried
//! a presence key. It reconnects by itself (and subscribes to the same whole batch again) and
//! tells its [`PresenceListener`] the whole list after every change, plus a "door opened" event
//! for the friends marked `notify`, at most once per [`WatchOptions::door_opened_every`] per
//! friend so a flapping door does not spam. What the server can infer while the socket is open,
//! and why we send the whole list every time and no decoys, is in `docs/security.md`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::presence::MAX_PRESENCE_MESSAGE_BYTES;
use salon_protocol::{
    MAX_PRESENCE_ROOMS, PresenceClientMessage, PresenceServerMessage, PresenceSubscription,
    RoomPresence, decode_presence_server, encode,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::CoreError;
use crate::store::{Friend, InviteLink};

/// How the owner sets the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorMode {
    /// Open while I am inside (the default).
    Auto,
    /// Open (until a time, if given; then `Auto` again).
    Open,
    /// Closed, even while I am inside.
    Closed,
}

impl DoorMode {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    pub(crate) fn from_word(word: &str) -> Option<Self> {
        match word {
            "auto" => Some(Self::Auto),
            "open" => Some(Self::Open),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// My door as the server now has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorState {
    pub mode: DoorMode,
    /// When an open door goes back to `Auto` (Unix seconds).
    pub until: Option<i64>,
    /// Friends (and people with the link) see the names of who is inside.
    pub show_names: bool,
    /// Whether it shows open now.
    pub door_open: bool,
    pub people: u32,
}

/// What a look into a room shows before joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peek {
    pub room_id: String,
    pub name: Option<String>,
    pub door_open: bool,
    pub people: u32,
    /// Who is inside, when the door is open and the owner shows names.
    pub names: Option<Vec<String>>,
    pub full: bool,
    pub locked: bool,
}

/// A friend with their room's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendPresence {
    pub friend: Friend,
    /// The server answered for this room with this friend's key. False when the card carries
    /// no presence key, the key was revoked (rotated, or a new invite link), or the server has
    /// not answered yet (`connected` says which).
    pub available: bool,
    /// The presence socket to this friend's server is up.
    pub connected: bool,
    pub door_open: bool,
    pub until: Option<i64>,
    pub people: u32,
    /// When the owner shows names; else `None`.
    pub names: Option<Vec<String>>,
}

impl FriendPresence {
    fn unknown(friend: Friend) -> Self {
        Self {
            friend,
            available: false,
            connected: false,
            door_open: false,
            until: None,
            people: 0,
            names: None,
        }
    }

    fn apply(&mut self, p: &RoomPresence) {
        self.available = p.available;
        self.door_open = p.door_open;
        self.until = p.until;
        self.people = p.people;
        self.names = p.names.clone();
    }
}

/// Told about presence changes. Called from the core's runtime; keep it quick.
pub trait PresenceListener: Send + Sync {
    /// Every friend (in the friend list's order) with what is known now, after every change.
    fn on_presence(&self, friends: Vec<FriendPresence>);
    /// A door of a friend marked `notify` opened (rate-limited per friend).
    fn on_door_opened(&self, friend: FriendPresence);
}

/// Settings of a [`PresenceWatch`].
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// At most one "door opened" per friend this often.
    pub door_opened_every: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            door_opened_every: Duration::from_secs(300),
        }
    }
}

/// How long to wait for a presence socket to open and answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Keep-alive: the server closes a socket that says nothing for 60 s.
const PING_EVERY: Duration = Duration::from_secs(20);
/// Reconnect delays: 1 s doubling up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// `ws(s)://server/api/presence` for a server address (`https://host[/prefix]`).
pub(crate) fn presence_url(server: &str) -> String {
    let server = if let Some(rest) = server.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = server.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        server.to_owned()
    };
    format!("{server}/api/presence")
}

/// Friends with a presence key grouped by server: `server → [(room id, key)]`, at most
/// [`MAX_PRESENCE_ROOMS`] per server (the rest are reported as unavailable).
fn batches(friends: &[Friend]) -> BTreeMap<String, Vec<PresenceSubscription>> {
    let mut by_server: BTreeMap<String, Vec<PresenceSubscription>> = BTreeMap::new();
    for f in friends {
        let (Some(key), Ok(link)) = (&f.presence_key, InviteLink::parse(&f.room_link)) else {
            continue;
        };
        let batch = by_server.entry(link.server).or_default();
        if batch.len() < MAX_PRESENCE_ROOMS && !batch.iter().any(|s| s.room == link.room_id) {
            batch.push(PresenceSubscription {
                room: link.room_id,
                key: key.clone(),
            });
        }
    }
    by_server
}

/// Opens a presence socket and subscribes; returns it with the first answer.
async fn subscribe(
    server: &str,
    rooms: &[PresenceSubscription],
) -> Result<(Socket, Vec<RoomPresence>), CoreError> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_PRESENCE_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_PRESENCE_MESSAGE_BYTES));
    let url = presence_url(server);
    let opened = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), false)
            .await
            .map_err(CoreError::network)?;
        let message = PresenceClientMessage::Subscribe {
            rooms: rooms.to_vec(),
        };
        ws.send(Message::Text(encode(&message).into()))
            .await
            .map_err(CoreError::network)?;
        match next_message(&mut ws).await? {
            Some(PresenceServerMessage::Presence { rooms }) => Ok((ws, rooms)),
            Some(PresenceServerMessage::Error { code, message, .. }) => {
                Err(CoreError::from_code(code, &message))
            }
            Some(PresenceServerMessage::Pong) | None => {
                Err(CoreError::network("the server closed the presence socket"))
            }
        }
    })
    .await;
    opened.map_err(|_| CoreError::network("timed out connecting to the server"))?
}

/// The next message from the server; `None` when the socket closed. Messages that do not
/// decode are skipped (a newer server may say things we do not know).
async fn next_message(ws: &mut Socket) -> Result<Option<PresenceServerMessage>, CoreError> {
    loop {
        match ws.next().await {
            None | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Err(e)) => return Err(CoreError::network(e)),
            Some(Ok(Message::Text(text))) => match decode_presence_server(text.as_str()) {
                Ok(message) => return Ok(Some(message)),
                Err(e) => tracing::warn!(error = %e, "ignored a presence message"),
            },
            Some(Ok(_)) => {}
        }
    }
}

/// One look at every friend's presence: one socket per server, subscribed in one batch, closed
/// after the first answer.
pub(crate) async fn presence_once(friends: Vec<Friend>) -> Vec<FriendPresence> {
    let mut answers: HashMap<(String, String), (bool, RoomPresence)> = HashMap::new();
    let mut tasks = Vec::new();
    for (server, rooms) in batches(&friends) {
        tasks.push(tokio::spawn(async move {
            let answer = subscribe(&server, &rooms).await;
            (server, answer)
        }));
    }
    for task in tasks {
        let Ok((server, answer)) = task.await else {
            continue;
        };
        match answer {
            Ok((mut ws, rooms)) => {
                let _ = ws.close(None).await;
                for r in rooms {
                    answers.insert((server.clone(), r.room.clone()), (true, r));
                }
            }
            Err(e) => tracing::info!(error = %e, "presence unavailable"),
        }
    }
    friends
        .into_iter()
        .map(|f| {
            let mut p = FriendPresence::unknown(f);
            if p.friend.presence_key.is_some()
                && let Ok(link) = InviteLink::parse(&p.friend.room_link)
                && let Some((connected, r)) = answers.get(&(link.server, link.room_id))
            {
                p.connected = *connected;
                p.apply(r);
            }
            p
        })
        .collect()
}

/// What a running watch knows.
struct Shared {
    friends: Vec<FriendPresence>,
    /// When each friend's last "door opened" went out.
    last_opened: HashMap<i64, Instant>,
    options: WatchOptions,
    listener: Arc<dyn PresenceListener>,
}

impl Shared {
    /// Applies one server's answer; tells the listener about the result and opened doors.
    fn update(&mut self, server: &str, connected: bool, rooms: &[RoomPresence]) {
        let mut opened = Vec::new();
        for p in &mut self.friends {
            let Ok(link) = InviteLink::parse(&p.friend.room_link) else {
                continue;
            };
            if link.server != server || p.friend.presence_key.is_none() {
                continue;
            }
            let was_known = p.connected && p.available;
            let was_open = p.door_open;
            p.connected = connected;
            if let Some(r) = rooms.iter().find(|r| r.room == link.room_id) {
                p.apply(r);
            }
            if was_known && !was_open && p.available && p.door_open && p.friend.notify {
                let due = self
                    .last_opened
                    .get(&p.friend.id)
                    .is_none_or(|at| at.elapsed() >= self.options.door_opened_every);
                if due {
                    self.last_opened.insert(p.friend.id, Instant::now());
                    opened.push(p.clone());
                }
            }
        }
        self.listener.on_presence(self.friends.clone());
        for p in opened {
            self.listener.on_door_opened(p);
        }
    }
}

/// A live watch on my friends' rooms. Stops when dropped (or with [`PresenceWatch::stop`]).
pub struct PresenceWatch {
    shared: Arc<Mutex<Shared>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PresenceWatch {
    /// Starts watching `friends` (one socket per server). Must run inside a tokio runtime.
    pub(crate) fn start(
        friends: Vec<Friend>,
        listener: Arc<dyn PresenceListener>,
        options: WatchOptions,
    ) -> Self {
        let batches = batches(&friends);
        let shared = Arc::new(Mutex::new(Shared {
            friends: friends.into_iter().map(FriendPresence::unknown).collect(),
            last_opened: HashMap::new(),
            options,
            listener,
        }));
        let tasks = batches
            .into_iter()
            .map(|(server, rooms)| tokio::spawn(watch_server(server, rooms, shared.clone())))
            .collect();
        Self { shared, tasks }
    }

    /// Every friend with what is known now.
    pub fn current(&self) -> Vec<FriendPresence> {
        lock(&self.shared).friends.clone()
    }

    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for PresenceWatch {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// One server's socket, for as long as the watch runs: subscribe, follow, reconnect.
async fn watch_server(
    server: String,
    rooms: Vec<PresenceSubscription>,
    shared: Arc<Mutex<Shared>>,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        match subscribe(&server, &rooms).await {
            Ok((mut ws, first)) => {
                backoff = Duration::from_secs(1);
                lock(&shared).update(&server, true, &first);
                let mut ping = tokio::time::interval(PING_EVERY);
                ping.tick().await;
                loop {
                    tokio::select! {
                        message = next_message(&mut ws) => match message {
                            Ok(Some(PresenceServerMessage::Presence { rooms })) => {
                                lock(&shared).update(&server, true, &rooms);
                            }
                            Ok(Some(PresenceServerMessage::Pong)) => {}
                            Ok(Some(PresenceServerMessage::Error { code, message, fatal })) => {
                                tracing::info!(?code, %message, "presence error");
                                if fatal {
                                    break;
                                }
                            }
                            Ok(None) | Err(_) => break,
                        },
                        _ = ping.tick() => {
                            let ping = encode(&PresenceClientMessage::Ping);
                            if ws.send(Message::Text(ping.into())).await.is_err() {
                                break;
                            }
                        }
                    }
                }
                lock(&shared).update(&server, false, &[]);
            }
            Err(e) => {
                tracing::info!(error = %e, "presence socket failed; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn friend(id: i64, link: &str, key: Option<&str>, notify: bool) -> Friend {
        Friend {
            id,
            name: format!("F{id}"),
            room_link: link.into(),
            added_at: 0,
            notes: String::new(),
            presence_key: key.map(str::to_owned),
            notify,
        }
    }

    const A: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const B: &str = "BBBBBBBBBBBBBBBBBBBBBB";

    #[test]
    fn friends_are_batched_per_server_and_only_with_a_key() {
        let key = "k".repeat(43);
        let friends = vec![
            friend(1, &format!("https://one.example/r/{A}"), Some(&key), false),
            friend(2, &format!("https://one.example/r/{B}"), Some(&key), false),
            friend(3, &format!("https://two.example/r/{A}"), Some(&key), false),
            friend(4, &format!("https://two.example/r/{B}"), None, false),
        ];
        let b = batches(&friends);
        assert_eq!(b.len(), 2);
        assert_eq!(b["https://one.example"].len(), 2);
        assert_eq!(b["https://two.example"].len(), 1);
        assert_eq!(
            presence_url("https://one.example/prefix"),
            "wss://one.example/prefix/api/presence"
        );
        assert_eq!(
            presence_url("http://127.0.0.1:8080"),
            "ws://127.0.0.1:8080/api/presence"
        );
    }

    #[derive(Default)]
    struct Heard {
        lists: Mutex<usize>,
        opened: Mutex<Vec<i64>>,
    }

    impl PresenceListener for Heard {
        fn on_presence(&self, _friends: Vec<FriendPresence>) {
            *self.lists.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        }
        fn on_door_opened(&self, friend: FriendPresence) {
            self.opened
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(friend.friend.id);
        }
    }

    fn room(id: &str, open: bool) -> RoomPresence {
        RoomPresence {
            door_open: open,
            ..RoomPresence {
                available: true,
                ..RoomPresence::unavailable(id.into())
            }
        }
    }

    #[test]
    fn door_opened_is_told_for_chosen_friends_once_per_interval() {
        let key = "k".repeat(43);
        let server = "https://one.example";
        let heard = Arc::new(Heard::default());
        let mut shared = Shared {
            friends: vec![
                FriendPresence::unknown(friend(1, &format!("{server}/r/{A}"), Some(&key), true)),
                FriendPresence::unknown(friend(2, &format!("{server}/r/{B}"), Some(&key), false)),
            ],
            last_opened: HashMap::new(),
            options: WatchOptions {
                door_opened_every: Duration::from_secs(3600),
            },
            listener: heard.clone(),
        };
        // A door already open at the first answer is not news.
        shared.update(server, true, &[room(A, true), room(B, false)]);
        shared.update(server, true, &[room(A, false), room(B, false)]);
        // Both open: only the friend marked notify is told.
        shared.update(server, true, &[room(A, true), room(B, true)]);
        // Flapping: closed and open again within the interval says nothing more.
        for _ in 0..5 {
            shared.update(server, true, &[room(A, false)]);
            shared.update(server, true, &[room(A, true)]);
        }
        assert_eq!(
            *heard.opened.lock().unwrap_or_else(|p| p.into_inner()),
            vec![1]
        );
        assert_eq!(*heard.lists.lock().unwrap_or_else(|p| p.into_inner()), 13);
        // A short interval lets the next opening through.
        shared.options.door_opened_every = Duration::ZERO;
        shared.update(server, true, &[room(A, false)]);
        shared.update(server, true, &[room(A, true)]);
        assert_eq!(
            *heard.opened.lock().unwrap_or_else(|p| p.into_inner()),
            vec![1, 1]
        );
    }
}
