//! Command-line flags and environment variables. Every setting has an embedded default, so
//! `salon-server` with no arguments serves `http://127.0.0.1:8080`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// The default log filter. webrtc's connection driver logs one ERROR line per packet it cannot
/// route or queue, with the whole packet in it: when the forwarding path falls behind, that is
/// hundreds of megabytes a minute, which any publisher could cause. Those lines are off.
pub const DEFAULT_LOG: &str = "info,rtc=error";

/// Default for `--max-connections-per-address`.
/// The media port.
pub const DEFAULT_UDP_PORT: u16 = 40000;
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 256;
/// Default for [`Config::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`Config::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`Config::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Salon server: drop-in video rooms (SFU, signaling, HTTP API and the browser guest page).
#[derive(Debug, Clone, Parser)]
#[command(name = "salon-server", version, about, long_about = None)]
pub struct Config {
    /// Address and port for HTTP and WebSocket. Use 0.0.0.0:8080 to accept connections from
    /// other machines (put TLS in front for anything beyond a LAN: browsers only allow camera
    /// access on https or localhost). Port 0 picks a free port.
    #[arg(long, env = "SALON_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Serve `GET /metrics` (Prometheus) on this address instead of on --bind, e.g. an address
    /// only your monitoring can reach. Port 0 picks a free port.
    #[arg(long, env = "SALON_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Local IP address that the media (UDP) port binds to. Defaults to the IP of --bind. When
    /// it is 0.0.0.0, the server announces the address of its default route (set --public-ip to
    /// announce another).
    #[arg(long, env = "SALON_MEDIA_IP")]
    pub media_ip: Option<IpAddr>,

    /// Public IP address to announce for media when the server sits behind 1:1 NAT (e.g. a cloud
    /// VM whose public address is not on an interface).
    #[arg(long, env = "SALON_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,

    /// The one UDP port all media uses, whatever the number of rooms and people (open it in
    /// your firewall). 0 lets the operating system pick a free port.
    #[arg(long, env = "SALON_UDP_PORT", default_value_t = DEFAULT_UDP_PORT)]
    pub udp_port: u16,

    /// The TCP port for media from networks that let no UDP through (ICE-TCP, tried after
    /// UDP; open it in your firewall too). Defaults to the UDP port's number. 0 lets the
    /// operating system pick a free port.
    #[arg(long, env = "SALON_TCP_PORT", conflicts_with = "no_tcp")]
    pub tcp_port: Option<u16>,

    /// No ICE-TCP: media over UDP (and TURN, if configured) only.
    #[arg(long, env = "SALON_NO_TCP")]
    pub no_tcp: bool,

    /// Threads that carry media (each room lives on one of them). Defaults to the number of
    /// CPUs.
    #[arg(long, env = "SALON_MEDIA_THREADS", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub media_threads: Option<u16>,

    /// Folder for the SQLite database (created if missing).
    #[arg(
        long,
        env = "SALON_DATA_DIR",
        default_value = "./salon-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Origin used in invite links, e.g. https://salon.example.org. Defaults to the request's Host.
    /// When set, it is also the only origin whose pages may create and join rooms (browsers on
    /// other addresses of this server are refused).
    #[arg(long, env = "SALON_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The server runs behind a reverse proxy that sets X-Forwarded-For: take client addresses
    /// (for rate limits) from that header. Leave off when clients connect directly, or anyone
    /// could claim any address.
    #[arg(long, env = "SALON_BEHIND_PROXY")]
    pub behind_proxy: bool,

    /// Most TCP connections one client address (an IPv4 address, or an IPv6 /64) may hold open at
    /// once; further ones are refused at once. A browser needs about 7 (kept-alive page loads plus
    /// one signaling socket per open room), so the default leaves room for a whole 50-person
    /// room behind one office or carrier NAT, while one address alone cannot use up the
    /// server's file descriptors (silent connections are closed within 10 s anyway).
    /// Not applied with --behind-proxy, where every connection comes from the proxy: limit
    /// connections per client there.
    #[arg(
        long,
        env = "SALON_MAX_CONNECTIONS_PER_ADDRESS",
        default_value_t = DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections_per_address: u32,

