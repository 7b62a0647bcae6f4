//! The frames the benchmarks enhance: dark, with structure (so the work is
//! that of real footage), RGBx or NV12, restored before each timed run.
//! Shared by the core and the pipeline benchmarks.
#![allow(dead_code)] // each bench uses its own part

use std::time::Duration;

use lowlight::{Enhancer, FrameLayout, PixelFormat, YuvFormat, YuvLayout, YuvMatrix, YuvRange};

#[derive(Clone, Copy, PartialEq)]
pub enum Format {
    Rgbx,
    Nv12,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Rgbx => "RGBx",
            Format::Nv12 => "NV12",
        }
    }

    pub fn bytes_per_pixel(self) -> f64 {
        match self {
            Format::Rgbx => 4.0,
            Format::Nv12 => 1.5,
        }
    }
}

fn dark_bytes(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + (i / 1920) * 3 + seed) % 60) as u8).collect()
}

/// One frame of a format, enhanced in place by `run`.
pub struct Frame {
    pub format: Format,
    pub w: usize,
    pub h: usize,
    pub source: Vec<Vec<u8>>,
    work: Vec<Vec<u8>>,
}

impl Frame {
    pub fn new(format: Format, w: usize, h: usize) -> Self {
        let source = match format {
            Format::Rgbx => vec![dark_bytes(w * h * 4, 0)],
            Format::Nv12 => {
                let uv: Vec<u8> = dark_bytes(w.div_ceil(2) * h.div_ceil(2) * 2, 1).iter().map(|v| v + 100).collect();
                vec![dark_bytes(w * h, 0).iter().map(|v| v + 16).collect(), uv]
            }
        };
        Frame { format, w, h, work: source.clone(), source }
    }

    /// Restores the dark source frame (outside the timed region).
    pub fn reset(&mut self) {
        for (dst, src) in self.work.iter_mut().zip(&self.source) {
            dst.copy_from_slice(src);
        }
    }

    pub fn run(&mut self, e: &mut Enhancer) {
        match self.format {
            Format::Rgbx => e.enhance(&mut self.work[0], &FrameLayout::packed(self.w, self.h, PixelFormat::Rgbx)),
            Format::Nv12 => {
                let l = YuvLayout::packed(self.w, self.h, YuvFormat::Nv12, YuvMatrix::Bt709, YuvRange::Limited);
                let [y, uv] = &mut self.work[..] else { unreachable!() };
                e.enhance_yuv([y, uv, &mut []], &l)
            }
        }
        .expect("enhance");
    }
}

/// Median in ms.
pub fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e3
}
