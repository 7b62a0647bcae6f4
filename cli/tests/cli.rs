//! The `lowlight` command line on images, run as a user runs it.

mod common;

use candle_core::IndexOp;
use common::{assert_u8_close, load_case, lowlight, noise_image, p, reference_dir, stderr_line};

#[test]
fn enhance_reproduces_the_reference_and_keeps_odd_sizes() {
    let (Some(dir), Some(case)) = (reference_dir(), load_case("case_real_120x90_s12.safetensors")) else { return };
    let weights = dir.join("weights.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    let (h, w) = (84, 120);
    let pixels = case["image_u8"].i((..h, ..w, ..)).unwrap().flatten_all().unwrap().to_vec1::<u8>().unwrap();
    let input = tmp.path().join("x.png");
    image::RgbImage::from_raw(w as u32, h as u32, pixels).unwrap().save(&input).unwrap();
    let output = tmp.path().join("y.png");
    let out = lowlight(&["enhance", "--model", p(&weights), "--scale-factor", "12", p(&input), p(&output)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result = image::open(&output).unwrap().to_rgb8();
    let reference = case["enhanced_u8"].flatten_all().unwrap().to_vec1::<u8>().unwrap();
    assert_u8_close(result.as_raw(), &reference, "CLI round trip");

    let odd = tmp.path().join("odd.png");
    image::RgbImage::from_raw(641, 359, noise_image(641, 359, 3, 4)).unwrap().save(&odd).unwrap();
    for ext in ["png", "jpg", "bmp"] {
        let dst = tmp.path().join(format!("odd-out.{ext}"));
        let out = lowlight(&["enhance", "--model", p(&weights), p(&odd), p(&dst)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let img = image::open(&dst).unwrap();
        assert_eq!((img.width(), img.height()), (641, 359), "{ext}");
    }
}

#[test]
fn enhance_directories() {
    let Some(dir) = reference_dir() else { return };
    let weights = dir.join("weights.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir(&src).unwrap();
    for (i, name) in ["a.png", "b.jpg", "c.bmp"].iter().enumerate() {
        image::RgbImage::from_raw(30 + i as u32, 20, noise_image(30 + i, 20, 3, i as u64))
            .unwrap()
            .save(src.join(name))
            .unwrap();
    }
    std::fs::write(src.join("notes.txt"), "not an image").unwrap();
    let out = lowlight(&["enhance", "--model", p(&weights), p(&src), p(&dst)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut names: Vec<String> =
        std::fs::read_dir(&dst).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a.png", "b.jpg", "c.bmp"]);
    let (a, b) = (image::open(src.join("a.png")).unwrap().to_rgb8(), image::open(dst.join("a.png")).unwrap().to_rgb8());
    let mean = |i: &image::RgbImage| i.as_raw().iter().map(|&v| v as f64).sum::<f64>() / i.as_raw().len() as f64;
    assert!(mean(&b) > mean(&a) + 10.0, "enhanced images are brighter: {} vs {}", mean(&b), mean(&a));
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("x.png");
    image::RgbImage::from_raw(8, 8, noise_image(8, 8, 3, 1)).unwrap().save(&img).unwrap();
    let out_path = tmp.path().join("y.png");

    // Without --model the embedded default model is used.
    let out = lowlight(&["enhance", p(&img), p(&out_path)]);
    if lowlight::model::DEFAULT_MODEL.is_none() {
        assert!(!out.status.success());
        assert!(stderr_line(&out).contains("--model"));
    } else {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let enhanced = image::open(&out_path).unwrap().to_rgb8();
        let mean = |v: &[u8]| v.iter().map(|&b| b as f64).sum::<f64>() / v.len() as f64;
        let input = noise_image(8, 8, 3, 1);
        assert!(mean(enhanced.as_raw()) > mean(&input), "the default model did not brighten the image");
        std::fs::remove_file(&out_path).unwrap();
    }

    let missing = tmp.path().join("missing.safetensors");
    let out = lowlight(&["enhance", "--model", p(&missing), p(&img), p(&out_path)]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("missing.safetensors"));

    let corrupt = tmp.path().join("corrupt.safetensors");
    std::fs::write(&corrupt, b"definitely not weights").unwrap();
    let out = lowlight(&["enhance", "--model", p(&corrupt), p(&img), p(&out_path)]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("not a safetensors file"));

    let Some(dir) = reference_dir() else { return };
    let weights = dir.join("weights.safetensors");
    let not_image = tmp.path().join("fake.png");
    std::fs::write(&not_image, b"hello").unwrap();
    let out = lowlight(&["enhance", "--model", p(&weights), p(&not_image), p(&out_path)]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("fake.png"));

    let before = std::fs::read(&img).unwrap();
    let out = lowlight(&["enhance", "--model", p(&weights), p(&img), p(&img)]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("is the input"));
    assert_eq!(std::fs::read(&img).unwrap(), before, "input untouched");

    let out = lowlight(&["enhance", "--model", p(&weights), p(&img), p(&tmp.path().join("y.gif"))]);
    assert!(!out.status.success());
    stderr_line(&out);
    assert!(!out_path.exists(), "no output from failed runs");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");

    let out = lowlight(&["enhance", "--model", p(&weights), "--strength", "2", p(&img), p(&out_path)]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("strength"));
}

#[test]
fn sample_writes_a_dark_image() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("sample.png");
    let out = lowlight(&["sample", p(&path), "--width", "320", "--height", "180"]);
    assert!(out.status.success());
    let img = image::open(&path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (320, 180));
    let mean = img.as_raw().iter().map(|&v| v as f64).sum::<f64>() / img.as_raw().len() as f64;
    assert!(mean < 40.0, "the sample is dark: mean {mean}");
}
