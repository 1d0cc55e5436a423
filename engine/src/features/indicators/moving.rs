//! Moving averages of one series: simple, exponential, weighted, double and triple exponential,
//! each reproducing TA-Lib's seeding and order of operations.

use super::window::{InputWindow, Ring, Window};
use super::{Indicator, period};
use crate::features::error::FeatureError;

/// Simple moving average; lookback `period - 1`.
#[derive(Clone, Debug)]
pub struct Sma {
    period: usize,
    /// The last `period - 1` inputs: the part of the window that survives into the next one.
    kept: Ring,
    sum: TrailingSum,
}

/// An SMA's running sum of the inputs it keeps, accumulated in TA-Lib's order (add the new, then
/// drop the old).
#[derive(Clone, Debug)]
struct TrailingSum {
    n: f64,
    partial: f64,
}

impl TrailingSum {
    #[inline(always)]
    fn step(&mut self, x: f64, kept: &mut impl Window) -> f64 {
        let total = self.partial + x;
        match kept.push(x) {
            Some(leaving) => {
                self.partial = total - leaving;
                total / self.n
            }
            None => {
                self.partial = total;
                f64::NAN
            }
        }
    }
}

impl Sma {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("sma", "period", period_, 1)?;
        Ok(Self { period: period_, kept: Ring::new(period_ - 1), sum: TrailingSum { n: period_ as f64, partial: 0.0 } })
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "sma"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        self.sum.step(x, &mut self.kept)
    }
    #[inline(always)]
    fn next_in(&mut self, inputs: &[f64], seen: usize) -> f64 {
        self.sum.step(inputs[seen], &mut InputWindow::new(inputs, seen, self.period - 1))
    }
    fn resume(&mut self, inputs: &[f64]) {
        self.kept.refill(inputs);
    }
    fn reset(&mut self) {
        self.kept.clear();
        self.sum.partial = 0.0;
    }
}

/// Exponential moving average with k = 2/(period+1), seeded with the SMA of the first `period`
/// inputs, each step `fma(x − ema, k, ema)` as in TA-Lib 0.8; lookback `period - 1`.
#[derive(Clone, Debug)]
pub struct Ema {
    period: usize,
    k: f64,
    seen: usize,
    value: f64,
}

impl Ema {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        Self::named("ema", period_)
    }

    pub(crate) fn named(feature: &str, period_: usize) -> Result<Self, FeatureError> {
        let period_ = period(feature, "period", period_, 1)?;
        Ok(Self { period: period_, k: 2.0 / (period_ + 1) as f64, seen: 0, value: 0.0 })
    }

    /// The current average (NaN before the seed).
    pub fn value(&self) -> f64 {
        if self.seen >= self.period { self.value } else { f64::NAN }
    }
}

impl Indicator for Ema {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "ema"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        if self.seen >= self.period {
            // TA-Lib 0.8 steps with a fused multiply-add; a separate multiply and add rounds
            // twice and differs from it in the last bit on most bars.
            self.value = (x - self.value).mul_add(self.k, self.value);
            return self.value;
        }
        // Accumulate the seed sum in `value`, then turn it into the seed average.
        self.value += x;
        self.seen += 1;
        if self.seen == self.period {
            self.value /= self.period as f64;
            self.value
        } else {
            f64::NAN
        }
    }
    fn reset(&mut self) {
        self.seen = 0;
        self.value = 0.0;
    }
}

/// Linearly weighted moving average (weights 1..=period, newest heaviest); lookback `period - 1`.
#[derive(Clone, Debug)]
pub struct Wma {
    window: Ring,
    sums: WeightedSums,
}

/// A WMA's plain and weighted sums of its window, updated as TA-Lib does, without re-summing.
#[derive(Clone, Debug)]
struct WeightedSums {
    period: usize,
    divider: f64,
    plain: f64,
    weighted: f64,
    trailing: f64,
    /// Outputs left before both sums are rebuilt from the window (every 8·period, as TA-Lib 0.8
    /// does, so that rounding cannot accumulate).
    until_rebuild: usize,
}

impl Wma {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("wma", "period", period_, 1)?;
        Ok(Self {
            window: Ring::new(period_),
            sums: WeightedSums {
                period: period_,
                divider: (period_ * (period_ + 1) / 2) as f64,
                plain: 0.0,
                weighted: 0.0,
                trailing: 0.0,
                until_rebuild: 8 * period_,
            },
        })
    }
}

