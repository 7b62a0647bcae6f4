//! Small helpers around GStreamer pipelines: making elements with a clear
//! error, one-line error texts, and running a pipeline to its end with a
//! bound on how long it may go without progress.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use gst::prelude::*;

use crate::interrupt;

/// How long a pipeline may go without progress before it is stopped.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a reader that exposed no stream may have no streaming task
/// running before it counts as given up ([`ReaderWatch`]).
pub const GAVE_UP_AFTER: Duration = Duration::from_secs(2);

/// Watches an auto-plugging reader (parsebin, decodebin) for the case
/// where its demuxer fails while the reader is still setting it up: a
/// truncated MP4 without its index, under load. The reader then keeps the
/// demuxer's error to itself (it filters errors of the elements it is
/// plugging) and the pipeline would wait for ever. Seen as: no stream
/// exposed, and for [`GAVE_UP_AFTER`] no streaming task in the reader
/// running while one is paused (the demuxer's, after its error).
pub struct ReaderWatch {
    reader: gst::Bin,
    exposed: Arc<AtomicBool>,
    idle_since: Option<Instant>,
}

impl ReaderWatch {
    /// Watches `reader`; `exposed` turns true when it adds its first pad.
    pub fn new(reader: &gst::Element, exposed: Arc<AtomicBool>) -> Result<Self> {
        let reader = reader.clone().downcast::<gst::Bin>().map_err(|_| anyhow!("the reader is not a bin"))?;
        Ok(Self { reader, exposed, idle_since: None })
    }

    /// Whether the reader has given up (checked about every 100 ms).
    pub fn gave_up(&mut self) -> bool {
        if self.exposed.load(Ordering::SeqCst) || !self.tasks_stopped() {
            self.idle_since = None;
            return false;
        }
        self.idle_since.get_or_insert_with(Instant::now).elapsed() >= GAVE_UP_AFTER
    }

    /// No task on any pad inside the reader is running, and one is paused.
    fn tasks_stopped(&self) -> bool {
        let mut paused = false;
        for element in self.reader.iterate_recurse().into_iter().flatten() {
            for pad in element.pads() {
                match pad.task_state() {
                    gst::TaskState::Started => return false,
                    gst::TaskState::Paused => paused = true,
                    _ => {}
                }
            }
        }
        paused
    }
}

/// The error of a reader that gave up without a message.
pub fn gave_up_error(input: &Path) -> anyhow::Error {
    anyhow!(
        "{}: cannot read the video, the file is corrupt or truncated (the demuxer stopped before finding a stream)",
        input.display()
    )
}

/// Makes an element, or says which plugin is missing.
pub fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| anyhow!("the GStreamer element {factory} is not installed (see scripts/setup.sh)"))
}

/// Makes an element and sets properties from strings (as gst-launch does).
pub fn make_with(factory: &str, properties: &[(&str, &str)]) -> Result<gst::Element> {
    let element = make(factory)?;
    for (name, value) in properties {
        if element.find_property(name).is_none() {
            bail!("the GStreamer element {factory} has no property {name}");
        }
        element.set_property_from_str(name, value);
    }
    Ok(element)
}

/// A GStreamer error about `input` as one line.
pub fn error_text(input: &Path, error: &gst::message::Error) -> String {
    let err = error.error();
    let from = error.src().map(|s| s.name().to_string()).unwrap_or_default();
    if err.matches(gst::StreamError::TypeNotFound) || err.matches(gst::StreamError::WrongType) {
        return format!("{}: not a video file GStreamer can read ({err})", input.display());
    }
    let text = err.to_string().replace('\n', " ");
    let from_reader = from.contains("demux") || from.contains("parsebin") || from.contains("typefind");
    if from_reader && err.kind::<gst::StreamError>().is_some() {
        format!("{}: cannot read the video, the file is corrupt or truncated ({text})", input.display())
    } else if from.starts_with("lowlightenhance") || text.contains(&input.display().to_string()) {
        text
    } else {
        format!("{}: {text} (in {from})", input.display())
    }
}

