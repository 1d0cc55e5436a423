//! Range oscillators: stochastic %K/%D, stochastic RSI, Williams %R, CCI and the money flow
//! index, with TA-Lib's lookbacks and its zero guards.

use super::momentum::{Rsi, negligible};
use super::moving::Sma;
use super::window::{Ring, RollingRange, Window};
use super::{Indicator, Ohlcv, period};
use crate::features::error::FeatureError;

/// Raw %K of a value within the range of its window (0 when the range is empty).
#[inline(always)]
fn fast_k(value: f64, highest: f64, lowest: f64) -> f64 {
    let range = highest - lowest;
    if negligible(range, highest.abs() + lowest.abs()) { 0.0 } else { ((value - lowest) / range) * 100.0 }
}

/// Slow stochastic: %K = SMA(raw %K, slow_k), %D = SMA(%K, slow_d), raw %K over `fast_k` bars.
/// Both outputs start together at lookback `fast_k − 1 + slow_k − 1 + slow_d − 1`.
#[derive(Clone, Debug)]
pub struct Stochastic {
    fast_period: usize,
    range: RollingRange,
    slow_k: Sma,
    slow_d: Sma,
}

impl Stochastic {
    pub fn new(fast_k: usize, slow_k: usize, slow_d: usize) -> Result<Self, FeatureError> {
        let fast_k = period("stoch", "fast_k", fast_k, 1)?;
        period("stoch", "slow_k", slow_k, 1)?;
        period("stoch", "slow_d", slow_d, 1)?;
        Ok(Self {
            fast_period: fast_k,
            range: RollingRange::new(fast_k),
            slow_k: Sma::new(slow_k)?,
            slow_d: Sma::new(slow_d)?,
        })
    }
}

impl Indicator for Stochastic {
    type Input = Ohlcv;
    /// `[k, d]`.
    type Output = [f64; 2];
    fn name(&self) -> &'static str {
        "stoch"
    }
    fn lookback(&self) -> usize {
        self.fast_period - 1 + self.slow_k.lookback() + self.slow_d.lookback()
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> [f64; 2] {
        let (highest, lowest) = self.range.push(bar.high, bar.low);
        if !self.range.is_full() {
            return [f64::NAN; 2];
        }
        let k = self.slow_k.next(fast_k(bar.close, highest, lowest));
        if k.is_nan() {
            return [f64::NAN; 2];
        }
        let d = self.slow_d.next(k);
        if d.is_nan() { [f64::NAN; 2] } else { [k, d] }
    }
    fn reset(&mut self) {
        self.range.clear();
        self.slow_k.reset();
        self.slow_d.reset();
    }
}

/// Stochastic RSI: the fast stochastic of RSI(period) over `fast_k` values, and its SMA(fast_d).
/// Both outputs start at lookback `period + fast_k − 1 + fast_d − 1`.
#[derive(Clone, Debug)]
pub struct StochRsi {
    rsi: Rsi,
    fast_period: usize,
    range: RollingRange,
    fast_d: Sma,
}

impl StochRsi {
    pub fn new(period_: usize, fast_k: usize, fast_d: usize) -> Result<Self, FeatureError> {
        let period_ = period("stochrsi", "period", period_, 2)?;
        let fast_k = period("stochrsi", "fast_k", fast_k, 1)?;
        period("stochrsi", "fast_d", fast_d, 1)?;
        Ok(Self {
            rsi: Rsi::new(period_)?,
            fast_period: fast_k,
            range: RollingRange::new(fast_k),
            fast_d: Sma::new(fast_d)?,
        })
    }
}

impl Indicator for StochRsi {
    type Input = f64;
    /// `[k, d]`.
    type Output = [f64; 2];
    fn name(&self) -> &'static str {
        "stochrsi"
    }
    fn lookback(&self) -> usize {
        self.rsi.lookback() + self.fast_period - 1 + self.fast_d.lookback()
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> [f64; 2] {
        let rsi = self.rsi.next(x);
        if rsi.is_nan() {
            return [f64::NAN; 2];
        }
        let (highest, lowest) = self.range.push(rsi, rsi);
        if !self.range.is_full() {
            return [f64::NAN; 2];
        }
        let k = fast_k(rsi, highest, lowest);
        let d = self.fast_d.next(k);
        if d.is_nan() { [f64::NAN; 2] } else { [k, d] }
    }
    fn reset(&mut self) {
        self.rsi.reset();
        self.range.clear();
        self.fast_d.reset();
    }
}

/// Williams %R = −100·(HH − C)/(HH − LL) over `period` bars (0 for an empty range); lookback `period − 1`.
#[derive(Clone, Debug)]
pub struct WilliamsR {
    period: usize,
    range: RollingRange,
}

impl WilliamsR {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("willr", "period", period_, 2)?;
        Ok(Self { period: period_, range: RollingRange::new(period_) })
    }
}

impl Indicator for WilliamsR {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "willr"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let (highest, lowest) = self.range.push(bar.high, bar.low);
        if !self.range.is_full() {
            return f64::NAN;
        }
        let range = highest - lowest;
        if negligible(range, highest.abs() + lowest.abs()) { 0.0 } else { ((highest - bar.close) / range) * -100.0 }
    }
    fn reset(&mut self) {
        self.range.clear();
    }
}

