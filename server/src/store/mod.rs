//! Everything that reads or writes PostgreSQL, one module per table group. Functions take
//! `impl PgExecutor<'_>` so callers pass the pool or a transaction they own.

pub mod accounts;
pub mod alerting;
pub mod audit;
pub mod batch;
pub mod chunks;
pub mod copy;
pub mod dashboards;
pub mod instance;
pub mod logs;
pub mod metadata;
pub mod permissions;
pub mod series;
pub mod silences;

use chrono::{DateTime, Utc};
use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    Executor, PgConnection, PgExecutor, PgPool, Row,
};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub(crate) const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// The instant `ms` milliseconds after the epoch (the epoch itself when out of range).
pub fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Why the database cannot do the work now, when that is what `error` says: it cannot be
/// reached, is starting or stopping, is out of disk, memory or connections, or is a read-only
/// standby. Such work can succeed later: callers answer 503 with Retry-After, not 500.
pub fn unavailable(error: &sqlx::Error) -> Option<&'static str> {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            Some("the database does not answer; try again shortly")
        }
        sqlx::Error::PoolTimedOut => Some("the database is busy; try again shortly"),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Some("the database connection pool is closed; the portal is stopping")
        }
        sqlx::Error::Database(db) => {
            let code = db.code();
            match code.as_deref()? {
                "53100" => Some(
                    "the database's disk is full: writes are refused until space is freed; reads go on",
                ),
                "53200" => Some("the database is out of memory; try again shortly"),
                "53300" | "53400" => Some("the database has no free connection; try again shortly"),
                "57P01" | "57P02" | "57P03" => {
                    Some("the database is restarting; try again shortly")
                }
                "25006" => Some("the database is read-only now (a standby); try again shortly"),
                c if c.starts_with("08") => Some("the database connection failed; try again shortly"),
                _ => None,
            }
        }
        _ => None,
    }
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

/// The portal's pool: at most `max_connections`, a connection waited for 5 s at most, and no
/// connection handed back to the pool inside a transaction. A request abandoned while its
/// `BEGIN` was under way leaves the session in a transaction the driver does not know of
/// (sqlx 0.8; transact-rs/sqlx#4393): every later borrower would run in it, hold its locks,
/// and after its first error fail every statement until the connection expires. Such a
/// connection is closed instead (one round trip a release).
pub async fn connect(options: PgConnectOptions, max_connections: u32) -> sqlx::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .after_release(|conn, _| Box::pin(async move { Ok(outside_a_transaction(conn).await) }))
        .connect_with(options)
        .await
}

/// Whether the session is outside any transaction: a simple-protocol statement of its own
/// starts its transaction (the extended protocol starts it a message earlier), and a session
/// in an aborted one answers with an error.
async fn outside_a_transaction(conn: &mut PgConnection) -> bool {
    // A statement without arguments goes by the simple protocol.
    let row = conn
        .fetch_one("select statement_timestamp() = transaction_timestamp()")
        .await;
    row.and_then(|row| row.try_get::<bool, _>(0))
        .unwrap_or(false)
}

/// Returns the PostgreSQL server version, e.g. `15.18` (without a distribution's suffix).
/// Whether the database answers at all.
pub async fn ping(db: impl PgExecutor<'_>) -> sqlx::Result<()> {
    sqlx::query("select 1").execute(db).await.map(|_| ())
}

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
