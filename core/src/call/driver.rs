//! The call's task: waits in the lobby, serves the socket, the peer connection and the app's
//! commands, and reconnects with backoff when the connection is lost — keeping the peer
//! connection through a lost socket while it is still connected, for the server to take over
//! (`keep_media` / `media_kept`). A fatal refusal from the server (removed, knock denied, room
//! ended, room gone) ends the call without reconnecting.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rtc::peer_connection::sdp::RTCSessionDescription;
use salon_protocol::{ClientMessage, ErrorCode, MediaState, Resume, ServerMessage, VideoSource};
use tokio::sync::{mpsc, oneshot};
use webrtc::peer_connection::RTCPeerConnectionState;

use super::backoff::Backoff;
use super::connect::{self, Session, Stage};
use super::ice::{IceRestart, Next, Reply};
use super::media_in::{self, MediaEvent, ReceiveContext};
use super::peer::{self, ClientPeer, PeerEvent};
use super::route::{self, Route};
use super::signal::{JoinReply, Signal};
use super::simulcast;
use super::state::{ConnectionStatus, EndReason};
use super::view::{ViewPoll, ViewSender};
use super::{CallConfig, CallEvent, Cmd, RelinkHook, Shared, TrackHandles};
use crate::error::CoreError;
use crate::store::InviteLink;

/// How often the client pings, in the room and in the lobby (the server drops a socket that is
/// silent for 45 s).
const PING_EVERY: Duration = Duration::from_secs(15);
/// How long a failed media connection waits for the server's reason on the socket.
const FINAL_WORD_GRACE: Duration = Duration::from_secs(1);
/// After a network change, how long the socket may stay silent (we ping at once): a TCP
/// connection from an address that went away never says it is dead, so the call resumes on a
/// new one instead of waiting for it.
const HEARD_AFTER_CHANGE: Duration = Duration::from_secs(2);

enum Outcome {
    Left,
    Lost(String),
    /// Only the signaling socket went away: the peer connection may well carry on.
    Dropped(String),
    /// The socket went silent after a network change (it left with the old network, unnoticed
    /// by TCP): like `Dropped`, and the resume goes out at once — the server is fine, and
    /// gives up on our media about 9 s after its last packet.
    Stale(String),
    Ended(EndReason),
    /// The room's node gave it up and sent us on (`moved`, cluster mode): reconnect at once.
    Moved,
}

pub(super) struct Driver {
    /// Where to reconnect: follows a rotated link.
    pub link: InviteLink,
    /// The room's node in cluster mode (where to reconnect before trying the link's server).
    pub route: Route,
    pub config: CallConfig,
    pub shared: Arc<Shared>,
    pub tracks: TrackHandles,
    pub ctx: ReceiveContext,
    /// Proof of who we were in the room, for coming back after a lost connection.
    pub resume: Option<Resume>,
    pub on_relink: Option<RelinkHook>,
    /// The peer connection that outlived a lost socket while we reconnect (its tracks go on
    /// publishing, its receivers receiving): the next `join` asks the server to keep it.
    pub kept: Option<ClientPeer>,
    /// The app's views of the others, and what the server was told.
    pub view: ViewSender,
    /// When to send a `view` held back by the coalescing.
    pub view_at: Option<Instant>,
    /// ICE restarts on the call's peer connection (a lasting disconnection, a new network).
    pub ice: IceRestart,
    /// Since a network change: the server must be heard from by then.
    pub hear_by: Option<Instant>,
}

/// The end of the call a fatal server error means, or `None` when reconnecting may help.
fn final_reason(code: ErrorCode) -> Option<EndReason> {
    match code {
        ErrorCode::RoomNotFound => Some(EndReason::RoomNotFound),
        ErrorCode::RoomFull => Some(EndReason::RoomFull),
        ErrorCode::UnsupportedVersion => Some(EndReason::Incompatible),
        ErrorCode::Removed => Some(EndReason::Removed),
        ErrorCode::KnockDenied => Some(EndReason::KnockDenied),
        ErrorCode::RoomEnded => Some(EndReason::RoomEnded),
        ErrorCode::E2eeRequired => Some(EndReason::Error(super::e2ee::missing_key().to_owned())),
        _ => None,
    }
}