/// Commodity channel index (TP − SMA(TP)) / (0.015 · mean absolute deviation), TP = (H+L+C)/3;
/// 0 when either term is 0; lookback `period − 1`. The mean deviation around a moving mean has
/// no O(1) update, so each bar costs O(period), as in TA-Lib.
#[derive(Clone, Debug)]
pub struct Cci {
    period: usize,
    /// Typical prices by slot t mod period, summed in slot order as TA-Lib does (a time-ordered
    /// sum rounds differently).
    slots: Box<[f64]>,
    /// The slot the next typical price goes to (t mod period, kept without a division).
    slot: usize,
    /// The slot-order sum of the slots before `slot`, as the previous bar's sum passed through
    /// it: those slots have not changed since, so this bar's sum starts there, bit for bit the
    /// same, and adds only the slots from its own on (half the chain on average).
    prefix: f64,
    seen: usize,
}

impl Cci {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("cci", "period", period_, 2)?;
        Ok(Self { period: period_, slots: vec![0.0; period_].into_boxed_slice(), slot: 0, prefix: 0.0, seen: 0 })
    }
}

impl Indicator for Cci {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "cci"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let tp = (bar.high + bar.low + bar.close) / 3.0;
        let k = self.slot;
        self.slots[k] = tp;
        // (0.0 + slot 0 + … + slot k−1) + slot k, in the order a sum from 0.0 over the slots adds.
        let through = self.prefix + tp;
        let wraps = k + 1 == self.period;
        self.slot = if wraps { 0 } else { k + 1 };
        self.prefix = if wraps { 0.0 } else { through };
        if self.seen + 1 < self.period {
            self.seen += 1;
            return f64::NAN;
        }
        let n = self.period as f64;
        let mut mean = through;
        for v in &self.slots[k + 1..] {
            mean += v;
        }
        mean /= n;
        let mut deviation = 0.0;
        for v in &self.slots[..] {
            deviation += (v - mean).abs();
        }
        deviation /= n;
        let diff = tp - mean;
        let scale = mean.abs();
        if !negligible(diff, scale) && !negligible(deviation, scale) { diff / (0.015 * deviation) } else { 0.0 }
    }
    fn reset(&mut self) {
        self.seen = 0;
        self.slot = 0;
        self.prefix = 0.0;
    }
}

/// Money flow index: 100 · positive flow / total flow over the last `period` typical-price
/// changes, flow = TP·V, with TA-Lib 0.8's dead zone for changes that are rounding noise and its
/// exact reset after `period` flowless bars; 0 without flow; lookback `period`.
///
/// In C layout with the two sums apart: side by side, the compiler paired their updates into one
/// two-lane operation on memory and kept both on the stack in the batch loop (see
/// `ShiftedVariance`).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Mfi {
    pos_sum: f64,
    period: usize,
    prev_tp: f64,
    positive: Ring,
    negative: Ring,
    /// Consecutive bars without money flow: after `period` of them the sums are exactly 0.
    flowless: usize,
    neg_sum: f64,
}

impl Mfi {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("mfi", "period", period_, 2)?;
        Ok(Self {
            period: period_,
            prev_tp: f64::NAN,
            positive: Ring::new(period_),
            negative: Ring::new(period_),
            pos_sum: 0.0,
            neg_sum: 0.0,
            flowless: 0,
        })
    }
}

impl Indicator for Mfi {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "mfi"
    }
    fn lookback(&self) -> usize {
        self.period
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let tp = (bar.high + bar.low + bar.close) / 3.0;
        let prev = std::mem::replace(&mut self.prev_tp, tp);
        if prev.is_nan() {
            return f64::NAN;
        }
        let change = tp - prev;
        let mut flow = tp * bar.volume;
        if negligible(change, tp.abs() + prev.abs()) {
            flow = 0.0;
        }
        // Both written as "flow where a comparison holds, else 0", which compiles to a compare
        // mask and an AND; the "else flow" form became a branch on whether the typical price
        // fell, a coin toss the branch predictor loses half the time. `change` is finite.
        let pos = if change >= 0.0 { flow } else { 0.0 };
        let neg = if change < 0.0 { flow } else { 0.0 };
        if let Some(old) = self.positive.push(pos) {
            self.pos_sum -= old;
        }
        if let Some(old) = self.negative.push(neg) {
            self.neg_sum -= old;
        }
        self.pos_sum += pos;
        self.neg_sum += neg;
        self.flowless = if flow == 0.0 { self.flowless + 1 } else { 0 };
        if self.flowless >= self.period {
            self.flowless = self.period;
            self.pos_sum = 0.0;
            self.neg_sum = 0.0;
        }
        if !self.positive.is_full() {
            return f64::NAN;
        }
        let total = self.pos_sum + self.neg_sum;
        let pos = self.pos_sum.clamp(0.0, total.max(0.0));
        if total <= 0.0 { 0.0 } else { 100.0 * (pos / total) }
    }
    fn reset(&mut self) {
        self.prev_tp = f64::NAN;
        self.positive.clear();
        self.negative.clear();
        self.pos_sum = 0.0;
        self.neg_sum = 0.0;
        self.flowless = 0;
    }
}
