//! Video quality measures: flicker of an enhanced video against a fixed
//! tone curve of equal brightness.
//!
//! Brightening alone amplifies frame-to-frame changes (a fixed gamma curve
//! doubles or triples them on dark footage), so an enhanced video's flicker
//! is judged against the input passed through a fixed gamma curve whose
//! exponent makes its mean luma equal to the enhanced video's.

use crate::error::FrameError;
use crate::frame::FrameLayout;

/// A 256-bin histogram of one frame's 8-bit luma.
pub type LumaHistogram = [u64; 256];

/// BT.601 luma of 8-bit RGB, in code values.
pub fn luma(r: u8, g: u8, b: u8) -> f64 {
    0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64
}

/// Adds the luma of every pixel of a packed frame to a histogram.
pub fn add_to_histogram(hist: &mut LumaHistogram, pixels: &[u8], bytes_per_pixel: usize, rgb: [usize; 3]) {
    for p in pixels.chunks_exact(bytes_per_pixel) {
        let y = luma(p[rgb[0]], p[rgb[1]], p[rgb[2]]).round() as usize;
        hist[y.min(255)] += 1;
    }
}

/// Rows of pixel bytes of a checked packed frame (padding between rows skipped).
fn rows<'a>(data: &'a [u8], layout: &FrameLayout) -> Result<impl Iterator<Item = &'a [u8]> + use<'a>, FrameError> {
    layout.validate(data.len())?;
    let (stride, row) = (layout.stride, layout.row_bytes());
    Ok(data.chunks(stride).take(layout.height).map(move |r| &r[..row]))
}

/// The luma histogram of a packed frame (any row stride).
pub fn frame_histogram(data: &[u8], layout: &FrameLayout) -> Result<LumaHistogram, FrameError> {
    let mut hist = [0; 256];
    let (bpp, rgb) = (layout.format.bytes_per_pixel(), layout.format.rgb_offsets());
    for row in rows(data, layout)? {
        add_to_histogram(&mut hist, row, bpp, rgb);
    }
    Ok(hist)
}

/// The mean luma (0..1) of a packed frame (any row stride).
pub fn frame_mean_luma(data: &[u8], layout: &FrameLayout) -> Result<f64, FrameError> {
    let (bpp, [r, g, b]) = (layout.format.bytes_per_pixel(), layout.format.rgb_offsets());
    let sum: f64 = rows(data, layout)?.flat_map(|row| row.chunks_exact(bpp)).map(|p| luma(p[r], p[g], p[b])).sum();
    Ok(sum / (layout.width * layout.height) as f64 / 255.0)
}

/// Longest run of consecutive frames whose mean luma in `series` is off the
/// same frame's in `reference` by more than `tolerance` times the
/// reference's average: how long a smoothed video lags behind the per-frame
/// one (after a scene cut it did not detect, a light switched on). Series
/// of different lengths are compared over the shorter.
pub fn lag_frames(reference: &[f64], series: &[f64], tolerance: f64) -> usize {
    let n = reference.len().min(series.len());
    let average = reference[..n].iter().sum::<f64>() / n.max(1) as f64;
    let (mut longest, mut run) = (0, 0);
    for (r, s) in reference[..n].iter().zip(&series[..n]) {
        run = if (s - r).abs() > tolerance * average { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// Mean of a histogram in 0..1 after the tone curve `(v/255)^exponent`.
pub fn mean_after_gamma(hist: &LumaHistogram, exponent: f64) -> f64 {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return 0.0;
    }
    hist.iter().enumerate().map(|(v, &c)| c as f64 * (v as f64 / 255.0).powf(exponent)).sum::<f64>() / n as f64
}

/// Mean over consecutive frames of `|m[t] - m[t-1]|` relative to the video's
/// mean luma: how much the brightness moves per frame, as a fraction.
pub fn relative_luma_step(means: &[f64]) -> f64 {
    if means.len() < 2 {
        return 0.0;
    }
    let overall = means.iter().sum::<f64>() / means.len() as f64;
    if overall <= 0.0 {
        return 0.0;
    }
    let steps = means.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (means.len() - 1) as f64;
    steps / overall
}

/// The exponent of the fixed curve `(v/255)^exponent` that gives the input
/// frames (as histograms) the mean luma `target` (0..1), by bisection.
pub fn equal_brightness_exponent(input: &[LumaHistogram], target: f64) -> f64 {
    let mean = |e: f64| input.iter().map(|h| mean_after_gamma(h, e)).sum::<f64>() / input.len().max(1) as f64;
    // The mean falls as the exponent grows; search 1/50 .. 50 in log space.
    let (mut lo, mut hi) = ((0.02f64).ln(), (50.0f64).ln());
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mean(mid.exp()) > target { lo = mid } else { hi = mid }
    }
    (0.5 * (lo + hi)).exp()
}

/// The flicker report of an enhanced video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlickerReport {
    pub frames: usize,
    /// Mean luma (0..1) of the input and of the enhanced video.
    pub input_mean: f64,
    pub enhanced_mean: f64,
    /// Relative luma step of the input, the enhanced video and the input
    /// through the equal-brightness gamma curve.
    pub input_step: f64,
    pub enhanced_step: f64,
    pub gamma_step: f64,
    /// Exponent of that curve.
    pub gamma_exponent: f64,
}

