//! Layered configuration: built-in defaults, then `sextant.toml`, then `SEXTANT_*` environment
//! variables (and the conventional `DATABASE_URL`, `REDIS_URL`, `ARTIFACTS_URL`), per profile.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The named profiles a `sextant.toml` may hold sections for (`[default]` applies to all).
pub const PROFILES: [&str; 3] = ["dev", "test", "prod"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is present but unusable; `key` is its dotted path, e.g. `server.port`.
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    /// The TOML file or an environment variable could not be read into the settings.
    #[error("configuration: {0}")]
    Source(String),
}

impl ConfigError {
    fn invalid(key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid { key: key.to_owned(), reason: reason.into() }
    }
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        // figment reports the offending key path and the source (file or env var); keep each
        // of its messages, which name both, instead of only the first.
        let key = e.path.join(".");
        let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        if key.is_empty() {
            Self::Source(messages.join("; "))
        } else {
            Self::Invalid { key, reason: messages.join("; ") }
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self { host: "127.0.0.1".into(), port: 8080 }
    }
}

/// Every setting the process reads. Empty URLs mean "the embedded default under `data_dir`".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the SQLite database, the Parquet catalog and local artifacts live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means `sqlite://{data_dir}/sextant.db`.
    pub database_url: String,
    /// `file:///…`, `s3://bucket/prefix`, `gs://…`, `az://…`; empty means `{data_dir}/artifacts`.
    pub artifacts_url: String,
    /// `redis://…` for shared caches and rate limits; empty means in-process.
    pub redis_url: String,
    /// A `tracing` filter directive such as `info` or `sextant=debug,sqlx=warn`.
    pub log_level: String,
    pub log_format: LogFormat,
    pub server: ServerSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".sextant"),
            database_url: String::new(),
            artifacts_url: String::new(),
            redis_url: String::new(),
            log_level: "info".into(),
            log_format: LogFormat::Text,
            server: ServerSettings::default(),
        }
    }
}

/// Where to read settings from. `file` defaults to `sextant.toml` in the working directory and
/// may be absent; `profile` defaults to `SEXTANT_PROFILE`, then `dev`.
#[derive(Clone, Debug, Default)]
pub struct ConfigSource {
    pub file: Option<PathBuf>,
    pub profile: Option<String>,
}

impl Settings {
    /// Loads and validates the layered settings.
    pub fn load(source: &ConfigSource) -> Result<Self, ConfigError> {
        let profile = source
            .profile
            .clone()
            .or_else(|| std::env::var("SEXTANT_PROFILE").ok())
            .unwrap_or_else(|| "dev".to_owned());
        if !PROFILES.contains(&profile.as_str()) {
            return Err(ConfigError::invalid("profile", format!("`{profile}` is not one of {}", PROFILES.join(", "))));
        }
        let file = source
            .file
            .clone()
            .or_else(|| std::env::var_os("SEXTANT_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("sextant.toml"));
        if source.file.is_some() && !file.exists() {
            return Err(ConfigError::Source(format!("{}: no such configuration file", file.display())));
        }
        let figment = Self::figment(&file, &profile);
        let settings: Settings = figment.extract()?;
        settings.validate()?;
        Ok(settings)
    }

    fn figment(file: &Path, profile: &str) -> Figment {
        Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(file).nested())
            // Environment variables are global: they override every profile's file values.
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL", "ARTIFACTS_URL"]).lowercase(true).global())
            // `SEXTANT_TEST_*` belongs to the test suite (e.g. its PostgreSQL URL), not to settings.
            .merge(
                Env::prefixed("SEXTANT_")
                    .ignore(&["PROFILE", "CONFIG"])
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                    .split("__")
                    .global(),
            )
            .select(profile)
    }

    /// Checks what serde cannot: URL schemes, the port, the log filter.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        if !self.database_url.is_empty() {
            let ok = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| self.database_url.starts_with(p));
            if !ok {
                return Err(ConfigError::invalid(
                    "database_url",
                    format!("`{}` must start with sqlite:, postgres:// or postgresql://", self.database_url),
                ));
            }
        }
        if !self.artifacts_url.is_empty() {
            let ok = ["file://", "s3://", "gs://", "az://", "abfs://", "memory://", "/", "."]
                .iter()
                .any(|p| self.artifacts_url.starts_with(p));
            if !ok {
                return Err(ConfigError::invalid(
                    "artifacts_url",
                    format!(
                        "`{}` must be a path or a file://, s3://, gs://, az:// or memory:// URL",
                        self.artifacts_url
                    ),
                ));
            }
        }
        if !self.redis_url.is_empty()
            && !self.redis_url.starts_with("redis://")
            && !self.redis_url.starts_with("rediss://")
        {
            return Err(ConfigError::invalid("redis_url", format!("`{}` must start with redis://", self.redis_url)));
        }
        if self.server.port == 0 {
            return Err(ConfigError::invalid("server.port", "must be between 1 and 65535"));
        }
        if self.server.host.trim().is_empty() {
            return Err(ConfigError::invalid("server.host", "must not be empty"));
        }
        tracing_filter_is_valid(&self.log_level)
            .map_err(|reason| ConfigError::invalid("log_level", format!("`{}`: {reason}", self.log_level)))?;
        Ok(())
    }

    /// The database URL in force: the configured one or the SQLite file under `data_dir`.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}?mode=rwc", self.data_dir.join("sextant.db").display())
        } else {
            self.database_url.clone()
        }
    }

    /// The artifact store location in force: the configured URL or `{data_dir}/artifacts`.
    pub fn effective_artifacts_url(&self) -> String {
        if self.artifacts_url.is_empty() {
            self.data_dir.join("artifacts").display().to_string()
        } else {
            self.artifacts_url.clone()
        }
    }

    pub fn catalog_dir(&self) -> PathBuf {
        self.data_dir.join("catalog")
    }
}

