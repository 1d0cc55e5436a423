//! The official MLflow client (mlflow-skinny from PyPI) against the control plane's protected
//! registry API: an API key as MLFLOW_TRACKING_TOKEN, or user name and password, work; no
//! credentials get UNAUTHENTICATED; a viewer's key reads but cannot write.
#![allow(clippy::unwrap_used)]

#[path = "../../../engine/tests/common/mod.rs"]
mod common;
mod support;

use serde_json::{Value, json};
use web::types::Role;

fn drive(uri: &str, suffix: &str, env: &[(&str, &str)]) -> Value {
    let python = std::env::var("SEXTANT_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/sextant-py/bin/python", std::env::var("HOME").unwrap_or_default()));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow_auth.py");
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&script).arg(uri).arg(suffix).env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0");
    for var in ["MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{python} (the venv scripts/setup.sh makes, with mlflow-skinny) is required: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the MLflow client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_authenticates_by_token_or_password_and_respects_roles() {
    for test_db in common::both().await {
        let label = test_db.label;
        let state = support::state_on(&test_db).await;
        state.accounts.add_user("rita", "researcher-password-1", Role::Researcher).await.unwrap();
        state.accounts.add_user("vic", "viewer-password-123", Role::Viewer).await.unwrap();
        let rita_key = state.accounts.create_api_key("rita", "mlflow").await.unwrap();
        let vic_key = state.accounts.create_api_key("vic", "mlflow").await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(web::server::serve(state.clone(), listener, async move {
            let _ = stopped.await;
        }));

        let with_token = {
            let (uri, key) = (uri.clone(), rita_key.clone());
            tokio::task::spawn_blocking(move || drive(&uri, "token", &[("MLFLOW_TRACKING_TOKEN", &key)])).await.unwrap()
        };
        assert_eq!(with_token["champion"], "1", "{label}: {with_token}");
        assert_eq!(with_token["params"], json!({ "lr": "0.01" }), "{label}");

        let with_password = {
            let uri = uri.clone();
            tokio::task::spawn_blocking(move || {
                drive(
                    &uri,
                    "password",
                    &[("MLFLOW_TRACKING_USERNAME", "rita"), ("MLFLOW_TRACKING_PASSWORD", "researcher-password-1")],
                )
            })
            .await
            .unwrap()
        };
        assert_eq!(with_password["champion"], "1", "{label}: {with_password}");

        let anonymous = {
            let uri = uri.clone();
            tokio::task::spawn_blocking(move || drive(&uri, "anon", &[])).await.unwrap()
        };
        assert_eq!(anonymous["error_code"], "UNAUTHENTICATED", "{label}: {anonymous}");
        assert_eq!(anonymous["search_error_code"], "UNAUTHENTICATED", "{label}");

        let viewer = {
            let uri = uri.clone();
            tokio::task::spawn_blocking(move || drive(&uri, "viewer", &[("MLFLOW_TRACKING_TOKEN", &vic_key)]))
                .await
                .unwrap()
        };
        assert_eq!(viewer["error_code"], "PERMISSION_DENIED", "{label}: {viewer}");
        assert!(viewer["experiments_seen"].as_u64().unwrap() >= 3, "{label}: the viewer still reads: {viewer}");
        assert!(state.store.experiment_by_name("auth-viewer").await.unwrap().is_none(), "{label}: nothing created");

        let _ = stop.send(());
        server.await.unwrap().unwrap();
        test_db.finish().await;
    }
}
