//! Features of two aligned series (two instruments on the same timestamps): rolling correlation and beta,
//! rolling Engle-Granger cointegration (hedge ratio, spread z-score, Dickey-Fuller t) and lead-lag correlation.

use super::error::{FeatureError, first_valid, require_at_least};

/// Rolling Pearson correlation of `x` and `y` over `window` points, as pandas `x.rolling(window).corr(y)`.
///
/// NaN where fewer than `window` points of both series are available, and where either series is constant over
/// the window (the correlation is undefined there).
pub fn rolling_corr(x: &[f64], y: &[f64], window: usize) -> Result<Vec<f64>, FeatureError> {
    const FEATURE: &str = "rolling_corr";
    let (fx, fy) = validate(FEATURE, x, y, window, 0)?;
    let start = fx.max(fy);
    let mut out = vec![f64::NAN; x.len()];
    pair_windows(&x[start..], &y[start..], window, |i, m| out[start + i] = m.corr());
    Ok(out)
}

/// Rolling beta of `y` on `x`: `cov(x, y) / var(x)` over `window` points (the ddof cancels), equal to pandas
/// `x.rolling(window).cov(y) / x.rolling(window).var()`. NaN where `x` is constant over the window.
pub fn rolling_beta(x: &[f64], y: &[f64], window: usize) -> Result<Vec<f64>, FeatureError> {
    const FEATURE: &str = "rolling_beta";
    let (fx, fy) = validate(FEATURE, x, y, window, 0)?;
    let start = fx.max(fy);
    let mut out = vec![f64::NAN; x.len()];
    pair_windows(&x[start..], &y[start..], window, |i, m| out[start + i] = m.beta());
    Ok(out)
}

/// The rolling Engle-Granger regression `y = alpha + beta·x + s` fitted by OLS in each causal window.
#[derive(Debug, Clone, PartialEq)]
pub struct Cointegration {
    /// `beta`, the hedge ratio: units of `x` to hold against one unit of `y`.
    pub hedge_ratio: Vec<f64>,
    /// `alpha`, the intercept of the window's regression.
    pub intercept: Vec<f64>,
    /// The spread at `t` under the window's own fit: `y[t] - alpha - beta·x[t]`.
    pub spread: Vec<f64>,
    /// The spread at `t` against the window's spreads: `(s_t - mean(s)) / std(s)`, ddof 1.
    pub zscore: Vec<f64>,
    /// Dickey-Fuller t-statistic of the window's spreads (no constant, no lagged differences), as statsmodels
    /// `adfuller(resid, maxlag=0, regression="n", autolag=None)` and `coint(y, x, maxlag=0, autolag=None)`.
    /// Compare it with [`engle_granger_critical_values`], not the plain Dickey-Fuller table: the spread is an
    /// estimated residual, so the Engle-Granger critical values are more negative.
    pub adf_t: Vec<f64>,
}

/// Rolling Engle-Granger cointegration of `y` on `x` over `window` points. Each window's outputs come from
/// that window alone, so a hedge ratio is never fitted on data the spread has not seen yet.
///
/// Outputs are NaN before the first full window and where `x` is constant over the window; `zscore` and
/// `adf_t` are also NaN where `y` is an exact linear function of `x` over the window (1 - R² below 1e-12),
/// because the spread is then rounding noise and any statistic of it would mislead.
pub fn rolling_cointegration(x: &[f64], y: &[f64], window: usize) -> Result<Cointegration, FeatureError> {
    const FEATURE: &str = "rolling_cointegration";
    let (fx, fy) = validate(FEATURE, x, y, window, 0)?;
    let start = fx.max(fy);
    let n = x.len();
    let mut res = Cointegration {
        hedge_ratio: vec![f64::NAN; n],
        intercept: vec![f64::NAN; n],
        spread: vec![f64::NAN; n],
        zscore: vec![f64::NAN; n],
        adf_t: vec![f64::NAN; n],
    };
    let (xs, ys) = (&x[start..], &y[start..]);
    let diff = |j: usize| {
        let (du, dv) = (xs[j] - xs[j - 1], ys[j] - ys[j - 1]);
        [du * du, du * dv, dv * dv]
    };
    // Sums of products of one-step changes over the window's window-1 differences; they need no shift because
    // differences are already centred near zero. Like the moments they are rebuilt every window, and also when a
    // change that dwarfs the rest leaves the window, whose rounding would otherwise remain as noise.
    let mut dsums = Sums::<3>::default();
    let rebuild = |i: usize| {
        let mut sums = Sums::<3>::default();
        (i + 2 - window..=i).for_each(|j| sums.add(diff(j)));
        sums
    };
    pair_windows(xs, ys, window, |i, m| {
        if (i + 1) % window == 0 {
            dsums = rebuild(i);
        } else {
            let leave = diff(i + 1 - window);
            dsums.roll(diff(i), leave);
            if leave[0] > STALE * dsums.get(0) || leave[2] > STALE * dsums.get(2) {
                dsums = rebuild(i);
            }
        }
        if m.caa == 0.0 {
            return;
        }
        let t = start + i;
        let beta = m.cab / m.caa;
        res.hedge_ratio[t] = beta;
        res.intercept[t] = (m.shift_b + m.dmean_b) - beta * (m.shift_a + m.dmean_a);
        // Deviations from the window mean taken via the shift: `x - shift` is exact for nearby values, while a
        // mean rounded to the price level would cost digits of a spread that is far smaller than the price.
        let resid = |j: usize| ((ys[j] - m.shift_b) - m.dmean_b) - beta * ((xs[j] - m.shift_a) - m.dmean_a);
        let e_last = resid(i);
        res.spread[t] = e_last;
        // OLS residuals with an intercept sum to zero, so their sum of squares is the unexplained co-moment.
        let ssr = (m.cbb - beta * m.cab).max(0.0);
        if ssr <= 1e-12 * m.cbb || m.cbb == 0.0 {
            return;
        }
        res.zscore[t] = e_last / (ssr / (window - 1) as f64).sqrt();
        // Dickey-Fuller regression Δe_j = γ·e_{j-1} over the window's window-1 steps. Σe_{j-1}Δe_j comes from
        // the telescoping identity e_j² - e_{j-1}² = 2e_{j-1}Δe_j + Δe_j², so no lagged cross sums are needed.
        let e_first = resid(i + 1 - window);
        let sxx = ssr - e_last * e_last;
        let syy = (dsums.get(2) - 2.0 * beta * dsums.get(1) + beta * beta * dsums.get(0)).max(0.0);
        let sxy = 0.5 * (e_last * e_last - e_first * e_first - syy);
        if sxx <= 0.0 {
            return;
        }
        let gamma = sxy / sxx;
        let ssr_df = (syy - gamma * sxy).max(0.0);
        let sigma2 = ssr_df / (window - 2) as f64;
        res.adf_t[t] = gamma * sxx.sqrt() / sigma2.sqrt();
    });
    Ok(res)
}

