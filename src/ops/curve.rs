//! The per-lane arithmetic of the fused passes, portable: bytes to unit
//! floats, the factor's vertical interpolation, the RIE steps
//! `x = x + r (x^2 - x)` and the rounding back to bytes. The AVX2+FMA
//! kernels (`ops::avx2`) do the same operations 8 lanes at a time and the
//! AVX-512 ones (`ops::avx512`) 16; [`Isa`] picks them at run time (no
//! `target-cpu=native` needed).
//!
//! Both passes work on groups of [`GROUP`] pixels, two groups making a
//! block of [`BLOCK`]: a factor row holds, for each block, its 16 red
//! factors, then its 16 green, then its 16 blue ones, so that a block's
//! channels are three whole AVX-512 vectors and a group's three whole AVX2
//! vectors ([`factor_offset`]), and padding lanes (alpha, x) are never
//! computed.

/// Pixels per group.
pub const GROUP: usize = 8;
/// Lanes of the three channels of a group.
pub const GROUP_LANES: usize = 3 * GROUP;
/// Pixels per block: two groups.
pub const BLOCK: usize = 2 * GROUP;
/// Factor lanes per block.
pub const BLOCK_LANES: usize = 3 * BLOCK;

/// Where channel `c` of group `g`'s factors starts in a factor row.
#[inline(always)]
pub const fn factor_offset(g: usize, c: usize) -> usize {
    (g / 2) * BLOCK_LANES + c * BLOCK + (g % 2) * GROUP
}

/// `1/255` split in two parts, `1/255 ~ HI + LO`: with FMA,
/// `fma(v, HI, v * LO)` is the correctly rounded `v / 255` for every byte
/// `v` (checked in the tests), as the reference normalises, in two
/// operations. A plain multiplication by `1/255` is off by an ulp for 126 of
/// the 256 values.
pub(crate) const INV_255_HI: f32 = 1.0 / 255.0;
pub(crate) const INV_255_LO: f32 = (1.0 / 255.0 - INV_255_HI as f64) as f32;

/// The kernels a pass runs, picked at run time from the CPU's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    Portable,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512 (F, BW, DQ) for whole blocks of 16 pixels, AVX2 for the rest.
    Avx512,
}

impl Isa {
    /// The best kernels for this CPU.
    pub fn detect() -> Isa {
        match (has_avx2_fma(), has_avx512()) {
            (false, _) => Isa::Portable,
            (true, false) => Isa::Avx2,
            (true, true) => Isa::Avx512,
        }
    }

    /// Every kernel set this CPU runs, portable first (the tests run all).
    pub fn available() -> Vec<Isa> {
        let best = Isa::detect();
        [Isa::Portable, Isa::Avx2, Isa::Avx512].into_iter().filter(|&isa| isa <= best).collect()
    }
}

/// AVX-512 with the subsets the kernels use, on CPUs from Ice Lake and Zen 4
/// on (VBMI2 marks them): older ones (Skylake-SP, Cascade Lake) lower their
/// clock for 512-bit arithmetic enough to lose the gain.
fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vbmi2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
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

/// The factors of a frame row: two factor rows and their vertical weights.
#[derive(Debug, Clone, Copy)]
pub struct RowFactors<'a> {
    pub top: &'a [f32],
    pub bottom: &'a [f32],
    pub w0: f32,
    pub w1: f32,
}

impl RowFactors<'_> {
    /// The factors of the pixels from block `b` on.
    pub fn skip_blocks(&self, b: usize) -> Self {
        let i = b * BLOCK_LANES;
        RowFactors { top: &self.top[i..], bottom: &self.bottom[i..], ..*self }
    }
}

/// `v / 255`, correctly rounded (from a table: a division per byte is slow).
#[inline(always)]
pub fn unit(v: u8) -> f32 {
    crate::ops::resample::U8_TO_UNIT[v as usize]
}

/// R, G, B lanes of a group of pixels.
pub type GroupLanes = [[f32; GROUP]; 3];

