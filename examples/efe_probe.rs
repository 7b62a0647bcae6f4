use std::time::Instant;
use lowlight::{EfeWeights, Sgz};
use lowlight::model::EfeBuffers;
fn main() {
    let m = Sgz::from_weights(&EfeWeights::random(1, 1.0), &candle_core::Device::Cpu).unwrap();
    let f = m.efe().fused().unwrap();
    let (h, w): (usize, usize) = (std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(90), std::env::args().nth(3).map(|s| s.parse().unwrap()).unwrap_or(160));
    let input: Vec<f32> = (0..3 * h * w).map(|i| (i % 97) as f32 / 97.0).collect();
    let mut b = EfeBuffers::default();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(1)).build().unwrap();
    pool.install(|| {
        for _ in 0..1 { f.run(&input, (h, w), &mut b).unwrap(); }
        let t = Instant::now();
        let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
        for _ in 0..n { f.run(&input, (h, w), &mut b).unwrap(); }
        println!("EFE {h}x{w}: {:.3} ms", t.elapsed().as_secs_f64() * 1e3 / n as f64);
    });
}
