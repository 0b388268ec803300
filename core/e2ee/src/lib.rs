//! End-to-end encryption primitives for Salon rooms, per ADR 0003
//! (`docs/adr/0003-e2ee.md` in the repository; its §14 "Byte layouts" is normative).
//!
//! - [`RoomSecret`]: the link's `#k=` secret; keys announcement MACs and the safety code.
//! - [`Identity`]: a per-call X25519 key pair, its commitment ([`commit_of`]), announcement
//!   MACs ([`announce_mac`], [`verify_announce`]) and pairwise boxes carrying
//!   [`BoxContent`].
//! - [`safety_code`]: the 12-digit code everyone reads aloud.
//! - Frames: [`FrameSealer`] (send) and [`KeyTable`] (receive) protect encoded frames as
//!   `P || SFrame(rest)` (RFC 9605, suite AES_128_GCM_SHA256_128) with a per-[`Codec`] clear
//!   prefix `P` ([`split_prefix`]); H.264 ciphertext is escaped ([`escape`], [`unescape`]).
//!   [`is_protected_shape`] lets an observer without keys check a frame's shape.
//! - Chat: [`ChatKey`] seals a chat message under the room secret, [`open_chat`] opens it.
//!
//! The crate is pure (no I/O) and never logs. Its byte layouts are shared with the browser's
//! `server/web/sframe.js` through `tests/vectors/salon-v1.json`.

#![warn(missing_docs)]

mod chat;
mod code;
mod crypto;
mod frame;
mod identity;
mod keys;
mod secret;
mod sframe;

#[cfg(test)]
mod vectors;

pub use chat::{ChatKey, ChatOpenError, open_chat};
pub use code::safety_code;
pub use frame::{Codec, escape, is_protected_shape, split_prefix, unescape};
pub use identity::{
    BoxContent, BoxError, Identity, IdentityError, announce_mac, commit_of, verify_announce,
    verify_commit,
};
pub use keys::{
    FrameSealer, KeyTable, OpenError, PREVIOUS_GENERATION_GRACE, REPLAY_WINDOW, SealError,
    SenderKey,
};
pub use secret::{InvalidRoomSecret, ROOM_SECRET_B64_LEN, RoomSecret};
