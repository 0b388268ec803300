//! What the media engine forwards, and when, through real WebRTC on the one media port: nothing
//! reaches a subscriber before its connection negotiated the track, and a subscriber whose media
//! stopped costs the others nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::rtc::RtcClient;
use common::{TestServer, eventually};
use salon_protocol::ServerMessage;

/// Audio packets `x` received from `y`, and `y` from `x`.
fn audio_both_ways(x: &RtcClient, y: &RtcClient) -> (u64, u64) {
    (
        x.received_from(&y.id).audio_packets,
        y.received_from(&x.id).audio_packets,
    )
}

async fn pump_all(clients: &mut [&mut RtcClient], d: Duration) {
    futures_util::future::join_all(clients.iter_mut().map(|c| c.pump(d))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_a_subscriber_before_it_answers_the_offer_that_carries_the_track() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let engine = s.server.state.media.engine.clone();
    let mut quiet = RtcClient::join(&s.ws_url(&id), "Quiet").await;
    let mut talker = RtcClient::join(&s.ws_url(&id), "Talker").await;
    // The talker's tracks are offered to Quiet, who does not answer yet: the talker's media
    // flows into the server (the talker answers its own offers) but must not go out to Quiet.
    talker.pump(Duration::from_secs(3)).await;
    assert!(
        talker.received_from(&quiet.id).audio_packets > 0,
        "media flows the other way"
    );
    assert_eq!(
        engine.packets_to(&quiet.id).await,
        0,
        "packets were written to a subscriber before its answer"
    );
    assert_eq!(quiet.received_from(&talker.id).audio_packets, 0);

    // Quiet answers: forwarding starts.
    let mut clients = [&mut quiet, &mut talker];
    pump_all(&mut clients, Duration::from_secs(2)).await;
    assert!(engine.packets_to(&quiet.id).await > 0);
    let got = quiet.received_from(&talker.id);
    assert!(
        got.audio_packets > 10 && got.video_packets > 5,
        "nothing arrived after the answer: {got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_whose_media_stops_costs_the_others_nothing() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let mut a = RtcClient::join(&s.ws_url(&id), "A").await;
    let mut b = RtcClient::join(&s.ws_url(&id), "B").await;
    let mut frozen = RtcClient::join(&s.ws_url(&id), "Frozen").await;
    let mut clients = [&mut a, &mut b, &mut frozen];
    pump_all(&mut clients, Duration::from_secs(3)).await;
    for (to, from) in [(&a, &b), (&b, &a), (&frozen, &a)] {
        let r = to.received_from(&from.id);
        assert!(r.audio_packets > 20, "not flowing before the stall: {r:?}");
    }

    // Frozen's media stops dead (its socket closes: the server's datagrams to it go nowhere)
    // while its signaling stays up.
    frozen.pc.close().await.unwrap();
    let before = audio_both_ways(&a, &b);
    let started = Instant::now();
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_secs(4)).await;
    let elapsed = started.elapsed().as_secs_f64();
    // Audio is sent every 20 ms: 50 packets a second.
    let expected = (elapsed * 50.0) as u64;
    let after = audio_both_ways(&a, &b);
    for (got, who) in [
        (after.0 - before.0, "A from B"),
        (after.1 - before.1, "B from A"),
    ] {
        assert!(
            got * 10 >= expected * 9,
            "{who}: {got} audio packets in {elapsed:.1} s while a subscriber was frozen (expected about {expected})"
        );
    }

    // The server notices that Frozen's media is gone and lets it go; the others stay.
    let gone = frozen.id.clone();
    let mut a_seen = Vec::new();
    let left = eventually(Duration::from_secs(20), async || {
        a_seen.extend(a.pump(Duration::from_millis(500)).await);
        a_seen.iter().any(|m| {
            matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == gone)
        })
    })
    .await;
    assert!(left, "the frozen participant was never let go");
    assert_eq!(s.participants(&id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_that_keeps_its_media_costs_nobody_an_offer_and_media_goes_on() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    let mut b = RtcClient::join(&url, "B").await;
    let mut c = RtcClient::join(&url, "C").await;
    let mut clients = [&mut a, &mut b, &mut c];
    pump_all(&mut clients, Duration::from_secs(3)).await;
    let offers = (a.server_offers, b.server_offers, c.server_offers);
    let before = audio_both_ways(&a, &c);

    // C's signaling socket drops; its peer connection does not. It resumes on a new socket.
    assert!(
        c.resume_keeping_media(&url).await,
        "the server did not keep C's media"
    );
    let mut seen = Vec::new();
    let mut clients = [&mut a, &mut b, &mut c];
    for messages in
        futures_util::future::join_all(clients.iter_mut().map(|c| c.pump(Duration::from_secs(3))))
            .await
    {
        seen.extend(messages);
    }
    assert_eq!(
        (a.server_offers, b.server_offers, c.server_offers),
        offers,
        "a kept resume renegotiated someone"
    );
    assert!(
        !seen
            .iter()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { .. })),
        "{seen:?}"
    );
    let after = audio_both_ways(&a, &c);
    assert!(
        after.0 > before.0 + 50,
        "A stopped hearing C: {before:?} -> {after:?}"
    );
    assert!(
        after.1 > before.1 + 50,
        "C stopped hearing A: {before:?} -> {after:?}"
    );
    assert_eq!(s.participants(&id).await, 3);

    // C still takes part as before: a newcomer reaches C and C reaches the newcomer.
    let mut d = RtcClient::join(&url, "D").await;
    let mut clients = [&mut a, &mut b, &mut c, &mut d];
    pump_all(&mut clients, Duration::from_secs(3)).await;
    assert!(c.received_from(&d.id).audio_packets > 10);
    assert!(d.received_from(&c.id).audio_packets > 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_without_media_to_keep_is_told_to_start_over() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let (ws, reply) = common::WsClient::connect_as(&url, "Nomedia", None, None).await;
    let ServerMessage::Joined {
        participant_id,
        resume_token,
        ..
    } = reply
    else {
        panic!("{reply:?}");
    };
    ws.close().await;
    let mut again = common::WsClient::connect(&url).await;
    again
        .send_resume_keeping_media("Nomedia", &participant_id, &resume_token)
        .await;
    match again.recv().await {
        Some(ServerMessage::Joined {
            resumed,
            media_kept,
            participant_id: back,
            ..
        }) => {
            assert!(resumed);
            assert!(!media_kept, "there was no media to keep");
            assert_eq!(back, participant_id);
        }
        other => panic!("{other:?}"),
    }
    // It goes on as a fresh participant: its offer is answered.
    let mut a = RtcClient::join(&url, "A").await;
    a.pump(Duration::from_secs(1)).await;
    assert_eq!(s.participants(&id).await, 2);
}

/// `a=ice-ufrag` of an SDP.
fn ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=ice-ufrag:"))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_restarts_ice_keeps_its_call_on_the_media_port() {
    use rtc::peer_connection::configuration::RTCOfferOptions;
    use rtc::peer_connection::sdp::RTCSessionDescription;
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    let mut b = RtcClient::join(&url, "B").await;
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_secs(2)).await;
    let before_ufrag = ufrag(&b.pc.local_description().await.unwrap().sdp);
    let server_ufrag = ufrag(&b.pc.remote_description().await.unwrap().sdp);
    let offers_to_a = a.server_offers;

    // B restarts ICE (as after a network change): a new offer with new credentials, the
    // same sections.
    let offer =
        b.pc.create_offer(Some(RTCOfferOptions { ice_restart: true }))
            .await
            .unwrap();
    b.pc.set_local_description(offer).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sdp = b.pc.local_description().await.unwrap().sdp;
    assert_ne!(ufrag(&sdp), before_ufrag, "the offer restarts ICE");
    b.ws.send(&salon_protocol::ClientMessage::Offer { sdp })
        .await;
    let answer =
        b.ws.recv_until(|m| match m {
            ServerMessage::Answer { sdp } => Some(sdp.clone()),
            ServerMessage::Error { message, .. } => panic!("refused: {message}"),
            _ => None,
        })
        .await;
    // The server keeps its credentials: checks from a new address still find the connection.
    assert_eq!(ufrag(&answer), server_ufrag);
    b.pc.set_remote_description(RTCSessionDescription::answer(answer).unwrap())
        .await
        .unwrap();
    let before = audio_both_ways(&a, &b);
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_secs(4)).await;
    let after = audio_both_ways(&a, &b);
    assert!(
        after.0 > before.0 + 50,
        "A stopped hearing B: {before:?} -> {after:?}"
    );
    assert!(
        after.1 > before.1 + 50,
        "B stopped hearing A: {before:?} -> {after:?}"
    );
    assert_eq!(a.server_offers, offers_to_a, "A was renegotiated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_microphone_its_owner_turned_off_forwards_nothing_and_resumes_seamlessly() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    let mut b = RtcClient::join(&url, "B").await;
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_secs(2)).await;
    assert!(a.received_from(&b.id).audio_packets > 20);

    // B turns the microphone off (its client keeps sending, as a browser does with a disabled
    // track): A gets none of it, but still B's video.
    b.ws.send(&salon_protocol::ClientMessage::Media(
        salon_protocol::MediaState {
            audio: false,
            video: true,
        },
    ))
    .await;
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_millis(500)).await;
    let muted = a.received_from(&b.id);
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_secs(2)).await;
    let later = a.received_from(&b.id);
    assert_eq!(
        later.audio_packets, muted.audio_packets,
        "a muted microphone was forwarded"
    );
    assert!(
        later.video_packets > muted.video_packets + 20,
        "video stopped too"
    );

    // On again: audio flows, with no hole in the sequence numbers where the mute was.
    b.ws.send(&salon_protocol::ClientMessage::Media(
        salon_protocol::MediaState {
            audio: true,
            video: true,
        },
    ))
    .await;
    let mut clients = [&mut a, &mut b];
    pump_all(&mut clients, Duration::from_secs(2)).await;
    let back = a.received_from(&b.id);
    assert!(
        back.audio_packets > later.audio_packets + 20,
        "audio did not come back"
    );
    assert!(
        back.largest_audio_seq_step <= 3,
        "a hole of {} sequence numbers where the mute was",
        back.largest_audio_seq_step
    );
}

