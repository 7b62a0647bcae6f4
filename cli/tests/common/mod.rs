//! Helpers shared by the command-line tests: running the binary, models,
//! generated images and videos, and measuring outputs.
#![allow(dead_code)]

pub mod clips;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};

/// Runs `lowlight` with `args` to its end, failing the test after 120 s.
pub fn lowlight(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_lowlight"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lowlight runs");
    wait_bounded(child, Duration::from_secs(120))
}

/// Waits for `child`, killing it and failing the test past `limit`.
pub fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("wait works").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("lowlight did not finish within {limit:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output collected")
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The one line of stderr of a failed run (a progress bar never shows: stderr is not a terminal).
pub fn stderr_line(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(s.lines().count(), 1, "one-line error expected, got {s:?}");
    assert!(!s.contains("panicked"), "no panic: {s}");
    s
}

/// Asserts a run failed with one line on stderr and returns it.
pub fn failed_with_line(out: &Output) -> String {
    assert!(!out.status.success(), "the run should fail; stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "exit status 1, not a crash: {:?}", out.status);
    stderr_line(out)
}

/// Files of `dir` whose names end in `.tmp` (temporary outputs left behind).
pub fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// `../shared/reference/sgz` beside the checkout, or `None` with a printed reason.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/sgz");
    if dir.join("weights.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is absent (the reference data lives in ../shared beside the checkout)", dir.display());
        None
    }
}

pub fn load_case(name: &str) -> Option<HashMap<String, Tensor>> {
    let dir = reference_dir()?;
    Some(candle_core::safetensors::load(dir.join(name), &Device::Cpu).expect("reference case loads"))
}

/// Writes deterministic pseudo-random EFE weights as safetensors into `dir`
/// (no reference data needed), and returns the file.
pub fn random_model(dir: &Path, seed: u64) -> PathBuf {
    let weights = lowlight::EfeWeights::random(seed, 1.5);
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = lowlight::model::expected_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let (values, _) = weights.get(&name).unwrap();
            (name, values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bytes
        .iter()
        .map(|(n, b, s)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())
        })
        .collect();
    let path = dir.join(format!("random-{seed}.safetensors"));
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    path
}

/// (largest difference, number of differing values) between two byte images.
pub fn u8_diff(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0, 0), |(m, n), (&x, &y)| (m.max(x.abs_diff(y)), n + (x != y) as usize))
}

/// The reference's tolerance for 8-bit outputs: at most 1 step, in at most 0.1% of values.
pub fn assert_u8_close(ours: &[u8], reference: &[u8], what: &str) {
    let (max, count) = u8_diff(ours, reference);
    eprintln!("{what}: max |diff| {max}, {count} of {} values differ", ours.len());
    assert!(max <= 1, "{what}: a value differs by {max}");
    assert!(count * 1000 <= ours.len(), "{what}: {count} of {} values differ", ours.len());
}

/// A deterministic pseudo-random dark image (xorshift), `w * h * channels` bytes.
pub fn noise_image(w: usize, h: usize, channels: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..w * h * channels)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 33) % 120) as u8
        })
        .collect()
}
