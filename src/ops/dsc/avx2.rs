//! AVX2 + FMA kernels of the fused layer. Every function here assumes the CPU
//! has both; callers check `has_avx2_fma` first.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::{Activation, CO_BLOCK, FusedDsc, OutRows, PointBlock};

const LANES: usize = 8;
/// Vectors of pixels per pointwise tile (see CO_BLOCK).
const TILE_VECS: usize = 2;

/// Source lanes of one vector of output: for each source row, the lanes' left
/// neighbours, the lanes, their right neighbours.
type Window<const S: usize> = [[__m256; 3]; S];

/// Rows `y0..` of the depthwise 3x3 conv (zero padding) plus bias of one
/// plane of rows as long as `zeros`, as many as `dst` holds.
#[target_feature(enable = "avx2,fma")]
pub(super) fn depthwise_rows(plane: &[f32], zeros: &[f32], y0: usize, taps: &[f32; 9], bias: f32, dst: &mut [f32]) {
    let w = zeros.len();
    if w <= LANES {
        return super::depthwise_rows(plane, zeros, y0, taps, bias, dst);
    }
    let mut k = [_mm256_setzero_ps(); 9];
    for (kv, &t) in k.iter_mut().zip(taps) {
        *kv = _mm256_set1_ps(t);
    }
    let bias = _mm256_set1_ps(bias);
    // Two output rows at a time: two independent sums per vector, and the
    // source rows they share are read once.
    let mut rows = dst.chunks_exact_mut(w);
    let mut y = y0;
    while let Some(first) = rows.next() {
        let [above, at, below] = super::source_rows(plane, zeros, y);
        match rows.next() {
            Some(second) => {
                let next = super::source_rows(plane, zeros, y + 1)[2];
                output_rows([above, at, below, next], &k, bias, [first, second]);
            }
            None => output_rows([above, at, below], &k, bias, [first]),
        }
        y += 2;
    }
}

/// `N` consecutive output rows from the `S = N + 2` source rows around them,
/// each as long as the output rows, which are longer than a vector.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn output_rows<const S: usize, const N: usize>(src: [&[f32]; S], k: &[__m256; 9], bias: __m256, dst: [&mut [f32]; N]) {
    let w = dst[0].len();
    assert!(S == N + 2 && w > LANES && src.iter().all(|r| r.len() == w) && dst.iter().all(|d| d.len() == w));
    let out = dst.map(|d| d.as_mut_ptr());
    let mut win: Window<S> = [[_mm256_setzero_ps(); 3]; S];
    let store = |win: &Window<S>, x: usize| {
        for (r, out) in out.iter().enumerate() {
            // SAFETY: x + LANES <= w wherever this is called.
            unsafe { _mm256_storeu_ps(out.add(x), window_sum(k, bias, win[r..r + 3].try_into().unwrap())) };
        }
    };

    // The first and last vectors make their own outer neighbour, the padding
    // zero; the ones between read both neighbours from memory. The last one
    // may overlap the one before it.
    for (wi, row) in win.iter_mut().zip(src) {
        *wi = left_edge(row);
    }
    store(&win, 0);
    let mut x = LANES;
    while x + LANES < w {
        for (wi, row) in win.iter_mut().zip(src) {
            // SAFETY: 1 <= x and x + LANES + 1 <= w = row.len().
            *wi = unsafe { interior(row.as_ptr(), x) };
        }
        store(&win, x);
        x += LANES;
    }
    for (wi, row) in win.iter_mut().zip(src) {
        *wi = right_edge(row);
    }
    store(&win, w - LANES);
}

/// One vector of output: `bias + sum k[i * 3 + j] * win[i][j]`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn window_sum(k: &[__m256; 9], bias: __m256, win: &Window<3>) -> __m256 {
    let mut acc = bias;
    for i in 0..3 {
        for j in 0..3 {
            acc = _mm256_fmadd_ps(k[i * 3 + j], win[i][j], acc);
        }
    }
    acc
}

/// Lanes `x..x + 8` of a row and their neighbours.
///
/// # Safety
/// `1 <= x` and `row` holds at least `x + 9` floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn interior(row: *const f32, x: usize) -> [__m256; 3] {
    unsafe { [_mm256_loadu_ps(row.add(x - 1)), _mm256_loadu_ps(row.add(x)), _mm256_loadu_ps(row.add(x + 1))] }
}

/// Lanes `0..8` and their neighbours, zero left of lane 0.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn left_edge(row: &[f32]) -> [__m256; 3] {
    let mid = load(row[..LANES].try_into().unwrap());
    let right = load(row[1..LANES + 1].try_into().unwrap());
    let shifted = _mm256_permutevar8x32_ps(mid, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
    [_mm256_blend_ps::<0b0000_0001>(shifted, _mm256_setzero_ps()), mid, right]
}

