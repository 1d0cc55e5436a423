//! MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/…`) over the project's
//! artifact store (object_store), so `log_artifact` and `download_artifacts` work unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use engine::storage::{ArtifactStore, StorageError};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

type Shared = State<Arc<ArtifactStore>>;

/// Artifacts of up to 1 GiB per request; larger ones belong in the multipart upload (to come).
const MAX_ARTIFACT_BYTES: usize = 1 << 30;

pub fn routes(store: ArtifactStore) -> Router {
    Router::new()
        .route("/artifacts", get(list))
        .route("/artifacts/{*path}", get(download).put(upload).delete(remove))
        .layer(DefaultBodyLimit::max(MAX_ARTIFACT_BYTES))
        .with_state(Arc::new(store))
}

/// Keys must stay inside the store: no absolute paths, no `..`.
fn clean(path: &str) -> ApiResult<String> {
    let p = path.trim_matches('/');
    if p.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(ApiError::InvalidParameter(format!("Invalid artifact path: '{path}'")));
    }
    Ok(p.to_string())
}

fn storage_error(path: &str, e: StorageError) -> ApiError {
    let text = e.to_string();
    if text.contains("not found") || text.contains("NotFound") || text.contains("No such file") {
        ApiError::NotFound(format!("Artifact '{path}' does not exist"))
    } else {
        ApiError::Internal(text)
    }
}

async fn upload(State(s): Shared, Path(path): Path<String>, body: Bytes) -> ApiResult<Json<Value>> {
    let key = clean(&path)?;
    s.put(&key, body).await.map_err(|e| storage_error(&key, e))?;
    Ok(Json(json!({})))
}

async fn download(State(s): Shared, Path(path): Path<String>) -> ApiResult<Bytes> {
    let key = clean(&path)?;
    s.get(&key).await.map_err(|e| storage_error(&key, e))
}

async fn remove(State(s): Shared, Path(path): Path<String>) -> ApiResult<Json<Value>> {
    let key = clean(&path)?;
    for item in s.list(&key).await.map_err(|e| storage_error(&key, e))? {
        s.delete(&item.key).await.map_err(|e| storage_error(&item.key, e))?;
    }
    if s.exists(&key).await.map_err(|e| storage_error(&key, e))? {
        s.delete(&key).await.map_err(|e| storage_error(&key, e))?;
    }
    Ok(Json(json!({})))
}

/// The direct children of a directory: files with their sizes, and subdirectories.
async fn list(State(s): Shared, Query(q): Query<BTreeMap<String, String>>) -> ApiResult<Json<Value>> {
    let dir = clean(q.get("path").map(String::as_str).unwrap_or_default())?;
    let items = s.list(&dir).await.map_err(|e| storage_error(&dir, e))?;
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    let mut entries: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for item in items {
        let Some(rest) = item.key.strip_prefix(&prefix) else { continue };
        match rest.split_once('/') {
            Some((sub, _)) => {
                entries.insert(sub.to_string(), None);
            }
            None if !rest.is_empty() => {
                entries.insert(rest.to_string(), Some(item.size));
            }
            None => {}
        }
    }
    let files: Vec<Value> = entries
        .into_iter()
        .map(|(path, size)| match size {
            Some(bytes) => json!({ "path": path, "is_dir": false, "file_size": bytes }),
            None => json!({ "path": path, "is_dir": true }),
        })
        .collect();
    Ok(Json(json!({ "files": files })))
}
