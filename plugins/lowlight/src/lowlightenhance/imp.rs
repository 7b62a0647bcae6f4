//! `lowlightenhance`: a `VideoFilter` that enhances each frame in place.
//!
//! The model is loaded in `start()` (an ERROR message on failure). `set_info`
//! turns the caps into a [`Target`] (packed RGB format, or YUV format with its
//! matrix and range); the frame geometry and strides are taken from each
//! mapped frame. The per-frame options are read from the settings before
//! every frame, so `strength`, `temporal-smoothing` and the others apply
//! on the next frame. The temporal state is forgotten on caps changes,
//! FLUSH_STOP, STREAM_START and a SEGMENT that differs from the last one.

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use lowlight::Enhancer;

use super::format::{self, Target};
use super::frame;
use super::model;
use super::settings::{self, Settings};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new("lowlightenhance", gst::DebugColorFlags::empty(), Some("Low-light video enhancement (SGZ)"))
});

/// Exists between `start()` and `stop()`.
struct State {
    enhancer: Enhancer,
    /// From the caps; `None` until they are set.
    target: Option<Target>,
    /// The last SEGMENT seen: an equal one (a re-sent sticky event) is not a seek.
    segment: Option<gst::Segment>,
    /// A replaced YUV matrix is reported once per run.
    warned_matrix: bool,
}

#[derive(Default)]
pub struct LowlightEnhance {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
    /// The GPU path (see `cuda.rs`).
    #[cfg(feature = "cuda")]
    cuda: super::cuda::CudaElement,
}

impl LowlightEnhance {
    fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reset_temporal_state(&self, why: &str) {
        #[cfg(feature = "cuda")]
        self.cuda.reset_temporal_state();
        if let Some(state) = self.state().as_mut() {
            state.enhancer.reset_temporal_state();
            gst::debug!(CAT, imp = self, "temporal state reset: {}", why);
        }
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
                 xRGB, xBGR, RGBA, BGRA, ARGB, ABGR) and planar YUV (I420, NV12, Y444, \
                 converted with the caps' BT.601 or BT.709 matrix and limited or full \
                 range; other matrices use the closest of the two, with a warning), any \
                 size and frame rate, any row stride; alpha and padding bytes are left \
                 untouched; caps may change mid-stream. The weights are a safetensors \
                 file given by model (empty = the embedded default); a missing or corrupt \
                 file stops the pipeline with an ERROR naming it. strength fades the effect from 0 (frames unchanged) \
                 to 1 and may change while playing. temporal-smoothing averages the curve \
                 over time against flicker and factor-interval runs the network only every \
                 Nth frame; their history restarts at scene cuts, seeks, flushes and caps \
                 changes. The element neither drops nor delays frames. It takes a \
                 decoder's I420 or NV12 directly (decodebin ! lowlightenhance ! x264enc), \
                 other formats through videoconvert (decodebin ! videoconvert ! \
                 lowlightenhance ! videoconvert ! x264enc). Debug category: lowlightenhance.",
                "lowlight developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static PAD_TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = format::caps();
            #[cfg(feature = "cuda")]
            let caps = super::cuda::template_caps(caps);
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
        #[cfg(feature = "cuda")]
        self.cuda.start(self.obj().upcast_ref(), &settings)?;
        *self.state() = Some(State { enhancer, target: None, segment: None, warned_matrix: false });
        gst::info!(CAT, imp = self, "model loaded");
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        #[cfg(feature = "cuda")]
        self.cuda.stop();
        *self.state() = None;
        gst::info!(CAT, imp = self, "stopped");
        Ok(())
    }

    /// With CUDA: context queries, and caps answers without CUDA memory when it is unusable.
    #[cfg(feature = "cuda")]
    fn query(&self, direction: gst::PadDirection, query: &mut gst::QueryRef) -> bool {
        let device = self.settings().device;
        match self.cuda.query(self, device, direction, query) {
            Some(answered) => answered,
            None => BaseTransformImplExt::parent_query(self, direction, query),
        }
    }

