//! GStreamer plugin `lowlight`: real-time low-light video enhancement.
//!
//! One element, `lowlightenhance`, a video filter that brightens packed 8-bit
//! RGB frames in place with the SGZ model of the `lowlight` core crate.
//! Built as a cdylib (load it with `GST_PLUGIN_PATH`) and as an rlib, so a
//! Rust program can register it statically with [`plugin_register_static`].

use gst::glib;

pub mod gstcuda;
pub mod lowlightenhance;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    lowlightenhance::register(plugin)
}

gst::plugin_define!(
    lowlight,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
