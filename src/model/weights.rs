//! Loading and checking EFE weights from safetensors.
//!
//! Names and shapes are those of the authors' `state_dict`
//! (`e_conv{1..7}.{depth_conv,point_conv}.{weight,bias}`, PyTorch OIHW).
//! F32, F16 and BF16 are accepted and converted to f32; denormals are flushed
//! to zero (the authors' weights hold many, and they change no result).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use safetensors::{Dtype, SafeTensors};

use crate::error::WeightsError;

/// (input channels, output channels) of the seven depthwise-separable layers.
pub const EFE_LAYERS: [(usize, usize); 7] =
    [(3, 32), (32, 32), (32, 32), (32, 32), (64, 32), (64, 32), (64, 3)];

/// Every tensor the EFE needs, with its shape, in file order.
pub fn expected_tensors() -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::with_capacity(28);
    for (i, &(cin, cout)) in EFE_LAYERS.iter().enumerate() {
        let p = format!("e_conv{}", i + 1);
        v.push((format!("{p}.depth_conv.weight"), vec![cin, 1, 3, 3]));
        v.push((format!("{p}.depth_conv.bias"), vec![cin]));
        v.push((format!("{p}.point_conv.weight"), vec![cout, cin, 1, 1]));
        v.push((format!("{p}.point_conv.bias"), vec![cout]));
    }
    v
}

/// Checked EFE weights in host memory, f32.
#[derive(Debug, Clone)]
pub struct EfeWeights {
    pub source: PathBuf,
    tensors: HashMap<String, (Vec<f32>, Vec<usize>)>,
}

impl EfeWeights {
    /// Reads and checks a safetensors file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, WeightsError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|reason| WeightsError::Io { file: path.to_path_buf(), reason })?;
        Self::from_bytes(&bytes, path)
    }

    /// Checks safetensors bytes; `source` names them in errors.
    pub fn from_bytes(bytes: &[u8], source: impl AsRef<Path>) -> Result<Self, WeightsError> {
        let source = source.as_ref().to_path_buf();
        let st = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::NotSafetensors {
            file: source.clone(),
            reason: e.to_string(),
        })?;
        let mut tensors = HashMap::new();
        for (name, shape) in expected_tensors() {
            let view = st.tensor(&name).map_err(|_| WeightsError::MissingTensor {
                file: source.clone(),
                tensor: name.clone(),
            })?;
            if view.shape() != shape.as_slice() {
                return Err(WeightsError::WrongShape {
                    file: source.clone(),
                    tensor: name,
                    expected: shape,
                    found: view.shape().to_vec(),
                });
            }
            let values = to_f32(view.dtype(), view.data()).ok_or_else(|| WeightsError::WrongDtype {
                file: source.clone(),
                tensor: name.clone(),
                found: format!("{:?}", view.dtype()),
            })?;
            if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(WeightsError::NonFinite { file: source.clone(), tensor: name, index, value });
            }
            tensors.insert(name, (values, shape));
        }
        Ok(EfeWeights { source, tensors })
    }

    /// Pseudo-random weights, deterministic in `seed`: every tensor uniform in
    /// `±gain / sqrt(fan_in)`. `gain = 1` is PyTorch's default `Conv2d`
    /// initialisation (the authors' training start).
    pub fn random(seed: u64, gain: f32) -> Self {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        let tensors = expected_tensors()
            .into_iter()
            .zip(fan_ins())
            .map(|((name, shape), fan_in)| {
                let bound = gain / (fan_in as f32).sqrt();
                let values = (0..shape.iter().product()).map(|_| uniform() * bound).collect();
                (name, (values, shape))
            })
            .collect();
        EfeWeights { source: PathBuf::from(format!("<random weights, seed {seed}>")), tensors }
    }

    /// The values of one tensor (row-major) and its shape.
    pub fn get(&self, name: &str) -> Option<(&[f32], &[usize])> {
        self.tensors.get(name).map(|(v, s)| (v.as_slice(), s.as_slice()))
    }

    /// All tensors as candle tensors on `device`, for a `VarBuilder`.
    pub fn to_tensors(&self, device: &Device) -> candle_core::Result<HashMap<String, Tensor>> {
        self.tensors
            .iter()
            .map(|(name, (v, shape))| Ok((name.clone(), Tensor::from_slice(v, shape.as_slice(), device)?)))
            .collect()
    }

    /// Sum of squares of every value of one tensor, as an L2 norm.
    pub fn norm(&self, name: &str) -> Option<f32> {
        self.get(name).map(|(v, _)| v.iter().map(|x| x * x).sum::<f32>().sqrt())
    }
}

/// Size statistics of one weight tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNorm {
    pub name: String,
    pub l2: f32,
    pub max_abs: f32,
    /// Values with magnitude below 1e-12 (denormals are already flushed to 0).
    pub near_zero: usize,
    pub count: usize,
}

impl EfeWeights {
    /// Statistics of every tensor, in [`expected_tensors`] order: a layer
    /// that collapsed during training shows an L2 norm of (almost) 0.
    pub fn layer_norms(&self) -> Vec<LayerNorm> {
        expected_tensors()
            .into_iter()
            .map(|(name, _)| {
                let (v, _) = self.get(&name).expect("checked at load");
                LayerNorm {
                    l2: self.norm(&name).unwrap_or(0.0),
                    max_abs: v.iter().fold(0f32, |m, x| m.max(x.abs())),
                    near_zero: v.iter().filter(|x| x.abs() < 1e-12).count(),
                    count: v.len(),
                    name,
                }
            })
            .collect()
    }
}

/// The fan-in of every tensor of [`expected_tensors`], in that order, as
/// PyTorch's `Conv2d` init uses it: a bias shares its weight's (the tensor
/// before it).
pub fn fan_ins() -> Vec<usize> {
    let tensors = expected_tensors();
    (0..tensors.len())
        .map(|i| if tensors[i].1.len() == 1 { fan_in_of(&tensors[i - 1].1) } else { fan_in_of(&tensors[i].1) })
        .collect()
}

fn fan_in_of(shape: &[usize]) -> usize {
    shape[1..].iter().product()
}

fn flush(x: f32) -> f32 {
    if x.is_subnormal() { 0.0 } else { x }
}

/// Little-endian raw tensor bytes to f32; `None` for unsupported dtypes.
fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    let v = match dtype {
        Dtype::F32 => data.chunks_exact(4).map(|b| flush(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| flush(half::f16::from_le_bytes([b[0], b[1]]).to_f32()))
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| flush(half::bf16::from_le_bytes([b[0], b[1]]).to_f32()))
            .collect(),
        _ => return None,
    };
    Some(v)
}
