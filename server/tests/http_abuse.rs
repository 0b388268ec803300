//! Room bombing, round two: attacks on the HTTP layer through real sockets, each of which
//! worked before its defense (see `docs/security.md`): connections held open without a word or
//! with a trickle of bytes, requests from other websites' pages, and a data folder the server
//! cannot write.
//!
//! The storage tests need root and `unshare(1)` (util-linux): they give the server a private
//! mount namespace with a read-only, immutable or full folder, which `chmod` cannot do for root.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestServer, WsClient};
use salon_protocol::ServerMessage;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
/// Another loopback address: all of 127/8 reaches the server, and to it this is another client.
const NEIGHBOUR: [u8; 4] = [127, 0, 0, 2];

/// A server with short timeouts and a small cap, so the tests take seconds.
async fn server(
    header: Duration,
    idle: Duration,
    request: Duration,
    max_per_address: u32,
) -> TestServer {
    TestServer::start_configured(|c| {
        c.header_timeout = header;
        c.idle_timeout = idle;
        c.request_timeout = request;
        c.max_connections_per_address = max_per_address;
    })
    .await
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((IpAddr::from(from), 0)))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Reads until the server closes the connection (end of stream or reset) or `limit` passes.
/// Returns what was read and how long the connection stayed open, `None` if it did not close.
async fn wait_for_close(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&seen).into(), None),
            Ok(Ok(0) | Err(_)) => {
                return (
                    String::from_utf8_lossy(&seen).into(),
                    Some(started.elapsed()),
                );
            }
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// `GET /healthz` on a fresh connection from `from`; the whole response.
async fn health_from(from: [u8; 4], to: SocketAddr) -> String {
    let mut c = connect_from(from, to).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: salon\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (response, closed) = wait_for_close(&mut c, Duration::from_secs(10)).await;
    assert!(closed.is_some(), "no complete answer: {response:?}");
    response
}

/// Attack: sockets that connect and say nothing, to use up the server's file descriptors.
#[tokio::test]
async fn silent_connections_are_closed_after_the_header_timeout() {
    let s = server(
        Duration::from_secs(1),
        Duration::from_secs(30),
        Duration::from_secs(30),
        64,
    )
    .await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(connect_from(LOOPBACK, s.server.addr).await);
    }
    for c in &mut silent {
        let (said, closed) = wait_for_close(c, Duration::from_secs(8)).await;
        let closed = closed.expect("a silent connection must be closed");
        assert!(closed < Duration::from_secs(5), "closed after {closed:?}");
        assert_eq!(said, "", "nothing to answer");
    }
}

/// Attack: one address opens more connections than its share; the server refuses the extra
/// ones at once, and other clients still get in.
#[tokio::test]
async fn connections_over_the_per_address_cap_are_refused_and_others_still_served() {
    let s = server(
        Duration::from_secs(30),
        Duration::from_secs(30),
        Duration::from_secs(30),
        4,
    )
    .await;
    let addr = s.server.addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(LOOPBACK, addr).await);
    }
    for _ in 0..3 {
        let mut extra = connect_from(LOOPBACK, addr).await;
        let (said, closed) = wait_for_close(&mut extra, Duration::from_secs(3)).await;
        assert!(
            closed.is_some(),
            "a connection over the cap must be closed at once"
        );
        assert!(said.starts_with("HTTP/1.1 429 "), "{said:?}");
        assert!(said.contains("Too many open connections"), "{said:?}");
    }
    // Another address is not affected.
    let other = health_from(NEIGHBOUR, addr).await;
    assert!(other.starts_with("HTTP/1.1 200 "), "{other:?}");
    assert!(other.ends_with("ok"), "{other:?}");
    // A closed connection gives its place back.
    drop(held.pop());
    let again = common::eventually(Duration::from_secs(5), async || {
        health_from(LOOPBACK, addr)
            .await
            .starts_with("HTTP/1.1 200 ")
    })
    .await;
    assert!(again, "a place freed by a closed connection must be usable");
}

