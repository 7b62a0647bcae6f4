//! Kernels: candle custom ops and the frame passes around the EFE.

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
pub mod curve;
pub mod depthwise;
#[cfg(target_arch = "x86_64")]
mod downscale_avx2;
pub mod dsc;
pub mod fused;
pub mod resample;
pub mod yuv;

pub use depthwise::{Depthwise3x3, depthwise3x3};
