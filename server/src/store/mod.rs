//! What must outlive a room's live actor: its id, current invite link, name, the hash of the host
//! key, creation time, the lock, the bans (salted keys of removed devices and addresses), the
//! door and the hash of the presence key, and the chat kept for the people who were inside — no
//! participants, no social graph, nothing about who asked for a room's presence.
//!
//! One interface, [`Store`], with two backends: SQLite for a single node (`sqlite`, a file in
//! `--data-dir`) and Redis or Valkey for cluster mode (`redis`, `--redis URL`). Every caller
//! uses the same methods: async ones for the HTTP API, synchronous `*_now` ones for the room
//! actors' rare, short writes that must land before the actor goes on.
//!
//! In cluster mode a room's durable writes made by its live actor are *fenced*: the node states
//! the lease it holds for the room ([`Store::hold_lease`]) and each such write first checks, in
//! the same atomic step, that Redis still names that lease; a node that lost it gets
//! [`StoreError::Fenced`] and nothing changes. SQLite has one node, so nothing to fence.

#[cfg(test)]
mod conformance;
mod redis;
mod redis_scripts;
#[cfg(test)]
mod redis_tests;
mod sqlite;

use std::path::{Path, PathBuf};

pub use sqlite::SCHEMA_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "the database was written by a newer Salon (schema {found}, this build knows {SCHEMA_VERSION}); upgrade salon-server"
    )]
    TooNew { found: i64 },
    #[error(
        "cannot save rooms in the data folder {path}: {cause}. Make the folder and its salon.db \
         writable for the user running salon-server and check that its disk has free space, \
         or choose another folder with --data-dir"
    )]
    NotWritable { path: PathBuf, cause: String },
    #[error("the database task failed: {0}")]
    Task(String),
    /// A fenced write by a node whose lease on the room is gone (another node took it over).
    #[error("this node no longer owns the room (its lease was taken over)")]
    Fenced,
    /// Redis is unreachable, did not answer in time, or cannot take writes right now.
    #[error("the room store (Redis) is unavailable: {0}")]
    Unavailable(String),
    /// The `--redis` URL is not one the client can use (the password, if any, is not shown).
    #[error("invalid Redis URL {url}: {cause}")]
    RedisUrl { url: String, cause: String },
    /// Redis answered with an error that is not about reaching it.
    #[error("Redis error: {0}")]
    Redis(String),
    /// A change the store refuses: a room id or link already in use, a ban id used twice, a
    /// room that does not exist.
    #[error("refused: {0}")]
    Refused(String),
    /// Stored data this build cannot read.
    #[error("the store holds data this build cannot read: {0}")]
    Corrupt(String),
    /// Writing an export failed (`crate::transfer`).
    #[error("cannot write the export: {0}")]
    Output(std::io::Error),
}

impl StoreError {
    /// Whether the storage itself is out of service (a disk that is full, read-only or failing,
    /// or Redis unreachable): only the operator can fix that, so clients are told so instead of
    /// "try again".
    pub fn is_storage_unavailable(&self) -> bool {
        use rusqlite::ErrorCode::{
            CannotOpen, DiskFull, PermissionDenied, ReadOnly, SystemIoFailure,
        };
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                ReadOnly | DiskFull | SystemIoFailure | CannotOpen | PermissionDenied
            ),
            Self::NotWritable { .. } | Self::DataDir { .. } | Self::Unavailable(_) => true,
            Self::Sqlite(_)
            | Self::TooNew { .. }
            | Self::Task(_)
            | Self::Fenced
            | Self::RedisUrl { .. }
            | Self::Redis(_)
            | Self::Refused(_)
            | Self::Corrupt(_)
            | Self::Output(_) => false,
        }
    }
}

/// A room as stored. `id` is the room's permanent key and never leaves the server; `link` is
/// the id in its current invite link (`/r/<link>`), which a host can rotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoom {
    pub id: String,
    pub link: String,
    pub name: Option<String>,
    pub host_key_hash: Vec<u8>,
    pub created_at: i64,
    pub locked: bool,
    /// Media is end-to-end encrypted (ADR 0003): joins must offer encryption. Set at creation
    /// or by a link rotation that asks for it; never unset.
    pub e2ee: bool,
}

/// A removal that sticks. The keys are salted per room (see `crate::identity`), so the store
/// cannot tell that the same device was banned from two rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBan {
    pub id: String,
    pub name: String,
    pub device_key: Option<Vec<u8>>,
    pub address_key: Option<Vec<u8>>,
    pub at: i64,
}

