//! Raw samples as written: one `metric_batch` row per write request and two-hour block, holding
//! that request's samples of the block grouped by series. A row per request instead of a row
//! per sample is what lets a single PostgreSQL keep up with Prometheus-sized writes; queries
//! read recent samples from the in-memory head (`super::head`) and older ones from
//! compressed chunks, so nothing ever searches these rows by series.
//!
//! Row format: series count (varint); per series: id (varint), sample count (varint), then per
//! sample the timestamp as a zigzag varint delta from the previous one (the first from 0) and
//! the value's 8 bytes.

use super::{utc, BLOCK_MS};
use crate::store;
use sqlx::PgExecutor;

/// One series' samples in a batch.
pub type SeriesSamples = (i64, Vec<(i64, f64)>);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Encodes series and their samples as one batch row.
pub fn encode<'a>(series: impl IntoIterator<Item = (i64, &'a [(i64, f64)])>) -> Vec<u8> {
    let series: Vec<(i64, &[(i64, f64)])> = series.into_iter().collect();
    let mut out = Vec::with_capacity(8 + series.iter().map(|s| 4 + s.1.len() * 11).sum::<usize>());
    put_varint(&mut out, series.len() as u64);
    for (id, samples) in series {
        put_varint(&mut out, id as u64);
        put_varint(&mut out, samples.len() as u64);
        let mut prev = 0i64;
        for &(t, v) in samples {
            let delta = t.wrapping_sub(prev);
            put_varint(&mut out, ((delta << 1) ^ (delta >> 63)) as u64);
            prev = t;
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    out
}

/// Decodes a batch row; `None` if it is damaged.
pub fn decode(bytes: &[u8]) -> Option<Vec<SeriesSamples>> {
    let mut pos = 0;
    let n = get_varint(bytes, &mut pos)? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let id = get_varint(bytes, &mut pos)? as i64;
        let count = get_varint(bytes, &mut pos)? as usize;
        let mut samples = Vec::with_capacity(count.min(1 << 16));
        let mut prev = 0i64;
        for _ in 0..count {
            let z = get_varint(bytes, &mut pos)?;
            let delta = ((z >> 1) as i64) ^ -((z & 1) as i64);
            prev = prev.wrapping_add(delta);
            let value = bytes.get(pos..pos + 8)?;
            pos += 8;
            samples.push((
                prev,
                f64::from_bits(u64::from_le_bytes(value.try_into().ok()?)),
            ));
        }
        out.push((id, samples));
    }
    (pos == bytes.len()).then_some(out)
}

/// The partition that holds the batches of the block starting at `start` (ms).
pub fn batch_partition_name(start: i64) -> String {
    format!("metric_batch_p{}", utc(start).format("%Y%m%d_%H"))
}

/// The span (ms) of a batch partition named by [`batch_partition_name`].
pub fn batch_partition_span(name: &str) -> Option<(i64, i64)> {
    let stamp = name.strip_prefix("metric_batch_p")?;
    let (date, hour) = stamp.split_once('_')?;
    let start = chrono::NaiveDate::parse_from_str(date, "%Y%m%d")
        .ok()?
        .and_hms_opt(hour.parse().ok()?, 0, 0)?
        .and_utc()
        .timestamp_millis();
    Some((start, start + BLOCK_MS))
}

/// Creates the batch partition of the block starting at `start` if it does not exist.
pub async fn create_partition(db: impl PgExecutor<'_>, start: i64) -> sqlx::Result<()> {
    store::chunks::create_partition(
        db,
        "metric_batch",
        &batch_partition_name(start),
        (start, start + BLOCK_MS),
        store::chunks::RowStorage::Inline,
    )
    .await
}

/// Every batch of the partition `name` (from the catalogue), decoded, in the order they were
/// written; damaged rows are reported and skipped.
pub async fn read_partition(
    db: impl PgExecutor<'_>,
    name: &str,
) -> sqlx::Result<Vec<SeriesSamples>> {
    let rows = store::batch::select_partition_rows(db, name).await?;
    Ok(decode_rows(
        rows.iter().map(|(_, _, data)| data.as_slice()),
        name,
    ))
}

/// Batch rows of partition `partition`, decoded in order; damaged rows are reported and
/// skipped.
pub fn decode_rows<'a>(
    rows: impl IntoIterator<Item = &'a [u8]>,
    partition: &str,
) -> Vec<SeriesSamples> {
    let mut out = Vec::new();
    for row in rows {
        match decode(row) {
            Some(batch) => out.extend(batch),
            None => tracing::error!(partition, "a damaged batch row was skipped"),
        }
    }
    out
}

/// Every batch row of every partition, decoded (for tests and diagnostics).
pub async fn select_all(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<SeriesSamples>> {
    let rows = store::batch::select_all_rows(db).await?;
    Ok(rows.iter().filter_map(|r| decode(r)).flatten().collect())
}

/// How many samples the batch rows hold (for tests and diagnostics).
pub async fn count_samples(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(select_all(db)
        .await?
        .iter()
        .map(|(_, s)| s.len() as u64)
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_refuse_damage() {
        let a = [
            (1_700_000_000_000, 1.5),
            (1_700_000_015_000, f64::NAN),
            (1_699_999_000_000, -2.0),
        ];
        let b = [(5, 0.0)];
        let bytes = encode([(7, &a[..]), (123_456_789, &b[..])]);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].0, 7);
        assert_eq!(back[0].1[0], a[0]);
        assert!(back[0].1[1].1.is_nan());
        assert_eq!(back[0].1[2], a[2]);
        assert_eq!(back[1], (123_456_789, vec![(5, 0.0)]));
        assert!(bytes.len() < 2 * 8 + 3 * 8 + 4 * 11);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    }

    #[test]
    fn partitions_are_named_by_block() {
        let start = 1_767_967_200_000; // 2026-01-09 14:00 UTC
        assert_eq!(batch_partition_name(start), "metric_batch_p20260109_14");
        assert_eq!(
            batch_partition_span("metric_batch_p20260109_14"),
            Some((start, start + BLOCK_MS))
        );
    }
}
