//! AVX2+FMA kernels of the fused passes: the factor map's horizontal
//! up-sampling, packed rows, YUV rows. They reproduce the per-lane arithmetic
//! of `ops::curve` and `ops::yuv` operation for operation (plus FMA where the
//! CUDA kernels fuse), on groups of 8 pixels whose R, G and B are three
//! vectors. Every function here assumes the CPU has both features; callers
//! check `has_avx2_fma` first.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

use crate::ops::curve::{GROUP, INV_255_HI, INV_255_LO, RowFactors, factor_offset, factor_row_len};
use crate::ops::fused::{GroupTaps, PackedShuffles};
use crate::ops::yuv::Conversion;

/// R, G, B of a group of 8 pixels.
type Rgb = [__m256; 3];

/// `RowFactors` at one group, as vectors.
#[derive(Clone, Copy)]
struct GroupFactors {
    top: *const f32,
    bottom: *const f32,
    w0: __m256,
    w1: __m256,
}

impl GroupFactors {
    /// Pointers for groups `0..` of `f`, after checking that its rows cover
    /// `width` pixels.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn start(f: &RowFactors<'_>, width: usize) -> GroupFactors {
        let n = factor_row_len(width);
        assert!(f.top.len() >= n && f.bottom.len() >= n, "factor rows too short for {width} pixels");
        GroupFactors {
            top: f.top.as_ptr(),
            bottom: f.bottom.as_ptr(),
            w0: _mm256_set1_ps(f.w0),
            w1: _mm256_set1_ps(f.w1),
        }
    }

    /// The factors of group `g`: `bottom * w1 + top * w0`, fused as the CUDA kernels.
    ///
    /// # Safety
    /// Group `g` is within the width given to [`GroupFactors::start`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn at(&self, g: usize) -> Rgb {
        std::array::from_fn(|c| {
            let i = factor_offset(g, c);
            // SAFETY: by the caller, lanes i..i + 8 are in both rows.
            let (t, b) = unsafe { (_mm256_loadu_ps(self.top.add(i)), _mm256_loadu_ps(self.bottom.add(i))) };
            _mm256_fmadd_ps(b, self.w1, _mm256_mul_ps(t, self.w0))
        })
    }
}

/// `iterations` curve steps `x = x + r (x^2 - x)` on `M` groups of `ROWS`
/// rows at once, so that enough independent multiply-add chains are in flight.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn curve<const ROWS: usize, const M: usize>(x: &mut [[Rgb; ROWS]; M], r: &[[Rgb; ROWS]; M], iterations: usize) {
    for _ in 0..iterations {
        for (xc, &rc) in x.as_flattened_mut().as_flattened_mut().iter_mut().zip(r.as_flattened().as_flattened()) {
            *xc = _mm256_fmadd_ps(rc, _mm256_fmsub_ps(*xc, *xc, *xc), *xc);
        }
    }
}

/// Bytes in i32 lanes to unit floats, `v / 255` correctly rounded.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn unit(v: __m256i) -> __m256 {
    let v = _mm256_cvtepi32_ps(v);
    _mm256_fmadd_ps(v, _mm256_set1_ps(INV_255_HI), _mm256_mul_ps(v, _mm256_set1_ps(INV_255_LO)))
}

/// `floor(clamp(x, 0, 1) * 255 + 0.5)` in i32 lanes, except that values
/// below 0 (and NaN) give 0 or a negative number: the saturating packs
/// that follow make those 0.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn codes(x: __m256) -> __m256i {
    // min_ps returns its second operand when one is NaN: NaN stays NaN and
    // converts to i32::MIN.
    let x = _mm256_min_ps(_mm256_set1_ps(1.0), x);
    _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(255.0)), _mm256_set1_ps(0.5)))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn clamp_unit(x: __m256) -> __m256 {
    // max_ps returns its second operand (0) when x is NaN, as f32::max.
    _mm256_min_ps(_mm256_max_ps(x, _mm256_setzero_ps()), _mm256_set1_ps(1.0))
}