/// A chat message as stored: the text of a room without end-to-end encryption, or the
/// ciphertext of an encrypted one (`sealed`), which the server cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChat {
    /// The message's number in its room (from the room's counter: never reused).
    pub seq: u64,
    /// Unix milliseconds.
    pub at: i64,
    /// The sender's participant id and display name at the time.
    pub sender: String,
    pub name: String,
    pub sealed: bool,
    pub body: String,
}

/// Most chat messages a room keeps; the oldest go first.
pub const CHAT_KEPT: usize = 500;

/// Most chat messages shown to someone (re)joining: the newest they may read.
pub const CHAT_SHOWN: usize = 200;

/// How the owner set the door. `Auto`: open while the owner is inside. `Open`: open (until
/// `until`, Unix seconds, if set; after that, `Auto` again). `Closed`: closed, owner inside or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DoorMode {
    #[default]
    Auto,
    Open,
    Closed,
}

impl DoorMode {
    /// The number both backends store.
    fn code(self) -> i64 {
        match self {
            Self::Auto => 0,
            Self::Open => 1,
            Self::Closed => 2,
        }
    }

    fn from_code(value: i64) -> Self {
        match value {
            1 => Self::Open,
            2 => Self::Closed,
            _ => Self::Auto,
        }
    }
}

/// The door as stored with the room, and whether friends see names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Door {
    pub mode: DoorMode,
    pub until: Option<i64>,
    pub show_names: bool,
}

/// A room's presence settings: the door, the presence key's generation and the hash of the
/// current presence key (absent until the owner first asks for it, and after a link rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPresence {
    /// The room's permanent key.
    pub id: String,
    pub link: String,
    pub door: Door,
    pub epoch: i64,
    pub key_hash: Option<Vec<u8>>,
}

/// A chat message with who may read it (salted device keys, sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedChat {
    pub message: StoredChat,
    pub readers: Vec<Vec<u8>>,
}

/// Everything stored about one room, for `crate::transfer` (export and import between
/// backends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDump {
    pub room: StoredRoom,
    pub door: Door,
    pub presence_epoch: i64,
    pub presence_hash: Option<Vec<u8>>,
    /// The room's chat counter: the last number given to a message (cleared ones included).
    pub chat_seq: u64,
    /// Oldest first, as [`Store::bans_now`] lists them.
    pub bans: Vec<StoredBan>,
    /// Oldest first.
    pub chat: Vec<DumpedChat>,
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Redis(self::redis::RedisStore),
}

