//! `lowlight enhance IN OUT` on videos: frames, sound, containers and
//! options, checked by decoding the output.

mod common;

use common::clips::{analyze, write_clip_with_audio, write_dark_clip};
use common::{failed_with_line, lowlight, p, random_model, reference_dir, temporary_files};

/// The authors' weights when present (brightening is checked), else random ones.
fn model(dir: &std::path::Path) -> (std::path::PathBuf, bool) {
    match reference_dir() {
        Some(r) => (r.join("weights.safetensors"), true),
        None => (random_model(dir, 7), false),
    }
}

#[test]
fn mp4_is_reencoded_frame_for_frame_with_its_sound_copied() {
    let tmp = tempfile::tempdir().unwrap();
    let (weights, real) = model(tmp.path());
    let (input, output) = (tmp.path().join("dark.mp4"), tmp.path().join("enhanced.mp4"));
    write_clip_with_audio(&input, 75, (320, 240));
    let out = lowlight(&["enhance", "--model", p(&weights), p(&input), p(&output)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (a, b) = (analyze(&input), analyze(&output));
    eprintln!("input {:?} luma {:.3}\noutput {:?} luma {:.3}", a.streams, a.mean_luma(), b.streams, b.mean_luma());
    assert_eq!(a.frames, 75);
    assert_eq!(b.frames, a.frames, "same frame count");
    assert_eq!(b.size, a.size);
    assert_eq!(b.streams, ["audio/mpeg", "video/x-h264"]);
    assert!(a.audio_buffers > 0);
    assert_eq!(b.audio_buffers, a.audio_buffers, "every audio frame copied");
    if real {
        assert!(b.mean_luma() > a.mean_luma() + 0.1, "brighter: {} -> {}", a.mean_luma(), b.mean_luma());
    }
    assert!(temporary_files(tmp.path()).is_empty());
}

#[test]
fn the_container_follows_the_output_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = random_model(tmp.path(), 3);
    let input = tmp.path().join("in.webm");
    write_dark_clip(&input, 20, (160, 96), |_| 1.0);
    assert_eq!(analyze(&input).streams, ["video/x-vp8"]);
    for (ext, codec) in
        [("mp4", "video/x-h264"), ("mov", "video/x-h264"), ("mkv", "video/x-h264"), ("webm", "video/x-vp8")]
    {
        let output = tmp.path().join(format!("out.{ext}"));
        let out = lowlight(&["enhance", "--model", p(&weights), p(&input), p(&output)]);
        assert!(out.status.success(), "{ext}: {}", String::from_utf8_lossy(&out.stderr));
        let a = analyze(&output);
        assert_eq!((a.frames, a.size), (20, (160, 96)), "{ext}");
        assert_eq!(a.streams, [codec], "{ext}");
    }
    let out = lowlight(&["enhance", "--model", p(&weights), p(&input), p(&tmp.path().join("out.avi"))]);
    assert!(failed_with_line(&out).contains(".mp4, .mkv, .mov or .webm"));
}

#[test]
fn options_reach_the_element() {
    let tmp = tempfile::tempdir().unwrap();
    let weights = random_model(tmp.path(), 11);
    let input = tmp.path().join("in.mp4");
    write_dark_clip(&input, 30, (192, 108), |_| 1.0);
    let luma_with = |name: &str, extra: &[&str]| {
        let output = tmp.path().join(name);
        let mut args = vec!["enhance", "--model", p(&weights)];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[p(&input), p(&output)]);
        let out = lowlight(&args);
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        analyze(&output).mean_luma()
    };
    let original = analyze(&input).mean_luma();
    let untouched = luma_with("s0.mp4", &["--strength", "0"]);
    let full = luma_with("s1.mp4", &["--strength", "1", "--scale-factor", "4"]);
    eprintln!("input {original:.4}, strength 0 {untouched:.4}, strength 1 {full:.4}");
    assert!((untouched - original).abs() < 0.01, "strength 0 keeps the frames");
    assert!((full - original).abs() > 0.02, "strength 1 changes them");
    let smoothed = luma_with("t.mp4", &["--temporal-smoothing", "0.8", "--factor-interval", "2"]);
    assert!((smoothed - original).abs() > 0.02);

    for (flag, value, what) in [
        ("--iterations", "0", "iterations"),
        ("--temporal-smoothing", "2", "smoothing"),
        ("--strength", "1.5", "strength"),
    ] {
        let output = tmp.path().join("bad.mp4");
        let out = lowlight(&["enhance", "--model", p(&weights), flag, value, p(&input), p(&output)]);
        let line = failed_with_line(&out);
        assert!(line.contains(what), "{flag} {value}: {line}");
        assert!(!output.exists());
    }
}
