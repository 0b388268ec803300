//! HTTP routes: the JSON API, the guest pages, and the signaling WebSocket upgrade
//! (`docs/api.md`).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use salon_protocol::{MAX_MESSAGE_BYTES, MAX_PARTICIPANTS, clean_display_name, validate_room_id};
use serde::{Deserialize, Serialize};

use std::net::{IpAddr, SocketAddr};

use crate::AppState;
use crate::abuse::Action;
use crate::ids::{hash_host_key, new_host_key, new_room_id};
use crate::store::{StoreError, StoredRoom};
use crate::{participant, web};

/// The HTTP API, the guest page and signaling; `/metrics` too unless it has its own address
/// (`--metrics-bind`, see [`metrics_router`]).
pub fn router(state: AppState, with_metrics: bool) -> Router {
    let router = if with_metrics {
        Router::new().route("/metrics", get(metrics))
    } else {
        Router::new()
    };
    router
        .route("/", get(|| async { web::asset("index.html") }))
        .route("/r/{id}", get(|| async { web::asset("room.html") }))
        // A friend card opened in a browser (the app opens these links where it is installed).
        .route("/friend", get(|| async { web::asset("friend.html") }))
        // One plain name, or a path under `vendor/` (checked in `web::asset`).
        .route(
            "/assets/{*file}",
            get(|Path(file): Path<String>| async move { web::asset(&file) }),
        )
        // Liveness: never touches Redis or the disk (a load balancer must not restart a node
        // whose calls are fine because Redis is away).
        .route("/healthz", get(|| async { "ok" }))
        // Readiness: whether this node should get new clients (its store answers, not draining).
        .route("/readyz", get(readyz))
        .route(
            "/.well-known/assetlinks.json",
            get(crate::applinks::assetlinks),
        )
        .route(
            "/.well-known/apple-app-site-association",
            get(crate::applinks::apple_app_site_association),
        )
        .route(
            "/api/rooms",
            post(create_room).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route("/api/rooms/{id}", get(room_info))
        .route("/api/rooms/{id}/ws", get(signaling))
        .route(
            "/api/rooms/{id}/door",
            post(crate::presence::api::set_door).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route(
            "/api/rooms/{id}/presence-key",
            post(crate::presence::api::key).layer(DefaultBodyLimit::max(4 * 1024)),
        )
        .route("/api/presence", get(crate::presence::api::socket))
        .route("/api/cluster/occupants/{room}", get(cluster_occupants))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "not_found", "Nothing here.") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_foreign_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            widen_connect_src,
        ))
        .with_state(state)
}

/// Refuses what another website's page makes its visitors' browsers do here: any request that
/// changes state (every method but GET, HEAD and OPTIONS) and every WebSocket upgrade whose
/// `Origin` is not this server's (see [`origin_allowed`]). Runs before the route, so a refused
/// request spends no rate-limit token, room look-up or upgrade.
async fn refuse_foreign_origin(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || request.headers().contains_key(header::UPGRADE);
    let mut allowed = !changes_state || origin_allowed(&state, request.headers());
    if let (false, Some(cluster)) = (allowed, &state.cluster) {
        // Perhaps a page of a node that joined a moment ago: ask Redis once.
        cluster.refresh_known().await;
        allowed = origin_allowed(&state, request.headers());
    }
    if !allowed {
        return api_error(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            "Refused: this request came from a page on another website. Create and join rooms \
             from this server's own pages.",
        );
    }
    next.run(request).await
}

/// Cluster mode: a page may open its signaling socket on the node that owns its room, which
/// may be another origin than the page's (nodes on their own hosts or ports): the page policy's
/// `connect-src` names the nodes' WebSocket origins too.
async fn widen_connect_src(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let Some(cluster) = &state.cluster else {
        return response;
    };
    let Some(policy) = response
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|p| p.to_str().ok())
        .filter(|p| p.contains("connect-src 'self'"))
    else {
        return response;
    };
    cluster.refresh_known().await;
    let sources = cluster.socket_origins().join(" ");
    if sources.is_empty() {
        return response;
    }
    let widened = policy.replacen(
        "connect-src 'self'",
        &format!("connect-src 'self' {sources}"),
        1,
    );
    if let Ok(value) = header::HeaderValue::from_str(&widened) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// Whether a request may come from the page that sent it. Browsers always send `Origin` on a
