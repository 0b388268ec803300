//! The signaling WebSocket from the client side: connect, join, and exchange typed messages.

use futures_util::{SinkExt as _, StreamExt as _};
use salon_protocol::{
    ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, MediaState, PROTOCOL_VERSION, Resume,
    ServerMessage, decode_server, encode,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::CoreError;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Signal {
    ws: Ws,
}

/// What `join` gives back: in, or in the lobby of a locked room.
pub enum Admission {
    Joined(JoinReply),
    /// The server's `waiting`; a `joined` (or a fatal error) follows when a host answers.
    Waiting(ServerMessage),
}

/// What the server answered `join` with: an admission, or (cluster mode) `moved`: the room
/// lives on another node, whose signaling URL this is (not yet checked: see `super::route`).
pub enum Answer {
    Admitted(Box<Admission>),
    Moved(String),
}

/// A `joined` and what the driver keeps from it.
pub struct JoinReply {
    pub joined: ServerMessage,
    pub participant_id: String,
    pub resume_token: String,
    /// The server went on with our existing peer connection (a resume with `keep_media`).
    pub media_kept: bool,
}

impl JoinReply {
    /// `Some` for a `joined` message.
    pub fn from_message(message: ServerMessage) -> Option<Self> {
        let ServerMessage::Joined {
            participant_id,
            resume_token,
            media_kept,
            ..
        } = &message
        else {
            return None;
        };
        Some(Self {
            participant_id: participant_id.clone(),
            resume_token: resume_token.clone(),
            media_kept: *media_kept,
            joined: message,
        })
    }

    /// The proof to present when coming back after a lost connection.
    pub fn resume(&self) -> Resume {
        Resume {
            participant_id: self.participant_id.clone(),
            token: self.resume_token.clone(),
        }
    }
}

/// Who joins, and how.
pub struct JoinRequest<'a> {
    pub name: &'a str,
    pub media: MediaState,
    pub resume: Option<Resume>,
    pub host_key: Option<&'a str>,
    pub device: Option<&'a str>,
    /// With `resume`: our peer connection outlived the socket; ask the server to go on with it.
    pub keep_media: bool,
    /// We encrypt end to end: our key commitment.
    pub e2ee: Option<salon_protocol::E2eeJoin>,
}

/// How long to wait for the server to answer `join`.
const JOIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl Signal {
    pub async fn connect(url: &str) -> Result<Self, CoreError> {
        Self::connect_within(url, JOIN_TIMEOUT).await
    }

    /// [`Self::connect`] giving up after `timeout` (a cluster node that may be dead is given
    /// less time than the entry: see `super::route`).
    pub async fn connect_within(
        url: &str,
        timeout: std::time::Duration,
    ) -> Result<Self, CoreError> {
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES * 2))
            .max_frame_size(Some(MAX_MESSAGE_BYTES * 2));
        let (ws, _) = tokio::time::timeout(
            timeout,
            tokio_tungstenite::connect_async_with_config(url, Some(config), false),
        )
        .await
        .map_err(|_| CoreError::network("timed out connecting to the server"))?
        .map_err(CoreError::network)?;
        Ok(Self { ws })
    }

    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), CoreError> {
        self.ws
            .send(Message::Text(encode(message).into()))
            .await
            .map_err(CoreError::network)
    }

    /// The next server message. `Ok(None)` when the socket closed. A message that does not
    /// decode is skipped with a log line: a newer server may send things we do not know.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, CoreError> {
        loop {
            match self.ws.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(CoreError::network(e)),
                Some(Ok(Message::Text(text))) => match decode_server(text.as_str()) {
                    Ok(message) => return Ok(Some(message)),
                    // A `moved` we may not follow: the socket closes next; say why.
                    Err(e) if is_moved(text.as_str()) => {
                        return Err(CoreError::Server {
                            reason: format!(
                                "the server sent this call to an invalid address ({e})"
                            ),
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "ignored a message from the server"),
                },
                Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends `join` and waits for `joined`, `waiting` or `moved`; server errors become
    /// [`CoreError`]s. A refused host key is not an error (the join goes on as a guest): it is
    /// passed to `notice`, like every `not_allowed` before the answer.
    pub async fn join(
        &mut self,
        request: JoinRequest<'_>,
        mut notice: impl FnMut(ErrorCode, String),
    ) -> Result<Answer, CoreError> {
        self.send(&ClientMessage::Join {
            keep_media: request.keep_media && request.resume.is_some(),
            version: PROTOCOL_VERSION,
            name: request.name.to_owned(),
            media: request.media,
            resume: request.resume,
            host_key: request.host_key.map(str::to_owned),
            device: request.device.map(str::to_owned),
            e2ee: request.e2ee,
        })
        .await?;
        tokio::time::timeout(JOIN_TIMEOUT, async {
            loop {
                match self.recv().await? {
                    None => return Err(CoreError::network("the server closed the connection")),
                    Some(ServerMessage::Error {
                        code: ErrorCode::NotAllowed,
                        message,
                        fatal: false,
                    }) => notice(ErrorCode::NotAllowed, message),
                    Some(ServerMessage::Error { code, message, .. }) => {
                        return Err(join_error(code, &message));
                    }
                    Some(waiting @ ServerMessage::Waiting { .. }) => {
                        return Ok(Answer::Admitted(Box::new(Admission::Waiting(waiting))));
                    }
                    Some(joined @ ServerMessage::Joined { .. }) => {
                        return JoinReply::from_message(joined)
                            .map(|reply| Answer::Admitted(Box::new(Admission::Joined(reply))))
                            .ok_or_else(|| CoreError::network("unexpected reply"));
                    }
                    Some(ServerMessage::Moved { url }) => return Ok(Answer::Moved(url)),
                    Some(_) => {}
                }
            }
        })
        .await
        .map_err(|_| CoreError::network("the server did not answer"))?
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Whether a message that did not decode is a `moved` (its URL refused by the protocol's checks).
fn is_moved(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("moved"))
}

fn join_error(code: ErrorCode, message: &str) -> CoreError {
    match code {
        ErrorCode::InvalidField => CoreError::InvalidInput {
            reason: message.to_owned(),
        },
        other => CoreError::from_code(other, message),
    }
}
