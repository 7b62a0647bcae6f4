//! `lowlight`: enhance dark images from the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use image::{DynamicImage, ImageFormat};
use indicatif::{ProgressBar, ProgressStyle};
use lowlight::{Enhancer, EnhancerOptions, FrameLayout, PixelFormat, Sgz};

#[derive(Parser)]
#[command(name = "lowlight", version, about = "Low-light image enhancement (SGZ)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enhance an image, or every image of a directory into another directory.
    Enhance(EnhanceArgs),
    /// Write a synthetic dark, noisy test image (a night street scene).
    Sample {
        /// Output image (PNG, JPEG or BMP).
        output: PathBuf,
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 360)]
        height: u32,
    },
}

#[derive(Args)]
struct EnhanceArgs {
    /// Weights (safetensors). Default: the model embedded in this build.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The EFE runs on a grid this many times smaller than the image.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=64))]
    scale_factor: u32,
    /// Curve steps.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=64))]
    iterations: u32,
    /// 0 keeps the image, 1 is the full model.
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Image file or directory of images.
    input: PathBuf,
    /// Image file (format from the extension) or directory.
    output: PathBuf,
}

const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lowlight: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Enhance(args) => enhance(args),
        Command::Sample { output, width, height } => {
            if width == 0 || height == 0 {
                bail!("sample size must be at least 1x1");
            }
            save_atomic(&DynamicImage::ImageRgb8(sample_image(width, height)), &output)
        }
    }
}

fn enhance(args: EnhanceArgs) -> Result<()> {
    let options = EnhancerOptions {
        scale_factor: args.scale_factor as usize,
        iterations: args.iterations as usize,
        strength: args.strength,
        threads: args.threads,
        ..Default::default()
    };
    options.validate()?;
    if !args.input.exists() {
        bail!("input {} does not exist", args.input.display());
    }
    if same_path(&args.input, &args.output) {
        bail!("output {} is the input; choose another path", args.output.display());
    }
    let model = match &args.model {
        Some(path) => Sgz::load(path)?,
        None => Sgz::embedded_default()?,
    };
    let mut enhancer = Enhancer::new(model, options)?;

    if args.input.is_dir() {
        let inputs = list_images(&args.input)?;
        if inputs.is_empty() {
            bail!("no PNG, JPEG or BMP images in {}", args.input.display());
        }
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("cannot create output directory {}", args.output.display()))?;
        let bar = ProgressBar::new(inputs.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} images {per_sec} eta {eta} {msg}")
                .expect("valid template"),
        );
        for input in &inputs {
            let output = args.output.join(input.file_name().expect("listed files have names"));
            bar.set_message(input.file_name().unwrap_or_default().to_string_lossy().into_owned());
            enhance_file(&mut enhancer, input, &output)?;
            bar.inc(1);
        }
        bar.finish_with_message("done");
        Ok(())
    } else {
        if args.output.is_dir() {
            bail!("output {} is a directory but the input is a file", args.output.display());
        }
        enhance_file(&mut enhancer, &args.input, &args.output)
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if path.is_file() && ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str())) {
            v.push(path);
        }
    }
    v.sort();
    Ok(v)
}

fn output_format(path: &Path) -> Result<ImageFormat> {
    match ImageFormat::from_path(path) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp)) => Ok(f),
        _ => bail!("output {}: the extension must be .png, .jpg, .jpeg or .bmp", path.display()),
    }
}

fn enhance_file(enhancer: &mut Enhancer, input: &Path, output: &Path) -> Result<()> {
    let format = output_format(output)?;
    let image = image::open(input).with_context(|| format!("cannot read image {}", input.display()))?;
    let keep_alpha = image.color().has_alpha() && format != ImageFormat::Jpeg;
    let enhanced = if keep_alpha {
        let mut rgba = image.to_rgba8();
        let layout = FrameLayout::packed(rgba.width() as usize, rgba.height() as usize, PixelFormat::Rgba);
        enhancer.enhance(&mut rgba, &layout)?;
        DynamicImage::ImageRgba8(rgba)
    } else {
        let mut rgb = image.to_rgb8();
        let layout = FrameLayout::packed(rgb.width() as usize, rgb.height() as usize, PixelFormat::Rgb);
        enhancer.enhance(&mut rgb, &layout)?;
        DynamicImage::ImageRgb8(rgb)
    };
    save_atomic(&enhanced, output)
}

/// Writes next to the destination, then renames: an interrupted run leaves
/// no half-written output.
fn save_atomic(image: &DynamicImage, output: &Path) -> Result<()> {
    let format = output_format(output)?;
    let name = output.file_name().context("output path has no file name")?.to_string_lossy();
    let tmp = output.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = image.save_with_format(&tmp, format);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", output.display()));
    }
    std::fs::rename(&tmp, output).with_context(|| format!("cannot write {}", output.display()))
}

/// A dark street at night: sky gradient, buildings with lit windows, a road,
/// street lights, all at a few percent of full scale with sensor noise.
fn sample_image(width: u32, height: u32) -> image::RgbImage {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let (w, h) = (width as f32, height as f32);
    image::RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / w, y as f32 / h);
        let mut c = [0.02 + 0.03 * (1.0 - v), 0.025 + 0.03 * (1.0 - v), 0.05 + 0.05 * (1.0 - v)];
        let building = ((u * 7.0).floor() * 0.37).fract() * 0.35 + 0.3;
        if v > 1.0 - building && v < 0.8 {
            c = [0.05, 0.045, 0.04];
            let (wx, wy) = ((u * 70.0).fract(), (v * 40.0).fract());
            let lit = (((u * 70.0).floor() * 12.9898 + (v * 40.0).floor() * 78.233).sin() * 43758.5).fract() > 0.6;
            if wx > 0.3 && wx < 0.7 && wy > 0.3 && wy < 0.7 && lit {
                c = [0.35, 0.28, 0.12];
            }
        }
        if v >= 0.8 {
            let lane = ((u - 0.5).abs() < 0.01 && (v * 20.0).fract() < 0.5) as u8 as f32;
            c = [0.04 + 0.2 * lane, 0.04 + 0.2 * lane, 0.045 + 0.15 * lane];
        }
        for lamp in [0.2f32, 0.5, 0.8] {
            let d = ((u - lamp) * w).hypot((v - 0.45) * h) / h;
            let glow = 0.25 * (-d * d * 200.0).exp();
            c[0] += glow;
            c[1] += glow * 0.8;
            c[2] += glow * 0.5;
        }
        image::Rgb(c.map(|v| ((v + 0.015 * noise()).clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}
