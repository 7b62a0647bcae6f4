//! AVX-512 kernels of the fused passes for whole blocks of 16 pixels (two
//! groups, see `ops::curve`): packed rows and 4:2:0 YUV rows. The same
//! operations as `ops::avx2`, twice as wide, so the results are the same bit
//! for bit; the AVX2 kernels finish each row (its last < 16 pixels) and run
//! 4:4:4 frames. Callers check `Isa::Avx512` first.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use crate::ops::avx2::{Chroma420, ChromaPtr};
use crate::ops::curve::{BLOCK, BLOCK_LANES, INV_255_HI, INV_255_LO, RowFactors, factor_row_len};
use crate::ops::fused::PackedShuffles;
use crate::ops::yuv::Conversion;

/// R, G, B of a block.
type Rgb = [__m512; 3];

/// The factors of a row at its blocks (a channel of a block is one vector).
struct BlockFactors {
    top: *const f32,
    bottom: *const f32,
    w0: __m512,
    w1: __m512,
}

impl BlockFactors {
    /// After checking that the rows cover `width` pixels.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
    fn start(f: &RowFactors<'_>, width: usize) -> BlockFactors {
        let n = factor_row_len(width);
        assert!(f.top.len() >= n && f.bottom.len() >= n, "factor rows too short for {width} pixels");
        BlockFactors {
            top: f.top.as_ptr(),
            bottom: f.bottom.as_ptr(),
            w0: _mm512_set1_ps(f.w0),
            w1: _mm512_set1_ps(f.w1),
        }
    }

    /// The factors of block `b`: `bottom * w1 + top * w0`, fused.
    ///
    /// # Safety
    /// Block `b` lies within the width given to [`BlockFactors::start`].
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
    unsafe fn at(&self, b: usize) -> Rgb {
        // SAFETY: by the caller, the block is in the rows.
        let lanes = |p: *const f32, c: usize| unsafe { _mm512_loadu_ps(p.add(b * BLOCK_LANES + c * BLOCK)) };
        std::array::from_fn(|c| {
            _mm512_fmadd_ps(lanes(self.bottom, c), self.w1, _mm512_mul_ps(lanes(self.top, c), self.w0))
        })
    }
}

/// `iterations` curve steps on `M` blocks of `ROWS` rows at once.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn curve<const ROWS: usize, const M: usize>(x: &mut [[Rgb; ROWS]; M], r: &[[Rgb; ROWS]; M], iterations: usize) {
    for _ in 0..iterations {
        for (xc, &rc) in x.as_flattened_mut().as_flattened_mut().iter_mut().zip(r.as_flattened().as_flattened()) {
            *xc = _mm512_fmadd_ps(rc, _mm512_fmsub_ps(*xc, *xc, *xc), *xc);
        }
    }
}

/// As `avx2::unit`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn unit(v: __m512i) -> __m512 {
    let v = _mm512_cvtepi32_ps(v);
    _mm512_fmadd_ps(v, _mm512_set1_ps(INV_255_HI), _mm512_mul_ps(v, _mm512_set1_ps(INV_255_LO)))
}

/// As `avx2::codes`: negative or NaN lanes give 0 or less, made 0 by the packs.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn codes(x: __m512) -> __m512i {
    let x = _mm512_min_ps(_mm512_set1_ps(1.0), x);
    _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(255.0)), _mm512_set1_ps(0.5)))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn clamp_unit(x: __m512) -> __m512 {
    _mm512_min_ps(_mm512_max_ps(x, _mm512_setzero_ps()), _mm512_set1_ps(1.0))
}

// ---- packed rows ---------------------------------------------------------

/// Blocks of a packed row curved together: 12 independent chains.
const IN_FLIGHT: usize = 4;

/// The AVX2 shuffles in each 256-bit half (a block is two groups).
struct PackedMasks {
    take: [__m512i; 3],
    put: __m512i,
    keep: __mmask64,
}

