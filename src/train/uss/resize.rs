//! Differentiable bilinear resize (PyTorch `F.interpolate(x, size, mode=
//! "bilinear", align_corners=False)`, which the authors' `F.upsample` is).
//!
//! candle's `upsample_bilinear2d` has no backward pass, so the resize is two
//! matrix products with interpolation matrices, which candle differentiates.

use candle_core::{Result, Tensor};

/// `[input, output]` matrix `m` with `out[j] = sum_i in[i] * m[i, j]`.
fn interpolation_matrix(input: usize, output: usize) -> Vec<f32> {
    let mut m = vec![0f32; input * output];
    let scale = input as f64 / output as f64;
    for j in 0..output {
        let src = ((j as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(input - 1);
        let i1 = (i0 + 1).min(input - 1);
        let l1 = (src - i0 as f64) as f32;
        m[i0 * output + j] += 1.0 - l1;
        m[i1 * output + j] += l1;
    }
    m
}

/// Resizes `x` `[N, C, h, w]` to `[N, C, height, width]`.
pub fn resize_bilinear(x: &Tensor, height: usize, width: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let along_last = |t: &Tensor, input: usize, output: usize| -> Result<Tensor> {
        let m = Tensor::from_vec(interpolation_matrix(input, output), (input, output), t.device())?
            .to_dtype(t.dtype())?;
        t.contiguous()?.broadcast_matmul(&m)
    };
    let mut y = x.clone();
    if w != width {
        y = along_last(&y, w, width)?;
    }
    if h != height {
        y = along_last(&y.transpose(2, 3)?, h, height)?.transpose(2, 3)?.contiguous()?;
    }
    Ok(y)
}