/// WebSocket upgrade and a cross-origin POST, and a page cannot forge it; native clients send
/// none, which is allowed. A present `Origin` (`null` included) must be `--public-url`'s
/// scheme://host[:port] when set, else http or https on the request's `Host` (or, behind a
/// proxy, its `X-Forwarded-Host`).
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
    else {
        return false;
    };
    // Cluster mode: a page served by any node may open a signaling socket on this one.
    if state
        .cluster
        .as_ref()
        .is_some_and(|c| c.knows_origin(&origin))
    {
        return true;
    }
    if let Some(public) = &state.public_url {
        return url::Url::parse(public).is_ok_and(|u| u.origin() == origin);
    }
    let url::Origin::Tuple(scheme, _, _) = &origin else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    let forwarded = state
        .behind_proxy
        .then(|| headers.get("x-forwarded-host"))
        .flatten()
        .and_then(|h| h.to_str().ok())
        .and_then(|list| list.rsplit(',').next());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    [host, forwarded].into_iter().flatten().any(|host| {
        let host = host.trim();
        plain_host(host)
            && url::Url::parse(&format!("{scheme}://{host}")).is_ok_and(|u| u.origin() == origin)
    })
}

/// A `Host` value with nothing but a name or address and a port (no user info, path or query
/// that would change what it parses to).
fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
}

pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail { code, message },
        }),
    )
        .into_response()
}

pub(crate) fn room_not_found() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "room_not_found",
        crate::admission::ROOM_NOT_FOUND,
    )
}

/// The client's address: the TCP peer, or with `--behind-proxy` the address the proxy appended
/// to `X-Forwarded-For`.
pub(crate) fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if state.behind_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|h| h.to_str().ok())
            .and_then(|list| list.rsplit(',').next())
            .and_then(|last| last.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

/// Counts a request against the limits; `Some` is the 429 to send instead of serving it. In
/// cluster mode an address's limit is shared by all nodes (counted in Redis, after this node's
/// own count; if Redis cannot count, this node's own limit still holds).
pub(crate) async fn over_limit(state: &AppState, action: Action, ip: IpAddr) -> Option<Response> {
    let verdict = state
        .limits
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check(action, ip, std::time::Instant::now());
    let retry_after = match verdict {
        Err(refused) => refused.retry_after,
        Ok(()) => match &state.cluster {
            Some(cluster) => cluster.shared_limit(action, ip).await?,
            None => return None,
        },
    };
    let seconds = retry_after.as_secs().max(1);
    let mut response = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        &format!("Too many requests from your network; try again in {seconds} s."),
    );
    if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
}

/// The answer to a failed database call: `503 storage_unavailable` when the disk refused it
/// (the operator must act), else `500 internal`.
pub(crate) fn store_failed(e: StoreError) -> Response {
    if !e.is_storage_unavailable() {
        return internal(e);
    }
    tracing::error!(error = %e, "the database cannot be used: check the data folder's disk");
    api_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        "The server cannot save rooms right now (its disk is full or read-only, or its Redis cannot be reached); tell its operator.",
    )
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "The server failed; please try again.",
    )
}

#[derive(Deserialize, Default)]
struct CreateRoom {
    #[serde(default)]
    name: Option<String>,
    /// End-to-end encrypted media (ADR 0003); current clients always ask for it. The room
    /// secret is the creating client's: the server never sees it.
    #[serde(default)]
    e2ee: bool,
}

#[derive(Serialize)]
struct CreatedRoom {
    id: String,
    name: Option<String>,
    url: String,
    host_key: String,
    created_at: i64,
    e2ee: bool,
}

