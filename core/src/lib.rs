//! Salon's client core: everything a Salon app does that is not UI.
//!
//! - [`Client`] — opened on a data folder: creates rooms, checks whether rooms are open, keeps
//!   my rooms and friends (SQLite), joins calls, sets my door.
//! - [`presence`] — my friends' doors and who is inside, live over one socket per server.
//! - [`Call`] — a joined room: live [`RoomState`], sending camera frames and microphone audio
//!   (H.264 via openh264, Opus), receiving everyone else's decoded video and audio through
//!   sinks, reconnecting by itself.
//! - [`media`] — the codecs and synthetic test sources; [`store`] — the local database and the
//!   links people paste.
//!
//! The UniFFI layer for Kotlin and Swift is a thin wrapper over this API.

pub mod call;
pub mod client;
pub mod error;
pub mod media;
pub mod presence;
pub mod store;

pub use call::media_in::{AudioSink, RemoteStats, VideoSink};
pub use call::state::{
    Ban, ChatEntry, ConnectionStatus, EndReason, Knock, RemoteParticipant, RoomState,
};
pub use call::view::ParticipantView;
pub use call::{Call, CallConfig, CallEvent, CallListener, Refusal};
pub use client::{Client, RoomStatus};
pub use error::CoreError;
pub use presence::{
    DoorMode, DoorState, FriendPresence, Peek, PresenceListener, PresenceWatch, WatchOptions,
};
pub use salon_protocol::Role;

pub mod ffi;

uniffi::setup_scaffolding!();
