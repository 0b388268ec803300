//! Rooms kept in SQLite: `<data_dir>/salon.db`, WAL mode, a schema version in `user_version`
//! and one migration step per version. Only room identity lives here (id, name, the hash of the
//! host key, creation time) — no participants, no social graph.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension as _, params};

/// Current schema version. Add a step to [`migrate`] when raising it.
pub const SCHEMA_VERSION: i64 = 1;

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
    #[error("the database task failed: {0}")]
    Task(String),
}

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoom {
    pub id: String,
    pub name: Option<String>,
    pub host_key_hash: Vec<u8>,
    pub created_at: i64,
}

/// Handle to the database; cheap to clone. Calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/salon.db` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let conn = Connection::open(data_dir.join("salon.db"))?;
        Self::from_connection(conn)
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
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means a panic mid-call; SQLite's own transactions keep the file
            // consistent, so the connection is still usable.
            let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&guard).map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    pub async fn insert_room(&self, room: StoredRoom) -> Result<(), StoreError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO rooms (id, name, host_key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![room.id, room.name, room.host_key_hash, room.created_at],
            )
            .map(drop)
        })
        .await
    }

    pub async fn room(&self, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.query_row(
                "SELECT id, name, host_key_hash, created_at FROM rooms WHERE id = ?1",
                params![id],
                |r| {
                    Ok(StoredRoom {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        host_key_hash: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                },
            )
            .optional()
        })
        .await
    }
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
            name: Some("Friday".into()),
            host_key_hash: vec![1, 2, 3],
            created_at: 1_700_000_000,
        }
    }

    #[tokio::test]
    async fn rooms_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.insert_room(room("r1")).await.expect("insert");
        drop(store);
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.room("r1").await.expect("query"), Some(room("r1")));
        assert_eq!(store.room("nope").await.expect("query"), None);
    }

    #[tokio::test]
    async fn duplicate_ids_are_refused() {
        let store = Store::in_memory().expect("open");
        store.insert_room(room("r1")).await.expect("insert");
        assert!(store.insert_room(room("r1")).await.is_err());
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("salon.db")).expect("open");
        conn.pragma_update(None, "user_version", 99).expect("set");
        drop(conn);
        let err = Store::open(dir.path()).err().expect("refused");
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
        assert!(Store::open(dir.path()).is_err());
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
}
