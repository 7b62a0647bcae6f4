//! Core engine benchmark: ms per frame at 960x540, 1920x1080 and 3840x2160,
//! RGBx and NV12, single- and multi-threaded, split into stages, next to the
//! machine's floor for the fused pass (memory traffic and curve arithmetic).
//!
//! `cargo bench --bench enhance [-- --frames N] [--threads N] [--format rgbx|nv12]`
//!
//! Built with `--features cuda` the table gains a `CUDA ms` column (a frame
//! already in GPU memory, as with `memory:CUDAMemory` caps) and a second
//! table of the GPU's stages, with the total for frames in host memory
//! (copied over and back); without a GPU the column says why it is empty.

use std::time::Instant;

use lowlight::{EfeWeights, Enhancer, EnhancerOptions, Sgz, StageTimes};

#[path = "support/frame.rs"]
mod frame;
#[path = "support/machine.rs"]
mod machine;

use frame::{Format, Frame, median};

const SIZES: [(usize, usize); 3] = [(960, 540), (1920, 1080), (3840, 2160)];

fn model() -> (EfeWeights, String) {
    let reference = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/sgz/weights.safetensors");
    match EfeWeights::from_file(&reference) {
        Ok(w) => (w, "authors' weights (../shared/reference/sgz)".into()),
        Err(_) => (EfeWeights::random(1, 1.0), "random weights".into()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let frames: usize = arg("--frames").and_then(|n| n.parse().ok()).unwrap_or(30);
    let only_threads: Option<usize> = arg("--threads").and_then(|n| n.parse().ok());
    let formats = match arg("--format").as_deref() {
        Some("rgbx") => vec![Format::Rgbx],
        Some("nv12") => vec![Format::Nv12],
        _ => vec![Format::Rgbx, Format::Nv12],
    };
    let (weights, what) = model();
    let model = Sgz::from_weights(&weights, &candle_core::Device::Cpu).expect("model");
    #[cfg(feature = "cuda")]
    let mut gpu = cuda::Bench::open(&weights);
    #[cfg(feature = "cuda")]
    let mut gpu_rows = Vec::new();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let machine = machine::Machine::measure(cores);
    println!("lowlight core engine, scale factor 12, 8 iterations, {what}");
    println!("median of {frames} frames after 3 warm-up frames; {cores} cores");
    println!("machine: {}", machine.describe());
    println!("floor: the frame read and written once, or 8 steps x 3 channels x 2 FMAs per pixel, whichever is slower\n");
    #[cfg(not(feature = "cuda"))]
    let (cuda_head, cuda_rule) = ("", "");
    #[cfg(feature = "cuda")]
    let (cuda_head, cuda_rule) = (" CUDA ms |", "--------:|");
    println!("| format | size      | threads | down-scale ms | EFE ms | fused pass ms | total ms |   fps | floor ms | total/floor |{cuda_head}");
    println!("|--------|-----------|--------:|--------------:|-------:|--------------:|---------:|------:|---------:|------------:|{cuda_rule}");
    for format in formats {
        for (w, h) in SIZES {
            let mut frame = Frame::new(format, w, h);
            #[cfg(not(feature = "cuda"))]
            let cuda_cell = String::new();
            #[cfg(feature = "cuda")]
            let cuda_cell = match gpu.as_mut().map(|g| g.run(&frame, frames)) {
                Some(Ok(row)) => {
                    let cell = format!(" {:>7.2} |", row.device_total);
                    gpu_rows.push((format.name(), format!("{w}x{h}"), row));
                    cell
                }
                Some(Err(e)) => panic!("CUDA {} {w}x{h}: {e}", format.name()),
                None => "       - |".to_string(),
            };
            let pixels = (w * h) as f64;
            let floor_ms = machine.floor_ms(pixels, format.bytes_per_pixel());
            let thread_counts = match only_threads {
                Some(t) => vec![t],
                None if cores > 1 => vec![1, cores],
                None => vec![1],
            };
            for threads in thread_counts {
                let options = EnhancerOptions { threads, ..Default::default() };
                let mut enhancer = Enhancer::new(model.clone(), options).expect("enhancer");
                let (mut down, mut efe, mut fused, mut total) = (vec![], vec![], vec![], vec![]);
                for i in 0..frames + 3 {
                    frame.reset();
                    let t = Instant::now();
                    frame.run(&mut enhancer);
                    let elapsed = t.elapsed();
                    if i >= 3 {
                        let StageTimes { downscale, efe: e, fused: f } = enhancer.last_stage_times();
                        down.push(downscale);
                        efe.push(e);
                        fused.push(f);
                        total.push(elapsed);
                    }
                }
                let t = median(total);
                println!(
                    "| {:<6} | {:<9} | {threads:>7} | {:>13.2} | {:>6.2} | {:>13.2} | {t:>8.2} | {:>5.1} | {floor_ms:>8.2} | {:>11.1} |{cuda_cell}",
                    format.name(),
                    format!("{w}x{h}"),
                    median(down),
                    median(efe),
                    median(fused),
                    1e3 / t,
                    t / floor_ms,
                );
            }
        }
    }
    #[cfg(feature = "cuda")]
    cuda::print(gpu.as_ref(), &gpu_rows);
}

/// The GPU column (feature `cuda`): the same frames on CUDA device 0.
#[cfg(feature = "cuda")]
mod cuda {
    use std::time::Instant;

    use lowlight::cuda::cudarc::driver::{CudaSlice, CudaStream, DevicePtrMut};
    use lowlight::cuda::{CudaEnhancer, DeviceFrame, Gpu};
    use lowlight::{EfeWeights, EnhancerOptions, FrameLayout, PixelFormat, StageTimes, YuvFormat, YuvLayout, YuvMatrix, YuvRange};

    use super::{Format, Frame, median};

    pub struct Bench {
        gpu: Gpu,
        stream: std::sync::Arc<CudaStream>,
        enhancer: CudaEnhancer,
    }

    /// Medians of one format and size on the GPU.
    pub struct Row {
        pub stages: [f64; 3],
        pub device_total: f64,
        pub host_total: f64,
    }

    impl Bench {
        /// The GPU, or `None` after printing why the CUDA column stays empty.
        pub fn open(weights: &EfeWeights) -> Option<Self> {
            let opened = Gpu::open(0).and_then(|gpu| {
                let enhancer = CudaEnhancer::with_gpu(weights, EnhancerOptions::default(), &gpu)?;
                let stream = gpu.device().as_cuda_device()?.cuda_stream();
                Ok(Bench { gpu, stream, enhancer })
            });
            match opened {
                Ok(b) => Some(b),
                Err(e) => {
                    println!("CUDA column empty: {e}");
                    None
                }
            }
        }

        pub fn run(&mut self, frame: &Frame, frames: usize) -> Result<Row, Box<dyn std::error::Error>> {
            let (w, h) = (frame.w, frame.h);
            // Frames in device memory: the source planes stay on the GPU and
            // are copied into the work planes before each run (not timed).
            let sources: Vec<CudaSlice<u8>> =
                frame.source.iter().map(|p| self.stream.clone_htod(&p[..])).collect::<Result<_, _>>()?;
            let mut work: Vec<CudaSlice<u8>> =
                frame.source.iter().map(|p| self.stream.clone_htod(&p[..])).collect::<Result<_, _>>()?;
            let (mut stages, mut totals) = (vec![[0f64; 3]; 0], vec![]);
            for i in 0..frames + 3 {
                for (src, dst) in sources.iter().zip(work.iter_mut()) {
                    self.stream.memcpy_dtod(src, dst)?;
                }
                self.stream.synchronize()?;
                let ptrs: Vec<u64> = work.iter_mut().map(|p| p.device_ptr_mut(&self.stream).0).collect();
                let device_frame = match frame.format {
                    Format::Rgbx => DeviceFrame::Packed { ptr: ptrs[0], layout: FrameLayout::packed(w, h, PixelFormat::Rgbx) },
                    Format::Nv12 => DeviceFrame::Nv12 {
                        y: ptrs[0],
                        uv: ptrs[1],
                        layout: YuvLayout::packed(w, h, YuvFormat::Nv12, YuvMatrix::Bt709, YuvRange::Limited),
                    },
                };
                let t = Instant::now();
                // SAFETY: our own device buffers, laid out as the frame says.
                unsafe { self.enhancer.enhance_device(&device_frame)? };
                let elapsed = t.elapsed();
                if i >= 3 {
                    let StageTimes { downscale, efe, fused } = self.enhancer.last_stage_times();
                    stages.push([downscale, efe, fused].map(|d| d.as_secs_f64() * 1e3));
                    totals.push(elapsed);
                }
            }
            let stage = |k: usize| {
                let mut v: Vec<f64> = stages.iter().map(|s| s[k]).collect();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            // Frames in host memory: copied to the GPU and back.
            let mut host = frame.source.clone();
            let mut host_totals = vec![];
            for i in 0..frames + 3 {
                for (dst, src) in host.iter_mut().zip(&frame.source) {
                    dst.copy_from_slice(src);
                }
                let t = Instant::now();
                match frame.format {
                    Format::Rgbx => self.enhancer.enhance(&mut host[0], &FrameLayout::packed(w, h, PixelFormat::Rgbx))?,
                    Format::Nv12 => {
                        let l = YuvLayout::packed(w, h, YuvFormat::Nv12, YuvMatrix::Bt709, YuvRange::Limited);
                        let [y, uv] = &mut host[..] else { unreachable!() };
                        self.enhancer.enhance_nv12(y, uv, &l)?
                    }
                }
                if i >= 3 {
                    host_totals.push(t.elapsed());
                }
            }
            Ok(Row {
                stages: [stage(0), stage(1), stage(2)],
                device_total: median(totals),
                host_total: median(host_totals),
            })
        }
    }

    pub fn print(bench: Option<&Bench>, rows: &[(&str, String, Row)]) {
        let Some(bench) = bench else { return };
        println!("\nCUDA ({:?}); stages timed with CUDA events, totals on the host clock:\n", bench.gpu);
        println!("| format | size      | down-scale ms | EFE ms | fused pass ms | total ms |    fps | host frame ms |");
        println!("|--------|-----------|--------------:|-------:|--------------:|---------:|-------:|--------------:|");
        for (format, size, r) in rows {
            println!(
                "| {format:<6} | {size:<9} | {:>13.3} | {:>6.3} | {:>13.3} | {:>8.3} | {:>6.1} | {:>13.2} |",
                r.stages[0],
                r.stages[1],
                r.stages[2],
                r.device_total,
                1e3 / r.device_total,
                r.host_total
            );
        }
        println!("\ntotal: a frame already in GPU memory (memory:CUDAMemory caps); host frame: copied to the GPU and back");
    }
}
