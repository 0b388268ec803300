//! Sending many datagrams with one system call (`sendmmsg`): the engine gathers what all its
//! connections produced in one pass and hands it to the kernel in batches. Each datagram may go
//! to a different address.
//!
//! Receiving one datagram with the time the kernel got it (`SO_TIMESTAMPNS`): a busy worker may
//! read a datagram milliseconds after it arrived, and congestion control must not take that
//! wait for a queue on the sender's path (see [`recv_stamped`]).

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmsg, sendmmsg, setsockopt,
    sockopt,
};
use nix::sys::time::TimeSpec;

/// Asks the kernel to stamp every datagram `socket` receives with its arrival time. False if
/// it cannot (datagrams are then timed when read).
pub fn stamp_arrivals(socket: &impl AsFd) -> bool {
    setsockopt(socket, sockopt::ReceiveTimestampns, &true).is_ok()
}

/// Room for the control message [`recv_stamped`] reads (allocated once per worker).
pub fn stamp_space() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// One datagram read by [`recv_stamped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub len: usize,
    pub from: SocketAddr,
    /// When the kernel got it (wall clock), if the socket stamps arrivals.
    pub stamp: Option<Duration>,
}

/// Reads one datagram into `buf` (non-blocking: `WouldBlock` when there is none), with its
/// kernel arrival stamp when the socket has them (see [`stamp_arrivals`]). A datagram longer
/// than `buf` is cut, as `recv_from` does.
pub fn recv_stamped(
    socket: &impl AsRawFd,
    buf: &mut [u8],
    space: &mut [u8],
) -> std::io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(
        socket.as_raw_fd(),
        &mut iov,
        Some(space),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(std::io::Error::from)?;
    let from = msg
        .address
        .as_ref()
        .and_then(socket_addr)
        .ok_or_else(|| std::io::Error::other("a datagram without an IP sender"))?;
    let mut stamp = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for cmsg in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = cmsg {
                let (secs, nanos) = (u64::try_from(ts.tv_sec()), u32::try_from(ts.tv_nsec()));
                if let (Ok(secs), Ok(nanos)) = (secs, nanos) {
                    stamp = Some(Duration::new(secs, nanos));
                }
            }
        }
    }
    Ok(Received {
        len: msg.bytes,
        from,
        stamp,
    })
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::V6((*v6).into()))
}

/// Turns kernel arrival stamps (wall clock) into [`Instant`]s, against one reading of both
/// clocks taken when a batch of reads begins. An arrival is never put after `now` nor more
/// than [`MAX_WAIT`] before it (a wall clock step must not throw the timing off).
#[derive(Debug, Clone, Copy)]
pub struct Arrivals {
    instant: Instant,
    wall: Duration,
}

/// The longest a datagram is believed to have waited in the socket.
pub const MAX_WAIT: Duration = Duration::from_millis(500);

impl Arrivals {
    pub fn now() -> Self {
        let instant = Instant::now();
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        Self { instant, wall }
    }

    /// The arrival of a datagram stamped `stamp`, read at `now` (at or after the reading).
    pub fn arrival(&self, stamp: Option<Duration>, now: Instant) -> Instant {
        let Some(stamp) = stamp else {
            return now;
        };
        let at = match stamp.checked_sub(self.wall) {
            Some(after) => self.instant.checked_add(after),
            None => self.instant.checked_sub(self.wall.saturating_sub(stamp)),
        };
        let Some(at) = at else {
            return now;
        };
        if at > now {
            now
        } else if now.duration_since(at) > MAX_WAIT {
            now.checked_sub(MAX_WAIT).unwrap_or(now)
        } else {
            at
        }
    }
}

/// Datagrams per system call.
const BATCH: usize = 64;

/// The outcome of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Ok,
    /// The kernel's buffer was full (or the datagram was refused): it is dropped.
    Refused,
}

