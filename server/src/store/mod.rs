//! Everything that reads or writes PostgreSQL, one module per table group. Functions take
//! `impl PgExecutor<'_>` so callers pass the pool or a transaction they own.

pub mod accounts;
pub mod alerting;
pub mod audit;
pub mod batch;
pub mod chunks;
pub mod dashboards;
pub mod instance;
pub mod metadata;
pub mod permissions;
pub mod series;
pub mod silences;

use chrono::{DateTime, Utc};
use sqlx::{migrate::Migrator, PgExecutor};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub(crate) const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// The instant `ms` milliseconds after the epoch (the epoch itself when out of range).
pub fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Runs a binary `COPY … FROM STDIN` statement with `data` on `conn`.
pub(crate) async fn copy_binary(
    conn: &mut sqlx::PgConnection,
    statement: &str,
    data: Vec<u8>,
) -> sqlx::Result<()> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

/// The migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Returns the PostgreSQL server version, e.g. `15.18` (without a distribution's suffix).
pub async fn select_server_version(db: impl PgExecutor<'_>) -> sqlx::Result<String> {
    let full: String = sqlx::query_scalar("show server_version")
        .fetch_one(db)
        .await?;
    Ok(full
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Returns how many migrations have been applied.
pub async fn count_applied_migrations(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(db)
        .await
}
