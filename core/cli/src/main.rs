//! `salon-cli`: a Salon participant for people who run a server, and for tests.
//!
//! ```text
//! salon-cli create --server http://127.0.0.1:8080 [--name "Friday drinks"]
//! salon-cli rooms
//! salon-cli join <invite-link> --name Bot [--seconds 30] [--no-audio] [--report json] [--host]
//!                [--say TEXT]... [--react EMOJI] [--raise-hand]   (SIGHUP: the network changed)
//! salon-cli status <invite-link>
//! salon-cli host <invite-link> [--host-key KEY] <list|lock|unlock|admit|deny|remove|unban|
//!                                                mute|ask-mute|cohost|panic|rotate|end> [args]
//! salon-cli door <invite-link> open|close|auto [--minutes N] [--names|--no-names]
//! salon-cli card <invite-link> --name NAME
//! salon-cli peek <invite-link> [--json]
//! salon-cli friends add <card> | list [--json] | watch [--json] [--seconds N] | notify <id> on|off
//! ```
//!
//! Rooms made with `create` are remembered, with their host keys, in the data folder
//! (`--data-dir`, by default `$XDG_DATA_HOME/salon-cli` or `~/.local/share/salon-cli`), so
//! `join` and `host` act as their owner; the folder also keeps this machine's device id.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use salon_core::media::audio::Channels;
use salon_core::media::pattern::{Silence, TestPattern, Tone};
use salon_core::{Call, CallConfig, Client, ConnectionStatus, CoreError, EndReason};
use serde::Serialize;

mod friends;
mod host;

#[derive(Parser)]
#[command(
    name = "salon-cli",
    version,
    about = "A command-line Salon participant"
)]
struct Cli {
    /// Log filter (e.g. info, debug, salon_core=debug).
    #[arg(
        long,
        env = "SALON_LOG",
        default_value = "warn,rtc=error,webrtc=error",
        global = true
    )]
    log: String,
    /// Folder for the local database (my rooms with their host keys, this device's id).
    #[arg(long, env = "SALON_CLI_DATA", global = true)]
    data_dir: Option<std::path::PathBuf>,
    /// Keep nothing on disk: no remembered rooms, a new device id every run.
    #[arg(long, global = true, conflicts_with = "data_dir")]
    ephemeral: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a room on a server and print its invite link.
    Create {
        /// The server's address, e.g. http://127.0.0.1:8080
        #[arg(long)]
        server: String,
        /// A name for the room.
        #[arg(long)]
        name: Option<String>,
        /// Print the whole result (id, link, host key) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the rooms created from this data folder.
    Rooms,
    /// Show whether a room exists and how many people are in it.
    Status {
        /// The room's invite link.
        link: String,
    },
    /// Join a room with a moving test pattern and a tone.
    Join {
        /// The room's invite link.
        link: String,
        /// Your display name in the room.
        #[arg(long, default_value = "salon-cli")]
        name: String,
        /// How long to stay, in seconds.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Send silence instead of a tone.
        #[arg(long)]
        no_audio: bool,
        /// Send no video.
        #[arg(long)]
        no_video: bool,
        /// Test pattern size.
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 360)]
        height: u32,
        /// Frames per second of the test pattern.
        #[arg(long, default_value_t = 15)]
        fps: u32,
        /// Print what arrived from each remote participant when leaving.
        #[arg(long, value_enum)]
        report: Option<ReportFormat>,
        /// Join as the room's owner; fail if there is no host key for it (remembered from
        /// `create`, or `--host-key`).
        #[arg(long)]
        host: bool,
        /// The room's host key (instead of the remembered one).
        #[arg(long)]
        host_key: Option<String>,
        /// Send this chat message once in (repeat for several; end-to-end encrypted in an
        /// encrypted room). Chat and reactions that arrive are printed as they come.
        #[arg(long)]
        say: Vec<String>,
        /// Send this reaction once in (one of 👍 ❤️ 😂 😮 👏 🎉 🙌 🔥).
        #[arg(long)]
        react: Option<String>,
        /// Raise my hand once in.
        #[arg(long)]
        raise_hand: bool,
    },
    /// Join as a host without media, do one host action, wait for its effect, and leave.
    Host(host::HostArgs),
    /// Open, close or reset (auto: open while you are inside) the door of one of my rooms.
    Door(friends::DoorArgs),
    /// Print my friend card for one of my rooms (with its presence key).
    Card {
        /// One of my rooms (its invite link).
        link: String,
        /// The name friends will know me by.
        #[arg(long)]
        name: String,
    },
    /// Look into a room before joining: door, how many are inside, names if shown.
    Peek {
        link: String,
        #[arg(long)]
        json: bool,
    },
    /// My friends and their rooms' presence.
    #[command(subcommand)]
    Friends(friends::FriendsCommand),
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Json,
    Text,
}

