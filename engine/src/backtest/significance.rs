//! Statistical significance of a strategy's returns: Sharpe ratio and its bootstrap interval, probabilistic and
//! deflated Sharpe ratios, trade-order and sign-flip permutation tests, and P&L attribution by key.
//!
//! Conventions (matched by the reference script `tests/reference/backtest/gen_significance.py`):
//! - Sharpe ratio = mean / sample standard deviation (ddof = 1) per period; annualised by `sqrt(periods/year)`.
//!   Pass excess returns if a risk-free rate applies.
//! - Skewness and kurtosis are the biased moment ratios `m3 / m2^1.5` and `m4 / m2^2` (scipy's defaults), and the
//!   kurtosis is *not* excess (3 for a normal), as in Bailey & López de Prado's PSR formula.
//! - Every random procedure takes a seed; resample or permutation `b` draws from ChaCha8 seeded with the seed on
//!   stream `b`, so results are identical for any number of rayon threads.
//! - Permutation p-values are `(1 + #as extreme) / (1 + permutations)` (the observed order counts as one
//!   arrangement), so they are never 0.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

// Split into files only to keep them short; explicit paths resolve the same whether this file is reached
// through `mod.rs` or through a `#[path]` include.
#[path = "significance/normal.rs"]
mod normal;
#[path = "significance/trades.rs"]
mod trades;

pub use normal::{normal_cdf, normal_pdf, normal_quantile};
pub use trades::{
    DrawdownBasis, PermutationTest, Summary, attribute, drawdown_permutation_test, max_drawdown, sign_flip_test,
};

/// Euler-Mascheroni constant, used by the expected maximum of Sharpe ratios.
pub const EULER_MASCHERONI: f64 = 0.577_215_664_901_532_9;

