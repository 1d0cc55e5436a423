//! Reading market-data files (CSV in the common layouts, Binance klines, Parquet) into
//! labelled bar series, refusing malformed rows with their file, line, column and reason.

mod detect;
mod parquet_input;
mod ticks;
mod time_format;

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

pub use detect::{DetectedFormat, FormatKind, Layout};
pub use ticks::{TickFile, read_ticks};
pub use time_format::TimeFormat;

use super::series::{BarSeries, LabelledSeries, SeriesFields};
use crate::domain::{AssetClass, Bar, Symbol, Timeframe};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A row that cannot be a bar: the file, its 1-based line, the column and why.
    #[error("{file}:{line}: column `{column}`: {reason}")]
    Row { file: PathBuf, line: u64, column: String, reason: String },
    /// The file as a whole is not something we can import.
    #[error("{file}: {reason}")]
    Format { file: PathBuf, reason: String },
    #[error("{file}: {source}")]
    Io { file: PathBuf, source: std::io::Error },
}

/// What the caller knows that the file may not say. Everything is optional.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The symbol of a one-instrument file (default: the file name without extension).
    pub symbol: Option<String>,
    /// The zone of naive timestamps (default UTC). Stamps with an offset ignore it.
    pub timezone: Tz,
    /// The bars' timeframe (default: inferred from the median spacing of the timestamps).
    pub timeframe: Option<Timeframe>,
    /// The asset class (default: inferred from the symbol: known currency pairs are forex,
    /// known coins crypto, index names indices, the rest equities).
    pub asset_class: Option<AssetClass>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { symbol: None, timezone: Tz::UTC, timeframe: None, asset_class: None }
    }
}

/// How to treat a row that cannot be a bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowPolicy {
    /// Stop at the first bad row with its location: what imports use.
    Strict,
    /// Keep going and list the bad rows: what `data inspect FILE` uses to report on them.
    Collect,
}

/// A row left out under [`RowPolicy::Collect`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRow {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// A file read into series, with what was learnt about it.
#[derive(Clone, Debug)]
pub struct ReadFile {
    pub path: PathBuf,
    pub format_description: String,
    pub series: Vec<(LabelledSeries, AssetClass)>,
    pub rejected: Vec<RejectedRow>,
    pub rows_read: u64,
    /// SHA-256 of the file's bytes: the data hash that runs record for lineage.
    pub sha256: String,
    /// The header of the timestamp column (`timestamp` where the file leaves it unnamed), so
    /// that derived files can keep the user's name for it.
    pub time_column: String,
}

/// Reads a CSV or Parquet file of bars. Nothing is written anywhere.
#[tracing::instrument(skip(options), fields(file = %path.display()))]
pub fn read_file(path: &Path, options: &ImportOptions, policy: RowPolicy) -> Result<ReadFile, ImportError> {
    let is_parquet = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if is_parquet {
        return parquet_input::read(path, options);
    }
    read_csv(path, options, policy)
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io { file: path.to_path_buf(), source }
}

/// Hashes every byte that passes through, so the file is read once for both parsing and lineage.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