/// Three vectors of i32 codes (0..=255 after saturation) to bytes, per
/// 128-bit half `[a0..4 b0..4 c0..4 c0..4]` (lanes 4..8 in the high half).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn pack3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
    _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, c))
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load_f32(v: &[f32; 8]) -> __m256 {
    // SAFETY: 8 floats.
    unsafe { _mm256_loadu_ps(v.as_ptr()) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load_i32(v: &[i32; 8]) -> __m256i {
    // SAFETY: 32 bytes.
    unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2,fma")]
fn load_u8(v: &[u8; 32]) -> __m256i {
    // SAFETY: 32 bytes.
    unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
}

// ---- factor rows -------------------------------------------------------

/// Channel `c` of a factor row: lanes `c * 8..c * 8 + 8` of every group, from
/// the channel's low-res row `a` (scaled by strength, padded with 8 values):
/// `a[i0] * w0 + a[i1] * w1`, as the portable path.
#[target_feature(enable = "avx2,fma")]
pub fn factor_channel(a: &[f32], taps: &[GroupTaps], out: &mut [f32], c: usize) {
    assert!(out.len() >= factor_row_len(taps.len() * GROUP) && c < 3);
    for (g, t) in taps.iter().enumerate() {
        let [a0, a1] = std::array::from_fn(|k| {
            let v = load_f32(a[t.base[k] as usize..][..GROUP].try_into().unwrap());
            _mm256_permutevar8x32_ps(v, load_i32(&t.idx[k]))
        });
        let v = _mm256_add_ps(_mm256_mul_ps(a0, load_f32(&t.w[0])), _mm256_mul_ps(a1, load_f32(&t.w[1])));
        let dst: &mut [f32; GROUP] = (&mut out[factor_offset(g, c)..][..GROUP]).try_into().unwrap();
        // SAFETY: 8 floats.
        unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), v) };
    }
}

// ---- packed rows ---------------------------------------------------------

/// The shuffle masks as vectors.
struct PackedMasks {
    take: [__m256i; 3],
    put: __m256i,
    keep: __m256i,
}

/// Groups of a packed row curved together: 12 independent multiply-add
/// chains, more than the two FMA ports times their 4-cycle latency.
const IN_FLIGHT: usize = 4;

/// Enhances one row of a packed format with `BPP` bytes per pixel in place.
#[target_feature(enable = "avx2,fma")]
pub fn packed_row<const BPP: usize>(row: &mut [u8], shuffles: &PackedShuffles, f: RowFactors<'_>, iterations: usize) {
    const { assert!(BPP == 3 || BPP == 4) };
    let width = row.len() / BPP;
    let f = GroupFactors::start(&f, width);
    let m = PackedMasks {
        take: shuffles.take.each_ref().map(|t| load_u8(t)),
        put: load_u8(&shuffles.put),
        keep: load_u8(&shuffles.keep),
    };
    let group_bytes = GROUP * BPP;
    let mut runs = row.chunks_exact_mut(IN_FLIGHT * group_bytes);
    let mut g = 0;
    for px in &mut runs {
        // SAFETY: px holds IN_FLIGHT groups, groups g.. are within the row.
        unsafe { packed_groups::<BPP, IN_FLIGHT>(px.as_mut_ptr(), &f, g, &m, iterations) };
        g += IN_FLIGHT;
    }
    let mut rest = runs.into_remainder();
    while rest.len() >= group_bytes {
        let (px, tail) = rest.split_at_mut(group_bytes);
        // SAFETY: px holds one group, group g is within the row.
        unsafe { packed_groups::<BPP, 1>(px.as_mut_ptr(), &f, g, &m, iterations) };
        g += 1;
        rest = tail;
    }
    if !rest.is_empty() {
        let mut tmp = [0u8; 4 * GROUP];
        tmp[..rest.len()].copy_from_slice(rest);
        // SAFETY: tmp holds a group; group g holds the row's last pixels.
        unsafe { packed_groups::<BPP, 1>(tmp.as_mut_ptr(), &f, g, &m, iterations) };
        rest.copy_from_slice(&tmp[..rest.len()]);
    }
}

/// `M` groups of 8 pixels from `px`, with the factors of groups `g..g + M`.
///
/// # Safety
/// `px` points to `M * 8 * BPP` writable bytes; the groups are within the
/// width of `f`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn packed_groups<const BPP: usize, const M: usize>(
    px: *mut u8,
    f: &GroupFactors,
    g: usize,
    m: &PackedMasks,
    iterations: usize,
) {
    let group = |i: usize| px.wrapping_add(i * GROUP * BPP);
    // SAFETY: each group's bytes are in px's range.
    let raw: [__m256i; M] = std::array::from_fn(|i| unsafe { load_group::<BPP>(group(i)) });
    let mut x: [[Rgb; 1]; M] = std::array::from_fn(|i| [m.take.map(|t| unit(_mm256_shuffle_epi8(raw[i], t)))]);
    // SAFETY: by the caller.
    let r: [[Rgb; 1]; M] = std::array::from_fn(|i| [unsafe { f.at(g + i) }]);
    curve(&mut x, &r, iterations);
    for i in 0..M {
        let [cr, cg, cb] = x[i][0].map(|v| codes(v));
        let bytes = _mm256_shuffle_epi8(pack3(cr, cg, cb), m.put);
        // SAFETY: as the load.
        unsafe { store_group::<BPP>(group(i), bytes, raw[i], m.keep) };
    }
}

