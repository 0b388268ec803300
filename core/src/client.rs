//! The app's entry point: a [`Client`] opened on a data folder. It creates rooms on servers,
//! looks rooms up (is a friend's room open?), keeps the local lists, and joins calls.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::call::media_in::{AudioSink, VideoSink};
use crate::call::{Call, CallConfig, CallListener, Hooks};
use crate::error::CoreError;
use crate::presence::{
    DoorMode, DoorState, FriendPresence, Peek, PresenceListener, PresenceWatch, WatchOptions,
};
use crate::store::{Friend, InviteLink, LocalStore, MyRoom};

/// How long an HTTP request to a server may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether a room is open, as its server says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    pub id: String,
    pub name: Option<String>,
    pub participants: u32,
    pub max_participants: u32,
    pub full: bool,
    /// Cluster mode: the signaling URL on the room's node (`ws://` or `wss://`, checked like a
    /// `moved`); `None` from a single server. Calls find the node by themselves (`moved`).
    pub ws_url: Option<String>,
    /// Cluster mode: the id of the node that holds the room.
    pub node: Option<String>,
}

#[derive(Deserialize)]
struct CreatedRoom {
    id: String,
    name: Option<String>,
    url: String,
    host_key: String,
    created_at: i64,
    /// Servers before end-to-end encryption do not say.
    #[serde(default)]
    e2ee: bool,
}

#[derive(Deserialize)]
struct RoomInfo {
    id: String,
    name: Option<String>,
    participants: u32,
    max_participants: u32,
    full: bool,
    #[serde(default)]
    locked: bool,
    #[serde(default)]
    door_open: bool,
    #[serde(default)]
    names: Option<Vec<String>>,
    /// Cluster mode only (unknown fields are ignored too).
    #[serde(default)]
    ws_url: Option<String>,
    #[serde(default)]
    node: Option<String>,
}

#[derive(Deserialize)]
struct DoorAnswer {
    door: String,
    until: Option<i64>,
    show_names: bool,
    door_open: bool,
    people: u32,
}

#[derive(Deserialize)]
struct KeyAnswer {
    presence_key: String,
}

#[derive(Deserialize)]
struct ApiError {
    error: ApiErrorBody,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    code: String,
    message: String,
}

