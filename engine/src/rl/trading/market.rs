//! The market a trading environment runs over: instruments aligned on their common bar times,
//! feature windows z-scored on the past only, and cached model features.

use std::ops::Range;
use std::path::Path;

use crate::backtest::PreparedBars;
use crate::data::FloatBars;
use crate::data::series::BarSeries;
use crate::domain::Timestamp;
use crate::features::{FeatureSpec, InstrumentBars};
use crate::models::{default_device, load_model};

use super::config::{ObservationConfig, Split, SplitFractions};
use crate::rl::env::RlError;

/// One instrument's bars, as the environment takes them.
#[derive(Clone, Debug)]
pub struct InstrumentData {
    pub symbol: String,
    pub bars: BarSeries,
}

/// Model features per bar and instrument: the fused vector's mean then its spread.
struct ModelFeatures {
    width: usize,
    /// [bar][instrument][width]
    values: Vec<f32>,
}

/// Aligned bars, their features and the splits, shared by every copy of an environment.
pub struct MarketData {
    pub symbols: Vec<String>,
    pub bars: Vec<PreparedBars>,
    pub feature_columns: Vec<String>,
    /// [bar][instrument][feature], z-scored causally; rows before `first_step - window + 1` are unused.
    features: Vec<f32>,
    model: Option<ModelFeatures>,
    /// Why the model features are absent although a model was named.
    pub model_fallback: Option<String>,
    pub window: usize,
    /// The first bar at which an observation's window is complete: the first decision point.
    pub first_step: usize,
    /// Decision points of each split (a step goes from bar t to bar t + 1).
    pub splits: [Range<usize>; 3],
    /// Bars per year, estimated from the data's span, for annualised statistics.
    pub periods_per_year: f64,
    pub feature_spec_hash: String,
}

fn invalid(reason: String) -> RlError {
    RlError::Invalid(reason)
}

/// Keeps only the bar times every instrument has.
fn align(mut instruments: Vec<InstrumentData>) -> Result<Vec<InstrumentData>, RlError> {
    for inst in &mut instruments {
        inst.bars.sort_dedup();
    }
    if instruments.len() > 1 {
        let mut common: Vec<i64> = instruments[0].bars.ts_nanos();
        for inst in &instruments[1..] {
            let ts = inst.bars.ts_nanos();
            common.retain(|t| ts.binary_search(t).is_ok());
        }
        for inst in &mut instruments {
            let ts = inst.bars.ts_nanos();
            let rows: Vec<usize> = common.iter().filter_map(|t| ts.binary_search(t).ok()).collect();
            inst.bars.take_rows(&rows);
        }
    }
    Ok(instruments)
}

