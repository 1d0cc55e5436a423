//! The data quality validator: duplicates, ordering, invalid and inconsistent prices, outliers,
//! stale prices, volume anomalies and coverage against a market calendar, scored as a confidence.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::calendar::{MarketCalendar, MissingRange};
use super::series::{BarSeries, LabelledSeries};
use crate::domain::{Timeframe, Timestamp};

/// How many affected rows a finding lists; `count` always holds the full number.
pub const MAX_LISTED_ROWS: usize = 100;
/// How many gaps a report lists; `missing_bars` always holds the full number.
pub const MAX_LISTED_GAPS: usize = 100;
/// Scale factor that makes a median absolute deviation estimate a normal standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;
/// The same for a mean absolute deviation, used when more than half the values are equal.
const MEAN_AD_TO_SIGMA: f64 = 1.2533;
/// Fewer returns than this give no meaningful robust scale, so the statistical checks are skipped.
const MIN_STAT_SAMPLE: usize = 20;
/// Returns before a jump that set its local scale, to tell a bad tick from a wild day.
const LOCAL_WINDOW: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// The share of an affected row (or missing bar) that counts against confidence.
    pub fn weight(self) -> f64 {
        match self {
            Self::Info => 0.1,
            Self::Warning => 0.5,
            Self::Error => 1.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    MissingBars,
    Duplicates,
    OutOfOrder,
    /// NaN, unparseable, zero or negative prices.
    InvalidPrice,
    OhlcInconsistent,
    Outlier,
    StalePrice,
    VolumeAnomaly,
    OutsideSession,
}

impl CheckKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingBars => "missing_bars",
            Self::Duplicates => "duplicates",
            Self::OutOfOrder => "out_of_order",
            Self::InvalidPrice => "invalid_price",
            Self::OhlcInconsistent => "ohlc_inconsistent",
            Self::Outlier => "outlier",
            Self::StalePrice => "stale_price",
            Self::VolumeAnomaly => "volume_anomaly",
            Self::OutsideSession => "outside_session",
        }
    }
}

/// One problem found, with the rows (file order indices) and source lines it concerns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub check: CheckKind,
    pub severity: Severity,
    pub message: String,
    /// Row indices of the series, ascending, at most [`MAX_LISTED_ROWS`].
    pub rows: Vec<usize>,
    /// Source lines of the listed rows, where known (rows not read from text have none).
    pub lines: Vec<u64>,
    /// All affected rows, or missing bars for [`CheckKind::MissingBars`].
    pub count: usize,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
}

impl Finding {
    /// A finding about `rows` of `bars` (any order): lists the first rows and their lines, and
    /// spans their timestamps.
    pub fn for_rows(
        check: CheckKind,
        severity: Severity,
        message: impl Into<String>,
        bars: &BarSeries,
        rows: &[usize],
    ) -> Self {
        let mut listed: Vec<usize> = rows.to_vec();
        listed.sort_unstable();
        listed.truncate(MAX_LISTED_ROWS);
        let lines = listed.iter().filter_map(|&r| bars.line.get(r).copied()).filter(|&l| l != 0).collect();
        let stamps = rows.iter().filter_map(|&r| bars.ts.get(r).copied());
        let (first_ts, last_ts) = stamps.fold((None, None), |(lo, hi): (Option<Timestamp>, Option<Timestamp>), t| {
            (Some(lo.map_or(t, |x| x.min(t))), Some(hi.map_or(t, |x| x.max(t))))
        });
        Self { check, severity, message: message.into(), rows: listed, lines, count: rows.len(), first_ts, last_ts }
    }

    /// A finding about source lines that never became rows, such as lines an importer reading
    /// leniently dropped because a value was NaN or unparseable.
    pub fn for_lines(check: CheckKind, severity: Severity, message: impl Into<String>, lines: &[u64]) -> Self {
        let mut listed = lines.to_vec();
        listed.sort_unstable();
        listed.truncate(MAX_LISTED_ROWS);
        let none = Self::for_rows(check, severity, message, &BarSeries::default(), &[]);
        Self { lines: listed, count: lines.len(), ..none }
    }
}

/// An [`CheckKind::InvalidPrice`] error for lines an importer could not turn into rows; add it
/// with [`QualityReport::add_finding`]. `reason` says what was wrong, e.g. "a NaN close".
pub fn invalid_rows_finding(lines: &[u64], reason: &str) -> Finding {
    let message = format!("{} line(s) dropped while reading: {reason}", lines.len());
    Finding::for_lines(CheckKind::InvalidPrice, Severity::Error, message, lines)
}

