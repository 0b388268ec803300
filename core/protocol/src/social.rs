//! The social side of a room: reactions, raised hands and chat (issue 14). The message types
//! live in [`crate::ClientMessage`] and [`crate::ServerMessage`]; this module holds their limits
//! and field rules.

use serde::{Deserialize, Serialize};

use crate::ProtocolError;

/// The reactions a participant can send. A fixed set: a reaction is a picture, never text, so
/// nobody can write to the room through it.
pub const REACTIONS: [&str; 8] = ["👍", "❤️", "😂", "😮", "👏", "🎉", "🙌", "🔥"];

/// A chat message holds 1 to this many characters (after trimming).
pub const MAX_CHAT_CHARS: usize = 1000;

/// A sealed chat message (end-to-end encrypted, ADR 0003 §16) is at most this many base64url
/// characters: a version byte, an 8-byte key id, a 12-byte nonce, up to
/// 4 × [`MAX_CHAT_CHARS`] bytes of UTF-8 and a 16-byte tag, encoded.
pub const MAX_CHAT_SEALED_CHARS: usize = 5400;

/// Most chat messages in one `chat_history` message (a longer history comes in several, so
/// each stays far below the message size limit).
pub const MAX_CHAT_HISTORY_BATCH: usize = 32;

/// One chat message as the room's members see it. Exactly one of `text` (a room without
/// end-to-end encryption) and `sealed` (an encrypted room: the server holds and relays
/// ciphertext only) is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The message's number in the room: increasing, never reused (a cleared chat goes on
    /// counting).
    pub id: u64,
    /// The sender's participant id when it was sent.
    pub from: String,
    /// The sender's display name when it was sent.
    pub name: String,
    /// When the server received it, in Unix milliseconds.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// Checks a reaction against [`REACTIONS`].
pub(crate) fn check_reaction(emoji: &str) -> Result<(), ProtocolError> {
    if REACTIONS.contains(&emoji) {
        Ok(())
    } else {
        Err(ProtocolError::field(
            "emoji",
            "must be one of the room's reactions",
        ))
    }
}

/// Checks a chat body: exactly one of plain `text` (1 to [`MAX_CHAT_CHARS`] characters once
/// trimmed; line breaks and tabs allowed, other control and text-direction characters not)
/// and `sealed` (1 to [`MAX_CHAT_SEALED_CHARS`] base64url characters).
pub(crate) fn check_chat_body(
    text: Option<&str>,
    sealed: Option<&str>,
) -> Result<(), ProtocolError> {
    match (text, sealed) {
        (Some(text), None) => check_chat_text(text),
        (None, Some(sealed)) => {
            if sealed.is_empty()
                || sealed.len() > MAX_CHAT_SEALED_CHARS
                || !sealed
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(ProtocolError::field(
                    "sealed",
                    format!("must be 1-{MAX_CHAT_SEALED_CHARS} base64url characters"),
                ));
            }
            Ok(())
        }
        _ => Err(ProtocolError::field(
            "text",
            "a chat message has either text or sealed, not both or neither",
        )),
    }
}

fn check_chat_text(text: &str) -> Result<(), ProtocolError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ProtocolError::field("text", "must not be empty"));
    }
    if trimmed.chars().count() > MAX_CHAT_CHARS {
        return Err(ProtocolError::field(
            "text",
            format!("must be at most {MAX_CHAT_CHARS} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || crate::validate::is_bidi_control(c))
    {
        return Err(ProtocolError::field(
            "text",
            "must not contain control or text-direction characters",
        ));
    }
    Ok(())
}

impl ChatMessage {
    pub(crate) fn check(&self) -> Result<(), ProtocolError> {
        crate::validate::check_participant_id(&self.from)?;
        crate::validate::clean_display_name("name", &self.name)?;
        check_chat_body(self.text.as_deref(), self.sealed.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_rooms_reactions_pass() {
        for r in REACTIONS {
            assert!(check_reaction(r).is_ok());
        }
        for bad in ["", "x", "👍👍", "<b>", "👍 ", "❤"] {
            assert!(check_reaction(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn chat_bodies() {
        assert!(check_chat_body(Some("hi\nthere\tyou"), None).is_ok());
        assert!(check_chat_body(Some("<script>alert(1)</script>"), None).is_ok());
        assert!(check_chat_body(Some(&"é".repeat(MAX_CHAT_CHARS)), None).is_ok());
        assert!(check_chat_body(Some(&"é".repeat(MAX_CHAT_CHARS + 1)), None).is_err());
        assert!(check_chat_body(Some("  "), None).is_err());
        assert!(check_chat_body(Some("a\u{7}b"), None).is_err());
        assert!(check_chat_body(Some("a\u{202E}b"), None).is_err());
        assert!(check_chat_body(None, Some("AQID-_")).is_ok());
        assert!(check_chat_body(None, Some("AQ+/")).is_err());
        assert!(check_chat_body(None, Some(&"A".repeat(MAX_CHAT_SEALED_CHARS + 1))).is_err());
        assert!(check_chat_body(None, None).is_err());
        assert!(check_chat_body(Some("a"), Some("AQID")).is_err());
    }
}