/// Engle-Granger critical values (1%, 5%, 10%) for the [`Cointegration::adf_t`] of a `window`-point window:
/// MacKinnon (2010) response surface for two variables with a constant, at `window - 1` observations, exactly as
/// statsmodels `coint` reports them. Cointegration is plausible where `adf_t` is below the chosen level.
pub fn engle_granger_critical_values(window: usize) -> [f64; 3] {
    // MacKinnon (2010), table for N = 2, regression "c": tau = b0 + b1/T + b2/T² (statsmodels `tau_c_2010`).
    const TAU: [[f64; 3]; 3] =
        [[-3.89644, -10.9519, -33.527], [-3.33613, -6.1101, -6.823], [-3.04445, -4.2412, -2.720]];
    let inv = 1.0 / window.saturating_sub(1).max(1) as f64;
    TAU.map(|[b0, b1, b2]| b0 + inv * (b1 + inv * b2))
}

/// Lead-lag cross-correlations of two series over causal windows, and the strongest lag at each point.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadLag {
    /// The largest lag computed; lags run from `-max_lag` to `max_lag`.
    pub max_lag: usize,
    /// `corr[j]` is the rolling correlation at lag `k = j - max_lag`: `corr(x[t-k], y[t])` for `k >= 0` (x leads
    /// y by k), `corr(x[t], y[t-|k|])` for `k < 0` (y leads x); every pair uses only points at or before `t`.
    pub corr: Vec<Vec<f64>>,
    /// The lag with the largest |correlation|, once every lag is defined (ties go to the smaller |k|, then to
    /// the positive k); NaN where no lag has a correlation.
    pub best_lag: Vec<f64>,
    /// The (signed) correlation at `best_lag`.
    pub best_corr: Vec<f64>,
}

impl LeadLag {
    /// The rolling correlation at lag `k`, or `None` when `|k| > max_lag`.
    pub fn at_lag(&self, k: isize) -> Option<&[f64]> {
        let j = k.checked_add_unsigned(self.max_lag)?;
        self.corr.get(usize::try_from(j).ok()?).map(Vec::as_slice)
    }
}

/// Rolling lead-lag cross-correlation of `x` and `y` over `window` pairs for lags `-max_lag..=max_lag`, equal to
/// pandas `x.shift(k).rolling(window).corr(y)` for `k >= 0` and `x.rolling(window).corr(y.shift(-k))` for `k < 0`.
/// `max_lag` must be below `window`.
pub fn lead_lag_corr(x: &[f64], y: &[f64], window: usize, max_lag: usize) -> Result<LeadLag, FeatureError> {
    const FEATURE: &str = "lead_lag_corr";
    let (fx, fy) = validate(FEATURE, x, y, window, max_lag)?;
    let n = x.len();
    let mut corr = Vec::with_capacity(2 * max_lag + 1);
    for j in 0..=2 * max_lag {
        let mut out = vec![f64::NAN; n];
        // A lagged pair is available from the first index where both of its points are valid, as with pandas.
        let (s0, a, b) = if j >= max_lag {
            let k = j - max_lag;
            let s0 = (fx + k).max(fy);
            (s0, &x[s0 - k..n - k], &y[s0..])
        } else {
            let k = max_lag - j;
            let s0 = fx.max(fy + k);
            (s0, &x[s0..], &y[s0 - k..n - k])
        };
        pair_windows(a, b, window, |i, m| out[s0 + i] = m.corr());
        corr.push(out);
    }
    // Lags visited in the order 0, +1, -1, +2, -2, ... with a strict comparison, which breaks ties towards short
    // lags; lag-major so each pass streams one column. NaN never compares greater, and -1 marks "none yet".
    let first_all = fx.max(fy) + max_lag + window - 1;
    let mut best_abs = vec![-1.0; n];
    let mut best_lag = vec![f64::NAN; n];
    let mut best_corr = vec![f64::NAN; n];
    for r in 0..=2 * max_lag {
        let j = if r % 2 == 1 { max_lag + r.div_ceil(2) } else { max_lag - r / 2 };
        let k = j as f64 - max_lag as f64;
        for t in first_all..n {
            let c = corr[j][t];
            if c.abs() > best_abs[t] {
                (best_abs[t], best_lag[t], best_corr[t]) = (c.abs(), k, c);
            }
        }
    }
    Ok(LeadLag { max_lag, corr, best_lag, best_corr })
}