/// Sends every datagram in `out` from `socket` (non-blocking), and appends one outcome per
/// datagram to `outcomes`, in order. Never blocks and never retries: a datagram the kernel does
/// not take now is dropped, which is what real-time media wants.
pub fn send_all(
    socket: &impl AsRawFd,
    out: &[(bytes::Bytes, SocketAddr)],
    outcomes: &mut Vec<Sent>,
) {
    let fd = socket.as_raw_fd();
    let mut at = 0;
    while at < out.len() {
        let chunk = &out[at..out.len().min(at + BATCH)];
        let slices: Vec<[IoSlice<'_>; 1]> = chunk.iter().map(|(d, _)| [IoSlice::new(d)]).collect();
        let addrs: Vec<Option<SockaddrStorage>> = chunk
            .iter()
            .map(|(_, a)| Some(SockaddrStorage::from(*a)))
            .collect();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(chunk.len(), None);
        match sendmmsg(
            fd,
            &mut headers,
            &slices,
            &addrs,
            [],
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(results) => {
                let n = results.count();
                if n == 0 {
                    outcomes.push(Sent::Refused);
                    at += 1;
                } else {
                    outcomes.extend(std::iter::repeat_n(Sent::Ok, n));
                    at += n;
                }
            }
            Err(Errno::EINTR) => {}
            // The first datagram of the chunk was refused (a full buffer, an unreachable
            // address): drop it and go on with the next.
            Err(_) => {
                outcomes.push(Sent::Refused);
                at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_read_late_keeps_the_time_the_kernel_got_it() {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        assert!(stamp_arrivals(&rx), "SO_TIMESTAMPNS is refused");
        let mut space = stamp_space();
        let mut buf = [0u8; 64];
        let err = recv_stamped(&rx, &mut buf, &mut space).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);

        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        let sent = Instant::now();
        std::thread::sleep(Duration::from_millis(60));
        let arrivals = Arrivals::now();
        let got = recv_stamped(&rx, &mut buf, &mut space).unwrap();
        let read = Instant::now();
        assert_eq!(&buf[..got.len], b"hello");
        assert_eq!(got.from, tx.local_addr().unwrap());
        let at = arrivals.arrival(got.stamp, read);
        // Read 60 ms late, it arrived about when it was sent (wall and monotonic clocks may
        // differ by a little; the bound is generous).
        assert!(
            read.duration_since(at) >= Duration::from_millis(45),
            "{:?}",
            read.duration_since(at)
        );
        assert!(at.saturating_duration_since(sent) < Duration::from_millis(15));
    }

    #[test]
    fn arrivals_are_never_after_the_read_nor_long_before_it() {
        let arrivals = Arrivals::now();
        let now = arrivals.instant + Duration::from_millis(5);
        assert_eq!(arrivals.arrival(None, now), now);
        // Stamped "later" than the read (a wall clock step): the read.
        assert_eq!(
            arrivals.arrival(Some(arrivals.wall + Duration::from_secs(3)), now),
            now
        );
        // Stamped an hour ago: at most MAX_WAIT.
        let old = arrivals.wall - Duration::from_secs(3600);
        assert_eq!(arrivals.arrival(Some(old), now), now - MAX_WAIT);
        // Stamped 2 ms after the reading: 3 ms before the read.
        let at = arrivals.arrival(Some(arrivals.wall + Duration::from_millis(2)), now);
        assert_eq!(now.duration_since(at), Duration::from_millis(3));
    }

    #[test]
    fn sends_to_several_addresses_in_order_and_counts_each() {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx: Vec<std::net::UdpSocket> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut out = Vec::new();
        for i in 0..150u8 {
            let to = rx[usize::from(i) % 3].local_addr().unwrap();
            out.push((bytes::Bytes::from(vec![i; 20]), to));
        }
        let mut outcomes = Vec::new();
        send_all(&tx, &out, &mut outcomes);
        assert_eq!(outcomes.len(), 150);
        assert!(outcomes.iter().all(|o| *o == Sent::Ok));
        for (k, socket) in rx.iter().enumerate() {
            socket.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 64];
            let mut got = Vec::new();
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                assert_eq!(n, 20);
                assert_eq!(from, tx.local_addr().unwrap());
                got.push(buf[0]);
            }
            let want: Vec<u8> = (0..150u8).filter(|i| usize::from(*i) % 3 == k).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_refused_datagram_is_dropped_and_the_rest_still_go() {
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = rx.local_addr().unwrap();
        // An IPv6 destination from an IPv4 socket is refused by the kernel.
        let bad: SocketAddr = "[::1]:9".parse().unwrap();
        let out = vec![
            (bytes::Bytes::from_static(b"a"), good),
            (bytes::Bytes::from_static(b"b"), bad),
            (bytes::Bytes::from_static(b"c"), good),
        ];
        let mut outcomes = Vec::new();
        send_all(&tx, &out, &mut outcomes);
        assert_eq!(outcomes, vec![Sent::Ok, Sent::Refused, Sent::Ok]);
        rx.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        while let Ok((n, _)) = rx.recv_from(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"ac");
    }
}
