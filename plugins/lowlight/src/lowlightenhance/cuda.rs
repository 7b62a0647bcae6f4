//! The element's CUDA path (feature `cuda`).
//!
//! - Device choice, in `start()`: `device=cpu` never touches CUDA;
//!   `device=auto` opens CUDA device 0 and falls back to the CPU with one
//!   log line when there is none; `device=cuda` without a usable device is
//!   an ERROR saying why.
//! - One CUDA context for the pipeline: the GPU's primary context, which
//!   candle and our kernels use, wrapped in a `GstCudaContext`
//!   (`gst_cuda_context_new_wrapped`). It is opened on the first need: a
//!   neighbour's `gst.cuda.context` query (nvh264dec asks when it opens,
//!   before this element starts) or `start()`, and announced with
//!   HAVE_CONTEXT, so decoders and encoders allocate frames in it.
//! - Caps: `video/x-raw(memory:CUDAMemory)` in RGBA, BGRA, RGBx, BGRx and
//!   NV12 come first in the templates; when CUDA memory cannot be used
//!   (device=cpu, no GPU, libgstcuda missing) the CAPS and ACCEPT_CAPS
//!   answers leave it out, so upstream negotiates system memory.
//! - Frames: CUDA memory of our context is mapped with `GST_MAP_CUDA` and
//!   the kernels run on the pitched device pointers, in place. CUDA memory
//!   of another context is mapped to host memory (GStreamer copies it) and
//!   sent through the GPU, said once in the debug log. System memory in a
//!   format the kernels read (packed RGB family, NV12) goes through the GPU
//!   the same way; other formats (I420, Y444) stay on the CPU path.
//! - Every frame is finished (stream synchronised) before it is pushed.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::VideoFormat;
use gst_video::prelude::*;
use lowlight::cuda::{CudaEnhancer, DeviceFrame, Gpu};
use lowlight::{EfeWeights, EnhancerOptions, FrameLayout, YuvFormat, YuvLayout};

use super::format::{self, Target};
use super::model;
use super::settings::{Device, Settings};
use crate::gstcuda::{self, CAPS_FEATURE_MEMORY_CUDA_MEMORY, CUDA_CONTEXT_TYPE, CudaContext};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("lowlightenhance", gst::DebugColorFlags::empty(), Some("Low-light video enhancement (SGZ)"))
});

/// The formats the kernels read in CUDA memory, in caps preference order.
pub const CUDA_FORMATS: [VideoFormat; 5] =
    [VideoFormat::Rgba, VideoFormat::Bgra, VideoFormat::Rgbx, VideoFormat::Bgrx, VideoFormat::Nv12];

/// The CUDA ordinal the element opens.
const ORDINAL: usize = 0;

/// Pad template caps: CUDA memory first, then the system-memory caps.
pub fn template_caps(system: gst::Caps) -> gst::Caps {
    let mut caps = cuda_caps();
    caps.merge(system);
    caps
}

/// `video/x-raw(memory:CUDAMemory)` in [`CUDA_FORMATS`], any size and rate.
pub fn cuda_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .features([CAPS_FEATURE_MEMORY_CUDA_MEMORY])
        .format_list(CUDA_FORMATS)
        .build()
}

/// `caps` without its CUDA-memory structures.
fn without_cuda_memory(caps: &gst::CapsRef) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().expect("new caps are writable");
        for (s, f) in caps.iter_with_features() {
            if !f.contains(CAPS_FEATURE_MEMORY_CUDA_MEMORY) {
                out.append_structure_full(s.to_owned(), Some(f.to_owned()));
            }
        }
    }
    out
}

/// The opened GPU and GStreamer's wrapper of its context.
struct Shared {
    gpu: Gpu,
    /// Our `GstCudaContext`, or why CUDA memory cannot be shared.
    context: Result<CudaContext, String>,
    /// The `CUcontext` handle, to recognise memory of our context.
    handle: usize,
}

/// What `start()` set up for a CUDA run.
struct Work {
    enhancer: CudaEnhancer,
    shared: Arc<Shared>,
    /// The negotiated caps and what they mean for the kernels.
    caps: Option<Negotiated>,
}

#[derive(Clone)]
struct Negotiated {
    caps: gst::Caps,
    info: gst_video::VideoInfo,
    target: Target,
    cuda_memory: bool,
}