impl PackedMasks {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
    fn new(s: &PackedShuffles) -> Self {
        // SAFETY: 32 bytes.
        let twice = |m: &[u8; 32]| unsafe { _mm512_broadcast_i64x4(_mm256_loadu_si256(m.as_ptr().cast())) };
        let keep = (0..64).filter(|&i| s.keep[i % 32] != 0).fold(0, |k, i| k | 1 << i);
        PackedMasks { take: s.take.each_ref().map(&twice), put: twice(&s.put), keep }
    }
}

/// Enhances the whole blocks of one row of a packed format with `BPP` bytes
/// per pixel in place; returns the pixels done, the rest is for AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
pub fn packed_row<const BPP: usize>(
    row: &mut [u8],
    shuffles: &PackedShuffles,
    f: RowFactors<'_>,
    iterations: usize,
) -> usize {
    const { assert!(BPP == 3 || BPP == 4) };
    let f = BlockFactors::start(&f, row.len() / BPP);
    let m = PackedMasks::new(shuffles);
    let block_bytes = BLOCK * BPP;
    let mut runs = row.chunks_exact_mut(IN_FLIGHT * block_bytes);
    let mut b = 0;
    for px in &mut runs {
        // SAFETY: px holds IN_FLIGHT blocks, blocks b.. are within the row.
        unsafe { packed_blocks::<BPP, IN_FLIGHT>(px.as_mut_ptr(), &f, b, &m, iterations) };
        b += IN_FLIGHT;
    }
    for px in runs.into_remainder().chunks_exact_mut(block_bytes) {
        // SAFETY: px holds a block, block b is within the row.
        unsafe { packed_blocks::<BPP, 1>(px.as_mut_ptr(), &f, b, &m, iterations) };
        b += 1;
    }
    b * BLOCK
}

/// `M` blocks of 16 pixels from `px`, with the factors of blocks `b..b + M`.
///
/// # Safety
/// `px` points to `M * 16 * BPP` writable bytes; the blocks are within the
/// width of `f`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn packed_blocks<const BPP: usize, const M: usize>(
    px: *mut u8,
    f: &BlockFactors,
    b: usize,
    m: &PackedMasks,
    iterations: usize,
) {
    let block = |i: usize| px.wrapping_add(i * BLOCK * BPP);
    // SAFETY: each block's bytes are in px's range.
    let raw: [__m512i; M] = std::array::from_fn(|i| unsafe { load_block::<BPP>(block(i)) });
    let mut x: [[Rgb; 1]; M] = std::array::from_fn(|i| [m.take.map(|t| unit(_mm512_shuffle_epi8(raw[i], t)))]);
    // SAFETY: by the caller.
    let r: [[Rgb; 1]; M] = std::array::from_fn(|i| [unsafe { f.at(b + i) }]);
    curve(&mut x, &r, iterations);
    for i in 0..M {
        let [cr, cg, cb] = x[i][0].map(|v| codes(v));
        let packed = _mm512_packus_epi16(_mm512_packus_epi32(cr, cg), _mm512_packus_epi32(cb, cb));
        // SAFETY: as the load.
        unsafe { store_block::<BPP>(block(i), _mm512_shuffle_epi8(packed, m.put), raw[i], m.keep) };
    }
}

/// A block's bytes with each group in one 256-bit half, laid out as
/// `avx2::load_group` lays out a group.
///
/// # Safety
/// `p` points to `16 * BPP` readable bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn load_block<const BPP: usize>(p: *const u8) -> __m512i {
    if BPP == 4 {
        unsafe { _mm512_loadu_si512(p.cast()) }
    } else {
        // 48 bytes, then bytes 0..16, 8..24, 24..40, 32..48 in the four 128-bit lanes.
        let v = unsafe { _mm512_maskz_loadu_epi8((1 << 48) - 1, p.cast()) };
        _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 1, 2, 3, 2, 3, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11), v)
    }
}

