//! The CNN feature extractor: parallel 1-D convolutions (kernels 3, 5, 7, 11 by default),
//! multi-head self-attention over time, residual connections and layer normalisation.

use candle_core::{D, Tensor};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

use super::attention::MultiHeadAttention;
use super::error::{ModelError, Result};
use super::layers::{Dropout, DropoutRng, ForwardMode, LayerNorm, ParamFactory, SameConv1d, apply, linear};

/// The extractor's size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CnnConfig {
    /// One convolution branch per kernel size (odd sizes keep the sequence length).
    pub kernel_sizes: Vec<usize>,
    /// Output channels of each branch.
    pub channels: usize,
    /// Width of the sequence the extractor returns.
    pub model_dim: usize,
    pub heads: usize,
    pub dropout: f32,
}

impl Default for CnnConfig {
    fn default() -> Self {
        Self { kernel_sizes: vec![3, 5, 7, 11], channels: 32, model_dim: 64, heads: 4, dropout: 0.1 }
    }
}

impl CnnConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.kernel_sizes.is_empty() {
            return Err("kernel_sizes: name at least one kernel size".into());
        }
        if let Some(k) = self.kernel_sizes.iter().find(|k| **k % 2 == 0) {
            return Err(format!("kernel_sizes: {k} is even; odd kernels keep the sequence length"));
        }
        if self.channels == 0 || self.model_dim == 0 {
            return Err("channels and model_dim must be positive".into());
        }
        if self.heads == 0 || !self.model_dim.is_multiple_of(self.heads) {
            return Err(format!("heads: {} does not divide model_dim {}", self.heads, self.model_dim));
        }
        check_dropout(self.dropout)
    }
}

pub(crate) fn check_dropout(p: f32) -> std::result::Result<(), String> {
    if (0.0..1.0).contains(&p) { Ok(()) } else { Err(format!("dropout must be in [0, 1), got {p}")) }
}

#[derive(Clone, Debug)]
pub struct CnnExtractor {
    branches: Vec<SameConv1d>,
    merge: Linear,
    input_skip: Linear,
    norm_conv: LayerNorm,
    attention: MultiHeadAttention,
    norm_attention: LayerNorm,
    feed_in: Linear,
    feed_out: Linear,
    norm_feed: LayerNorm,
    dropout: Dropout,
}

impl CnnExtractor {
    pub fn new(config: &CnnConfig, inputs: usize, rng: &DropoutRng, params: &ParamFactory) -> Result<Self> {
        config.validate().map_err(ModelError::Data)?;
        let d = config.model_dim;
        let branches = config
            .kernel_sizes
            .iter()
            .map(|&k| SameConv1d::new(inputs, config.channels, k, &params.sub(&format!("conv{k}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            merge: linear(config.channels * branches.len(), d, &params.sub("merge"))?,
            branches,
            input_skip: linear(inputs, d, &params.sub("input_skip"))?,
            norm_conv: LayerNorm::new(d, &params.sub("norm_conv"))?,
            attention: MultiHeadAttention::new(d, config.heads, config.dropout, rng, &params.sub("attention"))?,
            norm_attention: LayerNorm::new(d, &params.sub("norm_attention"))?,
            feed_in: linear(d, 2 * d, &params.sub("feed_in"))?,
            feed_out: linear(2 * d, d, &params.sub("feed_out"))?,
            norm_feed: LayerNorm::new(d, &params.sub("norm_feed"))?,
            dropout: Dropout::new(config.dropout, rng),
        })
    }

    /// `x` [batch, time, features] -> [batch, time, model_dim].
    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        let channels_first = x.transpose(1, 2)?.contiguous()?;
        let branches =
            self.branches.iter().map(|conv| Ok(conv.forward(&channels_first)?.gelu()?)).collect::<Result<Vec<_>>>()?;
        let patterns = Tensor::cat(&branches, 1)?.transpose(1, 2)?.contiguous()?;
        let h = self.norm_conv.forward(&(apply(&self.merge, &patterns)? + apply(&self.input_skip, x)?)?)?;
        let attended = self.dropout.forward(&self.attention.forward(&h, &h, mode)?, mode)?;
        let h = self.norm_attention.forward(&(h + attended)?)?;
        let fed = apply(&self.feed_out, &apply(&self.feed_in, &h)?.gelu()?)?;
        let fed = self.dropout.forward(&fed, mode)?;
        self.norm_feed.forward(&(h + fed)?)
    }
}

/// Mean over time and the last step, side by side: [batch, time, d] -> [batch, 2d].
pub fn summarise_sequence(seq: &Tensor) -> Result<Tensor> {
    let steps = seq.dim(1)?;
    let mean = seq.mean(1)?;
    let last = seq.narrow(1, steps - 1, 1)?.squeeze(1)?;
    Ok(Tensor::cat(&[mean, last], D::Minus1)?)
}
