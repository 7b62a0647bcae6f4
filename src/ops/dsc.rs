//! Inference kernel of one EFE layer as a single candle op: depthwise 3x3
//! (+ bias), pointwise 1x1 (+ bias) and the activation in one pass over
//! bands of rows, so the intermediate never leaves the cache. A layer whose
//! input is a concatenation takes both parts as they are (no copy).
//!
//! Training uses the op-by-op modules of `model::efe` (they have gradients);
//! this op computes the same function, faster, without gradients.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Output channels computed together (register blocking).
const CO_BLOCK: usize = 4;
/// Pixels computed together (two AVX vectors).
const PX_BLOCK: usize = 16;
/// Rows of one task; bounds the intermediate to `cin * rows * width` floats.
const BAND_ROWS: usize = 8;
/// Widest layer input (the EFE's concatenations have 64 channels).
const MAX_CIN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Tanh,
}

thread_local! {
    /// The depthwise output of one band, `[cin][stride]`.
    static MID: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
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
    /// `[cout / CO_BLOCK][cin][CO_BLOCK]`: the pointwise weights of each block
    /// of output channels, input channel by input channel (zero-padded).
    point_blocks: Vec<[f32; CO_BLOCK]>,
    /// `[cout / CO_BLOCK][CO_BLOCK]`
    bias_blocks: Vec<[f32; CO_BLOCK]>,
    activation: Activation,
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
        let blocks = cout.div_ceil(CO_BLOCK);
        let mut point_blocks = vec![[0f32; CO_BLOCK]; blocks * cin];
        let mut bias_blocks = vec![[0f32; CO_BLOCK]; blocks];
        for co in 0..cout {
            let (blk, k) = (co / CO_BLOCK, co % CO_BLOCK);
            bias_blocks[blk][k] = point_bias[co];
            for ci in 0..cin {
                point_blocks[blk * cin + ci][k] = point_weight[co * cin + ci];
            }
        }
        Ok(Self { cin, cout, depth_weight, depth_bias, point_blocks, bias_blocks, activation })
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
        let cin: usize = parts.iter().map(|p| p.1).sum();
        if cin != self.cin {
            bail!("dsc: input has {cin} channels, the layer takes {}", self.cin)
        }
        if cin > MAX_CIN {
            bail!("dsc: at most {MAX_CIN} input channels, got {cin}")
        }
        let plane = h * w;
        if out.len() != self.cout * plane || parts.iter().any(|&(d, c)| d.len() != c * plane) {
            bail!("dsc: buffers do not fit a {h}x{w} image")
        }
        if plane == 0 {
            return Ok(());
        }
        // Channel -> its plane, across the concatenated parts.
        let planes: Vec<&[f32]> =
            parts.iter().flat_map(|&(data, c)| (0..c).map(move |i| &data[i * plane..(i + 1) * plane])).collect();
        let bands: Vec<usize> = (0..h).step_by(BAND_ROWS).collect();
        let out_ptr = SendPtr(out.as_mut_ptr());
        let fma = crate::ops::curve::has_avx2_fma();
        bands.par_iter().for_each(|&y0| {
            // Each worker thread keeps its band buffer across layers and frames.
            MID.with_borrow_mut(|mid| {
                if fma {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: the CPU has AVX2 and FMA.
                    unsafe {
                        self.band_avx2_fma(&planes, mid, y0, h, w, &out_ptr)
                    }
                } else {
                    self.band::<false>(&planes, mid, y0, h, w, &out_ptr);
                }
            })
        });
        Ok(())
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn band_avx2_fma(&self, planes: &[&[f32]], mid: &mut Vec<f32>, y0: usize, h: usize, w: usize, out: &SendPtr) {
        self.band::<true>(planes, mid, y0, h, w, out)
    }

    /// Rows `y0..y0 + BAND_ROWS` of every output channel.
    #[inline(always)]
    fn band<const FMA: bool>(&self, planes: &[&[f32]], mid: &mut Vec<f32>, y0: usize, h: usize, w: usize, out_ptr: &SendPtr) {
        let plane = h * w;
        {
            let rows = BAND_ROWS.min(h - y0);
            let n = rows * w;
            let stride = n.next_multiple_of(PX_BLOCK);
            // Lanes past `n` are read by the last pixel block and never stored:
            // the buffer only grows, it is never cleared.
            if mid.len() < self.cin * stride {
                mid.resize(self.cin * stride, 0.0);
            }
            for (c, src) in planes.iter().enumerate() {
                let k = &self.depth_weight[c * 9..c * 9 + 9];
                let dst = &mut mid[c * stride..c * stride + n];
                for r in 0..rows {
                    depthwise_row::<FMA>(src, k, self.depth_bias[c], y0 + r, h, w, &mut dst[r * w..(r + 1) * w]);
                }
            }
            let mut dst: Vec<&mut [f32]> = (0..self.cout)
                .map(|co| {
                    // SAFETY: bands are disjoint row ranges of each output plane.
                    unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(co * plane + y0 * w), n) }
                })
                .collect();
            self.pointwise::<FMA>(mid, n, stride, &mut dst);
        }
    }

    /// `out[co] = act(bias[co] + sum_ci W[co, ci] * mid[ci])` over `n`
    /// pixels; `mid` holds `cin` rows of `stride >= n` floats, zero beyond `n`.
    #[inline(always)]
    fn pointwise<const FMA: bool>(&self, mid: &[f32], n: usize, stride: usize, out: &mut [&mut [f32]]) {
        let cin = self.cin;
        for co0 in (0..self.cout).step_by(CO_BLOCK) {
            let cos = CO_BLOCK.min(self.cout - co0);
            let blk = co0 / CO_BLOCK;
            let wt = &self.point_blocks[blk * cin..(blk + 1) * cin];
            let bias = &self.bias_blocks[blk];
            for p0 in (0..n).step_by(PX_BLOCK) {
                let len = PX_BLOCK.min(n - p0);
                #[cfg(target_arch = "x86_64")]
                if FMA && len == PX_BLOCK && self.activation == Activation::Relu {
                    // SAFETY: FMA is only set when the CPU has AVX2 and FMA; `mid`
                    // holds PX_BLOCK floats from p0 in every row (padded stride)
                    // and every output row holds PX_BLOCK floats from p0.
                    unsafe { pointwise_relu_block_avx2(mid, stride, p0, wt, bias, &mut out[co0..co0 + cos]) };
                    continue;
                }
                let acc = pointwise_block(mid, stride, p0, wt, bias);
                for (k, a) in acc.iter().enumerate().take(cos) {
                    let dst = &mut out[co0 + k][p0..p0 + len];
                    match self.activation {
                        Activation::Relu => dst.iter_mut().zip(a).for_each(|(d, v)| *d = v.max(0.0)),
                        Activation::Tanh => dst.iter_mut().zip(a).for_each(|(d, v)| *d = v.tanh()),
                    }
                }
            }
        }
    }
}