#[derive(Serialize)]
struct Report {
    participant_id: Option<String>,
    room_id: String,
    sent_video_frames: u64,
    sent_audio_frames: u64,
    /// End-to-end encryption: the safety code (the same on every screen of the call) and how
    /// many hold keys; absent in a room that is not encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    e2ee: Option<E2eeReport>,
    remote: Vec<RemoteReport>,
    /// The room's chat as this participant could read it (`null` text: sealed under a key it
    /// does not hold).
    chat: Vec<ChatReport>,
    /// Reactions seen, in order: `(participant id, emoji)`.
    reactions: Vec<(String, String)>,
    /// Participant ids with a raised hand, in queue order.
    hands: Vec<String>,
    /// Who shares their screen now (participant id), if anyone. Their share's frames are in
    /// `remote` as `<id>|screen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    presenting: Option<String>,
    /// ICE restarts offered (network changes, lasting disconnections).
    ice_restarts: u64,
    /// Reconnects that went on with the same peer connection.
    resumes_media_kept: u64,
}

#[derive(Serialize)]
struct ChatReport {
    id: u64,
    name: String,
    text: Option<String>,
}

/// Prints chat and reactions as they come, and remembers reactions for the report.
#[derive(Default)]
struct Printer {
    reactions: std::sync::Mutex<Vec<(String, String)>>,
    chat_seen: std::sync::atomic::AtomicU64,
}

impl salon_core::CallListener for Printer {
    fn on_state_changed(&self, state: salon_core::RoomState) {
        use std::sync::atomic::Ordering;
        let seen = self.chat_seen.load(Ordering::Relaxed);
        for m in state.chat.iter().filter(|m| m.id > seen) {
            eprintln!(
                "[chat] {}: {}",
                m.name,
                m.text
                    .as_deref()
                    .unwrap_or("(can't be read with this link)")
            );
        }
        if let Some(last) = state.chat.last() {
            self.chat_seen.fetch_max(last.id, Ordering::Relaxed);
        }
    }

    fn on_event(&self, event: salon_core::CallEvent) {
        match event {
            salon_core::CallEvent::Reaction {
                participant_id,
                emoji,
            } => {
                eprintln!("[reaction] {participant_id}: {emoji}");
                self.reactions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((participant_id, emoji));
            }
            salon_core::CallEvent::Refused { message, .. } => eprintln!("[refused] {message}"),
            _ => {}
        }
    }
}

#[derive(Serialize)]
struct E2eeReport {
    safety_code: String,
    key_holders: u32,
    unverified: Vec<String>,
}

#[derive(Serialize)]
struct RemoteReport {
    participant_id: String,
    name: Option<String>,
    frames_received: u64,
    frames_decoded: u64,
    width: u32,
    height: u32,
    video_codec: String,
    audio_packets: u64,
    audio_frames_decoded: u64,
    frames_undecryptable: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("salon-cli: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("salon-cli: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command failed, in words for the person at the terminal.
#[derive(Debug)]
pub struct Failure(String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        Self(match e {
            CoreError::RoomNotFound => "room not found: check the link".into(),
            CoreError::RoomFull => "the room is full".into(),
            other => other.to_string(),
        })
    }
}

/// What an ended call means for the exit code: leaving is fine, anything else is not.
pub fn ended(reason: &EndReason) -> Result<(), Failure> {
    match reason {
        EndReason::Left => Ok(()),
        EndReason::Removed => Err(Failure::new("you were removed from this room")),
        EndReason::KnockDenied => Err(Failure::new("the host didn't let you in")),
        EndReason::RoomEnded => Err(Failure::new("the host ended the call")),
        EndReason::RoomNotFound => Err(Failure::new("the room no longer exists")),
        EndReason::RoomFull => Err(Failure::new("the room is full")),
        EndReason::Incompatible => Err(Failure::new("the server speaks another protocol version")),
        EndReason::Error(e) => Err(Failure::new(format!("the call ended: {e}"))),
    }
}

/// The data folder: `--data-dir`, else the XDG data folder, else nothing on disk.
fn open_client(cli: &Cli) -> Result<Client, CoreError> {
    if cli.ephemeral {
        return Client::in_memory();
    }
    let dir = cli.data_dir.clone().or_else(|| {
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|d| !d.is_empty())
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| std::path::PathBuf::from(h).join(".local/share"))
            })?;
        Some(base.join("salon-cli"))
    });
    match dir {
        Some(dir) => Client::open(&dir),
        None => Client::in_memory(),
    }
}

