//! Host controls through the core against a real server: the owner joins with the stored host
//! key, locks, answers knocks, removes (and the removal sticks to the device), mutes, rotates
//! the link and ends the room; guests' host actions are refused.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use salon_core::{
    Call, CallConfig, CallEvent, CallListener, Client, ConnectionStatus, CoreError, EndReason,
    Refusal, Role, RoomState,
};
use tokio::net::{TcpListener, TcpSocket};

#[derive(Default)]
struct Recorder {
    states: Mutex<Vec<RoomState>>,
    events: Mutex<Vec<CallEvent>>,
}

impl CallListener for Recorder {
    fn on_state_changed(&self, state: RoomState) {
        self.states.lock().unwrap().push(state);
    }

    fn on_event(&self, event: CallEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn events(&self) -> Vec<CallEvent> {
        self.events.lock().unwrap().clone()
    }

    fn refusals(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    CallEvent::Refused {
                        reason: Refusal::NotAllowed,
                        ..
                    }
                )
            })
            .count()
    }
}

struct Setup {
    server: salon_server::Server,
    dir: tempfile::TempDir,
    owner_client: Client,
    link: String,
}

async fn setup() -> Setup {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().join("server"));
    let server = salon_server::start(&config).await.unwrap();
    let owner_client = Client::open(&dir.path().join("owner")).unwrap();
    let room = owner_client
        .create_room(&server.url(), Some("Host test"))
        .await
        .unwrap();
    Setup {
        server,
        dir,
        owner_client,
        link: room.link,
    }
}

/// No media is needed for host controls: join with microphone and camera off unless asked.
fn quiet(name: &str) -> CallConfig {
    let mut config = CallConfig::new(name);
    config.audio_on = false;
    config.video_on = false;
    config
}

async fn join(
    client: &Client,
    link: &str,
    config: CallConfig,
) -> Result<(Call, Arc<Recorder>), CoreError> {
    let recorder = Arc::new(Recorder::default());
    let call = client
        .join(
            link,
            config,
            Some(recorder.clone() as Arc<dyn CallListener>),
            None,
            None,
        )
        .await?;
    Ok((call, recorder))
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(f(), "timed out waiting for {what}");
}

fn ended(call: &Call) -> Option<EndReason> {
    match call.state().connection {
        ConnectionStatus::Ended { reason } => Some(reason),
        _ => None,
    }
}

