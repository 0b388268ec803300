//! Opus audio at 48 kHz through libopus (the `opus` crate, which builds libopus from source and
//! links it statically, so no system library is needed on any platform).
//!
//! PCM is interleaved signed 16-bit. The encoder takes 10 ms or 20 ms frames (WebRTC sends 20 ms
//! by default); the decoder returns whatever duration the packet holds.
//!
//! On RTP, Opus needs no depacketizer: one RTP payload is exactly one Opus packet (RFC 7587).
//!
//! Both codec types are `Send` but not `Sync`: move them to the thread that uses them.

use opus::{Application, Bitrate};

use super::MediaError;

/// The only rate Salon runs Opus at (WebRTC's `opus/48000/2`).
pub const SAMPLE_RATE_HZ: u32 = 48_000;
/// Samples per channel in 10 ms.
pub const SAMPLES_PER_10MS: usize = 480;
/// Samples per channel in 20 ms.
pub const SAMPLES_PER_20MS: usize = 960;
/// Samples per channel in the longest Opus packet (120 ms).
pub const MAX_SAMPLES_PER_PACKET: usize = 5760;
/// Concealment works in steps of 2.5 ms.
const PLC_STEP: usize = 120;
/// Output buffer for one encoded frame. libopus never needs more than 1275 bytes per frame.
const MAX_ENCODED_BYTES: usize = 1500;
/// Longest packet the decoder accepts (48 frames of 1275 bytes, plus framing).
const MAX_PACKET_BYTES: usize = 48 * 1275 + 100;

/// Mono or stereo; Opus supports nothing else in a single stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channels {
    Mono,
    Stereo,
}

impl Channels {
    /// 1 or 2.
    pub fn count(self) -> usize {
        match self {
            Self::Mono => 1,
            Self::Stereo => 2,
        }
    }

    fn to_opus(self) -> opus::Channels {
        match self {
            Self::Mono => opus::Channels::Mono,
            Self::Stereo => opus::Channels::Stereo,
        }
    }
}

impl TryFrom<u16> for Channels {
    type Error = MediaError;

    fn try_from(count: u16) -> Result<Self, MediaError> {
        match count {
            1 => Ok(Self::Mono),
            2 => Ok(Self::Stereo),
            _ => Err(MediaError::InvalidConfig("Opus supports 1 or 2 channels")),
        }
    }
}

fn opus_error(op: &'static str) -> impl Fn(opus::Error) -> MediaError {
    move |e| MediaError::Opus {
        op,
        message: e.to_string(),
    }
}

/// Opus encoder in VoIP mode with in-band FEC available (it spends bits on FEC only once
/// [`AudioEncoder::set_expected_packet_loss`] reports loss).
///
/// `Send`, not `Sync`.
#[derive(Debug)]
pub struct AudioEncoder {
    encoder: opus::Encoder,
    channels: Channels,
}

impl AudioEncoder {
    pub fn new(channels: Channels) -> Result<Self, MediaError> {
        let mut encoder = opus::Encoder::new(SAMPLE_RATE_HZ, channels.to_opus(), Application::Voip)
            .map_err(opus_error("create encoder"))?;
        encoder
            .set_inband_fec(true)
            .map_err(opus_error("enable FEC"))?;
        Ok(Self { encoder, channels })
    }

    pub fn channels(&self) -> Channels {
        self.channels
    }

    /// Target bitrate, 6 to 510 kbit/s (libopus clamps within that range).
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), MediaError> {
        if !(6_000..=510_000).contains(&bitrate_bps) {
            return Err(MediaError::InvalidConfig(
                "Opus bitrate must be 6000..=510000 bps",
            ));
        }
        // In range, so the cast cannot truncate.
        let bps = bitrate_bps as i32;
        self.encoder
            .set_bitrate(Bitrate::Bits(bps))
            .map_err(opus_error("set bitrate"))
    }

    /// The loss rate the receiver reports (0–100 %); libopus adds in-band FEC to match.
    pub fn set_expected_packet_loss(&mut self, percent: u8) -> Result<(), MediaError> {
        self.encoder
            .set_packet_loss_perc(i32::from(percent.min(100)))
            .map_err(opus_error("set packet loss"))
    }

    /// Encodes exactly 10 ms (`480 * channels` samples) or 20 ms (`960 * channels`) of
    /// interleaved PCM into one Opus packet.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        let n = self.channels.count();
        let (ten_ms, twenty_ms) = (SAMPLES_PER_10MS * n, SAMPLES_PER_20MS * n);
        if pcm.len() != ten_ms && pcm.len() != twenty_ms {
            return Err(MediaError::AudioFrameSize {
                got: pcm.len(),
                ten_ms,
                twenty_ms,
            });
        }
        self.encoder
            .encode_vec(pcm, MAX_ENCODED_BYTES)
            .map_err(opus_error("encode"))
    }
}

