//! Soak run: many 1080p frames through one `lowlightenhance` (default model,
//! temporal smoothing on), checking that the process's memory stays flat and
//! that the element passes on every frame it receives.
//!
//! `cargo bench -p gst-plugin-lowlight --bench soak [-- --frames 30000] [--format NV12] [--smoothing 0.7]`
//!
//! The source is `videotestsrc pattern=ball` (the picture moves, so the
//! temporal filter and its scene-cut test work on every frame) into a
//! `fakesink sync=false`. Resident memory (VmRSS) is read every 1000 frames;
//! growth is counted from the sample after the first 1000 frames (warm-up:
//! thread pools, buffer pools, scratch buffers). Exits with status 1 when
//! RSS grows by 5 MB or more or when a frame goes missing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use gst::prelude::*;

const SAMPLE_EVERY: usize = 1000;
const MAX_GROWTH_KB: i64 = 5 * 1024;

fn rss_kb() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS in kB")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let frames: usize = arg("--frames").and_then(|n| n.parse().ok()).unwrap_or(30_000);
    let format = arg("--format").unwrap_or_else(|| "NV12".into());
    let smoothing: f64 = arg("--smoothing").and_then(|n| n.parse().ok()).unwrap_or(0.7);
    gst::init().expect("gst init");
    gstlowlight::plugin_register_static().expect("register lowlight");

    let description = format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format={format},width=1920,height=1080,framerate=30/1 \
         ! lowlightenhance name=enhance temporal-smoothing={smoothing} ! fakesink name=sink sync=false"
    );
    println!("soak: {description}");
    let pipeline = gst::parse::launch(&description).expect("pipeline").downcast::<gst::Pipeline>().unwrap();
    let enhance = pipeline.by_name("enhance").unwrap();
    let (into, out_of) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counter = |n: &Arc<AtomicUsize>| {
        let n = n.clone();
        move |_: &gst::Pad, _: &mut gst::PadProbeInfo| {
            n.fetch_add(1, Ordering::Relaxed);
            gst::PadProbeReturn::Ok
        }
    };
    enhance.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, counter(&into));
    // RSS samples, taken in the streaming thread as the frames pass.
    let samples = Arc::new(std::sync::Mutex::new(Vec::<(usize, i64, f64)>::new()));
    let (seen, taken) = (out_of.clone(), samples.clone());
    let start = Instant::now();
    enhance.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
        if n % SAMPLE_EVERY == 0 {
            taken.lock().unwrap().push((n, rss_kb(), start.elapsed().as_secs_f64()));
        }
        gst::PadProbeReturn::Ok
    });

    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().unwrap();
    let mut error = None;
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => {
                error = Some(format!("{} ({:?})", e.error(), e.debug()));
                break;
            }
            _ => {}
        }
    }
    let wall = start.elapsed().as_secs_f64();
    pipeline.set_state(gst::State::Null).expect("null");

    let samples = samples.lock().unwrap();
    println!("\n| frames | RSS MB | growth since frame {SAMPLE_EVERY} (MB) | fps since last sample |");
    println!("|-------:|-------:|------:|------:|");
    let base = samples.first().map(|s| s.1).unwrap_or(0);
    let mut max_growth = 0;
    for (k, &(n, rss, t)) in samples.iter().enumerate() {
        let fps = match k {
            0 => n as f64 / t,
            _ => SAMPLE_EVERY as f64 / (t - samples[k - 1].2),
        };
        max_growth = max_growth.max(rss - base);
        // Print the first, the last and every fifth sample.
        if k == 0 || k + 1 == samples.len() || k % 5 == 4 {
            println!("| {n:>6} | {:>6.1} | {:>5.2} | {fps:>5.1} |", rss as f64 / 1024.0, (rss - base) as f64 / 1024.0);
        }
    }
    let (into, out_of) = (into.load(Ordering::Relaxed), out_of.load(Ordering::Relaxed));
    println!(
        "\n{frames} frames from the source, {into} into the element, {out_of} out of it, in {wall:.0} s ({:.1} fps); \
         largest RSS growth after warm-up {:.2} MB (limit {} MB)",
        out_of as f64 / wall,
        max_growth as f64 / 1024.0,
        MAX_GROWTH_KB / 1024
    );
    let mut failed = false;
    if let Some(e) = error {
        println!("FAIL: error message: {e}");
        failed = true;
    }
    if into != frames || out_of != frames {
        println!("FAIL: frames lost");
        failed = true;
    }
    if max_growth >= MAX_GROWTH_KB {
        println!("FAIL: memory grew");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
    println!("PASS");
}
