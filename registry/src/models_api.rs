//! The model registry's REST routes (`registered-models/…`, `model-versions/…`, aliases) in
//! MLflow's shapes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::models::parse_version;
use crate::search::{Entity, Op, Value as FilterValue, like, parse_filter};
use crate::store::{TrackingStore, page};

type Shared = State<Arc<TrackingStore>>;
type Params = Query<HashMap<String, String>>;

pub fn routes() -> Router<Arc<TrackingStore>> {
    Router::new()
        .route("/registered-models/create", post(create_model))
        .route("/registered-models/get", get(get_model))
        .route("/registered-models/search", get(search_models_get).post(search_models_post))
        .route("/registered-models/rename", post(rename_model))
        .route("/registered-models/update", axum::routing::patch(update_model))
        .route("/registered-models/delete", axum::routing::delete(delete_model))
        .route("/registered-models/set-tag", post(set_model_tag))
        .route("/registered-models/delete-tag", axum::routing::delete(delete_model_tag))
        .route("/registered-models/get-latest-versions", post(latest_versions_post).get(latest_versions_get))
        .route("/registered-models/alias", post(set_alias).delete(delete_alias).get(get_by_alias))
        // Sextant's extension (MLflow clients never call it): who moved which alias, and when.
        .route("/registered-models/alias-history", get(alias_history))
        .route("/model-versions/create", post(create_version))
        .route("/model-versions/get", get(get_version))
        .route("/model-versions/search", get(search_versions_get).post(search_versions_post))
        .route("/model-versions/update", axum::routing::patch(update_version))
        .route("/model-versions/delete", axum::routing::delete(delete_version))
        .route("/model-versions/set-tag", post(set_version_tag))
        .route("/model-versions/delete-tag", axum::routing::delete(delete_version_tag))
        .route("/model-versions/transition-stage", post(transition_stage))
        .route("/model-versions/get-download-uri", get(download_uri))
}

fn s<'a>(b: &'a Value, name: &str) -> Option<&'a str> {
    b.get(name).and_then(Value::as_str)
}

fn req<'a>(b: &'a Value, name: &str) -> ApiResult<&'a str> {
    s(b, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidParameter(format!("Missing value for required parameter '{name}'.")))
}

fn kvs(b: &Value) -> Vec<(String, String)> {
    b.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| Some((s(t, "key")?.to_string(), s(t, "value").unwrap_or_default().to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn version(b: &Value) -> ApiResult<i64> {
    match b.get("version") {
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| ApiError::InvalidParameter(format!("Invalid version {n}"))),
        _ => parse_version(req(b, "version")?),
    }
}

/// The name clause of a registry filter (`name = 'x'`, `name LIKE 'x%'`, `name ILIKE ...`).
fn name_filter(filter: &str) -> ApiResult<Option<(Op, String)>> {
    for c in parse_filter(filter)? {
        if let (Entity::Attribute(k), FilterValue::Text(v)) = (&c.entity, &c.value)
            && k == "name"
        {
            return Ok(Some((c.op, v.clone())));
        }
    }
    Ok(None)
}

fn name_matches(name: &str, filter: &Option<(Op, String)>) -> bool {
    match filter {
        None => true,
        Some((Op::Eq, v)) => name == v,
        Some((Op::Ne, v)) => name != v,
        Some((Op::Like, v)) => like(name, v),
        Some((Op::ILike, v)) => like(&name.to_lowercase(), &v.to_lowercase()),
        Some(_) => true,
    }
}

async fn create_model(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let m = st.create_registered_model(req(&b, "name")?, s(&b, "description").unwrap_or_default(), &kvs(&b)).await?;
    Ok(Json(json!({ "registered_model": m.to_json() })))
}

async fn get_model(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    Ok(Json(json!({ "registered_model": st.registered_model(req(&b, "name")?).await?.to_json() })))
}

async fn search_models(st: &TrackingStore, b: &Value) -> ApiResult<Json<Value>> {
    let filter = name_filter(s(b, "filter").unwrap_or_default())?;
    let max = s(b, "max_results")
        .and_then(|m| m.parse().ok())
        .or_else(|| b.get("max_results").and_then(Value::as_u64).map(|m| m as usize))
        .unwrap_or(100);
    let offset: usize = s(b, "page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let mut models = Vec::new();
    for name in st.registered_model_names().await? {
        if name_matches(&name, &filter) {
            models.push(st.registered_model(&name).await?.to_json());
        }
    }
    let (models, next) = page(models, max.max(1), offset);
    let mut out = json!({ "registered_models": models });
    if let Some(n) = next {
        out["next_page_token"] = json!(n.to_string());
    }
    Ok(Json(out))
}

async fn search_models_get(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    search_models(&st, &json!(q)).await
}

async fn search_models_post(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    search_models(&st, &b).await
}

async fn rename_model(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let m = st.rename_registered_model(req(&b, "name")?, req(&b, "new_name")?).await?;
    Ok(Json(json!({ "registered_model": m.to_json() })))
}

async fn update_model(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let m = st.update_registered_model(req(&b, "name")?, s(&b, "description").unwrap_or_default()).await?;
    Ok(Json(json!({ "registered_model": m.to_json() })))
}

async fn delete_model(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.delete_registered_model(req(&b, "name")?).await?;
    Ok(Json(json!({})))
}

async fn set_model_tag(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.set_registered_model_tag(req(&b, "name")?, req(&b, "key")?, Some(s(&b, "value").unwrap_or_default())).await?;
    Ok(Json(json!({})))
}

async fn delete_model_tag(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.set_registered_model_tag(req(&b, "name")?, req(&b, "key")?, None).await?;
    Ok(Json(json!({})))
}

async fn latest_versions(st: &TrackingStore, b: &Value) -> ApiResult<Json<Value>> {
    let m = st.registered_model(req(b, "name")?).await?;
    let stages: Vec<String> = b
        .get("stages")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_lowercase)).collect())
        .unwrap_or_default();
    let versions: Vec<Value> = m
        .latest_versions
        .iter()
        .filter(|v| stages.is_empty() || stages.contains(&v.current_stage.to_lowercase()))
        .map(|v| v.to_json())
        .collect();
    Ok(Json(json!({ "model_versions": versions })))
}

