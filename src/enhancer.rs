//! One frame in, the same frame enhanced out: the CPU path of the element and
//! the CLI. Down-scale, EFE, fused pass; buffers are kept across frames.

use std::time::{Duration, Instant};

use crate::efe_worker::EfeWorker;
use crate::error::{Error, Result};
use crate::frame::{FrameLayout, YuvLayout};
use crate::model::{EfeBuffers, FusedEfe, Sgz};
use crate::ops::fused::{FusedScratch, enhance_packed, enhance_packed_measured, measure_packed};
use crate::ops::resample::{downscale_packed, low_res_size};
use crate::ops::yuv::{YuvPlanes, YuvScratch, downscale_yuv, enhance_yuv, enhance_yuv_measured, measure_yuv};
use crate::temporal::TemporalFilter;
use crate::temporal::brightness::MEASURE_ROW_STEP;

/// Settings of an [`Enhancer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnhancerOptions {
    /// The EFE runs on a grid `s` times smaller than the frame (1..=64).
    pub scale_factor: usize,
    /// RIE curve steps (0..=64; the model was trained with 8).
    pub iterations: usize,
    /// Multiplies the factor map: 0 leaves the frame as it is, 1 is the model (0..=1).
    pub strength: f32,
    /// Worker threads; 0 uses every core (or `RAYON_NUM_THREADS`).
    pub threads: usize,
    /// Weight of the previous frames' factor map (0..1): 0 enhances every
    /// frame on its own, as the paper does; see [`crate::temporal`].
    pub temporal_smoothing: f32,
    /// Run the EFE every N frames (>= 1) and reuse its map in between.
    pub factor_interval: usize,
    /// Run each frame's EFE on a thread of its own after the frame's pass,
    /// while the caller fetches the next frame, and blend its map into the
    /// next frame's average: the map of frame t then averages frames up to
    /// t - 1. Applies with `temporal_smoothing > 0` and `factor_interval == 1`
    /// (see [`Self::overlaps_efe`]); a scene cut, the first frame and a
    /// size change still get their own map, computed in place.
    pub overlap_efe: bool,
}

impl Default for EnhancerOptions {
    fn default() -> Self {
        Self {
            scale_factor: 12,
            iterations: 8,
            strength: 1.0,
            threads: 0,
            temporal_smoothing: 0.0,
            factor_interval: 1,
            overlap_efe: false,
        }
    }
}

impl EnhancerOptions {
    /// Whether [`Self::overlap_efe`] is in effect: per-frame enhancement
    /// (smoothing 0) stays exactly the paper's, and with an interval the
    /// EFE is already off most frames.
    pub fn overlaps_efe(&self) -> bool {
        self.overlap_efe && self.temporal_smoothing > 0.0 && self.factor_interval == 1
    }

    pub fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.scale_factor) {
            return Err(Error::Options(format!("scale factor {} is outside 1..=64", self.scale_factor)));
        }
        if self.iterations > 64 {
            return Err(Error::Options(format!("iterations {} is outside 0..=64", self.iterations)));
        }
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::Options(format!("strength {} is outside 0..=1", self.strength)));
        }
        if !(0.0..=1.0).contains(&self.temporal_smoothing) {
            return Err(Error::Options(format!("temporal smoothing {} is outside 0..=1", self.temporal_smoothing)));
        }
        if !(1..=1000).contains(&self.factor_interval) {
            return Err(Error::Options(format!("factor interval {} is outside 1..=1000", self.factor_interval)));
        }
        Ok(())
    }
}

/// Wall time of each stage of the last frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimes {
    pub downscale: Duration,
    pub efe: Duration,
    pub fused: Duration,
}

