//! The market-data catalog: one Parquet file per symbol and timeframe under the data folder
//! (the bars), indexed by rows in the database (what exists, its span, hash and quality).

use std::path::{Path, PathBuf};

use polars::prelude::*;
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::calendar::MarketCalendar;
use super::import::{ImportError, ImportOptions, RowPolicy, read_file};
use super::series::{BarSeries, LabelledSeries, SeriesFields};
use crate::domain::{AssetClass, Symbol, Timeframe, Timestamp};
use crate::storage::{Database, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("no {timeframe} bars for {symbol} in the catalog (try `sextant data list`)")]
    NotFound { symbol: String, timeframe: String },
    #[error("{0}")]
    Invalid(String),
}

impl From<sqlx::Error> for CatalogError {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(StorageError::Query(e))
    }
}

fn file_err(path: &Path, reason: impl std::fmt::Display) -> CatalogError {
    CatalogError::File { path: path.to_path_buf(), reason: reason.to_string() }
}

/// What the catalog knows about one symbol and timeframe.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasetInfo {
    pub symbol: String,
    pub timeframe: String,
    pub asset_class: String,
    pub fields: String,
    pub rows: i64,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// SHA-256 of the bars' content (stamps and exact prices), independent of file encoding.
    pub content_sha256: String,
    pub path: String,
    pub calendar: String,
    pub quality_confidence: Option<f64>,
}

/// The outcome of importing one series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImportSummary {
    pub symbol: String,
    pub timeframe: String,
    pub rows_read: usize,
    /// Rows whose timestamps were not in the catalog before.
    pub rows_added: usize,
    pub dataset: DatasetInfo,
}

#[derive(Clone, Debug)]
pub struct Catalog {
    root: PathBuf,
    db: Database,
}

/// A series staged on disk, waiting for its rename into place.
struct Staged {
    temp: PathBuf,
    target: PathBuf,
    info: DatasetInfo,
    rows_read: usize,
    rows_added: usize,
}

