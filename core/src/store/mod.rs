//! Local data: the rooms I own and my friend list, in one SQLite file on the device; and the
//! links people paste (invite links, friend cards).
//!
//! The friend list is deliberately local: the server keeps no social graph. A friend is a
//! display name plus their room's invite link, kept in canonical form so the same room cannot be
//! added twice. Time is passed in (`now`, Unix seconds) so everything here is deterministic in
//! tests. `LocalStore` is a plain single-connection handle; callers that share it across
//! threads wrap it in a mutex (the FFI layer does).

pub mod links;
mod schema;

use std::fmt;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, OptionalExtension as _, Row, params};
use salon_protocol::clean_display_name;

pub use links::{FriendCard, InviteLink, LinkError};
pub use schema::VERSION as SCHEMA_VERSION;

/// Longest friend note accepted, in characters.
pub const MAX_NOTES_CHARS: usize = 2000;
/// Longest host key accepted, in bytes (the server issues 43 characters).
pub const MAX_HOST_KEY_BYTES: usize = 256;

/// What can go wrong, as things a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A pasted or stored link was refused; the message says why.
    #[error("{0}")]
    InvalidLink(String),
    /// A display name or room name was refused; the message says why.
    #[error("{0}")]
    InvalidName(String),
    #[error("notes are not valid: {0}")]
    InvalidNotes(String),
    #[error("the room's host key is not valid: {0}")]
    InvalidHostKey(String),
    #[error("this friend's room is already in your friend list")]
    DuplicateFriend,
    #[error("no such room or friend")]
    NotFound,
    #[error(
        "the local database was written by a newer Salon (schema {found}; this version knows \
         {supported}); update Salon to open it"
    )]
    TooNew { found: i64, supported: i64 },
    /// The file is damaged or not a Salon database; moving it aside and starting over helps.
    #[error("the local database is damaged or not a Salon database: {0}")]
    Corrupt(String),
    #[error("local database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    #[error("cannot use the data folder: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Self::Corrupt(e.to_string())
            }
            _ => Self::Sqlite(e),
        }
    }
}

impl From<LinkError> for StoreError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::InvalidName(_) => Self::InvalidName(e.to_string()),
            _ => Self::InvalidLink(e.to_string()),
        }
    }
}

/// A room I created; `host_key` proves to its server that it is mine.
#[derive(Clone, PartialEq, Eq)]
pub struct MyRoom {
    pub id: String,
    /// The canonical invite link.
    pub link: String,
    pub host_key: String,
    pub name: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl fmt::Debug for MyRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The host key is a credential: keep it out of logs.
        f.debug_struct("MyRoom")
            .field("id", &self.id)
            .field("link", &self.link)
            .field("host_key", &"<redacted>")
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Someone in my friend list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Friend {
    pub id: i64,
    pub name: String,
    /// Their room's canonical invite link.
    pub room_link: String,
    /// Unix seconds.
    pub added_at: i64,
    pub notes: String,
    /// The presence key from their card: lets me see their door and who is inside.
    pub presence_key: Option<String>,
    /// Tell me when their door opens.
    pub notify: bool,
}

/// The local database.
pub struct LocalStore {
    conn: Connection,
}

impl LocalStore {
    /// Opens (or creates) the database at `path`, creating missing parent folders, and brings
    /// its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        Self::from_connection(Connection::open(path)?)
    }

