//! The few C functions of libgstcuda-1.0 (GStreamer 1.22, an unstable API
//! with no Rust binding) that the element needs, resolved at run time with
//! `dlopen` rather than linked.
//!
//! Why dlopen: the library ships in libgstreamer-plugins-bad1.0-0, which a
//! CPU-only install may lack, and linking it would make the whole plugin
//! fail to load there. Resolved at run time, the module builds in every
//! configuration (the tests exercise it without a GPU) and a missing
//! library is one clear error, not a loader failure. libgstcuda itself
//! loads the CUDA driver (libcuda.so.1) the same way in
//! `gst_cuda_load_library`.
//!
//! Declarations follow `/usr/include/gstreamer-1.0/gst/cuda/*.h` (1.22).

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::OnceLock;

use gst::ffi::{GstContext, GstElement, GstMemory, GstQuery};
use gst::glib::ffi::gboolean;

/// Soname of the library (package libgstreamer-plugins-bad1.0-0).
pub const LIBRARY: &str = "libgstcuda-1.0.so.0";

/// `GST_MAP_CUDA`: map the device memory (the pointer is a `CUdeviceptr`).
pub const GST_MAP_CUDA: gst::ffi::GstMapFlags = gst::ffi::GST_MAP_FLAG_LAST << 1;

/// `GST_CAPS_FEATURE_MEMORY_CUDA_MEMORY`.
pub const CAPS_FEATURE_MEMORY_CUDA_MEMORY: &str = "memory:CUDAMemory";

/// `GST_CUDA_CONTEXT_TYPE`: the `GstContext` type that carries a `GstCudaContext`.
pub const CUDA_CONTEXT_TYPE: &str = "gst.cuda.context";

/// `CUcontext`.
pub type CUcontext = *mut c_void;
/// `CUdevice`.
pub type CUdevice = c_int;

/// `GstCudaContext` (a `GstObject`; its fields are private).
#[repr(C)]
pub struct GstCudaContext {
    _private: [u8; 0],
}

/// `GstCudaMemory` (gstcudamemory.h, 1.22): the public fields are read.
#[repr(C)]
pub struct GstCudaMemory {
    pub mem: GstMemory,
    pub context: *mut GstCudaContext,
    pub info: gst_video::ffi::GstVideoInfo,
    _priv: *mut c_void,
    _gst_reserved: [*mut c_void; 4],
}

/// The resolved entry points.
#[derive(Debug, Clone, Copy)]
pub struct GstCudaLib {
    /// Loads libcuda.so.1 into libgstcuda; FALSE when the driver is missing.
    pub load_library: unsafe extern "C" fn() -> gboolean,
    /// (transfer full) A context that wraps, and does not own, `handler`.
    pub context_new_wrapped: unsafe extern "C" fn(handler: CUcontext, device: CUdevice) -> *mut GstCudaContext,
    /// The wrapped `CUcontext`.
    pub context_get_handle: unsafe extern "C" fn(ctx: *mut GstCudaContext) -> *mut c_void,
    /// Answers a `gst.cuda.context` CONTEXT query with `ctx`; TRUE if answered.
    pub handle_context_query:
        unsafe extern "C" fn(element: *mut GstElement, query: *mut GstQuery, ctx: *mut GstCudaContext) -> gboolean,
    /// Takes a `GstCudaContext` out of a `GstContext` into `*ctx` (inout, transfer full).
    pub handle_set_context: unsafe extern "C" fn(
        element: *mut GstElement,
        context: *mut GstContext,
        device_id: c_int,
        ctx: *mut *mut GstCudaContext,
    ) -> gboolean,
    /// (transfer full) A `GstContext` of type `gst.cuda.context` holding `ctx`.
    pub context_new_cuda_context: unsafe extern "C" fn(ctx: *mut GstCudaContext) -> *mut GstContext,
    pub is_cuda_memory: unsafe extern "C" fn(mem: *mut GstMemory) -> gboolean,
    /// Finds a context by queries and NEED_CONTEXT, or creates one (inout).
    pub ensure_element_context:
        unsafe extern "C" fn(element: *mut GstElement, device_id: c_int, ctx: *mut *mut GstCudaContext) -> gboolean,
}

unsafe extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *mut c_char;
}

const RTLD_NOW: c_int = 2;

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libc.
    let e = unsafe { dlerror() };
    if e.is_null() { "unknown error".into() } else { unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned() }
}

/// Opens a shared library by soname; the handle is never closed.
pub fn open(soname: &str) -> Result<*mut c_void, String> {
    let name = CString::new(soname).map_err(|_| format!("bad library name {soname:?}"))?;
    // SAFETY: a valid C string; dlopen has no other preconditions.
    let handle = unsafe { dlopen(name.as_ptr(), RTLD_NOW) };
    if handle.is_null() { Err(format!("cannot load {soname}: {}", last_dl_error())) } else { Ok(handle) }
}

fn symbol(handle: *mut c_void, name: &str) -> Result<*mut c_void, String> {
    let c = CString::new(name).expect("symbol names have no NUL");
    // SAFETY: `handle` comes from dlopen.
    let p = unsafe { dlsym(handle, c.as_ptr()) };
    if p.is_null() { Err(format!("{LIBRARY} has no symbol {name}: {}", last_dl_error())) } else { Ok(p) }
}

/// Symbol `name` of `handle` as a function pointer of type `F`.
///
/// # Safety
/// `F` must be the `unsafe extern "C" fn` type of the symbol's C signature.
unsafe fn function<F: Copy>(handle: *mut c_void, name: &str) -> Result<F, String> {
    if std::mem::size_of::<F>() != std::mem::size_of::<*mut c_void>() {
        return Err(format!("{name}: the Rust type is not a function pointer"));
    }
    let p = symbol(handle, name)?;
    // SAFETY: a non-null code address of the right signature (caller), and
    // data and function pointers have the same size and representation on
    // the platforms GStreamer runs on (checked above).
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) })
}

/// libgstcuda-1.0, loaded once per process; the error says what is missing.
pub fn library() -> Result<&'static GstCudaLib, String> {
    static LIB: OnceLock<Result<GstCudaLib, String>> = OnceLock::new();
    LIB.get_or_init(|| {
        let h = open(LIBRARY)?;
        // SAFETY (every `function` below): the symbol has the C signature
        // of the field it is stored in (gstcuda*.h, 1.22).
        Ok(GstCudaLib {
            load_library: unsafe { function(h, "gst_cuda_load_library")? },
            context_new_wrapped: unsafe { function(h, "gst_cuda_context_new_wrapped")? },
            context_get_handle: unsafe { function(h, "gst_cuda_context_get_handle")? },
            handle_context_query: unsafe { function(h, "gst_cuda_handle_context_query")? },
            handle_set_context: unsafe { function(h, "gst_cuda_handle_set_context")? },
            context_new_cuda_context: unsafe { function(h, "gst_context_new_cuda_context")? },
            is_cuda_memory: unsafe { function(h, "gst_is_cuda_memory")? },
            ensure_element_context: unsafe { function(h, "gst_cuda_ensure_element_context")? },
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}
