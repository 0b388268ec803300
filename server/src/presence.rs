//! Drop-in presence (issue 11): a room's door, who is inside, and the presence key that lets a
//! friend see both.
//!
//! - The door is stored with the room ([`crate::store::Door`]); who is inside is memory only:
//!   each room actor reports its members here after every command ([`Presence::update_room`]).
//! - A presence key is `HMAC-SHA256(host key, "salon presence v1" ‖ link ‖ generation)`: every
//!   device of the owner gets the same key from the server, the database keeps only its SHA-256,
//!   and a new invite link or a new generation (rotation) gives a new key, which revokes the old.
//! - Every change goes out on one broadcast channel of room keys; each presence connection
//!   ([`socket`]) keeps the set of rooms it watches in its own task's memory and nowhere else.
//!   Nothing here logs, counts or stores which connection watches which room.

pub mod api;
pub mod socket;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use salon_protocol::{Role, RoomPresence};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::sync::broadcast;

use crate::store::{Door, DoorMode};

/// Most presence connections the server holds at once (each costs a task and a little memory
/// per watched room; every change is looked at by every connection).
pub const MAX_CONNECTIONS: usize = 10_000;

/// Changes queued for connections that are slow to look at them; a connection that falls
/// further behind re-reads its rooms from the database.
const EVENT_QUEUE: usize = 4096;

/// Who is inside a live room, as friends may see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Occupants {
    /// Names in order of arrival.
    pub names: Vec<String>,
    pub owner_inside: bool,
}

/// A change to a room's presence. `room` is the room's permanent key, which never leaves the
/// server.
#[derive(Debug, Clone)]
pub enum Event {
    /// Someone came in or left (or changed name).
    Occupants { room: Arc<str> },
    /// The owner set the door.
    Door { room: Arc<str>, door: Door },
    /// The presence key changed (rotation: the new key's hash) or was revoked (a new invite
    /// link: `None`). Watchers holding another key lose the room.
    Key {
        room: Arc<str>,
        key_hash: Option<Vec<u8>>,
    },
}

/// The server's presence state; cheap to clone.
#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

struct Inner {
    occupants: Mutex<HashMap<String, Occupants>>,
    /// Cluster mode: who is inside rooms other nodes own, as their owners last said.
    remote: Mutex<HashMap<String, Occupants>>,
    events: broadcast::Sender<Event>,
    connections: AtomicUsize,
    /// Cluster mode: changes made on this node, for the other nodes (`crate::cluster`).
    hints: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Hint>>>,
}

/// Cluster mode: what changed about a room on this node (the other nodes re-read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintKind {
    Occupants,
    Door,
    Key,
}

/// A change to tell the other nodes of: the room's permanent key and what changed.
pub type Hint = (String, HintKind);

impl Default for Presence {
    fn default() -> Self {
        Self::new()
    }
}

