//! Performance statistics of a finished backtest: every figure of backtesting.py 0.6.6's `Backtest.run()` table,
//! computed with its definitions, plus turnover and empyrical-style Sharpe/Sortino ratios on per-period returns.

mod series;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use series::{
    NANOS_PER_DAY, NANOS_PER_SECOND, ceil_to, covariance, days, duration_resolution, geometric_mean, iso_timestamp,
    mean, mean_duration, nan_if_zero, pairwise_sum, period_returns, variance,
};
pub use series::{sharpe_daily, sharpe_ratio, sortino_daily, sortino_ratio};

/// Account equity marked at one bar's close.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EquitySample {
    pub ts_nanos: i64,
    pub equity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeSide {
    Long,
    Short,
}

/// A closed round trip. `pnl` is net of `commissions` (entry plus exit) and `financing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeSummary {
    pub symbol: String,
    pub side: TradeSide,
    /// Units traded, > 0; the direction is in `side`.
    pub size: f64,
    pub entry_bar: usize,
    pub exit_bar: usize,
    pub entry_ts_nanos: i64,
    pub exit_ts_nanos: i64,
    pub entry_price: f64,
    pub exit_price: f64,
    pub commissions: f64,
    /// Overnight financing and stock-loan fees charged while the trade was open (already in `pnl`).
    #[serde(default)]
    pub financing: f64,
    pub pnl: f64,
    /// The signal that opened the trade, if the strategy named one (backtesting.py's `Tag`).
    pub tag: Option<String>,
}