/// Stores a block shuffled back to pixel order (see `avx2::store_group`).
///
/// # Safety
/// `p` points to `16 * BPP` writable bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn store_block<const BPP: usize>(p: *mut u8, bytes: __m512i, raw: __m512i, keep: __mmask64) {
    if BPP == 4 {
        unsafe { _mm512_storeu_si512(p.cast(), _mm512_mask_blend_epi8(keep, bytes, raw)) };
    } else {
        // The first 12 bytes of each 128-bit lane, joined.
        let idx = _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 15, 15, 15);
        unsafe { _mm512_mask_storeu_epi8(p.cast(), (1 << 48) - 1, _mm512_permutexvar_epi32(idx, bytes)) };
    }
}

// ---- 4:2:0 YUV rows --------------------------------------------------------

/// Byte shuffle of a block's chroma `[u0 v0 u1 v1 .. u7 v7]` (in every
/// 128-bit lane) to the U (`first` 0) or V (`first` 1) of each of its 16
/// pixels, zero-extended to i32.
const fn replicate_chroma(first: usize) -> [u8; 64] {
    let mut m = [0x80u8; 64];
    let mut p = 0;
    while p < BLOCK {
        m[4 * p] = (2 * (p / 2) + first) as u8;
        p += 1;
    }
    m
}

const TAKE_U: [u8; 64] = replicate_chroma(0);
const TAKE_V: [u8; 64] = replicate_chroma(1);

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn load_mask(m: &[u8; 64]) -> __m512i {
    // SAFETY: 64 bytes.
    unsafe { _mm512_loadu_si512(m.as_ptr().cast()) }
}

/// Enhances the whole blocks of the luma rows of one chroma row of a 4:2:0
/// frame (two rows, or one at the bottom of an odd height) and their chroma,
/// in place; returns the pixels done, the rest is for AVX2.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
pub fn yuv420_rows(
    luma: &mut [&mut [u8]],
    chroma: &mut Chroma420<'_>,
    factors: &[RowFactors<'_>],
    k: &Conversion,
    iterations: usize,
) -> usize {
    match luma {
        [y0, y1] => rows420::<2>([y0, y1], chroma, factors, k, iterations),
        [y0] => rows420::<1>([y0], chroma, factors, k, iterations),
        _ => panic!("a 4:2:0 chroma row covers one or two luma rows"),
    }
}

/// Blocks of 4:2:0 rows curved together: with two rows, 12 independent chains.
const IN_FLIGHT_420: usize = 2;

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn rows420<const ROWS: usize>(
    luma: [&mut &mut [u8]; ROWS],
    chroma: &mut Chroma420<'_>,
    factors: &[RowFactors<'_>],
    k: &Conversion,
    iterations: usize,
) -> usize {
    let width = luma[0].len();
    assert!(luma.iter().all(|y| y.len() == width) && factors.len() == ROWS);
    let c = ChromaPtr::of(chroma, width);
    let f: [BlockFactors; ROWS] = std::array::from_fn(|i| BlockFactors::start(&factors[i], width));
    let y = luma.map(|y| y.as_mut_ptr());
    let at = |b: usize| (y.map(|p| p.wrapping_add(b * BLOCK)), c.at_unchecked(2 * b));
    let blocks = width / BLOCK;
    let mut b = 0;
    while b + IN_FLIGHT_420 <= blocks {
        let (y, c) = at(b);
        // SAFETY: the blocks' pixels and chroma samples are within the rows.
        unsafe { blocks420::<ROWS, IN_FLIGHT_420>(y, c, &f, b, k, iterations) };
        b += IN_FLIGHT_420;
    }
    if b < blocks {
        let (y, c) = at(b);
        // SAFETY: as above.
        unsafe { blocks420::<ROWS, 1>(y, c, &f, b, k, iterations) };
    }
    blocks * BLOCK
}

/// `M` blocks from `y` and `c` (block `b` of the rows), curved together, as
/// `avx2::groups420` does groups.
///
/// # Safety
/// The rows hold the blocks' 16 pixels and 8 chroma samples each; the
/// blocks are within the factor rows.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn blocks420<const ROWS: usize, const M: usize>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    f: &[BlockFactors; ROWS],
    b: usize,
    k: &Conversion,
    iterations: usize,
) {
    let at = |i: usize| (y.map(|p| p.wrapping_add(i * BLOCK)), c.at_unchecked(2 * i));
    // SAFETY: by the caller.
    let rgb: [([Rgb; ROWS], [Rgb; ROWS]); M] =
        std::array::from_fn(|i| unsafe { rgb420(at(i).0, at(i).1, f, b + i, k) });
    let mut x = rgb.map(|(x, _)| x);
    curve(&mut x, &rgb.map(|(_, r)| r), iterations);
    for (i, x) in x.into_iter().enumerate() {
        // SAFETY: by the caller.
        unsafe { store420(at(i).0, at(i).1, x, k) };
    }
}

/// The clamped RGB of a block of 16 pixels in each luma row and the rows' factors.
///
/// # Safety
/// `y` points to 16 bytes per row, `c` to 8 chroma samples; block `b` is
/// within the factor rows.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn rgb420<const ROWS: usize>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    f: &[BlockFactors; ROWS],
    b: usize,
    k: &Conversion,
) -> ([Rgb; ROWS], [Rgb; ROWS]) {
    // SAFETY: by the caller.
    let uv = unsafe {
        match c {
            ChromaPtr::Nv12(uv) => _mm_loadu_si128(uv.cast()),
            ChromaPtr::I420(u, v) => _mm_unpacklo_epi8(_mm_loadl_epi64(u.cast()), _mm_loadl_epi64(v.cast())),
        }
    };
    let terms = block_chroma_terms(k, uv);
    // SAFETY: by the caller.
    let x = std::array::from_fn(|i| rgb(k, unsafe { _mm512_cvtepu8_epi32(_mm_loadu_si128(y[i].cast())) }, terms));
    (x, std::array::from_fn(|i| unsafe { f[i].at(b) }))
}

