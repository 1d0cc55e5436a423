//! Resampling bars to a coarser timeframe: open of the first bar, highest high, lowest low,
//! close of the last bar, summed volume, bucketed on the UTC grid or by trading date.

use chrono::{Datelike, Duration, NaiveDate};
use chrono_tz::America::New_York;

use super::calendar::MarketCalendar;
use super::series::BarSeries;
use crate::domain::{Timeframe, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample {from} bars to {to}: {to} is not a whole multiple of {from}")]
    NotCoarser { from: Timeframe, to: Timeframe },
    #[error("bars must be sorted by time with no duplicates (row {row} is not after row {prev})")]
    Unsorted { row: usize, prev: usize },
}

/// The trading date a stamp belongs to. Intraday equity bars belong to their New York date;
/// forex days roll at 17:00 New York (so Sunday evening trades on Monday's date); crypto
/// days are UTC dates.
pub fn trading_date(calendar: MarketCalendar, ts: Timestamp) -> NaiveDate {
    let utc = ts.to_datetime();
    match calendar {
        MarketCalendar::UsEquity => utc.with_timezone(&New_York).date_naive(),
        MarketCalendar::Forex => (utc.with_timezone(&New_York) + Duration::hours(7)).date_naive(),
        MarketCalendar::Crypto => utc.date_naive(),
    }
}

fn date_stamp(date: NaiveDate) -> i64 {
    Timestamp::from_date(date).map_or(i64::MIN, Timestamp::nanos)
}

/// The stamp of the bucket a bar falls into: the open of the coarser bar.
fn bucket(ts: Timestamp, from: Timeframe, to: Timeframe, calendar: MarketCalendar) -> i64 {
    let date = || if from.is_intraday() { trading_date(calendar, ts) } else { ts.date() };
    match to {
        Timeframe::Seconds(s) if s < 86_400 => {
            let width = to.nominal_nanos();
            ts.nanos().div_euclid(width) * width
        }
        Timeframe::Seconds(s) if s % 604_800 == 0 => {
            let d = date();
            let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
            let weeks = i64::from(s / 604_800);
            let epoch_monday = NaiveDate::from_ymd_opt(1970, 1, 5).unwrap_or_default();
            let index = (monday - epoch_monday).num_weeks().div_euclid(weeks) * weeks;
            date_stamp(epoch_monday + Duration::weeks(index))
        }
        Timeframe::Seconds(s) => {
            let days = i64::from(s / 86_400).max(1);
            let d = date();
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let index = (d - epoch).num_days().div_euclid(days) * days;
            date_stamp(epoch + Duration::days(index))
        }
        Timeframe::Months(n) => {
            let d = date();
            let months = i64::from(d.year()) * 12 + i64::from(d.month0());
            let start = months.div_euclid(i64::from(n)) * i64::from(n);
            let first = NaiveDate::from_ymd_opt(start.div_euclid(12) as i32, start.rem_euclid(12) as u32 + 1, 1);
            first.map_or(i64::MIN, date_stamp)
        }
    }
}

