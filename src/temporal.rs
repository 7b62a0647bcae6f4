//! Temporal stability of the factor map for video.
//!
//! Enhancing each frame on its own (as the authors do) makes brightness and
//! colour pump: the factor map reacts to every change of the dark input.
//! The low-res factor map is smoothed with an exponential moving average,
//! reset at scene cuts (detected from the low-res input) and at size
//! changes. Optionally the EFE runs only every N frames and the map is reused
//! in between.

/// Relative mean change of the low-res input above which a frame starts a new scene.
pub const SCENE_CUT_THRESHOLD: f32 = 0.35;

/// The smoothed factor map and what is needed to update it.
#[derive(Debug, Default)]
pub struct TemporalFilter {
    grid: (usize, usize),
    prev_input: Vec<f32>,
    state: Vec<f32>,
    frames_since_efe: usize,
    valid: bool,
}

impl TemporalFilter {
    /// Forgets the past (seek, flush, new stream).
    pub fn reset(&mut self) {
        self.valid = false;
    }

    /// Whether `input` (the low-res frame) starts a new scene: there is no
    /// state yet, the grid changed, or the mean absolute change relative to
    /// the brightness exceeds [`SCENE_CUT_THRESHOLD`].
    pub fn is_scene_cut(&self, input: &[f32], grid: (usize, usize)) -> bool {
        if !self.valid || grid != self.grid || input.len() != self.prev_input.len() {
            return true;
        }
        let n = input.len().max(1) as f32;
        let diff = input.iter().zip(&self.prev_input).map(|(a, b)| (a - b).abs()).sum::<f32>() / n;
        let mean_now = input.iter().sum::<f32>() / n;
        let mean_before = self.prev_input.iter().sum::<f32>() / n;
        diff / mean_now.max(mean_before).max(0.02) > SCENE_CUT_THRESHOLD
    }

    /// Whether the EFE must run for this frame with `interval` (run every N frames).
    pub fn needs_efe(&self, cut: bool, interval: usize) -> bool {
        cut || self.frames_since_efe + 1 >= interval.max(1)
    }

    /// Takes a new EFE output: `state = smoothing * state + (1 - smoothing) * factor`,
    /// or `state = factor` at a cut.
    pub fn update(&mut self, input: &[f32], grid: (usize, usize), factor: &[f32], smoothing: f32, cut: bool) {
        if cut || !self.valid {
            self.state.clear();
            self.state.extend_from_slice(factor);
        } else {
            let keep = smoothing.clamp(0.0, 1.0);
            self.state.iter_mut().zip(factor).for_each(|(s, &f)| *s = keep * *s + (1.0 - keep) * f);
        }
        self.remember(input, grid);
        self.frames_since_efe = 0;
    }

    /// A frame that reuses the last factor map (no EFE run).
    pub fn skip(&mut self, input: &[f32], grid: (usize, usize)) {
        self.remember(input, grid);
        self.frames_since_efe += 1;
    }

    fn remember(&mut self, input: &[f32], grid: (usize, usize)) {
        self.prev_input.clear();
        self.prev_input.extend_from_slice(input);
        self.grid = grid;
        self.valid = true;
    }

    /// The factor map to apply to the current frame.
    pub fn factor(&self) -> &[f32] {
        &self.state
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
        t.update(&dark, grid, &[0.0; 6], 0.75, true);
        let similar = [0.11f32; 6];
        assert!(!t.is_scene_cut(&similar, grid));
        t.update(&similar, grid, &[1.0; 6], 0.75, false);
        assert_eq!(t.factor(), &[0.25; 6]);
        let bright = [0.6f32; 6];
        assert!(t.is_scene_cut(&bright, grid));
        assert!(t.is_scene_cut(&similar, (2, 1)), "a new grid is a new scene");
        t.reset();
        assert!(t.is_scene_cut(&similar, grid));
    }

    #[test]
    fn interval_counts_frames() {
        let mut t = TemporalFilter::default();
        let input = [0.2f32; 3];
        t.update(&input, (1, 1), &[0.5; 3], 0.0, true);
        assert!(!t.needs_efe(false, 3));
        t.skip(&input, (1, 1));
        assert!(!t.needs_efe(false, 3));
        t.skip(&input, (1, 1));
        assert!(t.needs_efe(false, 3));
        assert!(t.needs_efe(true, 3), "a cut always runs the EFE");
        assert!(t.needs_efe(false, 1));
    }
}
