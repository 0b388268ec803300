//! Per-call X25519 identities, commitments, announcement MACs and pairwise boxes
//! (ADR 0003 §2.2, §2.3, §14).

use aws_lc_rs::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey, X25519};
use subtle::ConstantTimeEq as _;

use crate::crypto::{hkdf_sha256, hmac_sha256, sha256};
use crate::keys::SenderKey;
use crate::secret::RoomSecret;

const COMMIT_LABEL: &[u8] = b"salon/e2ee/v1/commit";
const ANNOUNCE_LABEL: &[u8] = b"salon/e2ee/v1/announce";
const PAIR_INFO: &[u8] = b"salon/e2ee/v1/pair";
const BOX_LABEL: &[u8] = b"salon/e2ee/v1/box";

/// Length of a box nonce.
const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag of a box.
const TAG_LEN: usize = 16;
/// Box plaintext kind: a sender key.
const KIND_SENDER_KEY: u8 = 0x01;
/// Box plaintext kind: a new room secret.
const KIND_ROOM_SECRET: u8 = 0x02;

/// Why an identity could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The X25519 private key was rejected, or key generation failed.
    #[error("X25519 key rejected")]
    InvalidKey,
}

/// Why a box could not be made or opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BoxError {
    /// X25519 with the peer's public key failed (e.g. a low-order point gives an all-zero
    /// shared secret).
    #[error("key agreement with the peer's public key failed")]
    Agreement,
    /// The box is too short, or its tag does not verify for this pair, direction and context.
    #[error("the box does not open")]
    Authentication,
    /// The box opened but its plaintext is not a known kind of the right length.
    #[error("the box holds an unknown plaintext")]
    Malformed,
    /// AES-GCM refused to seal (should not happen).
    #[error("box crypto failed")]
    Crypto,
}

/// What a pairwise box carries (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxContent {
    /// The sender's key for its frames: `0x01 || u64be(KID) || base_key (16)`, empty context.
    SenderKey(SenderKey),
    /// A new room secret after a link rotation: `0x02 || S' (32)`, context = the new room id.
    RoomSecret(RoomSecret),
}

