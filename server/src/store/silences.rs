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
    pub schedule: Option<Json>,
    pub notify: String,
}

const COLUMNS: &str =
    "id, matchers, starts_at, ends_at, created_by, comment, updated_at, schedule, notify";

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
        "insert into silence (id, matchers, starts_at, ends_at, created_by, comment, updated_at,
           schedule, notify)
         values ($1, $2, $3, $4, $5, $6, now(), $7, $8)
         on conflict (id) do update set matchers = excluded.matchers,
           starts_at = excluded.starts_at, ends_at = excluded.ends_at,
           created_by = excluded.created_by, comment = excluded.comment, updated_at = now(),
           schedule = excluded.schedule, notify = excluded.notify",
    )
    .bind(&row.id)
    .bind(&row.matchers)
    .bind(row.starts_at)
    .bind(row.ends_at)
    .bind(&row.created_by)
    .bind(&row.comment)
    .bind(&row.schedule)
    .bind(&row.notify)
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

/// Records that a window's notice of `kind` is being told; false when it already was.
pub async fn claim_notice(
    db: impl PgExecutor<'_>,
    silence_id: &str,
    window_start: DateTime<Utc>,
    kind: &str,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "insert into silence_notice (silence_id, window_start, kind) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(silence_id)
    .bind(window_start)
    .bind(kind)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct InhibitRuleRow {
    pub id: i64,
    pub source_matchers: Json,
    pub target_matchers: Json,
    pub equal: Json,
    pub comment: String,
}

pub async fn select_inhibit_rules(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<InhibitRuleRow>> {
    sqlx::query_as(
        "select id, source_matchers, target_matchers, equal, comment from inhibit_rule order by id",
    )
    .fetch_all(db)
    .await
}

/// Replaces every inhibition rule (they are edited as one list, like Alertmanager's).
pub async fn replace_inhibit_rules(
    db: &mut sqlx::PgConnection,
    rules: &[InhibitRuleRow],
) -> sqlx::Result<()> {
    sqlx::query("delete from inhibit_rule")
        .execute(&mut *db)
        .await?;
    for r in rules {
        sqlx::query(
            "insert into inhibit_rule (source_matchers, target_matchers, equal, comment)
             values ($1, $2, $3, $4)",
        )
        .bind(&r.source_matchers)
        .bind(&r.target_matchers)
        .bind(&r.equal)
        .bind(&r.comment)
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct ReceivedAlertRow {
    pub fingerprint: i64,
    pub labels: Json,
    pub annotations: Json,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub generator_url: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn select_received_alerts(
    db: impl PgExecutor<'_>,
) -> sqlx::Result<Vec<ReceivedAlertRow>> {
    sqlx::query_as(
        "select fingerprint, labels, annotations, starts_at, ends_at, generator_url, updated_at
         from received_alert order by starts_at, fingerprint",
    )
    .fetch_all(db)
    .await
}

/// Stores alerts as sent, in one statement, merging with the ones known (Alertmanager's
/// merge: the earlier start is kept unless the known one had ended, the newer end wins). The
/// fingerprints of `alerts` must differ.
pub async fn upsert_received_alerts(
    db: impl PgExecutor<'_>,
    alerts: &[ReceivedAlertRow],
) -> sqlx::Result<()> {
    let column = |f: fn(&ReceivedAlertRow) -> Json| alerts.iter().map(f).collect::<Vec<Json>>();
    sqlx::query(
        "insert into received_alert
           (fingerprint, labels, annotations, starts_at, ends_at, generator_url, updated_at)
         select fingerprint, labels, annotations, starts_at, ends_at, generator_url, now()
         from unnest($1::bigint[], $2::jsonb[], $3::jsonb[], $4::timestamptz[],
                     $5::timestamptz[], $6::text[])
           as a (fingerprint, labels, annotations, starts_at, ends_at, generator_url)
         on conflict (fingerprint) do update set labels = excluded.labels,
           annotations = excluded.annotations,
           starts_at = case when received_alert.ends_at < excluded.starts_at
             then excluded.starts_at
             else least(received_alert.starts_at, excluded.starts_at) end,
           ends_at = excluded.ends_at, generator_url = excluded.generator_url,
           updated_at = now()",
    )
    .bind(alerts.iter().map(|a| a.fingerprint).collect::<Vec<i64>>())
    .bind(column(|a| a.labels.clone()))
    .bind(column(|a| a.annotations.clone()))
    .bind(alerts.iter().map(|a| a.starts_at).collect::<Vec<_>>())
    .bind(alerts.iter().map(|a| a.ends_at).collect::<Vec<_>>())
    .bind(
        alerts
            .iter()
            .map(|a| a.generator_url.clone())
            .collect::<Vec<_>>(),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets alerts resolved before `before`.
pub async fn delete_received_alerts(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query("delete from received_alert where ends_at < $1")
        .bind(before)
        .execute(db)
        .await?
        .rows_affected())
}

/// How many received alerts are held, and how many of `fingerprints` are among them.
pub async fn count_received_alerts(
    db: impl PgExecutor<'_>,
    fingerprints: &[i64],
) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "select count(*), count(*) filter (where fingerprint = any($1)) from received_alert",
    )
    .bind(fingerprints)
    .fetch_one(db)
    .await
}
