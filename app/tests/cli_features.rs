//! `sextant features` as a user runs it: a quick indicator list to CSV, a spec with normalisers
//! and labels to Parquet with its lineage sidecar, several instruments with a cross-asset feature,
//! catalog symbols, the feature list, and refusals that name the feature.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{ok, run, sample};

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

#[test]
fn the_issue_example_list_gives_named_columns_with_empty_warm_up_cells() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("goog_features.csv");
    let list =
        "sma:20,ema:20,rsi:14,macd:12:26:9,bbands:20:2,atr:14,obv,adx:14,stoch:14:3:3,cci:20,willr:14,mfi:14,roc:10";
    let text = ok(
        dir.path(),
        &[
            "features",
            "--data",
            sample("GOOG.csv").to_str().unwrap(),
            "--indicators",
            list,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(text.starts_with("wrote 2148 rows x 20 feature columns"), "{text}");
    let (header, rows) = read_csv(&out);
    assert_eq!(
        header,
        [
            "timestamp",
            "sma_20",
            "ema_20",
            "rsi_14",
            "macd_12_26_9",
            "macd_12_26_9_signal",
            "macd_12_26_9_hist",
            "bbands_20_2_upper",
            "bbands_20_2_middle",
            "bbands_20_2_lower",
            "atr_14",
            "obv",
            "adx_14",
            "adx_14_plus_di",
            "adx_14_minus_di",
            "stoch_14_3_3_k",
            "stoch_14_3_3_d",
            "cci_20",
            "willr_14",
            "mfi_14",
            "roc_10"
        ]
    );
    assert_eq!(rows.len(), 2148);
    assert_eq!(rows[0][0], "2004-08-19T00:00:00Z");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let leading_empty = |name: &str| rows.iter().take_while(|r| r[col(name)].is_empty()).count();
    assert_eq!(leading_empty("sma_20"), 19);
    assert_eq!(leading_empty("macd_12_26_9"), 33);
    assert_eq!(leading_empty("adx_14"), 27);
    assert_eq!(leading_empty("adx_14_plus_di"), 14);
    assert_eq!(leading_empty("obv"), 0);
    // The first SMA is the mean of the first 20 closes of the file.
    let (_, input) = read_csv(&sample("GOOG.csv"));
    let mean: f64 = input[..20].iter().map(|r| r[4].parse::<f64>().unwrap()).sum::<f64>() / 20.0;
    let sma: f64 = rows[19][col("sma_20")].parse().unwrap();
    assert!((sma - mean).abs() < 1e-9 * mean, "{sma} vs {mean}");
}

#[test]
fn a_spec_writes_parquet_with_labels_and_its_hash_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        r#"
name = "swing"
[[feature]]
name = "rsi"
[[feature]]
name = "wavelet_energy"
level = 2
window = 32
[[normalise]]
method = "rolling_zscore"
window = 50
columns = ["rsi_14"]
[labels]
kind = "triple_barrier"
horizon = 10
profit_take = 2.0
stop_loss = 1.0
vol_period = 20
min_return = 0.0
"#,
    )
    .unwrap();
    let out = dir.path().join("sp500.parquet");
    let text = ok(
        dir.path(),
        &[
            "features",
            "--data",
            sample("SP500.csv").to_str().unwrap(),
            "--spec",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(text.contains("5031 rows x 4 feature columns + 1 label(s)"), "{text}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("sp500.parquet.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["time_column"], "Date");
    assert_eq!(
        meta["feature_columns"],
        serde_json::json!([
            "rsi_14",
            "wavelet_energy_db4_2_32_returns_a2",
            "wavelet_energy_db4_2_32_returns_d2",
            "wavelet_energy_db4_2_32_returns_d1"
        ])
    );
    assert_eq!(meta["label_columns"], serde_json::json!(["label_triple_barrier_10_2_1_20"]));
    assert_eq!(meta["label_horizons"], serde_json::json!([10]));
    assert_eq!(meta["spec_hash"].as_str().unwrap().len(), 64);
    assert!(text.contains(&meta["spec_hash"].as_str().unwrap()[..12]));
    assert!(std::fs::metadata(&out).unwrap().len() > 10_000);
}

#[test]
fn several_instruments_stack_with_a_symbol_column_and_cross_asset_features() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("panel.csv");
    ok(
        dir.path(),
        &[
            "features",
            "--data",
            sample("SP500_STOCKS.csv").to_str().unwrap(),
            "--indicators",
            "rsi:14,corr:XOM:60",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let (header, rows) = read_csv(&out);
    assert_eq!(header, ["Date", "symbol", "rsi_14", "corr_xom_60_returns"]);
    assert_eq!(rows.len(), 20 * 8313);
    let xom: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == "XOM").collect();
    // XOM against itself: every defined correlation is 1.
    let defined: Vec<f64> = xom.iter().filter(|r| !r[3].is_empty()).map(|r| r[3].parse().unwrap()).collect();
    assert_eq!(defined.len(), 8313 - 60);
    assert!(defined.iter().all(|c| (c - 1.0).abs() < 1e-9));
}

#[test]
fn catalog_symbols_work_like_files() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["data", "import", sample("EURUSD.csv").to_str().unwrap()]);
    let out = dir.path().join("eurusd.csv");
    let text = ok(
        dir.path(),
        &[
            "features",
            "--data",
            "EURUSD",
            "--indicators",
            "vwap:Europe/London,rolling_vwap:24",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(text.starts_with("wrote 5000 rows x 2 feature columns"), "{text}");
}

#[test]
fn the_list_shows_every_feature_and_bad_requests_name_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let list = ok(dir.path(), &["features", "list"]);
    for name in
        ["sma", "macd", "stochrsi", "keltner", "garman_klass", "wavelet_energy", "hurst_rs", "coint", "lead_lag"]
    {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name} missing from:\n{list}");
    }
    let json: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["features", "list", "--json"])).unwrap();
    let macd = json.as_array().unwrap().iter().find(|f| f["name"] == "macd").unwrap();
    assert_eq!(macd["params"][1]["name"], "slow");
    assert_eq!(macd["params"][1]["default"], "26");
    assert_eq!(macd["talib"], "MACD");

    let out = dir.path().join("x.csv");
    let goog = sample("GOOG.csv");
    for (list, expected) in [
        ("sma:0", "sma: parameter `period` must be at least 1, got 0"),
        ("macd:26:12:9", "macd: parameter `slow` must be above fast (26), got 12"),
        ("corr:NOPE:20", "the peer NOPE is not among the instruments given"),
    ] {
        let res = run(
            dir.path(),
            &["features", "--data", goog.to_str().unwrap(), "--indicators", list, "--out", out.to_str().unwrap()],
        );
        assert!(!res.status.success());
        let stderr = String::from_utf8_lossy(&res.stderr);
        assert!(stderr.contains(expected), "{list}: {stderr}");
        assert!(!out.exists(), "nothing is written when a feature is refused");
    }
}
