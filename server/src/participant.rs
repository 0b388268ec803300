//! One participant's connection: its signaling WebSocket and its peer connection, driven by one
//! task. Messages are validated before they touch anything; nothing a client sends can end
//! another participant's call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocket;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use salon_protocol::{ClientMessage, ErrorCode, IceCandidate, PROTOCOL_VERSION, ServerMessage};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState};
use webrtc::rtp_transceiver::{RtpSender, RtpTransceiver};

use crate::conn::{Conn, Incoming};
use crate::hub::{RoomLink, ToParticipant};
use crate::negotiator::{Due, Negotiator, media_sections};
use crate::ratelimit::SIGNALING_IDLE_TIMEOUT;
use crate::sfu::candidates::{RemoteCandidates, Verdict};
use crate::sfu::forward::{Downstream, Publication};
use crate::sfu::munger::Munger;
use crate::sfu::peer::{self, MediaSettings, Peer, PeerEvent};
use crate::sfu::rewrite::{Rewrite, codecs_interchangeable, negotiated_payload_type};
use crate::store::StoredRoom;
use crate::{AppState, admission, sleep_until};

/// How often the server pings the socket.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(15);

/// Keyframe requests from the subscriber waiting to be handled; more are dropped (one pending
/// request per track is as good as many).
const KEYFRAME_QUEUE: usize = 64;

/// Tells the room this connection is gone when dropped (also while unwinding).
struct LeaveOnDrop(RoomLink);