/// The last eight lanes and their neighbours, zero right of the last.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn right_edge(row: &[f32]) -> [__m256; 3] {
    let x = row.len() - LANES;
    let left = load(row[x - 1..x + LANES - 1].try_into().unwrap());
    let mid = load(row[x..].try_into().unwrap());
    let shifted = _mm256_permutevar8x32_ps(mid, _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7));
    [left, mid, _mm256_blend_ps::<0b1000_0000>(shifted, _mm256_setzero_ps())]
}

/// The pointwise conv of one band: `out[co] = act(bias[co] + sum_ci W[co, ci]
/// * mid[ci])`. `mid` holds `cin` rows of `stride` floats, `stride` at least
/// `out.n` rounded up to whole vectors.
#[target_feature(enable = "avx2,fma")]
pub(super) fn pointwise(layer: &FusedDsc, mid: &[f32], stride: usize, out: &OutRows) {
    let n = out.n;
    assert!(stride >= n.next_multiple_of(LANES) && mid.len() >= layer.cin * stride);
    let tile = |p0: usize, len: usize| Tile {
        mid: mid[p0..].as_ptr(),
        stride,
        // SAFETY: p0 < n, within output channel 0's rows of this band.
        out: unsafe { out.ptr.add(p0) },
        plane: out.plane,
        len,
        activation: layer.activation,
    };
    let mut p0 = 0;
    while p0 + TILE_VECS * LANES <= n {
        // SAFETY: asserted above; the band's rows are its own.
        unsafe { tile_all_channels::<TILE_VECS>(layer, tile(p0, TILE_VECS * LANES)) };
        p0 += TILE_VECS * LANES;
    }
    while p0 < n {
        // SAFETY: as above.
        unsafe { tile_all_channels::<1>(layer, tile(p0, LANES.min(n - p0))) };
        p0 += LANES;
    }
}

/// Where a tile of pixels is read and written.
#[derive(Clone, Copy)]
pub(super) struct Tile {
    /// Input channel 0 at the tile's first pixel; channel `ci` is `ci * stride` further.
    pub mid: *const f32,
    pub stride: usize,
    /// Output channel 0 at the tile's first pixel; channel `co` is `co * plane` further.
    pub out: *mut f32,
    pub plane: usize,
    /// Pixels written, at most `V * LANES` for a tile of `V` vectors.
    pub len: usize,
    pub activation: Activation,
}

/// One tile of `V` vectors of pixels, every output channel.
///
/// # Safety
/// `tile.mid` holds `V * LANES` floats from `ci * stride` for every input
/// channel `ci`, `tile.out` holds `tile.len` floats from `co * plane` for
/// every output channel `co`, and nothing else accesses those.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_all_channels<const V: usize>(layer: &FusedDsc, tile: Tile) {
    const _: () = assert!(CO_BLOCK == 6);
    for blk in &layer.point_blocks {
        // SAFETY: by the caller, for each of the block sizes.
        unsafe {
            match blk.bias.len() {
                6 => block_tile::<6, V>(blk, tile),
                5 => block_tile::<5, V>(blk, tile),
                4 => block_tile::<4, V>(blk, tile),
                3 => block_tile::<3, V>(blk, tile),
                2 => block_tile::<2, V>(blk, tile),
                1 => block_tile::<1, V>(blk, tile),
                _ => unreachable!("blocks hold 1..=CO_BLOCK channels"),
            }
        }
    }
}

/// One block's `CO` output channels at one tile of `V` vectors of pixels.
///
/// # Safety
/// As [`tile_all_channels`].
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_tile<const CO: usize, const V: usize>(blk: &PointBlock, tile: Tile) {
    let (wt, _) = blk.weight.as_chunks::<CO>();
    let bias: &[f32; CO] = blk.bias[..].try_into().unwrap();
    // SAFETY: by the caller.
    let acc = unsafe { tile_sums::<CO, V>(tile.mid, tile.stride, wt, bias) };
    if tile.activation == Activation::Tanh {
        // SAFETY: by the caller.
        return unsafe { store_activated(&acc, blk.co0, tile, |a| tanh(a)) };
    }
    // SAFETY: by the caller.
    unsafe { store_activated(&acc, blk.co0, tile, |a| _mm256_max_ps(a, _mm256_setzero_ps())) };
}

/// `activation(acc)` into output channels `co0..co0 + CO` of the tile.
///
/// # Safety
/// As [`tile_all_channels`].
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_activated<const CO: usize, const V: usize>(
    acc: &[[__m256; V]; CO],
    co0: usize,
    tile: Tile,
    activation: impl Fn(__m256) -> __m256,
) {
    for (k, acc) in acc.iter().enumerate() {
        for (j, &a) in acc.iter().enumerate() {
            // SAFETY: by the caller; lanes past `tile.len` are left alone.
            unsafe {
                let dst = tile.out.add((co0 + k) * tile.plane + j * LANES);
                store_lanes(dst, activation(a), tile.len.saturating_sub(j * LANES));
            }
        }
    }
}

