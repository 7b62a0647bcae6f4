//! Inference kernel of one EFE layer as a single candle op: depthwise 3x3
//! (+ bias), pointwise 1x1 (+ bias) and the activation in one pass over
//! bands of rows, so the intermediate never leaves the cache. A layer whose
//! input is a concatenation takes both parts as they are (no copy).
//!
//! Training uses the op-by-op modules of `model::efe` (they have gradients);
//! this op computes the same function, faster, without gradients.
//!
//! The kernels used on CPUs with AVX-512 are in `avx512`, with AVX2 and FMA
//! in `avx2`; the portable ones here are the fallback.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

use crate::ops::curve::Isa;

mod avx2;
mod avx512;

/// Output channels computed together (register blocking): with two vectors
/// of pixels, 12 accumulators, which with two inputs and a weight take 15 of
/// the 16 AVX registers.
const CO_BLOCK: usize = 6;
/// Pixels computed together (one cache line); the band buffer's rows are whole blocks.
const PX_BLOCK: usize = 16;
/// Rows of one task, at most; bounds the intermediate to `cin * rows * width` floats.
const BAND_ROWS: usize = 8;
/// Floats per cache line.
const LINE_FLOATS: usize = 16;
/// Widest layer input (the EFE's concatenations have 64 channels).
const MAX_CIN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
}

/// Per worker thread, kept across layers and frames.
struct Scratch {
    /// The depthwise output of one band, `[cin][stride]`.
    mid: Vec<f32>,
    /// One image row of zeros: the rows above and below the image.
    zeros: Vec<f32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> =
        const { std::cell::RefCell::new(Scratch { mid: Vec::new(), zeros: Vec::new() }) };
}

/// One depthwise-separable layer's weights, laid out for the kernel.
#[derive(Debug, Clone)]
pub struct FusedDsc {
    cin: usize,
    cout: usize,
    /// `[cin, 9]`
    depth_weight: Vec<f32>,
    /// `[cin]`
    depth_bias: Vec<f32>,
    /// The pointwise conv in blocks of at most CO_BLOCK output channels.
    point_blocks: Vec<PointBlock>,
    activation: Activation,
}

/// Pointwise weights of output channels `co0..co0 + bias.len()`.
#[derive(Debug, Clone)]
struct PointBlock {
    co0: usize,
    /// `[cin][channels]`: input channel by input channel.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// The input planes of a layer, channel by channel across concatenated parts.
struct Planes<'a> {
    planes: [&'a [f32]; MAX_CIN],
    len: usize,
}

impl<'a> Planes<'a> {
    fn new(parts: &[(&'a [f32], usize)], plane: usize) -> Self {
        let mut planes: [&[f32]; MAX_CIN] = [&[]; MAX_CIN];
        let mut len = 0;
        for &(data, c) in parts {
            for chunk in data.chunks_exact(plane).take(c) {
                planes[len] = chunk;
                len += 1;
            }
        }
        Self { planes, len }
    }

    fn iter(&self) -> impl Iterator<Item = &'a [f32]> + '_ {
        self.planes[..self.len].iter().copied()
    }
}

/// Rows `y0..y0 + rows` of every output plane: `cout` runs of `n` floats,
/// `plane` apart. Bands are disjoint, so tasks write through it in parallel.
struct OutRows {
    ptr: *mut f32,
    plane: usize,
    n: usize,
}

impl OutRows {
    /// # Safety
    /// `co` is an output channel of the layer and no other live slice covers it.
    #[allow(clippy::mut_from_ref)]
    unsafe fn channel(&self, co: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(co * self.plane), self.n) }
    }
}

impl FusedDsc {
    /// From row-major weights: depthwise `[cin, 9]` and `[cin]`, pointwise
    /// `[cout, cin]` and `[cout]`.
    pub fn new(
        (cin, cout): (usize, usize),
        depth_weight: Vec<f32>,
        depth_bias: Vec<f32>,
        point_weight: &[f32],
        point_bias: &[f32],
        activation: Activation,
    ) -> Result<Self> {
        if cin > MAX_CIN
            || depth_weight.len() != cin * 9
            || depth_bias.len() != cin
            || point_weight.len() != cout * cin
            || point_bias.len() != cout
        {
            bail!("dsc: weights do not form a {cin} -> {cout} layer (at most {MAX_CIN} inputs)")
        }
        let point_blocks = (0..cout)
            .step_by(CO_BLOCK)
            .map(|co0| {
                let cos = CO_BLOCK.min(cout - co0);
                let weight =
                    (0..cin).flat_map(|ci| (co0..co0 + cos).map(move |co| point_weight[co * cin + ci])).collect();
                PointBlock { co0, weight, bias: point_bias[co0..co0 + cos].to_vec() }
            })
            .collect();
        Ok(Self { cin, cout, depth_weight, depth_bias, point_blocks, activation })
    }

