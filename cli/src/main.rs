//! `lowlight`: enhance dark images and videos from the command line, and
//! measure how much an enhancement flickers.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};
use lowlight::EnhancerOptions;
use lowlight_cli::flicker::{self, Setting};
use lowlight_cli::video::VideoSettings;
use lowlight_cli::{images, interrupt, media, output, sample, video};

#[derive(Parser)]
#[command(name = "lowlight", version, about = "Low-light image and video enhancement (SGZ)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enhance an image, every image of a directory into another directory,
    /// or a video (.mp4, .mkv, .mov, .webm) into a new video.
    Enhance(EnhanceArgs),
    /// Measure flicker: the enhanced video's frame-to-frame luma steps over
    /// those of a fixed gamma curve of equal brightness (ratio <= 1 is as
    /// stable as a fixed curve). With ENHANCED, measures that file against
    /// INPUT; without, enhances INPUT with every combination of
    /// --smoothing and --interval and prints one row each.
    Flicker(FlickerArgs),
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

/// The model and its options, shared by `enhance` and `flicker`.
#[derive(Args)]
struct ModelArgs {
    /// Weights (safetensors). Default: the model embedded in this build.
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// The EFE runs on a grid this many times smaller than the image.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=64))]
    scale_factor: u32,
    /// Curve steps (videos: 1..=16).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=64))]
    iterations: u32,
    /// 0 keeps the image, 1 is the full model.
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct EnhanceArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Videos: weight 0..1 of the previous frames' curve (0 = every frame on
    /// its own, as the paper). Default: the element's.
    #[arg(long)]
    temporal_smoothing: Option<f32>,
    /// Videos: run the network every N frames. Default: the element's.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    factor_interval: Option<u32>,
    /// Image file, directory of images, or video file.
    input: PathBuf,
    /// Image file (format from the extension), directory, or video file
    /// (container from the extension: .mp4, .mkv, .mov, .webm).
    output: PathBuf,
}

#[derive(Args)]
struct FlickerArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Temporal smoothing values to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0,0.5,0.7,0.8,0.9")]
    smoothing: Vec<f32>,
    /// Factor intervals to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    interval: Vec<usize>,
    /// Enhance NV12 (BT.709) copies of the frames, as the element enhances
    /// decoded video, instead of RGBx.
    #[arg(long)]
    nv12: bool,
    /// Overlap the EFE with the next frame, as the element does by default
    /// (`overlap-efe`).
    #[arg(long)]
    overlap_efe: bool,
    /// The original (dark) video.
    input: PathBuf,
    /// An enhanced version of INPUT, same frames (e.g. from `lowlight enhance`).
    enhanced: Option<PathBuf>,
}

fn main() -> ExitCode {
    interrupt::install();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lowlight: {}", format!("{e:#}").replace('\n', " "));
            if interrupt::is_interrupted() { ExitCode::from(130) } else { ExitCode::FAILURE }
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Enhance(args) => enhance(args),
        Command::Flicker(args) => measure_flicker(args),
        Command::Sample { output, width, height } => {
            if width == 0 || height == 0 {
                bail!("sample size must be at least 1x1");
            }
            images::save_atomic(&image::DynamicImage::ImageRgb8(sample::sample_image(width, height)), &output)
        }
    }
}

impl ModelArgs {
    /// Per-image options: no state is carried from one image to the next.
    fn options(&self) -> EnhancerOptions {
        EnhancerOptions {
            scale_factor: self.scale_factor as usize,
            iterations: self.iterations as usize,
            strength: self.strength,
            threads: self.threads,
            temporal_smoothing: 0.0,
            factor_interval: 1,
            overlap_efe: false,
        }
    }

    fn load(&self) -> Result<lowlight::Sgz> {
        Ok(match &self.model {
            Some(path) => lowlight::Sgz::load(path)?,
            None => lowlight::Sgz::embedded_default()?,
        })
    }
}

fn enhance(args: EnhanceArgs) -> Result<()> {
    let options = EnhancerOptions {
        temporal_smoothing: args.temporal_smoothing.unwrap_or(0.0),
        factor_interval: args.factor_interval.unwrap_or(1) as usize,
        ..args.model.options()
    };
    options.validate()?;
    if !args.input.exists() {
        bail!("input {} does not exist", args.input.display());
    }
    output::refuse_input_as_output(&args.input, &args.output)?;
    if media::is_video(&args.input) {
        args.model.load()?;
        let settings = VideoSettings {
            model: args.model.model.clone(),
            scale_factor: args.model.scale_factor,
            iterations: args.model.iterations,
            strength: args.model.strength,
            threads: args.model.threads,
            temporal_smoothing: args.temporal_smoothing,
            factor_interval: args.factor_interval,
        };
        return video::reencode(&args.input, &args.output, &settings);
    }
    if media::is_video(&args.output) {
        bail!("output {} is a video but the input {} is not", args.output.display(), args.input.display());
    }
    if args.temporal_smoothing.is_some() || args.factor_interval.is_some() {
        bail!("--temporal-smoothing and --factor-interval apply to videos only");
    }
    let enhancer = lowlight::Enhancer::new(args.model.load()?, args.model.options())?;
    images::enhance_path(enhancer, &args.input, &args.output)
}

fn measure_flicker(args: FlickerArgs) -> Result<()> {
    args.model.options().validate()?;
    if !args.input.is_file() {
        bail!("input {} is not a file", args.input.display());
    }
    if let Some(enhanced) = &args.enhanced {
        if args.nv12 || args.overlap_efe {
            bail!("--nv12 and --overlap-efe apply when the command enhances INPUT itself, not with ENHANCED");
        }
        let report = flicker::measure_pair(&args.input, enhanced)?;
        print!("{}", flicker::pair_table(&report));
        return Ok(());
    }
    let settings = Setting::grid(&args.smoothing, &args.interval);
    let rows = flicker::measure_sweep(
        &args.input,
        &args.model.load()?,
        EnhancerOptions { overlap_efe: args.overlap_efe, ..args.model.options() },
        &settings,
        args.nv12,
    )?;
    print!("{}", flicker::sweep_table(&rows));
    Ok(())
}
