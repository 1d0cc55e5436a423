//! Run changes are announced once committed, with their run and experiment, so live pages can
//! follow runs that programs write; refused writes announce nothing. SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use registry::TrackingStore;
use registry::store::{MetricPoint, RunChange, RunChangeKind};
use tokio::sync::broadcast::error::TryRecvError;

fn change(run_id: &str, experiment_id: i64, kind: RunChangeKind) -> RunChange {
    RunChange { run_id: run_id.to_owned(), experiment_id, kind }
}

#[tokio::test]
async fn every_committed_run_write_is_announced_and_refused_ones_are_not() {
    for test_db in common::both().await {
        let store = TrackingStore::new(test_db.db.clone());
        let exp = store.create_experiment("live", None, &[]).await.unwrap();
        // A clone is what the server's router holds: its writes reach the same subscribers.
        let writer = store.clone();
        let mut changes = store.subscribe();

        let run = writer.create_run(&exp.to_string(), "u", Some("r"), None, &[]).await.unwrap();
        let id = run.run_id.as_str();
        let point = MetricPoint { key: "loss".into(), value: 0.5, timestamp: 1, step: 0 };
        writer.log_batch(id, std::slice::from_ref(&point), &[("lr".into(), "0.1".into())], &[]).await.unwrap();
        // Changing a param is refused, so nothing is announced for it.
        assert!(writer.log_batch(id, &[], &[("lr".into(), "0.2".into())], &[]).await.is_err());
        writer.log_batch(id, &[], &[], &[("team".into(), "quant".into())]).await.unwrap();
        writer.delete_tag(id, "team").await.unwrap();
        writer.update_run(id, Some("FINISHED"), Some(2), None).await.unwrap();
        writer.set_run_stage(id, "deleted").await.unwrap();
        writer.set_run_stage(id, "active").await.unwrap();

        let mut seen = Vec::new();
        loop {
            match changes.try_recv() {
                Ok(c) => seen.push(c),
                Err(TryRecvError::Empty) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(
            seen,
            vec![
                change(id, exp, RunChangeKind::Created),
                change(id, exp, RunChangeKind::Logged),
                change(id, exp, RunChangeKind::Logged),
                change(id, exp, RunChangeKind::TagDeleted),
                change(id, exp, RunChangeKind::Updated),
                change(id, exp, RunChangeKind::Deleted),
                change(id, exp, RunChangeKind::Restored),
            ],
            "{}",
            test_db.label
        );
    }
}
