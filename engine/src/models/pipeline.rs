//! From an experiment spec to a trained, evaluated model: bars -> feature matrix -> windowed,
//! split, normalised dataset -> training -> test metrics against baselines -> model card.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;
use sha2::{Digest, Sha256};

use super::checkpoint::{DataLineage, FORMAT, ModelCard, code_version};
use super::dataset::{SequenceData, Splits};
use super::error::{ModelError, Result};
use super::metrics::{self, ClassificationReport};
use super::network::{ModelShape, Network};
use super::spec::ExperimentSpec;
use super::train::{self, Evaluation, TrainOptions, TrainingObserver, TrainingOutcome};
use super::uncertainty;
use crate::data::series::FloatBars;
use crate::features::{FeatureSpec, InstrumentBars};

/// SHA-256 of the bars as the model saw them (times and OHLCV as f64, little-endian).
pub fn bars_sha256(bars: &FloatBars) -> String {
    let mut hasher = Sha256::new();
    for i in 0..bars.len() {
        hasher.update(bars.ts[i].to_le_bytes());
        for v in [bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]] {
            hasher.update(v.to_le_bytes());
        }
    }
    hex::encode(hasher.finalize())
}

fn time_text(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The dataset of a spec over some bars, split and normalised on its training split.
pub struct PreparedData {
    pub data: SequenceData,
    pub splits: Splits,
    pub lineage: DataLineage,
    pub feature_spec_hash: String,
}

/// Computes the spec's features and label over one instrument's bars and builds the dataset.
pub fn prepare(spec: &ExperimentSpec, symbol: &str, bars: &FloatBars, source: &str) -> Result<PreparedData> {
    prepare_many(spec, &[(symbol, bars)], source)
}

/// The same over several instruments, pooled (cross-asset features find their peers among
/// them); split by time across all of them.
pub fn prepare_many(spec: &ExperimentSpec, instruments: &[(&str, &FloatBars)], source: &str) -> Result<PreparedData> {
    let total: usize = instruments.iter().map(|(_, b)| b.len()).sum();
    let _span = tracing::info_span!("prepare_dataset", instruments = instruments.len(), bars = total).entered();
    let views: Vec<InstrumentBars<'_>> =
        instruments.iter().map(|(symbol, bars)| InstrumentBars { symbol, bars: bars.columns() }).collect();
    let matrix = spec.feature_spec.build_matrix(&views, "timestamp")?;
    let close: Vec<f64> = instruments.iter().flat_map(|(_, b)| b.close.iter().copied()).collect();
    let label_column = spec.label.column_name();
    let mut data = SequenceData::from_matrix(
        &matrix,
        &close,
        Some(&label_column),
        spec.label.horizon(),
        spec.model.return_steps(),
        spec.dataset.window,
        None,
    )?;
    let splits = data.split(&spec.dataset.split)?;
    data.fit_normaliser(&splits.train)?;
    let sha256 = match instruments {
        [(_, bars)] => bars_sha256(bars),
        _ => {
            let mut hasher = Sha256::new();
            for (symbol, bars) in instruments {
                hasher.update(symbol.as_bytes());
                hasher.update(bars_sha256(bars).as_bytes());
            }
            hex::encode(hasher.finalize())
        }
    };
    let first = instruments.iter().filter_map(|(_, b)| b.ts.first()).min();
    let last = instruments.iter().filter_map(|(_, b)| b.ts.last()).max();
    let lineage = DataLineage {
        source: source.to_string(),
        first: first.map(|t| time_text(*t)).unwrap_or_default(),
        last: last.map(|t| time_text(*t)).unwrap_or_default(),
        bars: total,
        sha256,
    };
    Ok(PreparedData { data, splits, lineage, feature_spec_hash: matrix.spec_hash })
}

/// How the model does on the test split next to the naive predictors the honest comparison
/// needs: always the training split's majority class, and always "buy".
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub evaluation: Evaluation,
    pub majority_class: usize,
    pub majority: ClassificationReport,
    pub always_buy: ClassificationReport,
    /// Mean MC-dropout standard deviation of the class probabilities (0 without passes).
    pub mc_probability_std: f64,
}

/// The trained model with its card and history.
pub struct TrainedExperiment {
    pub network: Network,
    pub card: ModelCard,
    pub outcome: TrainingOutcome,
    pub test: TestResult,
}

