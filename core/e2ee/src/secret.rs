//! The room secret `S` (ADR 0003 §2.1) and the keys derived from it (§2.2, §14).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

use crate::crypto::hkdf_sha256;

/// HKDF info label of `K_auth` (announcement MACs).
const K_AUTH_INFO: &[u8] = b"salon/e2ee/v1/announce";
/// HKDF info label of `K_code` (safety code).
const K_CODE_INFO: &[u8] = b"salon/e2ee/v1/safety-code";

/// Length of a room secret in base64url without padding.
pub const ROOM_SECRET_B64_LEN: usize = 43;

/// The 32-byte room secret `S` carried in an invite link's `#k=` fragment.
///
/// It never encrypts media: it keys the announcement MACs (`K_auth`) and the safety code
/// (`K_code`). `Debug` prints `RoomSecret(…)`, never the bytes; equality is constant time.
#[derive(Clone)]
pub struct RoomSecret([u8; 32]);

/// Why a room secret did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a room secret is 43 characters of base64url without padding")]
pub struct InvalidRoomSecret;

impl RoomSecret {
    /// Draws a fresh random secret from the operating system's generator.
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// Wraps raw bytes (e.g. the plaintext of a room-secret box).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses the link form: exactly 43 characters of base64url (RFC 4648 §5) without padding,
    /// canonical (unused trailing bits zero).
    pub fn from_base64url(s: &str) -> Result<Self, InvalidRoomSecret> {
        if s.len() != ROOM_SECRET_B64_LEN {
            return Err(InvalidRoomSecret);
        }
        let mut out = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(s, &mut out) {
            Ok(32) => Ok(Self(out)),
            _ => Err(InvalidRoomSecret),
        }
    }

    /// The link form: 43 characters of base64url without padding.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw bytes (to put into a room-secret box).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `K_auth = HKDF-SHA256(salt = "", ikm = S, info = "salon/e2ee/v1/announce", 32)`.
    pub(crate) fn k_auth(&self) -> [u8; 32] {
        hkdf_sha256(b"", &self.0, K_AUTH_INFO)
    }

    /// `K_code = HKDF-SHA256(salt = "", ikm = S, info = "salon/e2ee/v1/safety-code", 32)`.
    pub(crate) fn k_code(&self) -> [u8; 32] {
        hkdf_sha256(b"", &self.0, K_CODE_INFO)
    }
}

impl std::fmt::Debug for RoomSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomSecret(…)")
    }
}

impl PartialEq for RoomSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for RoomSecret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trip_and_debug() {
        let s = RoomSecret::generate();
        let text = s.to_base64url();
        assert_eq!(text.len(), 43);
        assert_eq!(RoomSecret::from_base64url(&text), Ok(s.clone()));
        assert_eq!(format!("{s:?}"), "RoomSecret(…)");
        assert_ne!(RoomSecret::generate(), s);
    }

    #[test]
    fn rejects_bad_links() {
        let good = RoomSecret::from_bytes([0xfb; 32]).to_base64url();
        assert!(RoomSecret::from_base64url(&good).is_ok());
        for bad in [
            String::new(),
            good[..42].to_string(),
            format!("{good}A"),
            format!("{good}="),
            good.replace('-', "+").replace('_', "/"),
            format!("{}é", &good[..41]),
            // non-canonical: the last char carries 2 unused bits, which must be zero
            format!("{}B", &good[..42]),
        ] {
            if bad != good {
                assert_eq!(
                    RoomSecret::from_base64url(&bad),
                    Err(InvalidRoomSecret),
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn derived_keys_differ() {
        let s = RoomSecret::from_bytes([1; 32]);
        assert_ne!(s.k_auth(), s.k_code());
    }
}
