//! `salon-cli host <link> <action>`: joins as the room's owner without media, does one host
//! action, waits until the room shows its effect, and leaves. A refusal from the server (not a
//! host, the target outranks you, no longer there) is printed and the exit code is non-zero.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use salon_core::{
    Call, CallConfig, CallEvent, CallListener, Client, ConnectionStatus, EndReason, RoomState,
};

use crate::{Failure, host_key_for};

#[derive(Args)]
pub struct HostArgs {
    /// The room's invite link.
    link: String,
    /// The room's host key (instead of the one remembered from `create`).
    #[arg(long)]
    host_key: Option<String>,
    /// The name the others see while the action runs.
    #[arg(long, default_value = "salon-cli host")]
    name: String,
    /// How long to wait for the action's effect, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Print the room as JSON: lock, panic, participants, knocks, bans.
    List,
    /// Lock the room: newcomers wait in the lobby.
    Lock,
    /// Unlock the room: everyone waiting comes in.
    Unlock,
    /// Let someone waiting in (knock id or name).
    Admit { who: String },
    /// Turn someone waiting away (knock id or name).
    Deny { who: String },
    /// Remove and ban someone (participant id or name); also locks the room.
    Remove { who: String },
    /// Lift a ban (ban id or the banned name).
    Unban { ban: String },
    /// Turn someone's microphone off (participant id or name).
    Mute {
        who: String,
        /// Their camera too.
        #[arg(long)]
        video: bool,
    },
    /// Ask someone to mute (participant id or name).
    AskMute { who: String },
    /// Name someone co-host (or with --off, un-name them). Only the owner may.
    Cohost {
        who: String,
        #[arg(long)]
        off: bool,
    },
    /// Panic on (lock, everyone's mic and camera off) or off.
    Panic { state: Switch },
    /// Make a new invite link and print it.
    Rotate,
    /// End the call for everyone.
    End,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

/// Keeps the server's refusals for the command to report.
#[derive(Default)]
struct Refusals(Mutex<Vec<String>>);

impl CallListener for Refusals {
    fn on_state_changed(&self, _state: RoomState) {}

    fn on_event(&self, event: CallEvent) {
        if let CallEvent::Refused { message, .. } = event {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(message);
        }
    }
}

impl Refusals {
    fn first(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned()
    }
}

pub async fn run(client: &Client, args: HostArgs) -> Result<(), Failure> {
    let mut config = CallConfig::new(args.name);
    config.audio_on = false;
    config.video_on = false;
    config.host_key = Some(host_key_for(client, &args.link, args.host_key)?);
    let refusals = Arc::new(Refusals::default());
    let call = client
        .join(
            &args.link,
            config,
            Some(refusals.clone() as Arc<dyn CallListener>),
            None,
            None,
        )
        .await?;
    let result = act(
        &call,
        &refusals,
        args.action,
        Duration::from_secs(args.timeout),
    )
    .await;
    call.leave().await;
    result
}

async fn act(
    call: &Call,
    refusals: &Refusals,
    action: Action,
    timeout: Duration,
) -> Result<(), Failure> {
    let state = call.state();
    if !state.role.is_host() {
        let why = refusals
            .first()
            .unwrap_or_else(|| "joined as a guest".into());
        return Err(Failure::new(format!("not a host of this room: {why}")));
    }
    let wait = Waiter {
        call,
        refusals,
        timeout,
    };
    match action {
        Action::List => {
            // Hosts get the ban list just after `joined`; give it a moment.
            tokio::time::sleep(Duration::from_millis(500)).await;
            println!("{}", describe(&call.state()));
            Ok(())
        }
        Action::Lock | Action::Unlock => {
            let locked = matches!(action, Action::Lock);
            call.set_locked(locked)?;
            wait.until("the lock", |s| s.locked == locked).await
        }
        Action::Admit { who } => {
            let id = knock(&state, &who)?;
            call.admit(&id)?;
            wait.until("the knock to be answered", |s| {
                !s.knocks.iter().any(|k| k.id == id)
            })
            .await
        }
        Action::Deny { who } => {
            let id = knock(&state, &who)?;
            call.deny(&id)?;
            wait.until("the knock to be answered", |s| {
                !s.knocks.iter().any(|k| k.id == id)
            })
            .await
        }
        Action::Remove { who } => {
            let id = participant(&state, &who)?;
            call.remove(&id)?;
            wait.until("the removal", |s| {
                !s.participants.iter().any(|p| p.id == id)
            })
            .await
        }
        Action::Unban { ban } => {
            let found = state
                .bans
                .iter()
                .find(|b| b.id == ban)
                .or_else(|| {
                    only(
                        state
                            .bans
                            .iter()
                            .filter(|b| b.name.eq_ignore_ascii_case(&ban)),
                    )
                })
                .map(|b| b.id.clone())
                .ok_or_else(|| Failure::new(format!("no ban {ban:?} (see `host … list`)")))?;
            call.unban(&found)?;
            wait.until("the ban to be lifted", |s| {
                !s.bans.iter().any(|b| b.id == found)
            })
            .await
        }
        Action::Mute { who, video } => {
            let id = participant(&state, &who)?;
            call.mute(&id, video)?;
            wait.until("the mute", |s| {
                s.participants
                    .iter()
                    .any(|p| p.id == id && !p.audio_on && !(video && p.video_on))
            })
            .await
        }
        Action::AskMute { who } => {
            let id = participant(&state, &who)?;
            call.ask_mute(&id)?;
            // Nothing visible happens; only a refusal would come back.
            wait.settle(Duration::from_secs(1)).await
        }
        Action::Cohost { who, off } => {
            let id = participant(&state, &who)?;
            call.set_cohost(&id, !off)?;
            let want = if off {
                salon_core::Role::Guest
            } else {
                salon_core::Role::Cohost
            };
            wait.until("the new role", |s| {
                s.participants.iter().any(|p| p.id == id && p.role == want)
            })
            .await
        }
        Action::Panic { state: switch } => {
            let on = switch == Switch::On;
            call.set_panic(on)?;
            wait.until("panic", |s| s.panic == on).await
        }
        Action::Rotate => {
            let before = state.room_id.clone();
            call.rotate_link()?;
            wait.until("the new link", |s| s.room_id != before).await?;
            println!("{}", call.state().link);
            Ok(())
        }
        Action::End => {
            call.end_room()?;
            wait.until("the end of the call", |s| {
                matches!(
                    s.connection,
                    ConnectionStatus::Ended {
                        reason: EndReason::RoomEnded
                    }
                )
            })
            .await
        }
    }
}

/// Polls the call until an action shows, a refusal arrives, the call ends, or time runs out.
struct Waiter<'a> {
    call: &'a Call,
    refusals: &'a Refusals,
    timeout: Duration,
}

