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
use crate::ops::resample::{Tap, bilinear_taps};

/// Bytes processed together in registers: four AVX vectors of f32.
const BLOCK: usize = 32;

/// Reusable buffers of the fused pass (kept across frames of one size).
#[derive(Default)]
pub struct FusedScratch {
    /// `[h][row_bytes]`: each low-res row of the factor map, up-sampled
    /// horizontally and laid out like a row of the frame (padding lanes 0).
    hrows: Vec<f32>,
}

/// Enhances `frame` in place. `factor_low` is the planar `[3, h, w]` factor
/// map; `strength` scales it; `iterations` curve steps are applied.
///
/// The frame is processed as rows of bytes: every byte becomes an f32 lane,
/// and the factor map is laid out to match, with 0 in alpha/padding lanes. A
/// zero factor leaves a byte exactly as it was, so alpha survives and the
/// whole row vectorises without de-interleaving.
pub fn enhance_packed(
    frame: &mut [u8],
    layout: &FrameLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    scratch: &mut FusedScratch,
) {
    let row_bytes = layout.row_bytes();
    assert_eq!(factor_low.len(), 3 * h * w, "factor map must be [3, {h}, {w}]");
    let tx = bilinear_taps(w, layout.width, true);
    let ty = bilinear_taps(h, layout.height, true);
    let bpp = layout.format.bytes_per_pixel();
    let offsets = layout.format.rgb_offsets();

    // Horizontal pass over the low-res rows.
    scratch.hrows.clear();
    scratch.hrows.resize(h * row_bytes, 0.0);
    scratch.hrows.par_chunks_mut(row_bytes).enumerate().for_each(|(j, dst)| {
        for (c, &off) in offsets.iter().enumerate() {
            let src = &factor_low[(c * h + j) * w..(c * h + j + 1) * w];
            for (x, t) in tx.iter().enumerate() {
                dst[x * bpp + off] = (src[t.i0] * strength) * t.w0 + (src[t.i1] * strength) * t.w1;
            }
        }
    });
    let hrows = &scratch.hrows;

    let rows_per_task = (32768 / row_bytes.max(1)).clamp(1, 64);
    frame[..layout.min_buffer_len()].par_chunks_mut(layout.stride * rows_per_task).enumerate().for_each(
        |(chunk, bytes)| {
            for (k, ry) in ty[chunk * rows_per_task..].iter().take(rows_per_task).enumerate() {
                let row = &mut bytes[k * layout.stride..k * layout.stride + row_bytes];
                let top = &hrows[ry.i0 * row_bytes..(ry.i0 + 1) * row_bytes];
                let bottom = &hrows[ry.i1 * row_bytes..(ry.i1 + 1) * row_bytes];
                curve_row(row, top, bottom, ry, iterations);
            }
        },
    );
}

/// One frame row: `factor = top * w0 + bottom * w1`, then the curve steps.
/// Picks an AVX2+FMA build at run time when the CPU has it.
fn curve_row(row: &mut [u8], top: &[f32], bottom: &[f32], ry: &Tap, iterations: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { curve_row_avx2_fma(row, top, bottom, ry.w0, ry.w1, iterations) };
            return;
        }
    }
    curve_row_body::<false>(row, top, bottom, ry.w0, ry.w1, iterations);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn curve_row_avx2_fma(row: &mut [u8], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    curve_row_body::<true>(row, top, bottom, w0, w1, iterations);
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

#[inline(always)]
fn curve_row_body<const FMA: bool>(row: &mut [u8], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    let mut px = row.chunks_exact_mut(BLOCK);
    let mut t = top.chunks_exact(BLOCK);
    let mut b = bottom.chunks_exact(BLOCK);
    for ((px, t), b) in (&mut px).zip(&mut t).zip(&mut b) {
        block::<FMA>(px.try_into().unwrap(), t.try_into().unwrap(), b.try_into().unwrap(), w0, w1, iterations);
    }
    let rest = px.into_remainder();
    if !rest.is_empty() {
        let n = rest.len();
        let (mut p, mut tt, mut bb) = ([0u8; BLOCK], [0f32; BLOCK], [0f32; BLOCK]);
        p[..n].copy_from_slice(rest);
        tt[..n].copy_from_slice(t.remainder());
        bb[..n].copy_from_slice(b.remainder());
        block::<FMA>(&mut p, &tt, &bb, w0, w1, iterations);
        rest.copy_from_slice(&p[..n]);
    }
}

#[inline(always)]
fn block<const FMA: bool>(
    px: &mut [u8; BLOCK],
    top: &[f32; BLOCK],
    bottom: &[f32; BLOCK],
    w0: f32,
    w1: f32,
    iterations: usize,
) {
    let mut x = [0f32; BLOCK];
    let mut r = [0f32; BLOCK];
    for k in 0..BLOCK {
        // Division, not a multiplication by 1/255: bit-identical to the reference.
        x[k] = px[k] as f32 / 255.0;
        r[k] = madd::<FMA>(bottom[k], w1, top[k] * w0);
    }
    for _ in 0..iterations {
        for k in 0..BLOCK {
            // x + r * (x^2 - x)
            x[k] = madd::<FMA>(r[k], madd::<FMA>(x[k], x[k], -x[k]), x[k]);
        }
    }
    for k in 0..BLOCK {
        // max/min map NaN to 0, and after the clamp the value is in 0..=255.5.
        let v = x[k].max(0.0).min(1.0) * 255.0 + 0.5;
        // SAFETY: v is finite and in 0..=255.5, so truncation fits an i32 (and is floor).
        px[k] = unsafe { v.to_int_unchecked::<i32>() } as u8;
    }
}