    /// How long a client may take to send a request's head (request line and headers), counted
    /// from the connection's start or from the first byte of a later request on it.
    #[arg(skip = DEFAULT_HEADER_TIMEOUT)]
    pub header_timeout: Duration,

    /// How long a kept-alive HTTP connection may sit idle between requests.
    #[arg(skip = DEFAULT_IDLE_TIMEOUT)]
    pub idle_timeout: Duration,

    /// How long a request may take from its head to the server's answer: reading its body,
    /// and for the signaling socket, the WebSocket handshake (its lifetime after that is the
    /// socket's own business).
    #[arg(skip = DEFAULT_REQUEST_TIMEOUT)]
    pub request_timeout: Duration,

    /// An Android app that opens this server's invite links and friend cards (App Links):
    /// PACKAGE=SHA256_FINGERPRINT, its application id and the SHA-256 fingerprint of its signing
    /// certificate (as `keytool -list -v` prints it). Repeat the flag, or separate with commas,
    /// for more apps or keys (a debug and a release key). Served as
    /// /.well-known/assetlinks.json; without it, links open the guest page.
    #[arg(long = "android-app", env = "SALON_ANDROID_APPS", value_delimiter = ',', value_parser = crate::applinks::parse_android_app)]
    pub android_apps: Vec<crate::applinks::AndroidApp>,

    /// An iOS app that opens this server's invite links and friend cards (Universal Links):
    /// TEAMID.BUNDLE_ID, e.g. ABCDE12345.org.example.salon. Repeat the flag, or separate with
    /// commas. Served as /.well-known/apple-app-site-association.
    #[arg(long = "ios-app", env = "SALON_IOS_APPS", value_delimiter = ',', value_parser = crate::applinks::parse_ios_app)]
    pub ios_apps: Vec<crate::applinks::IosApp>,

    /// Log filter (tracing syntax): error, warn, info, debug, trace, or per module such as
    /// "salon_server=debug,webrtc=warn". The default hides the WebRTC stack's transient
    /// connection-setup warnings and its per-packet errors. RUST_LOG is used when this is not set.
    #[arg(long, env = "SALON_LOG", default_value = DEFAULT_LOG)]
    pub log: String,

    /// Cluster mode (`docs/deploy.md`): keep rooms in this Redis or Valkey
    /// (`redis://[user:password@]host:port/db`, `rediss://` for TLS) and share them with the
    /// other nodes using it. Without it, Salon is a single server keeping rooms in SQLite in
    /// --data-dir.
    #[arg(long, env = "SALON_REDIS", global = true)]
    pub redis: Option<String>,

    /// Cluster mode: this node's name, 1 to 32 of a-z, 0-9 and '-' (default: a random one at
    /// each start).
    #[arg(long, env = "SALON_NODE_ID")]
    pub node_id: Option<String>,

    /// Cluster mode: this node's own public base URL, where clients reach it directly (e.g.
    /// https://salon.example/n/a behind one proxy, or https://a.salon.example). Default:
    /// --public-url, else http://<bound address>.
    #[arg(long, env = "SALON_NODE_URL")]
    pub node_url: Option<String>,

    /// Cluster mode: on SIGTERM the node takes no new rooms, lets its rooms go on for this many
    /// seconds (or until they empty), then moves their clients to other nodes and exits.
    #[arg(long, env = "SALON_DRAIN_SECONDS", default_value_t = 300)]
    pub drain_seconds: u64,

    /// A TURN server for clients that cannot reach the media port directly (repeatable, or
    /// comma-separated), e.g. turn:turn.example:3478?transport=udp,
    /// turn:turn.example:3478?transport=tcp, turns:turn.example:443?transport=tcp. Needs
    /// --turn-secret. See docs/deploy.md ("TURN") for a coturn configuration.
    #[arg(long = "turn-url", env = "SALON_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,

