//! The signaling socket of one participant: rate limit, liveness clock, decoding with error
//! replies, and the wait for `join`.

use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt as _;
use salon_protocol::{
    ClientMessage, ErrorCode, PROTOCOL_VERSION, ServerMessage, clean_display_name, decode_client,
    encode,
};

use crate::ratelimit::{SIGNALING_BURST, SIGNALING_PER_SECOND, TokenBucket};

/// How long a new socket may wait before sending `join`.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one write to the socket may take. A client that stops reading (a half-open
/// connection after a network change, or on purpose) fills the socket's buffers; past this the
/// socket counts as gone, so its participant's task never waits on it for long.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// A validated `join`, its name trimmed.
pub struct JoinMessage {
    pub name: String,
    pub media: salon_protocol::MediaState,
    pub resume: Option<salon_protocol::Resume>,
    pub host_key: Option<String>,
    pub device: Option<String>,
    /// The client kept its peer connection and asks to go on with it (with `resume`).
    pub keep_media: bool,
    /// The client encrypts end to end: its key commitment (ADR 0003).
    pub e2ee: Option<String>,
}

/// The socket with its rate limit and liveness clock.
pub struct Conn {
    pub ws: WebSocket,
    bucket: TokenBucket,
    pub last_heard: Instant,
    warned_rate: bool,
    /// A write failed or timed out: nothing more is written, and the owner ends the connection.
    dead: bool,
}

pub enum Incoming {
    Message(ClientMessage),
    /// Handled (an error was replied, or it was a control frame).
    Nothing,
    Closed,
}

impl Conn {
    pub fn new(ws: WebSocket) -> Self {
        let now = Instant::now();
        Self {
            ws,
            bucket: TokenBucket::new(now, SIGNALING_PER_SECOND, SIGNALING_BURST),
            last_heard: now,
            warned_rate: false,
            dead: false,
        }
    }

    /// Whether the socket is gone (a write failed or took longer than [`WRITE_TIMEOUT`]).
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Writes one frame within [`WRITE_TIMEOUT`]; false (and from then on, at once) if the
    /// socket is gone.
    async fn write(&mut self, frame: Message) -> bool {
        if self.dead {
            return false;
        }
        let written = tokio::time::timeout(WRITE_TIMEOUT, self.ws.send(frame)).await;
        if !matches!(written, Ok(Ok(()))) {
            if written.is_err() {
                tracing::info!("a signaling socket stopped reading; dropping it");
            }
            self.dead = true;
        }
        !self.dead
    }

    pub async fn send(&mut self, message: &ServerMessage) -> bool {
        self.write(Message::Text(encode(message).into())).await
    }

    /// A WebSocket-level ping; false if the socket is gone.
    pub async fn ping(&mut self) -> bool {
        self.write(Message::Ping(Default::default())).await
    }

    pub async fn error(&mut self, code: ErrorCode, message: &str) {
        self.send(&ServerMessage::error(code, message)).await;
    }

    pub async fn fatal(&mut self, code: ErrorCode, message: &str) {
        self.send(&ServerMessage::Error {
            code,
            message: message.to_owned(),
            fatal: true,
        })
        .await;
        self.close().await;
    }

    /// Closes the socket (at once if it is gone: a close frame would wait on it too).
    pub async fn close(&mut self) {
        if !self.dead {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, self.ws.close()).await;
        }
    }

    /// Turns one frame into a message, replying to anything invalid. Only the client's own
    /// messages count as a sign of life: WebSocket pings and pongs are answered by any client
    /// library on its own, so a socket that sends nothing else is idle. Text and binary frames
    /// are counted alike against the message rate.
    pub async fn interpret(&mut self, frame: Option<Result<Message, axum::Error>>) -> Incoming {
        let frame = match frame {
            None | Some(Err(_)) => return Incoming::Closed,
            Some(Ok(frame)) => frame,
        };
        let text = match frame {
            Message::Close(_) => return Incoming::Closed,
            Message::Ping(_) | Message::Pong(_) => return Incoming::Nothing,
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
        };
        self.last_heard = Instant::now();
        if !self.bucket.try_take(self.last_heard) {
            if !self.warned_rate {
                self.warned_rate = true;
                self.error(ErrorCode::RateLimited, "Too many messages; slow down.")
                    .await;
            }
            return Incoming::Nothing;
        }
        self.warned_rate = false;
        let Some(text) = text else {
            self.error(
                ErrorCode::BadMessage,
                "Binary messages are not part of the protocol; send JSON text.",
            )
            .await;
            return Incoming::Nothing;
        };
        match decode_client(text.as_str()) {
            Ok(message) => Incoming::Message(message),
            Err(e) => {
                self.error(e.code(), &e.to_string()).await;
                Incoming::Nothing
            }
        }
    }

    /// Waits for a valid `join`; replies to everything else. `None` if the socket closed.
    pub async fn wait_for_join(&mut self) -> Option<JoinMessage> {
        let deadline = tokio::time::Instant::now() + JOIN_TIMEOUT;
        loop {
            if self.dead {
                return None;
            }
            let frame = tokio::time::timeout_at(deadline, self.ws.recv())
                .await
                .ok()?;
            match self.interpret(frame).await {
                Incoming::Closed => return None,
                Incoming::Nothing => {}
                Incoming::Message(ClientMessage::Join {
                    version,
                    name,
                    media,
                    resume,
                    host_key,
                    device,
                    keep_media,
                    e2ee,
                }) => {
                    if version != PROTOCOL_VERSION {
                        self.fatal(
                            ErrorCode::UnsupportedVersion,
                            &format!("This server speaks protocol version {PROTOCOL_VERSION}; please update your app."),
                        )
                        .await;
                        return None;
                    }
                    // Validated by decode_client; clean again for the trimmed form.
                    let name = clean_display_name("name", &name).ok()?;
                    return Some(JoinMessage {
                        name,
                        media,
                        resume,
                        host_key,
                        device,
                        keep_media,
                        e2ee: e2ee.map(|e| e.commit),
                    });
                }
                Incoming::Message(ClientMessage::Ping) => {
                    self.send(&ServerMessage::Pong).await;
                }
                Incoming::Message(ClientMessage::Leave) => return None,
                Incoming::Message(_) => {
                    self.error(ErrorCode::NotJoined, "Send \"join\" first.")
                        .await;
                }
            }
        }
    }
}
