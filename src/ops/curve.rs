//! The curve kernels: the factor map's vertical interpolation and the RIE
//! steps `x = x + r (x^2 - x)` over rows of lanes, in blocks held in
//! registers. AVX2+FMA builds are picked at run time, with a portable
//! fallback (no `target-cpu=native` needed).

/// Lanes processed together in registers: eight AVX vectors of f32.
const BLOCK: usize = 64;

/// One packed frame row of bytes: `factor = top * w0 + bottom * w1` per
/// lane, then the curve steps, then `floor(clamp(x) * 255 + 0.5)`.
pub fn curve_bytes_row(row: &mut [u8], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { curve_row_avx2_fma(row, top, bottom, w0, w1, iterations) };
            return;
        }
    }
    curve_row_body::<false>(row, top, bottom, w0, w1, iterations);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn curve_row_avx2_fma(row: &mut [u8], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    curve_row_body::<true>(row, top, bottom, w0, w1, iterations);
}

/// `v / 255` rounded as the reference rounds it (a plain multiplication by
/// 1/255 is off by an ulp for 126 of the 256 values). With FMA, one residual
/// step after the multiplication gives the correctly rounded quotient at a
/// fraction of the cost of a division (checked for all 256 values in tests).
#[inline(always)]
pub(crate) fn unit<const FMA: bool>(v: u8) -> f32 {
    const INV: f32 = 1.0 / 255.0;
    let v = v as f32;
    if FMA {
        let q = v * INV;
        let residual = (-q).mul_add(255.0, v);
        residual.mul_add(INV, q)
    } else {
        v / 255.0
    }
}

/// `r = top * w0 + bottom * w1`, then `iterations` times `x = x + r (x^2 - x)`.
#[inline(always)]
fn steps<const FMA: bool>(x: &mut [f32; BLOCK], top: &[f32; BLOCK], bottom: &[f32; BLOCK], w0: f32, w1: f32, iterations: usize) {
    let mut r = [0f32; BLOCK];
    for k in 0..BLOCK {
        r[k] = madd::<FMA>(bottom[k], w1, top[k] * w0);
    }
    for _ in 0..iterations {
        for k in 0..BLOCK {
            x[k] = madd::<FMA>(r[k], madd::<FMA>(x[k], x[k], -x[k]), x[k]);
        }
    }
}

/// Lanes of f32 in 0..1, in place: the same factor interpolation and curve
/// steps as [`curve_bytes_row`], clamped to 0..1 but not quantised.
pub fn curve_f32(x: &mut [f32], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { curve_f32_avx2_fma(x, top, bottom, w0, w1, iterations) };
            return;
        }
    }
    curve_f32_body::<false>(x, top, bottom, w0, w1, iterations);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn curve_f32_avx2_fma(x: &mut [f32], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    curve_f32_body::<true>(x, top, bottom, w0, w1, iterations);
}

#[inline(always)]
fn curve_f32_body<const FMA: bool>(x: &mut [f32], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    let mut xs = x.chunks_exact_mut(BLOCK);
    let mut t = top.chunks_exact(BLOCK);
    let mut b = bottom.chunks_exact(BLOCK);
    for ((xs, t), b) in (&mut xs).zip(&mut t).zip(&mut b) {
        let xs: &mut [f32; BLOCK] = xs.try_into().unwrap();
        steps::<FMA>(xs, t.try_into().unwrap(), b.try_into().unwrap(), w0, w1, iterations);
        xs.iter_mut().for_each(|v| *v = v.max(0.0).min(1.0));
    }
    let rest = xs.into_remainder();
    if !rest.is_empty() {
        let n = rest.len();
        let (mut xx, mut tt, mut bb) = ([0f32; BLOCK], [0f32; BLOCK], [0f32; BLOCK]);
        xx[..n].copy_from_slice(rest);
        tt[..n].copy_from_slice(t.remainder());
        bb[..n].copy_from_slice(b.remainder());
        steps::<FMA>(&mut xx, &tt, &bb, w0, w1, iterations);
        rest.iter_mut().zip(xx).for_each(|(v, x)| *v = x.max(0.0).min(1.0));
    }
}

pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_is_the_correctly_rounded_quotient() {
        for v in 0..=255u8 {
            assert_eq!(super::unit::<true>(v).to_bits(), (v as f32 / 255.0).to_bits(), "{v}");
            assert_eq!(super::unit::<false>(v).to_bits(), (v as f32 / 255.0).to_bits(), "{v}");
        }
    }
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

#[inline(always)]
fn curve_row_body<const FMA: bool>(row: &mut [u8], top: &[f32], bottom: &[f32], w0: f32, w1: f32, iterations: usize) {
    let mut px = row.chunks_exact_mut(BLOCK);
    let mut t = top.chunks_exact(BLOCK);
    let mut b = bottom.chunks_exact(BLOCK);
    for ((px, t), b) in (&mut px).zip(&mut t).zip(&mut b) {
        block::<FMA>(px.try_into().unwrap(), t.try_into().unwrap(), b.try_into().unwrap(), w0, w1, iterations);
    }
    let rest = px.into_remainder();
    if !rest.is_empty() {
        let n = rest.len();
        let (mut p, mut tt, mut bb) = ([0u8; BLOCK], [0f32; BLOCK], [0f32; BLOCK]);
        p[..n].copy_from_slice(rest);
        tt[..n].copy_from_slice(t.remainder());
        bb[..n].copy_from_slice(b.remainder());
        block::<FMA>(&mut p, &tt, &bb, w0, w1, iterations);
        rest.copy_from_slice(&p[..n]);
    }
}

#[inline(always)]
fn block<const FMA: bool>(
    px: &mut [u8; BLOCK],
    top: &[f32; BLOCK],
    bottom: &[f32; BLOCK],
    w0: f32,
    w1: f32,
    iterations: usize,
) {
    let mut x = [0f32; BLOCK];
    for k in 0..BLOCK {
        x[k] = unit::<FMA>(px[k]);
    }
    steps::<FMA>(&mut x, top, bottom, w0, w1, iterations);
    for k in 0..BLOCK {
        // max/min map NaN to 0, and after the clamp the value is in 0..=255.5.
        let v = x[k].max(0.0).min(1.0) * 255.0 + 0.5;
        // SAFETY: v is finite and in 0..=255.5, so truncation fits an i32 (and is floor).
        px[k] = unsafe { v.to_int_unchecked::<i32>() } as u8;
    }
}
