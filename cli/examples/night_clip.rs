//! Makes a "real night clip" from still photos, for `lowlight flicker`:
//! a slow pan and zoom over each photo (a camera drifting over a dark
//! scene), with fresh sensor noise in every frame (shot noise that grows
//! with the light, plus read noise), encoded as `lowlight enhance` encodes.
//!
//! ```text
//! cargo run --release -p lowlight-cli --example night_clip -- OUT.mp4 PHOTO.jpg [PHOTO.jpg ...]
//!     [--frames 150] [--size 640x360] [--gain 1.0] [--pan 1.0] [--ramp 3.0]
//! cargo run --release -p lowlight-cli --example night_clip -- --darkest 10 DIR
//! ```
//!
//! Several photos follow each other with hard cuts. `--gain` scales the
//! light (below 1 darkens); `--pan` scales the camera's travel (0: a still
//! camera, only the noise changes); `--ramp X` ends each photo's segment
//! with a light that comes on to X times the light over 15 frames, which
//! no scene-cut test catches: the lag of temporal smoothing shows there.
//! `--darkest N DIR` lists the N darkest JPEG/PNG photos of DIR by mean luma.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::RgbImage;
use lowlight_cli::encode::VideoWriter;

struct Options {
    output: PathBuf,
    photos: Vec<PathBuf>,
    frames: usize,
    size: (usize, usize),
    gain: f32,
    pan: f32,
    /// Light at the end of each segment (1: no ramp).
    ramp: f32,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--darkest") {
        let n: usize = args.get(1).context("--darkest N DIR")?.parse()?;
        return darkest(Path::new(args.get(2).context("--darkest N DIR")?), n);
    }
    let options = parse(&args)?;
    let mut writer = VideoWriter::create(&options.output, options.size.0, options.size.1, 30)?;
    let mut noise = Noise(0x1234_5678_9abc_def1);
    for photo in &options.photos {
        let image = image::open(photo).with_context(|| format!("cannot read {}", photo.display()))?.to_rgb8();
        for t in 0..options.frames {
            let progress = t as f32 / (options.frames - 1).max(1) as f32;
            let light = ramp(t, options.frames, options.ramp);
            let frame = pan_zoom(&image, options.size, progress * options.pan);
            writer.push_rgb(&expose(&frame, options.gain * light, &mut noise))?;
        }
    }
    let frames = writer.finish()?;
    eprintln!("{}: {frames} frames", options.output.display());
    Ok(())
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        output: PathBuf::new(),
        photos: Vec::new(),
        frames: 150,
        size: (640, 360),
        gain: 1.0,
        pan: 1.0,
        ramp: 1.0,
    };
    let mut it = args.iter();
    let mut positional = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--frames" => o.frames = it.next().context("--frames N")?.parse()?,
            "--gain" => o.gain = it.next().context("--gain X")?.parse()?,
            "--pan" => o.pan = it.next().context("--pan X")?.parse()?,
            "--ramp" => o.ramp = it.next().context("--ramp X")?.parse()?,
            "--size" => {
                let s = it.next().context("--size WxH")?;
                let (w, h) = s.split_once('x').context("--size WxH")?;
                o.size = (w.parse()?, h.parse()?);
            }
            _ => positional.push(PathBuf::from(a)),
        }
    }
    if positional.len() < 2 || o.frames == 0 {
        bail!("usage: night_clip OUT.mp4 PHOTO... [--frames N] [--size WxH] [--gain X] [--pan X] [--ramp X]");
    }
    o.output = positional.remove(0);
    o.photos = positional;
    Ok(o)
}

/// The light over a segment: steady, then up to `to` over 15 frames, two thirds in.
fn ramp(t: usize, frames: usize, to: f32) -> f32 {
    let start = frames * 2 / 3;
    1.0 + (to - 1.0) * (t.saturating_sub(start) as f32 / 15.0).min(1.0)
}

/// The view at `progress` (0..1): a window of 85% down to 75% of the photo
/// that drifts from the top left to the bottom right, bilinearly resampled.
fn pan_zoom(image: &RgbImage, (w, h): (usize, usize), progress: f32) -> Vec<f32> {
    let (iw, ih) = (image.width() as f32, image.height() as f32);
    let scale = 0.85 - 0.10 * progress;
    // The window keeps the output's aspect ratio inside the photo.
    let (mut ww, mut wh) = (iw * scale, iw * scale * h as f32 / w as f32);
    if wh > ih * scale {
        (ww, wh) = (ih * scale * w as f32 / h as f32, ih * scale);
    }
    let (x0, y0) = ((iw - ww) * progress, (ih - wh) * progress);
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let sx = (x0 + (x as f32 + 0.5) * ww / w as f32 - 0.5).clamp(0.0, iw - 1.0);
            let sy = (y0 + (y as f32 + 0.5) * wh / h as f32 - 0.5).clamp(0.0, ih - 1.0);
            let (xa, ya) = (sx.floor() as u32, sy.floor() as u32);
            let (xb, yb) = ((xa + 1).min(image.width() - 1), (ya + 1).min(image.height() - 1));
            let (fx, fy) = (sx - xa as f32, sy - ya as f32);
            for c in 0..3 {
                let v = |x: u32, y: u32| image.get_pixel(x, y)[c] as f32 / 255.0;
                let top = v(xa, ya) * (1.0 - fx) + v(xb, ya) * fx;
                let bottom = v(xa, yb) * (1.0 - fx) + v(xb, yb) * fx;
                out.push(top * (1.0 - fy) + bottom * fy);
            }
        }
    }
    out
}

/// Scales the light of a frame (in linear light) and adds sensor noise:
/// shot noise of a sensor that collects 8000 electrons at full scale, and
/// read noise of 2.5 electrons; back to 8-bit sRGB-like values.
fn expose(frame: &[f32], gain: f32, noise: &mut Noise) -> Vec<u8> {
    const FULL_WELL: f32 = 8000.0;
    const READ_NOISE: f32 = 2.5;
    frame
        .iter()
        .map(|&v| {
            let electrons = v.powf(2.2) * gain * FULL_WELL;
            let sigma = (electrons.max(0.0) + READ_NOISE * READ_NOISE).sqrt();
            let linear = ((electrons + sigma * noise.gaussian()) / FULL_WELL).clamp(0.0, 1.0);
            (linear.powf(1.0 / 2.2) * 255.0).round() as u8
        })
        .collect()
}

/// xorshift64 with Gaussian samples (Box-Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    }

    fn gaussian(&mut self) -> f32 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// Prints the `n` darkest photos of `dir` with their mean luma.
fn darkest(dir: &Path, n: usize) -> Result<()> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if !lowlight_cli::media::is_image(&path) {
            continue;
        }
        let Ok(image) = image::open(&path) else { continue };
        let small = image.thumbnail(128, 128).to_rgb8();
        let mean = small.pixels().map(|p| lowlight::quality::luma(p[0], p[1], p[2])).sum::<f64>()
            / (small.width() * small.height()) as f64
            / 255.0;
        found.push((mean, path, image.width(), image.height()));
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (mean, path, w, h) in found.into_iter().take(n) {
        println!("{mean:.4} {w}x{h} {}", path.display());
    }
    Ok(())
}
