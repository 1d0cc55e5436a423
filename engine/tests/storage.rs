//! Storage and catalog tests, each run against SQLite and PostgreSQL: migrations, WAL, the
//! Parquet catalog's import/query/list, idempotent re-imports, atomic failure, artifacts.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use engine::data::catalog::Catalog;
use engine::data::import::{ImportError, ImportOptions};
use engine::domain::{Decimal, Symbol, Timeframe, Timestamp};
use engine::storage::{ArtifactStore, Backend};
use sqlx::Row;

fn catalog_for(t: &common::TestDb) -> Catalog {
    Catalog::new(t.dir().join("catalog"), t.db.clone())
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(files_under(&p)) } else { out.push(p) }
        }
    }
    out
}

#[tokio::test]
async fn migrations_apply_once_and_sqlite_runs_in_wal_mode() {
    for t in common::both().await {
        let folder = match t.db.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        };
        let files = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder))
            .unwrap()
            .count() as i64;
        let count: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations").fetch_one(t.db.pool()).await.unwrap().get("n");
        assert_eq!(count, files, "{}: every migration applied once", t.label);
        match t.db.backend() {
            Backend::Sqlite => assert_eq!(t.db.sqlite_journal_mode().await.unwrap().as_deref(), Some("wal")),
            Backend::Postgres => assert_eq!(t.db.sqlite_journal_mode().await.unwrap(), None),
        }
        // Connecting again to the same database re-runs nothing and fails on nothing.
        if t.db.backend() == Backend::Sqlite {
            let url = format!("sqlite://{}?mode=rwc", t.dir().join("db").join("sextant.db").display());
            let again = engine::storage::Database::connect(&url).await.unwrap();
            let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations")
                .fetch_one(again.pool())
                .await
                .unwrap()
                .get("n");
            assert_eq!(count, files, "reconnecting applies nothing twice");
        }
        t.finish().await;
    }
}

#[tokio::test]
async fn imported_bars_come_back_exactly_and_by_range() {
    for t in common::both().await {
        let catalog = catalog_for(&t);
        let summaries = catalog.import_file(&common::shared_data("GOOG.csv"), &ImportOptions::default()).await.unwrap();
        assert_eq!(summaries.len(), 1, "{}", t.label);
        let s = &summaries[0];
        assert_eq!((s.symbol.as_str(), s.timeframe.as_str(), s.rows_read, s.rows_added), ("GOOG", "1d", 2148, 2148));
        let listed = catalog.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].rows, 2148);
        assert_eq!(listed[0].first_ts, "2004-08-19".parse::<Timestamp>().unwrap());
        assert_eq!(listed[0].last_ts, "2013-03-01".parse::<Timestamp>().unwrap());
        assert_eq!(listed[0].calendar, "us_equity");

        let goog = Symbol::new("GOOG").unwrap();
        let all = catalog.query(&goog, Timeframe::D1, None, None).await.unwrap();
        assert_eq!(all.len(), 2148);
        // First row of the file: 2004-08-19,100,104.06,95.96,100.34,22351900
        assert_eq!(all.high[0], "104.06".parse::<Decimal>().unwrap());
        assert_eq!(all.close[0], "100.34".parse::<Decimal>().unwrap());
        assert_eq!(all.volume[0], Decimal::from(22_351_900));
        let from: Timestamp = "2013-02-25".parse().unwrap();
        let to: Timestamp = "2013-02-28".parse().unwrap();
        let week = catalog.query(&goog, Timeframe::D1, Some(from), Some(to)).await.unwrap();
        assert_eq!(week.ts.first(), Some(&from));
        assert_eq!(week.ts.last(), Some(&to));
        assert_eq!(week.len(), 4, "{}", t.label);
        assert_eq!(week.close[3], "801.2".parse::<Decimal>().unwrap());
        t.finish().await;
    }
}

#[tokio::test]
async fn importing_the_same_file_twice_adds_nothing() {
    for t in common::both().await {
        let catalog = catalog_for(&t);
        let path = common::shared_data("BTCUSD.csv");
        let first = catalog.import_file(&path, &ImportOptions::default()).await.unwrap();
        let second = catalog.import_file(&path, &ImportOptions::default()).await.unwrap();
        assert_eq!(first[0].rows_added, 156, "{}", t.label);
        assert_eq!(second[0].rows_added, 0);
        assert_eq!(second[0].dataset.rows, 156);
        assert_eq!(first[0].dataset.content_sha256, second[0].dataset.content_sha256);
        let imports: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM imports").fetch_one(t.db.pool()).await.unwrap().get("n");
        assert_eq!(imports, 2);
        // The fractional volumes survive exactly: 2012-01-31 volume 2012.25343589.
        let btc = catalog.query(&Symbol::new("BTCUSD").unwrap(), Timeframe::MO1, None, None).await.unwrap();
        assert_eq!(btc.volume[0], "2012.25343589".parse::<Decimal>().unwrap());
        t.finish().await;
    }
}