/// Opus decoder with packet-loss concealment.
///
/// `Send`, not `Sync`.
#[derive(Debug)]
pub struct AudioDecoder {
    decoder: opus::Decoder,
    channels: Channels,
}

impl AudioDecoder {
    /// Output is always `channels` wide; libopus up- or down-mixes packets of the other width.
    pub fn new(channels: Channels) -> Result<Self, MediaError> {
        let decoder = opus::Decoder::new(SAMPLE_RATE_HZ, channels.to_opus())
            .map_err(opus_error("create decoder"))?;
        Ok(Self { decoder, channels })
    }

    pub fn channels(&self) -> Channels {
        self.channels
    }

    /// Decodes one packet into interleaved PCM (`samples_per_channel * channels` values).
    pub fn decode(&mut self, packet: &[u8]) -> Result<Vec<i16>, MediaError> {
        if packet.is_empty() {
            return Err(MediaError::InvalidAudioPacket(
                "empty packet (use decode_lost for a missing one)".into(),
            ));
        }
        if packet.len() > MAX_PACKET_BYTES {
            return Err(MediaError::InvalidAudioPacket(format!(
                "{} bytes is longer than any Opus packet",
                packet.len()
            )));
        }
        let samples = opus::packet::get_nb_samples(packet, SAMPLE_RATE_HZ)
            .map_err(|e| MediaError::InvalidAudioPacket(e.to_string()))?;
        if samples == 0 || samples > MAX_SAMPLES_PER_PACKET {
            return Err(MediaError::InvalidAudioPacket(format!(
                "packet claims {samples} samples per channel"
            )));
        }
        self.run(packet, samples)
    }

    /// Conceals a lost packet: synthesises `samples_per_channel` samples (a multiple of 2.5 ms
    /// = 120, at most 120 ms = 5760; usually the duration of the packet that went missing)
    /// continuing the signal decoded so far.
    pub fn decode_lost(&mut self, samples_per_channel: usize) -> Result<Vec<i16>, MediaError> {
        if samples_per_channel == 0
            || samples_per_channel > MAX_SAMPLES_PER_PACKET
            || !samples_per_channel.is_multiple_of(PLC_STEP)
        {
            return Err(MediaError::InvalidConfig(
                "concealment length must be a multiple of 120 samples, at most 5760",
            ));
        }
        self.run(&[], samples_per_channel)
    }

