//! MLflow 3's logged models in the tracking store: a model logged from a run (or on its own) with
//! its artifact folder, params, tags, metrics and status, searched with MLflow's grammar.

use std::collections::BTreeMap;

use rand::RngCore;
use serde_json::{Value, json};
use sqlx::Row;

use crate::error::{ApiError, ApiResult};
use crate::search::{Clause, Entity, OrderBy, SortKey, Value as FilterValue, compare_number, compare_text};
use crate::store::{ACTIVE, DELETED, MetricPoint, TrackingStore, metric_value, now_ms};

pub const PENDING: &str = "LOGGED_MODEL_PENDING";
pub const READY: &str = "LOGGED_MODEL_READY";
pub const UPLOAD_FAILED: &str = "LOGGED_MODEL_UPLOAD_FAILED";

/// A point logged against a model, with the run and dataset it was measured in.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelMetric {
    pub model_id: String,
    pub point: MetricPoint,
    pub run_id: String,
    pub dataset_name: String,
    pub dataset_digest: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub model_type: String,
    pub source_run_id: String,
    pub status: String,
    pub status_message: String,
    pub artifact_uri: String,
    pub creation_ms: i64,
    pub updated_ms: i64,
    pub lifecycle_stage: String,
    pub tags: BTreeMap<String, String>,
    pub params: BTreeMap<String, String>,
    /// Every point, in logging order.
    pub metrics: Vec<ModelMetric>,
}

impl LoggedModel {
    /// MLflow's `LoggedModel` message.
    pub fn to_json(&self) -> Value {
        let kv =
            |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>();
        let metrics: Vec<Value> = self
            .metrics
            .iter()
            .map(|m| {
                let mut j = m.point.to_json();
                j["model_id"] = json!(m.model_id);
                j["run_id"] = json!(m.run_id);
                if !m.dataset_name.is_empty() {
                    j["dataset_name"] = json!(m.dataset_name);
                    j["dataset_digest"] = json!(m.dataset_digest);
                }
                j
            })
            .collect();
        json!({
            "info": {
                "model_id": self.model_id,
                "experiment_id": self.experiment_id.to_string(),
                "name": self.name,
                "creation_timestamp_ms": self.creation_ms,
                "last_updated_timestamp_ms": self.updated_ms,
                "artifact_uri": self.artifact_uri,
                "status": self.status,
                "status_message": self.status_message,
                "model_type": self.model_type,
                "source_run_id": self.source_run_id,
                "tags": kv(&self.tags),
            },
            "data": { "params": kv(&self.params), "metrics": metrics },
        })
    }

    /// The latest point of `key` (highest step, then latest time, then largest value), among the
    /// points of the given datasets (all points when none are given).
    fn latest(&self, key: &str, datasets: &[(String, Option<String>)]) -> Option<f64> {
        self.metrics
            .iter()
            .filter(|m| m.point.key == key && in_datasets(m, datasets))
            .max_by(|a, b| {
                (a.point.step, a.point.timestamp)
                    .cmp(&(b.point.step, b.point.timestamp))
                    .then(a.point.value.total_cmp(&b.point.value))
            })
            .map(|m| m.point.value)
    }

    fn attribute(&self, name: &str) -> Option<AttributeValue> {
        Some(match name {
            "name" => AttributeValue::Text(self.name.clone()),
            "model_id" => AttributeValue::Text(self.model_id.clone()),
            "model_type" => AttributeValue::Text(self.model_type.clone()),
            "source_run_id" => AttributeValue::Text(self.source_run_id.clone()),
            // Searched by the client's names: READY, PENDING, FAILED.
            "status" => AttributeValue::Text(status_name(&self.status).to_string()),
            "creation_timestamp_ms" | "creation_timestamp" | "creation_time" => {
                AttributeValue::Number(self.creation_ms as f64)
            }
            "last_updated_timestamp_ms" | "last_updated_timestamp" => AttributeValue::Number(self.updated_ms as f64),
            _ => return None,
        })
    }
}

enum AttributeValue {
    Text(String),
    Number(f64),
}

fn in_datasets(m: &ModelMetric, datasets: &[(String, Option<String>)]) -> bool {
    datasets.is_empty()
        || datasets
            .iter()
            .any(|(name, digest)| &m.dataset_name == name && digest.as_ref().is_none_or(|d| &m.dataset_digest == d))
}

/// The status as the Python client names it in filters.
fn status_name(status: &str) -> &str {
    match status {
        PENDING => "PENDING",
        READY => "READY",
        UPLOAD_FAILED => "FAILED",
        _ => "UNSPECIFIED",
    }
}

