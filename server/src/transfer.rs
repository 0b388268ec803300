//! `salon-server export` / `import`: every stored room as one JSON object per line, to move a
//! server from SQLite to Redis (cluster mode) or back.
//!
//! A line holds what the store keeps of one room (bytes in standard base64):
//!
//! ```json
//! {"format":1,"id":"…","link":"…","name":"Friday","host_key_hash":"…","created_at":1700000000,
//!  "locked":false,"e2ee":true,"door":{"mode":"auto","until":null,"show_names":false},
//!  "presence":{"epoch":2,"key_hash":"…"},"chat_seq":12,
//!  "bans":[{"id":"…","name":"…","device_key":"…","address_key":null,"at":1700000100}],
//!  "chat":[{"seq":12,"at":1700000200123,"sender":"…","name":"Ada","sealed":false,"body":"hi",
//!           "readers":["…"]}]}
//! ```
//!
//! Import checks every line before writing anything, and refuses a room whose id or link is
//! already stored (or appears twice in the input) rather than overwriting it.

use std::collections::HashSet;
use std::io::{BufRead, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::store::{
    CHAT_KEPT, Door, DoorMode, DumpedChat, RoomDump, Store, StoreError, StoredBan, StoredChat,
    StoredRoom,
};

/// The line format's version (`"format"`).
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read line {line} of the input: {source}")]
    Read { line: usize, source: std::io::Error },
    #[error("line {line}: {cause}")]
    Invalid { line: usize, cause: String },
    #[error(
        "line {line}: a room with this {what} is already stored; import never overwrites a room \
         (nothing was imported)"
    )]
    Exists { line: usize, what: &'static str },
    #[error("line {line}: {source} ({done} rooms were imported before it)")]
    Store {
        line: usize,
        done: usize,
        source: StoreError,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoomLine {
    format: u32,
    id: String,
    link: String,
    name: Option<String>,
    host_key_hash: String,
    created_at: i64,
    locked: bool,
    e2ee: bool,
    door: DoorLine,
    presence: PresenceLine,
    chat_seq: u64,
    bans: Vec<BanLine>,
    chat: Vec<ChatLine>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoorLine {
    mode: ModeLine,
    until: Option<i64>,
    show_names: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum ModeLine {
    Auto,
    Open,
    Closed,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresenceLine {
    epoch: i64,
    key_hash: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BanLine {
    id: String,
    name: String,
    device_key: Option<String>,
    address_key: Option<String>,
    at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatLine {
    seq: u64,
    at: i64,
    sender: String,
    name: String,
    sealed: bool,
    body: String,
    readers: Vec<String>,
}

fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

impl From<RoomDump> for RoomLine {
    fn from(d: RoomDump) -> Self {
        Self {
            format: FORMAT,
            id: d.room.id,
            link: d.room.link,
            name: d.room.name,
            host_key_hash: b64(&d.room.host_key_hash),
            created_at: d.room.created_at,
            locked: d.room.locked,
            e2ee: d.room.e2ee,
            door: DoorLine {
                mode: match d.door.mode {
                    DoorMode::Auto => ModeLine::Auto,
                    DoorMode::Open => ModeLine::Open,
                    DoorMode::Closed => ModeLine::Closed,
                },
                until: d.door.until,
                show_names: d.door.show_names,
            },
            presence: PresenceLine {
                epoch: d.presence_epoch,
                key_hash: d.presence_hash.as_deref().map(b64),
            },
            chat_seq: d.chat_seq,
            bans: d
                .bans
                .into_iter()
                .map(|b| BanLine {
                    id: b.id,
                    name: b.name,
                    device_key: b.device_key.as_deref().map(b64),
                    address_key: b.address_key.as_deref().map(b64),
                    at: b.at,
                })
                .collect(),
            chat: d
                .chat
                .into_iter()
                .map(
                    |DumpedChat {
                         message: m,
                         readers,
                     }| ChatLine {
                        seq: m.seq,
                        at: m.at,
                        sender: m.sender,
                        name: m.name,
                        sealed: m.sealed,
                        body: m.body,
                        readers: readers.iter().map(|r| b64(r)).collect(),
                    },
                )
                .collect(),
        }
    }
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>, String> {
    BASE64
        .decode(text)
        .map_err(|e| format!("{what} is not base64: {e}"))
}

impl TryFrom<RoomLine> for RoomDump {
    type Error = String;

    fn try_from(line: RoomLine) -> Result<Self, String> {
        if line.format != FORMAT {
            return Err(format!(
                "format {} is not one this build reads (it reads {FORMAT})",
                line.format
            ));
        }
        salon_protocol::validate_room_id(&line.id).map_err(|e| format!("id: {e}"))?;
        salon_protocol::validate_room_id(&line.link).map_err(|e| format!("link: {e}"))?;
        let host_key_hash = unb64(&line.host_key_hash, "host_key_hash")?;
        if host_key_hash.is_empty() {
            return Err("host_key_hash is empty".into());
        }
        let mut ban_ids = HashSet::new();
        let bans = line
            .bans
            .into_iter()
            .map(|b| {
                if b.id.is_empty() || !ban_ids.insert(b.id.clone()) {
                    return Err(format!("ban id {:?} is empty or used twice", b.id));
                }
                Ok(StoredBan {
                    device_key: b
                        .device_key
                        .map(|k| unb64(&k, "a ban's device_key"))
                        .transpose()?,
                    address_key: b
                        .address_key
                        .map(|k| unb64(&k, "a ban's address_key"))
                        .transpose()?,
                    id: b.id,
                    name: b.name,
                    at: b.at,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        if line.chat.len() > CHAT_KEPT {
            return Err(format!(
                "{} chat messages; a room keeps at most {CHAT_KEPT}",
                line.chat.len()
            ));
        }
        let mut last = 0;
        let chat = line
            .chat
            .into_iter()
            .map(|m| {
                if m.seq <= last || m.seq > line.chat_seq {
                    return Err(format!(
                        "chat message {} is out of order or past chat_seq {}",
                        m.seq, line.chat_seq
                    ));
                }
                last = m.seq;
                let mut readers = m
                    .readers
                    .iter()
                    .map(|r| unb64(r, "a chat reader"))
                    .collect::<Result<Vec<_>, _>>()?;
                readers.sort();
                readers.dedup();
                Ok(DumpedChat {
                    message: StoredChat {
                        seq: m.seq,
                        at: m.at,
                        sender: m.sender,
                        name: m.name,
                        sealed: m.sealed,
                        body: m.body,
                    },
                    readers,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        i64::try_from(line.chat_seq).map_err(|_| "chat_seq is too large".to_owned())?;
        Ok(RoomDump {
            room: StoredRoom {
                id: line.id,
                link: line.link,
                name: line.name,
                host_key_hash,
                created_at: line.created_at,
                locked: line.locked,
                e2ee: line.e2ee,
            },
            door: Door {
                mode: match line.door.mode {
                    ModeLine::Auto => DoorMode::Auto,
                    ModeLine::Open => DoorMode::Open,
                    ModeLine::Closed => DoorMode::Closed,
                },
                until: line.door.until,
                show_names: line.door.show_names,
            },
            presence_epoch: line.presence.epoch,
            presence_hash: line
                .presence
                .key_hash
                .map(|h| unb64(&h, "presence.key_hash"))
                .transpose()?,
            chat_seq: line.chat_seq,
            bans,
            chat,
        })
    }
}

/// Writes every stored room to `out`, one JSON object per line, in the order of their ids;
/// returns how many.
pub async fn export(store: &Store, mut out: impl Write) -> Result<usize, StoreError> {
    let mut count = 0;
    for id in store.all_room_ids().await? {
        // A room deleted between the listing and now is simply not exported.
        let Some(dump) = store.dump_room(&id).await? else {
            continue;
        };
        let line = serde_json::to_string(&RoomLine::from(dump))
            .map_err(|e| StoreError::Output(std::io::Error::other(e)))?;
        writeln!(out, "{line}").map_err(StoreError::Output)?;
        count += 1;
    }
    out.flush().map_err(StoreError::Output)?;
    Ok(count)
}

/// Reads rooms written by [`export`] and stores them; returns how many. Every line is checked
/// (and the ids and links looked up) before the first room is written. Blank lines are skipped.
pub async fn import(store: &Store, input: impl BufRead) -> Result<usize, ImportError> {
    let mut rooms = Vec::new();
    let (mut ids, mut links) = (HashSet::new(), HashSet::new());
    for (at, text) in input.lines().enumerate() {
        let line = at + 1;
        let text = text.map_err(|source| ImportError::Read { line, source })?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: RoomLine = serde_json::from_str(&text).map_err(|e| ImportError::Invalid {
            line,
            cause: format!("not a room: {e}"),
        })?;
        let dump =
            RoomDump::try_from(parsed).map_err(|cause| ImportError::Invalid { line, cause })?;
        if !ids.insert(dump.room.id.clone()) {
            return Err(ImportError::Invalid {
                line,
                cause: format!("room id {} appears twice in the input", dump.room.id),
            });
        }
        if !links.insert(dump.room.link.clone()) {
            return Err(ImportError::Invalid {
                line,
                cause: format!("link {} appears twice in the input", dump.room.link),
            });
        }
        rooms.push((line, dump));
    }
    let store_failed = |line, source| ImportError::Store {
        line,
        done: 0,
        source,
    };
    for (line, dump) in &rooms {
        let line = *line;
        if store
            .presence_of(&dump.room.id)
            .await
            .map_err(|e| store_failed(line, e))?
            .is_some()
        {
            return Err(ImportError::Exists { line, what: "id" });
        }
        if store
            .room_by_link(&dump.room.link)
            .await
            .map_err(|e| store_failed(line, e))?
            .is_some()
        {
            return Err(ImportError::Exists { line, what: "link" });
        }
    }
    let mut done = 0;
    for (line, dump) in rooms {
        store
            .insert_dump(dump)
            .await
            .map_err(|source| ImportError::Store { line, done, source })?;
        done += 1;
    }
    Ok(done)
}
