//! What a subscriber (anyone in an open room) sends the engine about the media it receives:
//! RTCP parsed by `rtc`, then retransmission requests (NACK) through `sfu::history` and
//! congestion control feedback (TWCC) through `sfu::downlink`, within the bounds
//! `sfu::feedback` applies.
//!
//! Properties: nothing panics; a NACK item names 1–17 packets, the first being its packet id;
//! a feedback report accepted tells of at most `MAX_ACKS_PER_REPORT` packets, whatever its
//! chunks claim; feedback never matches more packets than were sent, each at most once; the history resends
//! only packets it was given, at most `MAX_RESENDS` times each.

#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use salon_server::sfu::downlink::Downlink;
use salon_server::sfu::feedback::{self, MAX_ACKS_PER_REPORT};
use salon_server::sfu::history::{self, History};

/// Packets "sent" before the feedback is read: numbers 0–599 and sequence numbers 1000–1599.
const SENT: u16 = 600;

fuzz_target!(|data: &[u8]| {
    let mut buf = data;
    let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut buf) else {
        return;
    };
    let t0 = Instant::now();
    let mut downlink = Downlink::default();
    let mut sent = History::default();
    for i in 0..SENT {
        let at = t0 + Duration::from_millis(u64::from(i));
        assert_eq!(downlink.stamp(1_200, at), u64::from(i));
        let number = (i % 7 == 0).then_some(u64::from(i));
        sent.push(1_000 + i, Bytes::from((1_000 + i).to_be_bytes().to_vec()), number, at);
    }
    let now = t0 + Duration::from_millis(u64::from(SENT));
    let mut resent = std::collections::HashMap::<u16, u8>::new();
    for packet in &packets {
        let any = packet.as_any();
        if let Some(cc) = any.downcast_ref::<TransportLayerCc>() {
            if let Some(acks) = feedback::acks_of(cc, usize::MAX) {
                assert!(acks.len() <= MAX_ACKS_PER_REPORT);
                downlink.on_feedback(&acks);
                assert!(downlink.matched() <= u64::from(SENT));
            }
        } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
            for pair in &nack.nacks {
                let seqs: Vec<u16> = history::nacked(pair.packet_id, pair.lost_packets).collect();
                assert!((1..=17).contains(&seqs.len()));
                assert_eq!(seqs[0], pair.packet_id);
                for seq in seqs {
                    if let Some((datagram, number)) = sent.resend(seq, now) {
                        assert_eq!(&datagram[..], &seq.to_be_bytes()[..]);
                        if let Some(number) = number {
                            downlink.resent(number);
                        }
                        let n = resent.entry(seq).or_default();
                        *n += 1;
                        assert!(*n <= history::MAX_RESENDS);
                    }
                }
            }
        }
    }
});