impl Drop for LeaveOnDrop {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// How long a participant whose socket dropped keeps its seat, waiting for a resume.
const RESUME_GRACE: Duration = Duration::from_secs(5);

/// Waits out [`RESUME_GRACE`] after a dropped socket, draining room events. Returns
/// [`End::Replaced`] if a resumed connection took the seat meanwhile.
async fn linger(room_events: &mut mpsc::Receiver<ToParticipant>) -> End {
    let grace = tokio::time::sleep(RESUME_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            _ = &mut grace => return End::SocketClosed,
            event = room_events.recv() => match event {
                None => return End::Replaced,
                Some(ToParticipant::Evicted) => return End::Evicted,
                Some(ToParticipant::Ended { code, message }) => return End::Ended(code, message),
                Some(_) => {}
            },
        }
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    ClientLeft,
    SocketClosed,
    Idle,
    IceFailed,
    Evicted,
    Replaced,
    /// Media did not connect within [`MediaSettings::connect_timeout`].
    MediaTimeout(Duration),
    /// Removed, or the call ended: the client gets this fatal error.
    Ended(ErrorCode, String),
}

/// Sends one fatal error on a fresh socket and closes it.
pub async fn refuse(socket: WebSocket, code: ErrorCode, message: &str) {
    Conn::new(socket).fatal(code, message).await;
}

/// Runs a signaling WebSocket from upgrade to close. `address` is the client's, for bans.
pub async fn run(
    socket: WebSocket,
    room: Option<StoredRoom>,
    state: AppState,
    address: std::net::IpAddr,
) {
    let mut conn = Conn::new(socket);
    let Some(room) = room else {
        conn.fatal(ErrorCode::RoomNotFound, admission::ROOM_NOT_FOUND)
            .await;
        return;
    };
    let Some((joined, link)) = admission::enter(&mut conn, &room, &state, address).await else {
        return;
    };
    let me = joined.participant_id.clone();
    // Whatever happens below — even a panic in the WebRTC stack on hostile input — the room
    // hears that this participant is gone.
    let _leave_on_drop = LeaveOnDrop(link.clone());
    // The peer connection (and its UDP port) is built only when the client's first offer
    // arrives: a client that joins and never offers holds a seat for at most the connect
    // timeout, and never a port.
    let (peer_tx, peer_rx) = mpsc::unbounded_channel();
    let (keyframe_tx, mut keyframe_rx) = mpsc::channel(KEYFRAME_QUEUE);
    let welcome = ServerMessage::Joined {
        version: PROTOCOL_VERSION,
        participant_id: me.clone(),
        room: joined.room,
        participants: joined.others,
        resume_token: joined.resume_token,
        resumed: joined.resumed,
        role: joined.role,
        knocks: joined.knocks,
    };
    let mut session = Session {
        me: me.clone(),
        link,
        media: state.media.clone(),
        peer: None,
        peer_tx,
        keyframe_tx,
        candidates: RemoteCandidates::new(),
        connected: false,
        subscriptions: HashMap::new(),
        spare: Vec::new(),
        stopping: tokio::sync::watch::Sender::new(false),
        negotiation: Negotiator::default(),
        pending: Vec::new(),
        admitted: Instant::now(),
    };
    state.media.metrics.joined();
    let mut room_events = joined.events;
    let mut peer_rx = peer_rx;
    let mut end = if conn.send(&welcome).await {
        session
            .run(&mut conn, &mut room_events, &mut peer_rx, &mut keyframe_rx)
            .await
    } else {
        End::SocketClosed
    };
    if matches!(end, End::SocketClosed) {
        // The socket dropped without a goodbye: often a network change. Hold the seat briefly
        // so the client can resume as itself instead of leaving and re-entering.
        end = linger(&mut room_events).await;
    }
    tracing::info!(participant = %me, room = %session.link.room_id(), reason = ?end, "participant gone");
    session.shutdown().await;
    match &end {
        End::Evicted => {
            conn.fatal(
                ErrorCode::Internal,
                "You were disconnected because the connection was too slow.",
            )
            .await;
        }
        End::Ended(code, message) => conn.fatal(*code, message).await,
        End::MediaTimeout(after) => {
            conn.fatal(
                ErrorCode::NegotiationFailed,
                &format!(
                    "Your media did not connect within {} s; check your network and rejoin.",
                    after.as_secs().max(1)
                ),
            )
            .await;
        }
        _ => {}
    }
    conn.close().await;
}

/// One subscribed track.
struct Subscription {
    publication: Arc<Publication>,
    downstream: Arc<Downstream>,
    slot: Slot,
}

/// A send transceiver toward the subscriber, with the track the server writes to. When its
/// subscription ends it is parked (inactive) and later reused for a new subscription of the same
/// kind and codec, so the subscriber's SDP does not grow with every person who ever came by.
struct Slot {
    transceiver: Arc<dyn RtpTransceiver>,
    sender: Arc<dyn RtpSender>,
    /// The track bound to the sender, which the server writes to; its SSRC is the one the sender
    /// announced, for the life of the slot. (Keyframe requests reach the session by SSRC, see
    /// `KeyframeRequests::reporting_to`, since a reused slot announces a new track id.)
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    kind: RtpCodecKind,
    codec: rtc::rtp_transceiver::rtp_sender::RTCRtpCodec,
    /// Sequence numbers and timestamps on this SSRC: a new subscription on a reused slot
    /// continues where the previous one stopped (the subscriber's SRTP replay check and jitter
    /// buffer see one continuous stream).
    munger: Arc<std::sync::Mutex<Munger>>,
    /// `offers_made` when parked: reusable once an answer to a later offer (which carries the
    /// section as inactive) was applied, so the client sees it end before it carries someone new.
    parked_at: u64,
}

struct Session {
    me: String,
    link: RoomLink,
    media: MediaSettings,
    /// Built when the client's first offer arrives.
    peer: Option<Peer>,
    peer_tx: mpsc::UnboundedSender<PeerEvent>,
    keyframe_tx: mpsc::Sender<u32>,
    /// Remote candidates accepted so far (a bounded number, see `sfu::candidates`).
    candidates: RemoteCandidates,
    /// The peer connection has reached `connected` once.
    connected: bool,
    subscriptions: HashMap<(String, RtpCodecKind), Subscription>,
    /// Parked send transceivers, for reuse.
    spare: Vec<Slot>,
    /// Set when the session ends, so late publications are not announced.
    stopping: tokio::sync::watch::Sender<bool>,
    /// When the server offers (pure state: `crate::negotiator`).
    negotiation: Negotiator,
    /// When the participant was let in (for the join-to-media histogram).
    admitted: Instant,
    /// Publications announced before the client's first offer was answered. Adding their tracks
    /// earlier would let the client's offer claim their transceivers for its own media.
    pending: Vec<Arc<Publication>>,
}

impl Session {
    fn pc(&self) -> Option<&Arc<dyn PeerConnection>> {
        self.peer.as_ref().map(|p| &p.pc)
    }