impl TradeSummary {
    /// backtesting.py's `Trade.pl_pct` as a fraction: the signed price move relative to the entry price, less all
    /// commissions and financing spread over the entry notional.
    pub fn return_fraction(&self) -> f64 {
        let sign = match self.side {
            TradeSide::Long => 1.0,
            TradeSide::Short => -1.0,
        };
        sign * (self.exit_price / self.entry_price - 1.0)
            - (self.commissions + self.financing) / (self.size * self.entry_price)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct MetricsInput<'a> {
    /// One sample per bar, timestamps non-decreasing.
    pub equity: &'a [EquitySample],
    /// Closed trades only; a position still open at the end counts in equity, not here (as in backtesting.py).
    pub trades: &'a [TradeSummary],
    /// Benchmark closes aligned with `equity`, for Buy & Hold return, alpha and beta (all NaN when absent).
    /// NaN marks a bar before the benchmark has a price: Buy & Hold then starts at its first price from
    /// `first_trading_bar` on, and beta skips the steps that touch a NaN.
    pub benchmark_close: Option<&'a [f64]>,
    /// First bar on which the strategy could act (backtesting.py: bars of indicator warm-up). Buy & Hold is
    /// measured from this bar's close; beta still uses every bar. 0 when there is no warm-up.
    pub first_trading_bar: usize,
    /// Annual risk-free rate, in (-1, 1).
    pub risk_free_rate: f64,
    /// Reported as is. backtesting.py's "Commissions [$]" sums the closed trades' commissions only, leaving out
    /// the entry commission of a position still open at the end.
    pub commissions_total: f64,
    /// Sum of |size| x price over every fill, for turnover.
    pub traded_notional: f64,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum MetricsError {
    #[error("equity curve is empty: metrics need at least one equity sample")]
    EmptyEquity,
    #[error("invalid {name}: {reason}")]
    Invalid { name: String, reason: String },
}

fn invalid(name: impl Into<String>, reason: impl Into<String>) -> MetricsError {
    MetricsError::Invalid { name: name.into(), reason: reason.into() }
}

/// Statistics of one backtest. Names follow backtesting.py's table (`_pct` = its `[%]` columns, in percent);
/// undefined values are NaN (serialised as JSON null, infinities as "Infinity"/"-Infinity"). Durations are in
/// nanoseconds, rounded up to the data's resolution as backtesting.py does, and repeated as fractional days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub start: String,
    pub end: String,
    pub start_ts_nanos: i64,
    pub end_ts_nanos: i64,
    pub duration_nanos: i64,
    #[serde(with = "json_f64")]
    pub duration_days: f64,
    #[serde(with = "json_f64")]
    pub exposure_time_pct: f64,
    #[serde(with = "json_f64")]
    pub equity_final: f64,
    #[serde(with = "json_f64")]
    pub equity_peak: f64,
    #[serde(with = "json_f64")]
    pub commissions: f64,
    #[serde(with = "json_f64")]
    pub return_pct: f64,
    #[serde(with = "json_f64")]
    pub buy_and_hold_return_pct: f64,
    #[serde(with = "json_f64")]
    pub return_ann_pct: f64,
    #[serde(with = "json_f64")]
    pub volatility_ann_pct: f64,
    #[serde(with = "json_f64")]
    pub cagr_pct: f64,
    #[serde(with = "json_f64")]
    pub sharpe_ratio: f64,
    #[serde(with = "json_f64")]
    pub sortino_ratio: f64,
    #[serde(with = "json_f64")]
    pub calmar_ratio: f64,
    #[serde(with = "json_f64")]
    pub alpha_pct: f64,
    #[serde(with = "json_f64")]
    pub beta: f64,
    #[serde(with = "json_f64")]
    pub max_drawdown_pct: f64,
    #[serde(with = "json_f64")]
    pub avg_drawdown_pct: f64,
    pub max_drawdown_duration_nanos: Option<i64>,
    #[serde(with = "json_f64")]
    pub max_drawdown_duration_days: f64,
    pub avg_drawdown_duration_nanos: Option<i64>,
    #[serde(with = "json_f64")]
    pub avg_drawdown_duration_days: f64,
    pub n_trades: usize,
    #[serde(with = "json_f64")]
    pub win_rate_pct: f64,
    #[serde(with = "json_f64")]
    pub best_trade_pct: f64,
    #[serde(with = "json_f64")]
    pub worst_trade_pct: f64,
    #[serde(with = "json_f64")]
    pub avg_trade_pct: f64,
    pub max_trade_duration_nanos: Option<i64>,
    #[serde(with = "json_f64")]
    pub max_trade_duration_days: f64,
    pub avg_trade_duration_nanos: Option<i64>,
    #[serde(with = "json_f64")]
    pub avg_trade_duration_days: f64,
    #[serde(with = "json_f64")]
    pub profit_factor: f64,
    #[serde(with = "json_f64")]
    pub expectancy_pct: f64,
    #[serde(with = "json_f64")]
    pub sqn: f64,
    #[serde(with = "json_f64")]
    pub kelly_criterion: f64,
    /// (final - initial) / initial, as a fraction.
    #[serde(with = "json_f64")]
    pub total_return: f64,
    /// Sample standard deviation of the period returns x sqrt(periods a year), as a fraction (empyrical's
    /// `annual_volatility`; backtesting.py's compounded `volatility_ann_pct` differs).
    #[serde(with = "json_f64")]
    pub volatility: f64,
    /// Traded notional / mean equity.
    #[serde(with = "json_f64")]
    pub turnover: f64,
    /// Periods a year used to annualise: 252 or 365 (daily), 52, 12 or 1.
    #[serde(with = "json_f64")]
    pub annual_periods: f64,
    /// Number of resampled period returns behind the annualised figures.
    pub n_period_returns: usize,
}

/// backtesting.py's statistics of one run, see [`Metrics`].
pub fn metrics(input: &MetricsInput) -> Result<Metrics, MetricsError> {
    validate(input)?;
    let eq: Vec<f64> = input.equity.iter().map(|s| s.equity).collect();
    let ts: Vec<i64> = input.equity.iter().map(|s| s.ts_nanos).collect();
    let n = eq.len();
    let (first, last) = (eq[0], eq[n - 1]);
    let rf = input.risk_free_rate;
    let resolution = duration_resolution(&ts);

    let mut peak = f64::NEG_INFINITY;
    let dd: Vec<f64> = eq
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            1.0 - e / peak
        })
        .collect();
    let (dd_durations, dd_peaks) = drawdown_periods(&dd, &ts);
    let dd_max = dd.iter().copied().fold(f64::NEG_INFINITY, f64::max);

    let mut have_position = vec![false; n];
    for t in input.trades {
        have_position[t.entry_bar..=t.exit_bar].fill(true);
    }
    let exposure = have_position.iter().filter(|&&b| b).count() as f64 / n as f64 * 100.0;

    let return_pct = (last - first) / first * 100.0;
    let buy_and_hold_pct = input.benchmark_close.map_or(f64::NAN, |c| {
        let start = c[input.first_trading_bar..].iter().find(|v| !v.is_nan());
        start.map_or(f64::NAN, |&c0| (c[n - 1] - c0) / c0 * 100.0)
    });

    let (period_returns, annual_periods) = period_returns(input.equity);
    let g = geometric_mean(&period_returns);
    let annualized = (1.0 + g).powf(annual_periods) - 1.0;
    let var = variance(&period_returns);
    let vol_ann_pct =
        ((var + (1.0 + g).powi(2)).powf(annual_periods) - (1.0 + g).powf(2.0 * annual_periods)).sqrt() * 100.0;
    let duration = ts[n - 1] - ts[0];
    // backtesting.py reads Timedelta.days and .seconds only, so sub-second parts are dropped.
    let years = (duration.div_euclid(NANOS_PER_DAY) as f64
        + duration.rem_euclid(NANOS_PER_DAY).div_euclid(NANOS_PER_SECOND) as f64 / 86400.0)
        / 365.25;
    let cagr_pct = if years != 0.0 { ((last / first).powf(1.0 / years) - 1.0) * 100.0 } else { f64::NAN };
    let sharpe = (annualized * 100.0 - rf * 100.0) / nan_if_zero(vol_ann_pct);
    let downside: Vec<f64> = period_returns.iter().map(|r| r.min(0.0).powi(2)).collect();
    let sortino = (annualized - rf) / (mean(&downside).sqrt() * annual_periods.sqrt());
    let calmar = annualized / nan_if_zero(dd_max);
    let beta = match input.benchmark_close {
        Some(c) => {
            let (e_log, m_log): (Vec<f64>, Vec<f64>) = eq
                .windows(2)
                .zip(c.windows(2))
                .map(|(e, m)| ((e[1] / e[0]).ln(), (m[1] / m[0]).ln()))
                .filter(|(_, m)| !m.is_nan())
                .unzip();
            if m_log.len() > 1 { covariance(&e_log, &m_log) / variance(&m_log) } else { f64::NAN }
        }
        None => f64::NAN,
    };
    let alpha_pct = return_pct - rf * 100.0 - beta * (buy_and_hold_pct - rf * 100.0);

    let pl: Vec<f64> = input.trades.iter().map(|t| t.pnl).collect();
    let returns: Vec<f64> = input.trades.iter().map(TradeSummary::return_fraction).collect();
    let trade_durations: Vec<i64> = input.trades.iter().map(|t| t.exit_ts_nanos - t.entry_ts_nanos).collect();
    let n_trades = input.trades.len();
    let win_rate =
        if n_trades == 0 { f64::NAN } else { pl.iter().filter(|&&p| p > 0.0).count() as f64 / n_trades as f64 };
    let wins: Vec<f64> = pl.iter().copied().filter(|&p| p > 0.0).collect();
    let losses: Vec<f64> = pl.iter().copied().filter(|&p| p < 0.0).collect();
    let gains = pairwise_sum(&returns.iter().copied().filter(|&r| r > 0.0).collect::<Vec<_>>());
    let drops = pairwise_sum(&returns.iter().copied().filter(|&r| r < 0.0).collect::<Vec<_>>());

    let max_dd_duration = dd_durations.iter().copied().max().map(|d| ceil_to(d, resolution));
    let avg_dd_duration = mean_duration(&dd_durations).map(|d| ceil_to(d, resolution));
    let max_trade_duration = trade_durations.iter().copied().max().map(|d| ceil_to(d, resolution));
    let avg_trade_duration = mean_duration(&trade_durations).map(|d| ceil_to(d, resolution));

    Ok(Metrics {
        start: iso_timestamp(ts[0]),
        end: iso_timestamp(ts[n - 1]),
        start_ts_nanos: ts[0],
        end_ts_nanos: ts[n - 1],
        duration_nanos: duration,
        duration_days: days(Some(duration)),
        exposure_time_pct: exposure,
        equity_final: last,
        equity_peak: eq.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        commissions: input.commissions_total,
        return_pct,
        buy_and_hold_return_pct: buy_and_hold_pct,
        return_ann_pct: annualized * 100.0,
        volatility_ann_pct: vol_ann_pct,
        cagr_pct,
        sharpe_ratio: sharpe,
        sortino_ratio: sortino,
        calmar_ratio: calmar,
        alpha_pct,
        beta,
        max_drawdown_pct: -dd_max * 100.0,
        avg_drawdown_pct: -mean(&dd_peaks) * 100.0,
        max_drawdown_duration_nanos: max_dd_duration,
        max_drawdown_duration_days: days(max_dd_duration),
        avg_drawdown_duration_nanos: avg_dd_duration,
        avg_drawdown_duration_days: days(avg_dd_duration),
        n_trades,
        win_rate_pct: win_rate * 100.0,
        best_trade_pct: returns.iter().copied().reduce(f64::max).unwrap_or(f64::NAN) * 100.0,
        worst_trade_pct: returns.iter().copied().reduce(f64::min).unwrap_or(f64::NAN) * 100.0,
        avg_trade_pct: geometric_mean(&returns) * 100.0,
        max_trade_duration_nanos: max_trade_duration,
        max_trade_duration_days: days(max_trade_duration),
        avg_trade_duration_nanos: avg_trade_duration,
        avg_trade_duration_days: days(avg_trade_duration),
        profit_factor: gains / nan_if_zero(drops.abs()),
        expectancy_pct: mean(&returns) * 100.0,
        sqn: (n_trades as f64).sqrt() * mean(&pl) / nan_if_zero(variance(&pl).sqrt()),
        kelly_criterion: win_rate - (1.0 - win_rate) / (mean(&wins) / -mean(&losses)),
        total_return: (last - first) / first,
        volatility: variance(&period_returns).sqrt() * annual_periods.sqrt(),
        turnover: input.traded_notional / mean(&eq),
        annual_periods,
        n_period_returns: period_returns.len(),
    })
}

