//! PPO (Schulman et al. 2017, as Stable-Baselines3 implements it) for discrete actions (a
//! categorical policy) and continuous ones (a diagonal Gaussian): clipped objective, GAE, value
//! loss (optionally clipped), entropy bonus, minibatch epochs over vectorised rollouts, time-limit
//! bootstrapping, observation and reward normalisation, linear learning-rate and clip-range schedules.

use candle_core::{D, Device, Tensor};
use candle_nn::VarMap;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::env::{Action, Environment, RlError, Space};
use super::nets::{Activation, Mlp, WeightInit};
use super::offpolicy::to_env_action;
use super::vector::VecEnv;
use crate::models::ModelError;
use crate::models::fused_ops::softmax_last_dim;
use crate::models::layers::{Init, ParamFactory};
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
    /// Scale observations by their running mean and variance (SB3's VecNormalize), clipped
    /// to ±10; the statistics are saved with the agent.
    pub normalize_observations: bool,
    /// Scale rewards by the running standard deviation of the discounted return, clipped to ±10.
    pub normalize_rewards: bool,
    /// Clip the new value prediction to within this distance of the old one (None: no clipping).
    pub clip_range_vf: Option<f64>,
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
            normalize_observations: false,
            normalize_rewards: false,
            clip_range_vf: None,
        }
    }
}

/// Running mean and variance (Chan et al.'s parallel update, as SB3's RunningMeanStd).
#[derive(Clone, Debug)]
struct RunningStats {
    mean: Vec<f64>,
    var: Vec<f64>,
    count: f64,
}

impl RunningStats {
    fn new(dim: usize) -> Self {
        Self { mean: vec![0.0; dim], var: vec![1.0; dim], count: 1e-4 }
    }

    fn update(&mut self, rows: &[Vec<f32>]) {
        let n = rows.len() as f64;
        if n == 0.0 {
            return;
        }
        for j in 0..self.mean.len() {
            let batch_mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
            let batch_var = rows.iter().map(|r| (f64::from(r[j]) - batch_mean).powi(2)).sum::<f64>() / n;
            let delta = batch_mean - self.mean[j];
            let total = self.count + n;
            self.mean[j] += delta * n / total;
            let m2 = self.var[j] * self.count + batch_var * n + delta * delta * self.count * n / total;
            self.var[j] = m2 / total;
        }
        self.count += n;
    }
}

/// What the policy network's outputs mean.
enum PolicyHead {
    /// Logits of `actions` choices.
    Categorical { actions: usize },
    /// Means of a diagonal Gaussian over [-1, 1] per dimension, whose log standard deviations are
    /// parameters of their own, independent of the state (SB3's default, starting at 0). The
    /// environment gets samples clipped to [-1, 1] and rescaled to its box (as SAC and TD3 act
    /// here); the log-probabilities are of the unclipped samples, as in SB3.
    Gaussian { log_std: Tensor, low: Vec<f64>, high: Vec<f64> },
}

impl PolicyHead {
    /// Numbers stored per action in the rollout buffer.
    fn width(&self) -> usize {
        match self {
            Self::Categorical { .. } => 1,
            Self::Gaussian { low, .. } => low.len(),
        }
    }

    fn space(&self) -> Space {
        match self {
            Self::Categorical { actions } => Space::Discrete(*actions),
            Self::Gaussian { low, high, .. } => Space::Box { low: low.clone(), high: high.clone() },
        }
    }
}

/// ½·ln(2π), the Gaussian log-density's constant.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_7;

/// An actor-critic with separate policy and value networks.
pub struct PpoAgent {
    policy: Mlp,
    value: Mlp,
    head: PolicyHead,
    pub varmap: VarMap,
    /// Observation statistics when normalising (kept in the store too, so they are saved).
    obs_stats: Option<std::sync::Mutex<RunningStats>>,
    obs_dim: usize,
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
    /// An agent acting in `action_space`: categorical over a discrete space, Gaussian over a
    /// bounded box.
    pub fn new(
        obs_dim: usize,
        action_space: &Space,
        hidden: &[usize],
        seed: u64,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let varmap = VarMap::new();
        let params = ParamFactory::new(varmap.clone(), seed, device.clone());
        let mlp = |outputs: usize, gain: f64, name: &str| {
            Mlp::new(
                obs_dim,
                hidden,
                outputs,
                Activation::Tanh,
                WeightInit::Orthogonal { output_gain: gain },
                &params.sub(name),
            )
        };
        let (outputs, head) = match action_space {
            Space::Discrete(actions) => (*actions, PolicyHead::Categorical { actions: *actions }),
            Space::Box { low, high } => {
                if low.iter().chain(high).any(|b| !b.is_finite()) || low.iter().zip(high).any(|(l, h)| l >= h) {
                    return Err(ModelError::Data(format!(
                        "ppo needs a bounded box of actions with low < high, got {}",
                        action_space.describe()
                    )));
                }
                let log_std = params.sub("policy").get("log_std", &[low.len()], Init::Const(0.0))?;
                (low.len(), PolicyHead::Gaussian { log_std, low: low.clone(), high: high.clone() })
            }
        };
        Ok(Self {
            policy: mlp(outputs, 0.01, "policy")?,
            value: mlp(1, 1.0, "value")?,
            head,
            varmap,
            obs_stats: None,
            obs_dim,
            device: device.clone(),
        })
    }

