//! Cluster mode with real parts: a `redis-server` on a free loopback port (append-only,
//! fsync on every write) and `salon-server` processes started from the built binary, each
//! reading its own address from the line it prints on stdout. Everything is killed when the
//! [`Cluster`] is dropped, also when a test panics (then the last lines of every log are
//! printed, to see what the servers were doing; `CLUSTER_LOGS=1` prints them always).
//!
//! The tests of one binary share two CPUs at most: [`Cluster::start`] takes a process-wide
//! lock, so that one cluster runs at a time and lease timings are not skewed by another test.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use salon_protocol::{ClientMessage, ServerMessage};

use super::WsClient;

/// The server binary under test.
pub const SERVER: &str = env!("CARGO_BIN_EXE_salon-server");
/// Debian's `redis-server` (the test command installs it).
pub const REDIS: &str = "/usr/bin/redis-server";

/// One cluster at a time per test binary.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `signal` (`STOP`, `CONT`, `TERM`, `KILL`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// The last `n` lines of a log file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A `redis-server` in its own folder; it can be stopped and started again on the same port
/// and folder (its append-only file brings the data back).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    log: PathBuf,
    starts: u32,
}

impl Redis {
    pub async fn start(dir: &Path) -> Self {
        assert!(
            Path::new(REDIS).exists(),
            "{REDIS} is missing: the cluster tests need Debian's redis-server \
             (apt-get install redis-server)"
        );
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self {
            child: None,
            port: free_port(),
            log: dir.join("redis.log"),
            dir,
            starts: 0,
        };
        redis.spawn().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        assert!(self.child.is_none(), "redis is already running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(REDIS)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--dir", self.dir.to_str().unwrap()])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--save", ""])
            .args(["--daemonize", "no"])
            .args(["--protected-mode", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {REDIS}: {e}"));
        self.child = Some(child);
        let port = self.port;
        let ready = super::eventually(Duration::from_secs(15), async || ping(port).await).await;
        assert!(
            ready,
            "redis-server did not answer PING on port {port} within 15 s:\n{}",
            tail(&self.log, 30)
        );
    }

    /// Stops it: `signal` is `TERM` (a clean shutdown) or `KILL`; waits until it is gone.
    pub fn stop_with(&mut self, signal_name: &str) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), signal_name);
            let _ = child.wait();
        }
    }

    pub fn stop(&mut self) {
        self.stop_with("TERM");
    }

    /// Starts it again on the same port, from the same folder.
    pub async fn restart(&mut self) {
        self.spawn().await;
    }

    /// The keys matching `pattern` and their string values (for checks the spec's key names
    /// allow, such as `salon:epoch:*`).
    pub async fn values(&self, pattern: &str) -> Vec<(String, String)> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut conn)
            .await
            .unwrap();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let value: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .unwrap();
            out.push((key, value.unwrap_or_default()));
        }
        out
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a Redis on `port` answers `PING` with `+PONG` (not `-LOADING`).
pub async fn ping(port: u16) -> bool {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        Some(buf[..n].starts_with(b"+PONG"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(true))
    )
}

/// One `salon-server` process.
pub struct Node {
    pub id: String,
    /// `http://127.0.0.1:PORT`, as it printed it.
    pub url: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Node {
    /// Starts `salon-server` with `args` (after the common ones); returns once it printed its
    /// address.
    pub async fn spawn(id: &str, data_dir: &Path, args: &[String]) -> Self {
        use std::io::BufRead as _;
        std::fs::create_dir_all(data_dir).unwrap();
        let log_path = data_dir.join("server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(SERVER)
            .args(["--bind", "127.0.0.1:0", "--udp-port", "0"])
            .args(["--media-threads", "1"])
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args(["--log", "info,rtc=error,webrtc=error"])
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SERVER}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("salon-server listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = match tokio::time::timeout(Duration::from_secs(20), rx).await {
            Ok(Ok(url)) => url,
            _ => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!(
                    "node {id} did not print its address (exit: {status:?}); its log:\n{}",
                    tail(&log_path, 40)
                );
            }
        };
        Self {
            id: id.to_owned(),
            url,
            child: Some(child),
            log: log_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node was killed").id()
    }

    /// `ws://…/api/rooms/{link}/ws` on this node.
    pub fn ws_url(&self, link: &str) -> String {
        format!("{}/api/rooms/{link}/ws", self.url.replacen("http", "ws", 1))
    }

    /// The socket address it serves HTTP on.
    pub fn addr(&self) -> SocketAddr {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap()
    }

    /// `kill -9`, and wait for it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, name: &str) {
        signal(self.pid(), name);
    }

