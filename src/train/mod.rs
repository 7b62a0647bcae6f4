//! Training: the SGZ losses (zero-reference and semantic), the weighted
//! objective, the optimiser (PyTorch's Adam and gradient-norm clipping) and
//! the frozen USS segmentation network of the semantic loss.

pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod focal;
pub mod log;
pub mod losses;
pub mod objective;
pub mod optim;
pub mod rng;
pub mod split;
pub mod trainer;
pub mod uss;

pub use focal::{argmax_target, focal_loss};
pub use losses::{color_loss, exposure_loss, spatial_consistency_loss, tv_loss};
pub use objective::{LossTerms, LossWeights, Objective};
pub use optim::{Adam, AdamConfig, ParamState, clip_grad_norm, named_vars};