#[tokio::test]
async fn a_malformed_row_is_reported_and_nothing_is_written() {
    for t in common::both().await {
        let catalog = catalog_for(&t);
        let good = catalog.import_file(&common::shared_data("GOOG.csv"), &ImportOptions::default()).await.unwrap();
        let files_before = files_under(&t.dir().join("catalog"));
        let bad_path = t.dir().join("GOOG.csv");
        let mut f = std::fs::File::create(&bad_path).unwrap();
        // A new bar (would be added) followed by one whose high is below its open.
        writeln!(f, ",Open,High,Low,Close,Volume\n2013-03-04,800,810,790,805,100\n2013-03-05,800,x,790,805,100")
            .unwrap();
        drop(f);
        let err = catalog.import_file(&bad_path, &ImportOptions::default()).await.unwrap_err().to_string();
        assert!(err.contains("GOOG.csv:3") && err.contains("`High`") && err.contains("not a number"), "{err}");
        std::fs::write(&bad_path, ",Open,High,Low,Close,Volume\n2013-03-04,800,790,780,805,100\n").unwrap();
        let err = catalog.import_file(&bad_path, &ImportOptions::default()).await.unwrap_err();
        match &err {
            engine::data::catalog::CatalogError::Import(ImportError::Row { line, column, reason, .. }) => {
                assert_eq!((*line, column.as_str()), (2, "high"), "{err}");
                assert!(reason.contains("below"), "{reason}");
            }
            other => panic!("expected a row error, got {other}"),
        }
        assert_eq!(files_under(&t.dir().join("catalog")), files_before, "{}: no file changed or left behind", t.label);
        let listed = catalog.list().await.unwrap();
        assert_eq!(listed[0].rows, good[0].dataset.rows);
        assert_eq!(listed[0].content_sha256, good[0].dataset.content_sha256);
        t.finish().await;
    }
}

#[tokio::test]
async fn a_panel_becomes_one_close_series_per_column() {
    for t in common::both().await {
        let catalog = catalog_for(&t);
        let summaries =
            catalog.import_file(&common::shared_data("SP500_STOCKS.csv"), &ImportOptions::default()).await.unwrap();
        assert_eq!(summaries.len(), 20, "{}", t.label);
        let listed = catalog.list().await.unwrap();
        let names: Vec<&str> = listed.iter().map(|d| d.symbol.as_str()).collect();
        assert!(names.contains(&"AAPL") && names.contains(&"XOM"), "{names:?}");
        assert!(listed.iter().all(|d| d.fields == "close_only" && d.timeframe == "1d" && d.rows == 8313));
        let aapl = catalog.query(&Symbol::new("AAPL").unwrap(), Timeframe::D1, None, None).await.unwrap();
        assert_eq!(aapl.close[0], "0.264".parse::<Decimal>().unwrap());
        t.finish().await;
    }
}

#[tokio::test]
async fn quality_reports_are_recorded_against_datasets() {
    for t in common::both().await {
        let catalog = catalog_for(&t);
        catalog.import_file(&common::shared_data("EURUSD.csv"), &ImportOptions::default()).await.unwrap();
        let sym = Symbol::new("EURUSD").unwrap();
        catalog.record_quality(&sym, Timeframe::H1, 0.97, "{\"ok\":true}").await.unwrap();
        let listed = catalog.list().await.unwrap();
        assert_eq!(listed[0].quality_confidence, Some(0.97), "{}", t.label);
        assert_eq!(listed[0].asset_class, "forex");
        assert_eq!(listed[0].calendar, "forex");
        assert_eq!(catalog.quality_json(&sym, Timeframe::H1).await.unwrap().as_deref(), Some("{\"ok\":true}"));
        t.finish().await;
    }
}

#[tokio::test]
async fn artifacts_round_trip_in_a_local_folder_and_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    for location in [dir.path().join("artifacts").display().to_string(), "memory://".to_owned()] {
        let store = ArtifactStore::open(&location).unwrap();
        store.put("runs/1/model.safetensors", bytes::Bytes::from_static(b"weights")).await.unwrap();
        store.put("runs/1/config.json", bytes::Bytes::from_static(b"{}")).await.unwrap();
        store.put("runs/2/config.json", bytes::Bytes::from_static(b"{\"a\":1}")).await.unwrap();
        assert_eq!(&store.get("runs/1/model.safetensors").await.unwrap()[..], b"weights");
        let listed: Vec<String> = store.list("runs/1").await.unwrap().into_iter().map(|m| m.key).collect();
        assert_eq!(listed, vec!["runs/1/config.json", "runs/1/model.safetensors"], "{location}");
        assert_eq!(store.list("").await.unwrap().len(), 3);
        assert!(store.exists("runs/2/config.json").await.unwrap());
        store.delete("runs/2/config.json").await.unwrap();
        assert!(!store.exists("runs/2/config.json").await.unwrap());
        assert!(store.get("runs/2/config.json").await.is_err());
        let bad = store.put("../escape", bytes::Bytes::new()).await.unwrap_err().to_string();
        assert!(bad.contains("not a valid artifact key"), "{bad}");
    }
    assert!(dir.path().join("artifacts/runs/1/model.safetensors").is_file());
    let err = ArtifactStore::open("ftp://example/x").unwrap_err().to_string();
    assert!(err.contains("ftp"), "{err}");
}
