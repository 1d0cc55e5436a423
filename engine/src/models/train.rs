//! The training loop: seeded shuffling, AdamW with warm-up and cosine decay, gradient
//! clipping, early stopping on validation loss, per-epoch metrics, and resumable checkpoints.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{D, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint;
use super::dataset::{SequenceData, Splits, balanced_class_weights};
use super::error::{ModelError, Result};
use super::layers::ForwardMode;
use super::loss::{LossWeights, multitask_loss};
use super::metrics::{ClassificationReport, report};
use super::network::{CLASSES, Network};
use super::optim::{AdamW, scheduled_rate};
use super::spec::{ClassWeighting, TrainingConfig};

/// Losses and metrics of one split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub loss: f64,
    pub class_loss: f64,
    pub return_loss: f64,
    pub report: ClassificationReport,
}

/// One epoch, as logged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_class_loss: f64,
    pub train_return_loss: f64,
    pub validation: Evaluation,
    pub learning_rate: f64,
    pub gradient_norm: f64,
    pub samples_per_second: f64,
    /// The validation loss is the best so far (these weights are kept).
    pub improved: bool,
}

impl EpochRecord {
    /// (key, value) pairs in MLflow's metric naming.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let v = &self.validation;
        vec![
            ("train_loss", self.train_loss),
            ("train_class_loss", self.train_class_loss),
            ("train_return_loss", self.train_return_loss),
            ("val_loss", v.loss),
            ("val_class_loss", v.class_loss),
            ("val_return_loss", v.return_loss),
            ("val_accuracy", v.report.accuracy),
            ("val_balanced_accuracy", v.report.balanced_accuracy),
            ("val_macro_f1", v.report.macro_f1),
            ("val_mcc", v.report.mcc),
            ("val_directional_accuracy", v.report.directional_accuracy),
            ("val_brier", v.report.brier),
            ("val_ece", v.report.ece),
            ("learning_rate", self.learning_rate),
            ("gradient_norm", self.gradient_norm),
            ("samples_per_second", self.samples_per_second),
        ]
    }
}

/// Told about progress as training goes (the CLI logs to the tracking server from here).
pub trait TrainingObserver {
    fn epoch_finished(&mut self, _record: &EpochRecord) {}
    /// After each batch: epoch, batch, batches per epoch, samples in the batch, running loss.
    fn batch_finished(&mut self, _epoch: usize, _batch: usize, _batches: usize, _samples: usize, _loss: f64) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl TrainingObserver for Quiet {}

/// Where checkpoints go and whether to pick up from the last one.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// `last/` (weights, optimizer moments, trainer state) and `best/` are written here after
    /// every epoch.
    pub checkpoint_dir: Option<PathBuf>,
    pub resume: bool,
}

/// What the trainer keeps between epochs; saved with the last checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct TrainerState {
    epochs_done: usize,
    step: u64,
    best_loss: Option<f64>,
    best_epoch: usize,
    epochs_without_improvement: usize,
    history: Vec<EpochRecord>,
}

/// The result: the network holds the best validation weights.
pub struct TrainingOutcome {
    pub history: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub stopped_early: bool,
    pub class_weights: [f32; 3],
}

/// The loss settings of a training config with the class weights of its training split.
pub fn loss_weights(config: &TrainingConfig, class_weights: [f32; 3]) -> LossWeights {
    LossWeights {
        class: config.class_loss_weight,
        returns: config.return_loss_weight,
        huber_delta: config.huber_delta,
        class_weights,
    }
}

/// The class weights training uses.
pub fn class_weights_for(data: &SequenceData, train: &[usize], weighting: ClassWeighting) -> Result<[f32; 3]> {
    let weights = balanced_class_weights(data.class_counts(train))?;
    Ok(match weighting {
        ClassWeighting::Balanced => weights,
        ClassWeighting::None => weights.map(|w| if w > 0.0 { 1.0 } else { 0.0 }),
    })
}

