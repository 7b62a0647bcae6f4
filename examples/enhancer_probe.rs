//! The whole CPU enhancer on a 1080p NV12 frame, as the element runs it
//! (all cores, temporal smoothing 0.7), with the calling thread busy for
//! SOURCE_MS between frames as a source would be: wall and CPU time per frame.
//! Every other frame is a little brighter, so the brightness lock works.
//! `[SMOOTHING=0.7] [OVERLAP=1] enhancer_probe [FRAMES] [SOURCE_MS]`
use std::time::{Duration, Instant};
use lowlight::frame::{YuvFormat, YuvLayout, YuvMatrix, YuvRange};
use lowlight::{EfeWeights, Enhancer, EnhancerOptions, Sgz};
fn cpu_ms() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) * 10.0
}
fn main() {
    let arg = |i: usize, d: f64| std::env::args().nth(i).map_or(d, |s| s.parse().unwrap());
    let (frames, source_ms) = (arg(1, 300.0) as usize, arg(2, 0.0));
    let smoothing = std::env::var("SMOOTHING").map_or(0.7, |s| s.parse().unwrap());
    let overlap_efe = std::env::var("OVERLAP").is_ok_and(|s| s == "1");
    let weights = EfeWeights::random(1, 1.0);
    let model = Sgz::from_weights(&weights, &candle_core::Device::Cpu).unwrap();
    let mut e = Enhancer::new(model, EnhancerOptions { temporal_smoothing: smoothing, overlap_efe, ..Default::default() }).unwrap();
    let (w, h) = (1920, 1080);
    let layout = YuvLayout { width: w, height: h, format: YuvFormat::Nv12, strides: [w, w, 0], matrix: YuvMatrix::Bt709, range: YuvRange::Limited };
    let src_y: Vec<u8> = (0..w * h).map(|i| (16 + (i * 7 + i / w * 3) % 50) as u8).collect();
    let src_uv: Vec<u8> = (0..w * h / 2).map(|i| (120 + i % 17) as u8).collect();
    // Every other frame a little brighter, as noise in real footage: the
    // brightness lock's gain is then not 1.
    let brighter: Vec<u8> = src_y.iter().map(|&v| v + 3).collect();
    let (mut y, mut uv) = (src_y.clone(), src_uv.clone());
    let (mut walls, mut efes, mut passes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut busy, c0, t0) = (Duration::ZERO, cpu_ms(), Instant::now());
    for i in 0..frames {
        let s = Instant::now();
        y.copy_from_slice(if i % 2 == 0 { &src_y } else { &brighter });
        uv.copy_from_slice(&src_uv);
        while s.elapsed().as_secs_f64() * 1e3 < source_ms {}
        busy += s.elapsed();
        let t = Instant::now();
        e.enhance_yuv([&mut y, &mut uv, &mut []], &layout).unwrap();
        if i >= 10 {
            walls.push(t.elapsed().as_secs_f64() * 1e3);
            let st = e.last_stage_times();
            efes.push(st.efe.as_secs_f64() * 1e3);
            passes.push(st.fused.as_secs_f64() * 1e3);
        }
    }
    let (cpu, total) = (cpu_ms() - c0, t0.elapsed().as_secs_f64() * 1e3);
    let median = |v: &mut Vec<f64>| { v.sort_by(f64::total_cmp); v[v.len() / 2] };
    println!("enhance_yuv median {:.3} ms min {:.3}; EFE median {:.3} ms; measurement and pass median {:.3} ms; CPU per frame outside the source {:.2} ms; total {:.2} ms/frame",
        median(&mut walls), walls[0], median(&mut efes), median(&mut passes), (cpu - busy.as_secs_f64() * 1e3) / frames as f64, total / frames as f64);
}
