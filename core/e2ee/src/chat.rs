//! Chat sealed under the room secret (ADR 0003 §16).
//!
//! A chat message is kept by the server for members who come back later, when the sender keys
//! of the call it was written in are long gone; so it is sealed under a key derived from the
//! room secret `S`, which every member holds (it is in the link) and the server never sees:
//!
//! ```text
//! K_chat = HKDF-SHA256(salt = "", ikm = S, info = "salon/e2ee/v1/chat", 32)
//! id     = HKDF-SHA256(salt = "", ikm = S, info = "salon/e2ee/v1/chat-id", 8)
//! sealed = 0x01 || id || nonce (12, random) || AES-256-GCM(K_chat, nonce, text, aad = 0x01 || id)
//! ```
//!
//! The key id tells which secret a message needs: after a new link a member still holds the old
//! secret (clients keep the secrets they have known) and can read what was written before.
//! Anyone holding `S` can write under any name, and the server can drop, reorder or
//! misattribute messages (it assigns `from` and `name`); it cannot read or alter them.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto::hkdf_sha256;
use crate::secret::RoomSecret;

const CHAT_INFO: &[u8] = b"salon/e2ee/v1/chat";
const CHAT_ID_INFO: &[u8] = b"salon/e2ee/v1/chat-id";
const VERSION: u8 = 0x01;
const ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + ID_LEN;

/// Why a sealed chat message did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChatOpenError {
    /// Not base64url, too short, or an unknown version.
    #[error("not a sealed chat message")]
    Malformed,
    /// Sealed under a room secret this member does not hold (e.g. from before a new link
    /// they never saw).
    #[error("sealed with a room secret this member does not hold")]
    UnknownKey,
    /// The key is known but the message does not authenticate (altered or forged).
    #[error("the message does not authenticate")]
    Forged,
    /// It opened but is not UTF-8 text.
    #[error("the message is not text")]
    NotText,
}

/// The chat key of one room secret.
#[derive(Clone)]
pub struct ChatKey {
    id: [u8; ID_LEN],
    key: [u8; 32],
}

impl ChatKey {
    /// Derives the chat key of `secret`.
    pub fn new(secret: &RoomSecret) -> Self {
        Self {
            id: hkdf_sha256(b"", secret.as_bytes(), CHAT_ID_INFO),
            key: hkdf_sha256(b"", secret.as_bytes(), CHAT_INFO),
        }
    }

    /// The key id that sealed messages carry.
    pub fn id(&self) -> [u8; ID_LEN] {
        self.id
    }

    fn aead(&self) -> LessSafeKey {
        // A 32-byte key is always valid for AES-256-GCM.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).expect("32-byte key"))
    }

    /// Seals `text` with a random nonce; the result is base64url without padding, ready for
    /// `chat_send`'s `sealed`.
    pub fn seal(&self, text: &str) -> String {
        self.seal_with_nonce(text, rand::random())
    }

    /// [`ChatKey::seal`] with a given nonce (test vectors only).
    pub(crate) fn seal_with_nonce(&self, text: &str, nonce: [u8; NONCE_LEN]) -> String {
        let header = self.header();
        let mut in_out = text.as_bytes().to_vec();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut in_out,
            )
            .expect("AES-GCM sealing of a message far below its limit");
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + in_out.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        URL_SAFE_NO_PAD.encode(out)
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = VERSION;
        h[1..].copy_from_slice(&self.id);
        h
    }
}

impl std::fmt::Debug for ChatKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatKey(…)")
    }
}

/// Opens a sealed chat message with whichever of `keys` it names.
pub fn open_chat(keys: &[ChatKey], sealed: &str) -> Result<String, ChatOpenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| ChatOpenError::Malformed)?;
    if bytes.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || bytes[0] != VERSION {
        return Err(ChatOpenError::Malformed);
    }
    let (header, rest) = bytes.split_at(HEADER_LEN);
    let key = keys
        .iter()
        .find(|k| k.id[..] == header[1..])
        .ok_or(ChatOpenError::UnknownKey)?;
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ChatOpenError::Malformed)?;
    let mut in_out = sealed.to_vec();
    let plain = key
        .aead()
        .open_in_place(nonce, Aad::from(header), &mut in_out)
        .map_err(|_| ChatOpenError::Forged)?;
    String::from_utf8(plain.to_vec()).map_err(|_| ChatOpenError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_with_the_right_secret_only() {
        let a = ChatKey::new(&RoomSecret::from_bytes([1; 32]));
        let b = ChatKey::new(&RoomSecret::from_bytes([2; 32]));
        let sealed = a.seal("hello 👋 <b>");
        assert_eq!(
            open_chat(&[b.clone(), a.clone()], &sealed).as_deref(),
            Ok("hello 👋 <b>")
        );
        assert_eq!(open_chat(&[b], &sealed), Err(ChatOpenError::UnknownKey));
        assert_ne!(a.seal("x"), a.seal("x"), "fresh nonce each time");
        assert_eq!(format!("{a:?}"), "ChatKey(…)");
    }

    #[test]
    fn tampering_and_junk_are_refused() {
        let a = ChatKey::new(&RoomSecret::from_bytes([1; 32]));
        let sealed = a.seal("hello");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("b64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(
            open_chat(std::slice::from_ref(&a), &tampered),
            Err(ChatOpenError::Forged)
        );
        for junk in ["", "AA", "not base64!", &"A".repeat(60)] {
            assert!(open_chat(std::slice::from_ref(&a), junk).is_err(), "{junk}");
        }
        // The longest text the protocol allows still seals within its sealed limit.
        let long = "€".repeat(1000);
        assert!(a.seal(&long).len() <= 5400);
    }
}