/// Common checks of a two-series feature, in the order a user fixes them (shape, parameters, data); returns the
/// first valid index of `x` and of `y`. `max_lag` is lookback beyond the window that the input must also cover.
fn validate(
    feature: &str,
    x: &[f64],
    y: &[f64],
    window: usize,
    max_lag: usize,
) -> Result<(usize, usize), FeatureError> {
    if x.len() != y.len() {
        return Err(FeatureError::LengthMismatch {
            feature: feature.into(),
            detail: format!("x has {} points, y has {}", x.len(), y.len()),
        });
    }
    require_at_least(feature, "window", window, 3)?;
    if max_lag >= window {
        return Err(FeatureError::param(
            feature,
            "max_lag",
            format!("must be below the window ({window}), got {max_lag}"),
        ));
    }
    let (fx, fy) = (first_valid(feature, "x", x)?, first_valid(feature, "y", y)?);
    let needed = fx.max(fy) + window + max_lag;
    if x.len() < needed {
        return Err(FeatureError::TooShort { feature: feature.into(), len: x.len(), needed });
    }
    Ok((fx, fy))
}

/// Rolling sums are rebuilt from the window's points when a term this many times the window's own scale would
/// otherwise leave its rounding behind (about three digits), see [`pair_windows`].
const STALE: f64 = 1e3;

/// Means and centred co-moments (sums of centred products, not divided by n - 1) of one window of pairs.
#[derive(Debug, Clone, Copy)]
struct PairMoments {
    /// The shifts the sums were taken around, and the window means relative to them.
    shift_a: f64,
    shift_b: f64,
    dmean_a: f64,
    dmean_b: f64,
    caa: f64,
    cbb: f64,
    cab: f64,
}

impl PairMoments {
    fn corr(&self) -> f64 {
        if self.caa == 0.0 || self.cbb == 0.0 {
            return f64::NAN;
        }
        (self.cab / (self.caa * self.cbb).sqrt()).clamp(-1.0, 1.0)
    }

    fn beta(&self) -> f64 {
        if self.caa == 0.0 { f64::NAN } else { self.cab / self.caa }
    }
}

/// Calls `emit(i, moments)` for every window of `w` pairs `(a[i+1-w..=i], b[i+1-w..=i])`, in order of `i`.
/// The inputs hold no NaN and have the same length.
///
/// The sums are of values shifted by a recent window mean, so `Σu² - (Σu)²/w` does not cancel catastrophically on
/// price levels far from zero. They are recomputed from the window's points around its current mean every `w`
/// steps (so rounding never accumulates along the series), and at once when they go stale: the window mean sits
/// more than ~30 standard deviations from the shift (after a jump in level), or a term ~1000 times the window's
/// sum of squares just left it (a spike), either of which would cost over three digits. Each jump or spike costs
/// about one rebuild, so the work stays O(1) amortised unless the scale of the data collapses by orders of
/// magnitude at every step. Rebuilds depend only on points up to `i`, so outputs never depend on later points.
/// A run of `w` equal values is tracked explicitly to give an exact zero variance (rolling sums could leave
/// ~1e-17 of noise and turn an undefined correlation into a random one).
fn pair_windows(a: &[f64], b: &[f64], w: usize, mut emit: impl FnMut(usize, PairMoments)) {
    debug_assert_eq!(a.len(), b.len());
    let (wf, inv_w) = (w as f64, 1.0 / w as f64);
    let terms = |i: usize, ca: f64, cb: f64| {
        let (u, v) = (a[i] - ca, b[i] - cb);
        [u, v, u * u, v * v, u * v]
    };
    let rebuild = |lo: usize, hi: usize| {
        let ca = a[lo..=hi].iter().sum::<f64>() * inv_w;
        let cb = b[lo..=hi].iter().sum::<f64>() * inv_w;
        let mut sums = Sums::<5>::default();
        (lo..=hi).for_each(|j| sums.add(terms(j, ca, cb)));
        (ca, cb, sums)
    };
    // Means relative to the shifts, and the centred co-moments Σuu - Σu·Σu/w, Σvv - .., Σuv - ..
    let centred = |s: &Sums<5>| {
        let (ma, mb) = (s.get(0) * inv_w, s.get(1) * inv_w);
        [ma, mb, s.get(2) - s.get(0) * ma, s.get(3) - s.get(1) * mb, s.get(4) - s.get(0) * mb]
    };
    let (mut ca, mut cb) = (0.0, 0.0);
    let mut sums = Sums::<5>::default();
    let (mut run_a, mut run_b) = (0usize, 0usize);
    let mut since_rebuild = w;
    for i in 0..a.len() {
        run_a = if i > 0 && a[i] == a[i - 1] { run_a + 1 } else { 1 };
        run_b = if i > 0 && b[i] == b[i - 1] { run_b + 1 } else { 1 };
        if i + 1 < w {
            continue;
        }
        let lo = i + 1 - w;
        let mut c = if since_rebuild >= w {
            (ca, cb, sums) = rebuild(lo, i);
            since_rebuild = 0;
            centred(&sums)
        } else {
            let leave = terms(lo - 1, ca, cb);
            sums.roll(terms(i, ca, cb), leave);
            let c = centred(&sums);
            // Stale: the mean drifted far from the shift, or a term that dwarfs the window (a spike, the last point
            // before a jump) just left its rounding behind. A constant series has nothing to protect (and a shift
            // an ulp off its value would rebuild forever).
            let stale_a = run_a < w && (c[0] * c[0] * wf).max(leave[2]) > STALE * c[2];
            let stale_b = run_b < w && (c[1] * c[1] * wf).max(leave[3]) > STALE * c[3];
            if stale_a || stale_b {
                (ca, cb, sums) = rebuild(lo, i);
                since_rebuild = 0;
                centred(&sums)
            } else {
                c
            }
        };
        since_rebuild += 1;
        c[2] = if run_a >= w { 0.0 } else { c[2].max(0.0) };
        c[3] = if run_b >= w { 0.0 } else { c[3].max(0.0) };
        let [dmean_a, dmean_b, caa, cbb, cab] = c;
        emit(i, PairMoments { shift_a: ca, shift_b: cb, dmean_a, dmean_b, caa, cbb, cab });
    }
}

