//! `lowlight enhance IN.mp4 OUT.mp4`: a video re-encoded through the
//! `lowlightenhance` element, as pipelines/mp4-reencode.sh does:
//!
//! ```text
//! filesrc ! parsebin ! queue ! decodebin ! videoconvert ! lowlightenhance ! videoconvert ! x264enc ! h264parse ! queue ! mux
//!           parsebin ! queue (audio, copied) ! mux          mux ! filesink (temporary file, renamed at the end)
//! ```
//!
//! with a progress bar. Errors (not a video, corrupt or truncated file,
//! bad model) end the run with one line and leave no output.

mod branches;
mod element;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use gst::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

pub use element::{VideoSettings, make_enhancer, set_number};

use crate::media::Container;
use crate::output::{PendingOutput, refuse_input_as_output};
use crate::pipeline::{Coverage, ReaderWatch, Stopper, make, run_to_eos};

/// What the streaming threads report to the main thread.
#[derive(Default)]
struct Progress {
    /// The enhanced frames.
    coverage: Arc<Coverage>,
    has_video: AtomicBool,
    /// The parsed video pad, to ask the demuxer for the duration.
    video_pad: Mutex<Option<gst::Pad>>,
}

/// Re-encodes `input` enhanced into `output` (container from its extension).
pub fn reencode(input: &Path, output: &Path, settings: &VideoSettings) -> Result<()> {
    crate::init_gstreamer()?;
    let container = Container::for_output(output)?;
    refuse_input_as_output(input, output)?;
    if !input.is_file() {
        bail!("{}: no such file", input.display());
    }
    let enhance = make_enhancer(settings)?;
    let pending = PendingOutput::new(output)?;
    let pipeline = gst::Pipeline::new();
    let stop = Stopper(pipeline.clone());
    let src = make("filesrc")?;
    src.set_property("location", input.to_str().context("the input path is not UTF-8")?);
    let parse = make("parsebin")?;
    let mux = make(container.muxer())?;
    let sink = make("filesink")?;
    sink.set_property("location", pending.path().to_str().context("the output path is not UTF-8")?);
    pipeline.add_many([&src, &parse, &mux, &sink])?;
    src.link(&parse)?;
    mux.link(&sink)?;

    let progress = Arc::new(Progress::default());
    progress.coverage.watch(&enhance.static_pad("src").context("lowlightenhance has a source pad")?);
    let (bin, muxer, state) = (pipeline.clone(), mux.clone(), progress.clone());
    let exposed = Arc::new(AtomicBool::new(false));
    let reader = ReaderWatch::new(&parse, exposed.clone())?;
    parse.connect_pad_added(move |parse, pad| {
        exposed.store(true, Ordering::SeqCst);
        if let Err(e) = link_stream(&bin, &muxer, container, &enhance, &state, pad) {
            let msg = format!("cannot set up the pipeline: {e:#}");
            let _ =
                parse.post_message(gst::message::Error::builder(gst::CoreError::Negotiation, &msg).src(parse).build());
        }
    });
    let bar = ProgressBar::new(0)
        .with_style(ProgressStyle::with_template("{bar:40} {msg} eta {eta}").expect("valid template"));
    let state = progress.clone();
    run_to_eos(&pipeline, input, Some(reader), || state.coverage.frames(), || update_bar(&bar, &state))?;
    bar.finish_and_clear();
    drop(stop);
    if !progress.has_video.load(Ordering::SeqCst) {
        bail!("{}: the file has no video stream", input.display());
    }
    if progress.coverage.frames() == 0 {
        bail!("{}: no video frame could be decoded", input.display());
    }
    progress.coverage.check_complete(input)?;
    pending.commit()
}

/// Links one stream of parsebin: the first video stream through the
/// enhancer, audio streams to the muxer, anything else to a fakesink.
fn link_stream(
    pipeline: &gst::Pipeline,
    mux: &gst::Element,
    container: Container,
    enhance: &gst::Element,
    progress: &Arc<Progress>,
    pad: &gst::Pad,
) -> Result<()> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let kind = caps.structure(0).map(|s| s.name().to_string()).unwrap_or_default();
    let (branch, mux_pad): (gst::Element, Option<&str>) =
        if kind.starts_with("video/") && !progress.has_video.swap(true, Ordering::SeqCst) {
            *progress.video_pad.lock().unwrap_or_else(|p| p.into_inner()) = Some(pad.clone());
            (branches::video_branch(container, enhance)?.upcast(), Some("video_%u"))
        } else if kind.starts_with("audio/") {
            (branches::audio_branch(container, mux, &caps)?.upcast(), Some("audio_%u"))
        } else {
            (branches::discard()?, None)
        };
    if !kind.starts_with("video/") {
        fail_without_video(pad, progress.clone());
    }
    pipeline.add(&branch)?;
    if let Some(template) = mux_pad {
        let target = mux
            .request_pad_simple(template)
            .with_context(|| format!("{} takes no more {template} streams", mux.name()))?;
        branch.static_pad("src").context("the branch has a source pad")?.link(&target)?;
    }
    branch.sync_state_with_parent()?;
    pad.link(&branch.static_pad("sink").context("the branch has a sink pad")?)?;
    Ok(())
}

/// Parsebin exposes every stream before data flows: when data or the end
/// arrives on another stream and no video stream was linked, the file has
/// none (and the muxer would wait for ever).
fn fail_without_video(pad: &gst::Pad, progress: Arc<Progress>) {
    pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
        let eos = matches!(info.event().map(|e| e.type_()), Some(gst::EventType::Eos));
        if (info.buffer().is_some() || eos) && !progress.has_video.load(Ordering::SeqCst) {
            let error = gst::message::Error::builder(gst::StreamError::WrongType, "the file has no video stream");
            if let Some(parent) = pad.parent_element() {
                let _ = parent.post_message(error.src(&parent).build());
            }
            return gst::PadProbeReturn::Remove;
        }
        if info.buffer().is_some() { gst::PadProbeReturn::Remove } else { gst::PadProbeReturn::Ok }
    });
}

fn update_bar(bar: &ProgressBar, progress: &Progress) {
    let duration =
        progress.video_pad.lock().ok().and_then(|p| p.as_ref().and_then(|pad| pad.query_duration::<gst::ClockTime>()));
    let position = progress.coverage.end.load(Ordering::Relaxed) / 1_000_000;
    if let Some(d) = duration {
        bar.set_length(d.mseconds().max(1));
    }
    bar.set_position(position);
    let total = duration.map(|d| format!(" / {:.1} s", d.mseconds() as f64 / 1000.0)).unwrap_or_default();
    bar.set_message(format!("{:.1} s{total}, {} frames", position as f64 / 1000.0, progress.coverage.frames()));
}
