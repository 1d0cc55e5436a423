//! Timestamps and bar timeframes: UTC instants with nanosecond precision, and the bar lengths the
//! platform resamples between.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ValidationError;

/// A UTC instant as nanoseconds since the Unix epoch (1677-09-21 to 2262-04-11).
///
/// Serialised as RFC 3339 with nine fractional digits, so JSON stays readable and exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    pub fn from_millis(millis: i64) -> Option<Self> {
        millis.checked_mul(1_000_000).map(Self)
    }

    pub fn from_datetime(dt: DateTime<Utc>) -> Option<Self> {
        dt.timestamp_nanos_opt().map(Self)
    }

    pub fn from_naive_utc(dt: NaiveDateTime) -> Option<Self> {
        Self::from_datetime(Utc.from_utc_datetime(&dt))
    }

    /// Midnight UTC of a calendar date: how daily and coarser bars are stamped.
    pub fn from_date(date: NaiveDate) -> Option<Self> {
        date.and_hms_opt(0, 0, 0).and_then(Self::from_naive_utc)
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }

    pub fn date(self) -> NaiveDate {
        self.to_datetime().date_naive()
    }

    pub fn now() -> Self {
        Self(Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX))
    }

    pub fn saturating_add(self, nanos: i64) -> Self {
        Self(self.0.saturating_add(nanos))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dt = self.to_datetime();
        if self.0 % Self::NANOS_PER_SECOND == 0 {
            write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            write!(f, "{}", dt.format("%Y-%m-%dT%H:%M:%S%.9fZ"))
        }
    }
}

impl FromStr for Timestamp {
    type Err = ValidationError;

    /// Accepts RFC 3339 (any offset, converted to UTC), `YYYY-MM-DD HH:MM:SS[.f]` read as UTC,
    /// and a bare `YYYY-MM-DD` read as midnight UTC.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let parsed = DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.with_timezone(&Utc))
            .or_else(|| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
                    .ok()
                    .map(|n| Utc.from_utc_datetime(&n))
            })
            .or_else(|| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|n| Utc.from_utc_datetime(&n))
            });
        parsed
            .and_then(Self::from_datetime)
            .ok_or_else(|| ValidationError::new("timestamp", format!("`{s}` is not a UTC date-time within 1677-2262")))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_datetime().format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The length of one bar. Monthly bars have calendar length, so they are a variant of their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timeframe {
    /// A whole number of seconds (1m = 60, 1h = 3600, 1d = 86400, 1w = 604800).
    Seconds(u32),
    /// A whole number of calendar months.
    Months(u32),
}

impl Timeframe {
    pub const M1: Self = Self::Seconds(60);
    pub const M5: Self = Self::Seconds(300);
    pub const M15: Self = Self::Seconds(900);
    pub const M30: Self = Self::Seconds(1800);
    pub const H1: Self = Self::Seconds(3600);
    pub const H4: Self = Self::Seconds(14_400);
    pub const D1: Self = Self::Seconds(86_400);
    pub const W1: Self = Self::Seconds(604_800);
    pub const MO1: Self = Self::Months(1);

    /// The nominal length in nanoseconds (a month counts as 30 days).
    pub fn nominal_nanos(self) -> i64 {
        match self {
            Self::Seconds(s) => i64::from(s) * Timestamp::NANOS_PER_SECOND,
            Self::Months(m) => i64::from(m) * 30 * 86_400 * Timestamp::NANOS_PER_SECOND,
        }
    }

    /// True for daily and coarser bars, which are stamped by date rather than time of day.
    pub fn is_intraday(self) -> bool {
        matches!(self, Self::Seconds(s) if s < 86_400)
    }

    /// Whether bars of `self` can be built from bars of `finer` by aggregation.
    pub fn is_multiple_of(self, finer: Self) -> bool {
        match (self, finer) {
            (Self::Seconds(a), Self::Seconds(b)) => b != 0 && a >= b && a % b == 0,
            (Self::Months(a), Self::Months(b)) => b != 0 && a >= b && a % b == 0,
            (Self::Months(_), Self::Seconds(b)) => b != 0 && 86_400 % b == 0,
            (Self::Seconds(_), Self::Months(_)) => false,
        }
    }

    /// The timeframe closest to a typical spacing between bars (used to infer a file's timeframe
    /// from the median gap between its timestamps).
    pub fn infer_from_spacing(median_gap_nanos: i64) -> Option<Self> {
        if median_gap_nanos <= 0 {
            return None;
        }
        let secs = median_gap_nanos as f64 / Timestamp::NANOS_PER_SECOND as f64;
        let day = 86_400.0;
        if (27.0 * day..=31.5 * day).contains(&secs) {
            return Some(Self::MO1);
        }
        if (88.0 * day..=93.0 * day).contains(&secs) {
            return Some(Self::Months(3));
        }
        const KNOWN: [u32; 13] = [1, 5, 10, 15, 30, 60, 300, 900, 1800, 3600, 14_400, 86_400, 604_800];
        KNOWN
            .iter()
            .copied()
            .find(|k| ((f64::from(*k) - secs) / f64::from(*k)).abs() < 0.02)
            .map(Self::Seconds)
            .or_else(|| (secs.fract() == 0.0 && secs < f64::from(u32::MAX)).then_some(Self::Seconds(secs as u32)))
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Months(m) => write!(f, "{m}mo"),
            Self::Seconds(s) if s % 604_800 == 0 => write!(f, "{}w", s / 604_800),
            Self::Seconds(s) if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            Self::Seconds(s) if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            Self::Seconds(s) if s % 60 == 0 => write!(f, "{}m", s / 60),
            Self::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

impl FromStr for Timeframe {
    type Err = ValidationError;

    /// Parses `30s`, `1m`, `5m`, `1h`, `4h`, `1d`, `1w`, `1mo` (also `1M` for a month, as exchanges write it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let err =
            || ValidationError::new("timeframe", format!("`{s}` is not a timeframe such as 1m, 5m, 1h, 1d, 1w or 1mo"));
        let n: u32 = num.parse().map_err(|_| err())?;
        if n == 0 {
            return Err(ValidationError::new("timeframe", format!("`{s}` has a zero length")));
        }
        let secs = match unit {
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            "d" | "D" => 86_400,
            "w" | "W" => 604_800,
            "mo" | "M" => return Ok(Self::Months(n)),
            _ => return Err(err()),
        };
        n.checked_mul(secs).map(Self::Seconds).ok_or_else(err)
    }
}

impl Serialize for Timeframe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeframe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
