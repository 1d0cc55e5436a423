//! The agents' networks: multilayer perceptrons with Stable-Baselines3's initialisations,
//! target-network copies with Polyak averaging, and saving and loading of their weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::{Linear, VarMap};

use crate::models::ModelError;
use crate::models::fused_ops::tanh;
use crate::models::layers::{Init, ParamFactory, apply};

/// The hidden layers' nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// On-policy agents (PPO's default).
    Tanh,
    /// Off-policy agents (SAC, TD3, DQN).
    Relu,
}

/// How weights start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightInit {
    /// Orthogonal with gain √2 on hidden layers and the given gain on the output (SB3's PPO).
    Orthogonal { output_gain: f64 },
    /// PyTorch's default: uniform on ±1/√fan_in for weights and biases (SB3's SAC, TD3, DQN).
    PyTorch,
}

/// A multilayer perceptron.
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
}

impl Mlp {
    pub fn new(
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        activation: Activation,
        init: WeightInit,
        params: &ParamFactory,
    ) -> Result<Self, ModelError> {
        let mut layers = Vec::new();
        let mut width = inputs;
        let sizes: Vec<usize> = hidden.iter().copied().chain([outputs]).collect();
        for (k, &size) in sizes.iter().enumerate() {
            let p = params.sub(&format!("l{k}"));
            let (weight_init, bias_init) = match init {
                WeightInit::Orthogonal { output_gain } => {
                    let gain = if k + 1 == sizes.len() { output_gain } else { std::f64::consts::SQRT_2 };
                    (Init::Orthogonal(gain), Init::Const(0.0))
                }
                WeightInit::PyTorch => {
                    let bound = 1.0 / (width as f64).sqrt();
                    (Init::Uniform(bound), Init::Uniform(bound))
                }
            };
            let weight = p.get("weight", &[size, width], weight_init)?;
            let bias = p.get("bias", &[size], bias_init)?;
            layers.push(Linear::new(weight, Some(bias)));
            width = size;
        }
        Ok(Self { layers, activation })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let mut h = x.clone();
        for (k, layer) in self.layers.iter().enumerate() {
            h = apply(layer, &h)?;
            if k + 1 < self.layers.len() {
                h = match self.activation {
                    Activation::Tanh => tanh(&h)?,
                    Activation::Relu => h.relu()?,
                };
            }
        }
        Ok(h)
    }
}

/// A Q-network of (observation, action) pairs for the continuous-action agents.
pub fn critic(obs_dim: usize, act_dim: usize, hidden: &[usize], params: &ParamFactory) -> Result<Mlp, ModelError> {
    Mlp::new(obs_dim + act_dim, hidden, 1, Activation::Relu, WeightInit::PyTorch, params)
}

/// Rows of observations as a [rows, dim] tensor.
pub fn rows_tensor(rows: &[&[f32]], dim: usize, device: &Device) -> Result<Tensor, ModelError> {
    let mut flat = Vec::with_capacity(rows.len() * dim);
    for r in rows {
        flat.extend_from_slice(r);
    }
    Ok(Tensor::from_vec(flat, (rows.len(), dim), device)?)
}

/// Sets every variable of `target` to `tau`·source + (1 − `tau`)·target, matching by name
/// (`tau` = 1 copies).
pub fn polyak_update(source: &VarMap, target: &VarMap, tau: f64) -> Result<(), ModelError> {
    let poisoned = || ModelError::Data("parameter store poisoned".into());
    let src = source.data().lock().map_err(|_| poisoned())?;
    let dst = target.data().lock().map_err(|_| poisoned())?;
    for (name, var) in dst.iter() {
        let from = src.get(name).ok_or_else(|| ModelError::Data(format!("target parameter {name} has no source")))?;
        let value = if tau >= 1.0 {
            from.as_tensor().copy()?
        } else {
            ((from.as_tensor() * tau)? + (var.as_tensor() * (1.0 - tau))?)?
        };
        var.set(&value)?;
    }
    Ok(())
}

/// Saves several parameter stores into one safetensors file, each under its prefix.
pub fn save_stores(path: &Path, stores: &[(&str, &VarMap)]) -> Result<(), ModelError> {
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (prefix, store) in stores {
        let data = store.data().lock().map_err(|_| ModelError::Data("parameter store poisoned".into()))?;
        for (name, var) in data.iter() {
            tensors.insert(format!("{prefix}/{name}"), var.as_tensor().clone());
        }
    }
    crate::models::checkpoint::write_weights(path, &tensors)
}

/// Loads what [`save_stores`] wrote into stores of the same shapes; a missing or misshapen
/// parameter is an error naming it.
pub fn load_stores(path: &Path, stores: &[(&str, &VarMap)], device: &Device) -> Result<(), ModelError> {
    let tensors = crate::models::checkpoint::read_weights(path, device)?;
    for (prefix, store) in stores {
        let data = store.data().lock().map_err(|_| ModelError::Data("parameter store poisoned".into()))?;
        for (name, var) in data.iter() {
            let key = format!("{prefix}/{name}");
            let value = tensors.get(&key).ok_or_else(|| ModelError::Checkpoint {
                path: path.display().to_string(),
                reason: format!("no parameter {key}"),
            })?;
            if value.dims() != var.dims() {
                return Err(ModelError::Checkpoint {
                    path: path.display().to_string(),
                    reason: format!("{key} has shape {:?}, the agent needs {:?}", value.dims(), var.dims()),
                });
            }
            var.set(value)?;
        }
    }
    Ok(())
}
