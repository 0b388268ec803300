//! The Redis backend against a real `redis-server` (Debian's package; `.ci/run` installs it),
//! started per test on a free loopback port, without persistence, in a temporary folder.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::conformance::{self, message, room};
use super::*;

const REDIS_SERVER: &str = "redis-server";

/// A `redis-server` of our own; killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_on(free_port(), dir)
    }

    fn start_on(port: u16, dir: tempfile::TempDir) -> Self {
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {REDIS_SERVER} ({e}): these tests need a real Redis; \
                     install it with `apt-get install redis-server`"
                )
            });
        let server = Self {
            child,
            port,
            _dir: dir,
        };
        server.wait_until_it_answers();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = ::redis::Client::open(self.url()).expect("url");
        loop {
            let answered = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut c| ::redis::cmd("PING").query::<String>(&mut c));
            if answered.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer: {answered:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and gives back its folder (to start another on the same port).
    fn stop(mut self) -> (u16, tempfile::TempDir) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("tempdir"));
        (self.port, dir)
    }

    /// A plain connection, to look at keys behind the store's back.
    fn raw(&self) -> ::redis::Connection {
        ::redis::Client::open(self.url())
            .expect("url")
            .get_connection_with_timeout(Duration::from_secs(1))
            .expect("connect")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn started() -> (RedisServer, Store) {
    let server = RedisServer::start();
    let store = Store::connect_redis(&server.url()).await.expect("connect");
    assert!(store.is_redis());
    (server, store)
}

#[tokio::test]
async fn rooms_and_links() {
    let (_server, store) = started().await;
    conformance::rooms_and_links(&store).await;
}

#[tokio::test]
async fn rotation_and_lock() {
    let (server, store) = started().await;
    conformance::rotation_and_lock(&store).await;
    // Only the current link is left.
    let links: Vec<String> = ::redis::cmd("KEYS")
        .arg("salon:link:*")
        .query(&mut server.raw())
        .expect("keys");
    let mut links = links;
    links.sort();
    assert_eq!(links, ["salon:link:freshest", "salon:link:link-r2"]);
}

#[tokio::test]
async fn door_and_presence_key() {
    let (_server, store) = started().await;
    conformance::door_and_presence_key(&store).await;
}

#[tokio::test]
async fn bans() {
    let (_server, store) = started().await;
    conformance::bans(&store).await;
}

#[tokio::test]
async fn chat() {
    let (server, store) = started().await;
    conformance::chat(&store).await;
    // Readers of dropped and cleared messages are gone from Redis too.
    let sets: Vec<String> = ::redis::cmd("KEYS")
        .arg("salon:chatreaders:*")
        .query(&mut server.raw())
        .expect("keys");
    assert_eq!(
        sets.len(),
        CHAT_KEPT,
        "one readers set per kept message of R2"
    );
    assert!(sets.iter().all(|k| k.starts_with("salon:chatreaders:R2:")));
}

#[tokio::test]
async fn dumps() {
    let (_server, store) = started().await;
    conformance::dumps(&store).await;
}

#[tokio::test]
async fn a_write_with_a_stale_lease_fails_and_changes_nothing() {
    let (server, store) = started().await;
    store.insert_room(room("r1")).await.expect("insert");
    let lease = "salon:lease:r1";
    let mut raw = server.raw();
    let set = |raw: &mut ::redis::Connection, value: &str| {
        ::redis::cmd("SET")
            .arg(lease)
            .arg(value)
            .query::<()>(raw)
            .expect("set lease");
    };
    // No lease held by this node: fenced.
    set(&mut raw, "a:1");
    assert!(matches!(
        store.set_locked_now("r1", true),
        Err(StoreError::Fenced)
    ));
    // The node holds epoch 1, but another node took the room over with epoch 2.
    store.hold_lease("r1", "a:1".into());
    store.set_locked_now("r1", true).expect("own lease");
    set(&mut raw, "b:2");
    let before = store.dump_room("r1").await.expect("dump");
    let ban = StoredBan {
        id: "b1".into(),
        name: "Troll".into(),
        device_key: Some(vec![7; 32]),
        address_key: None,
        at: 1,
    };
    let fenced = |result: Result<(), StoreError>| {
        assert!(matches!(result, Err(StoreError::Fenced)), "{result:?}");
    };
    fenced(store.set_locked_now("r1", false));
    fenced(store.set_link_now("r1", "stale", true));
    fenced(store.insert_ban_now("r1", &ban));
    fenced(store.delete_ban_now("r1", "b1").map(drop));
    fenced(store.insert_chat_now("r1", message("x"), &[]).map(drop));
    fenced(store.clear_chat_now("r1"));
    assert_eq!(store.dump_room("r1").await.expect("dump"), before);
    assert_eq!(store.room_by_link("stale").await.expect("query"), None);
    // A lapsed lease is no lease.
    let _: () = ::redis::cmd("DEL").arg(lease).query(&mut raw).expect("del");
    fenced(store.set_locked_now("r1", false));
    // Reads and the owner's HTTP writes are not fenced.
    assert!(store.room_now("r1").expect("read").expect("room").locked);
    assert!(store.bans_now("r1").expect("read").is_empty());
    store
        .set_door("r1", Door::default())
        .await
        .expect("not fenced");
    // With the lease this node holds now, writes go through again; released, they do not.
    set(&mut raw, "a:3");
    store.hold_lease("r1", "a:3".into());
    store.insert_ban_now("r1", &ban).expect("ban");
    assert_eq!(store.bans_now("r1").expect("list"), vec![ban]);
    store.release_lease("r1");
    fenced(store.set_locked_now("r1", false));
    assert!(
        Store::in_memory().is_ok_and(|s| !s.is_redis()),
        "SQLite is not Redis"
    );
}

#[tokio::test]
async fn a_stopped_redis_is_unavailable_and_a_restarted_one_is_used_again() {
    let (server, store) = started().await;
    store.insert_room(room("r1")).await.expect("insert");
    store.claim_for_test("r1");
    store.set_locked_now("r1", true).expect("lock");
    let (port, dir) = server.stop();
    let started = Instant::now();
    let err = store.room_by_link("link-r1").await.expect_err("stopped");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(err.is_storage_unavailable());
    let err = store.room_now("r1").expect_err("stopped");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let err = store.set_locked_now("r1", false).expect_err("stopped");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let err = store.ping().await.expect_err("stopped");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "failing took {:?}",
        started.elapsed()
    );
    // Back (empty: no persistence in this test): both connections find it again by themselves.
    let server = RedisServer::start_on(port, dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let async_ok = store.ping().await.is_ok();
        let sync_ok = matches!(store.room_now("r1"), Ok(None));
        if async_ok && sync_ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Redis is back but not used again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store
        .insert_room(room("r2"))
        .await
        .expect("insert after the outage");
    drop(server);
}

#[tokio::test]
async fn connecting_names_the_url_without_its_password() {
    let port = free_port();
    let err = Store::connect_redis(&format!("redis://:hunter2@127.0.0.1:{port}/"))
        .await
        .err()
        .expect("nobody listens there");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unavailable(_)), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    let err = Store::connect_redis("http://example.invalid/")
        .await
        .err()
        .expect("not a Redis URL");
    assert!(matches!(err, StoreError::RedisUrl { .. }), "{err}");
}

