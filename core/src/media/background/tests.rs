use super::*;

use crate::media::video::frame_from_fns as frame;

fn flat(width: u32, height: u32, y: u8, u: u8, v: u8) -> I420Frame {
    frame(width, height, |_, _| y, |_, _| u, |_, _| v)
}

/// A mask given by a function of (x, y).
fn mask(width: u32, height: u32, f: impl Fn(usize, usize) -> u8) -> PersonMask {
    let data = (0..height as usize)
        .flat_map(|y| (0..width as usize).map(move |x| (x, y)))
        .map(|(x, y)| f(x, y))
        .collect();
    PersonMask::new(width, height, data).unwrap()
}

/// Person on the left half (of any mask size), background on the right.
fn left_half(width: u32, height: u32) -> PersonMask {
    mask(
        width,
        height,
        |x, _| {
            if x < width as usize / 2 { 255 } else { 0 }
        },
    )
}

/// Vertical stripes 8 pixels wide, black and white: the sharpest pattern a camera gives.
fn stripes(width: u32, height: u32) -> I420Frame {
    frame(
        width,
        height,
        |x, _| if (x / 8) % 2 == 0 { 16 } else { 235 },
        |x, _| if (x / 4) % 2 == 0 { 60 } else { 190 },
        |_, _| 128,
    )
}

fn at(plane: &[u8], w: usize, x: usize, y: usize) -> u8 {
    plane[y * w + x]
}