fn validate(input: &MetricsInput) -> Result<(), MetricsError> {
    let n = input.equity.len();
    if n == 0 {
        return Err(MetricsError::EmptyEquity);
    }
    for (i, s) in input.equity.iter().enumerate() {
        if !s.equity.is_finite() {
            return Err(invalid(format!("equity[{i}].equity"), format!("must be finite, got {}", s.equity)));
        }
        if i > 0 && s.ts_nanos < input.equity[i - 1].ts_nanos {
            let prev = input.equity[i - 1].ts_nanos;
            return Err(invalid(
                format!("equity[{i}].ts_nanos"),
                format!("timestamps must not decrease, got {} after {prev}", s.ts_nanos),
            ));
        }
    }
    if input.equity[0].equity <= 0.0 {
        return Err(invalid(
            "equity[0].equity",
            format!("initial equity must be positive, got {}", input.equity[0].equity),
        ));
    }
    if let Some(c) = input.benchmark_close {
        if c.len() != n {
            return Err(invalid("benchmark_close", format!("has {} values but equity has {n} samples", c.len())));
        }
        if let Some(i) = c.iter().position(|v| !(v.is_nan() || (v.is_finite() && *v > 0.0))) {
            return Err(invalid(
                format!("benchmark_close[{i}]"),
                format!("must be > 0 and finite (or NaN), got {}", c[i]),
            ));
        }
    }
    if input.first_trading_bar >= n {
        return Err(invalid(
            "first_trading_bar",
            format!("{} is past the last bar ({})", input.first_trading_bar, n - 1),
        ));
    }
    if !(input.risk_free_rate > -1.0 && input.risk_free_rate < 1.0) {
        return Err(invalid("risk_free_rate", format!("must lie in (-1, 1), got {}", input.risk_free_rate)));
    }
    if !input.commissions_total.is_finite() {
        return Err(invalid("commissions_total", format!("must be finite, got {}", input.commissions_total)));
    }
    if !(input.traded_notional.is_finite() && input.traded_notional >= 0.0) {
        return Err(invalid("traded_notional", format!("must be finite and >= 0, got {}", input.traded_notional)));
    }
    for (i, t) in input.trades.iter().enumerate() {
        let name = |field: &str| format!("trades[{i}].{field}");
        if !(t.size.is_finite() && t.size > 0.0) {
            return Err(invalid(name("size"), format!("must be finite and > 0, got {}", t.size)));
        }
        if !(t.entry_price.is_finite() && t.entry_price > 0.0) {
            return Err(invalid(name("entry_price"), format!("must be finite and > 0, got {}", t.entry_price)));
        }
        for (field, v) in [("exit_price", t.exit_price), ("commissions", t.commissions), ("pnl", t.pnl)] {
            if !v.is_finite() {
                return Err(invalid(name(field), format!("must be finite, got {v}")));
            }
        }
        if t.entry_bar > t.exit_bar || t.exit_bar >= n {
            return Err(invalid(
                name("exit_bar"),
                format!("bars {}..={} must be ordered and within the {n} equity samples", t.entry_bar, t.exit_bar),
            ));
        }
        if t.exit_ts_nanos < t.entry_ts_nanos {
            return Err(invalid(
                name("exit_ts_nanos"),
                format!("{} is before the entry {}", t.exit_ts_nanos, t.entry_ts_nanos),
            ));
        }
    }
    Ok(())
}

