//! Time and return series behind the backtest metrics: calendar resampling and annualisation as backtesting.py
//! does them, numpy-order sums and moments, and empyrical's Sharpe and Sortino ratios.

use super::EquitySample;

pub(super) const NANOS_PER_DAY: i64 = 86_400_000_000_000;
pub(super) const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Equity resampled to calendar periods (last value of each), as simple returns, and the number of those periods
/// a year: backtesting.py's `day_returns` and `annual_trading_days`.
pub(super) fn period_returns(equity: &[EquitySample]) -> (Vec<f64>, f64) {
    let n = equity.len();
    let ts: Vec<i64> = equity[n.saturating_sub(100)..].iter().map(|s| s.ts_nanos).collect();
    let period = median_diff(&ts);
    let freq_days = period.map(|p| p.div_euclid(NANOS_PER_DAY));
    let weekend_days = equity.iter().filter(|s| weekday(day_number(s.ts_nanos)) >= 5).count();
    let have_weekends = weekend_days as f64 / n as f64 > 2.0 / 7.0 * 0.6;
    let (annual, key): (f64, fn(i64) -> i64) = match freq_days {
        Some(7) => (52.0, |d| d + 6 - weekday(d)),
        Some(31) => (12.0, |d| {
            let (y, m, _) = civil_from_days(d);
            y * 12 + m - 1
        }),
        Some(365) => (1.0, |d| civil_from_days(d).0),
        _ => (if have_weekends { 365.0 } else { 252.0 }, |d| d),
    };
    let mut closes: Vec<f64> = Vec::new();
    let mut current = None;
    for s in equity {
        let k = key(day_number(s.ts_nanos));
        if current == Some(k) {
            if let Some(c) = closes.last_mut() {
                *c = s.equity;
            }
        } else {
            closes.push(s.equity);
            current = Some(k);
        }
    }
    let returns = closes.windows(2).map(|w| w[1] / w[0] - 1.0).filter(|r| !r.is_nan()).collect();
    (returns, annual)
}

/// The data's spacing (median step over the last 100 samples) decides the unit durations are rounded up to:
/// its smallest non-zero component, as pandas' `Timedelta.resolution_string`.
pub(super) fn duration_resolution(ts: &[i64]) -> i64 {
    let Some(period) = median_diff(&ts[ts.len().saturating_sub(100)..]) else { return 1 };
    const UNITS: [i64; 7] = [NANOS_PER_DAY, 3_600_000_000_000, 60_000_000_000, NANOS_PER_SECOND, 1_000_000, 1_000, 1];
    UNITS.into_iter().find(|&u| period % u == 0).unwrap_or(1)
}

fn median_diff(ts: &[i64]) -> Option<i64> {
    let mut diffs: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_unstable();
    let m = diffs.len() / 2;
    Some(if diffs.len() % 2 == 1 { diffs[m] } else { ((diffs[m - 1] as i128 + diffs[m] as i128) / 2) as i64 })
}

pub(super) fn ceil_to(value: i64, unit: i64) -> i64 {
    let r = value.rem_euclid(unit);
    if r == 0 { value } else { value - r + unit }
}

/// pandas' mean of Timedeltas, truncated to whole nanoseconds.
pub(super) fn mean_duration(values: &[i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    Some((values.iter().map(|&v| v as i128).sum::<i128>() / values.len() as i128) as i64)
}

pub(super) fn days(nanos: Option<i64>) -> f64 {
    nanos.map_or(f64::NAN, |v| v as f64 / NANOS_PER_DAY as f64)
}

pub(super) fn nan_if_zero(x: f64) -> f64 {
    if x == 0.0 { f64::NAN } else { x }
}

/// backtesting.py's `geometric_mean`: 0 as soon as any return loses everything, NaN for no returns.
pub(super) fn geometric_mean(returns: &[f64]) -> f64 {
    if returns.iter().any(|r| 1.0 + r <= 0.0) {
        return 0.0;
    }
    let logs: Vec<f64> = returns.iter().map(|r| (1.0 + r).ln()).collect();
    (pairwise_sum(&logs) / returns.len() as f64).exp() - 1.0
}

/// numpy's pairwise summation, so sums round the way pandas' do.
pub(super) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, &v| s + v)
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        for chunk in a[8..whole].chunks_exact(8) {
            for (acc, &v) in r.iter_mut().zip(chunk) {
                *acc += v;
            }
        }
        let head = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        a[whole..].iter().fold(head, |s, &v| s + v)
    } else {
        let half = n / 2;
        let half = half - half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

pub(super) fn mean(a: &[f64]) -> f64 {
    if a.is_empty() { f64::NAN } else { pairwise_sum(a) / a.len() as f64 }
}

/// Sample variance (ddof 1), two-pass as pandas computes it; NaN below two values.
pub(super) fn variance(a: &[f64]) -> f64 {
    covariance(a, a)
}

pub(super) fn covariance(a: &[f64], b: &[f64]) -> f64 {
    if a.len() < 2 {
        return f64::NAN;
    }
    let (ma, mb) = (mean(a), mean(b));
    let products: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).collect();
    pairwise_sum(&products) / (a.len() - 1) as f64
}

