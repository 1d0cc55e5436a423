//! Market calendars: when US equities, forex and crypto trade (holidays, sessions, early closes),
//! and which bars a series of a given timeframe should therefore hold between two instants.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::America::New_York;
use serde::{Deserialize, Serialize};

use crate::domain::{AssetClass, Timeframe, Timestamp, ValidationError};

const NANOS_PER_DAY: i64 = 86_400 * Timestamp::NANOS_PER_SECOND;
/// `NaiveDate::num_days_from_ce` of 1970-01-01, to turn dates into Unix day numbers.
const UNIX_EPOCH_CE_DAYS: i64 = 719_163;
/// How many stamps are looked at to guess how a file aligns its intraday bars.
const GRID_SAMPLE: usize = 2_000;

/// Unscheduled NYSE closures that no holiday rule produces.
const NYSE_SPECIAL_CLOSURES: [((i32, u32, u32), &str); 11] = [
    ((1994, 4, 27), "National Day of Mourning for Richard Nixon"),
    ((2001, 9, 11), "September 11 attacks"),
    ((2001, 9, 12), "September 11 attacks"),
    ((2001, 9, 13), "September 11 attacks"),
    ((2001, 9, 14), "September 11 attacks"),
    ((2004, 6, 11), "National Day of Mourning for Ronald Reagan"),
    ((2007, 1, 2), "National Day of Mourning for Gerald Ford"),
    ((2012, 10, 29), "Hurricane Sandy"),
    ((2012, 10, 30), "Hurricane Sandy"),
    ((2018, 12, 5), "National Day of Mourning for George H. W. Bush"),
    ((2025, 1, 9), "National Day of Mourning for Jimmy Carter"),
];

/// The trading calendar of a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketCalendar {
    /// NYSE regular hours, 09:30–16:00 New York (13:00 on early-close days), NYSE holidays.
    UsEquity,
    /// Sunday 17:00 to Friday 17:00 New York, closed on Christmas Day and New Year's Day.
    /// The trading day `D` runs from 17:00 New York on `D - 1` to 17:00 on `D`.
    Forex,
    /// Always open; days are UTC days.
    Crypto,
}

/// One trading day's regular session as UTC instants, `open` inclusive and `close` exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub open: Timestamp,
    pub close: Timestamp,
}

impl Session {
    pub fn contains(&self, ts: Timestamp) -> bool {
        self.open <= ts && ts < self.close
    }
}

/// A run of consecutive expected bars that a series lacks. `from` and `to` are the stamps the
/// first and last absent bars would have (for daily and coarser bars: midnight UTC of the day,
/// the Monday of the week, the first of the month).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingRange {
    pub from: Timestamp,
    pub to: Timestamp,
    pub count: usize,
}

/// How completely a series covers the bars its calendar expects between its first and last stamp.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub expected: usize,
    pub present: usize,
    pub missing: Vec<MissingRange>,
}

impl Coverage {
    pub fn missing_count(&self) -> usize {
        self.expected - self.present
    }
}

/// Where intraday bars start: on the UTC clock grid shifted by `phase` nanoseconds, or at the
/// session open and every bar length after it (how most vendors cut hourly equity bars: 09:30, 10:30).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grid {
    Utc { phase: i64 },
    SessionOpen,
}

/// How a timeframe groups time: exact intraday stamps, or days, weeks and months compared by key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bucket {
    Intraday(i64),
    Days(usize),
    Weeks(usize),
    Months(usize),
}

impl Bucket {
    fn of(tf: Timeframe) -> Option<Self> {
        match tf {
            Timeframe::Seconds(0) | Timeframe::Months(0) => None,
            Timeframe::Seconds(s) if s < 86_400 => Some(Self::Intraday(i64::from(s) * Timestamp::NANOS_PER_SECOND)),
            Timeframe::Seconds(s) if s < 604_800 => Some(Self::Days((s / 86_400) as usize)),
            Timeframe::Seconds(s) => Some(Self::Weeks((s / 604_800) as usize)),
            Timeframe::Months(m) => Some(Self::Months(m as usize)),
        }
    }

    /// The comparison key of an instant: its Unix day, Monday-based week, or month number.
    fn key(self, ts: Timestamp) -> i64 {
        let day = ts.nanos().div_euclid(NANOS_PER_DAY);
        match self {
            Self::Intraday(_) => ts.nanos(),
            Self::Days(_) => day,
            Self::Weeks(_) => week_of_day(day),
            Self::Months(_) => {
                let d = date_of_day(day);
                i64::from(d.year()) * 12 + i64::from(d.month0())
            }
        }
    }

