//! The model registry's store: registered models, numbered versions (READY at once), their tags,
//! stages and aliases, with MLflow's names for every field.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::Row;

use crate::error::{ApiError, ApiResult};
use crate::store::{TrackingStore, now_ms};

pub const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

#[derive(Clone, Debug, PartialEq)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: String,
    pub user_id: String,
    pub current_stage: String,
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    pub aliases: Vec<String>,
    /// The logged model (MLflow 3) this version registers, if any.
    pub model_id: String,
}

impl ModelVersion {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "version": self.version.to_string(),
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "description": self.description,
            "user_id": self.user_id,
            "current_stage": self.current_stage,
            "source": self.source,
            "run_id": self.run_id,
            "run_link": self.run_link,
            "status": self.status,
            "tags": self.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "aliases": self.aliases,
            "model_id": self.model_id,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: String,
    pub user_id: String,
    pub tags: BTreeMap<String, String>,
    pub aliases: BTreeMap<String, i64>,
    /// The latest version in each stage.
    pub latest_versions: Vec<ModelVersion>,
}

impl RegisteredModel {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "creation_timestamp": self.creation_timestamp,
            "last_updated_timestamp": self.last_updated_timestamp,
            "description": self.description,
            "user_id": self.user_id,
            "tags": self.tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect::<Vec<_>>(),
            "aliases": self.aliases.iter().map(|(a, v)| json!({"alias": a, "version": v.to_string()})).collect::<Vec<_>>(),
            "latest_versions": self.latest_versions.iter().map(ModelVersion::to_json).collect::<Vec<_>>(),
        })
    }
}

fn no_model(name: &str) -> ApiError {
    ApiError::NotFound(format!("Registered Model with name={name} not found"))
}

fn no_version(name: &str, version: i64) -> ApiError {
    ApiError::NotFound(format!("Model Version (name={name}, version={version}) not found"))
}

pub fn parse_version(text: &str) -> ApiResult<i64> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::InvalidParameter(format!("Model version must be an integer, got '{text}'")))
}