/// CUDA state of one element.
#[derive(Default)]
pub struct CudaElement {
    /// Opened on first need; the result (or why not) is kept for the
    /// element's lifetime, so the context outlives every user GStreamer gave it to.
    shared: Mutex<Option<Result<Arc<Shared>, String>>>,
    /// Between `start()` and `stop()` when the element runs on CUDA.
    work: Mutex<Option<Work>>,
    /// The copy fallback for foreign CUDA memory is reported once per run.
    warned_copy: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CudaElement {
    /// The GPU and our wrapped context, opened on first call. Messages are
    /// posted after the lock is released (a bus sync handler may query us).
    fn shared(&self, element: &gst::Element) -> Result<Arc<Shared>, String> {
        let opened = {
            let mut slot = lock(&self.shared);
            if let Some(r) = slot.as_ref() {
                return r.clone();
            }
            let opened = Gpu::open(ORDINAL).map_err(|e| e.to_string()).map(|gpu| {
                // SAFETY: the primary context stays alive as long as `gpu`,
                // which `Shared` keeps for the element's lifetime.
                let context = unsafe { CudaContext::wrap(gpu.raw_context(), gpu.raw_device()) };
                let handle = gpu.raw_context() as usize;
                Arc::new(Shared { gpu, context, handle })
            });
            *slot = Some(opened.clone());
            opened
        };
        match &opened {
            Ok(shared) => {
                gst::info!(CAT, obj = element, "opened CUDA device {:?}", shared.gpu);
                match &shared.context {
                    Ok(ctx) => match ctx.to_gst_context() {
                        Ok(context) => {
                            // Tell the pipeline, so decoders/encoders find it by NEED_CONTEXT too.
                            let _ = element.post_message(gst::message::HaveContext::builder(context).src(element).build());
                        }
                        Err(e) => gst::warning!(CAT, obj = element, "cannot announce the CUDA context: {}", e),
                    },
                    Err(e) => gst::info!(
                        CAT,
                        obj = element,
                        "CUDA memory caps disabled: {}; frames in system memory still run on the GPU",
                        e
                    ),
                }
            }
            Err(e) => gst::debug!(CAT, obj = element, "no CUDA: {}", e),
        }
        opened
    }

    /// Whether this element can take CUDA memory for `device`.
    fn cuda_memory_usable(&self, element: &gst::Element, device: Device) -> bool {
        device != Device::Cpu && self.shared(element).is_ok_and(|s| s.context.is_ok())
    }

    /// Chooses the device when the element starts (after the CPU enhancer
    /// was built, so the model file is known to be good).
    pub fn start(&self, element: &gst::Element, settings: &Settings) -> Result<(), gst::ErrorMessage> {
        *lock(&self.work) = None;
        self.warned_copy.store(false, Ordering::Relaxed);
        if settings.device == Device::Cpu {
            return Ok(());
        }
        let shared = match self.shared(element) {
            Ok(s) => s,
            Err(reason) if settings.device == Device::Cuda => {
                return Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ("device=cuda, but there is no usable CUDA device: {}. Use device=auto or device=cpu to run on the CPU.", reason)
                ));
            }
            Err(reason) => {
                gst::info!(CAT, obj = element, "device=auto: no usable CUDA device ({}); running on the CPU", reason);
                return Ok(());
            }
        };
        let weights = load_weights(&settings.model)?;
        let options = model::options(settings, EnhancerOptions::default());
        let enhancer = CudaEnhancer::with_gpu(&weights, options, &shared.gpu).map_err(|e| {
            gst::error_msg!(gst::LibraryError::Init, ("Cannot start the low-light enhancer on CUDA: {}", e))
        })?;
        gst::info!(
            CAT,
            obj = element,
            "device={}: running on CUDA device {:?}{}",
            if settings.device == Device::Cuda { "cuda" } else { "auto" },
            shared.gpu,
            if shared.context.is_ok() { ", CUDA memory shared" } else { "" }
        );
        *lock(&self.work) = Some(Work { enhancer, shared, caps: None });
        Ok(())
    }

    pub fn stop(&self) {
        *lock(&self.work) = None;
    }

    pub fn reset_temporal_state(&self) {
        if let Some(work) = lock(&self.work).as_mut() {
            work.enhancer.reset_temporal_state();
        }
    }

    /// CUDA context queries, and CAPS / ACCEPT_CAPS answers without CUDA
    /// memory when it cannot be used. `None`: not ours, the caller goes on.
    pub fn query(
        &self,
        imp: &super::imp::LowlightEnhance,
        device: Device,
        direction: gst::PadDirection,
        query: &mut gst::QueryRef,
    ) -> Option<bool> {
        let element = imp.obj();
        let element: &gst::Element = element.upcast_ref();
        enum Kind {
            Context,
            AcceptCuda,
            Caps,
        }
        let kind = match query.view() {
            gst::QueryView::Context(q) if q.context_type() == CUDA_CONTEXT_TYPE && device != Device::Cpu => Kind::Context,
            gst::QueryView::AcceptCaps(q) if gstcuda::has_cuda_feature(q.caps()) => Kind::AcceptCuda,
            gst::QueryView::Caps(_) => Kind::Caps,
            _ => return None,
        };
        match kind {
            Kind::Context => {
                let shared = self.shared(element).ok()?;
                let ctx = shared.context.as_ref().ok()?;
                let answered = ctx.handle_context_query(element, query);
                gst::debug!(CAT, obj = element, "CUDA context query {}", if answered { "answered" } else { "not answered" });
                answered.then_some(true)
            }
            Kind::AcceptCuda => {
                if self.cuda_memory_usable(element, device) {
                    return None;
                }
                gst::debug!(CAT, obj = element, "refusing CUDA memory caps: CUDA is not in use (device={:?})", device);
                if let gst::QueryViewMut::AcceptCaps(q) = query.view_mut() {
                    q.set_result(false);
                }
                Some(true)
            }
            Kind::Caps => {
                if self.cuda_memory_usable(element, device) {
                    return None;
                }
                let answered = BaseTransformImplExt::parent_query(imp, direction, query);
                if answered && let gst::QueryViewMut::Caps(q) = query.view_mut() {
                    let filtered = q.result().map(without_cuda_memory);
                    if let Some(filtered) = filtered {
                        q.set_result(&filtered);
                    }
                }
                Some(answered)
            }
        }
    }

    /// Enhances `buf` on the GPU when the element runs on CUDA and the
    /// frame's format suits the kernels; `None` leaves it to the CPU path.
    /// An error is the message to post (after the caller's locks are gone).
    pub fn transform_ip(
        &self,
        element: &gst::Element,
        settings: &Settings,
        buf: &mut gst::BufferRef,
    ) -> Option<Result<(), (gst::ErrorMessage, gst::FlowError)>> {
        let mut guard = lock(&self.work);
        let work = guard.as_mut()?;
        let negotiated = match negotiated(element, &mut work.caps) {
            Ok((n, changed)) => {
                if changed {
                    // As on the CPU path, new caps start a new history.
                    work.enhancer.reset_temporal_state();
                }
                n
            }
            Err(message) => return Some(Err((message, gst::FlowError::NotNegotiated))),
        };
        let kernels_read = match negotiated.target {
            Target::Packed(_) => true,
            Target::Yuv { format, .. } => format == YuvFormat::Nv12,
        };
        if !kernels_read {
            if negotiated.cuda_memory {
                let message = gst::error_msg!(
                    gst::CoreError::Negotiation,
                    ("{:?} in CUDA memory is not supported", negotiated.info.format())
                );
                return Some(Err((message, gst::FlowError::NotNegotiated)));
            }
            return None;
        }
        let wanted = model::options(settings, *work.enhancer.options());
        if wanted != *work.enhancer.options()
            && let Err(e) = work.enhancer.set_options(wanted)
        {
            let message = gst::error_msg!(gst::LibraryError::Settings, ("Invalid options: {}", e));
            return Some(Err((message, gst::FlowError::Error)));
        }
        if settings.strength == 0.0 {
            return Some(Ok(()));
        }
        let result = if negotiated.cuda_memory {
            match zero_copy(work, &negotiated, buf) {
                Ok(()) => Ok(()),
                Err(Fallback::Copy(why)) => {
                    if !self.warned_copy.swap(true, Ordering::Relaxed) {
                        gst::info!(CAT, obj = element, "{}; copying frames through host memory", why);
                    }
                    through_host(&mut work.enhancer, &negotiated, buf)
                }
                Err(Fallback::Failed(e)) => Err(e),
            }
        } else {
            through_host(&mut work.enhancer, &negotiated, buf)
        };
        gst::trace!(CAT, obj = element, "CUDA frame {:?}", work.enhancer.last_stage_times());
        Some(result.map_err(|e| (gst::error_msg!(gst::StreamError::Failed, ("{}", e)), gst::FlowError::Error)))
    }
}

