//! HTTP over TCP: the accept loop, the per-connection timeouts and the per-address cap on open
//! connections. `axum::serve` has neither, so one silent client could hold sockets (and file
//! descriptors) until the server could accept no one else.
//!
//! Each connection is in one of three phases, each with its own deadline:
//! - **head**: from the connection's start, or the first byte of a later request, until the
//!   request's head is complete ([`Timeouts::header`]): silent and slow-header clients are cut;
//! - **busy**: from a complete head until the answer is ready ([`Timeouts::request`]): bounds a
//!   trickled body and the WebSocket handshake;
//! - **idle**: between requests on a kept-alive connection, reset whenever the answer makes
//!   progress ([`Timeouts::idle`]).
//!
//! Once a connection is upgraded to a WebSocket, the socket's own liveness rules apply (join
//! timeout, pings); it still counts against its address's cap until it closes.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::identity::network;

/// How long each phase of a connection may last (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
    pub request: Duration,
}

/// How the server treats connections.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub timeouts: Timeouts,
    /// Most open connections per client network (see [`network`]); `None` for no cap (behind a
    /// reverse proxy every connection comes from the proxy).
    pub max_per_address: Option<usize>,
}

/// Serves `app` on `listener` until `stop` turns true, then lets the open connections finish
/// their requests and returns.
pub async fn run(
    listener: TcpListener,
    app: Router,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let counts = settings
        .max_per_address
        .map(|max| Arc::new(OpenConnections::new(max)));
    // Each connection task holds a receiver; `closed()` resolves when all are gone.
    let (all_closed, closed_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors or memory: wait instead of spinning; the
                        // timeouts free descriptors soon.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let slot = match &counts {
            Some(counts) => match counts.open(peer.ip()) {
                Some(slot) => Some(slot),
                None => {
                    refuse(&stream);
                    continue;
                }
            },
            None => None,
        };
        tokio::spawn(connection(
            stream,
            peer,
            slot,
            app.clone(),
            settings.timeouts,
            stop.clone(),
            closed_rx.clone(),
        ));
    }
    drop(listener);
    drop(closed_rx);
    all_closed.closed().await;
    Ok(())
}