/// Evaluates `samples` in deterministic mode.
pub fn evaluate(
    network: &Network,
    data: &SequenceData,
    samples: &[usize],
    weights: &LossWeights,
    batch_size: usize,
) -> Result<Evaluation> {
    let mut probabilities: Vec<[f64; CLASSES]> = Vec::with_capacity(samples.len());
    let mut truth = Vec::with_capacity(samples.len());
    let mut predicted = Vec::with_capacity(samples.len());
    let mut realised = Vec::with_capacity(samples.len());
    let (mut loss, mut class_loss, mut return_loss) = (0.0, 0.0, 0.0);
    for chunk in samples.chunks(batch_size.max(1)) {
        let batch = data.batch(chunk, &network.device)?;
        let out = network.forward(&batch.x, ForwardMode::Eval)?;
        let parts = multitask_loss(&out, &batch.one_hot, &batch.scaled_targets, weights)?;
        let share = chunk.len() as f64 / samples.len() as f64;
        loss += scalar(&parts.total)? * share;
        class_loss += scalar(&parts.class)? * share;
        return_loss += scalar(&parts.returns)? * share;
        let probs: Vec<Vec<f32>> = candle_nn::ops::softmax(&out.class_logits, D::Minus1)?.to_vec2()?;
        probabilities.extend(probs.iter().map(|p| [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]));
        let returns: Vec<f32> = out.returns.sum(D::Minus1)?.to_vec1()?;
        predicted.extend(returns.iter().map(|r| f64::from(*r) * data.normaliser.return_scale));
        truth.extend(batch.labels);
        realised.extend(batch.realised);
    }
    Ok(Evaluation { loss, class_loss, return_loss, report: report(&probabilities, &truth, &predicted, &realised) })
}

pub(crate) fn scalar(t: &Tensor) -> Result<f64> {
    Ok(f64::from(t.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?))
}

/// Trains `network` on `splits.train`, choosing weights by validation loss.
pub fn train(
    network: &Network,
    data: &SequenceData,
    splits: &Splits,
    config: &TrainingConfig,
    seed: u64,
    options: &TrainOptions,
    observer: &mut dyn TrainingObserver,
) -> Result<TrainingOutcome> {
    let class_weights = class_weights_for(data, &splits.train, config.class_weights)?;
    let weights = loss_weights(config, class_weights);
    let batches_per_epoch = splits.train.len().div_ceil(config.batch_size) as u64;
    let total_steps = batches_per_epoch * config.epochs as u64;
    let mut optimizer = AdamW::new(&network.varmap, config.learning_rate, config.weight_decay)?;
    let mut state = TrainerState::default();
    let mut best = checkpoint::snapshot(network)?;
    if options.resume {
        let dir = options
            .checkpoint_dir
            .as_deref()
            .ok_or_else(|| ModelError::Data("resuming needs the checkpoint folder of the run to resume".into()))?;
        state = resume_from(dir, network, &mut optimizer)?;
        best = checkpoint::read_weights(&dir.join("best").join(checkpoint::WEIGHTS), &network.device)?;
    }
    let clip = (config.clip_norm > 0.0).then_some(config.clip_norm);
    let mut stopped_early = false;
    for epoch in state.epochs_done..config.epochs {
        if config.patience > 0 && state.epochs_without_improvement >= config.patience {
            stopped_early = true;
            break;
        }
        let _span = tracing::info_span!("epoch", epoch = epoch + 1).entered();
        let epoch_seed = seed.wrapping_add(1_000_003 * (epoch as u64 + 1));
        network.reseed_dropout(epoch_seed);
        let mut order = splits.train.clone();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(epoch_seed));
        let started = Instant::now();
        let (mut sum_total, mut sum_class, mut sum_return, mut norm_sum) = (0.0, 0.0, 0.0, 0.0);
        let mut batches = 0usize;
        for (b, chunk) in order.chunks(config.batch_size).enumerate() {
            optimizer.learning_rate = scheduled_rate(
                state.step,
                config.warmup_steps,
                total_steps,
                config.learning_rate,
                config.min_learning_rate,
            );
            let batch = data.batch(chunk, &network.device)?;
            let out = network.forward(&batch.x, ForwardMode::Train)?;
            let parts = multitask_loss(&out, &batch.one_hot, &batch.scaled_targets, &weights)?;
            let total = scalar(&parts.total)?;
            if !total.is_finite() {
                return Err(ModelError::Data(format!(
                    "the training loss became {total} at epoch {}, batch {}; lower the learning rate",
                    epoch + 1,
                    b + 1
                )));
            }
            let grads = parts.total.backward()?;
            norm_sum += optimizer.step(&grads, clip)?;
            state.step += 1;
            sum_total += total;
            sum_class += scalar(&parts.class)?;
            sum_return += scalar(&parts.returns)?;
            batches += 1;
            observer.batch_finished(
                epoch + 1,
                b + 1,
                batches_per_epoch as usize,
                chunk.len(),
                sum_total / batches as f64,
            );
        }
        let elapsed = started.elapsed().as_secs_f64();
        let validation = evaluate(network, data, &splits.validation, &weights, config.batch_size.max(256))?;
        let improved = state.best_loss.is_none_or(|b| validation.loss < b);
        if improved {
            state.best_loss = Some(validation.loss);
            state.best_epoch = epoch + 1;
            state.epochs_without_improvement = 0;
            best = checkpoint::snapshot(network)?;
        } else {
            state.epochs_without_improvement += 1;
        }
        let n = batches.max(1) as f64;
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: sum_total / n,
            train_class_loss: sum_class / n,
            train_return_loss: sum_return / n,
            validation,
            learning_rate: optimizer.learning_rate,
            gradient_norm: norm_sum / n,
            samples_per_second: order.len() as f64 / elapsed.max(1e-9),
            improved,
        };
        tracing::debug!(
            epoch = epoch + 1,
            train_loss = record.train_loss,
            val_loss = record.validation.loss,
            "epoch done"
        );
        observer.epoch_finished(&record);
        state.history.push(record);
        state.epochs_done = epoch + 1;
        if let Some(dir) = &options.checkpoint_dir {
            save_progress(dir, network, &optimizer, &state, &best)?;
        }
    }
    checkpoint::restore(network, &best)?;
    Ok(TrainingOutcome { history: state.history, best_epoch: state.best_epoch, stopped_early, class_weights })
}

