//! `Agent::follow_media` in the vendored `rtc-ice` (vendor/README.md): the controlled agent (the
//! server) moves its selected pair to the path the client's media arrives on.
//!
//! A browser that leaves a dead path (its Wi-Fi went) switches to another pair its checks proved
//! and sends media there at once, but nominates that pair (USE-CANDIDATE) only in its next check,
//! up to seconds later; until then the server would keep sending to the address that is gone.
//! Here two in-memory agents (no sockets, a clock we advance ourselves) connect: a controlling
//! client with two host addresses (Wi-Fi and mobile data) and a controlled server with one. Then
//! the server follows media from the pair the client did not nominate, and refuses what it must
//! refuse: an unknown address, a TCP/UDP mismatch, the pair already selected, a controlling agent.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtc::ice::agent::agent_config::AgentConfig;
use rtc::ice::agent::{Agent, Event};
use rtc::ice::candidate::candidate_host::CandidateHostConfig;
use rtc::ice::candidate::candidate_pair::CandidatePairState;
use rtc::ice::candidate::{CandidateConfig, unmarshal_candidate};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::ice::state::ConnectionState;
use rtc::sansio::Protocol;
use rtc::shared::{TaggedBytesMut, TransportContext};

const WIFI: &str = "10.0.0.2:5000";
const MOBILE: &str = "10.0.1.2:5000";
const SERVER: &str = "10.0.9.1:3478";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn agent(now: Instant, controlling: bool, hosts: &[&str]) -> Agent {
    let config = AgentConfig {
        is_controlling: controlling,
        multicast_dns_mode: MulticastDnsMode::Disabled,
        ..Default::default()
    };
    let crypto = rtc::crypto::default_provider().unwrap();
    let mut agent = Agent::new(now, Arc::new(config), crypto).unwrap();
    for host in hosts {
        let host = addr(host);
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: host.ip().to_string(),
                port: host.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .unwrap();
        assert!(agent.add_local_candidate(candidate).unwrap());
    }
    agent
}

/// Gives `to` the other agent's credentials and candidates, as signaling would (SDP lines).
fn signal(from: &Agent, to: &mut Agent) {
    for candidate in from.get_local_candidates() {
        let candidate = unmarshal_candidate(&candidate.marshal()).unwrap();
        assert!(to.add_remote_candidate(candidate).unwrap());
    }
}

/// Two agents joined by a lossless in-memory network, on a clock that only moves when told.
struct Link {
    now: Instant,
    client: Agent,
    server: Agent,
}