/// What a logged-model search asks for.
#[derive(Clone, Debug, Default)]
pub struct ModelSearch {
    pub experiment_ids: Vec<i64>,
    pub clauses: Vec<Clause>,
    /// (dataset name, digest): metric filters and orderings only look at these datasets' points.
    pub datasets: Vec<(String, Option<String>)>,
    pub order_by: Vec<OrderBy>,
}

/// Checks the filter's identifiers and values are ones logged models have.
pub fn check_model_filter(clauses: &[Clause]) -> ApiResult<()> {
    for c in clauses {
        if let Entity::Attribute(k) = &c.entity {
            let numeric = matches!(
                k.as_str(),
                "creation_timestamp_ms"
                    | "creation_timestamp"
                    | "creation_time"
                    | "last_updated_timestamp_ms"
                    | "last_updated_timestamp"
            );
            let text = matches!(k.as_str(), "name" | "model_id" | "model_type" | "status" | "source_run_id");
            if !numeric && !text {
                return Err(ApiError::InvalidParameter(format!("Invalid attribute key '{k}' for logged models")));
            }
            if k == "status"
                && let FilterValue::Text(v) = &c.value
                && !["READY", "PENDING", "FAILED", "UNSPECIFIED"].contains(&v.as_str())
            {
                return Err(ApiError::InvalidParameter(format!(
                    "Invalid status '{v}': expected READY, PENDING, FAILED or UNSPECIFIED"
                )));
            }
        }
    }
    Ok(())
}

fn matches(m: &LoggedModel, search: &ModelSearch) -> bool {
    // With datasets but no metric clause, only models measured on one of them qualify.
    if !search.datasets.is_empty()
        && !search.clauses.iter().any(|c| matches!(c.entity, Entity::Metric(_)))
        && !m.metrics.iter().any(|x| in_datasets(x, &search.datasets))
    {
        return false;
    }
    search.clauses.iter().all(|c| match &c.entity {
        Entity::Metric(k) => m.latest(k, &search.datasets).is_some_and(|v| compare_number(v, c.op, &c.value)),
        Entity::Param(k) => m.params.get(k).is_some_and(|v| compare_text(v, c.op, &c.value)),
        Entity::Tag(k) => m.tags.get(k).is_some_and(|v| compare_text(v, c.op, &c.value)),
        Entity::Attribute(k) => match m.attribute(k) {
            Some(AttributeValue::Text(v)) => compare_text(&v, c.op, &c.value),
            Some(AttributeValue::Number(v)) => compare_number(v, c.op, &c.value),
            None => false,
        },
    })
}

