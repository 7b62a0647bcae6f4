//! `lowlight flicker`: how much enhanced video flickers, by
//! [`lowlight::quality`]: the mean frame-to-frame luma step of the enhanced
//! video relative to its brightness, over that of the input through a fixed
//! gamma curve of the same mean brightness (ratio <= 1: as stable as a
//! fixed curve).
//!
//! Two uses: an input and an enhanced file made from it ([`measure_pair`]),
//! or one input enhanced here with the core [`Enhancer`] at several
//! temporal settings ([`Sweep`]), each with its lag behind per-frame
//! enhancement.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};
use lowlight::quality::{FlickerReport, LumaHistogram, frame_histogram, frame_mean_luma, lag_frames};
use lowlight::{Enhancer, EnhancerOptions, FrameLayout, Sgz};

use crate::decode::for_each_frame;
use crate::nv12::Nv12Frame;

/// How far (relative to the brightness) a smoothed frame may be from the
/// per-frame one before it counts as lagging.
pub const LAG_TOLERANCE: f64 = 0.03;

/// One temporal setting of the enhancer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub temporal_smoothing: f32,
    pub factor_interval: usize,
}

impl Setting {
    /// The per-frame enhancement of the paper.
    pub const PER_FRAME: Setting = Setting { temporal_smoothing: 0.0, factor_interval: 1 };

    /// Every combination, interval-major, without repeats.
    pub fn grid(smoothing: &[f32], interval: &[usize]) -> Vec<Setting> {
        let mut v: Vec<Setting> = Vec::new();
        for &factor_interval in interval {
            for &temporal_smoothing in smoothing {
                let s = Setting { temporal_smoothing, factor_interval };
                if !v.contains(&s) {
                    v.push(s);
                }
            }
        }
        v
    }
}

/// One measured setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepRow {
    pub setting: Setting,
    pub report: FlickerReport,
    /// Longest run of frames more than [`LAG_TOLERANCE`] off the per-frame enhancement.
    pub lag_frames: usize,
}

/// Enhances each frame with one enhancer per setting (and a per-frame
/// reference) and keeps what the reports need: the input's luma histograms
/// and each enhanced frame's mean luma.
pub struct Sweep {
    runs: Vec<(Setting, Enhancer, Vec<f64>)>,
    /// Index of the per-frame run in `runs`.
    reference: usize,
    /// Whether the per-frame run was asked for (else it is not reported).
    report_reference: bool,
    input: Vec<LumaHistogram>,
    scratch: Vec<u8>,
    /// Enhance NV12 copies of the frames (the YUV path) instead of the RGBx frames.
    nv12: bool,
}

