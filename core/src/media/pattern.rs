//! Synthetic media sources for the CLI and tests: a moving test picture, a sine tone, silence.
//!
//! All of them are deterministic: the same calls give the same output, so tests can compare.

use super::MediaError;
use super::audio::{Channels, SAMPLE_RATE_HZ, SAMPLES_PER_20MS};
use super::video::I420Frame;

/// The largest side [`TestPattern`] draws, to keep a typo from allocating gigabytes.
const MAX_SIDE: u32 = 8192;

/// Luma and chroma (Y, U, V) of the eight bars, roughly the classic colour bars.
const BARS: [(u8, u8, u8); 8] = [
    (180, 128, 128), // white
    (168, 44, 136),  // yellow
    (145, 147, 44),  // cyan
    (133, 63, 52),   // green
    (63, 193, 204),  // magenta
    (51, 109, 212),  // red
    (28, 212, 120),  // blue
    (16, 128, 128),  // black
];
const BOX: (u8, u8, u8) = (235, 128, 128);
const BIT_ON: u8 = 235;
const BIT_OFF: u8 = 16;
/// Bits of the frame counter drawn along the bottom-left edge.
const COUNTER_BITS: u32 = 16;

/// A clearly moving picture: colour bars scrolling sideways (one screen width every 4 s), a
/// white box bouncing off the edges, and the frame number in binary as a row of black/white
/// blocks at the bottom left (most significant bit first).
#[derive(Debug, Clone)]
pub struct TestPattern {
    width: u32,
    height: u32,
    frame_index: u64,
}

impl TestPattern {
    /// `width` and `height` must be even, non-zero and at most 8192.
    pub fn new(width: u32, height: u32) -> Result<Self, MediaError> {
        if I420Frame::expected_len(width, height).is_none() || width > MAX_SIDE || height > MAX_SIDE
        {
            return Err(MediaError::InvalidConfig(
                "test pattern size must be even, non-zero and at most 8192",
            ));
        }
        Ok(Self {
            width,
            height,
            frame_index: 0,
        })
    }

    /// How many frames have been produced so far (the number drawn on the next one).
    pub fn frame_index(&self) -> u64 {
        self.frame_index
    }

    /// Draws the picture at `timestamp_us`; motion follows the timestamp, the counter follows
    /// the number of calls.
    pub fn next_frame(&mut self, timestamp_us: u64) -> I420Frame {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        let mut data = vec![0u8; w * h + 2 * cw * ch];
        let seconds = timestamp_us as f64 / 1_000_000.0;

        // Scrolling bars with a gentle vertical gradient on luma.
        let bar_width = (w / BARS.len()).max(1);
        let scroll = ((seconds / 4.0).fract() * w as f64) as usize;
        let bar_at = |x: usize| BARS[((x + scroll) / bar_width) % BARS.len()];
        let (luma, chroma) = data.split_at_mut(w * h);
        for (y, row) in luma.chunks_exact_mut(w).enumerate() {
            let shade = (y * 24 / h) as u8;
            for (x, px) in row.iter_mut().enumerate() {
                *px = bar_at(x).0.saturating_add(shade);
            }
        }
        let (u_plane, v_plane) = chroma.split_at_mut(cw * ch);
        for (u_row, v_row) in u_plane
            .chunks_exact_mut(cw)
            .zip(v_plane.chunks_exact_mut(cw))
        {
            for x in 0..cw {
                let (_, u, v) = bar_at(2 * x);
                u_row[x] = u;
                v_row[x] = v;
            }
        }

        // The bouncing box, in whole chroma cells so luma and chroma line up.
        let side = (w.min(h) / 5).max(2) & !1;
        let box_x = (triangle(seconds, 2.3) * (w - side) as f64) as usize & !1;
        let box_y = (triangle(seconds, 1.7) * (h - side) as f64) as usize & !1;
        fill(&mut data, w, h, (box_x, box_y, side, side), BOX);

        // The frame counter.
        let cell_w = (w / 32).max(2) & !1;
        let cell_h = (h / 24).max(2) & !1;
        let counter_y = h - cell_h;
        for bit in 0..COUNTER_BITS {
            let x = bit as usize * cell_w;
            if x + cell_w > w {
                break;
            }
            let on = (self.frame_index >> (COUNTER_BITS - 1 - bit)) & 1 == 1;
            let luma = if on { BIT_ON } else { BIT_OFF };
            fill(
                &mut data,
                w,
                h,
                (x, counter_y, cell_w, cell_h),
                (luma, 128, 128),
            );
        }

        self.frame_index = self.frame_index.wrapping_add(1);
        I420Frame {
            width: self.width,
            height: self.height,
            data,
            timestamp_us,
        }
    }
}

/// 0 → 1 → 0 over `period_s` seconds.
fn triangle(seconds: f64, period_s: f64) -> f64 {
    let phase = (seconds / period_s * 2.0) % 2.0;
    if phase > 1.0 { 2.0 - phase } else { phase }
}

/// Paints an even-aligned rectangle `(x, y, w, h)` in all three planes, clipped to the picture.
fn fill(
    data: &mut [u8],
    width: usize,
    height: usize,
    rect: (usize, usize, usize, usize),
    (y_val, u_val, v_val): (u8, u8, u8),
) {
    let (x0, y0) = (rect.0.min(width), rect.1.min(height));
    let (x1, y1) = ((rect.0 + rect.2).min(width), (rect.1 + rect.3).min(height));
    let (cw, ch) = (width / 2, height / 2);
    for y in y0..y1 {
        if let Some(row) = data.get_mut(y * width + x0..y * width + x1) {
            row.fill(y_val);
        }
    }
    for (plane, value) in [(width * height, u_val), (width * height + cw * ch, v_val)] {
        for cy in y0 / 2..y1 / 2 {
            let start = plane + cy * cw;
            if let Some(row) = data.get_mut(start + x0 / 2..start + x1 / 2) {
                row.fill(value);
            }
        }
    }
}

