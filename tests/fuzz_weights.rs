//! Property tests of the weights loader: arbitrary bytes, truncated and
//! mutated files, and hand-made headers with odd dtypes, shapes and
//! offsets are refused with an error, never a panic; whatever is accepted
//! holds every EFE tensor with its shape and finite values.

use std::collections::BTreeMap;

use lowlight::EfeWeights;
use lowlight::model::expected_tensors;
use proptest::prelude::*;

/// A valid safetensors file of random EFE weights (F32).
fn valid_file() -> Vec<u8> {
    let weights = EfeWeights::random(42, 1.0);
    let data: Vec<(String, Vec<u8>, Vec<usize>)> = expected_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let (values, _) = weights.get(&name).unwrap();
            (name, values.iter().flat_map(|v| v.to_le_bytes()).collect(), shape)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, b, s)| {
            (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap())
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// The loader's verdict: `Err`, or `Ok` with every tensor well formed.
fn check(bytes: &[u8]) -> bool {
    match EfeWeights::from_bytes(bytes, "fuzz.safetensors") {
        Err(e) => {
            assert!(e.to_string().contains("fuzz.safetensors"), "errors name the file: {e}");
            false
        }
        Ok(w) => {
            for (name, shape) in expected_tensors() {
                let (values, s) = w.get(&name).expect("an accepted file has every tensor");
                assert_eq!(s, shape.as_slice(), "{name}");
                assert_eq!(values.len(), shape.iter().product::<usize>(), "{name}");
                assert!(values.iter().all(|v| v.is_finite()), "{name}");
            }
            true
        }
    }
}

fn header_len(file: &[u8]) -> usize {
    u64::from_le_bytes(file[..8].try_into().unwrap()) as usize
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() }
}

/// One tensor entry of a hand-made header.
fn entry() -> impl Strategy<Value = (String, String, Vec<u64>, (u64, u64))> {
    let names = prop::sample::select(expected_tensors().into_iter().map(|(n, _)| n).collect::<Vec<_>>());
    let dtype = prop::sample::select(vec!["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "X"]);
    let dim = prop_oneof![0u64..80, Just(u64::MAX), Just(u64::MAX / 2 + 1), Just(1 << 32), any::<u64>()];
    let offset = prop_oneof![0u64..50_000, Just(u64::MAX), any::<u64>()];
    (names, dtype.prop_map(String::from), prop::collection::vec(dim, 0..5), (offset.clone(), offset))
        .prop_map(|(n, d, s, o)| (n, d, s, o))
}

fn handmade(entries: &[(String, String, Vec<u64>, (u64, u64))], data_len: usize, fill: u8) -> Vec<u8> {
    let mut map = BTreeMap::new();
    for (name, dtype, shape, (a, b)) in entries {
        let shape: Vec<String> = shape.iter().map(u64::to_string).collect();
        map.insert(
            name.clone(),
            format!("{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{a},{b}]}}", shape.join(",")),
        );
    }
    let body: Vec<String> = map.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    let header = format!("{{{}}}", body.join(","));
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend(std::iter::repeat_n(fill, data_len));
    file
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(!check(&bytes));
    }

    #[test]
    fn a_header_length_that_lies_is_refused(len in any::<u64>(), tail in prop::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend(tail);
        prop_assert!(!check(&bytes));
    }

    #[test]
    fn truncated_files_are_refused(cut in 0usize..1000, from_end in any::<bool>()) {
        let file = valid_file();
        let keep = if from_end { file.len().saturating_sub(1 + cut) } else { cut.min(file.len() - 1) };
        prop_assert!(!check(&file[..keep]));
    }

    #[test]
    fn mutated_headers_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut file = valid_file();
        let header_end = 8 + header_len(&file);
        for (at, byte) in edits {
            file[at.index(header_end)] = byte;
        }
        check(&file);
    }

    #[test]
    fn mutated_data_is_refused_or_finite(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let mut file = valid_file();
        let header_end = 8 + header_len(&file);
        let data_len = file.len() - header_end;
        for (at, byte) in edits {
            file[header_end + at.index(data_len)] = byte;
        }
        check(&file);
    }

    #[test]
    fn handmade_headers_never_panic(
        entries in prop::collection::vec(entry(), 0..6),
        data_len in prop_oneof![0usize..64, 40_000usize..50_000],
        fill in any::<u8>(),
    ) {
        prop_assert!(!check(&handmade(&entries, data_len, fill)), "an incomplete set of tensors is refused");
    }
}

#[test]
fn the_valid_file_is_accepted() {
    assert!(check(&valid_file()), "the unmutated file loads");
}
