//! The CNN+LSTM hybrid (both branches fused by cross-attention into a 256-dimensional vector,
//! a buy/hold/sell head and a return head) and the ensemble of hybrids with learned weights.

use candle_core::{D, Tensor};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

use super::attention::{MultiHeadAttention, TemporalAttention};
use super::cnn::{CnnConfig, CnnExtractor, check_dropout};
use super::error::{ModelError, Result};
use super::fused_ops::{gelu, softmax_last_dim};
use super::layers::{Dropout, DropoutRng, ForwardMode, Init, LayerNorm, ParamFactory, apply, linear};
use super::lstm::{BiLstmEncoder, LstmConfig};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HybridConfig {
    pub cnn: CnnConfig,
    pub lstm: LstmConfig,
    /// Heads of the cross-attention in which the LSTM's steps query the CNN's patterns.
    pub fusion_heads: usize,
    /// Width of the fused feature vector (256 in the design; the RL observation).
    pub fused_dim: usize,
    /// Dropout on the fused vector (what MC dropout samples).
    pub dropout: f32,
}

impl Default for HybridConfig {
    fn default() -> Self {
        Self { cnn: CnnConfig::default(), lstm: LstmConfig::default(), fusion_heads: 4, fused_dim: 256, dropout: 0.2 }
    }
}

impl HybridConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.cnn.validate().map_err(|e| format!("cnn.{e}"))?;
        self.lstm.validate().map_err(|e| format!("lstm.{e}"))?;
        if self.cnn.model_dim != self.lstm.model_dim {
            return Err(format!(
                "cnn.model_dim ({}) and lstm.model_dim ({}) must be equal for the cross-attention",
                self.cnn.model_dim, self.lstm.model_dim
            ));
        }
        if self.fusion_heads == 0 || !self.cnn.model_dim.is_multiple_of(self.fusion_heads) {
            return Err(format!(
                "fusion_heads: {} does not divide model_dim {}",
                self.fusion_heads, self.cnn.model_dim
            ));
        }
        if self.fused_dim == 0 {
            return Err("fused_dim must be positive".into());
        }
        check_dropout(self.dropout)
    }
}

/// One pass of a model: class logits [batch, 3], predicted (scaled) returns
/// [batch, return steps] and, for the hybrid and the ensemble, the fused features.
#[derive(Clone, Debug)]
pub struct ModelOutput {
    pub class_logits: Tensor,
    pub returns: Tensor,
    pub fused: Option<Tensor>,
}

#[derive(Clone, Debug)]
pub struct Hybrid {
    cnn: CnnExtractor,
    lstm: BiLstmEncoder,
    cross: MultiHeadAttention,
    norm_cross: LayerNorm,
    pool: TemporalAttention,
    fuse: Linear,
    classifier: Linear,
    regressor: Linear,
    dropout: Dropout,
}

impl Hybrid {
    pub fn new(
        config: &HybridConfig,
        inputs: usize,
        return_steps: usize,
        rng: &DropoutRng,
        params: &ParamFactory,
    ) -> Result<Self> {
        config.validate().map_err(ModelError::Data)?;
        let d = config.cnn.model_dim;
        Ok(Self {
            cnn: CnnExtractor::new(&config.cnn, inputs, rng, &params.sub("cnn"))?,
            lstm: BiLstmEncoder::new(&config.lstm, inputs, rng, &params.sub("lstm"))?,
            cross: MultiHeadAttention::new(d, config.fusion_heads, config.cnn.dropout, rng, &params.sub("cross"))?,
            norm_cross: LayerNorm::new(d, &params.sub("norm_cross"))?,
            pool: TemporalAttention::new(config.lstm.attention, d, &params.sub("fused_pool"))?,
            fuse: linear(4 * d, config.fused_dim, &params.sub("fuse"))?,
            classifier: linear(config.fused_dim, 3, &params.sub("classifier"))?,
            regressor: linear(config.fused_dim, return_steps, &params.sub("regressor"))?,
            dropout: Dropout::new(config.dropout, rng),
        })
    }

