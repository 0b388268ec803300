//! What users paste: invite links and friend cards. Pure parsing, no I/O.
//!
//! # Invite links
//!
//! `http(s)://host[:port][/prefix]/r/<room id>[#k=<room secret>]`, as the server hands out plus
//! the secret of an end-to-end encrypted room (ADR 0003 §2.1), which the creating client puts in
//! the fragment because browsers never send a fragment to the server. A trailing slash and a
//! query are ignored, and so are unknown fragment parameters; surrounding whitespace is trimmed; a link typed without a
//! scheme (`salon.example.org/r/…`) is read as `https://`. A path prefix before `/r/` belongs to
//! the server (a server behind a reverse proxy under a path), so
//! `https://example.org/salon/r/ID` means server `https://example.org/salon`, room `ID`.
//! [`InviteLink::to_url`] gives the canonical form back (lower-case host, no default port, no
//! trailing slash), which is what the local store keeps. Both the pasted text and the canonical
//! form must fit in [`MAX_LINK_BYTES`], so whatever `parse` accepts, `to_url` parses back to an
//! equal link.
//!
//! # Friend cards
//!
//! What a friend shares so that you can add them: their display name and their room's invite
//! link.
//!
//! ```text
//! https://<any host>[/prefix]/friend?v=1&name=<name>&room=<invite link>[&presence=<key>][#k=<secret>]
//! salon:friend?v=1&name=<name>&room=<invite link>[&presence=<presence key>][#k=<secret>]
//! ```
//!
//! The room's secret rides in the *card's* fragment, never in `room=`: a card opened in a
//! browser sends its query to the server, never its fragment.
//!
//! `presence` (optional, 43 URL-safe characters) is the room's presence key: it lets the holder
//! see the room's door and who is inside (`docs/protocol.md`, "Presence"). Readers that do not
//! know it ignore it, like every unknown parameter, so it needs no new card version.
//!
//! Values are UTF-8, percent-encoded (readers also accept `+` for a space, as web forms send
//! it). `v` is the card format version, currently `1`; a reader that meets a higher `v` says the
//! card was made by a newer Salon. Unknown parameters are ignored so later versions can add
//! optional ones; a repeated `v`, `name` or `room` is refused as ambiguous. The second form
//! carries the same query on a web address so a card can become a clickable link; its host is
//! only a carrier — the friend's server is the one in `room`. Cards are written in the web form
//! on the room's own server ([`FriendCard::to_link`]), whose `/friend` page and App Links /
//! Universal Links association make them open the app where it is installed.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use salon_protocol::{clean_display_name, validate_room_id};
use url::Url;

/// Longest invite link accepted, in bytes.
pub const MAX_LINK_BYTES: usize = 2048;
/// Longest friend card accepted, in bytes (an encoded name plus an encoded invite link).
pub const MAX_CARD_BYTES: usize = 8192;
/// The friend card format this build writes and reads.
pub const FRIEND_CARD_VERSION: u32 = 1;

/// Characters left as they are in friend card values: RFC 3986 unreserved, plus `:` and `/`
/// (legal in a query, and they keep the embedded invite link readable).
const CARD_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

/// Why a pasted link was refused. Messages are written for the person who pasted it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is empty")]
    Empty,
    #[error("the link is too long ({len} bytes; at most {max})")]
    TooLong { len: usize, max: usize },
    #[error("the link contains control characters")]
    ControlCharacters,
    #[error("this is not a valid link ({0})")]
    Malformed(String),
    #[error("Salon links start with https:// or http://, not {0}:")]
    UnsupportedScheme(String),
    #[error("the link has no server name")]
    MissingHost,
    #[error("links with a user name or password in them are not accepted")]
    UserInfo,
    #[error("this is not a Salon room link (expected https://server/r/<room id>)")]
    NotARoomLink,
    #[error("the link's room id is not valid: {0}")]
    InvalidRoomId(String),
    #[error("this is not a Salon friend card (expected salon:friend?… or https://server/friend?…)")]
    NotAFriendCard,
    #[error(
        "this friend card was made by a newer Salon (card version {0}); update Salon to add this friend"
    )]
    NewerVersion(String),
    #[error("the friend card has an invalid version {0:?}")]
    InvalidVersion(String),
    #[error("the friend card has no {0}")]
    MissingField(&'static str),
    #[error("the friend card has more than one {0}")]
    RepeatedField(&'static str),
    #[error("the friend card's name is not valid: {0}")]
    InvalidName(String),
    #[error("the friend card's room link is not valid: {0}")]
    InvalidRoom(Box<LinkError>),
    #[error("the friend card's presence key is not valid (expected 43 URL-safe characters)")]
    InvalidPresenceKey,
    #[error("the link's key (the part after #k=) is damaged; ask for the whole link again")]
    InvalidSecret,
}

/// A room's invite link, split into the server it lives on and the room id.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct InviteLink {
    /// Origin plus any path prefix, without a trailing slash, e.g. `https://salon.example.org`,
    /// `http://127.0.0.1:8080` or `https://example.org/salon`.
    pub server: String,
    pub room_id: String,
    /// The room's end-to-end secret from the link's `#k=` (43 base64url characters), when the
    /// room is encrypted. Never sent to the server: [`Self::api_base`], [`Self::room_api_url`]
    /// and [`Self::ws_url`] leave it out; [`Self::to_url`] keeps it (it is the link to share).
    pub secret: Option<String>,
}

