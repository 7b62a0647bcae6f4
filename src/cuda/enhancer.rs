//! [`CudaEnhancer`]: down-scale -> EFE -> fused pass on a CUDA device, on
//! frames in device memory (raw pitched pointers) or in host memory (copied
//! over and back).

use std::ffi::c_void;
use std::sync::Arc;
use std::time::Duration;

use candle_core::cuda_backend::cudarc::driver::sys::{CUdeviceptr, CUevent_flags};
use candle_core::cuda_backend::cudarc::driver::{CudaEvent, CudaSlice, CudaStream, DevicePtrMut};
use candle_core::cuda_backend::{CudaStorageSlice, WrapErr};
use candle_core::op::BackpropOp;
use candle_core::{CudaDevice, CudaStorage, Device, Module, Storage, Tensor};

use super::kernels::{self, Nv12, Packed, YuvCoeffs};
use crate::enhancer::{EnhancerOptions, StageTimes};
use crate::error::{Error, Result};
use crate::frame::{FrameLayout, YuvFormat, YuvLayout};
use crate::model::{Efe, EfeWeights, Sgz};
use crate::ops::resample::low_res_size;
use crate::temporal::TemporalFilter;

use super::Gpu;

/// A frame in device memory of the enhancer's CUDA context, described by raw
/// device pointers (`CUdeviceptr`) and row pitches in bytes. The memory is
/// borrowed: the enhancer never frees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceFrame {
    /// A packed 8-bit RGB-family frame at `ptr`, rows `layout.stride` bytes apart.
    Packed { ptr: CUdeviceptr, layout: FrameLayout },
    /// An NV12 frame: luma at `y`, interleaved chroma at `uv`, pitches in
    /// `layout.strides[0..2]`; `layout.format` must be NV12.
    Nv12 { y: CUdeviceptr, uv: CUdeviceptr, layout: YuvLayout },
}

impl DeviceFrame {
    fn size(&self) -> (usize, usize) {
        match self {
            DeviceFrame::Packed { layout, .. } => (layout.height, layout.width),
            DeviceFrame::Nv12 { layout, .. } => (layout.height, layout.width),
        }
    }

    /// Checks sizes and pitches (not the memory itself).
    fn validate(&self) -> Result<()> {
        match self {
            DeviceFrame::Packed { ptr, layout } => {
                layout.validate(usize::MAX)?;
                if *ptr == 0 {
                    return Err(Error::Device("null device pointer".into()));
                }
            }
            DeviceFrame::Nv12 { y, uv, layout } => {
                if layout.format != YuvFormat::Nv12 {
                    return Err(Error::Device(format!("the CUDA path takes NV12, not {}", layout.format)));
                }
                layout.validate([usize::MAX; 3])?;
                if *y == 0 || *uv == 0 {
                    return Err(Error::Device("null device pointer".into()));
                }
            }
        }
        Ok(())
    }
}

/// Enhances frames in place on a CUDA device. Same options, same results
/// (within one step of 8 bits, see `tests/kernels_host.rs`) and the same
/// temporal behaviour as [`crate::Enhancer`]; `threads` is ignored.
///
/// With the default options the factor map never leaves the GPU. With
/// `temporal_smoothing > 0` or `factor_interval > 1` the small low-res
/// input and factor map (3 x 90 x 160 floats at 1080p) go through the host,
/// where [`TemporalFilter`] keeps its state, exactly as on the CPU path.
///
/// Every call returns after the GPU has finished the frame (the stream is
/// synchronised), so the frame may be handed on at once.
pub struct CudaEnhancer {
    options: EnhancerOptions,
    gpu: Gpu,
    device: Device,
    cuda: CudaDevice,
    stream: Arc<CudaStream>,
    efe: Efe,
    /// Device copies of host frames (one per plane), kept between frames.
    staging: [Option<CudaSlice<u8>>; 2],
    temporal: TemporalFilter,
    times: StageTimes,
}

impl std::fmt::Debug for CudaEnhancer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaEnhancer").field("options", &self.options).field("gpu", &self.gpu).finish()
    }
}

impl CudaEnhancer {
    /// Opens CUDA device `ordinal` ([`Gpu::open`]) and loads the model onto it.
    pub fn new(weights: &EfeWeights, options: EnhancerOptions, ordinal: usize) -> Result<Self> {
        Self::with_gpu(weights, options, &Gpu::open(ordinal)?)
    }

