//! An RL experiment end to end: the environment a spec describes, training the chosen agent,
//! judging it on the validation and test splits against buy-and-hold, and the agent folder
//! (weights and card) that evaluation and deployment load.

use std::path::Path;
use std::sync::Arc;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use super::ensemble::{Ensemble, Policy, ScaledPolicy};
use super::env::{Action, Environment, Space};
use super::offpolicy::{AgentError, train_off_policy};
use super::ppo::PpoAgent;
use super::rainbow::RainbowAgent;
use super::sac::SacAgent;
use super::spec::{Algorithm, RlSpec};
use super::td3::Td3Agent;
use super::trading::{EpisodeStats, InstrumentData, MarketData, Split, TradingEnv};
use crate::data::FloatBars;
use crate::models::ModelError;
use crate::models::checkpoint::{code_version, write_atomic};

pub const AGENT_WEIGHTS: &str = "agent.safetensors";
pub const AGENT_CARD: &str = "agent.json";
pub const AGENT_FORMAT: &str = "sextant-rl-agent/1";

/// A trained agent of any algorithm.
pub enum TrainedAgent {
    Ppo(Box<PpoAgent>),
    Sac(Box<ScaledPolicy<SacAgent>>),
    Td3(Box<ScaledPolicy<Td3Agent>>),
    Rainbow(Box<RainbowAgent>),
}

impl Policy for TrainedAgent {
    fn decide(&self, obs: &[f32]) -> Result<Action, AgentError> {
        match self {
            Self::Ppo(a) => a.decide(obs),
            Self::Sac(a) => a.decide(obs),
            Self::Td3(a) => a.decide(obs),
            Self::Rainbow(a) => a.decide(obs),
        }
    }
}

/// What an agent folder says about the agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentCard {
    pub format: String,
    pub name: String,
    pub algorithm: Algorithm,
    /// The whole spec, so evaluation rebuilds the same environment and agent.
    pub spec_toml: String,
    pub symbols: Vec<String>,
    pub observation_dim: usize,
    pub action_space: Space,
    pub feature_spec_hash: String,
    /// SHA-256 of each instrument's aligned bars.
    pub data_sha256: Vec<String>,
    pub bars: usize,
    /// Decision points of the train, validation and test splits (bar indices).
    pub splits: [(usize, usize); 3],
    pub seed: u64,
    pub total_steps: usize,
    pub validation: EpisodeStats,
    pub test: EpisodeStats,
    pub buy_and_hold_test: EpisodeStats,
    /// Why the model features named in the spec were not used.
    pub model_fallback: Option<String>,
    pub code_version: String,
    pub created_at: String,
}

/// Progress of training, reported every few thousand steps.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RlProgress {
    pub steps: usize,
    pub total_steps: usize,
    /// Mean return of recently finished training episodes.
    pub episode_return: f64,
}

/// The market and the training environment a spec describes over `instruments`.
pub fn build_env(spec: &RlSpec, instruments: Vec<InstrumentData>) -> Result<TradingEnv, AgentError> {
    let market =
        MarketData::new(instruments, &spec.feature_spec, &spec.environment.observation, &spec.environment.split)?;
    let costs = spec.costs.backtest_config(&market.symbols);
    Ok(TradingEnv::new(Arc::new(market), spec.environment.clone(), costs, Split::Train)?)
}

fn box_bounds(space: &Space) -> (Vec<f64>, Vec<f64>) {
    match space {
        Space::Box { low, high } => (low.clone(), high.clone()),
        Space::Discrete(_) => (Vec::new(), Vec::new()),
    }
}

/// A fresh, untrained agent of the spec's algorithm for `env`.
pub fn new_agent(spec: &RlSpec, env: &TradingEnv, device: &Device) -> Result<TrainedAgent, AgentError> {
    let obs_dim = env.observation_space().dim();
    let space = env.action_space();
    let (low, high) = box_bounds(&space);
    Ok(match (spec.algorithm, &space) {
        (Algorithm::Ppo, _) => TrainedAgent::Ppo(Box::new(PpoAgent::for_config(obs_dim, &space, &spec.ppo, device)?)),
        (Algorithm::Rainbow, Space::Discrete(n)) => {
            TrainedAgent::Rainbow(Box::new(RainbowAgent::new(obs_dim, *n, &spec.rainbow, device)?))
        }
        (Algorithm::Sac, Space::Box { .. }) => TrainedAgent::Sac(Box::new(ScaledPolicy {
            learner: SacAgent::new(obs_dim, low.len(), &spec.sac, device)?,
            low,
            high,
        })),
        (Algorithm::Td3, Space::Box { .. }) => TrainedAgent::Td3(Box::new(ScaledPolicy {
            learner: Td3Agent::new(obs_dim, low.len(), &spec.td3, device)?,
            low,
            high,
        })),
        (algorithm, space) => {
            return Err(AgentError::Config(format!("{} cannot act in {}", algorithm.name(), space.describe())));
        }
    })
}