pub struct Client {
    /// Shared with calls, which keep "my rooms" up to date when a host rotates a link.
    store: Arc<Mutex<LocalStore>>,
    http: reqwest::Client,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Client {
    /// Opens (creating if needed) the client's data in `data_dir` (`salon.db` inside).
    pub fn open(data_dir: &Path) -> Result<Self, CoreError> {
        let store = LocalStore::open(&data_dir.join("salon.db"))?;
        Self::with_store(store)
    }

    /// A client that keeps nothing on disk (tests, one-off CLI runs).
    pub fn in_memory() -> Result<Self, CoreError> {
        Self::with_store(LocalStore::in_memory()?)
    }

    fn with_store(store: LocalStore) -> Result<Self, CoreError> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .user_agent(concat!("salon-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CoreError::network)?;
        Ok(Self {
            store: Arc::new(Mutex::new(store)),
            http,
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, LocalStore> {
        lock(&self.store)
    }

    /// Creates an end-to-end encrypted room on `server` (e.g. `https://salon.example.org`) and
    /// remembers it, with its host key, in "my rooms". Its secret is made here and never sent
    /// to the server: it is in the invite link's `#k=` fragment ([`MyRoom::link`]).
    pub async fn create_room(&self, server: &str, name: Option<&str>) -> Result<MyRoom, CoreError> {
        let server = server.trim().trim_end_matches('/');
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(CoreError::InvalidLink {
                reason: format!(
                    "a server address starts with http:// or https:// (got {server:?})"
                ),
            });
        }
        let body = serde_json::json!({ "name": name, "e2ee": true });
        let response = self
            .http
            .post(format!("{server}/api/rooms"))
            .json(&body)
            .send()
            .await?;
        let created: CreatedRoom = parse(response).await?;
        if !created.e2ee {
            return Err(CoreError::Server {
                reason: "this server is too old for end-to-end encrypted rooms; update it".into(),
            });
        }
        // The link must be one we can parse back (it comes from the server).
        let secret = salon_e2ee::RoomSecret::generate().to_base64url();
        let link = InviteLink::parse(&created.url)?.with_secret(Some(secret));
        let room = MyRoom {
            id: created.id,
            link: link.to_url(),
            host_key: created.host_key,
            name: created.name,
            created_at: created.created_at,
        };
        Ok(self.store().save_my_room(&room)?)
    }

    /// Asks a room's server whether it exists and how many people are in it.
    pub async fn room_status(&self, link: &str) -> Result<RoomStatus, CoreError> {
        let link = InviteLink::parse(link)?;
        let response = self.http.get(link.room_api_url()).send().await?;
        let info: RoomInfo = parse(response).await?;
        let ws_url = info.ws_url.filter(|url| {
            let checked = crate::call::route::check_moved(url, &link.ws_url());
            if let Err(e) = &checked {
                tracing::warn!(error = %e, "ignored the room's ws_url");
            }
            checked.is_ok()
        });
        Ok(RoomStatus {
            id: info.id,
            name: info.name,
            participants: info.participants,
            max_participants: info.max_participants,
            full: info.full,
            ws_url,
            node: info.node,
        })
    }

    /// One of my rooms by its link (on the server it was made on), for owner actions.
    fn my_room_at(&self, link: &str) -> Result<(InviteLink, MyRoom), CoreError> {
        let link = InviteLink::parse(link)?;
        let room = self
            .store()
            .my_room(&link.room_id)
            .ok()
            .filter(|room| same_room(&room.link, &link))
            .ok_or_else(|| CoreError::NotAllowed {
                reason: "this is not one of my rooms here (no host key for it)".into(),
            })?;
        Ok((link, room))
    }

    /// Opens (until `until`, Unix seconds, if given), closes or resets (`Auto`: open while I am
    /// inside) the door of one of my rooms; `show_names` (if given) chooses whether friends and
    /// people with the link see who is inside.
    pub async fn set_door(
        &self,
        link: &str,
        mode: DoorMode,
        until: Option<i64>,
        show_names: Option<bool>,
    ) -> Result<DoorState, CoreError> {
        let (link, room) = self.my_room_at(link)?;
        let mut body = serde_json::json!({ "host_key": room.host_key, "door": mode.word() });
        if let Some(until) = until {
            body["until"] = until.into();
        }
        if let Some(show) = show_names {
            body["show_names"] = show.into();
        }
        let response = self
            .http
            .post(format!("{}/door", link.room_api_url()))
            .json(&body)
            .send()
            .await?;
        let answer: DoorAnswer = parse(response).await?;
        Ok(DoorState {
            mode: DoorMode::from_word(&answer.door).ok_or_else(|| CoreError::Server {
                reason: format!("unknown door state {:?}", answer.door),
            })?,
            until: answer.until,
            show_names: answer.show_names,
            door_open: answer.door_open,
            people: answer.people,
        })
    }

    /// The presence key of one of my rooms (the same on all my devices), or with `rotate` a new
    /// one: every card shared before stops showing presence at once.
    pub async fn presence_key(&self, link: &str, rotate: bool) -> Result<String, CoreError> {
        let (link, room) = self.my_room_at(link)?;
        let response = self
            .http
            .post(format!("{}/presence-key", link.room_api_url()))
            .json(&serde_json::json!({ "host_key": room.host_key, "rotate": rotate }))
            .send()
            .await?;
        let answer: KeyAnswer = parse(response).await?;
        salon_protocol::validate_presence_key(&answer.presence_key).map_err(|e| {
            CoreError::Server {
                reason: e.to_string(),
            }
        })?;
        Ok(answer.presence_key)
    }

    /// My friend card for one of my rooms, with its presence key: whoever adds it sees my
    /// door and who is inside.
    pub async fn my_friend_card(&self, my_name: &str, link: &str) -> Result<String, CoreError> {
        let key = self.presence_key(link, false).await?;
        // The stored link carries the room's secret, which the card must pass on.
        let (_, room) = self.my_room_at(link)?;
        let link = InviteLink::parse(&room.link)?;
        Ok(crate::store::FriendCard::new(my_name, link)?
            .with_presence(&key)?
            .to_link())
    }

    /// A look into a room before joining: door, how many are inside, and their names when the
    /// door is open and the owner shows them.
    pub async fn peek(&self, link: &str) -> Result<Peek, CoreError> {
        let link = InviteLink::parse(link)?;
        let response = self.http.get(link.room_api_url()).send().await?;
        let info: RoomInfo = parse(response).await?;
        Ok(Peek {
            room_id: info.id,
            name: info.name,
            door_open: info.door_open,
            people: info.participants,
            names: info.names,
            full: info.full,
            locked: info.locked,
        })
    }

    /// Every friend with their room's presence, asked once: one socket per server, all of
    /// that server's friends subscribed in one batch.
    pub async fn friends_presence(&self) -> Result<Vec<FriendPresence>, CoreError> {
        let friends = self.friends()?;
        Ok(crate::presence::presence_once(friends).await)
    }

    /// Watches every friend's presence live (one socket per server) until the watch is
    /// dropped or stopped; call inside the core's tokio runtime. Friends added later are
    /// watched by the next watch.
    pub fn watch_presence(
        &self,
        listener: Arc<dyn PresenceListener>,
        options: WatchOptions,
    ) -> Result<PresenceWatch, CoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(CoreError::InvalidInput {
                reason: "watch_presence needs a tokio runtime (the FFI layer enters its own)"
                    .into(),
            });
        }
        Ok(PresenceWatch::start(self.friends()?, listener, options))
    }

    /// Whether to be told (`on_door_opened`) when this friend's door opens.
    pub fn set_friend_notify(&self, id: i64, notify: bool) -> Result<(), CoreError> {
        Ok(self.store().set_friend_notify(id, notify)?)
    }

    /// Drops in on a friend: joins their room in one call.
    pub async fn join_friend(
        &self,
        friend_id: i64,
        config: CallConfig,
        listener: Option<Arc<dyn CallListener>>,
        video_sink: Option<Arc<dyn VideoSink>>,
        audio_sink: Option<Arc<dyn AudioSink>>,
    ) -> Result<Call, CoreError> {
        let friend = self.store().friend(friend_id)?;
        self.join(&friend.room_link, config, listener, video_sink, audio_sink)
            .await
    }

    /// Joins the room behind `link` (see [`Call::join`]: it returns once you are in or waiting
    /// in the lobby). For one of my rooms the host key goes along (you join as its owner)
    /// unless `config` brings its own; this device's id always does, so that a host's removal
    /// sticks. When a host rotates the link of one of my rooms, "my rooms" follows.
    pub async fn join(
        &self,
        link: &str,
        config: CallConfig,
        listener: Option<Arc<dyn CallListener>>,
        video_sink: Option<Arc<dyn VideoSink>>,
        audio_sink: Option<Arc<dyn AudioSink>>,
    ) -> Result<Call, CoreError> {
        let mut link = InviteLink::parse(link)?;
        let mut config = config;
        {
            let store = self.store();
            // A link pasted without its key, to one of my rooms or a friend's: the key we
            // keep for it.
            if link.secret.is_none() {
                let mine = store
                    .my_room(&link.room_id)
                    .ok()
                    .map(|room| room.link)
                    .filter(|stored| same_room(stored, &link));
                let friend = || {
                    store
                        .friend_by_link(&link.base_url())
                        .ok()
                        .flatten()
                        .map(|f| f.room_link)
                };
                if let Some(known) = mine.or_else(friend)
                    && let Ok(known) = InviteLink::parse(&known)
                {
                    link.secret = known.secret;
                }
            }
            if config.host_key.is_none() {
                config.host_key = store
                    .my_room(&link.room_id)
                    .ok()
                    // The key only goes to the server the room was made on.
                    .filter(|room| same_room(&room.link, &link))
                    .map(|room| room.host_key);
            }
            if config.device_id.is_none() {
                config.device_id = Some(store.device_id()?);
            }
        }
        let store = self.store.clone();
        let on_relink = Arc::new(move |old_id: &str, new_link: &str| {
            if let Err(e) = lock(&store).relink_my_room(old_id, new_link) {
                tracing::warn!(error = %e, "could not save the room's new link");
            }
        });
        let hooks = Hooks {
            listener,
            video_sink,
            audio_sink,
            on_relink: Some(on_relink),
        };
        Call::start(&link, config, hooks).await
    }

    /// This device's id (made on first use): what a host's removal sticks to.
    pub fn device_id(&self) -> Result<String, CoreError> {
        Ok(self.store().device_id()?)
    }

    pub fn my_rooms(&self) -> Result<Vec<MyRoom>, CoreError> {
        Ok(self.store().my_rooms()?)
    }

    pub fn forget_my_room(&self, id: &str) -> Result<bool, CoreError> {
        Ok(self.store().forget_my_room(id)?)
    }

    pub fn friends(&self) -> Result<Vec<Friend>, CoreError> {
        Ok(self.store().friends()?)
    }

    pub fn add_friend(
        &self,
        name: &str,
        room_link: &str,
        notes: &str,
    ) -> Result<Friend, CoreError> {
        Ok(self
            .store()
            .add_friend(name, room_link, notes, now_unix())?)
    }

    pub fn add_friend_from_card(&self, card: &str) -> Result<Friend, CoreError> {
        Ok(self.store().add_friend_from_card(card, now_unix())?)
    }

    pub fn rename_friend(&self, id: i64, name: &str) -> Result<(), CoreError> {
        Ok(self.store().rename_friend(id, name)?)
    }

    pub fn set_friend_notes(&self, id: i64, notes: &str) -> Result<(), CoreError> {
        Ok(self.store().set_friend_notes(id, notes)?)
    }

    pub fn remove_friend(&self, id: i64) -> Result<bool, CoreError> {
        Ok(self.store().remove_friend(id)?)
    }

    /// My friend card for one of my rooms: a link a friend can add me from.
    pub fn friend_card(&self, my_name: &str, room_link: &str) -> Result<String, CoreError> {
        let room = InviteLink::parse(room_link)?;
        Ok(crate::store::FriendCard::new(my_name, room)?.to_link())
    }
}

/// Whether a stored link names the same room on the same server as `link` (secrets aside).
fn same_room(stored: &str, link: &InviteLink) -> bool {
    InviteLink::parse(stored).is_ok_and(|s| s.same_room(link))
}

fn lock(store: &Mutex<LocalStore>) -> std::sync::MutexGuard<'_, LocalStore> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// Turns a response into `T`, or its JSON error into a [`CoreError`].
async fn parse<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<T, CoreError> {
    let status = response.status();
    if status.is_success() {
        return response.json::<T>().await.map_err(|e| CoreError::Server {
            reason: format!("unexpected response: {e}"),
        });
    }
    let error = response.json::<ApiError>().await.ok();
    Err(match error {
        Some(ApiError { error }) if error.code == "room_not_found" => CoreError::RoomNotFound,
        Some(ApiError { error }) if error.code == "invalid_field" => CoreError::InvalidInput {
            reason: error.message,
        },
        Some(ApiError { error }) if error.code == "not_allowed" => CoreError::NotAllowed {
            reason: error.message,
        },
        Some(ApiError { error }) => CoreError::Server {
            reason: error.message,
        },
        None => CoreError::Server {
            reason: format!("HTTP {status}"),
        },
    })
}