impl Presence {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                occupants: Mutex::default(),
                remote: Mutex::default(),
                events: broadcast::channel(EVENT_QUEUE).0,
                connections: AtomicUsize::new(0),
                hints: Mutex::default(),
            }),
        }
    }

    fn occupants_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Occupants>> {
        self.inner
            .occupants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Called by a room actor after every command with its members; tells the watchers when
    /// what friends see changed. Allocates nothing when nothing changed (most commands: media
    /// switches, publications).
    pub fn update_room<'a, I: Iterator<Item = (&'a str, Role)>>(
        &self,
        room: &str,
        members: impl Fn() -> I,
    ) {
        {
            let map = self.occupants_map();
            let same = match map.get(room) {
                None => members().next().is_none(),
                Some(before) => {
                    before.owner_inside == members().any(|(_, role)| role == Role::Owner)
                        && before.names.len() == members().count()
                        && before.names.iter().zip(members()).all(|(a, (b, _))| a == b)
                }
            };
            if same {
                return;
            }
        }
        let mut now = Occupants::default();
        for (name, role) in members() {
            now.names.push(name.to_owned());
            now.owner_inside |= role == Role::Owner;
        }
        {
            let mut map = self.occupants_map();
            if now.names.is_empty() {
                map.remove(room);
            } else {
                map.insert(room.to_owned(), now);
            }
        }
        self.hint(room, HintKind::Occupants);
        self.send(Event::Occupants { room: room.into() });
    }

    /// Who is inside the room with permanent key `room` (in cluster mode, as its owner said
    /// when the room lives on another node).
    pub fn occupants(&self, room: &str) -> Occupants {
        if let Some(here) = self.occupants_map().get(room) {
            return here.clone();
        }
        self.remote_map().get(room).cloned().unwrap_or_default()
    }

    pub fn door_changed(&self, room: &str, door: Door) {
        self.hint(room, HintKind::Door);
        self.remote_door(room, door);
    }

    pub fn key_changed(&self, room: &str, key_hash: Option<Vec<u8>>) {
        self.hint(room, HintKind::Key);
        self.remote_key(room, key_hash);
    }

    fn remote_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Occupants>> {
        self.inner.remote.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cluster mode: sends this node's changes to `hints` from now on.
    pub fn send_hints(&self, hints: tokio::sync::mpsc::UnboundedSender<Hint>) {
        *self.inner.hints.lock().unwrap_or_else(|p| p.into_inner()) = Some(hints);
    }

    fn hint(&self, room: &str, kind: HintKind) {
        if let Some(hints) = &*self.inner.hints.lock().unwrap_or_else(|p| p.into_inner()) {
            let _ = hints.send((room.to_owned(), kind));
        }
    }

    /// Cluster mode: who is inside a room another node owns, as that node says.
    pub fn remote_occupants(&self, room: &str, occupants: Occupants) {
        {
            let mut remote = self.remote_map();
            if remote.get(room) == Some(&occupants) {
                return;
            }
            if occupants.names.is_empty() && !occupants.owner_inside {
                remote.remove(room);
            } else {
                remote.insert(room.to_owned(), occupants);
            }
        }
        self.send(Event::Occupants { room: room.into() });
    }

    /// A door set (here, or on another node in cluster mode).
    pub fn remote_door(&self, room: &str, door: Door) {
        self.send(Event::Door {
            room: room.into(),
            door,
        });
    }

    /// A presence key changed (here, or on another node in cluster mode).
    pub fn remote_key(&self, room: &str, key_hash: Option<Vec<u8>>) {
        self.send(Event::Key {
            room: room.into(),
            key_hash,
        });
    }

    fn send(&self, event: Event) {
        // No receiver is fine: nobody watches.
        let _ = self.inner.events.send(event);
    }

    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// A place for one more presence connection, or `None` at [`MAX_CONNECTIONS`].
    pub fn connect(&self) -> Option<ConnectionSlot> {
        let taken = self
            .inner
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONNECTIONS).then_some(n + 1)
            });
        taken.ok().map(|_| ConnectionSlot {
            presence: self.clone(),
        })
    }

    /// Presence connections open now.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Acquire)
    }
}