    /// The secret shared with the TURN server (coturn's static-auth-secret), at least 16
    /// characters. Each participant gets a credential made from it that expires after
    /// --turn-ttl. Prefer the environment variable: a flag shows in the process list.
    #[arg(long, env = "SALON_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// How long a participant's TURN credential stays valid, in seconds (60 to 604800).
    #[arg(long, env = "SALON_TURN_TTL", default_value_t = crate::turn::DEFAULT_TTL.as_secs())]
    pub turn_ttl: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Writes every room (link, host-key hash, lock, bans, door, chat) as JSON lines to stdout:
    /// from --redis when given, else from --data-dir.
    Export,
    /// Reads rooms written by `export` from stdin into --redis when given, else into
    /// --data-dir. Refuses a room whose id or link already exists.
    Import,
}

impl Config {
    /// A configuration for tests: loopback, any free ports, the given data folder.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            metrics_bind: None,
            media_ip: None,
            public_ip: None,
            udp_port: 0,
            tcp_port: None,
            no_tcp: false,
            // Two, so that datagrams handed between media threads are exercised too.
            media_threads: Some(2),
            data_dir,
            public_url: None,
            behind_proxy: false,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            android_apps: Vec::new(),
            ios_apps: Vec::new(),
            log: "warn".into(),
            redis: None,
            node_id: None,
            node_url: None,
            drain_seconds: 300,
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl: crate::turn::DEFAULT_TTL.as_secs(),
            command: None,
        }
    }

    /// The IP that the media port binds to.
    pub fn media_bind_ip(&self) -> IpAddr {
        self.media_ip.unwrap_or(self.bind.ip())
    }

    /// Where media listens for ICE-TCP.
    pub fn media_tcp(&self) -> crate::sfu::engine::TcpPort {
        use crate::sfu::engine::TcpPort;
        match (self.no_tcp, self.tcp_port) {
            (true, _) => TcpPort::Off,
            (false, None) => TcpPort::SameAsUdp,
            (false, Some(port)) => TcpPort::Port(port),
        }
    }

    /// How many media threads to run.
    pub fn media_workers(&self) -> usize {
        match self.media_threads {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism().map_or(1, |n| n.get().min(64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_tcp_is_on_by_default_on_the_udp_ports_number() {
        use crate::sfu::engine::TcpPort;
        let parse = |args: &[&str]| {
            Config::try_parse_from(std::iter::once("salon-server").chain(args.iter().copied()))
        };
        assert_eq!(parse(&[]).unwrap().media_tcp(), TcpPort::SameAsUdp);
        assert_eq!(
            parse(&["--tcp-port", "443"]).unwrap().media_tcp(),
            TcpPort::Port(443)
        );
        assert_eq!(parse(&["--no-tcp"]).unwrap().media_tcp(), TcpPort::Off);
        assert!(parse(&["--no-tcp", "--tcp-port", "443"]).is_err());
        assert!(parse(&["--tcp-port", "70000"]).is_err());
    }

    #[test]
    fn defaults_need_no_arguments() {
        let c = Config::try_parse_from(["salon-server"]).expect("defaults parse");
        assert_eq!(c.bind, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(c.data_dir, PathBuf::from("./salon-data"));
        assert_eq!(c.media_bind_ip(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(c.max_connections_per_address, 256);
        assert_eq!(c.udp_port, 40000);
        assert!(c.media_workers() >= 1);
        assert!(Config::try_parse_from(["salon-server", "--media-threads", "0"]).is_err());
        assert!(Config::try_parse_from(["salon-server", "--udp-port", "70000"]).is_err());
        assert_eq!(c.header_timeout, DEFAULT_HEADER_TIMEOUT);
        assert_eq!(c.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(c.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert!(
            Config::try_parse_from(["salon-server", "--max-connections-per-address", "0"]).is_err()
        );
    }
}