/// The 8 pixels of a group in two 128-bit halves of pixels 0..4 and 4..8:
/// 32 bytes, or for 3 bytes per pixel the bytes 0..16 and 8..24.
///
/// # Safety
/// `p` points to `8 * BPP` readable bytes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load_group<const BPP: usize>(p: *const u8) -> __m256i {
    unsafe { if BPP == 4 { _mm256_loadu_si256(p.cast()) } else { _mm256_loadu2_m128i(p.add(8).cast(), p.cast()) } }
}

/// Stores a group shuffled back to pixel order: with 4 bytes per pixel the
/// bytes that are not R, G, B come from `raw`; with 3 the two halves of 12
/// bytes are joined.
///
/// # Safety
/// `p` points to `8 * BPP` writable bytes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_group<const BPP: usize>(p: *mut u8, bytes: __m256i, raw: __m256i, keep: __m256i) {
    unsafe {
        if BPP == 4 {
            _mm256_storeu_si256(p.cast(), _mm256_blendv_epi8(bytes, raw, keep));
        } else {
            let joined = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
            _mm_storeu_si128(p.cast(), _mm256_castsi256_si128(joined));
            _mm_storel_epi64(p.add(16).cast(), _mm256_extracti128_si256::<1>(joined));
        }
    }
}

// ---- YUV rows --------------------------------------------------------------

/// The chroma row of a 4:2:0 frame (one sample per 2x2 block).
pub enum Chroma420<'a> {
    /// NV12: U and V interleaved.
    Nv12(&'a mut [u8]),
    /// I420: U and V planes.
    I420(&'a mut [u8], &'a mut [u8]),
}

impl Chroma420<'_> {
    /// The chroma of the pixels from `x` (even) on.
    pub fn skip_pixels(&mut self, x: usize) -> Chroma420<'_> {
        match self {
            Chroma420::Nv12(uv) => Chroma420::Nv12(&mut uv[x..]),
            Chroma420::I420(u, v) => Chroma420::I420(&mut u[x / 2..], &mut v[x / 2..]),
        }
    }
}

/// The conversion constants as vectors.
struct YuvConsts {
    y_off: __m256,
    ys: __m256,
    rv: __m256,
    gu: __m256,
    gv: __m256,
    bu: __m256,
    kr: __m256,
    kg: __m256,
    kb: __m256,
    y_steps: __m256,
    kb2: __m256,
    kr2: __m256,
    c_steps: __m256,
}

impl YuvConsts {
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn new(k: &Conversion) -> Self {
        let s = _mm256_set1_ps;
        YuvConsts {
            y_off: s(k.y_off),
            ys: s(k.ys),
            rv: s(k.rv),
            gu: s(k.gu),
            gv: s(k.gv),
            bu: s(k.bu),
            kr: s(k.kr),
            kg: s(k.kg),
            kb: s(k.kb),
            y_steps: s(k.y_steps),
            kb2: s(k.kb2),
            kr2: s(k.kr2),
            c_steps: s(k.c_steps),
        }
    }