    /// Whether the process has exited (by itself).
    pub fn exited(&mut self) -> bool {
        match &mut self.child {
            None => true,
            Some(child) => child.try_wait().unwrap().is_some(),
        }
    }

    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A Redis and some nodes sharing it.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub redis: Redis,
    pub http: reqwest::Client,
    /// Flags every node gets (besides the common ones and its id).
    pub node_args: Vec<String>,
    pub dir: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    /// Redis and three nodes, `n1`, `n2`, `n3`.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Like [`Cluster::start`], each node with these extra flags.
    pub async fn start_with(extra: &[&str]) -> Self {
        Self::start_staggered(extra, Duration::ZERO).await
    }

    /// Like [`Cluster::start_with`], the nodes started `gap` apart (with a gap, their
    /// announcement ticks are out of step, as on real machines; without, all three tick
    /// together).
    pub async fn start_staggered(extra: &[&str], gap: Duration) -> Self {
        let serial = SERIAL.lock().await;
        let dir = tempfile::tempdir().unwrap();
        let redis = Redis::start(dir.path()).await;
        let mut cluster = Self {
            nodes: Vec::new(),
            redis,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            node_args: extra.iter().map(|s| (*s).to_owned()).collect(),
            dir,
            _serial: serial,
        };
        if gap.is_zero() {
            let started =
                futures_util::future::join_all(["n1", "n2", "n3"].map(|id| cluster.spawn_node(id)))
                    .await;
            cluster.nodes = started;
        } else {
            for (k, id) in ["n1", "n2", "n3"].into_iter().enumerate() {
                if k > 0 {
                    tokio::time::sleep(gap).await;
                }
                cluster.add_node(id).await;
            }
        }
        cluster
    }

    /// A node (not yet added) with this id.
    pub async fn spawn_node(&self, id: &str) -> Node {
        let mut args = vec![
            "--redis".to_owned(),
            self.redis.url(),
            "--node-id".to_owned(),
            id.to_owned(),
        ];
        args.extend(self.node_args.iter().cloned());
        Node::spawn(id, &self.dir.path().join(id), &args).await
    }

