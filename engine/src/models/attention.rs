//! Attention for training: multi-head (self and cross) attention built from linear layers,
//! matmul and the differentiable softmax, and attention pooling over time steps.

use candle_core::{D, Tensor};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

use super::error::{ModelError, Result};
use super::fused_ops::softmax_last_dim;
use super::layers::{Dropout, DropoutRng, ForwardMode, Init, ParamFactory, apply, linear, matmul_last};

/// Multi-head scaled dot-product attention. Candle's `sdpa` and flash kernels have no
/// backward pass, so this is the plain formulation.
#[derive(Clone, Debug)]
pub struct MultiHeadAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    heads: usize,
    head_dim: usize,
    dropout: Dropout,
}

impl MultiHeadAttention {
    pub fn new(model_dim: usize, heads: usize, dropout: f32, rng: &DropoutRng, params: &ParamFactory) -> Result<Self> {
        if heads == 0 || !model_dim.is_multiple_of(heads) {
            return Err(ModelError::Data(format!("attention: {model_dim} dimensions do not split into {heads} heads")));
        }
        Ok(Self {
            query: linear(model_dim, model_dim, &params.sub("query"))?,
            key: linear(model_dim, model_dim, &params.sub("key"))?,
            value: linear(model_dim, model_dim, &params.sub("value"))?,
            output: linear(model_dim, model_dim, &params.sub("output"))?,
            heads,
            head_dim: model_dim / heads,
            dropout: Dropout::new(dropout, rng),
        })
    }

    /// `queries` [batch, tq, dim] attend over `context` [batch, tk, dim]; self-attention when
    /// both are the same sequence.
    pub fn forward(&self, queries: &Tensor, context: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        let (batch, tq, dim) = queries.dims3()?;
        let tk = context.dim(1)?;
        let split = |x: Tensor, steps: usize| -> Result<Tensor> {
            Ok(x.reshape((batch, steps, self.heads, self.head_dim))?.transpose(1, 2)?.contiguous()?)
        };
        let q = split(apply(&self.query, queries)?, tq)?;
        let k = split(apply(&self.key, context)?, tk)?;
        let v = split(apply(&self.value, context)?, tk)?;
        let scores = (q.matmul(&k.t()?.contiguous()?)? / (self.head_dim as f64).sqrt())?;
        let weights = self.dropout.forward(&softmax_last_dim(&scores)?, mode)?;
        let mixed = weights.matmul(&v)?.transpose(1, 2)?.reshape((batch, tq, dim))?;
        apply(&self.output, &mixed)
    }
}

/// How time steps are scored when pooling a sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    /// Bahdanau: score = vᵀ tanh(W h + b).
    #[default]
    Additive,
    /// Luong: score = qᵀ h / √d with a learned query.
    Dot,
}

/// Attention pooling: a weighted sum over time, the weights learned from each step.
#[derive(Clone, Debug)]
pub struct TemporalAttention {
    kind: AttentionKind,
    hidden: Option<Linear>,
    score: Tensor,
    dim: usize,
}

impl TemporalAttention {
    pub fn new(kind: AttentionKind, dim: usize, params: &ParamFactory) -> Result<Self> {
        let bound = 1.0 / (dim as f64).sqrt();
        Ok(match kind {
            AttentionKind::Additive => Self {
                kind,
                hidden: Some(linear(dim, dim, &params.sub("hidden"))?),
                score: params.get("score", &[dim, 1], Init::Uniform(bound))?,
                dim,
            },
            AttentionKind::Dot => {
                Self { kind, hidden: None, score: params.get("query", &[dim, 1], Init::Uniform(bound))?, dim }
            }
        })
    }

    /// Pools `seq` [batch, time, dim] into [batch, dim]; also returns the weights [batch, time].
    pub fn forward(&self, seq: &Tensor) -> Result<(Tensor, Tensor)> {
        let scores = match (&self.kind, &self.hidden) {
            (AttentionKind::Additive, Some(hidden)) => {
                matmul_last(&super::fused_ops::tanh(&apply(hidden, seq)?)?, &self.score)?
            }
            _ => (matmul_last(seq, &self.score)? / (self.dim as f64).sqrt())?,
        };
        let weights = softmax_last_dim(&scores.squeeze(D::Minus1)?)?;
        let pooled = weights.unsqueeze(1)?.matmul(seq)?.squeeze(1)?;
        Ok((pooled, weights))
    }
}
