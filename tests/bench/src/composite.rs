//! `salon-bench composite`: the cost of putting a background behind the person
//! (`salon_core::media::background`) per camera frame, on one thread, as the core's encoder
//! thread does it before encoding. Synthetic frames (the core's moving test pattern) and a
//! synthetic person mask (an upright ellipse, soft-edged like a platform's); a blurred and a
//! replaced background (a 1280×720 picture, scaled once and cached), each at the mask sizes
//! asked for. Prints per-frame times (mean, p50, p99) and how long the thread waited for a CPU
//! (`/proc/thread-self/schedstat`), so a figure taken on a busy machine says so.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use salon_core::media::background::{Background, Compositor, PersonMask};
use salon_core::media::pattern::TestPattern;
use salon_core::media::video::I420Frame;

/// Cost of background compositing per camera frame (one thread, synthetic frames and masks).
#[derive(Debug, Parser)]
#[command(name = "salon-bench composite")]
struct Args {
    /// Frame size, WIDTHxHEIGHT (even sides).
    #[arg(long, default_value = "640x360", value_parser = parse_size)]
    size: (u32, u32),
    /// Mask sizes to measure (repeatable): a platform's mask is often smaller than the frame.
    #[arg(long = "mask", value_parser = parse_size, default_values = ["256x144", "640x360"])]
    masks: Vec<(u32, u32)>,
    /// Frames timed per background and mask size (after 10 warm-up frames).
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Fail unless every composited frame differs from the camera's behind the person and
    /// equals it on the person (what the smoke run in `scripts/test-all.sh` checks).
    #[arg(long)]
    check: bool,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT"))?;
    let parse = |v: &str| v.parse::<u32>().map_err(|e| format!("{s:?}: {e}"));
    Ok((parse(w)?, parse(h)?))
}

/// CPU time and run-queue wait of this thread so far, in nanoseconds.
fn thread_schedstat() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = s.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((fields.next()??, fields.next()??))
}

/// An upright ellipse in the middle-bottom of a `w`×`h` mask (a head and shoulders), coverage
/// falling from 255 to 0 over the last 4 % of its radius.
fn person_mask(w: u32, h: u32) -> Result<PersonMask, String> {
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) * 0.6);
    let (rx, ry) = (f64::from(w) * 0.22, f64::from(h) * 0.55);
    let data = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| {
            let dx = (f64::from(x) + 0.5 - cx) / rx;
            let dy = (f64::from(y) + 0.5 - cy) / ry;
            let r = (dx * dx + dy * dy).sqrt();
            (((1.0 - r) / 0.04).clamp(0.0, 1.0) * 255.0).round() as u8
        })
        .collect();
    PersonMask::new(w, h, data).map_err(|e| e.to_string())
}

/// A 1280×720 picture: soft diagonal colour bands.
fn picture() -> Result<I420Frame, String> {
    let (w, h) = (1280usize, 720usize);
    let mut data = Vec::with_capacity(w * h * 3 / 2);
    data.extend((0..h).flat_map(|y| (0..w).map(move |x| ((x + y) / 8 % 200 + 30) as u8)));
    data.extend((0..h / 2).flat_map(|y| (0..w / 2).map(move |x| ((x / 3 + y) % 256) as u8)));
    data.extend((0..h / 2).flat_map(|y| (0..w / 2).map(move |x| ((x + y / 2) % 256) as u8)));
    I420Frame::new(1280, 720, data, 0).map_err(|e| e.to_string())
}

struct Figures {
    mean_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_ms: f64,
    runq_wait_ms: f64,
}

fn measure(
    background: &Background,
    frames: &[I420Frame],
    mask: &PersonMask,
    count: usize,
    check: bool,
) -> Result<Figures, String> {
    let mut compositor = Compositor::new();
    compositor
        .set_background(background.clone())
        .map_err(|e| e.to_string())?;
    let mut run = |i: usize| -> Result<(f64, I420Frame), String> {
        let camera = &frames[i % frames.len()];
        let mut frame = camera.clone();
        let start = Instant::now();
        compositor
            .composite(&mut frame, Some(mask))
            .map_err(|e| e.to_string())?;
        Ok((start.elapsed().as_secs_f64() * 1000.0, frame))
    };
    for i in 0..10 {
        run(i)?;
    }
    let before = thread_schedstat();
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let (ms, out) = run(i)?;
        times.push(ms);
        if check {
            check_frame(&frames[i % frames.len()], &out, mask)?;
        }
    }
    let after = thread_schedstat();
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let (cpu_ms, runq_wait_ms) = match (before, after) {
        (Some(b), Some(a)) => (
            a.0.saturating_sub(b.0) as f64 / 1e6,
            a.1.saturating_sub(b.1) as f64 / 1e6,
        ),
        _ => (f64::NAN, f64::NAN),
    };
    Ok(Figures {
        mean_ms: times.iter().sum::<f64>() / times.len() as f64,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        cpu_ms,
        runq_wait_ms,
    })
}

/// The frame's luma is unchanged at the middle of the person and changed in a corner.
fn check_frame(camera: &I420Frame, out: &I420Frame, mask: &PersonMask) -> Result<(), String> {
    let w = camera.width as usize;
    let (cam, _, _) = camera.planes();
    let (got, _, _) = out.planes();
    let middle = (camera.height as usize * 6 / 10) * w + w / 2;
    if cam.get(middle) != got.get(middle) {
        return Err(format!(
            "the person changed ({}x{} mask)",
            mask.width(),
            mask.height()
        ));
    }
    let corner = 8 * w..9 * w;
    if cam.get(corner.clone()) == got.get(corner) {
        return Err(format!(
            "the background did not change ({}x{} mask)",
            mask.width(),
            mask.height()
        ));
    }
    Ok(())
}

pub fn main(args: impl Iterator<Item = String>) -> ExitCode {
    let args = Args::parse_from(args);
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("salon-bench composite: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.frames == 0 {
        return Err("--frames must be at least 1".into());
    }
    let (w, h) = args.size;
    let mut pattern = TestPattern::new(w, h).map_err(|e| e.to_string())?;
    let frames: Vec<I420Frame> = (0..30u64).map(|i| pattern.next_frame(i * 33_333)).collect();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "salon-bench composite: {w}x{h} frames, {} timed per row, one thread; load average {}",
        args.frames,
        loadavg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<9} {:>9} {:>9} {:>9} {:>9} {:>12} {:>14}",
        "mode", "mask", "mean ms", "p50 ms", "p99 ms", "cpu ms/frame", "run-queue wait"
    );
    let backgrounds = [
        ("blur", Background::Blur),
        ("replace", Background::Replace(picture()?)),
    ];
    for (name, background) in &backgrounds {
        for &(mw, mh) in &args.masks {
            let mask = person_mask(mw, mh)?;
            let f = measure(background, &frames, &mask, args.frames, args.check)?;
            println!(
                "{:<9} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>12.2} {:>11.0} ms",
                name,
                format!("{mw}x{mh}"),
                f.mean_ms,
                f.p50_ms,
                f.p99_ms,
                f.cpu_ms / args.frames as f64,
                f.runq_wait_ms
            );
        }
    }
    if args.check {
        println!("check: every frame kept the person and changed the background");
    }
    Ok(())
}
