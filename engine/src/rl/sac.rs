//! Soft Actor-Critic (Haarnoja et al. 2018, as Stable-Baselines3 implements it): twin critics
//! with Polyak-averaged targets, a tanh-squashed Gaussian policy, automatic entropy tuning.

use std::path::Path;

use candle_core::{D, Device, Tensor, Var};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use super::nets::{Activation, Mlp, WeightInit, critic, load_stores, polyak_update, rows_tensor, save_stores};
use super::offpolicy::{Batch, ContinuousLearner, OffPolicyConfig};
use crate::models::ModelError;
use crate::models::layers::ParamFactory;
use crate::models::optim::AdamW;

/// SAC's own settings (the shared ones are in [`OffPolicyConfig`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SacConfig {
    #[serde(flatten)]
    pub common: OffPolicyConfig,
    /// A fixed entropy coefficient; None tunes it automatically toward `target_entropy`.
    pub ent_coef: Option<f64>,
    /// None: −(action dimensions), SB3's default.
    pub target_entropy: Option<f64>,
}

const LOG_STD_MIN: f64 = -20.0;
const LOG_STD_MAX: f64 = 2.0;

pub struct SacAgent {
    actor: Mlp,
    q1: Mlp,
    q2: Mlp,
    q1_target: Mlp,
    q2_target: Mlp,
    actor_vars: VarMap,
    critic_vars: VarMap,
    target_vars: VarMap,
    log_alpha: Var,
    alpha_vars: VarMap,
    actor_opt: AdamW,
    critic_opt: AdamW,
    alpha_opt: Option<AdamW>,
    config: SacConfig,
    obs_dim: usize,
    act_dim: usize,
    target_entropy: f64,
    device: Device,
    /// Noise for the policy's samples inside updates (exploration noise comes from the caller).
    update_rng: ChaCha8Rng,
}

impl SacAgent {
    pub fn new(obs_dim: usize, act_dim: usize, config: &SacConfig, device: &Device) -> Result<Self, ModelError> {
        let seed = config.common.seed;
        let hidden = &config.common.hidden;
        let actor_vars = VarMap::new();
        let critic_vars = VarMap::new();
        let target_vars = VarMap::new();
        let alpha_vars = VarMap::new();
        let pa = ParamFactory::new(actor_vars.clone(), seed, device.clone());
        let pc = ParamFactory::new(critic_vars.clone(), seed, device.clone());
        // The targets start as exact copies: same names, same seeded draws.
        let pt = ParamFactory::new(target_vars.clone(), seed, device.clone());
        let actor = Mlp::new(obs_dim, hidden, 2 * act_dim, Activation::Relu, WeightInit::PyTorch, &pa.sub("actor"))?;
        let q1 = critic(obs_dim, act_dim, hidden, &pc.sub("q1"))?;
        let q2 = critic(obs_dim, act_dim, hidden, &pc.sub("q2"))?;
        let q1_target = critic(obs_dim, act_dim, hidden, &pt.sub("q1"))?;
        let q2_target = critic(obs_dim, act_dim, hidden, &pt.sub("q2"))?;
        let init_alpha = config.ent_coef.unwrap_or(1.0).max(1e-12);
        let log_alpha = Var::from_tensor(&Tensor::new(&[init_alpha.ln() as f32], device)?)?;
        alpha_vars
            .data()
            .lock()
            .map_err(|_| ModelError::Data("parameter store poisoned".into()))?
            .insert("log_alpha".into(), log_alpha.clone());
        let lr = config.common.learning_rate;
        Ok(Self {
            actor_opt: AdamW::new(&actor_vars, lr, 0.0)?,
            critic_opt: AdamW::new(&critic_vars, lr, 0.0)?,
            alpha_opt: if config.ent_coef.is_none() { Some(AdamW::new(&alpha_vars, lr, 0.0)?) } else { None },
            actor,
            q1,
            q2,
            q1_target,
            q2_target,
            actor_vars,
            critic_vars,
            target_vars,
            log_alpha,
            alpha_vars,
            config: config.clone(),
            obs_dim,
            act_dim,
            target_entropy: config.target_entropy.unwrap_or(-(act_dim as f64)),
            device: device.clone(),
            update_rng: rand::SeedableRng::seed_from_u64(seed ^ 0x5ac),
        })
    }

    /// Mean and log standard deviation of the pre-squash Gaussian.
    fn policy(&self, obs: &Tensor) -> Result<(Tensor, Tensor), ModelError> {
        let out = self.actor.forward(obs)?;
        let mean = out.narrow(1, 0, self.act_dim)?;
        let log_std = out.narrow(1, self.act_dim, self.act_dim)?.clamp(LOG_STD_MIN, LOG_STD_MAX)?;
        Ok((mean, log_std))
    }

    fn noise(&self, rows: usize, rng: &mut ChaCha8Rng) -> Result<Tensor, ModelError> {
        let values: Vec<f32> = (0..rows * self.act_dim).map(|_| StandardNormal.sample(rng)).collect();
        Ok(Tensor::from_vec(values, (rows, self.act_dim), &self.device)?)
    }

