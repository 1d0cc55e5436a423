//! The MLflow REST API over the tracking store, as an axum router served under `/api/2.0/mlflow`
//! and `/ajax-api/2.0/mlflow`, so the official MLflow clients work against it unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::logged_models::ModelMetric;
use crate::search::{parse_filter, parse_order_by};
use crate::store::{ACTIVE, DELETED, MetricPoint, TrackingStore};

type Shared = State<Arc<TrackingStore>>;
type Params = Query<HashMap<String, String>>;

/// The router with every route under both API prefixes, and the artifact proxy; unknown paths
/// get MLflow's ENDPOINT_NOT_FOUND.
pub fn router(store: TrackingStore, artifacts: engine::storage::ArtifactStore) -> Router {
    api_routes(store, artifacts).fallback(unknown_endpoint)
}

/// The same routes without a fallback, to merge into a larger app (the control plane).
pub fn api_routes(store: TrackingStore, artifacts: engine::storage::ArtifactStore) -> Router {
    let api = Router::new()
        .route("/experiments/create", post(create_experiment))
        .route("/experiments/get", get(get_experiment))
        .route("/experiments/get-by-name", get(get_experiment_by_name))
        .route("/experiments/search", post(search_experiments_post).get(search_experiments_get))
        .route("/experiments/update", post(update_experiment))
        .route("/experiments/delete", post(delete_experiment))
        .route("/experiments/restore", post(restore_experiment))
        .route("/experiments/set-experiment-tag", post(set_experiment_tag))
        .route("/runs/create", post(create_run))
        .route("/runs/get", get(get_run))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/search", post(search_runs))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/metrics/get-history", get(metric_history))
        .merge(crate::logged_models_api::routes())
        .merge(crate::models_api::routes())
        .with_state(Arc::new(store));
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
        .nest("/api/2.0/mlflow-artifacts", crate::artifacts_api::routes(artifacts))
}

fn missing(name: &str) -> ApiError {
    ApiError::InvalidParameter(format!("Missing value for required parameter '{name}'."))
}

pub(crate) fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

pub(crate) fn required<'a>(body: &'a Value, name: &str) -> ApiResult<&'a str> {
    text(body, name).filter(|s| !s.is_empty()).ok_or_else(|| missing(name))
}

/// An int64 as the proto JSON mapping may send it: a number or a string of digits.
pub(crate) fn int(body: &Value, name: &str) -> ApiResult<Option<i64>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad_value(name, n)),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| bad_value(name, s)),
        Some(other) => Err(bad_value(name, other)),
    }
}

fn bad_value(name: &str, v: impl std::fmt::Display) -> ApiError {
    ApiError::InvalidParameter(format!("Invalid value {v} for parameter '{name}' supplied."))
}

/// A metric value: a number, or NaN/Infinity spelled as strings.
fn number(body: &Value, name: &str) -> ApiResult<f64> {
    match body.get(name) {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| bad_value(name, n)),
        Some(Value::String(s)) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(|_| bad_value(name, other)),
        },
        _ => Err(missing(name)),
    }
}

pub(crate) fn key_values(body: &Value, name: &str) -> ApiResult<Vec<(String, String)>> {
    let Some(items) = body.get(name).and_then(Value::as_array) else { return Ok(Vec::new()) };
    items
        .iter()
        .map(|t| Ok((required(t, "key")?.to_string(), text(t, "value").unwrap_or_default().to_string())))
        .collect()
}

fn run_id(body: &Value) -> ApiResult<&str> {
    text(body, "run_id").or_else(|| text(body, "run_uuid")).filter(|s| !s.is_empty()).ok_or_else(|| missing("run_id"))
}

pub(crate) fn offset(token: Option<&str>) -> ApiResult<usize> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => t.parse().map_err(|_| ApiError::InvalidParameter(format!("Invalid page token '{t}'"))),
    }
}

pub(crate) fn with_token(mut body: Value, next: Option<usize>) -> Value {
    if let Some(n) = next {
        body["next_page_token"] = json!(n.to_string());
    }
    body
}

async fn create_experiment(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let id = s
        .create_experiment(
            required(&b, "name")?,
            text(&b, "artifact_location").filter(|l| !l.is_empty()),
            &key_values(&b, "tags")?,
        )
        .await?;
    Ok(Json(json!({ "experiment_id": id.to_string() })))
}

