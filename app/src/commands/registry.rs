//! `sextant registry serve`: the MLflow-compatible tracking server over the configured database,
//! so `mlflow.set_tracking_uri("http://HOST:PORT")` works unchanged.

use anyhow::Context;
use clap::{Args, Subcommand};
use engine::config::Settings;
use engine::storage::Database;

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Serve the MLflow REST API (experiments, runs, params, metrics, tags, search).
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one and prints it).
    #[arg(long, default_value = "5000")]
    pub port: u16,
}

pub async fn run(cmd: RegistryCommand, settings: &Settings) -> anyhow::Result<()> {
    let RegistryCommand::Serve(args) = cmd;
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    let db = Database::connect(&settings.effective_database_url()).await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    outln!("MLflow tracking server on http://{addr} (database {})", db.display_url());
    tracing::info!(%addr, "registry serving");
    let artifacts = engine::storage::ArtifactStore::open(&settings.effective_artifacts_url())?;
    outln!("artifacts in {}", artifacts.url());
    registry::serve(registry::TrackingStore::new(db), artifacts, listener).await.context("serving the registry")?;
    Ok(())
}