/// The engine sends forwarded copies past the stack, so it answers retransmission requests
/// itself (`sfu::history`). Video packets lost on the way to a subscriber are asked for by its
/// real NACK generator and arrive after all; a request for a packet sent more than a second ago
/// is not answered; one packet goes at most twice again; and a subscriber that asks for
/// everything, over and over, gets no more than its allowance (a quarter of what it is sent)
/// while its video goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_packet_a_subscriber_lost_is_sent_again_within_limits() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let engine = s.server.state.media.engine.clone();
    let mut publisher = RtcClient::join(&s.ws_url(&id), "Publisher").await;
    let mut viewer = RtcClient::join(&s.ws_url(&id), "Viewer").await;
    pump_all(&mut [&mut publisher, &mut viewer], Duration::from_secs(3)).await;
    let got = viewer.received_from(&publisher.id);
    assert!(got.video_packets > 30, "no video yet: {got:?}");
    let stale = got.video_seqs[0].0;

    // Three packets lost on the way: the viewer notices the gap, asks, and gets them.
    let before = got.video_seqs.len();
    assert_eq!(engine.lose_video_to(&viewer.id, 3).await, 1);
    pump_all(&mut [&mut publisher, &mut viewer], Duration::from_secs(1)).await;
    let resent = s.counter("salon_rtp_resent_packets_total").await;
    assert!(resent >= 3, "{resent} packets resent");
    let got = viewer.received_from(&publisher.id);
    let mut seqs: Vec<u16> = got.video_seqs[before..].iter().map(|(s, _)| *s).collect();
    let arrival = seqs.clone();
    // (The lost ones may be older than the first to arrive.)
    let first = seqs[0].wrapping_sub(1000);
    seqs.sort_by_key(|s| s.wrapping_sub(first));
    seqs.dedup();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "a gap remains after the retransmissions: {arrival:?}"
    );
    assert_ne!(
        seqs, arrival,
        "nothing arrived late: the packets were not lost"
    );

    // Too old: not answered.
    viewer.nack_video(&publisher.id, &[stale]).await;
    pump_all(
        &mut [&mut publisher, &mut viewer],
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(s.counter("salon_rtp_resent_packets_total").await, resent);

    // At most twice again (a receiver drops what it already has, so this counts at the server).
    let fresh = viewer
        .received_from(&publisher.id)
        .video_seqs
        .last()
        .unwrap()
        .0;
    for _ in 0..4 {
        viewer.nack_video(&publisher.id, &[fresh]).await;
        pump_all(
            &mut [&mut publisher, &mut viewer],
            Duration::from_millis(100),
        )
        .await;
    }
    assert_eq!(
        s.counter("salon_rtp_resent_packets_total").await,
        resent + u64::from(salon_server::sfu::history::MAX_RESENDS)
    );

    // A flood: every packet of the last second, ten times a second, for three seconds.
    let sent_before = engine.packets_to(&viewer.id).await;
    let resent_before = s.counter("salon_rtp_resent_packets_total").await;
    let video_before = viewer.received_from(&publisher.id).video_packets;
    let flood_started = std::time::Instant::now();
    while flood_started.elapsed() < Duration::from_secs(3) {
        let recent: Vec<u16> = viewer
            .received_from(&publisher.id)
            .video_seqs
            .iter()
            .rev()
            .take(30)
            .map(|(seq, _)| *seq)
            .collect();
        viewer.nack_video(&publisher.id, &recent).await;
        pump_all(
            &mut [&mut publisher, &mut viewer],
            Duration::from_millis(100),
        )
        .await;
    }
    let sent = engine.packets_to(&viewer.id).await - sent_before;
    let resent = s.counter("salon_rtp_resent_packets_total").await - resent_before;
    let refused = s.counter("salon_rtp_resends_refused_packets_total").await;
    assert!(refused > 0, "the flood was never refused");
    assert!(resent > 0, "nothing resent during the flood");
    let allowance = salon_server::sfu::history::Allowance::BURST as u64 + sent / 4 + 2;
    assert!(
        resent <= allowance,
        "{resent} resent for {sent} sent: more than the allowance"
    );
    let video = viewer.received_from(&publisher.id).video_packets - video_before;
    assert!(
        video > 60,
        "the video stalled during the flood: {video} packets in 3 s"
    );
}

