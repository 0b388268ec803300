//! Hostile input into a live room: mangled SDP, candidates and messages from one participant
//! never take the server down, and the other participants' media keeps flowing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::TestServer;
use common::WsClient;
use common::rtc::RtcClient;
use salon_protocol::{ClientMessage, ServerMessage};

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() as usize) % n.max(1)
    }
}

/// Mutates an SDP: drops, duplicates, truncates and scrambles lines and bytes.
fn mangle(sdp: &str, rng: &mut Lcg) -> String {
    let mut lines: Vec<String> = sdp.lines().map(str::to_owned).collect();
    for _ in 0..1 + rng.below(6) {
        if lines.is_empty() {
            break;
        }
        let i = rng.below(lines.len());
        match rng.below(6) {
            0 => {
                lines.remove(i);
            }
            1 => {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            2 => {
                let cut = rng.below(lines[i].len() + 1);
                lines[i].truncate(cut);
            }
            3 => {
                let junk = [
                    "a=ssrc:",
                    "m=video 0 RTP/AVP",
                    "a=rtpmap:x",
                    "a=fmtp:96 ",
                    "c=IN IP4",
                    "a=extmap:300 x",
                    "a=mid:",
                    "a=group:BUNDLE 9 9 9",
                ];
                lines.insert(i, junk[rng.below(junk.len())].to_owned());
            }
            4 => {
                let bytes: Vec<u8> = lines[i]
                    .bytes()
                    .map(|b| {
                        if rng.below(8) == 0 {
                            b'0' + rng.below(75) as u8
                        } else {
                            b
                        }
                    })
                    .collect();
                lines[i] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
        }
    }
    let mut out = lines.join("\r\n");
    if !out.starts_with("v=0") {
        out.insert_str(0, "v=0\r\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mangled_offers_and_answers_do_not_hurt_the_room() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "Steady A").await;
    let mut b = RtcClient::join(&url, "Steady B").await;
    for _ in 0..6 {
        a.pump(Duration::from_millis(300)).await;
        b.pump(Duration::from_millis(300)).await;
    }
    // A real offer to mangle.
    let template = a.pc.local_description().await.unwrap().sdp;
    let mut rng = Lcg(0x5a10_0001);
    for round in 0..40 {
        let (mut attacker, _) = WsClient::joined(&url, &format!("Mallory {round}")).await;
        for _ in 0..5 {
            let sdp = mangle(&template, &mut rng);
            let message = if rng.below(2) == 0 {
                ClientMessage::Offer { sdp }
            } else {
                ClientMessage::Answer { sdp }
            };
            attacker.send(&message).await;
            attacker
                .send_text(&format!(
                    r#"{{"type":"ice_candidate","candidate":"candidate:{} 1 udp {} 127.0.0.1 {} typ host","sdpMid":"{}"}}"#,
                    rng.next(),
                    rng.next(),
                    rng.below(70000),
                    rng.below(40)
                ))
                .await;
        }
        attacker.send(&ClientMessage::Ping).await;
        // Every message gets an answer or an error, and the socket stays usable.
        attacker
            .recv_until(|m| (*m == ServerMessage::Pong).then_some(()))
            .await;
        attacker.close().await;
    }
    // The steady participants still hear each other.
    let before = a.received_from(&b.id).audio_packets;
    for _ in 0..4 {
        a.pump(Duration::from_millis(300)).await;
        b.pump(Duration::from_millis(300)).await;
    }
    assert!(
        a.received_from(&b.id).audio_packets > before,
        "media between A and B stopped"
    );
    let r = reqwest::get(format!("{}/healthz", s.url())).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_oversized_and_out_of_order_messages_get_clear_errors_while_media_flows() {
    use salon_protocol::ErrorCode;
    use tokio_tungstenite::tungstenite::Message;

    let s = TestServer::start().await;
    let created = s.create_room(None).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let key = created["host_key"].as_str().unwrap().to_owned();
    let url = s.ws_url(&id);
    let mut a = RtcClient::join_as(&url, "Host A", Some(&key)).await;
    let mut b = RtcClient::join(&url, "Guest B").await;
    for _ in 0..6 {
        a.pump(Duration::from_millis(300)).await;
        b.pump(Duration::from_millis(300)).await;
    }
    let (mut mallory, _) = WsClient::joined(&url, "Mallory").await;
    let target = a.id.clone();
    let cases: Vec<(Message, ErrorCode)> = vec![
        (
            text(&ClientMessage::SetLocked { locked: true }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::Remove {
                participant_id: target.clone(),
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::Remove {
                participant_id: b.id.clone(),
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::Mute {
                participant_id: b.id.clone(),
                video: true,
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::AskMute {
                participant_id: b.id.clone(),
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::SetCohost {
                participant_id: b.id.clone(),
                cohost: true,
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::SetPanic { active: true }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::RotateLink { e2ee: false }),
            ErrorCode::NotAllowed,
        ),
        (text(&ClientMessage::EndRoom), ErrorCode::NotAllowed),
        (
            text(&ClientMessage::Unban {
                ban_id: "b1".into(),
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::Admit {
                knock_id: "k1".into(),
            }),
            ErrorCode::NotAllowed,
        ),
        (
            text(&ClientMessage::Deny {
                knock_id: "k1".into(),
            }),
            ErrorCode::NotAllowed,
        ),
        // Out of order.
        (
            text(&ClientMessage::Answer {
                sdp: "v=0\r\n".into(),
            }),
            ErrorCode::NegotiationFailed,
        ),
        (
            Message::Text(r#"{"type":"join","version":1,"name":"Again"}"#.into()),
            ErrorCode::AlreadyJoined,
        ),
        // Malformed and oversized.
        (
            Message::Text(
                format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(300 * 1024)).into(),
            ),
            ErrorCode::MessageTooLarge,
        ),
        (Message::Binary(vec![0u8; 64].into()), ErrorCode::BadMessage),
        (
            Message::Text(r#"{"type":"remove"}"#.into()),
            ErrorCode::BadMessage,
        ),
        (
            Message::Text(r#"{"type":"remove","participant_id":"../x"}"#.into()),
            ErrorCode::InvalidField,
        ),
        (
            Message::Text(r#"{"type":"set_locked","locked":"yes"}"#.into()),
            ErrorCode::BadMessage,
        ),
    ];
    for (message, want) in cases {
        let shown = format!("{message:?}").chars().take(120).collect::<String>();
        mallory.send_raw(message).await;
        let (code, fatal) = mallory.expect_error().await;
        assert_eq!((code, fatal), (want, false), "{shown}");
    }
    // The socket still works, the room is unchanged, and A and B still hear each other.
    mallory.send(&ClientMessage::Ping).await;
    assert_eq!(mallory.recv().await, Some(ServerMessage::Pong));
    let before = a.received_from(&b.id).audio_packets;
    let before_b = b.received_from(&a.id).audio_packets;
    for _ in 0..4 {
        a.pump(Duration::from_millis(300)).await;
        b.pump(Duration::from_millis(300)).await;
    }
    assert!(
        a.received_from(&b.id).audio_packets > before,
        "B's audio to A stopped"
    );
    assert!(
        b.received_from(&a.id).audio_packets > before_b,
        "A's audio to B stopped"
    );
    let info = s.room_info(&id).await;
    assert_eq!(info["locked"], false);
    assert_eq!(info["participants"], 3);
}

fn text(message: &ClientMessage) -> tokio_tungstenite::tungstenite::Message {
    tokio_tungstenite::tungstenite::Message::Text(salon_protocol::encode(message).into())
}
