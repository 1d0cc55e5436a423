//! MLflow 3's logged-model routes (`logged-models`, `logged-models/{id}`, its tags and params,
//! `logged-models/search`) and a run's model outputs (`runs/outputs`), in MLflow's shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::logged_models::ModelSearch;
use crate::search::{OrderBy, parse_entity, parse_filter};
use crate::server::{int, key_values, offset, required, text, with_token};
use crate::store::{TrackingStore, page};

type Shared = State<Arc<TrackingStore>>;

pub fn routes() -> Router<Arc<TrackingStore>> {
    Router::new()
        .route("/logged-models", post(create))
        .route("/logged-models/search", post(search))
        .route("/logged-models/{model_id}", patch(finalize).get(get_model).delete(delete))
        .route("/logged-models/{model_id}/tags", patch(set_tags))
        .route("/logged-models/{model_id}/tags/{tag_key}", axum::routing::delete(delete_tag))
        .route("/logged-models/{model_id}/params", post(log_params))
        .route("/runs/outputs", post(log_outputs))
}

fn model(m: crate::logged_models::LoggedModel) -> Json<Value> {
    Json(json!({ "model": m.to_json() }))
}

/// A body that may be absent (DELETE without one) reads as `{}`.
fn body(raw: &str) -> ApiResult<Value> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(raw).map_err(|e| ApiError::InvalidParameter(format!("Malformed request body: {e}")))
}

async fn create(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let m = st
        .create_logged_model(
            required(&b, "experiment_id")?,
            text(&b, "name"),
            text(&b, "model_type").unwrap_or_default(),
            text(&b, "source_run_id").unwrap_or_default(),
            &key_values(&b, "params")?,
            &key_values(&b, "tags")?,
        )
        .await?;
    Ok(model(m))
}

async fn get_model(
    State(st): Shared,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let allow_deleted = q.get("allow_deleted").is_some_and(|v| v == "true");
    Ok(model(st.logged_model(&id, allow_deleted).await?))
}

async fn finalize(State(st): Shared, Path(id): Path<String>, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    // The status comes as its enum name; the proto JSON mapping may also send its number.
    let status = match b.get("status") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(2) => crate::logged_models::READY.into(),
            Some(3) => crate::logged_models::UPLOAD_FAILED.into(),
            _ => n.to_string(),
        },
        _ => return Err(ApiError::InvalidParameter("Missing value for required parameter 'status'.".into())),
    };
    Ok(model(st.finalize_logged_model(&id, &status).await?))
}

async fn delete(State(st): Shared, Path(id): Path<String>, raw: String) -> ApiResult<Json<Value>> {
    body(&raw)?;
    st.delete_logged_model(&id).await?;
    Ok(Json(json!({})))
}

async fn set_tags(State(st): Shared, Path(id): Path<String>, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.set_logged_model_tags(&id, &key_values(&b, "tags")?).await?;
    Ok(Json(json!({})))
}

async fn delete_tag(State(st): Shared, Path((id, key)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    st.delete_logged_model_tag(&id, &key).await?;
    Ok(Json(json!({})))
}

async fn log_params(State(st): Shared, Path(id): Path<String>, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.log_logged_model_params(&id, &key_values(&b, "params")?).await?;
    Ok(Json(json!({})))
}

async fn log_outputs(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let run_id = required(&b, "run_id")?;
    let outputs = b
        .get("models")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| Ok((required(m, "model_id")?.to_string(), int(m, "step")?.unwrap_or(0))))
        .collect::<ApiResult<Vec<_>>>()?;
    st.log_run_outputs(run_id, &outputs).await?;
    Ok(Json(json!({})))
}

async fn search(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let experiment_ids = b
        .get("experiment_ids")
        .and_then(Value::as_array)
        .filter(|ids| !ids.is_empty())
        .ok_or_else(|| ApiError::InvalidParameter("Missing value for required parameter 'experiment_ids'.".into()))?
        .iter()
        .map(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_i64())
                .ok_or_else(|| ApiError::InvalidParameter(format!("Invalid experiment id {v}")))
        })
        .collect::<ApiResult<Vec<i64>>>()?;
    let datasets = b
        .get("datasets")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| Ok((required(d, "dataset_name")?.to_string(), text(d, "dataset_digest").map(str::to_string))))
        .collect::<ApiResult<Vec<_>>>()?;
    let order_by = b
        .get("order_by")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|o| {
            let field = required(o, "field_name")?;
            let ascending = o.get("ascending").and_then(Value::as_bool).unwrap_or(true);
            Ok(OrderBy { entity: parse_entity(field)?, ascending })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let search = ModelSearch {
        experiment_ids,
        clauses: parse_filter(text(&b, "filter").unwrap_or_default())?,
        datasets,
        order_by,
    };
    let max = int(&b, "max_results")?.unwrap_or(50).clamp(1, 10_000) as usize;
    let models = st.search_logged_models(&search).await?;
    let (models, next) = page(models, max, offset(text(&b, "page_token"))?);
    Ok(Json(with_token(json!({ "models": models.iter().map(|m| m.to_json()).collect::<Vec<_>>() }), next)))
}