impl Link {
    /// Delivers every queued datagram (and the replies they cause) to the other agent.
    fn deliver(&mut self) {
        loop {
            let mut moved = false;
            while let Some(d) = self.client.poll_write() {
                self.server.handle_read(arrive(d)).unwrap();
                moved = true;
            }
            while let Some(d) = self.server.poll_write() {
                self.client.handle_read(arrive(d)).unwrap();
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances the clock in 10 ms ticks, running both agents' timers and delivering their
    /// datagrams, until `done` holds; panics after `steps` ticks.
    fn pump_until(&mut self, steps: usize, done: impl Fn(&Link) -> bool) {
        for _ in 0..steps {
            self.deliver();
            if done(self) {
                return;
            }
            self.now += Duration::from_millis(10);
            self.client.handle_timeout(self.now).unwrap();
            self.server.handle_timeout(self.now).unwrap();
        }
        panic!("condition not reached in {steps} steps");
    }
}

/// The datagram as the receiver sees it: its own address local, the sender's as the peer.
fn arrive(d: TaggedBytesMut) -> TaggedBytesMut {
    TaggedBytesMut {
        now: d.now,
        transport: TransportContext {
            local_addr: d.transport.peer_addr,
            peer_addr: d.transport.local_addr,
            ..d.transport
        },
        message: d.message,
    }
}

fn selected_remote(agent: &Agent) -> Option<SocketAddr> {
    agent.get_selected_candidate_pair().map(|(_, r)| r.addr())
}

/// The state of each of `agent`'s pairs, by remote address.
fn pair_states(agent: &Agent, now: Instant) -> Vec<(SocketAddr, CandidatePairState)> {
    agent
        .get_candidate_pairs_stats(now)
        .into_iter()
        .map(|p| {
            let remote = agent
                .get_remote_candidates()
                .iter()
                .find(|c| c.id() == p.remote_candidate_id)
                .unwrap();
            (remote.addr(), p.state)
        })
        .collect()
}

fn all_succeeded(agent: &Agent, now: Instant) -> bool {
    pair_states(agent, now)
        .iter()
        .all(|(_, s)| *s == CandidatePairState::Succeeded)
}

#[test]
fn controlled_agent_follows_media_to_another_succeeded_pair() {
    let start = Instant::now();
    let mut client = agent(start, true, &[WIFI, MOBILE]);
    let mut server = agent(start, false, &[SERVER]);
    signal(&client, &mut server);
    signal(&server, &mut client);
    let (c, s) = (
        client.get_local_credentials().clone(),
        server.get_local_credentials().clone(),
    );
    client
        .start_connectivity_checks(start, true, s.ufrag, s.pwd)
        .unwrap();
    server
        .start_connectivity_checks(start, false, c.ufrag, c.pwd)
        .unwrap();
    let mut link = Link {
        now: start,
        client,
        server,
    };

    // Connected on both sides, and the server's two pairs (one per client address) proved by
    // the server's own checks (its first round, and those triggered by the client's): only a
    // Succeeded pair can be followed.
    link.pump_until(500, |l| {
        l.client.state() == ConnectionState::Connected
            && l.server.state() == ConnectionState::Connected
            && l.server.get_selected_candidate_pair().is_some()
            && all_succeeded(&l.server, l.now)
    });
    // Then 3 s more, past the client's first consent check (every 2 s, no USE-CANDIDATE): it
    // leaves the selection and the pairs as they are.
    let settled = link.now + Duration::from_secs(3);
    link.pump_until(400, |l| l.now >= settled);
    let now = link.now;
    let states = pair_states(&link.server, now);
    assert_eq!(states.len(), 2, "{states:?}");
    assert!(all_succeeded(&link.server, now), "{states:?}");
    let client_pairs = link.client.get_candidate_pairs_stats(now);
    assert!(client_pairs.iter().any(|p| p.consent_requests_sent > 0));

    // The server selected the pair the client nominated.
    let (nominated_local, nominated_remote) = link
        .client
        .get_selected_candidate_pair()
        .map(|(l, r)| (l.addr(), r.addr()))
        .unwrap();
    assert_eq!(nominated_remote, addr(SERVER));
    assert_eq!(selected_remote(&link.server), Some(nominated_local));
    let other = if nominated_local == addr(WIFI) {
        addr(MOBILE)
    } else {
        addr(WIFI)
    };
    while link.server.poll_event().is_some() {}

    // An unknown address, or the right address on the wrong transport: nothing changes.
    assert!(!link.server.follow_media(now, addr("10.0.5.5:1"), false));
    assert!(!link.server.follow_media(now, other, true));
    assert_eq!(selected_remote(&link.server), Some(nominated_local));
    assert!(link.server.poll_event().is_none());

    // Media from the other client address moves the server there, once.
    assert!(link.server.follow_media(now, other, false));
    assert_eq!(selected_remote(&link.server), Some(other));
    assert!(!link.server.follow_media(now, other, false));
    assert_eq!(selected_remote(&link.server), Some(other));

    // The change is reported (once) like any selected-pair change.
    let mut changes = vec![];
    while let Some(e) = link.server.poll_event() {
        if let Event::SelectedCandidatePairChange(local, remote) = e.event {
            changes.push((local.addr(), remote.addr()));
        }
    }
    assert_eq!(changes, [(addr(SERVER), other)]);

    // The controlling agent decides on its own and never follows.
    assert!(!link.client.follow_media(now, addr(SERVER), false));
    assert_eq!(selected_remote(&link.client), Some(addr(SERVER)));
}
