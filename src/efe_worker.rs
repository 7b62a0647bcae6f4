//! The EFE of one frame on its own thread while the caller goes on.
//!
//! With [`EnhancerOptions::overlap_efe`](crate::EnhancerOptions) the
//! enhancer hands each frame's low-res input here after its pass and takes
//! the factor map when the next frame arrives: the EFE runs while upstream
//! (a source, a decoder) produces that frame, on a core the enhancer's own
//! pool leaves idle meanwhile. The thread is a rayon pool of one, so the
//! EFE's parallel loops run serially on it and give the same map, bit for
//! bit, as on the enhancer's pool.
//!
//! When the caller brings the next frame at once (a queue before the
//! element, a loop over decoded frames), there is no idle time to fill and
//! the frame would wait for a one-thread EFE: then the next frame's EFE runs
//! in place after the pass, on the enhancer's pool, as without overlap. The
//! map is the same either way; only where it is computed follows the
//! caller's pace ([`EfeWorker::prepare_next`]).

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::{EfeBuffers, FusedEfe};

/// A low-res input `[3, h, w]`, its grid, and (once run) its factor map.
#[derive(Debug, Default)]
pub(crate) struct EfeJob {
    pub input: Vec<f32>,
    pub grid: (usize, usize),
    pub factor: Vec<f32>,
    /// How long the EFE took on the worker's thread (zero in place).
    took: Duration,
}

/// Where the next frame's EFE runs (the fixed ones for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Placement {
    /// By the caller's pace.
    Auto,
    InPlace,
    Background,
}

/// One thread running the EFE on one job at a time.
pub(crate) struct EfeWorker {
    pool: rayon::ThreadPool,
    efe: Arc<FusedEfe>,
    buffers: Arc<Mutex<EfeBuffers>>,
    pending: Option<Receiver<Result<EfeJob>>>,
    /// A map computed in place for the next frame.
    ready: Option<EfeJob>,
    /// The buffers of the last job taken, for the next one.
    spare: EfeJob,
    pub placement: Placement,
    /// When the last frame was handed back to the caller.
    returned_at: Option<Instant>,
    /// Moving average of the time the caller takes to bring the next frame, ms.
    gap_ms: Option<f64>,
    /// Moving average of the EFE's time on the worker's thread, ms (the
    /// first, cold run not counted).
    background_ms: Option<f64>,
    /// Jobs the worker has run.
    background_runs: usize,
    /// Maps prepared in place since the worker last ran one.
    in_place_since: usize,
}

/// The worker runs the next map when the caller's average time between
/// frames is at least this share of the worker's EFE time: measured on
/// 1080p NV12 (`enhancer_probe` with a busy source of 1 ms and 2 ms between
/// frames), the worker lost at a gap of about half its time and gained from
/// about two thirds.
const BACKGROUND_SHARE: f64 = 0.6;

/// In place, every this many frames one map is still prepared on the
/// worker, to measure its time again (the machine's speed drifts).
const REMEASURE_EVERY: usize = 64;

/// Weight of the newest sample in the moving averages of the pace.
const PACE_WEIGHT: f64 = 0.3;

fn average(old: Option<f64>, sample: f64) -> f64 {
    old.map_or(sample, |a| (1.0 - PACE_WEIGHT) * a + PACE_WEIGHT * sample)
}

