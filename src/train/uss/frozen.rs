//! Convolutions with frozen weights whose backward pass computes only the
//! input gradient, fast on the CPU.
//!
//! The USS never trains, yet candle's `conv2d` backward always computes the
//! kernel gradient too and gets the input gradient from its naive
//! `conv_transpose2d`; its grouped `conv2d` runs one convolution per
//! channel. Here the forward result is computed without a graph and tied to
//! the input by [`with_input_grad`], whose backward is a plain convolution
//! (im2col + matrix product) or, for depthwise kernels, a direct loop.

use candle_core::{CpuStorage, CustomOp2, D, DType, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

type InputGrad = Box<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

/// Returns `y`; in backward, `x` receives `input_grad(grad of y)`.
struct PassThrough {
    input_grad: InputGrad,
}

impl CustomOp2 for PassThrough {
    fn name(&self) -> &'static str {
        "frozen-conv"
    }

    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((a, b)) = l2.contiguous_offsets() else { bail!("frozen-conv: result must be contiguous") };
        let storage = match s2 {
            CpuStorage::F32(v) => CpuStorage::F32(v[a..b].to_vec()),
            CpuStorage::F64(v) => CpuStorage::F64(v[a..b].to_vec()),
            _ => bail!("frozen-conv: f32 or f64 only"),
        };
        Ok((storage, l2.shape().clone()))
    }

    fn bwd(&self, _: &Tensor, _: &Tensor, _: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some((self.input_grad)(grad)?), None))
    }
}

/// `y` (computed from `x` without a graph) with `x`'s gradient given by `input_grad`.
fn with_input_grad(
    x: &Tensor,
    y: Tensor,
    input_grad: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
) -> Result<Tensor> {
    if !x.track_op() {
        return Ok(y);
    }
    x.apply_op2(&y.contiguous()?, PassThrough { input_grad: Box::new(input_grad) })
}

/// Inserts `s - 1` zeros between the rows and columns of `[N, C, H, W]`.
fn dilate(g: &Tensor, s: usize) -> Result<Tensor> {
    if s == 1 {
        return Ok(g.clone());
    }
    let (n, c, h, w) = g.dims4()?;
    let z = g.zeros_like()?;
    let mut parts = vec![g.unsqueeze(D::Minus1)?];
    parts.extend((1..s).map(|_| z.unsqueeze(D::Minus1)).collect::<Result<Vec<_>>>()?);
    let cols = Tensor::cat(&parts, 4)?.reshape((n, c, h, w * s))?.narrow(3, 0, (w - 1) * s + 1)?;
    let zr = cols.zeros_like()?;
    let mut parts = vec![cols.unsqueeze(3)?];
    parts.extend((1..s).map(|_| zr.unsqueeze(3)).collect::<Result<Vec<_>>>()?);
    Tensor::cat(&parts, 3)?.reshape((n, c, h * s, (w - 1) * s + 1))?.narrow(2, 0, (h - 1) * s + 1)
}

/// Zero-pads the gradient of a padded input back to `(h, w)`: rows and
/// columns a strided convolution never read get zero.
fn pad_to(g: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    let (_, _, gh, gw) = g.dims4()?;
    g.pad_with_zeros(2, 0, h - gh)?.pad_with_zeros(3, 0, w - gw)
}

/// A dense convolution (groups 1) of an already padded input, no bias:
/// `x [N, Cin, H, W]`, `weight [Cout, Cin, k, k]`, stride `s`, padding 0.
pub fn conv2d(x: &Tensor, weight: &Tensor, s: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let k = weight.dim(2)?;
    if h < k || w < k {
        bail!("conv2d: input {h}x{w} is smaller than the {k}x{k} kernel")
    }
    let y = x.detach().conv2d(weight, 0, s, 1, 1)?;
    // The input gradient: the stride-dilated output gradient, padded by
    // k - 1, convolved with the kernel transposed and rotated by 180 degrees.
    let flipped = weight.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
    with_input_grad(x, y, move |g| {
        let gx = dilate(g, s)?.conv2d(&flipped, k - 1, 1, 1, 1)?;
        pad_to(&gx, h, w)
    })
}

