//! Supervised sequences from a feature matrix: windows of feature rows ending at t, the label
//! and future returns at t, a time-ordered train/validation/test split with purging and
//! embargo, and normalisation fitted on the training rows only.

use candle_core::{Device, Tensor};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{ModelError, Result};
use crate::features::FeatureMatrix;

/// How samples are split in time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Share of the samples (oldest first) for training.
    pub train: f64,
    pub validation: f64,
    /// Extra bars dropped after each boundary on top of the purge (which removes every
    /// sample whose label or return target reaches past the boundary).
    pub embargo: usize,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self { train: 0.7, validation: 0.15, embargo: 0 }
    }
}

/// Per-feature mean and standard deviation of the training rows, and the scale of the return
/// targets: stored with the model so prediction normalises new data the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub return_scale: f64,
}

/// The rows of a feature matrix, normalised, with their labels and return targets.
#[derive(Clone, Debug)]
pub struct SequenceData {
    pub feature_columns: Vec<String>,
    /// UTC nanoseconds of each kept row (warm-up rows dropped).
    pub times: Vec<i64>,
    rows: Vec<f32>,
    /// Class index per row (0 sell, 1 hold, 2 buy); None where the label is not known.
    pub labels: Vec<Option<usize>>,
    /// Raw log-return targets, `steps` per row; NaN where the future is past the data.
    pub targets: Vec<f64>,
    pub window: usize,
    pub steps: usize,
    /// How far labels and targets look forward: the purge length.
    pub horizon: usize,
    pub normaliser: Normaliser,
}

/// Sample positions (the row each window ends at) of each split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Splits {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

/// One batch on the model's device.
pub struct Batch {
    pub x: Tensor,
    pub one_hot: Tensor,
    /// Targets divided by the return scale (what the return head predicts).
    pub scaled_targets: Tensor,
    pub labels: Vec<usize>,
    /// Realised return over the whole target span per sample (for directional accuracy).
    pub realised: Vec<f64>,
}

fn frame_err(e: PolarsError) -> ModelError {
    ModelError::Data(format!("feature matrix: {e}"))
}

