//! Dashboards, their versions, short links, public links and preferences.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};

/// A stored dashboard row.
#[derive(sqlx::FromRow)]
pub struct DashboardRow {
    pub uid: String,
    pub model: serde_json::Value,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub starred: bool,
    pub provisioned_from: Option<String>,
}

pub async fn select_dashboard(
    db: impl PgExecutor<'_>,
    uid: &str,
) -> sqlx::Result<Option<DashboardRow>> {
    sqlx::query_as(
        "select uid, model, version, created_at, updated_at, updated_by, starred, provisioned_from
         from dashboard where uid = $1",
    )
    .bind(uid)
    .fetch_optional(db)
    .await
}

/// A line of the list.
#[derive(sqlx::FromRow)]
pub struct SummaryRow {
    pub uid: String,
    pub title: String,
    pub folder: String,
    pub tags: Vec<String>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub starred: bool,
}

/// What the list is narrowed to.
#[derive(Default)]
pub struct ListFilter<'a> {
    /// Words that must all appear in the title (case-insensitive).
    pub query: Option<&'a str>,
    /// Tags the dashboard must all carry.
    pub tags: &'a [String],
    pub folder: Option<&'a str>,
    pub starred: bool,
}

/// Dashboards by folder and title, narrowed by `filter`.
pub async fn select_dashboards(
    db: impl PgExecutor<'_>,
    filter: &ListFilter<'_>,
) -> sqlx::Result<Vec<SummaryRow>> {
    let pattern = filter.query.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!(
            "%{}%",
            escaped.split_whitespace().collect::<Vec<_>>().join("%")
        )
    });
    sqlx::query_as(
        "select uid, title, folder, tags, version, updated_at, starred from dashboard
         where ($1::text is null or title ilike $1)
           and tags @> $2::text[]
           and ($3::text is null or folder = $3)
           and (not $4 or starred)
         order by folder, lower(title), uid",
    )
    .bind(pattern)
    .bind(filter.tags)
    .bind(filter.folder)
    .bind(filter.starred)
    .fetch_all(db)
    .await
}

/// The stored dashboard `uid`, its row locked until the transaction ends; `None` when absent.
pub async fn lock_dashboard(
    tx: &mut Transaction<'_, Postgres>,
    uid: &str,
) -> sqlx::Result<Option<DashboardRow>> {
    sqlx::query_as(
        "select uid, model, version, created_at, updated_at, updated_by, starred, provisioned_from
         from dashboard where uid = $1 for update",
    )
    .bind(uid)
    .fetch_optional(&mut **tx)
    .await
}

/// What a save writes.
pub struct NewVersion<'a> {
    pub uid: &'a str,
    pub title: &'a str,
    pub folder: &'a str,
    pub tags: &'a [String],
    pub model: &'a serde_json::Value,
    pub version: i32,
    pub by: &'a str,
    pub message: &'a str,
    pub provisioned_from: Option<&'a str>,
}

/// Writes the dashboard row (insert or update) and its version row.
pub async fn write_version(
    tx: &mut Transaction<'_, Postgres>,
    v: &NewVersion<'_>,
) -> sqlx::Result<DateTime<Utc>> {
    let at: DateTime<Utc> = sqlx::query_scalar(
        "insert into dashboard (uid, title, folder, tags, version, model, updated_by, provisioned_from)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (uid) do update set title = excluded.title, folder = excluded.folder,
             tags = excluded.tags, version = excluded.version, model = excluded.model,
             updated_at = now(), updated_by = excluded.updated_by,
             provisioned_from = excluded.provisioned_from
         returning updated_at",
    )
    .bind(v.uid)
    .bind(v.title)
    .bind(v.folder)
    .bind(v.tags)
    .bind(v.version)
    .bind(v.model)
    .bind(v.by)
    .bind(v.provisioned_from)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "insert into dashboard_version (uid, version, model, created_at, created_by, message)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(v.uid)
    .bind(v.version)
    .bind(v.model)
    .bind(at)
    .bind(v.by)
    .bind(v.message)
    .execute(&mut **tx)
    .await?;
    Ok(at)
}

/// What [`delete_unprovisioned_dashboard`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Yes,
    Provisioned,
    Missing,
}

