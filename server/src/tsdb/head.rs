//! The head: every sample not yet compacted, in memory by series, as Prometheus keeps its head
//! block. It holds exactly what the raw partitions hold: loaded from them at start-up, added to
//! after each write commits, and trimmed of what each compaction moved into chunks. Queries
//! read recent data here (a hash look-up and a binary search per series) and older data from
//! the chunks' index, so no query ever scans raw rows.

use super::batch;
use crate::store::chunks;
use sqlx::PgPool;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const SHARDS: usize = 16;

/// One shard: series id → samples in time order. A deque, because compaction removes the
/// oldest samples and writes add the newest.
type Shard = HashMap<i64, VecDeque<(i64, f64)>>;

/// A series id and some of its samples.
pub type SeriesPoints<'a> = (i64, &'a [(i64, f64)]);

/// Adds `new` to one series of a locked shard; a timestamp it has takes the new value.
fn append_to(shard: &mut Shard, series_id: i64, new: &[(i64, f64)]) {
    let points = shard.entry(series_id).or_default();
    for &(t, v) in new {
        match points.back() {
            Some(&(last, _)) if last < t => points.push_back((t, v)),
            None => points.push_back((t, v)),
            _ => match points.binary_search_by_key(&t, |p| p.0) {
                Ok(i) => points[i].1 = v,
                Err(i) => points.insert(i, (t, v)),
            },
        }
    }
}

/// Recent samples by series id, in time order.
pub struct Head {
    shards: Vec<Mutex<Shard>>,
}

impl Default for Head {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl Head {
    fn shard(&self, series_id: i64) -> std::sync::MutexGuard<'_, Shard> {
        self.shards[series_id.rem_euclid(SHARDS as i64) as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Adds samples of one series; a timestamp it already has takes the new value.
    pub fn append(&self, series_id: i64, new: &[(i64, f64)]) {
        append_to(&mut self.shard(series_id), series_id, new);
    }

    /// Adds samples of many series, taking each shard's lock once.
    pub fn append_all<'a>(&self, series: impl Iterator<Item = SeriesPoints<'a>>) {
        let mut by_shard: Vec<Vec<SeriesPoints<'a>>> = vec![Vec::new(); SHARDS];
        for (id, points) in series {
            by_shard[id.rem_euclid(SHARDS as i64) as usize].push((id, points));
        }
        for (k, batch) in by_shard.into_iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let mut shard = self.shards[k].lock().unwrap_or_else(|e| e.into_inner());
            for (id, points) in batch {
                append_to(&mut shard, id, points);
            }
        }
    }

    /// The samples of `series_ids` from `from` to `to` (ms, inclusive).
    pub fn select(&self, series_ids: &[i64], from: i64, to: i64) -> HashMap<i64, Vec<(i64, f64)>> {
        let mut out = HashMap::new();
        for &id in series_ids {
            let shard = self.shard(id);
            if let Some(points) = shard.get(&id) {
                let lo = points.partition_point(|p| p.0 < from);
                let hi = points.partition_point(|p| p.0 <= to);
                if lo < hi {
                    out.insert(id, points.range(lo..hi).copied().collect());
                }
            }
        }
        out
    }

    /// Removes the samples a compaction moved into chunks: for each series, the timestamps
    /// given (in time order). A sample written again since keeps its place only if its time
    /// differs; one with the same time is in the next compaction's raw data anyway. Only the
    /// span the timestamps cover is visited, and a span at the front (the usual case: the
    /// oldest block) is dropped without moving the rest.
    pub fn remove(&self, compacted: &HashMap<i64, Vec<i64>>) {
        for (&id, times) in compacted {
            let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
                continue;
            };
            let mut shard = self.shard(id);
            let Some(points) = shard.get_mut(&id) else {
                continue;
            };
            let lo = points.partition_point(|p| p.0 < first);
            let hi = points.partition_point(|p| p.0 <= last);
            let kept: Vec<(i64, f64)> = points
                .range(lo..hi)
                .filter(|p| times.binary_search(&p.0).is_err())
                .copied()
                .collect();
            if lo == 0 {
                points.drain(..hi);
                for p in kept.into_iter().rev() {
                    points.push_front(p);
                }
            } else {
                let tail: Vec<(i64, f64)> = points.drain(lo..).skip(hi - lo).collect();
                points.extend(kept);
                points.extend(tail);
            }
            if points.is_empty() {
                shard.remove(&id);
            }
        }
    }

    /// Removes every sample older than `end` (ms), for partitions dropped by retention.
    pub fn remove_before(&self, end: i64) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, points| {
                let old = points.partition_point(|p| p.0 < end);
                points.drain(..old);
                !points.is_empty()
            });
        }
    }

    /// How many samples the head holds.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .map(VecDeque::len)
                    .sum::<usize>()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Loads every raw batch partition into the head; returns how many samples it read.
    pub async fn load(&self, pool: &PgPool) -> sqlx::Result<usize> {
        let mut loaded = 0;
        for name in chunks::select_partitions(pool, "metric_batch").await? {
            for (id, points) in batch::read_partition(pool, &name).await? {
                loaded += points.len();
                self.append(id, &points);
            }
        }
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_in_any_order_and_selects_ranges() {
        let head = Head::default();
        head.append(1, &[(10, 1.0), (30, 3.0)]);
        head.append(1, &[(20, 2.0), (30, 3.5), (40, 4.0)]);
        head.append(2, &[(5, 9.0)]);
        let got = head.select(&[1, 2, 3], 15, 35);
        assert_eq!(got[&1], vec![(20, 2.0), (30, 3.5)]);
        assert!(!got.contains_key(&2) && !got.contains_key(&3));
        assert_eq!(head.len(), 5);
        head.remove(&HashMap::from([(1, vec![10, 20]), (2, vec![5])]));
        assert_eq!(head.select(&[1, 2], 0, 100)[&1], vec![(30, 3.5), (40, 4.0)]);
        assert_eq!(head.len(), 2);
        // A span in the middle, with a sample written since (35) that stays.
        head.append(1, &[(35, 9.0), (50, 5.0), (60, 6.0)]);
        head.remove(&HashMap::from([(1, vec![40, 50])]));
        assert_eq!(
            head.select(&[1], 0, 100)[&1],
            vec![(30, 3.5), (35, 9.0), (60, 6.0)]
        );
        head.remove_before(40);
        assert_eq!(head.select(&[1], 0, 100)[&1], vec![(60, 6.0)]);
    }
}
