//! Decoding the first video stream of a file into packed RGBx frames, in
//! order (for measurements). Other streams are discarded.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;
use lowlight::{FrameLayout, PixelFormat};

use crate::interrupt;
use crate::pipeline::{Coverage, ReaderWatch, STALL_TIMEOUT, Stopper, error_text, first_error, gave_up_error, make};

/// Calls `f` with every decoded frame (RGBx, its layout) and returns the
/// number of frames. Fails with one line on a file that is not a video, a
/// corrupt one, or when `f` fails.
pub fn for_each_frame(path: &Path, mut f: impl FnMut(&[u8], &FrameLayout) -> Result<()>) -> Result<u64> {
    crate::init_gstreamer()?;
    if !path.is_file() {
        bail!("{}: no such file", path.display());
    }
    let pipeline = gst::Pipeline::new();
    let _stop = Stopper(pipeline.clone());
    let src = make("filesrc")?;
    src.set_property("location", path.to_str().context("the path is not UTF-8")?);
    let decode = make("decodebin")?;
    let convert = make("videoconvert")?;
    let sink = gst_app::AppSink::builder()
        .caps(&gst_video::VideoCapsBuilder::new().format(gst_video::VideoFormat::Rgbx).build())
        .sync(false)
        .max_buffers(4)
        .build();
    pipeline.add_many([&src, &decode, &convert, sink.upcast_ref()])?;
    src.link(&decode)?;
    convert.link(&sink)?;
    let coverage = Arc::new(Coverage::default());
    coverage.watch(&sink.static_pad("sink").context("appsink has a sink pad")?);
    let linked = Arc::new(AtomicBool::new(false));
    let exposed = Arc::new(AtomicBool::new(false));
    let mut reader = ReaderWatch::new(&decode, exposed.clone())?;
    let (bin, convert_sink, video) =
        (pipeline.clone(), convert.static_pad("sink").context("videoconvert has a sink")?, linked.clone());
    decode.connect_pad_added(move |_, pad| {
        exposed.store(true, Ordering::SeqCst);
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_video = caps.structure(0).is_some_and(|s| s.name().starts_with("video/"));
        if is_video && !video.swap(true, Ordering::SeqCst) {
            let _ = pad.link(&convert_sink);
        } else if let Ok(discard) =
            gst::ElementFactory::make("fakesink").property("async", false).property("sync", false).build()
        {
            let _ = bin.add(&discard);
            let _ = discard.sync_state_with_parent();
            if let Some(sinkpad) = discard.static_pad("sink") {
                let _ = pad.link(&sinkpad);
            }
        }
    });
    let (element, video) = (decode.clone(), linked.clone());
    decode.connect_no_more_pads(move |_| {
        if !video.load(Ordering::SeqCst) {
            let _ = element.post_message(
                gst::message::Error::builder(gst::StreamError::WrongType, "the file has no video stream")
                    .src(&element)
                    .build(),
            );
        }
    });

    let bus = pipeline.bus().context("the pipeline has a bus")?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(first_error(&bus, path).unwrap_or_else(|| anyhow!("{}: cannot decode", path.display())));
    }
    let (mut frames, mut since) = (0u64, Instant::now());
    loop {
        interrupt::check()?;
        if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = msg.view()
        {
            bail!(error_text(path, e));
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            if sink.is_eos() {
                break;
            }
            if reader.gave_up() {
                return Err(gave_up_error(path));
            }
            if since.elapsed() > STALL_TIMEOUT {
                bail!("{}: no frame decoded for {} s; stopped", path.display(), STALL_TIMEOUT.as_secs());
            }
            continue;
        };
        let caps = sample.caps().context("decoded frames have caps")?;
        let info = gst_video::VideoInfo::from_caps(caps).context("decoded frames have video caps")?;
        let buffer = sample.buffer().context("a decoded sample holds a buffer")?;
        let map = buffer.map_readable().context("cannot map a decoded frame")?;
        let layout = FrameLayout {
            width: info.width() as usize,
            height: info.height() as usize,
            stride: info.stride()[0] as usize,
            format: PixelFormat::Rgbx,
        };
        layout.validate(map.len())?;
        f(&map, &layout)?;
        frames += 1;
        since = Instant::now();
    }
    // An error can arrive together with EOS (a demuxer giving up).
    if let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
        && let gst::MessageView::Error(e) = msg.view()
    {
        bail!(error_text(path, e));
    }
    if !linked.load(Ordering::SeqCst) {
        bail!("{}: the file has no video stream", path.display());
    }
    if frames == 0 {
        bail!("{}: no video frame could be decoded", path.display());
    }
    coverage.check_complete(path)?;
    Ok(frames)
}
