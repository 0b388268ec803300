//! ICE-TCP (RFC 6544): media over TCP for clients whose network lets no UDP through to the
//! media port. The server listens on one TCP port beside the UDP port and is always the passive
//! side: it accepts, never dials. Each stream carries datagrams framed by a 2-byte length
//! (RFC 4571), and belongs to the one connection its first connectivity check names (checked
//! with that connection's ICE password, as on UDP). The engine feeds its frames to that
//! connection as if they were datagrams, and writes the connection's datagrams back framed.
//!
//! What one client can do to the server is bounded here: a stream must name a connection within
//! [`HELLO_WITHIN`], its frames are at most [`MAX_FRAME`] bytes, what waits to be written to it
//! is at most [`MAX_QUEUED`] bytes (a stream that cannot keep up loses datagrams, as UDP would),
//! and a stream silent for [`IDLE_AFTER`] is closed.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};

/// Length of the RFC 4571 header.
const HEADER: usize = 2;
/// Largest frame accepted: the engine's datagram size (a longer frame closes the stream).
pub const MAX_FRAME: usize = 2048;
/// Bytes waiting to be written to one stream before further datagrams to it are dropped.
pub const MAX_QUEUED: usize = 256 * 1024;
/// A stream must carry a valid connectivity check within this long of its accept.
pub const HELLO_WITHIN: Duration = Duration::from_secs(5);
/// A stream that has carried nothing this long is closed (ICE's consent checks come every few
/// seconds on a pair in use).
pub const IDLE_AFTER: Duration = Duration::from_secs(30);
/// Reads from one stream per readiness before others get a turn.
pub const READ_BUDGET: usize = 16;

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The client closed it, or it broke.
    Gone,
    /// A frame over [`MAX_FRAME`] bytes.
    Oversized,
}

/// Splits a byte stream into RFC 4571 frames, holding at most one frame's worth.
#[derive(Debug, Default)]
pub struct Frames {
    buf: BytesMut,
}

impl Frames {
    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, `Ok(None)` if it has not all arrived yet, or an error if it
    /// announces more than [`MAX_FRAME`] bytes.
    pub fn next_frame(&mut self) -> Result<Option<BytesMut>, Closed> {
        let Some(header) = self.buf.get(..HEADER) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if len > MAX_FRAME {
            return Err(Closed::Oversized);
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        self.buf.advance(HEADER);
        Ok(Some(self.buf.split_to(len)))
    }
}

/// Appends `datagram` to `out` with its RFC 4571 header. False (nothing appended) if it is too
/// long to frame or `out` would grow past `limit`.
pub fn frame_into(out: &mut Vec<u8>, datagram: &[u8], limit: usize) -> bool {
    let Ok(len) = u16::try_from(datagram.len()) else {
        return false;
    };
    if out.len() + HEADER + datagram.len() > limit {
        return false;
    }
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(datagram);
    true
}

/// One accepted ICE-TCP stream.
pub struct Stream<S> {
    pub socket: S,
    pub peer: SocketAddr,
    pub frames: Frames,
    /// Framed datagrams not yet taken by the kernel (`sent` of them already were).
    out: Vec<u8>,
    sent: usize,
    pub opened: Instant,
    pub last_read: Instant,
    /// Whether the socket is registered for writability (it is while `out` has bytes).
    pub wants_write: bool,
}

impl<S: Read + Write> Stream<S> {
    pub fn new(socket: S, peer: SocketAddr, now: Instant) -> Self {
        Self {
            socket,
            peer,
            frames: Frames::default(),
            out: Vec::new(),
            sent: 0,
            opened: now,
            last_read: now,
            wants_write: false,
        }
    }

    /// Reads once into `frames` (take the whole frames out after each read: what stays is
    /// then less than a frame). `Ok(false)`: the kernel had nothing.
    pub fn read(&mut self, buf: &mut [u8], now: Instant) -> Result<bool, Closed> {
        loop {
            match self.socket.read(buf) {
                Ok(0) => return Err(Closed::Gone),
                Ok(n) => {
                    self.last_read = now;
                    self.frames.push(buf.get(..n).unwrap_or_default());
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(Closed::Gone),
            }
        }
    }

    /// Queues one datagram, framed. False if the queue is full (the datagram is dropped).
    pub fn queue(&mut self, datagram: &[u8]) -> bool {
        if self.sent > 0 && self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        }
        frame_into(&mut self.out, datagram, MAX_QUEUED + self.sent)
    }