/// Invalid input to a significance statistic; every message names the input and the reason.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SignificanceError {
    #[error("`{name}` needs at least {min} values, got {len}")]
    TooShort { name: &'static str, min: usize, len: usize },
    #[error("`{name}[{index}]` is not finite ({value})")]
    NonFinite { name: &'static str, index: usize, value: f64 },
    #[error("`{name}` has zero variance, so its Sharpe ratio is undefined")]
    ZeroVariance { name: &'static str },
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> SignificanceError {
    SignificanceError::InvalidParameter { name, reason: reason.into() }
}

fn check_series(name: &'static str, values: &[f64], min: usize) -> Result<(), SignificanceError> {
    if values.len() < min {
        return Err(SignificanceError::TooShort { name, min, len: values.len() });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(SignificanceError::NonFinite { name, index, value: values[index] }),
        None => Ok(()),
    }
}

fn check_finite(name: &'static str, value: f64) -> Result<(), SignificanceError> {
    if value.is_finite() { Ok(()) } else { Err(invalid(name, format!("must be finite, got {value}"))) }
}

/// Resample or permutation `stream` of `seed`: independent of which thread runs it.
fn stream_rng(seed: u64, stream: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// Sample moments of a return series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReturnMoments {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (ddof = 1).
    pub std: f64,
    /// Biased skewness `m3 / m2^1.5` (scipy `skew(bias=True)`).
    pub skewness: f64,
    /// Biased, non-excess kurtosis `m4 / m2²` (scipy `kurtosis(fisher=False, bias=True)`); 3 for a normal.
    pub kurtosis: f64,
}

impl ReturnMoments {
    /// Per-period Sharpe ratio `mean / std`.
    pub fn sharpe(&self) -> f64 {
        self.mean / self.std
    }
}

/// Moments of `returns` (at least 2 finite values with non-zero variance).
pub fn moments(returns: &[f64]) -> Result<ReturnMoments, SignificanceError> {
    check_series("returns", returns, 2)?;
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for r in returns {
        let d = r - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let std = (m2 / (n - 1.0)).sqrt();
    if is_constant(std, returns) {
        return Err(SignificanceError::ZeroVariance { name: "returns" });
    }
    let (m2, m3, m4) = (m2 / n, m3 / n, m4 / n);
    Ok(ReturnMoments { n: returns.len(), mean, std, skewness: m3 / m2.powf(1.5), kurtosis: m4 / (m2 * m2) })
}

/// A constant series can show a standard deviation of a few ulps (its mean is rounded), which would turn
/// into an absurd Sharpe ratio; anything below 16 ulps of the largest magnitude counts as zero.
fn is_constant(std: f64, values: &[f64]) -> bool {
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    std <= 16.0 * f64::EPSILON * scale
}

/// Sharpe ratio of a resample; NaN when it is constant.
fn resample_sharpe(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let std = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt();
    if is_constant(std, x) { f64::NAN } else { mean / std }
}

/// Per-period Sharpe ratio `mean / std(ddof = 1)`.
pub fn sharpe_ratio(returns: &[f64]) -> Result<f64, SignificanceError> {
    moments(returns).map(|m| m.sharpe())
}

/// Annualised Sharpe ratio `mean / std · sqrt(periods_per_year)` (252 for daily bars, empyrical's convention).
pub fn annualised_sharpe(returns: &[f64], periods_per_year: f64) -> Result<f64, SignificanceError> {
    if !(periods_per_year.is_finite() && periods_per_year > 0.0) {
        return Err(invalid("periods_per_year", format!("must be positive and finite, got {periods_per_year}")));
    }
    Ok(sharpe_ratio(returns)? * periods_per_year.sqrt())
}

/// Asymptotic standard error of a per-period Sharpe ratio (Mertens 2002):
/// `sqrt((1 - γ3·SR + (γ4 - 1)/4·SR²) / (n - 1))`; with γ3 = 0, γ4 = 3 it is Lo's (2002) `sqrt((1 + SR²/2)/(n-1))`.
pub fn sharpe_standard_error(sr: f64, n: usize, skewness: f64, kurtosis: f64) -> Result<f64, SignificanceError> {
    if n < 2 {
        return Err(invalid("n", format!("needs at least 2 observations, got {n}")));
    }
    for (name, v) in [("sr", sr), ("skewness", skewness), ("kurtosis", kurtosis)] {
        check_finite(name, v)?;
    }
    let var = 1.0 - skewness * sr + (kurtosis - 1.0) / 4.0 * sr * sr;
    if var <= 0.0 {
        return Err(invalid("kurtosis", format!("1 - γ3·SR + (γ4-1)/4·SR² = {var} is not positive")));
    }
    Ok((var / (n as f64 - 1.0)).sqrt())
}

// ------------------------------------------------------------------------------------------------ PSR and DSR

/// Probabilistic Sharpe ratio (Bailey & López de Prado 2012): `Φ((SR - SR*)·sqrt(n-1) /
/// sqrt(1 - γ3·SR + (γ4-1)/4·SR²))`, the probability that the true Sharpe ratio exceeds `sr_benchmark`.
/// `sr` and `sr_benchmark` are per period (not annualised); `kurtosis` is non-excess.
pub fn probabilistic_sharpe_ratio(
    sr: f64,
    sr_benchmark: f64,
    n: usize,
    skewness: f64,
    kurtosis: f64,
) -> Result<f64, SignificanceError> {
    check_finite("sr_benchmark", sr_benchmark)?;
    let se = sharpe_standard_error(sr, n, skewness, kurtosis)?;
    Ok(normal_cdf((sr - sr_benchmark) / se))
}

/// [`probabilistic_sharpe_ratio`] of a return series against a per-period benchmark Sharpe ratio.
pub fn probabilistic_sharpe(returns: &[f64], sr_benchmark: f64) -> Result<f64, SignificanceError> {
    let m = moments(returns)?;
    probabilistic_sharpe_ratio(m.sharpe(), sr_benchmark, m.n, m.skewness, m.kurtosis)
}

/// Expected maximum of `n_trials` Sharpe ratios with true value 0 and cross-trial variance
/// `trial_sharpe_variance` (Bailey & López de Prado 2014):
/// `sqrt(V)·((1-γ)·Φ⁻¹(1 - 1/N) + γ·Φ⁻¹(1 - 1/(N·e)))`, γ the Euler-Mascheroni constant.
pub fn expected_max_sharpe(n_trials: usize, trial_sharpe_variance: f64) -> Result<f64, SignificanceError> {
    if n_trials < 2 {
        return Err(invalid(
            "n_trials",
            format!("needs at least 2 trials, got {n_trials} (with one trial use the PSR against 0)"),
        ));
    }
    if !(trial_sharpe_variance.is_finite() && trial_sharpe_variance >= 0.0) {
        return Err(invalid(
            "trial_sharpe_variance",
            format!("must be finite and non-negative, got {trial_sharpe_variance}"),
        ));
    }
    let n = n_trials as f64;
    let g = EULER_MASCHERONI;
    let z = (1.0 - g) * normal_quantile(1.0 - 1.0 / n) + g * normal_quantile(1.0 - 1.0 / (n * std::f64::consts::E));
    Ok(trial_sharpe_variance.sqrt() * z)
}

/// Deflated Sharpe ratio (Bailey & López de Prado 2014): the PSR against the expected maximum Sharpe ratio of
/// `n_trials` unskilled trials. All Sharpe quantities per period; `kurtosis` non-excess.
pub fn deflated_sharpe_ratio(
    sr: f64,
    n: usize,
    skewness: f64,
    kurtosis: f64,
    n_trials: usize,
    trial_sharpe_variance: f64,
) -> Result<f64, SignificanceError> {
    let sr0 = expected_max_sharpe(n_trials, trial_sharpe_variance)?;
    probabilistic_sharpe_ratio(sr, sr0, n, skewness, kurtosis)
}

/// The deflated Sharpe ratio of a selected strategy, with its ingredients.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeflatedSharpe {
    /// Per-period Sharpe ratio of the selected strategy.
    pub sharpe: f64,
    /// `SR0`, the expected maximum Sharpe ratio of the trials under no skill.
    pub expected_max_sharpe: f64,
    pub n_trials: usize,
    /// Sample variance (ddof = 1) of the trial Sharpe ratios.
    pub trial_sharpe_variance: f64,
    /// `PSR(SR0)`.
    pub deflated_sharpe_ratio: f64,
}

/// DSR of `returns` (the selected strategy) given the per-period Sharpe ratios of every trial run, the selected
/// one included; `V[SR]` is their sample variance (ddof = 1, as pandas' `std()` in López de Prado's code).
pub fn deflated_sharpe(returns: &[f64], trial_sharpes: &[f64]) -> Result<DeflatedSharpe, SignificanceError> {
    check_series("trial_sharpes", trial_sharpes, 2)?;
    let m = moments(returns)?;
    let k = trial_sharpes.len() as f64;
    let mean = trial_sharpes.iter().sum::<f64>() / k;
    let var = trial_sharpes.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>() / (k - 1.0);
    let sr0 = expected_max_sharpe(trial_sharpes.len(), var)?;
    Ok(DeflatedSharpe {
        sharpe: m.sharpe(),
        expected_max_sharpe: sr0,
        n_trials: trial_sharpes.len(),
        trial_sharpe_variance: var,
        deflated_sharpe_ratio: probabilistic_sharpe_ratio(m.sharpe(), sr0, m.n, m.skewness, m.kurtosis)?,
    })
}

// ------------------------------------------------------------------------------------------------ bootstrap

/// How resamples are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum BootstrapMethod {
    /// Independent draws with replacement; ignores serial dependence.
    Iid,
    /// Politis & Romano (1994) stationary bootstrap: blocks of geometric length with this mean, wrapping around.
    Stationary { mean_block_len: f64 },
    /// Circular block bootstrap with fixed-length blocks.
    CircularBlock { block_len: usize },
}

/// Bootstrap settings. The interval is the percentile interval (numpy's linear interpolation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapSpec {
    pub method: BootstrapMethod,
    pub resamples: usize,
    /// Two-sided confidence level, e.g. 0.95.
    pub confidence: f64,
    pub seed: u64,
}

impl BootstrapSpec {
    /// A 95% interval.
    pub fn new(method: BootstrapMethod, resamples: usize, seed: u64) -> Self {
        Self { method, resamples, confidence: 0.95, seed }
    }

    pub fn with_confidence(self, confidence: f64) -> Self {
        Self { confidence, ..self }
    }
}

/// A bootstrap confidence interval of a per-period statistic (multiply all fields but `degenerate` by
/// `sqrt(periods_per_year)` to annualise a Sharpe interval).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BootstrapInterval {
    /// The statistic on the original series.
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    /// Standard deviation (ddof = 1) of the bootstrap distribution.
    pub std_error: f64,
    pub confidence: f64,
    /// Resamples whose statistic was finite (the interval is built from these).
    pub resamples: usize,
    /// Resamples dropped because the statistic was not finite (e.g. a constant resample's Sharpe ratio).
    pub degenerate: usize,
}

