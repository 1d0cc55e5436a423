//! The columnar bar series that the importer produces and the validator, resampler and
//! catalog consume: one contiguous vector per field, plus where each row came from.

use serde::{Deserialize, Serialize};

use crate::domain::{Bar, Decimal, Symbol, Timeframe, Timestamp};

/// Which fields a series really carries. A close panel has only closes; its other prices are
/// copies of the close and its volume is unknown, so checks on them are skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesFields {
    Ohlcv,
    Ohlc,
    CloseOnly,
}

impl SeriesFields {
    pub fn has_range(self) -> bool {
        !matches!(self, Self::CloseOnly)
    }

    pub fn has_volume(self) -> bool {
        matches!(self, Self::Ohlcv)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ohlcv => "ohlcv",
            Self::Ohlc => "ohlc",
            Self::CloseOnly => "close_only",
        }
    }
}

/// Bars of one symbol in columns. Prices are exact decimals as read; `f64` views are derived
/// on demand for statistics. Rows keep their file order (which may be unsorted or duplicated
/// in a raw file) until [`BarSeries::sort_dedup`] is called.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarSeries {
    pub ts: Vec<Timestamp>,
    pub open: Vec<Decimal>,
    pub high: Vec<Decimal>,
    pub low: Vec<Decimal>,
    pub close: Vec<Decimal>,
    pub volume: Vec<Decimal>,
    /// 1-based source line of each row (0 when the row did not come from a text file).
    pub line: Vec<u64>,
}

impl BarSeries {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
            line: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(&mut self, ts: Timestamp, o: Decimal, h: Decimal, l: Decimal, c: Decimal, v: Decimal, line: u64) {
        self.ts.push(ts);
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        self.volume.push(v);
        self.line.push(line);
    }

    pub fn push_bar(&mut self, bar: &Bar, line: u64) {
        self.push(bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume, line);
    }

    /// The row as a validated [`Bar`].
    pub fn bar(&self, i: usize) -> Result<Bar, crate::domain::ValidationError> {
        Bar::new(self.ts[i], self.open[i], self.high[i], self.low[i], self.close[i], self.volume[i])
    }

    pub fn bars(&self) -> impl Iterator<Item = Result<Bar, crate::domain::ValidationError>> + '_ {
        (0..self.len()).map(|i| self.bar(i))
    }

    pub fn ts_nanos(&self) -> Vec<i64> {
        self.ts.iter().map(|t| t.nanos()).collect()
    }

    /// A column as `f64`, for statistics and model inputs.
    pub fn as_f64(column: &[Decimal]) -> Vec<f64> {
        column.iter().map(|d| decimal_to_f64(*d)).collect()
    }

    /// Sorts rows by time (stably, so the first of equal timestamps stays first) and keeps the
    /// last row of each timestamp, so that re-imported or corrected bars replace older ones.
    pub fn sort_dedup(&mut self) {
        if self.ts.windows(2).all(|w| w[0] < w[1]) {
            return;
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&i| self.ts[i]);
        let mut keep: Vec<usize> = Vec::with_capacity(order.len());
        for i in order {
            match keep.last_mut() {
                Some(last) if self.ts[*last] == self.ts[i] => *last = i,
                _ => keep.push(i),
            }
        }
        self.take_rows(&keep);
    }

    /// Keeps only the given rows, in the given order.
    pub fn take_rows(&mut self, rows: &[usize]) {
        fn pick<T: Copy>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i]).collect()
        }
        self.ts = pick(&self.ts, rows);
        self.open = pick(&self.open, rows);
        self.high = pick(&self.high, rows);
        self.low = pick(&self.low, rows);
        self.close = pick(&self.close, rows);
        self.volume = pick(&self.volume, rows);
        self.line = pick(&self.line, rows);
    }

    /// Appends all rows of `other`.
    pub fn extend(&mut self, other: &BarSeries) {
        self.ts.extend_from_slice(&other.ts);
        self.open.extend_from_slice(&other.open);
        self.high.extend_from_slice(&other.high);
        self.low.extend_from_slice(&other.low);
        self.close.extend_from_slice(&other.close);
        self.volume.extend_from_slice(&other.volume);
        self.line.extend_from_slice(&other.line);
    }

    /// The first and last timestamps, when there are rows.
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        Some((*self.ts.iter().min()?, *self.ts.iter().max()?))
    }
}

/// A series' columns as floats (times in UTC nanoseconds): what indicators, signals and statistics
/// read. Money stays exact in the [`BarSeries`] it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatBars {
    pub ts: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl FloatBars {
    pub fn from_series(bars: &BarSeries) -> Self {
        Self {
            ts: bars.ts_nanos(),
            open: BarSeries::as_f64(&bars.open),
            high: BarSeries::as_f64(&bars.high),
            low: BarSeries::as_f64(&bars.low),
            close: BarSeries::as_f64(&bars.close),
            volume: BarSeries::as_f64(&bars.volume),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// The first `n` bars.
    pub fn prefix(&self, n: usize) -> Self {
        Self {
            ts: self.ts[..n].to_vec(),
            open: self.open[..n].to_vec(),
            high: self.high[..n].to_vec(),
            low: self.low[..n].to_vec(),
            close: self.close[..n].to_vec(),
            volume: self.volume[..n].to_vec(),
        }
    }
}

/// A series together with what it is: the symbol, its timeframe and which fields are real.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelledSeries {
    pub symbol: Symbol,
    pub timeframe: Timeframe,
    pub fields: SeriesFields,
    pub bars: BarSeries,
}

/// The f64 nearest to `d`, as parsing its text would give. Where the mantissa and the power of
/// ten are both exact in f64, one IEEE division rounds correctly; otherwise the text is parsed.
/// (A two-step integer-and-fraction conversion is off by one ulp on values such as 2012.25343589,
/// which then differ from what every other tool reads from the same file.)
pub fn decimal_to_f64(d: Decimal) -> f64 {
    const EXACT: i128 = 1 << 53;
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    let mantissa = d.mantissa();
    if let Some(power) = POWERS.get(d.scale() as usize).filter(|_| mantissa.abs() < EXACT) {
        return mantissa as f64 / power;
    }
    d.to_string().parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_convert_to_the_nearest_float() {
        for text in ["2012.25343589", "0.1", "-7.38", "1229.22998", "4761.6090813", "123456789012345678901234.5", "0"] {
            let d: Decimal = text.parse().unwrap();
            assert_eq!(decimal_to_f64(d).to_bits(), text.parse::<f64>().unwrap().to_bits(), "{text}");
        }
    }
}
