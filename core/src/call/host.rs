//! Host actions on a [`Call`]: each sends one message to the server and returns. The result
//! shows in the state (a lock, a person leaving, a new link…) or, when the server refuses (not a
//! host, aimed at someone of equal or higher role, no longer there), as a
//! [`CallEvent::Refused`](super::CallEvent::Refused) to the listener; nothing changes then.
//!
//! The core does not check roles itself — the server decides — but it refuses locally what
//! cannot be sent: a malformed id ([`CoreError::InvalidInput`]), a call that is over
//! ([`CoreError::CallEnded`]), or not being in the room right now (waiting in the lobby or
//! reconnecting: [`CoreError::Network`]).

use salon_protocol::{ClientMessage, Validate as _};

use super::state::ConnectionStatus;
use super::{Call, Cmd};
use crate::error::CoreError;

impl Call {
    /// Locks the room (newcomers knock and wait in the lobby) or unlocks it (everyone waiting
    /// comes in).
    pub fn set_locked(&self, locked: bool) -> Result<(), CoreError> {
        self.host(ClientMessage::SetLocked { locked })
    }

    /// Lets someone waiting in the lobby in (`knock_id` from [`RoomState::knocks`](super::state::RoomState)).
    pub fn admit(&self, knock_id: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::Admit {
            knock_id: knock_id.to_owned(),
        })
    }

    /// Turns someone waiting away. Turned away twice, they cannot knock again until the room
    /// empties.
    pub fn deny(&self, knock_id: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::Deny {
            knock_id: knock_id.to_owned(),
        })
    }

    /// Disconnects someone and bans their device and network address from this room until a
    /// host lifts the ban. Also locks the room.
    pub fn remove(&self, participant_id: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::Remove {
            participant_id: participant_id.to_owned(),
        })
    }

    /// Lifts a ban (`ban_id` from [`RoomState::bans`](super::state::RoomState)).
    pub fn unban(&self, ban_id: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::Unban {
            ban_id: ban_id.to_owned(),
        })
    }

    /// Asks someone to mute their microphone; they decide.
    pub fn ask_mute(&self, participant_id: &str) -> Result<(), CoreError> {
        self.host(ClientMessage::AskMute {
            participant_id: participant_id.to_owned(),
        })
    }

    /// Turns someone's microphone (and with `video`, camera) off. They can turn it on again
    /// themselves, except during panic.
    pub fn mute(&self, participant_id: &str, video: bool) -> Result<(), CoreError> {
        self.host(ClientMessage::Mute {
            participant_id: participant_id.to_owned(),
            video,
        })
    }

    /// Names (or un-names) a co-host for this session. Only the owner may.
    pub fn set_cohost(&self, participant_id: &str, cohost: bool) -> Result<(), CoreError> {
        self.host(ClientMessage::SetCohost {
            participant_id: participant_id.to_owned(),
            cohost,
        })
    }

    /// Panic on: locks the room and turns every guest's microphone and camera off until it is
    /// released. Off: releases it (the room stays locked).
    pub fn set_panic(&self, active: bool) -> Result<(), CoreError> {
        self.host(ClientMessage::SetPanic { active })
    }

    /// Gives the room a new invite link; the old one stops working for anyone not inside.
    /// The state's `room_id` and `link` follow, and so does "my rooms".
    pub fn rotate_link(&self) -> Result<(), CoreError> {
        self.host(ClientMessage::RotateLink { e2ee: false })
    }

    /// Turns end-to-end encryption on in a room made before it (`RoomState::e2ee` is `None`):
    /// the room gets a new link carrying a new secret made here (the state's `link` and "my
    /// rooms" follow), and the call ends for everyone (`RoomEnded`) because nobody inside
    /// exchanged keys: join again, and share the new link. Encryption never goes off again.
    /// In a room that is already encrypted this is [`CoreError::NotAllowed`].
    pub fn turn_on_encryption(&self) -> Result<(), CoreError> {
        let state = self.shared.state().clone();
        if state.e2ee.is_some() {
            return Err(CoreError::NotAllowed {
                reason: "this room is already end-to-end encrypted".into(),
            });
        }
        if !state.role.is_host() {
            return Err(CoreError::NotAllowed {
                reason: "only the room's hosts can turn encryption on".into(),
            });
        }
        self.host(ClientMessage::RotateLink { e2ee: true })
    }

    /// Ends the call for everyone, this call included (it ends with `RoomEnded`). The room,
    /// its lock and its bans stay.
    pub fn end_room(&self) -> Result<(), CoreError> {
        self.host(ClientMessage::EndRoom)
    }

    pub(super) fn host(&self, action: ClientMessage) -> Result<(), CoreError> {
        action.validate().map_err(|e| CoreError::InvalidInput {
            reason: e.to_string(),
        })?;
        match &self.shared.state().connection {
            ConnectionStatus::Connected => {}
            ConnectionStatus::Ended { .. } => return Err(CoreError::CallEnded),
            ConnectionStatus::Connecting
            | ConnectionStatus::Waiting { .. }
            | ConnectionStatus::Reconnecting { .. } => {
                return Err(CoreError::network("not in the room right now"));
            }
        }
        self.cmd
            .send(Cmd::Host(action))
            .map_err(|_| CoreError::CallEnded)
    }
}
