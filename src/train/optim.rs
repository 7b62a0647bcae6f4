//! PyTorch's `torch.optim.Adam` (L2 weight decay added to the gradient, not
//! AdamW) and `torch.nn.utils.clip_grad_norm_`, on named candle `Var`s.

use std::collections::{BTreeMap, HashMap};

use candle_core::backprop::GradStore;
use candle_core::{DType, Result, Tensor, Var, bail};
use candle_nn::VarMap;

/// `Adam(lr, betas = (beta1, beta2), eps, weight_decay)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    /// The authors' training setting.
    fn default() -> Self {
        Self { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 1e-4 }
    }
}

/// The state of one parameter: its own step count (PyTorch keeps one per
/// parameter; a parameter without a gradient is not stepped) and moments.
#[derive(Debug, Clone)]
pub struct ParamState {
    pub step: u64,
    pub m: Tensor,
    pub v: Tensor,
}

/// Adam over named parameters, in name order.
#[derive(Debug)]
pub struct Adam {
    pub config: AdamConfig,
    params: Vec<(String, Var)>,
    state: BTreeMap<String, ParamState>,
}

/// Every variable of a `VarMap`, sorted by name.
pub fn named_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let mut v: Vec<_> = varmap.data().lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl Adam {
    pub fn new(mut params: Vec<(String, Var)>, config: AdamConfig) -> Self {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        Self { config, params, state: BTreeMap::new() }
    }

    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Per-parameter state, by name (empty before the first step).
    pub fn state(&self) -> &BTreeMap<String, ParamState> {
        &self.state
    }

    /// The step count of the parameters stepped most often.
    pub fn step_count(&self) -> u64 {
        self.state.values().map(|s| s.step).max().unwrap_or(0)
    }

    /// One step of PyTorch's single-tensor Adam with the gradients in `grads`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        let c = self.config;
        for (name, var) in &self.params {
            let Some(grad) = grads.get(var) else { continue };
            let p = var.as_tensor().detach();
            let mut g = grad.detach();
            if c.weight_decay != 0.0 {
                g = (g + (&p * c.weight_decay)?)?;
            }
            let s = match self.state.get_mut(name) {
                Some(s) => s,
                None => {
                    let zeros = p.zeros_like()?;
                    self.state.entry(name.clone()).or_insert(ParamState { step: 0, m: zeros.clone(), v: zeros })
                }
            };
            s.step += 1;
            // exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
            s.m = (&s.m + ((&g - &s.m)? * (1.0 - c.beta1))?)?;
            s.v = ((&s.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
            let bias1 = 1.0 - c.beta1.powi(s.step as i32);
            let bias2_sqrt = (1.0 - c.beta2.powi(s.step as i32)).sqrt();
            let denom = ((s.v.sqrt()? / bias2_sqrt)? + c.eps)?;
            let update = ((&s.m / denom)? * (c.lr / bias1))?;
            var.set(&(p - update)?)?;
        }
        Ok(())
    }

    /// The state as named tensors, for a checkpoint: `step.<name>` (i64,
    /// `[1]`), `m.<name>`, `v.<name>`.
    pub fn state_tensors(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (name, s) in &self.state {
            out.insert(format!("step.{name}"), Tensor::new(&[s.step as i64], s.m.device())?);
            out.insert(format!("m.{name}"), s.m.clone());
            out.insert(format!("v.{name}"), s.v.clone());
        }
        Ok(out)
    }

    /// Restores [`Adam::state_tensors`]. Every parameter with a step entry
    /// must be one of ours and have both moments of its shape.
    pub fn load_state_tensors(&mut self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let mut state = BTreeMap::new();
        for (name, var) in &self.params {
            let Some(step) = tensors.get(&format!("step.{name}")) else { continue };
            let step = match step.flatten_all()?.to_dtype(DType::I64)?.to_vec1::<i64>()?.as_slice() {
                &[n] if n >= 0 => n as u64,
                _ => bail!("optimizer state: step.{name} is not one non-negative count"),
            };
            let moment = |kind: &str| -> Result<Tensor> {
                let Some(t) = tensors.get(&format!("{kind}.{name}")) else {
                    bail!("optimizer state: {kind}.{name} is missing")
                };
                if t.dims() != var.dims() {
                    bail!("optimizer state: {kind}.{name} has shape {:?}, the parameter {:?}", t.dims(), var.dims())
                }
                t.to_dtype(var.dtype())?.to_device(var.device())
            };
            state.insert(name.clone(), ParamState { step, m: moment("m")?, v: moment("v")? });
        }
        let known = |k: &str| {
            k.split_once('.').is_some_and(|(kind, rest)| {
                ["step", "m", "v"].contains(&kind) && self.params.iter().any(|(n, _)| n == rest)
            })
        };
        if let Some(k) = tensors.keys().find(|k| !known(k)) {
            bail!("optimizer state: {k} names no parameter")
        }
        self.state = state;
        Ok(())
    }
}

/// `torch.nn.utils.clip_grad_norm_(params, max_norm)`: the L2 norm over all
/// gradients together; when `max_norm / (norm + 1e-6) < 1` every gradient is
/// scaled by it. Returns the norm before clipping (computed in f64). A
/// non-finite norm is an error (PyTorch would silently write NaN gradients).
pub fn clip_grad_norm(params: &[(String, Var)], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let mut sum = 0.0;
    for (_, var) in params {
        if let Some(g) = grads.get(var) {
            sum += g.to_dtype(DType::F64)?.sqr()?.sum_all()?.to_scalar::<f64>()?;
        }
    }
    let norm = sum.sqrt();
    if !norm.is_finite() {
        bail!("gradient norm is {norm}")
    }
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for (_, var) in params {
            if let Some(g) = grads.remove(var) {
                grads.insert(var, (g * coef)?);
            }
        }
    }
    Ok(norm)
}
