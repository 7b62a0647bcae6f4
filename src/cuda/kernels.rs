//! lowlight's CUDA kernels (`kernels/lowlight.cu`, compiled to PTX by
//! `build.rs`) and their launches.
//!
//! Frame kernels take raw device pointers (`CUdeviceptr`) and row pitches:
//! the frame may be GStreamer's memory, which must not be wrapped in a
//! `CudaSlice` (that frees on drop). Buffers the core owns are `CudaSlice`s,
//! so cudarc orders their uses on the stream.

use candle_core::cuda_backend::WrapErr;
use candle_core::cuda_backend::cudarc::driver::sys::CUdeviceptr;
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, DeviceRepr, LaunchConfig, PushKernelArg};
use candle_core::{CudaDevice, Result, bail};

use crate::frame::{FrameLayout, YuvFormat, YuvLayout, YuvMatrix, YuvRange};
use crate::ops::yuv::Coeffs;

/// The kernels as PTX, built by nvcc at compile time (see `build.rs`).
pub const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/lowlight.ptx"));

/// Name of the PTX module in candle's per-device module cache.
const MODULE: &str = "lowlight";

/// Threads per block of the weight-gradient kernel (`LL_WGRAD_THREADS` in lowlight.cu).
const WGRAD_THREADS: u32 = 256;

/// `ll_packed`: a packed frame's size, row pitch, bytes per pixel and R, G, B byte offsets.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    pub width: i32,
    pub height: i32,
    pub pitch: i32,
    pub bpp: i32,
    pub off: [i32; 3],
}

// SAFETY: plain `repr(C)` data, the layout of `ll_packed`.
unsafe impl DeviceRepr for Packed {}

/// `ll_nv12`: an NV12 frame's size and plane pitches.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nv12 {
    pub width: i32,
    pub height: i32,
    pub y_pitch: i32,
    pub uv_pitch: i32,
}

// SAFETY: plain `repr(C)` data, the layout of `ll_nv12`.
unsafe impl DeviceRepr for Nv12 {}

/// `ll_yuv_coeffs`: matrix and range, the numbers of [`Coeffs`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YuvCoeffs {
    pub kr: f32,
    pub kb: f32,
    pub kg: f32,
    pub y_off: f32,
    pub y_steps: f32,
    pub c_steps: f32,
}

// SAFETY: plain `repr(C)` data, the layout of `ll_yuv_coeffs`.
unsafe impl DeviceRepr for YuvCoeffs {}

fn int(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).or_else(|_| bail!("{what} {v} is too large for the CUDA kernels"))
}

impl Packed {
    pub fn new(layout: &FrameLayout) -> Result<Self> {
        Ok(Packed {
            width: int(layout.width, "width")?,
            height: int(layout.height, "height")?,
            pitch: int(layout.stride, "row pitch")?,
            bpp: layout.format.bytes_per_pixel() as i32,
            off: layout.format.rgb_offsets().map(|o| o as i32),
        })
    }
}

impl Nv12 {
    pub fn new(layout: &YuvLayout) -> Result<Self> {
        if layout.format != YuvFormat::Nv12 {
            bail!("the CUDA kernels read NV12 only, not {}", layout.format)
        }
        Ok(Nv12 {
            width: int(layout.width, "width")?,
            height: int(layout.height, "height")?,
            y_pitch: int(layout.strides[0], "luma pitch")?,
            uv_pitch: int(layout.strides[1], "chroma pitch")?,
        })
    }
}

impl YuvCoeffs {
    pub fn new(matrix: YuvMatrix, range: YuvRange) -> Self {
        let [kr, kb, kg, y_off, y_steps, c_steps] = Coeffs::new(matrix, range).to_array();
        YuvCoeffs { kr, kb, kg, y_off, y_steps, c_steps }
    }
}

/// One thread per element of a `w x h` grid (`z` layers), blocks of 32 x 8.
fn grid_2d(w: usize, h: usize, z: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (w.div_ceil(32) as u32, h.div_ceil(8) as u32, z),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    }
}

fn check_grid(w: usize, h: usize) -> Result<()> {
    if w == 0 || h == 0 {
        bail!("empty {w}x{h} grid")
    }
    if h.div_ceil(8) > 65_535 {
        bail!("{h} rows exceed the CUDA grid")
    }
    Ok(())
}

macro_rules! launch {
    ($dev:expr, $name:literal, $cfg:expr, $($arg:expr),+ $(,)?) => {{
        let func = $dev.get_or_load_custom_func($name, MODULE, PTX)?;
        let mut builder = func.builder();
        $(builder.arg($arg);)+
        // SAFETY: the argument list matches the kernel's signature in
        // lowlight.cu; the callers check buffer sizes (or pass the duty on).
        unsafe { builder.launch($cfg) }.w()?;
        Ok(())
    }};
}

/// The low-res EFE input `[3, h, w]` of a packed frame, into `out`.
///
/// # Safety
/// `frame` must point to device memory of `dev`'s context that holds the
/// frame `f` describes (`height` rows of `width * bpp` bytes, `pitch`
/// apart) and stays valid until the stream has run this launch.
pub unsafe fn downscale_packed(
    dev: &CudaDevice,
    frame: CUdeviceptr,
    f: Packed,
    out: &mut CudaSlice<f32>,
    (h, w): (usize, usize),
) -> Result<()> {
    check_grid(w, h)?;
    if out.len() < 3 * h * w {
        bail!("downscale: output holds {} values, {h}x{w} needs {}", out.len(), 3 * h * w)
    }
    let (hi, wi) = (int(h, "grid height")?, int(w, "grid width")?);
    launch!(dev, "ll_downscale_packed", grid_2d(w, h, 3), &frame, &f, out, &hi, &wi)
}

