//! Fractal and long-memory measures of a series: the Hurst exponent (rescaled range and DFA) and the Higuchi
//! and Katz fractal dimensions, over a whole slice or a causal rolling window (nolds 0.6.3, antropy 0.2.3).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::error::{FeatureError, first_valid, require_at_least};

/// antropy's `_linear_regression` adds this to the slope's denominator; kept so Higuchi values match it.
const ANTROPY_EPSILON: f64 = 1e-9;
/// The smallest length whose default nolds `logmid_n` sizes hold two distinct subseries sizes (2 and 3).
const HURST_MIN_LEN: usize = 5;
/// nolds warns that DFA on fewer than ten points is "extremely unreliable"; we refuse instead.
const DFA_MIN_LEN: usize = 10;
/// Katz on two points is 0/0: at least two steps are needed.
const KATZ_MIN_LEN: usize = 3;
/// antropy's default `kmax` for [`higuchi_fd`].
pub const HIGUCHI_DEFAULT_KMAX: usize = 10;

/// Parameters of [`hurst_rs`], equal to nolds `hurst_rs(x, fit="poly")` defaults.
///
/// * `nvals`: subseries sizes n; `None` is nolds' `logmid_n(len, ratio=1/4, nsteps=15)`: the distinct values of
///   `round_half_even(exp(ln(len)·(3/8 + i/60)))`, i = 0..15 (15 sizes spread over the middle quarter of the
///   log range). Sizes must be at least 2 and at most the length.
/// * `corrected` (default true): subtract the Anis-Lloyd-Peters expected (R/S)_n of white noise from
///   log (R/S)_n and add 0.5 to the slope.
/// * `unbiased` (default true): the standard deviation of each subseries uses 1/(n-1).
///
/// The slope is an ordinary least-squares fit (numpy `polyfit`, nolds' "poly"), never RANSAC (which is random).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HurstRsParams {
    pub nvals: Option<Vec<usize>>,
    pub corrected: bool,
    pub unbiased: bool,
}

impl Default for HurstRsParams {
    fn default() -> Self {
        Self { nvals: None, corrected: true, unbiased: true }
    }
}

/// Parameters of [`dfa`], equal to nolds `dfa(x, overlap=True, order=1, fit_trend="poly", fit_exp="poly")`.
///
/// * `nvals`: window sizes; `None` is nolds' default: `logarithmic_n(4, 0.1·len, 1.2)` (4, then the distinct
///   `floor(4·1.2^i)` up to 0.1·len) when len > 70, else 4..=9 when len > 10, else `[len-2, len-1]` (only
///   len = 10 gets there: shorter inputs are refused, where nolds merely warns). Sizes must be at least 2 and
///   below the length, and there must be at least two.
/// * `overlap` (default true): windows step by n/2 instead of n.
///
/// The local trend is linear (nolds `order=1`), fitted by least squares, as is the final log-log slope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DfaParams {
    pub nvals: Option<Vec<usize>>,
    pub overlap: bool,
}

impl Default for DfaParams {
    fn default() -> Self {
        Self { nvals: None, overlap: true }
    }
}

/// Hurst exponent by rescaled range, equal to nolds `hurst_rs(x, fit="poly")` with the given parameters.
///
/// Needs 5 points with the default sizes (the first length whose sizes are two distinct values, 2 and 3).
/// NaN when fewer than two sizes have a non-zero range (nolds fits a line through a single point there).
pub fn hurst_rs(x: &[f64], params: &HurstRsParams) -> Result<f64, FeatureError> {
    let data = whole_slice("hurst_rs", x)?;
    Ok(HurstRs::new(params, data.len(), false)?.eval(data))
}

/// [`hurst_rs`] over the causal window `x[t-window+1..=t]` at every t.
pub fn rolling_hurst_rs(x: &[f64], window: usize, params: &HurstRsParams) -> Result<Vec<f64>, FeatureError> {
    let mut engine = HurstRs::new(params, window, true)?;
    rolling("hurst_rs", x, window, |w| engine.eval(w))
}

/// Detrended fluctuation analysis exponent, equal to nolds `dfa(x, overlap, order=1, fit_exp="poly")`.
///
/// Needs 10 points. NaN when fewer than two window sizes have a non-zero fluctuation (nolds fits a line
/// through a single point there).
pub fn dfa(x: &[f64], params: &DfaParams) -> Result<f64, FeatureError> {
    let data = whole_slice("dfa", x)?;
    Ok(Dfa::new(params, data.len(), false)?.eval(data))
}