const ARCHITECTURE_FILE: &str = "architecture.json";

/// Trains the spec's model on prepared data. With `options.resume` the checkpoint folder
/// must hold a run of the same architecture and shape; anything else is refused before a
/// single step.
pub fn run_experiment(
    spec: &ExperimentSpec,
    prepared: &PreparedData,
    device: &Device,
    options: &TrainOptions,
    observer: &mut dyn TrainingObserver,
) -> Result<TrainedExperiment> {
    let shape = ModelShape { features: prepared.data.features(), window: prepared.data.window };
    let network = Network::new(&spec.model, shape, spec.seed, device)?;
    let identity =
        serde_json::json!({ "model": spec.model, "shape": shape, "features": prepared.data.feature_columns });
    if let Some(dir) = &options.checkpoint_dir {
        let path = dir.join(ARCHITECTURE_FILE);
        if options.resume {
            let text =
                std::fs::read(&path).map_err(|e| ModelError::checkpoint(&path, format!("cannot resume: {e}")))?;
            let saved: serde_json::Value =
                serde_json::from_slice(&text).map_err(|e| ModelError::checkpoint(&path, e.to_string()))?;
            if saved != identity {
                return Err(ModelError::checkpoint(
                    dir,
                    format!(
                        "is from another model ({}, window {}, {} features); the spec asks for {} with window {} and {} features",
                        saved["model"]["architecture"].as_str().unwrap_or("?"),
                        saved["shape"]["window"],
                        saved["shape"]["features"],
                        spec.model.name(),
                        shape.window,
                        shape.features
                    ),
                ));
            }
        } else {
            std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
            super::checkpoint::write_atomic(&path, identity.to_string().as_bytes())?;
        }
    }
    let outcome =
        train::train(&network, &prepared.data, &prepared.splits, &spec.training, spec.seed, options, observer)?;
    let test = test_result(spec, prepared, &network, &outcome)?;
    let card = model_card(spec, prepared, &network, &outcome, &test, device);
    Ok(TrainedExperiment { network, card, outcome, test })
}

fn test_result(
    spec: &ExperimentSpec,
    prepared: &PreparedData,
    network: &Network,
    outcome: &TrainingOutcome,
) -> Result<TestResult> {
    let weights = train::loss_weights(&spec.training, outcome.class_weights);
    let data = &prepared.data;
    let test = &prepared.splits.test;
    let evaluation = train::evaluate(network, data, test, &weights, 256)?;
    let counts = data.class_counts(&prepared.splits.train);
    let majority_class = (0..3).max_by_key(|&k| (counts[k], std::cmp::Reverse(k))).unwrap_or(1);
    let truth: Vec<usize> = test.iter().filter_map(|&t| data.labels[t]).collect();
    let realised: Vec<f64> =
        test.iter().map(|&t| data.targets[t * data.steps..(t + 1) * data.steps].iter().sum()).collect();
    let constant = |class: usize, up: f64| -> ClassificationReport {
        let mut p = [0.0; 3];
        p[class] = 1.0;
        metrics::report(&vec![p; truth.len()], &truth, &vec![up; truth.len()], &realised)
    };
    let majority = constant(majority_class, if majority_class == 0 { -1.0 } else { 1.0 });
    let always_buy = constant(2, 1.0);
    let mut mc_probability_std = 0.0;
    if spec.training.mc_passes > 1 {
        let mut total = 0.0;
        let mut count = 0usize;
        for chunk in test.chunks(64) {
            let x = data.windows(chunk, &network.device)?;
            let p =
                uncertainty::predict(network, &x, spec.training.mc_passes, spec.seed, data.normaliser.return_scale)?;
            for s in &p.probability_std {
                total += s.iter().sum::<f64>() / 3.0;
                count += 1;
            }
        }
        mc_probability_std = total / count.max(1) as f64;
    }
    Ok(TestResult { evaluation, majority_class, majority, always_buy, mc_probability_std })
}