impl MarketData {
    /// Aligns the instruments, computes `spec`'s features and checks the data can make episodes.
    pub fn new(
        instruments: Vec<InstrumentData>,
        spec: &FeatureSpec,
        observation: &ObservationConfig,
        split: &SplitFractions,
    ) -> Result<Self, RlError> {
        if instruments.is_empty() {
            return Err(invalid("the trading environment needs at least one instrument".into()));
        }
        let window = observation.window.max(1);
        let instruments = align(instruments)?;
        let bars: Vec<PreparedBars> = instruments.iter().map(|i| PreparedBars::new(i.bars.clone())).collect();
        let symbols: Vec<String> = instruments.iter().map(|i| i.symbol.clone()).collect();
        let n_bars = bars[0].len();
        let floats: Vec<FloatBars> = instruments.iter().map(|i| FloatBars::from_series(&i.bars)).collect();
        let peers: Vec<InstrumentBars<'_>> =
            floats.iter().zip(&symbols).map(|(f, s)| InstrumentBars { symbol: s, bars: f.columns() }).collect();
        for (k, f) in floats.iter().enumerate() {
            if let Some(i) = f.close.iter().position(|c| !(c.is_finite() && *c > 0.0)) {
                return Err(invalid(format!(
                    "{}: close {} at {} (bar {i}): prices must be positive",
                    symbols[k],
                    instruments[k].bars.close[i],
                    Timestamp::from_nanos(f.ts[i])
                )));
            }
        }
        let mut columns_per_instrument = Vec::with_capacity(floats.len());
        for (k, f) in floats.iter().enumerate() {
            let cols = spec
                .compute_features_with_peers(&f.columns(), &peers)
                .map_err(|e| invalid(format!("{}: features: {e}", symbols[k])))?;
            columns_per_instrument.push(cols);
        }
        let feature_columns: Vec<String> = columns_per_instrument[0].iter().map(|(n, _)| n.clone()).collect();
        let n_feat = feature_columns.len();
        // Features are defined from the latest warm-up on; a NaN after that is bad data.
        let mut first_defined = 0usize;
        for cols in &columns_per_instrument {
            for (_, values) in cols {
                let first = values.iter().position(|v| v.is_finite()).unwrap_or(n_bars);
                first_defined = first_defined.max(first);
            }
        }
        for (k, cols) in columns_per_instrument.iter().enumerate() {
            for (name, values) in cols {
                check_defined(&symbols[k], name, values, first_defined, &bars[k].ts)?;
            }
        }
        let mut first_step = first_defined + window - 1;
        let mut data = Self {
            symbols,
            bars,
            feature_columns,
            features: Vec::new(),
            model: None,
            model_fallback: None,
            window,
            first_step,
            splits: [0..0, 0..0, 0..0],
            periods_per_year: 252.0,
            feature_spec_hash: spec.hash(),
        };
        if let Some(path) = &observation.model {
            match data.model_features(path, &floats, observation.mc_passes) {
                Ok((features, first)) => {
                    data.model = Some(features);
                    first_step = first_step.max(first);
                }
                Err(reason) => {
                    tracing::warn!("trading environment: no model features ({reason}); observing the plain features");
                    data.model_fallback = Some(reason);
                }
            }
        }
        // A decision at bar t is rewarded at bar t + 1, so the last decision is at the last bar but one.
        let decisions = n_bars.saturating_sub(first_step + 1);
        if decisions < 10 {
            return Err(invalid(format!(
                "{} bars are too few: the window ({window}) and the features' warm-up ({first_defined} bars) leave \
                 {decisions} decision points, at least 10 are needed",
                n_bars
            )));
        }
        let train = ((decisions as f64) * split.train).round() as usize;
        let validation = ((decisions as f64) * split.validation).round() as usize;
        if train < 2 || train + validation > decisions {
            return Err(invalid(format!(
                "the split (train {}, validation {}) of {decisions} decision points leaves no room for training",
                split.train, split.validation
            )));
        }
        let a = first_step;
        data.splits = [a..a + train, a + train..a + train + validation, a + train + validation..a + decisions];
        data.first_step = first_step;
        data.features = normalised(&columns_per_instrument, n_bars, first_defined);
        debug_assert_eq!(data.features.len(), n_bars * data.symbols.len() * n_feat);
        let ts = &data.bars[0].ts;
        let years = (ts[n_bars - 1] - ts[0]) as f64 / (365.25 * 86_400e9);
        if years > 0.0 {
            data.periods_per_year = (n_bars - 1) as f64 / years;
        }
        Ok(data)
    }

    /// Runs the model once over every instrument's bars, in batches, and keeps the results.
    fn model_features(
        &self,
        path: &Path,
        floats: &[FloatBars],
        passes: usize,
    ) -> Result<(ModelFeatures, usize), String> {
        let device = default_device();
        let (network, card) = load_model(path, &device).map_err(|e| e.to_string())?;
        let n_bars = floats[0].len();
        let n_inst = floats.len();
        let mut width = 0;
        let mut per_instrument: Vec<Vec<Option<Vec<f32>>>> = Vec::with_capacity(n_inst);
        let mut first = 0usize;
        for (k, f) in floats.iter().enumerate() {
            let data = crate::models::pipeline::model_windows(&card, &self.symbols[k], f).map_err(|e| e.to_string())?;
            let ends = data.window_ends();
            let mut rows: Vec<Option<Vec<f32>>> = vec![None; n_bars];
            for chunk in ends.chunks(256) {
                let x = data.windows(chunk, &device).map_err(|e| e.to_string())?;
                let fused =
                    crate::models::fused_features(&network, &x, passes, card.seed).map_err(|e| e.to_string())?;
                let mean: Vec<Vec<f32>> = fused.mean.to_vec2().map_err(|e| e.to_string())?;
                let std: Vec<Vec<f32>> = fused.std.to_vec2().map_err(|e| e.to_string())?;
                for ((end, m), s) in chunk.iter().zip(mean).zip(std) {
                    width = m.len() * 2;
                    let t =
                        f.ts.binary_search(&data.times[*end]).map_err(|_| "model windows off the bars".to_string())?;
                    rows[t] = Some(m.into_iter().chain(s).collect());
                }
            }
            first = first.max(rows.iter().position(Option::is_some).unwrap_or(n_bars));
            per_instrument.push(rows);
        }
        let mut values = vec![0f32; n_bars * n_inst * width];
        for t in first..n_bars {
            for (k, rows) in per_instrument.iter().enumerate() {
                let row = rows[t].as_ref().ok_or_else(|| format!("{}: no model window at bar {t}", self.symbols[k]))?;
                let at = (t * n_inst + k) * width;
                values[at..at + width].copy_from_slice(row);
            }
        }
        tracing::info!(model = %path.display(), width, bars = n_bars, "model features cached for the trading environment");
        Ok((ModelFeatures { width, values }, first))
    }

