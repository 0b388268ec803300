//! Field validation for every message. One rule per field, applied by [`Validate`].

use crate::{
    ClientMessage, IceCandidate, MAX_CANDIDATE_BYTES, MAX_NAME_CHARS, MAX_PARTICIPANT_ID_CHARS,
    MAX_RESUME_TOKEN_CHARS, MAX_SDP_BYTES, Participant, ProtocolError, ROOM_ID_LEN, RoomInfo,
    ServerMessage,
};

/// A decoded message checks its own fields.
pub trait Validate {
    fn validate(&self) -> Result<(), ProtocolError>;
}

/// Trims a display name and checks it: 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters. Returns the cleaned name.
pub fn clean_display_name(field: &'static str, name: &str) -> Result<String, ProtocolError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ProtocolError::field(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ProtocolError::field(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ProtocolError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Checks the shape of a room id: exactly [`ROOM_ID_LEN`] URL-safe base64 characters.
pub fn validate_room_id(id: &str) -> Result<(), ProtocolError> {
    if id.len() != ROOM_ID_LEN || !id.bytes().all(is_url_safe) {
        return Err(ProtocolError::field("room id", "is not a Salon room id"));
    }
    Ok(())
}

fn is_url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn check_name(field: &'static str, name: &str) -> Result<(), ProtocolError> {
    clean_display_name(field, name).map(drop)
}

fn check_sdp(sdp: &str) -> Result<(), ProtocolError> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(ProtocolError::field(
            "sdp",
            format!("must be at most {MAX_SDP_BYTES} bytes"),
        ));
    }
    if !sdp.starts_with("v=0") {
        return Err(ProtocolError::field("sdp", "must start with \"v=0\""));
    }
    if sdp.contains('\0') {
        return Err(ProtocolError::field("sdp", "must not contain NUL"));
    }
    Ok(())
}

fn check_participant_id(id: &str) -> Result<(), ProtocolError> {
    if id.is_empty()
        || id.chars().count() > MAX_PARTICIPANT_ID_CHARS
        || !id.bytes().all(is_url_safe)
    {
        return Err(ProtocolError::field(
            "participant_id",
            "must be 1-64 URL-safe characters",
        ));
    }
    Ok(())
}

fn check_token(token: &str) -> Result<(), ProtocolError> {
    if token.is_empty() || token.len() > MAX_RESUME_TOKEN_CHARS || !token.bytes().all(is_url_safe) {
        return Err(ProtocolError::field(
            "token",
            "must be 1-64 URL-safe characters",
        ));
    }
    Ok(())
}

impl Validate for IceCandidate {
    fn validate(&self) -> Result<(), ProtocolError> {
        if self.candidate.len() > MAX_CANDIDATE_BYTES {
            return Err(ProtocolError::field(
                "candidate",
                format!("must be at most {MAX_CANDIDATE_BYTES} bytes"),
            ));
        }
        // An empty candidate marks the end of gathering.
        if !self.candidate.is_empty() && !self.candidate.starts_with("candidate:") {
            return Err(ProtocolError::field(
                "candidate",
                "must start with \"candidate:\"",
            ));
        }
        if self.candidate.chars().any(char::is_control) {
            return Err(ProtocolError::field(
                "candidate",
                "must not contain control characters",
            ));
        }
        for (field, value) in [
            ("sdpMid", &self.sdp_mid),
            ("usernameFragment", &self.username_fragment),
        ] {
            if let Some(v) = value
                && (v.len() > 256 || v.chars().any(char::is_control))
            {
                return Err(ProtocolError::field(
                    field,
                    "is too long or has control characters",
                ));
            }
        }
        Ok(())
    }
}

impl Validate for ClientMessage {
    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Self::Join { name, resume, .. } => {
                check_name("name", name)?;
                if let Some(resume) = resume {
                    check_participant_id(&resume.participant_id)?;
                    check_token(&resume.token)?;
                }
                Ok(())
            }
            Self::Offer { sdp } | Self::Answer { sdp } => check_sdp(sdp),
            Self::IceCandidate(candidate) => candidate.validate(),
            Self::Media(_) | Self::Ping | Self::Leave => Ok(()),
        }
    }
}

impl Validate for Participant {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_participant_id(&self.id)?;
        check_name("name", &self.name)
    }
}

impl Validate for RoomInfo {
    fn validate(&self) -> Result<(), ProtocolError> {
        validate_room_id(&self.id)?;
        if let Some(name) = &self.name {
            check_name("room name", name)?;
        }
        Ok(())
    }
}

impl Validate for ServerMessage {
    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            Self::Joined {
                participant_id,
                room,
                participants,
                resume_token,
                ..
            } => {
                check_participant_id(participant_id)?;
                check_token(resume_token)?;
                room.validate()?;
                participants.iter().try_for_each(Validate::validate)
            }
            Self::ParticipantJoined { participant } | Self::ParticipantUpdated { participant } => {
                participant.validate()
            }
            Self::ParticipantLeft { participant_id } => check_participant_id(participant_id),
            Self::Answer { sdp } | Self::Offer { sdp } => check_sdp(sdp),
            Self::Pong => Ok(()),
            Self::Error { message, .. } => {
                if message.len() > 1024 {
                    return Err(ProtocolError::field(
                        "message",
                        "must be at most 1024 bytes",
                    ));
                }
                Ok(())
            }
        }
    }
}