/// The sink pad's current caps, parsed once per caps; `true` when they changed.
fn negotiated(element: &gst::Element, cache: &mut Option<Negotiated>) -> Result<(Negotiated, bool), gst::ErrorMessage> {
    let caps = element
        .static_pad("sink")
        .and_then(|p| p.current_caps())
        .ok_or_else(|| gst::error_msg!(gst::CoreError::Negotiation, ("lowlightenhance received a frame before caps")))?;
    if let Some(n) = cache.as_ref()
        && n.caps == caps
    {
        return Ok((n.clone(), false));
    }
    let info = gst_video::VideoInfo::from_caps(&caps)
        .map_err(|e| gst::error_msg!(gst::CoreError::Negotiation, ("caps {}: {}", caps, e)))?;
    let (target, _warning) =
        format::target(&info).map_err(|e| gst::error_msg!(gst::CoreError::Negotiation, ("{}", e)))?;
    let n = Negotiated { cuda_memory: gstcuda::has_cuda_feature(&caps), caps, info, target };
    *cache = Some(n.clone());
    Ok((n, true))
}

enum Fallback {
    /// The frame cannot be read in place: copy it (said once).
    Copy(String),
    Failed(String),
}

/// Unmaps a `GstMemory` mapped with `gst_memory_map`.
struct Mapped {
    mem: *mut gst::ffi::GstMemory,
    info: gst::ffi::GstMapInfo,
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: mapped by us with this info.
        unsafe { gst::ffi::gst_memory_unmap(self.mem, &mut self.info) };
    }
}

