//! The installation's identity: one row made on first start and kept for as long as the
//! database is, so people and scripts can tell a restart from a fresh install.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Instance {
    pub portal_instance_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Returns the installation's row, creating it on the first call against a new database.
pub async fn upsert_instance(db: impl PgExecutor<'_>) -> sqlx::Result<Instance> {
    sqlx::query_as(
        "with inserted as (
             insert into portal_instance (portal_instance_id) values (gen_random_uuid())
             on conflict (singleton) do nothing
             returning portal_instance_id, created_at)
         select portal_instance_id, created_at from inserted
         union all
         select portal_instance_id, created_at from portal_instance
         limit 1",
    )
    .fetch_one(db)
    .await
}
