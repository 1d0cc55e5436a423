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
    /// Each instrument's rows, in order (one segment for a single instrument).
    pub segments: Vec<Segment>,
}

/// One instrument's run of kept rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub symbol: String,
    pub start: usize,
    pub len: usize,
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
    /// Reads `matrix` (one instrument, or several stacked with a `symbol` column, as the
    /// feature pipeline builds it) and the closes it was made from, in the same row order.
    /// `label_column` None reads features only (prediction). With `normaliser` None the
    /// caller must call [`SequenceData::fit_normaliser`] with the training split before taking
    /// batches. Windows, labels and return targets never cross from one instrument to another.
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
        let symbols: Vec<String> = match frame.column("symbol") {
            Ok(c) => c.str().map_err(frame_err)?.iter().map(|v| v.unwrap_or_default().to_string()).collect(),
            Err(_) => vec![String::new(); times.len()],
        };
        let columns: Vec<Vec<f64>> =
            matrix.feature_columns.iter().map(|c| float_column(frame, c)).collect::<Result<_>>()?;
        let labels_in: Option<Vec<f64>> = label_column.map(|name| float_column(frame, name)).transpose()?;
        let n = times.len();
        let features = columns.len();
        let mut data = Self {
            feature_columns: matrix.feature_columns.clone(),
            times: Vec::with_capacity(n),
            rows: Vec::with_capacity(n * features),
            labels: Vec::with_capacity(n),
            targets: Vec::with_capacity(n * steps),
            window,
            steps,
            horizon: horizon.max(steps),
            normaliser: Normaliser { mean: vec![0.0; features], std: vec![1.0; features], return_scale: 1.0 },
            segments: Vec::new(),
        };
        let mut start = 0;
        while start < n {
            let end = (start..n).find(|&r| symbols[r] != symbols[start]).unwrap_or(n);
            let who = if symbols[start].is_empty() { String::new() } else { format!("{}: ", symbols[start]) };
            let first_valid = (start..end).find(|&r| columns.iter().all(|c| c[r].is_finite())).ok_or_else(|| {
                ModelError::Data(format!(
                    "{who}no row has every feature defined ({} rows; the longest warm-up is longer than the data)",
                    end - start
                ))
            })?;
            for (c, values) in columns.iter().enumerate() {
                if let Some(r) = (first_valid..end).find(|&r| !values[r].is_finite()) {
                    return Err(ModelError::Data(format!(
                        "{who}feature `{}` is {} at {} (row {}), after the warm-up; fill or drop the gap before training",
                        matrix.feature_columns[c],
                        values[r],
                        time_text(times[r]),
                        r - start + 1
                    )));
                }
            }
            let kept = end - first_valid;
            if kept < window {
                return Err(ModelError::Data(format!(
                    "{who}the window ({window} bars) is longer than the data after the features' warm-up ({kept} bars from {})",
                    time_text(times[first_valid])
                )));
            }
            data.segments.push(Segment { symbol: symbols[start].clone(), start: data.times.len(), len: kept });
            for t in first_valid..end {
                data.times.push(times[t]);
                data.rows.extend(columns.iter().map(|c| c[t] as f32));
                data.labels.push(
                    labels_in
                        .as_ref()
                        .and_then(|l| l[t].is_finite().then(|| (l[t].round() + 1.0).clamp(0.0, 2.0) as usize)),
                );
                for k in 1..=steps {
                    let value = if steps == 1 {
                        (t + horizon < end).then(|| (close[t + horizon] / close[t]).ln())
                    } else {
                        (t + k < end).then(|| (close[t + k] / close[t + k - 1]).ln())
                    };
                    data.targets.push(value.unwrap_or(f64::NAN));
                }
            }
            start = end;
        }
        if n == 0 {
            return Err(ModelError::Data("the feature matrix has no rows".into()));
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

    /// Rows a window can end at (each instrument's first `window - 1` rows have too little
    /// history), in row order.
    pub fn window_ends(&self) -> Vec<usize> {
        self.segments.iter().flat_map(|seg| seg.start + self.window - 1..seg.start + seg.len).collect()
    }

    fn segment_of(&self, row: usize) -> &Segment {
        let k = self.segments.partition_point(|s| s.start <= row).saturating_sub(1);
        &self.segments[k]
    }

    /// Rows with a complete window, a label and every return target.
    pub fn labelled_samples(&self) -> Vec<usize> {
        self.window_ends()
            .into_iter()
            .filter(|&t| {
                self.labels[t].is_some()
                    && self.targets[t * self.steps..(t + 1) * self.steps].iter().all(|v| v.is_finite())
            })
            .collect()
    }

    /// Splits the labelled samples in time order (across instruments, by the time of the bar
    /// each window ends at). A training sample's label and targets end before the first
    /// validation time; the same between validation and test; `embargo` more bars of the
    /// same instrument are skipped after each boundary.
    pub fn split(&self, config: &SplitConfig) -> Result<Splits> {
        if !(config.train > 0.0 && config.validation >= 0.0 && config.train + config.validation < 1.0) {
            return Err(ModelError::Data(format!(
                "split: train ({}) and validation ({}) must be positive shares that leave a test split",
                config.train, config.validation
            )));
        }
        let mut samples = self.labelled_samples();
        samples.sort_by_key(|&t| (self.times[t], t));
        let n = samples.len();
        let cut1 = samples.get((n as f64 * config.train) as usize).map(|&t| self.times[t]);
        let cut2 = samples.get((n as f64 * (config.train + config.validation)) as usize).map(|&t| self.times[t]);
        let (Some(cut1), Some(cut2)) = (cut1, cut2) else {
            return Err(ModelError::Data(format!(
                "only {n} labelled windows of {} bars: too few to split (the window is too long for the data)",
                self.window
            )));
        };
        let h = self.horizon;
        // The first row of t's instrument at or after `cut`, plus the embargo.
        let opens_after = |t: usize, cut: i64| -> usize {
            let seg = self.segment_of(t);
            let rows = &self.times[seg.start..seg.start + seg.len];
            seg.start + rows.partition_point(|&x| x < cut) + config.embargo
        };
        let ends_before = |t: usize, cut: i64| self.times[t + h] < cut;
        let splits = Splits {
            train: samples.iter().copied().filter(|&t| ends_before(t, cut1)).collect(),
            validation: samples
                .iter()
                .copied()
                .filter(|&t| t >= opens_after(t, cut1) && ends_before(t, cut2))
                .collect(),
            test: samples.iter().copied().filter(|&t| t >= opens_after(t, cut2)).collect(),
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
        if train.is_empty() {
            return Err(ModelError::Data("the training split is empty".into()));
        }
        let f = self.features();
        // Per instrument, every row up to its last training window's end.
        let mut last_seen: Vec<Option<usize>> = vec![None; self.segments.len()];
        for &t in train {
            let k = self.segments.partition_point(|s| s.start <= t).saturating_sub(1);
            last_seen[k] = Some(last_seen[k].map_or(t, |x: usize| x.max(t)));
        }
        let mut mean = vec![0.0f64; f];
        let mut sq = vec![0.0f64; f];
        let mut rows = 0usize;
        for (seg, last) in self.segments.iter().zip(&last_seen) {
            let Some(last) = *last else { continue };
            for r in seg.start..=last {
                rows += 1;
                for c in 0..f {
                    let v = f64::from(self.rows[r * f + c]);
                    mean[c] += v;
                    sq[c] += v * v;
                }
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
