//! The training loop's state and one step of it: EFE + RIE forward, the five
//! losses (the semantic one through the frozen USS), backward, global
//! gradient-norm clipping, Adam. Checkpoints hold everything a resumed run
//! needs to continue exactly: parameters, optimiser state, step, and the
//! configuration it must match (data order depends only on seed and step).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use super::checkpoint::{self, CHECKPOINT_FORMAT, FORMAT_KEY};
use super::data::Sampling;
use super::rng::Rng;
use super::uss::Uss;
use super::{Adam, AdamConfig, LossWeights, Objective, argmax_target, clip_grad_norm, focal_loss, named_vars};
use crate::Sgz;
use crate::model::weights::fan_ins;
use crate::model::expected_tensors;
use crate::model::resize;

/// Initial EFE weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InitScheme {
    /// PyTorch's default for `nn.Conv2d` (the authors' code): weights and
    /// biases uniform in `±1/sqrt(fan_in)`.
    Pytorch,
    /// The paper: weights N(0, 0.02), biases as PyTorch's default.
    Normal,
}

/// Focal loss exponent of the semantic term.
pub const FOCAL_GAMMA: f64 = 2.0;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    pub sampling: Sampling,
    /// Images are resized so that their shorter side is this, then cropped.
    pub resize: usize,
    pub steps: u64,
    pub adam: AdamConfig,
    pub clip_norm: f64,
    /// Cosine decay of the learning rate from `adam.lr` to 0 over `steps`.
    pub cosine: bool,
    pub loss_weights: LossWeights,
    /// The EFE runs at 1/s of the crop (the authors train with 1).
    pub scale_factor: usize,
    pub iterations: usize,
    pub init: InitScheme,
    /// The USS sees the enhanced batch resized to this size (0: as is).
    pub semantic_size: usize,
    /// Names the USS backbone (for the checkpoint's consistency check).
    pub backbone: String,
}

impl TrainConfig {
    /// Every setting that changes the result, as text: a resumed run must
    /// match it exactly (the step count may grow).
    pub fn fingerprint(&self) -> BTreeMap<String, String> {
        let s = &self.sampling;
        let w = &self.loss_weights;
        let a = &self.adam;
        [
            ("seed", s.seed.to_string()),
            ("batch", s.batch.to_string()),
            ("crop", s.crop.to_string()),
            ("flips", s.flips.to_string()),
            ("resize", self.resize.to_string()),
            ("lr", a.lr.to_string()),
            ("betas", format!("{},{}", a.beta1, a.beta2)),
            ("eps", a.eps.to_string()),
            ("weight_decay", a.weight_decay.to_string()),
            ("clip_norm", self.clip_norm.to_string()),
            ("schedule", if self.cosine { format!("cosine over {} steps", self.steps) } else { "constant".into() }),
            ("loss_weights", format!("tv={} spa={} color={} exposure={} semantic={}", w.tv, w.spa, w.color, w.exposure, w.semantic)),
            ("scale_factor", self.scale_factor.to_string()),
            ("iterations", self.iterations.to_string()),
            ("init", format!("{:?}", self.init)),
            ("semantic_size", self.semantic_size.to_string()),
            ("backbone", self.backbone.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("config.{k}"), v))
        .collect()
    }
}

/// The loss terms of one step (weighted) and the gradient norm before clipping.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLog {
    pub step: u64,
    pub total: f64,
    pub terms: Vec<(&'static str, f64)>,
    pub grad_norm: f64,
}

pub struct Trainer {
    config: TrainConfig,
    varmap: VarMap,
    model: Sgz,
    adam: Adam,
    uss: Option<Uss>,
    step: u64,
}

impl Trainer {
    /// A fresh run: EFE weights from `config.init` and the seed.
    pub fn new(config: TrainConfig, uss: Option<Uss>) -> Result<Self> {
        let mut rng = Rng::derive(&[config.sampling.seed, 0x1417]);
        let mut initial = HashMap::new();
        for ((name, shape), fan_in) in expected_tensors().into_iter().zip(fan_ins()) {
            let bound = 1.0 / (fan_in as f64).sqrt();
            let t = match (config.init, name.ends_with(".weight")) {
                (InitScheme::Normal, true) => rng.tensor(&shape, 0.02, DType::F32, &Device::Cpu)?,
                _ => rng.uniform_tensor(&shape, bound, DType::F32, &Device::Cpu)?,
            };
            initial.insert(name, t);
        }
        Self::with_parameters(config, uss, initial, 0)
    }

