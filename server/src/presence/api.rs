//! The presence endpoints (`docs/api.md`): the owner sets the door and gets (or rotates) the
//! presence key with the host key; anyone opens the presence socket.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use salon_protocol::{ErrorCode, MAX_HOST_KEY_CHARS, validate_room_id};
use serde::{Deserialize, Serialize};

use super::{hash_key, now_unix, presence_key, view};
use crate::AppState;
use crate::abuse::Action;
use crate::http::{api_error, client_ip, over_limit, room_not_found, store_failed};
use crate::ids::host_key_matches;
use crate::store::{Door, DoorMode, StoredPresence};

/// The longest an owner may open the door for in one go (then it follows the owner again).
pub const MAX_OPEN_FOR_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum DoorWord {
    Auto,
    Open,
    Closed,
}

impl From<DoorWord> for DoorMode {
    fn from(w: DoorWord) -> Self {
        match w {
            DoorWord::Auto => Self::Auto,
            DoorWord::Open => Self::Open,
            DoorWord::Closed => Self::Closed,
        }
    }
}

impl From<DoorMode> for DoorWord {
    fn from(m: DoorMode) -> Self {
        match m {
            DoorMode::Auto => Self::Auto,
            DoorMode::Open => Self::Open,
            DoorMode::Closed => Self::Closed,
        }
    }
}

#[derive(Deserialize)]
struct SetDoor {
    host_key: String,
    #[serde(default)]
    door: Option<DoorWord>,
    #[serde(default)]
    until: Option<i64>,
    #[serde(default)]
    show_names: Option<bool>,
}

#[derive(Deserialize)]
struct KeyRequest {
    host_key: String,
    #[serde(default)]
    rotate: bool,
}

/// The door as the owner sees it.
#[derive(Serialize)]
struct DoorState {
    door: DoorWord,
    until: Option<i64>,
    show_names: bool,
    door_open: bool,
    people: u32,
}

#[derive(Serialize)]
struct KeyAnswer {
    room: String,
    presence_key: String,
}

fn bad_request(code: &str, message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, code, message)
}

/// Parses a JSON body, or says why not (for a 400 `invalid_request`).
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8], example: &str) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        let reason: String = e.to_string().chars().take(200).collect();
        format!("The body must be JSON like {example}: {reason}")
    })
}

/// The room behind `link` if `host_key` is its host key; else the answer to send (404 for an
/// unknown room, 403 for a wrong key).
async fn owned(
    state: &AppState,
    link: &str,
    host_key: &str,
) -> Result<(StoredPresence, String), Response> {
    if host_key.is_empty()
        || host_key.len() > MAX_HOST_KEY_CHARS
        || !host_key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad_request(
            "invalid_field",
            "invalid host_key: must be 1-64 printable characters",
        ));
    }
    if validate_room_id(link).is_err() {
        return Err(room_not_found());
    }
    let room = match state.store.room_by_link(link).await {
        Ok(Some(room)) => room,
        Ok(None) => return Err(room_not_found()),
        Err(e) => return Err(store_failed(e)),
    };
    if !host_key_matches(host_key, &room.host_key_hash) {
        return Err(api_error(
            StatusCode::FORBIDDEN,
            "not_allowed",
            "This is not the room's host key.",
        ));
    }
    match state.store.presence_of(&room.id).await {
        Ok(Some(presence)) => Ok((presence, host_key.to_owned())),
        Ok(None) => Err(room_not_found()),
        Err(e) => Err(store_failed(e)),
    }
}

