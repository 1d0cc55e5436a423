//! `sextant rl train --spec FILE`, `sextant rl evaluate --agent DIR` and `sextant rl ensemble
//! --agent DIR --agent DIR`: trains a trading agent with a progress bar and tracking, and judges
//! a saved agent, or several acting as one, on a split against buy-and-hold.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use engine::backtest::run as run_backtest;
use engine::config::Settings;
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::domain::{Symbol, Timeframe};
use engine::models::default_device;
use engine::rl::ensemble::{Ensemble, Policy, Weighting};
use engine::rl::run::{
    AGENT_CARD, AGENT_WEIGHTS, AgentCard, TrainedAgent, build_env, buy_and_hold, card, evaluate, evaluate_ensemble,
    load_agent, read_card, save_agent, train,
};
use engine::rl::spec::RlSpec;
use engine::rl::trading::{EpisodeStats, InstrumentData, Split, TargetWeightsStrategy, TradingEnv};
use registry::client::MetricPoint;

use super::train::{experiment_id, log_and_register, tracking_client};
use super::{open_catalog, progress};

#[derive(Subcommand, Debug)]
pub enum RlCommand {
    /// Train an agent from an RL spec: `rl train --spec experiments/specs/ppo_eurusd_hourly.toml`.
    Train(RlTrainArgs),
    /// Judge a saved agent: `rl evaluate --agent DIR [--data FILE] [--split test]`.
    Evaluate(RlEvaluateArgs),
    /// Judge saved agents acting as one: `rl ensemble --agent A --agent B [--weighting thompson]`.
    Ensemble(RlEnsembleArgs),
}

#[derive(Args, Debug)]
pub struct RlTrainArgs {
    #[arg(long, value_name = "FILE")]
    pub spec: PathBuf,
    /// Folder for the agent (default: DATA_DIR/agents/NAME/TIMESTAMP).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override the spec's total environment steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Tracking server (default: $MLFLOW_TRACKING_URI, else the registry over the configured database).
    #[arg(long, value_name = "URI")]
    pub tracking_uri: Option<String>,
    #[arg(long)]
    pub no_tracking: bool,
}

#[derive(Args, Debug)]
pub struct RlEvaluateArgs {
    /// An agent folder written by `rl train` (holds agent.json and agent.safetensors).
    #[arg(long, value_name = "DIR")]
    pub agent: PathBuf,
    /// Bars to evaluate on (default: the spec's data); the agent's instruments are picked from it.
    #[arg(long, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Which split of the data: train, validation, test or all.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Write the episode's decisions and equity (CSV).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RlEnsembleArgs {
    /// Agent folders written by `rl train`, all trading the same instruments on the same features.
    #[arg(long = "agent", value_name = "DIR", required = true)]
    pub agents: Vec<PathBuf>,
    /// How the weights move: fixed (equal), rolling_sharpe, thompson or meta_select (FinRL's).
    #[arg(long, default_value = "thompson")]
    pub weighting: String,
    /// Rewards in the rolling Sharpe ratio, or in the selector's validation window.
    #[arg(long, default_value_t = 63)]
    pub window: usize,
    /// Steps between Thompson draws, or between re-selections.
    #[arg(long, default_value_t = 21)]
    pub every: usize,
    /// Softmax temperature of the rolling-Sharpe weights.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// How much Thompson sampling keeps of old evidence per step.
    #[arg(long, default_value_t = 0.99)]
    pub discount: f64,
    /// Seed of the Thompson draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bars to evaluate on (default: the first agent's spec's data).
    #[arg(long, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Which split of the data: train, validation, test or all.
    #[arg(long, default_value = "test")]
    pub split: String,
}

pub async fn run(cmd: RlCommand, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        RlCommand::Train(args) => run_train(args, settings).await,
        RlCommand::Evaluate(args) => run_evaluate(args, settings).await,
        RlCommand::Ensemble(args) => run_ensemble(args, settings).await,
    }
}

