//! Server functions at fixed URLs (`/sfn/NAME`, no build-path hash, so browser and server builds
//! from different checkouts agree); each checks identity and role before touching the store.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::types::*;

#[cfg(feature = "ssr")]
use crate::server::{context::*, queries};

/// The outcome of the backtest form: the new run, or the reasons, each next to its field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FormOutcome {
    pub run_id: Option<String>,
    pub errors: Vec<(String, String)>,
}

impl FormOutcome {
    pub fn error_for(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, r)| r.clone())
    }
}

#[server(prefix = "/sfn", endpoint = "whoami")]
pub async fn whoami() -> Result<Identity, ServerFnError> {
    identity()
}

#[server(prefix = "/sfn", endpoint = "get_overview")]
pub async fn get_overview() -> Result<Overview, ServerFnError> {
    identity()?;
    queries::overview(&state()?).await.map_err(failed)
}

#[server(prefix = "/sfn", endpoint = "list_experiments")]
pub async fn list_experiments(name_contains: String) -> Result<Vec<ExperimentRow>, ServerFnError> {
    identity()?;
    queries::experiments(&state()?.store, &name_contains).await.map_err(failed)
}

#[server(prefix = "/sfn", endpoint = "get_runs_table")]
pub async fn get_runs_table(
    experiment_id: String,
    filter: String,
    order: String,
    page: usize,
) -> Result<RunsTable, ServerFnError> {
    identity()?;
    queries::runs_table(&state()?.store, &experiment_id, &filter, &order, page).await.map_err(failed)
}

#[server(prefix = "/sfn", endpoint = "get_run")]
pub async fn get_run(run_id: String) -> Result<RunDetail, ServerFnError> {
    identity()?;
    queries::run_detail(&state()?, &run_id).await.map_err(failed)
}

#[server(prefix = "/sfn", endpoint = "compare_runs")]
pub async fn compare_runs(run_ids: Vec<String>) -> Result<Comparison, ServerFnError> {
    identity()?;
    if run_ids.len() > 20 {
        return Err(ServerFnError::new("compare at most 20 runs at once"));
    }
    queries::compare(&state()?.store, &run_ids).await.map_err(failed)
}

#[server(prefix = "/sfn", endpoint = "list_models")]
pub async fn list_models() -> Result<Vec<ModelRow>, ServerFnError> {
    identity()?;
    queries::models(&state()?.store).await.map_err(failed)
}

#[server(prefix = "/sfn", endpoint = "get_model")]
pub async fn get_model(name: String) -> Result<ModelDetail, ServerFnError> {
    identity()?;
    queries::model_detail(&state()?.store, &name).await.map_err(failed)
}

/// Points `alias` of model `name` at `version` (promotion, or rollback when moved back).
/// Needs the researcher role and the confirmation box ticked; recorded with who and when.
#[server(prefix = "/sfn", endpoint = "move_alias")]
pub async fn move_alias(
    name: String,
    alias: String,
    version: String,
    confirm: Option<String>,
) -> Result<(), ServerFnError> {
    let who = require(Role::Researcher)?;
    if confirm.as_deref() != Some("yes") {
        return Err(ServerFnError::new("Tick the confirmation box to move the alias."));
    }
    let alias = alias.trim();
    if alias.is_empty()
        || alias.len() > 255
        || !alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(ServerFnError::new("An alias is 1 to 255 letters, digits, `_` or `-`."));
    }
    let version = registry::models::parse_version(&version).map_err(failed)?;
    let state = state()?;
    state.store.set_alias(&name, alias, version, &who.name).await.map_err(failed)?;
    tracing::info!(model = %name, alias, version, user = %who.name, "alias moved");
    state.publish(serde_json::json!({ "kind": "alias", "model": name, "alias": alias, "version": version }));
    Ok(())
}

#[server(prefix = "/sfn", endpoint = "list_datasets")]
pub async fn list_datasets() -> Result<Vec<DatasetRow>, ServerFnError> {
    identity()?;
    queries::datasets(&state()?).await.map_err(ServerFnError::new)
}

#[server(prefix = "/sfn", endpoint = "get_backtest_choices")]
pub async fn get_backtest_choices() -> Result<BacktestChoices, ServerFnError> {
    identity()?;
    let mut symbols: Vec<String> =
        queries::datasets(&state()?).await.map_err(ServerFnError::new)?.into_iter().map(|d| d.symbol).collect();
    symbols.dedup();
    Ok(BacktestChoices {
        symbols,
        strategies: crate::server::backtests::STRATEGIES.iter().map(|s| s.to_string()).collect(),
    })
}

