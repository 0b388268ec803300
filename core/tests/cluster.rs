//! Cluster mode from the client's side (issue 15): a signaling socket that reaches a node which
//! does not hold the room is answered `moved` and closed; the core follows (the same `join`
//! sent there), at most three moves in a row, only to valid `ws(s)://…/api/rooms/<id>/ws`
//! URLs. When the room's node dies, the core reconnects through the entry (the link's server),
//! which sends it on to the room's new owner. The "nodes" here are small fake WebSocket servers
//! in front of a real in-process `salon-server`.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wait_for;
use futures_util::{SinkExt as _, StreamExt as _};
use salon_core::{CallConfig, CallListener, Client, ConnectionStatus, CoreError, Role, RoomState};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const ROOM: &str = "abcdefghijklmnopqrstuv";

/// A fake node: answers the first message of every socket with `moved` (to what `to` says for
/// the n-th connection, 0-based) and closes it; keeps each first message.
struct FakeNode {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    firsts: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl FakeNode {
    async fn start(to: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let firsts: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let to = Arc::new(to);
        let (count, seen) = (connections.clone(), firsts.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (to, seen) = (to.clone(), seen.clone());
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Text(text) = message {
                            seen.lock()
                                .unwrap()
                                .push(serde_json::from_str(text.as_str()).unwrap());
                            let moved = serde_json::json!({ "type": "moved", "url": to(n) });
                            let _ = ws.send(Message::Text(moved.to_string().into())).await;
                            let _ = ws.close(None).await;
                            return;
                        }
                    }
                });
            }
        });
        Self {
            addr,
            connections,
            firsts,
        }
    }

    fn link(&self, room_id: &str) -> String {
        format!("http://{}/r/{room_id}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A node that can die: a TCP relay to a real server; `kill` cuts its connections and closes
/// its port (connections are refused from then on).
struct Relay {
    addr: std::net::SocketAddr,
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let list = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(handle);
            }
        });
        Self {
            addr,
            accept,
            conns,
        }
    }

    async fn kill(&self) {
        self.accept.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// Keeps every state the call went through.
#[derive(Default)]
struct States(Mutex<Vec<RoomState>>);

impl CallListener for States {
    fn on_state_changed(&self, state: RoomState) {
        self.0.lock().unwrap().push(state);
    }
}

impl States {
    fn ended(&self) -> Option<ConnectionStatus> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.connection.clone())
            .find(|c| matches!(c, ConnectionStatus::Ended { .. }))
    }
}

fn ws_url(addr: std::net::SocketAddr, room_id: &str) -> String {
    format!("ws://{addr}/api/rooms/{room_id}/ws")
}

