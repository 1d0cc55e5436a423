//! Reading bars from a Parquet file written by another tool (pandas, polars, a vendor): the
//! columns are found by name and their types converted exactly where the type allows.

use std::path::Path;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::{ImportError, ImportOptions, ReadFile, default_symbol, infer_asset_class, infer_timeframe};
use crate::data::series::{BarSeries, LabelledSeries, SeriesFields};
use crate::domain::{Bar, Timestamp};

fn format_err(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::Format { file: path.into(), reason: reason.into() }
}

/// Converts a numeric column to exact decimals. Floats go through their shortest round-trip
/// text, which is the decimal the writer most likely meant (0.1 stays 0.1).
fn decimals(path: &Path, column: &Column) -> Result<Vec<Option<Decimal>>, ImportError> {
    let name = column.name().to_string();
    let err = |e: PolarsError| format_err(path, format!("column `{name}`: {e}"));
    match column.dtype() {
        DataType::Decimal(_, scale) => {
            let scale = *scale as u32;
            let ca = column.as_materialized_series().decimal().map_err(err)?.physical().clone();
            Ok(ca.iter().map(|v| v.map(|m| Decimal::from_i128_with_scale(m, scale))).collect())
        }
        dt if dt.is_float() || dt.is_integer() => {
            let s = column.cast(&DataType::Float64).map_err(err)?;
            let ca = s.as_materialized_series().f64().map_err(err)?.clone();
            Ok(ca.iter().map(|v| v.and_then(|f| format!("{f}").parse::<Decimal>().ok())).collect())
        }
        other => Err(format_err(path, format!("column `{name}` has type {other}, not a number"))),
    }
}

fn timestamps(path: &Path, column: &Column) -> Result<Vec<Option<i64>>, ImportError> {
    let name = column.name().to_string();
    let err = |e: PolarsError| format_err(path, format!("column `{name}`: {e}"));
    let nanos = match column.dtype() {
        DataType::Datetime(_, _) | DataType::Date => {
            let cast = column.cast(&DataType::Datetime(TimeUnit::Nanoseconds, None)).map_err(err)?;
            cast.cast(&DataType::Int64).map_err(err)?
        }
        DataType::Int64 | DataType::Int32 | DataType::UInt64 => {
            // Epoch integers: the magnitude tells the unit, as for CSV files.
            let ints = column.cast(&DataType::Int64).map_err(err)?;
            let first = ints.as_materialized_series().i64().map_err(err)?.iter().flatten().next().unwrap_or(0);
            let factor: i64 = match first.unsigned_abs() {
                0..=99_999_999_999 => 1_000_000_000,
                100_000_000_000..=99_999_999_999_999 => 1_000_000,
                100_000_000_000_000..=99_999_999_999_999_999 => 1_000,
                _ => 1,
            };
            (ints.as_materialized_series() * factor).into_column()
        }
        other => {
            return Err(format_err(
                path,
                format!("time column `{name}` has type {other}; expected a datetime, date or epoch integer"),
            ));
        }
    };
    Ok(nanos.as_materialized_series().i64().map_err(err)?.iter().collect())
}

pub(super) fn read(path: &Path, options: &ImportOptions) -> Result<ReadFile, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io { file: path.into(), source })?;
    let sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let df = ParquetReader::new(std::io::Cursor::new(bytes))
        .finish()
        .map_err(|e| format_err(path, format!("not a readable Parquet file: {e}")))?;
    let find =
        |names: &[&str]| df.columns().iter().find(|c| names.contains(&c.name().to_ascii_lowercase().as_str())).cloned();
    let time = find(&["ts", "timestamp", "time", "date", "datetime", "open_time", "__index_level_0__"])
        .ok_or_else(|| format_err(path, "no time column (ts, timestamp, time, date, datetime, open_time)"))?;
    let close =
        find(&["close", "c", "price", "last"]).ok_or_else(|| format_err(path, "no close column: not an OHLCV file"))?;
    let range = (find(&["open", "o"]), find(&["high", "h"]), find(&["low", "l"]));
    let volume = find(&["volume", "vol", "v"]);
    let time_column = match time.name().as_str() {
        "__index_level_0__" => "timestamp".to_string(),
        name => name.to_string(),
    };
    let ts = timestamps(path, &time)?;
    let close = decimals(path, &close)?;
    let ohl = match range {
        (Some(o), Some(h), Some(l)) => Some((decimals(path, &o)?, decimals(path, &h)?, decimals(path, &l)?)),
        (None, None, None) => None,
        _ => return Err(format_err(path, "some but not all of open, high and low are present")),
    };
    let volume = volume.map(|v| decimals(path, &v)).transpose()?;
    let mut bars = BarSeries::with_capacity(ts.len());
    for (row, t) in ts.iter().enumerate() {
        let row_err = |column: &str, reason: String| ImportError::Row {
            file: path.into(),
            line: row as u64 + 1,
            column: column.to_owned(),
            reason: format!("row {}: {reason}", row + 1),
        };
        let t = t.ok_or_else(|| row_err(time.name(), "missing time".into()))?;
        let c = close[row].ok_or_else(|| row_err("close", "missing or non-finite value".into()))?;
        let (o, h, l) = match &ohl {
            Some((o, h, l)) => (
                o[row].ok_or_else(|| row_err("open", "missing or non-finite value".into()))?,
                h[row].ok_or_else(|| row_err("high", "missing or non-finite value".into()))?,
                l[row].ok_or_else(|| row_err("low", "missing or non-finite value".into()))?,
            ),
            None => (c, c, c),
        };
        let v = match &volume {
            Some(v) => v[row].ok_or_else(|| row_err("volume", "missing or non-finite value".into()))?,
            None => Decimal::ZERO,
        };
        let bar = Bar::new(Timestamp::from_nanos(t), o, h, l, c, v).map_err(|e| row_err(&e.field, e.reason))?;
        bars.push_bar(&bar, 0);
    }
    let symbol = default_symbol(path, options)?;
    let timeframe = match options.timeframe {
        Some(tf) => tf,
        None => {
            infer_timeframe(&bars).ok_or_else(|| format_err(path, "cannot infer the timeframe; pass --timeframe"))?
        }
    };
    let fields = match (&ohl, &volume) {
        (Some(_), Some(_)) => SeriesFields::Ohlcv,
        (Some(_), None) => SeriesFields::Ohlc,
        _ => SeriesFields::CloseOnly,
    };
    let asset_class = options.asset_class.unwrap_or_else(|| infer_asset_class(&symbol));
    let rows_read = bars.len() as u64;
    Ok(ReadFile {
        path: path.into(),
        format_description: "Parquet bars".into(),
        series: vec![(LabelledSeries { symbol, timeframe, fields, bars }, asset_class)],
        rejected: Vec::new(),
        rows_read,
        sha256,
        time_column,
    })
}
