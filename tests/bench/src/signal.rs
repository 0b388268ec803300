//! The signaling side: one task per participant on a single-threaded tokio runtime speaks the
//! JSON WebSocket protocol (`docs/protocol.md`) with salon-protocol's types; SDP work is handed
//! to the participant's media worker.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::{
    ClientMessage, IceCandidate, MediaState, PROTOCOL_VERSION, ServerMessage, decode_server, encode,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::media::{Command, Role, Shared, WorkerHandle};

/// How long one signaling step (connect, a reply) may take.
const STEP: Duration = Duration::from_secs(20);
/// The protocol's keep-alive period.
const PING_EVERY: Duration = Duration::from_secs(15);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Creates a room with `POST /api/rooms` on `base` (`http://host:port`); returns its id.
pub async fn create_room(base: &str) -> Result<String, String> {
    let hostport = base
        .strip_prefix("http://")
        .ok_or("--url must start with http:// (the bench speaks to a local server)")?
        .trim_end_matches('/');
    let mut stream = tokio::time::timeout(STEP, tokio::net::TcpStream::connect(hostport))
        .await
        .map_err(|_| "timed out connecting to the server")?
        .map_err(|e| format!("cannot connect to {hostport}: {e}"))?;
    let body = r#"{"name":"salon-bench"}"#;
    let request = format!(
        "POST /api/rooms HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut response))
        .await
        .map_err(|_| "timed out waiting for the room")?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("bad HTTP response")?;
    if !head.starts_with("HTTP/1.1 201") {
        return Err(format!(
            "room creation failed: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    // The body may be chunked: take the JSON object inside.
    let start = body.find('{').ok_or("no JSON in the response")?;
    let end = body.rfind('}').ok_or("no JSON in the response")?;
    let json: serde_json::Value = serde_json::from_str(body.get(start..=end).ok_or("bad JSON")?)
        .map_err(|e| e.to_string())?;
    json["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no room id in the response".to_owned())
}

/// A room id from an id or an invite link (`…/r/{id}`).
pub fn room_id(link: &str) -> String {
    let link = link.trim().trim_end_matches('/');
    link.rsplit('/').next().unwrap_or(link).to_owned()
}

async fn send(ws: &mut Ws, message: &ClientMessage) -> Result<(), String> {
    tokio::time::timeout(STEP, ws.send(Message::Text(encode(message).into())))
        .await
        .map_err(|_| "signaling write timed out".to_owned())?
        .map_err(|e| e.to_string())
}

async fn call<T>(
    worker: &WorkerHandle,
    make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Command,
) -> Result<T, String> {
    let (tx, rx) = oneshot::channel();
    worker.send(make(tx));
    tokio::time::timeout(STEP, rx)
        .await
        .map_err(|_| "media worker did not answer".to_owned())?
        .map_err(|_| "media worker stopped".to_owned())?
}

/// Runs one participant's signaling until `stop` turns true (then sends `leave`).
pub async fn participant(
    ws_url: String,
    idx: usize,
    role: Role,
    shared: Arc<Shared>,
    worker: WorkerHandle,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let me = shared.people.get(idx).ok_or("no such participant")?;
    me.join_ns.store(shared.now_ns().max(1), Ordering::Relaxed);
    let result = run(&ws_url, idx, role, &shared, &worker, &mut stop).await;
    if result.is_err() {
        me.fail(shared.now_ns());
    }
    result
}

async fn run(
    ws_url: &str,
    idx: usize,
    role: Role,
    shared: &Shared,
    worker: &WorkerHandle,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let me = shared.people.get(idx).ok_or("no such participant")?;
    let (mut ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(ws_url))
        .await
        .map_err(|_| "websocket connect timed out".to_owned())?
        .map_err(|e| format!("websocket: {e}"))?;
    send(
        &mut ws,
        &ClientMessage::Join {
            keep_media: false,
            version: PROTOCOL_VERSION,
            name: format!("bench {idx}"),
            media: MediaState {
                audio: role.audio,
                video: role.video,
            },
            resume: None,
            host_key: None,
            device: None,
        },
    )
    .await?;
    loop {
        match next(&mut ws).await? {
            ServerMessage::Joined { .. } => break,
            ServerMessage::Error { code, message, .. } => {
                return Err(format!("join refused: {code:?}: {message}"));
            }
            ServerMessage::Waiting { .. } => return Err("the room is locked".to_owned()),
            _ => {}
        }
    }
    let offer = call(worker, |reply| Command::Open { idx, reply }).await?;
    // The candidate is in the SDP; trickle it too, as browsers do.
    let candidate = offer
        .lines()
        .filter_map(|l| l.trim().strip_prefix("a="))
        .find(|c| c.starts_with("candidate:"))
        .map(str::to_owned);
    send(&mut ws, &ClientMessage::Offer { sdp: offer }).await?;
    if let Some(candidate) = candidate {
        send(
            &mut ws,
            &ClientMessage::IceCandidate(IceCandidate {
                candidate,
                sdp_mid: Some("0".to_owned()),
                sdp_mline_index: Some(0),
                username_fragment: None,
            }),
        )
        .await?;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            message = next(&mut ws) => {
                match message? {
                    ServerMessage::Answer { sdp } => {
                        call(worker, |reply| Command::Answer { idx, sdp, reply }).await?;
                    }
                    ServerMessage::Offer { sdp } => {
                        me.offers.fetch_add(1, Ordering::Relaxed);
                        let answer = call(worker, |reply| Command::Offer { idx, sdp, reply }).await?;
                        send(&mut ws, &ClientMessage::Answer { sdp: answer }).await?;
                    }
                    ServerMessage::Error { code, message, fatal } => {
                        me.errors.fetch_add(1, Ordering::Relaxed);
                        if fatal {
                            return Err(format!("fatal error from the server: {code:?}: {message}"));
                        }
                    }
                    _ => {}
                }
            }
            _ = ping.tick() => send(&mut ws, &ClientMessage::Ping).await?,
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    let _ = send(&mut ws, &ClientMessage::Leave).await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                    return Ok(());
                }
            }
        }
    }
}

/// The next server message (skipping control frames); an error when the socket closed.
async fn next(ws: &mut Ws) -> Result<ServerMessage, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                return decode_server(t.as_str()).map_err(|e| format!("bad server message: {e}"));
            }
            Some(Ok(Message::Close(_))) | None => return Err("signaling socket closed".to_owned()),
            Some(Err(e)) => return Err(format!("signaling socket: {e}")),
            Some(Ok(_)) => {}
        }
    }
}
