//! RFC 9605 SFrame with suite 0x0004 AES_128_GCM_SHA256_128, via the `sframe` crate
//! (ADR 0003 §1, §10): `header || ct || tag`, with the metadata passed separately and
//! authenticated (`AAD = header || metadata`).

use std::convert::Infallible;

use sframe::CipherSuite;
use sframe::frame::{EncryptedFrameView, FrameCounter, MediaFrameView};
use sframe::header::SframeHeader;
use sframe::key::{DecryptionKey, EncryptionKey};

/// The one suite Salon uses (§4.5 of RFC 9605): AES_128_GCM_SHA256_128.
const SUITE: CipherSuite = CipherSuite::AesGcm128Sha256;

/// Length of the AES-GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// A parsed SFrame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub kid: u64,
    pub ctr: u64,
    /// Encoded length in bytes (1–17).
    pub len: usize,
}

/// Parses the SFrame header at the start of `data` (RFC 9605 §4.3).
pub(crate) fn parse_header(data: &[u8]) -> Option<Header> {
    let header = SframeHeader::deserialize(data).ok()?;
    let len = header.len();
    (data.len() >= len).then_some(Header {
        kid: header.key_id(),
        ctr: header.counter(),
        len,
    })
}

/// Encodes the SFrame header for (`kid`, `ctr`) in its shortest form.
#[cfg(test)]
pub(crate) fn encode_header(kid: u64, ctr: u64) -> Vec<u8> {
    let header = SframeHeader::new(kid, ctr);
    let mut out = vec![0u8; header.len()];
    header.serialize(&mut out).expect("sized buffer");
    out
}

/// Hands the sframe crate a counter value we chose (our counters live in [`crate::keys`]).
struct FixedCounter(u64);

impl FrameCounter for FixedCounter {
    type Error = Infallible;
    fn try_next(&mut self) -> Result<u64, Infallible> {
        Ok(self.0)
    }
}

/// SFrame failed (the key could not be derived, or sealing failed inside AES-GCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("SFrame crypto failed")]
pub(crate) struct CryptoFailure;

/// A sealing key derived once from a base key (RFC 9605 §4.4.2).
pub(crate) struct SealKey(EncryptionKey);

impl SealKey {
    pub(crate) fn derive(kid: u64, base_key: &[u8]) -> Result<Self, CryptoFailure> {
        EncryptionKey::derive_from(SUITE, kid, base_key)
            .map(Self)
            .map_err(|_| CryptoFailure)
    }

    /// `header || ct || tag` for `payload` under `ctr`, authenticating `metadata`.
    pub(crate) fn seal(
        &self,
        ctr: u64,
        payload: &[u8],
        metadata: &[u8],
    ) -> Result<Vec<u8>, CryptoFailure> {
        let frame = MediaFrameView::with_meta_data(&mut FixedCounter(ctr), payload, metadata);
        let mut buffer = Vec::new();
        let sealed = frame
            .encrypt_into(&self.0, &mut buffer)
            .map_err(|_| CryptoFailure)?;
        Ok(sealed.sframe_cipher_text().to_vec())
    }
}

/// An opening key derived once from a base key (RFC 9605 §4.4.2).
pub(crate) struct OpenKey(DecryptionKey);

impl OpenKey {
    pub(crate) fn derive(kid: u64, base_key: &[u8]) -> Result<Self, CryptoFailure> {
        DecryptionKey::derive_from(SUITE, kid, base_key)
            .map(Self)
            .map_err(|_| CryptoFailure)
    }

    /// Opens `header || ct || tag` (whose header carries this key's KID), authenticating
    /// `metadata`. `None` on any failure.
    pub(crate) fn open(&self, sframe: &[u8], metadata: &[u8]) -> Option<Vec<u8>> {
        let header = parse_header(sframe)?;
        if sframe.len() < header.len + TAG_LEN {
            return None;
        }
        let view = EncryptedFrameView::try_with_meta_data(sframe, metadata).ok()?;
        let mut buffer = Vec::new();
        let opened = view.decrypt_into(&self.0, &mut buffer).ok()?;
        Some(opened.payload().to_vec())
    }
}

