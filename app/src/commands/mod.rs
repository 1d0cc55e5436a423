//! One module per top-level subcommand, plus what they share: opening the catalog the
//! configuration points at, and progress bars.

/// `println!` that returns an error instead of panicking when stdout closes early
/// (`sextant data list | head`); `main` treats a broken pipe as a normal end.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

pub mod backtest;
pub mod data;
pub mod demo;
pub mod features;
pub mod predict;
pub mod registry;
pub mod rl;
pub mod seed;
pub mod serve;
pub mod train;
pub mod users;
pub mod walkforward;

use anyhow::Context;
use engine::config::Settings;
use engine::data::catalog::Catalog;
use engine::storage::Database;
use indicatif::{ProgressBar, ProgressStyle};

/// Connects to the configured database (migrating it) and opens the Parquet catalog.
pub async fn open_catalog(settings: &Settings) -> anyhow::Result<Catalog> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    let db = Database::connect(&settings.effective_database_url()).await?;
    Ok(Catalog::new(settings.catalog_dir(), db))
}

/// A progress bar on stderr, hidden when stderr is not a terminal (CI logs, pipes).
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{msg:>12} [{bar:40}] {human_pos}/{human_len} ({per_sec}, {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}
