//! lowlight-rtsp live on 127.0.0.1: a source RTSP server (this test binary
//! run again as a child process) streams dark H.264; lowlight-rtsp pulls it
//! through rtspsrc, enhances and serves it; a client receives brighter
//! frames. Killing the source makes lowlight-rtsp exit with status 1 and a
//! message, within a bounded time.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::rtsp::{Client, Guard, Lines, free_port};
use gst_rtsp_server::prelude::*;

const SOURCE_PORT_ENV: &str = "LOWLIGHT_TEST_RTSP_SOURCE_PORT";

/// The source server, run only as a child process of the tests below
/// (ignored, and a no-op without its environment variable).
#[test]
#[ignore]
fn source_server_process() {
    let Ok(port) = std::env::var(SOURCE_PORT_ENV) else { return };
    common::init();
    let server = gst_rtsp_server::RTSPServer::new();
    server.set_address("127.0.0.1");
    server.set_service(&port);
    let factory = gst_rtsp_server::RTSPMediaFactory::new();
    factory.set_launch(&format!(
        "( {} ! video/x-raw,width=320,height=240,framerate=30/1 ! videoconvert \
         ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
        common::media::dark_scene(-1)
    ));
    factory.set_shared(true);
    server.mount_points().unwrap().add_factory("/dark", factory);
    let _source = server.attach(None).unwrap();
    println!("source server ready on {port}");
    gst::glib::MainLoop::new(None, false).run();
}

fn spawn_source(port: u16) -> (Guard, Lines) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "source_server_process", "--ignored", "--nocapture", "--test-threads=1"])
        .env(SOURCE_PORT_ENV, port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    assert!(lines.wait_for("source server ready", Duration::from_secs(20)), "the source server starts");
    (Guard(child), lines)
}

fn spawn_lowlight_rtsp(source: &str, port: u16, model: &std::path::Path) -> (Guard, Lines) {
    spawn_lowlight_rtsp_with(source, port, model, &[])
}

fn spawn_lowlight_rtsp_with(source: &str, port: u16, model: &std::path::Path, extra: &[&str]) -> (Guard, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lowlight-rtsp"))
        .args(extra)
        .arg("--address")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--model")
        .arg(model)
        .args(["--stall-timeout", "5", source])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Lines::of(&mut child);
    (Guard(child), lines)
}

#[test]
fn enhances_a_live_rtsp_camera_and_exits_when_it_dies() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let (source_port, out_port) = (free_port(), free_port());
    let (mut source, _source_lines) = spawn_source(source_port);
    let source_url = format!("rtsp://127.0.0.1:{source_port}/dark");
    let input_luma = Client::connect(&source_url).mean_luma(15, Duration::from_secs(30)).expect("the source streams");

    let (mut server, mut lines) = spawn_lowlight_rtsp(&source_url, out_port, &model);
    assert!(lines.wait_for("serving rtsp://", Duration::from_secs(30)), "lowlight-rtsp starts");
    let url = format!("rtsp://127.0.0.1:{out_port}/enhanced");
    let client = Client::connect(&url);
    let luma = client.mean_luma(30, Duration::from_secs(60)).expect("a client receives enhanced frames");
    eprintln!("mean luma: source {input_luma:.3}, enhanced {luma:.3}");
    assert!(input_luma < 0.25, "the source is dark: {input_luma}");
    assert!(luma > input_luma + 0.1, "enhanced frames are brighter: {input_luma} -> {luma}");
    assert!((0.35..0.7).contains(&luma), "mean luma {luma} in 0.35..0.7");

    // The camera dies while the client watches: lowlight-rtsp says so and
    // exits with status 1, and the client's stream ends.
    source.0.kill().unwrap();
    let status =
        server.wait_exit(Duration::from_secs(20)).expect("lowlight-rtsp exits within 20 s of the source dying");
    let log = lines.drain(Duration::from_millis(200));
    eprintln!("lowlight-rtsp after the source died:\n{log}");
    assert!(client.ends_within(Duration::from_secs(20)), "the client's stream ends");
    assert_eq!(status.code(), Some(1), "exit status 1; log:\n{log}");
    assert!(log.contains("lowlight-rtsp: source failed"), "says why; log:\n{log}");
}

/// pipelines/rtsp-enhance.sh (which execs lowlight-rtsp) with `args`.
fn spawn_script(args: &[&str], model: &std::path::Path, video_sink: Option<&str>) -> (Guard, Lines) {
    let mut cmd = Command::new("bash");
    cmd.arg(common::media::script("rtsp-enhance.sh"))
        .args(args)
        .env("LOWLIGHT_RTSP_BIN", env!("CARGO_BIN_EXE_lowlight-rtsp"))
        .env("LOWLIGHT_MODEL", model)
        .env("GST_PLUGIN_PATH", common::media::plugin_dir())
        .env_remove("LOWLIGHT_OPTS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(sink) = video_sink {
        cmd.env("LOWLIGHT_VIDEOSINK", sink);
    }
    let mut child = cmd.spawn().unwrap();
    let lines = Lines::of(&mut child);
    (Guard(child), lines)
}