/// A sine tone at a fixed frequency, 48 kHz, a quarter of full scale (about -12 dBFS), the
/// same signal in every channel. The phase carries over between frames, so consecutive frames
/// join without clicks.
#[derive(Debug, Clone)]
pub struct Tone {
    /// Cycles per sample.
    step: f64,
    /// Position in the current cycle, in [0, 1).
    phase: f64,
    channels: Channels,
}

/// Peak amplitude of [`Tone`].
pub const TONE_AMPLITUDE: f64 = 0.25 * i16::MAX as f64;

impl Tone {
    /// `freq_hz` must be above 0 and below the Nyquist frequency (24 kHz).
    pub fn new(freq_hz: f32, channels: Channels) -> Result<Self, MediaError> {
        let nyquist = SAMPLE_RATE_HZ as f32 / 2.0;
        if !(freq_hz.is_finite() && freq_hz > 0.0 && freq_hz < nyquist) {
            return Err(MediaError::InvalidConfig(
                "tone frequency must be in (0, 24000) Hz",
            ));
        }
        Ok(Self {
            step: f64::from(freq_hz) / f64::from(SAMPLE_RATE_HZ),
            phase: 0.0,
            channels,
        })
    }

    /// The next 20 ms: `960 * channels` interleaved samples.
    pub fn next_frame_20ms(&mut self) -> Vec<i16> {
        let n = self.channels.count();
        let mut out = Vec::with_capacity(SAMPLES_PER_20MS * n);
        for _ in 0..SAMPLES_PER_20MS {
            let value = (self.phase * std::f64::consts::TAU).sin() * TONE_AMPLITUDE;
            out.extend(std::iter::repeat_n(value.round() as i16, n));
            self.phase = (self.phase + self.step).fract();
        }
        out
    }
}

/// Digital silence, for a muted or absent microphone.
#[derive(Debug, Clone, Copy)]
pub struct Silence {
    channels: Channels,
}

impl Silence {
    pub fn new(channels: Channels) -> Self {
        Self { channels }
    }

    /// The next 20 ms: `960 * channels` zero samples.
    pub fn next_frame_20ms(&mut self) -> Vec<i16> {
        vec![0; SAMPLES_PER_20MS * self.channels.count()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_frames_are_valid_and_move() {
        let mut pattern = TestPattern::new(640, 360).expect("pattern");
        let a = pattern.next_frame(0);
        let b = pattern.next_frame(33_333);
        let c = pattern.next_frame(1_000_000);
        for frame in [&a, &b, &c] {
            assert!(frame.validate().is_ok());
        }
        assert_eq!(pattern.frame_index(), 3);
        let changed = |p: &I420Frame, q: &I420Frame| {
            p.data.iter().zip(&q.data).filter(|(x, y)| x != y).count()
        };
        // Consecutive frames differ a little, frames a second apart a lot.
        assert!(changed(&a, &b) > 1_000);
        assert!(changed(&a, &c) > 50_000);
        // Same inputs, same picture.
        let mut again = TestPattern::new(640, 360).expect("pattern");
        assert_eq!(again.next_frame(0), a);
    }

    #[test]
    fn pattern_draws_the_counter() {
        let mut pattern = TestPattern::new(640, 360).expect("pattern");
        for _ in 0..5 {
            pattern.next_frame(0);
        }
        let frame = pattern.next_frame(0); // frame number 5 = ...0101
        let (cell_w, cell_h) = (20, 14);
        let y = 360 - cell_h / 2;
        let bit = |i: usize| frame.data[y * 640 + i * cell_w + cell_w / 2] == BIT_ON;
        let low_bits: Vec<bool> = (12..16).map(bit).collect();
        assert_eq!(low_bits, [false, true, false, true]);
    }

    #[test]
    fn pattern_handles_small_and_bad_sizes() {
        for (w, h) in [(2, 2), (4, 2), (2, 100), (100, 2), (6, 6)] {
            let mut pattern = TestPattern::new(w, h).expect("pattern");
            for t in [0, 1_234_567, u64::MAX] {
                assert!(pattern.next_frame(t).validate().is_ok());
            }
        }
        for (w, h) in [(0, 2), (3, 2), (2, 3), (9000, 2)] {
            assert!(TestPattern::new(w, h).is_err());
        }
    }

    #[test]
    fn tone_is_continuous_and_sized() {
        let mut tone = Tone::new(440.0, Channels::Stereo).expect("tone");
        let a = tone.next_frame_20ms();
        let b = tone.next_frame_20ms();
        assert_eq!(a.len(), 1920);
        assert_eq!(a[0], a[1], "both channels carry the same signal");
        // The first sample of the next frame continues the sine: its step from the last
        // sample is no larger than any step inside a frame.
        let max_step = a.windows(3).map(|w| (w[2] - w[0]).abs()).max().unwrap_or(0);
        assert!((b[0] - a[a.len() - 2]).abs() <= max_step);
        let peak = a.iter().map(|s| s.abs()).max().unwrap_or(0);
        assert!((f64::from(peak) - TONE_AMPLITUDE).abs() < 100.0);
        assert!(Tone::new(0.0, Channels::Mono).is_err());
        assert!(Tone::new(f32::NAN, Channels::Mono).is_err());
        assert!(Tone::new(30_000.0, Channels::Mono).is_err());
    }

    #[test]
    fn silence_is_zero() {
        let mut silence = Silence::new(Channels::Mono);
        let frame = silence.next_frame_20ms();
        assert_eq!(frame.len(), 960);
        assert!(frame.iter().all(|&s| s == 0));
    }
}
