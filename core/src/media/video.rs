//! H.264 video through openh264: raw I420 frames in, Annex-B access units out, and back.
//!
//! The encoder produces constrained-baseline H.264 (profile 66 with `constraint_set1`), which is
//! what WebRTC negotiates as `profile-level-id=42e01f`. Every IDR carries its SPS and PPS, so a
//! receiver can start from any keyframe.
//!
//! Both codec types wrap openh264 objects that hold raw pointers into C++ state. The `openh264`
//! crate declares them `Send` and `Sync`, so ours are too; but every call takes `&mut self`,
//! runs for milliseconds and blocks, so keep each codec on a dedicated thread or inside
//! `spawn_blocking`, never across `.await` points of a shared async task.

use openh264::OpenH264API;
use openh264::Timestamp;
use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, Profile, RateControlMode, UsageType,
};
use openh264::formats::YUVSource;

use super::MediaError;

/// The largest picture openh264 encodes (level 5.2), in either orientation.
const MAX_LONG_SIDE: u32 = 3840;
const MAX_SHORT_SIDE: u32 = 2160;
/// openh264 rejects pictures smaller than one macroblock.
const MIN_SIDE: u32 = 16;
/// Access units bigger than this are refused before they reach the C decoder (the crate passes
/// the length on as an `i32`; real frames are far smaller).
const MAX_ACCESS_UNIT_BYTES: usize = 16 * 1024 * 1024;

/// One raw picture in I420 (YUV 4:2:0, 8 bit): the Y plane (`width * height` bytes), then U,
/// then V (`(width / 2) * (height / 2)` bytes each), every plane tightly packed without padding.
///
/// The fields are public for cheap access; [`I420Frame::new`] is the checked way to build one,
/// and the codecs check again before use.
#[derive(Clone, PartialEq, Eq)]
pub struct I420Frame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
    /// Capture time in microseconds on the sender's media clock.
    pub timestamp_us: u64,
}

impl std::fmt::Debug for I420Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I420Frame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("data_len", &self.data.len())
            .field("timestamp_us", &self.timestamp_us)
            .finish()
    }
}

/// Tests: a frame whose Y, U and V samples are given by functions of (x, y) in their own plane.
#[cfg(test)]
pub(crate) fn frame_from_fns(
    width: u32,
    height: u32,
    y: impl Fn(usize, usize) -> u8,
    u: impl Fn(usize, usize) -> u8,
    v: impl Fn(usize, usize) -> u8,
) -> I420Frame {
    let (w, h) = (width as usize, height as usize);
    let mut data = Vec::new();
    for (plane, pw, ph) in [
        (&y as &dyn Fn(usize, usize) -> u8, w, h),
        (&u, w / 2, h / 2),
        (&v, w / 2, h / 2),
    ] {
        for row in 0..ph {
            for col in 0..pw {
                data.push(plane(col, row));
            }
        }
    }
    I420Frame::new(width, height, data, 42).expect("a valid test frame")
}

impl I420Frame {
    /// Builds a frame, checking that both sides are even and non-zero and that `data` holds
    /// exactly the three planes.
    pub fn new(
        width: u32,
        height: u32,
        data: Vec<u8>,
        timestamp_us: u64,
    ) -> Result<Self, MediaError> {
        let frame = Self {
            width,
            height,
            data,
            timestamp_us,
        };
        frame.validate()?;
        Ok(frame)
    }

    /// The number of bytes an I420 picture of this size occupies, or `None` if the size is
    /// odd, zero or too large for memory.
    pub fn expected_len(width: u32, height: u32) -> Option<usize> {
        if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return None;
        }
        let luma = usize::try_from(width)
            .ok()?
            .checked_mul(usize::try_from(height).ok()?)?;
        luma.checked_add(luma / 2)
    }

    /// Checks the invariants [`I420Frame::new`] establishes (the fields are public, so a frame
    /// may have been changed since).
    pub fn validate(&self) -> Result<(), MediaError> {
        let fail = |reason| MediaError::InvalidFrame {
            width: self.width,
            height: self.height,
            len: self.data.len(),
            reason,
        };
        if self.width == 0 || self.height == 0 {
            return Err(fail("width and height must be non-zero"));
        }
        if !self.width.is_multiple_of(2) || !self.height.is_multiple_of(2) {
            return Err(fail("width and height must be even"));
        }
        match Self::expected_len(self.width, self.height) {
            Some(len) if len == self.data.len() => Ok(()),
            Some(_) => Err(fail("data length must be width*height*3/2")),
            None => Err(fail("frame too large")),
        }
    }

    /// The Y, U and V planes. Only meaningful on a valid frame; on an invalid one the slices
    /// are shortened rather than panicking.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let luma = (self.width as usize).saturating_mul(self.height as usize);
        let chroma = luma / 4;
        let (y, rest) = self.data.split_at(luma.min(self.data.len()));
        let (u, v) = rest.split_at(chroma.min(rest.len()));
        (y, u, &v[..chroma.min(v.len())])
    }
}

