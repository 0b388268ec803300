//! The presence socket (`GET /api/presence`, `docs/protocol.md` "Presence"): one connection on
//! which a client subscribes, in one batch, to the door state and occupancy of the rooms whose
//! presence keys it holds (its friends' rooms), and then hears every change.
//!
//! Decoding is as strict as for signaling: [`decode_presence_client`] and
//! [`decode_presence_server`] check the size, then the shape, then every field.

use serde::{Deserialize, Serialize};

use crate::validate::{Validate, clean_display_name, validate_room_id};
use crate::{ErrorCode, MAX_PARTICIPANTS, ProtocolError};

/// Most rooms one presence connection may subscribe to.
pub const MAX_PRESENCE_ROOMS: usize = 200;

/// Largest presence message either side accepts, in bytes (a full subscription is about 16 KiB;
/// a full answer, 200 rooms of 50 names, stays below this).
pub const MAX_PRESENCE_MESSAGE_BYTES: usize = 1024 * 1024;

/// A presence key is 32 bytes, URL-safe base64 without padding.
pub const PRESENCE_KEY_LEN: usize = 43;

/// A message from a client on the presence socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PresenceClientMessage {
    /// The rooms to watch, all at once; sent once per connection (to change the set, open a new
    /// connection).
    Subscribe { rooms: Vec<PresenceSubscription> },
    /// Keep-alive (every 20 s).
    Ping,
}

/// One room to watch: its invite link id and the presence key from the owner's friend card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSubscription {
    pub room: String,
    pub key: String,
}

/// A message from the server on the presence socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PresenceServerMessage {
    /// The first one answers the subscription with every room subscribed to; later ones carry
    /// only the rooms that changed.
    Presence {
        rooms: Vec<RoomPresence>,
    },
    Pong,
    Error {
        code: ErrorCode,
        message: String,
        fatal: bool,
    },
}

/// What a friend may see of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPresence {
    /// The invite link id the subscription named.
    pub room: String,
    /// False when the room is unknown, its link was rotated, or the key is wrong or was
    /// rotated (these are not told apart); the other fields are then empty.
    pub available: bool,
    #[serde(default)]
    pub door_open: bool,
    /// When an open door closes by itself (Unix seconds), if the owner said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// People inside.
    #[serde(default)]
    pub people: u32,
    /// Their names, in order of arrival, when the owner shows names; else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
}

impl RoomPresence {
    /// The answer for a room the subscriber may not see (unknown, rotated, wrong key).
    pub fn unavailable(room: String) -> Self {
        Self {
            room,
            available: false,
            door_open: false,
            until: None,
            people: 0,
            names: None,
        }
    }
}

/// Checks the shape of a presence key: [`PRESENCE_KEY_LEN`] URL-safe base64 characters.
pub fn validate_presence_key(key: &str) -> Result<(), ProtocolError> {
    if key.len() != PRESENCE_KEY_LEN
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ProtocolError::field(
            "key",
            format!("must be {PRESENCE_KEY_LEN} URL-safe characters"),
        ));
    }
    Ok(())
}

impl Validate for PresenceClientMessage {
    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Self::Subscribe { rooms } => {
                if rooms.len() > MAX_PRESENCE_ROOMS {
                    return Err(ProtocolError::field(
                        "rooms",
                        format!("at most {MAX_PRESENCE_ROOMS} rooms per connection"),
                    ));
                }
                for r in rooms {
                    validate_room_id(&r.room)?;
                    validate_presence_key(&r.key)?;
                }
                Ok(())
            }
            Self::Ping => Ok(()),
        }
    }
}

impl Validate for PresenceServerMessage {
    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Self::Presence { rooms } => {
                if rooms.len() > MAX_PRESENCE_ROOMS {
                    return Err(ProtocolError::field("rooms", "too many rooms"));
                }
                for r in rooms {
                    validate_room_id(&r.room)?;
                    if r.people as usize > MAX_PARTICIPANTS {
                        return Err(ProtocolError::field("people", "more than a room holds"));
                    }
                    if let Some(names) = &r.names {
                        if names.len() > MAX_PARTICIPANTS {
                            return Err(ProtocolError::field("names", "more than a room holds"));
                        }
                        for name in names {
                            clean_display_name("names", name)?;
                        }
                    }
                }
                Ok(())
            }
            Self::Pong => Ok(()),
            Self::Error { message, .. } => {
                if message.len() > 1024 {
                    return Err(ProtocolError::field("message", "too long"));
                }
                Ok(())
            }
        }
    }
}

