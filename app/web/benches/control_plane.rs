//! Control-plane speed at scale: 10,000 runs and 1,000,000 metric points in SQLite (or, with
//! SEXTANT_BENCH_POSTGRES=1, in a fresh PostgreSQL database on SEXTANT_TEST_POSTGRES_URL's server), then the
//! experiment page's server response time (p50/p99 over repeated renders of its first page,
//! plain, sorted by a metric, and filtered), the registry's MLflow `runs/search` with filters, and
//! the JSON API's throughput under `wrk` (Debian) on loopback. `cargo bench --workspace --bench control_plane`; SEXTANT_BENCH_RUNS and
//! SEXTANT_BENCH_POINTS change the scale.
#![allow(clippy::unwrap_used)]

#[path = "../../../engine/tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use registry::store::MetricPoint;
use tower::ServiceExt;
use web::server::{AppState, router};
use web::types::Role;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// p50, p99 and response size of `samples` requests: a GET of `uri`, or a JSON POST of `body`.
async fn timed(
    state: &AppState,
    uri: &str,
    body: Option<&str>,
    key: &str,
    samples: usize,
) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(samples);
    let mut bytes = 0;
    for _ in 0..samples {
        let builder = match body {
            Some(_) => Request::post(uri).header(header::CONTENT_TYPE, "application/json"),
            None => Request::get(uri),
        };
        let body = body.map(|b| Body::from(b.to_owned())).unwrap_or_else(Body::empty);
        let mut req = builder.header(header::AUTHORIZATION, format!("Bearer {key}")).body(body).unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([127, 0, 0, 1], 1))));
        let started = Instant::now();
        let resp = router(state.clone()).oneshot(req).await.unwrap();
        assert!(resp.status().is_success(), "{uri}: {}", resp.status());
        bytes = axum::body::to_bytes(resp.into_body(), 256 << 20).await.unwrap().len();
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99), bytes)
}

fn wrk(url: &str, key: &str) -> Option<(f64, String)> {
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", "-d10s", "--latency", "-H", &format!("Authorization: Bearer {key}"), url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse().ok())?;
    let p99 =
        text.lines().find(|l| l.trim_start().starts_with("99%")).map(|l| l.trim().to_string()).unwrap_or_default();
    Some((rps, p99))
}

fn main() {
    let runs = env_usize("SEXTANT_BENCH_RUNS", 10_000);
    let points = env_usize("SEXTANT_BENCH_POINTS", 1_000_000);
    let per_run = (points / runs).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        // The tests' own databases: a SQLite file in a temporary folder, or a fresh PostgreSQL
        // database on SEXTANT_TEST_POSTGRES_URL's server, dropped at the end.
        let on_postgres = std::env::var_os("SEXTANT_BENCH_POSTGRES").is_some();
        let test_db = if on_postgres { common::postgres().await } else { common::sqlite().await };
        let backend = if on_postgres { "PostgreSQL" } else { "SQLite" };
        let state = support::state_on(&test_db).await;
        state.accounts.add_user("bench", "bench-password-123", Role::Researcher).await.unwrap();
        let key = state.accounts.create_api_key("bench", "bench").await.unwrap();
        let exp = state.store.create_experiment("scale", None, &[]).await.unwrap().to_string();

        let seeding = Instant::now();
        for i in 0..runs {
            let run = state.store.create_run(&exp, "bench", Some(&format!("trial-{i}")), None, &[]).await.unwrap();
            let metrics: Vec<MetricPoint> = (0..per_run)
                .map(|step| MetricPoint {
                    key: "loss".into(),
                    value: 1.0 / (1.0 + step as f64) + (i % 97) as f64 * 1e-3,
                    timestamp: 1_700_000_000_000 + step as i64,
                    step: step as i64,
                })
                .chain([MetricPoint {
                    key: "accuracy".into(),
                    value: (i % 1000) as f64 / 1000.0,
                    timestamp: 0,
                    step: 0,
                }])
                .collect();
            for chunk in metrics.chunks(1000) {
                let params: Vec<(String, String)> = if chunk.as_ptr() == metrics.as_ptr() {
                    vec![
                        ("lr".into(), format!("{}", 1e-3 * (1 + i % 10) as f64)),
                        ("layers".into(), (1 + i % 4).to_string()),
                    ]
                } else {
                    Vec::new()
                };
                state.store.log_batch(&run.run_id, chunk, &params, &[]).await.unwrap();
            }
        }
        eprintln!(
            "seeded {runs} runs, {} metric points in {:.1} s",
            runs * (per_run + 1),
            seeding.elapsed().as_secs_f64()
        );

        println!(
            "control plane at {runs} runs / {} metric points ({backend}), server response time, 100 samples each:",
            runs * (per_run + 1)
        );
        for (label, uri) in [
            ("experiment page (first 100 rows)", format!("/experiments/{exp}")),
            ("experiment page sorted by a metric", format!("/experiments/{exp}?order=metrics.accuracy+DESC")),
            (
                "experiment page filtered",
                format!("/experiments/{exp}?filter=metrics.accuracy+%3E+0.9+AND+params.layers+%3D+%272%27"),
            ),
            ("JSON API runs of the experiment", format!("/api/v1/experiments/{exp}/runs")),
            ("JSON API experiments list", "/api/v1/experiments".to_string()),
        ] {
            let (p50, p99, bytes) = timed(&state, &uri, None, &key, 100).await;
            println!(
                "  {label:<38} p50 {:>8.2} ms  p99 {:>8.2} ms  ({} KB)",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                bytes / 1024
            );
        }
        // The registry's own search, as the MLflow clients call it (100 runs a page, MLflow's default
        // page of a UI table).
        let search = |filter: &str, order: &str| {
            serde_json::json!({ "experiment_ids": [exp], "filter": filter, "order_by": [order], "max_results": 100 })
                .to_string()
        };
        for (label, body) in [
            ("MLflow runs/search, no filter", search("", "attributes.start_time DESC")),
            ("MLflow runs/search, metric filter", search("metrics.accuracy > 0.9", "metrics.accuracy DESC")),
            (
                "MLflow runs/search, metric+param filter",
                search("metrics.accuracy > 0.9 AND params.layers = '2'", "attributes.start_time DESC"),
            ),
            ("MLflow runs/search, run name LIKE", search("attributes.run_name LIKE 'trial-99%'", "metrics.loss ASC")),
        ] {
            let (p50, p99, bytes) = timed(&state, "/api/2.0/mlflow/runs/search", Some(&body), &key, 100).await;
            println!(
                "  {label:<38} p50 {:>8.2} ms  p99 {:>8.2} ms  ({} KB)",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                bytes / 1024
            );
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(web::server::serve(state.clone(), listener, async move {
            let _ = stopped.await;
        }));
        println!("JSON API under wrk (2 threads, 16 connections, 10 s, loopback):");
        for path in ["/api/v1/me", "/api/v1/experiments", &format!("/api/v1/experiments/{exp}/runs")] {
            let url = format!("http://{addr}{path}");
            let key = key.clone();
            match tokio::task::spawn_blocking(move || wrk(&url, &key)).await.unwrap() {
                Some((rps, p99)) => println!("  {path:<38} {rps:>10.0} requests/s   latency {p99}"),
                None => println!("  {path:<38} wrk not installed (apt-get install wrk)"),
            }
        }
        let _ = stop.send(());
        let _ = server.await;
        drop(state);
        test_db.finish().await;
    });
}