/// The host key to use for `link`: the one given, else the one remembered for that room.
pub fn host_key_for(client: &Client, link: &str, given: Option<String>) -> Result<String, Failure> {
    if let Some(key) = given {
        return Ok(key);
    }
    let wanted = salon_core::store::InviteLink::parse(link)
        .map_err(|e| Failure::new(e.to_string()))?
        .to_url();
    client
        .my_rooms()?
        .into_iter()
        .find(|room| room.link == wanted)
        .map(|room| room.host_key)
        .ok_or_else(|| {
            Failure::new(
                "no host key for this room here: pass --host-key, or use the --data-dir the room \
                 was created with",
            )
        })
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let client = open_client(&cli)?;
    match cli.command {
        Command::Create { server, name, json } => {
            let room = client.create_room(&server, name.as_deref()).await?;
            if json {
                let value = serde_json::json!({
                    "id": room.id, "link": room.link, "name": room.name,
                    "host_key": room.host_key, "created_at": room.created_at,
                });
                println!("{value}");
            } else {
                println!("{}", room.link);
            }
            Ok(())
        }
        Command::Rooms => {
            for room in client.my_rooms()? {
                let value = serde_json::json!({
                    "id": room.id, "link": room.link, "name": room.name,
                    "created_at": room.created_at,
                });
                println!("{value}");
            }
            Ok(())
        }
        Command::Status { link } => {
            let status = client.room_status(&link).await?;
            println!(
                "{}: {} of {} people{}",
                status.name.as_deref().unwrap_or("Unnamed room"),
                status.participants,
                status.max_participants,
                if status.full { " (full)" } else { "" }
            );
            Ok(())
        }
        Command::Join {
            link,
            name,
            seconds,
            no_audio,
            no_video,
            width,
            height,
            fps,
            report,
            host,
            host_key,
            say,
            react,
            raise_hand,
        } => {
            let mut config = CallConfig::new(name);
            config.video.width = width;
            config.video.height = height;
            config.video.max_fps = fps.max(1) as f32;
            config.video_on = !no_video;
            if host || host_key.is_some() {
                config.host_key = Some(host_key_for(&client, &link, host_key)?);
            }
            let printer = Arc::new(Printer::default());
            let listener: Arc<dyn salon_core::CallListener> = printer.clone();
            let call = Arc::new(
                client
                    .join(&link, config, Some(listener), None, None)
                    .await?,
            );
            if let ConnectionStatus::Waiting { .. } = call.state().connection {
                eprintln!("The room is locked: waiting for a host to let you in…");
            }
            while let ConnectionStatus::Waiting { .. } = call.state().connection {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if let ConnectionStatus::Ended { reason } = call.state().connection {
                return ended(&reason);
            }
            if host && !call.state().role.is_host() {
                call.leave().await;
                return Err(Failure::new(
                    "the server did not accept the host key: joined as a guest",
                ));
            }
            eprintln!(
                "Joined as {} ({:?}) — sending for {seconds} s",
                call.state().me.as_deref().unwrap_or("?"),
                call.state().role,
            );
            let feeder = tokio::spawn(feed(
                call.clone(),
                width,
                height,
                fps.max(1),
                no_audio,
                no_video,
            ));
            for text in &say {
                call.send_chat(text)?;
            }
            if let Some(emoji) = &react {
                call.react(emoji)?;
            }
            if raise_hand {
                call.raise_hand(true)?;
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
            let mut end = None;
            // SIGHUP stands for what a phone's operating system reports: the network changed
            // (the call restarts ICE on its connection, as the apps make it).
            let mut hangups =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            while tokio::time::Instant::now() < deadline {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    Some(()) = async {
                        match hangups.as_mut() {
                            Some(h) => h.recv().await,
                            None => std::future::pending().await,
                        }
                    } => {
                        eprintln!("Network change (SIGHUP): restarting ICE");
                        let _ = call.on_network_changed();
                    }
                }
                if let ConnectionStatus::Ended { reason } = call.state().connection {
                    eprintln!("The call ended: {reason:?}");
                    end = Some(reason);
                    break;
                }
            }
            feeder.abort();
            let mut result = report_of(&call);
            result.reactions = printer
                .reactions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            call.leave().await;
            match report {
                Some(ReportFormat::Json) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&result).unwrap_or_default()
                    );
                }
                Some(ReportFormat::Text) => print_text(&result),
                None => {}
            }
            end.map_or(Ok(()), |reason| ended(&reason))
        }
        Command::Host(args) => host::run(&client, args).await,
        Command::Door(args) => friends::door(&client, args).await,
        Command::Card { link, name } => friends::card(&client, &link, &name).await,
        Command::Peek { link, json } => friends::peek(&client, &link, json).await,
        Command::Friends(command) => friends::friends(&client, command).await,
    }
}

