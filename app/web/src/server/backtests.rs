//! Backtests started from the control plane: validated on the server, run on a blocking
//! thread, recorded as runs of the "Backtests" experiment with the result and HTML report as
//! artifacts, so they are tracked, searchable and comparable like any other run.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use engine::backtest::costs::Fees;
use engine::backtest::strategies::{self, Params};
use engine::backtest::{
    AccountConfig, BacktestConfig, FillTiming, InstrumentSpec, PreparedBars, Progress, VenueConfig, run_observed,
};
use engine::data::catalog::Catalog;
use engine::domain::{Decimal, Symbol, Timeframe};
use registry::store::{MetricPoint, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use crate::types::{Identity, StageView};

pub const EXPERIMENT: &str = "Backtests";
pub const STRATEGIES: [&str; 4] = ["buy_and_hold", "sma_cross", "rsi_reversion", "bollinger_breakout"];

/// Where a started backtest is, for the page that watches it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    LoadingData,
    Simulating { bars_done: usize, bars_total: usize },
    Recording,
    Finished,
    Failed(String),
}

impl Stage {
    /// The stage as the backtest page shows it.
    pub fn view(&self) -> StageView {
        let (text, progress) = match self {
            Self::LoadingData => ("loading data".to_string(), None),
            Self::Simulating { bars_done, bars_total } => {
                let p = Progress { bars_done: *bars_done, bars_total: *bars_total };
                (
                    format!("simulating {}% ({bars_done} of {bars_total} bars)", p.percent()),
                    Some((*bars_done, *bars_total)),
                )
            }
            Self::Recording => ("recording results".to_string(), None),
            Self::Finished => ("finished".to_string(), None),
            Self::Failed(reason) => (format!("failed: {reason}"), None),
        };
        StageView { text, progress }
    }
}

/// The least time between two progress messages to the open pages of one backtest: each makes
/// every watching page refetch the backtest, so a fast run must not send a hundred.
const PROGRESS_MESSAGE_EVERY: Duration = Duration::from_millis(200);

#[derive(Default)]
pub struct Jobs {
    stages: Mutex<HashMap<String, Stage>>,
}

impl Jobs {
    pub fn stage(&self, run_id: &str) -> Option<Stage> {
        self.stages.lock().ok()?.get(run_id).cloned()
    }

    fn set(&self, run_id: &str, stage: Stage) {
        if let Ok(mut map) = self.stages.lock() {
            map.insert(run_id.to_string(), stage);
        }
    }
}

/// Where a backtest is, for its page and the JSON API. One started before this process (or by
/// another one) has only its run's status.
pub fn stage_of(state: &AppState, run_id: &str, status: &str) -> StageView {
    match state.backtests.stage(run_id) {
        Some(stage) => stage.view(),
        None => StageView { text: status.to_lowercase(), progress: None },
    }
}

/// The backtest form as submitted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BacktestRequest {
    pub symbol: String,
    pub timeframe: String,
    pub strategy: String,
    /// `key=value` pairs separated by commas or new lines.
    pub params: String,
    pub cash: String,
    pub commission: String,
}

/// A request checked field by field: the reasons go next to the fields they concern.
pub struct Validated {
    pub symbol: Symbol,
    pub timeframe: Option<Timeframe>,
    pub strategy: String,
    pub params: Params,
    pub cash: Decimal,
    pub commission: Decimal,
}

pub fn parse_params(text: &str) -> Result<Params, String> {
    let mut params = Params::new();
    for item in text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').ok_or_else(|| format!("`{item}` is not key=value"))?;
        params.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(params)
}