async fn get_experiment(State(s): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let id = q.get("experiment_id").ok_or_else(|| missing("experiment_id"))?;
    Ok(Json(json!({ "experiment": s.experiment(id).await?.to_json() })))
}

async fn get_experiment_by_name(State(s): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let name = q.get("experiment_name").ok_or_else(|| missing("experiment_name"))?;
    match s.experiment_by_name(name).await? {
        Some(e) => Ok(Json(json!({ "experiment": e.to_json() }))),
        None => Err(ApiError::NotFound(format!("Could not find experiment with name '{name}'"))),
    }
}

async fn search_experiments(s: &TrackingStore, b: &Value) -> ApiResult<Json<Value>> {
    let max = int(b, "max_results")?.unwrap_or(1000).clamp(1, 50_000) as usize;
    let view = text(b, "view_type").unwrap_or("ACTIVE_ONLY");
    let (items, next) = s.search_experiments(view, max, offset(text(b, "page_token"))?).await?;
    let filter = text(b, "filter").unwrap_or_default();
    // The name filters MLflow clients send: name = 'x' and name LIKE 'x%'.
    let clauses = parse_filter(filter)?;
    let items: Vec<Value> = items
        .iter()
        .filter(|e| {
            clauses.iter().all(|c| match (&c.entity, &c.value) {
                (crate::search::Entity::Attribute(k), crate::search::Value::Text(v)) if k == "name" => match c.op {
                    crate::search::Op::Eq => &e.name == v,
                    crate::search::Op::Ne => &e.name != v,
                    crate::search::Op::Like => crate::search::like(&e.name, v),
                    crate::search::Op::ILike => crate::search::like(&e.name.to_lowercase(), &v.to_lowercase()),
                    _ => true,
                },
                _ => true,
            })
        })
        .map(|e| e.to_json())
        .collect();
    Ok(Json(with_token(json!({ "experiments": items }), next)))
}

async fn search_experiments_post(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    search_experiments(&s, &b).await
}

async fn search_experiments_get(State(s): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    search_experiments(&s, &json!(q)).await
}

async fn update_experiment(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.rename_experiment(required(&b, "experiment_id")?, required(&b, "new_name")?).await?;
    Ok(Json(json!({})))
}

async fn delete_experiment(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.set_experiment_stage(required(&b, "experiment_id")?, DELETED).await?;
    Ok(Json(json!({})))
}

async fn restore_experiment(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.set_experiment_stage(required(&b, "experiment_id")?, ACTIVE).await?;
    Ok(Json(json!({})))
}

async fn set_experiment_tag(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.set_experiment_tag(required(&b, "experiment_id")?, required(&b, "key")?, text(&b, "value").unwrap_or_default())
        .await?;
    Ok(Json(json!({})))
}

async fn create_run(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let experiment = text(&b, "experiment_id").filter(|e| !e.is_empty()).unwrap_or("0");
    let run = s
        .create_run(
            experiment,
            text(&b, "user_id").unwrap_or_default(),
            text(&b, "run_name").filter(|n| !n.is_empty()),
            int(&b, "start_time")?,
            &key_values(&b, "tags")?,
        )
        .await?;
    Ok(Json(json!({ "run": run.to_json() })))
}

async fn get_run(State(s): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    let id = run_id(&b)?;
    let mut run = s.run(id).await?.to_json();
    run["outputs"] = s.run_outputs_json(id).await?;
    Ok(Json(json!({ "run": run })))
}

async fn update_run(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let run = s
        .update_run(
            run_id(&b)?,
            text(&b, "status"),
            int(&b, "end_time")?,
            text(&b, "run_name").filter(|n| !n.is_empty()),
        )
        .await?;
    Ok(Json(json!({ "run_info": run.to_json()["info"] })))
}

async fn delete_run(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.set_run_stage(run_id(&b)?, DELETED).await?;
    Ok(Json(json!({})))
}

async fn restore_run(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.set_run_stage(run_id(&b)?, ACTIVE).await?;
    Ok(Json(json!({})))
}

fn metric(b: &Value) -> ApiResult<MetricPoint> {
    Ok(MetricPoint {
        key: required(b, "key")?.to_string(),
        value: number(b, "value")?,
        timestamp: int(b, "timestamp")?.unwrap_or_else(crate::store::now_ms),
        step: int(b, "step")?.unwrap_or(0),
    })
}

