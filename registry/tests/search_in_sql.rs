//! Run search in SQL: filters and orders with an exact SQL form are counted, ordered and paged by
//! the database, the rest narrowed in SQL and decided with MLflow's grammar in Rust; either way
//! the pages equal a full scan, sort and slice, on SQLite and PostgreSQL (NaN and negative-zero
//! metrics, case in LIKE, IN lists, missing keys, attributes, non-ASCII text and start-time ties
//! included).
#![allow(clippy::unwrap_used)]

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use registry::TrackingStore;
use registry::search::{matches, parse_filter, parse_order_by, sort_runs};
use registry::store::MetricPoint;

const FILTERS: [&str; 24] = [
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
    "params.model NOT IN ('lstm', 'Cnn-x')",
    "params.model > 'Cnn'",
    "metrics.acc <= 0 AND attributes.status != 'RUNNING'",
    "attributes.end_time > 1",
    "params.label < 'é'",
    "metrics.acc > 0.1 AND tags.team IN ('quant')",
    "params.model LIKE 'C_n%'",
    "attributes.run_name LIKE 'r-_'",
    "params.label LIKE '%*%'",
    "params.label LIKE '[%'",
];

#[tokio::test]
async fn sql_narrowing_finds_exactly_what_a_full_scan_finds() {
    for test_db in common::both().await {
        let store = TrackingStore::new(test_db.db.clone());
        let exp = store.create_experiment("search", None, &[]).await.unwrap();
        for i in 0..24 {
            let run = store.create_run(&exp.to_string(), "u", Some(&format!("r-{i}")), None, &[]).await.unwrap();
            // A negative zero (PostgreSQL keeps its sign) must tie with the zeros when ordering.
            let acc = if i % 7 == 0 {
                f64::NAN
            } else if i == 5 {
                -0.0
            } else {
                (i % 5) as f64 / 4.0
            };
            let mut metrics = vec![MetricPoint { key: "acc".into(), value: acc, timestamp: 1, step: 0 }];
            if i % 3 != 0 {
                metrics.push(MetricPoint { key: "loss".into(), value: i as f64 / 10.0, timestamp: 1, step: 0 });
            }
            let model = ["cnn", "CNN", "lstm", "Cnn-x"][i % 4];
            // Byte order differs from a linguistic collation's: 'é' > 'z' > 'Z'.
            let label = ["z", "é", "Z", "e", "a*b", "[x]"][i % 6];
            let tags = if i % 2 == 0 { vec![("team".to_string(), "quant".to_string())] } else { Vec::new() };
            let params = [("model".to_string(), model.to_string()), ("label".to_string(), label.to_string())];
            store.log_batch(&run.run_id, &metrics, &params, &tags).await.unwrap();
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
        // The LIKE patterns (wildcards, GLOB's own special characters) each find some runs, so
        // their SQL form is compared with the full scan on something.
        for filter in FILTERS.iter().filter(|f| f.contains(" LIKE ")) {
            assert!(hits(filter).await > 0, "{filter}");
        }
        // Which searches run wholly in the database: every filter above but the ILIKE one.
        for filter in FILTERS {
            let in_sql = store.search_is_in_sql(&parse_filter(filter).unwrap(), &[]);
            assert_eq!(in_sql, !filter.contains("ILIKE"), "{}: {filter}", test_db.label);
        }
        assert!(store.search_is_in_sql(&[], &parse_order_by(&["metrics.acc DESC".into()]).unwrap()));
        assert!(!store.search_is_in_sql(&[], &parse_order_by(&["attributes.experiment_id".into()]).unwrap()));
        assert_eq!(hits("params.missing = 'x'").await, 0);

        // The search proper (candidates read with only the keys the filter and order need, the
        // page filled afterwards) returns the pages a full scan, sort and slice returns, with
        // every run's whole data.
        let everything = store.runs_of(&[exp], "ACTIVE_ONLY").await.unwrap();
        for filter in FILTERS.iter().chain(&[""]) {
            let clauses = parse_filter(filter).unwrap();
            for order in [
                "metrics.acc DESC",
                "metrics.acc",
                "metrics.loss DESC",
                "params.model",
                "params.label DESC",
                "tags.team DESC",
                "attributes.run_name",
                "attributes.start_time",
                "attributes.end_time DESC",
                "",
            ] {
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

#[tokio::test]
async fn metric_values_params_and_tags_read_back_exactly_through_every_loader() {
    let values = [
        0.1 + 0.2,
        1.0 / 3.0,
        1e-300,
        5e-324,
        f64::MAX,
        -123_456.789_012_345_67,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        2.0f64.powi(60),
    ];
    for test_db in common::both().await {
        let store = TrackingStore::new(test_db.db.clone());
        let exp = store.create_experiment("exact", None, &[]).await.unwrap();
        let run = store.create_run(&exp.to_string(), "u", Some("r"), None, &[]).await.unwrap();
        let metrics: Vec<MetricPoint> = values
            .iter()
            .enumerate()
            .map(|(i, &value)| MetricPoint { key: format!("m,'{i}"), value, timestamp: 1_700_000_000_123, step: -3 })
            .collect();
        // Keys and values with quotes, commas and non-ASCII text: what a folded row must keep apart.
        let params = vec![("p,1".to_string(), "it's, 'quoted'".to_string()), ("ключ".to_string(), String::new())];
        let tags = vec![("t'".to_string(), "a\nb,c''".to_string())];
        store.log_batch(&run.run_id, &metrics, &params, &tags).await.unwrap();
        let (page, _, _) = store.search_runs(&[exp], "ACTIVE_ONLY", &[], &[], 10, 0).await.unwrap();
        let scanned = store.runs_of(&[exp], "ACTIVE_ONLY").await.unwrap();
        for got in [&page[0], &scanned[0]] {
            for m in &metrics {
                let read = &got.metrics[&m.key];
                let same = read.value.to_bits() == m.value.to_bits() || (read.value.is_nan() && m.value.is_nan());
                assert!(same, "{}: {} logged {:e}, read {:e}", test_db.label, m.key, m.value, read.value);
                assert_eq!((read.timestamp, read.step), (m.timestamp, m.step), "{}", test_db.label);
            }
            assert_eq!(got.params.len(), 2, "{}", test_db.label);
            for (k, v) in &params {
                assert_eq!(&got.params[k], v, "{}", test_db.label);
            }
            assert_eq!(got.tags["t'"], "a\nb,c''", "{}", test_db.label);
        }
        if test_db.db.backend() == engine::storage::Backend::Sqlite {
            // Rows written before SQLite kept a value's bits are read from the value itself.
            sqlx::query("UPDATE run_latest_metrics SET value_bits = NULL").execute(test_db.db.pool()).await.unwrap();
            let (page, _, _) = store.search_runs(&[exp], "ACTIVE_ONLY", &[], &[], 10, 0).await.unwrap();
            for m in &metrics {
                let read = page[0].metrics[&m.key].value;
                let same = read.to_bits() == m.value.to_bits() || (read.is_nan() && m.value.is_nan());
                assert!(same, "without bits: {} logged {:e}, read {:e}", m.key, m.value, read);
            }
        }
        test_db.finish().await;
    }
}
