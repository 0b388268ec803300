//! Test support: a server on 127.0.0.1:0 with a fresh data folder, HTTP helpers, and a
//! lightweight signaling client.
#![allow(dead_code, clippy::unwrap_used)]

pub mod cluster;
pub mod coturn;
pub mod rtc;

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::{
    ClientMessage, MediaState, PROTOCOL_VERSION, Role, ServerMessage, decode_server, encode,
};
use salon_server::config::Config;
use tokio_tungstenite::tungstenite::Message;

pub struct TestServer {
    pub server: salon_server::Server,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// One counter of `GET /metrics` (0 until it first counts).
    pub async fn counter(&self, name: &str) -> u64 {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    }

    pub async fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_with(dir, |_| {}).await
    }

    /// A server that takes client addresses from `X-Forwarded-For`, so tests can play many
    /// addresses.
    pub async fn start_behind_proxy() -> Self {
        Self::start_with(tempfile::tempdir().unwrap(), |c| c.behind_proxy = true).await
    }

    async fn start_with(dir: tempfile::TempDir, adjust: impl FnOnce(&mut Config)) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let mut config = Config::for_tests(dir.path().to_owned());
        adjust(&mut config);
        let server = salon_server::start(&config).await.unwrap();
        Self { server, dir }
    }

    /// A server with `adjust` applied to its configuration.
    pub async fn start_configured(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_with(tempfile::tempdir().unwrap(), adjust).await
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn ws_url(&self, room: &str) -> String {
        format!("ws://{}/api/rooms/{room}/ws", self.server.addr)
    }

    /// Creates a room; returns the JSON response.
    pub async fn create_room(&self, name: Option<&str>) -> serde_json::Value {
        let body = match name {
            Some(n) => serde_json::json!({ "name": n }),
            None => serde_json::json!({}),
        };
        self.create_room_with(body).await
    }

    /// Creates a room from this `POST /api/rooms` body (`{"e2ee": true}`, …); returns the JSON
    /// response.
    pub async fn create_room_with(&self, body: serde_json::Value) -> serde_json::Value {
        let r = reqwest::Client::new()
            .post(format!("{}/api/rooms", self.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// `GET /api/rooms/{link}` as JSON.
    pub async fn room_info(&self, link: &str) -> serde_json::Value {
        reqwest::get(format!("{}/api/rooms/{link}", self.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// How many people are in the room with invite id `link`.
    pub async fn participants(&self, link: &str) -> u64 {
        self.room_info(link).await["participants"].as_u64().unwrap()
    }

    pub async fn room_id(&self) -> String {
        self.create_room(None).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A signaling-only participant.
pub struct WsClient {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

pub const STEP: Duration = Duration::from_secs(10);

impl WsClient {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self { ws }
    }

    /// Connects as if from `address` (for a server behind a proxy: `X-Forwarded-For`).
    pub async fn connect_from(url: &str, address: &str) -> Self {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
                .unwrap();
        request
            .headers_mut()
            .insert("x-forwarded-for", address.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        Self { ws }
    }

    pub fn from_stream(
        ws: tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> Self {
        Self { ws }
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_text(&encode(message)).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// Next server message, skipping control frames. `None` when the socket closed.
    /// The next message, skipping the chat history every join is sent (`tests/social.rs` reads
    /// it with [`WsClient::recv_any`]).
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        loop {
            match self.recv_any().await {
                Some(ServerMessage::ChatHistory { .. }) => continue,
                other => return other,
            }
        }
    }

    /// The next message, whatever it is.
    pub async fn recv_any(&mut self) -> Option<ServerMessage> {
        loop {
            let frame = tokio::time::timeout(STEP, self.ws.next())
                .await
                .expect("timed out waiting for a server message");
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return Some(decode_server(t.as_str()).expect("server sent a valid message"));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Next message that `pick` accepts, skipping others.
    pub async fn recv_until<T>(&mut self, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
        loop {
            let m = self.recv().await.expect("socket closed while waiting");
            if let Some(t) = pick(&m) {
                return t;
            }
        }
    }

    pub async fn join(&mut self, name: &str) -> ServerMessage {
        self.send_join(name, None).await;
        self.recv().await.expect("reply to join")
    }

    /// Sends `join`, resuming `(participant_id, token)` when given.
    pub async fn send_join(&mut self, name: &str, resume: Option<(&str, &str)>) {
        self.send(&ClientMessage::Join {
            keep_media: false,
            version: PROTOCOL_VERSION,
            name: name.into(),
            media: MediaState::default(),
            resume: resume.map(|(participant_id, token)| salon_protocol::Resume {
                participant_id: participant_id.into(),
                token: token.into(),
            }),
            host_key: None,
            device: None,
            e2ee: None,
        })
        .await;
    }

    /// Sends a resuming `join` that asks to keep its peer connection.
    pub async fn send_resume_keeping_media(
        &mut self,
        name: &str,
        participant_id: &str,
        token: &str,
    ) {
        self.send(&ClientMessage::Join {
            keep_media: true,
            version: PROTOCOL_VERSION,
            name: name.into(),
            media: MediaState::default(),
            resume: Some(salon_protocol::Resume {
                participant_id: participant_id.into(),
                token: token.into(),
            }),
            host_key: None,
            device: None,
            e2ee: None,
        })
        .await;
    }

    /// Sends a full `join` with credentials.
    pub async fn send_join_as(&mut self, name: &str, host_key: Option<&str>, device: Option<&str>) {
        self.send(&ClientMessage::Join {
            keep_media: false,
            version: PROTOCOL_VERSION,
            name: name.into(),
            media: MediaState::default(),
            resume: None,
            host_key: host_key.map(str::to_owned),
            device: device.map(str::to_owned),
            e2ee: None,
        })
        .await;
    }

    /// Connects and joins; panics unless joined. Returns the client and its participant id.
    pub async fn joined(url: &str, name: &str) -> (Self, String) {
        let mut c = Self::connect(url).await;
        match c.join(name).await {
            ServerMessage::Joined { participant_id, .. } => (c, participant_id),
            other => panic!("expected joined, got {other:?}"),
        }
    }

    /// Connects and sends a join with credentials; returns the client and the first reply.
    pub async fn connect_as(
        url: &str,
        name: &str,
        host_key: Option<&str>,
        device: Option<&str>,
    ) -> (Self, ServerMessage) {
        let mut c = Self::connect(url).await;
        c.send_join_as(name, host_key, device).await;
        let reply = c.recv().await.expect("reply to join");
        (c, reply)
    }

    pub async fn expect_error(&mut self) -> (salon_protocol::ErrorCode, bool) {
        match self.recv().await {
            Some(ServerMessage::Error { code, fatal, .. }) => (code, fatal),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut f: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a room; returns its invite id and host key.
pub async fn room(s: &TestServer) -> (String, String) {
    let created = s.create_room(Some("Friday")).await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["host_key"].as_str().unwrap().to_owned(),
    )
}

/// Joins room `id` as its owner (with the host key); panics unless the server says so.
pub async fn owner(s: &TestServer, id: &str, key: &str) -> WsClient {
    let (c, reply) = WsClient::connect_as(&s.ws_url(id), "Owner", Some(key), None).await;
    match reply {
        ServerMessage::Joined { role, .. } => assert_eq!(role, Role::Owner),
        other => panic!("expected joined, got {other:?}"),
    }
    c
}

/// Locks the room and waits until the server says so.
pub async fn lock(host: &mut WsClient) {
    host.send(&ClientMessage::SetLocked { locked: true }).await;
    host.recv_until(|m| {
        matches!(m, ServerMessage::RoomUpdated { room } if room.locked).then_some(())
    })
    .await;
}

/// Everything the server logs, in memory: [`capture_logs`] installs it as the test binary's
/// subscriber, at trace level for the server's own code.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures the server's logs (once per test binary).
pub fn capture_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,salon_server=trace",
        ))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    captured
}

/// Unpadded base64url, as the end-to-end fields are sent.
pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A join's key commitment: `base64url(SHA-256("salon/e2ee/v1/commit" || pub))`.
pub fn e2ee_commit(public: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"salon/e2ee/v1/commit");
    h.update(public);
    b64(&h.finalize())
}
