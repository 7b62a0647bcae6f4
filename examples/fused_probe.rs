//! Runs one frame pass on a 1920x1080 frame (or W H) a few times, for
//! instruction counts (callgrind) and timings of the kernels alone.
//!
//! `fused_probe PASS [THREADS] [REPEATS] [W H]`, PASS one of `rgbx`, `nv12`,
//! `i420`, `y444`, `rgb`, `down-rgbx`, `down-nv12`, or `enhancer-rgbx` /
//! `enhancer-nv12` (the whole enhancer with the authors' weights, timing its
//! fused stage; `SMOOTHING=0.7` sets its temporal smoothing). With `DUMP=path` the output bytes (or floats) of one pass
//! over a full-range frame are written there, to compare builds. For
//! instruction counts: `valgrind --tool=callgrind --toggle-collect='*enhance_*'
//! fused_probe rgbx 1 1` (valgrind runs the AVX2 kernels: it has no AVX-512).

use std::time::Instant;

use lowlight::frame::{FrameLayout, PixelFormat, YuvFormat, YuvLayout, YuvMatrix, YuvRange};
use lowlight::ops::fused::{FusedScratch, enhance_packed};
use lowlight::ops::resample::{downscale_packed, low_res_size};
use lowlight::ops::yuv::{YuvPlanes, YuvScratch, downscale_yuv, enhance_yuv};
use lowlight::{EfeWeights, Enhancer, EnhancerOptions, Sgz};

fn bytes(n: usize, seed: u64, full: bool) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            if full { (s >> 40) as u8 } else { ((i * 7 + (i / 1920) * 3 + seed as usize) % 60) as u8 }
        })
        .collect()
}

/// A smooth factor map in about -0.4..1, as the EFE gives.
fn factor_map(h: usize, w: usize) -> Vec<f32> {
    (0..3 * h * w)
        .map(|i| {
            let (c, y, x) = (i / (h * w), (i / w) % h, i % w);
            0.3 + 0.7 * ((x as f32 * 0.11 + y as f32 * 0.07 + c as f32).sin())
        })
        .collect()
}

