//! Which remote ICE candidates a participant may give the server, from its offers and from
//! trickled `ice_candidate` messages. Pure: no I/O.
//!
//! The ICE agent sends connectivity checks (STUN binding requests) to every address a remote
//! candidate names, so without a limit a client could make the server send STUN to any host it
//! likes: a reflection amplifier. A connection therefore keeps at most
//! [`MAX_REMOTE_CANDIDATES`] distinct addresses, and candidates that cannot be a real peer
//! (mDNS `.local` names, host names, multicast, broadcast, unspecified, port 0, anything but
//! UDP) never reach the agent. The server learns a client's real address from the client's own
//! checks anyway (peer-reflexive candidates), so a dropped candidate costs no connectivity.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Most remote candidate addresses one peer connection accepts, over all offers and trickles.
pub const MAX_REMOTE_CANDIDATES: usize = 8;

/// What to do with one remote candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new address, now counted: give it to the ICE agent.
    Accept,
    /// The same candidate again (as in each bundled media section): harmless to pass on.
    Repeat,
    /// Not a candidate the server can or should check (see [`Dropped`]).
    Drop(Dropped),
    /// Over [`MAX_REMOTE_CANDIDATES`]: dropped.
    OverLimit,
}

/// Why a candidate was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Not of the form `candidate:<foundation> <component> <transport> <priority> <address>
    /// <port> typ <type> …`.
    Malformed,
    /// An mDNS (`.local`) or other host name: the server resolves no names.
    Name,
    /// Not UDP, or not the RTP component. (The server never dials out: a client reaches its
    /// ICE-TCP port itself, and is learned from its own checks.)
    Transport,
    /// Unspecified, multicast, broadcast or reserved address, or port 0.
    Address,
    /// The same address as an accepted candidate, with different attributes.
    Duplicate,
}

/// The remote candidates one peer connection has accepted.
#[derive(Debug, Default)]
pub struct RemoteCandidates {
    /// Accepted address → the candidate text accepted for it.
    accepted: HashMap<SocketAddr, String>,
    /// Candidates refused so far (for one log line per offer, not per candidate).
    pub refused: usize,
}

impl RemoteCandidates {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn accepted(&self) -> usize {
        self.accepted.len()
    }

    /// Judges one candidate (`candidate:…`, with or without a leading `a=`) and counts it when
    /// accepted.
    pub fn admit(&mut self, candidate: &str) -> Verdict {
        let text = candidate.trim();
        let text = text.strip_prefix("a=").unwrap_or(text);
        let addr = match parse(text) {
            Ok(addr) => addr,
            Err(why) => {
                self.refused += 1;
                return Verdict::Drop(why);
            }
        };
        if let Some(seen) = self.accepted.get(&addr) {
            if seen == text {
                return Verdict::Repeat;
            }
            self.refused += 1;
            return Verdict::Drop(Dropped::Duplicate);
        }
        if self.accepted.len() >= MAX_REMOTE_CANDIDATES {
            self.refused += 1;
            return Verdict::OverLimit;
        }
        self.accepted.insert(addr, text.to_owned());
        Verdict::Accept
    }

    /// The SDP with every `a=candidate` line that [`admit`](Self::admit) does not accept
    /// removed. Line endings are kept as they were.
    pub fn filter_sdp(&mut self, sdp: &str) -> String {
        let mut out = String::with_capacity(sdp.len());
        for line in sdp.split_inclusive('\n') {
            let bare = line.trim_end_matches(['\r', '\n']);
            if bare.starts_with("a=candidate:")
                && !matches!(self.admit(bare), Verdict::Accept | Verdict::Repeat)
            {
                continue;
            }
            out.push_str(line);
        }
        out
    }
}

/// The address a candidate names, if it is one the server may check.
fn parse(candidate: &str) -> Result<SocketAddr, Dropped> {
    let rest = candidate
        .strip_prefix("candidate:")
        .ok_or(Dropped::Malformed)?;
    let mut fields = rest.split_ascii_whitespace();
    let (Some(_foundation), Some(component), Some(transport), Some(_priority)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(Dropped::Malformed);
    };
    let (Some(address), Some(port), Some("typ"), Some(_typ)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(Dropped::Malformed);
    };
    if !transport.eq_ignore_ascii_case("udp") || component != "1" {
        return Err(Dropped::Transport);
    }
    let port: u16 = port.parse().map_err(|_| Dropped::Malformed)?;
    let ip: IpAddr = match address.parse() {
        Ok(ip) => ip,
        Err(_) => {
            // `.local` (mDNS) or any other name: never resolved by the server.
            let name_like = address
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            return Err(if name_like {
                Dropped::Name
            } else {
                Dropped::Malformed
            });
        }
    };
    if port == 0 || !checkable(ip) {
        return Err(Dropped::Address);
    }
    Ok(SocketAddr::new(ip, port))
}