/// Writes a block's luma and chroma from its curved RGB, as `avx2::store420`.
///
/// # Safety
/// As [`rgb420`].
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn store420<const ROWS: usize>(y: [*mut u8; ROWS], c: ChromaPtr, x: [Rgb; ROWS], k: &Conversion) {
    // Per 128-bit lane [cb0+cb1 cb2+cb3 cr0+cr1 cr2+cr3], as `_mm256_hadd_ps`.
    let mut sum = _mm512_setzero_ps();
    for (i, x) in x.into_iter().enumerate() {
        let (code, cb, cr) = luma_chroma(k, x);
        // SAFETY: by the caller.
        unsafe { _mm_storeu_si128(y[i].cast(), _mm512_cvtepi32_epi8(code)) };
        let even = _mm512_shuffle_ps::<0b10_00_10_00>(cb, cr);
        let odd = _mm512_shuffle_ps::<0b11_01_11_01>(cb, cr);
        let pairs = _mm512_add_ps(even, odd);
        sum = if i == 0 { pairs } else { _mm512_add_ps(sum, pairs) };
    }
    let mean = _mm512_mul_ps(sum, _mm512_set1_ps(1.0 / (2 * ROWS) as f32));
    // Bytes [u0 u1 v0 v1 u2 u3 v2 v3 ..].
    let bytes = _mm512_cvtepi32_epi8(chroma_codes(k, mean));
    // SAFETY: by the caller.
    unsafe {
        match c {
            ChromaPtr::Nv12(uv) => {
                let order = _mm_setr_epi8(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15);
                _mm_storeu_si128(uv.cast(), _mm_shuffle_epi8(bytes, order));
            }
            ChromaPtr::I420(u, v) => {
                let order = _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
                let planar = _mm_shuffle_epi8(bytes, order);
                _mm_storel_epi64(u.cast(), planar);
                _mm_storel_epi64(v.cast(), _mm_srli_si128::<8>(planar));
            }
        }
    }
}

/// The chroma terms of a block's 16 pixels from its samples `[u0 v0 u1 v1 .. u7 v7]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn block_chroma_terms(k: &Conversion, uv: __m128i) -> [__m512; 4] {
    let uv = _mm512_broadcast_i32x4(uv);
    chroma_terms(k, _mm512_shuffle_epi8(uv, load_mask(&TAKE_U)), _mm512_shuffle_epi8(uv, load_mask(&TAKE_V)))
}

