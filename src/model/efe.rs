//! EFE, the enhancement factor extraction network: seven depthwise-separable
//! 3x3 convolutions with skip concatenations (paper Fig. 2, authors'
//! `enhance_net_nopool`).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::weights::EFE_LAYERS;
use crate::ops::depthwise3x3;
use crate::ops::dsc::{Activation, FusedDsc};

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

impl DepthwiseSeparable {
    /// The same layer as one fused inference op (no gradients).
    pub fn fused(&self, activation: Activation) -> Result<FusedDsc> {
        let v = |t: &Tensor| t.flatten_all()?.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>();
        let (cout, cin) = self.point_weight.dims2()?;
        FusedDsc::new(
            (cin, cout),
            v(&self.depth_weight)?,
            v(&self.depth_bias)?,
            &v(&self.point_weight)?,
            &v(&self.point_bias)?,
            activation,
        )
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

impl Efe {
    /// A snapshot of the weights as fused inference ops.
    pub fn fused(&self) -> Result<FusedEfe> {
        let layers = self
            .convs
            .iter()
            .enumerate()
            .map(|(i, c)| c.fused(if i == 6 { Activation::Tanh } else { Activation::Relu }))
            .collect::<Result<_>>()?;
        Ok(FusedEfe { layers })
    }
}

impl Module for Efe {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_with_intermediates(x)?.0)
    }
}

/// The EFE for inference on one image `[1, 3, h, w]`: each layer is one fused
/// op and the concatenations are never built. Same function as [`Efe`].
#[derive(Debug, Clone)]
pub struct FusedEfe {
    layers: Vec<FusedDsc>,
}

impl Module for FusedEfe {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let l = &self.layers;
        let x1 = l[0].forward(x)?;
        let x2 = l[1].forward(&x1)?;
        let x3 = l[2].forward(&x2)?;
        let x4 = l[3].forward(&x3)?;
        let x5 = l[4].forward_cat(&x3, &x4)?;
        let x6 = l[5].forward_cat(&x2, &x5)?;
        l[6].forward_cat(&x1, &x6)
    }
}

/// Activations of [`FusedEfe::run`], kept from frame to frame.
#[derive(Debug, Default)]
pub struct EfeBuffers {
    x: [Vec<f32>; 6],
    factor: Vec<f32>,
}

impl EfeBuffers {
    /// The factor map of the last [`FusedEfe::run`].
    pub fn factor(&self) -> &[f32] {
        &self.factor
    }
}

impl FusedEfe {
    /// The EFE on a planar `[3, h, w]` image into reused buffers; returns the
    /// factor map `[3, h, w]`. Same function as `forward`, with no allocation
    /// once the buffers have grown to the frame size.
    pub fn run<'a>(&self, input: &[f32], (h, w): (usize, usize), b: &'a mut EfeBuffers) -> Result<&'a [f32]> {
        let l = &self.layers;
        let plane = h * w;
        for x in b.x.iter_mut() {
            x.resize(32 * plane, 0.0);
        }
        b.factor.resize(3 * plane, 0.0);
        let [x1, x2, x3, x4, x5, x6] = &mut b.x;
        l[0].run_into(&[(input, 3)], h, w, x1)?;
        l[1].run_into(&[(x1, 32)], h, w, x2)?;
        l[2].run_into(&[(x2, 32)], h, w, x3)?;
        l[3].run_into(&[(x3, 32)], h, w, x4)?;
        l[4].run_into(&[(x3, 32), (x4, 32)], h, w, x5)?;
        l[5].run_into(&[(x2, 32), (x5, 32)], h, w, x6)?;
        l[6].run_into(&[(x1, 32), (x6, 32)], h, w, &mut b.factor)?;
        Ok(&b.factor)
    }
}