/// Every copy the engine forwards carries its subscriber connection's transport-wide sequence
/// number, and the subscriber's congestion control feedback about them (TWCC, from its real
/// stack) reaches the delay detector (`sfu::downlink`). On loopback the queue never grows, so
/// nothing is cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_feedback_about_what_they_are_sent_reaches_the_delay_detector() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let mut a = RtcClient::join(&s.ws_url(&id), "A").await;
    let mut b = RtcClient::join(&s.ws_url(&id), "B").await;
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(3)).await;
    assert!(b.received_from(&a.id).video_packets > 30);
    let reported = s.counter("salon_downlink_feedback_packets_total").await;
    let forwarded = s.counter("salon_rtp_forwarded_packets_total").await;
    assert!(
        reported * 2 > forwarded,
        "feedback about {reported} of {forwarded} forwarded packets"
    );
    assert_eq!(s.counter("salon_downlink_delay_cuts_total").await, 0);
}

/// A server with A and B in one room, their media flowing.
async fn a_and_b_connected() -> (TestServer, String, String, RtcClient, RtcClient) {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let url = s.ws_url(&id);
    let mut a = RtcClient::join(&url, "A").await;
    let mut b = RtcClient::join(&url, "B").await;
    pump_all(&mut [&mut a, &mut b], Duration::from_secs(3)).await;
    (s, id, url, a, b)
}

