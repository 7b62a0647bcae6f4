//! The CUDA kernels' per-element bodies (kernels/lowlight_kernels.cuh),
//! built for the host, against the Rust CPU path over whole frames: odd
//! sizes, pitched rows, RGBA and NV12. Equal within one step of 8 bits.

mod common;

use common::noise_image;
use lowlight::ops::fused::{FusedScratch, enhance_packed};
use lowlight::ops::resample::{downscale_packed, low_res_size};
use lowlight::ops::yuv::{Coeffs, YuvPlanes, YuvScratch, downscale_yuv, enhance_yuv};
use lowlight::{FrameLayout, PixelFormat, YuvFormat, YuvLayout, YuvMatrix, YuvRange, ops::depthwise3x3};
use lowlight_kernels_host as k;

const SIZES: [(usize, usize); 5] = [(1, 1), (7, 3), (37, 29), (64, 48), (161, 91)];

fn factor_map(h: usize, w: usize, seed: u64) -> Vec<f32> {
    noise_image(w, h, 3, seed).iter().map(|&v| v as f32 / 60.0 - 1.0).collect()
}

fn assert_close_u8(a: &[u8], b: &[u8], what: &str) {
    let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
    let n = a.iter().zip(b).filter(|(x, y)| x != y).count();
    assert!(max <= 1, "{what}: max |diff| {max} ({n} values differ)");
}

fn assert_close_f32(a: &[f32], b: &[f32], what: &str) {
    let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    assert!(max <= 1e-6, "{what}: max |diff| {max}");
}

#[test]
fn packed_downscale_and_fused_pass_match() {
    for (w, h) in SIZES {
        for format in [PixelFormat::Rgba, PixelFormat::Bgr] {
            let bpp = format.bytes_per_pixel();
            let pitch = w * bpp + 7; // pitched rows
            let mut frame = vec![0xCDu8; pitch * h];
            let pixels = noise_image(w, h, bpp, (w + h) as u64);
            for y in 0..h {
                frame[y * pitch..y * pitch + w * bpp].copy_from_slice(&pixels[y * w * bpp..(y + 1) * w * bpp]);
            }
            let layout = FrameLayout { width: w, height: h, stride: pitch, format };
            let off = format.rgb_offsets();
            let f = k::Packed {
                width: w as i32,
                height: h as i32,
                pitch: pitch as i32,
                bpp: bpp as i32,
                off: off.map(|o| o as i32),
            };
            for s in [1, 12] {
                let (lh, lw) = low_res_size(h, w, s);
                let mut ours = vec![0f32; 3 * lh * lw];
                downscale_packed(&frame, &layout, lh, lw, &mut ours);
                assert_close_f32(&k::downscale_packed(&frame, f, lh, lw), &ours, &format!("{format} {w}x{h} s={s} downscale"));

                let low = factor_map(lh, lw, 3);
                let mut cpu = frame.clone();
                enhance_packed(&mut cpu, &layout, &low, (lh, lw), 8, 0.9, &mut FusedScratch::default());
                let mut host = frame.clone();
                k::enhance_packed(&mut host, f, &low, (lh, lw), 0.9, 8);
                assert_close_u8(&host, &cpu, &format!("{format} {w}x{h} s={s} fused"));
                assert_ne!(host, frame, "the pass changes the frame");
            }
        }
    }
}

