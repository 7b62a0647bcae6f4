//! Every way a weights file can be wrong gives a typed error naming the file
//! and the tensor; f16 and bf16 files load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lowlight::model::expected_tensors;
use lowlight::{EfeWeights, Sgz, WeightsError};
use safetensors::{Dtype, tensor::TensorView};

/// A valid weights file in memory: (name, dtype, shape, bytes).
fn tensors(dtype: Dtype) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    expected_tensors()
        .into_iter()
        .enumerate()
        .map(|(i, (name, shape))| {
            let n: usize = shape.iter().product();
            let values = (0..n).map(|j| ((i * 31 + j) % 17) as f32 * 0.01 - 0.08);
            let bytes = match dtype {
                Dtype::F32 => values.flat_map(f32::to_le_bytes).collect(),
                Dtype::F16 => values.flat_map(|v| half::f16::from_f32(v).to_le_bytes()).collect(),
                Dtype::BF16 => values.flat_map(|v| half::bf16::from_f32(v).to_le_bytes()).collect(),
                _ => values.map(|v| (v * 100.0) as i32).flat_map(i32::to_le_bytes).collect(),
            };
            (name, dtype, shape, bytes)
        })
        .collect()
}

fn serialize(t: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: HashMap<String, TensorView> =
        t.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(&views, None).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn load(dir: &Path, name: &str, bytes: &[u8]) -> Result<EfeWeights, WeightsError> {
    EfeWeights::from_file(write(dir, name, bytes))
}

#[test]
fn valid_files_load_in_every_float_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let f32w = load(dir.path(), "f32.safetensors", &serialize(&tensors(Dtype::F32))).unwrap();
    for dtype in [Dtype::F16, Dtype::BF16] {
        let w = load(dir.path(), "half.safetensors", &serialize(&tensors(dtype))).unwrap();
        for (name, _) in expected_tensors() {
            let (a, b) = (f32w.get(&name).unwrap().0, w.get(&name).unwrap().0);
            let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(d < 1e-3, "{dtype:?} {name}: {d}");
        }
    }
    assert!(Sgz::from_weights(&f32w, &candle_core::Device::Cpu).is_ok());
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = EfeWeights::from_file(dir.path().join("nope.safetensors")).unwrap_err();
    assert!(matches!(e, WeightsError::Io { .. }));
    assert!(e.to_string().contains("nope.safetensors"), "{e}");
    // The model loader passes the same error through.
    assert!(Sgz::load(dir.path().join("nope.safetensors")).is_err());
}

#[test]
fn not_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bytes) in [b"".to_vec(), b"hello world, not weights".to_vec(), vec![0xff; 4096]].iter().enumerate() {
        let e = load(dir.path(), &format!("junk{i}.safetensors"), bytes).unwrap_err();
        assert!(matches!(e, WeightsError::NotSafetensors { .. }), "{e}");
        assert!(e.to_string().contains(&format!("junk{i}.safetensors")), "{e}");
    }
    // A valid file cut short.
    let good = serialize(&tensors(Dtype::F32));
    let e = load(dir.path(), "truncated.safetensors", &good[..good.len() - 100]).unwrap_err();
    assert!(matches!(e, WeightsError::NotSafetensors { .. }), "{e}");
}

#[test]
fn missing_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tensors(Dtype::F32);
    t.retain(|(n, ..)| n != "e_conv4.point_conv.bias");
    let e = load(dir.path(), "m.safetensors", &serialize(&t)).unwrap_err();
    assert!(matches!(&e, WeightsError::MissingTensor { tensor, .. } if tensor == "e_conv4.point_conv.bias"), "{e}");
    assert!(e.to_string().contains("m.safetensors") && e.to_string().contains("e_conv4.point_conv.bias"));
}

#[test]
fn wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tensors(Dtype::F32);
    let entry = t.iter_mut().find(|(n, ..)| n == "e_conv7.point_conv.weight").unwrap();
    entry.2 = vec![64, 3, 1, 1];
    let e = load(dir.path(), "s.safetensors", &serialize(&t)).unwrap_err();
    match &e {
        WeightsError::WrongShape { tensor, expected, found, .. } => {
            assert_eq!(tensor, "e_conv7.point_conv.weight");
            assert_eq!((expected.as_slice(), found.as_slice()), (&[3, 64, 1, 1][..], &[64, 3, 1, 1][..]));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn wrong_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tensors(Dtype::F32);
    let i32t = tensors(Dtype::I32);
    t[5] = i32t[5].clone();
    let e = load(dir.path(), "d.safetensors", &serialize(&t)).unwrap_err();
    assert!(matches!(&e, WeightsError::WrongDtype { tensor, .. } if *tensor == t[5].0), "{e}");
}

#[test]
fn non_finite_values() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut t = tensors(Dtype::F32);
        t[9].3[8..12].copy_from_slice(&bad.to_le_bytes());
        let e = load(dir.path(), "n.safetensors", &serialize(&t)).unwrap_err();
        assert!(matches!(&e, WeightsError::NonFinite { tensor, index: 2, .. } if *tensor == t[9].0), "{e}");
    }
}

#[test]
fn denormals_are_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = tensors(Dtype::F32);
    t[0].3[0..4].copy_from_slice(&1e-40f32.to_le_bytes());
    let w = load(dir.path(), "den.safetensors", &serialize(&t)).unwrap();
    assert_eq!(w.get(&t[0].0).unwrap().0[0], 0.0);
}
