//! Bad inputs end a run with one line on stderr, status 1, no panic, no
//! hang (every run is bounded) and no output file or temporary file left.

mod common;

use std::path::Path;

use common::clips::write_dark_clip;
use common::{failed_with_line, lowlight, p, random_model, temporary_files};

/// Runs `enhance` on `input` and checks the failure; returns the error line.
fn enhance_fails(model: &Path, input: &Path, output: &Path) -> String {
    let out = lowlight(&["enhance", "--model", p(model), p(input), p(output)]);
    let line = failed_with_line(&out);
    assert!(!output.exists(), "no output after: {line}");
    assert!(temporary_files(output.parent().unwrap()).is_empty(), "no temporary file after: {line}");
    line
}

/// An MP4 with its index (moov) first, so that a truncated copy still parses.
fn write_faststart_mp4(path: &Path) {
    lowlight_cli::init_gstreamer().unwrap();
    let description = format!(
        "videotestsrc num-buffers=90 ! video/x-raw,width=320,height=240,framerate=30/1 ! x264enc speed-preset=ultrafast \
         ! h264parse ! mp4mux faststart=true ! filesink location=\"{}\"",
        path.display()
    );
    use gst::prelude::*;
    let pipeline = gst::parse::launch(&description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    bus.timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("written within 60 s");
    pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn truncated_and_corrupt_videos_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 1);
    let (inputs, outputs) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&outputs).unwrap();
    let whole = inputs.join("whole.mp4");
    write_dark_clip(&whole, 60, (192, 108), |_| 1.0);
    let bytes = std::fs::read(&whole).unwrap();

    // Index at the end: a cut file has none.
    let cut = inputs.join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let line = enhance_fails(&model, &cut, &outputs.join("cut.mp4"));
    assert!(line.contains("cut.mp4") && line.contains("corrupt or truncated"), "{line}");

    // Index first: the file parses, then its frames stop early.
    let fast = inputs.join("fast.mp4");
    write_faststart_mp4(&fast);
    let fast_bytes = std::fs::read(&fast).unwrap();
    let cut_fast = inputs.join("cut-fast.mp4");
    std::fs::write(&cut_fast, &fast_bytes[..fast_bytes.len() / 3]).unwrap();
    let line = enhance_fails(&model, &cut_fast, &outputs.join("cut-fast.mp4"));
    assert!(line.contains("truncated"), "{line}");
    let out = lowlight(&["enhance", "--model", p(&model), p(&fast), p(&outputs.join("fast.mp4"))]);
    assert!(out.status.success(), "the whole file works: {}", String::from_utf8_lossy(&out.stderr));

    // Garbage in the middle of the data.
    let mut garbled = bytes.clone();
    let n = garbled.len();
    for (i, b) in garbled[n / 4..3 * n / 4].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151) ^ 0x5a;
    }
    let garbled_path = inputs.join("garbled.mp4");
    std::fs::write(&garbled_path, &garbled).unwrap();
    let out = lowlight(&["enhance", "--model", p(&model), p(&garbled_path), p(&outputs.join("garbled.mp4"))]);
    if !out.status.success() {
        // A decoder may also conceal the damage; either way one line, no panic, no hang.
        failed_with_line(&out);
        assert!(!outputs.join("garbled.mp4").exists());
    }
}

#[test]
fn files_that_are_not_videos_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 2);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();

    let text = tmp.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video\n").unwrap();
    let line = enhance_fails(&model, &text, &out_dir.join("a.mp4"));
    assert!(line.contains("notes.mp4") && line.contains("not a video"), "{line}");

    let empty = tmp.path().join("empty.mkv");
    std::fs::write(&empty, b"").unwrap();
    enhance_fails(&model, &empty, &out_dir.join("b.mkv"));

    let random = tmp.path().join("noise.webm");
    std::fs::write(&random, common::noise_image(64, 64, 3, 9)).unwrap();
    enhance_fails(&model, &random, &out_dir.join("c.webm"));

    // An image named like a video, and a video named like an image.
    let png = tmp.path().join("picture.mp4");
    image::RgbImage::from_raw(16, 16, common::noise_image(16, 16, 3, 4))
        .unwrap()
        .save_with_format(&png, image::ImageFormat::Png)
        .unwrap();
    enhance_fails(&model, &png, &out_dir.join("d.mp4"));
    let clip = tmp.path().join("clip.mp4");
    write_dark_clip(&clip, 5, (64, 48), |_| 1.0);
    let disguised = tmp.path().join("clip.png");
    std::fs::copy(&clip, &disguised).unwrap();
    let line = enhance_fails(&model, &disguised, &out_dir.join("e.png"));
    assert!(line.contains("clip.png"), "{line}");
    let fake = tmp.path().join("fake.png");
    std::fs::write(&fake, b"hello").unwrap();
    let line = enhance_fails(&model, &fake, &out_dir.join("f.png"));
    assert!(line.contains("fake.png"), "{line}");

    // A video into an image file and the reverse.
    let line = enhance_fails(&model, &clip, &out_dir.join("g.png"));
    assert!(line.contains(".mp4, .mkv, .mov or .webm"), "{line}");
    let img = tmp.path().join("x.png");
    image::RgbImage::from_raw(16, 16, common::noise_image(16, 16, 3, 5)).unwrap().save(&img).unwrap();
    let line = enhance_fails(&model, &img, &out_dir.join("h.mp4"));
    assert!(line.contains("is a video but"), "{line}");
}

#[test]
fn a_file_without_video_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let model = random_model(tmp.path(), 3);
    lowlight_cli::init_gstreamer().unwrap();
    let audio = tmp.path().join("sound.mp4");
    let description = format!(
        "audiotestsrc num-buffers=40 ! audioconvert ! avenc_aac ! mp4mux ! filesink location=\"{}\"",
        audio.display()
    );
    use gst::prelude::*;
    let pipeline = gst::parse::launch(&description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    let line = enhance_fails(&model, &audio, &tmp.path().join("out.mp4"));
    assert!(line.contains("no video stream"), "{line}");
}
