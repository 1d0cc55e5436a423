//! The trading environment: it trades through the backtest engine's venue (a replay of its
//! decisions through the backtest gives the same equity), actions map and project as declared,
//! observations never see later bars, rewards add up, and risk rules and bad input are enforced.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use engine::backtest::costs::{Fees, Slippage};
use engine::backtest::{AccountConfig, BacktestConfig, FillTiming, InstrumentSpec, PreparedBars, VenueConfig, run};
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::features::FeatureSpec;
use engine::rl::trading::{
    ActionConfig, InstrumentData, MarketData, ObservationConfig, RiskConfig, Split, TargetWeightsStrategy, TradingEnv,
    TradingEnvConfig,
};
use engine::rl::{Action, Environment, RlError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn instruments(file: &str, keep: &[&str]) -> Vec<InstrumentData> {
    let read = read_file(&common::shared_data(file), &ImportOptions::default(), RowPolicy::Strict).unwrap();
    read.series
        .iter()
        .filter(|(s, _)| keep.is_empty() || keep.contains(&s.symbol.as_str()))
        .map(|(s, _)| InstrumentData { symbol: s.symbol.to_string(), bars: s.bars.clone() })
        .collect()
}

fn spec() -> FeatureSpec {
    FeatureSpec::parse(
        "[[feature]]\nname = \"roc\"\nperiod = 1\n[[feature]]\nname = \"rsi\"\nperiod = 14\n[[feature]]\nname = \"zscore\"\nperiod = 20\n",
        "test spec",
    )
    .unwrap()
}

fn costs(n: usize, timing: FillTiming) -> BacktestConfig {
    let instrument = |k: usize| InstrumentSpec {
        fees: Fees::Percent { rate: "0.001".parse().unwrap() },
        slippage: Slippage::FixedBps { bps: 2.0 },
        lot_size: "0.01".parse().unwrap(),
        ..InstrumentSpec::cash(&format!("I{k}"), "USD")
    };
    BacktestConfig {
        account: AccountConfig { initial_cash: "100000".parse().unwrap(), ..AccountConfig::default() },
        venue: VenueConfig { fill_timing: timing, max_participation: None },
        instruments: (0..n).map(instrument).collect(),
        benchmark: None,
        risk_free_rate: 0.0,
    }
}

fn env(data: Vec<InstrumentData>, config: TradingEnvConfig, timing: FillTiming, split: Split) -> TradingEnv {
    let n = data.len();
    let market = MarketData::new(data, &spec(), &config.observation, &config.split).unwrap();
    TradingEnv::new(Arc::new(market), config, costs(n, timing), split).unwrap()
}

fn random_action(env: &TradingEnv, rng: &mut ChaCha8Rng) -> Action {
    match env.action_space() {
        engine::rl::Space::Discrete(n) => Action::Discrete(rng.random_range(0..n)),
        engine::rl::Space::Box { low, high } => {
            Action::Continuous(low.iter().zip(&high).map(|(l, h)| rng.random_range(*l..=*h)).collect())
        }
    }
}

/// Runs one episode with random actions; returns the rewards and the per-step equity marks.
fn random_episode(env: &mut TradingEnv, seed: u64) -> (Vec<f64>, bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    env.reset(seed);
    let mut rewards = Vec::new();
    loop {
        let action = random_action(env, &mut rng);
        let step = env.step(&action).unwrap();
        rewards.push(step.reward);
        if step.terminated || step.truncated {
            return (rewards, step.terminated);
        }
    }
}

/// The environment's equity after each step equals the backtest engine's equity when the same
/// decisions are replayed as a strategy: the environment trades through the same venue code.
fn replay_agrees(data: Vec<InstrumentData>, actions: ActionConfig, timing: FillTiming) {
    let n = data.len();
    let config = TradingEnvConfig {
        actions,
        risk: RiskConfig { max_drawdown: None, max_leverage: 1.0, max_position: 1.0 },
        ..TradingEnvConfig::default()
    };
    let mut e = env(data, config, timing, Split::Test);
    let (rewards, _) = random_episode(&mut e, 7);
    let stats = e.episode_stats().unwrap().clone();
    assert!(stats.trades > 20, "random actions trade: {stats:?}");
    let bars = e.market().bar_count();
    let mut weights = vec![None; bars];
    for (t, w) in e.decisions() {
        weights[t] = Some(w.to_vec());
    }
    let first = e.decisions().next().unwrap().0;
    // Hold flat after the episode: the replay's last decision closes the positions the same
    // way the environment would have at its next step, so compare only the episode's bars.
    let prepared: Vec<PreparedBars> = e.market().bars.clone();
    let mut strategy = TargetWeightsStrategy::new("replay", weights, n, e.config().rebalance_band);
    let result = run(&costs(n, timing), &prepared, &mut strategy).unwrap();
    let equity: Vec<f64> = result.equity_curve.iter().map(|s| s.equity).collect();
    // Log-return rewards (the default) add up to the log growth of the episode.
    let growth: f64 = rewards.iter().sum();
    let env_final = stats.final_equity;
    assert!((growth - (env_final / 100_000.0).ln()).abs() < 1e-9, "rewards {growth} vs equity growth");
    let backtest_final = equity[first + stats.steps];
    assert!(
        ((env_final - backtest_final) / backtest_final).abs() < 1e-9,
        "environment {env_final} vs backtest {backtest_final} after {} steps",
        stats.steps
    );
    for step in [1, stats.steps / 2] {
        assert!(equity[first + step].is_finite());
    }
}

#[test]
fn an_episode_replayed_through_the_backtest_engine_ends_with_the_same_equity() {
    replay_agrees(instruments("EURUSD.csv", &[]), ActionConfig::Discrete { levels: 2 }, FillTiming::Close);
    replay_agrees(instruments("EURUSD.csv", &[]), ActionConfig::Discrete { levels: 1 }, FillTiming::NextOpen);
    replay_agrees(
        instruments("SP500_STOCKS.csv", &["AAPL", "MSFT", "XOM"]),
        ActionConfig::Continuous,
        FillTiming::Close,
    );
}

#[test]
fn actions_map_to_target_weights_and_are_projected_onto_the_limits() {
    let e = env(instruments("EURUSD.csv", &[]), TradingEnvConfig::default(), FillTiming::Close, Split::Train);
    assert_eq!(e.action_space(), engine::rl::Space::Discrete(3));
    assert_eq!(e.target_weights(&Action::Discrete(0)), vec![-1.0]);
    assert_eq!(e.target_weights(&Action::Discrete(1)), vec![0.0]);
    assert_eq!(e.target_weights(&Action::Discrete(2)), vec![1.0]);
    let three = instruments("SP500_STOCKS.csv", &["AAPL", "MSFT", "XOM"]);
    let config = TradingEnvConfig {
        actions: ActionConfig::Discrete { levels: 2 },
        risk: RiskConfig { max_position: 0.5, max_leverage: 1.0, max_drawdown: None },
        ..TradingEnvConfig::default()
    };
    let e = env(three, config, FillTiming::Close, Split::Train);
    assert_eq!(e.action_space(), engine::rl::Space::Discrete(125), "5 exposure steps for each of 3 instruments");
    // Digits, first instrument least significant: (4, 2, 0) -> long, flat, short.
    let w = e.target_weights(&Action::Discrete(4 + 2 * 5));
    assert_eq!(w, vec![0.5, 0.0, -0.5]);
    // (4, 4, 3): 0.5 + 0.5 + 0.25 = 1.25 gross, scaled to the leverage limit 1.
    let w = e.target_weights(&Action::Discrete(4 + 4 * 5 + 3 * 25));
    let gross: f64 = w.iter().map(|x| x.abs()).sum();
    assert!((gross - 1.0).abs() < 1e-12 && (w[0] / w[2] - 2.0).abs() < 1e-12, "{w:?}");
    let config = TradingEnvConfig {
        actions: ActionConfig::Continuous,
        risk: RiskConfig { max_position: 1.0, max_leverage: 1.5, max_drawdown: None },
        ..TradingEnvConfig::default()
    };
    let e = env(instruments("SP500_STOCKS.csv", &["AAPL", "MSFT", "XOM"]), config, FillTiming::Close, Split::Train);
    assert_eq!(e.target_weights(&Action::Continuous(vec![1.0, 1.0, -1.0])), vec![0.5, 0.5, -0.5]);
}

#[test]
fn actions_outside_the_space_are_refused_with_the_space_and_the_value() {
    let mut e = env(instruments("EURUSD.csv", &[]), TradingEnvConfig::default(), FillTiming::Close, Split::Train);
    assert!(matches!(e.step(&Action::Discrete(1)), Err(RlError::NotReset { .. })));
    e.reset(1);
    let err = e.step(&Action::Discrete(3)).unwrap_err().to_string();
    assert!(err.contains("action 3") && err.contains("Discrete(3)"), "{err}");
    let err = e.step(&Action::Continuous(vec![0.5])).unwrap_err().to_string();
    assert!(err.contains("[0.5]") && err.contains("Discrete(3)"), "{err}");
    let config = TradingEnvConfig { actions: ActionConfig::Continuous, ..TradingEnvConfig::default() };
    let mut e = env(instruments("EURUSD.csv", &[]), config, FillTiming::Close, Split::Train);
    e.reset(1);
    let err = e.step(&Action::Continuous(vec![1.5])).unwrap_err().to_string();
    assert!(err.contains("[1.5]") && err.contains("Box(low=[-1.0], high=[1.0])"), "{err}");
    assert!(e.step(&Action::Continuous(vec![f64::NAN])).is_err());
}

#[test]
fn observations_at_a_bar_never_change_when_later_bars_change() {
    let full = instruments("EURUSD.csv", &[]);
    let config = TradingEnvConfig::default();
    let mut a = env(full, config.clone(), FillTiming::Close, Split::All);
    let cut = a.market().bar_count() / 2;
    // The same bars with everything after `cut` replaced by a wild path.
    let mut changed = instruments("EURUSD.csv", &[]);
    let bars = &mut changed[0].bars;
    for i in cut + 1..bars.len() {
        let factor: engine::domain::Decimal = "1.37".parse().unwrap();
        bars.open[i] *= factor;
        bars.high[i] *= factor;
        bars.low[i] *= factor;
        bars.close[i] *= factor;
    }
    let mut b = env(changed, config, FillTiming::Close, Split::All);
    let mut oa = a.reset(3);
    let mut ob = b.reset(3);
    let start = a.market().first_step;
    for t in start..cut {
        assert_eq!(oa, ob, "observation at bar {t}");
        let action = Action::Discrete(t % 3);
        let sa = a.step(&action).unwrap();
        let sb = b.step(&action).unwrap();
        if t + 1 < cut {
            assert_eq!(sa.reward, sb.reward, "reward of the step to bar {}", t + 1);
        }
        oa = sa.observation;
        ob = sb.observation;
    }
}

#[test]
fn the_drawdown_stop_ends_the_episode_flat() {
    let config = TradingEnvConfig {
        risk: RiskConfig { max_position: 1.0, max_leverage: 1.0, max_drawdown: Some(0.01) },
        ..TradingEnvConfig::default()
    };
    let mut e = env(instruments("SP500_STOCKS.csv", &["AAPL"]), config, FillTiming::Close, Split::Train);
    let mut stopped = 0;
    for seed in 0..5 {
        let (_, terminated) = random_episode(&mut e, seed);
        let stats = e.episode_stats().unwrap();
        if terminated {
            stopped += 1;
            assert!(stats.stopped_out && stats.max_drawdown >= 0.01, "{stats:?}");
        }
    }
    assert!(stopped >= 4, "a 1% drawdown stop ends random trading on AAPL early ({stopped} of 5)");
}

#[test]
fn episodes_report_their_statistics_and_training_episodes_start_at_random_bars() {
    let config = TradingEnvConfig { episode_length: Some(200), ..TradingEnvConfig::default() };
    let mut e = env(instruments("EURUSD.csv", &[]), config, FillTiming::Close, Split::Train);
    let (r1, _) = random_episode(&mut e, 11);
    let first = e.decisions().next().unwrap().0;
    let s = e.episode_stats().unwrap().clone();
    assert!(r1.len() <= 200 && s.steps == r1.len());
    assert!(s.turnover > 1.0 && s.trades > 10 && s.sharpe.is_finite() && s.sortino.is_finite());
    random_episode(&mut e, 12);
    assert_ne!(first, e.decisions().next().unwrap().0, "another seed, another start");
    random_episode(&mut e, 11);
    assert_eq!(first, e.decisions().next().unwrap().0, "the same seed, the same start");
    let train = e.market().split_range(Split::Train);
    assert!(train.contains(&first));
}

#[test]
fn bad_data_is_refused_at_construction() {
    let config = TradingEnvConfig::default();
    let short: Vec<InstrumentData> = instruments("BTCUSD.csv", &[])
        .into_iter()
        .map(|mut i| {
            i.bars.take_rows(&(0..40).collect::<Vec<_>>());
            i
        })
        .collect();
    let err = MarketData::new(short, &spec(), &config.observation, &config.split).err().unwrap().to_string();
    assert!(err.contains("40 bars are too few"), "{err}");
    let mut negative = instruments("EURUSD.csv", &[]);
    // A negative close has no log return: refused with the bar, before any feature hides it.
    negative[0].bars.close[3000] = "-1".parse().unwrap();
    let err = MarketData::new(negative, &spec(), &config.observation, &config.split).err().unwrap().to_string();
    assert!(err.contains("EURUSD") && err.contains("close -1") && err.contains("bar 3000"), "{err}");
    let observation = ObservationConfig { model: Some("/nonexistent/model".into()), ..ObservationConfig::default() };
    let market = MarketData::new(instruments("EURUSD.csv", &[]), &spec(), &observation, &config.split).unwrap();
    assert!(market.model_fallback.as_deref().unwrap_or("").contains("nonexistent"), "{:?}", market.model_fallback);
    assert_eq!(market.model_width(), 0);
}

/// A hybrid small enough to train for one epoch in a test.
const TINY_HYBRID: &str = r#"
name = "tiny"
seed = 3
[data]
path = "unused.csv"
[features]
[[features.feature]]
name = "roc"
period = 1
[[features.feature]]
name = "rsi"
period = 5
[features.labels]
kind = "fixed_horizon"
horizon = 1
buy_threshold = 0.0
sell_threshold = 0.0
[dataset]
window = 8
[model]
architecture = "hybrid"
fusion_heads = 2
fused_dim = 16
dropout = 0.1
[model.cnn]
channels = 8
model_dim = 16
heads = 2
[model.lstm]
hidden = 16
model_dim = 16
[training]
epochs = 1
batch_size = 64
"#;

#[test]
fn a_trained_hybrid_s_fused_features_are_observed_and_never_see_later_bars() {
    use candle_core::Device;
    use engine::data::series::FloatBars;
    use engine::models::pipeline::{model_windows, prepare, run_experiment};
    use engine::models::train::{Quiet, TrainOptions};
    use engine::models::{ExperimentSpec, checkpoint, fused_features};

    let mut data = instruments("EURUSD.csv", &[]);
    data[0].bars.take_rows(&(0..900).collect::<Vec<_>>());
    let bars = FloatBars::from_series(&data[0].bars);
    let model_spec = ExperimentSpec::parse(TINY_HYBRID, std::path::Path::new("tiny.toml")).unwrap();
    let prepared = prepare(&model_spec, "EURUSD", &bars, "EURUSD.csv").unwrap();
    let options = TrainOptions { checkpoint_dir: None, resume: false };
    let trained = run_experiment(&model_spec, &prepared, &Device::Cpu, &options, &mut Quiet).unwrap();
    let dir = tempfile::tempdir().unwrap();
    checkpoint::save_model(dir.path(), &trained.network, &trained.card).unwrap();

    let observation = |passes: usize| ObservationConfig {
        window: 8,
        model: Some(dir.path().to_path_buf()),
        mc_passes: passes,
        ..ObservationConfig::default()
    };
    let split = TradingEnvConfig::default().split;
    let market = MarketData::new(data.clone(), &spec(), &observation(1), &split).unwrap();
    assert_eq!(market.model_fallback, None);
    assert_eq!(market.model_width(), 2 * 16, "the fused vector and its spread");
    let plain = MarketData::new(
        data.clone(),
        &spec(),
        &ObservationConfig { window: 8, ..ObservationConfig::default() },
        &split,
    )
    .unwrap();
    let config = TradingEnvConfig { observation: observation(1), ..TradingEnvConfig::default() };
    let with_model = TradingEnv::new(Arc::new(market), config, costs(1, FillTiming::NextOpen), Split::Test).unwrap();
    let config = TradingEnvConfig {
        observation: ObservationConfig { window: 8, ..ObservationConfig::default() },
        ..TradingEnvConfig::default()
    };
    let without = TradingEnv::new(Arc::new(plain), config, costs(1, FillTiming::NextOpen), Split::Test).unwrap();
    assert_eq!(with_model.observation_space().dim(), without.observation_space().dim() + 32);

    // At bar t the observed model features are the model's fused vector of the window ending at t.
    let market = with_model.market();
    let t = market.split_range(Split::Test).start + 5;
    let mut observed = Vec::new();
    market.push_model(t, &mut observed);
    let windows = model_windows(&trained.card, "EURUSD", &bars).unwrap();
    let end = windows.window_ends().into_iter().find(|&e| windows.times[e] == bars.ts[t]).unwrap();
    let fused = fused_features(&trained.network, &windows.windows(&[end], &Device::Cpu).unwrap(), 1, 0).unwrap();
    let mean: Vec<f32> = fused.mean.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(observed.len(), 32);
    for (got, want) in observed[..16].iter().zip(&mean) {
        assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{got} vs {want}");
    }
    assert!(observed[16..].iter().all(|s| *s == 0.0), "one deterministic pass has no spread");
    assert!(mean.iter().any(|v| v.abs() > 1e-6), "a fused vector of zeros would prove nothing");

    // Later bars changed: the model features up to t stay the same, bit for bit.
    let mut altered = data.clone();
    for i in t + 1..altered[0].bars.len() {
        let b = &mut altered[0].bars;
        for col in [&mut b.open, &mut b.high, &mut b.low, &mut b.close] {
            col[i] *= rust_decimal::Decimal::new(97, 2);
        }
    }
    let changed = MarketData::new(altered, &spec(), &observation(1), &split).unwrap();
    for s in market.split_range(Split::Train).start..=t {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        market.push_model(s, &mut a);
        changed.push_model(s, &mut b);
        assert_eq!(a, b, "the model features at bar {s} saw bars after {t}");
    }

    // Several dropout passes give a spread.
    let mc = MarketData::new(data, &spec(), &observation(4), &split).unwrap();
    let mut sampled = Vec::new();
    mc.push_model(t, &mut sampled);
    assert!(sampled[16..].iter().any(|s| *s > 0.0), "MC dropout spread: {:?}", &sampled[16..]);
}
