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

    /// Code values to RGB in 0..1 (clamped), with the same arithmetic as the
    /// row conversion of the fused pass and the CUDA kernels.
    #[inline(always)]
    pub fn to_rgb(&self, y: u8, u: u8, v: u8) -> [f32; 3] {
        let (mut r, mut g, mut b) = ([0f32], [0f32], [0f32]);
        self.rows_to_rgb(&[y], &[u as f32], &[v as f32], &mut r, &mut g, &mut b);
        [r[0], g[0], b[0]]
    }

    /// The numbers of the CUDA kernels' `ll_yuv_coeffs`:
    /// `[kr, kb, kg, y_off, y_steps, c_steps]`.
    pub fn to_array(&self) -> [f32; 6] {
        [self.kr, self.kb, self.kg, self.y_off, self.y_steps, self.c_steps]
    }

    /// RGB to unit luma and chroma: `(y, cb, cr)` (y in 0..1, chroma in -0.5..0.5).
    #[inline(always)]
    pub fn from_rgb(&self, r: f32, g: f32, b: f32) -> (f32, f32, f32) {
        let y = self.kr * r + self.kg * g + self.kb * b;
        (y, (b - y) / (2.0 * (1.0 - self.kb)), (r - y) / (2.0 * (1.0 - self.kr)))
    }

    /// A row of code values (chroma given per pixel, as f32) to planar RGB.
    #[inline(always)]
    fn rows_to_rgb(&self, y: &[u8], u: &[f32], v: &[f32], r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
        let (ys, cs) = (1.0 / self.y_steps, 1.0 / self.c_steps);
        let (rv, bu) = (2.0 * (1.0 - self.kr) * cs, 2.0 * (1.0 - self.kb) * cs);
        let (gu, gv) = (-self.kb * bu / self.kg, -self.kr * rv / self.kg);
        let n = y.len();
        let (u, v, r, g, b) = (&u[..n], &v[..n], &mut r[..n], &mut g[..n], &mut b[..n]);
        for x in 0..n {
            let yy = (y[x] as f32 - self.y_off) * ys;
            let (cu, cv) = (u[x] - 128.0, v[x] - 128.0);
            r[x] = (yy + rv * cv).max(0.0).min(1.0);
            g[x] = (yy + gu * cu + gv * cv).max(0.0).min(1.0);
            b[x] = (yy + bu * cu).max(0.0).min(1.0);
        }
    }

    /// Planar RGB to a row of Y code values and per-pixel unit chroma.
    #[inline(always)]
    fn rows_from_rgb(&self, r: &[f32], g: &[f32], b: &[f32], y: &mut [u8], cb: &mut [f32], cr: &mut [f32]) {
        let (kb2, kr2) = (1.0 / (2.0 * (1.0 - self.kb)), 1.0 / (2.0 * (1.0 - self.kr)));
        let n = y.len();
        let (r, g, b, cb, cr) = (&r[..n], &g[..n], &b[..n], &mut cb[..n], &mut cr[..n]);
        for x in 0..n {
            let yy = self.kr * r[x] + self.kg * g[x] + self.kb * b[x];
            let code = (yy * self.y_steps + self.y_off + 0.5).max(0.0).min(255.0);
            // SAFETY: finite and in 0..=255 after the clamp (max/min drop NaN).
            y[x] = unsafe { code.to_int_unchecked::<i32>() } as u8;
            cb[x] = (b[x] - yy) * kb2;
            cr[x] = (r[x] - yy) * kr2;
        }
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
    /// Per pixel: chroma code values in, then the new unit chroma out.
    u: Vec<f32>,
    v: Vec<f32>,
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
    let (_, ch) = layout.chroma_size();
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

    let ctx = TaskContext { layout, coeffs, hrows, ty: &ty, iterations, chroma_rows_per_task };
    let fma = crate::ops::curve::has_avx2_fma();
    luma.zip(chroma1).zip(v_chunks.into_par_iter()).enumerate().for_each_init(
        RowBuffers::default,
        |buf, (task, ((ys, us), vs))| {
            if fma {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe {
                    task_avx2_fma(&ctx, buf, task, ys, us, vs)
                }
            } else {
                task_body(&ctx, buf, task, ys, us, vs)
            }
        },
    );
}

