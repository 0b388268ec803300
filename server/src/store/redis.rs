//! The cluster backend: rooms kept in Redis or Valkey (`--redis URL`), shared by every node.
//! Redis must keep its data (append-only file on, `docs/deploy.md`); one primary, not Redis
//! Cluster (the scripts touch keys they compute from the room id).
//!
//! Keys (`{id}` is a room's permanent key, `{link}` the id in its invite link):
//! - `salon:room:{id}` HASH: `link`, `name` (absent: none), `host_key_hash` (bytes),
//!   `created_at`, `locked` (0/1), `e2ee` (0/1), `door` (0 auto, 1 open, 2 closed),
//!   `door_until` (absent: none), `show_names` (0/1), `presence_epoch`, `presence_hash` (bytes;
//!   absent: none), `chat_seq` (the chat counter: the last number given to a message) and
//!   `ban_seq` (counts bans, to list them in the order they were made).
//! - `salon:link:{link}` STRING: the id of the room whose current link this is. A rotation
//!   writes the new one, deletes the old one and updates the hash in one script: an old link
//!   never resolves again.
//! - `salon:rooms` SET of every room id (for export).
//! - `salon:bans:{id}` HASH: ban id → `{n} {json}` (`n` from `ban_seq`; the JSON holds name,
//!   device and address keys in base64, and the time).
//! - `salon:chat:{id}` ZSET: `{seq} {json}` scored by `seq`, the newest [`CHAT_KEPT`] messages.
//! - `salon:chatreaders:{id}:{seq}` SET: the salted device keys that may read message `seq`;
//!   deleted with its message.
//! - `salon:lease:{id}` (written by `crate::cluster`): `{node}:{epoch}`, read by every fenced
//!   write.
//!
//! Async calls go through a [`ConnectionManager`] (it reconnects by itself after an outage),
//! each given [`CALL_TIMEOUT`]. The room actors' `*_now` calls use one blocking connection
//! with [`SYNC_TIMEOUT`] on connect, read and write, reopened after a failure (but not tried
//! again for [`SYNC_TIMEOUT`] after a failed connect, so actors do not queue on a dead Redis).
//! Unreachable or slow Redis is [`StoreError::Unavailable`]. The Lua scripts live in
//! `redis_scripts`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Connection, ErrorKind, RedisError, RedisResult, Script, ServerErrorKind};

use super::redis_scripts::{
    CHAT_FOR, CLEAR_CHAT, DELETE_BAN, INSERT_BAN, INSERT_CHAT, INSERT_ROOM, ROOM_BY_LINK,
    SET_FIELDS, SET_LINK, SET_LOCKED,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{
    CHAT_KEPT, CHAT_SHOWN, Door, DoorMode, DumpedChat, RoomDump, StoreError, StoredBan, StoredChat,
    StoredPresence, StoredRoom,
};

/// Every async call gives up after this long.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The blocking connection's connect, read and write timeout.
pub(super) const SYNC_TIMEOUT: Duration = Duration::from_secs(1);
/// `/readyz` wants an answer within this long.
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// Connecting at start gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub(super) struct RedisStore {
    manager: ConnectionManager,
    sync: Arc<SyncConnection>,
    /// The lease token this node holds per room (`crate::cluster` sets them).
    leases: Arc<Mutex<HashMap<String, String>>>,
}

struct SyncConnection {
    client: Client,
    state: Mutex<SyncState>,
}

#[derive(Default)]
struct SyncState {
    conn: Option<Connection>,
    failed_connect_at: Option<Instant>,
}

/// The URL without its password, for messages.
pub(super) fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}

/// Whether an error means Redis cannot be used right now (rather than a refused command).
fn is_unreachable(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
            )
        )
}

fn store_error(e: RedisError) -> StoreError {
    if is_unreachable(&e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Redis(e.to_string())
    }
}

fn room_key(id: &str) -> String {
    format!("salon:room:{id}")
}

fn bans_key(id: &str) -> String {
    format!("salon:bans:{id}")
}

fn chat_key(id: &str) -> String {
    format!("salon:chat:{id}")
}

fn readers_key(id: &str, seq: u64) -> String {
    format!("salon:chatreaders:{id}:{seq}")
}

#[cfg(test)]
fn lease_key(id: &str) -> String {
    format!("salon:lease:{id}")
}

