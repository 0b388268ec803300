//! Screen sharing (issue 14): which of a participant's videos a tile, a subscription or a
//! forwarded stream is. A participant publishes at most one camera and one screen; the server
//! forwards a share with the media stream id `<publisher id>|screen` (a camera's is the
//! publisher's id, as before), so a receiver tells them apart without any other message.

use serde::{Deserialize, Serialize};

/// Which of a participant's videos.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VideoSource {
    /// The camera (or nothing: a participant without one still has this video section).
    #[default]
    Camera,
    /// A shared screen, window or tab.
    Screen,
}

impl VideoSource {
    pub fn is_camera(&self) -> bool {
        *self == Self::Camera
    }
}

/// What the server appends to the publisher's id to make a share's media stream id. `|` is an
/// SDP token character (RFC 8830 allows it in an msid) that no participant id contains.
pub const SCREEN_STREAM_SUFFIX: &str = "|screen";

/// At most this many people share their screen in a room at once (the first one wins: see
/// `docs/protocol.md`, "Screen sharing").
pub const MAX_SHARES: usize = 1;

/// The media stream id the server gives `publisher`'s video from `source`.
pub fn video_stream_id(publisher: &str, source: VideoSource) -> String {
    match source {
        VideoSource::Camera => publisher.to_owned(),
        VideoSource::Screen => format!("{publisher}{SCREEN_STREAM_SUFFIX}"),
    }
}

/// Whose media a forwarded stream carries, and from which source: the inverse of
/// [`video_stream_id`] (audio and camera streams are just the publisher's id).
pub fn split_stream_id(stream: &str) -> (&str, VideoSource) {
    match stream.strip_suffix(SCREEN_STREAM_SUFFIX) {
        Some(publisher) => (publisher, VideoSource::Screen),
        None => (stream, VideoSource::Camera),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_round_trip() {
        for source in [VideoSource::Camera, VideoSource::Screen] {
            let id = video_stream_id("Qw9-_x", source);
            assert_eq!(split_stream_id(&id), ("Qw9-_x", source));
        }
        assert_eq!(video_stream_id("a", VideoSource::Screen), "a|screen");
        assert_eq!(split_stream_id("a|screen|screen").0, "a|screen");
    }
}

#[cfg(test)]
mod messages {
    use crate::{
        ClientMessage, ErrorCode, ServerMessage, Tile, TileSize, VideoSource, decode_client,
        decode_server, encode,
    };

    #[test]
    fn share_messages_round_trip() {
        for message in [
            ClientMessage::Share { active: true },
            ClientMessage::StopShare {
                participant_id: "Qw9".into(),
            },
        ] {
            assert_eq!(decode_client(&encode(&message)), Ok(message));
        }
        let stopped = ServerMessage::ShareStopped { by: "Ada".into() };
        assert_eq!(decode_server(&encode(&stopped)), Ok(stopped));
        let bad = r#"{"type":"stop_share","participant_id":"no spaces"}"#;
        assert_eq!(
            decode_client(bad).map_err(|e| e.code()),
            Err(ErrorCode::InvalidField)
        );
    }

    #[test]
    fn a_view_lists_a_camera_and_a_share_of_one_person() {
        let view = r#"{"type":"view","tiles":[{"participant_id":"a","size":"large","source":"screen"},{"participant_id":"a"}]}"#;
        let Ok(ClientMessage::View { tiles }) = decode_client(view) else {
            panic!("a camera and a share of one person are two tiles");
        };
        assert_eq!(tiles[0].source, VideoSource::Screen);
        assert_eq!(tiles[1].source, VideoSource::Camera);
        // A camera tile is encoded as before (no `source`).
        let camera = Tile {
            participant_id: "a".into(),
            source: VideoSource::Camera,
            size: TileSize::Thumbnail,
            width: 0,
            height: 0,
        };
        assert!(!encode(&camera).contains("source"));
        let twice = r#"{"type":"view","tiles":[{"participant_id":"a","source":"screen"},{"participant_id":"a","source":"screen"}]}"#;
        assert!(decode_client(twice).is_err());
        let unknown = r#"{"type":"view","tiles":[{"participant_id":"a","source":"window"}]}"#;
        assert!(decode_client(unknown).is_err());
    }
}
