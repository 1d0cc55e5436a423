//! Accounts of the control plane in the project's database: users with Argon2 password hashes,
//! browser sessions, API keys (stored as hashes, shown once) and HS256 JWTs for programs.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use engine::storage::Database;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::jwt::JwtKeys;
use crate::types::{ApiKeyRow, Identity, Role};

/// How long a browser session lasts without a new login.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// How long a JWT from `/api/v1/token` is valid.
pub const JWT_TTL_SECS: i64 = 3600;
/// Every API key starts with this, so secret scanners and people recognise one.
pub const API_KEY_PREFIX: &str = "sxk_";
const MIN_PASSWORD_LEN: usize = 12;
/// How finely a key's last use is recorded.
const KEY_USE_RESOLUTION_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("user name `{0}` is not allowed: use 1 to 64 letters, digits, `.`, `_` or `-`")]
    BadName(String),
    #[error("the password must have at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    #[error("a user named `{0}` already exists")]
    Exists(String),
    #[error("no user named `{0}`")]
    NoSuchUser(String),
    #[error("no API key #{0} (or it belongs to someone else)")]
    NoSuchKey(i64),
    #[error("`{0}` is the last active administrator: make another user an administrator first")]
    LastAdmin(String),
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("the account `{0}` is disabled")]
    Disabled(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: String,
    exp: i64,
    iat: i64,
}

/// The accounts store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Accounts {
    db: Database,
    jwt: JwtKeys,
}

fn now_ms() -> i64 {
    registry::store::now_ms()
}

pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn check_name(name: &str) -> Result<(), AccountError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok { Ok(()) } else { Err(AccountError::BadName(name.to_string())) }
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AccountError::WeakPassword);
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .to_string())
}

/// A random password a person can type: 20 characters from an alphabet without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 20];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

impl Accounts {
    /// Opens the store and loads (or creates, once) the JWT signing secrets.
    pub async fn open(db: Database) -> Result<Self, AccountError> {
        let jwt = JwtKeys::open(db.clone()).await?;
        Ok(Self { db, jwt })
    }

    /// Signs new JWTs with a new secret; tokens signed before keep working until they expire, and
    /// until the next rotation at most.
    pub async fn rotate_jwt_secret(&self) -> Result<(), AccountError> {
        Ok(self.jwt.rotate().await?)
    }