async fn record_alias_move(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    alias: &str,
    version: Option<i64>,
    previous: Option<i64>,
    who: &str,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO alias_history (name, alias, version, previous_version, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(name)
    .bind(alias)
    .bind(version)
    .bind(previous)
    .bind(who)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl TrackingStore {
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> ApiResult<RegisteredModel> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ApiError::InvalidParameter("Registered model name cannot be empty.".into()));
        }
        if self.registered_model(name).await.is_ok() {
            return Err(ApiError::AlreadyExists(format!("Registered Model (name={name}) already exists.")));
        }
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        sqlx::query("INSERT INTO registered_models (name, creation_timestamp, last_updated_timestamp, description, user_id) VALUES ($1, $2, $3, $4, '')")
            .bind(name)
            .bind(now)
            .bind(now)
            .bind(description)
            .execute(&mut *tx)
            .await?;
        for (k, v) in tags {
            sqlx::query("INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3)")
                .bind(name)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.registered_model(name).await
    }

    pub async fn registered_model(&self, name: &str) -> ApiResult<RegisteredModel> {
        let row = sqlx::query("SELECT name, creation_timestamp, last_updated_timestamp, description, user_id FROM registered_models WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| no_model(name))?;
        let mut tags = BTreeMap::new();
        for r in sqlx::query("SELECT key, value FROM registered_model_tags WHERE name = $1")
            .bind(name)
            .fetch_all(self.pool())
            .await?
        {
            tags.insert(r.try_get(0)?, r.try_get(1)?);
        }
        let mut aliases = BTreeMap::new();
        for r in sqlx::query("SELECT alias, version FROM registered_model_aliases WHERE name = $1")
            .bind(name)
            .fetch_all(self.pool())
            .await?
        {
            aliases.insert(r.try_get(0)?, r.try_get(1)?);
        }
        let versions = self.versions_of(name).await?;
        let mut latest: BTreeMap<String, ModelVersion> = BTreeMap::new();
        for v in versions {
            let keep = latest.get(&v.current_stage).is_none_or(|x| x.version < v.version);
            if keep {
                latest.insert(v.current_stage.clone(), v);
            }
        }
        Ok(RegisteredModel {
            name: row.try_get(0)?,
            creation_timestamp: row.try_get(1)?,
            last_updated_timestamp: row.try_get(2)?,
            description: row.try_get(3)?,
            user_id: row.try_get(4)?,
            tags,
            aliases,
            latest_versions: latest.into_values().collect(),
        })
    }

    pub async fn registered_model_names(&self) -> ApiResult<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM registered_models ORDER BY name").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    pub async fn rename_registered_model(&self, name: &str, new_name: &str) -> ApiResult<RegisteredModel> {
        self.registered_model(name).await?;
        if new_name.trim().is_empty() {
            return Err(ApiError::InvalidParameter("Registered model name cannot be empty.".into()));
        }
        if self.registered_model(new_name).await.is_ok() {
            return Err(ApiError::AlreadyExists(format!("Registered Model (name={new_name}) already exists.")));
        }
        let mut tx = self.db().begin_write().await?;
        sqlx::query("UPDATE registered_models SET name = $1, last_updated_timestamp = $2 WHERE name = $3")
            .bind(new_name)
            .bind(now_ms())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // The audit trail follows the model to its new name.
        sqlx::query("UPDATE alias_history SET name = $1 WHERE name = $2")
            .bind(new_name)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.registered_model(new_name).await
    }

    pub async fn update_registered_model(&self, name: &str, description: &str) -> ApiResult<RegisteredModel> {
        self.registered_model(name).await?;
        sqlx::query("UPDATE registered_models SET description = $1, last_updated_timestamp = $2 WHERE name = $3")
            .bind(description)
            .bind(now_ms())
            .bind(name)
            .execute(self.pool())
            .await?;
        self.registered_model(name).await
    }

    pub async fn delete_registered_model(&self, name: &str) -> ApiResult<()> {
        self.registered_model(name).await?;
        sqlx::query("DELETE FROM registered_models WHERE name = $1").bind(name).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn set_registered_model_tag(&self, name: &str, key: &str, value: Option<&str>) -> ApiResult<()> {
        self.registered_model(name).await?;
        match value {
            Some(v) => sqlx::query("INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value")
                .bind(name)
                .bind(key)
                .bind(v)
                .execute(self.pool())
                .await?,
            None => sqlx::query("DELETE FROM registered_model_tags WHERE name = $1 AND key = $2").bind(name).bind(key).execute(self.pool()).await?,
        };
        Ok(())
    }

    /// A new version, numbered after the highest so far and READY at once.
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        run_link: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> ApiResult<ModelVersion> {
        self.create_model_version_of(name, source, run_id, run_link, description, tags, "").await
    }

    /// [`Self::create_model_version`] of a logged model (MLflow 3: `models:/<model_id>`), whose
    /// source run the version records when none is given.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_model_version_of(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        run_link: &str,
        description: &str,
        tags: &[(String, String)],
        model_id: &str,
    ) -> ApiResult<ModelVersion> {
        self.registered_model(name).await?;
        let run_id = if model_id.is_empty() {
            run_id.to_string()
        } else {
            let model = self.logged_model(model_id, false).await?;
            if run_id.is_empty() { model.source_run_id } else { run_id.to_string() }
        };
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        // Touching the model's row first locks it (PostgreSQL; SQLite's IMMEDIATE transaction
        // already holds the database), so concurrent registrations number after each other.
        sqlx::query("UPDATE registered_models SET last_updated_timestamp = $1 WHERE name = $2")
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        sqlx::query(
            "INSERT INTO model_versions (name, version, creation_timestamp, last_updated_timestamp, description, user_id, current_stage, source, run_id, run_link, status, model_id) \
             VALUES ($1, $2, $3, $4, $5, '', 'None', $6, $7, $8, 'READY', $9)",
        )
        .bind(name)
        .bind(version)
        .bind(now)
        .bind(now)
        .bind(description)
        .bind(source)
        .bind(&run_id)
        .bind(run_link)
        .bind(model_id)
        .execute(&mut *tx)
        .await?;
        for (k, v) in tags {
            sqlx::query("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4)")
                .bind(name)
                .bind(version)
                .bind(k)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.model_version(name, version).await
    }

    async fn versions_of(&self, name: &str) -> ApiResult<Vec<ModelVersion>> {
        let rows = sqlx::query("SELECT version FROM model_versions WHERE name = $1 ORDER BY version")
            .bind(name)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.model_version(name, r.try_get(0)?).await?);
        }
        Ok(out)
    }

    pub async fn model_version(&self, name: &str, version: i64) -> ApiResult<ModelVersion> {
        let r = sqlx::query(
            "SELECT creation_timestamp, last_updated_timestamp, description, user_id, current_stage, source, run_id, run_link, status, model_id \
             FROM model_versions WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| no_version(name, version))?;
        let mut tags = BTreeMap::new();
        for t in sqlx::query("SELECT key, value FROM model_version_tags WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_all(self.pool())
            .await?
        {
            tags.insert(t.try_get(0)?, t.try_get(1)?);
        }
        let aliases =
            sqlx::query("SELECT alias FROM registered_model_aliases WHERE name = $1 AND version = $2 ORDER BY alias")
                .bind(name)
                .bind(version)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|a| a.try_get(0))
                .collect::<Result<Vec<String>, _>>()?;
        Ok(ModelVersion {
            name: name.to_string(),
            version,
            creation_timestamp: r.try_get(0)?,
            last_updated_timestamp: r.try_get(1)?,
            description: r.try_get(2)?,
            user_id: r.try_get(3)?,
            current_stage: r.try_get(4)?,
            source: r.try_get(5)?,
            run_id: r.try_get(6)?,
            run_link: r.try_get(7)?,
            status: r.try_get(8)?,
            model_id: r.try_get(9)?,
            tags,
            aliases,
        })
    }

    /// Versions of every model (or of one, with `name`).
    pub async fn search_model_versions(&self, name: Option<&str>) -> ApiResult<Vec<ModelVersion>> {
        let names = match name {
            Some(n) => vec![n.to_string()],
            None => self.registered_model_names().await?,
        };
        let mut out = Vec::new();
        for n in names {
            out.extend(self.versions_of(&n).await?);
        }
        Ok(out)
    }

    pub async fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: Option<&str>,
        stage: Option<(&str, bool)>,
    ) -> ApiResult<ModelVersion> {
        self.model_version(name, version).await?;
        let now = now_ms();
        let mut tx = self.db().begin_write().await?;
        if let Some(d) = description {
            sqlx::query("UPDATE model_versions SET description = $1, last_updated_timestamp = $2 WHERE name = $3 AND version = $4")
                .bind(d)
                .bind(now)
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((stage, archive_others)) = stage {
            let canonical = STAGES.iter().find(|s| s.eq_ignore_ascii_case(stage)).ok_or_else(|| {
                ApiError::InvalidParameter(format!(
                    "Invalid Model Version stage: {stage}. Value must be one of None, Staging, Production, Archived."
                ))
            })?;
            if archive_others && matches!(*canonical, "Staging" | "Production") {
                sqlx::query("UPDATE model_versions SET current_stage = 'Archived', last_updated_timestamp = $1 WHERE name = $2 AND version <> $3 AND current_stage = $4")
                    .bind(now)
                    .bind(name)
                    .bind(version)
                    .bind(*canonical)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE model_versions SET current_stage = $1, last_updated_timestamp = $2 WHERE name = $3 AND version = $4")
                .bind(*canonical)
                .bind(now)
                .bind(name)
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.model_version(name, version).await
    }

    pub async fn delete_model_version(&self, name: &str, version: i64) -> ApiResult<()> {
        self.model_version(name, version).await?;
        let mut tx = self.db().begin_write().await?;
        sqlx::query("DELETE FROM registered_model_aliases WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM model_versions WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: Option<&str>,
    ) -> ApiResult<()> {
        self.model_version(name, version).await?;
        match value {
            Some(v) => sqlx::query("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value")
                .bind(name)
                .bind(version)
                .bind(key)
                .bind(v)
                .execute(self.pool())
                .await?,
            None => sqlx::query("DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3").bind(name).bind(version).bind(key).execute(self.pool()).await?,
        };
        Ok(())
    }

    /// Points `alias` at `version` (moving it if it pointed elsewhere): promotion and rollback,
    /// recorded in the alias history with who did it and when.
    pub async fn set_alias(&self, name: &str, alias: &str, version: i64, who: &str) -> ApiResult<()> {
        self.model_version(name, version).await?;
        if alias.trim().is_empty()
            || alias.eq_ignore_ascii_case("latest")
            || alias.starts_with('v') && alias[1..].parse::<i64>().is_ok()
        {
            return Err(ApiError::InvalidParameter(format!("Invalid alias name: '{alias}'")));
        }
        let previous = self.alias_version(name, alias).await?;
        let mut tx = self.db().begin_write().await?;
        sqlx::query("INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version")
            .bind(name)
            .bind(alias)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        record_alias_move(&mut tx, name, alias, Some(version), previous, who).await?;
        tx.commit().await?;
        tracing::info!(model = name, alias, version, ?previous, who, "alias moved");
        Ok(())
    }

    async fn alias_version(&self, name: &str, alias: &str) -> ApiResult<Option<i64>> {
        let row = sqlx::query("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    pub async fn delete_alias(&self, name: &str, alias: &str, who: &str) -> ApiResult<()> {
        self.registered_model(name).await?;
        let previous = self.alias_version(name, alias).await?;
        let mut tx = self.db().begin_write().await?;
        sqlx::query("DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .execute(&mut *tx)
            .await?;
        if previous.is_some() {
            record_alias_move(&mut tx, name, alias, None, previous, who).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every move of the model's aliases, oldest first.
    pub async fn alias_history(&self, name: &str) -> ApiResult<Vec<serde_json::Value>> {
        let rows = sqlx::query(
            "SELECT alias, version, previous_version, changed_by, changed_at FROM alias_history WHERE name = $1 ORDER BY id",
        )
        .bind(name)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let version: Option<i64> = r.try_get(1)?;
            let previous: Option<i64> = r.try_get(2)?;
            let alias: String = r.try_get(0)?;
            let changed_by: String = r.try_get(3)?;
            let changed_at: i64 = r.try_get(4)?;
            out.push(json!({
                "alias": alias,
                "version": version.map(|v| v.to_string()),
                "previous_version": previous.map(|v| v.to_string()),
                "changed_by": changed_by,
                "changed_at": changed_at,
            }));
        }
        Ok(out)
    }

    pub async fn version_by_alias(&self, name: &str, alias: &str) -> ApiResult<ModelVersion> {
        self.registered_model(name).await?;
        let row = sqlx::query("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2")
            .bind(name)
            .bind(alias)
            .fetch_optional(self.pool())
            .await?
            // MLflow 3 answers a missing alias with INVALID_PARAMETER_VALUE.
            .ok_or_else(|| ApiError::InvalidParameter(format!("Registered model alias {alias} not found.")))?;
        self.model_version(name, row.try_get(0)?).await
    }
}
