//! Generated video clips and what decoding a file finds in it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use lowlight_cli::encode::VideoWriter;

/// One frame of a dark night-like scene at time `t` (frames): a dim
/// gradient, a few lit windows, a lamp that moves across, and sensor-like
/// noise; every value is multiplied by `gain` (flicker injection).
pub fn dark_frame(t: usize, (w, h): (usize, usize), gain: f32) -> Vec<u8> {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let lamp = (0.2 + 0.6 * ((t % 120) as f32 / 120.0)) * w as f32;
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
            let mut c = 0.03 + 0.05 * v;
            if (u * 8.0).fract() > 0.6 && (v * 6.0).fract() > 0.5 && v < 0.6 {
                c += 0.15;
            }
            let d = ((x as f32 - lamp) / h as f32).hypot(v - 0.4);
            c += 0.3 * (-d * d * 60.0).exp();
            let value = (c * gain + 0.02 * noise()).clamp(0.0, 1.0);
            let px = (value * 255.0).round() as u8;
            out.extend_from_slice(&[px, px, (px as f32 * 0.9) as u8]);
        }
    }
    out
}

/// Writes `frames` frames of [`dark_frame`] at 30 fps; frame `t` is
/// multiplied by `gain(t)`.
pub fn write_dark_clip(path: &Path, frames: usize, size: (usize, usize), gain: impl Fn(usize) -> f32) {
    write_frames(path, frames, size, |t| dark_frame(t, size, gain(t)));
}

/// Writes `frames` RGB frames made by `frame(t)` at 30 fps.
pub fn write_frames(path: &Path, frames: usize, (w, h): (usize, usize), frame: impl Fn(usize) -> Vec<u8>) {
    let mut writer = VideoWriter::create(path, w, h, 30).unwrap();
    for t in 0..frames {
        writer.push_rgb(&frame(t)).unwrap();
    }
    writer.finish().unwrap();
}

/// A dark H.264 MP4 with an AAC sound track of the same length, made with
/// GStreamer's test sources (as the plugin's tests do).
pub fn write_clip_with_audio(path: &Path, frames: u32, (w, h): (u32, u32)) {
    lowlight_cli::init_gstreamer().unwrap();
    let buffers = (frames as u64 * 44100).div_ceil(30 * 1024);
    let description = format!(
        "videotestsrc num-buffers={frames} pattern=smpte horizontal-speed=2 ! video/x-raw,width={w},height={h},framerate=30/1 \
         ! videobalance contrast=0.3 brightness=-0.08 ! videoconvert ! x264enc speed-preset=ultrafast bframes=0 ! h264parse ! queue ! mux. \
         audiotestsrc num-buffers={buffers} samplesperbuffer=1024 ! audioconvert ! avenc_aac ! queue ! mux. \
         mp4mux name=mux ! filesink location=\"{}\"",
        path.display()
    );
    let pipeline = gst::parse::launch(&description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("the clip is written within 60 s");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("writing {}: {}", path.display(), e.error());
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

/// What decoding a file finds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    pub frames: u64,
    pub size: (usize, usize),
    /// Mean luma of every frame, 0..1.
    pub luma: Vec<f64>,
    pub audio_buffers: u64,
    /// Caps names of the streams, e.g. "video/x-h264", "audio/mpeg".
    pub streams: Vec<String>,
}

impl Analysis {
    pub fn mean_luma(&self) -> f64 {
        self.luma.iter().sum::<f64>() / self.luma.len().max(1) as f64
    }
}

/// Decodes every frame of `path` and lists its streams and audio buffers.
pub fn analyze(path: &Path) -> Analysis {
    let mut a = Analysis::default();
    lowlight_cli::decode::for_each_frame(path, |frame, layout| {
        a.size = (layout.width, layout.height);
        a.luma.push(lowlight::quality::frame_mean_luma(frame, layout)?);
        Ok(())
    })
    .unwrap();
    a.frames = a.luma.len() as u64;
    (a.streams, a.audio_buffers) = streams(path);
    a
}

/// The parsed streams of a file and the number of audio buffers.
fn streams(path: &Path) -> (Vec<String>, u64) {
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc").property("location", path.to_str().unwrap()).build().unwrap();
    let parse = gst::ElementFactory::make("parsebin").build().unwrap();
    pipeline.add_many([&src, &parse]).unwrap();
    src.link(&parse).unwrap();
    let names = Arc::new(Mutex::new(Vec::new()));
    let audio = Arc::new(AtomicU64::new(0));
    let (bin, found, count) = (pipeline.clone(), names.clone(), audio.clone());
    parse.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps.structure(0).unwrap().name().to_string();
        let is_audio = name.starts_with("audio/");
        found.lock().unwrap().push(name);
        let queue = gst::ElementFactory::make("queue").build().unwrap();
        let sink = gst::ElementFactory::make("fakesink").property("sync", false).build().unwrap();
        bin.add_many([&queue, &sink]).unwrap();
        queue.link(&sink).unwrap();
        queue.sync_state_with_parent().unwrap();
        sink.sync_state_with_parent().unwrap();
        pad.link(&queue.static_pad("sink").unwrap()).unwrap();
        if is_audio {
            let count = count.clone();
            sink.static_pad("sink").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                count.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        }
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("parsing ends within 60 s");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("parsing {}: {}", path.display(), e.error());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let mut names = names.lock().unwrap().clone();
    names.sort();
    (names, audio.load(Ordering::Relaxed))
}
