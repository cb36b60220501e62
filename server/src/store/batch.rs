//! The `metric_batch` table: one row per write request and two-hour block, each an encoded
//! batch of samples (the format is `crate::tsdb::batch`'s); partitioned by block.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

/// Stores batch rows (block start, encoded batch) in one statement; returns once committed.
pub async fn insert_batches(pool: &PgPool, rows: &[(DateTime<Utc>, &[u8])]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let blocks: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0).collect();
    let data: Vec<&[u8]> = rows.iter().map(|r| r.1).collect();
    sqlx::query("insert into metric_batch (block_time, data) select * from unnest($1::timestamptz[], $2::bytea[])")
        .bind(&blocks)
        .bind(&data)
        .execute(pool)
        .await
        .map(|_| ())
}

/// The rows of partition `name` (from the catalogue) in the order they were written.
pub async fn select_partition_rows(
    db: impl PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar(&format!("select data from {name} order by received_at"))
        .fetch_all(db)
        .await
}

/// Every batch row of every partition (for tests and diagnostics).
pub async fn select_all_rows(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("select data from metric_batch order by received_at")
        .fetch_all(db)
        .await
}
