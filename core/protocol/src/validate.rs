//! Field validation for every message. One rule per field, applied by [`Validate`].

use unicode_normalization::UnicodeNormalization as _;

use crate::{
    Ban, ClientMessage, E2EE_KEY_CHARS, IceCandidate, Knock, MAX_CANDIDATE_BYTES,
    MAX_DEVICE_ID_CHARS, MAX_E2EE_BOX_CHARS, MAX_HOST_KEY_CHARS, MAX_NAME_CHARS,
    MAX_PARTICIPANT_ID_CHARS, MAX_PARTICIPANTS, MAX_RESUME_TOKEN_CHARS, MAX_SDP_BYTES,
    MIN_DEVICE_ID_CHARS, Participant, ProtocolError, ROOM_ID_LEN, RoomInfo, ServerMessage,
};

/// Most bans a room keeps; the oldest is forgotten first.
pub const MAX_BANS_LISTED: usize = 1000;

/// A decoded message checks its own fields.
pub trait Validate {
    fn validate(&self) -> Result<(), ProtocolError>;
}

/// Trims a display name, puts it in Unicode normal form C and checks it: 1 to
/// [`MAX_NAME_CHARS`] characters, no control characters, no text-direction controls (which can
/// make "Ada\u{202E})tsoh(" read as "Ada(host)"), and at least one visible character. Returns
/// the cleaned name.
pub fn clean_display_name(field: &'static str, name: &str) -> Result<String, ProtocolError> {
    let name: String = name.trim().nfc().collect();
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
    if name.chars().any(is_bidi_control) {
        return Err(ProtocolError::field(
            field,
            "must not contain text-direction control characters",
        ));
    }
    if name.chars().all(is_invisible) {
        return Err(ProtocolError::field(
            field,
            "must contain at least one visible character",
        ));
    }
    Ok(name)
}

/// Characters that change the direction of the text around them (Unicode's bidi embeddings,
/// overrides, isolates and marks).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing by themselves: white space, Unicode's default-ignorable code
/// points (zero-width spaces and joiners, fillers, variation selectors, tags), blank look-alikes
/// and combining marks (which need a base to sit on).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
                | '\u{0300}'..='\u{036F}'
                | '\u{1AB0}'..='\u{1AFF}'
                | '\u{1DC0}'..='\u{1DFF}'
                | '\u{20D0}'..='\u{20FF}'
                | '\u{FE20}'..='\u{FE2F}'
        )
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

/// Longest URL a `moved` message may carry.
pub const MAX_MOVED_URL_BYTES: usize = 2048;

/// Checks the URL of a `moved` message: `ws://` or `wss://`, a plain host (no user or password),
/// a path ending in `/api/rooms/<room id>/ws`, no query or fragment, printable ASCII only.
/// Returns the room id it names.
pub fn check_moved_url(url: &str) -> Result<&str, ProtocolError> {
    let bad = |why: &str| ProtocolError::field("url", why.to_owned());
    if url.len() > MAX_MOVED_URL_BYTES {
        return Err(bad("is too long"));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("must be printable ASCII without spaces"));
    }
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"))
        .ok_or_else(|| bad("must start with ws:// or wss://"))?;
    if rest.contains(['?', '#']) {
        return Err(bad("must have no query or fragment"));
    }
    let (host, path) = rest.split_once('/').ok_or_else(|| bad("has no path"))?;
    if host.is_empty() || host.contains('@') {
        return Err(bad("must name a plain host"));
    }
    let room = path
        .strip_suffix("/ws")
        .and_then(|p| p.rsplit_once("api/rooms/"))
        .filter(|(prefix, _)| prefix.is_empty() || prefix.ends_with('/'))
        .map(|(_, room)| room)
        .ok_or_else(|| bad("must end in /api/rooms/<room id>/ws"))?;
    crate::validate_room_id(room).map_err(|_| bad("names an invalid room id"))?;
    Ok(room)
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

fn check_id(field: &'static str, id: &str) -> Result<(), ProtocolError> {
    if id.is_empty() || id.len() > MAX_PARTICIPANT_ID_CHARS || !id.bytes().all(is_url_safe) {
        return Err(ProtocolError::field(
            field,
            "must be 1-64 URL-safe characters",
        ));
    }
    Ok(())
}

/// An RFC 8851 rid: 1 to [`crate::MAX_RID_CHARS`] letters, digits, `-` or `_`.
fn check_rid(rid: &str) -> Result<(), ProtocolError> {
    let ok = !rid.is_empty()
        && rid.len() <= crate::MAX_RID_CHARS
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ProtocolError::field(
            "layers",
            "a layer id is 1 to 16 letters, digits, '-' or '_'",
        ))
    }
}