impl Sweep {
    pub fn new(model: &Sgz, base: EnhancerOptions, settings: &[Setting], nv12: bool) -> Result<Self> {
        if settings.is_empty() {
            bail!("no setting to measure");
        }
        let mut all = settings.to_vec();
        let report_reference = all.contains(&Setting::PER_FRAME);
        if !report_reference {
            all.push(Setting::PER_FRAME);
        }
        let reference = all.iter().position(|s| *s == Setting::PER_FRAME).unwrap_or(all.len() - 1);
        let runs = all
            .into_iter()
            .map(|s| {
                let options = EnhancerOptions {
                    temporal_smoothing: s.temporal_smoothing,
                    factor_interval: s.factor_interval,
                    ..base
                };
                Ok((s, Enhancer::new(model.clone(), options)?, Vec::new()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { runs, reference, report_reference, input: Vec::new(), scratch: Vec::new(), nv12 })
    }

    /// Measures one input frame.
    pub fn push(&mut self, frame: &[u8], layout: &FrameLayout) -> Result<()> {
        self.input.push(frame_histogram(frame, layout)?);
        if self.nv12 {
            let source = Nv12Frame::from_packed(frame, layout)?;
            for (_, enhancer, means) in &mut self.runs {
                let mut f = source.clone();
                enhancer.enhance_yuv([&mut f.y, &mut f.uv, &mut []], &f.layout)?;
                means.push(f.mean_luma());
            }
            return Ok(());
        }
        for (_, enhancer, means) in &mut self.runs {
            self.scratch.clear();
            self.scratch.extend_from_slice(frame);
            enhancer.enhance(&mut self.scratch, layout)?;
            means.push(frame_mean_luma(&self.scratch, layout)?);
        }
        Ok(())
    }

    /// One row per setting asked for, in order.
    pub fn finish(self) -> Vec<SweepRow> {
        let reference = self.runs[self.reference].2.clone();
        self.runs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.report_reference || *i != self.reference)
            .map(|(_, (setting, _, means))| SweepRow {
                setting: *setting,
                report: FlickerReport::new(&self.input, means),
                lag_frames: lag_frames(&reference, means, LAG_TOLERANCE),
            })
            .collect()
    }
}

/// Decodes `input` and measures every setting.
pub fn measure_sweep(
    input: &Path,
    model: &Sgz,
    base: EnhancerOptions,
    settings: &[Setting],
    nv12: bool,
) -> Result<Vec<SweepRow>> {
    let mut sweep = Sweep::new(model, base, settings, nv12)?;
    let frames = for_each_frame(input, |frame, layout| sweep.push(frame, layout))?;
    at_least_two(input, frames)?;
    Ok(sweep.finish())
}

/// Measures `enhanced` (any enhancer's output) against its source `input`;
/// both must have the same frames.
pub fn measure_pair(input: &Path, enhanced: &Path) -> Result<FlickerReport> {
    let mut histograms = Vec::new();
    for_each_frame(input, |frame, layout| {
        histograms.push(frame_histogram(frame, layout)?);
        Ok(())
    })?;
    let mut means = Vec::new();
    for_each_frame(enhanced, |frame, layout| {
        means.push(frame_mean_luma(frame, layout)?);
        Ok(())
    })?;
    at_least_two(input, histograms.len() as u64)?;
    if histograms.len() != means.len() {
        bail!(
            "{} has {} frames but {} has {}: not an enhanced version of it",
            input.display(),
            histograms.len(),
            enhanced.display(),
            means.len()
        );
    }
    Ok(FlickerReport::new(&histograms, &means))
}

/// Flicker is measured between frames: a still image or a one-frame video has none.
fn at_least_two(input: &Path, frames: u64) -> Result<()> {
    if frames < 2 {
        bail!("{}: {frames} frame; flicker needs a video of at least 2 frames", input.display());
    }
    Ok(())
}

fn header(out: &mut String, report: &FlickerReport) {
    let _ = writeln!(
        out,
        "frames {}, input mean luma {:.4}, input step {:.5}",
        report.frames, report.input_mean, report.input_step
    );
}

/// The table of a sweep: one line per setting.
pub fn sweep_table(rows: &[SweepRow]) -> String {
    let mut out = String::new();
    if let Some(first) = rows.first() {
        header(&mut out, &first.report);
    }
    let _ = writeln!(out, "smoothing  interval  mean_luma  enhanced_step  gamma_step  ratio  lag_frames");
    for r in rows {
        let _ = writeln!(
            out,
            "{:>9.2}  {:>8}  {:>9.4}  {:>13.5}  {:>10.5}  {:>5.3}  {:>10}",
            r.setting.temporal_smoothing,
            r.setting.factor_interval,
            r.report.enhanced_mean,
            r.report.enhanced_step,
            r.report.gamma_step,
            r.report.ratio(),
            r.lag_frames
        );
    }
    out
}

/// The table of one enhanced file.
pub fn pair_table(report: &FlickerReport) -> String {
    let mut out = String::new();
    header(&mut out, report);
    let _ = writeln!(out, "mean_luma  enhanced_step  gamma_step  gamma_exponent  ratio");
    let _ = writeln!(
        out,
        "{:>9.4}  {:>13.5}  {:>10.5}  {:>14.3}  {:>5.3}",
        report.enhanced_mean,
        report.enhanced_step,
        report.gamma_step,
        report.gamma_exponent,
        report.ratio()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_has_every_combination_once() {
        let g = Setting::grid(&[0.0, 0.5, 0.5], &[1, 2]);
        assert_eq!(g.len(), 4);
        assert_eq!(g[0], Setting::PER_FRAME);
        assert_eq!(g[3], Setting { temporal_smoothing: 0.5, factor_interval: 2 });
    }
}