/// [`dfa`] over the causal window `x[t-window+1..=t]` at every t.
pub fn rolling_dfa(x: &[f64], window: usize, params: &DfaParams) -> Result<Vec<f64>, FeatureError> {
    let mut engine = Dfa::new(params, window, true)?;
    rolling("dfa", x, window, |w| engine.eval(w))
}

/// Higuchi fractal dimension, equal to antropy `higuchi_fd(x, kmax)` (including antropy's 1e-9 added to the
/// regression denominator). Needs `kmax >= 2` and at least `2·kmax` points; NaN for a constant series.
pub fn higuchi_fd(x: &[f64], kmax: usize) -> Result<f64, FeatureError> {
    check_higuchi(kmax)?;
    let data = whole_slice("higuchi_fd", x)?;
    need("higuchi_fd", data.len(), 2 * kmax)?;
    let n = data.len();
    let (mut sx, mut sx2, mut sxy, mut sy) = (0.0, 0.0, 0.0, 0.0);
    for k in 1..=kmax {
        let mut m_lm = 0.0;
        for m in 0..k {
            let n_max = (n - m - 1) / k;
            let mut ll = 0.0;
            for j in 1..=n_max {
                ll += (data[m + j * k] - data[m + (j - 1) * k]).abs();
            }
            m_lm += higuchi_scale(ll, n, k, n_max);
        }
        let (xr, yr) = higuchi_point(k, m_lm);
        sx2 += xr * xr;
        sx += xr;
        sxy += xr * yr;
        sy += yr;
    }
    Ok(antropy_slope(kmax as f64, sx, sx2, sxy, sy))
}

/// [`higuchi_fd`] over the causal window `x[t-window+1..=t]` at every t.
///
/// Curve lengths come from stride-k prefix sums (restarted every `window` points so differences stay accurate),
/// which makes each value O(kmax²) instead of O(window·kmax).
pub fn rolling_higuchi_fd(x: &[f64], window: usize, kmax: usize) -> Result<Vec<f64>, FeatureError> {
    const F: &str = "higuchi_fd";
    check_higuchi(kmax)?;
    require_at_least(F, "window", window, 2 * kmax)?;
    let (start, mut out) = rolling_frame(F, x, window)?;
    let v = &x[start..];
    let count = v.len() - window + 1;
    let (mut sx, mut sx2) = (0.0, 0.0);
    let (mut sxy, mut sy) = (vec![0.0; count], vec![0.0; count]);
    let mut sums = StridedSums::default();
    for k in 1..=kmax {
        sums.build(v, k, window);
        let (xr, _) = higuchi_point(k, 1.0);
        sx2 += xr * xr;
        sx += xr;
        for s in 0..count {
            let mut m_lm = 0.0;
            for m in 0..k {
                let n_max = (window - m - 1) / k;
                let ll = sums.sum(s + m + k, s + m + n_max * k);
                m_lm += higuchi_scale(ll, window, k, n_max);
            }
            let (_, yr) = higuchi_point(k, m_lm);
            sxy[s] += xr * yr;
            sy[s] += yr;
        }
    }
    for s in 0..count {
        out[start + s + window - 1] = antropy_slope(kmax as f64, sx, sx2, sxy[s], sy[s]);
    }
    Ok(out)
}

/// Katz fractal dimension, equal to antropy `katz_fd(x)`: log10(L/a) / log10(d/a) with L the summed absolute
/// steps, a their mean and d the largest distance from the first point. NaN for a constant series.
pub fn katz_fd(x: &[f64]) -> Result<f64, FeatureError> {
    let data = whole_slice("katz_fd", x)?;
    need("katz_fd", data.len(), KATZ_MIN_LEN)?;
    let total: f64 = data.windows(2).map(|p| (p[1] - p[0]).abs()).sum();
    let far = data.iter().map(|v| (v - data[0]).abs()).fold(0.0, f64::max);
    Ok(katz(total, far, data.len()))
}

