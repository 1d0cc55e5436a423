//! The strategies Sextant ships: buy and hold, SMA crossover, RSI mean reversion, Bollinger
//! breakout, and one that trades the signals of a trained model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::order::{InstrumentId, Quantity};
use super::strategy::{BarEvent, Context, Strategy};
use crate::domain::{SignalAction, Timestamp};
use crate::features::indicators::{BollingerBands, Indicator, Rsi, Sma};

/// backtesting.py's `buy()`: all available margin, less one ulp so an exact fit rounds down.
pub const ALL_IN: Quantity = Quantity::EquityFraction(1.0 - f64::EPSILON);

/// Named parameters from `--set key=value`.
pub type Params = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum StrategyError {
    #[error(
        "no strategy named `{0}`; choose buy_and_hold, sma_cross, rsi_reversion, bollinger_breakout or model_signals"
    )]
    Unknown(String),
    #[error("{strategy}: parameter `{key}`: {reason}")]
    Param { strategy: String, key: String, reason: String },
}

fn get<T: std::str::FromStr>(p: &Params, strategy: &str, key: &str, default: T) -> Result<T, StrategyError> {
    match p.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| StrategyError::Param {
            strategy: strategy.into(),
            key: key.into(),
            reason: format!("cannot read `{v}`"),
        }),
    }
}

fn check_keys(p: &Params, strategy: &str, known: &[&str]) -> Result<(), StrategyError> {
    for k in p.keys() {
        if !known.contains(&k.as_str()) {
            return Err(StrategyError::Param {
                strategy: strategy.into(),
                key: k.clone(),
                reason: format!("unknown (it takes: {})", known.join(", ")),
            });
        }
    }
    Ok(())
}

/// Builds a shipped strategy by name with `--set` parameters.
pub fn build(name: &str, params: &Params) -> Result<Box<dyn Strategy>, StrategyError> {
    let bad = |key: &str, reason: &str| StrategyError::Param {
        strategy: name.into(),
        key: key.into(),
        reason: reason.into(),
    };
    Ok(match name {
        "buy_and_hold" => {
            check_keys(params, name, &[])?;
            Box::new(BuyAndHold::default())
        }
        "sma_cross" => {
            check_keys(params, name, &["fast", "slow", "short"])?;
            let fast = get(params, name, "fast", 10usize)?;
            let slow = get(params, name, "slow", 20usize)?;
            if fast == 0 || slow <= fast {
                return Err(bad("slow", "must be above fast, and fast at least 1"));
            }
            let short = get(params, name, "short", true)?;
            Box::new(SmaCross::new(fast, slow, short).map_err(|e| bad("fast", &e.to_string()))?)
        }
        "rsi_reversion" => {
            check_keys(params, name, &["period", "lower", "upper"])?;
            let (lower, upper) = (get(params, name, "lower", 30.0)?, get(params, name, "upper", 70.0)?);
            if !(0.0..100.0).contains(&lower) || lower >= upper || upper > 100.0 {
                return Err(bad("upper", "need 0 <= lower < upper <= 100"));
            }
            let rsi = Rsi::new(get(params, name, "period", 14usize)?).map_err(|e| bad("period", &e.to_string()))?;
            Box::new(RsiReversion { rsi, lower, upper, instrument: 0 })
        }
        "bollinger_breakout" => {
            check_keys(params, name, &["period", "dev"])?;
            let dev = get(params, name, "dev", 2.0)?;
            let bands = BollingerBands::new(get(params, name, "period", 20usize)?, dev, dev)
                .map_err(|e| bad("period", &e.to_string()))?;
            Box::new(BollingerBreakout { bands })
        }
        _ => return Err(StrategyError::Unknown(name.into())),
    })
}

/// Buys with everything on the first bar and holds.
#[derive(Default)]
pub struct BuyAndHold {
    bought: bool,
}

impl Strategy for BuyAndHold {
    fn name(&self) -> &str {
        "buy_and_hold"
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        if !self.bought {
            self.bought = true;
            ctx.buy(bar.instrument, ALL_IN);
        }
    }
}

/// backtesting.py's Quick Start SmaCross: when the fast SMA crosses above the slow one, close
/// and go long with everything; when it crosses below, close and (if `short`) go short.
pub struct SmaCross {
    fast: Sma,
    slow: Sma,
    prev: Option<(f64, f64)>,
    short: bool,
}

