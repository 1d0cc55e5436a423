//! Volatility and bands: Bollinger, ATR and NATR (TA-Lib), Keltner and Donchian channels,
//! realised volatility (close-to-close, Parkinson, Garman-Klass) and the rolling z-score.

use super::moving::{Ema, Sma};
use super::window::{InputWindow, Ring, RollingMoments, RollingRange, Window};
use super::{Indicator, Ohlcv, period};
use crate::features::error::FeatureError;

/// Population variance of the last `period` values as TA-Lib 0.8 computes it: running sums of
/// the values shifted by a reference value, rebuilt from the window (with a fresh shift) when
/// cancellation threatens or every 32·period bars. A flat window gives exactly 0.
/// The window is kept beside it (the indicator's ring, or the batch input).
///
/// In C layout with the two sums apart: side by side, the compiler paired their updates into one
/// two-lane operation on memory and kept both sums on the stack in the batch loop, a store and a
/// reload on every bar's chain.
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct ShiftedVariance {
    p1: f64,
    period: usize,
    /// 1/period, divided once rather than on every bar.
    inv: f64,
    shift: f64,
    until_rebuild: usize,
    p2: f64,
}

impl ShiftedVariance {
    pub fn new(period_: usize) -> Self {
        Self { period: period_, inv: 1.0 / period_ as f64, shift: 0.0, p1: 0.0, p2: 0.0, until_rebuild: 32 * period_ }
    }

    /// Adds `x` to `window` (of capacity `period`); the variance of the window once it is full.
    #[inline(always)]
    pub fn push(&mut self, x: f64, window: &mut impl Window) -> Option<f64> {
        if window.len() == 0 {
            self.shift = x;
        }
        window.push(x);
        let u = x - self.shift;
        self.p1 += u;
        let q = u * u;
        self.p2 += q;
        if !window.is_full() {
            return None;
        }
        let inv = self.inv;
        let m = self.p1 * inv;
        let mut var = self.p2 * inv - m * m;
        let old = window.ago(self.period - 1);
        let u = old - self.shift;
        self.p1 -= u;
        let q = u * u;
        self.p2 -= q;
        self.until_rebuild -= 1;
        if var < 0.000_001 * (self.p2 * inv) || q > 1_000_000.0 * self.p2 || self.until_rebuild == 0 {
            let (older, newer) = window.as_slices();
            var = self.rebuild(older, newer, old, inv);
        }
        Some(var)
    }

    // Inlined although rare: out of line it would take the state by reference, which keeps the
    // state out of registers in the batch loop.
    #[inline(always)]
    fn rebuild(&mut self, older: &[f64], newer: &[f64], old: f64, inv: f64) -> f64 {
        self.until_rebuild = 32 * self.period;
        let mut s = 0.0;
        for v in older.iter().chain(newer) {
            s += v;
        }
        let shift = s * inv;
        // Summed in locals: sums accumulated through `self` made the compiler keep them in
        // memory in the batch loop too, adding a store and a load to every bar's chain.
        let (mut p1, mut p2) = (0.0, 0.0);
        for v in older.iter().chain(newer) {
            let u = v - shift;
            p1 += u;
            p2 += u * u;
        }
        let m = p1 * inv;
        let mut var = p2 * inv - m * m;
        if var < 0.000_000_000_001 * (p2 * inv) {
            var = 0.0;
        }
        let u = old - shift;
        self.shift = shift;
        self.p1 = p1 - u;
        self.p2 = p2 - u * u;
        var
    }

    pub fn clear(&mut self) {
        self.p1 = 0.0;
        self.p2 = 0.0;
        self.until_rebuild = 32 * self.period;
    }
}

/// Bollinger Bands: SMA ± k·σ with the population σ of the same window (TA-Lib's variance);
/// lookback `period − 1`.
#[derive(Clone, Debug)]
pub struct BollingerBands {
    sma: Sma,
    window: Ring,
    variance: ShiftedVariance,
    dev_up: f64,
    dev_down: f64,
    period: usize,
}

impl BollingerBands {
    pub fn new(period_: usize, dev_up: f64, dev_down: f64) -> Result<Self, FeatureError> {
        let period_ = period("bbands", "period", period_, 2)?;
        for (name, v) in [("dev_up", dev_up), ("dev_down", dev_down)] {
            if !v.is_finite() || v < 0.0 {
                return Err(FeatureError::param("bbands", name, format!("must be a finite number >= 0, got {v}")));
            }
        }
        Ok(Self {
            sma: Sma::new(period_)?,
            window: Ring::new(period_),
            variance: ShiftedVariance::new(period_),
            dev_up,
            dev_down,
            period: period_,
        })
    }
}