    /// Applies the layer to `[1, cin, H, W]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1_no_bwd(self)
    }

    /// Applies the layer to the channel concatenation `cat[a, b]` without building it.
    pub fn forward_cat(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        a.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, self)
    }

    fn run(&self, parts: &[(&[f32], usize)], h: usize, w: usize) -> Result<Vec<f32>> {
        let mut out = vec![0f32; self.cout * h * w];
        self.run_into(parts, h, w, &mut out)?;
        Ok(out)
    }

    /// Runs the layer on the channel concatenation of `parts` (each `(data,
    /// channels)`, planar `[channels, h, w]`) into `out` (`[cout, h, w]`).
    pub fn run_into(&self, parts: &[(&[f32], usize)], h: usize, w: usize, out: &mut [f32]) -> Result<()> {
        self.run_with(parts, h, w, out, Isa::detect())
    }

    /// [`Self::run_into`] with the kernels of `isa`, one that the CPU has.
    fn run_with(&self, parts: &[(&[f32], usize)], h: usize, w: usize, out: &mut [f32], isa: Isa) -> Result<()> {
        let cin: usize = parts.iter().map(|p| p.1).sum();
        if cin != self.cin {
            bail!("dsc: input has {cin} channels, the layer takes {}", self.cin)
        }
        let plane = h * w;
        if out.len() != self.cout * plane || parts.iter().any(|&(d, c)| d.len() != c * plane) {
            bail!("dsc: buffers do not fit a {h}x{w} image")
        }
        if plane == 0 {
            return Ok(());
        }
        let planes = Planes::new(parts, plane);
        let out_ptr = SendPtr(out.as_mut_ptr());
        // Bands of equal height (give or take a row), as many for each thread.
        let bands = h.div_ceil(BAND_ROWS).next_multiple_of(rayon::current_num_threads()).min(h);
        (0..bands).into_par_iter().for_each(|band| {
            let y0 = band * h / bands;
            let rows = (band + 1) * h / bands - y0;
            // SAFETY: bands are disjoint row ranges of each output plane.
            let out = OutRows { ptr: unsafe { out_ptr.get().add(y0 * w) }, plane, n: rows * w };
            SCRATCH.with_borrow_mut(|scratch| self.band(&planes, scratch, (y0, rows), w, &out, isa))
        });
        Ok(())
    }

    /// Output rows `y0..y0 + rows` of every channel: the depthwise conv of
    /// every input channel into `mid`, then the pointwise conv out of it.
    fn band(&self, planes: &Planes, scratch: &mut Scratch, (y0, rows): (usize, usize), w: usize, out: &OutRows, isa: Isa) {
        debug_assert!(isa <= Isa::detect());
        let Scratch { mid, zeros } = scratch;
        let n = rows * w;
        // Whole pixel blocks, an odd number of cache lines: the pointwise reads
        // every channel's row at once, and rows a power-of-two multiple of
        // lines apart would share a few cache sets.
        let stride = (n.div_ceil(PX_BLOCK) | 1) * PX_BLOCK;
        // Lanes past `n` are read by the last pixel block and never stored:
        // the buffer only grows, it is never cleared. Its rows start on a
        // cache line (a 64-byte load across two lines costs two loads).
        if mid.len() < self.cin * stride + LINE_FLOATS {
            mid.resize(self.cin * stride + LINE_FLOATS, 0.0);
        }
        let aligned = mid.as_ptr().align_offset(64);
        let mid = &mut mid[aligned..];
        if zeros.len() < w {
            zeros.resize(w, 0.0);
        }
        let zeros = &zeros[..w];
        for (c, src) in planes.iter().enumerate() {
            let taps: &[f32; 9] = self.depth_weight[c * 9..c * 9 + 9].try_into().unwrap();
            let bias = self.depth_bias[c];
            let dst = &mut mid[c * stride..c * stride + n];
            #[cfg(target_arch = "x86_64")]
            match isa {
                // SAFETY: the CPU has the kernels' instructions.
                Isa::Avx512 => unsafe { avx512::depthwise_rows(src, zeros, y0, taps, bias, dst) },
                Isa::Avx2 => unsafe { avx2::depthwise_rows(src, zeros, y0, taps, bias, dst) },
                Isa::Portable => depthwise_rows(src, zeros, y0, taps, bias, dst),
            }
            #[cfg(not(target_arch = "x86_64"))]
            depthwise_rows(src, zeros, y0, taps, bias, dst);
        }
        #[cfg(target_arch = "x86_64")]
        match isa {
            // SAFETY: as above.
            Isa::Avx512 => unsafe { avx512::pointwise(self, mid, stride, out) },
            Isa::Avx2 => unsafe { avx2::pointwise(self, mid, stride, out) },
            Isa::Portable => self.pointwise(mid, stride, out),
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.pointwise(mid, stride, out);
    }

    /// `out[co] = act(bias[co] + sum_ci W[co, ci] * mid[ci])` over `out.n`
    /// pixels; `mid` holds `cin` rows of `stride` floats, `stride` a multiple
    /// of PX_BLOCK.
    fn pointwise(&self, mid: &[f32], stride: usize, out: &OutRows) {
        for p0 in (0..out.n).step_by(PX_BLOCK) {
            let len = PX_BLOCK.min(out.n - p0);
            for blk in &self.point_blocks {
                let acc = pointwise_block(mid, stride, p0, blk);
                for (k, a) in acc.iter().enumerate().take(blk.bias.len()) {
                    // SAFETY: an output channel, in this band's rows.
                    let dst = unsafe { &mut out.channel(blk.co0 + k)[p0..p0 + len] };
                    match self.activation {
                        Activation::Relu => dst.iter_mut().zip(a).for_each(|(d, v)| *d = v.max(0.0)),
                        Activation::Tanh => dst.iter_mut().zip(a).for_each(|(d, v)| *d = v.tanh()),
                    }
                }
            }
        }
    }
}

