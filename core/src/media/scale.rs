//! Halving an I420 picture, for the low simulcast layer: a 2×2 box filter (each output sample
//! is the rounded mean of the four input samples it covers), on every plane.
//!
//! The output keeps I420's rule of even sides: a side whose half is odd loses its last input
//! column (or row) pair (`⌊side / 4⌋ × 2`): 1280×720 becomes 640×360, but 160×90 becomes
//! 80×44. Neither openh264 nor our other dependencies scale pictures; this is
//! cheap enough (one pass, no allocation but the output) to run on the encoder thread before
//! each low-layer encode.

use super::video::I420Frame;

/// The smallest side [`half`] produces: openh264 encodes nothing under one macroblock.
pub const MIN_HALF_SIDE: u32 = 16;

/// The size of the half picture of a `width`×`height` frame (both even), or `None` when a side
/// would fall under [`MIN_HALF_SIDE`].
pub fn half_size(width: u32, height: u32) -> Option<(u32, u32)> {
    let (w, h) = (width / 4 * 2, height / 4 * 2);
    (w >= MIN_HALF_SIDE && h >= MIN_HALF_SIDE).then_some((w, h))
}

/// `frame` at half its width and height (see the module docs), with the same timestamp; `None`
/// for an invalid frame or one too small to halve ([`half_size`]).
pub fn half(frame: &I420Frame) -> Option<I420Frame> {
    frame.validate().ok()?;
    let (w, h) = half_size(frame.width, frame.height)?;
    let len = I420Frame::expected_len(w, h)?;
    let (src_w, src_h) = (frame.width as usize, frame.height as usize);
    let (w, h) = (w as usize, h as usize);
    let (y, u, v) = frame.planes();
    let mut data = Vec::with_capacity(len);
    halve_plane(y, src_w, src_h, w, h, &mut data)?;
    halve_plane(u, src_w / 2, src_h / 2, w / 2, h / 2, &mut data)?;
    halve_plane(v, src_w / 2, src_h / 2, w / 2, h / 2, &mut data)?;
    I420Frame::new(w as u32, h as u32, data, frame.timestamp_us).ok()
}

/// Appends the `out_w`×`out_h` box-filtered half of a tightly packed `src_w`×`src_h` plane to
/// `out`. `None` (and nothing appended past the failure) when the plane is shorter than its
/// size says or the output does not fit in it.
fn halve_plane(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    out_w: usize,
    out_h: usize,
    out: &mut Vec<u8>,
) -> Option<()> {
    if out_w.checked_mul(2)? > src_w || out_h.checked_mul(2)? > src_h {
        return None;
    }
    for row in 0..out_h {
        let top = src.get(2 * row * src_w..)?.get(..2 * out_w)?;
        let bottom = src.get((2 * row + 1) * src_w..)?.get(..2 * out_w)?;
        out.extend(
            top.chunks_exact(2)
                .zip(bottom.chunks_exact(2))
                .map(|(t, b)| {
                    let sum = u16::from(t[0]) + u16::from(t[1]) + u16::from(b[0]) + u16::from(b[1]);
                    // At most (4 × 255 + 2) / 4 = 255.
                    ((sum + 2) / 4) as u8
                }),
        );
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::pattern::TestPattern;

    use crate::media::video::frame_from_fns as frame;

    #[test]
    fn sizes_halve_to_even_sides_and_stop_at_a_macroblock() {
        assert_eq!(half_size(1280, 720), Some((640, 360)));
        assert_eq!(half_size(640, 360), Some((320, 180)));
        assert_eq!(half_size(320, 180), Some((160, 90)));
        // 90 / 2 = 45 is odd: one row pair is left out.
        assert_eq!(half_size(160, 90), Some((80, 44)));
        assert_eq!(half_size(360, 640), Some((180, 320)));
        assert_eq!(half_size(32, 32), Some((16, 16)));
        assert_eq!(half_size(30, 64), None);
        assert_eq!(half_size(64, 2), None);
        assert_eq!(half_size(0, 0), None);
    }

    #[test]
    fn each_sample_is_the_rounded_mean_of_its_four() {
        // Y: a checkerboard of 0 and 255 averages to 128 everywhere; U and V ramps.
        let input = frame(
            64,
            36,
            |x, y| if (x + y) % 2 == 0 { 0 } else { 255 },
            |x, _| (x * 8) as u8,
            |_, y| (y * 10) as u8,
        );
        let out = half(&input).unwrap();
        assert_eq!((out.width, out.height), (32, 18));
        assert_eq!(out.timestamp_us, input.timestamp_us);
        let (y, u, v) = out.planes();
        assert!(y.iter().all(|&s| s == 128), "{y:?}");
        // U: columns 2c and 2c+1 hold 16c and 16c+8 → 16c + 4.
        for row in u.chunks_exact(16) {
            for (c, &s) in row.iter().enumerate() {
                assert_eq!(s, (16 * c + 4) as u8);
            }
        }
        // V: rows 2r and 2r+1 hold 20r and 20r+10 → 20r + 5.
        for (r, row) in v.chunks_exact(16).enumerate() {
            assert!(
                row.iter().all(|&s| s == (20 * r + 5) as u8),
                "row {r}: {row:?}"
            );
        }
    }

    #[test]
    fn an_odd_half_drops_the_last_pair_and_keeps_the_rest_aligned() {
        // 90 lines: luma 90 → 44 (rows 88 and 89 dropped); chroma 45 → 22 (row 44 dropped).
        let input = frame(
            64,
            90,
            |_, y| if y >= 88 { 255 } else { 10 },
            |_, y| if y >= 44 { 255 } else { 20 },
            |_, _| 30,
        );
        let out = half(&input).unwrap();
        assert_eq!((out.width, out.height), (32, 44));
        let (y, u, v) = out.planes();
        assert_eq!(y.len(), 32 * 44);
        assert!(y.iter().all(|&s| s == 10), "the dropped rows leaked in");
        assert!(u.iter().all(|&s| s == 20));
        assert!(v.iter().all(|&s| s == 30));
        assert_eq!(out.data.len(), I420Frame::expected_len(32, 44).unwrap());
    }

    #[test]
    fn a_picture_keeps_its_look_at_half_size() {
        let mut pattern = TestPattern::new(320, 180).unwrap();
        let big = pattern.next_frame(0);
        let small = half(&big).unwrap();
        assert_eq!((small.width, small.height), (160, 90));
        // Mean luma stays within a level or two of the original's.
        let mean = |p: &[u8]| p.iter().map(|&s| f64::from(s)).sum::<f64>() / p.len() as f64;
        let (by, _, _) = big.planes();
        let (sy, _, _) = small.planes();
        assert!(
            (mean(by) - mean(sy)).abs() < 2.0,
            "{} vs {}",
            mean(by),
            mean(sy)
        );
    }

    #[test]
    fn too_small_or_broken_frames_are_refused_without_panicking() {
        let tiny = frame(30, 30, |_, _| 0, |_, _| 0, |_, _| 0);
        assert!(half(&tiny).is_none());
        let mut broken = frame(64, 64, |_, _| 0, |_, _| 0, |_, _| 0);
        broken.data.truncate(100);
        assert!(half(&broken).is_none());
        broken.width = 65;
        assert!(half(&broken).is_none());
        assert!(halve_plane(&[0; 10], 8, 8, 4, 4, &mut Vec::new()).is_none());
        assert!(halve_plane(&[0; 64], 8, 8, 5, 4, &mut Vec::new()).is_none());
    }
}
