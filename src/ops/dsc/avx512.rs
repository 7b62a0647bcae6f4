//! AVX-512 kernels of the fused layer: the AVX2 kernels' arithmetic on 16
//! lanes, with masked loads and stores at the rows' ends instead of edge
//! shuffles. On CPUs with two 512-bit FMA units this doubles the EFE's
//! arithmetic rate. Every function here assumes `Isa::Avx512`; callers check.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use super::avx2::Tile;
use super::{Activation, CO_BLOCK, FusedDsc, OutRows, PointBlock};
use crate::ops::avx512::mask16;

const LANES: usize = 16;
/// Vectors of pixels per pointwise tile: with CO_BLOCK output channels, 18
/// accumulators, three inputs and a weight. Four vectors (24 accumulators)
/// measured slower: the compiler then spills accumulators every step.
const TILE_VECS: usize = 3;

/// Rows `y0..` of the depthwise 3x3 conv (zero padding) plus bias of one
/// plane of rows as long as `zeros`, as many as `dst` holds.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
pub(super) fn depthwise_rows(plane: &[f32], zeros: &[f32], y0: usize, taps: &[f32; 9], bias: f32, dst: &mut [f32]) {
    let w = zeros.len();
    let k = taps.map(|t| _mm512_set1_ps(t));
    let bias = _mm512_set1_ps(bias);
    // Two output rows at a time, as the AVX2 kernel.
    let mut rows = dst.chunks_exact_mut(w);
    let mut y = y0;
    let row = |sy: usize| plane.get(sy * w..(sy + 1) * w);
    while let Some(first) = rows.next() {
        let [above, at, below] = super::source_rows(plane, zeros, y);
        // The next pair's two new source rows are fetched while this pair is
        // computed, a cache line of each per step: the planes of large grids
        // come from memory, and a miss at the start of each row otherwise
        // stalls the loop.
        let ahead = [row(y + 3).unwrap_or(&[]), row(y + 4).unwrap_or(&[])];
        match rows.next() {
            Some(second) => {
                let next = super::source_rows(plane, zeros, y + 1)[2];
                output_rows([above, at, below, next], &k, bias, [first, second], ahead);
            }
            None => output_rows([above, at, below], &k, bias, [first], ahead),
        }
        y += 2;
    }
}

/// `N` consecutive output rows from the `S = N + 2` source rows around them,
/// all of one length; the lines of the rows `ahead` (that length, or empty)
/// are asked into the cache as it goes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn output_rows<const S: usize, const N: usize>(
    src: [&[f32]; S],
    k: &[__m512; 9],
    bias: __m512,
    dst: [&mut [f32]; N],
    ahead: [&[f32]; 2],
) {
    let w = dst[0].len();
    assert!(S == N + 2 && src.iter().all(|r| r.len() == w) && dst.iter().all(|d| d.len() == w));
    let out = dst.map(|d| d.as_mut_ptr());
    for x in (0..w).step_by(LANES) {
        for row in ahead {
            if let Some(line) = row.get(x) {
                _mm_prefetch::<_MM_HINT_T0>((line as *const f32).cast());
            }
        }
        let n = LANES.min(w - x);
        let mut win = [[_mm512_setzero_ps(); 3]; S];
        for (win, row) in win.iter_mut().zip(src) {
            // SAFETY: x + n <= w, the length of every source row.
            *win = unsafe { window(row, x, n) };
        }
        for (r, out) in out.iter().enumerate() {
            let mut acc = bias;
            for i in 0..3 {
                for j in 0..3 {
                    acc = _mm512_fmadd_ps(k[i * 3 + j], win[r + i][j], acc);
                }
            }
            // SAFETY: lanes x..x + n of an output row of length w.
            unsafe { _mm512_mask_storeu_ps(out.add(x), mask16(n), acc) };
        }
    }
}