    /// Starts another node and adds it; returns its index.
    pub async fn add_node(&mut self, id: &str) -> usize {
        let node = self.spawn_node(id).await;
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// The index of the node with this id.
    pub fn index_of(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .unwrap_or_else(|| panic!("no node {id:?}"))
    }

    /// Indexes of the nodes other than `i`.
    pub fn others(&self, i: usize) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&j| j != i).collect()
    }

    /// `POST /api/rooms` `{"e2ee": false}` through node `i`: the room's link and host key.
    pub async fn create_room(&self, i: usize) -> (String, String) {
        let r = self
            .http
            .post(format!("{}/api/rooms", self.nodes[i].url))
            .json(&serde_json::json!({ "e2ee": false, "name": "Friday" }))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert_eq!(
            status, 201,
            "creating a room through {}: {body}",
            self.nodes[i].id
        );
        (
            body["id"].as_str().unwrap().to_owned(),
            body["host_key"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET /api/rooms/{link}` through node `i`: status and body (`Null` if none or on a
    /// transport error, status 0).
    pub async fn look_up(&self, i: usize, link: &str) -> (u16, serde_json::Value) {
        match self
            .http
            .get(format!("{}/api/rooms/{link}", self.nodes[i].url))
            .send()
            .await
        {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or_default())
            }
            Err(_) => (0, serde_json::Value::Null),
        }
    }

    /// A successful look-up through node `i`: `(node, ws_url, body)`; panics otherwise.
    pub async fn owner_via(&self, i: usize, link: &str) -> (String, String, serde_json::Value) {
        let (status, body) = self.look_up(i, link).await;
        assert_eq!(status, 200, "look-up through {}: {body}", self.nodes[i].id);
        let node = body["node"]
            .as_str()
            .unwrap_or_else(|| panic!("look-up without `node`: {body}"))
            .to_owned();
        let ws = body["ws_url"]
            .as_str()
            .unwrap_or_else(|| panic!("look-up without `ws_url`: {body}"))
            .to_owned();
        (node, ws, body)
    }

    /// The status of `GET {path}` on node `i` within 2 s (0 when it does not answer).
    pub async fn status(&self, i: usize, path: &str) -> u16 {
        let get = self
            .http
            .get(format!("{}{path}", self.nodes[i].url))
            .timeout(Duration::from_secs(2))
            .send();
        match get.await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        }
    }

    pub async fn readyz(&self, i: usize) -> u16 {
        self.status(i, "/readyz").await
    }

    pub async fn healthz(&self, i: usize) -> u16 {
        self.status(i, "/healthz").await
    }

    /// Every node's last log lines, for a failure message.
    pub fn logs(&self, n: usize) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            out.push_str(&format!(
                "--- {} ({}) ---\n{}\n",
                node.id,
                node.url,
                node.log_tail(n)
            ));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // `CLUSTER_LOGS=1` shows them after a passing test too.
        if std::thread::panicking() || std::env::var_os("CLUSTER_LOGS").is_some() {
            eprintln!("{}", self.logs(30));
            eprintln!("--- redis ---\n{}", tail(&self.redis.log, 15));
        }
        for node in &mut self.nodes {
            node.kill9();
        }
    }
}

/// Where a join ended.
pub struct Entry {
    pub client: WsClient,
    /// The first answer that was not `moved` (`None`: the socket closed without one).
    pub reply: Option<ServerMessage>,
    /// The URL that answered.
    pub url: String,
    /// How many `moved` it followed.
    pub moves: usize,
}

impl Entry {
    pub fn joined(&self) -> bool {
        matches!(self.reply, Some(ServerMessage::Joined { .. }))
    }

    /// The participant id and role; panics unless joined.
    pub fn participant(&self) -> (String, salon_protocol::Role) {
        match &self.reply {
            Some(ServerMessage::Joined {
                participant_id,
                role,
                ..
            }) => (participant_id.clone(), *role),
            other => panic!("expected joined at {}, got {other:?}", self.url),
        }
    }

    /// The error code, if the join was refused with one.
    pub fn error(&self) -> Option<salon_protocol::ErrorCode> {
        match &self.reply {
            Some(ServerMessage::Error { code, .. }) => Some(*code),
            _ => None,
        }
    }
}

/// Who joins.
#[derive(Clone, Copy)]
pub struct Guest<'a> {
    pub name: &'a str,
    pub host_key: Option<&'a str>,
    pub device: Option<&'a str>,
    /// The loopback address it connects from (each person its own, so that per-address
    /// limits and address bans tell them apart).
    pub from: Ipv4Addr,
}

impl<'a> Guest<'a> {
    pub fn new(name: &'a str, from: Ipv4Addr) -> Self {
        Self {
            name,
            host_key: None,
            device: None,
            from,
        }
    }

    pub fn host(name: &'a str, key: &'a str) -> Self {
        Self {
            name,
            host_key: Some(key),
            device: None,
            from: Ipv4Addr::LOCALHOST,
        }
    }

    pub fn device(mut self, device: &'a str) -> Self {
        self.device = Some(device);
        self
    }
}

/// `127.0.x.y` for person `n` (1-based, below 65 000).
pub fn address(n: u16) -> Ipv4Addr {
    let [hi, lo] = n.to_be_bytes();
    Ipv4Addr::new(127, 0, hi, lo)
}

/// Opens a signaling socket to `url` from `from`.
pub async fn connect_from(url: &str, from: Ipv4Addr) -> Result<WsClient, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = parsed.host_str().ok_or("no host")?;
    let port = parsed.port_or_known_default().ok_or("no port")?;
    let target: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::from((from, 0)))
        .map_err(|e| format!("bind {from}: {e}"))?;
    let stream = tokio::time::timeout(Duration::from_secs(5), socket.connect(target))
        .await
        .map_err(|_| format!("connecting to {target} timed out"))?
        .map_err(|e| format!("connect {target}: {e}"))?;
    let (ws, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)),
    )
    .await
    .map_err(|_| format!("handshake with {url} timed out"))?
    .map_err(|e| format!("handshake with {url}: {e}"))?;
    Ok(WsClient::from_stream(ws))
}

/// Connects to `url`, sends `who`'s join and, while the answer is `moved`, does the same at the
/// URL it names (at most three moves). Errors: a socket that could not be opened, or no answer
/// within 8 s.
pub async fn try_join(url: &str, who: Guest<'_>) -> Result<Entry, String> {
    let mut url = url.to_owned();
    for moves in 0..=3 {
        let mut client = connect_from(&url, who.from).await?;
        client
            .send_join_as(who.name, who.host_key, who.device)
            .await;
        let reply = tokio::time::timeout(Duration::from_secs(8), client.recv())
            .await
            .map_err(|_| format!("no answer to join at {url} within 8 s"))?;
        match reply {
            Some(ServerMessage::Moved { url: next }) => {
                client.close().await;
                url = next;
            }
            reply => {
                return Ok(Entry {
                    client,
                    reply,
                    url,
                    moves,
                });
            }
        }
    }
    Err(format!("more than three moves in a row (last: {url})"))
}

/// [`try_join`], panicking on a transport failure.
pub async fn join(url: &str, who: Guest<'_>) -> Entry {
    try_join(url, who)
        .await
        .unwrap_or_else(|e| panic!("{} could not join through {url}: {e}", who.name))
}

/// What became of a client's socket.
#[derive(Debug, PartialEq, Eq)]
pub enum Gone {
    /// The server said `moved` to this URL.
    Moved(String),
    /// It closed without `moved`.
    Closed,
    /// Still open at the deadline.
    StillThere,
}

/// Reads (and drops) messages until `moved`, the socket's end, or `within` passes.
pub async fn until_gone(client: &mut WsClient, within: Duration) -> Gone {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Gone::StillThere;
        }
        // Below the client's own 10 s limit, which would panic.
        let step = (deadline - now).min(Duration::from_secs(5));
        match tokio::time::timeout(step, client.recv()).await {
            Err(_) => continue,
            Ok(None) => return Gone::Closed,
            Ok(Some(ServerMessage::Moved { url })) => return Gone::Moved(url),
            Ok(Some(_)) => continue,
        }
    }
}

/// Whether the socket still answers a ping within `within` (other messages are skipped;
/// `moved` or the socket's end is a no).
pub async fn answers_ping(client: &mut WsClient, within: Duration) -> bool {
    client.send(&ClientMessage::Ping).await;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        match tokio::time::timeout(deadline - now, client.recv()).await {
            Err(_) | Ok(None) | Ok(Some(ServerMessage::Moved { .. })) => return false,
            Ok(Some(ServerMessage::Pong)) => return true,
            Ok(Some(_)) => continue,
        }
    }
}

/// Seconds since `t`, for messages.
pub fn since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}
