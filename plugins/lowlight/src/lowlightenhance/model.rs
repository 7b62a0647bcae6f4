//! Building the enhancer when the element starts: device choice, model
//! loading, options. Every failure becomes an ERROR message that names the
//! file (or setting) and the problem.

use lowlight::{Enhancer, EnhancerOptions, Error, Sgz};

use super::settings::{Device, Settings};

/// `base` with the per-frame options a `Settings` asks for.
pub fn options(settings: &Settings, base: EnhancerOptions) -> EnhancerOptions {
    EnhancerOptions {
        scale_factor: settings.scale_factor as usize,
        iterations: settings.iterations as usize,
        strength: settings.strength as f32,
        temporal_smoothing: settings.temporal_smoothing as f32,
        factor_interval: settings.factor_interval as usize,
        overlap_efe: settings.overlap_efe,
        ..base
    }
}

/// Checks the device, loads the model and creates the enhancer.
pub fn build(settings: &Settings) -> Result<Enhancer, gst::ErrorMessage> {
    check_device(settings.device)?;
    let model = load(&settings.model)?;
    let base = EnhancerOptions { threads: settings.threads as usize, ..Default::default() };
    Enhancer::new(model, options(settings, base))
        .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("Cannot start the low-light enhancer: {}", e)))
}

/// Without the `cuda` feature the core runs on the CPU only: `auto` means
/// the CPU and `cuda` is refused with a message saying so. With it, the
/// element's CUDA path (`cuda.rs`) opens the device in `start()`.
fn check_device(device: Device) -> Result<(), gst::ErrorMessage> {
    match device {
        Device::Auto | Device::Cpu => Ok(()),
        Device::Cuda if cfg!(feature = "cuda") => Ok(()),
        Device::Cuda => Err(gst::error_msg!(
            gst::LibraryError::Settings,
            ("device=cuda is not available: this build of lowlight has no CUDA support (CPU only); use device=cpu or device=auto")
        )),
    }
}

/// Loads `path`, or the embedded default model when `path` is empty.
fn load(path: &str) -> Result<Sgz, gst::ErrorMessage> {
    if path.is_empty() {
        return Sgz::embedded_default().map_err(|e| {
            gst::error_msg!(gst::ResourceError::Settings, ("No model: the model property is empty and the embedded default model is unavailable ({}); set model=FILE.safetensors", e))
        });
    }
    Sgz::load(path).map_err(|e| {
        let kind = match &e {
            Error::Weights(lowlight::WeightsError::Io { reason, .. })
                if reason.kind() == std::io::ErrorKind::NotFound =>
            {
                gst::ResourceError::NotFound
            }
            Error::Weights(lowlight::WeightsError::Io { .. }) => gst::ResourceError::OpenRead,
            _ => gst::ResourceError::Read,
        };
        // Weights errors name the file themselves; other errors get it added.
        let reason = e.to_string();
        let reason = if reason.contains(path) { reason } else { format!("{path}: {reason}") };
        gst::error_msg!(kind, ("Cannot load the model: {}", reason))
    })
}