/// Enhances frames in place on the CPU.
///
/// Sizes: any frame from 1x1 up. The EFE runs on a `ceil(H/s) x ceil(W/s)`
/// grid. When H and W are multiples of s this is exactly the authors'
/// pipeline (bilinear down-scale with `align_corners = false`, bilinear
/// up-scale with `align_corners = true`); for other sizes the same
/// conventions are applied with the true size ratios `H / ceil(H/s)` and
/// `(ceil(H/s) - 1) / (H - 1)`, so no pixel is cropped or lost.
pub struct Enhancer {
    options: EnhancerOptions,
    pool: rayon::ThreadPool,
    work: Work,
}

/// The model and the buffers reused from frame to frame.
struct Work {
    efe: FusedEfe,
    /// Started on the first frame that overlaps the EFE.
    worker: Option<EfeWorker>,
    low: Vec<f32>,
    activations: EfeBuffers,
    fused: FusedScratch,
    yuv: YuvScratch,
    temporal: TemporalFilter,
    times: StageTimes,
}

impl Enhancer {
    pub fn new(model: Sgz, options: EnhancerOptions) -> Result<Self> {
        options.validate()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.threads)
            .thread_name(|i| format!("lowlight-{i}"))
            .build()
            .map_err(|e| Error::Threads(e.to_string()))?;
        let work = Work { efe: model.efe().fused()?, worker: None, low: Vec::new(), activations: EfeBuffers::default(), fused: FusedScratch::default(), yuv: YuvScratch::default(), temporal: TemporalFilter::default(), times: StageTimes::default() };
        Ok(Self { options, pool, work })
    }

    pub fn options(&self) -> &EnhancerOptions {
        &self.options
    }

    /// Changes strength, iterations or scale factor; the thread count is fixed at creation.
    pub fn set_options(&mut self, options: EnhancerOptions) -> Result<()> {
        options.validate()?;
        if options.threads != self.options.threads {
            return Err(Error::Options("the thread count cannot change after creation".into()));
        }
        self.options = options;
        Ok(())
    }

    pub fn set_strength(&mut self, strength: f32) -> Result<()> {
        self.set_options(EnhancerOptions { strength, ..self.options })
    }

    /// Stage timings of the last enhanced frame.
    pub fn last_stage_times(&self) -> StageTimes {
        self.work.times
    }

    /// The low-res factor map `[3, h, w]` of a frame and its grid size.
    pub fn factor_map(&mut self, data: &[u8], layout: &FrameLayout) -> Result<(Vec<f32>, (usize, usize))> {
        layout.validate(data.len())?;
        let grid = low_res_size(layout.height, layout.width, self.options.scale_factor);
        let work = &mut self.work;
        self.pool.install(|| {
            work.low.resize(3 * grid.0 * grid.1, 0.0);
            downscale_packed(data, layout, grid.0, grid.1, &mut work.low);
            Ok::<_, Error>(work.efe.run(&work.low, grid, &mut work.activations)?.to_vec())
        })
        .map(|f| (f, grid))
    }

    /// Forgets the temporal state (call on seeks and flushes): the next
    /// frame is enhanced on its own.
    pub fn reset_temporal_state(&mut self) {
        self.work.temporal.reset();
    }

    /// Enhances a packed 8-bit frame in place. Alpha and padding bytes, and
    /// the bytes between rows, are left untouched.
    pub fn enhance(&mut self, data: &mut [u8], layout: &FrameLayout) -> Result<()> {
        layout.validate(data.len())?;
        let grid = low_res_size(layout.height, layout.width, self.options.scale_factor);
        let options = self.options;
        let work = &mut self.work;
        self.pool.install(|| {
            work.factor(grid, &options, |low| downscale_packed(data, layout, grid.0, grid.1, low))?;
            let t = Instant::now();
            let gain = work.steady_gain(&options, |factor, strength, scratch| {
                measure_packed(data, layout, factor, grid, options.iterations, strength, MEASURE_ROW_STEP, scratch.fused)
            });
            match gain {
                Some(gain) => enhance_packed_measured(data, layout, options.iterations, gain, &mut work.fused),
                None => {
                    let factor = work.temporal.factor();
                    enhance_packed(data, layout, factor, grid, options.iterations, options.strength, &mut work.fused)
                }
            }
            work.times.fused = t.elapsed();
            work.start_next_efe(grid, &options)
        })
    }

    /// Enhances a planar YUV frame (I420, NV12, Y444) in place, converting
    /// with the layout's matrix and range; `planes[2]` is unused for NV12.
    pub fn enhance_yuv(&mut self, planes: [&mut [u8]; 3], layout: &YuvLayout) -> Result<()> {
        layout.validate([planes[0].len(), planes[1].len(), planes[2].len()])?;
        let grid = low_res_size(layout.height, layout.width, self.options.scale_factor);
        let options = self.options;
        let work = &mut self.work;
        self.pool.install(|| {
            let view = YuvPlanes { planes: [&*planes[0], &*planes[1], &*planes[2]], layout };
            work.factor(grid, &options, |low| downscale_yuv(view, grid.0, grid.1, low))?;
            let t = Instant::now();
            let gain = work.steady_gain(&options, |factor, strength, scratch| {
                measure_yuv(view, factor, grid, options.iterations, strength, MEASURE_ROW_STEP, scratch.yuv)
            });
            match gain {
                Some(gain) => enhance_yuv_measured(planes, layout, options.iterations, gain, &mut work.yuv),
                None => {
                    let factor = work.temporal.factor();
                    enhance_yuv(planes, layout, factor, grid, options.iterations, options.strength, &mut work.yuv)
                }
            }
            work.times.fused = t.elapsed();
            work.start_next_efe(grid, &options)
        })
    }
}

