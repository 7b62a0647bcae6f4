//! Property specs (defaults, ranges, when they may change), refusal of
//! start-only properties while running, and the element's documentation.

mod common;

use gst::prelude::*;

#[test]
fn defaults_ranges_and_mutability() {
    common::init();
    let e = gst::ElementFactory::make("lowlightenhance").build().unwrap();
    assert_eq!(e.property::<String>("model"), "");
    assert_eq!(e.property::<u32>("scale-factor"), 12);
    assert_eq!(e.property::<u32>("iterations"), 8);
    assert_eq!(e.property::<f64>("strength"), 1.0);
    assert_eq!(e.property::<u32>("threads"), 0);
    assert_eq!(e.property_value("device").serialize().unwrap().as_str(), "auto");

    let uint = |name: &str| e.find_property(name).unwrap().downcast::<glib::ParamSpecUInt>().unwrap();
    assert_eq!((uint("scale-factor").minimum(), uint("scale-factor").maximum()), (1, 64));
    assert_eq!((uint("iterations").minimum(), uint("iterations").maximum()), (1, 16));
    let strength = e.find_property("strength").unwrap().downcast::<glib::ParamSpecDouble>().unwrap();
    assert_eq!((strength.minimum(), strength.maximum()), (0.0, 1.0));
    let smoothing = e.find_property("temporal-smoothing").unwrap().downcast::<glib::ParamSpecDouble>().unwrap();
    assert_eq!((smoothing.minimum(), smoothing.maximum()), (0.0, 1.0));
    assert_eq!(smoothing.default_value(), 0.7, "the video default measured with lowlight flicker (README)");
    assert_eq!((uint("factor-interval").minimum(), uint("factor-interval").maximum()), (1, 1000));
    assert_eq!(uint("factor-interval").default_value(), lowlight::EnhancerOptions::default().factor_interval as u32);

    for name in ["strength", "scale-factor", "iterations", "temporal-smoothing", "factor-interval", "overlap-efe"] {
        assert!(e.find_property(name).unwrap().flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING), "{name}");
    }
    for name in ["model", "threads", "device"] {
        assert!(e.find_property(name).unwrap().flags().contains(gst::PARAM_FLAG_MUTABLE_READY), "{name}");
    }
    for p in e.list_properties() {
        if p.owner_type() == e.type_() {
            assert!(p.nick() != p.name() && p.blurb().is_some_and(|b| b.len() > 40), "{} is documented", p.name());
        }
    }
}

use gst::glib;

#[test]
fn start_only_properties_are_refused_while_running() {
    common::init();
    let Some(model) = common::model_path() else { return };
    let model = model.to_str().unwrap().to_string();
    let pipeline = gst::parse::launch(&format!(
        "videotestsrc is-live=true ! video/x-raw,format=RGB,width=32,height=24 ! lowlightenhance name=ll model=\"{model}\" ! fakesink"
    ))
    .unwrap();
    let ll = pipeline.downcast_ref::<gst::Bin>().unwrap().by_name("ll").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let (res, state, _) = pipeline.state(gst::ClockTime::from_seconds(10));
    assert!(res.is_ok() && state == gst::State::Playing);
    ll.set_property("model", "/elsewhere.safetensors");
    ll.set_property("threads", 3u32);
    assert_eq!(ll.property::<String>("model"), model, "model unchanged while playing");
    assert_eq!(ll.property::<u32>("threads"), 0, "threads unchanged while playing");
    ll.set_property("strength", 0.25);
    assert_eq!(ll.property::<f64>("strength"), 0.25, "strength changes while playing");
    pipeline.set_state(gst::State::Null).unwrap();
    ll.set_property("threads", 3u32);
    assert_eq!(ll.property::<u32>("threads"), 3, "threads change in NULL");
}

#[test]
fn element_metadata() {
    common::init();
    let factory = gst::ElementFactory::find("lowlightenhance").expect("registered");
    assert_eq!(factory.metadata(gst::ELEMENT_METADATA_KLASS), Some("Filter/Effect/Video"));
    let description = factory.metadata(gst::ELEMENT_METADATA_DESCRIPTION).unwrap();
    for word in ["SGZ", "strength", "model", "RGBx", "stride", "I420", "NV12", "Y444", "BT.709", "temporal-smoothing", "factor-interval"] {
        assert!(description.contains(word), "description mentions {word}");
    }
    let caps = factory.static_pad_templates().into_iter().next().unwrap().caps();
    let formats: Vec<String> = caps
        .structure(0)
        .unwrap()
        .get::<gst::List>("format")
        .unwrap()
        .iter()
        .map(|v| v.get::<String>().unwrap())
        .collect();
    for f in ["RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR", "RGBA", "BGRA", "ARGB", "ABGR", "I420", "NV12", "Y444"] {
        assert!(formats.iter().any(|x| x == f), "caps have {f}");
    }
}
