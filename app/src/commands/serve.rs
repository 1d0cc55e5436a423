//! `sextant serve`: the web control plane, JSON API, registry API and metrics in one process.
//! The first start creates the admin (printing its one-time password) and seeds a demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use engine::config::Settings;
use engine::storage::{ArtifactStore, Database};
use web::server::{AppState, ServeOptions};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one; the address is printed).
    #[arg(long, default_value = "8080")]
    pub port: u16,
    /// Folder with the browser build (`pkg/sextant.js`, `pkg/sextant_bg.wasm`); default: `site`
    /// beside the executable, where scripts/build-web.sh puts it.
    #[arg(long, env = "SEXTANT_SITE_DIR", value_name = "DIR")]
    pub site_dir: Option<PathBuf>,
    /// Do not import the sample data and demo runs on a first start.
    #[arg(long)]
    pub no_demo: bool,
    /// Folder of sample files the demo imports.
    #[arg(long, default_value = "data/sample")]
    pub sample_dir: PathBuf,
    /// Mark the session cookie `Secure` (on by default; browsers accept it on http://localhost).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,
}

fn default_site_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("site")))
        .unwrap_or_else(|| PathBuf::from("site"))
}

pub async fn run(args: ServeArgs, settings: &Settings) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating the data folder {}", settings.data_dir.display()))?;
    let db = Database::connect(&settings.effective_database_url()).await?;
    let artifacts = ArtifactStore::open(&settings.effective_artifacts_url())?;
    let site_dir = args.site_dir.clone().unwrap_or_else(default_site_dir);
    if !site_dir.join("pkg").join("sextant.js").is_file() {
        tracing::warn!(site = %site_dir.display(), "no browser build found: pages render on the server but do not hydrate (run scripts/build-web.sh)");
    }
    let options = ServeOptions { site_dir, data_dir: settings.data_dir.clone(), secure_cookies: args.secure_cookies };
    let state = AppState::new(db, artifacts, options).await?;
    let admin_password = state.accounts.ensure_admin().await?;
    if !args.no_demo {
        super::seed::seed_if_empty(&state, &args.sample_dir, settings).await.context("seeding the demo")?;
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    outln!("Sextant control plane on http://{addr}/  (API docs http://{addr}/api/v1/docs, metrics /metrics)");
    if let Some(password) = admin_password {
        outln!("First start: created user `admin` with one-time password: {password}");
        outln!("Sign in and keep it safe; it is not shown again (`sextant users add` creates more users).");
    }
    tracing::info!(%addr, "control plane serving");
    web::server::serve(state, listener, shutdown_signal()).await.context("serving the control plane")?;
    outln!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM (what Kubernetes sends): stop accepting, finish requests in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
