//! The semantic loss: focal loss of the segmentation logits against their own
//! argmax (authors' `modeling/fpn.py::FocalLoss`, one-hot targets, mean).

use candle_core::{DType, Result, Tensor};

/// The probability floor and ceiling of the authors' `FocalLoss`.
pub const FOCAL_EPS: f64 = 1e-7;

/// `mean over N*H*W of -(1 - p)^gamma * ln p`, `p = softmax(logits, 1)`
/// gathered at `target` and clamped to `[1e-7, 1 - 1e-7]`.
///
/// `logits` `[N, K, H, W]`, `target` `[N, H, W]` class indices (u8, u32 or
/// i64). Differentiable in `logits`; computed in f64, returned in the logits'
/// dtype.
pub fn focal_loss(logits: &Tensor, target: &Tensor, gamma: f64) -> Result<Tensor> {
    let x = logits.to_dtype(DType::F64)?;
    // The max only stabilises the exponentials; softmax does not depend on it.
    let shifted = x.broadcast_sub(&x.max_keepdim(1)?.detach())?;
    let e = shifted.exp()?;
    let softmax = e.broadcast_div(&e.sum_keepdim(1)?)?;
    let p = softmax.gather(&target.unsqueeze(1)?.contiguous()?, 1)?;
    let p = p.clamp(FOCAL_EPS, 1.0 - FOCAL_EPS)?;
    let weight = (1.0 - &p)?.powf(gamma)?;
    (weight * p.log()?)?.neg()?.mean_all()?.to_dtype(logits.dtype())
}

/// The pseudo-labels of the semantic loss: the argmax over classes,
/// `[N, K, H, W]` -> `[N, H, W]` u32, outside the graph.
pub fn argmax_target(logits: &Tensor) -> Result<Tensor> {
    logits.detach().argmax(1)
}
