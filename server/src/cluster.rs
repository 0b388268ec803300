//! Cluster mode (`--redis`, `docs/deploy.md`): several nodes share rooms through Redis or Valkey.
//!
//! A room lives on one node, its *owner*, which holds the live room (participants, lobby,
//! mutes) in memory. Redis holds what must survive a node: the durable room (`crate::store`),
//! and here the nodes and the leases:
//!
//! - `salon:node:{node}`: `{"id","url","load","state"}`, expiring after [`NODE_TTL`], refreshed
//!   every [`TICK`]; `salon:nodes` is the set of ids ever announced (stale ones are skipped and
//!   removed). A node that dies disappears on its own.
//! - `salon:lease:{room}` = `{node}:{epoch}`, expiring after [`LEASE_TTL`], refreshed by the
//!   owner every [`TICK`] while it holds the room and for [`LINGER`] after it empties.
//!   `salon:epoch:{room}` counts the claims: the epoch is the fencing token every durable write
//!   of the room's actor checks (`Store::hold_lease`), so a node that lost its lease (paused,
//!   cut off) can neither overwrite nor delete.
//! - `salon:owner:{room}`: the room's last owner (no expiry, deleted with the lease when the
//!   room empties): a room whose lease lapsed goes back to it while it serves, and after a
//!   silence of the whole cluster (`salon:heartbeat` gone: a Redis outage or restart) look-ups
//!   wait for it to come back (`salon:recovering`) instead of moving its call elsewhere.
//! - `salon:placed:{node}` counts recent placements, so a burst of new rooms does not pile onto
//!   the node that looked least loaded a moment ago.
//!
//! The first look-up of a room without a live owner places it: two random serving nodes, the
//! less loaded wins (power of two choices), claimed by one atomic script, so concurrent
//! look-ups through different nodes agree on one owner. A lease whose node key lapsed is taken
//! over at once with a new epoch. Nothing durable is cached: every look-up reads Redis, so a
//! rotated link is refused everywhere as soon as it is written.
//!
//! Pub/sub (`salon:hints`) carries only "changed, re-read" hints for drop-in presence:
//! `{node} occupants|door|key {room}`. A node watching a room it does not own re-reads the door
//! and key from Redis, and asks the owner who is inside (`/api/cluster/occupants/{room}`):
//! never a copy kept in Redis.
//!
//! Redis trouble never stops media: a node keeps the rooms it holds while Redis is away, and
//! takes their leases again (with a new epoch) when it returns, unless another node got there
//! first, in which case its clients are sent there (`moved`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::seq::IndexedRandom as _;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::hub::Hub;
use crate::store::Store;

/// How often a node announces itself and refreshes its leases.
pub const TICK: Duration = Duration::from_secs(2);
/// A node key lapses this long after its last refresh.
pub const NODE_TTL: Duration = Duration::from_secs(6);
/// How long a page's policy or an Origin check waits for a fresh list of nodes.
const KNOWN_REFRESH_WAIT: Duration = Duration::from_millis(500);
/// A lease lapses this long after its last refresh (longer than [`NODE_TTL`]: a dead node's
/// rooms are taken over when its node key lapses, before their leases do).
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How long a node keeps an empty room's lease, for people coming back.
pub const LINGER: Duration = Duration::from_secs(30);
/// Placements counted against a node for this long.
const PLACED_TTL: Duration = Duration::from_secs(10);
/// Every Redis call gives up after this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub redis_url: String,
    pub node_id: String,
    /// This node's public base URL (`http(s)://host[:port][/prefix]`).
    pub node_url: String,
    /// How long a draining node keeps its rooms before moving their clients.
    pub drain: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot reach Redis at {url}: {cause}")]
    Connect { url: String, cause: String },
    #[error("Redis did not answer: {0}")]
    Redis(String),
    #[error("no node is serving (all are draining or gone)")]
    NoNode,
    #[error("invalid cluster setting: {0}")]
    Setting(String),
}

impl From<redis::RedisError> for ClusterError {
    fn from(e: redis::RedisError) -> Self {
        Self::Redis(e.to_string())
    }
}