/// The same for a failed (re)connection.
fn final_error(e: &CoreError) -> Option<EndReason> {
    match e {
        CoreError::RoomNotFound => Some(EndReason::RoomNotFound),
        CoreError::RoomFull => Some(EndReason::RoomFull),
        CoreError::Incompatible { .. } => Some(EndReason::Incompatible),
        CoreError::Removed => Some(EndReason::Removed),
        CoreError::KnockDenied => Some(EndReason::KnockDenied),
        CoreError::RoomEnded => Some(EndReason::RoomEnded),
        CoreError::E2ee { reason } => Some(EndReason::Error(reason.clone())),
        _ => None,
    }
}

fn lost_or_final(e: CoreError) -> Outcome {
    match final_error(&e) {
        Some(reason) => Outcome::Ended(reason),
        None => Outcome::Lost(e.to_string()),
    }
}

/// Applies a server message to the state. When it changed my own switches (a host's mute, the
/// server correcting a refused unmute), the devices follow; so do the video encoders when
/// somebody starts or stops watching my video or some of its layers (a new connection counts
/// as watched, every layer).
pub(super) fn follow(shared: &Shared, handles: &TrackHandles, message: &ServerMessage) {
    // Chat is opened first (sealed under the room secret in an encrypted room).
    let chat = match message {
        ServerMessage::Chat { message } => Some((std::slice::from_ref(message), false)),
        ServerMessage::ChatHistory { messages } => Some((messages.as_slice(), true)),
        _ => None,
    };
    if let Some((chat, history)) = chat {
        let entries = open_chat(shared, chat);
        shared.update(|s| s.add_chat(entries, history));
        return;
    }
    let mut mine = None;
    let mut watched = true;
    let mut layers = None;
    let mut roles = std::collections::HashMap::new();
    shared.update(|s| {
        let about_me = match message {
            ServerMessage::Muted { .. } => true,
            ServerMessage::ParticipantUpdated { participant } => {
                s.me.as_deref() == Some(participant.id.as_str())
            }
            _ => false,
        };
        let changed = s.apply(message);
        if about_me {
            mine = Some(s.my_media());
        }
        watched = s.video_watched;
        layers = s.video_layers.clone();
        roles = s
            .participants
            .iter()
            .map(|p| (p.id.clone(), p.role))
            .collect();
        changed
    });
    // The key exchange follows the room too (it queues what to send; the driver sends it).
    let e2ee = {
        let mut kx = shared.kx();
        kx.follow(message, &roles);
        kx.state()
    };
    shared.update(|s| s.set_e2ee(e2ee));
    if let Some(media) = mine {
        handles.audio_on.store(media.audio, Ordering::Relaxed);
        handles.video_on.store(media.video, Ordering::Relaxed);
    }
    handles.video_watched.store(watched, Ordering::Relaxed);
    // A layer back on starts with a keyframe: whoever watches it has no picture to start from.
    if handles
        .layers
        .set(simulcast::wanted(watched, layers.as_deref()))
    {
        tracing::debug!(watched, ?layers, "video layers to send changed");
    }
}

impl Driver {
    pub async fn run(
        mut self,
        first: Stage,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut media_events: mpsc::UnboundedReceiver<MediaEvent>,
    ) {
        let mut stage = first;
        let mut backoff = Backoff::default();
        let mut leave_ack: Option<oneshot::Sender<()>> = None;
        loop {
            let outcome = match stage {
                Stage::Lobby(mut signal) => {
                    match self.lobby(&mut signal, &mut cmds, &mut leave_ack).await {
                        Ok(reply) => {
                            self.resume = Some(reply.resume());
                            match connect::establish(
                                signal,
                                reply,
                                &self.config,
                                &self.shared,
                                &self.tracks,
                            )
                            .await
                            {
                                Ok(session) => {
                                    stage = Stage::Live(session);
                                    backoff.reset();
                                    continue;
                                }
                                Err(e) => lost_or_final(e),
                            }
                        }
                        Err(outcome) => {
                            signal.close().await;
                            outcome
                        }
                    }
                }
                Stage::Live(mut session) => {
                    let outcome = self
                        .serve(&mut session, &mut cmds, &mut media_events, &mut leave_ack)
                        .await;
                    let keep = matches!(outcome, Outcome::Dropped(_) | Outcome::Stale(_)) && {
                        // What the peer connection said last, before deciding on it.
                        while let Ok(event) = session.peer.events.try_recv() {
                            self.on_peer_event(&mut session.peer, event);
                        }
                        session.peer.was_connected && !session.peer.failed
                    };
                    if keep && (self.ice.outstanding() || self.hear_by.is_some()) {
                        // The resumed connection restarts ICE first: the network changed.
                        session.peer.restart_due = true;
                    }
                    self.hear_by = None;
                    session.signal.close().await;
                    if keep {
                        self.kept = Some(session.peer);
                    } else {
                        self.tracks.tracks.store(None);
                        let _ = session.peer.pc.close().await;
                    }
                    outcome
                }
            };
            let reason = match outcome {
                Outcome::Left => EndReason::Left,
                Outcome::Ended(reason) => reason,
                Outcome::Lost(_) | Outcome::Dropped(_) | Outcome::Stale(_) | Outcome::Moved => {
                    let at_once = matches!(outcome, Outcome::Moved | Outcome::Stale(_));
                    if let Outcome::Lost(why) | Outcome::Dropped(why) | Outcome::Stale(why) =
                        &outcome
                    {
                        tracing::info!(reason = %why, "connection lost; reconnecting");
                    } else {
                        tracing::info!("the room moved to another node; reconnecting there");
                    }
                    match self.reconnect(&mut backoff, &mut cmds, at_once).await {
                        Ok(next) => {
                            if matches!(next, Stage::Live(_)) {
                                backoff.reset();
                            }
                            stage = next;
                            continue;
                        }
                        Err(reason) => reason,
                    }
                }
            };
            connect::drop_peer(self.kept.take(), &self.tracks).await;
            self.shared
                .update(|s| s.set_connection(ConnectionStatus::Ended { reason }));
            if let Some(ack) = leave_ack.take() {
                let _ = ack.send(());
            }
            return;
        }
    }

