//! The signaling side: one task per participant on a single-threaded tokio runtime speaks the
//! JSON WebSocket protocol (`docs/protocol.md`) with salon-protocol's types; SDP work is handed
//! to the participant's media worker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::{
    ClientMessage, E2eeJoin, IceCandidate, MediaState, PROTOCOL_VERSION, Participant,
    ServerMessage, Tile, TileSize, decode_server, encode,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::media::{Command, Role, Shared, WorkerHandle};
use crate::shape::{AUDIO, VIDEO};

/// How long one signaling step (connect, a reply) may take.
const STEP: Duration = Duration::from_secs(20);
/// The protocol's keep-alive period.
const PING_EVERY: Duration = Duration::from_secs(15);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One HTTP/1.1 exchange with the server at `base` (`http://host:port`): `method path` with an
/// optional JSON body; returns the response's status line and body.
async fn http(
    base: &str,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> Result<(String, String), String> {
    let hostport = base
        .strip_prefix("http://")
        .ok_or("--url must start with http:// (the bench speaks to a local server)")?
        .trim_end_matches('/');
    let mut stream = tokio::time::timeout(STEP, tokio::net::TcpStream::connect(hostport))
        .await
        .map_err(|_| "timed out connecting to the server")?
        .map_err(|e| format!("cannot connect to {hostport}: {e}"))?;
    let body = json.unwrap_or("");
    let content = json.map_or(String::new(), |b| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        )
    });
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\n{content}Connection: close\r\n\r\n{body}"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    tokio::time::timeout(STEP, stream.read_to_end(&mut response))
        .await
        .map_err(|_| format!("timed out waiting for {method} {path}"))?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("bad HTTP response")?;
    Ok((
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    ))
}

