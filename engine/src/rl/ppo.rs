//! PPO for discrete actions (Schulman et al. 2017, as Stable-Baselines3 implements it): clipped
//! objective, GAE, value loss, entropy bonus, minibatch epochs over vectorised rollouts,
//! time-limit bootstrapping, linear learning-rate and clip-range schedules.

use candle_core::{D, Device, Tensor};
use candle_nn::{Linear, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::env::{Action, Environment, RlError, Space};
use super::vector::VecEnv;
use crate::models::ModelError;
use crate::models::fused_ops::{softmax_last_dim, tanh};
use crate::models::layers::{Init, ParamFactory, apply};
use crate::models::optim::AdamW;

/// Hyperparameters; the defaults are RL Zoo's for CartPole-v1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    pub n_envs: usize,
    pub n_steps: usize,
    pub batch_size: usize,
    pub n_epochs: usize,
    pub gamma: f64,
    pub gae_lambda: f64,
    pub clip_range: f64,
    pub ent_coef: f64,
    pub vf_coef: f64,
    pub max_grad_norm: f64,
    pub learning_rate: f64,
    /// Anneal the learning rate and clip range linearly to zero.
    pub linear_schedule: bool,
    pub hidden: Vec<usize>,
    pub total_steps: usize,
    pub seed: u64,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            n_envs: 8,
            n_steps: 32,
            batch_size: 256,
            n_epochs: 20,
            gamma: 0.98,
            gae_lambda: 0.8,
            clip_range: 0.2,
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            learning_rate: 1e-3,
            linear_schedule: true,
            hidden: vec![64, 64],
            total_steps: 100_000,
            seed: 0,
        }
    }
}

/// A tanh MLP.
struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// Orthogonal init as Stable-Baselines3: gain √2 on hidden layers, `out_gain` on the last.
    fn new(
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        out_gain: f64,
        params: &ParamFactory,
    ) -> Result<Self, ModelError> {
        let mut layers = Vec::new();
        let mut width = inputs;
        let sizes: Vec<usize> = hidden.iter().copied().chain([outputs]).collect();
        for (k, &size) in sizes.iter().enumerate() {
            let gain = if k + 1 == sizes.len() { out_gain } else { std::f64::consts::SQRT_2 };
            let p = params.sub(&format!("l{k}"));
            let weight = p.get("weight", &[size, width], Init::Orthogonal(gain))?;
            let bias = p.get("bias", &[size], Init::Const(0.0))?;
            layers.push(Linear::new(weight, Some(bias)));
            width = size;
        }
        Ok(Self { layers })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor, ModelError> {
        let mut h = x.clone();
        for (k, layer) in self.layers.iter().enumerate() {
            h = apply(layer, &h)?;
            if k + 1 < self.layers.len() {
                h = tanh(&h)?;
            }
        }
        Ok(h)
    }
}

/// A discrete-action actor-critic: separate policy and value networks.
pub struct PpoAgent {
    policy: Mlp,
    value: Mlp,
    pub varmap: VarMap,
    obs_dim: usize,
    actions: usize,
    device: Device,
}

/// Training figures, one per update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PpoProgress {
    pub steps: usize,
    /// Mean return of the episodes that ended during the last rollouts (up to 100).
    pub mean_episode_return: f64,
    pub policy_loss: f64,
    pub value_loss: f64,
    pub entropy: f64,
}

impl PpoAgent {
    pub fn new(
        obs_dim: usize,
        actions: usize,
        hidden: &[usize],
        seed: u64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let varmap = VarMap::new();
        let params = ParamFactory::new(varmap.clone(), seed, device.clone());
        Ok(Self {
            policy: Mlp::new(obs_dim, hidden, actions, 0.01, &params.sub("policy"))?,
            value: Mlp::new(obs_dim, hidden, 1, 1.0, &params.sub("value"))?,
            varmap,
            obs_dim,
            actions,
            device: device.clone(),
        })
    }

    fn batch(&self, obs: &[Vec<f32>]) -> Result<Tensor, ModelError> {
        let flat: Vec<f32> = obs.iter().flatten().copied().collect();
        Ok(Tensor::from_vec(flat, (obs.len(), self.obs_dim), &self.device)?)
    }

    /// Action probabilities and state values for a batch of observations.
    fn evaluate(&self, obs: &Tensor) -> Result<(Tensor, Tensor), ModelError> {
        let probs = softmax_last_dim(&self.policy.forward(obs)?)?;
        let values = self.value.forward(obs)?.squeeze(1)?;
        Ok((probs, values))
    }

    /// The most likely action (deterministic evaluation).
    pub fn act_greedy(&self, obs: &[f32]) -> Result<usize, ModelError> {
        let logits: Vec<f32> = self.policy.forward(&self.batch(&[obs.to_vec()])?)?.squeeze(0)?.to_vec1()?;
        Ok(logits.iter().enumerate().fold(0, |best, (k, v)| if *v > logits[best] { k } else { best }))
    }

