//! The element's properties: their specs (nick, blurb, range, default, when
//! they may change) and the `Settings` they are stored in.

use gst::glib;
use gst::prelude::*;

pub const DEFAULT_MODEL: &str = "";
pub const DEFAULT_SCALE_FACTOR: u32 = 12;
pub const DEFAULT_ITERATIONS: u32 = 8;
pub const DEFAULT_STRENGTH: f64 = 1.0;
pub const DEFAULT_THREADS: u32 = 0;
pub const DEFAULT_DEVICE: Device = Device::Auto;

/// Video default, chosen by measurement (README, "Command line": `lowlight
/// flicker` on real-photo night clips): 0.7 brings the flicker ratio from
/// 1.10 per frame to 0.98-1.00, at most one frame more than 3% off
/// per-frame enhancement; 0.9 gains little more and stays off for 20-23
/// frames. The core's default stays 0 (per frame, as the paper), for still
/// images.
pub const DEFAULT_TEMPORAL_SMOOTHING: f64 = 0.7;

/// Video default, measured in the benchmark (benches/README.md): the EFE
/// runs while upstream produces the next frame. The core's default stays
/// off, for still images and per-frame parity.
pub const DEFAULT_OVERLAP_EFE: bool = true;

pub fn default_factor_interval() -> u32 {
    lowlight::EnhancerOptions::default().factor_interval as u32
}

/// Where the model runs.
#[derive(Debug, Eq, PartialEq, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstLowlightDevice")]
pub enum Device {
    #[enum_value(name = "Auto: CUDA when this build has it and a GPU is present, else the CPU", nick = "auto")]
    Auto = 0,
    #[enum_value(name = "CPU", nick = "cpu")]
    Cpu = 1,
    #[enum_value(name = "CUDA GPU (fails at start in a build without CUDA support)", nick = "cuda")]
    Cuda = 2,
}

/// Property values; read by `start()` (model, threads, device) and by every
/// frame (scale-factor, iterations, strength, temporal-smoothing,
/// factor-interval, overlap-efe).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Safetensors weights file; empty selects the embedded default model.
    pub model: String,
    pub scale_factor: u32,
    pub iterations: u32,
    pub strength: f64,
    pub temporal_smoothing: f64,
    pub factor_interval: u32,
    pub overlap_efe: bool,
    pub threads: u32,
    pub device: Device,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            scale_factor: DEFAULT_SCALE_FACTOR,
            iterations: DEFAULT_ITERATIONS,
            strength: DEFAULT_STRENGTH,
            temporal_smoothing: DEFAULT_TEMPORAL_SMOOTHING,
            factor_interval: default_factor_interval(),
            overlap_efe: DEFAULT_OVERLAP_EFE,
            threads: DEFAULT_THREADS,
            device: DEFAULT_DEVICE,
        }
    }
}

/// Properties that are read only in `start()`: they may change in NULL and
/// READY; while the element runs a new value is refused.
pub const START_ONLY: [&str; 3] = ["model", "threads", "device"];

