//! `sextant features …`: compute a feature matrix from a file or catalog symbols with a spec or
//! a quick indicator list, and list every feature with its parameters and defaults.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use engine::config::Settings;
use engine::data::FloatBars;
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::domain::{Symbol, Timeframe};
use engine::features::library::ParamKind;
use engine::features::{FeatureSpec, InstrumentBars, all_features, parse_indicator_list};

use super::{open_catalog, progress};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FeaturesArgs {
    #[command(subcommand)]
    pub command: Option<FeaturesCommand>,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

#[derive(Subcommand, Debug)]
pub enum FeaturesCommand {
    /// Every feature with its parameters, defaults and outputs.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ComputeArgs {
    /// A bar file (CSV or Parquet) or catalog symbols; repeat or separate with commas for several.
    #[arg(long, value_delimiter = ',')]
    pub data: Vec<String>,
    /// Feature specification (TOML): features, normalisers, labels.
    #[arg(long, conflicts_with = "indicators")]
    pub spec: Option<PathBuf>,
    /// Quick list instead of a spec, parameters after colons: sma:20,macd:12:26:9,bbands:20:2.
    #[arg(long)]
    pub indicators: Option<String>,
    /// Output file: .parquet or .csv (a <OUT>.meta.json with the spec and its hash is written beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Timeframe of catalog symbols (default: the finest stored).
    #[arg(long)]
    pub timeframe: Option<String>,
}

pub async fn run(args: FeaturesArgs, settings: &Settings) -> anyhow::Result<()> {
    match args.command {
        Some(FeaturesCommand::List { json }) => list(json),
        None => compute(args.compute, settings).await,
    }
}

fn list(json: bool) -> anyhow::Result<()> {
    if json {
        let all: Vec<serde_json::Value> = all_features()
            .map(|d| {
                serde_json::json!({
                    "name": d.name,
                    "summary": d.summary,
                    "params": d.params.iter().map(|p| serde_json::json!({"name": p.name, "default": default_text(p.kind), "help": p.help})).collect::<Vec<_>>(),
                    "outputs": d.outputs,
                    "inputs": d.inputs.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                    "talib": d.talib,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    outln!("{:<14} {:<38} {:<22} {:<9} summary", "name", "parameters (default)", "outputs", "TA-Lib");
    for d in all_features() {
        let params: Vec<String> = d.params.iter().map(|p| format!("{}={}", p.name, default_text(p.kind))).collect();
        let outputs: Vec<&str> = d.outputs.iter().map(|o| if o.is_empty() { "value" } else { o }).collect();
        outln!(
            "{:<14} {:<38} {:<22} {:<9} {}",
            d.name,
            params.join(" "),
            outputs.join(","),
            d.talib.unwrap_or("-"),
            d.summary
        );
    }
    outln!(
        "\nQuick form: --indicators sma:20,macd:12:26:9 (parameters in the order shown). Columns are named <name>_<parameters>_<output>."
    );
    Ok(())
}

fn default_text(kind: ParamKind) -> String {
    match kind {
        ParamKind::Period(v) => v.to_string(),
        ParamKind::Number(v) => v.to_string(),
        ParamKind::Text(v) => v.to_string(),
    }
}

async fn compute(args: ComputeArgs, settings: &Settings) -> anyhow::Result<()> {
    if args.data.is_empty() {
        bail!("--data FILE|SYMBOL is required (or use `sextant features list`)");
    }
    let out = args.out.as_deref().context("--out OUT.parquet|OUT.csv is required")?;
    let spec = match (&args.spec, &args.indicators) {
        (Some(path), _) => FeatureSpec::read(path)?,
        (None, Some(list)) => FeatureSpec::from_requests(parse_indicator_list(list)?),
        (None, None) => FeatureSpec::default_spec(),
    };
    let mut time_column = "timestamp".to_string();
    let mut instruments: Vec<(String, FloatBars)> = Vec::new();
    for item in &args.data {
        let path = Path::new(item);
        if path.is_file() {
            let read = read_file(path, &ImportOptions::default(), RowPolicy::Strict)?;
            time_column = read.time_column.clone();
            for (series, _) in &read.series {
                let mut bars = series.bars.clone();
                bars.sort_dedup();
                instruments.push((series.symbol.to_string(), FloatBars::from_series(&bars)));
            }
        } else {
            let catalog = open_catalog(settings).await?;
            let symbol = Symbol::new(item).with_context(|| format!("`{item}` is neither a file nor a symbol"))?;
            let timeframe = match &args.timeframe {
                Some(tf) => Timeframe::from_str(tf)?,
                None => {
                    let mut tfs = Vec::new();
                    for d in catalog.datasets_of(&symbol).await? {
                        tfs.push(Timeframe::from_str(&d.timeframe)?);
                    }
                    tfs.into_iter().min_by_key(|tf| tf.nominal_nanos()).with_context(|| {
                        format!(
                            "`{item}` is not a file, and no symbol {symbol} is in the catalog (`sextant data list`)"
                        )
                    })?
                }
            };
            let bars = catalog.query(&symbol, timeframe, None, None).await?;
            instruments.push((symbol.to_string(), FloatBars::from_series(&bars)));
        }
    }
    let bar = progress(instruments.len() as u64, "features");
    let views: Vec<InstrumentBars<'_>> =
        instruments.iter().map(|(symbol, bars)| InstrumentBars { symbol, bars: bars.columns() }).collect();
    let started = std::time::Instant::now();
    let span = tracing::info_span!("features", instruments = views.len(), features = spec.features.len());
    let mut matrix = span.in_scope(|| spec.build_matrix(&views, &time_column))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    matrix.write(out, &spec.canonical())?;
    outln!(
        "wrote {} rows x {} feature columns{} to {} in {:.0} ms (spec {})",
        matrix.frame.height(),
        matrix.feature_columns.len(),
        if matrix.label_columns.is_empty() {
            String::new()
        } else {
            format!(" + {} label(s)", matrix.label_columns.len())
        },
        out.display(),
        elapsed.as_secs_f64() * 1e3,
        &matrix.spec_hash[..12]
    );
    Ok(())
}