/// Whether a connectivity check to `ip` can make sense: not unspecified, multicast, broadcast
/// or in 0.0.0.0/8 or 240.0.0.0/4.
fn checkable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let first = v4.octets()[0];
            !(v4.is_unspecified()
                || v4.is_multicast()
                || v4 == Ipv4Addr::BROADCAST
                || first == 0
                || first >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return checkable(IpAddr::V4(v4));
            }
            !(v6.is_unspecified() || v6.is_multicast())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(ip: &str, port: u16) -> String {
        format!("candidate:1 1 udp 2122260223 {ip} {port} typ host generation 0")
    }

    #[test]
    fn ordinary_candidates_are_accepted_once() {
        let mut c = RemoteCandidates::new();
        assert_eq!(c.admit(&host("192.0.2.7", 5000)), Verdict::Accept);
        assert_eq!(c.admit(&host("192.0.2.7", 5000)), Verdict::Repeat);
        assert_eq!(
            c.admit(&format!("a={}", host("2001:db8::1", 5000))),
            Verdict::Accept
        );
        assert_eq!(
            c.admit("candidate:2 1 UDP 1686052607 198.51.100.1 40000 typ srflx raddr 10.0.0.2 rport 5000"),
            Verdict::Accept
        );
        assert_eq!(c.accepted(), 3);
    }

    #[test]
    fn the_same_address_with_other_attributes_is_a_duplicate() {
        let mut c = RemoteCandidates::new();
        assert_eq!(c.admit(&host("192.0.2.7", 5000)), Verdict::Accept);
        assert_eq!(
            c.admit("candidate:9 1 udp 1 192.0.2.7 5000 typ host"),
            Verdict::Drop(Dropped::Duplicate)
        );
    }

    #[test]
    fn at_most_the_limit_is_accepted() {
        let mut c = RemoteCandidates::new();
        for port in 1..=MAX_REMOTE_CANDIDATES as u16 {
            assert_eq!(c.admit(&host("192.0.2.7", port)), Verdict::Accept);
        }
        assert_eq!(c.admit(&host("192.0.2.7", 999)), Verdict::OverLimit);
        assert_eq!(c.admit(&host("192.0.2.7", 1)), Verdict::Repeat);
        assert_eq!(c.accepted(), MAX_REMOTE_CANDIDATES);
    }

    #[test]
    fn nonsense_never_reaches_the_agent() {
        let mut c = RemoteCandidates::new();
        for (candidate, why) in [
            (
                host("4b5c1a2e-9f0b-4c7e-8d8a-1c2b3d4e5f60.local", 5000),
                Dropped::Name,
            ),
            (host("example.com", 5000), Dropped::Name),
            (host("0.0.0.0", 5000), Dropped::Address),
            (host("::", 5000), Dropped::Address),
            (host("224.0.0.251", 5353), Dropped::Address),
            (host("ff02::fb", 5353), Dropped::Address),
            (host("255.255.255.255", 5000), Dropped::Address),
            (host("::ffff:224.0.0.1", 5000), Dropped::Address),
            (host("192.0.2.7", 0), Dropped::Address),
            (
                "candidate:1 1 tcp 1518280447 192.0.2.7 9 typ host tcptype active".to_owned(),
                Dropped::Transport,
            ),
            (
                "candidate:1 2 udp 2122260222 192.0.2.7 5001 typ host".to_owned(),
                Dropped::Transport,
            ),
            ("candidate:1 1 udp".to_owned(), Dropped::Malformed),
            (
                "candidate:1 1 udp 1 192.0.2.7 99999 typ host".to_owned(),
                Dropped::Malformed,
            ),
            (
                "candidate:1 1 udp 1 192.0.2.7 5000 host".to_owned(),
                Dropped::Malformed,
            ),
            ("x".to_owned(), Dropped::Malformed),
            (host("1.2.3.4/8", 5000), Dropped::Malformed),
        ] {
            assert_eq!(c.admit(&candidate), Verdict::Drop(why), "{candidate}");
        }
        assert_eq!(c.accepted(), 0);
    }

    #[test]
    fn sdp_keeps_everything_but_refused_candidates() {
        let mut c = RemoteCandidates::new();
        let mut sdp =
            String::from("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
        for port in 1..=20u16 {
            sdp.push_str(&format!("a={}\r\n", host("192.0.2.7", port)));
        }
        sdp.push_str(&format!("a={}\r\n", host("abc.local", 1)));
        sdp.push_str("m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
        sdp.push_str(&format!("a={}\r\n", host("192.0.2.7", 1)));
        sdp.push_str("a=end-of-candidates\r\n");
        let out = c.filter_sdp(&sdp);
        assert_eq!(
            out.matches("a=candidate:").count(),
            MAX_REMOTE_CANDIDATES + 1
        );
        assert!(!out.contains(".local"));
        assert!(out.starts_with("v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\nm=audio"));
        assert!(out.ends_with("m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=candidate:1 1 udp 2122260223 192.0.2.7 1 typ host generation 0\r\na=end-of-candidates\r\n"));
        // A later offer cannot add more.
        let again = c.filter_sdp(&format!("a={}\r\n", host("192.0.2.8", 1)));
        assert_eq!(again, "");
    }
}