/// Deletes a dashboard that is not provisioned from a file, deciding and deleting in one
/// statement.
pub async fn delete_unprovisioned_dashboard(
    db: impl PgExecutor<'_>,
    uid: &str,
) -> sqlx::Result<Deleted> {
    let (found, deleted): (Option<bool>, bool) = sqlx::query_as(
        "with target as (select uid, provisioned_from is not null as provisioned from dashboard where uid = $1),
              gone as (delete from dashboard d using target t
                       where d.uid = t.uid and not t.provisioned returning d.uid)
         select (select provisioned from target), exists (select 1 from gone)",
    )
    .bind(uid)
    .fetch_one(db)
    .await?;
    Ok(match (found, deleted) {
        (_, true) => Deleted::Yes,
        (Some(true), false) => Deleted::Provisioned,
        _ => Deleted::Missing,
    })
}

/// Deletes a dashboard whatever its origin (provisioning removes its own).
pub async fn delete_dashboard(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from dashboard where uid = $1")
        .bind(uid)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn set_starred(db: impl PgExecutor<'_>, uid: &str, starred: bool) -> sqlx::Result<bool> {
    let done = sqlx::query("update dashboard set starred = $2 where uid = $1")
        .bind(uid)
        .bind(starred)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The provisioned dashboards and the files they came from.
pub async fn select_provisioned(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as("select uid, provisioned_from from dashboard where provisioned_from is not null")
        .fetch_all(db)
        .await
}

#[derive(sqlx::FromRow)]
pub struct VersionRow {
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub message: String,
}

/// The history of `uid`, newest first.
pub async fn select_versions(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<Vec<VersionRow>> {
    sqlx::query_as(
        "select version, created_at, created_by, message from dashboard_version
         where uid = $1 order by version desc",
    )
    .bind(uid)
    .fetch_all(db)
    .await
}

pub async fn select_version_model(
    db: impl PgExecutor<'_>,
    uid: &str,
    version: i32,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar("select model from dashboard_version where uid = $1 and version = $2")
        .bind(uid)
        .bind(version)
        .fetch_optional(db)
        .await
}

pub async fn select_preference(
    db: impl PgExecutor<'_>,
    key: &str,
) -> sqlx::Result<Option<serde_json::Value>> {
    sqlx::query_scalar("select value from portal_preference where key = $1")
        .bind(key)
        .fetch_optional(db)
        .await
}

pub async fn upsert_preference(
    db: impl PgExecutor<'_>,
    key: &str,
    value: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into portal_preference (key, value) values ($1, $2)
         on conflict (key) do update set value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(db)
    .await?;
    Ok(())
}

/// Inserts a short link for `path`, or returns the code it already has.
pub async fn upsert_short_link(
    db: impl PgExecutor<'_>,
    code: &str,
    path: &str,
) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "insert into short_link (code, path) values ($1, $2)
         on conflict (path) do update set path = excluded.path
         returning code",
    )
    .bind(code)
    .bind(path)
    .fetch_one(db)
    .await
}

/// The path of a short link, marking it used.
pub async fn use_short_link(db: impl PgExecutor<'_>, code: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("update short_link set last_used_at = now() where code = $1 returning path")
        .bind(code)
        .fetch_optional(db)
        .await
}

#[derive(sqlx::FromRow)]
pub struct PublicLinkRow {
    pub id: i64,
    pub hint: String,
    pub dashboard_uid: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

const PUBLIC_LINK_COLUMNS: &str = "id, hint, dashboard_uid, created_at, expires_at, revoked_at";

pub async fn insert_public_link(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    hint: &str,
    uid: &str,
    expires_at: Option<DateTime<Utc>>,
) -> sqlx::Result<PublicLinkRow> {
    sqlx::query_as(&format!(
        "insert into public_link (token_hash, hint, dashboard_uid, expires_at) values ($1, $2, $3, $4)
         returning {PUBLIC_LINK_COLUMNS}"
    ))
    .bind(token_hash)
    .bind(hint)
    .bind(uid)
    .bind(expires_at)
    .fetch_one(db)
    .await
}

pub async fn select_public_links(
    db: impl PgExecutor<'_>,
    uid: &str,
) -> sqlx::Result<Vec<PublicLinkRow>> {
    sqlx::query_as(&format!(
        "select {PUBLIC_LINK_COLUMNS} from public_link
         where dashboard_uid = $1 order by created_at desc, id desc"
    ))
    .bind(uid)
    .fetch_all(db)
    .await
}

/// The link whose token hashes to `token_hash`.
pub async fn select_public_link(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<PublicLinkRow>> {
    sqlx::query_as(&format!(
        "select {PUBLIC_LINK_COLUMNS} from public_link where token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Revokes link `id` of dashboard `uid`; false when there is no such link.
pub async fn revoke_public_link(db: impl PgExecutor<'_>, uid: &str, id: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update public_link set revoked_at = coalesce(revoked_at, now())
         where id = $1 and dashboard_uid = $2",
    )
    .bind(id)
    .bind(uid)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}