/// As `avx2::YuvConsts::chroma_terms`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn chroma_terms(k: &Conversion, u: __m512i, v: __m512i) -> [__m512; 4] {
    let s = _mm512_set1_ps;
    let cu = _mm512_sub_ps(_mm512_cvtepi32_ps(u), s(128.0));
    let cv = _mm512_sub_ps(_mm512_cvtepi32_ps(v), s(128.0));
    [_mm512_mul_ps(s(k.rv), cv), _mm512_mul_ps(s(k.gu), cu), _mm512_mul_ps(s(k.gv), cv), _mm512_mul_ps(s(k.bu), cu)]
}

/// As `avx2::YuvConsts::rgb`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn rgb(k: &Conversion, y: __m512i, [t_rv, t_gu, t_gv, t_bu]: [__m512; 4]) -> Rgb {
    let yy = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(y), _mm512_set1_ps(k.y_off)), _mm512_set1_ps(k.ys));
    [
        clamp_unit(_mm512_add_ps(yy, t_rv)),
        clamp_unit(_mm512_add_ps(_mm512_add_ps(yy, t_gu), t_gv)),
        clamp_unit(_mm512_add_ps(yy, t_bu)),
    ]
}

/// As `avx2::YuvConsts::luma_chroma`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn luma_chroma(k: &Conversion, rgb: Rgb) -> (__m512i, __m512, __m512) {
    let s = _mm512_set1_ps;
    let [r, g, b] = rgb.map(|v| clamp_unit(v));
    let yy = unit_luma(k, [r, g, b]);
    let cb = _mm512_mul_ps(_mm512_sub_ps(b, yy), s(k.kb2));
    let cr = _mm512_mul_ps(_mm512_sub_ps(r, yy), s(k.kr2));
    (luma_code(k, yy), cb, cr)
}

/// Luma in 0..1 of clamped RGB.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn unit_luma(k: &Conversion, [r, g, b]: Rgb) -> __m512 {
    let s = _mm512_set1_ps;
    _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(s(k.kr), r), _mm512_mul_ps(s(k.kg), g)), _mm512_mul_ps(s(k.kb), b))
}

/// The luma code of unit luma (0..1, so no clamp).
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn luma_code(k: &Conversion, yy: __m512) -> __m512i {
    let s = _mm512_set1_ps;
    _mm512_cvttps_epi32(_mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(yy, s(k.y_steps)), s(k.y_off)), s(0.5)))
}

/// As `avx2::YuvConsts::chroma_codes`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
fn chroma_codes(k: &Conversion, c: __m512) -> __m512i {
    let s = _mm512_set1_ps;
    let v = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(c, s(k.c_steps)), s(128.0)), s(0.5));
    _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), s(255.0)))
}

// ---- the brightness lock's measurement -------------------------------------

/// A 4:2:0 chroma row, read only.
#[derive(Clone, Copy)]
pub enum ChromaRow420<'a> {
    /// NV12: U and V interleaved.
    Nv12(&'a [u8]),
    /// I420: U and V planes.
    I420(&'a [u8], &'a [u8]),
}

/// Blocks measured together: 12 independent chains.
const IN_FLIGHT_MEASURE: usize = 4;