/// empyrical's `sharpe_ratio` on daily returns: mean(r - rf) / std(r - rf, ddof 1) x sqrt(252), NaNs skipped.
pub fn sharpe_daily(returns: &[f64], rf_per_period: f64) -> f64 {
    sharpe_ratio(returns, rf_per_period, 252.0)
}

/// empyrical's `sortino_ratio` on daily returns: mean(r - mar) x 252 / (sqrt(mean(min(r - mar, 0)^2)) x sqrt(252)).
pub fn sortino_daily(returns: &[f64], required_return: f64) -> f64 {
    sortino_ratio(returns, required_return, 252.0)
}

/// empyrical's `sharpe_ratio` with `periods_per_year` as its annualisation factor.
pub fn sharpe_ratio(returns: &[f64], rf_per_period: f64, periods_per_year: f64) -> f64 {
    if returns.len() < 2 {
        return f64::NAN;
    }
    let adj: Vec<f64> = returns.iter().map(|r| r - rf_per_period).filter(|r| !r.is_nan()).collect();
    let (m, s) = (naive_mean(&adj), naive_std(&adj));
    let lo = adj.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = adj.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Identical values have zero spread; their centred residue must not turn an infinite ratio into ~1e15.
    let s = if lo == hi && s.is_finite() { 0.0 } else { s };
    m / s * periods_per_year.sqrt()
}

/// empyrical's `sortino_ratio` with `periods_per_year` as its annualisation factor.
pub fn sortino_ratio(returns: &[f64], required_return: f64, periods_per_year: f64) -> f64 {
    if returns.len() < 2 {
        return f64::NAN;
    }
    let adj: Vec<f64> = returns.iter().map(|r| r - required_return).filter(|r| !r.is_nan()).collect();
    let downside: Vec<f64> = adj.iter().map(|r| r.min(0.0).powi(2)).collect();
    naive_mean(&adj) * periods_per_year / (naive_mean(&downside).sqrt() * periods_per_year.sqrt())
}

// empyrical reduces through bottleneck, which sums left to right.
fn naive_mean(a: &[f64]) -> f64 {
    if a.is_empty() { f64::NAN } else { a.iter().sum::<f64>() / a.len() as f64 }
}

fn naive_std(a: &[f64]) -> f64 {
    if a.len() < 2 {
        return f64::NAN;
    }
    let m = naive_mean(a);
    (a.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (a.len() - 1) as f64).sqrt()
}

fn day_number(ts_nanos: i64) -> i64 {
    ts_nanos.div_euclid(NANOS_PER_DAY)
}

