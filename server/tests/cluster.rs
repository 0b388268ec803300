//! Cluster mode (issue 15) with real parts: a `redis-server` and three `salon-server` processes
//! on loopback (`common::cluster`). One behaviour per test: guests meet on the room's owner
//! whatever node they enter through, placement under a burst, failover after `kill -9`, a
//! paused owner's stale writes, a new link, a drain, a Redis outage and a Redis restart,
//! presence through another node, and export/import between SQLite and Redis.
//!
//! Each test starts its own Redis and nodes; one cluster runs at a time (the harness takes a
//! lock), so the binary takes a few minutes in all.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::cluster::{
    Cluster, Gone, Guest, address, answers_ping, join, since, try_join, until_gone,
};
use common::rtc::RtcClient;
use common::{TestServer, eventually, lock};
use salon_protocol::{ClientMessage, ErrorCode, Role, ServerMessage};

const DEVICE_A: &str = "device-aaaaaaaaaaaa";
const DEVICE_B: &str = "device-bbbbbbbbbbbb";

/// Lets both clients handle signaling for `d`.
async fn pump_both(a: &mut RtcClient, b: &mut RtcClient, d: Duration) {
    tokio::join!(a.pump(d), b.pump(d));
}

/// Audio packets each received from the other.
fn audio_between(a: &RtcClient, b: &RtcClient) -> (u64, u64) {
    (
        a.received_from(&b.id).audio_packets,
        b.received_from(&a.id).audio_packets,
    )
}

/// Whether each of the two receives `more` audio packets from the other within `within`.
async fn flows(a: &mut RtcClient, b: &mut RtcClient, more: u64, within: Duration) -> bool {
    let (a0, b0) = audio_between(a, b);
    eventually(within, async || {
        pump_both(a, b, Duration::from_millis(250)).await;
        let (a1, b1) = audio_between(a, b);
        a1 >= a0 + more && b1 >= b0 + more
    })
    .await
}

/// The ids of the participants a `joined` lists.
fn listed(reply: &Option<ServerMessage>) -> BTreeSet<String> {
    match reply {
        Some(ServerMessage::Joined { participants, .. }) => {
            participants.iter().map(|p| p.id.clone()).collect()
        }
        other => panic!("expected joined, got {other:?}"),
    }
}