fn check_spec(n: usize, spec: &BootstrapSpec) -> Result<(), SignificanceError> {
    if spec.resamples < 2 {
        return Err(invalid("resamples", format!("needs at least 2, got {}", spec.resamples)));
    }
    if !(spec.confidence > 0.0 && spec.confidence < 1.0) {
        return Err(invalid("confidence", format!("must lie in (0, 1), got {}", spec.confidence)));
    }
    match spec.method {
        BootstrapMethod::Iid => Ok(()),
        BootstrapMethod::Stationary { mean_block_len } if mean_block_len.is_finite() && mean_block_len >= 1.0 => Ok(()),
        BootstrapMethod::Stationary { mean_block_len } => {
            Err(invalid("mean_block_len", format!("must be finite and at least 1, got {mean_block_len}")))
        }
        BootstrapMethod::CircularBlock { block_len } if (1..=n).contains(&block_len) => Ok(()),
        BootstrapMethod::CircularBlock { block_len } => {
            Err(invalid("block_len", format!("must lie in [1, {n}] (the series length), got {block_len}")))
        }
    }
}

/// Fills `out` with one resample of `data`.
fn resample_into(data: &[f64], method: BootstrapMethod, rng: &mut ChaCha8Rng, out: &mut Vec<f64>) {
    let n = data.len();
    out.clear();
    match method {
        BootstrapMethod::Iid => out.extend((0..n).map(|_| data[rng.random_range(0..n)])),
        BootstrapMethod::Stationary { mean_block_len } => {
            let restart = 1.0 / mean_block_len;
            let mut i = rng.random_range(0..n);
            out.push(data[i]);
            while out.len() < n {
                i = if rng.random::<f64>() < restart { rng.random_range(0..n) } else { (i + 1) % n };
                out.push(data[i]);
            }
        }
        BootstrapMethod::CircularBlock { block_len } => {
            while out.len() < n {
                let start = rng.random_range(0..n);
                let take = block_len.min(n - out.len());
                out.extend((0..take).map(|k| data[(start + k) % n]));
            }
        }
    }
}

