//! Hands the encoded, enhanced stream from the ingest pipeline to the
//! `appsrc` of the RTSP media that is currently served (if any).

use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
struct Inner {
    caps: Option<gst::Caps>,
    appsrc: Option<gst_app::AppSrc>,
    last_buffer: Option<Instant>,
    buffers: u64,
}

/// Cheap to clone; shared by the ingest pipeline, the RTSP factory and the
/// stall watchdog.
#[derive(Clone, Default)]
pub struct Relay(Arc<Mutex<Inner>>);

impl Relay {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A sample from the ingest pipeline: forwarded to the served media,
    /// with fresh timestamps (the media's `appsrc` stamps it on arrival).
    pub fn push(&self, sample: &gst::Sample) {
        let mut inner = self.inner();
        inner.last_buffer = Some(Instant::now());
        inner.buffers += 1;
        if let Some(caps) = sample.caps()
            && inner.caps.as_ref().map(|c| c.as_ref()) != Some(caps)
        {
            let caps = caps.to_owned();
            if let Some(src) = &inner.appsrc {
                src.set_caps(Some(&caps));
            }
            inner.caps = Some(caps);
        }
        let (Some(src), Some(buffer)) = (inner.appsrc.clone(), sample.buffer_owned()) else { return };
        drop(inner);
        let mut buffer = buffer;
        {
            let b = buffer.make_mut();
            b.set_pts(gst::ClockTime::NONE);
            b.set_dts(gst::ClockTime::NONE);
        }
        // Flushing while the media prepares or after it stopped: drop the buffer.
        let _ = src.push_buffer(buffer);
    }

    /// A media was configured: its `appsrc` receives the stream from now on.
    pub fn attach(&self, src: gst_app::AppSrc) {
        let mut inner = self.inner();
        if let Some(caps) = &inner.caps {
            src.set_caps(Some(caps));
        }
        inner.appsrc = Some(src);
    }

    /// The media of `src` stopped.
    pub fn detach(&self, src: &gst_app::AppSrc) {
        let mut inner = self.inner();
        if inner.appsrc.as_ref() == Some(src) {
            inner.appsrc = None;
        }
    }

    /// When the last buffer arrived, and how many have.
    pub fn progress(&self) -> (Option<Instant>, u64) {
        let inner = self.inner();
        (inner.last_buffer, inner.buffers)
    }
}