/// `POST /api/rooms/{id}/door`: the owner opens (optionally until a time), closes or resets
/// the door, and chooses whether friends see names.
pub async fn set_door(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(link): Path<String>,
    bytes: axum::body::Bytes,
) -> Response {
    if let Some(response) =
        over_limit(&state, Action::LookUp, client_ip(&state, peer, &headers)).await
    {
        return response;
    }
    let request: SetDoor = match body(
        &bytes,
        r#"{"host_key": "…", "door": "open", "until": 1795711200, "show_names": true}"#,
    ) {
        Ok(r) => r,
        Err(why) => return bad_request("invalid_request", &why),
    };
    let now = now_unix();
    if let Some(until) = request.until {
        if request.door != Some(DoorWord::Open) {
            return bad_request(
                "invalid_field",
                "invalid until: only an opened door (\"door\": \"open\") closes at a time",
            );
        }
        if until <= now || until > now.saturating_add(MAX_OPEN_FOR_SECONDS) {
            return bad_request(
                "invalid_field",
                "invalid until: must be a time (Unix seconds) in the next 7 days",
            );
        }
    }
    let (stored, _) = match owned(&state, &link, &request.host_key).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let door = Door {
        mode: request.door.map_or(stored.door.mode, DoorMode::from),
        until: if request.door.is_some() {
            request.until
        } else {
            stored.door.until
        },
        show_names: request.show_names.unwrap_or(stored.door.show_names),
    };
    if let Err(e) = state.store.set_door(&stored.id, door).await {
        return store_failed(e);
    }
    let presence = state.hub.presence();
    presence.door_changed(&stored.id, door);
    let seen = view(&stored.link, &door, &presence.occupants(&stored.id), now);
    Json(DoorState {
        door: door.mode.into(),
        until: door.until,
        show_names: door.show_names,
        door_open: seen.door_open,
        people: u32::try_from(state.hub.participant_count(&stored.id)).unwrap_or(u32::MAX),
    })
    .into_response()
}

/// `POST /api/rooms/{id}/presence-key`: the owner gets the room's presence key (to put in a
/// friend card), or with `rotate` a new one, which revokes the old at once.
pub async fn key(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(link): Path<String>,
    bytes: axum::body::Bytes,
) -> Response {
    if let Some(response) =
        over_limit(&state, Action::LookUp, client_ip(&state, peer, &headers)).await
    {
        return response;
    }
    let request: KeyRequest = match body(&bytes, r#"{"host_key": "…", "rotate": false}"#) {
        Ok(r) => r,
        Err(why) => return bad_request("invalid_request", &why),
    };
    let (stored, host_key) = match owned(&state, &link, &request.host_key).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let epoch = if request.rotate {
        stored.epoch.saturating_add(1)
    } else {
        stored.epoch
    };
    let key = presence_key(&host_key, &stored.link, epoch);
    let hash = hash_key(&key);
    if stored.key_hash.as_deref() != Some(&hash[..]) {
        if let Err(e) = state
            .store
            .set_presence_key(&stored.id, epoch, hash.clone())
            .await
        {
            return store_failed(e);
        }
        state.hub.presence().key_changed(&stored.id, Some(hash));
    }
    Json(KeyAnswer {
        room: stored.link,
        presence_key: key,
    })
    .into_response()
}

/// `GET /api/presence`: the presence socket (`docs/protocol.md`, "Presence"). Over the rate or
/// connection limit the upgrade still succeeds and the socket says why, as for signaling.
pub async fn socket(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let address = client_ip(&state, peer, &headers);
    let refusal = if over_limit(&state, Action::Presence, address)
        .await
        .is_some()
    {
        Some("Too many presence connections from your network; wait a minute and try again.")
    } else {
        None
    };
    let slot = state.hub.presence().connect();
    let upgrade = upgrade
        .max_message_size(salon_protocol::presence::MAX_PRESENCE_MESSAGE_BYTES)
        .max_frame_size(salon_protocol::presence::MAX_PRESENCE_MESSAGE_BYTES);
    match (refusal, slot) {
        (None, Some(slot)) => {
            upgrade.on_upgrade(move |socket| super::socket::run(socket, state, slot))
        }
        (refusal, _) => {
            let message = refusal.unwrap_or("The server is busy; try again in a minute.");
            upgrade.on_upgrade(move |socket| {
                super::socket::refuse(socket, ErrorCode::RateLimited, message)
            })
        }
    }
}