#[cfg(test)]
mod tests {
    //! RFC 9605 Appendix C, from the vendored `tests/vectors/rfc9605.json`.
    use super::*;
    use crate::crypto::{hex, hkdf_sha256, unhex};
    use serde_json::Value;

    fn vectors() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/rfc9605.json");
        serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
    }

    fn field<'a>(v: &'a Value, name: &str) -> &'a str {
        v[name].as_str().expect(name)
    }

    #[test]
    fn rfc9605_header_vectors() {
        let v = vectors();
        let headers = v["header"].as_array().expect("header");
        assert!(headers.len() > 200);
        for h in headers {
            let kid = h["kid"].as_u64().expect("kid");
            let ctr = h["ctr"].as_u64().expect("ctr");
            let encoded = unhex(field(h, "encoded"));
            assert_eq!(encode_header(kid, ctr), encoded, "kid {kid} ctr {ctr}");
            let parsed = parse_header(&encoded).expect("parse");
            assert_eq!(
                (parsed.kid, parsed.ctr, parsed.len),
                (kid, ctr, encoded.len())
            );
            // a truncated header never parses
            assert_eq!(parse_header(&encoded[..encoded.len() - 1]), None);
        }
    }

    #[test]
    fn rfc9605_aes_128_gcm_sha256_128() {
        let v = vectors();
        let cases: Vec<&Value> = v["sframe"]
            .as_array()
            .expect("sframe")
            .iter()
            .filter(|c| c["cipher_suite"].as_u64() == Some(4))
            .collect();
        assert_eq!(cases.len(), 1);
        for c in cases {
            let kid = c["kid"].as_u64().expect("kid");
            let ctr = c["ctr"].as_u64().expect("ctr");
            let base_key = unhex(field(c, "base_key"));
            let metadata = unhex(field(c, "metadata"));
            let pt = unhex(field(c, "pt"));
            let ct = unhex(field(c, "ct"));

            // key schedule per §14 (labels, extract-then-expand), checked independently
            let label = |kind: &str| {
                [
                    format!("SFrame 1.0 Secret {kind} ").as_bytes(),
                    &kid.to_be_bytes(),
                    &4u16.to_be_bytes(),
                ]
                .concat()
            };
            assert_eq!(hex(&label("key")), field(c, "sframe_key_label"));
            assert_eq!(hex(&label("salt")), field(c, "sframe_salt_label"));
            let key: [u8; 16] = hkdf_sha256(b"", &base_key, &label("key"));
            let salt: [u8; 12] = hkdf_sha256(b"", &base_key, &label("salt"));
            assert_eq!(hex(&key), field(c, "sframe_key"));
            assert_eq!(hex(&salt), field(c, "sframe_salt"));
            let mut nonce = salt;
            for (n, c) in nonce[4..].iter_mut().zip(ctr.to_be_bytes()) {
                *n ^= c;
            }
            assert_eq!(hex(&nonce), field(c, "nonce"));
            let aad = [encode_header(kid, ctr), metadata.clone()].concat();
            assert_eq!(hex(&aad), field(c, "aad"));

            let sealed = SealKey::derive(kid, &base_key)
                .expect("key")
                .seal(ctr, &pt, &metadata)
                .expect("seal");
            assert_eq!(hex(&sealed), hex(&ct));

            let open = OpenKey::derive(kid, &base_key).expect("key");
            assert_eq!(open.open(&ct, &metadata), Some(pt.clone()));
            assert_eq!(open.open(&ct, b"other metadata"), None);
            for i in 0..ct.len() {
                let mut bad = ct.clone();
                bad[i] ^= 0x40;
                assert_eq!(open.open(&bad, &metadata), None, "byte {i}");
            }
            for len in 0..ct.len() {
                assert_eq!(open.open(&ct[..len], &metadata), None);
            }
            let other = OpenKey::derive(kid + 1, &base_key).expect("key");
            assert_eq!(other.open(&ct, &metadata), None);
        }
    }
}
