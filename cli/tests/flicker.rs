//! `lowlight flicker`: its numbers follow the flicker that is there.

mod common;

use common::clips::{dark_frame, write_dark_clip, write_frames};
use common::{failed_with_line, lowlight, p, random_model, reference_dir};

const SIZE: (usize, usize) = (256, 144);

/// The rows of a printed table (the lines after its header), as words.
fn rows(stdout: &[u8]) -> Vec<Vec<String>> {
    String::from_utf8_lossy(stdout)
        .lines()
        .skip_while(|l| !l.contains("ratio"))
        .skip(1)
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// The `ratio` column of every row.
fn ratios(stdout: &[u8]) -> Vec<f64> {
    let text = String::from_utf8_lossy(stdout);
    let header = text.lines().find(|l| l.contains("ratio")).expect("a table header");
    let column = header.split_whitespace().position(|c| c == "ratio").unwrap();
    rows(stdout).iter().map(|r| r[column].parse().expect("a number")).collect()
}

/// A fixed tone curve applied to a frame, times `gain`.
fn gamma(frame: &[u8], gain: f32) -> Vec<u8> {
    frame.iter().map(|&v| ((v as f32 / 255.0).powf(0.5) * gain * 255.0).round().clamp(0.0, 255.0) as u8).collect()
}

#[test]
fn a_fixed_curve_measures_one_and_injected_flicker_more() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("dark.mp4");
    write_dark_clip(&input, 60, SIZE, |_| 1.0);
    let steady = tmp.path().join("steady.mp4");
    write_frames(&steady, 60, SIZE, |t| gamma(&dark_frame(t, SIZE, 1.0), 1.0));
    let flicker = tmp.path().join("flicker.mp4");
    write_frames(&flicker, 60, SIZE, |t| gamma(&dark_frame(t, SIZE, 1.0), if t % 2 == 0 { 0.96 } else { 1.0 }));

    let measure = |enhanced: &std::path::Path| {
        let out = lowlight(&["flicker", p(&input), p(enhanced)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        ratios(&out.stdout)[0]
    };
    let (fixed, flickering) = (measure(&steady), measure(&flicker));
    assert!((0.8..1.25).contains(&fixed), "a fixed curve is as stable as a fixed curve: {fixed}");
    assert!(flickering > 2.0 * fixed, "4% frame-to-frame gain flicker shows: {flickering} vs {fixed}");
}

/// Runs a sweep of `input` with `model` and returns its rows.
fn sweep(model: &std::path::Path, input: &std::path::Path, smoothing: &str, interval: &str) -> Vec<Vec<String>> {
    let out = lowlight(&["flicker", "--model", p(model), "--smoothing", smoothing, "--interval", interval, p(input)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    rows(&out.stdout)
}

#[test]
fn a_sweep_prints_one_row_per_setting_and_smoothing_lags_behind_a_light_coming_on() {
    let tmp = tempfile::tempdir().unwrap();
    let mut models = vec![random_model(tmp.path(), 4)];
    models.extend(reference_dir().map(|d| d.join("weights.safetensors")));
    // Steady, then the light comes on to 3x over 12 frames (at most 17% a frame: no scene cut).
    let input = tmp.path().join("ramp.mp4");
    write_dark_clip(&input, 70, SIZE, |t| 1.0 + 0.17 * t.saturating_sub(20).min(12) as f32);
    for model in &models {
        let rows = sweep(model, &input, "0,0.9", "1,2");
        let settings: Vec<(&str, &str)> = rows.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
        assert_eq!(settings, [("0.00", "1"), ("0.90", "1"), ("0.00", "2"), ("0.90", "2")]);
        let lag = |r: &Vec<String>| r[6].parse::<usize>().unwrap();
        assert_eq!(lag(&rows[0]), 0, "the per-frame run does not lag itself");
        assert!(lag(&rows[1]) > 5, "smoothing 0.9 lags behind the light");
    }
}

#[test]
fn mismatched_or_bad_files_fail_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.mp4"), tmp.path().join("b.mp4"));
    write_dark_clip(&a, 20, SIZE, |_| 1.0);
    write_dark_clip(&b, 15, SIZE, |_| 1.0);
    let line = failed_with_line(&lowlight(&["flicker", p(&a), p(&b)]));
    assert!(line.contains("20 frames") && line.contains("15"), "{line}");
    let text = tmp.path().join("notes.mp4");
    std::fs::write(&text, "not a video").unwrap();
    let line = failed_with_line(&lowlight(&["flicker", p(&a), p(&text)]));
    assert!(line.contains("notes.mp4"), "{line}");
    let one = tmp.path().join("one.mp4");
    write_dark_clip(&one, 1, SIZE, |_| 1.0);
    let line = failed_with_line(&lowlight(&["flicker", p(&one), p(&one)]));
    assert!(line.contains("at least 2 frames"), "{line}");
    let model = random_model(tmp.path(), 1);
    let line = failed_with_line(&lowlight(&["flicker", "--model", p(&model), "--smoothing", "1.5", p(&a)]));
    assert!(line.contains("smoothing"), "{line}");
}
