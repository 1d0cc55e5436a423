//! Technical indicators as streaming state machines: one `next` per bar, O(1), no allocation after
//! construction. The batch form over slices ([`run_series`], [`run_bars`]) drives the same `next`.
//!
//! Conventions follow TA-Lib (see `reference/quant-conventions.md`): output length equals input
//! length, and the leading NaNs are the input's leading NaNs plus the indicator's lookback. A NaN
//! after the first valid input is refused ([`FeatureError::NanGap`]) rather than silently filled.

mod momentum;
mod moving;
mod oscillators;
mod trend;
mod volatility;
mod volume;
pub(crate) mod window;

pub use momentum::{Macd, Mom, Roc, Rsi};
pub use moving::{Dema, Ema, Sma, Tema, Wma};
pub use oscillators::{Cci, Mfi, StochRsi, Stochastic, WilliamsR};
pub use trend::{Adx, AdxOutput};
pub use volatility::{
    Atr, BollingerBands, Donchian, GarmanKlassVol, Keltner, Natr, ParkinsonVol, RealisedVol, RollingZScore,
};
pub use volume::{Obv, RollingVwap, SessionVwap};

use super::error::{FeatureError, first_valid};

/// One bar as the indicators see it: plain floats, because indicators are statistics, not money.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ohlcv {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// A bar with its time, for indicators that reset on session boundaries (session VWAP).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimedBar {
    /// Nanoseconds since the Unix epoch, UTC.
    pub ts_nanos: i64,
    pub bar: Ohlcv,
}

/// A field of a bar, named as in data files and feature specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Open,
    High,
    Low,
    Close,
    Volume,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::Volume => "volume",
        }
    }
}

/// Bars in columns (one slice per field, equal lengths), the batch input of bar indicators.
#[derive(Clone, Copy, Debug)]
pub struct BarColumns<'a> {
    pub ts_nanos: &'a [i64],
    pub open: &'a [f64],
    pub high: &'a [f64],
    pub low: &'a [f64],
    pub close: &'a [f64],
    pub volume: &'a [f64],
}

impl<'a> BarColumns<'a> {
    pub fn len(&self) -> usize {
        self.close.len()
    }

    pub fn is_empty(&self) -> bool {
        self.close.is_empty()
    }

    pub fn field(&self, field: Field) -> &'a [f64] {
        match field {
            Field::Open => self.open,
            Field::High => self.high,
            Field::Low => self.low,
            Field::Close => self.close,
            Field::Volume => self.volume,
        }
    }

    #[inline(always)]
    fn timed(&self, i: usize) -> TimedBar {
        TimedBar {
            ts_nanos: self.ts_nanos[i],
            bar: Ohlcv {
                open: self.open[i],
                high: self.high[i],
                low: self.low[i],
                close: self.close[i],
                volume: self.volume[i],
            },
        }
    }

    fn check_lengths(&self, feature: &str) -> Result<(), FeatureError> {
        let n = self.len();
        let lens = [self.ts_nanos.len(), self.open.len(), self.high.len(), self.low.len(), self.volume.len()];
        if lens.iter().any(|&l| l != n) {
            return Err(FeatureError::LengthMismatch {
                feature: feature.into(),
                detail: format!(
                    "ts {}, open {}, high {}, low {}, close {n}, volume {}",
                    lens[0], lens[1], lens[2], lens[3], lens[4]
                ),
            });
        }
        Ok(())
    }
}

/// The values one update yields: a single float, or a fixed group (MACD's line, signal, histogram).
pub trait Outputs: Copy {
    const COUNT: usize;
    fn nan() -> Self;
    fn get(&self, k: usize) -> f64;
}

impl Outputs for f64 {
    const COUNT: usize = 1;
    #[inline(always)]
    fn nan() -> Self {
        f64::NAN
    }
    #[inline(always)]
    fn get(&self, _k: usize) -> f64 {
        *self
    }
}

impl<const N: usize> Outputs for [f64; N] {
    const COUNT: usize = N;
    #[inline(always)]
    fn nan() -> Self {
        [f64::NAN; N]
    }
    #[inline(always)]
    fn get(&self, k: usize) -> f64 {
        self[k]
    }
}

