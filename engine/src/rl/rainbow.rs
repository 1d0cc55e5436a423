//! Rainbow DQN (Hessel et al. 2017): double Q-learning, dueling heads, prioritised replay,
//! n-step returns, distributional C51 and noisy networks, each switchable for ablation.

use std::collections::VecDeque;
use std::path::Path;

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::env::{Action, Environment, Space};
use super::nets::{load_stores, polyak_update, rows_tensor, save_stores};
use super::offpolicy::{AgentError, Batch, ReplayBuffer};
use super::per::Priorities;
use crate::models::ModelError;
use crate::models::layers::{Init, ParamFactory};
use crate::models::optim::AdamW;

/// Settings; each of the six components can be switched off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RainbowConfig {
    pub total_steps: usize,
    pub learning_starts: usize,
    pub batch_size: usize,
    pub buffer_size: usize,
    pub learning_rate: f64,
    pub adam_eps: f64,
    pub gamma: f64,
    /// Width of the shared layer and of each head's hidden layer.
    pub hidden: usize,
    /// Environment steps between gradient steps.
    pub train_freq: usize,
    /// Gradient steps between copies of the online network into the target network.
    pub target_update_interval: usize,
    pub max_grad_norm: f64,
    pub double: bool,
    pub dueling: bool,
    pub prioritized: bool,
    pub priority_alpha: f64,
    /// β of the importance weights, annealed linearly to 1 over training.
    pub priority_beta: f64,
    /// Steps per return (1: one-step Q-learning).
    pub n_step: usize,
    pub distributional: bool,
    pub atoms: usize,
    pub v_min: f64,
    pub v_max: f64,
    /// Noisy linear layers in the heads instead of ε-greedy exploration.
    pub noisy: bool,
    pub noisy_sigma: f64,
    /// ε-greedy (when not noisy): from `epsilon_start` to `epsilon_end` over this fraction of training.
    pub exploration_fraction: f64,
    pub epsilon_start: f64,
    pub epsilon_end: f64,
    pub seed: u64,
}

impl Default for RainbowConfig {
    /// Settings that solve CartPole-v1 within 100k steps.
    fn default() -> Self {
        Self {
            total_steps: 100_000,
            learning_starts: 1_000,
            batch_size: 64,
            buffer_size: 100_000,
            learning_rate: 5e-4,
            adam_eps: 1.5e-4,
            gamma: 0.99,
            hidden: 128,
            train_freq: 4,
            target_update_interval: 200,
            max_grad_norm: 10.0,
            double: true,
            dueling: true,
            prioritized: true,
            priority_alpha: 0.5,
            priority_beta: 0.4,
            n_step: 3,
            distributional: true,
            atoms: 51,
            v_min: 0.0,
            v_max: 200.0,
            noisy: true,
            noisy_sigma: 0.5,
            exploration_fraction: 0.1,
            epsilon_start: 1.0,
            epsilon_end: 0.02,
            seed: 0,
        }
    }
}

/// A linear layer, with factorised Gaussian noise on weights and biases when noisy
/// (Fortunato et al. 2018): w = μ + σ ⊙ f(ε_out) f(ε_in)ᵀ, f(x) = sgn(x)√|x|.
struct NoisyLinear {
    mu_w: Tensor,
    mu_b: Tensor,
    sigma: Option<(Tensor, Tensor)>,
    noise: std::cell::RefCell<Option<(Tensor, Tensor)>>,
    inputs: usize,
    outputs: usize,
}

impl NoisyLinear {
    fn new(inputs: usize, outputs: usize, noisy: Option<f64>, p: &ParamFactory) -> Result<Self, ModelError> {
        let bound = 1.0 / (inputs as f64).sqrt();
        let mu_w = p.get("mu_weight", &[outputs, inputs], Init::Uniform(bound))?;
        let mu_b = p.get("mu_bias", &[outputs], Init::Uniform(bound))?;
        let sigma = match noisy {
            Some(s0) => {
                let s = (s0 / (inputs as f64).sqrt()) as f32;
                Some((
                    p.get("sigma_weight", &[outputs, inputs], Init::Const(s))?,
                    p.get("sigma_bias", &[outputs], Init::Const(s))?,
                ))
            }
            None => None,
        };
        Ok(Self { mu_w, mu_b, sigma, noise: std::cell::RefCell::new(None), inputs, outputs })
    }

