//! The `lowlightenhance` element with the command line's options, each
//! checked against the element's own property range first.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use gst::glib;
use gst::prelude::*;

/// The element's options; `None` keeps the element's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VideoSettings {
    pub model: Option<PathBuf>,
    pub scale_factor: u32,
    pub iterations: u32,
    pub strength: f32,
    pub threads: usize,
    pub temporal_smoothing: Option<f32>,
    pub factor_interval: Option<u32>,
}

/// Makes `lowlightenhance` (registered from this binary) with `settings`.
pub fn make_enhancer(settings: &VideoSettings) -> Result<gst::Element> {
    crate::init_gstreamer()?;
    let element = gst::ElementFactory::make("lowlightenhance").build().context("cannot make lowlightenhance")?;
    if let Some(model) = &settings.model {
        element.set_property("model", model.to_str().context("the model path is not UTF-8")?);
    }
    set_number(&element, "scale-factor", settings.scale_factor as f64)?;
    set_number(&element, "iterations", settings.iterations as f64)?;
    set_number(&element, "strength", settings.strength as f64)?;
    set_number(&element, "threads", settings.threads as f64)?;
    if let Some(v) = settings.temporal_smoothing {
        set_number(&element, "temporal-smoothing", v as f64)?;
    }
    if let Some(v) = settings.factor_interval {
        set_number(&element, "factor-interval", v as f64)?;
    }
    Ok(element)
}

/// Sets a numeric property after checking that the element has it and
/// that `value` lies in its range (GStreamer would only warn and ignore it).
pub fn set_number(element: &gst::Element, name: &str, value: f64) -> Result<()> {
    let Some(pspec) = element.find_property(name) else {
        bail!("this build's lowlightenhance has no {name} property");
    };
    let out_of_range = |min: f64, max: f64| -> Result<()> {
        if value < min || value > max || value.is_nan() {
            bail!("--{name} {value} is outside {min}..={max} for videos");
        }
        Ok(())
    };
    let v: glib::Value = if let Some(p) = pspec.downcast_ref::<glib::ParamSpecUInt>() {
        out_of_range(p.minimum() as f64, p.maximum() as f64)?;
        (value as u32).to_value()
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecInt>() {
        out_of_range(p.minimum() as f64, p.maximum() as f64)?;
        (value as i32).to_value()
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecDouble>() {
        out_of_range(p.minimum(), p.maximum())?;
        value.to_value()
    } else if let Some(p) = pspec.downcast_ref::<glib::ParamSpecFloat>() {
        out_of_range(p.minimum() as f64, p.maximum() as f64)?;
        (value as f32).to_value()
    } else {
        bail!("lowlightenhance's {name} property is not a number");
    };
    element.set_property_from_value(name, &v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_reach_the_element_and_ranges_are_checked() {
        let settings =
            VideoSettings { scale_factor: 8, iterations: 4, strength: 0.5, threads: 1, ..Default::default() };
        let e = make_enhancer(&settings).unwrap();
        assert_eq!(e.property::<u32>("scale-factor"), 8);
        assert_eq!(e.property::<u32>("iterations"), 4);
        assert_eq!(e.property::<f64>("strength"), 0.5);
        assert!(
            make_enhancer(&VideoSettings { iterations: 0, ..settings.clone() }).is_err(),
            "the element needs 1..=16"
        );
        assert!(make_enhancer(&VideoSettings { strength: 1.5, ..settings.clone() }).is_err());
        assert!(set_number(&e, "no-such-property", 1.0).is_err());
    }
}
