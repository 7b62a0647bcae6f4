//! Real media for the pipeline tests: a dark H.264 clip made with
//! GStreamer's test sources, and a decoder that measures a file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use gst::prelude::*;

/// A dark scene of `frames` frames (-1: endless, live) (moving SMPTE bars
/// with contrast squeezed and brightness lowered, mean luma ~0.18), as a
/// gst-launch fragment.
pub fn dark_scene(frames: i32) -> String {
    let live = if frames < 0 { "is-live=true " } else { "" };
    format!(
        "videotestsrc {live}num-buffers={frames} pattern=smpte horizontal-speed=2 ! videobalance contrast=0.3 brightness=-0.08"
    )
}

/// A directory holding only the plugin built for this test run, for
/// `GST_PLUGIN_PATH`: cargo leaves the cdylib in `deps/` beside the test
/// executable (among many other libraries), so it is linked from
/// `<target>/<profile>/gst-plugin-for-tests/`.
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let built = deps.join("libgstlowlight.so");
    assert!(built.is_file(), "{} is missing: the plugin cdylib was not built", built.display());
    let dir = deps.parent().unwrap().join("gst-plugin-for-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("libgstlowlight.so");
    if std::fs::read_link(&link).ok().as_deref() != Some(built.as_path()) {
        // Atomic replace: several test binaries may run at once.
        let tmp = dir.join(format!(".libgstlowlight.so.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&built, &tmp).unwrap();
        std::fs::rename(&tmp, &link).unwrap();
    }
    dir
}

/// `pipelines/NAME` of this checkout.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../pipelines").join(name)
}

/// A command for a pipelines/ script using this build's plugin and `model`
/// (killed after 120 s, so a stuck pipeline fails the test instead of hanging it).
pub fn script_command(name: &str, model: &Path) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "bash"])
        .arg(script(name))
        .env("GST_PLUGIN_PATH", plugin_dir())
        .env("LOWLIGHT_MODEL", model)
        .env_remove("LOWLIGHT_OPTS");
    cmd
}

/// Runs a gst-launch style description to EOS (panics on error or after 60 s).
pub fn run_to_eos(description: &str) {
    super::init();
    let pipeline = gst::parse::launch(description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("pipeline ends within 60 s");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("{description}: {} ({:?})", e.error(), e.debug());
    }
    pipeline.set_state(gst::State::Null).unwrap();
}

/// Writes a dark `w x h` H.264 MP4 of `frames` frames at 30 fps, with an
/// AAC audio track of the same length when `audio`.
pub fn make_dark_mp4(path: &Path, frames: u32, (w, h): (u32, u32), audio: bool) {
    let audio_branch = if audio {
        // 44100 Hz, 1024 samples per buffer: enough buffers to cover the video.
        let buffers = (frames as u64 * 44100).div_ceil(30 * 1024);
        format!("audiotestsrc num-buffers={buffers} samplesperbuffer=1024 ! audioconvert ! avenc_aac ! queue ! mux.")
    } else {
        String::new()
    };
    run_to_eos(&format!(
        "{} ! video/x-raw,width={w},height={h},framerate=30/1 ! videoconvert \
         ! x264enc speed-preset=ultrafast ! h264parse ! queue ! mp4mux name=mux ! filesink location=\"{}\" {audio_branch}",
        dark_scene(frames as i32),
        path.display()
    ));
}

/// What a file holds, measured by decoding it.
#[derive(Debug, Default, Clone)]
pub struct Analysis {
    pub frames: u64,
    /// First video PTS and end (PTS + duration) of the last frame.
    pub first_pts: Option<gst::ClockTime>,
    pub end: Option<gst::ClockTime>,
    /// Mean luma of all frames, 0..1 (decoded to RGB, Rec. 601 weights).
    pub mean_luma: f64,
    /// Mean luma of the left and the right half of the frames.
    pub half_luma: [f64; 2],
    /// Size of the last frame.
    pub size: (usize, usize),
    pub audio_buffers: u64,
    pub audio_end: Option<gst::ClockTime>,
}

impl Analysis {
    pub fn video_duration(&self) -> gst::ClockTime {
        self.end.unwrap() - self.first_pts.unwrap()
    }
}

/// Decodes `path` (any container GStreamer reads) and measures it.
pub fn analyze(path: &Path) -> Analysis {
    super::init();
    let result = Arc::new(Mutex::new((Analysis::default(), [0f64; 2])));
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("uridecodebin")
        .property("uri", format!("file://{}", path.canonicalize().unwrap().display()))
        .build()
        .unwrap();
    pipeline.add(&src).unwrap();
    let (bin, res) = (pipeline.clone(), result.clone());
    src.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps().unwrap();
        let video = caps.structure(0).unwrap().name().starts_with("video/");
        let chain = if video { "videoconvert ! video/x-raw,format=RGBx ! fakesink name=vsink" } else { "fakesink" };
        let branch = gst::parse::bin_from_description(chain, true).unwrap();
        bin.add(&branch).unwrap();
        branch.sync_state_with_parent().unwrap();
        pad.link(&branch.static_pad("sink").unwrap()).unwrap();
        let sinkpad = branch.iterate_sinks().next().unwrap().unwrap().static_pad("sink").unwrap();
        let res = res.clone();
        sinkpad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buffer) = info.buffer() else { return gst::PadProbeReturn::Ok };
            let mut guard = res.lock().unwrap();
            let (a, luma_sum) = &mut *guard;
            let end = buffer.pts().zip(buffer.duration()).map(|(p, d)| p + d);
            if video {
                let info = gst_video::VideoInfo::from_caps(&pad.current_caps().unwrap()).unwrap();
                let map = buffer.map_readable().unwrap();
                let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
                let half = |x0: usize, x1: usize| super::rgbx_luma(&map, (w, h, stride), (x0, x1));
                luma_sum[0] += half(0, w / 2);
                luma_sum[1] += half(w / 2, w);
                a.size = (w, h);
                a.frames += 1;
                a.first_pts = a.first_pts.or(buffer.pts());
                a.end = a.end.max(end);
            } else {
                a.audio_buffers += 1;
                a.audio_end = a.audio_end.max(end);
            }
            gst::PadProbeReturn::Ok
        });
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        .expect("decoding ends within 60 s");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("decoding {}: {} ({:?})", path.display(), e.error(), e.debug());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let (mut a, luma_sum) = result.lock().unwrap().clone();
    let n = a.frames.max(1) as f64;
    a.half_luma = [luma_sum[0] / n, luma_sum[1] / n];
    a.mean_luma = (a.half_luma[0] + a.half_luma[1]) / 2.0;
    a
}
