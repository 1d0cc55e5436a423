//! Normalisers fitted on the past only: a rolling z-score over a trailing window and an
//! expanding min-max scaling, so a model never learns the scale of data it has not yet seen.

use serde::{Deserialize, Serialize};

use super::error::{FeatureError, first_valid, require_at_least};
use super::indicators::{Indicator, RollingZScore, run_series_of};

/// How to scale a feature column, as written in a spec's `[[normalise]]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Normaliser {
    /// (x − mean) / σ of the last `window` values, the current one included.
    RollingZscore { window: usize },
    /// (x − min) / (max − min) over every value so far (0.5 while the range is still empty).
    ExpandingMinmax { min_periods: usize },
}

impl Normaliser {
    pub fn suffix(&self) -> String {
        match self {
            Self::RollingZscore { window } => format!("z{window}"),
            Self::ExpandingMinmax { .. } => "minmax".into(),
        }
    }

    /// Scales `xs` (a feature column whose leading NaNs are its warm-up).
    pub fn apply(&self, column: &str, xs: &[f64]) -> Result<Vec<f64>, FeatureError> {
        match *self {
            Self::RollingZscore { window } => {
                require_at_least(column, "window", window, 2)?;
                let mut z = RollingZScore::new(window)?;
                let start = first_valid(column, column, xs)?;
                if xs.len() - start <= z.lookback() {
                    return Ok(vec![f64::NAN; xs.len()]);
                }
                Ok(run_series_of(&mut z, xs, column)?.remove(0))
            }
            Self::ExpandingMinmax { min_periods } => {
                require_at_least(column, "min_periods", min_periods, 1)?;
                let start = first_valid(column, column, xs)?;
                let mut out = vec![f64::NAN; xs.len()];
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for (k, (o, &x)) in out[start..].iter_mut().zip(&xs[start..]).enumerate() {
                    lo = lo.min(x);
                    hi = hi.max(x);
                    if k + 1 >= min_periods {
                        *o = if hi > lo { (x - lo) / (hi - lo) } else { 0.5 };
                    }
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanding_minmax_uses_only_the_past() {
        let xs = [f64::NAN, 5.0, 7.0, 6.0, 10.0, 0.0];
        let out = Normaliser::ExpandingMinmax { min_periods: 2 }.apply("f", &xs).unwrap();
        assert!(out[0].is_nan() && out[1].is_nan());
        assert_eq!(&out[2..], &[1.0, 0.5, 1.0, 0.0]);
    }

    #[test]
    fn rolling_zscore_matches_its_definition() {
        let xs: Vec<f64> = (0..30).map(|i| f64::from(i * i % 7)).collect();
        let out = Normaliser::RollingZscore { window: 5 }.apply("f", &xs).unwrap();
        for t in 4..30 {
            let w = &xs[t - 4..=t];
            let mean = w.iter().sum::<f64>() / 5.0;
            let sd = (w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
            let expected = if sd == 0.0 { 0.0 } else { (xs[t] - mean) / sd };
            assert!((out[t] - expected).abs() < 1e-12, "t={t}");
        }
    }
}