/// Runs the kernels on the buffer's device memory, in place.
fn zero_copy(work: &mut Work, n: &Negotiated, buf: &mut gst::BufferRef) -> Result<(), Fallback> {
    if buf.n_memory() != 1 {
        return Err(Fallback::Copy(format!("a CUDA buffer of {} memories", buf.n_memory())));
    }
    let mem = buf.peek_memory(0);
    match gstcuda::memory_context_handle(mem) {
        None => return Err(Fallback::Copy("a buffer with CUDAMemory caps holds no CUDA memory".into())),
        Some(h) if h as usize != work.shared.handle => {
            return Err(Fallback::Copy("a buffer's CUDA context is not ours".into()));
        }
        Some(_) => {}
    }
    let (offsets, strides): (Vec<usize>, Vec<i32>) = match buf.meta::<gst_video::VideoMeta>() {
        Some(m) => (m.offset().to_vec(), m.stride().to_vec()),
        None => {
            let (o, s) = gstcuda::memory_layout(mem).ok_or_else(|| Fallback::Copy("no CUDA memory layout".into()))?;
            (o.to_vec(), s.to_vec())
        }
    };
    let mut info = MaybeUninit::<gst::ffi::GstMapInfo>::zeroed();
    let flags = gst::ffi::GST_MAP_READ | gst::ffi::GST_MAP_WRITE | gstcuda::ffi::GST_MAP_CUDA;
    let mem_ptr = mem.as_ptr() as *mut gst::ffi::GstMemory;
    // SAFETY: a valid memory of the buffer, which we hold writable for the call.
    if unsafe { gst::ffi::gst_memory_map(mem_ptr, info.as_mut_ptr(), flags) } == gst::glib::ffi::GFALSE {
        return Err(Fallback::Copy("the CUDA memory cannot be mapped for writing".into()));
    }
    // SAFETY: filled by a successful gst_memory_map.
    let mapped = Mapped { mem: mem_ptr, info: unsafe { info.assume_init() } };
    let (base, size) = (mapped.info.data as u64, mapped.info.size);
    let (width, height) = (n.info.width() as usize, n.info.height() as usize);
    let stride = |i: usize| -> Result<usize, Fallback> {
        let s = *strides.get(i).ok_or_else(|| Fallback::Failed(format!("plane {i} has no stride")))?;
        usize::try_from(s).map_err(|_| Fallback::Failed(format!("plane {i} has a negative stride {s}")))
    };
    // The planes must lie inside the mapped memory.
    let fits = |i: usize, rows: usize, row_bytes: usize| -> Result<u64, Fallback> {
        let (off, s) = (*offsets.get(i).unwrap_or(&usize::MAX), stride(i)?);
        let end = off.checked_add((rows - 1) * s + row_bytes);
        if end.is_none_or(|e| e > size) {
            return Err(Fallback::Failed(format!("plane {i} ({rows} rows of {s} bytes at {off}) exceeds the {size}-byte memory")));
        }
        Ok(base + off as u64)
    };
    let frame = match n.target {
        Target::Packed(format) => {
            let layout = FrameLayout { width, height, stride: stride(0)?, format };
            DeviceFrame::Packed { ptr: fits(0, height, layout.row_bytes())?, layout }
        }
        Target::Yuv { format: YuvFormat::Nv12, matrix, range } => {
            let layout = YuvLayout { width, height, format: YuvFormat::Nv12, strides: [stride(0)?, stride(1)?, 0], matrix, range };
            let y = fits(0, height, layout.plane_row_bytes(0))?;
            let uv = fits(1, layout.plane_rows(1), layout.plane_row_bytes(1))?;
            DeviceFrame::Nv12 { y, uv, layout }
        }
        Target::Yuv { format, .. } => return Err(Fallback::Failed(format!("{format} in CUDA memory"))),
    };
    // SAFETY: the memory is CUDA memory of our context (checked), mapped
    // for reading and writing, and the planes lie inside it (checked).
    let result = unsafe { work.enhancer.enhance_device(&frame) };
    drop(mapped);
    result.map_err(|e| Fallback::Failed(format!("cannot enhance frame {frame:?} on CUDA: {e}")))
}

