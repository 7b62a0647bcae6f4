//! A seeded random source for initialisation and data sampling (candle's
//! CPU `randn` cannot be seeded).
//! SplitMix64 for uniforms, Box-Muller for normals: same seed, same values,
//! on every machine.

use candle_core::{DType, Device, Result, Tensor};

#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A generator for one item of a stream, e.g. `(seed, step, image)`.
    pub fn derive(parts: &[u64]) -> Self {
        let mut r = Rng(0);
        for &p in parts {
            r.0 ^= p;
            r.0 = r.next_u64();
        }
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }

    /// A standard normal sample.
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A tensor of N(0, std^2) samples.
    pub fn tensor(&mut self, shape: &[usize], std: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        let n = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| self.normal() * std).collect();
        Tensor::from_vec(v, shape, device)?.to_dtype(dtype)
    }

    /// A tensor of samples uniform in `(-bound, bound)`.
    pub fn uniform_tensor(&mut self, shape: &[usize], bound: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        let n = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|_| (2.0 * self.uniform() - 1.0) * bound).collect();
        Tensor::from_vec(v, shape, device)?.to_dtype(dtype)
    }

    /// Shuffles `v` (Fisher-Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}
