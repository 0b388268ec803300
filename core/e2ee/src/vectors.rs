//! Builds `tests/vectors/salon-v1.json` deterministically and checks the committed file against
//! it; `SALON_E2EE_REGENERATE=1 cargo test -p salon-e2ee` rewrites the file.
//! The schema is described in `tests/vectors/README.md`.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::crypto::{hex, unhex};
use crate::frame::{authenticated, escape, split_prefix, unescape};
use crate::identity::{BoxContent, Identity};
use crate::keys::{KeyTable, SenderKey, protect};
use crate::sframe::{SealKey, parse_header};
use crate::{Codec, RoomSecret, announce_mac, safety_code};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/salon-v1.json");

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn seq<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn arr32(hex_str: &str) -> [u8; 32] {
    unhex(hex_str).try_into().expect("32 bytes")
}

fn codec_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Opus => "opus",
        Codec::H264 => "h264",
        Codec::Vp8 => "vp8",
    }
}

/// Protects `plain`, checks it opens again through a [`KeyTable`], and describes it.
fn frame(codec: Codec, kid: u64, ctr: u64, base_key: [u8; 16], plain: &[u8]) -> Value {
    let key = SealKey::derive(kid, &base_key).expect("key");
    let protected = protect(codec, &key, ctr, plain).expect("protect");
    let mut table = KeyTable::new();
    table.insert("sender", SenderKey { kid, key: base_key });
    let opened = table
        .open("sender", codec, &protected, Instant::now())
        .expect("open");
    assert_eq!(opened, plain);
    let prefix_len = split_prefix(codec, plain).unwrap_or(0);
    assert_eq!(protected[..prefix_len], plain[..prefix_len]);
    json!({
        "codec": codec_name(codec),
        "kid": kid,
        "ctr": ctr,
        "base_key_hex": hex(&base_key),
        "prefix_len": prefix_len,
        "plain_hex": hex(plain),
        "protected_hex": hex(&protected),
    })
}

/// The SFrame part (header || ct || tag) `protect` would produce, before escaping.
fn raw_sframe(codec: Codec, kid: u64, ctr: u64, base_key: [u8; 16], plain: &[u8]) -> Vec<u8> {
    let key = SealKey::derive(kid, &base_key).expect("key");
    let protected = protect(codec, &key, ctr, plain).expect("protect");
    let p = split_prefix(codec, plain).expect("prefix");
    unescape(authenticated(codec, &plain[..p]), &protected[p..])
}

/// Changes `plain` after its prefix so that its ciphertext holds `target` at `at` (AES-GCM
/// ciphertext is plaintext XOR keystream, so this is exact).
fn force_ciphertext(
    codec: Codec,
    kid: u64,
    ctr: u64,
    base_key: [u8; 16],
    plain: &mut [u8],
    at: usize,
    target: &[u8],
) {
    let p = split_prefix(codec, plain).expect("prefix");
    let sframe = raw_sframe(codec, kid, ctr, base_key, plain);
    let header_len = parse_header(&sframe).expect("header").len;
    for (i, t) in target.iter().enumerate() {
        plain[p + at + i] ^= sframe[header_len + at + i] ^ t;
    }
    let sframe = raw_sframe(codec, kid, ctr, base_key, plain);
    assert_eq!(&sframe[header_len + at..][..target.len()], target);
}

