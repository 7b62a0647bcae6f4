//! The CUDA path (feature `cuda`) against the CPU path, on a GPU: the frame
//! kernels on packed and NV12 frames (odd sizes, pitched rows), the
//! temporal options, the depthwise op's `cuda_fwd` and its gradients, and
//! the EFE as a whole. Each test prints `CUDA test skipped: ...` and passes
//! when the machine has no usable CUDA device. (The kernels' arithmetic is
//! also tested without a GPU, by tests/kernels_host.rs.)
#![cfg(feature = "cuda")]

mod common;

use candle_core::{Device, Module, Tensor, Var};
use common::noise_image;
use lowlight::cuda::{CudaEnhancer, DeviceFrame, Gpu};
use lowlight::ops::depthwise3x3;
use lowlight::{
    EfeWeights, Enhancer, EnhancerOptions, FrameLayout, PixelFormat, Sgz, YuvFormat, YuvLayout, YuvMatrix, YuvRange,
};

/// The GPU, or `None` after printing why the test is skipped.
fn gpu() -> Option<Gpu> {
    match Gpu::open(0) {
        Ok(gpu) => {
            println!("CUDA device: {gpu:?}");
            Some(gpu)
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains("no usable CUDA device"), "the error says what is missing: {message}");
            println!("CUDA test skipped: no CUDA device ({message})");
            None
        }
    }
}

fn weights() -> EfeWeights {
    EfeWeights::random(7, 1.5)
}

fn cpu_enhancer(options: EnhancerOptions) -> Enhancer {
    Enhancer::new(Sgz::from_weights(&weights(), &Device::Cpu).unwrap(), options).unwrap()
}

fn assert_close_u8(gpu: &[u8], cpu: &[u8], what: &str) {
    assert_eq!(gpu.len(), cpu.len());
    let max = gpu.iter().zip(cpu).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
    let n = gpu.iter().zip(cpu).filter(|(a, b)| a != b).count();
    assert!(max <= 1, "{what}: max |diff| {max} ({n} of {} values differ)", gpu.len());
    assert!(n * 100 <= gpu.len(), "{what}: {n} of {} values differ by one", gpu.len());
}

const SIZES: [(usize, usize); 4] = [(1, 1), (37, 29), (161, 91), (640, 360)];

#[test]
fn packed_frames_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let options = EnhancerOptions::default();
    let mut cuda = CudaEnhancer::with_gpu(&weights(), options, &gpu).unwrap();
    let mut cpu = cpu_enhancer(options);
    for (w, h) in SIZES {
        for format in [PixelFormat::Rgba, PixelFormat::Bgrx, PixelFormat::Rgb, PixelFormat::Argb] {
            let stride = w * format.bytes_per_pixel() + 13;
            let frame = noise_image(stride, h, 1, (w * h) as u64);
            let layout = FrameLayout { width: w, height: h, stride, format };
            let (mut a, mut b) = (frame.clone(), frame.clone());
            cuda.enhance(&mut a, &layout).unwrap();
            cpu.enhance(&mut b, &layout).unwrap();
            assert_close_u8(&a, &b, &format!("{format} {w}x{h}"));
            assert_ne!(a, frame, "{format} {w}x{h}: the frame changed");
        }
    }
}

#[test]
fn nv12_frames_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let options = EnhancerOptions::default();
    let mut cuda = CudaEnhancer::with_gpu(&weights(), options, &gpu).unwrap();
    let mut cpu = cpu_enhancer(options);
    for (w, h) in SIZES {
        for (matrix, range) in [(YuvMatrix::Bt709, YuvRange::Limited), (YuvMatrix::Bt601, YuvRange::Full)] {
            let mut layout = YuvLayout::packed(w, h, YuvFormat::Nv12, matrix, range);
            layout.strides = [w + 3, 2 * w.div_ceil(2) + 5, 0];
            let y: Vec<u8> = noise_image(layout.strides[0], h, 1, 1).iter().map(|v| v + 16).collect();
            let uv: Vec<u8> = noise_image(layout.strides[1], h.div_ceil(2), 1, 2).iter().map(|v| v + 70).collect();
            let (mut gy, mut guv) = (y.clone(), uv.clone());
            cuda.enhance_nv12(&mut gy, &mut guv, &layout).unwrap();
            let (mut cy, mut cuv) = (y.clone(), uv.clone());
            cpu.enhance_yuv([&mut cy, &mut cuv, &mut []], &layout).unwrap();
            assert_close_u8(&gy, &cy, &format!("NV12 {matrix:?} {range:?} {w}x{h} luma"));
            assert_close_u8(&guv, &cuv, &format!("NV12 {matrix:?} {range:?} {w}x{h} chroma"));
        }
    }
}

