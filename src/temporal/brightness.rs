//! Steady overall brightness (deflicker) for video.
//!
//! Smoothing the factor map steadies the local enhancement, but the frame's
//! overall brightness still moves with everything that changes from frame
//! to frame in dark footage: sensor noise, compression, a pattern moving
//! across regions the curve lifts differently. The curve lifts dark pixels
//! almost linearly, so these changes come out larger, relative to the
//! brightness, than through a fixed gamma curve.
//!
//! Like a camera's auto-exposure (or ffmpeg's `deflicker`), the
//! [`BrightnessLock`] lets the brightness follow the scene through a
//! moving average of its level and trend. The fused pass is first run on a sample of
//! the frame's rows (every [`MEASURE_ROW_STEP`]-th, into copies) to measure
//! the mean luma the frame would get; the whole factor map is then scaled
//! by the gain that gives the averaged brightness. The map's shape (local
//! contrast, colour) is untouched, and a scene cut resets the average.
//!
//! The brightness must be measured on the frame itself: the low-res input
//! of the EFE (bilinear samples, 4 of every 144 pixels at s = 12) is far
//! noisier than the changes to be smoothed, and a lock driven by it makes
//! the flicker worse. The low-res input only gives the sensitivity of the
//! brightness to the gain, which changes slowly.

/// Rows of the frame the brightness measurement samples: one in this many.
pub const MEASURE_ROW_STEP: usize = 4;

/// The gain on the factor map stays within this range: a larger change of
/// brightness that is not a cut (a light coming on) is followed, not held.
pub const GAIN_RANGE: (f32, f32) = (0.75, 1.33);

/// The average follows the brightness's trend as well as its level (a
/// damped Holt filter): a plain moving average trails a steady change
/// (a pan towards the lights) by `smoothing / (1 - smoothing)` frames'
/// worth of it, which at 0.7 left real night clips over 3% darker than
/// per-frame enhancement for 20 frames; the full trend overshoots when a
/// light stops coming on. Each frame keeps this much of the trend.
const TREND_DAMPING: f32 = 0.8;

/// BT.601 luma weights, as [`crate::quality`] measures brightness.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// At most about this many low-res pixels (on a regular lattice) give the
/// sensitivity of the brightness to the gain: it changes slowly, and all
/// 14,400 pixels of a 1080p grid cost a third of the lock's time.
const SAMPLES: usize = 1024;

/// The averaged brightness and its trend.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrightnessLock {
    target: f32,
    trend: f32,
    valid: bool,
}

impl BrightnessLock {
    pub fn reset(&mut self) {
        self.valid = false;
    }

    /// The gain on the factor map for a frame whose measured mean luma
    /// (with gain 1) is `measured`, where `relative_slope` is the relative
    /// change of that brightness per unit of gain. The target brightness is
    /// the moving average (weight `smoothing` on the past, following the
    /// trend, see [`TREND_DAMPING`]) of the measured ones; at a cut, or
    /// with `smoothing` 0, it is the frame's own and the gain is 1.
    pub fn gain(&mut self, measured: f32, relative_slope: f32, smoothing: f32, cut: bool) -> f32 {
        if smoothing <= 0.0 || !measured.is_finite() || measured <= 0.0 {
            self.valid = false;
            return 1.0;
        }
        if cut || !self.valid {
            self.target = measured;
            self.trend = 0.0;
        } else {
            let keep = smoothing.min(1.0);
            let before = self.target;
            self.target = keep * (self.target + TREND_DAMPING * self.trend) + (1.0 - keep) * measured;
            self.trend = keep * TREND_DAMPING * self.trend + (1.0 - keep) * (self.target - before);
        }
        self.valid = true;
        if relative_slope > 1e-3 {
            (1.0 + (self.target / measured - 1.0) / relative_slope).clamp(GAIN_RANGE.0, GAIN_RANGE.1)
        } else {
            1.0
        }
    }
}