#[derive(Serialize)]
struct RoomSummary {
    id: String,
    name: Option<String>,
    participants: usize,
    max_participants: usize,
    full: bool,
    /// Newcomers knock and wait for a host.
    locked: bool,
    /// Media is end-to-end encrypted: a join must offer encryption.
    e2ee: bool,
    /// The owner's door (`docs/api.md`): open, or closed (nobody is seen through it).
    door_open: bool,
    /// Who is inside, in order of arrival: only while the door is open and the owner shows
    /// names.
    #[serde(skip_serializing_if = "Option::is_none")]
    names: Option<Vec<String>>,
    /// Cluster mode: the node that owns the room, and its signaling URL for this room.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ws_url: Option<String>,
}

/// Marks a look-up one node asks of a room's owner, which answers it itself.
const HOP_HEADER: &str = "x-salon-hop";

/// Cluster mode: who is inside a room this node owns, for another node's presence watchers.
/// Only for requests carrying the cluster's hop secret; anyone else gets `404 not_found`.
async fn cluster_occupants(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(room): Path<String>,
) -> Response {
    let hop = state
        .cluster
        .as_ref()
        .is_some_and(|c| c.is_hop(headers.get(HOP_HEADER).map(header::HeaderValue::as_bytes)));
    if !hop {
        return api_error(StatusCode::NOT_FOUND, "not_found", "Nothing here.");
    }
    let occupants = state.hub.presence().occupants(&room);
    Json(crate::cluster::OccupantsReply {
        names: occupants.names,
        owner_inside: occupants.owner_inside,
    })
    .into_response()
}

/// `GET /readyz`: 200 when this node should get new clients, else 503 saying why.
async fn readyz(State(state): State<AppState>) -> Response {
    let verdict = match &state.cluster {
        Some(cluster) => cluster.ready().await,
        None => state.store.ping().await.map_err(|_| "database unavailable"),
    };
    match verdict {
        Ok(()) => "ready".into_response(),
        Err(why) => api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            &format!("This node should not get new clients now: {why}."),
        ),
    }
}

/// Cluster mode: the owner's own answer to a room look-up (it holds the live room), or `None`
/// when it cannot be asked.
async fn ask_owner(
    cluster: &crate::cluster::Cluster,
    owner_url: &str,
    link: &str,
) -> Option<Response> {
    let url = format!("{}/api/rooms/{link}", owner_url.trim_end_matches('/'));
    let reply = cluster
        .http()
        .get(&url)
        .header(HOP_HEADER, cluster.hop_secret())
        .send()
        .await
        .ok()?;
    if !reply.status().is_success() {
        return None;
    }
    let body = reply.bytes().await.ok()?;
    serde_json::from_slice::<serde_json::Value>(&body).ok()?;
    Some(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The origin for invite links: the configured public URL, else the request's Host.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| plain_host(h))
        .map_or_else(|| state.local_addr.to_string(), str::to_owned);
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

async fn create_room(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(response) = over_limit(
        &state,
        Action::CreateRoom,
        client_ip(&state, peer, &headers),
    )
    .await
    {
        return response;
    }
    // An empty body is a room with no name; anything else must be a JSON object.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRoom::default()
    } else {
        match serde_json::from_slice::<CreateRoom>(&body) {
            Ok(request) => request,
            Err(e) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("The body must be JSON like {{\"name\": \"Friday drinks\"}}: {e}"),
                );
            }
        }
    };
    let name = match request.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => match clean_display_name("name", name) {
            Ok(name) => Some(name),
            Err(e) => return api_error(StatusCode::BAD_REQUEST, "invalid_field", &e.to_string()),
        },
    };
    let host_key = new_host_key();
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let room = StoredRoom {
        id: new_room_id(),
        link: new_room_id(),
        name: name.clone(),
        host_key_hash: hash_host_key(&host_key),
        created_at,
        locked: false,
        e2ee: request.e2ee,
    };
    let id = room.link.clone();
    let room_key = room.id.clone();
    if let Err(e) = state.store.insert_room(room).await {
        return store_failed(e);
    }
    tracing::info!(room = %room_key, "room created");
    let url = format!("{}/r/{id}", origin(&state, &headers));
    (
        StatusCode::CREATED,
        Json(CreatedRoom {
            id,
            name,
            url,
            host_key,
            created_at,
            e2ee: request.e2ee,
        }),
    )
        .into_response()
}

