//! What a removal sticks to: the client's device id and its network address, each hashed with
//! the room's permanent id as salt. The database never holds a raw address or device id, and
//! the same device banned from two rooms gets two unrelated keys (no cross-room graph).

use std::net::IpAddr;

use sha2::{Digest as _, Sha256};

/// The salted keys of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub device: Option<Vec<u8>>,
    pub address: Vec<u8>,
}

impl Identity {
    pub fn new(room_id: &str, device: Option<&str>, address: IpAddr) -> Self {
        Self {
            device: device.map(|d| key(room_id, "device", d.as_bytes())),
            address: key(room_id, "address", &address_prefix(address)),
        }
    }

    /// Whether two identities share a device or an address.
    pub fn overlaps(&self, device: Option<&[u8]>, address: Option<&[u8]>) -> bool {
        let same_device = matches!((self.device.as_deref(), device), (Some(a), Some(b)) if a == b);
        let same_address = address.is_some_and(|a| a == self.address.as_slice());
        same_device || same_address
    }
}

fn key(room_id: &str, kind: &str, value: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"salon-ban-v1\0");
    h.update(room_id.as_bytes());
    h.update(b"\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(value);
    h.finalize().to_vec()
}

/// The part of an address that names one subscriber: the whole IPv4 address, or the /64 of an
/// IPv6 address (a host can pick any address in its /64 at will). IPv4-mapped IPv6 addresses
/// count as the IPv4 address.
fn address_prefix(address: IpAddr) -> Vec<u8> {
    match network(address) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    }
}

/// The network an address stands for, as an address: the IPv4 address itself (also when
/// written IPv4-mapped), or an IPv6 address with all but its /64 prefix zeroed. Bans, the lobby
/// and every per-address limit key on this, so one subscriber is one key.
pub fn network(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::from(octets)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn ipv6_neighbours_in_one_slash_64_are_one_address() {
        let a = Identity::new("room", None, ip("2001:db8:1:2::1"));
        let b = Identity::new("room", None, ip("2001:db8:1:2:ffff::9"));
        let c = Identity::new("room", None, ip("2001:db8:1:3::1"));
        assert_eq!(a.address, b.address);
        assert_ne!(a.address, c.address);
    }

    #[test]
    fn network_keys_ipv6_by_slash_64() {
        assert_eq!(network(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(network(ip("2001:db8:1:2:ffff::9")), ip("2001:db8:1:2::"));
        assert_eq!(network(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(network(ip("192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        let a = Identity::new("room", None, ip("192.0.2.7"));
        let b = Identity::new("room", None, ip("::ffff:192.0.2.7"));
        assert_eq!(a.address, b.address);
    }

    #[test]
    fn keys_are_salted_per_room() {
        let a = Identity::new("room-a", Some("0123456789abcdef"), ip("192.0.2.7"));
        let b = Identity::new("room-b", Some("0123456789abcdef"), ip("192.0.2.7"));
        assert_ne!(a.device, b.device);
        assert_ne!(a.address, b.address);
    }

    #[test]
    fn overlap_is_by_device_or_address() {
        let a = Identity::new("r", Some("0123456789abcdef"), ip("192.0.2.7"));
        let same_device = Identity::new("r", Some("0123456789abcdef"), ip("198.51.100.1"));
        let same_address = Identity::new("r", Some("fedcba9876543210"), ip("192.0.2.7"));
        let stranger = Identity::new("r", None, ip("198.51.100.1"));
        let check = |other: &Identity| a.overlaps(other.device.as_deref(), Some(&other.address));
        assert!(check(&same_device));
        assert!(check(&same_address));
        assert!(!check(&stranger));
    }
}