/// The sum of the luma codes that the 4:2:0 pass would write into one luma
/// row (`luma`, its chroma row `chroma`, its factors `f`), computed with the
/// pass's operations (the same codes, bit for bit) and written nowhere: the
/// brightness lock measures the frame without copying rows. The row's last
/// block is masked, so no AVX2 tail is needed.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
pub fn luma420_sum(luma: &[u8], chroma: ChromaRow420<'_>, f: RowFactors<'_>, k: &Conversion, iterations: usize) -> u64 {
    let width = luma.len();
    let cw = width.div_ceil(2);
    let chroma_fits = match chroma {
        ChromaRow420::Nv12(uv) => uv.len() >= 2 * cw,
        ChromaRow420::I420(u, v) => u.len() >= cw && v.len() >= cw,
    };
    assert!(chroma_fits, "chroma row too short for {width} pixels");
    // The factor rows hold whole blocks, the last one too.
    let f = BlockFactors::start(&f, width);
    let blocks = width.div_ceil(BLOCK);
    let mut sum = _mm512_setzero_si512();
    let mut b = 0;
    while b + IN_FLIGHT_MEASURE <= blocks {
        // SAFETY: blocks b.. are within the rows (checked above), the last one masked.
        sum = _mm512_add_epi32(sum, unsafe { measure_blocks::<IN_FLIGHT_MEASURE>(luma, chroma, &f, b, k, iterations) });
        b += IN_FLIGHT_MEASURE;
    }
    while b < blocks {
        // SAFETY: as above.
        sum = _mm512_add_epi32(sum, unsafe { measure_blocks::<1>(luma, chroma, &f, b, k, iterations) });
        b += 1;
    }
    // Each lane sums at most width / 16 codes of 255: no overflow below 8 M pixels a row.
    _mm512_reduce_add_epi32(sum) as u32 as u64
}

/// Lanes `0..n` of 16 (or of 64 for the byte mask); the EFE's kernels use it too.
#[inline(always)]
pub(crate) fn mask16(n: usize) -> __mmask16 {
    if n >= 16 { !0 } else { ((1u32 << n) - 1) as __mmask16 }
}

#[inline(always)]
fn mask64(n: usize) -> __mmask64 {
    if n >= 64 { !0 } else { (1u64 << n) - 1 }
}

/// The luma codes of blocks `b..b + M`, summed per lane.
///
/// # Safety
/// Checked by [`luma420_sum`]: the rows cover the width, the factor rows its groups.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx2,fma")]
unsafe fn measure_blocks<const M: usize>(
    luma: &[u8],
    chroma: ChromaRow420<'_>,
    f: &BlockFactors,
    b: usize,
    k: &Conversion,
    iterations: usize,
) -> __m512i {
    let width = luma.len();
    let pixels: [usize; M] = std::array::from_fn(|i| BLOCK.min(width - (b + i) * BLOCK));
    let mut x: [[Rgb; 1]; M] = [[[_mm512_setzero_ps(); 3]]; M];
    let mut r: [[Rgb; 1]; M] = [[[_mm512_setzero_ps(); 3]]; M];
    for i in 0..M {
        let (x0, n) = ((b + i) * BLOCK, pixels[i]);
        let pairs = n.div_ceil(2);
        // SAFETY: masked loads read lanes 0..n of the block (pixels x0..x0 + n) and its pairs chroma samples.
        let (y, uv) = unsafe {
            let y = _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(mask64(n), luma.as_ptr().add(x0).cast()));
            let uv = match chroma {
                ChromaRow420::Nv12(uv) => {
                    _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(mask64(2 * pairs), uv.as_ptr().add(x0).cast()))
                }
                ChromaRow420::I420(u, v) => {
                    let half = |p: &[u8]| {
                        _mm512_castsi512_si128(_mm512_maskz_loadu_epi8(mask64(pairs), p.as_ptr().add(x0 / 2).cast()))
                    };
                    _mm_unpacklo_epi8(half(u), half(v))
                }
            };
            (y, uv)
        };
        x[i][0] = rgb(k, _mm512_cvtepu8_epi32(y), block_chroma_terms(k, uv));
        // SAFETY: by the caller, block b + i is within the width given to BlockFactors::start.
        r[i][0] = unsafe { f.at(b + i) };
    }
    curve(&mut x, &r, iterations);
    let mut sum = _mm512_setzero_si512();
    for i in 0..M {
        let code = luma_code(k, unit_luma(k, x[i][0].map(|v| clamp_unit(v))));
        sum = _mm512_mask_add_epi32(sum, mask16(pixels[i]), sum, code);
    }
    sum
}

