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

use crate::store::batch::{Snapshot, Stored};
use batch::SeriesSamples;
use head::{Head, Partition};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// How much of a back-fill the head may hold before writes into blocks old enough to compact
/// wait for the compactor.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    /// Samples of blocks old enough to compact past which writes into such blocks are refused
    /// for a while. Live blocks do not count: what they hold is bounded by the ingest rate
    /// times the two hours and ten minutes before a block is compacted.
    pub max_samples: usize,
    /// A block is old enough to compact this long after it ends (the compactor's grace).
    pub grace_ms: i64,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_samples: 20_000_000,
            grace_ms: 10 * 60_000,
        }
    }
}

/// Why a write stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A back-fill while the head is full: the compactor has to catch up first.
    #[error("the head holds {held} uncompacted samples of blocks old enough to compact (limit {limit}); old samples wait for the compactor")]
    HeadFull { held: usize, limit: usize },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Where this replica's head stands against the rows in the raw partitions.
#[derive(Default)]
struct Cursor {
    /// The snapshot whose committed rows the head holds.
    since: Snapshot,
    /// Rows read already that `since` may not have seen (id → transaction).
    seen: HashMap<i64, i64>,
    /// The last sync ticket served.
    served: u64,
}

/// The storage engine's shared state: the head and the raw partitions known to exist. Writers,
/// the compactor and queries share one (behind an `Arc`).
pub struct Storage {
    pool: PgPool,
    head: Head,
    limits: HeadLimits,
    /// Starts (ms) of the raw block partitions known to exist.
    partitions: tokio::sync::Mutex<HashSet<i64>>,
    cursor: tokio::sync::Mutex<Cursor>,
    /// Rows this replica wrote since the last sync (id → transaction): the sync skips them.
    own: std::sync::Mutex<Vec<(i64, i64)>>,
    tickets: AtomicU64,
}

impl Storage {
    pub fn new(pool: PgPool, limits: HeadLimits) -> Self {
        Self {
            pool,
            head: Head::default(),
            limits,
            partitions: tokio::sync::Mutex::default(),
            cursor: tokio::sync::Mutex::default(),
            own: std::sync::Mutex::default(),
            tickets: AtomicU64::new(0),
        }
    }