    async fn run(
        &mut self,
        conn: &mut Conn,
        room_events: &mut mpsc::Receiver<ToParticipant>,
        peer_events: &mut mpsc::UnboundedReceiver<PeerEvent>,
        keyframe_requests: &mut mpsc::Receiver<u32>,
    ) -> End {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.reset();
        let connect_within = self.media.connect_timeout.get();
        let connect_deadline = tokio::time::sleep(connect_within);
        tokio::pin!(connect_deadline);
        loop {
            if conn.is_dead() {
                return End::SocketClosed;
            }
            let negotiation_due = self.negotiation.next_deadline();
            tokio::select! {
                () = &mut connect_deadline, if !self.connected => {
                    tracing::info!(participant = %self.me, "media did not connect in time");
                    return End::MediaTimeout(connect_within);
                }
                () = sleep_until(negotiation_due) => {
                    if self.negotiation.due(Instant::now()) == Due::AnswerTimedOut {
                        // The answer was refused by the socket (too large, malformed) or never
                        // came: offer again rather than stall.
                        tracing::debug!(participant = %self.me, "no answer to our offer; offering again");
                    }
                    self.maybe_offer(conn).await;
                }
                frame = conn.ws.recv() => {
                    match conn.interpret(frame).await {
                        Incoming::Closed => return End::SocketClosed,
                        Incoming::Nothing => {}
                        Incoming::Message(message) => {
                            if let Some(end) = self.on_client(conn, message).await {
                                return end;
                            }
                        }
                    }
                }
                event = room_events.recv() => match event {
                    // The room dropped our queue: a resumed connection took our place.
                    None => return End::Replaced,
                    Some(ToParticipant::Evicted) => return End::Evicted,
                    Some(ToParticipant::Ended { code, message }) => return End::Ended(code, message),
                    Some(event) => self.on_room(conn, event).await,
                },
                Some(event) = peer_events.recv() => {
                    if let Some(end) = self.on_peer(event) {
                        return end;
                    }
                }
                Some(ssrc) = keyframe_requests.recv() => self.on_keyframe_request(ssrc),
                _ = ping.tick() => {
                    if conn.last_heard.elapsed() > SIGNALING_IDLE_TIMEOUT {
                        return End::Idle;
                    }
                    if !conn.ping().await {
                        return End::SocketClosed;
                    }
                }
            }
        }
    }