    /// The model on an already opened GPU.
    pub fn with_gpu(weights: &EfeWeights, options: EnhancerOptions, gpu: &Gpu) -> Result<Self> {
        options.validate()?;
        let device = gpu.device().clone();
        let cuda = device.as_cuda_device()?.clone();
        let efe = Sgz::from_weights(weights, &device)?.efe().clone();
        let stream = gpu.stream().clone();
        // The weights were copied from pageable memory; make sure they are in
        // place before frames come from other threads.
        stream.synchronize().w()?;
        Ok(Self {
            options,
            gpu: gpu.clone(),
            device,
            cuda,
            stream,
            efe,
            staging: [None, None],
            temporal: TemporalFilter::default(),
            times: StageTimes::default(),
        })
    }

    pub fn options(&self) -> &EnhancerOptions {
        &self.options
    }

    /// Changes any option (the thread count is ignored on the GPU).
    pub fn set_options(&mut self, options: EnhancerOptions) -> Result<()> {
        options.validate()?;
        self.options = options;
        Ok(())
    }

    pub fn set_strength(&mut self, strength: f32) -> Result<()> {
        self.set_options(EnhancerOptions { strength, ..self.options })
    }

    /// GPU time of each stage of the last frame (CUDA events).
    pub fn last_stage_times(&self) -> StageTimes {
        self.times
    }

    /// Forgets the temporal state (seeks, flushes).
    pub fn reset_temporal_state(&mut self) {
        self.temporal.reset();
    }

    /// The GPU the model runs on.
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The CUDA context (`CUcontext`) frames passed to
    /// [`Self::enhance_device`] must live in: the GPU's primary context.
    pub fn raw_context(&self) -> *mut c_void {
        self.gpu.raw_context()
    }

    /// Enhances a frame in device memory in place; returns once the GPU is done.
    ///
    /// # Safety
    /// The pointers must be device memory valid in [`Self::raw_context`],
    /// holding the planes the layout describes, writable, and not used by
    /// anyone else until this call returns.
    pub unsafe fn enhance_device(&mut self, frame: &DeviceFrame) -> Result<()> {
        frame.validate()?;
        let (height, width) = frame.size();
        let grid = low_res_size(height, width, self.options.scale_factor);
        let options = self.options;
        let e0 = self.event()?;
        // SAFETY: the down-scale kernel writes all 3 * h * w values.
        let mut low = unsafe { self.cuda.alloc::<f32>(3 * grid.0 * grid.1)? };
        match frame {
            // SAFETY: the caller vouches for the memory; sizes were checked.
            DeviceFrame::Packed { ptr, layout } => unsafe {
                kernels::downscale_packed(&self.cuda, *ptr, Packed::new(layout)?, &mut low, grid)?
            },
            DeviceFrame::Nv12 { y, uv, layout } => unsafe {
                let k = YuvCoeffs::new(layout.matrix, layout.range);
                kernels::downscale_nv12(&self.cuda, *y, *uv, Nv12::new(layout)?, k, &mut low, grid)?
            },
        }
        let e1 = self.event()?;
        let factor = self.factor(low, grid)?;
        let e2 = self.event()?;
        {
            let (storage, layout) = factor.storage_and_layout();
            let Storage::Cuda(CudaStorage { slice: CudaStorageSlice::F32(data), .. }) = &*storage else {
                return Err(Error::Device("the factor map is not an f32 CUDA tensor".into()));
            };
            let start = layout.start_offset();
            let low = data.slice(start..start + 3 * grid.0 * grid.1);
            let (strength, iterations) = (options.strength, options.iterations);
            match frame {
                // SAFETY: as above.
                DeviceFrame::Packed { ptr, layout } => unsafe {
                    kernels::enhance_packed(&self.cuda, *ptr, Packed::new(layout)?, &low, grid, strength, iterations)?
                },
                DeviceFrame::Nv12 { y, uv, layout } => unsafe {
                    let k = YuvCoeffs::new(layout.matrix, layout.range);
                    kernels::enhance_nv12(&self.cuda, *y, *uv, Nv12::new(layout)?, k, &low, grid, strength, iterations)?
                },
            }
        }
        let e3 = self.event()?;
        self.stream.synchronize().w()?;
        let ms = |a: &CudaEvent, b: &CudaEvent| a.elapsed_ms(b).map(|t| Duration::from_secs_f32(t.max(0.0) / 1e3));
        self.times = StageTimes {
            downscale: ms(&e0, &e1).w()?,
            efe: ms(&e1, &e2).w()?,
            fused: ms(&e2, &e3).w()?,
        };
        Ok(())
    }

