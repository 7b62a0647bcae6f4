//! Bilinear resampling with PyTorch's conventions.
//!
//! Down-scaling (frame -> EFE input) uses `align_corners = false`: output
//! index `o` reads source coordinate `max((o + 0.5) * in/out - 0.5, 0)`.
//! Up-scaling (factor map -> frame) uses `align_corners = true`: source
//! coordinate `o * (in - 1) / (out - 1)`, or 0 when `out == 1`.
//! For a frame whose size is a multiple of the scale factor these are exactly
//! the reference's conventions; for other sizes the true size ratio is used,
//! so every pixel of the frame is covered.

use rayon::prelude::*;

use crate::frame::FrameLayout;
use crate::ops::curve::Isa;
#[cfg(target_arch = "x86_64")]
use crate::ops::downscale_avx2;

/// One output position of a 1-D bilinear resampling: two source indices and
/// their weights (`w0 + w1 == 1`; `i1 == i0` at the last source index).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tap {
    pub i0: usize,
    pub i1: usize,
    pub w0: f32,
    pub w1: f32,
}

/// The taps of resampling `input` positions to `output` positions.
pub fn bilinear_taps(input: usize, output: usize, align_corners: bool) -> Vec<Tap> {
    let scale = if align_corners {
        if output > 1 { (input - 1) as f32 / (output - 1) as f32 } else { 0.0 }
    } else {
        input as f32 / output as f32
    };
    (0..output)
        .map(|o| {
            let src = if align_corners { scale * o as f32 } else { (scale * (o as f32 + 0.5) - 0.5).max(0.0) };
            let i0 = (src as usize).min(input - 1);
            let i1 = if i0 < input - 1 { i0 + 1 } else { i0 };
            let w1 = (src - i0 as f32).clamp(0.0, 1.0);
            Tap { i0, i1, w0: 1.0 - w1, w1 }
        })
        .collect()
}

/// The resampling as a dense `[output, input]` matrix (row-major), for the
/// differentiable tensor path: `resampled = M x`.
pub fn bilinear_matrix(input: usize, output: usize, align_corners: bool) -> Vec<f32> {
    let mut m = vec![0f32; output * input];
    for (o, t) in bilinear_taps(input, output, align_corners).into_iter().enumerate() {
        m[o * input + t.i0] += t.w0;
        m[o * input + t.i1] += t.w1;
    }
    m
}

/// Size of the low-resolution grid the EFE runs on: `ceil(h / s) x ceil(w / s)`.
pub fn low_res_size(height: usize, width: usize, scale_factor: usize) -> (usize, usize) {
    (height.div_ceil(scale_factor), width.div_ceil(scale_factor))
}

/// `u8 as f32 / 255.0` for every byte value: bit-identical to the reference's
/// normalisation, which a multiplication by `1/255` is not.
pub static U8_TO_UNIT: [f32; 256] = {
    let mut t = [0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as f32 / 255.0;
        i += 1;
    }
    t
};

/// Down-scales a packed 8-bit frame straight to a planar f32 RGB image
/// `[3, out_h, out_w]` in 0..1 (bilinear, `align_corners = false`).
pub fn downscale_packed(frame: &[u8], layout: &FrameLayout, out_h: usize, out_w: usize, out: &mut [f32]) {
    downscale_packed_with(frame, layout, out_h, out_w, out, Isa::detect());
}

