//! The audit log's table.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct EventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub address: String,
    pub action: String,
    pub target: String,
    pub outcome: i16,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// An event to write.
pub struct NewEvent<'a> {
    pub actor: &'a str,
    pub address: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: i16,
    pub before: Option<&'a serde_json::Value>,
    pub after: Option<&'a serde_json::Value>,
}

pub async fn insert_event(db: impl PgExecutor<'_>, e: &NewEvent<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into audit_event (actor, address, action, target, outcome, before, after)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.actor)
    .bind(e.address)
    .bind(e.action)
    .bind(e.target)
    .bind(e.outcome)
    .bind(e.before)
    .bind(e.after)
    .execute(db)
    .await?;
    Ok(())
}

/// Events older than `before_id` (all when none), newest first, whose actor is `actor` and
/// whose action or target contains `text` (each when given).
pub async fn select_events(
    db: impl PgExecutor<'_>,
    before_id: Option<i64>,
    actor: Option<&str>,
    text: Option<&str>,
    since: Option<DateTime<Utc>>,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "select id, at, actor, address, action, target, outcome, before, after
         from audit_event
         where ($1::bigint is null or id < $1)
           and ($2::text is null or actor = $2)
           and ($3::text is null or strpos(lower(action || ' ' || target), lower($3)) > 0)
           and ($4::timestamptz is null or at >= $4)
         order by id desc
         limit $5",
    )
    .bind(before_id)
    .bind(actor)
    .bind(text)
    .bind(since)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes events from before `cutoff`, at most `batch` of them; returns how many went.
pub async fn delete_before(
    db: impl PgExecutor<'_>,
    cutoff: DateTime<Utc>,
    batch: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "delete from audit_event where id in (
           select id from audit_event where at < $1 order by at limit $2)",
    )
    .bind(cutoff)
    .bind(batch)
    .execute(db)
    .await?
    .rows_affected())
}