/// Monday = 0 (1970-01-01 was a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// "YYYY-MM-DDTHH:MM:SS[.fffffffff]" in UTC, as pandas' `Timestamp.isoformat()` writes a naive timestamp.
pub(super) fn iso_timestamp(ts_nanos: i64) -> String {
    let (y, m, d) = civil_from_days(day_number(ts_nanos));
    let in_day = ts_nanos.rem_euclid(NANOS_PER_DAY);
    let secs = in_day / NANOS_PER_SECOND;
    let frac = in_day % NANOS_PER_SECOND;
    let base = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    match frac {
        0 => base,
        f if f % 1000 == 0 => format!("{base}.{:06}", f / 1000),
        f => format!("{base}.{f:09}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const QUICKSTART: &str = include_str!("../../../tests/reference/backtest/backtesting_py_quickstart.json");
    const CASES: &str = include_str!("../../../tests/reference/backtest/backtesting_py_cases.json");

    fn num(v: &Value) -> f64 {
        match v {
            Value::Null => f64::NAN,
            Value::String(s) if s == "Infinity" => f64::INFINITY,
            v => v.as_f64().unwrap(),
        }
    }

    fn close_enough(got: f64, want: f64, rel: f64) -> bool {
        got == want || (got - want).abs() <= rel * want.abs()
    }

    /// The Quick Start's daily returns, resampled here as backtesting.py does, fed to empyrical's ratios.
    #[test]
    fn sharpe_and_sortino_match_empyrical() {
        let doc: Value = serde_json::from_str(CASES).unwrap();
        let e = &doc["empyrical"];
        let qs: Value = serde_json::from_str(QUICKSTART).unwrap();
        let equity: Vec<EquitySample> = qs["index_ns"]
            .as_array()
            .unwrap()
            .iter()
            .zip(qs["equity"].as_array().unwrap())
            .map(|(t, e)| EquitySample { ts_nanos: t.as_i64().unwrap(), equity: e.as_f64().unwrap() })
            .collect();
        let (day, periods) = period_returns(&equity);
        let q = &e["quickstart_day_returns"];
        assert_eq!((day.len() as u64, periods), (q["n"].as_u64().unwrap(), 252.0));
        let tol = 1e-12;
        assert!(close_enough(sharpe_daily(&day, 0.0), num(&q["sharpe_rf0"]), tol));
        assert!(close_enough(sharpe_daily(&day, 1e-4), num(&q["sharpe_rf_1e-4"]), tol));
        assert!(close_enough(sortino_daily(&day, 0.0), num(&q["sortino_req0"]), tol));
        assert!(close_enough(sortino_daily(&day, 5e-4), num(&q["sortino_req_5e-4"]), tol));
        let vol = variance(&day).sqrt() * periods.sqrt();
        assert!(close_enough(vol, num(&q["annual_volatility"]), tol));

        let returns = |k: &str| -> Vec<f64> { e[k]["returns"].as_array().unwrap().iter().map(num).collect() };
        let small = returns("small_with_nan");
        let s = &e["small_with_nan"];
        assert!(close_enough(sharpe_daily(&small, 0.0), num(&s["sharpe_rf0"]), tol));
        assert!(close_enough(sharpe_daily(&small, 2e-3), num(&s["sharpe_rf_2e-3"]), tol));
        assert!(close_enough(sortino_daily(&small, 0.0), num(&s["sortino_req0"]), tol));
        assert!(close_enough(sortino_daily(&small, 2e-3), num(&s["sortino_req_2e-3"]), tol));
        // Equal returns have no spread and no downside: empyrical answers +inf, not ~1e15 from a rounding residue.
        let constant = returns("constant");
        assert_eq!(sharpe_daily(&constant, 0.0), num(&e["constant"]["sharpe_rf0"]));
        assert_eq!(sortino_daily(&constant, 0.0), num(&e["constant"]["sortino_req0"]));
        assert!(num(&e["single"]["sharpe_rf0"]).is_nan() && sharpe_daily(&returns("single"), 0.0).is_nan());
        assert!(sortino_daily(&returns("single"), 0.0).is_nan() && sharpe_daily(&[], 0.0).is_nan());
    }

    #[test]
    fn calendar_helpers_agree_with_known_dates() {
        // 2004-08-19 was a Thursday, 2000-02-29 a leap day, 1969-12-31 a Wednesday.
        assert_eq!(iso_timestamp(1_092_873_600_000_000_000), "2004-08-19T00:00:00");
        assert_eq!(iso_timestamp(951_782_400_000_000_000 + 3_723_000_001_000), "2000-02-29T01:02:03.000001");
        assert_eq!(weekday(day_number(1_092_873_600_000_000_000)), 3);
        assert_eq!((civil_from_days(-1), weekday(-1)), ((1969, 12, 31), 2));
    }

    #[test]
    fn durations_round_up_to_the_spacing_of_the_data() {
        let minutes: Vec<i64> = (0..5).map(|i| i * 60_000_000_000).collect();
        assert_eq!(duration_resolution(&minutes), 60_000_000_000);
        let days: Vec<i64> = (0..5).map(|i| i * NANOS_PER_DAY).collect();
        assert_eq!(duration_resolution(&days), NANOS_PER_DAY);
        assert_eq!(ceil_to(NANOS_PER_DAY + 1, NANOS_PER_DAY), 2 * NANOS_PER_DAY);
        assert_eq!(ceil_to(NANOS_PER_DAY, NANOS_PER_DAY), NANOS_PER_DAY);
        assert_eq!(mean_duration(&[1, 2, 2]), Some(1)); // pandas truncates 5/3 ns
    }
}
