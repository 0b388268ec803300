//! Which peer connection an incoming datagram on the shared media port belongs to.
//!
//! Every connection has its own ICE credentials. A client's connectivity check (a STUN binding
//! request) names the server side's username fragment first in its USERNAME attribute
//! (`server:client`, RFC 8445 §7.2.2); that is how a new address is tied to a connection. After
//! that, DTLS, SRTP and STUN from the same address go to the same connection by address alone.
//!
//! A check only moves an address to a connection if its MESSAGE-INTEGRITY verifies with that
//! connection's ICE password ([`integrity_ok`]): someone who can forge a source address but does
//! not know the password cannot tie a victim's address to another connection.
//!
//! The parsing here is pure and bounded: it reads at most the datagram it is given and never
//! allocates.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The STUN magic cookie (RFC 5389 §6).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const INTEGRITY_LEN: usize = 20;
/// A username fragment is at most 256 characters (RFC 8839 §5.4); with the colon and the other
/// side's fragment, 513 bytes is the most a USERNAME may sensibly carry.
const MAX_USERNAME: usize = 513;

/// What the first byte says a datagram is (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stun,
    Dtls,
    Rtp,
    Other,
}

pub fn classify(datagram: &[u8]) -> Kind {
    match datagram.first() {
        Some(0..=3) => Kind::Stun,
        Some(20..=63) => Kind::Dtls,
        Some(128..=191) => Kind::Rtp,
        _ => Kind::Other,
    }
}

/// The local (server-side) username fragment of a STUN message's USERNAME attribute, if the
/// datagram is a well-formed STUN message that carries one.
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    if classify(datagram) != Kind::Stun || datagram.len() < HEADER_LEN {
        return None;
    }
    if datagram.get(4..8)? != MAGIC_COOKIE {
        return None;
    }
    let declared = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    let body = datagram.get(HEADER_LEN..HEADER_LEN.checked_add(declared)?)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + len)?;
        if typ == ATTR_USERNAME {
            if len > MAX_USERNAME {
                return None;
            }
            let username = std::str::from_utf8(value).ok()?;
            let (ours, _theirs) = username.split_once(':')?;
            return (!ours.is_empty()).then_some(ours);
        }
        // Attributes are padded to a multiple of 4 bytes.
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