impl FlickerReport {
    /// From the input frames' luma histograms and the enhanced frames' mean
    /// luma (0..1), in frame order. Series of different lengths are
    /// compared over the shorter.
    pub fn new(input: &[LumaHistogram], enhanced_means: &[f64]) -> Self {
        let frames = input.len().min(enhanced_means.len());
        let (input, enhanced_means) = (&input[..frames], &enhanced_means[..frames]);
        let input_means: Vec<f64> = input.iter().map(|h| mean_after_gamma(h, 1.0)).collect();
        let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let enhanced_mean = avg(enhanced_means);
        let gamma_exponent = equal_brightness_exponent(input, enhanced_mean);
        let gamma_means: Vec<f64> = input.iter().map(|h| mean_after_gamma(h, gamma_exponent)).collect();
        FlickerReport {
            frames,
            input_mean: avg(&input_means),
            enhanced_mean,
            input_step: relative_luma_step(&input_means),
            enhanced_step: relative_luma_step(enhanced_means),
            gamma_step: relative_luma_step(&gamma_means),
            gamma_exponent,
        }
    }

    /// Enhanced flicker over that of the equal-brightness fixed curve (<= 1 is as stable).
    pub fn ratio(&self) -> f64 {
        if self.gamma_step > 0.0 { self.enhanced_step / self.gamma_step } else { f64::INFINITY }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: usize, n: u64) -> LumaHistogram {
        let mut h = [0; 256];
        h[v] = n;
        h
    }

    #[test]
    fn steps_are_relative_to_the_mean() {
        assert_eq!(relative_luma_step(&[0.5, 0.5, 0.5]), 0.0);
        let s = relative_luma_step(&[0.2, 0.3, 0.2, 0.3]);
        assert!((s - 0.1 / 0.25).abs() < 1e-12);
    }

    #[test]
    fn exponent_matches_brightness() {
        let frames = [flat(20, 10), flat(30, 10)];
        let e = equal_brightness_exponent(&frames, 0.4);
        let mean = (mean_after_gamma(&frames[0], e) + mean_after_gamma(&frames[1], e)) / 2.0;
        assert!((mean - 0.4).abs() < 1e-9, "{mean}");
        assert!(e < 1.0, "brightening is an exponent below 1");
    }

    #[test]
    fn a_fixed_curve_measures_ratio_one() {
        // Enhanced frames that are exactly the gamma curve of the input.
        let frames: Vec<LumaHistogram> = [20, 26, 18, 30, 22].iter().map(|&v| flat(v, 100)).collect();
        let enhanced: Vec<f64> = frames.iter().map(|h| mean_after_gamma(h, 0.45)).collect();
        let r = FlickerReport::new(&frames, &enhanced);
        assert!((r.gamma_exponent - 0.45).abs() < 1e-6, "{}", r.gamma_exponent);
        assert!((r.ratio() - 1.0).abs() < 1e-6);
        // A pure power curve scales relative steps by its exponent.
        assert!((r.gamma_step - 0.45 * r.input_step).abs() < 0.05 * r.input_step);
    }

    #[test]
    fn frame_measures_skip_padding_and_alpha() {
        use crate::frame::PixelFormat;
        // 2x2 RGBx frame, stride 12 (4 padding bytes per row set to 255).
        let mut data = vec![255u8; 24];
        for (i, v) in [(0, 10u8), (1, 20), (2, 30), (3, 40)] {
            let at = (i / 2) * 12 + (i % 2) * 4;
            data[at..at + 3].copy_from_slice(&[v, v, v]);
        }
        let layout = FrameLayout { width: 2, height: 2, stride: 12, format: PixelFormat::Rgbx };
        let mean = frame_mean_luma(&data, &layout).unwrap();
        assert!((mean - 25.0 / 255.0).abs() < 1e-9, "{mean}");
        let hist = frame_histogram(&data, &layout).unwrap();
        assert_eq!((hist[10], hist[20], hist[30], hist[40], hist.iter().sum::<u64>()), (1, 1, 1, 1, 4));
        assert!(frame_mean_luma(&data[..20], &layout).is_ok(), "the last row needs no padding");
        assert!(frame_mean_luma(&data[..19], &layout).is_err(), "a short buffer is an error");
    }

    #[test]
    fn lag_is_the_longest_run_off_the_reference() {
        let reference = [0.5; 10];
        let mut smoothed = [0.5; 10];
        smoothed[2..6].copy_from_slice(&[0.3, 0.4, 0.45, 0.48]);
        smoothed[8] = 0.4;
        assert_eq!(lag_frames(&reference, &smoothed, 0.03), 4);
        assert_eq!(lag_frames(&reference, &reference, 0.03), 0);
        assert_eq!(lag_frames(&[], &[], 0.03), 0);
    }

    #[test]
    fn reports_of_unequal_series_use_the_shorter() {
        let frames: Vec<LumaHistogram> = [20, 26, 18].iter().map(|&v| flat(v, 100)).collect();
        let r = FlickerReport::new(&frames, &[0.3, 0.35]);
        assert_eq!(r.frames, 2);
    }
}