/// A streaming indicator. `next` takes one input and returns NaN (all outputs) until
/// `lookback()` inputs have been seen, then a value for every input. Inputs must be finite: the
/// batch drivers check that, and live bars are validated domain bars.
pub trait Indicator {
    /// `f64` for indicators of one series, [`Ohlcv`] or [`TimedBar`] for indicators of bars.
    type Input: Copy;
    type Output: Outputs;
    /// The feature name used in errors and column names (`sma`, `macd`).
    fn name(&self) -> &'static str;
    /// Inputs consumed before the first defined output.
    fn lookback(&self) -> usize;
    fn next(&mut self, input: Self::Input) -> Self::Output;
    /// Forgets all state, as if newly constructed.
    fn reset(&mut self);
}

/// The batch form of a one-series indicator: one column per output, NaN where undefined.
pub fn run_series<I: Indicator<Input = f64>>(ind: &mut I, xs: &[f64]) -> Result<Vec<Vec<f64>>, FeatureError> {
    run_series_of(ind, xs, "input")
}

/// [`run_series`] over a named column (`close`), so that errors can say which.
pub fn run_series_of<I: Indicator<Input = f64>>(
    ind: &mut I,
    xs: &[f64],
    column: &str,
) -> Result<Vec<Vec<f64>>, FeatureError> {
    let start = first_valid(ind.name(), column, xs)?;
    check_enough(ind, xs.len(), start)?;
    ind.reset();
    let mut cols = vec![vec![f64::NAN; xs.len()]; I::Output::COUNT];
    for (i, &x) in xs.iter().enumerate().skip(start) {
        write(&mut cols, i, ind.next(x));
    }
    Ok(cols)
}

/// [`run_series`] for single-output indicators.
pub fn run_series1<I: Indicator<Input = f64, Output = f64>>(ind: &mut I, xs: &[f64]) -> Result<Vec<f64>, FeatureError> {
    let start = first_valid(ind.name(), "input", xs)?;
    check_enough(ind, xs.len(), start)?;
    ind.reset();
    let mut out = vec![f64::NAN; xs.len()];
    for (o, &x) in out[start..].iter_mut().zip(&xs[start..]) {
        *o = ind.next(x);
    }
    Ok(out)
}

/// The batch form of a bar indicator; `fields` are the columns it reads (checked for NaN gaps).
pub fn run_bars<I: Indicator<Input = Ohlcv>>(
    ind: &mut I,
    bars: &BarColumns<'_>,
    fields: &[Field],
) -> Result<Vec<Vec<f64>>, FeatureError> {
    run_timed(&mut TimedAdapter(ind), bars, fields)
}

/// The batch form of an indicator that needs bar times (session resets).
pub fn run_timed<I: Indicator<Input = TimedBar>>(
    ind: &mut I,
    bars: &BarColumns<'_>,
    fields: &[Field],
) -> Result<Vec<Vec<f64>>, FeatureError> {
    bars.check_lengths(ind.name())?;
    let mut start = 0;
    for &f in fields {
        start = start.max(first_valid(ind.name(), f.as_str(), bars.field(f))?);
    }
    check_enough(ind, bars.len(), start)?;
    ind.reset();
    let mut cols = vec![vec![f64::NAN; bars.len()]; I::Output::COUNT];
    for i in start..bars.len() {
        write(&mut cols, i, ind.next(bars.timed(i)));
    }
    Ok(cols)
}

/// Lets a bar indicator run where timed bars flow.
struct TimedAdapter<'a, I>(&'a mut I);

impl<I: Indicator<Input = Ohlcv>> Indicator for TimedAdapter<'_, I> {
    type Input = TimedBar;
    type Output = I::Output;
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn lookback(&self) -> usize {
        self.0.lookback()
    }
    #[inline(always)]
    fn next(&mut self, input: TimedBar) -> I::Output {
        self.0.next(input.bar)
    }
    fn reset(&mut self) {
        self.0.reset()
    }
}

#[inline(always)]
fn write<O: Outputs>(cols: &mut [Vec<f64>], i: usize, out: O) {
    for (k, col) in cols.iter_mut().enumerate() {
        col[i] = out.get(k);
    }
}

fn check_enough<I: Indicator>(ind: &I, len: usize, start: usize) -> Result<(), FeatureError> {
    let needed = ind.lookback() + 1;
    if len - start < needed {
        return Err(FeatureError::TooShort { feature: ind.name().into(), len: len - start, needed });
    }
    Ok(())
}

/// Checks a period parameter is at least `min` (2 for smoothing periods, 1 for lags).
pub(crate) fn period(feature: &str, param: &str, value: usize, min: usize) -> Result<usize, FeatureError> {
    super::error::require_at_least(feature, param, value, min)?;
    Ok(value)
}