/// The fused passes' scratch, lent to a brightness measurement.
struct PassScratch<'a> {
    fused: &'a mut FusedScratch,
    yuv: &'a mut YuvScratch,
}

impl Work {
    /// With temporal smoothing on, the gain on the options' strength that
    /// steadies the brightness (see [`crate::temporal::brightness`]), after
    /// `measure`: it gives the mean luma of the frame enhanced with the
    /// current factor map at a given strength, and leaves the factor rows it
    /// built in the scratch for the pass. `None` when nothing was measured.
    fn steady_gain(
        &mut self,
        options: &EnhancerOptions,
        measure: impl FnOnce(&[f32], f32, PassScratch<'_>) -> f32 + Send,
    ) -> Option<f32> {
        if options.temporal_smoothing <= 0.0 || options.strength <= 0.0 || options.iterations == 0 {
            return None;
        }
        let scratch = PassScratch { fused: &mut self.fused, yuv: &mut self.yuv };
        let curve = (options.iterations, options.strength);
        let (temporal, low) = (&self.temporal, &self.low);
        // The slope is serial and needs no measurement: beside it, the other
        // worker neither waits nor falls asleep.
        let (measured, slope) = rayon::join(
            || measure(temporal.factor(), options.strength, scratch),
            || temporal.brightness_slope(low, curve, options.temporal_smoothing),
        );
        Some(self.temporal.brightness_gain(measured, slope, curve, options.temporal_smoothing))
    }

    /// Down-scale (by `downscale` into the low-res buffer), then the EFE and
    /// the temporal filter; the map to apply is left in `self.temporal`.
    fn factor(
        &mut self,
        grid: (usize, usize),
        options: &EnhancerOptions,
        downscale: impl FnOnce(&mut [f32]),
    ) -> Result<()> {
        let t0 = Instant::now();
        self.low.resize(3 * grid.0 * grid.1, 0.0);
        downscale(&mut self.low);
        let t1 = Instant::now();
        let cut = self.temporal.is_scene_cut(&self.low, grid);
        if let Some(worker) = self.worker.as_mut() {
            worker.frame_arrived();
        }
        // The previous frame's EFE, when one was prepared; taken (and waited
        // for) even when it is not used, so that no stale map is left.
        let previous = match self.worker.as_mut().and_then(EfeWorker::take) {
            Some(job) => Some(job?),
            None => None,
        };
        if let Some(job) = previous.filter(|job| options.overlaps_efe() && !cut && job.grid == grid) {
            self.temporal.update(grid, &job.factor, options.temporal_smoothing, false);
            self.worker.as_mut().expect("it ran the job").recycle(job);
        } else if self.temporal.needs_efe(cut, options.factor_interval) {
            let factor = self.efe.run(&self.low, grid, &mut self.activations)?;
            self.temporal.update(grid, factor, options.temporal_smoothing, cut);
        } else {
            self.temporal.skip(grid);
        }
        self.times.downscale = t1 - t0;
        self.times.efe = t1.elapsed();
        Ok(())
    }

    /// With the EFE overlapped, prepares the next frame's map from this
    /// frame's low-res input (on the worker, or here: `EfeWorker::prepare_next`).
    fn start_next_efe(&mut self, grid: (usize, usize), options: &EnhancerOptions) -> Result<()> {
        if !options.overlaps_efe() {
            return Ok(());
        }
        if self.worker.is_none() {
            self.worker = Some(EfeWorker::new(self.efe.clone())?);
        }
        let worker = self.worker.as_mut().expect("just made");
        worker.prepare_next(&self.efe, &mut self.activations, &mut self.low, grid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::efe_worker::Placement;
    use crate::frame::PixelFormat;
    use crate::{EfeWeights, YuvFormat, YuvMatrix, YuvRange};

    const SIZE: (usize, usize) = (120, 84);

    fn model() -> Sgz {
        Sgz::from_weights(&EfeWeights::random(5, 1.0), &candle_core::Device::Cpu).unwrap()
    }

    fn layout() -> FrameLayout {
        FrameLayout::packed(SIZE.0, SIZE.1, PixelFormat::Rgb)
    }

    /// Dark noise times `gain`: frames of one scene for the cut detector.
    fn frame(seed: u32, gain: f32) -> Vec<u8> {
        let mut s = seed.wrapping_mul(2654435761) | 1;
        (0..3 * SIZE.0 * SIZE.1)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                ((20 + s % 40) as f32 * gain) as u8
            })
            .collect()
    }

    /// The temporal filter's blend.
    fn blend(state: &[f32], factor: &[f32], keep: f32) -> Vec<f32> {
        state.iter().zip(factor).map(|(&s, &f)| keep * s + (1.0 - keep) * f).collect()
    }

    fn enhancer(overlap_efe: bool) -> Enhancer {
        let options = EnhancerOptions { temporal_smoothing: 0.6, overlap_efe, ..Default::default() };
        Enhancer::new(model(), options).unwrap()
    }

    /// An overlapping enhancer whose next map is always prepared `placement`.
    fn overlapping(placement: Placement) -> Enhancer {
        let mut e = enhancer(true);
        let mut worker = EfeWorker::new(e.work.efe.clone()).unwrap();
        worker.placement = placement;
        e.work.worker = Some(worker);
        e
    }

    const PLACEMENTS: [Placement; 2] = [Placement::InPlace, Placement::Background];

    /// The map the frame's pass used.
    fn map_after(e: &mut Enhancer, frame: &[u8]) -> Vec<f32> {
        e.enhance(&mut frame.to_vec(), &layout()).unwrap();
        e.work.temporal.factor().to_vec()
    }

    #[test]
    fn an_overlapped_efe_blends_the_previous_frames_map() {
        let (a, b, c) = (frame(1, 1.0), frame(2, 1.2), frame(3, 1.1));
        let efe = |f: &[u8]| enhancer(false).factor_map(f, &layout()).unwrap().0;
        let (ea, eb) = (efe(&a), efe(&b));
        assert!(ea != eb, "the frames have different maps");

        for placement in PLACEMENTS {
            let mut overlapped = overlapping(placement);
            assert!(map_after(&mut overlapped, &a) == ea, "the first frame gets its own map");
            let after_b = map_after(&mut overlapped, &b);
            assert!(after_b == blend(&ea, &ea, 0.6), "{placement:?}: frame B gets the average with A's map");
            assert!(map_after(&mut overlapped, &c) == blend(&after_b, &eb, 0.6), "{placement:?}: frame C gets B's map");
        }

        let mut in_place = enhancer(false);
        map_after(&mut in_place, &a);
        assert!(map_after(&mut in_place, &b) == blend(&ea, &eb, 0.6), "without overlap B gets its own map");
    }

    #[test]
    fn cuts_resets_and_size_changes_get_their_own_map() {
        let (a, b) = (frame(1, 1.0), frame(2, 1.2));
        let bright = frame(4, 4.0);
        let efe = |f: &[u8], l: &FrameLayout| enhancer(false).factor_map(f, l).unwrap().0;
        for placement in PLACEMENTS {
            let mut e = overlapping(placement);
            map_after(&mut e, &a);
            assert!(map_after(&mut e, &bright) == efe(&bright, &layout()), "{placement:?}: a scene cut");
            map_after(&mut e, &a);
            e.reset_temporal_state();
            assert!(map_after(&mut e, &b) == efe(&b, &layout()), "{placement:?}: after a reset");
            let small = FrameLayout::packed(60, 84, PixelFormat::Rgb);
            let half = &b[..3 * 60 * 84];
            e.enhance(&mut half.to_vec(), &small).unwrap();
            assert!(e.work.temporal.factor() == efe(half, &small), "{placement:?}: a new size");
        }
    }

    #[test]
    fn overlap_applies_only_with_smoothing_and_every_frame() {
        let on = EnhancerOptions { temporal_smoothing: 0.7, overlap_efe: true, ..Default::default() };
        assert!(on.overlaps_efe());
        assert!(!EnhancerOptions { temporal_smoothing: 0.0, ..on }.overlaps_efe());
        assert!(!EnhancerOptions { factor_interval: 2, ..on }.overlaps_efe());
        let (a, b) = (frame(1, 1.0), frame(2, 1.2));
        let mut per_frame = Enhancer::new(model(), EnhancerOptions { temporal_smoothing: 0.0, ..on }).unwrap();
        let mut reference = Enhancer::new(model(), EnhancerOptions { temporal_smoothing: 0.0, ..Default::default() }).unwrap();
        for f in [&a, &b, &a] {
            let (mut x, mut y) = (f.clone(), f.clone());
            per_frame.enhance(&mut x, &layout()).unwrap();
            reference.enhance(&mut y, &layout()).unwrap();
            assert!(x == y, "smoothing 0 stays per frame");
        }
    }

    #[test]
    fn a_still_scene_is_enhanced_as_without_overlap() {
        // The same frame again and again: the previous frame's map is this one's.
        let (w, h) = SIZE;
        let yuv = YuvLayout::packed(w, h, YuvFormat::Nv12, YuvMatrix::Bt709, YuvRange::Limited);
        let y0: Vec<u8> = frame(7, 1.0)[..w * h].to_vec();
        let uv0: Vec<u8> = (0..w * h / 2).map(|i| (118 + i % 21) as u8).collect();
        let (mut overlapped, mut in_place) = (overlapping(Placement::Background), enhancer(false));
        for i in 0..4 {
            let (mut y1, mut uv1, mut y2, mut uv2) = (y0.clone(), uv0.clone(), y0.clone(), uv0.clone());
            overlapped.enhance_yuv([&mut y1, &mut uv1, &mut []], &yuv).unwrap();
            in_place.enhance_yuv([&mut y2, &mut uv2, &mut []], &yuv).unwrap();
            assert!(y1 == y2 && uv1 == uv2, "frame {i}");
        }
    }
}
