//! One participant's connection: its signaling WebSocket and its peer connection, driven by one
//! task. Messages are validated before they touch anything; nothing a client sends can end
//! another participant's call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocket;
use futures_util::SinkExt as _;
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
use webrtc::rtp_transceiver::RtpSender;

use crate::conn::{Conn, Incoming};
use crate::hub::{RoomLink, ToParticipant};
use crate::ratelimit::SIGNALING_IDLE_TIMEOUT;
use crate::sfu::forward::{Downstream, Publication, relay_keyframe_requests};
use crate::sfu::peer::{self, Peer, PeerEvent};
use crate::sfu::rewrite::{Rewrite, negotiated_payload_type};
use crate::store::StoredRoom;
use crate::{AppState, admission};

/// How often the server pings the socket.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(15);

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
        conn.fatal(
            ErrorCode::RoomNotFound,
            "No room with this link exists. Check the link, or ask for a new one.",
        )
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
    let (peer_tx, peer_rx) = mpsc::unbounded_channel();
    let peer = match peer::build(&state.media, peer_tx).await {
        Ok(peer) => peer,
        Err(e) => {
            tracing::error!(error = %e, "cannot create a peer connection");
            link.leave();
            conn.fatal(
                ErrorCode::Internal,
                &format!("The server cannot take media right now: {e}"),
            )
            .await;
            return;
        }
    };
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
        peer,
        subscriptions: HashMap::new(),
        stopping: tokio::sync::watch::Sender::new(false),
        published: false,
        offer_outstanding: false,
        dirty: false,
        pending: Vec::new(),
    };
    let mut room_events = joined.events;
    let mut peer_rx = peer_rx;
    let mut end = if conn.send(&welcome).await {
        session.run(&mut conn, &mut room_events, &mut peer_rx).await
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
        _ => {}
    }
    let _ = conn.ws.close().await;
}

/// One subscribed track.
struct Subscription {
    publication: Arc<Publication>,
    downstream: Arc<Downstream>,
    sender: Arc<dyn RtpSender>,
    relay: Option<tokio::task::JoinHandle<()>>,
}

struct Session {
    me: String,
    link: RoomLink,
    peer: Peer,
    subscriptions: HashMap<(String, RtpCodecKind), Subscription>,
    /// Set when the session ends, so late publications are not announced.
    stopping: tokio::sync::watch::Sender<bool>,
    /// The client's first offer has been answered.
    published: bool,
    /// A server offer awaits the client's answer.
    offer_outstanding: bool,
    /// Subscriptions changed since the last offer.
    dirty: bool,
    /// Publications announced before the client's first offer was answered. Adding their tracks
    /// earlier would let the client's offer claim their transceivers for its own media.
    pending: Vec<Arc<Publication>>,
}

impl Session {
    fn pc(&self) -> &Arc<dyn PeerConnection> {
        &self.peer.pc
    }

