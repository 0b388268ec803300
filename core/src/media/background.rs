//! Backgrounds for the outgoing camera: blur or replace everything that is not the person, on
//! I420 frames, given a person mask from the platform (iOS Vision person segmentation, Android
//! ML Kit or MediaPipe in the app).
//!
//! - [`PersonMask`]: coverage per pixel, `255` = person (kept as is), `0` = background, values
//!   in between blend. Any resolution: it is stretched over the whole frame, so it must show the
//!   same picture as the frame, in the same orientation.
//! - [`Background`]: off, blur, or a picture (an I420 frame of any size, scaled to cover the
//!   frame and cropped at its centre).
//! - [`Compositor`]: keeps the chosen background, the picture scaled to the last frame size,
//!   and its work buffers; [`Compositor::composite`] changes a frame in place.
//!
//! How, per frame (see `docs/performance.md`, "Backgrounds in the core", for the cost):
//!
//! 1. The mask is resampled (bilinear) to the chroma planes' size, feathered there with a small
//!    box blur (so a hard-edged or low-resolution mask gives no stair steps nor hard halo), and
//!    resampled ×2 for the luma plane.
//! 2. Blur: each plane is shrunk by block averages to about 90 rows, blurred there with three
//!    passes of a separable box blur (close to a Gaussian of ~1/25 of the frame's short side),
//!    and read back bilinearly while blending. The shrinking weighs background pixels 256 times
//!    more than person pixels, so the person's colours do not smear into the blurred
//!    background around them.
//! 3. Replace: the picture, scaled once per frame size (halved with a box filter while more
//!    than twice too large, then bilinear), is blended in.
//!
//! Everything is integer or `f32` arithmetic on plain slices; the frame-sized buffers are kept
//! from frame to frame (only row-sized tables are allocated per frame). No input panics: a bad
//! mask, frame or picture is a [`BackgroundError`].

use super::MediaError;
use super::scale;
use super::video::I420Frame;

/// The largest mask side accepted (4K masks are more than any platform produces).
pub const MAX_MASK_SIDE: u32 = 4096;
/// The largest background picture side accepted (a 12-megapixel photo is 4032 wide); apps
/// should scale a photo down to about the camera's size first.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// The size the blur works at: the frame's short side shrunk to about this many samples.
const BLUR_WORK_SIDE: u32 = 90;
/// Box radius (in work samples) and passes of the background blur.
const BLUR_RADIUS: usize = 3;
const BLUR_PASSES: usize = 3;
/// Passes of the mask feathering (its radius grows with the frame: one chroma sample per 180
/// chroma rows).
const FEATHER_PASSES: usize = 2;

/// What is wrong with an input. The compositor is still usable after any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackgroundError {
    #[error("invalid person mask {width}x{height} with {len} bytes: {reason}")]
    InvalidMask {
        width: u32,
        height: u32,
        len: usize,
        reason: &'static str,
    },
    #[error("invalid background picture: {0}")]
    InvalidImage(MediaError),
    #[error("background picture {width}x{height} is too large (at most {MAX_IMAGE_SIDE} a side)")]
    ImageTooLarge { width: u32, height: u32 },
    #[error("invalid frame: {0}")]
    InvalidFrame(MediaError),
}