pub(crate) fn default_symbol(path: &Path, options: &ImportOptions) -> Result<Symbol, ImportError> {
    let raw = match &options.symbol {
        Some(s) => s.clone(),
        None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    Symbol::new(&raw)
        .map_err(|e| ImportError::Format { file: path.to_path_buf(), reason: format!("symbol: {}", e.reason) })
}

/// Parses a price or size cell exactly. Scientific notation is accepted; NaN, infinities and
/// blanks are refused with a reason, since a bar without a price is not a bar.
pub(crate) fn parse_decimal(cell: &str) -> Result<Decimal, String> {
    let s = cell.trim();
    if s.is_empty() {
        return Err("empty value".into());
    }
    if let Ok(d) = s.parse::<Decimal>() {
        return Ok(d);
    }
    if let Ok(d) = Decimal::from_scientific(s) {
        return Ok(d);
    }
    let lower = s.to_ascii_lowercase();
    if matches!(lower.as_str(), "nan" | "null" | "none" | "na" | "n/a") {
        return Err(format!("`{s}` is not a price (missing value)"));
    }
    if lower.contains("inf") {
        return Err(format!("`{s}` is not a finite number"));
    }
    Err(format!("`{s}` is not a number"))
}

struct RowError {
    column: String,
    reason: String,
}

fn read_csv(path: &Path, options: &ImportOptions, policy: RowPolicy) -> Result<ReadFile, ImportError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut head = vec![0u8; 64 * 1024];
    let n = read_up_to(&mut file, &mut head).map_err(io_err(path))?;
    head.truncate(n);
    if head.contains(&0) {
        return Err(ImportError::Format { file: path.into(), reason: "binary content: not a CSV file".into() });
    }
    let text = String::from_utf8_lossy(&head);
    // Detection works on whole lines only; the last one may be cut by the 64 KiB window.
    let sample =
        if n == head.len() && n == 64 * 1024 { text.rsplit_once('\n').map_or(&*text, |(a, _)| a) } else { &text };
    let format = detect::detect(sample).map_err(|reason| ImportError::Format { file: path.into(), reason })?;
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hashing = HashingReader { inner: std::io::BufReader::with_capacity(1 << 20, file), hasher: Sha256::new() };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(format.delimiter)
        .has_headers(format.has_header)
        .flexible(true)
        .from_reader(&mut hashing);

    let symbol = default_symbol(path, options)?;
    let mut builders: Vec<(Symbol, usize, BarSeries)> = match &format.layout {
        Layout::Bars { close, .. } => vec![(symbol, *close, BarSeries::with_capacity(1024))],
        Layout::ClosePanel { columns, .. } => columns
            .iter()
            .map(|(i, name)| {
                Symbol::new(name).map(|s| (s, *i, BarSeries::with_capacity(1024))).map_err(|e| ImportError::Format {
                    file: path.into(),
                    reason: format!("column `{name}`: {}", e.reason),
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let mut rejected = Vec::new();
    let mut rows_read = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| csv_error(path, e))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        rows_read += 1;
        let result = parse_row(&format, &record, options.timezone, &mut builders, line);
        if let Err(e) = result {
            match policy {
                RowPolicy::Strict => {
                    return Err(ImportError::Row { file: path.into(), line, column: e.column, reason: e.reason });
                }
                RowPolicy::Collect => rejected.push(RejectedRow { line, column: e.column, reason: e.reason }),
            }
        }
    }
    drop(reader);
    // Drain what the CSV reader left unread (nothing, normally) so the hash covers the file.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io_err(path))?;
    let sha256 = hex::encode(hashing.hasher.finalize());
    if rows_read == 0 {
        return Err(ImportError::Format { file: path.into(), reason: "no data rows".into() });
    }
    let fields = match &format.layout {
        Layout::Bars { open: Some(_), volume: Some(_), .. } => SeriesFields::Ohlcv,
        Layout::Bars { open: Some(_), volume: None, .. } => SeriesFields::Ohlc,
        _ => SeriesFields::CloseOnly,
    };
    let mut series = Vec::with_capacity(builders.len());
    for (symbol, _, bars) in builders {
        if bars.is_empty() {
            continue;
        }
        let timeframe = match options.timeframe {
            Some(tf) => tf,
            None => infer_timeframe(&bars).ok_or_else(|| ImportError::Format {
                file: path.into(),
                reason: format!(
                    "{symbol}: cannot infer the timeframe from fewer than two distinct timestamps; pass --timeframe"
                ),
            })?,
        };
        let asset_class = options.asset_class.unwrap_or_else(|| {
            if format.kind == FormatKind::BinanceKlines { AssetClass::Crypto } else { infer_asset_class(&symbol) }
        });
        series.push((LabelledSeries { symbol, timeframe, fields, bars }, asset_class));
    }
    let time_col = match &format.layout {
        Layout::Bars { time, .. } | Layout::ClosePanel { time, .. } => *time,
    };
    let time_column = format
        .headers
        .get(time_col)
        .map(|h| h.trim())
        .filter(|h| !h.is_empty() && format.has_header)
        .unwrap_or("timestamp")
        .to_string();
    Ok(ReadFile {
        path: path.into(),
        format_description: format.describe(),
        series,
        rejected,
        rows_read,
        sha256,
        time_column,
    })
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

fn csv_error(path: &Path, e: csv::Error) -> ImportError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Io { file: path.into(), source },
        csv::ErrorKind::Utf8 { err, .. } => ImportError::Row {
            file: path.into(),
            line,
            column: format!("field {}", err.field() + 1),
            reason: "not valid UTF-8 text".into(),
        },
        other => ImportError::Format { file: path.into(), reason: format!("line {line}: {other:?}") },
    }
}

fn cell<'r>(record: &'r csv::StringRecord, index: usize, headers: &[String]) -> Result<&'r str, RowError> {
    record.get(index).ok_or_else(|| RowError {
        column: headers.get(index).cloned().unwrap_or_else(|| format!("column {}", index + 1)),
        reason: format!("missing: the row has {} fields", record.len()),
    })
}