    /// The samples not compacted yet.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Loads what the raw partitions hold into the head (at start-up), all from one snapshot
    /// that later syncs go on from; returns the count of samples.
    pub async fn load(&self) -> sqlx::Result<usize> {
        let mut cursor = self.cursor.lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read read only")
            .execute(&mut *tx)
            .await?;
        let since = crate::store::batch::snapshot(&mut *tx).await?;
        let before = self.head.len();
        for (name, oid) in crate::store::batch::select_partitions(&mut *tx).await? {
            let Some((block, _)) = batch::batch_partition_span(&name) else {
                continue;
            };
            // A partition the compactor drops meanwhile is in chunks now: skip it.
            let mut read = sqlx::Connection::begin(&mut *tx).await?;
            match crate::store::batch::select_partition_rows(&mut *read, &name).await {
                Ok(rows) => {
                    read.commit().await?;
                    self.add_rows(&mut cursor, &since, Partition { block, oid }, rows);
                }
                Err(e) if dropped(&e) => read.rollback().await?,
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        cursor.since = since;
        Ok(self.head.len() - before)
    }

    /// Brings the head up to date with every row committed before this call, by this replica
    /// or another one sharing the database: a query that syncs first sees every sample any
    /// replica acknowledged before it. Concurrent callers share one look at the database.
    ///
    /// It reads the rows of transactions the previous look may have missed (those not finished
    /// in its snapshot), skipping rows it has read and rows this replica wrote, and forgets the
    /// segments of partitions dropped since (compacted by whichever replica compacts). A
    /// partition being compacted is skipped rather than waited for, and the look after reads
    /// it if it is still there.
    pub async fn sync(&self) -> sqlx::Result<()> {
        let ticket = self.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut cursor = self.cursor.lock().await;
        if cursor.served >= ticket {
            return Ok(());
        }
        let serves = self.tickets.load(Ordering::SeqCst);
        for (id, xact) in std::mem::take(&mut *self.own.lock().unwrap_or_else(|e| e.into_inner())) {
            cursor.seen.insert(id, xact);
        }
        let mut conn = self.pool.acquire().await?;
        let now = crate::store::batch::snapshot(&mut *conn).await?;
        let epoch = self.head.begin_listing();
        let listed = crate::store::batch::select_partitions(&mut *conn).await?;
        self.head
            .retain_listed(&listed.iter().map(|(_, oid)| *oid).collect(), epoch);
        let since = cursor.since.clone();
        let skip: Vec<i64> = cursor.seen.keys().copied().collect();
        let mut complete = true;
        for (name, oid) in listed {
            let Some((block, _)) = batch::batch_partition_span(&name) else {
                continue;
            };
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            match crate::store::batch::select_rows_since(&mut tx, &name, &since, &skip).await {
                Ok(rows) => {
                    tx.commit().await?;
                    self.add_rows(&mut cursor, &since, Partition { block, oid }, rows);
                }
                Err(e) if being_compacted(&e) => {
                    complete = false;
                    tx.rollback().await?;
                }
                Err(e) if dropped(&e) => tx.rollback().await?,
                Err(e) => return Err(e),
            }
        }
        if complete {
            cursor.seen.retain(|_, xact| now.may_miss(*xact));
            cursor.since = now;
        }
        cursor.served = serves;
        Ok(())
    }

    fn add_rows(
        &self,
        cursor: &mut Cursor,
        since: &Snapshot,
        partition: Partition,
        rows: Vec<crate::store::batch::Row>,
    ) {
        for (id, xact, _) in &rows {
            if since.may_miss(*xact) {
                cursor.seen.insert(*id, *xact);
            }
        }
        let series = batch::decode_rows(
            rows.iter().map(|(_, _, data)| data.as_slice()),
            &partition.oid.to_string(),
        );
        self.head.append_all(
            partition,
            series.iter().map(|(id, points)| (*id, points.as_slice())),
        );
    }

    /// Stores samples grouped by block start (ms), one batch row per block, and adds them to
    /// the head once committed: when this returns `Ok`, the samples are durable. A write into
    /// a block old enough to compact is refused while the head holds more of such blocks than
    /// its limit.
    pub async fn write(
        &self,
        blocks: &BTreeMap<i64, Vec<SeriesSamples>>,
    ) -> Result<(), WriteError> {
        let ripe = chrono::Utc::now().timestamp_millis() - self.limits.grace_ms;
        if blocks.keys().any(|&b| b + BLOCK_MS <= ripe) {
            let held = self.head.len_before(ripe);
            if held >= self.limits.max_samples {
                return Err(WriteError::HeadFull {
                    held,
                    limit: self.limits.max_samples,
                });
            }
        }
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
        // (the write holds the parent, the drop wants it) and PostgreSQL rolls one of them back;
        // a replica whose known partitions another replica's compactor dropped finds one gone
        // too. Either way nothing was written: make the partitions again and write once more
        // (the compactor merges late samples into the block's chunks). A write that spans
        // several old blocks can meet the compactor at each of them in turn, so it goes on
        // trying for as long as a write may wait for a commit.
        let deadline = std::time::Instant::now() + RACE_BUDGET;
        let stored: Vec<Stored> = loop {
            match crate::store::batch::insert_batches(&self.pool, &rows).await {
                Ok(stored) => break stored,
                Err(e) if raced_the_compactor(&e) && std::time::Instant::now() < deadline => {
                    self.partitions.lock().await.clear();
                    self.ensure_partitions(&block_starts).await?;
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.own
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(stored.iter().map(|s| (s.id, s.xact)));
        for row in stored {
            let block = row.block_time.timestamp_millis();
            if let Some(series) = blocks.get(&block) {
                self.head.append_all(
                    Partition {
                        block,
                        oid: row.oid,
                    },
                    series.iter().map(|(id, p)| (*id, p.as_slice())),
                );
            }
        }
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

    /// After the compactor dropped the partition `oid` of the block starting at `start`: the
    /// head forgets its segment, and the next sample for the block makes the partition again.
    pub async fn dropped_partition(&self, start: i64, oid: i64) {
        self.head.drop_partitions(&HashSet::from([oid]));
        self.partitions.lock().await.remove(&start);
    }
}

/// How long a write goes on trying while compaction drops the partitions it writes into.
const RACE_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// A partition locked by the compactor (`55P03`, lock not available).
fn being_compacted(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("55P03"))
}

/// A partition dropped since it was listed.
fn dropped(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P01"))
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