    fn resample(&self, rng: &mut ChaCha8Rng) -> Result<(), ModelError> {
        if self.sigma.is_none() {
            return Ok(());
        }
        let f = |x: f32| x.signum() * x.abs().sqrt();
        let e_in: Vec<f32> = (0..self.inputs).map(|_| f(StandardNormal.sample(rng))).collect();
        let e_out: Vec<f32> = (0..self.outputs).map(|_| f(StandardNormal.sample(rng))).collect();
        let device = self.mu_w.device();
        let e_in_t = Tensor::from_vec(e_in, (1, self.inputs), device)?;
        let e_out_t = Tensor::from_vec(e_out.clone(), (self.outputs, 1), device)?;
        let eps_w = e_out_t.broadcast_mul(&e_in_t)?;
        let eps_b = Tensor::from_vec(e_out, self.outputs, device)?;
        *self.noise.borrow_mut() = Some((eps_w, eps_b));
        Ok(())
    }

    fn forward(&self, x: &Tensor, with_noise: bool) -> Result<Tensor, ModelError> {
        let (w, b) = match (&self.sigma, self.noise.borrow().as_ref()) {
            (Some((sw, sb)), Some((ew, eb))) if with_noise => ((&self.mu_w + (sw * ew)?)?, (&self.mu_b + (sb * eb)?)?),
            _ => (self.mu_w.clone(), self.mu_b.clone()),
        };
        Ok(x.matmul(&w.t()?)?.broadcast_add(&b)?)
    }
}

/// The Q-network: a shared layer, then advantage (and value, when dueling) heads, per atom.
struct QNetwork {
    shared: NoisyLinear,
    advantage: [NoisyLinear; 2],
    value: Option<[NoisyLinear; 2]>,
    actions: usize,
    atoms: usize,
}

impl QNetwork {
    fn new(obs_dim: usize, actions: usize, c: &RainbowConfig, p: &ParamFactory) -> Result<Self, ModelError> {
        let atoms = if c.distributional { c.atoms.max(2) } else { 1 };
        let noisy = c.noisy.then_some(c.noisy_sigma);
        let h = c.hidden;
        let value = if c.dueling {
            Some([
                NoisyLinear::new(h, h, noisy, &p.sub("value0"))?,
                NoisyLinear::new(h, atoms, noisy, &p.sub("value1"))?,
            ])
        } else {
            None
        };
        Ok(Self {
            shared: NoisyLinear::new(obs_dim, h, None, &p.sub("shared"))?,
            advantage: [
                NoisyLinear::new(h, h, noisy, &p.sub("advantage0"))?,
                NoisyLinear::new(h, actions * atoms, noisy, &p.sub("advantage1"))?,
            ],
            value,
            actions,
            atoms,
        })
    }

    fn resample(&self, rng: &mut ChaCha8Rng) -> Result<(), ModelError> {
        for layer in self.advantage.iter().chain(self.value.iter().flatten()) {
            layer.resample(rng)?;
        }
        Ok(())
    }

    /// Per action and atom [batch, actions, atoms]: logits when distributional, else Q-values.
    fn forward(&self, x: &Tensor, noise: bool) -> Result<Tensor, ModelError> {
        let rows = x.dim(0)?;
        let f = self.shared.forward(x, false)?.relu()?;
        let head = |layers: &[NoisyLinear; 2]| -> Result<Tensor, ModelError> {
            layers[1].forward(&layers[0].forward(&f, noise)?.relu()?, noise)
        };
        let advantage = head(&self.advantage)?.reshape((rows, self.actions, self.atoms))?;
        match &self.value {
            Some(v) => {
                let value = head(v)?.reshape((rows, 1, self.atoms))?;
                let centred = advantage.broadcast_sub(&advantage.mean_keepdim(1)?)?;
                Ok(centred.broadcast_add(&value)?)
            }
            None => Ok(advantage),
        }
    }
}

pub struct RainbowAgent {
    online: QNetwork,
    target: QNetwork,
    online_vars: VarMap,
    target_vars: VarMap,
    opt: AdamW,
    config: RainbowConfig,
    support: Vec<f32>,
    support_t: Tensor,
    obs_dim: usize,
    actions: usize,
    device: Device,
    rng: ChaCha8Rng,
}

