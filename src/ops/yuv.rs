//! Planar YUV frames (I420, NV12, Y444) read and written directly: YUV -> RGB
//! -> curve -> YUV in one pass, in place, and the down-scale straight from
//! the planes. No RGB copy of the frame exists.
//!
//! Chroma is up-sampled by replication (each chroma sample covers its 2x2
//! block) and the enhanced chroma is the mean over the block's pixels: per
//! luma row the block's pixels are summed, then the rows, then divided by
//! the count (as the CUDA kernels do).

use rayon::prelude::*;

use crate::frame::{YuvFormat, YuvLayout, YuvMatrix, YuvRange};
use crate::ops::curve::{self, BLOCK, GROUP, GROUP_LANES, GroupLanes, Isa, RowFactors};
use crate::ops::fused::FactorRows;
use crate::ops::resample::{Tap, bilinear_taps};

#[cfg(target_arch = "x86_64")]
use crate::ops::{
    avx2::{self, Chroma420},
    avx512, downscale_avx2,
};

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
    /// fused pass and the CUDA kernels.
    pub fn to_rgb(&self, y: u8, u: u8, v: u8) -> [f32; 3] {
        Conversion::new(self).rgb(y, u as f32, v as f32)
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
#[allow(clippy::manual_clamp)] // max/min map NaN to 0, clamp would keep it
fn quantise(v: f32) -> u8 {
    (v + 0.5).max(0.0).min(255.0) as u8
}

/// The constants of both conversions, derived once from [`Coeffs`] (the
/// divisions are not per sample).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conversion {
    pub coeffs: Coeffs,
    // YUV -> RGB: unit luma per code step, chroma terms per code step.
    pub y_off: f32,
    pub ys: f32,
    pub rv: f32,
    pub gu: f32,
    pub gv: f32,
    pub bu: f32,
    // RGB -> YUV.
    pub kr: f32,
    pub kg: f32,
    pub kb: f32,
    pub y_steps: f32,
    pub kb2: f32,
    pub kr2: f32,
    pub c_steps: f32,
}

impl Conversion {
    pub(crate) fn new(k: &Coeffs) -> Self {
        let (ys, cs) = (1.0 / k.y_steps, 1.0 / k.c_steps);
        let (rv, bu) = (2.0 * (1.0 - k.kr) * cs, 2.0 * (1.0 - k.kb) * cs);
        let (gu, gv) = (-k.kb * bu / k.kg, -k.kr * rv / k.kg);
        Conversion {
            coeffs: *k,
            y_off: k.y_off,
            ys,
            rv,
            gu,
            gv,
            bu,
            kr: k.kr,
            kg: k.kg,
            kb: k.kb,
            y_steps: k.y_steps,
            kb2: 1.0 / (2.0 * (1.0 - k.kb)),
            kr2: 1.0 / (2.0 * (1.0 - k.kr)),
            c_steps: k.c_steps,
        }
    }

    /// Code values (chroma as f32) to RGB in 0..1.
    #[inline(always)]
    pub(crate) fn rgb(&self, y: u8, u: f32, v: f32) -> [f32; 3] {
        let yy = (y as f32 - self.y_off) * self.ys;
        let (cu, cv) = (u - 128.0, v - 128.0);
        [yy + self.rv * cv, yy + self.gu * cu + self.gv * cv, yy + self.bu * cu].map(curve::clamp_unit)
    }

    /// [`Self::rgb`] on the lanes of a group.
    #[inline(always)]
    fn rgb_lanes(&self, y: &[u8; GROUP], u: &[f32; GROUP], v: &[f32; GROUP]) -> GroupLanes {
        let mut out = [[0f32; GROUP]; 3];
        for k in 0..GROUP {
            let p = self.rgb(y[k], u[k], v[k]);
            (0..3).for_each(|c| out[c][k] = p[c]);
        }
        out
    }

    /// [`Self::luma_chroma`] on the lanes of a group (clamped to 0..1 first):
    /// luma codes, cb, cr.
    #[inline(always)]
    fn luma_chroma_lanes(&self, rgb: &GroupLanes) -> ([u8; GROUP], [f32; GROUP], [f32; GROUP]) {
        let (mut codes, mut cb, mut cr) = ([0u8; GROUP], [0f32; GROUP], [0f32; GROUP]);
        for (k, ((code, cb), cr)) in codes.iter_mut().zip(&mut cb).zip(&mut cr).enumerate() {
            (*code, *cb, *cr) = self.luma_chroma(rgb.map(|c| curve::clamp_unit(c[k])));
        }
        (codes, cb, cr)
    }

