//! GStreamer's CUDA library (libgstcuda-1.0) for the element: the shared
//! `GstCudaContext`, context queries, CUDA memory. Safe wrappers over
//! [`ffi`]; every function first loads the library and returns an error
//! saying why when it cannot.
//!
//! Built in every configuration (the library is opened at run time), so the
//! tests prove the bindings on machines without a GPU; the element uses it
//! only with the `cuda` feature.

pub mod ffi;

use std::ffi::c_void;

use gst::glib;
use gst::glib::translate::{FromGlibPtrFull, ToGlibPtr};
use gst::prelude::*;

pub use ffi::{CAPS_FEATURE_MEMORY_CUDA_MEMORY, CUDA_CONTEXT_TYPE};

/// Loads the CUDA driver into libgstcuda (`gst_cuda_load_library`):
/// `Ok(true)` when libcuda.so.1 was found, `Ok(false)` when not (no NVIDIA
/// driver); an error when libgstcuda-1.0 itself is missing.
pub fn load_library() -> Result<bool, String> {
    let lib = ffi::library()?;
    // SAFETY: no arguments; the function is idempotent and thread-safe.
    Ok(unsafe { (lib.load_library)() } != glib::ffi::GFALSE)
}

/// A `GstCudaContext` (a `gst::Object`, reference counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaContext(gst::Object);

impl CudaContext {
    /// Wraps an existing `CUcontext` of device `device`; GStreamer will not
    /// destroy it. The driver must have been loaded ([`load_library`]).
    ///
    /// # Safety
    /// `handle` must be a live `CUcontext` of `device`, kept alive for as
    /// long as this object or any copy GStreamer makes of it exists.
    pub unsafe fn wrap(handle: *mut c_void, device: i32) -> Result<Self, String> {
        let lib = ffi::library()?;
        if !load_library()? {
            return Err("libgstcuda cannot load the CUDA driver (libcuda.so.1)".into());
        }
        // SAFETY: as the caller promises.
        let ptr = unsafe { (lib.context_new_wrapped)(handle, device) };
        if ptr.is_null() {
            return Err("gst_cuda_context_new_wrapped failed".into());
        }
        // SAFETY: a new GstObject we own (transfer full); a floating
        // reference is sunk first so that we hold a normal one.
        unsafe { Ok(CudaContext(Self::owned(ptr as *mut gst::ffi::GstObject))) }
    }

    /// Takes ownership of a (possibly floating) full reference.
    unsafe fn owned(ptr: *mut gst::ffi::GstObject) -> gst::Object {
        unsafe {
            let g = ptr as *mut glib::gobject_ffi::GObject;
            if glib::gobject_ffi::g_object_is_floating(g as *mut _) != glib::ffi::GFALSE {
                glib::gobject_ffi::g_object_ref_sink(g as *mut _);
            }
            gst::Object::from_glib_full(ptr)
        }
    }

    fn as_ptr(&self) -> *mut ffi::GstCudaContext {
        self.0.as_ptr() as *mut ffi::GstCudaContext
    }

    /// The wrapped `CUcontext`.
    pub fn handle(&self) -> Result<*mut c_void, String> {
        let lib = ffi::library()?;
        // SAFETY: a valid GstCudaContext.
        Ok(unsafe { (lib.context_get_handle)(self.as_ptr()) })
    }

    /// A `GstContext` (`gst.cuda.context`) carrying this context, for
    /// NEED_CONTEXT / HAVE_CONTEXT.
    pub fn to_gst_context(&self) -> Result<gst::Context, String> {
        let lib = ffi::library()?;
        // SAFETY: a valid GstCudaContext; the result is transfer full.
        let ptr = unsafe { (lib.context_new_cuda_context)(self.as_ptr()) };
        if ptr.is_null() {
            return Err("gst_context_new_cuda_context failed".into());
        }
        // SAFETY: a new GstContext we own.
        Ok(unsafe { gst::Context::from_glib_full(ptr) })
    }

    /// Answers a CONTEXT query for `gst.cuda.context` with this context;
    /// `false` for other queries or when it was not answered.
    pub fn handle_context_query(&self, element: &gst::Element, query: &mut gst::QueryRef) -> bool {
        let Ok(lib) = ffi::library() else { return false };
        // SAFETY: valid element, query and context; none is retained beyond the call
        // (the query keeps its own reference to the context it is given).
        unsafe {
            (lib.handle_context_query)(element.to_glib_none().0, query.as_mut_ptr(), self.as_ptr()) != glib::ffi::GFALSE
        }
    }

    /// The `GstCudaContext` carried by `context`, if it is a
    /// `gst.cuda.context` for `device_id` (-1: any).
    pub fn from_gst_context(element: &gst::Element, context: &gst::Context, device_id: i32) -> Option<Self> {
        let lib = ffi::library().ok()?;
        let mut out: *mut ffi::GstCudaContext = std::ptr::null_mut();
        // SAFETY: valid element and context; `out` starts NULL and receives a full reference.
        let set = unsafe {
            (lib.handle_set_context)(element.to_glib_none().0, context.as_ptr() as *mut _, device_id, &mut out)
        };
        if set == glib::ffi::GFALSE || out.is_null() {
            return None;
        }
        // SAFETY: a full reference handed to us.
        Some(CudaContext(unsafe { Self::owned(out as *mut gst::ffi::GstObject) }))
    }
}

/// Whether `mem` is a `GstCudaMemory`.
pub fn is_cuda_memory(mem: &gst::MemoryRef) -> bool {
    let Ok(lib) = ffi::library() else { return false };
    // SAFETY: a valid GstMemory; the function only reads its allocator.
    unsafe { (lib.is_cuda_memory)(mem.as_ptr() as *mut _) != glib::ffi::GFALSE }
}

/// The `CUcontext` a CUDA memory lives in; `None` for other memory.
pub fn memory_context_handle(mem: &gst::MemoryRef) -> Option<*mut c_void> {
    if !is_cuda_memory(mem) {
        return None;
    }
    let lib = ffi::library().ok()?;
    // SAFETY: `mem` is a GstCudaMemory (checked), whose public `context`
    // field is a valid GstCudaContext for the memory's lifetime.
    unsafe {
        let cuda = mem.as_ptr() as *const ffi::GstCudaMemory;
        let ctx = (*cuda).context;
        if ctx.is_null() { None } else { Some((lib.context_get_handle)(ctx)) }
    }
}

/// Strides and plane offsets of a CUDA memory's own allocation (its
/// `GstVideoInfo`), for buffers that carry no video meta.
pub fn memory_layout(mem: &gst::MemoryRef) -> Option<([usize; 4], [i32; 4])> {
    if !is_cuda_memory(mem) {
        return None;
    }
    // SAFETY: as in `memory_context_handle`; `info` is a plain struct.
    unsafe {
        let info = &(*(mem.as_ptr() as *const ffi::GstCudaMemory)).info;
        Some((info.offset, info.stride))
    }
}

/// Caps with the `memory:CUDAMemory` feature.
pub fn has_cuda_feature(caps: &gst::CapsRef) -> bool {
    caps.iter_with_features().any(|(_, f)| f.contains(CAPS_FEATURE_MEMORY_CUDA_MEMORY))
}
