//! The fused frame kernel: bilinear up-sampling of the low-res factor map
//! (`align_corners = true`), u8 -> f32, the RIE curve steps, clamp, rounding
//! `floor(x * 255 + 0.5)` and the write-back, in one pass over the frame, in
//! place. No full-resolution f32 image is ever built: each worker holds a few
//! rows of f32 at a time.
//!
//! The factor map is interpolated as the reference does it, horizontally
//! first (once per low-res row, shared by the ~s frame rows between two
//! low-res rows) and then vertically per frame row.

use rayon::prelude::*;

use crate::frame::FrameLayout;
use crate::ops::resample::{Tap, U8_TO_UNIT, bilinear_taps};

/// Pixels processed together in registers; two AVX vectors.
const LANES: usize = 16;

/// Reusable buffers of the fused pass (kept across frames of one size).
#[derive(Default)]
pub struct FusedScratch {
    /// `[h][3][W]`: each low-res row of the factor map, up-sampled horizontally.
    hrows: Vec<f32>,
}

/// Enhances `frame` in place. `factor_low` is the planar `[3, h, w]` factor
/// map; `strength` scales it; `iterations` curve steps are applied.
pub fn enhance_packed(
    frame: &mut [u8],
    layout: &FrameLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    scratch: &mut FusedScratch,
) {
    let (width, height) = (layout.width, layout.height);
    assert_eq!(factor_low.len(), 3 * h * w, "factor map must be [3, {h}, {w}]");
    let tx = bilinear_taps(w, width, true);
    let ty = bilinear_taps(h, height, true);

    // Horizontal pass over the low-res rows.
    scratch.hrows.resize(h * 3 * width, 0.0);
    scratch.hrows.par_chunks_mut(3 * width).enumerate().for_each(|(j, dst)| {
        for c in 0..3 {
            let src = &factor_low[(c * h + j) * w..(c * h + j + 1) * w];
            for (d, t) in dst[c * width..(c + 1) * width].iter_mut().zip(&tx) {
                *d = (src[t.i0] * strength) * t.w0 + (src[t.i1] * strength) * t.w1;
            }
        }
    });
    let hrows = &scratch.hrows;

    let rows_per_task = (16384 / width.max(1)).clamp(1, 64);
    frame[..layout.min_buffer_len()]
        .par_chunks_mut(layout.stride * rows_per_task)
        .enumerate()
        .for_each_init(
            || vec![0f32; 6 * width],
            |buf, (chunk, bytes)| {
                let (x, r) = buf.split_at_mut(3 * width);
                for (k, ry) in ty[chunk * rows_per_task..].iter().take(rows_per_task).enumerate() {
                    let row = &mut bytes[k * layout.stride..k * layout.stride + layout.row_bytes()];
                    process_row(row, layout, hrows, ry, iterations, x, r);
                }
            },
        );
}

fn process_row(row: &mut [u8], layout: &FrameLayout, hrows: &[f32], ry: &Tap, iterations: usize, x: &mut [f32], r: &mut [f32]) {
    let width = layout.width;
    let bpp = layout.format.bytes_per_pixel();
    let offsets = layout.format.rgb_offsets();
    for c in 0..3 {
        let xs = &mut x[c * width..(c + 1) * width];
        for (i, v) in xs.iter_mut().enumerate() {
            *v = U8_TO_UNIT[row[i * bpp + offsets[c]] as usize];
        }
    }
    let top = &hrows[ry.i0 * 3 * width..(ry.i0 + 1) * 3 * width];
    let bottom = &hrows[ry.i1 * 3 * width..(ry.i1 + 1) * 3 * width];
    curve(x, r, top, bottom, ry.w0, ry.w1, iterations);
    for c in 0..3 {
        let xs = &x[c * width..(c + 1) * width];
        for (i, &v) in xs.iter().enumerate() {
            row[i * bpp + offsets[c]] = v as u8;
        }
    }
}

/// Interpolates the factor rows vertically into `r`, runs the curve steps on
/// `x` and leaves `floor(clamp(x) * 255 + 0.5)` in `x` (as f32, exact
/// integers 0..=255). Picks an AVX2+FMA build at run time when available.
fn curve(x: &mut [f32], r: &mut [f32], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { curve_avx2_fma(x, r, top, bottom, w0, w1, iterations) };
            return;
        }
    }
    curve_body::<false>(x, r, top, bottom, w0, w1, iterations);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn curve_avx2_fma(x: &mut [f32], r: &mut [f32], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    curve_body::<true>(x, r, top, bottom, w0, w1, iterations);
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

#[inline(always)]
fn curve_body<const FMA: bool>(
    x: &mut [f32],
    r: &mut [f32],
    top: &[f32],
    bottom: &[f32],
    w0: f32,
    w1: f32,
    iterations: usize,
) {
    for ((r, t), b) in r.iter_mut().zip(top).zip(bottom) {
        *r = madd::<FMA>(*b, w1, *t * w0);
    }
    let mut xc = x.chunks_exact_mut(LANES);
    let mut rc = r.chunks_exact(LANES);
    for (xs, rs) in (&mut xc).zip(&mut rc) {
        let xs: &mut [f32; LANES] = xs.try_into().unwrap();
        let rs: &[f32; LANES] = rs.try_into().unwrap();
        steps::<FMA, LANES>(xs, rs, iterations);
    }
    for (xv, &rv) in xc.into_remainder().iter_mut().zip(rc.remainder()) {
        let mut a = [*xv];
        steps::<FMA, 1>(&mut a, &[rv], iterations);
        *xv = a[0];
    }
}

#[inline(always)]
fn steps<const FMA: bool, const N: usize>(x: &mut [f32; N], r: &[f32; N], iterations: usize) {
    let mut v = *x;
    for _ in 0..iterations {
        for k in 0..N {
            // x + r * (x^2 - x)
            v[k] = madd::<FMA>(r[k], madd::<FMA>(v[k], v[k], -v[k]), v[k]);
        }
    }
    for k in 0..N {
        // Clamped to 0..1 first, so truncation is floor and the value fits a u8.
        x[k] = ((v[k].clamp(0.0, 1.0) * 255.0 + 0.5) as i32) as f32;
    }
}
