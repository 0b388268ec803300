//! Sender keys, the send side ([`FrameSealer`]) and the receive side ([`KeyTable`])
//! (ADR 0003 §1 "KID", "CTR", "Replay", §2.4, §14).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use subtle::ConstantTimeEq as _;

use crate::frame::{Codec, authenticated, escape, metadata, split_prefix, unescape};
use crate::sframe::{OpenKey, SealKey, TAG_LEN, parse_header};

/// How long a receiver keeps a sender's previous generation after the first frame that opened
/// under the newer one.
pub const PREVIOUS_GENERATION_GRACE: Duration = Duration::from_secs(5);

/// Width of the replay window over CTR, per (sender, KID).
pub const REPLAY_WINDOW: u64 = 128;

/// A sender key: the SFrame base key of one generation (`kid`) of one sender.
///
/// `Debug` prints the KID only; equality on the key is constant time.
#[derive(Clone)]
pub struct SenderKey {
    /// The generation (0, 1, 2 …), used as the SFrame KID.
    pub kid: u64,
    /// The 16-byte SFrame `base_key`.
    pub key: [u8; 16],
}

impl SenderKey {
    /// A fresh random key for generation `kid`.
    pub fn random(kid: u64) -> Self {
        Self {
            kid,
            key: rand::random(),
        }
    }
}

impl std::fmt::Debug for SenderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderKey")
            .field("kid", &self.kid)
            .field("key", &format_args!("…"))
            .finish()
    }
}

impl PartialEq for SenderKey {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && bool::from(self.key.ct_eq(&other.key))
    }
}

impl Eq for SenderKey {}

/// Why a frame was not sealed. The frame must be dropped, never sent in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The frame lacks the structure its codec's clear prefix needs (no H.264 slice NAL, VP8
    /// shorter than 10/3 bytes).
    #[error("frame lacks the structure of its codec")]
    Malformed,
    /// The key's 64-bit counter is used up; a new key is needed.
    #[error("frame counter exhausted")]
    CounterExhausted,
    /// [`FrameSealer::set_key`] was given a KID not above the current one with other key bytes.
    #[error("a new sender key needs a higher KID")]
    KeyNotNewer,
    /// SFrame key derivation or AES-GCM failed (should not happen).
    #[error("SFrame crypto failed")]
    Crypto,
}

/// Why a received frame was not opened. The frame must be dropped, never decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// No key (now) for this sender and KID.
    #[error("no key for KID {kid}")]
    UnknownKey {
        /// The KID of the frame's SFrame header.
        kid: u64,
    },
    /// Not `P || SFrame` (no prefix, no header, shorter than a tag).
    #[error("frame is not a protected frame")]
    Malformed,
    /// The tag did not verify (altered ciphertext, prefix, header, or another sender's key).
    #[error("frame failed authentication")]
    Authentication,
    /// CTR seen before, or more than 128 below the highest seen.
    #[error("frame replayed or too old")]
    Replay,
}

/// `P || SFrame(rest)` (escaped for H.264) under `key` and `ctr`; empty frames pass unchanged.
pub(crate) fn protect(
    codec: Codec,
    key: &SealKey,
    ctr: u64,
    frame: &[u8],
) -> Result<Vec<u8>, SealError> {
    if frame.is_empty() {
        return Ok(Vec::new());
    }
    let p = split_prefix(codec, frame).ok_or(SealError::Malformed)?;
    let (prefix, rest) = frame.split_at(p);
    let sealed = key
        .seal(ctr, rest, &metadata(codec, prefix))
        .map_err(|_| SealError::Crypto)?;
    let mut out = Vec::with_capacity(p + sealed.len() + sealed.len() / 64 + 1);
    out.extend_from_slice(prefix);
    match codec {
        Codec::H264 => out.extend_from_slice(&escape(authenticated(codec, prefix), &sealed)),
        Codec::Opus | Codec::Vp8 => out.extend_from_slice(&sealed),
    }
    Ok(out)
}

/// One key with its own counter.
struct SealState {
    kid: u64,
    base: [u8; 16],
    key: SealKey,
    next_ctr: AtomicU64,
}

impl SealState {
    fn new(key: &SenderKey) -> Result<Self, SealError> {
        Ok(Self {
            kid: key.kid,
            base: key.key,
            key: SealKey::derive(key.kid, &key.key).map_err(|_| SealError::Crypto)?,
            next_ctr: AtomicU64::new(0),
        })
    }
}

/// The send side: this participant's current sender key and its frame counter, shared (`Send +
/// Sync`) by all encoder threads, audio and every video layer alike.
///
/// Each key has one 64-bit counter starting at 0 that is never reset; a new key gets a new
/// counter.
pub struct FrameSealer {
    state: ArcSwap<SealState>,
    /// Serialises [`FrameSealer::set_key`] (sealing never takes it).
    writer: Mutex<()>,
}

