//! What a call looks like to the app: the room, its people and the connection. Pure: the driver
//! feeds it server messages and media events; the app reads snapshots.

use salon_protocol::{Participant, ServerMessage};

/// Where the connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connecting,
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
    /// Something else; the text says what.
    Error(String),
}

/// One other person in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteParticipant {
    pub id: String,
    pub name: String,
    /// Their microphone / camera switch.
    pub audio_on: bool,
    pub video_on: bool,
    /// Whether their audio / video is reaching us.
    pub receiving_audio: bool,
    pub receiving_video: bool,
    pub speaking: bool,
}

impl RemoteParticipant {
    fn from_wire(p: &Participant) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            audio_on: p.media.audio,
            video_on: p.media.video,
            receiving_audio: false,
            receiving_video: false,
            speaking: false,
        }
    }
}

/// A snapshot of the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub room_id: String,
    pub room_name: Option<String>,
    /// Your participant id, once joined.
    pub me: Option<String>,
    /// Everyone else, in order of arrival.
    pub participants: Vec<RemoteParticipant>,
    pub connection: ConnectionStatus,
}

/// Which stream of a participant an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
}

impl RoomState {
    pub fn new(room_id: String) -> Self {
        Self {
            room_id,
            room_name: None,
            me: None,
            participants: Vec::new(),
            connection: ConnectionStatus::Connecting,
        }
    }

    /// Applies a server message; returns whether anything visible changed.
    pub fn apply(&mut self, message: &ServerMessage) -> bool {
        match message {
            ServerMessage::Joined {
                participant_id,
                room,
                participants,
                ..
            } => {
                self.me = Some(participant_id.clone());
                self.room_name = room.name.clone();
                // Keep what we knew about people still here (their tracks survive a resume).
                let old = std::mem::take(&mut self.participants);
                self.participants = participants
                    .iter()
                    .map(|p| {
                        let mut fresh = RemoteParticipant::from_wire(p);
                        if let Some(known) = old.iter().find(|o| o.id == p.id) {
                            fresh.receiving_audio = known.receiving_audio;
                            fresh.receiving_video = known.receiving_video;
                        }
                        fresh
                    })
                    .collect();
                self.connection = ConnectionStatus::Connected;
                true
            }
            ServerMessage::ParticipantJoined { participant } => {
                self.participants.retain(|p| p.id != participant.id);
                self.participants
                    .push(RemoteParticipant::from_wire(participant));
                true
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
                p.audio_on = participant.media.audio;
                p.video_on = participant.media.video;
                true
            }
            ServerMessage::ParticipantLeft { participant_id } => {
                let before = self.participants.len();
                self.participants.retain(|p| p.id != *participant_id);
                before != self.participants.len()
            }
            ServerMessage::Answer { .. }
            | ServerMessage::Offer { .. }
            | ServerMessage::Pong
            | ServerMessage::Error { .. } => false,
        }
    }

    /// Media of `id` started or stopped reaching us.
    pub fn set_receiving(&mut self, id: &str, kind: MediaKind, on: bool) -> bool {
        let Some(p) = self.participants.iter_mut().find(|p| p.id == id) else {
            return false;
        };
        let slot = match kind {
            MediaKind::Audio => &mut p.receiving_audio,
            MediaKind::Video => &mut p.receiving_video,
        };
        let changed = *slot != on;
        *slot = on;
        changed
    }

    pub fn set_speaking(&mut self, id: &str, speaking: bool) -> bool {
        match self.participants.iter_mut().find(|p| p.id == id) {
            Some(p) if p.speaking != speaking => {
                p.speaking = speaking;
                true
            }
            _ => false,
        }
    }

    pub fn set_connection(&mut self, status: ConnectionStatus) -> bool {
        let changed = self.connection != status;
        self.connection = status;
        changed
    }
}

/// Speaking detection from decoded audio: loud enough for a moment turns it on; quiet for a
/// while turns it off (so pauses between words do not flicker).
#[derive(Debug, Clone, Default)]
pub struct SpeakingDetector {
    speaking: bool,
    quiet_frames: u32,
}

/// RMS level (of full scale i16) above which a frame counts as voice.
const SPEAKING_RMS: f64 = 600.0;
/// Quiet frames (of any length, usually 20 ms) before speaking turns off.
const HANGOVER_FRAMES: u32 = 25;

impl SpeakingDetector {
    /// Feeds one decoded frame; returns `Some(new state)` when it changed.
    pub fn feed(&mut self, pcm: &[i16]) -> Option<bool> {
        if pcm.is_empty() {
            return None;
        }
        let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        let rms = (energy / pcm.len() as f64).sqrt();
        let loud = rms > SPEAKING_RMS;
        let before = self.speaking;
        if loud {
            self.quiet_frames = 0;
            self.speaking = true;
        } else if self.speaking {
            self.quiet_frames += 1;
            if self.quiet_frames >= HANGOVER_FRAMES {
                self.speaking = false;
            }
        }
        (before != self.speaking).then_some(self.speaking)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use salon_protocol::{MediaState, RoomInfo};

    fn p(id: &str, name: &str) -> Participant {
        Participant {
            id: id.into(),
            name: name.into(),
            media: MediaState::default(),
        }
    }

    fn joined(others: Vec<Participant>) -> ServerMessage {
        ServerMessage::Joined {
            version: 1,
            participant_id: "me".into(),
            room: RoomInfo {
                id: "r".into(),
                name: Some("Friday".into()),
                max_participants: 50,
            },
            participants: others,
            resume_token: "t".into(),
            resumed: false,
        }
    }

    #[test]
    fn follows_the_room() {
        let mut s = RoomState::new("r".into());
        assert!(s.apply(&joined(vec![p("a", "Ada")])));
        assert_eq!(s.me.as_deref(), Some("me"));
        assert_eq!(s.connection, ConnectionStatus::Connected);
        assert!(s.apply(&ServerMessage::ParticipantJoined {
            participant: p("b", "Bo")
        }));
        let mut muted = p("b", "Bo");
        muted.media.audio = false;
        assert!(s.apply(&ServerMessage::ParticipantUpdated { participant: muted }));
        assert!(!s.participants[1].audio_on);
        assert!(s.apply(&ServerMessage::ParticipantLeft {
            participant_id: "a".into()
        }));
        assert!(!s.apply(&ServerMessage::ParticipantLeft {
            participant_id: "a".into()
        }));
        assert_eq!(s.participants.len(), 1);
        assert!(!s.apply(&ServerMessage::Pong));
    }

    #[test]
    fn receiving_survives_a_rejoin() {
        let mut s = RoomState::new("r".into());
        s.apply(&joined(vec![p("a", "Ada")]));
        assert!(s.set_receiving("a", MediaKind::Video, true));
        assert!(!s.set_receiving("a", MediaKind::Video, true));
        s.apply(&joined(vec![p("a", "Ada")]));
        assert!(s.participants[0].receiving_video);
        assert!(!s.set_receiving("ghost", MediaKind::Audio, true));
    }

    #[test]
    fn speaking_has_hangover() {
        let mut d = SpeakingDetector::default();
        let loud = vec![8000i16; 960];
        let quiet = vec![0i16; 960];
        assert_eq!(d.feed(&loud), Some(true));
        assert_eq!(d.feed(&loud), None);
        for _ in 0..HANGOVER_FRAMES - 1 {
            assert_eq!(d.feed(&quiet), None);
        }
        assert_eq!(d.feed(&quiet), Some(false));
        assert_eq!(d.feed(&[]), None);
    }
}