/// Trains the spec's agent on the training split.
pub fn train(
    spec: &RlSpec,
    env: &TradingEnv,
    device: &Device,
    mut on_progress: impl FnMut(&RlProgress),
) -> Result<TrainedAgent, AgentError> {
    let total = spec.total_steps();
    let mut agent = new_agent(spec, env, device)?;
    let _span = tracing::info_span!("rl_train", algorithm = spec.algorithm.name(), steps = total).entered();
    let mut recent: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
    let mut report = |steps: usize, episode_return: f64| {
        if episode_return.is_finite() {
            recent.push_back(episode_return);
            if recent.len() > 20 {
                recent.pop_front();
            }
        }
        let mean = if recent.is_empty() { f64::NAN } else { recent.iter().sum::<f64>() / recent.len() as f64 };
        on_progress(&RlProgress { steps, total_steps: total, episode_return: mean });
    };
    match &mut agent {
        TrainedAgent::Ppo(a) => {
            let envs: Vec<TradingEnv> = (0..spec.ppo.n_envs).map(|_| env.fresh()).collect();
            a.train(envs, &spec.ppo, |p| report(p.steps, p.mean_episode_return)).map_err(|e| match e {
                super::ppo::PpoError::Config(c) => AgentError::Config(c),
                super::ppo::PpoError::Env(e) => AgentError::Env(e),
                super::ppo::PpoError::Model(e) => AgentError::Model(e),
            })?;
        }
        TrainedAgent::Rainbow(a) => {
            a.train(&mut env.fresh(), |p| report(p.steps, p.episode_return))?;
        }
        TrainedAgent::Sac(p) => {
            train_off_policy(&mut p.learner, &mut env.fresh(), &spec.sac.common, device, |e| {
                report(e.steps, e.episode_return)
            })?;
        }
        TrainedAgent::Td3(p) => {
            train_off_policy(&mut p.learner, &mut env.fresh(), &spec.td3.common, device, |e| {
                report(e.steps, e.episode_return)
            })?;
        }
    }
    Ok(agent)
}

/// One deterministic episode of `policy` over the whole of `split`.
pub fn evaluate(policy: &dyn Policy, env: &TradingEnv, split: Split) -> Result<(EpisodeStats, TradingEnv), AgentError> {
    let mut env = env.with_split(split)?;
    let mut obs = env.reset(0);
    loop {
        let step = env.step(&policy.decide(&obs)?)?;
        if step.terminated || step.truncated {
            break;
        }
        obs = step.observation;
    }
    let stats = env.episode_stats().cloned().ok_or_else(|| AgentError::Config("the episode did not finish".into()))?;
    Ok((stats, env))
}

/// An ensemble's episode over a split, with what moved its weights.
pub struct EnsembleEpisode {
    pub stats: EpisodeStats,
    /// The weights after each step.
    pub weights: Vec<Vec<f64>>,
    /// The episode, for its decisions.
    pub episode: TradingEnv,
}

/// One episode of `ensemble` over `split`. Each member also trades a shadow copy of the
/// environment with its own actions; the rewards of those shadows move the weights, so a member
/// is judged on what it would have earned, not on the trades of the ensemble.
pub fn evaluate_ensemble(
    ensemble: &mut Ensemble,
    env: &TradingEnv,
    split: Split,
) -> Result<EnsembleEpisode, AgentError> {
    let mut main = env.with_split(split)?;
    let mut obs = main.reset(0);
    let mut shadows = (0..ensemble.len()).map(|_| env.with_split(split)).collect::<Result<Vec<_>, _>>()?;
    let mut shadow_obs: Vec<Option<Vec<f32>>> = shadows.iter_mut().map(|s| Some(s.reset(0))).collect();
    let mut weights = Vec::new();
    loop {
        let (action, _) = ensemble.decide(&obs)?;
        let step = main.step(&action)?;
        let mut rewards = Vec::with_capacity(shadows.len());
        for (k, (shadow, seen)) in shadows.iter_mut().zip(shadow_obs.iter_mut()).enumerate() {
            // A member stopped out in its shadow earns nothing more.
            let Some(o) = seen.take() else {
                rewards.push(0.0);
                continue;
            };
            let member = ensemble.member(k).ok_or_else(|| AgentError::Config(format!("no member {k}")))?;
            let s = shadow.step(&member.decide(&o)?)?;
            rewards.push(s.reward);
            if !(s.terminated || s.truncated) {
                *seen = Some(s.observation);
            }
        }
        ensemble.observe(&rewards)?;
        weights.push(ensemble.weights().to_vec());
        if step.terminated || step.truncated {
            break;
        }
        obs = step.observation;
    }
    let stats = main.episode_stats().cloned().ok_or_else(|| AgentError::Config("the episode did not finish".into()))?;
    Ok(EnsembleEpisode { stats, weights, episode: main })
}

