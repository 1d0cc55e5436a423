//! `sextant backtest …`: run a shipped strategy over a file or catalog symbols and print its
//! statistics (or JSON), optionally writing the self-contained HTML report.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use engine::backtest::costs::{Fees, Slippage};
use engine::backtest::strategies::{self, Params};
use engine::backtest::{
    AccountConfig, BacktestConfig, FillTiming, InstrumentSpec, MarketTick, PreparedBars, VenueConfig,
};
use engine::config::Settings;
use engine::data::calendar::MarketCalendar;
use engine::data::import::{ImportOptions, RowPolicy, infer_asset_class, read_file, read_ticks};
use engine::domain::{Decimal, Symbol, Timeframe};

use super::open_catalog;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BacktestArgs {
    #[command(subcommand)]
    pub command: Option<BacktestCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum BacktestCommand {
    /// Walk-forward analysis: re-fit the strategy's parameters on each training window (grid
    /// search on Sharpe), trade the next test window, and report the stitched out-of-sample result.
    WalkForward(super::walkforward::WalkForwardArgs),
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// A bar file (CSV or Parquet) or catalog symbols; several separated by commas.
    #[arg(long, value_delimiter = ',')]
    pub data: Vec<String>,
    /// A tick file (CSV of quotes and/or trade prints, a `symbol` column for several
    /// instruments) instead of bars: orders fill at the touch, tick by tick, up to the size
    /// shown, and the strategy sees bars of `--bar` built from the mids (or the prints).
    #[arg(long, conflicts_with = "data")]
    pub ticks: Option<PathBuf>,
    /// The length of the bars a tick backtest builds for the strategy (30s, 1m, 5m, 1h...).
    #[arg(long, default_value = "1m", requires = "ticks")]
    pub bar: String,
    /// buy_and_hold, sma_cross, rsi_reversion or bollinger_breakout.
    #[arg(long, default_value = "sma_cross")]
    pub strategy: String,
    /// Strategy parameters, e.g. --set fast=10 --set slow=20.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Starting cash in the account currency.
    #[arg(long, default_value = "10000")]
    pub cash: Decimal,
    /// Commission as a fraction of notional, charged on entry and exit (0.002 = 0.2 %).
    #[arg(long, default_value = "0")]
    pub commission: Decimal,
    /// Slippage in basis points of the price.
    #[arg(long)]
    pub slippage_bps: Option<f64>,
    /// Initial margin fraction (1 = cash account, 0.5 = 2x leverage).
    #[arg(long, default_value = "1")]
    pub margin: Decimal,
    /// Maintenance margin fraction (e.g. 0.25): below it, a margin call closes every position.
    #[arg(long)]
    pub maintenance_margin: Option<Decimal>,
    /// Annual stock-loan fee on short positions' market value (0.003 = 0.3 %), charged nightly.
    #[arg(long, default_value = "0")]
    pub borrow_rate: Decimal,
    /// When market orders fill: next_open (default), close.
    #[arg(long, default_value = "next_open")]
    pub fill: String,
    /// Timeframe of catalog symbols (default: the finest stored).
    #[arg(long)]
    pub timeframe: Option<String>,
    /// Print the whole result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the HTML report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Also test the result's significance with this many bootstrap resamples and permutations.
    #[arg(long, value_name = "RESAMPLES")]
    pub significance: Option<usize>,
    /// Seed of the significance tests.
    #[arg(long, default_value = "42")]
    pub seed: u64,
}

impl RunArgs {
    pub fn params(&self) -> anyhow::Result<Params> {
        let mut params = Params::new();
        for kv in &self.set {
            let (k, v) = kv.split_once('=').with_context(|| format!("--set {kv}: expected KEY=VALUE"))?;
            params.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(params)
    }

    pub fn config(&self, symbols: &[String]) -> anyhow::Result<BacktestConfig> {
        let fill_timing = match self.fill.as_str() {
            "next_open" => FillTiming::NextOpen,
            "close" => FillTiming::Close,
            other => bail!("--fill {other}: use next_open or close"),
        };
        let fees = if self.commission.is_zero() { Fees::None } else { Fees::Percent { rate: self.commission } };
        let slippage = self.slippage_bps.map(|bps| Slippage::FixedBps { bps }).unwrap_or_default();
        Ok(BacktestConfig {
            account: AccountConfig {
                initial_cash: self.cash,
                margin: self.margin,
                maintenance_margin: self.maintenance_margin,
                ..AccountConfig::default()
            },
            venue: VenueConfig { fill_timing, max_participation: None },
            instruments: symbols
                .iter()
                .map(|s| InstrumentSpec {
                    fees: fees.clone(),
                    slippage: slippage.clone(),
                    // DAY orders end with the trading day of the instrument's market.
                    calendar: Symbol::new(s).ok().map(|sym| MarketCalendar::for_asset_class(infer_asset_class(&sym))),
                    borrow_rate: self.borrow_rate,
                    ..InstrumentSpec::cash(s, "USD")
                })
                .collect(),
            benchmark: None,
            risk_free_rate: 0.0,
        })
    }
}

/// Loads each `--data` item (file or catalog symbol) as prepared bars with its symbol.
pub async fn load(
    items: &[String],
    timeframe: Option<&str>,
    settings: &Settings,
) -> anyhow::Result<Vec<(String, PreparedBars)>> {
    if items.is_empty() {
        bail!("--data FILE|SYMBOL is required");
    }
    let mut out = Vec::new();
    for item in items {
        let path = Path::new(item);
        if path.is_file() {
            let read = read_file(path, &ImportOptions::default(), RowPolicy::Strict)?;
            for (series, _) in read.series {
                let mut bars = series.bars;
                bars.sort_dedup();
                out.push((series.symbol.to_string(), PreparedBars::new(bars)));
            }
        } else {
            let catalog = open_catalog(settings).await?;
            let symbol = Symbol::new(item).with_context(|| format!("`{item}` is neither a file nor a symbol"))?;
            let tf = match timeframe {
                Some(tf) => Timeframe::from_str(tf)?,
                None => {
                    let mut tfs = Vec::new();
                    for d in catalog.datasets_of(&symbol).await? {
                        tfs.push(Timeframe::from_str(&d.timeframe)?);
                    }
                    tfs.into_iter()
                        .min_by_key(|tf| tf.nominal_nanos())
                        .with_context(|| format!("`{item}` is not a file, and {symbol} is not in the catalog"))?
                }
            };
            let bars = catalog.query(&symbol, tf, None, None).await?;
            out.push((symbol.to_string(), PreparedBars::new(bars)));
        }
    }
    Ok(out)
}

pub async fn run(args: BacktestArgs, settings: &Settings) -> anyhow::Result<()> {
    if let Some(BacktestCommand::WalkForward(wf)) = args.command {
        return super::walkforward::run(wf, settings).await;
    }
    let args = args.run;
    let mut strategy = strategies::build(&args.strategy, &args.params()?)?;
    let (symbols, events, result, elapsed) = if let Some(path) = &args.ticks {
        let bar = Timeframe::from_str(&args.bar).with_context(|| format!("--bar {}", args.bar))?;
        let file = read_ticks(path, &ImportOptions::default())?;
        let symbols: Vec<String> = file.streams.iter().map(|(s, _)| s.to_string()).collect();
        let ticks: Vec<Vec<MarketTick>> = file.streams.into_iter().map(|(_, t)| t).collect();
        let config = args.config(&symbols)?;
        let started = std::time::Instant::now();
        let result = engine::backtest::run_ticks(&config, &ticks, bar.nominal_nanos(), strategy.as_mut())?;
        let count =
            format!("{} ticks, {} bars of {bar}", ticks.iter().map(Vec::len).sum::<usize>(), result.equity_curve.len());
        (symbols, count, result, started.elapsed())
    } else {
        let loaded = load(&args.data, args.timeframe.as_deref(), settings).await?;
        let symbols: Vec<String> = loaded.iter().map(|(s, _)| s.clone()).collect();
        let data: Vec<PreparedBars> = loaded.into_iter().map(|(_, d)| d).collect();
        let config = args.config(&symbols)?;
        let started = std::time::Instant::now();
        let result = engine::backtest::run(&config, &data, strategy.as_mut())?;
        let count = format!("{} bars", data.iter().map(PreparedBars::len).sum::<usize>());
        (symbols, count, result, started.elapsed())
    };
    let significance = args.significance.map(|n| result.significance(n, args.seed)).transpose()?;
    if let Some(path) = &args.report {
        engine::models::checkpoint::write_atomic(path, result.to_html(significance.as_ref()).as_bytes())?;
    }
    if args.json {
        let mut value = serde_json::to_value(&result)?;
        if let Some(s) = &significance {
            value["significance"] = serde_json::to_value(s)?;
        }
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    outln!("{} on {} ({events}, {:.1} ms)", result.strategy, symbols.join(","), elapsed.as_secs_f64() * 1e3);
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(&result.metrics) {
        for (k, v) in map {
            let shown = match v {
                serde_json::Value::Number(n) => n.as_f64().map(|x| format!("{x:.4}")).unwrap_or_default(),
                serde_json::Value::Null => "-".into(),
                other => other.to_string(),
            };
            outln!("  {k:<28} {shown}");
        }
    }
    if let Some(s) = &significance {
        let b = &s.sharpe_per_bar;
        outln!(
            "  significance: Sharpe/bar {:.4} [{:.4}, {:.4}] at {:.0}% (stationary bootstrap, {} resamples)",
            b.estimate,
            b.lower,
            b.upper,
            b.confidence * 100.0,
            b.resamples
        );
        outln!("  probabilistic Sharpe vs 0: {:.4}", s.probabilistic_sharpe_vs_zero);
        outln!("  mean return > 0, sign-flip p = {:.4}", s.mean_return_sign_flip.p_value);
        if let Some(t) = &s.trade_order_drawdown {
            outln!("  trade-order drawdown {:.4}, permutation p = {:.4}", t.observed, t.p_value);
        }
    }
    if !result.borrow_fees.is_zero() {
        outln!("  borrow fees paid on shorts: {:.2}", result.borrow_fees);
    }
    let liquidations = result.margin_call_fills().count();
    if liquidations > 0 {
        outln!("  {liquidations} fill(s) of margin-call orders closing positions (tag `margin call` in the trade log)");
    }
    let rejected = result.rejections().count();
    if rejected > 0 {
        outln!("  {rejected} order(s) rejected; --json or --report shows the reasons");
    }
    if let Some(path) = &args.report {
        outln!("report: {}", path.display());
    }
    Ok(())
}
