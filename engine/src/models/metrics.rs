//! Classification and calibration metrics for the buy/hold/sell head and the return head:
//! accuracy, balanced accuracy, macro-F1, MCC, directional accuracy, Brier score and ECE.

use serde::{Deserialize, Serialize};

use super::network::CLASSES;

/// The figures logged per epoch and reported for the test split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub samples: usize,
    pub accuracy: f64,
    /// Mean recall over the classes present in the truth (scikit-learn's definition).
    pub balanced_accuracy: f64,
    /// Unweighted mean of per-class F1 over the classes in truth or prediction.
    pub macro_f1: f64,
    /// Multiclass Matthews correlation (Gorodkin's R_K, as scikit-learn computes it).
    pub mcc: f64,
    /// Share of samples with a non-zero realised return whose predicted return has its sign.
    pub directional_accuracy: f64,
    /// Multiclass Brier score: mean over samples of Σ_k (p_k − y_k)², in [0, 2].
    pub brier: f64,
    /// Expected calibration error of the top-class confidence over 15 equal-width bins.
    pub ece: f64,
}

/// Confusion matrix: rows are true classes, columns predicted.
pub fn confusion(truth: &[usize], predicted: &[usize]) -> [[u64; CLASSES]; CLASSES] {
    let mut m = [[0u64; CLASSES]; CLASSES];
    for (&t, &p) in truth.iter().zip(predicted) {
        if t < CLASSES && p < CLASSES {
            m[t][p] += 1;
        }
    }
    m
}

pub fn accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    if truth.is_empty() {
        return f64::NAN;
    }
    truth.iter().zip(predicted).filter(|(t, p)| t == p).count() as f64 / truth.len() as f64
}

pub fn balanced_accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    let m = confusion(truth, predicted);
    let recalls: Vec<f64> = (0..CLASSES)
        .filter_map(|k| {
            let support: u64 = m[k].iter().sum();
            (support > 0).then(|| m[k][k] as f64 / support as f64)
        })
        .collect();
    if recalls.is_empty() { f64::NAN } else { recalls.iter().sum::<f64>() / recalls.len() as f64 }
}

pub fn macro_f1(truth: &[usize], predicted: &[usize]) -> f64 {
    let m = confusion(truth, predicted);
    let mut scores = Vec::new();
    for (k, row) in m.iter().enumerate() {
        let tp = row[k] as f64;
        let actual: u64 = row.iter().sum();
        let called: u64 = (0..CLASSES).map(|r| m[r][k]).sum();
        if actual == 0 && called == 0 {
            continue;
        }
        let denominator = actual as f64 + called as f64;
        scores.push(if denominator == 0.0 { 0.0 } else { 2.0 * tp / denominator });
    }
    if scores.is_empty() { f64::NAN } else { scores.iter().sum::<f64>() / scores.len() as f64 }
}

pub fn matthews(truth: &[usize], predicted: &[usize]) -> f64 {
    let m = confusion(truth, predicted);
    let s: f64 = m.iter().flatten().sum::<u64>() as f64;
    let c: f64 = (0..CLASSES).map(|k| m[k][k] as f64).sum();
    let t: Vec<f64> = (0..CLASSES).map(|k| m[k].iter().sum::<u64>() as f64).collect();
    let p: Vec<f64> = (0..CLASSES).map(|k| (0..CLASSES).map(|r| m[r][k]).sum::<u64>() as f64).collect();
    let tp: f64 = t.iter().zip(&p).map(|(a, b)| a * b).sum();
    let cov_pp = s * s - p.iter().map(|x| x * x).sum::<f64>();
    let cov_tt = s * s - t.iter().map(|x| x * x).sum::<f64>();
    if cov_pp == 0.0 || cov_tt == 0.0 {
        return 0.0;
    }
    (c * s - tp) / (cov_tt * cov_pp).sqrt()
}

pub fn directional_accuracy(predicted_returns: &[f64], realised_returns: &[f64]) -> f64 {
    let (mut hit, mut total) = (0usize, 0usize);
    for (&p, &r) in predicted_returns.iter().zip(realised_returns) {
        if r == 0.0 || !r.is_finite() || !p.is_finite() {
            continue;
        }
        total += 1;
        if (p > 0.0) == (r > 0.0) {
            hit += 1;
        }
    }
    if total == 0 { f64::NAN } else { hit as f64 / total as f64 }
}

pub fn brier(probabilities: &[[f64; CLASSES]], truth: &[usize]) -> f64 {
    if truth.is_empty() {
        return f64::NAN;
    }
    let total: f64 = probabilities
        .iter()
        .zip(truth)
        .map(|(p, &t)| (0..CLASSES).map(|k| (p[k] - if k == t { 1.0 } else { 0.0 }).powi(2)).sum::<f64>())
        .sum();
    total / truth.len() as f64
}

/// ECE over `bins` equal-width confidence bins: Σ_b (n_b / n) |accuracy_b − confidence_b|.
pub fn expected_calibration_error(probabilities: &[[f64; CLASSES]], truth: &[usize], bins: usize) -> f64 {
    if truth.is_empty() || bins == 0 {
        return f64::NAN;
    }
    let mut count = vec![0usize; bins];
    let mut correct = vec![0.0f64; bins];
    let mut confidence = vec![0.0f64; bins];
    for (p, &t) in probabilities.iter().zip(truth) {
        let (top, conf) = argmax(p);
        // Bins are (lo, hi]; a confidence of exactly 0 joins the first.
        let b = ((conf * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        confidence[b] += conf;
        if top == t {
            correct[b] += 1.0;
        }
    }
    let n = truth.len() as f64;
    (0..bins).filter(|&b| count[b] > 0).map(|b| (correct[b] - confidence[b]).abs() / n).sum()
}

/// The most likely class and its probability (the first on ties).
pub fn argmax(p: &[f64; CLASSES]) -> (usize, f64) {
    let mut best = (0, p[0]);
    for (k, &v) in p.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (k, v);
        }
    }
    best
}

/// Every figure at once.
pub fn report(
    probabilities: &[[f64; CLASSES]],
    truth: &[usize],
    predicted_returns: &[f64],
    realised_returns: &[f64],
) -> ClassificationReport {
    let predicted: Vec<usize> = probabilities.iter().map(|p| argmax(p).0).collect();
    ClassificationReport {
        samples: truth.len(),
        accuracy: accuracy(truth, &predicted),
        balanced_accuracy: balanced_accuracy(truth, &predicted),
        macro_f1: macro_f1(truth, &predicted),
        mcc: matthews(truth, &predicted),
        directional_accuracy: directional_accuracy(predicted_returns, realised_returns),
        brier: brier(probabilities, truth),
        ece: expected_calibration_error(probabilities, truth, 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_constant_predictions() {
        let truth = [0, 1, 2, 2, 1, 0];
        assert_eq!(accuracy(&truth, &truth), 1.0);
        assert_eq!(matthews(&truth, &truth), 1.0);
        assert_eq!(macro_f1(&truth, &truth), 1.0);
        let constant = [2; 6];
        assert_eq!(matthews(&truth, &constant), 0.0);
        assert!((balanced_accuracy(&truth, &constant) - 1.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn calibration_of_a_confident_wrong_model_is_bad() {
        let probs = [[0.0, 0.0, 1.0]; 4];
        let truth = [0, 0, 0, 0];
        assert!((expected_calibration_error(&probs, &truth, 15) - 1.0).abs() < 1e-12);
        assert!((brier(&probs, &truth) - 2.0).abs() < 1e-12);
    }
}
