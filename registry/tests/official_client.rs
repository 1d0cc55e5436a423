//! The official MLflow client (mlflow-skinny, installed by scripts/setup.sh into the virtual
//! environment SEXTANT_TEST_PYTHON names) against our server, on SQLite and on PostgreSQL:
//! experiments, runs, params, metrics, tags, batches, search, the fluent API and error codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use registry::TrackingStore;
use serde_json::Value;

async fn drive_with_official_client(db: engine::storage::Database) -> Value {
    drive_with(db, "mlflow_client.py").await
}

/// Runs one of the Python scripts in tests/ against a server on `db`; returns what it printed.
async fn drive_with(db: engine::storage::Database, script: &str) -> Value {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let artifacts_dir = tempfile::tempdir().unwrap();
    let artifacts = engine::storage::ArtifactStore::open(artifacts_dir.path().to_str().unwrap()).unwrap();
    let server = tokio::spawn(registry::serve(TrackingStore::new(db), artifacts, listener));
    let python = std::env::var("SEXTANT_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/.cache/sextant-py/bin/python", std::env::var("HOME").unwrap_or_default()));
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(script);
    let uri = format!("http://{addr}");
    let run = {
        let python = python.clone();
        move || {
            std::process::Command::new(&python)
                .arg(&script)
                .arg(&uri)
                .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
                .output()
        }
    };
    let out = tokio::task::spawn_blocking(run)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{python} (the venv scripts/setup.sh makes, with mlflow-skinny) is required: {e}"));
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the MLflow client failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_mlflow_client_works_against_our_server_on_both_databases() {
    for test_db in common::both().await {
        let seen = drive_with_official_client(test_db.db.clone()).await;
        let label = test_db.label;
        assert_eq!(seen["duplicate_experiment"], "RESOURCE_ALREADY_EXISTS", "{label}");
        assert_eq!(seen["missing_experiment"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["missing_run"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["changed_param"], "INVALID_PARAMETER_VALUE", "{label}: params are immutable");
        assert_eq!(seen["same_param_again"], Value::Null, "{label}: re-logging the same value is fine");
        assert_eq!(
            seen["duplicate_param_in_batch"], "INVALID_PARAMETER_VALUE",
            "{label}: one value per key in a batch"
        );
        assert_eq!(seen["bad_filter"], "INVALID_PARAMETER_VALUE", "{label}");
        assert_eq!(seen["filtered"], serde_json::json!(["sma-10-20"]), "{label}");
        assert_eq!(seen["ordered"], serde_json::json!(["sma-10-20", "sma-10-50", "sma-5-20"]), "{label}");
        assert_eq!(seen["paged"], serde_json::json!([2, 1]), "{label}");
        // Artifacts.
        assert_eq!(
            seen["artifacts"],
            serde_json::json!([["config.yaml", false], ["report.txt", false], ["reports", true]]),
            "{label}"
        );
        assert_eq!(seen["nested"], serde_json::json!(["reports/daily/report.txt"]), "{label}");
        assert_eq!(seen["downloaded"], "sharpe 1.3\n", "{label}");
        // The model registry.
        assert_eq!(seen["duplicate_model"], "RESOURCE_ALREADY_EXISTS", "{label}");
        assert_eq!(seen["champion_after_move"], "2", "{label}: moving an alias promotes the new version");
        assert_eq!(seen["champion_run"], true, "{label}");
        assert_eq!(seen["aliases"], serde_json::json!({"champion": "2"}), "{label}");
        assert_eq!(seen["stage_v1"], "Production", "{label}");
        assert_eq!(seen["versions_found"], serde_json::json!(["1", "2"]), "{label}");
        assert_eq!(seen["models_found"], serde_json::json!(["sma-cross"]), "{label}");
        assert_eq!(seen["missing_version"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["missing_alias"], "INVALID_PARAMETER_VALUE", "{label}: as MLflow 3 answers");
        assert_eq!(seen["missing_model"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["renamed_versions"], serde_json::json!(["1", "2"]), "{label}: versions follow a rename");
        test_db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflow_3_logged_models_log_load_register_and_search_on_both_databases() {
    for test_db in common::both().await {
        let seen = drive_with(test_db.db.clone(), "mlflow_logged_models.py").await;
        let label = test_db.label;
        assert_eq!(seen["status"], "READY", "{label}: log_model finalises the model: {seen}");
        assert_eq!(seen["name"], "doubler", "{label}");
        assert_eq!(seen["source_run"], true, "{label}");
        assert_eq!(seen["params"], serde_json::json!({"alpha": "0.5"}), "{label}: the run's params are copied");
        assert_eq!(
            seen["metrics"],
            serde_json::json!([["acc", 0.9, 0], ["rmse", 0.1, 1]]),
            "{label}: the run's metric copied when the model is logged, and one logged with its id"
        );
        assert_eq!(seen["artifact_uri"], true, "{label}");
        assert_eq!(seen["outputs"], serde_json::json!([true]), "{label}: the run lists the model among its outputs");
        assert_eq!(seen["predicted"], serde_json::json!([2, 4, 6]), "{label}: loaded through the artifact proxy");
        assert_eq!(seen["versions"], serde_json::json!(["1", "2"]), "{label}");
        assert_eq!(seen["version_runs"], serde_json::json!([true, true]), "{label}");
        assert_eq!(seen["from_registry"], serde_json::json!([10]), "{label}: models:/NAME/VERSION loads it");
        assert_eq!(seen["model_version_tag"], true, "{label}");
        assert_eq!(seen["other_status"], "PENDING", "{label}");
        assert_eq!(seen["found"], serde_json::json!(["doubler"]), "{label}");
        assert_eq!(seen["pending"], serde_json::json!(["other"]), "{label}");
        assert_eq!(seen["ordered"], serde_json::json!(["doubler", "other"]), "{label}");
        assert_eq!(seen["paged"], serde_json::json!([1, 1, true, true]), "{label}");
        assert_eq!(seen["tag"], "quant", "{label}");
        assert_eq!(seen["tag_after_delete"], Value::Null, "{label}");
        assert_eq!(seen["missing_tag"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["params_after"], serde_json::json!({"alpha": "0.9", "beta": "1"}), "{label}");
        assert_eq!(seen["finalized"], "READY", "{label}");
        assert_eq!(seen["deleted"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["after_delete"], serde_json::json!(["doubler"]), "{label}");
        assert_eq!(seen["missing"], "RESOURCE_DOES_NOT_EXIST", "{label}");
        assert_eq!(seen["bad_filter"], "INVALID_PARAMETER_VALUE", "{label}");
        assert_eq!(seen["bad_name"], "INVALID_PARAMETER_VALUE", "{label}");
        test_db.finish().await;
    }
}

/// Our Rust client against our server: the training pipeline's path (log params and per-epoch
/// metrics, upload a checkpoint, register, promote) and `models:/` resolution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_logs_registers_promotes_and_resolves_models() {
    for test_db in common::both().await {
        let label = test_db.label;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let artifacts = engine::storage::ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
        let server = tokio::spawn(registry::serve(TrackingStore::new(test_db.db.clone()), artifacts.clone(), listener));
        let client = registry::MlflowClient::new(&format!("http://{addr}")).as_user("ops-alice");

        assert_eq!(client.experiment_id_by_name("cnn-lstm").await.unwrap(), None);
        let exp = client.create_experiment("cnn-lstm").await.unwrap();
        let err = client.create_experiment("cnn-lstm").await.unwrap_err();
        assert_eq!(err.error_code(), Some("RESOURCE_ALREADY_EXISTS"), "{label}");
        let mut versions = Vec::new();
        for seed in ["1", "2"] {
            let run = client
                .create_run(&exp, &format!("seed-{seed}"), &[("sextant.seed", seed), ("sextant.data_sha256", "abc123")])
                .await
                .unwrap();
            let epochs: Vec<registry::client::MetricPoint> = (0..150)
                .map(|e| registry::client::MetricPoint {
                    key: "val_loss".into(),
                    value: 1.0 / (e + 1) as f64,
                    timestamp_ms: 0,
                    step: e,
                })
                .collect();
            client.log_batch(&run, &[("lr", "0.001".into()), ("epochs", "150".into())], &epochs, &[]).await.unwrap();
            client.log_artifact(&run, "model/weights.safetensors", vec![7u8; 1024]).await.unwrap();
            client.set_terminated(&run, "FINISHED").await.unwrap();
            let info = client.get_run(&run).await.unwrap();
            assert_eq!(info["data"]["metrics"][0]["value"], 1.0 / 150.0, "{label}: the latest epoch's value");
            let source = format!("{}/model", info["info"]["artifact_uri"].as_str().unwrap());
            versions.push(client.register_model("cnn-lstm-goog", &source, &run).await.unwrap());
        }
        assert_eq!(versions, ["1", "2"], "{label}");
        client.set_alias("cnn-lstm-goog", "champion", "2").await.unwrap();
        let champion = client.resolve_model("models:/cnn-lstm-goog@champion").await.unwrap();
        assert_eq!(champion["version"], "2", "{label}");
        // Rollback: move the alias back.
        client.set_alias("cnn-lstm-goog", "champion", "1").await.unwrap();
        assert_eq!(client.resolve_model("models:/cnn-lstm-goog@champion").await.unwrap()["version"], "1", "{label}");
        let history = client.alias_history("cnn-lstm-goog").await.unwrap();
        let moves: Vec<(String, String, Option<String>, String)> = history
            .iter()
            .map(|h| {
                (
                    h["alias"].as_str().unwrap().to_string(),
                    h["version"].as_str().unwrap().to_string(),
                    h["previous_version"].as_str().map(str::to_string),
                    h["changed_by"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            moves,
            vec![
                ("champion".into(), "2".into(), None, "ops-alice".into()),
                ("champion".into(), "1".into(), Some("2".into()), "ops-alice".into())
            ],
            "{label}: promotion then rollback, with who"
        );
        assert!(history[1]["changed_at"].as_i64().unwrap() >= history[0]["changed_at"].as_i64().unwrap());
        let v2 = client.resolve_model("models:/cnn-lstm-goog/2").await.unwrap();
        let key = v2["source"].as_str().unwrap().trim_start_matches("mlflow-artifacts:/").to_string()
            + "/weights.safetensors";
        assert_eq!(
            artifacts.get(&key).await.unwrap().len(),
            1024,
            "{label}: the checkpoint is where the version points"
        );
        assert!(client.resolve_model("models:/cnn-lstm-goog").await.is_err());
        let best = client.search_runs(&[&exp], "params.lr = '0.001'", &["metrics.val_loss ASC"], 10).await.unwrap();
        assert_eq!(best.len(), 2, "{label}");
        server.abort();
        test_db.finish().await;
    }
}
