//! TD3 (Fujimoto et al. 2018, as Stable-Baselines3 implements it): twin critics, target policy
//! smoothing with clipped noise, delayed policy and target updates, Gaussian exploration noise.

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use super::nets::{Activation, Mlp, WeightInit, critic, load_stores, polyak_update, rows_tensor, save_stores};
use super::offpolicy::{Batch, ContinuousLearner, OffPolicyConfig};
use crate::models::ModelError;
use crate::models::fused_ops::tanh;
use crate::models::layers::ParamFactory;
use crate::models::optim::AdamW;

/// TD3's own settings; the defaults with [`Td3Config::zoo_pendulum`] are RL Zoo's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Td3Config {
    #[serde(flatten)]
    pub common: OffPolicyConfig,
    /// The actor and the targets are updated every `policy_delay` critic updates.
    pub policy_delay: usize,
    /// Standard deviation of the smoothing noise on the target policy's actions ([-1, 1] scale).
    pub target_noise: f64,
    pub target_noise_clip: f64,
    /// Standard deviation of the Gaussian exploration noise ([-1, 1] scale).
    pub action_noise: f64,
}

impl Default for Td3Config {
    fn default() -> Self {
        Self {
            common: OffPolicyConfig::default(),
            policy_delay: 2,
            target_noise: 0.2,
            target_noise_clip: 0.5,
            action_noise: 0.1,
        }
    }
}

impl Td3Config {
    /// RL Zoo's Pendulum-v1 settings.
    pub fn zoo_pendulum() -> Self {
        Self {
            common: OffPolicyConfig {
                gamma: 0.98,
                buffer_size: 200_000,
                learning_starts: 10_000,
                hidden: vec![400, 300],
                ..OffPolicyConfig::default()
            },
            ..Self::default()
        }
    }
}

pub struct Td3Agent {
    actor: Mlp,
    actor_target: Mlp,
    q1: Mlp,
    q2: Mlp,
    q1_target: Mlp,
    q2_target: Mlp,
    actor_vars: VarMap,
    critic_vars: VarMap,
    actor_target_vars: VarMap,
    critic_target_vars: VarMap,
    actor_opt: AdamW,
    critic_opt: AdamW,
    config: Td3Config,
    obs_dim: usize,
    act_dim: usize,
    updates: usize,
    device: Device,
    update_rng: ChaCha8Rng,
}

impl Td3Agent {
    pub fn new(obs_dim: usize, act_dim: usize, config: &Td3Config, device: &Device) -> Result<Self, ModelError> {
        let seed = config.common.seed;
        let hidden = &config.common.hidden;
        let [actor_vars, critic_vars, actor_target_vars, critic_target_vars] =
            [VarMap::new(), VarMap::new(), VarMap::new(), VarMap::new()];
        let factory = |v: &VarMap| ParamFactory::new(v.clone(), seed, device.clone());
        let actor_net = |v: &VarMap| {
            Mlp::new(obs_dim, hidden, act_dim, Activation::Relu, WeightInit::PyTorch, &factory(v).sub("actor"))
        };
        let actor = actor_net(&actor_vars)?;
        let actor_target = actor_net(&actor_target_vars)?;
        let q1 = critic(obs_dim, act_dim, hidden, &factory(&critic_vars).sub("q1"))?;
        let q2 = critic(obs_dim, act_dim, hidden, &factory(&critic_vars).sub("q2"))?;
        let q1_target = critic(obs_dim, act_dim, hidden, &factory(&critic_target_vars).sub("q1"))?;
        let q2_target = critic(obs_dim, act_dim, hidden, &factory(&critic_target_vars).sub("q2"))?;
        let lr = config.common.learning_rate;
        Ok(Self {
            actor_opt: AdamW::new(&actor_vars, lr, 0.0)?,
            critic_opt: AdamW::new(&critic_vars, lr, 0.0)?,
            actor,
            actor_target,
            q1,
            q2,
            q1_target,
            q2_target,
            actor_vars,
            critic_vars,
            actor_target_vars,
            critic_target_vars,
            config: config.clone(),
            obs_dim,
            act_dim,
            updates: 0,
            device: device.clone(),
            update_rng: rand::SeedableRng::seed_from_u64(seed ^ 0x7d3),
        })
    }

