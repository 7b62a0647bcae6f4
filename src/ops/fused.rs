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
use crate::ops::curve::curve_bytes_row;
use crate::ops::resample::bilinear_taps;

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
    let ty = bilinear_taps(h, layout.height, true);
    let bpp = layout.format.bytes_per_pixel();
    let offsets = layout.format.rgb_offsets();

    let lanes = Lanes::Interleaved { bpp, offsets };
    horizontal_rows(factor_low, (h, w), layout.width, strength, lanes, &mut scratch.hrows);
    let hrows = &scratch.hrows;

    let rows_per_task = (32768 / row_bytes.max(1)).clamp(1, 64);
    frame[..layout.min_buffer_len()].par_chunks_mut(layout.stride * rows_per_task).enumerate().for_each(
        |(chunk, bytes)| {
            for (k, ry) in ty[chunk * rows_per_task..].iter().take(rows_per_task).enumerate() {
                let row = &mut bytes[k * layout.stride..k * layout.stride + row_bytes];
                let top = &hrows[ry.i0 * row_bytes..(ry.i0 + 1) * row_bytes];
                let bottom = &hrows[ry.i1 * row_bytes..(ry.i1 + 1) * row_bytes];
                curve_bytes_row(row, top, bottom, ry.w0, ry.w1, iterations);
            }
        },
    );
}

/// How the three factor channels are laid out in a row of lanes.
#[derive(Debug, Clone, Copy)]
pub enum Lanes {
    /// Like a packed frame row: channel c of pixel x at `x * bpp + offsets[c]`, 0 elsewhere.
    Interleaved { bpp: usize, offsets: [usize; 3] },
    /// Channel c of pixel x at `c * width + x`.
    Planar,
}

impl Lanes {
    fn row_len(self, width: usize) -> usize {
        match self {
            Lanes::Interleaved { bpp, .. } => width * bpp,
            Lanes::Planar => 3 * width,
        }
    }
}

/// Up-samples every low-res row of the factor map horizontally to `width`
/// (bilinear, `align_corners = true`), scaled by `strength`, into `out`
/// (`[h][row]`, rows laid out as `lanes` says).
pub fn horizontal_rows(
    factor_low: &[f32],
    (h, w): (usize, usize),
    width: usize,
    strength: f32,
    lanes: Lanes,
    out: &mut Vec<f32>,
) {
    let tx = bilinear_taps(w, width, true);
    let row_len = lanes.row_len(width);
    out.clear();
    out.resize(h * row_len, 0.0);
    out.par_chunks_mut(row_len).enumerate().for_each(|(j, dst)| {
        for c in 0..3 {
            let src = &factor_low[(c * h + j) * w..(c * h + j + 1) * w];
            let (start, step) = match lanes {
                Lanes::Interleaved { bpp, offsets } => (offsets[c], bpp),
                Lanes::Planar => (c * width, 1),
            };
            for (x, t) in tx.iter().enumerate() {
                dst[start + x * step] = (src[t.i0] * strength) * t.w0 + (src[t.i1] * strength) * t.w1;
            }
        }
    });
}