/// What every task of the YUV pass shares.
struct TaskContext<'a> {
    layout: &'a YuvLayout,
    coeffs: Coeffs,
    hrows: &'a [f32],
    ty: &'a [crate::ops::resample::Tap],
    iterations: usize,
    chroma_rows_per_task: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn task_avx2_fma(c: &TaskContext<'_>, buf: &mut RowBuffers, task: usize, ys: &mut [u8], us: &mut [u8], vs: &mut [u8]) {
    task_body(c, buf, task, ys, us, vs)
}

/// One task: `chroma_rows_per_task` chroma rows and their luma rows.
#[inline(always)]
fn task_body(c: &TaskContext<'_>, buf: &mut RowBuffers, task: usize, ys: &mut [u8], us: &mut [u8], vs: &mut [u8]) {
    let layout = c.layout;
    let width = layout.width;
    let (_, sy) = layout.format.subsampling();
    let (cw, ch) = layout.chroma_size();
    buf.rgb.resize(3 * width, 0.0);
    for k in 0..c.chroma_rows_per_task {
        let cy = task * c.chroma_rows_per_task + k;
        if cy >= ch {
            break;
        }
        let mut chroma = match layout.format {
            YuvFormat::Nv12 => ChromaRow::Interleaved(&mut us[k * layout.strides[1]..][..2 * cw]),
            _ => ChromaRow::Planar(&mut us[k * layout.strides[1]..][..cw], &mut vs[k * layout.strides[2]..][..cw]),
        };
        for v in [&mut buf.cb, &mut buf.cr, &mut buf.count] {
            v.clear();
            v.resize(cw, 0.0);
        }
        for dy in 0..sy {
            let y = cy * sy + dy;
            if y >= layout.height {
                break;
            }
            let row = &mut ys[(k * sy + dy) * layout.strides[0]..][..width];
            enhance_row(row, &mut chroma, buf, layout.format, &c.coeffs, c.hrows, &c.ty[y], c.iterations);
        }
        for cx in 0..cw {
            let n = buf.count[cx];
            chroma.set(cx, c.coeffs.c_code(buf.cb[cx] / n), c.coeffs.c_code(buf.cr[cx] / n));
        }
    }
}

/// Converts one luma row with its chroma row to planar RGB, runs the curve,
/// writes the new luma and adds the new chroma of each pixel to the sums.
/// Every loop but the chroma replication runs over contiguous lanes.
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
    buf.u.resize(width, 0.0);
    buf.v.resize(width, 0.0);
    for (x, (u, v)) in buf.u.iter_mut().zip(buf.v.iter_mut()).enumerate() {
        let (cu, cv) = chroma.get(x / sx);
        *u = cu as f32;
        *v = cv as f32;
    }
    let (r, rest) = buf.rgb.split_at_mut(width);
    let (g, b) = rest.split_at_mut(width);
    coeffs.rows_to_rgb(row, &buf.u, &buf.v, r, g, b);
    let top = &hrows[ry.i0 * 3 * width..(ry.i0 + 1) * 3 * width];
    let bottom = &hrows[ry.i1 * 3 * width..(ry.i1 + 1) * 3 * width];
    curve_f32(&mut buf.rgb, top, bottom, ry.w0, ry.w1, iterations);
    let (r, rest) = buf.rgb.split_at(width);
    let (g, b) = rest.split_at(width);
    // buf.u / buf.v now receive the new chroma of each pixel.
    coeffs.rows_from_rgb(r, g, b, row, &mut buf.u, &mut buf.v);
    if sx == 1 {
        buf.cb.iter_mut().zip(&buf.u).for_each(|(s, c)| *s += c);
        buf.cr.iter_mut().zip(&buf.v).for_each(|(s, c)| *s += c);
        buf.count.iter_mut().for_each(|n| *n += 1.0);
    } else {
        for (cx, ((sb, sr), n)) in buf.cb.iter_mut().zip(buf.cr.iter_mut()).zip(buf.count.iter_mut()).enumerate() {
            let (x0, x1) = (2 * cx, (2 * cx + 1).min(width - 1));
            let k = if x1 > x0 { 2.0 } else { 1.0 };
            *sb += buf.u[x0] + if x1 > x0 { buf.u[x1] } else { 0.0 };
            *sr += buf.v[x0] + if x1 > x0 { buf.v[x1] } else { 0.0 };
            *n += k;
        }
    }
}