/// Borrowed view that lets openh264 read an [`I420Frame`] without a copy. Only built from a
/// validated frame, so the plane lengths match the strides.
struct I420Source<'a> {
    frame: &'a I420Frame,
    planes: (&'a [u8], &'a [u8], &'a [u8]),
}

impl YUVSource for I420Source<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.frame.width as usize, self.frame.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let w = self.frame.width as usize;
        (w, w / 2, w / 2)
    }

    fn y(&self) -> &[u8] {
        self.planes.0
    }

    fn u(&self) -> &[u8] {
        self.planes.1
    }

    fn v(&self) -> &[u8] {
        self.planes.2
    }
}

/// Settings for [`VideoEncoder`]. `width`/`height` are the expected frame size; frames of
/// another size are still accepted (the encoder is rebuilt for them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoEncoderConfig {
    pub width: u32,
    pub height: u32,
    /// Target bitrate for openh264's rate control.
    pub bitrate_bps: u32,
    /// Upper bound of the frame rate, used by rate control to budget bits per frame.
    pub max_fps: f32,
}

/// One encoded access unit: Annex-B NAL units with 4-byte start codes.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    pub data: Vec<u8>,
    /// An IDR picture (preceded by SPS and PPS): a decoder can start here.
    pub keyframe: bool,
    /// The `timestamp_us` of the frame that was encoded.
    pub timestamp_us: u64,
}

impl std::fmt::Debug for EncodedVideo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedVideo")
            .field("len", &self.data.len())
            .field("keyframe", &self.keyframe)
            .field("timestamp_us", &self.timestamp_us)
            .finish()
    }
}

/// Constrained-baseline H.264 encoder: single-threaded, camera real-time mode, rate control by
/// bitrate (it may skip frames to hold the rate).
///
/// `Send + Sync` (see the module docs): run it on a dedicated thread or in `spawn_blocking`.
pub struct VideoEncoder {
    config: VideoEncoderConfig,
    encoder: Encoder,
    /// The bitrate changed: the next encode builds a fresh encoder (openh264's safe API has no
    /// way to retune a running one).
    rebuild: bool,
    /// A keyframe was asked for and has not been produced yet.
    keyframe_requested: bool,
}

impl VideoEncoder {
    /// Checks the config and creates the encoder. openh264 initialises itself on the first
    /// frame, which is always an IDR.
    pub fn new(config: VideoEncoderConfig) -> Result<Self, MediaError> {
        check_size(config.width, config.height)?;
        check_bitrate(config.bitrate_bps)?;
        if !(config.max_fps.is_finite() && config.max_fps > 0.0 && config.max_fps <= 240.0) {
            return Err(MediaError::InvalidConfig("max_fps must be in (0, 240]"));
        }
        Ok(Self {
            encoder: build_encoder(&config)?,
            config,
            rebuild: false,
            keyframe_requested: false,
        })
    }

    /// The current settings (`width`/`height` follow the last encoded frame).
    pub fn config(&self) -> VideoEncoderConfig {
        self.config
    }

    /// Changes the target bitrate from the next frame on. This rebuilds the encoder, so the next
    /// frame is an IDR: callers should only retune on real changes (say, more than 15 %), not on
    /// every estimate.
    pub fn set_bitrate(&mut self, bitrate_bps: u32) -> Result<(), MediaError> {
        check_bitrate(bitrate_bps)?;
        if bitrate_bps != self.config.bitrate_bps {
            self.config.bitrate_bps = bitrate_bps;
            self.rebuild = true;
        }
        Ok(())
    }

    /// Makes the next encoded frame an IDR (for example on a PLI from the receiver). The request
    /// stays pending until a keyframe actually comes out.
    pub fn request_keyframe(&mut self) {
        self.keyframe_requested = true;
    }

    /// Encodes one frame. Returns `None` when rate control skips the frame. A frame of a new
    /// size rebuilds the encoder transparently; its output is an IDR.
    pub fn encode(
        &mut self,
        frame: &I420Frame,
        force_keyframe: bool,
    ) -> Result<Option<EncodedVideo>, MediaError> {
        frame.validate()?;
        if frame.width != self.config.width || frame.height != self.config.height || self.rebuild {
            check_size(frame.width, frame.height)?;
            let config = VideoEncoderConfig {
                width: frame.width,
                height: frame.height,
                ..self.config
            };
            self.encoder = build_encoder(&config)?;
            self.config = config;
            self.rebuild = false;
        }
        if force_keyframe {
            self.keyframe_requested = true;
        }
        if self.keyframe_requested {
            self.encoder.force_intra_frame();
        }

        let source = I420Source {
            frame,
            planes: frame.planes(),
        };
        // Microseconds / 1000 always fits openh264's i64 millisecond timestamp.
        let timestamp = Timestamp::from_millis(frame.timestamp_us / 1000);
        let stream = self
            .encoder
            .encode_at(&source, timestamp)
            .map_err(|e| MediaError::VideoEncode(e.to_string()))?;
        let keyframe = match stream.frame_type() {
            FrameType::Skip => return Ok(None),
            FrameType::Invalid => {
                return Err(MediaError::VideoEncode(
                    "encoder reported an invalid frame".into(),
                ));
            }
            FrameType::IDR => true,
            FrameType::I | FrameType::P | FrameType::IPMixed => false,
        };
        let data = stream.to_vec();
        if data.is_empty() {
            return Ok(None);
        }
        if keyframe {
            self.keyframe_requested = false;
        }
        Ok(Some(EncodedVideo {
            data,
            keyframe,
            timestamp_us: frame.timestamp_us,
        }))
    }
}