fn pick(read: Vec<InstrumentData>, wanted: Option<&[String]>) -> anyhow::Result<Vec<InstrumentData>> {
    let Some(wanted) = wanted else { return Ok(read) };
    let mut out = Vec::new();
    for w in wanted {
        let found = read.iter().position(|i| i.symbol.eq_ignore_ascii_case(w)).with_context(|| {
            format!(
                "instrument {w} is not in the data ({})",
                read.iter().map(|i| i.symbol.as_str()).collect::<Vec<_>>().join(", ")
            )
        })?;
        out.push(InstrumentData { symbol: read[found].symbol.clone(), bars: read[found].bars.clone() });
    }
    Ok(out)
}

fn read_files(paths: &[PathBuf]) -> anyhow::Result<Vec<InstrumentData>> {
    let mut out = Vec::new();
    for path in paths {
        let read = read_file(path, &ImportOptions::default(), RowPolicy::Strict)
            .with_context(|| format!("reading {}", path.display()))?;
        for (series, _) in read.series {
            out.push(InstrumentData { symbol: series.symbol.to_string(), bars: series.bars });
        }
    }
    Ok(out)
}

/// The bars a spec names: files (columns picked by `instruments`) or catalog symbols.
async fn spec_instruments(spec: &RlSpec, settings: &Settings) -> anyhow::Result<Vec<InstrumentData>> {
    let mut out = read_files(&spec.data_paths()).with_context(|| format!("{}: [data]", spec.origin.display()))?;
    if let Some(symbols) = &spec.data.symbol {
        let catalog = open_catalog(settings).await?;
        for text in symbols.items() {
            let symbol = Symbol::new(&text)?;
            let timeframe = match &spec.data.timeframe {
                Some(tf) => Timeframe::from_str(tf)?,
                None => super::data::finest_timeframe(&catalog, &symbol).await?,
            };
            let bars = catalog.query(&symbol, timeframe, None, None).await?;
            out.push(InstrumentData { symbol: symbol.to_string(), bars });
        }
    }
    let out = pick(out, spec.data.instruments.as_deref())?;
    if out.is_empty() {
        bail!("{}: the spec's [data] names no bars", spec.origin.display());
    }
    Ok(out)
}

fn stats_line(label: &str, s: &EpisodeStats) -> String {
    format!(
        "{label:<22} return {:>8.2}%  Sharpe {:>6.2}  Sortino {:>6.2}  Calmar {:>6.2}  max DD {:>6.2}%  turnover {:>7.1}  trades {:>5}{}{}",
        s.total_return * 100.0,
        s.sharpe,
        s.sortino,
        s.calmar,
        s.max_drawdown * 100.0,
        s.turnover,
        s.trades,
        if s.rejected_orders > 0 { format!("  rejected {}", s.rejected_orders) } else { String::new() },
        if s.stopped_out { "  (stopped out)" } else { "" }
    )
}

fn stats_metrics(prefix: &str, s: &EpisodeStats) -> Vec<(String, f64)> {
    vec![
        (format!("{prefix}_return"), s.total_return),
        (format!("{prefix}_sharpe"), s.sharpe),
        (format!("{prefix}_sortino"), s.sortino),
        (format!("{prefix}_calmar"), s.calmar),
        (format!("{prefix}_max_drawdown"), s.max_drawdown),
        (format!("{prefix}_turnover"), s.turnover),
        (format!("{prefix}_trades"), s.trades as f64),
    ]
}