/// Thresholds of the validator. The defaults are tuned on the shared sample files so that a
/// clean daily stock, an hourly forex pair and a close-only panel report only real problems.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QualityConfig {
    /// A log return is an outlier above this robust z-score, |r − median| / (1.4826·MAD).
    /// Daily returns are fat-tailed: at 8 the S&P 500 still shows 12 crash days of 2008 (up to
    /// 14), as `info` jumps; a bad tick, which jumps and reverts, is a `warning`.
    pub outlier_z: f64,
    /// Identical consecutive closes that make an intraday run stale. Hourly EUR/USD never
    /// repeats more than 3 times.
    pub stale_run: usize,
    /// The same for daily and coarser bars. Adjusted closes rounded to 3 decimals of cheap
    /// stocks repeat for 5 or 6 days in liquid names (BBY, JPM in 1990), so a week is too short;
    /// 10 trading days flags only really stale stretches (RRC 1990–1992 repeats up to 69 days).
    pub stale_run_daily: usize,
    /// Volume is anomalous above this robust z-score of ln(1 + volume).
    pub volume_z: f64,
    /// Missing bars turn from a warning into an error above this share of expected bars.
    pub missing_error_share: f64,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self { outlier_z: 8.0, stale_run: 5, stale_run_daily: 10, volume_z: 8.0, missing_error_share: 0.05 }
    }
}

/// What the validator found in one series.
///
/// `confidence` = clamp(1 − Σ_findings weight(severity) · count / base, 0, 1), where weight is
/// 1 for errors, 0.5 for warnings and 0.1 for info, and base is `expected_bars` for missing
/// bars and `rows` for everything else. An empty series has confidence 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub symbol: String,
    pub timeframe: Timeframe,
    pub calendar: MarketCalendar,
    pub rows: usize,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub expected_bars: usize,
    pub missing_bars: usize,
    /// The first gaps in time order, at most [`MAX_LISTED_GAPS`].
    pub gaps: Vec<MissingRange>,
    /// Worst first.
    pub findings: Vec<Finding>,
    pub confidence: f64,
}

impl QualityReport {
    /// Adds a finding (such as [`invalid_rows_finding`]) and recomputes the confidence.
    pub fn add_finding(&mut self, finding: Finding) {
        self.findings.push(finding);
        // Stable, so findings of equal severity keep the order the checks ran in.
        self.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        self.confidence = self.score();
    }