/// A depthwise convolution (one `k x k` filter per channel, groups = C) of
/// an already padded input, no bias: `weight [C, 1, k, k]`, stride `s`.
pub fn depthwise(x: &Tensor, weight: &Tensor, s: usize) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let k = weight.dim(2)?;
    if weight.dims() != [c, 1, k, k] {
        bail!("depthwise: weight {:?} does not fit input {:?}", weight.dims(), x.dims())
    }
    if h < k || w < k {
        bail!("depthwise: input {h}x{w} is smaller than the {k}x{k} kernel")
    }
    let geo = Geometry { c, k, s, h, w, oh: (h - k) / s + 1, ow: (w - k) / s + 1 };
    match x.dtype() {
        DType::F64 => depthwise_as::<f64>(x, weight, geo, n),
        _ => depthwise_as::<f32>(x, weight, geo, n),
    }
}

fn depthwise_as<T: Sample>(x: &Tensor, weight: &Tensor, geo: Geometry, n: usize) -> Result<Tensor> {
    let kernel: Vec<T> = weight.to_dtype(T::DTYPE)?.flatten_all()?.to_vec1()?;
    let input: Vec<T> = x.to_dtype(T::DTYPE)?.flatten_all()?.to_vec1()?;
    let (c, h, w) = (geo.c, geo.h, geo.w);
    let y = Tensor::from_vec(geo.forward(&input, &kernel), (n, c, geo.oh, geo.ow), x.device())?.to_dtype(x.dtype())?;
    with_input_grad(x, y, move |g| {
        let grad: Vec<T> = g.to_dtype(T::DTYPE)?.flatten_all()?.to_vec1()?;
        Tensor::from_vec(geo.input_grad(&grad, &kernel), (n, c, h, w), g.device())?.to_dtype(g.dtype())
    })
}

/// The float types the depthwise loops run in.
trait Sample:
    candle_core::WithDType + Default + std::ops::AddAssign + std::ops::Mul<Output = Self> + Send + Sync
{
}
impl Sample for f32 {}
impl Sample for f64 {}

/// Sizes of a depthwise convolution: channels, kernel, stride, input and output planes.
#[derive(Clone, Copy)]
struct Geometry {
    c: usize,
    k: usize,
    s: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    fn forward<T: Sample>(&self, x: &[T], kernel: &[T]) -> Vec<T> {
        let Geometry { c, k, s, h, w, oh, ow } = *self;
        let mut out = vec![T::default(); x.len() / (h * w) * oh * ow];
        out.par_chunks_mut(oh * ow).enumerate().for_each(|(p, o)| {
            let (xp, kp) = (&x[p * h * w..(p + 1) * h * w], &kernel[(p % c) * k * k..][..k * k]);
            for (oy, row) in o.chunks_mut(ow).enumerate() {
                for i in 0..k {
                    let src = &xp[(oy * s + i) * w..][..w];
                    for j in 0..k {
                        let kv = kp[i * k + j];
                        if s == 1 {
                            row.iter_mut().zip(&src[j..]).for_each(|(d, &v)| *d += kv * v);
                        } else {
                            row.iter_mut().zip(src[j..].iter().step_by(s)).for_each(|(d, &v)| *d += kv * v);
                        }
                    }
                }
            }
        });
        out
    }

    fn input_grad<T: Sample>(&self, g: &[T], kernel: &[T]) -> Vec<T> {
        let Geometry { c, k, s, h, w, oh, ow } = *self;
        let mut out = vec![T::default(); g.len() / (oh * ow) * h * w];
        out.par_chunks_mut(h * w).enumerate().for_each(|(p, gx)| {
            let (gp, kp) = (&g[p * oh * ow..(p + 1) * oh * ow], &kernel[(p % c) * k * k..][..k * k]);
            for (oy, grow) in gp.chunks(ow).enumerate() {
                for i in 0..k {
                    let dst = &mut gx[(oy * s + i) * w..][..w];
                    for j in 0..k {
                        let kv = kp[i * k + j];
                        if s == 1 {
                            dst[j..].iter_mut().zip(grow).for_each(|(d, &v)| *d += kv * v);
                        } else {
                            dst[j..].iter_mut().step_by(s).zip(grow).for_each(|(d, &v)| *d += kv * v);
                        }
                    }
                }
            }
        });
        out
    }
}
