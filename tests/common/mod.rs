//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{Device, Tensor};

/// `../shared/reference/sgz` beside the checkout, or `None` with a printed reason.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/sgz");
    if dir.join("weights.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is absent (the reference data lives in ../shared beside the checkout)", dir.display());
        None
    }
}

pub fn load_case(name: &str) -> Option<HashMap<String, Tensor>> {
    let dir = reference_dir()?;
    Some(candle_core::safetensors::load(dir.join(name), &Device::Cpu).expect("reference case loads"))
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

/// (largest difference, number of differing values) between two byte images.
pub fn u8_diff(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0, 0), |(m, n), (&x, &y)| (m.max(x.abs_diff(y)), n + (x != y) as usize))
}

/// The reference's tolerance for 8-bit outputs: at most 1 step, in at most 0.1% of values.
pub fn assert_u8_close(ours: &[u8], reference: &[u8], what: &str) {
    let (max, count) = u8_diff(ours, reference);
    eprintln!("{what}: max |diff| {max}, {count} of {} values differ", ours.len());
    assert!(max <= 1, "{what}: a value differs by {max}");
    assert!(count * 1000 <= ours.len(), "{what}: {count} of {} values differ", ours.len());
}

/// A deterministic pseudo-random image (xorshift), `w * h * channels` bytes.
pub fn noise_image(w: usize, h: usize, channels: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..w * h * channels)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Dark-ish values, as real input is.
            ((s >> 33) % 120) as u8
        })
        .collect()
}

/// A model with deterministic pseudo-random weights (no reference data needed),
/// scaled up from PyTorch's default init so that it changes images visibly.
pub fn synthetic_model(seed: u64) -> lowlight::Sgz {
    lowlight::Sgz::from_weights(&lowlight::EfeWeights::random(seed, 1.5), &Device::Cpu).unwrap()
}
