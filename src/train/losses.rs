//! The four zero-reference losses of SGZ, as the authors coded them
//! (`Myloss.py`; see `../shared/reference/sgz/README.md`, "Loss cases").
//!
//! Every function takes `[N, C, H, W]` tensors and returns a scalar (shape
//! `[]`) in the input's dtype. Internally they run in f64: candle sums
//! sequentially, and long f32 sums drift further from PyTorch's pairwise sums
//! than the reference tolerances allow.

use candle_core::{D, DType, Result, Tensor};

/// Runs `f` on `x` converted to f64 and converts the result back.
fn in_f64(x: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<Tensor> {
    f(&x.to_dtype(DType::F64)?)?.to_dtype(x.dtype())
}

/// `[N, C, H, W]` -> `[N, 1, H, W]`.
fn channel_mean(x: &Tensor) -> Result<Tensor> {
    x.mean_keepdim(1)
}

/// `nn.AvgPool2d(k)`: non-overlapping k x k means, trailing rows and columns
/// dropped (floor). Built from reshapes because candle's `avg_pool2d`
/// backward assumes the size divides evenly.
pub fn avg_pool_floor(x: &Tensor, k: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (ph, pw) = (h / k, w / k);
    x.narrow(2, 0, ph * k)?
        .narrow(3, 0, pw * k)?
        .reshape((n, c, ph, k, pw, k))?
        .sum(5)?
        .sum(3)?
        / (k * k) as f64
}

/// `L_TV(A)`: `2 * (sum dy^2 / ((H-1) W) + sum dx^2 / (H (W-1))) / N`.
/// A direction with a single row (column) contributes 0 (the authors' code
/// divides 0 by 0 there).
pub fn tv_loss(a: &Tensor) -> Result<Tensor> {
    in_f64(a, |a| {
        let (n, _, h, w) = a.dims4()?;
        let term = |dim: usize, len: usize, count: usize| -> Result<Tensor> {
            if len < 2 {
                return Tensor::zeros((), DType::F64, a.device());
            }
            let d = (a.narrow(dim, 1, len - 1)? - a.narrow(dim, 0, len - 1)?)?;
            d.sqr()?.sum_all()? / count as f64
        };
        let h_tv = term(2, h, (h.max(1) - 1) * w)?;
        let w_tv = term(3, w, h * (w.max(1) - 1))?;
        (h_tv + w_tv)? * (2.0 / n as f64)
    })
}

/// Neighbour offsets (dy, dx) of `L_spa8` in the authors' order: left, right,
/// up, down, then the four diagonals.
const NEIGHBOURS: [(isize, isize); 8] = [(0, -1), (0, 1), (-1, 0), (1, 0), (-1, -1), (-1, 1), (1, -1), (1, 1)];

/// `P(i, j) - P(i + dy, j + dx)` for each neighbour, zero outside the map
/// (the authors' 3x3 difference kernels with padding 1).
fn neighbour_differences(p: &Tensor) -> Result<Vec<Tensor>> {
    let (_, _, h, w) = p.dims4()?;
    let padded = p.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    NEIGHBOURS
        .iter()
        .map(|&(dy, dx)| {
            let shifted = padded.narrow(2, (1 + dy) as usize, h)?.narrow(3, (1 + dx) as usize, w)?;
            p - shifted
        })
        .collect()
}

/// Per-position `L_spa8` map `E` `[N, 1, H/patch, W/patch]`: channel means,
/// `patch` x `patch` average pooling, then the squared change of the 8
/// neighbour differences, diagonals weighted 0.5. Symmetric in its arguments.
pub fn spatial_consistency_map(enhanced: &Tensor, low: &Tensor, patch: usize) -> Result<Tensor> {
    let dtype = enhanced.dtype();
    let pooled = |x: &Tensor| avg_pool_floor(&channel_mean(&x.to_dtype(DType::F64)?)?, patch);
    let d_enh = neighbour_differences(&pooled(enhanced)?)?;
    let d_low = neighbour_differences(&pooled(low)?)?;
    let sq: Vec<Tensor> = d_low.iter().zip(&d_enh).map(|(a, b)| (a - b)?.sqr()).collect::<Result<_>>()?;
    let straight = (((&sq[0] + &sq[1])? + &sq[2])? + &sq[3])?;
    let diagonal = (((&sq[4] + &sq[5])? + &sq[6])? + &sq[7])?;
    (straight + (diagonal * 0.5)?)?.to_dtype(dtype)
}

/// `mean(L_spa8(enhanced, low))` with patch 4 (the authors' setting).
pub fn spatial_consistency_loss(enhanced: &Tensor, low: &Tensor) -> Result<Tensor> {
    spatial_consistency_map(enhanced, low, 4)?.mean_all()
}

/// Per-image `L_color` value `k` `[N, 1, 1, 1]`:
/// `sqrt(Drg^2 + Drb^2 + Dgb^2)` of the squared channel-mean differences.
pub fn color_k(x: &Tensor) -> Result<Tensor> {
    in_f64(x, |x| {
        let mean = x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
        let (r, g, b) = (mean.narrow(1, 0, 1)?, mean.narrow(1, 1, 1)?, mean.narrow(1, 2, 1)?);
        let drg = (&r - &g)?.sqr()?;
        let drb = (&r - &b)?.sqr()?;
        let dgb = (&b - &g)?.sqr()?;
        let s = ((drg.sqr()? + drb.sqr()?)? + dgb.sqr()?)?;
        // sqrt has an infinite derivative at 0 (a grey image): add 1 under the
        // root and subtract sqrt(1) where s == 0, which keeps the value exactly
        // 0 and makes the gradient there finite (it is 0, as ds/dmean is).
        let zero = s.detach().eq(0.0)?.to_dtype(DType::F64)?;
        (s + &zero)?.sqrt()? - zero
    })
}

/// `mean(L_color(x))` (eps = 0, as the authors coded it).
pub fn color_loss(x: &Tensor) -> Result<Tensor> {
    color_k(x)?.mean_all()
}

/// `L_exp(patch)(x, e)`: channel means, `patch` x `patch` average pooling,
/// mean squared distance to the exposure level `e` (authors: 16, 0.6).
pub fn exposure_loss(x: &Tensor, patch: usize, e: f64) -> Result<Tensor> {
    in_f64(x, |x| (avg_pool_floor(&channel_mean(x)?, patch)? - e)?.sqr()?.mean_all())
}