/// Lanes `x..x + n` of a row and their left and right neighbours, zero
/// outside the row (the padding) and past lane `n`.
///
/// # Safety
/// `1 <= n <= LANES` and `x + n <= row.len()`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn window(row: &[f32], x: usize, n: usize) -> [__m512; 3] {
    let at = mask16(n);
    let left = if x == 0 { at & !1 } else { at };
    let right = if x + n == row.len() { at >> 1 } else { at };
    let p = row.as_ptr().wrapping_add(x);
    // SAFETY: the masks leave out every lane outside the row; masked-off
    // lanes are not read.
    unsafe {
        [
            _mm512_maskz_loadu_ps(left, p.wrapping_sub(1)),
            _mm512_maskz_loadu_ps(at, p),
            _mm512_maskz_loadu_ps(right, p.wrapping_add(1)),
        ]
    }
}

/// The pointwise conv of one band: `out[co] = act(bias[co] + sum_ci W[co, ci]
/// * mid[ci])`. `mid` holds `cin` rows of `stride` floats, `stride` at least
/// `out.n` rounded up to whole vectors.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
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

/// One tile of `V` vectors of pixels, every output channel.
///
/// # Safety
/// `tile.mid` holds `V * LANES` floats from `ci * stride` for every input
/// channel `ci`, `tile.out` holds `tile.len` floats from `co * plane` for
/// every output channel `co`, and nothing else accesses those.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
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
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn block_tile<const CO: usize, const V: usize>(blk: &PointBlock, tile: Tile) {
    let (wt, _) = blk.weight.as_chunks::<CO>();
    let mut acc = [[_mm512_setzero_ps(); V]; CO];
    for (a, &b) in acc.iter_mut().zip(&blk.bias) {
        *a = [_mm512_set1_ps(b); V];
    }
    let mut row = tile.mid;
    for wk in wt {
        // SAFETY: by the caller, `row` (input channel ci's) holds V * LANES floats.
        unsafe { accumulate(&mut acc, row, wk) };
        row = row.wrapping_add(tile.stride);
    }
    for (k, acc) in acc.iter().enumerate() {
        for (j, &a) in acc.iter().enumerate() {
            let v = match tile.activation {
                Activation::Relu => _mm512_max_ps(a, _mm512_setzero_ps()),
                Activation::Tanh => tanh(a),
            };
            let lanes = mask16(tile.len.saturating_sub(j * LANES));
            // SAFETY: by the caller; lanes past `tile.len` are left alone.
            unsafe { _mm512_mask_storeu_ps(tile.out.add((blk.co0 + k) * tile.plane + j * LANES), lanes, v) };
        }
    }
}

/// `acc[k] += wk[k] * mid` for one input channel.
///
/// # Safety
/// `mid` holds `V * LANES` floats.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn accumulate<const CO: usize, const V: usize>(acc: &mut [[__m512; V]; CO], mid: *const f32, wk: &[f32; CO]) {
    let mut m = [_mm512_setzero_ps(); V];
    for (j, m) in m.iter_mut().enumerate() {
        // SAFETY: by the caller.
        *m = unsafe { _mm512_loadu_ps(mid.add(j * LANES)) };
    }
    for (a, &wv) in acc.iter_mut().zip(wk) {
        let wv = _mm512_set1_ps(wv);
        for (a, &m) in a.iter_mut().zip(&m) {
            *a = _mm512_fmadd_ps(wv, m, *a);
        }
    }
}

/// tanh as the AVX2 kernel computes it: `sign(x) (1 - e) / (1 + e)` with
/// `e = exp(-2|x|)`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn tanh(x: __m512) -> __m512 {
    let sign_bit = _mm512_set1_ps(-0.0);
    let sign = _mm512_and_ps(x, sign_bit);
    let e = exp_nonpositive(_mm512_mul_ps(_mm512_andnot_ps(sign_bit, x), _mm512_set1_ps(-2.0)));
    let one = _mm512_set1_ps(1.0);
    let t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    _mm512_or_ps(t, sign)
}

/// `e^y` for `y <= 0`, below -87 taken as -87; see the AVX2 kernel.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn exp_nonpositive(y: __m512) -> __m512 {
    const LN2_HI: f32 = 355.0 / 512.0;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let y = _mm512_max_ps(_mm512_set1_ps(-87.0), y);
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        y,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), y);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(1.0 / 5040.0);
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let two_n = _mm512_slli_epi32::<23>(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)));
    _mm512_mul_ps(p, _mm512_castsi512_ps(two_n))
}