    /// The chroma terms of `Conversion::rgb` for chroma code values `u`, `v`:
    /// `[rv cv, gu cu, gv cv, bu cu]`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn chroma_terms(&self, u: __m256i, v: __m256i) -> [__m256; 4] {
        let c128 = _mm256_set1_ps(128.0);
        let cu = _mm256_sub_ps(_mm256_cvtepi32_ps(u), c128);
        let cv = _mm256_sub_ps(_mm256_cvtepi32_ps(v), c128);
        [_mm256_mul_ps(self.rv, cv), _mm256_mul_ps(self.gu, cu), _mm256_mul_ps(self.gv, cv), _mm256_mul_ps(self.bu, cu)]
    }

    /// Luma code values (i32 lanes) and chroma terms to clamped RGB, as `Conversion::rgb`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn rgb(&self, y: __m256i, [t_rv, t_gu, t_gv, t_bu]: [__m256; 4]) -> Rgb {
        let yy = _mm256_mul_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(y), self.y_off), self.ys);
        [
            clamp_unit(_mm256_add_ps(yy, t_rv)),
            clamp_unit(_mm256_add_ps(_mm256_add_ps(yy, t_gu), t_gv)),
            clamp_unit(_mm256_add_ps(yy, t_bu)),
        ]
    }

    /// Curved RGB to luma codes (i32 lanes) and unit chroma `(cb, cr)`, as
    /// `Conversion::luma_chroma`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn luma_chroma(&self, rgb: Rgb) -> (__m256i, __m256, __m256) {
        let [r, g, b] = rgb.map(|v| clamp_unit(v));
        let yy = _mm256_add_ps(
            _mm256_add_ps(_mm256_mul_ps(self.kr, r), _mm256_mul_ps(self.kg, g)),
            _mm256_mul_ps(self.kb, b),
        );
        let code = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(yy, self.y_steps), self.y_off), _mm256_set1_ps(0.5));
        // r, g, b in 0..1 put yy in 0..1 and the code in 0.5..=255.5: no clamp needed.
        let cb = _mm256_mul_ps(_mm256_sub_ps(b, yy), self.kb2);
        let cr = _mm256_mul_ps(_mm256_sub_ps(r, yy), self.kr2);
        (_mm256_cvttps_epi32(code), cb, cr)
    }

    /// Chroma codes of mean chroma `c` (sums times 1/n): as `Coeffs::c_code`.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn chroma_codes(&self, c: __m256) -> __m256i {
        let v =
            _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(c, self.c_steps), _mm256_set1_ps(128.0)), _mm256_set1_ps(0.5));
        _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), _mm256_set1_ps(255.0)))
    }
}

/// 8 luma bytes from i32 codes in 0..=255.
///
/// # Safety
/// `p` points to 8 writable bytes.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_luma(p: *mut u8, codes: __m256i) {
    // Bytes [c0..4 ...] in the low half, [c4..8 ...] in the high half.
    let w = _mm256_packus_epi32(codes, codes);
    let b = _mm256_packus_epi16(w, w);
    let joined = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
    unsafe { _mm_storel_epi64(p.cast(), joined) };
}

/// A chroma row's pointers at one group.
#[derive(Clone, Copy)]
pub(crate) enum ChromaPtr {
    Nv12(*mut u8),
    I420(*mut u8, *mut u8),
}

/// How the last, partial group of a row is summed: lanes past the row's
/// end give no chroma, and each chroma sample is divided by its own count.
#[derive(Clone, Copy)]
struct Partial {
    valid: __m256,
    inv_n: __m256,
}