/// [`katz_fd`] over the causal window `x[t-window+1..=t]` at every t, in O(1) amortised per value
/// (prefix sums of the steps, monotonic queues for the window's extremes).
pub fn rolling_katz_fd(x: &[f64], window: usize) -> Result<Vec<f64>, FeatureError> {
    const F: &str = "katz_fd";
    require_at_least(F, "window", window, KATZ_MIN_LEN)?;
    let (start, mut out) = rolling_frame(F, x, window)?;
    let v = &x[start..];
    let mut sums = StridedSums::default();
    sums.build(v, 1, window);
    let (mut hi, mut lo) = (VecDeque::with_capacity(window), VecDeque::with_capacity(window));
    for t in 0..v.len() {
        while hi.back().is_some_and(|&j: &usize| v[j] <= v[t]) {
            hi.pop_back();
        }
        hi.push_back(t);
        while lo.back().is_some_and(|&j: &usize| v[j] >= v[t]) {
            lo.pop_back();
        }
        lo.push_back(t);
        if t + 1 < window {
            continue;
        }
        let s = t + 1 - window;
        while hi.front().is_some_and(|&j| j < s) {
            hi.pop_front();
        }
        while lo.front().is_some_and(|&j| j < s) {
            lo.pop_front();
        }
        let (max, min) = (hi.front().map_or(f64::NAN, |&j| v[j]), lo.front().map_or(f64::NAN, |&j| v[j]));
        // Rounding is monotone, so max_i |x_i - x_s| is exactly the larger of these two differences.
        let far = (max - v[s]).max(v[s] - min);
        out[start + t] = katz(sums.sum(s + 1, t), far, window);
    }
    Ok(out)
}

fn katz(total: f64, far: f64, n: usize) -> f64 {
    let mean = total / (n - 1) as f64;
    (total / mean).log10() / (far / mean).log10()
}

fn check_higuchi(kmax: usize) -> Result<(), FeatureError> {
    require_at_least("higuchi_fd", "kmax", kmax, 2)
}

/// antropy's normalisation of one curve length L_m(k).
fn higuchi_scale(ll: f64, n: usize, k: usize, n_max: usize) -> f64 {
    ll / k as f64 * ((n - 1) as f64 / (k * n_max) as f64)
}

/// The regression point (log 1/k, log L(k)) from the summed L_m(k), with antropy's -inf for a zero length.
fn higuchi_point(k: usize, m_lm_sum: f64) -> (f64, f64) {
    let m_lm = m_lm_sum / k as f64;
    ((1.0 / k as f64).ln(), if m_lm > 0.0 { m_lm.ln() } else { f64::NEG_INFINITY })
}

fn antropy_slope(n: f64, sx: f64, sx2: f64, sxy: f64, sy: f64) -> f64 {
    (n * sxy - sx * sy) / (n * sx2 - sx * sx + ANTROPY_EPSILON)
}

/// Rescaled-range state for one input length: sizes, their fixed logs and corrections, and fit scratch.
struct HurstRs {
    nvals: Vec<usize>,
    log_n: Vec<f64>,
    log_expected: Vec<f64>,
    corrected: bool,
    ddof: usize,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl HurstRs {
    fn new(params: &HurstRsParams, len: usize, rolling: bool) -> Result<Self, FeatureError> {
        const F: &str = "hurst_rs";
        let nvals = match &params.nvals {
            None => {
                if rolling {
                    require_at_least(F, "window", len, HURST_MIN_LEN)?;
                } else {
                    need(F, len, HURST_MIN_LEN)?;
                }
                logmid_n(len)
            }
            Some(nv) => {
                check_sizes(F, nv, 2)?;
                let largest = nv.iter().copied().max().unwrap_or(0);
                if rolling && largest > len {
                    let reason = format!("largest size {largest} exceeds the window {len}");
                    return Err(FeatureError::param(F, "nvals", reason));
                }
                need(F, len, largest)?;
                nv.clone()
            }
        };
        let log_n = nvals.iter().map(|&n| (n as f64).ln()).collect();
        let log_expected = nvals.iter().map(|&n| expected_rs(n).ln()).collect();
        let cap = nvals.len();
        let ddof = usize::from(params.unbiased);
        let corrected = params.corrected;
        Ok(Self {
            nvals,
            log_n,
            log_expected,
            corrected,
            ddof,
            xs: Vec::with_capacity(cap),
            ys: Vec::with_capacity(cap),
        })
    }

    fn eval(&mut self, data: &[f64]) -> f64 {
        self.xs.clear();
        self.ys.clear();
        for (i, &n) in self.nvals.iter().enumerate() {
            let rs = rescaled_range(data, n, self.ddof);
            if rs.is_nan() {
                continue;
            }
            self.xs.push(self.log_n[i]);
            self.ys.push(if self.corrected { rs.ln() - self.log_expected[i] } else { rs.ln() });
        }
        let slope = ls_slope(&self.xs, &self.ys);
        if self.corrected { slope + 0.5 } else { slope }
    }
}

/// nolds `rs`: mean of R/S over the complete subseries of size n, skipping zero ranges; NaN if all are zero.
fn rescaled_range(data: &[f64], n: usize, ddof: usize) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for seq in data.chunks_exact(n) {
        let mean = seq.iter().sum::<f64>() / n as f64;
        let (mut walk, mut hi, mut lo, mut ss) = (0.0, f64::NEG_INFINITY, f64::INFINITY, 0.0);
        for &v in seq {
            let dev = v - mean;
            walk += dev;
            // Plain comparisons: the walk is finite, so f64::max's NaN handling would only cost time.
            if walk > hi {
                hi = walk;
            }
            if walk < lo {
                lo = walk;
            }
            ss += dev * dev;
        }
        let range = hi - lo;
        if range != 0.0 {
            sum += range / (ss / (n - ddof) as f64).sqrt();
            count += 1;
        }
    }
    if count == 0 { f64::NAN } else { sum / count as f64 }
}

