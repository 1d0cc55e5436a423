//! Momentum of one series: RSI, MACD, rate of change and momentum, with TA-Lib's seeds, lookbacks
//! and zero guards.

use super::moving::Ema;
use super::window::{InputWindow, Ring, Window};
use super::{Indicator, period};
use crate::features::error::FeatureError;

/// TA-Lib 0.8's zero test for a range relative to the prices it spans: rounding noise in a flat
/// window must read as an empty range, whatever the price scale.
#[inline(always)]
pub(crate) fn negligible(range: f64, scale: f64) -> bool {
    range.abs() <= 1e-14 * scale
}

/// Relative strength index with Wilder smoothing; lookback `period`. The first averages are the
/// plain means of the first `period` changes; 0 while there has been no change at all.
#[derive(Clone, Debug)]
pub struct Rsi {
    period: usize,
    /// 1/N and N−1 as floats, computed once.
    inv: f64,
    keep: f64,
    changes: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Rsi {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("rsi", "period", period_, 2)?;
        Ok(Self {
            period: period_,
            inv: 1.0 / period_ as f64,
            keep: (period_ - 1) as f64,
            changes: 0,
            prev: f64::NAN,
            gain: 0.0,
            loss: 0.0,
        })
    }

    #[inline(always)]
    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        if total > 0.0 { 100.0 * (self.gain / total) } else { 0.0 }
    }
}

impl Indicator for Rsi {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "rsi"
    }
    fn lookback(&self) -> usize {
        self.period
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        if self.prev.is_nan() {
            self.prev = x;
            return f64::NAN;
        }
        let diff = x - self.prev;
        self.prev = x;
        // TA-Lib 0.8 multiplies by 1/N rather than dividing by N: the last bit differs.
        let inv = self.inv;
        if self.changes >= self.period {
            self.loss *= self.keep;
            self.gain *= self.keep;
            // Branch-free but bit-identical to TA-Lib's if/else: adding or subtracting 0.0 is exact.
            self.loss -= diff.min(0.0);
            self.gain += diff.max(0.0);
            self.loss *= inv;
            self.gain *= inv;
            return self.value();
        }
        self.loss -= diff.min(0.0);
        self.gain += diff.max(0.0);
        self.changes += 1;
        if self.changes < self.period {
            return f64::NAN;
        }
        self.loss *= inv;
        self.gain *= inv;
        self.value()
    }
    fn reset(&mut self) {
        self.changes = 0;
        self.prev = f64::NAN;
        self.gain = 0.0;
        self.loss = 0.0;
    }
}

/// MACD: fast EMA − slow EMA, its signal EMA and the histogram. As in TA-Lib the fast EMA's seed
/// window ends on the same bar as the slow one's, and all three outputs start together at
/// lookback `slow − 1 + signal − 1`.
#[derive(Clone, Debug)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    seen: usize,
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, FeatureError> {
        let fast = period("macd", "fast", fast, 2)?;
        let slow = period("macd", "slow", slow, 2)?;
        let signal = period("macd", "signal", signal, 1)?;
        if slow <= fast {
            return Err(FeatureError::param("macd", "slow", format!("must be above fast ({fast}), got {slow}")));
        }
        Ok(Self {
            fast_period: fast,
            slow_period: slow,
            seen: 0,
            fast: Ema::named("macd", fast)?,
            slow: Ema::named("macd", slow)?,
            signal: Ema::named("macd", signal)?,
        })
    }
}

impl Indicator for Macd {
    type Input = f64;
    /// `[line, signal, histogram]`.
    type Output = [f64; 3];
    fn name(&self) -> &'static str {
        "macd"
    }
    fn lookback(&self) -> usize {
        self.slow.lookback() + self.signal.lookback()
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> [f64; 3] {
        let skip = self.slow_period - self.fast_period;
        let fast = if self.seen >= skip { self.fast.next(x) } else { f64::NAN };
        self.seen += 1;
        let slow = self.slow.next(x);
        if slow.is_nan() {
            return [f64::NAN; 3];
        }
        let line = fast - slow;
        let signal = self.signal.next(line);
        if signal.is_nan() {
            return [f64::NAN; 3];
        }
        [line, signal, line - signal]
    }
    fn reset(&mut self) {
        self.seen = 0;
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }
}

/// An indicator of the input and the input `period` bars before it (rate of change, momentum);
/// lookback `period`. The two differ only in their formula, a [`LagFormula`].
#[derive(Clone, Debug)]
pub struct Lagged<F> {
    period: usize,
    window: Ring,
    formula: std::marker::PhantomData<F>,
}

/// What a [`Lagged`] indicator makes of the input and the one `period` bars before it.
pub trait LagFormula: Clone {
    const NAME: &'static str;
    fn of(x: f64, old: f64) -> f64;
}

/// Rate of change in percent, `(x / x[-period] − 1)·100` (0 when the old value is 0, TA-Lib's
/// guard).
#[derive(Clone, Debug)]
pub struct RateOfChange;

impl LagFormula for RateOfChange {
    const NAME: &'static str = "roc";
    #[inline(always)]
    fn of(x: f64, old: f64) -> f64 {
        if old != 0.0 { ((x / old) - 1.0) * 100.0 } else { 0.0 }
    }
}

/// Momentum `x − x[-period]`.
#[derive(Clone, Debug)]
pub struct Momentum;

impl LagFormula for Momentum {
    const NAME: &'static str = "mom";
    #[inline(always)]
    fn of(x: f64, old: f64) -> f64 {
        x - old
    }
}

pub type Roc = Lagged<RateOfChange>;
pub type Mom = Lagged<Momentum>;

impl<F: LagFormula> Lagged<F> {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period(F::NAME, "period", period_, 1)?;
        Ok(Self { period: period_, window: Ring::new(period_), formula: std::marker::PhantomData })
    }

    #[inline(always)]
    fn step(x: f64, window: &mut impl Window) -> f64 {
        match window.push(x) {
            Some(old) => F::of(x, old),
            None => f64::NAN,
        }
    }
}

impl<F: LagFormula> Indicator for Lagged<F> {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        F::NAME
    }
    fn lookback(&self) -> usize {
        self.period
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        Self::step(x, &mut self.window)
    }
    #[inline(always)]
    fn next_in(&mut self, inputs: &[f64], seen: usize) -> f64 {
        Self::step(inputs[seen], &mut InputWindow::new(inputs, seen, self.period))
    }
    fn resume(&mut self, inputs: &[f64]) {
        self.window.refill(inputs);
    }
    fn reset(&mut self) {
        self.window.clear();
    }
}