    /// A database that lives only as long as this value (tests, previews).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut conn: Connection) -> Result<Self, StoreError> {
        schema::init(&mut conn)?;
        Ok(Self { conn })
    }

    // ---- my rooms ----

    /// Saves a room I created, replacing any saved room with the same id. The link must be an
    /// invite link for that id; it is stored (and returned) in canonical form. A blank name
    /// means an unnamed room.
    pub fn save_my_room(&self, room: &MyRoom) -> Result<MyRoom, StoreError> {
        let link = InviteLink::parse(&room.link)?;
        if link.room_id != room.id {
            return Err(StoreError::InvalidLink(format!(
                "the link is for room {}, not {}",
                link.room_id,
                room.id.chars().take(32).collect::<String>()
            )));
        }
        check_host_key(&room.host_key)?;
        let name = match room.name.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => Some(
                clean_display_name("room name", name)
                    .map_err(|e| StoreError::InvalidName(e.to_string()))?,
            ),
        };
        let saved = MyRoom {
            id: link.room_id.clone(),
            link: link.to_url(),
            host_key: room.host_key.clone(),
            name,
            created_at: room.created_at,
        };
        self.conn.execute(
            "INSERT INTO my_rooms (id, link, host_key, name, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET link = excluded.link, host_key = excluded.host_key,
                 name = excluded.name, created_at = excluded.created_at",
            params![
                saved.id,
                saved.link,
                saved.host_key,
                saved.name,
                saved.created_at
            ],
        )?;
        Ok(saved)
    }

    /// My rooms, newest first.
    pub fn my_rooms(&self) -> Result<Vec<MyRoom>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, link, host_key, name, created_at FROM my_rooms
             ORDER BY created_at DESC, id",
        )?;
        let rooms = stmt
            .query_map([], my_room_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(rooms)
    }

    pub fn my_room(&self, id: &str) -> Result<MyRoom, StoreError> {
        self.conn
            .query_row(
                "SELECT id, link, host_key, name, created_at FROM my_rooms WHERE id = ?1",
                [id],
                my_room_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
    }

    /// Follows a rotated invite link: the room saved as `old_id` now has the id and link of
    /// `new_link` (same server). False if no such room is saved.
    pub fn relink_my_room(&self, old_id: &str, new_link: &str) -> Result<bool, StoreError> {
        let link = InviteLink::parse(new_link)?;
        let Some(old) = self
            .conn
            .query_row("SELECT link FROM my_rooms WHERE id = ?1", [old_id], |r| {
                r.get::<_, String>(0)
            })
            .optional()?
        else {
            return Ok(false);
        };
        if InviteLink::parse(&old).map(|o| o.server).ok().as_deref() != Some(&link.server) {
            return Err(StoreError::InvalidLink(
                "a new link for a room must be on the same server".into(),
            ));
        }
        let changed = self.conn.execute(
            "UPDATE my_rooms SET id = ?2, link = ?3 WHERE id = ?1",
            params![old_id, link.room_id, link.to_url()],
        )?;
        Ok(changed > 0)
    }

    /// Forgets a room I created (the room itself stays on its server). False if it was not
    /// saved.
    pub fn forget_my_room(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM my_rooms WHERE id = ?1", [id])?
            > 0)
    }

    // ---- this device ----

    /// This installation's device id: 16 random bytes, URL-safe base64 (22 characters), made
    /// on first use and kept. Sent with every join so that a host's removal sticks to this
    /// device; it names nothing else and is never shown.
    pub fn device_id(&self) -> Result<String, StoreError> {
        let fresh = new_device_id();
        // A second process racing here keeps whichever id was written first.
        self.conn.execute(
            "INSERT OR IGNORE INTO device (singleton, id) VALUES (1, ?1)",
            [&fresh],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM device WHERE singleton = 1", [], |r| {
                r.get(0)
            })?)
    }

    // ---- friends ----

    /// Adds a friend. The name is cleaned like every display name and the room link stored in
    /// canonical form; a room already in the list gives [`StoreError::DuplicateFriend`].
    pub fn add_friend(
        &self,
        name: &str,
        room_link: &str,
        notes: &str,
        now: i64,
    ) -> Result<Friend, StoreError> {
        let name = clean_name(name)?;
        let room_link = InviteLink::parse(room_link)?.to_url();
        check_notes(notes)?;
        let inserted = self.conn.execute(
            "INSERT INTO friends (name, room_link, added_at, notes) VALUES (?1, ?2, ?3, ?4)",
            params![name, room_link, now, notes],
        );
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(StoreError::DuplicateFriend),
            Err(e) => return Err(e.into()),
        }
        Ok(Friend {
            id: self.conn.last_insert_rowid(),
            name,
            room_link,
            added_at: now,
            notes: notes.to_owned(),
            presence_key: None,
            notify: false,
        })
    }

    /// Adds the friend a pasted friend card describes, with the presence key it carries. A
    /// card for a friend already in the list is [`StoreError::DuplicateFriend`], unless it
    /// brings a presence key they did not have (a new card after the owner rotated it): then
    /// the friend gets the new key.
    pub fn add_friend_from_card(&self, card_link: &str, now: i64) -> Result<Friend, StoreError> {
        let card = FriendCard::parse(card_link)?;
        let link = card.room.to_url();
        if let Some(existing) = self.friend_by_link(&link)? {
            // A card that brings the room's key where we had none (an older card): keep it.
            if card.room.secret.is_some() && existing.room_link != link {
                self.conn.execute(
                    "UPDATE friends SET room_link = ?2 WHERE id = ?1",
                    params![existing.id, link],
                )?;
                let updated = self.friend(existing.id)?;
                return match card.presence {
                    Some(key) if updated.presence_key.as_deref() != Some(key.as_str()) => {
                        self.set_friend_presence_key(existing.id, Some(&key))?;
                        self.friend(existing.id)
                    }
                    _ => Ok(updated),
                };
            }
            return match card.presence {
                Some(key) if existing.presence_key.as_deref() != Some(key.as_str()) => {
                    self.set_friend_presence_key(existing.id, Some(&key))?;
                    self.friend(existing.id)
                }
                _ => Err(StoreError::DuplicateFriend),
            };
        }
        let friend = self.add_friend(&card.name, &link, "", now)?;
        match card.presence {
            Some(key) => {
                self.set_friend_presence_key(friend.id, Some(&key))?;
                self.friend(friend.id)
            }
            None => Ok(friend),
        }
    }

    /// Sets (or with `None`, forgets) the presence key of a friend.
    pub fn set_friend_presence_key(&self, id: i64, key: Option<&str>) -> Result<(), StoreError> {
        if let Some(key) = key {
            salon_protocol::validate_presence_key(key)
                .map_err(|_| StoreError::InvalidLink(LinkError::InvalidPresenceKey.to_string()))?;
        }
        let changed = self.conn.execute(
            "UPDATE friends SET presence_key = ?2 WHERE id = ?1",
            params![id, key],
        )?;
        found(changed)
    }

    /// Whether to tell me when this friend's door opens.
    pub fn set_friend_notify(&self, id: i64, notify: bool) -> Result<(), StoreError> {
        let changed = self.conn.execute(
            "UPDATE friends SET notify = ?2 WHERE id = ?1",
            params![id, notify],
        )?;
        found(changed)
    }

    pub fn rename_friend(&self, id: i64, name: &str) -> Result<(), StoreError> {
        let name = clean_name(name)?;
        let changed = self.conn.execute(
            "UPDATE friends SET name = ?2 WHERE id = ?1",
            params![id, name],
        )?;
        found(changed)
    }

    /// Replaces a friend's notes (at most [`MAX_NOTES_CHARS`] characters; line breaks and tabs
    /// are fine, other control characters are not).
    pub fn set_friend_notes(&self, id: i64, notes: &str) -> Result<(), StoreError> {
        check_notes(notes)?;
        let changed = self.conn.execute(
            "UPDATE friends SET notes = ?2 WHERE id = ?1",
            params![id, notes],
        )?;
        found(changed)
    }

    /// Removes a friend. False if there was no such friend.
    pub fn remove_friend(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM friends WHERE id = ?1", [id])?
            > 0)
    }

    /// All friends, sorted by name (case-insensitive, by Unicode lower case), then by id.
    pub fn friends(&self) -> Result<Vec<Friend>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, room_link, added_at, notes, presence_key, notify FROM friends",
        )?;
        let mut friends: Vec<Friend> = stmt
            .query_map([], friend_from_row)?
            .collect::<Result<_, _>>()?;
        friends.sort_by_cached_key(|f| (f.name.to_lowercase(), f.id));
        Ok(friends)
    }

    pub fn friend(&self, id: i64) -> Result<Friend, StoreError> {
        self.conn
            .query_row(
                "SELECT id, name, room_link, added_at, notes, presence_key, notify FROM friends WHERE id = ?1",
                [id],
                friend_from_row,
            )
            .optional()?
            .ok_or(StoreError::NotFound)
    }

    /// The friend whose room `room_link` points to, in any spelling of the link (for "already
    /// in your list as …" and for matching open rooms to friends).
    /// A link with and without its `#k=` secret names the same room.
    pub fn friend_by_link(&self, room_link: &str) -> Result<Option<Friend>, StoreError> {
        let base = InviteLink::parse(room_link)?.base_url();
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, room_link, added_at, notes, presence_key, notify FROM friends
                 WHERE room_link = ?1 OR substr(room_link, 1, length(?1) + 1) = ?1 || '#'",
                [base],
                friend_from_row,
            )
            .optional()?)
    }
}