impl FrameSealer {
    /// A sealer starting with `key`.
    pub fn new(key: SenderKey) -> Result<Self, SealError> {
        Ok(Self {
            state: ArcSwap::from_pointee(SealState::new(&key)?),
            writer: Mutex::new(()),
        })
    }

    /// Switches to a new key (a new generation) whose counter starts at 0. Setting the current
    /// key again keeps its counter; a different key with a KID not above the current one is
    /// refused ([`SealError::KeyNotNewer`]), as it would reuse nonces or confuse receivers.
    pub fn set_key(&self, key: SenderKey) -> Result<(), SealError> {
        let _guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.state.load();
        if key.kid == current.kid && bool::from(key.key.ct_eq(&current.base)) {
            return Ok(());
        }
        if key.kid <= current.kid {
            return Err(SealError::KeyNotNewer);
        }
        self.state.store(Arc::new(SealState::new(&key)?));
        Ok(())
    }

    /// The KID (generation) frames are sealed with now.
    pub fn current_kid(&self) -> u64 {
        self.state.load().kid
    }

    /// Protects one encoded frame: `P || SFrame(rest)` (escaped for H.264), taking the next
    /// counter of the current key. Empty frames pass unchanged and take no counter.
    pub fn seal(&self, codec: Codec, frame: &[u8]) -> Result<Vec<u8>, SealError> {
        if frame.is_empty() {
            return Ok(Vec::new());
        }
        if split_prefix(codec, frame).is_none() {
            return Err(SealError::Malformed);
        }
        let state = self.state.load();
        let ctr = state
            .next_ctr
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_add(1))
            .map_err(|_| SealError::CounterExhausted)?;
        protect(codec, &state.key, ctr, frame)
    }
}

