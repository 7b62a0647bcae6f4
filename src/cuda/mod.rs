//! The CUDA path (cargo feature `cuda`): the same three stages as
//! [`crate::Enhancer`], on the GPU.
//!
//! 1. down-scale: `ll_downscale_packed` / `ll_downscale_nv12` read the frame
//!    (a raw, pitched device pointer) into a `[1, 3, h, w]` tensor;
//! 2. EFE: the candle modules of [`crate::model::Efe`] on the CUDA device
//!    (depthwise 3x3 as our custom op's `cuda_fwd`, pointwise as cuBLAS
//!    matmuls);
//! 3. fused pass: `ll_enhance_packed` / `ll_enhance_nv12` up-sample the
//!    factor map, run the curve steps and write the frame back in place.
//!
//! The kernels' per-element bodies are `kernels/lowlight_kernels.cuh`,
//! compiled by nvcc to PTX at build time (`build.rs`) and, for the tests,
//! by the host C compiler (`kernels/host`), so their arithmetic and indexing
//! are tested on machines without a GPU.
//!
//! Candle's CUDA device runs on the device's *primary* context (cudarc's
//! `CudaContext::new`), on a stream of its own; [`CudaEnhancer::raw_context`]
//! hands that context to GStreamer (`gst_cuda_context_new_wrapped`), so a
//! decoder can allocate frames our kernels read without a copy.
//!
//! A binary built with this feature needs `libcuda.so.1` (the NVIDIA driver)
//! to start at all; on a machine with the driver and no GPU,
//! [`Gpu::open`] fails with [`crate::Error::Device`].

mod enhancer;
pub mod kernels;

pub use candle_core::cuda_backend::cudarc;
pub use enhancer::{CudaEnhancer, DeviceFrame};

use std::ffi::c_void;
use std::sync::Arc;

use candle_core::Device;
use candle_core::cuda_backend::cudarc::driver::CudaStream;

use crate::error::{Error, Result};

/// An opened CUDA device: candle's device on the GPU's primary context with
/// a stream of its own. Cheap to clone (shared); several enhancers may use
/// one `Gpu`, and the context lives as long as any clone.
#[derive(Clone)]
pub struct Gpu {
    device: Device,
    stream: Arc<CudaStream>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({}: {})", self.ordinal(), self.name())
    }
}

impl Gpu {
    /// Opens CUDA device `ordinal`. The error says why there is no usable
    /// device (no GPU, driver too old, ordinal out of range).
    pub fn open(ordinal: usize) -> Result<Self> {
        // `Device::cuda_if_available` returns an error too (not the CPU)
        // when the driver finds no device; open it directly and say why.
        let device = Device::new_cuda_with_stream(ordinal)
            .map_err(|e| Error::Device(format!("no usable CUDA device {ordinal}: {e}")))?;
        let cuda = device.as_cuda_device()?;
        // SAFETY: everything of this `Gpu` (candle's tensors, our kernels,
        // copies) runs on its one stream, in order, so the per-buffer CUDA
        // events cudarc would record to order several streams are not needed.
        // Frames from GStreamer's streams are complete before we get them.
        unsafe { cuda.disable_event_tracking() };
        let stream = cuda.cuda_stream();
        Ok(Gpu { device, stream })
    }

    /// The candle device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    pub(crate) fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The device's primary context (`CUcontext`), which the kernels and
    /// candle run in: device frames must live in it.
    pub fn raw_context(&self) -> *mut c_void {
        self.stream.context().cu_ctx() as *mut c_void
    }

    /// The `CUdevice` handle.
    pub fn raw_device(&self) -> i32 {
        self.stream.context().cu_device()
    }

    pub fn ordinal(&self) -> usize {
        self.stream.context().ordinal()
    }

    /// The GPU's name, for logs.
    pub fn name(&self) -> String {
        self.stream.context().name().unwrap_or_else(|e| format!("<unknown: {e}>"))
    }
}

/// The number of CUDA devices the driver reports; an error when the driver
/// cannot be initialised (no GPU, driver and library mismatch).
pub fn device_count() -> Result<usize> {
    cudarc::driver::CudaContext::device_count()
        .map(|n| n.max(0) as usize)
        .map_err(|e| Error::Device(format!("the CUDA driver reports no device: {e}")))
}