impl EfeWorker {
    pub fn new(efe: FusedEfe) -> Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "lowlight-efe".into())
            // A panic in a job drops its sender, and `take` reports it; rayon
            // would otherwise abort the process.
            .panic_handler(|_| {})
            .build()
            .map_err(|e| Error::Threads(e.to_string()))?;
        let buffers = Arc::new(Mutex::new(EfeBuffers::default()));
        Ok(Self {
            pool,
            efe: Arc::new(efe),
            buffers,
            pending: None,
            ready: None,
            spare: EfeJob::default(),
            placement: Placement::Auto,
            returned_at: None,
            gap_ms: None,
            background_ms: None,
            background_runs: 0,
            in_place_since: 0,
        })
    }

    /// Call when a frame arrives: measures the caller's pace.
    pub fn frame_arrived(&mut self) {
        if let Some(t) = self.returned_at.take() {
            self.gap_ms = Some(average(self.gap_ms, t.elapsed().as_secs_f64() * 1e3));
        }
    }

    /// Prepares the next frame's map from `input` (`[3, h, w]` of `grid`):
    /// on the worker's thread when the caller takes long enough to bring
    /// the next frame for that to pay (at least half the worker's EFE time:
    /// the worker's one thread is slower than the pool, by less than that),
    /// else now, on the caller's pool with `efe` and `activations`. Call
    /// last before handing the frame back.
    pub fn prepare_next(
        &mut self,
        efe: &FusedEfe,
        activations: &mut EfeBuffers,
        input: &mut Vec<f32>,
        grid: (usize, usize),
    ) -> Result<()> {
        let background = match self.placement {
            Placement::Background => true,
            Placement::InPlace => false,
            Placement::Auto => match (self.gap_ms, self.background_ms) {
                (Some(gap), Some(efe)) => gap >= BACKGROUND_SHARE * efe || self.in_place_since >= REMEASURE_EVERY,
                // Not measured yet: the worker's time is measured first.
                _ => true,
            },
        };
        self.in_place_since = if background { 0 } else { self.in_place_since + 1 };
        let result = if background {
            self.start(input, grid);
            Ok(())
        } else {
            self.pending = None;
            let mut job = std::mem::take(&mut self.spare);
            let factor = efe.run(input, grid, activations)?;
            job.factor.clear();
            job.factor.extend_from_slice(factor);
            (job.grid, job.took) = (grid, Duration::ZERO);
            self.ready = Some(job);
            Ok(())
        };
        self.returned_at = Some(Instant::now());
        result
    }

    /// Starts the EFE on `input` (`[3, h, w]` of `grid`), which is swapped
    /// with a spare buffer of the worker's (`input` comes back with any
    /// length). A job not taken yet is dropped.
    pub fn start(&mut self, input: &mut Vec<f32>, grid: (usize, usize)) {
        let mut job = std::mem::take(&mut self.spare);
        std::mem::swap(&mut job.input, input);
        job.grid = grid;
        let (efe, buffers) = (Arc::clone(&self.efe), Arc::clone(&self.buffers));
        let (done, result) = mpsc::sync_channel(1);
        self.pending = Some(result);
        self.ready = None;
        self.pool.spawn(move || {
            let t = Instant::now();
            let mut buffers = buffers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let run = efe.run(&job.input, job.grid, &mut buffers).map(|factor| {
                job.factor.clear();
                job.factor.extend_from_slice(factor);
            });
            job.took = t.elapsed();
            // The receiver is gone when the enhancer dropped the job.
            let _ = done.send(run.map(|()| job).map_err(Error::from));
        });
    }

    /// The map prepared last, if any (waiting for the worker's thread): its
    /// grid and factor map. Hand it back with [`Self::recycle`] to reuse its
    /// buffers.
    pub fn take(&mut self) -> Option<Result<EfeJob>> {
        if let Some(job) = self.ready.take() {
            return Some(Ok(job));
        }
        let pending = self.pending.take()?;
        let job = pending.recv().unwrap_or_else(|_| Err(Error::Worker("the EFE thread stopped in the middle of a frame".into())));
        if let Ok(job) = &job {
            self.background_runs += 1;
            if self.background_runs > 1 {
                self.background_ms = Some(average(self.background_ms, job.took.as_secs_f64() * 1e3));
            }
        }
        Some(job)
    }

    pub fn recycle(&mut self, job: EfeJob) {
        self.spare = job;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EfeWeights, Sgz};

    #[test]
    fn the_worker_gives_the_map_of_the_pool() {
        let efe = Sgz::from_weights(&EfeWeights::random(3, 1.0), &candle_core::Device::Cpu).unwrap().efe().fused().unwrap();
        let grid = (23, 37);
        let input: Vec<f32> = (0..3 * grid.0 * grid.1).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let expected = pool.install(|| efe.run(&input, grid, &mut EfeBuffers::default()).unwrap().to_vec());
        let mut worker = EfeWorker::new(efe).unwrap();
        assert!(worker.take().is_none(), "nothing started");
        for _ in 0..2 {
            let mut sent = input.clone();
            worker.start(&mut sent, grid);
            let job = worker.take().expect("started").unwrap();
            assert_eq!(job.grid, grid);
            assert_eq!(job.input, input);
            assert!(job.factor == expected, "the worker's map differs from the pool's");
            worker.recycle(job);
            assert!(worker.take().is_none(), "taken once");
        }
    }

    #[test]
    fn the_next_map_is_prepared_by_the_callers_pace() {
        let efe = Sgz::from_weights(&EfeWeights::random(3, 1.0), &candle_core::Device::Cpu).unwrap().efe().fused().unwrap();
        let grid = (45, 80);
        let input: Vec<f32> = (0..3 * grid.0 * grid.1).map(|i| ((i * 7919) % 256) as f32 / 255.0).collect();
        let mut worker = EfeWorker::new(efe.clone()).unwrap();
        let mut activations = EfeBuffers::default();
        let mut next = |worker: &mut EfeWorker, gap: Duration| {
            std::thread::sleep(gap);
            worker.frame_arrived();
            let job = worker.take().map(|j| j.unwrap());
            let background = worker.pending.is_some();
            if let Some(job) = job {
                worker.recycle(job);
            }
            worker.prepare_next(&efe, &mut activations, &mut input.clone(), grid).unwrap();
            (background, worker.pending.is_some())
        };
        assert!(next(&mut worker, Duration::ZERO).1, "the worker's time is measured first");
        // Frames back to back: in place, once the worker's time is known.
        for _ in 0..3 {
            next(&mut worker, Duration::ZERO);
        }
        assert!(!next(&mut worker, Duration::ZERO).1, "no time between frames: in place");
        // Frames far apart (a live source): on the worker.
        for _ in 0..8 {
            next(&mut worker, Duration::from_millis(40));
        }
        assert!(next(&mut worker, Duration::from_millis(40)).1, "time between frames: on the worker");
    }

    #[test]
    fn a_failing_job_is_an_error_not_a_hang() {
        let efe = Sgz::from_weights(&EfeWeights::random(3, 1.0), &candle_core::Device::Cpu).unwrap().efe().fused().unwrap();
        let mut worker = EfeWorker::new(efe).unwrap();
        // An input shorter than its grid: the EFE refuses it.
        worker.start(&mut vec![0.5; 10], (20, 20));
        assert!(worker.take().expect("started").is_err());
        // A job that panics: the process goes on and `take` says so.
        let (done, result) = mpsc::sync_channel::<Result<EfeJob>>(1);
        worker.pending = Some(result);
        worker.pool.spawn(move || {
            let _sender = done;
            panic!("a job that fails");
        });
        assert!(matches!(worker.take(), Some(Err(Error::Worker(_)))));
        // And the worker still runs the next job.
        worker.start(&mut vec![0.5; 3 * 20 * 20], (20, 20));
        assert!(worker.take().expect("started").is_ok());
    }
}