/// Anis-Lloyd-Peters expected (R/S)_n of white noise, as nolds `expected_rs`. The gamma ratio
/// Γ((n-1)/2)/(√π·Γ(n/2)) is built by its exact recurrence (Rust's std has no gamma function).
fn expected_rs(n: usize) -> f64 {
    let nf = n as f64;
    let front = (nf - 0.5) / nf;
    let back: f64 = (1..n).map(|i| ((nf - i as f64) / i as f64).sqrt()).sum();
    let middle = if n <= 340 {
        let mut g = if n.is_multiple_of(2) { 1.0 } else { 2.0 / std::f64::consts::PI };
        let mut m = 2 + n % 2;
        while m < n {
            m += 2;
            g *= (m - 3) as f64 / (m - 2) as f64;
        }
        g
    } else {
        1.0 / (nf * std::f64::consts::PI * 0.5).sqrt()
    };
    front * middle * back
}

/// nolds `logmid_n(max_n, ratio=1/4, nsteps=15)`.
fn logmid_n(max_n: usize) -> Vec<usize> {
    let (ratio, nsteps) = (0.25, 15);
    let l = (max_n as f64).ln();
    let span = l * ratio;
    let start = l * (1.0 - ratio) * 0.5;
    let mut out: Vec<usize> =
        (0..nsteps).map(|i| (start + i as f64 / nsteps as f64 * span).exp().round_ties_even() as usize).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// DFA state for one input length: window sizes, their logs, the profile and fit scratch.
struct Dfa {
    nvals: Vec<usize>,
    log_n: Vec<f64>,
    overlap: bool,
    walk: Vec<f64>,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Dfa {
    fn new(params: &DfaParams, len: usize, rolling: bool) -> Result<Self, FeatureError> {
        const F: &str = "dfa";
        if rolling {
            require_at_least(F, "window", len, DFA_MIN_LEN)?;
        } else {
            need(F, len, DFA_MIN_LEN)?;
        }
        let nvals = match &params.nvals {
            None if len > 70 => logarithmic_n(4, 0.1 * len as f64, 1.2),
            None => (4..=9).collect(),
            Some(nv) => {
                check_sizes(F, nv, 2)?;
                let largest = nv.iter().copied().max().unwrap_or(0);
                if largest >= len {
                    let what = if rolling { "window" } else { "length" };
                    let reason = format!("largest size {largest} must be below the {what} {len}");
                    return Err(FeatureError::param(F, "nvals", reason));
                }
                nv.clone()
            }
        };
        let log_n = nvals.iter().map(|&n| (n as f64).ln()).collect();
        let cap = nvals.len();
        Ok(Self {
            nvals,
            log_n,
            overlap: params.overlap,
            walk: Vec::with_capacity(len),
            xs: Vec::with_capacity(cap),
            ys: Vec::with_capacity(cap),
        })
    }

    fn eval(&mut self, data: &[f64]) -> f64 {
        let len = data.len();
        let mean = data.iter().sum::<f64>() / len as f64;
        self.walk.clear();
        let mut acc = 0.0;
        self.walk.extend(data.iter().map(|v| {
            acc += v - mean;
            acc
        }));
        self.xs.clear();
        self.ys.clear();
        for (i, &n) in self.nvals.iter().enumerate() {
            let (step, end) = if self.overlap { (n / 2, len - n) } else { (n, len - n + 1) };
            let (mut total, mut count) = (0.0, 0usize);
            for s in (0..end).step_by(step) {
                total += detrended_mean_square(&self.walk[s..s + n]);
                count += 1;
            }
            let fluctuation = (total / count as f64).sqrt();
            if fluctuation != 0.0 {
                self.xs.push(self.log_n[i]);
                self.ys.push(fluctuation.ln());
            }
        }
        ls_slope(&self.xs, &self.ys)
    }
}

/// Mean squared residual of a least-squares line through (0..n, y). Values are shifted by y[0] (the local level)
/// and residuals formed explicitly, rather than as Syy - Sxy²/Sxx, which cancels badly when the profile is
/// nearly straight; the shift lets the sums for the slope share one pass.
fn detrended_mean_square(y: &[f64]) -> f64 {
    let n = y.len() as f64;
    let mx = (n - 1.0) / 2.0;
    let sxx = n * (n * n - 1.0) / 12.0;
    let (mut sy, mut sxy) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let d = v - y[0];
        sy += d;
        sxy += (i as f64 - mx) * d;
    }
    let (my, b) = (sy / n, sxy / sxx);
    let ss: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let r = (v - y[0] - my) - b * (i as f64 - mx);
            r * r
        })
        .sum();
    ss / n
}

