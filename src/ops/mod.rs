//! Kernels: candle custom ops and the frame passes around the EFE.

pub mod curve;
pub mod depthwise;
pub mod dsc;
pub mod fused;
pub mod resample;
pub mod yuv;

pub use depthwise::{Depthwise3x3, depthwise3x3};
