//! Features benchmark: batch throughput of every indicator that TA-Lib has, against TA-Lib (its
//! C library through the Python wheel) on the same 10-million-point series in the same run, and
//! the whole default spec (30+ feature columns) over one million bars on one core.
//!
//! `cargo bench --workspace --bench features` (env: SEXTANT_BENCH_POINTS, SEXTANT_BENCH_REPEATS,
//! SEXTANT_BENCH_PYTHON). Prints medians, ratio first (TA-Lib time / ours: above 1 means faster).
//! The two sides take turns, one round of every indicator each, so that both are timed through
//! the same spells of a shared machine's noise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The allocator the sextant binary uses, so the figures are what users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{env_usize, median, write_raw_columns};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use engine::data::FloatBars;
use engine::features::indicators::BarColumns;
use engine::features::{FeatureSpec, InstrumentBars, parse_indicator_list};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// A seeded random walk of minute bars with a realistic spread of ranges and volumes.
fn random_walk(n: usize) -> FloatBars {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let step = Normal::new(0.0, 0.001).unwrap();
    let mut s = FloatBars::default();
    let mut price = 100.0f64;
    for i in 0..n {
        let open = price;
        let close = open * (1.0 + step.sample(&mut rng));
        let wick = step.sample(&mut rng).abs();
        s.ts.push(1_600_000_000_000_000_000 + i as i64 * 60_000_000_000);
        s.open.push(open);
        s.high.push(open.max(close) * (1.0 + wick));
        s.low.push(open.min(close) * (1.0 - wick));
        s.close.push(close);
        s.volume.push((1000.0 * (1.0 + 10.0 * wick)).round());
        price = close;
    }
    s
}

fn talib_reference(python: &str, raw: &Path, n: usize, repeats: usize) -> Option<(String, BTreeMap<String, f64>)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/talib_features.py");
    let out = Command::new(python).arg(script).arg(raw).arg(n.to_string()).arg(repeats.to_string()).output().ok()?;
    if !out.status.success() {
        eprintln!("TA-Lib reference failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let seconds = v["seconds"].as_object()?.iter().map(|(k, s)| (k.clone(), s.as_f64().unwrap_or(f64::NAN))).collect();
    Some((v["talib"].as_str().unwrap_or("?").to_string(), seconds))
}

fn main() {
    // One core, as the goal is stated; rayon must not spread the default spec over more.
    rayon::ThreadPoolBuilder::new().num_threads(1).build_global().ok();
    let n = env_usize("SEXTANT_BENCH_POINTS", 10_000_000);
    let repeats = env_usize("SEXTANT_BENCH_REPEATS", 5);
    let python = std::env::var("SEXTANT_BENCH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    eprintln!("generating {n} bars ...");
    let series = random_walk(n);
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("series.f64");
    write_raw_columns(&raw, &[&series.open, &series.high, &series.low, &series.close, &series.volume]).unwrap();
    let cases = [
        "sma:20",
        "ema:20",
        "wma:20",
        "dema:20",
        "tema:20",
        "rsi:14",
        "macd:12:26:9",
        "bbands:20:2",
        "atr:14",
        "natr:14",
        "obv",
        "stoch:14:3:3",
        "stochrsi:14:5:3",
        "adx:14",
        "cci:20",
        "mfi:14",
        "willr:14",
        "roc:10",
        "mom:10",
        "donchian:20",
    ];
    // SEXTANT_BENCH_ONLY=willr,donchian times only those (prefix of the case) and skips the
    // default spec, for profiling one indicator.
    let only = std::env::var("SEXTANT_BENCH_ONLY").unwrap_or_default();
    let cases: Vec<&str> = cases
        .into_iter()
        .filter(|case| only.is_empty() || only.split(',').any(|o| case.starts_with(o.trim())))
        .collect();
    let bars = series.columns();
    let mut features: Vec<_> =
        cases.iter().map(|case| parse_indicator_list(case).unwrap().remove(0).build().unwrap()).collect();
    // A first untimed pass, as the reference script warms each function up.
    for feature in &mut features {
        std::hint::black_box(feature.compute(&bars).unwrap());
    }
    let mut ours: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut theirs: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut version = None;
    for round in 0..repeats {
        eprintln!("round {} of {repeats}: TA-Lib ({python}), then ours ...", round + 1);
        if let Some((v, seconds)) = talib_reference(&python, &raw, n, 1) {
            version = Some(v);
            for (case, s) in seconds {
                theirs.entry(case).or_default().push(s);
            }
        }
        for (feature, times) in features.iter_mut().zip(&mut ours) {
            let t = Instant::now();
            let out = feature.compute(&bars).unwrap();
            times.push(t.elapsed().as_secs_f64());
            std::hint::black_box(out);
        }
    }
    println!("features benchmark: {n} points, median of {repeats} alternating rounds, one core");
    match &version {
        Some(version) => println!("reference: TA-Lib {version} (C library via the Python wheel)"),
        None => println!("reference: TA-Lib unavailable ({python} with the ta-lib package is needed)"),
    }
    println!("{:<18} {:>8} {:>12} {:>12}", "indicator", "ratio", "ours Mpt/s", "TA-Lib Mpt/s");
    let mut ratios = Vec::new();
    for (case, times) in cases.iter().zip(ours) {
        let ours = median(times);
        let theirs = theirs.get(*case).map(|t| median(t.clone()));
        let ratio = theirs.map(|t| t / ours);
        if let Some(r) = ratio {
            ratios.push(r);
        }
        println!(
            "{:<18} {:>8} {:>12.1} {:>12}",
            case,
            ratio.map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into()),
            n as f64 / ours / 1e6,
            theirs.map(|t| format!("{:.1}", n as f64 / t / 1e6)).unwrap_or_else(|| "-".into())
        );
    }
    if !ratios.is_empty() {
        println!(
            "median ratio {:.2}x, slowest {:.2}x",
            median(ratios.clone()),
            ratios.iter().cloned().fold(f64::MAX, f64::min)
        );
    }

    if !only.is_empty() {
        return;
    }
    let m = n.min(1_000_000);
    let spec = FeatureSpec::default_spec();
    let columns: usize = spec.features.iter().map(|f| f.column_names().len()).sum();
    let small = BarColumns {
        ts_nanos: &series.ts[..m],
        open: &series.open[..m],
        high: &series.high[..m],
        low: &series.low[..m],
        close: &series.close[..m],
        volume: &series.volume[..m],
    };
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let matrix = spec.build_matrix(&[InstrumentBars { symbol: "BENCH", bars: small }], "timestamp").unwrap();
        times.push(t.elapsed().as_secs_f64());
        std::hint::black_box(matrix);
    }
    println!(
        "default spec: {} features, {columns} columns over {m} bars: {:.3} s median (feature matrix included)",
        spec.features.len(),
        median(times)
    );
}