/// Accumulators of CO_BLOCK output channels x PX_BLOCK pixels.
type Acc = [[f32; PX_BLOCK]; CO_BLOCK];

fn pointwise_block(mid: &[f32], stride: usize, p0: usize, wt: &[[f32; CO_BLOCK]], bias: &[f32; CO_BLOCK]) -> Acc {
    let mut acc: Acc = bias.map(|b| [b; PX_BLOCK]);
    for (ci, w) in wt.iter().enumerate() {
        let m = &mid[ci * stride + p0..ci * stride + p0 + PX_BLOCK];
        for k in 0..CO_BLOCK {
            for l in 0..PX_BLOCK {
                acc[k][l] += w[k] * m[l];
            }
        }
    }
    acc
}

/// A full block with eight AVX accumulators held in registers, ReLU, and
/// stores straight into the `out.len() <= CO_BLOCK` output rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pointwise_relu_block_avx2(
    mid: &[f32],
    stride: usize,
    p0: usize,
    wt: &[[f32; CO_BLOCK]],
    bias: &[f32; CO_BLOCK],
    out: &mut [&mut [f32]],
) {
    use std::arch::x86_64::*;
    const _: () = assert!(CO_BLOCK == 4 && PX_BLOCK == 16);
    assert!(wt.is_empty() || (wt.len() - 1) * stride + p0 + PX_BLOCK <= mid.len());
    assert!(out.len() <= CO_BLOCK && out.iter().all(|o| o.len() >= p0 + PX_BLOCK));
    let [mut a0, mut a2, mut a4, mut a6] = bias.map(|b| _mm256_set1_ps(b));
    let (mut a1, mut a3, mut a5, mut a7) = (a0, a2, a4, a6);
    for (ci, w) in wt.iter().enumerate() {
        // SAFETY: bounds asserted above.
        let (m0, m1) = unsafe {
            let p = mid.as_ptr().add(ci * stride + p0);
            (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)))
        };
        let w0 = _mm256_set1_ps(w[0]);
        a0 = _mm256_fmadd_ps(w0, m0, a0);
        a1 = _mm256_fmadd_ps(w0, m1, a1);
        let w1 = _mm256_set1_ps(w[1]);
        a2 = _mm256_fmadd_ps(w1, m0, a2);
        a3 = _mm256_fmadd_ps(w1, m1, a3);
        let w2 = _mm256_set1_ps(w[2]);
        a4 = _mm256_fmadd_ps(w2, m0, a4);
        a5 = _mm256_fmadd_ps(w2, m1, a5);
        let w3 = _mm256_set1_ps(w[3]);
        a6 = _mm256_fmadd_ps(w3, m0, a6);
        a7 = _mm256_fmadd_ps(w3, m1, a7);
    }
    let zero = _mm256_setzero_ps();
    for (row, (lo, hi)) in out.iter_mut().zip([(a0, a1), (a2, a3), (a4, a5), (a6, a7)]) {
        // SAFETY: each output row holds 16 floats from p0 (asserted above).
        unsafe {
            let p = row.as_mut_ptr().add(p0);
            _mm256_storeu_ps(p, _mm256_max_ps(lo, zero));
            _mm256_storeu_ps(p.add(8), _mm256_max_ps(hi, zero));
        }
    }
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
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