    /// Reconnects until in (or in the lobby) again; the first attempt without waiting when
    /// `at_once` (the room moved: its new node is waiting for us; or our socket went with the
    /// old network while the server is fine).
    async fn reconnect(
        &mut self,
        backoff: &mut Backoff,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
        at_once: bool,
    ) -> Result<Stage, EndReason> {
        let mut at_once = at_once;
        loop {
            let attempt = backoff.attempts() + 1;
            self.shared
                .update(|s| s.set_connection(ConnectionStatus::Reconnecting { attempt }));
            let delay = if std::mem::take(&mut at_once) {
                Duration::ZERO
            } else {
                backoff.next_delay(rand::random::<f64>())
            };
            // Waiting is interruptible: leaving while reconnecting ends the call at once.
            let sleep = tokio::time::sleep(delay);
            tokio::pin!(sleep);
            loop {
                tokio::select! {
                    _ = &mut sleep => break,
                    cmd = cmds.recv() => match cmd {
                        None => return Err(EndReason::Left),
                        Some(Cmd::Leave(ack)) => {
                            let _ = ack.send(());
                            return Err(EndReason::Left);
                        }
                        Some(other) => self.offline(other),
                    },
                    Some(event) = kept_event(&mut self.kept) => self.on_kept_event(event).await,
                }
            }
            self.check_kept().await;
            let media = self.shared.state().my_media();
            let attempt_result = match connect::open(
                &self.link,
                &mut self.route,
                &self.config,
                media,
                self.resume.clone(),
                self.kept.is_some(),
                &self.shared,
            )
            .await
            {
                Ok((signal, admission)) => {
                    // ICE may have failed while we waited for `joined`.
                    self.check_kept().await;
                    connect::enter(
                        signal,
                        admission,
                        &self.config,
                        &self.shared,
                        &self.tracks,
                        &mut self.resume,
                        self.kept.take(),
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match attempt_result {
                Ok(stage) => return Ok(stage),
                Err(e) => match final_error(&e) {
                    Some(reason) => return Err(reason),
                    None => tracing::info!(error = %e, attempt, "reconnect failed"),
                },
            }
        }
    }

    /// Follows the peer connection: its state, and tracks to receive.
    fn on_peer_event(&self, peer: &mut ClientPeer, event: PeerEvent) {
        match event {
            PeerEvent::State(state) => {
                peer.connected = state == RTCPeerConnectionState::Connected;
                peer.was_connected |= peer.connected;
                peer.failed |= matches!(
                    state,
                    RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed
                );
            }
            PeerEvent::Track(track) => media_in::receive(track, self.ctx.clone()),
        }
    }

    /// An event of the peer connection kept while reconnecting: if it failed, the call starts
    /// over on the next join.
    async fn on_kept_event(&mut self, event: PeerEvent) {
        let failed = matches!(
            event,
            PeerEvent::State(RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed)
        );
        if failed {
            tracing::info!("the media connection failed while reconnecting; starting over");
            connect::drop_peer(self.kept.take(), &self.tracks).await;
        } else if let Some(mut peer) = self.kept.take() {
            self.on_peer_event(&mut peer, event);
            self.kept = Some(peer);
        }
    }

    /// Takes in what the kept peer connection said meanwhile.
    async fn check_kept(&mut self) {
        loop {
            let Some(event) = self.kept.as_mut().and_then(|p| p.events.try_recv().ok()) else {
                return;
            };
            self.on_kept_event(event).await;
        }
    }

    /// A command while there is no room connection (lobby, reconnecting): switches go into
    /// the state, so the next `join` carries them; host actions are dropped (the call's methods
    /// refuse them unless connected, so only a race gets here).
    fn offline(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::SetMicrophone(on) => {
                self.switch(|m| m.audio = on);
            }
            Cmd::SetCamera(on) => {
                self.switch(|m| m.video = on);
            }
            Cmd::Host(action) => {
                tracing::info!(?action, "not in the room right now; host action dropped");
            }
            Cmd::SetView(participant, view) => {
                // Kept: the whole view goes out once back in the room.
                self.view.set(&participant, view);
            }
            // Not in the room: the next connection gathers on the network there is then (a
            // kept peer connection that cannot reach the server fails, and the call starts
            // over).
            Cmd::NetworkChanged => {}
            Cmd::Leave(ack) => {
                let _ = ack.send(());
            }
        }
    }

    /// Changes my switches in the state and the devices; returns the new media state.
    fn switch(&self, f: impl FnOnce(&mut MediaState)) -> MediaState {
        let mut media = MediaState::default();
        self.shared.update(|s| {
            media = s.my_media();
            f(&mut media);
            s.set_my_media(media)
        });
        self.tracks.audio_on.store(media.audio, Ordering::Relaxed);
        self.tracks.video_on.store(media.video, Ordering::Relaxed);
        media
    }

    /// Waits in the lobby until a host lets us in (`joined`), keeping the socket alive. Leaving
    /// works; a denial ends the call.
    async fn lobby(
        &mut self,
        signal: &mut Signal,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
        leave_ack: &mut Option<oneshot::Sender<()>>,
    ) -> Result<JoinReply, Outcome> {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.reset();
        loop {
            tokio::select! {
                message = signal.recv() => match message {
                    Ok(Some(ServerMessage::Error { code, message, fatal })) => {
                        if fatal {
                            return Err(final_reason(code)
                                .map_or(Outcome::Lost(message), Outcome::Ended));
                        }
                        self.shared.refused(code, message);
                    }
                    Ok(Some(joined @ ServerMessage::Joined { .. })) => {
                        return JoinReply::from_message(joined)
                            .ok_or_else(|| Outcome::Lost("unexpected reply".into()));
                    }
                    Ok(Some(ServerMessage::Moved { url })) => return Err(self.moved(&url)),
                    Ok(Some(other)) => follow(&self.shared, &self.tracks, &other),
                    Ok(None) => return Err(Outcome::Lost("the server closed the connection".into())),
                    Err(e) => return Err(Outcome::Lost(e.to_string())),
                },
                cmd = cmds.recv() => match cmd {
                    None => {
                        let _ = signal.send(&ClientMessage::Leave).await;
                        return Err(Outcome::Left);
                    }
                    Some(Cmd::Leave(ack)) => {
                        let _ = signal.send(&ClientMessage::Leave).await;
                        *leave_ack = Some(ack);
                        return Err(Outcome::Left);
                    }
                    Some(other) => self.offline(other),
                },
                _ = ping.tick() => {
                    if signal.send(&ClientMessage::Ping).await.is_err() {
                        return Err(Outcome::Lost("the server connection dropped".into()));
                    }
                }
            }
        }
    }

    async fn serve(
        &mut self,
        session: &mut Session,
        cmds: &mut mpsc::UnboundedReceiver<Cmd>,
        media_events: &mut mpsc::UnboundedReceiver<MediaEvent>,
        leave_ack: &mut Option<oneshot::Sender<()>>,
    ) -> Outcome {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.reset();
        // A new connection (or a resumed one: the server may have lost it) gets the whole view.
        self.view.reconnected();
        self.ice = IceRestart::default();
        if self.send_view(session).await.is_err() || self.send_keys(session).await.is_err() {
            return Outcome::Dropped("the server connection dropped".into());
        }
        if std::mem::take(&mut session.peer.restart_due) {
            // Resumed with our media kept after a network change: the restart offer that went
            // out on the old socket (if any) was never answered.
            let _ = peer::roll_back(&session.peer).await;
            if self.ice.want() == Next::Restart && self.restart_ice(session).await.is_err() {
                return Outcome::Dropped("the server connection dropped".into());
            }
        }
        loop {
            let view_at = self.view_at.map(tokio::time::Instant::from_std);
            let keys_at = self
                .shared
                .kx()
                .deadline()
                .map(tokio::time::Instant::from_std);
            let ice_at = self.ice.due_at().map(tokio::time::Instant::from_std);
            let hear_by = self.hear_by.map(tokio::time::Instant::from_std);
            let tcp_at = session
                .peer
                .tcp_later
                .as_ref()
                .map(|(at, _)| tokio::time::Instant::from_std(*at));
            tokio::select! {
                message = session.signal.recv() => match message {
                    Ok(Some(message)) => {
                        self.hear_by = None;
                        if let Some(outcome) = self.on_server(session, message).await {
                            return outcome;
                        }
                        if self.send_keys(session).await.is_err() {
                            return Outcome::Dropped("the server connection dropped".into());
                        }
                        // Someone came or went: the view may have changed.
                        if self.send_view(session).await.is_err() {
                            return Outcome::Dropped("the server connection dropped".into());
                        }
                    }
                    Ok(None) => return Outcome::Dropped("the server closed the connection".into()),
                    Err(e) => return Outcome::Dropped(e.to_string()),
                },
                Some(event) = session.peer.events.recv() => match event {
                    PeerEvent::State(RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed) => {
                        return self.media_lost(session).await;
                    }
                    other => {
                        if let PeerEvent::State(state) = &other {
                            match state {
                                RTCPeerConnectionState::Connected => self.ice.connected(true, Instant::now()),
                                RTCPeerConnectionState::Disconnected => {
                                    tracing::info!("media disconnected");
                                    self.ice.connected(false, Instant::now());
                                }
                                _ => {}
                            }
                        }
                        self.on_peer_event(&mut session.peer, other);
                    }
                },
                Some(event) = media_events.recv() => match event {
                    MediaEvent::Receiving { participant, kind, on } => {
                        self.shared.update(|s| s.set_receiving(&participant, kind, on));
                    }
                },
                cmd = cmds.recv() => {
                    let message = match cmd {
                        None => {
                            let _ = session.signal.send(&ClientMessage::Leave).await;
                            return Outcome::Left;
                        }
                        Some(Cmd::Leave(ack)) => {
                            let _ = session.signal.send(&ClientMessage::Leave).await;
                            *leave_ack = Some(ack);
                            return Outcome::Left;
                        }
                        Some(Cmd::SetMicrophone(on)) => ClientMessage::Media(self.switch(|m| m.audio = on)),
                        Some(Cmd::SetCamera(on)) => ClientMessage::Media(self.switch(|m| m.video = on)),
                        Some(Cmd::Host(action)) => {
                            match action {
                                ClientMessage::RotateLink { e2ee: true } => {
                                    self.shared.kx().turning_on();
                                }
                                ClientMessage::RotateLink { .. } => self.shared.kx().rotating(),
                                _ => {}
                            }
                            action
                        }
                        Some(Cmd::SetView(participant, view)) => {
                            self.view.set(&participant, view);
                            if self.send_view(session).await.is_err() {
                                return Outcome::Dropped("the server connection dropped".into());
                            }
                            continue;
                        }
                        Some(Cmd::NetworkChanged) => {
                            tracing::info!("the device's network changed");
                            if self.ice.want() == Next::Restart && self.restart_ice(session).await.is_err() {
                                return Outcome::Dropped("the server connection dropped".into());
                            }
                            // Is the socket still there? The server answers a ping at once.
                            self.hear_by = Some(Instant::now() + HEARD_AFTER_CHANGE);
                            ClientMessage::Ping
                        }
                    };
                    if session.signal.send(&message).await.is_err() {
                        return Outcome::Dropped("the server connection dropped".into());
                    }
                },
                _ = ping.tick() => {
                    if session.signal.send(&ClientMessage::Ping).await.is_err() {
                        return Outcome::Dropped("the server connection dropped".into());
                    }
                }
                _ = sleep_until(hear_by) => {
                    // The socket went with the old network: resume on a new one (keeping the
                    // peer connection, whose ICE restart the resumed connection sends).
                    return Outcome::Stale("nothing from the server since the network changed".into());
                }
                _ = sleep_until(ice_at) => {
                    tracing::info!("media still disconnected: restarting ICE");
                    if self.ice.due() == Next::Restart && self.restart_ice(session).await.is_err() {
                        return Outcome::Dropped("the server connection dropped".into());
                    }
                    // A path that went away may have taken the socket with it, unnoticed.
                    self.hear_by = Some(Instant::now() + HEARD_AFTER_CHANGE);
                    if session.signal.send(&ClientMessage::Ping).await.is_err() {
                        return Outcome::Dropped("the server connection dropped".into());
                    }
                }
                _ = sleep_until(tcp_at) => {
                    if session.peer.connected {
                        session.peer.tcp_later = None;
                    } else {
                        tracing::info!("no media over UDP yet: dialling the server's ICE-TCP port");
                        peer::dial_tcp(&mut session.peer).await;
                    }
                }
                _ = sleep_until(view_at) => {
                    if self.send_view(session).await.is_err() {
                        return Outcome::Dropped("the server connection dropped".into());
                    }
                }
                _ = sleep_until(keys_at) => {
                    let e2ee = {
                        let mut kx = self.shared.kx();
                        kx.tick(Instant::now());
                        kx.state()
                    };
                    self.shared.update(|s| s.set_e2ee(e2ee));
                    if self.send_keys(session).await.is_err() {
                        return Outcome::Dropped("the server connection dropped".into());
                    }
                }
            }
        }
    }

    /// Sends our offer that restarts ICE. An error only when the socket is gone; a stack that
    /// cannot make the offer is logged (the call goes on, and reconnects if the media fails).
    async fn restart_ice(&mut self, session: &mut Session) -> Result<(), CoreError> {
        let sdp = match peer::restart_offer(&mut session.peer).await {
            Ok(sdp) => sdp,
            Err(e) => {
                tracing::warn!(error = %e, "cannot restart ICE");
                self.ice.not_sent();
                // Our offer may be half made: back to the last agreed state.
                let _ = peer::roll_back(&session.peer).await;
                return Ok(());
            }
        };
        session.signal.send(&ClientMessage::Offer { sdp }).await?;
        self.ice.sent();
        self.shared.ice_restarts.fetch_add(1, Ordering::Relaxed);
        tracing::info!("ICE restart offered");
        Ok(())
    }

    /// The media connection failed or was closed. When the server ended the call (a removal,
    /// the room ended), it closes the media connection as it sends the reason, and the two race:
    /// the socket gets a moment to deliver a final word before this counts as a lost connection,
    /// so that a removed guest is told so instead of reconnecting to be refused.
    async fn media_lost(&mut self, session: &mut Session) -> Outcome {
        let lost = || Outcome::Lost("the media connection failed".into());
        let deadline = tokio::time::Instant::now() + FINAL_WORD_GRACE;
        loop {
            match tokio::time::timeout_at(deadline, session.signal.recv()).await {
                Ok(Ok(Some(message))) => {
                    if let Some(outcome) = self.on_server(session, message).await {
                        return match outcome {
                            Outcome::Ended(_) | Outcome::Moved => outcome,
                            _ => lost(),
                        };
                    }
                }
                Ok(Ok(None) | Err(_)) | Err(_) => return lost(),
            }
        }
    }

    /// Sends what the key exchange queued, and follows a new room secret (a rotation): the link
    /// to reconnect through and to keep in "my rooms" carries it.
    async fn send_keys(&mut self, session: &mut Session) -> Result<(), CoreError> {
        let (outbox, secret) = {
            let mut kx = self.shared.kx();
            (kx.take_outbox(), kx.take_new_secret())
        };
        if let Some(secret) = secret {
            self.link.secret = Some(secret.clone());
            self.shared.update(|s| s.set_link_secret(&secret));
            if let Some(hook) = &self.on_relink {
                hook(&self.link.room_id, &self.link.to_url());
            }
        }
        for message in outbox {
            tracing::debug!(
                kind = match &message {
                    ClientMessage::E2eeAnnounce { .. } => "announce",
                    ClientMessage::E2eeKeys { boxes } if boxes.len() == 1 => "one box",
                    ClientMessage::E2eeKeys { .. } => "boxes",
                    _ => "other",
                },
                "key exchange"
            );
            session.signal.send(&message).await?;
        }
        Ok(())
    }

    /// Sends the view if it changed and the last one is old enough; otherwise remembers when
    /// to try again.
    async fn send_view(&mut self, session: &mut Session) -> Result<(), CoreError> {
        // Everyone's camera, and the share of whoever presents (`<id>|screen`).
        let present: Vec<String> = self
            .shared
            .state()
            .participants
            .iter()
            .flat_map(|p| {
                let screen = p
                    .screen
                    .then(|| salon_protocol::video_stream_id(&p.id, VideoSource::Screen));
                std::iter::once(p.id.clone()).chain(screen)
            })
            .collect();
        self.view_at = None;
        match self
            .view
            .poll(Instant::now(), present.iter().map(String::as_str))
        {
            ViewPoll::Idle => Ok(()),
            ViewPoll::At(at) => {
                self.view_at = Some(at);
                Ok(())
            }
            ViewPoll::Send(tiles) => {
                tracing::debug!(tiles = tiles.len(), "view");
                session.signal.send(&ClientMessage::View { tiles }).await
            }
        }
    }

    /// The room's node sent us on (it gave the room up): remember the new node, or, when the
    /// URL is not acceptable, go back to the link's server, which knows the room's owner.
    fn moved(&mut self, url: &str) -> Outcome {
        let entry = self.link.ws_url();
        let from = self.route.url(&entry, &self.link.room_id);
        match route::check_moved(url, &from) {
            Ok(base) => {
                self.route.node = Some(base);
                Outcome::Moved
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a moved to an invalid address");
                self.route.node = None;
                Outcome::Lost(e.into_core(url).to_string())
            }
        }
    }

    async fn on_server(
        &mut self,
        session: &mut Session,
        message: ServerMessage,
    ) -> Option<Outcome> {
        match message {
            ServerMessage::Offer { sdp } => {
                self.shared.server_offers.fetch_add(1, Ordering::Relaxed);
                if self.ice.outstanding() {
                    // Our restart offer crossed the server's: the server refuses ours, we answer
                    // its own and restart again after.
                    tracing::info!("our ICE restart crossed a server offer; answering it first");
                    self.ice.crossed();
                    if let Err(e) = peer::roll_back(&session.peer).await {
                        return Some(Outcome::Lost(format!("renegotiation failed: {e}")));
                    }
                }
                if let Err(e) = answer(session, sdp).await {
                    return Some(Outcome::Lost(format!("renegotiation failed: {e}")));
                }
            }
            ServerMessage::Answer { sdp } => match self.ice.answer() {
                Reply::Ours(next) => {
                    // (A restart drops the TCP streams with the old sockets: a TCP fallback is
                    // dialled again from this answer if UDP does not come back.)
                    if let Err(e) = peer::apply_answer(&mut session.peer, &sdp).await {
                        return Some(Outcome::Lost(format!("ICE restart failed: {e}")));
                    }
                    tracing::info!("ICE restart answered");
                    if next == Next::Restart && self.restart_ice(session).await.is_err() {
                        return Some(Outcome::Dropped("the server connection dropped".into()));
                    }
                }
                Reply::NotOurs(_) => tracing::debug!("an answer to no offer of ours; ignored"),
            },
            ServerMessage::Error {
                code: ErrorCode::NegotiationFailed,
                message,
                fatal: false,
            } => match self.ice.refused() {
                Reply::Ours(_) => {
                    tracing::warn!(%message, "the server refused our ICE restart");
                    if let Err(e) = peer::roll_back(&session.peer).await {
                        return Some(Outcome::Lost(format!("renegotiation failed: {e}")));
                    }
                }
                Reply::NotOurs(Next::Restart) => {
                    tracing::debug!(%message, "the refusal of our crossed offer; restarting again");
                    if self.restart_ice(session).await.is_err() {
                        return Some(Outcome::Dropped("the server connection dropped".into()));
                    }
                }
                Reply::NotOurs(Next::Wait) => {
                    self.shared.refused(ErrorCode::NegotiationFailed, message);
                }
            },
            ServerMessage::Error {
                code,
                message,
                fatal,
            } => {
                if fatal {
                    return Some(match final_reason(code) {
                        Some(reason) => {
                            tracing::info!(?code, %message, "the server ended the call");
                            Outcome::Ended(reason)
                        }
                        None => {
                            tracing::warn!(?code, %message, "the server ended the connection");
                            Outcome::Lost(message)
                        }
                    });
                }
                self.shared.refused(code, message);
            }
            ServerMessage::Moved { url } => return Some(self.moved(&url)),
            ServerMessage::MuteRequested { by } => {
                self.shared.emit(CallEvent::MuteRequested { by });
            }
            ServerMessage::Reaction {
                participant_id,
                emoji,
            } => {
                self.shared.emit(CallEvent::Reaction {
                    participant_id,
                    emoji,
                });
            }
            ServerMessage::Muted { by, media } => {
                follow(
                    &self.shared,
                    &self.tracks,
                    &ServerMessage::Muted {
                        by: by.clone(),
                        media,
                    },
                );
                self.shared.emit(CallEvent::Muted {
                    by,
                    microphone_on: media.audio,
                    camera_on: media.video,
                });
            }
            ServerMessage::RoomUpdated { room } => {
                let new_id = room.id.clone();
                follow(
                    &self.shared,
                    &self.tracks,
                    &ServerMessage::RoomUpdated { room },
                );
                if new_id != self.link.room_id {
                    // Resumes go to the new id from now on; the old one no longer exists.
                    let old = std::mem::replace(&mut self.link.room_id, new_id);
                    if let Some(hook) = &self.on_relink {
                        hook(&old, &self.link.to_url());
                    }
                }
            }
            other => {
                if let ServerMessage::ParticipantLeft { participant_id } = &other {
                    // webrtc never ends their tracks (their sections go inactive, or carry
                    // someone else later): stop the receivers and decoders here.
                    self.ctx.receivers.participant_left(participant_id);
                    self.view.forget(participant_id);
                }
                if let ServerMessage::ParticipantUpdated { participant } = &other
                    && !participant.screen
                {
                    self.ctx.receivers.share_ended(&participant.id);
                }
                follow(&self.shared, &self.tracks, &other);
            }
        }
        None
    }
}

/// Chat messages as this member reads them: text as it came, sealed text opened with a room
/// secret held in this call (`None` when none opens it).
fn open_chat(
    shared: &Shared,
    messages: &[salon_protocol::ChatMessage],
) -> Vec<super::state::ChatEntry> {
    let mut kx = shared.kx();
    messages
        .iter()
        .map(|m| {
            let text = match (&m.text, &m.sealed) {
                (Some(text), _) => Some(text.clone()),
                (None, Some(sealed)) => match kx.open_chat(sealed) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        tracing::info!(id = m.id, "a chat message did not open: {e}");
                        None
                    }
                },
                (None, None) => None,
            };
            super::state::ChatEntry {
                id: m.id,
                from: m.from.clone(),
                name: m.name.clone(),
                at_ms: m.at,
                text,
            }
        })
        .collect()
}