    /// The confidence the findings leave (see the type's documentation).
    pub fn score(&self) -> f64 {
        if self.rows == 0 {
            return 0.0;
        }
        let penalty: f64 = self
            .findings
            .iter()
            .map(|f| {
                let base = if f.check == CheckKind::MissingBars { self.expected_bars } else { self.rows };
                f.severity.weight() * f.count as f64 / base.max(1) as f64
            })
            .sum();
        (1.0 - penalty).clamp(0.0, 1.0)
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    pub fn has_errors(&self) -> bool {
        self.worst() == Some(Severity::Error)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A readable multi-line report: what was checked, then one line per finding with up to
    /// five examples.
    pub fn render_text(&self) -> String {
        let tf = self.timeframe;
        let mut out = String::new();
        let _ = writeln!(out, "Quality report: {} {} ({} calendar)", self.symbol, tf, self.calendar);
        let span = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => format!("{} .. {}", show_ts(a, tf), show_ts(b, tf)),
            _ => "empty".to_string(),
        };
        let _ = writeln!(out, "  span:       {span}");
        let _ = writeln!(
            out,
            "  rows:       {} ({} of {} expected bars present, {} missing)",
            self.rows,
            self.expected_bars - self.missing_bars.min(self.expected_bars),
            self.expected_bars,
            self.missing_bars
        );
        let _ = writeln!(out, "  confidence: {:.1}%", self.confidence * 100.0);
        if self.findings.is_empty() {
            let _ = writeln!(out, "  no findings");
        }
        for f in &self.findings {
            let _ = writeln!(out, "  [{}] {} ({}): {}", f.severity.as_str(), f.check.as_str(), f.count, f.message);
            let examples: Vec<String> = if f.check == CheckKind::MissingBars {
                self.gaps
                    .iter()
                    .take(5)
                    .map(|g| format!("{} .. {} ({})", show_ts(g.from, tf), show_ts(g.to, tf), g.count))
                    .collect()
            } else if f.rows.is_empty() {
                f.lines.iter().take(5).map(|l| format!("line {l}")).collect()
            } else {
                // Lines are listed only where known, so they pair with rows only when complete.
                let lines_complete = f.lines.len() == f.rows.len();
                f.rows
                    .iter()
                    .take(5)
                    .enumerate()
                    .map(|(k, r)| if lines_complete { format!("line {}", f.lines[k]) } else { format!("row {r}") })
                    .collect()
            };
            if !examples.is_empty() {
                let more = if f.count > examples.len() { ", …" } else { "" };
                let _ = writeln!(out, "      e.g. {}{more}", examples.join(", "));
            }
        }
        out
    }
}

fn show_ts(ts: Timestamp, tf: Timeframe) -> String {
    if tf.is_intraday() { ts.to_string() } else { ts.date().to_string() }
}

/// Median of `v` (reordered in place), O(n).
fn median(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (lower, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let mid = *mid;
    if n % 2 == 1 {
        return Some(mid);
    }
    let below = lower.iter().copied().max_by(f64::total_cmp).unwrap_or(mid);
    Some((below + mid) / 2.0)
}

/// Centre and robust scale (MAD-based, falling back to the mean absolute deviation when more
/// than half the values equal the median); `None` when the values do not vary at all.
fn robust_centre_scale(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < MIN_STAT_SAMPLE {
        return None;
    }
    let mut work = values.to_vec();
    let centre = median(&mut work)?;
    for (w, v) in work.iter_mut().zip(values) {
        *w = (v - centre).abs();
    }
    let mean_ad = work.iter().sum::<f64>() / work.len() as f64;
    let mad = median(&mut work)?;
    let scale = if mad > 0.0 { mad * MAD_TO_SIGMA } else { mean_ad * MEAN_AD_TO_SIGMA };
    (scale > 0.0 && scale.is_finite()).then_some((centre, scale))
}

fn plural(n: usize, word: &str) -> String {
    noun(n, word, &format!("{word}s"))
}

fn noun(n: usize, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// Runs of equal values (by `same`) of at least `min_len` among `n` positions: (start, end excl.).
fn runs(n: usize, min_len: usize, same: impl Fn(usize, usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || !same(i - 1, i) {
            if i - start >= min_len.max(2) {
                out.push((start, i));
            }
            start = i;
        }
    }
    out
}

/// Checks a series against `calendar` and `config`. Row-level checks run in file order; the
/// statistical and calendar checks on the series sorted by time with the last row of each
/// timestamp kept (as [`BarSeries::sort_dedup`] would). O(n log n), O(n) when already sorted.
pub fn validate(series: &LabelledSeries, calendar: MarketCalendar, config: &QualityConfig) -> QualityReport {
    let bars = &series.bars;
    let span = bars.span();
    let mut report = QualityReport {
        symbol: series.symbol.as_str().to_string(),
        timeframe: series.timeframe,
        calendar,
        rows: bars.len(),
        first_ts: span.map(|s| s.0),
        last_ts: span.map(|s| s.1),
        expected_bars: 0,
        missing_bars: 0,
        gaps: Vec::new(),
        findings: Vec::new(),
        confidence: 0.0,
    };
    if bars.is_empty() {
        let f = Finding::for_rows(CheckKind::MissingBars, Severity::Error, "the series has no rows", bars, &[]);
        report.findings.push(f);
        return report;
    }
    let mut checks = Checks { series, bars, cfg: config, findings: Vec::new() };
    let close = BarSeries::as_f64(&bars.close);
    let kept = checks.order();
    checks.prices(&close);
    let kept_close: Vec<f64> = kept.iter().map(|&r| close[r]).collect();
    checks.outliers(&kept, &kept_close);
    checks.stale(&kept, &kept_close);
    if series.fields.has_volume() {
        checks.volume(&kept);
    }
    checks.calendar(&mut report, &kept);
    report.findings = checks.findings;
    report.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    report.confidence = report.score();
    report
}

/// The checks of one series and the findings they collect.
struct Checks<'a> {
    series: &'a LabelledSeries,
    bars: &'a BarSeries,
    cfg: &'a QualityConfig,
    findings: Vec<Finding>,
}

impl Checks<'_> {
    /// Records a finding about `rows`, if there are any; `message` gets their number.
    fn flag(&mut self, check: CheckKind, severity: Severity, rows: &[usize], message: impl FnOnce(usize) -> String) {
        if !rows.is_empty() {
            self.findings.push(Finding::for_rows(check, severity, message(rows.len()), self.bars, rows));
        }
    }

    /// Duplicates and out-of-order rows; returns the rows of the sorted, deduplicated series.
    fn order(&mut self) -> Vec<usize> {
        let bars = self.bars;
        let ts = &bars.ts;
        let n = ts.len();
        let backwards: Vec<usize> = (1..n).filter(|&i| ts[i] < ts[i - 1]).collect();
        if n > 1 && backwards.len() == n - 1 && ts.windows(2).all(|w| w[0] > w[1]) {
            // Newest-first files are a layout, not damage: no row is affected.
            let msg = "rows are in descending time order (newest first)";
            let mut f = Finding::for_rows(CheckKind::OutOfOrder, Severity::Info, msg, bars, &[]);
            (f.first_ts, f.last_ts) = (ts.last().copied(), ts.first().copied());
            self.findings.push(f);
        } else {
            self.flag(CheckKind::OutOfOrder, Severity::Warning, &backwards, |n| {
                format!("{} earlier than the row before", noun(n, "row is", "rows are"))
            });
        }
        let mut order: Vec<usize> = (0..n).collect();
        if !backwards.is_empty() {
            // Stable, so rows of one timestamp stay in file order and the last of them wins.
            order.sort_by_key(|&i| ts[i]);
        }
        let same_values = |a: usize, b: usize| {
            (bars.open[a], bars.high[a], bars.low[a], bars.close[a], bars.volume[a])
                == (bars.open[b], bars.high[b], bars.low[b], bars.close[b], bars.volume[b])
        };
        let (mut copies, mut conflicts) = (Vec::new(), Vec::new());
        let mut kept: Vec<usize> = Vec::with_capacity(n);
        for &i in &order {
            match kept.last_mut() {
                Some(last) if ts[*last] == ts[i] => {
                    let repeat = if same_values(*last, i) { &mut copies } else { &mut conflicts };
                    repeat.push(i);
                    *last = i;
                }
                _ => kept.push(i),
            }
        }
        self.flag(CheckKind::Duplicates, Severity::Warning, &conflicts, |n| {
            format!("{} repeat an earlier timestamp with different values (the last one is kept)", plural(n, "row"))
        });
        self.flag(CheckKind::Duplicates, Severity::Info, &copies, |n| {
            format!("{} an exact copy of an earlier row", noun(n, "row is", "rows are"))
        });
        kept
    }

    /// Non-positive or non-finite prices, and (when the series has a range) inconsistent OHLC.
    fn prices(&mut self, close: &[f64]) {
        let bad = |x: f64| !(x.is_finite() && x > 0.0);
        let (mut invalid, mut inconsistent) = (Vec::new(), Vec::new());
        if self.series.fields.has_range() {
            let open = BarSeries::as_f64(&self.bars.open);
            let high = BarSeries::as_f64(&self.bars.high);
            let low = BarSeries::as_f64(&self.bars.low);
            for i in 0..close.len() {
                let (o, h, l, c) = (open[i], high[i], low[i], close[i]);
                if bad(o) || bad(h) || bad(l) || bad(c) {
                    invalid.push(i);
                } else if h < o.max(c) || l > o.min(c) || h < l {
                    inconsistent.push(i);
                }
            }
        } else {
            invalid.extend((0..close.len()).filter(|&i| bad(close[i])));
        }
        self.flag(CheckKind::InvalidPrice, Severity::Error, &invalid, |n| {
            format!("{} with a zero, negative or non-finite price", plural(n, "row"))
        });
        self.flag(CheckKind::OhlcInconsistent, Severity::Error, &inconsistent, |n| {
            format!("{} where high or low does not bound open and close", plural(n, "row"))
        });
    }

    /// Robust z-scores of close-to-close log returns. A jump that reverts at once, and stands
    /// out from the last [`LOCAL_WINDOW`] returns too, is a likely bad tick (warning): crash-day
    /// whipsaws revert as well but come amid wild days. Other jumps may be news, a split or a
    /// gap (info).
    fn outliers(&mut self, kept: &[usize], close: &[f64]) {
        // Returns between consecutive valid closes; `at[k]` is the position of the later bar.
        let (mut rets, mut at) = (Vec::with_capacity(close.len()), Vec::with_capacity(close.len()));
        let mut prev: Option<f64> = None;
        for (p, &c) in close.iter().enumerate().filter(|(_, c)| c.is_finite() && **c > 0.0) {
            if let Some(q) = prev {
                rets.push((c / q).ln());
                at.push(p);
            }
            prev = Some(c);
        }
        let Some((centre, scale)) = robust_centre_scale(&rets) else { return };
        let limit = self.cfg.outlier_z;
        let dev: Vec<f64> = rets.iter().map(|r| (r - centre).abs()).collect();
        let mut prefix = Vec::with_capacity(dev.len() + 1);
        prefix.push(0.0);
        for d in &dev {
            prefix.push(prefix[prefix.len() - 1] + d);
        }
        // The scale of the returns before `k` (never below the global one).
        let local = |k: usize| {
            let from = k.saturating_sub(LOCAL_WINDOW);
            let mean = (prefix[k] - prefix[from]) / (k - from).max(1) as f64;
            (mean * MEAN_AD_TO_SIGMA).max(scale)
        };
        let (mut spikes, mut jumps) = (Vec::new(), Vec::new());
        let mut k = 0;
        while k < rets.len() {
            if dev[k] > limit * scale {
                let reverts = k + 1 < rets.len()
                    && dev[k + 1] > limit * local(k)
                    && dev[k] > limit * local(k)
                    && (rets[k] - centre).signum() != (rets[k + 1] - centre).signum();
                let kind = if reverts { &mut spikes } else { &mut jumps };
                kind.push(kept[at[k]]);
                k += usize::from(reverts);
            }
            k += 1;
        }
        self.flag(CheckKind::Outlier, Severity::Warning, &spikes, |n| {
            format!("{} jump more than {limit} robust sigmas and revert on the next bar", plural(n, "close"))
        });
        self.flag(CheckKind::Outlier, Severity::Info, &jumps, |n| {
            let what = "robust sigmas from the median return (news, a gap or an unadjusted split?)";
            format!("{} more than {limit} {what}", plural(n, "return"))
        });
    }

    /// Runs of identical closes, and (with a range) runs of flat bars whose closes still move.
    fn stale(&mut self, kept: &[usize], close: &[f64]) {
        let cfg = self.cfg;
        let min_run = if self.series.timeframe.is_intraday() { cfg.stale_run } else { cfg.stale_run_daily };
        let close_runs = runs(close.len(), min_run, |a, b| close[a] == close[b]);
        let mut in_close_run = vec![false; close.len()];
        let mut stale = Vec::new();
        for &(s, e) in &close_runs {
            in_close_run[s..e].iter_mut().for_each(|x| *x = true);
            stale.extend_from_slice(&kept[s + 1..e]);
        }
        self.flag(CheckKind::StalePrice, Severity::Warning, &stale, |n| {
            let of = plural(close_runs.len(), "run");
            format!("{} repeat the previous close in {of} of at least {min_run} identical closes", plural(n, "bar"))
        });
        if !self.series.fields.has_range() {
            return;
        }
        let b = self.bars;
        let flat: Vec<bool> = (kept.iter().enumerate())
            .map(|(p, &r)| {
                !in_close_run[p] && b.open[r] == b.close[r] && b.high[r] == b.close[r] && b.low[r] == b.close[r]
            })
            .collect();
        let flat_runs = runs(flat.len(), min_run, |a, b| flat[a] && flat[b]);
        let flat_rows: Vec<usize> = flat_runs.iter().flat_map(|&(s, e)| kept[s..e].iter().copied()).collect();
        self.flag(CheckKind::StalePrice, Severity::Warning, &flat_rows, |n| {
            let what = "bars with open = high = low = close (a range filled from one price?)";
            format!("{} in runs of at least {min_run} {what}", plural(n, "bar"))
        });
    }

    /// Negative and zero volume, and volume spikes by robust z of ln(1 + volume).
    fn volume(&mut self, kept: &[usize]) {
        let volume = BarSeries::as_f64(&self.bars.volume);
        let negative: Vec<usize> = (0..volume.len()).filter(|&i| !volume[i].is_finite() || volume[i] < 0.0).collect();
        self.flag(CheckKind::VolumeAnomaly, Severity::Error, &negative, |n| {
            format!("{} with negative or non-finite volume", plural(n, "row"))
        });
        let zero: Vec<usize> = kept.iter().copied().filter(|&r| volume[r] == 0.0).collect();
        if zero.len() == kept.len() {
            // A source without volume writes zeros everywhere: worth knowing, not a defect per bar.
            let msg = "volume is zero on every bar (none recorded?)";
            self.findings.push(Finding::for_rows(CheckKind::VolumeAnomaly, Severity::Info, msg, self.bars, &[]));
            return;
        }
        self.flag(CheckKind::VolumeAnomaly, Severity::Warning, &zero, |n| {
            format!("{} with zero volume", plural(n, "bar"))
        });
        let positive = |r: &usize| volume[*r] > 0.0 && volume[*r].is_finite();
        let logs: Vec<f64> = kept.iter().filter(|r| positive(r)).map(|&r| volume[r].ln_1p()).collect();
        let Some((centre, scale)) = robust_centre_scale(&logs) else { return };
        let limit = self.cfg.volume_z;
        let spikes: Vec<usize> =
            kept.iter().copied().filter(|r| positive(r) && (volume[*r].ln_1p() - centre) / scale > limit).collect();
        self.flag(CheckKind::VolumeAnomaly, Severity::Info, &spikes, |n| {
            format!("{} with volume more than {limit} robust sigmas above the median", plural(n, "bar"))
        });
    }

    /// Missing bars and bars outside the calendar's sessions, on the sorted deduplicated stamps.
    fn calendar(&mut self, report: &mut QualityReport, kept: &[usize]) {
        let (tf, calendar) = (report.timeframe, report.calendar);
        let stamps: Vec<Timestamp> = kept.iter().map(|&r| self.bars.ts[r]).collect();
        let coverage = calendar.coverage(&stamps, tf);
        let missing = coverage.missing_count();
        (report.expected_bars, report.missing_bars) = (coverage.expected, missing);
        if let Some(largest) = coverage.missing.iter().max_by_key(|g| g.count) {
            let share = missing as f64 / coverage.expected.max(1) as f64;
            let severity = if share > self.cfg.missing_error_share { Severity::Error } else { Severity::Warning };
            let (gaps, pct) = (plural(coverage.missing.len(), "gap"), share * 100.0);
            let (from, to) = (show_ts(largest.from, tf), show_ts(largest.to, tf));
            let message = format!(
                "{missing} of {} expected bars missing ({pct:.2}%) in {gaps}; largest {from} .. {to} ({} bars)",
                coverage.expected, largest.count
            );
            let mut f = Finding::for_rows(CheckKind::MissingBars, severity, message, self.bars, &[]);
            f.count = missing;
            (f.first_ts, f.last_ts) = (coverage.missing.first().map(|g| g.from), coverage.missing.last().map(|g| g.to));
            self.findings.push(f);
        }
        report.gaps = coverage.missing.into_iter().take(MAX_LISTED_GAPS).collect();
        let outside = calendar.outside_session(&stamps, tf);
        let rows: Vec<usize> = outside.iter().map(|&p| kept[p]).collect();
        self.flag(CheckKind::OutsideSession, Severity::Warning, &rows, |n| {
            if tf.is_intraday() {
                return format!("{} outside the regular session", plural(n, "bar"));
            }
            let dates = outside.iter().take(1_000).map(|&p| stamps[p].date());
            let named: Vec<String> =
                dates.filter_map(|d| calendar.holiday(d).map(|h| format!("{d} {h}"))).take(3).collect();
            let eg = if named.is_empty() { String::new() } else { format!(" (e.g. {})", named.join(", ")) };
            format!("{} on days the market is closed{eg}", plural(n, "bar"))
        });
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, NaiveDateTime};
    use rust_decimal::Decimal;

    use super::*;
    use crate::data::series::SeriesFields;
    use crate::domain::Symbol;

    /// A smooth, varied, deterministic Ohlcv series of `n` bars of `tf` from `start` on the
    /// trading days of `cal`, on lines 2, 3, …
    fn synthetic(start: &str, tf: Timeframe, n: usize, cal: MarketCalendar) -> LabelledSeries {
        let mut bars = BarSeries::with_capacity(n);
        let mut t: Timestamp = start.parse().unwrap();
        let (mut price, mut seed) = (100.0_f64, 42_u64);
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1_u64 << 53) as f64
        };
        let dec = |x: f64| Decimal::try_from(x).unwrap().round_dp(6);
        while bars.len() < n {
            if cal.is_trading_day(t.date()) {
                let open = price;
                price *= 1.0 + (next() - 0.5) * 0.02;
                let (hi, lo) = (open.max(price) * (1.0 + next() * 0.005), open.min(price) * (1.0 - next() * 0.005));
                let (vol, line) = ((1e6 * (0.5 + next())).round(), bars.len() as u64 + 2);
                bars.push(t, dec(open), dec(hi), dec(lo), dec(price), dec(vol), line);
            }
            t = t.saturating_add(tf.nominal_nanos());
        }
        LabelledSeries { symbol: Symbol::new("TEST").unwrap(), timeframe: tf, fields: SeriesFields::Ohlcv, bars }
    }

    fn crypto_daily(n: usize) -> LabelledSeries {
        synthetic("2024-01-01T00:00:00Z", Timeframe::D1, n, MarketCalendar::Crypto)
    }

    fn run(series: &LabelledSeries, cal: MarketCalendar) -> QualityReport {
        validate(series, cal, &QualityConfig::default())
    }

    /// Severity, listed rows and lines of each finding of `check`.
    fn found(report: &QualityReport, check: CheckKind) -> Vec<(Severity, Vec<usize>, Vec<u64>)> {
        report
            .findings
            .iter()
            .filter(|f| f.check == check)
            .map(|f| (f.severity, f.rows.clone(), f.lines.clone()))
            .collect()
    }

    fn only(report: &QualityReport, check: CheckKind) -> &Finding {
        let mut all = report.findings.iter().filter(|f| f.check == check);
        let first = all.next().unwrap_or_else(|| panic!("no {check:?} in\n{}", report.render_text()));
        assert!(all.next().is_none(), "one {check:?} in\n{}", report.render_text());
        first
    }

    #[test]
    fn a_clean_series_is_trusted() {
        let report = run(&crypto_daily(400), MarketCalendar::Crypto);
        assert!(report.findings.is_empty(), "{}", report.render_text());
        assert_eq!((report.expected_bars, report.missing_bars, report.confidence), (400, 0, 1.0));
        let equity = synthetic("2024-01-02T00:00:00Z", Timeframe::D1, 300, MarketCalendar::UsEquity);
        let report = run(&equity, MarketCalendar::UsEquity);
        assert!(report.findings.is_empty(), "{}", report.render_text());
        assert_eq!((report.expected_bars, report.confidence), (300, 1.0));
    }

    #[test]
    fn duplicates_and_out_of_order_rows_are_found_at_their_lines() {
        let mut s = crypto_daily(50);
        let b = s.bars.clone();
        // Row 50 copies row 10 exactly, row 51 repeats row 20's stamp with a different close.
        s.bars.push(b.ts[10], b.open[10], b.high[10], b.low[10], b.close[10], b.volume[10], 500);
        s.bars.push(b.ts[20], b.open[20], b.high[20], b.low[20], b.close[20] + Decimal::ONE, b.volume[20], 501);
        let report = run(&s, MarketCalendar::Crypto);
        let want = [(Severity::Warning, vec![51], vec![501]), (Severity::Info, vec![50], vec![500])];
        assert_eq!(found(&report, CheckKind::Duplicates), want);
        // Row 51 follows row 50 in time, so only row 50 steps back.
        assert_eq!(found(&report, CheckKind::OutOfOrder), [(Severity::Warning, vec![50], vec![500])]);
        assert_eq!(report.missing_bars, 0);

        let mut reversed = crypto_daily(30);
        reversed.bars.take_rows(&(0..30).rev().collect::<Vec<_>>());
        let report = run(&reversed, MarketCalendar::Crypto);
        let f = only(&report, CheckKind::OutOfOrder);
        assert_eq!((f.severity, f.count, report.findings.len()), (Severity::Info, 0, 1));
    }

    #[test]
    fn invalid_and_inconsistent_prices_are_errors() {
        let mut s = crypto_daily(60);
        s.bars.close[7] = Decimal::ZERO;
        s.bars.low[12] = -Decimal::ONE;
        s.bars.high[30] = s.bars.low[30] - Decimal::ONE;
        let report = run(&s, MarketCalendar::Crypto);
        assert_eq!(found(&report, CheckKind::InvalidPrice), [(Severity::Error, vec![7, 12], vec![9, 14])]);
        assert_eq!(only(&report, CheckKind::OhlcInconsistent).rows, [30]);
        assert_eq!(only(&report, CheckKind::OhlcInconsistent).first_ts, Some(s.bars.ts[30]));
        assert!(report.has_errors() && report.confidence < 0.96);

        // A close-only panel carries no real open or range: only the close is judged.
        let mut panel = crypto_daily(60);
        panel.fields = SeriesFields::CloseOnly;
        (panel.bars.open[3], panel.bars.high[4]) = (Decimal::ZERO, Decimal::ZERO);
        assert!(run(&panel, MarketCalendar::Crypto).findings.is_empty());
    }

    #[test]
    fn outliers_distinguish_bad_ticks_from_jumps() {
        let mut s = crypto_daily(200);
        s.bars.close[80] *= Decimal::from(3);
        s.bars.high[80] = s.bars.close[80];
        for col in [&mut s.bars.open, &mut s.bars.high, &mut s.bars.low, &mut s.bars.close] {
            col[150..].iter_mut().for_each(|x| *x *= Decimal::TWO);
        }
        let report = run(&s, MarketCalendar::Crypto);
        let want = [(Severity::Warning, vec![80], vec![82]), (Severity::Info, vec![150], vec![152])];
        assert_eq!(found(&report, CheckKind::Outlier), want);
    }

    #[test]
    fn stale_closes_and_flat_bars_are_found() {
        let mut s = synthetic("2024-01-01T00:00:00Z", Timeframe::H1, 300, MarketCalendar::Crypto);
        let b = &mut s.bars;
        for i in 100..106 {
            b.close[i] = b.close[99];
            (b.high[i], b.low[i]) = (b.high[i].max(b.close[i]), b.low[i].min(b.close[i]));
        }
        for i in 200..205 {
            (b.open[i], b.high[i], b.low[i]) = (b.close[i], b.close[i], b.close[i]);
        }
        let report = run(&s, MarketCalendar::Crypto);
        let stale: Vec<Vec<usize>> = found(&report, CheckKind::StalePrice).into_iter().map(|f| f.1).collect();
        assert_eq!(stale, [(100..106).collect::<Vec<_>>(), (200..205).collect()]);
        // Daily bars need a longer run: six equal closes are not stale there.
        let mut daily = crypto_daily(60);
        let c = daily.bars.close[9];
        daily.bars.close[10..16].iter_mut().for_each(|x| *x = c);
        daily.fields = SeriesFields::CloseOnly;
        assert!(run(&daily, MarketCalendar::Crypto).findings.is_empty());
    }

    #[test]
    fn volume_anomalies_are_found() {
        let mut s = crypto_daily(100);
        s.bars.volume[3] = Decimal::ZERO;
        s.bars.volume[40] *= Decimal::from(1_000_000);
        s.bars.volume[41] = -Decimal::ONE;
        let report = run(&s, MarketCalendar::Crypto);
        let want = [
            (Severity::Error, vec![41], vec![43]),
            (Severity::Warning, vec![3], vec![5]),
            (Severity::Info, vec![40], vec![42]),
        ];
        assert_eq!(found(&report, CheckKind::VolumeAnomaly), want);
    }

    #[test]
    fn missing_bars_count_against_expected_bars() {
        let mut s = crypto_daily(100);
        s.bars.take_rows(&(0..100).filter(|i| !(30..33).contains(i)).collect::<Vec<_>>());
        let report = run(&s, MarketCalendar::Crypto);
        let f = only(&report, CheckKind::MissingBars);
        assert_eq!((f.severity, f.count, report.expected_bars, report.missing_bars), (Severity::Warning, 3, 100, 3));
        assert_eq!(report.gaps.len(), 1);
        assert_eq!(f.first_ts, Timestamp::from_date(NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()));
        assert!((report.confidence - (1.0 - 0.5 * 3.0 / 100.0)).abs() < 1e-12);
        s.bars.take_rows(&(0..97).filter(|i| i % 10 != 5).collect::<Vec<_>>());
        assert_eq!(only(&run(&s, MarketCalendar::Crypto), CheckKind::MissingBars).severity, Severity::Error);
    }

    #[test]
    fn bars_on_closed_days_are_outside_the_session() {
        // 2024-03-29 is Good Friday and 2024-03-30 a Saturday.
        let s = synthetic("2024-03-25T00:00:00Z", Timeframe::D1, 10, MarketCalendar::Crypto);
        let report = run(&s, MarketCalendar::UsEquity);
        assert_eq!(found(&report, CheckKind::OutsideSession), [(Severity::Warning, vec![4, 5, 6], vec![6, 7, 8])]);
        assert!(report.findings[0].message.contains("Good Friday"), "{}", report.findings[0].message);
        assert_eq!(report.missing_bars, 0);
    }

    #[test]
    fn added_findings_lower_confidence_and_render() {
        let mut report = run(&crypto_daily(100), MarketCalendar::Crypto);
        report.add_finding(invalid_rows_finding(&[17, 5], "a NaN close"));
        assert_eq!(report.findings[0].lines, [5, 17]);
        assert!((report.confidence - 0.98).abs() < 1e-12);
        let text = report.render_text();
        assert!(text.contains("confidence: 98.0%") && text.contains("line 5, line 17"), "{text}");
        let json = report.to_json();
        assert_eq!(
            (&json["findings"][0]["check"], &json["findings"][0]["severity"]),
            (&"invalid_price".into(), &"error".into())
        );
        assert_eq!(json["calendar"], "crypto");
        let mut empty = crypto_daily(1);
        empty.bars = BarSeries::default();
        let empty = run(&empty, MarketCalendar::Crypto);
        assert_eq!((empty.confidence, empty.has_errors()), (0.0, true));
    }

    /// Reads a shared sample file (first column a date in `format`, then OHLCV) and validates it.
    fn read_shared(name: &str, format: &str, tf: Timeframe, cal: MarketCalendar) -> QualityReport {
        let path = format!("{}/../data/sample/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut bars = BarSeries::default();
        for (i, line) in text.lines().enumerate().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let dt = NaiveDateTime::parse_from_str(cells[0], format)
                .or_else(|_| NaiveDate::parse_from_str(cells[0], format).map(|d| d.and_hms_opt(0, 0, 0).unwrap()))
                .unwrap();
            let v: Vec<Decimal> = cells[1..=5].iter().map(|c| c.parse().unwrap()).collect();
            bars.push(Timestamp::from_naive_utc(dt).unwrap(), v[0], v[1], v[2], v[3], v[4], i as u64 + 1);
        }
        let symbol = Symbol::new(name.trim_end_matches(".csv")).unwrap();
        let report = run(&LabelledSeries { symbol, timeframe: tf, fields: SeriesFields::Ohlcv, bars }, cal);
        println!("{}", report.render_text());
        report
    }

    #[test]
    fn goog_daily_is_complete_on_the_nyse_calendar() {
        let report = read_shared("GOOG.csv", "%Y-%m-%d", Timeframe::D1, MarketCalendar::UsEquity);
        let kinds: Vec<CheckKind> = report.findings.iter().map(|f| f.check).collect();
        assert!(!kinds.contains(&CheckKind::MissingBars) && !kinds.contains(&CheckKind::OutsideSession));
        assert!(!report.has_errors() && report.confidence > 0.99);
    }

    #[test]
    fn btcusd_monthly_has_no_missing_months() {
        let report = read_shared("BTCUSD.csv", "%Y-%m-%d", Timeframe::MO1, MarketCalendar::Crypto);
        assert_eq!((report.expected_bars, report.missing_bars, report.has_errors()), (156, 0, false));
    }

    #[test]
    fn eurusd_hourly_has_no_missing_bars() {
        let report = read_shared("EURUSD.csv", "%Y-%m-%d %H:%M:%S", Timeframe::H1, MarketCalendar::Forex);
        assert_eq!((report.missing_bars, report.has_errors()), (0, false));
        // Two flat Friday bars of volume 1 at 17:00 New York, after the forex close.
        assert_eq!(only(&report, CheckKind::OutsideSession).lines, [2942, 3183]);
    }
}
