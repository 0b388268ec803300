//! Drop-in presence from the command line:
//!
//! ```text
//! salon-cli door <link> open|close|auto [--minutes N] [--names|--no-names]
//! salon-cli card <link> --name NAME          # my friend card, with the presence key
//! salon-cli peek <link> [--json]
//! salon-cli friends add <card>
//! salon-cli friends list [--json]            # each friend with door_open, people, names
//! salon-cli friends watch [--json] [--seconds N] [--notify-every S]
//! salon-cli friends notify <id> on|off
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use salon_core::{Client, DoorMode, FriendPresence, PresenceListener, WatchOptions};
use tokio::sync::mpsc;

use crate::Failure;

#[derive(Clone, Copy, ValueEnum)]
pub enum DoorArg {
    /// Open: friends see the door open (and, with --names, who is inside).
    Open,
    /// Closed, even while you are inside.
    Close,
    /// Open while you are inside (the default).
    Auto,
}

#[derive(Args)]
pub struct DoorArgs {
    /// One of my rooms (its invite link).
    link: String,
    state: DoorArg,
    /// With `open`: close again (back to auto) after this many minutes (at most 7 days).
    #[arg(long)]
    minutes: Option<u32>,
    /// Show friends (and people with the link) the names of who is inside.
    #[arg(long, conflicts_with = "no_names")]
    names: bool,
    /// Show only whether the door is open and how many are inside.
    #[arg(long)]
    no_names: bool,
}

#[derive(Subcommand)]
pub enum FriendsCommand {
    /// Add a friend from their card (`https://…/friend?…` or `salon:friend?…`).
    Add { card: String },
    /// Every friend with their room's presence, asked once.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Follow every friend's presence live; one line per change.
    Watch {
        #[arg(long)]
        json: bool,
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long)]
        seconds: Option<u64>,
        /// At most one "door opened" per friend this often, in seconds.
        #[arg(long, default_value_t = 300)]
        notify_every: u64,
    },
    /// Be told (a `door_opened` line in `watch`) when this friend's door opens.
    Notify {
        id: i64,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

pub async fn door(client: &Client, args: DoorArgs) -> Result<(), Failure> {
    let mode = match args.state {
        DoorArg::Open => DoorMode::Open,
        DoorArg::Close => DoorMode::Closed,
        DoorArg::Auto => DoorMode::Auto,
    };
    let until = match (args.minutes, mode) {
        (None, _) => None,
        (Some(m), DoorMode::Open) if m > 0 && u64::from(m) <= 7 * 24 * 60 => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            i64::try_from(now + u64::from(m) * 60).ok()
        }
        (Some(_), DoorMode::Open) => {
            return Err(Failure::new("--minutes must be 1 to 10080 (7 days)"));
        }
        (Some(_), _) => return Err(Failure::new("--minutes goes with `open` only")),
    };
    let show_names = if args.names {
        Some(true)
    } else if args.no_names {
        Some(false)
    } else {
        None
    };
    let state = client.set_door(&args.link, mode, until, show_names).await?;
    let value = serde_json::json!({
        "door": match state.mode { DoorMode::Auto => "auto", DoorMode::Open => "open", DoorMode::Closed => "closed" },
        "until": state.until,
        "show_names": state.show_names,
        "door_open": state.door_open,
        "people": state.people,
    });
    println!("{value}");
    Ok(())
}

pub async fn card(client: &Client, link: &str, name: &str) -> Result<(), Failure> {
    println!("{}", client.my_friend_card(name, link).await?);
    Ok(())
}