/// `K` running sums of a fixed-length window. Plain sums suffice because their owners rebuild them from scratch
/// every window length and recentre them when they go stale: between rebuilds each sum sees at most 2·w roundings of
/// terms within ~30 standard deviations of the window, a relative error of order 1e3·sqrt(w)·1e-16 at worst and
/// ~1e-14 in practice, and nothing accumulates along the series.
#[derive(Debug, Clone, Copy)]
struct Sums<const K: usize>([f64; K]);

impl<const K: usize> Default for Sums<K> {
    fn default() -> Self {
        Self([0.0; K])
    }
}

impl<const K: usize> Sums<K> {
    #[inline]
    fn add(&mut self, terms: [f64; K]) {
        for (s, v) in self.0.iter_mut().zip(terms) {
            *s += v;
        }
    }

    #[inline]
    fn roll(&mut self, enter: [f64; K], leave: [f64; K]) {
        for k in 0..K {
            self.0[k] += enter[k] - leave[k];
        }
    }

    #[inline]
    fn get(&self, k: usize) -> f64 {
        self.0[k]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const REFERENCE: &str = include_str!("../../tests/reference/features/cross_asset.json");
    const STOCKS: &str = include_str!("../../../data/sample/SP500_STOCKS.csv");
    const TOL: f64 = 1e-9;

    fn reference() -> Value {
        serde_json::from_str(REFERENCE).expect("cross_asset.json parses")
    }

    fn column(name: &str) -> Vec<f64> {
        let mut lines = STOCKS.lines();
        let header = lines.next().expect("header");
        let col = header.split(',').position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
        lines.filter(|l| !l.trim().is_empty()).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect()
    }

    /// The generator's inputs: prices as parsed, log prices, or ln(p_t) - ln(p_{t-1}) with a leading NaN.
    fn series(name: &str, kind: &str) -> Vec<f64> {
        let p = column(name);
        match kind {
            "price" => p,
            "logprice" => p.iter().map(|v| v.ln()).collect(),
            "logret" => std::iter::once(f64::NAN).chain(p.windows(2).map(|w| w[1].ln() - w[0].ln())).collect(),
            other => panic!("unknown kind {other}"),
        }
    }

    fn floats(v: &Value) -> Vec<Option<f64>> {
        v.as_array().unwrap().iter().map(Value::as_f64).collect()
    }

    fn indices(v: &Value) -> Vec<usize> {
        v.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as usize).collect()
    }

    fn std(xs: &[f64]) -> f64 {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        (xs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
    }

    /// Checks `got` against the reference (`None` = NaN) to TOL relative to max(|want|, scale), returns the error.
    fn check(what: &str, got: f64, want: Option<f64>, scale: f64) -> f64 {
        match want {
            None => {
                assert!(got.is_nan(), "{what}: expected NaN, got {got}");
                0.0
            }
            Some(w) => {
                let err = (got - w).abs() / w.abs().max(scale);
                assert!(err <= TOL, "{what}: got {got}, want {w} (relative error {err:.2e})");
                err
            }
        }
    }

    /// Deviations from the mean, with the mean refined by a second pass so that its rounding to the level of
    /// the data does not swamp deviations many orders smaller.
    fn centred(xs: &[f64]) -> Vec<f64> {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let fix = xs.iter().map(|v| v - m).sum::<f64>() / xs.len() as f64;
        xs.iter().map(|v| (v - m) - fix).collect()
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits())
    }

