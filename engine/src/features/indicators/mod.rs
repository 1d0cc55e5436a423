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

impl crate::data::FloatBars {
    /// The columns as indicators take them.
    pub fn columns(&self) -> BarColumns<'_> {
        BarColumns {
            ts_nanos: &self.ts,
            open: &self.open,
            high: &self.high,
            low: &self.low,
            close: &self.close,
            volume: &self.volume,
        }
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
pub trait Indicator: Clone {
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
    let mut cols = columns::<I::Output>(xs.len(), start);
    drive(ind, &mut cols, start, xs[start..].iter().copied());
    Ok(cols)
}

/// [`run_series`] for single-output indicators.
pub fn run_series1<I: Indicator<Input = f64, Output = f64>>(ind: &mut I, xs: &[f64]) -> Result<Vec<f64>, FeatureError> {
    Ok(run_series(ind, xs)?.swap_remove(0))
}

/// The batch form of a bar indicator; `fields` are the columns it reads (checked for NaN gaps).
pub fn run_bars<I: Indicator<Input = Ohlcv>>(
    ind: &mut I,
    bars: &BarColumns<'_>,
    fields: &[Field],
) -> Result<Vec<Vec<f64>>, FeatureError> {
    let start = bars_start(ind, bars, fields)?;
    let mut cols = columns::<I::Output>(bars.len(), start);
    let (o, h, l, c, v) =
        (&bars.open[start..], &bars.high[start..], &bars.low[start..], &bars.close[start..], &bars.volume[start..]);
    let inputs = o.iter().zip(h).zip(l).zip(c).zip(v).map(|((((&open, &high), &low), &close), &volume)| Ohlcv {
        open,
        high,
        low,
        close,
        volume,
    });
    drive(ind, &mut cols, start, inputs);
    Ok(cols)
}

/// The batch form of an indicator that needs bar times (session resets).
pub fn run_timed<I: Indicator<Input = TimedBar>>(
    ind: &mut I,
    bars: &BarColumns<'_>,
    fields: &[Field],
) -> Result<Vec<Vec<f64>>, FeatureError> {
    let start = bars_start(ind, bars, fields)?;
    let mut cols = columns::<I::Output>(bars.len(), start);
    drive(ind, &mut cols, start, (start..bars.len()).map(|i| bars.timed(i)));
    Ok(cols)
}

fn bars_start<I: Indicator>(ind: &mut I, bars: &BarColumns<'_>, fields: &[Field]) -> Result<usize, FeatureError> {
    bars.check_lengths(ind.name())?;
    let mut start = 0;
    for &f in fields {
        start = start.max(first_valid(ind.name(), f.as_str(), bars.field(f))?);
    }
    check_enough(ind, bars.len(), start)?;
    ind.reset();
    Ok(start)
}

/// Output columns of full length, NaN until written: the leading NaNs are already in place.
fn columns<O: Outputs>(len: usize, _start: usize) -> Vec<Vec<f64>> {
    (0..O::COUNT).map(|_| vec![f64::NAN; len]).collect()
}

/// Feeds every input through `next` and appends the outputs to the columns. The loop runs on a
/// local copy of the state, which the compiler can keep in registers (through `&mut` it must
/// reload fields after every store to memory), then hands the state back. On x86-64 CPUs with FMA
/// the loop is compiled a second time with FMA enabled, so the fused multiply-adds of the TA-Lib
/// recipes are single instructions rather than library calls (both are exact: results are equal).
#[inline(always)]
fn drive<I: Indicator>(ind: &mut I, cols: &mut [Vec<f64>], start: usize, inputs: impl Iterator<Item = I::Input>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            fma::drive(ind, cols, start, inputs);
            return;
        }
    }
    append(ind, cols, start, inputs)
}

#[inline(always)]
fn append<I: Indicator>(ind: &mut I, cols: &mut [Vec<f64>], start: usize, inputs: impl Iterator<Item = I::Input>) {
    // Indicators are small: a clone costs one window allocation, far less than the reloads it saves.
    let mut local = ind.clone();
    // Explicit loops writing into slices, not `extend`/`push`: std's fold would not be inlined
    // into the FMA clone, and a Vec's length in memory would be reloaded after every store.
    if I::Output::COUNT == 1 {
        for (slot, x) in cols[0][start..].iter_mut().zip(inputs) {
            *slot = local.next(x).get(0);
        }
    } else if let [a, b] = cols {
        for ((sa, sb), x) in a[start..].iter_mut().zip(b[start..].iter_mut()).zip(inputs) {
            let o = local.next(x);
            (*sa, *sb) = (o.get(0), o.get(1));
        }
    } else if let [a, b, c] = cols {
        let slots = a[start..].iter_mut().zip(b[start..].iter_mut()).zip(c[start..].iter_mut());
        for (((sa, sb), sc), x) in slots.zip(inputs) {
            let o = local.next(x);
            (*sa, *sb, *sc) = (o.get(0), o.get(1), o.get(2));
        }
    } else {
        for (i, x) in inputs.enumerate() {
            let o = local.next(x);
            for (k, col) in cols.iter_mut().enumerate() {
                col[start + i] = o.get(k);
            }
        }
    }
    *ind = local;
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod fma {
    use super::{Indicator, append};

    #[inline(always)]
    pub(super) fn drive<I: Indicator>(
        ind: &mut I,
        cols: &mut [Vec<f64>],
        start: usize,
        inputs: impl Iterator<Item = I::Input>,
    ) {
        // SAFETY: called only after `is_x86_feature_detected!("fma")` returned true.
        unsafe { with_fma(ind, cols, start, inputs) }
    }

    #[target_feature(enable = "fma")]
    fn with_fma<I: Indicator>(
        ind: &mut I,
        cols: &mut [Vec<f64>],
        start: usize,
        inputs: impl Iterator<Item = I::Input>,
    ) {
        append(ind, cols, start, inputs)
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
