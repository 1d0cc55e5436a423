//! Recognises a file's layout from its first rows: the delimiter, whether it has a header,
//! which column holds time and which hold OHLCV, or whether it is a panel of closes.

use super::time_format::TimeFormat;

/// Where the fields of a bar are in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One instrument per file. Without open, high and low it is a close-only series.
    Bars {
        time: usize,
        open: Option<usize>,
        high: Option<usize>,
        low: Option<usize>,
        close: usize,
        volume: Option<usize>,
    },
    /// One close column per instrument, named by its header.
    ClosePanel { time: usize, columns: Vec<(usize, String)> },
}

/// The family a file was recognised as, for messages and the import log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatKind {
    /// `Date,Open,High,Low,Close,Adj Close,Volume`.
    Yahoo,
    /// A headed OHLCV file whose time column is unnamed (a pandas index written to CSV).
    UnnamedIndex,
    /// Binance kline dump: no header, epoch open time, OHLCV, then close time and counts.
    BinanceKlines,
    /// Any other headed OHLCV or close file.
    Headed,
    /// A wide panel of closes.
    ClosePanel,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectedFormat {
    pub kind: FormatKind,
    pub delimiter: u8,
    pub has_header: bool,
    pub headers: Vec<String>,
    pub layout: Layout,
    pub time_format: TimeFormat,
}

impl DetectedFormat {
    pub fn describe(&self) -> String {
        let kind = match self.kind {
            FormatKind::Yahoo => "Yahoo OHLCV",
            FormatKind::UnnamedIndex => "OHLCV with an unnamed time index",
            FormatKind::BinanceKlines => "Binance klines",
            FormatKind::Headed => "headed OHLCV",
            FormatKind::ClosePanel => "panel of closes",
        };
        let series = match &self.layout {
            Layout::ClosePanel { columns, .. } => format!(", {} series", columns.len()),
            Layout::Bars { open: None, .. } => ", close only".to_owned(),
            Layout::Bars { .. } => String::new(),
        };
        format!("{kind}{series}, {}", self.time_format.describe())
    }
}

/// Why a file is not one we can read as bars.
pub type Refusal = String;

fn normalise(name: &str) -> String {
    name.trim().trim_matches('"').trim().to_ascii_lowercase().replace(['_', '-'], " ")
}

const TIME_NAMES: [&str; 14] = [
    "",
    "date",
    "datetime",
    "date time",
    "time",
    "timestamp",
    "ts",
    "open time",
    "opentime",
    "unnamed: 0",
    "index",
    "gmt time",
    "local time",
    "time (utc)",
];

fn find(names: &[String], wanted: &[&str]) -> Option<usize> {
    names.iter().position(|n| wanted.contains(&n.as_str()))
}

fn is_number(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.parse::<f64>().is_ok()
}

/// Picks the delimiter that splits the first line into the most fields.
fn sniff_delimiter(first_line: &str) -> u8 {
    [b',', b';', b'\t', b'|'].into_iter().max_by_key(|d| first_line.bytes().filter(|b| b == d).count()).unwrap_or(b',')
}

/// Detects the format from the first rows of the file (`sample` holds whole lines).
pub fn detect(sample: &str) -> Result<DetectedFormat, Refusal> {
    let first_line = sample.lines().find(|l| !l.trim().is_empty()).ok_or("the file is empty")?;
    let delimiter = sniff_delimiter(first_line);
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(sample.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_owned).collect())
        .filter(|r: &Vec<String>| !(r.len() == 1 && r[0].trim().is_empty()))
        .collect();
    let (head, body) = rows.split_first().ok_or("the file is empty")?;
    if body.is_empty() && head.iter().any(|c| !is_number(c)) {
        return Err("the file has a header but no rows".into());
    }
    let header_is_data = head.iter().skip(1).all(|c| is_number(c)) && TimeFormat::detect([head[0].as_str()]).is_some();
    if header_is_data {
        return detect_headerless(delimiter, &rows);
    }
    detect_headed(delimiter, head, body)
}

fn detect_headerless(delimiter: u8, rows: &[Vec<String>]) -> Result<DetectedFormat, Refusal> {
    let width = rows[0].len();
    if width < 5 {
        return Err(format!(
            "no header, and {width} columns are too few for time, open, high, low and close: not an OHLCV file"
        ));
    }
    let time_format = TimeFormat::detect(rows.iter().map(|r| r[0].as_str()))
        .ok_or_else(|| format!("first column `{}` is not a date, time or epoch", rows[0][0]))?;
    let binance = width >= 11
        && matches!(time_format, TimeFormat::EpochMillis | TimeFormat::EpochMicros)
        && rows[0].get(6).is_some_and(|c| c.trim().bytes().all(|b| b.is_ascii_digit()));
    let layout = Layout::Bars {
        time: 0,
        open: Some(1),
        high: Some(2),
        low: Some(3),
        close: 4,
        volume: (width > 5).then_some(5),
    };
    Ok(DetectedFormat {
        kind: if binance { FormatKind::BinanceKlines } else { FormatKind::Headed },
        delimiter,
        has_header: false,
        headers: (0..width)
            .map(|i| {
                ["time", "open", "high", "low", "close", "volume"]
                    .get(i)
                    .map_or(format!("column {}", i + 1), |s| (*s).to_owned())
            })
            .collect(),
        layout,
        time_format,
    })
}

