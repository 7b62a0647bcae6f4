//! Validation: the zero-reference loss (spatial consistency, colour,
//! exposure, TV; the semantic term needs a segmentation net and is left out)
//! of a model on whole images at scale factor s, the brightness of its
//! outputs, and side-by-side grids.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use image::RgbImage;

use super::{LossTerms, LossWeights};
use crate::Sgz;

/// One image's result.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageScore {
    pub file: PathBuf,
    /// Mean of the input (all channels, 0..1).
    pub input_mean: f64,
    /// Mean of the output.
    pub output_mean: f64,
    /// Weighted tv, spa, color, exposure and their sum.
    pub terms: [f64; 4],
    pub total: f64,
}

/// Means over a set of images.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub images: usize,
    pub terms: [f64; 4],
    pub total: f64,
    /// Mean output brightness over the darker half (by input mean).
    pub darker_half_output_mean: f64,
    pub darker_half_input_mean: f64,
}

/// An image file as `[1, 3, H, W]` in 0..1.
pub fn load_image(path: &Path) -> Result<Tensor> {
    let img = image::open(path).with_context(|| format!("{}: cannot decode image", path.display()))?.to_rgb8();
    Ok(rgb_to_tensor(&img)?)
}

pub fn rgb_to_tensor(img: &RgbImage) -> candle_core::Result<Tensor> {
    let (w, h) = img.dimensions();
    let v: Vec<f32> = img.as_raw().iter().map(|&b| b as f32 / 255.0).collect();
    Tensor::from_vec(v, (h as usize, w as usize, 3), &Device::Cpu)?.permute((2, 0, 1))?.unsqueeze(0)?.contiguous()
}

/// `[1, 3, H, W]` in 0..1 to 8 bits (`floor(x * 255 + 0.5)`, clamped).
pub fn tensor_to_rgb(t: &Tensor) -> candle_core::Result<RgbImage> {
    let (_, _, h, w) = t.dims4()?;
    let v: Vec<f32> = t.squeeze(0)?.permute((1, 2, 0))?.flatten_all()?.to_vec1()?;
    let bytes = v.iter().map(|x| (x.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u8).collect();
    Ok(RgbImage::from_raw(w as u32, h as u32, bytes).expect("sizes agree"))
}

fn mean(t: &Tensor) -> candle_core::Result<f64> {
    t.to_dtype(DType::F64)?.mean_all()?.to_scalar::<f64>()
}

/// Scores one image at scale factor `s` with 8 curve steps.
pub fn score(model: &Sgz, file: &Path, s: usize, weights: &LossWeights) -> Result<ImageScore> {
    let x = load_image(file)?;
    let out = model.forward(&x, s, 8)?;
    let terms = LossTerms::compute(&x, &out.enhanced, &out.factor, None)?.weighted(weights)?;
    let v = terms.to_vec()?;
    let t = [v[0].1, v[1].1, v[2].1, v[3].1];
    Ok(ImageScore {
        file: file.to_path_buf(),
        input_mean: mean(&x)?,
        output_mean: mean(&out.enhanced.clamp(0.0, 1.0)?)?,
        terms: t,
        total: t.iter().sum(),
    })
}

pub fn summarize(scores: &[ImageScore]) -> Summary {
    let n = scores.len().max(1) as f64;
    let mut terms = [0.0; 4];
    for s in scores {
        for (a, b) in terms.iter_mut().zip(s.terms) {
            *a += b / n;
        }
    }
    let mut by_input: Vec<&ImageScore> = scores.iter().collect();
    by_input.sort_by(|a, b| a.input_mean.total_cmp(&b.input_mean));
    let dark = &by_input[..by_input.len().div_ceil(2)];
    let dn = dark.len().max(1) as f64;
    Summary {
        images: scores.len(),
        terms,
        total: terms.iter().sum(),
        darker_half_output_mean: dark.iter().map(|s| s.output_mean).sum::<f64>() / dn,
        darker_half_input_mean: dark.iter().map(|s| s.input_mean).sum::<f64>() / dn,
    }
}

/// Rows of `[input | model 1 | model 2 | ...]`, each image scaled to `height`.
pub fn grid(models: &[&Sgz], files: &[PathBuf], s: usize, height: u32) -> Result<RgbImage> {
    let mut rows: Vec<Vec<RgbImage>> = Vec::new();
    for f in files {
        let x = load_image(f)?;
        let mut cells = vec![tensor_to_rgb(&x)?];
        for m in models {
            cells.push(tensor_to_rgb(&m.forward(&x, s, 8)?.enhanced)?);
        }
        let cells = cells
            .into_iter()
            .map(|c| {
                let w = (c.width() as f64 * height as f64 / c.height() as f64).round() as u32;
                image::imageops::resize(&c, w.max(1), height, image::imageops::FilterType::Triangle)
            })
            .collect();
        rows.push(cells);
    }
    let gap = 4;
    let width = rows.iter().map(|r| r.iter().map(|c| c.width() + gap).sum::<u32>()).max().unwrap_or(0);
    let mut out = RgbImage::from_pixel(width, rows.len() as u32 * (height + gap), image::Rgb([255, 255, 255]));
    for (i, row) in rows.iter().enumerate() {
        let mut x = 0;
        for c in row {
            image::imageops::replace(&mut out, c, x as i64, (i as u32 * (height + gap)) as i64);
            x += c.width() + gap;
        }
    }
    Ok(out)
}
