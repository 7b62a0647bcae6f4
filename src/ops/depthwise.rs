//! Depthwise 3x3 convolution (stride 1, zero padding 1, one filter per
//! channel) as a candle custom op with a backward pass for both inputs.
//!
//! Candle's grouped `conv2d` runs one convolution per group, which is far
//! slower at 32 channels; this op runs each plane as a few vectorisable
//! passes over rows, planes in parallel.

use std::ops::{Add, Mul};

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// `depthwise3x3(x, w)`: x `[N, C, H, W]`, w `[C, 1, 3, 3]` -> `[N, C, H, W]`,
/// `out[c,y,x] = sum_{i,j in -1..=1} w[c, i+1, j+1] * x[c, y+i, x+j]` (no bias).
pub fn depthwise3x3(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, Depthwise3x3)
}

/// Forward op: (input, weight) -> output.
pub struct Depthwise3x3;

/// Weight gradient: (input, grad_output) -> grad_weight `[C, 1, 3, 3]`.
struct Depthwise3x3WeightGrad;

trait Sample: Copy + Default + Send + Sync + Add<Output = Self> + Mul<Output = Self> {}
impl Sample for f32 {}
impl Sample for f64 {}

fn dims(l1: &Layout, l2: &Layout, op: &str) -> Result<(usize, usize, usize, usize)> {
    let (n, c, h, w) = l1.shape().dims4()?;
    let (c2, one, kh, kw) = l2.shape().dims4()?;
    if c2 != c || one != 1 || kh != 3 || kw != 3 {
        bail!("{op}: weight shape {:?} does not fit input {:?}", l2.shape(), l1.shape())
    }
    Ok((n, c, h, w))
}

fn contiguous<'a, T>(s: &'a [T], l: &Layout, op: &str) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => bail!("{op}: operands must be contiguous"),
    }
}

/// Adds `k * src[x + shift]` to `dst[x]` for every x where the source exists.
#[inline(always)]
fn axpy_shifted<T: Sample>(dst: &mut [T], src: &[T], k: T, shift: isize) {
    let w = dst.len();
    match shift {
        0 => dst.iter_mut().zip(src).for_each(|(d, &s)| *d = *d + k * s),
        -1 => dst[1..].iter_mut().zip(&src[..w - 1]).for_each(|(d, &s)| *d = *d + k * s),
        _ => dst[..w - 1].iter_mut().zip(&src[1..]).for_each(|(d, &s)| *d = *d + k * s),
    }
}

fn forward_plane<T: Sample>(inp: &[T], k: &[T], out: &mut [T], h: usize, w: usize) {
    for y in 0..h {
        let row = &mut out[y * w..(y + 1) * w];
        row.fill(T::default());
        for i in 0..3 {
            let Some(sy) = (y + i).checked_sub(1).filter(|&sy| sy < h) else { continue };
            let src = &inp[sy * w..(sy + 1) * w];
            for j in 0..3 {
                axpy_shifted(row, src, k[i * 3 + j], j as isize - 1);
            }
        }
    }
}

fn forward<T: Sample>(x: &[T], k: &[T], (n, c, h, w): (usize, usize, usize, usize)) -> Vec<T> {
    let plane = h * w;
    let mut out = vec![T::default(); n * c * plane];
    if plane == 0 {
        return out;
    }
    out.par_chunks_mut(plane).enumerate().for_each(|(p, o)| {
        let ch = p % c;
        forward_plane(&x[p * plane..(p + 1) * plane], &k[ch * 9..ch * 9 + 9], o, h, w);
    });
    out
}

fn dot_shifted<T: Sample>(g: &[T], src: &[T], shift: isize) -> T {
    let w = g.len();
    let (a, b) = match shift {
        0 => (g, src),
        -1 => (&g[1..], &src[..w - 1]),
        _ => (&g[..w - 1], &src[1..]),
    };
    a.iter().zip(b).fold(T::default(), |acc, (&p, &q)| acc + p * q)
}

fn weight_grad<T: Sample>(x: &[T], g: &[T], (n, c, h, w): (usize, usize, usize, usize)) -> Vec<T> {
    let plane = h * w;
    let mut out = vec![T::default(); c * 9];
    out.par_chunks_mut(9).enumerate().for_each(|(ch, acc)| {
        for b in 0..n {
            let off = (b * c + ch) * plane;
            let (xp, gp) = (&x[off..off + plane], &g[off..off + plane]);
            for y in 0..h {
                let grow = &gp[y * w..(y + 1) * w];
                for i in 0..3 {
                    let Some(sy) = (y + i).checked_sub(1).filter(|&sy| sy < h) else { continue };
                    let src = &xp[sy * w..(sy + 1) * w];
                    for j in 0..3 {
                        acc[i * 3 + j] = acc[i * 3 + j] + dot_shifted(grow, src, j as isize - 1);
                    }
                }
            }
        }
    });
    out
}