#[test]
fn nv12_downscale_and_fused_pass_match() {
    for (w, h) in SIZES {
        for (matrix, range) in [(YuvMatrix::Bt709, YuvRange::Limited), (YuvMatrix::Bt601, YuvRange::Full)] {
            let mut layout = YuvLayout::packed(w, h, YuvFormat::Nv12, matrix, range);
            layout.strides = [w + 5, 2 * w.div_ceil(2) + 3, 0];
            let y: Vec<u8> = noise_image(layout.strides[0], h, 1, 1).iter().map(|v| v + 16).collect();
            let uv: Vec<u8> = noise_image(layout.strides[1], h.div_ceil(2), 1, 2).iter().map(|v| v + 70).collect();
            let coeffs = Coeffs::new(matrix, range);
            let [kr, kb, kg, y_off, y_steps, c_steps] = coeffs.to_array();
            let kc = k::YuvCoeffs { kr, kb, kg, y_off, y_steps, c_steps };
            let f = k::Nv12 {
                width: w as i32,
                height: h as i32,
                y_pitch: layout.strides[0] as i32,
                uv_pitch: layout.strides[1] as i32,
            };
            let (lh, lw) = low_res_size(h, w, 12);
            let mut ours = vec![0f32; 3 * lh * lw];
            downscale_yuv(YuvPlanes { planes: [&y, &uv, &[]], layout: &layout }, lh, lw, &mut ours);
            assert_close_f32(&k::downscale_nv12(&y, &uv, f, kc, lh, lw), &ours, &format!("NV12 {w}x{h} downscale"));

            let low = factor_map(lh, lw, 5);
            let (mut cy, mut cuv) = (y.clone(), uv.clone());
            enhance_yuv([&mut cy, &mut cuv, &mut []], &layout, &low, (lh, lw), 8, 1.0, &mut YuvScratch::default());
            let (mut hy, mut huv) = (y.clone(), uv.clone());
            k::enhance_nv12(&mut hy, &mut huv, f, kc, &low, (lh, lw), 1.0, 8);
            assert_close_u8(&hy, &cy, &format!("NV12 {matrix:?} {range:?} {w}x{h} luma"));
            assert_close_u8(&huv, &cuv, &format!("NV12 {matrix:?} {range:?} {w}x{h} chroma"));
        }
    }
}

#[test]
fn depthwise_matches() {
    let dims = (2, 5, 9, 13);
    let (n, c, h, w) = dims;
    let x: Vec<f32> = noise_image(n * c * h, w, 1, 4).iter().map(|&v| v as f32 / 50.0 - 1.0).collect();
    let kern: Vec<f32> = noise_image(c * 9, 1, 1, 6).iter().map(|&v| v as f32 / 50.0 - 1.0).collect();
    let xt = candle_core::Tensor::from_vec(x.clone(), (n, c, h, w), &candle_core::Device::Cpu).unwrap();
    let kt = candle_core::Tensor::from_vec(kern.clone(), (c, 1, 3, 3), &candle_core::Device::Cpu).unwrap();
    let ours = depthwise3x3(&xt, &kt).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let host = k::depthwise3x3(&x, &kern, dims);
    let max = ours.iter().zip(&host).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max < 1e-5, "{max}");
}

#[test]
fn depthwise_weight_gradient_matches() {
    // Odd sizes and a batch, so rows, planes and batches all meet the padding.
    let dims = (3, 4, 11, 7);
    let (n, c, h, w) = dims;
    let x: Vec<f32> = noise_image(n * c * h, w, 1, 8).iter().map(|&v| v as f32 / 50.0 - 1.0).collect();
    let g: Vec<f32> = noise_image(n * c * h, w, 1, 9).iter().map(|&v| v as f32 / 40.0 - 1.5).collect();
    let kern: Vec<f32> = noise_image(c * 9, 1, 1, 10).iter().map(|&v| v as f32 / 50.0 - 1.0).collect();
    let dev = candle_core::Device::Cpu;
    let xt = candle_core::Tensor::from_vec(x.clone(), (n, c, h, w), &dev).unwrap();
    let gt = candle_core::Tensor::from_vec(g.clone(), (n, c, h, w), &dev).unwrap();
    let kv = candle_core::Var::from_tensor(&candle_core::Tensor::from_vec(kern, (c, 1, 3, 3), &dev).unwrap()).unwrap();
    // d/dk sum(depthwise(x, k) * g) is the weight gradient for output gradient g.
    let loss = (depthwise3x3(&xt, kv.as_tensor()).unwrap() * &gt).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let ours = grads.get(kv.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let host = k::depthwise3x3_wgrad(&x, &g, dims);
    assert_eq!(ours.len(), host.len());
    let scale = ours.iter().fold(1f32, |m, v| m.max(v.abs()));
    let max = ours.iter().zip(&host).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(max <= 1e-5 * scale, "max |diff| {max} (largest value {scale})");
    assert!(host.iter().any(|v| v.abs() > 1e-3), "the gradient is not trivially zero");
}