/// Enhances the luma rows of one chroma row of a 4:2:0 frame (two, or one at
/// the bottom of an odd height) and writes the chroma row, in place.
#[target_feature(enable = "avx2,fma")]
pub fn yuv420_rows(
    luma: &mut [&mut [u8]],
    chroma: Chroma420<'_>,
    factors: &[RowFactors<'_>],
    k: &Conversion,
    iterations: usize,
) {
    match luma {
        [y0, y1] => rows420::<2>([y0, y1], chroma, factors, k, iterations),
        [y0] => rows420::<1>([y0], chroma, factors, k, iterations),
        _ => panic!("a 4:2:0 chroma row covers one or two luma rows"),
    }
}

/// Groups of 4:2:0 rows curved together: with two rows, 12 independent chains.
const IN_FLIGHT_420: usize = 2;

#[inline]
#[target_feature(enable = "avx2,fma")]
fn rows420<const ROWS: usize>(
    luma: [&mut &mut [u8]; ROWS],
    mut chroma: Chroma420<'_>,
    factors: &[RowFactors<'_>],
    k: &Conversion,
    iterations: usize,
) {
    let width = luma[0].len();
    assert!(luma.iter().all(|y| y.len() == width) && factors.len() == ROWS);
    let c = ChromaPtr::of(&mut chroma, width);
    let f: [GroupFactors; ROWS] = std::array::from_fn(|i| GroupFactors::start(&factors[i], width));
    let y = luma.map(|y| y.as_mut_ptr());
    let kv = YuvConsts::new(k);
    let at = |g: usize| (y.map(|p| p.wrapping_add(g * GROUP)), c.at_unchecked(g));
    let full = width / GROUP;
    let mut g = 0;
    while g + IN_FLIGHT_420 <= full {
        let (y, c) = at(g);
        // SAFETY: the groups' pixels and chroma samples are within the rows.
        unsafe { groups420::<ROWS, IN_FLIGHT_420>(y, c, &f, g, &kv, iterations) };
        g += IN_FLIGHT_420;
    }
    if g < full {
        let (y, c) = at(g);
        // SAFETY: as above.
        unsafe { groups420::<ROWS, 1>(y, c, &f, g, &kv, iterations) };
    }
    let n = width - full * GROUP;
    if n > 0 {
        let (y, c) = at(full);
        partial_group420::<ROWS>(y, c, n, &f, full, &kv, iterations);
    }
}

impl ChromaPtr {
    /// The start of a chroma row, after checking that it covers `width` pixels.
    pub(crate) fn of(chroma: &mut Chroma420<'_>, width: usize) -> ChromaPtr {
        let cw = width.div_ceil(2);
        match chroma {
            Chroma420::Nv12(uv) => ChromaPtr::Nv12(uv[..2 * cw].as_mut_ptr()),
            Chroma420::I420(u, v) => ChromaPtr::I420(u[..cw].as_mut_ptr(), v[..cw].as_mut_ptr()),
        }
    }

    /// The pointers `g` groups on (not dereferenced here).
    #[inline]
    pub(crate) fn at_unchecked(self, g: usize) -> ChromaPtr {
        match self {
            ChromaPtr::Nv12(uv) => ChromaPtr::Nv12(uv.wrapping_add(g * GROUP)),
            ChromaPtr::I420(u, v) => ChromaPtr::I420(u.wrapping_add(g * GROUP / 2), v.wrapping_add(g * GROUP / 2)),
        }
    }

    /// `[u0 v0 u1 v1 u2 v2 u3 v3]`: the group's 4 samples.
    ///
    /// # Safety
    /// The pointers hold 4 samples.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(self) -> __m128i {
        unsafe {
            match self {
                ChromaPtr::Nv12(uv) => _mm_loadl_epi64(uv.cast()),
                ChromaPtr::I420(u, v) => {
                    let (u, v) = (u.cast::<i32>().read_unaligned(), v.cast::<i32>().read_unaligned());
                    _mm_unpacklo_epi8(_mm_cvtsi32_si128(u), _mm_cvtsi32_si128(v))
                }
            }
        }
    }

    /// Stores `[u0 u1 u2 u3 v0 v1 v2 v3]` (the low 8 bytes).
    ///
    /// # Safety
    /// The pointers hold 4 samples.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(self, planar: __m128i) {
        unsafe {
            match self {
                ChromaPtr::Nv12(uv) => {
                    let order = _mm_setr_epi8(0, 4, 1, 5, 2, 6, 3, 7, 0, 0, 0, 0, 0, 0, 0, 0);
                    _mm_storel_epi64(uv.cast(), _mm_shuffle_epi8(planar, order));
                }
                ChromaPtr::I420(u, v) => {
                    u.cast::<i32>().write_unaligned(_mm_cvtsi128_si32(planar));
                    v.cast::<i32>().write_unaligned(_mm_extract_epi32::<1>(planar));
                }
            }
        }
    }
}

/// `M` whole groups from `y` and `c` (group `g` of the rows), curved together.
///
/// # Safety
/// The rows hold the groups' 8 pixels and 4 chroma samples each; the groups
/// are within the factor rows.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn groups420<const ROWS: usize, const M: usize>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    f: &[GroupFactors; ROWS],
    g: usize,
    kv: &YuvConsts,
    iterations: usize,
) {
    let at = |i: usize| (y.map(|p| p.wrapping_add(i * GROUP)), c.at_unchecked(i));
    // SAFETY: by the caller.
    let rgb: [([Rgb; ROWS], [Rgb; ROWS]); M] =
        std::array::from_fn(|i| unsafe { rgb420(at(i).0, at(i).1, f, g + i, kv) });
    let mut x = rgb.map(|(x, _)| x);
    curve(&mut x, &rgb.map(|(_, r)| r), iterations);
    let whole = Partial { valid: _mm256_setzero_ps(), inv_n: _mm256_set1_ps(1.0 / (2 * ROWS) as f32) };
    for (i, x) in x.into_iter().enumerate() {
        // SAFETY: by the caller.
        unsafe { store420::<ROWS, false>(at(i).0, at(i).1, x, kv, whole) };
    }
}

