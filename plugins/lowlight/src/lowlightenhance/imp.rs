//! `lowlightenhance`: a `VideoFilter` that enhances each frame in place.
//!
//! The model is loaded in `start()` (an ERROR message on failure), the frame
//! geometry is taken from each mapped frame (so caps changes need nothing
//! but a log line), and the per-frame options are read from the settings
//! before every frame, so `strength` changes apply on the next frame.

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use lowlight::{Enhancer, FrameLayout};

use super::format;
use super::model;
use super::settings::{self, Settings};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("lowlightenhance", gst::DebugColorFlags::empty(), Some("Low-light video enhancement (SGZ)"))
});

/// Exists between `start()` and `stop()`.
struct State {
    enhancer: Enhancer,
}

#[derive(Default)]
pub struct LowlightEnhance {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl LowlightEnhance {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[glib::object_subclass]
impl ObjectSubclass for LowlightEnhance {
    const NAME: &'static str = "GstLowlightEnhance";
    type Type = super::LowlightEnhance;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for LowlightEnhance {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if settings::START_ONLY.contains(&pspec.name()) && self.state().is_some() {
            gst::warning!(CAT, imp = self, "`{}` can change only in the NULL or READY state; ignored", pspec.name());
            return;
        }
        let mut settings = self.settings();
        settings.set(pspec, value);
        gst::debug!(CAT, imp = self, "{} set to {:?}", pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        self.settings().get(pspec)
    }
}

impl GstObjectImpl for LowlightEnhance {}

impl ElementImpl for LowlightEnhance {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Low-light enhancement",
                "Filter/Effect/Video",
                "Brightens dark video in real time with SGZ (Semantic-Guided Zero-Shot \
                 low-light enhancement, Zheng & Gupta, WACV 2022). A 10k-parameter network \
                 estimates a per-pixel, per-channel curve on a copy of the frame scaled down \
                 by scale-factor, and the full frame is brightened in place by `iterations` \
                 steps of x + r(x^2 - x). Packed 8-bit RGB formats (RGB, BGR, RGBx, BGRx, \
                 xRGB, xBGR, RGBA, BGRA, ARGB, ABGR), any size and frame rate, any row \
                 stride; alpha and padding bytes are left untouched; caps may change \
                 mid-stream. The weights are a safetensors file given by model (empty = \
                 the embedded default); a missing or corrupt file stops the pipeline with \
                 an ERROR naming it. strength fades the effect from 0 (frames unchanged) \
                 to 1 and may change while playing. The element neither drops nor delays \
                 frames. Place it between videoconvert elements, e.g. decodebin ! \
                 videoconvert ! lowlightenhance ! videoconvert ! x264enc. Debug category: \
                 lowlightenhance.",
                "lowlight developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = format::caps();
            vec![
                gst::PadTemplate::new("src", gst::PadDirection::Src, gst::PadPresence::Always, &caps)
                    .expect("valid src template"),
                gst::PadTemplate::new("sink", gst::PadDirection::Sink, gst::PadPresence::Always, &caps)
                    .expect("valid sink template"),
            ]
        });
        PAD_TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for LowlightEnhance {
    const MODE: gst_base::subclass::BaseTransformMode = gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = false;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings().clone();
        gst::info!(CAT, imp = self, "starting with {:?}", settings);
        let enhancer = model::build(&settings).inspect_err(|e| {
            gst::error!(CAT, imp = self, "cannot start: {:?}", e);
        })?;
        *self.state() = Some(State { enhancer });
        gst::info!(CAT, imp = self, "model loaded");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state() = None;
        gst::info!(CAT, imp = self, "stopped");
        Ok(())
    }
}

impl VideoFilterImpl for LowlightEnhance {
    fn set_info(
        &self,
        incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        _out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        if format::pixel_format(in_info.format()).is_none() {
            return Err(gst::loggable_error!(CAT, "unsupported format {:?}", in_info.format()));
        }
        gst::info!(CAT, imp = self, "caps {}", incaps);
        Ok(())
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings().clone();
        let mut state = self.state();
        let Some(state) = state.as_mut() else {
            gst::element_imp_error!(
                self,
                gst::CoreError::Failed,
                ("lowlightenhance received a frame before it started")
            );
            return Err(gst::FlowError::Error);
        };
        let wanted = model::options(&settings, *state.enhancer.options());
        if wanted != *state.enhancer.options() {
            gst::debug!(CAT, imp = self, "options now {:?}", wanted);
            state.enhancer.set_options(wanted).map_err(|e| {
                gst::element_imp_error!(self, gst::LibraryError::Settings, ("Invalid options: {}", e));
                gst::FlowError::Error
            })?;
        }
        if settings.strength == 0.0 {
            return Ok(gst::FlowSuccess::Ok);
        }
        let Some(pixel_format) = format::pixel_format(frame.format()) else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ("unsupported format {:?}", frame.format()));
            return Err(gst::FlowError::NotNegotiated);
        };
        let layout = FrameLayout {
            width: frame.width() as usize,
            height: frame.height() as usize,
            stride: frame.plane_stride()[0] as usize,
            format: pixel_format,
        };
        let data = frame.plane_data_mut(0).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("Cannot access the frame: {}", e));
            gst::FlowError::Error
        })?;
        state.enhancer.enhance(data, &layout).map_err(|e| {
            gst::element_imp_error!(self, gst::StreamError::Failed, ("Cannot enhance frame {:?}: {}", layout, e));
            gst::FlowError::Error
        })?;
        gst::trace!(
            CAT,
            imp = self,
            "frame {}x{} {:?}",
            layout.width,
            layout.height,
            state.enhancer.last_stage_times()
        );
        Ok(gst::FlowSuccess::Ok)
    }
}
