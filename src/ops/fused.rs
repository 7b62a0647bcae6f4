//! The fused frame kernel: bilinear up-sampling of the low-res factor map
//! (`align_corners = true`), u8 -> f32, the RIE curve steps, clamp, rounding
//! `floor(x * 255 + 0.5)` and the write-back, in one pass over the frame, in
//! place. No full-resolution f32 image is ever built: each worker holds a few
//! vectors of f32 at a time.
//!
//! The factor map is interpolated as the reference does it, horizontally
//! first (once per low-res row, shared by the ~s frame rows between two
//! low-res rows) and then vertically per frame row. Factor rows are laid out
//! in groups of 8 pixels (see `ops::curve`), so a pixel's alpha or padding
//! byte costs no arithmetic.

use rayon::prelude::*;

use crate::frame::FrameLayout;
use crate::ops::curve::{self, BLOCK, GROUP, GROUP_LANES, Isa, RowFactors, factor_offset, factor_row_len};
use crate::ops::resample::{Tap, bilinear_taps};

#[cfg(target_arch = "x86_64")]
use crate::ops::{avx2, avx512};

/// Reusable buffers of the fused pass (kept across frames of one size).
#[derive(Default)]
pub struct FusedScratch {
    factors: FactorRows,
}

/// Enhances `frame` in place. `factor_low` is the planar `[3, h, w]` factor
/// map; `strength` scales it; `iterations` curve steps are applied. Alpha
/// and padding bytes are left as they are.
pub fn enhance_packed(
    frame: &mut [u8],
    layout: &FrameLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    scratch: &mut FusedScratch,
) {
    enhance_packed_with(frame, layout, factor_low, (h, w), iterations, strength, scratch, Isa::detect());
}

/// [`enhance_packed`] with the kernels of `isa` (one that the CPU has).
#[allow(clippy::too_many_arguments)]
fn enhance_packed_with(
    frame: &mut [u8],
    layout: &FrameLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    scratch: &mut FusedScratch,
    isa: Isa,
) {
    let ty = scratch.factors.prepare(factor_low, (h, w), (layout.width, layout.height), strength, isa);
    run_packed(frame, layout, &ty, iterations, &scratch.factors, isa);
}

/// [`enhance_packed`] with the factor rows that the [`measure_packed`]
/// just before it on `scratch` (same frame size) built, their weights times `gain`:
/// the pass at `strength * gain` without building the rows again.
///
/// # Panics
/// When no such measurement precedes it.
pub fn enhance_packed_measured(
    frame: &mut [u8],
    layout: &FrameLayout,
    iterations: usize,
    gain: f32,
    scratch: &mut FusedScratch,
) {
    let ty = scratch.factors.reuse_measured(gain, (layout.width, layout.height));
    run_packed(frame, layout, &ty, iterations, &scratch.factors, Isa::detect());
}

/// The packed pass with prepared factor rows and vertical taps.
fn run_packed(frame: &mut [u8], layout: &FrameLayout, ty: &[Tap], iterations: usize, factors: &FactorRows, isa: Isa) {
    let row_bytes = layout.row_bytes();
    let kernel = PackedKernel::new(layout, isa);

    let rows_per_task = (65536 / row_bytes.max(1)).clamp(1, 64);
    frame[..layout.min_buffer_len()].par_chunks_mut(layout.stride * rows_per_task).enumerate().for_each(
        |(chunk, bytes)| {
            for (k, ry) in ty[chunk * rows_per_task..].iter().take(rows_per_task).enumerate() {
                let row = &mut bytes[k * layout.stride..k * layout.stride + row_bytes];
                let f = factors.at(ry);
                kernel.row(row, f, iterations);
            }
        },
    );
}