/// The portable factors of group `g` of a row: per lane
/// `bottom * w1 + top * w0`. Unfused, as [`steps`].
#[inline(always)]
pub fn factors(f: &RowFactors<'_>, g: usize) -> GroupLanes {
    fn channel(row: &[f32], g: usize, c: usize) -> &[f32] {
        &row[factor_offset(g, c)..][..GROUP]
    }
    let top = (0..3).map(|c| channel(f.top, g, c));
    let bottom = (0..3).map(|c| channel(f.bottom, g, c));
    let mut r = [[0f32; GROUP]; 3];
    for (rc, (t, b)) in r.iter_mut().zip(top.zip(bottom)) {
        for ((r, &t), &b) in rc.iter_mut().zip(t).zip(b) {
            *r = b * f.w1 + t * f.w0;
        }
    }
    r
}

/// The portable curve: `iterations` steps `x = x + r (x^2 - x)` on `N`
/// lanes, all lanes a step at a time so that many vectors are in flight.
/// Unfused (a software FMA would be slow); the AVX2 kernels fuse, as the
/// CUDA kernels, which moves a result by at most one step of 8 bits.
#[inline(always)]
pub fn steps<const N: usize>(x: &mut [f32; N], r: &[f32; N], iterations: usize) {
    for _ in 0..iterations {
        for (x, &r) in x.iter_mut().zip(r) {
            *x += r * (*x * *x - *x);
        }
    }
}

/// `[[[f32; GROUP]; 3]; M]` as one array of lanes.
#[inline(always)]
pub fn flat<const M: usize, const N: usize>(x: &[GroupLanes; M]) -> &[f32; N] {
    x.as_flattened().as_flattened().try_into().expect("N = M * GROUP_LANES")
}

/// [`flat`], mutable.
#[inline(always)]
pub fn flat_mut<const M: usize, const N: usize>(x: &mut [GroupLanes; M]) -> &mut [f32; N] {
    x.as_flattened_mut().as_flattened_mut().try_into().expect("N = M * GROUP_LANES")
}

/// `floor(clamp(x, 0, 1) * 255 + 0.5)`; NaN gives 0.
#[inline(always)]
#[allow(clippy::manual_clamp)] // max/min map NaN to 0, clamp would keep it
pub fn to_byte(x: f32) -> u8 {
    // max/min map NaN to 0, and after the clamp the value is in 0.5..=255.5.
    let v = x.max(0.0).min(1.0) * 255.0 + 0.5;
    // SAFETY: v is finite and in 0..=255.5, so truncation fits an i32 (and is floor).
    unsafe { v.to_int_unchecked::<i32>() as u8 }
}

/// `clamp(x, 0, 1)`; NaN gives 0.
#[inline(always)]
#[allow(clippy::manual_clamp)] // max/min map NaN to 0, clamp would keep it
pub fn clamp_unit(x: f32) -> f32 {
    x.max(0.0).min(1.0)
}

/// Factor row length for `width` pixels (whole blocks).
pub fn factor_row_len(width: usize) -> usize {
    width.div_ceil(BLOCK) * BLOCK_LANES
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_reciprocal_gives_the_correctly_rounded_quotient() {
        for v in 0..=255u8 {
            let f = v as f32;
            let q = f.mul_add(super::INV_255_HI, f * super::INV_255_LO);
            assert_eq!(q.to_bits(), (f / 255.0).to_bits(), "{v}");
            assert_eq!(super::unit(v).to_bits(), (f / 255.0).to_bits(), "{v}");
        }
    }

    #[test]
    fn to_byte_rounds_half_up_and_clamps() {
        assert_eq!(super::to_byte(f32::NAN), 0);
        assert_eq!(super::to_byte(-3.0), 0);
        assert_eq!(super::to_byte(7.0), 255);
        assert_eq!(super::to_byte(f32::INFINITY), 255);
        assert_eq!(super::to_byte(0.5 / 255.0), 1);
    }
}
