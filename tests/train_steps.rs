//! Three optimiser steps of the non-semantic loss against the authors'
//! training loop (`train_steps.safetensors`: PyTorch Adam with L2 weight
//! decay, `clip_grad_norm(0.1)`), and the optimiser state round trip.

mod common;

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use lowlight::Sgz;
use lowlight::model::expected_tensors;
use lowlight::train::{Adam, AdamConfig, LossWeights, Objective, clip_grad_norm, named_vars};

fn max_abs(t: &Tensor) -> f64 {
    t.abs().unwrap().flatten_all().unwrap().to_dtype(DType::F64).unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()
}

/// Largest `max |ours - ref| / max |ref|` over all parameters' gradients.
fn grad_error(params: &[(String, Var)], grads: &GradStore, case: &HashMap<String, Tensor>, prefix: &str) -> f64 {
    let mut worst: f64 = 0.0;
    for (name, var) in params {
        let reference = &case[&format!("{prefix}.{name}")];
        let ours = grads.get(var).unwrap_or_else(|| panic!("no gradient for {name}"));
        let scale = max_abs(reference);
        let d = common::max_abs_diff(ours, reference) as f64;
        let rel = if scale > 0.0 { d / scale } else { d };
        assert!(rel <= 1e-4, "{prefix}.{name}: max |diff| {d:e} = {rel:.2e} of max |g| {scale:e}");
        worst = worst.max(rel);
    }
    worst
}