#[test]
fn script_over_udp_exits_with_status_1_when_the_source_dies() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let (source_port, out_port) = (free_port(), free_port());
    let (mut source, _source_lines) = spawn_source(source_port);
    let source_url = format!("rtsp://127.0.0.1:{source_port}/dark");
    let address = format!("127.0.0.1:{out_port}");
    let args = [source_url.as_str(), "--address", &address, "--stall-timeout", "5", "--rtsp-tcp", "false"];
    let (mut server, mut lines) = spawn_script(&args, &model, None);
    assert!(lines.wait_for("serving rtsp://", Duration::from_secs(30)), "rtsp-enhance.sh starts lowlight-rtsp");
    let client = Client::connect(&format!("rtsp://{address}/enhanced"));
    let luma = client.mean_luma(10, Duration::from_secs(60)).expect("frames flow over UDP");
    assert!(luma > 0.3, "enhanced: {luma}");
    source.0.kill().unwrap();
    // No data any more: an rtspsrc error or the 5 s stall watchdog ends it.
    let status = server.wait_exit(Duration::from_secs(30)).expect("lowlight-rtsp exits within 30 s");
    let log = lines.drain(Duration::from_millis(200));
    eprintln!("lowlight-rtsp after the source died:\n{log}");
    assert_eq!(status.code(), Some(1), "log:\n{log}");
    assert!(log.contains("source failed"), "log:\n{log}");
}

#[test]
fn script_display_mode_plays_and_errors_out_when_the_source_dies() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let source_port = free_port();
    let (mut source, _source_lines) = spawn_source(source_port);
    let url = format!("rtsp://127.0.0.1:{source_port}/dark");
    let (mut player, mut lines) = spawn_script(&[url.as_str(), "--display"], &model, Some("fakesink"));
    assert!(lines.wait_for("Setting pipeline to PLAYING", Duration::from_secs(30)), "the display pipeline plays");
    std::thread::sleep(Duration::from_secs(1));
    assert!(player.0.try_wait().unwrap().is_none(), "still playing");
    source.0.kill().unwrap();
    let status = player.wait_exit(Duration::from_secs(30)).expect("gst-launch exits within 30 s");
    let log = lines.drain(Duration::from_millis(200));
    assert!(!status.success() || log.contains("EOS"), "error or end of stream; log:\n{log}");
}

#[test]
fn unreachable_source_exits_with_status_1() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let source = format!("rtsp://127.0.0.1:{}/nothing", free_port());
    let (mut server, mut lines) = spawn_lowlight_rtsp(&source, free_port(), &model);
    let status = server.wait_exit(Duration::from_secs(30)).expect("exits within 30 s");
    let log = lines.drain(Duration::from_millis(200));
    assert_eq!(status.code(), Some(1), "log:\n{log}");
    assert!(log.contains("source failed"), "log:\n{log}");
}

#[test]
fn bad_model_exits_with_status_2_and_names_the_file() {
    common::init();
    let missing = std::path::Path::new("/nonexistent/model.safetensors");
    let (mut server, mut lines) = spawn_lowlight_rtsp("file:///nonexistent.mp4", free_port(), missing);
    let status = server.wait_exit(Duration::from_secs(30)).expect("exits within 30 s");
    let log = lines.drain(Duration::from_millis(200));
    assert_eq!(status.code(), Some(2), "log:\n{log}");
    assert!(log.contains("/nonexistent/model.safetensors"), "names the model; log:\n{log}");
}

#[test]
fn file_source_that_ends_exits_with_status_0() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("short.mp4");
    common::media::make_dark_mp4(&clip, 20, (160, 120), false);
    let uri = format!("file://{}", clip.display());
    let (mut server, mut lines) = spawn_lowlight_rtsp(&uri, free_port(), &model);
    let status = server.wait_exit(Duration::from_secs(30)).expect("exits within 30 s");
    let log = lines.drain(Duration::from_millis(200));
    assert_eq!(status.code(), Some(0), "log:\n{log}");
    assert!(log.contains("source ended"), "log:\n{log}");
}

/// Sends a signal (`STOP`, `CONT`) to a child process.
fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap();
    assert!(status.success(), "kill -{name}");
}

/// The camera freezes (its process stops: the connection stays open but no
/// data comes): lowlight-rtsp says so and exits with status 1 after the stall
/// timeout. The camera comes back, and lowlight-rtsp started again (as a
/// supervisor would) serves enhanced frames again.
#[test]
fn stalled_source_ends_it_with_a_message_and_a_restart_serves_again() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let source_port = free_port();
    let (source, _source_lines) = spawn_source(source_port);
    let source_url = format!("rtsp://127.0.0.1:{source_port}/dark");

    let out_port = free_port();
    let (mut server, mut lines) = spawn_lowlight_rtsp(&source_url, out_port, &model);
    assert!(lines.wait_for("serving rtsp://", Duration::from_secs(30)), "lowlight-rtsp starts");
    let client = Client::connect(&format!("rtsp://127.0.0.1:{out_port}/enhanced"));
    client.mean_luma(10, Duration::from_secs(60)).expect("frames flow before the stall");

    signal(&source.0, "STOP");
    let status = server.wait_exit(Duration::from_secs(40)).expect("lowlight-rtsp exits within 40 s of the stall");
    let log = lines.drain(Duration::from_millis(200));
    eprintln!("lowlight-rtsp after the source stalled:\n{log}");
    assert_eq!(status.code(), Some(1), "exit status 1; log:\n{log}");
    assert!(log.contains("source failed"), "says why; log:\n{log}");

    signal(&source.0, "CONT");
    let out_port = free_port();
    let (_server, mut lines) = spawn_lowlight_rtsp(&source_url, out_port, &model);
    assert!(lines.wait_for("serving rtsp://", Duration::from_secs(30)), "lowlight-rtsp starts again");
    let client = Client::connect(&format!("rtsp://127.0.0.1:{out_port}/enhanced"));
    let luma = client.mean_luma(10, Duration::from_secs(60)).expect("frames flow after the source returns");
    assert!(luma > 0.3, "enhanced again: {luma}");
}
