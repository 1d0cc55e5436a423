//! Trading signals as models emit them: an action with a confidence, the horizon it is meant
//! for and the model version that produced it, so every decision can be traced to its model.

use serde::{Deserialize, Serialize};

use super::{Symbol, Timeframe, Timestamp, ValidationError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalAction {
    Buy,
    Hold,
    Sell,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSignal")]
pub struct TradingSignal {
    pub ts: Timestamp,
    pub symbol: Symbol,
    pub action: SignalAction,
    /// Probability-like confidence in [0, 1].
    pub confidence: f64,
    /// How many bars of `timeframe` ahead the signal speaks about.
    pub horizon_bars: u32,
    pub timeframe: Timeframe,
    /// Registry reference of the model, e.g. `hybrid-btc/7`.
    pub model_version: String,
}

#[derive(Deserialize)]
struct RawSignal {
    ts: Timestamp,
    symbol: Symbol,
    action: SignalAction,
    confidence: f64,
    horizon_bars: u32,
    timeframe: Timeframe,
    model_version: String,
}

impl TryFrom<RawSignal> for TradingSignal {
    type Error = ValidationError;
    fn try_from(r: RawSignal) -> Result<Self, Self::Error> {
        TradingSignal::new(r.ts, r.symbol, r.action, r.confidence, r.horizon_bars, r.timeframe, &r.model_version)
    }
}

impl TradingSignal {
    pub fn new(
        ts: Timestamp,
        symbol: Symbol,
        action: SignalAction,
        confidence: f64,
        horizon_bars: u32,
        timeframe: Timeframe,
        model_version: &str,
    ) -> Result<Self, ValidationError> {
        if !(0.0..=1.0).contains(&confidence) {
            return Err(ValidationError::new("confidence", format!("must be within [0, 1], got {confidence}")));
        }
        if horizon_bars == 0 {
            return Err(ValidationError::new("horizon_bars", "must be at least 1"));
        }
        if model_version.trim().is_empty() {
            return Err(ValidationError::new("model_version", "must name the model that produced the signal"));
        }
        Ok(Self { ts, symbol, action, confidence, horizon_bars, timeframe, model_version: model_version.to_owned() })
    }
}