    async fn on_client(&mut self, conn: &mut Conn, message: ClientMessage) -> Option<End> {
        match message {
            ClientMessage::Join { .. } => {
                conn.error(ErrorCode::AlreadyJoined, "You are already in this room.")
                    .await;
            }
            ClientMessage::Ping => {
                conn.send(&ServerMessage::Pong).await;
            }
            ClientMessage::Leave => return Some(End::ClientLeft),
            ClientMessage::Media(media) => self.link.set_media(media),
            ClientMessage::SetLocked { .. }
            | ClientMessage::Admit { .. }
            | ClientMessage::Deny { .. }
            | ClientMessage::Remove { .. }
            | ClientMessage::Unban { .. }
            | ClientMessage::AskMute { .. }
            | ClientMessage::Mute { .. }
            | ClientMessage::SetCohost { .. }
            | ClientMessage::SetPanic { .. }
            | ClientMessage::RotateLink
            | ClientMessage::EndRoom => self.link.host(message),
            ClientMessage::IceCandidate(candidate) => self.add_candidate(candidate).await,
            ClientMessage::Offer { sdp } => {
                let negotiated = match self.pc() {
                    Some(pc) => pc
                        .local_description()
                        .await
                        .map_or(0, |d| media_sections(&d.sdp)),
                    None => 0,
                };
                if let Err(refused) = self.negotiation.check_client_offer(&sdp, negotiated) {
                    let mut message = refused.to_string();
                    if let Some(first) = message.get_mut(..1) {
                        first.make_ascii_uppercase();
                    }
                    conn.error(ErrorCode::NegotiationFailed, &format!("{message}."))
                        .await;
                    return None;
                }
                if self.peer.is_none() {
                    match peer::build(&self.media, self.peer_tx.clone(), self.keyframe_tx.clone())
                        .await
                    {
                        Ok(peer) => self.peer = Some(peer),
                        Err(e) => {
                            tracing::error!(error = %e, "cannot create a peer connection");
                            return Some(End::Ended(
                                ErrorCode::Internal,
                                format!("The server cannot take media right now: {e}"),
                            ));
                        }
                    }
                }
                match self.answer_offer(sdp).await {
                    Ok(answer) => {
                        conn.send(&ServerMessage::Answer { sdp: answer }).await;
                        if self.negotiation.client_offer_answered() {
                            for publication in std::mem::take(&mut self.pending) {
                                self.subscribe_logged(publication).await;
                            }
                        }
                        self.after_negotiation(conn).await;
                    }
                    Err(e) => {
                        conn.error(
                            ErrorCode::NegotiationFailed,
                            &format!("Your offer could not be applied: {e}"),
                        )
                        .await;
                    }
                }
            }
            ClientMessage::Answer { sdp } => {
                let Some(pc) = self.pc().cloned() else {
                    conn.error(ErrorCode::NegotiationFailed, "There is no offer to answer.")
                        .await;
                    return None;
                };
                if !self.negotiation.is_offer_outstanding() {
                    conn.error(ErrorCode::NegotiationFailed, "There is no offer to answer.")
                        .await;
                    return None;
                }
                let sdp = self.filter_candidates(&sdp);
                let applied = match RTCSessionDescription::answer(sdp) {
                    Ok(desc) => pc
                        .set_remote_description(desc)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match applied {
                    Ok(()) => self.negotiation.answer_applied(),
                    Err(e) => {
                        self.negotiation.answer_failed(Instant::now());
                        conn.error(
                            ErrorCode::NegotiationFailed,
                            &format!(
                                "Your answer could not be applied: {e}. The server will offer again."
                            ),
                        )
                        .await;
                    }
                }
                self.after_negotiation(conn).await;
            }
        }
        None
    }

    /// The SDP without the candidates the server will not check (see `sfu::candidates`).
    fn filter_candidates(&mut self, sdp: &str) -> String {
        let refused_before = self.candidates.refused;
        let filtered = self.candidates.filter_sdp(sdp);
        let refused = self.candidates.refused - refused_before;
        if refused > 0 {
            tracing::debug!(
                participant = %self.me,
                refused,
                accepted = self.candidates.accepted(),
                "remote candidates dropped from an SDP"
            );
        }
        filtered
    }

    async fn add_candidate(&mut self, candidate: IceCandidate) {
        if candidate.candidate.is_empty() {
            return;
        }
        // Before the first offer there is no peer connection (the web client holds its
        // candidates until it has sent the offer); candidates are not worth building one.
        let Some(pc) = self.pc().cloned() else {
            return;
        };
        match self.candidates.admit(&candidate.candidate) {
            Verdict::Accept => {}
            Verdict::Repeat => return,
            verdict => {
                // Counted, not logged each time: a client may send many.
                if self.candidates.refused == 1 {
                    tracing::debug!(participant = %self.me, ?verdict, "remote candidate dropped");
                }
                return;
            }
        }
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            username_fragment: candidate.username_fragment,
            url: None,
        };
        // Unreachable candidates fail here; the server learns the client's address from its
        // connectivity checks anyway.
        if let Err(e) = pc.add_ice_candidate(init).await {
            tracing::debug!(participant = %self.me, error = %e, "ignored a remote candidate");
        }
    }

    async fn answer_offer(&mut self, sdp: String) -> Result<String, String> {
        let pc = self.pc().cloned().ok_or("no peer connection")?;
        let sdp = self.filter_candidates(&sdp);
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())?;
        pc.set_remote_description(offer)
            .await
            .map_err(|e| e.to_string())?;
        let answer = pc.create_answer(None).await.map_err(|e| e.to_string())?;
        pc.set_local_description(answer)
            .await
            .map_err(|e| e.to_string())?;
        self.local_sdp().await
    }

    /// The local description once ICE gathering is complete (or after a short wait).
    async fn local_sdp(&mut self) -> Result<String, String> {
        let peer = self.peer.as_mut().ok_or("no peer connection")?;
        salon_rtc::events::local_sdp_when_gathered(&peer.pc, &mut peer.gathering)
            .await
            .ok_or_else(|| "no local description".to_owned())
    }

    /// After an answer was applied in either direction: start forwarding on newly negotiated
    /// tracks, then send the next offer if subscriptions changed meanwhile.
    async fn after_negotiation(&mut self, conn: &mut Conn) {
        self.activate_subscriptions().await;
        self.maybe_offer(conn).await;
    }