impl InviteLink {
    /// Parses a pasted invite link. See the module documentation for what is accepted.
    pub fn parse(input: &str) -> Result<Self, LinkError> {
        let text = check_text(input, MAX_LINK_BYTES)?;
        let url = parse_web_url(text)?;
        let mut segments: Vec<&str> = url
            .path_segments()
            .ok_or(LinkError::NotARoomLink)?
            .collect();
        if segments.last() == Some(&"") {
            segments.pop();
        }
        let [prefix @ .., "r", room_id] = segments.as_slice() else {
            return Err(LinkError::NotARoomLink);
        };
        validate_room_id(room_id).map_err(|e| LinkError::InvalidRoomId(e.to_string()))?;
        let link = Self {
            server: server_of(&url, prefix)?,
            room_id: (*room_id).to_owned(),
            secret: secret_in(url.fragment())?,
        };
        // The canonical form can be longer than what was pasted (`https://` added to a link
        // without a scheme, a path prefix percent-encoded, an international host in punycode).
        // Measure it too, so that every link accepted here gives a `to_url` that parses again.
        let len = link.to_url().len();
        if len > MAX_LINK_BYTES {
            return Err(LinkError::TooLong {
                len,
                max: MAX_LINK_BYTES,
            });
        }
        Ok(link)
    }

    /// The canonical link to share: `<server>/r/<room id>`, with `#k=<secret>` for an
    /// encrypted room.
    pub fn to_url(&self) -> String {
        match &self.secret {
            Some(secret) => format!("{}#k={secret}", self.base_url()),
            None => self.base_url(),
        }
    }

    /// The link without its secret: `<server>/r/<room id>`. Which room it is, for comparing
    /// and for anything that may reach a server.
    pub fn base_url(&self) -> String {
        format!("{}/r/{}", self.server, self.room_id)
    }

    /// Whether `other` names the same room on the same server (secrets aside).
    pub fn same_room(&self, other: &Self) -> bool {
        self.server == other.server && self.room_id == other.room_id
    }

    /// The same link carrying `secret` (or none).
    pub fn with_secret(self, secret: Option<String>) -> Self {
        Self { secret, ..self }
    }

    /// The base of the server's HTTP API: `<server>/api`.
    pub fn api_base(&self) -> String {
        format!("{}/api", self.server)
    }

    /// The room's info endpoint: `<server>/api/rooms/<room id>`.
    pub fn room_api_url(&self) -> String {
        format!("{}/rooms/{}", self.api_base(), self.room_id)
    }

    /// The signaling WebSocket: `ws(s)://host[:port][/prefix]/api/rooms/<room id>/ws`.
    pub fn ws_url(&self) -> String {
        let server = if let Some(rest) = self.server.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.server.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            // Only reachable for a hand-built value; parsed links are always http(s).
            self.server.clone()
        };
        format!("{server}/api/rooms/{}/ws", self.room_id)
    }
}

/// Prints the secret as `…`: debug output ends up in logs.
impl fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteLink")
            .field("server", &self.server)
            .field("room_id", &self.room_id)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .finish()
    }
}

impl fmt::Display for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_url())
    }
}

/// A friend's display name and their room, as shared in a friend card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FriendCard {
    pub name: String,
    pub room: InviteLink,
    /// The room's presence key, when the owner shares presence.
    pub presence: Option<String>,
}

impl FriendCard {
    /// A card for `name` (cleaned like every display name) and `room`.
    pub fn new(name: &str, room: InviteLink) -> Result<Self, LinkError> {
        let name =
            clean_display_name("name", name).map_err(|e| LinkError::InvalidName(e.to_string()))?;
        Ok(Self {
            name,
            room,
            presence: None,
        })
    }

    /// The same card carrying the room's presence key.
    pub fn with_presence(self, key: &str) -> Result<Self, LinkError> {
        salon_protocol::validate_presence_key(key).map_err(|_| LinkError::InvalidPresenceKey)?;
        Ok(Self {
            presence: Some(key.to_owned()),
            ..self
        })
    }

    /// Parses a pasted friend card in either form described in the module documentation.
    pub fn parse(input: &str) -> Result<Self, LinkError> {
        let text = check_text(input, MAX_CARD_BYTES)?;
        let url = Url::parse(text).map_err(|_| LinkError::NotAFriendCard)?;
        match url.scheme() {
            "salon" if url.path() == "friend" => {}
            "http" | "https" => {
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(LinkError::UserInfo);
                }
                let path = url.path();
                if !(path.ends_with("/friend") || path.ends_with("/friend/")) {
                    return Err(LinkError::NotAFriendCard);
                }
            }
            _ => return Err(LinkError::NotAFriendCard),
        }

