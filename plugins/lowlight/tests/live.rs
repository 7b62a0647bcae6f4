//! Live sources: the element adds no latency (it reports none, and every
//! frame leaves before the next one arrives, whatever the gaps between
//! frames), and timestamps pass through unchanged. Uses the embedded
//! default model, so nothing here needs ../shared.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use gst::prelude::*;

const CAPS: &str = "video/x-raw,format=NV12,width=160,height=120,framerate=30/1";

/// The latency (live, min) upstream of the sink, once the pipeline plays.
fn latency_of(fragment: &str) -> (bool, gst::ClockTime) {
    let pipeline = gst::parse::launch(&format!("videotestsrc is-live=true ! {CAPS} ! {fragment} ! fakesink name=sink"))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let (result, ..) = pipeline.state(gst::ClockTime::from_seconds(10));
    assert!(result.is_ok(), "{fragment}: the pipeline plays");
    let pad = pipeline.by_name("sink").unwrap().static_pad("sink").unwrap();
    let mut query = gst::query::Latency::new();
    assert!(pad.peer_query(&mut query), "{fragment}: latency query answered");
    pipeline.set_state(gst::State::Null).unwrap();
    let (live, min, _max) = query.result();
    (live, min)
}

#[test]
fn reports_no_latency_of_its_own() {
    common::init();
    let (live, without) = latency_of("identity");
    let (live_with, with) = latency_of("lowlightenhance temporal-smoothing=0.7");
    assert!(live && live_with, "the pipelines are live");
    assert_eq!(with, without, "lowlightenhance adds no latency to a live pipeline");
}

/// Frames pushed live with irregular gaps (0 to 80 ms, as network jitter
/// delivers them): each frame must come out before the next one goes in, with
/// its own timestamp. An element that held a frame back (to smooth over
/// time, say) would leave the wait for that frame to time out.
#[test]
fn jittered_frames_leave_one_by_one_with_their_timestamps() {
    common::init();
    let pipeline = gst::parse::launch(
        "appsrc name=src is-live=true format=time ! lowlightenhance temporal-smoothing=0.7 ! appsink name=sink sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    src.set_caps(Some(&CAPS.parse::<gst::Caps>().unwrap()));
    let (tx, rx) = mpsc::channel();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let _ = tx.send((sample.buffer().unwrap().pts(), Instant::now()));
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    pipeline.set_state(gst::State::Playing).unwrap();

    let frame_size = 160 * 120 * 3 / 2;
    let mut jitter = 12345u32;
    let mut slowest = Duration::ZERO;
    for i in 0..40u64 {
        jitter = jitter.wrapping_mul(1103515245).wrapping_add(12345);
        std::thread::sleep(Duration::from_millis(u64::from(jitter >> 16) % 80));
        let mut buffer = gst::Buffer::from_mut_slice(vec![(20 + i) as u8; frame_size]);
        let pts = gst::ClockTime::from_mseconds(33 * i + u64::from(jitter % 7));
        buffer.get_mut().unwrap().set_pts(pts);
        let pushed = Instant::now();
        src.push_buffer(buffer).unwrap();
        let (out_pts, arrived) =
            rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("frame {i} held back by the element"));
        assert_eq!(out_pts, Some(pts), "frame {i} keeps its timestamp");
        slowest = slowest.max(arrived.saturating_duration_since(pushed));
    }
    src.end_of_stream().unwrap();
    pipeline.set_state(gst::State::Null).unwrap();
    eprintln!("slowest frame through appsrc ! lowlightenhance ! appsink: {slowest:?}");
}