#[server(prefix = "/sfn", endpoint = "start_backtest")]
pub async fn start_backtest(
    symbol: String,
    timeframe: String,
    strategy: String,
    params: String,
    cash: String,
    commission: String,
) -> Result<FormOutcome, ServerFnError> {
    use crate::server::backtests::{BacktestRequest, start, validate};
    let who = require(Role::Researcher)?;
    let request = BacktestRequest { symbol, timeframe, strategy, params, cash, commission };
    let checked = match validate(&request) {
        Ok(v) => v,
        Err(errors) => return Ok(FormOutcome { run_id: None, errors }),
    };
    match start(&state()?, &who, checked).await {
        Ok(run_id) => Ok(FormOutcome { run_id: Some(run_id), errors: Vec::new() }),
        Err(errors) => Ok(FormOutcome { run_id: None, errors }),
    }
}

#[server(prefix = "/sfn", endpoint = "get_backtest")]
pub async fn get_backtest(run_id: String) -> Result<(BacktestDetail, StageView), ServerFnError> {
    identity()?;
    let state = state()?;
    let detail = queries::backtest_detail(&state, &run_id).await.map_err(failed)?;
    let stage = crate::server::backtests::stage_of(&state, &run_id, &detail.run.status);
    Ok((detail, stage))
}

/// Every account, for administrators.
#[server(prefix = "/sfn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, ServerFnError> {
    require(Role::Admin)?;
    let users = state()?.accounts.list_users().await.map_err(failed)?;
    Ok(users
        .into_iter()
        .map(|u| UserRow { name: u.name, role: u.role, disabled: u.disabled, created_ms: u.created_at_ms })
        .collect())
}

/// Adds a user with a generated password, which is returned once to show the administrator.
#[server(prefix = "/sfn", endpoint = "add_user")]
pub async fn add_user(name: String, role: String) -> Result<String, ServerFnError> {
    let admin = require(Role::Admin)?;
    let role = Role::parse(&role).ok_or_else(|| ServerFnError::new("Choose viewer, researcher or admin."))?;
    let password = crate::server::accounts::generate_password();
    state()?.accounts.add_user(name.trim(), &password, role).await.map_err(failed)?;
    tracing::info!(user = %name, role = role.as_str(), by = %admin.name, "user added");
    Ok(password)
}

/// Disables or re-enables a user; administrators cannot disable themselves.
#[server(prefix = "/sfn", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(name: String, disabled: bool) -> Result<(), ServerFnError> {
    let admin = require(Role::Admin)?;
    if admin.name == name && disabled {
        return Err(ServerFnError::new("You cannot disable your own account."));
    }
    state()?.accounts.set_disabled(&name, disabled).await.map_err(failed)?;
    tracing::info!(user = %name, disabled, by = %admin.name, "user state changed");
    Ok(())
}

/// Gives a user another role (administrators only); the last active administrator keeps theirs.
#[server(prefix = "/sfn", endpoint = "set_user_role")]
pub async fn set_user_role(name: String, role: String) -> Result<(), ServerFnError> {
    let admin = require(Role::Admin)?;
    let new_role = Role::parse(&role)
        .ok_or_else(|| ServerFnError::new(format!("`{role}` is not a role: use viewer, researcher or admin")))?;
    state()?.accounts.set_role(&name, new_role).await.map_err(failed)?;
    tracing::info!(user = %name, role = new_role.as_str(), by = %admin.name, "user role changed");
    Ok(())
}

/// A new API key for the caller, shown once.
#[server(prefix = "/sfn", endpoint = "create_my_key")]
pub async fn create_my_key(label: String) -> Result<String, ServerFnError> {
    let me = identity()?;
    state()?.accounts.create_api_key(&me.name, label.trim()).await.map_err(failed)
}

/// The caller's API keys (administrators: everyone's), never the secrets.
#[server(prefix = "/sfn", endpoint = "list_keys")]
pub async fn list_keys() -> Result<Vec<ApiKeyRow>, ServerFnError> {
    let me = identity()?;
    let user = me.key_owner_scope();
    state()?.accounts.list_api_keys(user).await.map_err(failed)
}

/// Revokes one of the caller's keys (administrators: anyone's).
#[server(prefix = "/sfn", endpoint = "revoke_key")]
pub async fn revoke_key(id: i64) -> Result<(), ServerFnError> {
    let me = identity()?;
    let owner = me.key_owner_scope();
    let key = state()?.accounts.revoke_api_key(id, owner).await.map_err(failed)?;
    tracing::info!(key = id, user = %key.user, by = %me.name, "API key revoked");
    Ok(())
}