    /// Trains on `envs` (one environment per `config.n_envs`, all of the same task).
    pub fn train<E: Environment>(
        &self,
        envs: Vec<E>,
        config: &PpoConfig,
        mut on_update: impl FnMut(&PpoProgress),
    ) -> Result<Vec<PpoProgress>, PpoError> {
        let n_envs = envs.len();
        if n_envs == 0 || n_envs != config.n_envs {
            return Err(PpoError::Config(format!("{} environments for n_envs = {}", n_envs, config.n_envs)));
        }
        if envs[0].action_space() != Space::Discrete(self.actions) {
            return Err(PpoError::Config(format!(
                "this agent takes Discrete({}), the environment has {}",
                self.actions,
                envs[0].action_space().describe()
            )));
        }
        let rollout = config.n_steps * n_envs;
        let updates = config.total_steps.div_ceil(rollout);
        let mut venv = VecEnv::new(envs, config.seed);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5050);
        let mut opt = AdamW::new(&self.varmap, config.learning_rate, 0.0)?.with_eps(1e-5);
        let mut obs = venv.reset();
        let mut episode_returns = vec![0.0f64; n_envs];
        let mut finished: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
        let mut history = Vec::with_capacity(updates);
        for update in 0..updates {
            let remaining = if config.linear_schedule { 1.0 - update as f64 / updates as f64 } else { 1.0 };
            opt.learning_rate = config.learning_rate * remaining;
            let clip = config.clip_range * remaining;
            let mut b_obs: Vec<Vec<f32>> = Vec::with_capacity(rollout);
            let mut b_act = Vec::with_capacity(rollout);
            let mut b_logp = Vec::with_capacity(rollout);
            let mut b_val = Vec::with_capacity(rollout);
            let mut b_rew = Vec::with_capacity(rollout);
            let mut b_done = Vec::with_capacity(rollout);
            for _ in 0..config.n_steps {
                let (probs, values) = self.evaluate(&self.batch(&obs)?)?;
                let probs: Vec<Vec<f32>> = probs.to_vec2()?;
                let values: Vec<f32> = values.to_vec1()?;
                let mut actions = Vec::with_capacity(n_envs);
                for p in &probs {
                    let u: f32 = rng.random();
                    let mut acc = 0.0;
                    let mut a = p.len() - 1;
                    for (k, q) in p.iter().enumerate() {
                        acc += q;
                        if u < acc {
                            a = k;
                            break;
                        }
                    }
                    actions.push(a);
                }
                let step = venv.step(&actions.iter().map(|a| Action::Discrete(*a)).collect::<Vec<_>>())?;
                // A time limit is not a failure: bootstrap from the value of where it stopped.
                let truncated: Vec<usize> =
                    (0..n_envs).filter(|&i| step.steps[i].truncated && !step.steps[i].terminated).collect();
                let bootstrap: Vec<f32> = if truncated.is_empty() {
                    Vec::new()
                } else {
                    let last: Vec<Vec<f32>> = truncated.iter().map(|&i| step.steps[i].observation.clone()).collect();
                    self.value.forward(&self.batch(&last)?)?.squeeze(1)?.to_vec1()?
                };
                for i in 0..n_envs {
                    let s = &step.steps[i];
                    let mut reward = s.reward;
                    if let Some(k) = truncated.iter().position(|&j| j == i) {
                        reward += config.gamma * f64::from(bootstrap[k]);
                    }
                    episode_returns[i] += s.reward;
                    if s.terminated || s.truncated {
                        finished.push_back(episode_returns[i]);
                        if finished.len() > 100 {
                            finished.pop_front();
                        }
                        episode_returns[i] = 0.0;
                    }
                    b_obs.push(obs[i].clone());
                    b_act.push(actions[i]);
                    b_logp.push(f64::from(probs[i][actions[i]].max(1e-12)).ln());
                    b_val.push(f64::from(values[i]));
                    b_rew.push(reward);
                    b_done.push(s.terminated || s.truncated);
                }
                obs = step.next_observations;
            }
            let last_values: Vec<f32> = self.value.forward(&self.batch(&obs)?)?.squeeze(1)?.to_vec1()?;
            // GAE over each environment's steps (stored step-major: index = step·n_envs + env).
            let mut advantages = vec![0.0f64; rollout];
            for (i, last_value) in last_values.iter().enumerate() {
                let mut next_adv = 0.0;
                for step in (0..config.n_steps).rev() {
                    let k = step * n_envs + i;
                    let next_value =
                        if step + 1 == config.n_steps { f64::from(*last_value) } else { b_val[k + n_envs] };
                    let live = if b_done[k] { 0.0 } else { 1.0 };
                    let delta = b_rew[k] + config.gamma * next_value * live - b_val[k];
                    next_adv = delta + config.gamma * config.gae_lambda * live * next_adv;
                    advantages[k] = next_adv;
                }
            }
            let returns: Vec<f64> = advantages.iter().zip(&b_val).map(|(a, v)| a + v).collect();
            let mut order: Vec<usize> = (0..rollout).collect();
            let (mut pl, mut vl, mut ent, mut count) = (0.0, 0.0, 0.0, 0usize);
            for _ in 0..config.n_epochs {
                order.shuffle(&mut rng);
                for chunk in order.chunks(config.batch_size) {
                    let (p, v, e) = self.update_minibatch(
                        chunk,
                        &b_obs,
                        &b_act,
                        &b_logp,
                        &advantages,
                        &returns,
                        clip,
                        config,
                        &mut opt,
                    )?;
                    pl += p;
                    vl += v;
                    ent += e;
                    count += 1;
                }
            }
            let progress = PpoProgress {
                steps: (update + 1) * rollout,
                mean_episode_return: if finished.is_empty() {
                    f64::NAN
                } else {
                    finished.iter().sum::<f64>() / finished.len() as f64
                },
                policy_loss: pl / count.max(1) as f64,
                value_loss: vl / count.max(1) as f64,
                entropy: ent / count.max(1) as f64,
            };
            on_update(&progress);
            history.push(progress);
        }
        Ok(history)
    }

    #[allow(clippy::too_many_arguments)]
    fn update_minibatch(
        &self,
        chunk: &[usize],
        b_obs: &[Vec<f32>],
        b_act: &[usize],
        b_logp: &[f64],
        advantages: &[f64],
        returns: &[f64],
        clip: f64,
        config: &PpoConfig,
        opt: &mut AdamW,
    ) -> Result<(f64, f64, f64), ModelError> {
        let n = chunk.len();
        let obs: Vec<Vec<f32>> = chunk.iter().map(|&k| b_obs[k].clone()).collect();
        let mut one_hot = vec![0f32; n * self.actions];
        for (r, &k) in chunk.iter().enumerate() {
            one_hot[r * self.actions + b_act[k]] = 1.0;
        }
        // Advantages normalised per minibatch, as Stable-Baselines3 does.
        let adv: Vec<f64> = chunk.iter().map(|&k| advantages[k]).collect();
        let mean = adv.iter().sum::<f64>() / n as f64;
        let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64).sqrt();
        let adv: Vec<f32> = adv.iter().map(|a| ((a - mean) / (std + 1e-8)) as f32).collect();
        let dev = &self.device;
        let adv = Tensor::from_vec(adv, n, dev)?;
        let old_logp = Tensor::from_vec(chunk.iter().map(|&k| b_logp[k] as f32).collect::<Vec<_>>(), n, dev)?;
        let ret = Tensor::from_vec(chunk.iter().map(|&k| returns[k] as f32).collect::<Vec<_>>(), n, dev)?;
        let one_hot = Tensor::from_vec(one_hot, (n, self.actions), dev)?;
        let x = self.batch(&obs)?;
        let log_probs = candle_nn::ops::log_softmax(&self.policy.forward(&x)?, D::Minus1)?;
        let logp = (&log_probs * &one_hot)?.sum(D::Minus1)?;
        let ratio = (logp - old_logp)?.exp()?;
        let unclipped = (&ratio * &adv)?;
        let clipped = (ratio.clamp(1.0 - clip, 1.0 + clip)? * &adv)?;
        let policy_loss = unclipped.minimum(&clipped)?.mean_all()?.neg()?;
        let values = self.value.forward(&x)?.squeeze(1)?;
        let value_loss = (values - ret)?.sqr()?.mean_all()?;
        let entropy = (log_probs.exp()? * &log_probs)?.sum(D::Minus1)?.neg()?.mean_all()?;
        let loss = ((&policy_loss + (&value_loss * config.vf_coef)?)? - (&entropy * config.ent_coef)?)?;
        let grads = loss.backward()?;
        opt.step(&grads, Some(config.max_grad_norm))?;
        let f = |t: &Tensor| -> Result<f64, ModelError> { Ok(f64::from(t.to_scalar::<f32>()?)) };
        Ok((f(&policy_loss)?, f(&value_loss)?, f(&entropy)?))
    }

    /// Mean return of `episodes` greedy episodes, each reset with its own seed.
    pub fn evaluate_greedy<E: Environment>(&self, env: &mut E, episodes: usize, seed: u64) -> Result<f64, PpoError> {
        let mut total = 0.0;
        for e in 0..episodes {
            let mut obs = env.reset(seed.wrapping_add(e as u64));
            loop {
                let action = self.act_greedy(&obs)?;
                let step = env.step(&Action::Discrete(action))?;
                total += step.reward;
                if step.terminated || step.truncated {
                    break;
                }
                obs = step.observation;
            }
        }
        Ok(total / episodes.max(1) as f64)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PpoError {
    #[error("ppo: {0}")]
    Config(String),
    #[error(transparent)]
    Env(#[from] RlError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl From<candle_core::Error> for PpoError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(ModelError::Candle(e))
    }
}
