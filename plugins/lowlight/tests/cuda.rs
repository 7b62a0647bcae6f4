//! The element built with `--features cuda`: caps, device choice and frames,
//! on any machine that can load the build (it needs libcuda.so.1).
//!
//! Without a GPU: the templates still list `memory:CUDAMemory`, but the
//! element refuses those caps and negotiates system memory; `device=auto`
//! runs on the CPU; `device=cuda` stops with an ERROR that says there is no
//! usable CUDA device. With a GPU: CUDA memory caps are accepted, frames in
//! system memory run through the GPU and equal the CPU result within one
//! step, and frames from `cudaupload` (nvcodec) run in place on the device.
//! GPU-only checks print `CUDA test skipped: ...` when there is none.
#![cfg(feature = "cuda")]

mod common;

use common::{core_enhance, make_frame, model_path, noise_image, push_pull, rgb_of};
use gst_video::prelude::*;
use gst_video::VideoFormat;

/// Whether this machine has a usable CUDA device (printed either way).
fn has_gpu() -> bool {
    match lowlight::cuda::Gpu::open(0) {
        Ok(gpu) => {
            println!("CUDA device: {gpu:?}");
            true
        }
        Err(e) => {
            println!("no CUDA device: {e}");
            false
        }
    }
}

fn cuda_caps(format: &str) -> gst::Caps {
    format!("video/x-raw(memory:CUDAMemory), format={format}, width=64, height=48, framerate=30/1").parse().unwrap()
}

fn system_caps(format: &str) -> gst::Caps {
    format!("video/x-raw, format={format}, width=64, height=48, framerate=30/1").parse().unwrap()
}

fn element(device: &str) -> gst::Element {
    let e = gst::ElementFactory::make("lowlightenhance").build().unwrap();
    e.set_property_from_str("device", device);
    e
}

fn assert_close(a: &[u8], b: &[u8], what: &str) {
    let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
    assert!(a.len() == b.len() && max <= 1, "{what}: max |diff| {max}");
}

#[test]
fn templates_offer_cuda_memory_first_and_system_memory() {
    common::init();
    let factory = gst::ElementFactory::find("lowlightenhance").unwrap();
    for template in factory.static_pad_templates() {
        let caps = template.caps();
        let (_, first) = caps.iter_with_features().next().unwrap();
        assert!(first.contains("memory:CUDAMemory"), "{}: {caps}", template.name_template());
        for format in ["RGBA", "BGRA", "RGBx", "BGRx", "NV12"] {
            assert!(caps.can_intersect(&cuda_caps(format)), "{format} in CUDA memory: {caps}");
        }
        assert!(caps.can_intersect(&system_caps("RGBx")), "system memory: {caps}");
        assert!(!caps.can_intersect(&cuda_caps("I420")), "I420 in CUDA memory is not offered");
    }
}

#[test]
fn device_cpu_refuses_cuda_memory_caps() {
    common::init();
    let e = element("cpu");
    let sink = e.static_pad("sink").unwrap();
    assert!(!sink.query_accept_caps(&cuda_caps("NV12")), "device=cpu takes no CUDA memory");
    assert!(sink.query_accept_caps(&system_caps("NV12")));
    let caps = sink.query_caps(None);
    assert!(caps.iter_with_features().all(|(_, f)| !f.contains("memory:CUDAMemory")), "{caps}");
    assert!(!caps.is_empty());
}

#[test]
fn device_auto_takes_cuda_memory_only_with_a_gpu() {
    common::init();
    let gpu = has_gpu();
    let library = gstlowlight::gstcuda::load_library().unwrap_or(false);
    let e = element("auto");
    let sink = e.static_pad("sink").unwrap();
    let accepted = sink.query_accept_caps(&cuda_caps("RGBA"));
    assert_eq!(accepted, gpu && library, "CUDA memory caps accepted: {accepted}; GPU: {gpu}; libgstcuda: {library}");
    assert!(sink.query_accept_caps(&system_caps("RGBA")), "system memory is always accepted");
}

