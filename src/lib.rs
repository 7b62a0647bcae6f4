//! lowlight: real-time low-light enhancement with SGZ (Zheng & Gupta, WACV 2022).
//!
//! [`Sgz`] is the model as differentiable candle modules (training, parity);
//! [`Enhancer`] runs it on 8-bit frames in place, fast (down-scale, EFE on a
//! small grid, one fused up-sample + curve pass).

#[cfg(feature = "cuda")]
pub mod cuda;
mod efe_worker;
pub mod enhancer;
pub mod error;
pub mod frame;
pub mod model;
pub mod ops;
pub mod quality;
pub mod temporal;
pub mod train;

pub use enhancer::{Enhancer, EnhancerOptions, StageTimes};
pub use error::{Error, FrameError, Result, WeightsError};
pub use frame::{FrameLayout, PixelFormat, YuvFormat, YuvLayout, YuvMatrix, YuvRange};
pub use model::{EfeWeights, Sgz, SgzOutput};