#[test]
fn three_adam_steps_match_reference() {
    let Some(case) = common::load_case("train_steps.safetensors") else { return };
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    for (name, _) in expected_tensors() {
        let v = Var::from_tensor(&case[&format!("param.{name}")]).unwrap();
        varmap.data().lock().unwrap().insert(name, v);
    }
    let model = Sgz::new(VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
    let mut adam = Adam::new(named_vars(&varmap), AdamConfig::default());
    let low = &case["low"];
    let (ref_losses, ref_norms) = (values(&case["losses_per_step"]), values(&case["grad_norm_per_step"]));

    for step in 0..3 {
        let out = model.forward(low, 1, 8).unwrap();
        let obj = Objective::compute(low, &out.enhanced, &out.factor, None, &LossWeights::default()).unwrap();
        let loss = obj.total.to_scalar::<f32>().unwrap() as f64;
        let rel = (loss - ref_losses[step]).abs() / ref_losses[step];
        eprintln!("step {}: loss {loss:.8} (reference {:.8}, relative {rel:.2e})", step + 1, ref_losses[step]);
        assert!(rel <= 1e-5, "step {} loss {loss} vs {}", step + 1, ref_losses[step]);

        let mut grads = obj.total.backward().unwrap();
        if step == 0 {
            let e = grad_error(adam.params(), &grads, &case, "grad0");
            eprintln!("step 1: gradients before clipping, worst {e:.2e} of the tensor's max |g|");
        }
        let norm = clip_grad_norm(adam.params(), &mut grads, 0.1).unwrap();
        let rel = (norm - ref_norms[step]).abs() / ref_norms[step];
        eprintln!("step {}: grad norm {norm:.7} (reference {:.7}, relative {rel:.2e})", step + 1, ref_norms[step]);
        assert!(rel <= 1e-5, "step {} grad norm {norm} vs {}", step + 1, ref_norms[step]);
        if step == 0 {
            let e = grad_error(adam.params(), &grads, &case, "grad0_clipped");
            eprintln!("step 1: gradients after clipping, worst {e:.2e} of the tensor's max |g|");
        }

        adam.step(&grads).unwrap();
        let mut worst: f64 = 0.0;
        for (name, var) in adam.params() {
            let d = common::max_abs_diff(var.as_tensor(), &case[&format!("param_after{}.{name}", step + 1)]) as f64;
            assert!(d <= 1e-5, "param_after{}.{name}: max |diff| {d:e}", step + 1);
            worst = worst.max(d);
        }
        eprintln!("step {}: parameters, worst max |diff| {worst:.2e}", step + 1);
    }
    assert_eq!(adam.step_count(), 3);
}

/// A toy problem: `sum((w - target)^2) + sum(b^4)` on two named parameters.
fn toy(seed: f32) -> (Vec<(String, Var)>, impl Fn(&[(String, Var)]) -> GradStore) {
    let dev = Device::Cpu;
    let w = Var::from_tensor(&Tensor::new(&[[0.5f32, -1.0, 2.0], [0.1, 0.2, seed]], &dev).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::new(&[0.3f32, -0.7], &dev).unwrap()).unwrap();
    let loss = |p: &[(String, Var)]| {
        let target = Tensor::new(&[[1f32, 2., 3.], [4., 5., 6.]], &Device::Cpu).unwrap();
        let l = ((p[1].1.as_tensor() - target).unwrap().sqr().unwrap().sum_all().unwrap()
            + p[0].1.as_tensor().sqr().unwrap().sqr().unwrap().sum_all().unwrap())
        .unwrap();
        l.backward().unwrap()
    };
    (vec![("b".into(), b), ("w".into(), w)], loss)
}

fn snapshot(p: &[(String, Var)]) -> Vec<Vec<f64>> {
    p.iter().map(|(_, v)| values(v.as_tensor())).collect()
}

/// Saving the state after 3 steps and resuming gives the same parameters
/// after 3 more as 6 uninterrupted steps.
#[test]
fn adam_state_round_trip_resumes_exactly() {
    let config = AdamConfig { lr: 0.05, weight_decay: 0.01, ..AdamConfig::default() };
    let (params, loss) = toy(0.9);
    let mut straight = Adam::new(params.clone(), config);
    for _ in 0..6 {
        let mut g = loss(straight.params());
        clip_grad_norm(straight.params(), &mut g, 1.0).unwrap();
        straight.step(&g).unwrap();
    }

    let (params, loss) = toy(0.9);
    let mut first = Adam::new(params.clone(), config);
    for _ in 0..3 {
        let mut g = loss(first.params());
        clip_grad_norm(first.params(), &mut g, 1.0).unwrap();
        first.step(&g).unwrap();
    }
    let state = first.state_tensors().unwrap();
    let saved: Vec<(String, Var)> = params
        .iter()
        .map(|(n, v)| (n.clone(), Var::from_tensor(&v.as_tensor().copy().unwrap()).unwrap()))
        .collect();
    let mut resumed = Adam::new(saved, config);
    resumed.load_state_tensors(&state).unwrap();
    assert_eq!(resumed.step_count(), 3);
    for _ in 0..3 {
        let mut g = loss(resumed.params());
        clip_grad_norm(resumed.params(), &mut g, 1.0).unwrap();
        resumed.step(&g).unwrap();
    }
    assert_eq!(snapshot(resumed.params()), snapshot(straight.params()));
    assert_ne!(snapshot(resumed.params()), snapshot(&toy(0.9).0), "the steps moved nothing");

    let mut bad = state.clone();
    bad.insert("m.nope".into(), Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap());
    assert!(Adam::new(toy(0.9).0, config).load_state_tensors(&bad).is_err());
}

/// Clipping scales by `max_norm / (norm + 1e-6)` only when that is below 1.
#[test]
fn clipping_scales_only_large_gradients() {
    let (params, loss) = toy(0.9);
    let g = loss(&params);
    let raw: Vec<Vec<f64>> = params.iter().map(|(_, v)| values(g.get(v).unwrap())).collect();
    let norm = raw.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();

    let mut big = loss(&params);
    assert!((clip_grad_norm(&params, &mut big, norm * 2.0).unwrap() - norm).abs() < 1e-9 * norm);
    assert_eq!(params.iter().map(|(_, v)| values(big.get(v).unwrap())).collect::<Vec<_>>(), raw);

    let mut small = loss(&params);
    clip_grad_norm(&params, &mut small, 0.5).unwrap();
    let clipped: Vec<f64> = params.iter().flat_map(|(_, v)| values(small.get(v).unwrap())).collect();
    let clipped_norm = clipped.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((clipped_norm - 0.5 * norm / (norm + 1e-6)).abs() < 1e-6, "clipped norm {clipped_norm}");
}

/// Adam's update written out from PyTorch's documented algorithm, with a
/// weight decay large enough that L2-in-the-gradient and AdamW's decoupled
/// decay differ visibly (the reference steps use 1e-4, too small to tell).
#[test]
fn adam_follows_pytorch_formula_with_l2_decay() {
    let config = AdamConfig { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.5 };
    let p = Var::from_tensor(&Tensor::new(&[1.0f64, -2.0, 0.25], &Device::Cpu).unwrap()).unwrap();
    let mut adam = Adam::new(vec![("p".into(), p.clone())], config);
    let slope = [3.0, -0.5, 0.0];
    let mut expected = values(p.as_tensor());
    let (mut m, mut v) = (vec![0.0; 3], vec![0.0; 3]);
    for t in 1..=4 {
        let g = (p.as_tensor() * Tensor::new(&slope, &Device::Cpu).unwrap()).unwrap().sum_all().unwrap();
        adam.step(&g.backward().unwrap()).unwrap();
        for i in 0..3 {
            let g = slope[i] + config.weight_decay * expected[i];
            m[i] = config.beta1 * m[i] + (1.0 - config.beta1) * g;
            v[i] = config.beta2 * v[i] + (1.0 - config.beta2) * g * g;
            let m_hat = m[i] / (1.0 - config.beta1.powi(t));
            let v_hat = v[i] / (1.0 - config.beta2.powi(t));
            expected[i] -= config.lr * m_hat / (v_hat.sqrt() + config.eps);
        }
        let ours = values(p.as_tensor());
        for i in 0..3 {
            assert!((ours[i] - expected[i]).abs() < 1e-9, "step {t} [{i}]: {} vs {}", ours[i], expected[i]);
        }
    }
}
