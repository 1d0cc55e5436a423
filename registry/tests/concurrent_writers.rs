//! Many sweep workers writing at once, on SQLite and PostgreSQL: every metric point each one
//! logs is kept (their own runs and one run they share), and the model versions they register
//! concurrently are numbered 1..=N with none lost or repeated.
#![allow(clippy::unwrap_used)]

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use registry::TrackingStore;
use registry::store::MetricPoint;

const WORKERS: usize = 8;
const BATCHES: usize = 20;
const PER_BATCH: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_lose_no_metric_and_number_versions_without_gaps_or_repeats() {
    for test_db in common::both().await {
        let label = test_db.label;
        let store = TrackingStore::new(test_db.db.clone());
        let exp = store.create_experiment("sweep", None, &[]).await.unwrap().to_string();
        let shared = store.create_run(&exp, "sweep", Some("shared"), None, &[]).await.unwrap().run_id;
        store.create_registered_model("m", "", &[]).await.unwrap();
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..WORKERS {
            let (store, exp, shared) = (store.clone(), exp.clone(), shared.clone());
            workers.spawn(async move {
                let own = store.create_run(&exp, "sweep", Some(&format!("trial-{w}")), None, &[]).await.unwrap().run_id;
                for b in 0..BATCHES {
                    let points: Vec<MetricPoint> = (0..PER_BATCH)
                        .map(|k| {
                            let step = (b * PER_BATCH + k) as i64;
                            MetricPoint {
                                key: "loss".into(),
                                value: (w * 1000) as f64 + step as f64,
                                timestamp: step,
                                step,
                            }
                        })
                        .collect();
                    store.log_batch(&own, &points, &[], &[]).await.unwrap();
                    // Every worker also appends to one run and one key that all of them share.
                    let step = (w * BATCHES + b) as i64;
                    let point = MetricPoint { key: "shared".into(), value: step as f64, timestamp: step, step };
                    store.log_batch(&shared, &[point], &[], &[]).await.unwrap();
                }
                let version = store.create_model_version("m", "models:/x", &own, "", "", &[]).await.unwrap();
                (own, version.version)
            });
        }
        let mut versions = Vec::new();
        while let Some(done) = workers.join_next().await {
            let (own, version) = done.unwrap();
            versions.push(version);
            let (history, _) = store.metric_history(&own, "loss", 100_000, 0).await.unwrap();
            assert_eq!(history.len(), BATCHES * PER_BATCH, "{label}: every point of {own}");
        }
        versions.sort();
        assert_eq!(versions, (1..=WORKERS as i64).collect::<Vec<_>>(), "{label}: version numbers");
        let (history, _) = store.metric_history(&shared, "shared", 100_000, 0).await.unwrap();
        let mut steps: Vec<i64> = history.iter().map(|p| p.step).collect();
        steps.sort();
        assert_eq!(steps, (0..(WORKERS * BATCHES) as i64).collect::<Vec<_>>(), "{label}: the shared run's points");
        let run = store.run(&shared).await.unwrap();
        assert_eq!(
            run.metrics["shared"].step,
            (WORKERS * BATCHES - 1) as i64,
            "{label}: the latest value is the highest step"
        );
        test_db.finish().await;
    }
}