    /// Runs libopus with room for exactly `samples` per channel (an empty packet means "lost").
    fn run(&mut self, packet: &[u8], samples: usize) -> Result<Vec<i16>, MediaError> {
        let n = self.channels.count();
        let mut pcm = vec![0i16; samples * n];
        let decoded = self
            .decoder
            .decode(packet, &mut pcm, false)
            .map_err(opus_error("decode"))?;
        pcm.truncate(decoded.min(samples) * n);
        Ok(pcm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::pattern::{Silence, Tone};
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn energy(pcm: &[i16]) -> f64 {
        pcm.iter()
            .map(|&s| f64::from(s) * f64::from(s))
            .sum::<f64>()
            / pcm.len().max(1) as f64
    }

    #[test]
    fn codec_types_are_send() {
        fn send<T: Send>() {}
        send::<AudioEncoder>();
        send::<AudioDecoder>();
    }

    #[test]
    fn tone_survives_round_trip() {
        for channels in [Channels::Mono, Channels::Stereo] {
            let mut tone = Tone::new(440.0, channels).expect("tone");
            let mut encoder = AudioEncoder::new(channels).expect("encoder");
            let mut decoder = AudioDecoder::new(channels).expect("decoder");
            let (mut input, mut output) = (Vec::new(), Vec::new());
            for _ in 0..50 {
                let pcm = tone.next_frame_20ms();
                let packet = encoder.encode(&pcm).expect("encode");
                assert!(!packet.is_empty() && packet.len() < 400);
                let decoded = decoder.decode(&packet).expect("decode");
                assert_eq!(decoded.len(), 960 * channels.count());
                input.extend(pcm);
                output.extend(decoded);
            }
            // Skip the first 100 ms (encoder warm-up and look-ahead) and compare energy.
            let skip = 4800 * channels.count();
            let ratio = energy(&output[skip..]) / energy(&input[skip..]);
            assert!(
                (0.7..1.3).contains(&ratio),
                "{channels:?}: energy ratio {ratio}"
            );
        }
    }

    #[test]
    fn ten_ms_frames_and_loss_concealment() {
        let mut tone = Tone::new(440.0, Channels::Mono).expect("tone");
        let mut encoder = AudioEncoder::new(Channels::Mono).expect("encoder");
        let mut decoder = AudioDecoder::new(Channels::Mono).expect("decoder");
        for _ in 0..10 {
            let pcm = tone.next_frame_20ms();
            for half in pcm.chunks(480) {
                let packet = encoder.encode(half).expect("encode 10 ms");
                assert_eq!(decoder.decode(&packet).expect("decode").len(), 480);
            }
        }
        let concealed = decoder.decode_lost(960).expect("plc");
        assert_eq!(concealed.len(), 960);
        assert!(energy(&concealed) > 0.0, "concealment continues the tone");
        assert_eq!(decoder.decode_lost(480).expect("plc").len(), 480);
        for bad in [0, 100, 5880, usize::MAX] {
            assert!(decoder.decode_lost(bad).is_err(), "{bad}");
        }
        // Decoding carries on after concealment.
        let packet = encoder.encode(&tone.next_frame_20ms()).expect("encode");
        assert_eq!(decoder.decode(&packet).expect("decode").len(), 960);
    }

    #[test]
    fn wrong_frame_sizes_are_errors() {
        let mut mono = AudioEncoder::new(Channels::Mono).expect("encoder");
        let mut stereo = AudioEncoder::new(Channels::Stereo).expect("encoder");
        for len in [0, 1, 479, 481, 720, 1920, 100_000] {
            let err = mono.encode(&vec![0; len]).expect_err("bad size");
            assert!(matches!(
                err,
                MediaError::AudioFrameSize {
                    ten_ms: 480,
                    twenty_ms: 960,
                    ..
                }
            ));
        }
        assert!(stereo.encode(&vec![0; 960]).is_ok(), "10 ms of stereo");
        assert!(stereo.encode(&vec![0; 1920]).is_ok(), "20 ms of stereo");
        assert!(stereo.encode(&vec![0; 480]).is_err());
        assert!(Channels::try_from(0).is_err());
        assert!(Channels::try_from(3).is_err());
        assert_eq!(Channels::try_from(2), Ok(Channels::Stereo));
    }

    #[test]
    fn encoder_settings() {
        let mut encoder = AudioEncoder::new(Channels::Mono).expect("encoder");
        encoder.set_bitrate(24_000).expect("bitrate");
        encoder
            .set_expected_packet_loss(200)
            .expect("loss is clamped");
        assert!(encoder.set_bitrate(1_000).is_err());
        assert!(encoder.set_bitrate(1_000_000).is_err());
        let packet = encoder.encode(&Silence::new(Channels::Mono).next_frame_20ms());
        assert!(packet.is_ok());
    }

    #[test]
    fn stereo_packets_decode_in_mono_and_back() {
        let mut tone = Tone::new(1000.0, Channels::Stereo).expect("tone");
        let mut encoder = AudioEncoder::new(Channels::Stereo).expect("encoder");
        let packet = encoder.encode(&tone.next_frame_20ms()).expect("encode");
        let mut mono = AudioDecoder::new(Channels::Mono).expect("decoder");
        assert_eq!(mono.decode(&packet).expect("decode").len(), 960);
    }

    #[test]
    fn garbage_never_panics_the_decoder() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut decoder = AudioDecoder::new(Channels::Stereo).expect("decoder");
        assert!(decoder.decode(&[]).is_err());
        assert!(decoder.decode(&vec![0xff; MAX_PACKET_BYTES + 1]).is_err());
        let mut decoded = 0;
        for _ in 0..2000 {
            let len = rng.random_range(1..1500);
            let packet: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            if let Ok(pcm) = decoder.decode(&packet) {
                assert_eq!(pcm.len() % 2, 0);
                assert!(pcm.len() <= MAX_SAMPLES_PER_PACKET * 2);
                decoded += 1;
            }
        }
        // Many random byte strings are valid Opus framing; the point is that none panicked.
        assert!(decoded > 0);
        // Headers that claim more than 120 ms are refused before decoding.
        assert!(decoder.decode(&[0x03 | 0x08, 0x3f]).is_err());
    }
}