#[test]
fn temporal_options_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let options = EnhancerOptions { temporal_smoothing: 0.6, factor_interval: 2, ..Default::default() };
    let mut cuda = CudaEnhancer::with_gpu(&weights(), options, &gpu).unwrap();
    let mut cpu = cpu_enhancer(options);
    let layout = FrameLayout::packed(96, 64, PixelFormat::Rgbx);
    for i in 0..5 {
        // A slowly brightening scene, then a cut at frame 3.
        let seed = if i < 3 { 1 } else { 9 };
        let frame: Vec<u8> = noise_image(96 * 4, 64, 1, seed).iter().map(|&v| v / 2 + 5 * i as u8).collect();
        let (mut a, mut b) = (frame.clone(), frame.clone());
        cuda.enhance(&mut a, &layout).unwrap();
        cpu.enhance(&mut b, &layout).unwrap();
        assert_close_u8(&a, &b, &format!("frame {i}"));
    }
}

#[test]
fn device_pointers_are_checked() {
    let Some(gpu) = gpu() else { return };
    let mut cuda = CudaEnhancer::with_gpu(&weights(), EnhancerOptions::default(), &gpu).unwrap();
    let layout = FrameLayout::packed(8, 8, PixelFormat::Rgba);
    // SAFETY: refused before any launch (null pointer).
    let err = unsafe { cuda.enhance_device(&DeviceFrame::Packed { ptr: 0, layout }) }.unwrap_err();
    assert!(err.to_string().contains("null"), "{err}");
    let i420 = YuvLayout::packed(8, 8, YuvFormat::I420, YuvMatrix::Bt709, YuvRange::Limited);
    // SAFETY: refused before any launch (format).
    let err = unsafe { cuda.enhance_device(&DeviceFrame::Nv12 { y: 1, uv: 1, layout: i420 }) }.unwrap_err();
    assert!(err.to_string().contains("NV12"), "{err}");
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_device(&Device::Cpu).unwrap().to_vec1::<f32>().unwrap()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max <= tol * scale, "{what}: max |diff| {max} (largest value {scale})");
}

#[test]
fn depthwise_forward_and_gradients_match_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let (n, c, h, w) = (2, 5, 33, 21);
    let x: Vec<f32> = noise_image(n * c * h, w, 1, 4).iter().map(|&v| v as f32 / 50.0 - 1.0).collect();
    let k: Vec<f32> = noise_image(c * 9, 1, 1, 6).iter().map(|&v| v as f32 / 50.0 - 1.0).collect();
    let g: Vec<f32> = noise_image(n * c * h, w, 1, 8).iter().map(|&v| v as f32 / 40.0 - 1.5).collect();
    let run = |dev: &Device| {
        let xv = Var::from_tensor(&Tensor::from_vec(x.clone(), (n, c, h, w), dev).unwrap()).unwrap();
        let kv = Var::from_tensor(&Tensor::from_vec(k.clone(), (c, 1, 3, 3), dev).unwrap()).unwrap();
        let gt = Tensor::from_vec(g.clone(), (n, c, h, w), dev).unwrap();
        let y = depthwise3x3(xv.as_tensor(), kv.as_tensor()).unwrap();
        let grads = (&y * &gt).unwrap().sum_all().unwrap().backward().unwrap();
        (values(&y), values(grads.get(xv.as_tensor()).unwrap()), values(grads.get(kv.as_tensor()).unwrap()))
    };
    let (cy, cgx, cgk) = run(&Device::Cpu);
    let (gy, ggx, ggk) = run(gpu.device());
    assert_close(&gy, &cy, 1e-6, "forward");
    assert_close(&ggx, &cgx, 1e-6, "input gradient");
    assert_close(&ggk, &cgk, 1e-5, "weight gradient");
}

#[test]
fn efe_on_the_gpu_matches_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let (h, w) = (45, 80);
    let img: Vec<f32> = noise_image(w, h, 3, 3).iter().map(|&v| v as f32 / 255.0).collect();
    let run = |dev: &Device| {
        let model = Sgz::from_weights(&weights(), dev).unwrap();
        values(&model.efe().forward(&Tensor::from_vec(img.clone(), (1, 3, h, w), dev).unwrap()).unwrap())
    };
    assert_close(&run(gpu.device()), &run(&Device::Cpu), 1e-5, "EFE");
}
