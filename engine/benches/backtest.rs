//! Backtest benchmark: the SMA crossover (10/20, all-in, 0.2 % commission) event-driven over
//! 10 million synthetic one-minute bars on one core, in bars per second, next to backtesting.py
//! (on 200,000 bars, it is slow) and vectorbt's vectorised engine on the same bars in the same
//! run; then a 1,000-configuration grid on every core.
//!
//! `cargo bench --workspace --bench backtest` (env: SEXTANT_BENCH_BARS, SEXTANT_BENCH_BT_BARS,
//! SEXTANT_BENCH_GRID_BARS, SEXTANT_BENCH_PYTHON). Prints medians, ratio first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The allocator the sextant binary uses, so the figures are what users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{env_usize, median, write_raw_columns};

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use engine::backtest::costs::Fees;
use engine::backtest::strategies::SmaCross;
use engine::backtest::walkforward::{Objective, grid_search};
use engine::backtest::{AccountConfig, BacktestConfig, InstrumentSpec, PreparedBars, VenueConfig, run};
use engine::data::series::BarSeries;
use engine::domain::{Decimal, Timestamp};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

/// Seeded one-minute bars from 2020-01-01 UTC, prices rounded to cents.
fn synthetic(n: usize) -> BarSeries {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let step = Normal::new(0.0, 0.0008).unwrap();
    let mut bars = BarSeries::with_capacity(n);
    let mut price = 100.0f64;
    let start = 1_577_836_800_000_000_000i64;
    let cents = |x: f64| Decimal::new((x * 100.0).round() as i64, 2);
    for i in 0..n {
        let open = price;
        let close = (open * (1.0 + step.sample(&mut rng))).max(1.0);
        let wick = step.sample(&mut rng).abs();
        let (o, c) = (cents(open), cents(close));
        let h = cents(open.max(close) * (1.0 + wick)).max(o.max(c));
        let l = cents(open.min(close) * (1.0 - wick)).min(o.min(c));
        bars.push(Timestamp::from_nanos(start + i as i64 * 60_000_000_000), o, h, l, c, Decimal::from(1000), 0);
        price = close;
    }
    bars
}

fn config() -> BacktestConfig {
    BacktestConfig {
        account: AccountConfig { initial_cash: Decimal::from(1_000_000_000_000i64), ..AccountConfig::default() },
        venue: VenueConfig::default(),
        instruments: vec![InstrumentSpec {
            fees: Fees::Percent { rate: Decimal::new(2, 3) },
            ..InstrumentSpec::cash("SYN", "USD")
        }],
        benchmark: None,
        risk_free_rate: 0.0,
    }
}

fn peers(python: &str, bars: &PreparedBars, n_bt: usize) -> Option<serde_json::Value> {
    let dir = tempfile::tempdir().ok()?;
    let raw = dir.path().join("bars.f64");
    write_raw_columns(&raw, &[&bars.open, &bars.high, &bars.low, &bars.close, &bars.volume]).ok()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/backtest_peers.py");
    let out =
        Command::new(python).arg(script).arg(&raw).arg(bars.len().to_string()).arg(n_bt.to_string()).output().ok()?;
    if !out.status.success() {
        eprintln!("peers failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn main() {
    let n = env_usize("SEXTANT_BENCH_BARS", 10_000_000);
    let n_bt = env_usize("SEXTANT_BENCH_BT_BARS", 200_000);
    let n_grid = env_usize("SEXTANT_BENCH_GRID_BARS", 100_000);
    let repeats = env_usize("SEXTANT_BENCH_REPEATS", 3);
    let python = std::env::var("SEXTANT_BENCH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    eprintln!("generating {n} bars ...");
    let t = Instant::now();
    let data = vec![PreparedBars::new(synthetic(n))];
    eprintln!("prepared in {:.2} s", t.elapsed().as_secs_f64());
    let cfg = config();

    let mut times = Vec::new();
    let mut trades = 0;
    for _ in 0..repeats {
        let mut strategy = SmaCross::new(10, 20, true).unwrap();
        let t = Instant::now();
        let result = run(&cfg, &data, &mut strategy).unwrap();
        times.push(t.elapsed().as_secs_f64());
        trades = result.trades.len();
    }
    let ours = n as f64 / median(times);
    println!("backtest benchmark: SMA crossover 10/20, all-in, 0.2% commission, one core");
    println!("sextant        {n:>10} bars  {:>12.0} bars/s  ({trades} trades)", ours);
    eprintln!("timing backtesting.py and vectorbt ({python}) ...");
    match peers(&python, &data[0], n_bt) {
        Some(v) => {
            for (name, key) in [("backtesting.py", "backtesting_py"), ("vectorbt", "vectorbt")] {
                let bars = v[key]["bars"].as_f64().unwrap_or(f64::NAN);
                let secs = v[key]["seconds"].as_f64().unwrap_or(f64::NAN);
                let rate = bars / secs;
                println!("{name:<14} {bars:>10} bars  {rate:>12.0} bars/s  ratio {:.1}x", ours / rate);
            }
        }
        None => println!("peers unavailable (needs {python} with backtesting and vectorbt)"),
    }

    // The grid: 40 fast x 25 slow periods = 1,000 configurations on every core.
    let grid_data = vec![PreparedBars::new(synthetic(n_grid))];
    let grid = vec![
        ("fast".to_string(), (2..42).map(|v| v.to_string()).collect::<Vec<_>>()),
        ("slow".to_string(), (45..70).map(|v| v.to_string()).collect::<Vec<_>>()),
    ];
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let points = grid_search(&cfg, &grid_data, "sma_cross", &grid, Objective::Sharpe).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "grid           {} configurations x {n_grid} bars on {threads} threads: {secs:.2} s, {:.0} bars/s in all",
        points.len(),
        points.len() as f64 * n_grid as f64 / secs
    );
}