/// One output row of a depthwise 3x3 conv with zero padding, plus bias.
/// All nine taps of an output are summed in registers (one store per output).
#[inline(always)]
fn depthwise_row<const FMA: bool>(src: &[f32], k: &[f32], bias: f32, y: usize, h: usize, w: usize, dst: &mut [f32]) {
    let row = |i: usize| (y + i).checked_sub(1).filter(|&sy| sy < h).map(|sy| &src[sy * w..(sy + 1) * w]);
    let rows = [row(0), row(1), row(2)];
    let dst = &mut dst[..w];
    // Taps that read outside the image are left out: the edges are summed separately.
    let edge = |x: usize| -> f32 {
        let mut acc = bias;
        for (i, r) in rows.iter().enumerate() {
            let Some(r) = r else { continue };
            for j in 0..3 {
                if let Some(sx) = (x + j).checked_sub(1).filter(|&sx| sx < w) {
                    acc = madd::<FMA>(k[i * 3 + j], r[sx], acc);
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
    // Rows are added one at a time, three taps each, which keeps the loop
    // free of branches (absent rows are simply skipped).
    for (i, r) in rows.iter().enumerate() {
        let Some(r) = r else { continue };
        let (a, b, c) = (&r[..n], &r[1..n + 1], &r[2..n + 2]);
        let (k0, k1, k2) = (k[i * 3], k[i * 3 + 1], k[i * 3 + 2]);
        for x in 0..n {
            interior[x] = madd::<FMA>(k2, c[x], madd::<FMA>(k1, b[x], madd::<FMA>(k0, a[x], interior[x])));
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
