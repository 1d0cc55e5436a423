//! Volume-weighted indicators: on-balance volume (TA-Lib), VWAP anchored at each session's start
//! in the market's time zone, and rolling VWAP over a fixed number of bars.

use chrono::{Duration, TimeZone};
use chrono_tz::Tz;

use super::window::{Ring, Window};
use super::{Indicator, Ohlcv, TimedBar, period};
use crate::features::error::FeatureError;

/// On-balance volume: starts at the first bar's volume, then adds (subtracts) the volume of
/// each bar that closes up (down); lookback 0.
#[derive(Clone, Debug)]
pub struct Obv {
    prev_close: f64,
    value: f64,
}

impl Obv {
    pub fn new() -> Self {
        Self { prev_close: f64::NAN, value: 0.0 }
    }
}

impl Default for Obv {
    fn default() -> Self {
        Self::new()
    }
}

impl Indicator for Obv {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "obv"
    }
    fn lookback(&self) -> usize {
        0
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        if self.prev_close.is_nan() {
            self.value = bar.volume;
        } else {
            // Selected, not branched on: whether a bar closes up is a coin toss the branch
            // predictor loses half the time. `value + (−v)` is `value − v` to the bit.
            let up = bar.close > self.prev_close;
            let moved = bar.close != self.prev_close;
            let step = self.value + if up { bar.volume } else { -bar.volume };
            self.value = if moved { step } else { self.value };
        }
        self.prev_close = bar.close;
        self.value
    }
    fn reset(&mut self) {
        self.prev_close = f64::NAN;
        self.value = 0.0;
    }
}

/// The typical price (H+L+C)/3 that VWAP weighs by volume.
#[inline(always)]
fn typical(bar: &Ohlcv) -> f64 {
    (bar.high + bar.low + bar.close) / 3.0
}

/// VWAP Σ TP·V / Σ V since the start of the current session, where a session is a calendar day
/// in the market's time zone (UTC by default; `America/New_York` for US equities). Where the
/// session's volume is still zero the bar's typical price stands in; lookback 0.
#[derive(Clone, Debug)]
pub struct SessionVwap {
    tz: Tz,
    /// The current session's end in UTC nanoseconds: the first bar at or after it starts a new one.
    session_end: i64,
    session_start: i64,
    pv: f64,
    volume: f64,
}

impl SessionVwap {
    pub fn new(tz: Tz) -> Self {
        Self { tz, session_end: i64::MIN, session_start: i64::MAX, pv: 0.0, volume: 0.0 }
    }

    /// Parses an IANA zone name (`UTC`, `America/New_York`).
    pub fn in_zone(zone: &str) -> Result<Self, FeatureError> {
        let tz: Tz = zone.parse().map_err(|_| {
            FeatureError::param("vwap", "tz", format!("`{zone}` is not an IANA time zone such as America/New_York"))
        })?;
        Ok(Self::new(tz))
    }

    /// The UTC bounds of the local day holding `ts_nanos`.
    fn day_bounds(&self, ts_nanos: i64) -> (i64, i64) {
        let utc = chrono::DateTime::from_timestamp_nanos(ts_nanos);
        let date = utc.with_timezone(&self.tz).date_naive();
        let start_of = |d: chrono::NaiveDate| {
            let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
            // A zone may skip midnight (DST at 00:00); the earliest valid local time is the start.
            let local = self
                .tz
                .from_local_datetime(&midnight)
                .earliest()
                .or_else(|| self.tz.from_local_datetime(&(midnight + Duration::hours(1))).earliest());
            local.and_then(|t| t.timestamp_nanos_opt()).unwrap_or(ts_nanos)
        };
        let start = start_of(date);
        let end = date.succ_opt().map(start_of).unwrap_or(i64::MAX);
        (start, end)
    }
}

impl Indicator for SessionVwap {
    type Input = TimedBar;
    type Output = f64;
    fn name(&self) -> &'static str {
        "vwap"
    }
    fn lookback(&self) -> usize {
        0
    }
    #[inline(always)]
    fn next(&mut self, input: TimedBar) -> f64 {
        if input.ts_nanos >= self.session_end || input.ts_nanos < self.session_start {
            (self.session_start, self.session_end) = self.day_bounds(input.ts_nanos);
            self.pv = 0.0;
            self.volume = 0.0;
        }
        let tp = typical(&input.bar);
        self.pv += tp * input.bar.volume;
        self.volume += input.bar.volume;
        if self.volume > 0.0 { self.pv / self.volume } else { tp }
    }
    fn reset(&mut self) {
        self.session_end = i64::MIN;
        self.session_start = i64::MAX;
        self.pv = 0.0;
        self.volume = 0.0;
    }
}

/// VWAP over the last `period` bars (the bar's typical price where their volume is zero);
/// lookback `period − 1`.
#[derive(Clone, Debug)]
pub struct RollingVwap {
    period: usize,
    pv: Ring,
    volumes: Ring,
    pv_sum: f64,
    volume_sum: f64,
}

impl RollingVwap {
    pub fn new(period_: usize) -> Result<Self, FeatureError> {
        let period_ = period("rolling_vwap", "period", period_, 1)?;
        Ok(Self { period: period_, pv: Ring::new(period_), volumes: Ring::new(period_), pv_sum: 0.0, volume_sum: 0.0 })
    }
}

impl Indicator for RollingVwap {
    type Input = Ohlcv;
    type Output = f64;
    fn name(&self) -> &'static str {
        "rolling_vwap"
    }
    fn lookback(&self) -> usize {
        self.period - 1
    }
    #[inline(always)]
    fn next(&mut self, bar: Ohlcv) -> f64 {
        let tp = typical(&bar);
        let pv = tp * bar.volume;
        self.pv_sum += pv;
        self.volume_sum += bar.volume;
        if let Some(old) = self.pv.push(pv) {
            self.pv_sum -= old;
        }
        if let Some(old) = self.volumes.push(bar.volume) {
            self.volume_sum -= old;
        }
        if !self.pv.is_full() {
            return f64::NAN;
        }
        if self.volume_sum > 0.0 { self.pv_sum / self.volume_sum } else { tp }
    }
    fn reset(&mut self) {
        self.pv.clear();
        self.volumes.clear();
        self.pv_sum = 0.0;
        self.volume_sum = 0.0;
    }
}
