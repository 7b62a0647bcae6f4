//! lowlightenhance against what users would run instead, in one run on one
//! machine: frames per second at 960x540, 1920x1080 and 3840x2160 of
//!
//! - the core engine alone (no GStreamer), RGBx and NV12;
//! - `videotestsrc ! CAPS ! X ! fakesink` with X = `identity` (the cost of
//!   the source and sink alone), `lowlightenhance` in NV12 and RGBx, and
//!   GStreamer's `gamma gamma=2.2` in NV12; in NV12 also with
//!   `temporal-smoothing=0` (no brightness lock), the core's setting, and
//!   with `overlap-efe=false` (the EFE in the frame's own time);
//! - the same from I420 through `videoconvert ! RGBx ! X ! videoconvert`
//!   (what users had to do without native YUV), X = lowlightenhance and gamma;
//! - the floor: the frame read and written once at the measured copy
//!   bandwidth, or the curve's arithmetic at the measured FMA rate;
//!
//! then the ratios between them, and the share of a real offline re-encode
//! (1080p H.264 in, x264enc out, as `pipelines/mp4-reencode.sh`) spent in
//! the element, from the wall time with and without it.
//!
//! `cargo bench -p gst-plugin-lowlight --bench pipelines [-- --frames N] [--runs R] [--sizes 960x540,1920x1080] [--no-reencode]`
//!
//! Each case runs R times (default 3) in interleaved rounds and the median
//! round is reported: the machine this was written on is shared and has
//! slow spells of seconds.
//!
//! The element runs the embedded default model with its default properties.

#[path = "../../../benches/support/frame.rs"]
mod frame;
#[path = "../../../benches/support/machine.rs"]
mod machine;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use frame::{Format, Frame, median};
use lowlight::{Enhancer, EnhancerOptions, Sgz};

const SIZES: [(usize, usize); 3] = [(960, 540), (1920, 1080), (3840, 2160)];
const WARM_UP: usize = 5;

/// One column of the table: frames per second at each size.
struct Row {
    name: &'static str,
    ms: Vec<f64>,
}