#[tokio::test]
async fn export_from_sqlite_import_into_redis_gives_the_same_rooms() {
    let sqlite = Store::in_memory().expect("open");
    let ids = [crate::ids::new_room_id(), crate::ids::new_room_id()];
    for (n, id) in ids.iter().enumerate() {
        let stored = StoredRoom {
            id: id.clone(),
            link: crate::ids::new_room_id(),
            name: (n == 0).then(|| "Friday".to_owned()),
            host_key_hash: crate::ids::hash_host_key("key"),
            created_at: 1_700_000_000 + n as i64,
            locked: false,
            e2ee: n == 1,
        };
        sqlite.insert_room(stored).await.expect("insert");
    }
    let first = &ids[0];
    sqlite.set_locked_now(first, true).expect("lock");
    sqlite
        .set_door(
            first,
            Door {
                mode: DoorMode::Open,
                until: Some(1_900_000_000),
                show_names: true,
            },
        )
        .await
        .expect("door");
    sqlite
        .set_presence_key(first, 4, vec![6; 32])
        .await
        .expect("key");
    for (n, id) in ["b1", "b2"].iter().enumerate() {
        let ban = StoredBan {
            id: (*id).into(),
            name: "Troll".into(),
            device_key: Some(vec![n as u8; 32]),
            address_key: (n == 0).then(|| vec![8; 32]),
            at: 10,
        };
        sqlite.insert_ban_now(first, &ban).expect("ban");
    }
    for i in 0..5 {
        let readers = vec![vec![i as u8; 32], vec![9; 32]];
        sqlite
            .insert_chat_now(first, message(&format!("m{i}")), &readers)
            .expect("chat");
    }
    sqlite.clear_chat_now(first).expect("clear");
    sqlite
        .insert_chat_now(first, message("after"), &[vec![1; 32]])
        .expect("chat");

    let mut exported = Vec::new();
    let n = crate::transfer::export(&sqlite, &mut exported)
        .await
        .expect("export");
    assert_eq!(n, 2);

    let (_server, redis) = started().await;
    let imported = crate::transfer::import(&redis, exported.as_slice())
        .await
        .expect("import");
    assert_eq!(imported, 2);
    let mut again = Vec::new();
    crate::transfer::export(&redis, &mut again)
        .await
        .expect("export again");
    assert_eq!(
        String::from_utf8(again).expect("utf-8"),
        String::from_utf8(exported.clone()).expect("utf-8")
    );
    // What the rooms do with it is the same too.
    let room = redis.room_now(first).expect("read").expect("room");
    assert!(room.locked);
    assert_eq!(
        redis
            .chat_for_now(first, Some(&[1; 32]), false)
            .expect("chat")
            .len(),
        1
    );
    redis.claim_for_test(first);
    assert_eq!(
        redis
            .insert_chat_now(first, message("next"), &[])
            .expect("chat")
            .seq,
        7
    );

    // Importing again is refused, naming the line, and writes nothing.
    let err = crate::transfer::import(&redis, exported.as_slice())
        .await
        .expect_err("exists");
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = crate::transfer::import(&sqlite, &b"\n{\"format\":1}\n"[..])
        .await
        .expect_err("invalid");
    assert!(err.to_string().starts_with("line 2:"), "{err}");
}