impl WeightedSums {
    #[inline(always)]
    fn step(&mut self, x: f64, window: &mut impl Window) -> f64 {
        let seen = window.len();
        if seen + 1 < self.period {
            self.plain += x;
            self.weighted += x * (seen + 1) as f64;
            window.push(x);
            return f64::NAN;
        }
        self.plain += x;
        self.plain -= self.trailing;
        self.weighted += x * self.period as f64;
        window.push(x);
        self.until_rebuild -= 1;
        if self.until_rebuild == 0 {
            self.until_rebuild = 8 * self.period;
            let (older, newer) = window.as_slices();
            (self.plain, self.weighted) = window_sums(older, newer);
        }
        self.trailing = window.ago(self.period - 1);
        let out = self.weighted / self.divider;
        self.weighted -= self.plain;
        out
    }

    fn reset(&mut self) {
        self.plain = 0.0;
        self.weighted = 0.0;
        self.trailing = 0.0;
        self.until_rebuild = 8 * self.period;
    }
}

impl Indicator for Wma {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "wma"
    }
    fn lookback(&self) -> usize {
        self.sums.period - 1
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        self.sums.step(x, &mut self.window)
    }
    #[inline(always)]
    fn next_in(&mut self, inputs: &[f64], seen: usize) -> f64 {
        self.sums.step(inputs[seen], &mut InputWindow::new(inputs, seen, self.sums.period))
    }
    fn resume(&mut self, inputs: &[f64]) {
        self.window.refill(inputs);
    }
    fn reset(&mut self) {
        self.window.clear();
        self.sums.reset();
    }
}

/// The plain and the weighted sum of a window (weights 1, 2, … oldest first), summed in
/// TA-Lib's order. Kept out of line: inlined into `Wma::next`, its loop made the compiler keep
/// both running sums on the stack, adding a store and a load to every bar's dependency chain.
#[cold]
#[inline(never)]
fn window_sums(older: &[f64], newer: &[f64]) -> (f64, f64) {
    let (mut plain, mut weighted) = (0.0, 0.0);
    for (w, v) in older.iter().chain(newer).enumerate() {
        plain += v;
        weighted += v * (w + 1) as f64;
    }
    (plain, weighted)
}

/// Double exponential moving average 2·EMA − EMA(EMA); lookback `2·(period − 1)`.
#[derive(Clone, Debug)]
pub struct Dema {
    first: Ema,
    second: Ema,
}

impl Dema {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        Ok(Self { first: Ema::named("dema", period_)?, second: Ema::named("dema", period_)? })
    }
}

impl Indicator for Dema {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "dema"
    }
    fn lookback(&self) -> usize {
        2 * self.first.lookback()
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        let e1 = self.first.next(x);
        if e1.is_nan() {
            return f64::NAN;
        }
        let e2 = self.second.next(e1);
        (2.0 * e1) - e2
    }
    fn reset(&mut self) {
        self.first.reset();
        self.second.reset();
    }
}

/// Triple exponential moving average 3·EMA − 3·EMA² + EMA³; lookback `3·(period − 1)`.
#[derive(Clone, Debug)]
pub struct Tema {
    first: Ema,
    second: Ema,
    third: Ema,
}

impl Tema {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        Ok(Self {
            first: Ema::named("tema", period_)?,
            second: Ema::named("tema", period_)?,
            third: Ema::named("tema", period_)?,
        })
    }
}

impl Indicator for Tema {
    type Input = f64;
    type Output = f64;
    fn name(&self) -> &'static str {
        "tema"
    }
    fn lookback(&self) -> usize {
        3 * self.first.lookback()
    }
    #[inline(always)]
    fn next(&mut self, x: f64) -> f64 {
        let e1 = self.first.next(x);
        if e1.is_nan() {
            return f64::NAN;
        }
        let e2 = self.second.next(e1);
        if e2.is_nan() {
            return f64::NAN;
        }
        let e3 = self.third.next(e2);
        e3 + ((3.0 * e1) - (3.0 * e2))
    }
    fn reset(&mut self) {
        self.first.reset();
        self.second.reset();
        self.third.reset();
    }
}