impl std::fmt::Debug for FrameSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load();
        f.debug_struct("FrameSealer")
            .field("kid", &state.kid)
            .field("next_ctr", &state.next_ctr.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Sliding window over CTR (§14 "replay"): refuses a CTR already seen or more than
/// [`REPLAY_WINDOW`] below the highest seen.
#[derive(Debug, Default, Clone)]
struct ReplayWindow {
    highest: Option<u64>,
    /// Bit `i` set: `highest - 1 - i` was seen.
    seen: u128,
}

impl ReplayWindow {
    fn check(&self, ctr: u64) -> bool {
        let Some(highest) = self.highest else {
            return true;
        };
        if ctr > highest {
            return true;
        }
        let offset = highest - ctr;
        if offset == 0 || offset > REPLAY_WINDOW {
            return false;
        }
        self.seen & (1u128 << (offset - 1)) == 0
    }

    /// Records `ctr`, which passed [`ReplayWindow::check`] and authenticated.
    fn record(&mut self, ctr: u64) {
        match self.highest {
            Some(highest) if ctr <= highest => {
                let offset = highest - ctr;
                if (1..=REPLAY_WINDOW).contains(&offset) {
                    self.seen |= 1u128 << (offset - 1);
                }
            }
            Some(highest) => {
                let shift = ctr - highest;
                // the old highest moves to offset `shift`, i.e. bit `shift - 1`
                self.seen = if shift > REPLAY_WINDOW {
                    0
                } else {
                    let moved = if shift >= 128 { 0 } else { self.seen << shift };
                    moved | 1u128 << (shift - 1)
                };
                self.highest = Some(ctr);
            }
            None => self.highest = Some(ctr),
        }
    }
}

/// One received generation of one sender.
struct Generation {
    kid: u64,
    base: [u8; 16],
    key: OpenKey,
    window: ReplayWindow,
}

impl Generation {
    fn new(key: &SenderKey) -> Option<Self> {
        Some(Self {
            kid: key.kid,
            base: key.key,
            key: OpenKey::derive(key.kid, &key.key).ok()?,
            window: ReplayWindow::default(),
        })
    }
}

/// The keys held for one sender: its newest generation and, for a while, the one before.
struct SenderKeys {
    current: Generation,
    previous: Option<Generation>,
    /// Set at the first frame opened under `current` while `previous` is held.
    previous_until: Option<Instant>,
}

/// The receive side: every sender's keys by (participant id, KID), with replay windows.
///
/// Keys are derived once on [`KeyTable::insert`]. The table is `Send + Sync`; share it behind
/// a `Mutex` between decoder threads.
#[derive(Default)]
pub struct KeyTable {
    senders: HashMap<String, SenderKeys>,
}

impl KeyTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `key` for `sender`. A higher KID becomes the sender's current generation and the
    /// current one its previous (kept until [`PREVIOUS_GENERATION_GRACE`] after the first frame
    /// under the new one); a lower KID (a stale box) is ignored, as is the key already held.
    /// The same KID with other key bytes replaces it (with a fresh replay window).
    ///
    /// Returns whether the table changed.
    pub fn insert(&mut self, sender: &str, key: SenderKey) -> bool {
        if let Some(keys) = self.senders.get(sender) {
            let held = &keys.current;
            if key.kid < held.kid || (key.kid == held.kid && bool::from(key.key.ct_eq(&held.base)))
            {
                return false;
            }
        }
        let Some(generation) = Generation::new(&key) else {
            return false;
        };
        match self.senders.get_mut(sender) {
            Some(keys) if generation.kid == keys.current.kid => keys.current = generation,
            Some(keys) => {
                keys.previous = Some(std::mem::replace(&mut keys.current, generation));
                keys.previous_until = None;
            }
            None => {
                self.senders.insert(
                    sender.to_owned(),
                    SenderKeys {
                        current: generation,
                        previous: None,
                        previous_until: None,
                    },
                );
            }
        }
        true
    }

    /// Forgets every key of `sender` (it left).
    pub fn remove_sender(&mut self, sender: &str) {
        self.senders.remove(sender);
    }

    /// The current KID held for `sender`, if any.
    pub fn current_kid(&self, sender: &str) -> Option<u64> {
        self.senders.get(sender).map(|k| k.current.kid)
    }

    /// Opens a protected frame of `sender`'s track, returning the original frame (`P ||
    /// plaintext`). Empty frames pass unchanged. `now` drives the expiry of previous
    /// generations.
    pub fn open(
        &mut self,
        sender: &str,
        codec: Codec,
        frame: &[u8],
        now: Instant,
    ) -> Result<Vec<u8>, OpenError> {
        if frame.is_empty() {
            return Ok(Vec::new());
        }
        let p = split_prefix(codec, frame).ok_or(OpenError::Malformed)?;
        let (prefix, rest) = frame.split_at(p);
        let unescaped;
        let sframe = match codec {
            Codec::H264 => {
                unescaped = unescape(authenticated(codec, prefix), rest);
                &unescaped[..]
            }
            Codec::Opus | Codec::Vp8 => rest,
        };
        let header = parse_header(sframe).ok_or(OpenError::Malformed)?;
        if sframe.len() < header.len + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let unknown = OpenError::UnknownKey { kid: header.kid };
        let keys = self.senders.get_mut(sender).ok_or(unknown)?;
        if keys.previous_until.is_some_and(|until| now >= until) {
            keys.previous = None;
            keys.previous_until = None;
        }
        let is_current = keys.current.kid == header.kid;
        let generation = if is_current {
            &mut keys.current
        } else {
            match keys.previous.as_mut() {
                Some(previous) if previous.kid == header.kid => previous,
                _ => return Err(unknown),
            }
        };
        if !generation.window.check(header.ctr) {
            return Err(OpenError::Replay);
        }
        let plain = generation
            .key
            .open(sframe, &metadata(codec, prefix))
            .ok_or(OpenError::Authentication)?;
        generation.window.record(header.ctr);
        if is_current && keys.previous.is_some() && keys.previous_until.is_none() {
            // `None` only if `now` is at the end of time: then keep the previous one.
            keys.previous_until = now.checked_add(PREVIOUS_GENERATION_GRACE);
        }
        let mut out = Vec::with_capacity(p + plain.len());
        out.extend_from_slice(prefix);
        out.extend_from_slice(&plain);
        Ok(out)
    }
}

impl std::fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.senders.iter().map(|(sender, keys)| {
                (
                    sender,
                    (keys.current.kid, keys.previous.as_ref().map(|g| g.kid)),
                )
            }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window() {
        let mut w = ReplayWindow::default();
        assert!(w.check(500));
        w.record(500);
        assert!(!w.check(500));
        assert!(w.check(499));
        assert!(w.check(372)); // 128 below
        assert!(!w.check(371)); // 129 below
        w.record(372);
        assert!(!w.check(372));
        w.record(501);
        assert!(!w.check(500) && !w.check(501) && w.check(499) && !w.check(372));
        assert!(w.check(373));
        w.record(1000);
        assert!(!w.check(501) && w.check(999) && w.check(872) && !w.check(871));
        w.record(1128);
        assert!(!w.check(1000));
        w.record(1000 + 128 + 129);
        assert!(!w.check(1128) && w.check(1129));
        w.record(u64::MAX);
        assert!(!w.check(u64::MAX) && w.check(u64::MAX - 1));
    }

    #[test]
    fn sealer_and_table_are_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<FrameSealer>();
        check::<KeyTable>();
    }

    #[test]
    fn debug_hides_keys() {
        let key = SenderKey {
            kid: 4,
            key: [0xab; 16],
        };
        let text = format!("{key:?}");
        assert!(!text.contains("171") && !text.contains("ab"), "{text}");
        let sealer = FrameSealer::new(key.clone()).expect("sealer");
        assert!(!format!("{sealer:?}").contains("171"));
        let mut table = KeyTable::new();
        table.insert("a", key);
        assert_eq!(format!("{table:?}"), r#"{"a": (4, None)}"#);
    }
}
