use super::*;

const ID1: &str = "AAAAAAAAAAAAAAAAAAAAAA";
const ID2: &str = "BBBBBBBBBBBBBBBBBBBBBB";

/// A database at `version`, built through the same steps real files went through.
fn database_at(version: i64) -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    for from in 0..version {
        let tx = conn.transaction().unwrap();
        upgrade_from(&tx, from).unwrap();
        tx.pragma_update(None, "user_version", from + 1).unwrap();
        tx.commit().unwrap();
    }
    conn
}

fn fresh() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    init(&mut conn).unwrap();
    conn
}

/// Collapses whitespace and drops it next to punctuation, so that SQL SQLite rewrote (an added
/// column is spliced into the stored CREATE text) compares equal to SQL written by hand.
fn normalize(sql: &str) -> String {
    let collapsed = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    let chars: Vec<char> = collapsed.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_is_punct = chars.get(i + 1).is_some_and(|n| "(),".contains(*n));
        let prev_is_punct = i > 0 && "(),".contains(chars[i - 1]);
        if c == ' ' && (next_is_punct || prev_is_punct) {
            continue;
        }
        out.push(c);
    }
    out
}

/// Everything that makes up the schema: stored SQL of every object and every table's columns.
fn describe(conn: &Connection) -> Vec<String> {
    let mut out: Vec<String> = conn
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| {
            let sql: Option<String> = r.get(3)?;
            Ok(format!(
                "{} {} on {}: {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                normalize(sql.as_deref().unwrap_or("")),
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let columns = conn
            .prepare(
                "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)",
            )
            .unwrap()
            .query_map([&table], |r| {
                Ok(format!(
                    "{table}.{} #{} {} notnull={} default={:?} pk={}",
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        out.extend(columns);
    }
    out
}

#[test]
fn normalize_ignores_layout_only() {
    assert_eq!(
        normalize("CREATE TABLE t (\n  a INT\n, b  TEXT )"),
        "CREATE TABLE t(a INT,b TEXT)"
    );
    assert_ne!(normalize("a TEXT"), normalize("a INT"));
}

#[test]
fn a_fresh_database_is_at_the_current_version() {
    let conn = fresh();
    assert_eq!(user_version(&conn).unwrap(), VERSION);
    let schema = describe(&conn);
    assert!(
        schema
            .iter()
            .any(|l| l.starts_with("friends.notes #4 TEXT notnull=1")),
        "{schema:#?}"
    );
    assert!(
        schema
            .iter()
            .any(|l| l.starts_with("index friends_room_link")),
        "{schema:#?}"
    );
    assert!(
        schema
            .iter()
            .any(|l| l.starts_with("device.id #1 TEXT notnull=1")),
        "{schema:#?}"
    );
}

#[test]
fn every_upgrade_path_ends_at_the_fresh_schema() {
    let expected = describe(&fresh());
    for start in 0..VERSION {
        let mut conn = database_at(start);
        init(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), VERSION, "from v{start}");
        assert_eq!(describe(&conn), expected, "migrated from v{start}");
    }
    // And v0 → current purely through upgrade steps equals `create`.
    assert_eq!(describe(&database_at(VERSION)), expected);
}

#[test]
fn version_1_data_survives_the_upgrade() {
    let mut conn = database_at(1);
    conn.execute_batch(&format!(
        "INSERT INTO my_rooms VALUES ('{ID1}', 'https://salon.example.org/r/{ID1}', 'key', 'Fri', 5);
         INSERT INTO friends (name, room_link, added_at) VALUES
           ('Ann',     'https://Salon.Example.org/r/{ID2}/', 100),
           ('Ann two', 'https://salon.example.org/r/{ID2}',  200),
           ('Ann old', 'https://salon.example.org:443/r/{ID2}', 50),
           ('Bob',     'http://127.0.0.1:8080/r/{ID1}', 300),
           ('Broken',  'not a link', 400),
           ('Broken2', 'not a link', 400);"
    ))
    .unwrap();
    init(&mut conn).unwrap();

    let room: (String, String, Option<String>, i64) = conn
        .query_row(
            "SELECT id, host_key, name, created_at FROM my_rooms",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(room, (ID1.into(), "key".into(), Some("Fri".into()), 5));

    let friends: Vec<(String, String, i64, String)> = conn
        .prepare("SELECT name, room_link, added_at, notes FROM friends ORDER BY added_at")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        friends,
        vec![
            (
                "Ann old".into(),
                format!("https://salon.example.org/r/{ID2}"),
                50,
                String::new()
            ),
            (
                "Bob".into(),
                format!("http://127.0.0.1:8080/r/{ID1}"),
                300,
                String::new()
            ),
            ("Broken".into(), "not a link".into(), 400, String::new()),
        ]
    );
}

#[test]
fn version_2_data_survives_the_upgrade_and_gets_no_device_id_yet() {
    let mut conn = database_at(2);
    conn.execute_batch(&format!(
        "INSERT INTO my_rooms VALUES ('{ID1}', 'https://salon.example.org/r/{ID1}', 'key', NULL, 5);
         INSERT INTO friends (name, room_link, added_at, notes)
           VALUES ('Ann', 'https://salon.example.org/r/{ID2}', 100, 'hi');"
    ))
    .unwrap();
    init(&mut conn).unwrap();
    let rooms: i64 = conn
        .query_row("SELECT count(*) FROM my_rooms", [], |r| r.get(0))
        .unwrap();
    let notes: String = conn
        .query_row("SELECT notes FROM friends", [], |r| r.get(0))
        .unwrap();
    let devices: i64 = conn
        .query_row("SELECT count(*) FROM device", [], |r| r.get(0))
        .unwrap();
    assert_eq!((rooms, notes.as_str(), devices), (1, "hi", 0));
}

#[test]
fn there_is_at_most_one_device_row() {
    let conn = fresh();
    conn.execute("INSERT INTO device (singleton, id) VALUES (1, 'a')", [])
        .unwrap();
    assert!(
        conn.execute("INSERT INTO device (singleton, id) VALUES (2, 'b')", [])
            .is_err()
    );
}

#[test]
fn a_database_from_a_newer_salon_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("salon.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", VERSION + 1)
        .unwrap();
    drop(conn);
    let before = std::fs::read(&path).unwrap();

    let mut conn = Connection::open(&path).unwrap();
    let err = init(&mut conn).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, supported } if found == VERSION + 1 && supported == VERSION),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer Salon"), "{err}");
    drop(conn);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_file_that_is_not_sqlite_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("salon.db");
    std::fs::write(
        &path,
        b"definitely not a database, just some bytes. ".repeat(100),
    )
    .unwrap();
    let mut conn = Connection::open(&path).unwrap();
    let err = init(&mut conn).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[test]
fn a_failed_step_leaves_the_old_version() {
    // A v1 file the v2 step cannot apply to (someone already added a `notes` column): the step
    // fails after its dedupe DELETE ran, and the whole step must roll back.
    let mut conn = database_at(1);
    conn.execute_batch(
        "INSERT INTO friends (name, room_link, added_at) VALUES ('Ann', 'x', 1), ('Ann', 'x', 2);
         ALTER TABLE friends ADD COLUMN notes TEXT;",
    )
    .unwrap();
    assert!(init(&mut conn).is_err());
    assert_eq!(user_version(&conn).unwrap(), 1);
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM friends", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2);
}

#[test]
fn unknown_or_negative_versions_do_not_panic() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.pragma_update(None, "user_version", -3).unwrap();
    assert!(init(&mut conn).is_err());
}
