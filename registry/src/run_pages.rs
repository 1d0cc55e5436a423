//! Pages of an experiment's runs ordered in SQL, so a table over 100,000 runs reads only the
//! rows it shows; and the param and metric keys an experiment uses, for column choosers.

use std::collections::HashMap;

use sqlx::Row;

use crate::error::{ApiError, ApiResult};
use crate::search::{Clause, Entity, Op, OrderBy, Value};
use crate::store::{ACTIVE, Run, TrackingStore, latest_metric_from_row, run_from_row};

const RUN_COLUMNS: &str = "r.run_id, r.experiment_id, r.run_name, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

/// An attribute's column, for the attributes a run table sorts by.
fn attribute_column(name: &str) -> ApiResult<&'static str> {
    Ok(match name {
        "start_time" => "r.start_time",
        "end_time" => "r.end_time",
        "run_name" => "r.run_name",
        "status" => "r.status",
        "user_id" => "r.user_id",
        "run_id" => "r.run_id",
        other => return Err(ApiError::InvalidParameter(format!("Invalid attribute key '{other}' for ordering"))),
    })
}

impl TrackingStore {
    /// Active runs of one experiment, `limit` from `offset` in `order` (default: newest first),
    /// with their data; and how many active runs the experiment has. Runs without the order's
    /// key come last whatever the direction, as in MLflow.
    pub async fn runs_page(
        &self,
        experiment_id: i64,
        order: Option<&OrderBy>,
        limit: usize,
        offset: usize,
    ) -> ApiResult<(Vec<Run>, usize)> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM runs WHERE experiment_id = $1 AND lifecycle_stage = $2")
            .bind(experiment_id)
            .bind(ACTIVE)
            .fetch_one(self.pool())
            .await?
            .try_get(0)?;
        let (order_sql, key) = match order {
            None => ("r.start_time DESC, r.run_id".to_string(), None),
            Some(o) => {
                let dir = if o.ascending { "ASC" } else { "DESC" };
                let sub =
                    |table: &str| format!("(SELECT t.value FROM {table} t WHERE t.run_id = r.run_id AND t.key = $3)");
                match &o.entity {
                    Entity::Metric(k) => {
                        (format!("{} {dir} NULLS LAST, r.run_id", sub("run_latest_metrics")), Some(k.clone()))
                    }
                    Entity::Param(k) => (format!("{} {dir} NULLS LAST, r.run_id", sub("run_params")), Some(k.clone())),
                    Entity::Tag(k) => (format!("{} {dir} NULLS LAST, r.run_id", sub("run_tags")), Some(k.clone())),
                    Entity::Attribute(a) => (format!("{} {dir} NULLS LAST, r.run_id", attribute_column(a)?), None),
                }
            }
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r WHERE r.experiment_id = $1 AND r.lifecycle_stage = $2 \
             ORDER BY {order_sql} LIMIT {} OFFSET {}",
            limit.min(50_000),
            offset
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(experiment_id).bind(ACTIVE);
        if let Some(k) = &key {
            q = q.bind(k.clone());
        }
        let mut runs = q.fetch_all(self.pool()).await?.iter().map(run_from_row).collect::<ApiResult<Vec<Run>>>()?;
        self.fill_many(&mut runs).await?;
        Ok((runs, total.max(0) as usize))
    }

    /// The newest active runs of active experiments, all of them or those of one experiment
    /// (`Some(id), true`) or of every experiment but one (`Some(id), false`).
    pub async fn recent_runs(&self, experiment: Option<(i64, bool)>, limit: usize) -> ApiResult<Vec<Run>> {
        let scope = match experiment {
            Some((_, true)) => " AND r.experiment_id = $2",
            Some((_, false)) => " AND r.experiment_id <> $2",
            None => "",
        };
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id \
             WHERE r.lifecycle_stage = $1 AND e.lifecycle_stage = $1{scope} ORDER BY r.start_time DESC, r.run_id LIMIT {}",
            limit.min(1000)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ACTIVE);
        if let Some((id, _)) = experiment {
            q = q.bind(id);
        }
        let mut runs = q.fetch_all(self.pool()).await?.iter().map(run_from_row).collect::<ApiResult<Vec<Run>>>()?;
        self.fill_many(&mut runs).await?;
        Ok(runs)
    }

    /// Metrics, params and tags of many runs in three statements.
    async fn fill_many(&self, runs: &mut [Run]) -> ApiResult<()> {
        self.fill_keys(runs, None).await
    }

    /// The param keys and metric keys ever logged in an experiment, sorted.
    pub async fn experiment_keys(&self, experiment_id: i64) -> ApiResult<(Vec<String>, Vec<String>)> {
        let rows = sqlx::query("SELECT kind, key FROM experiment_keys WHERE experiment_id = $1 ORDER BY kind, key")
            .bind(experiment_id)
            .fetch_all(self.pool())
            .await?;
        let (mut params, mut metrics) = (Vec::new(), Vec::new());
        for r in &rows {
            let kind: String = r.try_get(0)?;
            if kind == "param" { params.push(r.try_get(1)?) } else { metrics.push(r.try_get(1)?) }
        }
        Ok((params, metrics))
    }
}