/// The first `blk.bias.len()` rows: the block's channels at pixels `p0..p0 + PX_BLOCK`.
fn pointwise_block(mid: &[f32], stride: usize, p0: usize, blk: &PointBlock) -> [[f32; PX_BLOCK]; CO_BLOCK] {
    let mut acc = [[0.0; PX_BLOCK]; CO_BLOCK];
    for (a, &b) in acc.iter_mut().zip(&blk.bias) {
        *a = [b; PX_BLOCK];
    }
    for (ci, w) in blk.weight.chunks_exact(blk.bias.len()).enumerate() {
        let m = &mid[ci * stride + p0..ci * stride + p0 + PX_BLOCK];
        for (a, &wk) in acc.iter_mut().zip(w) {
            for (a, &m) in a.iter_mut().zip(m) {
                *a += wk * m;
            }
        }
    }
    acc
}

struct SendPtr(*mut f32);
// SAFETY: used only to write disjoint ranges from the band tasks.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(&self) -> *mut f32 {
        self.0
    }
}

/// Rows `y0..` of the depthwise 3x3 conv of a plane (portable kernel), as
/// many as `dst` holds.
fn depthwise_rows(plane: &[f32], zeros: &[f32], y0: usize, taps: &[f32; 9], bias: f32, dst: &mut [f32]) {
    for (r, dst) in dst.chunks_exact_mut(zeros.len()).enumerate() {
        depthwise_row(source_rows(plane, zeros, y0 + r), taps, bias, dst);
    }
}

/// The rows `y - 1`, `y` and `y + 1` of a plane of rows as long as `zeros`,
/// `zeros` where they are outside it.
#[inline(always)]
fn source_rows<'a>(plane: &'a [f32], zeros: &'a [f32], y: usize) -> [&'a [f32]; 3] {
    let w = zeros.len();
    let row = |sy: usize| plane.get(sy * w..(sy + 1) * w).unwrap_or(zeros);
    [y.checked_sub(1).map_or(zeros, row), row(y), row(y + 1)]
}

