//! The libgstcuda-1.0 bindings (`gstlowlight::gstcuda`), in every build:
//! the library is opened at run time, so these run on machines without a
//! GPU or a driver. Observed on the project's CPU-only machine (Debian 12,
//! GStreamer 1.22, no NVIDIA driver): every symbol resolves and
//! `gst_cuda_load_library` returns FALSE, without crashing, because
//! libcuda.so.1 is absent.

use gstlowlight::gstcuda::{self, CudaContext, ffi};

fn init() {
    gst::init().unwrap();
}

/// libgstcuda's resolved entry points, or `None` with a printed reason.
fn library() -> Option<&'static ffi::GstCudaLib> {
    match ffi::library() {
        Ok(lib) => Some(lib),
        Err(e) => {
            // Only acceptable when the library itself is not installed.
            assert!(ffi::open(ffi::LIBRARY).is_err(), "{} loads but its symbols do not resolve: {e}", ffi::LIBRARY);
            println!("gstcuda test skipped: {e} (package libgstreamer-plugins-bad1.0-0)");
            None
        }
    }
}

/// Whether this machine has the CUDA driver library.
fn driver_present() -> bool {
    ffi::open("libcuda.so.1").is_ok()
}

#[test]
fn load_library_reports_whether_the_driver_is_there() {
    init();
    if library().is_none() {
        return;
    }
    let first = gstcuda::load_library().expect("the library resolved");
    let again = gstcuda::load_library().expect("the library resolved");
    assert_eq!(first, again, "gst_cuda_load_library is idempotent");
    let driver = driver_present();
    println!("gst_cuda_load_library() = {first}; libcuda.so.1 present: {driver}");
    if !driver {
        assert!(!first, "gst_cuda_load_library returned TRUE with no libcuda.so.1 on the machine");
    }
}

#[test]
fn wrapping_a_context_without_a_driver_is_an_error_not_a_crash() {
    init();
    if library().is_none() {
        return;
    }
    if driver_present() {
        println!("gstcuda test skipped: libcuda.so.1 is present, so the no-driver error cannot be observed");
        return;
    }
    // SAFETY: the function refuses before using the (null) handle when the
    // driver cannot be loaded, which is what this checks.
    let err = unsafe { CudaContext::wrap(std::ptr::null_mut(), 0) }.expect_err("no driver, no context");
    assert!(err.contains("libcuda.so.1"), "{err}");
}

#[test]
fn system_memory_is_not_cuda_memory() {
    init();
    if library().is_none() {
        return;
    }
    let mem = gst::Memory::with_size(64);
    assert!(!gstcuda::is_cuda_memory(&mem));
    assert_eq!(gstcuda::memory_context_handle(&mem), None);
    assert!(gstcuda::memory_layout(&mem).is_none());
}

#[test]
fn constants_match_the_headers() {
    // gstcudamemory.h: GST_MAP_CUDA is GST_MAP_FLAG_LAST << 1, GST_MAP_FLAG_LAST is 1 << 16.
    assert_eq!(ffi::GST_MAP_CUDA, 1 << 17);
    assert_eq!(gstcuda::CAPS_FEATURE_MEMORY_CUDA_MEMORY, "memory:CUDAMemory");
    assert_eq!(gstcuda::CUDA_CONTEXT_TYPE, "gst.cuda.context");
    // The public part of GstCudaMemory starts right after the GstMemory.
    assert_eq!(std::mem::offset_of!(ffi::GstCudaMemory, context), std::mem::size_of::<gst::ffi::GstMemory>());
}

#[test]
fn cuda_caps_are_recognised() {
    init();
    let cuda: gst::Caps = "video/x-raw(memory:CUDAMemory), format=NV12".parse().unwrap();
    let system: gst::Caps = "video/x-raw, format=NV12".parse().unwrap();
    assert!(gstcuda::has_cuda_feature(&cuda));
    assert!(!gstcuda::has_cuda_feature(&system));
    let mixed: gst::Caps = "video/x-raw, format=RGBA; video/x-raw(memory:CUDAMemory), format=RGBA".parse().unwrap();
    assert!(gstcuda::has_cuda_feature(&mixed));
}
