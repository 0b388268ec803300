//! What a call looks like to the app: the room, its people, my role and switches, the lobby and
//! the connection. Pure: the driver feeds it server messages and media events; the app reads
//! snapshots.

use salon_protocol::{MediaState, Participant, Role, ServerMessage};

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connecting,
    /// The room is locked: waiting in its lobby until a host lets me in (then `Connected`) or
    /// not (then `Ended { KnockDenied }`). This can last minutes; `leave` works meanwhile.
    /// `host_present`: whether a host is in the room to answer right now.
    Waiting {
        host_present: bool,
    },
    Connected,
    /// Lost the connection; trying again (attempt counts from 1).
    Reconnecting {
        attempt: u32,
    },
    /// The call is over.
    Ended {
        reason: EndReason,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// You left.
    Left,
    RoomNotFound,
    RoomFull,
    /// The server refused this app's protocol version.
    Incompatible,
    /// A host removed you, or you are banned from this room. Rejoining will not work until a
    /// host lifts the ban.
    Removed,
    /// A host did not let you in from the lobby.
    KnockDenied,
    /// A host ended the call for everyone.
    RoomEnded,
    /// Something else; the text says what.
    Error(String),
}

/// One other person in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParticipant {
    pub id: String,
    pub name: String,
    /// Owner, co-host or guest.
    pub role: Role,
    /// Their microphone / camera switch.
    pub audio_on: bool,
    pub video_on: bool,
    /// Whether their audio / video is reaching us.
    pub receiving_audio: bool,
    pub receiving_video: bool,
    /// Among the room's active speakers (the server's `speakers`).
    pub speaking: bool,
    /// Their hand is up: the number orders the queue (smaller went up earlier).
    pub hand: Option<u64>,
    /// They share their screen now (show it large: it comes to the video sink as
    /// `<id>|screen`), and whether it is reaching us.
    pub screen: bool,
    pub receiving_screen: bool,
}

impl RemoteParticipant {
    fn from_wire(p: &Participant) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            role: p.role,
            audio_on: p.media.audio,
            video_on: p.media.video,
            receiving_audio: false,
            receiving_video: false,
            speaking: false,
            hand: p.hand,
            screen: p.screen,
            receiving_screen: false,
        }
    }
}

/// Someone waiting in the lobby (hosts see them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Knock {
    pub id: String,
    pub name: String,
    /// How often this person was turned away already (0 or 1; twice and they cannot knock).
    pub denied_before: u32,
}

/// A removal that sticks (hosts see them and can lift them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub id: String,
    /// The name they had when removed.
    pub name: String,
    /// Unix seconds.
    pub at: i64,
}

/// One chat message of the room, as this member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEntry {
    /// The room's number for it (increasing).
    pub id: u64,
    /// The sender's participant id and name when it was sent.
    pub from: String,
    pub name: String,
    /// When the server got it, Unix milliseconds.
    pub at_ms: i64,
    /// The text; `None` when it cannot be read here (sealed under a room secret this member
    /// does not hold, e.g. from before a new link, or damaged).
    pub text: Option<String>,
}

/// Most chat messages the state keeps (the newest).
pub const CHAT_KEPT_IN_STATE: usize = 200;

