//! The compactor: turns complete two-hour blocks of raw samples into compressed chunks (every
//! sample, ~1–2 bytes each) plus a five-minute downsampled stream for long-range queries, then
//! drops the block's raw partition; and applies retention by dropping whole partitions. A block
//! is compacted in one transaction that locks its partition first, so a sample is always either
//! raw or compacted, never lost: a write racing the compaction waits, finds the partition gone
//! (or deadlocks with its drop and is rolled back), makes it again and writes once more, and the
//! next pass merges that late sample into the block's chunks. A pass that loses such a deadlock
//! is rolled back whole and runs again at the next interval.

use super::{batch, block_start, codec, Storage, DAY_MS, ROLLUP_MS};
use crate::store::chunks::{self, Chunk};
use sqlx::PgPool;
use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};
use tracing::info;

/// When and what the compactor does.
#[derive(Clone, Debug)]
pub struct CompactSettings {
    /// Data older than this is dropped.
    pub retention: Duration,
    /// A block is compacted this long after it ends (room for late samples).
    pub grace: Duration,
    /// How often the compactor looks for work.
    pub interval: Duration,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub blocks_compacted: u64,
    pub samples_compacted: u64,
    pub chunks_written: u64,
    pub partitions_dropped: u64,
}

/// One scheduled pass at the current time, logged when it did something.
pub async fn run_now(
    pool: &PgPool,
    storage: &Storage,
    settings: &CompactSettings,
) -> sqlx::Result<Report> {
    let now = chrono::Utc::now().timestamp_millis();
    let r = run_once(pool, Some(storage), now, settings).await?;
    if r != Report::default() {
        info!(
            blocks = r.blocks_compacted,
            samples = r.samples_compacted,
            chunks = r.chunks_written,
            dropped = r.partitions_dropped,
            "compaction pass"
        );
    }
    Ok(r)
}

/// One pass at time `now` (ms): retention first, then every complete block.
pub async fn run_once(
    pool: &PgPool,
    storage: Option<&Storage>,
    now: i64,
    settings: &CompactSettings,
) -> sqlx::Result<Report> {
    let mut report = Report::default();
    let horizon = now - settings.retention.as_millis() as i64;
    let ripe = now - settings.grace.as_millis() as i64;
    for name in chunks::select_partitions(pool, "metric_chunk").await? {
        if chunks::chunk_partition_span(&name).is_some_and(|(_, end)| end <= horizon) {
            chunks::drop_partition(pool, &name).await?;
            report.partitions_dropped += 1;
        }
    }
    let mut raw: Vec<(String, i64, i64, i64)> = Vec::new();
    for (name, oid) in crate::store::batch::select_partitions(pool).await? {
        if let Some((start, end)) = batch::batch_partition_span(&name) {
            raw.push((name, oid, start, end));
        }
    }
    for (name, oid, start, end) in raw {
        if end <= horizon {
            chunks::drop_partition(pool, &name).await?;
            report.partitions_dropped += 1;
        } else if end <= ripe {
            let compacted = compact_partition(pool, &name, start, end).await?;
            report.blocks_compacted += 1;
            report.samples_compacted += compacted.samples;
            report.chunks_written += compacted.chunks;
            report.partitions_dropped += 1;
        } else {
            continue;
        }
        if let Some(storage) = storage {
            storage.dropped_partition(start, oid).await;
        }
    }
    Ok(report)
}

/// What compacting one partition did.
struct Compacted {
    samples: u64,
    chunks: u64,
}

/// Compacts the raw partition `name` covering `start..end` (ms) and drops it.
async fn compact_partition(
    pool: &PgPool,
    name: &str,
    start: i64,
    end: i64,
) -> sqlx::Result<Compacted> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("lock table {name} in access exclusive mode"))
        .execute(&mut *tx)
        .await?;
    let first_day = start.div_euclid(DAY_MS) * DAY_MS;
    // What earlier passes made of these blocks and days (late samples merge into it).
    let existing = chunks::select_chunks(&mut *tx, 0, start, end).await?;
    let existing_rollups =
        chunks::select_chunks(&mut *tx, ROLLUP_MS as i32, first_day, end).await?;
    let parts = batch::read_partition(&mut *tx, name).await?;
    // Batches come in the order they were written; a timestamp written twice keeps the later.
    let mut by_series: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for (id, points) in parts {
        by_series.entry(id).or_default().extend(points);
    }
    let mut out: Vec<Chunk> = Vec::new();
    let mut rollups: HashMap<(i64, i64), Vec<(i64, f64)>> = HashMap::new();
    let mut series_ids: Vec<i64> = Vec::new();
    let mut samples_read = 0u64;
    for (id, mut points) in by_series {
        // Reversed, a stable sort and dedup keep the last-written sample of a timestamp.
        points.reverse();
        points.sort_by_key(|p| p.0);
        points.dedup_by_key(|p| p.0);
        samples_read += points.len() as u64;
        series_ids.push(id);
        finish_series(id, points, &existing, &mut out, &mut rollups);
    }
    // The downsampled day streams: what was there, outside this range, plus the new buckets.
    for ((id, day), new) in rollups {
        let mut stream: Vec<(i64, f64)> = existing_rollups
            .get(&(id, day))
            .and_then(|d| codec::decode(d))
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.0 < start || p.0 >= end)
            .collect();
        stream.extend(new);
        stream.sort_by_key(|p| p.0);
        out.push(chunk(id, ROLLUP_MS as i32, day, &stream));
    }

    let mut day = first_day;
    while day < end {
        chunks::create_chunk_partition(&mut *tx, day).await?;
        day += DAY_MS;
    }
    chunks::delete_chunks(&mut *tx, 0, &series_ids, start, end).await?;
    chunks::delete_chunks(&mut *tx, ROLLUP_MS as i32, &series_ids, first_day, end).await?;
    chunks::copy_chunks(&mut tx, &out).await?;
    chunks::drop_partition(&mut *tx, name).await?;
    tx.commit().await?;
    Ok(Compacted {
        samples: samples_read,
        chunks: out.len() as u64,
    })
}