    /// An agent for `config`: its networks, and observation statistics when it normalises.
    pub fn for_config(
        obs_dim: usize,
        action_space: &Space,
        config: &PpoConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let mut agent = Self::new(obs_dim, action_space, &config.hidden, config.seed, device)?;
        if config.normalize_observations {
            let params = ParamFactory::new(agent.varmap.clone(), config.seed, device.clone()).sub("obs_norm");
            params.get("mean", &[obs_dim], Init::Const(0.0))?;
            params.get("var", &[obs_dim], Init::Const(1.0))?;
            agent.obs_stats = Some(std::sync::Mutex::new(RunningStats::new(obs_dim)));
        }
        Ok(agent)
    }

    fn stats_vars(&self) -> Result<Option<(candle_core::Var, candle_core::Var)>, ModelError> {
        let data = self.varmap.data().lock().map_err(|_| ModelError::Data("parameter store poisoned".into()))?;
        Ok(match (data.get("obs_norm.mean"), data.get("obs_norm.var")) {
            (Some(m), Some(v)) => Some((m.clone(), v.clone())),
            _ => None,
        })
    }

    /// Copies the observation statistics into the parameter store (before saving).
    pub fn store_normaliser(&self) -> Result<(), ModelError> {
        if let (Some(stats), Some((m, v))) = (&self.obs_stats, self.stats_vars()?) {
            let s = stats.lock().map_err(|_| ModelError::Data("statistics poisoned".into()))?.clone();
            m.set(&Tensor::from_vec(
                s.mean.iter().map(|x| *x as f32).collect::<Vec<_>>(),
                self.obs_dim,
                &self.device,
            )?)?;
            v.set(&Tensor::from_vec(s.var.iter().map(|x| *x as f32).collect::<Vec<_>>(), self.obs_dim, &self.device)?)?;
        }
        Ok(())
    }

    /// Reads the observation statistics back from the parameter store (after loading).
    pub fn restore_normaliser(&self) -> Result<(), ModelError> {
        if let (Some(stats), Some((m, v))) = (&self.obs_stats, self.stats_vars()?) {
            let mut s = stats.lock().map_err(|_| ModelError::Data("statistics poisoned".into()))?;
            s.mean = m.as_tensor().to_vec1::<f32>()?.into_iter().map(f64::from).collect();
            s.var = v.as_tensor().to_vec1::<f32>()?.into_iter().map(f64::from).collect();
        }
        Ok(())
    }

    fn observe_stats(&self, obs: &[Vec<f32>]) {
        if let Some(stats) = &self.obs_stats
            && let Ok(mut s) = stats.lock()
        {
            s.update(obs);
        }
    }

    fn batch(&self, obs: &[Vec<f32>]) -> Result<Tensor, ModelError> {
        let mut flat: Vec<f32> = obs.iter().flatten().copied().collect();
        if let Some(stats) = &self.obs_stats {
            let s = stats.lock().map_err(|_| ModelError::Data("statistics poisoned".into()))?;
            for row in flat.chunks_mut(self.obs_dim) {
                for (j, x) in row.iter_mut().enumerate() {
                    *x = ((f64::from(*x) - s.mean[j]) / (s.var[j] + 1e-8).sqrt()).clamp(-10.0, 10.0) as f32;
                }
            }
        }
        Ok(Tensor::from_vec(flat, (obs.len(), self.obs_dim), &self.device)?)
    }

    /// The action space the agent acts in.
    pub fn action_space(&self) -> Space {
        self.head.space()
    }