/// The mean luma (0..1, BT.601) that [`enhance_packed`] with the same
/// arguments would give `frame`, measured on every `row_step`-th row:
/// those rows are enhanced in copies, the frame is not changed.
#[allow(clippy::too_many_arguments)]
pub fn measure_packed(
    frame: &[u8],
    layout: &FrameLayout,
    factor_low: &[f32],
    (h, w): (usize, usize),
    iterations: usize,
    strength: f32,
    row_step: usize,
    scratch: &mut FusedScratch,
) -> f32 {
    let isa = Isa::detect();
    let row_bytes = layout.row_bytes();
    let ty = scratch.factors.prepare(factor_low, (h, w), (layout.width, layout.height), strength, isa);
    scratch.factors.mark_measured((layout.width, layout.height));
    let factors = &scratch.factors;
    let kernel = PackedKernel::new(layout, isa);
    let (bpp, offsets) = (kernel.bpp, kernel.offsets);
    let step = row_step.max(1);
    let sum: u64 = (0..layout.height)
        .into_par_iter()
        .step_by(step)
        .map_init(
            || vec![0u8; row_bytes],
            |copy, y| {
                copy.copy_from_slice(&frame[y * layout.stride..][..row_bytes]);
                let ry = &ty[y];
                let f = factors.at(ry);
                kernel.row(copy, f, iterations);
                copy.chunks_exact(bpp).map(|p| luma_u8(p[offsets[0]], p[offsets[1]], p[offsets[2]])).sum::<u64>()
            },
        )
        .sum();
    let pixels = (layout.height.div_ceil(step) * layout.width).max(1) as f64;
    (sum as f64 / pixels / (255.0 * 256.0)) as f32
}

/// BT.601 luma of 8-bit RGB times 256, in integers (weights 77, 150, 29).
#[inline(always)]
fn luma_u8(r: u8, g: u8, b: u8) -> u64 {
    77 * r as u64 + 150 * g as u64 + 29 * b as u64
}

/// The factor map up-sampled horizontally and scaled by strength: one factor
/// row (blocks of 16 pixels, see `ops::curve`) per low-res row.
#[derive(Default)]
pub(crate) struct FactorRows {
    data: Vec<f32>,
    row_len: usize,
    /// The frame size of a brightness measurement that built the rows and
    /// that no pass has used yet (see `reuse_measured`).
    measured: Option<(usize, usize)>,
}

impl FactorRows {
    /// Builds the rows for a frame of `(width, height)` pixels and returns
    /// the frame rows' vertical taps.
    pub(crate) fn prepare(
        &mut self,
        factor_low: &[f32],
        (h, w): (usize, usize),
        (width, height): (usize, usize),
        strength: f32,
        isa: Isa,
    ) -> Vec<Tap> {
        assert_eq!(factor_low.len(), 3 * h * w, "factor map must be [3, {h}, {w}]");
        self.build(factor_low, (h, w), width, strength, isa);
        bilinear_taps(h, height, true)
    }

    /// Marks the rows as built by a brightness measurement of a frame of
    /// `(width, height)` pixels, for the pass that follows it.
    pub(crate) fn mark_measured(&mut self, size: (usize, usize)) {
        self.measured = Some(size);
    }

    /// The vertical taps of a frame of `(width, height)` pixels onto the
    /// rows that the last measurement built, with their weights times `gain`:
    /// the factors are linear in the strength, and the rows (2 MB at 1080p)
    /// stay as they are. A measurement's rows serve one pass.
    ///
    /// # Panics
    /// When no measurement of a frame of that size built the rows.
    pub(crate) fn reuse_measured(&mut self, gain: f32, (width, height): (usize, usize)) -> Vec<Tap> {
        assert_eq!(
            self.measured.take(),
            Some((width, height)),
            "no brightness measurement of this {width}x{height} frame built the factor rows"
        );
        let mut taps = bilinear_taps(self.data.len() / self.row_len.max(1), height, true);
        for t in &mut taps {
            t.w0 *= gain;
            t.w1 *= gain;
        }
        taps
    }