pub(crate) fn check_participant_id(id: &str) -> Result<(), ProtocolError> {
    check_id("participant_id", id)
}

/// Checks a client's device id: 16 to 64 URL-safe characters.
pub fn validate_device_id(device: &str) -> Result<(), ProtocolError> {
    if device.len() < MIN_DEVICE_ID_CHARS
        || device.len() > MAX_DEVICE_ID_CHARS
        || !device.bytes().all(is_url_safe)
    {
        return Err(ProtocolError::field(
            "device",
            "must be 16-64 URL-safe characters",
        ));
    }
    Ok(())
}

fn check_host_key(key: &str) -> Result<(), ProtocolError> {
    if key.is_empty() || key.len() > MAX_HOST_KEY_CHARS || !key.bytes().all(is_url_safe) {
        return Err(ProtocolError::field(
            "host_key",
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
            Self::Join {
                name,
                resume,
                host_key,
                device,
                e2ee,
                ..
            } => {
                check_name("name", name)?;
                if let Some(e2ee) = e2ee {
                    check_key("commit", &e2ee.commit)?;
                }
                if let Some(resume) = resume {
                    check_participant_id(&resume.participant_id)?;
                    check_token(&resume.token)?;
                }
                if let Some(key) = host_key {
                    check_host_key(key)?;
                }
                if let Some(device) = device {
                    validate_device_id(device)?;
                }
                Ok(())
            }
            Self::Offer { sdp } | Self::Answer { sdp } => check_sdp(sdp),
            Self::IceCandidate(candidate) => candidate.validate(),
            Self::Admit { knock_id } | Self::Deny { knock_id } => check_id("knock_id", knock_id),
            Self::Unban { ban_id } => check_id("ban_id", ban_id),
            Self::Remove { participant_id }
            | Self::AskMute { participant_id }
            | Self::Mute { participant_id, .. }
            | Self::SetCohost { participant_id, .. }
            | Self::StopShare { participant_id } => check_participant_id(participant_id),
            Self::View { tiles } => {
                // Everyone's camera, and shares (one at a time, but a view may lag behind).
                let shares = tiles.iter().filter(|t| !t.source.is_camera()).count();
                if tiles.len() - shares > MAX_PARTICIPANTS || shares > MAX_PARTICIPANTS {
                    return Err(ProtocolError::field("tiles", "too many"));
                }
                let mut seen = std::collections::HashSet::new();
                for tile in tiles {
                    check_participant_id(&tile.participant_id)?;
                    if !seen.insert((tile.participant_id.as_str(), tile.source)) {
                        return Err(ProtocolError::field(
                            "tiles",
                            "a participant is listed twice",
                        ));
                    }
                    if tile.width > crate::MAX_TILE_PIXELS || tile.height > crate::MAX_TILE_PIXELS {
                        return Err(ProtocolError::field("tiles", "a tile is too large"));
                    }
                }
                Ok(())
            }
            Self::Media(_)
            | Self::Share { .. }
            | Self::Ping
            | Self::Leave
            | Self::SetLocked { .. }
            | Self::SetPanic { .. }
            | Self::RotateLink { .. }
            | Self::EndRoom => Ok(()),
            Self::E2eeAnnounce { public, mac } => {
                check_key("pub", public)?;
                check_key("mac", mac)
            }
            Self::E2eeKeys { boxes } => {
                if boxes.is_empty() || boxes.len() >= MAX_PARTICIPANTS {
                    return Err(ProtocolError::field(
                        "boxes",
                        format!("must hold 1 to {} boxes", MAX_PARTICIPANTS - 1),
                    ));
                }
                let mut seen = std::collections::HashSet::new();
                for b in boxes {
                    check_id("to", &b.to)?;
                    check_box(&b.sealed)?;
                    if !seen.insert(b.to.as_str()) {
                        return Err(ProtocolError::field("boxes", "two boxes for one member"));
                    }
                }
                Ok(())
            }
            Self::KeyframeRequest { participant_id } => check_participant_id(participant_id),
            Self::React { emoji } => crate::social::check_reaction(emoji),
            Self::RaiseHand { .. } | Self::ChatClear => Ok(()),
            Self::LowerHands { participant_id } => match participant_id {
                Some(id) => check_participant_id(id),
                None => Ok(()),
            },
            Self::ChatSend { text, sealed } => {
                crate::social::check_chat_body(text.as_deref(), sealed.as_deref())
            }
        }
    }
}

impl Validate for Participant {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_participant_id(&self.id)?;
        check_name("name", &self.name)?;
        if let Some(e2ee) = &self.e2ee {
            check_key("commit", &e2ee.commit)?;
            if let Some(public) = &e2ee.public {
                check_key("pub", public)?;
            }
            if let Some(mac) = &e2ee.mac {
                check_key("mac", mac)?;
            }
        }
        Ok(())
    }
}

