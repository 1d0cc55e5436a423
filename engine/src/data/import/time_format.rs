//! The timestamp spellings market-data files use (ISO dates and date-times, US and European
//! slash dates, compact dates, epoch integers) and a fast parser for each.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use crate::domain::Timestamp;

/// How a file's time column is written. Chosen once per file from a sample of its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// `YYYY-MM-DD`, optionally followed by ` ` or `T`, `HH:MM[:SS[.fraction]]` and `Z` or `±HH:MM`.
    Iso,
    /// `M/D/YYYY` with optional ` HH:MM[:SS]` (Yahoo, Excel in the US).
    MonthDayYear,
    /// `D/M/YYYY` or `D.M.YYYY` with optional time.
    DayMonthYear,
    /// `YYYYMMDD`.
    Compact,
    EpochSeconds,
    EpochMillis,
    EpochMicros,
    EpochNanos,
}

impl TimeFormat {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Iso => "ISO 8601 dates/times",
            Self::MonthDayYear => "month/day/year dates",
            Self::DayMonthYear => "day/month/year dates",
            Self::Compact => "YYYYMMDD dates",
            Self::EpochSeconds => "epoch seconds",
            Self::EpochMillis => "epoch milliseconds",
            Self::EpochMicros => "epoch microseconds",
            Self::EpochNanos => "epoch nanoseconds",
        }
    }

    /// Guesses the format from sample values; slash dates are month-first unless some first
    /// component exceeds 12, since that is how US data (most of it) is written.
    pub fn detect<'a>(samples: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let samples: Vec<&str> = samples.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect();
        let first = *samples.first()?;
        if first.bytes().all(|b| b.is_ascii_digit()) {
            return Some(match first.len() {
                8 if parse_compact(first).is_some() => Self::Compact,
                9 | 10 => Self::EpochSeconds,
                12 | 13 => Self::EpochMillis,
                15 | 16 => Self::EpochMicros,
                18 | 19 => Self::EpochNanos,
                _ => return None,
            });
        }
        if parse_iso(first).is_some() {
            return Some(Self::Iso);
        }
        if first.contains('/') || first.contains('.') {
            let day_first = samples
                .iter()
                .any(|s| s.split(['/', '.']).next().and_then(|d| d.parse::<u32>().ok()).is_some_and(|d| d > 12))
                || (first.contains('.') && !first.contains('/'));
            let format = if day_first { Self::DayMonthYear } else { Self::MonthDayYear };
            return parse_naive(format, first).is_some().then_some(format);
        }
        None
    }

    /// Parses one value to UTC. Naive values (no offset) are read in `tz`.
    pub fn parse(self, s: &str, tz: Tz) -> Result<Timestamp, String> {
        let s = s.trim();
        let epoch = |unit: i64| -> Result<Timestamp, String> {
            let v: i64 = s.parse().map_err(|_| format!("`{s}` is not an integer epoch {}", self.describe()))?;
            v.checked_mul(unit).map(Timestamp::from_nanos).ok_or_else(|| format!("`{s}` is out of range"))
        };
        match self {
            Self::EpochSeconds => epoch(1_000_000_000),
            Self::EpochMillis => epoch(1_000_000),
            Self::EpochMicros => epoch(1_000),
            Self::EpochNanos => epoch(1),
            Self::Iso => match parse_iso(s) {
                Some(IsoValue { naive, offset_seconds: Some(off) }) => {
                    let nanos =
                        naive.and_utc().timestamp_nanos_opt().ok_or_else(|| format!("`{s}` is out of range"))?;
                    Ok(Timestamp::from_nanos(nanos - i64::from(off) * 1_000_000_000))
                }
                Some(IsoValue { naive, offset_seconds: None }) => localise(naive, tz, s),
                None => Err(format!("`{s}` is not an ISO 8601 date or date-time")),
            },
            _ => match parse_naive(self, s) {
                Some(naive) => localise(naive, tz, s),
                None => Err(format!("`{s}` is not in the file's {} format", self.describe())),
            },
        }
    }
}

fn localise(naive: NaiveDateTime, tz: Tz, original: &str) -> Result<Timestamp, String> {
    let utc = if tz == Tz::UTC {
        naive.and_utc()
    } else {
        match tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(t) => t.with_timezone(&chrono::Utc),
            // A repeated hour at the end of daylight saving time: the first occurrence is the
            // one that comes next in a time-ordered file.
            chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&chrono::Utc),
            chrono::LocalResult::None => {
                return Err(format!("`{original}` does not exist in {tz} (skipped by a daylight-saving change)"));
            }
        }
    };
    Timestamp::from_datetime(utc).ok_or_else(|| format!("`{original}` is out of range"))
}

struct IsoValue {
    naive: NaiveDateTime,
    offset_seconds: Option<i32>,
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// A hand-written ISO parser: chrono's format-string parser is several times slower, and the
/// importer calls this once per row of files with tens of millions of rows.
fn parse_iso(s: &str) -> Option<IsoValue> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(digits(&b[0..4])? as i32, digits(&b[5..7])?, digits(&b[8..10])?)?;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(IsoValue { naive: date.and_hms_opt(0, 0, 0)?, offset_seconds: None });
    }
    if rest[0] != b' ' && rest[0] != b'T' {
        return None;
    }
    let (time, offset_seconds) = split_offset(&rest[1..])?;
    let (h, m, sec, nanos) = parse_clock(time)?;
    let naive = date.and_hms_nano_opt(h, m, sec, nanos)?;
    Some(IsoValue { naive, offset_seconds })
}

