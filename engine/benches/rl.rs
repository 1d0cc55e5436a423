//! Reinforcement-learning throughput on one CPU core: raw trading-environment steps per second
//! (random actions, one instrument), PPO training frames per second on the trading environment,
//! and PPO on CartPole-v1 next to Stable-Baselines3's PPO with the same RL Zoo settings, timed
//! in the same run when a Python with SB3 is available ($SEXTANT_TORCH_PYTHON, default
//! ~/.cache/sextant-torch/bin/python; `scripts/setup-torch-reference.sh`, then
//! `pip install --no-deps stable-baselines3 cloudpickle gymnasium farama-notifications`).
//!
//! Run: cargo bench --workspace --bench rl

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use candle_core::Device;
use engine::backtest::costs::{Fees, Slippage};
use engine::backtest::{AccountConfig, BacktestConfig, FillTiming, InstrumentSpec, VenueConfig};
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::features::FeatureSpec;
use engine::rl::classic::CartPole;
use engine::rl::ppo::{PpoAgent, PpoConfig};
use engine::rl::trading::{InstrumentData, MarketData, ObservationConfig, Split, TradingEnv, TradingEnvConfig};
use engine::rl::{Action, Environment, Space};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ENV_STEPS: usize = 1_000_000;
const PPO_STEPS: usize = 50_176;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn trading_env() -> anyhow::Result<TradingEnv> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample/EURUSD.csv");
    let read = read_file(&path, &ImportOptions::default(), RowPolicy::Strict)?;
    let data: Vec<InstrumentData> =
        read.series.into_iter().map(|(s, _)| InstrumentData { symbol: s.symbol.to_string(), bars: s.bars }).collect();
    let spec = FeatureSpec::parse(
        "[[feature]]\nname = \"roc\"\nperiod = 1\n[[feature]]\nname = \"roc\"\nperiod = 6\n[[feature]]\nname = \"rsi\"\nperiod = 14\n[[feature]]\nname = \"natr\"\nperiod = 14\n[[feature]]\nname = \"zscore\"\nperiod = 20\n",
        "bench spec",
    )?;
    let config = TradingEnvConfig {
        observation: ObservationConfig { window: 16, ..ObservationConfig::default() },
        episode_length: Some(500),
        ..TradingEnvConfig::default()
    };
    let market = MarketData::new(data, &spec, &config.observation, &config.split)?;
    let costs = BacktestConfig {
        account: AccountConfig { initial_cash: "100000".parse()?, ..AccountConfig::default() },
        venue: VenueConfig { fill_timing: FillTiming::NextOpen, max_participation: None },
        instruments: vec![InstrumentSpec {
            fees: Fees::Percent { rate: "0.0001".parse()? },
            slippage: Slippage::FixedBps { bps: 0.5 },
            ..InstrumentSpec::cash("EURUSD", "USD")
        }],
        benchmark: None,
        risk_free_rate: 0.0,
    };
    Ok(TradingEnv::new(Arc::new(market), config, costs, Split::Train)?)
}

fn env_steps_per_second(env: &mut TradingEnv) -> anyhow::Result<(f64, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut episodes = 0u64;
    env.reset(episodes);
    let mut trades = 0;
    let started = Instant::now();
    for _ in 0..ENV_STEPS {
        let step = env.step(&Action::Discrete(rng.random_range(0..3)))?;
        if step.terminated || step.truncated {
            trades += env.episode_stats().map_or(0, |s| s.trades);
            episodes += 1;
            env.reset(episodes);
        }
    }
    Ok((ENV_STEPS as f64 / started.elapsed().as_secs_f64(), trades))
}

fn sb3_fps() -> Option<(f64, String)> {
    let python = std::env::var("SEXTANT_TORCH_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/sextant-torch/bin/python", std::env::var("HOME").unwrap_or_default()));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/sb3_ppo_cartpole.py");
    let out =
        Command::new(&python).arg(&script).arg(PPO_STEPS.to_string()).env("OMP_NUM_THREADS", "1").output().ok()?;
    if !out.status.success() {
        eprintln!("SB3 reference failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((v["fps"].as_f64()?, format!("SB3 {} / torch {}", v["sb3"].as_str()?, v["torch"].as_str()?)))
}

fn main() -> anyhow::Result<()> {
    if std::env::var("RAYON_NUM_THREADS").is_err() {
        let status = Command::new(std::env::current_exe()?)
            .args(std::env::args().skip(1))
            .env("RAYON_NUM_THREADS", "1")
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let mut env = trading_env()?;
    let mut rates = Vec::new();
    let mut trades = 0;
    for _ in 0..5 {
        let (rate, t) = env_steps_per_second(&mut env)?;
        rates.push(rate);
        trades = t;
    }
    let env_rate = median(rates);
    println!(
        "trading env, EURUSD, random sell/flat/buy, 16x5 features + portfolio, 500-step episodes: {:.0} steps/s (median of 5 x {ENV_STEPS}; {trades} fills per run; goal 1,000,000)",
        env_rate
    );

    let config = PpoConfig { n_steps: 256, n_epochs: 10, total_steps: PPO_STEPS, ..PpoConfig::default() };
    let obs_dim = env.observation_space().dim();
    let agent = PpoAgent::new(obs_dim, &env.action_space(), &config.hidden, 0, &Device::Cpu)?;
    let envs = (0..config.n_envs).map(|_| env.fresh()).collect();
    let started = Instant::now();
    agent.train(envs, &config, |_| {})?;
    println!(
        "PPO on the trading env (8 envs x 256 steps, 10 epochs, [64,64]): {:.0} frames/s",
        PPO_STEPS as f64 / started.elapsed().as_secs_f64()
    );

    let mut ours = Vec::new();
    for _ in 0..3 {
        let config = PpoConfig { total_steps: PPO_STEPS, ..PpoConfig::default() };
        let agent = PpoAgent::new(4, &Space::Discrete(2), &config.hidden, 0, &Device::Cpu)?;
        let envs = (0..config.n_envs).map(|_| CartPole::new()).collect();
        let started = Instant::now();
        agent.train(envs, &config, |_| {})?;
        ours.push(PPO_STEPS as f64 / started.elapsed().as_secs_f64());
    }
    let ours = median(ours);
    match sb3_fps() {
        Some((theirs, version)) => println!(
            "PPO CartPole-v1 (RL Zoo settings, {PPO_STEPS} steps): {:.2}x SB3 -- Sextant {ours:.0} frames/s, {version} {theirs:.0} frames/s",
            ours / theirs
        ),
        None => {
            println!("PPO CartPole-v1 (RL Zoo settings): Sextant {ours:.0} frames/s (SB3 not available: no comparison)")
        }
    }
    Ok(())
}