fn h264_frames() -> Vec<Value> {
    let base_key: [u8; 16] = seq(0x40);
    let sps = [
        0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x06, 0xd0, 0xa1, 0x35,
    ];
    let pps = [0x68, 0xce, 0x06, 0xe2];
    // Slice payloads full of `00 00 0x` sequences (already emulation-prevented, as encoders do).
    let idr_payload = [
        0x88, 0x84, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x01, 0xff, 0x00, 0x00, 0x03, 0x02, 0x10,
        0x00, 0x00, 0x03, 0x03, 0x7f, 0x00, 0x00, 0x03, 0x00, 0x42,
    ];
    let second_slice = [
        0x65, 0xb8, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x00, 0x11,
    ];

    let mut keyframe = Vec::new();
    for nal in [&sps[..], &pps[..]] {
        keyframe.extend_from_slice(&[0, 0, 0, 1]);
        keyframe.extend_from_slice(nal);
    }
    keyframe.extend_from_slice(&[0, 0, 0, 1, 0x65]);
    keyframe.extend_from_slice(&idr_payload);
    keyframe.extend_from_slice(&[0, 0, 1]);
    keyframe.extend_from_slice(&second_slice);

    // A delta frame whose ciphertext is forced to hold `00 00 01` and `00 00 00` (needs escaping).
    let mut delta = vec![0, 0, 0, 1, 0x41, 0x9a];
    delta.extend((0u8..48).map(|i| i.wrapping_mul(37)));
    force_ciphertext(Codec::H264, 2, 1000, base_key, &mut delta, 5, &[0, 0, 1]);
    force_ciphertext(
        Codec::H264,
        2,
        1000,
        base_key,
        &mut delta,
        20,
        &[0, 0, 0, 3],
    );

    // A frame where A ends in `00`: with KID 0 and CTR 0 the header is `00`, so the zero run
    // seeded from A reaches two and the first ciphertext byte (forced to `01`) gets a `03`.
    let mut seeded = vec![0, 0, 1, 0x65, 0x00];
    seeded.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    force_ciphertext(Codec::H264, 0, 0, base_key, &mut seeded, 0, &[1]);

    let frames = vec![
        frame(Codec::H264, 2, 5, base_key, &keyframe),
        frame(Codec::H264, 2, 1000, base_key, &delta),
        frame(Codec::H264, 0, 0, base_key, &seeded),
    ];
    for f in &frames {
        let protected = unhex(f["protected_hex"].as_str().expect("hex"));
        let p = usize::try_from(f["prefix_len"].as_u64().expect("p")).expect("usize");
        let a = &protected[p - 2..p];
        let tail = [a, &protected[p..]].concat();
        assert!(
            !tail.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2),
            "start code after P"
        );
    }
    // Both forced frames really needed escaping, the last one only because of A.
    for (kid, ctr, plain) in [(2, 1000, &delta), (0, 0, &seeded)] {
        let sframe = raw_sframe(Codec::H264, kid, ctr, base_key, plain);
        let p = split_prefix(Codec::H264, plain).expect("p");
        assert_ne!(escape(&plain[p - 2..p], &sframe), sframe);
    }
    let sframe = raw_sframe(Codec::H264, 0, 0, base_key, &seeded);
    assert_eq!(escape(&[0x65, 0x42], &sframe), sframe);
    frames
}

/// Sealed chat messages (ADR 0003 §16) under two secrets.
fn chat_vectors() -> Vec<Value> {
    [
        (seq::<32>(0x00), seq::<12>(0x40), "hello"),
        (
            seq::<32>(0xa0),
            seq::<12>(0x50),
            "Grüße 👋 <b>not html</b>\nline two",
        ),
    ]
    .iter()
    .map(|(secret, nonce, text)| {
        let secret = RoomSecret::from_bytes(*secret);
        let key = crate::ChatKey::new(&secret);
        let sealed = key.seal_with_nonce(text, *nonce);
        assert_eq!(
            crate::open_chat(std::slice::from_ref(&key), &sealed).as_deref(),
            Ok(*text)
        );
        json!({
            "secret": secret.to_base64url(),
            "key_id_hex": hex(&key.id()),
            "nonce_hex": hex(nonce),
            "text": text,
            "sealed": sealed,
        })
    })
    .collect()
}

