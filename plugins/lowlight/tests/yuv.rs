//! The element on planar YUV frames (I420, NV12, Y444): odd sizes, padded
//! and odd strides, planes at odd offsets (VideoMeta), and the conversion
//! picked from the caps' colorimetry. The reference is always the core's
//! `enhance_yuv` on the same planes with the expected matrix and range.

mod common;

use common::model_path;
use common::yuv::{YuvFrame, caps};
use gst::prelude::*;
use gst_video::{VideoColorMatrix, VideoColorPrimaries, VideoColorRange, VideoColorimetry, VideoFormat, VideoTransferFunction};
use lowlight::{EnhancerOptions, YuvMatrix, YuvRange};

const FORMATS: [VideoFormat; 3] = [VideoFormat::I420, VideoFormat::Nv12, VideoFormat::Y444];

fn harness(model: &std::path::Path, caps: gst::Caps) -> gst_check::Harness {
    let mut h = gst_check::Harness::with_element(&common::element(model), Some("sink"), Some("src"));
    h.set_src_caps(caps);
    h
}

fn colorimetry(range: VideoColorRange, matrix: VideoColorMatrix) -> String {
    VideoColorimetry::new(range, matrix, VideoTransferFunction::Bt709, VideoColorPrimaries::Bt709).to_string()
}

/// Pushes `buffer`, returns the output bytes.
fn run(h: &mut gst_check::Harness, buffer: gst::Buffer) -> Vec<u8> {
    common::push_pull(h, buffer)
}

#[test]
fn odd_sizes_and_padded_strides_equal_the_core() {
    common::init();
    let Some(model) = model_path() else { return };
    let bt709 = colorimetry(VideoColorRange::Range16_235, VideoColorMatrix::Bt709);
    for format in FORMATS {
        for (i, (w, ht)) in [(1usize, 1usize), (1, 6), (7, 1), (3, 5), (13, 7), (37, 23), (64, 48)].into_iter().enumerate() {
            let (pads, gap) = ([3 + i, 5, 1 + 2 * i], 7 + i);
            let frame = YuvFrame::noise(format, w, ht, pads, (w * 1000 + ht) as u64);
            let expected = frame.core_enhanced(&model, EnhancerOptions::default(), YuvMatrix::Bt709, YuvRange::Limited);
            let mut h = harness(&model, caps(format, w, ht, Some(&bt709)));
            let out = run(&mut h, frame.buffer(gap));
            let want = expected.buffer(gap).map_readable().unwrap().to_vec();
            assert!(out == want, "{format:?} {w}x{ht} pads {pads:?}: differs from the core (or padding/gaps changed)");
            if w * ht > 1 {
                assert!(expected.planes[0] != frame.planes[0], "{format:?} {w}x{ht}: the frame is enhanced");
            }
        }
    }
}

#[test]
fn default_layouts_without_video_meta_equal_the_core() {
    common::init();
    let Some(model) = model_path() else { return };
    for format in FORMATS {
        for (w, ht) in [(13usize, 7usize), (37, 23), (50, 21)] {
            let info = gst_video::VideoInfo::builder(format, w as u32, ht as u32)
                .colorimetry(&"bt601".parse().unwrap())
                .build()
                .unwrap();
            let n = info.n_planes() as usize;
            let row_bytes = |i: usize| YuvFrame::noise(format, w, ht, [0; 3], 1).strides[i];
            let mut pads = [0; 3];
            for (i, pad) in pads.iter_mut().enumerate().take(n) {
                *pad = info.stride()[i] as usize - row_bytes(i);
            }
            let frame = YuvFrame::noise(format, w, ht, pads, (w + ht) as u64);
            let expected = frame.core_enhanced(&model, EnhancerOptions::default(), YuvMatrix::Bt601, YuvRange::Limited);
            let mut h = harness(&model, info.to_caps().unwrap());
            let out = run(&mut h, frame.default_layout_buffer(&info));
            assert!(
                out == expected.default_layout_buffer(&info).map_readable().unwrap().to_vec(),
                "{format:?} {w}x{ht} (strides {:?}): differs from the core",
                info.stride()
            );
        }
    }
}

