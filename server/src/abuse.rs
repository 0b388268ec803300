//! Limits on what one address (and everyone together) may ask for: room creation, joins,
//! knocks and room look-ups. Pure bookkeeping: the caller passes the time and the client's address.
//! An address is keyed like bans ([`crate::identity::network`]): an IPv4 address, or an IPv6 /64,
//! since one IPv6 subscriber can use any of the 2^64 addresses of its prefix.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::ratelimit::TokenBucket;

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    CreateRoom,
    Join,
    LookUp,
    /// Knocking on a locked room: each knock interrupts the hosts.
    Knock,
    /// Opening a presence socket (each one subscribes to a whole friend list at once).
    Presence,
}

/// (per second, burst) for one address, and for all addresses together.
fn rates(action: Action) -> ((f64, f64), (f64, f64)) {
    match action {
        // A person creates a few rooms; a script creating thousands is abuse.
        Action::CreateRoom => ((1.0 / 3.0, 20.0), (20.0, 200.0)),
        // Joining (including reconnects) a few times a second is plenty for one household.
        Action::Join => ((5.0, 100.0), (200.0, 1000.0)),
        // Room look-ups: presence checks for a friend list, but no scanning of ids.
        Action::LookUp => ((10.0, 100.0), (500.0, 2000.0)),
        // A person knocks a few times; a script knocking to pester the hosts is abuse.
        Action::Knock => ((1.0 / 3.0, 20.0), (10.0, 200.0)),
        // An app opens one presence socket and reconnects now and then.
        Action::Presence => ((0.5, 20.0), (100.0, 1000.0)),
    }
}

impl Action {
    /// A short name, for the cluster's shared counters (`salon:rl:{name}:{address}`).
    pub fn name(self) -> &'static str {
        match self {
            Self::CreateRoom => "create",
            Self::Join => "join",
            Self::LookUp => "lookup",
            Self::Knock => "knock",
            Self::Presence => "presence",
        }
    }

    /// (per second, burst) for one address.
    pub fn per_address(self) -> (f64, f64) {
        rates(self).0
    }
}

/// Most addresses remembered per action; the stalest are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug)]
pub struct Limits {
    per_address: HashMap<(Action, IpAddr), TokenBucket>,
    global: HashMap<Action, TokenBucket>,
}

/// Why a request was refused, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self::new()
    }
}

impl Limits {
    pub fn new() -> Self {
        Self {
            per_address: HashMap::new(),
            global: HashMap::new(),
        }
    }

    /// Counts one `action` from `address` at `now`; `Err` when it is over a limit.
    pub fn check(&mut self, action: Action, address: IpAddr, now: Instant) -> Result<(), Refused> {
        let ((per_second, burst), (global_per_second, global_burst)) = rates(action);
        if self.per_address.len() >= MAX_ADDRESSES {
            self.forget_full_buckets(now);
        }
        let mine = self
            .per_address
            .entry((action, crate::identity::network(address)))
            .or_insert_with(|| TokenBucket::new(now, per_second, burst));
        if !mine.try_take(now) {
            return Err(Refused {
                retry_after: Duration::from_secs_f64(1.0 / per_second),
            });
        }
        let everyone = self
            .global
            .entry(action)
            .or_insert_with(|| TokenBucket::new(now, global_per_second, global_burst));
        if !everyone.try_take(now) {
            return Err(Refused {
                retry_after: Duration::from_secs(1),
            });
        }
        Ok(())
    }

    /// Drops addresses whose buckets have refilled (they carry no information), or, if none
    /// have, the whole table (a flood of distinct addresses must not grow memory).
    fn forget_full_buckets(&mut self, now: Instant) {
        self.per_address.retain(|_, bucket| !bucket.is_full(now));
        if self.per_address.len() >= MAX_ADDRESSES {
            self.per_address.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn one_address_is_limited_others_are_not() {
        let mut limits = Limits::new();
        let t = Instant::now();
        for _ in 0..20 {
            assert!(limits.check(Action::CreateRoom, ip(1), t).is_ok());
        }
        let refused = limits.check(Action::CreateRoom, ip(1), t).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(3));
        assert!(limits.check(Action::CreateRoom, ip(2), t).is_ok());
        // Joins are counted separately.
        assert!(limits.check(Action::Join, ip(1), t).is_ok());
        // And the address recovers.
        assert!(
            limits
                .check(Action::CreateRoom, ip(1), t + Duration::from_secs(3))
                .is_ok()
        );
    }

    #[test]
    fn one_ipv6_slash_64_is_one_address() {
        let mut limits = Limits::new();
        let t = Instant::now();
        let refused = (0..60u16)
            .filter(|i| {
                let address: IpAddr = format!("2001:db8:7:9::{i:x}").parse().expect("ip");
                limits.check(Action::CreateRoom, address, t).is_err()
            })
            .count();
        assert_eq!(refused, 40, "the /64 gets one burst of 20");
        let neighbour: IpAddr = "2001:db8:7:a::1".parse().expect("ip");
        assert!(limits.check(Action::CreateRoom, neighbour, t).is_ok());
    }

    #[test]
    fn many_addresses_together_hit_the_global_limit() {
        let mut limits = Limits::new();
        let t = Instant::now();
        let mut refused = 0;
        for i in 0..300u32 {
            let address = IpAddr::from(i.to_be_bytes());
            if limits.check(Action::CreateRoom, address, t).is_err() {
                refused += 1;
            }
        }
        assert_eq!(refused, 100, "200 allowed in a burst across addresses");
    }

    #[test]
    fn memory_stays_bounded() {
        let mut limits = Limits::new();
        let t = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 * 2) {
            let _ = limits.check(Action::LookUp, IpAddr::from(i.to_be_bytes()), t);
        }
        assert!(limits.per_address.len() <= MAX_ADDRESSES);
    }
}