/// A commitment, public key or MAC: exactly [`E2EE_KEY_CHARS`] base64url characters.
fn check_key(field: &'static str, value: &str) -> Result<(), ProtocolError> {
    if value.len() != E2EE_KEY_CHARS || !value.bytes().all(is_url_safe) {
        return Err(ProtocolError::field(
            field,
            "must be 43 base64url characters (32 bytes)",
        ));
    }
    Ok(())
}

/// A sealed box: 1 to [`MAX_E2EE_BOX_CHARS`] base64url characters.
fn check_box(value: &str) -> Result<(), ProtocolError> {
    if value.is_empty() || value.len() > MAX_E2EE_BOX_CHARS || !value.bytes().all(is_url_safe) {
        return Err(ProtocolError::field(
            "box",
            "must be 1-128 base64url characters",
        ));
    }
    Ok(())
}

impl Validate for Knock {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_id("knock id", &self.id)?;
        check_name("name", &self.name)
    }
}

impl Validate for Ban {
    fn validate(&self) -> Result<(), ProtocolError> {
        check_id("ban id", &self.id)?;
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
                knocks,
                ..
            } => {
                check_participant_id(participant_id)?;
                check_token(resume_token)?;
                room.validate()?;
                if participants.len() > MAX_PARTICIPANTS || knocks.len() > MAX_PARTICIPANTS {
                    return Err(ProtocolError::field("participants", "too many"));
                }
                participants.iter().try_for_each(Validate::validate)?;
                knocks.iter().try_for_each(Validate::validate)
            }
            Self::Waiting { room_name, .. } => match room_name {
                Some(name) => check_name("room_name", name),
                None => Ok(()),
            },
            Self::RoomUpdated { room } => room.validate(),
            Self::KnockReceived { knock } => knock.validate(),
            Self::KnockEnded { knock_id } => check_id("knock_id", knock_id),
            Self::Bans { bans } => {
                if bans.len() > MAX_BANS_LISTED {
                    return Err(ProtocolError::field("bans", "too many"));
                }
                bans.iter().try_for_each(Validate::validate)
            }
            Self::MuteRequested { by } | Self::Muted { by, .. } | Self::ShareStopped { by } => {
                check_name("by", by)
            }
            Self::ParticipantJoined { participant } | Self::ParticipantUpdated { participant } => {
                participant.validate()
            }
            Self::ParticipantLeft { participant_id } => check_participant_id(participant_id),
            Self::Answer { sdp } | Self::Offer { sdp } => check_sdp(sdp),
            Self::Speakers { speakers } => {
                if speakers.len() > crate::MAX_SPEAKERS {
                    return Err(ProtocolError::field("speakers", "too many"));
                }
                speakers.iter().try_for_each(|id| check_participant_id(id))
            }
            Self::VideoLayers { layers } => {
                if layers.is_empty() || layers.len() > crate::MAX_SIMULCAST_LAYERS {
                    return Err(ProtocolError::field(
                        "layers",
                        "must name between 1 and 3 layers",
                    ));
                }
                for (i, rid) in layers.iter().enumerate() {
                    check_rid(rid)?;
                    if layers[..i].contains(rid) {
                        return Err(ProtocolError::field("layers", "names a layer twice"));
                    }
                }
                Ok(())
            }
            Self::Pong | Self::VideoWatched { .. } => Ok(()),
            Self::Moved { url } => check_moved_url(url).map(|_| ()),
            Self::E2eeAnnounce {
                participant_id,
                public,
                mac,
            } => {
                check_participant_id(participant_id)?;
                check_key("pub", public)?;
                check_key("mac", mac)
            }
            Self::E2eeKey { from, sealed } => {
                check_participant_id(from)?;
                check_box(sealed)
            }
            Self::Reaction {
                participant_id,
                emoji,
            } => {
                check_participant_id(participant_id)?;
                crate::social::check_reaction(emoji)
            }
            Self::Chat { message } => message.check(),
            Self::ChatHistory { messages } => {
                if messages.len() > crate::MAX_CHAT_HISTORY_BATCH {
                    return Err(ProtocolError::field("messages", "too many"));
                }
                messages.iter().try_for_each(crate::ChatMessage::check)
            }
            Self::ChatCleared => Ok(()),
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