    /// RGB in 0..1 to a luma code and unit chroma `(cb, cr)`.
    #[inline(always)]
    #[allow(clippy::manual_clamp)] // max/min map NaN to 0, clamp would keep it
    pub(crate) fn luma_chroma(&self, [r, g, b]: [f32; 3]) -> (u8, f32, f32) {
        let yy = self.kr * r + self.kg * g + self.kb * b;
        let code = (yy * self.y_steps + self.y_off + 0.5).max(0.0).min(255.0);
        // SAFETY: finite and in 0..=255 after the clamp (max/min drop NaN).
        let code = unsafe { code.to_int_unchecked::<i32>() } as u8;
        (code, (b - yy) * self.kb2, (r - yy) * self.kr2)
    }
}

/// Immutable view of the planes.
#[derive(Clone, Copy)]
pub struct YuvPlanes<'a> {
    pub planes: [&'a [u8]; 3],
    pub layout: &'a YuvLayout,
}

impl<'a> YuvPlanes<'a> {
    /// Luma, U and V rows of frame row `y`. NV12's V row is its UV row less
    /// one byte, so that U and V of a pixel share one index.
    #[inline(always)]
    fn rows(&self, y: usize) -> [&'a [u8]; 3] {
        let l = self.layout;
        let cy = y / l.format.subsampling().1;
        let luma = &self.planes[0][y * l.strides[0]..];
        match l.format {
            YuvFormat::Nv12 => {
                let uv = &self.planes[1][cy * l.strides[1]..];
                [luma, uv, &uv[1..]]
            }
            _ => [luma, &self.planes[1][cy * l.strides[1]..], &self.planes[2][cy * l.strides[2]..]],
        }
    }

    /// The index of pixel `x`'s chroma in the rows of [`Self::rows`].
    #[inline(always)]
    fn chroma_index(&self, x: usize) -> usize {
        match self.layout.format {
            YuvFormat::Nv12 => 2 * (x / 2),
            YuvFormat::I420 => x / 2,
            YuvFormat::Y444 => x,
        }
    }
}

/// Down-scales a YUV frame to a planar f32 RGB image `[3, out_h, out_w]` in
/// 0..1 (bilinear, `align_corners = false`, as the packed down-scale).
pub fn downscale_yuv(frame: YuvPlanes<'_>, out_h: usize, out_w: usize, out: &mut [f32]) {
    downscale_yuv_with(frame, out_h, out_w, out, Isa::detect());
}

