//! Temporal stability of the factor map for video.
//!
//! Enhancing each frame on its own (as the authors do) makes brightness and
//! colour pump: the factor map reacts to every change of the dark input.
//! The low-res factor map is smoothed with an exponential moving average,
//! reset at scene cuts (detected from the low-res input) and at size
//! changes. Optionally the EFE runs only every N frames and the map is reused
//! in between. The frame's overall brightness is then steadied by
//! [`brightness::BrightnessLock`] with the same smoothing.

pub mod brightness;

use brightness::BrightnessLock;

/// Relative mean change of the low-res input above which a frame starts a new scene.
pub const SCENE_CUT_THRESHOLD: f32 = 0.35;

/// Scene cuts compare the means of square cells of this many low-res pixels
/// a side, not single pixels: dark footage is noisy, and per-pixel sensor
/// noise alone changes a dark low-res pixel by a third of its value from
/// frame to frame, which would make every frame a "cut" and switch the
/// smoothing off. A cell averages 64 pixels' noise away; a new scene still
/// changes the cells.
pub const SCENE_CUT_CELL: usize = 8;

/// The smoothed factor map and what is needed to update it.
#[derive(Debug, Default)]
pub struct TemporalFilter {
    grid: (usize, usize),
    /// Cell means of the previous low-res input (see [`SCENE_CUT_CELL`]).
    prev_cells: Vec<f32>,
    cells: Vec<f32>,
    state: Vec<f32>,
    brightness: BrightnessLock,
    /// Whether the last frame given to [`Self::is_scene_cut`] was a cut.
    cut: bool,
    /// The curve `(iterations, strength)` the brightness lock last saw.
    curve: (usize, f32),
    frames_since_efe: usize,
    valid: bool,
}

impl TemporalFilter {
    /// Forgets the past (seek, flush, new stream).
    pub fn reset(&mut self) {
        self.valid = false;
        self.brightness.reset();
    }

    /// Whether `input` (the low-res frame `[3, h, w]`) starts a new scene:
    /// there is no state yet, the grid changed, or the mean absolute change
    /// of its cell means, relative to the brightness, exceeds
    /// [`SCENE_CUT_THRESHOLD`]. Remembers the cell means for the next frame.
    pub fn is_scene_cut(&mut self, input: &[f32], grid: (usize, usize)) -> bool {
        cell_means(input, grid, &mut self.cells);
        self.cut = if !self.valid || grid != self.grid || self.cells.len() != self.prev_cells.len() {
            true
        } else {
            let n = self.cells.len().max(1) as f32;
            let diff = self.cells.iter().zip(&self.prev_cells).map(|(a, b)| (a - b).abs()).sum::<f32>() / n;
            let mean_now = self.cells.iter().sum::<f32>() / n;
            let mean_before = self.prev_cells.iter().sum::<f32>() / n;
            diff / mean_now.max(mean_before).max(0.02) > SCENE_CUT_THRESHOLD
        };
        self.cut
    }

    /// Whether the EFE must run for this frame with `interval` (run every N frames).
    pub fn needs_efe(&self, cut: bool, interval: usize) -> bool {
        cut || self.frames_since_efe + 1 >= interval.max(1)
    }

    /// Takes a new EFE output: `state = smoothing * state + (1 - smoothing) * factor`,
    /// or `state = factor` at a cut. Call after [`Self::is_scene_cut`] on the same frame.
    pub fn update(&mut self, grid: (usize, usize), factor: &[f32], smoothing: f32, cut: bool) {
        if cut || !self.valid {
            self.state.clear();
            self.state.extend_from_slice(factor);
        } else {
            let keep = smoothing.clamp(0.0, 1.0);
            self.state.iter_mut().zip(factor).for_each(|(s, &f)| *s = keep * *s + (1.0 - keep) * f);
        }
        self.remember(grid);
        self.frames_since_efe = 0;
    }

    /// A frame that reuses the last factor map (no EFE run). Call after
    /// [`Self::is_scene_cut`] on the same frame.
    pub fn skip(&mut self, grid: (usize, usize)) {
        self.remember(grid);
        self.frames_since_efe += 1;
    }

    fn remember(&mut self, grid: (usize, usize)) {
        std::mem::swap(&mut self.prev_cells, &mut self.cells);
        self.grid = grid;
        self.valid = true;
    }

    /// How the frame's mean luma moves with the gain on [`Self::factor`]
    /// (`brightness::relative_slope`), predicted from `input`, the same
    /// low-res input as for [`Self::is_scene_cut`], and `curve`, the
    /// `(iterations, strength)`. It does not need the measurement, so it
    /// can run beside it. Call after [`Self::update`] or [`Self::skip`].
    pub fn brightness_slope(&self, input: &[f32], curve: (usize, f32), smoothing: f32) -> f32 {
        if smoothing > 0.0 { brightness::relative_slope(input, &self.state, self.grid, curve) } else { 0.0 }
    }