fn build() -> Value {
    let secret = RoomSecret::from_bytes(seq(0x00));
    let privates = [
        // RFC 7748 §6.1 Alice and Bob, and a third key.
        arr32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
        arr32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
        seq::<32>(0x80),
    ];
    let ids = ["alice-7f3a", "bob-91c2", "carol-05de"];
    let identities: Vec<Identity> = privates
        .iter()
        .map(|p| Identity::from_private_bytes(p).expect("identity"))
        .collect();
    let identities_json: Vec<Value> = identities
        .iter()
        .zip(privates.iter().zip(ids))
        .map(|(identity, (private, id))| {
            json!({
                "private_hex": hex(private),
                "public_hex": hex(&identity.public()),
                "commit_b64": b64(&identity.commit()),
                "participant_id": id,
                "mac_b64": b64(&announce_mac(&secret, id, &identity.public())),
            })
        })
        .collect();

    let (alice, bob) = (&identities[0], &identities[1]);
    let pair_key = alice.pair_key(&bob.public()).expect("pair");
    assert_eq!(pair_key, bob.pair_key(&alice.public()).expect("pair"));

    let mut boxes = Vec::new();
    for (from, to, context, nonce, content) in [
        (
            0usize,
            1usize,
            "",
            seq::<12>(0x10),
            BoxContent::SenderKey(SenderKey {
                kid: 1,
                key: seq(0x30),
            }),
        ),
        (
            1,
            0,
            "Xk3rT9wQpL2m",
            seq::<12>(0x20),
            BoxContent::RoomSecret(RoomSecret::from_bytes(seq(0xa0))),
        ),
    ] {
        let sender = &identities[from];
        let receiver = &identities[to];
        let sealed = sender
            .seal_box_with_nonce(&receiver.public(), context.as_bytes(), &content, nonce)
            .expect("seal");
        let plaintext = match &content {
            BoxContent::SenderKey(k) => [&[1u8][..], &k.kid.to_be_bytes(), &k.key].concat(),
            BoxContent::RoomSecret(s) => [&[2u8][..], s.as_bytes()].concat(),
        };
        assert_eq!(
            receiver.open_box(&sender.public(), context.as_bytes(), &sealed),
            Ok(content)
        );
        boxes.push(json!({
            "from": from,
            "to": to,
            "context_utf8": context,
            "nonce_hex": hex(&nonce),
            "plaintext_hex": hex(&plaintext),
            "box_b64": b64(&sealed),
        }));
    }

    // Deliberately unsorted: implementations sort before hashing.
    let publics = [
        identities[2].public(),
        identities[0].public(),
        identities[1].public(),
    ];
    let code = safety_code(&secret, &publics);

    let opus_key: [u8; 16] = seq(0x60);
    let vp8_key: [u8; 16] = seq(0x70);
    let opus: Vec<u8> = [&[0x78u8][..], &seq::<40>(0x05)].concat();
    let mut vp8_key_frame = vec![0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01];
    vp8_key_frame.extend_from_slice(&seq::<30>(0xc0));
    let vp8_delta: Vec<u8> = [&[0x31u8, 0x07, 0x00][..], &seq::<25>(0x00)].concat();
    let mut frames = vec![
        frame(Codec::Opus, 0, 0, opus_key, &opus),
        frame(Codec::Opus, 0, 7, opus_key, &opus[..1]),
        frame(Codec::Opus, 0, 8, opus_key, &[]),
        frame(Codec::Opus, 9, 300, opus_key, &opus),
        frame(Codec::Vp8, 1, 42, vp8_key, &vp8_key_frame),
        frame(Codec::Vp8, 1, 70_000, vp8_key, &vp8_delta),
    ];
    frames.extend(h264_frames());

    let unescapes: Vec<Value> = [
        (&[0x65u8, 0x88][..], &[0u8, 0, 1][..]),
        (&[0x65, 0x88], &[0, 0, 0, 0, 0]),
        (&[0x65, 0x88], &[0, 0, 3, 0, 0, 2, 0xff]),
        (&[0x65, 0x00], &[0, 0]),
        (&[0x65, 0x00], &[0, 3, 0, 4]),
        (&[0x41, 0x9a], &[0, 3, 0, 0x80, 0, 0]),
    ]
    .iter()
    .map(|(a, raw)| {
        json!({
            "a_hex": hex(a),
            "escaped_hex": hex(&escape(a, raw)),
            "raw_hex": hex(raw),
        })
    })
    .collect();

    json!({
        "version": 1,
        "description": "Salon E2EE v1 shared vectors (ADR 0003 §14); generated by core/e2ee, see README.md",
        "secret": secret.to_base64url(),
        "k_auth_hex": hex(&secret.k_auth()),
        "k_code_hex": hex(&secret.k_code()),
        "identities": identities_json,
        "pair_key_hex": hex(&pair_key),
        "boxes": boxes,
        "safety_code": {
            "publics_hex": publics.iter().map(|p| hex(p)).collect::<Vec<_>>(),
            "code": code,
        },
        "frames": frames,
        "unescape": unescapes,
        "chat": chat_vectors(),
    })
}

