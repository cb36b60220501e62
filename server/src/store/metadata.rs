//! What senders say about their metrics: type, help text and unit, one row per metric name.

use sqlx::PgExecutor;

/// What the sender says a metric is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataEntry {
    pub metric: String,
    pub kind: &'static str,
    pub help: String,
    pub unit: String,
}

/// Stores the latest metadata for each metric named.
pub async fn upsert_metadata(
    db: impl PgExecutor<'_>,
    entries: &[MetadataEntry],
) -> sqlx::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    // A request may describe a metric twice; the last word wins, as in Prometheus.
    let mut latest: std::collections::BTreeMap<&str, &MetadataEntry> =
        std::collections::BTreeMap::new();
    for entry in entries {
        latest.insert(entry.metric.as_str(), entry);
    }
    let names: Vec<&str> = latest.keys().copied().collect();
    let kinds: Vec<&str> = latest.values().map(|e| e.kind).collect();
    let helps: Vec<&str> = latest.values().map(|e| e.help.as_str()).collect();
    let units: Vec<&str> = latest.values().map(|e| e.unit.as_str()).collect();
    sqlx::query(
        "insert into metric_metadata (metric_name, metric_type, help, unit)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])
         on conflict (metric_name) do update
         set metric_type = excluded.metric_type, help = excluded.help, unit = excluded.unit, updated_at = now()
         where (metric_metadata.metric_type, metric_metadata.help, metric_metadata.unit)
               is distinct from (excluded.metric_type, excluded.help, excluded.unit)",
    )
    .bind(&names)
    .bind(&kinds)
    .bind(&helps)
    .bind(&units)
    .execute(db)
    .await?;
    Ok(())
}

/// Returns (metric, type, help, unit) rows, for one metric or all, at most `limit` of them.
pub async fn select_metadata(
    db: impl PgExecutor<'_>,
    metric: Option<&str>,
    limit: Option<i64>,
) -> sqlx::Result<Vec<(String, String, String, String)>> {
    sqlx::query_as(
        "select metric_name, metric_type, help, unit from metric_metadata
         where ($1::text is null or metric_name = $1)
         order by metric_name limit $2",
    )
    .bind(metric)
    .bind(limit)
    .fetch_all(db)
    .await
}