    /// The stamp a bar with this key is given when the calendar lists it.
    fn stamp(self, key: i64) -> Timestamp {
        match self {
            Self::Intraday(_) => Timestamp::from_nanos(key),
            Self::Days(_) => Timestamp::from_nanos(key * NANOS_PER_DAY),
            Self::Weeks(_) => Timestamp::from_nanos((key * 7 - 3) * NANOS_PER_DAY),
            Self::Months(_) => {
                let (y, m) = (key.div_euclid(12), key.rem_euclid(12) + 1);
                let date = NaiveDate::from_ymd_opt(y as i32, m as u32, 1).unwrap_or_default();
                Timestamp::from_nanos(day_of_date(date) * NANOS_PER_DAY)
            }
        }
    }
}

fn day_of_date(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - UNIX_EPOCH_CE_DAYS
}

/// Every `Timestamp` lies within chrono's date range, so the fallback is never taken.
fn date_of_day(day: i64) -> NaiveDate {
    i32::try_from(day + UNIX_EPOCH_CE_DAYS).ok().and_then(NaiveDate::from_num_days_from_ce_opt).unwrap_or_default()
}

/// Monday-based week number: 1970-01-01 was a Thursday, so day 4 starts week 1.
fn week_of_day(day: i64) -> i64 {
    (day + 3).div_euclid(7)
}

/// A New York wall-clock time on `date` as UTC nanoseconds. Market hours never fall in the
/// skipped or repeated hour of a DST change, so `earliest` only matters in theory.
fn ny_instant(date: NaiveDate, hour: u32, minute: u32) -> Option<i64> {
    let local = date.and_hms_opt(hour, minute, 0)?;
    New_York.from_local_datetime(&local).earliest()?.timestamp_nanos_opt()
}

fn nth_weekday(year: i32, month: u32, weekday: chrono::Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: chrono::Weekday) -> Option<NaiveDate> {
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}

/// Easter Sunday by the anonymous Gregorian computus (Meeus/Jones/Butcher).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// A fixed-date holiday moved off the weekend: Saturday to Friday, Sunday to Monday.
fn observed(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        chrono::Weekday::Sat => date.pred_opt().unwrap_or(date),
        chrono::Weekday::Sun => date.succ_opt().unwrap_or(date),
        _ => date,
    }
}

/// NYSE full-day closures of one year, by rule plus the special closures.
fn nyse_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    use chrono::Weekday::{Mon, Thu};
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    let mut out: Vec<(Option<NaiveDate>, &'static str)> = Vec::with_capacity(12);
    // NYSE rule 7.2: a Saturday New Year's Day is not made up on the Friday, which ends the year.
    out.push((ymd(1, 1).filter(|d| d.weekday() != chrono::Weekday::Sat).map(observed), "New Year's Day"));
    if year >= 1998 {
        out.push((nth_weekday(year, 1, Mon, 3), "Martin Luther King Jr. Day"));
    }
    out.push((nth_weekday(year, 2, Mon, 3), "Washington's Birthday"));
    out.push((easter(year).and_then(|e| e.checked_sub_days(chrono::Days::new(2))), "Good Friday"));
    out.push((last_weekday(year, 5, Mon), "Memorial Day"));
    if year >= 2022 {
        out.push((ymd(6, 19).map(observed), "Juneteenth"));
    }
    out.push((ymd(7, 4).map(observed), "Independence Day"));
    out.push((nth_weekday(year, 9, Mon, 1), "Labor Day"));
    out.push((nth_weekday(year, 11, Thu, 4), "Thanksgiving Day"));
    out.push((ymd(12, 25).map(observed), "Christmas Day"));
    for &((y, m, d), name) in &NYSE_SPECIAL_CLOSURES {
        if y == year {
            out.push((ymd(m, d), name));
        }
    }
    out.into_iter().filter_map(|(d, n)| d.map(|d| (d, n))).collect()
}

/// Answers trading-day questions for runs of dates, computing each year's holidays once.
struct DayRules {
    calendar: MarketCalendar,
    year: i32,
    holidays: Vec<(NaiveDate, &'static str)>,
}

impl DayRules {
    fn new(calendar: MarketCalendar) -> Self {
        Self { calendar, year: i32::MIN, holidays: Vec::new() }
    }

    fn holiday(&mut self, date: NaiveDate) -> Option<&'static str> {
        let weekday = date.weekday().num_days_from_monday();
        match self.calendar {
            MarketCalendar::Crypto => None,
            MarketCalendar::Forex if weekday >= 5 => None,
            MarketCalendar::Forex => match (date.month(), date.day()) {
                (12, 25) => Some("Christmas Day"),
                (1, 1) => Some("New Year's Day"),
                _ => None,
            },
            MarketCalendar::UsEquity => {
                if date.year() != self.year {
                    self.year = date.year();
                    self.holidays = nyse_holidays(self.year);
                }
                self.holidays.iter().find(|(d, _)| *d == date).map(|(_, n)| *n)
            }
        }
    }