    /// On a database without users, creates `admin` with a one-time random password and returns it.
    pub async fn ensure_admin(&self) -> Result<Option<String>, AccountError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM users").fetch_one(self.db.pool()).await?.try_get(0)?;
        if count > 0 {
            return Ok(None);
        }
        let password = generate_password();
        self.add_user("admin", &password, Role::Admin).await?;
        Ok(Some(password))
    }

    pub async fn add_user(&self, name: &str, password: &str, role: Role) -> Result<(), AccountError> {
        check_name(name)?;
        let hash = hash_password(password)?;
        let done = sqlx::query(
            "INSERT INTO users (name, password_hash, role, disabled, created_at) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(name)
        .bind(hash)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(self.db.pool())
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AccountError::Exists(name.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>, AccountError> {
        let rows = sqlx::query("SELECT name, role, disabled, created_at FROM users ORDER BY name")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(UserRecord {
                    name: r.try_get(0)?,
                    role: Role::parse(&r.try_get::<String, _>(1)?).unwrap_or(Role::Viewer),
                    disabled: r.try_get::<i64, _>(2)? != 0,
                    created_at_ms: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Disables (or re-enables) a user; a disabled user's sessions end at once.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), AccountError> {
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(name)
            .execute(self.db.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_name = $1").bind(name).execute(self.db.pool()).await?;
        }
        Ok(())
    }

    /// Gives a user another role. It takes effect on their next request, whatever the credential
    /// (sessions, keys and tokens re-read the role); the last active administrator keeps theirs.
    pub async fn set_role(&self, name: &str, role: Role) -> Result<(), AccountError> {
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query("SELECT role, disabled FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| AccountError::NoSuchUser(name.to_string()))?;
        let was_admin = row.try_get::<String, _>(0)? == Role::Admin.as_str() && row.try_get::<i64, _>(1)? == 0;
        if was_admin && role != Role::Admin {
            let others: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE role = $1 AND disabled = 0 AND name <> $2")
                .bind(Role::Admin.as_str())
                .bind(name)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if others == 0 {
                return Err(AccountError::LastAdmin(name.to_string()));
            }
        }
        sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
            .bind(role.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn active_user(&self, name: &str) -> Result<Option<(Identity, String)>, AccountError> {
        let row = sqlx::query("SELECT role, disabled, password_hash FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        if row.try_get::<i64, _>(1)? != 0 {
            return Err(AccountError::Disabled(name.to_string()));
        }
        let role = Role::parse(&row.try_get::<String, _>(0)?).unwrap_or(Role::Viewer);
        Ok(Some((Identity { name: name.to_string(), role }, row.try_get(2)?)))
    }

    /// Checks a user name and password (Argon2, constant-time comparison inside).
    pub async fn verify_password(&self, name: &str, password: &str) -> Result<Identity, AccountError> {
        let Some((identity, hash)) = self.active_user(name).await? else {
            return Err(AccountError::BadCredentials);
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| AccountError::Hash(e.to_string()))?;
        Argon2::default().verify_password(password.as_bytes(), &parsed).map_err(|_| AccountError::BadCredentials)?;
        Ok(identity)
    }

    /// Starts a browser session; returns the cookie's secret token.
    pub async fn create_session(&self, name: &str) -> Result<String, AccountError> {
        let token = random_hex(32);
        let now = now_ms();
        sqlx::query("INSERT INTO sessions (token_hash, user_name, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(sha256_hex(&token))
            .bind(name)
            .bind(now)
            .bind(now + SESSION_TTL_MS)
            .execute(self.db.pool())
            .await?;
        Ok(token)
    }

    pub async fn session_identity(&self, token: &str) -> Result<Option<Identity>, AccountError> {
        let row = sqlx::query("SELECT user_name FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(sha256_hex(token))
            .bind(now_ms())
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let name: String = row.try_get(0)?;
        Ok(self.active_user(&name).await.ok().flatten().map(|(id, _)| id))
    }

    pub async fn end_session(&self, token: &str) -> Result<(), AccountError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(sha256_hex(token))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Creates an API key for a user and returns it: the only time the secret is ever shown.
    pub async fn create_api_key(&self, name: &str, label: &str) -> Result<String, AccountError> {
        if self.active_user(name).await?.is_none() {
            return Err(AccountError::NoSuchUser(name.to_string()));
        }
        let key = format!("{API_KEY_PREFIX}{}", random_hex(24));
        sqlx::query(
            "INSERT INTO api_keys (user_name, key_hash, prefix, label, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(sha256_hex(&key))
        .bind(&key[..API_KEY_PREFIX.len() + 6])
        .bind(label)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(key)
    }

    pub async fn api_key_identity(&self, key: &str) -> Result<Option<Identity>, AccountError> {
        let hash = sha256_hex(key);
        let row = sqlx::query("SELECT user_name, last_used_at FROM api_keys WHERE key_hash = $1")
            .bind(&hash)
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let name: String = row.try_get(0)?;
        let last_used: Option<i64> = row.try_get(1)?;
        let identity = self.active_user(&name).await.ok().flatten().map(|(id, _)| id);
        // The last use is kept to the minute: a write on every request would serialise them.
        let now = now_ms();
        if identity.is_some() && last_used.is_none_or(|t| now - t >= KEY_USE_RESOLUTION_MS) {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(self.db.pool())
                .await?;
        }
        Ok(identity)
    }

    /// API keys (never their secrets): one user's, or everyone's with `None`; newest first.
    pub async fn list_api_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyRow>, AccountError> {
        let rows = match user {
            Some(user) => {
                sqlx::query(
                    "SELECT id, user_name, prefix, label, created_at, last_used_at FROM api_keys \
                     WHERE user_name = $1 ORDER BY created_at DESC, id DESC",
                )
                .bind(user)
                .fetch_all(self.db.pool())
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, user_name, prefix, label, created_at, last_used_at FROM api_keys \
                     ORDER BY created_at DESC, id DESC",
                )
                .fetch_all(self.db.pool())
                .await?
            }
        };
        rows.iter().map(key_row).collect()
    }

    /// Revokes one key at once (it stops working on the next request). With `owner`, only that
    /// user's key may go: anyone else's answers as a key that does not exist.
    pub async fn revoke_api_key(&self, id: i64, owner: Option<&str>) -> Result<ApiKeyRow, AccountError> {
        let row =
            sqlx::query("SELECT id, user_name, prefix, label, created_at, last_used_at FROM api_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?;
        let key = row
            .as_ref()
            .map(key_row)
            .transpose()?
            .filter(|k| owner.is_none_or(|o| k.user == o))
            .ok_or(AccountError::NoSuchKey(id))?;
        sqlx::query("DELETE FROM api_keys WHERE id = $1").bind(id).execute(self.db.pool()).await?;
        Ok(key)
    }

    /// A signed JWT (HS256) for a verified identity, valid for [`JWT_TTL_SECS`].
    pub async fn issue_jwt(&self, identity: &Identity) -> Result<String, AccountError> {
        let now = now_ms() / 1000;
        let claims = Claims {
            sub: identity.name.clone(),
            role: identity.role.as_str().into(),
            iat: now,
            exp: now + JWT_TTL_SECS,
        };
        let secret = self.jwt.signing().await?;
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .map_err(|e| AccountError::Hash(e.to_string()))
    }

    /// The identity a JWT vouches for, when its signature (by the current or the previous
    /// secret) and expiry hold and the user is active.
    pub async fn jwt_identity(&self, token: &str) -> Result<Option<Identity>, AccountError> {
        let claims = self
            .jwt
            .verify(|secret| {
                let key = jsonwebtoken::DecodingKey::from_secret(secret);
                jsonwebtoken::decode::<Claims>(token, &key, &jsonwebtoken::Validation::default()).ok().map(|d| d.claims)
            })
            .await?;
        let Some(claims) = claims else { return Ok(None) };
        // The role comes from the database, not the token, so a demotion takes effect at once.
        Ok(self.active_user(&claims.sub).await.ok().flatten().map(|(id, _)| id))
    }
}

/// An `api_keys` row read as (id, user_name, prefix, label, created_at, last_used_at).
fn key_row(r: &sqlx::any::AnyRow) -> Result<ApiKeyRow, AccountError> {
    Ok(ApiKeyRow {
        id: r.try_get(0)?,
        user: r.try_get(1)?,
        prefix: r.try_get(2)?,
        label: r.try_get(3)?,
        created_ms: r.try_get(4)?,
        last_used_ms: r.try_get(5)?,
    })
}
