//! The `lowlight` command line as a library, so that its tests and examples
//! share the code of the binary.
//!
//! - [`images`]: enhance image files and directories of images;
//! - [`video`]: re-encode a video through the `lowlightenhance` element;
//! - [`flicker`]: measure the flicker of enhanced video ([`lowlight::quality`]);
//! - [`nv12`]: NV12 copies of decoded frames, for `flicker --nv12`;
//! - [`decode`] / [`encode`]: video frames in and out of GStreamer, for
//!   measurements and generated test clips;
//! - [`output`]: outputs written to a temporary file and renamed;
//! - [`interrupt`]: Ctrl-C and SIGTERM stop a run cleanly.

pub mod decode;
pub mod encode;
pub mod flicker;
pub mod images;
pub mod interrupt;
pub mod media;
pub mod nv12;
pub mod output;
pub mod pipeline;
pub mod sample;
pub mod video;

/// Initialises GStreamer and registers the `lowlight` plugin from this
/// binary (no `GST_PLUGIN_PATH` needed). Safe to call more than once.
pub fn init_gstreamer() -> anyhow::Result<()> {
    use std::sync::OnceLock;
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|e| format!("cannot initialise GStreamer: {e}"))?;
        gstlowlight::plugin_register_static().map_err(|e| format!("cannot register the lowlight plugin: {e}"))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}