    #[test]
    fn corr_and_beta_match_pandas_over_the_full_series() {
        let r = reference();
        for case in r["corr_beta"].as_array().unwrap() {
            let kind = case["kind"].as_str().unwrap();
            let (x, y) = (series(case["x"].as_str().unwrap(), kind), series(case["y"].as_str().unwrap(), kind));
            let w = case["window"].as_u64().unwrap() as usize;
            let name = format!("{}/{} {kind} w={w}", case["x"], case["y"]);
            let corr = rolling_corr(&x, &y, w).unwrap();
            let beta = rolling_beta(&x, &y, w).unwrap();
            let (want_c, want_b) = (floats(&case["corr"]), floats(&case["beta"]));
            let mut worst: f64 = 0.0;
            for (j, &t) in indices(&case["idx"]).iter().enumerate() {
                worst = worst.max(check(&format!("{name} corr[{t}]"), corr[t], want_c[j], 1.0));
                // A beta near zero has no relative digits; its natural scale is std(y)/std(x) of the window.
                let scale = if t + 1 >= w { std(&y[t + 1 - w..=t]) / std(&x[t + 1 - w..=t]) } else { f64::NAN };
                worst = worst.max(check(&format!("{name} beta[{t}]"), beta[t], want_b[j], scale));
            }
            assert!(x.len() > 8000 && want_c.len() > 600, "{name}: the check must cover the long series");
            eprintln!("{name}: worst error vs pandas {worst:.2e}");
        }
    }

    #[test]
    fn rolling_sums_stay_exact_at_every_point_of_a_long_series() {
        // A direct two-pass per window over all 8313 rows: drift of the O(1) sums would show up late in the series.
        for (xs, ys, kind, w) in
            [("XOM", "CVX", "price", 60), ("AAPL", "MSFT", "logret", 20), ("HD", "UNH", "price", 250)]
        {
            let (x, y) = (series(xs, kind), series(ys, kind));
            let corr = rolling_corr(&x, &y, w).unwrap();
            let beta = rolling_beta(&x, &y, w).unwrap();
            let start = usize::from(kind == "logret");
            let mut worst: f64 = 0.0;
            for t in start + w - 1..x.len() {
                let (a, b) = (&x[t + 1 - w..=t], &y[t + 1 - w..=t]);
                let (ma, mb) = (a.iter().sum::<f64>() / w as f64, b.iter().sum::<f64>() / w as f64);
                let saa: f64 = a.iter().map(|v| (v - ma).powi(2)).sum();
                let sbb: f64 = b.iter().map(|v| (v - mb).powi(2)).sum();
                let sab: f64 = a.iter().zip(b).map(|(p, q)| (p - ma) * (q - mb)).sum();
                worst = worst.max(check("corr", corr[t], Some(sab / (saa * sbb).sqrt()), 1.0));
                worst = worst.max(check("beta", beta[t], Some(sab / saa), (sbb / saa).sqrt()));
            }
            assert!(corr[..start + w - 1].iter().all(|v| v.is_nan()));
            eprintln!("{xs}/{ys} {kind} w={w}: worst error vs two-pass {worst:.2e}");
        }
    }

    #[test]
    fn a_jump_to_a_far_price_level_does_not_cost_precision() {
        // Ticks of 0.01 on a level of 1e6 after a stretch near zero: sums centred on a stale level would cancel
        // twelve digits away; the periodic rebuild recentres them within one window.
        let (nx, ny) = (noise(3000, 11), noise(3000, 12));
        let x: Vec<f64> = (0..3000).map(|t| if t < 500 { nx[t] } else { 1e6 + 0.01 * nx[t] }).collect();
        let y: Vec<f64> = (0..3000).map(|t| if t < 500 { ny[t] } else { 2e5 + 0.01 * (0.6 * nx[t] + ny[t]) }).collect();
        let w = 40;
        let (corr, beta) = (rolling_corr(&x, &y, w).unwrap(), rolling_beta(&x, &y, w).unwrap());
        let c = rolling_cointegration(&x, &y, w).unwrap();
        let mut worst: f64 = 0.0;
        for t in 500 + w..x.len() {
            let (da, db) = (centred(&x[t + 1 - w..=t]), centred(&y[t + 1 - w..=t]));
            let saa: f64 = da.iter().map(|v| v * v).sum();
            let sbb: f64 = db.iter().map(|v| v * v).sum();
            let sab: f64 = da.iter().zip(&db).map(|(p, q)| p * q).sum();
            worst = worst.max(check(&format!("corr[{t}]"), corr[t], Some(sab / (saa * sbb).sqrt()), 1.0));
            worst = worst.max(check(&format!("beta[{t}]"), beta[t], Some(sab / saa), (sbb / saa).sqrt()));
            let e: Vec<f64> = da.iter().zip(&db).map(|(p, q)| q - sab / saa * p).collect();
            let z = e[w - 1] / (e.iter().map(|v| v * v).sum::<f64>() / (w - 1) as f64).sqrt();
            worst = worst.max(check(&format!("zscore[{t}]"), c.zscore[t], Some(z), 1.0));
            worst = worst.max(check(&format!("adf_t[{t}]"), c.adf_t[t], Some(dickey_fuller_t(&e)), 1.0));
        }
        eprintln!("level jump: worst error vs two-pass {worst:.2e}");
    }