#[test]
fn salon_v1_vectors_match_the_file() {
    let built = build();
    if std::env::var("SALON_E2EE_REGENERATE").as_deref() == Ok("1") {
        let text = serde_json::to_string_pretty(&built).expect("json") + "\n";
        std::fs::write(PATH, text).expect("write salon-v1.json");
        return;
    }
    let text = std::fs::read_to_string(PATH)
        .expect("salon-v1.json missing: run with SALON_E2EE_REGENERATE=1");
    let stored: Value = serde_json::from_str(&text).expect("json");
    assert!(
        stored == built,
        "salon-v1.json is out of date: run SALON_E2EE_REGENERATE=1 cargo test -p salon-e2ee"
    );
}

#[test]
fn salon_v1_file_reads_back_through_the_public_api() {
    // Reads only the file (not `build`), the way the JS test does.
    if std::env::var("SALON_E2EE_REGENERATE").as_deref() == Ok("1") {
        return; // the other test is rewriting the file right now
    }
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(PATH).expect("read")).expect("json");
    let s = |v: &Value| v.as_str().expect("string").to_owned();
    let secret = RoomSecret::from_base64url(&s(&v["secret"])).expect("secret");
    assert_eq!(hex(&secret.k_auth()), s(&v["k_auth_hex"]));
    assert_eq!(hex(&secret.k_code()), s(&v["k_code_hex"]));
    let ids: Vec<Identity> = v["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|i| {
            let id = Identity::from_private_bytes(&arr32(&s(&i["private_hex"]))).expect("id");
            assert_eq!(hex(&id.public()), s(&i["public_hex"]));
            assert_eq!(b64(&id.commit()), s(&i["commit_b64"]));
            let mac = URL_SAFE_NO_PAD.decode(s(&i["mac_b64"])).expect("b64");
            assert!(crate::verify_announce(
                &secret,
                &s(&i["participant_id"]),
                &id.public(),
                &mac
            ));
            id
        })
        .collect();
    assert_eq!(
        hex(&ids[0].pair_key(&ids[1].public()).expect("k")),
        s(&v["pair_key_hex"])
    );
    for b in v["boxes"].as_array().expect("boxes") {
        let from = &ids[usize::try_from(b["from"].as_u64().expect("from")).expect("idx")];
        let to = &ids[usize::try_from(b["to"].as_u64().expect("to")).expect("idx")];
        let sealed = URL_SAFE_NO_PAD.decode(s(&b["box_b64"])).expect("b64");
        assert_eq!(hex(&sealed[..12]), s(&b["nonce_hex"]));
        let content = to
            .open_box(&from.public(), s(&b["context_utf8"]).as_bytes(), &sealed)
            .expect("open");
        let plain = match content {
            BoxContent::SenderKey(k) => [&[1u8][..], &k.kid.to_be_bytes(), &k.key].concat(),
            BoxContent::RoomSecret(r) => [&[2u8][..], r.as_bytes()].concat(),
        };
        assert_eq!(hex(&plain), s(&b["plaintext_hex"]));
    }
    let publics: Vec<[u8; 32]> = v["safety_code"]["publics_hex"]
        .as_array()
        .expect("publics")
        .iter()
        .map(|p| arr32(&s(p)))
        .collect();
    assert_eq!(safety_code(&secret, &publics), s(&v["safety_code"]["code"]));
    for f in v["frames"].as_array().expect("frames") {
        let codec = match s(&f["codec"]).as_str() {
            "opus" => Codec::Opus,
            "h264" => Codec::H264,
            _ => Codec::Vp8,
        };
        let key = SenderKey {
            kid: f["kid"].as_u64().expect("kid"),
            key: unhex(&s(&f["base_key_hex"])).try_into().expect("16"),
        };
        let protected = unhex(&s(&f["protected_hex"]));
        let mut table = KeyTable::new();
        table.insert("x", key);
        let opened = table
            .open("x", codec, &protected, Instant::now())
            .expect("open");
        assert_eq!(hex(&opened), s(&f["plain_hex"]));
        assert!(crate::is_protected_shape(codec, &protected));
    }
    for u in v["unescape"].as_array().expect("unescape") {
        let a = unhex(&s(&u["a_hex"]));
        let escaped = unhex(&s(&u["escaped_hex"]));
        assert_eq!(hex(&unescape(&a, &escaped)), s(&u["raw_hex"]));
        assert_eq!(
            hex(&escape(&a, &unhex(&s(&u["raw_hex"])))),
            s(&u["escaped_hex"])
        );
    }
}
