//! Screen sharing's limits on the wire (docs/protocol.md, "Screen sharing"; docs/security.md):
//! a publishing offer may carry a screen section but nothing more, one member shares at a time,
//! a guest cannot stop someone's share, and starting and stopping is rate-limited. The media
//! side (a share forwarded, decoded, stopped by a host) is in `core/tests/screen.rs` and
//! `tests/browser/screen.test.js`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestServer, WsClient};
use salon_protocol::{ClientMessage, ErrorCode, ServerMessage};

/// A publishing offer with `audio` audio and `video` video sections (not applicable as media:
/// the server checks the sections first).
fn offer(audio: usize, video: usize) -> String {
    let mut sdp = String::from("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
    for (i, kind) in std::iter::repeat_n("audio", audio)
        .chain(std::iter::repeat_n("video", video))
        .enumerate()
    {
        sdp.push_str(&format!(
            "m={kind} 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:{i}\r\na=sendonly\r\n"
        ));
    }
    sdp
}

/// The next error, skipping other messages (participant updates and the like).
async fn next_error(c: &mut WsClient) -> (ErrorCode, String) {
    c.recv_until(|m| match m {
        ServerMessage::Error { code, message, .. } => Some((*code, message.clone())),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publishing_offer_has_one_screen_section_at_most() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let (mut a, _) = WsClient::joined(&s.ws_url(&id), "A").await;
    for (audio, video) in [(1, 3), (2, 2)] {
        a.send(&ClientMessage::Offer {
            sdp: offer(audio, video),
        })
        .await;
        let (code, message) = next_error(&mut a).await;
        assert_eq!(code, ErrorCode::NegotiationFailed, "{audio} + {video}");
        assert!(
            message.contains("at most one audio and two video"),
            "{message}"
        );
    }
    // The socket stays open: the member is still in the room.
    a.send(&ClientMessage::Ping).await;
    a.recv_until(|m| matches!(m, ServerMessage::Pong).then_some(()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_share_at_a_time_guests_cannot_stop_it_and_toggling_is_limited() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let (mut a, a_id) = WsClient::joined(&url, "A").await;
    let (mut b, _) = WsClient::joined(&url, "B").await;

    a.send(&ClientMessage::Share { active: true }).await;
    let shared = b
        .recv_until(|m| match m {
            ServerMessage::ParticipantUpdated { participant } if participant.id == a_id => {
                Some(participant.screen)
            }
            _ => None,
        })
        .await;
    assert!(shared, "B sees A presenting");

    // B may not present over A, nor stop A's share (B is no host).
    b.send(&ClientMessage::Share { active: true }).await;
    let (code, message) = next_error(&mut b).await;
    assert_eq!(code, ErrorCode::NotAllowed);
    assert!(message.starts_with("A is presenting"), "{message}");
    b.send(&ClientMessage::StopShare {
        participant_id: a_id.clone(),
    })
    .await;
    assert_eq!(next_error(&mut b).await.0, ErrorCode::NotAllowed);

    // A toggles as fast as it can: a few in a row, then `rate_limited`.
    let mut limited = false;
    for i in 0..6 {
        a.send(&ClientMessage::Share { active: i % 2 == 1 }).await;
    }
    for _ in 0..3 {
        if next_error(&mut a).await.0 == ErrorCode::RateLimited {
            limited = true;
            break;
        }
    }
    assert!(limited, "toggling a share is rate-limited");
}