async fn run_train(args: RlTrainArgs, settings: &Settings) -> anyhow::Result<()> {
    let mut spec = RlSpec::read(&args.spec)?;
    if let Some(steps) = args.steps {
        let text = format!(
            "total_steps = {steps}\n{}",
            spec.text.lines().filter(|l| !l.trim_start().starts_with("total_steps")).collect::<Vec<_>>().join("\n")
        );
        spec = RlSpec::parse(&text, &args.spec)?;
    }
    let instruments = spec_instruments(&spec, settings).await?;
    let env = build_env(&spec, instruments)?;
    let market = env.market();
    let splits: Vec<usize> =
        [Split::Train, Split::Validation, Split::Test].iter().map(|s| market.split_range(*s).len()).collect();
    outln!(
        "{}: {} on {} ({} aligned bars, {} features x {} bars observed, {} values); decisions train {} / validation {} / test {}",
        spec.name,
        spec.algorithm.name(),
        market.symbols.join(", "),
        market.bar_count(),
        market.feature_columns.len(),
        market.window,
        engine::rl::Environment::observation_space(&env).dim(),
        splits[0],
        splits[1],
        splits[2]
    );
    if let Some(reason) = &market.model_fallback {
        outln!("warning: no model features ({reason}); the agent observes the plain features");
    }
    let out_dir = args.out.clone().unwrap_or_else(|| {
        settings.data_dir.join("agents").join(&spec.name).join(chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string())
    });

    let tracking = if args.no_tracking {
        None
    } else {
        let client = tracking_client(args.tracking_uri.as_deref(), settings).await?;
        let experiment_id = experiment_id(&client, &spec.registry.experiment).await?;
        let seed = spec.seed.to_string();
        let code = engine::models::checkpoint::code_version();
        let origin = args.spec.display().to_string();
        let tags = [
            ("sextant.feature_spec_hash", market.feature_spec_hash.as_str()),
            ("sextant.code_version", code.as_str()),
            ("sextant.seed", seed.as_str()),
            ("sextant.algorithm", spec.algorithm.name()),
            ("mlflow.source.name", origin.as_str()),
        ];
        let run_id = client.create_run(&experiment_id, &spec.name, &tags).await?;
        let params = vec![
            ("algorithm", spec.algorithm.name().to_string()),
            ("instruments", market.symbols.join(",")),
            ("total_steps", spec.total_steps().to_string()),
            ("environment", serde_json::to_string(&spec.environment)?),
            ("costs", serde_json::to_string(&spec.costs)?),
            (
                "agent",
                match spec.algorithm {
                    engine::rl::spec::Algorithm::Ppo => serde_json::to_string(&spec.ppo)?,
                    engine::rl::spec::Algorithm::Sac => serde_json::to_string(&spec.sac)?,
                    engine::rl::spec::Algorithm::Td3 => serde_json::to_string(&spec.td3)?,
                    engine::rl::spec::Algorithm::Rainbow => serde_json::to_string(&spec.rainbow)?,
                },
            ),
        ];
        client.log_batch(&run_id, &params, &[], &[]).await?;
        outln!("tracking run {run_id} in experiment \"{}\"", spec.registry.experiment);
        Some((client, run_id))
    };

    let bar = progress(spec.total_steps() as u64, "training");
    let handle = tokio::runtime::Handle::current();
    let device = default_device();
    let spec_thread = spec.clone();
    let env_thread = env.fresh();
    let bar_thread = bar.clone();
    let tracking_thread = tracking.as_ref().map(|(c, r)| (c.clone(), r.clone()));
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let mut last_logged = 0usize;
        let agent = train(&spec_thread, &env_thread, &device, |p| {
            bar_thread.set_position(p.steps as u64);
            let rate = p.steps as f64 / started.elapsed().as_secs_f64().max(1e-9);
            bar_thread.set_message(format!("episode return {:.4}  {rate:.0} steps/s", p.episode_return));
            if let Some((client, run_id)) = &tracking_thread
                && p.episode_return.is_finite()
                && p.steps >= last_logged + 1000
            {
                last_logged = p.steps;
                let point = MetricPoint {
                    key: "train_episode_return".into(),
                    value: p.episode_return,
                    timestamp_ms: chrono::Utc::now().timestamp_millis(),
                    step: p.steps as i64,
                };
                if let Err(e) = handle.block_on(client.log_batch(run_id, &[], &[point], &[])) {
                    tracing::warn!(error = %e, "logging training progress failed");
                }
            }
        })?;
        let card = card(&spec_thread, &env_thread, &agent)?;
        Ok::<(TrainedAgent, AgentCard), engine::rl::offpolicy::AgentError>((agent, card))
    })
    .await
    .context("the training thread stopped")?;
    bar.finish_and_clear();
    let (agent, card) = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some((client, run_id)) = &tracking {
                let _ = client.set_terminated(run_id, "FAILED").await;
            }
            return Err(e.into());
        }
    };
    outln!("trained {} steps in {:.0} s", spec.total_steps(), started.elapsed().as_secs_f64());
    outln!("{}", stats_line("validation", &card.validation));
    outln!("{}", stats_line("test", &card.test));
    outln!("{}", stats_line("test, buy and hold", &card.buy_and_hold_test));
    save_agent(&out_dir, &agent, &card)?;
    outln!("agent saved in {}", out_dir.display());
    if let Some((client, run_id)) = tracking {
        let now = chrono::Utc::now().timestamp_millis();
        let step = spec.total_steps() as i64;
        let mut metrics = stats_metrics("validation", &card.validation);
        metrics.extend(stats_metrics("test", &card.test));
        metrics.extend(stats_metrics("test_buy_and_hold", &card.buy_and_hold_test));
        let points: Vec<MetricPoint> =
            metrics.into_iter().map(|(key, value)| MetricPoint { key, value, timestamp_ms: now, step }).collect();
        client.log_batch(&run_id, &[], &points, &[]).await?;
        let files = [AGENT_WEIGHTS, AGENT_CARD];
        let version = log_and_register(&client, &run_id, &out_dir, &files, "agent", &spec.registry.model_name).await?;
        outln!("registered {} version {version} (run {run_id})", spec.registry.model_name);
    }
    Ok(())
}

