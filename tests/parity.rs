//! Numerical parity with the authors' code (`../shared/reference/sgz`).

mod common;

use candle_core::{DType, Device, IndexOp, Tensor};
use common::{assert_u8_close, load_case, max_abs_diff, reference_dir};
use lowlight::{Enhancer, EnhancerOptions, FrameLayout, PixelFormat, Sgz};

const TOL: f32 = 2e-5;

fn model() -> Option<Sgz> {
    Some(Sgz::load(reference_dir()?.join("weights.safetensors")).expect("reference weights load"))
}

fn check(name: &str, ours: &Tensor, reference: &Tensor) {
    let d = max_abs_diff(ours, reference);
    eprintln!("{name}: max |diff| {d:.3e}");
    assert!(d <= TOL, "{name}: max |diff| {d} > {TOL}");
}

/// The first `h` rows and `w` columns of an HWC u8 image, packed RGB.
fn crop_u8(image: &Tensor, h: usize, w: usize) -> Vec<u8> {
    image.i((..h, ..w, ..)).unwrap().flatten_all().unwrap().to_vec1::<u8>().unwrap()
}

fn enhance_u8(pixels: &mut [u8], h: usize, w: usize, scale_factor: usize) -> Enhancer {
    let mut e = Enhancer::new(model().unwrap(), EnhancerOptions { scale_factor, ..Default::default() }).unwrap();
    e.enhance(pixels, &FrameLayout::packed(w, h, PixelFormat::Rgb)).unwrap();
    e
}

#[test]
fn layer_intermediates_match() {
    let (Some(m), Some(case), Some(inter)) =
        (model(), load_case("case_rand_64x48_s1.safetensors"), load_case("case_rand_64x48_s1_intermediates.safetensors"))
    else {
        return;
    };
    let (r, pre) = m.efe().forward_with_intermediates(&case["input"]).unwrap();
    for (i, p) in pre.iter().enumerate() {
        check(&format!("e_conv{}_out", i + 1), p, &inter[&format!("e_conv{}_out", i + 1)]);
    }
    check("factor", &r, &case["factor"]);
    let out = m.forward(&case["input"], 1, 8).unwrap();
    check("enhanced", &out.enhanced, &case["enhanced"]);
}

#[test]
fn scaled_cases_match_through_tensor_path_and_fused_path() {
    for name in ["case_real_120x90_s12", "case_real_37x29_s12", "case_real_50x20_s12"] {
        let (Some(m), Some(case)) = (model(), load_case(&format!("{name}.safetensors"))) else { return };
        let out = m.forward(&case["input"], 12, 8).unwrap();
        check(&format!("{name} input_down"), &out.input_down, &case["input_down"]);
        check(&format!("{name} factor_low"), &out.factor_low, &case["factor_low"]);
        check(&format!("{name} factor"), &out.factor, &case["factor"]);
        check(&format!("{name} enhanced"), &out.enhanced, &case["enhanced"]);

        let (_, _, h, w) = case["input"].dims4().unwrap();
        let mut pixels = crop_u8(&case["image_u8"], h, w);
        let mut e = enhance_u8(&mut pixels, h, w, 12);
        let reference = case["enhanced_u8"].flatten_all().unwrap().to_vec1::<u8>().unwrap();
        assert_u8_close(&pixels, &reference, &format!("{name} enhanced_u8 (fused)"));

        // The fused path's low-res factor map equals the reference too.
        let mut original = crop_u8(&case["image_u8"], h, w);
        let (factor, (fh, fw)) = e.factor_map(&mut original, &FrameLayout::packed(w, h, PixelFormat::Rgb)).unwrap();
        let factor = Tensor::from_vec(factor, (1, 3, fh, fw), &Device::Cpu).unwrap();
        check(&format!("{name} factor_low (frame path)"), &factor, &case["factor_low"]);
    }
}

#[test]
fn unscaled_real_case_matches() {
    let (Some(m), Some(case)) = (model(), load_case("case_real_37x29_s1.safetensors")) else { return };
    let out = m.forward(&case["input"], 1, 8).unwrap();
    check("factor", &out.factor, &case["factor"]);
    check("enhanced", &out.enhanced, &case["enhanced"]);
    let input = (case["image_u8"].to_dtype(DType::F32).unwrap().permute((2, 0, 1)).unwrap() / 255.0).unwrap();
    check("input normalisation", &input.unsqueeze(0).unwrap(), &case["input"]);
    let (h, w) = (29, 37);
    let mut pixels = crop_u8(&case["image_u8"], h, w);
    enhance_u8(&mut pixels, h, w, 1);
    let reference = case["enhanced_u8"].flatten_all().unwrap().to_vec1::<u8>().unwrap();
    assert_u8_close(&pixels, &reference, "37x29 s1 enhanced_u8 (fused)");
}

#[test]
fn full_frame_600x396_matches_through_fused_path() {
    let Some(case) = load_case("case_real_600x396_s12_u8.safetensors") else { return };
    let (h, w) = (396, 600);
    let mut pixels = crop_u8(&case["image_u8"], h, w);
    let original = pixels.clone();
    let mut e = enhance_u8(&mut pixels, h, w, 12);
    let reference = case["enhanced_u8"].flatten_all().unwrap().to_vec1::<u8>().unwrap();
    assert_u8_close(&pixels, &reference, "600x396 enhanced_u8 (fused)");
    let (factor, (fh, fw)) = e.factor_map(&original, &FrameLayout::packed(w, h, PixelFormat::Rgb)).unwrap();
    assert_eq!((fh, fw), (33, 50));
    let factor = Tensor::from_vec(factor, (1, 3, fh, fw), &Device::Cpu).unwrap();
    check("600x396 factor_low", &factor, &case["factor_low"]);
}