/// Drawdown periods as backtesting.py's `compute_drawdown_duration_peaks` finds them: from each bar at a running
/// peak to the next one (or to the last bar), skipping adjacent peaks. Returns (durations, peak drawdowns).
fn drawdown_periods(dd: &[f64], ts: &[i64]) -> (Vec<i64>, Vec<f64>) {
    let n = dd.len();
    let mut at_peak: Vec<usize> = (0..n).filter(|&i| dd[i] == 0.0).collect();
    if at_peak.last() != Some(&(n - 1)) {
        at_peak.push(n - 1);
    }
    let (mut durations, mut peaks) = (Vec::new(), Vec::new());
    for w in at_peak.windows(2) {
        let (prev, cur) = (w[0], w[1]);
        if cur > prev + 1 {
            durations.push(ts[cur] - ts[prev]);
            peaks.push(dd[prev..=cur].iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
    }
    if durations.is_empty() {
        // backtesting.py then falls back to the non-zero drawdowns themselves (only a last-bar dip can be
        // left); it reports that value as the "duration" too, which we leave undefined instead.
        peaks = dd.iter().copied().filter(|&d| d != 0.0).collect();
    }
    (durations, peaks)
}

/// f64 fields in JSON: NaN as null, infinities as the strings "Infinity" / "-Infinity".
mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_none()
        } else if v.is_infinite() {
            s.serialize_str(if *v > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            s.serialize_f64(*v)
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(f64::NAN),
            Some(Repr::Num(v)) => Ok(v),
            Some(Repr::Text(t)) if t == "Infinity" => Ok(f64::INFINITY),
            Some(Repr::Text(t)) if t == "-Infinity" => Ok(f64::NEG_INFINITY),
            Some(Repr::Text(t)) => Err(D::Error::custom(format!("expected a number, null or ±Infinity, got {t:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const QUICKSTART: &str = include_str!("../../tests/reference/backtest/backtesting_py_quickstart.json");
    const CASES: &str = include_str!("../../tests/reference/backtest/backtesting_py_cases.json");

    /// Reference JSON: numbers, null for NaN, "Infinity"/"-Infinity".
    fn num(v: &Value) -> f64 {
        match v {
            Value::Null => f64::NAN,
            Value::String(s) if s == "Infinity" => f64::INFINITY,
            Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
            v => v.as_f64().unwrap(),
        }
    }

    fn column(case: &Value, name: &str) -> Vec<f64> {
        case["trades"][name].as_array().unwrap().iter().map(num).collect()
    }

    struct Case {
        equity: Vec<EquitySample>,
        trades: Vec<TradeSummary>,
        close: Vec<f64>,
        first_trading_bar: usize,
    }

    /// backtesting.py's own equity curve and trades table, as the engine would hand them over.
    fn load(case: &Value) -> Case {
        let ts: Vec<i64> = case["index_ns"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        let eq: Vec<f64> = case["equity"].as_array().unwrap().iter().map(num).collect();
        let equity = ts.iter().zip(&eq).map(|(&ts_nanos, &equity)| EquitySample { ts_nanos, equity }).collect();
        let int = |name: &str| -> Vec<i64> {
            case["trades"][name].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
        };
        let (size, entry_bar, exit_bar) = (int("Size"), int("EntryBar"), int("ExitBar"));
        let (entry_time, exit_time) = (int("EntryTime"), int("ExitTime"));
        let (entry_price, exit_price) = (column(case, "EntryPrice"), column(case, "ExitPrice"));
        let (pnl, commission) = (column(case, "PnL"), column(case, "Commission"));
        let trades = (0..size.len())
            .map(|i| TradeSummary {
                symbol: "GOOG".into(),
                side: if size[i] > 0 { TradeSide::Long } else { TradeSide::Short },
                size: size[i].unsigned_abs() as f64,
                entry_bar: entry_bar[i] as usize,
                exit_bar: exit_bar[i] as usize,
                entry_ts_nanos: entry_time[i],
                exit_ts_nanos: exit_time[i],
                entry_price: entry_price[i],
                exit_price: exit_price[i],
                commissions: commission[i],
                financing: 0.0,
                pnl: pnl[i],
                tag: None,
            })
            .collect();
        Case {
            equity,
            trades,
            close: case["close"].as_array().unwrap().iter().map(num).collect(),
            first_trading_bar: case["first_trading_bar"].as_u64().unwrap() as usize,
        }
    }

    fn input<'a>(c: &'a Case, rf: f64) -> MetricsInput<'a> {
        MetricsInput {
            equity: &c.equity,
            trades: &c.trades,
            benchmark_close: Some(&c.close),
            first_trading_bar: c.first_trading_bar,
            risk_free_rate: rf,
            commissions_total: c.trades.iter().map(|t| t.commissions).sum(),
            traded_notional: 0.0,
        }
    }

    fn nanos(v: Option<i64>) -> f64 {
        v.map_or(f64::NAN, |v| v as f64)
    }

    /// Our figures under backtesting.py's names (durations in nanoseconds).
    fn table(m: &Metrics) -> Vec<(&'static str, f64)> {
        vec![
            ("Duration", m.duration_nanos as f64),
            ("Exposure Time [%]", m.exposure_time_pct),
            ("Equity Final [$]", m.equity_final),
            ("Equity Peak [$]", m.equity_peak),
            ("Commissions [$]", m.commissions),
            ("Return [%]", m.return_pct),
            ("Buy & Hold Return [%]", m.buy_and_hold_return_pct),
            ("Return (Ann.) [%]", m.return_ann_pct),
            ("Volatility (Ann.) [%]", m.volatility_ann_pct),
            ("CAGR [%]", m.cagr_pct),
            ("Sharpe Ratio", m.sharpe_ratio),
            ("Sortino Ratio", m.sortino_ratio),
            ("Calmar Ratio", m.calmar_ratio),
            ("Alpha [%]", m.alpha_pct),
            ("Beta", m.beta),
            ("Max. Drawdown [%]", m.max_drawdown_pct),
            ("Avg. Drawdown [%]", m.avg_drawdown_pct),
            ("Max. Drawdown Duration", nanos(m.max_drawdown_duration_nanos)),
            ("Avg. Drawdown Duration", nanos(m.avg_drawdown_duration_nanos)),
            ("# Trades", m.n_trades as f64),
            ("Win Rate [%]", m.win_rate_pct),
            ("Best Trade [%]", m.best_trade_pct),
            ("Worst Trade [%]", m.worst_trade_pct),
            ("Avg. Trade [%]", m.avg_trade_pct),
            ("Max. Trade Duration", nanos(m.max_trade_duration_nanos)),
            ("Avg. Trade Duration", nanos(m.avg_trade_duration_nanos)),
            ("Profit Factor", m.profit_factor),
            ("Expectancy [%]", m.expectancy_pct),
            ("SQN", m.sqn),
            ("Kelly Criterion", m.kelly_criterion),
        ]
    }

    const REL: f64 = 1e-9;

    fn close_enough(got: f64, want: f64, rel: f64) -> bool {
        (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= rel * want.abs()
    }

    /// Every stat backtesting.py printed is reproduced; returns the worst relative error seen.
    fn assert_stats(name: &str, m: &Metrics, stats: &Value, skip: &[&str]) -> f64 {
        assert_eq!(m.start, stats["Start"].as_str().unwrap(), "{name}: Start");
        assert_eq!(m.end, stats["End"].as_str().unwrap(), "{name}: End");
        let ours = table(m);
        let mut worst: f64 = 0.0;
        for (key, want) in stats.as_object().unwrap() {
            if key == "Start" || key == "End" || skip.contains(&key.as_str()) {
                continue;
            }
            let got = ours.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("{name}: no stat {key}")).1;
            let want = num(want);
            assert!(close_enough(got, want, REL), "{name}: {key} = {got}, backtesting.py {want}");
            if want.is_finite() && want != 0.0 {
                worst = worst.max((got - want).abs() / want.abs());
            }
        }
        worst
    }

    #[test]
    fn quickstart_reproduces_every_backtesting_py_stat() {
        let doc: Value = serde_json::from_str(QUICKSTART).unwrap();
        let case = load(&doc);
        assert_eq!(case.equity.len(), 2148);
        assert_eq!(case.trades.len(), 93);
        for (t, want) in case.trades.iter().zip(column(&doc, "ReturnPct")) {
            assert!(close_enough(t.return_fraction(), want, 1e-12), "{} vs {want}", t.return_fraction());
        }
        let m = metrics(&input(&case, 0.0)).unwrap();
        let worst = assert_stats("quickstart", &m, &doc["stats"], &[]);
        assert!(worst < REL);
        // The headline figures, so a regenerated reference that changed shape cannot pass silently.
        assert_eq!(m.n_trades, 93);
        assert_eq!(m.annual_periods, 252.0);
        assert!((m.return_pct - 462.635).abs() < 1e-3 && (m.max_drawdown_pct + 33.93).abs() < 1e-2);
        assert_eq!(m.max_drawdown_duration_days, 830.0);
        let empyrical: Value = serde_json::from_str(CASES).unwrap();
        let vol = num(&empyrical["empyrical"]["quickstart_day_returns"]["annual_volatility"]);
        assert!(close_enough(m.volatility, vol, 1e-12), "{} vs empyrical {vol}", m.volatility);

        let rf = metrics(&input(&case, 0.02)).unwrap();
        assert_stats("quickstart rf=2%", &rf, &doc["stats_risk_free_2pct"], &[]);
        assert!(rf.sharpe_ratio < m.sharpe_ratio && rf.alpha_pct < m.alpha_pct);
    }

    #[test]
    fn other_frequencies_and_edge_cases_match_backtesting_py() {
        let doc: Value = serde_json::from_str(CASES).unwrap();
        let mut seen = Vec::new();
        for c in doc["cases"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let case = load(c);
            let m = metrics(&input(&case, c["risk_free_rate"].as_f64().unwrap())).unwrap();
            let quirks: Vec<&str> = c
                .get("not_durations")
                .map_or(vec![], |q| q.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect());
            assert_stats(name, &m, &c["stats"], &quirks);
            seen.push((name.to_string(), m));
        }
        let get = |n: &str| &seen.iter().find(|(k, _)| k == n).unwrap().1;
        assert_eq!(get("goog_weekly").annual_periods, 52.0);
        assert_eq!(get("btcusd_monthly").annual_periods, 12.0);
        assert_eq!(get("goog_calendar_days").annual_periods, 365.0);
        assert_eq!(get("eurusd_hourly").annual_periods, 252.0);
        // Hourly data: durations are rounded up to whole hours, not days.
        assert_eq!(get("eurusd_hourly").avg_trade_duration_nanos.unwrap() % 3_600_000_000_000, 0);
        // Equity wiped out: geometric means collapse to 0 and the log-return beta is undefined.
        let btc = get("btcusd_monthly");
        assert_eq!((btc.equity_final, btc.return_ann_pct, btc.avg_trade_pct), (0.0, 0.0, 0.0));
        assert!(btc.beta.is_nan() && btc.alpha_pct.is_nan());
        let idle = get("goog_idle");
        assert_eq!(idle.n_trades, 0);
        assert!(idle.win_rate_pct.is_nan() && idle.sqn.is_nan() && idle.max_trade_duration_nanos.is_none());
        // A dip on the last bar only: backtesting.py prints the drawdown fraction as a "duration"; we leave it
        // undefined but agree on the drawdown itself.
        let dip = get("last_bar_dip");
        assert!(dip.max_drawdown_duration_nanos.is_none() && dip.max_drawdown_duration_days.is_nan());
        assert!((dip.avg_drawdown_pct - (102.2 / 103.0 - 1.0) * 100.0).abs() < 1e-12);
    }

    #[test]
    fn benchmark_without_early_prices_starts_buy_and_hold_at_its_first_price() {
        let doc: Value = serde_json::from_str(QUICKSTART).unwrap();
        let mut case = load(&doc);
        let full = metrics(&input(&case, 0.0)).unwrap();
        case.close[..5].fill(f64::NAN);
        let gappy = metrics(&input(&case, 0.0)).unwrap();
        // Warm-up covers the gap, so Buy & Hold is unchanged; beta is the beta of the steps from bar 5 on.
        assert_eq!(gappy.buy_and_hold_return_pct, full.buy_and_hold_return_pct);
        let tail = Case {
            equity: case.equity[5..].to_vec(),
            trades: vec![],
            close: case.close[5..].to_vec(),
            first_trading_bar: 0,
        };
        let trimmed = metrics(&input(&tail, 0.0)).unwrap();
        assert!(close_enough(gappy.beta, trimmed.beta, 1e-15) && gappy.beta != full.beta);
        case.first_trading_bar = 2;
        assert_eq!(metrics(&input(&case, 0.0)).unwrap().buy_and_hold_return_pct, {
            let c = &case.close;
            (c[c.len() - 1] - c[5]) / c[5] * 100.0
        });
    }

    fn flat(n: usize) -> Vec<EquitySample> {
        (0..n).map(|i| EquitySample { ts_nanos: i as i64 * NANOS_PER_DAY, equity: 100.0 + i as f64 }).collect()
    }

    fn bare(equity: &[EquitySample]) -> MetricsInput<'_> {
        MetricsInput {
            equity,
            trades: &[],
            benchmark_close: None,
            first_trading_bar: 0,
            risk_free_rate: 0.0,
            commissions_total: 0.0,
            traded_notional: 0.0,
        }
    }

    #[test]
    fn turnover_is_traded_notional_over_mean_equity_and_missing_benchmark_is_nan() {
        let eq = [100.0, 200.0, 300.0].map(|e| EquitySample { ts_nanos: 0, equity: e });
        let m = metrics(&MetricsInput { traded_notional: 500.0, ..bare(&eq) }).unwrap();
        assert_eq!(m.turnover, 2.5);
        assert_eq!(m.total_return, 2.0);
        assert!(m.buy_and_hold_return_pct.is_nan() && m.beta.is_nan() && m.alpha_pct.is_nan());
    }

    #[test]
    fn json_writes_nan_as_null_and_round_trips() {
        let eq = flat(3);
        let m = metrics(&bare(&eq)).unwrap();
        let json = serde_json::to_value(&m).unwrap();
        assert!(json["sqn"].is_null() && json["win_rate_pct"].is_null() && json["max_trade_duration_nanos"].is_null());
        // Only gains: no downside, so Sortino is +inf and must survive the trip.
        assert_eq!(json["sortino_ratio"], "Infinity");
        assert_eq!(json["start"], "1970-01-01T00:00:00");
        let back: Metrics = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.sortino_ratio, f64::INFINITY);
        assert_eq!(serde_json::to_value(&back).unwrap(), json);
        let bad = serde_json::to_string(&json).unwrap().replace("\"Infinity\"", "\"lots\"");
        assert!(serde_json::from_str::<Metrics>(&bad).unwrap_err().to_string().contains("lots"));
    }

    #[test]
    fn bad_input_is_rejected_with_the_parameter_named() {
        let eq = flat(4);
        let err = |i: MetricsInput| metrics(&i).unwrap_err().to_string();
        assert_eq!(metrics(&bare(&[])).unwrap_err(), MetricsError::EmptyEquity);
        let mut nan = eq.clone();
        nan[2].equity = f64::NAN;
        assert!(err(bare(&nan)).contains("equity[2].equity"));
        let mut back = eq.clone();
        back[3].ts_nanos = 0;
        assert!(err(bare(&back)).contains("equity[3].ts_nanos: timestamps must not decrease"));
        let mut broke = eq.clone();
        broke[0].equity = 0.0;
        assert!(err(bare(&broke)).contains("initial equity must be positive"));
        let short = [1.0, 2.0];
        assert!(err(MetricsInput { benchmark_close: Some(&short), ..bare(&eq) }).contains("benchmark_close"));
        let zero = [1.0, 0.0, 1.0, 1.0];
        assert!(err(MetricsInput { benchmark_close: Some(&zero), ..bare(&eq) }).contains("benchmark_close[1]"));
        assert!(err(MetricsInput { first_trading_bar: 4, ..bare(&eq) }).contains("first_trading_bar"));
        assert!(err(MetricsInput { risk_free_rate: 1.0, ..bare(&eq) }).contains("risk_free_rate"));
        assert!(err(MetricsInput { risk_free_rate: f64::NAN, ..bare(&eq) }).contains("risk_free_rate"));
        assert!(err(MetricsInput { traded_notional: -1.0, ..bare(&eq) }).contains("traded_notional"));
        let trade = TradeSummary {
            symbol: "X".into(),
            side: TradeSide::Long,
            size: 1.0,
            entry_bar: 1,
            exit_bar: 4,
            entry_ts_nanos: 0,
            exit_ts_nanos: 1,
            entry_price: 10.0,
            exit_price: 11.0,
            commissions: 0.0,
            financing: 0.0,
            pnl: 1.0,
            tag: Some("breakout".into()),
        };
        let out_of_range = [trade.clone()];
        assert!(err(MetricsInput { trades: &out_of_range, ..bare(&eq) }).contains("trades[0].exit_bar"));
        let no_size = [TradeSummary { size: 0.0, exit_bar: 2, ..trade.clone() }];
        assert!(err(MetricsInput { trades: &no_size, ..bare(&eq) }).contains("trades[0].size"));
        let time_travel = [TradeSummary { exit_bar: 2, exit_ts_nanos: -1, ..trade }];
        assert!(err(MetricsInput { trades: &time_travel, ..bare(&eq) }).contains("trades[0].exit_ts_nanos"));
    }
}