    /// Sends an offer if one is due (see `crate::negotiator`: changes are gathered for a short
    /// while, and only one offer is out at a time).
    async fn maybe_offer(&mut self, conn: &mut Conn) {
        if self.negotiation.due(Instant::now()) != Due::Offer {
            return;
        }
        let Some(pc) = self.pc().cloned() else {
            return;
        };
        let made = async {
            let offer = pc.create_offer(None).await.map_err(|e| e.to_string())?;
            pc.set_local_description(offer)
                .await
                .map_err(|e| e.to_string())?;
            self.local_sdp().await
        }
        .await;
        match made {
            Ok(sdp) => {
                self.negotiation.offer_sent(Instant::now());
                self.media.metrics.offer_sent();
                conn.send(&ServerMessage::Offer { sdp }).await;
            }
            Err(e) => {
                self.negotiation.offer_failed(Instant::now());
                tracing::error!(participant = %self.me, error = %e, "cannot create an offer");
                conn.error(
                    ErrorCode::Internal,
                    "The server could not update your call; rejoin if video is missing.",
                )
                .await;
            }
        }
    }

    /// Gives each subscription that its leg has now negotiated a rewrite, and asks its publisher
    /// for a keyframe so the new subscriber's picture starts at once.
    async fn activate_subscriptions(&mut self) {
        for sub in self.subscriptions.values_mut() {
            if sub.downstream.is_ready() {
                continue;
            }
            // A reused slot was negotiated before (as inactive): wait for the answer that
            // makes it send again.
            match sub.slot.transceiver.current_direction().await {
                Ok(d) if d.has_send() => {}
                _ => continue,
            }
            let Ok(params) = sub.slot.sender.get_parameters().await else {
                continue;
            };
            let rtp = &params.rtp_parameters;
            let Some(pt) = negotiated_payload_type(&sub.publication.codec, &rtp.codecs) else {
                tracing::warn!(
                    participant = %self.me,
                    codec = %sub.publication.codec.mime_type,
                    "subscriber did not accept the publisher's codec; track not forwarded"
                );
                continue;
            };
            tracing::debug!(
                participant = %self.me,
                publisher = %sub.publication.publisher,
                pt,
                codecs = ?rtp.codecs.iter().map(|c| (c.payload_type, c.rtp_codec.mime_type.as_str())).collect::<Vec<_>>(),
                "forwarding starts"
            );
            let exts: Vec<(String, u16)> = rtp
                .header_extensions
                .iter()
                .map(|h| (h.uri.clone(), h.id))
                .collect();
            sub.downstream.set_rewrite(Rewrite::new(
                sub.downstream.ssrc,
                pt,
                sub.publication.payload_type,
                &sub.publication.extensions,
                &exts,
            ));
            let publication = sub.publication.clone();
            tokio::spawn(async move {
                // Once now, and again while the new leg's transport settles.
                for delay in [0, 1000, 3000] {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    publication.request_keyframe();
                }
            });
        }
    }

    async fn on_room(&mut self, conn: &mut Conn, event: ToParticipant) {
        match event {
            ToParticipant::Signal(message) => {
                conn.send(&message).await;
            }
            ToParticipant::Subscribe(publication) => {
                if self.negotiation.is_published() {
                    self.subscribe_logged(publication).await;
                    self.maybe_offer(conn).await;
                } else {
                    self.pending.retain(|p| {
                        !(p.publisher == publication.publisher && p.kind == publication.kind)
                    });
                    self.pending.push(publication);
                }
            }
            ToParticipant::Unsubscribe { publisher, kind } => {
                self.pending
                    .retain(|p| !(p.publisher == publisher && p.kind == kind));
                if let Some(sub) = self.subscriptions.remove(&(publisher, kind)) {
                    self.drop_subscription(sub).await;
                    self.negotiation.changed(Instant::now());
                }
                self.maybe_offer(conn).await;
            }
            ToParticipant::Evicted | ToParticipant::Ended { .. } => {}
        }
    }

    async fn subscribe_logged(&mut self, publication: Arc<Publication>) {
        if let Err(e) = self.subscribe(publication).await {
            tracing::warn!(participant = %self.me, error = %e, "cannot subscribe");
        }
    }

    async fn subscribe(&mut self, publication: Arc<Publication>) -> Result<(), String> {
        let key = (publication.publisher.clone(), publication.kind);
        if let Some(old) = self.subscriptions.remove(&key) {
            self.drop_subscription(old).await;
        }
        let slot = match self.reuse_slot(&publication).await {
            Some(slot) => slot,
            None => self.new_slot(&publication).await?,
        };
        let downstream = Downstream::new(
            self.me.clone(),
            slot.track.clone(),
            slot.ssrc,
            slot.munger.clone(),
        );
        publication.add_downstream(downstream.clone());
        self.subscriptions.insert(
            key,
            Subscription {
                publication,
                downstream,
                slot,
            },
        );
        self.negotiation.changed(Instant::now());
        Ok(())
    }