pub fn validate(req: &BacktestRequest) -> Result<Validated, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut field = |name: &str, reason: String| errors.push((name.to_string(), reason));
    let symbol = Symbol::new(req.symbol.trim()).map_err(|e| field("symbol", e.to_string())).ok();
    let timeframe = match req.timeframe.trim() {
        "" => Some(None),
        tf => Timeframe::from_str(tf).map_err(|e| field("timeframe", e.to_string())).ok().map(Some),
    };
    if !STRATEGIES.contains(&req.strategy.as_str()) {
        field("strategy", format!("unknown strategy `{}`; choose one of {}", req.strategy, STRATEGIES.join(", ")));
    }
    let params = parse_params(&req.params).map_err(|e| field("params", e)).ok();
    if let Some(p) = &params
        && STRATEGIES.contains(&req.strategy.as_str())
        && let Err(e) = strategies::build(&req.strategy, p)
    {
        field("params", e.to_string());
    }
    let cash = match Decimal::from_str(req.cash.trim()) {
        Ok(c) if c > Decimal::ZERO => Some(c),
        Ok(_) => {
            field("cash", "must be above zero".into());
            None
        }
        Err(_) => {
            field("cash", format!("`{}` is not a number", req.cash));
            None
        }
    };
    let commission = match req.commission.trim() {
        "" => Some(Decimal::ZERO),
        text => match Decimal::from_str(text) {
            Ok(c) if c >= Decimal::ZERO && c < Decimal::ONE => Some(c),
            Ok(_) => {
                field("commission", "a fraction of the traded value from 0 to below 1 (0.002 is 0.2%)".into());
                None
            }
            Err(_) => {
                field("commission", format!("`{text}` is not a number"));
                None
            }
        },
    };
    match (symbol, timeframe, params, cash, commission, errors.is_empty()) {
        (Some(symbol), Some(timeframe), Some(params), Some(cash), Some(commission), true) => {
            Ok(Validated { symbol, timeframe, strategy: req.strategy.clone(), params, cash, commission })
        }
        _ => Err(errors),
    }
}

pub fn catalog(state: &AppState) -> Catalog {
    Catalog::new(state.options.data_dir.join("catalog"), state.db.clone())
}

async fn experiment_id(state: &AppState) -> Result<String, String> {
    match state.store.experiment_by_name(EXPERIMENT).await.map_err(|e| e.to_string())? {
        Some(e) => Ok(e.experiment_id.to_string()),
        None => match state.store.create_experiment(EXPERIMENT, None, &[]).await {
            Ok(id) => Ok(id.to_string()),
            // Another request created it in between.
            Err(_) => state
                .store
                .experiment_by_name(EXPERIMENT)
                .await
                .map_err(|e| e.to_string())?
                .map(|e| e.experiment_id.to_string())
                .ok_or_else(|| "could not create the Backtests experiment".to_string()),
        },
    }
}

