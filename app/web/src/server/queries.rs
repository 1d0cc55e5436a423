//! The pages' and the JSON API's reads: tracking-store and catalog records turned into the
//! shared view types, with metric curves downsampled for display.

use std::collections::BTreeSet;

use registry::search::{parse_filter, parse_order_by};
use registry::store::Run;
use registry::{ApiError, TrackingStore};

use super::AppState;
use super::backtests::{self, artifact_key};
use crate::lttb::lttb;
use crate::types::*;

/// Points a chart draws; LTTB keeps the shape of longer series.
pub const CHART_POINTS: usize = 800;
/// Rows of the runs table per page: a page stays light whatever the experiment's size.
pub const RUNS_PER_PAGE: usize = 100;

pub fn run_row(r: &Run) -> RunRow {
    RunRow {
        run_id: r.run_id.clone(),
        experiment_id: r.experiment_id.to_string(),
        name: r.run_name.clone(),
        status: r.status.clone(),
        user: r.user_id.clone(),
        start_ms: r.start_time,
        end_ms: r.end_time,
        params: r.params.clone(),
        metrics: r.metrics.iter().map(|(k, m)| (k.clone(), m.value)).collect(),
    }
}

fn experiment_row(e: &registry::store::Experiment) -> ExperimentRow {
    ExperimentRow {
        id: e.experiment_id.to_string(),
        name: e.name.clone(),
        lifecycle_stage: e.lifecycle_stage.clone(),
        last_update_ms: e.last_update_time,
    }
}

pub async fn experiments(store: &TrackingStore, name_contains: &str) -> Result<Vec<ExperimentRow>, ApiError> {
    let (all, _) = store.search_experiments("ACTIVE_ONLY", 50_000, 0).await?;
    let needle = name_contains.trim().to_lowercase();
    Ok(all
        .iter()
        .filter(|e| needle.is_empty() || e.name.to_lowercase().contains(&needle))
        .map(experiment_row)
        .collect())
}

/// One page of an experiment's runs, filtered with MLflow's grammar and sorted by `order`
/// (`metrics.loss DESC`; default newest first).
pub async fn runs_table(
    store: &TrackingStore,
    experiment_id: &str,
    filter: &str,
    order: &str,
    page: usize,
) -> Result<RunsTable, ApiError> {
    let experiment = experiment_row(&store.experiment(experiment_id).await?);
    let id: i64 = experiment_id
        .trim()
        .parse()
        .map_err(|_| ApiError::InvalidParameter(format!("bad experiment id {experiment_id}")))?;
    let order = if order.trim().is_empty() { Vec::new() } else { parse_order_by(&[order.to_string()])? };
    if filter.trim().is_empty() {
        // The common view: ordered and paged in SQL, reading only the rows shown.
        let (param_keys, metric_keys) = store.experiment_keys(id).await?;
        let (mut runs, total) = store.runs_page(id, order.first(), RUNS_PER_PAGE, page * RUNS_PER_PAGE).await?;
        let last = total.saturating_sub(1) / RUNS_PER_PAGE;
        let page = page.min(last);
        if runs.is_empty() && total > 0 {
            runs = store.runs_page(id, order.first(), RUNS_PER_PAGE, page * RUNS_PER_PAGE).await?.0;
        }
        return Ok(RunsTable {
            experiment,
            runs: runs.iter().map(run_row).collect(),
            param_keys,
            metric_keys,
            filter_error: None,
            total,
            page,
            page_size: RUNS_PER_PAGE,
        });
    }
    // A filter: SQL narrows the candidates, MLflow's grammar decides each one exactly.
    let (param_keys, metric_keys) = store.experiment_keys(id).await?;
    let (runs, total, page, filter_error) = match parse_filter(filter) {
        Ok(clauses) => {
            let ids = [id];
            let search = |page: usize| {
                store.search_runs(&ids, "ACTIVE_ONLY", &clauses, &order, RUNS_PER_PAGE, page * RUNS_PER_PAGE)
            };
            let (mut runs, _, total) = search(page).await?;
            // A page past the end shows the last one, as the unfiltered table does.
            let last = total.saturating_sub(1) / RUNS_PER_PAGE;
            if page > last {
                runs = search(last).await?.0;
            }
            (runs, total, page.min(last), None)
        }
        Err(e) => (Vec::new(), 0, 0, Some(e.to_string())),
    };
    Ok(RunsTable {
        experiment,
        runs: runs.iter().map(run_row).collect(),
        param_keys,
        metric_keys,
        filter_error,
        total,
        page,
        page_size: RUNS_PER_PAGE,
    })
}