/// Resolves once the server is told to stop (or its stop handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Errors that concern one connection only (the client went away mid-handshake).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Answers a connection over its address's cap and closes it, without waiting for anything.
fn refuse(stream: &TcpStream) {
    const BODY: &str = "Too many open connections from your network; close some and try again.\n";
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\n\
         retry-after: 10\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    // A fresh socket's send buffer is empty, so this does not block; if it fails, the client
    // just sees the connection close.
    let _ = stream.try_write(response.as_bytes());
    tracing::debug!("refused a connection: too many open from one address");
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Option<Slot>,
    app: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
    _closed: watch::Receiver<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        stream,
        activity: activity.clone(),
        _slot: slot,
    });
    let router = TowerToHyperService::new(app);
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            activity.set(Phase::Busy);
            let answer = hyper::service::Service::call(&router, request);
            let activity = activity.clone();
            async move {
                let response = answer.await;
                activity.set(Phase::Idle);
                response
            }
        })
    };
    // No hyper timer: hyper's header timeout would also cut kept-alive connections after the
    // (short) header timeout; the phases below keep the two apart.
    let mut conn = pin!(
        hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .with_upgrades()
    );
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(&timeouts);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                if activity.deadline(&timeouts) <= Instant::now() {
                    tracing::debug!(phase = ?activity.phase(), "closing a connection that timed out");
                    return;
                }
            }
            () = activity.changed.notified() => {}
            () = stopped(&mut stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is in its request cycle (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head = 0,
    Busy = 1,
    Idle = 2,
}

/// A connection's phase and when it began, in one atomic word (phase in the low two bits,
/// milliseconds since `start` above them): written by the socket and the request handler,
/// read by the connection's watchdog.
struct Activity {
    start: Instant,
    word: AtomicU64,
    /// Wakes the watchdog when the phase changes (a new phase may end sooner).
    changed: tokio::sync::Notify,
}

impl Activity {
    /// A new connection waits for its first request's head.
    fn new() -> Self {
        Self {
            start: Instant::now(),
            word: AtomicU64::new(Phase::Head as u64),
            changed: tokio::sync::Notify::new(),
        }
    }

    /// Enters `phase` now.
    fn set(&self, phase: Phase) {
        let before = self.word.swap(self.word_for(phase), Ordering::Relaxed);
        if Self::decode(before).0 != phase {
            self.changed.notify_one();
        }
    }

    /// Enters `to` now if the connection is in phase `from`; true if it was.
    fn advance(&self, from: Phase, to: Phase) -> bool {
        let current = self.word.load(Ordering::Relaxed);
        Self::decode(current).0 == from
            && self
                .word
                .compare_exchange(
                    current,
                    self.word_for(to),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    fn word_for(&self, phase: Phase) -> u64 {
        let millis = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX >> 2);
        (millis << 2) | phase as u64
    }

    fn decode(word: u64) -> (Phase, Duration) {
        let phase = match word & 3 {
            0 => Phase::Head,
            1 => Phase::Busy,
            _ => Phase::Idle,
        };
        (phase, Duration::from_millis(word >> 2))
    }

    fn load(&self) -> (Phase, Instant) {
        let (phase, since) = Self::decode(self.word.load(Ordering::Relaxed));
        (phase, self.start + since)
    }

    fn phase(&self) -> Phase {
        self.load().0
    }

    /// When the current phase runs out.
    fn deadline(&self, timeouts: &Timeouts) -> Instant {
        let (phase, since) = self.load();
        let limit = match phase {
            Phase::Head => timeouts.header,
            Phase::Busy => timeouts.request,
            Phase::Idle => timeouts.idle,
        };
        // A huge timeout means "practically never".
        since
            .checked_add(limit)
            .unwrap_or_else(|| since + Duration::from_secs(365 * 24 * 3600))
    }

    /// Bytes arrived: on an idle connection they start the next request's head.
    fn read(&self) {
        if self.advance(Phase::Idle, Phase::Head) {
            self.changed.notify_one();
        }
    }

    /// An answer made progress: an idle connection is not stuck (its deadline only moves later,
    /// so the watchdog need not wake).
    fn wrote(&self) {
        self.advance(Phase::Idle, Phase::Idle);
    }
}

/// The TCP stream with its phase bookkeeping and its place in the per-address count (given
/// back when the stream is dropped, also after a WebSocket upgrade).
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    _slot: Option<Slot>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Open connections per client network. Entries go away at zero, so the table is never larger
/// than the number of open connections.
struct OpenConnections {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenConnections {
    fn new(max: usize) -> Self {
        Self {
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a new connection from `address`; `None` when its network is at the cap.
    fn open(self: &Arc<Self>, address: IpAddr) -> Option<Slot> {
        let key = network(address);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            counts: self.clone(),
            key,
        })
    }

    #[cfg(test)]
    fn count(&self, address: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&network(address)).copied().unwrap_or(0)
    }
}

/// One open connection in [`OpenConnections`]; dropping it gives the place back.
struct Slot {
    counts: Arc<OpenConnections>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn the_cap_is_per_network_and_slots_come_back() {
        let counts = Arc::new(OpenConnections::new(2));
        let a = counts.open(ip("2001:db8:1:2::1")).expect("first");
        let _b = counts
            .open(ip("2001:db8:1:2::ffff"))
            .expect("second, same /64");
        assert!(
            counts.open(ip("2001:db8:1:2::7")).is_none(),
            "third in the /64"
        );
        assert!(counts.open(ip("2001:db8:1:3::1")).is_some(), "another /64");
        let _c = counts.open(ip("192.0.2.1")).expect("ipv4");
        let _d = counts
            .open(ip("::ffff:192.0.2.1"))
            .expect("mapped is the same ipv4");
        assert!(counts.open(ip("192.0.2.1")).is_none());
        drop(a);
        assert_eq!(counts.count(ip("2001:db8:1:2::1")), 1);
        assert!(
            counts.open(ip("2001:db8:1:2::9")).is_some(),
            "a slot came back"
        );
    }

    #[test]
    fn every_phase_has_its_own_deadline() {
        let timeouts = Timeouts {
            header: Duration::from_secs(1),
            idle: Duration::from_secs(60),
            request: Duration::from_secs(10),
        };
        let activity = Activity::new();
        let start = activity.start;
        assert_eq!(activity.phase(), Phase::Head);
        assert_eq!(activity.deadline(&timeouts), start + timeouts.header);
        activity.read();
        assert_eq!(activity.phase(), Phase::Head, "bytes of the head");
        activity.set(Phase::Busy);
        activity.read();
        assert_eq!(activity.phase(), Phase::Busy, "bytes of the body");
        assert!(activity.deadline(&timeouts) >= start + timeouts.request);
        activity.set(Phase::Idle);
        assert!(activity.deadline(&timeouts) >= start + timeouts.idle);
        activity.wrote();
        assert_eq!(activity.phase(), Phase::Idle);
        activity.read();
        assert_eq!(activity.phase(), Phase::Head, "the next request");
    }
}
