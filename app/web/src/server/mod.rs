//! The control plane's server: one axum app with the Leptos pages and server functions, the
//! JSON API, the MLflow-compatible registry API, the WebSocket, metrics and health checks.

pub mod accounts;
pub mod api_v1;
pub mod auth;
pub mod backtests;
pub mod context;
pub mod jwt;
pub mod origin;
pub mod queries;
pub mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::storage::{ArtifactStore, Database};
use governor::DefaultKeyedRateLimiter;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use registry::TrackingStore;
use tower_http::services::ServeDir;

use crate::app::{App, shell};
use accounts::Accounts;

/// Request bodies above this (outside the artifact proxy, which has its own limit) get 413.
const MAX_BODY_BYTES: usize = 2 << 20;

/// How the server was started.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Folder holding `pkg/sextant.js` and `pkg/sextant_bg.wasm` (scripts/build-web.sh).
    pub site_dir: PathBuf,
    /// The data folder: catalog, database (when SQLite) and artifacts.
    pub data_dir: PathBuf,
    /// Mark the session cookie `Secure` (browsers still accept it on http://localhost).
    pub secure_cookies: bool,
}

pub struct Inner {
    pub leptos: LeptosOptions,
    pub options: ServeOptions,
    pub db: Database,
    pub store: TrackingStore,
    pub artifacts: ArtifactStore,
    pub accounts: Accounts,
    pub login_limiter: DefaultKeyedRateLimiter<String>,
    pub telemetry: telemetry::Telemetry,
    pub backtests: backtests::Jobs,
    pub events: tokio::sync::broadcast::Sender<String>,
}

/// Everything a handler or server function needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    pub async fn new(db: Database, artifacts: ArtifactStore, options: ServeOptions) -> anyhow::Result<Self> {
        let accounts = Accounts::open(db.clone()).await?;
        let leptos = LeptosOptions::builder()
            .output_name("sextant")
            .site_root(options.site_dir.to_string_lossy().to_string())
            .site_pkg_dir("pkg")
            .build();
        let (events, _) = tokio::sync::broadcast::channel(256);
        let store = TrackingStore::new(db.clone());
        forward_run_changes(store.subscribe(), events.clone());
        Ok(Self(Arc::new(Inner {
            leptos,
            options,
            store,
            db,
            artifacts,
            accounts,
            login_limiter: auth::login_limiter(),
            telemetry: telemetry::Telemetry::new(),
            backtests: backtests::Jobs::default(),
            events,
        })))
    }

    /// Tells every open WebSocket that something changed (a run, a backtest, an alias).
    pub fn publish(&self, event: serde_json::Value) {
        let _ = self.events.send(event.to_string());
    }
}

/// Relays the registry's committed run changes (whoever wrote them: the MLflow API, a backtest,
/// the pages) to the `/ws` subscribers as `{"kind": "run", ...}` events. Ends with the store.
fn forward_run_changes(
    mut changes: tokio::sync::broadcast::Receiver<registry::store::RunChange>,
    events: tokio::sync::broadcast::Sender<String>,
) {
    use tokio::sync::broadcast::error::RecvError;
    tokio::spawn(async move {
        loop {
            let event = match changes.recv().await {
                Ok(c) => serde_json::json!({
                    "kind": "run",
                    "run_id": c.run_id,
                    "experiment_id": c.experiment_id.to_string(),
                    "change": c.kind,
                }),
                // The pages re-read everything on "lagged", as they do when /ws itself lags.
                Err(RecvError::Lagged(n)) => serde_json::json!({ "kind": "lagged", "missed": n }),
                Err(RecvError::Closed) => break,
            };
            let _ = events.send(event.to_string());
        }
    });
}

/// The whole app as one router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let leptos_options = state.leptos.clone();
    let pages = Router::new()
        .leptos_routes_with_context(&state, routes, || {}, move || shell(leptos_options.clone()))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(telemetry::render))
        .route("/ws", get(api_v1::websocket))
        .nest("/api/v1", api_v1::routes())
        .nest_service("/pkg", ServeDir::new(state.options.site_dir.join("pkg")))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state.clone());
    let registry = registry::server::api_routes(state.store.clone(), state.artifacts.clone());
    pages
        .merge(registry)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state, telemetry::track))
}

async fn ready(State(state): State<AppState>) -> Response {
    match sqlx::query("SELECT 1").execute(state.db.pool()).await {
        Ok(_) => "ready".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database unavailable: {e}")).into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/ajax-api/") {
        let body =
            serde_json::json!({ "error_code": "ENDPOINT_NOT_FOUND", "message": format!("No API endpoint for {path}") });
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    (StatusCode::NOT_FOUND, "Not found").into_response()
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