    async fn run(
        &mut self,
        conn: &mut Conn,
        room_events: &mut mpsc::Receiver<ToParticipant>,
        peer_events: &mut mpsc::UnboundedReceiver<PeerEvent>,
    ) -> End {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.reset();
        loop {
            tokio::select! {
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
                    if let Some(end) = self.on_peer(event).await {
                        return end;
                    }
                }
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
                if self.offer_outstanding {
                    conn.error(
                        ErrorCode::NegotiationFailed,
                        "An offer from the server is waiting for your answer; answer it first.",
                    )
                    .await;
                    return None;
                }
                match self.answer_offer(sdp).await {
                    Ok(answer) => {
                        conn.send(&ServerMessage::Answer { sdp: answer }).await;
                        if !self.published {
                            self.published = true;
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
                if !self.offer_outstanding {
                    conn.error(ErrorCode::NegotiationFailed, "There is no offer to answer.")
                        .await;
                    return None;
                }
                let applied = match RTCSessionDescription::answer(sdp) {
                    Ok(desc) => self
                        .pc()
                        .set_remote_description(desc)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                self.offer_outstanding = false;
                if let Err(e) = applied {
                    conn.error(
                        ErrorCode::NegotiationFailed,
                        &format!("Your answer could not be applied: {e}"),
                    )
                    .await;
                    // Try again with a fresh offer so the call does not stall.
                    self.dirty = true;
                }
                self.after_negotiation(conn).await;
            }
        }
        None
    }

    async fn add_candidate(&mut self, candidate: IceCandidate) {
        if candidate.candidate.is_empty() {
            return;
        }
        let init = RTCIceCandidateInit {
            candidate: candidate.candidate,
            sdp_mid: candidate.sdp_mid,
            sdp_mline_index: candidate.sdp_mline_index,
            username_fragment: candidate.username_fragment,
            url: None,
        };
        // Obfuscated (.local) or unreachable candidates fail here; the server learns the
        // client's address from its connectivity checks anyway.
        if let Err(e) = self.pc().add_ice_candidate(init).await {
            tracing::debug!(participant = %self.me, error = %e, "ignored a remote candidate");
        }
    }

    async fn answer_offer(&mut self, sdp: String) -> Result<String, String> {
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())?;
        let pc = self.pc().clone();
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
        salon_rtc::events::local_sdp_when_gathered(&self.peer.pc, &mut self.peer.gathering)
            .await
            .ok_or_else(|| "no local description".to_owned())
    }

    /// After an answer was applied in either direction: start forwarding on newly negotiated
    /// tracks, then send the next offer if subscriptions changed meanwhile.
    async fn after_negotiation(&mut self, conn: &mut Conn) {
        self.activate_subscriptions().await;
        self.maybe_offer(conn).await;
    }

    async fn maybe_offer(&mut self, conn: &mut Conn) {
        if !self.published || self.offer_outstanding || !self.dirty {
            return;
        }
        self.dirty = false;
        let pc = self.pc().clone();
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
                self.offer_outstanding = true;
                conn.send(&ServerMessage::Offer { sdp }).await;
            }
            Err(e) => {
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
            let Ok(params) = sub.sender.get_parameters().await else {
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
            sub.relay = Some(tokio::spawn(relay_keyframe_requests(
                sub.publication.clone(),
                sub.downstream.clone(),
            )));
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
                if self.published {
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
                    self.dirty = true;
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
        let ssrc = rand::random::<u32>();
        let kind_name = match publication.kind {
            RtpCodecKind::Audio => "audio",
            _ => "video",
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            publication.publisher.clone(),
            format!("{}-{kind_name}", publication.publisher),
            format!("{}-{kind_name}", publication.publisher),
            publication.kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: publication.codec.clone(),
                ..Default::default()
            }],
        )));
        // A transceiver of its own: `add_track` would reuse the client's publishing transceiver
        // of the same kind, which the client sends on and never receives on.
        let transceiver = self
            .pc()
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
        let downstream = Downstream::new(self.me.clone(), track, ssrc);
        publication.add_downstream(downstream.clone());
        self.subscriptions.insert(
            key,
            Subscription {
                publication,
                downstream,
                sender,
                relay: None,
            },
        );
        self.dirty = true;
        Ok(())
    }

    async fn drop_subscription(&mut self, sub: Subscription) {
        sub.publication.remove_exact_downstream(&sub.downstream);
        if let Some(relay) = sub.relay {
            relay.abort();
        }
        if let Err(e) = self.pc().remove_track(&sub.sender).await {
            tracing::debug!(participant = %self.me, error = %e, "remove_track failed");
        }
    }

    async fn on_peer(&mut self, event: PeerEvent) -> Option<End> {
        match event {
            PeerEvent::State(state) => {
                tracing::debug!(participant = %self.me, %state, "peer connection state");
                if matches!(
                    state,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                ) {
                    return Some(End::IceFailed);
                }
            }
            PeerEvent::Track(track) => self.publish(track),
        }
        None
    }

    /// A remote track appeared: find out what it carries from its first RTP packet, then
    /// announce it. Runs in its own task so a slow start does not hold up signaling.
    fn publish(&mut self, track: Arc<dyn TrackRemote>) {
        let me = self.me.clone();
        let pc = self.pc().clone();
        let link = self.link.clone();
        let stop = self.stopping.subscribe();
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
            tokio::spawn(publication.clone().forward());
            link.publish(publication);
        });
    }

    async fn shutdown(&mut self) {
        self.stopping.send_replace(true);
        self.link.leave();
        let subs: Vec<_> = self.subscriptions.drain().map(|(_, s)| s).collect();
        for sub in subs {
            sub.publication.remove_exact_downstream(&sub.downstream);
            if let Some(relay) = sub.relay {
                relay.abort();
            }
        }
        if let Err(e) = self.pc().close().await {
            tracing::debug!(participant = %self.me, error = %e, "close failed");
        }
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
