//! The `sextant` binary as a user runs it: importing every sample file with no options,
//! inspecting reports, refusing bad input, resampling, synthesising and logging as JSON.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Output;

use common::sample;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn run(&self, args: &[&str]) -> Output {
        common::run(self.dir.path(), args)
    }

    fn ok(&self, args: &[&str]) -> String {
        common::ok(self.dir.path(), args)
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn every_sample_file_imports_with_no_options() {
    let env = Env::new();
    let files: Vec<String> = ["GOOG.csv", "EURUSD.csv", "BTCUSD.csv", "SP500.csv", "SP500_STOCKS.csv"]
        .iter()
        .map(|f| sample(f).display().to_string())
        .collect();
    let mut args = vec!["data", "import", "--json"];
    args.extend(files.iter().map(String::as_str));
    let summaries = json(&env.ok(&args));
    let summaries = summaries.as_array().unwrap();
    assert_eq!(summaries.len(), 4 + 20);
    let find = |sym: &str| summaries.iter().find(|s| s["symbol"] == sym).unwrap_or_else(|| panic!("{sym} missing"));
    assert_eq!(find("GOOG")["timeframe"], "1d");
    assert_eq!(find("EURUSD")["timeframe"], "1h");
    assert_eq!(find("BTCUSD")["timeframe"], "1mo");
    assert_eq!(find("SP500")["rows_read"], 5031);
    assert_eq!(find("MSFT")["dataset"]["fields"], "close_only");
    let listed = json(&env.ok(&["data", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 24);
    assert!(
        listed.as_array().unwrap().iter().all(|d| d["quality_confidence"].is_number()),
        "every import records a quality score"
    );
}

#[test]
fn inspect_respects_each_market_calendar() {
    let env = Env::new();
    env.ok(&[
        "data",
        "import",
        sample("GOOG.csv").to_str().unwrap(),
        sample("EURUSD.csv").to_str().unwrap(),
        sample("BTCUSD.csv").to_str().unwrap(),
    ]);
    let goog = json(&env.ok(&["data", "inspect", "GOOG", "--json"]));
    let goog = &goog[0];
    assert_eq!(goog["calendar"], "us_equity");
    assert_eq!(goog["missing_bars"], 0, "GOOG: weekends and NYSE holidays are not gaps: {goog}");
    let eurusd = &json(&env.ok(&["data", "inspect", "EURUSD", "--json"]))[0];
    assert_eq!(eurusd["calendar"], "forex");
    assert_eq!(eurusd["missing_bars"], 0, "EURUSD: the weekend closure is respected: {eurusd}");
    // The same daily GOOG bars judged as crypto (always open) have every weekend missing.
    let as_crypto =
        &json(&env.ok(&["data", "inspect", sample("GOOG.csv").to_str().unwrap(), "--calendar", "crypto", "--json"]))[0];
    assert!(as_crypto["missing_bars"].as_u64().unwrap() > 800, "{as_crypto}");
    let text = env.ok(&["data", "inspect", "GOOG"]);
    assert!(text.contains("GOOG") && text.contains("confidence"), "{text}");
}

#[test]
fn bad_input_is_refused_with_file_line_and_column() {
    let env = Env::new();
    let bad = env.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10,11,9,NaN,100\n2024-01-04,10,11,9,10.5,100\n2024-01-05,10,11,9,10.5,100\n",
    )
    .unwrap();
    let out = env.run(&["data", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.csv:3") && stderr.contains("`Close`") && stderr.contains("NaN"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let listed = json(&env.ok(&["data", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 0, "nothing half-written");

    let people = env.dir.path().join("people.csv");
    std::fs::write(&people, "name,age\nann,31\n").unwrap();
    let out = env.run(&["data", "import", people.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("not an OHLCV file"), "{stderr}");

    // Inspecting the bad file (without importing) reports the rejected row instead of failing.
    let report = &json(&env.ok(&["data", "inspect", bad.to_str().unwrap(), "--json"]))[0];
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["lines"].as_array().is_some_and(|l| l.contains(&serde_json::json!(3)))),
        "{report}"
    );
}

#[test]
fn resample_and_query_round_trip_through_the_catalog() {
    let env = Env::new();
    env.ok(&["data", "import", sample("EURUSD.csv").to_str().unwrap()]);
    let out = env.ok(&["data", "resample", "EURUSD", "--to", "1d"]);
    assert!(out.contains("1h -> 1d"), "{out}");
    let csv = env.ok(&["data", "query", "EURUSD", "--timeframe", "1d", "--from", "2017-04-24", "--to", "2017-04-24"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].starts_with("2017-04-24T00:00:00Z,"), "{csv}");
    // Monday's forex day runs from Sunday 21:00 UTC (17:00 New York, daylight time) to Monday 21:00.
    let hourly = env.ok(&[
        "data",
        "query",
        "EURUSD",
        "--timeframe",
        "1h",
        "--from",
        "2017-04-23T21:00:00Z",
        "--to",
        "2017-04-24T20:00:00Z",
    ]);
    let hours: Vec<Vec<&str>> = hourly.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let day: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(day[1], hours[0][1], "open is the first hour's open");
    assert_eq!(day[4], hours[hours.len() - 1][4], "close is the last hour's close");
    let max_high = hours.iter().map(|h| h[2].parse::<f64>().unwrap()).fold(f64::MIN, f64::max);
    assert_eq!(day[2].parse::<f64>().unwrap(), max_high);
}

#[test]
fn synthetic_data_is_seeded_and_importable() {
    let env = Env::new();
    let a = env.dir.path().join("a.csv");
    let b = env.dir.path().join("b.csv");
    env.ok(&["data", "synth", "--bars", "5000", "--seed", "7", "--out", a.to_str().unwrap()]);
    env.ok(&["data", "synth", "--bars", "5000", "--seed", "7", "--out", b.to_str().unwrap()]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same seed, same bytes");
    let summaries =
        json(&env.ok(&["data", "import", "--json", "--symbol", "SYN", "--asset-class", "crypto", a.to_str().unwrap()]));
    assert_eq!(summaries[0]["rows_added"], 5000);
    assert_eq!(summaries[0]["timeframe"], "1m");
}

#[test]
fn logs_can_be_json_and_configuration_errors_name_the_key() {
    let env = Env::new();
    let out = env.run(&["--log-format", "json", "--log-level", "debug", "data", "list"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or_else(|| panic!("no log lines: {stderr}"));
    let line = json(first);
    assert!(line["level"].is_string() && line["timestamp"].is_string(), "{first}");

    std::fs::write(env.dir.path().join("sextant.toml"), "[default.server]\nport = 0\n").unwrap();
    let out = env.run(&["data", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("server.port"), "{stderr}");
}

/// The README's main job (`scripts/run.sh` builds, then runs exactly this) on a clean data
/// folder: every sample series imported and reported; a second run adds no bars.
#[test]
fn the_demo_imports_the_samples_and_prints_their_reports() {
    let env = Env::new();
    let sample_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample");
    let args = ["demo", "--brief", "--sample-dir", sample_dir.to_str().unwrap()];
    let first = env.ok(&args);
    for symbol in ["GOOG", "EURUSD", "BTCUSD", "SP500", "AAPL", "XOM"] {
        assert!(first.lines().any(|l| l.starts_with(symbol)), "no report line for {symbol}:\n{first}");
    }
    assert!(first.contains("24 series imported"), "{first}");
    assert!(env.dir.path().join("data/sextant.db").is_file(), "the SQLite catalog index lives in the data folder");
    let again = env.ok(&args);
    assert!(again.contains("(0 new bars)"), "{again}");
}
