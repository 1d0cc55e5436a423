//! The public JSON API under `/api/v1` (described by the OpenAPI document it serves), and the
//! `/ws` WebSocket that pushes change events (runs, backtests, aliases) to the pages.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::backtests::{BacktestRequest, stage_of, start, validate};
use super::{AppState, queries};
use crate::types::{Identity, Role};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/docs", get(docs))
        .route("/token", post(super::auth::issue_token))
        .route("/me", get(me))
        .route("/experiments", get(experiments))
        .route("/experiments/{id}/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/models", get(models))
        .route("/models/{name}", get(model))
        .route("/models/{name}/aliases", post(move_alias))
        .route("/datasets", get(datasets))
        .route("/backtests", post(start_backtest))
        .route("/backtests/{id}", get(backtest))
        .route("/keys", get(keys).post(create_key))
        .route("/keys/{id}", delete(revoke_key))
}

/// An API error: status, a machine-readable code and a sentence for people.
fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error_code": code, "message": message.to_string() }))).into_response()
}

/// A body that is not the JSON expected: 400, or 413 when it is over the size limit.
fn body_rejected(e: axum::extract::rejection::JsonRejection) -> Response {
    let status = e.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "REQUEST_TOO_LARGE" } else { "MALFORMED_REQUEST" };
    error(status, code, e.body_text())
}

fn store_error(e: registry::ApiError) -> Response {
    let status = e.status();
    error(status, e.code(), e)
}

fn forbid(who: &Identity, needs: Role) -> Option<Response> {
    (who.role < needs).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            format!("user '{}' has role {}; this needs {}", who.name, who.role.as_str(), needs.as_str()),
        )
    })
}

async fn me(Extension(who): Extension<Identity>) -> Json<Identity> {
    Json(who)
}

#[derive(Deserialize)]
struct NameQuery {
    #[serde(default)]
    name_contains: String,
}

async fn experiments(State(s): State<AppState>, Query(q): Query<NameQuery>) -> Response {
    match queries::experiments(&s.store, &q.name_contains).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    order_by: String,
    #[serde(default)]
    page: usize,
}

async fn runs(State(s): State<AppState>, Path(id): Path<String>, Query(q): Query<RunsQuery>) -> Response {
    match queries::runs_table(&s.store, &id, &q.filter, &q.order_by, q.page).await {
        Ok(t) if t.filter_error.is_some() => {
            error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", t.filter_error.unwrap_or_default())
        }
        Ok(t) => Json(t).into_response(),
        Err(e) => store_error(e),
    }
}

async fn run(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match queries::run_detail(&s, &id).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => store_error(e),
    }
}

async fn models(State(s): State<AppState>) -> Response {
    match queries::models(&s.store).await {
        Ok(m) => Json(m).into_response(),
        Err(e) => store_error(e),
    }
}

