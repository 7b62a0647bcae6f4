//! Helpers for the live RTSP tests: free ports, child processes read line
//! by line with deadlines, and an RTSP client that measures frames.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, ChildStdout};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gst::prelude::*;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Lines of a child's stdout and stderr, gathered by two threads.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Lines {
    pub fn of(child: &mut Child) -> Self {
        let (tx, rx) = mpsc::channel();
        let out: ChildStdout = child.stdout.take().unwrap();
        let err: ChildStderr = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
        std::thread::spawn(move || BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx2.send(l))));
        Lines { rx, seen: Vec::new() }
    }

    /// Waits for a line containing `needle`; false after `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    eprintln!("  | {line}");
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// Everything read so far plus what arrives within `wait`.
    pub fn drain(&mut self, wait: Duration) -> String {
        while let Ok(line) = self.rx.recv_timeout(wait) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

/// Kills a child when dropped (a failing test leaves no process behind).
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Guard {
    /// Exit status within `timeout`, or `None` (the child is still running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// An RTSP client (over TCP) decoding to RGBx.
pub struct Client {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    url: String,
}

impl Client {
    pub fn connect(url: &str) -> Self {
        super::init();
        let pipeline = gst::parse::launch(&format!(
            "rtspsrc location={url} protocols=tcp latency=100 ! rtph264depay ! avdec_h264 ! videoconvert \
             ! video/x-raw,format=RGBx ! appsink name=sink sync=false"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        Client { pipeline, sink, url: url.to_string() }
    }

    /// Mean luma (0..1) of the next `frames` frames, or `None` if they do
    /// not all arrive within `timeout`.
    pub fn mean_luma(&self, frames: usize, timeout: Duration) -> Option<f64> {
        let deadline = Instant::now() + timeout;
        let mut lumas = Vec::new();
        while lumas.len() < frames {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::from_nseconds(left.as_nanos() as u64)) else {
                break;
            };
            let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
            let map = sample.buffer().unwrap().map_readable().unwrap();
            let (w, h, stride) = (info.width() as usize, info.height() as usize, info.stride()[0] as usize);
            lumas.push(super::rgbx_luma(&map, (w, h, stride), (0, w)));
        }
        eprintln!("received {} of {frames} frames from {}", lumas.len(), self.url);
        (lumas.len() == frames).then(|| lumas.iter().sum::<f64>() / frames as f64)
    }

    /// Whether the stream ends (EOS or an ERROR) within `timeout`.
    pub fn ends_within(&self, timeout: Duration) -> bool {
        let bus = self.pipeline.bus().unwrap();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let _ = self.sink.try_pull_sample(gst::ClockTime::from_mseconds(50));
            if self.sink.is_eos() || bus.pop_filtered(&[gst::MessageType::Error]).is_some() {
                return true;
            }
        }
        false
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
