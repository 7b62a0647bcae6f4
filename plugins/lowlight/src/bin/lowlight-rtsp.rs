//! lowlight-rtsp: enhances a video source (an RTSP camera, or any URI
//! GStreamer can open) with `lowlightenhance` and serves the result as an
//! RTSP stream.
//!
//! The source is opened at start, not when a client connects, and encoded
//! once for all clients. When the source fails (a camera that goes away, a
//! network error), a live source ends its stream, or no frame arrives for
//! `--stall-timeout` seconds, the program prints one line saying so and
//! exits with status 1, so a supervisor (systemd `Restart=on-failure`, a
//! shell loop) restarts it; it does not reconnect by itself. When a non-live
//! source (a file) ends, it exits with status 0. Bad arguments or a bad
//! model: status 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;

#[path = "lowlight-rtsp/ingest.rs"]
mod ingest;
#[path = "lowlight-rtsp/relay.rs"]
mod relay;
#[path = "lowlight-rtsp/serve.rs"]
mod serve;

/// Command-line arguments.
#[derive(Parser, Debug, Clone)]
#[command(
    version,
    about = "Enhance a video source (an RTSP camera or any URI) with lowlightenhance and serve it over RTSP",
    after_help = "Exit status: 1 when the source fails, a live source ends or stalls (no reconnection: \
                  run it under a supervisor); 0 when a file source ends; 2 for bad arguments or model."
)]
pub struct Args {
    /// Source URI: rtsp://CAMERA/..., file:///path/clip.mp4, ...
    pub source: String,
    /// Listen on HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8554")]
    pub address: String,
    /// Mount point of the enhanced stream.
    #[arg(long, default_value = "/enhanced")]
    pub mount: String,
    /// SGZ weights (safetensors); default: the model embedded in the plugin.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Strength 0..1 of the enhancement.
    #[arg(long, default_value_t = 1.0)]
    pub strength: f64,
    /// Scale factor 1..64 of the network's grid.
    #[arg(long, default_value_t = 12)]
    pub scale_factor: u32,
    /// Worker threads of the enhancer (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: u32,
    /// H.264 bit rate in kbit/s.
    #[arg(long, default_value_t = 4000)]
    pub bitrate: u32,
    /// Exit with status 1 when the source sends no frame for this many seconds.
    #[arg(long, default_value_t = 10)]
    pub stall_timeout: u64,
    /// Receive an RTSP source over TCP (default; a dead camera is noticed at once).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub rtsp_tcp: bool,
}

/// How the program ends.
enum Outcome {
    Ended,
    Failed(String),
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(Outcome::Ended) => {
            println!("lowlight-rtsp: source ended; exiting");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Failed(why)) => {
            eprintln!("lowlight-rtsp: source failed: {why}; exiting");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("lowlight-rtsp: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<Outcome> {
    gst::init().context("cannot initialise GStreamer")?;
    gstlowlight::plugin_register_static().context("cannot register the lowlight plugin")?;
    let main_loop = glib::MainLoop::new(None, false);
    let relay = relay::Relay::default();
    let pipeline = ingest::build(args, relay.clone())?;

    // Start the source before serving: a bad model fails here (status 2), an
    // unreachable camera posts an error soon after (status 1).
    pipeline.set_state(gst::State::Playing).map_err(|_| first_error(&pipeline))?;

    let weak = pipeline.downgrade();
    let server = serve::build(&args.address, &args.mount, relay.clone(), move || {
        if let Some(p) = weak.upgrade() {
            ingest::request_key_frame(&p);
        }
    })?;
    let _server_source = server.attach(None).with_context(|| format!("cannot listen on {}", args.address))?;
    println!("lowlight-rtsp: serving rtsp://{}{} (source {})", args.address, args.mount, args.source);

    let outcome = Arc::new(Mutex::new(None::<Outcome>));
    // Whether the source is live (a camera), asked once frames flow: the end
    // of a live stream is a failure, the end of a file is not.
    let live = Arc::new(Mutex::new(None::<bool>));
    let bus = pipeline.bus().context("pipeline without bus")?;
    let (ml, out, is_live, source) = (main_loop.clone(), outcome.clone(), live.clone(), args.source.clone());
    let weak = pipeline.downgrade();
    let _bus_watch = bus.add_watch(move |_, msg| {
        let end = match msg.view() {
            gst::MessageView::Eos(_) => {
                let live = is_live.lock().unwrap().or_else(|| weak.upgrade().and_then(|p| query_live(&p)));
                if live == Some(false) {
                    Some(Outcome::Ended)
                } else {
                    Some(Outcome::Failed(format!("{source} ended its live stream (connection closed)")))
                }
            }
            gst::MessageView::Error(e) => Some(Outcome::Failed(describe(e))),
            _ => None,
        };
        if let Some(end) = end {
            *out.lock().unwrap() = Some(end);
            ml.quit();
            return glib::ControlFlow::Break;
        }
        glib::ControlFlow::Continue
    })?;

    // Watchdog: a source that sends nothing for `stall` fails.
    let (ml, out, stall) = (main_loop.clone(), outcome.clone(), Duration::from_secs(args.stall_timeout.max(1)));
    let started = std::time::Instant::now();
    let weak = pipeline.downgrade();
    glib::timeout_add(Duration::from_millis(250), move || {
        let (last, n) = relay.progress();
        let mut is_live = live.lock().unwrap();
        if is_live.is_none() && n > 0 {
            *is_live = weak.upgrade().and_then(|p| query_live(&p));
        }
        drop(is_live);
        if last.unwrap_or(started).elapsed() > stall {
            let why = format!("no frame for {} s ({} frames so far)", stall.as_secs(), n);
            *out.lock().unwrap() = Some(Outcome::Failed(why));
            ml.quit();
            return glib::ControlFlow::Break;
        }
        glib::ControlFlow::Continue
    });

    main_loop.run();
    let _ = pipeline.set_state(gst::State::Null);
    let end = outcome.lock().unwrap().take();
    Ok(end.unwrap_or(Outcome::Ended))
}

/// Whether the source is live: a latency query upstream of the appsink (a
/// query on the pipeline would count the synchronising sink as live).
fn query_live(pipeline: &gst::Pipeline) -> Option<bool> {
    let pad = pipeline.by_name("enhanced")?.static_pad("sink")?;
    let mut query = gst::query::Latency::new();
    pad.peer_query(&mut query).then(|| query.result().0)
}

fn describe(e: &gst::message::Error) -> String {
    let from = e.src().map(|s| s.path_string().to_string()).unwrap_or_default();
    let text = match e.debug() {
        Some(debug) => format!("{} (from {from}; {debug})", e.error()),
        None => format!("{} (from {from})", e.error()),
    };
    text.replace('\n', " ")
}

/// The first ERROR on the bus after a failed state change, as an error.
fn first_error(pipeline: &gst::Pipeline) -> anyhow::Error {
    let msg = pipeline
        .bus()
        .and_then(|bus| bus.timed_pop_filtered(gst::ClockTime::from_seconds(1), &[gst::MessageType::Error]));
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Error(e)) => anyhow::anyhow!("cannot start: {}", describe(e)),
        _ => anyhow::anyhow!("cannot start the pipeline"),
    }
}