/// Time this thread has run on a CPU (Linux schedstat), in ms: with one
/// worker thread, the pass's CPU time, less noisy than the wall clock on a
/// shared machine.
fn on_cpu_ms() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e6)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pass = args.get(1).map(String::as_str).unwrap_or("rgbx").to_string();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (threads, repeats, width, height) = (num(2, 1), num(3, 5), num(4, 1920), num(5, 1080));
    let dump = std::env::var("DUMP").ok();
    let (h, w) = low_res_size(height, width, 12);
    let factor = factor_map(h, w);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let yuv = |f| YuvLayout::packed(width, height, f, YuvMatrix::Bt709, YuvRange::Limited);
    let full = dump.is_some();
    let mut out_bytes: Vec<u8> = Vec::new();
    let mut low = vec![0f32; 3 * h * w];

    let mut run: Box<dyn FnMut() -> f64 + Send + '_> = match pass.as_str() {
        "rgbx" | "rgb" => {
            let format = if pass == "rgb" { PixelFormat::Rgb } else { PixelFormat::Rgbx };
            let layout = FrameLayout::packed(width, height, format);
            let src = bytes(layout.min_buffer_len(), 3, full);
            let mut frame = src.clone();
            let mut scratch = FusedScratch::default();
            let out = &mut out_bytes;
            Box::new(move || {
                frame.copy_from_slice(&src);
                let t = Instant::now();
                enhance_packed(&mut frame, &layout, &factor, (h, w), 8, 1.0, &mut scratch);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if full {
                    out.clone_from(&frame);
                }
                ms
            })
        }
        "nv12" | "i420" | "y444" => {
            let format = match pass.as_str() {
                "nv12" => YuvFormat::Nv12,
                "i420" => YuvFormat::I420,
                _ => YuvFormat::Y444,
            };
            let layout = yuv(format);
            let src: Vec<Vec<u8>> = (0..3).map(|i| bytes(layout.plane_min_len(i), 5 + i as u64, full)).collect();
            let src: Vec<Vec<u8>> = src
                .into_iter()
                .enumerate()
                .map(|(i, p)| {
                    if i == 0 {
                        p.iter().map(|&v| v.clamp(16, 235)).collect()
                    } else {
                        p.iter().map(|v| v.wrapping_add(100)).collect()
                    }
                })
                .collect();
            let mut planes = src.clone();
            let mut scratch = YuvScratch::default();
            let out = &mut out_bytes;
            Box::new(move || {
                planes.clone_from(&src);
                let [y, u, v] = &mut planes[..] else { unreachable!() };
                let t = Instant::now();
                enhance_yuv([y, u, v], &layout, &factor, (h, w), 8, 1.0, &mut scratch);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if full {
                    *out = planes.concat();
                }
                ms
            })
        }
        "down-rgbx" => {
            let layout = FrameLayout::packed(width, height, PixelFormat::Rgbx);
            let frame = bytes(layout.min_buffer_len(), 3, full);
            let (low, out) = (&mut low, &mut out_bytes);
            Box::new(move || {
                let t = Instant::now();
                downscale_packed(&frame, &layout, h, w, low);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if full {
                    *out = low.iter().flat_map(|v| v.to_le_bytes()).collect();
                }
                ms
            })
        }
        "down-nv12" => {
            let layout = yuv(YuvFormat::Nv12);
            let planes: Vec<Vec<u8>> = (0..3).map(|i| bytes(layout.plane_min_len(i), 5 + i as u64, full)).collect();
            let (low, out) = (&mut low, &mut out_bytes);
            Box::new(move || {
                let view = YuvPlanes { planes: [&planes[0], &planes[1], &planes[2]], layout: &layout };
                let t = Instant::now();
                downscale_yuv(view, h, w, low);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                if full {
                    *out = low.iter().flat_map(|v| v.to_le_bytes()).collect();
                }
                ms
            })
        }
        "enhancer-rgbx" | "enhancer-nv12" => {
            // The whole enhancer with the authors' weights, as benches/enhance.rs runs it;
            // the time is the fused stage's.
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/sgz/weights.safetensors");
            let weights = EfeWeights::from_file(path).unwrap_or_else(|_| EfeWeights::random(1, 1.0));
            let model = Sgz::from_weights(&weights, &candle_core::Device::Cpu).unwrap();
            let temporal_smoothing = std::env::var("SMOOTHING").map_or(0.0, |s| s.parse().expect("SMOOTHING: a number"));
            let options = EnhancerOptions { threads: 1, temporal_smoothing, ..Default::default() };
            let mut e = Enhancer::new(model, options).unwrap();
            let nv12 = pass == "enhancer-nv12";
            let yl = yuv(YuvFormat::Nv12);
            let pl = FrameLayout::packed(width, height, PixelFormat::Rgbx);
            let src: Vec<Vec<u8>> = if nv12 {
                vec![
                    bytes(width * height, 0, false).iter().map(|v| v + 16).collect(),
                    bytes(yl.plane_min_len(1), 1, false).iter().map(|v| v + 100).collect(),
                ]
            } else {
                vec![bytes(pl.min_buffer_len(), 0, false)]
            };
            let mut planes = src.clone();
            Box::new(move || {
                planes.clone_from(&src);
                if nv12 {
                    let [y, uv] = &mut planes[..] else { unreachable!() };
                    e.enhance_yuv([y, uv, &mut []], &yl).unwrap();
                } else {
                    e.enhance(&mut planes[0], &pl).unwrap();
                }
                e.last_stage_times().fused.as_secs_f64() * 1e3
            })
        }
        other => panic!("unknown pass {other}"),
    };
    let (mut times, mut cpu) = (Vec::new(), Vec::new());
    pool.install(|| {
        for _ in 0..repeats {
            let c = on_cpu_ms();
            times.push(run());
            cpu.push(on_cpu_ms() - c);
        }
    });
    drop(run);
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "{pass} {width}x{height} {threads} threads: median {:.3} ms, min {:.3} ms; 1-thread CPU time median {:.3} ms",
        times[times.len() / 2],
        times[0],
        cpu[cpu.len() / 2]
    );
    if let Some(path) = dump {
        std::fs::write(path, &out_bytes).unwrap();
    }
}
