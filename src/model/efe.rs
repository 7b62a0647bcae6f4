//! EFE, the enhancement factor extraction network: seven depthwise-separable
//! 3x3 convolutions with skip concatenations (paper Fig. 2, authors'
//! `enhance_net_nopool`).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::weights::EFE_LAYERS;
use crate::ops::depthwise3x3;

/// Depthwise 3x3 conv (bias) followed by a pointwise 1x1 conv (bias).
#[derive(Debug, Clone)]
pub struct DepthwiseSeparable {
    depth_weight: Tensor,
    depth_bias: Tensor,
    /// `[cout, cin]`: the 1x1 kernel as a matrix.
    point_weight: Tensor,
    point_bias: Tensor,
}

impl DepthwiseSeparable {
    pub fn new(vb: VarBuilder, cin: usize, cout: usize) -> Result<Self> {
        let dw = vb.pp("depth_conv");
        let pw = vb.pp("point_conv");
        Ok(Self {
            depth_weight: dw.get((cin, 1, 3, 3), "weight")?,
            depth_bias: dw.get(cin, "bias")?.reshape((1, cin, 1, 1))?,
            point_weight: pw.get((cout, cin, 1, 1), "weight")?.reshape((cout, cin))?,
            point_bias: pw.get(cout, "bias")?.reshape((1, cout, 1))?,
        })
    }
}

impl Module for DepthwiseSeparable {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, _, h, w) = x.dims4()?;
        let cout = self.point_weight.dim(0)?;
        let y = depthwise3x3(x, &self.depth_weight)?.broadcast_add(&self.depth_bias)?;
        let y = y.flatten_from(2)?;
        self.point_weight.broadcast_matmul(&y)?.broadcast_add(&self.point_bias)?.reshape((n, cout, h, w))
    }
}

/// The EFE network: image `[N, 3, H, W]` in 0..1 -> factor map `[N, 3, H, W]` in -1..1.
#[derive(Debug, Clone)]
pub struct Efe {
    convs: Vec<DepthwiseSeparable>,
}

impl Efe {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let convs = EFE_LAYERS
            .iter()
            .enumerate()
            .map(|(i, &(cin, cout))| DepthwiseSeparable::new(vb.pp(format!("e_conv{}", i + 1)), cin, cout))
            .collect::<Result<_>>()?;
        Ok(Self { convs })
    }

    /// The factor map and the seven pre-activation layer outputs.
    pub fn forward_with_intermediates(&self, x: &Tensor) -> Result<(Tensor, Vec<Tensor>)> {
        let mut pre = Vec::with_capacity(7);
        let mut layer = |i: usize, input: &Tensor| -> Result<Tensor> {
            let y = self.convs[i].forward(input)?;
            pre.push(y.clone());
            Ok(y)
        };
        let x1 = layer(0, x)?.relu()?;
        let x2 = layer(1, &x1)?.relu()?;
        let x3 = layer(2, &x2)?.relu()?;
        let x4 = layer(3, &x3)?.relu()?;
        let x5 = layer(4, &Tensor::cat(&[&x3, &x4], 1)?)?.relu()?;
        let x6 = layer(5, &Tensor::cat(&[&x2, &x5], 1)?)?.relu()?;
        let r = layer(6, &Tensor::cat(&[&x1, &x6], 1)?)?.tanh()?;
        Ok((r, pre))
    }
}

impl Module for Efe {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_with_intermediates(x)?.0)
    }
}