impl Indicator for BollingerBands {
    type Input = f64;
    /// `[upper, middle, lower]`.
    type Output = [f64; 3];
    fn name(&self) -> &'static str {
        "bbands"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> [f64; 3] {
        let middle = self.sma.next(x);
        let var = self.variance.push(x, &mut self.window);
        self.bands(middle, var)
    }
    #[inline(always)]
    fn next_in(&mut self, inputs: &[f64], seen: usize) -> [f64; 3] {
        let middle = self.sma.next_in(inputs, seen);
        let var = self.variance.push(inputs[seen], &mut InputWindow::new(inputs, seen, self.period));
        self.bands(middle, var)
    }
    fn resume(&mut self, inputs: &[f64]) {
        self.sma.resume(inputs);
        self.window.refill(inputs);
    }
    fn reset(&mut self) {
        self.sma.reset();
        self.window.clear();
        self.variance.clear();
    }
}

impl BollingerBands {
    #[inline(always)]
    fn bands(&self, middle: f64, var: Option<f64>) -> [f64; 3] {
        let Some(var) = var else {
            return [f64::NAN; 3];
        };
        let sd = if var != 0.0 { var.sqrt() } else { 0.0 };
        if self.dev_up == self.dev_down {
            let width = sd * self.dev_up;
            [middle + width, middle, middle - width]
        } else {
            [sd.mul_add(self.dev_up, middle), middle, middle - sd * self.dev_down]
        }
    }
}

/// True range max(H−L, |C₋₁−H|, |C₋₁−L|), defined from the second bar.
#[inline(always)]
fn true_range(bar: &Ohlcv, prev_close: f64) -> f64 {
    let mut greatest = bar.high - bar.low;
    let up = (prev_close - bar.high).abs();
    if up > greatest {
        greatest = up;
    }
    let down = (prev_close - bar.low).abs();
    if down > greatest {
        greatest = down;
    }
    greatest
}

/// Average true range with Wilder smoothing, seeded with the mean true range of bars 1..=period;
/// lookback `period`.
///
/// Why its batch is not faster than TA-Lib's: TA-Lib 0.8's loop is this same recurrence, one
/// fused multiply-add per bar that waits on the last, and equal-to-the-bit results need the same
/// chain. TA-Lib runs at that chain's latency (870-884 Mpt/s in cache, measured); ours, with the
/// NaN check and a few more instructions per bar, at 560-760, and no bit-exact form can pass the
/// latency. Unrolled two bars ahead, atr_t = wb²·atr_{t−2} + (wb·u_{t−1} + u_t) with u = wa·TR
/// and the true ranges vectorised per block, ATR ran 1.36-1.39x faster in cache but differed
/// from TA-Lib by an ulp in a third of a random walk's rows (32.7%, measured): not used.
#[derive(Clone, Debug)]
pub struct Atr {
    period: usize,
    /// Wilder's weights (N−1)/N and 1 − (N−1)/N, as TA-Lib 0.8 computes them.
    wb: f64,
    wa: f64,
    prev_close: f64,
    ranges: usize,
    value: f64,
}

impl Atr {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        Self::named("atr", period_)
    }

    fn named(feature: &str, period_: usize) -> Result<Self, FeatureError> {
        let period_ = period(feature, "period", period_, 1)?;
        let n = period_ as f64;
        let wb = (n - 1.0) / n;
        Ok(Self { period: period_, wb, wa: 1.0 - wb, prev_close: f64::NAN, ranges: 0, value: 0.0 })
    }
}

impl Indicator for Atr {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "atr"
    }
    fn lookback(&self) -> usize {
        self.period
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let prev_close = std::mem::replace(&mut self.prev_close, bar.close);
        // Once seeded, one test per bar: a seeded ATR has seen a previous close.
        if self.ranges >= self.period {
            // Wilder smoothing as TA-Lib 0.8 writes it: fma(wb, atr, wa·TR).
            self.value = self.wb.mul_add(self.value, self.wa * true_range(&bar, prev_close));
            return self.value;
        }
        if prev_close.is_nan() {
            return f64::NAN;
        }
        self.value += true_range(&bar, prev_close);
        self.ranges += 1;
        if self.ranges < self.period {
            return f64::NAN;
        }
        self.value /= self.period as f64;
        self.value
    }
    fn reset(&mut self) {
        self.prev_close = f64::NAN;
        self.ranges = 0;
        self.value = 0.0;
    }
}