const ROOMS_KEY: &str = "salon:rooms";

/// A ban as kept in `salon:bans:{id}` (after its `{n} `).
#[derive(Serialize, Deserialize)]
struct BanJson {
    name: String,
    device_key: Option<String>,
    address_key: Option<String>,
    at: i64,
}

/// A chat message as kept in `salon:chat:{id}` (after its `{seq} `).
#[derive(Serialize, Deserialize)]
struct ChatJson {
    at: i64,
    sender: String,
    name: String,
    sealed: bool,
    body: String,
}

fn encode_bytes(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(|b| BASE64.encode(b))
}

fn decode_bytes(text: Option<String>, what: &str) -> Result<Option<Vec<u8>>, StoreError> {
    text.map(|t| {
        BASE64
            .decode(t)
            .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
    })
    .transpose()
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Plain structs of strings and numbers always serialize.
    serde_json::to_string(value).unwrap_or_default()
}

fn ban_json(ban: &StoredBan) -> String {
    to_json(&BanJson {
        name: ban.name.clone(),
        device_key: encode_bytes(ban.device_key.as_deref()),
        address_key: encode_bytes(ban.address_key.as_deref()),
        at: ban.at,
    })
}

fn chat_json(message: &StoredChat) -> String {
    to_json(&ChatJson {
        at: message.at,
        sender: message.sender.clone(),
        name: message.name.clone(),
        sealed: message.sealed,
        body: message.body.clone(),
    })
}

/// Splits `{n} {json}`.
fn numbered(value: &str, what: &str) -> Result<(u64, String), StoreError> {
    value
        .split_once(' ')
        .and_then(|(n, rest)| Some((n.parse().ok()?, rest.to_owned())))
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: {value:?}")))
}

fn parse_ban(id: String, value: &str) -> Result<(u64, StoredBan), StoreError> {
    let (n, json) = numbered(value, "a ban")?;
    let ban: BanJson =
        serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("a ban: {e}")))?;
    Ok((
        n,
        StoredBan {
            id,
            name: ban.name,
            device_key: decode_bytes(ban.device_key, "a ban's device key")?,
            address_key: decode_bytes(ban.address_key, "a ban's address key")?,
            at: ban.at,
        },
    ))
}

fn parse_chat(member: &str) -> Result<StoredChat, StoreError> {
    let (seq, json) = numbered(member, "a chat message")?;
    let m: ChatJson = serde_json::from_str(&json)
        .map_err(|e| StoreError::Corrupt(format!("a chat message: {e}")))?;
    Ok(StoredChat {
        seq,
        at: m.at,
        sender: m.sender,
        name: m.name,
        sealed: m.sealed,
        body: m.body,
    })
}

type Fields = HashMap<String, Vec<u8>>;

/// A room's hash, read.
struct RoomRecord {
    room: StoredRoom,
    door: Door,
    presence_epoch: i64,
    presence_hash: Option<Vec<u8>>,
    chat_seq: u64,
}

impl RoomRecord {
    fn presence(self) -> StoredPresence {
        StoredPresence {
            id: self.room.id,
            link: self.room.link,
            door: self.door,
            epoch: self.presence_epoch,
            key_hash: self.presence_hash,
        }
    }
}

fn parse_room(id: &str, mut f: Fields) -> Result<RoomRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("room {id}: {what}"));
    let mut text = |name: &str| -> Result<Option<String>, StoreError> {
        f.remove(name)
            .map(|v| String::from_utf8(v).map_err(|_| corrupt(name)))
            .transpose()
    };
    let int = |v: Option<String>, name: &str| -> Result<Option<i64>, StoreError> {
        v.map(|v| v.parse::<i64>().map_err(|_| corrupt(name)))
            .transpose()
    };
    let link = text("link")?.ok_or_else(|| corrupt("no link"))?;
    let name = text("name")?;
    let created_at = int(text("created_at")?, "created_at")?.unwrap_or(0);
    let locked = int(text("locked")?, "locked")?.unwrap_or(0) != 0;
    let e2ee = int(text("e2ee")?, "e2ee")?.unwrap_or(0) != 0;
    let door = Door {
        mode: DoorMode::from_code(int(text("door")?, "door")?.unwrap_or(0)),
        until: int(text("door_until")?, "door_until")?,
        show_names: int(text("show_names")?, "show_names")?.unwrap_or(0) != 0,
    };
    let presence_epoch = int(text("presence_epoch")?, "presence_epoch")?.unwrap_or(0);
    let chat_seq = int(text("chat_seq")?, "chat_seq")?.unwrap_or(0);
    let host_key_hash = f
        .remove("host_key_hash")
        .ok_or_else(|| corrupt("no host key hash"))?;
    Ok(RoomRecord {
        room: StoredRoom {
            id: id.to_owned(),
            link,
            name,
            host_key_hash,
            created_at,
            locked,
            e2ee,
        },
        door,
        presence_epoch,
        presence_hash: f.remove("presence_hash"),
        chat_seq: u64::try_from(chat_seq).map_err(|_| corrupt("chat_seq"))?,
    })
}