/// Sends the test pattern at `fps` and 20 ms audio frames until aborted.
async fn feed(call: Arc<Call>, width: u32, height: u32, fps: u32, no_audio: bool, no_video: bool) {
    let mut pattern = match TestPattern::new(width, height) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("salon-cli: {e}");
            return;
        }
    };
    let mut tone = Tone::new(440.0, Channels::Mono).ok();
    let mut silence = Silence::new(Channels::Mono);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let frame_every_us = 1_000_000 / u64::from(fps);
    let mut t_us = 0u64;
    let mut next_frame_us = 0u64;
    loop {
        tick.tick().await;
        let pcm = match (&mut tone, no_audio) {
            (Some(tone), false) => tone.next_frame_20ms(),
            _ => silence.next_frame_20ms(),
        };
        if call.send_audio_frame(pcm).is_err() {
            return;
        }
        if !no_video && t_us >= next_frame_us {
            next_frame_us += frame_every_us;
            if call.send_video_frame(pattern.next_frame(t_us)).is_err() {
                return;
            }
        }
        t_us += 20_000;
    }
}

fn report_of(call: &Call) -> Report {
    let state = call.state();
    let sent = call.send_stats();
    let mut remote: Vec<RemoteReport> = call
        .remote_stats()
        .into_iter()
        .map(|(id, s)| RemoteReport {
            name: call.name_of(&id),
            participant_id: id,
            frames_received: s.frames_received,
            frames_decoded: s.frames_decoded,
            width: s.width,
            height: s.height,
            video_codec: s.video_codec,
            audio_packets: s.audio_packets,
            audio_frames_decoded: s.audio_frames_decoded,
            frames_undecryptable: s.frames_undecryptable,
        })
        .collect();
    remote.sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
    Report {
        participant_id: state.me.clone(),
        room_id: state.room_id,
        sent_video_frames: sent
            .video_frames_sent
            .load(std::sync::atomic::Ordering::Relaxed),
        sent_audio_frames: sent
            .audio_frames_sent
            .load(std::sync::atomic::Ordering::Relaxed),
        e2ee: state.e2ee.map(|e| E2eeReport {
            safety_code: e.safety_code,
            key_holders: e.key_holders,
            unverified: e.unverified,
        }),
        remote,
        chat: state
            .chat
            .into_iter()
            .map(|m| ChatReport {
                id: m.id,
                name: m.name,
                text: m.text,
            })
            .collect(),
        reactions: Vec::new(),
        ice_restarts: call.connection_counters().ice_restarts,
        resumes_media_kept: call.connection_counters().resumes_media_kept,
        presenting: state
            .participants
            .iter()
            .find(|p| p.screen)
            .map(|p| p.id.clone()),
        hands: {
            let mut raised: Vec<(u64, String)> = state
                .participants
                .iter()
                .filter_map(|p| p.hand.map(|h| (h, p.id.clone())))
                .chain(state.my_hand.zip(state.me.clone()))
                .collect();
            raised.sort();
            raised.into_iter().map(|(_, id)| id).collect()
        },
    }
}

fn print_text(r: &Report) {
    println!(
        "me: {}  sent: {} video frames, {} audio frames",
        r.participant_id.as_deref().unwrap_or("?"),
        r.sent_video_frames,
        r.sent_audio_frames
    );
    match &r.e2ee {
        Some(e) => println!(
            "end-to-end encrypted · safety code {} · {} people hold the keys",
            e.safety_code, e.key_holders
        ),
        None => println!("not end-to-end encrypted"),
    }
    if let Some(id) = &r.presenting {
        println!("presenting: {id} (their screen: {id}|screen)");
    }
    for m in &r.chat {
        println!(
            "chat #{} {}: {}",
            m.id,
            m.name,
            m.text
                .as_deref()
                .unwrap_or("(can't be read with this link)")
        );
    }
    for p in &r.remote {
        println!(
            "{} ({}): video {} received / {} decoded at {}x{} [{}], audio {} packets",
            p.name.as_deref().unwrap_or("?"),
            p.participant_id,
            p.frames_received,
            p.frames_decoded,
            p.width,
            p.height,
            p.video_codec,
            p.audio_packets
        );
    }
}
