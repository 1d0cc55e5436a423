//! Reading tick files (CSV of quotes, trade prints or both) into one time-ordered stream per
//! symbol, refusing malformed rows with their file, line, column and reason.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{HashingReader, ImportError, ImportOptions, TimeFormat, csv_error, default_symbol, io_err, parse_decimal};
use crate::backtest::MarketTick;
use crate::domain::{Quote, Symbol, Timestamp, TradeTick};

/// A tick file read into streams.
#[derive(Clone, Debug)]
pub struct TickFile {
    pub path: PathBuf,
    /// One stream per symbol, in the order the symbols first appear; each in time order.
    pub streams: Vec<(Symbol, Vec<MarketTick>)>,
    pub rows_read: u64,
    /// SHA-256 of the file's bytes, for lineage.
    pub sha256: String,
}

/// Where each field is, by the header names tick files commonly use.
struct Columns {
    time: usize,
    symbol: Option<usize>,
    quote: Option<[usize; 4]>,
    trade: Option<[usize; 2]>,
}

impl Columns {
    fn find(headers: &[String], path: &Path) -> Result<Self, ImportError> {
        let at = |names: &[&str]| headers.iter().position(|h| names.contains(&h.trim().to_ascii_lowercase().as_str()));
        let refuse = |reason: String| ImportError::Format { file: path.into(), reason };
        let time = at(&["ts", "timestamp", "time", "datetime", "date"])
            .ok_or_else(|| refuse("no time column (ts, timestamp, time or datetime)".into()))?;
        let (bid, ask) = (at(&["bid", "bid_price"]), at(&["ask", "ask_price", "offer"]));
        let (bid_size, ask_size) = (
            at(&["bid_size", "bid_qty", "bidsize", "bid_volume"]),
            at(&["ask_size", "ask_qty", "asksize", "ask_volume"]),
        );
        let quote = match (bid, ask, bid_size, ask_size) {
            (Some(b), Some(a), Some(bs), Some(aks)) => Some([b, a, bs, aks]),
            (None, None, _, _) => None,
            // The venue fills up to the size shown, so a quote without sizes cannot be traded.
            _ => return Err(refuse("quotes need bid, ask, bid_size and ask_size columns".into())),
        };
        let (price, size) = (at(&["price", "last", "trade_price"]), at(&["size", "quantity", "qty", "volume"]));
        let trade = match (price, size) {
            (Some(p), Some(s)) => Some([p, s]),
            (None, _) => None,
            (Some(_), None) => return Err(refuse("trade prints need a size (or quantity) column".into())),
        };
        if quote.is_none() && trade.is_none() {
            return Err(refuse("neither quote columns (bid, ask, bid_size, ask_size) nor trades (price, size)".into()));
        }
        Ok(Self { time, symbol: at(&["symbol", "ticker", "instrument"]), quote, trade })
    }
}

/// Reads a CSV of ticks with a header row. A row with bid and ask is a quote, a row with a
/// price a trade print (a row with both gives the quote first); a `symbol` column splits the
/// file into instruments, otherwise the file name (or `options.symbol`) names it. Naive times are
/// read in `options.timezone`. Each symbol's ticks must be in time order (equal times allowed).
#[tracing::instrument(skip(options), fields(file = %path.display()))]
pub fn read_ticks(path: &Path, options: &ImportOptions) -> Result<TickFile, ImportError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hashing = HashingReader { inner: std::io::BufReader::with_capacity(1 << 20, file), hasher: Sha256::new() };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(&mut hashing);
    let headers: Vec<String> = reader.headers().map_err(|e| csv_error(path, e))?.iter().map(str::to_string).collect();
    let columns = Columns::find(&headers, path)?;
    let default = default_symbol(path, options)?;
    let mut streams: Vec<(Symbol, Vec<MarketTick>)> = Vec::new();
    let mut format: Option<TimeFormat> = None;
    let mut rows_read = 0u64;
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| csv_error(path, e))? {
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        rows_read += 1;
        let row = Row { record: &record, headers: &headers, path, line };
        let raw_time = row.cell(columns.time)?;
        let time_format = match format {
            Some(f) => f,
            None => *format.insert(
                TimeFormat::detect([raw_time])
                    .ok_or_else(|| row.error(columns.time, format!("`{raw_time}` is not a time this reader knows")))?,
            ),
        };
        let ts = time_format.parse(raw_time, options.timezone).map_err(|reason| row.error(columns.time, reason))?;
        let symbol = match columns.symbol {
            Some(c) => Symbol::new(row.cell(c)?).map_err(|e| row.error(c, e.reason))?,
            None => default.clone(),
        };
        let k = match streams.iter().position(|(s, _)| *s == symbol) {
            Some(k) => k,
            None => {
                streams.push((symbol.clone(), Vec::new()));
                streams.len() - 1
            }
        };
        let stream = &mut streams[k].1;
        if let Some(previous) = stream.last().map(MarketTick::ts)
            && ts < previous
        {
            return Err(row.error(columns.time, format!("{ts} is before the previous {symbol} tick at {previous}")));
        }
        let before = stream.len();
        row.push(&columns, ts, symbol, stream)?;
        if stream.len() == before {
            return Err(row.error(columns.time, "neither a quote (bid and ask) nor a trade (price)".into()));
        }
    }
    drop(reader);
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io_err(path))?;
    if rows_read == 0 {
        return Err(ImportError::Format { file: path.into(), reason: "no data rows".into() });
    }
    Ok(TickFile { path: path.into(), streams, rows_read, sha256: hex::encode(hashing.hasher.finalize()) })
}

