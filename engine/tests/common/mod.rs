//! Test databases: a fresh SQLite file and a fresh PostgreSQL database per test, so every
//! storage test runs against both backends. PostgreSQL must be reachable: tests fail if not.
#![allow(dead_code, clippy::unwrap_used)]

use engine::storage::{Backend, Database};
use sqlx::Connection;

pub fn postgres_admin_url() -> String {
    std::env::var("SEXTANT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub struct TestDb {
    pub db: Database,
    pub label: &'static str,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Closes the pool and drops the PostgreSQL database the test created.
    pub async fn finish(self) {
        self.db.close().await;
        if let Some(name) = self.pg_name {
            let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("db").join("sextant.db").display());
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    TestDb { db, label: "sqlite", pg_name: None, _dir: dir }
}

pub async fn postgres() -> TestDb {
    let admin_url = postgres_admin_url();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {admin_url} is required for storage tests (set SEXTANT_TEST_POSTGRES_URL): {e}")
    });
    let name = format!("sextant_t_{}_{}", std::process::id(), rand::random::<u32>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    let db = Database::connect(url.as_str()).await.unwrap();
    assert_eq!(db.backend(), Backend::Postgres);
    TestDb { db, label: "postgres", pg_name: Some(name), _dir: tempfile::tempdir().unwrap() }
}

/// One fresh database of each backend.
pub async fn both() -> Vec<TestDb> {
    vec![sqlite().await, postgres().await]
}

/// The shared sample data folder beside the repository.
pub fn shared_data(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sample").join(file)
}
