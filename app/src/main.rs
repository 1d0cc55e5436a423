//! The `sextant` binary: parses the command line, loads the layered configuration, sets up
//! logging, and hands each subcommand to its module under `commands`.

#[macro_use]
mod commands;

// mimalloc keeps freed pages for reuse: feature matrices and backtests allocate column-sized
// buffers over and over, and page faults on fresh memory would otherwise dominate.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod logging;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use engine::config::{ConfigSource, LogFormat, Settings};

#[derive(Parser, Debug)]
#[command(name = "sextant", version, about = "AI trading research and MLOps: data, models, backtests, live trading")]
struct Cli {
    /// Configuration file (default: ./sextant.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Configuration profile: dev, test or prod (default: $SEXTANT_PROFILE, then dev).
    #[arg(long, global = true)]
    profile: Option<String>,
    /// Data folder for the database, the catalog and artifacts (overrides the configuration).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log format on stderr: text or json (overrides the configuration).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    /// Log filter such as info or sextant=debug (overrides the configuration and RUST_LOG).
    #[arg(long, global = true)]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Market data: import, list, inspect, query, resample and synthesise bars.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Import the sample data shipped with Sextant and print its quality reports.
    Demo(commands::demo::DemoArgs),
    /// Feature matrices from bars: `features --data FILE --indicators sma:20,rsi:14 --out F.csv`, or `features list`.
    Features(commands::features::FeaturesArgs),
    /// Train a model from an experiment spec: `train --spec experiments/specs/hybrid_goog_daily.toml`.
    Train(commands::train::TrainArgs),
    /// Predict with a saved model: `predict --model DIR --data FILE [--mc-passes 20]`.
    Predict(commands::predict::PredictArgs),
    /// Reinforcement learning: `rl train --spec experiments/specs/ppo_eurusd_hourly.toml`, `rl evaluate --agent DIR`.
    #[command(subcommand)]
    Rl(commands::rl::RlCommand),
    /// Backtest a strategy: `backtest --data FILE --strategy sma_cross --set fast=10`, or `backtest walk-forward`.
    Backtest(Box<commands::backtest::BacktestArgs>),
    /// Experiment tracking: `registry serve` runs the MLflow-compatible server.
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
    /// Serve the web control plane, the JSON API, the registry API and metrics.
    Serve(commands::serve::ServeArgs),
    /// Manage control-plane users and API keys: `users add|list|set-role|disable|enable|create-key|keys|revoke-key`.
    #[command(subcommand)]
    Users(commands::users::UsersCommand),
    /// Print the configuration in force (passwords hidden).
    Config,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(&ConfigSource { file: cli.config.clone(), profile: cli.profile.clone() })?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    if let Some(format) = cli.log_format {
        settings.log_format = match format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    if let Some(level) = cli.log_level {
        settings.log_level = level;
    }
    settings.validate()?;
    logging::init(&settings)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Data(cmd) => commands::data::run(cmd, &settings).await,
            Command::Demo(args) => commands::demo::run(args, &settings).await,
            Command::Features(args) => commands::features::run(args, &settings).await,
            Command::Backtest(args) => commands::backtest::run(*args, &settings).await,
            Command::Registry(cmd) => commands::registry::run(cmd, &settings).await,
            Command::Train(args) => commands::train::run(args, &settings).await,
            Command::Predict(args) => commands::predict::run(args, &settings).await,
            Command::Rl(cmd) => commands::rl::run(cmd, &settings).await,
            Command::Serve(args) => commands::serve::run(args, &settings).await,
            Command::Users(cmd) => commands::users::run(cmd, &settings).await,
            Command::Config => {
                let mut shown = settings.clone();
                shown.database_url = engine::storage::redact_url(&shown.effective_database_url());
                outln!("{}", serde_json::to_string_pretty(&shown)?);
                Ok(())
            }
        }
    })
}

/// True when the error is stdout closing under us (the reader of a pipe went away).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