/// MLflow's order: the given terms (models without a key last), then newest first, then by id.
fn sort(models: &mut [LoggedModel], search: &ModelSearch) {
    models.sort_by(|a, b| {
        for o in &search.order_by {
            let key = |m: &LoggedModel| -> Option<SortKey> {
                match &o.entity {
                    Entity::Metric(k) => m.latest(k, &search.datasets).map(SortKey::Num),
                    Entity::Attribute(k) => match m.attribute(k)? {
                        AttributeValue::Text(t) => Some(SortKey::Text(t)),
                        AttributeValue::Number(n) => Some(SortKey::Num(n)),
                    },
                    Entity::Param(_) | Entity::Tag(_) => None,
                }
            };
            let ord = SortKey::compare_missing_last(key(a), key(b), o.ascending);
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        b.creation_ms.cmp(&a.creation_ms).then_with(|| a.model_id.cmp(&b.model_id))
    });
}

/// Refuses what MLflow refuses in a logged model's name.
fn check_name(name: &str) -> ApiResult<()> {
    if let Some(c) = name.chars().find(|c| "/:.%\"'".contains(*c)) {
        return Err(ApiError::InvalidParameter(format!(
            "Invalid model name '{name}': names may not contain '{c}' (nor any of / : . % \" ')"
        )));
    }
    Ok(())
}

fn missing(model_id: &str) -> ApiError {
    ApiError::NotFound(format!("Logged model with ID '{model_id}' not found."))
}

impl TrackingStore {
    /// Creates a PENDING model in an active experiment, its artifacts under
    /// `<experiment location>/models/<model_id>/artifacts`.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_logged_model(
        &self,
        experiment_id: &str,
        name: Option<&str>,
        model_type: &str,
        source_run_id: &str,
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> ApiResult<LoggedModel> {
        let e = self.experiment(experiment_id).await?;
        if e.lifecycle_stage != ACTIVE {
            return Err(ApiError::InvalidParameter(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is {}.",
                e.lifecycle_stage
            )));
        }
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let model_id = format!("m-{}", hex::encode(bytes));
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                check_name(n)?;
                n.to_string()
            }
            None => format!("model-{}", &model_id[2..10]),
        };
        if !source_run_id.is_empty() {
            self.run(source_run_id).await?;
        }
        let artifact_uri = format!("{}/models/{model_id}/artifacts", e.artifact_location.trim_end_matches('/'));
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        sqlx::query(
            "INSERT INTO logged_models (model_id, experiment_id, name, model_type, source_run_id, status, status_message, \
             artifact_uri, creation_ms, updated_ms, lifecycle_stage) VALUES ($1, $2, $3, $4, $5, $6, '', $7, $8, $8, $9)",
        )
        .bind(&model_id)
        .bind(e.experiment_id)
        .bind(&name)
        .bind(model_type)
        .bind(source_run_id)
        .bind(PENDING)
        .bind(&artifact_uri)
        .bind(now)
        .bind(ACTIVE)
        .execute(&mut *tx)
        .await?;
        for (table, items) in [("logged_model_params", params), ("logged_model_tags", tags)] {
            for (k, v) in items {
                let sql = format!(
                    "INSERT INTO {table} (model_id, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&model_id).bind(k).bind(v).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        self.logged_model(&model_id, false).await
    }

    /// A model with its tags, params and metrics; deleted ones only when `allow_deleted`.
    pub async fn logged_model(&self, model_id: &str, allow_deleted: bool) -> ApiResult<LoggedModel> {
        let models = self.load_logged_models("model_id = $1", &[model_id]).await?;
        models.into_iter().find(|m| allow_deleted || m.lifecycle_stage != DELETED).ok_or_else(|| missing(model_id))
    }

    /// Models matching `condition` (SQL over `logged_models`, with text parameters $1…).
    async fn load_logged_models(&self, condition: &str, binds: &[&str]) -> ApiResult<Vec<LoggedModel>> {
        let sql = format!(
            "SELECT model_id, experiment_id, name, model_type, source_run_id, status, status_message, artifact_uri, \
             creation_ms, updated_ms, lifecycle_stage FROM logged_models WHERE {condition}"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(*b);
        }
        let mut models = Vec::new();
        for r in q.fetch_all(self.pool()).await? {
            models.push(LoggedModel {
                model_id: r.try_get(0)?,
                experiment_id: r.try_get(1)?,
                name: r.try_get(2)?,
                model_type: r.try_get(3)?,
                source_run_id: r.try_get(4)?,
                status: r.try_get(5)?,
                status_message: r.try_get(6)?,
                artifact_uri: r.try_get(7)?,
                creation_ms: r.try_get(8)?,
                updated_ms: r.try_get(9)?,
                lifecycle_stage: r.try_get(10)?,
                tags: BTreeMap::new(),
                params: BTreeMap::new(),
                metrics: Vec::new(),
            });
        }
        for m in &mut models {
            for (table, into) in [("logged_model_tags", &mut m.tags), ("logged_model_params", &mut m.params)] {
                let sql = format!("SELECT key, value FROM {table} WHERE model_id = $1");
                for r in sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&m.model_id).fetch_all(self.pool()).await? {
                    into.insert(r.try_get(0)?, r.try_get(1)?);
                }
            }
            for r in sqlx::query(
                "SELECT key, value, timestamp, step, run_id, dataset_name, dataset_digest FROM logged_model_metrics \
                 WHERE model_id = $1",
            )
            .bind(&m.model_id)
            .fetch_all(self.pool())
            .await?
            {
                m.metrics.push(ModelMetric {
                    model_id: m.model_id.clone(),
                    point: MetricPoint {
                        key: r.try_get(0)?,
                        value: metric_value(&r, 1)?,
                        timestamp: r.try_get(2)?,
                        step: r.try_get(3)?,
                    },
                    run_id: r.try_get(4)?,
                    dataset_name: r.try_get(5)?,
                    dataset_digest: r.try_get(6)?,
                });
            }
        }
        Ok(models)
    }

    /// Marks the upload done (READY) or failed (UPLOAD_FAILED).
    pub async fn finalize_logged_model(&self, model_id: &str, status: &str) -> ApiResult<LoggedModel> {
        if status != READY && status != UPLOAD_FAILED {
            return Err(ApiError::InvalidParameter(format!(
                "Invalid status '{status}': a model is finalized as {READY} or {UPLOAD_FAILED}"
            )));
        }
        self.logged_model(model_id, true).await?;
        sqlx::query("UPDATE logged_models SET status = $1, updated_ms = $2 WHERE model_id = $3")
            .bind(status)
            .bind(now_ms())
            .bind(model_id)
            .execute(self.pool())
            .await?;
        self.logged_model(model_id, true).await
    }

    /// Soft delete: the model no longer shows in gets and searches.
    pub async fn delete_logged_model(&self, model_id: &str) -> ApiResult<()> {
        self.logged_model(model_id, false).await?;
        sqlx::query("UPDATE logged_models SET lifecycle_stage = $1, updated_ms = $2 WHERE model_id = $3")
            .bind(DELETED)
            .bind(now_ms())
            .bind(model_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Sets tags (the last write wins).
    pub async fn set_logged_model_tags(&self, model_id: &str, tags: &[(String, String)]) -> ApiResult<()> {
        self.logged_model(model_id, true).await?;
        let mut tx = self.db().begin_write().await?;
        for (k, v) in tags {
            sqlx::query(
                "INSERT INTO logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
            )
            .bind(model_id)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> ApiResult<()> {
        self.logged_model(model_id, true).await?;
        let done = sqlx::query("DELETE FROM logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(model_id)
            .bind(key)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(ApiError::NotFound(format!("No tag with key '{key}' on logged model '{model_id}'.")));
        }
        Ok(())
    }

    /// Logs params; a param keeps its first value, as run params do.
    pub async fn log_logged_model_params(&self, model_id: &str, params: &[(String, String)]) -> ApiResult<()> {
        let model = self.logged_model(model_id, true).await?;
        for (k, v) in params {
            if let Some(old) = model.params.get(k)
                && old != v
            {
                return Err(ApiError::InvalidParameter(format!(
                    "Changing param values is not allowed. Param with key='{k}' was already logged with value='{old}' for logged model ID='{model_id}'. Attempted logging new value '{v}'."
                )));
            }
        }
        let mut tx = self.db().begin_write().await?;
        for (k, v) in params {
            sqlx::query(
                "INSERT INTO logged_model_params (model_id, key, value) VALUES ($1, $2, $3) \
                 ON CONFLICT (model_id, key) DO NOTHING",
            )
            .bind(model_id)
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The active models of the experiments that match, in order.
    pub async fn search_logged_models(&self, search: &ModelSearch) -> ApiResult<Vec<LoggedModel>> {
        check_model_filter(&search.clauses)?;
        if search.order_by.iter().any(|o| matches!(o.entity, Entity::Param(_) | Entity::Tag(_))) {
            return Err(ApiError::InvalidParameter("Logged models can be ordered by attributes and metrics".into()));
        }
        let mut models = Vec::new();
        for id in &search.experiment_ids {
            let id = id.to_string();
            let condition = "experiment_id = CAST($1 AS BIGINT) AND lifecycle_stage = 'active'";
            models.extend(self.load_logged_models(condition, &[id.as_str()]).await?);
        }
        models.retain(|m| matches(m, search));
        sort(&mut models, search);
        Ok(models)
    }

    /// Records that a run produced these models (MLflow's run outputs).
    pub async fn log_run_outputs(&self, run_id: &str, outputs: &[(String, i64)]) -> ApiResult<()> {
        self.run(run_id).await?;
        for (model_id, _) in outputs {
            self.logged_model(model_id, true).await?;
        }
        let mut tx = self.db().begin_write().await?;
        for (model_id, step) in outputs {
            sqlx::query(
                "INSERT INTO run_model_outputs (run_id, model_id, step) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step",
            )
            .bind(run_id)
            .bind(model_id)
            .bind(step)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A run's outputs as MLflow's `RunOutputs` message.
    pub async fn run_outputs_json(&self, run_id: &str) -> ApiResult<Value> {
        let rows =
            sqlx::query("SELECT model_id, step FROM run_model_outputs WHERE run_id = $1 ORDER BY step, model_id")
                .bind(run_id)
                .fetch_all(self.pool())
                .await?;
        let outputs = rows
            .iter()
            .map(|r| Ok(json!({ "model_id": r.try_get::<String, _>(0)?, "step": r.try_get::<i64, _>(1)? })))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(if outputs.is_empty() { json!({}) } else { json!({ "model_outputs": outputs }) })
    }

    /// Stores points logged against models (inside the run's batch transaction).
    pub(crate) async fn insert_model_metrics(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        metrics: &[ModelMetric],
    ) -> ApiResult<()> {
        for m in metrics {
            sqlx::query(
                "INSERT INTO logged_model_metrics (model_id, key, value, timestamp, step, run_id, dataset_name, dataset_digest) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&m.model_id)
            .bind(&m.point.key)
            .bind(m.point.value)
            .bind(m.point.timestamp)
            .bind(m.point.step)
            .bind(&m.run_id)
            .bind(&m.dataset_name)
            .bind(&m.dataset_digest)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