fn split_offset(t: &[u8]) -> Option<(&[u8], Option<i32>)> {
    if let Some(stripped) = t.strip_suffix(b"Z") {
        return Some((stripped, Some(0)));
    }
    if t.len() > 6 {
        let (head, tail) = t.split_at(t.len() - 6);
        if (tail[0] == b'+' || tail[0] == b'-') && tail[3] == b':' {
            let secs = (digits(&tail[1..3])? * 3600 + digits(&tail[4..6])? * 60) as i32;
            return Some((head, Some(if tail[0] == b'-' { -secs } else { secs })));
        }
    }
    Some((t, None))
}

/// `HH:MM[:SS[.fraction]]` to hours, minutes, seconds and nanoseconds.
fn parse_clock(t: &[u8]) -> Option<(u32, u32, u32, u32)> {
    if t.len() < 5 || t[2] != b':' {
        return None;
    }
    let h = digits(&t[0..2])?;
    let m = digits(&t[3..5])?;
    if t.len() == 5 {
        return Some((h, m, 0, 0));
    }
    if t[5] != b':' || t.len() < 8 {
        return None;
    }
    let s = digits(&t[6..8])?;
    if t.len() == 8 {
        return Some((h, m, s, 0));
    }
    if t[8] != b'.' || t.len() > 18 {
        return None;
    }
    let frac = &t[9..];
    let value = digits(frac)?;
    Some((h, m, s, value * 10u32.pow(9 - frac.len() as u32)))
}

fn parse_compact(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 8 {
        return None;
    }
    let year = digits(&b[0..4])? as i32;
    if !(1800..=2200).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year, digits(&b[4..6])?, digits(&b[6..8])?)
}

fn parse_naive(format: TimeFormat, s: &str) -> Option<NaiveDateTime> {
    if format == TimeFormat::Compact {
        return parse_compact(s)?.and_hms_opt(0, 0, 0);
    }
    let (date_part, time_part) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut parts = date_part.split(['/', '.', '-']);
    let a: u32 = parts.next()?.parse().ok()?;
    let b: u32 = parts.next()?.parse().ok()?;
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let year = if year < 100 { if year < 70 { 2000 + year } else { 1900 + year } } else { year };
    let (month, day) = if format == TimeFormat::MonthDayYear { (a, b) } else { (b, a) };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    match time_part {
        None => date.and_hms_opt(0, 0, 0),
        Some(t) => {
            let (h, m, sec, nanos) = parse_clock(t.as_bytes())?;
            date.and_hms_nano_opt(h, m, sec, nanos)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn detects_and_parses_every_spelling_in_the_sample_files() {
        assert_eq!(TimeFormat::detect(["2004-08-19"]), Some(TimeFormat::Iso));
        assert_eq!(TimeFormat::detect(["2017-04-19 09:00:00"]), Some(TimeFormat::Iso));
        assert_eq!(TimeFormat::detect(["1/4/1999", "12/31/2018"]), Some(TimeFormat::MonthDayYear));
        assert_eq!(TimeFormat::detect(["4/1/1999", "31/12/2018"]), Some(TimeFormat::DayMonthYear));
        assert_eq!(TimeFormat::detect(["1502942400000"]), Some(TimeFormat::EpochMillis));
        assert_eq!(TimeFormat::detect(["1735689600000000"]), Some(TimeFormat::EpochMicros));
        assert_eq!(TimeFormat::detect(["20240102"]), Some(TimeFormat::Compact));
        let utc = Tz::UTC;
        assert_eq!(TimeFormat::Iso.parse("2017-04-19 09:00:00", utc).unwrap(), ts("2017-04-19T09:00:00Z"));
        assert_eq!(TimeFormat::Iso.parse("2017-04-19T09:00:00.5+02:00", utc).unwrap(), ts("2017-04-19T07:00:00.5Z"));
        assert_eq!(TimeFormat::MonthDayYear.parse("1/4/1999", utc).unwrap(), ts("1999-01-04"));
        assert_eq!(TimeFormat::EpochMillis.parse("1502942400000", utc).unwrap(), ts("2017-08-17T04:00:00Z"));
    }

    #[test]
    fn naive_times_are_read_in_the_given_zone_across_dst() {
        let ny: Tz = "America/New_York".parse().unwrap();
        assert_eq!(TimeFormat::Iso.parse("2024-01-02 09:30:00", ny).unwrap(), ts("2024-01-02T14:30:00Z"));
        assert_eq!(TimeFormat::Iso.parse("2024-07-02 09:30:00", ny).unwrap(), ts("2024-07-02T13:30:00Z"));
        let gap = TimeFormat::Iso.parse("2024-03-10 02:30:00", ny).unwrap_err();
        assert!(gap.contains("does not exist"), "{gap}");
    }

    #[test]
    fn refuses_impossible_dates_with_the_value() {
        let err = TimeFormat::Iso.parse("2023-02-30", Tz::UTC).unwrap_err();
        assert!(err.contains("2023-02-30"), "{err}");
        assert!(TimeFormat::MonthDayYear.parse("13/45/2020", Tz::UTC).is_err());
    }
}