    pub fn instruments(&self) -> usize {
        self.symbols.len()
    }

    pub fn bar_count(&self) -> usize {
        self.bars[0].len()
    }

    /// Width of the model features per instrument (0 without a model).
    pub fn model_width(&self) -> usize {
        self.model.as_ref().map_or(0, |m| m.width)
    }

    pub fn split_range(&self, split: Split) -> Range<usize> {
        match split {
            Split::Train => self.splits[0].clone(),
            Split::Validation => self.splits[1].clone(),
            Split::Test => self.splits[2].clone(),
            Split::All => self.splits[0].start..self.splits[2].end,
        }
    }

    /// The feature window ending at bar `t`, appended to `out`.
    #[inline]
    pub fn push_window(&self, t: usize, out: &mut Vec<f32>) {
        let row = self.instruments() * self.feature_columns.len();
        out.extend_from_slice(&self.features[(t + 1 - self.window) * row..(t + 1) * row]);
    }

    /// The model features at bar `t`, appended to `out`.
    #[inline]
    pub fn push_model(&self, t: usize, out: &mut Vec<f32>) {
        if let Some(m) = &self.model {
            let row = self.instruments() * m.width;
            out.extend_from_slice(&m.values[t * row..(t + 1) * row]);
        }
    }
}

/// Refuses a feature that is NaN or infinite after the latest warm-up (`first`).
fn check_defined(symbol: &str, name: &str, values: &[f64], first: usize, ts: &[i64]) -> Result<(), RlError> {
    match (first..values.len()).find(|&i| !values[i].is_finite()) {
        Some(i) => Err(invalid(format!(
            "{symbol}: feature `{name}` is NaN or infinite at {} (bar {i}) after its warm-up ended at bar {first}",
            Timestamp::from_nanos(ts[i])
        ))),
        None => Ok(()),
    }
}

/// Features as [bar][instrument][feature], each column z-scored with the mean and standard
/// deviation of its values up to and including the bar (expanding, so no later bar leaks in),
/// clipped to ±10 standard deviations.
fn normalised(columns: &[Vec<(String, Vec<f64>)>], n_bars: usize, first: usize) -> Vec<f32> {
    let n_inst = columns.len();
    let n_feat = columns[0].len();
    let mut out = vec![0f32; n_bars * n_inst * n_feat];
    for (k, cols) in columns.iter().enumerate() {
        for (j, (_, values)) in cols.iter().enumerate() {
            // Welford's running moments.
            let (mut count, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
            for t in first..n_bars {
                let v = values[t];
                count += 1.0;
                let delta = v - mean;
                mean += delta / count;
                m2 += delta * (v - mean);
                let var = if count > 1.0 { m2 / count } else { 0.0 };
                let z = if var > 1e-24 { (v - mean) / var.sqrt() } else { 0.0 };
                out[(t * n_inst + k) * n_feat + j] = z.clamp(-10.0, 10.0) as f32;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feature_undefined_after_its_warm_up_is_refused_with_its_bar_and_time() {
        let values = [f64::NAN, f64::NAN, 1.0, 2.0, f64::NAN, 3.0];
        let ts: Vec<i64> = (0..6).map(|d| d * 86_400_000_000_000).collect();
        assert!(check_defined("AAPL", "rsi_14", &values, 2, &ts[..]).is_err());
        let err = check_defined("AAPL", "rsi_14", &values, 2, &ts).unwrap_err().to_string();
        assert!(
            err.contains("AAPL") && err.contains("`rsi_14`") && err.contains("bar 4") && err.contains("1970-01-05"),
            "{err}"
        );
        assert!(check_defined("AAPL", "rsi_14", &values[..4], 2, &ts).is_ok());
    }
}