async fn lookup(state: &AppState, id: &str) -> Result<Option<StoredRoom>, Response> {
    if validate_room_id(id).is_err() {
        return Ok(None);
    }
    state.store.room_by_link(id).await.map_err(store_failed)
}

async fn room_info(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    // Another node asking on a client's behalf: that node counted the client's look-up.
    let hop = state
        .cluster
        .as_ref()
        .is_some_and(|c| c.is_hop(headers.get(HOP_HEADER).map(header::HeaderValue::as_bytes)));
    if !hop
        && let Some(response) =
            over_limit(&state, Action::LookUp, client_ip(&state, peer, &headers)).await
    {
        return response;
    }
    let room = match lookup(&state, &id).await {
        Ok(Some(room)) => room,
        Ok(None) => return room_not_found(),
        Err(response) => return response,
    };
    let owner = match &state.cluster {
        None => None,
        Some(cluster) => match cluster.owner(&room.id).await {
            Ok(owner) => Some(owner),
            Err(_) if cluster.holds(&room.id) => Some(crate::cluster::Owner {
                node: cluster.node_id().to_owned(),
                url: cluster.node_url().to_owned(),
                mine: true,
            }),
            Err(e) => {
                tracing::warn!(room = %room.id, error = %e, "cannot find the room's node");
                return api_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cluster_unavailable",
                    "The server cannot reach its room directory right now; try again in a few seconds.",
                );
            }
        },
    };
    if let Some(owner) = &owner
        && !owner.mine
        && !hop
        && let Some(cluster) = &state.cluster
        && let Some(response) = ask_owner(cluster, &owner.url, &room.link).await
    {
        return response;
    }
    let participants = state.hub.participant_count(&room.id);
    let door = match state.store.presence_of(&room.id).await {
        Ok(presence) => presence.map(|p| p.door).unwrap_or_default(),
        Err(e) => return store_failed(e),
    };
    let seen = crate::presence::view(
        &room.link,
        &door,
        &state.hub.presence().occupants(&room.id),
        crate::presence::now_unix(),
    );
    let ws_url = owner
        .as_ref()
        .map(|o| crate::cluster::ws_url(&o.url, &room.link));
    Json(RoomSummary {
        id: room.link,
        name: room.name,
        participants,
        max_participants: MAX_PARTICIPANTS,
        full: participants >= MAX_PARTICIPANTS,
        locked: room.locked,
        e2ee: room.e2ee,
        door_open: seen.door_open,
        names: seen.names,
        ws_url,
        node: owner.map(|o| o.node),
    })
    .into_response()
}

/// `/metrics` alone, for its own address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "not_found", "Only /metrics here.") })
        .with_state(state)
}

/// Server-wide counters in the OpenMetrics text format (no label names a room or a person).
async fn metrics(State(state): State<AppState>) -> Response {
    let text = state
        .media
        .metrics
        .render(state.hub.live_rooms(), state.hub.participants_total());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn signaling(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let address = client_ip(&state, peer, &headers);
    if over_limit(&state, Action::Join, address).await.is_some() {
        // Browsers cannot read the status of a refused upgrade: accept it and say why.
        return upgrade.on_upgrade(|socket| {
            participant::refuse(
                socket,
                salon_protocol::ErrorCode::RateLimited,
                "Too many join attempts from your network; wait a minute and try again.",
            )
        });
    }
    let room = match lookup(&state, &id).await {
        Ok(room) => room,
        Err(response) => return response,
    };
    // Frames a little over the protocol limit still arrive, so the client gets a clear
    // `message_too_large` reply instead of a dropped connection.
    // Small buffers: most signaling messages are a few hundred bytes (an SDP a few KB), and the
    // library's 128 KiB read buffer per connection would be a tenth of a participant's memory.
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES * 2)
        .max_frame_size(MAX_MESSAGE_BYTES * 2)
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| participant::run(socket, room, state, address))
}
