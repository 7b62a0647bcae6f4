//! Seeded normal initialisation (candle's CPU `randn` cannot be seeded).
//! SplitMix64 for uniforms, Box-Muller for normals: same seed, same values,
//! on every machine.

use candle_core::{DType, Device, Result, Tensor};

pub struct NormalRng(u64);

impl NormalRng {
    pub fn new(seed: u64) -> Self {
        NormalRng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
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
}
