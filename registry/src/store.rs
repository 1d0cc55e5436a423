//! The tracking store: experiments, runs, params, metrics and tags in the project's database
//! (SQLite or PostgreSQL through sqlx), with MLflow's rules for what may be logged.

use std::collections::BTreeMap;

use engine::storage::{Backend, Database};
use rand::RngCore;
use sqlx::Row;

use crate::error::{ApiError, ApiResult};
pub use crate::records::{Experiment, MetricPoint, Run};

pub const ACTIVE: &str = "active";
pub const DELETED: &str = "deleted";
/// MLflow's limits on one log-batch call.
pub const MAX_BATCH_METRICS: usize = 1000;
pub const MAX_BATCH_PARAMS: usize = 100;
pub const MAX_BATCH_TAGS: usize = 100;
pub const MAX_BATCH_ITEMS: usize = 1000;
const MAX_PARAM_VALUE: usize = 6000;
const MAX_TAG_VALUE: usize = 8000;
/// Rows per multi-row INSERT: well inside SQLite's and PostgreSQL's limits on bound values.
const METRIC_ROWS_PER_STATEMENT: usize = 200;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// What happened to a run, announced once it is committed (see [`TrackingStore::subscribe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunChangeKind {
    Created,
    /// Status, end time or name.
    Updated,
    /// Metrics, params or tags logged (log-metric, log-param, set-tag, log-batch).
    Logged,
    TagDeleted,
    Deleted,
    Restored,
}

/// A committed change to a run, for whoever shows runs live (the web control plane's pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunChange {
    pub run_id: String,
    pub experiment_id: i64,
    pub kind: RunChangeKind,
}

/// Changes a subscriber may fall behind by before it is told it lagged (and re-reads).
const CHANGE_BACKLOG: usize = 1024;

/// The tracking store over the project's database.
#[derive(Clone, Debug)]
pub struct TrackingStore {
    db: Database,
    changes: tokio::sync::broadcast::Sender<RunChange>,
}

fn parse_id(what: &str, id: &str) -> ApiResult<i64> {
    id.trim().parse().map_err(|_| ApiError::InvalidParameter(format!("{what} '{id}' is not a valid id")))
}

impl TrackingStore {
    pub fn new(db: Database) -> Self {
        Self { db, changes: tokio::sync::broadcast::channel(CHANGE_BACKLOG).0 }
    }

