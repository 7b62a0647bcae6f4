//! Planar YUV frames (I420, NV12, Y444) read and written directly: YUV -> RGB
//! -> curve -> YUV in one pass, in place, and the down-scale straight from
//! the planes. No RGB copy of the frame exists.
//!
//! Chroma is up-sampled by replication (each chroma sample covers its 2x2
//! block) and the enhanced chroma is the mean over the block's pixels.

use rayon::prelude::*;

use crate::frame::{YuvFormat, YuvLayout, YuvMatrix, YuvRange};
use crate::ops::curve::curve_f32;
use crate::ops::fused::{Lanes, horizontal_rows};
use crate::ops::resample::bilinear_taps;

/// The matrix and range as per-sample arithmetic.
#[derive(Debug, Clone, Copy)]
pub struct Coeffs {
    kr: f32,
    kb: f32,
    kg: f32,
    y_off: f32,
    /// Code value steps per unit of Y and of chroma.
    y_steps: f32,
    c_steps: f32,
}

impl Coeffs {
    pub fn new(matrix: YuvMatrix, range: YuvRange) -> Self {
        let (kr, kb) = match matrix {
            YuvMatrix::Bt601 => (0.299, 0.114),
            YuvMatrix::Bt709 => (0.2126, 0.0722),
        };
        let (y_off, y_steps, c_steps) = match range {
            YuvRange::Limited => (16.0, 219.0, 224.0),
            YuvRange::Full => (0.0, 255.0, 255.0),
        };
        Coeffs { kr, kb, kg: 1.0 - kr - kb, y_off, y_steps, c_steps }
    }

    /// Code values to RGB in 0..1 (clamped).
    #[inline(always)]
    pub fn to_rgb(&self, y: u8, u: u8, v: u8) -> [f32; 3] {
        let yy = (y as f32 - self.y_off) / self.y_steps;
        let cb = (u as f32 - 128.0) / self.c_steps;
        let cr = (v as f32 - 128.0) / self.c_steps;
        let r = yy + 2.0 * (1.0 - self.kr) * cr;
        let b = yy + 2.0 * (1.0 - self.kb) * cb;
        let g = (yy - self.kr * r - self.kb * b) / self.kg;
        [r.clamp(0.0, 1.0), g.clamp(0.0, 1.0), b.clamp(0.0, 1.0)]
    }

    /// RGB to unit luma and chroma: `(y, cb, cr)` (y in 0..1, chroma in -0.5..0.5).
    #[inline(always)]
    pub fn from_rgb(&self, r: f32, g: f32, b: f32) -> (f32, f32, f32) {
        let y = self.kr * r + self.kg * g + self.kb * b;
        (y, (b - y) / (2.0 * (1.0 - self.kb)), (r - y) / (2.0 * (1.0 - self.kr)))
    }

    #[inline(always)]
    pub fn y_code(&self, y: f32) -> u8 {
        quantise(y * self.y_steps + self.y_off)
    }

    #[inline(always)]
    pub fn c_code(&self, c: f32) -> u8 {
        quantise(c * self.c_steps + 128.0)
    }
}

#[inline(always)]
fn quantise(v: f32) -> u8 {
    (v + 0.5).max(0.0).min(255.0) as u8
}

/// Immutable view of the planes.
#[derive(Clone, Copy)]
pub struct YuvPlanes<'a> {
    pub planes: [&'a [u8]; 3],
    pub layout: &'a YuvLayout,
}

impl YuvPlanes<'_> {
    /// The code values of pixel (x, y).
    #[inline(always)]
    fn sample(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let l = self.layout;
        let (sx, sy) = l.format.subsampling();
        let (cx, cy) = (x / sx, y / sy);
        let luma = self.planes[0][y * l.strides[0] + x];
        match l.format {
            YuvFormat::Nv12 => {
                let i = cy * l.strides[1] + 2 * cx;
                (luma, self.planes[1][i], self.planes[1][i + 1])
            }
            _ => (luma, self.planes[1][cy * l.strides[1] + cx], self.planes[2][cy * l.strides[2] + cx]),
        }
    }
}