/// The room id and secret part (`#k=…`) of an invite link.
fn split(link: &str) -> (String, String) {
    let (base, secret) = link.split_once('#').unwrap();
    let id = base.rsplit('/').next().unwrap().to_owned();
    (id, format!("#{secret}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_through_another_node_lands_after_one_move() {
    let (server, _dir) = common::server().await;
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let (id, secret) = split(&room.link);
    let owner = ws_url(server.addr, &id);
    let entry = FakeNode::start(move |_| owner.clone()).await;

    let mut config = CallConfig::new("Alice");
    config.host_key = Some(room.host_key.clone());
    let call = client
        .join(
            &format!("{}{secret}", entry.link(&id)),
            config,
            None,
            None,
            None,
        )
        .await
        .unwrap();
    let state = call.state();
    assert_eq!(state.connection, ConnectionStatus::Connected);
    assert_eq!(
        state.role,
        Role::Owner,
        "the host key went along to the owner"
    );
    assert_eq!(entry.connections(), 1);
    // The entry got the same join the owner did.
    let first = entry.firsts.lock().unwrap()[0].clone();
    assert_eq!(first["type"], "join");
    assert_eq!(first["name"], "Alice");
    assert_eq!(first["host_key"], room.host_key.as_str());
    assert_eq!(server.state.participants_in(&id).await, 1);
    call.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_in_a_loop_stop_with_a_clear_error_after_three() {
    let port = Arc::new(Mutex::new(None::<std::net::SocketAddr>));
    let me = port.clone();
    let node = FakeNode::start(move |_| ws_url(me.lock().unwrap().unwrap(), ROOM)).await;
    *port.lock().unwrap() = Some(node.addr);

    let client = Client::in_memory().unwrap();
    let error = client
        .join(&node.link(ROOM), CallConfig::new("Bob"), None, None, None)
        .await
        .err()
        .expect("a join that only ever moves must fail");
    assert!(
        matches!(&error, CoreError::Server { reason } if reason.contains("more than 3 times")),
        "{error:?}"
    );
    // The first connection and three moves followed; the fourth `moved` is refused.
    assert_eq!(node.connections(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_moved_url_is_refused() {
    // Where the invalid URLs point: nothing may connect here.
    let target = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_addr = target.local_addr().unwrap();
    let touched = Arc::new(AtomicBool::new(false));
    let flag = touched.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = target.accept().await {
            flag.store(true, Ordering::SeqCst);
            let mut buf = [0u8; 64];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.shutdown().await;
        }
    });
    let client = Client::in_memory().unwrap();
    for bad in [
        format!("http://{target_addr}/api/rooms/{ROOM}/ws"),
        format!("ws://user:pw@{target_addr}/api/rooms/{ROOM}/ws"),
        format!("ws://{target_addr}/api/rooms/{ROOM}"),
        format!("ws://{target_addr}/api/rooms/not-a-room/ws"),
        format!("ws://{target_addr}/api/rooms/{ROOM}/ws?x=1"),
        "definitely not a url".to_owned(),
    ] {
        let to = bad.clone();
        let node = FakeNode::start(move |_| to.clone()).await;
        let error = client
            .join(&node.link(ROOM), CallConfig::new("Eve"), None, None, None)
            .await
            .err()
            .unwrap_or_else(|| panic!("{bad} was followed"));
        assert!(
            matches!(&error, CoreError::Server { reason } if reason.contains("invalid address")),
            "{bad}: {error:?}"
        );
        assert_eq!(node.connections(), 1, "{bad}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !touched.load(Ordering::SeqCst),
        "an invalid moved URL was connected to"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_left_for_the_entry_which_sends_the_call_on() {
    let (server, _dir) = common::server().await;
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let (id, secret) = split(&room.link);
    // The room's first node is a relay to the server; once it dies, the entry points at the
    // server itself (the new owner).
    let node = Relay::start(server.addr).await;
    let dead = Arc::new(AtomicBool::new(false));
    let (relay_url, owner_url, is_dead) = (
        ws_url(node.addr, &id),
        ws_url(server.addr, &id),
        dead.clone(),
    );
    let entry = FakeNode::start(move |_| {
        if is_dead.load(Ordering::SeqCst) {
            owner_url.clone()
        } else {
            relay_url.clone()
        }
    })
    .await;

    let states = Arc::new(States::default());
    let mut config = CallConfig::new("Alice");
    config.host_key = Some(room.host_key.clone());
    let call = client
        .join(
            &format!("{}{secret}", entry.link(&id)),
            config,
            Some(states.clone()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(call.state().connection, ConnectionStatus::Connected);
    assert_eq!(entry.connections(), 1);
    let me = call.state().me.unwrap();

    dead.store(true, Ordering::SeqCst);
    node.kill().await;
    assert!(
        wait_for(Duration::from_secs(10), || matches!(
            call.state().connection,
            ConnectionStatus::Reconnecting { .. }
        ))
        .await,
        "the call did not notice its node died"
    );
    assert!(
        wait_for(Duration::from_secs(20), || call.state().connection
            == ConnectionStatus::Connected)
        .await,
        "the call did not come back through the entry: {:?}",
        call.state().connection
    );
    // The dead node refused, the entry sent the call on to the owner, which resumed it.
    assert_eq!(entry.connections(), 2);
    let resumed = entry.firsts.lock().unwrap()[1].clone();
    assert_eq!(resumed["resume"]["participant_id"], me.as_str());
    assert_eq!(call.state().me.as_deref(), Some(me.as_str()));
    assert_eq!(call.state().role, Role::Owner);
    assert_eq!(states.ended(), None, "a spurious end");
    call.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_owner_that_does_not_know_us_gets_a_full_rejoin_as_host() {
    // The first owner: a server behind a relay (the node that dies); the new owner: another
    // server on the same data folder (the room, its link and host key are durable; the live
    // room, and so our resume, are not).
    let dir = tempfile::tempdir().unwrap();
    let config = salon_server::config::Config::for_tests(dir.path().join("server"));
    let first = salon_server::start(&config).await.unwrap();
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&first.url(), None).await.unwrap();
    let (id, secret) = split(&room.link);
    let node = Relay::start(first.addr).await;
    let owner = Arc::new(Mutex::new(ws_url(node.addr, &id)));
    let pointed = owner.clone();
    let entry = FakeNode::start(move |_| pointed.lock().unwrap().clone()).await;

    let states = Arc::new(States::default());
    let mut call_config = CallConfig::new("Alice");
    call_config.host_key = Some(room.host_key.clone());
    let call = client
        .join(
            &format!("{}{secret}", entry.link(&id)),
            call_config,
            Some(states.clone()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(call.state().role, Role::Owner);
    let me = call.state().me.unwrap();

    // The owner's node dies; another takes the room over.
    let second = salon_server::start(&config).await.unwrap();
    *owner.lock().unwrap() = ws_url(second.addr, &id);
    node.kill().await;

    assert!(
        wait_for(Duration::from_secs(30), || {
            let state = call.state();
            state.connection == ConnectionStatus::Connected
                && state.me.as_deref().is_some_and(|m| m != me)
        })
        .await,
        "no full rejoin on the new owner: {:?}",
        call.state().connection
    );
    // The resume went there and was not recognized: a new participant, host by the host key.
    let resumed = entry.firsts.lock().unwrap()[1].clone();
    assert_eq!(resumed["resume"]["participant_id"], me.as_str());
    assert_eq!(resumed["host_key"], room.host_key.as_str());
    assert_eq!(
        call.state().role,
        Role::Owner,
        "the host key made us host again"
    );
    assert_eq!(second.state.participants_in(&id).await, 1);
    assert_eq!(states.ended(), None, "a spurious end");
    call.leave().await;
}

/// A node that holds a room and then gives it up: a WebSocket proxy to a real server that, on
/// `give_up`, tells its clients `moved` (to `to`) and closes them.
struct GivingUp {
    addr: std::net::SocketAddr,
    give_up: tokio::sync::watch::Sender<Option<String>>,
}

impl GivingUp {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (give_up, watch) = tokio::sync::watch::channel(None::<String>);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let mut path = String::new();
                    let Ok(mut client) = tokio_tungstenite::accept_hdr_async(
                        tcp,
                        |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                            path = req.uri().path().to_owned();
                            Ok(resp)
                        },
                    )
                    .await
                    else {
                        return;
                    };
                    let Ok((mut server, _)) =
                        tokio_tungstenite::connect_async(format!("ws://{target}{path}")).await
                    else {
                        return;
                    };
                    loop {
                        tokio::select! {
                            m = client.next() => match m {
                                Some(Ok(m)) => { if server.send(m).await.is_err() { return; } }
                                _ => return,
                            },
                            m = server.next() => match m {
                                Some(Ok(m)) => { if client.send(m).await.is_err() { return; } }
                                _ => return,
                            },
                            changed = watch.changed() => {
                                if changed.is_err() { return; }
                                let Some(to) = watch.borrow_and_update().clone() else { continue };
                                let moved = serde_json::json!({ "type": "moved", "url": to });
                                let _ = client.send(Message::Text(moved.to_string().into())).await;
                                let _ = client.close(None).await;
                                let _ = server.close(None).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self { addr, give_up }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_gives_the_room_up_sends_the_call_on_without_an_end() {
    let (server, _dir) = common::server().await;
    let client = Client::in_memory().unwrap();
    let room = client.create_room(&server.url(), None).await.unwrap();
    let (id, secret) = split(&room.link);
    let node = GivingUp::start(server.addr).await;
    let states = Arc::new(States::default());
    let mut config = CallConfig::new("Alice");
    config.host_key = Some(room.host_key.clone());
    // Entering through the node itself (as if it were the link's server).
    let call = client
        .join(
            &format!("http://{}/r/{id}{secret}", node.addr),
            config,
            Some(states.clone()),
            None,
            None,
        )
        .await
        .unwrap();
    let me = call.state().me.unwrap();
    assert_eq!(server.state.participants_in(&id).await, 1);

    node.give_up.send(Some(ws_url(server.addr, &id))).unwrap();
    // The call goes straight to the new node (no backoff) and resumes there.
    assert!(
        wait_for(Duration::from_secs(10), || {
            let seen = states.0.lock().unwrap();
            seen.iter()
                .any(|s| matches!(s.connection, ConnectionStatus::Reconnecting { .. }))
                && call.state().connection == ConnectionStatus::Connected
        })
        .await,
        "the call did not follow the move: {:?}",
        call.state().connection
    );
    assert_eq!(call.state().me.as_deref(), Some(me.as_str()));
    assert_eq!(call.state().role, Role::Owner);
    assert_eq!(states.ended(), None, "a spurious end");
    call.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_status_reads_the_cluster_fields() {
    // A tiny HTTP server answering the room look-up as a cluster node does (with a field this
    // client does not know).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = [
        serde_json::json!({
            "id": ROOM, "name": null, "participants": 2, "max_participants": 50, "full": false,
            "node": "node-b", "ws_url": format!("ws://10.0.0.2:8080/api/rooms/{ROOM}/ws"),
            "something_new": {"x": 1},
        }),
        serde_json::json!({
            "id": ROOM, "name": null, "participants": 0, "max_participants": 50, "full": false,
            "node": "node-c", "ws_url": format!("ftp://10.0.0.3/api/rooms/{ROOM}/ws"),
        }),
        serde_json::json!({
            "id": ROOM, "name": "Single", "participants": 0, "max_participants": 50, "full": false,
        }),
    ];
    tokio::spawn(async move {
        for body in bodies {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let body = body.to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            tcp.write_all(answer.as_bytes()).await.unwrap();
            let _ = tcp.shutdown().await;
        }
    });
    let client = Client::in_memory().unwrap();
    let link = format!("http://{addr}/r/{ROOM}");
    let status = client.room_status(&link).await.unwrap();
    assert_eq!(status.participants, 2);
    assert_eq!(status.node.as_deref(), Some("node-b"));
    assert_eq!(
        status.ws_url.as_deref(),
        Some(&*format!("ws://10.0.0.2:8080/api/rooms/{ROOM}/ws"))
    );
    // An unacceptable ws_url is dropped, the rest read.
    let status = client.room_status(&link).await.unwrap();
    assert_eq!(
        (status.ws_url, status.node.as_deref()),
        (None, Some("node-c"))
    );
    // A single server says neither.
    let status = client.room_status(&link).await.unwrap();
    assert_eq!((status.ws_url, status.node), (None, None));
    assert_eq!(status.name.as_deref(), Some("Single"));
}
