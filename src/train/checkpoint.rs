//! Safetensors files written atomically (a temp file in the same folder,
//! synced, then renamed over the target), with string metadata: training
//! checkpoints (parameters, optimiser state, step, configuration) and the
//! final model.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor};
use safetensors::tensor::TensorView;

/// Metadata key of the checkpoint format marker.
pub const FORMAT_KEY: &str = "format";
pub const CHECKPOINT_FORMAT: &str = "lowlight-train checkpoint v1";

/// Writes `tensors` and `metadata` to `path` so that a reader (or a crash)
/// sees either the old file or the complete new one, never a partial one.
pub fn save_atomic(path: &Path, tensors: &HashMap<String, Tensor>, metadata: &BTreeMap<String, String>) -> Result<()> {
    let mut bytes_of: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t.flatten_all()?;
        let (dtype, bytes) = match t.dtype() {
            DType::F32 => (safetensors::Dtype::F32, t.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
            DType::I64 => (safetensors::Dtype::I64, t.to_vec1::<i64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
            other => bail!("{name}: cannot store dtype {other:?}"),
        };
        bytes_of.push((name.clone(), dtype, tensors[name].dims().to_vec(), bytes));
    }
    bytes_of.sort_by(|a, b| a.0.cmp(&b.0));
    let views: Vec<(String, TensorView)> = bytes_of
        .iter()
        .map(|(n, d, s, b)| Ok((n.clone(), TensorView::new(*d, s.clone(), b)?)))
        .collect::<Result<_>>()?;
    let meta: HashMap<String, String> = metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let data = safetensors::serialize(views, Some(meta))?;
    write_atomic(path, &data)
}

/// `data` to `path` through a temp file and a rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        f.write_all(data).with_context(|| format!("{}: cannot write", tmp.display()))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot rename to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dir/.name.tmp-<pid>`: same folder (so the rename is atomic), hidden.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Tensors and metadata of a safetensors file.
pub fn load(path: &Path) -> Result<(HashMap<String, Tensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a safetensors file: {e}", path.display()))?;
    let metadata = header.metadata().clone().unwrap_or_default().into_iter().collect();
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .with_context(|| format!("{}: unreadable tensors", path.display()))?;
    Ok((tensors, metadata))
}
