//! `sextant backtest` as a user runs it: the Quick Start strategy on GOOG with its statistics,
//! JSON and the HTML report, walk-forward with a parameter grid, and refused input.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ok, run, sample};
use engine::domain::Decimal;

#[test]
fn the_quick_start_strategy_prints_backtesting_py_figures_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let goog = sample("GOOG.csv");
    let report = dir.path().join("goog.html");
    let text = ok(
        dir.path(),
        &[
            "backtest",
            "--data",
            goog.to_str().unwrap(),
            "--strategy",
            "sma_cross",
            "--set",
            "fast=10",
            "--set",
            "slow=20",
            "--cash",
            "10000",
            "--commission",
            "0.002",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(text.starts_with("sma_cross on GOOG (2148 bars"), "{text}");
    // backtesting.py 0.6.6 prints Return [%] 462.635193 and # Trades 93 for the same run.
    assert!(text.lines().any(|l| l.trim_start().starts_with("return_pct") && l.contains("462.6352")), "{text}");
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("n_trades") && l.trim_end().ends_with("93.0000")),
        "{text}"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg") && html.contains("Trades (93)"));

    let json: serde_json::Value = serde_json::from_str(&ok(
        dir.path(),
        &["backtest", "--data", goog.to_str().unwrap(), "--strategy", "buy_and_hold", "--json"],
    ))
    .unwrap();
    assert_eq!(json["strategy"], "buy_and_hold");
    assert_eq!(json["equity_curve"].as_array().unwrap().len(), 2148);
    assert_eq!(json["open_positions"][0]["symbol"], "GOOG");

    let sig = ok(
        dir.path(),
        &[
            "backtest",
            "--data",
            goog.to_str().unwrap(),
            "--significance",
            "500",
            "--seed",
            "7",
            "--commission",
            "0.002",
        ],
    );
    let sig_report = dir.path().join("tested.html");
    let again = ok(
        dir.path(),
        &[
            "backtest",
            "--data",
            goog.to_str().unwrap(),
            "--significance",
            "500",
            "--seed",
            "7",
            "--commission",
            "0.002",
            "--report",
            sig_report.to_str().unwrap(),
        ],
    );
    let tail = |t: &str| {
        t.lines().filter(|l| l.contains("significance") || l.contains(" p = ")).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(tail(&sig).len(), 3, "{sig}");
    assert_eq!(tail(&sig), tail(&again), "seeded: the same seed gives the same figures");
    // The report carries the same tests with the same figures.
    let html = std::fs::read_to_string(&sig_report).unwrap();
    let p = sig.lines().find_map(|l| l.split("sign-flip p = ").nth(1)).unwrap().trim();
    assert!(html.contains("<h2>Significance</h2>"), "{html}");
    assert!(html.contains(&format!("p = {p} (")), "the report's sign-flip p-value is the CLI's {p}");
    assert!(!std::fs::read_to_string(&report).unwrap().contains("Significance"), "asked for only with --significance");
}

#[test]
fn walk_forward_refits_the_grid_on_each_window() {
    let dir = tempfile::tempdir().unwrap();
    let text = ok(
        dir.path(),
        &[
            "backtest",
            "walk-forward",
            "--data",
            sample("SP500.csv").to_str().unwrap(),
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10,20",
            "--grid",
            "slow=30,50",
            "--train",
            "1000",
            "--test",
            "500",
        ],
    );
    let windows: Vec<&str> = text.lines().filter(|l| l.contains("fast=")).collect();
    // 5,031 bars: windows start at 0, 500, ... while a full test window fits.
    assert_eq!(windows.len(), 8, "{text}");
    assert!(text.contains("out-of-sample return over 8 windows"), "{text}");
    // Each window reports its in-sample choice deflated for the six configurations tried: a probability.
    for w in &windows {
        let dsr: f64 = w.split_whitespace().rev().nth(2).unwrap().parse().unwrap();
        assert!((0.0..=1.0).contains(&dsr), "{w}");
    }
}

#[test]
fn bad_strategy_input_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let goog = sample("GOOG.csv");
    for (args, expected) in [
        (vec!["--strategy", "moon"], "no strategy named `moon`"),
        (
            vec!["--strategy", "sma_cross", "--set", "fast=30", "--set", "slow=20"],
            "sma_cross: parameter `slow`: must be above fast",
        ),
        (vec!["--strategy", "sma_cross", "--set", "speed=3"], "sma_cross: parameter `speed`: unknown"),
        (vec!["--fill", "noon"], "--fill noon: use next_open or close"),
    ] {
        let mut full = vec!["backtest", "--data", goog.to_str().unwrap()];
        full.extend(args);
        let out = run(dir.path(), &full);
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{full:?}: {stderr}");
    }
}

