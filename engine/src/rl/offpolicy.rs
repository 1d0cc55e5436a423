//! What SAC and TD3 share: the replay buffer, the settings of off-policy training, and the loop
//! that collects transitions from one environment and updates the agent after every step.

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::env::{Action, Environment, RlError, Space};
use crate::models::ModelError;

/// Settings both off-policy agents take; defaults are RL Zoo's for Pendulum-v1 with SAC.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OffPolicyConfig {
    pub total_steps: usize,
    /// Steps of uniformly random actions before learning starts.
    pub learning_starts: usize,
    pub batch_size: usize,
    pub buffer_size: usize,
    pub gamma: f64,
    /// Polyak coefficient of the target networks.
    pub tau: f64,
    pub learning_rate: f64,
    pub hidden: Vec<usize>,
    /// Gradient steps per environment step.
    pub gradient_steps: usize,
    pub seed: u64,
}

impl Default for OffPolicyConfig {
    fn default() -> Self {
        Self {
            total_steps: 20_000,
            learning_starts: 100,
            batch_size: 256,
            buffer_size: 1_000_000,
            gamma: 0.99,
            tau: 0.005,
            learning_rate: 1e-3,
            hidden: vec![256, 256],
            gradient_steps: 1,
            seed: 0,
        }
    }
}

/// Transitions in flat arrays; the oldest are overwritten once full.
pub struct ReplayBuffer {
    obs_dim: usize,
    act_dim: usize,
    capacity: usize,
    len: usize,
    next_slot: usize,
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_obs: Vec<f32>,
    /// The factor on the next state's value in the target: 0 where the episode terminated
    /// (not where it was truncated: that state has a future), 1 otherwise, or γᵏ for k-step
    /// transitions whose agents fold the discount in.
    bootstrap: Vec<f32>,
}

/// A sampled minibatch as tensors.
pub struct Batch {
    pub obs: Tensor,
    pub actions: Tensor,
    pub rewards: Tensor,
    pub next_obs: Tensor,
    pub bootstrap: Tensor,
}

