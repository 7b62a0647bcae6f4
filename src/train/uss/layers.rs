//! Frozen building blocks: convolution (symmetric or TensorFlow "SAME"
//! padding, groups), BatchNorm (running or batch statistics), ReLU6.
//!
//! Parameters come from a `VarBuilder` and are detached, so they are plain
//! tensors even when the builder is backed by a `VarMap` (random weights):
//! nothing here is ever a trainable variable.

use candle_core::{D, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::{BnMode, frozen};

/// Reads `name` and cuts it loose from any `Var` behind it.
pub fn frozen(vb: &VarBuilder, shape: &[usize], name: &str, init: Init) -> Result<Tensor> {
    Ok(vb.get_with_hints(shape, name, init)?.detach())
}

/// `[C]` -> `[1, C, 1, 1]`, to broadcast over NCHW.
fn per_channel(t: &Tensor) -> Result<Tensor> {
    t.reshape((1, t.elem_count(), 1, 1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// `p` zeros on every side (PyTorch `padding=p`).
    Symmetric(usize),
    /// TensorFlow "SAME": output `ceil(in / stride)`, the odd pad at the end
    /// (bottom, right), computed from each input's size.
    Same,
}

/// (before, after) padding of TensorFlow "SAME" for one dimension.
pub fn same_padding(input: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// A 2-D convolution with square kernel, OIHW weights.
pub struct Conv {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub stride: usize,
    pub padding: Padding,
    pub groups: usize,
}

impl Conv {
    /// Loads `{vb}.weight` `[cout, cin/groups, k, k]` (and `{vb}.bias` `[cout]`).
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        vb: &VarBuilder,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: Padding,
        groups: usize,
        bias: bool,
    ) -> Result<Self> {
        let weight = frozen(vb, &[cout, cin / groups, k, k], "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bias = if bias { Some(frozen(vb, &[cout], "bias", Init::Const(0.))?) } else { None };
        Ok(Conv { weight, bias, stride, padding, groups })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let k = self.weight.dim(2)?;
        let (_, c, h, w) = x.dims4()?;
        let ((top, bottom), (left, right)) = match self.padding {
            Padding::Symmetric(p) => ((p, p), (p, p)),
            Padding::Same => (same_padding(h, k, self.stride), same_padding(w, k, self.stride)),
        };
        let x = if top + bottom + left + right > 0 {
            x.pad_with_zeros(2, top, bottom)?.pad_with_zeros(3, left, right)?
        } else {
            x.clone()
        };
        let y = match self.groups {
            1 => frozen::conv2d(&x, &self.weight, self.stride)?,
            g if g == c && self.weight.dim(0)? == c => frozen::depthwise(&x, &self.weight, self.stride)?,
            g => candle_core::bail!("convolution with {g} groups over {c} channels is not supported"),
        };
        match &self.bias {
            Some(b) => y.broadcast_add(&per_channel(b)?),
            None => Ok(y),
        }
    }
}

/// BatchNorm2d over NCHW.
pub struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    /// `weight / sqrt(running_var + eps)` and `bias - running_mean * scale`.
    folded: Option<(Tensor, Tensor)>,
    eps: f64,
}

impl BatchNorm {
    /// Loads `{vb}.{weight,bias}` and, for running statistics,
    /// `{vb}.{running_mean,running_var}`, all `[c]`.
    pub fn load(vb: &VarBuilder, c: usize, eps: f64, mode: BnMode) -> Result<Self> {
        let weight = frozen(vb, &[c], "weight", Init::Const(1.))?;
        let bias = frozen(vb, &[c], "bias", Init::Const(0.))?;
        let folded = match mode {
            BnMode::BatchStats => None,
            BnMode::RunningStats => {
                let mean = frozen(vb, &[c], "running_mean", Init::Const(0.))?;
                let var = frozen(vb, &[c], "running_var", Init::Const(1.))?;
                let scale = (&weight / (var + eps)?.sqrt()?)?;
                let shift = (&bias - (mean * &scale)?)?;
                Some((per_channel(&scale)?, per_channel(&shift)?))
            }
        };
        Ok(BatchNorm { weight, bias, folded, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if let Some((scale, shift)) = &self.folded {
            return x.broadcast_mul(scale)?.broadcast_add(shift);
        }
        // Batch statistics over (N, H, W), biased variance, as PyTorch's
        // training mode; gradients flow through the statistics too.
        let mean_nhw = |t: &Tensor| t.mean_keepdim(0)?.mean_keepdim(2)?.mean_keepdim(3);
        let centered = x.broadcast_sub(&mean_nhw(x)?)?;
        let std = (mean_nhw(&centered.sqr()?)? + self.eps)?.sqrt()?;
        centered
            .broadcast_div(&std)?
            .broadcast_mul(&per_channel(&self.weight)?)?
            .broadcast_add(&per_channel(&self.bias)?)
    }
}

/// `min(max(x, 0), 6)`.
pub fn relu6(x: &Tensor) -> Result<Tensor> {
    x.relu()?.minimum(6.0)
}

/// Mean over H and W: `[N, C, H, W]` -> `[N, C]`.
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    x.mean(D::Minus1)?.mean(D::Minus1)
}
