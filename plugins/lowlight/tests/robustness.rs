//! Frames at the edges: caps without a frame rate, 1xN and Nx1 frames, an
//! 8K frame, odd row strides and plane offsets. The reference is the core.

mod common;

use common::yuv::{YuvFrame, caps as yuv_caps};
use common::{core_enhance, make_frame, model_path, noise_image, push_pull, rgb_of};
use gst_video::VideoFormat;
use lowlight::{Enhancer, EnhancerOptions, FrameLayout, PixelFormat, Sgz, YuvMatrix, YuvRange};

fn harness(model: &std::path::Path, caps: gst::Caps) -> gst_check::Harness {
    let mut h = gst_check::Harness::with_element(&common::element(model), Some("sink"), Some("src"));
    h.set_src_caps(caps);
    h
}

fn packed_caps(format: VideoFormat, w: u32, h: u32, fps: gst::Fraction) -> gst::Caps {
    gst_video::VideoInfo::builder(format, w, h).fps(fps).build().unwrap().to_caps().unwrap()
}

#[test]
fn caps_without_frame_rate() {
    common::init();
    let Some(model) = model_path() else { return };
    let (w, h) = (40u32, 30u32);
    let caps = packed_caps(VideoFormat::Rgbx, w, h, gst::Fraction::new(0, 1));
    assert_eq!(caps.structure(0).unwrap().get::<gst::Fraction>("framerate").unwrap(), gst::Fraction::new(0, 1));
    let mut h1 = harness(&model, caps);
    let rgb = noise_image(w as usize, h as usize, 3, 4);
    let expected = core_enhance(&model, &rgb, w as usize, h as usize, 1.0);
    for _ in 0..2 {
        let (buffer, info) = make_frame(&rgb, w, h, VideoFormat::Rgbx, |_| 0);
        assert!(rgb_of(&push_pull(&mut h1, buffer), &info) == expected, "RGBx at 0/1 fps");
    }

    let mut caps = yuv_caps(VideoFormat::I420, 21, 11, Some("bt709"));
    caps.make_mut().structure_mut(0).unwrap().set("framerate", gst::Fraction::new(0, 1));
    let frame = YuvFrame::noise(VideoFormat::I420, 21, 11, [1, 1, 1], 9);
    let expected = frame.core_enhanced(&model, EnhancerOptions::default(), YuvMatrix::Bt709, YuvRange::Limited);
    let mut h2 = harness(&model, caps);
    assert!(push_pull(&mut h2, frame.buffer(3)) == expected.buffer(3).map_readable().unwrap().to_vec(), "I420 at 0/1 fps");
}

#[test]
fn one_pixel_rows_and_columns() {
    common::init();
    let Some(model) = model_path() else { return };
    for (w, h) in [(1u32, 1u32), (1, 13), (13, 1), (1, 200), (200, 1)] {
        for format in [VideoFormat::Rgbx, VideoFormat::Rgb, VideoFormat::Bgra] {
            let rgb = noise_image(w as usize, h as usize, 3, (w * 7 + h) as u64);
            let expected = core_enhance(&model, &rgb, w as usize, h as usize, 1.0);
            let mut harness = harness(&model, packed_caps(format, w, h, gst::Fraction::new(30, 1)));
            let (buffer, info) = make_frame(&rgb, w, h, format, |_| 0);
            assert!(rgb_of(&push_pull(&mut harness, buffer), &info) == expected, "{format:?} {w}x{h}");
        }
    }
}

#[test]
fn one_8k_frame() {
    common::init();
    let Some(model) = model_path() else { return };
    let (w, h) = (7680u32, 4320u32);
    let rgb = noise_image(w as usize, h as usize, 3, 8);
    let expected = core_enhance(&model, &rgb, w as usize, h as usize, 1.0);
    let mut harness = harness(&model, packed_caps(VideoFormat::Rgbx, w, h, gst::Fraction::new(30, 1)));
    let (buffer, info) = make_frame(&rgb, w, h, VideoFormat::Rgbx, |_| 0);
    let out = rgb_of(&push_pull(&mut harness, buffer), &info);
    assert!(out == expected, "7680x4320 RGBx differs from the core");
}

/// Filler of gaps and padding.
fn filler(i: usize) -> u8 {
    (i * 11 + 1) as u8
}

#[test]
fn odd_strides_and_offsets_of_packed_frames() {
    common::init();
    let Some(model) = model_path() else { return };
    let sgz = || Sgz::load(&model).unwrap();
    for (format, pixel) in [(VideoFormat::Rgbx, PixelFormat::Rgbx), (VideoFormat::Rgb, PixelFormat::Rgb), (VideoFormat::Abgr, PixelFormat::Abgr)] {
        for (w, h, extra, offset) in [(17usize, 9usize, 3usize, 5usize), (32, 24, 1, 1), (5, 31, 7, 3)] {
            let stride = w * pixel.bytes_per_pixel() + extra;
            assert!(stride % 2 == 1 || offset % 2 == 1, "odd");
            let len = offset + stride * h + 9;
            let mut bytes: Vec<u8> = (0..len).map(filler).collect();
            let rgb = noise_image(w, h, 3, (w + h) as u64);
            let [r, g, b] = pixel.rgb_offsets();
            for y in 0..h {
                for x in 0..w {
                    let p = offset + y * stride + x * pixel.bytes_per_pixel();
                    for (c, o) in [r, g, b].into_iter().enumerate() {
                        bytes[p + o] = rgb[(y * w + x) * 3 + c];
                    }
                }
            }
            let mut expected = bytes.clone();
            let layout = FrameLayout { width: w, height: h, stride, format: pixel };
            Enhancer::new(sgz(), EnhancerOptions::default()).unwrap().enhance(&mut expected[offset..], &layout).unwrap();

            let mut buffer = gst::Buffer::from_mut_slice(bytes);
            gst_video::VideoMeta::add_full(
                buffer.get_mut().unwrap(),
                gst_video::VideoFrameFlags::empty(),
                format,
                w as u32,
                h as u32,
                &[offset],
                &[stride as i32],
            )
            .unwrap();
            let mut harness = harness(&model, packed_caps(format, w as u32, h as u32, gst::Fraction::new(30, 1)));
            let out = push_pull(&mut harness, buffer);
            assert!(out == expected, "{format:?} {w}x{h} stride {stride} offset {offset}: differs from the core");
        }
    }
}

#[test]
fn odd_strides_and_offsets_of_yuv_frames() {
    common::init();
    let Some(model) = model_path() else { return };
    for format in [VideoFormat::I420, VideoFormat::Nv12, VideoFormat::Y444] {
        let rows = YuvFrame::noise(format, 23, 17, [0; 3], 1).strides;
        let frame = YuvFrame::noise(format, 23, 17, rows.map(|r| if r % 2 == 1 { 2 } else { 3 }), 77);
        assert!(frame.strides[..frame.planes.len()].iter().all(|s| s % 2 == 1), "{format:?}: odd strides {:?}", frame.strides);
        let expected = frame.core_enhanced(&model, EnhancerOptions::default(), YuvMatrix::Bt601, YuvRange::Full);
        let mut harness = harness(&model, yuv_caps(format, 23, 17, Some("1:4:0:0")));
        let out = push_pull(&mut harness, frame.buffer(5));
        assert!(out == expected.buffer(5).map_readable().unwrap().to_vec(), "{format:?}: differs from the core");
    }
}