/// Checks the data exists, creates the run, and starts the simulation in the background.
/// Returns the run id at once; the page follows the run's stage.
pub async fn start(state: &AppState, who: &Identity, v: Validated) -> Result<String, Vec<(String, String)>> {
    let catalog = catalog(state);
    let one = |f: &str, r: String| vec![(f.to_string(), r)];
    let datasets = catalog.datasets_of(&v.symbol).await.map_err(|e| one("symbol", e.to_string()))?;
    let dataset = match v.timeframe {
        Some(tf) => datasets.into_iter().find(|d| d.timeframe == tf.to_string()),
        None => datasets
            .into_iter()
            .min_by_key(|d| Timeframe::from_str(&d.timeframe).map(|t| t.nominal_nanos()).unwrap_or(i64::MAX)),
    }
    .ok_or_else(|| one("symbol", format!("{} is not in the catalog at that timeframe; import it first", v.symbol)))?;
    let exp = experiment_id(state).await.map_err(|e| one("symbol", e))?;
    let name = format!("{} {} {}", v.strategy, v.symbol, dataset.timeframe);
    let tags = vec![
        ("mlflow.runName".to_string(), name.clone()),
        ("mlflow.user".to_string(), who.name.clone()),
        ("sextant.kind".to_string(), "backtest".to_string()),
        ("sextant.data_hash".to_string(), dataset.content_sha256.clone()),
        ("sextant.code_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ];
    let run = state
        .store
        .create_run(&exp, &who.name, Some(&name), None, &tags)
        .await
        .map_err(|e| one("symbol", e.to_string()))?;
    let mut params: Vec<(String, String)> = vec![
        ("symbol".into(), v.symbol.to_string()),
        ("timeframe".into(), dataset.timeframe.clone()),
        ("strategy".into(), v.strategy.clone()),
        ("cash".into(), v.cash.to_string()),
        ("commission".into(), v.commission.to_string()),
    ];
    params.extend(v.params.iter().map(|(k, val)| (format!("strategy.{k}"), val.clone())));
    state.store.log_batch(&run.run_id, &[], &params, &[]).await.map_err(|e| one("params", e.to_string()))?;
    state.telemetry.backtests_started.inc();
    advance(state, &run.run_id, Stage::LoadingData, "started");
    let task_state = state.clone();
    let run_id = run.run_id.clone();
    let timeframe = Timeframe::from_str(&dataset.timeframe).ok();
    tokio::spawn(async move {
        let outcome = execute(&task_state, &run_id, &v, timeframe).await;
        let (status, stage) = match outcome {
            Ok(()) => ("FINISHED", Stage::Finished),
            Err(reason) => {
                tracing::warn!(run_id, "backtest failed: {reason}");
                let _ =
                    task_state.store.log_batch(&run_id, &[], &[], &[("sextant.error".into(), reason.clone())]).await;
                ("FAILED", Stage::Failed(reason))
            }
        };
        let _ = task_state.store.update_run(&run_id, Some(status), Some(now_ms()), None).await;
        advance(&task_state, &run_id, stage, status);
    });
    Ok(run.run_id)
}

/// Moves a backtest to its next stage and tells the open pages, which refetch it.
fn advance(state: &AppState, run_id: &str, stage: Stage, name: &str) {
    state.backtests.set(run_id, stage);
    state.publish(json!({ "kind": "backtest", "run_id": run_id, "stage": name }));
}

async fn execute(state: &AppState, run_id: &str, v: &Validated, timeframe: Option<Timeframe>) -> Result<(), String> {
    let tf = timeframe.ok_or("the dataset's timeframe is unreadable")?;
    let bars = catalog(state).query(&v.symbol, tf, None, None).await.map_err(|e| e.to_string())?;
    advance(state, run_id, Stage::Simulating { bars_done: 0, bars_total: bars.len() }, "simulating");
    let fees = if v.commission.is_zero() { Fees::None } else { Fees::Percent { rate: v.commission } };
    let config = BacktestConfig {
        account: AccountConfig { initial_cash: v.cash, ..AccountConfig::default() },
        instruments: vec![InstrumentSpec { fees, ..InstrumentSpec::cash(v.symbol.as_str(), "USD") }],
        venue: VenueConfig { fill_timing: FillTiming::NextOpen, max_participation: None },
        benchmark: None,
        risk_free_rate: 0.0,
    };
    let (strategy_name, params) = (v.strategy.clone(), v.params.clone());
    let (watcher, id) = (state.clone(), run_id.to_string());
    let result = tokio::task::spawn_blocking(move || {
        let mut strategy = strategies::build(&strategy_name, &params).map_err(|e| e.to_string())?;
        let mut last_message = Instant::now();
        let mut on_progress = |p: Progress| {
            let stage = Stage::Simulating { bars_done: p.bars_done, bars_total: p.bars_total };
            if last_message.elapsed() >= PROGRESS_MESSAGE_EVERY {
                last_message = Instant::now();
                advance(&watcher, &id, stage, "simulating");
            } else {
                watcher.backtests.set(&id, stage);
            }
        };
        run_observed(&config, &[PreparedBars::new(bars)], strategy.as_mut(), &mut on_progress)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the simulation stopped: {e}"))??;
    advance(state, run_id, Stage::Recording, "recording");
    let m = &result.metrics;
    let now = now_ms();
    let point = |key: &str, value: f64| MetricPoint { key: key.into(), value, timestamp: now, step: 0 };
    let metrics = vec![
        point("return_pct", m.return_pct),
        point("return_ann_pct", m.return_ann_pct),
        point("sharpe_ratio", m.sharpe_ratio),
        point("sortino_ratio", m.sortino_ratio),
        point("max_drawdown_pct", m.max_drawdown_pct),
        point("win_rate_pct", m.win_rate_pct),
        point("n_trades", m.n_trades as f64),
        point("exposure_time_pct", m.exposure_time_pct),
        point("equity_final", m.equity_final),
    ];
    state.store.log_batch(run_id, &metrics, &[], &[]).await.map_err(|e| e.to_string())?;
    let run = state.store.run(run_id).await.map_err(|e| e.to_string())?;
    let base = artifact_key(&run.artifact_uri).ok_or("the run's artifact location is not in the artifact store")?;
    let json = serde_json::to_vec(&result).map_err(|e| e.to_string())?;
    state.artifacts.put(&format!("{base}/result.json"), json.into()).await.map_err(|e| e.to_string())?;
    state
        .artifacts
        .put(&format!("{base}/report.html"), result.to_html(None).into_bytes().into())
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The store key under which a run's artifacts live (`mlflow-artifacts:/1/RUN/artifacts` -> `1/RUN/artifacts`).
pub fn artifact_key(artifact_uri: &str) -> Option<String> {
    artifact_uri
        .strip_prefix("mlflow-artifacts:")
        .map(|rest| rest.trim_start_matches('/').trim_end_matches('/').to_string())
}