impl ReplayBuffer {
    pub fn new(obs_dim: usize, act_dim: usize, capacity: usize) -> Self {
        Self {
            obs_dim,
            act_dim,
            capacity: capacity.max(1),
            len: 0,
            next_slot: 0,
            obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            next_obs: Vec::new(),
            bootstrap: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores a transition; returns its slot.
    pub fn push(&mut self, obs: &[f32], action: &[f32], reward: f64, next_obs: &[f32], bootstrap: f32) -> usize {
        let slot = self.next_slot;
        if self.len < self.capacity {
            self.obs.extend_from_slice(obs);
            self.actions.extend_from_slice(action);
            self.rewards.push(reward as f32);
            self.next_obs.extend_from_slice(next_obs);
            self.bootstrap.push(bootstrap);
            self.len += 1;
        } else {
            self.obs[slot * self.obs_dim..(slot + 1) * self.obs_dim].copy_from_slice(obs);
            self.actions[slot * self.act_dim..(slot + 1) * self.act_dim].copy_from_slice(action);
            self.rewards[slot] = reward as f32;
            self.next_obs[slot * self.obs_dim..(slot + 1) * self.obs_dim].copy_from_slice(next_obs);
            self.bootstrap[slot] = bootstrap;
        }
        self.next_slot = (slot + 1) % self.capacity;
        slot
    }

    /// `n` transitions drawn uniformly with replacement.
    pub fn sample(&self, n: usize, rng: &mut ChaCha8Rng, device: &Device) -> Result<Batch, ModelError> {
        let picks: Vec<usize> = (0..n).map(|_| rng.random_range(0..self.len)).collect();
        self.gather(&picks, device)
    }

    pub fn gather(&self, picks: &[usize], device: &Device) -> Result<Batch, ModelError> {
        let n = picks.len();
        let rows = |data: &[f32], dim: usize| -> Vec<f32> {
            let mut out = Vec::with_capacity(n * dim);
            for &i in picks {
                out.extend_from_slice(&data[i * dim..(i + 1) * dim]);
            }
            out
        };
        Ok(Batch {
            obs: Tensor::from_vec(rows(&self.obs, self.obs_dim), (n, self.obs_dim), device)?,
            actions: Tensor::from_vec(rows(&self.actions, self.act_dim), (n, self.act_dim), device)?,
            rewards: Tensor::from_vec(rows(&self.rewards, 1), n, device)?,
            next_obs: Tensor::from_vec(rows(&self.next_obs, self.obs_dim), (n, self.obs_dim), device)?,
            bootstrap: Tensor::from_vec(rows(&self.bootstrap, 1), n, device)?,
        })
    }
}

/// An agent with continuous actions in [-1, 1]^d that learns from replayed transitions.
pub trait ContinuousLearner {
    fn observation_dim(&self) -> usize;
    fn action_dim(&self) -> usize;
    /// An exploratory action (the policy's sample, or its action plus noise).
    fn explore(&self, obs: &[f32], rng: &mut ChaCha8Rng) -> Result<Vec<f32>, ModelError>;
    /// The deterministic action, for evaluation and deployment.
    fn act(&self, obs: &[f32]) -> Result<Vec<f32>, ModelError>;
    /// One gradient step on `batch`; returns the critic and actor losses (NaN when the actor
    /// was not updated).
    fn learn(&mut self, batch: &Batch) -> Result<(f64, f64), ModelError>;
}

/// Training figures, one per finished episode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OffPolicyProgress {
    pub steps: usize,
    pub episode_return: f64,
    pub critic_loss: f64,
    pub actor_loss: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Env(#[from] RlError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl From<candle_core::Error> for AgentError {
    fn from(e: candle_core::Error) -> Self {
        Self::Model(ModelError::Candle(e))
    }
}

/// The environment's box bounds, checked against the agent's action dimension.
pub fn action_bounds(space: &Space, dim: usize) -> Result<(Vec<f64>, Vec<f64>), AgentError> {
    match space {
        Space::Box { low, high } if low.len() == dim && low.iter().chain(high).all(|v| v.is_finite()) => {
            Ok((low.clone(), high.clone()))
        }
        other => Err(AgentError::Config(format!(
            "this agent takes a bounded Box of {dim} dimensions, the environment has {}",
            other.describe()
        ))),
    }
}

/// A [-1, 1] action rescaled to the environment's bounds.
pub fn to_env_action(a: &[f32], low: &[f64], high: &[f64]) -> Action {
    Action::Continuous(
        a.iter().zip(low.iter().zip(high)).map(|(x, (l, h))| l + (f64::from(*x) + 1.0) * 0.5 * (h - l)).collect(),
    )
}

/// Collects `config.total_steps` steps from `env`, storing every transition and updating the
/// learner after each step once `learning_starts` random steps are in the buffer.
pub fn train_off_policy<E: Environment, L: ContinuousLearner>(
    learner: &mut L,
    env: &mut E,
    config: &OffPolicyConfig,
    device: &Device,
    mut on_episode: impl FnMut(&OffPolicyProgress),
) -> Result<Vec<OffPolicyProgress>, AgentError> {
    let (low, high) = action_bounds(&env.action_space(), learner.action_dim())?;
    if env.observation_space().dim() != learner.observation_dim() {
        return Err(AgentError::Config(format!(
            "the agent observes {} values, the environment gives {}",
            learner.observation_dim(),
            env.observation_space().dim()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x0ff_9011c);
    let mut buffer = ReplayBuffer::new(learner.observation_dim(), learner.action_dim(), config.buffer_size);
    let mut episode = 0u64;
    let mut obs = env.reset(config.seed.wrapping_add(episode));
    let mut episode_return = 0.0;
    let (mut critic_loss, mut actor_loss) = (f64::NAN, f64::NAN);
    let mut history = Vec::new();
    for step in 0..config.total_steps {
        let action: Vec<f32> = if step < config.learning_starts {
            (0..learner.action_dim()).map(|_| rng.random_range(-1.0f32..=1.0)).collect()
        } else {
            learner.explore(&obs, &mut rng)?
        };
        let outcome = env.step(&to_env_action(&action, &low, &high))?;
        episode_return += outcome.reward;
        buffer.push(&obs, &action, outcome.reward, &outcome.observation, if outcome.terminated { 0.0 } else { 1.0 });
        if outcome.terminated || outcome.truncated {
            let progress = OffPolicyProgress { steps: step + 1, episode_return, critic_loss, actor_loss };
            on_episode(&progress);
            history.push(progress);
            episode += 1;
            episode_return = 0.0;
            obs = env.reset(config.seed.wrapping_add(episode));
        } else {
            obs = outcome.observation;
        }
        if step + 1 >= config.learning_starts && buffer.len() >= config.batch_size.min(config.learning_starts.max(1)) {
            for _ in 0..config.gradient_steps {
                let batch = buffer.sample(config.batch_size, &mut rng, device)?;
                let (c, a) = learner.learn(&batch)?;
                critic_loss = c;
                if a.is_finite() {
                    actor_loss = a;
                }
            }
        }
    }
    Ok(history)
}

/// Mean return of `episodes` deterministic episodes.
pub fn evaluate_continuous<E: Environment, L: ContinuousLearner>(
    learner: &L,
    env: &mut E,
    episodes: usize,
    seed: u64,
) -> Result<f64, AgentError> {
    let (low, high) = action_bounds(&env.action_space(), learner.action_dim())?;
    let mut total = 0.0;
    for e in 0..episodes {
        let mut obs = env.reset(seed.wrapping_add(e as u64));
        loop {
            let step = env.step(&to_env_action(&learner.act(&obs)?, &low, &high))?;
            total += step.reward;
            if step.terminated || step.truncated {
                break;
            }
            obs = step.observation;
        }
    }
    Ok(total / episodes.max(1) as f64)
}