/// ATR as a percentage of the close (0 where the close is 0); lookback `period`.
#[derive(Clone, Debug)]
pub struct Natr {
    atr: Atr,
}

impl Natr {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        Ok(Self { atr: Atr::named("natr", period_)? })
    }
}

impl Indicator for Natr {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "natr"
    }
    fn lookback(&self) -> usize {
        self.atr.lookback()
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let atr = self.atr.next(bar);
        if atr.is_nan() {
            return f64::NAN;
        }
        if bar.close != 0.0 { (atr / bar.close) * 100.0 } else { 0.0 }
    }
    fn reset(&mut self) {
        self.atr.reset();
    }
}

/// Keltner channel: EMA(period) of the close ± multiplier·ATR(atr_period). Not in TA-Lib; it is
/// defined from TA-Lib's EMA and ATR and starts when both are defined.
#[derive(Clone, Debug)]
pub struct Keltner {
    ema: Ema,
    atr: Atr,
    multiplier: f64,
}

impl Keltner {
    pub fn new(period_: usize, multiplier: f64, atr_period: usize) -> Result<Self, FeatureError> {
        if !multiplier.is_finite() || multiplier < 0.0 {
            return Err(FeatureError::param(
                "keltner",
                "multiplier",
                format!("must be a finite number >= 0, got {multiplier}"),
            ));
        }
        Ok(Self { ema: Ema::named("keltner", period_)?, atr: Atr::named("keltner", atr_period)?, multiplier })
    }
}

impl Indicator for Keltner {
    type Input = Ohlcv;
    /// `[upper, middle, lower]`.
    type Output = [f64; 3];
    fn name(&self) -> &'static str {
        "keltner"
    }
    fn lookback(&self) -> usize {
        self.ema.lookback().max(self.atr.lookback())
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> [f64; 3] {
        let middle = self.ema.next(bar.close);
        let atr = self.atr.next(bar);
        if middle.is_nan() || atr.is_nan() {
            return [f64::NAN; 3];
        }
        let width = self.multiplier * atr;
        [middle + width, middle, middle - width]
    }
    fn reset(&mut self) {
        self.ema.reset();
        self.atr.reset();
    }
}

/// Donchian channel: highest high and lowest low of the last `period` bars and their midpoint;
/// lookback `period − 1` (the upper band equals TA-Lib's MAX of the highs, the lower its MIN of the lows).
#[derive(Clone, Debug)]
pub struct Donchian {
    period: usize,
    range: RollingRange,
}

impl Donchian {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("donchian", "period", period_, 1)?;
        Ok(Self { period: period_, range: RollingRange::new(period_) })
    }
}

impl Indicator for Donchian {
    type Input = Ohlcv;
    /// `[upper, middle, lower]`.
    type Output = [f64; 3];
    fn name(&self) -> &'static str {
        "donchian"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> [f64; 3] {
        let (upper, lower) = self.range.push(bar.high, bar.low);
        if !self.range.is_full() {
            return [f64::NAN; 3];
        }
        [upper, (upper + lower) / 2.0, lower]
    }
    fn reset(&mut self) {
        self.range.clear();
    }
}

/// Close-to-close realised volatility: the sample standard deviation (ddof 1) of the last
/// `period` log returns, per bar (multiply by √(bars per year) to annualise); lookback `period`.
#[derive(Clone, Debug)]
pub struct RealisedVol {
    period: usize,
    prev: f64,
    returns: RollingMoments,
    defined: DefinedWindow,
}

impl RealisedVol {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("rvol", "period", period_, 2)?;
        Ok(Self {
            period: period_,
            prev: f64::NAN,
            returns: RollingMoments::new(period_),
            defined: DefinedWindow::new(period_),
        })
    }
}

/// Whether each of the last `period` log terms was defined. A non-positive price has no
/// logarithm: every window holding it is undefined (NaN), not a volatility computed from a stand-in.
#[derive(Clone, Debug)]
struct DefinedWindow {
    period: usize,
    /// Terms admitted since the last undefined one (saturating; starts "long ago").
    since_undefined: usize,
}

impl DefinedWindow {
    fn new(period_: usize) -> Self {
        Self { period: period_, since_undefined: usize::MAX }
    }

    /// The term to accumulate (0 in place of an undefined one) and whether the window ending
    /// here holds only defined terms.
    #[inline(always)]
    fn admit(&mut self, term: f64) -> (f64, bool) {
        if term.is_finite() {
            self.since_undefined = self.since_undefined.saturating_add(1);
            (term, self.since_undefined >= self.period)
        } else {
            self.since_undefined = 0;
            (0.0, false)
        }
    }

