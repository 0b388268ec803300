//! Sending many datagrams with one system call (`sendmmsg`): the engine gathers what all its
//! connections produced in one pass and hands it to the kernel in batches. Each datagram may go
//! to a different address.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, sendmmsg};

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