    /// Builds the rows, with the AVX2 kernel when `isa` has it.
    pub(crate) fn build(&mut self, factor_low: &[f32], (h, w): (usize, usize), width: usize, strength: f32, isa: Isa) {
        self.measured = None;
        let taps = group_taps(w, width);
        let simd = isa >= Isa::Avx2 && taps.iter().all(GroupTaps::permutable);
        self.row_len = factor_row_len(width);
        // Every lane is written below.
        self.data.resize(h * self.row_len, 0.0);
        self.data.par_chunks_mut(self.row_len).enumerate().for_each_init(
            || vec![0f32; w + GROUP],
            |scaled, (j, out)| {
                for c in 0..3 {
                    let src = &factor_low[(c * h + j) * w..][..w];
                    scaled.iter_mut().zip(src).for_each(|(a, &s)| *a = s * strength);
                    #[cfg(target_arch = "x86_64")]
                    if simd {
                        // SAFETY: `isa` is one that the CPU has, at least AVX2.
                        unsafe { avx2::factor_channel(scaled, &taps, out, c) };
                        continue;
                    }
                    let _ = simd;
                    factor_channel(scaled, &taps, out, c);
                }
            },
        );
    }

    fn row(&self, j: usize) -> &[f32] {
        &self.data[j * self.row_len..][..self.row_len]
    }

    /// The factors of the frame row whose vertical tap is `t`.
    pub(crate) fn at(&self, t: &Tap) -> RowFactors<'_> {
        RowFactors { top: self.row(t.i0), bottom: self.row(t.i1), w0: t.w0, w1: t.w1 }
    }
}

/// The horizontal taps of a group of 8 pixels: lane k reads
/// `a[base[0] + idx[0][k]] * w[0][k] + a[base[1] + idx[1][k]] * w[1][k]`.
/// Lanes past the row's end have weight 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupTaps {
    pub base: [u32; 2],
    pub idx: [[i32; GROUP]; 2],
    pub w: [[f32; GROUP]; 2],
}

impl GroupTaps {
    /// Whether every index is within one vector of its base (always so when
    /// up-sampling, where 8 pixels span at most 8 low-res samples).
    fn permutable(&self) -> bool {
        self.idx.iter().flatten().all(|&i| (0..GROUP as i32).contains(&i))
    }
}

/// The taps of every group of a row of `width` pixels up-sampled from `w` samples.
fn group_taps(w: usize, width: usize) -> Vec<GroupTaps> {
    let tx = bilinear_taps(w, width, true);
    tx.chunks(GROUP)
        .map(|taps| {
            let sources = |k: usize| taps.iter().map(move |t| if k == 0 { t.i0 } else { t.i1 });
            let base: [u32; 2] = std::array::from_fn(|k| sources(k).min().unwrap() as u32);
            let mut g = GroupTaps { base, idx: [[0; GROUP]; 2], w: [[0.0; GROUP]; 2] };
            for (k, idx) in g.idx.iter_mut().enumerate() {
                for (lane, i) in sources(k).enumerate() {
                    idx[lane] = (i - base[k] as usize) as i32;
                }
            }
            for (lane, t) in taps.iter().enumerate() {
                g.w[0][lane] = t.w0;
                g.w[1][lane] = t.w1;
            }
            g
        })
        .collect()
}

/// Channel `c` of a factor row from the channel's scaled low-res row `a`
/// (padded with 8 values).
fn factor_channel(a: &[f32], taps: &[GroupTaps], out: &mut [f32], c: usize) {
    for (g, t) in taps.iter().enumerate() {
        for (lane, d) in out[factor_offset(g, c)..][..GROUP].iter_mut().enumerate() {
            let a0 = a[t.base[0] as usize + t.idx[0][lane] as usize];
            let a1 = a[t.base[1] as usize + t.idx[1][lane] as usize];
            *d = a0 * t.w[0][lane] + a1 * t.w[1][lane];
        }
    }
}

/// Byte shuffles (`_mm256_shuffle_epi8`, within 128-bit halves) between the
/// 8 pixels of a group of a packed format and three vectors of i32 lanes,
/// the R, G and B of the 8 pixels. The low half holds pixels 0..4, the high
/// half pixels 4..8: with 4 bytes per pixel the group's 32 bytes, with 3 its
/// bytes 0..16 and 8..24.
#[derive(Debug, Clone)]
pub(crate) struct PackedShuffles {
    /// Per channel: i32 lane k of each half <- the channel's byte of pixel k.
    pub take: [[u8; 32]; 3],
    /// Packed codes `[R0..4 G0..4 B0..4 B0..4]` per half back to pixel order
    /// (with 3 bytes per pixel, to the first 12 bytes of each half).
    pub put: [u8; 32],
    /// With 4 bytes per pixel: the bytes that are not R, G, B (kept).
    pub keep: [u8; 32],
}