fn float_column(frame: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let column = frame.column(name).map_err(frame_err)?.cast(&DataType::Float64).map_err(frame_err)?;
    Ok(column.f64().map_err(frame_err)?.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

fn time_text(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).format("%Y-%m-%d %H:%M:%S").to_string()
}

impl SequenceData {
    /// Reads `matrix` (one instrument) and the closes it was made from. `label_column` None
    /// reads features only (prediction). With `normaliser` None the caller must call
    /// [`SequenceData::fit_normaliser`] with the training split before taking batches.
    pub fn from_matrix(
        matrix: &FeatureMatrix,
        close: &[f64],
        label_column: Option<&str>,
        horizon: usize,
        steps: usize,
        window: usize,
        normaliser: Option<Normaliser>,
    ) -> Result<Self> {
        let frame = &matrix.frame;
        if frame.height() != close.len() {
            return Err(ModelError::Data(format!(
                "the feature matrix has {} rows but {} closes were given",
                frame.height(),
                close.len()
            )));
        }
        if window == 0 {
            return Err(ModelError::Data("window must be at least 1".into()));
        }
        let times: Vec<i64> = frame
            .column(&matrix.time_column)
            .map_err(frame_err)?
            .cast(&DataType::Int64)
            .map_err(frame_err)?
            .i64()
            .map_err(frame_err)?
            .iter()
            .map(|v| v.unwrap_or(i64::MIN))
            .collect();
        let columns: Vec<Vec<f64>> =
            matrix.feature_columns.iter().map(|c| float_column(frame, c)).collect::<Result<_>>()?;
        let n = times.len();
        let first_valid = (0..n).find(|&r| columns.iter().all(|c| c[r].is_finite())).ok_or_else(|| {
            ModelError::Data(format!(
                "no row has every feature defined ({} rows; the longest warm-up is longer than the data)",
                n
            ))
        })?;
        for (c, values) in columns.iter().enumerate() {
            if let Some(r) = (first_valid..n).find(|&r| !values[r].is_finite()) {
                return Err(ModelError::Data(format!(
                    "feature `{}` is {} at {} (row {}), after the warm-up; fill or drop the gap before training",
                    matrix.feature_columns[c],
                    values[r],
                    time_text(times[r]),
                    r + 1
                )));
            }
        }
        let labels: Vec<Option<usize>> = match label_column {
            Some(name) => float_column(frame, name)?
                .iter()
                .map(|v| v.is_finite().then(|| (v.round() + 1.0).clamp(0.0, 2.0) as usize))
                .collect(),
            None => vec![None; n],
        };
        let mut targets = vec![f64::NAN; n * steps];
        for t in 0..n {
            if steps == 1 {
                if t + horizon < n {
                    targets[t] = (close[t + horizon] / close[t]).ln();
                }
            } else {
                for k in 1..=steps {
                    if t + k < n {
                        targets[t * steps + k - 1] = (close[t + k] / close[t + k - 1]).ln();
                    }
                }
            }
        }
        let features = columns.len();
        let mut rows = Vec::with_capacity((n - first_valid) * features);
        for r in first_valid..n {
            rows.extend(columns.iter().map(|c| c[r] as f32));
        }
        let kept = n - first_valid;
        let mut data = Self {
            feature_columns: matrix.feature_columns.clone(),
            times: times[first_valid..].to_vec(),
            rows,
            labels: labels[first_valid..].to_vec(),
            targets: targets[first_valid * steps..].to_vec(),
            window,
            steps,
            horizon: horizon.max(steps),
            normaliser: Normaliser { mean: vec![0.0; features], std: vec![1.0; features], return_scale: 1.0 },
        };
        if kept < window {
            return Err(ModelError::Data(format!(
                "the window ({window} bars) is longer than the data after the features' warm-up ({kept} bars from {})",
                data.times.first().map(|t| time_text(*t)).unwrap_or_default()
            )));
        }
        if let Some(norm) = normaliser {
            if norm.mean.len() != features {
                return Err(ModelError::Data(format!(
                    "the normaliser has {} features, the data {features}",
                    norm.mean.len()
                )));
            }
            data.apply_normaliser(norm);
        }
        Ok(data)
    }

    pub fn features(&self) -> usize {
        self.feature_columns.len()
    }

    pub fn rows(&self) -> usize {
        self.times.len()
    }

    /// Rows a window can end at (the first `window - 1` rows have too little history).
    pub fn window_ends(&self) -> std::ops::Range<usize> {
        self.window - 1..self.rows()
    }

    /// Rows with a complete window, a label and every return target.
    pub fn labelled_samples(&self) -> Vec<usize> {
        self.window_ends()
            .filter(|&t| {
                self.labels[t].is_some()
                    && self.targets[t * self.steps..(t + 1) * self.steps].iter().all(|v| v.is_finite())
            })
            .collect()
    }

    /// Splits the labelled samples in time order. A training sample's label and targets end
    /// before the first validation row; the same between validation and test; `embargo` more
    /// rows are skipped after each boundary.
    pub fn split(&self, config: &SplitConfig) -> Result<Splits> {
        if !(config.train > 0.0 && config.validation >= 0.0 && config.train + config.validation < 1.0) {
            return Err(ModelError::Data(format!(
                "split: train ({}) and validation ({}) must be positive shares that leave a test split",
                config.train, config.validation
            )));
        }
        let samples = self.labelled_samples();
        let n = samples.len();
        let cut1 = samples.get((n as f64 * config.train) as usize).copied();
        let cut2 = samples.get((n as f64 * (config.train + config.validation)) as usize).copied();
        let (Some(cut1), Some(cut2)) = (cut1, cut2) else {
            return Err(ModelError::Data(format!(
                "only {n} labelled windows of {} bars: too few to split (the window is too long for the data)",
                self.window
            )));
        };
        let h = self.horizon;
        let splits = Splits {
            train: samples.iter().copied().filter(|&t| t + h < cut1).collect(),
            validation: samples.iter().copied().filter(|&t| t >= cut1 + config.embargo && t + h < cut2).collect(),
            test: samples.iter().copied().filter(|&t| t >= cut2 + config.embargo).collect(),
        };
        for (name, part) in [("training", &splits.train), ("validation", &splits.validation), ("test", &splits.test)] {
            if part.is_empty() {
                return Err(ModelError::Data(format!(
                    "the {name} split is empty after purging {h} bars and an embargo of {} ({n} labelled windows of {} bars)",
                    config.embargo, self.window
                )));
            }
        }
        Ok(splits)
    }

    /// Fits the normaliser on the rows the training windows see and applies it to all rows.
    pub fn fit_normaliser(&mut self, train: &[usize]) -> Result<()> {
        let last = *train.last().ok_or_else(|| ModelError::Data("the training split is empty".into()))?;
        let f = self.features();
        let rows = last + 1;
        let mut mean = vec![0.0f64; f];
        let mut sq = vec![0.0f64; f];
        for r in 0..rows {
            for c in 0..f {
                let v = f64::from(self.rows[r * f + c]);
                mean[c] += v;
                sq[c] += v * v;
            }
        }
        let std: Vec<f64> = (0..f)
            .map(|c| {
                mean[c] /= rows as f64;
                let var = (sq[c] / rows as f64 - mean[c] * mean[c]).max(0.0);
                if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 }
            })
            .collect();
        let train_targets: Vec<f64> =
            train.iter().flat_map(|&t| self.targets[t * self.steps..(t + 1) * self.steps].iter().copied()).collect();
        let m = train_targets.iter().sum::<f64>() / train_targets.len().max(1) as f64;
        let var = train_targets.iter().map(|v| (v - m).powi(2)).sum::<f64>() / train_targets.len().max(1) as f64;
        let return_scale = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        self.apply_normaliser(Normaliser { mean, std, return_scale });
        Ok(())
    }

    fn apply_normaliser(&mut self, norm: Normaliser) {
        let f = self.features();
        for (i, v) in self.rows.iter_mut().enumerate() {
            let c = i % f;
            *v = ((f64::from(*v) - norm.mean[c]) / norm.std[c]) as f32;
        }
        self.normaliser = norm;
    }

    /// Class counts (sell, hold, buy) over samples.
    pub fn class_counts(&self, samples: &[usize]) -> [usize; 3] {
        let mut counts = [0usize; 3];
        for &t in samples {
            if let Some(c) = self.labels[t] {
                counts[c] += 1;
            }
        }
        counts
    }

    /// The windows ending at `ends` as [batch, window, features].
    pub fn windows(&self, ends: &[usize], device: &Device) -> Result<Tensor> {
        let f = self.features();
        let mut x = Vec::with_capacity(ends.len() * self.window * f);
        for &t in ends {
            let start = t + 1 - self.window;
            x.extend_from_slice(&self.rows[start * f..(t + 1) * f]);
        }
        Ok(Tensor::from_vec(x, (ends.len(), self.window, f), device)?)
    }

    pub fn batch(&self, ends: &[usize], device: &Device) -> Result<Batch> {
        let s = self.steps;
        let mut one_hot = vec![0f32; ends.len() * 3];
        let mut labels = Vec::with_capacity(ends.len());
        let mut scaled = Vec::with_capacity(ends.len() * s);
        let mut realised = Vec::with_capacity(ends.len());
        for (i, &t) in ends.iter().enumerate() {
            let class = self.labels[t].ok_or_else(|| ModelError::Data(format!("row {t} has no label")))?;
            one_hot[i * 3 + class] = 1.0;
            labels.push(class);
            let target = &self.targets[t * s..(t + 1) * s];
            scaled.extend(target.iter().map(|v| (v / self.normaliser.return_scale) as f32));
            realised.push(target.iter().sum());
        }
        Ok(Batch {
            x: self.windows(ends, device)?,
            one_hot: Tensor::from_vec(one_hot, (ends.len(), 3), device)?,
            scaled_targets: Tensor::from_vec(scaled, (ends.len(), s), device)?,
            labels,
            realised,
        })
    }
}

/// scikit-learn's "balanced" class weights, n / (classes · count), from the training split;
/// a class absent from training gets weight 0. Fewer than two classes cannot be trained.
pub fn balanced_class_weights(counts: [usize; 3]) -> Result<[f32; 3]> {
    let present = counts.iter().filter(|&&c| c > 0).count();
    if present < 2 {
        return Err(ModelError::Data(format!(
            "the training split has only one class (sell/hold/buy counts {counts:?}); widen the label thresholds"
        )));
    }
    let n: usize = counts.iter().sum();
    Ok(counts.map(|c| if c == 0 { 0.0 } else { n as f32 / (present as f32 * c as f32) }))
}