/// Whether a STUN message carries a MESSAGE-INTEGRITY that verifies with `password` (ICE's
/// short-term credential, RFC 8489 §14.5: HMAC-SHA1 over the message up to that attribute, with
/// the header's length counting up to its end).
pub fn integrity_ok(datagram: &[u8], password: &[u8]) -> bool {
    if classify(datagram) != Kind::Stun || datagram.len() < HEADER_LEN {
        return false;
    }
    if datagram.get(4..8) != Some(&MAGIC_COOKIE[..]) {
        return false;
    }
    let declared = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    let Some(body) = datagram.get(HEADER_LEN..HEADER_LEN + declared) else {
        return false;
    };
    let mut at = 0;
    while at + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let Some(value) = body.get(at + 4..at + 4 + len) else {
            return false;
        };
        if typ == ATTR_MESSAGE_INTEGRITY {
            if len != INTEGRITY_LEN {
                return false;
            }
            let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(password) else {
                return false;
            };
            let Ok(covered) = u16::try_from(at + 4 + INTEGRITY_LEN) else {
                return false;
            };
            mac.update(&datagram[..2]);
            mac.update(&covered.to_be_bytes());
            mac.update(&datagram[4..HEADER_LEN]);
            mac.update(&body[..at]);
            return mac.verify_slice(value).is_ok();
        }
        at += 4 + len.div_ceil(4) * 4;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (typ, value) in attrs {
            body.extend_from_slice(&typ.to_be_bytes());
            body.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
            body.extend_from_slice(value);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn finds_the_server_side_fragment() {
        let m = stun(&[(0x0024, &[0, 0, 0, 1]), (ATTR_USERNAME, b"srvFrag:cli")]);
        assert_eq!(local_ufrag(&m), Some("srvFrag"));
        // Padding after an odd-length attribute is skipped.
        let m = stun(&[(0x8022, b"abc"), (ATTR_USERNAME, b"x:y")]);
        assert_eq!(local_ufrag(&m), Some("x"));
    }

    #[test]
    fn refuses_what_is_not_a_stun_request_with_a_username() {
        assert_eq!(local_ufrag(&stun(&[(0x0024, &[0, 0, 0, 1])])), None);
        assert_eq!(local_ufrag(&stun(&[(ATTR_USERNAME, b"nocolon")])), None);
        assert_eq!(local_ufrag(&stun(&[(ATTR_USERNAME, b":empty")])), None);
        assert_eq!(
            local_ufrag(&stun(&[(ATTR_USERNAME, &[0xff, b':', b'a'])])),
            None
        );
        let mut bad_cookie = stun(&[(ATTR_USERNAME, b"a:b")]);
        bad_cookie[4] = 0;
        assert_eq!(local_ufrag(&bad_cookie), None);
        // RTP and DTLS are not STUN.
        let mut rtp = stun(&[(ATTR_USERNAME, b"a:b")]);
        rtp[0] = 0x80;
        assert_eq!(local_ufrag(&rtp), None);
        assert_eq!(local_ufrag(&[]), None);
        assert_eq!(local_ufrag(&[0; 19]), None);
    }

    #[test]
    fn truncated_or_lying_lengths_are_refused_without_reading_past_the_end() {
        let full = stun(&[(ATTR_USERNAME, b"abc:def")]);
        for cut in 0..full.len() {
            assert_eq!(local_ufrag(&full[..cut]), None, "cut at {cut}");
        }
        // The attribute claims more than the message holds.
        let mut lying = full.clone();
        lying[HEADER_LEN + 3] = 200;
        assert_eq!(local_ufrag(&lying), None);
        // The header claims more than the datagram holds.
        let mut lying = full;
        lying[3] = 255;
        assert_eq!(local_ufrag(&lying), None);
    }

    /// A binding request signed with `password`, then a FINGERPRINT-like trailer.
    fn signed(username: &[u8], password: &[u8]) -> Vec<u8> {
        let mut m = stun(&[(ATTR_USERNAME, username)]);
        let body_len = m.len() - HEADER_LEN;
        let covered = u16::try_from(body_len + 4 + INTEGRITY_LEN).unwrap();
        m[2..4].copy_from_slice(&covered.to_be_bytes());
        let mut mac = Hmac::<Sha1>::new_from_slice(password).unwrap();
        mac.update(&m);
        let tag = mac.finalize().into_bytes();
        m.extend_from_slice(&ATTR_MESSAGE_INTEGRITY.to_be_bytes());
        m.extend_from_slice(&20u16.to_be_bytes());
        m.extend_from_slice(&tag);
        // FINGERPRINT after the integrity: counted in the length, not in the HMAC.
        m.extend_from_slice(&[0x80, 0x28, 0, 4, 1, 2, 3, 4]);
        let total = u16::try_from(m.len() - HEADER_LEN).unwrap();
        m[2..4].copy_from_slice(&total.to_be_bytes());
        m
    }

    #[test]
    fn integrity_verifies_with_the_right_password_only() {
        let m = signed(b"srv:cli", b"the-password");
        assert_eq!(local_ufrag(&m), Some("srv"));
        assert!(integrity_ok(&m, b"the-password"));
        assert!(!integrity_ok(&m, b"another-password"));
        // Any changed byte before the integrity breaks it.
        for i in 0..m.len() - 28 {
            if (2..4).contains(&i) {
                continue;
            }
            let mut bad = m.clone();
            bad[i] ^= 0x01;
            assert!(!integrity_ok(&bad, b"the-password"), "byte {i}");
        }
        // No integrity at all, or a truncated one.
        assert!(!integrity_ok(
            &stun(&[(ATTR_USERNAME, b"srv:cli")]),
            b"the-password"
        ));
        for cut in 0..m.len() {
            let _ = integrity_ok(&m[..cut], b"the-password");
        }
    }

    #[test]
    fn classifies_by_first_byte() {
        assert_eq!(classify(&[0x01]), Kind::Stun);
        assert_eq!(classify(&[22]), Kind::Dtls);
        assert_eq!(classify(&[0x80]), Kind::Rtp);
        assert_eq!(classify(&[0xff]), Kind::Other);
        assert_eq!(classify(&[]), Kind::Other);
    }
}
