//! The core's public error: a short list of things a caller (an app, the CLI) can act on.
//! Module errors (`StoreError`, `MediaError`, network and WebRTC failures) map into it here,
//! in one place.

use salon_protocol::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The room does not exist (or the link is wrong).
    #[error("room not found")]
    RoomNotFound,
    /// The room already holds the maximum number of people.
    #[error("the room is full")]
    RoomFull,
    /// The text is not a Salon invite link or friend card.
    #[error("invalid link: {reason}")]
    InvalidLink { reason: String },
    /// An argument was not acceptable (a name too long, a frame of the wrong size, …).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// The server could not be reached, or the connection dropped.
    #[error("network error: {reason}")]
    Network { reason: String },
    /// The server refused or failed a request.
    #[error("server error: {reason}")]
    Server { reason: String },
    /// This app speaks a protocol version the server does not.
    #[error("this app is too old or too new for the server: {reason}")]
    Incompatible { reason: String },
    /// Encoding or decoding failed.
    #[error("media error: {reason}")]
    Media { reason: String },
    /// The local database failed.
    #[error("storage error: {reason}")]
    Storage { reason: String },
    /// A friend with this room link is already in the list.
    #[error("this friend is already in your list")]
    DuplicateFriend,
    /// No such friend or room in the local list.
    #[error("not found")]
    NotFound,
    /// The call has ended; start a new one.
    #[error("the call has ended")]
    CallEnded,
    /// A host removed you from this room, or you are banned from it: you cannot come back
    /// until a host lifts the ban.
    #[error("you were removed from this room")]
    Removed,
    /// A host did not let you in (or turned you away twice already).
    #[error("the host didn't let you in")]
    KnockDenied,
    /// A host ended the call for everyone.
    #[error("the host ended the call")]
    RoomEnded,
    /// The room does not allow this right now (e.g. turning the microphone on while a host
    /// holds everyone's off).
    #[error("not allowed: {reason}")]
    NotAllowed { reason: String },
    /// End-to-end encryption stands in the way: the link lacks the room's key, the server
    /// claims an encrypted link's room is not encrypted, or this build cannot encrypt. The
    /// reason is written for people.
    #[error("{reason}")]
    E2ee { reason: String },
}

impl CoreError {
    pub(crate) fn network(e: impl std::fmt::Display) -> Self {
        Self::Network {
            reason: e.to_string(),
        }
    }

    pub(crate) fn media(e: impl std::fmt::Display) -> Self {
        Self::Media {
            reason: e.to_string(),
        }
    }

    /// The error a server error code means for the caller.
    pub(crate) fn from_code(code: ErrorCode, message: &str) -> Self {
        match code {
            ErrorCode::RoomNotFound => Self::RoomNotFound,
            ErrorCode::RoomFull => Self::RoomFull,
            ErrorCode::UnsupportedVersion => Self::Incompatible {
                reason: message.to_owned(),
            },
            ErrorCode::Removed => Self::Removed,
            ErrorCode::KnockDenied => Self::KnockDenied,
            ErrorCode::RoomEnded => Self::RoomEnded,
            ErrorCode::NotAllowed => Self::NotAllowed {
                reason: message.to_owned(),
            },
            ErrorCode::E2eeRequired => Self::E2ee {
                reason: crate::call::e2ee::missing_key().to_owned(),
            },
            _ => Self::Server {
                reason: message.to_owned(),
            },
        }
    }
}

impl From<crate::store::StoreError> for CoreError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        match e {
            S::InvalidLink(reason) => Self::InvalidLink { reason },
            S::InvalidName(reason) => Self::InvalidInput { reason },
            S::DuplicateFriend => Self::DuplicateFriend,
            S::NotFound => Self::NotFound,
            other => Self::Storage {
                reason: other.to_string(),
            },
        }
    }
}

impl From<crate::store::LinkError> for CoreError {
    fn from(e: crate::store::LinkError) -> Self {
        Self::InvalidLink {
            reason: e.to_string(),
        }
    }
}

impl From<crate::media::MediaError> for CoreError {
    fn from(e: crate::media::MediaError) -> Self {
        Self::media(e)
    }
}

impl From<crate::media::background::BackgroundError> for CoreError {
    fn from(e: crate::media::background::BackgroundError) -> Self {
        // Every background error is about an input the caller gave: a mask, a picture, a frame.
        Self::InvalidInput {
            reason: e.to_string(),
        }
    }
}

impl From<reqwest::Error> for CoreError {
    fn from(e: reqwest::Error) -> Self {
        Self::network(e)
    }
}
