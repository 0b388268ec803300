//! Media: H.264 (openh264) and Opus encoding/decoding, RTP depacketizing, test patterns.
//!
//! Everything here is synchronous and free of I/O: codecs take frames or packets and return
//! frames or packets. The drivers that own threads and tracks live elsewhere.
//!
//! - [`video`]: [`video::I420Frame`], [`video::VideoEncoder`] (constrained-baseline H.264,
//!   Annex-B out) and [`video::VideoDecoder`].
//! - [`audio`]: Opus at 48 kHz, [`audio::AudioEncoder`] and [`audio::AudioDecoder`] (with
//!   packet-loss concealment).
//! - [`depacketize`]: [`depacketize::H264Assembler`] turns received RTP packets back into
//!   Annex-B access units. Sending needs no packetizer here: webrtc's
//!   `TrackLocalStaticSample` packetizes Annex-B H.264 and Opus itself.
//! - [`scale`]: halving an I420 picture (2×2 box filter), for the low simulcast layer.
//! - [`background`]: blurring or replacing what is behind the person (given a person mask
//!   from the platform), before encoding.
//! - [`pattern`]: synthetic sources (moving picture, tone, silence) for the CLI and tests.
//!
//! Codec objects are `Send` (they may move to a dedicated thread or `spawn_blocking`) but each
//! must be used from one thread at a time; see the notes on each type.
//!
//! No input — a frame of any size, a packet of any bytes — panics: every failure is a
//! [`MediaError`].

pub mod audio;
pub mod background;
pub mod depacketize;
pub mod pattern;
pub mod scale;
pub mod video;

/// What went wrong in the media module. Every variant is something a caller can log or act on;
/// none of them leaves a codec unusable unless it says so.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// An I420 frame whose size or buffer length does not add up.
    #[error("invalid I420 frame {width}x{height} with {len} bytes: {reason}")]
    InvalidFrame {
        width: u32,
        height: u32,
        len: usize,
        reason: &'static str,
    },
    /// A codec or generator was configured with values it cannot use.
    #[error("invalid media config: {0}")]
    InvalidConfig(&'static str),
    /// openh264 refused to create an encoder or to encode a frame.
    #[error("H.264 encoder: {0}")]
    VideoEncode(String),
    /// openh264 could not decode the input (corrupt, truncated or unsupported bitstream).
    #[error("H.264 decoder: {0}")]
    VideoDecode(String),
    /// A PCM buffer that is not exactly 10 ms or 20 ms of 48 kHz audio.
    #[error(
        "audio frame of {got} samples; expected {ten_ms} (10 ms) or {twenty_ms} (20 ms) interleaved samples"
    )]
    AudioFrameSize {
        got: usize,
        ten_ms: usize,
        twenty_ms: usize,
    },
    /// An Opus packet that is empty, too long or not parseable.
    #[error("invalid Opus packet: {0}")]
    InvalidAudioPacket(String),
    /// libopus returned an error.
    #[error("Opus {op}: {message}")]
    Opus { op: &'static str, message: String },
}