impl PackedShuffles {
    pub(crate) fn new(bpp: usize, offsets: [usize; 3]) -> Self {
        const ZERO: u8 = 0x80;
        let mut s = PackedShuffles { take: [[ZERO; 32]; 3], put: [ZERO; 32], keep: [0; 32] };
        // Where pixel 4h + k starts within half h, as loaded.
        let loaded = |h: usize, k: usize| if bpp == 4 { 4 * k } else { h * 4 + 3 * k };
        for h in 0..2 {
            for k in 0..4 {
                for (c, &off) in offsets.iter().enumerate() {
                    s.take[c][16 * h + 4 * k] = (loaded(h, k) + off) as u8;
                    s.put[16 * h + bpp * k + off] = (4 * c + k) as u8;
                }
                if bpp == 4 {
                    for b in (0..4).filter(|b| !offsets.contains(b)) {
                        s.keep[16 * h + 4 * k + b] = 0xFF;
                    }
                }
            }
        }
        s
    }
}

/// The row kernel of one packed format.
struct PackedKernel {
    isa: Isa,
    bpp: usize,
    offsets: [usize; 3],
    shuffles: PackedShuffles,
}

impl PackedKernel {
    fn new(layout: &FrameLayout, isa: Isa) -> Self {
        let (bpp, offsets) = (layout.format.bytes_per_pixel(), layout.format.rgb_offsets());
        PackedKernel { isa, bpp, offsets, shuffles: PackedShuffles::new(bpp, offsets) }
    }

    fn row(&self, row: &mut [u8], f: RowFactors<'_>, iterations: usize) {
        #[cfg(target_arch = "x86_64")]
        if self.isa != Isa::Portable {
            // SAFETY: `isa` is one that the CPU has.
            return unsafe {
                match self.bpp {
                    4 => self.row_simd::<4>(row, f, iterations),
                    _ => self.row_simd::<3>(row, f, iterations),
                }
            };
        }
        match self.bpp {
            4 => packed_row::<4>(row, self.offsets, &f, iterations),
            _ => packed_row::<3>(row, self.offsets, &f, iterations),
        }
    }

    /// AVX-512 for the row's whole blocks when `isa` has it, AVX2 for the rest.
    ///
    /// # Safety
    /// The CPU has the features of `self.isa`, at least AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    unsafe fn row_simd<const BPP: usize>(&self, row: &mut [u8], f: RowFactors<'_>, iterations: usize) {
        let shuffles = &self.shuffles;
        let done = match self.isa {
            // SAFETY: by the caller.
            Isa::Avx512 => unsafe { avx512::packed_row::<BPP>(row, shuffles, f, iterations) },
            _ => 0,
        };
        if done * BPP < row.len() {
            // SAFETY: by the caller.
            unsafe {
                avx2::packed_row::<BPP>(&mut row[done * BPP..], shuffles, f.skip_blocks(done / BLOCK), iterations)
            };
        }
    }
}