    fn is_trading_day(&mut self, date: NaiveDate) -> bool {
        match self.calendar {
            MarketCalendar::Crypto => true,
            _ => date.weekday().num_days_from_monday() < 5 && self.holiday(date).is_none(),
        }
    }

    /// NYSE closes at 13:00 on July 3, the day after Thanksgiving and December 24 (when trading days).
    fn is_early_close(&mut self, date: NaiveDate) -> bool {
        if self.calendar != MarketCalendar::UsEquity || !self.is_trading_day(date) {
            return false;
        }
        match (date.month(), date.day()) {
            (7, 3) | (12, 24) => true,
            (11, 23..=29) => date.weekday() == chrono::Weekday::Fri,
            _ => false,
        }
    }

    fn session(&mut self, date: NaiveDate) -> Option<(i64, i64)> {
        if !self.is_trading_day(date) {
            return None;
        }
        match self.calendar {
            MarketCalendar::UsEquity => {
                let close_hour = if self.is_early_close(date) { 13 } else { 16 };
                Some((ny_instant(date, 9, 30)?, ny_instant(date, close_hour, 0)?))
            }
            MarketCalendar::Forex => Some((ny_instant(date.pred_opt()?, 17, 0)?, ny_instant(date, 17, 0)?)),
            MarketCalendar::Crypto => {
                let open = day_of_date(date).checked_mul(NANOS_PER_DAY)?;
                Some((open, open.checked_add(NANOS_PER_DAY)?))
            }
        }
    }

    /// A week (by Monday-based week number) holds a bar when any of its days trades.
    fn week_trades(&mut self, week: i64) -> bool {
        let monday = week * 7 - 3;
        (monday..monday + 7).any(|d| self.is_trading_day(date_of_day(d)))
    }
}

impl MarketCalendar {
    pub fn for_asset_class(class: AssetClass) -> Self {
        match class {
            AssetClass::Equity | AssetClass::Etf | AssetClass::Index | AssetClass::Option => Self::UsEquity,
            AssetClass::Forex => Self::Forex,
            AssetClass::Crypto => Self::Crypto,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::UsEquity => "us_equity",
            Self::Forex => "forex",
            Self::Crypto => "crypto",
        }
    }

    /// Whether a session trades on `date` (for forex: the trading day ending 17:00 New York that date).
    pub fn is_trading_day(self, date: NaiveDate) -> bool {
        DayRules::new(self).is_trading_day(date)
    }

    /// The regular session of `date`, or `None` when the market is closed that day.
    pub fn session(self, date: NaiveDate) -> Option<Session> {
        DayRules::new(self)
            .session(date)
            .map(|(o, c)| Session { open: Timestamp::from_nanos(o), close: Timestamp::from_nanos(c) })
    }

    pub fn is_early_close(self, date: NaiveDate) -> bool {
        DayRules::new(self).is_early_close(date)
    }

    /// Whether the market is in its regular session at `ts`.
    pub fn is_open(self, ts: Timestamp) -> bool {
        match self {
            Self::Crypto => true,
            Self::UsEquity => self.session(self.trading_day(ts)).is_some_and(|s| s.contains(ts)),
            Self::Forex => self.is_trading_day(self.trading_day(ts)),
        }
    }

    /// The trading day an instant belongs to: the New York date for equities, the New York date
    /// from 17:00 the evening before for forex, the UTC date for crypto.
    pub fn trading_day(self, ts: Timestamp) -> NaiveDate {
        let utc = ts.to_datetime();
        match self {
            Self::Crypto => utc.date_naive(),
            Self::UsEquity => utc.with_timezone(&New_York).date_naive(),
            Self::Forex => {
                let local = utc.with_timezone(&New_York);
                let date = local.date_naive();
                if local.hour() >= 17 { date.succ_opt().unwrap_or(date) } else { date }
            }
        }
    }

