//! Run search narrows candidates in SQL and decides each with MLflow's grammar: for every
//! filter, the runs found equal those a full scan finds, on SQLite and PostgreSQL (NaN
//! metrics, case in LIKE, IN lists, missing keys and attributes included).
#![allow(clippy::unwrap_used)]

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use registry::TrackingStore;
use registry::search::{matches, parse_filter, parse_order_by, sort_runs};
use registry::store::MetricPoint;

const FILTERS: [&str; 14] = [
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5 AND params.model = 'cnn'",
    "metrics.acc != 0.5",
    "metrics.loss < 1",
    "metrics.acc = 0.25",
    "params.model = 'CNN'",
    "params.model LIKE 'c%'",
    "params.model ILIKE 'C%'",
    "params.model IN ('lstm', 'cnn')",
    "params.model != 'cnn'",
    "tags.team = 'quant' AND metrics.acc <= 0.75",
    "attributes.run_name LIKE 'r-1%'",
    "attributes.status = 'FINISHED'",
    "params.missing = 'x'",
];

#[tokio::test]
async fn sql_narrowing_finds_exactly_what_a_full_scan_finds() {
    for test_db in common::both().await {
        let store = TrackingStore::new(test_db.db.clone());
        let exp = store.create_experiment("search", None, &[]).await.unwrap();
        for i in 0..24 {
            let run = store.create_run(&exp.to_string(), "u", Some(&format!("r-{i}")), None, &[]).await.unwrap();
            let acc = if i % 7 == 0 { f64::NAN } else { (i % 5) as f64 / 4.0 };
            let mut metrics = vec![MetricPoint { key: "acc".into(), value: acc, timestamp: 1, step: 0 }];
            if i % 3 != 0 {
                metrics.push(MetricPoint { key: "loss".into(), value: i as f64 / 10.0, timestamp: 1, step: 0 });
            }
            let model = ["cnn", "CNN", "lstm", "Cnn-x"][i % 4];
            let tags = if i % 2 == 0 { vec![("team".to_string(), "quant".to_string())] } else { Vec::new() };
            store.log_batch(&run.run_id, &metrics, &[("model".into(), model.into())], &tags).await.unwrap();
            if i % 4 == 1 {
                store.update_run(&run.run_id, Some("FINISHED"), Some(2), None).await.unwrap();
            }
        }
        // A NaN metric is stored and read back as NaN, latest value and history alike.
        let first =
            store.runs_of(&[exp], "ACTIVE_ONLY").await.unwrap().into_iter().find(|r| r.run_name == "r-0").unwrap();
        assert!(first.metrics["acc"].value.is_nan(), "{}", test_db.label);
        let (history, _) = store.metric_history(&first.run_id, "acc", 10, 0).await.unwrap();
        assert!(history.len() == 1 && history[0].value.is_nan(), "{}", test_db.label);
        for filter in FILTERS {
            let clauses = parse_filter(filter).unwrap();
            let mut scanned: Vec<String> = store
                .runs_of(&[exp], "ACTIVE_ONLY")
                .await
                .unwrap()
                .into_iter()
                .filter(|r| matches(r, &clauses))
                .map(|r| r.run_name)
                .collect();
            let mut narrowed: Vec<String> = store
                .runs_matching(&[exp], "ACTIVE_ONLY", &clauses)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| matches(r, &clauses))
                .map(|r| r.run_name)
                .collect();
            scanned.sort();
            narrowed.sort();
            assert_eq!(narrowed, scanned, "{}: {filter}", test_db.label);
        }
        // The filters are not vacuous: some find runs, some find none.
        let hits = |f: &str| {
            let store = store.clone();
            let f = f.to_string();
            async move {
                let c = parse_filter(&f).unwrap();
                store
                    .runs_matching(&[exp], "ACTIVE_ONLY", &c)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|r| matches(r, &c))
                    .count()
            }
        };
        assert!(hits("metrics.acc > 0.5").await > 0);
        assert_eq!(hits("params.missing = 'x'").await, 0);

        // The search proper (candidates read with only the keys the filter and order need, the
        // page filled afterwards) returns the pages a full scan, sort and slice returns, with
        // every run's whole data.
        let everything = store.runs_of(&[exp], "ACTIVE_ONLY").await.unwrap();
        for filter in FILTERS.iter().chain(&[""]) {
            let clauses = parse_filter(filter).unwrap();
            for order in ["metrics.acc DESC", "params.model", "tags.team DESC", "attributes.run_name", ""] {
                let order = if order.is_empty() { Vec::new() } else { parse_order_by(&[order.to_string()]).unwrap() };
                let mut expected: Vec<_> = everything.iter().filter(|r| matches(r, &clauses)).cloned().collect();
                sort_runs(&mut expected, &order);
                for offset in [0, 5] {
                    let (page, next, total) =
                        store.search_runs(&[exp], "ACTIVE_ONLY", &clauses, &order, 5, offset).await.unwrap();
                    let want: Vec<_> = expected.iter().skip(offset).take(5).collect();
                    let got_ids: Vec<&str> = page.iter().map(|r| r.run_id.as_str()).collect();
                    let want_ids: Vec<&str> = want.iter().map(|r| r.run_id.as_str()).collect();
                    assert_eq!(got_ids, want_ids, "{}: {filter} / {order:?} from {offset}", test_db.label);
                    assert_eq!(total, expected.len());
                    assert_eq!(next, (offset + 5 < expected.len()).then_some(offset + 5));
                    for (got, want) in page.iter().zip(want) {
                        assert_eq!(got.params, want.params, "{filter}: whole data on the page");
                        assert_eq!(got.tags, want.tags, "{filter}: whole data on the page");
                        assert_eq!(got.metrics.keys().collect::<Vec<_>>(), want.metrics.keys().collect::<Vec<_>>());
                    }
                }
            }
        }
        test_db.finish().await;
    }
}