/// The model a metric was measured on (MLflow 3), with its dataset.
fn model_metric(b: &Value, run_id: &str, point: &MetricPoint) -> Option<ModelMetric> {
    let model_id = text(b, "model_id").filter(|m| !m.is_empty())?;
    Some(ModelMetric {
        model_id: model_id.to_string(),
        point: point.clone(),
        run_id: run_id.to_string(),
        dataset_name: text(b, "dataset_name").unwrap_or_default().to_string(),
        dataset_digest: text(b, "dataset_digest").unwrap_or_default().to_string(),
    })
}

async fn log_metric(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let (run, point) = (run_id(&b)?, metric(&b)?);
    let linked: Vec<ModelMetric> = model_metric(&b, run, &point).into_iter().collect();
    s.log_batch_linked(run, &[point], &[], &[], &linked).await?;
    Ok(Json(json!({})))
}

async fn log_param(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let kv = (required(&b, "key")?.to_string(), text(&b, "value").unwrap_or_default().to_string());
    s.log_batch(run_id(&b)?, &[], &[kv], &[]).await?;
    Ok(Json(json!({})))
}

async fn set_tag(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let kv = (required(&b, "key")?.to_string(), text(&b, "value").unwrap_or_default().to_string());
    s.log_batch(run_id(&b)?, &[], &[], &[kv]).await?;
    Ok(Json(json!({})))
}

async fn delete_tag(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    s.delete_tag(run_id(&b)?, required(&b, "key")?).await?;
    Ok(Json(json!({})))
}

async fn log_batch(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let run = run_id(&b)?;
    let items = b.get("metrics").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let metrics: Vec<MetricPoint> = items.iter().map(metric).collect::<ApiResult<_>>()?;
    let linked: Vec<ModelMetric> = items.iter().zip(&metrics).filter_map(|(j, p)| model_metric(j, run, p)).collect();
    s.log_batch_linked(run, &metrics, &key_values(&b, "params")?, &key_values(&b, "tags")?, &linked).await?;
    Ok(Json(json!({})))
}

async fn metric_history(State(s): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    let key = required(&b, "metric_key")?;
    let max = int(&b, "max_results")?.unwrap_or(25_000).clamp(1, 25_000) as usize;
    let (points, next) = s.metric_history(run_id(&b)?, key, max, offset(text(&b, "page_token"))?).await?;
    Ok(Json(with_token(json!({ "metrics": points.iter().map(MetricPoint::to_json).collect::<Vec<_>>() }), next)))
}

/// A page of runs, serialized straight from the runs (no tree of JSON values in between).
#[derive(serde::Serialize)]
struct RunsPage {
    runs: Vec<crate::store::Run>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

async fn search_runs(State(s): Shared, Json(b): Json<Value>) -> ApiResult<Json<RunsPage>> {
    let ids: Vec<i64> = b
        .get("experiment_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_i64())).collect())
        .unwrap_or_default();
    let view = match b.get("run_view_type") {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "ACTIVE_ONLY".into(),
    };
    let clauses = parse_filter(text(&b, "filter").unwrap_or_default())?;
    let order: Vec<String> = b
        .get("order_by")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let order = parse_order_by(&order)?;
    let max = int(&b, "max_results")?.unwrap_or(1000).clamp(1, 50_000) as usize;
    let (runs, next, _) = s.search_runs(&ids, &view, &clauses, &order, max, offset(text(&b, "page_token"))?).await?;
    Ok(Json(RunsPage { runs, next_page_token: next.map(|n| n.to_string()) }))
}

/// MLflow's answer to a path it does not serve.
async fn unknown_endpoint(uri: axum::http::Uri) -> (axum::http::StatusCode, Json<Value>) {
    let body = json!({ "error_code": "ENDPOINT_NOT_FOUND", "message": format!("No API endpoint for {uri}") });
    (axum::http::StatusCode::NOT_FOUND, Json(body))
}

/// Serves the router until the task is stopped.
pub async fn serve(
    store: TrackingStore,
    artifacts: engine::storage::ArtifactStore,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    axum::serve(listener, router(store, artifacts)).await
}
