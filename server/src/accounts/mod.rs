//! Accounts: argon2id passwords, sign-in throttled per account and per address, sessions kept
//! server-side (only their hashes stored, so a stolen database opens nothing and a session can
//! be revoked), and API tokens with scopes and an optional expiry.

mod throttle;

use crate::{error::ApiError, store::accounts as db};
use app::api::accounts::{
    Account, ApiToken, CreateToken, CreatedToken, PasswordChange, Role, Scope, SignIn,
};
use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use chrono::{Duration, Utc};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::sync::Arc;
pub use throttle::Throttle;

/// How long a session stays open without use.
pub const SESSION_IDLE: Duration = Duration::days(30);
/// Longest login and password looked at: longer ones are refused before any hashing.
pub const MAX_CREDENTIAL_BYTES: usize = 1_024;

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    pool: PgPool,
    throttle: Arc<Throttle>,
}

/// A session just opened: the secret for the cookie, and whose it is.
pub struct Session {
    pub secret: String,
    pub account: Account,
}

fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A random secret of 32 bytes, URL-safe, with a prefix saying what it is.
fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::rng().random();
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{text}")
}

/// An argon2id PHC string for `password` (the crate's default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?
        .to_string())
}

/// Whether `password` is the one `hash` was made from.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash nobody's password matches, verified when the login is unknown so that a wrong login
/// takes as long as a wrong password.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password("no account has this password, it only takes time").unwrap_or_default()
});

fn account_of(row: db::AccountRow) -> Account {
    Account {
        id: row.id,
        login: row.login,
        name: row.name,
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        created_at: row.created_at,
    }
}

fn token_of(row: db::TokenRow) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        scopes: row.scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
        created_by: row.created_by,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    }
}

/// The one answer to a failed sign-in, whatever failed.
fn wrong() -> ApiError {
    ApiError::Unauthorized("wrong login or password".into())
}