/// Maps the frame to host memory (GStreamer downloads CUDA memory) and runs
/// it through the GPU.
fn through_host(enhancer: &mut CudaEnhancer, n: &Negotiated, buf: &mut gst::BufferRef) -> Result<(), String> {
    let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &n.info)
        .map_err(|e| format!("cannot map the frame: {e}"))?;
    let (width, height) = (frame.width() as usize, frame.height() as usize);
    let stride = |s: i32| usize::try_from(s).map_err(|_| format!("negative row stride {s}"));
    let strides = frame.plane_stride().to_vec();
    match n.target {
        Target::Packed(format) => {
            let layout = FrameLayout { width, height, stride: stride(strides[0])?, format };
            let data = frame.plane_data_mut(0).map_err(|e| format!("cannot access the frame: {e}"))?;
            enhancer.enhance(data, &layout).map_err(|e| format!("cannot enhance frame {layout:?} on CUDA: {e}"))
        }
        Target::Yuv { format: YuvFormat::Nv12, matrix, range } => {
            let strides = [stride(strides[0])?, stride(*strides.get(1).unwrap_or(&-1))?, 0];
            let layout = YuvLayout { width, height, format: YuvFormat::Nv12, strides, matrix, range };
            let [y, uv, ..] = frame.planes_data_mut();
            enhancer.enhance_nv12(y, uv, &layout).map_err(|e| format!("cannot enhance frame {layout:?} on CUDA: {e}"))
        }
        Target::Yuv { format, .. } => Err(format!("{format} is not run on CUDA")),
    }
}

/// The weights for the GPU: the `model` file, or the embedded default.
fn load_weights(path: &str) -> Result<EfeWeights, gst::ErrorMessage> {
    let weights = if path.is_empty() {
        match lowlight::model::DEFAULT_MODEL {
            Some(bytes) => EfeWeights::from_bytes(bytes, "<embedded default model>"),
            None => {
                return Err(gst::error_msg!(
                    gst::ResourceError::Settings,
                    ("No model: the model property is empty and this build has no embedded default model; set model=FILE.safetensors")
                ));
            }
        }
    } else {
        EfeWeights::from_file(path)
    };
    weights.map_err(|e| gst::error_msg!(gst::ResourceError::Read, ("Cannot load the model: {}", e)))
}
