//! Per-subscriber RTP rewriting, pure and allocation-free once built.
//!
//! webrtc 0.21 silently drops an outgoing packet whose SSRC, payload type or header-extension ids
//! do not match what was negotiated on that leg, and every leg negotiates its own. So each
//! subscriber gets a [`Rewrite`]: its own SSRC, the payload type its leg uses for the publisher's
//! codec, and a table from the publisher leg's extension ids to the subscriber leg's. Only
//! end-to-end extensions cross (audio level, video orientation, capture time, playout delay,
//! dependency descriptor); per-hop ones (transport-cc, abs-send-time, mid, rid) never do, since
//! each leg makes its own (the engine numbers each copy for its subscriber's transport-cc).
//! Decisions read only RTP headers, never payloads, so they keep working once media is
//! end-to-end encrypted.

use bytes::Bytes;
use rtc::rtp;
use rtc::rtp::header::{EXTENSION_PROFILE_ONE_BYTE, EXTENSION_PROFILE_TWO_BYTE};
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodec, RTCRtpCodecParameters};
use rtc::sdp::extmap::TRANSPORT_CC_URI;

/// Header extensions that describe the media itself and so are forwarded.
pub const END_TO_END_EXTENSIONS: &[&str] = &[
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "urn:3gpp:video-orientation",
    "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time",
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension",
];

/// How one subscriber's copy of a packet differs from the publisher's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub ssrc: u32,
    pub payload_type: u8,
    /// The publisher's payload type this rewrite accepts; other payload types (RTX, FEC, a codec
    /// switch) are not forwarded.
    pub source_payload_type: Option<u8>,
    /// `ext_ids[publisher_id]` is the subscriber's id for the same extension, or 0 to drop it.
    ext_ids: [u8; 256],
    /// The subscriber leg's id for transport-wide sequence numbers (1–14, so that it fits
    /// either header form), when it negotiated them: [`Rewrite::apply`] puts a placeholder
    /// first in the copy's extensions and the engine stamps the copy's number into the
    /// marshalled bytes ([`stamp_transport_seq`]).
    pub transport_cc: Option<u8>,
}

impl Rewrite {
    /// Builds the rewrite. `publisher_exts` and `subscriber_exts` are the negotiated
    /// `(uri, id)` lists of the two legs.
    pub fn new(
        ssrc: u32,
        payload_type: u8,
        source_payload_type: Option<u8>,
        publisher_exts: &[(String, u16)],
        subscriber_exts: &[(String, u16)],
    ) -> Self {
        let mut ext_ids = [0u8; 256];
        for (uri, from) in publisher_exts {
            if !END_TO_END_EXTENSIONS.contains(&uri.as_str()) {
                continue;
            }
            let to = subscriber_exts
                .iter()
                .find(|(u, _)| u == uri)
                .map(|(_, id)| *id);
            if let (Ok(from), Some(Ok(to))) = (u8::try_from(*from), to.map(u8::try_from)) {
                ext_ids[usize::from(from)] = to;
            }
        }
        let transport_cc = subscriber_exts
            .iter()
            .find(|(uri, _)| uri == TRANSPORT_CC_URI)
            .and_then(|(_, id)| u8::try_from(*id).ok())
            .filter(|id| (1..=14).contains(id));
        Self {
            ssrc,
            payload_type,
            source_payload_type,
            ext_ids,
            transport_cc,
        }
    }

    /// Rewrites `packet` in place for this subscriber. Returns false when the packet must not be
    /// forwarded to it (a payload type it does not carry).
    pub fn apply(&self, packet: &mut rtp::Packet) -> bool {
        let header = &mut packet.header;
        if self
            .source_payload_type
            .is_some_and(|pt| pt != header.payload_type)
        {
            return false;
        }
        header.ssrc = self.ssrc;
        header.payload_type = self.payload_type;
        header.extensions.retain_mut(|ext| {
            let to = self.ext_ids[usize::from(ext.id)];
            ext.id = to;
            to != 0
        });
        if let Some(id) = self.transport_cc {
            header.extensions.insert(
                0,
                rtp::header::Extension {
                    id,
                    payload: Bytes::from_static(&[0, 0]),
                },
            );
        }
        header.extension = !header.extensions.is_empty();
        // The incoming padding belonged to the incoming extension block; the marshaller pads the
        // rewritten block itself (a stale value makes the size check fail and the packet drop).
        header.extensions_padding = 0;
        if !header.extension {
            header.extension_profile = 0;
        } else if header.extension_profile != EXTENSION_PROFILE_TWO_BYTE {
            header.extension_profile = EXTENSION_PROFILE_ONE_BYTE;
        }
        true
    }
}