/// The pipeline cases: (row name, input format, the fragment between the caps and fakesink).
const PIPELINES: [(&str, &str, &str); 8] = [
    ("identity, NV12 (source + sink alone)", "NV12", "identity"),
    ("lowlightenhance, NV12", "NV12", "lowlightenhance"),
    ("lowlightenhance temporal-smoothing=0, NV12", "NV12", "lowlightenhance temporal-smoothing=0"),
    ("lowlightenhance overlap-efe=false, NV12", "NV12", "lowlightenhance overlap-efe=false"),
    ("lowlightenhance, RGBx", "RGBx", "lowlightenhance"),
    ("gamma gamma=2.2, NV12", "NV12", "gamma gamma=2.2"),
    (
        "I420 videoconvert ! lowlightenhance ! videoconvert",
        "I420",
        "videoconvert ! video/x-raw,format=RGBx ! lowlightenhance ! videoconvert ! video/x-raw,format=I420",
    ),
    (
        "I420 videoconvert ! gamma ! videoconvert",
        "I420",
        "videoconvert ! video/x-raw,format=RGBx ! gamma gamma=2.2 ! videoconvert ! video/x-raw,format=I420",
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let frames: usize = arg("--frames").and_then(|n| n.parse().ok()).unwrap_or(60);
    let runs: usize = arg("--runs").and_then(|n| n.parse().ok()).unwrap_or(3).max(1);
    let sizes: Vec<(usize, usize)> = match arg("--sizes") {
        Some(list) => list.split(',').map(parse_size).collect(),
        None => SIZES.to_vec(),
    };
    gst::init().expect("gst init");
    gstlowlight::plugin_register_static().expect("register lowlight");

    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let machine = machine::Machine::measure(cores);
    println!("lowlightenhance and the alternatives: embedded default model, scale factor 12, 8 iterations, {cores} cores");
    println!("machine: {}", machine.describe());
    println!(
        "pipelines: videotestsrc (smpte) ! CAPS ! X ! fakesink sync=false; {frames} frames timed after {WARM_UP}; \
         each case {runs} times in interleaved rounds, the median round"
    );
    println!();

    let model = Sgz::embedded_default().expect("embedded model");
    let mut rows = vec![
        Row { name: "core alone, RGBx (no GStreamer)", ms: vec![] },
        Row { name: "core alone, NV12 (no GStreamer)", ms: vec![] },
    ];
    rows.extend(PIPELINES.iter().map(|(name, ..)| Row { name, ms: vec![] }));
    rows.push(Row { name: "floor, NV12 (memory or arithmetic)", ms: vec![] });
    rows.push(Row { name: "floor, RGBx", ms: vec![] });
    for &(w, h) in &sizes {
        // Every case once per round, the rounds one after another: a slow
        // spell of a shared machine then slows one round of every case
        // rather than every round of one case, and the median drops it.
        let mut rounds: Vec<Vec<f64>> = vec![vec![]; 2 + PIPELINES.len()];
        for _ in 0..runs {
            rounds[0].push(core_ms(&model, w, h, Format::Rgbx, frames));
            rounds[1].push(core_ms(&model, w, h, Format::Nv12, frames));
            for (k, (_, format, fragment)) in PIPELINES.iter().enumerate() {
                rounds[2 + k].push(pipeline_ms(format, w, h, fragment, frames));
            }
        }
        for (row, ms) in rows.iter_mut().zip(rounds) {
            row.ms.push(median_of(ms));
        }
        let pixels = (w * h) as f64;
        let n = rows.len();
        rows[n - 2].ms.push(machine.floor_ms(pixels, 1.5));
        rows[n - 1].ms.push(machine.floor_ms(pixels, 4.0));
    }
    print_table(&rows, &sizes);
    print_ratios(&rows, &sizes);
    print_own_time(&rows, &sizes);
    if !args.iter().any(|a| a == "--no-reencode") {
        reencode_share(frames.max(150));
    }
}

fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn parse_size(s: &str) -> (usize, usize) {
    let (w, h) = s.split_once('x').expect("sizes are WxH");
    (w.parse().expect("width"), h.parse().expect("height"))
}

/// Median ms per frame of the core engine on a dark frame with structure.
fn core_ms(model: &Sgz, w: usize, h: usize, format: Format, frames: usize) -> f64 {
    let mut enhancer = Enhancer::new(model.clone(), EnhancerOptions::default()).expect("enhancer");
    let mut frame = Frame::new(format, w, h);
    let mut times = vec![];
    for i in 0..frames + WARM_UP {
        frame.reset();
        let t = Instant::now();
        frame.run(&mut enhancer);
        if i >= WARM_UP {
            times.push(t.elapsed());
        }
    }
    median(times)
}

/// Mean ms per frame of `videotestsrc ! CAPS ! fragment ! fakesink` in
/// steady state: the time from the last warm-up buffer to the last buffer
/// reaching the sink, over the frames in between.
fn pipeline_ms(format: &str, w: usize, h: usize, fragment: &str, frames: usize) -> f64 {
    let description = format!(
        "videotestsrc num-buffers={} ! video/x-raw,format={format},width={w},height={h},framerate=30/1 \
         ! {fragment} ! fakesink name=sink sync=false",
        frames + WARM_UP
    );
    let pipeline = gst::parse::launch(&description).expect("pipeline").downcast::<gst::Pipeline>().unwrap();
    let arrivals = Arc::new(Mutex::new(Vec::with_capacity(frames + WARM_UP)));
    let sink = pipeline.by_name("sink").unwrap();
    let seen = arrivals.clone();
    sink.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        seen.lock().unwrap().push(Instant::now());
        gst::PadProbeReturn::Ok
    });
    run_to_eos(&pipeline, &description);
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), frames + WARM_UP, "{description}: frames lost");
    (arrivals[frames + WARM_UP - 1] - arrivals[WARM_UP - 1]).as_secs_f64() * 1e3 / frames as f64
}

/// Plays a pipeline to its end; panics with the error message otherwise.
fn run_to_eos(pipeline: &gst::Pipeline, description: &str) -> Duration {
    let t = Instant::now();
    pipeline.set_state(gst::State::Playing).expect("playing");
    let bus = pipeline.bus().unwrap();
    for msg in bus.iter_timed(gst::ClockTime::NONE) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => panic!("{description}: {} ({:?})", e.error(), e.debug()),
            _ => {}
        }
    }
    let elapsed = t.elapsed();
    pipeline.set_state(gst::State::Null).expect("null");
    elapsed
}

fn print_table(rows: &[Row], sizes: &[(usize, usize)]) {
    let head: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h} fps (ms)")).collect();
    println!("| {:<52} | {} |", "", head.join(" | "));
    println!("|{}|{}", "-".repeat(54), head.iter().map(|c| format!("{}:|", "-".repeat(c.len() + 1))).collect::<String>());
    for row in rows {
        let cells: Vec<String> = row
            .ms
            .iter()
            .zip(&head)
            .map(|(ms, c)| format!("{:>width$}", format!("{:.1} ({:.2})", 1e3 / ms, ms), width = c.len()))
            .collect();
        println!("| {:<52} | {} |", row.name, cells.join(" | "));
    }
}