/// Sleeps until `at`; forever without it.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next event of the kept peer connection; never, without one.
async fn kept_event(kept: &mut Option<ClientPeer>) -> Option<PeerEvent> {
    match kept {
        Some(peer) => peer.events.recv().await,
        None => std::future::pending().await,
    }
}

async fn answer(session: &mut Session, sdp: String) -> Result<(), CoreError> {
    let offer = RTCSessionDescription::offer(sdp).map_err(CoreError::media)?;
    let pc = session.peer.pc.clone();
    pc.set_remote_description(offer)
        .await
        .map_err(CoreError::media)?;
    let answer = pc.create_answer(None).await.map_err(CoreError::media)?;
    pc.set_local_description(answer)
        .await
        .map_err(CoreError::media)?;
    let sdp = peer::local_sdp(&mut session.peer).await?;
    session.signal.send(&ClientMessage::Answer { sdp }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_decisions_end_the_call_for_good() {
        for (code, reason) in [
            (ErrorCode::Removed, EndReason::Removed),
            (ErrorCode::KnockDenied, EndReason::KnockDenied),
            (ErrorCode::RoomEnded, EndReason::RoomEnded),
            (ErrorCode::RoomNotFound, EndReason::RoomNotFound),
        ] {
            assert_eq!(final_reason(code), Some(reason.clone()));
            let error = CoreError::from_code(code, "x");
            assert_eq!(final_error(&error), Some(reason));
        }
        // The server failing is worth another try.
        assert_eq!(final_reason(ErrorCode::Internal), None);
        assert_eq!(final_error(&CoreError::network("gone")), None);
        assert!(matches!(
            lost_or_final(CoreError::network("gone")),
            Outcome::Lost(_)
        ));
    }
}
