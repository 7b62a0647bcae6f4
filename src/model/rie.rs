//! RIE, recurrent image enhancement, as differentiable tensor ops:
//! `iterations` times `x = x + r * (x^2 - x)`, the same r each time, no
//! clamping inside the loop. The frame path runs the same curve fused in
//! `ops::fused`.

use candle_core::{Result, Tensor};

pub fn rie(x: &Tensor, r: &Tensor, iterations: usize) -> Result<Tensor> {
    let mut x = x.clone();
    for _ in 0..iterations {
        x = (&x + (r * (x.sqr()? - &x)?)?)?;
    }
    Ok(x)
}
