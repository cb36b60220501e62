//! The series dictionary: one row per metric name and label set, keyed by its fingerprint.

use crate::labels::SeriesKey;
use sqlx::PgExecutor;

/// Returns the ids of the series whose fingerprints are given (absent ones are left out).
pub async fn select_series_ids(
    db: impl PgExecutor<'_>,
    fingerprints: &[[u8; 16]],
) -> sqlx::Result<Vec<([u8; 16], i64)>> {
    let hashes: Vec<&[u8]> = fingerprints.iter().map(|f| f.as_slice()).collect();
    let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
        "select labels_hash, series_id from metric_series where labels_hash = any($1)",
    )
    .bind(&hashes)
    .fetch_all(db)
    .await?;
    Ok(fingerprinted(rows))
}

/// Turns (labels_hash, series_id) rows into fingerprint pairs.
fn fingerprinted(rows: Vec<(Vec<u8>, i64)>) -> Vec<([u8; 16], i64)> {
    rows.into_iter()
        .filter_map(|(hash, id)| Some((<[u8; 16]>::try_from(hash.as_slice()).ok()?, id)))
        .collect()
}

/// The result of [`insert_series`].
pub struct CreatedSeries {
    /// Every requested series with its id, whether this call or a concurrent one made it.
    pub ids: Vec<([u8; 16], i64)>,
    /// How many rows this call inserted.
    pub created: u64,
}

/// Inserts the series that do not exist yet and returns the ids of all of them.
pub async fn insert_series(db: &sqlx::PgPool, keys: &[&SeriesKey]) -> sqlx::Result<CreatedSeries> {
    let names: Vec<&str> = keys.iter().map(|k| k.metric.as_str()).collect();
    let labels: Vec<serde_json::Value> = keys.iter().map(|k| k.labels_json()).collect();
    let fingerprints: Vec<[u8; 16]> = keys.iter().map(|k| k.fingerprint()).collect();
    let hashes: Vec<&[u8]> = fingerprints.iter().map(|f| f.as_slice()).collect();
    let inserted: Vec<(Vec<u8>, i64)> = sqlx::query_as(
        "insert into metric_series (metric_name, labels, labels_hash)
         select * from unnest($1::text[], $2::jsonb[], $3::bytea[])
         on conflict (labels_hash) do nothing
         returning labels_hash, series_id",
    )
    .bind(&names)
    .bind(&labels)
    .bind(&hashes)
    .fetch_all(db)
    .await?;
    let created = inserted.len() as u64;
    let ids = if inserted.len() == keys.len() {
        fingerprinted(inserted)
    } else {
        select_series_ids(db, &fingerprints).await?
    };
    Ok(CreatedSeries { ids, created })
}

/// How many series each of `metrics` has (a metric with none is left out).
pub async fn count_series_of_metrics(
    db: impl PgExecutor<'_>,
    metrics: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select metric_name, count(*) from metric_series where metric_name = any($1) group by 1",
    )
    .bind(metrics)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().collect())
}

/// A dictionary row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesRow {
    pub series_id: i64,
    pub metric_name: String,
    #[sqlx(json)]
    pub labels: serde_json::Map<String, serde_json::Value>,
}

impl SeriesRow {
    /// Every label of the series, `__name__` included, sorted by name.
    pub fn into_labels(self) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = self
            .labels
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
            .collect();
        labels.push(("__name__".into(), self.metric_name));
        labels.sort();
        labels
    }
}

/// What an index can narrow a series search by.
#[derive(Debug, Clone, Default)]
pub struct SeriesFilter {
    pub metric: Option<String>,
    /// Labels the series must have with exactly these values.
    pub labels: serde_json::Map<String, serde_json::Value>,
    /// The series must have samples on a day from `start` to `end` (UTC).
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    pub end: Option<chrono::DateTime<chrono::Utc>>,
}

/// Returns the series that pass `filter` (a superset of what the full matchers select).
pub async fn select_series_candidates(
    db: impl PgExecutor<'_>,
    filter: &SeriesFilter,
) -> sqlx::Result<Vec<SeriesRow>> {
    sqlx::query_as(
        "select series_id, metric_name, labels from metric_series
         where ($1::text is null or metric_name = $1)
           and labels @> $2::jsonb
           and ($3::date is null or last_day >= $3)
           and ($4::date is null or first_day <= $4)
         order by series_id",
    )
    .bind(&filter.metric)
    .bind(serde_json::Value::Object(filter.labels.clone()))
    .bind(filter.start.map(|t| t.date_naive()))
    .bind(filter.end.map(|t| t.date_naive()))
    .fetch_all(db)
    .await
}

/// Returns every metric name, sorted.
pub async fn select_metric_names(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select distinct metric_name from metric_series order by 1")
        .fetch_all(db)
        .await
}

/// Returns every label name in use (without `__name__`), sorted.
pub async fn select_label_names(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select distinct jsonb_object_keys(labels) from metric_series order by 1")
        .fetch_all(db)
        .await
}

/// Returns every value label `name` takes, sorted.
pub async fn select_label_values(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select distinct labels ->> $1 from metric_series where labels ? $1 order by 1",
    )
    .bind(name)
    .fetch_all(db)
    .await
}

/// Widens each series' span of days with samples: (series id, first day, last day) of a write.
pub async fn extend_series_days(
    db: impl PgExecutor<'_>,
    spans: &[(i64, chrono::NaiveDate, chrono::NaiveDate)],
) -> sqlx::Result<()> {
    if spans.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = spans.iter().map(|s| s.0).collect();
    let firsts: Vec<chrono::NaiveDate> = spans.iter().map(|s| s.1).collect();
    let lasts: Vec<chrono::NaiveDate> = spans.iter().map(|s| s.2).collect();
    sqlx::query(
        "update metric_series s
         set first_day = least(s.first_day, u.first_day), last_day = greatest(s.last_day, u.last_day)
         from unnest($1::bigint[], $2::date[], $3::date[]) as u(series_id, first_day, last_day)
         where s.series_id = u.series_id and (u.first_day < s.first_day or u.last_day > s.last_day)",
    )
    .bind(&ids)
    .bind(&firsts)
    .bind(&lasts)
    .execute(db)
    .await?;
    Ok(())
}
