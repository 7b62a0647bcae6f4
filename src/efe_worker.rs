//! The EFE of one frame on its own thread while the caller goes on.
//!
//! With [`EnhancerOptions::overlap_efe`](crate::EnhancerOptions) the
//! enhancer hands each frame's low-res input here after its pass and takes
//! the factor map when the next frame arrives: the EFE runs while upstream
//! (a source, a decoder) produces that frame, on a core the enhancer's own
//! pool leaves idle meanwhile. The thread is a rayon pool of one, so the
//! EFE's parallel loops run serially on it and give the same map, bit for
//! bit, as on the enhancer's pool.

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::model::{EfeBuffers, FusedEfe};

/// A low-res input `[3, h, w]`, its grid, and (once run) its factor map.
#[derive(Debug, Default)]
pub(crate) struct EfeJob {
    pub input: Vec<f32>,
    pub grid: (usize, usize),
    pub factor: Vec<f32>,
}

/// One thread running the EFE on one job at a time.
pub(crate) struct EfeWorker {
    pool: rayon::ThreadPool,
    efe: Arc<FusedEfe>,
    buffers: Arc<Mutex<EfeBuffers>>,
    pending: Option<Receiver<Result<EfeJob>>>,
    /// The buffers of the last job taken, for the next one.
    spare: EfeJob,
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
        Ok(Self { pool, efe: Arc::new(efe), buffers, pending: None, spare: EfeJob::default() })
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
        self.pool.spawn(move || {
            let mut buffers = buffers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let run = efe.run(&job.input, job.grid, &mut buffers).map(|factor| {
                job.factor.clear();
                job.factor.extend_from_slice(factor);
            });
            // The receiver is gone when the enhancer dropped the job.
            let _ = done.send(run.map(|()| job).map_err(Error::from));
        });
    }

    /// Waits for the job started last, if any, and returns it: its grid and
    /// factor map. Hand it back with [`Self::recycle`] to reuse its buffers.
    pub fn take(&mut self) -> Option<Result<EfeJob>> {
        let pending = self.pending.take()?;
        Some(pending.recv().unwrap_or_else(|_| Err(Error::Worker("the EFE thread stopped in the middle of a frame".into()))))
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
