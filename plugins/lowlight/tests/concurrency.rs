//! Several elements at once in one process, and properties changed from
//! another thread while frames flow. Every wait is bounded, so a deadlock
//! fails the test instead of hanging it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::yuv::{YuvFrame, caps as yuv_caps};
use common::{core_enhance, make_frame, model_path, noise_image};
use gst::prelude::*;
use gst_video::VideoFormat;
use lowlight::{EnhancerOptions, YuvMatrix, YuvRange};

/// Input frames and the core's results for them, as whole buffers.
struct Case {
    caps: gst::Caps,
    inputs: Vec<gst::Buffer>,
    expected: Vec<Vec<u8>>,
}

/// Packed and YUV cases of different sizes, each frame different.
fn case(model: &std::path::Path, i: usize) -> Case {
    let frames = 4;
    let (w, h) = (24 + 7 * i, 16 + 5 * i);
    if i.is_multiple_of(2) {
        let info = gst_video::VideoInfo::builder(VideoFormat::Rgbx, w as u32, h as u32).build().unwrap();
        let (mut inputs, mut expected) = (Vec::new(), Vec::new());
        for f in 0..frames {
            let rgb = noise_image(w, h, 3, (100 * i + f) as u64);
            let want = core_enhance(model, &rgb, w, h, 1.0);
            // The x bytes are 0 in both: the element leaves them as they are.
            inputs.push(make_frame(&rgb, w as u32, h as u32, VideoFormat::Rgbx, |_| 0).0);
            expected.push(make_frame(&want, w as u32, h as u32, VideoFormat::Rgbx, |_| 0).0.map_readable().unwrap().to_vec());
        }
        Case { caps: info.to_caps().unwrap(), inputs, expected }
    } else {
        let format = if i % 4 == 1 { VideoFormat::I420 } else { VideoFormat::Nv12 };
        let (mut inputs, mut expected) = (Vec::new(), Vec::new());
        for f in 0..frames {
            let frame = YuvFrame::noise(format, w, h, [0; 3], (100 * i + f) as u64);
            let want = frame.core_enhanced(model, EnhancerOptions::default(), YuvMatrix::Bt709, YuvRange::Limited);
            inputs.push(frame.buffer(0));
            expected.push(want.buffer(0).map_readable().unwrap().to_vec());
        }
        Case { caps: yuv_caps(format, w, h, Some("bt709")), inputs, expected }
    }
}

#[test]
fn several_instances_run_concurrently() {
    common::init();
    let Some(model) = model_path() else { return };
    let n = 4;
    let barrier = Arc::new(Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (model, barrier) = (model.clone(), barrier.clone());
            std::thread::spawn(move || {
                let case = case(&model, i);
                let pipeline = gst::parse::launch(&format!(
                    "appsrc name=src format=time ! lowlightenhance threads=1 temporal-smoothing=0 model=\"{}\" ! appsink name=sink sync=false",
                    model.display()
                ))
                .unwrap()
                .downcast::<gst::Pipeline>()
                .unwrap();
                let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
                let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
                src.set_caps(Some(&case.caps));
                pipeline.set_state(gst::State::Playing).unwrap();
                barrier.wait();
                for buffer in &case.inputs {
                    src.push_buffer(buffer.copy_deep().unwrap()).unwrap();
                }
                src.end_of_stream().unwrap();
                for (f, want) in case.expected.iter().enumerate() {
                    let sample = sink.try_pull_sample(gst::ClockTime::from_seconds(30)).expect("a frame within 30 s");
                    let out = sample.buffer().unwrap().map_readable().unwrap().to_vec();
                    assert!(out == *want, "pipeline {i}, frame {f}: differs from the core");
                }
                pipeline.set_state(gst::State::Null).unwrap();
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        t.join().unwrap_or_else(|_| panic!("pipeline {i} failed"));
    }
}

#[test]
fn properties_change_from_another_thread_while_playing() {
    common::init();
    let Some(model) = model_path() else { return };
    let frames = 300;
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers={frames} pattern=ball ! video/x-raw,format=RGBx,width=64,height=48 \
         ! lowlightenhance name=ll model=\"{}\" ! fakesink sync=false",
        model.display()
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let ll = pipeline.by_name("ll").unwrap();
    let passed = Arc::new(AtomicUsize::new(0));
    let counter = passed.clone();
    ll.static_pad("src").unwrap().add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        gst::PadProbeReturn::Ok
    });
    let done = Arc::new(AtomicBool::new(false));
    // Counts the changes made while frames were flowing (some out, not all).
    let changes_mid_stream = Arc::new(AtomicUsize::new(0));
    let setter = {
        let (ll, done, passed, mid) = (ll.clone(), done.clone(), passed.clone(), changes_mid_stream.clone());
        std::thread::spawn(move || {
            let mut k = 0u32;
            while !done.load(Ordering::SeqCst) {
                ll.set_property("strength", (k % 11) as f64 / 10.0);
                ll.set_property("temporal-smoothing", (k % 7) as f64 / 6.0);
                ll.set_property("factor-interval", 1 + k % 4);
                let p = passed.load(Ordering::SeqCst);
                if p > 0 && p < frames {
                    mid.fetch_add(1, Ordering::SeqCst);
                }
                k += 1;
                std::thread::yield_now();
            }
        })
    };
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error]);
    done.store(true, Ordering::SeqCst);
    setter.join().expect("the setter thread does not panic");
    let msg = msg.expect("EOS within 60 s (no deadlock)");
    if let gst::MessageView::Error(e) = msg.view() {
        panic!("ERROR while properties changed: {} ({:?})", e.error(), e.debug());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(passed.load(Ordering::SeqCst), frames, "every frame came out");
    assert!(changes_mid_stream.load(Ordering::SeqCst) > 0, "properties changed while frames flowed");
}
