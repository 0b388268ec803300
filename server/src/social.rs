//! Reactions, raised hands and chat, applied by the room actor (issue 14).
//!
//! - A reaction goes to everyone (the sender too), within the sender's budget and the room's:
//!   however many guests press at once, the room receives a bounded stream.
//! - A raised hand takes the next number of the room's queue; hosts lower anyone's hand, or
//!   all of them; everyone lowers their own.
//! - Chat is kept in the database for the people inside when it was sent (by their salted
//!   device keys, `crate::identity`) and the room's owner, who see it again when they come
//!   back; in an end-to-end encrypted room it is ciphertext the server cannot read
//!   (ADR 0003 §16). Only the owner clears it.
//! - During panic, guests' reactions and chat are refused; hands still go up (that is how a
//!   guest asks for the floor).

use std::collections::HashMap;
use std::time::Instant;

use salon_protocol::{
    ChatMessage, ClientMessage, ErrorCode, MAX_CHAT_HISTORY_BATCH, Role, ServerMessage,
};

use crate::actor::RoomActor;
use crate::identity::Identity;
use crate::ratelimit::TokenBucket;
use crate::room::outranks;
use crate::store::StoredChat;

/// Reactions one member may send: a couple a second, bursts of 6.
const REACTIONS_PER_SECOND: f64 = 2.0;
const REACTIONS_BURST: f64 = 6.0;
/// Reactions the whole room passes on: 50 guests pressing at once cost the others at most this.
const ROOM_REACTIONS_PER_SECOND: f64 = 15.0;
const ROOM_REACTIONS_BURST: f64 = 30.0;
/// Hand changes one member may make.
const HANDS_PER_SECOND: f64 = 1.0;
const HANDS_BURST: f64 = 4.0;
/// Chat messages one member may send: one every two seconds, bursts of 5.
const CHATS_PER_SECOND: f64 = 0.5;
const CHATS_BURST: f64 = 5.0;

/// One member's budgets.
struct Budget {
    reactions: TokenBucket,
    hands: TokenBucket,
    chats: TokenBucket,
}

impl Budget {
    fn new(now: Instant) -> Self {
        Self {
            reactions: TokenBucket::new(now, REACTIONS_PER_SECOND, REACTIONS_BURST),
            hands: TokenBucket::new(now, HANDS_PER_SECOND, HANDS_BURST),
            chats: TokenBucket::new(now, CHATS_PER_SECOND, CHATS_BURST),
        }
    }
}

/// The room's social state: budgets and the hand queue's counter.
pub(crate) struct Social {
    budgets: HashMap<String, Budget>,
    room_reactions: TokenBucket,
    last_hand: u64,
}

impl Social {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            budgets: HashMap::new(),
            room_reactions: TokenBucket::new(now, ROOM_REACTIONS_PER_SECOND, ROOM_REACTIONS_BURST),
            last_hand: 0,
        }
    }

    /// `id` left: its budget goes.
    pub(crate) fn forget(&mut self, id: &str) {
        self.budgets.remove(id);
    }

    fn budget(&mut self, id: &str, now: Instant) -> &mut Budget {
        self.budgets
            .entry(id.to_owned())
            .or_insert_with(|| Budget::new(now))
    }
}

fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn to_wire(m: StoredChat) -> ChatMessage {
    let (text, sealed) = if m.sealed {
        (None, Some(m.body))
    } else {
        (Some(m.body), None)
    };
    ChatMessage {
        id: m.seq,
        from: m.sender,
        name: m.name,
        at: m.at,
        text,
        sealed,
    }
}

impl RoomActor {
    /// Applies one social message from participant `from`.
    pub(crate) fn social_message(&mut self, from: &str, message: ClientMessage) {
        let Some(role) = self.membership.role(from) else {
            return;
        };
        let now = Instant::now();
        match message {
            ClientMessage::React { emoji } => self.react(from, role, emoji, now),
            ClientMessage::RaiseHand { raised } => {
                if self.social.budget(from, now).hands.try_take(now) {
                    self.set_hand(from, raised);
                } else {
                    self.refuse_social(
                        from,
                        ErrorCode::RateLimited,
                        "Too many hand changes; slow down.",
                    );
                }
            }
            ClientMessage::LowerHands { participant_id } => {
                self.lower_hands(from, role, participant_id.as_deref());
            }
            ClientMessage::ChatSend { text, sealed } => self.chat(from, role, text, sealed, now),
            ClientMessage::ChatClear => self.clear_chat(from, role),
            _ => {}
        }
    }

    fn refuse_social(&mut self, to: &str, code: ErrorCode, message: &str) {
        self.send_to(
            to,
            ServerMessage::Error {
                code,
                message: message.to_owned(),
                fatal: false,
            },
        );
    }

    fn react(&mut self, from: &str, role: Role, emoji: String, now: Instant) {
        if self.info.panic && !role.is_host() {
            self.refuse_social(
                from,
                ErrorCode::NotAllowed,
                "Reactions are paused by a host.",
            );
            return;
        }
        if !self.social.budget(from, now).reactions.try_take(now) {
            self.refuse_social(
                from,
                ErrorCode::RateLimited,
                "Too many reactions; slow down.",
            );
            return;
        }
        if !self.social.room_reactions.try_take(now) {
            // The room is busy with reactions: this one is dropped quietly (it is not the
            // sender's fault).
            return;
        }
        let participant_id = from.to_owned();
        self.broadcast("", || ServerMessage::Reaction {
            participant_id: participant_id.clone(),
            emoji: emoji.clone(),
        });
    }