/// Down-scales a YUV frame to a planar f32 RGB image `[3, out_h, out_w]` in
/// 0..1 (bilinear, `align_corners = false`, as the packed down-scale).
pub fn downscale_yuv(frame: YuvPlanes<'_>, out_h: usize, out_w: usize, out: &mut [f32]) {
    let l = frame.layout;
    let plane = out_h * out_w;
    assert_eq!(out.len(), 3 * plane, "output must hold [3, {out_h}, {out_w}]");
    let coeffs = Coeffs::new(l.matrix, l.range);
    let ty = bilinear_taps(l.height, out_h, false);
    let tx = bilinear_taps(l.width, out_w, false);
    let (r_plane, rest) = out.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    r_plane
        .par_chunks_mut(out_w)
        .zip(g_plane.par_chunks_mut(out_w))
        .zip(b_plane.par_chunks_mut(out_w))
        .zip(ty.par_iter())
        .for_each(|(((r, g), b), ry)| {
            for (j, cx) in tx.iter().enumerate() {
                let rgb = |x, y| {
                    let (yy, u, v) = frame.sample(x, y);
                    coeffs.to_rgb(yy, u, v)
                };
                let (p00, p01, p10, p11) = (rgb(cx.i0, ry.i0), rgb(cx.i1, ry.i0), rgb(cx.i0, ry.i1), rgb(cx.i1, ry.i1));
                for (c, dst) in [&mut r[j], &mut g[j], &mut b[j]].into_iter().enumerate() {
                    let top = p00[c] * cx.w0 + p01[c] * cx.w1;
                    let bottom = p10[c] * cx.w0 + p11[c] * cx.w1;
                    *dst = top * ry.w0 + bottom * ry.w1;
                }
            }
        });
}

/// Per-worker rows of f32: planar RGB of one frame row and the chroma sums.
#[derive(Default)]
struct RowBuffers {
    rgb: Vec<f32>,
    cb: Vec<f32>,
    cr: Vec<f32>,
    count: Vec<f32>,
}

/// One chroma row, planar (I420, Y444) or interleaved (NV12).
enum ChromaRow<'a> {
    Planar(&'a mut [u8], &'a mut [u8]),
    Interleaved(&'a mut [u8]),
}

impl ChromaRow<'_> {
    #[inline(always)]
    fn get(&self, cx: usize) -> (u8, u8) {
        match self {
            ChromaRow::Planar(u, v) => (u[cx], v[cx]),
            ChromaRow::Interleaved(uv) => (uv[2 * cx], uv[2 * cx + 1]),
        }
    }

    #[inline(always)]
    fn set(&mut self, cx: usize, u: u8, v: u8) {
        match self {
            ChromaRow::Planar(pu, pv) => {
                pu[cx] = u;
                pv[cx] = v;
            }
            ChromaRow::Interleaved(uv) => {
                uv[2 * cx] = u;
                uv[2 * cx + 1] = v;
            }
        }
    }
}

/// Scratch of the YUV fused pass, kept across frames.
#[derive(Default)]
pub struct YuvScratch {
    hrows: Vec<f32>,
}

