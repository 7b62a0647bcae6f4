//! The frame path: pixel formats, strides, odd and tiny sizes, options.

mod common;

use candle_core::{Device, Tensor};
use common::{assert_u8_close, noise_image, synthetic_model};
use lowlight::{Enhancer, EnhancerOptions, FrameError, FrameLayout, PixelFormat};

fn enhancer(scale_factor: usize) -> Enhancer {
    Enhancer::new(synthetic_model(42), EnhancerOptions { scale_factor, ..Default::default() }).unwrap()
}

fn enhance_rgb(rgb: &[u8], w: usize, h: usize, scale_factor: usize) -> Vec<u8> {
    let mut out = rgb.to_vec();
    enhancer(scale_factor).enhance(&mut out, &FrameLayout::packed(w, h, PixelFormat::Rgb)).unwrap();
    out
}

/// The tensor path (`Sgz::forward`), rounded as the frame path rounds.
fn tensor_path(rgb: &[u8], w: usize, h: usize, scale_factor: usize) -> Vec<u8> {
    let x = Tensor::from_vec(rgb.iter().map(|&v| v as f32 / 255.0).collect::<Vec<_>>(), (h, w, 3), &Device::Cpu)
        .unwrap()
        .permute((2, 0, 1))
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let out = synthetic_model(42).forward(&x, scale_factor, 8).unwrap().enhanced;
    let v = out.squeeze(0).unwrap().permute((1, 2, 0)).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
    v.iter().map(|x| (x.clamp(0.0, 1.0) * 255.0 + 0.5).floor() as u8).collect()
}

#[test]
fn every_format_equals_rgb_after_reordering_and_keeps_alpha() {
    let (w, h) = (37, 23);
    let rgb = noise_image(w, h, 3, 1);
    let expected = enhance_rgb(&rgb, w, h, 12);
    for format in PixelFormat::ALL {
        let bpp = format.bytes_per_pixel();
        let off = format.rgb_offsets();
        let mut frame = noise_image(w, h, bpp, 99); // alpha/padding bytes: random
        for p in 0..w * h {
            for c in 0..3 {
                frame[p * bpp + off[c]] = rgb[p * 3 + c];
            }
        }
        let before = frame.clone();
        enhancer(12).enhance(&mut frame, &FrameLayout::packed(w, h, format)).unwrap();
        for p in 0..w * h {
            for c in 0..3 {
                assert_eq!(frame[p * bpp + off[c]], expected[p * 3 + c], "{format} pixel {p} channel {c}");
            }
            for b in 0..bpp {
                if !off.contains(&b) {
                    assert_eq!(frame[p * bpp + b], before[p * bpp + b], "{format}: alpha/padding changed");
                }
            }
        }
    }
}

#[test]
fn padded_strides_give_the_same_pixels_and_keep_padding() {
    let (w, h) = (19, 11);
    for format in [PixelFormat::Rgb, PixelFormat::Bgrx] {
        let bpp = format.bytes_per_pixel();
        let packed = noise_image(w, h, bpp, 5);
        let mut expected = packed.clone();
        enhancer(4).enhance(&mut expected, &FrameLayout::packed(w, h, format)).unwrap();
        for pad in [1, 3, 64] {
            let stride = w * bpp + pad;
            let mut frame = vec![0xAB; stride * h];
            for y in 0..h {
                frame[y * stride..y * stride + w * bpp].copy_from_slice(&packed[y * w * bpp..(y + 1) * w * bpp]);
            }
            let layout = FrameLayout { width: w, height: h, stride, format };
            enhancer(4).enhance(&mut frame, &layout).unwrap();
            for y in 0..h {
                assert_eq!(&frame[y * stride..y * stride + w * bpp], &expected[y * w * bpp..(y + 1) * w * bpp]);
                assert!(frame[y * stride + w * bpp..(y + 1) * stride].iter().all(|&b| b == 0xAB), "padding written");
            }
            // The last row may end right after its pixels.
            let mut short = frame[..layout.min_buffer_len()].to_vec();
            enhancer(4).enhance(&mut short, &layout).unwrap();
        }
    }
}