impl Catalog {
    pub fn new(root: impl Into<PathBuf>, db: Database) -> Self {
        Self { root: root.into(), db }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    fn partition(&self, symbol: &Symbol, timeframe: Timeframe) -> PathBuf {
        self.root
            .join(format!("symbol={}", symbol.path_segment()))
            .join(format!("timeframe={timeframe}"))
            .join("bars.parquet")
    }

    /// Imports every series of a file. The whole file is parsed first, so a bad row anywhere
    /// leaves the catalog untouched; then each merged series is written to a temporary file,
    /// all are renamed into place, and the index is updated in one transaction. Re-importing
    /// a file adds nothing: bars are keyed by timestamp and the newest value wins.
    #[tracing::instrument(skip(self, options), fields(file = %path.display()))]
    pub async fn import_file(&self, path: &Path, options: &ImportOptions) -> Result<Vec<ImportSummary>, CatalogError> {
        let (this, file, options) = (self.clone(), path.to_path_buf(), options.clone());
        // Parsing and Parquet writing are CPU and disk work: keep them off the async workers.
        let (staged, sha256) = blocking(move || {
            let read = read_file(&file, &options, RowPolicy::Strict)?;
            let mut staged = Vec::with_capacity(read.series.len());
            for (series, class) in read.series {
                match this.stage(series, class) {
                    Ok(s) => staged.push(s),
                    Err(e) => {
                        discard(&staged);
                        return Err(e);
                    }
                }
            }
            Ok((staged, read.sha256))
        })
        .await?;
        self.commit(staged, &path.display().to_string(), &sha256).await
    }

    /// Stores a series built in memory (synthetic data, a resample) like an imported file.
    pub async fn store_series(
        &self,
        series: LabelledSeries,
        class: AssetClass,
        source: &str,
    ) -> Result<ImportSummary, CatalogError> {
        let this = self.clone();
        let staged = blocking(move || this.stage(series, class)).await?;
        let mut out = self.commit(vec![staged], source, "").await?;
        out.pop().ok_or_else(|| CatalogError::Invalid("nothing was stored".into()))
    }

    fn stage(&self, series: LabelledSeries, class: AssetClass) -> Result<Staged, CatalogError> {
        let target = self.partition(&series.symbol, series.timeframe);
        let rows_read = series.bars.len();
        let mut incoming = series.bars;
        incoming.sort_dedup();
        let (merged, rows_added) = if target.exists() {
            let mut merged = read_parquet(&target)?;
            let before = merged.len();
            // Existing rows first, so that the stable sort keeps an incoming bar last and it wins.
            merged.extend(&incoming);
            merged.sort_dedup();
            let added = merged.len() - before;
            (merged, added)
        } else {
            let added = incoming.len();
            (incoming, added)
        };
        let dir = target.parent().ok_or_else(|| file_err(&target, "no parent folder"))?;
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
        let temp = dir.join(format!(".bars.{}.{}.tmp", std::process::id(), rand::random::<u64>()));
        write_parquet(&merged, &temp)?;
        let (first, last) =
            merged.span().ok_or_else(|| CatalogError::Invalid(format!("{}: no bars", series.symbol)))?;
        let info = DatasetInfo {
            symbol: series.symbol.to_string(),
            timeframe: series.timeframe.to_string(),
            asset_class: class.as_str().to_owned(),
            fields: series.fields.as_str().to_owned(),
            rows: merged.len() as i64,
            first_ts: first,
            last_ts: last,
            content_sha256: content_hash(&merged),
            path: target.display().to_string(),
            calendar: MarketCalendar::for_asset_class(class).name().to_owned(),
            quality_confidence: None,
        };
        Ok(Staged { temp, target, info, rows_read, rows_added })
    }

    async fn commit(
        &self,
        staged: Vec<Staged>,
        source: &str,
        source_sha: &str,
    ) -> Result<Vec<ImportSummary>, CatalogError> {
        for s in &staged {
            if let Err(e) = std::fs::rename(&s.temp, &s.target) {
                discard(&staged);
                return Err(file_err(&s.target, e));
            }
        }
        let now = Timestamp::now().nanos();
        let mut tx = self.db.begin_write().await?;
        for s in &staged {
            let i = &s.info;
            sqlx::query(
                "INSERT INTO instruments (symbol, asset_class, currency, spec_json, created_at_ns) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (symbol) DO NOTHING",
            )
            .bind(&i.symbol)
            .bind(&i.asset_class)
            .bind("USD")
            .bind(serde_json::json!({ "symbol": i.symbol, "asset_class": i.asset_class }).to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO datasets (symbol, timeframe, fields, row_count, first_ts_ns, last_ts_ns, content_sha256, path, calendar, updated_at_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (symbol, timeframe) DO UPDATE SET fields = excluded.fields, row_count = excluded.row_count, \
                 first_ts_ns = excluded.first_ts_ns, last_ts_ns = excluded.last_ts_ns, content_sha256 = excluded.content_sha256, \
                 path = excluded.path, calendar = excluded.calendar, updated_at_ns = excluded.updated_at_ns, \
                 quality_confidence = NULL, quality_json = NULL",
            )
            .bind(&i.symbol)
            .bind(&i.timeframe)
            .bind(&i.fields)
            .bind(i.rows)
            .bind(i.first_ts.nanos())
            .bind(i.last_ts.nanos())
            .bind(&i.content_sha256)
            .bind(&i.path)
            .bind(&i.calendar)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO imports (source_path, source_sha256, symbol, timeframe, rows_read, rows_added, imported_at_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(source)
            .bind(source_sha)
            .bind(&i.symbol)
            .bind(&i.timeframe)
            .bind(s.rows_read as i64)
            .bind(s.rows_added as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(staged
            .into_iter()
            .map(|s| ImportSummary {
                symbol: s.info.symbol.clone(),
                timeframe: s.info.timeframe.clone(),
                rows_read: s.rows_read,
                rows_added: s.rows_added,
                dataset: s.info,
            })
            .collect())
    }

    /// Every dataset in the catalog, by symbol then timeframe.
    pub async fn list(&self) -> Result<Vec<DatasetInfo>, CatalogError> {
        let rows = sqlx::query(
            "SELECT d.symbol, d.timeframe, COALESCE(i.asset_class, 'equity') AS asset_class, d.fields, d.row_count, \
             d.first_ts_ns, d.last_ts_ns, d.content_sha256, d.path, d.calendar, d.quality_confidence \
             FROM datasets d LEFT JOIN instruments i ON i.symbol = d.symbol ORDER BY d.symbol, d.timeframe",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(dataset_from_row).collect()
    }

    /// The datasets of one symbol (every timeframe stored).
    pub async fn datasets_of(&self, symbol: &Symbol) -> Result<Vec<DatasetInfo>, CatalogError> {
        Ok(self.list().await?.into_iter().filter(|d| d.symbol == symbol.as_str()).collect())
    }

    pub async fn dataset(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<DatasetInfo, CatalogError> {
        self.datasets_of(symbol)
            .await?
            .into_iter()
            .find(|d| d.timeframe == timeframe.to_string())
            .ok_or_else(|| CatalogError::NotFound { symbol: symbol.to_string(), timeframe: timeframe.to_string() })
    }

    /// Records a quality report (as JSON) and its confidence against a dataset.
    pub async fn record_quality(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        confidence: f64,
        report_json: &str,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE datasets SET quality_confidence = $1, quality_json = $2 WHERE symbol = $3 AND timeframe = $4",
        )
        .bind(confidence)
        .bind(report_json)
        .bind(symbol.as_str())
        .bind(timeframe.to_string())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The stored quality report of a dataset, as JSON text, if one was recorded.
    pub async fn quality_json(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<Option<String>, CatalogError> {
        let row = sqlx::query("SELECT quality_json FROM datasets WHERE symbol = $1 AND timeframe = $2")
            .bind(symbol.as_str())
            .bind(timeframe.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.and_then(|r| r.try_get::<Option<String>, _>("quality_json").ok().flatten()))
    }

    /// Bars of a symbol and timeframe with `from <= ts <= to`, sorted by time. Row groups
    /// outside the range are skipped through the Parquet statistics.
    #[tracing::instrument(skip(self))]
    pub fn query_blocking(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<BarSeries, CatalogError> {
        let path = self.existing_partition(symbol, timeframe)?;
        let df = self.scan(&path, from, to)?.collect().map_err(|e| file_err(&path, e))?;
        frame_to_series(&df, &path)
    }

    /// [`Catalog::query_blocking`] on the blocking thread pool, for async callers.
    pub async fn query(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<BarSeries, CatalogError> {
        let (this, symbol) = (self.clone(), symbol.clone());
        blocking(move || this.query_blocking(&symbol, timeframe, from, to)).await
    }

    /// The same bars as a polars `LazyFrame` (columns `ts`, `open`, `high`, `low`, `close`,
    /// `volume`), for notebooks and feature pipelines that work in frames.
    pub fn scan_frame(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<LazyFrame, CatalogError> {
        let path = self.existing_partition(symbol, timeframe)?;
        self.scan(&path, from, to)
    }

    /// The partition's file, or `NotFound` when the catalog has no such dataset.
    fn existing_partition(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<PathBuf, CatalogError> {
        let path = self.partition(symbol, timeframe);
        if !path.exists() {
            return Err(CatalogError::NotFound { symbol: symbol.to_string(), timeframe: timeframe.to_string() });
        }
        Ok(path)
    }

    fn scan(&self, path: &Path, from: Option<Timestamp>, to: Option<Timestamp>) -> Result<LazyFrame, CatalogError> {
        let pl_path = PlRefPath::try_from_path(path).map_err(|e| file_err(path, e))?;
        let mut lf = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()).map_err(|e| file_err(path, e))?;
        let stamp = |t: Timestamp| lit(t.nanos()).cast(ts_dtype());
        if let Some(from) = from {
            lf = lf.filter(col("ts").gt_eq(stamp(from)));
        }
        if let Some(to) = to {
            lf = lf.filter(col("ts").lt_eq(stamp(to)));
        }
        Ok(lf)
    }
}

/// Runs catalog file work on tokio's blocking pool (polars blocks inside, which a runtime
/// worker thread must not do).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, CatalogError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| CatalogError::Invalid(format!("catalog worker failed: {e}")))?
}

fn discard(staged: &[Staged]) {
    for s in staged {
        let _ = std::fs::remove_file(&s.temp);
    }
}

fn dataset_from_row(row: &sqlx::any::AnyRow) -> Result<DatasetInfo, CatalogError> {
    Ok(DatasetInfo {
        symbol: row.try_get("symbol")?,
        timeframe: row.try_get("timeframe")?,
        asset_class: row.try_get("asset_class")?,
        fields: row.try_get("fields")?,
        rows: row.try_get("row_count")?,
        first_ts: Timestamp::from_nanos(row.try_get("first_ts_ns")?),
        last_ts: Timestamp::from_nanos(row.try_get("last_ts_ns")?),
        content_sha256: row.try_get("content_sha256")?,
        path: row.try_get("path")?,
        calendar: row.try_get("calendar")?,
        quality_confidence: row.try_get("quality_confidence")?,
    })
}

fn ts_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Nanoseconds, Some(TimeZone::UTC))
}

/// Hashes stamps and exact prices (mantissa and scale of every decimal), so equal bars give
/// equal hashes whatever file layout or compression carried them.
pub fn content_hash(bars: &BarSeries) -> String {
    let mut h = Sha256::new();
    for i in 0..bars.len() {
        h.update(bars.ts[i].nanos().to_le_bytes());
        for d in [bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]] {
            let n = d.normalize();
            h.update(n.mantissa().to_le_bytes());
            h.update(n.scale().to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// A decimal column at the smallest scale that holds every value exactly.
fn decimal_column(name: &str, values: &[Decimal]) -> Result<Column, PolarsError> {
    let scale = values.iter().map(|d| d.normalize().scale()).max().unwrap_or(0);
    let mantissas: Vec<i128> = values
        .iter()
        .map(|d| {
            let mut d = *d;
            d.rescale(scale);
            d.mantissa()
        })
        .collect();
    let ca = Int128Chunked::from_vec(name.into(), mantissas).into_decimal(38, scale as usize)?;
    Ok(ca.into_series().into_column())
}

pub(crate) fn series_to_frame(bars: &BarSeries) -> Result<DataFrame, PolarsError> {
    let ts = Int64Chunked::from_vec("ts".into(), bars.ts_nanos()).into_series().cast(&ts_dtype())?;
    DataFrame::new(
        bars.len(),
        vec![
            ts.into_column(),
            decimal_column("open", &bars.open)?,
            decimal_column("high", &bars.high)?,
            decimal_column("low", &bars.low)?,
            decimal_column("close", &bars.close)?,
            decimal_column("volume", &bars.volume)?,
        ],
    )
}

fn write_parquet(bars: &BarSeries, path: &Path) -> Result<(), CatalogError> {
    let mut df = series_to_frame(bars).map_err(|e| file_err(path, e))?;
    let file = std::fs::File::create(path).map_err(|e| file_err(path, e))?;
    ParquetWriter::new(&file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(64 * 1024))
        .finish(&mut df)
        .map_err(|e| file_err(path, e))?;
    file.sync_all().map_err(|e| file_err(path, e))?;
    Ok(())
}

fn read_parquet(path: &Path) -> Result<BarSeries, CatalogError> {
    let file = std::fs::File::open(path).map_err(|e| file_err(path, e))?;
    let df = ParquetReader::new(file).finish().map_err(|e| file_err(path, e))?;
    frame_to_series(&df, path)
}

fn decimals_of(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<Decimal>, CatalogError> {
    let column = df.column(name).map_err(|e| file_err(path, e))?;
    let ca = column.as_materialized_series().decimal().map_err(|e| file_err(path, e))?;
    let scale = ca.scale() as u32;
    ca.physical()
        .iter()
        .map(|v| v.map(|m| Decimal::from_i128_with_scale(m, scale)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| file_err(path, format!("column `{name}` has missing values")))
}

fn frame_to_series(df: &DataFrame, path: &Path) -> Result<BarSeries, CatalogError> {
    let ts_col = df.column("ts").map_err(|e| file_err(path, e))?;
    let ts_int = ts_col.cast(&DataType::Int64).map_err(|e| file_err(path, e))?;
    let ts: Vec<Timestamp> = ts_int
        .as_materialized_series()
        .i64()
        .map_err(|e| file_err(path, e))?
        .iter()
        .map(|v| v.map(Timestamp::from_nanos))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| file_err(path, "column `ts` has missing values"))?;
    let n = ts.len();
    Ok(BarSeries {
        ts,
        open: decimals_of(df, "open", path)?,
        high: decimals_of(df, "high", path)?,
        low: decimals_of(df, "low", path)?,
        close: decimals_of(df, "close", path)?,
        volume: decimals_of(df, "volume", path)?,
        line: vec![0; n],
    })
}

/// Which fields a stored dataset really has, from its index row.
pub fn fields_of(info: &DatasetInfo) -> SeriesFields {
    match info.fields.as_str() {
        "close_only" => SeriesFields::CloseOnly,
        "ohlc" => SeriesFields::Ohlc,
        _ => SeriesFields::Ohlcv,
    }
}
