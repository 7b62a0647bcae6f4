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
