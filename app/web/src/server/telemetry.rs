//! Prometheus metrics of the control plane: requests by area, method and status, and their
//! latency, rendered in the text exposition format at `/metrics`.

use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    area: &'static str,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AreaLabels {
    area: &'static str,
}

pub struct Telemetry {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<AreaLabels, Histogram>,
    pub backtests_started: Counter,
    pub logins: Counter,
}

fn new_latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Telemetry {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sextant");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<AreaLabels, Histogram>::new_with_constructor(new_latency_histogram as fn() -> Histogram);
        let backtests_started = Counter::default();
        let logins = Counter::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer a request", latency.clone());
        registry.register("backtests_started", "Backtests started from the control plane", backtests_started.clone());
        registry.register("logins", "Successful sign-ins", logins.clone());
        Self { registry, requests, latency, backtests_started, logins }
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

fn area_of(path: &str) -> &'static str {
    if path.starts_with("/api/2.0/") || path.starts_with("/ajax-api/") {
        "registry"
    } else if path.starts_with("/api/v1") {
        "api"
    } else if path.starts_with("/sfn/") {
        "server_fn"
    } else if path.starts_with("/pkg/") {
        "static"
    } else if matches!(path, "/metrics" | "/healthz" | "/readyz") {
        "ops"
    } else {
        "page"
    }
}

/// Middleware: counts and times every request.
pub async fn track(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let area = area_of(req.uri().path());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let t = &state.telemetry;
    t.latency.get_or_create(&AreaLabels { area }).observe(started.elapsed().as_secs_f64());
    t.requests.get_or_create(&RequestLabels { area, method, status: resp.status().as_u16() }).inc();
    resp
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &state.telemetry.registry) {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response()
}
