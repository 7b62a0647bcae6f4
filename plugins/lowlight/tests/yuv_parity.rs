//! How close the native YUV path is to the RGB path users had before:
//! `I420 ! lowlightenhance` against
//! `I420 ! videoconvert ! RGBx ! lowlightenhance ! videoconvert ! I420`,
//! on a real low-light photo (the authors' test image, 600x396).

mod common;

use common::yuv::{YuvFrame, safetensors_image};
use gst_video::VideoFormat;

const CAPS_I420: &str = "video/x-raw,format=I420,width=600,height=396,framerate=30/1,colorimetry=bt601";

/// `CAPS_I420` as the last element of a fragment (a bare caps string cannot end one).
fn to_i420() -> String {
    format!("capsfilter caps=\"{CAPS_I420}\"")
}

/// Runs one buffer through a gst-launch fragment with `caps` on its input.
fn through(fragment: &str, caps: &str, buffer: gst::Buffer) -> gst::Buffer {
    let mut h = gst_check::Harness::new_parse(fragment);
    h.set_src_caps_str(caps);
    assert_eq!(h.push(buffer), Ok(gst::FlowSuccess::Ok), "{fragment}");
    h.pull().expect("a buffer comes out")
}

/// The reference photo as I420 (converted by videoconvert, BT.601 limited).
fn photo_i420() -> Option<gst::Buffer> {
    let case = common::model_path()?.with_file_name("case_real_600x396_s12_u8.safetensors");
    let (rgb, w, h) = safetensors_image(&case, "image_u8");
    let (buffer, _) = common::make_frame(&rgb, w as u32, h as u32, VideoFormat::Rgb, |_| 0);
    let rgb_caps = format!("video/x-raw,format=RGB,width={w},height={h},framerate=30/1");
    Some(through(&format!("videoconvert ! {}", to_i420()), &rgb_caps, buffer))
}

/// Max and mean absolute differences of Y, U, V.
fn diffs(a: &YuvFrame, b: &YuvFrame) -> [(u8, f64); 3] {
    [0, 1, 2].map(|i| a.plane_diff(b, i))
}

#[test]
fn i420_matches_the_rgb_path() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let Some(input) = photo_i420() else { return };
    let info = gst_video::VideoInfo::from_caps(&CAPS_I420.parse::<gst::Caps>().unwrap()).unwrap();
    let m = model.to_str().unwrap();
    let native = through(&format!("lowlightenhance model=\"{m}\""), CAPS_I420, input.copy_deep().unwrap());
    let via_rgb = through(
        &format!("videoconvert ! video/x-raw,format=RGBx ! lowlightenhance model=\"{m}\" ! videoconvert ! {}", to_i420()),
        CAPS_I420,
        input.copy_deep().unwrap(),
    );
    // The conversions alone, for scale.
    let round_trip = through(
        &format!("videoconvert ! video/x-raw,format=RGBx ! videoconvert ! {}", to_i420()),
        CAPS_I420,
        input.copy_deep().unwrap(),
    );
    let [input, native, via_rgb, round_trip] =
        [input, native, via_rgb, round_trip].map(|b| YuvFrame::from_buffer(&b, &info));
    let d = diffs(&native, &via_rgb);
    let conversions = diffs(&input, &round_trip);
    let effect = diffs(&input, &native);
    eprintln!("native vs RGB path, (max, mean) abs diff of Y, U, V: {d:?}");
    eprintln!("conversions alone (I420 -> RGBx -> I420): {conversions:?}");
    eprintln!("the enhancement itself (input vs native output): {effect:?}");
    // Measured (GStreamer 1.22, authors' weights), (max, mean): native vs
    // RGB path Y (26, 10.03), U (12, 2.23), V (14, 2.70); the conversions
    // alone (I420 -> RGBx -> I420) Y (4, 2.82), U (2, 0.23), V (3, 0.40);
    // the enhancement itself moves Y by 58.1 on average. Most of the gap is
    // videoconvert's 8-bit conversion: on this photo (mean RGB 25 of 255)
    // its I420 -> RGBx output is 2.3 / 4.1 / 2.2 codes darker (R, G, B) than
    // the source RGB, where the exact BT.601 conversion of the same I420 is
    // 0.55 darker, and the curve multiplies dark differences several times.
    // The native path converts in f32, so it is the closer of the two. The
    // rest is chroma up-sampling (videoconvert interpolates, the element
    // replicates each chroma sample over its 2x2 block). Caps that claimed
    // full range give Y (85, 44.5) and fail these bounds; a wrong matrix
    // (BT.709) gives Y (26, 10.20), U (11, 2.56): that mistake is caught by
    // tests/yuv.rs, which compares with the core exactly.
    assert!(effect[0].1 > 20.0, "the photo is brightened: {effect:?}");
    let bounds = [(32u8, 12.0f64), (16, 3.0), (18, 3.5)];
    for (plane, ((max, mean), (max_bound, mean_bound))) in ["Y", "U", "V"].iter().zip(d.iter().zip(bounds)) {
        assert!(*max <= max_bound && *mean <= mean_bound, "{plane}: max {max}, mean {mean:.3} over the bounds");
    }
}
