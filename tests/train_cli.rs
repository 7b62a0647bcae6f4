//! `lowlight-train` end to end on tiny generated images with a seeded random
//! segmentation backbone: a 20-step run, the same run interrupted after 10
//! steps and resumed, reproducibility, checkpoints, logs, bad data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lowlight::train::checkpoint;
use lowlight::train::log;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lowlight-train"))
}

/// `n` dark 40x36 PNGs with different content (gradients, blobs, noise).
fn make_images(dir: &Path, n: usize) {
    for i in 0..n {
        let mut rng = lowlight::train::rng::Rng::new(i as u64 + 1);
        let img = image::RgbImage::from_fn(40, 36, |x, y| {
            let base = ((x * (i as u32 + 1) + y * 3) % 64) as f64;
            let mut px = |c: f64| (base * c + rng.uniform() * 20.0).min(255.0) as u8;
            image::Rgb([px(0.6), px(0.8), px(0.5)])
        });
        img.save(dir.join(format!("{}.png", i + 1))).unwrap();
    }
}

fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("lowlight-train runs");
    if !out.status.success() {
        panic!("lowlight-train {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

/// Tiny training arguments: 2 images of 32x32 per batch, the USS on random
/// EfficientNet-Lite0 weights, every term on.
fn train_args<'a>(data: &'a str, out: &'a str, steps: &'a str, batch: &'a str) -> Vec<&'a str> {
    vec![
        "train", "--data", data, "--resize", "36", "--crop", "32", "--batch", batch, "--steps", steps,
        "--lr", "1e-3", "--backbone", "random-efficientnet", "--seed", "7", "--threads", "2",
        "--checkpoint-every", "5", "--quiet", "-o", out,
    ]
}

fn tensors(p: &Path) -> Vec<(String, Vec<f32>)> {
    let (t, _) = checkpoint::load(p).unwrap();
    let mut v: Vec<(String, Vec<f32>)> =
        t.into_iter().map(|(k, t)| (k, t.flatten_all().unwrap().to_vec1::<f32>().unwrap())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    make_images(&data, 5);
    let straight = tmp.path().join("straight.safetensors");
    let again = tmp.path().join("again.safetensors");
    let first = tmp.path().join("first.safetensors");
    let resumed = tmp.path().join("resumed.safetensors");

    run(&train_args(s(&data), s(&straight), "20", "2"));
    run(&train_args(s(&data), s(&again), "20", "2"));
    assert_eq!(tensors(&straight), tensors(&again), "same seed, data and threads must give the same weights");

    // Interrupted after 10 steps (its checkpoint is at step 10), then resumed to 20.
    run(&train_args(s(&data), s(&first), "10", "2"));
    let ckpt = tmp.path().join("first.ckpt.safetensors");
    let first_log = tmp.path().join("first.csv");
    let mut args = train_args(s(&data), s(&resumed), "20", "2");
    args.extend(["--resume", s(&ckpt), "--log", s(&first_log)]);
    run(&args);
    assert_eq!(tensors(&resumed), tensors(&straight), "resuming must continue exactly");

    // The model file holds exactly the reference tensors; training moved them.
    let model = tensors(&straight);
    let names: Vec<&str> = model.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected: Vec<String> = lowlight::model::expected_tensors().into_iter().map(|(n, _)| n).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert_ne!(model, tensors(&first), "steps 11..20 changed nothing");
    lowlight::Sgz::load(&straight).expect("the element's loader accepts the trained model");

    // The log of the resumed run has every step once, with every term, and
    // the same losses as the uninterrupted run.
    let a = log::read(&tmp.path().join("straight.csv")).unwrap();
    let b = log::read(&tmp.path().join("first.csv")).unwrap();
    assert_eq!(a.iter().map(|r| r.step).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    assert_eq!(b.iter().map(|r| r.step).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.total, x.terms.map(f64::to_bits)), (y.total, y.terms.map(f64::to_bits)), "step {}", x.step);
        assert!(x.terms.iter().all(|t| t.is_finite() && *t >= 0.0), "step {}: {:?}", x.step, x.terms);
    }
    assert!(tmp.path().join("straight.png").is_file(), "no loss plot");
    let leftovers: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn resume_with_other_settings_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    make_images(&data, 3);
    let out = tmp.path().join("m.safetensors");
    run(&train_args(s(&data), s(&out), "5", "2"));
    let ckpt = tmp.path().join("m.ckpt.safetensors");
    let mut args = train_args(s(&data), s(&out), "10", "3");
    args.extend(["--resume", s(&ckpt)]);
    let o = bin().args(&args).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("batch = 2") && err.contains("this run has 3"), "{err}");
}

#[test]
fn unreadable_images_are_skipped_and_counted_and_none_usable_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    make_images(&data, 2);
    std::fs::write(data.join("3.jpg"), b"not a jpeg").unwrap();
    let out = tmp.path().join("m.safetensors");
    let mut args = train_args(s(&data), s(&out), "2", "2");
    args.extend(["--w-semantic", "0"]);
    let o = run(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("skipped") && err.contains("3.jpg") && err.contains("2 image(s) decoded") && err.contains("1 skipped"), "{err}");

    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("1.png"), b"truncated").unwrap();
    let o = bin().args(train_args(s(&bad), s(&out), "2", "2")).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no usable training image"));
}
