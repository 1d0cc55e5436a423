//! `sextant data …`: import files into the catalog, list it, inspect quality, query bars,
//! resample to coarser timeframes and write synthetic data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use engine::config::Settings;
use engine::data::calendar::MarketCalendar;
use engine::data::catalog::{Catalog, DatasetInfo, fields_of};
use engine::data::import::{ImportOptions, RejectedRow, RowPolicy, read_file};
use engine::data::quality::{QualityConfig, QualityReport, invalid_rows_finding, validate};
use engine::data::resample::resample;
use engine::data::synth::{SynthConfig, write_csv};
use engine::data::{LabelledSeries, SeriesFields};
use engine::domain::{AssetClass, Symbol, Timeframe, Timestamp};

use super::{open_catalog, progress};

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Import CSV or Parquet bar files (format detected) into the catalog.
    Import(ImportArgs),
    /// List the catalog: symbols, timeframes, spans, rows and quality.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print the quality report of a catalog symbol or of a file (not imported).
    Inspect(InspectArgs),
    /// Print a symbol's bars in a time range as CSV.
    Query(QueryArgs),
    /// Aggregate a symbol's bars to a coarser timeframe and store them in the catalog.
    Resample(ResampleArgs),
    /// Write seeded synthetic bars (GBM with GARCH volatility, jumps and regimes) to a CSV file.
    Synth(SynthArgs),
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Files to import.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Symbol for a one-instrument file (default: the file name without extension).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Bar timeframe such as 1m, 1h, 1d, 1mo (default: inferred from the timestamps).
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Time zone of timestamps without an offset, e.g. America/New_York (default: UTC).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Asset class: equity, etf, index, forex, crypto (default: inferred from the symbol).
    #[arg(long)]
    pub asset_class: Option<String>,
    /// Print the summaries as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// A catalog symbol, or the path of a CSV/Parquet file.
    pub target: String,
    /// Only this timeframe of the symbol (default: every stored timeframe).
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Calendar for a file: us_equity, forex or crypto (default: from the asset class).
    #[arg(long)]
    pub calendar: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    pub symbol: String,
    #[arg(long)]
    pub timeframe: Option<String>,
    /// First stamp to include (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Last stamp to include.
    #[arg(long)]
    pub to: Option<String>,
    /// Print at most this many bars (the first ones).
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ResampleArgs {
    pub symbol: String,
    /// Target timeframe, e.g. 5m, 1h, 1d, 1w, 1mo.
    #[arg(long)]
    pub to: String,
    /// Source timeframe (default: the finest one stored for the symbol).
    #[arg(long)]
    pub from: Option<String>,
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    #[arg(long)]
    pub bars: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "1m")]
    pub timeframe: String,
    /// First bar's stamp.
    #[arg(long, default_value = "2020-01-01T00:00:00Z")]
    pub start: String,
}

pub async fn run(cmd: DataCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Import(args) => import(args, settings).await,
        DataCommand::List { json } => list(settings, json).await,
        DataCommand::Inspect(args) => inspect(args, settings).await,
        DataCommand::Query(args) => query(args, settings).await,
        DataCommand::Resample(args) => resample_cmd(args, settings).await,
        DataCommand::Synth(args) => synth(args),
    }
}

fn parse_timeframe(s: &str) -> anyhow::Result<Timeframe> {
    Ok(Timeframe::from_str(s)?)
}

fn import_options(args: &ImportArgs, single_file: bool) -> anyhow::Result<ImportOptions> {
    if args.symbol.is_some() && !single_file {
        bail!("--symbol names one instrument: give it with a single file");
    }
    let timezone: chrono_tz::Tz = args
        .tz
        .parse()
        .map_err(|_| anyhow::anyhow!("--tz `{}` is not an IANA time zone such as America/New_York", args.tz))?;
    Ok(ImportOptions {
        symbol: args.symbol.clone(),
        timezone,
        timeframe: args.timeframe.as_deref().map(parse_timeframe).transpose()?,
        asset_class: args.asset_class.as_deref().map(AssetClass::from_str).transpose()?,
    })
}

async fn import(args: ImportArgs, settings: &Settings) -> anyhow::Result<()> {
    let options = import_options(&args, args.files.len() == 1)?;
    let catalog = open_catalog(settings).await?;
    let bar = progress(args.files.len() as u64, "importing");
    let mut summaries = Vec::new();
    for file in &args.files {
        bar.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let done = catalog.import_file(file, &options).await?;
        for s in &done {
            refresh_quality(&catalog, &s.dataset).await?;
        }
        summaries.extend(done);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&summaries)?);
    } else {
        for s in &summaries {
            outln!(
                "{:<10} {:>4}  {} rows read, {} new, {} stored ({} .. {})",
                s.symbol,
                s.timeframe,
                s.rows_read,
                s.rows_added,
                s.dataset.rows,
                s.dataset.first_ts,
                s.dataset.last_ts
            );
        }
    }
    Ok(())
}

