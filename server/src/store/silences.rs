//! Silences.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use sqlx::PgExecutor;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct SilenceRow {
    pub id: String,
    pub matchers: Json,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_by: String,
    pub comment: String,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, matchers, starts_at, ends_at, created_by, comment, updated_at";

/// Silences that end after `since` (all of them with `None`), newest first.
pub async fn select_silences(
    db: impl PgExecutor<'_>,
    since: Option<DateTime<Utc>>,
) -> sqlx::Result<Vec<SilenceRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from silence where $1::timestamptz is null or ends_at > $1
         order by starts_at desc, id"
    ))
    .bind(since)
    .fetch_all(db)
    .await
}

pub async fn select_silence(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<Option<SilenceRow>> {
    sqlx::query_as(&format!("select {COLUMNS} from silence where id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Inserts a silence or replaces the one with its id.
pub async fn upsert_silence(db: impl PgExecutor<'_>, row: &SilenceRow) -> sqlx::Result<()> {
    sqlx::query(
        "insert into silence (id, matchers, starts_at, ends_at, created_by, comment, updated_at)
         values ($1, $2, $3, $4, $5, $6, now())
         on conflict (id) do update set matchers = excluded.matchers,
           starts_at = excluded.starts_at, ends_at = excluded.ends_at,
           created_by = excluded.created_by, comment = excluded.comment, updated_at = now()",
    )
    .bind(&row.id)
    .bind(&row.matchers)
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(&row.created_by)
    .bind(&row.comment)
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a silence now (a pending one too, as Alertmanager does); false when it had ended.
pub async fn expire_silence(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "update silence set ends_at = now(),
           starts_at = least(starts_at, now() - interval '1 millisecond'), updated_at = now()
         where id = $1 and ends_at > now()",
    )
    .bind(id)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}