/// The largest difference between horizontal neighbours in columns `cols` of a plane.
fn roughness(plane: &[u8], w: usize, cols: std::ops::Range<usize>) -> u8 {
    plane
        .chunks_exact(w)
        .flat_map(|row| {
            row[cols.clone()]
                .windows(2)
                .map(|p| p[0].abs_diff(p[1]))
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn masks_of_any_size_are_accepted_and_broken_ones_refused() {
    assert!(PersonMask::new(33, 17, vec![0; 33 * 17]).is_ok());
    assert!(PersonMask::new(1, 1, vec![255]).is_ok());
    assert!(PersonMask::filled(4096, 4096, 7).is_ok());
    for (w, h, len, reason) in [
        (0, 10, 0, "width and height must be non-zero"),
        (10, 0, 0, "width and height must be non-zero"),
        (4097, 2, 8194, "a side is larger than 4096"),
        (u32::MAX, u32::MAX, 0, "a side is larger than 4096"),
        (16, 9, 16 * 9 - 1, "data length must be width*height"),
        (16, 9, 16 * 9 * 2, "data length must be width*height"),
    ] {
        let err = PersonMask::new(w, h, vec![0; len]).unwrap_err();
        assert_eq!(
            err,
            BackgroundError::InvalidMask {
                width: w,
                height: h,
                len,
                reason
            }
        );
    }
    assert!(PersonMask::filled(u32::MAX, 2, 0).is_err());
}

#[test]
fn broken_pictures_and_frames_are_refused_without_panicking() {
    let mut compositor = Compositor::new();
    let mut short = flat(64, 36, 1, 2, 3);
    short.data.truncate(64 * 36);
    assert!(matches!(
        compositor.set_background(Background::Replace(short)),
        Err(BackgroundError::InvalidImage(_))
    ));
    let mut odd = flat(64, 36, 1, 2, 3);
    odd.width = 63;
    assert!(matches!(
        compositor.set_background(Background::Replace(odd)),
        Err(BackgroundError::InvalidImage(_))
    ));
    let huge = I420Frame {
        width: 8192,
        height: 2,
        data: Vec::new(),
        timestamp_us: 0,
    };
    assert_eq!(
        compositor.set_background(Background::Replace(huge)),
        Err(BackgroundError::ImageTooLarge {
            width: 8192,
            height: 2
        })
    );
    // The refusals left the background as it was.
    assert_eq!(compositor.background(), &Background::Off);

    compositor.set_background(Background::Blur).unwrap();
    let mut broken = flat(64, 36, 1, 2, 3);
    broken.data.pop();
    assert!(matches!(
        compositor.composite(&mut broken, None),
        Err(BackgroundError::InvalidFrame(_))
    ));
    let mut odd = flat(64, 36, 1, 2, 3);
    odd.height = 35;
    assert!(matches!(
        compositor.composite(&mut odd, None),
        Err(BackgroundError::InvalidFrame(_))
    ));
    // Still usable: the smallest valid frame, with a mask larger than it.
    let mut tiny = flat(2, 2, 1, 2, 3);
    let big_mask = PersonMask::filled(1000, 3, 0).unwrap();
    assert!(compositor.composite(&mut tiny, Some(&big_mask)).unwrap());
}

#[test]
fn off_leaves_the_frame_as_it_is() {
    let mut compositor = Compositor::new();
    let original = stripes(64, 36);
    let mut f = original.clone();
    assert!(!compositor.composite(&mut f, None).unwrap());
    assert_eq!(f, original);
}

#[test]
fn a_full_mask_keeps_the_frame_and_an_empty_one_shows_only_the_picture() {
    let original = stripes(640, 360);
    let picture = flat(320, 180, 100, 50, 200);
    let background = Background::Replace(picture);
    let full = PersonMask::filled(320, 180, 255).unwrap();
    assert_eq!(
        composite(&original, Some(&full), &background).unwrap(),
        original
    );
    let empty = PersonMask::filled(320, 180, 0).unwrap();
    let out = composite(&original, Some(&empty), &background).unwrap();
    assert_eq!(out, flat(640, 360, 100, 50, 200).with_timestamp(42));
    // No mask at all: everything is background too.
    assert_eq!(composite(&original, None, &background).unwrap(), out);
}

#[test]
fn replace_keeps_the_person_shows_the_picture_and_blends_the_edge() {
    let original = stripes(640, 360);
    let out = composite(
        &original,
        Some(&left_half(640, 360)),
        &Background::Replace(flat(640, 360, 100, 50, 200)),
    )
    .unwrap();
    let (y, u, v) = out.planes();
    let (oy, ou, _) = original.planes();
    // Well inside the person: untouched, in every plane.
    for row in [0, 100, 359] {
        for x in 0..300 {
            assert_eq!(at(y, 640, x, row), at(oy, 640, x, row), "({x}, {row})");
        }
    }
    assert_eq!(&u[..150], &ou[..150]);
    // Well inside the background: the picture.
    for row in [0, 200, 359] {
        for x in 340..640 {
            assert_eq!(at(y, 640, x, row), 100, "({x}, {row})");
        }
    }
    assert!(
        u.chunks_exact(320)
            .all(|r| r[170..].iter().all(|&s| s == 50))
    );
    assert!(
        v.chunks_exact(320)
            .all(|r| r[170..].iter().all(|&s| s == 200))
    );
    // Across the edge the coverage ramps: some pixels are strictly between the camera's and
    // the picture's values (no hard cut).
    let row = 180;
    let between = (300..340)
        .filter(|&x| {
            let (cam, out) = (at(oy, 640, x, row), at(y, 640, x, row));
            out != cam && out != 100
        })
        .count();
    assert!(between >= 4, "only {between} blended pixels at the edge");
}

#[test]
fn the_feathered_mask_ramps_smoothly_across_a_hard_edge() {
    // A white camera, a black picture: the output luma is the coverage itself.
    let out = composite(
        &flat(640, 360, 255, 128, 128),
        Some(&left_half(640, 360)),
        &Background::Replace(flat(64, 36, 0, 128, 128)),
    )
    .unwrap();
    let (y, _, _) = out.planes();
    let row = &y[180 * 640..181 * 640];
    // Monotonic from person to background, with no step bigger than a third of the range.
    assert!(row.windows(2).all(|p| p[0] >= p[1]), "{:?}", &row[300..340]);
    assert!(
        row.windows(2).all(|p| p[0] - p[1] <= 85),
        "{:?}",
        &row[300..340]
    );
    assert_eq!((row[0], row[639]), (255, 0));
}

#[test]
fn a_low_resolution_mask_is_stretched_over_the_frame() {
    // 16×9 cells of 40×40 pixels; and an odd-sized one.
    for (mw, mh) in [(16, 9), (33, 17)] {
        let out = composite(
            &stripes(640, 360),
            Some(&left_half(mw, mh)),
            &Background::Replace(flat(640, 360, 100, 50, 200)),
        )
        .unwrap();
        let (y, _, _) = out.planes();
        let original = stripes(640, 360);
        let (oy, _, _) = original.planes();
        for row in [0, 180, 359] {
            assert_eq!(at(y, 640, 100, row), at(oy, 640, 100, row));
            assert_eq!(at(y, 640, 600, row), 100, "{mw}x{mh} mask");
        }
    }
}

#[test]
fn blur_smooths_sharp_edges_behind_the_person_only() {
    let original = stripes(640, 360);
    let out = composite(&original, Some(&left_half(640, 360)), &Background::Blur).unwrap();
    let (y, u, _) = out.planes();
    let (oy, ou, _) = original.planes();
    assert_eq!(roughness(oy, 640, 340..640), 219);
    // The person's stripes are untouched.
    for row in (0..360).step_by(37) {
        assert_eq!(
            &y[row * 640..row * 640 + 300],
            &oy[row * 640..row * 640 + 300]
        );
    }
    assert_eq!(&u[..140], &ou[..140]);
    // Behind: smooth, around the stripes' mean (125.5).
    let rough = roughness(y, 640, 360..640);
    assert!(rough <= 6, "background still has steps of {rough}");
    let behind: Vec<u8> = y
        .chunks_exact(640)
        .flat_map(|r| r[360..].to_vec())
        .collect();
    let mean = behind.iter().map(|&s| f64::from(s)).sum::<f64>() / behind.len() as f64;
    assert!((mean - 125.5).abs() < 8.0, "mean {mean}");
    assert!(roughness(u, 320, 180..320) <= 8);
}

#[test]
fn blur_without_a_mask_blurs_everything() {
    let original = stripes(320, 180);
    let mut compositor = Compositor::new();
    compositor.set_background(Background::Blur).unwrap();
    let mut f = original.clone();
    assert!(compositor.composite(&mut f, None).unwrap());
    let (y, _, _) = f.planes();
    assert!(
        roughness(y, 320, 0..320) <= 12,
        "{}",
        roughness(y, 320, 0..320)
    );
}

#[test]
fn the_person_does_not_bleed_into_the_blurred_background() {
    // A bright person on the left, a dark wall on the right, the mask exactly on the edge.
    let original = frame(
        640,
        360,
        |x, _| if x < 320 { 235 } else { 16 },
        |_, _| 128,
        |_, _| 128,
    );
    let out = composite(&original, Some(&left_half(640, 360)), &Background::Blur).unwrap();
    let (y, _, _) = out.planes();
    // Past the feathered edge, the wall stays dark: a plain blur (a Gaussian of about 14
    // pixels) would have lifted it past 100 here.
    for x in [336, 345, 360] {
        let s = at(y, 640, x, 180);
        assert!(s <= 24, "x = {x}: {s}");
    }
}

#[test]
fn a_picture_covers_the_frame_cropped_at_its_centre() {
    // 4:3 picture on a 16:9 frame: scaled ×2, its top and bottom 30 rows are cut away.
    let picture = frame(
        320,
        240,
        |_, y| if !(30..210).contains(&y) { 0 } else { 200 },
        |_, _| 90,
        |_, _| 160,
    );
    let out = composite(
        &stripes(640, 360),
        None,
        &Background::Replace(picture.clone()),
    )
    .unwrap();
    let (y, u, v) = out.planes();
    // The band edge may leak half a sample into the first and last row.
    assert!(y[640..640 * 359].iter().all(|&s| s == 200));
    assert!(u.iter().all(|&s| s == 90) && v.iter().all(|&s| s == 160));
    // A picture much larger than the frame (halved first) keeps its values too.
    let big = flat(2560, 1440, 77, 66, 55);
    let out = composite(&stripes(320, 180), None, &Background::Replace(big)).unwrap();
    assert_eq!(out, flat(320, 180, 77, 66, 55).with_timestamp(42));
}

#[test]
fn a_new_frame_size_rescales_the_picture() {
    let mut compositor = Compositor::new();
    let picture = frame(64, 36, |x, _| (x * 4) as u8, |_, _| 128, |_, _| 128);
    compositor
        .set_background(Background::Replace(picture))
        .unwrap();
    for (w, h) in [(640, 360), (320, 180), (360, 640), (640, 360)] {
        let mut f = stripes(w, h);
        compositor.composite(&mut f, None).unwrap();
        let (y, _, _) = f.planes();
        let w = w as usize;
        // The picture's ramp runs left to right across every row.
        let row = &y[..w];
        assert!(row.windows(2).all(|p| p[0] <= p[1]), "{w}: not a ramp");
        assert!(row[w - 1] > row[0] + 50);
    }
}

#[test]
fn doubling_a_plane_is_bilinear_resampling() {
    // Odd content on an odd-sized plane: the fast path and the general one agree exactly.
    let (sw, sh) = (13, 7);
    let src: Vec<u8> = (0..sw * sh).map(|i| ((i * 37) % 251) as u8).collect();
    let mut fast = vec![0; 4 * sw * sh];
    upsample2x(&src, sw, &mut fast, &mut Vec::new());
    let mut general = vec![0; 4 * sw * sh];
    let (xs, ys) = (axis_stretch(2 * sw, sw), axis_stretch(2 * sh, sh));
    resample(&src, sw, sh, &mut general, 2 * sw, 2 * sh, &xs, &ys);
    assert_eq!(fast, general);
}

impl I420Frame {
    fn with_timestamp(mut self, timestamp_us: u64) -> Self {
        self.timestamp_us = timestamp_us;
        self
    }
}
