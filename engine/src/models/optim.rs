//! AdamW whose moments can be saved (so training resumes exactly), gradient clipping by global
//! norm (Candle has none), and the learning-rate schedule: linear warm-up then cosine decay.

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use super::error::{ModelError, Result};

/// Decoupled weight decay Adam (Loshchilov & Hutter), PyTorch's update order.
pub struct AdamW {
    params: Vec<(String, Var)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    pub step: u64,
    pub learning_rate: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl AdamW {
    pub fn new(varmap: &VarMap, learning_rate: f64, weight_decay: f64) -> Result<Self> {
        let mut params: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .map_err(|_| ModelError::Data("parameter store poisoned".into()))?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let first = params.iter().map(|(_, v)| v.as_tensor().zeros_like()).collect::<candle_core::Result<Vec<_>>>()?;
        let second = first.clone();
        Ok(Self { params, first, second, step: 0, learning_rate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay })
    }

    /// Adam's ε (1e-8 by default; Stable-Baselines3's PPO uses 1e-5).
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// The global L2 norm of every parameter's gradient.
    pub fn gradient_norm(&self, grads: &GradStore) -> Result<f64> {
        let mut total = 0.0f64;
        for (_, var) in &self.params {
            if let Some(g) = grads.get(var.as_tensor()) {
                total += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
            }
        }
        Ok(total.sqrt())
    }

    /// One update; gradients are first scaled so their global norm is at most `clip_norm`
    /// (PyTorch's `clip_grad_norm_`). Returns the norm before clipping.
    pub fn step(&mut self, grads: &GradStore, clip_norm: Option<f64>) -> Result<f64> {
        let norm = self.gradient_norm(grads)?;
        let scale = match clip_norm {
            Some(max) if norm > max => max / (norm + 1e-6),
            _ => 1.0,
        };
        self.step += 1;
        let t = self.step as i32;
        let correction1 = 1.0 - self.beta1.powi(t);
        let correction2 = 1.0 - self.beta2.powi(t);
        let lr = self.learning_rate;
        for (k, (_, var)) in self.params.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let g = if scale == 1.0 { g.clone() } else { (g * scale)? };
            let m = ((&self.first[k] * self.beta1)? + (&g * (1.0 - self.beta1))?)?;
            let v = ((&self.second[k] * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let m_hat = (&m / correction1)?;
            let v_hat = (&v / correction2)?;
            let theta = (var.as_tensor() * (1.0 - lr * self.weight_decay))?;
            let update = (m_hat / (v_hat.sqrt()? + self.eps)?)?;
            var.set(&(theta - (update * lr)?)?)?;
            self.first[k] = m.detach();
            self.second[k] = v.detach();
        }
        Ok(norm)
    }

    /// Saves both moments of every parameter, under `m.NAME` and `v.NAME`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (k, (name, _)) in self.params.iter().enumerate() {
            tensors.insert(format!("m.{name}"), self.first[k].clone());
            tensors.insert(format!("v.{name}"), self.second[k].clone());
        }
        candle_core::safetensors::save(&tensors, path)?;
        Ok(())
    }

    /// Restores moments saved by [`AdamW::save`]; every parameter must be there.
    pub fn load(&mut self, path: &Path, step: u64, device: &Device) -> Result<()> {
        let tensors = candle_core::safetensors::load(path, device)?;
        for (k, (name, var)) in self.params.iter().enumerate() {
            for (prefix, slot) in [("m", &mut self.first[k]), ("v", &mut self.second[k])] {
                let t = tensors.get(&format!("{prefix}.{name}")).ok_or_else(|| {
                    ModelError::checkpoint(path, format!("optimizer state has no moment for parameter {name}"))
                })?;
                if t.dims() != var.dims() {
                    return Err(ModelError::checkpoint(path, format!("moment of {name} has the wrong shape")));
                }
                *slot = t.clone();
            }
        }
        self.step = step;
        Ok(())
    }
}

/// Linear warm-up over `warmup` steps to `peak`, then cosine decay to `floor` at `total`.
pub fn scheduled_rate(step: u64, warmup: u64, total: u64, peak: f64, floor: f64) -> f64 {
    if warmup > 0 && step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step.saturating_sub(warmup)) as f64 / span).min(1.0);
    floor + 0.5 * (peak - floor) * (1.0 + (std::f64::consts::PI * progress).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        assert!((scheduled_rate(0, 10, 100, 1e-3, 1e-5) - 1e-4).abs() < 1e-15);
        assert!((scheduled_rate(9, 10, 100, 1e-3, 1e-5) - 1e-3).abs() < 1e-15);
        assert!((scheduled_rate(10, 10, 100, 1e-3, 1e-5) - 1e-3).abs() < 1e-15);
        let mid = scheduled_rate(55, 10, 100, 1e-3, 1e-5);
        assert!((mid - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12);
        assert!((scheduled_rate(100, 10, 100, 1e-3, 1e-5) - 1e-5).abs() < 1e-15);
        assert!((scheduled_rate(500, 10, 100, 1e-3, 1e-5) - 1e-5).abs() < 1e-15);
    }
}
