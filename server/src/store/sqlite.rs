//! The single-node backend: rooms kept in SQLite, `<data_dir>/salon.db`, WAL mode, a schema
//! version in `user_version` and one migration step per version.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{
    CHAT_KEPT, CHAT_SHOWN, Door, DoorMode, DumpedChat, RoomDump, StoreError, StoredBan, StoredChat,
    StoredPresence, StoredRoom,
};

/// Current schema version. Add a step to [`upgrade_from`] when raising it.
pub const SCHEMA_VERSION: i64 = 5;

/// Handle to the database; cheap to clone. Async calls run on tokio's blocking pool; the
/// `*_now` calls run on the caller's thread, for the room actors' rare, short writes that must
/// land before the actor goes on.
#[derive(Clone)]
pub(super) struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const ROOM_COLUMNS: &str = "id, link, name, host_key_hash, created_at, locked, e2ee";

fn room_from_row(r: &rusqlite::Row<'_>) -> Result<StoredRoom, rusqlite::Error> {
    Ok(StoredRoom {
        id: r.get(0)?,
        link: r.get(1)?,
        name: r.get(2)?,
        host_key_hash: r.get(3)?,
        created_at: r.get(4)?,
        locked: r.get(5)?,
        e2ee: r.get(6)?,
    })
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/salon.db` and brings its schema up to date.
    /// Refuses a folder or database that cannot be written (a read-only disk or file, a full
    /// disk) with [`StoreError::NotWritable`], rather than starting a server that fails every
    /// room creation.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let not_writable = |cause: String| StoreError::NotWritable {
            path: data_dir.to_owned(),
            cause,
        };
        check_files_writable(data_dir).map_err(not_writable)?;
        let conn = Connection::open(data_dir.join("salon.db"))?;
        let store = Self::from_connection(conn)?;
        store
            .now(probe_write)
            .map_err(|e| not_writable(format!("salon.db: {e}")))?;
        Ok(store)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // journal_mode returns a row; in-memory databases answer "memory".
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.now(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StoreError> {
        // A poisoned lock means a panic mid-call; SQLite's own transactions keep the file
        // consistent, so the connection is still usable.
        let guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard).map_err(StoreError::from)
    }

    pub async fn insert_room(&self, room: StoredRoom) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO rooms (id, link, name, host_key_hash, created_at, locked, e2ee)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    room.id,
                    room.link,
                    room.name,
                    room.host_key_hash,
                    room.created_at,
                    room.locked,
                    room.e2ee
                ],
            )
            .map(drop)
        })
        .await
    }

    /// The room whose current invite link is `/r/<link>`.
    pub async fn room_by_link(&self, link: &str) -> Result<Option<StoredRoom>, StoreError> {
        let link = link.to_owned();
        self.with(move |c| {
            c.query_row(
                &format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE link = ?1"),
                params![link],
                room_from_row,
            )
            .optional()
        })
        .await
    }

    /// The room with permanent key `id`.
    pub fn room_now(&self, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        self.now(|c| {
            c.query_row(
                &format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = ?1"),
                params![id],
                room_from_row,
            )
            .optional()
        })
    }

    pub fn set_locked_now(&self, id: &str, locked: bool) -> Result<(), StoreError> {
        self.now(|c| {
            c.execute(
                "UPDATE rooms SET locked = ?2 WHERE id = ?1",
                params![id, locked],
            )
            .map(drop)
        })
    }

    /// Gives the room a new invite link; the old one stops resolving, and so does the presence
    /// key (it is derived from the link). With `e2ee` the room becomes end-to-end encrypted
    /// (an encrypted room stays so either way).
    pub fn set_link_now(&self, id: &str, link: &str, e2ee: bool) -> Result<(), StoreError> {
        self.now(|c| {
            c.execute(
                "UPDATE rooms SET link = ?2, presence_hash = NULL, e2ee = MAX(e2ee, ?3)
                 WHERE id = ?1",
                params![id, link, e2ee],
            )
            .map(drop)
        })
    }

    /// The presence settings of the room whose current invite link is `/r/<link>`.
    pub async fn presence_by_link(&self, link: &str) -> Result<Option<StoredPresence>, StoreError> {
        let link = link.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT id, link, door, door_until, show_names, presence_epoch, presence_hash
                 FROM rooms WHERE link = ?1",
                params![link],
                presence_from_row,
            )
            .optional()
        })
        .await
    }

    /// The presence settings of the room with permanent key `id`.
    pub async fn presence_of(&self, id: &str) -> Result<Option<StoredPresence>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT id, link, door, door_until, show_names, presence_epoch, presence_hash
                 FROM rooms WHERE id = ?1",
                params![id],
                presence_from_row,
            )
            .optional()
        })
        .await
    }

    /// Sets the door (and whether friends see names) of the room with permanent key `id`.
    pub async fn set_door(&self, id: &str, door: Door) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE rooms SET door = ?2, door_until = ?3, show_names = ?4 WHERE id = ?1",
                params![id, door.mode.code(), door.until, door.show_names],
            )
            .map(drop)
        })
        .await
    }

    /// Stores the hash of the room's current presence key and its generation.
    pub async fn set_presence_key(
        &self,
        id: &str,
        epoch: i64,
        key_hash: Vec<u8>,
    ) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE rooms SET presence_epoch = ?2, presence_hash = ?3 WHERE id = ?1",
                params![id, epoch, key_hash],
            )
            .map(drop)
        })
        .await
    }

    pub fn insert_ban_now(&self, room_id: &str, ban: &StoredBan) -> Result<(), StoreError> {
        self.now(|c| insert_ban(c, room_id, ban))
    }

    /// Lifts a ban; false if there was none with that id in this room.
    pub fn delete_ban_now(&self, room_id: &str, ban_id: &str) -> Result<bool, StoreError> {
        self.now(|c| {
            c.execute(
                "DELETE FROM bans WHERE room_id = ?1 AND id = ?2",
                params![room_id, ban_id],
            )
            .map(|n| n > 0)
        })
    }

    /// A room's bans, oldest first.
    pub fn bans_now(&self, room_id: &str) -> Result<Vec<StoredBan>, StoreError> {
        self.now(|c| bans_of(c, room_id))
    }
}

impl SqliteStore {
    /// Keeps a chat message for `readers` (the salted device keys of the people inside; the
    /// owner reads everything anyway) and gives it the room's next number, which it returns.
    /// The room keeps its newest [`CHAT_KEPT`] messages.
    pub fn insert_chat_now(
        &self,
        room_id: &str,
        mut message: StoredChat,
        readers: &[Vec<u8>],
    ) -> Result<StoredChat, StoreError> {
        self.now(|c| {
            let tx = c.unchecked_transaction()?;
            let seq: i64 = tx.query_row(
                "UPDATE rooms SET chat_seq = chat_seq + 1 WHERE id = ?1 RETURNING chat_seq",
                params![room_id],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO chat (room_id, seq, at, sender, name, sealed, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    room_id,
                    seq,
                    message.at,
                    message.sender,
                    message.name,
                    message.sealed,
                    message.body
                ],
            )?;
            {
                let mut add = tx.prepare_cached(
                    "INSERT OR IGNORE INTO chat_readers (room_id, seq, reader) VALUES (?1, ?2, ?3)",
                )?;
                for reader in readers {
                    add.execute(params![room_id, seq, reader])?;
                }
            }
            tx.execute(
                "DELETE FROM chat WHERE room_id = ?1 AND seq <= ?2",
                params![room_id, seq - CHAT_KEPT as i64],
            )?;
            tx.commit()?;
            message.seq = seq as u64;
            Ok(message)
        })
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
        // `Store::chat_for_now` answers a reader without a device key before this.
        self.now(|c| {
            let row = chat_from_row;
            let mut messages: Vec<StoredChat> = if everything {
                let mut stmt = c.prepare_cached(
                    "SELECT seq, at, sender, name, sealed, body FROM chat
                     WHERE room_id = ?1 ORDER BY seq DESC LIMIT ?2",
                )?;
                stmt.query_map(params![room_id, CHAT_SHOWN as i64], row)?
                    .collect::<Result<_, _>>()?
            } else {
                let mut stmt = c.prepare_cached(
                    "SELECT c.seq, c.at, c.sender, c.name, c.sealed, c.body
                     FROM chat_readers r JOIN chat c ON c.room_id = r.room_id AND c.seq = r.seq
                     WHERE r.room_id = ?1 AND r.reader = ?2 ORDER BY c.seq DESC LIMIT ?3",
                )?;
                stmt.query_map(params![room_id, reader, CHAT_SHOWN as i64], row)?
                    .collect::<Result<_, _>>()?
            };
            messages.reverse();
            Ok(messages)
        })
    }

    /// Deletes a room's chat (its numbering goes on).
    pub fn clear_chat_now(&self, room_id: &str) -> Result<(), StoreError> {
        self.now(|c| {
            c.execute("DELETE FROM chat WHERE room_id = ?1", params![room_id])
                .map(drop)
        })
    }
}

impl SqliteStore {
    pub async fn all_room_ids(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id FROM rooms ORDER BY id")?;
            let ids = stmt.query_map([], |r| r.get(0))?;
            ids.collect()
        })
        .await
    }

    pub async fn dump_room(&self, id: &str) -> Result<Option<RoomDump>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            let Some((room, presence, chat_seq)) = c
                .query_row(
                    &format!(
                        "SELECT {ROOM_COLUMNS}, door, door_until, show_names, presence_epoch,
                                presence_hash, chat_seq
                         FROM rooms WHERE id = ?1"
                    ),
                    params![id],
                    |r| {
                        let room = room_from_row(r)?;
                        let door = Door {
                            mode: DoorMode::from_code(r.get(7)?),
                            until: r.get(8)?,
                            show_names: r.get(9)?,
                        };
                        let presence: (Door, i64, Option<Vec<u8>>) = (door, r.get(10)?, r.get(11)?);
                        Ok((room, presence, r.get::<_, i64>(12)?))
                    },
                )
                .optional()?
            else {
                return Ok(None);
            };
            let bans = bans_of(c, &id)?;
            let mut chat: Vec<DumpedChat> = {
                let mut stmt = c.prepare(
                    "SELECT seq, at, sender, name, sealed, body FROM chat
                     WHERE room_id = ?1 ORDER BY seq",
                )?;
                stmt.query_map(params![id], |r| {
                    Ok(DumpedChat {
                        message: chat_from_row(r)?,
                        readers: Vec::new(),
                    })
                })?
                .collect::<Result<_, _>>()?
            };
            let mut stmt = c.prepare(
                "SELECT seq, reader FROM chat_readers WHERE room_id = ?1 ORDER BY seq, reader",
            )?;
            let readers = stmt.query_map(params![id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
            })?;
            for reader in readers {
                let (seq, reader) = reader?;
                // Messages are sorted by seq; foreign keys keep every reader's message.
                if let Ok(at) = chat.binary_search_by_key(&seq, |m| m.message.seq) {
                    chat[at].readers.push(reader);
                }
            }
            let (door, presence_epoch, presence_hash) = presence;
            Ok(Some(RoomDump {
                room,
                door,
                presence_epoch,
                presence_hash,
                chat_seq: chat_seq as u64,
                bans,
                chat,
            }))
        })
        .await
    }

    pub async fn insert_dump(&self, dump: RoomDump) -> Result<(), StoreError> {
        let refused = self
            .with({
                let (id, link) = (dump.room.id.clone(), dump.room.link.clone());
                move |c| {
                    c.query_row(
                        "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?1 OR link = ?2)",
                        params![id, link],
                        |r| r.get::<_, bool>(0),
                    )
                }
            })
            .await?;
        if refused {
            return Err(StoreError::Refused(format!(
                "a room with id {} or link {} already exists",
                dump.room.id, dump.room.link
            )));
        }
        self.with(move |c| {
            let tx = c.unchecked_transaction()?;
            let RoomDump {
                room,
                door,
                presence_epoch,
                presence_hash,
                chat_seq,
                bans,
                chat,
            } = dump;
            tx.execute(
                "INSERT INTO rooms (id, link, name, host_key_hash, created_at, locked, e2ee,
                                    door, door_until, show_names, presence_epoch, presence_hash,
                                    chat_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    room.id,
                    room.link,
                    room.name,
                    room.host_key_hash,
                    room.created_at,
                    room.locked,
                    room.e2ee,
                    door.mode.code(),
                    door.until,
                    door.show_names,
                    presence_epoch,
                    presence_hash,
                    chat_seq as i64,
                ],
            )?;
            for ban in &bans {
                insert_ban(&tx, &room.id, ban)?;
            }
            for DumpedChat { message, readers } in &chat {
                tx.execute(
                    "INSERT INTO chat (room_id, seq, at, sender, name, sealed, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        room.id,
                        message.seq as i64,
                        message.at,
                        message.sender,
                        message.name,
                        message.sealed,
                        message.body
                    ],
                )?;
                for reader in readers {
                    tx.execute(
                        "INSERT OR IGNORE INTO chat_readers (room_id, seq, reader)
                         VALUES (?1, ?2, ?3)",
                        params![room.id, message.seq as i64, reader],
                    )?;
                }
            }
            tx.commit()
        })
        .await
    }
}

fn chat_from_row(r: &rusqlite::Row<'_>) -> Result<StoredChat, rusqlite::Error> {
    Ok(StoredChat {
        seq: r.get::<_, i64>(0)? as u64,
        at: r.get(1)?,
        sender: r.get(2)?,
        name: r.get(3)?,
        sealed: r.get(4)?,
        body: r.get(5)?,
    })
}

/// A room's bans, oldest first.
fn bans_of(c: &Connection, room_id: &str) -> Result<Vec<StoredBan>, rusqlite::Error> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, device_key, address_key, at FROM bans
         WHERE room_id = ?1 ORDER BY at, rowid",
    )?;
    let rows = stmt.query_map(params![room_id], |r| {
        Ok(StoredBan {
            id: r.get(0)?,
            name: r.get(1)?,
            device_key: r.get(2)?,
            address_key: r.get(3)?,
            at: r.get(4)?,
        })
    })?;
    rows.collect()
}

fn insert_ban(c: &Connection, room_id: &str, ban: &StoredBan) -> Result<(), rusqlite::Error> {
    c.execute(
        "INSERT INTO bans (room_id, id, name, device_key, address_key, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            room_id,
            ban.id,
            ban.name,
            ban.device_key,
            ban.address_key,
            ban.at
        ],
    )
    .map(drop)
}

fn presence_from_row(r: &rusqlite::Row<'_>) -> Result<StoredPresence, rusqlite::Error> {
    Ok(StoredPresence {
        id: r.get(0)?,
        link: r.get(1)?,
        door: Door {
            mode: DoorMode::from_code(r.get(2)?),
            until: r.get(3)?,
            show_names: r.get(4)?,
        },
        epoch: r.get(5)?,
        key_hash: r.get(6)?,
    })
}

/// SQLite quietly opens a file it cannot write read-only, and a database whose schema is up to
/// date needs no write to open, so check with the OS first: create a file in the folder, and
/// open the database files that exist for writing. The error names the OS's reason.
fn check_files_writable(data_dir: &Path) -> Result<(), String> {
    let probe = data_dir.join(".salon-write-check");
    std::fs::write(&probe, b"salon")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot create a file there: {e}"))?;
    for name in ["salon.db", "salon.db-wal", "salon.db-shm"] {
        let path = data_dir.join(name);
        if path.exists() {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| format!("cannot write {name}: {e}"))?;
        }
    }
    Ok(())
}

/// A committed write that changes nothing: fails on a read-only database or a full disk.
fn probe_write(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))
    .inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })
}

/// Brings the schema from whatever version the file has to [`SCHEMA_VERSION`], in one
/// transaction per step so a crash never leaves a half-migrated file.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    loop {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew { found: version });
        }
        let tx = conn.transaction()?;
        upgrade_from(&tx, version)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

fn upgrade_from(tx: &rusqlite::Transaction<'_>, version: i64) -> Result<(), rusqlite::Error> {
    match version {
        0 => tx.execute_batch(
            "CREATE TABLE rooms (
                id            TEXT PRIMARY KEY NOT NULL,
                name          TEXT,
                host_key_hash BLOB NOT NULL,
                created_at    INTEGER NOT NULL
            ) STRICT;",
        ),
        // v2: rotatable invite links, the lock, and bans. Existing rooms keep their id as link.
        1 => tx.execute_batch(
            "ALTER TABLE rooms ADD COLUMN link TEXT;
             UPDATE rooms SET link = id;
             CREATE UNIQUE INDEX rooms_link ON rooms (link);
             ALTER TABLE rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
             CREATE TABLE bans (
                room_id     TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
                id          TEXT NOT NULL,
                name        TEXT NOT NULL,
                device_key  BLOB,
                address_key BLOB,
                at          INTEGER NOT NULL,
                PRIMARY KEY (room_id, id)
             ) STRICT;
             CREATE INDEX bans_device ON bans (room_id, device_key);
             CREATE INDEX bans_address ON bans (room_id, address_key);",
        ),
        // v3: the door (0 auto, 1 open, 2 closed; an optional end time), whether friends see
        // names, and the presence key's generation and hash (drop-in presence, issue 11).
        2 => tx.execute_batch(
            "ALTER TABLE rooms ADD COLUMN door INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE rooms ADD COLUMN door_until INTEGER;
             ALTER TABLE rooms ADD COLUMN show_names INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE rooms ADD COLUMN presence_epoch INTEGER NOT NULL DEFAULT 0;
             ALTER TABLE rooms ADD COLUMN presence_hash BLOB;",
        ),
        // v4: end-to-end encrypted rooms (ADR 0003). Rooms made before stay unencrypted until
        // their owner turns encryption on (a link rotation with `e2ee`).
        3 => tx.execute_batch("ALTER TABLE rooms ADD COLUMN e2ee INTEGER NOT NULL DEFAULT 0;"),
        // v5: chat that stays with the room (issue 14): the messages (text, or ciphertext in an
        // encrypted room), and who may read each one (salted device keys of the people inside
        // when it was sent).
        4 => tx.execute_batch(
            "ALTER TABLE rooms ADD COLUMN chat_seq INTEGER NOT NULL DEFAULT 0;
             CREATE TABLE chat (
                room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
                seq     INTEGER NOT NULL,
                at      INTEGER NOT NULL,
                sender  TEXT NOT NULL,
                name    TEXT NOT NULL,
                sealed  INTEGER NOT NULL,
                body    TEXT NOT NULL,
                PRIMARY KEY (room_id, seq)
             ) STRICT;
             CREATE TABLE chat_readers (
                room_id TEXT NOT NULL,
                seq     INTEGER NOT NULL,
                reader  BLOB NOT NULL,
                PRIMARY KEY (room_id, reader, seq),
                FOREIGN KEY (room_id, seq) REFERENCES chat (room_id, seq) ON DELETE CASCADE
             ) STRICT;
             CREATE INDEX chat_readers_message ON chat_readers (room_id, seq);",
        ),
        // `migrate` never asks for a version at or past SCHEMA_VERSION.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str) -> StoredRoom {
        StoredRoom {
            id: id.into(),
            link: format!("link-{id}"),
            name: Some("Friday".into()),
            host_key_hash: vec![1, 2, 3],
            created_at: 1_700_000_000,
            locked: false,
            e2ee: false,
        }
    }

    #[tokio::test]
    async fn rooms_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        store.insert_room(room("r1")).await.expect("insert");
        drop(store);
        let store = SqliteStore::open(dir.path()).expect("reopen");
        assert_eq!(
            store.room_by_link("link-r1").await.expect("query"),
            Some(room("r1"))
        );
        assert_eq!(store.room_by_link("nope").await.expect("query"), None);
    }

    #[tokio::test]
    async fn duplicate_ids_are_refused() {
        let store = SqliteStore::in_memory().expect("open");
        store.insert_room(room("r1")).await.expect("insert");
        assert!(store.insert_room(room("r1")).await.is_err());
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("salon.db")).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("set");
        drop(conn);
        let err = SqliteStore::open(dir.path()).err().expect("refused");
        assert!(err.to_string().contains("newer Salon"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("salon.db"),
            b"this is not sqlite at all, sorry",
        )
        .expect("write");
        assert!(SqliteStore::open(dir.path()).is_err());
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_written_fails_the_probe_and_writes_say_storage() {
        let dir = tempfile::tempdir().expect("tempdir");
        SqliteStore::open(dir.path())
            .expect("create")
            .insert_room(room("r1"))
            .await
            .expect("insert");
        // What SQLite does with a file it may not write: open it read-only, without a word.
        let conn = Connection::open_with_flags(
            dir.path().join("salon.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open read-only");
        let store = SqliteStore::from_connection(conn).expect("reading needs no write");
        assert!(store.room_by_link("link-r1").await.expect("read").is_some());
        let probe = store.now(probe_write).expect_err("the probe must fail");
        assert!(probe.is_storage_unavailable(), "{probe}");
        let write = store.insert_room(room("r2")).await.expect_err("refused");
        assert!(write.is_storage_unavailable(), "{write}");
        // Other failures are not the disk's.
        let duplicate = SqliteStore::open(dir.path())
            .expect("writable again")
            .insert_room(room("r1"))
            .await
            .expect_err("duplicate");
        assert!(!duplicate.is_storage_unavailable(), "{duplicate}");
    }

    #[test]
    fn an_unwritable_folder_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A file where the folder should be: nothing can be created in it (root included).
        let not_a_folder = dir.path().join("file");
        std::fs::write(&not_a_folder, b"x").expect("write");
        let err = check_files_writable(&not_a_folder).expect_err("refused");
        assert!(err.contains("cannot create a file there"), "{err}");
        let err = StoreError::NotWritable {
            path: not_a_folder.clone(),
            cause: err,
        }
        .to_string();
        assert!(err.contains(&not_a_folder.display().to_string()), "{err}");
        assert!(err.contains("--data-dir"), "{err}");
        check_files_writable(dir.path()).expect("a writable folder passes");
        assert!(
            !dir.path().join(".salon-write-check").exists(),
            "no leftovers"
        );
    }

    #[test]
    fn migrating_from_empty_gives_the_current_schema() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[tokio::test]
    async fn lock_and_link_changes_persist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        store.insert_room(room("r1")).await.expect("insert");
        store.set_locked_now("r1", true).expect("lock");
        store.set_link_now("r1", "fresh", false).expect("rotate");
        drop(store);
        let store = SqliteStore::open(dir.path()).expect("reopen");
        assert_eq!(store.room_by_link("link-r1").await.expect("query"), None);
        let r = store
            .room_by_link("fresh")
            .await
            .expect("query")
            .expect("room");
        assert!(r.locked);
        assert_eq!(r.id, "r1");
        assert_eq!(store.room_now("r1").expect("query"), Some(r));
    }

    #[tokio::test]
    async fn the_door_and_presence_key_persist_and_a_new_link_drops_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path()).expect("open");
        store.insert_room(room("r1")).await.expect("insert");
        let fresh = store
            .presence_by_link("link-r1")
            .await
            .expect("query")
            .expect("room");
        assert_eq!(fresh.door, Door::default());
        assert_eq!((fresh.epoch, fresh.key_hash), (0, None));
        let door = Door {
            mode: DoorMode::Open,
            until: Some(1_900_000_000),
            show_names: true,
        };
        store.set_door("r1", door).await.expect("door");
        store
            .set_presence_key("r1", 3, vec![4; 32])
            .await
            .expect("key");
        drop(store);
        let store = SqliteStore::open(dir.path()).expect("reopen");
        let p = store.presence_of("r1").await.expect("query").expect("room");
        assert_eq!(p.door, door);
        assert_eq!((p.epoch, p.key_hash.as_deref()), (3, Some(&[4u8; 32][..])));
        store.set_link_now("r1", "fresh", false).expect("rotate");
        let p = store
            .presence_by_link("fresh")
            .await
            .expect("query")
            .expect("room");
        assert_eq!(p.key_hash, None, "a new link revokes the presence key");
        assert_eq!(p.door, door, "the door stays");
        assert_eq!(
            store.presence_by_link("link-r1").await.expect("query"),
            None
        );
    }

    /// A database as schema version `version` left it, one upgrade step per transaction.
    fn at_version(version: i64) -> Connection {
        let mut old = Connection::open_in_memory().expect("open");
        for step in 0..version {
            let tx = old.transaction().expect("tx");
            upgrade_from(&tx, step).expect("step");
            tx.pragma_update(None, "user_version", step + 1)
                .expect("version");
            tx.commit().expect("commit");
        }
        old
    }

    #[test]
    fn upgrading_from_v3_keeps_rooms_unencrypted_and_new_rooms_say_so() {
        let mut old = at_version(3);
        old.execute(
            "INSERT INTO rooms (id, link, name, host_key_hash, created_at, locked)
             VALUES ('AAAA', 'BBBB', 'Old', x'01', 7, 0)",
            [],
        )
        .expect("v3 row");
        migrate(&mut old).expect("upgrade");
        let store = SqliteStore {
            conn: Arc::new(Mutex::new(old)),
        };
        let room = store.room_now("AAAA").expect("read").expect("row");
        assert!(
            !room.e2ee,
            "a room made before encryption stays a legacy room"
        );
        // A rotation that asks for encryption turns it on; a later plain one keeps it.
        store.set_link_now("AAAA", "CCCC", true).expect("rotate");
        assert!(store.room_now("AAAA").expect("read").expect("row").e2ee);
        store.set_link_now("AAAA", "DDDD", false).expect("rotate");
        assert!(store.room_now("AAAA").expect("read").expect("row").e2ee);
    }

    #[test]
    fn upgrading_from_v2_keeps_rooms_with_a_default_door() {
        let mut old = at_version(2);
        old.execute(
            "INSERT INTO rooms (id, link, name, host_key_hash, created_at, locked)
             VALUES ('AAAA', 'BBBB', 'Old', x'01', 7, 1)",
            [],
        )
        .expect("v2 row");
        migrate(&mut old).expect("upgrade");
        let row: (i64, Option<i64>, bool, i64, Option<Vec<u8>>, bool) = old
            .query_row(
                "SELECT door, door_until, show_names, presence_epoch, presence_hash, locked
                 FROM rooms WHERE id = 'AAAA'",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .expect("migrated row");
        assert_eq!(row, (0, None, false, 0, None, true));
    }

    #[test]
    fn upgrading_from_v1_keeps_rooms_and_equals_a_fresh_schema() {
        let mut old = at_version(1);
        old.execute(
            "INSERT INTO rooms (id, name, host_key_hash, created_at) VALUES ('AAAA', 'Old', x'01', 7)",
            [],
        )
        .expect("v1 row");
        migrate(&mut old).expect("upgrade");
        let mut fresh = Connection::open_in_memory().expect("open");
        migrate(&mut fresh).expect("fresh");
        let schema = |c: &Connection| -> Vec<(String, String)> {
            let mut stmt = c
                .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .expect("prepare");
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows")
        };
        // ALTER TABLE keeps the original CREATE text plus the added columns, so compare the
        // columns of each table rather than the SQL text.
        let columns = |c: &Connection, table: &str| -> Vec<(String, String, bool)> {
            let mut stmt = c
                .prepare(&format!("PRAGMA table_info({table})"))
                .expect("prepare");
            let mut cols: Vec<(String, String, bool)> = stmt
                .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            cols.sort();
            cols
        };
        let names = |c: &Connection| schema(c).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(names(&old), names(&fresh));
        for table in ["rooms", "bans", "chat", "chat_readers"] {
            assert_eq!(columns(&old, table), columns(&fresh, table), "{table}");
        }
        let (link, locked): (String, bool) = old
            .query_row(
                "SELECT link, locked FROM rooms WHERE id = 'AAAA'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("migrated row");
        assert_eq!((link.as_str(), locked), ("AAAA", false));
    }
}