    /// The textbook Dickey-Fuller t of a series: OLS of Δe_t on e_{t-1}, no constant.
    fn dickey_fuller_t(e: &[f64]) -> f64 {
        let (lag, de): (Vec<f64>, Vec<f64>) = e.windows(2).map(|p| (p[0], p[1] - p[0])).unzip();
        let sxx: f64 = lag.iter().map(|v| v * v).sum();
        let gamma = lag.iter().zip(&de).map(|(p, q)| p * q).sum::<f64>() / sxx;
        let ssr: f64 = lag.iter().zip(&de).map(|(p, q)| (q - gamma * p).powi(2)).sum();
        gamma / (ssr / (de.len() - 1) as f64 / sxx).sqrt()
    }

    #[test]
    fn a_bad_tick_leaves_no_trace_once_it_leaves_the_window() {
        // One print 1e5 times the usual move: while it is in the window it dominates, after it leaves the window
        // its square's rounding must not linger as noise in the variance.
        let (nx, ny) = (noise(400, 13), noise(400, 14));
        let mut x: Vec<f64> = nx.iter().map(|v| 25.0 + 0.01 * v).collect();
        x[101] = 2500.0;
        let y: Vec<f64> = (0..400).map(|t| 60.0 + 0.01 * (0.5 * nx[t] + ny[t])).collect();
        let w = 30;
        let (corr, beta) = (rolling_corr(&x, &y, w).unwrap(), rolling_beta(&x, &y, w).unwrap());
        let c = rolling_cointegration(&x, &y, w).unwrap();
        for t in w - 1..x.len() {
            let (da, db) = (centred(&x[t + 1 - w..=t]), centred(&y[t + 1 - w..=t]));
            let saa: f64 = da.iter().map(|v| v * v).sum();
            let sbb: f64 = db.iter().map(|v| v * v).sum();
            let sab: f64 = da.iter().zip(&db).map(|(p, q)| p * q).sum();
            check(&format!("corr[{t}]"), corr[t], Some(sab / (saa * sbb).sqrt()), 1.0);
            check(&format!("beta[{t}]"), beta[t], Some(sab / saa), (sbb / saa).sqrt());
            let e: Vec<f64> = da.iter().zip(&db).map(|(p, q)| q - sab / saa * p).collect();
            check(&format!("adf_t[{t}]"), c.adf_t[t], Some(dickey_fuller_t(&e)), 1.0);
        }
    }

    #[test]
    fn cointegration_matches_statsmodels_ols_and_adfuller() {
        let r = reference();
        for case in r["coint"].as_array().unwrap() {
            let kind = case["kind"].as_str().unwrap();
            let (x, y) = (series(case["x"].as_str().unwrap(), kind), series(case["y"].as_str().unwrap(), kind));
            let w = case["window"].as_u64().unwrap() as usize;
            let name = format!("{}/{} {kind} w={w}", case["x"], case["y"]);
            let c = rolling_cointegration(&x, &y, w).unwrap();
            let idx = indices(&case["idx"]);
            let mut worst: f64 = 0.0;
            for (j, &t) in idx.iter().enumerate() {
                let (xw, yw) = (&x[t + 1 - w..=t], &y[t + 1 - w..=t]);
                let beta_scale = std(yw) / std(xw);
                let level = yw.iter().map(|v| v.abs()).sum::<f64>() / w as f64;
                let cols: [(&str, &[f64], f64); 5] = [
                    ("hedge_ratio", &c.hedge_ratio, beta_scale),
                    ("intercept", &c.intercept, level),
                    ("spread", &c.spread, std(yw)),
                    ("zscore", &c.zscore, 1.0),
                    ("adf_t", &c.adf_t, 1.0),
                ];
                for (col, got, scale) in cols {
                    let want = floats(&case[col])[j];
                    worst = worst.max(check(&format!("{name} {col}[{t}]"), got[t], want, scale));
                }
            }
            assert!(idx.len() > 250 && *idx.last().unwrap() > 8000, "{name}: windows across the whole series");
            assert!(c.adf_t[..w - 1].iter().all(|v| v.is_nan()) && !c.adf_t[w - 1].is_nan());
            eprintln!("{name}: worst error vs statsmodels {worst:.2e}");
        }
    }

    #[test]
    fn engle_granger_critical_values_match_statsmodels_coint() {
        let r = reference();
        for (w, want) in r["engle_granger_crit"].as_object().unwrap() {
            let got = engle_granger_critical_values(w.parse().unwrap());
            for (g, e) in got.iter().zip(floats(want)) {
                check(&format!("critical value w={w}"), *g, e, 1.0);
            }
        }
        // A gate at 5% must be stricter than 10% and looser than 1%.
        let [one, five, ten] = engle_granger_critical_values(120);
        assert!(one < five && five < ten);
    }

