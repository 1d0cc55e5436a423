//! The first start's demo: the sample data in the catalog, a finished SMA-crossover sweep as an
//! experiment (params, metrics, equity curves, lineage), a registered model with a champion,
//! and one backtest, so a new user sees real results at once.

use std::path::Path;
use std::str::FromStr;

use engine::backtest::costs::Fees;
use engine::backtest::strategies::{self, Params};
use engine::backtest::{AccountConfig, BacktestConfig, FillTiming, InstrumentSpec, PreparedBars, VenueConfig};
use engine::config::Settings;
use engine::data::import::ImportOptions;
use engine::domain::{Decimal, Symbol, Timeframe};
use registry::store::{MetricPoint, now_ms};
use web::server::AppState;
use web::types::{Identity, Role};

use super::data::refresh_quality;
use super::open_catalog;

pub const DEMO_EXPERIMENT: &str = "Demo: SMA crossover sweep on GOOG";
pub const DEMO_MODEL: &str = "sma-cross-goog";
const DEMO_USER: &str = "sextant-demo";

pub async fn seed_if_empty(state: &AppState, sample_dir: &Path, settings: &Settings) -> anyhow::Result<()> {
    if state.store.experiment_by_name(DEMO_EXPERIMENT).await?.is_some() {
        return Ok(());
    }
    let catalog = open_catalog(settings).await?;
    if catalog.list().await?.is_empty() {
        let mut files: Vec<_> = std::fs::read_dir(sample_dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "csv"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        if files.is_empty() {
            tracing::warn!(dir = %sample_dir.display(), "no sample data found: the demo is skipped");
            return Ok(());
        }
        for file in &files {
            for s in catalog.import_file(file, &ImportOptions::default()).await? {
                refresh_quality(&catalog, &s.dataset).await?;
            }
        }
    }
    let symbol = Symbol::new("GOOG")?;
    let Some(dataset) = catalog.datasets_of(&symbol).await?.into_iter().next() else {
        tracing::warn!("GOOG is not in the catalog: the demo sweep is skipped");
        return Ok(());
    };
    let tf = Timeframe::from_str(&dataset.timeframe)?;
    let bars = catalog.query(&symbol, tf, None, None).await?;
    let data = [PreparedBars::new(bars)];
    let config = BacktestConfig {
        account: AccountConfig { initial_cash: Decimal::from(10_000), ..AccountConfig::default() },
        venue: VenueConfig { fill_timing: FillTiming::NextOpen, max_participation: None },
        instruments: vec![InstrumentSpec {
            fees: Fees::Percent { rate: Decimal::from_str("0.002")? },
            ..InstrumentSpec::cash("GOOG", "USD")
        }],
        benchmark: None,
        risk_free_rate: 0.0,
    };
    let exp = state.store.create_experiment(DEMO_EXPERIMENT, None, &[]).await?.to_string();
    let mut scored = Vec::new();
    for (fast, slow) in [(5, 20), (10, 20), (10, 30), (15, 30), (20, 50), (30, 60)] {
        let mut params = Params::new();
        params.insert("fast".into(), fast.to_string());
        params.insert("slow".into(), slow.to_string());
        let mut strategy = strategies::build("sma_cross", &params)?;
        let result = engine::backtest::run(&config, &data, strategy.as_mut())?;
        let name = format!("sma {fast}/{slow}");
        let tags = vec![
            ("mlflow.user".to_string(), DEMO_USER.to_string()),
            ("sextant.data_hash".to_string(), dataset.content_sha256.clone()),
            ("sextant.code_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("sextant.seed".to_string(), "42".to_string()),
        ];
        let run = state.store.create_run(&exp, DEMO_USER, Some(&name), None, &tags).await?;
        let now = now_ms();
        let m = &result.metrics;
        let mut metrics: Vec<MetricPoint> = [
            ("return_pct", m.return_pct),
            ("sharpe_ratio", m.sharpe_ratio),
            ("max_drawdown_pct", m.max_drawdown_pct),
            ("win_rate_pct", m.win_rate_pct),
            ("n_trades", m.n_trades as f64),
        ]
        .iter()
        .map(|(k, v)| MetricPoint { key: (*k).into(), value: *v, timestamp: now, step: 0 })
        .collect();
        // The equity curve as a metric history (one point per 10 bars), so runs compare as curves.
        metrics.extend(result.equity_curve.iter().enumerate().step_by(10).take(900).map(|(i, s)| MetricPoint {
            key: "equity".into(),
            value: s.equity,
            timestamp: now,
            step: i as i64,
        }));
        let params = vec![
            ("strategy".to_string(), "sma_cross".to_string()),
            ("fast".to_string(), fast.to_string()),
            ("slow".to_string(), slow.to_string()),
            ("commission".to_string(), "0.002".to_string()),
        ];
        state.store.log_batch(&run.run_id, &metrics, &params, &[]).await?;
        state.store.update_run(&run.run_id, Some("FINISHED"), Some(now_ms()), None).await?;
        scored.push((m.sharpe_ratio, run.run_id, run.artifact_uri));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    state
        .store
        .create_registered_model(DEMO_MODEL, "SMA crossover on GOOG, the demo sweep's two best configurations", &[])
        .await?;
    for (_, run_id, artifact_uri) in scored.iter().take(2).rev() {
        state.store.create_model_version(DEMO_MODEL, artifact_uri, run_id, "", "", &[]).await?;
    }
    state.store.set_alias(DEMO_MODEL, "champion", 1, DEMO_USER).await?;
    let admin = Identity { name: DEMO_USER.into(), role: Role::Admin };
    let request = web::server::backtests::BacktestRequest {
        symbol: "GOOG".into(),
        timeframe: String::new(),
        strategy: "sma_cross".into(),
        params: "fast=10, slow=20".into(),
        cash: "10000".into(),
        commission: "0.002".into(),
    };
    if let Ok(checked) = web::server::backtests::validate(&request) {
        let _ = web::server::backtests::start(state, &admin, checked).await;
    }
    tracing::info!("demo seeded: sample data, a sweep of 6 runs, model {DEMO_MODEL} with a champion, one backtest");
    Ok(())
}
