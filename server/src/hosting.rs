//! Host actions, applied by the room actor: lock, the lobby's answers, removal and bans, mute,
//! co-hosts, panic, link rotation and ending the call. Every action first checks the sender's
//! role (and the target's, with [`outranks`]); a refusal is a non-fatal error to the sender and
//! changes nothing.

use salon_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};

use crate::actor::RoomActor;
use crate::ids::{new_participant_id, new_room_id};
use crate::room::outranks;
use crate::store::StoredBan;

const YOU_WERE_REMOVED: &str = "You were removed from this room.";

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl RoomActor {
    /// A refusal of one action; the connection goes on (even for `internal`, which is
    /// otherwise fatal).
    fn refuse(&mut self, to: &str, code: ErrorCode, message: &str) {
        self.send_to(
            to,
            ServerMessage::Error {
                code,
                message: message.to_owned(),
                fatal: false,
            },
        );
    }

    /// Applies one host action from participant `from`.
    pub(crate) fn host_action(&mut self, from: &str, action: ClientMessage) {
        let Some(role) = self.membership.role(from) else {
            return;
        };
        if !role.is_host() {
            tracing::info!(room = %self.room_id, participant = %from, "host action refused: not a host");
            self.refuse(
                from,
                ErrorCode::NotAllowed,
                "Only the room's hosts can do that.",
            );
            return;
        }
        match action {
            ClientMessage::SetLocked { locked } => {
                self.set_locked(from, locked);
            }
            ClientMessage::Admit { knock_id } => {
                if !self.admit_waiting(&knock_id) {
                    self.refuse(
                        from,
                        ErrorCode::NotFound,
                        "That person is no longer waiting.",
                    );
                }
            }
            ClientMessage::Deny { knock_id } => self.deny(from, &knock_id),
            ClientMessage::Remove { participant_id } => {
                if self.check_target(from, role, &participant_id) {
                    self.remove(from, &participant_id);
                }
            }
            ClientMessage::Unban { ban_id } => self.unban(from, &ban_id),
            ClientMessage::AskMute { participant_id } => {
                if self.check_target(from, role, &participant_id) {
                    let by = self.name_of(from);
                    self.send_to(&participant_id, ServerMessage::MuteRequested { by });
                }
            }
            ClientMessage::Mute {
                participant_id,
                video,
            } => {
                if self.check_target(from, role, &participant_id) {
                    self.force_mute(from, &participant_id, video);
                }
            }
            ClientMessage::SetCohost {
                participant_id,
                cohost,
            } => self.set_cohost(from, role, &participant_id, cohost),
            ClientMessage::StopShare { participant_id } => {
                if self.check_target(from, role, &participant_id) {
                    self.stop_share(from, &participant_id);
                }
            }
            ClientMessage::SetPanic { active } => self.set_panic(from, active),
            ClientMessage::RotateLink { e2ee } => self.rotate_link(from, e2ee),
            ClientMessage::EndRoom => {
                let message = format!("{} ended the call for everyone.", self.name_of(from));
                tracing::info!(room = %self.room_id, "a host ended the call");
                self.clear(&message);
            }
            // Not host actions; the participant's task never passes them here.
            ClientMessage::Join { .. }
            | ClientMessage::Offer { .. }
            | ClientMessage::Answer { .. }
            | ClientMessage::IceCandidate(_)
            | ClientMessage::Media(_)
            | ClientMessage::Share { .. }
            | ClientMessage::View { .. }
            | ClientMessage::E2eeAnnounce { .. }
            | ClientMessage::E2eeKeys { .. }
            | ClientMessage::KeyframeRequest { .. }
            | ClientMessage::React { .. }
            | ClientMessage::RaiseHand { .. }
            | ClientMessage::LowerHands { .. }
            | ClientMessage::ChatSend { .. }
            | ClientMessage::ChatClear
            | ClientMessage::Ping
            | ClientMessage::Leave => {}
        }
    }

    /// Whether `from` (of `role`) may act on `target`; refuses with a reason if not.
    fn check_target(&mut self, from: &str, role: Role, target: &str) -> bool {
        if target == from {
            self.refuse(
                from,
                ErrorCode::NotAllowed,
                "You cannot do that to yourself.",
            );
            return false;
        }
        let Some(target_role) = self.membership.role(target) else {
            self.refuse(
                from,
                ErrorCode::NotFound,
                "That person is no longer in the room.",
            );
            return false;
        };
        if !outranks(role, target_role) {
            let message = match target_role {
                Role::Owner => "You cannot do that to the room's owner.",
                _ => "You cannot do that to another co-host.",
            };
            self.refuse(from, ErrorCode::NotAllowed, message);
            return false;
        }
        true
    }

    /// Stores and announces the lock. Unlocking lets everyone waiting in.
    fn set_locked(&mut self, from: &str, locked: bool) -> bool {
        if self.info.locked != locked {
            if let Err(e) = self.store.set_locked_now(&self.room_id, locked) {
                tracing::error!(room = %self.room_id, error = %e, "cannot store the lock");
                self.refuse(
                    from,
                    ErrorCode::Internal,
                    "The server could not save the lock; try again.",
                );
                return false;
            }
            self.info.locked = locked;
            tracing::info!(room = %self.room_id, locked, "lock changed");
            self.announce_room();
        }
        if !locked {
            for knock in self.lobby.knocks() {
                self.admit_waiting(&knock.id);
            }
        }
        true
    }

    fn announce_room(&mut self) {
        let room = self.info.clone();
        self.broadcast("", || ServerMessage::RoomUpdated { room: room.clone() });
    }

    fn deny(&mut self, from: &str, knock_id: &str) {
        let Some(waiting) = self.lobby.deny(knock_id) else {
            self.refuse(
                from,
                ErrorCode::NotFound,
                "That person is no longer waiting.",
            );
            return;
        };
        let _ = waiting.ticket.2.send(Err(crate::hub::JoinError::Denied));
        self.knock_ended(knock_id);
    }

    /// Disconnects `target`, bans their device and address, and locks the room.
    fn remove(&mut self, from: &str, target: &str) {
        let Some(member) = self.membership.get(target).cloned() else {
            return;
        };
        let ban = StoredBan {
            id: new_participant_id(),
            name: member.participant.name.clone(),
            device_key: member.identity.device.clone(),
            address_key: Some(member.identity.address.clone()),
            at: unix_now(),
        };
        if let Err(e) = self.store.insert_ban_now(&self.room_id, &ban) {
            // The removal still happens and holds for as long as this room is live.
            tracing::error!(room = %self.room_id, error = %e, "cannot store a ban");
            self.refuse(
                from,
                ErrorCode::Internal,
                "They were removed, but the server could not save the ban; it lasts until the room empties.",
            );
        }
        self.bans.push(ban);
        tracing::info!(room = %self.room_id, "a host removed a participant");
        self.expel(target, ErrorCode::Removed, YOU_WERE_REMOVED);
        // Anyone waiting at the door from the same device or address is turned away too.
        for knock in self.lobby.knocks() {
            let same = self.lobby_identity_banned(&knock.id);
            if same && let Some(waiting) = self.lobby.take(&knock.id) {
                let _ = waiting.ticket.2.send(Err(crate::hub::JoinError::Banned));
                self.knock_ended(&knock.id);
            }
        }
        self.set_locked(from, true);
        self.announce_bans();
    }

    fn lobby_identity_banned(&self, knock_id: &str) -> bool {
        self.lobby
            .identity_of(knock_id)
            .is_some_and(|identity| self.is_banned(identity))
    }

    fn unban(&mut self, from: &str, ban_id: &str) {
        let known = self.bans.iter().any(|b| b.id == ban_id);
        match self.store.delete_ban_now(&self.room_id, ban_id) {
            Ok(stored) if stored || known => {
                self.bans.retain(|b| b.id != ban_id);
                tracing::info!(room = %self.room_id, "a host lifted a ban");
                self.announce_bans();
            }
            Ok(_) => self.refuse(from, ErrorCode::NotFound, "There is no such ban."),
            Err(e) => {
                tracing::error!(room = %self.room_id, error = %e, "cannot lift a ban");
                self.refuse(
                    from,
                    ErrorCode::Internal,
                    "The server could not lift the ban; try again.",
                );
            }
        }
    }

    fn force_mute(&mut self, from: &str, target: &str, video: bool) {
        let Some(participant) = self.membership.force_off(target, video) else {
            return;
        };
        self.apply_pauses(target);
        let by = self.name_of(from);
        self.send_to(
            target,
            ServerMessage::Muted {
                by,
                media: participant.media,
            },
        );
        self.broadcast("", || ServerMessage::ParticipantUpdated {
            participant: participant.clone(),
        });
    }

    fn set_cohost(&mut self, from: &str, role: Role, target: &str, cohost: bool) {
        if role != Role::Owner {
            self.refuse(
                from,
                ErrorCode::NotAllowed,
                "Only the room's owner can name co-hosts.",
            );
            return;
        }
        if !self.check_target(from, role, target) {
            return;
        }
        let new_role = if cohost { Role::Cohost } else { Role::Guest };
        let Some(participant) = self.membership.set_role(target, new_role) else {
            return;
        };
        self.broadcast("", || ServerMessage::ParticipantUpdated {
            participant: participant.clone(),
        });
        if cohost {
            // A new host needs the door and the ban list.
            for knock in self.lobby.knocks() {
                self.send_to(target, ServerMessage::KnockReceived { knock });
            }
            let bans = self.bans_message();
            self.send_to(target, bans);
        } else if self.info.panic {
            // A guest again, during panic: their microphone and camera go off like everyone's,
            // and their screen share.
            self.force_mute(from, target, true);
            if self
                .membership
                .get(target)
                .is_some_and(|m| m.participant.screen)
            {
                self.stop_share(from, target);
            }
        }
    }

    fn set_panic(&mut self, from: &str, active: bool) {
        if active {
            if !self.set_locked(from, true) {
                return;
            }
            self.info.panic = true;
            let guests: Vec<String> = self
                .membership
                .members()
                .filter(|m| !m.participant.role.is_host())
                .map(|m| m.participant.id.clone())
                .collect();
            for guest in guests {
                self.force_mute(from, &guest, true);
            }
            self.stop_guest_shares(from);
            tracing::warn!(room = %self.room_id, "panic");
        } else {
            self.info.panic = false;
            tracing::info!(room = %self.room_id, "panic released");
        }
        self.announce_room();
    }

    fn rotate_link(&mut self, from: &str, e2ee: bool) {
        let link = new_room_id();
        let turn_on = e2ee && !self.info.e2ee;
        if let Err(e) = self.store.set_link_now(&self.room_id, &link, e2ee) {
            tracing::error!(room = %self.room_id, error = %e, "cannot rotate the link");
            self.refuse(
                from,
                ErrorCode::Internal,
                "The server could not make a new link; try again.",
            );
            return;
        }
        self.info.id = link;
        // The presence key was derived from the old link: friends' cards stop working.
        self.hub.presence().key_changed(&self.room_id, None);
        // Everyone knocking came through the old link: it leads nowhere now.
        self.clear_lobby(crate::hub::JoinError::LinkGone);
        tracing::info!(room = %self.room_id, "invite link rotated");
        if turn_on {
            // Nobody inside joined with keys: the call starts over, encrypted. Everyone (the
            // owner's client too) rejoins through the new link, which carries the new secret.
            self.info.e2ee = true;
            self.announce_room();
            tracing::info!(room = %self.room_id, "end-to-end encryption turned on");
            self.clear("The host turned on end-to-end encryption. Join again with the new link.");
            return;
        }
        self.announce_room();
    }
}
