//! The per-element bodies of lowlight's CUDA kernels (`kernels/*.cuh`),
//! compiled for the host with a loop standing in for the thread grid. Tests
//! run them over whole frames against the Rust CPU path.

use std::os::raw::c_int;

/// A packed frame: size, row pitch in bytes, bytes per pixel, R/G/B offsets.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Packed {
    pub width: c_int,
    pub height: c_int,
    pub pitch: c_int,
    pub bpp: c_int,
    pub off: [c_int; 3],
}

/// An NV12 frame: size and the pitches of its two planes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Nv12 {
    pub width: c_int,
    pub height: c_int,
    pub y_pitch: c_int,
    pub uv_pitch: c_int,
}

/// YUV matrix and range (the same numbers as `lowlight::ops::yuv::Coeffs`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct YuvCoeffs {
    pub kr: f32,
    pub kb: f32,
    pub kg: f32,
    pub y_off: f32,
    pub y_steps: f32,
    pub c_steps: f32,
}

unsafe extern "C" {
    fn ll_host_downscale_packed(frame: *const u8, f: Packed, out: *mut f32, h: c_int, w: c_int);
    fn ll_host_enhance_packed(frame: *mut u8, f: Packed, low: *const f32, h: c_int, w: c_int, s: f32, it: c_int);
    fn ll_host_downscale_nv12(y: *const u8, uv: *const u8, f: Nv12, k: YuvCoeffs, out: *mut f32, h: c_int, w: c_int);
    fn ll_host_enhance_nv12(
        y: *mut u8,
        uv: *mut u8,
        f: Nv12,
        k: YuvCoeffs,
        low: *const f32,
        h: c_int,
        w: c_int,
        s: f32,
        it: c_int,
    );
    fn ll_host_depthwise3x3(x: *const f32, k: *const f32, out: *mut f32, n: c_int, c: c_int, h: c_int, w: c_int);
    fn ll_host_depthwise3x3_wgrad(x: *const f32, g: *const f32, out: *mut f32, n: c_int, c: c_int, h: c_int, w: c_int);
}

fn packed_len(f: &Packed) -> usize {
    (f.height as usize - 1) * f.pitch as usize + (f.width * f.bpp) as usize
}

fn nv12_lens(f: &Nv12) -> (usize, usize) {
    let (cw, ch) = ((f.width as usize).div_ceil(2), (f.height as usize).div_ceil(2));
    (
        (f.height as usize - 1) * f.y_pitch as usize + f.width as usize,
        (ch - 1) * f.uv_pitch as usize + 2 * cw,
    )
}

/// Low-res EFE input `[3, h, w]` of a packed frame.
pub fn downscale_packed(frame: &[u8], f: Packed, h: usize, w: usize) -> Vec<f32> {
    assert!(frame.len() >= packed_len(&f));
    let mut out = vec![0f32; 3 * h * w];
    // SAFETY: the buffers hold what the layout says (asserted).
    unsafe { ll_host_downscale_packed(frame.as_ptr(), f, out.as_mut_ptr(), h as c_int, w as c_int) };
    out
}

/// The fused pass over a packed frame, in place.
pub fn enhance_packed(frame: &mut [u8], f: Packed, low: &[f32], (h, w): (usize, usize), strength: f32, iterations: usize) {
    assert!(frame.len() >= packed_len(&f) && low.len() == 3 * h * w);
    // SAFETY: as above.
    unsafe {
        ll_host_enhance_packed(frame.as_mut_ptr(), f, low.as_ptr(), h as c_int, w as c_int, strength, iterations as c_int)
    };
}

/// Low-res EFE input `[3, h, w]` of an NV12 frame.
pub fn downscale_nv12(y: &[u8], uv: &[u8], f: Nv12, k: YuvCoeffs, h: usize, w: usize) -> Vec<f32> {
    let (ly, luv) = nv12_lens(&f);
    assert!(y.len() >= ly && uv.len() >= luv);
    let mut out = vec![0f32; 3 * h * w];
    // SAFETY: as above.
    unsafe { ll_host_downscale_nv12(y.as_ptr(), uv.as_ptr(), f, k, out.as_mut_ptr(), h as c_int, w as c_int) };
    out
}

/// The fused pass over an NV12 frame, in place.
#[allow(clippy::too_many_arguments)]
pub fn enhance_nv12(
    y: &mut [u8],
    uv: &mut [u8],
    f: Nv12,
    k: YuvCoeffs,
    low: &[f32],
    (h, w): (usize, usize),
    strength: f32,
    iterations: usize,
) {
    let (ly, luv) = nv12_lens(&f);
    assert!(y.len() >= ly && uv.len() >= luv && low.len() == 3 * h * w);
    // SAFETY: as above.
    unsafe {
        ll_host_enhance_nv12(
            y.as_mut_ptr(),
            uv.as_mut_ptr(),
            f,
            k,
            low.as_ptr(),
            h as c_int,
            w as c_int,
            strength,
            iterations as c_int,
        )
    };
}

/// Depthwise 3x3 convolution of `[n, c, h, w]` with `[c, 3, 3]`.
pub fn depthwise3x3(x: &[f32], k: &[f32], (n, c, h, w): (usize, usize, usize, usize)) -> Vec<f32> {
    assert!(x.len() == n * c * h * w && k.len() == c * 9);
    let mut out = vec![0f32; x.len()];
    // SAFETY: as above.
    unsafe { ll_host_depthwise3x3(x.as_ptr(), k.as_ptr(), out.as_mut_ptr(), n as c_int, c as c_int, h as c_int, w as c_int) };
    out
}

/// Weight gradient `[c, 3, 3]` of the depthwise 3x3 convolution of `x`
/// (`[n, c, h, w]`) given the output gradient `g` (same shape).
pub fn depthwise3x3_wgrad(x: &[f32], g: &[f32], (n, c, h, w): (usize, usize, usize, usize)) -> Vec<f32> {
    assert!(x.len() == n * c * h * w && g.len() == x.len());
    let mut out = vec![0f32; c * 9];
    // SAFETY: as above.
    unsafe {
        ll_host_depthwise3x3_wgrad(x.as_ptr(), g.as_ptr(), out.as_mut_ptr(), n as c_int, c as c_int, h as c_int, w as c_int)
    };
    out
}
