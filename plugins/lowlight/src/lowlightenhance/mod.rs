//! The `lowlightenhance` element: the public wrapper type and its registration.

use gst::glib;
use gst::prelude::*;

mod colorimetry;
#[cfg(feature = "cuda")]
mod cuda;
mod format;
mod frame;
mod imp;
mod model;
mod settings;

pub use settings::Device;

glib::wrapper! {
    /// Brightens dark video in place (see the element's long description).
    pub struct LowlightEnhance(ObjectSubclass<imp::LowlightEnhance>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Registers `lowlightenhance` with the plugin (rank none: it is never autoplugged).
pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(Some(plugin), "lowlightenhance", gst::Rank::NONE, LowlightEnhance::static_type())
}
