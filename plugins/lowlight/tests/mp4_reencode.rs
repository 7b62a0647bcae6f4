//! pipelines/mp4-reencode.sh on real H.264 MP4 files made here: same frame
//! count and duration, brighter, audio kept.

mod common;

use std::time::Duration;

use common::media::{analyze, make_dark_mp4, script_command};

/// Re-encodes a fresh dark clip and returns (input, output) analyses.
fn reencode(audio: bool) -> Option<(common::media::Analysis, common::media::Analysis)> {
    common::init();
    let model = common::model_path()?;
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("dark.mp4"), dir.path().join("enhanced.mp4"));
    make_dark_mp4(&input, 75, (320, 240), audio);
    let run = script_command("mp4-reencode.sh", &model).arg(&input).arg(&output).output().unwrap();
    assert!(
        run.status.success(),
        "mp4-reencode.sh failed: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    Some((analyze(&input), analyze(&output)))
}

fn check_video(input: &common::media::Analysis, output: &common::media::Analysis) {
    eprintln!("input  {input:?}\noutput {output:?}");
    assert_eq!(input.frames, 75);
    assert_eq!(output.frames, input.frames, "same frame count");
    let (a, b) = (Duration::from(input.video_duration()), Duration::from(output.video_duration()));
    assert!(a.abs_diff(b) < Duration::from_millis(2), "same duration: {a:?} vs {b:?}");
    assert_eq!(output.first_pts, input.first_pts, "the video starts at the same time (A/V sync)");
    assert!(input.mean_luma < 0.25, "the input is dark: {}", input.mean_luma);
    assert!(output.mean_luma > input.mean_luma + 0.1, "brighter: {} -> {}", input.mean_luma, output.mean_luma);
    assert!((0.35..0.7).contains(&output.mean_luma), "mean luma {} in 0.35..0.7", output.mean_luma);
}

#[test]
fn video_only_mp4_is_enhanced_with_same_frames_and_duration() {
    let Some((input, output)) = reencode(false) else { return };
    check_video(&input, &output);
    assert_eq!(output.audio_buffers, 0);
}

#[test]
fn audio_is_passed_through() {
    let Some((input, output)) = reencode(true) else { return };
    check_video(&input, &output);
    assert!(input.audio_buffers > 0);
    assert_eq!(output.audio_buffers, input.audio_buffers, "every audio frame kept");
    assert_eq!(output.audio_end, input.audio_end, "audio timing kept");
}

#[test]
fn bad_arguments_fail_with_a_message() {
    common::init();
    let model = std::path::PathBuf::from("/nonexistent.safetensors");
    let run = script_command("mp4-reencode.sh", &model).arg("/nonexistent/in.mp4").arg("/tmp/x.mp4").output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("no such file"));
    let run = script_command("mp4-reencode.sh", &model).arg("only-one").output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("usage"));
}