pub async fn peek(client: &Client, link: &str, json: bool) -> Result<(), Failure> {
    let p = client.peek(link).await?;
    if json {
        let value = serde_json::json!({
            "room": p.room_id, "name": p.name, "door_open": p.door_open, "people": p.people,
            "names": p.names, "full": p.full, "locked": p.locked,
        });
        println!("{value}");
    } else {
        let names = p
            .names
            .map(|n| format!(": {}", n.join(", ")))
            .unwrap_or_default();
        println!(
            "{} — door {} · {} inside{names}",
            p.name.as_deref().unwrap_or("Unnamed room"),
            if p.door_open { "open" } else { "closed" },
            p.people,
        );
    }
    Ok(())
}

fn presence_json(p: &FriendPresence) -> serde_json::Value {
    serde_json::json!({
        "id": p.friend.id,
        "name": p.friend.name,
        "room_link": p.friend.room_link,
        "available": p.available,
        "connected": p.connected,
        "door_open": p.door_open,
        "until": p.until,
        "people": p.people,
        "names": p.names,
        "notify": p.friend.notify,
    })
}

fn presence_text(p: &FriendPresence) -> String {
    if !p.available {
        return format!("{} ({}): presence unavailable", p.friend.name, p.friend.id);
    }
    let names = p
        .names
        .as_ref()
        .filter(|n| !n.is_empty())
        .map(|n| format!(": {}", n.join(", ")))
        .unwrap_or_default();
    format!(
        "{} ({}): door {} · {} inside{names}",
        p.friend.name,
        p.friend.id,
        if p.door_open { "open" } else { "closed" },
        p.people
    )
}

enum Heard {
    Presence(Vec<FriendPresence>),
    Opened(FriendPresence),
}

struct Relay(mpsc::UnboundedSender<Heard>);

impl PresenceListener for Relay {
    fn on_presence(&self, friends: Vec<FriendPresence>) {
        let _ = self.0.send(Heard::Presence(friends));
    }
    fn on_door_opened(&self, friend: FriendPresence) {
        let _ = self.0.send(Heard::Opened(friend));
    }
}

pub async fn friends(client: &Client, command: FriendsCommand) -> Result<(), Failure> {
    match command {
        FriendsCommand::Add { card } => {
            let f = client.add_friend_from_card(&card)?;
            println!(
                "{}",
                serde_json::json!({
                    "id": f.id, "name": f.name, "room_link": f.room_link,
                    "presence": f.presence_key.is_some(),
                })
            );
            Ok(())
        }
        FriendsCommand::List { json } => {
            let all = client.friends_presence().await?;
            if json {
                let list: Vec<_> = all.iter().map(presence_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for p in &all {
                    println!("{}", presence_text(p));
                }
            }
            Ok(())
        }
        FriendsCommand::Notify { id, state } => {
            client.set_friend_notify(id, state == "on")?;
            Ok(())
        }
        FriendsCommand::Watch {
            json,
            seconds,
            notify_every,
        } => {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let options = WatchOptions {
                door_opened_every: Duration::from_secs(notify_every),
            };
            let watch = client.watch_presence(Arc::new(Relay(tx)), options)?;
            let deadline = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
            let mut last: HashMap<i64, serde_json::Value> = HashMap::new();
            loop {
                let heard = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, rx.recv()).await {
                        Ok(heard) => heard,
                        Err(_) => break,
                    },
                    None => rx.recv().await,
                };
                let Some(heard) = heard else { break };
                match heard {
                    Heard::Presence(all) => {
                        for p in &all {
                            let value = presence_json(p);
                            if last.get(&p.friend.id) == Some(&value) {
                                continue;
                            }
                            last.insert(p.friend.id, value.clone());
                            if json {
                                let mut line = value;
                                line["event"] = "presence".into();
                                println!("{line}");
                            } else {
                                println!("{}", presence_text(p));
                            }
                        }
                    }
                    Heard::Opened(p) => {
                        if json {
                            let mut line = presence_json(&p);
                            line["event"] = "door_opened".into();
                            println!("{line}");
                        } else {
                            println!("{}'s door opened", p.friend.name);
                        }
                    }
                }
            }
            watch.stop();
            Ok(())
        }
    }
}