/// Notes the keys of a logged batch against the run's experiment, inside the batch's transaction.
pub(crate) async fn record_keys<'k>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    params: impl Iterator<Item = &'k str>,
    metrics: impl Iterator<Item = &'k str>,
) -> ApiResult<()> {
    let mut seen = std::collections::BTreeSet::new();
    seen.extend(params.map(|k| ("param", k)));
    seen.extend(metrics.map(|k| ("metric", k)));
    for (kind, key) in seen {
        sqlx::query(
            "INSERT INTO experiment_keys (experiment_id, kind, key) SELECT experiment_id, $2, $3 FROM runs WHERE run_id = $1 \
             ON CONFLICT (experiment_id, kind, key) DO NOTHING",
        )
        .bind(run_id)
        .bind(kind)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// SQL conditions that every run satisfying `clauses` meets (a superset filter): the clause's
/// key exists, and numeric metric comparisons and exact param/tag equality hold. The exact
/// semantics (LIKE case, IN lists, attributes, NaN) stay with `search::matches`, which the
/// caller applies to the candidates; this only keeps the candidates few.
fn narrowing(clauses: &[Clause], first_bind: usize) -> (Vec<String>, Vec<Bind>) {
    let mut sql = Vec::new();
    let mut binds = Vec::new();
    let mut n = first_bind;
    for c in clauses {
        let (table, key) = match &c.entity {
            Entity::Metric(k) => ("run_latest_metrics", k),
            Entity::Param(k) => ("run_params", k),
            Entity::Tag(k) => ("run_tags", k),
            Entity::Attribute(_) => continue,
        };
        let mut cond = format!("EXISTS (SELECT 1 FROM {table} t WHERE t.run_id = r.run_id AND t.key = ${n}");
        binds.push(Bind::Text(key.clone()));
        n += 1;
        let op = match c.op {
            Op::Eq => Some("="),
            Op::Lt => Some("<"),
            Op::Gt => Some(">"),
            Op::Le => Some("<="),
            Op::Ge => Some(">="),
            _ => None,
        };
        match (&c.entity, op, &c.value) {
            (Entity::Metric(_), Some(op), Value::Number(v)) if v.is_finite() => {
                cond.push_str(&format!(" AND t.value {op} ${n}"));
                binds.push(Bind::Number(*v));
                n += 1;
            }
            (Entity::Param(_) | Entity::Tag(_), Some("="), Value::Text(v)) => {
                cond.push_str(&format!(" AND t.value = ${n}"));
                binds.push(Bind::Text(v.clone()));
                n += 1;
            }
            _ => {}
        }
        cond.push(')');
        sql.push(cond);
    }
    (sql, binds)
}

enum Bind {
    Text(String),
    Number(f64),
}

impl TrackingStore {
    /// Runs of the experiments, in the lifecycle `view`, that may satisfy `clauses`, with their
    /// data; the SQL narrows, the caller checks each candidate with `search::matches`.
    pub async fn runs_matching(&self, experiment_ids: &[i64], view: &str, clauses: &[Clause]) -> ApiResult<Vec<Run>> {
        self.candidates(experiment_ids, view, clauses, None).await
    }

    /// MLflow's run search: the runs of the experiments in `view` that satisfy `clauses`, in
    /// `order`, `max_results` from `offset`, with their data; the offset of the next page; and how
    /// many runs matched. Candidates carry only the keys the filter and the order read, so a search
    /// over 100,000 runs loads the data of the page it returns, not of every run.
    pub async fn search_runs(
        &self,
        experiment_ids: &[i64],
        view: &str,
        clauses: &[Clause],
        order: &[OrderBy],
        max_results: usize,
        offset: usize,
    ) -> ApiResult<(Vec<Run>, Option<usize>, usize)> {
        let mut keys = KeysRead::default();
        for entity in clauses.iter().map(|c| &c.entity).chain(order.iter().map(|o| &o.entity)) {
            keys.add(entity);
        }
        let mut runs = self.candidates(experiment_ids, view, clauses, Some(&keys)).await?;
        runs.retain(|r| crate::search::matches(r, clauses));
        crate::search::sort_runs(&mut runs, order);
        let total = runs.len();
        let (mut page, next) = crate::store::page(runs, max_results, offset);
        for run in &mut page {
            run.metrics.clear();
            run.params.clear();
            run.tags.clear();
        }
        // A page may hold up to 50,000 runs: filled in chunks like the candidates.
        self.fill_in_chunks(&mut page, None).await?;
        Ok((page, next, total))
    }

    /// Candidate runs with all their data (`keys` None) or only those keys.
    async fn candidates(
        &self,
        experiment_ids: &[i64],
        view: &str,
        clauses: &[Clause],
        keys: Option<&KeysRead>,
    ) -> ApiResult<Vec<Run>> {
        if experiment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = (1..=experiment_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let mut conditions = vec![format!("r.experiment_id IN ({ids})")];
        let stage = match view {
            "DELETED_ONLY" | "2" => Some(crate::store::DELETED),
            "ALL" | "3" => None,
            _ => Some(ACTIVE),
        };
        let mut next = experiment_ids.len() + 1;
        if stage.is_some() {
            conditions.push(format!("r.lifecycle_stage = ${next}"));
            next += 1;
        }
        let (narrow, binds) = narrowing(clauses, next);
        conditions.extend(narrow);
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE {}", conditions.join(" AND "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in experiment_ids {
            q = q.bind(*id);
        }
        if let Some(s) = stage {
            q = q.bind(s);
        }
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Number(v) => q.bind(v),
            };
        }
        let mut runs = q.fetch_all(self.pool()).await?.iter().map(run_from_row).collect::<ApiResult<Vec<Run>>>()?;
        self.fill_in_chunks(&mut runs, keys).await?;
        Ok(runs)
    }

    /// [`Self::fill_keys`] over any number of runs, so that the bound parameters per statement
    /// stay well inside SQLite's and PostgreSQL's limits.
    async fn fill_in_chunks(&self, runs: &mut [Run], keys: Option<&KeysRead>) -> ApiResult<()> {
        for chunk in runs.chunks_mut(2000) {
            self.fill_keys(chunk, keys).await?;
        }
        Ok(())
    }

    /// Loads the metrics, params and tags of the runs: all of them (`keys` None) or only those
    /// named in `keys`, one statement per table.
    async fn fill_keys(&self, runs: &mut [Run], keys: Option<&KeysRead>) -> ApiResult<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let index: HashMap<String, usize> = runs.iter().enumerate().map(|(i, r)| (r.run_id.clone(), i)).collect();
        let list = (1..=runs.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        let none = Vec::new();
        for (table, wanted) in [
            ("run_latest_metrics", keys.map(|k| &k.metrics)),
            ("run_params", keys.map(|k| &k.params)),
            ("run_tags", keys.map(|k| &k.tags)),
        ] {
            let wanted = match wanted {
                Some(w) if w.is_empty() => continue,
                Some(w) => w,
                None => &none,
            };
            let columns = if table == "run_latest_metrics" {
                "run_id, key, value, timestamp, step"
            } else {
                "run_id, key, value"
            };
            let mut sql = format!("SELECT {columns} FROM {table} WHERE run_id IN ({list})");
            if !wanted.is_empty() {
                let key_list = (runs.len() + 1..=runs.len() + wanted.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                sql.push_str(&format!(" AND key IN ({key_list})"));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in runs.iter() {
                q = q.bind(r.run_id.clone());
            }
            for k in wanted {
                q = q.bind(k.clone());
            }
            for row in q.fetch_all(self.pool()).await? {
                let run_id: String = row.try_get(0)?;
                let Some(&i) = index.get(&run_id) else { continue };
                let key: String = row.try_get(1)?;
                match table {
                    "run_latest_metrics" => {
                        runs[i].metrics.insert(key, latest_metric_from_row(&row)?);
                    }
                    "run_params" => {
                        runs[i].params.insert(key, row.try_get(2)?);
                    }
                    _ => {
                        runs[i].tags.insert(key, row.try_get(2)?);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The metric, param and tag keys a search reads (attributes are columns of every run row).
#[derive(Debug, Default)]
struct KeysRead {
    metrics: Vec<String>,
    params: Vec<String>,
    tags: Vec<String>,
}

impl KeysRead {
    fn add(&mut self, entity: &Entity) {
        let (list, key) = match entity {
            Entity::Metric(k) => (&mut self.metrics, k),
            Entity::Param(k) => (&mut self.params, k),
            Entity::Tag(k) => (&mut self.tags, k),
            Entity::Attribute(_) => return,
        };
        if !list.contains(key) {
            list.push(key.clone());
        }
    }
}