/// [`downscale_packed`] with the kernels of `isa` (one that the CPU has);
/// every set gives the same floats.
pub(crate) fn downscale_packed_with(frame: &[u8], layout: &FrameLayout, out_h: usize, out_w: usize, out: &mut [f32], isa: Isa) {
    let plane = out_h * out_w;
    assert_eq!(out.len(), 3 * plane, "output must hold [3, {out_h}, {out_w}]");
    let ty = bilinear_taps(layout.height, out_h, false);
    let tx = bilinear_taps(layout.width, out_w, false);
    let bpp = layout.format.bytes_per_pixel();
    let offsets = layout.format.rgb_offsets();
    #[cfg(target_arch = "x86_64")]
    let lanes = (isa >= Isa::Avx2).then(|| downscale_avx2::ColumnLanes::new(&tx, |x| x * bpp, |_| 0));
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    let (r_plane, rest) = out.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    r_plane
        .par_chunks_mut(out_w)
        .zip(g_plane.par_chunks_mut(out_w))
        .zip(b_plane.par_chunks_mut(out_w))
        .zip(ty.par_iter())
        .for_each(|(((r, g), b), ry)| {
            let row0 = &frame[ry.i0 * layout.stride..];
            let row1 = &frame[ry.i1 * layout.stride..];
            #[cfg(target_arch = "x86_64")]
            let done = match &lanes {
                // SAFETY: the CPU has AVX2 and FMA (isa).
                Some(lanes) => unsafe {
                    let shifts = offsets.map(|o| 8 * o as u32);
                    downscale_avx2::packed_row([row0, row1], lanes, (ry.w0, ry.w1), shifts, [&mut *r, &mut *g, &mut *b])
                },
                None => 0,
            };
            #[cfg(not(target_arch = "x86_64"))]
            let done = 0;
            for (c, dst) in [r, g, b].into_iter().enumerate() {
                let off = offsets[c];
                for (d, cx) in dst.iter_mut().zip(&tx).skip(done) {
                    let p = |row: &[u8], x: usize| U8_TO_UNIT[row[x * bpp + off] as usize];
                    let top = p(row0, cx.i0) * cx.w0 + p(row0, cx.i1) * cx.w1;
                    let bottom = p(row1, cx.i0) * cx.w0 + p(row1, cx.i1) * cx.w1;
                    *d = top * ry.w0 + bottom * ry.w1;
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel set down-scales to the same floats, bit for bit, in
    /// every packed format, on odd sizes, padded rows and unpadded ones
    /// (where the last pixel ends the buffer).
    #[test]
    fn downscale_kernels_equal_the_portable_loops() {
        use crate::frame::PixelFormat;
        use crate::ops::fused::tests::noise;
        for format in PixelFormat::ALL {
            for (w, h, s) in [(1, 1, 1), (9, 5, 2), (16, 4, 1), (33, 17, 1), (70, 41, 3), (199, 37, 12)] {
                for pad in [0, 5] {
                    let mut layout = FrameLayout::packed(w, h, format);
                    layout.stride += pad;
                    let frame = noise(layout.min_buffer_len(), (w * h + pad) as u64);
                    let (oh, ow) = low_res_size(h, w, s);
                    let run = |isa| {
                        let mut out = vec![0f32; 3 * oh * ow];
                        downscale_packed_with(&frame, &layout, oh, ow, &mut out, isa);
                        out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                    };
                    let portable = run(Isa::Portable);
                    for isa in Isa::available() {
                        let first_difference = run(isa).iter().zip(&portable).position(|(a, b)| a != b);
                        assert_eq!(first_difference, None, "{format:?} {w}x{h} /{s} pad {pad} {isa:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn taps_match_pytorch_conventions() {
        // align_corners = false, s = 12: rows 12i+5 and 12i+6, weights 1/2.
        let t = bilinear_taps(24, 2, false);
        assert_eq!(t[1], Tap { i0: 17, i1: 18, w0: 0.5, w1: 0.5 });
        // align_corners = true hits both ends exactly.
        let t = bilinear_taps(4, 10, true);
        assert_eq!((t[0].i0, t[0].w1), (0, 0.0));
        assert_eq!((t[9].i0, t[9].i1, t[9].w1), (3, 3, 0.0));
        // A single output row reads the first input row.
        assert_eq!(bilinear_taps(5, 1, true)[0].i0, 0);
        // A single input row is copied.
        assert!(bilinear_taps(1, 7, true).iter().all(|t| t.i0 == 0 && t.i1 == 0));
        assert!(bilinear_taps(1, 1, false).iter().all(|t| t.i0 == 0 && t.i1 == 0));
    }

    #[test]
    fn matrix_rows_sum_to_one() {
        for (i, o, ac) in [(37, 4, false), (4, 37, true), (1, 5, true), (5, 1, false)] {
            let m = bilinear_matrix(i, o, ac);
            for r in m.chunks(i) {
                assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn low_res_grid_covers_every_pixel() {
        assert_eq!(low_res_size(396, 600, 12), (33, 50));
        assert_eq!(low_res_size(359, 641, 12), (30, 54));
        assert_eq!(low_res_size(1, 1, 12), (1, 1));
    }
}
