//! The ingest pipeline: source URI -> decode -> lowlightenhance -> H.264 ->
//! appsink, whose samples go to the [`Relay`]. Audio and other streams of
//! the source are discarded.

use anyhow::{Context, Result};
use gst::prelude::*;

use crate::Args;
use crate::relay::Relay;

fn make(factory: &str) -> Result<gst::Element> {
    gst::ElementFactory::make(factory)
        .build()
        .with_context(|| format!("GStreamer element `{factory}` is missing (see pipelines/README.md for the packages)"))
}

pub fn build(args: &Args, relay: Relay) -> Result<gst::Pipeline> {
    let pipeline = gst::Pipeline::with_name("ingest");
    let src = make("uridecodebin")?;
    src.set_property("uri", &args.source);
    let queue = make("queue")?;
    let convert_in = make("videoconvert")?;
    let enhance = make("lowlightenhance")?;
    if let Some(model) = &args.model {
        enhance.set_property("model", model.to_string_lossy().as_ref());
    }
    enhance.set_property("strength", args.strength);
    enhance.set_property("scale-factor", args.scale_factor);
    enhance.set_property("threads", args.threads);
    let convert_out = make("videoconvert")?;
    let encoder = make("x264enc")?;
    encoder.set_property_from_str("tune", "zerolatency");
    encoder.set_property_from_str("speed-preset", "ultrafast");
    encoder.set_property("bitrate", args.bitrate);
    encoder.set_property("key-int-max", 30u32);
    let h264caps = make("capsfilter")?;
    h264caps.set_property("caps", gst::Caps::builder("video/x-h264").field("profile", "constrained-baseline").build());
    let parse = make("h264parse")?;
    parse.set_property("config-interval", -1i32);
    let sink = gst_app::AppSink::builder()
        .name("enhanced")
        .sync(true)
        .max_buffers(16)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    relay.push(&sample);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        )
        .build();

    let chain = [&queue, &convert_in, &enhance, &convert_out, &encoder, &h264caps, &parse, sink.upcast_ref()];
    pipeline.add_many([&src].into_iter().chain(chain))?;
    gst::Element::link_many(chain)?;

    // A camera over TCP: the data comes over the RTSP connection, so a dead
    // server is noticed at once instead of after a UDP timeout.
    let tcp = args.rtsp_tcp;
    src.connect("source-setup", false, move |values| {
        let source = values[1].get::<gst::Element>().ok()?;
        if source.factory().is_some_and(|f| f.name() == "rtspsrc") {
            if tcp {
                source.set_property_from_str("protocols", "tcp");
            }
            source.set_property("latency", 200u32);
        }
        None
    });
    let video_sink = queue.static_pad("sink").context("queue has no sink pad")?;
    let bin = pipeline.clone();
    src.connect_pad_added(move |_, pad| {
        let is_video =
            pad.current_caps().and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/"))).unwrap_or(false);
        if is_video && !video_sink.is_linked() {
            if let Err(e) = pad.link(&video_sink) {
                gst::element_error!(bin, gst::CoreError::Negotiation, ("Cannot link the source's video: {:?}", e));
            }
            return;
        }
        // Anything else (audio, a second video) is decoded and thrown away.
        let Ok(fake) = gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
        else {
            return;
        };
        if bin.add(&fake).is_ok() {
            let _ = fake.sync_state_with_parent();
            if let Some(sinkpad) = fake.static_pad("sink") {
                let _ = pad.link(&sinkpad);
            }
        }
    });
    Ok(pipeline)
}

/// Asks the encoder for a key frame with headers, so a client that just
/// connected can start decoding at once.
pub fn request_key_frame(pipeline: &gst::Pipeline) {
    let Some(sink) = pipeline.by_name("enhanced") else { return };
    let Some(pad) = sink.static_pad("sink") else { return };
    let event = gst_video::UpstreamForceKeyUnitEvent::builder().all_headers(true).build();
    pad.push_event(event);
}
