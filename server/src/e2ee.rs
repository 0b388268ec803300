//! End-to-end key exchange, relayed by the room actor (ADR 0003 §2, §4). The server checks a
//! member's public key against the commitment of their join and passes sealed boxes to the
//! members they name; it cannot open them. What it holds (commitments, public keys, MACs) lives
//! in memory with the member and is never logged or stored.

use std::time::Instant;

use salon_protocol::{ClientMessage, ErrorCode, ServerMessage};

use crate::actor::RoomActor;
use crate::ratelimit::TokenBucket;
use crate::room::AnnounceRefused;

/// Key messages one member may send: an honest client sends one `e2ee_keys` when it joins, one
/// per newcomer (its key for them: a room filling up at once means up to 49 in a few seconds),
/// one per departure (gathered over half a second) and one or two per link rotation, and
/// announces on joining and after a new link. Beyond this a member's key messages are dropped,
/// so nobody can make the server fan boxes out to the room faster than a room's churn needs.
const KEY_MESSAGES_PER_SECOND: f64 = 10.0;
const KEY_MESSAGES_BURST: f64 = 60.0;

/// A fresh budget of key messages for a member.
pub(crate) fn key_budget(now: Instant) -> TokenBucket {
    TokenBucket::new(now, KEY_MESSAGES_PER_SECOND, KEY_MESSAGES_BURST)
}

impl RoomActor {
    /// Applies one key message from participant `from`.
    pub(crate) fn e2ee_message(&mut self, from: &str, message: ClientMessage) {
        if !self.info.e2ee || !self.membership.encrypts(from) {
            self.e2ee_refused(from, "This room is not end-to-end encrypted.");
            return;
        }
        let now = Instant::now();
        let budget = self
            .key_budgets
            .entry(from.to_owned())
            .or_insert_with(|| key_budget(now));
        if !budget.try_take(now) {
            tracing::debug!(room = %self.room_id, participant = %from, "too many key messages; dropped");
            self.send_to(
                from,
                ServerMessage::error(ErrorCode::RateLimited, "Too many key messages; slow down."),
            );
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
