//! The USS's frozen convolutions (`train::uss::frozen`) against candle's own
//! `conv2d` (dense and grouped): same outputs, and input gradients that are
//! the exact adjoint of candle's convolution (`<conv(u), p> = <u, grad>` for
//! random u; candle's own conv2d backward fails on some strided odd sizes),
//! for kernel 1/3/5, stride 1/2 and odd sizes.

use candle_core::{DType, Device, Tensor, Var};
use lowlight::train::rng::Rng;
use lowlight::train::uss::frozen;

fn random(shape: &[usize], seed: u64) -> Tensor {
    Rng::new(seed).tensor(shape, 1.0, DType::F64, &Device::Cpu).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
}

/// Output, probe and input gradient of `op` for the loss `sum(out * probe)`.
fn output_and_grad(x: &Tensor, probe_seed: u64, op: impl Fn(&Tensor) -> Tensor) -> (Tensor, Tensor, Tensor) {
    let v = Var::from_tensor(x).unwrap();
    let y = op(v.as_tensor());
    let probe = random(y.dims(), probe_seed);
    let grads = (&y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    (y, probe, grads.get(&v).expect("the input gets a gradient").clone())
}

fn dot(a: &Tensor, b: &Tensor) -> f64 {
    (a * b).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
}

/// `grad` is the adjoint of the linear map `conv` applied to `probe`.
fn assert_adjoint(conv: &dyn Fn(&Tensor) -> Tensor, probe: &Tensor, grad: &Tensor, what: &str) {
    for seed in 0..3 {
        let u = random(grad.dims(), 100 + seed);
        let (lhs, rhs) = (dot(&conv(&u), probe), dot(&u, grad));
        assert!((lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()), "{what}: <conv(u), p> = {lhs}, <u, grad> = {rhs}");
    }
}

#[test]
fn dense_and_depthwise_match_candle_conv2d() {
    let mut checked = 0;
    for &(k, s) in &[(1, 1), (3, 1), (3, 2), (5, 1), (5, 2)] {
        for &(h, w) in &[(11, 8), (9, 13)] {
            let x = random(&[2, 5, h, w], 1 + k as u64 * 10 + s as u64);
            // Depthwise: one filter per channel.
            let wd = random(&[5, 1, k, k], 7 + k as u64);
            let (ours, probe, g) = output_and_grad(&x, 3, |x| frozen::depthwise(x, &wd, s).unwrap());
            let reference = |u: &Tensor| u.conv2d(&wd, 0, s, 1, 5).unwrap();
            assert!(max_diff(&ours, &reference(&x)) < 1e-12, "depthwise k{k} s{s} {h}x{w} forward");
            assert_adjoint(&reference, &probe, &g, &format!("depthwise k{k} s{s} {h}x{w}"));
            // Dense: 5 -> 4 channels.
            let wf = random(&[4, 5, k, k], 9 + k as u64);
            let (ours, probe, g) = output_and_grad(&x, 4, |x| frozen::conv2d(x, &wf, s).unwrap());
            let reference = |u: &Tensor| u.conv2d(&wf, 0, s, 1, 1).unwrap();
            assert!(max_diff(&ours, &reference(&x)) < 1e-10, "conv k{k} s{s} {h}x{w} forward");
            assert_adjoint(&reference, &probe, &g, &format!("conv k{k} s{s} {h}x{w}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
}

#[test]
fn the_weights_get_no_gradient_and_bad_shapes_are_errors() {
    let x = Var::from_tensor(&random(&[1, 3, 6, 6], 1)).unwrap();
    let w = Var::from_tensor(&random(&[3, 1, 3, 3], 2)).unwrap();
    let y = frozen::depthwise(x.as_tensor(), w.as_tensor(), 1).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_some());
    assert!(grads.get(&w).is_none(), "a frozen weight must not be trained");
    assert!(frozen::depthwise(x.as_tensor(), &random(&[4, 1, 3, 3], 3), 1).is_err());
    assert!(frozen::conv2d(&random(&[1, 3, 2, 2], 4), &random(&[2, 3, 3, 3], 5), 1).is_err());
}