fn parse_row(
    format: &DetectedFormat,
    record: &csv::StringRecord,
    tz: Tz,
    builders: &mut [(Symbol, usize, BarSeries)],
    line: u64,
) -> Result<(), RowError> {
    let headers = &format.headers;
    let name = |i: usize| headers.get(i).cloned().unwrap_or_else(|| format!("column {}", i + 1));
    let time_col = match &format.layout {
        Layout::Bars { time, .. } | Layout::ClosePanel { time, .. } => *time,
    };
    let ts = format
        .time_format
        .parse(cell(record, time_col, headers)?, tz)
        .map_err(|reason| RowError { column: name(time_col), reason })?;
    let number = |i: usize| -> Result<Decimal, RowError> {
        parse_decimal(cell(record, i, headers)?).map_err(|reason| RowError { column: name(i), reason })
    };
    match &format.layout {
        Layout::Bars { open, high, low, close, volume, .. } => {
            let c = number(*close)?;
            let (o, h, l) = match (open, high, low) {
                (Some(o), Some(h), Some(l)) => (number(*o)?, number(*h)?, number(*l)?),
                _ => (c, c, c),
            };
            let v = match volume {
                Some(v) => number(*v)?,
                None => Decimal::ZERO,
            };
            let bar = Bar::new(ts, o, h, l, c, v).map_err(|e| RowError { column: e.field, reason: e.reason })?;
            builders[0].2.push_bar(&bar, line);
        }
        Layout::ClosePanel { .. } => {
            for (_, col, series) in builders.iter_mut() {
                let raw = cell(record, *col, headers)?;
                let trimmed = raw.trim();
                // A panel leaves a ticker's cells blank before it lists and after it delists.
                if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("nan") {
                    continue;
                }
                let c = parse_decimal(trimmed).map_err(|reason| RowError { column: name(*col), reason })?;
                let bar = Bar::close_only(ts, c).map_err(|e| RowError { column: name(*col), reason: e.reason })?;
                series.push_bar(&bar, line);
            }
        }
    }
    Ok(())
}

/// The timeframe whose length is closest to the median gap between consecutive distinct stamps.
pub fn infer_timeframe(bars: &BarSeries) -> Option<Timeframe> {
    let mut ts: Vec<i64> = bars.ts.iter().map(|t| t.nanos()).collect();
    ts.sort_unstable();
    ts.dedup();
    let mut gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return None;
    }
    let mid = gaps.len() / 2;
    let (_, median, _) = gaps.select_nth_unstable(mid);
    Timeframe::infer_from_spacing(*median)
}

const FIAT: [&str; 16] =
    ["USD", "EUR", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK", "DKK", "HKD", "SGD", "MXN", "ZAR", "CNH"];
const COINS: [&str; 16] = [
    "BTC", "XBT", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "LTC", "DOT", "AVAX", "LINK", "TRX", "MATIC", "BCH",
    "USDT",
];
const INDICES: [&str; 10] = ["SP500", "SPX", "^GSPC", "NDX", "^NDX", "DJI", "^DJI", "RUT", "^RUT", "VIX"];

/// Guesses the asset class from a symbol: a pair of two fiat currencies is forex, a symbol
/// starting with a known coin is crypto, a known index name is an index, the rest equities.
pub fn infer_asset_class(symbol: &Symbol) -> AssetClass {
    let s = symbol.as_str().replace(['/', '-', '_'], "");
    if INDICES.contains(&symbol.as_str()) || symbol.as_str().starts_with('^') {
        return AssetClass::Index;
    }
    if s.len() == 6 && FIAT.contains(&&s[..3]) && FIAT.contains(&&s[3..]) {
        return AssetClass::Forex;
    }
    if COINS.iter().any(|c| s.starts_with(c) && s.len() > c.len()) {
        return AssetClass::Crypto;
    }
    AssetClass::Equity
}
