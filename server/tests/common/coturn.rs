//! A real coturn (Debian's `turnserver`; the test command installs it) on a free loopback port,
//! configured as `docs/deploy.md` tells operators to (TURN REST secret, no relaying to
//! loopback or private ranges except the Salon node), and a small TURN client on `rtc`'s
//! sans-IO one to ask it for allocations and permissions.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::turn::client::{Client, ClientConfig, Event};

/// Debian's coturn.
pub const TURNSERVER: &str = "/usr/bin/turnserver";

pub struct Coturn {
    child: Child,
    pub addr: SocketAddr,
    pub realm: String,
    _dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts coturn with `secret`, relaying to loopback only for `salon` (the Salon node's
    /// address). Waits until it answers.
    pub fn start(secret: &str, salon: Ipv4Addr) -> Self {
        assert!(
            std::path::Path::new(TURNSERVER).exists(),
            "{TURNSERVER} is missing: `apt-get install coturn` (scripts/test-all.sh does it)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let (min, max) = relay_ports();
        let realm = "salon.test".to_owned();
        let conf = dir.path().join("turnserver.conf");
        let mut f = std::fs::File::create(&conf).unwrap();
        // The relay-safety lines are those of docs/deploy.md; the test only adds loopback
        // (where everything here lives) and the Salon node's loopback address.
        writeln!(
            f,
            "listening-ip=127.0.0.1
listening-port={port}
relay-ip=127.0.0.1
min-port={min}
max-port={max}
realm={realm}
use-auth-secret
static-auth-secret={secret}
fingerprint
no-tls
no-dtls
no-cli
no-multicast-peers
allow-loopback-peers
denied-peer-ip=0.0.0.0-0.255.255.255
denied-peer-ip=10.0.0.0-10.255.255.255
denied-peer-ip=100.64.0.0-100.127.255.255
denied-peer-ip=127.0.0.0-127.255.255.255
denied-peer-ip=169.254.0.0-169.254.255.255
denied-peer-ip=172.16.0.0-172.31.255.255
denied-peer-ip=192.168.0.0-192.168.255.255
allowed-peer-ip={salon}
user-quota=12
total-quota=1200
stale-nonce=600
pidfile={pid}
log-file=stdout
simple-log",
            pid = dir.path().join("turnserver.pid").display(),
        )
        .unwrap();
        drop(f);
        let child = Command::new(TURNSERVER)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start turnserver");
        let coturn = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            realm,
            _dir: dir,
        };
        coturn.wait_ready();
        coturn
    }

    /// Until coturn answers a STUN binding request (at most 10 s).
    fn wait_ready(&self) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        // A bare Binding request: type 0x0001, length 0, the magic cookie, a transaction id.
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        request.extend_from_slice(&[7; 12]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 512];
        while Instant::now() < deadline {
            let _ = socket.send_to(&request, self.addr);
            if let Ok((n, _)) = socket.recv_from(&mut buf)
                && n >= 20
                && buf[0..2] == [0x01, 0x01]
            {
                return;
            }
        }
        panic!("coturn did not answer on {} within 10 s", self.addr);
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A range of relay ports of its own for each coturn of a test run (tests run in parallel).
fn relay_ports() -> (u16, u16) {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 52000 + (std::process::id() % 50) as u16 * 200;
    let k = NEXT.fetch_add(1, Ordering::Relaxed) % 10;
    (base + k * 20, base + k * 20 + 19)
}

/// What coturn said to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok(SocketAddr),
    /// Refused; the text has STUN's error code in it (401 unauthorized, 403 forbidden).
    Refused(String),
    NoAnswer,
}

/// A TURN client over UDP with one allocation.
pub struct TurnClient {
    socket: UdpSocket,
    client: Client,
    server: SocketAddr,
    pub relayed: Option<SocketAddr>,
}

impl TurnClient {
    pub fn new(server: SocketAddr, username: &str, password: &str) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let provider: Arc<dyn rtc::crypto::RTCCryptoProvider> =
            rtc::crypto::default_provider().expect("a crypto provider");
        let client = Client::new(
            ClientConfig {
                turn_serv_addr: server.to_string(),
                local_addr: socket.local_addr().unwrap(),
                transport_protocol: TransportProtocol::UDP,
                username: username.to_owned(),
                password: password.to_owned(),
                rto_in_ms: 200,
                ..ClientConfig::default()
            },
            provider,
        )
        .expect("TURN client");
        Self {
            socket,
            client,
            server,
            relayed: None,
        }
    }

    /// Asks for a relayed address.
    pub fn allocate(&mut self) -> Outcome {
        self.client.allocate(Instant::now()).expect("allocate");
        let outcome = self.run(|event| match event {
            Event::AllocateResponse(_, relayed) => Some(Outcome::Ok(relayed)),
            Event::AllocateError(_, e) => Some(Outcome::Refused(e.to_string())),
            _ => None,
        });
        if let Outcome::Ok(relayed) = outcome {
            self.relayed = Some(relayed);
        }
        outcome
    }

    /// Asks the relay to let `peer` in and out (after [`Self::allocate`]).
    pub fn permit(&mut self, peer: SocketAddr) -> Outcome {
        let relayed = self.relayed.expect("allocate first");
        self.client
            .relay(relayed)
            .expect("the allocation")
            .create_permission(Instant::now(), peer)
            .expect("create permission");
        self.run(|event| match event {
            Event::CreatePermissionResponse(_, peer) => Some(Outcome::Ok(peer)),
            Event::CreatePermissionError(_, e) => Some(Outcome::Refused(e.to_string())),
            _ => None,
        })
    }

    /// Drives the client until `pick` takes an event (at most 5 s).
    fn run(&mut self, mut pick: impl FnMut(Event) -> Option<Outcome>) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(5);
        let local = self.socket.local_addr().unwrap();
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            while let Some(out) = self.client.poll_write() {
                let _ = self.socket.send_to(&out.message, out.transport.peer_addr);
            }
            while let Some(event) = self.client.poll_event() {
                if let Some(outcome) = pick(event) {
                    return outcome;
                }
            }
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let _ = self.client.handle_read(TaggedBytesMut {
                        now: Instant::now(),
                        transport: TransportContext {
                            local_addr: local,
                            peer_addr: from,
                            ecn: None,
                            transport_protocol: TransportProtocol::UDP,
                        },
                        message: BytesMut::from(&buf[..n]),
                    });
                }
                Err(_) => {
                    let _ = self.client.handle_timeout(Instant::now());
                }
            }
        }
        let _ = self.server;
        Outcome::NoAnswer
    }
}
