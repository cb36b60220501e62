//! Accounts: argon2id passwords, sign-in throttled per account and per address, sessions kept
//! server-side (only their hashes stored, so a stolen database opens nothing and a session can
//! be revoked), and API tokens with scopes and an optional expiry.

mod folders;
mod throttle;

pub use folders::FolderAccess;

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
use std::{net::IpAddr, sync::Arc};
pub use throttle::Throttle;

/// How long a session stays open without use.
pub const SESSION_IDLE: Duration = Duration::days(30);
/// Longest login and password looked at: longer ones are refused before any hashing.
pub const MAX_CREDENTIAL_BYTES: usize = 1_024;

/// How long a checked session or token is believed without asking the database again. A
/// revocation, sign-out or role change on this replica takes effect at once (the cache is
/// emptied); on other replicas within this time.
pub const CREDENTIAL_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
const CREDENTIAL_CACHE_MAX: usize = 10_000;

/// What a credential's hash was found to stand for, and when.
#[derive(Clone)]
enum Checked {
    Session(Account),
    Token(ApiToken),
}

type CredentialCache =
    std::sync::Mutex<std::collections::HashMap<Vec<u8>, (std::time::Instant, Checked)>>;

/// The accounts service.
#[derive(Clone)]
pub struct Accounts {
    pool: PgPool,
    throttle: Arc<Throttle>,
    checked: Arc<CredentialCache>,
    hashing: Arc<tokio::sync::Semaphore>,
}

/// Reverse-proxy sign-in: which header names the user, whose addresses are believed, and the
/// role a new account gets.
#[derive(Clone, Debug)]
pub struct ProxyAuth {
    pub header: axum::http::HeaderName,
    pub trusted: Vec<(IpAddr, u8)>,
    pub role: Role,
}

/// Parses `a.b.c.d`, `a.b.c.d/n`, IPv6 and IPv6 ranges, comma-separated.
pub fn parse_networks(text: &str) -> Result<Vec<(IpAddr, u8)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|item| {
            let (ip, bits) = match item.split_once('/') {
                Some((ip, bits)) => (ip, Some(bits)),
                None => (item, None),
            };
            let ip: IpAddr = ip.parse().map_err(|_| format!("{item}: not an address"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{item}: the prefix is 0 to {max}"))?,
                None => max,
            };
            Ok((ip, bits))
        })
        .collect()
}

/// Whether `address` is in one of `networks`.
pub fn in_networks(address: IpAddr, networks: &[(IpAddr, u8)]) -> bool {
    let address = match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    };
    networks.iter().any(|(net, bits)| match (address, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(*n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(*n) & mask
        }
        _ => false,
    })
}

/// Who a request acts as: nobody, a person (signed in, or named by a trusted proxy), or an
/// API token.
#[derive(Clone, Debug)]
pub enum Principal {
    Anonymous,
    User(Account),
    Token(ApiToken),
}

impl Principal {
    /// How the audit log and the authors of changes name it.
    pub fn name(&self) -> String {
        match self {
            Self::Anonymous => "anonymous".into(),
            Self::User(account) => account.login.clone(),
            Self::Token(token) => format!("token:{}", token.name),
        }
    }

