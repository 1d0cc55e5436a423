//! Trend strength: Wilder's directional movement system (+DI, −DI and ADX) as TA-Lib computes
//! it, including its seeding over the first `period − 1` movements.

use super::{Indicator, Ohlcv, period};
use crate::features::error::FeatureError;

/// ADX with the directional indicators it is built from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdxOutput {
    pub adx: f64,
    pub plus_di: f64,
    pub minus_di: f64,
}

/// Average directional index with +DI and −DI. The DIs start at lookback `period` (TA-Lib's
/// PLUS_DI/MINUS_DI), ADX at `2·period − 1`.
#[derive(Clone, Debug)]
pub struct Adx {
    period: usize,
    /// Bars seen so far, the first included.
    bars: usize,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    dx_sum: f64,
    adx: f64,
}

impl Adx {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("adx", "period", period_, 2)?;
        Ok(Self {
            period: period_,
            bars: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            dx_sum: 0.0,
            adx: 0.0,
        })
    }
}

impl Indicator for Adx {
    type Input = Ohlcv;
    /// `[adx, plus_di, minus_di]`.
    type Output = [f64; 3];
    fn name(&self) -> &'static str {
        "adx"
    }
    fn lookback(&self) -> usize {
        2 * self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> [f64; 3] {
        let i = self.bars;
        self.bars += 1;
        if i == 0 {
            self.prev_high = bar.high;
            self.prev_low = bar.low;
            self.prev_close = bar.close;
            return [f64::NAN; 3];
        }
        let diff_plus = bar.high - self.prev_high;
        let diff_minus = self.prev_low - bar.low;
        self.prev_high = bar.high;
        self.prev_low = bar.low;
        let mut tr = bar.high - bar.low;
        let up = (self.prev_close - bar.high).abs();
        if up > tr {
            tr = up;
        }
        let down = (self.prev_close - bar.low).abs();
        if down > tr {
            tr = down;
        }
        self.prev_close = bar.close;

        let n = self.period as f64;
        if i >= self.period {
            self.minus_dm -= self.minus_dm / n;
            self.plus_dm -= self.plus_dm / n;
        }
        if diff_minus > 0.0 && diff_plus < diff_minus {
            self.minus_dm += diff_minus;
        } else if diff_plus > 0.0 && diff_plus > diff_minus {
            self.plus_dm += diff_plus;
        }
        if i >= self.period {
            self.tr = self.tr - self.tr / n + tr;
        } else {
            self.tr += tr;
            return [f64::NAN; 3];
        }

        let (plus_di, minus_di, dx) = if self.tr > 0.0 {
            let minus_di = 100.0 * (self.minus_dm / self.tr);
            let plus_di = 100.0 * (self.plus_dm / self.tr);
            let sum = minus_di + plus_di;
            // The DI sum is dimensionless, so TA-Lib keeps a fixed band around zero for it.
            let dx = (!(-1e-14 < sum && sum < 1e-14)).then(|| 100.0 * ((minus_di - plus_di).abs() / sum));
            (plus_di, minus_di, dx)
        } else {
            (0.0, 0.0, None)
        };
        let first_adx = 2 * self.period - 1;
        let adx = if i <= first_adx {
            self.dx_sum += dx.unwrap_or(0.0);
            if i == first_adx {
                self.adx = self.dx_sum / n;
                self.adx
            } else {
                f64::NAN
            }
        } else {
            if let Some(dx) = dx {
                self.adx = (self.adx * (n - 1.0) + dx) / n;
            }
            self.adx
        };
        [adx, plus_di, minus_di]
    }
    fn reset(&mut self) {
        self.bars = 0;
        self.plus_dm = 0.0;
        self.minus_dm = 0.0;
        self.tr = 0.0;
        self.dx_sum = 0.0;
        self.adx = 0.0;
    }
}