    /// With CUDA: frames the GPU path takes; the others go to `transform_frame_ip`.
    #[cfg(feature = "cuda")]
    fn transform_ip(&self, buf: &mut gst::BufferRef) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = self.settings().clone();
        match self.cuda.transform_ip(self.obj().upcast_ref(), &settings, buf) {
            None => self.parent_transform_ip(buf),
            Some(Ok(())) => Ok(gst::FlowSuccess::Ok),
            Some(Err((message, flow))) => {
                self.post_error_message(message);
                Err(flow)
            }
        }
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStop(_) => self.reset_temporal_state("flush"),
            gst::EventView::StreamStart(_) => self.reset_temporal_state("new stream"),
            gst::EventView::Segment(e) => {
                if let Some(state) = self.state().as_mut() {
                    let segment = e.segment();
                    if state.segment.as_ref() != Some(segment) {
                        state.enhancer.reset_temporal_state();
                        #[cfg(feature = "cuda")]
                        self.cuda.reset_temporal_state();
                        state.segment = Some(segment.clone());
                        gst::debug!(CAT, imp = self, "temporal state reset: new segment {:?}", segment);
                    }
                }
            }
            _ => {}
        }
        self.parent_sink_event(event)
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
        let (target, warning) = format::target(in_info).map_err(|e| gst::loggable_error!(CAT, "{}", e))?;
        let first_warning = {
            let mut state = self.state();
            let Some(state) = state.as_mut() else {
                return Err(gst::loggable_error!(CAT, "caps set before the element started"));
            };
            state.target = Some(target);
            state.enhancer.reset_temporal_state();
            warning.is_some() && !std::mem::replace(&mut state.warned_matrix, true)
        };
        gst::info!(CAT, imp = self, "caps {} -> {:?}", incaps, target);
        if let Some(warning) = warning {
            gst::warning!(CAT, imp = self, "{}", warning);
            if first_warning {
                gst::element_imp_warning!(self, gst::StreamError::Format, ("{}", warning));
            }
        }
        Ok(())
    }

    fn transform_frame_ip(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // The ERROR is posted after the state lock is released: a bus sync
        // handler may call back into the element.
        self.enhance_frame(frame).map(|()| gst::FlowSuccess::Ok).map_err(|(message, flow)| {
            self.post_error_message(message);
            flow
        })
    }
}

impl LowlightEnhance {
    fn enhance_frame(
        &self,
        frame: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<(), (gst::ErrorMessage, gst::FlowError)> {
        let settings = self.settings().clone();
        let mut state = self.state();
        let Some(state) = state.as_mut() else {
            let message = gst::error_msg!(gst::CoreError::Failed, ("lowlightenhance received a frame before it started"));
            return Err((message, gst::FlowError::Error));
        };
        let wanted = model::options(&settings, *state.enhancer.options());
        if wanted != *state.enhancer.options() {
            gst::debug!(CAT, imp = self, "options now {:?}", wanted);
            state.enhancer.set_options(wanted).map_err(|e| {
                (gst::error_msg!(gst::LibraryError::Settings, ("Invalid options: {}", e)), gst::FlowError::Error)
            })?;
        }
        if settings.strength == 0.0 {
            return Ok(());
        }
        let Some(target) = state.target else {
            let message = gst::error_msg!(gst::CoreError::Negotiation, ("lowlightenhance received a frame before caps"));
            return Err((message, gst::FlowError::NotNegotiated));
        };
        frame::enhance(&mut state.enhancer, target, frame)
            .map_err(|e| (gst::error_msg!(gst::StreamError::Failed, ("{}", e)), gst::FlowError::Error))?;
        gst::trace!(
            CAT,
            imp = self,
            "frame {}x{} {:?}",
            frame.width(),
            frame.height(),
            state.enhancer.last_stage_times()
        );
        Ok(())
    }
}
