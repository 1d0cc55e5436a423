//! `sextant train` and `sextant predict` as a user runs them: a small hybrid trained on GOOG
//! with per-epoch metrics in the tracking database and a registered version, predictions with
//! MC dropout from the saved folder, a resumed run, and specs refused before training.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{ok, run, sample};

fn write_spec(dir: &Path, epochs: usize, extra: &str) -> std::path::PathBuf {
    let spec = dir.join("small.toml");
    std::fs::write(
        &spec,
        format!(
            r#"
name = "small-hybrid"
seed = 7
[data]
path = "{data}"
[features]
[[features.feature]]
name = "roc"
period = 1
[[features.feature]]
name = "rsi"
period = 14
[[features.feature]]
name = "natr"
period = 14
[features.labels]
kind = "fixed_horizon"
horizon = 5
buy_threshold = 0.01
sell_threshold = -0.01
[dataset]
window = 16
[dataset.split]
embargo = 5
[model]
architecture = "hybrid"
fused_dim = 32
fusion_heads = 2
[model.cnn]
channels = 4
model_dim = 8
heads = 2
[model.lstm]
hidden = 8
model_dim = 8
[training]
epochs = {epochs}
batch_size = 128
mc_passes = 5
[registry]
experiment = "CLI models"
model_name = "small-hybrid"
{extra}
"#,
            data = sample("GOOG.csv").display()
        ),
    )
    .unwrap();
    spec
}

#[test]
fn train_tracks_registers_and_predict_reads_the_saved_model() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), 2, "");
    let out = dir.path().join("run1");
    let text = ok(dir.path(), &["train", "--spec", spec.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(text.contains("small-hybrid: 2148 bars of GOOG"), "{text}");
    assert!(text.contains("epoch   1:") && text.contains("epoch   2:"), "{text}");
    assert!(text.contains("majority class"), "{text}");
    assert!(text.contains("registered small-hybrid version 1"), "{text}");
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("model/model.json")).unwrap()).unwrap();
    assert_eq!(card["format"], "sextant-model/1");
    assert_eq!(card["model"]["architecture"], "hybrid");
    assert_eq!(card["seed"], 7);
    assert_eq!(card["epochs_trained"], 2);
    assert_eq!(card["data"]["bars"], 2148);
    assert_eq!(card["feature_columns"].as_array().unwrap().len(), 3);
    assert!(out.join("model/model.safetensors").is_file());
    assert!(out.join("checkpoints/last/optimizer.safetensors").is_file());

    // The tracking database has the run, its per-epoch metrics, and the registered version.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("data/sextant.db").display());
        let store = registry::TrackingStore::new(engine::storage::Database::connect(&url).await.unwrap());
        let experiment = store.experiment_by_name("CLI models").await.unwrap().unwrap();
        let runs = store.runs_of(&[experiment.experiment_id], "ACTIVE_ONLY").await.unwrap();
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run.status, "FINISHED");
        assert_eq!(run.tags["sextant.feature_spec_hash"], card["feature_spec_hash"].as_str().unwrap());
        assert_eq!(run.tags["sextant.data_hash"], card["data"]["sha256"].as_str().unwrap());
        assert_eq!(run.params["model.cnn.kernel_sizes"], "[3,5,7,11]");
        for key in
            ["val_loss", "val_balanced_accuracy", "val_macro_f1", "val_mcc", "val_brier", "val_ece", "train_loss"]
        {
            let (points, _) = store.metric_history(&run.run_id, key, 100, 0).await.unwrap();
            assert_eq!(points.iter().map(|p| p.step).collect::<Vec<_>>(), vec![1, 2], "{key}");
        }
        assert!(run.metrics.contains_key("test_accuracy") && run.metrics.contains_key("test_majority_accuracy"));
        let versions = store.search_model_versions(Some("small-hybrid")).await.unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].run_id, run.run_id);
    });

    // Predictions from the saved folder: probabilities that sum to one, with MC spread.
    let csv_path = dir.path().join("pred.csv");
    let model = out.join("model");
    let goog = sample("GOOG.csv");
    let args = [
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--data",
        goog.to_str().unwrap(),
        "--mc-passes",
        "10",
        "--last",
        "5",
        "--out",
        csv_path.to_str().unwrap(),
    ];
    ok(dir.path(), &args);
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "timestamp,p_sell,p_hold,p_buy,class,expected_return,p_sell_std,p_hold_std,p_buy_std,expected_return_std"
    );
    assert_eq!(lines.len(), 6);
    assert!(lines[5].starts_with("2013-03-01"), "{}", lines[5]);
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        let p: f64 = cells[1..4].iter().map(|c| c.parse::<f64>().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-5, "{line}");
        assert!(["sell", "hold", "buy"].contains(&cells[4]));
        assert!(cells[6..9].iter().any(|c| c.parse::<f64>().unwrap() > 0.0), "MC spread: {line}");
    }
    // Deterministic predictions repeat exactly.
    let det = |name: &str| {
        let path = dir.path().join(name);
        let mut a = args.to_vec();
        a[6] = "0";
        a[10] = path.to_str().unwrap();
        ok(dir.path(), &a);
        std::fs::read_to_string(path).unwrap()
    };
    let from_folder = det("a.csv");
    assert_eq!(from_folder, det("b.csv"));

    // The registered version, fetched through the registry's artifact store, predicts the same.
    let mut a = args.to_vec();
    a[2] = "models:/small-hybrid/1";
    a[6] = "0";
    let registered = dir.path().join("c.csv");
    a[10] = registered.to_str().unwrap();
    ok(dir.path(), &a);
    assert_eq!(std::fs::read_to_string(&registered).unwrap(), from_folder);
    assert!(dir.path().join("data/models/registry/small-hybrid/1/model.safetensors").is_file());
    a[2] = "models:/small-hybrid/9";
    let missing = run(dir.path(), &a);
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("models:/small-hybrid/9"), "{err}");
}

#[test]
fn an_interrupted_run_resumes_and_bad_specs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), 1, "");
    let out = dir.path().join("run");
    ok(dir.path(), &["train", "--spec", spec.to_str().unwrap(), "--out", out.to_str().unwrap(), "--no-tracking"]);
    let text = ok(
        dir.path(),
        &[
            "train",
            "--spec",
            spec.to_str().unwrap(),
            "--resume",
            out.to_str().unwrap(),
            "--epochs",
            "2",
            "--no-tracking",
        ],
    );
    assert!(!text.contains("epoch   1:") && text.contains("epoch   2:"), "only the second epoch runs: {text}");
    let card: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("model/model.json")).unwrap()).unwrap();
    assert_eq!(card["epochs_trained"], 2);

    let bad = write_spec(dir.path(), 1, "");
    let text = std::fs::read_to_string(&bad).unwrap().replace("name = \"natr\"", "name = \"natrr\"");
    std::fs::write(&bad, text).unwrap();
    let failed = run(dir.path(), &["train", "--spec", bad.to_str().unwrap(), "--no-tracking"]);
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("small.toml") && err.contains("natrr"), "{err}");
}
