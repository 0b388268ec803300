//! Random identifiers and secrets. Room ids carry 128 random bits, host keys 256; both are
//! URL-safe base64 without padding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

fn random_token<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new room id: 16 random bytes → 22 characters.
pub fn new_room_id() -> String {
    random_token::<16>()
}

/// A new participant id: 9 random bytes → 12 characters (unique within a room).
pub fn new_participant_id() -> String {
    random_token::<9>()
}

/// A new host key: 32 random bytes → 43 characters.
pub fn new_host_key() -> String {
    random_token::<32>()
}

/// A new resume token: 18 random bytes → 24 characters.
pub fn new_resume_token() -> String {
    random_token::<18>()
}

/// Compares two secrets in constant time (for equal lengths).
pub fn token_matches(given: &str, expected: &str) -> bool {
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// What the database keeps of a host key.
pub fn hash_host_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Whether `key` is the host key whose hash is `stored`, compared in constant time.
pub fn host_key_matches(key: &str, stored: &[u8]) -> bool {
    hash_host_key(key).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_valid_and_distinct() {
        let a = new_room_id();
        let b = new_room_id();
        assert_ne!(a, b);
        salon_protocol::validate_room_id(&a).expect("valid room id");
    }

    #[test]
    fn host_keys_verify() {
        let key = new_host_key();
        assert_eq!(key.len(), 43);
        let stored = hash_host_key(&key);
        assert!(host_key_matches(&key, &stored));
        assert!(!host_key_matches(&new_host_key(), &stored));
    }
}
