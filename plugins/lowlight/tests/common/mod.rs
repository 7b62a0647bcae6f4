//! Helpers shared by the plugin's tests.
#![allow(dead_code)]

pub mod media;
pub mod rtsp;
pub mod yuv;

use std::path::PathBuf;
use std::sync::Once;

/// Initialises GStreamer once and registers the plugin from the rlib.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstlowlight::plugin_register_static().expect("lowlight plugin registers");
    });
}

/// `<workspace>/../shared/reference/sgz/weights.safetensors` (the authors'
/// weights), or `None` with a printed reason.
pub fn model_path() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/sgz/weights.safetensors");
    if path.is_file() {
        Some(path.canonicalize().unwrap_or(path))
    } else {
        eprintln!(
            "SKIPPED: {} is absent (the reference weights live in ../shared beside the checkout)",
            path.display()
        );
        None
    }
}

/// A deterministic pseudo-random dark image (xorshift), `w * h * channels` bytes in 0..120.
pub fn noise_image(w: usize, h: usize, channels: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..w * h * channels)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 33) % 120) as u8
        })
        .collect()
}

/// Byte offsets of R, G, B inside one pixel of a packed GStreamer format.
pub fn rgb_offsets(format: gst_video::VideoFormat) -> [usize; 3] {
    let info = gst_video::VideoFormatInfo::from_format(format);
    let offs = info.poffset();
    [offs[0] as usize, offs[1] as usize, offs[2] as usize]
}

/// A buffer laid out as GStreamer lays out `format` at `w x h` (rows padded
/// as `VideoInfo` says) holding the tightly packed RGB image `rgb`; every
/// other byte (alpha, x, row padding) is `filler(i)`.
pub fn make_frame(
    rgb: &[u8],
    w: u32,
    h: u32,
    format: gst_video::VideoFormat,
    filler: impl Fn(usize) -> u8,
) -> (gst::Buffer, gst_video::VideoInfo) {
    let info = gst_video::VideoInfo::builder(format, w, h).build().unwrap();
    let (stride, bpp) = (info.stride()[0] as usize, info.format_info().pixel_stride()[0] as usize);
    let mut bytes: Vec<u8> = (0..info.size()).map(&filler).collect();
    let off = rgb_offsets(format);
    for y in 0..h as usize {
        for x in 0..w as usize {
            for c in 0..3 {
                bytes[y * stride + x * bpp + off[c]] = rgb[(y * w as usize + x) * 3 + c];
            }
        }
    }
    (gst::Buffer::from_mut_slice(bytes), info)
}

/// The RGB samples of a frame laid out as `info` says, tightly packed.
pub fn rgb_of(bytes: &[u8], info: &gst_video::VideoInfo) -> Vec<u8> {
    let (w, h) = (info.width() as usize, info.height() as usize);
    let (stride, bpp) = (info.stride()[0] as usize, info.format_info().pixel_stride()[0] as usize);
    let off = rgb_offsets(info.format());
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            for c in off {
                out.push(bytes[y * stride + x * bpp + c]);
            }
        }
    }
    out
}

/// The core enhancer's result on a tightly packed RGB image (the reference
/// every element output is compared with).
pub fn core_enhance(model: &std::path::Path, rgb: &[u8], w: usize, h: usize, strength: f32) -> Vec<u8> {
    let sgz = lowlight::Sgz::load(model).unwrap();
    let options = lowlight::EnhancerOptions { strength, ..Default::default() };
    let mut enhancer = lowlight::Enhancer::new(sgz, options).unwrap();
    let mut out = rgb.to_vec();
    enhancer.enhance(&mut out, &lowlight::FrameLayout::packed(w, h, lowlight::PixelFormat::Rgb)).unwrap();
    out
}

/// A `lowlightenhance` with `model` set (the harness starts the element at
/// once, so the model must be set before).
pub fn element(model: &std::path::Path) -> gst::Element {
    let e = gst::ElementFactory::make("lowlightenhance").property("model", model.to_str().unwrap()).build().unwrap();
    // These tests compare with the CPU core exactly; the GPU path (within
    // one step) is tested by tests/cuda.rs.
    #[cfg(feature = "cuda")]
    gst::prelude::GObjectExtManualGst::set_property_from_str(&e, "device", "cpu");
    e
}

/// A started harness around `lowlightenhance` with `model` and caps for `info`.
pub fn harness(model: &std::path::Path, info: &gst_video::VideoInfo) -> gst_check::Harness {
    let mut h = gst_check::Harness::with_element(&element(model), Some("sink"), Some("src"));
    h.set_src_caps(info.to_caps().unwrap());
    h
}

/// Pushes `buffer` and returns the bytes that come out.
pub fn push_pull(h: &mut gst_check::Harness, buffer: gst::Buffer) -> Vec<u8> {
    assert_eq!(h.push(buffer), Ok(gst::FlowSuccess::Ok));
    let out = h.pull().expect("a buffer comes out");
    out.map_readable().unwrap().as_slice().to_vec()
}

/// Mean luma (Rec. 601 weights on the 8-bit R'G'B', 0..1) of columns
/// `x0..x1` of an RGBx frame.
pub fn rgbx_luma(bytes: &[u8], (w, h, stride): (usize, usize, usize), (x0, x1): (usize, usize)) -> f64 {
    assert!(x0 < x1 && x1 <= w);
    let mut sum = 0.0;
    for y in 0..h {
        for px in bytes[y * stride + 4 * x0..y * stride + 4 * x1].chunks_exact(4) {
            sum += 0.299 * px[0] as f64 + 0.587 * px[1] as f64 + 0.114 * px[2] as f64;
        }
    }
    sum / ((x1 - x0) * h) as f64 / 255.0
}

/// Mean of the RGB samples, 0..1.
pub fn mean(rgb: &[u8]) -> f64 {
    rgb.iter().map(|&v| v as f64).sum::<f64>() / (rgb.len() as f64 * 255.0)
}