    fn policy(actor: &Mlp, obs: &Tensor) -> Result<Tensor, ModelError> {
        tanh(&actor.forward(obs)?)
    }

    fn stores(&self) -> [(&'static str, &VarMap); 4] {
        [
            ("actor", &self.actor_vars),
            ("critic", &self.critic_vars),
            ("actor_target", &self.actor_target_vars),
            ("critic_target", &self.critic_target_vars),
        ]
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        save_stores(path, &self.stores())
    }

    pub fn load(&self, path: &Path) -> Result<(), ModelError> {
        load_stores(path, &self.stores(), &self.device)
    }
}

impl ContinuousLearner for Td3Agent {
    fn observation_dim(&self) -> usize {
        self.obs_dim
    }

    fn action_dim(&self) -> usize {
        self.act_dim
    }

    fn explore(&self, obs: &[f32], rng: &mut ChaCha8Rng) -> Result<Vec<f32>, ModelError> {
        let noise = Normal::new(0.0, self.config.action_noise).map_err(|e| ModelError::Data(e.to_string()))?;
        Ok(self.act(obs)?.iter().map(|a| (f64::from(*a) + noise.sample(rng)).clamp(-1.0, 1.0) as f32).collect())
    }

    fn act(&self, obs: &[f32]) -> Result<Vec<f32>, ModelError> {
        let x = rows_tensor(&[obs], self.obs_dim, &self.device)?;
        Ok(Self::policy(&self.actor, &x)?.squeeze(0)?.to_vec1()?)
    }

    fn learn(&mut self, batch: &Batch) -> Result<(f64, f64), ModelError> {
        self.updates += 1;
        let rows = batch.obs.dim(0)?;
        let c = &self.config;
        let noise = Normal::new(0.0, c.target_noise).map_err(|e| ModelError::Data(e.to_string()))?;
        let smoothing: Vec<f32> = (0..rows * self.act_dim)
            .map(|_| noise.sample(&mut self.update_rng).clamp(-c.target_noise_clip, c.target_noise_clip) as f32)
            .collect();
        let smoothing = Tensor::from_vec(smoothing, (rows, self.act_dim), &self.device)?;
        let target = {
            let next_action = (Self::policy(&self.actor_target, &batch.next_obs)? + smoothing)?.clamp(-1.0, 1.0)?;
            let x = Tensor::cat(&[&batch.next_obs, &next_action], 1)?;
            let q_next = self.q1_target.forward(&x)?.minimum(&self.q2_target.forward(&x)?)?.squeeze(1)?;
            let live = &batch.bootstrap;
            (&batch.rewards + (live * q_next)?.affine(c.common.gamma, 0.0)?)?.detach()
        };
        let x = Tensor::cat(&[&batch.obs, &batch.actions], 1)?;
        let q1 = self.q1.forward(&x)?.squeeze(1)?;
        let q2 = self.q2.forward(&x)?.squeeze(1)?;
        let critic_loss = ((q1 - &target)?.sqr()?.mean_all()? + (q2 - &target)?.sqr()?.mean_all()?)?;
        self.critic_opt.step(&critic_loss.backward()?, None)?;
        let mut actor_loss = f64::NAN;
        if self.updates.is_multiple_of(c.policy_delay.max(1)) {
            let pi = Self::policy(&self.actor, &batch.obs)?;
            let loss = self.q1.forward(&Tensor::cat(&[&batch.obs, &pi], 1)?)?.mean_all()?.neg()?;
            self.actor_opt.step(&loss.backward()?, None)?;
            actor_loss = f64::from(loss.to_scalar::<f32>()?);
            polyak_update(&self.critic_vars, &self.critic_target_vars, c.common.tau)?;
            polyak_update(&self.actor_vars, &self.actor_target_vars, c.common.tau)?;
        }
        Ok((f64::from(critic_loss.to_scalar::<f32>()?), actor_loss))
    }
}