/// nolds `logarithmic_n(min_n, max_n, factor)`: min_n, then each new floor(min_n·factor^i) up to max_n.
fn logarithmic_n(min_n: usize, max_n: f64, factor: f64) -> Vec<usize> {
    let max_i = ((max_n / min_n as f64).ln() / factor.ln()).floor() as usize;
    let mut ns = vec![min_n];
    for i in 0..=max_i {
        // powf, not powi: Python's float ** int calls C pow, and the floor must land on the same integer.
        let n = (min_n as f64 * factor.powf(i as f64)).floor() as usize;
        if ns.last().is_some_and(|&last| n > last) {
            ns.push(n);
        }
    }
    ns
}

/// Least-squares slope of y on x (numpy `polyfit(x, y, 1)[0]`); NaN with fewer than two points.
fn ls_slope(xs: &[f64], ys: &[f64]) -> f64 {
    if xs.len() < 2 {
        return f64::NAN;
    }
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    sxy / sxx
}

fn check_sizes(feature: &str, nvals: &[usize], min: usize) -> Result<(), FeatureError> {
    if nvals.len() < 2 {
        return Err(FeatureError::param(feature, "nvals", "needs at least two sizes to fit a slope"));
    }
    if let Some(&bad) = nvals.iter().find(|&&n| n < min) {
        return Err(FeatureError::param(feature, "nvals", format!("sizes must be at least {min}, got {bad}")));
    }
    Ok(())
}

fn need(feature: &str, len: usize, needed: usize) -> Result<(), FeatureError> {
    if len < needed {
        return Err(FeatureError::TooShort { feature: feature.into(), len, needed });
    }
    Ok(())
}

/// The valid part of a whole-slice input: leading NaNs dropped, a later NaN refused.
fn whole_slice<'a>(feature: &str, x: &'a [f64]) -> Result<&'a [f64], FeatureError> {
    Ok(&x[first_valid(feature, "x", x)?..])
}

/// Checks a rolling input and returns its first valid index and an all-NaN output.
fn rolling_frame(feature: &str, x: &[f64], window: usize) -> Result<(usize, Vec<f64>), FeatureError> {
    let start = first_valid(feature, "x", x)?;
    need(feature, x.len(), start + window)?;
    Ok((start, vec![f64::NAN; x.len()]))
}

fn rolling(
    feature: &str,
    x: &[f64],
    window: usize,
    mut eval: impl FnMut(&[f64]) -> f64,
) -> Result<Vec<f64>, FeatureError> {
    let (start, mut out) = rolling_frame(feature, x, window)?;
    for t in start + window - 1..x.len() {
        out[t] = eval(&x[t + 1 - window..=t]);
    }
    Ok(out)
}

/// Sums of d_i = |v_i - v_{i-k}| along stride-k runs, from prefix sums that restart every `chunk` indices: a
/// run shorter than `chunk` crosses at most one restart, and no difference cancels more than two chunks' worth.
#[derive(Default)]
struct StridedSums {
    k: usize,
    chunk: usize,
    prefix: Vec<f64>,
}

impl StridedSums {
    fn build(&mut self, v: &[f64], k: usize, chunk: usize) {
        self.k = k;
        self.chunk = chunk;
        self.prefix.clear();
        self.prefix.resize(v.len(), 0.0);
        for i in k..v.len() {
            let d = (v[i] - v[i - k]).abs();
            self.prefix[i] = d + self.before(i);
        }
    }

