//! One participant's connection: its signaling WebSocket and its peer connection, driven by one
//! task. Messages are validated before they touch anything; nothing a client sends can end
//! another participant's call.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::WebSocket;
use futures_util::FutureExt as _;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{
    RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverId, RTCRtpTransceiverInit,
};
use salon_protocol::{
    ClientMessage, ErrorCode, IceCandidate, PROTOCOL_VERSION, ServerMessage, TileSize, VideoSource,
    video_stream_id,
};
use tokio::sync::mpsc;

use crate::conn::{Conn, Incoming};
use crate::hub::{RoomLink, ToParticipant};
use crate::negotiator::{Due, Negotiator, media_sections};
use crate::ratelimit::{SIGNALING_IDLE_TIMEOUT, TokenBucket};
use crate::sfu::candidates::{RemoteCandidates, Verdict};
use crate::sfu::engine::{LegError, LegEvent, LegHandle, NewLeg};
use crate::sfu::forward::{Publication, Track};
use crate::sfu::layers::Want;
use crate::sfu::peer::{self, MediaSettings};
use crate::sfu::rewrite::{Rewrite, codecs_interchangeable, negotiated_payload_type};
use crate::store::StoredRoom;
use crate::{AppState, admission, sleep_until};

/// How often the server pings the socket.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(15);

/// Tells the room this connection is gone when dropped (also while unwinding).
struct LeaveOnDrop(RoomLink);

impl Drop for LeaveOnDrop {
    fn drop(&mut self) {
        self.0.leave();
    }
}

/// Once its burst is spent, a participant may start or stop a screen share this often.
const SHARE_EVERY: Duration = Duration::from_secs(2);

/// How long a participant whose socket dropped keeps its seat, waiting for a resume, when its
/// media is not up (never connected, or failed meanwhile).
const RESUME_GRACE: Duration = Duration::from_secs(5);

/// How long the seat is kept when the media is still up as the socket drops: the client is
/// there (a signaling blip, a proxy restart, a phone between networks) and comes back with a
/// resume. The others notice nothing. If the media goes silent meanwhile (ICE `disconnected`,
/// about 3 s without a packet: a client that vanished, or one whose network changed under both
/// its socket and its media) the seat goes at [`RESUME_GRACE`] after the drop but no sooner
/// than [`SILENT_GRACE`] after the silence was noticed, unless the media comes back first (then
/// this grace again, from the drop); if the media fails, at [`RESUME_GRACE`] after the drop, or
/// at once if that has passed.
const RESUME_GRACE_MEDIA_UP: Duration = Duration::from_secs(20);

/// How long a lingering seat whose media just went silent waits for it to come back: a browser
/// takes about 3.6 s to move its media to another network, the server notices the silence
/// after 3 s.
const SILENT_GRACE: Duration = Duration::from_secs(3);

/// How long handed-over media waits for the resumed connection to claim it.
const HANDOFF_PARK: Duration = Duration::from_secs(5);

/// How long a resumed connection waits for the old one to hand its media over.
const HANDOFF_WAIT: Duration = Duration::from_secs(2);

/// Room events a lingering connection keeps for its resume (beyond that, the media starts
/// over rather than miss a change).
const MAX_MISSED: usize = 256;

/// Holds the seat after a dropped socket (see [`RESUME_GRACE_MEDIA_UP`]). Returns
/// [`End::Replaced`] if a resumed connection took the seat meanwhile. Subscription changes
/// meanwhile are kept in `missed`, and the media's news in the session, for a resume that takes
/// the media over; tracks that started meanwhile in `published`.
async fn linger(
    session: &mut Session,
    room_events: &mut mpsc::Receiver<ToParticipant>,
    leg_events: &mut mpsc::UnboundedReceiver<LegEvent>,
    missed: &mut Vec<ToParticipant>,
    published: &mut Vec<Arc<Publication>>,
) -> End {
    let dropped = tokio::time::Instant::now();
    let media_up = session.connected && !session.silent && session.leg.is_some();
    let grace = tokio::time::sleep_until(
        dropped
            + if media_up {
                RESUME_GRACE_MEDIA_UP
            } else {
                RESUME_GRACE
            },
    );
    tokio::pin!(grace);
    let mut leg_open = true;
    loop {
        tokio::select! {
            _ = &mut grace => return End::SocketClosed,
            event = leg_events.recv(), if leg_open => match event {
                None => leg_open = false,
                Some(LegEvent::Failed) => {
                    // Nobody is there any more: no reason to hold the seat for long.
                    session.connected = false;
                    leg_open = false;
                    tracing::debug!(participant = %session.me, "media failed while the socket was gone");
                    grace.as_mut().reset(dropped + RESUME_GRACE);
                }
                // Silent for a few seconds too: most likely gone (unless its network changed,
                // see SILENT_GRACE).
                Some(LegEvent::Disconnected) => {
                    tracing::debug!(participant = %session.me, "media silent while the socket was gone");
                    session.silent = true;
                    let now = tokio::time::Instant::now();
                    grace.as_mut().reset((dropped + RESUME_GRACE).max(now + SILENT_GRACE));
                }
                // Its packets came back (on this path or another): the client is there.
                Some(LegEvent::Connected) if session.connected && session.silent => {
                    tracing::debug!(participant = %session.me, "media back while the socket was gone");
                    session.silent = false;
                    grace.as_mut().reset(dropped + RESUME_GRACE_MEDIA_UP);
                }
                Some(event) => session.keep_news(event, published),
            },
            event = room_events.recv() => match event {
                None => return End::Replaced,
                Some(ToParticipant::Evicted) => return End::Evicted,
                Some(ToParticipant::Ended { code, message }) => return End::Ended(code, message),
                Some(ToParticipant::Moved { url }) => return End::Moved(url),
                Some(event @ (ToParticipant::Subscribe(_) | ToParticipant::Unsubscribe { .. })) => {
                    missed.push(event);
                }
                Some(ToParticipant::Signal(_)) => {}
            },
        }
    }
}

