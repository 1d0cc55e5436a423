//! Pages of an experiment's runs ordered in SQL, so a table over 100,000 runs reads only the
//! rows it shows; and the param and metric keys an experiment uses, for column choosers.

use std::collections::HashMap;

use sqlx::Row;

use engine::storage::Backend;

use crate::error::{ApiError, ApiResult};
use crate::search::{Clause, Entity, Op, OrderBy, Value};
use crate::search_sql::Bind;
use crate::store::{ACTIVE, MetricPoint, Run, TrackingStore, latest_metric_from_row, run_from_row};

const RUN_COLUMNS: &str = "r.run_id, r.experiment_id, r.run_name, r.user_id, r.status, r.start_time, r.end_time, r.artifact_uri, r.lifecycle_stage";

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
        let order: Vec<OrderBy> = order.cloned().into_iter().collect();
        let (runs, _, total) = self.search_runs(&[experiment_id], "ACTIVE_ONLY", &[], &order, limit, offset).await?;
        Ok((runs, total))
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

/// Notes the keys of a logged batch against the run's experiment, inside the batch's transaction:
/// a few multi-row statements, not one round trip per key (a batch may carry 1,000 keys).
pub(crate) async fn record_keys<'k>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: engine::storage::Backend,
    experiment_id: i64,
    params: impl Iterator<Item = &'k str>,
    metrics: impl Iterator<Item = &'k str>,
) -> ApiResult<()> {
    const ROWS_PER_STATEMENT: usize = 250;
    let mut seen = std::collections::BTreeSet::new();
    seen.extend(params.map(|k| ("param", k)));
    seen.extend(metrics.map(|k| ("metric", k)));
    let keys: Vec<(&str, &str)> = seen.into_iter().collect();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO experiment_keys (experiment_id, kind, key) VALUES {} \
             ON CONFLICT (experiment_id, kind, key) DO NOTHING",
            crate::store::value_rows(backend, chunk.len(), 3)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (kind, key) in chunk {
            q = q.bind(experiment_id).bind(*kind).bind(*key);
        }
        q.execute(&mut **tx).await?;
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
        // An IN list, as `search_sql` writes its keyed clauses: built once, not probed per run.
        let mut cond = format!("r.run_id IN (SELECT t.run_id FROM {table} t WHERE t.key = ${n}");
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

/// The conditions (and their values, bound from $1 on) that keep a search to the experiments'
/// runs in the lifecycle `view`.
fn lifecycle_scope(experiment_ids: &[i64], view: &str) -> (Vec<String>, Vec<Bind>) {
    let ids = (1..=experiment_ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let mut conditions = vec![format!("r.experiment_id IN ({ids})")];
    let mut binds: Vec<Bind> = experiment_ids.iter().map(|id| Bind::Integer(*id)).collect();
    let stage = match view {
        "DELETED_ONLY" | "2" => Some(crate::store::DELETED),
        "ALL" | "3" => None,
        _ => Some(ACTIVE),
    };
    if let Some(stage) = stage {
        conditions.push(format!("r.lifecycle_stage = ${}", binds.len() + 1));
        binds.push(Bind::Text(stage.to_string()));
    }
    (conditions, binds)
}

fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    b: &Bind,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    match b {
        Bind::Text(t) => q.bind(t.clone()),
        Bind::Number(v) => q.bind(*v),
        Bind::Integer(v) => q.bind(*v),
    }
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
        if experiment_ids.is_empty() {
            return Ok((Vec::new(), None, 0));
        }
        let (scope, scope_binds) = lifecycle_scope(experiment_ids, view);
        if let Some(plan) = crate::search_sql::plan(self.backend(), clauses, order, scope_binds.len() + 1) {
            return self.search_in_sql(&scope, scope_binds, plan, max_results, offset).await;
        }
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

    /// Whether a search with these clauses and order runs wholly in the database (counted,
    /// ordered and paged there) rather than matching candidates in Rust.
    pub fn search_is_in_sql(&self, clauses: &[Clause], order: &[OrderBy]) -> bool {
        crate::search_sql::plan(self.backend(), clauses, order, 1).is_some()
    }

    /// A search whose filter and order have an exact SQL form: counted, ordered and paged by the
    /// database, then only the page's runs are filled.
    async fn search_in_sql(
        &self,
        scope: &[String],
        scope_binds: Vec<Bind>,
        plan: crate::search_sql::SqlSearch,
        max_results: usize,
        offset: usize,
    ) -> ApiResult<(Vec<Run>, Option<usize>, usize)> {
        let conditions = scope.iter().chain(&plan.conditions).cloned().collect::<Vec<_>>().join(" AND ");
        // The count binds the scope's and the conditions' values; the order's joins come after.
        let binds: Vec<&Bind> = scope_binds.iter().chain(&plan.binds).collect();
        let counted = scope_binds.len() + plan.condition_binds;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM runs r WHERE {conditions}")));
        for b in &binds[..counted] {
            q = bind(q, b);
        }
        let total: i64 = q.fetch_one(self.pool()).await?.try_get(0)?;
        let total = total.max(0) as usize;
        let page_sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs r{} WHERE {conditions} ORDER BY {} LIMIT {} OFFSET {offset}",
            plan.joins,
            plan.order,
            max_results.min(50_000)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(page_sql));
        for b in binds {
            q = bind(q, b);
        }
        let mut page = q.fetch_all(self.pool()).await?.iter().map(run_from_row).collect::<ApiResult<Vec<Run>>>()?;
        self.fill_in_chunks(&mut page, None).await?;
        let next = (offset + max_results < total).then_some(offset + max_results);
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
        let (mut conditions, mut binds) = lifecycle_scope(experiment_ids, view);
        let (narrow, narrow_binds) = narrowing(clauses, binds.len() + 1);
        conditions.extend(narrow);
        binds.extend(narrow_binds);
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs r WHERE {}", conditions.join(" AND "));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            q = bind(q, b);
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
        // Bound in the order they appear: anonymous placeholders on SQLite (see `value_rows`).
        let backend = self.backend();
        let list = crate::store::placeholder_list(backend, 1, runs.len());
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
            let metrics = table == "run_latest_metrics";
            // SQLite: one folded row per run (see `sqlite_fold`); PostgreSQL: a row per key.
            let folded = backend == Backend::Sqlite;
            // A folded metric value is its bits where it has them (see `Literal::into_metric_value`).
            let value = if metrics && folded { "ifnull(value_bits, value)" } else { "value" };
            let columns: &[&str] = if metrics { &["key", value, "timestamp", "step"] } else { &["key", value] };
            let selected = if folded { crate::sqlite_fold::fold(columns) } else { columns.join(", ") };
            let mut sql = format!("SELECT run_id, {selected} FROM {table} WHERE run_id IN ({list})");
            if !wanted.is_empty() {
                let key_list = crate::store::placeholder_list(backend, runs.len() + 1, wanted.len());
                sql.push_str(&format!(" AND key IN ({key_list})"));
            }
            if folded {
                sql.push_str(" GROUP BY run_id");
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
                let run = &mut runs[i];
                if !folded {
                    let key: String = row.try_get(1)?;
                    match table {
                        "run_latest_metrics" => {
                            run.metrics.insert(key, latest_metric_from_row(&row)?);
                        }
                        "run_params" => {
                            run.params.insert(key, row.try_get(2)?);
                        }
                        _ => {
                            run.tags.insert(key, row.try_get(2)?);
                        }
                    }
                    continue;
                }
                let text: String = row.try_get(1)?;
                let mut values = crate::sqlite_fold::literals(&text)?.into_iter();
                while let Some(key) = values.next() {
                    let key = key.into_text()?;
                    let mut field =
                        || values.next().ok_or_else(|| ApiError::Internal(format!("{table}: a short folded row")));
                    if metrics {
                        let value = field()?.into_metric_value()?;
                        let timestamp = field()?.into_i64()?;
                        let step = field()?.into_i64()?;
                        run.metrics.insert(key.clone(), MetricPoint { key, value, timestamp, step });
                    } else if table == "run_params" {
                        run.params.insert(key, field()?.into_text()?);
                    } else {
                        run.tags.insert(key, field()?.into_text()?);
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
