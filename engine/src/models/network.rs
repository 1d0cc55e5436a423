//! The architectures an experiment spec can name, built into one `Network` that every part of
//! the pipeline (training, checkpoints, prediction, uncertainty) handles the same way.

use candle_core::{D, Device, Tensor};
use candle_nn::{Linear, VarMap};
use serde::{Deserialize, Serialize};

use super::cnn::{CnnConfig, CnnExtractor, summarise_sequence};
use super::error::{ModelError, Result};
use super::hybrid::{Ensemble, EnsembleConfig, Hybrid, HybridConfig, ModelOutput};
use super::layers::{DropoutRng, ForwardMode, ParamFactory, apply, linear};
use super::lstm::{BiLstmEncoder, LstmConfig, Seq2SeqConfig, Seq2SeqDecoder};

/// Buy/hold/sell: class 0 is sell, 1 hold, 2 buy (the label values -1, 0, 1 shifted by one).
pub const CLASSES: usize = 3;

/// Which network, and its size: the `[model]` table of an experiment spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArchitectureConfig {
    /// The CNN extractor alone, its sequence summarised (mean and last step) into the heads.
    Cnn(CnnConfig),
    /// The bidirectional LSTM alone, its attention-pooled context and last step into the heads.
    BiLstm(LstmConfig),
    /// Encoder-decoder predicting `horizon` future returns, one per step.
    Seq2seq(Seq2SeqConfig),
    Hybrid(HybridConfig),
    Ensemble(EnsembleConfig),
}

impl Default for ArchitectureConfig {
    fn default() -> Self {
        Self::Hybrid(HybridConfig::default())
    }
}

impl ArchitectureConfig {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cnn(_) => "cnn",
            Self::BiLstm(_) => "bi_lstm",
            Self::Seq2seq(_) => "seq2seq",
            Self::Hybrid(_) => "hybrid",
            Self::Ensemble(_) => "ensemble",
        }
    }

    /// How many future returns the return head predicts: the decoder's horizon for seq2seq,
    /// else one (the return over the label's horizon).
    pub fn return_steps(&self) -> usize {
        match self {
            Self::Seq2seq(c) => c.horizon,
            _ => 1,
        }
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        match self {
            Self::Cnn(c) => c.validate(),
            Self::BiLstm(c) => c.validate(),
            Self::Seq2seq(c) => {
                c.encoder.validate()?;
                if c.horizon == 0 { Err("horizon must be at least 1".into()) } else { Ok(()) }
            }
            Self::Hybrid(c) => c.validate(),
            Self::Ensemble(c) => {
                if c.members < 2 {
                    return Err(format!("members must be at least 2, got {}", c.members));
                }
                c.member.validate().map_err(|e| format!("member.{e}"))
            }
        }
    }
}

/// The input a network is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelShape {
    /// Feature columns per time step.
    pub features: usize,
    /// Time steps per sample.
    pub window: usize,
}

#[derive(Clone, Debug)]
enum Body {
    Cnn { extractor: CnnExtractor, classifier: Linear, regressor: Linear },
    BiLstm { encoder: BiLstmEncoder, classifier: Linear, regressor: Linear },
    Seq2seq { encoder: BiLstmEncoder, decoder: Seq2SeqDecoder, classifier: Linear },
    Hybrid(Box<Hybrid>),
    Ensemble(Ensemble),
}

/// A built network with its parameters (in `varmap`) and its dropout generator.
#[derive(Clone)]
pub struct Network {
    pub config: ArchitectureConfig,
    pub shape: ModelShape,
    pub varmap: VarMap,
    pub device: Device,
    dropout_rng: DropoutRng,
    body: Body,
}