/// The last `n < 8` pixels of the rows, through copies of a whole group.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn partial_group420<const ROWS: usize>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    n: usize,
    f: &[GroupFactors; ROWS],
    g: usize,
    kv: &YuvConsts,
    iterations: usize,
) {
    let samples = n.div_ceil(2);
    let (mut ty, mut tc) = ([[0u8; GROUP]; ROWS], [[0u8; GROUP]; 2]);
    let [t0, t1] = &mut tc;
    let tcp = match c {
        ChromaPtr::Nv12(_) => ChromaPtr::Nv12(t0.as_mut_ptr()),
        ChromaPtr::I420(..) => ChromaPtr::I420(t0.as_mut_ptr(), t1.as_mut_ptr()),
    };
    let typ: [*mut u8; ROWS] = std::array::from_fn(|i| ty[i].as_mut_ptr());
    // SAFETY: the rows hold n more pixels and `samples` more chroma samples.
    unsafe { copy420(y, c, typ, tcp, n, samples) };
    // Chroma lanes are [cb0 cb1 cr0 cr1 | cb2 cb3 cr2 cr3]; a sample counts
    // its pixels in the rows.
    let count = |s: usize| ((n - (2 * s).min(n)).min(2) * ROWS).max(1) as f32;
    let (c0, c1, c2, c3) = (count(0), count(1), count(2), count(3));
    let part = Partial {
        valid: _mm256_castsi256_ps(_mm256_cmpgt_epi32(
            _mm256_set1_epi32(n as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )),
        inv_n: _mm256_setr_ps(1.0 / c0, 1.0 / c1, 1.0 / c0, 1.0 / c1, 1.0 / c2, 1.0 / c3, 1.0 / c2, 1.0 / c3),
    };
    // SAFETY: the copies hold a whole group; group g is the row's last.
    unsafe {
        let (x, r) = rgb420(typ, tcp, f, g, kv);
        let mut x = [x];
        curve(&mut x, &[r], iterations);
        store420::<ROWS, true>(typ, tcp, x[0], kv, part);
        copy420(typ, tcp, y, c, n, samples);
    }
}

/// Copies `n` pixels of each row and `samples` chroma samples.
///
/// # Safety
/// Every pointer holds that many, and sources and destinations do not overlap.
#[inline]
unsafe fn copy420<const ROWS: usize>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    to_y: [*mut u8; ROWS],
    to_c: ChromaPtr,
    n: usize,
    samples: usize,
) {
    unsafe {
        for (&src, &dst) in y.iter().zip(&to_y) {
            std::ptr::copy_nonoverlapping(src, dst, n);
        }
        match (c, to_c) {
            (ChromaPtr::Nv12(src), ChromaPtr::Nv12(dst)) => std::ptr::copy_nonoverlapping(src, dst, 2 * samples),
            (ChromaPtr::I420(u, v), ChromaPtr::I420(to_u, to_v)) => {
                std::ptr::copy_nonoverlapping(u, to_u, samples);
                std::ptr::copy_nonoverlapping(v, to_v, samples);
            }
            _ => unreachable!("the copy has the layout of the row"),
        }
    }
}

/// The clamped RGB of a group of 8 pixels in each luma row, each chroma
/// sample replicated to its two pixels, and the rows' factors.
///
/// # Safety
/// `y` points to 8 bytes per row, `c` to 4 chroma samples; group `g` is
/// within the factor rows.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn rgb420<const ROWS: usize>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    f: &[GroupFactors; ROWS],
    g: usize,
    kv: &YuvConsts,
) -> ([Rgb; ROWS], [Rgb; ROWS]) {
    // SAFETY: by the caller.
    let uv = _mm256_broadcastsi128_si256(unsafe { c.load() });
    let z = -128i8;
    #[rustfmt::skip]
    let u = _mm256_shuffle_epi8(uv, _mm256_setr_epi8(
        0, z, z, z, 0, z, z, z, 2, z, z, z, 2, z, z, z, 4, z, z, z, 4, z, z, z, 6, z, z, z, 6, z, z, z,
    ));
    #[rustfmt::skip]
    let v = _mm256_shuffle_epi8(uv, _mm256_setr_epi8(
        1, z, z, z, 1, z, z, z, 3, z, z, z, 3, z, z, z, 5, z, z, z, 5, z, z, z, 7, z, z, z, 7, z, z, z,
    ));
    let terms = kv.chroma_terms(u, v);
    // SAFETY: by the caller.
    let x = std::array::from_fn(|i| kv.rgb(unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(y[i].cast())) }, terms));
    (x, std::array::from_fn(|i| unsafe { f[i].at(g) }))
}

