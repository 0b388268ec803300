//! Small infallible wrappers over `aws-lc-rs` (SHA-256, HMAC-SHA256, HKDF-SHA256 with L ≤ 32).

use aws_lc_rs::{digest, hmac};

/// SHA-256 over the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// HMAC-SHA256(key, concatenation of `parts`).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// HKDF-SHA256 (RFC 5869) for output lengths up to one hash block (`N ≤ 32`):
/// `PRK = HMAC(salt, ikm)`, `OKM = HMAC(PRK, info || 0x01)[..N]`. An empty salt is what
/// RFC 5869 §2.2 replaces by 32 zero bytes; HMAC pads both to the same block, so it is the same.
pub(crate) fn hkdf_sha256<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    const { assert!(N <= 32) };
    let prk = hmac_sha256(salt, &[ikm]);
    let t1 = hmac_sha256(&prk, &[info, &[1u8]]);
    let mut out = [0u8; N];
    out.copy_from_slice(&t1[..N]);
    out
}

/// Lower-case hex, for test vectors only.
#[cfg(test)]
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lower- or upper-case hex, for test vectors only.
#[cfg(test)]
pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::hkdf;

    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }

    fn reference(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
        let info = [info];
        let okm = prk.expand(&info, Len(len)).expect("expand");
        let mut out = vec![0u8; len];
        okm.fill(&mut out).expect("fill");
        out
    }

    #[test]
    fn hkdf_matches_aws_lc_and_rfc5869() {
        // RFC 5869 A.1, first 32 of 42 bytes.
        let ikm = [0x0bu8; 22];
        let salt = unhex("000102030405060708090a0b0c");
        let info = unhex("f0f1f2f3f4f5f6f7f8f9");
        let okm: [u8; 32] = hkdf_sha256(&salt, &ikm, &info);
        assert_eq!(
            hex(&okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
        );
        for (salt, ikm, info) in [
            (
                &b""[..],
                &b"room secret bytes"[..],
                &b"salon/e2ee/v1/announce"[..],
            ),
            (&[7u8; 32][..], &[1u8; 32][..], &b"salon/e2ee/v1/pair"[..]),
        ] {
            let ours: [u8; 16] = hkdf_sha256(salt, ikm, info);
            assert_eq!(ours.to_vec(), reference(salt, ikm, info, 16));
            let ours: [u8; 32] = hkdf_sha256(salt, ikm, info);
            assert_eq!(ours.to_vec(), reference(salt, ikm, info, 32));
        }
    }

    #[test]
    fn sha256_of_parts() {
        assert_eq!(
            hex(&sha256(&[b"a", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