pub async fn series(store: &TrackingStore, run: &RunRow, key: &str) -> Result<Series, ApiError> {
    let (points, _) = store.metric_history(&run.run_id, key, usize::MAX >> 1, 0).await?;
    let xy: Vec<(f64, f64)> = points.iter().filter(|p| p.value.is_finite()).map(|p| (p.step as f64, p.value)).collect();
    Ok(Series { name: key.to_string(), total: points.len(), points: lttb(&xy, CHART_POINTS) })
}

const LINEAGE_TAGS: [(&str, &str); 6] = [
    ("sextant.data_hash", "Data hash"),
    ("sextant.feature_spec_hash", "Feature-spec hash"),
    ("sextant.code_version", "Code version"),
    ("mlflow.source.git.commit", "Git commit"),
    ("sextant.seed", "Seed"),
    ("mlflow.parentRunId", "Parent run"),
];

pub async fn run_detail(state: &AppState, run_id: &str) -> Result<RunDetail, ApiError> {
    let run = state.store.run(run_id).await?;
    let experiment_name = state.store.experiment(&run.experiment_id.to_string()).await?.name;
    let row = run_row(&run);
    let mut all_series = Vec::new();
    for key in run.metrics.keys() {
        all_series.push(series(&state.store, &row, key).await?);
    }
    let artifacts = match artifact_key(&run.artifact_uri) {
        Some(base) => state
            .artifacts
            .list(&base)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|a| ArtifactEntry {
                path: a.key.strip_prefix(&format!("{base}/")).unwrap_or(&a.key).to_string(),
                size: a.size,
                download_url: format!("/api/2.0/mlflow-artifacts/artifacts/{}", a.key),
            })
            .collect(),
        None => Vec::new(),
    };
    let lineage = LINEAGE_TAGS
        .iter()
        .filter_map(|(tag, label)| run.tags.get(*tag).map(|v| (label.to_string(), v.clone())))
        .chain(run.params.get("seed").map(|s| ("Seed (param)".to_string(), s.clone())))
        .collect();
    Ok(RunDetail {
        parent_run: run.tags.get("mlflow.parentRunId").cloned(),
        run: row,
        experiment_name,
        tags: run
            .tags
            .iter()
            .filter(|(k, _)| !k.starts_with("mlflow.log-model"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        series: all_series,
        artifacts,
        lineage,
    })
}

pub async fn compare(store: &TrackingStore, run_ids: &[String]) -> Result<Comparison, ApiError> {
    let mut runs = Vec::new();
    for id in run_ids {
        runs.push(run_row(&store.run(id).await?));
    }
    let param_keys: BTreeSet<String> = runs.iter().flat_map(|r| r.params.keys().cloned()).collect();
    let metric_keys: BTreeSet<String> = runs.iter().flat_map(|r| r.metrics.keys().cloned()).collect();
    let mut metrics = Vec::new();
    for key in metric_keys {
        let mut curves = Vec::new();
        for r in runs.iter().filter(|r| r.metrics.contains_key(&key)) {
            let mut s = series(store, r, &key).await?;
            s.name = r.name.clone();
            curves.push(s);
        }
        metrics.push((key, curves));
    }
    Ok(Comparison { runs, param_keys: param_keys.into_iter().collect(), metrics })
}

pub async fn models(store: &TrackingStore) -> Result<Vec<ModelRow>, ApiError> {
    let mut out = Vec::new();
    for name in store.registered_model_names().await? {
        out.push(model_row(store, &name).await?);
    }
    Ok(out)
}

async fn model_row(store: &TrackingStore, name: &str) -> Result<ModelRow, ApiError> {
    let m = store.registered_model(name).await?;
    let versions = store.search_model_versions(Some(name)).await?;
    Ok(ModelRow {
        name: m.name.clone(),
        description: m.description.clone(),
        latest_version: versions.iter().map(|v| v.version).max(),
        aliases: m.aliases.iter().map(|(a, v)| (a.clone(), *v)).collect(),
        updated_ms: m.last_updated_timestamp,
    })
}

pub async fn model_detail(store: &TrackingStore, name: &str) -> Result<ModelDetail, ApiError> {
    let model = model_row(store, name).await?;
    let mut versions: Vec<VersionRow> = store
        .search_model_versions(Some(name))
        .await?
        .into_iter()
        .map(|v| VersionRow {
            version: v.version,
            run_id: v.run_id,
            source: v.source,
            user: v.user_id,
            created_ms: v.creation_timestamp,
            stage: v.current_stage,
            aliases: v.aliases,
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    let history = store
        .alias_history(name)
        .await?
        .into_iter()
        .rev()
        .map(|h| AliasMove {
            alias: h["alias"].as_str().unwrap_or_default().to_string(),
            version: h["version"].as_str().map(str::to_string),
            previous: h["previous_version"].as_str().map(str::to_string),
            by: h["changed_by"].as_str().unwrap_or_default().to_string(),
            at_ms: h["changed_at"].as_i64().unwrap_or_default(),
        })
        .collect();
    Ok(ModelDetail { model, versions, history })
}

pub async fn datasets(state: &AppState) -> Result<Vec<DatasetRow>, String> {
    let catalog = backtests::catalog(state);
    let list = catalog.list().await.map_err(|e| e.to_string())?;
    let mut rows = Vec::with_capacity(list.len());
    for d in list {
        let report = match (engine::domain::Symbol::new(&d.symbol), d.timeframe.parse::<engine::domain::Timeframe>()) {
            (Ok(symbol), Ok(tf)) => catalog
                .quality_json(&symbol, tf)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|json| serde_json::from_str::<engine::data::quality::QualityReport>(&json).ok())
                .map(|r| r.render_text()),
            _ => None,
        };
        rows.push(DatasetRow {
            quality: d
                .quality_confidence
                .map(|q| format!("{:.1}% confidence", q * 100.0))
                .unwrap_or_else(|| "not checked".into()),
            symbol: d.symbol,
            timeframe: d.timeframe,
            bars: d.rows.max(0) as u64,
            first: d.first_ts.to_string(),
            last: d.last_ts.to_string(),
            report,
        });
    }
    Ok(rows)
}

pub async fn overview(state: &AppState) -> Result<Overview, ApiError> {
    let (experiments, _) = state.store.search_experiments("ACTIVE_ONLY", 50_000, 0).await?;
    let backtest_exp = experiments.iter().find(|e| e.name == backtests::EXPERIMENT).map(|e| e.experiment_id);
    // Only the rows shown are read, whatever the number of runs.
    let recent = state.store.recent_runs(backtest_exp.map(|id| (id, false)), 8).await?.iter().map(run_row).collect();
    let backtests_rows = match backtest_exp {
        Some(id) => state.store.recent_runs(Some((id, true)), 5).await?.iter().map(run_row).collect(),
        None => Vec::new(),
    };
    let datasets = backtests::catalog(state).list().await.map(|d| d.len()).unwrap_or(0);
    Ok(Overview {
        recent_runs: recent,
        backtests: backtests_rows,
        models: models(&state.store).await?,
        experiments: experiments.len(),
        datasets,
    })
}

/// A backtest run with its curves (downsampled) and first trades, read from its result artifact.
pub async fn backtest_detail(state: &AppState, run_id: &str) -> Result<BacktestDetail, ApiError> {
    let run = state.store.run(run_id).await?;
    let row = run_row(&run);
    let base = artifact_key(&run.artifact_uri).unwrap_or_default();
    let mut detail = BacktestDetail {
        run: row,
        equity: None,
        drawdown: None,
        trades: Vec::new(),
        total_trades: 0,
        report_url: None,
    };
    if run.status != "FINISHED" {
        return Ok(detail);
    }
    let Ok(bytes) = state.artifacts.get(&format!("{base}/result.json")).await else { return Ok(detail) };
    let result: engine::backtest::BacktestResult = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::InvalidState(format!("the backtest's result.json is unreadable: {e}")))?;
    let secs = |ns: i64| ns as f64 / 1e9;
    let equity: Vec<(f64, f64)> = result.equity_curve.iter().map(|s| (secs(s.ts_nanos), s.equity)).collect();
    let mut peak = f64::MIN;
    let drawdown: Vec<(f64, f64)> = equity
        .iter()
        .map(|&(t, e)| {
            peak = peak.max(e);
            (t, if peak > 0.0 { (e / peak - 1.0) * 100.0 } else { 0.0 })
        })
        .collect();
    detail.equity = Some(Series { name: "equity".into(), total: equity.len(), points: lttb(&equity, CHART_POINTS) });
    detail.drawdown =
        Some(Series { name: "drawdown %".into(), total: drawdown.len(), points: lttb(&drawdown, CHART_POINTS) });
    detail.total_trades = result.trades.len();
    let when = |ns: i64| chrono_like(ns);
    detail.trades = result
        .trades
        .iter()
        .take(200)
        .map(|t| TradeRow {
            symbol: t.symbol.clone(),
            side: format!("{:?}", t.side),
            size: format!("{}", t.size),
            entry_time: when(t.entry_ts_nanos),
            exit_time: when(t.exit_ts_nanos),
            entry_price: format!("{:.4}", t.entry_price),
            exit_price: format!("{:.4}", t.exit_price),
            pnl: format!("{:.2}", t.pnl),
        })
        .collect();
    detail.report_url = Some(format!("/api/2.0/mlflow-artifacts/artifacts/{base}/report.html"));
    Ok(detail)
}

fn chrono_like(ns: i64) -> String {
    engine::domain::Timestamp::from_nanos(ns).to_string()
}