    #[test]
    fn lead_lag_matches_pandas_shifted_rolling_corr() {
        let r = reference();
        for case in r["lead_lag"].as_array().unwrap() {
            let x = series(case["x"].as_str().unwrap(), "logret");
            let mut y = series(case["y"].as_str().unwrap(), "logret");
            let head = case["y_nan_head"].as_u64().unwrap() as usize;
            y[..head].fill(f64::NAN);
            let (w, lmax) = (case["window"].as_u64().unwrap() as usize, case["max_lag"].as_u64().unwrap() as usize);
            let name = format!("{}/{} w={w} L={lmax}", case["x"], case["y"]);
            let ll = lead_lag_corr(&x, &y, w, lmax).unwrap();
            let idx = indices(&case["idx"]);
            let mut worst: f64 = 0.0;
            for k in -(lmax as isize)..=lmax as isize {
                let got = ll.at_lag(k).unwrap();
                for (j, want) in floats(&case["corr"][k.to_string()]).into_iter().enumerate() {
                    worst = worst.max(check(&format!("{name} lag {k} [{}]", idx[j]), got[idx[j]], want, 1.0));
                }
            }
            let (want_lag, want_corr) = (floats(&case["best_lag"]), floats(&case["best_corr"]));
            for (j, &t) in idx.iter().enumerate() {
                assert_eq!(ll.best_lag[t].is_nan(), want_lag[j].is_none(), "{name} best_lag[{t}] defined");
                if let Some(k) = want_lag[j] {
                    assert_eq!(ll.best_lag[t], k, "{name} best_lag[{t}]");
                }
                worst = worst.max(check(&format!("{name} best_corr[{t}]"), ll.best_corr[t], want_corr[j], 1.0));
            }
            assert!(ll.at_lag(lmax as isize + 1).is_none() && ll.at_lag(-(lmax as isize) - 1).is_none());
            eprintln!("{name}: worst error vs pandas {worst:.2e}");
        }
    }

    /// Deterministic noise in [-0.5, 0.5) for synthetic series (xorshift64*).
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    #[test]
    fn lead_lag_finds_a_planted_lead_with_the_documented_sign() {
        let x = noise(600, 1);
        let eps = noise(600, 2);
        // y follows x three steps later: x leads y, so the best lag is +3.
        let y: Vec<f64> = (0..600).map(|t| if t >= 3 { x[t - 3] + 0.2 * eps[t] } else { eps[t] }).collect();
        let ll = lead_lag_corr(&x, &y, 50, 6).unwrap();
        assert!(ll.best_lag[60..].iter().all(|&k| k == 3.0), "x leads y by 3");
        assert!(ll.best_corr[60..].iter().all(|&c| c > 0.9));
        // Swapping the roles makes y the leader: the sign flips.
        let swapped = lead_lag_corr(&y, &x, 50, 6).unwrap();
        assert!(swapped.best_lag[60..].iter().all(|&k| k == -3.0), "y leads x by 3");
    }