/// A snapshot of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    /// The room's id as in its current invite link (changes when a host rotates the link).
    pub room_id: String,
    /// The current invite link, `<server>/r/<room id>`.
    pub link: String,
    pub room_name: Option<String>,
    /// Your participant id, once joined.
    pub me: Option<String>,
    /// Your role: owner (joined with the room's host key), co-host (named by the owner) or
    /// guest.
    pub role: Role,
    /// Newcomers wait in the lobby until a host lets them in.
    pub locked: bool,
    /// Panic: guests' microphones and cameras stay off until a host releases it.
    pub panic: bool,
    /// Your own microphone and camera switches (a host's mute turns them off).
    pub microphone_on: bool,
    pub camera_on: bool,
    /// Everyone else, in order of arrival.
    pub participants: Vec<RemoteParticipant>,
    /// People waiting in the lobby, oldest first (hosts only; empty for guests).
    pub knocks: Vec<Knock>,
    /// The room's bans, as the server lists them (hosts only; empty for guests).
    pub bans: Vec<Ban>,
    /// Who is speaking now, loudest first (at most three; my own id too when I speak), as the
    /// server last said. Only their audio reaches us.
    pub speakers: Vec<String>,
    /// I am among the speakers.
    pub speaking: bool,
    /// Somebody shows my video now. While nobody does, the core encodes and sends no camera
    /// frames (the app may pause its capture too); it resumes with a keyframe.
    pub video_watched: bool,
    /// The simulcast layers of my video (rids, lowest first) that someone watches, as the
    /// server last said (`video_layers`); `None` until it says, on each new connection. The
    /// core encodes and sends only these (all of them while `None`; none while
    /// `video_watched` is false); see `call::simulcast`.
    pub video_layers: Option<Vec<String>>,
    pub connection: ConnectionStatus,
    /// End-to-end encryption: the safety code to compare aloud and who holds keys. `None` in
    /// a room that is not encrypted (and before joining).
    pub e2ee: Option<super::e2ee::E2eeState>,
    /// My hand is up (its place in the queue).
    pub my_hand: Option<u64>,
    /// The room's chat that I may read, oldest first (at most [`CHAT_KEPT_IN_STATE`]).
    pub chat: Vec<ChatEntry>,
    /// A `joined` came: the next `chat_history` is the whole list, not an addition.
    chat_resync: bool,
}

/// `(server, "#…" fragment or "")` of a link `<server>/r/<id>[#…]`.
fn link_parts(link: &str) -> (&str, &str) {
    let (base, fragment) = match link.find('#') {
        Some(at) => link.split_at(at),
        None => (link, ""),
    };
    let server = base.rsplit_once("/r/").map_or(base, |(server, _)| server);
    (server, fragment)
}

/// Which stream of a participant an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    /// The camera.
    Video,
    /// A screen share.
    Screen,
}

impl RoomState {
    /// The state before joining `link` (`<server>/r/<room id>`) with `media` switched on or off.
    pub fn new(room_id: String, link: String, media: MediaState) -> Self {
        Self {
            room_id,
            link,
            room_name: None,
            me: None,
            role: Role::Guest,
            locked: false,
            panic: false,
            microphone_on: media.audio,
            camera_on: media.video,
            participants: Vec::new(),
            knocks: Vec::new(),
            bans: Vec::new(),
            speakers: Vec::new(),
            speaking: false,
            video_watched: true,
            video_layers: None,
            connection: ConnectionStatus::Connecting,
            e2ee: None,
            my_hand: None,
            chat: Vec::new(),
            chat_resync: false,
        }
    }

    /// My switches as a wire `MediaState`.
    pub fn my_media(&self) -> MediaState {
        MediaState {
            audio: self.microphone_on,
            video: self.camera_on,
        }
    }