/// Writes transport-wide sequence number `seq` into `wire`, a copy marshalled after
/// [`Rewrite::apply`] put extension `id`'s placeholder first. False, and nothing written, if the
/// bytes are not laid out that way.
pub fn stamp_transport_seq(wire: &mut [u8], id: u8, seq: u16) -> bool {
    let Some(&first) = wire.first() else {
        return false;
    };
    if first & 0x10 == 0 {
        return false;
    }
    let block = 12 + 4 * usize::from(first & 0x0F);
    let (Some(&p0), Some(&p1)) = (wire.get(block), wire.get(block + 1)) else {
        return false;
    };
    let element = block + 4;
    let data = match u16::from_be_bytes([p0, p1]) {
        EXTENSION_PROFILE_ONE_BYTE if wire.get(element) == Some(&(id << 4 | 1)) => element + 1,
        EXTENSION_PROFILE_TWO_BYTE
            if wire.get(element) == Some(&id) && wire.get(element + 1) == Some(&2) =>
        {
            element + 2
        }
        _ => return false,
    };
    match wire.get_mut(data..data + 2) {
        Some(slot) => {
            slot.copy_from_slice(&seq.to_be_bytes());
            true
        }
        None => false,
    }
}

/// The payload type a leg negotiated for `codec`: same MIME type (case-insensitive) and, for
/// codecs whose fmtp matters (H.264 profile and packetization mode), the same fmtp parameters.
pub fn negotiated_payload_type(
    codec: &RTCRtpCodec,
    negotiated: &[RTCRtpCodecParameters],
) -> Option<u8> {
    let same_mime =
        |c: &&RTCRtpCodecParameters| c.rtp_codec.mime_type.eq_ignore_ascii_case(&codec.mime_type);
    negotiated
        .iter()
        .filter(same_mime)
        .find(|c| fmtp_compatible(&c.rtp_codec.sdp_fmtp_line, &codec.sdp_fmtp_line))
        .or_else(|| {
            if codec.mime_type.eq_ignore_ascii_case("video/h264") {
                None
            } else {
                negotiated.iter().find(same_mime)
            }
        })
        .map(|c| c.payload_type)
}

/// Whether a send leg negotiated for codec `a` can carry codec `b`: same MIME type and, for
/// H.264, the same packetization mode and profile.
pub fn codecs_interchangeable(a: &RTCRtpCodec, b: &RTCRtpCodec) -> bool {
    a.mime_type.eq_ignore_ascii_case(&b.mime_type)
        && (!a.mime_type.eq_ignore_ascii_case("video/h264")
            || fmtp_compatible(&a.sdp_fmtp_line, &b.sdp_fmtp_line))
}