    #[test]
    fn lead_lag_ties_go_to_the_shortest_lag() {
        // A period-2 series against itself: every lag correlates exactly ±1, so only the tie rule decides.
        let x: Vec<f64> = (0..40).map(|t| if t % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let ll = lead_lag_corr(&x, &x, 10, 3).unwrap();
        assert!(ll.at_lag(-3).unwrap()[12..].iter().all(|&c| c == -1.0));
        assert!(ll.best_lag[12..].iter().all(|&k| k == 0.0) && ll.best_corr[12..].iter().all(|&c| c == 1.0));
    }

    /// Every output column of every feature, on the same inputs.
    fn all_outputs(x: &[f64], y: &[f64]) -> Vec<Vec<f64>> {
        let c = rolling_cointegration(x, y, 30).unwrap();
        let ll = lead_lag_corr(x, y, 30, 4).unwrap();
        let mut cols = vec![rolling_corr(x, y, 30).unwrap(), rolling_beta(x, y, 30).unwrap()];
        cols.extend([c.hedge_ratio, c.intercept, c.spread, c.zscore, c.adf_t, ll.best_lag, ll.best_corr]);
        cols.extend(ll.corr);
        cols
    }

    #[test]
    fn outputs_at_t_never_depend_on_points_after_t() {
        let (x, y) = (series("XOM", "price"), series("CVX", "price"));
        let (x, y) = (&x[..700], &y[..700]);
        let full = all_outputs(x, y);
        for t in [40, 63, 64, 100, 333, 500, 698] {
            // Truncating at t.
            let cut = all_outputs(&x[..=t], &y[..=t]);
            for (f, c) in full.iter().zip(&cut) {
                assert!(same_bits(&f[..=t], c), "truncation at {t} changed an output");
            }
            // Rewriting the future of either series, and of both.
            let wild = |s: &[f64]| -> Vec<f64> {
                s.iter().enumerate().map(|(i, &v)| if i > t { v * 3.0 + (i as f64).sin() * 50.0 } else { v }).collect()
            };
            for (xa, ya) in [(wild(x), y.to_vec()), (x.to_vec(), wild(y)), (wild(x), wild(y))] {
                for (f, c) in full.iter().zip(all_outputs(&xa, &ya)) {
                    assert!(same_bits(&f[..=t], &c[..=t]), "changing points after {t} changed an output");
                }
            }
        }
    }

    #[test]
    fn bad_inputs_give_the_right_error() {
        let x = noise(100, 3);
        let y = noise(100, 4);
        let mismatch = rolling_corr(&x, &y[..99], 10).unwrap_err();
        assert!(matches!(mismatch, FeatureError::LengthMismatch { .. }), "{mismatch:?}");
        assert!(matches!(lead_lag_corr(&x, &y[..99], 10, 20), Err(FeatureError::LengthMismatch { .. })));
        for err in [
            rolling_corr(&x, &y, 2).unwrap_err(),
            rolling_beta(&x, &y, 0).unwrap_err(),
            rolling_cointegration(&x, &y, 2).unwrap_err(),
            lead_lag_corr(&x, &y, 2, 0).unwrap_err(),
        ] {
            assert!(matches!(&err, FeatureError::InvalidParameter { param, .. } if param == "window"), "{err:?}");
        }
        let lag = lead_lag_corr(&x, &y, 10, 10).unwrap_err();
        assert!(matches!(&lag, FeatureError::InvalidParameter { param, .. } if param == "max_lag"), "{lag:?}");
        assert!(lead_lag_corr(&x, &y, 10, 9).is_ok());

        let mut gap_x = x.clone();
        gap_x[..5].fill(f64::NAN);
        gap_x[50] = f64::NAN;
        let want = FeatureError::NanGap { feature: "rolling_beta".into(), column: "x".into(), row: 50 };
        assert_eq!(rolling_beta(&gap_x, &y, 10).unwrap_err(), want);
        let mut gap_y = y.clone();
        gap_y[70] = f64::NAN;
        let want = FeatureError::NanGap { feature: "rolling_cointegration".into(), column: "y".into(), row: 70 };
        assert_eq!(rolling_cointegration(&x, &gap_y, 10).unwrap_err(), want);
        assert!(matches!(lead_lag_corr(&x, &gap_y, 10, 3), Err(FeatureError::NanGap { row: 70, .. })));

        let short = FeatureError::TooShort { feature: "rolling_corr".into(), len: 100, needed: 101 };
        assert_eq!(rolling_corr(&x, &y, 101).unwrap_err(), short);
        let mut late = y.clone();
        late[..60].fill(f64::NAN);
        let short = FeatureError::TooShort { feature: "lead_lag_corr".into(), len: 100, needed: 60 + 35 + 6 };
        assert_eq!(lead_lag_corr(&x, &late, 35, 6).unwrap_err(), short);
        assert!(matches!(rolling_corr(&[f64::NAN; 10], &[1.0; 10], 3), Err(FeatureError::TooShort { .. })));
    }

    #[test]
    fn leading_nans_delay_the_first_value_to_the_later_series() {
        let (mut x, mut y) = (noise(80, 5), noise(80, 6));
        x[..3].fill(f64::NAN);
        y[..7].fill(f64::NAN);
        let corr = rolling_corr(&x, &y, 10).unwrap();
        assert!(corr[..16].iter().all(|v| v.is_nan()) && corr[16..].iter().all(|v| v.is_finite()));
        assert_eq!(corr[16..], rolling_corr(&x[7..], &y[7..], 10).unwrap()[9..]);
        let c = rolling_cointegration(&x, &y, 10).unwrap();
        assert!(c.zscore[..16].iter().all(|v| v.is_nan()) && c.zscore[16..].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn degenerate_windows_are_nan_not_noise() {
        // x is flat for 40 points in the middle: no correlation or hedge ratio exists in windows inside the run.
        let mut x: Vec<f64> = noise(120, 7).iter().map(|v| 100.0 + v).collect();
        x[45..85].fill(100.123);
        let y: Vec<f64> = noise(120, 8).iter().map(|v| 50.0 + v).collect();
        let (corr, beta) = (rolling_corr(&x, &y, 20).unwrap(), rolling_beta(&x, &y, 20).unwrap());
        let c = rolling_cointegration(&x, &y, 20).unwrap();
        for t in 64..85 {
            assert!(corr[t].is_nan() && beta[t].is_nan() && c.hedge_ratio[t].is_nan() && c.adf_t[t].is_nan(), "{t}");
        }
        assert!(corr[63].is_finite() && corr[85].is_finite() && c.adf_t[85].is_finite());
        // y an exact linear function of x: the hedge ratio is exact, the spread statistics are undefined.
        let y: Vec<f64> = x.iter().map(|v| 2.5 * v - 7.0).collect();
        let c = rolling_cointegration(&x, &y, 20).unwrap();
        for t in (19..120).filter(|t| !(64..85).contains(t)) {
            assert!((c.hedge_ratio[t] - 2.5).abs() < 1e-9 && (c.intercept[t] + 7.0).abs() < 1e-6, "{t}");
            assert!(c.zscore[t].is_nan() && c.adf_t[t].is_nan(), "{t}");
        }
        let same = rolling_corr(&x, &x, 20).unwrap();
        assert!(same[19..64].iter().all(|&v| (v - 1.0).abs() < 1e-12));
    }
}