/// Attack: a "slowloris" sends its headers a few bytes a second, forever.
#[tokio::test]
async fn slow_headers_are_cut_at_the_header_timeout() {
    let s = server(
        Duration::from_secs(2),
        Duration::from_secs(30),
        Duration::from_secs(30),
        64,
    )
    .await;
    let mut c = connect_from(LOOPBACK, s.server.addr).await;
    let started = Instant::now();
    let head =
        b"GET /healthz HTTP/1.1\r\nHost: salon\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = None;
    for chunk in head.chunks(3) {
        if c.write_all(chunk).await.is_err() {
            cut = Some(started.elapsed());
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(400), c.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => {
                cut = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => panic!(
                "unexpected answer: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
        }
    }
    let cut = cut.expect("the trickling connection must be cut");
    assert!(
        cut >= Duration::from_millis(1500) && cut < Duration::from_secs(5),
        "cut after {cut:?}"
    );
}

/// Attack: a complete head, then the body a byte at a time.
#[tokio::test]
async fn a_trickled_body_is_cut_at_the_request_timeout() {
    let s = server(
        Duration::from_secs(30),
        Duration::from_secs(30),
        Duration::from_secs(2),
        64,
    )
    .await;
    let mut c = connect_from(LOOPBACK, s.server.addr).await;
    c.write_all(
        b"POST /api/rooms HTTP/1.1\r\nHost: salon\r\nContent-Type: application/json\r\n\
          Content-Length: 200\r\n\r\n{",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let mut cut = None;
    for _ in 0..30 {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(300), c.read(&mut buf)).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => {
                cut = Some(started.elapsed());
                break;
            }
            Ok(Ok(n)) => panic!(
                "unexpected answer: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
        }
        if c.write_all(b" ").await.is_err() {
            cut = Some(started.elapsed());
            break;
        }
    }
    let cut = cut.expect("the trickling request must be cut");
    assert!(cut < Duration::from_secs(5), "cut after {cut:?}");
}

/// Attack: one request, then the connection is kept open and idle.
#[tokio::test]
async fn idle_kept_alive_connections_close_after_the_idle_timeout() {
    let s = server(
        Duration::from_secs(1),
        Duration::from_secs(3),
        Duration::from_secs(30),
        64,
    )
    .await;
    let mut c = connect_from(LOOPBACK, s.server.addr).await;
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: salon\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.ends_with(b"\r\n\r\nok") {
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before answering");
        seen.extend_from_slice(&buf[..n]);
    }
    let (_, closed) = wait_for_close(&mut c, Duration::from_secs(10)).await;
    let closed = closed.expect("an idle connection must be closed");
    // Kept for the idle timeout, not cut at the (shorter) header timeout.
    assert!(
        closed >= Duration::from_millis(2500) && closed < Duration::from_secs(7),
        "closed after {closed:?}"
    );
}

/// Not an attack: a signaling socket lives on past every HTTP timeout.
#[tokio::test]
async fn signaling_sockets_outlive_the_http_timeouts() {
    let short = Duration::from_millis(500);
    let s = server(short, short, short, 64).await;
    let id = s.room_id().await;
    let (mut c, _) = WsClient::joined(&s.ws_url(&id), "Stays").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.send(&salon_protocol::ClientMessage::Ping).await;
    c.recv_until(|m| (*m == ServerMessage::Pong).then_some(()))
        .await;
    assert_eq!(s.participants(&id).await, 1);
}

/// The JSON error code of a response body.
fn code(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["error"]["code"].as_str().unwrap_or_default().to_owned()
}

async fn create_with_origin(s: &TestServer, origin: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/rooms", s.url()))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Opens the signaling socket with `origin`: `Ok` if upgraded, else the HTTP status and body.
async fn ws_with_origin(url: &str, origin: Option<&str>) -> Result<WsClient, (u16, String)> {
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, _)) => Ok(WsClient::from_stream(ws)),
        Err(tungstenite::Error::Http(response)) => Err((
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into(),
        )),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Attack: another website's page makes its visitors' browsers create rooms here.
#[tokio::test]
async fn other_websites_cannot_create_rooms() {
    let s = TestServer::start().await;
    // More attempts than the creation burst (20): refusals must not spend it.
    for origin in ["http://evil.example", "null"].into_iter().cycle().take(25) {
        let (status, body) = create_with_origin(&s, Some(origin)).await;
        assert_eq!(status, 403, "{origin}: {body}");
        assert_eq!(code(&body), "forbidden_origin", "{body}");
        assert!(body.contains("another website"), "{body}");
    }
    // Look-alikes of this server are foreign too.
    let port = s.server.addr.port();
    for origin in [
        format!("http://127.0.0.1:{}", port + 1),
        format!("http://127.0.0.1.evil.example:{port}"),
        format!("ftp://127.0.0.1:{port}"),
        "http://127.0.0.1".to_owned(),
    ] {
        let (status, body) = create_with_origin(&s, Some(&origin)).await;
        assert_eq!(status, 403, "{origin}: {body}");
    }
    // The server's own page (same origin, over http or https behind TLS) and native clients.
    for origin in [
        Some(s.url()),
        Some(format!("https://127.0.0.1:{port}")),
        Some(format!("HTTP://127.0.0.1:{port}")),
        None,
    ] {
        let (status, body) = create_with_origin(&s, origin.as_deref()).await;
        assert_eq!(status, 201, "{origin:?}: {body}");
    }
}

/// Attack: another website's page opens signaling sockets (joins rooms, holds seats).
#[tokio::test]
async fn other_websites_cannot_open_signaling_sockets() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    // More attempts than the burst of socket opens (100): refusals must not spend it.
    for i in 0..110 {
        let origin = if i % 2 == 0 {
            "http://evil.example"
        } else {
            "null"
        };
        match ws_with_origin(&url, Some(origin)).await {
            Ok(_) => panic!("a socket from {origin} was opened"),
            Err((status, body)) => {
                assert_eq!(status, 403, "{body}");
                assert_eq!(code(&body), "forbidden_origin", "{body}");
            }
        }
    }
    assert_eq!(s.participants(&id).await, 0);
    // The room page itself, and native clients, still join.
    let mut page = ws_with_origin(&url, Some(&s.url())).await.unwrap();
    assert!(matches!(
        page.join("Page").await,
        ServerMessage::Joined { .. }
    ));
    let mut native = ws_with_origin(&url, None).await.unwrap();
    assert!(matches!(
        native.join("Native").await,
        ServerMessage::Joined { .. }
    ));
    assert_eq!(s.participants(&id).await, 2);
}

/// With `--public-url`, only that origin is the server's own.
#[tokio::test]
async fn the_public_url_is_the_only_own_origin_when_set() {
    let s = TestServer::start_configured(|c| {
        c.public_url = Some("https://salon.example.org/".into());
    })
    .await;
    let (status, body) = create_with_origin(&s, Some("https://salon.example.org")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = create_with_origin(&s, Some("https://salon.example.org:443")).await;
    assert_eq!(status, 201, "the default port is the same origin: {body}");
    for origin in [
        s.url(),
        "http://salon.example.org".to_owned(),
        "https://salon.example.org:8443".to_owned(),
    ] {
        let (status, body) = create_with_origin(&s, Some(&origin)).await;
        assert_eq!(status, 403, "{origin}: {body}");
    }
    let id = s.room_id().await;
    assert!(
        ws_with_origin(&s.ws_url(&id), Some("https://salon.example.org"))
            .await
            .is_ok()
    );
    assert_eq!(
        ws_with_origin(&s.ws_url(&id), Some(&s.url()))
            .await
            .err()
            .map(|(status, _)| status),
        Some(403)
    );
}

// --- A data folder the server cannot write ---

/// Runs `script` with `sh` in a private mount namespace (mounts made there vanish with it).
/// `$BIN` is the salon-server binary, `$DIR` is `dir` and `$SRC` is `src`.
fn in_namespace(script: &str, dir: &Path, src: &Path) -> Child {
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-euc", script])
        .env("BIN", env!("CARGO_BIN_EXE_salon-server"))
        .env("DIR", dir)
        .env("SRC", src)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("these tests need unshare(1) from util-linux")
}

/// Waits for the process to exit; its exit status and stderr. Panics if it keeps running,
/// i.e. if the server started.
fn expect_exit(mut child: Child, what: &str) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(
                !stderr.contains("Operation not permitted") || !stderr.contains("unshare:"),
                "these tests need root (CAP_SYS_ADMIN) for unshare --mount: {stderr}"
            );
            assert!(
                !stdout.contains("listening on"),
                "{what}: the server started: {stdout}"
            );
            return (status, stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{what}: the server did not exit; stdout: {}; stderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A folder with a Salon database in it, as a server that ran before leaves it.
fn used_data_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    drop(salon_server::store::Store::open(dir.path()).unwrap());
    assert!(dir.path().join("salon.db").exists());
    dir
}

const SERVE: &str =
    r#"exec "$BIN" --bind 127.0.0.1:0 --udp-port 0 --log warn --data-dir "$DIR/data""#;

/// Attack (on the operator): the data folder is on a read-only disk.
#[test]
fn a_read_only_data_folder_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let before = used_data_folder();
    std::fs::copy(before.path().join("salon.db"), data.join("salon.db")).unwrap();
    let child = in_namespace(
        &format!(
            r#"mount --bind "$DIR/data" "$DIR/data"; mount -o remount,bind,ro "$DIR/data"; {SERVE}"#
        ),
        dir.path(),
        before.path(),
    );
    let (status, stderr) = expect_exit(child, "read-only folder");
    assert!(!status.success());
    assert!(
        stderr.contains(&format!(
            "cannot save rooms in the data folder {}",
            data.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(stderr.contains("--data-dir"), "{stderr}");
}

/// The case of the bug report: the folder is fine, but salon.db cannot be written (here made
/// immutable, which stops root too; for other users, a read-only file). SQLite then opens it
/// read-only without a word, and the server used to start and fail every room creation.
#[test]
fn an_unwritable_database_stops_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let before = used_data_folder();
    let child = in_namespace(
        &format!(
            r#"mount -t tmpfs tmpfs "$DIR"; mkdir "$DIR/data"; cp "$SRC/salon.db" "$DIR/data/"
               chattr +i "$DIR/data/salon.db"; {SERVE}"#
        ),
        dir.path(),
        before.path(),
    );
    let (status, stderr) = expect_exit(child, "immutable salon.db");
    assert!(!status.success());
    let data = dir.path().join("data");
    assert!(
        stderr.contains(&format!(
            "cannot save rooms in the data folder {}",
            data.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot write salon.db: Operation not permitted"),
        "{stderr}"
    );
}

/// Attack (on the operator): the disk fills up while the server runs. Room creation then says
/// so, instead of a bare 500.
#[tokio::test]
async fn a_full_disk_while_running_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = in_namespace(
        &format!(r#"mount -t tmpfs -o size=2m tmpfs "$DIR"; mkdir "$DIR/data"; {SERVE}"#),
        dir.path(),
        dir.path(),
    );
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(30), line)
        .await
        .expect("the server did not start")
        .unwrap()
        .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    let base = line
        .trim()
        .strip_prefix("salon-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let http = reqwest::Client::new();
    let create = async || {
        let r = http.post(format!("{base}/api/rooms")).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(create().await.0, 201);

    // Fill the server's disk, seen through its own mount namespace.
    let inside = Path::new("/proc")
        .join(pid.to_string())
        .join("root")
        .join(dir.path().strip_prefix("/").unwrap())
        .join("data");
    assert!(inside.join("salon.db").exists(), "{}", inside.display());
    let mut fill = std::fs::File::create(inside.join("fill")).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if std::io::Write::write_all(&mut fill, &block).is_err() {
            break;
        }
    }
    drop(fill);

    let (status, body) = create().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(code(&body), "storage_unavailable", "{body}");
    assert!(body.contains("disk is full or read-only"), "{body}");
    // Look-ups still work: the rooms are there to read.
    let r = http
        .get(format!("{base}/api/rooms/AAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Behind a reverse proxy that rewrites `Host`, the host the browser asked for comes in
/// `X-Forwarded-Host`; a server not behind a proxy ignores that header.
#[tokio::test]
async fn behind_a_proxy_the_forwarded_host_is_an_own_origin() {
    for behind_proxy in [true, false] {
        let s = TestServer::start_configured(|c| c.behind_proxy = behind_proxy).await;
        let r = reqwest::Client::new()
            .post(format!("{}/api/rooms", s.url()))
            .header("host", "127.0.0.1:8080")
            .header("x-forwarded-host", "salon.example.org")
            .header("x-forwarded-for", "192.0.2.1")
            .header("origin", "https://salon.example.org")
            .send()
            .await
            .unwrap();
        let expected = if behind_proxy { 201 } else { 403 };
        assert_eq!(
            r.status().as_u16(),
            expected,
            "behind a proxy: {behind_proxy}"
        );
    }
}
