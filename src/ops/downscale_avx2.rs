//! AVX2 kernels of the down-scales (`resample::downscale_packed`,
//! `yuv::downscale_yuv`): 8 output columns at a time, each source sample
//! fetched with a gather of the 4 bytes at its index. The operations and
//! their order are those of the portable loops (no fused multiply-adds), so
//! the low-res image is the same bit for bit. The portable loops finish each
//! row where a gather would read past the end of a plane.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use crate::ops::curve::{INV_255_HI, INV_255_LO};
use crate::ops::resample::Tap;
use crate::ops::yuv::Conversion;

const LANES: usize = 8;

/// The output columns of a down-scale as lanes: for each of the two taps,
/// the byte index of the source sample (luma or pixel), of its chroma, and
/// the weight.
#[derive(Debug, Default)]
pub(crate) struct ColumnLanes {
    index: [Vec<i32>; 2],
    chroma: [Vec<i32>; 2],
    weight: [Vec<f32>; 2],
}

impl ColumnLanes {
    /// From the column taps, with `index(x)` and `chroma(x)` the byte indices
    /// of source column `x` in its row.
    pub(crate) fn new(tx: &[Tap], index: impl Fn(usize) -> usize, chroma: impl Fn(usize) -> usize) -> Self {
        let i32_of = |v: usize| i32::try_from(v).expect("rows shorter than 2 GiB");
        ColumnLanes {
            index: [tx.iter().map(|t| i32_of(index(t.i0))).collect(), tx.iter().map(|t| i32_of(index(t.i1))).collect()],
            chroma: [tx.iter().map(|t| i32_of(chroma(t.i0))).collect(), tx.iter().map(|t| i32_of(chroma(t.i1))).collect()],
            weight: [tx.iter().map(|t| t.w0).collect(), tx.iter().map(|t| t.w1).collect()],
        }
    }

    /// Whole blocks of 8 columns from `j0` whose gathers stay inside rows of
    /// `len` bytes (indices) and `chroma_len` bytes (chroma): the columns done.
    fn blocks_within(&self, len: usize, chroma_len: usize) -> usize {
        let n = self.index[1].len() / LANES * LANES;
        // Indices grow with the column: the block's last tap reads furthest.
        let fits = |j: usize| {
            self.index[1][j + LANES - 1] as usize + 4 <= len && self.chroma[1][j + LANES - 1] as usize + 4 <= chroma_len
        };
        let mut done = 0;
        while done < n && fits(done) {
            done += LANES;
        }
        done
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn lanes(v: &[i32], j: usize) -> __m256i {
        let v = &v[j..j + LANES];
        // SAFETY: 8 i32.
        unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn weight(&self, tap: usize, j: usize) -> __m256 {
        let w = &self.weight[tap][j..j + LANES];
        // SAFETY: 8 f32.
        unsafe { _mm256_loadu_ps(w.as_ptr()) }
    }
}

/// The 4 bytes at each lane's index of `row`.
///
/// # Safety
/// Every index + 4 is at most `row.len()`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather(row: &[u8], index: __m256i) -> __m256i {
    // SAFETY: by the caller.
    unsafe { _mm256_i32gather_epi32::<1>(row.as_ptr().cast(), index) }
}

/// Byte `k` of each lane, as f32.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn byte<const SHIFT: i32>(v: __m256i) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<SHIFT>(v), _mm256_set1_epi32(0xff)))
}

/// `top * w0 + bottom * w1`, unfused, as the portable loops.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lerp(a: __m256, w0: __m256, b: __m256, w1: __m256) -> __m256 {
    _mm256_add_ps(_mm256_mul_ps(a, w0), _mm256_mul_ps(b, w1))
}

/// One row of a packed down-scale: `rows` are the two source rows (from
/// their first pixel to the end of the frame), `wy` their weights, `shifts`
/// the bit offsets of R, G and B in a pixel's first 4 bytes (the gather reads
/// a pixel there). Returns the columns done.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn packed_row(rows: [&[u8]; 2], cols: &ColumnLanes, (wy0, wy1): (f32, f32), shifts: [u32; 3], out: [&mut [f32]; 3]) -> usize {
    let done = cols.blocks_within(rows[0].len().min(rows[1].len()), usize::MAX);
    let (wy0, wy1) = (_mm256_set1_ps(wy0), _mm256_set1_ps(wy1));
    let unit = |v: __m256| _mm256_fmadd_ps(v, _mm256_set1_ps(INV_255_HI), _mm256_mul_ps(v, _mm256_set1_ps(INV_255_LO)));
    let [r, g, b] = out;
    for j in (0..done).step_by(LANES) {
        let idx = [0, 1].map(|t| ColumnLanes::lanes(&cols.index[t], j));
        // SAFETY: blocks_within checked that the gathers stay in the rows.
        let px: [[__m256i; 2]; 2] = rows.map(|row| idx.map(|i| unsafe { gather(row, i) }));
        let (w0, w1) = (cols.weight(0, j), cols.weight(1, j));
        for (c, dst) in [&mut *r, &mut *g, &mut *b].into_iter().enumerate() {
            let channel = |v: __m256i| {
                let shifted = _mm256_srlv_epi32(v, _mm256_set1_epi32(shifts[c] as i32));
                unit(_mm256_cvtepi32_ps(_mm256_and_si256(shifted, _mm256_set1_epi32(0xff))))
            };
            let top = lerp(channel(px[0][0]), w0, channel(px[0][1]), w1);
            let bottom = lerp(channel(px[1][0]), w0, channel(px[1][1]), w1);
            let dst = &mut dst[j..j + LANES];
            // SAFETY: 8 f32.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), lerp(top, wy0, bottom, wy1)) };
        }
    }
    done
}