    /// The most likely action (deterministic evaluation): the likeliest choice, or the Gaussian's
    /// mean clipped to the box.
    pub fn act_greedy(&self, obs: &[f32]) -> Result<Action, ModelError> {
        let out: Vec<f32> = self.policy.forward(&self.batch(&[obs.to_vec()])?)?.squeeze(0)?.to_vec1()?;
        Ok(match &self.head {
            PolicyHead::Categorical { .. } => {
                Action::Discrete(out.iter().enumerate().fold(0, |best, (k, v)| if *v > out[best] { k } else { best }))
            }
            PolicyHead::Gaussian { low, high, .. } => {
                to_env_action(&out.iter().map(|m| m.clamp(-1.0, 1.0)).collect::<Vec<_>>(), low, high)
            }
        })
    }

    /// Samples one action per observation row: the action for the environment, the numbers kept
    /// in the rollout buffer (index, or the unclipped sample) and its log-probability.
    fn sample(&self, outputs: &Tensor, rng: &mut ChaCha8Rng) -> Result<Vec<(Action, Vec<f32>, f64)>, ModelError> {
        match &self.head {
            PolicyHead::Categorical { .. } => {
                let probs: Vec<Vec<f32>> = softmax_last_dim(outputs)?.to_vec2()?;
                Ok(probs
                    .iter()
                    .map(|p| {
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
                        (Action::Discrete(a), vec![a as f32], f64::from(p[a].max(1e-12)).ln())
                    })
                    .collect())
            }
            PolicyHead::Gaussian { log_std, low, high } => {
                let means: Vec<Vec<f32>> = outputs.to_vec2()?;
                let log_std: Vec<f32> = log_std.to_vec1()?;
                Ok(means
                    .iter()
                    .map(|mean| {
                        let mut logp = 0.0;
                        let mut raw = Vec::with_capacity(mean.len());
                        for (j, m) in mean.iter().enumerate() {
                            let eps: f64 = rng.sample(StandardNormal);
                            let ls = f64::from(log_std[j]);
                            logp += -0.5 * eps * eps - ls - HALF_LN_2PI;
                            raw.push((f64::from(*m) + ls.exp() * eps) as f32);
                        }
                        let clipped: Vec<f32> = raw.iter().map(|a| a.clamp(-1.0, 1.0)).collect();
                        (to_env_action(&clipped, low, high), raw, logp)
                    })
                    .collect())
            }
        }
    }

