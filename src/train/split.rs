//! A validation split that holds out whole same-scene runs.
//!
//! SICE Part 1 stores each scene as consecutive files at different
//! exposures. Consecutive images belong to one run while their
//! exposure-invariant thumbnails (32x32 grey, each normalised to zero mean
//! and unit variance) correlate above a threshold.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use super::rng::Rng;

const THUMB: u32 = 32;

/// A normalised grey thumbnail (zero mean, unit variance).
fn thumbnail(path: &Path) -> Result<Vec<f64>> {
    let img = image::open(path).with_context(|| format!("{}: cannot decode", path.display()))?;
    let small = img.resize_exact(THUMB, THUMB, image::imageops::FilterType::Triangle).to_luma32f();
    let v: Vec<f64> = small.into_raw().into_iter().map(f64::from).collect();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    let sd = var.sqrt().max(1e-6);
    Ok(v.into_iter().map(|x| (x - mean) / sd).collect())
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / a.len() as f64
}

/// `files` (in order) cut into runs of consecutive similar images.
pub fn scene_runs(files: &[PathBuf], threshold: f64) -> Result<Vec<Vec<PathBuf>>> {
    let thumbs: Vec<Vec<f64>> = files.par_iter().map(|f| thumbnail(f)).collect::<Result<_>>()?;
    let mut runs: Vec<Vec<PathBuf>> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 && correlation(&thumbs[i - 1], &thumbs[i]) >= threshold {
            runs.last_mut().expect("a run exists after the first image").push(f.clone());
        } else {
            runs.push(vec![f.clone()]);
        }
    }
    Ok(runs)
}

/// Whole runs picked in a seeded random order until they hold at least
/// `fraction` of the images.
pub fn hold_out(runs: &[Vec<PathBuf>], fraction: f64, seed: u64) -> Vec<PathBuf> {
    let total: usize = runs.iter().map(Vec::len).sum();
    let mut order: Vec<usize> = (0..runs.len()).collect();
    Rng::derive(&[seed, 0x5b117]).shuffle(&mut order);
    let mut picked = Vec::new();
    for i in order {
        if picked.len() as f64 >= fraction * total as f64 {
            break;
        }
        picked.extend(runs[i].iter().cloned());
    }
    picked
}