/// The chroma rows of a YUV source row.
#[derive(Clone, Copy)]
pub(crate) enum Chroma<'a> {
    /// NV12: U at the chroma index, V one byte after it.
    Interleaved(&'a [u8]),
    Planar(&'a [u8], &'a [u8]),
}

impl Chroma<'_> {
    fn len(&self) -> usize {
        match self {
            Chroma::Interleaved(uv) => uv.len(),
            Chroma::Planar(u, v) => u.len().min(v.len()),
        }
    }

    /// U and V at each lane's chroma index.
    ///
    /// # Safety
    /// Every index + 4 is within the rows.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn at(&self, index: __m256i) -> (__m256, __m256) {
        // SAFETY: by the caller.
        unsafe {
            match *self {
                Chroma::Interleaved(uv) => {
                    let both = gather(uv, index);
                    (byte::<0>(both), byte::<8>(both))
                }
                Chroma::Planar(u, v) => (byte::<0>(gather(u, index)), byte::<0>(gather(v, index))),
            }
        }
    }
}

/// One row of a YUV down-scale: each of the two source rows as its luma row
/// and chroma (from the row's start to the end of the planes), `wy` their
/// weights. Returns the columns done.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn yuv_row(rows: [(&[u8], Chroma<'_>); 2], cols: &ColumnLanes, (wy0, wy1): (f32, f32), k: &Conversion, out: [&mut [f32]; 3]) -> usize {
    let len = rows[0].0.len().min(rows[1].0.len());
    let done = cols.blocks_within(len, rows[0].1.len().min(rows[1].1.len()));
    let (wy0, wy1) = (_mm256_set1_ps(wy0), _mm256_set1_ps(wy1));
    let s = _mm256_set1_ps;
    let clamp = |v: __m256| _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), s(1.0));
    // As Conversion::rgb: the same operations in the same order.
    let rgb = |y: __m256, u: __m256, v: __m256| {
        let yy = _mm256_mul_ps(_mm256_sub_ps(y, s(k.y_off)), s(k.ys));
        let (cu, cv) = (_mm256_sub_ps(u, s(128.0)), _mm256_sub_ps(v, s(128.0)));
        [
            clamp(_mm256_add_ps(yy, _mm256_mul_ps(s(k.rv), cv))),
            clamp(_mm256_add_ps(_mm256_add_ps(yy, _mm256_mul_ps(s(k.gu), cu)), _mm256_mul_ps(s(k.gv), cv))),
            clamp(_mm256_add_ps(yy, _mm256_mul_ps(s(k.bu), cu))),
        ]
    };
    let [r, g, b] = out;
    for j in (0..done).step_by(LANES) {
        let (idx, cidx) = ([0, 1].map(|t| ColumnLanes::lanes(&cols.index[t], j)), [0, 1].map(|t| ColumnLanes::lanes(&cols.chroma[t], j)));
        // SAFETY: blocks_within checked that the gathers stay in the rows.
        let p: [[[__m256; 3]; 2]; 2] = rows.map(|(luma, chroma)| {
            [0, 1].map(|t| unsafe {
                let (u, v) = chroma.at(cidx[t]);
                rgb(byte::<0>(gather(luma, idx[t])), u, v)
            })
        });
        let (w0, w1) = (cols.weight(0, j), cols.weight(1, j));
        for (c, dst) in [&mut *r, &mut *g, &mut *b].into_iter().enumerate() {
            let top = lerp(p[0][0][c], w0, p[0][1][c], w1);
            let bottom = lerp(p[1][0][c], w0, p[1][1][c], w1);
            let dst = &mut dst[j..j + LANES];
            // SAFETY: 8 f32.
            unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), lerp(top, wy0, bottom, wy1)) };
        }
    }
    done
}
