//! End-to-end key exchange, relayed by the room actor (ADR 0003 §2, §4). The server checks a
//! member's public key against the commitment of their join and passes sealed boxes to the
//! members they name; it cannot open them. What it holds (commitments, public keys, MACs) lives
//! in memory with the member and is never logged or stored.

use salon_protocol::{ClientMessage, ErrorCode, ServerMessage};

use crate::actor::RoomActor;
use crate::room::AnnounceRefused;

impl RoomActor {
    /// Applies one key message from participant `from`.
    pub(crate) fn e2ee_message(&mut self, from: &str, message: ClientMessage) {
        if !self.info.e2ee || !self.membership.encrypts(from) {
            self.e2ee_refused(from, "This room is not end-to-end encrypted.");
            return;
        }
        match message {
            ClientMessage::E2eeAnnounce { public, mac } => {
                match self.membership.announce_key(from, &public, &mac) {
                    Ok(()) => {
                        let participant_id = from.to_owned();
                        self.broadcast(from, || ServerMessage::E2eeAnnounce {
                            participant_id: participant_id.clone(),
                            public: public.clone(),
                            mac: mac.clone(),
                        });
                    }
                    Err(e @ (AnnounceRefused::NotEncrypting | AnnounceRefused::CommitMismatch)) => {
                        tracing::info!(room = %self.room_id, participant = %from, "key announcement refused: {e}");
                        self.e2ee_refused(from, &format!("Key announcement refused: {e}."));
                    }
                }
            }
            ClientMessage::E2eeKeys { boxes } => {
                let mut unknown = 0usize;
                for b in boxes {
                    // Only to members who exchange keys, never back to the sender.
                    if b.to == from || !self.membership.encrypts(&b.to) {
                        unknown += 1;
                        continue;
                    }
                    self.send_to(
                        &b.to,
                        ServerMessage::E2eeKey {
                            from: from.to_owned(),
                            sealed: b.sealed,
                        },
                    );
                }
                // Someone who just left is normal; say so once per message, quietly.
                if unknown > 0 {
                    tracing::debug!(room = %self.room_id, participant = %from, unknown, "key boxes for members not inside");
                }
            }
            _ => {}
        }
    }

    fn e2ee_refused(&mut self, to: &str, message: &str) {
        self.send_to(
            to,
            ServerMessage::Error {
                code: ErrorCode::InvalidField,
                message: message.to_owned(),
                fatal: false,
            },
        );
    }
}
