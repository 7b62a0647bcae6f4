//! The SGZ model: EFE + RIE as candle modules, and its weights.

pub mod efe;
pub mod rie;
pub mod weights;

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

pub use efe::{DepthwiseSeparable, Efe, EfeBuffers, FusedEfe};
pub use rie::rie;
pub use weights::{EFE_LAYERS, EfeWeights, LayerNorm, expected_tensors};

use crate::ops::resample::{bilinear_matrix, low_res_size};

/// The weights compiled into the library: our own trained model,
/// `models/lowlight-sgz.safetensors` (see `models/MODEL_CARD.md`).
pub const DEFAULT_MODEL: Option<&[u8]> = Some(include_bytes!("../../models/lowlight-sgz.safetensors"));

/// Every tensor of one forward pass of the tensor path.
#[derive(Debug, Clone)]
pub struct SgzOutput {
    /// The EFE input (`[N, 3, h, w]`; the image itself when s = 1).
    pub input_down: Tensor,
    /// The EFE output at low resolution.
    pub factor_low: Tensor,
    /// The factor map at full resolution.
    pub factor: Tensor,
    pub enhanced: Tensor,
}

/// EFE + RIE.
#[derive(Debug, Clone)]
pub struct Sgz {
    efe: Efe,
}

impl Sgz {
    /// Loads weights from a safetensors file onto the CPU.
    pub fn load(path: impl AsRef<Path>) -> crate::Result<Self> {
        Self::from_weights(&EfeWeights::from_file(path)?, &Device::Cpu)
    }

    /// The embedded default model, or an error saying how to pass one.
    pub fn embedded_default() -> crate::Result<Self> {
        match DEFAULT_MODEL {
            Some(bytes) => Self::from_weights(&EfeWeights::from_bytes(bytes, "<embedded default model>")?, &Device::Cpu),
            None => Err(crate::Error::Options(
                "this build has no embedded default model yet: pass a weights file (--model FILE)".into(),
            )),
        }
    }

    pub fn from_weights(weights: &EfeWeights, device: &Device) -> crate::Result<Self> {
        let vb = VarBuilder::from_tensors(weights.to_tensors(device)?, DType::F32, device);
        Ok(Self::new(vb)?)
    }

    /// Builds the model from a `VarBuilder` (a `VarMap` when training).
    pub fn new(vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self { efe: Efe::new(vb)? })
    }

    pub fn efe(&self) -> &Efe {
        &self.efe
    }

    /// The whole model on a batch `[N, 3, H, W]` in 0..1, differentiable.
    ///
    /// With `scale_factor` s > 1 the EFE runs on a `ceil(H/s) x ceil(W/s)`
    /// grid (bilinear down, `align_corners = false`) and its output is
    /// up-sampled back to `H x W` (bilinear, `align_corners = true`).
    pub fn forward(&self, x: &Tensor, scale_factor: usize, iterations: usize) -> candle_core::Result<SgzOutput> {
        let (_, _, height, width) = x.dims4()?;
        let (input_down, factor_low, factor) = if scale_factor > 1 {
            let (h, w) = low_res_size(height, width, scale_factor);
            let down = resize(x, h, w, false)?;
            let factor_low = self.efe.forward(&down)?;
            let factor = resize(&factor_low, height, width, true)?;
            (down, factor_low, factor)
        } else {
            let r = self.efe.forward(x)?;
            (x.clone(), r.clone(), r)
        };
        let enhanced = rie(x, &factor, iterations)?;
        Ok(SgzOutput { input_down, factor_low, factor, enhanced })
    }
}

/// Bilinear resize of `[N, C, H, W]` to `[N, C, h, w]` as two matrix products.
pub fn resize(x: &Tensor, h: usize, w: usize, align_corners: bool) -> candle_core::Result<Tensor> {
    let (_, _, height, width) = x.dims4()?;
    let my = Tensor::from_vec(bilinear_matrix(height, h, align_corners), (h, height), x.device())?;
    let mx = Tensor::from_vec(bilinear_matrix(width, w, align_corners), (w, width), x.device())?.t()?;
    my.to_dtype(x.dtype())?.broadcast_matmul(x)?.broadcast_matmul(&mx.to_dtype(x.dtype())?)
}