    /// Log-probabilities of the buffered `actions` (rows of `width` numbers) under the current
    /// policy, and the policy's mean entropy, both differentiable.
    fn log_prob_and_entropy(&self, outputs: &Tensor, actions: &[f32]) -> Result<(Tensor, Tensor), ModelError> {
        let n = outputs.dim(0)?;
        match &self.head {
            PolicyHead::Categorical { actions: k } => {
                let mut one_hot = vec![0f32; n * k];
                for (r, a) in actions.iter().enumerate() {
                    one_hot[r * k + *a as usize] = 1.0;
                }
                let one_hot = Tensor::from_vec(one_hot, (n, *k), &self.device)?;
                let log_probs = candle_nn::ops::log_softmax(outputs, D::Minus1)?;
                let logp = (&log_probs * &one_hot)?.sum(D::Minus1)?;
                let entropy = (log_probs.exp()? * &log_probs)?.sum(D::Minus1)?.neg()?.mean_all()?;
                Ok((logp, entropy))
            }
            PolicyHead::Gaussian { log_std, .. } => {
                let dim = log_std.dim(0)?;
                let taken = Tensor::from_vec(actions.to_vec(), (n, dim), &self.device)?;
                let z = (taken - outputs)?.broadcast_div(&log_std.exp()?)?;
                let per_dim = ((z.sqr()? * -0.5)?.broadcast_sub(log_std)? - HALF_LN_2PI)?;
                let logp = per_dim.sum(D::Minus1)?;
                let entropy = (log_std.sum_all()? + dim as f64 * (0.5 + HALF_LN_2PI))?;
                Ok((logp, entropy))
            }
        }
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
        if envs[0].action_space() != self.head.space() {
            return Err(PpoError::Config(format!(
                "this agent takes {}, the environment has {}",
                self.head.space().describe(),
                envs[0].action_space().describe()
            )));
        }
        let width = self.head.width();
        let rollout = config.n_steps * n_envs;
        let updates = config.total_steps.div_ceil(rollout);
        let mut venv = VecEnv::new(envs, config.seed);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5050);
        let mut opt = AdamW::new(&self.varmap, config.learning_rate, 0.0)?.with_eps(1e-5);
        let mut obs = venv.reset();
        let mut episode_returns = vec![0.0f64; n_envs];
        let mut discounted = vec![0.0f64; n_envs];
        let mut return_stats = RunningStats::new(1);
        let mut finished: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
        let mut history = Vec::with_capacity(updates);
        for update in 0..updates {
            let remaining = if config.linear_schedule { 1.0 - update as f64 / updates as f64 } else { 1.0 };
            opt.learning_rate = config.learning_rate * remaining;
            let clip = config.clip_range * remaining;
            let mut b_obs: Vec<Vec<f32>> = Vec::with_capacity(rollout);
            let mut b_act: Vec<f32> = Vec::with_capacity(rollout * width);
            let mut b_logp = Vec::with_capacity(rollout);
            let mut b_val = Vec::with_capacity(rollout);
            let mut b_rew = Vec::with_capacity(rollout);
            let mut b_done = Vec::with_capacity(rollout);
            for _ in 0..config.n_steps {
                self.observe_stats(&obs);
                let x = self.batch(&obs)?;
                let samples = self.sample(&self.policy.forward(&x)?, &mut rng)?;
                let values: Vec<f32> = self.value.forward(&x)?.squeeze(1)?.to_vec1()?;
                let step = venv.step(&samples.iter().map(|(a, _, _)| a.clone()).collect::<Vec<_>>())?;
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
                    if config.normalize_rewards {
                        discounted[i] = discounted[i] * config.gamma + s.reward;
                        return_stats.update(&[vec![discounted[i] as f32]]);
                        reward = (reward / (return_stats.var[0] + 1e-8).sqrt()).clamp(-10.0, 10.0);
                        if s.terminated || s.truncated {
                            discounted[i] = 0.0;
                        }
                    }
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
                    b_act.extend_from_slice(&samples[i].1);
                    b_logp.push(samples[i].2);
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
                        &b_val,
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
        self.store_normaliser()?;
        Ok(history)
    }

    #[allow(clippy::too_many_arguments)]
    fn update_minibatch(
        &self,
        chunk: &[usize],
        b_obs: &[Vec<f32>],
        b_act: &[f32],
        b_logp: &[f64],
        b_val: &[f64],
        advantages: &[f64],
        returns: &[f64],
        clip: f64,
        config: &PpoConfig,
        opt: &mut AdamW,
    ) -> Result<(f64, f64, f64), ModelError> {
        let n = chunk.len();
        let width = self.head.width();
        let obs: Vec<Vec<f32>> = chunk.iter().map(|&k| b_obs[k].clone()).collect();
        let actions: Vec<f32> = chunk.iter().flat_map(|&k| b_act[k * width..(k + 1) * width].iter().copied()).collect();
        // Advantages normalised per minibatch, as Stable-Baselines3 does.
        let adv: Vec<f64> = chunk.iter().map(|&k| advantages[k]).collect();
        let mean = adv.iter().sum::<f64>() / n as f64;
        let std = (adv.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64).sqrt();
        let adv: Vec<f32> = adv.iter().map(|a| ((a - mean) / (std + 1e-8)) as f32).collect();
        let dev = &self.device;
        let adv = Tensor::from_vec(adv, n, dev)?;
        let old_logp = Tensor::from_vec(chunk.iter().map(|&k| b_logp[k] as f32).collect::<Vec<_>>(), n, dev)?;
        let ret = Tensor::from_vec(chunk.iter().map(|&k| returns[k] as f32).collect::<Vec<_>>(), n, dev)?;
        let x = self.batch(&obs)?;
        let (logp, entropy) = self.log_prob_and_entropy(&self.policy.forward(&x)?, &actions)?;
        let ratio = (logp - old_logp)?.exp()?;
        let unclipped = (&ratio * &adv)?;
        let clipped = (ratio.clamp(1.0 - clip, 1.0 + clip)? * &adv)?;
        let policy_loss = unclipped.minimum(&clipped)?.mean_all()?.neg()?;
        let values = self.value.forward(&x)?.squeeze(1)?;
        // SB3's value clipping: the prediction may move at most clip_range_vf from the old value.
        let values = match config.clip_range_vf {
            Some(c) => {
                let old = Tensor::from_vec(chunk.iter().map(|&k| b_val[k] as f32).collect::<Vec<_>>(), n, dev)?;
                (&old + (values - &old)?.clamp(-c, c)?)?
            }
            None => values,
        };
        let value_loss = (values - ret)?.sqr()?.mean_all()?;
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
                let step = env.step(&self.act_greedy(&obs)?)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::classic::CartPole;

    #[test]
    fn running_statistics_equal_the_moments_of_everything_seen() {
        let rows: Vec<Vec<f32>> = (0..50).map(|i| vec![i as f32, (i * i) as f32 / 10.0]).collect();
        let mut s = RunningStats::new(2);
        for chunk in rows.chunks(7) {
            s.update(chunk);
        }
        for j in 0..2 {
            let v: Vec<f64> = rows.iter().map(|r| f64::from(r[j])).collect();
            let mean = v.iter().sum::<f64>() / 50.0;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 50.0;
            // The 1e-4 prior count (as SB3) moves the figures by about that fraction.
            assert!((s.mean[j] - mean).abs() < 1e-4 * mean.abs().max(1.0), "{} vs {mean}", s.mean[j]);
            assert!((s.var[j] - var).abs() < 1e-4 * var.max(1.0), "{} vs {var}", s.var[j]);
        }
    }

    #[test]
    fn sampled_log_probabilities_are_the_training_objective_s_and_reach_log_std() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let obs: Vec<Vec<f32>> = (0..6).map(|i| vec![i as f32 * 0.1, -0.3, 0.7]).collect();
        for space in [Space::Discrete(4), Space::Box { low: vec![-2.0, 0.0], high: vec![2.0, 1.0] }] {
            let agent = PpoAgent::new(3, &space, &[16], 7, &Device::Cpu).unwrap();
            let out = agent.policy.forward(&agent.batch(&obs).unwrap()).unwrap();
            let samples = agent.sample(&out, &mut rng).unwrap();
            let stored: Vec<f32> = samples.iter().flat_map(|(_, r, _)| r.clone()).collect();
            let (logp, entropy) = agent.log_prob_and_entropy(&out, &stored).unwrap();
            let values: Vec<f32> = logp.to_vec1().unwrap();
            for ((action, _, want), got) in samples.iter().zip(&values) {
                assert!((f64::from(*got) - want).abs() < 1e-4, "{space:?}: {got} vs {want}");
                if let Action::Continuous(a) = action {
                    assert!((-2.0..=2.0).contains(&a[0]) && (0.0..=1.0).contains(&a[1]), "{a:?} outside the box");
                }
            }
            if let PolicyHead::Gaussian { log_std, .. } = &agent.head {
                // log σ starts at 0: the entropy of unit Gaussians, and the gradient reaches log σ.
                let e = f64::from(entropy.to_scalar::<f32>().unwrap());
                assert!((e - 2.0 * (0.5 + HALF_LN_2PI)).abs() < 1e-5, "{e}");
                let grads = logp.sum_all().unwrap().backward().unwrap();
                let g: Vec<f32> = grads.get(log_std).unwrap().to_vec1().unwrap();
                assert!(g.iter().all(|x| x.abs() > 0.0), "{g:?}");
            }
        }
    }

    #[test]
    fn a_normalising_agent_saves_and_restores_its_statistics() {
        let config = PpoConfig {
            total_steps: 512,
            normalize_observations: true,
            normalize_rewards: true,
            clip_range_vf: Some(0.2),
            ..PpoConfig::default()
        };
        let agent = PpoAgent::for_config(4, &Space::Discrete(2), &config, &Device::Cpu).unwrap();
        let envs = (0..config.n_envs).map(|_| CartPole::new()).collect();
        let history = agent.train(envs, &config, |_| {}).unwrap();
        assert!(history.iter().all(|h| h.value_loss.is_finite() && h.policy_loss.is_finite()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ppo.safetensors");
        crate::rl::nets::save_stores(&path, &[("ppo", &agent.varmap)]).unwrap();
        let stats = agent.obs_stats.as_ref().unwrap().lock().unwrap().clone();
        assert!(stats.count > 500.0 && stats.var.iter().all(|v| *v > 0.0 && *v != 1.0));
        let loaded =
            PpoAgent::for_config(4, &Space::Discrete(2), &PpoConfig { seed: 99, ..config.clone() }, &Device::Cpu)
                .unwrap();
        crate::rl::nets::load_stores(&path, &[("ppo", &loaded.varmap)], &Device::Cpu).unwrap();
        loaded.restore_normaliser().unwrap();
        let restored = loaded.obs_stats.as_ref().unwrap().lock().unwrap().clone();
        for j in 0..4 {
            assert!((restored.mean[j] - stats.mean[j]).abs() < 1e-5 * stats.mean[j].abs().max(1.0));
        }
        let mut env = CartPole::new();
        let mut obs = env.reset(5);
        for _ in 0..50 {
            let a = agent.act_greedy(&obs).unwrap();
            assert_eq!(a, loaded.act_greedy(&obs).unwrap());
            let step = env.step(&a).unwrap();
            if step.terminated || step.truncated {
                break;
            }
            obs = step.observation;
        }
    }
}