impl Network {
    /// Builds the network with parameters drawn from `seed` (same seed, same start).
    pub fn new(config: &ArchitectureConfig, shape: ModelShape, seed: u64, device: &Device) -> Result<Self> {
        config.validate().map_err(|e| ModelError::Data(format!("model ({}): {e}", config.name())))?;
        if shape.features == 0 || shape.window == 0 {
            return Err(ModelError::Data("a model needs at least one feature and a window of one step".into()));
        }
        let varmap = VarMap::new();
        let params = ParamFactory::new(varmap.clone(), seed, device.clone());
        let rng = DropoutRng::new(seed);
        let f = shape.features;
        let steps = config.return_steps();
        let body = match config {
            ArchitectureConfig::Cnn(c) => Body::Cnn {
                extractor: CnnExtractor::new(c, f, &rng, &params.sub("cnn"))?,
                classifier: linear(2 * c.model_dim, CLASSES, &params.sub("classifier"))?,
                regressor: linear(2 * c.model_dim, steps, &params.sub("regressor"))?,
            },
            ArchitectureConfig::BiLstm(c) => Body::BiLstm {
                encoder: BiLstmEncoder::new(c, f, &rng, &params.sub("lstm"))?,
                classifier: linear(2 * c.model_dim, CLASSES, &params.sub("classifier"))?,
                regressor: linear(2 * c.model_dim, steps, &params.sub("regressor"))?,
            },
            ArchitectureConfig::Seq2seq(c) => Body::Seq2seq {
                encoder: BiLstmEncoder::new(&c.encoder, f, &rng, &params.sub("encoder"))?,
                decoder: Seq2SeqDecoder::new(c, &params.sub("decoder"))?,
                classifier: linear(c.encoder.model_dim, CLASSES, &params.sub("classifier"))?,
            },
            ArchitectureConfig::Hybrid(c) => {
                Body::Hybrid(Box::new(Hybrid::new(c, f, steps, &rng, &params.sub("hybrid"))?))
            }
            ArchitectureConfig::Ensemble(c) => {
                Body::Ensemble(Ensemble::new(c, f, steps, &rng, &params.sub("ensemble"))?)
            }
        };
        Ok(Self { config: config.clone(), shape, varmap, device: device.clone(), dropout_rng: rng, body })
    }

    /// Restarts the dropout generator (each epoch of training, and each prediction call, so a
    /// result does not depend on what ran before it).
    pub fn reseed_dropout(&self, seed: u64) {
        self.dropout_rng.reseed(seed);
    }

    /// `x` [batch, window, features].
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<ModelOutput> {
        let (_, window, features) = x.dims3()?;
        if window != self.shape.window || features != self.shape.features {
            return Err(ModelError::Data(format!(
                "the model takes windows of {} steps x {} features, got {window} x {features}",
                self.shape.window, self.shape.features
            )));
        }
        match &self.body {
            Body::Cnn { extractor, classifier, regressor } => {
                let summary = summarise_sequence(&extractor.forward(x, mode)?)?;
                Ok(ModelOutput {
                    class_logits: apply(classifier, &summary)?,
                    returns: apply(regressor, &summary)?,
                    fused: None,
                })
            }
            Body::BiLstm { encoder, classifier, regressor } => {
                let encoded = encoder.forward(x, mode)?;
                let steps = encoded.seq.dim(1)?;
                let last = encoded.seq.narrow(1, steps - 1, 1)?.squeeze(1)?;
                let summary = Tensor::cat(&[encoded.context, last], D::Minus1)?;
                Ok(ModelOutput {
                    class_logits: apply(classifier, &summary)?,
                    returns: apply(regressor, &summary)?,
                    fused: None,
                })
            }
            Body::Seq2seq { encoder, decoder, classifier } => {
                let encoded = encoder.forward(x, mode)?;
                let returns = decoder.forward(&encoded)?;
                Ok(ModelOutput { class_logits: apply(classifier, &encoded.context)?, returns, fused: None })
            }
            Body::Hybrid(h) => h.forward(x, mode),
            Body::Ensemble(e) => e.forward(x, mode),
        }
    }

    /// The ensemble's combination weights, for the other architectures None.
    pub fn ensemble_weights(&self) -> Result<Option<Vec<f32>>> {
        match &self.body {
            Body::Ensemble(e) => Ok(Some(e.weights()?)),
            _ => Ok(None),
        }
    }

    /// How many numbers the network learns.
    pub fn parameter_count(&self) -> usize {
        self.varmap.all_vars().iter().map(|v| v.elem_count()).sum()
    }
}
