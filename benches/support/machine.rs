//! What this machine can do at best, measured in the same run as the
//! benchmark: copy bandwidth and fused multiply-add rate, and from them the
//! floor of one frame (read and written once, or the curve's arithmetic,
//! whichever is slower). Shared by the core and the pipeline benchmarks.

use std::hint::black_box;
use std::time::Instant;

/// Multiply-adds per pixel of the curve: 8 steps x 3 channels x 2.
pub const CURVE_FMAS_PER_PIXEL: f64 = 48.0;

#[derive(Debug, Clone, Copy)]
pub struct Machine {
    pub threads: usize,
    /// Copy bandwidth in bytes per second, read + write counted.
    pub bandwidth: f64,
    /// Fused multiply-adds per second (AVX2+FMA when the CPU has it).
    pub fmas: f64,
}

impl Machine {
    pub fn measure(threads: usize) -> Self {
        Machine { threads, bandwidth: memory_bandwidth(threads), fmas: fma_rate(threads) }
    }

    /// ms for a frame of `pixels` with `bytes_per_pixel`: the frame read and
    /// written once, or the curve's arithmetic, whichever is slower.
    pub fn floor_ms(&self, pixels: f64, bytes_per_pixel: f64) -> f64 {
        (2.0 * pixels * bytes_per_pixel / self.bandwidth).max(pixels * CURVE_FMAS_PER_PIXEL / self.fmas) * 1e3
    }

    pub fn describe(&self) -> String {
        format!(
            "copy bandwidth {:.1} GB/s, {:.1} G fused multiply-adds/s ({} threads)",
            self.bandwidth / 1e9,
            self.fmas / 1e9,
            self.threads
        )
    }
}

fn memory_bandwidth(threads: usize) -> f64 {
    let n = 64 << 20;
    let src = vec![1u8; n];
    let mut dst = vec![0u8; n];
    let chunk = n.div_ceil(threads);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        std::thread::scope(|s| {
            for (d, c) in dst.chunks_mut(chunk).zip(src.chunks(chunk)) {
                s.spawn(move || d.copy_from_slice(c));
            }
        });
        best = best.min(t.elapsed().as_secs_f64());
        black_box(&dst);
    }
    2.0 * n as f64 / best
}

fn fma_rate(threads: usize) -> f64 {
    const ITERS: usize = 20_000_000;
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| black_box(fma_loop(black_box(0.999), ITERS)));
        }
    });
    (threads * ITERS * 64) as f64 / t.elapsed().as_secs_f64()
}

fn fma_loop(k: f32, iters: usize) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features.
        return unsafe { fma_loop_avx2(k, iters) };
    }
    fma_body(k, iters)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_loop_avx2(k: f32, iters: usize) -> f32 {
    fma_body(k, iters)
}

/// 64 independent multiply-add chains per iteration (8 AVX vectors).
#[inline(always)]
fn fma_body(k: f32, iters: usize) -> f32 {
    let mut acc = [0.5f32; 64];
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = a.mul_add(k, 0.001);
        }
    }
    acc.iter().sum()
}