    /// The running sum just before i within i's chunk (0 at a restart or the first term).
    fn before(&self, i: usize) -> f64 {
        if i >= 2 * self.k && (i - self.k) / self.chunk == i / self.chunk { self.prefix[i - self.k] } else { 0.0 }
    }

    /// Σ d_i for i = i0, i0+k, …, i1 (i0 >= k, i1 - i0 a multiple of k and below `chunk`).
    fn sum(&self, i0: usize, i1: usize) -> f64 {
        let head = self.before(i0);
        if i0 / self.chunk == i1 / self.chunk {
            return self.prefix[i1] - head;
        }
        let restart = i1 / self.chunk * self.chunk;
        let last_before = i1 - self.k * ((i1 - restart) / self.k + 1);
        (self.prefix[last_before] - head) + self.prefix[i1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const REF: &str = include_str!("../../tests/reference/features/fractal.json");

    fn reference() -> Value {
        serde_json::from_str(REF).expect("fractal.json parses")
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().expect("array").iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
    }

    fn series(r: &Value, name: &str) -> Vec<f64> {
        floats(&r["series"][name])
    }

    fn assert_close(got: f64, want: f64, what: &str) {
        if want.is_nan() {
            assert!(got.is_nan(), "{what}: got {got}, reference is NaN");
            return;
        }
        let err = (got - want).abs() / want.abs().max(1e-300);
        assert!(err <= 1e-9, "{what}: got {got}, reference {want}, relative error {err:e}");
    }

    #[test]
    fn whole_series_match_nolds_and_antropy() {
        let r = reference();
        let raw = HurstRsParams { corrected: false, unbiased: false, ..HurstRsParams::default() };
        let no_overlap = DfaParams { overlap: false, ..DfaParams::default() };
        let cases = r["whole"].as_array().expect("whole");
        assert_eq!(cases.len(), 20);
        for case in cases {
            let name = case["series"].as_str().expect("name");
            let len = case["len"].as_u64().expect("len") as usize;
            let x = &series(&r, name)[..len];
            let want = |key: &str| case[key].as_f64().unwrap_or(f64::NAN);
            let tag = |key: &str| format!("{key} {name}[..{len}]");
            assert_close(hurst_rs(x, &HurstRsParams::default()).unwrap(), want("hurst_rs"), &tag("hurst_rs"));
            assert_close(hurst_rs(x, &raw).unwrap(), want("hurst_rs_raw"), &tag("hurst_rs_raw"));
            assert_close(dfa(x, &DfaParams::default()).unwrap(), want("dfa"), &tag("dfa"));
            assert_close(dfa(x, &no_overlap).unwrap(), want("dfa_no_overlap"), &tag("dfa_no_overlap"));
            assert_close(higuchi_fd(x, 10).unwrap(), want("higuchi_fd"), &tag("higuchi_fd"));
            assert_close(higuchi_fd(x, 5).unwrap(), want("higuchi_fd_k5"), &tag("higuchi_fd_k5"));
            assert_close(katz_fd(x).unwrap(), want("katz_fd"), &tag("katz_fd"));
        }
    }

    #[test]
    fn custom_sizes_match_nolds() {
        let r = reference();
        let c = &r["custom"];
        let sizes = |key: &str| -> Vec<usize> { floats(&c[key]).iter().map(|&v| v as usize).collect() };
        let goog = series(&r, "goog_ret");
        let hp = HurstRsParams { nvals: Some(vec![8, 16, 32, 64, 128, 256, 512]), ..HurstRsParams::default() };
        assert_close(hurst_rs(&goog, &hp).unwrap(), c["goog_hurst_custom"].as_f64().expect("h"), "goog hurst");
        let dp = DfaParams { nvals: Some(sizes("dfa_nvals")), ..DfaParams::default() };
        assert_close(dfa(&goog, &dp).unwrap(), c["goog_dfa_custom"].as_f64().expect("d"), "goog dfa");
    }

    /// nolds' own check (from pracma / bearcave): brown72 was built to have H = 0.72.
    #[test]
    fn brown72_and_fgn_recover_their_hurst_exponent() {
        let r = reference();
        let brown72 = series(&r, "brown72");
        let p = HurstRsParams { nvals: Some((3..11).map(|e| 1 << e).collect()), corrected: false, unbiased: false };
        let h = hurst_rs(&brown72, &p).unwrap();
        assert_close(h, r["custom"]["brown72_hurst_pracma"].as_f64().expect("h72"), "brown72 pracma");
        assert!((h - 0.72).abs() < 0.01, "brown72 H = {h}");
        let d = dfa(&brown72, &DfaParams::default()).unwrap();
        assert!((d - 0.72).abs() < 0.05, "brown72 DFA = {d}");
        // nolds.fgn(1024, H=0.72): DFA of the noise estimates H, of its cumulative sum (fBm) H + 1.
        let fgn = series(&r, "fgn072");
        let d = dfa(&fgn, &DfaParams::default()).unwrap();
        assert!((d - 0.72).abs() < 0.05, "fGn DFA = {d}");
        let fbm: Vec<f64> = fgn
            .iter()
            .scan(0.0, |acc, v| {
                *acc += v;
                Some(*acc)
            })
            .collect();
        let d = dfa(&fbm, &DfaParams::default()).unwrap();
        assert!((d - 1.72).abs() < 0.15, "fBm DFA = {d}");
    }

    #[test]
    fn rolling_windows_match_the_reference_on_each_window() {
        let r = reference();
        for case in r["rolling"].as_array().expect("rolling") {
            let x = series(&r, case["series"].as_str().expect("name"));
            let w = case["window"].as_u64().expect("window") as usize;
            let first = case["first_end"].as_u64().expect("first") as usize;
            let outputs = [
                ("hurst_rs", rolling_hurst_rs(&x, w, &HurstRsParams::default()).unwrap()),
                ("dfa", rolling_dfa(&x, w, &DfaParams::default()).unwrap()),
                ("higuchi_fd", rolling_higuchi_fd(&x, w, 10).unwrap()),
                ("katz_fd", rolling_katz_fd(&x, w).unwrap()),
            ];
            for (key, out) in outputs {
                assert_eq!(out.len(), x.len());
                assert!(out[..w - 1].iter().all(|v| v.is_nan()), "{key}: values before a full window");
                let want = floats(&case[key]);
                for (i, &v) in want.iter().enumerate() {
                    assert_close(out[first + i], v, &format!("rolling {key} w={w} t={}", first + i));
                }
            }
        }
    }

    /// The prefix-sum rolling Higuchi and Katz must equal the direct per-window formulas, also on a trending
    /// level series long enough for the prefix sums to restart many times.
    #[test]
    fn fast_rolling_equals_direct_windows_on_levels() {
        let r = reference();
        let ret = series(&r, "sp500_ret");
        let levels: Vec<f64> = ret
            .iter()
            .scan(1000.0, |acc, v| {
                *acc *= v.exp();
                Some(*acc)
            })
            .collect();
        for (x, w, kmax) in [(&levels, 40, 10), (&levels, 97, 6), (&ret, 20, 10)] {
            let hig = rolling_higuchi_fd(x, w, kmax).unwrap();
            let katz = rolling_katz_fd(x, w).unwrap();
            for t in w - 1..x.len() {
                let win = &x[t + 1 - w..=t];
                assert_close(hig[t], higuchi_fd(win, kmax).unwrap(), &format!("higuchi w={w} t={t}"));
                assert_close(katz[t], katz_fd(win).unwrap(), &format!("katz w={w} t={t}"));
            }
        }
    }

    fn all_rolling(x: &[f64]) -> Vec<Vec<f64>> {
        vec![
            rolling_hurst_rs(x, 64, &HurstRsParams::default()).unwrap(),
            rolling_dfa(x, 64, &DfaParams::default()).unwrap(),
            rolling_higuchi_fd(x, 64, 10).unwrap(),
            rolling_katz_fd(x, 64).unwrap(),
        ]
    }

    fn same(a: f64, b: f64) -> bool {
        a == b || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn rolling_values_never_depend_on_later_points() {
        let x = series(&reference(), "goog_ret")[..400].to_vec();
        let full = all_rolling(&x);
        let t = 250;
        let mut changed = x.clone();
        for v in &mut changed[t + 1..] {
            *v = -3.0 * *v + 0.01;
        }
        for (a, b) in full.iter().zip(all_rolling(&changed)) {
            assert!((0..=t).all(|i| same(a[i], b[i])), "a change after t moved an output at or before t");
            assert!((t + 1..x.len()).any(|i| !same(a[i], b[i])), "the change should be visible after t");
        }
        for (a, b) in full.iter().zip(all_rolling(&x[..=t])) {
            assert!((0..=t).all(|i| same(a[i], b[i])), "a truncated input gave different outputs");
        }
    }

    #[test]
    fn leading_nans_shift_the_output() {
        let x = series(&reference(), "eurusd_ret")[..300].to_vec();
        let mut padded = vec![f64::NAN; 7];
        padded.extend_from_slice(&x);
        for (a, b) in all_rolling(&x).iter().zip(all_rolling(&padded)) {
            assert!(b[..7].iter().all(|v| v.is_nan()));
            assert!(a.iter().zip(&b[7..]).all(|(&p, &q)| same(p, q)));
        }
        assert_eq!(katz_fd(&padded).unwrap(), katz_fd(&x).unwrap());
    }

    #[test]
    fn bad_input_is_refused_with_the_right_error() {
        let x = series(&reference(), "goog_ret")[..200].to_vec();
        let mut gap = x.clone();
        gap[120] = f64::NAN;
        let nan_gap = |e: FeatureError| matches!(e, FeatureError::NanGap { row: 120, .. });
        assert!(nan_gap(hurst_rs(&gap, &HurstRsParams::default()).unwrap_err()));
        assert!(nan_gap(rolling_dfa(&gap, 50, &DfaParams::default()).unwrap_err()));
        assert!(nan_gap(rolling_higuchi_fd(&gap, 50, 10).unwrap_err()));
        assert!(nan_gap(katz_fd(&gap).unwrap_err()));

        let too_short = |e: FeatureError| matches!(e, FeatureError::TooShort { .. });
        assert!(too_short(hurst_rs(&x[..4], &HurstRsParams::default()).unwrap_err()));
        assert!(too_short(dfa(&x[..9], &DfaParams::default()).unwrap_err()));
        assert!(too_short(higuchi_fd(&x[..19], 10).unwrap_err()));
        assert!(too_short(katz_fd(&x[..2]).unwrap_err()));
        assert!(too_short(rolling_katz_fd(&x[..30], 31).unwrap_err()));
        assert!(too_short(
            hurst_rs(&x, &HurstRsParams { nvals: Some(vec![8, 400]), ..Default::default() }).unwrap_err()
        ));

        let invalid =
            |e: FeatureError, p: &str| matches!(e, FeatureError::InvalidParameter { ref param, .. } if param == p);
        assert!(invalid(rolling_dfa(&x, 9, &DfaParams::default()).unwrap_err(), "window"));
        assert!(invalid(rolling_higuchi_fd(&x, 19, 10).unwrap_err(), "window"));
        assert!(invalid(higuchi_fd(&x, 1).unwrap_err(), "kmax"));
        assert!(invalid(rolling_katz_fd(&x, 2).unwrap_err(), "window"));
        let one = DfaParams { nvals: Some(vec![8]), ..DfaParams::default() };
        assert!(invalid(dfa(&x, &one).unwrap_err(), "nvals"));
        let tiny = HurstRsParams { nvals: Some(vec![1, 8]), ..Default::default() };
        assert!(invalid(hurst_rs(&x, &tiny).unwrap_err(), "nvals"));
        let wide = DfaParams { nvals: Some(vec![4, 50]), ..DfaParams::default() };
        assert!(invalid(rolling_dfa(&x, 50, &wide).unwrap_err(), "nvals"));
    }

    #[test]
    fn constant_input_gives_nan_like_the_references() {
        let flat = vec![3.5; 120];
        assert!(hurst_rs(&flat, &HurstRsParams::default()).unwrap().is_nan());
        assert!(dfa(&flat, &DfaParams::default()).unwrap().is_nan());
        assert!(higuchi_fd(&flat, 10).unwrap().is_nan());
        assert!(katz_fd(&flat).unwrap().is_nan());
        assert!(rolling_higuchi_fd(&flat, 40, 10).unwrap()[39..].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn default_sizes_follow_nolds() {
        // nolds.logmid_n(1000, 1/4, 15) and logarithmic_n(4, 100.0, 1.2), printed by numpy.
        assert_eq!(logmid_n(1000), vec![13, 15, 17, 19, 21, 24, 27, 30, 33, 38, 42, 47, 53, 60, 67]);
        assert_eq!(logarithmic_n(4, 100.0, 1.2), vec![4, 5, 6, 8, 9, 11, 14, 17, 20, 24, 29, 35, 42, 51, 61, 73, 88]);
        assert_eq!(logmid_n(5), vec![2, 3]);
    }
}
