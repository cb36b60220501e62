//! Samples: raw ones as they arrive, in partitions of two hours filled by binary COPY, and the
//! compressed chunks the compactor makes of complete blocks (see `crate::compact`). Reads
//! merge both, so a block reads the same before, during and after its compaction.

use super::codec;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use std::collections::HashMap;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub(crate) const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

/// The span of one raw partition and of one full-resolution chunk.
pub const BLOCK_MS: i64 = 2 * 3_600_000;
/// The span of one downsampled chunk.
pub const DAY_MS: i64 = 86_400_000;
/// The bucket of the downsampled stream.
pub const ROLLUP_MS: i64 = 300_000;

/// The start of the block holding `ts` (milliseconds).
pub fn block_start(ts: i64) -> i64 {
    ts.div_euclid(BLOCK_MS) * BLOCK_MS
}

/// The instant `ms` milliseconds after the epoch (the epoch itself when out of range).
pub(crate) fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The raw partition that holds the samples of the block starting at `start` (ms).
pub fn block_partition_name(start: i64) -> String {
    format!("metric_sample_p{}", utc(start).format("%Y%m%d_%H"))
}

/// The span (ms) of a raw partition named by [`block_partition_name`] (or by day, as earlier
/// versions named them).
pub fn raw_partition_span(name: &str) -> Option<(i64, i64)> {
    let stamp = name.strip_prefix("metric_sample_p")?;
    let parse = |date: &str, hour: u32| {
        chrono::NaiveDate::parse_from_str(date, "%Y%m%d")
            .ok()?
            .and_hms_opt(hour, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
    };
    match stamp.split_once('_') {
        Some((date, hour)) => {
            let start = parse(date, hour.parse().ok()?)?;
            Some((start, start + BLOCK_MS))
        }
        None => parse(stamp, 0).map(|start| (start, start + DAY_MS)),
    }
}

/// Creates the partition for the block starting at `start` if it does not exist; safe to race
/// with other writers.
pub async fn create_block_partition(db: impl PgExecutor<'_>, start: i64) -> sqlx::Result<()> {
    let sql = format!(
        "create table if not exists {} partition of metric_sample for values from ('{}') to ('{}')",
        block_partition_name(start),
        utc(start).to_rfc3339(),
        utc(start + BLOCK_MS).to_rfc3339()
    );
    match sqlx::query(&sql).execute(db).await {
        Ok(_) => Ok(()),
        // A concurrent creator won the race (42P07, 23505), or a day partition of an earlier
        // version covers the block (42P17): either way the rows have a home.
        Err(sqlx::Error::Database(e))
            if matches!(e.code().as_deref(), Some("42P07" | "23505" | "42P17")) =>
        {
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
    let mut conn = pool.acquire().await?;
    copy_binary(
        &mut conn,
        "copy metric_sample (series_id, sample_time, value) from stdin with (format binary)",
        encode_copy_binary(rows),
    )
    .await
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

/// How finely a read needs the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Every sample.
    Raw,
    /// Compacted days may come from the five-minute downsampled stream.
    Downsampled,
}

/// Returns the samples of the given series from `from` to `to` (milliseconds, inclusive), in time
/// order per series; when a sender wrote one timestamp twice (a retry), the later row wins.
/// Raw rows are read before chunks: a block compacted in between is then read twice (and
/// merged), never missed.
pub async fn select_samples(
    pool: &PgPool,
    series_ids: &[i64],
    from: i64,
    to: i64,
    resolution: Resolution,
) -> sqlx::Result<HashMap<i64, Vec<(i64, f64)>>> {
    let mut out: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
    if series_ids.is_empty() || to < from {
        return Ok(out);
    }
    let rows: Vec<(i64, i64, f64)> = sqlx::query_as(
        "select series_id, (extract(epoch from sample_time) * 1000)::bigint, value
         from metric_sample
         where series_id = any($1) and sample_time between $2 and $3
         order by series_id, sample_time",
    )
    .bind(series_ids)
    .bind(utc(from))
    .bind(utc(to))
    .fetch_all(pool)
    .await?;
    for (id, t, v) in rows {
        let points = out.entry(id).or_default();
        match points.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            _ => points.push((t, v)),
        }
    }
    let (resolution_ms, span) = match resolution {
        Resolution::Raw => (0, BLOCK_MS),
        Resolution::Downsampled => (ROLLUP_MS as i32, DAY_MS),
    };
    let chunks: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "select series_id, data from metric_chunk
         where series_id = any($1) and resolution_ms = $2
           and start_time > $3 and start_time <= $4 and end_time >= $5",
    )
    .bind(series_ids)
    .bind(resolution_ms)
    .bind(utc(from - span))
    .bind(utc(to))
    .bind(utc(from))
    .fetch_all(pool)
    .await?;
    let mut touched = std::collections::HashSet::new();
    for (id, data) in chunks {
        let Some(samples) = codec::decode(&data) else {
            tracing::error!(series_id = id, "a damaged chunk was skipped");
            continue;
        };
        let points = out.entry(id).or_default();
        points.extend(samples.into_iter().filter(|p| p.0 >= from && p.0 <= to));
        touched.insert(id);
    }
    for id in touched {
        if let Some(points) = out.get_mut(&id) {
            // The sort is stable: raw rows, read first, stay before chunk samples of the same
            // time, and the dedup keeps them.
            points.sort_by_key(|p| p.0);
            points.dedup_by_key(|p| p.0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_by_block_and_read_back() {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 9)
            .unwrap()
            .and_hms_opt(14, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(block_start(start + 5_000), start);
        assert_eq!(block_partition_name(start), "metric_sample_p20260109_14");
        assert_eq!(
            raw_partition_span("metric_sample_p20260109_14"),
            Some((start, start + BLOCK_MS))
        );
        let day = start - 14 * 3_600_000;
        assert_eq!(
            raw_partition_span("metric_sample_p20260109"),
            Some((day, day + DAY_MS))
        );
        assert_eq!(raw_partition_span("metric_sample"), None);
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
