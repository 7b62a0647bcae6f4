//! Start-up failures: each posts one ERROR message that names the file or
//! setting and the problem, the state change fails, nothing panics, and the
//! pipeline goes back to NULL cleanly.

mod common;

use std::io::Write;

use gst::prelude::*;

/// Runs `videotestsrc ! lowlightenhance ! fakesink` with `configure`
/// applied to the element; returns the ERROR message, if any.
fn start_error(configure: impl FnOnce(&gst::Element)) -> Option<(glib::Error, String)> {
    common::init();
    let pipeline = gst::parse::launch(
        "videotestsrc num-buffers=2 ! video/x-raw,format=RGBx,width=32,height=24 ! lowlightenhance name=ll ! fakesink",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    configure(&pipeline.by_name("ll").unwrap());
    let started = pipeline.set_state(gst::State::Playing);
    let bus = pipeline.bus().unwrap();
    let msg =
        bus.timed_pop_filtered(gst::ClockTime::from_seconds(10), &[gst::MessageType::Error, gst::MessageType::Eos]);
    let result = match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => {
            assert!(started.is_err(), "the state change fails when start() fails");
            Some((e.error(), e.debug().map(|d| d.to_string()).unwrap_or_default()))
        }
        _ => None,
    };
    assert_eq!(pipeline.set_state(gst::State::Null), Ok(gst::StateChangeSuccess::Success), "back to NULL cleanly");
    result
}

use gst::glib;

#[test]
fn missing_model_file() {
    let path = "/nonexistent/lowlight/missing.safetensors";
    let (err, _) = start_error(|e| e.set_property("model", path)).expect("an ERROR message");
    let text = err.message();
    assert!(text.contains(path), "names the file: {text}");
    assert!(text.contains("No such file"), "says what is wrong: {text}");
    assert!(err.matches(gst::ResourceError::NotFound), "domain/code: {err:?}");
}

#[test]
fn unreadable_model_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string(); // a directory, not a file
    let (err, _) = start_error(|e| e.set_property("model", &path)).expect("an ERROR message");
    assert!(err.message().contains(&path), "names the path: {}", err.message());
    assert!(err.matches(gst::ResourceError::OpenRead) || err.matches(gst::ResourceError::Read), "{err:?}");
}

#[test]
fn corrupt_model_file() {
    let mut file = tempfile::Builder::new().suffix(".safetensors").tempfile().unwrap();
    file.write_all(b"this is not a safetensors file, just some text\n").unwrap();
    let path = file.path().to_str().unwrap().to_string();
    let (err, _) = start_error(|e| e.set_property("model", &path)).expect("an ERROR message");
    let text = err.message();
    assert!(text.contains(&path), "names the file: {text}");
    assert!(text.contains("not a safetensors file"), "says what is wrong: {text}");
    assert!(err.matches(gst::ResourceError::Read), "domain/code: {err:?}");
}

#[test]
fn truncated_model_file() {
    let Some(model) = common::model_path() else { return };
    let bytes = std::fs::read(&model).unwrap();
    let mut file = tempfile::Builder::new().suffix(".safetensors").tempfile().unwrap();
    file.write_all(&bytes[..bytes.len() / 2]).unwrap();
    let path = file.path().to_str().unwrap().to_string();
    let (err, _) = start_error(|e| e.set_property("model", &path)).expect("an ERROR message");
    assert!(err.message().contains(&path), "names the file: {}", err.message());
}

#[test]
#[cfg(not(feature = "cuda"))] // with CUDA: tests/cuda.rs
fn cuda_device_in_a_cpu_only_build() {
    let model = common::model_path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let (err, _) = start_error(|e| {
        e.set_property("model", &model);
        e.set_property_from_str("device", "cuda");
    })
    .expect("an ERROR message");
    assert!(err.message().contains("CUDA"), "says CUDA is missing: {}", err.message());
    assert!(err.matches(gst::LibraryError::Settings), "{err:?}");
}

#[test]
fn empty_model_uses_the_embedded_default() {
    let outcome = start_error(|_| {});
    match lowlight::Sgz::embedded_default() {
        Ok(_) => assert!(outcome.is_none(), "the embedded default starts: {outcome:?}"),
        Err(e) => {
            let (err, _) = outcome.expect("an ERROR message");
            assert!(err.message().contains(&e.to_string()), "passes the core's reason on: {}", err.message());
            assert!(err.message().contains("model"), "{}", err.message());
        }
    }
}

#[test]
fn good_model_runs_to_eos() {
    let Some(model) = common::model_path() else { return };
    assert!(start_error(|e| e.set_property("model", model.to_str().unwrap())).is_none());
}

/// Runs `pipeline` from NULL to EOS or ERROR (30 s at most) and back to NULL;
/// returns the ERROR, if any, and the frames that left `ll`.
fn run_once(pipeline: &gst::Pipeline) -> (Option<glib::Error>, usize) {
    let frames = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pad = pipeline.by_name("ll").unwrap().static_pad("src").unwrap();
    let counter = frames.clone();
    let probe = pad
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        })
        .unwrap();
    let _ = pipeline.set_state(gst::State::Playing);
    let msg = pipeline
        .bus()
        .unwrap()
        .timed_pop_filtered(gst::ClockTime::from_seconds(30), &[gst::MessageType::Error, gst::MessageType::Eos])
        .expect("EOS or ERROR within 30 s");
    assert_eq!(pipeline.set_state(gst::State::Null), Ok(gst::StateChangeSuccess::Success));
    pad.remove_probe(probe);
    let error = match msg.view() {
        gst::MessageView::Error(e) => Some(e.error()),
        _ => None,
    };
    (error, frames.load(std::sync::atomic::Ordering::SeqCst))
}

#[test]
fn model_changed_while_stopped_to_a_corrupt_file_and_back() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let good = model.to_str().unwrap();
    let mut file = tempfile::Builder::new().suffix(".safetensors").tempfile().unwrap();
    file.write_all(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}").unwrap();
    let corrupt = file.path().to_str().unwrap().to_string();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc num-buffers=3 ! video/x-raw,format=RGBx,width=32,height=24 ! lowlightenhance name=ll model=\"{good}\" ! fakesink"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let ll = pipeline.by_name("ll").unwrap();

    assert_eq!(run_once(&pipeline), (None, 3), "runs with the good model");
    ll.set_property("model", &corrupt);
    let (error, frames) = run_once(&pipeline);
    let error = error.expect("an ERROR with the corrupt model");
    assert!(error.message().contains(&corrupt), "names the file: {}", error.message());
    assert_eq!(frames, 0);
    ll.set_property("model", good);
    assert_eq!(run_once(&pipeline), (None, 3), "runs again with the good model");
}