fn chunk(series_id: i64, resolution_ms: i32, start: i64, samples: &[(i64, f64)]) -> Chunk {
    Chunk {
        series_id,
        resolution_ms,
        start,
        end: samples.last().map_or(start, |p| p.0),
        count: samples.len() as i32,
        data: codec::encode(samples),
    }
}

/// Makes one series' chunks: a full-resolution chunk per block (merged with what an earlier
/// pass stored for it) and its downsampled buckets, gathered per day.
fn finish_series(
    id: i64,
    points: Vec<(i64, f64)>,
    existing: &HashMap<(i64, i64), Vec<u8>>,
    out: &mut Vec<Chunk>,
    rollups: &mut HashMap<(i64, i64), Vec<(i64, f64)>>,
) {
    let mut by_block: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for p in points {
        by_block.entry(block_start(p.0)).or_default().push(p);
    }
    for (block, mut raw) in by_block {
        if let Some(old) = existing.get(&(id, block)).and_then(|d| codec::decode(d)) {
            // Raw rows are the later word for a timestamp: they go first and win the dedup.
            raw.extend(old);
            raw.sort_by_key(|p| p.0);
            raw.dedup_by_key(|p| p.0);
        }
        out.push(chunk(id, 0, block, &raw));
        let day = block.div_euclid(DAY_MS) * DAY_MS;
        rollups
            .entry((id, day))
            .or_default()
            .extend(downsample(&raw));
    }
}

/// The downsampled stream of samples in time order: for each five-minute bucket its first,
/// last, lowest and highest samples, its last staleness marker, and the samples on both sides
/// of each counter reset (when a bucket has at most two, i.e. it is a counter, not a jumpy
/// gauge). Rate and increase over whole buckets, max/min over time and the last value read the
/// same from it as from every sample.
pub fn downsample(samples: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let bucket = samples[i].0.div_euclid(ROLLUP_MS);
        let mut j = i;
        while j < samples.len() && samples[j].0.div_euclid(ROLLUP_MS) == bucket {
            j += 1;
        }
        let run = &samples[i..j];
        let mut keep = vec![0, run.len() - 1];
        let finite = run.iter().enumerate().filter(|(_, p)| !p.1.is_nan());
        if let Some((lo, _)) = finite.clone().min_by(|a, b| a.1 .1.total_cmp(&b.1 .1)) {
            keep.push(lo);
        }
        if let Some((hi, _)) = finite.max_by(|a, b| a.1 .1.total_cmp(&b.1 .1)) {
            keep.push(hi);
        }
        if let Some(stale) = run.iter().rposition(|p| p.1.is_nan()) {
            keep.push(stale);
        }
        let resets: Vec<usize> = (1..run.len())
            .filter(|&k| run[k].1 < run[k - 1].1)
            .collect();
        if resets.len() <= 2 {
            for k in resets {
                keep.extend([k - 1, k]);
            }
        }
        keep.sort_unstable();
        keep.dedup();
        out.extend(keep.into_iter().map(|k| run[k]));
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_keeps_first_last_extremes_and_resets() {
        // One bucket of a counter that resets once, then a bucket of a constant.
        let counter = [
            (0, 5.0),
            (15_000, 7.0),
            (30_000, 9.0),
            (45_000, 1.0),
            (60_000, 3.0),
            (75_000, 4.0),
        ];
        let mut samples = counter.to_vec();
        samples.extend((0..20).map(|k| (ROLLUP_MS + k * 15_000, 2.0)));
        let d = downsample(&samples);
        assert_eq!(
            d,
            vec![
                (0, 5.0),
                (30_000, 9.0),
                (45_000, 1.0),
                (75_000, 4.0),
                (ROLLUP_MS, 2.0),
                (ROLLUP_MS + 19 * 15_000, 2.0)
            ]
        );
    }

    #[test]
    fn downsampling_reduces_regular_data_tenfold() {
        let samples: Vec<(i64, f64)> = (0..480).map(|k| (k * 15_000, k as f64)).collect();
        assert_eq!(downsample(&samples).len(), 48);
    }
}