    pub fn account(&self) -> Option<&Account> {
        match self {
            Self::User(account) => Some(account),
            _ => None,
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        matches!(self, Self::Token(t) if t.scopes.contains(&scope) || t.scopes.contains(&Scope::Admin))
    }

    /// A person with at least `role`, or a token with the admin scope.
    pub fn has_role(&self, role: Role) -> bool {
        match self {
            Self::User(account) => account.role >= role,
            Self::Token(_) => self.has_scope(Scope::Admin),
            Self::Anonymous => false,
        }
    }
}

/// A session just opened: the secret for the cookie, and whose it is.
pub struct Session {
    pub secret: String,
    pub account: Account,
}

/// The SHA-256 of a secret, as secrets are stored (API tokens, sessions, public links).
pub fn hash_secret(secret: &str) -> Vec<u8> {
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

/// Password hashes computed at once at most (each takes tens of milliseconds of a core and
/// 19 MiB): more sign-ins than that are answered 503 at once instead of queueing CPU work.
fn max_hashing() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

impl Accounts {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            throttle: Arc::new(Throttle::default()),
            checked: Arc::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(max_hashing())),
        }
    }

    /// Runs argon2 work on the blocking pool, within the bound on hashes at once.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.hashing.clone().try_acquire_owned().map_err(|_| {
            ApiError::unavailable("too many passwords are being checked at once; try again", 1)
        })?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::from(e)))
    }

    /// Whether `password` is the one `hash` was made from; without a hash (no such account) the
    /// decoy is checked, which takes as long (see [`Accounts::hashing`]).
    async fn verify(&self, password: &str, hash: Option<String>) -> Result<bool, ApiError> {
        let password = password.to_string();
        self.hashing(move || verify_password(&password, hash.as_deref().unwrap_or(&DECOY)))
            .await
    }

    /// The argon2id hash of `password` (see [`Accounts::hashing`]).
    async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_string();
        self.hashing(move || hash_password(&password)).await?
    }

    fn cached(&self, hash: &[u8]) -> Option<Checked> {
        let cache = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(hash)
            .filter(|(at, _)| at.elapsed() < CREDENTIAL_CACHE_TTL)
            .map(|(_, checked)| checked.clone())
    }

    fn remember(&self, hash: Vec<u8>, checked: Checked) {
        let mut cache = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CREDENTIAL_CACHE_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < CREDENTIAL_CACHE_TTL);
            if cache.len() >= CREDENTIAL_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(hash, (std::time::Instant::now(), checked));
    }

    /// Forgets every checked credential: something that ends or narrows one happened.
    fn forget_checked(&self) {
        self.checked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Creates the first account, `admin`, with a random password, when there is none;
    /// returns that password (to be shown once).
    pub async fn ensure_admin(&self) -> Result<Option<String>, ApiError> {
        if db::count_accounts(&self.pool).await? > 0 {
            return Ok(None);
        }
        let password = new_secret("")[..24].to_string();
        let hash = self.hash(&password).await?;
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
        let hash = self.hash(password).await?;
        db::insert_account(&self.pool, login, name.trim(), role.as_str(), &hash)
            .await?
            .ok_or_else(|| ApiError::Conflict(format!("the login \"{login}\" is taken")))?;
        db::select_account_by_login(&self.pool, login)
            .await?
            .map(account_of)
            .ok_or_else(|| anyhow::anyhow!("the account just made is gone").into())
    }

    /// The account a trusted proxy names, made with `role` on its first visit. It has no
    /// password: it can only be reached through the proxy.
    pub async fn proxy_account(&self, login: &str, role: Role) -> Result<Account, ApiError> {
        let login = login.trim();
        if login.is_empty() || login.len() > 100 {
            return Err(ApiError::Unauthorized(
                "the proxy's user header is empty or longer than 100 bytes".into(),
            ));
        }
        if let Some(row) = db::select_account_by_login(&self.pool, login).await? {
            return Ok(account_of(row));
        }
        // "!" is no PHC string: no password verifies against it.
        db::insert_account(&self.pool, login, "", role.as_str(), "!").await?;
        db::select_account_by_login(&self.pool, login)
            .await?
            .map(account_of)
            .ok_or_else(|| anyhow::anyhow!("the proxy's account just made is gone").into())
    }

    /// Changes an account's name and role; the last Admin keeps the role.
    pub async fn update_account(
        &self,
        id: i64,
        name: &str,
        role: Role,
    ) -> Result<(Account, Account), ApiError> {
        let mut tx = self.pool.begin().await?;
        let before = db::select_accounts(&mut *tx)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .map(account_of)
            .ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
        if before.role == Role::Admin
            && role != Role::Admin
            && db::count_admins(&mut *tx).await? <= 1
        {
            return Err(ApiError::invalid(
                "role",
                "this is the last admin; make another admin first",
            ));
        }
        let after = db::update_account(&mut *tx, id, name.trim(), role.as_str())
            .await?
            .map(account_of)
            .ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
        if before.role != after.role {
            // A demoted person signs in again under the new role.
            db::delete_sessions(&mut *tx, id).await?;
            self.forget_checked();
        }
        tx.commit().await?;
        Ok((before, after))
    }

    /// Deletes an account and its sessions; the last Admin stays.
    pub async fn delete_account(&self, id: i64) -> Result<Account, ApiError> {
        let mut tx = self.pool.begin().await?;
        let account = db::select_accounts(&mut *tx)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .map(account_of)
            .ok_or_else(|| ApiError::not_found(format!("no account {id}")))?;
        if account.role == Role::Admin && db::count_admins(&mut *tx).await? <= 1 {
            return Err(ApiError::Conflict(
                "this is the last admin; make another admin first".into(),
            ));
        }
        db::delete_account(&mut *tx, id).await?;
        tx.commit().await?;
        self.forget_checked();
        Ok(account)
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
        // Counted before the password is checked, so that attempts made at once all count.
        self.throttle
            .attempt(login, address, std::time::Instant::now())?;
        let row = db::select_account_by_login(&self.pool, login).await?;
        let hash = row.as_ref().map(|r| r.password_hash.clone());
        let matches = self.verify(&request.password, hash).await?;
        let Some(row) = row.filter(|_| matches) else {
            return Err(wrong());
        };
        self.throttle.succeeded(login, address);
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
        let hash = hash_secret(secret);
        if let Some(Checked::Session(account)) = self.cached(&hash) {
            return Ok(Some(account));
        }
        let account = db::touch_session(&self.pool, &hash, Utc::now() + SESSION_IDLE)
            .await?
            .map(account_of);
        if let Some(account) = &account {
            self.remember(hash, Checked::Session(account.clone()));
        }
        Ok(account)
    }

    pub async fn sign_out(&self, secret: &str) -> Result<(), ApiError> {
        self.forget_checked();
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
        // Guessing the current password is throttled as sign-in is.
        let address = format!("session:{}", row.id);
        self.throttle
            .attempt(login, &address, std::time::Instant::now())?;
        if !self
            .verify(&change.current, Some(row.password_hash.clone()))
            .await?
        {
            return Err(ApiError::invalid("current", "not your current password"));
        }
        self.throttle.succeeded(login, &address);
        let hash = self.hash(&change.new).await?;
        let mut tx = self.pool.begin().await?;
        db::update_password(&mut tx, row.id, &hash, &hash_secret(session_secret)).await?;
        tx.commit().await?;
        self.forget_checked();
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

    /// A fresh token for the demo generator (ingest and read), the one of the last start
    /// revoked.
    pub async fn demo_token(&self) -> Result<String, ApiError> {
        const NAME: &str = "demo generator";
        db::revoke_tokens_named(&self.pool, NAME, "portal").await?;
        let request = CreateToken {
            name: NAME.into(),
            scopes: vec![Scope::Ingest, Scope::Read],
            expires_at: None,
        };
        Ok(self.create_token(&request, "portal").await?.secret)
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
        let hash = hash_secret(secret);
        if let Some(Checked::Token(token)) = self.cached(&hash) {
            if token.expires_at.is_none_or(|t| t > Utc::now()) {
                return Ok(Some(token));
            }
        }
        let token = db::use_token(&self.pool, &hash).await?.map(token_of);
        if let Some(token) = &token {
            self.remember(hash, Checked::Token(token.clone()));
        }
        Ok(token)
    }

    pub async fn revoke_token(&self, id: i64) -> Result<(), ApiError> {
        self.forget_checked();
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
    fn networks_match_addresses_and_ranges() {
        let nets = parse_networks("127.0.0.1, 10.0.0.0/8,::1, fd00::/8").unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(in_networks(ip("127.0.0.1"), &nets));
        assert!(in_networks(ip("10.200.3.4"), &nets));
        assert!(!in_networks(ip("11.0.0.1"), &nets));
        assert!(in_networks(ip("::1"), &nets));
        assert!(in_networks(ip("::ffff:10.1.1.1"), &nets), "v4-mapped");
        assert!(in_networks(ip("fd12::1"), &nets));
        assert!(!in_networks(ip("fe80::1"), &nets));
        assert!(in_networks(
            ip("8.8.8.8"),
            &parse_networks("0.0.0.0/0").unwrap()
        ));
        assert!(parse_networks("10.0.0.0/33").is_err());
        assert!(parse_networks("example.com").is_err());
    }

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
