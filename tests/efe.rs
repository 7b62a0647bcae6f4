//! The fused inference EFE computes the same function as the op-by-op
//! modules (which the parity tests tie to the reference), on weights whose
//! every layer is live (the authors' e_conv3..5 are zero).

mod common;

use candle_core::{Device, Module, Tensor};
use common::{max_abs_diff, synthetic_model};
use lowlight::model::EfeBuffers;

fn input(h: usize, w: usize) -> Tensor {
    let v: Vec<f32> = (0..3 * h * w).map(|i| ((i * 7919) % 251) as f32 / 250.0).collect();
    Tensor::from_vec(v, (1, 3, h, w), &Device::Cpu).unwrap()
}

#[test]
fn fused_efe_equals_module_efe() {
    let model = synthetic_model(7);
    let fused = model.efe().fused().unwrap();
    let mut buffers = EfeBuffers::default();
    for (h, w) in [(1, 1), (1, 5), (6, 1), (7, 10), (17, 33), (90, 160)] {
        let x = input(h, w);
        let reference = model.efe().forward(&x).unwrap();
        let mean_abs = reference.abs().unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(mean_abs > 0.05, "{h}x{w}: the synthetic model should produce a non-trivial map ({mean_abs})");
        let d = max_abs_diff(&fused.forward(&x).unwrap(), &reference);
        assert!(d < 1e-5, "{h}x{w} candle op path: {d}");
        let flat = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let out = fused.run(&flat, (h, w), &mut buffers).unwrap().to_vec();
        let d = max_abs_diff(&Tensor::from_vec(out, (1, 3, h, w), &Device::Cpu).unwrap(), &reference);
        assert!(d < 1e-5, "{h}x{w} buffer path: {d}");
    }
}
