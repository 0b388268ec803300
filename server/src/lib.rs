//! Salon's server: the SFU, signaling, HTTP API and embedded guest page in one process.
//!
//! Layout (see `docs/ARCHITECTURE.md`): [`http`] routes requests; [`participant`] drives one
//! participant's WebSocket and peer connection, after [`admission`] got them in (host key, bans,
//! the lobby); [`hub`] runs one actor per live room (`actor`, with host actions in `hosting`)
//! applying the pure rules of [`room`]; [`sfu`] builds peer connections and forwards RTP;
//! [`presence`] serves doors and who is inside to friends holding a presence key;
//! [`store`] keeps rooms, locks, bans and doors in SQLite (or Redis in cluster mode, where
//! [`cluster`] places each room on one node), keyed by [`identity`]; [`serve`] accepts
//! TCP connections and bounds how long and how many of them a client may hold.

pub mod abuse;
mod actor;
pub mod admission;
pub mod applinks;
pub mod cluster;
pub mod config;
pub mod conn;
mod e2ee;
pub mod handoff;
mod hosting;
pub mod http;
pub mod hub;
pub mod identity;
pub mod ids;
pub mod metrics;
pub mod negotiator;
pub mod participant;
pub mod presence;
pub mod ratelimit;
pub mod room;
mod screenshare;
pub mod serve;
pub mod sfu;
mod social;
pub mod store;
pub mod transfer;
pub mod turn;
pub mod web;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use config::Config;
use hub::Hub;
use sfu::peer::MediaSettings;
use store::{Store, StoreError};

/// Sleeps until `at`, or forever without it (for an optional deadline in a `select!`).
pub(crate) async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub hub: Hub,
    pub media: MediaSettings,
    pub public_url: Option<String>,
    pub local_addr: SocketAddr,
    /// Request limits per client address and overall.
    pub limits: Arc<Mutex<abuse::Limits>>,
    /// Take the client address from `X-Forwarded-For` (set by a trusted reverse proxy).
    pub behind_proxy: bool,
    /// Media handed from a dropped signaling connection to its resume.
    pub handoffs: Arc<handoff::Handoffs<participant::Carry>>,
    /// The association files that let the apps open this server's links.
    pub app_links: Arc<applinks::AppLinks>,
    /// Cluster mode (`--redis`): this node's part; `None` for a single server.
    pub cluster: Option<cluster::Cluster>,
}

impl AppState {
    /// How many people are in the room whose invite link is `/r/<link>` (0 if none).
    pub async fn participants_in(&self, link: &str) -> usize {
        match self.store.room_by_link(link).await {
            Ok(Some(room)) => self.hub.participant_count(&room.id),
            _ => 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--public-url must start with http:// or https:// (got {0:?})")]
    PublicUrl(String),
    #[error(transparent)]
    Media(#[from] sfu::engine::StartError),
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    #[error("--node-url must start with http:// or https:// (got {0:?})")]
    NodeUrl(String),
    #[error(transparent)]
    Turn(#[from] turn::TurnError),
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when it has its own address (`--metrics-bind`).
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// The base URL, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the server stops (it runs until [`Server::stop`] or an I/O failure).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// A handle that stops the server when set to true.
    pub fn shutdown_handle(&self) -> tokio::sync::watch::Sender<bool> {
        self.shutdown.clone()
    }

    pub fn stop(&self) {
        self.shutdown.send_replace(true);
    }
}

/// Opens the database, binds the listener and starts serving.
pub async fn start(config: &Config) -> Result<Server, StartError> {
    if let Some(url) = &config.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(StartError::PublicUrl(url.clone()));
    }
    if let Some(url) = &config.node_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(StartError::NodeUrl(url.clone()));
    }
    let turn = turn::Turn::from_settings(
        &config.turn_urls,
        config.turn_secret.as_deref(),
        std::time::Duration::from_secs(config.turn_ttl),
    )?
    .map(Arc::new);
    let store = match &config.redis {
        Some(url) => Store::connect_redis(url).await?,
        None => Store::open(&config.data_dir)?,
    };
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind,
        source,
    })?;
    let metrics = Arc::new(metrics::Metrics::new());
    let engine = sfu::engine::Engine::start(
        &sfu::engine::EngineConfig {
            bind_ip: config.media_bind_ip(),
            port: config.udp_port,
            tcp: config.media_tcp(),
            public_ip: config.public_ip,
            workers: config.media_workers(),
        },
        metrics.clone(),
    )?;
    let hub = Hub::new(store.clone());
    let cluster = match &config.redis {
        Some(url) => Some(
            cluster::Cluster::start(
                cluster::ClusterConfig {
                    redis_url: url.clone(),
                    node_id: config
                        .node_id
                        .clone()
                        .unwrap_or_else(cluster::random_node_id),
                    node_url: config
                        .node_url
                        .clone()
                        .or_else(|| config.public_url.clone())
                        .unwrap_or_else(|| format!("http://{addr}")),
                    drain: std::time::Duration::from_secs(config.drain_seconds),
                },
                hub.clone(),
                store.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let state = AppState {
        hub,
        cluster,
        store,
        media: MediaSettings {
            engine: Arc::new(engine),
            connect_timeout: Default::default(),
            metrics,
            turn,
        },
        public_url: config.public_url.clone(),
        local_addr: addr,
        limits: Arc::new(Mutex::new(abuse::Limits::new())),
        behind_proxy: config.behind_proxy,
        handoffs: Arc::default(),
        app_links: Arc::new(applinks::AppLinks::new(
            &config.android_apps,
            &config.ios_apps,
        )),
    };
    let app = http::router(state.clone(), config.metrics_bind.is_none());
    let metrics_listener = match config.metrics_bind {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .map_err(|source| StartError::Bind { addr: at, source })?,
        ),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(l.local_addr().map_err(|source| StartError::Bind {
            addr: config.metrics_bind.unwrap_or(addr),
            source,
        })?),
        None => None,
    };
    let settings = serve::Settings {
        timeouts: serve::Timeouts {
            header: config.header_timeout,
            idle: config.idle_timeout,
            request: config.request_timeout,
        },
        // Behind a reverse proxy every TCP peer is the proxy.
        max_per_address: (!config.behind_proxy)
            .then(|| usize::try_from(config.max_connections_per_address).unwrap_or(usize::MAX)),
    };
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    if let Some(listener) = metrics_listener {
        let mut stop = stop.clone();
        let app = http::metrics_router(state.clone());
        tokio::spawn(async move {
            let stopped = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let task = tokio::spawn(serve::run(listener, app, settings, stop));
    Ok(Server {
        addr,
        metrics_addr,
        state,
        task,
        shutdown,
    })
}
