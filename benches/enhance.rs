//! Core engine benchmark: ms per RGBx frame at 960x540, 1920x1080 and
//! 3840x2160, single- and multi-threaded, split into stages.
//!
//! `cargo bench --bench enhance [-- --frames N]`

use std::time::{Duration, Instant};

use lowlight::{EfeWeights, Enhancer, EnhancerOptions, FrameLayout, PixelFormat, Sgz, StageTimes};

const SIZES: [(usize, usize); 3] = [(960, 540), (1920, 1080), (3840, 2160)];

fn model() -> (Sgz, String) {
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/sgz/weights.safetensors");
    match Sgz::load(&reference) {
        Ok(m) => (m, "authors' weights (../shared/reference/sgz)".into()),
        Err(_) => {
            let w = EfeWeights::random(1, 1.0);
            (Sgz::from_weights(&w, &candle_core::Device::Cpu).unwrap(), "random weights".into())
        }
    }
}

/// A dark frame with structure, so the work is that of real footage.
fn frame(w: usize, h: usize) -> Vec<u8> {
    let mut v = vec![0u8; w * h * 4];
    for y in 0..h {
        for x in 0..w {
            let p = (y * w + x) * 4;
            v[p] = ((x * 7 + y * 3) % 60) as u8;
            v[p + 1] = ((x * 3 + y * 5) % 50) as u8;
            v[p + 2] = ((x + y * 11) % 40) as u8;
        }
    }
    v
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let frames = args
        .iter()
        .position(|a| a == "--frames")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(30usize);
    let only_threads: Option<usize> =
        args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1)).and_then(|n| n.parse().ok());
    let (model, what) = model();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("lowlight core engine, RGBx, scale factor 12, 8 iterations, {what}");
    println!("median of {frames} frames after 3 warm-up frames; {cores} cores available\n");
    println!(
        "| size      | threads | down-scale ms | EFE ms | fused pass ms | total ms |   fps |"
    );
    println!("|-----------|--------:|--------------:|-------:|--------------:|---------:|------:|");
    for (w, h) in SIZES {
        let source = frame(w, h);
        let layout = FrameLayout::packed(w, h, PixelFormat::Rgbx);
        let mut thread_counts = vec![1];
        if cores > 1 {
            thread_counts.push(cores);
        }
        if let Some(t) = only_threads {
            thread_counts = vec![t];
        }
        for threads in thread_counts {
            let options = EnhancerOptions { threads, ..Default::default() };
            let mut enhancer = Enhancer::new(model.clone(), options).expect("enhancer");
            let mut buf = source.clone();
            let (mut down, mut efe, mut fused, mut total) = (vec![], vec![], vec![], vec![]);
            for i in 0..frames + 3 {
                buf.copy_from_slice(&source);
                let t = Instant::now();
                enhancer.enhance(&mut buf, &layout).expect("enhance");
                let elapsed = t.elapsed();
                if i >= 3 {
                    let StageTimes { downscale, efe: e, fused: f } = enhancer.last_stage_times();
                    down.push(downscale);
                    efe.push(e);
                    fused.push(f);
                    total.push(elapsed);
                }
            }
            let t = median(total);
            println!(
                "| {:<9} | {threads:>7} | {:>13.2} | {:>6.2} | {:>13.2} | {t:>8.2} | {:>5.1} |",
                format!("{w}x{h}"),
                median(down),
                median(efe),
                median(fused),
                1e3 / t
            );
        }
    }
}