/// Calls the same method on whichever backend this store has.
macro_rules! dispatch {
    ($self:ident, $b:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $call,
            Backend::Redis($b) => $call,
        }
    };
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/salon.db` and brings its schema up to date.
    /// Refuses a folder or database that cannot be written (a read-only disk or file, a full
    /// disk) with [`StoreError::NotWritable`], rather than starting a server that fails every
    /// room creation.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::SqliteStore::open(data_dir)?),
        })
    }

    /// An in-memory SQLite database, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Sqlite(sqlite::SqliteStore::in_memory()?),
        })
    }

    /// Connects to Redis or Valkey at `url` (`redis://[:password@]host:port[/db]`, `rediss://`,
    /// `unix://`) and checks that it answers. Errors name the URL without its password.
    pub async fn connect_redis(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            backend: Backend::Redis(self::redis::RedisStore::connect(url).await?),
        })
    }

    /// Whether this store is Redis (cluster mode).
    pub fn is_redis(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Checks that the store answers (Redis: a PING within a second; SQLite: always).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Redis(r) => r.ping().await,
        }
    }

    /// From now on this node's fenced writes to `room_id` require Redis's lease on the room to
    /// equal `token` (`{node}:{epoch}`). No-op on SQLite.
    pub fn hold_lease(&self, room_id: &str, token: String) {
        if let Backend::Redis(r) = &self.backend {
            r.hold_lease(room_id, token);
        }
    }

    /// Forgets the lease on `room_id`: fenced writes to it fail from now on. No-op on SQLite.
    pub fn release_lease(&self, room_id: &str) {
        if let Backend::Redis(r) = &self.backend {
            r.release_lease(room_id);
        }
    }

    /// Stores a new room; refused if its id or link is taken.
    pub async fn insert_room(&self, room: StoredRoom) -> Result<(), StoreError> {
        dispatch!(self, b => b.insert_room(room).await)
    }

    /// The room whose current invite link is `/r/<link>`.
    pub async fn room_by_link(&self, link: &str) -> Result<Option<StoredRoom>, StoreError> {
        dispatch!(self, b => b.room_by_link(link).await)
    }

    /// The room with permanent key `id`.
    pub fn room_now(&self, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        dispatch!(self, b => b.room_now(id))
    }

    /// Fenced.
    pub fn set_locked_now(&self, id: &str, locked: bool) -> Result<(), StoreError> {
        dispatch!(self, b => b.set_locked_now(id, locked))
    }

    /// Gives the room a new invite link; the old one stops resolving, and so does the presence
    /// key (it is derived from the link). With `e2ee` the room becomes end-to-end encrypted
    /// (an encrypted room stays so either way). Fenced.
    pub fn set_link_now(&self, id: &str, link: &str, e2ee: bool) -> Result<(), StoreError> {
        dispatch!(self, b => b.set_link_now(id, link, e2ee))
    }

    /// The presence settings of the room whose current invite link is `/r/<link>`.
    pub async fn presence_by_link(&self, link: &str) -> Result<Option<StoredPresence>, StoreError> {
        dispatch!(self, b => b.presence_by_link(link).await)
    }

    /// The presence settings of the room with permanent key `id`.
    pub async fn presence_of(&self, id: &str) -> Result<Option<StoredPresence>, StoreError> {
        dispatch!(self, b => b.presence_of(id).await)
    }

    /// Sets the door (and whether friends see names) of the room with permanent key `id`.
    pub async fn set_door(&self, id: &str, door: Door) -> Result<(), StoreError> {
        dispatch!(self, b => b.set_door(id, door).await)
    }

    /// Stores the hash of the room's current presence key and its generation.
    pub async fn set_presence_key(
        &self,
        id: &str,
        epoch: i64,
        key_hash: Vec<u8>,
    ) -> Result<(), StoreError> {
        dispatch!(self, b => b.set_presence_key(id, epoch, key_hash).await)
    }

    /// Fenced; refused if the room does not exist or already has a ban with this id.
    pub fn insert_ban_now(&self, room_id: &str, ban: &StoredBan) -> Result<(), StoreError> {
        dispatch!(self, b => b.insert_ban_now(room_id, ban))
    }

    /// Lifts a ban; false if there was none with that id in this room. Fenced.
    pub fn delete_ban_now(&self, room_id: &str, ban_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, b => b.delete_ban_now(room_id, ban_id))
    }

    /// A room's bans, oldest first.
    pub fn bans_now(&self, room_id: &str) -> Result<Vec<StoredBan>, StoreError> {
        dispatch!(self, b => b.bans_now(room_id))
    }

    /// Keeps a chat message for `readers` (the salted device keys of the people inside; the
    /// owner reads everything anyway) and gives it the room's next number, which it returns.
    /// The room keeps its newest [`CHAT_KEPT`] messages. Fenced.
    pub fn insert_chat_now(
        &self,
        room_id: &str,
        message: StoredChat,
        readers: &[Vec<u8>],
    ) -> Result<StoredChat, StoreError> {
        dispatch!(self, b => b.insert_chat_now(room_id, message, readers))
    }

    /// The newest [`CHAT_SHOWN`] messages of a room that `reader` may read, oldest first: all
    /// of them with `everything` (the owner), else those kept for that device key; none for
    /// someone without a device key.
    pub fn chat_for_now(
        &self,
        room_id: &str,
        reader: Option<&[u8]>,
        everything: bool,
    ) -> Result<Vec<StoredChat>, StoreError> {
        if !everything && reader.is_none() {
            return Ok(Vec::new());
        }
        dispatch!(self, b => b.chat_for_now(room_id, reader, everything))
    }

    /// Deletes a room's chat (its numbering goes on). Fenced.
    pub fn clear_chat_now(&self, room_id: &str) -> Result<(), StoreError> {
        dispatch!(self, b => b.clear_chat_now(room_id))
    }

    /// Every room's permanent key, sorted.
    pub async fn all_room_ids(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, b => b.all_room_ids().await)
    }

    /// Everything stored about a room (for export).
    pub async fn dump_room(&self, id: &str) -> Result<Option<RoomDump>, StoreError> {
        dispatch!(self, b => b.dump_room(id).await)
    }

    /// Stores a room as [`Store::dump_room`] gave it (for import); refused with
    /// [`StoreError::Refused`] if its id or link is taken, and then nothing is written.
    pub async fn insert_dump(&self, dump: RoomDump) -> Result<(), StoreError> {
        dispatch!(self, b => b.insert_dump(dump).await)
    }

    /// Test only: takes the room's lease in Redis (as the cluster's placement would) and holds
    /// it, so fenced writes go through. No-op on SQLite.
    #[cfg(test)]
    pub(crate) fn claim_for_test(&self, room_id: &str) {
        if let Backend::Redis(r) = &self.backend {
            r.claim_for_test(room_id);
        }
    }
}