impl Waiter<'_> {
    async fn until(&self, what: &str, done: impl Fn(&RoomState) -> bool) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            if let Some(refused) = self.refusals.first() {
                return Err(Failure::new(format!("the server refused: {refused}")));
            }
            let state = self.call.state();
            if done(&state) {
                return Ok(());
            }
            if let ConnectionStatus::Ended { reason } = &state.connection {
                crate::ended(reason)?;
                return Err(Failure::new("the call ended"));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Failure::new(format!("timed out waiting for {what}")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits `quiet` for a refusal; none means the server took it.
    async fn settle(&self, quiet: Duration) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + quiet;
        self.until("nothing", |_| tokio::time::Instant::now() >= deadline)
            .await
    }
}

/// The one item of `items`, if there is exactly one.
fn only<T>(mut items: impl Iterator<Item = T>) -> Option<T> {
    let first = items.next()?;
    items.next().is_none().then_some(first)
}

/// A participant by id, or by name when exactly one person has it.
fn participant(state: &RoomState, who: &str) -> Result<String, Failure> {
    if let Some(p) = state.participants.iter().find(|p| p.id == who) {
        return Ok(p.id.clone());
    }
    let named: Vec<_> = state
        .participants
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(who))
        .collect();
    match named.as_slice() {
        [p] => Ok(p.id.clone()),
        [] => Err(Failure::new(format!(
            "nobody called {who:?} is in the room (see `host … list`)"
        ))),
        _ => Err(Failure::new(format!(
            "several people are called {who:?}: use their id (see `host … list`)"
        ))),
    }
}

/// Someone waiting in the lobby, by knock id or name.
fn knock(state: &RoomState, who: &str) -> Result<String, Failure> {
    state
        .knocks
        .iter()
        .find(|k| k.id == who)
        .or_else(|| {
            only(
                state
                    .knocks
                    .iter()
                    .filter(|k| k.name.eq_ignore_ascii_case(who)),
            )
        })
        .map(|k| k.id.clone())
        .ok_or_else(|| Failure::new(format!("nobody {who:?} is waiting (see `host … list`)")))
}

/// The room as JSON for `list`.
fn describe(s: &RoomState) -> String {
    let role = |r: salon_core::Role| format!("{r:?}").to_lowercase();
    let value = serde_json::json!({
        "room_id": s.room_id,
        "link": s.link,
        "name": s.room_name,
        "locked": s.locked,
        "panic": s.panic,
        "me": { "id": s.me, "role": role(s.role) },
        "participants": s.participants.iter().map(|p| serde_json::json!({
            "id": p.id, "name": p.name, "role": role(p.role),
            "audio_on": p.audio_on, "video_on": p.video_on,
        })).collect::<Vec<_>>(),
        "knocks": s.knocks.iter().map(|k| serde_json::json!({
            "id": k.id, "name": k.name, "denied_before": k.denied_before,
        })).collect::<Vec<_>>(),
        "bans": s.bans.iter().map(|b| serde_json::json!({
            "id": b.id, "name": b.name, "at": b.at,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