/// Creates a room with `POST /api/rooms` on `base` (`http://host:port`), end-to-end encrypted
/// with `e2ee`; returns its id.
pub async fn create_room(base: &str, e2ee: bool) -> Result<String, String> {
    let request = if e2ee {
        r#"{"name":"salon-bench","e2ee":true}"#
    } else {
        r#"{"name":"salon-bench"}"#
    };
    let (status, body) = http(base, "POST", "/api/rooms", Some(request)).await?;
    if !status.starts_with("HTTP/1.1 201") {
        return Err(format!("room creation failed: {status}"));
    }
    // The body may be chunked: take the JSON object inside.
    let start = body.find('{').ok_or("no JSON in the response")?;
    let end = body.rfind('}').ok_or("no JSON in the response")?;
    let json: serde_json::Value = serde_json::from_str(body.get(start..=end).ok_or("bad JSON")?)
        .map_err(|e| e.to_string())?;
    if e2ee && json["e2ee"].as_bool() != Some(true) {
        return Err("the server did not make the room end-to-end encrypted".to_owned());
    }
    json["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "no room id in the response".to_owned())
}

/// The server's counters, by name without `_total`.
pub type Counters = Vec<(String, u64)>;

/// The server's counters (`GET /metrics` on `base`): each `name_total value` line.
pub async fn counters(base: &str) -> Result<Counters, String> {
    let (_, body) = http(base, "GET", "/metrics", None).await?;
    Ok(body
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            let name = name.strip_suffix("_total")?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
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

/// A changed view goes out this long after the first change (the protocol asks for at most a
/// few views per second; people who join together make one view).
const VIEW_DEBOUNCE: Duration = Duration::from_millis(200);

/// The large tile's and the thumbnails' size in a bench `view`.
const LARGE: (u32, u32) = (1280, 720);
const THUMBNAIL: (u32, u32) = (320, 180);

/// The others in the room as one participant knows them.
#[derive(Debug, Default)]
struct Others {
    /// By participant id: the bench index (from the name `bench N`; `None` for anyone else,
    /// e.g. a browser) and whether they publish video.
    by_id: BTreeMap<String, (Option<usize>, bool)>,
}

impl Others {
    fn update(&mut self, p: &Participant, n: usize) {
        let idx = p
            .name
            .strip_prefix("bench ")
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|&i| i < n);
        self.by_id.insert(p.id.clone(), (idx, p.media.video));
    }

    /// Video publishers in a fixed order: bench participants by index, then the others by id.
    fn video_publishers(&self) -> Vec<(Option<usize>, &str)> {
        let mut v: Vec<(Option<usize>, &str)> = self
            .by_id
            .iter()
            .filter(|(_, (_, video))| *video)
            .map(|(id, (idx, _))| (*idx, id.as_str()))
            .collect();
        v.sort_by_key(|&(idx, id)| (idx.unwrap_or(usize::MAX), id));
        v
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).and_then(|(idx, _)| *idx)
    }
}

/// At most `max` of `candidates`, starting at position `me` (modulo their number) and wrapping
/// around: every participant shows a different but fixed selection, and its large tile (the
/// first) differs too.
pub fn view_subset<T: Clone>(candidates: &[T], me: usize, max: usize) -> Vec<T> {
    let len = candidates.len();
    if len == 0 {
        return Vec::new();
    }
    (0..max.min(len))
        .filter_map(|k| candidates.get((me + k) % len).cloned())
        .collect()
}

/// Which tile of `len` is large after `step` moves of the large tile (`--view-churn`).
pub fn large_tile(step: usize, len: usize) -> usize {
    if len == 0 { 0 } else { step % len }
}

/// The tiles of a view of these participants: tile `large` large, the rest thumbnails.
pub fn tiles(ids: &[&str], large: usize) -> Vec<Tile> {
    ids.iter()
        .enumerate()
        .map(|(k, id)| {
            let (size, (width, height)) = if k == large {
                (TileSize::Large, LARGE)
            } else {
                (TileSize::Thumbnail, THUMBNAIL)
            };
            Tile {
                participant_id: (*id).to_owned(),
                source: Default::default(),
                size,
                width,
                height,
            }
        })
        .collect()
}

/// The view last sent: its tiles and which one is large.
type LastView = Option<(Vec<String>, usize)>;

/// Sends this participant's view when it changed (`--view-grid`; the large tile is tile
/// `churn_step` modulo their number), and notes whose video it expects from now on and whose
/// tile is large.
async fn send_view(
    ws: &mut Ws,
    idx: usize,
    shared: &Shared,
    others: &Others,
    churn_step: usize,
    last: &mut LastView,
) -> Result<(), String> {
    if shared.view_grid == 0 {
        return Ok(());
    }
    let publishers = others.video_publishers();
    let shown = view_subset(&publishers, idx, shared.view_grid);
    let ids: Vec<&str> = shown.iter().map(|&(_, id)| id).collect();
    let large = large_tile(churn_step, ids.len());
    if last
        .as_ref()
        .is_some_and(|(l, k)| *k == large && l.iter().map(String::as_str).eq(ids.iter().copied()))
    {
        return Ok(());
    }
    send(
        ws,
        &ClientMessage::View {
            tiles: tiles(&ids, large),
        },
    )
    .await?;
    *last = Some((ids.iter().map(|&id| id.to_owned()).collect(), large));
    let me = shared.people.get(idx).ok_or("no such participant")?;
    me.views_sent.fetch_add(1, Ordering::Relaxed);
    let indices: Vec<usize> = shown.iter().filter_map(|&(i, _)| i).collect();
    let large_idx = shown.get(large).and_then(|&(i, _)| i);
    if let Ok(mut expect) = me.expect.lock() {
        let now = shared.now_ns();
        expect.set(VIDEO, &indices, idx, now);
        expect.view_sent = true;
        if expect.large.last().is_none_or(|&(_, l)| l != large_idx) {
            expect.large.push((now, large_idx));
        }
    }
    Ok(())
}

/// Runs one participant's signaling until `stop` turns true (then sends `leave`).
pub async fn participant(
    ws_url: String,
    idx: usize,
    role: Role,
    e2ee: bool,
    shared: Arc<Shared>,
    worker: WorkerHandle,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let me = shared.people.get(idx).ok_or("no such participant")?;
    me.join_ns.store(shared.now_ns().max(1), Ordering::Relaxed);
    let result = run(&ws_url, idx, role, e2ee, &shared, &worker, &mut stop).await;
    if result.is_err() {
        me.fail(shared.now_ns());
    }
    result
}

async fn run(
    ws_url: &str,
    idx: usize,
    role: Role,
    e2ee: bool,
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
            e2ee: e2ee.then(random_commit),
        },
    )
    .await?;
    let n = shared.people.len();
    let mut others = Others::default();
    let my_id;
    loop {
        match next(&mut ws).await? {
            ServerMessage::Joined {
                participant_id,
                participants,
                ..
            } => {
                for p in &participants {
                    others.update(p, n);
                }
                my_id = participant_id;
                break;
            }
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
    let mut view = None;
    let mut churn_step = 0;
    send_view(&mut ws, idx, shared, &others, churn_step, &mut view).await?;
    let mut view_due: Option<tokio::time::Instant> = None;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let churn_every = shared.view_churn.unwrap_or(Duration::from_secs(3600));
    let mut churn =
        tokio::time::interval_at(tokio::time::Instant::now() + churn_every, churn_every);
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
                    ServerMessage::ParticipantJoined { participant }
                    | ServerMessage::ParticipantUpdated { participant }
                        if participant.id != my_id =>
                    {
                        others.update(&participant, n);
                        view_due.get_or_insert_with(|| tokio::time::Instant::now() + VIEW_DEBOUNCE);
                    }
                    ServerMessage::ParticipantLeft { participant_id } => {
                        others.by_id.remove(&participant_id);
                        view_due.get_or_insert_with(|| tokio::time::Instant::now() + VIEW_DEBOUNCE);
                    }
                    ServerMessage::Speakers { speakers } => {
                        let now = shared.now_ns();
                        me.speakers_msgs.fetch_add(1, Ordering::Relaxed);
                        if shared.in_window(now) {
                            me.speakers_msgs_in_window.fetch_add(1, Ordering::Relaxed);
                        }
                        let indices: Vec<usize> =
                            speakers.iter().filter_map(|id| others.index_of(id)).collect();
                        if let Ok(mut expect) = me.expect.lock() {
                            expect.set(AUDIO, &indices, idx, now);
                        }
                    }
                    ServerMessage::VideoWatched { watched } => {
                        if let Some(count) = me.watched_msgs.get(usize::from(watched)) {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        worker.send(Command::VideoWatched { idx, watched });
                    }
                    ServerMessage::VideoLayers { layers } => {
                        me.layers_msgs.fetch_add(1, Ordering::Relaxed);
                        worker.send(Command::VideoLayers { idx, rids: layers });
                    }
                    _ => {}
                }
            }
            _ = ping.tick() => send(&mut ws, &ClientMessage::Ping).await?,
            _ = churn.tick(), if shared.view_churn.is_some() => {
                churn_step += 1;
                send_view(&mut ws, idx, shared, &others, churn_step, &mut view).await?;
            }
            _ = tokio::time::sleep_until(view_due.unwrap_or_else(tokio::time::Instant::now)),
                if view_due.is_some() =>
            {
                view_due = None;
                send_view(&mut ws, idx, shared, &others, churn_step, &mut view).await?;
            }
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

/// A join's commitment to a random 32-byte public key (ADR 0003 §2.2, §14). The server only
/// checks a later `e2ee_announce` against it, which the bench never sends: its keys are shared
/// in-process.
pub fn random_commit() -> E2eeJoin {
    use base64::Engine as _;
    let public: [u8; 32] = rand::random();
    E2eeJoin {
        commit: base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(salon_e2ee::commit_of(&public)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_rotate_by_participant() {
        let c = [10, 11, 12, 13, 14];
        assert_eq!(view_subset(&c, 0, 3), vec![10, 11, 12]);
        assert_eq!(view_subset(&c, 3, 3), vec![13, 14, 10]);
        assert_eq!(view_subset(&c, 7, 3), vec![12, 13, 14]);
        assert_eq!(view_subset(&c, 4, 9), vec![14, 10, 11, 12, 13]);
        assert_eq!(view_subset(&c, 4, 0), Vec::<i32>::new());
        assert_eq!(view_subset::<i32>(&[], 4, 3), Vec::<i32>::new());
        // Different participants get different large tiles.
        let firsts: Vec<i32> = (0..5).map(|me| view_subset(&c, me, 2)[0]).collect();
        assert_eq!(firsts, vec![10, 11, 12, 13, 14]);
    }

    #[test]
    fn tiles_have_one_large_and_thumbnails() {
        let t = tiles(&["a", "b", "c"], 0);
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].size, t[0].width, t[0].height),
            (TileSize::Large, 1280, 720)
        );
        assert!(
            t[1..]
                .iter()
                .all(|t| (t.size, t.width, t.height) == (TileSize::Thumbnail, 320, 180))
        );
        assert!(tiles(&[], 0).is_empty());
        // The large tile moves with the churn.
        let t = tiles(&["a", "b", "c"], large_tile(4, 3));
        let sizes: Vec<TileSize> = t.iter().map(|t| t.size).collect();
        assert_eq!(
            sizes,
            [TileSize::Thumbnail, TileSize::Large, TileSize::Thumbnail]
        );
        assert_eq!(large_tile(7, 0), 0);
    }

    #[test]
    fn others_sort_bench_participants_first() {
        let p = |id: &str, name: &str, video: bool| Participant {
            id: id.to_owned(),
            name: name.to_owned(),
            media: MediaState { audio: true, video },
            role: salon_protocol::Role::Guest,
            e2ee: None,
            hand: None,
            screen: false,
        };
        let mut o = Others::default();
        o.update(&p("z", "bench 2", true), 10);
        o.update(&p("y", "Ada", true), 10);
        o.update(&p("x", "bench 0", true), 10);
        o.update(&p("w", "bench 1", false), 10);
        o.update(&p("v", "bench 11", true), 10);
        let order: Vec<&str> = o.video_publishers().iter().map(|&(_, id)| id).collect();
        assert_eq!(order, vec!["x", "z", "v", "y"]);
        assert_eq!(o.index_of("z"), Some(2));
        assert_eq!(o.index_of("y"), None);
        assert_eq!(o.index_of("v"), None);
    }
}
