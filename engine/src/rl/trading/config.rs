//! The trading environment's settings: window, episodes and split, the action space, the
//! reward terms and their weights, and the risk rules the environment enforces.

use serde::{Deserialize, Serialize};

/// Which part of the data an environment runs over; the split is by time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    #[default]
    Train,
    Validation,
    Test,
    /// Every decision point, from the first full window to the last bar.
    All,
}

/// Fractions of the decision points for training and validation; the rest is the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitFractions {
    pub train: f64,
    pub validation: f64,
}

impl Default for SplitFractions {
    fn default() -> Self {
        Self { train: 0.7, validation: 0.15 }
    }
}

/// What the agent chooses each bar.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionConfig {
    /// Per instrument, a target exposure among `2·levels + 1` steps from fully short to fully
    /// long (`levels + 1` from flat to long when shorting is not allowed): with one level,
    /// sell / hold flat / buy. Instruments combine into one index (base `2·levels + 1`).
    Discrete { levels: usize },
    /// Target portfolio weights, one per instrument in [-1, 1] ([0, 1] without shorting), as a
    /// fraction of `max_position`, projected onto the leverage limit.
    Continuous,
}

impl Default for ActionConfig {
    fn default() -> Self {
        Self::Discrete { levels: 1 }
    }
}

/// Weights of the reward terms; the reward is their weighted sum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    /// ln(equity after / equity before).
    pub log_return: f64,
    /// Moody and Saffell's differential Sharpe ratio of the simple returns.
    pub differential_sharpe: f64,
    /// Adaptation rate of the differential Sharpe ratio's moving moments.
    pub sharpe_eta: f64,
    /// Penalty on the squared negative log return (the Sortino ratio's downside).
    pub downside: f64,
    /// Penalty on each increase of the drawdown from the peak equity.
    pub drawdown: f64,
    /// Penalty on the step's fees and slippage as a fraction of equity.
    pub transaction_cost: f64,
    /// Penalty per step on the gross exposure held (sum of |weights|).
    pub holding: f64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        Self {
            log_return: 1.0,
            differential_sharpe: 0.0,
            sharpe_eta: 0.01,
            downside: 0.0,
            drawdown: 0.0,
            transaction_cost: 0.0,
            holding: 0.0,
        }
    }
}

/// Limits the environment enforces whatever the agent asks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Largest |weight| of one instrument, as a fraction of equity.
    pub max_position: f64,
    /// Largest gross exposure (sum of |weights|); larger targets are scaled down to it.
    pub max_leverage: f64,
    /// The episode ends (terminated, positions closed) when the drawdown from the peak
    /// equity reaches this fraction.
    pub max_drawdown: Option<f64>,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self { max_position: 1.0, max_leverage: 1.0, max_drawdown: Some(0.5) }
    }
}

/// What the agent sees.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObservationConfig {
    /// Bars of features in each observation.
    pub window: usize,
    /// Include the feature window.
    pub features: bool,
    /// Include the portfolio: weight per instrument, cash weight, unrealised P&L and drawdown.
    pub portfolio: bool,
    /// A saved hybrid model (folder with model.json) whose fused features and their MC-dropout
    /// spread join the observation; missing or unusable: plain features, said once.
    pub model: Option<std::path::PathBuf>,
    /// Monte Carlo dropout passes for the model features' spread (1: no spread).
    pub mc_passes: usize,
}

impl Default for ObservationConfig {
    fn default() -> Self {
        Self { window: 32, features: true, portfolio: true, model: None, mc_passes: 10 }
    }
}

/// Everything about a trading environment except its data and costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TradingEnvConfig {
    pub observation: ObservationConfig,
    pub actions: ActionConfig,
    pub reward: RewardConfig,
    pub risk: RiskConfig,
    pub split: SplitFractions,
    /// Steps per training episode, started at a random bar of the split; None: one episode
    /// runs the whole split from its start (validation and test always run whole).
    pub episode_length: Option<usize>,
    /// Changes of a position smaller than this fraction of equity are not traded (closing to
    /// flat always is): holding a target does not mean trading every bar.
    pub rebalance_band: f64,
}

impl Default for TradingEnvConfig {
    fn default() -> Self {
        Self {
            observation: ObservationConfig::default(),
            actions: ActionConfig::default(),
            reward: RewardConfig::default(),
            risk: RiskConfig::default(),
            split: SplitFractions::default(),
            episode_length: None,
            rebalance_band: 0.05,
        }
    }
}