    /// Applies a server message; returns whether anything visible changed.
    pub fn apply(&mut self, message: &ServerMessage) -> bool {
        match message {
            ServerMessage::Joined {
                participant_id,
                room,
                participants,
                role,
                knocks,
                ..
            } => {
                self.me = Some(participant_id.clone());
                self.chat_resync = true;
                self.set_room_id(&room.id);
                self.room_name = room.name.clone();
                self.locked = room.locked;
                self.panic = room.panic;
                self.set_role(*role);
                self.knocks = knocks.iter().map(knock_from_wire).collect();
                // Keep what we knew about people still here (their tracks survive a resume).
                let old = std::mem::take(&mut self.participants);
                self.participants = participants
                    .iter()
                    .filter(|p| p.id != *participant_id)
                    .map(|p| {
                        let mut fresh = RemoteParticipant::from_wire(p);
                        if let Some(known) = old.iter().find(|o| o.id == p.id) {
                            fresh.receiving_audio = known.receiving_audio;
                            fresh.receiving_video = known.receiving_video;
                            fresh.receiving_screen = known.receiving_screen;
                        }
                        fresh
                    })
                    .collect();
                // A new connection: the server tells the speakers again when they change, and
                // whether my video is watched (until then it is) and which of its layers
                // (until then all of them).
                self.set_speakers(&[]);
                self.video_watched = true;
                self.video_layers = None;
                self.connection = ConnectionStatus::Connected;
                true
            }
            ServerMessage::Waiting {
                room_name,
                host_present,
            } => {
                // A knocker sees nobody: forget what an earlier session showed.
                self.room_name = room_name.clone();
                self.participants.clear();
                self.knocks.clear();
                self.bans.clear();
                self.set_speakers(&[]);
                self.connection = ConnectionStatus::Waiting {
                    host_present: *host_present,
                };
                true
            }
            ServerMessage::RoomUpdated { room } => {
                let before = (
                    self.room_id.clone(),
                    self.room_name.clone(),
                    self.locked,
                    self.panic,
                );
                self.set_room_id(&room.id);
                self.room_name = room.name.clone();
                self.locked = room.locked;
                self.panic = room.panic;
                before
                    != (
                        self.room_id.clone(),
                        self.room_name.clone(),
                        self.locked,
                        self.panic,
                    )
            }
            ServerMessage::KnockReceived { knock } => {
                let knock = knock_from_wire(knock);
                match self.knocks.iter_mut().find(|k| k.id == knock.id) {
                    Some(known) if *known == knock => false,
                    Some(known) => {
                        *known = knock;
                        true
                    }
                    None => {
                        self.knocks.push(knock);
                        true
                    }
                }
            }
            ServerMessage::KnockEnded { knock_id } => {
                let before = self.knocks.len();
                self.knocks.retain(|k| k.id != *knock_id);
                before != self.knocks.len()
            }
            ServerMessage::Bans { bans } => {
                let bans: Vec<Ban> = bans
                    .iter()
                    .map(|b| Ban {
                        id: b.id.clone(),
                        name: b.name.clone(),
                        at: b.at,
                    })
                    .collect();
                let changed = self.bans != bans;
                self.bans = bans;
                changed
            }
            ServerMessage::Muted { media, .. } => self.set_my_media(*media),
            ServerMessage::ParticipantJoined { participant } => {
                if self.is_me(&participant.id) {
                    return false;
                }
                self.participants.retain(|p| p.id != participant.id);
                let mut fresh = RemoteParticipant::from_wire(participant);
                fresh.speaking = self.speakers.contains(&participant.id);
                self.participants.push(fresh);
                true
            }
            ServerMessage::ParticipantUpdated { participant } if self.is_me(&participant.id) => {
                // A host changed my role or switches, or the server refused my unmute: its
                // view is the truth.
                let role = self.set_role(participant.role);
                let media = self.set_my_media(participant.media);
                let hand = std::mem::replace(&mut self.my_hand, participant.hand) != self.my_hand;
                role || media || hand
            }
            ServerMessage::ParticipantUpdated { participant } => {
                let Some(p) = self
                    .participants
                    .iter_mut()
                    .find(|p| p.id == participant.id)
                else {
                    self.participants
                        .push(RemoteParticipant::from_wire(participant));
                    return true;
                };
                p.name = participant.name.clone();
                p.role = participant.role;
                p.audio_on = participant.media.audio;
                p.video_on = participant.media.video;
                p.hand = participant.hand;
                p.screen = participant.screen;
                // A share that ended stops coming (its receiver is stopped too).
                p.receiving_screen &= participant.screen;
                true
            }
            ServerMessage::ParticipantLeft { participant_id } => {
                let before = self.participants.len();
                self.participants.retain(|p| p.id != *participant_id);
                let speakers = self.speakers.len();
                self.speakers.retain(|s| s != participant_id);
                before != self.participants.len() || speakers != self.speakers.len()
            }
            ServerMessage::Speakers { speakers } => self.set_speakers(speakers),
            ServerMessage::VideoWatched { watched } => {
                let changed = self.video_watched != *watched;
                self.video_watched = *watched;
                changed
            }
            ServerMessage::VideoLayers { layers } => {
                // Kept while nobody watches at all: the server names layers only on a change,
                // so the list still holds when someone watches again.
                let changed = self.video_layers.as_ref() != Some(layers);
                self.video_layers = Some(layers.clone());
                changed
            }
            ServerMessage::ChatCleared => {
                let changed = !self.chat.is_empty();
                self.chat.clear();
                changed
            }
            // Chat is opened by the key exchange first: see `add_chat`.
            ServerMessage::Chat { .. }
            | ServerMessage::ChatHistory { .. }
            | ServerMessage::Reaction { .. }
            | ServerMessage::MuteRequested { .. }
            | ServerMessage::ShareStopped { .. }
            | ServerMessage::Answer { .. }
            | ServerMessage::Offer { .. }
            | ServerMessage::Pong
            | ServerMessage::E2eeAnnounce { .. }
            | ServerMessage::E2eeKey { .. }
            // The driver follows a move (`super::route`); the room is the same.
            | ServerMessage::Moved { .. }
            | ServerMessage::Error { .. } => false,
        }
    }

