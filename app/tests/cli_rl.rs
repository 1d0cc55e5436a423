//! `sextant rl train` and `sextant rl evaluate` as a user runs them with the shipped specs: the
//! agent folder, the tracked run and registered version, an evaluation whose backtest replay
//! ends at the environment's equity, and specs refused before training.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{ok, run, sample};

fn shipped(spec: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/specs").join(spec)
}

#[test]
fn rl_train_tracks_and_registers_and_evaluate_replays_through_the_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("agent");
    let spec = shipped("ppo_eurusd_hourly.toml");
    let text = ok(
        dir.path(),
        &["rl", "train", "--spec", spec.to_str().unwrap(), "--steps", "4096", "--out", out.to_str().unwrap()],
    );
    assert!(text.contains("ppo-eurusd-hourly: ppo on EURUSD (5000 aligned bars"), "{text}");
    assert!(text.contains("test, buy and hold") && text.contains("registered ppo-eurusd-hourly version 1"), "{text}");
    let card: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("agent.json")).unwrap()).unwrap();
    assert_eq!(card["format"], "sextant-rl-agent/1");
    assert_eq!(card["algorithm"], "ppo");
    assert_eq!(card["total_steps"], 4096);
    assert_eq!(card["action_space"]["Discrete"], 3);
    assert!(card["test"]["steps"].as_u64().unwrap() > 700);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("data/sextant.db").display());
        let store = registry::TrackingStore::new(engine::storage::Database::connect(&url).await.unwrap());
        let experiment = store.experiment_by_name("RL: PPO EURUSD hourly").await.unwrap().unwrap();
        let runs = store.runs_of(&[experiment.experiment_id], "ACTIVE_ONLY").await.unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run.status, "FINISHED");
        assert_eq!(run.tags["sextant.algorithm"], "ppo");
        assert_eq!(run.tags["sextant.feature_spec_hash"], card["feature_spec_hash"].as_str().unwrap());
        assert_eq!(run.params["total_steps"], "4096");
        let sharpe = run.metrics["test_sharpe"].value;
        assert!((sharpe - card["test"]["sharpe"].as_f64().unwrap()).abs() < 1e-9);
        assert!(run.metrics.contains_key("test_buy_and_hold_return"));
        let versions = store.search_model_versions(Some("ppo-eurusd-hourly")).await.unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].run_id, run.run_id);
    });

    let decisions = dir.path().join("decisions.csv");
    let eurusd = sample("EURUSD.csv");
    let text = ok(
        dir.path(),
        &[
            "rl",
            "evaluate",
            "--agent",
            out.to_str().unwrap(),
            "--data",
            eurusd.to_str().unwrap(),
            "--out",
            decisions.to_str().unwrap(),
        ],
    );
    let line = text.lines().find(|l| l.starts_with("backtest replay")).unwrap();
    let numbers: Vec<&str> =
        line.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter(|s| s.contains('.')).collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert_eq!(numbers[0], numbers[1], "the backtest replay ends where the environment did: {line}");
    let agent_line = text.lines().find(|l| l.starts_with("agent ")).unwrap();
    let expected = format!("{:.2}%", card["test"]["total_return"].as_f64().unwrap() * 100.0);
    assert!(agent_line.contains(&expected), "evaluation repeats the card's test figures: {agent_line} vs {expected}");
    let csv = std::fs::read_to_string(&decisions).unwrap();
    assert!(csv.starts_with("timestamp,weight_EURUSD\n"));
    assert_eq!(csv.lines().count() as u64, card["test"]["steps"].as_u64().unwrap() + 1);

    // An ensemble of the agent with itself acts as the agent: the same figures, whatever the
    // Thompson draws pick, and weights that stay a distribution.
    let text = ok(
        dir.path(),
        &[
            "rl",
            "ensemble",
            "--agent",
            out.to_str().unwrap(),
            "--agent",
            out.to_str().unwrap(),
            "--data",
            eurusd.to_str().unwrap(),
            "--weighting",
            "thompson",
            "--every",
            "5",
        ],
    );
    let figures = |prefix: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix) && l.contains(" return "))
            .unwrap_or_else(|| panic!("no {prefix} line: {text}"));
        line.split_once("return").unwrap().1.to_string()
    };
    assert!(text.starts_with("ensemble of 2 agents on EURUSD Test split"), "{text}");
    assert_eq!(figures("ensemble"), figures("#1 ppo-eurusd-hourly (ppo)"), "{text}");
    assert_eq!(figures("#2 ppo-eurusd-hourly (ppo)"), figures("#1 ppo-eurusd-hourly (ppo)"), "{text}");
    assert_eq!(figures("ensemble"), agent_line.split_once("return").unwrap().1, "as `rl evaluate` judged it alone");
    let means: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("weight of"))
        .map(|l| l.split("mean ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(means.len(), 2);
    assert!((means.iter().sum::<f64>() - 1.0).abs() < 2e-3, "{means:?}");
    let refused = run(
        dir.path(),
        &[
            "rl",
            "ensemble",
            "--agent",
            out.to_str().unwrap(),
            "--weighting",
            "vote",
            "--data",
            eurusd.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--weighting vote: expected fixed"));
}

#[test]
fn rl_specs_are_refused_before_training_with_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(shipped("sac_three_stocks_daily.toml"))
        .unwrap()
        .replace("data/sample/SP500_STOCKS.csv", sample("SP500_STOCKS.csv").to_str().unwrap());
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("kind = \"continuous\"", "kind = \"discrete\"\nlevels = 1")).unwrap();
    let out = run(dir.path(), &["rl", "train", "--spec", bad.to_str().unwrap(), "--no-tracking"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("bad.toml") && err.contains("environment.actions") && err.contains("continuous"), "{err}");
    std::fs::write(
        &bad,
        text.replace("instruments = [\"AAPL\", \"MSFT\", \"XOM\"]", "instruments = [\"AAPL\", \"NOPE\"]"),
    )
    .unwrap();
    let out = run(dir.path(), &["rl", "train", "--spec", bad.to_str().unwrap(), "--no-tracking"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("instrument NOPE is not in the data"), "{err}");
    assert!(!dir.path().join("data/agents").exists(), "nothing is written for a refused spec");
}
