//! TURN credentials for clients (`--turn-url`, `--turn-secret`): Salon runs no TURN server
//! itself; a coturn next to it relays for clients whose network allows no direct path to the
//! media port (only TCP 443, say). Each participant gets, in `joined`, the configured URLs and a
//! credential of the TURN REST scheme that coturn checks with `use-auth-secret`: the username
//! is `expiry:participant` (Unix seconds), the password the base64 of HMAC-SHA1 over the
//! username with the secret both share. Nothing is stored; a credential works until its expiry
//! for anyone holding it, which is why it is short-lived and per participant (coturn's logs
//! name the participant, and its quotas count per username).

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use salon_protocol::{IceServer, MAX_ICE_SERVER_URLS, TurnUrl};
use sha1::Sha1;

/// Default for `--turn-ttl`: long enough for an evening in a room; a client that stays longer
/// gets a new credential with its next `joined` (a reconnection).
pub const DEFAULT_TTL: Duration = Duration::from_secs(12 * 3600);
/// The shortest secret accepted: coturn's secret is the only thing between the Internet and a
/// free relay.
pub const MIN_SECRET_LEN: usize = 16;

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    #[error("--turn-url needs --turn-secret (the static-auth-secret in coturn's configuration)")]
    NoSecret,
    #[error("--turn-secret is set but no --turn-url: clients would not know where to relay")]
    NoUrl,
    #[error(
        "--turn-secret must be at least {MIN_SECRET_LEN} characters (e.g. `openssl rand -hex 32`)"
    )]
    ShortSecret,
    #[error("at most {MAX_ICE_SERVER_URLS} --turn-url")]
    TooManyUrls,
    #[error("--turn-ttl must be 60 seconds to 7 days")]
    Ttl,
    #[error(transparent)]
    Url(#[from] salon_protocol::BadTurnUrl),
}

/// The configured TURN servers and how to mint credentials for them.
#[derive(Clone)]
pub struct Turn {
    urls: Vec<String>,
    secret: Vec<u8>,
    ttl: Duration,
}

impl std::fmt::Debug for Turn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Turn")
            .field("urls", &self.urls)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Turn {
    /// From the flags: `None` when neither is given; an error when they cannot work together.
    pub fn from_settings(
        urls: &[String],
        secret: Option<&str>,
        ttl: Duration,
    ) -> Result<Option<Self>, TurnError> {
        let secret = secret.filter(|s| !s.is_empty());
        match (urls.is_empty(), secret) {
            (true, None) => return Ok(None),
            (false, None) => return Err(TurnError::NoSecret),
            (true, Some(_)) => return Err(TurnError::NoUrl),
            (false, Some(_)) => {}
        }
        let secret = secret.unwrap_or_default();
        if secret.len() < MIN_SECRET_LEN {
            return Err(TurnError::ShortSecret);
        }
        if urls.len() > MAX_ICE_SERVER_URLS {
            return Err(TurnError::TooManyUrls);
        }
        if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(7 * 24 * 3600) {
            return Err(TurnError::Ttl);
        }
        // Written back in the one form every client reads the same way.
        let urls = urls
            .iter()
            .map(|u| TurnUrl::parse(u).map(|u| u.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            urls,
            secret: secret.as_bytes().to_vec(),
            ttl,
        }))
    }

    /// The URLs handed to clients.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// A credential for `participant`, valid for the configured time from `now`.
    pub fn credential(&self, participant: &str, now: SystemTime) -> IceServer {
        let expiry = now
            .checked_add(self.ttl)
            .unwrap_or(now)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let username = format!("{expiry}:{participant}");
        IceServer {
            urls: self.urls.clone(),
            credential: password(&self.secret, &username),
            username,
        }
    }
}

/// The TURN REST password for `username`: base64(HMAC-SHA1(secret, username)).
pub fn password(secret: &[u8], username: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        // HMAC takes keys of any length; unreachable.
        return String::new();
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_password_is_the_turn_rest_hmac() {
        // The same computation as coturn's (and `openssl dgst -sha1 -hmac KEY -binary | base64`):
        //   printf %s '1796000000:p1' | openssl dgst -sha1 -hmac \
        //     0123456789abcdef0123456789abcdef -binary | base64
        assert_eq!(
            password(SECRET.as_bytes(), "1796000000:p1"),
            "4pRIUQfUakogYf8I2r+STEOS5Fk="
        );
    }

    #[test]
    fn a_credential_names_the_participant_and_expires_after_the_ttl() {
        let turn = Turn::from_settings(
            &urls(&["turn:turn.example", "turns:turn.example:443"]),
            Some(SECRET),
            Duration::from_secs(3600),
        )
        .unwrap()
        .unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let server = turn.credential("p1", now);
        assert_eq!(server.username, "1796003600:p1");
        assert_eq!(server.expires_at(), Some(1_796_003_600));
        assert_eq!(
            server.credential,
            password(SECRET.as_bytes(), "1796003600:p1")
        );
        assert_eq!(
            server.urls,
            [
                "turn:turn.example:3478?transport=udp",
                "turns:turn.example:443?transport=tcp"
            ]
        );
        assert!(!format!("{turn:?}").contains(SECRET));
    }

    #[test]
    fn settings_that_cannot_work_are_refused() {
        let ttl = DEFAULT_TTL;
        assert_eq!(
            Turn::from_settings(&[], None, ttl).unwrap().map(|_| ()),
            None
        );
        assert_eq!(
            Turn::from_settings(&urls(&["turn:t.example"]), None, ttl).unwrap_err(),
            TurnError::NoSecret
        );
        assert_eq!(
            Turn::from_settings(&[], Some(SECRET), ttl).unwrap_err(),
            TurnError::NoUrl
        );
        assert_eq!(
            Turn::from_settings(&urls(&["turn:t.example"]), Some("short"), ttl).unwrap_err(),
            TurnError::ShortSecret
        );
        assert!(matches!(
            Turn::from_settings(&urls(&["http://t.example"]), Some(SECRET), ttl),
            Err(TurnError::Url(_))
        ));
        assert_eq!(
            Turn::from_settings(
                &urls(&["turn:t.example"]),
                Some(SECRET),
                Duration::from_secs(5)
            )
            .unwrap_err(),
            TurnError::Ttl
        );
        let many: Vec<String> = (0..9).map(|i| format!("turn:t{i}.example")).collect();
        assert_eq!(
            Turn::from_settings(&many, Some(SECRET), ttl).unwrap_err(),
            TurnError::TooManyUrls
        );
    }
}
