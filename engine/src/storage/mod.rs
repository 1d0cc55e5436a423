//! Persistence: the relational database (SQLite by default, PostgreSQL by configuration) with
//! its migrations, and the artifact store (a local folder, S3, GCS or Azure via object_store).

mod artifacts;
mod db;

pub use artifacts::{ArtifactMeta, ArtifactStore};
pub use db::{Backend, Database};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("unsupported database URL `{0}`: use sqlite:… or postgres://…")]
    UnsupportedDatabase(String),
    #[error("artifact store `{url}`: {reason}")]
    ArtifactLocation { url: String, reason: String },
    #[error("artifact `{key}`: {source}")]
    Artifact { key: String, source: object_store::Error },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Hides the password of a connection URL before it reaches a log line or an error.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
