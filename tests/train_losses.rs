//! The SGZ losses against the authors' `Myloss.py` / `FocalLoss` values, and a
//! finite-difference check of the whole non-semantic loss graph.

mod common;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use lowlight::train::losses::{color_k, spatial_consistency_map};
use lowlight::train::{LossTerms, LossWeights, Objective, color_loss, focal_loss};
use lowlight::{EfeWeights, Sgz};

fn scalar(t: &Tensor) -> f64 {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()[0]
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().unwrap().flatten_all().unwrap().to_dtype(DType::F64).unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
}

/// Checks each `value.*` of a loss case; returns the largest relative error.
fn check_values(case: &HashMap<String, Tensor>, raw: &LossTerms, what: &str) -> f64 {
    let weighted = raw.weighted(&LossWeights::default()).unwrap();
    let ours = [
        ("tv_raw", &raw.tv, 1e-5),
        ("spa_raw", &raw.spa, 1e-5),
        ("color_raw", &raw.color, 1e-4),
        ("exp_raw", &raw.exposure, 1e-5),
        ("loss_tv", &weighted.tv, 1e-5),
        ("loss_spa", &weighted.spa, 1e-5),
        ("loss_col", &weighted.color, 1e-4),
        ("loss_exp", &weighted.exposure, 1e-5),
        ("total_without_seg", &weighted.sum().unwrap(), 1e-5),
    ];
    let mut worst: f64 = 0.0;
    for (name, value, tol) in ours {
        let (a, b) = (scalar(value), scalar(&case[&format!("value.{name}")]));
        let rel = (a - b).abs() / b.abs();
        eprintln!("{what} {name}: ours {a:.9e}, reference {b:.9e}, relative {rel:.2e}");
        assert!(rel <= tol, "{what} {name}: ours {a}, reference {b}, relative {rel:.2e} > {tol:e}");
        worst = worst.max(rel);
    }
    worst
}

fn check_case(name: &str) {
    let Some(case) = common::load_case(name) else { return };
    let (low, enhanced, a) = (&case["low"], &case["enhanced"], &case["A"]);

    let raw = LossTerms::compute(low, enhanced, a, None).unwrap();
    check_values(&case, &raw, &format!("{name} (file tensors)"));

    let map = spatial_consistency_map(enhanced, low, 4).unwrap();
    let d = common::max_abs_diff(&map, &case["spa_map"]) as f64 / max_abs(&case["spa_map"]);
    eprintln!("{name} spa_map: max |diff| / max |E| {d:.2e}");
    assert!(d <= 1e-5, "spa_map differs: {d:e}");
    let k = color_k(enhanced).unwrap();
    let d = common::max_abs_diff(&k, &case["color_k"]) as f64 / max_abs(&case["color_k"]);
    eprintln!("{name} color_k: max |diff| / max |k| {d:.2e}");
    assert!(d <= 1e-4, "color_k differs: {d:e}");

    // The same losses from our own forward pass with the authors' weights.
    let model = Sgz::load(common::reference_dir().unwrap().join("weights.safetensors")).unwrap();
    let out = model.forward(low, 1, 8).unwrap();
    let (de, da) = (common::max_abs_diff(&out.enhanced, enhanced), common::max_abs_diff(&out.factor, a));
    eprintln!("{name}: our forward vs reference: enhanced {de:.2e}, A {da:.2e}");
    assert!(de <= 1e-5 && da <= 1e-5);
    let raw = LossTerms::compute(low, &out.enhanced, &out.factor, None).unwrap();
    check_values(&case, &raw, &format!("{name} (our forward)"));
}

#[test]
fn losses_b1_37x50_match_reference() {
    check_case("losses_b1_37x50.safetensors");
}

#[test]
fn losses_b2_64x96_match_reference() {
    check_case("losses_b2_64x96.safetensors");
}

#[test]
fn focal_loss_matches_reference() {
    let Some(case) = common::load_case("focal_loss.safetensors") else { return };
    let ours = scalar(&focal_loss(&case["logits"], &case["target"], 2.0).unwrap());
    let reference = scalar(&case["value.focal"]);
    let rel = (ours - reference).abs() / reference;
    eprintln!("focal: ours {ours:.9e}, reference {reference:.9e}, relative {rel:.2e}");
    assert!(rel <= 1e-5);
    // Targets from the logits' own argmax, as training builds them.
    let own = lowlight::train::argmax_target(&case["logits"]).unwrap().to_dtype(DType::I64).unwrap();
    assert_eq!(own.to_vec3::<i64>().unwrap(), case["target"].to_vec3::<i64>().unwrap());
}