/// A TCP relay to the server whose outgoing connections come from `from` (another loopback
/// address), so the server sees a different network address; `cut` drops its connections.
struct Relay {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: SocketAddr, from: [u8; 4]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let list = conns.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let handle = tokio::spawn(async move {
                    let socket = TcpSocket::new_v4().unwrap();
                    socket.bind(SocketAddr::from((from, 0))).unwrap();
                    if let Ok(mut outbound) = socket.connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(handle);
            }
        });
        Self { addr, conns }
    }

    /// `link` with the server's address replaced by the relay's.
    fn link(&self, link: &str, server: SocketAddr) -> String {
        link.replace(&server.to_string(), &self.addr.to_string())
    }

    fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_locks_and_answers_knocks() {
    let s = setup().await;
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    assert_eq!(
        owner.state().role,
        Role::Owner,
        "the stored host key goes along"
    );
    assert_eq!(owner.state().connection, ConnectionStatus::Connected);

    owner.set_locked(true).unwrap();
    wait_for("the lock", || owner.state().locked).await;

    // A guest knocks: the join returns in the lobby, and the owner sees the knock.
    let guest_client = Client::in_memory().unwrap();
    let (guest, _) = join(&guest_client, &s.link, quiet("Guest")).await.unwrap();
    assert!(matches!(
        guest.state().connection,
        ConnectionStatus::Waiting { host_present: true }
    ));
    assert_eq!(guest.state().room_name.as_deref(), Some("Host test"));
    assert!(guest.state().participants.is_empty());
    // Host actions need a seat in the room.
    assert!(matches!(
        guest.set_locked(false),
        Err(CoreError::Network { .. })
    ));
    wait_for("the knock", || owner.state().knocks.len() == 1).await;
    let knock = owner.state().knocks[0].clone();
    assert_eq!(knock.name, "Guest");

    owner.admit(&knock.id).unwrap();
    wait_for("the guest to get in", || {
        guest.state().connection == ConnectionStatus::Connected
    })
    .await;
    let guest_id = guest.state().me.unwrap();
    wait_for("the owner to see the guest", || {
        owner.state().participants.iter().any(|p| p.id == guest_id)
    })
    .await;
    assert!(owner.state().knocks.is_empty());
    assert_eq!(guest.state().role, Role::Guest);
    assert!(guest.state().locked);
    assert_eq!(
        guest
            .state()
            .participants
            .iter()
            .map(|p| p.role)
            .collect::<Vec<_>>(),
        vec![Role::Owner]
    );

    // A second knock is turned away: that call ends for good.
    let other_client = Client::in_memory().unwrap();
    let (other, other_events) = join(&other_client, &s.link, quiet("Other")).await.unwrap();
    wait_for("the second knock", || owner.state().knocks.len() == 1).await;
    owner.deny(&owner.state().knocks[0].id).unwrap();
    wait_for("the denial", || {
        ended(&other) == Some(EndReason::KnockDenied)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        other_events
            .states
            .lock()
            .unwrap()
            .iter()
            .all(|s| !matches!(s.connection, ConnectionStatus::Reconnecting { .. })),
        "a denied knock must not reconnect"
    );
    owner.leave().await;
    guest.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_in_the_lobby_does_not_time_out_and_can_be_left() {
    let s = setup().await;
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    owner.set_locked(true).unwrap();
    wait_for("the lock", || owner.state().locked).await;

    let guest_client = Client::in_memory().unwrap();
    let (guest, _) = join(&guest_client, &s.link, quiet("Patient"))
        .await
        .unwrap();
    wait_for("the knock", || owner.state().knocks.len() == 1).await;
    // Longer than the join's own timeout and the 15 s keep-alive.
    tokio::time::sleep(Duration::from_secs(17)).await;
    assert!(
        matches!(guest.state().connection, ConnectionStatus::Waiting { .. }),
        "{:?}",
        guest.state().connection
    );
    assert_eq!(owner.state().knocks.len(), 1);

    guest.leave().await;
    assert_eq!(ended(&guest), Some(EndReason::Left));
    wait_for("the knock to end", || owner.state().knocks.is_empty()).await;
    owner.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_sticks_to_the_device_until_the_ban_is_lifted() {
    let s = setup().await;
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    let guest_client = Client::open(&s.dir.path().join("guest")).unwrap();
    let (guest, guest_events) = join(&guest_client, &s.link, quiet("Troll")).await.unwrap();
    let guest_id = guest.state().me.unwrap();
    wait_for("the owner to see the guest", || {
        owner.state().participants.len() == 1
    })
    .await;

    owner.remove(&guest_id).unwrap();
    wait_for("the removal", || ended(&guest) == Some(EndReason::Removed)).await;
    wait_for("the owner's view", || {
        owner.state().participants.is_empty()
            && owner.state().locked
            && owner.state().bans.len() == 1
    })
    .await;
    assert_eq!(owner.state().bans[0].name, "Troll");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        guest_events
            .states
            .lock()
            .unwrap()
            .iter()
            .all(|s| !matches!(s.connection, ConnectionStatus::Reconnecting { .. })),
        "a removed guest must not reconnect"
    );

    // From another address (the server would also ban the old one), the same core — the same
    // device id — is still refused, under any name.
    let relay = Relay::start(s.server.addr, [127, 0, 0, 3]).await;
    let elsewhere = relay.link(&s.link, s.server.addr);
    let err = join(&guest_client, &elsewhere, quiet("Nice person"))
        .await
        .err()
        .unwrap();
    assert_eq!(err, CoreError::Removed);
    // Someone else from that address is not banned: the room is locked, so they knock.
    let stranger_client = Client::in_memory().unwrap();
    let (stranger, _) = join(&stranger_client, &elsewhere, quiet("Stranger"))
        .await
        .unwrap();
    assert!(matches!(
        stranger.state().connection,
        ConnectionStatus::Waiting { .. }
    ));
    stranger.leave().await;

    // The ban is lifted: the same device may knock again.
    owner.unban(&owner.state().bans[0].id).unwrap();
    wait_for("the ban to go", || owner.state().bans.is_empty()).await;
    let (back, _) = join(&guest_client, &elsewhere, quiet("Troll"))
        .await
        .unwrap();
    assert!(matches!(
        back.state().connection,
        ConnectionStatus::Waiting { .. }
    ));
    back.leave().await;
    owner.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_cannot_act_as_hosts_until_named_cohost() {
    let s = setup().await;
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    let owner_id = owner.state().me.unwrap();
    let guest_client = Client::in_memory().unwrap();
    let (guest, events) = join(&guest_client, &s.link, quiet("Guest")).await.unwrap();
    let guest_id = guest.state().me.unwrap();

    guest.set_locked(true).unwrap();
    guest.remove(&owner_id).unwrap();
    guest.set_panic(true).unwrap();
    guest.rotate_link().unwrap();
    guest.end_room().unwrap();
    wait_for("five refusals", || events.refusals() == 5).await;
    let state = owner.state();
    assert!(!state.locked && !state.panic);
    assert_eq!(state.participants.len(), 1);
    assert_eq!(guest.state().connection, ConnectionStatus::Connected);
    assert!(matches!(
        guest.remove("not a valid id!"),
        Err(CoreError::InvalidInput { .. })
    ));

    // Named co-host, the guest may lock; the owner still outranks them.
    owner.set_cohost(&guest_id, true).unwrap();
    wait_for("the new role", || guest.state().role == Role::Cohost).await;
    guest.set_locked(true).unwrap();
    wait_for("the lock", || owner.state().locked).await;
    guest.remove(&owner_id).unwrap();
    wait_for("a refusal", || events.refusals() == 6).await;
    assert_eq!(owner.state().connection, ConnectionStatus::Connected);
    owner.leave().await;
    guest.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_mute_turns_the_guests_microphone_off() {
    let s = setup().await;
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    let guest_client = Client::in_memory().unwrap();
    let (guest, events) = join(&guest_client, &s.link, CallConfig::new("Loud"))
        .await
        .unwrap();
    let guest_id = guest.state().me.unwrap();
    assert!(guest.state().microphone_on && guest.state().camera_on);

    owner.ask_mute(&guest_id).unwrap();
    wait_for("the request", || {
        events
            .events()
            .contains(&CallEvent::MuteRequested { by: "Owner".into() })
    })
    .await;
    assert!(guest.state().microphone_on, "asking is only asking");

    owner.mute(&guest_id, false).unwrap();
    wait_for("the mute", || {
        events.events().contains(&CallEvent::Muted {
            by: "Owner".into(),
            microphone_on: false,
            camera_on: true,
        })
    })
    .await;
    assert!(!guest.state().microphone_on && guest.state().camera_on);
    wait_for("the owner's view", || {
        owner
            .state()
            .participants
            .iter()
            .any(|p| p.id == guest_id && !p.audio_on && p.video_on)
    })
    .await;

    // Panic: everything off, and the guest cannot turn it back on until it is released.
    owner.set_panic(true).unwrap();
    wait_for("panic", || guest.state().panic && !guest.state().camera_on).await;
    assert!(matches!(
        guest.set_microphone(true),
        Err(CoreError::NotAllowed { .. })
    ));
    owner.set_panic(false).unwrap();
    wait_for("the release", || !guest.state().panic).await;
    guest.set_microphone(true).unwrap();
    wait_for("the guest's microphone on again", || {
        owner
            .state()
            .participants
            .iter()
            .any(|p| p.id == guest_id && p.audio_on)
    })
    .await;
    assert!(guest.state().microphone_on);
    owner.leave().await;
    guest.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_link_moves_my_room_and_resumes_use_it() {
    let s = setup().await;
    let old_id = s.owner_client.my_rooms().unwrap()[0].id.clone();
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    // The guest goes through a relay the test can cut.
    let relay = Relay::start(s.server.addr, [127, 0, 0, 1]).await;
    let guest_client = Client::in_memory().unwrap();
    let (guest, _) = join(
        &guest_client,
        &relay.link(&s.link, s.server.addr),
        quiet("Guest"),
    )
    .await
    .unwrap();
    let guest_id = guest.state().me.unwrap();

    owner.rotate_link().unwrap();
    wait_for("the new id", || owner.state().room_id != old_id).await;
    let new_id = owner.state().room_id;
    // The new link is the room's new id with a new secret (the room is end-to-end
    // encrypted): whoever held the old link learns nothing from the new one.
    let (old_base, old_secret) = s.link.split_once("#k=").unwrap();
    wait_for("the new secret", || {
        owner.state().link.contains("#k=") && !owner.state().link.ends_with(old_secret)
    })
    .await;
    let link = owner.state().link;
    let (base, secret) = link.split_once("#k=").unwrap();
    assert_eq!(base, old_base.replace(&old_id, &new_id));
    assert_eq!(secret.len(), 43);
    // The guest hears of the new id, and gets the new secret from the owner.
    wait_for("the guest to hear of it", || {
        guest.state().room_id == new_id && guest.state().link.ends_with(&format!("#k={secret}"))
    })
    .await;
    wait_for("my rooms to follow", || {
        s.owner_client.my_rooms().unwrap()[0].id == new_id
    })
    .await;
    let mine = &s.owner_client.my_rooms().unwrap()[0];
    assert_eq!(mine.link, owner.state().link);
    assert_eq!(
        s.owner_client.room_status(&s.link).await.unwrap_err(),
        CoreError::RoomNotFound
    );
    assert_eq!(
        s.owner_client
            .room_status(&mine.link)
            .await
            .unwrap()
            .participants,
        2
    );

    // The guest's connection drops: it comes back through the new id, as itself.
    relay.cut();
    let mut saw_reconnecting = false;
    wait_for("the guest to resume", || {
        match guest.state().connection {
            ConnectionStatus::Reconnecting { .. } => saw_reconnecting = true,
            ConnectionStatus::Connected => return saw_reconnecting,
            _ => {}
        }
        false
    })
    .await;
    assert_eq!(guest.state().me.as_deref(), Some(guest_id.as_str()));
    assert_eq!(owner.state().participants.len(), 1);

    // The owner of the moved room still joins as owner.
    owner.leave().await;
    let (again, _) = join(&s.owner_client, &mine.link, quiet("Owner"))
        .await
        .unwrap();
    assert_eq!(again.state().role, Role::Owner);
    again.leave().await;
    guest.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_the_room_ends_every_call_without_reconnecting() {
    let s = setup().await;
    let (owner, _) = join(&s.owner_client, &s.link, quiet("Owner"))
        .await
        .unwrap();
    let guest_client = Client::in_memory().unwrap();
    let (guest, guest_events) = join(&guest_client, &s.link, quiet("Guest")).await.unwrap();
    owner.end_room().unwrap();
    wait_for("the end", || {
        ended(&guest) == Some(EndReason::RoomEnded) && ended(&owner) == Some(EndReason::RoomEnded)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ended(&guest), Some(EndReason::RoomEnded));
    assert!(
        guest_events
            .states
            .lock()
            .unwrap()
            .iter()
            .all(|s| !matches!(s.connection, ConnectionStatus::Reconnecting { .. }))
    );
    assert!(matches!(owner.set_locked(true), Err(CoreError::CallEnded)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_key_joins_as_a_guest_and_says_so() {
    let s = setup().await;
    let mut config = quiet("Pretender");
    config.host_key = Some("not-the-key-of-this-room".into());
    let client = Client::in_memory().unwrap();
    let (call, events) = join(&client, &s.link, config).await.unwrap();
    assert_eq!(call.state().role, Role::Guest);
    assert_eq!(events.refusals(), 1, "{:?}", events.events());
    // Each core keeps one device id.
    assert_eq!(client.device_id().unwrap(), client.device_id().unwrap());
    assert_ne!(
        client.device_id().unwrap(),
        s.owner_client.device_id().unwrap()
    );
    call.leave().await;
}