/// The hash fields of a new room (besides `link`).
fn room_fields(dump: &RoomDump) -> Vec<(&'static str, Vec<u8>)> {
    let flag = |b: bool| if b { b"1".to_vec() } else { b"0".to_vec() };
    let num = |n: i64| n.to_string().into_bytes();
    let room = &dump.room;
    let mut fields = vec![
        ("host_key_hash", room.host_key_hash.clone()),
        ("created_at", num(room.created_at)),
        ("locked", flag(room.locked)),
        ("e2ee", flag(room.e2ee)),
        ("door", num(dump.door.mode.code())),
        ("show_names", flag(dump.door.show_names)),
        ("presence_epoch", num(dump.presence_epoch)),
        ("chat_seq", dump.chat_seq.to_string().into_bytes()),
    ];
    if let Some(name) = &room.name {
        fields.push(("name", name.clone().into_bytes()));
    }
    if let Some(until) = dump.door.until {
        fields.push(("door_until", num(until)));
    }
    if let Some(hash) = &dump.presence_hash {
        fields.push(("presence_hash", hash.clone()));
    }
    fields
}

impl RedisStore {
    pub(super) async fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = redacted(url);
        let client = Client::open(url).map_err(|e| StoreError::RedisUrl {
            url: shown.clone(),
            cause: e.to_string(),
        })?;
        let settings = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(SYNC_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let unavailable = |cause: String| {
            StoreError::Unavailable(format!("cannot connect to Redis at {shown}: {cause}"))
        };
        let manager = tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client.clone(), settings),
        )
        .await
        .map_err(|_| unavailable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
        .map_err(|e| unavailable(e.to_string()))?;
        let store = Self {
            manager,
            sync: Arc::new(SyncConnection {
                client,
                state: Mutex::default(),
            }),
            leases: Arc::default(),
        };
        store.ping().await.map_err(|e| unavailable(e.to_string()))?;
        Ok(store)
    }

    /// Runs one async call with [`CALL_TIMEOUT`].
    async fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        timed(CALL_TIMEOUT, f(self.manager.clone())).await
    }

    /// Runs one call on the blocking connection, opening it if needed; a connection that failed
    /// is dropped, to be opened again by a later call.
    fn now<T>(&self, f: impl FnOnce(&mut Connection) -> RedisResult<T>) -> Result<T, StoreError> {
        let mut state = self
            .sync
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let conn = match state.conn.take() {
            Some(conn) => conn,
            None => {
                if state
                    .failed_connect_at
                    .is_some_and(|at| at.elapsed() < SYNC_TIMEOUT)
                {
                    return Err(StoreError::Unavailable(
                        "Redis could not be reached a moment ago".into(),
                    ));
                }
                match self.open_sync() {
                    Ok(conn) => conn,
                    Err(e) => {
                        state.failed_connect_at = Some(Instant::now());
                        return Err(store_error(e));
                    }
                }
            }
        };
        let conn = state.conn.insert(conn);
        match f(conn) {
            Ok(value) => Ok(value),
            Err(e) => {
                if is_unreachable(&e) {
                    state.conn = None;
                }
                Err(store_error(e))
            }
        }
    }

    fn open_sync(&self) -> RedisResult<Connection> {
        let conn = self.sync.client.get_connection_with_timeout(SYNC_TIMEOUT)?;
        conn.set_read_timeout(Some(SYNC_TIMEOUT))?;
        conn.set_write_timeout(Some(SYNC_TIMEOUT))?;
        Ok(conn)
    }

    /// A PING answered within [`PING_TIMEOUT`] (for `/readyz`).
    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.manager.clone();
        let ping = async move { ::redis::cmd("PING").query_async::<String>(&mut conn).await };
        timed(PING_TIMEOUT, ping).await.map(drop)
    }

    pub(super) fn hold_lease(&self, room_id: &str, token: String) {
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(room_id.to_owned(), token);
    }

    pub(super) fn release_lease(&self, room_id: &str) {
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(room_id);
    }

    fn token(&self, room_id: &str) -> Result<String, StoreError> {
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room_id)
            .cloned()
            .ok_or(StoreError::Fenced)
    }

    /// Runs a fenced script (ARGV: room id, token, `args`…) on the blocking connection; -1 from
    /// the script (or no token held) is [`StoreError::Fenced`].
    fn fenced(&self, script: &Script, room_id: &str, args: &[&[u8]]) -> Result<i64, StoreError> {
        let token = self.token(room_id)?;
        let status: i64 = self.now(|c| {
            let mut call = script.prepare_invoke();
            call.arg(room_id).arg(token.as_str());
            for arg in args {
                call.arg(*arg);
            }
            call.invoke(c)
        })?;
        if status == -1 {
            return Err(StoreError::Fenced);
        }
        Ok(status)
    }

    pub(super) async fn insert_room(&self, room: StoredRoom) -> Result<(), StoreError> {
        self.insert_dump(RoomDump {
            room,
            door: Door::default(),
            presence_epoch: 0,
            presence_hash: None,
            chat_seq: 0,
            bans: Vec::new(),
            chat: Vec::new(),
        })
        .await
    }

    pub(super) async fn room_by_link(&self, link: &str) -> Result<Option<StoredRoom>, StoreError> {
        Ok(self.record_by_link(link).await?.map(|r| r.room))
    }

    async fn record_by_link(&self, link: &str) -> Result<Option<RoomRecord>, StoreError> {
        let mut fields: Fields = self
            .call(|mut c| async move { ROOM_BY_LINK.arg(link).invoke_async(&mut c).await })
            .await?;
        let Some(id) = fields.remove("id") else {
            return Ok(None);
        };
        let id = String::from_utf8(id).map_err(|_| StoreError::Corrupt("a room id".into()))?;
        parse_room(&id, fields).map(Some)
    }

    async fn record_of(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        let key = room_key(id);
        let fields: Fields = self
            .call(
                |mut c| async move { ::redis::cmd("HGETALL").arg(&key).query_async(&mut c).await },
            )
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        parse_room(id, fields).map(Some)
    }

    pub(super) fn room_now(&self, id: &str) -> Result<Option<StoredRoom>, StoreError> {
        let fields: Fields = self.now(|c| ::redis::cmd("HGETALL").arg(room_key(id)).query(c))?;
        if fields.is_empty() {
            return Ok(None);
        }
        parse_room(id, fields).map(|r| Some(r.room))
    }

    pub(super) fn set_locked_now(&self, id: &str, locked: bool) -> Result<(), StoreError> {
        let value: &[u8] = if locked { b"1" } else { b"0" };
        self.fenced(&SET_LOCKED, id, &[value]).map(drop)
    }

    pub(super) fn set_link_now(&self, id: &str, link: &str, e2ee: bool) -> Result<(), StoreError> {
        let e2ee: &[u8] = if e2ee { b"1" } else { b"0" };
        match self.fenced(&SET_LINK, id, &[link.as_bytes(), e2ee])? {
            -2 => Err(StoreError::Refused(format!(
                "the link {link} belongs to another room"
            ))),
            _ => Ok(()),
        }
    }

    pub(super) async fn presence_by_link(
        &self,
        link: &str,
    ) -> Result<Option<StoredPresence>, StoreError> {
        Ok(self.record_by_link(link).await?.map(RoomRecord::presence))
    }

    pub(super) async fn presence_of(&self, id: &str) -> Result<Option<StoredPresence>, StoreError> {
        Ok(self.record_of(id).await?.map(RoomRecord::presence))
    }

    /// Updates an existing room's fields (not fenced); nothing if there is no such room.
    async fn set_fields(
        &self,
        id: &str,
        delete: &[&str],
        set: Vec<(&str, Vec<u8>)>,
    ) -> Result<(), StoreError> {
        self.call(|mut c| async move {
            let mut call = SET_FIELDS.prepare_invoke();
            call.arg(id).arg(delete.len());
            for field in delete {
                call.arg(*field);
            }
            for (field, value) in &set {
                call.arg(*field).arg(value.as_slice());
            }
            call.invoke_async::<i64>(&mut c).await
        })
        .await
        .map(drop)
    }

    pub(super) async fn set_door(&self, id: &str, door: Door) -> Result<(), StoreError> {
        let mut set = vec![
            ("door", door.mode.code().to_string().into_bytes()),
            (
                "show_names",
                if door.show_names { b"1" } else { b"0" }.to_vec(),
            ),
        ];
        let delete: &[&str] = match door.until {
            Some(until) => {
                set.push(("door_until", until.to_string().into_bytes()));
                &[]
            }
            None => &["door_until"],
        };
        self.set_fields(id, delete, set).await
    }

    pub(super) async fn set_presence_key(
        &self,
        id: &str,
        epoch: i64,
        key_hash: Vec<u8>,
    ) -> Result<(), StoreError> {
        let set = vec![
            ("presence_epoch", epoch.to_string().into_bytes()),
            ("presence_hash", key_hash),
        ];
        self.set_fields(id, &[], set).await
    }

    pub(super) fn insert_ban_now(&self, room_id: &str, ban: &StoredBan) -> Result<(), StoreError> {
        let json = ban_json(ban);
        match self.fenced(&INSERT_BAN, room_id, &[ban.id.as_bytes(), json.as_bytes()])? {
            -2 => Err(StoreError::Refused(format!("no room {room_id}"))),
            -3 => Err(StoreError::Refused(format!(
                "the room already has a ban {}",
                ban.id
            ))),
            _ => Ok(()),
        }
    }

    pub(super) fn delete_ban_now(&self, room_id: &str, ban_id: &str) -> Result<bool, StoreError> {
        self.fenced(&DELETE_BAN, room_id, &[ban_id.as_bytes()])
            .map(|n| n > 0)
    }

    pub(super) fn bans_now(&self, room_id: &str) -> Result<Vec<StoredBan>, StoreError> {
        let raw: Vec<(String, String)> =
            self.now(|c| ::redis::cmd("HGETALL").arg(bans_key(room_id)).query(c))?;
        sorted_bans(raw)
    }

    pub(super) fn insert_chat_now(
        &self,
        room_id: &str,
        mut message: StoredChat,
        readers: &[Vec<u8>],
    ) -> Result<StoredChat, StoreError> {
        let json = chat_json(&message);
        let kept = CHAT_KEPT.to_string();
        let mut args: Vec<&[u8]> = vec![json.as_bytes(), kept.as_bytes()];
        args.extend(readers.iter().map(Vec::as_slice));
        match self.fenced(&INSERT_CHAT, room_id, &args)? {
            -2 => Err(StoreError::Refused(format!("no room {room_id}"))),
            seq => {
                message.seq = u64::try_from(seq)
                    .map_err(|_| StoreError::Corrupt(format!("chat number {seq}")))?;
                Ok(message)
            }
        }
    }

    pub(super) fn chat_for_now(
        &self,
        room_id: &str,
        reader: Option<&[u8]>,
        everything: bool,
    ) -> Result<Vec<StoredChat>, StoreError> {
        let members: Vec<String> = match (everything, reader) {
            (true, _) => self.now(|c| {
                ::redis::cmd("ZREVRANGE")
                    .arg(chat_key(room_id))
                    .arg(0)
                    .arg(CHAT_SHOWN - 1)
                    .query(c)
            })?,
            (false, Some(reader)) => {
                self.now(|c| CHAT_FOR.arg(room_id).arg(reader).arg(CHAT_SHOWN).invoke(c))?
            }
            (false, None) => return Ok(Vec::new()),
        };
        let mut messages = members
            .iter()
            .map(|m| parse_chat(m))
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(messages)
    }

    pub(super) fn clear_chat_now(&self, room_id: &str) -> Result<(), StoreError> {
        self.fenced(&CLEAR_CHAT, room_id, &[]).map(drop)
    }

    pub(super) async fn all_room_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids: Vec<String> = self
            .call(|mut c| async move {
                ::redis::cmd("SMEMBERS")
                    .arg(ROOMS_KEY)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        ids.sort();
        Ok(ids)
    }

    pub(super) async fn dump_room(&self, id: &str) -> Result<Option<RoomDump>, StoreError> {
        let (fields, bans, chat): (Fields, Vec<(String, String)>, Vec<String>) = self
            .call(|mut c| async move {
                ::redis::pipe()
                    .atomic()
                    .cmd("HGETALL")
                    .arg(room_key(id))
                    .cmd("HGETALL")
                    .arg(bans_key(id))
                    .cmd("ZRANGE")
                    .arg(chat_key(id))
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let record = parse_room(id, fields)?;
        let messages = chat
            .iter()
            .map(|m| parse_chat(m))
            .collect::<Result<Vec<_>, _>>()?;
        let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
        let readers: Vec<Vec<Vec<u8>>> = if messages.is_empty() {
            Vec::new()
        } else {
            self.call(|mut c| async move {
                let mut pipe = ::redis::pipe();
                for seq in seqs {
                    pipe.cmd("SMEMBERS").arg(readers_key(id, seq));
                }
                pipe.query_async(&mut c).await
            })
            .await?
        };
        let chat = messages
            .into_iter()
            .zip(readers)
            .map(|(message, mut readers)| {
                readers.sort();
                DumpedChat { message, readers }
            })
            .collect();
        Ok(Some(RoomDump {
            room: record.room,
            door: record.door,
            presence_epoch: record.presence_epoch,
            presence_hash: record.presence_hash,
            chat_seq: record.chat_seq,
            bans: sorted_bans(bans)?,
            chat,
        }))
    }

    pub(super) async fn insert_dump(&self, dump: RoomDump) -> Result<(), StoreError> {
        let fields = room_fields(&dump);
        let bans: Vec<(String, String)> = dump
            .bans
            .iter()
            .map(|b| (b.id.clone(), ban_json(b)))
            .collect();
        let chat: Vec<(String, String, &[Vec<u8>])> = dump
            .chat
            .iter()
            .map(|m| {
                (
                    m.message.seq.to_string(),
                    chat_json(&m.message),
                    m.readers.as_slice(),
                )
            })
            .collect();
        let (id, link) = (&dump.room.id, &dump.room.link);
        let outcome: String = self
            .call(|mut c| async move {
                let mut call = INSERT_ROOM.prepare_invoke();
                call.arg(id.as_str()).arg(link.as_str()).arg(fields.len());
                for (field, value) in &fields {
                    call.arg(*field).arg(value.as_slice());
                }
                call.arg(bans.len());
                for (ban_id, json) in &bans {
                    call.arg(ban_id.as_str()).arg(json.as_str());
                }
                call.arg(chat.len());
                for (seq, json, readers) in &chat {
                    call.arg(seq.as_str()).arg(json.as_str()).arg(readers.len());
                    for reader in *readers {
                        call.arg(reader.as_slice());
                    }
                }
                call.invoke_async(&mut c).await
            })
            .await?;
        match outcome.as_str() {
            "ok" => Ok(()),
            "id" => Err(StoreError::Refused(format!("a room with id {id} exists"))),
            _ => Err(StoreError::Refused(format!("the link {link} is taken"))),
        }
    }

    #[cfg(test)]
    pub(super) fn claim_for_test(&self, room_id: &str) {
        let token = "test-node:1".to_owned();
        let claimed: Result<(), StoreError> = self.now(|c| {
            ::redis::cmd("SET")
                .arg(lease_key(room_id))
                .arg(token.as_str())
                .query(c)
        });
        assert!(claimed.is_ok(), "cannot set the lease: {claimed:?}");
        self.hold_lease(room_id, token);
    }
}

/// Runs one async Redis call, giving up after `limit`.
async fn timed<T>(
    limit: Duration,
    call: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(store_error),
        Err(_) => Err(StoreError::Unavailable(format!(
            "Redis did not answer within {limit:?}"
        ))),
    }
}

/// Bans as `HGETALL` gives them, oldest first (by time, then in the order they were made).
fn sorted_bans(raw: Vec<(String, String)>) -> Result<Vec<StoredBan>, StoreError> {
    let mut bans = raw
        .into_iter()
        .map(|(id, value)| parse_ban(id, &value))
        .collect::<Result<Vec<_>, _>>()?;
    bans.sort_by_key(|(n, ban)| (ban.at, *n));
    Ok(bans.into_iter().map(|(_, ban)| ban).collect())
}
