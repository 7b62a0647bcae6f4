//! The element on single frames (gstreamer-check Harness): every format,
//! padded strides, caps changes mid-stream, strength changed while playing.
//! The reference is always the core enhancer on a tightly packed RGB image.

mod common;

use common::{core_enhance, harness, make_frame, mean, model_path, noise_image, push_pull, rgb_of};
use gst::prelude::*;
use gst_video::VideoFormat;

const FORMATS: [VideoFormat; 10] = [
    VideoFormat::Rgb,
    VideoFormat::Bgr,
    VideoFormat::Rgbx,
    VideoFormat::Bgrx,
    VideoFormat::Xrgb,
    VideoFormat::Xbgr,
    VideoFormat::Rgba,
    VideoFormat::Bgra,
    VideoFormat::Argb,
    VideoFormat::Abgr,
];

/// Filler for alpha, x and row-padding bytes: a pattern the model would not produce.
fn filler(i: usize) -> u8 {
    (i * 7 + 3) as u8
}

/// Pushes one frame of `format` through a fresh harness and checks the RGB
/// samples against `expected` and every other byte against the filler.
fn check_frame(h: &mut gst_check::Harness, rgb: &[u8], expected: &[u8], w: u32, ht: u32, format: VideoFormat) {
    let (buffer, info) = make_frame(rgb, w, ht, format, filler);
    let before = buffer.map_readable().unwrap().as_slice().to_vec();
    let out = push_pull(h, buffer);
    assert_eq!(out.len(), before.len(), "{format:?} {w}x{ht}: size changed");
    assert!(rgb_of(&out, &info) == expected, "{format:?} {w}x{ht}: pixels differ from the core's RGB result");
    // Bytes that are not R, G or B: alpha, x, row padding.
    let untouched = make_frame(&vec![0; rgb.len()], w, ht, format, |_| 0);
    let marker = make_frame(&vec![0; rgb.len()], w, ht, format, |_| 1);
    let (a, b) = (untouched.0.map_readable().unwrap().to_vec(), marker.0.map_readable().unwrap().to_vec());
    for i in (0..out.len()).filter(|&i| a[i] != b[i]) {
        assert_eq!(out[i], before[i], "{format:?} {w}x{ht}: alpha/padding byte {i} changed");
    }
}

#[test]
fn every_format_equals_the_rgb_result_and_keeps_alpha_and_padding() {
    common::init();
    let Some(model) = model_path() else { return };
    let (w, ht) = (37u32, 23u32);
    let rgb = noise_image(w as usize, ht as usize, 3, 1);
    let expected = core_enhance(&model, &rgb, w as usize, ht as usize, 1.0);
    assert!(mean(&expected) > mean(&rgb) + 0.05, "the model brightens a dark frame");
    for format in FORMATS {
        let info = gst_video::VideoInfo::builder(format, w, ht).build().unwrap();
        let mut h = harness(&model, &info);
        check_frame(&mut h, &rgb, &expected, w, ht, format);
    }
}

#[test]
fn padded_strides_of_odd_widths() {
    common::init();
    let Some(model) = model_path() else { return };
    let mut padded = 0;
    for (w, ht) in [(1u32, 1u32), (3, 5), (5, 2), (13, 17), (61, 9), (101, 37)] {
        for format in [VideoFormat::Rgb, VideoFormat::Bgr, VideoFormat::Xbgr] {
            let info = gst_video::VideoInfo::builder(format, w, ht).build().unwrap();
            padded += (info.stride()[0] as u32 > w * info.format_info().pixel_stride()[0] as u32) as usize;
            let rgb = noise_image(w as usize, ht as usize, 3, (w * 100 + ht) as u64);
            let expected = core_enhance(&model, &rgb, w as usize, ht as usize, 1.0);
            let mut h = harness(&model, &info);
            check_frame(&mut h, &rgb, &expected, w, ht, format);
        }
    }
    assert!(padded >= 8, "GStreamer pads RGB rows to 4 bytes: {padded} padded layouts tested");
}

#[test]
fn caps_change_mid_stream() {
    common::init();
    let Some(model) = model_path() else { return };
    let first = gst_video::VideoInfo::builder(VideoFormat::Rgbx, 64, 48).build().unwrap();
    let mut h = harness(&model, &first);
    for (w, ht, format) in [
        (64u32, 48u32, VideoFormat::Rgbx),
        (37, 29, VideoFormat::Rgb),
        (120, 90, VideoFormat::Bgra),
        (64, 48, VideoFormat::Rgbx),
    ] {
        let info = gst_video::VideoInfo::builder(format, w, ht).build().unwrap();
        h.set_src_caps(info.to_caps().unwrap());
        let rgb = noise_image(w as usize, ht as usize, 3, w as u64);
        let expected = core_enhance(&model, &rgb, w as usize, ht as usize, 1.0);
        check_frame(&mut h, &rgb, &expected, w, ht, format);
        let caps = h.sinkpad().unwrap().current_caps().unwrap();
        let out_info = gst_video::VideoInfo::from_caps(&caps).unwrap();
        assert_eq!((out_info.width(), out_info.height(), out_info.format()), (w, ht, format), "output caps follow");
    }
}

#[test]
fn strength_changes_while_playing() {
    common::init();
    let Some(model) = model_path() else { return };
    let (w, ht) = (48u32, 36u32);
    let info = gst_video::VideoInfo::builder(VideoFormat::Rgbx, w, ht).build().unwrap();
    let mut h = harness(&model, &info);
    let element = h.element().unwrap();
    assert_eq!(element.current_state(), gst::State::Playing);
    let rgb = noise_image(w as usize, ht as usize, 3, 7);
    let full = core_enhance(&model, &rgb, w as usize, ht as usize, 1.0);
    let half = core_enhance(&model, &rgb, w as usize, ht as usize, 0.5);
    let mut means = Vec::new();
    for (strength, expected) in [(1.0, &full), (0.0, &rgb), (0.5, &half), (1.0, &full)] {
        element.set_property("strength", strength);
        let (buffer, _) = make_frame(&rgb, w, ht, VideoFormat::Rgbx, filler);
        let out = rgb_of(&push_pull(&mut h, buffer), &info);
        assert!(out == *expected, "strength {strength}: output differs from the core's");
        means.push(mean(&out));
    }
    assert!(means[0] > means[2] && means[2] > means[1], "brightness follows strength: {means:?}");
    assert_eq!(means[1], mean(&rgb), "strength 0 leaves the frame as it is");
}

#[test]
fn scale_factor_and_iterations_change_while_playing() {
    common::init();
    let Some(model) = model_path() else { return };
    let (w, ht) = (40u32, 30u32);
    let info = gst_video::VideoInfo::builder(VideoFormat::Rgb, w, ht).build().unwrap();
    let mut h = harness(&model, &info);
    let rgb = noise_image(w as usize, ht as usize, 3, 3);
    let (buffer, _) = make_frame(&rgb, w, ht, VideoFormat::Rgb, filler);
    let default = rgb_of(&push_pull(&mut h, buffer), &info);
    h.element().unwrap().set_property("iterations", 2u32);
    let (buffer, _) = make_frame(&rgb, w, ht, VideoFormat::Rgb, filler);
    let fewer = rgb_of(&push_pull(&mut h, buffer), &info);
    assert!(mean(&fewer) < mean(&default), "2 iterations brighten less than 8");
    assert!(mean(&fewer) > mean(&rgb), "2 iterations still brighten");
}
