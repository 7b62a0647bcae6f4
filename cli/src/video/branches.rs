//! The branches of the re-encode pipeline, as bins with one sink and one
//! source ghost pad: parsed video -> decode -> enhance -> encode, and parsed
//! audio -> (copied as it is, or re-encoded when the container cannot hold it).

use anyhow::{Context, Result};
use gst::prelude::*;

use crate::media::Container;
use crate::pipeline::{make, make_with};

/// `queue ! decodebin ! videoconvert ! ENHANCE ! videoconvert ! encoder ! queue`.
pub fn video_branch(container: Container, enhance: &gst::Element) -> Result<gst::Bin> {
    let bin = gst::Bin::with_name("video");
    let queue = make("queue")?;
    let decode = make("decodebin")?;
    let mut chain = vec![make("videoconvert")?, enhance.clone(), make("videoconvert")?];
    for (factory, properties) in container.video_encoder() {
        chain.push(make_with(factory, properties)?);
    }
    chain.push(make("queue")?);
    bin.add_many([&queue, &decode])?;
    bin.add_many(&chain)?;
    queue.link(&decode)?;
    gst::Element::link_many(&chain)?;
    let first = chain[0].static_pad("sink").context("videoconvert has a sink pad")?;
    decode.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        if caps.structure(0).is_some_and(|s| s.name().starts_with("video/")) && !first.is_linked() {
            let _ = pad.link(&first);
        }
    });
    ghost(&bin, &queue, chain.last().context("the chain ends in a queue")?)?;
    Ok(bin)
}

/// An audio branch for `caps`: an unbounded queue (the video encoder holds
/// back about a second of frames; a full audio queue would stall the
/// demuxer), then the stream as it is when `muxer` takes it, or decoded and
/// encoded for the container.
pub fn audio_branch(container: Container, muxer: &gst::Element, caps: &gst::Caps) -> Result<gst::Bin> {
    let bin = gst::Bin::new();
    let queue = make_with("queue", &[("max-size-buffers", "0"), ("max-size-bytes", "0"), ("max-size-time", "0")])?;
    // The factory's static templates, not the class's pad templates: those
    // of webmmux are floating, and a binding that takes a reference to one
    // sinks it and frees it when dropped (seen with GStreamer 1.22).
    let copy = muxer.factory().is_some_and(|f| {
        f.static_pad_templates().iter().any(|t| t.name_template() == "audio_%u" && t.caps().can_intersect(caps))
    });
    if copy {
        bin.add(&queue)?;
        ghost(&bin, &queue, &queue)?;
        return Ok(bin);
    }
    let decode = make("decodebin")?;
    let mut chain = vec![make("audioconvert")?, make("audioresample")?];
    for factory in container.audio_encoder() {
        chain.push(make(factory)?);
    }
    bin.add_many([&queue, &decode])?;
    bin.add_many(&chain)?;
    queue.link(&decode)?;
    gst::Element::link_many(&chain)?;
    let first = chain[0].static_pad("sink").context("audioconvert has a sink pad")?;
    decode.connect_pad_added(move |_, pad| {
        if !first.is_linked() {
            let _ = pad.link(&first);
        }
    });
    ghost(&bin, &queue, chain.last().context("the chain ends in an encoder")?)?;
    Ok(bin)
}

/// A sink that takes a stream nobody wants (extra video tracks, subtitles).
pub fn discard() -> Result<gst::Element> {
    make_with("fakesink", &[("sync", "false"), ("async", "false")])
}

fn ghost(bin: &gst::Bin, first: &gst::Element, last: &gst::Element) -> Result<()> {
    let sink = gst::GhostPad::with_target(&first.static_pad("sink").context("a sink pad")?)?;
    let src = gst::GhostPad::with_target(&last.static_pad("src").context("a source pad")?)?;
    bin.add_pad(&sink)?;
    bin.add_pad(&src)?;
    Ok(())
}