/// The relative change of the mean luma per unit of gain on the factor map
/// (`d ln(luma) / d gain` at gain 1), predicted from the low-res input and
/// factor map (`[3, h, w]` each) through the curve of `(iterations,
/// strength)`. 0 for an empty or mismatched map.
pub fn relative_slope(input: &[f32], factor: &[f32], (h, w): (usize, usize), (iterations, strength): (usize, f32)) -> f32 {
    let plane = h * w;
    if plane == 0 || input.len() != 3 * plane || factor.len() != 3 * plane {
        return 0.0;
    }
    let step = ((plane as f64 / SAMPLES as f64).sqrt().ceil() as usize).max(1);
    let (mut sum, mut dsum) = (0.0f64, 0.0f64);
    for y in (0..h).step_by(step) {
        for x in (0..w).step_by(step) {
            let i = y * w + x;
            for (c, weight) in LUMA.iter().enumerate() {
                let r = strength * factor[c * plane + i];
                // Forward-mode derivative of the curve steps in the gain k at k = 1.
                let (mut v, mut dv) = (input[c * plane + i], 0.0f32);
                for _ in 0..iterations {
                    let q = v * v - v;
                    dv += r * q + r * (2.0 * v - 1.0) * dv;
                    v += r * q;
                }
                sum += (weight * v) as f64;
                dsum += (weight * dv) as f64;
            }
        }
    }
    if sum > 0.0 { (dsum / sum) as f32 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mean luma after the curve with gain k, by brute force.
    fn luma(input: &[f32], factor: &[f32], k: f32) -> f32 {
        let plane = input.len() / 3;
        let mut sum = 0.0;
        for i in 0..plane {
            for c in 0..3 {
                let mut v = input[c * plane + i];
                for _ in 0..8 {
                    v += k * factor[c * plane + i] * (v * v - v);
                }
                sum += LUMA[c] * v;
            }
        }
        sum / plane as f32
    }

    #[test]
    fn the_slope_matches_a_difference() {
        // Fewer than SAMPLES pixels: every one is sampled.
        let grid = (24, 40);
        let input: Vec<f32> = (0..3 * 24 * 40).map(|i| 0.02 + 0.3 * ((i * 7919 % 101) as f32 / 100.0)).collect();
        let factor: Vec<f32> = (0..input.len()).map(|i| -0.3 - 0.5 * ((i % 13) as f32 / 13.0)).collect();
        let slope = relative_slope(&input, &factor, grid, (8, 1.0));
        let numeric = (luma(&input, &factor, 1.01) - luma(&input, &factor, 0.99)) / 0.02 / luma(&input, &factor, 1.0);
        assert!((slope - numeric).abs() < 0.01 * numeric, "{slope} vs {numeric}");
        assert!(slope > 0.0, "a stronger (more negative) factor brightens");
        assert_eq!(relative_slope(&input, &factor, grid, (8, 0.0)), 0.0, "no strength, no sensitivity");
    }

    #[test]
    fn the_target_is_a_moving_average_and_cuts_reset_it() {
        let mut lock = BrightnessLock::default();
        assert_eq!(lock.gain(0.30, 0.5, 0.7, true), 1.0, "the first frame is enhanced as it is");
        // 10% brighter: the target moves 30% of the way, to 0.309.
        let g = lock.gain(0.33, 0.5, 0.7, false);
        let expected = 1.0 + (0.309 / 0.33 - 1.0) / 0.5;
        assert!((g - expected).abs() < 1e-5, "{g} vs {expected}");
        // Held there, it converges.
        let mut last = g;
        for _ in 0..60 {
            last = lock.gain(0.33, 0.5, 0.7, false);
        }
        assert!((last - 1.0).abs() < 1e-4, "{last}");
        assert_eq!(lock.gain(0.05, 0.5, 0.7, true), 1.0, "a cut starts over");
    }

    #[test]
    fn no_smoothing_or_no_sensitivity_is_gain_one() {
        let mut lock = BrightnessLock::default();
        for m in [0.3, 0.5, 0.1] {
            assert_eq!(lock.gain(m, 0.5, 0.0, false), 1.0);
        }
        lock.gain(0.3, 0.0, 0.7, true);
        assert_eq!(lock.gain(0.5, 0.0, 0.7, false), 1.0, "a curve that does nothing has nothing to scale");
        assert_eq!(lock.gain(f32::NAN, 0.5, 0.7, false), 1.0);
    }

    #[test]
    fn the_gain_is_bounded() {
        let mut lock = BrightnessLock::default();
        lock.gain(0.05, 0.5, 0.9, true);
        // A light comes on without a detected cut: ten times brighter.
        assert_eq!(lock.gain(0.5, 0.5, 0.9, false), GAIN_RANGE.0);
        lock.gain(0.5, 0.5, 0.9, true);
        assert_eq!(lock.gain(0.05, 0.5, 0.9, false), GAIN_RANGE.1);
    }
}
