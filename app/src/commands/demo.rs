//! `sextant demo`: the main job of a fresh checkout. Imports the sample data the repository
//! ships and prints each series' quality report, so a new user sees the platform work.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use engine::config::Settings;
use engine::data::import::ImportOptions;

use super::data::{refresh_quality, summary_line};
use super::{open_catalog, progress};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder of sample files to import.
    #[arg(long, default_value = "data/sample")]
    pub sample_dir: PathBuf,
    /// Print only the one-line summary of each report.
    #[arg(long)]
    pub brief: bool,
}

pub async fn run(args: DemoArgs, settings: &Settings) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.sample_dir)
        .with_context(|| format!("reading the sample folder {}", args.sample_dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("parquet")))
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!("no CSV or Parquet files in {}", args.sample_dir.display());
    }
    let catalog = open_catalog(settings).await?;
    outln!("Sextant demo: importing {} sample files into {}\n", files.len(), catalog.root().display());
    let bar = progress(files.len() as u64, "importing");
    let mut imported = Vec::new();
    for file in &files {
        let summaries = catalog.import_file(file, &ImportOptions::default()).await?;
        bar.inc(1);
        imported.extend(summaries);
    }
    bar.finish_and_clear();
    for s in &imported {
        let report = refresh_quality(&catalog, &s.dataset).await?;
        if args.brief {
            outln!("{}", summary_line(&report));
        } else {
            outln!("{}", report.render_text());
        }
    }
    outln!(
        "{} series imported ({} new bars). Next: `sextant data list`, `sextant data inspect GOOG`.",
        imported.len(),
        imported.iter().map(|s| s.rows_added).sum::<usize>()
    );
    Ok(())
}
