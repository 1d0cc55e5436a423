//! Supervised-learning labels: fixed-horizon return classes and triple-barrier labels. These are
//! the only values allowed to look forward, and only by their stated horizon.

use serde::{Deserialize, Serialize};

use super::error::{FeatureError, require_at_least};
use super::indicators::{Indicator, RealisedVol};

/// Class values: buy, hold, sell.
pub const BUY: f64 = 1.0;
pub const HOLD: f64 = 0.0;
pub const SELL: f64 = -1.0;

/// How labels are made, as written in a feature spec's `[labels]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LabelSpec {
    /// Buy when the return over `horizon` bars exceeds `buy_threshold`, sell when it is below
    /// `sell_threshold` (a negative number), hold otherwise.
    FixedHorizon { horizon: usize, buy_threshold: f64, sell_threshold: f64 },
    /// López de Prado's triple barrier on the close path: profit-taking and stop-loss barriers at
    /// `profit_take` and `stop_loss` times the close-to-close volatility of the last `vol_period`
    /// returns (known at t), and a vertical barrier `horizon` bars ahead. Buy if the upper
    /// barrier is touched first, sell if the lower is, else the sign of the return at the
    /// vertical barrier when its size exceeds `min_return`, hold otherwise.
    TripleBarrier { horizon: usize, profit_take: f64, stop_loss: f64, vol_period: usize, min_return: f64 },
}

impl LabelSpec {
    /// How many bars ahead a label at t may look.
    pub fn horizon(&self) -> usize {
        match self {
            Self::FixedHorizon { horizon, .. } | Self::TripleBarrier { horizon, .. } => *horizon,
        }
    }

    /// The label column's name.
    pub fn column_name(&self) -> String {
        match self {
            Self::FixedHorizon { horizon, buy_threshold, sell_threshold } => {
                format!("label_fixed_{horizon}_{buy_threshold}_{sell_threshold}")
            }
            Self::TripleBarrier { horizon, profit_take, stop_loss, vol_period, .. } => {
                format!("label_triple_barrier_{horizon}_{profit_take}_{stop_loss}_{vol_period}")
            }
        }
    }