/// One output row of a depthwise 3x3 conv with zero padding, plus bias, from
/// the source rows above, at and below it (rows outside the image are zeros).
fn depthwise_row(rows: [&[f32]; 3], k: &[f32; 9], bias: f32, dst: &mut [f32]) {
    let w = dst.len();
    // Taps that read outside the image are left out: the edges are summed separately.
    let edge = |x: usize| -> f32 {
        let mut acc = bias;
        for (i, r) in rows.iter().enumerate() {
            for j in 0..3 {
                if let Some(sx) = (x + j).checked_sub(1).filter(|&sx| sx < w) {
                    acc += k[i * 3 + j] * r[sx];
                }
            }
        }
        acc
    };
    dst[0] = edge(0);
    if w == 1 {
        return;
    }
    dst[w - 1] = edge(w - 1);
    let interior = &mut dst[1..w - 1];
    let n = interior.len();
    interior.fill(bias);
    for (i, r) in rows.iter().enumerate() {
        let (a, b, c) = (&r[..n], &r[1..n + 1], &r[2..n + 2]);
        let (k0, k1, k2) = (k[i * 3], k[i * 3 + 1], k[i * 3 + 2]);
        for x in 0..n {
            interior[x] = k2 * c[x] + (k1 * b[x] + (k0 * a[x] + interior[x]));
        }
    }
}

fn f32_input<'a>(s: &'a CpuStorage, l: &Layout) -> Result<(&'a [f32], usize, usize, usize)> {
    let (n, c, h, w) = l.shape().dims4()?;
    if n != 1 {
        bail!("dsc: the inference kernel takes one image, got a batch of {n}")
    }
    let CpuStorage::F32(v) = s else { bail!("dsc: input must be f32") };
    let Some((a, b)) = l.contiguous_offsets() else { bail!("dsc: input must be contiguous") };
    Ok((&v[a..b], c, h, w))
}

impl CustomOp1 for FusedDsc {
    fn name(&self) -> &'static str {
        "fused-dsc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, c, h, w) = f32_input(s, l)?;
        let out = self.run(&[(x, c)], h, w)?;
        Ok((CpuStorage::F32(out), Shape::from((1, self.cout, h, w))))
    }
}

impl CustomOp2 for FusedDsc {
    fn name(&self) -> &'static str {
        "fused-dsc-cat"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (a, ca, h, w) = f32_input(s1, l1)?;
        let (b, cb, h2, w2) = f32_input(s2, l2)?;
        if (h, w) != (h2, w2) {
            bail!("dsc: concatenated inputs differ in size: {h}x{w} and {h2}x{w2}")
        }
        let out = self.run(&[(a, ca), (b, cb)], h, w)?;
        Ok((CpuStorage::F32(out), Shape::from((1, self.cout, h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in -1..1.
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919 + seed * 104_729) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    fn layer(cin: usize, cout: usize, activation: Activation) -> FusedDsc {
        let point = values(cout * cin, 3).iter().map(|v| v * 0.3).collect::<Vec<_>>();
        FusedDsc::new((cin, cout), values(cin * 9, 1), values(cin, 2), &point, &values(cout, 4), activation).unwrap()
    }

    #[test]
    fn simd_kernels_equal_portable_kernels() {
        let layers = [
            (layer(3, 32, Activation::Relu), 1),
            (layer(32, 32, Activation::Relu), 1),
            (layer(64, 32, Activation::Relu), 2),
            (layer(64, 3, Activation::Tanh), 2),
            (layer(7, 13, Activation::Tanh), 1),
        ];
        for (h, w) in [(1, 1), (2, 3), (5, 8), (3, 9), (9, 10), (4, 17), (11, 24), (17, 33)] {
            for (layer, parts) in &layers {
                let plane = h * w;
                let input = values(layer.cin * plane, h * 31 + w);
                let split = layer.cin / parts * plane;
                let parts: Vec<_> = if *parts == 1 {
                    vec![(&input[..], layer.cin)]
                } else {
                    vec![(&input[..split], layer.cin / 2), (&input[split..], layer.cin / 2)]
                };
                let run = |isa| {
                    let mut out = vec![0.0; layer.cout * plane];
                    layer.run_with(&parts, h, w, &mut out, isa).unwrap();
                    out
                };
                let portable = run(Isa::Portable);
                let scale = portable.iter().map(|v| v.abs()).fold(0.0, f32::max);
                assert!(scale > 0.1, "{h}x{w}: a degenerate test layer");
                for isa in Isa::available().into_iter().filter(|&isa| isa != Isa::Portable) {
                    let simd = run(isa);
                    let d = simd.iter().zip(&portable).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                    assert!(d < 1e-5 * scale.max(1.0), "{isa:?} {h}x{w}, {} -> {}: {d}", layer.cin, layer.cout);
                }
            }
        }
    }
}