/// A participant's media (its peer connection and everything negotiated on it), handed from a
/// dropped signaling connection to the one that resumed it. Dropped without being taken, it
/// closes the peer connection (see `Session`'s `Drop`).
pub struct Carry {
    session: Option<Session>,
    leg_events: mpsc::UnboundedReceiver<LegEvent>,
    /// Room events that arrived while the socket was gone.
    missed: Vec<ToParticipant>,
    /// Tracks that started while nobody listened: announced once the new connection's link
    /// (and seat) is in place.
    published: Vec<Arc<Publication>>,
}

impl Carry {
    /// Still worth taking over: connected, not failed since, nothing missed beyond the bound.
    fn usable(&mut self) -> bool {
        let Some(session) = &self.session else {
            return false;
        };
        if !session.connected || session.leg.is_none() || self.missed.len() > MAX_MISSED {
            return false;
        }
        while let Ok(event) = self.leg_events.try_recv() {
            if matches!(event, LegEvent::Failed) {
                return false;
            }
            if let Some(s) = &mut self.session {
                s.keep_news(event, &mut self.published);
            }
        }
        true
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
    /// Cluster mode: the room went to another node; the client gets `moved` there.
    Moved(String),
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
    // A resume may take over the old connection's media (its peer connection is still up).
    let mut carried = None;
    if joined.resumed {
        if joined.keep_media {
            carried = state.handoffs.claim(&me, HANDOFF_WAIT).await;
            if let Some(c) = carried.as_mut()
                && !c.usable()
            {
                carried = None;
            }
            if carried.is_none() {
                // The room kept our publications for nothing: they go, and we start over.
                link.media_reset();
            }
        } else {
            drop(state.handoffs.discard(&me));
        }
    }
    let media_kept = carried.is_some();
    let welcome = ServerMessage::Joined {
        media_kept,
        version: PROTOCOL_VERSION,
        participant_id: me.clone(),
        room: joined.room,
        participants: joined.others,
        resume_token: joined.resume_token,
        resumed: joined.resumed,
        role: joined.role,
        knocks: joined.knocks,
        ice_servers: state
            .media
            .turn
            .iter()
            .map(|turn| turn.credential(&me, std::time::SystemTime::now()))
            .collect(),
    };
    state.media.metrics.joined();
    let mut room_events = joined.events;
    let taken = carried
        .as_mut()
        .and_then(|carry| Some((carry.session.take()?, carry)));
    let (mut session, mut leg_rx, missed) = match taken {
        Some((mut session, carry)) => {
            session.link = link;
            session.link.media_connected();
            for publication in std::mem::take(&mut carry.published) {
                session.link.publish(publication);
            }
            let leg_rx = std::mem::replace(&mut carry.leg_events, mpsc::unbounded_channel().1);
            tracing::info!(participant = %me, "resumed with the media kept");
            (session, leg_rx, std::mem::take(&mut carry.missed))
        }
        None => {
            // The peer connection is built only when the client's first offer arrives: a
            // client that joins and never offers holds a seat for at most the connect timeout,
            // and no media state.
            let (leg_tx, leg_rx) = mpsc::unbounded_channel();
            let session = Session {
                me: me.clone(),
                link,
                media: state.media.clone(),
                leg: None,
                leg_tx,
                candidates: RemoteCandidates::new(),
                connected: false,
                silent: false,
                subscriptions: HashMap::new(),
                view: None,
                shares: TokenBucket::new(Instant::now(), 1.0 / SHARE_EVERY.as_secs_f64(), 4.0),
                speakers: None,
                video_watched: None,
                video_layers: None,
                spare: Vec::new(),
                stopping: tokio::sync::watch::Sender::new(false),
                negotiation: Negotiator::default(),
                pending: Vec::new(),
                admitted: Instant::now(),
            };
            (session, leg_rx, Vec::new())
        }
    };
    drop(carried);
    let mut end = if conn.send(&welcome).await {
        for event in missed {
            session.on_room(&mut conn, event).await;
        }
        if media_kept {
            session.repeat_media_news(&mut conn).await;
        }
        session.run(&mut conn, &mut room_events, &mut leg_rx).await
    } else {
        End::SocketClosed
    };
    let mut missed = Vec::new();
    let mut published = Vec::new();
    if matches!(end, End::SocketClosed) {
        // The socket dropped without a goodbye: often a network change. Hold the seat so the
        // client can resume as itself instead of leaving and re-entering.
        end = linger(
            &mut session,
            &mut room_events,
            &mut leg_rx,
            &mut missed,
            &mut published,
        )
        .await;
    }
    tracing::info!(participant = %me, room = %session.link.room_id(), reason = ?end, "participant gone");
    if matches!(end, End::Replaced) && session.connected && session.leg.is_some() {
        // A resume took our seat: its connection may take our media over.
        let carry = Carry {
            session: Some(session),
            leg_events: leg_rx,
            missed,
            published,
        };
        if let Some(ticket) = state.handoffs.give(&me, carry) {
            tokio::time::sleep(HANDOFF_PARK).await;
            drop(state.handoffs.take_back(&me, ticket));
        }
        conn.close().await;
        return;
    }
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
        End::Moved(url) => {
            conn.send(&ServerMessage::Moved { url: url.clone() }).await;
        }
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
    slot: Slot,
    /// Forwarding started (the leg negotiated the slot for this publication).
    ready: bool,
}

/// A send transceiver toward the subscriber. When its subscription ends it is parked (inactive)
/// and later reused for a new subscription of the same kind and codec, so the subscriber's SDP
/// does not grow with every person who ever came by. Its SSRC and its numbering (kept by the
/// engine) stay with it: a new subscription on a reused slot continues where the previous one
/// stopped, so the subscriber's SRTP replay check and jitter buffer see one continuous stream.
struct Slot {
    transceiver: RTCRtpTransceiverId,
    sender: RTCRtpSenderId,
    ssrc: u32,
    kind: RtpCodecKind,
    codec: RTCRtpCodec,
    /// `offers_made` when parked: reusable once an answer to a later offer (which carries the
    /// section as inactive) was applied, so the client sees it end before it carries someone new.
    parked_at: u64,
}

struct Session {
    me: String,
    link: RoomLink,
    media: MediaSettings,
    /// Built when the client's first offer arrives.
    leg: Option<LegHandle>,
    leg_tx: mpsc::UnboundedSender<LegEvent>,
    /// Remote candidates accepted so far (a bounded number, see `sfu::candidates`).
    candidates: RemoteCandidates,
    /// The peer connection has reached `connected` once.
    connected: bool,
    /// Its media went silent (ICE `disconnected`) and has not come back yet.
    silent: bool,
    subscriptions: HashMap<(String, Track), Subscription>,
    /// The videos the client shows (each participant's camera or screen), and how (`None`: it
    /// never said, so everyone's, at the best layer).
    view: Option<HashMap<(String, VideoSource), Want>>,
    /// Screen shares started or stopped: a few in a row, then one every [`SHARE_EVERY`] (each
    /// one renegotiates everybody else's connection).
    shares: TokenBucket,
    /// The latest speakers list and video audience the client was told (sent again to a
    /// socket that resumes with the media kept).
    speakers: Option<Arc<[String]>>,
    video_watched: Option<bool>,
    video_layers: Option<Arc<[String]>>,
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

/// However a session ends — shut down, dropped with a handover nobody took, or unwinding from a
/// panic in its task — its peer connection is closed in the engine.
impl Drop for Session {
    fn drop(&mut self) {
        if let Some(leg) = self.leg.take() {
            leg.close();
        }
    }
}

impl Session {
    async fn run(
        &mut self,
        conn: &mut Conn,
        room_events: &mut mpsc::Receiver<ToParticipant>,
        leg_events: &mut mpsc::UnboundedReceiver<LegEvent>,
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
                    // The media may have connected while this task was busy elsewhere (on a
                    // crowded server, each of its steps can wait on the room's worker): the
                    // engine's word is then already queued, and a `select!` that finds both
                    // ready picks one at random. Hear it out before giving the seat away.
                    while let Ok(event) = leg_events.try_recv() {
                        if let Some(end) = self.on_leg(conn, event).await {
                            return end;
                        }
                    }
                    if !self.connected {
                        tracing::info!(participant = %self.me, "media did not connect in time");
                        return End::MediaTimeout(connect_within);
                    }
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
                    if let Some(end) = self.on_frame(conn, frame).await {
                        return end;
                    }
                }
                event = room_events.recv() => match event {
                    // The room dropped our queue: a resumed connection took our place.
                    None => return End::Replaced,
                    Some(ToParticipant::Evicted) => return End::Evicted,
                    Some(ToParticipant::Ended { code, message }) => return End::Ended(code, message),
                    Some(ToParticipant::Moved { url }) => return End::Moved(url),
                    Some(event) => self.on_room(conn, event).await,
                },
                Some(event) = leg_events.recv() => {
                    if let Some(end) = self.on_leg(conn, event).await {
                        return end;
                    }
                }
                _ = ping.tick() => {
                    if conn.last_heard.elapsed() > SIGNALING_IDLE_TIMEOUT {
                        // This task may have been busy (each step can wait on the room's worker)
                        // while the client's messages queued on the socket, and a `select!`
                        // that finds both ready picks one at random: hear them out before
                        // calling the client idle.
                        while let Some(frame) = conn.ws.recv().now_or_never() {
                            if let Some(end) = self.on_frame(conn, frame).await {
                                return end;
                            }
                        }
                    }
                    if conn.last_heard.elapsed() > SIGNALING_IDLE_TIMEOUT {
                        tracing::info!(participant = %self.me, "no message from the client for {} s", SIGNALING_IDLE_TIMEOUT.as_secs());
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
            ClientMessage::Share { active } => {
                if self.shares.try_take(Instant::now()) {
                    self.link.share(active);
                } else {
                    conn.error(
                        ErrorCode::RateLimited,
                        "You started and stopped sharing too often; wait a moment.",
                    )
                    .await;
                }
            }
            ClientMessage::View { tiles } => self.set_view(tiles).await,
            ClientMessage::E2eeAnnounce { .. } | ClientMessage::E2eeKeys { .. } => {
                self.link.e2ee(message);
            }
            ClientMessage::React { .. }
            | ClientMessage::RaiseHand { .. }
            | ClientMessage::LowerHands { .. }
            | ClientMessage::ChatSend { .. }
            | ClientMessage::ChatClear => self.link.social(message),
            ClientMessage::KeyframeRequest { participant_id } => {
                // A key arrived after frames it could not open: a fresh keyframe of that
                // publisher's video (throttled by the engine like any other request).
                for track in [Track::Camera, Track::Screen] {
                    if let Some(sub) = self.subscriptions.get(&(participant_id.clone(), track)) {
                        sub.publication.request_keyframe();
                    }
                }
            }
            ClientMessage::SetLocked { .. }
            | ClientMessage::Admit { .. }
            | ClientMessage::Deny { .. }
            | ClientMessage::Remove { .. }
            | ClientMessage::Unban { .. }
            | ClientMessage::AskMute { .. }
            | ClientMessage::Mute { .. }
            | ClientMessage::SetCohost { .. }
            | ClientMessage::SetPanic { .. }
            | ClientMessage::RotateLink { .. }
            | ClientMessage::StopShare { .. }
            | ClientMessage::EndRoom => self.link.host(message),
            ClientMessage::IceCandidate(candidate) => self.add_candidate(candidate).await,
            ClientMessage::Offer { sdp } => return self.on_offer(conn, sdp).await,
            ClientMessage::Answer { sdp } => {
                let Some(leg) = self.leg.clone() else {
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
                    Ok(desc) => leg
                        .call(move |l, now| l.pc.set_remote_description(now, desc))
                        .await
                        .and_then(|r| r.map_err(|e| LegError::Rtc(e.to_string())))
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

    /// The videos the participant shows now (see `ClientMessage::View`): only those are
    /// forwarded to it, each at the simulcast layer that fits its tile.
    async fn set_view(&mut self, tiles: Vec<salon_protocol::Tile>) {
        let view: HashMap<(String, VideoSource), Want> = tiles
            .into_iter()
            .map(|t| {
                let want = Want {
                    large: t.size == TileSize::Large,
                    height: t.height,
                };
                ((t.participant_id, t.source), want)
            })
            .collect();
        let views: Vec<_> = self
            .subscriptions
            .iter()
            .filter_map(|((publisher, track), sub)| {
                let source = track.source()?;
                Some((
                    sub.publication.id,
                    sub.slot.sender,
                    view.get(&(publisher.clone(), source)).copied(),
                ))
            })
            .collect();
        self.view = Some(view);
        if let Some(leg) = &self.leg {
            let id = leg.id;
            leg.worker.post(move |w| w.set_shown(id, views));
        }
    }

    /// How the participant shows `publisher`'s video from `source` (`None`: hidden;
    /// everyone's, at the best layer, until its first view).
    fn shows(&self, publisher: &str, source: VideoSource) -> Option<Want> {
        match &self.view {
            None => Some(Want::BEST),
            Some(view) => view.get(&(publisher.to_owned(), source)).copied(),
        }
    }

    async fn on_offer(&mut self, conn: &mut Conn, sdp: String) -> Option<End> {
        let negotiated = match &self.leg {
            Some(leg) => leg
                .call(|l, _| {
                    l.pc.local_description()
                        .map_or(0, |d| media_sections(&d.sdp))
                })
                .await
                .unwrap_or(0),
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
        if self.leg.is_none() {
            match self.open_leg().await {
                Ok(leg) => self.leg = Some(leg),
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
                    let pending = std::mem::take(&mut self.pending);
                    self.subscribe_all(pending).await;
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
        None
    }

    /// Builds the peer connection and hands it to the worker that owns this room.
    async fn open_leg(&self) -> Result<LegHandle, String> {
        let engine = &self.media.engine;
        let built = peer::build(engine).map_err(|e| e.to_string())?;
        engine
            .worker_for(self.link.room_id())
            .open(NewLeg {
                participant: self.me.clone(),
                room: Arc::from(self.link.room_id()),
                ufrag: built.ufrag,
                password: built.password,
                pc: built.pc,
                feedback: built.feedback,
                events: self.leg_tx.clone(),
            })
            .await
            .map_err(|e| e.to_string())
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
        let Some(leg) = self.leg.clone() else {
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
        if let Ok(Err(e)) = leg.call(move |l, _| l.pc.add_remote_candidate(init)).await {
            tracing::debug!(participant = %self.me, error = %e, "ignored a remote candidate");
        }
    }

    async fn answer_offer(&mut self, sdp: String) -> Result<String, String> {
        let leg = self.leg.clone().ok_or("no peer connection")?;
        let sdp = self.filter_candidates(&sdp);
        // Which section carries the screen: known before its first packet can arrive.
        let screen = crate::negotiator::screen_mid(&sdp);
        let offer = RTCSessionDescription::offer(sdp).map_err(|e| e.to_string())?;
        leg.call(move |l, now| {
            l.set_screen_mid(screen);
            l.pc.set_remote_description(now, offer)?;
            let answer = l.pc.create_answer(None)?;
            l.pc.set_local_description(now, answer)?;
            Ok::<_, rtc::shared::error::Error>(l.pc.local_description().map(|d| d.sdp))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .map(|sdp| peer::ask_for_dtx(&sdp))
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
        let Some(leg) = self.leg.clone() else {
            return;
        };
        let made = leg
            .call(|l, now| {
                let offer = l.pc.create_offer(None)?;
                l.pc.set_local_description(now, offer)?;
                Ok::<_, rtc::shared::error::Error>(l.pc.local_description().map(|d| d.sdp))
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .and_then(|sdp| sdp.ok_or_else(|| "no local description".to_owned()));
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

    /// Starts forwarding each subscription that its leg has now negotiated, and asks its
    /// publisher for a keyframe so the new subscriber's picture starts at once.
    async fn activate_subscriptions(&mut self) {
        let Some(leg) = self.leg.clone() else {
            return;
        };
        let waiting: Vec<(RTCRtpTransceiverId, RTCRtpSenderId)> = self
            .subscriptions
            .values()
            .filter(|s| !s.ready)
            .map(|s| (s.slot.transceiver, s.slot.sender))
            .collect();
        if waiting.is_empty() {
            return;
        }
        // For each slot: the negotiated codecs and header extensions, if the last answer made
        // it send (a reused slot was negotiated before as inactive: wait for the answer that
        // makes it send again).
        type Negotiated = Option<(Vec<RTCRtpCodecParameters>, Vec<(String, u16)>)>;
        let Ok(negotiated) = leg
            .call(move |l, _| {
                waiting
                    .into_iter()
                    .map(|(tid, sid)| {
                        let sends =
                            l.pc.rtp_transceiver(tid)
                                .is_some_and(|t| t.current_direction().has_send());
                        if !sends {
                            return (sid, None);
                        }
                        let found: Negotiated = l.pc.rtp_sender(sid).map(|mut s| {
                            let rtp = &s.get_parameters().rtp_parameters;
                            (
                                rtp.codecs.clone(),
                                rtp.header_extensions
                                    .iter()
                                    .map(|h| (h.uri.clone(), h.id))
                                    .collect(),
                            )
                        });
                        (sid, found)
                    })
                    .collect::<Vec<_>>()
            })
            .await
        else {
            return;
        };
        for (sender, found) in negotiated {
            let Some((codecs, exts)) = found else {
                continue;
            };
            let Some(sub) = self
                .subscriptions
                .values_mut()
                .find(|s| s.slot.sender == sender && !s.ready)
            else {
                continue;
            };
            let Some(pt) = negotiated_payload_type(&sub.publication.codec, &codecs) else {
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
                "forwarding starts"
            );
            let rewrite = Rewrite::new(
                sub.slot.ssrc,
                pt,
                sub.publication.payload_type,
                &sub.publication.extensions,
                &exts,
            );
            sub.ready = true;
            let (pub_id, leg_id) = (sub.publication.id, leg.id);
            leg.worker.post(move |w| {
                w.set_rewrite(pub_id, leg_id, sender, rewrite);
                w.keyframe_now(pub_id);
            });
            let worker = leg.worker.clone();
            tokio::spawn(async move {
                // Again while the new leg's transport settles, unless a keyframe got through
                // (the downstream started).
                for delay in [1000, 2000] {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    worker.post(move |w| w.keyframe_if_waiting(pub_id, leg_id, sender));
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
                        !(p.publisher == publication.publisher && p.track == publication.track)
                    });
                    self.pending.push(publication);
                }
            }
            ToParticipant::Unsubscribe { publisher, track } => {
                self.pending
                    .retain(|p| !(p.publisher == publisher && p.track == track));
                if let Some(sub) = self.subscriptions.remove(&(publisher, track)) {
                    self.drop_subscription(sub).await;
                    self.negotiation.changed(Instant::now());
                }
                self.maybe_offer(conn).await;
            }
            ToParticipant::Evicted | ToParticipant::Ended { .. } | ToParticipant::Moved { .. } => {}
        }
    }

    async fn subscribe_logged(&mut self, publication: Arc<Publication>) {
        self.subscribe_all(vec![publication]).await;
    }

    /// Starts forwarding these publications to this participant: parked slots are reused, and
    /// the transceivers still needed are made in one trip to the room's worker. A newcomer to
    /// a full room subscribes to everyone's tracks at once, and on a busy worker each trip
    /// waits for its turn: one per track made a join take many seconds.
    async fn subscribe_all(&mut self, publications: Vec<Arc<Publication>>) {
        if publications.is_empty() {
            return;
        }
        let Some(leg) = self.leg.clone() else {
            tracing::warn!(participant = %self.me, "cannot subscribe: no peer connection");
            return;
        };
        let mut fresh = Vec::new();
        for publication in publications {
            let key = (publication.publisher.clone(), publication.track);
            if self
                .subscriptions
                .get(&key)
                .is_some_and(|s| s.publication.id == publication.id)
            {
                // Already carried (a resume that kept its media hears of everything again).
                continue;
            }
            if let Some(old) = self.subscriptions.remove(&key) {
                self.drop_subscription(old).await;
            }
            // The same track twice in one batch: the later one wins.
            fresh.retain(|p: &Arc<Publication>| {
                !(p.publisher == publication.publisher && p.track == publication.track)
            });
            match self.reuse_slot(&leg, &publication).await {
                Some(slot) => self.attach(&leg, publication, slot),
                None => fresh.push(publication),
            }
        }
        if fresh.is_empty() {
            return;
        }
        match self.new_slots(&leg, &fresh).await {
            Ok(slots) => {
                for (publication, slot) in fresh.into_iter().zip(slots) {
                    match slot {
                        Ok(slot) => self.attach(&leg, publication, slot),
                        Err(e) => {
                            tracing::warn!(participant = %self.me, publisher = %publication.publisher, error = %e, "cannot subscribe");
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(participant = %self.me, error = %e, "cannot subscribe"),
        }
    }

    /// Forwards `publication` on `slot` from now on (the client hears of it in the next offer).
    fn attach(&mut self, leg: &LegHandle, publication: Arc<Publication>, slot: Slot) {
        let key = (publication.publisher.clone(), publication.track);
        let (pub_id, leg_id, sender) = (publication.id, leg.id, slot.sender);
        let shown = self.shows(
            &publication.publisher,
            publication.track.source().unwrap_or_default(),
        );
        leg.worker
            .post(move |w| w.add_down(pub_id, leg_id, sender, shown));
        self.subscriptions.insert(
            key,
            Subscription {
                publication,
                slot,
                ready: false,
            },
        );
        self.negotiation.changed(Instant::now());
    }

    /// A parked slot of the publication's kind and codec, now carrying the publication: the
    /// same SSRC (the sender checks it, and its RTP streams stay bound), a new track id (so that
    /// receivers see a new track), the publisher as stream id (what clients read to know whose
    /// track it is).
    async fn reuse_slot(&mut self, leg: &LegHandle, publication: &Publication) -> Option<Slot> {
        let negotiation = &self.negotiation;
        let index = self.spare.iter().position(|slot| {
            slot.kind == publication.kind
                && negotiation.answered_after(slot.parked_at)
                && codecs_interchangeable(&slot.codec, &publication.codec)
        })?;
        let slot = self.spare.swap_remove(index);
        let carrier = track_for(publication, slot.ssrc);
        let stream = stream_of(publication);
        let (tid, sid) = (slot.transceiver, slot.sender);
        let reused = leg
            .call(move |l, _| {
                // The core hands out a transceiver's sender only while its direction sends.
                l.pc.rtp_transceiver(tid)
                    .ok_or("no transceiver")?
                    .set_direction(RTCRtpTransceiverDirection::Sendonly);
                let mut sender = l.pc.rtp_sender(sid).ok_or("no sender")?;
                sender
                    .replace_track(carrier)
                    .map_err(|_| "cannot replace the track")?;
                sender.set_streams(vec![stream]);
                // Someone else's media from the next packet on: continue our numbering.
                l.break_slot(sid);
                Ok::<(), &'static str>(())
            })
            .await;
        match reused {
            Ok(Ok(())) => {
                tracing::trace!(participant = %self.me, publisher = %publication.publisher, ssrc = slot.ssrc, "send transceiver reused");
                Some(slot)
            }
            Ok(Err(e)) => {
                // Dropped from the spares (inactive for good); a new slot is made instead.
                tracing::debug!(participant = %self.me, error = %e, "cannot reuse a send transceiver");
                let _ = leg
                    .call(move |l, _| {
                        if let Some(mut t) = l.pc.rtp_transceiver(tid) {
                            t.set_direction(RTCRtpTransceiverDirection::Inactive);
                        }
                        l.remove_slot(sid);
                    })
                    .await;
                None
            }
            Err(_) => None,
        }
    }

    /// A send transceiver of its own for each publication, all made in one worker job: the
    /// outer error if the worker is gone, one result per publication otherwise.
    async fn new_slots(
        &mut self,
        leg: &LegHandle,
        publications: &[Arc<Publication>],
    ) -> Result<Vec<Result<Slot, String>>, String> {
        let wanted: Vec<_> = publications
            .iter()
            .map(|publication| {
                let ssrc = rand::random::<u32>();
                (
                    track_for(publication, ssrc),
                    stream_of(publication),
                    publication.codec.clock_rate,
                    ssrc,
                )
            })
            .collect();
        let ssrcs: Vec<u32> = wanted.iter().map(|w| w.3).collect();
        // A transceiver of its own: `add_track` would reuse the client's publishing transceiver
        // of the same kind, which the client sends on and never receives on.
        let made = leg
            .call(move |l, _| {
                wanted
                    .into_iter()
                    .map(|(track, stream, clock_rate, ssrc)| {
                        let tid = l.pc.add_transceiver_from_track(
                            track,
                            Some(RTCRtpTransceiverInit {
                                direction: RTCRtpTransceiverDirection::Sendonly,
                                streams: vec![stream],
                                send_encodings: vec![],
                            }),
                        )?;
                        l.add_slot(RTCRtpSenderId::from(tid), ssrc, clock_rate);
                        Ok::<_, rtc::shared::error::Error>(tid)
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|e| e.to_string())?;
        Ok(made
            .into_iter()
            .zip(publications.iter().zip(ssrcs))
            .map(|(tid, (publication, ssrc))| {
                let tid = tid.map_err(|e| e.to_string())?;
                Ok(Slot {
                    transceiver: tid,
                    sender: RTCRtpSenderId::from(tid),
                    ssrc,
                    kind: publication.kind,
                    codec: publication.codec.clone(),
                    parked_at: 0,
                })
            })
            .collect())
    }

    /// Stops forwarding to this subscription and parks its slot (inactive) for reuse.
    async fn drop_subscription(&mut self, sub: Subscription) {
        let Some(leg) = self.leg.clone() else {
            return;
        };
        let mut slot = sub.slot;
        let (pub_id, leg_id, sid, tid) =
            (sub.publication.id, leg.id, slot.sender, slot.transceiver);
        let parked = leg
            .call(move |l, _| match l.pc.rtp_transceiver(tid) {
                Some(mut t) => {
                    t.set_direction(RTCRtpTransceiverDirection::Inactive);
                    true
                }
                None => false,
            })
            .await;
        leg.worker.post(move |w| w.remove_down(pub_id, leg_id, sid));
        if matches!(parked, Ok(true)) {
            slot.parked_at = self.negotiation.offers_made();
            self.spare.push(slot);
        }
    }

    /// After a resume that kept the media: what the old socket was told last (it may have
    /// missed it while the connection was down).
    async fn repeat_media_news(&mut self, conn: &mut Conn) {
        if let Some(speakers) = &self.speakers {
            conn.send(&ServerMessage::Speakers {
                speakers: speakers.to_vec(),
            })
            .await;
        }
        if let Some(watched) = self.video_watched {
            conn.send(&ServerMessage::VideoWatched { watched }).await;
        }
        if let Some(layers) = &self.video_layers {
            conn.send(&ServerMessage::VideoLayers {
                layers: layers.to_vec(),
            })
            .await;
        }
    }

    /// The media's news while no socket listens, kept for the connection that resumes: the
    /// latest speakers, watched state and layers (sent after its `joined`), and tracks that
    /// started meanwhile (the room hears of them once the new connection holds the seat).
    fn keep_news(&mut self, event: LegEvent, published: &mut Vec<Arc<Publication>>) {
        match event {
            LegEvent::Speakers(speakers) => self.speakers = Some(speakers),
            LegEvent::VideoWatched(watched) => self.video_watched = Some(watched),
            LegEvent::VideoLayers(layers) => self.video_layers = Some(layers),
            LegEvent::Published(publication) => published.push(publication),
            LegEvent::Connected => self.silent = false,
            LegEvent::Disconnected => self.silent = true,
            LegEvent::Failed => {}
        }
    }

    /// One frame from the client's socket.
    async fn on_frame(
        &mut self,
        conn: &mut Conn,
        frame: Option<Result<axum::extract::ws::Message, axum::Error>>,
    ) -> Option<End> {
        match conn.interpret(frame).await {
            Incoming::Closed => Some(End::SocketClosed),
            Incoming::Nothing => None,
            Incoming::Message(message) => self.on_client(conn, message).await,
        }
    }

    async fn on_leg(&mut self, conn: &mut Conn, event: LegEvent) -> Option<End> {
        match event {
            LegEvent::Connected => {
                tracing::debug!(participant = %self.me, "media connected");
                self.silent = false;
                if !self.connected {
                    self.connected = true;
                    self.link.media_connected();
                    self.media.metrics.media_connected(self.admitted.elapsed());
                }
            }
            LegEvent::Failed => return Some(End::IceFailed),
            // ICE comes back by itself, restarts (the client's offer), or fails (above).
            LegEvent::Disconnected => {
                tracing::debug!(participant = %self.me, "media silent for a few seconds");
                self.silent = true;
            }
            LegEvent::Published(publication) => {
                if !*self.stopping.borrow() {
                    self.link.publish(publication);
                }
            }
            LegEvent::Speakers(speakers) => {
                self.speakers = Some(speakers.clone());
                conn.send(&ServerMessage::Speakers {
                    speakers: speakers.to_vec(),
                })
                .await;
            }
            LegEvent::VideoWatched(watched) => {
                tracing::debug!(participant = %self.me, watched, "video audience changed");
                self.video_watched = Some(watched);
                conn.send(&ServerMessage::VideoWatched { watched }).await;
            }
            LegEvent::VideoLayers(layers) => {
                tracing::debug!(participant = %self.me, ?layers, "video layers needed changed");
                conn.send(&ServerMessage::VideoLayers {
                    layers: layers.to_vec(),
                })
                .await;
                self.video_layers = Some(layers);
            }
        }
        None
    }

    async fn shutdown(&mut self) {
        self.stopping.send_replace(true);
        self.link.leave();
        self.subscriptions.clear();
        self.spare.clear();
        if let Some(leg) = self.leg.take() {
            // Removes its downstreams and publications on the worker too.
            leg.close();
        }
    }
}

/// The media stream id `publication` is forwarded under: its publisher's id, with
/// `|screen` for a screen share (what clients read to know whose track it is, and which).
fn stream_of(publication: &Publication) -> String {
    let source = match publication.track {
        Track::Screen => VideoSource::Screen,
        Track::Audio | Track::Camera => VideoSource::Camera,
    };
    video_stream_id(&publication.publisher, source)
}

/// A local track carrying `publication` on `ssrc`: a fresh track id (so receivers see a new
/// track), its stream id ([`stream_of`]: what clients read to know whose track it is).
fn track_for(publication: &Publication, ssrc: u32) -> MediaStreamTrack {
    MediaStreamTrack::new(
        stream_of(publication),
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
    )
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