/// The portable row kernel, `RUN` groups at a time.
fn packed_row<const BPP: usize>(row: &mut [u8], offsets: [usize; 3], f: &RowFactors<'_>, iterations: usize) {
    const RUN: usize = 4;
    for (run, px) in row.chunks_mut(RUN * GROUP * BPP).enumerate() {
        let (mut x, mut r) = ([[[0f32; GROUP]; 3]; RUN], [[[0f32; GROUP]; 3]; RUN]);
        for (i, px) in px.chunks(GROUP * BPP).enumerate() {
            for (k, p) in px.chunks_exact(BPP).enumerate() {
                for (xc, off) in x[i].iter_mut().zip(offsets) {
                    xc[k] = curve::unit(p[off]);
                }
            }
            r[i] = curve::factors(f, run * RUN + i);
        }
        curve::steps::<{ RUN * GROUP_LANES }>(curve::flat_mut(&mut x), curve::flat(&r), iterations);
        for (x, px) in x.iter().zip(px.chunks_mut(GROUP * BPP)) {
            let mut codes = [[0u8; GROUP]; 3];
            for (cc, xc) in codes.iter_mut().zip(x) {
                cc.iter_mut().zip(xc).for_each(|(c, &v)| *c = curve::to_byte(v));
            }
            for (k, p) in px.chunks_exact_mut(BPP).enumerate() {
                for (c, off) in offsets.into_iter().enumerate() {
                    p[off] = codes[c][k];
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::frame::PixelFormat;
    use crate::ops::resample::low_res_size;

    /// Full-range pseudo-random bytes (xorshift).
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as u8
            })
            .collect()
    }

    /// A factor map in about -0.7..1.
    pub(crate) fn factor_map(h: usize, w: usize, seed: u64) -> Vec<f32> {
        noise(3 * h * w, seed).iter().map(|&v| v as f32 / 150.0 - 0.7).collect()
    }

    /// The factor of channel `c` at pixel (x, y), per pixel as the CUDA
    /// kernels compute it, fused or not.
    pub(crate) fn reference_factor(
        low: &[f32],
        (h, w): (usize, usize),
        (width, height): (usize, usize),
        strength: f32,
        c: usize,
        (x, y): (usize, usize),
        fma: bool,
    ) -> f32 {
        let tx = bilinear_taps(w, width, true)[x];
        let ty = bilinear_taps(h, height, true)[y];
        let a = |j: usize, i: usize| low[(c * h + j) * w + i] * strength;
        let top = a(ty.i0, tx.i0) * tx.w0 + a(ty.i0, tx.i1) * tx.w1;
        let bottom = a(ty.i1, tx.i0) * tx.w0 + a(ty.i1, tx.i1) * tx.w1;
        if fma { bottom.mul_add(ty.w1, top * ty.w0) } else { bottom * ty.w1 + top * ty.w0 }
    }

    pub(crate) fn reference_curve(mut x: f32, r: f32, iterations: usize, fma: bool) -> f32 {
        for _ in 0..iterations {
            x = if fma { r.mul_add(x.mul_add(x, -x), x) } else { x + r * (x * x - x) };
        }
        x
    }

    /// The measurement is the BT.601 mean luma of the rows that the pass
    /// writes, every `step`-th, and leaves the frame as it is.
    #[test]
    fn measuring_equals_the_enhanced_rows() {
        for format in [PixelFormat::Rgbx, PixelFormat::Bgra, PixelFormat::Rgb] {
            for (w, h, step) in [(1, 1, 1), (9, 5, 1), (33, 17, 1), (33, 17, 3), (70, 40, 4)] {
                let bpp = format.bytes_per_pixel();
                let layout = FrameLayout { width: w, height: h, stride: w * bpp + 3, format };
                let frame = noise(layout.min_buffer_len(), (w * h) as u64);
                let low_size = low_res_size(h, w, 4);
                let low = factor_map(low_size.0, low_size.1, 3);
                let measured = measure_packed(&frame, &layout, &low, low_size, 8, 0.8, step, &mut FusedScratch::default());
                let mut out = frame.clone();
                enhance_packed(&mut out, &layout, &low, low_size, 8, 0.8, &mut FusedScratch::default());
                let [r, g, b] = format.rgb_offsets();
                let (mut sum, mut n) = (0.0f64, 0usize);
                for y in (0..h).step_by(step) {
                    for p in out[y * layout.stride..][..w * bpp].chunks_exact(bpp) {
                        sum += luma_u8(p[r], p[g], p[b]) as f64 / (255.0 * 256.0);
                        n += 1;
                    }
                }
                let expected = sum / n as f64;
                assert!((measured as f64 - expected).abs() < 1e-6, "{format} {w}x{h}/{step}: {measured} vs {expected}");
                assert!(measured > 0.0);
            }
        }
    }

    /// The pass after a measurement reuses its factor rows times the gain:
    /// the same as the pass at `strength * gain` but for float rounding
    /// (at most one code value, in few bytes); a second pass needs a new
    /// measurement.
    #[test]
    fn the_pass_after_a_measurement_equals_the_pass_at_the_gained_strength() {
        let layout = FrameLayout { width: 70, height: 41, stride: 70 * 4 + 3, format: PixelFormat::Rgbx };
        let frame = noise(layout.min_buffer_len(), 5);
        let low_size = low_res_size(41, 70, 4);
        let low = factor_map(low_size.0, low_size.1, 7);
        let mut scratch = FusedScratch::default();
        measure_packed(&frame, &layout, &low, low_size, 8, 0.8, 4, &mut scratch);
        let mut reused = frame.clone();
        enhance_packed_measured(&mut reused, &layout, 8, 1.2, &mut scratch);
        let mut direct = frame.clone();
        enhance_packed(&mut direct, &layout, &low, low_size, 8, 0.8 * 1.2, &mut FusedScratch::default());
        let differing = reused.iter().zip(&direct).filter(|(a, b)| a != b).count();
        assert!(reused.iter().zip(&direct).all(|(a, b)| a.abs_diff(*b) <= 1), "more than one code value apart");
        assert!(differing * 1000 <= reused.len(), "{differing} of {} bytes differ", reused.len());
        assert_ne!(reused, frame);
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            enhance_packed_measured(&mut reused, &layout, 8, 1.2, &mut scratch)
        }));
        assert!(again.is_err(), "a measurement's rows served a second pass");
    }

    /// Both kernels equal a per-pixel reference bit for bit: the AVX2 one
    /// with fused operations, the portable one without. Alpha and padding
    /// bytes are kept.
    #[test]
    fn kernels_equal_the_per_pixel_reference() {
        for format in PixelFormat::ALL {
            let (bpp, off) = (format.bytes_per_pixel(), format.rgb_offsets());
            for (w, h, s) in
                [(1, 1, 1), (7, 3, 1), (8, 2, 4), (9, 5, 4), (17, 3, 12), (40, 13, 12), (61, 7, 1), (95, 3, 12)]
            {
                let layout = FrameLayout::packed(w, h, format);
                let low_size = low_res_size(h, w, s);
                let low = factor_map(low_size.0, low_size.1, (w * h) as u64);
                let frame = noise(layout.min_buffer_len(), (w + 7 * h) as u64);
                for isa in Isa::available() {
                    let fma = isa != Isa::Portable;
                    let mut out = frame.clone();
                    enhance_packed_with(&mut out, &layout, &low, low_size, 8, 0.9, &mut FusedScratch::default(), isa);
                    for (p, (px, before)) in out.chunks(bpp).zip(frame.chunks(bpp)).enumerate() {
                        let (x, y) = (p % w, p / w);
                        for b in 0..bpp {
                            let expected = match off.iter().position(|&o| o == b) {
                                Some(c) => {
                                    let r = reference_factor(&low, low_size, (w, h), 0.9, c, (x, y), fma);
                                    curve::to_byte(reference_curve(curve::unit(before[b]), r, 8, fma))
                                }
                                None => before[b],
                            };
                            assert_eq!(px[b], expected, "{format} {w}x{h} s={s} {isa:?} pixel ({x}, {y}) byte {b}");
                        }
                    }
                }
            }
        }
    }

    /// Lanes past the row's end, odd sizes and a map as wide as the frame.
    #[test]
    fn factor_rows_are_the_same_in_both_kernels() {
        if !Isa::available().contains(&Isa::Avx2) {
            return;
        }
        for (w, width) in [(1, 1), (1, 9), (3, 3), (5, 17), (17, 17), (90, 1079), (160, 1920)] {
            let low = factor_map(2, w, w as u64);
            let (mut a, mut b) = (FactorRows::default(), FactorRows::default());
            a.build(&low, (2, w), width, 0.7, Isa::Avx2);
            b.build(&low, (2, w), width, 0.7, Isa::Portable);
            assert_eq!(
                a.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn shuffles_take_each_channel_byte_once() {
        for format in PixelFormat::ALL {
            let s = PackedShuffles::new(format.bytes_per_pixel(), format.rgb_offsets());
            let taken: usize = s.take.iter().flatten().filter(|&&b| b != 0x80).count();
            assert_eq!(taken, 24, "{format}");
        }
    }
}