/// Watches a running pipeline: returns at EOS, fails at the first error,
/// on Ctrl-C, when its `reader` gave up without an error ([`ReaderWatch`]),
/// or when `progress()` (e.g. frames done) has not changed for
/// [`STALL_TIMEOUT`]. `tick` runs about every 100 ms (progress bars).
pub fn run_to_eos(
    pipeline: &gst::Pipeline,
    input: &Path,
    mut reader: Option<ReaderWatch>,
    progress: impl Fn() -> u64,
    mut tick: impl FnMut(),
) -> Result<()> {
    let bus = pipeline.bus().ok_or_else(|| anyhow!("the pipeline has no bus"))?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(
            first_error(&bus, input).unwrap_or_else(|| anyhow!("{}: the pipeline cannot start", input.display()))
        );
    }
    let (mut last, mut since) = (progress(), Instant::now());
    loop {
        interrupt::check()?;
        if let Some(msg) = bus
            .timed_pop_filtered(gst::ClockTime::from_mseconds(100), &[gst::MessageType::Eos, gst::MessageType::Error])
        {
            match msg.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(e) => bail!(error_text(input, e)),
                _ => {}
            }
        }
        tick();
        if reader.as_mut().is_some_and(ReaderWatch::gave_up) {
            return Err(gave_up_error(input));
        }
        let now = progress();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > STALL_TIMEOUT {
            bail!("{}: no progress for {} s; stopped", input.display(), STALL_TIMEOUT.as_secs());
        }
    }
}

/// The first error waiting on the bus, if any (after a failed state change).
pub fn first_error(bus: &gst::Bus, input: &Path) -> Option<anyhow::Error> {
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(e) => Some(anyhow!(error_text(input, e))),
        _ => None,
    }
}

/// Stops a pipeline on drop, so that every return path releases its files.
pub struct Stopper(pub gst::Pipeline);

impl Drop for Stopper {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// Frames through a pad and how far they got, against where the stream's
/// segment says it stops: a video that ends early is a truncated file.
#[derive(Debug, Default)]
pub struct Coverage {
    pub frames: AtomicU64,
    /// End (PTS + duration) of the last frame, ns.
    pub end: AtomicU64,
    /// Segment stop + 1 in ns (0: unknown).
    stop: AtomicU64,
    /// Longest frame duration seen, ns.
    frame_duration: AtomicU64,
}

impl Coverage {
    /// Counts the buffers through `pad` and records its segment.
    pub fn watch(self: &Arc<Self>, pad: &gst::Pad) {
        let this = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(buffer) = info.buffer() {
                this.frames.fetch_add(1, Ordering::Relaxed);
                let duration = buffer.duration().map_or(0, |d| d.nseconds());
                this.frame_duration.fetch_max(duration, Ordering::Relaxed);
                if let Some(pts) = buffer.pts() {
                    this.end.fetch_max(pts.nseconds() + duration, Ordering::Relaxed);
                }
            } else if let Some(gst::EventView::Segment(s)) = info.event().map(|e| e.view()) {
                let stop = s.segment().downcast_ref::<gst::ClockTime>().and_then(|s| s.stop());
                this.stop.store(stop.map_or(0, |t| t.nseconds() + 1), Ordering::Relaxed);
            }
            gst::PadProbeReturn::Ok
        });
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Fails when the frames ended more than two frames (at least 0.1 s)
    /// before the segment's stop.
    pub fn check_complete(&self, input: &Path) -> Result<()> {
        let stop = self.stop.load(Ordering::Relaxed);
        if stop == 0 {
            return Ok(());
        }
        let (stop, end) = (stop - 1, self.end.load(Ordering::Relaxed));
        let slack = (2 * self.frame_duration.load(Ordering::Relaxed)).max(100_000_000);
        if end + slack < stop {
            bail!(
                "{}: the video stops at {:.2} s of {:.2} s; the file is truncated or corrupt",
                input.display(),
                end as f64 * 1e-9,
                stop as f64 * 1e-9
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bin with one streaming task that runs, then pauses as a demuxer's
    /// does after an error.
    #[test]
    fn a_reader_whose_tasks_stopped_before_a_stream_gave_up() {
        crate::init_gstreamer().unwrap();
        let reader = gst::Bin::new();
        let identity = make("identity").unwrap();
        reader.add(&identity).unwrap();
        let exposed = Arc::new(AtomicBool::new(false));
        let mut watch = ReaderWatch::new(reader.upcast_ref(), exposed.clone()).unwrap();
        let pad = identity.static_pad("sink").unwrap();
        assert!(!watch.gave_up() && !watch.tasks_stopped(), "no task at all is not a stopped one");
        pad.start_task(|| std::thread::sleep(Duration::from_millis(5))).unwrap();
        std::thread::sleep(GAVE_UP_AFTER + Duration::from_millis(100));
        assert!(!watch.gave_up(), "a running task is progress");
        pad.pause_task().unwrap();
        assert!(!watch.gave_up(), "not at once: a demuxer may take over from typefind");
        std::thread::sleep(GAVE_UP_AFTER + Duration::from_millis(100));
        assert!(watch.gave_up());
        exposed.store(true, Ordering::SeqCst);
        assert!(!watch.gave_up(), "a reader that exposed a stream has not given up");
        pad.stop_task().unwrap();
    }
}
