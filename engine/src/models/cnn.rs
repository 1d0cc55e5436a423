//! The CNN feature extractor: parallel 1-D convolutions (kernels 3, 5, 7, 11 by default),
//! multi-head self-attention over time, residual connections and layer normalisation.

use candle_core::{D, Tensor};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

use super::attention::MultiHeadAttention;
use super::error::{ModelError, Result};
use super::fused_ops::gelu;
use super::layers::{Dropout, DropoutRng, ForwardMode, Init, LayerNorm, ParamFactory, apply, linear};

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

/// The parallel convolution branches, computed as one matrix product: the input is unfolded
/// once for the longest kernel and each branch's kernel is zero-padded to that length (the
/// padding is a constant, so only real weights learn). Candle's conv1d and its backward pass
/// (through conv_transpose1d) were a third of the hybrid's training time.
#[derive(Clone, Debug)]
pub struct ConvBank {
    weights: Vec<Tensor>,
    biases: Vec<Tensor>,
    kernels: Vec<usize>,
    longest: usize,
    channels: usize,
}

impl ConvBank {
    pub fn new(inputs: usize, channels: usize, kernels: &[usize], params: &ParamFactory) -> Result<Self> {
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        for &k in kernels {
            let branch = params.sub(&format!("conv{k}"));
            let bound = 1.0 / ((inputs * k) as f64).sqrt();
            weights.push(branch.get("weight", &[channels, inputs, k], Init::Uniform(bound))?);
            biases.push(branch.get("bias", &[channels], Init::Uniform(bound))?);
        }
        let longest = kernels.iter().copied().max().unwrap_or(1);
        Ok(Self { weights, biases, kernels: kernels.to_vec(), longest, channels })
    }

    /// `x` [batch, time, features] -> every branch's output side by side [batch, time,
    /// branches·channels], each the same-length (zero-padded) convolution of its kernel.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, steps, features) = x.dims3()?;
        let k = self.longest;
        let padded = x.pad_with_zeros(1, k / 2, k / 2)?;
        let taps = (0..k).map(|j| padded.narrow(1, j, steps)).collect::<candle_core::Result<Vec<_>>>()?;
        let unfolded = Tensor::stack(&taps, 2)?.reshape((batch * steps, k * features))?;
        let kernels = self
            .weights
            .iter()
            .zip(&self.kernels)
            .map(|(w, &len)| w.pad_with_zeros(2, (k - len) / 2, (k - len) / 2))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let outputs = self.channels * self.weights.len();
        let bank = Tensor::cat(&kernels, 0)?.permute((0, 2, 1))?.reshape((outputs, k * features))?;
        let bias = Tensor::cat(&self.biases, 0)?;
        Ok(unfolded.matmul(&bank.t()?)?.broadcast_add(&bias)?.reshape((batch, steps, outputs))?)
    }
}

#[derive(Clone, Debug)]
pub struct CnnExtractor {
    convolutions: ConvBank,
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
        Ok(Self {
            convolutions: ConvBank::new(inputs, config.channels, &config.kernel_sizes, params)?,
            merge: linear(config.channels * config.kernel_sizes.len(), d, &params.sub("merge"))?,
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
        let patterns = gelu(&self.convolutions.forward(x)?)?;
        let h = self.norm_conv.forward(&(apply(&self.merge, &patterns)? + apply(&self.input_skip, x)?)?)?;
        let attended = self.dropout.forward(&self.attention.forward(&h, &h, mode)?, mode)?;
        let h = self.norm_attention.forward(&(h + attended)?)?;
        let fed = apply(&self.feed_out, &gelu(&apply(&self.feed_in, &h)?)?)?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use candle_core::{Device, Module, Tensor};
    use candle_nn::{Conv1d, Conv1dConfig, VarMap};

    use super::ConvBank;
    use crate::models::layers::ParamFactory;

    /// The bank equals Candle's own zero-padded conv1d for every branch, side by side.
    #[test]
    fn conv_bank_equals_separate_padded_convolutions() {
        let params = ParamFactory::new(VarMap::new(), 1, Device::Cpu);
        let kernels = [3, 5, 7, 11];
        let bank = ConvBank::new(4, 6, &kernels, &params).unwrap();
        let x = Tensor::randn(0f32, 1.0, (2, 13, 4), &Device::Cpu).unwrap();
        let ours = bank.forward(&x).unwrap();
        let channels_first = x.transpose(1, 2).unwrap().contiguous().unwrap();
        let reference: Vec<Tensor> = kernels
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let config = Conv1dConfig { padding: k / 2, stride: 1, dilation: 1, groups: 1, cudnn_fwd_algo: None };
                let conv = Conv1d::new(bank.weights[i].clone(), Some(bank.biases[i].clone()), config);
                conv.forward(&channels_first).unwrap().transpose(1, 2).unwrap()
            })
            .collect();
        let reference = Tensor::cat(&reference, 2).unwrap();
        let diff = (ours - reference).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
    }
}
