//! Typed errors of the engine. Every failure names what it is about: the
//! weights file and tensor, or the frame geometry.

use std::path::PathBuf;

/// A problem with a weights file. `source` is the file path, or a label such
/// as `<embedded default model>` for weights that come from memory.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{file}: cannot read weights file: {reason}")]
    Io { file: PathBuf, reason: std::io::Error },
    #[error("{file}: not a safetensors file: {reason}")]
    NotSafetensors { file: PathBuf, reason: String },
    #[error("{file}: tensor `{tensor}` is missing")]
    MissingTensor { file: PathBuf, tensor: String },
    #[error("{file}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    WrongShape { file: PathBuf, tensor: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("{file}: tensor `{tensor}` has dtype {found}, expected F32, F16 or BF16")]
    WrongDtype { file: PathBuf, tensor: String, found: String },
    #[error("{file}: tensor `{tensor}` holds a non-finite value ({value}) at index {index}")]
    NonFinite { file: PathBuf, tensor: String, index: usize, value: f32 },
}

/// A frame the engine cannot process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("empty frame: {width}x{height}")]
    Empty { width: usize, height: usize },
    #[error("frame {width}x{height} is too large")]
    TooLarge { width: usize, height: usize },
    #[error("row stride {stride} is smaller than a row of pixels ({row_bytes} bytes)")]
    StrideTooSmall { stride: usize, row_bytes: usize },
    #[error("frame buffer holds {len} bytes, the layout needs {needed}")]
    BufferTooSmall { len: usize, needed: usize },
    #[error("unknown pixel format `{0}`")]
    UnknownFormat(String),
}

/// Any error of the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("invalid option: {0}")]
    Options(String),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    /// A worker thread ended in the middle of a job (a panic).
    #[error("a worker thread failed: {0}")]
    Worker(String),
    /// The requested compute device cannot be used (no CUDA device, no
    /// driver, a frame in another CUDA context); the text says which.
    #[error("{0}")]
    Device(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