    fn with_parameters(config: TrainConfig, uss: Option<Uss>, params: HashMap<String, Tensor>, step: u64) -> Result<Self> {
        let varmap = VarMap::new();
        {
            let mut data = varmap.data().lock().expect("varmap lock");
            for (name, shape) in expected_tensors() {
                let t = params.get(&name).with_context(|| format!("parameter {name} is missing"))?;
                if t.dims() != shape.as_slice() {
                    bail!("parameter {name} has shape {:?}, expected {shape:?}", t.dims())
                }
                data.insert(name, Var::from_tensor(&t.to_dtype(DType::F32)?)?);
            }
        }
        let model = Sgz::new(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
        let adam = Adam::new(named_vars(&varmap), config.adam);
        Ok(Trainer { config, varmap, model, adam, uss, step })
    }

    /// Continues from a checkpoint written by [`Trainer::save_checkpoint`]
    /// with the same configuration (only `steps` may differ).
    pub fn resume(path: &Path, config: TrainConfig, uss: Option<Uss>) -> Result<Self> {
        let (tensors, meta) = checkpoint::load(path)?;
        if meta.get(FORMAT_KEY).map(String::as_str) != Some(CHECKPOINT_FORMAT) {
            bail!("{}: not a lowlight-train checkpoint", path.display())
        }
        for (key, value) in config.fingerprint() {
            match meta.get(&key) {
                Some(saved) if *saved == value => {}
                Some(saved) => bail!(
                    "{}: checkpoint was trained with {} = {saved}, this run has {value}; resume with the same settings",
                    path.display(),
                    key.trim_start_matches("config.")
                ),
                None => bail!("{}: checkpoint lacks {key}", path.display()),
            }
        }
        let step: u64 = meta.get("step").and_then(|s| s.parse().ok()).context("checkpoint lacks its step")?;
        let mut params = HashMap::new();
        let mut state = HashMap::new();
        for (name, t) in tensors {
            match name.strip_prefix("param.") {
                Some(p) => {
                    params.insert(p.to_string(), t);
                }
                None => {
                    let rest = name.strip_prefix("adam.").with_context(|| format!("unexpected tensor {name}"))?;
                    state.insert(rest.to_string(), t);
                }
            }
        }
        let mut trainer = Self::with_parameters(config, uss, params, step)?;
        trainer.adam.load_state_tensors(&state)?;
        Ok(trainer)
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn model(&self) -> &Sgz {
        &self.model
    }

    /// The learning rate of step `step` (0-based).
    pub fn learning_rate(&self, step: u64) -> f64 {
        let c = &self.config;
        if !c.cosine {
            return c.adam.lr;
        }
        let t = step as f64 / c.steps.max(1) as f64;
        c.adam.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }

    /// One optimiser step on `batch` `[N, 3, H, W]` in 0..1.
    pub fn step(&mut self, batch: &Tensor) -> Result<StepLog> {
        self.adam.config.lr = self.learning_rate(self.step);
        let c = &self.config;
        let out = self.model.forward(batch, c.scale_factor, c.iterations)?;
        let semantic = match &self.uss {
            Some(uss) if c.loss_weights.semantic != 0.0 => {
                let (_, _, h, w) = out.enhanced.dims4()?;
                let seen = match c.semantic_size {
                    0 => out.enhanced.clone(),
                    s if s == h && s == w => out.enhanced.clone(),
                    s => resize(&out.enhanced, s, s, false)?,
                };
                let logits = uss.forward_quarter(&seen)?;
                let target = argmax_target(&logits.detach())?;
                Some(focal_loss(&logits, &target, FOCAL_GAMMA)?)
            }
            _ => None,
        };
        let obj = Objective::compute(batch, &out.enhanced, &out.factor, semantic, &c.loss_weights)?;
        let total = obj.total.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        if !total.is_finite() {
            bail!("step {}: the loss is {total}", self.step + 1)
        }
        let mut grads = obj.total.backward()?;
        let grad_norm = clip_grad_norm(self.adam.params(), &mut grads, c.clip_norm)?;
        self.adam.step(&grads)?;
        self.step += 1;
        Ok(StepLog { step: self.step, total, terms: obj.weighted.to_vec()?, grad_norm })
    }

    /// The EFE parameters under the reference names, f32.
    pub fn parameters(&self) -> HashMap<String, Tensor> {
        named_vars(&self.varmap).into_iter().map(|(n, v)| (n, v.as_tensor().clone())).collect()
    }

    /// Parameters, optimiser state, step and configuration, atomically.
    pub fn save_checkpoint(&self, path: &Path) -> Result<()> {
        let mut tensors: HashMap<String, Tensor> =
            self.parameters().into_iter().map(|(n, t)| (format!("param.{n}"), t)).collect();
        for (n, t) in self.adam.state_tensors()? {
            tensors.insert(format!("adam.{n}"), t);
        }
        let mut meta = self.config.fingerprint();
        meta.insert(FORMAT_KEY.into(), CHECKPOINT_FORMAT.into());
        meta.insert("step".into(), self.step.to_string());
        checkpoint::save_atomic(path, &tensors, &meta)
    }

    /// The model file the element and the CLI load: the EFE tensors only,
    /// float32, the reference names; `metadata` describes the run.
    pub fn save_model(&self, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
        let mut meta = metadata.clone();
        meta.insert("step".into(), self.step.to_string());
        checkpoint::save_atomic(path, &self.parameters(), &meta)
    }
}
