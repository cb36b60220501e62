//! The portal itself as the database knows it: its instance row (made once, at the first
//! start), and whether and how its database answers, for `/readyz` and the status page.

pub use crate::store::instance::Instance;
use sqlx::PgPool;
use std::time::Duration;

/// Whether the database answers a query within `within`, or why not.
pub async fn database_ready(pool: &PgPool, within: Duration) -> Result<(), String> {
    match tokio::time::timeout(within, crate::store::ping(pool)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {}s", within.as_secs())),
    }
}

/// The database server's version and how many migrations are applied; `None` for what it
/// could not say.
pub async fn database_facts(pool: &PgPool) -> (Option<String>, Option<i64>) {
    let (version, migrations) = tokio::join!(
        crate::store::select_server_version(pool),
        crate::store::count_applied_migrations(pool)
    );
    (version.ok(), migrations.ok())
}