/// A light check of a `tracing` filter directive list (`target=level` items, comma separated),
/// so a typo is reported at start-up with the key rather than silently logging nothing.
fn tracing_filter_is_valid(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    if filter.trim().is_empty() {
        return Err("must not be empty".into());
    }
    for item in filter.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        // A bare word is a valid tracing target, but here it is far more often a mistyped
        // level, so every directive must carry a level.
        let level = item.rsplit_once('=').map_or(item, |(_, l)| l);
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!("`{level}` is not one of {} (write target=level for a target)", LEVELS.join(", ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // figment's Jail fixes the closure's error type; its size is not ours to choose.
    #[allow(clippy::result_large_err)]
    fn load_with(toml: &str, profile: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut loaded = None;
        figment::Jail::try_with(|jail| {
            jail.clear_env();
            jail.create_file("sextant.toml", toml)?;
            for (k, v) in env {
                jail.set_env(k, v);
            }
            loaded = Some(Settings::load(&ConfigSource { file: None, profile: Some(profile.into()) }));
            Ok(())
        })
        .map_err(|e| ConfigError::Source(e.to_string()))?;
        loaded.unwrap_or_else(|| Err(ConfigError::Source("the jail did not run".into())))
    }

    #[test]
    fn layers_apply_in_order_defaults_file_profile_env() {
        let toml = "[default]\ndata_dir = \"/tmp/a\"\n[default.server]\nport = 9000\n[prod]\nlog_level = \"warn\"\n";
        let dev = load_with(toml, "dev", &[]).unwrap();
        assert_eq!(dev.data_dir, PathBuf::from("/tmp/a"));
        assert_eq!(dev.server.port, 9000);
        assert_eq!(dev.log_level, "info");
        let prod = load_with(toml, "prod", &[]).unwrap();
        assert_eq!(prod.log_level, "warn");
        let env = load_with(toml, "prod", &[("SEXTANT_SERVER__PORT", "9100"), ("SEXTANT_LOG_LEVEL", "debug")]).unwrap();
        assert_eq!(env.server.port, 9100);
        assert_eq!(env.log_level, "debug");
    }

    #[test]
    fn conventional_database_url_is_honoured() {
        let s = load_with("", "dev", &[("DATABASE_URL", "postgres://postgres@127.0.0.1/test")]).unwrap();
        assert_eq!(s.effective_database_url(), "postgres://postgres@127.0.0.1/test");
        let d = load_with("", "dev", &[]).unwrap();
        assert!(d.effective_database_url().starts_with("sqlite://"));
    }

    #[test]
    fn errors_name_the_key() {
        let bad_port = load_with("[default.server]\nport = 0\n", "dev", &[]).unwrap_err().to_string();
        assert!(bad_port.contains("server.port"), "{bad_port}");
        let bad_type = load_with("[default.server]\nport = \"high\"\n", "dev", &[]).unwrap_err().to_string();
        assert!(bad_type.contains("port"), "{bad_type}");
        let unknown = load_with("[default]\ndatadir = \"x\"\n", "dev", &[]).unwrap_err().to_string();
        assert!(unknown.contains("datadir"), "{unknown}");
        let db = load_with("", "dev", &[("SEXTANT_DATABASE_URL", "mysql://x")]).unwrap_err().to_string();
        assert!(db.contains("database_url") && db.contains("mysql"), "{db}");
        let level = load_with("[default]\nlog_level = \"loud\"\n", "dev", &[]).unwrap_err().to_string();
        assert!(level.contains("log_level") && level.contains("loud"), "{level}");
        let profile = load_with("", "staging", &[]).unwrap_err().to_string();
        assert!(profile.contains("profile"), "{profile}");
    }
}
