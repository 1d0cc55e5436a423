//! The HS256 secrets JWTs are signed with, kept in the project's database: the current one signs,
//! the current and the previous one verify, and rotating moves current to previous.
//!
//! Every server of a project reads the same rows: one that rotates signs with the new secret at
//! once, the others within [`RELOAD_EVERY`], and a token none of them knows yet makes a server
//! reread the rows (at most every [`RELOAD_ON_MISS_EVERY`]) before refusing it. A token signed
//! with the secret before a rotation keeps working until it expires (at most an hour), and stops
//! at the rotation after that one.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use engine::storage::Database;
use sqlx::Row;

/// How stale a server's copy of the secrets may be when it signs.
const RELOAD_EVERY: Duration = Duration::from_secs(30);
/// How often an unknown signature may send a server back to the database.
const RELOAD_ON_MISS_EVERY: Duration = Duration::from_secs(1);

const CURRENT: &str = "jwt";
const PREVIOUS: &str = "jwt_previous";

#[derive(Debug)]
struct Loaded {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
    at: Instant,
}

/// The signing secrets; cheap to clone (clones share one copy).
#[derive(Clone, Debug)]
pub struct JwtKeys {
    db: Database,
    loaded: Arc<RwLock<Loaded>>,
}

fn fresh_secret() -> String {
    super::accounts::random_hex(32)
}

impl JwtKeys {
    /// Loads the secrets, creating the first one on a new database.
    pub async fn open(db: Database) -> Result<Self, sqlx::Error> {
        // Two servers starting together: the first insert wins and both read it back.
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(CURRENT)
            .bind(fresh_secret())
            .execute(db.pool())
            .await?;
        let loaded = read(&db).await?;
        Ok(Self { db, loaded: Arc::new(RwLock::new(loaded)) })
    }

    /// Makes a new current secret; the current one becomes the previous, the previous is dropped.
    pub async fn rotate(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin_write().await?;
        sqlx::query("DELETE FROM server_secrets WHERE name = $1").bind(PREVIOUS).execute(&mut *tx).await?;
        sqlx::query("UPDATE server_secrets SET name = $1 WHERE name = $2")
            .bind(PREVIOUS)
            .bind(CURRENT)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2)")
            .bind(CURRENT)
            .bind(fresh_secret())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.reload().await
    }

    /// The secret to sign with now.
    pub async fn signing(&self) -> Result<Vec<u8>, sqlx::Error> {
        if self.age() >= RELOAD_EVERY {
            self.reload().await?;
        }
        Ok(self.read_loaded(|l| l.current.clone()))
    }

    /// The first of the secrets `accepts` takes (current, then previous), rereading them once
    /// when neither does.
    pub async fn verify<T>(&self, accepts: impl Fn(&[u8]) -> Option<T>) -> Result<Option<T>, sqlx::Error> {
        let known = |l: &Loaded| accepts(&l.current).or_else(|| l.previous.as_deref().and_then(&accepts));
        if let Some(found) = self.read_loaded(known) {
            return Ok(Some(found));
        }
        if self.age() < RELOAD_ON_MISS_EVERY {
            return Ok(None);
        }
        self.reload().await?;
        Ok(self.read_loaded(known))
    }

    fn age(&self) -> Duration {
        self.read_loaded(|l| l.at.elapsed())
    }

    fn read_loaded<T>(&self, f: impl FnOnce(&Loaded) -> T) -> T {
        // A panic while holding the lock cannot leave the secrets half-written: each is replaced whole.
        let guard = self.loaded.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&guard)
    }

    async fn reload(&self) -> Result<(), sqlx::Error> {
        let fresh = read(&self.db).await?;
        *self.loaded.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }
}

async fn read(db: &Database) -> Result<Loaded, sqlx::Error> {
    let rows = sqlx::query("SELECT name, value FROM server_secrets WHERE name IN ($1, $2)")
        .bind(CURRENT)
        .bind(PREVIOUS)
        .fetch_all(db.pool())
        .await?;
    let (mut current, mut previous) = (None, None);
    for row in rows {
        let (name, value): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let secret =
            hex::decode(&value).map_err(|e| sqlx::Error::Decode(format!("server secret `{name}`: {e}").into()))?;
        if name == CURRENT {
            current = Some(secret);
        } else {
            previous = Some(secret);
        }
    }
    let current = current.ok_or_else(|| sqlx::Error::RowNotFound)?;
    Ok(Loaded { current, previous, at: Instant::now() })
}
