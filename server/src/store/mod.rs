//! Everything that reads or writes PostgreSQL, one module per table group. Functions take
//! `impl PgExecutor<'_>` so callers pass the pool or a transaction they own.

pub mod batch;
pub mod chunks;
pub mod codec;
pub mod dashboards;
pub mod instance;
pub mod metadata;
pub mod samples;
pub mod series;

use sqlx::{migrate::Migrator, PgExecutor};

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