fn model_card(
    spec: &ExperimentSpec,
    prepared: &PreparedData,
    network: &Network,
    outcome: &TrainingOutcome,
    test: &TestResult,
    device: &Device,
) -> ModelCard {
    let mut metrics = BTreeMap::new();
    let r = &test.evaluation.report;
    for (k, v) in [
        ("test_loss", test.evaluation.loss),
        ("test_accuracy", r.accuracy),
        ("test_balanced_accuracy", r.balanced_accuracy),
        ("test_macro_f1", r.macro_f1),
        ("test_mcc", r.mcc),
        ("test_directional_accuracy", r.directional_accuracy),
        ("test_brier", r.brier),
        ("test_ece", r.ece),
        ("test_majority_accuracy", test.majority.accuracy),
        ("test_always_buy_accuracy", test.always_buy.accuracy),
        ("test_always_up_directional_accuracy", test.always_buy.directional_accuracy),
        ("test_mc_probability_std", test.mc_probability_std),
    ] {
        metrics.insert(k.to_string(), v);
    }
    if let Some(best) = outcome.history.iter().find(|h| h.epoch == outcome.best_epoch) {
        metrics.insert("best_val_loss".into(), best.validation.loss);
        metrics.insert("best_val_accuracy".into(), best.validation.report.accuracy);
    }
    let samples = BTreeMap::from([
        ("train".to_string(), prepared.splits.train.len()),
        ("validation".to_string(), prepared.splits.validation.len()),
        ("test".to_string(), prepared.splits.test.len()),
    ]);
    ModelCard {
        format: FORMAT.into(),
        name: spec.registry.model_name.clone(),
        model: spec.model.clone(),
        shape: network.shape,
        feature_columns: prepared.data.feature_columns.clone(),
        normaliser: prepared.data.normaliser.clone(),
        feature_spec_toml: spec.feature_spec_toml.clone(),
        feature_spec_hash: prepared.feature_spec_hash.clone(),
        label: spec.label.clone(),
        data: prepared.lineage.clone(),
        split: spec.dataset.split.clone(),
        samples,
        seed: spec.seed,
        training: spec.training.clone(),
        metrics,
        best_epoch: outcome.best_epoch,
        epochs_trained: outcome.history.len(),
        parameters: network.parameter_count(),
        code_version: code_version(),
        device: format!("{device:?}"),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

/// Predictions of a saved model over new bars: the card's feature spec recomputed, its
/// normaliser applied, one prediction per bar that has a full window.
pub struct BarPredictions {
    pub times: Vec<i64>,
    pub prediction: uncertainty::Prediction,
}

pub fn predict_bars(
    network: &Network,
    card: &ModelCard,
    symbol: &str,
    bars: &FloatBars,
    mc_passes: usize,
) -> Result<BarPredictions> {
    let data = model_windows(card, symbol, bars)?;
    let ends: Vec<usize> = data.window_ends();
    let mut prediction = uncertainty::Prediction::default();
    for chunk in ends.chunks(256) {
        let x = data.windows(chunk, &network.device)?;
        let p = uncertainty::predict(network, &x, mc_passes, card.seed, card.normaliser.return_scale)?;
        prediction.probabilities.extend(p.probabilities);
        prediction.probability_std.extend(p.probability_std);
        prediction.returns.extend(p.returns);
        prediction.return_std.extend(p.return_std);
    }
    Ok(BarPredictions { times: ends.iter().map(|&t| data.times[t]).collect(), prediction })
}

/// The windows a saved model reads over new bars: the card's feature spec recomputed (labels
/// dropped) and its normaliser applied; `window_ends()` lists the bars with a full window.
pub fn model_windows(card: &ModelCard, symbol: &str, bars: &FloatBars) -> Result<SequenceData> {
    let origin = Path::new("model.json [feature_spec_toml]").display().to_string();
    let mut feature_spec = FeatureSpec::parse(&card.feature_spec_toml, &origin)?;
    feature_spec.labels.clear();
    let matrix = feature_spec.build_matrix(&[InstrumentBars { symbol, bars: bars.columns() }], "timestamp")?;
    if matrix.feature_columns != card.feature_columns {
        return Err(ModelError::Data(format!(
            "the recomputed features ({}) are not the model's ({})",
            matrix.feature_columns.join(", "),
            card.feature_columns.join(", ")
        )));
    }
    SequenceData::from_matrix(
        &matrix,
        &bars.close,
        None,
        card.label.horizon(),
        card.model.return_steps(),
        card.shape.window,
        Some(card.normaliser.clone()),
    )
}
