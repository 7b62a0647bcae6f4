//! The depthwise 3x3 op against candle's grouped conv2d and finite differences.

use candle_core::{DType, Device, Tensor, Var};
use lowlight::ops::depthwise3x3;

fn random(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let mut s = seed | 1;
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap().to_dtype(dtype).unwrap()
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap()
}

#[test]
fn forward_matches_grouped_conv2d() {
    for &(n, c, h, w) in &[(1, 3, 1, 1), (2, 5, 1, 9), (1, 4, 7, 1), (2, 32, 13, 17), (1, 3, 2, 2)] {
        let x = random(&[n, c, h, w], 1 + h as u64, DType::F32);
        let k = random(&[c, 1, 3, 3], 7, DType::F32);
        let ours = depthwise3x3(&x, &k).unwrap();
        let theirs = x.conv2d(&k, 1, 1, 1, c).unwrap();
        let d = max_abs(&(ours - theirs).unwrap());
        assert!(d < 1e-5, "{n}x{c}x{h}x{w}: {d}");
    }
}

#[test]
fn backward_matches_grouped_conv2d() {
    let (n, c, h, w) = (2, 6, 9, 11);
    let x = Var::from_tensor(&random(&[n, c, h, w], 3, DType::F32)).unwrap();
    let k = Var::from_tensor(&random(&[c, 1, 3, 3], 5, DType::F32)).unwrap();
    let probe = random(&[n, c, h, w], 9, DType::F32);
    let ours = (depthwise3x3(&x, &k).unwrap() * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    let theirs = (x.conv2d(&k, 1, 1, 1, c).unwrap() * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    for (name, v) in [("input", &x), ("weight", &k)] {
        let (a, b) = (ours.get(v).unwrap(), theirs.get(v).unwrap());
        let d = max_abs(&(a - b).unwrap()) / max_abs(b);
        assert!(d < 1e-5, "{name} gradient: relative difference {d}");
    }
}

/// Central differences of a non-linear loss through the op (f64).
#[test]
fn backward_passes_finite_difference_check() {
    let (n, c, h, w) = (1, 2, 4, 5);
    let x0 = random(&[n, c, h, w], 11, DType::F64);
    let k0 = random(&[c, 1, 3, 3], 13, DType::F64);
    let loss = |x: &Tensor, k: &Tensor| depthwise3x3(x, k).unwrap().tanh().unwrap().sqr().unwrap().sum_all().unwrap();
    let (x, k) = (Var::from_tensor(&x0).unwrap(), Var::from_tensor(&k0).unwrap());
    let grads = loss(&x, &k).backward().unwrap();
    let eps = 1e-6;
    for (name, base, var, is_x) in [("input", &x0, &x, true), ("weight", &k0, &k, false)] {
        let analytic = grads.get(var).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let flat = base.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for i in 0..flat.len() {
            let eval = |delta: f64| {
                let mut v = flat.clone();
                v[i] += delta;
                let t = Tensor::from_vec(v, base.dims(), &Device::Cpu).unwrap();
                let l = if is_x { loss(&t, &k0) } else { loss(&x0, &t) };
                l.to_scalar::<f64>().unwrap()
            };
            let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
            assert!(
                (numeric - analytic[i]).abs() <= 1e-6 * (1.0 + numeric.abs()),
                "{name}[{i}]: numeric {numeric}, analytic {}",
                analytic[i]
            );
        }
    }
}

#[test]
fn rejects_mismatched_weight() {
    let x = random(&[1, 3, 4, 4], 1, DType::F32);
    assert!(depthwise3x3(&x, &random(&[4, 1, 3, 3], 2, DType::F32)).is_err());
    assert!(depthwise3x3(&x, &random(&[3, 1, 5, 5], 2, DType::F32)).is_err());
    assert!(depthwise3x3(&x, &random(&[3, 1, 3, 3], 2, DType::F64)).is_err());
}