/// [`downscale_yuv`] with the kernels of `isa` (one that the CPU has); every
/// set gives the same floats.
fn downscale_yuv_with(frame: YuvPlanes<'_>, out_h: usize, out_w: usize, out: &mut [f32], isa: Isa) {
    let l = frame.layout;
    let plane = out_h * out_w;
    assert_eq!(out.len(), 3 * plane, "output must hold [3, {out_h}, {out_w}]");
    let conv = Conversion::new(&Coeffs::new(l.matrix, l.range));
    let ty = bilinear_taps(l.height, out_h, false);
    // Per output column: the two source columns as (luma index, chroma index), and the tap.
    let tx = bilinear_taps(l.width, out_w, false);
    let cols: Vec<[(usize, usize); 2]> = tx.iter().map(|t| [t.i0, t.i1].map(|x| (x, frame.chroma_index(x)))).collect();
    #[cfg(target_arch = "x86_64")]
    let lanes = (isa >= Isa::Avx2).then(|| downscale_avx2::ColumnLanes::new(&tx, |x| x, |x| frame.chroma_index(x)));
    #[cfg(not(target_arch = "x86_64"))]
    let _ = isa;
    let (r_plane, rest) = out.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    let rows_per_task = (4096 / out_w.max(1)).clamp(1, 16);
    r_plane
        .par_chunks_mut(out_w * rows_per_task)
        .zip(g_plane.par_chunks_mut(out_w * rows_per_task))
        .zip(b_plane.par_chunks_mut(out_w * rows_per_task))
        .zip(ty.par_chunks(rows_per_task))
        .for_each(|(((r, g), b), ty)| {
            let rows = r.chunks_mut(out_w).zip(g.chunks_mut(out_w)).zip(b.chunks_mut(out_w));
            for (((r, g), b), ry) in rows.zip(ty) {
                let src = [frame.rows(ry.i0), frame.rows(ry.i1)];
                #[cfg(target_arch = "x86_64")]
                let done = match &lanes {
                    Some(lanes) => {
                        let rows = src.map(|[y, u, v]| match l.format {
                            YuvFormat::Nv12 => (y, downscale_avx2::Chroma::Interleaved(u)),
                            _ => (y, downscale_avx2::Chroma::Planar(u, v)),
                        });
                        // SAFETY: the CPU has AVX2 and FMA (isa).
                        unsafe { downscale_avx2::yuv_row(rows, lanes, (ry.w0, ry.w1), &conv, [&mut *r, &mut *g, &mut *b]) }
                    }
                    None => 0,
                };
                #[cfg(not(target_arch = "x86_64"))]
                let done = 0;
                for (j, ([(x0, c0), (x1, c1)], cx)) in cols.iter().zip(&tx).enumerate().skip(done) {
                    let rgb = |[y, u, v]: &[&[u8]; 3], x: usize, c: usize| conv.rgb(y[x], u[c] as f32, v[c] as f32);
                    let (p00, p01) = (rgb(&src[0], *x0, *c0), rgb(&src[0], *x1, *c1));
                    let (p10, p11) = (rgb(&src[1], *x0, *c0), rgb(&src[1], *x1, *c1));
                    for (c, dst) in [&mut r[j], &mut g[j], &mut b[j]].into_iter().enumerate() {
                        let top = p00[c] * cx.w0 + p01[c] * cx.w1;
                        let bottom = p10[c] * cx.w0 + p11[c] * cx.w1;
                        *dst = top * ry.w0 + bottom * ry.w1;
                    }
                }
            }
        });
}

/// Scratch of the YUV fused pass, kept across frames.
#[derive(Default)]
pub struct YuvScratch {
    factors: FactorRows,
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
    enhance_yuv_with(planes, layout, factor_low, (h, w), iterations, strength, scratch, Isa::detect());
}

/// [`enhance_yuv`] with the kernels of `isa` (one that the CPU has).
#[allow(clippy::too_many_arguments)]
fn enhance_yuv_with(
    planes: [&mut [u8]; 3],
    layout: &YuvLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    scratch: &mut YuvScratch,
    isa: Isa,
) {
    let ty = scratch.factors.prepare(factor_low, (h, w), (layout.width, layout.height), strength, isa);
    run_yuv(planes, layout, &ty, iterations, &scratch.factors, isa);
}

/// [`enhance_yuv`] with the factor rows that the [`measure_yuv`] just
/// before it on `scratch` (same frame size) built, their weights times `gain`: the pass at
/// `strength * gain` without building the rows again.
///
/// # Panics
/// When no such measurement precedes it.
pub fn enhance_yuv_measured(
    planes: [&mut [u8]; 3],
    layout: &YuvLayout,
    iterations: usize,
    gain: f32,
    scratch: &mut YuvScratch,
) {
    let ty = scratch.factors.reuse_measured(gain, (layout.width, layout.height));
    run_yuv(planes, layout, &ty, iterations, &scratch.factors, Isa::detect());
}

/// The YUV pass with prepared factor rows and vertical taps.
fn run_yuv(planes: [&mut [u8]; 3], layout: &YuvLayout, ty: &[Tap], iterations: usize, factors: &FactorRows, isa: Isa) {
    let width = layout.width;
    let (_, sy) = layout.format.subsampling();
    let (_, ch) = layout.chroma_size();
    let [py, pu, pv] = planes;

    // Tasks of whole chroma rows: `sy` luma rows per chroma row.
    let chroma_rows_per_task = (32768 / (width * sy).max(1)).clamp(1, 32);
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

    let ctx = TaskContext::new(layout, factors, ty, iterations, chroma_rows_per_task, isa);
    luma.zip(chroma1).zip(v_chunks.into_par_iter()).enumerate().for_each(|(task, ((ys, us), vs))| {
        ctx.task(task, ys, us, vs);
    });
}