    /// The name of the holiday that closes the market on `date` (weekends are not holidays).
    pub fn holiday(self, date: NaiveDate) -> Option<&'static str> {
        DayRules::new(self).holiday(date)
    }

    /// The bar stamps the calendar expects in `[start, end]`. Intraday bars are listed when their
    /// interval overlaps a session, on the UTC grid of the timeframe (for US equities: from the
    /// session open, 09:30, 10:30 …). Daily bars are midnight UTC of each trading day between the
    /// dates of `start` and `end`; weekly bars the Monday of each week with a trading day; monthly
    /// bars the first of each month. `tf` of zero length expects nothing.
    pub fn expected_bars(self, start: Timestamp, end: Timestamp, tf: Timeframe) -> Vec<Timestamp> {
        let Some(bucket) = Bucket::of(tf) else { return Vec::new() };
        match bucket {
            Bucket::Intraday(step) => self
                .intraday_stamps(start.nanos(), end.nanos(), step, self.default_grid())
                .into_iter()
                .map(Timestamp::from_nanos)
                .collect(),
            _ => self
                .expected_keys(bucket, bucket.key(start), bucket.key(end))
                .into_iter()
                .map(|k| bucket.stamp(k))
                .collect(),
        }
    }

    /// Runs of expected bars absent between the first and last of `stamps` (sorted ascending).
    pub fn missing_bars(self, stamps: &[Timestamp], tf: Timeframe) -> Vec<MissingRange> {
        self.coverage(stamps, tf).missing
    }

    /// Expected, present and missing bars between the first and last of `stamps` (sorted
    /// ascending; duplicates allowed). Intraday bars are matched exactly, on the grid the stamps
    /// themselves use (UTC clock grid, possibly shifted, or session-open aligned); daily, weekly
    /// and monthly bars by day, Monday-based week and month, whatever their time of day.
    pub fn coverage(self, stamps: &[Timestamp], tf: Timeframe) -> Coverage {
        let (Some(bucket), Some(first), Some(last)) = (Bucket::of(tf), stamps.first(), stamps.last()) else {
            return Coverage::default();
        };
        let expected = match bucket {
            Bucket::Intraday(step) => {
                let grid = self.detect_grid(stamps, step);
                self.intraday_stamps(first.nanos(), last.nanos(), step, grid)
            }
            _ => self.expected_keys(bucket, bucket.key(*first), bucket.key(*last)),
        };
        let mut cov = Coverage { expected: expected.len(), ..Coverage::default() };
        let mut have = stamps.iter().map(|t| bucket.key(*t)).peekable();
        let mut run: Option<MissingRange> = None;
        for &key in &expected {
            while have.next_if(|h| *h < key).is_some() {}
            if have.peek() == Some(&key) {
                cov.present += 1;
                cov.missing.extend(run.take());
            } else {
                let stamp = bucket.stamp(key);
                match run.as_mut() {
                    Some(r) => {
                        r.to = stamp;
                        r.count += 1;
                    }
                    None => run = Some(MissingRange { from: stamp, to: stamp, count: 1 }),
                }
            }
        }
        cov.missing.extend(run);
        cov
    }

    /// Positions in `stamps` (sorted ascending) of bars that fall wholly outside the calendar's
    /// sessions: intraday bars whose interval overlaps no session, daily bars on days without a
    /// session, weekly bars in weeks without one. Monthly bars are never outside.
    pub fn outside_session(self, stamps: &[Timestamp], tf: Timeframe) -> Vec<usize> {
        let (Some(bucket), Some(first), Some(last)) = (Bucket::of(tf), stamps.first(), stamps.last()) else {
            return Vec::new();
        };
        let mut rules = DayRules::new(self);
        let mut out = Vec::new();
        match bucket {
            _ if self == Self::Crypto => {}
            Bucket::Months(_) => {}
            Bucket::Intraday(step) => {
                let open = self.open_intervals(first.nanos(), last.nanos().saturating_add(step));
                let mut j = 0;
                for (i, t) in stamps.iter().enumerate() {
                    let t = t.nanos();
                    while j < open.len() && open[j].1 <= t {
                        j += 1;
                    }
                    if j == open.len() || open[j].0 >= t.saturating_add(step) {
                        out.push(i);
                    }
                }
            }
            Bucket::Days(_) | Bucket::Weeks(_) => {
                // Stamps are sorted, so each day or week is judged once.
                let mut memo: Option<(i64, bool)> = None;
                for (i, t) in stamps.iter().enumerate() {
                    let key = bucket.key(*t);
                    let trades = match memo {
                        Some((k, v)) if k == key => v,
                        _ => {
                            let v = match bucket {
                                Bucket::Weeks(_) => rules.week_trades(key),
                                _ => rules.is_trading_day(date_of_day(key)),
                            };
                            memo = Some((key, v));
                            v
                        }
                    };
                    if !trades {
                        out.push(i);
                    }
                }
            }
        }
        out
    }

    /// Whether a bar of length `tf` stamped `ts` overlaps a session (see [`Self::outside_session`]).
    pub fn bar_in_session(self, ts: Timestamp, tf: Timeframe) -> bool {
        self.outside_session(&[ts], tf).is_empty()
    }

    fn default_grid(self) -> Grid {
        match self {
            Self::UsEquity => Grid::SessionOpen,
            Self::Forex | Self::Crypto => Grid::Utc { phase: 0 },
        }
    }

    /// Guesses the grid of a file's intraday stamps from a sample: the most common offset on the
    /// UTC grid, or (for US equities) session-open alignment when that explains more stamps.
    fn detect_grid(self, stamps: &[Timestamp], step: i64) -> Grid {
        let stride = (stamps.len() / GRID_SAMPLE).max(1);
        let sample: Vec<i64> = stamps.iter().step_by(stride).map(|t| t.nanos()).collect();
        let mut phases: HashMap<i64, usize> = HashMap::new();
        for t in &sample {
            *phases.entry(t.rem_euclid(step)).or_default() += 1;
        }
        let (phase, utc_hits) = phases.into_iter().max_by_key(|&(p, n)| (n, std::cmp::Reverse(p))).unwrap_or((0, 0));
        if self == Self::UsEquity {
            let mut rules = DayRules::new(self);
            let session_hits = sample
                .iter()
                .filter(|&&t| {
                    let date = DateTime::from_timestamp_nanos(t).with_timezone(&New_York).date_naive();
                    rules.session(date).is_some_and(|(open, _)| t >= open && (t - open) % step == 0)
                })
                .count();
            if session_hits >= utc_hits {
                return Grid::SessionOpen;
            }
        }
        Grid::Utc { phase }
    }

    /// Sessions overlapping `[start, end)` as nanosecond intervals, adjacent ones merged (forex
    /// trades Monday to Friday without a break).
    fn open_intervals(self, start: i64, end: i64) -> Vec<(i64, i64)> {
        let mut rules = DayRules::new(self);
        let mut out: Vec<(i64, i64)> = Vec::new();
        // A forex session opens the evening before its date, so look one day either side.
        let (first_day, last_day) = (start.div_euclid(NANOS_PER_DAY) - 1, end.div_euclid(NANOS_PER_DAY) + 1);
        for day in first_day..=last_day {
            let Some((open, close)) = rules.session(date_of_day(day)) else { continue };
            if close <= start || open >= end {
                continue;
            }
            match out.last_mut() {
                Some(last) if open <= last.1 => last.1 = last.1.max(close),
                _ => out.push((open, close)),
            }
        }
        out
    }

    fn intraday_stamps(self, start: i64, end: i64, step: i64, grid: Grid) -> Vec<i64> {
        if start > end || step <= 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        let push_run = |from: i64, to_excl: i64, out: &mut Vec<i64>| {
            let mut t = from;
            while t < to_excl && t <= end {
                if t >= start && out.last().is_none_or(|&l| l < t) {
                    out.push(t);
                }
                t += step;
            }
        };
        match grid {
            Grid::Utc { phase } => {
                let intervals = if self == Self::Crypto {
                    vec![(start, end.saturating_add(1))]
                } else {
                    self.open_intervals(start, end.saturating_add(step))
                };
                for (open, close) in intervals {
                    // The first grid stamp whose bar reaches past the open: partial bars count.
                    let first = phase + (open - phase).div_euclid(step) * step;
                    push_run(first, close, &mut out);
                }
            }
            Grid::SessionOpen => {
                let mut rules = DayRules::new(self);
                for day in start.div_euclid(NANOS_PER_DAY) - 1..=end.div_euclid(NANOS_PER_DAY) + 1 {
                    if let Some((open, close)) = rules.session(date_of_day(day)) {
                        push_run(open, close, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Keys (days, weeks or months) expected from `first` to `last`, every `n`-th one for
    /// multi-day, multi-week and multi-month bars, counted from the first.
    fn expected_keys(self, bucket: Bucket, first: i64, last: i64) -> Vec<i64> {
        let mut rules = DayRules::new(self);
        let (candidates, n): (Vec<i64>, usize) = match bucket {
            Bucket::Intraday(_) => return Vec::new(),
            Bucket::Days(n) => ((first..=last).filter(|&d| rules.is_trading_day(date_of_day(d))).collect(), n),
            Bucket::Weeks(n) => ((first..=last).filter(|&w| rules.week_trades(w)).collect(), n),
            Bucket::Months(n) => ((first..=last).collect(), n),
        };
        candidates.into_iter().step_by(n.max(1)).collect()
    }
}

impl fmt::Display for MarketCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MarketCalendar {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "us_equity" | "nyse" | "equity" => Ok(Self::UsEquity),
            "forex" | "fx" => Ok(Self::Forex),
            "crypto" | "24x7" => Ok(Self::Crypto),
            _ => Err(ValidationError::new("calendar", format!("`{s}` is not one of us_equity, forex, crypto"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The first column of a shared sample file, parsed with `format` (a date or a date-time).
    fn shared_stamps(name: &str, format: &str) -> Vec<Timestamp> {
        let path = format!("{}/../data/sample/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let stamps: Vec<Timestamp> = (text.lines().skip(1).filter(|l| !l.trim().is_empty()))
            .map(|l| {
                let cell = l.split(',').next().unwrap();
                let dt = chrono::NaiveDateTime::parse_from_str(cell, format)
                    .or_else(|_| NaiveDate::parse_from_str(cell, format).map(|d| d.and_hms_opt(0, 0, 0).unwrap()))
                    .unwrap_or_else(|e| panic!("{name}: `{cell}`: {e}"));
                Timestamp::from_naive_utc(dt).unwrap()
            })
            .collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{name} is sorted");
        stamps
    }

    #[test]
    fn nyse_2024_holidays_match_the_published_list() {
        let cal = MarketCalendar::UsEquity;
        let got: Vec<NaiveDate> =
            (0..366).map(|i| d(2024, 1, 1) + chrono::Days::new(i)).filter(|&x| cal.holiday(x).is_some()).collect();
        let want = [(1, 1), (1, 15), (2, 19), (3, 29), (5, 27), (6, 19), (7, 4), (9, 2), (11, 28), (12, 25)];
        assert_eq!(got, want.iter().map(|&(m, day)| d(2024, m, day)).collect::<Vec<_>>());
        assert_eq!(cal.holiday(d(2024, 3, 29)), Some("Good Friday"));
        assert!(!cal.is_trading_day(d(2024, 3, 30)), "Saturday");
        assert_eq!(cal.holiday(d(2024, 3, 30)), None, "weekends are not holidays");
    }

    #[test]
    fn weekend_holidays_follow_the_nyse_observance_rules() {
        let cal = MarketCalendar::UsEquity;
        // New Year 2022 fell on a Saturday and was not observed on Friday.
        assert!(cal.is_trading_day(d(2021, 12, 31)));
        assert!(cal.is_trading_day(d(2022, 1, 3)));
        // Christmas 2021 on Saturday: closed Friday Dec 24. Juneteenth 2022 on Sunday: Monday.
        assert_eq!(cal.holiday(d(2021, 12, 24)), Some("Christmas Day"));
        assert_eq!(cal.holiday(d(2022, 6, 20)), Some("Juneteenth"));
        assert!(cal.is_trading_day(d(2021, 6, 18)), "Juneteenth only from 2022");
        assert_eq!(cal.holiday(d(2017, 1, 2)), Some("New Year's Day"));
        assert_eq!(cal.holiday(d(2015, 7, 3)), Some("Independence Day"));
        assert!(cal.is_trading_day(d(1997, 1, 20)), "MLK Day only from 1998");
        assert_eq!(cal.holiday(d(2012, 10, 30)), Some("Hurricane Sandy"));
        assert_eq!(cal.holiday(d(2025, 1, 9)), Some("National Day of Mourning for Jimmy Carter"));
        assert_eq!(easter(2000), Some(d(2000, 4, 23)));
        assert_eq!(easter(2038), Some(d(2038, 4, 25)));
        assert_eq!(easter(2100), Some(d(2100, 3, 28)));
    }

    #[test]
    fn sessions_follow_new_york_time_and_early_closes() {
        let cal = MarketCalendar::UsEquity;
        let s = cal.session(d(2024, 3, 11)).unwrap();
        assert_eq!((s.open, s.close), (ts("2024-03-11T13:30:00Z"), ts("2024-03-11T20:00:00Z")));
        assert_eq!(cal.session(d(2024, 3, 8)).unwrap().open, ts("2024-03-08T14:30:00Z"));
        assert_eq!(cal.session(d(2024, 11, 29)).unwrap().close, ts("2024-11-29T18:00:00Z"));
        assert_eq!(cal.session(d(2024, 7, 3)).unwrap().close, ts("2024-07-03T17:00:00Z"));
        assert_eq!(cal.session(d(2024, 12, 24)).unwrap().close, ts("2024-12-24T18:00:00Z"));
        assert!(!cal.is_early_close(d(2020, 7, 3)), "a holiday in 2020");
        assert_eq!(cal.session(d(2024, 3, 29)), None);
        assert!(cal.is_open(ts("2024-03-11T13:30:00Z")));
        assert!(!cal.is_open(ts("2024-03-11T13:29:59Z")));
        assert!(!cal.is_open(ts("2024-03-11T20:00:00Z")));
        assert!(!cal.is_open(ts("2024-11-29T18:30:00Z")));
    }

    #[test]
    fn forex_week_runs_sunday_to_friday_five_pm_new_york() {
        let fx = MarketCalendar::Forex;
        assert!(!fx.is_open(ts("2024-07-07T20:59:00Z")));
        assert!(fx.is_open(ts("2024-07-07T21:00:00Z")));
        assert!(fx.is_open(ts("2024-07-12T20:59:59Z")));
        assert!(!fx.is_open(ts("2024-07-12T21:00:00Z")));
        assert!(!fx.is_open(ts("2024-01-07T21:30:00Z")), "winter opens 22:00 UTC");
        assert!(fx.is_open(ts("2024-01-10T03:00:00Z")));
        assert!(!fx.is_open(ts("2024-12-25T12:00:00Z")), "Christmas Day");
        let s = fx.session(d(2024, 7, 8)).unwrap();
        assert_eq!((s.open, s.close), (ts("2024-07-07T21:00:00Z"), ts("2024-07-08T21:00:00Z")));
        // A four-hour bar straddling the open is expected.
        let bars = fx.expected_bars(ts("2024-07-07T00:00:00Z"), ts("2024-07-08T04:00:00Z"), Timeframe::H4);
        assert_eq!(bars, vec![ts("2024-07-07T20:00:00Z"), ts("2024-07-08T00:00:00Z"), ts("2024-07-08T04:00:00Z")]);
        let daily = fx.expected_bars(ts("2024-12-23T00:00:00Z"), ts("2024-12-29T00:00:00Z"), Timeframe::D1);
        assert_eq!(daily.len(), 4, "Mon-Fri without Christmas");
    }

    #[test]
    fn intraday_equity_bars_start_at_the_open() {
        let cal = MarketCalendar::UsEquity;
        let hours = cal.expected_bars(ts("2024-11-29T00:00:00Z"), ts("2024-11-29T23:59:00Z"), Timeframe::H1);
        let want = ["14:30", "15:30", "16:30", "17:30"].map(|h| ts(&format!("2024-11-29T{h}:00Z")));
        assert_eq!(hours, want);
        let mins = cal.expected_bars(ts("2024-03-11T00:00:00Z"), ts("2024-03-12T00:00:00Z"), Timeframe::M1);
        assert_eq!(mins.len(), 390);
        // A file on the clock grid (09:00 partial bar, 10:00 …) is recognised and complete.
        let clock: Vec<Timestamp> =
            (13..20).map(|h| ts(&format!("2024-03-11T{h:02}:00:00Z"))).chain([ts("2024-03-12T13:00:00Z")]).collect();
        let cov = cal.coverage(&clock, Timeframe::H1);
        assert_eq!((cov.expected, cov.present), (8, 8), "{cov:?}");
        assert!(cal.outside_session(&[ts("2024-03-11T12:00:00Z"), ts("2024-03-11T13:00:00Z")], Timeframe::H1) == [0]);
    }

    #[test]
    fn weekly_and_monthly_bars_are_compared_by_week_and_month() {
        let cal = MarketCalendar::UsEquity;
        // Month ends, as the BTC file stamps them, with March 2024 absent.
        let months = [ts("2024-01-31T00:00:00Z"), ts("2024-02-29T00:00:00Z"), ts("2024-04-30T00:00:00Z")];
        let missing = MarketCalendar::Crypto.missing_bars(&months, Timeframe::MO1);
        assert_eq!(
            missing,
            [MissingRange { from: ts("2024-03-01T00:00:00Z"), to: ts("2024-03-01T00:00:00Z"), count: 1 }]
        );
        // Fridays stamp weeks as well as Mondays do; a skipped week is reported by its Monday.
        let weeks = [ts("2024-01-05T00:00:00Z"), ts("2024-01-08T00:00:00Z"), ts("2024-01-26T00:00:00Z")];
        let missing = cal.missing_bars(&weeks, Timeframe::W1);
        assert_eq!(
            missing,
            [MissingRange { from: ts("2024-01-15T00:00:00Z"), to: ts("2024-01-15T00:00:00Z"), count: 1 }]
        );
        assert_eq!(cal.expected_bars(ts("2024-01-01T00:00:00Z"), ts("2024-12-31T00:00:00Z"), Timeframe::W1).len(), 53);
        assert_eq!(cal.expected_bars(ts("2024-01-15T00:00:00Z"), ts("2024-06-01T00:00:00Z"), Timeframe::MO1).len(), 6);
    }

    #[test]
    fn crypto_misses_weekend_days_that_equities_never_expect() {
        let days: Vec<Timestamp> = (0..31)
            .map(|i| Timestamp::from_date(d(2024, 1, 1) + chrono::Days::new(i)).unwrap())
            .filter(|t| t.date() != d(2024, 1, 13))
            .collect();
        let gap = Timestamp::from_date(d(2024, 1, 13)).unwrap();
        assert_eq!(
            MarketCalendar::Crypto.missing_bars(&days, Timeframe::D1),
            [MissingRange { from: gap, to: gap, count: 1 }]
        );
        assert!(MarketCalendar::UsEquity.missing_bars(&days, Timeframe::D1).is_empty());
        let outside = MarketCalendar::UsEquity.outside_session(&days, Timeframe::D1);
        assert_eq!(outside.len(), 7 + 1 + 1, "7 weekend days, MLK Day and New Year's Day");
    }

    #[test]
    fn gaps_are_reported_as_runs() {
        let cal = MarketCalendar::Crypto;
        let mut stamps: Vec<Timestamp> =
            (0..48).map(|h| ts("2024-01-01T00:00:00Z").saturating_add(h * 3_600_000_000_000)).collect();
        stamps.retain(|t| !(5..8).contains(&t.to_datetime().hour()) || t.date() != d(2024, 1, 1));
        stamps.remove(30);
        let missing = cal.missing_bars(&stamps, Timeframe::H1);
        assert_eq!(missing.len(), 2);
        assert_eq!(
            (missing[0].from, missing[0].to, missing[0].count),
            (ts("2024-01-01T05:00:00Z"), ts("2024-01-01T07:00:00Z"), 3)
        );
        assert_eq!(missing[1].count, 1);
        assert_eq!(cal.coverage(&stamps, Timeframe::H1).expected, 48);
        assert!(cal.missing_bars(&[], Timeframe::H1).is_empty());
        assert!(cal.missing_bars(&stamps, Timeframe::Seconds(0)).is_empty());
    }

    #[test]
    fn daily_files_have_every_nyse_session_and_no_other() {
        // GOOG 2004-2013, the S&P 500 1999-2018 and a stock panel 1990-2022.
        for (name, format, rows) in
            [("GOOG.csv", "%Y-%m-%d", 2148), ("SP500.csv", "%m/%d/%Y", 5031), ("SP500_STOCKS.csv", "%Y-%m-%d", 8313)]
        {
            let stamps = shared_stamps(name, format);
            assert_eq!(stamps.len(), rows);
            let cal = MarketCalendar::UsEquity;
            let cov = cal.coverage(&stamps, Timeframe::D1);
            assert!(cov.missing.is_empty(), "{name}: missing {:?}", &cov.missing[..cov.missing.len().min(10)]);
            let outside = cal.outside_session(&stamps, Timeframe::D1);
            let outside: Vec<String> = outside.iter().map(|&i| stamps[i].to_string()).collect();
            assert!(outside.is_empty(), "{name}: bars on closed days {outside:?}");
            assert_eq!(cov.expected, stamps.len(), "{name}");
        }
    }

    #[test]
    fn eurusd_hourly_has_no_missing_bars() {
        let stamps = shared_stamps("EURUSD.csv", "%Y-%m-%d %H:%M:%S");
        assert_eq!(stamps.len(), 5000);
        let fx = MarketCalendar::Forex;
        let cov = fx.coverage(&stamps, Timeframe::H1);
        assert!(cov.missing.is_empty(), "{:?}", cov.missing);
        // Two Friday bars at 17:00 New York (after the close) are the file's own extras.
        let outside: Vec<Timestamp> = fx.outside_session(&stamps, Timeframe::H1).iter().map(|&i| stamps[i]).collect();
        assert_eq!(outside, [ts("2017-10-06T21:00:00Z"), ts("2017-10-20T21:00:00Z")]);
        assert_eq!(cov.expected, stamps.len() - outside.len());
    }

    #[test]
    fn btcusd_monthly_has_no_missing_months() {
        let stamps = shared_stamps("BTCUSD.csv", "%Y-%m-%d");
        let cov = MarketCalendar::Crypto.coverage(&stamps, Timeframe::MO1);
        assert_eq!((cov.expected, cov.present), (156, 156));
    }

    #[test]
    fn names_round_trip() {
        for cal in [MarketCalendar::UsEquity, MarketCalendar::Forex, MarketCalendar::Crypto] {
            assert_eq!(cal.name().parse::<MarketCalendar>().unwrap(), cal);
            assert_eq!(serde_json::to_value(cal).unwrap(), serde_json::json!(cal.name()));
        }
        assert_eq!(MarketCalendar::for_asset_class(AssetClass::Etf), MarketCalendar::UsEquity);
        assert_eq!(MarketCalendar::for_asset_class(AssetClass::Forex), MarketCalendar::Forex);
    }
}