/// One data row and where it came from, for errors.
struct Row<'a> {
    record: &'a csv::StringRecord,
    headers: &'a [String],
    path: &'a Path,
    line: u64,
}

impl Row<'_> {
    fn error(&self, column: usize, reason: String) -> ImportError {
        let column = self.headers.get(column).cloned().unwrap_or_else(|| format!("column {}", column + 1));
        ImportError::Row { file: self.path.into(), line: self.line, column, reason }
    }

    fn cell(&self, column: usize) -> Result<&str, ImportError> {
        let n = self.record.len();
        self.record
            .get(column)
            .map(str::trim)
            .ok_or_else(|| self.error(column, format!("missing: the row has {n} fields")))
    }

    /// The row's quote and trade, whichever it has (blank cells: that kind is absent).
    fn push(
        &self,
        columns: &Columns,
        ts: Timestamp,
        symbol: Symbol,
        stream: &mut Vec<MarketTick>,
    ) -> Result<(), ImportError> {
        let present = |c: usize| self.record.get(c).is_some_and(|v| !v.trim().is_empty());
        let number = |c: usize| parse_decimal(self.cell(c)?).map_err(|reason| self.error(c, reason));
        if let Some([bid, ask, bid_size, ask_size]) = columns.quote
            && (present(bid) || present(ask))
        {
            let quote =
                Quote::new(ts, symbol.clone(), number(bid)?, number(bid_size)?, number(ask)?, number(ask_size)?)
                    .map_err(|e| self.error(self.column_named(&e.field).unwrap_or(bid), e.reason))?;
            stream.push(MarketTick::from(&quote));
        }
        if let Some([price, size]) = columns.trade
            && present(price)
        {
            let trade = TradeTick::new(ts, symbol, number(price)?, number(size)?)
                .map_err(|e| self.error(if e.field == "price" { price } else { size }, e.reason))?;
            stream.push(MarketTick::from(&trade));
        }
        Ok(())
    }

    fn column_named(&self, field: &str) -> Option<usize> {
        self.headers.iter().position(|h| h.trim().eq_ignore_ascii_case(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("EURUSD.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn quotes_and_prints_become_one_stream_per_symbol() {
        let (_dir, path) = write(
            "ts,symbol,bid,ask,bid_size,ask_size,price,size\n\
             2024-01-02T09:30:00.000000001Z,AAA,9.99,10.01,500,400,,\n\
             2024-01-02T09:30:00.5Z,BBB,20.00,20.02,100,100,,\n\
             2024-01-02T09:30:01Z,AAA,,,,,10.01,25\n\
             2024-01-02T09:30:01Z,AAA,10.00,10.02,300,300,10.01,5\n",
        );
        let file = read_ticks(&path, &ImportOptions::default()).unwrap();
        assert_eq!(file.rows_read, 4);
        let names: Vec<&str> = file.streams.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(names, ["AAA", "BBB"]);
        let aaa = &file.streams[0].1;
        assert_eq!(aaa.len(), 4, "the last row is a quote and a print");
        let d = |s: &str| s.parse::<crate::domain::Decimal>().unwrap();
        assert_eq!(
            aaa[0],
            MarketTick::Quote {
                ts: Timestamp::from_nanos(1_704_187_800_000_000_001),
                bid: d("9.99"),
                ask: d("10.01"),
                bid_size: d("500"),
                ask_size: d("400"),
            }
        );
        assert!(matches!(aaa[1], MarketTick::Trade { size, .. } if size == d("25")));
        assert!(matches!(aaa[2], MarketTick::Quote { .. }) && matches!(aaa[3], MarketTick::Trade { .. }));
    }

    #[test]
    fn bad_rows_are_refused_with_file_line_and_column() {
        let err = |text: &str| read_ticks(&write(text).1, &ImportOptions::default()).unwrap_err().to_string();
        let crossed =
            err("ts,bid,ask,bid_size,ask_size\n2024-01-02T00:00:00Z,1.1,1.2,1,1\n2024-01-02T00:00:01Z,1.3,1.2,1,1\n");
        assert!(crossed.ends_with("EURUSD.csv:3: column `bid`: bid 1.3 is above ask 1.2 (crossed quote)"), "{crossed}");
        let back = err("ts,price,size\n2024-01-02T00:00:02Z,1.1,1\n2024-01-02T00:00:01Z,1.1,1\n");
        assert!(back.contains("EURUSD.csv:3: column `ts`: 2024-01-02T00:00:01"), "{back}");
        assert!(back.contains("is before the previous EURUSD tick"), "{back}");
        let size = err("ts,price,size\n2024-01-02T00:00:00Z,1.1,-2\n");
        assert!(size.contains(":2: column `size`:"), "{size}");
        let nan = err("ts,price,size\n2024-01-02T00:00:00Z,NaN,2\n");
        assert!(nan.contains(":2: column `price`: `NaN` is not a price"), "{nan}");
        assert!(err("ts,bid,ask\n1,1,2\n").contains("quotes need bid, ask, bid_size and ask_size columns"));
        assert!(err("ts,open,close\n1,1,2\n").contains("neither quote columns"));
        let blank = err("ts,bid,ask,bid_size,ask_size,price,size\n2024-01-02T00:00:00Z,,,,,,\n");
        assert!(
            blank.ends_with("EURUSD.csv:2: column `ts`: neither a quote (bid and ask) nor a trade (price)"),
            "{blank}"
        );
        let empty = err("ts,bid,ask,bid_size,ask_size,price,size\n\n");
        assert!(empty.ends_with("no data rows"), "{empty}");
    }
}