/// What a node announces about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub url: String,
    pub load: u64,
    pub state: NodeState,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    Serving,
    Draining,
}

/// The node that owns a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub node: String,
    /// Its public base URL.
    pub url: String,
    /// This node.
    pub mine: bool,
}

/// A lease this node holds.
struct Held {
    token: String,
    empty_since: Option<Instant>,
}

struct Inner {
    config: ClusterConfig,
    redis: ConnectionManager,
    hub: Hub,
    store: Store,
    draining: AtomicBool,
    held: Mutex<HashMap<String, Held>>,
    /// The nodes seen at the last announcement, for `Origin` checks.
    known: Mutex<Vec<NodeInfo>>,
    /// Shared by the nodes through Redis (`salon:hop-secret`): marks the look-ups nodes ask of
    /// each other, which the owner answers itself and does not count against the asking node's
    /// address.
    hop_secret: String,
    /// For look-ups asked of other nodes.
    http: reqwest::Client,
    client: redis::Client,
}

/// Who is inside a room, as its owner tells another node (`/api/cluster/occupants/{room}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OccupantsReply {
    pub names: Vec<String>,
    pub owner_inside: bool,
}

const HINTS: &str = "salon:hints";

/// This node's part in the cluster; cheap to clone.
#[derive(Clone)]
pub struct Cluster(Arc<Inner>);

fn node_key(node: &str) -> String {
    format!("salon:node:{node}")
}

/// The key of a room's lease (`store::redis` checks it before every fenced write).
pub fn lease_key(room_id: &str) -> String {
    format!("salon:lease:{room_id}")
}

fn epoch_key(room_id: &str) -> String {
    format!("salon:epoch:{room_id}")
}

fn owner_key(room_id: &str) -> String {
    format!("salon:owner:{room_id}")
}

fn placed_key(node: &str) -> String {
    format!("salon:placed:{node}")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether `id` is a usable node id: 1–32 of `a-z`, `0-9`, `-`.
pub fn valid_node_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A random node id, for nodes started without `--node-id`.
pub fn random_node_id() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The signaling URL of room `link` on the node whose base URL is `base`.
pub fn ws_url(base: &str, link: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    format!("{base}/api/rooms/{link}/ws")
}

/// Places a room, or answers its live owner. KEYS: lease, epoch, last owner. ARGV: candidate
/// node (empty: only answer, don't choose), lease ms, node key prefix, the recovering key.
/// Returns `{token, 0}` for a live owner, `{token, 1}` when this call claimed it, `{"", 3}`
/// when a candidate is needed (asked without one), `{"", 2}` when it must wait: the cluster is
/// recovering from a silence (a Redis outage) and the room's last owner has not announced
/// itself again yet — it probably still holds the call, and will take its lease back within a
/// tick. A room whose lease lapsed goes back to its last owner while that one is serving.
const PLACE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur then
  local node = string.match(cur, '^(.*):%d+$')
  if node and redis.call('EXISTS', ARGV[3] .. node) == 1 then
    return {cur, 0}
  end
end
local candidate = ARGV[1]
local last = redis.call('GET', KEYS[3])
if last then
  local info = redis.call('GET', ARGV[3] .. last)
  if info then
    if not string.find(info, '"state":"draining"', 1, true) then
      candidate = last
    end
  elseif redis.call('EXISTS', ARGV[4]) == 1 then
    return {'', 2}
  end
end
if candidate == '' then
  return {'', 3}
end
local epoch = redis.call('INCR', KEYS[2])
local token = candidate .. ':' .. epoch
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
redis.call('SET', KEYS[3], candidate)
return {token, 1}
"#;

/// Refreshes a held lease. KEYS: lease, epoch, last owner. ARGV: held token, lease ms, this
/// node. Returns the lease's token now: the held one (refreshed), a new one of this node's (the
/// lease had lapsed, e.g. during a Redis outage, and was taken again with a new epoch), or
/// another node's (lost).
const REFRESH: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return cur
end
if not cur then
  local epoch = redis.call('INCR', KEYS[2])
  local token = ARGV[3] .. ':' .. epoch
  redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
  redis.call('SET', KEYS[3], ARGV[3])
  return token
end
return cur
";

/// One request against an address's shared limit (GCRA: a token bucket kept as the time its
/// bucket will be full again). KEYS: the counter. ARGV: ms per token, burst tolerance in ms.
/// Returns 0 (allowed) or the ms to wait.
const SHARED_LIMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - tolerance > now then
  return tat - tolerance - now
end
redis.call('SET', KEYS[1], tat + per, 'PX', math.ceil(tat + per - now) + 1000)
return 0
";

/// Deletes a lease if it is still the given one, and the room's last owner with it. KEYS:
/// lease, last owner. ARGV: token, this node.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if redis.call('GET', KEYS[2]) == ARGV[2] then
    redis.call('DEL', KEYS[2])
  end
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Set while the cluster recovers from a silence: no node announced itself for longer than
/// a node key lives (a Redis outage or restart, or a cold start). Lives for a node key's life
/// and a tick, long enough for every live node to announce itself again.
const RECOVERING: &str = "salon:recovering";
const RECOVERING_TTL: Duration = Duration::from_secs(9);
/// Refreshed by every announcement, lives as long as a node key.
const HEARTBEAT: &str = "salon:heartbeat";
/// How long a look-up waits for a recovering room's last owner to come back.
const RECOVERY_WAIT: Duration = Duration::from_secs(10);

// Each script is hashed (SHA-1) once, not at every call.
static PLACE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(PLACE));
static REFRESH_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(REFRESH));
static RELEASE_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(RELEASE));
static SHARED_LIMIT_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(SHARED_LIMIT));