/// The mean luma (0..1 of the range) of the Y plane that [`enhance_yuv`]
/// with the same arguments would give the frame, measured on about every
/// `row_step`-th luma row: the first luma row of every `row_step / sy`-th
/// chroma row (`sy` the vertical subsampling). A luma row's output does not
/// depend on the other row of its chroma row, and single rows spread the
/// same work over twice as many rows as pairs would (flicker ratio at
/// smoothing 0.7 on three 1080p NV12 clips: 0.826 / 0.931 / 0.766 against
/// 0.824 / 0.936 / 0.777 with pairs). With AVX-512, 4:2:0 rows are read in
/// place (`avx512::luma420_sum` writes nothing); otherwise they are enhanced
/// in copies. The frame is not changed.
#[allow(clippy::too_many_arguments)]
pub fn measure_yuv(
    frame: YuvPlanes<'_>,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    row_step: usize,
    scratch: &mut YuvScratch,
) -> f32 {
    measure_yuv_with(frame, factor_low, (h, w), iterations, strength, row_step, scratch, Isa::detect())
}

/// [`measure_yuv`] with the kernels of `isa` (one that the CPU has).
#[allow(clippy::too_many_arguments)]
fn measure_yuv_with(
    frame: YuvPlanes<'_>,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    row_step: usize,
    scratch: &mut YuvScratch,
    isa: Isa,
) -> f32 {
    let layout = frame.layout;
    let width = layout.width;
    let ty = scratch.factors.prepare(factor_low, (h, w), (width, layout.height), strength, isa);
    scratch.factors.mark_measured((width, layout.height));
    let (_, sy) = layout.format.subsampling();
    let (cw, ch) = layout.chroma_size();
    let chroma_len = if layout.format == YuvFormat::Nv12 { 2 * cw } else { cw };
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && layout.format != YuvFormat::Y444 {
        // Read in place: the kernel writes nothing.
        let conv = Conversion::new(&Coeffs::new(layout.matrix, layout.range));
        let (sum, count) = (0..ch)
            .into_par_iter()
            .step_by((row_step / sy).max(1))
            .map(|cy| {
                let luma = &frame.planes[0][cy * sy * layout.strides[0]..][..width];
                let u = &frame.planes[1][cy * layout.strides[1]..][..chroma_len];
                let chroma = match layout.format {
                    YuvFormat::Nv12 => avx512::ChromaRow420::Nv12(u),
                    _ => avx512::ChromaRow420::I420(u, &frame.planes[2][cy * layout.strides[2]..][..chroma_len]),
                };
                let f = scratch.factors.at(&ty[cy * sy]);
                // SAFETY: the CPU has AVX-512 (isa).
                (unsafe { avx512::luma420_sum(luma, chroma, f, &conv, iterations) }, width as u64)
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        return unit_brightness(sum, count, layout.range);
    }
    let ctx = TaskContext::new(layout, &scratch.factors, &ty, iterations, 1, isa);
    let (sum, count) = (0..ch)
        .into_par_iter()
        .step_by((row_step / sy).max(1))
        .map_init(
            || (vec![0u8; width], vec![0u8; chroma_len], vec![0u8; chroma_len]),
            |(luma, u, v), cy| {
                luma.copy_from_slice(&frame.planes[0][cy * sy * layout.strides[0]..][..width]);
                u.copy_from_slice(&frame.planes[1][cy * layout.strides[1]..][..chroma_len]);
                let chroma = if layout.format == YuvFormat::Nv12 {
                    ChromaRow::Interleaved(u)
                } else {
                    v.copy_from_slice(&frame.planes[2][cy * layout.strides[2]..][..chroma_len]);
                    ChromaRow::Planar(u, v)
                };
                ctx.chroma_row(cy, &mut [&mut luma[..]], chroma);
                (luma.iter().map(|&y| y as u64).sum::<u64>(), width as u64)
            },
        )
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    unit_brightness(sum, count, layout.range)
}

/// The mean of `count` luma codes summing to `sum`, in 0..1 of the range.
fn unit_brightness(sum: u64, count: u64, range: YuvRange) -> f32 {
    let mean = sum as f64 / count.max(1) as f64;
    let (black, span) = match range {
        YuvRange::Limited => (16.0, 219.0),
        YuvRange::Full => (0.0, 255.0),
    };
    (((mean - black) / span).max(0.0)) as f32
}

/// What every task of the YUV pass shares.
struct TaskContext<'a> {
    layout: &'a YuvLayout,
    conv: Conversion,
    factors: &'a FactorRows,
    ty: &'a [Tap],
    iterations: usize,
    chroma_rows_per_task: usize,
    isa: Isa,
}

/// The chroma of one chroma row: planar (I420, Y444) or interleaved (NV12).
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

impl<'a> TaskContext<'a> {
    fn new(
        layout: &'a YuvLayout,
        factors: &'a FactorRows,
        ty: &'a [Tap],
        iterations: usize,
        chroma_rows_per_task: usize,
        isa: Isa,
    ) -> Self {
        let conv = Conversion::new(&Coeffs::new(layout.matrix, layout.range));
        TaskContext { layout, conv, factors, ty, iterations, chroma_rows_per_task, isa }
    }

    /// One task: `chroma_rows_per_task` chroma rows and their luma rows.
    fn task(&self, task: usize, ys: &mut [u8], us: &mut [u8], vs: &mut [u8]) {
        let layout = self.layout;
        let (width, strides) = (layout.width, layout.strides);
        let (_, sy) = layout.format.subsampling();
        let (cw, ch) = layout.chroma_size();
        for k in 0..self.chroma_rows_per_task {
            let cy = task * self.chroma_rows_per_task + k;
            if cy >= ch {
                break;
            }
            let rows = sy.min(layout.height - cy * sy);
            let luma = &mut ys[k * sy * strides[0]..];
            let (first, second) = if rows == 2 { luma.split_at_mut(strides[0]) } else { (luma, &mut [][..]) };
            let second_len = width.min(second.len());
            let mut luma_rows = [&mut first[..width], &mut second[..second_len]];
            let chroma = match layout.format {
                YuvFormat::Nv12 => ChromaRow::Interleaved(&mut us[k * strides[1]..][..2 * cw]),
                _ => ChromaRow::Planar(&mut us[k * strides[1]..][..cw], &mut vs[k * strides[2]..][..cw]),
            };
            self.chroma_row(cy, &mut luma_rows[..rows], chroma);
        }
    }

    /// Chroma row `cy` and its luma rows (one or two).
    fn chroma_row(&self, cy: usize, luma_rows: &mut [&mut [u8]], chroma: ChromaRow<'_>) {
        let layout = self.layout;
        let (sx, sy) = layout.format.subsampling();
        let rows = luma_rows.len();
        let factors: [RowFactors<'_>; 2] = std::array::from_fn(|i| {
            let t = &self.ty[(cy * sy + i).min(layout.height - 1)];
            self.factors.at(t)
        });
        #[cfg(target_arch = "x86_64")]
        if self.isa != Isa::Portable {
            // SAFETY: `isa` is one that the CPU has.
            unsafe { self.row_simd(luma_rows, chroma, &factors[..rows]) };
            return;
        }
        chroma_row(luma_rows, chroma, sx, &factors[..rows], &self.conv, self.iterations);
    }

    /// AVX-512 for the whole blocks of 4:2:0 rows when `isa` has it, AVX2
    /// for the rest and for 4:4:4.
    ///
    /// # Safety
    /// The CPU has the features of `self.isa`, at least AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    unsafe fn row_simd(&self, luma: &mut [&mut [u8]], chroma: ChromaRow<'_>, factors: &[RowFactors<'_>]) {
        let (conv, iterations) = (&self.conv, self.iterations);
        let mut chroma = match (self.layout.format, chroma) {
            // SAFETY: by the caller.
            (YuvFormat::Y444, ChromaRow::Planar(u, v)) => {
                return unsafe { avx2::yuv444_row(luma[0], u, v, factors[0], conv, iterations) };
            }
            (_, ChromaRow::Interleaved(uv)) => Chroma420::Nv12(uv),
            (_, ChromaRow::Planar(u, v)) => Chroma420::I420(u, v),
        };
        let done = match self.isa {
            // SAFETY: by the caller.
            Isa::Avx512 => unsafe { avx512::yuv420_rows(luma, &mut chroma, factors, conv, iterations) },
            _ => 0,
        };
        if done < self.layout.width {
            for y in luma.iter_mut() {
                *y = &mut std::mem::take(y)[done..];
            }
            let rows = luma.len();
            let factors = [0, 1].map(|i| factors[i.min(rows - 1)].skip_blocks(done / BLOCK));
            // SAFETY: by the caller.
            unsafe { avx2::yuv420_rows(luma, chroma.skip_pixels(done), &factors[..rows], conv, iterations) };
        }
    }
}