/// A grey image has k = 0 exactly; the sqrt there must not poison gradients.
#[test]
fn color_loss_gradient_is_finite_on_grey_images() {
    let x = Var::from_tensor(&Tensor::full(0.3f32, (2, 3, 5, 7), &Device::Cpu).unwrap()).unwrap();
    let loss = color_loss(&x).unwrap();
    assert_eq!(scalar(&loss), 0.0);
    let g = loss.backward().unwrap();
    let g = g.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(g.iter().all(|v| v.is_finite()), "non-finite colour gradient on a grey image");
}

fn pseudo_random(shape: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    let mut s = seed | 1;
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Central differences (f64) of `1600 L_tv + L_spa + 5 L_color + 10 L_exp`
/// through the EFE and the RIE, for a few entries of every parameter and of
/// the input image.
#[test]
fn loss_graph_passes_finite_difference_check() {
    let dev = Device::Cpu;
    let weights = EfeWeights::random(5, 1.0).to_tensors(&dev).unwrap();
    let varmap = VarMap::new();
    let mut names: Vec<String> = weights.keys().cloned().collect();
    names.sort();
    for (name, t) in &weights {
        let v = Var::from_tensor(&t.to_dtype(DType::F64).unwrap()).unwrap();
        varmap.data().lock().unwrap().insert(name.clone(), v);
    }
    let model = Sgz::new(VarBuilder::from_varmap(&varmap, DType::F64, &dev)).unwrap();
    // 17x21: neither pooling size divides it; the exposure loss sees one patch.
    let low = Var::from_tensor(&pseudo_random(&[1, 3, 17, 21], 9, 0.02, 0.4)).unwrap();
    let loss = || {
        let out = model.forward(&low, 1, 8).unwrap();
        let obj = Objective::compute(&low, &out.enhanced, &out.factor, None, &LossWeights::default()).unwrap();
        obj.total.to_scalar::<f64>().unwrap()
    };
    let out = model.forward(&low, 1, 8).unwrap();
    let grads = Objective::compute(&low, &out.enhanced, &out.factor, None, &LossWeights::default())
        .unwrap()
        .total
        .backward()
        .unwrap();

    let vars = varmap.data().lock().unwrap().clone();
    let mut targets: Vec<(String, &Var)> = names.iter().map(|n| (n.clone(), &vars[n])).collect();
    targets.push(("input".into(), &low));
    let (eps, mut checked, mut worst) = (1e-6, 0, 0.0f64);
    for (name, var) in targets {
        let base = var.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let analytic = grads.get(var).expect("gradient").flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let scale = analytic.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-3);
        let n = base.len();
        for i in [0, n / 3, n / 2, n - 1] {
            let eval = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, var.dims(), &dev).unwrap()).unwrap();
                loss()
            };
            let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
            var.set(&Tensor::from_vec(base.clone(), var.dims(), &dev).unwrap()).unwrap();
            let err = (numeric - analytic[i]).abs() / scale;
            worst = worst.max(err);
            checked += 1;
            let a = analytic[i];
            assert!(err <= 1e-5, "{name}[{i}]: numeric {numeric}, analytic {a}, error {err:.2e} of max |g|");
        }
    }
    eprintln!("finite differences: {checked} entries, worst error {worst:.2e} of the tensor's max |g|");
}

/// Central differences of the focal loss in the logits (f64).
#[test]
fn focal_loss_passes_finite_difference_check() {
    let dev = Device::Cpu;
    let logits0 = (pseudo_random(&[2, 5, 3, 4], 3, -3.0, 3.0)).contiguous().unwrap();
    let target = lowlight::train::argmax_target(&logits0).unwrap();
    let logits = Var::from_tensor(&logits0).unwrap();
    let g = focal_loss(&logits, &target, 2.0).unwrap().backward().unwrap();
    let analytic = g.get(&logits).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let base = logits0.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let eps = 1e-6;
    for i in 0..base.len() {
        let eval = |d: f64| {
            let mut v = base.clone();
            v[i] += d;
            let t = Tensor::from_vec(v, logits0.dims(), &dev).unwrap();
            focal_loss(&t, &target, 2.0).unwrap().to_scalar::<f64>().unwrap()
        };
        let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
        assert!((numeric - analytic[i]).abs() <= 1e-7 + 1e-6 * numeric.abs(), "[{i}]: {numeric} vs {}", analytic[i]);
    }
}