/// Validates a stored dataset against its calendar and records the report in the index.
pub async fn refresh_quality(catalog: &Catalog, info: &DatasetInfo) -> anyhow::Result<QualityReport> {
    let symbol = Symbol::new(&info.symbol)?;
    let timeframe = parse_timeframe(&info.timeframe)?;
    let bars = catalog.query(&symbol, timeframe, None, None).await?;
    let calendar = calendar_named(&info.calendar)?;
    let series = LabelledSeries { symbol: symbol.clone(), timeframe, fields: fields_of(info), bars };
    let report = validate(&series, calendar, &QualityConfig::default());
    catalog.record_quality(&symbol, timeframe, report.confidence, &serde_json::to_string(&report)?).await?;
    Ok(report)
}

fn calendar_named(name: &str) -> anyhow::Result<MarketCalendar> {
    MarketCalendar::from_str(name).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Rows a lenient read could not use become one invalid-price finding per column.
fn add_rejected_rows(report: &mut QualityReport, rejected: &[RejectedRow]) {
    let mut by_column: Vec<(&str, Vec<u64>, &str)> = Vec::new();
    for r in rejected {
        match by_column.iter_mut().find(|(c, _, _)| *c == r.column) {
            Some((_, lines, _)) => lines.push(r.line),
            None => by_column.push((&r.column, vec![r.line], &r.reason)),
        }
    }
    for (column, lines, example) in by_column {
        report.add_finding(invalid_rows_finding(&lines, &format!("column `{column}`, e.g. {example}")));
    }
}

/// One line per report: symbol, timeframe, calendar, rows, missing bars, findings, confidence.
pub fn summary_line(r: &QualityReport) -> String {
    let worst = r.worst().map_or("clean", |s| s.as_str());
    format!(
        "{:<10} {:>4}  {:<9} {:>7} rows  {:>6} missing  {:>2} findings (worst: {worst:<7})  confidence {:>5.1}%",
        r.symbol,
        r.timeframe.to_string(),
        r.calendar.name(),
        r.rows,
        r.missing_bars,
        r.findings.len(),
        r.confidence * 100.0
    )
}

async fn list(settings: &Settings, json: bool) -> anyhow::Result<()> {
    let catalog = open_catalog(settings).await?;
    let datasets = catalog.list().await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&datasets)?);
        return Ok(());
    }
    if datasets.is_empty() {
        outln!("The catalog at {} is empty: import files with `sextant data import FILE…`.", catalog.root().display());
        return Ok(());
    }
    outln!(
        "{:<10} {:>4} {:<8} {:<10} {:>9}  {:<20} {:<20} {:>8}",
        "SYMBOL",
        "TF",
        "CLASS",
        "FIELDS",
        "ROWS",
        "FIRST",
        "LAST",
        "QUALITY"
    );
    for d in datasets {
        let quality = d.quality_confidence.map_or_else(|| "-".to_owned(), |c| format!("{:.1}%", c * 100.0));
        outln!(
            "{:<10} {:>4} {:<8} {:<10} {:>9}  {:<20} {:<20} {:>8}",
            d.symbol,
            d.timeframe,
            d.asset_class,
            d.fields,
            d.rows,
            d.first_ts,
            d.last_ts,
            quality
        );
    }
    Ok(())
}

fn print_reports(reports: &[QualityReport], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(reports)?)?;
    } else {
        for r in reports {
            writeln!(out, "{}", r.render_text())?;
        }
    }
    Ok(())
}

async fn inspect(args: InspectArgs, settings: &Settings) -> anyhow::Result<()> {
    let path = Path::new(&args.target);
    if path.is_file() {
        return inspect_file(path, &args);
    }
    let symbol =
        Symbol::new(&args.target).with_context(|| format!("`{}` is neither a file nor a symbol", args.target))?;
    let catalog = open_catalog(settings).await?;
    let mut datasets = catalog.datasets_of(&symbol).await?;
    if let Some(tf) = &args.timeframe {
        let tf = parse_timeframe(tf)?.to_string();
        datasets.retain(|d| d.timeframe == tf);
    }
    if datasets.is_empty() {
        bail!(
            "{} is not in the catalog (and no file of that name exists); `sextant data list` shows what is",
            args.target
        );
    }
    let mut reports = Vec::new();
    for d in &datasets {
        reports.push(refresh_quality(&catalog, d).await?);
    }
    print_reports(&reports, args.json)
}