#[test]
fn tiny_and_odd_sizes_match_the_tensor_path() {
    for &(w, h) in &[(1, 1), (1, 9), (9, 1), (2, 2), (13, 11), (25, 1), (1, 25), (641, 359)] {
        for s in [1, 4, 12] {
            let rgb = noise_image(w, h, 3, (w * 1000 + h) as u64);
            let fused = enhance_rgb(&rgb, w, h, s);
            assert_eq!(fused.len(), rgb.len());
            assert_u8_close(&fused, &tensor_path(&rgb, w, h, s), &format!("{w}x{h} s={s}"));
        }
    }
}

#[test]
fn strength_zero_is_identity_and_strength_scales_the_change() {
    let (w, h) = (48, 36);
    let rgb = noise_image(w, h, 3, 8);
    let mut e = enhancer(12);
    let layout = FrameLayout::packed(w, h, PixelFormat::Rgb);
    let change = |e: &mut Enhancer, s: f32| {
        e.set_strength(s).unwrap();
        let mut f = rgb.clone();
        e.enhance(&mut f, &layout).unwrap();
        (f.iter().zip(&rgb).map(|(&a, &b)| a.abs_diff(b) as u64).sum::<u64>(), f)
    };
    let (zero, frame) = change(&mut e, 0.0);
    assert_eq!(zero, 0);
    assert_eq!(frame, rgb);
    let (half, _) = change(&mut e, 0.5);
    let (full, _) = change(&mut e, 1.0);
    assert!(0 < half && half < full, "half {half}, full {full}");
    assert!(e.set_strength(1.5).is_err());
    assert!(e.set_strength(f32::NAN).is_err());
}

#[test]
fn bad_frames_are_errors() {
    let mut e = enhancer(12);
    let mut buf = vec![0u8; 100];
    let err = |e: &mut Enhancer, buf: &mut [u8], l: FrameLayout| match e.enhance(buf, &l) {
        Err(lowlight::Error::Frame(f)) => f,
        other => panic!("{l:?}: {other:?}"),
    };
    assert!(matches!(err(&mut e, &mut buf, FrameLayout::packed(0, 4, PixelFormat::Rgb)), FrameError::Empty { .. }));
    assert!(matches!(err(&mut e, &mut buf, FrameLayout::packed(4, 0, PixelFormat::Rgb)), FrameError::Empty { .. }));
    assert!(matches!(
        err(&mut e, &mut buf, FrameLayout::packed(10, 10, PixelFormat::Rgb)),
        FrameError::BufferTooSmall { .. }
    ));
    assert!(matches!(
        err(&mut e, &mut buf, FrameLayout { width: 4, height: 2, stride: 15, format: PixelFormat::Rgbx }),
        FrameError::StrideTooSmall { .. }
    ));
    assert_eq!(buf, vec![0u8; 100], "a rejected frame is not touched");
}

#[test]
fn options_are_validated() {
    for bad in [
        EnhancerOptions { scale_factor: 0, ..Default::default() },
        EnhancerOptions { scale_factor: 65, ..Default::default() },
        EnhancerOptions { iterations: 65, ..Default::default() },
        EnhancerOptions { strength: -0.1, ..Default::default() },
    ] {
        assert!(Enhancer::new(synthetic_model(1), bad).is_err(), "{bad:?}");
    }
}

#[test]
fn threads_option_bounds_the_pool_and_gives_the_same_result() {
    let (w, h) = (300, 200);
    let rgb = noise_image(w, h, 3, 3);
    let layout = FrameLayout::packed(w, h, PixelFormat::Rgb);
    let run = |threads| {
        let mut e = Enhancer::new(synthetic_model(42), EnhancerOptions { threads, ..Default::default() }).unwrap();
        let mut f = rgb.clone();
        e.enhance(&mut f, &layout).unwrap();
        f
    };
    let one = run(1);
    assert_u8_close(&run(2), &one, "2 threads vs 1");
}
