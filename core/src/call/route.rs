//! Where the signaling socket goes in cluster mode (issue 15): the *entry* — the server of the
//! invite link, which answers `moved` when the room lives on another node — and the room's
//! *node*, learned from the last `moved` followed. Pure: checking a `moved` URL and choosing
//! the URL to connect to.
//!
//! A `moved` URL is followed only when it is `ws://` or `wss://` (never `wss://` to `ws://`:
//! the host key must not travel in clear because a server said so), has a host and no user
//! name or password, no query or fragment, and a path ending `/api/rooms/<valid room id>/ws`.
//! At most [`MAX_MOVES`] moves are followed in a row.

use salon_protocol::validate_room_id;
use url::Url;

use crate::error::CoreError;

/// Moves followed in a row (one `join` sent to each node) before giving up.
pub const MAX_MOVES: usize = 3;

/// How long connecting to a room's node may take before it counts as unreachable (a dead
/// owner whose host drops packets) and the entry is asked instead.
pub const NODE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a `moved` URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("not a URL: {0}")]
    Malformed(String),
    #[error("not a ws:// or wss:// URL")]
    Scheme,
    #[error("from wss:// to ws:// (the connection would no longer be encrypted)")]
    Downgrade,
    #[error("it has no host")]
    NoHost,
    #[error("it carries a user name or password")]
    UserInfo,
    #[error("it carries a query or fragment")]
    Extra,
    #[error("its path does not end /api/rooms/<room id>/ws")]
    Path,
    #[error("its room id is not valid")]
    RoomId,
}

impl MoveError {
    /// The call's error for a refused `moved`.
    pub fn into_core(self, url: &str) -> CoreError {
        CoreError::Server {
            reason: format!("the server sent this call to an invalid address ({self}): {url:?}"),
        }
    }
}

/// The error after more than [`MAX_MOVES`] moves in a row.
pub fn too_many_moves() -> CoreError {
    CoreError::Server {
        reason: format!(
            "the servers sent this call on more than {MAX_MOVES} times in a row (moved); \
             the cluster may be misconfigured"
        ),
    }
}

/// Checks the URL of a `moved` received on a connection to `from` (a ws(s) URL); returns the
/// node's base: everything before `/api/rooms/<id>/ws` (e.g. `wss://salon.example/n/a`).
pub fn check_moved(url: &str, from: &str) -> Result<String, MoveError> {
    let parsed = Url::parse(url).map_err(|e| MoveError::Malformed(e.to_string()))?;
    match (parsed.scheme(), from.starts_with("wss://")) {
        ("wss", _) | ("ws", false) => {}
        ("ws", true) => return Err(MoveError::Downgrade),
        _ => return Err(MoveError::Scheme),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(MoveError::UserInfo);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(MoveError::NoHost);
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(MoveError::Extra);
    }
    let path = parsed.path();
    let Some(rest) = path.strip_suffix("/ws") else {
        return Err(MoveError::Path);
    };
    let Some((prefix, id)) = rest.rsplit_once("/api/rooms/") else {
        return Err(MoveError::Path);
    };
    if id.is_empty() || id.contains('/') {
        return Err(MoveError::Path);
    }
    validate_room_id(id).map_err(|_| MoveError::RoomId)?;
    let mut base = parsed.clone();
    base.set_path(prefix);
    Ok(base.as_str().trim_end_matches('/').to_owned())
}

/// The signaling URL of room `room_id` on the node at `base`.
pub fn node_ws_url(base: &str, room_id: &str) -> String {
    format!("{base}/api/rooms/{room_id}/ws")
}

/// Where to connect: the room's node once known, else the entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// The base (see [`check_moved`]) of the node the room was last found on; `None` while the
    /// entry itself serves the room (single node) or after the node could not be reached.
    pub node: Option<String>,
}

impl Route {
    /// The URL for the next connection to room `room_id` whose entry URL is `entry`.
    pub fn url(&self, entry: &str, room_id: &str) -> String {
        match &self.node {
            Some(base) => node_ws_url(base, room_id),
            None => entry.to_owned(),
        }
    }
}

/// What one [`Route`] walk does next after connecting to `url` failed or answered `moved`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Connect there next.
    Connect(String),
    /// Give up with this error.
    Fail(CoreError),
}

/// One connection's walk through the cluster: counts the moves followed and allows one fall
/// back to the entry when the room's node is unreachable (a dead owner).
#[derive(Debug, Clone)]
pub struct Walk {
    pub entry: String,
    moves: usize,
    fell_back: bool,
}

impl Walk {
    pub fn new(entry: String) -> Self {
        Self {
            entry,
            moves: 0,
            fell_back: false,
        }
    }

    /// Moves followed so far.
    pub fn moves(&self) -> usize {
        self.moves
    }

    /// A `moved` to `to` answered on the connection to `from`: where to go (and the node to
    /// remember in `route`), or why not.
    pub fn moved(&mut self, route: &mut Route, to: &str, from: &str) -> Step {
        if self.moves >= MAX_MOVES {
            return Step::Fail(too_many_moves());
        }
        match check_moved(to, from) {
            Ok(base) => {
                self.moves += 1;
                route.node = Some(base);
                Step::Connect(to.to_owned())
            }
            Err(e) => Step::Fail(e.into_core(to)),
        }
    }

    /// Connecting to `url` failed with `error`: when `url` was a node (not the entry), the
    /// node is forgotten and, once per walk, the entry is tried instead.
    pub fn unreachable(&mut self, route: &mut Route, url: &str, error: CoreError) -> Step {
        if url == self.entry {
            return Step::Fail(error);
        }
        route.node = None;
        if self.fell_back {
            return Step::Fail(error);
        }
        self.fell_back = true;
        Step::Connect(self.entry.clone())
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