fn detect_headed(delimiter: u8, head: &[String], body: &[Vec<String>]) -> Result<DetectedFormat, Refusal> {
    let names: Vec<String> = head.iter().map(|h| normalise(h)).collect();
    let headers: Vec<String> = head.iter().map(|h| h.trim().trim_matches('"').to_owned()).collect();
    let time = find(&names, &TIME_NAMES)
        .or_else(|| TimeFormat::detect(body.iter().filter_map(|r| r.first().map(String::as_str))).map(|_| 0))
        .ok_or_else(|| format!("no date or time column among [{}]: not an OHLCV file", headers.join(", ")))?;
    let time_format =
        TimeFormat::detect(body.iter().filter_map(|r| r.get(time).map(String::as_str))).ok_or_else(|| {
            let example = body.first().and_then(|r| r.get(time)).cloned().unwrap_or_default();
            format!("column `{}` holds `{example}`, which is not a date, time or epoch", headers[time])
        })?;
    let open = find(&names, &["open", "o", "open price"]);
    let high = find(&names, &["high", "h", "high price"]);
    let low = find(&names, &["low", "l", "low price"]);
    let close = find(&names, &["close", "c", "close price", "last", "price"]);
    let adj_close = find(&names, &["adj close", "adjclose", "adjusted close"]);
    let volume = names.iter().position(|n| n == "v" || n == "vol" || n.starts_with("volume"));
    let has_range = [open, high, low].iter().filter(|c| c.is_some()).count();
    if let Some(close) = close.or(if has_range == 0 { adj_close } else { None }) {
        if has_range != 0 && has_range != 3 {
            return Err("some but not all of open, high and low are present: cannot tell the bars' range".into());
        }
        let kind = if adj_close.is_some() && has_range == 3 {
            FormatKind::Yahoo
        } else if names[time].is_empty() {
            FormatKind::UnnamedIndex
        } else {
            FormatKind::Headed
        };
        return Ok(DetectedFormat {
            kind,
            delimiter,
            has_header: true,
            headers,
            layout: Layout::Bars { time, open, high, low, close, volume },
            time_format,
        });
    }
    if has_range > 0 {
        return Err("open, high or low present but no close column".into());
    }
    // No OHLCV names at all: a panel, when every other column holds numbers.
    let columns: Vec<(usize, String)> =
        headers.iter().enumerate().filter(|(i, _)| *i != time).map(|(i, h)| (i, h.clone())).collect();
    let numeric =
        |i: usize| body.iter().filter_map(|r| r.get(i)).filter(|v| !v.trim().is_empty()).all(|v| is_number(v));
    if columns.is_empty() || !columns.iter().all(|(i, _)| numeric(*i)) {
        let bad = columns.iter().find(|(i, _)| !numeric(*i)).map(|(_, h)| h.as_str()).unwrap_or("none");
        return Err(format!(
            "columns [{}] are neither OHLCV nor a panel of prices (column `{bad}` is not numeric): not an OHLCV file",
            headers.join(", ")
        ));
    }
    Ok(DetectedFormat {
        kind: FormatKind::ClosePanel,
        delimiter,
        has_header: true,
        headers,
        layout: Layout::ClosePanel { time, columns },
        time_format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_sample_layout() {
        let yahoo = detect("Date,Open,High,Low,Close,Adj Close,Volume\n1/4/1999,1,2,0.5,1.5,1.5,100\n").unwrap();
        assert_eq!(yahoo.kind, FormatKind::Yahoo);
        assert_eq!(yahoo.time_format, TimeFormat::MonthDayYear);
        assert_eq!(
            yahoo.layout,
            Layout::Bars { time: 0, open: Some(1), high: Some(2), low: Some(3), close: 4, volume: Some(6) }
        );
        let unnamed = detect(",Open,High,Low,Close,Volume\n2004-08-19,100,104.06,95.96,100.34,22351900\n").unwrap();
        assert_eq!(unnamed.kind, FormatKind::UnnamedIndex);
        let panel = detect("Date,AAPL,AMD\n1990-01-02,0.264,4.125\n").unwrap();
        assert_eq!(panel.layout, Layout::ClosePanel { time: 0, columns: vec![(1, "AAPL".into()), (2, "AMD".into())] });
        let binance =
            detect("1502942400000,4261.48,4261.48,4261.48,4261.48,1.77,1502942459999,7564.9,3,0.07,314.3,0\n").unwrap();
        assert_eq!(binance.kind, FormatKind::BinanceKlines);
        assert_eq!(binance.time_format, TimeFormat::EpochMillis);
        let semi = detect("time;open;high;low;close\n2024-01-01 00:00;1;2;0.5;1\n").unwrap();
        assert_eq!(semi.delimiter, b';');
    }

    #[test]
    fn refuses_files_that_are_not_bars_with_a_reason() {
        let people = detect("name,age\nann,31\n").unwrap_err();
        assert!(people.contains("not an OHLCV file"), "{people}");
        let partial = detect("date,open,close\n2024-01-01,1,2\n").unwrap_err();
        assert!(partial.contains("not all of open, high and low"), "{partial}");
        assert!(detect("").unwrap_err().contains("empty"));
    }
}