async fn model(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    match queries::model_detail(&s.store, &name).await {
        Ok(m) => Json(m).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct AliasMoveRequest {
    alias: String,
    version: i64,
}

async fn move_alias(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    Path(name): Path<String>,
    body: Result<Json<AliasMoveRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(denied) = forbid(&who, Role::Researcher) {
        return denied;
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return body_rejected(e),
    };
    match s.store.set_alias(&name, &req.alias, req.version, &who.name).await {
        Ok(()) => {
            s.publish(json!({ "kind": "alias", "model": name, "alias": req.alias, "version": req.version }));
            Json(json!({ "model": name, "alias": req.alias, "version": req.version })).into_response()
        }
        Err(e) => store_error(e),
    }
}

async fn datasets(State(s): State<AppState>) -> Response {
    match queries::datasets(&s).await {
        Ok(d) => Json(d).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", e),
    }
}

async fn start_backtest(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    body: Result<Json<BacktestRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if let Some(denied) = forbid(&who, Role::Researcher) {
        return denied;
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return body_rejected(e),
    };
    let outcome = match validate(&req) {
        Ok(v) => start(&s, &who, v).await,
        Err(errors) => Err(errors),
    };
    match outcome {
        Ok(run_id) => (StatusCode::ACCEPTED, Json(json!({ "run_id": run_id }))).into_response(),
        Err(errors) => {
            let fields: Value = errors.iter().map(|(f, r)| json!({ "field": f, "reason": r })).collect();
            (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error_code": "INVALID_PARAMETER_VALUE", "message": "the backtest request is invalid", "fields": fields })))
                .into_response()
        }
    }
}

/// A backtest's detail with where it is (`stage.progress`: bars simulated of all bars).
async fn backtest(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match queries::backtest_detail(&s, &id).await {
        Ok(d) => {
            let stage = stage_of(&s, &id, &d.run.status);
            let mut body = serde_json::to_value(&d).unwrap_or(Value::Null);
            if let Value::Object(fields) = &mut body {
                fields.insert("stage".into(), json!(stage));
            }
            Json(body).into_response()
        }
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct KeysQuery {
    user: Option<String>,
}

/// The caller's API keys; administrators see everyone's (or one user's with `?user=`).
async fn keys(State(s): State<AppState>, Extension(who): Extension<Identity>, Query(q): Query<KeysQuery>) -> Response {
    let user = if who.role.is_admin() { q.user } else { Some(who.name.clone()) };
    match s.accounts.list_api_keys(user.as_deref()).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", e),
    }
}

#[derive(Deserialize)]
struct NewKey {
    #[serde(default)]
    label: String,
}

/// A new API key for the caller: the secret is in this response only.
async fn create_key(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    body: Result<Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return body_rejected(e),
    };
    if req.label.chars().count() > 100 {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_PARAMETER_VALUE", "label: at most 100 characters");
    }
    match s.accounts.create_api_key(&who.name, req.label.trim()).await {
        Ok(key) => (StatusCode::CREATED, Json(json!({ "key": key, "user": who.name }))).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", e),
    }
}

/// Revokes one of the caller's keys (administrators: anyone's); it stops working at once.
async fn revoke_key(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", format!("key id `{id}` is not an integer"));
    };
    let owner = who.key_owner_scope();
    match s.accounts.revoke_api_key(id, owner).await {
        Ok(key) => {
            tracing::info!(key = id, user = %key.user, by = %who.name, "API key revoked");
            Json(key).into_response()
        }
        Err(e @ super::accounts::AccountError::NoSuchKey(_)) => {
            error(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", e)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", e),
    }
}

/// `GET /ws`: every change event as a JSON text message, until the client goes away.
pub async fn websocket(
    State(s): State<AppState>,
    Extension(who): Extension<Identity>,
    ws: WebSocketUpgrade,
) -> Response {
    let mut events = s.events.subscribe();
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        let hello = json!({ "kind": "hello", "user": who.name, "role": who.role.as_str() }).to_string();
        if socket.send(Message::Text(hello.into())).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(text) => if socket.send(Message::Text(text.into())).await.is_err() { break },
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        let note = json!({ "kind": "lagged", "missed": n }).to_string();
                        if socket.send(Message::Text(note.into())).await.is_err() { break }
                    }
                    Err(_) => break,
                },
                incoming = socket.recv() => match incoming {
                    // Clients only listen; anything but a close is ignored.
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    })
}