    /// Enhances a packed frame in host memory: copied to the GPU, enhanced,
    /// copied back (the whole buffer, rows and gaps as they are).
    pub fn enhance(&mut self, data: &mut [u8], layout: &FrameLayout) -> Result<()> {
        layout.validate(data.len())?;
        let len = layout.min_buffer_len();
        let ptr = self.upload(0, &data[..len])?;
        // SAFETY: `ptr` is our staging buffer of `len` bytes, which holds the
        // frame as `layout` describes it.
        unsafe { self.enhance_device(&DeviceFrame::Packed { ptr, layout: *layout })? };
        self.download(0, &mut data[..len])
    }

    /// Enhances an NV12 frame in host memory (planes `[y, uv]`), through the GPU.
    pub fn enhance_nv12(&mut self, y: &mut [u8], uv: &mut [u8], layout: &YuvLayout) -> Result<()> {
        if layout.format != YuvFormat::Nv12 {
            return Err(Error::Device(format!("the CUDA path takes NV12, not {}", layout.format)));
        }
        layout.validate([y.len(), uv.len(), 0])?;
        let (ly, luv) = (layout.plane_min_len(0), layout.plane_min_len(1));
        let yp = self.upload(0, &y[..ly])?;
        let uvp = self.upload(1, &uv[..luv])?;
        // SAFETY: as in `enhance`.
        unsafe { self.enhance_device(&DeviceFrame::Nv12 { y: yp, uv: uvp, layout: *layout })? };
        self.download(0, &mut y[..ly])?;
        self.download(1, &mut uv[..luv])
    }

    /// The factor map for the low-res input `low` (`[3, h, w]`), as a
    /// contiguous f32 tensor on the device.
    fn factor(&mut self, low: CudaSlice<f32>, (h, w): (usize, usize)) -> Result<Tensor> {
        let o = self.options;
        if o.temporal_smoothing <= 0.0 && o.factor_interval <= 1 {
            self.temporal.reset();
            return Ok(self.efe.forward(&self.tensor(low, h, w))?.contiguous()?);
        }
        let mut input = vec![0f32; 3 * h * w];
        self.stream.memcpy_dtoh(&low, &mut input[..]).w()?;
        let cut = self.temporal.is_scene_cut(&input, (h, w));
        if self.temporal.needs_efe(cut, o.factor_interval) {
            let factor = self.efe.forward(&self.tensor(low, h, w))?.flatten_all()?.to_vec1::<f32>()?;
            self.temporal.update((h, w), &factor, o.temporal_smoothing, cut);
        } else {
            self.temporal.skip((h, w));
        }
        Ok(Tensor::from_slice(self.temporal.factor(), (3, h, w), &self.device)?)
    }

    /// `[1, 3, h, w]` tensor owning `low`.
    fn tensor(&self, low: CudaSlice<f32>, h: usize, w: usize) -> Tensor {
        let storage = Storage::Cuda(CudaStorage::wrap_cuda_slice(low, self.cuda.clone()));
        Tensor::from_storage(storage, (1, 3, h, w), BackpropOp::none(), false)
    }

    fn event(&self) -> Result<CudaEvent> {
        Ok(self.stream.record_event(Some(CUevent_flags::CU_EVENT_DEFAULT)).w()?)
    }

    /// Copies `bytes` into staging buffer `i` (grown as needed); its device pointer.
    fn upload(&mut self, i: usize, bytes: &[u8]) -> Result<CUdeviceptr> {
        let fits = self.staging[i].as_ref().is_some_and(|s| s.len() >= bytes.len());
        if !fits {
            // SAFETY: every byte used is written by the copy below first.
            self.staging[i] = Some(unsafe { self.cuda.alloc::<u8>(bytes.len().max(1))? });
        }
        let buf = self.staging[i].as_mut().expect("allocated above");
        let mut view = buf.slice_mut(..bytes.len());
        self.stream.memcpy_htod(bytes, &mut view).w()?;
        let (ptr, _record) = view.device_ptr_mut(&self.stream);
        Ok(ptr)
    }

    fn download(&mut self, i: usize, bytes: &mut [u8]) -> Result<()> {
        let buf = self.staging[i].as_ref().ok_or_else(|| Error::Device("nothing was uploaded".into()))?;
        self.stream.memcpy_dtoh(&buf.slice(..bytes.len()), bytes).w()?;
        Ok(())
    }
}