    fn set_hand(&mut self, id: &str, raised: bool) {
        let hand = raised.then(|| {
            self.social.last_hand += 1;
            self.social.last_hand
        });
        if let Some(participant) = self.membership.set_hand(id, hand) {
            self.broadcast("", || ServerMessage::ParticipantUpdated {
                participant: participant.clone(),
            });
        }
    }

    fn lower_hands(&mut self, from: &str, role: Role, target: Option<&str>) {
        match target {
            Some(target) if target == from => self.set_hand(from, false),
            Some(target) => {
                let Some(target_role) = self.membership.role(target) else {
                    self.refuse_social(from, ErrorCode::NotFound, "That person is no longer here.");
                    return;
                };
                if !(role.is_host() && (outranks(role, target_role) || target_role == role)) {
                    self.refuse_social(
                        from,
                        ErrorCode::NotAllowed,
                        "Only a host can lower someone else's hand.",
                    );
                    return;
                }
                self.set_hand(target, false);
            }
            None => {
                if !role.is_host() {
                    self.refuse_social(
                        from,
                        ErrorCode::NotAllowed,
                        "Only a host can lower every hand.",
                    );
                    return;
                }
                for id in self.membership.raised_hands() {
                    self.set_hand(&id, false);
                }
            }
        }
    }

    fn chat(
        &mut self,
        from: &str,
        role: Role,
        text: Option<String>,
        sealed: Option<String>,
        now: Instant,
    ) {
        if self.info.panic && !role.is_host() {
            self.refuse_social(from, ErrorCode::NotAllowed, "Chat is paused by a host.");
            return;
        }
        let (is_sealed, body) = match (self.info.e2ee, text, sealed) {
            (true, None, Some(sealed)) => (true, sealed),
            (false, Some(text), None) => (false, text.trim().to_owned()),
            (true, ..) => {
                self.refuse_social(
                    from,
                    ErrorCode::InvalidField,
                    "This room is end-to-end encrypted: chat must be sealed.",
                );
                return;
            }
            (false, ..) => {
                self.refuse_social(
                    from,
                    ErrorCode::InvalidField,
                    "This room is not end-to-end encrypted: chat is sent as text.",
                );
                return;
            }
        };
        if !self.social.budget(from, now).chats.try_take(now) {
            self.refuse_social(
                from,
                ErrorCode::RateLimited,
                "Too many messages; slow down.",
            );
            return;
        }
        let readers: Vec<Vec<u8>> = self
            .membership
            .members()
            .filter_map(|m| m.identity.device.clone())
            .collect();
        let stored = StoredChat {
            seq: 0,
            at: unix_millis(),
            sender: from.to_owned(),
            name: self.name_of(from),
            sealed: is_sealed,
            body,
        };
        match self.store.insert_chat_now(&self.room_id, stored, &readers) {
            Ok(stored) => {
                let message = to_wire(stored);
                self.broadcast("", || ServerMessage::Chat {
                    message: message.clone(),
                });
            }
            Err(e) => {
                tracing::error!(room = %self.room_id, error = %e, "cannot keep a chat message");
                self.refuse_social(
                    from,
                    ErrorCode::Internal,
                    "Your message could not be kept (the server's storage failed); nobody received it.",
                );
            }
        }
    }

    fn clear_chat(&mut self, from: &str, role: Role) {
        if role != Role::Owner {
            self.refuse_social(
                from,
                ErrorCode::NotAllowed,
                "Only the room's owner can clear the chat.",
            );
            return;
        }
        match self.store.clear_chat_now(&self.room_id) {
            Ok(()) => {
                tracing::info!(room = %self.room_id, "chat cleared");
                self.broadcast("", || ServerMessage::ChatCleared);
            }
            Err(e) => {
                tracing::error!(room = %self.room_id, error = %e, "cannot clear the chat");
                self.refuse_social(
                    from,
                    ErrorCode::Internal,
                    "The chat could not be cleared (the server's storage failed).",
                );
            }
        }
    }

    /// The chat someone (re)joining may read, as `chat_history` messages: everything for the
    /// owner, what was sent while their device was inside for anyone else. Always at least one
    /// (maybe empty): the first after `joined` is the whole list, so a client drops what it
    /// showed before (e.g. a chat the owner cleared while it was away). Nothing when the
    /// database cannot be read: the client keeps what it has.
    pub(crate) fn chat_history(&self, identity: &Identity, role: Role) -> Vec<ServerMessage> {
        let kept = match self.store.chat_for_now(
            &self.room_id,
            identity.device.as_deref(),
            role == Role::Owner,
        ) {
            Ok(kept) => kept,
            Err(e) => {
                tracing::error!(room = %self.room_id, error = %e, "cannot read the chat");
                return Vec::new();
            }
        };
        let messages: Vec<ChatMessage> = kept.into_iter().map(to_wire).collect();
        if messages.is_empty() {
            return vec![ServerMessage::ChatHistory {
                messages: Vec::new(),
            }];
        }
        messages
            .chunks(MAX_CHAT_HISTORY_BATCH)
            .map(|chunk| ServerMessage::ChatHistory {
                messages: chunk.to_vec(),
            })
            .collect()
    }
}