fn print_ratios(rows: &[Row], sizes: &[(usize, usize)]) {
    let find = |name: &str| &rows.iter().find(|r| r.name.starts_with(name)).expect(name).ms;
    let ratios: [(&str, &[f64], &[f64]); 6] = [
        ("lowlightenhance NV12 / gamma NV12 (time per frame)", find("lowlightenhance, NV12"), find("gamma gamma=2.2")),
        ("lowlightenhance NV12 / identity NV12", find("lowlightenhance, NV12"), find("identity")),
        ("round trip via RGBx / native NV12 (lowlightenhance)", find("I420 videoconvert ! lowlightenhance"), find("lowlightenhance, NV12")),
        ("round trip gamma / native gamma", find("I420 videoconvert ! gamma"), find("gamma gamma=2.2")),
        ("core NV12 / floor NV12", find("core alone, NV12"), find("floor, NV12")),
        ("core RGBx / floor RGBx", find("core alone, RGBx"), find("floor, RGBx")),
    ];
    println!();
    let head: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect();
    println!("| {:<52} | {} |", "ratio", head.join(" | "));
    println!("|{}|{}", "-".repeat(54), head.iter().map(|c| format!("{}:|", "-".repeat(c.len() + 1))).collect::<String>());
    for (name, a, b) in ratios {
        let cells: Vec<String> =
            a.iter().zip(b).zip(&head).map(|((a, b), c)| format!("{:>width$.2}", a / b, width = c.len())).collect();
        println!("| {name:<52} | {} |", cells.join(" | "));
    }
}

/// The element's own time per frame: its pipeline's minus the `identity`
/// pipeline's, which the source's speed (it varies with the machine's
/// load) does not change.
fn print_own_time(rows: &[Row], sizes: &[(usize, usize)]) {
    let find = |name: &str| &rows.iter().find(|r| r.name.starts_with(name)).expect(name).ms;
    let identity = find("identity");
    println!();
    let head: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h} ms")).collect();
    println!("| {:<52} | {} |", "own time per frame (pipeline - identity)", head.join(" | "));
    println!("|{}|{}", "-".repeat(54), head.iter().map(|c| format!("{}:|", "-".repeat(c.len() + 1))).collect::<String>());
    for name in [
        "lowlightenhance, NV12",
        "lowlightenhance temporal-smoothing=0, NV12",
        "lowlightenhance overlap-efe=false, NV12",
        "gamma gamma=2.2, NV12",
    ] {
        let cells: Vec<String> = find(name)
            .iter()
            .zip(identity)
            .zip(&head)
            .map(|((a, b), c)| format!("{:>width$.2}", a - b, width = c.len()))
            .collect();
        println!("| {name:<52} | {} |", cells.join(" | "));
    }
}

/// Makes a dark, noisy 1080p H.264 clip in 4:2:0, as cameras record (left
/// to itself x264enc would take the compositor's 4:4:4, and every stage
/// after the decoder would run in Y444), then re-encodes it as
/// `pipelines/mp4-reencode.sh` does (decodebin, videoconvert, the element,
/// videoconvert, x264enc with the script's settings, mp4mux), with and
/// without the element, and prints the element's share of the wall time.
fn reencode_share(frames: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("dark-1080p.mp4");
    let make = format!(
        "videotestsrc num-buffers={frames} pattern=smpte horizontal-speed=2 ! video/x-raw,width=1920,height=1080,framerate=30/1 \
         ! compositor name=mix sink_1::alpha=0.08 ! videobalance contrast=0.3 brightness=-0.08 ! videoconvert \
         ! video/x-raw,format=I420 ! x264enc speed-preset=faster bframes=0 ! h264parse ! mp4mux ! filesink location={} \
         videotestsrc num-buffers={frames} pattern=snow ! video/x-raw,width=1920,height=1080,framerate=30/1 ! mix.",
        clip.display()
    );
    run_description(&make);
    let reencode = |element: &str, out: &Path| {
        format!(
            "filesrc location={} ! qtdemux ! queue ! decodebin ! videoconvert ! {element} ! videoconvert \
             ! x264enc speed-preset=faster pass=qual quantizer=20 bframes=0 ! h264parse ! queue ! mp4mux ! filesink location={}",
            clip.display(),
            out.display()
        )
    };
    // Three runs of each, alternating, so a slow spell of the machine hits both; medians.
    let (mut with, mut without) = (vec![], vec![]);
    for _ in 0..3 {
        without.push(run_description(&reencode("identity", &dir.path().join("plain.mp4"))));
        with.push(run_description(&reencode("lowlightenhance", &dir.path().join("enhanced.mp4"))));
    }
    let (with, without) = (median(with) / 1e3, median(without) / 1e3);
    println!(
        "\nre-encode of {frames} frames of 1080p H.264 (mp4-reencode.sh's pipeline, x264enc speed-preset=faster), \
         median of 3 runs each: {with:.2} s with lowlightenhance, {without:.2} s without; \
         the element's share of the wall time: {:.1}%",
        100.0 * (with - without) / with
    );
}

fn run_description(description: &str) -> Duration {
    let pipeline = gst::parse::launch(description).expect("pipeline").downcast::<gst::Pipeline>().unwrap();
    run_to_eos(&pipeline, description)
}