/// Quotes one second apart from 2024-01-02 00:00 UTC, the mid wandering around 100 in cents.
fn quote_file(path: &std::path::Path, n: usize) -> Vec<(i64, i64)> {
    let mut text = String::from("timestamp,bid,ask,bid_size,ask_size\n");
    let mut quotes = Vec::new();
    for i in 0..n {
        let mid = 10_000 + ((i as i64 * 37) % 101) - 50;
        let (bid, ask) = (mid - 1, mid + 1);
        let cents = |c: i64| format!("{}.{:02}", c / 100, c % 100);
        text.push_str(&format!(
            "2024-01-02T00:{:02}:{:02}Z,{},{},1000000,1000000\n",
            i / 60,
            i % 60,
            cents(bid),
            cents(ask)
        ));
        quotes.push((bid, ask));
    }
    std::fs::write(path, text).unwrap();
    quotes
}

#[test]
fn a_tick_file_is_backtested_at_the_touch_with_bars_built_from_the_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("XYZ.csv");
    let quotes = quote_file(&path, 600);
    let ticks = path.to_str().unwrap();
    let text = ok(dir.path(), &["backtest", "--ticks", ticks, "--bar", "1m", "--strategy", "buy_and_hold"]);
    assert!(text.starts_with("buy_and_hold on XYZ (600 ticks, 10 bars of 1m"), "{text}");

    let json: serde_json::Value = serde_json::from_str(&ok(
        dir.path(),
        &["backtest", "--ticks", ticks, "--bar", "1m", "--strategy", "buy_and_hold", "--json"],
    ))
    .unwrap();
    // The strategy sees the first minute's bar when it ends; its order takes the ask of the
    // quote that ends it (the 61st), all in: whole units of 10,000 at that ask.
    let decimal = |v: &serde_json::Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
    let ask = Decimal::new(quotes[60].1, 2);
    let fill = &json["fills"][0];
    assert_eq!(decimal(&fill["price"]), ask);
    let units = (Decimal::from(10_000) / ask).floor();
    assert_eq!(decimal(&fill["quantity"]), units);
    assert_eq!(json["equity_curve"].as_array().unwrap().len(), 10);
    // Marked at the last mid.
    let (bid, last_ask) = quotes[599];
    let mid = Decimal::new(bid + last_ask, 2) / Decimal::TWO;
    assert_eq!(decimal(&json["final_equity"]), Decimal::from(10_000) - units * ask + units * mid);

    // A crossed quote is refused with its file, line and column; --ticks and --data exclude each other.
    std::fs::write(&path, "timestamp,bid,ask,bid_size,ask_size\n2024-01-02T00:00:00Z,10.5,10.4,1,1\n").unwrap();
    let out = run(dir.path(), &["backtest", "--ticks", ticks]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("XYZ.csv:2: column `bid`: bid 10.5 is above ask 10.4"),
        "{stderr}"
    );
    let out = run(dir.path(), &["backtest", "--ticks", ticks, "--data", "GOOG"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
