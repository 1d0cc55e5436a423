//! Process-wide logging: `tracing` to stderr, human-readable or JSON, filtered by the
//! configured level (RUST_LOG, when set, wins over the default but not over --log-level).

use anyhow::Context;
use engine::config::{LogFormat, Settings};
use tracing_subscriber::EnvFilter;

pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if settings.log_level == "info" && !v.is_empty() => v,
        _ => settings.log_level.clone(),
    };
    let filter = EnvFilter::try_new(&filter).with_context(|| format!("log filter `{filter}`"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match settings.log_format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
