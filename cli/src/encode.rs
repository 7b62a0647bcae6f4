//! Writing RGB frames made in Rust to a video file (container from the
//! extension, encoded as `lowlight enhance` encodes): generated test clips
//! and measurement clips. The file appears only when [`VideoWriter::finish`]
//! succeeds.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use gst::prelude::*;

use crate::media::Container;
use crate::output::PendingOutput;
use crate::pipeline::{Stopper, make, make_with, run_to_eos};

/// A video file being written, one RGB frame at a time.
pub struct VideoWriter {
    // Field order is drop order: stop the pipeline, then delete the temporary file.
    stop: Stopper,
    src: gst_app::AppSrc,
    pending: PendingOutput,
    size: (usize, usize),
    fps: u32,
    frames: u64,
}

impl VideoWriter {
    /// Starts writing `path`: `width x height` frames at `fps` frames per second.
    pub fn create(path: &Path, width: usize, height: usize, fps: u32) -> Result<Self> {
        crate::init_gstreamer()?;
        let container = Container::for_output(path)?;
        if width == 0 || height == 0 || fps == 0 {
            bail!("a video needs a size of at least 1x1 and a frame rate");
        }
        let pending = PendingOutput::new(path)?;
        let caps = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, width as u32, height as u32)
            .fps(gst::Fraction::new(fps as i32, 1))
            .build()?
            .to_caps()?;
        let src =
            gst_app::AppSrc::builder().caps(&caps).format(gst::Format::Time).block(true).max_bytes(64 << 20).build();
        let pipeline = gst::Pipeline::new();
        let mut chain: Vec<gst::Element> = vec![src.clone().upcast(), make("videoconvert")?];
        for (factory, properties) in container.video_encoder() {
            chain.push(make_with(factory, properties)?);
        }
        chain.push(make(container.muxer())?);
        let sink = make("filesink")?;
        sink.set_property("location", pending.path().to_str().context("the output path is not UTF-8")?);
        chain.push(sink);
        pipeline.add_many(&chain)?;
        gst::Element::link_many(&chain)?;
        pipeline.set_state(gst::State::Playing).map_err(|_| anyhow!("{}: cannot start the encoder", path.display()))?;
        Ok(Self { stop: Stopper(pipeline), src, pending, size: (width, height), fps, frames: 0 })
    }

    /// Appends one frame of tightly packed RGB bytes.
    pub fn push_rgb(&mut self, rgb: &[u8]) -> Result<()> {
        let (w, h) = self.size;
        if rgb.len() != w * h * 3 {
            bail!("a {w}x{h} RGB frame has {} bytes, not {}", w * h * 3, rgb.len());
        }
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, w as u32, h as u32).build()?;
        let stride = info.stride()[0] as usize;
        let mut bytes = vec![0u8; info.size()];
        for (dst, row) in bytes.chunks_mut(stride).zip(rgb.chunks_exact(w * 3)) {
            dst[..w * 3].copy_from_slice(row);
        }
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        {
            let b = buffer.get_mut().context("a new buffer is writable")?;
            let at = |n: u64| gst::ClockTime::from_nseconds(n * 1_000_000_000 / self.fps as u64);
            b.set_pts(at(self.frames));
            b.set_duration(at(self.frames + 1) - at(self.frames));
        }
        self.src.push_buffer(buffer).map_err(|e| self.failure(e))?;
        self.frames += 1;
        Ok(())
    }

    /// Ends the stream, waits until the file is complete and renames it into place.
    pub fn finish(self) -> Result<u64> {
        self.src.end_of_stream().map_err(|e| self.failure(e))?;
        let path = self.pending.dest().to_path_buf();
        run_to_eos(&self.stop.0, &path, None, || 0, || {})?;
        let _ = self.stop.0.set_state(gst::State::Null);
        let frames = self.frames;
        let Self { stop, pending, .. } = self;
        drop(stop);
        pending.commit()?;
        Ok(frames)
    }

    /// The pipeline's error (or the flow error) after a refused buffer.
    fn failure(&self, flow: gst::FlowError) -> anyhow::Error {
        let bus = self.stop.0.bus();
        let error = bus.and_then(|b| b.pop_filtered(&[gst::MessageType::Error]));
        match error.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Error(e)) => anyhow!("{}: {}", self.pending.dest().display(), e.error()),
            _ => anyhow!("{}: the encoder refused a frame ({flow:?})", self.pending.dest().display()),
        }
    }
}
