//! Sharing: short links (`/s/<code>` → a path on this portal) and public links (`/public/<token>`,
//! one dashboard read-only, with an optional expiry, revocable). A public link opens exactly its
//! dashboard; what it may query is decided in `super::query` with the variables' options.

use super::{get, random_code};
use crate::{error::ApiError, store::dashboards as db};
use app::api::dashboard::{Dashboard, PublicLink, ShortLink};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Makes (or finds) the short link of `path`, a path on this portal.
pub async fn create_short_link(pool: &PgPool, path: &str) -> Result<ShortLink, ApiError> {
    let path = path.trim();
    if !path.starts_with('/')
        || path.starts_with("//")
        || path.len() > 8000
        || path.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "path",
            "must be a path on this portal starting with a single '/', at most 8,000 characters",
        ));
    }
    let code = db::upsert_short_link(pool, &random_code(8), path).await?;
    Ok(ShortLink {
        url: format!("/s/{code}"),
        code,
        path: path.to_string(),
    })
}

/// The path short link `code` stands for (and counts its use).
pub async fn follow_short_link(pool: &PgPool, code: &str) -> Result<String, ApiError> {
    db::use_short_link(pool, code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no short link \"{code}\"")))
}

fn public_link(row: db::PublicLinkRow) -> PublicLink {
    PublicLink {
        url: format!("/public/{}", row.token),
        token: row.token,
        dashboard_uid: row.dashboard_uid,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked: row.revoked_at.is_some(),
    }
}

/// The public links of dashboard `uid`, revoked and expired ones included.
pub async fn list_public_links(pool: &PgPool, uid: &str) -> Result<Vec<PublicLink>, ApiError> {
    get(pool, uid).await?;
    let rows = db::select_public_links(pool, uid).await?;
    Ok(rows.into_iter().map(public_link).collect())
}

/// Makes a public link to dashboard `uid`, live until `expires_at` (if given).
pub async fn create_public_link(
    pool: &PgPool,
    uid: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<PublicLink, ApiError> {
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    get(pool, uid).await?;
    // 32 characters of a 57-letter alphabet: about 187 bits, not guessable.
    let row = db::insert_public_link(pool, &random_code(32), uid, expires_at).await?;
    Ok(public_link(row))
}

/// Revokes public link `token` of dashboard `uid`.
pub async fn revoke_public_link(pool: &PgPool, uid: &str, token: &str) -> Result<(), ApiError> {
    if db::revoke_public_link(pool, uid, token).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "dashboard \"{uid}\" has no such public link"
        )))
    }
}

/// The dashboard a public link opens, if the link is live; every failure reads the same, so a
/// token reveals nothing about other tokens or dashboards.
pub async fn open_public_link(pool: &PgPool, token: &str) -> Result<Dashboard, ApiError> {
    let gone =
        || ApiError::not_found("this public link does not exist, was revoked or has expired");
    let row = db::select_public_link(pool, token)
        .await?
        .ok_or_else(gone)?;
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(gone());
    }
    Ok(get(pool, &row.dashboard_uid)
        .await
        .map_err(|_| gone())?
        .dashboard)
}