/// The fused pass over a packed frame, in place: factor up-sampling from
/// `low` (`[3, h, w]`), `iterations` curve steps, rounding, written back.
///
/// # Safety
/// As [`downscale_packed`], and the frame memory must be writable.
pub unsafe fn enhance_packed(
    dev: &CudaDevice,
    frame: CUdeviceptr,
    f: Packed,
    low: &CudaView<'_, f32>,
    (h, w): (usize, usize),
    strength: f32,
    iterations: usize,
) -> Result<()> {
    check_grid(f.width as usize, f.height as usize)?;
    if low.len() < 3 * h * w {
        bail!("enhance: factor map holds {} values, {h}x{w} needs {}", low.len(), 3 * h * w)
    }
    let (hi, wi, it) = (int(h, "grid height")?, int(w, "grid width")?, int(iterations, "iterations")?);
    let cfg = grid_2d(f.width as usize, f.height as usize, 1);
    launch!(dev, "ll_enhance_packed", cfg, &frame, &f, low, &hi, &wi, &strength, &it)
}

/// The low-res EFE input `[3, h, w]` of an NV12 frame.
///
/// # Safety
/// `y` and `uv` must point to device memory of `dev`'s context holding the
/// planes `f` describes (luma `height` rows of `width` bytes, chroma
/// `ceil(height / 2)` rows of `2 * ceil(width / 2)` bytes), valid until the
/// stream has run this launch.
#[allow(clippy::too_many_arguments)]
pub unsafe fn downscale_nv12(
    dev: &CudaDevice,
    y: CUdeviceptr,
    uv: CUdeviceptr,
    f: Nv12,
    k: YuvCoeffs,
    out: &mut CudaSlice<f32>,
    (h, w): (usize, usize),
) -> Result<()> {
    check_grid(w, h)?;
    if out.len() < 3 * h * w {
        bail!("downscale: output holds {} values, {h}x{w} needs {}", out.len(), 3 * h * w)
    }
    let (hi, wi) = (int(h, "grid height")?, int(w, "grid width")?);
    launch!(dev, "ll_downscale_nv12", grid_2d(w, h, 3), &y, &uv, &f, &k, out, &hi, &wi)
}

/// The fused pass over an NV12 frame, in place, one thread per 2x2 block.
///
/// # Safety
/// As [`downscale_nv12`], and both planes must be writable.
#[allow(clippy::too_many_arguments)]
pub unsafe fn enhance_nv12(
    dev: &CudaDevice,
    y: CUdeviceptr,
    uv: CUdeviceptr,
    f: Nv12,
    k: YuvCoeffs,
    low: &CudaView<'_, f32>,
    (h, w): (usize, usize),
    strength: f32,
    iterations: usize,
) -> Result<()> {
    let (bw, bh) = ((f.width as usize).div_ceil(2), (f.height as usize).div_ceil(2));
    check_grid(bw, bh)?;
    if low.len() < 3 * h * w {
        bail!("enhance: factor map holds {} values, {h}x{w} needs {}", low.len(), 3 * h * w)
    }
    let (hi, wi, it) = (int(h, "grid height")?, int(w, "grid width")?, int(iterations, "iterations")?);
    launch!(dev, "ll_enhance_nv12", grid_2d(bw, bh, 1), &y, &uv, &f, &k, low, &hi, &wi, &strength, &it)
}

/// Depthwise 3x3 convolution of `x` `[n, c, h, w]` with `k` `[c, 3, 3]` into `out`.
pub fn depthwise3x3(
    dev: &CudaDevice,
    x: &CudaView<'_, f32>,
    k: &CudaView<'_, f32>,
    out: &mut CudaSlice<f32>,
    (n, c, h, w): (usize, usize, usize, usize),
) -> Result<()> {
    let total = n * c * h * w;
    if x.len() < total || k.len() < c * 9 || out.len() < total {
        bail!("depthwise3x3: buffers do not fit [{n}, {c}, {h}, {w}]")
    }
    if total == 0 {
        return Ok(());
    }
    let blocks = u32::try_from(total.div_ceil(256)).or_else(|_| bail!("depthwise3x3: {total} outputs"))?;
    let cfg = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (256, 1, 1), shared_mem_bytes: 0 };
    let dims = [int(n, "batch")?, int(c, "channels")?, int(h, "height")?, int(w, "width")?];
    launch!(dev, "ll_depthwise3x3", cfg, x, k, out, &dims[0], &dims[1], &dims[2], &dims[3])
}

/// Weight gradient `[c, 3, 3]` of the depthwise 3x3 convolution of `x`
/// given the output gradient `g` (both `[n, c, h, w]`), into `out`.
pub fn depthwise3x3_wgrad(
    dev: &CudaDevice,
    x: &CudaView<'_, f32>,
    g: &CudaView<'_, f32>,
    out: &mut CudaSlice<f32>,
    (n, c, h, w): (usize, usize, usize, usize),
) -> Result<()> {
    let total = n * c * h * w;
    if x.len() < total || g.len() < total || out.len() < c * 9 {
        bail!("depthwise3x3 weight gradient: buffers do not fit [{n}, {c}, {h}, {w}]")
    }
    if c == 0 {
        return Ok(());
    }
    let blocks = u32::try_from(c * 9).or_else(|_| bail!("depthwise3x3 weight gradient: {c} channels"))?;
    let cfg = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (WGRAD_THREADS, 1, 1), shared_mem_bytes: 0 };
    let dims = [int(n, "batch")?, int(c, "channels")?, int(h, "height")?, int(w, "width")?];
    launch!(dev, "ll_depthwise3x3_wgrad", cfg, x, g, out, &dims[0], &dims[1], &dims[2], &dims[3])
}
