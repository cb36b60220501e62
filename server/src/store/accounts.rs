//! Accounts, sessions and API tokens.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct AccountRow {
    pub id: i64,
    pub login: String,
    pub name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

const ACCOUNT: &str = "id, login, name, role, password_hash, created_at";

pub async fn count_accounts(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from account")
        .fetch_one(db)
        .await
}

pub async fn select_accounts(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<AccountRow>> {
    sqlx::query_as(&format!("select {ACCOUNT} from account order by login"))
        .fetch_all(db)
        .await
}

pub async fn select_account_by_login(
    db: impl PgExecutor<'_>,
    login: &str,
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as(&format!("select {ACCOUNT} from account where login = $1"))
        .bind(login)
        .fetch_optional(db)
        .await
}

/// Creates an account; None when the login is taken.
pub async fn insert_account(
    db: impl PgExecutor<'_>,
    login: &str,
    name: &str,
    role: &str,
    password_hash: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "insert into account (login, name, role, password_hash) values ($1, $2, $3, $4)
         on conflict (login) do nothing returning id",
    )
    .bind(login)
    .bind(name)
    .bind(role)
    .bind(password_hash)
    .fetch_optional(db)
    .await
}

/// Sets a password and ends every session of the account but `keep`.
pub async fn update_password(
    db: &mut sqlx::PgConnection,
    account_id: i64,
    password_hash: &str,
    keep: &[u8],
) -> sqlx::Result<()> {
    sqlx::query("update account set password_hash = $2, password_changed_at = now() where id = $1")
        .bind(account_id)
        .bind(password_hash)
        .execute(&mut *db)
        .await?;
    sqlx::query("delete from account_session where account_id = $1 and token_hash <> $2")
        .bind(account_id)
        .bind(keep)
        .execute(&mut *db)
        .await?;
    Ok(())
}

pub async fn insert_session(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    account_id: i64,
    expires_at: DateTime<Utc>,
    address: &str,
    user_agent: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into account_session (token_hash, account_id, expires_at, address, user_agent)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(expires_at)
    .bind(address)
    .bind(user_agent)
    .execute(db)
    .await?;
    Ok(())
}

/// The account of a session that has not expired, its expiry pushed to `expires_at` at most
/// once a minute (a session in use stays open).
pub async fn touch_session(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as(&format!(
        "with s as (
           select account_id, last_seen_at from account_session
           where token_hash = $1 and expires_at > now()),
         touched as (
           update account_session set last_seen_at = now(), expires_at = $2
           where token_hash = $1 and (select last_seen_at from s) < now() - interval '1 minute')
         select {ACCOUNT} from account where id = (select account_id from s)"
    ))
    .bind(token_hash)
    .bind(expires_at)
    .fetch_optional(db)
    .await
}

pub async fn delete_session(db: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query("delete from account_session where token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const TOKEN: &str =
    "id, name, scopes, created_by, created_at, expires_at, last_used_at, revoked_at";

pub async fn insert_token(
    db: impl PgExecutor<'_>,
    name: &str,
    token_hash: &[u8],
    scopes: &[String],
    created_by: &str,
    expires_at: Option<DateTime<Utc>>,
) -> sqlx::Result<TokenRow> {
    sqlx::query_as(&format!(
        "insert into api_token (name, token_hash, scopes, created_by, expires_at)
         values ($1, $2, $3, $4, $5) returning {TOKEN}"
    ))
    .bind(name)
    .bind(token_hash)
    .bind(scopes)
    .bind(created_by)
    .bind(expires_at)
    .fetch_one(db)
    .await
}

pub async fn select_tokens(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!("select {TOKEN} from api_token order by id desc"))
        .fetch_all(db)
        .await
}

/// The token with this hash when it is neither revoked nor expired; its last use is recorded
/// (to the minute, so a busy shipper does not write a row per request).
pub async fn use_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(&format!(
        "with t as (
           select {TOKEN} from api_token
           where token_hash = $1 and revoked_at is null
             and (expires_at is null or expires_at > now())),
         touched as (
           update api_token set last_used_at = now()
           where id = (select id from t)
             and (last_used_at is null or last_used_at < now() - interval '1 minute'))
         select * from t"
    ))
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Revokes a token; false when there is none with this id or it was revoked.
pub async fn revoke_token(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("update api_token set revoked_at = now() where id = $1 and revoked_at is null")
            .bind(id)
            .execute(db)
            .await?
            .rows_affected()
            > 0,
    )
}

/// Changes an account's role and name; None when there is no such account.
pub async fn update_account(
    db: impl PgExecutor<'_>,
    id: i64,
    name: &str,
    role: &str,
) -> sqlx::Result<Option<AccountRow>> {
    sqlx::query_as(&format!(
        "update account set name = $2, role = $3 where id = $1 returning {ACCOUNT}"
    ))
    .bind(id)
    .bind(name)
    .bind(role)
    .fetch_optional(db)
    .await
}

/// Deletes an account (its sessions go with it); false when there is none.
pub async fn delete_account(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from account where id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

pub async fn count_admins(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from account where role = 'admin'")
        .fetch_one(db)
        .await
}

/// Ends every session of an account.
pub async fn delete_sessions(db: impl PgExecutor<'_>, account_id: i64) -> sqlx::Result<()> {
    sqlx::query("delete from account_session where account_id = $1")
        .bind(account_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes the live tokens with this name made by `created_by`.
pub async fn revoke_tokens_named(
    db: impl PgExecutor<'_>,
    name: &str,
    created_by: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update api_token set revoked_at = now()
         where name = $1 and created_by = $2 and revoked_at is null",
    )
    .bind(name)
    .bind(created_by)
    .execute(db)
    .await?;
    Ok(())
}