/// Enhances a YUV frame in place (see the module docs). `planes[2]` is
/// ignored for NV12.
#[allow(clippy::too_many_arguments)]
pub fn enhance_yuv(
    planes: [&mut [u8]; 3],
    layout: &YuvLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    scratch: &mut YuvScratch,
) {
    let width = layout.width;
    assert_eq!(factor_low.len(), 3 * h * w, "factor map must be [3, {h}, {w}]");
    horizontal_rows(factor_low, (h, w), width, strength, Lanes::Planar, &mut scratch.hrows);
    let hrows = &scratch.hrows;
    let ty = bilinear_taps(h, layout.height, true);
    let coeffs = Coeffs::new(layout.matrix, layout.range);
    let (_, sy) = layout.format.subsampling();
    let (cw, ch) = layout.chroma_size();
    let [py, pu, pv] = planes;

    // Tasks of whole chroma rows: `sy` luma rows per chroma row.
    let chroma_rows_per_task = (16384 / width.max(1)).clamp(1, 32);
    let luma_rows_per_task = chroma_rows_per_task * sy;
    let py = &mut py[..layout.plane_min_len(0)];
    let pu = &mut pu[..layout.plane_min_len(1)];
    let luma = py.par_chunks_mut(layout.strides[0] * luma_rows_per_task);
    let chroma1 = pu.par_chunks_mut(layout.strides[1] * chroma_rows_per_task);
    // NV12 has no third plane: each task gets an empty slice instead.
    let n_tasks = ch.div_ceil(chroma_rows_per_task);
    let v_chunks: Vec<&mut [u8]> = if layout.format == YuvFormat::Nv12 {
        (0..n_tasks).map(|_| <&mut [u8]>::default()).collect()
    } else {
        let min = layout.plane_min_len(2);
        pv[..min].chunks_mut(layout.strides[2] * chroma_rows_per_task).collect()
    };

    luma.zip(chroma1).zip(v_chunks.into_par_iter()).enumerate().for_each_init(RowBuffers::default, |buf, (task, ((ys, us), vs))| {
        buf.rgb.resize(3 * width, 0.0);
        for k in 0..chroma_rows_per_task {
            let cy = task * chroma_rows_per_task + k;
            if cy >= ch {
                break;
            }
            let mut chroma = match layout.format {
                YuvFormat::Nv12 => ChromaRow::Interleaved(&mut us[k * layout.strides[1]..][..2 * cw]),
                _ => ChromaRow::Planar(
                    &mut us[k * layout.strides[1]..][..cw],
                    &mut vs[k * layout.strides[2]..][..cw],
                ),
            };
            buf.cb.clear();
            buf.cb.resize(cw, 0.0);
            buf.cr.clear();
            buf.cr.resize(cw, 0.0);
            buf.count.clear();
            buf.count.resize(cw, 0.0);
            for dy in 0..sy {
                let y = cy * sy + dy;
                if y >= layout.height {
                    break;
                }
                let row = &mut ys[(k * sy + dy) * layout.strides[0]..][..width];
                enhance_row(row, &mut chroma, buf, layout.format, &coeffs, hrows, &ty[y], iterations);
            }
            for cx in 0..cw {
                let n = buf.count[cx];
                chroma.set(cx, coeffs.c_code(buf.cb[cx] / n), coeffs.c_code(buf.cr[cx] / n));
            }
        }
    });
}

/// Converts one luma row with its chroma row to planar RGB, runs the curve,
/// writes the new luma and adds the new chroma of each pixel to the sums.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn enhance_row(
    row: &mut [u8],
    chroma: &mut ChromaRow<'_>,
    buf: &mut RowBuffers,
    format: YuvFormat,
    coeffs: &Coeffs,
    hrows: &[f32],
    ry: &crate::ops::resample::Tap,
    iterations: usize,
) {
    let width = row.len();
    let (sx, _) = format.subsampling();
    let (r, rest) = buf.rgb.split_at_mut(width);
    let (g, b) = rest.split_at_mut(width);
    for x in 0..width {
        let (u, v) = chroma.get(x / sx);
        let [rr, gg, bb] = coeffs.to_rgb(row[x], u, v);
        r[x] = rr;
        g[x] = gg;
        b[x] = bb;
    }
    let top = &hrows[ry.i0 * 3 * width..(ry.i0 + 1) * 3 * width];
    let bottom = &hrows[ry.i1 * 3 * width..(ry.i1 + 1) * 3 * width];
    curve_f32(&mut buf.rgb, top, bottom, ry.w0, ry.w1, iterations);
    let (r, rest) = buf.rgb.split_at(width);
    let (g, b) = rest.split_at(width);
    for x in 0..width {
        let (yy, cb, cr) = coeffs.from_rgb(r[x], g[x], b[x]);
        row[x] = coeffs.y_code(yy);
        let cx = x / sx;
        buf.cb[cx] += cb;
        buf.cr[cx] += cr;
        buf.count[cx] += 1.0;
    }
}
