//! Reactions, raised hands and chat on a [`Call`] (issue 14). Each sends one message to the
//! server; what comes back shows in the state (hands, chat) or as a
//! [`CallEvent::Reaction`](super::CallEvent::Reaction). The server refuses beyond a member's
//! budget (`RateLimited`) and, during panic, guests' reactions and chat (`NotAllowed`); those
//! arrive as [`CallEvent::Refused`](super::CallEvent::Refused).
//!
//! In an end-to-end encrypted room chat is sealed here under the room secret before it leaves
//! (ADR 0003 §16): the server keeps and relays ciphertext only.

use salon_protocol::{ClientMessage, REACTIONS};

use super::Call;
use crate::error::CoreError;

impl Call {
    /// Sends a reaction: one of [`Call::reactions`]. Anything else is
    /// [`CoreError::InvalidInput`].
    pub fn react(&self, emoji: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::React {
            emoji: emoji.to_owned(),
        })
    }

    /// The reactions a room accepts, in the order to show them.
    pub fn reactions() -> Vec<String> {
        REACTIONS.iter().map(|r| (*r).to_owned()).collect()
    }

    /// Raises or lowers my hand. A raised hand keeps its place in the queue until lowered.
    pub fn raise_hand(&self, raised: bool) -> Result<(), CoreError> {
        self.host(ClientMessage::RaiseHand { raised })
    }

    /// (Hosts) lowers someone's hand; with `None`, everyone's.
    pub fn lower_hands(&self, participant_id: Option<&str>) -> Result<(), CoreError> {
        self.host(ClientMessage::LowerHands {
            participant_id: participant_id.map(str::to_owned),
        })
    }

    /// Sends a chat message to the room (1 to 1000 characters; sealed under the room secret
    /// in an encrypted room). It shows in the state's `chat` when the server has kept it.
    pub fn send_chat(&self, text: &str) -> Result<(), CoreError> {
        let text = text.trim();
        // Check the text itself first: a sealed body would hide what is wrong with it.
        ClientMessage::ChatSend {
            text: Some(text.to_owned()),
            sealed: None,
        }
        .validate_as_input()?;
        let message = match self.shared.kx().seal_chat(text) {
            Some(sealed) => ClientMessage::ChatSend {
                text: None,
                sealed: Some(sealed),
            },
            None => ClientMessage::ChatSend {
                text: Some(text.to_owned()),
                sealed: None,
            },
        };
        self.host(message)
    }

    /// (The owner) deletes the room's chat for everyone.
    pub fn clear_chat(&self) -> Result<(), CoreError> {
        self.host(ClientMessage::ChatClear)
    }
}

trait ValidateAsInput {
    fn validate_as_input(&self) -> Result<(), CoreError>;
}

impl ValidateAsInput for ClientMessage {
    fn validate_as_input(&self) -> Result<(), CoreError> {
        use salon_protocol::Validate as _;
        self.validate().map_err(|e| CoreError::InvalidInput {
            reason: e.to_string(),
        })
    }
}