    /// The gain on [`Self::factor`] that steadies the frame's brightness
    /// (see [`brightness`]): `measured` is the mean luma the frame gets
    /// with gain 1, `slope` from [`Self::brightness_slope`] with the same
    /// `curve`. A new curve (the user changed strength or iterations)
    /// restarts the lock like a cut: the picture follows the setting at once.
    pub fn brightness_gain(&mut self, measured: f32, slope: f32, curve: (usize, f32), smoothing: f32) -> f32 {
        let restart = self.cut || curve != self.curve;
        self.curve = curve;
        self.brightness.gain(measured, slope, smoothing, restart)
    }

    /// The factor map to apply to the current frame.
    pub fn factor(&self) -> &[f32] {
        &self.state
    }
}

/// Means over the three channels and over cells of [`SCENE_CUT_CELL`]
/// pixels a side (smaller at the right and bottom edges) of `[3, h, w]`.
fn cell_means(input: &[f32], (h, w): (usize, usize), out: &mut Vec<f32>) {
    let (ch, cw) = (h.div_ceil(SCENE_CUT_CELL), w.div_ceil(SCENE_CUT_CELL));
    out.clear();
    out.resize(ch * cw, 0.0);
    if input.len() != 3 * h * w || h * w == 0 {
        return;
    }
    for plane in input.chunks_exact(h * w) {
        for (y, row) in plane.chunks_exact(w).enumerate() {
            let cells = &mut out[(y / SCENE_CUT_CELL) * cw..][..cw];
            for (cell, part) in cells.iter_mut().zip(row.chunks(SCENE_CUT_CELL)) {
                *cell += part.iter().sum::<f32>();
            }
        }
    }
    for (i, cell) in out.iter_mut().enumerate() {
        let (cy, cx) = (i / cw, i % cw);
        let rows = SCENE_CUT_CELL.min(h - cy * SCENE_CUT_CELL);
        let cols = SCENE_CUT_CELL.min(w - cx * SCENE_CUT_CELL);
        *cell /= (3 * rows * cols) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_blends_and_cuts_reset() {
        let mut t = TemporalFilter::default();
        let grid = (1, 2);
        let dark = [0.1f32; 6];
        assert!(t.is_scene_cut(&dark, grid));
        t.update(grid, &[0.0; 6], 0.75, true);
        let similar = [0.11f32; 6];
        assert!(!t.is_scene_cut(&similar, grid));
        t.update(grid, &[1.0; 6], 0.75, false);
        assert_eq!(t.factor(), &[0.25; 6]);
        let bright = [0.6f32; 6];
        assert!(t.is_scene_cut(&bright, grid));
        assert!(t.is_scene_cut(&similar, (2, 1)), "a new grid is a new scene");
        t.reset();
        assert!(t.is_scene_cut(&similar, grid));
    }

    /// A dark 90x160 low-res frame (mean 0.1) with uniform noise of +-0.06
    /// per pixel, new each frame: per pixel that changes the picture by 40%
    /// of its brightness on average.
    fn noisy(seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2654435761) | 1;
        (0..3 * 90 * 160)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                0.1 + 0.12 * (s as f32 / u32::MAX as f32 - 0.5)
            })
            .collect()
    }

    #[test]
    fn sensor_noise_is_not_a_cut_but_a_new_layout_is() {
        let grid = (90, 160);
        let mut t = TemporalFilter::default();
        assert!(t.is_scene_cut(&noisy(1), grid));
        t.update(grid, &vec![0.0; 3 * 90 * 160], 0.7, true);
        for seed in 2..6 {
            assert!(!t.is_scene_cut(&noisy(seed), grid), "new noise, same scene (seed {seed})");
            t.update(grid, &vec![0.0; 3 * 90 * 160], 0.7, false);
        }
        // Same brightness, bright and dark halves swapped.
        let halves = |left: f32, right: f32| -> Vec<f32> {
            (0..3 * 90 * 160).map(|i| if i % 160 < 80 { left } else { right }).collect()
        };
        t.is_scene_cut(&halves(0.16, 0.04), grid);
        t.update(grid, &vec![0.0; 3 * 90 * 160], 0.7, false);
        assert!(t.is_scene_cut(&halves(0.04, 0.16), grid), "a new picture of the same brightness");
    }

    #[test]
    fn interval_counts_frames() {
        let mut t = TemporalFilter::default();
        t.update((1, 1), &[0.5; 3], 0.0, true);
        assert!(!t.needs_efe(false, 3));
        t.skip((1, 1));
        assert!(!t.needs_efe(false, 3));
        t.skip((1, 1));
        assert!(t.needs_efe(false, 3));
        assert!(t.needs_efe(true, 3), "a cut always runs the EFE");
        assert!(t.needs_efe(false, 1));
    }
}