fn token_node(token: &str) -> Option<&str> {
    let (node, epoch) = token.rsplit_once(':')?;
    epoch.parse::<u64>().ok()?;
    Some(node)
}

impl Cluster {
    /// Connects to Redis, announces this node and starts its announcement and lease loops.
    pub async fn start(
        config: ClusterConfig,
        hub: Hub,
        store: Store,
    ) -> Result<Self, ClusterError> {
        if !valid_node_id(&config.node_id) {
            return Err(ClusterError::Setting(format!(
                "--node-id must be 1 to 32 of a-z, 0-9 and '-' (got {:?})",
                config.node_id
            )));
        }
        let shown = redacted(&config.redis_url);
        let client =
            redis::Client::open(config.redis_url.as_str()).map_err(|e| ClusterError::Connect {
                url: shown.clone(),
                cause: e.to_string(),
            })?;
        let settings = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let redis = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new_with_config(client.clone(), settings),
        )
        .await
        .map_err(|_| ClusterError::Connect {
            url: shown.clone(),
            cause: "timed out".into(),
        })?
        .map_err(|e| ClusterError::Connect {
            url: shown.clone(),
            cause: e.to_string(),
        })?;
        let hop_secret = {
            let mut redis = redis.clone();
            let fresh = crate::ids::new_host_key();
            let _: Option<String> = redis::cmd("SET")
                .arg("salon:hop-secret")
                .arg(&fresh)
                .arg("NX")
                .query_async(&mut redis)
                .await?;
            let secret: Option<String> = redis::cmd("GET")
                .arg("salon:hop-secret")
                .query_async(&mut redis)
                .await?;
            secret.ok_or_else(|| ClusterError::Redis("salon:hop-secret vanished".into()))?
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClusterError::Setting(format!("cannot make an HTTP client: {e}")))?;
        let cluster = Self(Arc::new(Inner {
            client,
            http,
            hop_secret,
            config,
            redis,
            hub,
            store,
            draining: AtomicBool::new(false),
            held: Mutex::default(),
            known: Mutex::default(),
        }));
        cluster.announce().await?;
        let (hints, hints_rx) = tokio::sync::mpsc::unbounded_channel();
        cluster.0.hub.presence().send_hints(hints);
        tokio::spawn(cluster.clone().publish_hints(hints_rx));
        tokio::spawn(cluster.clone().follow_hints());
        let ticking = cluster.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = ticking.announce().await {
                    tracing::warn!(error = %e, "cannot announce this node to Redis");
                }
                ticking.refresh_leases().await;
            }
        });
        Ok(cluster)
    }

    pub fn node_id(&self) -> &str {
        &self.0.config.node_id
    }

    pub fn node_url(&self) -> &str {
        &self.0.config.node_url
    }

    /// The value of the header marking a look-up one node asks of another.
    pub fn hop_secret(&self) -> &str {
        &self.0.hop_secret
    }

    /// The HTTP client for look-ups asked of other nodes.
    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// Whether a request carries the cluster's hop secret (it came from another node).
    pub fn is_hop(&self, value: Option<&[u8]>) -> bool {
        use subtle::ConstantTimeEq as _;
        value.is_some_and(|v| bool::from(v.ct_eq(self.0.hop_secret.as_bytes())))
    }

    pub fn draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    fn redis(&self) -> ConnectionManager {
        self.0.redis.clone()
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.0.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether this node holds the room's lease (as far as it knows: checked every [`TICK`]).
    pub fn holds(&self, room_id: &str) -> bool {
        self.held().contains_key(room_id)
    }

    fn info(&self) -> NodeInfo {
        NodeInfo {
            id: self.0.config.node_id.clone(),
            url: self.0.config.node_url.clone(),
            load: u64::try_from(self.0.hub.participants_total()).unwrap_or(u64::MAX),
            state: if self.draining() {
                NodeState::Draining
            } else {
                NodeState::Serving
            },
        }
    }

    async fn announce(&self) -> Result<(), ClusterError> {
        let info = self.info();
        let json = serde_json::to_string(&info).map_err(|e| ClusterError::Redis(e.to_string()))?;
        let mut redis = self.redis();
        let before: Option<String> = redis::cmd("SET")
            .arg(HEARTBEAT)
            .arg("1")
            .arg("PX")
            .arg(millis(NODE_TTL))
            .arg("GET")
            .query_async(&mut redis)
            .await?;
        if before.is_none() {
            // Nobody announced for a node key's life: give last owners time to come back.
            tracing::info!(
                "the cluster was silent (Redis outage, restart or cold start): recovering"
            );
            let () = redis::cmd("SET")
                .arg(RECOVERING)
                .arg("1")
                .arg("PX")
                .arg(millis(RECOVERING_TTL))
                .query_async(&mut redis)
                .await?;
        }
        let () = redis::pipe()
            .cmd("SET")
            .arg(node_key(&info.id))
            .arg(json)
            .arg("PX")
            .arg(millis(NODE_TTL))
            .ignore()
            .cmd("SADD")
            .arg("salon:nodes")
            .arg(&info.id)
            .ignore()
            .query_async(&mut redis)
            .await?;
        let nodes = self.nodes().await?;
        *self.0.known.lock().unwrap_or_else(|p| p.into_inner()) = nodes;
        Ok(())
    }

    /// Re-reads the live nodes into the list [`Self::socket_origins`] and
    /// [`Self::knows_origin`] answer from (else refreshed with each announcement, every 2 s):
    /// a node that joined a moment ago must not be missing from a page's policy, or refused
    /// as the origin of a page it served. Keeps the old list if Redis does not answer quickly.
    pub async fn refresh_known(&self) {
        if let Ok(Ok(nodes)) = tokio::time::timeout(KNOWN_REFRESH_WAIT, self.nodes()).await {
            *self.0.known.lock().unwrap_or_else(|p| p.into_inner()) = nodes;
        }
    }

    /// The nodes alive now (their keys have not lapsed).
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, ClusterError> {
        let mut redis = self.redis();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg("salon:nodes")
            .query_async(&mut redis)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| node_key(id)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut redis)
            .await?;
        let mut alive = Vec::new();
        let mut gone = Vec::new();
        for (id, value) in ids.iter().zip(values) {
            match value.and_then(|v| serde_json::from_str::<NodeInfo>(&v).ok()) {
                Some(info) if info.id == *id => alive.push(info),
                _ => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            let _: Result<(), _> = redis::cmd("SREM")
                .arg("salon:nodes")
                .arg(&gone)
                .query_async(&mut redis)
                .await;
        }
        Ok(alive)
    }

    /// The URL of a live node, or `None`.
    async fn url_of(&self, node: &str) -> Result<Option<String>, ClusterError> {
        if node == self.node_id() {
            return Ok(Some(self.node_url().to_owned()));
        }
        let mut redis = self.redis();
        let value: Option<String> = redis::cmd("GET")
            .arg(node_key(node))
            .query_async(&mut redis)
            .await?;
        Ok(value
            .and_then(|v| serde_json::from_str::<NodeInfo>(&v).ok())
            .map(|info| info.url))
    }

    /// Chooses where to place a new room: two random serving nodes, the less loaded.
    async fn candidate(&self) -> Result<String, ClusterError> {
        let nodes: Vec<NodeInfo> = self
            .nodes()
            .await?
            .into_iter()
            .filter(|n| n.state == NodeState::Serving)
            .collect();
        if nodes.is_empty() {
            return Err(ClusterError::NoNode);
        }
        let two: Vec<&NodeInfo> = nodes.choose_multiple(&mut rand::rng(), 2).collect();
        let mut redis = self.redis();
        let keys: Vec<String> = two.iter().map(|n| placed_key(&n.id)).collect();
        let placed: Vec<Option<u64>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut redis)
            .await?;
        let best = two
            .iter()
            .zip(placed)
            .min_by_key(|(n, placed)| n.load + placed.unwrap_or(0))
            .map(|(n, _)| n.id.clone())
            .ok_or(ClusterError::NoNode)?;
        Ok(best)
    }

    /// The room's owner, placing the room first if it has no live one. When the owner is this
    /// node, it takes the lease up (its durable writes are fenced with its token from now on).
    pub async fn owner(&self, room_id: &str) -> Result<Owner, ClusterError> {
        let waiting_since = Instant::now();
        let mut tries = 0;
        // First without a candidate: most look-ups find a live owner, and choosing one costs
        // three round trips.
        let mut candidate = String::new();
        while tries < 4 {
            let mut redis = self.redis();
            let (token, placed): (String, i64) = PLACE_SCRIPT
                .key(lease_key(room_id))
                .key(epoch_key(room_id))
                .key(owner_key(room_id))
                .arg(&candidate)
                .arg(millis(LEASE_TTL))
                .arg("salon:node:")
                .arg(RECOVERING)
                .invoke_async(&mut redis)
                .await?;
            if placed == 2 {
                if waiting_since.elapsed() > RECOVERY_WAIT {
                    return Err(ClusterError::NoNode);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            if placed == 3 {
                candidate = self.candidate().await?;
                tries += 1;
                continue;
            }
            tries += 1;
            let node = token_node(&token)
                .ok_or_else(|| ClusterError::Redis(format!("malformed lease {token:?}")))?
                .to_owned();
            if placed == 1 {
                let _: Result<(), _> = redis::pipe()
                    .cmd("INCR")
                    .arg(placed_key(&node))
                    .ignore()
                    .cmd("PEXPIRE")
                    .arg(placed_key(&node))
                    .arg(millis(PLACED_TTL))
                    .ignore()
                    .query_async(&mut redis)
                    .await;
                tracing::info!(room = %room_id, node = %node, lease = %token, "room placed");
            }
            let mine = node == self.node_id();
            if mine {
                self.adopt(room_id, &token);
            }
            // A node that lapsed between the script and here: place again.
            if let Some(url) = self.url_of(&node).await? {
                return Ok(Owner { node, url, mine });
            }
        }
        Err(ClusterError::NoNode)
    }

    fn adopt(&self, room_id: &str, token: &str) {
        let mut held = self.held();
        match held.get_mut(room_id) {
            Some(h) if h.token == token => {}
            _ => {
                self.0.store.hold_lease(room_id, token.to_owned());
                held.insert(
                    room_id.to_owned(),
                    Held {
                        token: token.to_owned(),
                        empty_since: None,
                    },
                );
                tracing::info!(room = %room_id, lease = %token, "this node owns the room");
            }
        }
    }

    /// Refreshes every held lease; gives up rooms another node took, and leases of rooms empty
    /// for [`LINGER`].
    async fn refresh_leases(&self) {
        let now = Instant::now();
        let rooms: Vec<(String, String, bool)> = {
            let mut held = self.held();
            held.iter_mut()
                .map(|(room, h)| {
                    let empty = self.0.hub.participant_count(room) == 0;
                    if !empty {
                        h.empty_since = None;
                    } else if h.empty_since.is_none() {
                        h.empty_since = Some(now);
                    }
                    let expired = h.empty_since.is_some_and(|t| now - t >= LINGER);
                    (room.clone(), h.token.clone(), expired)
                })
                .collect()
        };
        for (room, token, expired) in rooms {
            if expired && !self.0.hub.is_live(&room) {
                if self.release(&room, &token).await.is_ok() {
                    self.forget(&room, &token);
                    tracing::info!(room = %room, "room empty; lease released");
                }
                continue;
            }
            let mut redis = self.redis();
            let now_token: Result<String, _> = REFRESH_SCRIPT
                .key(lease_key(&room))
                .key(epoch_key(&room))
                .key(owner_key(&room))
                .arg(&token)
                .arg(millis(LEASE_TTL))
                .arg(self.node_id())
                .invoke_async(&mut redis)
                .await;
            let now_token = match now_token {
                Ok(t) => t,
                // Redis is away: keep the room (media never depends on Redis).
                Err(e) => {
                    tracing::debug!(room = %room, error = %e, "cannot refresh the lease");
                    continue;
                }
            };
            if now_token == token {
                continue;
            }
            if token_node(&now_token) == Some(self.node_id()) {
                tracing::warn!(room = %room, lease = %now_token, "lease had lapsed; taken again");
                self.forget(&room, &token);
                self.adopt(&room, &now_token);
                continue;
            }
            tracing::warn!(room = %room, lease = %now_token, "another node took the room over; moving its clients");
            self.forget(&room, &token);
            let target = match token_node(&now_token) {
                Some(node) => self.url_of(node).await.ok().flatten(),
                None => None,
            };
            self.0
                .hub
                .evacuate(&room, target.unwrap_or_else(|| self.node_url().to_owned()));
        }
    }

    /// Deletes the room's lease (and last owner) if it is still `token`.
    async fn release(&self, room_id: &str, token: &str) -> Result<i64, redis::RedisError> {
        let mut redis = self.redis();
        RELEASE_SCRIPT
            .key(lease_key(room_id))
            .key(owner_key(room_id))
            .arg(token)
            .arg(self.node_id())
            .invoke_async(&mut redis)
            .await
    }

    fn forget(&self, room_id: &str, token: &str) {
        let mut held = self.held();
        if held.get(room_id).is_some_and(|h| h.token == token) {
            held.remove(room_id);
            self.0.store.release_lease(room_id);
        }
    }

    /// Tells the other nodes what changed here (presence: who is inside, the door, the key).
    async fn publish_hints(
        self,
        mut hints: tokio::sync::mpsc::UnboundedReceiver<crate::presence::Hint>,
    ) {
        use crate::presence::HintKind;
        while let Some((room, kind)) = hints.recv().await {
            // Who is inside is the owner's to say.
            if kind == HintKind::Occupants && !self.holds(&room) {
                continue;
            }
            let kind = match kind {
                HintKind::Occupants => "occupants",
                HintKind::Door => "door",
                HintKind::Key => "key",
            };
            let mut redis = self.redis();
            let published: Result<i64, _> = redis::cmd("PUBLISH")
                .arg(HINTS)
                .arg(format!("{} {kind} {room}", self.node_id()))
                .query_async(&mut redis)
                .await;
            if let Err(e) = published {
                tracing::debug!(error = %e, "cannot publish a presence hint");
            }
        }
    }

    /// Follows the other nodes' hints (re-subscribing after a Redis outage).
    async fn follow_hints(self) {
        use futures_util::StreamExt as _;
        loop {
            match self.0.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(HINTS).await.is_ok() {
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            if let Ok(text) = message.get_payload::<String>() {
                                self.on_hint(&text).await;
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "cannot subscribe to the cluster's hints"),
            }
            tokio::time::sleep(TICK).await;
        }
    }

    async fn on_hint(&self, text: &str) {
        let mut parts = text.split(' ');
        let (Some(node), Some(kind), Some(room), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if node == self.node_id() || room.len() > 64 {
            return;
        }
        let presence = self.0.hub.presence();
        match kind {
            "occupants" => self.fetch_occupants(room).await,
            "door" | "key" => {
                if let Ok(Some(stored)) = self.0.store.presence_of(room).await {
                    if kind == "door" {
                        presence.remote_door(room, stored.door);
                    } else {
                        presence.remote_key(room, stored.key_hash);
                    }
                }
            }
            _ => {}
        }
    }

    /// Asks the room's owner who is inside (for friends watching it through this node).
    pub async fn fetch_occupants(&self, room_id: &str) {
        if self.0.hub.is_live(room_id) {
            return;
        }
        let mut redis = self.redis();
        let lease: Result<Option<String>, _> = redis::cmd("GET")
            .arg(lease_key(room_id))
            .query_async(&mut redis)
            .await;
        let owner = match lease.ok().flatten().as_deref().and_then(token_node) {
            Some(node) if node != self.node_id() => node.to_owned(),
            // Nobody owns it (or this node does, with nobody inside): empty.
            _ => {
                self.0
                    .hub
                    .presence()
                    .remote_occupants(room_id, crate::presence::Occupants::default());
                return;
            }
        };
        let Ok(Some(url)) = self.url_of(&owner).await else {
            return;
        };
        let reply = self
            .0
            .http
            .get(format!(
                "{}/api/cluster/occupants/{room_id}",
                url.trim_end_matches('/')
            ))
            .header("x-salon-hop", self.hop_secret())
            .send()
            .await;
        let Ok(reply) = reply else { return };
        let Ok(occupants) = reply.json::<OccupantsReply>().await else {
            return;
        };
        self.0.hub.presence().remote_occupants(
            room_id,
            crate::presence::Occupants {
                names: occupants
                    .names
                    .into_iter()
                    .take(salon_protocol::MAX_PARTICIPANTS)
                    .collect(),
                owner_inside: occupants.owner_inside,
            },
        );
    }

    /// Counts one `action` from `address` against the limit all nodes share; `Some` is how long
    /// to wait. When Redis cannot count, `None` (each node's own limit still holds).
    pub async fn shared_limit(
        &self,
        action: crate::abuse::Action,
        address: std::net::IpAddr,
    ) -> Option<Duration> {
        let (per_second, burst) = action.per_address();
        let per_ms = (1000.0 / per_second).ceil();
        let tolerance = per_ms * (burst - 1.0).max(0.0);
        let key = format!(
            "salon:rl:{}:{}",
            action.name(),
            crate::identity::network(address)
        );
        let mut redis = self.redis();
        let wait: Result<i64, _> = SHARED_LIMIT_SCRIPT
            .key(key)
            .arg(format!("{per_ms:.0}"))
            .arg(format!("{tolerance:.0}"))
            .invoke_async(&mut redis)
            .await;
        match wait {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(u64::try_from(ms).unwrap_or(1000))),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, "cannot count against the shared limit");
                None
            }
        }
    }

    /// Whether Redis answers (for `/readyz`), and this node is serving.
    pub async fn ready(&self) -> Result<(), &'static str> {
        if self.draining() {
            return Err("draining");
        }
        let mut redis = self.redis();
        let pong: Result<Result<String, _>, _> = tokio::time::timeout(
            CALL_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut redis),
        )
        .await;
        match pong {
            Ok(Ok(_)) => Ok(()),
            _ => Err("redis unreachable"),
        }
    }

    /// The WebSocket origins of the nodes (`ws://host:port`, `wss://host`), for the pages'
    /// `connect-src`.
    pub fn socket_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self
            .0
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|n| n.url.as_str())
            .chain(std::iter::once(self.node_url()))
            .filter_map(|u| url::Url::parse(u).ok())
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
            .map(|o| {
                let http = o.ascii_serialization();
                match http.strip_prefix("https://") {
                    Some(rest) => format!("wss://{rest}"),
                    None => http.replacen("http://", "ws://", 1),
                }
            })
            .collect();
        origins.sort();
        origins.dedup();
        origins
    }

    /// Whether a page at `origin` (`scheme://host[:port]`) is one of the cluster's nodes.
    pub fn knows_origin(&self, origin: &url::Origin) -> bool {
        let own = url::Url::parse(self.node_url()).is_ok_and(|u| u.origin() == *origin);
        own || self
            .0
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|n| url::Url::parse(&n.url).is_ok_and(|u| u.origin() == *origin))
    }

    /// Drains this node (SIGTERM): it takes no new rooms at once; the rooms it holds go on until
    /// the drain deadline (or until they empty), then their clients are moved to other nodes.
    /// Returns when the node may exit.
    pub async fn drain(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
        if let Err(e) = self.announce().await {
            tracing::warn!(error = %e, "cannot announce the drain to Redis");
        }
        let deadline = Instant::now() + self.0.config.drain;
        tracing::info!(
            seconds = self.0.config.drain.as_secs(),
            "draining: no new rooms; existing rooms continue until the deadline"
        );
        while Instant::now() < deadline {
            let busy = self
                .held()
                .keys()
                .any(|room| self.0.hub.participant_count(room) > 0);
            if !busy {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let rooms: Vec<(String, String)> = self
            .held()
            .iter()
            .map(|(r, h)| (r.clone(), h.token.clone()))
            .collect();
        for (room, token) in rooms {
            let _ = self.release(&room, &token).await;
            self.forget(&room, &token);
            if self.0.hub.participant_count(&room) == 0 {
                continue;
            }
            // Placed on a serving node now (this one no longer is), or back to this node's own
            // URL if none is left, where clients will be refused cleanly.
            let target = match self.owner(&room).await {
                Ok(owner) if !owner.mine => owner.url,
                _ => self.node_url().to_owned(),
            };
            tracing::info!(room = %room, to = %target, "drain deadline: moving the room's clients");
            self.0.hub.evacuate(&room, target);
        }
        // Let the `moved` messages go out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut redis = self.redis();
        let _: Result<(), _> = redis::pipe()
            .cmd("DEL")
            .arg(node_key(self.node_id()))
            .ignore()
            .cmd("SREM")
            .arg("salon:nodes")
            .arg(self.node_id())
            .ignore()
            .query_async(&mut redis)
            .await;
    }
}

/// The Redis URL with any password replaced, for messages and logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(an invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_follow_the_scheme_and_prefix() {
        assert_eq!(
            ws_url("https://salon.example/n/a/", "abc"),
            "wss://salon.example/n/a/api/rooms/abc/ws"
        );
        assert_eq!(
            ws_url("http://127.0.0.1:8080", "abc"),
            "ws://127.0.0.1:8080/api/rooms/abc/ws"
        );
    }

    #[test]
    fn tokens_name_their_node() {
        assert_eq!(token_node("n1:7"), Some("n1"));
        assert_eq!(token_node("node-a:12"), Some("node-a"));
        assert_eq!(token_node("n1"), None);
        assert_eq!(token_node("n1:x"), None);
    }

    #[test]
    fn node_ids_are_plain() {
        assert!(valid_node_id("n1"));
        assert!(valid_node_id(&random_node_id()));
        assert!(!valid_node_id(""));
        assert!(!valid_node_id("N1"));
        assert!(!valid_node_id("a:b"));
        assert!(!valid_node_id(&"a".repeat(33)));
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redacted("redis://user:secret@10.0.0.5:6379/0"),
            "redis://user:***@10.0.0.5:6379/0"
        );
        assert!(!redacted("redis://:secret@h").contains("secret"));
    }
}
