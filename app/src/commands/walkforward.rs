//! `sextant backtest walk-forward …`: rolling or anchored windows, a parameter grid re-fitted on
//! each training window in parallel, and the out-of-sample result of every test window.

use anyhow::Context as _;
use clap::Args;
use engine::backtest::PreparedBars;
use engine::backtest::validation::WalkForwardSpec;
use engine::backtest::walkforward::{Objective, walk_forward_analysis};
use engine::config::Settings;

use super::backtest::{RunArgs, load};

#[derive(Args, Debug)]
pub struct WalkForwardArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// A parameter's candidate values, e.g. --grid fast=5,10,20 --grid slow=30,50.
    #[arg(long, value_name = "KEY=V1,V2,…")]
    pub grid: Vec<String>,
    /// Bars in each training window.
    #[arg(long)]
    pub train: usize,
    /// Bars in each test window.
    #[arg(long)]
    pub test: usize,
    /// Grow the training window from the start instead of rolling it.
    #[arg(long)]
    pub anchored: bool,
    /// sharpe (default), return or calmar.
    #[arg(long, default_value = "sharpe")]
    pub objective: String,
}

pub async fn run(args: WalkForwardArgs, settings: &Settings) -> anyhow::Result<()> {
    if args.run.ticks.is_some() {
        anyhow::bail!("walk-forward runs on bars: give --data, not --ticks");
    }
    let loaded = load(&args.run.data, args.run.timeframe.as_deref(), settings).await?;
    let symbols: Vec<String> = loaded.iter().map(|(s, _)| s.clone()).collect();
    let data: Vec<PreparedBars> = loaded.into_iter().map(|(_, d)| d).collect();
    let config = args.run.config(&symbols)?;
    let mut grid = Vec::new();
    for g in &args.grid {
        let (k, vs) = g.split_once('=').with_context(|| format!("--grid {g}: expected KEY=V1,V2"))?;
        grid.push((k.trim().to_string(), vs.split(',').map(|v| v.trim().to_string()).collect()));
    }
    let objective = match args.objective.as_str() {
        "sharpe" => Objective::Sharpe,
        "return" => Objective::Return,
        "calmar" => Objective::Calmar,
        other => anyhow::bail!("--objective {other}: use sharpe, return or calmar"),
    };
    let spec = if args.anchored {
        WalkForwardSpec::anchored(args.train, args.test)
    } else {
        WalkForwardSpec::rolling(args.train, args.test)
    };
    let windows = walk_forward_analysis(&config, &data, &args.run.strategy, &grid, spec, objective)?;
    if args.run.json {
        outln!("{}", serde_json::to_string_pretty(&windows)?);
        return Ok(());
    }
    outln!(
        "{:>12} {:>12} {:<28} {:>10} {:>8} {:>10} {:>10}",
        "train",
        "test",
        "chosen",
        "IS score",
        "IS DSR",
        "OOS ret%",
        "OOS Sharpe"
    );
    let mut compounded = 1.0;
    for w in &windows {
        let chosen: Vec<String> = w.chosen.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let m = &w.out_of_sample.metrics;
        compounded *= 1.0 + m.return_pct / 100.0;
        let dsr = w.deflated.as_ref().map(|d| format!("{:.3}", d.deflated_sharpe_ratio)).unwrap_or_else(|| "-".into());
        outln!(
            "{:>12} {:>12} {:<28} {:>10.3} {:>8} {:>10.2} {:>10.3}",
            format!("{}-{}", w.train.start, w.train.end),
            format!("{}-{}", w.test.start, w.test.end),
            chosen.join(" "),
            w.in_sample_score,
            dsr,
            m.return_pct,
            m.sharpe_ratio
        );
    }
    outln!("out-of-sample return over {} windows: {:.2}%", windows.len(), (compounded - 1.0) * 100.0);
    Ok(())
}