/// Waits (bounded) until a look-up through node `via` names a node other than `old`; returns
/// that node's id and WebSocket URL.
async fn new_owner(
    c: &Cluster,
    via: usize,
    link: &str,
    old: &str,
    within: Duration,
) -> (String, String) {
    let mut found = None;
    let mut last = (0, serde_json::Value::Null);
    let moved = eventually(within, async || {
        let (status, body) = c.look_up(via, link).await;
        let answer = match (status, body["node"].as_str(), body["ws_url"].as_str()) {
            (200, Some(node), Some(ws)) if node != old => Some((node.to_owned(), ws.to_owned())),
            _ => None,
        };
        last = (status, body);
        found = answer;
        found.is_some()
    })
    .await;
    assert!(
        moved,
        "no other node took the room within {within:?}; last look-up through {}: {} {}",
        c.node(via).id,
        last.0,
        last.1
    );
    found.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn guests_entering_through_different_nodes_meet_on_the_owner() {
    let c = Cluster::start().await;
    let (link, _key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(1, &link).await;
    for i in 0..3 {
        let (node, url, _) = c.owner_via(i, &link).await;
        assert_eq!(
            (&node, &url),
            (&owner, &ws),
            "look-up through {}",
            c.node(i).id
        );
    }
    let o = c.index_of(&owner);
    assert_eq!(
        ws,
        c.node(o).ws_url(&link),
        "ws_url is the owner's own address"
    );

    let mut ann = join(&c.node(0).ws_url(&link), Guest::new("Ann", address(11))).await;
    let mut bob = join(&c.node(1).ws_url(&link), Guest::new("Bob", address(12))).await;
    let cat = join(&c.node(2).ws_url(&link), Guest::new("Cat", address(13))).await;
    for (entry, i) in [(&ann, 0), (&bob, 1), (&cat, 2)] {
        assert_eq!(entry.url, ws, "entered through {}", c.node(i).id);
        assert_eq!(
            entry.moves,
            usize::from(i != o),
            "moves through {}",
            c.node(i).id
        );
    }
    let (ann_id, _) = ann.participant();
    let (bob_id, _) = bob.participant();
    let (cat_id, _) = cat.participant();
    assert!(listed(&ann.reply).is_empty());
    assert_eq!(listed(&bob.reply), BTreeSet::from([ann_id.clone()]));
    assert_eq!(listed(&cat.reply), BTreeSet::from([ann_id, bob_id.clone()]));
    for (client, want) in [
        (&mut ann.client, vec![&bob_id, &cat_id]),
        (&mut bob.client, vec![&cat_id]),
    ] {
        for id in want {
            client
                .recv_until(|m| {
                    matches!(m, ServerMessage::ParticipantJoined { participant } if participant.id == *id)
                        .then_some(())
                })
                .await;
        }
    }

    // Media between two participants whose look-ups went through two other nodes.
    let (_, ws_b, _) = c.owner_via((o + 1) % 3, &link).await;
    let (_, ws_c, _) = c.owner_via((o + 2) % 3, &link).await;
    let mut x = RtcClient::join(&ws_b, "Xavier").await;
    let mut y = RtcClient::join(&ws_c, "Yvonne").await;
    assert!(
        flows(&mut x, &mut y, 20, Duration::from_secs(20)).await,
        "no audio between the two: {:?}",
        audio_between(&x, &y)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn look_ups_through_any_node_count_the_owners_participants() {
    let c = Cluster::start().await;
    let (link, _key) = c.create_room(0).await;
    let mut inside = Vec::new();
    for i in 0..3u16 {
        let url = c.node(usize::from(i)).ws_url(&link);
        inside.push(join(&url, Guest::new("Guest", address(20 + i))).await);
        assert!(inside.last().unwrap().joined());
    }
    let counted = eventually(Duration::from_secs(3), async || {
        let mut all = true;
        for i in 0..3 {
            all &= c.look_up(i, &link).await.1["participants"] == 3;
        }
        all
    })
    .await;
    let mut seen = Vec::new();
    for i in 0..3 {
        seen.push(c.look_up(i, &link).await.1["participants"].clone());
    }
    assert!(counted, "participants seen through n1, n2, n3: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_first_look_ups_or_joins_places_the_room_once_and_fifty_get_in() {
    let c = Cluster::start().await;
    let (link, _key) = c.create_room(0).await;
    let answers = futures_util::future::join_all((0..20).map(|i| c.look_up(i % 3, &link))).await;
    let owners: BTreeSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["node"]
                .as_str()
                .unwrap_or_else(|| panic!("no node: {body}"))
                .to_owned()
        })
        .collect();
    assert_eq!(owners.len(), 1, "20 look-ups named {owners:?}");
    let owner = owners.into_iter().next().unwrap();
    // One claim: the room's epoch counter was taken once.
    let epochs = c.redis.values("salon:epoch:*").await;
    assert_eq!(epochs.len(), 1, "{epochs:?}");
    assert_eq!(
        epochs[0].1, "1",
        "the room was claimed more than once: {epochs:?}"
    );
    let ws = c.node(c.index_of(&owner)).ws_url(&link);

    let names: Vec<String> = (0..60).map(|i| format!("Guest {i}")).collect();
    let entries = futures_util::future::join_all((0..60u16).map(|i| {
        let url = c.node(usize::from(i % 3)).ws_url(&link);
        let name = &names[usize::from(i)];
        async move { try_join(&url, Guest::new(name, address(100 + i))).await }
    }))
    .await;
    let (mut joined, mut full, mut other) = (0, 0, Vec::new());
    for entry in &entries {
        match entry {
            Ok(e) if e.joined() => {
                joined += 1;
                assert_eq!(e.url, ws, "joined somewhere else than the owner");
            }
            Ok(e) if e.error() == Some(ErrorCode::RoomFull) => full += 1,
            Ok(e) => other.push(format!("{:?} at {}", e.reply, e.url)),
            Err(e) => other.push(e.clone()),
        }
    }
    assert!(other.is_empty(), "unexpected answers: {other:?}");
    assert_eq!((joined, full), (50, 10), "joined, refused as full");
    let (_, body) = c.look_up(c.index_of(&owner), &link).await;
    assert_eq!(body["participants"], 50, "{body}");

    // 20 concurrent first joins (no look-up before) of another room, through the three nodes:
    // all land in one room on one owner.
    let (other_link, _) = c.create_room(1).await;
    let names: Vec<String> = (0..20).map(|i| format!("First {i}")).collect();
    let entries = futures_util::future::join_all((0..20u16).map(|i| {
        let url = c.node(usize::from(i % 3)).ws_url(&other_link);
        let name = &names[usize::from(i)];
        async move { join(&url, Guest::new(name, address(200 + i))).await }
    }))
    .await;
    let landed: BTreeSet<&str> = entries.iter().map(|e| e.url.as_str()).collect();
    assert_eq!(landed.len(), 1, "20 first joins landed on {landed:?}");
    assert!(entries.iter().all(common::cluster::Entry::joined));
    let (_, body) = c.look_up(0, &other_link).await;
    assert_eq!(body["participants"], 20, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_kill_9_of_the_owner_the_room_works_on_a_survivor_with_key_lock_and_bans() {
    let mut c = Cluster::start().await;
    let (link, key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(0, &link).await;
    let o = c.index_of(&owner);
    let mut host = join(&ws, Guest::host("Owner", &key)).await;
    assert_eq!(host.participant().1, Role::Owner);
    let troll = join(&ws, Guest::new("Troll", address(10)).device(DEVICE_A)).await;
    let (troll_id, _) = troll.participant();
    lock(&mut host.client).await;
    host.client
        .send(&ClientMessage::Remove {
            participant_id: troll_id,
        })
        .await;
    host.client
        .recv_until(|m| matches!(m, ServerMessage::Bans { bans } if !bans.is_empty()).then_some(()))
        .await;

    let killed = Instant::now();
    c.nodes[o].kill9();
    let survivors = c.others(o);
    let (next, ws2) = new_owner(&c, survivors[0], &link, &owner, Duration::from_secs(15)).await;
    assert!(
        survivors.contains(&c.index_of(&next)),
        "{next} is not a survivor"
    );
    let mut host2 = join(&ws2, Guest::host("Owner", &key)).await;
    match &host2.reply {
        Some(ServerMessage::Joined { role, room, .. }) => {
            assert_eq!(*role, Role::Owner, "the host key still makes you host");
            assert!(room.locked, "the lock survived");
            assert_eq!(room.id, link);
        }
        other => panic!("the host could not join on {next}: {other:?}"),
    }
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "the room worked again only after {:.1} s",
        since(killed)
    );
    let bans = host2
        .client
        .recv_until(|m| match m {
            ServerMessage::Bans { bans } => Some(bans.clone()),
            _ => None,
        })
        .await;
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].name, "Troll");

    for (n, i) in survivors.iter().copied().enumerate() {
        let n = u16::try_from(n).unwrap();
        let url = c.node(i).ws_url(&link);
        let (status, body) = c.look_up(i, &link).await;
        assert_eq!(
            (status, &body["locked"]),
            (200, &serde_json::json!(true)),
            "{body}"
        );
        // The banned device from a new address, and the banned address without a device.
        let e = join(
            &url,
            Guest::new("Nice Person", address(20 + n)).device(DEVICE_A),
        )
        .await;
        assert_eq!(
            e.error(),
            Some(ErrorCode::Removed),
            "device through {}: {:?}",
            c.node(i).id,
            e.reply
        );
        let e = join(&url, Guest::new("Anon", address(10))).await;
        assert_eq!(
            e.error(),
            Some(ErrorCode::Removed),
            "address through {}: {:?}",
            c.node(i).id,
            e.reply
        );
        // Anyone else knocks: the room is still locked.
        let e = join(&url, Guest::new("Friend", address(30 + n)).device(DEVICE_B)).await;
        assert!(
            matches!(e.reply, Some(ServerMessage::Waiting { .. })),
            "a new guest through {}: {:?}",
            c.node(i).id,
            e.reply
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_paused_past_its_lease_drops_its_sessions_and_its_writes_fail() {
    let c = Cluster::start().await;
    let (link, key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(0, &link).await;
    let o = c.index_of(&owner);
    let survivors = c.others(o);
    let mut old_host = join(&ws, Guest::host("Owner", &key)).await;
    assert_eq!(old_host.participant().1, Role::Owner);
    let mut old_guest = join(&ws, Guest::new("Guest", address(11))).await;
    assert!(old_guest.joined());

    let stopped = Instant::now();
    c.node(o).signal("STOP");
    let (next, ws2) = new_owner(&c, survivors[0], &link, &owner, Duration::from_secs(20)).await;
    let mut new_host = join(&ws2, Guest::host("Owner", &key)).await;
    match &new_host.reply {
        Some(ServerMessage::Joined { role, room, .. }) => {
            assert_eq!(*role, Role::Owner);
            assert!(!room.locked);
        }
        other => panic!("the host could not join on {next}: {other:?}"),
    }
    // The paused owner's host locks the room: the kernel holds the message until the node
    // runs again, with a lease that is no longer its own.
    old_host
        .client
        .send(&ClientMessage::SetLocked { locked: true })
        .await;
    let lease = Duration::from_secs(12);
    if let Some(rest) = lease.checked_sub(stopped.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    c.node(o).signal("CONT");
    let resumed = Instant::now();
    let (host_gone, guest_gone) = tokio::join!(
        until_gone(&mut old_host.client, Duration::from_secs(5)),
        until_gone(&mut old_guest.client, Duration::from_secs(5)),
    );
    assert_ne!(
        host_gone,
        Gone::StillThere,
        "the old owner kept its host's session"
    );
    assert_ne!(
        guest_gone,
        Gone::StillThere,
        "the old owner kept its guest's session"
    );
    eprintln!(
        "old owner's sessions after SIGCONT ({:.1} s): host {host_gone:?}, guest {guest_gone:?}",
        since(resumed)
    );

    // Its stale lock changed nothing: every node shows the survivor's state.
    for i in 0..3 {
        let (status, body) = c.look_up(i, &link).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["node"],
            next.as_str(),
            "look-up through {}: {body}",
            c.node(i).id
        );
        assert_eq!(
            body["locked"],
            false,
            "look-up through {}: {body}",
            c.node(i).id
        );
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(m) = tokio::time::timeout_at(deadline, new_host.client.recv()).await {
        assert!(
            !matches!(m, Some(ServerMessage::RoomUpdated { ref room }) if room.locked),
            "the stale lock reached the new owner's room"
        );
        if m.is_none() {
            panic!("the new owner closed its host's socket");
        }
    }
    assert!(answers_ping(&mut new_host.client, Duration::from_secs(2)).await);
    // A client told `moved` finds the room on the survivor.
    if let Gone::Moved(url) = guest_gone {
        let back = join(&url, Guest::new("Guest", address(11))).await;
        assert!(back.joined(), "following moved: {:?}", back.reply);
        assert_eq!(back.url, ws2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_link_refuses_the_old_one_on_every_node_within_a_second() {
    let c = Cluster::start().await;
    let (link, key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(0, &link).await;
    // Every node has served the old link (whatever it remembers of it).
    let mut guests = Vec::new();
    for i in 0..3u16 {
        let (node, _, _) = c.owner_via(usize::from(i), &link).await;
        assert_eq!(node, owner);
        let url = c.node(usize::from(i)).ws_url(&link);
        guests.push(join(&url, Guest::new("Guest", address(40 + i))).await);
        assert!(guests.last().unwrap().joined());
    }
    let mut host = join(&ws, Guest::host("Owner", &key)).await;
    assert_eq!(host.participant().1, Role::Owner);
    host.client
        .send(&ClientMessage::RotateLink { e2ee: false })
        .await;
    let new_link = host
        .client
        .recv_until(|m| match m {
            ServerMessage::RoomUpdated { room } => Some(room.id.clone()),
            _ => None,
        })
        .await;
    let rotated = Instant::now();
    assert_ne!(new_link, link);

    let mut last = Vec::new();
    let refused = eventually(Duration::from_secs(1), async || {
        last.clear();
        for i in 0..3u16 {
            let (status, body) = c.look_up(usize::from(i), &link).await;
            if status != 404 || body["error"]["code"] != "room_not_found" {
                last.push(format!("look-up through n{}: {status} {body}", i + 1));
            }
            let url = c.node(usize::from(i)).ws_url(&link);
            match try_join(&url, Guest::new("Late", address(200 + i))).await {
                Ok(e) if e.error() == Some(ErrorCode::RoomNotFound) => {}
                // Refusing the upgrade (404) is a refusal too.
                Err(e) if e.contains("404") => {}
                Ok(e) => last.push(format!("join through n{}: {:?}", i + 1, e.reply)),
                Err(e) => last.push(format!("join through n{}: {e}", i + 1)),
            }
        }
        last.is_empty()
    })
    .await;
    assert!(
        refused,
        "the old link still worked {:.2} s after the rotation: {last:?}",
        since(rotated)
    );
    for i in 0..3 {
        let (node, _, _) = c.owner_via(i, &new_link).await;
        assert_eq!(node, owner, "the new link's room stays on its owner");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_the_node_then_moves_its_rooms() {
    let mut c = Cluster::start_with(&["--drain-seconds", "3"]).await;
    let (link, key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(0, &link).await;
    let o = c.index_of(&owner);
    let survivors = c.others(o);
    let mut host = join(&ws, Guest::host("Owner", &key)).await;
    let mut guest = join(&ws, Guest::new("Guest", address(11))).await;
    assert!(host.joined() && guest.joined());
    // Someone waits in the lobby of the locked room.
    host.client
        .send(&ClientMessage::SetLocked { locked: true })
        .await;
    let mut knocker = None;
    assert!(
        eventually(Duration::from_secs(5), async || {
            let e = join(&ws, Guest::new("Knocker", address(12))).await;
            let waiting = matches!(e.reply, Some(ServerMessage::Waiting { .. }));
            knocker = Some(e);
            waiting
        })
        .await,
        "a knock on the locked room: {:?}",
        knocker.map(|k| k.reply)
    );
    let mut knocker = knocker.unwrap();
    assert_eq!(c.readyz(o).await, 200);

    let termed = Instant::now();
    c.node(o).signal("TERM");
    assert!(
        eventually(Duration::from_secs(1), async || c.readyz(o).await == 503).await,
        "/readyz of the draining node: {}",
        c.readyz(o).await
    );
    // The room goes on meanwhile.
    assert!(answers_ping(&mut host.client, Duration::from_millis(400)).await);
    assert!(answers_ping(&mut guest.client, Duration::from_millis(400)).await);
    for k in 0..6 {
        let via = survivors[k % 2];
        let (room, _) = c.create_room(via).await;
        let (node, _, _) = c.owner_via(via, &room).await;
        assert_ne!(node, owner, "a new room was placed on the draining node");
    }
    // The room's clients stay until the deadline…
    let before_deadline = Duration::from_millis(2_500).saturating_sub(termed.elapsed());
    let (h, g) = tokio::join!(
        until_gone(&mut host.client, before_deadline),
        until_gone(&mut guest.client, before_deadline),
    );
    assert_eq!(
        (&h, &g),
        (&Gone::StillThere, &Gone::StillThere),
        "sessions ended {:.1} s after SIGTERM, before the 3 s deadline",
        since(termed)
    );
    if termed.elapsed() < Duration::from_millis(2_600) {
        assert!(answers_ping(&mut host.client, Duration::from_millis(300)).await);
        assert!(answers_ping(&mut guest.client, Duration::from_millis(300)).await);
    }
    // …then are told where to go.
    let (h, g, k) = tokio::join!(
        until_gone(&mut host.client, Duration::from_secs(6)),
        until_gone(&mut guest.client, Duration::from_secs(6)),
        until_gone(&mut knocker.client, Duration::from_secs(6)),
    );
    let at = since(termed);
    let (Gone::Moved(_), Gone::Moved(url), Gone::Moved(knock_at)) = (&h, &g, &k) else {
        panic!(
            "after the deadline: host {h:?}, guest {g:?}, knocker {k:?} ({at:.1} s after SIGTERM)"
        );
    };
    assert_eq!(knock_at, url, "the knocker is sent where the room went");
    assert!(
        at >= 2.9,
        "moved {at:.1} s after SIGTERM, before the deadline"
    );
    let again = join(url, Guest::host("Owner", &key)).await;
    assert!(again.joined(), "following moved: {:?}", again.reply);
    assert_ne!(again.url, ws, "moved back to the draining node");
    // The lock went with the room, the lobby did not: a guest knocks again there
    // (docs/deploy.md, "What lives where").
    let guest_again = join(url, Guest::new("Guest", address(11))).await;
    assert!(
        matches!(guest_again.reply, Some(ServerMessage::Waiting { .. })),
        "{:?}",
        guest_again.reply
    );
    assert!(
        eventually(Duration::from_secs(10), async || c.nodes[o].exited()).await,
        "the drained node did not exit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_outage_of_20_s_does_not_stop_a_call_and_joins_resume_after_it() {
    // Nodes out of step, as real ones are: after the outage they announce themselves again at
    // different moments, so a join may reach Redis before the call's node has re-taken its
    // lease.
    let mut c = Cluster::start_staggered(&[], Duration::from_millis(700)).await;
    let (link, _key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(1, &link).await;
    let o = c.index_of(&owner);
    let mut x = RtcClient::join(&ws, "Xavier").await;
    let (_, ws_y, _) = c.owner_via(2, &link).await;
    let mut y = RtcClient::join(&ws_y, "Yvonne").await;
    assert!(
        flows(&mut x, &mut y, 20, Duration::from_secs(20)).await,
        "no audio before the outage"
    );
    for i in 0..3 {
        assert_eq!(
            c.readyz(i).await,
            200,
            "/readyz of {} before the outage",
            c.node(i).id
        );
    }

    let outage = Instant::now();
    c.redis.stop();
    let mut ready = Vec::new();
    let unready = eventually(Duration::from_secs(5), async || {
        ready.clear();
        for i in 0..3 {
            ready.push(c.readyz(i).await);
        }
        ready.iter().all(|s| *s == 503)
    })
    .await;
    assert!(unready, "/readyz during the outage: {ready:?}");
    while outage.elapsed() < Duration::from_secs(20) {
        assert!(
            flows(&mut x, &mut y, 20, Duration::from_secs(4)).await,
            "media stopped {:.1} s into the outage: {:?}",
            since(outage),
            audio_between(&x, &y)
        );
        for i in 0..3 {
            assert_eq!(
                c.healthz(i).await,
                200,
                "/healthz of {} during the outage",
                c.node(i).id
            );
        }
    }
    for i in 0..3 {
        assert_eq!(
            c.readyz(i).await,
            503,
            "/readyz of {} at the outage's end",
            c.node(i).id
        );
    }

    c.redis.restart().await;
    let back = Instant::now();
    let via = c.others(o)[0];
    let url = c.node(via).ws_url(&link);
    let mut entry = None;
    let mut failures = Vec::new();
    let rejoined = eventually(Duration::from_secs(10), async || {
        match try_join(&url, Guest::new("Late", address(31))).await {
            Ok(e) if e.joined() => {
                entry = Some(e);
                return true;
            }
            Ok(e) => failures.push(format!("{:.1}s: {:?}", since(back), e.reply)),
            Err(e) => failures.push(format!("{:.1}s: {e}", since(back))),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        false
    })
    .await;
    assert!(
        rejoined,
        "no join within 10 s of Redis's return: {failures:?}"
    );
    let entry = entry.unwrap();
    eprintln!("joined {:.1} s after Redis came back", since(back));
    assert_eq!(
        entry.url, ws,
        "the join placed the room on another node instead of the call's live owner (which then moves the call away)"
    );
    assert_eq!(
        listed(&entry.reply),
        BTreeSet::from([x.id.clone(), y.id.clone()]),
        "the newcomer is not in the room with the call"
    );
    assert!(
        eventually(Duration::from_secs(10), async || {
            let mut all = true;
            for i in 0..3 {
                all &= c.readyz(i).await == 200;
            }
            all
        })
        .await,
        "/readyz did not come back"
    );
    assert!(
        flows(&mut x, &mut y, 20, Duration::from_secs(5)).await,
        "media after the outage"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_room_its_link_host_key_and_bans_survive_a_redis_restart() {
    let mut c = Cluster::start().await;
    let (first_link, key) = c.create_room(0).await;
    let (_, ws, _) = c.owner_via(0, &first_link).await;
    let mut host = join(&ws, Guest::host("Owner", &key)).await;
    assert_eq!(host.participant().1, Role::Owner);
    host.client
        .send(&ClientMessage::RotateLink { e2ee: false })
        .await;
    let link = host
        .client
        .recv_until(|m| match m {
            ServerMessage::RoomUpdated { room } => Some(room.id.clone()),
            _ => None,
        })
        .await;
    let (_, ws, _) = c.owner_via(1, &link).await;
    let troll = join(&ws, Guest::new("Troll", address(10)).device(DEVICE_A)).await;
    let (troll_id, _) = troll.participant();
    host.client
        .send(&ClientMessage::Remove {
            participant_id: troll_id,
        })
        .await;
    host.client
        .recv_until(|m| matches!(m, ServerMessage::Bans { bans } if !bans.is_empty()).then_some(()))
        .await;
    host.client.close().await;

    // Redis dies without a word and comes back from its append-only file.
    c.redis.stop_with("KILL");
    c.redis.restart().await;
    for i in 0..3 {
        let mut last = (0, serde_json::Value::Null);
        let found = eventually(Duration::from_secs(10), async || {
            last = c.look_up(i, &link).await;
            last.0 == 200
        })
        .await;
        assert!(
            found,
            "look-up through {} after the restart: {} {}",
            c.node(i).id,
            last.0,
            last.1
        );
    }

    // Nothing left in any node's memory: three new nodes read it all from Redis.
    for node in &mut c.nodes {
        node.kill9();
    }
    c.nodes.clear();
    for id in ["n4", "n5", "n6"] {
        c.add_node(id).await;
    }
    let (next, ws, _) = {
        let mut found = None;
        let mut last = (0, serde_json::Value::Null);
        let placed = eventually(Duration::from_secs(15), async || {
            last = c.look_up(0, &link).await;
            found = match last.1["node"].as_str() {
                Some(n) if last.0 == 200 && ["n4", "n5", "n6"].contains(&n) => {
                    Some(c.owner_via(0, &link).await)
                }
                _ => None,
            };
            found.is_some()
        })
        .await;
        assert!(
            placed,
            "the room did not come back on a new node: {} {}",
            last.0, last.1
        );
        found.unwrap()
    };
    let (status, body) = c.look_up(1, &first_link).await;
    assert_eq!(status, 404, "the retired link came back: {body}");
    let mut host = join(&ws, Guest::host("Owner", &key)).await;
    match &host.reply {
        Some(ServerMessage::Joined { role, room, .. }) => {
            assert_eq!(*role, Role::Owner, "the host key survived");
            assert!(room.locked, "the removal's lock survived");
            assert_eq!(room.id, link);
        }
        other => panic!("the host could not join on {next}: {other:?}"),
    }
    let bans = host
        .client
        .recv_until(|m| match m {
            ServerMessage::Bans { bans } => Some(bans.clone()),
            _ => None,
        })
        .await;
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert_eq!(bans[0].name, "Troll");
    for i in 0..3u16 {
        let url = c.node(usize::from(i)).ws_url(&link);
        let e = join(&url, Guest::new("Troll", address(50 + i)).device(DEVICE_A)).await;
        assert_eq!(e.error(), Some(ErrorCode::Removed), "{:?}", e.reply);
    }
}

#[tokio::test]
async fn a_single_node_look_up_names_no_node_and_it_is_ready() {
    let s = TestServer::start().await;
    let id = s.room_id().await;
    let info = s.room_info(&id).await;
    assert_eq!(info["id"], id.as_str());
    assert!(info.get("ws_url").is_none(), "{info}");
    assert!(info.get("node").is_none(), "{info}");
    let ready = reqwest::get(format!("{}/readyz", s.url())).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap().trim(), "ready");
}

/// A friend's presence socket on a node that does not own the room: the door and who is inside
/// follow the owner (pub/sub hints, the owner asked who is inside), both ways.
#[tokio::test(flavor = "multi_thread")]
async fn presence_through_another_node_follows_the_owner() {
    use futures_util::{SinkExt as _, StreamExt as _};
    use salon_protocol::{
        PresenceClientMessage, PresenceServerMessage, PresenceSubscription, RoomPresence,
        decode_presence_server, encode,
    };
    use tokio_tungstenite::tungstenite::Message;

    let c = Cluster::start().await;
    let (link, key) = c.create_room(0).await;
    let (owner, ws, _) = c.owner_via(0, &link).await;
    let o = c.index_of(&owner);
    let elsewhere = c.others(o)[0];
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/rooms/{link}/presence-key",
            c.node(elsewhere).url
        ))
        .json(&serde_json::json!({ "host_key": key, "rotate": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let presence_key = r.json::<serde_json::Value>().await.unwrap()["presence_key"]
        .as_str()
        .unwrap()
        .to_owned();

    let (mut watcher, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/api/presence", c.node(elsewhere).addr()))
            .await
            .unwrap();
    let subscribe = PresenceClientMessage::Subscribe {
        rooms: vec![PresenceSubscription {
            room: link.clone(),
            key: presence_key,
        }],
    };
    watcher
        .send(Message::Text(encode(&subscribe).into()))
        .await
        .unwrap();
    // The room's state as the watcher's node tells it, after each `presence` message.
    async fn next(
        watcher: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        link: &str,
    ) -> RoomPresence {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), watcher.next())
                .await
                .expect("a presence message within 10 s")
                .expect("socket open")
                .unwrap();
            let Message::Text(text) = frame else { continue };
            if let PresenceServerMessage::Presence { rooms } =
                decode_presence_server(&text).unwrap()
                && let Some(room) = rooms.into_iter().find(|r| r.room == link)
            {
                return room;
            }
        }
    }
    let first = next(&mut watcher, &link).await;
    assert!(first.available, "{first:?}");
    assert!(!first.door_open, "nobody inside yet: {first:?}");

    // The owner walks in on the owning node: the door opens for the friend on the other node.
    let started = Instant::now();
    let host = join(&ws, Guest::host("Owner", &key)).await;
    let mut now = next(&mut watcher, &link).await;
    while !(now.door_open && now.people == 1) {
        now = next(&mut watcher, &link).await;
    }
    eprintln!(
        "door seen open through another node after {:.1} s",
        since(started)
    );
    let mut host = host;
    host.client.send(&ClientMessage::Leave).await;
    let mut now = next(&mut watcher, &link).await;
    while now.door_open {
        now = next(&mut watcher, &link).await;
    }
    assert_eq!(now.people, 0, "{now:?}");
}

/// `salon-server export` from a single server's SQLite, `import` into the cluster's Redis: the
/// room opens through every node with its link and host key; importing again is refused.
#[tokio::test(flavor = "multi_thread")]
async fn rooms_exported_from_sqlite_and_imported_into_redis_open_on_the_cluster() {
    use common::cluster::{Node, SERVER};
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let c = Cluster::start().await;
    let solo_dir = c.dir.path().join("solo");
    let mut solo = Node::spawn("solo", &solo_dir, &[]).await;
    let r = reqwest::Client::new()
        .post(format!("{}/api/rooms", solo.url))
        .json(&serde_json::json!({ "name": "Moved in", "e2ee": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    let link = body["id"].as_str().unwrap().to_owned();
    let key = body["host_key"].as_str().unwrap().to_owned();
    solo.kill9();

    let export = Command::new(SERVER)
        .args(["export", "--data-dir", solo_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "export: {}",
        String::from_utf8_lossy(&export.stderr)
    );
    let dump = String::from_utf8(export.stdout).unwrap();
    assert_eq!(dump.lines().count(), 1, "{dump}");
    assert!(dump.contains(&link), "{dump}");
    assert!(
        !dump.contains(&key),
        "the host key itself is never exported: {dump}"
    );

    let import = |dump: &str| {
        let mut child = Command::new(SERVER)
            .args(["import", "--redis", &c.redis.url()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dump.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let first = import(&dump);
    assert!(
        first.status.success(),
        "import: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = import(&dump);
    assert!(!again.status.success(), "a second import must be refused");
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already stored"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    for i in 0..3 {
        let (status, body) = c.look_up(i, &link).await;
        assert_eq!(status, 200, "through {}: {body}", c.node(i).id);
        assert_eq!(body["name"], "Moved in");
    }
    let (_, ws, _) = c.owner_via(1, &link).await;
    let host = join(&ws, Guest::host("Owner", &key)).await;
    assert_eq!(host.participant().1, Role::Owner);
}
