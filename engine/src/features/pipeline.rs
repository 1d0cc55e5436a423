//! Applying a feature spec to one or several instruments: the feature matrix (a polars
//! DataFrame with the spec's columns, normalised on the past only) and its labels.

use polars::prelude::*;
use rayon::prelude::*;

use super::error::FeatureError;
use super::indicators::BarColumns;
use super::spec::FeatureSpec;

/// One instrument's bars, as the pipeline takes them.
#[derive(Clone, Copy, Debug)]
pub struct InstrumentBars<'a> {
    pub symbol: &'a str,
    pub bars: BarColumns<'a>,
}

/// Features and labels in one frame, with what each column is.
#[derive(Clone, Debug)]
pub struct FeatureMatrix {
    /// The time column first (Datetime ns UTC), then `symbol` when there are several
    /// instruments, then the features, then the labels. Undefined values are null.
    pub frame: DataFrame,
    pub time_column: String,
    pub feature_columns: Vec<String>,
    /// Label columns look forward by their horizon; nothing else in the frame does.
    pub label_columns: Vec<String>,
    pub label_horizons: Vec<usize>,
    /// The spec's hash, recorded with everything trained on this matrix.
    pub spec_hash: String,
}

fn polars_err(e: PolarsError) -> FeatureError {
    FeatureError::Invalid { feature: "feature matrix".into(), reason: e.to_string() }
}

impl FeatureSpec {
    /// The feature columns for one instrument, normalised as the spec says, in spec order.
    /// Features are computed in parallel; each one is a single pass over the bars.
    pub fn compute_features(&self, bars: &BarColumns<'_>) -> Result<Vec<(String, Vec<f64>)>, FeatureError> {
        self.compute_features_with_peers(bars, &[])
    }

    /// [`Self::compute_features`] where cross-asset features find their peer among `peers`
    /// (aligned as of each bar: the peer's last value at or before the bar's time).
    pub fn compute_features_with_peers(
        &self,
        bars: &BarColumns<'_>,
        peers: &[InstrumentBars<'_>],
    ) -> Result<Vec<(String, Vec<f64>)>, FeatureError> {
        let per_feature: Vec<Vec<(String, Vec<f64>)>> = self
            .features
            .par_iter()
            .map(|request| {
                let mut feature = request.build()?;
                let outputs = match feature.peer() {
                    None => feature.compute(bars)?,
                    Some(symbol) => {
                        let peer = peers.iter().find(|p| p.symbol.eq_ignore_ascii_case(symbol)).ok_or_else(|| {
                            FeatureError::Invalid {
                                feature: request.column_base(),
                                reason: format!("the peer {symbol} is not among the instruments given"),
                            }
                        })?;
                        let aligned = as_of(bars.ts_nanos, peer.bars.ts_nanos, peer.bars.field(request.source));
                        feature.compute_with_peer(bars, &aligned)?
                    }
                };
                Ok(request.column_names().into_iter().zip(outputs).collect())
            })
            .collect::<Result<_, FeatureError>>()?;
        let mut columns: Vec<(String, Vec<f64>)> = per_feature.into_iter().flatten().collect();
        for step in &self.normalise {
            let targets: Vec<String> = if step.columns.is_empty() {
                self.features.iter().flat_map(|f| f.column_names()).collect()
            } else {
                step.columns.clone()
            };
            for target in targets {
                let Some(pos) = columns.iter().position(|(n, _)| *n == target) else { continue };
                let scaled = step.method.apply(&target, &columns[pos].1)?;
                if step.keep_raw {
                    columns.insert(pos + 1, (format!("{target}_{}", step.method.suffix()), scaled));
                } else {
                    columns[pos].1 = scaled;
                }
            }
        }
        Ok(columns)
    }

    /// The feature matrix of one or several instruments (stacked, with a `symbol` column when
    /// there are several), each computed on its own bars only.
    pub fn build_matrix(
        &self,
        instruments: &[InstrumentBars<'_>],
        time_column: &str,
    ) -> Result<FeatureMatrix, FeatureError> {
        let mut frames = Vec::with_capacity(instruments.len());
        let mut feature_columns = Vec::new();
        let label_columns: Vec<String> = self.labels.iter().map(|l| l.column_name()).collect();
        for inst in instruments {
            let features =
                self.compute_features_with_peers(&inst.bars, instruments).map_err(|e| with_symbol(e, inst.symbol))?;
            feature_columns = features.iter().map(|(n, _)| n.clone()).collect();
            let mut cols: Vec<Column> = Vec::with_capacity(features.len() + 2);
            let ts = Int64Chunked::from_slice(time_column.into(), inst.bars.ts_nanos)
                .into_series()
                .cast(&DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC)))
                .map_err(polars_err)?;
            cols.push(ts.into_column());
            if instruments.len() > 1 {
                cols.push(Column::new("symbol".into(), vec![inst.symbol; inst.bars.len()]));
            }
            for (name, values) in &features {
                cols.push(float_column(name, values));
            }
            for label in &self.labels {
                let values = label.compute(inst.bars.close).map_err(|e| with_symbol(e, inst.symbol))?;
                cols.push(float_column(&label.column_name(), &values));
            }
            frames.push(DataFrame::new(inst.bars.len(), cols).map_err(polars_err)?);
        }
        let mut frames = frames.into_iter();
        let mut frame = frames.next().unwrap_or_default();
        for next in frames {
            frame.vstack_mut(&next).map_err(polars_err)?;
        }
        Ok(FeatureMatrix {
            frame,
            time_column: time_column.into(),
            feature_columns,
            label_columns,
            label_horizons: self.labels.iter().map(|l| l.horizon()).collect(),
            spec_hash: self.hash(),
        })
    }
}

/// The peer's value at or before each of `ts` (NaN before its first bar): never a later value.
fn as_of(ts: &[i64], peer_ts: &[i64], peer: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(ts.len());
    let mut j = 0;
    for &t in ts {
        while j < peer_ts.len() && peer_ts[j] <= t {
            j += 1;
        }
        out.push(if j == 0 { f64::NAN } else { peer[j - 1] });
    }
    out
}

fn with_symbol(e: FeatureError, symbol: &str) -> FeatureError {
    FeatureError::Invalid { feature: symbol.into(), reason: e.to_string() }
}

/// NaN (not yet defined) becomes null, so CSV shows it empty and Parquet marks it missing.
fn float_column(name: &str, values: &[f64]) -> Column {
    let ca: Float64Chunked = values.iter().map(|v| (!v.is_nan()).then_some(*v)).collect();
    ca.with_name(name.into()).into_series().into_column()
}