pub fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecString::builder("model")
            .nick("Model file")
            .blurb(
                "Path of the SGZ weights (safetensors) loaded when the element starts; \
                 empty uses the model embedded in the plugin. A missing or corrupt file \
                 stops the pipeline with an error naming the file.",
            )
            .default_value(Some(DEFAULT_MODEL))
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("scale-factor")
            .nick("Scale factor")
            .blurb(
                "The network runs on a copy of the frame this many times smaller in each \
                 direction: higher is faster, lower follows finer detail (the model was \
                 trained with 12). Takes effect on the next frame.",
            )
            .minimum(1)
            .maximum(64)
            .default_value(DEFAULT_SCALE_FACTOR)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("iterations")
            .nick("Curve iterations")
            .blurb(
                "Steps of the brightening curve x + r(x^2 - x) applied to each pixel (the \
                 model was trained with 8; fewer brighten less). Takes effect on the next frame.",
            )
            .minimum(1)
            .maximum(16)
            .default_value(DEFAULT_ITERATIONS)
            .mutable_playing()
            .build(),
        glib::ParamSpecDouble::builder("strength")
            .nick("Strength")
            .blurb(
                "How much of the enhancement to apply: 0 leaves frames as they are, 1 is \
                 the full model. May change while playing; applies from the next frame.",
            )
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_STRENGTH)
            .mutable_playing()
            .controllable()
            .build(),
        glib::ParamSpecDouble::builder("temporal-smoothing")
            .nick("Temporal smoothing")
            .blurb(
                "Steadies brightness and colour over time: the weight of the previous frames' \
                 curve map in an exponential moving average of the low-resolution map. 0 \
                 enhances every frame on its own (as the paper does); higher values flicker \
                 less but follow lighting changes more slowly; 1 keeps the map until the next \
                 scene cut. The history restarts at scene cuts, seeks, flushes, new streams \
                 and caps changes. May change while playing.",
            )
            .minimum(0.0)
            .maximum(1.0)
            .default_value(DEFAULT_TEMPORAL_SMOOTHING)
            .mutable_playing()
            .controllable()
            .build(),
        glib::ParamSpecUInt::builder("factor-interval")
            .nick("Factor interval")
            .blurb(
                "Run the network on every Nth frame only and reuse its curve map for the \
                 frames in between (faster; 1 runs it on every frame). Scene cuts, seeks, \
                 flushes and caps changes run it at once. May change while playing.",
            )
            .minimum(1)
            .maximum(1000)
            .default_value(default_factor_interval())
            .mutable_playing()
            .build(),
        glib::ParamSpecBoolean::builder("overlap-efe")
            .nick("Overlap the network")
            .blurb(
                "With temporal-smoothing above 0 and factor-interval 1: blend each frame's \
                 network output into the next frame's average (the map then averages the \
                 frames before the current one; scene cuts, seeks, flushes and caps changes \
                 still get their own map), so that the network can run on a thread of its \
                 own while upstream produces the next frame (in place when frames come back \
                 to back). Frames are neither delayed nor dropped. CPU only. May change \
                 while playing.",
            )
            .default_value(DEFAULT_OVERLAP_EFE)
            .mutable_playing()
            .build(),
        glib::ParamSpecUInt::builder("threads")
            .nick("Threads")
            .blurb(
                "Worker threads of this element; 0 uses every core (or RAYON_NUM_THREADS \
                 when set). With overlap-efe one more thread runs the network between \
                 frames. Read when the element starts.",
            )
            .minimum(0)
            .maximum(256)
            .default_value(DEFAULT_THREADS)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("device", DEFAULT_DEVICE)
            .nick("Device")
            .blurb(
                "Where the model runs: auto picks CUDA when the build has it and a GPU is \
                 present, else the CPU; cuda fails at start when it is not available. \
                 Read when the element starts.",
            )
            .mutable_ready()
            .build(),
    ]
}

impl Settings {
    pub fn set(&mut self, pspec: &glib::ParamSpec, value: &glib::Value) {
        match pspec.name() {
            "model" => self.model = value.get::<Option<String>>().expect("type checked upstream").unwrap_or_default(),
            "scale-factor" => self.scale_factor = value.get().expect("type checked upstream"),
            "iterations" => self.iterations = value.get().expect("type checked upstream"),
            "strength" => self.strength = value.get().expect("type checked upstream"),
            "temporal-smoothing" => self.temporal_smoothing = value.get().expect("type checked upstream"),
            "factor-interval" => self.factor_interval = value.get().expect("type checked upstream"),
            "overlap-efe" => self.overlap_efe = value.get().expect("type checked upstream"),
            "threads" => self.threads = value.get().expect("type checked upstream"),
            "device" => self.device = value.get().expect("type checked upstream"),
            other => unreachable!("unknown property {other}"),
        }
    }

    pub fn get(&self, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "model" => self.model.to_value(),
            "scale-factor" => self.scale_factor.to_value(),
            "iterations" => self.iterations.to_value(),
            "strength" => self.strength.to_value(),
            "temporal-smoothing" => self.temporal_smoothing.to_value(),
            "factor-interval" => self.factor_interval.to_value(),
            "overlap-efe" => self.overlap_efe.to_value(),
            "threads" => self.threads.to_value(),
            "device" => self.device.to_value(),
            other => unreachable!("unknown property {other}"),
        }
    }
}
