//! The local database's schema: [`VERSION`], how a fresh database is made ([`create`]), and how
//! an older one is brought up to date ([`upgrade_from`], one step per version).
//!
//! The version lives in SQLite's `user_version`. [`init`] runs each step in its own transaction
//! that also bumps `user_version`, so a crash or a full disk leaves the file at the old version
//! or the new one, never in between. A file from a newer Salon is refused untouched.
//!
//! History:
//! - v1: `my_rooms(id, link, host_key, name, created_at)`, `friends(id, name, room_link,
//!   added_at)`.
//! - v2: `friends.notes`; one friend per room link (`friends_room_link` unique index). Existing
//!   links are rewritten to their canonical form and duplicates dropped, keeping the oldest.
//! - v3: `device(singleton, id)`: this installation's random device id, sent with every join so
//!   that a host's removal sticks to this device. Made on first use, not by the migration.
//! - v4: `friends.presence_key` (from the friend's card: lets this device see their door and
//!   who is inside) and `friends.notify` (tell me when their door opens).
//!
//! Raising the version: bump [`VERSION`], change [`create`] to make the new schema directly, add
//! the `VERSION - 1` arm to [`upgrade_from`], and let the `migrated_equals_fresh` test prove the
//! two agree.

use rusqlite::{Connection, Transaction, params};

use super::StoreError;
use super::links::InviteLink;

/// The schema version this build reads and writes.
pub const VERSION: i64 = 4;

/// Busy timeout for a second connection (another process, a share extension) holding a lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sets the connection up (busy timeout, WAL, foreign keys) and brings the schema to
/// [`VERSION`].
pub fn init(conn: &mut Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Reading the version first also proves the file is a database before anything is written.
    let found = user_version(conn)?;
    if found > VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: VERSION,
        });
    }
    // journal_mode answers with a row; an in-memory database stays "memory".
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    // FULL: a friend added just before the battery dies is still there afterwards. Writes are
    // rare and tiny, so the extra fsync costs nothing noticeable.
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;

    if found == 0 {
        let tx = conn.transaction()?;
        create(&tx)?;
        tx.pragma_update(None, "user_version", VERSION)?;
        tx.commit()?;
        return Ok(());
    }
    let mut version = found;
    while version < VERSION {
        let tx = conn.transaction()?;
        upgrade_from(&tx, version)?;
        version += 1;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn user_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Makes the current schema in an empty database.
pub fn create(tx: &Transaction<'_>) -> Result<(), StoreError> {
    // Keep `friends.notes` last and written exactly as v2 adds it: SQLite splices an added
    // column's text into the stored CREATE statement, and the migration test compares both.
    tx.execute_batch(
        "CREATE TABLE my_rooms (
            id         TEXT PRIMARY KEY NOT NULL,
            link       TEXT NOT NULL,
            host_key   TEXT NOT NULL,
            name       TEXT,
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE friends (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            name       TEXT NOT NULL,
            room_link  TEXT NOT NULL,
            added_at   INTEGER NOT NULL,
            notes TEXT NOT NULL DEFAULT '',
            presence_key TEXT,
            notify INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE UNIQUE INDEX friends_room_link ON friends (room_link);
        CREATE TABLE device (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            id        TEXT NOT NULL
        ) STRICT;",
    )?;
    Ok(())
}

/// Upgrades the schema from `version` to `version + 1`. Version 0 is an empty file; upgrading
/// from it makes v1, so a test can build every old version through this one function.
pub fn upgrade_from(tx: &Transaction<'_>, version: i64) -> Result<(), StoreError> {
    match version {
        0 => tx.execute_batch(
            "CREATE TABLE my_rooms (
                id         TEXT PRIMARY KEY NOT NULL,
                link       TEXT NOT NULL,
                host_key   TEXT NOT NULL,
                name       TEXT,
                created_at INTEGER NOT NULL
            ) STRICT;
            CREATE TABLE friends (
                id         INTEGER PRIMARY KEY AUTOINCREMENT,
                name       TEXT NOT NULL,
                room_link  TEXT NOT NULL,
                added_at   INTEGER NOT NULL
            ) STRICT;",
        )?,
        1 => {
            canonicalize_friend_links(tx)?;
            tx.execute_batch(
                "DELETE FROM friends WHERE EXISTS (
                    SELECT 1 FROM friends AS older
                    WHERE older.room_link = friends.room_link
                      AND (older.added_at < friends.added_at
                           OR (older.added_at = friends.added_at AND older.id < friends.id))
                );
                ALTER TABLE friends ADD COLUMN notes TEXT NOT NULL DEFAULT '';
                CREATE UNIQUE INDEX friends_room_link ON friends (room_link);",
            )?;
        }
        2 => tx.execute_batch(
            "CREATE TABLE device (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                id        TEXT NOT NULL
            ) STRICT;",
        )?,
        3 => tx.execute_batch(
            "ALTER TABLE friends ADD COLUMN presence_key TEXT;
             ALTER TABLE friends ADD COLUMN notify INTEGER NOT NULL DEFAULT 0;",
        )?,
        _ => {
            return Err(StoreError::Corrupt(format!(
                "no upgrade from schema version {version}"
            )));
        }
    }
    Ok(())
}

/// v1 stored links as given; v2 compares canonical ones. Links that no longer parse are left as
/// they are (the user can still see and remove them).
fn canonicalize_friend_links(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, room_link FROM friends")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = tx.prepare("UPDATE friends SET room_link = ?2 WHERE id = ?1")?;
    for (id, link) in rows {
        if let Ok(parsed) = InviteLink::parse(&link) {
            let canonical = parsed.to_url();
            if canonical != link {
                update.execute(params![id, canonical])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