fn check_size(width: u32, height: u32) -> Result<(), MediaError> {
    if I420Frame::expected_len(width, height).is_none() {
        return Err(MediaError::InvalidConfig(
            "width and height must be even and non-zero",
        ));
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(MediaError::InvalidConfig("openh264 encodes at least 16x16"));
    }
    if width.max(height) > MAX_LONG_SIDE || width.min(height) > MAX_SHORT_SIDE {
        return Err(MediaError::InvalidConfig(
            "openh264 encodes at most 3840x2160",
        ));
    }
    Ok(())
}

fn check_bitrate(bitrate_bps: u32) -> Result<(), MediaError> {
    // openh264 keeps the bitrate in an i32.
    if bitrate_bps < 10_000 || bitrate_bps > i32::MAX as u32 {
        return Err(MediaError::InvalidConfig(
            "bitrate_bps must be at least 10000",
        ));
    }
    Ok(())
}

fn build_encoder(config: &VideoEncoderConfig) -> Result<Encoder, MediaError> {
    let settings = EncoderConfig::new()
        .profile(Profile::Baseline)
        .usage_type(UsageType::CameraVideoRealTime)
        .rate_control_mode(RateControlMode::Bitrate)
        .bitrate(BitRate::from_bps(config.bitrate_bps))
        .max_frame_rate(FrameRate::from_hz(config.max_fps))
        .skip_frames(true)
        .num_threads(1);
    Encoder::with_api_config(OpenH264API::from_source(), settings)
        .map_err(|e| MediaError::VideoEncode(e.to_string()))
}

/// H.264 decoder. Takes whole access units (Annex-B) and returns pictures at their real size.
///
/// `Send + Sync` (see the module docs): run it on a dedicated thread or in `spawn_blocking`.
pub struct VideoDecoder {
    decoder: Decoder,
}

impl VideoDecoder {
    pub fn new() -> Result<Self, MediaError> {
        let decoder = Decoder::new().map_err(|e| MediaError::VideoDecode(e.to_string()))?;
        Ok(Self { decoder })
    }

    /// Decodes one access unit. `None` means the input produced no picture (parameter sets
    /// only, or the decoder needs more). The returned frame has `timestamp_us == 0`: the caller
    /// knows which input it belongs to and sets it.
    ///
    /// Corrupt input gives an error; the decoder stays usable and recovers at the next IDR.
    pub fn decode(&mut self, annexb: &[u8]) -> Result<Option<I420Frame>, MediaError> {
        if annexb.is_empty() {
            return Ok(None);
        }
        if annexb.len() > MAX_ACCESS_UNIT_BYTES {
            return Err(MediaError::VideoDecode(
                "access unit larger than 16 MiB".into(),
            ));
        }
        match self.decoder.decode(annexb) {
            Ok(Some(picture)) => copy_out(&picture).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(MediaError::VideoDecode(e.to_string())),
        }
    }
}

/// Copies a (possibly strided) decoded picture into a tightly packed [`I420Frame`].
fn copy_out(picture: &impl YUVSource) -> Result<I420Frame, MediaError> {
    let (w, h) = picture.dimensions();
    let (stride_y, stride_u, stride_v) = picture.strides();
    let bad = |what: &str| MediaError::VideoDecode(format!("decoder returned {what}"));
    let width = u32::try_from(w).map_err(|_| bad("an impossible width"))?;
    let height = u32::try_from(h).map_err(|_| bad("an impossible height"))?;
    let len = I420Frame::expected_len(width, height).ok_or_else(|| bad("an odd or empty size"))?;

    let mut data = Vec::with_capacity(len);
    copy_plane(&mut data, picture.y(), w, h, stride_y).ok_or_else(|| bad("a short Y plane"))?;
    copy_plane(&mut data, picture.u(), w / 2, h / 2, stride_u)
        .ok_or_else(|| bad("a short U plane"))?;
    copy_plane(&mut data, picture.v(), w / 2, h / 2, stride_v)
        .ok_or_else(|| bad("a short V plane"))?;
    I420Frame::new(width, height, data, 0)
}

fn copy_plane(out: &mut Vec<u8>, plane: &[u8], w: usize, h: usize, stride: usize) -> Option<()> {
    if stride < w {
        return None;
    }
    for row in 0..h {
        let start = row.checked_mul(stride)?;
        out.extend_from_slice(plane.get(start..start.checked_add(w)?)?);
    }
    Some(())
}

#[cfg(test)]
mod tests;