fn new_device_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

fn my_room_from_row(row: &Row<'_>) -> rusqlite::Result<MyRoom> {
    Ok(MyRoom {
        id: row.get(0)?,
        link: row.get(1)?,
        host_key: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get(4)?,
    })
}

fn friend_from_row(row: &Row<'_>) -> rusqlite::Result<Friend> {
    Ok(Friend {
        id: row.get(0)?,
        name: row.get(1)?,
        room_link: row.get(2)?,
        added_at: row.get(3)?,
        notes: row.get(4)?,
        presence_key: row.get(5)?,
        notify: row.get(6)?,
    })
}

fn clean_name(name: &str) -> Result<String, StoreError> {
    clean_display_name("name", name).map_err(|e| StoreError::InvalidName(e.to_string()))
}

fn check_notes(notes: &str) -> Result<(), StoreError> {
    let len = notes.chars().count();
    if len > MAX_NOTES_CHARS {
        return Err(StoreError::InvalidNotes(format!(
            "{len} characters; at most {MAX_NOTES_CHARS}"
        )));
    }
    if notes
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(StoreError::InvalidNotes(
            "they contain control characters".into(),
        ));
    }
    Ok(())
}

fn check_host_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidHostKey("it is empty".into()));
    }
    if key.len() > MAX_HOST_KEY_BYTES {
        return Err(StoreError::InvalidHostKey(format!(
            "longer than {MAX_HOST_KEY_BYTES} bytes"
        )));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::InvalidHostKey(
            "it contains spaces or characters outside ASCII".into(),
        ));
    }
    Ok(())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn found(changed: usize) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