/// Training figures, one per finished episode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RainbowProgress {
    pub steps: usize,
    pub episode_return: f64,
    pub loss: f64,
}

impl RainbowAgent {
    pub fn new(obs_dim: usize, actions: usize, config: &RainbowConfig, device: &Device) -> Result<Self, ModelError> {
        let online_vars = VarMap::new();
        let target_vars = VarMap::new();
        let online = QNetwork::new(
            obs_dim,
            actions,
            config,
            &ParamFactory::new(online_vars.clone(), config.seed, device.clone()),
        )?;
        let target = QNetwork::new(
            obs_dim,
            actions,
            config,
            &ParamFactory::new(target_vars.clone(), config.seed, device.clone()),
        )?;
        let atoms = online.atoms;
        let support: Vec<f32> = if config.distributional {
            let dz = (config.v_max - config.v_min) / (atoms - 1) as f64;
            (0..atoms).map(|i| (config.v_min + dz * i as f64) as f32).collect()
        } else {
            vec![1.0]
        };
        let rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x7a1_2b0);
        Ok(Self {
            opt: AdamW::new(&online_vars, config.learning_rate, 0.0)?.with_eps(config.adam_eps),
            support_t: Tensor::from_vec(support.clone(), (1, 1, atoms), device)?,
            support,
            online,
            target,
            online_vars,
            target_vars,
            config: config.clone(),
            obs_dim,
            actions,
            device: device.clone(),
            rng,
        })
    }

    /// Q-values [batch, actions] from a network's output.
    fn q_values(&self, out: &Tensor) -> Result<Tensor, ModelError> {
        if self.config.distributional {
            let probs = candle_nn::ops::softmax(out, D::Minus1)?;
            Ok(probs.broadcast_mul(&self.support_t)?.sum(D::Minus1)?)
        } else {
            Ok(out.squeeze(2)?)
        }
    }

    fn argmax_rows(q: &Tensor) -> Result<Vec<usize>, ModelError> {
        Ok(q.argmax(D::Minus1)?.to_dtype(DType::U32)?.to_vec1::<u32>()?.into_iter().map(|a| a as usize).collect())
    }

    /// The greedy action with the noise off (deterministic evaluation and deployment).
    pub fn act_greedy(&self, obs: &[f32]) -> Result<usize, ModelError> {
        let x = rows_tensor(&[obs], self.obs_dim, &self.device)?;
        Ok(Self::argmax_rows(&self.q_values(&self.online.forward(&x, false)?)?)?[0])
    }

    fn act_explore(&mut self, obs: &[f32], epsilon: f64) -> Result<usize, ModelError> {
        if !self.config.noisy && self.rng.random::<f64>() < epsilon {
            return Ok(self.rng.random_range(0..self.actions));
        }
        if self.config.noisy {
            self.online.resample(&mut self.rng)?;
        }
        let x = rows_tensor(&[obs], self.obs_dim, &self.device)?;
        Ok(Self::argmax_rows(&self.q_values(&self.online.forward(&x, self.config.noisy)?)?)?[0])
    }

    /// One gradient step; returns the per-sample losses (the new priorities) and the mean loss.
    fn learn(&mut self, batch: &Batch, weights: &[f32]) -> Result<(Vec<f32>, f64), ModelError> {
        let c = self.config.clone();
        let rows = batch.obs.dim(0)?;
        if c.noisy {
            self.online.resample(&mut self.rng)?;
            self.target.resample(&mut self.rng)?;
        }
        let actions: Vec<usize> = batch.actions.flatten_all()?.to_vec1::<f32>()?.iter().map(|a| *a as usize).collect();
        let mut one_hot = vec![0f32; rows * self.actions];
        for (r, a) in actions.iter().enumerate() {
            one_hot[r * self.actions + a] = 1.0;
        }
        let one_hot = Tensor::from_vec(one_hot, (rows, self.actions, 1), &self.device)?;
        let rewards: Vec<f32> = batch.rewards.to_vec1()?;
        let bootstrap: Vec<f32> = batch.bootstrap.to_vec1()?;
        // The next action: the online network's choice under double Q-learning, else the target's.
        let target_out = self.target.forward(&batch.next_obs, c.noisy)?.detach();
        let next_actions = if c.double {
            Self::argmax_rows(&self.q_values(&self.online.forward(&batch.next_obs, c.noisy)?.detach())?)?
        } else {
            Self::argmax_rows(&self.q_values(&target_out)?)?
        };
        let out = self.online.forward(&batch.obs, c.noisy)?;
        let weights_t = Tensor::from_vec(weights.to_vec(), rows, &self.device)?;
        let per_sample = if c.distributional {
            let atoms = self.support.len();
            let next_probs: Vec<Vec<Vec<f32>>> = candle_nn::ops::softmax(&target_out, D::Minus1)?.to_vec3()?;
            let projected = self.project(&next_probs, &next_actions, &rewards, &bootstrap);
            let m = Tensor::from_vec(projected, (rows, atoms), &self.device)?;
            let log_p = candle_nn::ops::log_softmax(&out, D::Minus1)?.broadcast_mul(&one_hot)?.sum(1)?;
            (m * log_p)?.sum(D::Minus1)?.neg()?
        } else {
            let q_next: Vec<Vec<f32>> = target_out.squeeze(2)?.to_vec2()?;
            let y: Vec<f32> = (0..rows).map(|r| rewards[r] + bootstrap[r] * q_next[r][next_actions[r]]).collect();
            let y = Tensor::from_vec(y, rows, &self.device)?;
            let q = out.broadcast_mul(&one_hot)?.sum(1)?.squeeze(1)?;
            huber(&(q - y)?)?
        };
        let loss = (&per_sample * &weights_t)?.mean_all()?;
        self.opt.step(&loss.backward()?, Some(c.max_grad_norm))?;
        Ok((per_sample.detach().to_vec1()?, f64::from(loss.to_scalar::<f32>()?)))
    }

    /// C51's projection of r + γᵏ z onto the support, distributing each atom's mass to its
    /// two neighbours.
    fn project(
        &self,
        next_probs: &[Vec<Vec<f32>>],
        next_actions: &[usize],
        rewards: &[f32],
        bootstrap: &[f32],
    ) -> Vec<f32> {
        let atoms = self.support.len();
        let (v_min, v_max) = (self.config.v_min as f32, self.config.v_max as f32);
        let dz = (v_max - v_min) / (atoms - 1) as f32;
        let mut m = vec![0f32; next_probs.len() * atoms];
        for (r, probs) in next_probs.iter().enumerate() {
            let p = &probs[next_actions[r]];
            for (j, z) in self.support.iter().enumerate() {
                let tz = (rewards[r] + bootstrap[r] * z).clamp(v_min, v_max);
                let b = (tz - v_min) / dz;
                let (l, u) = (b.floor() as usize, b.ceil() as usize);
                let row = &mut m[r * atoms..(r + 1) * atoms];
                if l == u {
                    row[l] += p[j];
                } else {
                    row[l] += p[j] * (u as f32 - b);
                    row[u] += p[j] * (b - l as f32);
                }
            }
        }
        m
    }

    /// Trains on one environment for `config.total_steps` steps.
    pub fn train<E: Environment>(
        &mut self,
        env: &mut E,
        mut on_episode: impl FnMut(&RainbowProgress),
    ) -> Result<Vec<RainbowProgress>, AgentError> {
        let c = self.config.clone();
        if env.action_space() != Space::Discrete(self.actions) || env.observation_space().dim() != self.obs_dim {
            return Err(AgentError::Config(format!(
                "the agent takes Discrete({}) actions and {} observations; the environment has {} and {}",
                self.actions,
                self.obs_dim,
                env.action_space().describe(),
                env.observation_space().dim()
            )));
        }
        let mut buffer = ReplayBuffer::new(self.obs_dim, 1, c.buffer_size);
        let mut priorities = c.prioritized.then(|| Priorities::new(c.buffer_size, c.priority_alpha));
        let mut pending: VecDeque<(Vec<f32>, usize, f64)> = VecDeque::new();
        let mut episode = 0u64;
        let mut obs = env.reset(c.seed.wrapping_add(episode));
        let (mut episode_return, mut last_loss, mut updates) = (0.0, f64::NAN, 0usize);
        let mut history = Vec::new();
        let n = c.n_step.max(1);
        for step in 0..c.total_steps {
            let progress = step as f64 / c.total_steps as f64;
            let epsilon = c.epsilon_start
                + (c.epsilon_end - c.epsilon_start) * (progress / c.exploration_fraction.max(1e-9)).min(1.0);
            let action = if step < c.learning_starts && !c.noisy {
                self.rng.random_range(0..self.actions)
            } else {
                self.act_explore(&obs, epsilon)?
            };
            let outcome = env.step(&Action::Discrete(action))?;
            episode_return += outcome.reward;
            pending.push_back((obs, action, outcome.reward));
            let done = outcome.terminated || outcome.truncated;
            // k-step transitions: the discounted sum of k rewards, then γᵏ on the value of where
            // they lead (0 when the episode terminated there).
            while pending.len() >= n || (done && !pending.is_empty()) {
                let k = pending.len();
                let mut reward = 0.0;
                for (j, (_, _, r)) in pending.iter().enumerate() {
                    reward += c.gamma.powi(j as i32) * r;
                }
                let bootstrap = if outcome.terminated { 0.0 } else { c.gamma.powi(k as i32) as f32 };
                let Some((o, a, _)) = pending.pop_front() else { break };
                let slot = buffer.push(&o, &[a as f32], reward, &outcome.observation, bootstrap);
                if let Some(p) = priorities.as_mut() {
                    p.insert(slot);
                }
                if !done {
                    break;
                }
            }
            if done {
                let p = RainbowProgress { steps: step + 1, episode_return, loss: last_loss };
                on_episode(&p);
                history.push(p);
                episode += 1;
                episode_return = 0.0;
                obs = env.reset(c.seed.wrapping_add(episode));
            } else {
                obs = outcome.observation;
            }
            if step >= c.learning_starts
                && (step + 1).is_multiple_of(c.train_freq.max(1))
                && buffer.len() >= c.batch_size
            {
                let (picks, weights) = match priorities.as_ref() {
                    Some(p) => {
                        let beta = c.priority_beta + (1.0 - c.priority_beta) * progress;
                        p.sample(c.batch_size, buffer.len(), beta, &mut self.rng)
                    }
                    None => {
                        let picks = (0..c.batch_size).map(|_| self.rng.random_range(0..buffer.len())).collect();
                        (picks, vec![1.0; c.batch_size])
                    }
                };
                let batch = buffer.gather(&picks, &self.device)?;
                let (losses, loss) = self.learn(&batch, &weights)?;
                last_loss = loss;
                if let Some(p) = priorities.as_mut() {
                    for (slot, l) in picks.iter().zip(&losses) {
                        p.update(*slot, f64::from(*l));
                    }
                }
                updates += 1;
                if updates.is_multiple_of(c.target_update_interval.max(1)) {
                    polyak_update(&self.online_vars, &self.target_vars, 1.0)?;
                }
            }
        }
        Ok(history)
    }

    /// Mean return of `episodes` greedy episodes (noise off).
    pub fn evaluate_greedy<E: Environment>(&self, env: &mut E, episodes: usize, seed: u64) -> Result<f64, AgentError> {
        let mut total = 0.0;
        for e in 0..episodes {
            let mut obs = env.reset(seed.wrapping_add(e as u64));
            loop {
                let step = env.step(&Action::Discrete(self.act_greedy(&obs)?))?;
                total += step.reward;
                if step.terminated || step.truncated {
                    break;
                }
                obs = step.observation;
            }
        }
        Ok(total / episodes.max(1) as f64)
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        save_stores(path, &[("online", &self.online_vars), ("target", &self.target_vars)])
    }

    pub fn load(&self, path: &Path) -> Result<(), ModelError> {
        load_stores(path, &[("online", &self.online_vars), ("target", &self.target_vars)], &self.device)
    }
}

/// Smooth L1 (Huber with δ = 1) per element, as SB3's DQN.
fn huber(d: &Tensor) -> Result<Tensor, ModelError> {
    let a = d.abs()?;
    let quadratic = a.clamp(0.0, 1.0)?;
    let linear = (&a - &quadratic)?;
    Ok(((quadratic.sqr()? * 0.5)? + linear)?)
}
