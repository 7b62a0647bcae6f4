//! A synthetic dark, noisy test image.

/// A dark street at night: sky gradient, buildings with lit windows, a road,
/// street lights, all at a few percent of full scale with sensor noise.
pub fn sample_image(width: u32, height: u32) -> image::RgbImage {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let (w, h) = (width as f32, height as f32);
    image::RgbImage::from_fn(width, height, |x, y| {
        let (u, v) = (x as f32 / w, y as f32 / h);
        let mut c = [0.02 + 0.03 * (1.0 - v), 0.025 + 0.03 * (1.0 - v), 0.05 + 0.05 * (1.0 - v)];
        let building = ((u * 7.0).floor() * 0.37).fract() * 0.35 + 0.3;
        if v > 1.0 - building && v < 0.8 {
            c = [0.05, 0.045, 0.04];
            let (wx, wy) = ((u * 70.0).fract(), (v * 40.0).fract());
            let lit = (((u * 70.0).floor() * 12.9898 + (v * 40.0).floor() * 78.233).sin() * 43758.5).fract() > 0.6;
            if wx > 0.3 && wx < 0.7 && wy > 0.3 && wy < 0.7 && lit {
                c = [0.35, 0.28, 0.12];
            }
        }
        if v >= 0.8 {
            let lane = ((u - 0.5).abs() < 0.01 && (v * 20.0).fract() < 0.5) as u8 as f32;
            c = [0.04 + 0.2 * lane, 0.04 + 0.2 * lane, 0.045 + 0.15 * lane];
        }
        for lamp in [0.2f32, 0.5, 0.8] {
            let d = ((u - lamp) * w).hypot((v - 0.45) * h) / h;
            let glow = 0.25 * (-d * d * 200.0).exp();
            c[0] += glow;
            c[1] += glow * 0.8;
            c[2] += glow * 0.5;
        }
        image::Rgb(c.map(|v| ((v + 0.015 * noise()).clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}
