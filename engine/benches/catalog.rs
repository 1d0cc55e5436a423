//! Catalog benchmark: import rate of a large synthetic CSV (10 million 1-minute bars by
//! default) and range-query rate of the catalog, each beside a named reference run on the
//! same file in the same process run: a bare `csv`-crate parse to f64 (the floor of any
//! importer) and, when Python with pandas and pyarrow is available, pandas `read_csv` +
//! `to_parquet` and pyarrow filtered `read_table`.
//!
//! `cargo bench -p sextant-engine --bench catalog` (env: SEXTANT_BENCH_BARS, SEXTANT_BENCH_QUERIES,
//! SEXTANT_BENCH_PYTHON for the interpreter with pandas). Prints medians, ratio first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The allocator the sextant binary uses, so the figures are what users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use common::{env_usize, median};

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use engine::data::catalog::Catalog;
use engine::data::import::ImportOptions;
use engine::data::synth::{SynthConfig, write_csv};
use engine::domain::{AssetClass, Symbol, Timeframe, Timestamp};
use engine::storage::Database;
use rand::{Rng, SeedableRng};

/// The floor: parse every field with the csv crate into f64, with no validation and no writes.
fn csv_floor(path: &Path) -> (usize, f64) {
    let start = Instant::now();
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut record = csv::ByteRecord::new();
    let mut rows = 0usize;
    let mut checksum = 0.0f64;
    while reader.read_byte_record(&mut record).unwrap() {
        for field in record.iter().skip(1) {
            checksum += std::str::from_utf8(field).unwrap().parse::<f64>().unwrap();
        }
        rows += 1;
    }
    assert!(checksum.is_finite());
    (rows, start.elapsed().as_secs_f64())
}

fn python_reference(
    python: &str,
    csv: &Path,
    parquet_out: &Path,
    queries: usize,
    span_ns: (i64, i64),
) -> Option<(f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/pandas_catalog.py");
    let out = Command::new(python)
        .arg(script)
        .arg(csv)
        .arg(parquet_out)
        .arg(queries.to_string())
        .arg(span_ns.0.to_string())
        .arg(span_ns.1.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "pandas reference unavailable: {}",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
    Some((v["import_seconds"].as_f64()?, v["query_seconds_median"].as_f64()?))
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument would be ignored, so say so.
    let bars = env_usize("SEXTANT_BENCH_BARS", 10_000_000);
    let queries = env_usize("SEXTANT_BENCH_QUERIES", 200);
    let python = std::env::var("SEXTANT_BENCH_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("SYN.csv");
    let config = SynthConfig { seed: 1, bars, timeframe: Timeframe::M1, ..SynthConfig::default() };
    let t = Instant::now();
    write_csv(&config, std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&csv_path).unwrap()), |_| {})
        .unwrap();
    let size_mb = std::fs::metadata(&csv_path).unwrap().len() as f64 / 1e6;
    println!("synthetic CSV: {bars} bars, {size_mb:.0} MB, written in {:.1}s", t.elapsed().as_secs_f64());

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let db =
        rt.block_on(Database::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display()))).unwrap();
    let catalog = Catalog::new(dir.path().join("catalog"), db);
    let options = ImportOptions { asset_class: Some(AssetClass::Crypto), ..ImportOptions::default() };

    let t = Instant::now();
    let summary = rt.block_on(catalog.import_file(&csv_path, &options)).unwrap();
    let ours_import = t.elapsed().as_secs_f64();
    assert_eq!(summary[0].dataset.rows as usize, bars);
    let (floor_rows, floor_secs) = csv_floor(&csv_path);
    assert_eq!(floor_rows, bars);

    // Range queries: one random day (1,440 one-minute bars) each, over the whole span.
    let symbol = Symbol::new("SYN").unwrap();
    let first = summary[0].dataset.first_ts.nanos();
    let last = summary[0].dataset.last_ts.nanos();
    let day = 86_400 * 1_000_000_000i64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut times = Vec::with_capacity(queries);
    let mut returned = 0usize;
    for _ in 0..queries {
        let from = rng.random_range(first..(last - day).max(first + 1));
        let t = Instant::now();
        let got = catalog
            .query_blocking(
                &symbol,
                Timeframe::M1,
                Some(Timestamp::from_nanos(from)),
                Some(Timestamp::from_nanos(from + day - 1)),
            )
            .unwrap();
        times.push(t.elapsed().as_secs_f64());
        returned += got.len();
    }
    let ours_query = median(times);

    let parquet_ref = dir.path().join("pandas.parquet");
    let reference = python_reference(&python, &csv_path, &parquet_ref, queries, (first, last - day));
    println!();
    println!("import of {bars} bars (parse, validate, exact decimals, Parquet + index):");
    if let Some((pd_import, _)) = reference {
        println!(
            "  ratio sextant/pandas  {:.2}x time   (sextant {:.1}s = {:.2} M bars/s; pandas read_csv+to_parquet {:.1}s = {:.2} M bars/s)",
            ours_import / pd_import,
            ours_import,
            bars as f64 / ours_import / 1e6,
            pd_import,
            bars as f64 / pd_import / 1e6
        );
    }
    println!(
        "  ratio sextant/floor   {:.2}x time   (csv crate to f64 only, no validation: {:.1}s = {:.2} M bars/s)",
        ours_import / floor_secs,
        floor_secs,
        bars as f64 / floor_secs / 1e6
    );
    println!("  sextant import rate   {:.2} M bars/s ({ours_import:.1}s)", bars as f64 / ours_import / 1e6);
    println!("query of one day (1,440 bars) at a random point, median of {queries}:");
    if let Some((_, pd_query)) = reference {
        println!(
            "  ratio sextant/pyarrow {:.2}x time   (sextant {:.2} ms, pyarrow read_table with filters {:.2} ms)",
            ours_query / pd_query,
            ours_query * 1e3,
            pd_query * 1e3
        );
    }
    println!(
        "  sextant query rate    {:.0} queries/s, {:.1} ms median, {} bars returned on average",
        1.0 / ours_query,
        ours_query * 1e3,
        returned / queries.max(1)
    );
}
