//! Opus audio at 48 kHz through libopus (the `opus` crate, which builds libopus from source and
//! links it statically, so no system library is needed on any platform).
//!
//! PCM is interleaved signed 16-bit. The encoder takes 10 ms or 20 ms frames (WebRTC sends 20 ms
//! by default); the decoder returns whatever duration the packet holds.
//!
//! On RTP, Opus needs no depacketizer: one RTP payload is exactly one Opus packet (RFC 7587).
//!
//! The encoder runs with DTX (discontinuous transmission): during silence libopus emits a real
//! packet only every 400 ms and "nothing to send" packets of at most two bytes in between
//! ([`is_dtx_packet`]), which the sender leaves out, as browsers do. [`audio_level`] gives the
//! RFC 6464 level each sent packet carries.
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
/// Audio levels (in −dBov) below this count as voice: louder than −55 dBov, the server's
/// threshold for a speaker (`docs/protocol.md`). A quiet room's microphone noise sits around
/// −60 dBov or below, speech around −30 to −15 dBov.
pub const VOICE_LEVEL: u8 = 55;
/// The quietest level RFC 6464 can state (digital silence and anything below −127 dBov).
pub const SILENT_LEVEL: u8 = 127;

/// The RFC 6464 audio level of a frame of PCM: its RMS relative to full scale, as a positive
/// number of decibels below it (0 = as loud as can be, 127 = silence), and whether that is loud
/// enough to be voice ([`VOICE_LEVEL`]). A full-scale sine is 3; a sine at a quarter of full
/// scale 15.
pub fn audio_level(pcm: &[i16]) -> (u8, bool) {
    if pcm.is_empty() {
        return (SILENT_LEVEL, false);
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let mean_square = energy / pcm.len() as f64;
    let full_scale = 32_768.0 * 32_768.0;
    if mean_square <= 0.0 {
        return (SILENT_LEVEL, false);
    }
    let dbov = 10.0 * (mean_square / full_scale).log10();
    // Clamped to 0..=127 first, so the cast cannot truncate.
    let level = (-dbov).round().clamp(0.0, f64::from(SILENT_LEVEL)) as u8;
    (level, level < VOICE_LEVEL)
}

/// Whether an encoded packet is DTX's "nothing to send" (at most two bytes: a table-of-contents
/// byte and no audio), which is not put on the wire.
pub fn is_dtx_packet(packet: &[u8]) -> bool {
    packet.len() <= 2
}

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

/// Opus encoder in VoIP mode with DTX on (silence becomes a packet every 400 ms: see
/// [`is_dtx_packet`]) and in-band FEC available (it spends bits on FEC only once
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
        encoder.set_dtx(true).map_err(opus_error("enable DTX"))?;
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
    fn audio_levels_follow_rfc_6464() {
        assert_eq!(audio_level(&[]), (127, false));
        assert_eq!(audio_level(&[0; 960]), (127, false));
        // Full scale square wave: 0 dBov.
        let square: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        assert_eq!(audio_level(&square), (0, true));
        // The test tone is a sine at a quarter of full scale: 3 + 12 dB below.
        let mut tone = Tone::new(440.0, Channels::Mono).expect("tone");
        let (level, voice) = audio_level(&tone.next_frame_20ms());
        assert_eq!(level, 15);
        assert!(voice);
        // Quiet noise (an LSB or two) is far below the voice threshold but not silence.
        let hiss: Vec<i16> = (0..960).map(|i| [1, -2, 2, -1][i % 4]).collect();
        let (level, voice) = audio_level(&hiss);
        assert!((80..127).contains(&level), "{level}");
        assert!(!voice);
        // 20 dB quieter is 20 more.
        let loud = vec![3000i16; 960];
        let quiet = vec![300i16; 960];
        assert_eq!(audio_level(&quiet).0 - audio_level(&loud).0, 20);
        assert_eq!(audio_level(&[1; 960]), (90, false));
    }

    #[test]
    fn dtx_leaves_silence_at_a_few_packets_a_second() {
        let mut encoder = AudioEncoder::new(Channels::Mono).expect("encoder");
        let mut silence = Silence::new(Channels::Mono);
        // Ten seconds of a muted microphone (digital silence), 20 ms frames.
        let sent = (0..500)
            .filter(|_| {
                !is_dtx_packet(&encoder.encode(&silence.next_frame_20ms()).expect("encode"))
            })
            .count();
        // About 2.5 a second (one every 400 ms), plus the first few while DTX sets in.
        assert!(
            (15..=40).contains(&sent),
            "{sent} packets in 10 s of silence"
        );
        // Speech (the tone) goes out in full again.
        let mut tone = Tone::new(440.0, Channels::Mono).expect("tone");
        let voiced = (0..50)
            .filter(|_| !is_dtx_packet(&encoder.encode(&tone.next_frame_20ms()).expect("encode")))
            .count();
        assert_eq!(voiced, 50);
    }

    #[test]
    fn dtx_packets_still_decode_to_silence() {
        let mut encoder = AudioEncoder::new(Channels::Mono).expect("encoder");
        let mut decoder = AudioDecoder::new(Channels::Mono).expect("decoder");
        let mut silence = Silence::new(Channels::Mono);
        for _ in 0..100 {
            let packet = encoder.encode(&silence.next_frame_20ms()).expect("encode");
            if !is_dtx_packet(&packet) {
                let pcm = decoder.decode(&packet).expect("decode");
                assert!(energy(&pcm) < 100.0);
            }
        }
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