    /// The fused feature vector [batch, fused_dim] before the heads.
    pub fn fused(&self, x: &Tensor, mode: ForwardMode) -> Result<Tensor> {
        let patterns = self.cnn.forward(x, mode)?;
        let encoded = self.lstm.forward(x, mode)?;
        let crossed = self.cross.forward(&encoded.seq, &patterns, mode)?;
        let fused_seq = self.norm_cross.forward(&(&encoded.seq + self.dropout.forward(&crossed, mode)?)?)?;
        let (pooled, _) = self.pool.forward(&fused_seq)?;
        let steps = fused_seq.dim(1)?;
        let last = fused_seq.narrow(1, steps - 1, 1)?.squeeze(1)?;
        let summary = Tensor::cat(&[pooled, encoded.context, patterns.mean(1)?, last], D::Minus1)?;
        self.dropout.forward(&gelu(&apply(&self.fuse, &summary)?)?, mode)
    }

    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<ModelOutput> {
        let fused = self.fused(x, mode)?;
        Ok(ModelOutput {
            class_logits: apply(&self.classifier, &fused)?,
            returns: apply(&self.regressor, &fused)?,
            fused: Some(fused),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleConfig {
    pub members: usize,
    pub member: HybridConfig,
}

impl Default for EnsembleConfig {
    fn default() -> Self {
        Self { members: 3, member: HybridConfig::default() }
    }
}

/// Hybrids trained together, combined with softmax-normalised learned weights: class
/// probabilities, returns and fused features are weighted averages of the members'.
#[derive(Clone, Debug)]
pub struct Ensemble {
    members: Vec<Hybrid>,
    weight_logits: Tensor,
}

impl Ensemble {
    pub fn new(
        config: &EnsembleConfig,
        inputs: usize,
        return_steps: usize,
        rng: &DropoutRng,
        params: &ParamFactory,
    ) -> Result<Self> {
        if config.members < 2 {
            return Err(ModelError::Data(format!("ensemble: members must be at least 2, got {}", config.members)));
        }
        let members = (0..config.members)
            .map(|k| Hybrid::new(&config.member, inputs, return_steps, rng, &params.sub(&format!("member{k}"))))
            .collect::<Result<Vec<_>>>()?;
        let weight_logits = params.get("combination", &[config.members], Init::Const(0.0))?;
        Ok(Self { members, weight_logits })
    }

    /// The members' current combination weights (they sum to 1).
    pub fn weights(&self) -> Result<Vec<f32>> {
        Ok(candle_nn::ops::softmax(&self.weight_logits, D::Minus1)?.to_vec1()?)
    }

    pub fn forward(&self, x: &Tensor, mode: ForwardMode) -> Result<ModelOutput> {
        let weights = candle_nn::ops::softmax(&self.weight_logits, D::Minus1)?;
        let mut probs: Option<Tensor> = None;
        let mut returns: Option<Tensor> = None;
        let mut fused: Option<Tensor> = None;
        for (k, member) in self.members.iter().enumerate() {
            let out = member.forward(x, mode)?;
            let w = weights.narrow(0, k, 1)?;
            let p = softmax_last_dim(&out.class_logits)?.broadcast_mul(&w)?;
            let r = out.returns.broadcast_mul(&w)?;
            let f = out.fused.ok_or_else(|| ModelError::Data("hybrid member without fused features".into()))?;
            let f = f.broadcast_mul(&w)?;
            probs = Some(match probs {
                Some(acc) => (acc + p)?,
                None => p,
            });
            returns = Some(match returns {
                Some(acc) => (acc + r)?,
                None => r,
            });
            fused = Some(match fused {
                Some(acc) => (acc + f)?,
                None => f,
            });
        }
        let (Some(probs), Some(returns)) = (probs, returns) else {
            return Err(ModelError::Data("ensemble without members".into()));
        };
        // Log-probabilities act as logits: their softmax is the mixture itself.
        Ok(ModelOutput { class_logits: (probs + 1e-7)?.log()?, returns, fused })
    }
}
