//! The FPN top-down pathway of the authors' `modeling/fpn.py::fpn_module`.
//!
//! p5 = toplayer(c5); p4 = up(p5) + latlayer1(c4); p3 = up(p4) + latlayer2(c3);
//! p2 = up(p3) + latlayer3(c2) (1x1 convs to 256 channels, bilinear
//! up-sampling to the lateral's size); each level then goes through two 3x3
//! convs (256 -> 256 -> 128), the four results are up-sampled to p2's size
//! and concatenated [p5, p4, p3, p2] (512 channels), and a 3x3 conv gives the
//! class logits. No activation and no normalisation anywhere in the head, as
//! in the authors' code. Every conv is initialised N(0, 0.01) with bias 0
//! (the authors' `nn.init.normal_(m.weight, 0, 0.01)`), from a seed.

use candle_core::{DType, Device, Result, Tensor};

use crate::train::rng::Rng;
use super::layers::{Conv, Padding};
use super::resize::resize_bilinear;

/// Channels of the top-down pathway and of each smoothed level.
pub const PYRAMID_CHANNELS: usize = 256;
pub const SMOOTH_CHANNELS: usize = 128;
/// Standard deviation of the head's initial weights.
pub const INIT_STD: f64 = 0.01;

pub struct FpnHead {
    /// toplayer (c5), latlayer1 (c4), latlayer2 (c3), latlayer3 (c2).
    top: Conv,
    lateral: [Conv; 3],
    /// smooth{1..4}_{1,2}: levels p5, p4, p3, p2.
    smooth: [[Conv; 2]; 4],
    classify: Conv,
}

impl FpnHead {
    /// `in_channels` of the backbone levels `[c2, c3, c4, c5]`.
    pub fn new(in_channels: [usize; 4], classes: usize, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        let mut rng = Rng::new(seed);
        let mut conv = |cin: usize, cout: usize, k: usize| -> Result<Conv> {
            Ok(Conv {
                weight: rng.tensor(&[cout, cin, k, k], INIT_STD, dtype, device)?,
                bias: Some(Tensor::zeros(cout, dtype, device)?),
                stride: 1,
                padding: Padding::Symmetric(k / 2),
                groups: 1,
            })
        };
        let [c2, c3, c4, c5] = in_channels;
        let (p, s) = (PYRAMID_CHANNELS, SMOOTH_CHANNELS);
        // The authors' module registration order: toplayer, smooth*_1,
        // smooth*_2, latlayer1..3, classify.
        let top = conv(c5, p, 1)?;
        let first: Vec<Conv> = (0..4).map(|_| conv(p, p, 3)).collect::<Result<_>>()?;
        let second: Vec<Conv> = (0..4).map(|_| conv(p, s, 3)).collect::<Result<_>>()?;
        let lateral = [conv(c4, p, 1)?, conv(c3, p, 1)?, conv(c2, p, 1)?];
        let classify = conv(4 * s, classes, 3)?;
        let mut pairs = first.into_iter().zip(second).map(|(a, b)| [a, b]);
        let smooth = [(); 4].map(|_| pairs.next().expect("four levels"));
        Ok(FpnHead { top, lateral, smooth, classify })
    }

    /// The head's parameters under the authors' names (`toplayer.weight`,
    /// `smooth1_1.bias`, `latlayer3.weight`, `classify.weight`, ...).
    pub fn tensors(&self) -> Vec<(String, Tensor)> {
        let mut named: Vec<(String, &Conv)> = vec![("toplayer".into(), &self.top)];
        for (i, c) in self.lateral.iter().enumerate() {
            named.push((format!("latlayer{}", i + 1), c));
        }
        for (i, [a, b]) in self.smooth.iter().enumerate() {
            named.push((format!("smooth{}_1", i + 1), a));
            named.push((format!("smooth{}_2", i + 1), b));
        }
        named.push(("classify".into(), &self.classify));
        let mut out = Vec::with_capacity(2 * named.len());
        for (name, c) in named {
            out.push((format!("{name}.weight"), c.weight.clone()));
            if let Some(b) = &c.bias {
                out.push((format!("{name}.bias"), b.clone()));
            }
        }
        out
    }

    /// Logits at c2's resolution from the levels `[c2, c3, c4, c5]`.
    pub fn forward(&self, levels: &[Tensor; 4]) -> Result<Tensor> {
        let [c2, c3, c4, c5] = levels;
        let upsample_add = |top: &Tensor, lateral: Tensor| -> Result<Tensor> {
            let (_, _, h, w) = lateral.dims4()?;
            resize_bilinear(top, h, w)? + lateral
        };
        let p5 = self.top.forward(c5)?;
        let p4 = upsample_add(&p5, self.lateral[0].forward(c4)?)?;
        let p3 = upsample_add(&p4, self.lateral[1].forward(c3)?)?;
        let p2 = upsample_add(&p3, self.lateral[2].forward(c2)?)?;
        let (_, _, h, w) = p2.dims4()?;
        let mut smoothed = Vec::with_capacity(4);
        for (p, [a, b]) in [p5, p4, p3, p2].iter().zip(&self.smooth) {
            smoothed.push(resize_bilinear(&b.forward(&a.forward(p)?)?, h, w)?);
        }
        self.classify.forward(&Tensor::cat(&smoothed, 1)?)
    }
}