impl Accounts {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            throttle: Arc::new(Throttle::default()),
        }
    }

    /// Creates the first account, `admin`, with a random password, when there is none;
    /// returns that password (to be shown once).
    pub async fn ensure_admin(&self) -> Result<Option<String>, ApiError> {
        if db::count_accounts(&self.pool).await? > 0 {
            return Ok(None);
        }
        let password = new_secret("")[..24].to_string();
        let hash = hash_password(&password)?;
        Ok(
            db::insert_account(&self.pool, "admin", "Administrator", "admin", &hash)
                .await?
                .map(|_| password),
        )
    }

    /// Makes an account (an Admin's doing).
    pub async fn create_account(
        &self,
        login: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<Account, ApiError> {
        let login = login.trim();
        let valid = !login.is_empty()
            && login.len() <= 100
            && login
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !valid {
            return Err(ApiError::invalid(
                "login",
                "1 to 100 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        if !app::api::accounts::PASSWORD_LENGTH.contains(&password.chars().count()) {
            return Err(ApiError::invalid(
                "password",
                "a password is 12 to 256 characters",
            ));
        }
        let hash = hash_password(password)?;
        db::insert_account(&self.pool, login, name.trim(), role.as_str(), &hash)
            .await?
            .ok_or_else(|| ApiError::Conflict(format!("the login \"{login}\" is taken")))?;
        db::select_account_by_login(&self.pool, login)
            .await?
            .map(account_of)
            .ok_or_else(|| anyhow::anyhow!("the account just made is gone").into())
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, ApiError> {
        Ok(db::select_accounts(&self.pool)
            .await?
            .into_iter()
            .map(account_of)
            .collect())
    }

    /// Checks a login and password and opens a session. Failures say the same whatever
    /// failed; repeated failures for one login or from one address are slowed down (429 with
    /// Retry-After) before any password is checked.
    pub async fn sign_in(
        &self,
        request: &SignIn,
        address: &str,
        user_agent: &str,
    ) -> Result<Session, ApiError> {
        if request.login.len() > MAX_CREDENTIAL_BYTES
            || request.password.len() > MAX_CREDENTIAL_BYTES
        {
            return Err(ApiError::invalid(
                "password",
                format!("at most {MAX_CREDENTIAL_BYTES} bytes"),
            ));
        }
        let login = request.login.trim();
        let now = std::time::Instant::now();
        self.throttle.check(login, address, now)?;
        let row = db::select_account_by_login(&self.pool, login).await?;
        let hash = row
            .as_ref()
            .map_or(DECOY.as_str(), |r| r.password_hash.as_str())
            .to_string();
        let password = request.password.clone();
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(anyhow::Error::from)?;
        let Some(row) = row.filter(|_| matches) else {
            self.throttle.failed(login, address, now);
            return Err(wrong());
        };
        self.throttle.succeeded(login);
        let secret = new_secret("ps_");
        db::insert_session(
            &self.pool,
            &hash_secret(&secret),
            row.id,
            Utc::now() + SESSION_IDLE,
            address,
            &user_agent.chars().take(300).collect::<String>(),
        )
        .await?;
        Ok(Session {
            secret,
            account: account_of(row),
        })
    }

    /// The account a session secret belongs to, while the session is open.
    pub async fn session(&self, secret: &str) -> Result<Option<Account>, ApiError> {
        if secret.len() > MAX_CREDENTIAL_BYTES {
            return Ok(None);
        }
        Ok(
            db::touch_session(&self.pool, &hash_secret(secret), Utc::now() + SESSION_IDLE)
                .await?
                .map(account_of),
        )
    }

    pub async fn sign_out(&self, secret: &str) -> Result<(), ApiError> {
        db::delete_session(&self.pool, &hash_secret(secret)).await?;
        Ok(())
    }

    /// Changes the signed-in account's password (the current one checked) and closes its
    /// other sessions.
    pub async fn change_password(
        &self,
        login: &str,
        session_secret: &str,
        change: &PasswordChange,
    ) -> Result<(), ApiError> {
        if let Some(e) = change.validate().into_iter().next() {
            return Err(ApiError::invalid(e.field, e.message));
        }
        let row = db::select_account_by_login(&self.pool, login)
            .await?
            .ok_or_else(wrong)?;
        let (current, hash) = (change.current.clone(), row.password_hash.clone());
        let matches = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
            .await
            .map_err(anyhow::Error::from)?;
        if !matches {
            return Err(ApiError::invalid("current", "not your current password"));
        }
        let hash = hash_password(&change.new)?;
        let mut tx = self.pool.begin().await?;
        db::update_password(&mut tx, row.id, &hash, &hash_secret(session_secret)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes an API token; its secret is in the answer and nowhere else.
    pub async fn create_token(
        &self,
        request: &CreateToken,
        created_by: &str,
    ) -> Result<CreatedToken, ApiError> {
        if let Some(e) = request.validate(Utc::now()).into_iter().next() {
            return Err(ApiError::invalid(e.field, e.message));
        }
        let secret = new_secret("pt_");
        let mut scopes: Vec<String> = request
            .scopes
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        scopes.sort();
        scopes.dedup();
        let row = db::insert_token(
            &self.pool,
            request.name.trim(),
            &hash_secret(&secret),
            &scopes,
            created_by,
            request.expires_at,
        )
        .await?;
        Ok(CreatedToken {
            token: token_of(row),
            secret,
        })
    }

    pub async fn tokens(&self) -> Result<Vec<ApiToken>, ApiError> {
        Ok(db::select_tokens(&self.pool)
            .await?
            .into_iter()
            .map(token_of)
            .collect())
    }

    /// The token a secret stands for, when it is neither revoked nor expired.
    pub async fn token(&self, secret: &str) -> Result<Option<ApiToken>, ApiError> {
        if !secret.starts_with("pt_") || secret.len() > MAX_CREDENTIAL_BYTES {
            return Ok(None);
        }
        Ok(db::use_token(&self.pool, &hash_secret(secret))
            .await?
            .map(token_of))
    }

    pub async fn revoke_token(&self, id: i64) -> Result<(), ApiError> {
        if db::revoke_token(&self.pool, id).await? {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "no token {id} that is not revoked"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterz", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(
            hash,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[test]
    fn secrets_are_random_and_stored_as_hashes() {
        let a = new_secret("pt_");
        assert!(a.starts_with("pt_") && a.len() == 67);
        assert_ne!(a, new_secret("pt_"));
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_eq!(hash_secret(&a).len(), 32);
    }
}