fn inspect_file(path: &Path, args: &InspectArgs) -> anyhow::Result<()> {
    let options =
        ImportOptions { timeframe: args.timeframe.as_deref().map(parse_timeframe).transpose()?, ..Default::default() };
    let read = read_file(path, &options, RowPolicy::Collect)?;
    let mut reports = Vec::new();
    for (series, class) in &read.series {
        let calendar = match &args.calendar {
            Some(c) => calendar_named(c)?,
            None => MarketCalendar::for_asset_class(*class),
        };
        let mut report = validate(series, calendar, &QualityConfig::default());
        add_rejected_rows(&mut report, &read.rejected);
        reports.push(report);
    }
    print_reports(&reports, args.json)
}

async fn query(args: QueryArgs, settings: &Settings) -> anyhow::Result<()> {
    let catalog = open_catalog(settings).await?;
    let symbol = Symbol::new(&args.symbol)?;
    let timeframe = match &args.timeframe {
        Some(tf) => parse_timeframe(tf)?,
        None => finest_timeframe(&catalog, &symbol).await?,
    };
    let from = args.from.as_deref().map(Timestamp::from_str).transpose()?;
    let to = args.to.as_deref().map(Timestamp::from_str).transpose()?;
    let bars = catalog.query(&symbol, timeframe, from, to).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    writeln!(out, "timestamp,open,high,low,close,volume")?;
    for i in 0..bars.len().min(args.limit.unwrap_or(usize::MAX)) {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            bars.ts[i], bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The finest timeframe the catalog holds for `symbol`.
pub(crate) async fn finest_timeframe(catalog: &Catalog, symbol: &Symbol) -> anyhow::Result<Timeframe> {
    let mut tfs: Vec<Timeframe> = Vec::new();
    for d in catalog.datasets_of(symbol).await? {
        tfs.push(parse_timeframe(&d.timeframe)?);
    }
    tfs.into_iter()
        .min_by_key(|tf| tf.nominal_nanos())
        .with_context(|| format!("{symbol} is not in the catalog; `sextant data list` shows what is"))
}

async fn resample_cmd(args: ResampleArgs, settings: &Settings) -> anyhow::Result<()> {
    let catalog = open_catalog(settings).await?;
    let symbol = Symbol::new(&args.symbol)?;
    let to = parse_timeframe(&args.to)?;
    let from = match &args.from {
        Some(tf) => parse_timeframe(tf)?,
        None => finest_timeframe(&catalog, &symbol).await?,
    };
    let info = catalog.dataset(&symbol, from).await?;
    let bars = catalog.query(&symbol, from, None, None).await?;
    let calendar = calendar_named(&info.calendar)?;
    let coarse = resample(&bars, from, to, calendar)?;
    let fields: SeriesFields = fields_of(&info);
    let class = AssetClass::from_str(&info.asset_class)?;
    let series = LabelledSeries { symbol, timeframe: to, fields, bars: coarse };
    let summary = catalog.store_series(series, class, &format!("resample {} {from} -> {to}", info.symbol)).await?;
    refresh_quality(&catalog, &summary.dataset).await?;
    outln!(
        "{} {from} -> {to}: {} bars from {} ({} .. {})",
        summary.symbol,
        summary.dataset.rows,
        bars.len(),
        summary.dataset.first_ts,
        summary.dataset.last_ts
    );
    Ok(())
}

fn synth(args: SynthArgs) -> anyhow::Result<()> {
    let config = SynthConfig {
        seed: args.seed,
        bars: args.bars,
        start: Timestamp::from_str(&args.start)?,
        timeframe: parse_timeframe(&args.timeframe)?,
        ..SynthConfig::default()
    };
    let tmp = args.out.with_extension("csv.partial");
    let file = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let bar = progress(args.bars as u64, "synthesising");
    let written =
        match write_csv(&config, std::io::BufWriter::with_capacity(1 << 20, file), |n| bar.set_position(n as u64)) {
            Ok(n) => n,
            Err(e) => {
                // Leave no partial file behind.
                let _ = std::fs::remove_file(&tmp);
                return Err(e).with_context(|| format!("writing {}", tmp.display()));
            }
        };
    std::fs::rename(&tmp, &args.out).with_context(|| format!("moving {} into place", args.out.display()))?;
    bar.finish_and_clear();
    eprintln!("wrote {written} bars to {} (seed {})", args.out.display(), args.seed);
    Ok(())
}
