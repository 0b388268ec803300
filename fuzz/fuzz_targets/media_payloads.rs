//! The parts of the engine that look inside RTP from publishers (anyone in an open room):
//! keyframe detection (H.264 and VP8), the picture size of a VP8 keyframe or an H.264 sequence
//! parameter set, the RFC 6464 audio
//! level, and the de-encapsulation of a simulcast layer's retransmission.
//!
//! Properties: nothing panics or reads past the payload; a VP8 size is only found in a packet
//! that starts a VP8 keyframe, an H.264 size only in one that starts an H.264 keyframe, and no
//! size is zero; an audio score is 0–127; a retransmission is rewritten only when
//! it carries an original sequence number, which becomes the packet's, and the payload shrinks
//! by exactly those two bytes.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rtc::rtp;
use salon_server::sfu::keyframe::VideoCodec;
use salon_server::sfu::{layers, repair, speakers};

fuzz_target!(|data: &[u8]| {
    // H.264: not panicking (a truncated aggregate included) is the property.
    let h264 = VideoCodec::H264.starts_keyframe(data);
    if let Some((w, h)) = VideoCodec::H264.keyframe_size(data) {
        assert!(h264, "an SPS size outside an H.264 keyframe start");
        assert!(w > 0 && h > 0);
    }
    let vp8 = VideoCodec::Vp8.starts_keyframe(data);
    if layers::vp8_keyframe_size(data).is_some() {
        assert!(vp8, "a picture size outside a VP8 keyframe start");
    }
    if let Some(score) = speakers::score(data) {
        assert!(score <= 127);
    }
    let mut packet = rtp::Packet {
        header: rtp::header::Header {
            version: 2,
            payload_type: 97,
            sequence_number: 7,
            ssrc: 1,
            ..Default::default()
        },
        payload: Bytes::copy_from_slice(data),
    };
    if repair::deencapsulate(&mut packet, 42, 96) {
        assert!(data.len() >= 2);
        assert_eq!(
            packet.header.sequence_number,
            u16::from_be_bytes([data[0], data[1]])
        );
        assert_eq!((packet.header.ssrc, packet.header.payload_type), (42, 96));
        assert_eq!(packet.payload.len(), data.len() - 2);
    } else {
        assert!(data.len() < 2);
        assert_eq!(packet.header.sequence_number, 7);
    }
});