#[test]
fn colorimetry_picks_matrix_and_range() {
    common::init();
    let Some(model) = model_path() else { return };
    let (w, ht) = (37, 23);
    let frame = YuvFrame::noise(VideoFormat::I420, w, ht, [1, 2, 3], 11);
    let mut outputs = Vec::new();
    for (range, matrix, core) in [
        (VideoColorRange::Range16_235, VideoColorMatrix::Bt601, (YuvMatrix::Bt601, YuvRange::Limited)),
        (VideoColorRange::Range16_235, VideoColorMatrix::Bt709, (YuvMatrix::Bt709, YuvRange::Limited)),
        (VideoColorRange::Range0_255, VideoColorMatrix::Bt601, (YuvMatrix::Bt601, YuvRange::Full)),
        (VideoColorRange::Range0_255, VideoColorMatrix::Bt709, (YuvMatrix::Bt709, YuvRange::Full)),
    ] {
        let c = colorimetry(range, matrix);
        let mut h = harness(&model, caps(VideoFormat::I420, w, ht, Some(&c)));
        let out = run(&mut h, frame.buffer(0));
        let expected = frame.core_enhanced(&model, EnhancerOptions::default(), core.0, core.1);
        assert!(out == expected.buffer(0).map_readable().unwrap().to_vec(), "{c}: differs from the core with {core:?}");
        outputs.push((c, out));
    }
    for (i, (a, x)) in outputs.iter().enumerate() {
        for (b, y) in &outputs[i + 1..] {
            assert!(x != y, "{a} and {b} give the same output");
        }
    }
}

#[test]
fn unknown_colorimetry_uses_the_size_default() {
    common::init();
    let Some(model) = model_path() else { return };
    // Caps without colorimetry, with an unknown one, or with one that does
    // not fit YUV (matrix RGB): GStreamer assumes BT.601 up to 576 lines and
    // BT.709 above, limited range.
    for (ht, colorimetry, matrix) in [
        (576usize, None, YuvMatrix::Bt601),
        (578, None, YuvMatrix::Bt709),
        (578, Some("0:0:0:0"), YuvMatrix::Bt709),
        (16, Some("1:1:5:1"), YuvMatrix::Bt601),
    ] {
        let frame = YuvFrame::noise(VideoFormat::Nv12, 9, ht, [0, 2, 0], ht as u64);
        let mut h = harness(&model, caps(VideoFormat::Nv12, 9, ht, colorimetry));
        let out = run(&mut h, frame.buffer(4));
        let expected = frame.core_enhanced(&model, EnhancerOptions::default(), matrix, YuvRange::Limited);
        let other = if matrix == YuvMatrix::Bt601 { YuvMatrix::Bt709 } else { YuvMatrix::Bt601 };
        let wrong = frame.core_enhanced(&model, EnhancerOptions::default(), other, YuvRange::Limited);
        let what = format!("9x{ht} colorimetry {colorimetry:?}");
        assert!(out == expected.buffer(4).map_readable().unwrap().to_vec(), "{what}: not the core with {matrix:?}");
        assert!(out != wrong.buffer(4).map_readable().unwrap().to_vec(), "{what}: the matrix matters");
    }
}

#[test]
fn bt2020_uses_bt709_with_one_warning() {
    common::init();
    let Some(model) = model_path() else { return };
    let bus = gst::Bus::new();
    let element = common::element(&model);
    element.set_bus(Some(&bus));
    let mut h = gst_check::Harness::with_element(&element, Some("sink"), Some("src"));
    for (w, ht) in [(21usize, 13usize), (22, 14)] {
        h.set_src_caps(caps(VideoFormat::Y444, w, ht, Some("bt2020")));
        let frame = YuvFrame::noise(VideoFormat::Y444, w, ht, [1, 1, 1], 5);
        let out = run(&mut h, frame.buffer(2));
        let expected = frame.core_enhanced(&model, EnhancerOptions::default(), YuvMatrix::Bt709, YuvRange::Limited);
        assert!(out == expected.buffer(2).map_readable().unwrap().to_vec(), "{w}x{ht}: BT.2020 caps -> the core with BT.709");
    }
    let warnings: Vec<String> = std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Warning]))
        .map(|m| match m.view() {
            gst::MessageView::Warning(w) => w.error().to_string(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(warnings.len(), 1, "one warning for two BT.2020 caps: {warnings:?}");
    assert!(warnings[0].contains("BT.2020") && warnings[0].contains("BT.709"), "{}", warnings[0]);
    element.set_bus(None);
}