impl BoxContent {
    fn encode(&self) -> Vec<u8> {
        match self {
            Self::SenderKey(key) => {
                let mut out = Vec::with_capacity(25);
                out.push(KIND_SENDER_KEY);
                out.extend_from_slice(&key.kid.to_be_bytes());
                out.extend_from_slice(&key.key);
                out
            }
            Self::RoomSecret(secret) => {
                let mut out = Vec::with_capacity(33);
                out.push(KIND_ROOM_SECRET);
                out.extend_from_slice(secret.as_bytes());
                out
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, BoxError> {
        match bytes.split_first() {
            Some((&KIND_SENDER_KEY, rest)) if rest.len() == 24 => {
                let (kid, key) = rest.split_at(8);
                let kid = u64::from_be_bytes(kid.try_into().map_err(|_| BoxError::Malformed)?);
                let key = key.try_into().map_err(|_| BoxError::Malformed)?;
                Ok(Self::SenderKey(SenderKey { kid, key }))
            }
            Some((&KIND_ROOM_SECRET, rest)) => {
                let bytes: [u8; 32] = rest.try_into().map_err(|_| BoxError::Malformed)?;
                Ok(Self::RoomSecret(RoomSecret::from_bytes(bytes)))
            }
            _ => Err(BoxError::Malformed),
        }
    }
}

/// `SHA-256("salon/e2ee/v1/commit" || pub)`: the commitment sent in `join` (§2.2).
pub fn commit_of(public: &[u8; 32]) -> [u8; 32] {
    sha256(&[COMMIT_LABEL, public])
}

/// `HMAC-SHA256(K_auth, "salon/e2ee/v1/announce" || u16be(len(id)) || id || pub)` (§2.2, §14).
///
/// Participant ids are short; a (never valid) id longer than 65535 bytes has its length field
/// saturated, which keeps the message unambiguous because `pub` has a fixed length.
pub fn announce_mac(secret: &RoomSecret, participant_id: &str, public: &[u8; 32]) -> [u8; 32] {
    let id = participant_id.as_bytes();
    let len = u16::try_from(id.len()).unwrap_or(u16::MAX).to_be_bytes();
    hmac_sha256(&secret.k_auth(), &[ANNOUNCE_LABEL, &len, id, public])
}

/// Checks an announcement MAC in constant time.
pub fn verify_announce(
    secret: &RoomSecret,
    participant_id: &str,
    public: &[u8; 32],
    mac: &[u8],
) -> bool {
    let expected = announce_mac(secret, participant_id, public);
    mac.len() == expected.len() && bool::from(expected.ct_eq(mac))
}

/// Checks a revealed public key against the commitment seen in `join`, in constant time.
pub fn verify_commit(commit: &[u8], public: &[u8; 32]) -> bool {
    let expected = commit_of(public);
    commit.len() == expected.len() && bool::from(expected.ct_eq(commit))
}

/// This participant's X25519 key pair for one call (kept across resumes of the same participant
/// id). `Debug` prints `Identity(…)`.
pub struct Identity {
    private: PrivateKey,
    public: [u8; 32],
}

impl Identity {
    /// Makes a fresh key pair.
    pub fn generate() -> Result<Self, IdentityError> {
        let private = PrivateKey::generate(&X25519).map_err(|_| IdentityError::InvalidKey)?;
        Self::from_key(private)
    }

    /// Rebuilds a key pair from its 32-byte X25519 private key (RFC 7748 scalar; for test
    /// vectors).
    pub fn from_private_bytes(private: &[u8; 32]) -> Result<Self, IdentityError> {
        let private = PrivateKey::from_private_key(&X25519, private)
            .map_err(|_| IdentityError::InvalidKey)?;
        Self::from_key(private)
    }

    fn from_key(private: PrivateKey) -> Result<Self, IdentityError> {
        let public = private
            .compute_public_key()
            .map_err(|_| IdentityError::InvalidKey)?;
        let public = public
            .as_ref()
            .try_into()
            .map_err(|_| IdentityError::InvalidKey)?;
        Ok(Self { private, public })
    }

    /// The public key `pub` (32 bytes).
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The commitment to [`Identity::public`] sent in `join`.
    pub fn commit(&self) -> [u8; 32] {
        commit_of(&self.public)
    }

    /// This participant's announcement MAC under the room secret.
    pub fn announce_mac(&self, secret: &RoomSecret, participant_id: &str) -> [u8; 32] {
        announce_mac(secret, participant_id, &self.public)
    }

    /// The pair key `k_AB` shared with `peer` (§2.3).
    pub(crate) fn pair_key(&self, peer: &[u8; 32]) -> Result<[u8; 16], BoxError> {
        let (lo, hi) = if self.public <= *peer {
            (&self.public, peer)
        } else {
            (peer, &self.public)
        };
        let salt = sha256(&[lo, hi]);
        agreement::agree(
            &self.private,
            UnparsedPublicKey::new(&X25519, peer),
            BoxError::Agreement,
            |shared| Ok(hkdf_sha256(&salt, shared, PAIR_INFO)),
        )
    }

    /// Seals `content` for the holder of `to_public`, with a random nonce. `context` is bound
    /// into the AAD (empty for sender keys, the new room id for room secrets).
    pub fn seal_box(
        &self,
        to_public: &[u8; 32],
        context: &[u8],
        content: &BoxContent,
    ) -> Result<Vec<u8>, BoxError> {
        self.seal_box_with_nonce(to_public, context, content, rand::random())
    }

    /// [`Identity::seal_box`] with a given nonce (test vectors only: a nonce must never repeat
    /// under one pair key).
    pub(crate) fn seal_box_with_nonce(
        &self,
        to_public: &[u8; 32],
        context: &[u8],
        content: &BoxContent,
        nonce: [u8; NONCE_LEN],
    ) -> Result<Vec<u8>, BoxError> {
        let key = box_key(&self.pair_key(to_public)?)?;
        let aad = [BOX_LABEL, &self.public, to_public, context].concat();
        let mut in_out = content.encode();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut in_out,
        )
        .map_err(|_| BoxError::Crypto)?;
        let mut out = Vec::with_capacity(NONCE_LEN + in_out.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// Opens a box made by the holder of `from_public` for this identity under `context`.
    pub fn open_box(
        &self,
        from_public: &[u8; 32],
        context: &[u8],
        bytes: &[u8],
    ) -> Result<BoxContent, BoxError> {
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(BoxError::Authentication);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| BoxError::Malformed)?;
        let key = box_key(&self.pair_key(from_public)?)?;
        let aad = [BOX_LABEL, from_public, &self.public, context].concat();
        let mut in_out = sealed.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| BoxError::Authentication)?;
        BoxContent::decode(plain)
    }
}

fn box_key(pair_key: &[u8; 16]) -> Result<LessSafeKey, BoxError> {
    UnboundKey::new(&AES_128_GCM, pair_key)
        .map(LessSafeKey::new)
        .map_err(|_| BoxError::Crypto)
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Identity, Identity) {
        (
            Identity::generate().expect("a"),
            Identity::generate().expect("b"),
        )
    }

    #[test]
    fn box_round_trip_and_sizes() {
        let (a, b) = pair();
        let key = SenderKey::random(3);
        let content = BoxContent::SenderKey(key.clone());
        let sealed = a.seal_box(&b.public(), b"", &content).expect("seal");
        assert_eq!(sealed.len(), 53);
        assert_eq!(b.open_box(&a.public(), b"", &sealed), Ok(content));

        let secret = BoxContent::RoomSecret(RoomSecret::generate());
        let sealed = a.seal_box(&b.public(), b"room-2", &secret).expect("seal");
        assert_eq!(sealed.len(), 61);
        assert_eq!(b.open_box(&a.public(), b"room-2", &sealed), Ok(secret));
        assert_eq!(a.pair_key(&b.public()), b.pair_key(&a.public()));
    }

    #[test]
    fn box_binds_context_direction_and_pair() {
        let (a, b) = pair();
        let c = Identity::generate().expect("c");
        let content = BoxContent::SenderKey(SenderKey::random(0));
        let sealed = a.seal_box(&b.public(), b"ctx", &content).expect("seal");
        assert_eq!(
            b.open_box(&a.public(), b"", &sealed),
            Err(BoxError::Authentication)
        );
        assert_eq!(
            b.open_box(&a.public(), b"ctx2", &sealed),
            Err(BoxError::Authentication)
        );
        // swapped from/to: A opening its own box "from B"
        assert_eq!(
            a.open_box(&b.public(), b"ctx", &sealed),
            Err(BoxError::Authentication)
        );
        assert_eq!(
            c.open_box(&a.public(), b"ctx", &sealed),
            Err(BoxError::Authentication)
        );
        assert_eq!(
            b.open_box(&c.public(), b"ctx", &sealed),
            Err(BoxError::Authentication)
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(
                b.open_box(&a.public(), b"ctx", &bad),
                Err(BoxError::Authentication)
            );
        }
        for len in 0..sealed.len() {
            assert!(b.open_box(&a.public(), b"ctx", &sealed[..len]).is_err());
        }
        assert_eq!(
            b.open_box(&[0u8; 32], b"ctx", &sealed),
            Err(BoxError::Agreement)
        );
    }

    #[test]
    fn unknown_plaintexts_are_malformed() {
        let (a, b) = pair();
        assert_eq!(BoxContent::decode(&[]), Err(BoxError::Malformed));
        assert_eq!(BoxContent::decode(&[1; 24]), Err(BoxError::Malformed));
        assert_eq!(BoxContent::decode(&[2; 32]), Err(BoxError::Malformed));
        assert_eq!(BoxContent::decode(&[3; 25]), Err(BoxError::Malformed));
        // a well-sealed box with a bad plaintext
        let key = box_key(&a.pair_key(&b.public()).expect("k")).expect("key");
        let aad = [BOX_LABEL, &a.public(), &b.public(), b""].concat();
        let mut in_out = vec![9u8; 25];
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::from(aad),
            &mut in_out,
        )
        .expect("seal");
        let sealed = [&[0u8; 12][..], &in_out].concat();
        assert_eq!(
            b.open_box(&a.public(), b"", &sealed),
            Err(BoxError::Malformed)
        );
    }