/// Aggregates sorted bars of `from` into bars of `to`. Buckets with no bars produce no bar;
/// a partial first or last bucket is kept as it is.
pub fn resample(
    bars: &BarSeries,
    from: Timeframe,
    to: Timeframe,
    calendar: MarketCalendar,
) -> Result<BarSeries, ResampleError> {
    if to == from || !to.is_multiple_of(from) {
        return Err(ResampleError::NotCoarser { from, to });
    }
    if let Some(row) = (1..bars.len()).find(|&i| bars.ts[i] <= bars.ts[i - 1]) {
        return Err(ResampleError::Unsorted { row, prev: row - 1 });
    }
    let mut out = BarSeries::with_capacity(bars.len() / 2 + 1);
    let mut current: Option<i64> = None;
    for i in 0..bars.len() {
        let key = bucket(bars.ts[i], from, to, calendar);
        if current == Some(key) {
            let last = out.len() - 1;
            out.high[last] = out.high[last].max(bars.high[i]);
            out.low[last] = out.low[last].min(bars.low[i]);
            out.close[last] = bars.close[i];
            out.volume[last] += bars.volume[i];
        } else {
            out.push(
                Timestamp::from_nanos(key),
                bars.open[i],
                bars.high[i],
                bars.low[i],
                bars.close[i],
                bars.volume[i],
                0,
            );
            current = Some(key);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Decimal;
    use proptest::prelude::*;

    fn minute_bars(n: usize, start: i64, seed: u64) -> BarSeries {
        let mut s = BarSeries::with_capacity(n);
        let mut price = 10_000i64;
        let mut x = seed | 1;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let step = (x % 21) as i64 - 10;
            let open = price;
            price = (price + step).max(100);
            let (hi, lo) = (open.max(price) + (x % 5) as i64, open.min(price) - (x % 3) as i64);
            let d = |v: i64| Decimal::new(v, 2);
            s.push(
                Timestamp::from_nanos(start + i as i64 * 60_000_000_000),
                d(open),
                d(hi),
                d(lo),
                d(price),
                Decimal::from(x % 1000),
                0,
            );
        }
        s
    }

    #[test]
    fn aggregates_ohlcv_exactly() {
        let bars = minute_bars(10, 0, 7);
        let out = resample(&bars, Timeframe::M1, Timeframe::M5, MarketCalendar::Crypto).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out.open[0], bars.open[0]);
        assert_eq!(out.close[0], bars.close[4]);
        assert_eq!(out.high[1], *bars.high[5..10].iter().max().unwrap());
        assert_eq!(out.low[1], *bars.low[5..10].iter().min().unwrap());
        assert_eq!(out.volume[0], bars.volume[0..5].iter().sum::<Decimal>());
        assert_eq!(out.ts[1], Timestamp::from_nanos(300_000_000_000));
    }

    #[test]
    fn refuses_finer_or_uneven_targets() {
        let bars = minute_bars(10, 0, 7);
        assert!(matches!(
            resample(&bars, Timeframe::M5, Timeframe::M1, MarketCalendar::Crypto),
            Err(ResampleError::NotCoarser { .. })
        ));
        assert!(resample(&bars, Timeframe::M5, Timeframe::Seconds(420), MarketCalendar::Crypto).is_err());
    }

    #[test]
    fn forex_days_roll_at_five_pm_new_york() {
        // Sunday 2024-01-07 22:00 UTC is 17:00 New York: the first hour of Monday's session.
        let sunday_evening: Timestamp = "2024-01-07T22:00:00Z".parse().unwrap();
        assert_eq!(trading_date(MarketCalendar::Forex, sunday_evening), NaiveDate::from_ymd_opt(2024, 1, 8).unwrap());
        assert_eq!(trading_date(MarketCalendar::Crypto, sunday_evening), NaiveDate::from_ymd_opt(2024, 1, 7).unwrap());
        let equity_late: Timestamp = "2024-01-09T02:00:00Z".parse().unwrap();
        assert_eq!(trading_date(MarketCalendar::UsEquity, equity_late), NaiveDate::from_ymd_opt(2024, 1, 8).unwrap());
    }

    #[test]
    fn monthly_bars_start_on_the_first() {
        let mut daily = BarSeries::default();
        for (d, c) in [("2024-01-30", 1), ("2024-01-31", 2), ("2024-02-01", 3)] {
            let p = Decimal::from(c);
            daily.push(d.parse().unwrap(), p, p, p, p, Decimal::ONE, 0);
        }
        let m = resample(&daily, Timeframe::D1, Timeframe::MO1, MarketCalendar::Crypto).unwrap();
        assert_eq!(m.ts, vec!["2024-01-01".parse().unwrap(), "2024-02-01".parse::<Timestamp>().unwrap()]);
        assert_eq!(m.close[0], Decimal::from(2));
        assert_eq!(m.volume[0], Decimal::from(2));
    }

    proptest! {
        /// Resampling in steps (1m → 5m → 1h → 1d) gives the same bars as resampling at once.
        #[test]
        fn resampling_composes(n in 1usize..3000, start_min in 0i64..100_000, seed in any::<u64>()) {
            let bars = minute_bars(n, start_min * 60_000_000_000, seed);
            let cal = MarketCalendar::Crypto;
            let m5 = resample(&bars, Timeframe::M1, Timeframe::M5, cal).unwrap();
            let h1 = resample(&m5, Timeframe::M5, Timeframe::H1, cal).unwrap();
            let direct = resample(&bars, Timeframe::M1, Timeframe::H1, cal).unwrap();
            prop_assert_eq!(&h1, &direct);
            let d1 = resample(&h1, Timeframe::H1, Timeframe::D1, cal).unwrap();
            let d1_direct = resample(&bars, Timeframe::M1, Timeframe::D1, cal).unwrap();
            prop_assert_eq!(d1, d1_direct);
            prop_assert_eq!(h1.volume.iter().sum::<Decimal>(), bars.volume.iter().sum::<Decimal>());
        }
    }
}
