//! Outputs appear whole or not at all, and never replace the input.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::clips::write_dark_clip;
use common::{failed_with_line, lowlight, p, random_model, temporary_files, wait_bounded};

/// A clip long enough that its re-encode runs for a while.
fn long_clip(dir: &Path) -> PathBuf {
    let input = dir.join("long.mp4");
    write_dark_clip(&input, 240, (640, 360), |_| 1.0);
    input
}

/// Starts `lowlight enhance` and waits until its temporary output holds data
/// (the caller waits for the child).
#[allow(clippy::zombie_processes)]
fn start_encode(model: &Path, input: &Path, output: &Path) -> std::process::Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lowlight"))
        .args(["enhance", "--model", p(model), "--threads", "1", p(input), p(output)])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dir = output.parent().unwrap();
    let start = Instant::now();
    loop {
        let started = temporary_files(dir).iter().any(|t| std::fs::metadata(t).is_ok_and(|m| m.len() > 0));
        if started {
            return child;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the temporary output never appeared");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_killed_video_encode_leaves_nothing_at_the_output_path() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 5);
    let input = long_clip(tmp.path());
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("enhanced.mp4");

    let mut child = start_encode(&model, &input, &output);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(!output.exists(), "no partial file at the output path");
    let left = temporary_files(&out_dir);
    assert!(left.len() <= 1, "at most the hidden temporary file: {left:?}");

    // A later run succeeds beside the leftover.
    let out = lowlight(&["enhance", "--model", p(&model), p(&input), p(&output)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(output.is_file());
}

#[test]
fn an_interrupted_video_encode_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 6);
    let input = long_clip(tmp.path());
    let output = tmp.path().join("enhanced.mkv");
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let child = start_encode(&model, &input, &output);
        // SAFETY: sends a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let out = wait_bounded(child, Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(130), "signal {signal}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        assert!(!output.exists(), "no output");
        assert!(temporary_files(tmp.path()).is_empty(), "temporary file removed");
    }
}

#[test]
fn the_input_is_never_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 8);
    let sub = tmp.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let img = sub.join("x.png");
    image::RgbImage::from_raw(8, 8, common::noise_image(8, 8, 3, 1)).unwrap().save(&img).unwrap();
    let clip = sub.join("c.mp4");
    write_dark_clip(&clip, 5, (64, 48), |_| 1.0);
    std::os::unix::fs::symlink(&img, sub.join("link.png")).unwrap();
    std::os::unix::fs::symlink(&clip, sub.join("link.mp4")).unwrap();
    std::fs::hard_link(&img, sub.join("hard.png")).unwrap();

    let dotted = |name: &str| format!("{}/./../sub/{name}", sub.display());
    let cases: Vec<(PathBuf, String)> = vec![
        (img.clone(), p(&img).to_string()),
        (img.clone(), dotted("x.png")),
        (img.clone(), p(&sub.join("link.png")).to_string()),
        (img.clone(), p(&sub.join("hard.png")).to_string()),
        (clip.clone(), p(&clip).to_string()),
        (clip.clone(), dotted("c.mp4")),
        (clip.clone(), p(&sub.join("link.mp4")).to_string()),
        (sub.clone(), format!("{}/.", sub.display())),
    ];
    for (input, output) in cases {
        let before: Vec<_> = std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().path()).collect();
        let data = if input.is_file() { std::fs::read(&input).unwrap() } else { Vec::new() };
        let out = lowlight(&["enhance", "--model", p(&model), p(&input), &output]);
        let line = failed_with_line(&out);
        assert!(line.contains("is the input"), "{output}: {line}");
        if input.is_file() {
            assert_eq!(std::fs::read(&input).unwrap(), data, "{output}: input untouched");
        }
        let after: Vec<_> = std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(before.len(), after.len(), "{output}: nothing written");
    }
    // Run from the input's directory with relative paths.
    let out = Command::new(env!("CARGO_BIN_EXE_lowlight"))
        .current_dir(&sub)
        .args(["enhance", "--model", p(&model), "x.png", "./x.png"])
        .output()
        .unwrap();
    assert!(failed_with_line(&out).contains("is the input"));
}

#[test]
fn image_outputs_are_renamed_into_place() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 9);
    let img = tmp.path().join("x.png");
    image::RgbImage::from_raw(40, 30, common::noise_image(40, 30, 3, 2)).unwrap().save(&img).unwrap();
    let output = tmp.path().join("y.png");
    std::fs::write(&output, b"old contents").unwrap();
    let out = lowlight(&["enhance", "--model", p(&model), p(&img), p(&output)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(image::open(&output).unwrap().width(), 40, "replaced whole");
    assert!(temporary_files(tmp.path()).is_empty());
    // A failing write (a directory in the way) leaves the old file and no temporary.
    let blocked = tmp.path().join("blocked.png");
    std::fs::create_dir(&blocked).unwrap();
    let out = lowlight(&["enhance", "--model", p(&model), p(&img), p(&blocked)]);
    failed_with_line(&out);
    assert!(blocked.is_dir());
    assert!(temporary_files(tmp.path()).is_empty());
}