/// H.264 streams are interchangeable when packetization mode and profile (not level) agree.
fn fmtp_compatible(a: &str, b: &str) -> bool {
    let param = |line: &str, key: &str| {
        line.split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    let mode = |line: &str| param(line, "packetization-mode").unwrap_or_else(|| "0".into());
    let profile =
        |line: &str| param(line, "profile-level-id").map(|p| p.chars().take(4).collect::<String>());
    mode(a) == mode(b) && profile(a) == profile(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn exts(list: &[(&str, u16)]) -> Vec<(String, u16)> {
        list.iter().map(|(u, i)| ((*u).to_owned(), *i)).collect()
    }

    fn packet(pt: u8, ext_ids: &[u8]) -> rtp::Packet {
        rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type: pt,
                ssrc: 1111,
                sequence_number: 7,
                timestamp: 90_000,
                extension: !ext_ids.is_empty(),
                extension_profile: 0xBEDE,
                extensions: ext_ids
                    .iter()
                    .map(|&id| rtp::header::Extension {
                        id,
                        payload: Bytes::from_static(&[0x80]),
                    })
                    .collect(),
                ..Default::default()
            },
            payload: Bytes::from_static(b"opaque, maybe encrypted"),
        }
    }

    const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    const TWCC: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

    #[test]
    fn ssrc_pt_and_extension_ids_are_rewritten() {
        let rw = Rewrite::new(
            4242,
            109,
            Some(111),
            &exts(&[(AUDIO_LEVEL, 1), (TWCC, 3)]),
            &exts(&[(TWCC, 5), (AUDIO_LEVEL, 10)]),
        );
        let mut p = packet(111, &[1, 3]);
        assert!(rw.apply(&mut p));
        assert_eq!(p.header.ssrc, 4242);
        assert_eq!(p.header.payload_type, 109);
        // Audio level crosses with the subscriber's id. Transport-cc is per hop: the publisher's
        // number is dropped, and the subscriber's own slot comes first (stamped per copy).
        let ids: Vec<u8> = p.header.extensions.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![5, 10]);
        assert_eq!(rw.transport_cc, Some(5));
        assert!(p.header.extension);
        // Sequence numbers, timestamps and payload are untouched.
        assert_eq!(p.header.sequence_number, 7);
        assert_eq!(p.header.timestamp, 90_000);
        assert_eq!(&p.payload[..], b"opaque, maybe encrypted");
    }

    #[test]
    fn a_rewritten_chrome_audio_packet_marshals() {
        use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
        // Chrome's audio: audio level (id 1, 1 byte) and transport-cc (id 3, 2 bytes) make a
        // 5-byte one-byte-header block, padded with 3 zero bytes on the wire.
        let mut original = packet(111, &[]);
        original.header.extension = true;
        original.header.extension_profile = 0xBEDE;
        original.header.extensions = vec![
            rtp::header::Extension {
                id: 1,
                payload: Bytes::from_static(&[0x90]),
            },
            rtp::header::Extension {
                id: 3,
                payload: Bytes::from_static(&[0x01, 0x02]),
            },
        ];
        let wire = original.marshal().expect("marshal original");
        let mut received = rtp::Packet::unmarshal(&mut &wire[..]).expect("unmarshal");
        let rw = Rewrite::new(
            9,
            111,
            Some(111),
            &exts(&[
                (AUDIO_LEVEL, 1),
                (TWCC, 3),
                ("urn:ietf:params:rtp-hdrext:sdes:mid", 4),
            ]),
            &exts(&[(AUDIO_LEVEL, 1), (TWCC, 2)]),
        );
        assert!(rw.apply(&mut received));
        let mut buf = vec![0u8; received.marshal_size()];
        let written = received
            .marshal_to(&mut buf)
            .expect("the rewritten packet marshals");
        assert_eq!(written, buf.len(), "marshal_size and marshal_to agree");
    }

    #[test]
    fn the_transport_wide_number_is_stamped_into_the_marshalled_copy() {
        use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};
        for (profile, others) in [
            (0xBEDE, &[1u8][..]),
            (0x1000, &[1u8][..]),
            (0xBEDE, &[][..]),
        ] {
            let rw = Rewrite::new(
                9,
                96,
                None,
                &exts(&[(AUDIO_LEVEL, 1)]),
                &exts(&[(AUDIO_LEVEL, 2), (TWCC, 4)]),
            );
            let mut p = packet(96, others);
            p.header.extension_profile = profile;
            p.header.csrc = vec![7, 8];
            assert!(rw.apply(&mut p));
            let mut wire = vec![0u8; p.marshal_size()];
            let n = p.marshal_to(&mut wire).unwrap();
            assert!(stamp_transport_seq(&mut wire[..n], 4, 0xABCD));
            let back = rtp::Packet::unmarshal(&mut &wire[..n]).unwrap();
            assert_eq!(
                back.header.get_extension(4).as_deref(),
                Some(&[0xAB, 0xCD][..])
            );
            if !others.is_empty() {
                assert_eq!(back.header.get_extension(2).as_deref(), Some(&[0x80][..]));
            }
            assert_eq!(&back.payload[..], b"opaque, maybe encrypted");
            // Another id, or no extension block: nothing written.
            assert!(!stamp_transport_seq(&mut wire[..n], 5, 1));
        }
        let mut plain = packet(96, &[]);
        plain.header.extension = false;
        let wire = plain.marshal().unwrap();
        assert!(!stamp_transport_seq(&mut wire.to_vec(), 4, 1));
        assert!(!stamp_transport_seq(&mut [], 4, 1));
        assert!(!stamp_transport_seq(&mut [0x10, 0, 0], 4, 1));
    }

    #[test]
    fn extensions_the_subscriber_did_not_negotiate_are_dropped() {
        let rw = Rewrite::new(1, 96, None, &exts(&[(AUDIO_LEVEL, 1)]), &[]);
        let mut p = packet(96, &[1, 2]);
        assert!(rw.apply(&mut p));
        assert!(p.header.extensions.is_empty());
        assert!(!p.header.extension);
    }

    #[test]
    fn other_payload_types_are_not_forwarded() {
        let rw = Rewrite::new(1, 96, Some(96), &[], &[]);
        assert!(!rw.apply(&mut packet(97, &[])));
    }

    fn codec(mime: &str, fmtp: &str) -> RTCRtpCodec {
        RTCRtpCodec {
            mime_type: mime.into(),
            clock_rate: 90_000,
            channels: 0,
            sdp_fmtp_line: fmtp.into(),
            rtcp_feedback: vec![],
        }
    }

    fn params(mime: &str, fmtp: &str, pt: u8) -> RTCRtpCodecParameters {
        RTCRtpCodecParameters {
            rtp_codec: codec(mime, fmtp),
            payload_type: pt,
        }
    }

    #[test]
    fn payload_type_follows_codec_and_h264_profile() {
        let leg = [
            params("video/VP8", "", 96),
            params(
                "video/H264",
                "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
                106,
            ),
            params(
                "video/H264",
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                108,
            ),
        ];
        let h264 = codec("video/h264", "packetization-mode=1;profile-level-id=42e01f");
        assert_eq!(negotiated_payload_type(&h264, &leg), Some(108));
        assert_eq!(
            negotiated_payload_type(&codec("video/vp8", ""), &leg),
            Some(96)
        );
        let high = codec("video/H264", "packetization-mode=1;profile-level-id=640c1f");
        assert_eq!(negotiated_payload_type(&high, &leg), None);
        assert_eq!(negotiated_payload_type(&codec("video/AV1", ""), &leg), None);
    }
}
