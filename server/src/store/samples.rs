//! Raw samples: the durable write path, a table partitioned by day so that retention drops
//! whole partitions, filled by binary COPY.

use chrono::NaiveDate;
use sqlx::{postgres::PgPoolCopyExt, PgExecutor, PgPool};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// The partition that holds the samples of `day` (UTC).
pub fn day_partition_name(day: NaiveDate) -> String {
    format!("metric_sample_p{}", day.format("%Y%m%d"))
}

/// Creates the partition for `day` if it does not exist; safe to race with other writers.
pub async fn create_day_partition(db: impl PgExecutor<'_>, day: NaiveDate) -> sqlx::Result<()> {
    let next = day.succ_opt().unwrap_or(day);
    let sql = format!(
        "create table if not exists {} partition of metric_sample for values from ('{day}') to ('{next}')",
        day_partition_name(day)
    );
    match sqlx::query(&sql).execute(db).await {
        Ok(_) => Ok(()),
        // A concurrent creator won the race: the partition exists, which is all we need.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P07" | "23505")) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Encodes rows in PostgreSQL's binary COPY format: (bigint, timestamptz, double precision).
pub fn encode_copy_binary(rows: &[(i64, i64, f64)]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(19 + rows.len() * 38 + 2);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes()); // flags
    buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for &(series_id, ts_ms, value) in rows {
        buf.extend_from_slice(&3i16.to_be_bytes());
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&series_id.to_be_bytes());
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&(ts_ms * 1000 - PG_EPOCH_OFFSET_US).to_be_bytes());
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&value.to_bits().to_be_bytes());
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    buf
}

/// Writes (series id, milliseconds since epoch, value) rows in one COPY; returns once committed.
pub async fn copy_samples(pool: &PgPool, rows: &[(i64, i64, f64)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = pool
        .copy_in_raw(
            "copy metric_sample (series_id, sample_time, value) from stdin with (format binary)",
        )
        .await?;
    copy.send(encode_copy_binary(rows)).await?;
    copy.finish().await?;
    Ok(())
}

/// Returns the samples of the given series from `from` to `to` (milliseconds, inclusive), in time
/// order per series; when a sender wrote one timestamp twice (a retry), the later row wins.
pub async fn select_samples(
    pool: &PgPool,
    series_ids: &[i64],
    from: i64,
    to: i64,
) -> sqlx::Result<std::collections::HashMap<i64, Vec<(i64, f64)>>> {
    let mut out: std::collections::HashMap<i64, Vec<(i64, f64)>> = std::collections::HashMap::new();
    if series_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i64, i64, f64)> = sqlx::query_as(
        "select series_id, (extract(epoch from sample_time) * 1000)::bigint, value
         from metric_sample
         where series_id = any($1) and sample_time between to_timestamp($2 / 1000.0) and to_timestamp($3 / 1000.0)
         order by series_id, sample_time",
    )
    .bind(series_ids)
    .bind(from as f64)
    .bind(to as f64)
    .fetch_all(pool)
    .await?;
    for (id, t, v) in rows {
        let points = out.entry(id).or_default();
        match points.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            _ => points.push((t, v)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_by_day() {
        assert_eq!(
            day_partition_name(NaiveDate::from_ymd_opt(2026, 1, 9).unwrap()),
            "metric_sample_p20260109"
        );
    }

    #[test]
    fn the_copy_encoding_has_header_rows_and_trailer() {
        let buf = encode_copy_binary(&[(7, 946_684_800_000, 1.5)]);
        assert_eq!(&buf[..11], b"PGCOPY\n\xff\r\n\0");
        assert_eq!(buf.len(), 19 + 38 + 2);
        // The timestamp 2000-01-01T00:00:00Z is PostgreSQL's zero.
        assert_eq!(
            &buf[19 + 2 + 4 + 8 + 4..19 + 2 + 4 + 8 + 4 + 8],
            &0i64.to_be_bytes()
        );
        assert_eq!(&buf[buf.len() - 2..], &(-1i16).to_be_bytes());
    }
}
