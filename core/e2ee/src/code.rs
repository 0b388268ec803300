//! The safety code (ADR 0003 §3, §14).

use crate::crypto::hmac_sha256;
use crate::secret::RoomSecret;

const SAFETY_LABEL: &[u8] = b"salon/e2ee/v1/safety";

/// The 12-digit safety code over the public keys of everyone this client exchanges keys with,
/// itself included, formatted `dddd dddd dddd`.
///
/// `HMAC-SHA256(K_code, "salon/e2ee/v1/safety" || u16be(n) || pub_1 || … || pub_n)` with the keys
/// sorted bytewise here (duplicates are kept); the first 8 bytes as a big-endian integer
/// mod 10^12, zero-padded.
pub fn safety_code(secret: &RoomSecret, publics: &[[u8; 32]]) -> String {
    let mut sorted = publics.to_vec();
    sorted.sort_unstable();
    let n = u16::try_from(sorted.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let mut parts: Vec<&[u8]> = Vec::with_capacity(sorted.len() + 2);
    parts.push(SAFETY_LABEL);
    parts.push(&n);
    parts.extend(sorted.iter().map(|p| &p[..]));
    let mac = hmac_sha256(&secret.k_code(), &parts);
    let mut first = [0u8; 8];
    first.copy_from_slice(&mac[..8]);
    let digits = format!("{:012}", u64::from_be_bytes(first) % 1_000_000_000_000);
    format!("{} {} {}", &digits[..4], &digits[4..8], &digits[8..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_sensitive_to_the_set() {
        let s = RoomSecret::from_bytes([5; 32]);
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        let code = safety_code(&s, &[a, b, c]);
        assert_eq!(code.len(), 14);
        assert!(code.chars().enumerate().all(|(i, ch)| if i == 4 || i == 9 {
            ch == ' '
        } else {
            ch.is_ascii_digit()
        }));
        assert_eq!(safety_code(&s, &[c, a, b]), code);
        assert_eq!(safety_code(&s, &[b, c, a]), code);
        assert_ne!(safety_code(&s, &[a, b, c, [4; 32]]), code);
        assert_ne!(safety_code(&s, &[a, b]), code);
        assert_ne!(safety_code(&s, &[a, b, c, c]), code);
        assert_ne!(
            safety_code(&RoomSecret::from_bytes([6; 32]), &[a, b, c]),
            code
        );
    }
}