    fn is_me(&self, id: &str) -> bool {
        self.me.as_deref() == Some(id)
    }

    /// A new room id (a rotated link) also changes the invite link.
    fn set_room_id(&mut self, id: &str) {
        if self.room_id == id {
            return;
        }
        let (server, fragment) = link_parts(&self.link);
        self.link = format!("{server}/r/{id}{fragment}");
        self.room_id = id.to_owned();
    }

    /// The room's secret changed (a host rotated the link of an encrypted room): the link to
    /// share carries the new one.
    pub fn set_link_secret(&mut self, secret: &str) -> bool {
        let (server, _) = link_parts(&self.link);
        let link = format!("{server}/r/{}#k={secret}", self.room_id);
        std::mem::replace(&mut self.link, link) != self.link
    }

    /// Replaces the encryption state; whether it changed.
    pub fn set_e2ee(&mut self, e2ee: Option<super::e2ee::E2eeState>) -> bool {
        std::mem::replace(&mut self.e2ee, e2ee) != self.e2ee
    }

    /// Adds chat messages (new ones, or history after a (re)join), keeping the list in order
    /// of `id`, each once, and at most [`CHAT_KEPT_IN_STATE`]. The first history after a
    /// `joined` (`history`) replaces the list: the server sends the whole of it then, so a
    /// chat cleared while I was away goes. Whether anything changed.
    pub fn add_chat(&mut self, entries: Vec<ChatEntry>, history: bool) -> bool {
        let mut changed = false;
        if history && std::mem::take(&mut self.chat_resync) {
            changed = !self.chat.is_empty();
            self.chat.clear();
        }
        for entry in entries {
            match self.chat.binary_search_by_key(&entry.id, |e| e.id) {
                Ok(_) => {}
                Err(at) => {
                    self.chat.insert(at, entry);
                    changed = true;
                }
            }
        }
        let excess = self.chat.len().saturating_sub(CHAT_KEPT_IN_STATE);
        self.chat.drain(..excess);
        changed
    }

    /// My role; a guest sees no lobby and no bans.
    fn set_role(&mut self, role: Role) -> bool {
        let changed = self.role != role;
        self.role = role;
        if !role.is_host() {
            self.knocks.clear();
            self.bans.clear();
        }
        changed
    }

    /// My own microphone / camera switches.
    pub fn set_my_media(&mut self, media: MediaState) -> bool {
        let changed = self.my_media() != media;
        self.microphone_on = media.audio;
        self.camera_on = media.video;
        changed
    }

    /// Whether the room keeps my microphone and camera off right now (panic, and I am a guest).
    pub fn media_held_off(&self) -> bool {
        self.panic && !self.role.is_host()
    }

    /// Media of `id` started or stopped reaching us.
    pub fn set_receiving(&mut self, id: &str, kind: MediaKind, on: bool) -> bool {
        let Some(p) = self.participants.iter_mut().find(|p| p.id == id) else {
            return false;
        };
        let slot = match kind {
            MediaKind::Audio => &mut p.receiving_audio,
            MediaKind::Video => &mut p.receiving_video,
            MediaKind::Screen => &mut p.receiving_screen,
        };
        let changed = *slot != on;
        *slot = on;
        changed
    }

    /// The server's active speakers, loudest first: the list, and everyone's `speaking` flag
    /// (mine too). Returns whether anything changed.
    pub fn set_speakers(&mut self, speakers: &[String]) -> bool {
        let mut changed = self.speakers != speakers;
        self.speakers = speakers.to_vec();
        let me = self
            .me
            .as_deref()
            .is_some_and(|me| speakers.iter().any(|s| s == me));
        changed |= self.speaking != me;
        self.speaking = me;
        for p in &mut self.participants {
            let on = speakers.contains(&p.id);
            changed |= p.speaking != on;
            p.speaking = on;
        }
        changed
    }

    pub fn set_connection(&mut self, status: ConnectionStatus) -> bool {
        let changed = self.connection != status;
        self.connection = status;
        changed
    }
}

fn knock_from_wire(k: &salon_protocol::Knock) -> Knock {
    Knock {
        id: k.id.clone(),
        name: k.name.clone(),
        denied_before: k.denied_before,
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