    /// Whether datagrams wait to be written.
    pub fn pending(&self) -> bool {
        self.sent < self.out.len()
    }

    /// Writes what is queued until the kernel takes no more.
    pub fn write(&mut self) -> Result<(), Closed> {
        while self.sent < self.out.len() {
            match self
                .socket
                .write(self.out.get(self.sent..).unwrap_or_default())
            {
                Ok(0) => return Err(Closed::Gone),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(Closed::Gone),
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > MAX_QUEUED / 2 {
            // Keep the buffer from creeping: move the unsent tail to the front.
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A socket whose reads come from a script and whose writes accept `room` bytes at a time.
    struct Fake {
        reads: Vec<std::io::Result<Vec<u8>>>,
        written: Vec<u8>,
        room: usize,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.reads.is_empty() {
                return Err(ErrorKind::WouldBlock.into());
            }
            let bytes = self.reads.remove(0)?;
            let mut c = Cursor::new(bytes);
            c.read(buf)
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn stream(reads: Vec<std::io::Result<Vec<u8>>>, room: usize) -> Stream<Fake> {
        let fake = Fake {
            reads,
            written: Vec::new(),
            room,
        };
        Stream::new(fake, "192.0.2.1:5000".parse().unwrap(), Instant::now())
    }

    #[test]
    fn frames_split_across_reads_come_out_whole() {
        let mut s = stream(
            vec![
                Ok(vec![0, 3, b'a']),
                Ok(vec![b'b', b'c', 0, 1]),
                Ok(vec![b'z']),
            ],
            0,
        );
        let mut buf = [0u8; 64];
        while s.read(&mut buf, Instant::now()) == Ok(true) {}
        assert_eq!(s.frames.next_frame().unwrap().unwrap().as_ref(), b"abc");
        assert_eq!(s.frames.next_frame().unwrap().unwrap().as_ref(), b"z");
        assert_eq!(s.frames.next_frame(), Ok(None));
        // An empty frame is a frame (nothing to feed, but not an error).
        s.frames.push(&[0, 0]);
        assert_eq!(s.frames.next_frame().unwrap().unwrap().len(), 0);
    }

    #[test]
    fn an_oversized_frame_or_a_closed_socket_ends_the_stream() {
        let mut f = Frames::default();
        f.push(&(MAX_FRAME as u16 + 1).to_be_bytes());
        assert_eq!(f.next_frame(), Err(Closed::Oversized));
        let mut s = stream(vec![Ok(vec![])], 0);
        assert_eq!(s.read(&mut [0u8; 8], Instant::now()), Err(Closed::Gone));
        let mut s = stream(vec![Err(ErrorKind::ConnectionReset.into())], 0);
        assert_eq!(s.read(&mut [0u8; 8], Instant::now()), Err(Closed::Gone));
        // A frame of exactly the limit is fine.
        let mut big = (MAX_FRAME as u16).to_be_bytes().to_vec();
        big.extend(std::iter::repeat_n(7u8, MAX_FRAME));
        let mut s = stream(vec![Ok(big)], 0);
        assert_eq!(s.read(&mut [0u8; 4096], Instant::now()), Ok(true));
        assert_eq!(s.frames.next_frame().unwrap().unwrap().len(), MAX_FRAME);
    }

    #[test]
    fn writes_are_framed_kept_while_the_kernel_is_full_and_bounded() {
        let mut s = stream(vec![], 3);
        assert!(s.queue(b"hello"));
        s.write().unwrap();
        assert_eq!(s.socket.written, [0, 5, b'h']);
        assert!(s.pending());
        s.socket.room = 100;
        s.write().unwrap();
        assert_eq!(s.socket.written, [0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert!(!s.pending());
        // Full: further datagrams are dropped, not queued without end.
        s.socket.room = 0;
        let datagram = [1u8; 1200];
        let mut queued = 0;
        while s.queue(&datagram) {
            queued += 1;
        }
        assert_eq!(queued, MAX_QUEUED / 1202);
        assert!(!frame_into(&mut Vec::new(), &vec![0u8; 70_000], usize::MAX));
    }
}
