//! The importer on the layouts users bring: Binance klines (milliseconds and microseconds),
//! Parquet written by other tools, other delimiters, naive local times, and unsorted or
//! duplicated rows. Each file is written by the test, then read back through the catalog.
#![allow(clippy::unwrap_used)]

mod common;

use engine::data::catalog::Catalog;
use engine::data::import::{ImportOptions, RowPolicy, read_file};
use engine::domain::{AssetClass, Decimal, Symbol, Timeframe, Timestamp};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn binance_klines_import_with_no_options() {
    let t = common::sqlite().await;
    let catalog = Catalog::new(t.dir().join("catalog"), t.db.clone());
    // Binance spot kline dumps: open time, OHLCV, close time, quote volume, trades, taker volumes, ignore.
    let ms = t.dir().join("BTCUSDT-1m-2024-01-01.csv");
    std::fs::write(
        &ms,
        "1704067200000,42283.58000000,42298.62000000,42283.57000000,42298.61000000,35.92724000,1704067259999,1519032.91,1327,24.6,1040121.1,0\n\
         1704067260000,42298.62000000,42320.00000000,42298.61000000,42320.00000000,21.02220000,1704067319999,889365.2,814,12.5,529034.8,0\n",
    )
    .unwrap();
    let summary = catalog
        .import_file(&ms, &ImportOptions { symbol: Some("BTCUSDT".into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(summary[0].timeframe, "1m");
    assert_eq!(summary[0].dataset.asset_class, "crypto");
    assert_eq!(summary[0].dataset.first_ts, "2024-01-01T00:00:00Z".parse::<Timestamp>().unwrap());
    let bars = catalog.query(&Symbol::new("BTCUSDT").unwrap(), Timeframe::M1, None, None).await.unwrap();
    assert_eq!(bars.close[1], d("42320"));
    assert_eq!(bars.volume[0], d("35.92724"));
    // Since 2025 Binance writes microseconds.
    let us = t.dir().join("ETHUSDT-1h.csv");
    std::fs::write(&us, "1735689600000000,3337.78,3345.00,3330.01,3340.00,1000.5,1735693199999999,0,0,0,0,0\n1735693200000000,3340.00,3350.00,3338.00,3349.00,800.25,1735696799999999,0,0,0,0,0\n").unwrap();
    let summary = catalog.import_file(&us, &ImportOptions::default()).await.unwrap();
    assert_eq!((summary[0].symbol.as_str(), summary[0].timeframe.as_str()), ("ETHUSDT-1H", "1h"));
    assert_eq!(summary[0].dataset.first_ts, "2025-01-01T00:00:00Z".parse::<Timestamp>().unwrap());
    t.finish().await;
}

#[tokio::test]
async fn parquet_files_import_exactly() {
    let t = common::sqlite().await;
    let catalog = Catalog::new(t.dir().join("catalog"), t.db.clone());
    let goog = catalog.import_file(&common::shared_data("GOOG.csv"), &ImportOptions::default()).await.unwrap();
    // The catalog's own Parquet file is a Parquet bar file like any other tool's.
    let copy = t.dir().join("GOOG2.parquet");
    std::fs::copy(&goog[0].dataset.path, &copy).unwrap();
    let again = catalog.import_file(&copy, &ImportOptions::default()).await.unwrap();
    assert_eq!(again[0].symbol, "GOOG2");
    assert_eq!(again[0].dataset.rows, 2148);
    assert_eq!(again[0].dataset.content_sha256, goog[0].dataset.content_sha256, "same bars, same hash");
    t.finish().await;
}

#[test]
fn delimiters_zones_and_row_order_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ES.csv");
    // Semicolons, New York wall-clock times across the March DST change, rows out of order and one repeated.
    std::fs::write(
        &path,
        "time;open;high;low;close;volume\n\
         2024-03-11 09:31:00;5100;5101;5099;5100.5;10\n\
         2024-03-08 09:30:00;5000;5001;4999;5000.5;10\n\
         2024-03-11 09:30:00;5100;5101;5099;5100.25;10\n\
         2024-03-11 09:30:00;5100;5101;5099;5100.75;12\n",
    )
    .unwrap();
    let options = ImportOptions {
        timezone: "America/New_York".parse().unwrap(),
        timeframe: Some(Timeframe::M1),
        ..Default::default()
    };
    let mut read = read_file(&path, &options, RowPolicy::Strict).unwrap();
    assert_eq!(read.rows_read, 4);
    let (series, class) = read.series.pop().unwrap();
    assert_eq!(class, AssetClass::Equity);
    let mut bars = series.bars;
    bars.sort_dedup();
    let stamps: Vec<String> = bars.ts.iter().map(|t| t.to_string()).collect();
    // 09:30 New York is 14:30 UTC before the change (EST) and 13:30 after it (EDT).
    assert_eq!(stamps, ["2024-03-08T14:30:00Z", "2024-03-11T13:30:00Z", "2024-03-11T13:31:00Z"]);
    assert_eq!(bars.close[1], d("5100.75"), "the later of two rows with one stamp wins");
    assert_eq!(bars.line, vec![3, 5, 2], "rows remember their source lines");
}

#[test]
fn collect_mode_lists_every_bad_row_instead_of_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("X.csv");
    std::fs::write(&path, "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n2024-01-03,1,NaN,0.5,1.5\n2024-01-04,1,2,-1,1.5\n2024-01-05,1,2,0.5,1.5\n").unwrap();
    let read = read_file(&path, &ImportOptions::default(), RowPolicy::Collect).unwrap();
    assert_eq!(read.series[0].0.bars.len(), 2);
    let lines: Vec<(u64, &str)> = read.rejected.iter().map(|r| (r.line, r.column.as_str())).collect();
    assert_eq!(lines, vec![(3, "High"), (4, "low")]);
    assert!(read.rejected[1].reason.contains("positive"), "{:?}", read.rejected[1]);
    let strict = read_file(&path, &ImportOptions::default(), RowPolicy::Strict).unwrap_err().to_string();
    assert!(strict.contains("X.csv:3") && strict.contains("`High`"), "{strict}");
}