const STATE_FILE: &str = "trainer.json";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";

fn save_progress(
    dir: &Path,
    network: &Network,
    optimizer: &AdamW,
    state: &TrainerState,
    best: &std::collections::HashMap<String, Tensor>,
) -> Result<()> {
    let last = dir.join("last");
    let best_dir = dir.join("best");
    for d in [&last, &best_dir] {
        std::fs::create_dir_all(d).map_err(|e| ModelError::io(d, e))?;
    }
    checkpoint::write_weights(&best_dir.join(checkpoint::WEIGHTS), best)?;
    checkpoint::write_weights(&last.join(checkpoint::WEIGHTS), &checkpoint::snapshot(network)?)?;
    let tmp = last.join(format!("{OPTIMIZER_FILE}.tmp"));
    optimizer.save(&tmp)?;
    std::fs::rename(&tmp, last.join(OPTIMIZER_FILE)).map_err(|e| ModelError::io(&last, e))?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| ModelError::checkpoint(&last, e.to_string()))?;
    checkpoint::write_atomic(&last.join(STATE_FILE), &json)
}

fn resume_from(dir: &Path, network: &Network, optimizer: &mut AdamW) -> Result<TrainerState> {
    let last = dir.join("last");
    let state_path = last.join(STATE_FILE);
    let text = std::fs::read(&state_path).map_err(|e| ModelError::io(&state_path, e))?;
    let state: TrainerState =
        serde_json::from_slice(&text).map_err(|e| ModelError::checkpoint(&state_path, e.to_string()))?;
    let weights = checkpoint::read_weights(&last.join(checkpoint::WEIGHTS), &network.device)?;
    checkpoint::restore(network, &weights)?;
    optimizer.load(&last.join(OPTIMIZER_FILE), state.step, &network.device)?;
    Ok(state)
}