/// One presence connection's place; dropping it frees the place.
pub struct ConnectionSlot {
    presence: Presence,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.presence
            .inner
            .connections
            .fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether the door shows open at `now` (Unix seconds).
pub fn door_open(door: &Door, owner_inside: bool, now: i64) -> bool {
    match door.mode {
        DoorMode::Auto => owner_inside,
        DoorMode::Closed => false,
        DoorMode::Open => match door.until {
            Some(until) if now >= until => owner_inside,
            _ => true,
        },
    }
}

/// What a friend sees of a room: the door, and who is inside while it is open (names only if
/// the owner shows them). Through a closed door nobody is seen.
pub fn view(link: &str, door: &Door, occupants: &Occupants, now: i64) -> RoomPresence {
    let open = door_open(door, occupants.owner_inside, now);
    RoomPresence {
        room: link.to_owned(),
        available: true,
        door_open: open,
        until: door
            .until
            .filter(|u| open && door.mode == DoorMode::Open && *u > now),
        people: if open {
            u32::try_from(occupants.names.len()).unwrap_or(u32::MAX)
        } else {
            0
        },
        names: (open && door.show_names).then(|| occupants.names.clone()),
    }
}

/// When the door of `door` changes by itself after `now`, if it will.
pub fn next_change(door: &Door, now: i64) -> Option<i64> {
    door.until
        .filter(|u| door.mode == DoorMode::Open && *u > now)
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// HMAC-SHA256 (RFC 2104) over SHA-256; the key is used as given up to 64 bytes.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// The presence key of a room: derived from its host key, its current invite link and the key's
/// generation, so the owner's devices all get the same one and the server need not keep it.
pub fn presence_key(host_key: &str, link: &str, epoch: i64) -> String {
    let message = format!("salon presence v1\n{link}\n{epoch}");
    URL_SAFE_NO_PAD.encode(hmac_sha256(host_key.as_bytes(), message.as_bytes()))
}

/// What the database keeps of a presence key.
pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Whether `key` hashes to `stored`, compared in constant time. A room without a stored key
/// (never shared, or revoked by a new link) matches nothing, after the same amount of work.
pub fn key_matches(key: &str, stored: Option<&[u8]>) -> bool {
    let given = hash_key(key);
    match stored {
        Some(stored) => given.ct_eq(stored).into(),
        None => {
            let _ = given.ct_eq(&[0u8; 32][..]);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn presence_keys_change_with_the_link_and_the_generation() {
        let k = presence_key("host", "link", 0);
        assert_eq!(k.len(), salon_protocol::presence::PRESENCE_KEY_LEN);
        salon_protocol::validate_presence_key(&k).expect("valid shape");
        assert_eq!(k, presence_key("host", "link", 0), "deterministic");
        assert_ne!(k, presence_key("host", "link", 1));
        assert_ne!(k, presence_key("host", "other", 0));
        assert_ne!(k, presence_key("other", "link", 0));
        assert!(key_matches(&k, Some(&hash_key(&k))));
        assert!(!key_matches(&k, Some(&hash_key("nope"))));
        assert!(!key_matches(&k, None));
    }

    #[test]
    fn the_door_follows_the_owner_unless_set() {
        let auto = Door::default();
        assert!(!door_open(&auto, false, 0));
        assert!(door_open(&auto, true, 0));
        let closed = Door {
            mode: DoorMode::Closed,
            ..Door::default()
        };
        assert!(
            !door_open(&closed, true, 0),
            "the owner may be inside unseen"
        );
        let open_until = Door {
            mode: DoorMode::Open,
            until: Some(100),
            show_names: false,
        };
        assert!(door_open(&open_until, false, 99));
        assert!(!door_open(&open_until, false, 100), "closes by itself");
        assert!(door_open(&open_until, true, 100), "then follows the owner");
        assert_eq!(next_change(&open_until, 50), Some(100));
        assert_eq!(next_change(&open_until, 100), None);
    }

    #[test]
    fn nobody_is_seen_through_a_closed_door_and_names_only_when_shown() {
        let inside = Occupants {
            names: vec!["Ada".into(), "Bo".into()],
            owner_inside: true,
        };
        let open = Door {
            mode: DoorMode::Open,
            until: None,
            show_names: false,
        };
        let v = view("L", &open, &inside, 0);
        assert!(v.door_open && v.available);
        assert_eq!((v.people, v.names), (2, None));
        let v = view(
            "L",
            &Door {
                show_names: true,
                ..open
            },
            &inside,
            0,
        );
        assert_eq!(
            v.names.as_deref(),
            Some(&["Ada".to_owned(), "Bo".to_owned()][..])
        );
        let closed = Door {
            mode: DoorMode::Closed,
            until: None,
            show_names: true,
        };
        let v = view("L", &closed, &inside, 0);
        assert!(!v.door_open);
        assert_eq!((v.people, v.names), (0, None));
    }

    #[tokio::test]
    async fn members_changes_are_announced_once_and_empty_rooms_forgotten() {
        let presence = Presence::new();
        let mut events = presence.events();
        presence.update_room("r", || [("Ada", Role::Owner)].into_iter());
        presence.update_room("r", || [("Ada", Role::Owner)].into_iter());
        presence.update_room("r", || [("Ada", Role::Guest)].into_iter());
        presence.update_room("r", std::iter::empty);
        presence.update_room("q", std::iter::empty);
        let mut seen = 0;
        while let Ok(Event::Occupants { room }) = events.try_recv() {
            assert_eq!(&*room, "r");
            seen += 1;
        }
        assert_eq!(seen, 3, "in, a role change, out; nothing for no change");
        assert_eq!(presence.occupants("r"), Occupants::default());
    }

    #[test]
    fn connections_are_capped() {
        let presence = Presence::new();
        let slots: Vec<_> = (0..MAX_CONNECTIONS)
            .map(|_| presence.connect().expect("room for it"))
            .collect();
        assert!(presence.connect().is_none());
        drop(slots);
        assert_eq!(presence.connections(), 0);
        assert!(presence.connect().is_some());
    }
}