async fn latest_versions_post(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    latest_versions(&st, &b).await
}

async fn latest_versions_get(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    latest_versions(&st, &json!(q)).await
}

/// Who is acting: the `X-Sextant-User` header (the Rust client sends $USER), else "anonymous".
fn who(headers: &HeaderMap) -> String {
    headers
        .get("x-sextant-user")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("anonymous")
        .to_string()
}

async fn set_alias(State(st): Shared, headers: HeaderMap, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.set_alias(req(&b, "name")?, req(&b, "alias")?, version(&b)?, &who(&headers)).await?;
    Ok(Json(json!({})))
}

async fn delete_alias(State(st): Shared, headers: HeaderMap, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.delete_alias(req(&b, "name")?, req(&b, "alias")?, &who(&headers)).await?;
    Ok(Json(json!({})))
}

async fn alias_history(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    let name = req(&b, "name")?;
    st.registered_model(name).await?;
    Ok(Json(json!({ "history": st.alias_history(name).await? })))
}

async fn get_by_alias(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    Ok(Json(json!({ "model_version": st.version_by_alias(req(&b, "name")?, req(&b, "alias")?).await?.to_json() })))
}

async fn create_version(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let source = req(&b, "source")?;
    // MLflow 3 names the logged model, or sends only its models:/<model_id> source.
    let model_id = s(&b, "model_id")
        .filter(|m| !m.is_empty())
        .or_else(|| source.strip_prefix("models:/").filter(|id| id.starts_with("m-") && !id.contains('/')))
        .unwrap_or_default();
    let v = st
        .create_model_version_of(
            req(&b, "name")?,
            source,
            s(&b, "run_id").unwrap_or_default(),
            s(&b, "run_link").unwrap_or_default(),
            s(&b, "description").unwrap_or_default(),
            &kvs(&b),
            model_id,
        )
        .await?;
    Ok(Json(json!({ "model_version": v.to_json() })))
}

async fn get_version(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    Ok(Json(json!({ "model_version": st.model_version(req(&b, "name")?, version(&b)?).await?.to_json() })))
}

async fn search_versions(st: &TrackingStore, b: &Value) -> ApiResult<Json<Value>> {
    let filter = name_filter(s(b, "filter").unwrap_or_default())?;
    let exact = filter.as_ref().filter(|(op, _)| *op == Op::Eq).map(|(_, n)| n.as_str());
    let versions: Vec<Value> = st
        .search_model_versions(exact)
        .await?
        .iter()
        .filter(|v| name_matches(&v.name, &filter))
        .map(|v| v.to_json())
        .collect();
    Ok(Json(json!({ "model_versions": versions })))
}

async fn search_versions_get(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    search_versions(&st, &json!(q)).await
}

async fn search_versions_post(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    search_versions(&st, &b).await
}

async fn update_version(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let v = st.update_model_version(req(&b, "name")?, version(&b)?, s(&b, "description"), None).await?;
    Ok(Json(json!({ "model_version": v.to_json() })))
}

async fn delete_version(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.delete_model_version(req(&b, "name")?, version(&b)?).await?;
    Ok(Json(json!({})))
}

async fn set_version_tag(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.set_model_version_tag(req(&b, "name")?, version(&b)?, req(&b, "key")?, Some(s(&b, "value").unwrap_or_default()))
        .await?;
    Ok(Json(json!({})))
}

async fn delete_version_tag(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    st.set_model_version_tag(req(&b, "name")?, version(&b)?, req(&b, "key")?, None).await?;
    Ok(Json(json!({})))
}

async fn transition_stage(State(st): Shared, Json(b): Json<Value>) -> ApiResult<Json<Value>> {
    let archive = match b.get("archive_existing_versions") {
        Some(Value::Bool(v)) => *v,
        Some(Value::String(v)) => v.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let v = st.update_model_version(req(&b, "name")?, version(&b)?, None, Some((req(&b, "stage")?, archive))).await?;
    Ok(Json(json!({ "model_version": v.to_json() })))
}

async fn download_uri(State(st): Shared, Query(q): Params) -> ApiResult<Json<Value>> {
    let b = json!(q);
    let v = st.model_version(req(&b, "name")?, version(&b)?).await?;
    // A logged model's version downloads from the model's own artifact folder.
    let uri = if v.model_id.is_empty() { v.source } else { st.logged_model(&v.model_id, true).await?.artifact_uri };
    Ok(Json(json!({ "artifact_uri": uri })))
}