fn parse_split(text: &str) -> anyhow::Result<Split> {
    Ok(match text {
        "train" => Split::Train,
        "validation" => Split::Validation,
        "test" => Split::Test,
        "all" => Split::All,
        other => bail!("--split {other}: expected train, validation, test or all"),
    })
}

/// The spec an agent folder stores.
fn stored_spec(dir: &Path, card: &AgentCard) -> anyhow::Result<RlSpec> {
    RlSpec::parse(&card.spec_toml, &dir.join(AGENT_CARD)).with_context(|| format!("{}: the stored spec", dir.display()))
}

/// The environment an agent was trained for, over `data` (default: its spec's data).
async fn agent_env(
    spec: &RlSpec,
    card: &AgentCard,
    data: &[PathBuf],
    settings: &Settings,
) -> anyhow::Result<TradingEnv> {
    let instruments = if data.is_empty() {
        let origin_spec = RlSpec { origin: PathBuf::from("."), ..spec.clone() };
        spec_instruments(&origin_spec, settings).await?
    } else {
        pick(read_files(data)?, Some(&card.symbols))?
    };
    Ok(build_env(spec, instruments)?)
}

async fn run_evaluate(args: RlEvaluateArgs, settings: &Settings) -> anyhow::Result<()> {
    let card = read_card(&args.agent)?;
    let spec = stored_spec(&args.agent, &card)?;
    let split = parse_split(&args.split)?;
    let env = agent_env(&spec, &card, &args.data, settings).await?;
    let agent = load_agent(&args.agent, &spec, &env, &default_device())?;
    let (stats, episode) = evaluate(&agent, &env, split)?;
    let hold = buy_and_hold(&env, split)?;
    let range = env.market().split_range(split);
    let ts = &env.market().bars[0].ts;
    outln!(
        "{} ({}) on {} {:?} split: {} decisions from {} to {}",
        card.name,
        card.algorithm.name(),
        card.symbols.join(", "),
        split,
        range.len(),
        engine::domain::Timestamp::from_nanos(ts[range.start]),
        engine::domain::Timestamp::from_nanos(ts[range.end.min(ts.len() - 1)])
    );
    outln!("{}", stats_line("agent", &stats));
    outln!("{}", stats_line("buy and hold", &hold));
    // The same decisions through the backtest engine: a check that the environment and the
    // backtest agree, and the run a report can be made from.
    let replayed = replay(&env, &episode)?;
    outln!("backtest replay of the decisions: final equity {:.2} (environment {:.2})", replayed, stats.final_equity);
    if let Some(out) = &args.out {
        write_decisions(out, &env, &episode)?;
        outln!("decisions written to {}", out.display());
    }
    Ok(())
}