/// The bootstrap distribution of `statistic` over `spec.resamples` resamples of `data`, in resample order.
/// Resample `b` depends only on `(spec.seed, b)`, so the result does not depend on the thread count.
pub fn bootstrap_distribution<F>(
    data: &[f64],
    spec: &BootstrapSpec,
    statistic: F,
) -> Result<Vec<f64>, SignificanceError>
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    check_series("data", data, 2)?;
    check_spec(data.len(), spec)?;
    Ok((0..spec.resamples)
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(data.len()),
            |buf, b| {
                resample_into(data, spec.method, &mut stream_rng(spec.seed, b), buf);
                statistic(buf)
            },
        )
        .collect())
}

/// numpy's default (linear) percentile of sorted values, `q` in [0, 1].
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Percentile bootstrap confidence interval of the per-period Sharpe ratio.
pub fn bootstrap_sharpe(returns: &[f64], spec: &BootstrapSpec) -> Result<BootstrapInterval, SignificanceError> {
    let estimate = sharpe_ratio(returns)?;
    let mut dist = bootstrap_distribution(returns, spec, resample_sharpe)?;
    let total = dist.len();
    dist.retain(|v| v.is_finite());
    let degenerate = total - dist.len();
    if dist.len() < 2 {
        return Err(invalid("returns", format!("{degenerate} of {total} resamples have an undefined Sharpe ratio")));
    }
    dist.sort_by(f64::total_cmp);
    let m = dist.len() as f64;
    let mean = dist.iter().sum::<f64>() / m;
    let std_error = (dist.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (m - 1.0)).sqrt();
    let alpha = 1.0 - spec.confidence;
    Ok(BootstrapInterval {
        estimate,
        lower: percentile_sorted(&dist, alpha / 2.0),
        upper: percentile_sorted(&dist, 1.0 - alpha / 2.0),
        std_error,
        confidence: spec.confidence,
        resamples: dist.len(),
        degenerate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, StandardNormal};
    use serde::Deserialize;

    const REFERENCE: &str = include_str!("../../tests/reference/backtest/significance.json");

    #[derive(Deserialize)]
    struct PsrCase {
        benchmark: f64,
        psr: f64,
    }

    #[derive(Deserialize)]
    struct Series {
        name: String,
        returns: Vec<f64>,
        mean: f64,
        std: f64,
        sharpe: f64,
        sharpe_annual_empyrical: f64,
        skewness: f64,
        kurtosis: f64,
        se_mertens: f64,
        psr: Vec<PsrCase>,
    }

    #[derive(Deserialize)]
    struct Dsr {
        trial_sharpes: Vec<f64>,
        trial_variance: f64,
        expected_max_sharpe: f64,
        dsr: f64,
    }

    #[derive(Deserialize)]
    struct ExpectedMax {
        n_trials: usize,
        variance: f64,
        expected_max: f64,
    }

    #[derive(Deserialize)]
    struct Paper {
        sr0: f64,
        dsr: f64,
        printed_sr0: f64,
        printed_dsr: f64,
    }

    #[derive(Deserialize)]
    struct Percentiles {
        values: Vec<f64>,
        q: Vec<f64>,
        expected: Vec<f64>,
    }

    #[derive(Deserialize)]
    struct Reference {
        series: Vec<Series>,
        dsr: Dsr,
        expected_max: Vec<ExpectedMax>,
        dsr_paper: Paper,
        percentiles: Percentiles,
    }

    fn reference() -> Reference {
        serde_json::from_str(REFERENCE).unwrap()
    }

    fn rel_err(got: f64, want: f64) -> f64 {
        if got == want { 0.0 } else { (got - want).abs() / want.abs().max(f64::MIN_POSITIVE) }
    }

    #[test]
    fn sharpe_and_moments_match_scipy_and_empyrical() {
        for s in reference().series {
            let m = moments(&s.returns).unwrap();
            assert!(rel_err(m.mean, s.mean) <= 1e-12, "{}: mean", s.name);
            assert!(rel_err(m.std, s.std) <= 1e-12, "{}: std", s.name);
            assert!(rel_err(m.skewness, s.skewness) <= 1e-10, "{}: skew {} vs {}", s.name, m.skewness, s.skewness);
            assert!(rel_err(m.kurtosis, s.kurtosis) <= 1e-10, "{}: kurtosis", s.name);
            assert!(rel_err(sharpe_ratio(&s.returns).unwrap(), s.sharpe) <= 1e-12, "{}: sharpe", s.name);
            let annual = annualised_sharpe(&s.returns, 252.0).unwrap();
            assert!(rel_err(annual, s.sharpe_annual_empyrical) <= 1e-12, "{}: {annual} vs empyrical", s.name);
            let se = sharpe_standard_error(m.sharpe(), m.n, m.skewness, m.kurtosis).unwrap();
            assert!(rel_err(se, s.se_mertens) <= 1e-12, "{}: Mertens SE", s.name);
            for c in &s.psr {
                let got = probabilistic_sharpe(&s.returns, c.benchmark).unwrap();
                assert!((got - c.psr).abs() <= 1e-12, "{}: PSR({}) = {got}, scipy {}", s.name, c.benchmark, c.psr);
            }
        }
    }

    #[test]
    fn deflated_sharpe_matches_scipy_formula() {
        let r = reference();
        for c in &r.expected_max {
            let got = expected_max_sharpe(c.n_trials, c.variance).unwrap();
            assert!(rel_err(got, c.expected_max) <= 1e-13, "E[max] N={} V={}: {got}", c.n_trials, c.variance);
        }
        let strategy = &r.series[1].returns;
        let d = deflated_sharpe(strategy, &r.dsr.trial_sharpes).unwrap();
        assert_eq!(d.n_trials, r.dsr.trial_sharpes.len());
        assert!(rel_err(d.trial_sharpe_variance, r.dsr.trial_variance) <= 1e-12);
        assert!(rel_err(d.expected_max_sharpe, r.dsr.expected_max_sharpe) <= 1e-12);
        assert!(
            (d.deflated_sharpe_ratio - r.dsr.dsr).abs() <= 1e-12,
            "DSR {} vs {}",
            d.deflated_sharpe_ratio,
            r.dsr.dsr
        );
        // Selection costs confidence: deflating against the best of many trials lowers the PSR against 0.
        assert!(d.deflated_sharpe_ratio < probabilistic_sharpe(strategy, 0.0).unwrap());
    }

    #[test]
    fn deflated_sharpe_reproduces_the_papers_example() {
        // Bailey & López de Prado (2014): 100 trials, V[SR] = 1/2 and SR = 2.5 annualised, T = 1250 daily
        // returns (250 a year), skewness -3, kurtosis 10 -> SR0 = 0.1132 and DSR = 0.9004 as printed.
        let p = reference().dsr_paper;
        let year = 250.0f64;
        let sr0 = expected_max_sharpe(100, 0.5 / year).unwrap();
        let dsr = deflated_sharpe_ratio(2.5 / year.sqrt(), 1250, -3.0, 10.0, 100, 0.5 / year).unwrap();
        assert!((sr0 - p.printed_sr0).abs() < 5e-5 && (dsr - p.printed_dsr).abs() < 5e-5, "{sr0} {dsr}");
        assert!(rel_err(sr0, p.sr0) <= 1e-13 && (dsr - p.dsr).abs() <= 1e-13, "vs scipy: {sr0} {dsr}");
    }

    fn normal_series(n: usize, mean: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| mean + Distribution::<f64>::sample(&StandardNormal, &mut rng)).collect()
    }

    #[test]
    fn bootstrap_standard_error_agrees_with_lo_on_iid_normal_returns() {
        let r = normal_series(5000, 0.05, 7);
        let m = moments(&r).unwrap();
        let lo = sharpe_standard_error(m.sharpe(), m.n, 0.0, 3.0).unwrap();
        let iid = bootstrap_sharpe(&r, &BootstrapSpec::new(BootstrapMethod::Iid, 10_000, 1)).unwrap();
        assert_eq!((iid.resamples, iid.degenerate), (10_000, 0));
        assert_eq!(iid.estimate, m.sharpe());
        // The bootstrap SE has ~0.7% sampling error with 10000 resamples; 4% is over 5 sigma.
        eprintln!("iid normal: bootstrap SE {} vs Lo {lo}, interval [{}, {}]", iid.std_error, iid.lower, iid.upper);
        assert!(rel_err(iid.std_error, lo) < 0.04, "iid bootstrap SE {} vs Lo {lo}", iid.std_error);
        // Near-normal sampling distribution: the percentile interval is about estimate ± 1.96 SE.
        let z = normal_quantile(0.975);
        assert!((iid.lower - (m.sharpe() - z * lo)).abs() < 0.15 * lo, "lower {} ", iid.lower);
        assert!((iid.upper - (m.sharpe() + z * lo)).abs() < 0.15 * lo, "upper {}", iid.upper);
        let narrow =
            bootstrap_sharpe(&r, &BootstrapSpec::new(BootstrapMethod::Iid, 4000, 1).with_confidence(0.5)).unwrap();
        assert!(narrow.lower > iid.lower && narrow.upper < iid.upper);
        let st = BootstrapSpec::new(BootstrapMethod::Stationary { mean_block_len: 10.0 }, 4000, 2);
        let stationary = bootstrap_sharpe(&r, &st).unwrap();
        eprintln!("iid normal: stationary bootstrap SE {}", stationary.std_error);
        assert!(rel_err(stationary.std_error, lo) < 0.08, "stationary SE {} vs Lo {lo}", stationary.std_error);
    }

    #[test]
    fn block_bootstrap_sees_serial_correlation_that_iid_misses() {
        // AR(1) with phi = 0.5: the variance of the mean is (1+phi)/(1-phi) = 3 times the iid value.
        let e = normal_series(6000, 0.0, 11);
        let mut r = Vec::with_capacity(e.len());
        let mut x = 0.0;
        for v in e {
            x = 0.5 * x + v;
            r.push(0.05 + x);
        }
        let m = moments(&r).unwrap();
        let lo = sharpe_standard_error(m.sharpe(), m.n, 0.0, 3.0).unwrap();
        let iid = bootstrap_sharpe(&r, &BootstrapSpec::new(BootstrapMethod::Iid, 2000, 3)).unwrap();
        let st = BootstrapSpec::new(BootstrapMethod::Stationary { mean_block_len: 25.0 }, 2000, 3);
        let block = bootstrap_sharpe(&r, &st).unwrap();
        let circ = bootstrap_sharpe(&r, &BootstrapSpec::new(BootstrapMethod::CircularBlock { block_len: 25 }, 2000, 3))
            .unwrap();
        assert!(rel_err(iid.std_error, lo) < 0.07, "iid {} vs Lo {lo}", iid.std_error);
        for (name, b) in [("stationary", block), ("circular", circ)] {
            let ratio = b.std_error / iid.std_error;
            eprintln!("AR(1): {name} SE {} / iid SE {} = {ratio} (Lo {lo})", b.std_error, iid.std_error);
            assert!((1.45..1.9).contains(&ratio), "{name}: block/iid SE ratio {ratio}, theory sqrt(3) = 1.73");
        }
    }

    #[test]
    fn bootstrap_is_reproducible_for_a_seed_on_any_thread_count() {
        let r = normal_series(300, 0.02, 5);
        let spec = BootstrapSpec::new(BootstrapMethod::Stationary { mean_block_len: 5.0 }, 500, 42);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| bootstrap_sharpe(&r, &spec).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(3));
        assert_eq!(one, bootstrap_sharpe(&r, &spec).unwrap());
        let other = bootstrap_sharpe(&r, &BootstrapSpec { seed: 43, ..spec }).unwrap();
        assert_ne!(one.lower, other.lower, "another seed draws other resamples");
        let dist = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| bootstrap_distribution(&r, &spec, |x| x.iter().sum::<f64>()).unwrap())
        };
        assert_eq!(dist(1), dist(4));
    }

    #[test]
    fn bootstrap_edge_cases() {
        // Full-length circular blocks are rotations: mean and std, hence the Sharpe ratio, never change.
        let r = normal_series(50, 0.1, 9);
        let full = bootstrap_sharpe(&r, &BootstrapSpec::new(BootstrapMethod::CircularBlock { block_len: 50 }, 200, 1))
            .unwrap();
        assert!((full.lower - full.estimate).abs() < 1e-12 && (full.upper - full.estimate).abs() < 1e-12);
        assert!(full.std_error < 1e-12);
        // Two values: half the iid resamples are constant (undefined Sharpe) and are counted, not used.
        let two = bootstrap_sharpe(&[1.0, 2.0], &BootstrapSpec::new(BootstrapMethod::Iid, 1000, 3)).unwrap();
        assert_eq!(two.resamples + two.degenerate, 1000);
        assert!((400..600).contains(&two.degenerate), "{}", two.degenerate);
        assert!((two.lower - 1.5 / 0.5f64.sqrt()).abs() < 1e-12 && (two.upper - two.lower).abs() < 1e-12);
        let p = reference().percentiles;
        let mut sorted = p.values.clone();
        sorted.sort_by(f64::total_cmp);
        for (q, want) in p.q.iter().zip(&p.expected) {
            assert!((percentile_sorted(&sorted, *q) - want).abs() < 1e-14, "numpy percentile {q}");
        }
    }

    #[test]
    fn bootstrap_rejects_bad_input() {
        let r = normal_series(20, 0.0, 1);
        let ok = BootstrapSpec::new(BootstrapMethod::Iid, 100, 0);
        let msg = |r: &[f64], spec: BootstrapSpec| bootstrap_sharpe(r, &spec).unwrap_err().to_string();
        assert!(msg(&r, BootstrapSpec { resamples: 1, ..ok }).contains("`resamples`"));
        for c in [0.0, 1.0, f64::NAN] {
            assert!(msg(&r, ok.with_confidence(c)).contains("`confidence`"));
        }
        for m in [0.5, f64::NAN, f64::INFINITY] {
            let spec = BootstrapSpec { method: BootstrapMethod::Stationary { mean_block_len: m }, ..ok };
            assert!(msg(&r, spec).contains("`mean_block_len`"));
        }
        for b in [0, 21] {
            let spec = BootstrapSpec { method: BootstrapMethod::CircularBlock { block_len: b }, ..ok };
            assert!(msg(&r, spec).contains("`block_len`") && msg(&r, spec).contains("[1, 20]"));
        }
        assert_eq!(
            bootstrap_sharpe(&[0.1], &ok).unwrap_err(),
            SignificanceError::TooShort { name: "returns", min: 2, len: 1 }
        );
        assert!(matches!(bootstrap_sharpe(&[0.1, f64::NAN], &ok), Err(SignificanceError::NonFinite { index: 1, .. })));
        assert_eq!(
            bootstrap_sharpe(&[0.1, 0.1, 0.1], &ok).unwrap_err(),
            SignificanceError::ZeroVariance { name: "returns" }
        );
    }

    #[test]
    fn statistics_reject_bad_input() {
        assert_eq!(moments(&[]).unwrap_err(), SignificanceError::TooShort { name: "returns", min: 2, len: 0 });
        assert_eq!(
            sharpe_ratio(&[0.01; 5]).unwrap_err().to_string(),
            "`returns` has zero variance, so its Sharpe ratio is undefined"
        );
        let e = sharpe_ratio(&[0.01, f64::INFINITY]).unwrap_err().to_string();
        assert_eq!(e, "`returns[1]` is not finite (inf)");
        assert!(annualised_sharpe(&[0.01, 0.02], 0.0).unwrap_err().to_string().contains("`periods_per_year`"));
        assert!(sharpe_standard_error(0.1, 1, 0.0, 3.0).unwrap_err().to_string().contains("`n`"));
        // Impossible moments (kurtosis below 1 + skew²) make the variance term negative.
        assert!(sharpe_standard_error(1.0, 100, 3.0, 1.0).unwrap_err().to_string().contains("not positive"));
        assert!(probabilistic_sharpe_ratio(0.1, f64::NAN, 100, 0.0, 3.0).is_err());
        assert!(expected_max_sharpe(1, 1.0).unwrap_err().to_string().contains("`n_trials`"));
        assert!(expected_max_sharpe(10, -1.0).unwrap_err().to_string().contains("`trial_sharpe_variance`"));
        assert!(deflated_sharpe(&[0.01, 0.02, 0.03], &[0.1]).unwrap_err().to_string().contains("`trial_sharpes`"));
        // With no dispersion across trials there is nothing to deflate: SR0 = 0 and DSR = PSR(0).
        let r = [0.01, -0.02, 0.03, 0.015, -0.005];
        let d = deflated_sharpe(&r, &[0.25, 0.25, 0.25]).unwrap();
        assert_eq!(d.expected_max_sharpe, 0.0);
        assert_eq!(d.deflated_sharpe_ratio, probabilistic_sharpe(&r, 0.0).unwrap());
    }
}