/// Where the person is: `width * height` coverage bytes, row by row, `255` = person.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonMask {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl std::fmt::Debug for PersonMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonMask")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl PersonMask {
    /// Checks that both sides are in `1..=MAX_MASK_SIDE` (odd sides are fine) and that `data`
    /// holds exactly `width * height` bytes.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self, BackgroundError> {
        let fail = |reason| BackgroundError::InvalidMask {
            width,
            height,
            len: data.len(),
            reason,
        };
        if width == 0 || height == 0 {
            return Err(fail("width and height must be non-zero"));
        }
        if width > MAX_MASK_SIDE || height > MAX_MASK_SIDE {
            return Err(fail("a side is larger than 4096"));
        }
        // Both sides ≤ 4096: the product fits in any usize.
        if data.len() != width as usize * height as usize {
            return Err(fail("data length must be width*height"));
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// A mask with the same coverage everywhere.
    pub fn filled(width: u32, height: u32, coverage: u8) -> Result<Self, BackgroundError> {
        let len = if width <= MAX_MASK_SIDE && height <= MAX_MASK_SIDE {
            width as usize * height as usize
        } else {
            0
        };
        Self::new(width, height, vec![coverage; len])
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

/// What goes behind the person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Background {
    /// Frames pass unchanged.
    #[default]
    Off,
    /// The background is blurred.
    Blur,
    /// The background is this picture, scaled to cover the frame (cropped at its centre).
    Replace(I420Frame),
}

impl Background {
    /// Checks a picture: a valid I420 frame of at most [`MAX_IMAGE_SIDE`] a side.
    pub fn check(&self) -> Result<(), BackgroundError> {
        if let Self::Replace(image) = self {
            if image.width > MAX_IMAGE_SIDE || image.height > MAX_IMAGE_SIDE {
                return Err(BackgroundError::ImageTooLarge {
                    width: image.width,
                    height: image.height,
                });
            }
            image.validate().map_err(BackgroundError::InvalidImage)?;
        }
        Ok(())
    }

    pub fn is_off(&self) -> bool {
        matches!(self, Self::Off)
    }
}

/// Applies a [`Background`] to frames. Keep one per video stream: it caches the picture at the
/// frame size and its work buffers.
#[derive(Default)]
pub struct Compositor {
    background: Background,
    /// The picture scaled to cover the last frame size (an I420 buffer of that size).
    cover: Option<(u32, u32, Vec<u8>)>,
    work: Work,
}

/// Buffers reused from frame to frame.
#[derive(Default)]
struct Work {
    mask_c: Vec<u8>,
    mask_y: Vec<u8>,
    feather: Vec<f32>,
    sum: Vec<f32>,
    weight: Vec<f32>,
    tmp: Vec<f32>,
    small: Vec<u8>,
    row: Vec<u16>,
}

impl Compositor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Changes the background from the next frame on. A refused picture leaves the current
    /// background in place.
    pub fn set_background(&mut self, background: Background) -> Result<(), BackgroundError> {
        background.check()?;
        self.cover = None;
        self.background = background;
        Ok(())
    }

    pub fn background(&self) -> &Background {
        &self.background
    }

    /// Puts the background behind the person in `frame`. Without a mask the whole frame counts
    /// as background (blurred all over, or only the picture): the camera's surroundings never
    /// go out unprocessed while a background is on. Returns whether the frame was changed
    /// (`false` when the background is off). A frame of a new size is fine (the picture is
    /// scaled again).
    pub fn composite(
        &mut self,
        frame: &mut I420Frame,
        mask: Option<&PersonMask>,
    ) -> Result<bool, BackgroundError> {
        frame.validate().map_err(BackgroundError::InvalidFrame)?;
        if self.background.is_off() {
            return Ok(false);
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        let work = &mut self.work;
        build_masks(mask, w, h, work);
        let luma = w * h;
        let chroma = cw * ch;
        // `validate` established data.len() == luma + 2 * chroma.
        let (y, uv) = frame.data.split_at_mut(luma);
        let (u, v) = uv.split_at_mut(chroma);
        match &self.background {
            Background::Off => {}
            Background::Blur => {
                let short = frame.width.min(frame.height);
                let factor = (short / BLUR_WORK_SIDE).clamp(1, 16) as usize;
                let chroma_factor = (factor / 2).max(1);
                blur_plane(y, w, h, factor, Plane::Luma, work);
                blur_plane(u, cw, ch, chroma_factor, Plane::Chroma, work);
                blur_plane(v, cw, ch, chroma_factor, Plane::Chroma, work);
            }
            Background::Replace(image) => {
                let cached = self.cover.as_ref().map(|(cw, ch, _)| (*cw, *ch));
                if cached != Some((frame.width, frame.height)) {
                    self.cover = Some((
                        frame.width,
                        frame.height,
                        cover(image, frame.width, frame.height),
                    ));
                }
                if let Some((_, _, picture)) = &self.cover {
                    let (py, puv) = picture.split_at(luma);
                    let (pu, pv) = puv.split_at(chroma);
                    blend_with(y, &work.mask_y, py);
                    blend_with(u, &work.mask_c, pu);
                    blend_with(v, &work.mask_c, pv);
                }
            }
        }
        Ok(true)
    }
}

/// One-shot compositing (for a preview or a single picture): `frame` with `background` behind
/// the person. Prefer a [`Compositor`] for a stream of frames.
pub fn composite(
    frame: &I420Frame,
    mask: Option<&PersonMask>,
    background: &Background,
) -> Result<I420Frame, BackgroundError> {
    let mut compositor = Compositor::new();
    compositor.set_background(background.clone())?;
    let mut out = frame.clone();
    compositor.composite(&mut out, mask)?;
    Ok(out)
}

/// Fills `work.mask_c` (chroma size) and `work.mask_y` (luma size) from `mask`, feathered;
/// all zero (everything background) without one.
fn build_masks(mask: Option<&PersonMask>, w: usize, h: usize, work: &mut Work) {
    let (cw, ch) = (w / 2, h / 2);
    work.mask_c.clear();
    work.mask_y.clear();
    let Some(mask) = mask else {
        work.mask_c.resize(cw * ch, 0);
        work.mask_y.resize(w * h, 0);
        return;
    };
    let (mw, mh) = (mask.width as usize, mask.height as usize);
    work.mask_c.resize(cw * ch, 0);
    resample(
        &mask.data,
        mw,
        mh,
        &mut work.mask_c,
        cw,
        ch,
        &axis_stretch(cw, mw),
        &axis_stretch(ch, mh),
    );
    let radius = (cw.min(ch) / 180).max(1);
    work.feather.clear();
    work.feather
        .extend(work.mask_c.iter().map(|&m| f32::from(m)));
    for _ in 0..FEATHER_PASSES {
        box_blur(&mut work.feather, cw, ch, radius, &mut work.tmp);
    }
    for (m, &f) in work.mask_c.iter_mut().zip(&work.feather) {
        // In 0..=255 (a mean of bytes); `as` saturates anyway.
        *m = (f + 0.5) as u8;
    }
    work.mask_y.resize(w * h, 0);
    upsample2x(&work.mask_c, cw, &mut work.mask_y, &mut work.row);
}

/// Bilinear ×2 of a plane `sw` samples wide into `dst` (twice as wide and high): each output
/// sample is ¾ of its nearest input and ¼ of the next one towards it, in both directions, edges
/// repeated. The same result as [`resample`] with [`axis_stretch`] taps, in a fraction of the
/// time.
fn upsample2x(src: &[u8], sw: usize, dst: &mut [u8], row: &mut Vec<u16>) {
    if sw == 0 {
        return;
    }
    let sh = src.len() / sw;
    let dw = 2 * sw;
    row.clear();
    row.resize(sw, 0);
    for (j, pair) in dst.chunks_exact_mut(2 * dw).enumerate().take(sh) {
        let cur = &src[j * sw..(j + 1) * sw];
        let (top, bottom) = pair.split_at_mut(dw);
        for (out, near) in [(top, j.saturating_sub(1)), (bottom, (j + 1).min(sh - 1))] {
            let other = &src[near * sw..(near + 1) * sw];
            // Vertical first, at 4× scale (at most 1020).
            for ((v, &c), &o) in row.iter_mut().zip(cur).zip(other) {
                *v = 3 * u16::from(c) + u16::from(o);
            }
            for (i, pixels) in out.chunks_exact_mut(2).enumerate() {
                let c = row[i];
                let left = row[i.saturating_sub(1)];
                let right = row[(i + 1).min(sw - 1)];
                // At 16× scale: at most 16320, so the result is at most 255.
                pixels[0] = ((3 * c + left + 8) >> 4) as u8;
                pixels[1] = ((3 * c + right + 8) >> 4) as u8;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Plane {
    Luma,
    Chroma,
}

/// Blurs what is background in `plane` (`w`×`h`), using the mask of its size.
fn blur_plane(plane: &mut [u8], w: usize, h: usize, factor: usize, which: Plane, work: &mut Work) {
    let mask = match which {
        Plane::Luma => std::mem::take(&mut work.mask_y),
        Plane::Chroma => std::mem::take(&mut work.mask_c),
    };
    let sw = w.div_ceil(factor);
    let sh = h.div_ceil(factor);
    // Block sums of value × weight and of weight; weight 256 for background, 1 for person.
    work.sum.clear();
    work.sum.resize(sw * sh, 0.0);
    work.weight.clear();
    work.weight.resize(sw * sh, 0.0);
    for (row, (line, mline)) in plane.chunks_exact(w).zip(mask.chunks_exact(w)).enumerate() {
        let base = (row / factor) * sw;
        let sums = &mut work.sum[base..base + sw];
        let weights = &mut work.weight[base..base + sw];
        for ((block, mblock), (s, wt)) in line
            .chunks(factor)
            .zip(mline.chunks(factor))
            .zip(sums.iter_mut().zip(weights.iter_mut()))
        {
            let mut bs = 0u32;
            let mut bw = 0u32;
            for (&p, &m) in block.iter().zip(mblock) {
                let wgt = 256 - u32::from(m);
                bs += u32::from(p) * wgt;
                bw += wgt;
            }
            *s += bs as f32;
            *wt += bw as f32;
        }
    }
    for _ in 0..BLUR_PASSES {
        box_blur(&mut work.sum, sw, sh, BLUR_RADIUS, &mut work.tmp);
        box_blur(&mut work.weight, sw, sh, BLUR_RADIUS, &mut work.tmp);
    }
    work.small.clear();
    work.small.extend(
        work.sum
            .iter()
            .zip(&work.weight)
            // Every weight is at least 1 per pixel, so the blurred weight is positive.
            .map(|(&s, &wt)| (s / wt.max(1e-3) + 0.5).clamp(0.0, 255.0) as u8),
    );
    blend_upsampled(plane, w, h, &mask, &work.small, sw, sh, factor);
    match which {
        Plane::Luma => work.mask_y = mask,
        Plane::Chroma => work.mask_c = mask,
    }
}

/// `plane` = mix of itself (where the mask says person) and `small` (`sw`×`sh`, read back
/// bilinearly at `factor` times its size) where it says background.
#[allow(clippy::too_many_arguments)]
fn blend_upsampled(
    plane: &mut [u8],
    w: usize,
    h: usize,
    mask: &[u8],
    small: &[u8],
    sw: usize,
    sh: usize,
    factor: usize,
) {
    let step = 1.0 / factor as f64;
    let xs = axis(w, sw, step, 0.0);
    let ys = axis(h, sh, step, 0.0);
    // The vertical half of the bilinear read, once per output row (256× scale).
    let mut column = vec![0u32; sw];
    for ((line, mline), ty) in plane.chunks_exact_mut(w).zip(mask.chunks_exact(w)).zip(&ys) {
        if mline.iter().all(|&m| m == 255) {
            continue;
        }
        let top = &small[ty.i0 * sw..ty.i0 * sw + sw];
        let bottom = &small[ty.i1 * sw..ty.i1 * sw + sw];
        for ((c, &t), &b) in column.iter_mut().zip(top).zip(bottom) {
            *c = u32::from(t) * (256 - ty.w1) + u32::from(b) * ty.w1;
        }
        for ((p, &m), tx) in line.iter_mut().zip(mline).zip(&xs) {
            if m == 255 {
                continue;
            }
            let value = column[tx.i0] * (256 - tx.w1) + column[tx.i1] * tx.w1;
            // At most 255 × 65536 + 32768, shifted by 16: at most 255.
            let bg = ((value + 32768) >> 16) as u8;
            *p = mix(*p, bg, m);
        }
    }
}

/// `plane` = mix of itself and `picture` (same size) by `mask`.
fn blend_with(plane: &mut [u8], mask: &[u8], picture: &[u8]) {
    for ((p, &m), &bg) in plane.iter_mut().zip(mask).zip(picture) {
        *p = mix(*p, bg, m);
    }
}

/// `fg` where `m` = 255, `bg` where 0, the rounded linear mix between.
#[inline]
fn mix(fg: u8, bg: u8, m: u8) -> u8 {
    let m = u32::from(m);
    // At most 255 × 255 + 127, divided by 255: at most 255.
    ((u32::from(fg) * m + u32::from(bg) * (255 - m) + 127) / 255) as u8
}

/// The I420 buffer of `image` scaled to cover `width`×`height` (both even) and cropped at its
/// centre.
fn cover(image: &I420Frame, width: u32, height: u32) -> Vec<u8> {
    // Halve while more than twice too large, so bilinear sampling does not alias.
    let mut halved: Option<I420Frame> = None;
    loop {
        let current = halved.as_ref().unwrap_or(image);
        let fits = current.width / 2 < width || current.height / 2 < height;
        if fits {
            break;
        }
        match scale::half(current) {
            Some(smaller) => halved = Some(smaller),
            None => break,
        }
    }
    let source = halved.as_ref().unwrap_or(image);
    let (iw, ih) = (source.width as usize, source.height as usize);
    let (w, h) = (width as usize, height as usize);
    let (sy, su, sv) = source.planes();
    // One scale for both axes, the larger of the two: the picture covers the frame.
    let s = (w as f64 / iw as f64).max(h as f64 / ih as f64);
    let step = 1.0 / s;
    let mut out = vec![0u8; w * h + 2 * (w / 2) * (h / 2)];
    let (oy, ouv) = out.split_at_mut(w * h);
    let (ou, ov) = ouv.split_at_mut((w / 2) * (h / 2));
    for (src, pw, ph, dst, dw, dh) in [
        (sy, iw, ih, oy, w, h),
        (su, iw / 2, ih / 2, ou, w / 2, h / 2),
        (sv, iw / 2, ih / 2, ov, w / 2, h / 2),
    ] {
        let ox = (pw as f64 - dw as f64 * step) / 2.0;
        let oy = (ph as f64 - dh as f64 * step) / 2.0;
        let xs = axis(dw, pw, step, ox);
        let ys = axis(dh, ph, step, oy);
        resample(src, pw, ph, dst, dw, dh, &xs, &ys);
    }
    out
}

/// Where one output sample reads from along an axis: samples `i0` and `i1`, with weight `w1`
/// (of 256) on `i1`.
#[derive(Clone, Copy, Debug)]
struct Tap {
    i0: usize,
    i1: usize,
    w1: u32,
}

/// Taps of `dst` outputs over `src` inputs: output `x` reads input position
/// `offset + (x + 0.5) * step - 0.5`, clamped to the edges. `src` must be non-zero.
fn axis(dst: usize, src: usize, step: f64, offset: f64) -> Vec<Tap> {
    let last = src.saturating_sub(1);
    (0..dst)
        .map(|x| {
            let pos = (offset + (x as f64 + 0.5) * step - 0.5).clamp(0.0, last as f64);
            // Clamped to 0..=last above.
            let i0 = pos.floor() as usize;
            let w1 = ((pos - i0 as f64) * 256.0).round() as u32;
            Tap {
                i0,
                i1: (i0 + 1).min(last),
                w1: w1.min(256),
            }
        })
        .collect()
}

/// Taps that stretch `src` samples over `dst`.
fn axis_stretch(dst: usize, src: usize) -> Vec<Tap> {
    axis(dst, src, src as f64 / dst.max(1) as f64, 0.0)
}

#[inline]
fn bilinear(top: &[u8], bottom: &[u8], tx: &Tap, ty: &Tap) -> u8 {
    let lerp = |row: &[u8]| u32::from(row[tx.i0]) * (256 - tx.w1) + u32::from(row[tx.i1]) * tx.w1;
    let value = lerp(top) * (256 - ty.w1) + lerp(bottom) * ty.w1;
    // At most 255 × 65536 + 32768, shifted by 16: at most 255.
    ((value + 32768) >> 16) as u8
}

/// Bilinear resampling of a `sw`×`sh` plane into a `dw`×`dh` one along the given taps (whose
/// indices are all below `sw` and `sh`).
#[allow(clippy::too_many_arguments)]
fn resample(
    src: &[u8],
    sw: usize,
    _sh: usize,
    dst: &mut [u8],
    dw: usize,
    _dh: usize,
    xs: &[Tap],
    ys: &[Tap],
) {
    for (line, ty) in dst.chunks_exact_mut(dw).zip(ys) {
        let top = &src[ty.i0 * sw..ty.i0 * sw + sw];
        let bottom = &src[ty.i1 * sw..ty.i1 * sw + sw];
        for (p, tx) in line.iter_mut().zip(xs) {
            *p = bilinear(top, bottom, tx, ty);
        }
    }
}

/// One pass of a separable box blur of radius `r` over a `w`×`h` buffer, edges repeated.
fn box_blur(buf: &mut [f32], w: usize, h: usize, r: usize, tmp: &mut Vec<f32>) {
    if w == 0 || h == 0 {
        return;
    }
    let norm = 1.0 / (2 * r + 1) as f32;
    tmp.clear();
    tmp.resize(w * h, 0.0);
    // Rows: a running sum along each row, into `tmp`.
    let clamp_w = |i: isize| i.clamp(0, w as isize - 1) as usize;
    for (src, dst) in buf.chunks_exact(w).zip(tmp.chunks_exact_mut(w)) {
        let mut sum: f32 = (-(r as isize)..=r as isize).map(|i| src[clamp_w(i)]).sum();
        for (x, out) in dst.iter_mut().enumerate() {
            *out = sum * norm;
            let x = x as isize;
            sum += src[clamp_w(x + r as isize + 1)] - src[clamp_w(x - r as isize)];
        }
    }
    // Columns: a running sum of whole rows, from `tmp` back into `buf`.
    let clamp_h = |i: isize| i.clamp(0, h as isize - 1) as usize;
    let row = |i: isize| {
        let at = clamp_h(i) * w;
        &tmp[at..at + w]
    };
    let mut acc = vec![0.0f32; w];
    for i in -(r as isize)..=r as isize {
        for (a, &v) in acc.iter_mut().zip(row(i)) {
            *a += v;
        }
    }
    for (y, out) in buf.chunks_exact_mut(w).enumerate() {
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = a * norm;
        }
        let y = y as isize;
        let (add, sub) = (row(y + r as isize + 1), row(y - r as isize));
        for ((a, &p), &m) in acc.iter_mut().zip(add).zip(sub) {
            *a += p - m;
        }
    }
}

#[cfg(test)]
mod tests;