    pub fn validate(&self) -> Result<(), FeatureError> {
        match *self {
            Self::FixedHorizon { horizon, buy_threshold, sell_threshold } => {
                require_at_least("labels", "horizon", horizon, 1)?;
                if !(buy_threshold.is_finite() && sell_threshold.is_finite()) || sell_threshold > buy_threshold {
                    return Err(FeatureError::param(
                        "labels",
                        "sell_threshold",
                        format!("must be finite and not above buy_threshold ({buy_threshold}), got {sell_threshold}"),
                    ));
                }
            }
            Self::TripleBarrier { horizon, profit_take, stop_loss, vol_period, min_return } => {
                require_at_least("labels", "horizon", horizon, 1)?;
                require_at_least("labels", "vol_period", vol_period, 2)?;
                for (name, v) in [("profit_take", profit_take), ("stop_loss", stop_loss), ("min_return", min_return)] {
                    if !v.is_finite() || v < 0.0 {
                        return Err(FeatureError::param(
                            "labels",
                            name,
                            format!("must be a finite number >= 0, got {v}"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Labels for each bar; NaN where the horizon runs past the data (or the volatility is
    /// not yet known).
    pub fn compute(&self, close: &[f64]) -> Result<Vec<f64>, FeatureError> {
        self.validate()?;
        let start = super::error::first_valid("labels", "close", close)?;
        Ok(match *self {
            Self::FixedHorizon { horizon, buy_threshold, sell_threshold } => {
                fixed_horizon(close, start, horizon, buy_threshold, sell_threshold)
            }
            Self::TripleBarrier { horizon, profit_take, stop_loss, vol_period, min_return } => {
                triple_barrier(close, start, horizon, profit_take, stop_loss, vol_period, min_return)?
            }
        })
    }
}

fn fixed_horizon(close: &[f64], start: usize, horizon: usize, buy: f64, sell: f64) -> Vec<f64> {
    let mut out = vec![f64::NAN; close.len()];
    for t in start..close.len().saturating_sub(horizon) {
        let ret = close[t + horizon] / close[t] - 1.0;
        out[t] = if ret > buy {
            BUY
        } else if ret < sell {
            SELL
        } else {
            HOLD
        };
    }
    out
}

fn triple_barrier(
    close: &[f64],
    start: usize,
    horizon: usize,
    profit_take: f64,
    stop_loss: f64,
    vol_period: usize,
    min_return: f64,
) -> Result<Vec<f64>, FeatureError> {
    let mut out = vec![f64::NAN; close.len()];
    let mut vol = RealisedVol::new(vol_period)?;
    for t in start..close.len() {
        let sigma = vol.next(close[t]);
        if sigma.is_nan() || t + horizon >= close.len() {
            continue;
        }
        let upper = close[t] * (1.0 + profit_take * sigma);
        let lower = close[t] * (1.0 - stop_loss * sigma);
        let mut label = None;
        for &price in &close[t + 1..=t + horizon] {
            if profit_take > 0.0 && price >= upper {
                label = Some(BUY);
                break;
            }
            if stop_loss > 0.0 && price <= lower {
                label = Some(SELL);
                break;
            }
        }
        out[t] = label.unwrap_or_else(|| {
            let ret = close[t + horizon] / close[t] - 1.0;
            if ret.abs() <= min_return {
                HOLD
            } else if ret > 0.0 {
                BUY
            } else {
                SELL
            }
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_horizon_classes_follow_the_thresholds() {
        let close = [100.0, 102.0, 101.0, 99.0, 99.5, 103.0];
        let spec = LabelSpec::FixedHorizon { horizon: 2, buy_threshold: 0.005, sell_threshold: -0.005 };
        let labels = spec.compute(&close).unwrap();
        // 100 -> 101 (+1%) buy; 102 -> 99 (-2.9%) sell; 101 -> 99.5 (-1.5%) sell; 99 -> 103 buy.
        assert_eq!(&labels[..4], &[BUY, SELL, SELL, BUY]);
        assert!(labels[4].is_nan() && labels[5].is_nan(), "the last `horizon` bars have no label");
    }

    #[test]
    fn triple_barrier_takes_the_first_barrier_touched() {
        // Alternating +-1% returns give a known volatility; then a jump up, then a crash.
        let mut close = vec![100.0];
        for k in 0..20 {
            let last = close[close.len() - 1];
            close.push(last * if k % 2 == 0 { 1.01 } else { 0.99 });
        }
        let base = close[close.len() - 1];
        close.extend([base * 1.05, base * 0.80, base * 0.80, base * 0.80]);
        let spec =
            LabelSpec::TripleBarrier { horizon: 3, profit_take: 2.0, stop_loss: 2.0, vol_period: 10, min_return: 0.0 };
        let labels = spec.compute(&close).unwrap();
        let t = 20; // the bar before the jump: +5% is beyond 2 sigma (sigma about 1%)
        assert_eq!(labels[t], BUY, "upper barrier touched first, although the path ends lower");
        assert_eq!(labels[t + 1], SELL);
        assert!(labels[..10].iter().all(|v| v.is_nan()), "no label before the volatility is known");
    }

    #[test]
    fn bad_label_parameters_are_refused() {
        let spec = LabelSpec::FixedHorizon { horizon: 0, buy_threshold: 0.01, sell_threshold: -0.01 };
        assert_eq!(
            spec.compute(&[1.0, 2.0]).unwrap_err().to_string(),
            "labels: parameter `horizon` must be at least 1, got 0"
        );
        let spec = LabelSpec::FixedHorizon { horizon: 1, buy_threshold: -0.01, sell_threshold: 0.01 };
        assert!(spec.compute(&[1.0, 2.0]).unwrap_err().to_string().contains("not above buy_threshold"));
    }
}