    /// A reparameterised sample a = tanh(μ + σ ε) and its log-density with the tanh correction.
    fn sample(&self, obs: &Tensor, rng: &mut ChaCha8Rng) -> Result<(Tensor, Tensor), ModelError> {
        let (mean, log_std) = self.policy(obs)?;
        let eps = self.noise(obs.dim(0)?, rng)?;
        let u = (&mean + (log_std.exp()? * &eps)?)?;
        let action = u.tanh()?;
        // log N(u; μ, σ) = −ε²/2 − log σ − log √(2π); the ε term carries no gradient either way.
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let log_normal = ((eps.sqr()? * -0.5)? - &log_std)?.affine(1.0, -half_log_2pi)?;
        let squash = (action.sqr()?.affine(-1.0, 1.0 + 1e-6))?.log()?;
        let log_prob = (log_normal - squash)?.sum(D::Minus1)?;
        Ok((action, log_prob))
    }

    fn q_min(a: &Mlp, b: &Mlp, obs: &Tensor, action: &Tensor) -> Result<Tensor, ModelError> {
        let x = Tensor::cat(&[obs, action], 1)?;
        Ok(a.forward(&x)?.minimum(&b.forward(&x)?)?.squeeze(1)?)
    }

    pub fn entropy_coefficient(&self) -> Result<f64, ModelError> {
        Ok(f64::from(self.log_alpha.as_tensor().exp()?.to_vec1::<f32>()?[0]))
    }

    /// Saves every network (targets included) and the entropy coefficient.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        save_stores(
            path,
            &[
                ("actor", &self.actor_vars),
                ("critic", &self.critic_vars),
                ("target", &self.target_vars),
                ("alpha", &self.alpha_vars),
            ],
        )
    }

    pub fn load(&self, path: &Path) -> Result<(), ModelError> {
        load_stores(
            path,
            &[
                ("actor", &self.actor_vars),
                ("critic", &self.critic_vars),
                ("target", &self.target_vars),
                ("alpha", &self.alpha_vars),
            ],
            &self.device,
        )
    }
}

impl ContinuousLearner for SacAgent {
    fn observation_dim(&self) -> usize {
        self.obs_dim
    }

    fn action_dim(&self) -> usize {
        self.act_dim
    }

    fn explore(&self, obs: &[f32], rng: &mut ChaCha8Rng) -> Result<Vec<f32>, ModelError> {
        let x = rows_tensor(&[obs], self.obs_dim, &self.device)?;
        let (action, _) = self.sample(&x, rng)?;
        Ok(action.squeeze(0)?.to_vec1()?)
    }

    fn act(&self, obs: &[f32]) -> Result<Vec<f32>, ModelError> {
        let x = rows_tensor(&[obs], self.obs_dim, &self.device)?;
        let (mean, _) = self.policy(&x)?;
        Ok(mean.tanh()?.squeeze(0)?.to_vec1()?)
    }

    fn learn(&mut self, batch: &Batch) -> Result<(f64, f64), ModelError> {
        let mut rng = self.update_rng.clone();
        // Entropy coefficient first, from the current policy's log-densities (as SB3).
        let (pi_action, log_prob) = self.sample(&batch.obs, &mut rng)?;
        if let Some(opt) = self.alpha_opt.as_mut() {
            let target = log_prob.detach().affine(1.0, self.target_entropy)?;
            let loss = (self.log_alpha.as_tensor().broadcast_mul(&target)?.mean_all()?.neg())?;
            opt.step(&loss.backward()?, None)?;
        }
        let alpha = self.entropy_coefficient()?;
        // Critics toward r + γ(1 − terminal)(min Q'(s', a') − α log π(a'|s')), a' from the policy.
        let target = {
            let (next_action, next_log_prob) = self.sample(&batch.next_obs, &mut rng)?;
            let q_next = Self::q_min(&self.q1_target, &self.q2_target, &batch.next_obs, &next_action)?;
            let soft = (q_next - (next_log_prob * alpha)?)?;
            let live = &batch.bootstrap;
            (&batch.rewards + (live * soft)?.affine(self.config.common.gamma, 0.0)?)?.detach()
        };
        let x = Tensor::cat(&[&batch.obs, &batch.actions], 1)?;
        let q1 = self.q1.forward(&x)?.squeeze(1)?;
        let q2 = self.q2.forward(&x)?.squeeze(1)?;
        let critic_loss = (((q1 - &target)?.sqr()?.mean_all()? + (q2 - &target)?.sqr()?.mean_all()?)? * 0.5)?;
        self.critic_opt.step(&critic_loss.backward()?, None)?;
        // The actor maximises min Q − α log π; gradients reaching the critics are not applied.
        let q_pi = Self::q_min(&self.q1, &self.q2, &batch.obs, &pi_action)?;
        let actor_loss = ((log_prob * alpha)? - q_pi)?.mean_all()?;
        self.actor_opt.step(&actor_loss.backward()?, None)?;
        polyak_update(&self.critic_vars, &self.target_vars, self.config.common.tau)?;
        self.update_rng = rng;
        Ok((f64::from(critic_loss.to_scalar::<f32>()?), f64::from(actor_loss.to_scalar::<f32>()?)))
    }
}
