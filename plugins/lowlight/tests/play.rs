//! pipelines/play.sh with its sinks swapped for files (no screen here):
//! plain and side-by-side (before left, after right).

mod common;

use common::media::{analyze, make_dark_mp4, script_command};

/// Runs play.sh (with a 120 s limit) on a fresh dark clip with the video written to a Matroska
/// file; returns (input, shown) analyses.
fn play(side_by_side: bool, audio: bool) -> Option<(common::media::Analysis, common::media::Analysis)> {
    common::init();
    let model = common::model_path()?;
    let dir = tempfile::tempdir().unwrap();
    let (input, shown) = (dir.path().join("dark.mp4"), dir.path().join("shown.mkv"));
    make_dark_mp4(&input, 30, (320, 240), audio);
    let mut cmd = script_command("play.sh", &model);
    cmd.arg(&input)
        .env("LOWLIGHT_VIDEOSINK", format!("matroskamux ! filesink location={}", shown.display()))
        .env("LOWLIGHT_AUDIOSINK", "fakesink sync=false")
        .env("SIDE_WIDTH", "320")
        .env("SIDE_HEIGHT", "240");
    if side_by_side {
        cmd.arg("--side-by-side");
    }
    let run = cmd.output().unwrap();
    assert!(run.status.success(), "play.sh failed: {}", String::from_utf8_lossy(&run.stderr));
    Some((analyze(&input), analyze(&shown)))
}

#[test]
fn plays_enhanced() {
    let Some((input, shown)) = play(false, true) else { return };
    eprintln!("input {input:?}\nshown {shown:?}");
    assert_eq!(shown.frames, input.frames);
    assert_eq!(shown.size, (320, 240));
    assert!(shown.mean_luma > input.mean_luma + 0.1, "{} -> {}", input.mean_luma, shown.mean_luma);
}

#[test]
fn side_by_side_shows_before_and_after() {
    let Some((input, shown)) = play(true, true) else { return };
    eprintln!("input {input:?}\nshown {shown:?}");
    assert_eq!(shown.size, (640, 240), "two 320x240 halves");
    assert!(shown.frames >= input.frames, "every frame shown");
    let [before, after] = shown.half_luma;
    assert!((before - input.mean_luma).abs() < 0.02, "left is the input: {before} vs {}", input.mean_luma);
    assert!(after > before + 0.1, "right is enhanced: {before} -> {after}");
}

#[test]
fn plays_files_without_sound() {
    for side_by_side in [false, true] {
        let Some((input, shown)) = play(side_by_side, false) else { return };
        assert_eq!(input.audio_buffers, 0);
        assert!(shown.frames >= input.frames, "side by side {side_by_side}: every frame shown");
    }
}
