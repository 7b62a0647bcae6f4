//! Temporal smoothing and factor reuse in the enhancer.

mod common;

use common::{noise_image, synthetic_model};
use lowlight::{Enhancer, EnhancerOptions, FrameLayout, PixelFormat};

const W: usize = 96;
const H: usize = 64;

fn enhancer(temporal_smoothing: f32, factor_interval: usize) -> Enhancer {
    let o = EnhancerOptions { temporal_smoothing, factor_interval, ..Default::default() };
    Enhancer::new(synthetic_model(3), o).unwrap()
}

fn run(e: &mut Enhancer, frame: &[u8]) -> Vec<u8> {
    let mut f = frame.to_vec();
    e.enhance(&mut f, &FrameLayout::packed(W, H, PixelFormat::Rgb)).unwrap();
    f
}

fn distance(a: &[u8], b: &[u8]) -> u64 {
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as u64).sum()
}

/// A frame and a slightly brighter copy of it (the same scene a moment later).
fn scene() -> (Vec<u8>, Vec<u8>) {
    let a = noise_image(W, H, 3, 11);
    let b = a.iter().map(|&v| v.saturating_add(6)).collect();
    (a, b)
}

#[test]
fn smoothing_off_is_per_frame() {
    let (a, b) = scene();
    let mut e = enhancer(0.0, 1);
    run(&mut e, &a);
    assert_eq!(run(&mut e, &b), run(&mut enhancer(0.0, 1), &b));
}

#[test]
fn smoothing_carries_the_previous_map_and_converges() {
    let (a, b) = scene();
    let per_frame_b = run(&mut enhancer(0.0, 1), &b);
    let mut e = enhancer(0.8, 1);
    run(&mut e, &a);
    let smoothed_b = run(&mut e, &b);
    let first = distance(&smoothed_b, &per_frame_b);
    assert!(first > 0, "the map of frame A must influence frame B");
    // Holding on B, the map converges to B's own.
    let mut last = first;
    for _ in 0..60 {
        last = distance(&run(&mut e, &b), &per_frame_b);
    }
    assert!(last * 20 < first.max(20), "converges: {first} -> {last}");
}

#[test]
fn scene_cuts_and_resets_start_fresh() {
    let (a, _) = scene();
    let bright: Vec<u8> = noise_image(W, H, 3, 99).iter().map(|&v| v.saturating_add(120)).collect();
    let mut e = enhancer(0.9, 1);
    run(&mut e, &a);
    assert_eq!(run(&mut e, &bright), run(&mut enhancer(0.0, 1), &bright), "a cut resets the state");
    let (_, b) = scene();
    run(&mut e, &b);
    e.reset_temporal_state();
    assert_eq!(run(&mut e, &a), run(&mut enhancer(0.0, 1), &a), "reset forgets the past");
}

#[test]
fn factor_interval_reuses_the_map() {
    let (a, b) = scene();
    let mut e = enhancer(0.0, 2);
    let ea = run(&mut e, &a);
    let eb = run(&mut e, &b); // reuses A's map
    assert_ne!(eb, run(&mut enhancer(0.0, 1), &b));
    // The same map on the same pixels: a frame equal to A gives A's result.
    let mut e = enhancer(0.0, 3);
    run(&mut e, &a);
    assert_eq!(run(&mut e, &a), ea);
    let _ = eb;
}

#[test]
fn temporal_options_are_validated() {
    for o in [
        EnhancerOptions { temporal_smoothing: 1.5, ..Default::default() },
        EnhancerOptions { factor_interval: 0, ..Default::default() },
    ] {
        assert!(Enhancer::new(synthetic_model(1), o).is_err());
    }
}

fn mean(frame: &[u8]) -> f64 {
    frame.iter().map(|&v| v as f64).sum::<f64>() / frame.len() as f64
}

/// Mean absolute change of the frames' mean brightness from frame to frame.
fn mean_step(means: &[f64]) -> f64 {
    means.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (means.len() - 1) as f64
}

/// One scene whose brightness jitters from frame to frame (sensor noise,
/// compression): with smoothing on, the enhanced brightness jitters much
/// less than frame by frame, and as a fixed image it ends at the per-frame
/// brightness.
#[test]
fn smoothing_steadies_the_brightness() {
    let base = noise_image(W, H, 3, 11).iter().map(|&v| v / 5).collect::<Vec<u8>>();
    let frames: Vec<Vec<u8>> = (0..40)
        .map(|i| {
            let lift = [0u8, 2, 1, 3][i % 4];
            base.iter().map(|&v| v.saturating_add(lift)).collect()
        })
        .collect();
    // The default model: the lock's authority depends on how much the curve lifts.
    let model = || lowlight::Sgz::embedded_default().unwrap();
    let options = |temporal_smoothing| EnhancerOptions { temporal_smoothing, ..Default::default() };
    let mut per_frame = Enhancer::new(model(), options(0.0)).unwrap();
    let mut smoothed = Enhancer::new(model(), options(0.7)).unwrap();
    let a: Vec<f64> = frames.iter().map(|f| mean(&run(&mut per_frame, f))).collect();
    let b: Vec<f64> = frames.iter().map(|f| mean(&run(&mut smoothed, f))).collect();
    let (step_a, step_b) = (mean_step(&a[10..]), mean_step(&b[10..]));
    assert!(step_b < 0.5 * step_a, "smoothed brightness step {step_b} vs per frame {step_a}");
    let overall = |v: &[f64]| v[10..].iter().sum::<f64>() / 30.0;
    assert!((overall(&b) - overall(&a)).abs() < 0.02 * overall(&a), "same brightness on average");
    // Held on one frame, the brightness settles on the per-frame one.
    let still = run(&mut per_frame, &frames[0]);
    let mut last = Vec::new();
    for _ in 0..40 {
        last = run(&mut smoothed, &frames[0]);
    }
    assert!((mean(&last) - mean(&still)).abs() < 0.05, "{} vs {}", mean(&last), mean(&still));
}

/// A new strength (or iteration count) applies at once with smoothing on:
/// the brightness lock restarts instead of easing the picture there.
#[test]
fn a_new_strength_applies_at_once() {
    let frame: Vec<u8> = noise_image(W, H, 3, 5).iter().map(|&v| v / 4).collect();
    let model = || lowlight::Sgz::embedded_default().unwrap();
    let mut e = Enhancer::new(model(), EnhancerOptions { temporal_smoothing: 0.7, ..Default::default() }).unwrap();
    for _ in 0..3 {
        run(&mut e, &frame);
    }
    e.set_strength(0.5).unwrap();
    let half = EnhancerOptions { temporal_smoothing: 0.0, strength: 0.5, ..Default::default() };
    assert_eq!(run(&mut e, &frame), run(&mut Enhancer::new(model(), half).unwrap(), &frame));
}
