//! The README's main command on a clean data folder, as a new user runs it: it must import
//! every sample file and print a quality report for each series.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_main_command_imports_the_samples_and_prints_their_reports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(root.join("scripts/run.sh"))
        .arg("--brief")
        .current_dir(&root)
        .env("SEXTANT_DATA_DIR", data.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run.sh failed:\n{stdout}\n{stderr}");
    for symbol in ["GOOG", "EURUSD", "BTCUSD", "SP500", "AAPL", "XOM"] {
        assert!(stdout.lines().any(|l| l.starts_with(symbol)), "no report line for {symbol}:\n{stdout}");
    }
    assert!(stdout.contains("24 series imported"), "{stdout}");
    assert!(data.path().join("sextant.db").is_file(), "the SQLite catalog index lives in the data folder");
    // A second run finds everything already there: no duplicate bars.
    let again = Command::new("bash")
        .arg(root.join("scripts/run.sh"))
        .arg("--brief")
        .current_dir(&root)
        .env("SEXTANT_DATA_DIR", data.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(again.contains("(0 new bars)"), "{again}");
}