fn decode<T: serde::de::DeserializeOwned + Validate>(text: &str) -> Result<T, ProtocolError> {
    if text.len() > MAX_PRESENCE_MESSAGE_BYTES {
        return Err(ProtocolError::TooLarge {
            size: text.len(),
            limit: MAX_PRESENCE_MESSAGE_BYTES,
        });
    }
    let message: T = serde_json::from_str(text)
        .map_err(|e| ProtocolError::Malformed(e.to_string().chars().take(200).collect()))?;
    message.validate()?;
    Ok(message)
}

/// Decodes and validates one message from a presence client.
pub fn decode_presence_client(text: &str) -> Result<PresenceClientMessage, ProtocolError> {
    decode(text)
}

/// Decodes and validates one message from the server on the presence socket.
pub fn decode_presence_server(text: &str) -> Result<PresenceServerMessage, ProtocolError> {
    decode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: &str = "AAAAAAAAAAAAAAAAAAAAAA";
    const KEY: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

    #[test]
    fn a_subscription_round_trips() {
        let text = format!(r#"{{"type":"subscribe","rooms":[{{"room":"{ROOM}","key":"{KEY}"}}]}}"#);
        let message = decode_presence_client(&text).expect("valid");
        assert_eq!(
            message,
            PresenceClientMessage::Subscribe {
                rooms: vec![PresenceSubscription {
                    room: ROOM.into(),
                    key: KEY.into()
                }]
            }
        );
        assert_eq!(
            decode_presence_client(&crate::encode(&message)).expect("again"),
            message
        );
    }

    #[test]
    fn bad_subscriptions_are_refused_with_the_field() {
        let too_many: Vec<_> = (0..=MAX_PRESENCE_ROOMS)
            .map(|_| PresenceSubscription {
                room: ROOM.into(),
                key: KEY.into(),
            })
            .collect();
        let text = crate::encode(&PresenceClientMessage::Subscribe { rooms: too_many });
        let err = decode_presence_client(&text).expect_err("too many");
        assert_eq!(err.code(), ErrorCode::InvalidField);
        assert!(err.to_string().contains("rooms"), "{err}");

        for (room, key) in [
            ("short", KEY),
            (ROOM, "short"),
            (ROOM, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB/"),
        ] {
            let text =
                format!(r#"{{"type":"subscribe","rooms":[{{"room":"{room}","key":"{key}"}}]}}"#);
            let err = decode_presence_client(&text).expect_err("refused");
            assert_eq!(err.code(), ErrorCode::InvalidField, "{room} {key}");
        }
        let err = decode_presence_client(r#"{"type":"join"}"#).expect_err("unknown type");
        assert_eq!(err.code(), ErrorCode::BadMessage);
        let huge = "x".repeat(MAX_PRESENCE_MESSAGE_BYTES + 1);
        assert_eq!(
            decode_presence_client(&huge).expect_err("huge").code(),
            ErrorCode::MessageTooLarge
        );
    }

    #[test]
    fn server_messages_are_checked_too() {
        let ok = PresenceServerMessage::Presence {
            rooms: vec![RoomPresence {
                room: ROOM.into(),
                available: true,
                door_open: true,
                until: Some(5),
                people: 2,
                names: Some(vec!["Ada".into(), "Bo".into()]),
            }],
        };
        assert_eq!(
            decode_presence_server(&crate::encode(&ok)).expect("valid"),
            ok
        );
        let bad = PresenceServerMessage::Presence {
            rooms: vec![RoomPresence {
                names: Some(vec!["\u{202E}evil".into()]),
                ..RoomPresence::unavailable(ROOM.into())
            }],
        };
        assert!(decode_presence_server(&crate::encode(&bad)).is_err());
    }
}
