//! The `metric_batch` table: one row per write request and two-hour block, each an encoded
//! batch of samples (the format is `crate::tsdb::batch`'s); partitioned by block. Each row has
//! an id and the id of the transaction that wrote it (`xact`), so that replicas can find the
//! rows committed since they last looked.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

/// A batch row as stored: the partition's table OID, its id and transaction id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub block_time: DateTime<Utc>,
    pub oid: i64,
    pub id: i64,
    pub xact: i64,
}

/// Stores batch rows (block start, encoded batch) in one statement; returns once committed,
/// with where each row went.
pub async fn insert_batches(
    pool: &PgPool,
    rows: &[(DateTime<Utc>, &[u8])],
) -> sqlx::Result<Vec<Stored>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let blocks: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0).collect();
    let data: Vec<&[u8]> = rows.iter().map(|r| r.1).collect();
    let stored: Vec<(DateTime<Utc>, i64, i64, i64)> = sqlx::query_as(
        "insert into metric_batch (block_time, data)
         select * from unnest($1::timestamptz[], $2::bytea[])
         returning block_time, tableoid::int8, id, xact",
    )
    .bind(&blocks)
    .bind(&data)
    .fetch_all(pool)
    .await?;
    Ok(stored
        .into_iter()
        .map(|(block_time, oid, id, xact)| Stored {
            block_time,
            oid,
            id,
            xact,
        })
        .collect())
}

/// The raw partitions: name and table OID.
pub async fn select_partitions(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, i64)>> {
    super::chunks::select_partition_oids(db, "metric_batch").await
}

/// Which transactions had finished when the statement ran: every one below `xmax` except the
/// ones in `running`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub xmax: i64,
    pub running: Vec<i64>,
}

impl Snapshot {
    /// Whether a row of transaction `xact` may not have been visible to this snapshot.
    pub fn may_miss(&self, xact: i64) -> bool {
        xact >= self.xmax || self.running.contains(&xact)
    }
}

/// The current snapshot.
pub async fn snapshot(db: impl PgExecutor<'_>) -> sqlx::Result<Snapshot> {
    let (xmax, running): (i64, Vec<i64>) = sqlx::query_as(
        "select pg_snapshot_xmax(s)::text::int8,
                array(select x::text::int8 from pg_snapshot_xip(s) x)
         from pg_current_snapshot() s",
    )
    .fetch_one(db)
    .await?;
    Ok(Snapshot { xmax, running })
}

/// A batch row read back: id, transaction id and data.
pub type Row = (i64, i64, Vec<u8>);

/// The rows of partition `name` (from the catalogue) in the order they were written.
pub async fn select_partition_rows(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(&format!("select id, xact, data from {name} order by id"))
        .fetch_all(db)
        .await
}

/// The rows of partition `name` that `since` may not have seen, except the ids in `skip`, in
/// the order they were written. Takes the partition's share lock without waiting: a partition
/// being compacted answers `55P03` at once instead of holding the caller up.
pub async fn select_rows_since(
    tx: &mut sqlx::PgConnection,
    name: &str,
    since: &Snapshot,
    skip: &[i64],
) -> sqlx::Result<Vec<Row>> {
    sqlx::query(&format!("lock table {name} in access share mode nowait"))
        .execute(&mut *tx)
        .await?;
    sqlx::query_as(&format!(
        "select id, xact, data from {name}
         where (xact >= $1 or xact = any($2)) and id <> all($3)
         order by id"
    ))
    .bind(since.xmax)
    .bind(&since.running)
    .bind(skip)
    .fetch_all(&mut *tx)
    .await
}

/// Every batch row of every partition (for tests and diagnostics).
pub async fn select_all_rows(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Vec<u8>>> {
    sqlx::query_scalar("select data from metric_batch order by id")
        .fetch_all(db)
        .await
}
