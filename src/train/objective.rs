//! The weighted training objective: `tv*L_tv + spa*L_spa + color*L_color +
//! exposure*L_exp + semantic*L_sem`.

use candle_core::{Result, Tensor};

use super::losses::{color_loss, exposure_loss, spatial_consistency_loss, tv_loss};

/// Patch size and level of the exposure loss (authors: `L_exp(16)`, E = 0.6).
pub const EXPOSURE_PATCH: usize = 16;
pub const EXPOSURE_LEVEL: f64 = 0.6;

/// Loss weights; the default is the authors' `train.py`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    pub tv: f64,
    pub spa: f64,
    pub color: f64,
    pub exposure: f64,
    pub semantic: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self { tv: 1600.0, spa: 1.0, color: 5.0, exposure: 10.0, semantic: 0.1 }
    }
}

/// One value per loss term, scalar tensors; `semantic` is `None` when the
/// segmentation net is not used.
#[derive(Debug, Clone)]
pub struct LossTerms {
    pub tv: Tensor,
    pub spa: Tensor,
    pub color: Tensor,
    pub exposure: Tensor,
    pub semantic: Option<Tensor>,
}

impl LossTerms {
    /// The four zero-reference terms, unweighted. `factor` is the EFE output
    /// `A` at full resolution, `semantic` the (unweighted) focal loss if any.
    pub fn compute(low: &Tensor, enhanced: &Tensor, factor: &Tensor, semantic: Option<Tensor>) -> Result<Self> {
        Ok(Self {
            tv: tv_loss(factor)?,
            spa: spatial_consistency_loss(enhanced, low)?,
            color: color_loss(enhanced)?,
            exposure: exposure_loss(enhanced, EXPOSURE_PATCH, EXPOSURE_LEVEL)?,
            semantic,
        })
    }

    /// Each term times its weight.
    pub fn weighted(&self, w: &LossWeights) -> Result<Self> {
        Ok(Self {
            tv: (&self.tv * w.tv)?,
            spa: (&self.spa * w.spa)?,
            color: (&self.color * w.color)?,
            exposure: (&self.exposure * w.exposure)?,
            semantic: self.semantic.as_ref().map(|s| s * w.semantic).transpose()?,
        })
    }

    /// The sum of the terms, in the authors' order.
    pub fn sum(&self) -> Result<Tensor> {
        let total = (((&self.tv + &self.spa)? + &self.color)? + &self.exposure)?;
        match &self.semantic {
            Some(s) => total + s,
            None => Ok(total),
        }
    }

    /// `(name, value)` of every present term, for logging.
    pub fn to_vec(&self) -> Result<Vec<(&'static str, f64)>> {
        let scalar = |t: &Tensor| t.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>();
        let mut v = vec![
            ("tv", scalar(&self.tv)?),
            ("spa", scalar(&self.spa)?),
            ("color", scalar(&self.color)?),
            ("exposure", scalar(&self.exposure)?),
        ];
        if let Some(s) = &self.semantic {
            v.push(("semantic", scalar(s)?));
        }
        Ok(v)
    }
}

/// The objective of one batch: raw and weighted terms and the weighted total.
#[derive(Debug, Clone)]
pub struct Objective {
    pub raw: LossTerms,
    pub weighted: LossTerms,
    pub total: Tensor,
}

impl Objective {
    pub fn compute(
        low: &Tensor,
        enhanced: &Tensor,
        factor: &Tensor,
        semantic: Option<Tensor>,
        weights: &LossWeights,
    ) -> Result<Self> {
        let raw = LossTerms::compute(low, enhanced, factor, semantic)?;
        let weighted = raw.weighted(weights)?;
        let total = weighted.sum()?;
        Ok(Self { raw, weighted, total })
    }
}