    /// A parked slot of the publication's kind and codec, now carrying the publication: the
    /// same SSRC (the sender checks it, and its RTP streams stay bound), a new track id (so that
    /// receivers see a new track), the publisher as stream id (what clients read to know whose
    /// track it is).
    async fn reuse_slot(&mut self, publication: &Publication) -> Option<Slot> {
        let negotiation = &self.negotiation;
        let index = self.spare.iter().position(|slot| {
            slot.kind == publication.kind
                && negotiation.answered_after(slot.parked_at)
                && codecs_interchangeable(&slot.codec, &publication.codec)
        })?;
        let slot = self.spare.swap_remove(index);
        let carrier = track_for(publication, slot.ssrc);
        // The core hands out a transceiver's sender only while its direction sends.
        let reused = async {
            slot.transceiver
                .set_direction(RTCRtpTransceiverDirection::Sendonly)
                .await?;
            slot.sender
                .replace_track(carrier as Arc<dyn TrackLocal>)
                .await?;
            slot.sender
                .set_streams(vec![publication.publisher.clone()])
                .await
        }
        .await;
        match reused {
            Ok(()) => {
                // Someone else's media from the next packet on: continue our numbering.
                slot.munger
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .mark_break();
                tracing::trace!(participant = %self.me, publisher = %publication.publisher, ssrc = slot.ssrc, "send transceiver reused");
                Some(slot)
            }
            Err(e) => {
                // Dropped from the spares (inactive for good); a new slot is made instead.
                tracing::debug!(participant = %self.me, error = %e, "cannot reuse a send transceiver");
                let _ = slot
                    .transceiver
                    .set_direction(RTCRtpTransceiverDirection::Inactive)
                    .await;
                None
            }
        }
    }

    async fn new_slot(&mut self, publication: &Publication) -> Result<Slot, String> {
        let pc = self.pc().cloned().ok_or("no peer connection")?;
        let ssrc = rand::random::<u32>();
        let track = track_for(publication, ssrc);
        // A transceiver of its own: `add_track` would reuse the client's publishing transceiver
        // of the same kind, which the client sends on and never receives on.
        let transceiver = pc
            .add_transceiver_from_track(
                track.clone() as Arc<dyn TrackLocal>,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    streams: vec![publication.publisher.clone()],
                    send_encodings: vec![],
                }),
            )
            .await
            .map_err(|e| e.to_string())?;
        let sender = transceiver
            .sender()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("new transceiver has no sender")?;
        Ok(Slot {
            transceiver,
            sender,
            track,
            ssrc,
            kind: publication.kind,
            codec: publication.codec.clone(),
            munger: Arc::new(std::sync::Mutex::new(Munger::new(
                publication.codec.clock_rate,
                rand::random(),
                rand::random(),
            ))),
            parked_at: 0,
        })
    }

    /// The subscriber asked for a keyframe on the track it receives as `ssrc`.
    fn on_keyframe_request(&self, ssrc: u32) {
        if let Some(sub) = self
            .subscriptions
            .values()
            .find(|s| s.downstream.ssrc == ssrc && s.downstream.is_ready())
        {
            sub.publication.request_keyframe();
        }
    }

    /// Stops forwarding to this subscription and parks its slot (inactive) for reuse.
    async fn drop_subscription(&mut self, sub: Subscription) {
        sub.publication.remove_exact_downstream(&sub.downstream);
        let mut slot = sub.slot;
        match slot
            .transceiver
            .set_direction(RTCRtpTransceiverDirection::Inactive)
            .await
        {
            Ok(()) => {
                slot.parked_at = self.negotiation.offers_made();
                self.spare.push(slot);
            }
            Err(e) => {
                tracing::debug!(participant = %self.me, error = %e, "cannot park a send transceiver");
            }
        }
    }

    fn on_peer(&mut self, event: PeerEvent) -> Option<End> {
        match event {
            PeerEvent::State(state) => {
                tracing::debug!(participant = %self.me, %state, "peer connection state");
                match state {
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed => {
                        return Some(End::IceFailed);
                    }
                    RTCPeerConnectionState::Connected if !self.connected => {
                        self.connected = true;
                        self.link.media_connected();
                        self.media.metrics.media_connected(self.admitted.elapsed());
                    }
                    _ => {}
                }
            }
            PeerEvent::Track(track) => self.publish(track),
        }
        None
    }

    /// A remote track appeared: find out what it carries from its first RTP packet, then
    /// announce it. Runs in its own task so a slow start does not hold up signaling.
    fn publish(&mut self, track: Arc<dyn TrackRemote>) {
        let Some(pc) = self.pc().cloned() else {
            return;
        };
        let me = self.me.clone();
        let link = self.link.clone();
        let stop = self.stopping.subscribe();
        let metrics = self.media.metrics.clone();
        tokio::spawn(async move {
            let Some(publication) = describe_track(&me, &pc, track).await else {
                return;
            };
            if *stop.borrow() {
                return;
            }
            tracing::info!(
                participant = %me,
                kind = %publication.kind,
                codec = %publication.codec.mime_type,
                payload_type = ?publication.payload_type,
                "publishing"
            );
            tokio::spawn(publication.clone().forward(metrics));
            link.publish(publication);
        });
    }

    async fn shutdown(&mut self) {
        self.stopping.send_replace(true);
        self.link.leave();
        let subs: Vec<_> = self.subscriptions.drain().map(|(_, s)| s).collect();
        for sub in subs {
            sub.publication.remove_exact_downstream(&sub.downstream);
        }
        self.spare.clear();
        if let Some(peer) = self.peer.take()
            && let Err(e) = peer.pc.close().await
        {
            tracing::debug!(participant = %self.me, error = %e, "close failed");
        }
    }
}

