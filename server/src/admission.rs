//! Getting in: from a socket's `join` to a place in the room. Checks the host key, limits
//! knocks, relays the room's refusals (bans, denials) as clear errors, and keeps a knocker in
//! the lobby of a locked room — with no participant list and no peer connection — until a host
//! answers.

use std::net::IpAddr;

use salon_protocol::{ClientMessage, ErrorCode, MAX_PARTICIPANTS, Role, ServerMessage};

use crate::AppState;
use crate::abuse::Action;
use crate::conn::{Conn, Incoming};
use crate::hub::{Entry, JoinError, JoinRequest, Joined, Knocking, RoomLink};
use crate::identity::Identity;
use crate::ids::host_key_matches;
use crate::ratelimit::SIGNALING_IDLE_TIMEOUT;
use crate::store::StoredRoom;

/// What a socket on an unknown (or rotated) link is told, word for word.
pub const ROOM_NOT_FOUND: &str =
    "No room with this link exists. Check the link, or ask for a new one.";

/// What a client that does not encrypt is told by an end-to-end encrypted room.
pub const E2EE_REQUIRED: &str =
    "This room is end-to-end encrypted. Update Salon, or use a current browser.";

/// Waits for the client's `join` and gets it a place. `None` when it did not get in; the client
/// was told why (or its socket closed).
pub async fn enter(
    conn: &mut Conn,
    room: &StoredRoom,
    state: &AppState,
    address: IpAddr,
) -> Option<(Joined, RoomLink)> {
    let join = conn.wait_for_join().await?;
    if let Some(cluster) = &state.cluster
        && !owned_here(conn, cluster, room).await
    {
        return None;
    }
    let role = match &join.host_key {
        Some(key) if host_key_matches(key, &room.host_key_hash) => Role::Owner,
        Some(_) => {
            conn.error(
                ErrorCode::NotAllowed,
                "This host key does not belong to this room; you are joining as a guest.",
            )
            .await;
            Role::Guest
        }
        None => Role::Guest,
    };
    // Bans are checked by the room (it has them in memory), after a live connection's resume:
    // someone let in who shares an address with a removed person can still reconnect.
    let identity = Identity::new(&room.id, join.device.as_deref(), address);
    // Knocks interrupt the hosts, so they have a limit of their own (the lock may have changed
    // since `room` was read; the actor has the final say on whether this is a knock). A
    // `resume` counts too: anyone can make one up, and a made-up one ends as a knock.
    if room.locked && role != Role::Owner {
        let verdict = state
            .limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(Action::Knock, address, std::time::Instant::now());
        if let Err(refused) = verdict {
            let seconds = refused.retry_after.as_secs().max(1);
            conn.fatal(
                ErrorCode::RateLimited,
                &format!("Too many knocks from your network; try again in {seconds} s."),
            )
            .await;
            return None;
        }
    }
    let keep_media = join.keep_media && join.resume.is_some();
    let request = JoinRequest {
        name: join.name,
        media: join.media,
        resume: join.resume,
        role,
        identity,
        link: room.link.clone(),
        keep_media,
        e2ee: join.e2ee,
    };
    match state.hub.join(room, request).await {
        Ok(Entry::Joined(joined, link)) => Some((joined, link)),
        Ok(Entry::Waiting(knocking)) => wait_in_lobby(conn, knocking, room, state).await,
        Err(e) => {
            refuse(conn, e).await;
            None
        }
    }
}

/// Cluster mode: whether this node owns `room` (placing it if nobody does). If another node
/// does, the client is sent there with `moved`; if Redis cannot say, only a room this node
/// already holds goes on (calls in progress never depend on Redis).
async fn owned_here(conn: &mut Conn, cluster: &crate::cluster::Cluster, room: &StoredRoom) -> bool {
    match cluster.owner(&room.id).await {
        Ok(owner) if owner.mine => true,
        Ok(owner) => {
            let url = crate::cluster::ws_url(&owner.url, &room.link);
            tracing::debug!(room = %room.id, node = %owner.node, "join sent to the room's owner");
            conn.send(&ServerMessage::Moved { url }).await;
            conn.close().await;
            false
        }
        Err(_) if cluster.holds(&room.id) => true,
        Err(e) => {
            tracing::warn!(room = %room.id, error = %e, "cannot find the room's node");
            conn.fatal(
                ErrorCode::Internal,
                "The server cannot reach its room directory right now; try again in a few seconds.",
            )
            .await;
            false
        }
    }
}