/// Equal-weight buy-and-hold (every instrument long, within the limits) over `split`.
pub fn buy_and_hold(env: &TradingEnv, split: Split) -> Result<EpisodeStats, AgentError> {
    struct Hold(Action);
    impl Policy for Hold {
        fn decide(&self, _obs: &[f32]) -> Result<Action, AgentError> {
            Ok(self.0.clone())
        }
    }
    let n = env.market().instruments();
    let action = match env.action_space() {
        // The top exposure step of every instrument: the last digit in each place.
        Space::Discrete(total) => Action::Discrete(total - 1),
        Space::Box { .. } => Action::Continuous(vec![1.0 / n as f64; n]),
    };
    Ok(evaluate(&Hold(action), env, split)?.0)
}

/// Builds the card of a trained agent after judging it.
pub fn card(spec: &RlSpec, env: &TradingEnv, agent: &TrainedAgent) -> Result<AgentCard, AgentError> {
    let market = env.market();
    let (validation, _) = evaluate(agent, env, Split::Validation)?;
    let (test, _) = evaluate(agent, env, Split::Test)?;
    let range = |s: Split| {
        let r = market.split_range(s);
        (r.start, r.end)
    };
    Ok(AgentCard {
        format: AGENT_FORMAT.into(),
        name: spec.name.clone(),
        algorithm: spec.algorithm,
        spec_toml: spec.text.clone(),
        symbols: market.symbols.clone(),
        observation_dim: env.observation_space().dim(),
        action_space: env.action_space(),
        feature_spec_hash: market.feature_spec_hash.clone(),
        data_sha256: market
            .bars
            .iter()
            .map(|b| crate::models::pipeline::bars_sha256(&FloatBars::from_series(&b.bars)))
            .collect(),
        bars: market.bar_count(),
        splits: [range(Split::Train), range(Split::Validation), range(Split::Test)],
        seed: spec.seed,
        total_steps: spec.total_steps(),
        validation,
        test,
        buy_and_hold_test: buy_and_hold(env, Split::Test)?,
        model_fallback: market.model_fallback.clone(),
        code_version: code_version(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// Writes the agent's weights and card into `dir`.
pub fn save_agent(dir: &Path, agent: &TrainedAgent, card: &AgentCard) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    let weights = dir.join(AGENT_WEIGHTS);
    match agent {
        TrainedAgent::Ppo(a) => super::nets::save_stores(&weights, &[("ppo", &a.varmap)])?,
        TrainedAgent::Sac(p) => p.learner.save(&weights)?,
        TrainedAgent::Td3(p) => p.learner.save(&weights)?,
        TrainedAgent::Rainbow(a) => a.save(&weights)?,
    }
    let json = serde_json::to_vec_pretty(card).map_err(|e| ModelError::Data(e.to_string()))?;
    write_atomic(&dir.join(AGENT_CARD), &json)
}

/// Reads an agent folder's card.
pub fn read_card(dir: &Path) -> Result<AgentCard, ModelError> {
    let path = dir.join(AGENT_CARD);
    let text = std::fs::read_to_string(&path).map_err(|e| ModelError::io(&path, e))?;
    let card: AgentCard = serde_json::from_str(&text)
        .map_err(|e| ModelError::Checkpoint { path: path.display().to_string(), reason: e.to_string() })?;
    if card.format != AGENT_FORMAT {
        return Err(ModelError::Checkpoint {
            path: path.display().to_string(),
            reason: format!("format {} is not {AGENT_FORMAT}", card.format),
        });
    }
    Ok(card)
}

/// Loads an agent folder for `env` (which must have the agent's observation and action spaces).
pub fn load_agent(dir: &Path, spec: &RlSpec, env: &TradingEnv, device: &Device) -> Result<TrainedAgent, AgentError> {
    let card = read_card(dir)?;
    if card.observation_dim != env.observation_space().dim() || card.action_space != env.action_space() {
        return Err(AgentError::Config(format!(
            "{}: the agent observes {} values and acts in {}; this environment gives {} and {}",
            dir.display(),
            card.observation_dim,
            card.action_space.describe(),
            env.observation_space().dim(),
            env.action_space().describe()
        )));
    }
    let agent = new_agent(spec, env, device)?;
    let weights = dir.join(AGENT_WEIGHTS);
    match &agent {
        TrainedAgent::Ppo(a) => {
            super::nets::load_stores(&weights, &[("ppo", &a.varmap)], device)?;
            a.restore_normaliser()?;
        }
        TrainedAgent::Sac(p) => p.learner.load(&weights)?,
        TrainedAgent::Td3(p) => p.learner.load(&weights)?,
        TrainedAgent::Rainbow(a) => a.load(&weights)?,
    }
    Ok(agent)
}