/// A local track carrying `publication` on `ssrc`: a fresh track id (so receivers see a new
/// track), the publisher's id as stream id (what clients read to know whose track it is).
fn track_for(publication: &Publication, ssrc: u32) -> Arc<TrackLocalStaticRTP> {
    Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        publication.publisher.clone(),
        new_track_id(publication.kind),
        format!("{}-{}", publication.publisher, kind_name(publication.kind)),
        publication.kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: publication.codec.clone(),
            ..Default::default()
        }],
    )))
}

/// A fresh track id. Track ids are not publisher ids: clients read the stream id for that.
fn new_track_id(kind: RtpCodecKind) -> String {
    format!("{}-{:016x}", kind_name(kind), rand::random::<u64>())
}

fn kind_name(kind: RtpCodecKind) -> &'static str {
    match kind {
        RtpCodecKind::Audio => "audio",
        _ => "video",
    }
}

/// Waits for a remote track's first RTP packet and describes the publication: SSRC and payload
/// type from the packet, codec and header-extension ids from the receiver's negotiated
/// parameters. `None` if the track ends first.
async fn describe_track(
    me: &str,
    pc: &Arc<dyn PeerConnection>,
    track: Arc<dyn TrackRemote>,
) -> Option<Arc<Publication>> {
    use webrtc::media_stream::track_remote::TrackRemoteEvent;
    let first = loop {
        match track.poll().await? {
            TrackRemoteEvent::OnRtpPacket(packet) => break packet,
            TrackRemoteEvent::OnEnded => return None,
            _ => {}
        }
    };
    let ssrc = first.header.ssrc;
    let payload_type = first.header.payload_type;
    let kind = track.kind().await;
    let track_id = track.track_id().await;
    let mut codec = None;
    let mut exts = Vec::new();
    for receiver in pc.get_receivers().await {
        if receiver.track().track_id().await != track_id {
            continue;
        }
        if let Ok(params) = receiver.get_parameters().await {
            let rtp = params.rtp_parameters;
            codec = rtp
                .codecs
                .iter()
                .find(|c| c.payload_type == payload_type)
                .map(|c| c.rtp_codec.clone());
            exts = rtp
                .header_extensions
                .iter()
                .map(|h| (h.uri.clone(), h.id))
                .collect();
        }
    }
    let codec = match codec {
        Some(codec) => codec,
        None => match track.codec(ssrc).await {
            Some(codec) => codec,
            None => {
                tracing::warn!(participant = %me, payload_type, "track with an unknown codec ignored");
                return None;
            }
        },
    };
    Some(Publication::new(
        me.to_owned(),
        kind,
        codec,
        ssrc,
        Some(payload_type),
        exts,
        track,
    ))
}
