//! The multi-task loss: class-weighted cross-entropy on the buy/hold/sell head plus a Huber
//! loss on the return head, weighted and summed.

use candle_core::{D, Tensor};

use super::error::Result;
use super::hybrid::ModelOutput;

/// How the two heads' losses combine.
#[derive(Clone, Debug, PartialEq)]
pub struct LossWeights {
    pub class: f64,
    pub returns: f64,
    pub huber_delta: f64,
    /// Per-class weights for the cross-entropy (sell, hold, buy), from the training split.
    pub class_weights: [f32; 3],
}

/// The loss of one batch: the total that is minimised and each head's part.
pub struct LossParts {
    pub total: Tensor,
    pub class: Tensor,
    pub returns: Tensor,
}

/// `one_hot` [batch, 3] of the true classes; `target_returns` [batch, steps], scaled as the
/// model predicts them. Cross-entropy is the weighted mean PyTorch computes:
/// Σ w_y · (−log p_y) / Σ w_y.
pub fn multitask_loss(
    out: &ModelOutput,
    one_hot: &Tensor,
    target_returns: &Tensor,
    weights: &LossWeights,
) -> Result<LossParts> {
    let device = one_hot.device();
    let class_w = Tensor::from_slice(&weights.class_weights, (1, 3), device)?;
    let sample_w = one_hot.broadcast_mul(&class_w)?.sum(D::Minus1)?;
    let log_p = candle_nn::ops::log_softmax(&out.class_logits, D::Minus1)?;
    let nll = (log_p * one_hot)?.sum(D::Minus1)?.neg()?;
    let class = ((nll * &sample_w)?.sum_all()? / sample_w.sum_all()?)?;
    let returns = huber(&out.returns, target_returns, weights.huber_delta)?;
    let total = ((&class * weights.class)? + (&returns * weights.returns)?)?;
    Ok(LossParts { total, class, returns })
}

/// Mean Huber loss: ½e² inside ±δ, δ(|e| − ½δ) outside, written as ½q² + δ(|e| − q) with
/// q = min(|e|, δ) so it stays differentiable everywhere.
pub fn huber(prediction: &Tensor, target: &Tensor, delta: f64) -> Result<Tensor> {
    let abs = (prediction - target)?.abs()?;
    let q = abs.clamp(0.0, delta)?;
    let loss = ((q.sqr()? * 0.5)? + ((abs - &q)? * delta)?)?;
    Ok(loss.mean_all()?)
}
