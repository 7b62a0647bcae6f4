//! Our shipped model (`models/lowlight-sgz.safetensors`, embedded as the
//! default): healthy layers, and better than the authors' weights on the
//! held-out validation split (`models/sice-validation.txt`).

mod common;

use std::path::{Path, PathBuf};

use lowlight::train::LossWeights;
use lowlight::train::data::{list_images, read_name_list};
use lowlight::train::eval;
use lowlight::{EfeWeights, Sgz};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Weight tensors collapsed to zero or denormals: at least half of their
/// values below 1e-12 in magnitude (denormals are flushed to 0 at load).
/// Our e_conv3/e_conv4 pointwise weights are small (L2 ~1e-5, see the model
/// card) but not collapsed in this sense.
fn collapsed(w: &EfeWeights) -> Vec<String> {
    w.layer_norms()
        .into_iter()
        .filter(|l| l.name.ends_with(".weight") && (l.l2 == 0.0 || 2 * l.near_zero >= l.count))
        .map(|l| l.name)
        .collect()
}

#[test]
fn the_embedded_default_is_the_shipped_file() {
    let bytes = std::fs::read(repo("models/lowlight-sgz.safetensors")).expect("models/lowlight-sgz.safetensors");
    assert_eq!(lowlight::model::DEFAULT_MODEL, Some(bytes.as_slice()), "the embedded model is not models/lowlight-sgz.safetensors");
    Sgz::embedded_default().expect("the embedded default loads");
}

#[test]
fn no_layer_has_collapsed() {
    let ours = EfeWeights::from_file(repo("models/lowlight-sgz.safetensors")).unwrap();
    assert_eq!(collapsed(&ours), Vec::<String>::new());
    // The same check flags the authors' e_conv3..5 (denormal, flushed to 0).
    if let Some(dir) = common::reference_dir() {
        let theirs = EfeWeights::from_file(dir.join("weights.safetensors")).unwrap();
        let c = collapsed(&theirs);
        assert!(c.iter().any(|n| n.starts_with("e_conv3")), "the check misses the authors' collapsed layers: {c:?}");
    }
}

#[test]
fn beats_the_authors_weights_on_the_validation_split() {
    let Some(reference) = common::reference_dir() else { return };
    let data = reference.join("../../data/sice-part1");
    if !data.is_dir() {
        eprintln!("SKIPPED: no {} (the SICE training data)", data.display());
        return;
    }
    let names = read_name_list(&repo("models/sice-validation.txt")).unwrap();
    let mut files = list_images(&[data], &Default::default()).unwrap();
    files.retain(|f| names.contains(&lowlight::train::data::file_name(f)));
    assert_eq!(files.len(), names.len(), "every listed validation image exists");

    let w = LossWeights::default();
    let summary = |model: &Sgz| {
        let scores: Vec<_> = files.iter().map(|f| eval::score(model, f, 12, &w).unwrap()).collect();
        eval::summarize(&scores)
    };
    let ours = summary(&Sgz::load(repo("models/lowlight-sgz.safetensors")).unwrap());
    let theirs = summary(&Sgz::load(reference.join("weights.safetensors")).unwrap());
    eprintln!(
        "validation ({} images, s = 12): ours total {:.5} (darker-half brightness {:.3}), authors {:.5} ({:.3})",
        files.len(),
        ours.total,
        ours.darker_half_output_mean,
        theirs.total,
        theirs.darker_half_output_mean
    );
    assert!(ours.total < theirs.total, "ours {} is not below the authors' {}", ours.total, theirs.total);
    assert!(
        (0.4..=0.65).contains(&ours.darker_half_output_mean),
        "darker-half brightness {} outside 0.4..0.65",
        ours.darker_half_output_mean
    );
}