/// Tells the client why it cannot come in, and closes.
async fn refuse(conn: &mut Conn, error: JoinError) {
    let (code, message) = match error {
        JoinError::Full => (
            ErrorCode::RoomFull,
            format!("This room is full ({MAX_PARTICIPANTS} people). Try again later."),
        ),
        JoinError::Retry => (
            ErrorCode::Internal,
            "The room is busy; please try again.".to_owned(),
        ),
        JoinError::Banned => (
            ErrorCode::Removed,
            "You were removed from this room.".to_owned(),
        ),
        JoinError::Denied => (
            ErrorCode::KnockDenied,
            "The host didn't let you in.".to_owned(),
        ),
        JoinError::DeniedTwice => (
            ErrorCode::KnockDenied,
            "The hosts turned you away twice; you cannot knock again until everyone has left the room.".to_owned(),
        ),
        JoinError::LobbyFull => (
            ErrorCode::RoomFull,
            "Too many people are waiting to get in; try again later.".to_owned(),
        ),
        JoinError::Ended => (
            ErrorCode::RoomEnded,
            "The host ended the call.".to_owned(),
        ),
        JoinError::E2eeRequired => (ErrorCode::E2eeRequired, E2EE_REQUIRED.to_owned()),
        // Word for word what an unknown link gets: a rotated link reveals nothing.
        JoinError::LinkGone => (ErrorCode::RoomNotFound, ROOM_NOT_FOUND.to_owned()),
    };
    conn.fatal(code, &message).await;
}

/// Keeps a knocker waiting: only `ping` and `leave` are accepted until a host answers.
async fn wait_in_lobby(
    conn: &mut Conn,
    mut knocking: Knocking,
    room: &StoredRoom,
    state: &AppState,
) -> Option<(Joined, RoomLink)> {
    let waiting = |host_present: bool| ServerMessage::Waiting {
        room_name: room.name.clone(),
        host_present,
    };
    let present = *knocking.host_present.borrow_and_update();
    if !conn.send(&waiting(present)).await {
        return None;
    }
    let mut presence = knocking.host_present.clone();
    let mut ping = tokio::time::interval(crate::participant::PING_EVERY);
    ping.reset();
    loop {
        if conn.is_dead() {
            return None;
        }
        tokio::select! {
            answer = knocking.answer() => {
                return match answer {
                    Ok(entry) => Some(entry),
                    // Cluster mode: this node gave the room up; knock again on its new owner.
                    Err(JoinError::Retry)
                        if state.cluster.as_ref().is_some_and(|c| !c.holds(&room.id)) =>
                    {
                        if let Some(cluster) = &state.cluster
                            && owned_here(conn, cluster, room).await
                        {
                            refuse(conn, JoinError::Retry).await;
                        }
                        None
                    }
                    Err(e) => {
                        refuse(conn, e).await;
                        None
                    }
                };
            }
            frame = conn.ws.recv() => match conn.interpret(frame).await {
                // Dropping `knocking` withdraws the knock.
                Incoming::Closed | Incoming::Message(ClientMessage::Leave) => return None,
                Incoming::Nothing => {}
                Incoming::Message(ClientMessage::Ping) => {
                    conn.send(&ServerMessage::Pong).await;
                }
                Incoming::Message(_) => {
                    conn.error(
                        ErrorCode::NotJoined,
                        "You are waiting for a host to let you in.",
                    )
                    .await;
                }
            },
            // A host came or went: say so again, so the page can tell the knocker.
            Ok(()) = presence.changed() => {
                let present = *presence.borrow_and_update();
                if !conn.send(&waiting(present)).await {
                    return None;
                }
            }
            _ = ping.tick() => {
                if conn.last_heard.elapsed() > SIGNALING_IDLE_TIMEOUT || !conn.ping().await {
                    return None;
                }
            }
        }
    }
}
