//! The metric storage engine: the in-memory `head` of uncompacted samples, the `batch` format
//! that writes land in (a row per request and two-hour block), the Gorilla `codec` of compressed
//! chunks, the `compactor` that turns complete blocks into chunks and applies retention, and
//! `read`, which merges head and chunks for queries. SQL lives in `crate::store`; this module
//! owns what the bytes mean and when they move.

pub mod batch;
pub mod codec;
pub mod compactor;
pub mod head;
pub mod read;

pub use crate::store::utc;

use batch::SeriesSamples;
use head::Head;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashSet};

/// The storage engine's shared state: the head and the raw partitions known to exist. Writers,
/// the compactor and queries share one (behind an `Arc`).
pub struct Storage {
    pool: PgPool,
    head: Head,
    /// Starts (ms) of the raw block partitions known to exist.
    partitions: tokio::sync::Mutex<HashSet<i64>>,
}

impl Storage {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            head: Head::default(),
            partitions: tokio::sync::Mutex::default(),
        }
    }

    /// The samples not compacted yet.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Loads what the raw partitions hold into the head (at start-up); returns the count.
    pub async fn load(&self) -> sqlx::Result<usize> {
        self.head.load(&self.pool).await
    }

    /// Stores samples grouped by block start (ms), one batch row per block, and adds them to
    /// the head once committed: when this returns `Ok`, the samples are durable.
    pub async fn write(&self, blocks: &BTreeMap<i64, Vec<SeriesSamples>>) -> sqlx::Result<()> {
        let encoded: Vec<(chrono::DateTime<chrono::Utc>, Vec<u8>)> = blocks
            .iter()
            .map(|(&block, series)| {
                let bytes = batch::encode(series.iter().map(|(id, p)| (*id, p.as_slice())));
                (utc(block), bytes)
            })
            .collect();
        let rows: Vec<(chrono::DateTime<chrono::Utc>, &[u8])> =
            encoded.iter().map(|(t, b)| (*t, b.as_slice())).collect();
        let block_starts: HashSet<i64> = blocks.keys().copied().collect();
        self.ensure_partitions(&block_starts).await?;
        // A late sample for a block the compactor is compacting: the write either waits for
        // the block's lock and finds the partition gone, or deadlocks with the partition's drop
        // (the write holds the parent, the drop wants it) and PostgreSQL rolls one of them back.
        // Either way nothing was written: make the partition again and write once more (the
        // compactor merges it into the block's chunks). A write that spans several old blocks
        // can meet the compactor at each of them in turn, so it tries as often as it has
        // blocks, and twice more.
        let mut attempts = block_starts.len() + 2;
        loop {
            match crate::store::batch::insert_batches(&self.pool, &rows).await {
                Ok(()) => break,
                Err(e) if attempts > 1 && raced_the_compactor(&e) => {
                    attempts -= 1;
                    self.partitions.lock().await.clear();
                    self.ensure_partitions(&block_starts).await?;
                }
                Err(e) => return Err(e),
            }
        }
        self.head
            .append_all(blocks.values().flatten().map(|(id, p)| (*id, p.as_slice())));
        Ok(())
    }

    async fn ensure_partitions(&self, blocks: &HashSet<i64>) -> sqlx::Result<()> {
        let mut known = self.partitions.lock().await;
        for &block in blocks {
            if known.contains(&block) {
                continue;
            }
            batch::create_partition(&self.pool, block).await?;
            known.insert(block);
        }
        Ok(())
    }

    /// Forgets that the partition of the block starting at `start` exists (the compactor
    /// dropped it), so the next sample for it makes it again.
    pub async fn forget_partition(&self, start: i64) {
        self.partitions.lock().await.remove(&start);
    }
}

/// Whether a write failed, writing nothing, because the compactor dropped a raw partition it
/// needed: no partition for the row (`23514`), the table gone (`42P01`), its OID gone after a
/// lock wait, or a deadlock with the drop (`40P01`).
fn raced_the_compactor(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("23514" | "42P01" | "40P01") => true,
            Some("XX000") => d.message().contains("could not open relation"),
            _ => false,
        },
        _ => false,
    }
}

/// The span of one raw partition and of one full-resolution chunk.
pub const BLOCK_MS: i64 = 2 * 3_600_000;
/// The span of one downsampled chunk (and of a chunk partition).
pub const DAY_MS: i64 = crate::store::chunks::DAY_MS;
/// The bucket of the downsampled stream.
pub const ROLLUP_MS: i64 = 300_000;

/// The value Prometheus writes to mark a series as stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether `value` is a staleness marker.
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// The start of the block holding `ts` (milliseconds).
pub fn block_start(ts: i64) -> i64 {
    ts.div_euclid(BLOCK_MS) * BLOCK_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_map_to_the_start_of_their_block() {
        let start = 1_767_967_200_000; // 2026-01-09 14:00 UTC
        assert_eq!(block_start(start), start);
        assert_eq!(block_start(start + 5_000), start);
        assert_eq!(block_start(start - 1), start - BLOCK_MS);
    }
}