    fn clear(&mut self) {
        self.since_undefined = usize::MAX;
    }
}

impl Indicator for RealisedVol {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "rvol"
    }
    fn lookback(&self) -> usize {
        self.period
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        let prev = std::mem::replace(&mut self.prev, x);
        if prev.is_nan() {
            return f64::NAN;
        }
        let (r, defined) = self.defined.admit((x / prev).ln());
        self.returns.push(r);
        if self.returns.is_full() && defined { self.returns.variance(1).sqrt() } else { f64::NAN }
    }
    fn reset(&mut self) {
        self.prev = f64::NAN;
        self.returns.clear();
        self.defined.clear();
    }
}

/// A rolling sum of one per-bar term, for the range-based volatility estimators.
#[derive(Clone, Debug)]
struct RollingSum {
    window: Ring,
    sum: f64,
}

impl RollingSum {
    fn new(period_: usize) -> Self {
        Self { window: Ring::new(period_), sum: 0.0 }
    }

    /// Adds `x`; the window's sum once it is full.
    #[inline(always)]
    fn push(&mut self, x: f64) -> Option<f64> {
        self.sum += x;
        if let Some(old) = self.window.push(x) {
            self.sum -= old;
        }
        self.window.is_full().then_some(self.sum)
    }

    fn clear(&mut self) {
        self.window.clear();
        self.sum = 0.0;
    }
}

/// Parkinson volatility √(Σ ln(H/L)² / (4·n·ln 2)) over the last `period` bars, per bar;
/// lookback `period − 1`.
#[derive(Clone, Debug)]
pub struct ParkinsonVol {
    period: usize,
    terms: RollingSum,
    defined: DefinedWindow,
}

impl ParkinsonVol {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("parkinson", "period", period_, 1)?;
        Ok(Self { period: period_, terms: RollingSum::new(period_), defined: DefinedWindow::new(period_) })
    }
}

impl Indicator for ParkinsonVol {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "parkinson"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let hl = (bar.high / bar.low).ln();
        let (term, defined) = self.defined.admit(hl * hl);
        match self.terms.push(term) {
            Some(sum) if defined => (sum.max(0.0) / (4.0 * self.period as f64 * std::f64::consts::LN_2)).sqrt(),
            _ => f64::NAN,
        }
    }
    fn reset(&mut self) {
        self.terms.clear();
        self.defined.clear();
    }
}

/// Garman-Klass volatility √(mean(½·ln(H/L)² − (2·ln 2 − 1)·ln(C/O)²)) over the last `period`
/// bars, per bar; lookback `period − 1`.
#[derive(Clone, Debug)]
pub struct GarmanKlassVol {
    period: usize,
    terms: RollingSum,
    defined: DefinedWindow,
}

impl GarmanKlassVol {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("garman_klass", "period", period_, 1)?;
        Ok(Self { period: period_, terms: RollingSum::new(period_), defined: DefinedWindow::new(period_) })
    }
}

impl Indicator for GarmanKlassVol {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "garman_klass"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let hl = (bar.high / bar.low).ln();
        let co = (bar.close / bar.open).ln();
        let (term, defined) = self.defined.admit(0.5 * hl * hl - (2.0 * std::f64::consts::LN_2 - 1.0) * co * co);
        match self.terms.push(term) {
            Some(sum) if defined => (sum / self.period as f64).max(0.0).sqrt(),
            _ => f64::NAN,
        }
    }
    fn reset(&mut self) {
        self.terms.clear();
        self.defined.clear();
    }
}

/// Rolling z-score (x − mean)/σ over the last `period` values, σ with ddof 1 (pandas' default);
/// 0 when the window is constant; lookback `period − 1`.
#[derive(Clone, Debug)]
pub struct RollingZScore {
    period: usize,
    moments: RollingMoments,
}

impl RollingZScore {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("zscore", "period", period_, 2)?;
        Ok(Self { period: period_, moments: RollingMoments::new(period_) })
    }
}

impl Indicator for RollingZScore {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "zscore"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        self.moments.push(x);
        if !self.moments.is_full() {
            return f64::NAN;
        }
        let sd = self.moments.variance(1).sqrt();
        let dev = x - self.moments.mean();
        // A window whose spread is rounding noise is constant: no deviation to score.
        if sd <= 1e-12 * self.moments.mean().abs().max(1e-300) { 0.0 } else { dev / sd }
    }
    fn reset(&mut self) {
        self.moments.clear();
    }
}
