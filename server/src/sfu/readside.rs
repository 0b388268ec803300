//! The interceptors that only care about what a connection *receives*, behind one link of the
//! chain.
//!
//! `rtc` walks every packet through every interceptor of a connection's chain, in both
//! directions, and each step moves the packet into the interceptor's queue and out again. Most of
//! the server's interceptors (the NACK generator, transport-wide congestion control feedback,
//! receiver reports, simulcast repair, the engine's tap) act only on inbound packets and on
//! timers, yet every forwarded copy of a packet, the bulk of the server's work, used to pass
//! through all of them on its way out. [`ReadSide`] holds them as one inner chain: inbound
//! packets and timers go through that chain as before, in the same order; an outbound packet
//! passes the whole group in one step; the RTCP the inner interceptors generate (NACKs, receiver
//! reports, congestion control feedback) still leaves through it.

use std::collections::VecDeque;
use std::time::Instant;

use rtc::interceptor::{Interceptor, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::error::Error;

/// Position in the outer chain: above the NACK responder (which answers the subscribers' NACKs
/// from the history of what went out), where the group's first member used to be.
pub const SLOT: usize = 6_500;

/// Read-only interceptors as one link of a connection's chain (see the module's comment).
pub struct ReadSide<I> {
    inner: I,
    /// Outbound packets, passed on untouched.
    writes: VecDeque<TaggedPacket>,
    /// The inner chain may have generated packets since it was last drained: it only does on
    /// an inbound packet, a timeout or an event (polling it walks all its interceptors, which
    /// every forwarded packet would otherwise pay for).
    generated: bool,
}

impl<I: Interceptor> ReadSide<I> {
    /// `inner`: a chain of interceptors that never need to see outbound packets (built by an
    /// `rtc::interceptor::Registry` of their own).
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            writes: VecDeque::new(),
            generated: true,
        }
    }
}

impl<I: Interceptor> Protocol<TaggedPacket, TaggedPacket, ()> for ReadSide<I> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.generated = true;
        self.inner.handle_read(msg)
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.inner.poll_read()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(msg);
        Ok(())
    }

    /// What passed by first, then what the inner interceptors generated.
    fn poll_write(&mut self) -> Option<Self::Wout> {
        if let Some(msg) = self.writes.pop_front() {
            return Some(msg);
        }
        if !self.generated {
            return None;
        }
        let msg = self.inner.poll_write();
        self.generated = msg.is_some();
        msg
    }

    fn handle_event(&mut self, evt: ()) -> Result<(), Self::Error> {
        self.generated = true;
        self.inner.handle_event(evt)
    }

    fn poll_event(&mut self) -> Option<Self::Eout> {
        self.inner.poll_event()
    }

    fn handle_timeout(&mut self, now: Self::Time) -> Result<(), Self::Error> {
        self.generated = true;
        self.inner.handle_timeout(now)
    }

    fn poll_timeout(&mut self) -> Option<Self::Time> {
        self.inner.poll_timeout()
    }

    fn close(&mut self) -> Result<(), Self::Error> {
        self.generated = true;
        self.inner.close()
    }
}

impl<I: Interceptor> Interceptor for ReadSide<I> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.generated = true;
        self.inner.bind_local_stream(info);
    }

    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.generated = true;
        self.inner.unbind_local_stream(info);
    }

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.generated = true;
        self.inner.bind_remote_stream(info);
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.generated = true;
        self.inner.unbind_remote_stream(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::interceptor::{AttributedPacket, Packet};
    use rtc::rtp;
    use rtc::shared::{TransportContext, TransportMessage};

    /// An inner interceptor that passes reads on, emits one packet per timeout, and counts the
    /// outbound packets it is shown and how often it is polled for writes.
    #[derive(Default)]
    struct Inner {
        reads: VecDeque<TaggedPacket>,
        generated: VecDeque<TaggedPacket>,
        writes_seen: usize,
        write_polls: usize,
    }

    fn packet(seq: u16) -> TaggedPacket {
        TransportMessage {
            now: Instant::now(),
            transport: TransportContext::default(),
            message: AttributedPacket::new(Packet::Rtp(rtp::Packet {
                header: rtp::header::Header {
                    sequence_number: seq,
                    ..Default::default()
                },
                ..Default::default()
            })),
        }
    }

    fn seq(msg: &TaggedPacket) -> u16 {
        match &msg.message.packet {
            Packet::Rtp(p) => p.header.sequence_number,
            _ => u16::MAX,
        }
    }

    impl Protocol<TaggedPacket, TaggedPacket, ()> for Inner {
        type Rout = TaggedPacket;
        type Wout = TaggedPacket;
        type Eout = ();
        type Error = Error;
        type Time = Instant;

        fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Error> {
            self.reads.push_back(msg);
            Ok(())
        }
        fn poll_read(&mut self) -> Option<TaggedPacket> {
            self.reads.pop_front()
        }
        fn handle_write(&mut self, _msg: TaggedPacket) -> Result<(), Error> {
            self.writes_seen += 1;
            Ok(())
        }
        fn poll_write(&mut self) -> Option<TaggedPacket> {
            self.write_polls += 1;
            self.generated.pop_front()
        }
        fn handle_timeout(&mut self, _now: Instant) -> Result<(), Error> {
            self.generated.push_back(packet(1000));
            Ok(())
        }
    }

    impl Interceptor for Inner {
        fn bind_local_stream(&mut self, _info: &StreamInfo) {}
        fn unbind_local_stream(&mut self, _info: &StreamInfo) {}
        fn bind_remote_stream(&mut self, _info: &StreamInfo) {}
        fn unbind_remote_stream(&mut self, _info: &StreamInfo) {}
    }

    #[test]
    fn outbound_packets_skip_the_inner_chain_and_what_it_generates_still_leaves() {
        let mut r = ReadSide::new(Inner::default());
        // Nothing generated yet: drained once.
        assert!(r.poll_write().is_none());
        let polls = r.inner.write_polls;
        // Outbound packets pass in order, the inner chain neither shown them nor polled.
        for n in 0..3 {
            r.handle_write(packet(n)).unwrap();
        }
        let out: Vec<u16> = std::iter::from_fn(|| r.poll_write())
            .map(|m| seq(&m))
            .collect();
        assert_eq!(out, [0, 1, 2]);
        assert_eq!(r.inner.writes_seen, 0);
        assert_eq!(r.inner.write_polls, polls, "polled with nothing to give");
        // A timeout makes the inner chain generate: it leaves after what passed by.
        r.handle_write(packet(7)).unwrap();
        r.handle_timeout(Instant::now()).unwrap();
        let out: Vec<u16> = std::iter::from_fn(|| r.poll_write())
            .map(|m| seq(&m))
            .collect();
        assert_eq!(out, [7, 1000]);
        // Inbound packets go through the inner chain.
        r.handle_read(packet(42)).unwrap();
        assert_eq!(r.poll_read().map(|m| seq(&m)), Some(42));
        assert!(r.poll_read().is_none());
    }
}
