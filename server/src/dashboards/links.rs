//! Sharing: short links (`/s/<code>` → a path on this portal) and public links (`/public/<token>`,
//! one dashboard read-only, with an optional expiry, revocable). A public link opens exactly its
//! dashboard; what it may query is decided in `super::query` with the variables' options.

use super::{get, random_code};
use crate::{accounts::hash_secret, error::ApiError, store::dashboards as db};
use app::api::{
    dashboard::{Dashboard, PublicLink, ShortLink},
    redirect::local_path,
};
use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Makes (or finds) the short link of `path`, a path on this portal.
pub async fn create_short_link(pool: &PgPool, path: &str) -> Result<ShortLink, ApiError> {
    let path = local_path(path.trim()).map_err(|why| ApiError::invalid("path", why))?;
    let code = db::upsert_short_link(pool, &random_code(8), path).await?;
    Ok(ShortLink {
        url: format!("/s/{code}"),
        code,
        path: path.to_string(),
    })
}

/// The path short link `code` stands for (and counts its use). A stored path that is no longer
/// a path on this portal (made before the check was what it is) is never followed.
pub async fn follow_short_link(pool: &PgPool, code: &str) -> Result<String, ApiError> {
    let path = db::use_short_link(pool, code)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no short link \"{code}\"")))?;
    local_path(&path)
        .map_err(|_| ApiError::not_found(format!("short link \"{code}\" leads off this portal")))?;
    Ok(path)
}

fn public_link(row: db::PublicLinkRow) -> PublicLink {
    PublicLink {
        id: row.id,
        token: String::new(),
        url: String::new(),
        hint: row.hint,
        dashboard_uid: row.dashboard_uid,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked: row.revoked_at.is_some(),
    }
}

/// The public links of dashboard `uid`, revoked and expired ones included; their tokens are
/// kept hashed, so only their first characters are shown.
pub async fn list_public_links(pool: &PgPool, uid: &str) -> Result<Vec<PublicLink>, ApiError> {
    get(pool, uid).await?;
    let rows = db::select_public_links(pool, uid).await?;
    Ok(rows.into_iter().map(public_link).collect())
}

/// How many characters of a token name its link.
const HINT_CHARS: usize = 4;

/// Makes a public link to dashboard `uid`, live until `expires_at` (if given). The answer is
/// the one place its token and URL appear: the portal keeps only their hash.
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
    let token = random_code(32);
    let row = db::insert_public_link(
        pool,
        &hash_secret(&token),
        &token[..HINT_CHARS],
        uid,
        expires_at,
    )
    .await?;
    Ok(PublicLink {
        url: format!("/public/{token}"),
        token,
        ..public_link(row)
    })
}

/// Revokes public link `id` of dashboard `uid`.
pub async fn revoke_public_link(pool: &PgPool, uid: &str, id: &str) -> Result<(), ApiError> {
    let missing = || ApiError::not_found(format!("dashboard \"{uid}\" has no public link {id}"));
    let id: i64 = id.parse().map_err(|_| missing())?;
    if db::revoke_public_link(pool, uid, id).await? {
        Ok(())
    } else {
        Err(missing())
    }
}

/// The dashboard a public link opens, if the link is live; every failure reads the same, so a
/// token reveals nothing about other tokens or dashboards.
pub async fn open_public_link(pool: &PgPool, token: &str) -> Result<Dashboard, ApiError> {
    let gone =
        || ApiError::not_found("this public link does not exist, was revoked or has expired");
    if token.len() > 200 {
        return Err(gone());
    }
    let row = db::select_public_link(pool, &hash_secret(token))
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