async fn docs() -> Html<&'static str> {
    Html(include_str!("api_docs.html"))
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of `/api/v1`.
pub fn openapi_document() -> Value {
    let id_param = |name: &str| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } });
    let ok = |what: &str| json!({ "200": { "description": what }, "401": { "description": "no or bad credentials" } });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Sextant control plane API", "version": env!("CARGO_PKG_VERSION"),
            "description": "Authenticate with `Authorization: Bearer <API key or JWT>` (POST /api/v1/token issues a JWT), HTTP basic auth, or the browser session cookie. Errors are JSON objects with error_code and message." },
        "components": { "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer" },
            "basic": { "type": "http", "scheme": "basic" } } },
        "security": [ { "bearer": [] }, { "basic": [] } ],
        "paths": {
            "/api/v1/token": { "post": { "summary": "Exchange a user name and password for a JWT (1 hour)", "security": [],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                    "required": ["username", "password"], "properties": { "username": { "type": "string" }, "password": { "type": "string" } } } } } },
                "responses": { "200": { "description": "access_token, token_type, expires_in" }, "401": { "description": "wrong credentials" }, "429": { "description": "rate limited" } } } },
            "/api/v1/me": { "get": { "summary": "The caller's name and role", "responses": ok("identity") } },
            "/api/v1/experiments": { "get": { "summary": "Active experiments",
                "parameters": [ { "name": "name_contains", "in": "query", "schema": { "type": "string" } } ], "responses": ok("experiments") } },
            "/api/v1/experiments/{id}/runs": { "get": { "summary": "An experiment's runs, filtered and ordered with MLflow's search grammar",
                "parameters": [ id_param("id"), { "name": "filter", "in": "query", "schema": { "type": "string" } }, { "name": "order_by", "in": "query", "schema": { "type": "string" } },
                    { "name": "page", "in": "query", "schema": { "type": "integer", "minimum": 0 }, "description": "page of 100 runs, from 0" } ],
                "responses": { "200": { "description": "runs table" }, "400": { "description": "malformed filter, with the position" }, "404": { "description": "no such experiment" } } } },
            "/api/v1/runs/{id}": { "get": { "summary": "A run with metric histories (downsampled), artifacts and lineage", "parameters": [ id_param("id") ], "responses": ok("run") } },
            "/api/v1/models": { "get": { "summary": "Registered models with their aliases", "responses": ok("models") } },
            "/api/v1/models/{name}": { "get": { "summary": "A model's versions and alias history", "parameters": [ id_param("name") ], "responses": ok("model") } },
            "/api/v1/models/{name}/aliases": { "post": { "summary": "Move an alias (promotion or rollback); researcher or admin",
                "parameters": [ id_param("name") ],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["alias", "version"],
                    "properties": { "alias": { "type": "string" }, "version": { "type": "integer" } } } } } },
                "responses": { "200": { "description": "moved" }, "400": { "description": "malformed body" }, "403": { "description": "role too low" }, "404": { "description": "no such model or version" } } } },
            "/api/v1/datasets": { "get": { "summary": "The data catalog", "responses": ok("datasets") } },
            "/api/v1/backtests": { "post": { "summary": "Start a backtest; researcher or admin",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                    "required": ["symbol", "strategy", "cash"],
                    "properties": { "symbol": { "type": "string" }, "timeframe": { "type": "string" }, "strategy": { "type": "string", "enum": super::backtests::STRATEGIES },
                        "params": { "type": "string", "description": "key=value pairs, comma separated" }, "cash": { "type": "string" }, "commission": { "type": "string" } } } } } },
                "responses": { "202": { "description": "started: run_id" }, "403": { "description": "role too low" }, "422": { "description": "invalid fields, each with its reason" } } } },
            "/api/v1/backtests/{id}": { "get": { "summary": "A backtest's status, stage and progress (bars simulated of all bars), curves and trades", "parameters": [ id_param("id") ], "responses": ok("backtest") } },
            "/api/v1/keys": {
                "get": { "summary": "The caller's API keys (id, first characters, label, created, last used; never the secret); administrators see everyone's",
                    "parameters": [ { "name": "user", "in": "query", "schema": { "type": "string" }, "description": "administrators: only this user's keys" } ], "responses": ok("keys") },
                "post": { "summary": "Create an API key for the caller; the secret is in this response only",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object",
                        "properties": { "label": { "type": "string", "maxLength": 100 } } } } } },
                    "responses": { "201": { "description": "key and user" }, "400": { "description": "malformed body" }, "422": { "description": "label too long" } } } },
            "/api/v1/keys/{id}": { "delete": { "summary": "Revoke one of the caller's API keys (administrators: anyone's); it stops working at once",
                "parameters": [ id_param("id") ],
                "responses": { "200": { "description": "the revoked key" }, "400": { "description": "id is not an integer" }, "404": { "description": "no such key of the caller" } } } }
        }
    })
}