#[test]
fn device_auto_enhances_system_memory_like_the_cpu() {
    common::init();
    let Some(model) = model_path() else { return };
    let gpu = has_gpu();
    let (w, h) = (61u32, 35u32);
    let rgb = noise_image(w as usize, h as usize, 3, 5);
    let expected = core_enhance(&model, &rgb, w as usize, h as usize, 1.0);
    for format in [VideoFormat::Rgbx, VideoFormat::Bgra, VideoFormat::Rgb] {
        let e = element("auto");
        e.set_property("model", model.to_str().unwrap());
        let mut harness = gst_check::Harness::with_element(&e, Some("sink"), Some("src"));
        let (buffer, info) = make_frame(&rgb, w, h, format, |i| i as u8);
        harness.set_src_caps(info.to_caps().unwrap());
        let out = push_pull(&mut harness, buffer);
        let got = rgb_of(&out, &info);
        if gpu {
            assert_close(&got, &expected, &format!("{format:?} through the GPU"));
        } else {
            assert!(got == expected, "{format:?}: device=auto without a GPU runs the CPU path");
        }
    }
}

#[test]
fn device_cuda_without_a_gpu_is_a_clear_error() {
    common::init();
    if has_gpu() {
        println!("CUDA test skipped: a CUDA device is present, so device=cuda starts");
        return;
    }
    let Some(model) = model_path() else { return };
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGBx,width=32,height=16 ! \
         lowlightenhance device=cuda model=\"{}\" ! fakesink",
        model.display()
    ))
    .unwrap();
    let bus = pipeline.bus().unwrap();
    let started = pipeline.set_state(gst::State::Paused);
    let message = bus
        .timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error])
        .expect("an ERROR message");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(started.is_err() || matches!(started, Ok(gst::StateChangeSuccess::Async)));
    let gst::MessageView::Error(err) = message.view() else { unreachable!() };
    let text = err.error().to_string();
    assert!(text.contains("device=cuda") && text.contains("no usable CUDA device"), "{text}");
    assert!(err.error().matches(gst::LibraryError::Settings), "{:?}", err.error());
}

#[test]
fn cuda_memory_frames_run_in_place_on_the_gpu() {
    common::init();
    if !has_gpu() {
        println!("CUDA test skipped: no CUDA device");
        return;
    }
    let Some(model) = model_path() else { return };
    if gst::ElementFactory::find("cudaupload").is_none() || gst::ElementFactory::find("cudadownload").is_none() {
        println!("CUDA test skipped: cudaupload/cudadownload (gstreamer1.0-plugins-bad, nvcodec) are not available");
        return;
    }
    let (w, h) = (64u32, 48u32);
    let rgb = noise_image(w as usize, h as usize, 3, 11);
    let expected = core_enhance(&model, &rgb, w as usize, h as usize, 1.0);
    let (buffer, info) = make_frame(&rgb, w, h, VideoFormat::Rgba, |_| 255);
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src caps=\"{}\" ! cudaupload ! video/x-raw(memory:CUDAMemory) ! \
         lowlightenhance device=cuda model=\"{}\" ! cudadownload ! video/x-raw ! appsink name=sink sync=false",
        info.to_caps().unwrap(),
        model.display()
    ))
    .unwrap()
    .downcast::<gst::Bin>()
    .unwrap();
    let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    src.push_buffer(buffer).unwrap();
    src.end_of_stream().unwrap();
    let sample = sink.pull_sample().expect("a frame comes out");
    pipeline.set_state(gst::State::Null).unwrap();
    let caps = sample.caps().unwrap().to_owned();
    let out_info = gst_video::VideoInfo::from_caps(&caps).unwrap();
    let frame = gst_video::VideoFrame::from_buffer_readable(sample.buffer_owned().unwrap(), &out_info).unwrap();
    let mut packed = Vec::new();
    for y in 0..h as usize {
        let stride = frame.plane_stride()[0] as usize;
        packed.extend_from_slice(&frame.plane_data(0).unwrap()[y * stride..y * stride + 4 * w as usize]);
    }
    let tight = gst_video::VideoInfo::builder(VideoFormat::Rgba, w, h).build().unwrap();
    assert_close(&rgb_of(&packed, &tight), &expected, "RGBA through cudaupload ! lowlightenhance ! cudadownload");
}