/// Pumps `clients` for `d` (in steps of a second: a quiet socket is fine) and says whether one
/// of them was told that `who` left.
async fn pump_watching_for_leave(clients: &mut [&mut RtcClient], d: Duration, who: &str) -> bool {
    let deadline = Instant::now() + d;
    let mut left = false;
    while Instant::now() < deadline {
        let step = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_secs(1));
        left |= futures_util::future::join_all(clients.iter_mut().map(|c| c.pump(step)))
            .await
            .iter()
            .flatten()
            .any(|m| matches!(m, ServerMessage::ParticipantLeft { participant_id } if participant_id == who));
    }
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_with_media_up_goes_unnoticed_and_resumes_after_12_s() {
    let (s, id, url, mut a, mut b) = a_and_b_connected().await;

    // B's signaling socket drops; its media goes on. For 12 s (well past the 5 s a seat
    // without media is kept) A sees no leave, and keeps hearing B.
    b.drop_signaling(&url).await;
    let before = audio_both_ways(&a, &b);
    let mut clients = [&mut a];
    let left = pump_watching_for_leave(&mut clients, Duration::from_secs(12), &b.id).await;
    assert!(!left, "A was told B left while B's media was up");
    assert_eq!(s.participants(&id).await, 2);
    let during = audio_both_ways(&a, &b);
    assert!(
        during.0 > before.0 + 300,
        "A stopped hearing B while B's socket was gone: {before:?} -> {during:?}"
    );

    // B comes back as itself, with its media; nobody is renegotiated, media goes on.
    let offers = a.server_offers;
    assert!(
        b.resume().await,
        "the server did not keep B's media for 12 s"
    );
    let b_id = b.id.clone();
    let mut clients = [&mut a, &mut b];
    let left = pump_watching_for_leave(&mut clients, Duration::from_secs(3), &b_id).await;
    assert!(!left);
    assert_eq!(a.server_offers, offers, "a kept resume renegotiated A");
    let after = audio_both_ways(&a, &b);
    assert!(
        after.1 > during.1 + 50,
        "B stopped hearing A after its resume: {during:?} -> {after:?}"
    );
    assert_eq!(s.participants(&id).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_that_never_resumes_frees_the_seat_after_20_s() {
    let (s, id, url, mut a, mut b) = a_and_b_connected().await;

    // B's socket drops for good; its media stays up. The seat is kept for about 20 s, then A
    // is told B left and the room has one person.
    b.drop_signaling(&url).await;
    let dropped = Instant::now();
    let mut clients = [&mut a];
    let early = pump_watching_for_leave(&mut clients, Duration::from_secs(17), &b.id).await;
    assert!(
        !early,
        "B's seat went after {:.1} s",
        dropped.elapsed().as_secs_f64()
    );
    let gone = b.id.clone();
    let mut seen = Vec::new();
    let left = eventually(Duration::from_secs(10), async || {
        seen.extend(a.pump(Duration::from_millis(250)).await);
        seen.iter().any(|m| {
            matches!(m, ServerMessage::ParticipantLeft { participant_id } if *participant_id == gone)
        })
    })
    .await;
    let after = dropped.elapsed().as_secs_f64();
    assert!(
        left,
        "B's seat was still held {after:.1} s after its socket dropped"
    );
    assert!((19.0..27.0).contains(&after), "freed after {after:.1} s");
    assert_eq!(s.participants(&id).await, 1);
    // Too late to go on where it was: its media was closed with the seat.
    let (name, me, token) = (b.name.clone(), b.id.clone(), b.resume_token.clone());
    b.ws.send_resume_keeping_media(&name, &me, &token).await;
    let reply =
        b.ws.recv_until(|m| match m {
            ServerMessage::Joined { media_kept, .. } => Some(*media_kept),
            ServerMessage::Error { .. } => Some(false),
            _ => None,
        })
        .await;
    assert!(
        !reply,
        "a resume after the seat was freed kept the old media"
    );
}