    #[test]
    fn announcements() {
        let secret = RoomSecret::generate();
        let a = Identity::generate().expect("a");
        let mac = a.announce_mac(&secret, "p-1");
        assert!(verify_announce(&secret, "p-1", &a.public(), &mac));
        assert!(!verify_announce(&secret, "p-2", &a.public(), &mac));
        assert!(!verify_announce(
            &RoomSecret::generate(),
            "p-1",
            &a.public(),
            &mac
        ));
        assert!(!verify_announce(&secret, "p-1", &[7; 32], &mac));
        assert!(!verify_announce(&secret, "p-1", &a.public(), &mac[..31]));
        assert!(verify_commit(&a.commit(), &a.public()));
        assert!(!verify_commit(&a.commit(), &[7; 32]));
        assert!(!verify_commit(&a.commit()[..31], &a.public()));
        assert_eq!(format!("{a:?}"), "Identity(…)");
    }

    #[test]
    fn rfc7748_x25519() {
        // RFC 7748 §6.1 (Alice and Bob).
        use crate::crypto::{hex, unhex};
        let alice: [u8; 32] =
            unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .try_into()
                .expect("32");
        let alice = Identity::from_private_bytes(&alice).expect("alice");
        assert_eq!(
            hex(&alice.public()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }
}