        let (mut version, mut name, mut room, mut presence) = (None, None, None, None);
        for (key, value) in url.query_pairs() {
            let (slot, field) = match key.as_ref() {
                "v" => (&mut version, "version"),
                "name" => (&mut name, "name"),
                "room" => (&mut room, "room link"),
                "presence" => (&mut presence, "presence key"),
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(LinkError::RepeatedField(field));
            }
        }

        check_version(&version.ok_or(LinkError::MissingField("version"))?)?;
        let room = room.ok_or(LinkError::MissingField("room link"))?;
        let room = InviteLink::parse(&room).map_err(|e| LinkError::InvalidRoom(Box::new(e)))?;
        // The card's own fragment holds the room's secret (a secret inside `room=` would have
        // gone to a server already: it is dropped).
        let room = room.with_secret(secret_in(url.fragment())?);
        let card = Self::new(&name.ok_or(LinkError::MissingField("name"))?, room)?;
        match presence {
            Some(key) => card.with_presence(&key),
            None => Ok(card),
        }
    }

    /// The card as a link to share: `<the room's server>/friend?…`, the web form. It is
    /// clickable in any messenger: phones with the app open it in the app (App Links /
    /// Universal Links), a browser shows the server's friend card page, which offers the app
    /// and dropping in. The `salon:` form ([`FriendCard::to_app_link`]) reads the same.
    pub fn to_link(&self) -> String {
        format!(
            "{}/friend?{}{}",
            self.room.server,
            self.query(),
            self.fragment()
        )
    }

    /// The card as a `salon:friend?…` link, which only the app opens.
    pub fn to_app_link(&self) -> String {
        format!("salon:friend?{}{}", self.query(), self.fragment())
    }

    fn fragment(&self) -> String {
        self.room
            .secret
            .as_ref()
            .map_or_else(String::new, |secret| format!("#k={secret}"))
    }

    fn query(&self) -> String {
        let mut query = format!(
            "v={FRIEND_CARD_VERSION}&name={}&room={}",
            utf8_percent_encode(&self.name, CARD_VALUE),
            utf8_percent_encode(&self.room.base_url(), CARD_VALUE),
        );
        if let Some(key) = &self.presence {
            query.push_str("&presence=");
            query.push_str(key);
        }
        query
    }
}

impl fmt::Display for FriendCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_link())
    }
}

/// The room secret in a fragment like `k=<secret>` (parameters separated by `&`; others are
/// ignored). A `k` that is not a room secret is refused: the link was cut or altered, and
/// joining without it would fail later with a less clear message.
fn secret_in(fragment: Option<&str>) -> Result<Option<String>, LinkError> {
    let Some(fragment) = fragment else {
        return Ok(None);
    };
    let mut found = None;
    for part in fragment.split('&') {
        if let Some(value) = part.strip_prefix("k=") {
            if found.is_some() {
                return Err(LinkError::InvalidSecret);
            }
            salon_e2ee::RoomSecret::from_base64url(value).map_err(|_| LinkError::InvalidSecret)?;
            found = Some(value.to_owned());
        }
    }
    Ok(found)
}

/// Trims the input and applies the checks every pasted link gets.
fn check_text(input: &str, max: usize) -> Result<&str, LinkError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(LinkError::Empty);
    }
    if text.len() > max {
        return Err(LinkError::TooLong {
            len: text.len(),
            max,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(LinkError::ControlCharacters);
    }
    Ok(text)
}

/// Parses an `http(s)` URL without user info; a link without a scheme is read as `https://`.
fn parse_web_url(text: &str) -> Result<Url, LinkError> {
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => Url::parse(&format!("https://{text}"))
            .map_err(|e| LinkError::Malformed(e.to_string()))?,
        Err(e) => return Err(LinkError::Malformed(e.to_string())),
    };
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(LinkError::UnsupportedScheme(
                other.chars().take(32).collect(),
            ));
        }
    }
    if !url.has_host() || url.host_str() == Some("") {
        return Err(LinkError::MissingHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LinkError::UserInfo);
    }
    Ok(url)
}

/// `scheme://host[:port]` plus the path prefix, as the url crate serialized it (lower-case host,
/// default port dropped, prefix percent-encoded).
fn server_of(url: &Url, prefix: &[&str]) -> Result<String, LinkError> {
    let mut server = url.origin().ascii_serialization();
    for segment in prefix {
        if segment.is_empty() {
            // `https://host//r/ID`: an empty path segment is almost certainly a typo, and
            // keeping it would give a server URL that differs from the real one.
            return Err(LinkError::NotARoomLink);
        }
        server.push('/');
        server.push_str(segment);
    }
    Ok(server)
}

/// `1` is this format; any other number is taken as a newer one (even past `u64`).
fn check_version(version: &str) -> Result<(), LinkError> {
    let shown = || version.chars().take(16).collect::<String>();
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LinkError::InvalidVersion(shown()));
    }
    match version.parse::<u64>() {
        Ok(v) if v == u64::from(FRIEND_CARD_VERSION) => Ok(()),
        Ok(0) => Err(LinkError::InvalidVersion(shown())),
        _ => Err(LinkError::NewerVersion(shown())),
    }
}

#[cfg(test)]
#[path = "links_tests.rs"]
mod tests;