/// The portable kernel: the luma rows of one chroma row (chroma samples
/// `sx` pixels wide) and the chroma row, a group of pixels at a time.
fn chroma_row(
    luma: &mut [&mut [u8]],
    mut chroma: ChromaRow<'_>,
    sx: usize,
    factors: &[RowFactors<'_>],
    conv: &Conversion,
    iterations: usize,
) {
    let width = luma[0].len();
    for g in 0..width.div_ceil(GROUP) {
        let x0 = g * GROUP;
        let n = GROUP.min(width - x0);
        let samples = n.div_ceil(sx);
        let (mut us, mut vs) = ([0u8; GROUP], [0u8; GROUP]);
        for s in 0..samples {
            (us[s], vs[s]) = chroma.get(x0 / sx + s);
        }
        let u: [f32; GROUP] = std::array::from_fn(|k| us[k / sx] as f32);
        let v: [f32; GROUP] = std::array::from_fn(|k| vs[k / sx] as f32);
        // Both rows are curved together (a missing second row as zeros).
        let (mut rgb, mut r) = ([[[0f32; GROUP]; 3]; 2], [[[0f32; GROUP]; 3]; 2]);
        for (i, (row, f)) in luma.iter().zip(factors).enumerate() {
            let mut y = [0u8; GROUP];
            y[..n].copy_from_slice(&row[x0..x0 + n]);
            rgb[i] = conv.rgb_lanes(&y, &u, &v);
            r[i] = curve::factors(f, g);
        }
        curve::steps::<{ 2 * GROUP_LANES }>(curve::flat_mut(&mut rgb), curve::flat(&r), iterations);
        // Per chroma sample: the sums over rows of the sums over the row's pixels.
        let (mut sum_cb, mut sum_cr, mut count) = ([0f32; GROUP], [0f32; GROUP], [0f32; GROUP]);
        for (row, rgb) in luma.iter_mut().zip(&rgb) {
            let (codes, cb, cr) = conv.luma_chroma_lanes(rgb);
            row[x0..x0 + n].copy_from_slice(&codes[..n]);
            let (mut row_cb, mut row_cr) = ([0f32; GROUP], [0f32; GROUP]);
            for k in 0..n {
                row_cb[k / sx] += cb[k];
                row_cr[k / sx] += cr[k];
                count[k / sx] += 1.0;
            }
            for s in 0..samples {
                sum_cb[s] += row_cb[s];
                sum_cr[s] += row_cr[s];
            }
        }
        for s in 0..samples {
            let code = |sum: f32| conv.coeffs.c_code(sum / count[s]);
            chroma.set(x0 / sx + s, code(sum_cb[s]), code(sum_cr[s]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::fused::tests::{factor_map, noise, reference_curve, reference_factor};
    use crate::ops::resample::low_res_size;

    /// The pass per chroma block, as the CUDA kernels compute it, fused or not.
    fn reference(planes: &mut [Vec<u8>; 3], l: &YuvLayout, low: &[f32], low_size: (usize, usize), fma: bool) {
        let conv = Conversion::new(&Coeffs::new(l.matrix, l.range));
        let (sx, sy) = l.format.subsampling();
        let (cw, ch) = l.chroma_size();
        let [py, pu, pv] = planes;
        for (by, bx) in (0..ch).flat_map(|by| (0..cw).map(move |bx| (by, bx))) {
            let (ui, vi) = match l.format {
                YuvFormat::Nv12 => (by * l.strides[1] + 2 * bx, by * l.strides[1] + 2 * bx + 1),
                _ => (by * l.strides[1] + bx, by * l.strides[2] + bx),
            };
            let (u, v) = (pu[ui] as f32, if l.format == YuvFormat::Nv12 { pu[vi] } else { pv[vi] } as f32);
            let (mut sum_cb, mut sum_cr, mut n) = (0f32, 0f32, 0f32);
            for y in (by * sy..(by + 1) * sy).filter(|&y| y < l.height) {
                let (mut row_cb, mut row_cr) = (0f32, 0f32);
                for x in (bx * sx..(bx + 1) * sx).filter(|&x| x < l.width) {
                    let p = &mut py[y * l.strides[0] + x];
                    let rgb = conv.rgb(*p, u, v);
                    let rgb: [f32; 3] = std::array::from_fn(|c| {
                        let r = reference_factor(low, low_size, (l.width, l.height), 1.0, c, (x, y), fma);
                        curve::clamp_unit(reference_curve(rgb[c], r, 8, fma))
                    });
                    let (code, cb, cr) = conv.luma_chroma(rgb);
                    *p = code;
                    row_cb += cb;
                    row_cr += cr;
                    n += 1.0;
                }
                sum_cb += row_cb;
                sum_cr += row_cr;
            }
            let (cu, cv) = (conv.coeffs.c_code(sum_cb / n), conv.coeffs.c_code(sum_cr / n));
            pu[ui] = cu;
            if l.format == YuvFormat::Nv12 { pu[vi] = cv } else { pv[vi] = cv }
        }
    }

    /// Both kernels equal the per-block reference bit for bit (the AVX2 one
    /// fused, the portable one not), on odd sizes and padded rows.
    #[test]
    fn kernels_equal_the_per_block_reference() {
        for format in YuvFormat::ALL {
            for (w, h) in [(1, 1), (2, 3), (7, 2), (8, 8), (9, 5), (15, 4), (16, 3), (33, 17), (71, 5)] {
                for range in [YuvRange::Limited, YuvRange::Full] {
                    let mut l = YuvLayout::packed(w, h, format, YuvMatrix::Bt709, range);
                    l.strides[0] += 3;
                    l.strides[1] += 1;
                    let planes: [Vec<u8>; 3] = std::array::from_fn(|i| {
                        if i < format.plane_count() { noise(l.plane_min_len(i), (i + w * h) as u64) } else { vec![] }
                    });
                    let low_size = low_res_size(h, w, 4);
                    let low = factor_map(low_size.0, low_size.1, 5);
                    for isa in Isa::available() {
                        let fma = isa != Isa::Portable;
                        let mut expected = planes.clone();
                        reference(&mut expected, &l, &low, low_size, fma);
                        let mut out = planes.clone();
                        let [y, u, v] = &mut out;
                        enhance_yuv_with([y, u, v], &l, &low, low_size, 8, 1.0, &mut YuvScratch::default(), isa);
                        assert_eq!(out, expected, "{format} {w}x{h} {range:?} {isa:?}");
                    }
                }
            }
        }
    }

    /// Every kernel set down-scales to the same floats, bit for bit: odd
    /// sizes, padded rows, and frames whose last rows end where their planes
    /// end (the gathers must stop short of them).
    #[test]
    fn downscale_kernels_equal_the_portable_loops() {
        for format in YuvFormat::ALL {
            for (w, h, s) in [(1, 1, 1), (9, 5, 2), (16, 4, 1), (33, 17, 1), (70, 41, 3), (199, 37, 12), (200, 120, 5)] {
                for pad in [0, 3] {
                    let mut l = YuvLayout::packed(w, h, format, YuvMatrix::Bt601, YuvRange::Limited);
                    l.strides[0] += pad;
                    l.strides[1] += pad;
                    l.strides[2] += pad;
                    let planes: [Vec<u8>; 3] = std::array::from_fn(|i| {
                        if i < format.plane_count() { noise(l.plane_min_len(i), (7 + i + w * h) as u64) } else { vec![] }
                    });
                    let view = YuvPlanes { planes: [&planes[0], &planes[1], &planes[2]], layout: &l };
                    let (oh, ow) = low_res_size(h, w, s);
                    let run = |isa| {
                        let mut out = vec![0f32; 3 * oh * ow];
                        downscale_yuv_with(view, oh, ow, &mut out, isa);
                        out.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                    };
                    let portable = run(Isa::Portable);
                    for isa in Isa::available() {
                        let first_difference = run(isa).iter().zip(&portable).position(|(a, b)| a != b);
                        assert_eq!(first_difference, None, "{format} {w}x{h} /{s} pad {pad} {isa:?}");
                    }
                }
            }
        }
    }

    /// The pass after a measurement reuses its factor rows times the gain:
    /// the same as the pass at `strength * gain` but for float rounding.
    #[test]
    fn the_pass_after_a_measurement_equals_the_pass_at_the_gained_strength() {
        for format in YuvFormat::ALL {
            let l = YuvLayout::packed(70, 41, format, YuvMatrix::Bt709, YuvRange::Limited);
            let planes: [Vec<u8>; 3] = std::array::from_fn(|i| {
                if i < format.plane_count() { noise(l.plane_min_len(i), (3 + i) as u64) } else { vec![] }
            });
            let low_size = low_res_size(41, 70, 4);
            let low = factor_map(low_size.0, low_size.1, 11);
            let mut scratch = YuvScratch::default();
            let view = YuvPlanes { planes: [&planes[0], &planes[1], &planes[2]], layout: &l };
            measure_yuv(view, &low, low_size, 8, 0.8, 4, &mut scratch);
            let mut reused = planes.clone();
            let [y, u, v] = &mut reused;
            enhance_yuv_measured([y, u, v], &l, 8, 0.9, &mut scratch);
            let mut direct = planes.clone();
            let [y, u, v] = &mut direct;
            enhance_yuv([y, u, v], &l, &low, low_size, 8, 0.8 * 0.9, &mut YuvScratch::default());
            let (a, b) = (reused.concat(), direct.concat());
            let differing = a.iter().zip(&b).filter(|(a, b)| a != b).count();
            assert!(a.iter().zip(&b).all(|(a, b)| a.abs_diff(*b) <= 1), "{format}: more than one code value apart");
            assert!(differing * 1000 <= a.len(), "{format}: {differing} of {} bytes differ", a.len());
            assert_ne!(reused, planes, "{format}");
        }
    }

    /// The measurement is the mean (over the sampled rows) of the Y plane
    /// that the pass writes, and leaves the frame as it is.
    #[test]
    fn measuring_equals_the_enhanced_rows() {
        for format in YuvFormat::ALL {
            for (w, h, step) in [(1, 1, 1), (9, 5, 1), (33, 17, 1), (33, 17, 3), (70, 40, 4), (70, 41, 8), (141, 9, 2)] {
                let mut l = YuvLayout::packed(w, h, format, YuvMatrix::Bt601, YuvRange::Limited);
                l.strides[0] += 5;
                l.strides[1] += 3;
                let planes: [Vec<u8>; 3] = std::array::from_fn(|i| {
                    if i < format.plane_count() { noise(l.plane_min_len(i), (7 + i + w) as u64) } else { vec![] }
                });
                let low_size = low_res_size(h, w, 4);
                let low = factor_map(low_size.0, low_size.1, 9);
                let view = YuvPlanes { planes: [&planes[0], &planes[1], &planes[2]], layout: &l };
                for isa in Isa::available() {
                    let mut scratch = YuvScratch::default();
                    let measured = measure_yuv_with(view, &low, low_size, 8, 0.8, step, &mut scratch, isa);
                    let mut out = planes.clone();
                    let [y, u, v] = &mut out;
                    enhance_yuv_with([y, u, v], &l, &low, low_size, 8, 0.8, &mut YuvScratch::default(), isa);
                    let (sy, ch) = (format.subsampling().1, l.chroma_size().1);
                    let rows: Vec<usize> = (0..ch).step_by((step / sy).max(1)).map(|cy| cy * sy).collect();
                    let sum: f64 = rows.iter().flat_map(|&r| &out[0][r * l.strides[0]..][..w]).map(|&v| v as f64).sum();
                    let count = (rows.len() * w) as f64;
                    let expected = ((sum / count - 16.0) / 219.0).max(0.0);
                    // Less than a quarter of one code value in the sum: the same codes.
                    let tolerance = 0.25 / (count * 219.0) + 1e-7;
                    let d = (measured as f64 - expected).abs();
                    assert!(d < tolerance, "{format} {w}x{h}/{step} {isa:?}: {measured} vs {expected}");
                }
            }
        }
    }
}
