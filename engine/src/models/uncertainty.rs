//! Predictions with uncertainty: Monte Carlo dropout (N stochastic passes run as one batch,
//! mean and standard deviation per output) and the fused features the RL environment observes.

use candle_core::{D, Tensor};

use super::error::{ModelError, Result};
use super::hybrid::ModelOutput;
use super::layers::ForwardMode;
use super::network::{CLASSES, Network};

/// Class probabilities and returns per sample, with their spread over the MC passes (zero
/// when deterministic).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prediction {
    pub probabilities: Vec<[f64; CLASSES]>,
    pub probability_std: Vec<[f64; CLASSES]>,
    /// Predicted log returns (unscaled), one per return step.
    pub returns: Vec<Vec<f64>>,
    pub return_std: Vec<Vec<f64>>,
}

/// The hybrid's fused feature vectors [batch, fused_dim] and their spread over MC passes.
#[derive(Clone, Debug)]
pub struct FusedFeatures {
    pub mean: Tensor,
    pub std: Tensor,
}

/// One forward pass of `passes` dropout samples of every window (the batch repeated `passes`
/// times, so a single pass draws them all), or one deterministic pass when `passes` <= 1.
fn forward_samples(network: &Network, x: &Tensor, passes: usize, seed: u64) -> Result<(ModelOutput, usize)> {
    if passes <= 1 {
        return Ok((network.forward(x, ForwardMode::Eval)?, 1));
    }
    network.reseed_dropout(seed);
    Ok((network.forward(&x.repeat((passes, 1, 1))?, ForwardMode::McDropout)?, passes))
}

/// Mean and standard deviation over the passes of `out` [passes·batch, width].
fn mean_std(out: &Tensor, passes: usize) -> Result<(Tensor, Tensor)> {
    if passes <= 1 {
        return Ok((out.clone(), out.zeros_like()?));
    }
    let (rows, width) = out.dims2()?;
    let samples = out.reshape((passes, rows / passes, width))?;
    let mean = samples.mean(0)?;
    let std = samples.broadcast_sub(&mean.unsqueeze(0)?)?.sqr()?.mean(0)?.sqrt()?;
    Ok((mean, std))
}

/// Predicts windows `x` [batch, window, features]; `passes` > 1 turns on MC dropout with a
/// seeded generator (same seed, same numbers). `return_scale` undoes the target scaling.
pub fn predict(network: &Network, x: &Tensor, passes: usize, seed: u64, return_scale: f64) -> Result<Prediction> {
    let (out, passes) = forward_samples(network, x, passes, seed)?;
    let (p_mean, p_std) = mean_std(&candle_nn::ops::softmax(&out.class_logits, D::Minus1)?, passes)?;
    let (r_mean, r_std) = mean_std(&out.returns, passes)?;
    let to3 = |rows: Vec<Vec<f32>>| -> Vec<[f64; CLASSES]> {
        rows.iter().map(|r| [f64::from(r[0]), f64::from(r[1]), f64::from(r[2])]).collect()
    };
    let scale = |rows: Vec<Vec<f32>>| -> Vec<Vec<f64>> {
        rows.iter().map(|r| r.iter().map(|v| f64::from(*v) * return_scale).collect()).collect()
    };
    Ok(Prediction {
        probabilities: to3(p_mean.to_vec2()?),
        probability_std: to3(p_std.to_vec2()?),
        returns: scale(r_mean.to_vec2()?),
        return_std: scale(r_std.to_vec2()?),
    })
}

/// The 256-dimensional fused features of the hybrid (or the ensemble's weighted mix) with
/// their MC-dropout spread: the observation the RL environment can use.
pub fn fused_features(network: &Network, x: &Tensor, passes: usize, seed: u64) -> Result<FusedFeatures> {
    let (out, passes) = forward_samples(network, x, passes, seed)?;
    let fused = out.fused.ok_or_else(|| {
        ModelError::Data(format!(
            "the `{}` architecture has no fused features; use hybrid or ensemble",
            network.config.name()
        ))
    })?;
    let (mean, std) = mean_std(&fused, passes)?;
    Ok(FusedFeatures { mean, std })
}
