//! Training images: JPEG/PNG folders decoded once (in parallel, off the
//! training thread) and resized, then batches of random crops and flips.
//!
//! A batch depends only on `(seed, step)`: the images of step t are
//! positions `t*B .. (t+1)*B` of a sequence of per-epoch permutations, and
//! each crop and flip comes from a generator derived from `(seed, step,
//! slot)`. Resuming at step t therefore needs no sampler state.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::{Context, Result, bail};
use candle_core::{Device, Tensor};
use image::RgbImage;
use image::imageops::FilterType;
use rayon::prelude::*;

use super::rng::Rng;

const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Image files (`.jpg`, `.jpeg`, `.png`) directly inside `dirs`, sorted by
/// name within each folder, minus those whose file name is in `exclude`.
pub fn list_images(dirs: &[PathBuf], exclude: &HashSet<String>) -> Result<Vec<PathBuf>> {
    let mut all = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir).with_context(|| format!("{}: cannot read folder", dir.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            })
            .filter(|p| !exclude.contains(&file_name(p)))
            .collect();
        files.sort_by(|a, b| natural_key(a).cmp(&natural_key(b)));
        all.extend(files);
    }
    Ok(all)
}

/// The file name of `p` as a string ("" if none).
pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Sorts `10.jpg` after `9.jpg`: (numeric prefix, name).
fn natural_key(p: &Path) -> (u64, String) {
    let name = file_name(p);
    let digits: String = name.chars().take_while(|c| c.is_ascii_digit()).collect();
    (digits.parse().unwrap_or(u64::MAX), name)
}

/// File names listed one per line (blank lines and `#` comments ignored).
pub fn read_name_list(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read list", path.display()))?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect())
}

/// Decoded training images, each resized so that its shorter side is `resize`.
pub struct Dataset {
    images: Vec<RgbImage>,
    files: Vec<PathBuf>,
    skipped: Vec<(PathBuf, String)>,
}

impl Dataset {
    /// Decodes and resizes `files` in parallel. Unreadable files are skipped
    /// and reported ([`Dataset::skipped`]); none usable is an error.
    pub fn load(files: &[PathBuf], resize: usize) -> Result<Self> {
        if resize == 0 {
            bail!("the resize size must be at least 1")
        }
        let decoded: Vec<(PathBuf, std::result::Result<RgbImage, String>)> = files
            .par_iter()
            .map(|f| (f.clone(), decode_resized(f, resize as u32)))
            .collect();
        let (mut images, mut kept, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
        for (file, result) in decoded {
            match result {
                Ok(img) => {
                    images.push(img);
                    kept.push(file);
                }
                Err(e) => skipped.push((file, e)),
            }
        }
        if images.is_empty() {
            bail!("no usable training image among {} file(s){}", files.len(), match skipped.first() {
                Some((f, e)) => format!(" (first failure: {}: {e})", f.display()),
                None => String::new(),
            })
        }
        Ok(Dataset { images, files: kept, skipped })
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Files that could not be decoded, with the reason.
    pub fn skipped(&self) -> &[(PathBuf, String)] {
        &self.skipped
    }

    /// The smallest side over all images (the largest possible crop).
    pub fn min_side(&self) -> usize {
        self.images.iter().map(|i| i.width().min(i.height()) as usize).min().unwrap_or(0)
    }

    /// Batch `step` as `[batch, 3, crop, crop]` in 0..1.
    pub fn batch(&self, sampling: &Sampling, step: u64) -> Result<Tensor> {
        let Sampling { seed, batch, crop, flips } = *sampling;
        let n = self.images.len() as u64;
        let mut data = Vec::with_capacity(batch * 3 * crop * crop);
        let mut perm: Option<(u64, Vec<usize>)> = None;
        for slot in 0..batch as u64 {
            let i = step * batch as u64 + slot;
            let epoch = i / n;
            if perm.as_ref().is_none_or(|(e, _)| *e != epoch) {
                let mut p: Vec<usize> = (0..n as usize).collect();
                Rng::derive(&[seed, 0x5EED_E90C, epoch]).shuffle(&mut p);
                perm = Some((epoch, p));
            }
            let img = &self.images[perm.as_ref().expect("set above").1[(i % n) as usize]];
            let mut rng = Rng::derive(&[seed, step, slot]);
            let (w, h) = (img.width() as usize, img.height() as usize);
            if w < crop || h < crop {
                bail!("crop {crop} is larger than an image of {w}x{h} after resizing")
            }
            let (x0, y0) = (rng.below(w - crop + 1), rng.below(h - crop + 1));
            let (flip_h, flip_v) = (flips && rng.below(2) == 1, flips && rng.below(2) == 1);
            let raw = img.as_raw();
            for c in 0..3 {
                for y in 0..crop {
                    let sy = y0 + if flip_v { crop - 1 - y } else { y };
                    for x in 0..crop {
                        let sx = x0 + if flip_h { crop - 1 - x } else { x };
                        data.push(raw[(sy * w + sx) * 3 + c] as f32 / 255.0);
                    }
                }
            }
        }
        Ok(Tensor::from_vec(data, (batch, 3, crop, crop), &Device::Cpu)?)
    }
}

fn decode_resized(file: &Path, resize: u32) -> std::result::Result<RgbImage, String> {
    let img = image::ImageReader::open(file)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?
        .to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err("empty image".into());
    }
    let scale = resize as f64 / w.min(h) as f64;
    let (nw, nh) = (((w as f64 * scale).round() as u32).max(resize), ((h as f64 * scale).round() as u32).max(resize));
    if (nw, nh) == (w, h) {
        return Ok(img);
    }
    Ok(image::imageops::resize(&img, nw, nh, FilterType::Triangle))
}

/// How batches are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    pub seed: u64,
    pub batch: usize,
    pub crop: usize,
    /// Random horizontal and vertical flips.
    pub flips: bool,
}

/// Assembles the batches of steps `start..end` on a background thread, two ahead.
pub struct Prefetcher {
    rx: Receiver<(u64, Result<Tensor>)>,
    _worker: std::thread::JoinHandle<()>,
}

impl Prefetcher {
    pub fn new(data: Arc<Dataset>, sampling: Sampling, start: u64, end: u64) -> Self {
        let (tx, rx): (SyncSender<_>, _) = sync_channel(2);
        let worker = std::thread::Builder::new()
            .name("lowlight-data".into())
            .spawn(move || {
                for step in start..end {
                    if tx.send((step, data.batch(&sampling, step))).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the data thread");
        Prefetcher { rx, _worker: worker }
    }

    /// The batch of `step` (steps come in order).
    pub fn next(&self, step: u64) -> Result<Tensor> {
        match self.rx.recv() {
            Ok((s, batch)) if s == step => batch,
            Ok((s, _)) => bail!("data thread sent step {s}, expected {step}"),
            Err(_) => bail!("the data thread stopped before step {step}"),
        }
    }
}