    /// Every run change committed through this store (or a clone of it) from now on. Nobody has
    /// to listen: with no subscriber a change is dropped at no cost.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<RunChange> {
        self.changes.subscribe()
    }

    fn announce(&self, run_id: &str, experiment_id: i64, kind: RunChangeKind) {
        let _ = self.changes.send(RunChange { run_id: run_id.to_owned(), experiment_id, kind });
    }

    pub(crate) fn backend(&self) -> Backend {
        self.db.backend()
    }

    pub(crate) fn pool(&self) -> &sqlx::AnyPool {
        self.db.pool()
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    pub async fn create_experiment(
        &self,
        name: &str,
        artifact_location: Option<&str>,
        tags: &[(String, String)],
    ) -> ApiResult<i64> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ApiError::InvalidParameter("Invalid experiment name: ''".into()));
        }
        if self.experiment_by_name(name).await?.is_some() {
            return Err(ApiError::AlreadyExists(format!("Experiment(name={name}) already exists.")));
        }
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) \
             VALUES ($1, '', $2, $3, $4) RETURNING experiment_id",
        )
        .bind(name)
        .bind(ACTIVE)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        let location = artifact_location.map(str::to_string).unwrap_or_else(|| format!("mlflow-artifacts:/{id}"));
        sqlx::query("UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2")
            .bind(&location)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for (k, v) in tags {
            sqlx::query("INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn experiment_tags(&self, id: i64) -> ApiResult<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT key, value FROM experiment_tags WHERE experiment_id = $1")
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn experiment_from_row(&self, r: &sqlx::any::AnyRow) -> ApiResult<Experiment> {
        let id: i64 = r.try_get("experiment_id")?;
        Ok(Experiment {
            experiment_id: id,
            name: r.try_get("name")?,
            artifact_location: r.try_get("artifact_location")?,
            lifecycle_stage: r.try_get("lifecycle_stage")?,
            creation_time: r.try_get("creation_time")?,
            last_update_time: r.try_get("last_update_time")?,
            tags: self.experiment_tags(id).await?,
        })
    }

    const EXPERIMENT_COLUMNS: &'static str =
        "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

    pub async fn experiment(&self, id: &str) -> ApiResult<Experiment> {
        let n = parse_id("experiment_id", id)?;
        let sql = format!("SELECT {} FROM experiments WHERE experiment_id = $1", Self::EXPERIMENT_COLUMNS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(n).fetch_optional(self.pool()).await?;
        match row {
            Some(r) => self.experiment_from_row(&r).await,
            None => Err(ApiError::NotFound(format!("No Experiment with id={id} exists"))),
        }
    }

    pub async fn experiment_by_name(&self, name: &str) -> ApiResult<Option<Experiment>> {
        let sql = format!("SELECT {} FROM experiments WHERE name = $1", Self::EXPERIMENT_COLUMNS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(self.pool()).await?;
        match row {
            Some(r) => Ok(Some(self.experiment_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// Experiments in a lifecycle view (ACTIVE_ONLY, DELETED_ONLY, ALL), newest first, paged by offset.
    pub async fn search_experiments(
        &self,
        view: &str,
        max_results: usize,
        offset: usize,
    ) -> ApiResult<(Vec<Experiment>, Option<usize>)> {
        let sql = format!(
            "SELECT {} FROM experiments ORDER BY creation_time DESC, experiment_id DESC",
            Self::EXPERIMENT_COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(self.pool()).await?;
        let mut all = Vec::new();
        for r in &rows {
            let e = self.experiment_from_row(r).await?;
            if view_accepts(view, &e.lifecycle_stage) {
                all.push(e);
            }
        }
        Ok(page(all, max_results, offset))
    }

    pub async fn set_experiment_stage(&self, id: &str, stage: &str) -> ApiResult<()> {
        let e = self.experiment(id).await?;
        if e.experiment_id == 0 && stage == DELETED {
            return Err(ApiError::InvalidParameter("Cannot delete the default experiment '0'.".into()));
        }
        sqlx::query("UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3")
            .bind(stage)
            .bind(now_ms())
            .bind(e.experiment_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn rename_experiment(&self, id: &str, new_name: &str) -> ApiResult<()> {
        let e = self.experiment(id).await?;
        if e.lifecycle_stage != ACTIVE {
            return Err(ApiError::InvalidState(format!("Cannot rename a non-active experiment {id}.")));
        }
        if self.experiment_by_name(new_name).await?.is_some_and(|x| x.experiment_id != e.experiment_id) {
            return Err(ApiError::AlreadyExists(format!("Experiment(name={new_name}) already exists.")));
        }
        sqlx::query("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3")
            .bind(new_name)
            .bind(now_ms())
            .bind(e.experiment_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_experiment_tag(&self, id: &str, key: &str, value: &str) -> ApiResult<()> {
        let e = self.experiment(id).await?;
        upsert(self.pool(), "experiment_tags", "experiment_id", &e.experiment_id.to_string(), key, value, true).await
    }

    pub async fn create_run(
        &self,
        experiment_id: &str,
        user_id: &str,
        run_name: Option<&str>,
        start_time: Option<i64>,
        tags: &[(String, String)],
    ) -> ApiResult<Run> {
        // Only the two columns a new run needs (not the experiment's tags).
        let id = parse_id("experiment_id", experiment_id)?;
        let row = sqlx::query("SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("No Experiment with id={experiment_id} exists")))?;
        let (stage, location): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if stage != ACTIVE {
            return Err(ApiError::InvalidState(format!(
                "The experiment {experiment_id} must be in the 'active' state. Current state is {stage}."
            )));
        }
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let run_id = hex::encode(bytes);
        let tag_name = tags.iter().find(|(k, _)| k == "mlflow.runName").map(|(_, v)| v.clone());
        let run_name = run_name.map(str::to_string).or(tag_name).unwrap_or_else(|| format!("run-{}", &run_id[..8]));
        let start = start_time.unwrap_or_else(now_ms);
        let artifact_uri = format!("{}/{run_id}/artifacts", location.trim_end_matches('/'));
        // The tags as stored: a later duplicate key wins, and the run's name is always a tag.
        let mut all_tags: BTreeMap<String, String> = tags.iter().cloned().collect();
        all_tags.entry("mlflow.runName".into()).or_insert_with(|| run_name.clone());
        let mut tx = self.db().begin_write().await?;
        sqlx::query(
            "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage) \
             VALUES ($1, $2, $3, $4, 'RUNNING', $5, NULL, $6, $7)",
        )
        .bind(&run_id)
        .bind(id)
        .bind(&run_name)
        .bind(user_id)
        .bind(start)
        .bind(&artifact_uri)
        .bind(ACTIVE)
        .execute(&mut *tx)
        .await?;
        // Multi-row statements (keys are unique in the map).
        let tag_rows: Vec<(&String, &String)> = all_tags.iter().collect();
        for chunk in tag_rows.chunks(METRIC_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO run_tags (run_id, key, value) VALUES {}",
                value_rows(self.backend(), chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (k, v) in chunk {
                q = q.bind(&run_id).bind(*k).bind(*v);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.announce(&run_id, id, RunChangeKind::Created);
        // What was just written, without reading it back.
        Ok(Run {
            run_id,
            experiment_id: id,
            run_name,
            user_id: user_id.to_string(),
            status: "RUNNING".into(),
            start_time: start,
            end_time: None,
            artifact_uri,
            lifecycle_stage: ACTIVE.into(),
            metrics: BTreeMap::new(),
            params: BTreeMap::new(),
            tags: all_tags,
        })
    }

    pub async fn run(&self, run_id: &str) -> ApiResult<Run> {
        let row = sqlx::query(
            "SELECT run_id, experiment_id, run_name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage \
             FROM runs WHERE run_id = $1",
        )
        .bind(run_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Run with id={run_id} not found")))?;
        let mut run = run_from_row(&row)?;
        self.fill_data(std::slice::from_mut(&mut run)).await?;
        Ok(run)
    }

    /// Loads metrics, params and tags of the given runs.
    async fn fill_data(&self, runs: &mut [Run]) -> ApiResult<()> {
        for run in runs.iter_mut() {
            let id = run.run_id.clone();
            for r in sqlx::query("SELECT key, value, timestamp, step FROM run_latest_metrics WHERE run_id = $1")
                .bind(&id)
                .fetch_all(self.pool())
                .await?
            {
                let key: String = r.try_get(0)?;
                run.metrics.insert(
                    key.clone(),
                    MetricPoint { key, value: metric_value(&r, 1)?, timestamp: r.try_get(2)?, step: r.try_get(3)? },
                );
            }
            for r in sqlx::query("SELECT key, value FROM run_params WHERE run_id = $1")
                .bind(&id)
                .fetch_all(self.pool())
                .await?
            {
                run.params.insert(r.try_get(0)?, r.try_get(1)?);
            }
            for r in sqlx::query("SELECT key, value FROM run_tags WHERE run_id = $1")
                .bind(&id)
                .fetch_all(self.pool())
                .await?
            {
                run.tags.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        Ok(())
    }

    /// Checks the run exists and is active; returns its params when asked.
    /// The run's experiment and (when asked) its params, once it is known to be active.
    async fn batch_target(&self, run_id: &str, with_params: bool) -> ApiResult<(i64, BTreeMap<String, String>)> {
        let row = sqlx::query("SELECT lifecycle_stage, experiment_id FROM runs WHERE run_id = $1")
            .bind(run_id)
            .fetch_optional(self.pool())
            .await?;
        let (stage, experiment_id): (Option<String>, i64) = match &row {
            Some(r) => (Some(r.try_get(0)?), r.try_get(1)?),
            None => (None, 0),
        };
        match stage.as_deref() {
            None => return Err(ApiError::NotFound(format!("Run with id={run_id} not found"))),
            Some(ACTIVE) => {}
            Some(other) => {
                return Err(ApiError::InvalidState(format!(
                    "The run {run_id} must be in the 'active' state. Current state is {other}."
                )));
            }
        }
        let mut params = BTreeMap::new();
        if with_params {
            for r in sqlx::query("SELECT key, value FROM run_params WHERE run_id = $1")
                .bind(run_id)
                .fetch_all(self.pool())
                .await?
            {
                params.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        Ok((experiment_id, params))
    }

    async fn active_run(&self, run_id: &str) -> ApiResult<Run> {
        let run = self.run(run_id).await?;
        if run.lifecycle_stage != ACTIVE {
            return Err(ApiError::InvalidState(format!(
                "The run {run_id} must be in the 'active' state. Current state is {}.",
                run.lifecycle_stage
            )));
        }
        Ok(run)
    }

    pub async fn update_run(
        &self,
        run_id: &str,
        status: Option<&str>,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> ApiResult<Run> {
        let run = self.active_run(run_id).await?;
        if let Some(s) = status
            && !["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"].contains(&s)
        {
            return Err(ApiError::InvalidParameter(format!("Invalid run status '{s}'")));
        }
        sqlx::query("UPDATE runs SET status = $1, end_time = $2, run_name = $3 WHERE run_id = $4")
            .bind(status.unwrap_or(&run.status))
            .bind(end_time.or(run.end_time))
            .bind(run_name.unwrap_or(&run.run_name))
            .bind(run_id)
            .execute(self.pool())
            .await?;
        if let Some(name) = run_name {
            upsert(self.pool(), "run_tags", "run_id", run_id, "mlflow.runName", name, true).await?;
        }
        self.announce(run_id, run.experiment_id, RunChangeKind::Updated);
        self.run(run_id).await
    }

    pub async fn set_run_stage(&self, run_id: &str, stage: &str) -> ApiResult<()> {
        let run = self.run(run_id).await?;
        sqlx::query("UPDATE runs SET lifecycle_stage = $1 WHERE run_id = $2")
            .bind(stage)
            .bind(run_id)
            .execute(self.pool())
            .await?;
        let kind = if stage == ACTIVE { RunChangeKind::Restored } else { RunChangeKind::Deleted };
        self.announce(run_id, run.experiment_id, kind);
        Ok(())
    }

    pub async fn log_batch(
        &self,
        run_id: &str,
        metrics: &[MetricPoint],
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> ApiResult<()> {
        self.log_batch_linked(run_id, metrics, params, tags, &[]).await
    }

    /// [`Self::log_batch`] where some points were also measured on logged models (MLflow 3's
    /// `model_id` on a metric): those are stored for the models too, in the same transaction.
    pub async fn log_batch_linked(
        &self,
        run_id: &str,
        metrics: &[MetricPoint],
        params: &[(String, String)],
        tags: &[(String, String)],
        model_metrics: &[crate::logged_models::ModelMetric],
    ) -> ApiResult<()> {
        if metrics.len() > MAX_BATCH_METRICS
            || params.len() > MAX_BATCH_PARAMS
            || tags.len() > MAX_BATCH_TAGS
            || metrics.len() + params.len() + tags.len() > MAX_BATCH_ITEMS
        {
            return Err(ApiError::InvalidParameter(format!(
                "A batch logging request can contain at most {MAX_BATCH_METRICS} metrics, {MAX_BATCH_PARAMS} params and {MAX_BATCH_TAGS} tags ({MAX_BATCH_ITEMS} items in all); got {} metrics, {} params, {} tags",
                metrics.len(),
                params.len(),
                tags.len()
            )));
        }
        // Only what the rules need: the run's state, and its params when params are logged (a run
        // with thousands of metrics is not loaded on every batch).
        let (experiment_id, existing) = self.batch_target(run_id, !params.is_empty()).await?;
        // MLflow refuses a batch naming a param twice, whatever the values.
        let mut seen = std::collections::BTreeSet::new();
        let dupes: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).filter(|k| !seen.insert(*k)).collect();
        if !dupes.is_empty() {
            let listed = dupes.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
            return Err(ApiError::InvalidParameter(format!(
                "Duplicate parameter keys have been submitted: [{listed}]. Please ensure the request contains only one param value per param key."
            )));
        }
        for (k, v) in params {
            check_key("param", k)?;
            if v.len() > MAX_PARAM_VALUE {
                return Err(ApiError::InvalidParameter(format!(
                    "Param value for key '{k}' exceeds {MAX_PARAM_VALUE} characters"
                )));
            }
            if let Some(old) = existing.get(k)
                && old != v
            {
                return Err(ApiError::InvalidParameter(format!(
                    "Changing param values is not allowed. Param with key='{k}' was already logged with value='{old}' for run ID='{run_id}'. Attempted logging new value '{v}'."
                )));
            }
        }
        for (k, v) in tags {
            check_key("tag", k)?;
            if v.len() > MAX_TAG_VALUE {
                return Err(ApiError::InvalidParameter(format!(
                    "Tag value for key '{k}' exceeds {MAX_TAG_VALUE} characters"
                )));
            }
        }
        for m in metrics {
            check_key("metric", &m.key)?;
        }
        let mut models: Vec<&str> = model_metrics.iter().map(|m| m.model_id.as_str()).collect();
        models.sort_unstable();
        models.dedup();
        for id in models {
            self.logged_model(id, true).await?;
        }
        let mut tx = self.db().begin_write().await?;
        if self.backend() == Backend::Postgres {
            // Writers of one run take turns (SQLite's IMMEDIATE transaction already does): the
            // metric sequence numbers below are counted from the run's last point.
            sqlx::query("SELECT 1 FROM runs WHERE run_id = $1 FOR UPDATE")
                .bind(run_id)
                .fetch_optional(&mut *tx)
                .await?;
        }
        // Multi-row statements; within one batch a repeated tag's last value wins (one row per
        // key, so PostgreSQL's upsert never touches a row twice); params are unique (checked).
        let unique_tags: BTreeMap<&str, &str> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for chunk in params.chunks(METRIC_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO run_params (run_id, key, value) VALUES {} ON CONFLICT (run_id, key) DO NOTHING",
                value_rows(self.backend(), chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (k, v) in chunk {
                q = q.bind(run_id).bind(k).bind(v);
            }
            q.execute(&mut *tx).await?;
        }
        if let Some(name) = unique_tags.get("mlflow.runName") {
            sqlx::query("UPDATE runs SET run_name = $1 WHERE run_id = $2")
                .bind(*name)
                .bind(run_id)
                .execute(&mut *tx)
                .await?;
        }
        let tag_rows: Vec<(&str, &str)> = unique_tags.into_iter().collect();
        for chunk in tag_rows.chunks(METRIC_ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO run_tags (run_id, key, value) VALUES {} ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                value_rows(self.backend(), chunk.len(), 3)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (k, v) in chunk {
                q = q.bind(run_id).bind(*k).bind(*v);
            }
            q.execute(&mut *tx).await?;
        }
        if !metrics.is_empty() {
            let next: i64 = sqlx::query("SELECT COALESCE(MAX(seq), -1) + 1 FROM run_metrics WHERE run_id = $1")
                .bind(run_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            // Multi-row statements: a batch of 1,000 points is a handful of round trips, not 2,000.
            for (c, chunk) in metrics.chunks(METRIC_ROWS_PER_STATEMENT).enumerate() {
                let rows = value_rows(self.backend(), chunk.len(), 6);
                let sql = format!("INSERT INTO run_metrics (run_id, key, seq, value, timestamp, step) VALUES {rows}");
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (i, m) in chunk.iter().enumerate() {
                    let seq = next + (c * METRIC_ROWS_PER_STATEMENT + i) as i64;
                    q = q.bind(run_id).bind(&m.key).bind(seq).bind(m.value).bind(m.timestamp).bind(m.step);
                }
                q.execute(&mut *tx).await?;
            }
            // The latest value per key is the one at the highest step, then the latest time (a
            // later point of the batch wins a tie, as it would logged alone); one row per key, so
            // the upsert never touches a row twice.
            let mut latest: std::collections::BTreeMap<&str, &MetricPoint> = std::collections::BTreeMap::new();
            for m in metrics {
                let newer = latest.get(m.key.as_str()).is_none_or(|o| (m.step, m.timestamp) >= (o.step, o.timestamp));
                if newer {
                    latest.insert(&m.key, m);
                }
            }
            let latest: Vec<&MetricPoint> = latest.into_values().collect();
            // SQLite keeps the value's bits beside it for reading (see migration 0009).
            let bits = self.backend() == Backend::Sqlite;
            let (bits_column, bits_update) =
                if bits { (", value_bits", ", value_bits = excluded.value_bits") } else { ("", "") };
            for chunk in latest.chunks(METRIC_ROWS_PER_STATEMENT) {
                let rows = value_rows(self.backend(), chunk.len(), 5 + usize::from(bits));
                let sql = format!(
                    "INSERT INTO run_latest_metrics (run_id, key, value, timestamp, step{bits_column}) VALUES {rows} \
                     ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step{bits_update} \
                     WHERE excluded.step > run_latest_metrics.step \
                        OR (excluded.step = run_latest_metrics.step AND excluded.timestamp >= run_latest_metrics.timestamp)"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                for m in chunk {
                    q = q.bind(run_id).bind(&m.key).bind(m.value).bind(m.timestamp).bind(m.step);
                    if bits {
                        q = q.bind(m.value.to_bits() as i64);
                    }
                }
                q.execute(&mut *tx).await?;
            }
        }
        Self::insert_model_metrics(&mut tx, model_metrics).await?;
        crate::run_pages::record_keys(
            &mut tx,
            self.backend(),
            experiment_id,
            params.iter().map(|(k, _)| k.as_str()),
            metrics.iter().map(|m| m.key.as_str()),
        )
        .await?;
        tx.commit().await?;
        self.announce(run_id, experiment_id, RunChangeKind::Logged);
        Ok(())
    }

    pub async fn delete_tag(&self, run_id: &str, key: &str) -> ApiResult<()> {
        let run = self.active_run(run_id).await?;
        if !run.tags.contains_key(key) {
            return Err(ApiError::NotFound(format!("No tag with name: {key} in run with id {run_id}")));
        }
        sqlx::query("DELETE FROM run_tags WHERE run_id = $1 AND key = $2")
            .bind(run_id)
            .bind(key)
            .execute(self.pool())
            .await?;
        self.announce(run_id, run.experiment_id, RunChangeKind::TagDeleted);
        Ok(())
    }

    /// Every logged point of a metric, in logging order, paged by offset.
    pub async fn metric_history(
        &self,
        run_id: &str,
        key: &str,
        max_results: usize,
        offset: usize,
    ) -> ApiResult<(Vec<MetricPoint>, Option<usize>)> {
        self.run(run_id).await?;
        let rows = sqlx::query("SELECT value, timestamp, step FROM run_metrics WHERE run_id = $1 AND key = $2 ORDER BY seq LIMIT $3 OFFSET $4")
            .bind(run_id)
            .bind(key)
            .bind((max_results + 1) as i64)
            .bind(offset as i64)
            .fetch_all(self.pool())
            .await?;
        let mut points: Vec<MetricPoint> = rows
            .iter()
            .map(|r| {
                Ok(MetricPoint {
                    key: key.to_string(),
                    value: metric_value(r, 0)?,
                    timestamp: r.try_get(1)?,
                    step: r.try_get(2)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        let next = (points.len() > max_results).then(|| {
            points.truncate(max_results);
            offset + max_results
        });
        Ok((points, next))
    }

    /// Runs of the given experiments in a lifecycle view, with their data: four queries in all,
    /// whatever the number of runs.
    pub async fn runs_of(&self, experiment_ids: &[i64], view: &str) -> ApiResult<Vec<Run>> {
        if experiment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (1..=experiment_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let run_sql = format!(
            "SELECT run_id, experiment_id, run_name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage \
             FROM runs WHERE experiment_id IN ({list})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(run_sql));
        for id in experiment_ids {
            q = q.bind(*id);
        }
        let mut runs: Vec<Run> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for r in q.fetch_all(self.pool()).await? {
            let run = run_from_row(&r)?;
            if view_accepts(view, &run.lifecycle_stage) {
                index.insert(run.run_id.clone(), runs.len());
                runs.push(run);
            }
        }
        let joined = |table: &str, columns: &str| {
            format!(
                "SELECT t.run_id, {columns} FROM {table} t JOIN runs r ON r.run_id = t.run_id WHERE r.experiment_id IN ({list})"
            )
        };
        let mut q =
            sqlx::query(sqlx::AssertSqlSafe(joined("run_latest_metrics", "t.key, t.value, t.timestamp, t.step")));
        for id in experiment_ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(self.pool()).await? {
            let run_id: String = r.try_get(0)?;
            if let Some(&k) = index.get(&run_id) {
                let point = latest_metric_from_row(&r)?;
                runs[k].metrics.insert(point.key.clone(), point);
            }
        }
        for (table, is_tag) in [("run_params", false), ("run_tags", true)] {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(joined(table, "t.key, t.value")));
            for id in experiment_ids {
                q = q.bind(*id);
            }
            for r in q.fetch_all(self.pool()).await? {
                let run_id: String = r.try_get(0)?;
                if let Some(&k) = index.get(&run_id) {
                    let (key, value): (String, String) = (r.try_get(1)?, r.try_get(2)?);
                    if is_tag {
                        runs[k].tags.insert(key, value);
                    } else {
                        runs[k].params.insert(key, value);
                    }
                }
            }
        }
        Ok(runs)
    }
}

fn check_key(what: &str, key: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > 250 || key.starts_with('/') || key.contains("..") {
        return Err(ApiError::InvalidParameter(format!("Invalid {what} name: '{key}'")));
    }
    Ok(())
}

/// A stored metric value: SQLite keeps a NaN as NULL, so NULL reads back as NaN.
pub(crate) fn metric_value(row: &sqlx::any::AnyRow, index: usize) -> Result<f64, sqlx::Error> {
    Ok(row.try_get::<Option<f64>, _>(index)?.unwrap_or(f64::NAN))
}

pub(crate) fn run_from_row(r: &sqlx::any::AnyRow) -> ApiResult<Run> {
    Ok(Run {
        run_id: r.try_get(0)?,
        experiment_id: r.try_get(1)?,
        run_name: r.try_get(2)?,
        user_id: r.try_get(3)?,
        status: r.try_get(4)?,
        start_time: r.try_get(5)?,
        end_time: r.try_get(6)?,
        artifact_uri: r.try_get(7)?,
        lifecycle_stage: r.try_get(8)?,
        metrics: BTreeMap::new(),
        params: BTreeMap::new(),
        tags: BTreeMap::new(),
    })
}

pub fn view_accepts(view: &str, stage: &str) -> bool {
    match view {
        "DELETED_ONLY" | "2" => stage == DELETED,
        "ALL" | "3" => true,
        _ => stage == ACTIVE,
    }
}

/// A page of `items` starting at `offset`, and the next offset if more remain.
/// A latest-metric row read as `run_id, key, value, timestamp, step`.
pub(crate) fn latest_metric_from_row(row: &sqlx::any::AnyRow) -> ApiResult<MetricPoint> {
    Ok(MetricPoint {
        key: row.try_get(1)?,
        value: metric_value(row, 2)?,
        timestamp: row.try_get(3)?,
        step: row.try_get(4)?,
    })
}

/// `rows` groups of `columns` placeholders for a multi-row `VALUES` list, bound in order:
/// `($1, $2), ($3, $4)` for 2 rows of 2 on PostgreSQL, `(?, ?), (?, ?)` on SQLite. SQLite
/// gets anonymous ones because sqlx resolves each numbered parameter by name, a linear search
/// per parameter: a 1,200-parameter statement spent most of a log-batch call doing that.
pub(crate) fn value_rows(backend: Backend, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholder_list(backend, r * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` placeholders from the `first`-th bound value on, comma-separated (`$3, $4` or
/// `?, ?`), for statements whose values are all bound in the order they appear.
pub(crate) fn placeholder_list(backend: Backend, first: usize, count: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; count].join(", "),
        Backend::Postgres => (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
    }
}

pub fn page<T>(items: Vec<T>, max_results: usize, offset: usize) -> (Vec<T>, Option<usize>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(max_results).collect();
    let next = (offset + max_results < total).then_some(offset + max_results);
    (page, next)
}

async fn upsert(
    pool: &sqlx::AnyPool,
    table: &str,
    owner: &str,
    id: &str,
    key: &str,
    value: &str,
    replace: bool,
) -> ApiResult<()> {
    let conflict = if replace { "DO UPDATE SET value = excluded.value" } else { "DO NOTHING" };
    let sql =
        format!("INSERT INTO {table} ({owner}, key, value) VALUES ($1, $2, $3) ON CONFLICT ({owner}, key) {conflict}");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql));
    let q =
        if owner == "experiment_id" { q.bind(id.parse::<i64>().unwrap_or_default()) } else { q.bind(id.to_string()) };
    q.bind(key).bind(value).execute(pool).await?;
    Ok(())
}
