//! ResNet-50 (He et al. 2016) in torchvision's layout: `conv1`, `bn1`,
//! `layer{1..4}.{i}.{conv1,bn1,conv2,bn2,conv3,bn3,downsample.0,downsample.1}`
//! (Bottleneck blocks, stride on the 3x3 conv as torchvision does); `fc` is
//! not used. The four levels are the outputs of layer1..layer4.

use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::layers::{BatchNorm, Conv, Padding};
use super::{BnMode, UssError, pth};

/// Channels of layer1..layer4 (strides 4, 8, 16, 32).
pub const CHANNELS: [usize; 4] = [256, 512, 1024, 2048];
/// (blocks, bottleneck width, stride of the first block) of layer1..layer4.
const LAYERS: [(usize, usize, usize); 4] = [(3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)];
const EXPANSION: usize = 4;
const BN_EPS: f64 = 1e-5;

fn conv_bn(vb: &VarBuilder, i: usize, cin: usize, cout: usize, k: usize, stride: usize, bn: BnMode) -> Result<(Conv, BatchNorm)> {
    Ok((
        Conv::load(&vb.pp(format!("conv{i}")), cin, cout, k, stride, Padding::Symmetric(k / 2), 1, false)?,
        BatchNorm::load(&vb.pp(format!("bn{i}")), cout, BN_EPS, bn)?,
    ))
}

fn apply(layer: &(Conv, BatchNorm), x: &Tensor) -> Result<Tensor> {
    layer.1.forward(&layer.0.forward(x)?)
}

struct Bottleneck {
    convs: [(Conv, BatchNorm); 3],
    downsample: Option<(Conv, BatchNorm)>,
}

impl Bottleneck {
    fn load(vb: &VarBuilder, cin: usize, width: usize, stride: usize, bn: BnMode) -> Result<Self> {
        let cout = width * EXPANSION;
        let downsample = if stride != 1 || cin != cout {
            let d = vb.pp("downsample");
            Some((
                Conv::load(&d.pp("0"), cin, cout, 1, stride, Padding::Symmetric(0), 1, false)?,
                BatchNorm::load(&d.pp("1"), cout, BN_EPS, bn)?,
            ))
        } else {
            None
        };
        Ok(Bottleneck {
            convs: [
                conv_bn(vb, 1, cin, width, 1, 1, bn)?,
                conv_bn(vb, 2, width, width, 3, stride, bn)?,
                conv_bn(vb, 3, width, cout, 1, 1, bn)?,
            ],
            downsample,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = apply(&self.convs[0], x)?.relu()?;
        let y = apply(&self.convs[1], &y)?.relu()?;
        let y = apply(&self.convs[2], &y)?;
        let shortcut = match &self.downsample {
            Some(d) => apply(d, x)?,
            None => x.clone(),
        };
        (y + shortcut)?.relu()
    }
}

/// 3x3 max pooling, stride 2, padding 1, differentiable (candle's
/// `max_pool2d` has no backward pass when kernel != stride). Zero padding
/// equals PyTorch's -inf padding here because the input is a ReLU output.
fn max_pool_3x3_s2(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (oh, ow) = ((h - 1) / 2 + 1, (w - 1) / 2 + 1);
    let x = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let taps = |offset: usize, n: usize| Tensor::arange_step(offset as u32, (offset + 2 * n) as u32, 2, x.device());
    let mut out: Option<Tensor> = None;
    for i in 0..3 {
        let rows = x.index_select(&taps(i, oh)?, 2)?;
        for j in 0..3 {
            let v = rows.index_select(&taps(j, ow)?, 3)?;
            out = Some(match out {
                Some(m) => m.maximum(&v)?,
                None => v,
            });
        }
    }
    Ok(out.expect("nine taps"))
}

pub struct ResNet50 {
    stem: (Conv, BatchNorm),
    layers: Vec<Vec<Bottleneck>>,
}

impl ResNet50 {
    /// Loads a torchvision `resnet50` state dict (`.pth`, zip or legacy).
    /// No checksum: users bring their own file.
    pub fn load(path: &Path, device: &Device, bn: BnMode) -> std::result::Result<Self, UssError> {
        let bytes = pth::read_file(path)?;
        let tensors = pth::read_state_dict(path, &bytes, DType::F32, device)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Self::new(vb, bn).map_err(|reason| UssError::Weights { file: path.to_path_buf(), reason })
    }

    /// Builds the network from any `VarBuilder` with torchvision's names (a
    /// `VarMap` gives random weights: Kaiming-normal convs, BN 1/0).
    pub fn new(vb: VarBuilder, bn: BnMode) -> Result<Self> {
        let stem = (
            Conv::load(&vb.pp("conv1"), 3, 64, 7, 2, Padding::Symmetric(3), 1, false)?,
            BatchNorm::load(&vb.pp("bn1"), 64, BN_EPS, bn)?,
        );
        let mut cin = 64;
        let mut layers = Vec::with_capacity(4);
        for (l, &(blocks, width, stride)) in LAYERS.iter().enumerate() {
            let vb = vb.pp(format!("layer{}", l + 1));
            let mut layer = Vec::with_capacity(blocks);
            for b in 0..blocks {
                let s = if b == 0 { stride } else { 1 };
                layer.push(Bottleneck::load(&vb.pp(b.to_string()), cin, width, s, bn)?);
                cin = width * EXPANSION;
            }
            layers.push(layer);
        }
        Ok(ResNet50 { stem, layers })
    }

    pub(super) fn dtype_device(&self) -> (DType, Device) {
        (self.stem.0.weight.dtype(), self.stem.0.weight.device().clone())
    }

    /// The outputs of layer1..layer4 (strides 4, 8, 16, 32).
    pub fn features(&self, x: &Tensor) -> Result<[Tensor; 4]> {
        let mut y = max_pool_3x3_s2(&apply(&self.stem, x)?.relu()?)?;
        let mut levels = Vec::with_capacity(4);
        for layer in &self.layers {
            for block in layer {
                y = block.forward(&y)?;
            }
            levels.push(y.clone());
        }
        levels.try_into().map_err(|_| candle_core::Error::Msg("ResNet-50: missing level".into()))
    }
}