impl CustomOp2 for Depthwise3x3 {
    fn name(&self) -> &'static str {
        "depthwise3x3"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = dims(l1, l2, self.name())?;
        let storage = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(k)) => {
                CpuStorage::F32(forward(contiguous(x, l1, self.name())?, contiguous(k, l2, self.name())?, d))
            }
            (CpuStorage::F64(x), CpuStorage::F64(k)) => {
                CpuStorage::F64(forward(contiguous(x, l1, self.name())?, contiguous(k, l2, self.name())?, d))
            }
            _ => bail!("depthwise3x3: input and weight must both be f32 or both f64"),
        };
        Ok((storage, l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let d = dims(l1, l2, self.name())?;
        let dev = &s1.device;
        let (x, k) = (cuda::f32_view(s1, l1, self.name())?, cuda::f32_view(s2, l2, self.name())?);
        // SAFETY: every element is written by the kernel.
        let mut out = unsafe { dev.alloc::<f32>(l1.shape().elem_count())? };
        crate::cuda::kernels::depthwise3x3(dev, &x, &k, &mut out, d)?;
        Ok((candle_core::CudaStorage::wrap_cuda_slice(out, dev.clone()), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        // The input gradient is the same convolution with the kernel rotated by 180 degrees.
        let rev = Tensor::new(&[2u32, 1, 0], w.device())?;
        let w_rot = w.index_select(&rev, 2)?.index_select(&rev, 3)?;
        let grad_x = depthwise3x3(grad, &w_rot)?;
        let grad_w = x.contiguous()?.apply_op2_no_bwd(&grad.contiguous()?, &Depthwise3x3WeightGrad)?;
        Ok((Some(grad_x), Some(grad_w)))
    }
}

impl CustomOp2 for Depthwise3x3WeightGrad {
    fn name(&self) -> &'static str {
        "depthwise3x3-weight-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        if l1.shape() != l2.shape() {
            bail!("{}: input {:?} and gradient {:?} differ", self.name(), l1.shape(), l2.shape())
        }
        let d = l1.shape().dims4()?;
        let storage = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(g)) => {
                CpuStorage::F32(weight_grad(contiguous(x, l1, self.name())?, contiguous(g, l2, self.name())?, d))
            }
            (CpuStorage::F64(x), CpuStorage::F64(g)) => {
                CpuStorage::F64(weight_grad(contiguous(x, l1, self.name())?, contiguous(g, l2, self.name())?, d))
            }
            _ => bail!("{}: operands must both be f32 or both f64", self.name()),
        };
        Ok((storage, Shape::from((d.1, 1, 3, 3))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        if l1.shape() != l2.shape() {
            bail!("{}: input {:?} and gradient {:?} differ", self.name(), l1.shape(), l2.shape())
        }
        let d = l1.shape().dims4()?;
        let dev = &s1.device;
        let (x, g) = (cuda::f32_view(s1, l1, self.name())?, cuda::f32_view(s2, l2, self.name())?);
        // SAFETY: the kernel writes every one of the c * 9 values.
        let mut out = unsafe { dev.alloc::<f32>(d.1 * 9)? };
        crate::cuda::kernels::depthwise3x3_wgrad(dev, &x, &g, &mut out, d)?;
        Ok((candle_core::CudaStorage::wrap_cuda_slice(out, dev.clone()), Shape::from((d.1, 1, 3, 3))))
    }
}

/// Operands of the CUDA forward passes (`kernels/lowlight.cu`): contiguous f32.
#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::cuda_backend::CudaStorageSlice;
    use candle_core::cuda_backend::cudarc::driver::CudaView;
    use candle_core::{CudaStorage, Layout, Result, bail};

    pub fn f32_view<'a>(s: &'a CudaStorage, l: &Layout, op: &str) -> Result<CudaView<'a, f32>> {
        let CudaStorageSlice::F32(data) = &s.slice else {
            bail!("{op}: the CUDA kernel takes f32 operands only")
        };
        match l.contiguous_offsets() {
            Some((a, b)) => Ok(data.slice(a..b)),
            None => bail!("{op}: operands must be contiguous"),
        }
    }
}