async fn run_ensemble(args: RlEnsembleArgs, settings: &Settings) -> anyhow::Result<()> {
    let split = parse_split(&args.split)?;
    let cards = args.agents.iter().map(|dir| read_card(dir)).collect::<Result<Vec<_>, _>>()?;
    let first = &cards[0];
    for (dir, c) in args.agents.iter().zip(&cards).skip(1) {
        if c.symbols != first.symbols || c.feature_spec_hash != first.feature_spec_hash {
            bail!(
                "{}: an ensemble's agents must trade the same instruments on the same features; it trades {} on feature spec {}, {} trades {} on {}",
                dir.display(),
                c.symbols.join(","),
                c.feature_spec_hash,
                args.agents[0].display(),
                first.symbols.join(","),
                first.feature_spec_hash
            );
        }
    }
    let env = agent_env(&stored_spec(&args.agents[0], first)?, first, &args.data, settings).await?;
    let device = default_device();
    let mut members: Vec<(String, Box<dyn Policy>)> = Vec::new();
    for (k, (dir, c)) in args.agents.iter().zip(&cards).enumerate() {
        let agent = load_agent(dir, &stored_spec(dir, c)?, &env, &device)?;
        members.push((format!("#{} {} ({})", k + 1, c.name, c.algorithm.name()), Box::new(agent)));
    }
    let weighting = match args.weighting.as_str() {
        "fixed" => Weighting::Fixed,
        "rolling_sharpe" => Weighting::RollingSharpe { window: args.window, temperature: args.temperature },
        "thompson" => Weighting::Thompson { decision_window: args.every, discount: args.discount },
        "meta_select" => Weighting::MetaSelect { validation_window: args.window, reselect_every: args.every },
        other => bail!("--weighting {other}: expected fixed, rolling_sharpe, thompson or meta_select"),
    };
    let mut ensemble = Ensemble::new(members, weighting, args.seed)?;
    let range = env.market().split_range(split);
    outln!(
        "ensemble of {} agents on {} {:?} split ({} decisions), {} weighting",
        ensemble.len(),
        first.symbols.join(", "),
        split,
        range.len(),
        args.weighting
    );
    let names: Vec<String> = ensemble.names().iter().map(|n| n.to_string()).collect();
    for (k, name) in names.iter().enumerate() {
        let member = ensemble.member(k).context("ensemble member")?;
        outln!("{}", stats_line(name, &evaluate(member, &env, split)?.0));
    }
    let episode = evaluate_ensemble(&mut ensemble, &env, split)?;
    outln!("{}", stats_line("ensemble", &episode.stats));
    outln!("{}", stats_line("buy and hold", &buy_and_hold(&env, split)?));
    let steps = episode.weights.len().max(1) as f64;
    for (k, name) in names.iter().enumerate() {
        let mean = episode.weights.iter().map(|w| w[k]).sum::<f64>() / steps;
        let last = episode.weights.last().map(|w| w[k]).unwrap_or(f64::NAN);
        outln!("weight of {name}: mean {mean:.3}, final {last:.3}");
    }
    Ok(())
}

fn replay(env: &TradingEnv, episode: &TradingEnv) -> anyhow::Result<f64> {
    let market = env.market();
    let mut weights = vec![None; market.bar_count()];
    for (t, w) in episode.decisions() {
        weights[t] = Some(w.to_vec());
    }
    let last = episode.decisions().next_back().map(|(t, _)| t + 1).unwrap_or(0);
    let bars: Vec<_> = market
        .bars
        .iter()
        .map(|b| {
            engine::backtest::PreparedBars::new({
                let mut s = b.bars.clone();
                s.take_rows(&(0..=last.min(b.len() - 1)).collect::<Vec<_>>());
                s
            })
        })
        .collect();
    let config = spec_costs(env);
    let mut strategy =
        TargetWeightsStrategy::new("agent replay", weights, market.instruments(), env.config().rebalance_band);
    let result = run_backtest(&config, &bars, &mut strategy)?;
    Ok(result.equity_curve.last().map(|s| s.equity).unwrap_or(f64::NAN))
}

fn spec_costs(env: &TradingEnv) -> engine::backtest::BacktestConfig {
    env.costs().clone()
}

fn write_decisions(path: &Path, env: &TradingEnv, episode: &TradingEnv) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let market = env.market();
    let mut text = String::from("timestamp");
    for s in &market.symbols {
        let _ = write!(text, ",weight_{s}");
    }
    text.push('\n');
    for (t, w) in episode.decisions() {
        let _ = write!(text, "{}", engine::domain::Timestamp::from_nanos(market.bars[0].ts[t]));
        for x in w {
            let _ = write!(text, ",{x}");
        }
        text.push('\n');
    }
    engine::models::checkpoint::write_atomic(path, text.as_bytes())?;
    Ok(())
}