/// Writes a group's luma and chroma from its curved RGB: per row the pixel
/// pairs are summed (`[cb0 cb1 cr0 cr1 | cb2 cb3 cr2 cr3]`), then the rows,
/// as the portable path. With `PARTIAL`, the lanes of `part.valid` alone
/// give chroma.
///
/// # Safety
/// As [`rgb420`].
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store420<const ROWS: usize, const PARTIAL: bool>(
    y: [*mut u8; ROWS],
    c: ChromaPtr,
    x: [Rgb; ROWS],
    kv: &YuvConsts,
    part: Partial,
) {
    let mut sum = _mm256_setzero_ps();
    for (i, x) in x.into_iter().enumerate() {
        let (code, mut cb, mut cr) = kv.luma_chroma(x);
        // SAFETY: by the caller.
        unsafe { store_luma(y[i], code) };
        if PARTIAL {
            cb = _mm256_and_ps(cb, part.valid);
            cr = _mm256_and_ps(cr, part.valid);
        }
        let pairs = _mm256_hadd_ps(cb, cr);
        sum = if i == 0 { pairs } else { _mm256_add_ps(sum, pairs) };
    }
    let codes = kv.chroma_codes(_mm256_mul_ps(sum, part.inv_n));
    // Bytes [u0 u1 v0 v1] in each half, then [u0 u1 u2 u3 v0 v1 v2 v3].
    let w = _mm256_packus_epi32(codes, codes);
    let b = _mm256_packus_epi16(w, w);
    // SAFETY: by the caller.
    unsafe { c.store(_mm_unpacklo_epi16(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b))) };
}

/// Enhances one row of a 4:4:4 frame and its U and V rows, in place.
#[target_feature(enable = "avx2,fma")]
pub fn yuv444_row(y: &mut [u8], u: &mut [u8], v: &mut [u8], f: RowFactors<'_>, k: &Conversion, iterations: usize) {
    let width = y.len();
    let (u, v) = (&mut u[..width], &mut v[..width]);
    let f = GroupFactors::start(&f, width);
    let kv = YuvConsts::new(k);
    let full = width / GROUP;
    for g in 0..full {
        let i = g * GROUP;
        // SAFETY: the group's 8 pixels are within the rows and factor rows.
        unsafe { group444(y[i..].as_mut_ptr(), u[i..].as_mut_ptr(), v[i..].as_mut_ptr(), &f, g, &kv, iterations) };
    }
    let i = full * GROUP;
    let n = width - i;
    if n > 0 {
        let mut t = [[0u8; GROUP]; 3];
        for (t, src) in t.iter_mut().zip([&y[i..], &u[i..], &v[i..]]) {
            t[..n].copy_from_slice(src);
        }
        let [ty, tu, tv] = &mut t;
        // SAFETY: the copies hold a whole group; group `full` is within the factor rows.
        unsafe { group444(ty.as_mut_ptr(), tu.as_mut_ptr(), tv.as_mut_ptr(), &f, full, &kv, iterations) };
        for (t, dst) in t.iter().zip([&mut y[i..], &mut u[i..], &mut v[i..]]) {
            dst.copy_from_slice(&t[..n]);
        }
    }
}

/// One group of 8 pixels of a 4:4:4 frame.
///
/// # Safety
/// `y`, `u`, `v` point to 8 bytes each; group `g` is within the factor rows.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn group444(y: *mut u8, u: *mut u8, v: *mut u8, f: &GroupFactors, g: usize, kv: &YuvConsts, iterations: usize) {
    let load = |p: *mut u8| unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.cast())) };
    let terms = kv.chroma_terms(load(u), load(v));
    let mut x = [[kv.rgb(load(y), terms)]];
    curve(&mut x, &[[unsafe { f.at(g) }]], iterations);
    let (code, cb, cr) = kv.luma_chroma(x[0][0]);
    unsafe {
        store_luma(y, code);
        store_luma(u, kv.chroma_codes(cb));
        store_luma(v, kv.chroma_codes(cr));
    }
}