impl SmaCross {
    pub fn new(fast: usize, slow: usize, short: bool) -> Result<Self, crate::features::FeatureError> {
        Ok(Self { fast: Sma::new(fast)?, slow: Sma::new(slow)?, prev: None, short })
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &str {
        "sma_cross"
    }
    fn warmup(&self) -> usize {
        self.slow.lookback()
    }
    #[inline]
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        let (f, s) = (self.fast.next(bar.close), self.slow.next(bar.close));
        if f.is_nan() || s.is_nan() {
            return;
        }
        if let Some((pf, ps)) = self.prev.replace((f, s)) {
            if pf < ps && f > s {
                ctx.close(bar.instrument);
                ctx.buy(bar.instrument, ALL_IN);
            } else if ps < pf && s > f {
                ctx.close(bar.instrument);
                if self.short {
                    ctx.sell(bar.instrument, ALL_IN);
                }
            }
        }
    }
}

/// Long when RSI falls below `lower`, flat again when it rises above `upper`.
pub struct RsiReversion {
    rsi: Rsi,
    lower: f64,
    upper: f64,
    instrument: InstrumentId,
}

impl Strategy for RsiReversion {
    fn name(&self) -> &str {
        "rsi_reversion"
    }
    fn warmup(&self) -> usize {
        self.rsi.lookback()
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        self.instrument = bar.instrument;
        let rsi = self.rsi.next(bar.close);
        if rsi.is_nan() {
            return;
        }
        let flat = ctx.position(bar.instrument).is_zero();
        if flat && rsi < self.lower {
            ctx.buy(bar.instrument, ALL_IN);
        } else if !flat && rsi > self.upper {
            ctx.close(bar.instrument);
        }
    }
}

/// Long when the close breaks above the upper band, flat when it falls back below the middle.
pub struct BollingerBreakout {
    bands: BollingerBands,
}

impl Strategy for BollingerBreakout {
    fn name(&self) -> &str {
        "bollinger_breakout"
    }
    fn warmup(&self) -> usize {
        self.bands.lookback()
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        let [upper, middle, _] = self.bands.next(bar.close);
        if upper.is_nan() {
            return;
        }
        let flat = ctx.position(bar.instrument).is_zero();
        if flat && bar.close > upper {
            ctx.buy(bar.instrument, ALL_IN);
        } else if !flat && bar.close < middle {
            ctx.close(bar.instrument);
        }
    }
}

/// One model decision, known at `ts` (the close of the bar it was computed on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSignal {
    pub ts: Timestamp,
    pub instrument: InstrumentId,
    pub action: SignalAction,
    pub confidence: f64,
    pub model_version: Option<String>,
}

/// Trades a trained model's signals: buy goes long, sell goes short (or flat when shorting is
/// off), hold keeps the position; signals below `min_confidence` are ignored. Orders carry the
/// model version as their tag, so P&L attributes to it.
pub struct ModelSignals {
    signals: Vec<ModelSignal>,
    next: usize,
    min_confidence: f64,
    short: bool,
}

impl ModelSignals {
    /// `signals` in time order.
    pub fn new(mut signals: Vec<ModelSignal>, min_confidence: f64, short: bool) -> Self {
        signals.sort_by_key(|s| s.ts);
        Self { signals, next: 0, min_confidence, short }
    }
}

impl Strategy for ModelSignals {
    fn name(&self) -> &str {
        "model_signals"
    }
    fn on_bar(&mut self, ctx: &mut Context<'_>, bar: &BarEvent) {
        while self.next < self.signals.len() && self.signals[self.next].ts <= bar.ts {
            let s = self.signals[self.next].clone();
            self.next += 1;
            if s.instrument != bar.instrument && ctx.symbols().len() > 1 {
                continue;
            }
            if s.confidence < self.min_confidence {
                continue;
            }
            let position = ctx.position(s.instrument);
            let tag = s.model_version.clone().unwrap_or_else(|| "model".into());
            let go = |ctx: &mut Context<'_>, side: crate::domain::Side| {
                let request = super::order::OrderRequest::market(s.instrument, side, ALL_IN).with_tag(tag.clone());
                ctx.submit(request);
            };
            match s.action {
                SignalAction::Buy if !position.is_sign_positive() || position.is_zero() => {
                    ctx.close(s.instrument);
                    go(ctx, crate::domain::Side::Buy);
                }
                SignalAction::Sell if position.is_sign_positive() || position.is_zero() => {
                    ctx.close(s.instrument);
                    if self.short {
                        go(ctx, crate::domain::Side::Sell);
                    }
                }
                _ => {}
            }
        }
    }
}
