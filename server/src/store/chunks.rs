//! The `metric_chunk` table: compressed samples by series and block, in day partitions; and the
//! partition catalogue queries every partitioned table shares.

use super::utc;
use sqlx::{PgConnection, PgExecutor};
use std::collections::HashMap;

/// The span of one chunk partition.
pub const DAY_MS: i64 = 86_400_000;

/// One compressed run of one series' samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub series_id: i64,
    pub resolution_ms: i32,
    /// The start of the block (ms); the partition key.
    pub start: i64,
    /// The last sample's time (ms).
    pub end: i64,
    pub count: i32,
    pub data: Vec<u8>,
}

/// The partition of `metric_chunk` for the day starting at `day` (ms).
pub fn chunk_partition_name(day: i64) -> String {
    format!("metric_chunk_p{}", utc(day).format("%Y%m%d"))
}

/// The span (ms) of a chunk partition named by [`chunk_partition_name`].
pub fn chunk_partition_span(name: &str) -> Option<(i64, i64)> {
    let date = name.strip_prefix("metric_chunk_p")?;
    let start = chrono::NaiveDate::parse_from_str(date, "%Y%m%d")
        .ok()?
        .and_hms_opt(0, 0, 0)?
        .and_utc()
        .timestamp_millis();
    Some((start, start + DAY_MS))
}

/// Creates the chunk partition of the day starting at `day` (ms) if it does not exist.
pub async fn create_chunk_partition(db: impl PgExecutor<'_>, day: i64) -> sqlx::Result<()> {
    create_partition(
        db,
        "metric_chunk",
        &chunk_partition_name(day),
        (day, day + DAY_MS),
        RowStorage::Packed,
    )
    .await
}

/// How a partition stores its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowStorage {
    /// PostgreSQL's default: a row past 2 kB has its large values compressed and moved to the
    /// TOAST table, which packs them tightly (chunks, read long after they are written).
    Packed,
    /// Rows up to a page stay in the row as they are (raw batches, written once and read back
    /// within hours): compressing each batch was a fifth of PostgreSQL's work under ingest.
    Inline,
}

/// Creates partition `name` of `parent` for `from..to` (ms) if it does not exist; safe to race
/// with other creators.
pub async fn create_partition(
    db: impl PgExecutor<'_>,
    parent: &str,
    name: &str,
    (from, to): (i64, i64),
    storage: RowStorage,
) -> sqlx::Result<()> {
    let with = match storage {
        RowStorage::Packed => "",
        RowStorage::Inline => " with (toast_tuple_target = 8160)",
    };
    let sql = format!(
        "create table if not exists {name} partition of {parent} for values from ('{}') to ('{}'){with}",
        utc(from).to_rfc3339(),
        utc(to).to_rfc3339()
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

/// The names of the partitions of `parent`.
pub async fn select_partitions(db: impl PgExecutor<'_>, parent: &str) -> sqlx::Result<Vec<String>> {
    Ok(select_partition_oids(db, parent)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// The partitions of `parent`: name and table OID, by name.
pub async fn select_partition_oids(
    db: impl PgExecutor<'_>,
    parent: &str,
) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "select c.relname::text, c.oid::int8 from pg_inherits i
         join pg_class c on c.oid = i.inhrelid
         join pg_class p on p.oid = i.inhparent
         where p.relname = $1 order by 1",
    )
    .bind(parent)
    .fetch_all(db)
    .await
}

/// Drops a partition by name (names come from [`select_partitions`]).
pub async fn drop_partition(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<()> {
    sqlx::query(&format!("drop table if exists {name}"))
        .execute(db)
        .await
        .map(|_| ())
}

/// The chunks of `resolution_ms` whose blocks start in `from..to` (ms), by (series, start).
pub async fn select_chunks(
    db: impl PgExecutor<'_>,
    resolution_ms: i32,
    from: i64,
    to: i64,
) -> sqlx::Result<HashMap<(i64, i64), Vec<u8>>> {
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "select series_id, (extract(epoch from start_time) * 1000)::bigint, data from metric_chunk
         where resolution_ms = $1 and start_time >= $2 and start_time < $3",
    )
    .bind(resolution_ms)
    .bind(utc(from))
    .bind(utc(to))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(s, t, d)| ((s, t), d)).collect())
}

/// Deletes the chunks of `resolution_ms` of the given series whose blocks start in `from..to`.
pub async fn delete_chunks(
    db: impl PgExecutor<'_>,
    resolution_ms: i32,
    series_ids: &[i64],
    from: i64,
    to: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "delete from metric_chunk
         where resolution_ms = $1 and series_id = any($2) and start_time >= $3 and start_time < $4",
    )
    .bind(resolution_ms)
    .bind(series_ids)
    .bind(utc(from))
    .bind(utc(to))
    .execute(db)
    .await
    .map(|_| ())
}

/// Encodes chunks in PostgreSQL's binary COPY format.
pub fn encode_copy_binary(chunks: &[Chunk]) -> Vec<u8> {
    let mut rows =
        super::copy::BinaryRows::with_capacity(chunks.iter().map(|c| 62 + c.data.len()).sum());
    for c in chunks {
        rows.row(6)
            .i64(c.series_id)
            .i32(c.resolution_ms)
            .timestamp_us(c.start * 1000)
            .timestamp_us(c.end * 1000)
            .i32(c.count)
            .bytes(&c.data);
    }
    rows.finish()
}

/// Writes chunks in one COPY on `conn` (a transaction the caller commits).
pub async fn copy_chunks(conn: &mut PgConnection, chunks: &[Chunk]) -> sqlx::Result<()> {
    if chunks.is_empty() {
        return Ok(());
    }
    super::copy_binary(
        conn,
        "copy metric_chunk (series_id, resolution_ms, start_time, end_time, sample_count, data) from stdin with (format binary)",
        encode_copy_binary(chunks),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_encoding_has_header_rows_and_trailer() {
        let chunk = Chunk {
            series_id: 7,
            resolution_ms: 0,
            start: 946_684_800_000,
            end: 946_684_800_000,
            count: 1,
            data: vec![1, 2, 3],
        };
        let buf = encode_copy_binary(&[chunk]);
        assert_eq!(&buf[..11], b"PGCOPY\n\xff\r\n\0");
        // 6 fields: count, then (length, bytes) each; 2000-01-01 is PostgreSQL's zero time.
        assert_eq!(
            buf.len(),
            19 + 2 + (4 + 8) + (4 + 4) + 2 * (4 + 8) + (4 + 4) + (4 + 3) + 2
        );
        assert_eq!(
            &buf[19 + 2 + 12 + 8 + 4..19 + 2 + 12 + 8 + 12],
            &0i64.to_be_bytes()
        );
        assert_eq!(&buf[buf.len() - 2..], &(-1i16).to_be_bytes());
    }

    #[test]
    fn chunk_partitions_are_named_by_day() {
        let day = 1_767_916_800_000; // 2026-01-09
        assert_eq!(chunk_partition_name(day), "metric_chunk_p20260109");
        assert_eq!(
            chunk_partition_span("metric_chunk_p20260109"),
            Some((day, day + DAY_MS))
        );
        assert_eq!(chunk_partition_span("metric_chunk"), None);
    }
}
