//! Reading PyTorch `.pth` state dicts into tensors, and sha256 checks.
//!
//! Two container formats exist: the zip format of `torch.save` since PyTorch
//! 1.6 (read with candle's `pickle::read_all`), and the older "legacy" format
//! (the EfficientNet-Lite0 file is one), which candle's zip-based reader
//! rejects: five pickles back to back (magic number, protocol, system info,
//! the state dict, the list of storage keys), then each storage as a
//! little-endian u64 element count followed by its raw bytes. The pickles are
//! parsed with candle's `pickle::Stack` and `Object::into_tensor_info`; only
//! the container walk is ours.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::Path;

use candle_core::pickle::{Object, Stack, TensorInfo};
use candle_core::{DType, Device, Tensor};
use sha2::{Digest, Sha256};

use super::UssError;

/// The magic number pickle (`LONG1` 0x1950a86a20f9469cfc6c) after the
/// `PROTO n` opcode.
const LEGACY_MAGIC: [u8; 13] =
    [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `file` whole.
pub fn read_file(file: &Path) -> Result<Vec<u8>, UssError> {
    std::fs::read(file).map_err(|reason| UssError::Io { file: file.to_path_buf(), reason })
}

/// The floating-point tensors of a `.pth` state dict (either format), as
/// `dtype` on `device`. Integer entries (`num_batches_tracked`) are dropped.
pub fn read_state_dict(
    file: &Path,
    bytes: &[u8],
    dtype: DType,
    device: &Device,
) -> Result<HashMap<String, Tensor>, UssError> {
    let fmt = |reason: String| UssError::Format { file: file.to_path_buf(), reason };
    let raw = if bytes.starts_with(b"PK\x03\x04") {
        candle_core::pickle::read_all(file).map_err(|e| fmt(e.to_string()))?
    } else if bytes.len() > 15 && bytes[0] == 0x80 && bytes[2..15] == LEGACY_MAGIC {
        read_legacy(&bytes[15..]).map_err(fmt)?
    } else {
        return Err(fmt("neither a zip nor a legacy torch.save file".into()));
    };
    let mut out = HashMap::new();
    for (name, t) in raw {
        if t.dtype().is_float() {
            let t = t.to_dtype(dtype).and_then(|t| t.to_device(device)).map_err(|e| fmt(e.to_string()))?;
            out.insert(name, t);
        }
    }
    Ok(out)
}

fn pickle<R: BufRead>(r: &mut R) -> Result<Object, String> {
    let mut stack = Stack::empty();
    stack.read_loop(r).map_err(|e| format!("bad pickle: {e}"))?;
    stack.finalize().map_err(|e| format!("bad pickle: {e}"))
}

/// Parses a legacy file after its magic-number pickle.
fn read_legacy(mut r: &[u8]) -> Result<Vec<(String, Tensor)>, String> {
    let _protocol = pickle(&mut r)?;
    let sys_info = pickle(&mut r)?;
    let little = Object::Unicode("little_endian".into());
    match &sys_info {
        Object::Dict(kv) if kv.iter().any(|(k, v)| *k == little && *v == Object::Bool(true)) => {}
        _ => return Err(format!("unsupported system info {sys_info:?} (big-endian?)")),
    }
    let Object::Dict(entries) = pickle(&mut r)? else {
        return Err("the checkpoint is not a state dict".into());
    };
    let mut infos: Vec<TensorInfo> = Vec::new();
    for (name, value) in entries {
        if let Ok(Some(info)) = value.into_tensor_info(name, Path::new("")) {
            infos.push(info);
        }
    }
    let key = |info: &TensorInfo| info.path.trim_start_matches('/').to_string();
    let keys: Vec<String> = match pickle(&mut r)? {
        Object::List(keys) => keys.into_iter().filter_map(|k| String::try_from(k).ok()).collect(),
        other => return Err(format!("expected the storage key list, got {other:?}")),
    };
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for k in keys {
        let elem = infos.iter().find(|i| key(i) == k).map(|i| i.dtype.size_in_bytes());
        let elem = elem.ok_or_else(|| format!("storage {k} is used by no tensor"))?;
        let mut count = [0u8; 8];
        r.read_exact(&mut count).map_err(|_| format!("storage {k}: truncated"))?;
        let len = (u64::from_le_bytes(count) as usize).checked_mul(elem).ok_or("bad size")?;
        if r.len() < len {
            return Err(format!("storage {k}: truncated ({} of {len} bytes)", r.len()));
        }
        storages.insert(k, &r[..len]);
        r = &r[len..];
    }
    let mut out = Vec::with_capacity(infos.len());
    for info in &infos {
        let data = storages.get(&key(info)).ok_or_else(|| format!("{}: missing storage", info.name))?;
        let bytes = gather(data, info).ok_or_else(|| format!("{}: layout {:?} is out of range", info.name, info.layout))?;
        let t = Tensor::from_raw_buffer(&bytes, info.dtype, info.layout.dims(), &Device::Cpu)
            .map_err(|e| format!("{}: {e}", info.name))?;
        out.push((info.name.clone(), t));
    }
    Ok(out)
}

/// The bytes of a tensor in row-major order from its storage, whatever its
/// strides (the converted TensorFlow weights are saved as permuted views).
fn gather(data: &[u8], info: &TensorInfo) -> Option<Vec<u8>> {
    let size = info.dtype.size_in_bytes();
    let (dims, strides) = (info.layout.dims(), info.layout.stride());
    let n: usize = dims.iter().product();
    let last = dims.iter().zip(strides).map(|(&d, &s)| d.saturating_sub(1) * s).sum::<usize>();
    let start = info.layout.start_offset(); // in bytes
    if n > 0 && start + (last + 1) * size > data.len() {
        return None;
    }
    let mut out = Vec::with_capacity(n * size);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..n {
        let offset = start + index.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>() * size;
        out.extend_from_slice(&data[offset..offset + size]);
        for d in (0..dims.len()).rev() {
            index[d] += 1;
            if index[d] < dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(out)
}
