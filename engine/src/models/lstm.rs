//! The bidirectional LSTM encoder (attention over time steps, skip connections) and the
//! sequence-to-sequence variant whose decoder predicts several future steps.

use candle_core::{D, Tensor};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

use super::attention::{AttentionKind, TemporalAttention};
use super::cnn::check_dropout;
use super::error::{ModelError, Result};
use super::layers::{Dropout, DropoutRng, ForwardMode, LayerNorm, Lstm, LstmState, ParamFactory, apply, linear};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmConfig {
    /// Hidden units per direction.
    pub hidden: usize,
    /// Stacked bidirectional layers; each above the first adds its input back (a skip).
    pub layers: usize,
    pub attention: AttentionKind,
    /// Width of the sequence the encoder returns.
    pub model_dim: usize,
    pub dropout: f32,
}

impl Default for LstmConfig {
    fn default() -> Self {
        Self { hidden: 64, layers: 1, attention: AttentionKind::Additive, model_dim: 64, dropout: 0.1 }
    }
}

impl LstmConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.hidden == 0 || self.layers == 0 || self.model_dim == 0 {
            return Err("hidden, layers and model_dim must be positive".into());
        }
        check_dropout(self.dropout)
    }
}

/// What the encoder returns: the sequence, its attention-pooled summary and the final states
/// of both directions.
pub struct Encoded {
    pub seq: Tensor,
    pub context: Tensor,
    pub attention: Tensor,
    pub forward_state: LstmState,
    pub backward_state: LstmState,
}

/// Candle's LSTM has no bidirectional mode: the backward direction is a second LSTM run
/// over reversed time, and the two are concatenated per step.
#[derive(Clone, Debug)]
pub struct BiLstmEncoder {
    layers: Vec<(Lstm, Lstm)>,
    project: Linear,
    input_skip: Linear,
    norm: LayerNorm,
    pool: TemporalAttention,
    dropout: Dropout,
}

impl BiLstmEncoder {
    pub fn new(config: &LstmConfig, inputs: usize, rng: &DropoutRng, params: &ParamFactory) -> Result<Self> {
        config.validate().map_err(ModelError::Data)?;
        let h = config.hidden;
        let layers = (0..config.layers)
            .map(|l| {
                let width = if l == 0 { inputs } else { 2 * h };
                Ok((
                    Lstm::new(width, h, &params.sub(&format!("l{l}_forward")))?,
                    Lstm::new(width, h, &params.sub(&format!("l{l}_backward")))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            layers,
            project: linear(2 * h, config.model_dim, &params.sub("project"))?,
            input_skip: linear(inputs, config.model_dim, &params.sub("input_skip"))?,
            norm: LayerNorm::new(config.model_dim, &params.sub("norm"))?,
            pool: TemporalAttention::new(config.attention, config.model_dim, &params.sub("pool"))?,
            dropout: Dropout::new(config.dropout, rng),
        })
    }

    /// `x` [batch, time, features].
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Encoded> {
        let mut input = x.clone();
        let mut states = None;
        for (l, (forward, backward)) in self.layers.iter().enumerate() {
            let (f_seq, f_state) = forward.run(&input, false)?;
            let (b_seq, b_state) = backward.run(&input, true)?;
            let both = Tensor::cat(&[f_seq, b_seq], D::Minus1)?;
            let both = self.dropout.forward(&both, mode)?;
            input = if l == 0 { both } else { (both + input)? };
            states = Some((f_state, b_state));
        }
        let (forward_state, backward_state) =
            states.ok_or_else(|| ModelError::Data("the LSTM encoder has no layers".into()))?;
        let seq = self.norm.forward(&(apply(&self.project, &input)? + apply(&self.input_skip, x)?)?)?;
        let (context, attention) = self.pool.forward(&seq)?;
        Ok(Encoded { seq, context, attention, forward_state, backward_state })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seq2SeqConfig {
    pub encoder: LstmConfig,
    /// Future steps the decoder predicts (one return per step).
    pub horizon: usize,
}

impl Default for Seq2SeqConfig {
    fn default() -> Self {
        Self { encoder: LstmConfig::default(), horizon: 5 }
    }
}

/// Encoder-decoder: the decoder starts from both directions' final states and, at each future
/// step, attends over the encoded sequence (dot-product, its state as the query) and feeds
/// back its own previous prediction, the same in training and in use.
#[derive(Clone, Debug)]
pub struct Seq2SeqDecoder {
    init: Linear,
    cell: Lstm,
    out: Linear,
    horizon: usize,
    dim: usize,
}

impl Seq2SeqDecoder {
    pub fn new(config: &Seq2SeqConfig, params: &ParamFactory) -> Result<Self> {
        if config.horizon == 0 {
            return Err(ModelError::Data("seq2seq: horizon must be at least 1".into()));
        }
        let d = config.encoder.model_dim;
        let h = config.encoder.hidden;
        Ok(Self {
            init: linear(2 * h, d, &params.sub("init"))?,
            cell: Lstm::new(1 + d, d, &params.sub("cell"))?,
            out: linear(2 * d, 1, &params.sub("out"))?,
            horizon: config.horizon,
            dim: d,
        })
    }

    /// Predicted returns [batch, horizon].
    pub fn forward(&self, encoded: &Encoded) -> Result<Tensor> {
        let batch = encoded.seq.dim(0)?;
        let start = Tensor::cat(&[&encoded.forward_state.h, &encoded.backward_state.h], D::Minus1)?;
        let h = apply(&self.init, &start)?.tanh()?;
        let mut state = LstmState { c: h.zeros_like()?, h };
        let mut previous = Tensor::zeros((batch, 1), encoded.seq.dtype(), encoded.seq.device())?;
        let mut steps = Vec::with_capacity(self.horizon);
        for _ in 0..self.horizon {
            let scores = (encoded.seq.matmul(&state.h.unsqueeze(2)?)? / (self.dim as f64).sqrt())?;
            let weights = super::fused_ops::softmax_last_dim(&scores.squeeze(2)?)?;
            let context = weights.unsqueeze(1)?.matmul(&encoded.seq)?.squeeze(1)?;
            state = self.cell.step(&Tensor::cat(&[&previous, &context], D::Minus1)?, &state)?;
            let prediction = apply(&self.out, &Tensor::cat(&[&state.h, &context], D::Minus1)?)?;
            steps.push(prediction.clone());
            previous = prediction;
        }
        Ok(Tensor::cat(&steps, D::Minus1)?)
    }
}