/// `CO` output channels x `V` vectors of pixels, all in registers.
///
/// # Safety
/// `mid` holds `V * LANES` floats from `ci * stride` for `ci < wt.len()`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_sums<const CO: usize, const V: usize>(
    mid: *const f32,
    stride: usize,
    wt: &[[f32; CO]],
    bias: &[f32; CO],
) -> [[__m256; V]; CO] {
    let mut acc = [[_mm256_setzero_ps(); V]; CO];
    for (a, &b) in acc.iter_mut().zip(bias) {
        *a = [_mm256_set1_ps(b); V];
    }
    // Two input channels per iteration halve the loop overhead.
    let (pairs, rest) = wt.as_chunks::<2>();
    let mut row = mid;
    for [w0, w1] in pairs {
        // SAFETY: by the caller; `row` is input channel ci's, then ci + 1's.
        unsafe {
            accumulate(&mut acc, row, w0);
            row = row.wrapping_add(stride);
            accumulate(&mut acc, row, w1);
            row = row.wrapping_add(stride);
        }
    }
    if let [w] = rest {
        // SAFETY: as above.
        unsafe { accumulate(&mut acc, row, w) };
    }
    acc
}

/// `acc[k] += wk[k] * mid` for one input channel.
///
/// # Safety
/// `mid` holds `V * LANES` floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate<const CO: usize, const V: usize>(acc: &mut [[__m256; V]; CO], mid: *const f32, wk: &[f32; CO]) {
    let mut m = [_mm256_setzero_ps(); V];
    for (j, m) in m.iter_mut().enumerate() {
        // SAFETY: by the caller.
        *m = unsafe { _mm256_loadu_ps(mid.add(j * LANES)) };
    }
    for (a, &wv) in acc.iter_mut().zip(wk) {
        let wv = _mm256_set1_ps(wv);
        for (a, &m) in a.iter_mut().zip(&m) {
            *a = _mm256_fmadd_ps(wv, m, *a);
        }
    }
}

/// The first `len` lanes of `v` (all of them when `len >= LANES`) at `dst`.
///
/// # Safety
/// `dst` holds `len.min(LANES)` floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_lanes(dst: *mut f32, v: __m256, len: usize) {
    if len >= LANES {
        // SAFETY: by the caller.
        unsafe { _mm256_storeu_ps(dst, v) };
    } else {
        let mut lanes = [0f32; LANES];
        store(&mut lanes, v);
        // SAFETY: by the caller.
        unsafe { std::ptr::copy_nonoverlapping(lanes.as_ptr(), dst, len) };
    }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load(src: &[f32; LANES]) -> __m256 {
    // SAFETY: eight floats.
    unsafe { _mm256_loadu_ps(src.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn store(dst: &mut [f32; LANES], v: __m256) {
    // SAFETY: eight floats.
    unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) }
}

/// tanh to within a few units of 2^-24 absolute, as `sign(x) (1 - e) / (1 + e)`
/// with `e = exp(-2|x|)`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn tanh(x: __m256) -> __m256 {
    let sign_bit = _mm256_set1_ps(-0.0);
    let sign = _mm256_and_ps(x, sign_bit);
    let e = exp_nonpositive(_mm256_mul_ps(_mm256_andnot_ps(sign_bit, x), _mm256_set1_ps(-2.0)));
    let one = _mm256_set1_ps(1.0);
    let t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    _mm256_or_ps(t, sign)
}

/// `e^y` for `y <= 0`, below -87 taken as -87 (about 1e-38; NaN stays NaN).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn exp_nonpositive(y: __m256) -> __m256 {
    // ln 2 in two parts, the first exact in few bits, so that n * LN2_HI is exact.
    const LN2_HI: f32 = 355.0 / 512.0;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let y = _mm256_max_ps(_mm256_set1_ps(-87.0), y);
    // y = n ln2 + r with |r| <= ln2 / 2.
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        y,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), y);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    // e^r by its Taylor series to r^7 / 7!: the rest is below 2^-27 for |r| <= ln2 / 2.
    let mut p = _mm256_set1_ps(1.0 / 5040.0);
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    // 2^n built in the exponent field (n >= -126, a normal number).
    let two_n = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)));
    _mm256_mul_ps(p, _mm256_castsi256_ps(two_n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_is_within_3e_7_of_std() {
        if !crate::ops::curve::has_avx2_fma() {
            return;
        }
        let xs: Vec<f32> = (-24_000..=24_000).map(|i| i as f32 * 1e-3).chain([-100.0, 1e-30, -0.0, 100.0]).collect();
        for chunk in xs.chunks_exact(LANES) {
            let mut got = [0.0; LANES];
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe { store_tanh(chunk.try_into().unwrap(), &mut got) };
            for (&x, &t) in chunk.iter().zip(&got) {
                assert!((t - x.tanh()).abs() <= 2.5e-7, "tanh({x}) = {t}, not {}", x.tanh());
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn store_tanh(x: &[f32; LANES], out: &mut [f32; LANES]) {
        store(out, tanh(load(x)));
    }
}
