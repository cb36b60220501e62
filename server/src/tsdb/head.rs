//! The head: every sample not yet compacted, in memory, as Prometheus keeps its head block. It
//! holds what the raw partitions hold, one segment per partition (a two-hour block, named by
//! the partition's table OID), each by series: loaded from the partitions at start-up, added to
//! by this replica's writes once they commit and by the rows other replicas commit (see
//! `Storage::sync`), and a segment goes as a whole when its partition is dropped (compacted, or
//! past retention). A block whose partition is dropped and made again for a late sample gets a
//! new segment, so dropping one never loses what was written since. Queries read recent data
//! here (a hash look-up and a binary search per series and block) and older data from the
//! chunks' index, so no query ever scans raw rows.

use super::BLOCK_MS;
use crate::fast_hash::FastMap;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, RwLock,
};

const SHARDS: usize = 16;

/// Samples a run holds: 4 KiB of them.
const RUN: usize = 256;

/// The samples of one series in time order, in runs of at most [`RUN`] allocated whole, as
/// Prometheus keeps head chunks of a fixed size: a series grows a run at a time and what it
/// holds is never moved, where one growing buffer per series would double (copying and
/// touching all it holds anew) for every series at about the same moment, as series advance
/// in step. The newest run and timestamp sit in the series' own entry, so an in-order append
/// reads nothing but the entry. A late sample is inserted in place; a full run it lands in
/// splits in two.
struct Runs {
    /// Older runs, in time order.
    sealed: Vec<Vec<(i64, f64)>>,
    /// The newest run, which in-order samples go to.
    open: Vec<(i64, f64)>,
    /// The newest timestamp held (`i64::MIN` when none).
    newest: i64,
}

impl Runs {
    fn new() -> Self {
        Self {
            sealed: Vec::new(),
            open: Vec::new(),
            newest: i64::MIN,
        }
    }

    /// Adds one sample; a timestamp the series has takes the new value. Returns whether the
    /// series gained a sample.
    fn put(&mut self, t: i64, v: f64) -> bool {
        if t > self.newest {
            if self.open.len() == RUN {
                let full = std::mem::replace(&mut self.open, Vec::with_capacity(RUN));
                self.sealed.push(full);
            } else if self.open.capacity() < RUN {
                self.open.reserve_exact(RUN - self.open.len());
            }
            self.open.push((t, v));
            self.newest = t;
            return true;
        }
        // Late: the first sealed run whose last sample is not before it holds its place, or
        // the open run when every sealed sample is before it.
        let r = self
            .sealed
            .partition_point(|run| run.last().is_some_and(|p| p.0 < t));
        let in_open = r == self.sealed.len();
        let run = if in_open {
            &mut self.open
        } else {
            &mut self.sealed[r]
        };
        let i = match run.binary_search_by_key(&t, |p| p.0) {
            Ok(i) => {
                run[i].1 = v;
                return false;
            }
            Err(i) => i,
        };
        if run.len() < RUN {
            if run.capacity() < RUN {
                run.reserve_exact(RUN - run.len());
            }
            run.insert(i, (t, v));
            return true;
        }
        let mut tail = Vec::with_capacity(RUN);
        tail.extend(run.drain(RUN / 2..));
        if i <= RUN / 2 {
            run.insert(i, (t, v));
        } else {
            tail.insert(i - RUN / 2, (t, v));
        }
        if in_open {
            let first = std::mem::replace(&mut self.open, tail);
            self.sealed.push(first);
        } else {
            self.sealed.insert(r + 1, tail);
        }
        true
    }

    /// The samples from `from` to `to` (inclusive), in time order.
    fn range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        let first = self
            .sealed
            .partition_point(|run| run.last().is_some_and(|p| p.0 < from));
        self.sealed[first..]
            .iter()
            .chain(std::iter::once(&self.open))
            .take_while(move |run| run.first().is_some_and(|p| p.0 <= to))
            .flat_map(move |run| {
                let lo = run.partition_point(|p| p.0 < from);
                let hi = run.partition_point(|p| p.0 <= to);
                run[lo..hi].iter().copied()
            })
    }
}

/// One shard: series id → samples in time order.
type Shard = FastMap<i64, Runs>;

/// A series id and some of its samples.
pub type SeriesPoints<'a> = (i64, &'a [(i64, f64)]);

/// A raw partition: the start of its block (ms) and its table's OID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    pub block: i64,
    pub oid: i64,
}

/// Adds `new` to one series of a locked shard; a timestamp it has takes the new value.
/// Returns how many samples the series gained.
fn append_to(shard: &mut Shard, series_id: i64, new: &[(i64, f64)]) -> usize {
    let points = shard.entry(series_id).or_insert_with(Runs::new);
    new.iter().filter(|&&(t, v)| points.put(t, v)).count()
}

/// The samples of one partition, by series.
struct Segment {
    /// The listing epoch when the segment was made (see [`Head::retain_listed`]).
    epoch: u64,
    shards: Vec<Mutex<Shard>>,
    samples: AtomicUsize,
}

impl Segment {
    fn new(epoch: u64) -> Self {
        Self {
            epoch,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            samples: AtomicUsize::new(0),
        }
    }

    fn shard(&self, series_id: i64) -> std::sync::MutexGuard<'_, Shard> {
        lock(&self.shards[series_id.rem_euclid(SHARDS as i64) as usize])
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Recent samples by partition and series, in time order.
#[derive(Default)]
pub struct Head {
    segments: RwLock<BTreeMap<Partition, Arc<Segment>>>,
    /// Samples in all segments.
    samples: AtomicUsize,
    /// Bumped before each listing of the partitions.
    epoch: AtomicU64,
}

impl Head {
    fn segment(&self, partition: Partition) -> Arc<Segment> {
        if let Some(s) = self
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&partition)
        {
            return s.clone();
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.segments
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(partition)
            .or_insert_with(|| Arc::new(Segment::new(epoch)))
            .clone()
    }

    /// Adds samples of one series to a partition's segment; a timestamp it already has takes
    /// the new value.
    pub fn append(&self, partition: Partition, series_id: i64, new: &[(i64, f64)]) {
        self.append_all(partition, std::iter::once((series_id, new)));
    }

    /// Adds samples of many series to a partition's segment, taking each shard's lock once.
    pub fn append_all<'a>(
        &self,
        partition: Partition,
        series: impl Iterator<Item = SeriesPoints<'a>>,
    ) {
        let segment = self.segment(partition);
        let mut by_shard: Vec<Vec<SeriesPoints<'a>>> = vec![Vec::new(); SHARDS];
        for (id, points) in series {
            by_shard[id.rem_euclid(SHARDS as i64) as usize].push((id, points));
        }
        let mut added = 0;
        for (k, batch) in by_shard.into_iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let mut shard = lock(&segment.shards[k]);
            for (id, points) in batch {
                added += append_to(&mut shard, id, points);
            }
        }
        segment.samples.fetch_add(added, Ordering::Relaxed);
        self.samples.fetch_add(added, Ordering::Relaxed);
    }

    /// The samples of `series_ids` from `from` to `to` (ms, inclusive), in time order. Where a
    /// block has two segments (a dropped partition's, not forgotten yet, and the one made again
    /// for late samples) a timestamp in both keeps the later segment's value.
    pub fn select(&self, series_ids: &[i64], from: i64, to: i64) -> HashMap<i64, Vec<(i64, f64)>> {
        let segments: Vec<(Partition, Arc<Segment>)> = self
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .range(
                Partition {
                    block: from - BLOCK_MS + 1,
                    oid: i64::MIN,
                }..,
            )
            .take_while(|(p, _)| p.block <= to)
            .map(|(p, s)| (*p, s.clone()))
            .collect();
        let shared_block = segments.windows(2).any(|w| w[0].0.block == w[1].0.block);
        let mut out: HashMap<i64, Vec<(i64, f64)>> = HashMap::new();
        for &id in series_ids {
            for (_, segment) in &segments {
                let shard = segment.shard(id);
                if let Some(points) = shard.get(&id) {
                    let mut found = points.range(from, to).peekable();
                    if found.peek().is_some() {
                        out.entry(id).or_default().extend(found);
                    }
                }
            }
        }
        if shared_block {
            for points in out.values_mut() {
                points.reverse();
                points.sort_by_key(|p| p.0);
                points.dedup_by_key(|p| p.0);
            }
        }
        out
    }

    /// Forgets the segments of dropped partitions.
    pub fn drop_partitions(&self, oids: &HashSet<i64>) {
        let mut segments = self.segments.write().unwrap_or_else(|e| e.into_inner());
        segments.retain(|p, s| {
            let keep = !oids.contains(&p.oid);
            if !keep {
                self.samples
                    .fetch_sub(s.samples.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            keep
        });
    }

    /// Starts a listing of the partitions: returns its epoch, to hand to [`Self::retain_listed`].
    pub fn begin_listing(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Forgets the segments whose partitions a listing that began at `epoch` did not find: they
    /// were dropped. A segment made since the listing began is kept (its partition may be newer
    /// than the listing).
    pub fn retain_listed(&self, listed: &HashSet<i64>, epoch: u64) {
        let gone: HashSet<i64> = self
            .segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(p, s)| s.epoch < epoch && !listed.contains(&p.oid))
            .map(|(p, _)| p.oid)
            .collect();
        if !gone.is_empty() {
            self.drop_partitions(&gone);
        }
    }

    /// The partitions the head has segments for.
    #[cfg(test)]
    fn partitions(&self) -> Vec<Partition> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .copied()
            .collect()
    }

    /// How many samples the head holds for blocks ending at or before `end` (ms): those old
    /// enough for the compactor, when `end` is its horizon.
    pub fn len_before(&self, end: i64) -> usize {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .take_while(|(p, _)| p.block + BLOCK_MS <= end)
            .map(|(_, s)| s.samples.load(Ordering::Relaxed))
            .sum()
    }

    /// How many samples the head holds.
    pub fn len(&self) -> usize {
        self.samples.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Partition = Partition { block: 0, oid: 10 };

    #[test]
    fn runs_keep_any_order_of_samples_sorted_without_duplicates() {
        // Against a sorted map: in-order runs, late samples landing in full runs (which
        // split), rewrites of existing timestamps, and ranges across run boundaries.
        let mut runs = Runs::new();
        let mut model = BTreeMap::new();
        let mut x: i64 = 7;
        let mut next = |n: i64| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33).rem_euclid(n)
        };
        for t in 0..3 * RUN as i64 {
            assert!(runs.put(t * 10, t as f64));
            model.insert(t * 10, t as f64);
        }
        for k in 0..5_000 {
            let t = next(12 * RUN as i64 * 10);
            let gained = runs.put(t, k as f64);
            assert_eq!(gained, model.insert(t, k as f64).is_none());
        }
        assert!(runs.sealed.iter().all(|r| !r.is_empty() && r.len() <= RUN));
        assert!(runs.open.len() <= RUN && runs.sealed.len() > 3);
        let all: Vec<(i64, f64)> = model.iter().map(|(&t, &v)| (t, v)).collect();
        assert_eq!(runs.range(i64::MIN, i64::MAX).collect::<Vec<_>>(), all);
        for _ in 0..200 {
            let (a, b) = (next(13_000) - 500, next(13_000) - 500);
            let want: Vec<(i64, f64)> = model.range(a..=b.max(a)).map(|(&t, &v)| (t, v)).collect();
            assert_eq!(
                runs.range(a, b.max(a)).collect::<Vec<_>>(),
                want,
                "{a}..={b}"
            );
        }
    }

    #[test]
    fn appends_in_any_order_and_selects_ranges() {
        let head = Head::default();
        head.append(A, 1, &[(10, 1.0), (30, 3.0)]);
        head.append(A, 1, &[(20, 2.0), (30, 3.5), (40, 4.0)]);
        head.append(A, 2, &[(5, 9.0)]);
        let got = head.select(&[1, 2, 3], 15, 35);
        assert_eq!(got[&1], vec![(20, 2.0), (30, 3.5)]);
        assert!(!got.contains_key(&2) && !got.contains_key(&3));
        assert_eq!(head.len(), 5);
    }

    #[test]
    fn selects_across_blocks_and_drops_a_partition_whole() {
        let head = Head::default();
        let b = Partition {
            block: BLOCK_MS,
            oid: 11,
        };
        head.append(A, 1, &[(10, 1.0), (BLOCK_MS - 1, 2.0)]);
        head.append(b, 1, &[(BLOCK_MS, 3.0), (BLOCK_MS + 5, 4.0)]);
        assert_eq!(
            head.select(&[1], 0, 2 * BLOCK_MS)[&1],
            vec![
                (10, 1.0),
                (BLOCK_MS - 1, 2.0),
                (BLOCK_MS, 3.0),
                (BLOCK_MS + 5, 4.0)
            ]
        );
        // A range inside the second block does not need the first.
        assert_eq!(
            head.select(&[1], BLOCK_MS + 1, BLOCK_MS + 9)[&1],
            vec![(BLOCK_MS + 5, 4.0)]
        );
        assert_eq!(head.len_before(BLOCK_MS), 2);
        assert_eq!(head.len_before(2 * BLOCK_MS), 4);
        head.drop_partitions(&HashSet::from([10]));
        assert_eq!(head.select(&[1], 0, 2 * BLOCK_MS)[&1].len(), 2);
        assert_eq!(head.len_before(BLOCK_MS), 0);
        assert_eq!(head.len(), 2);
    }

    #[test]
    fn a_block_made_again_for_late_samples_keeps_them_when_the_old_one_goes() {
        let head = Head::default();
        let again = Partition { block: 0, oid: 12 };
        head.append(A, 1, &[(10, 1.0), (20, 2.0)]);
        head.append(again, 1, &[(20, 7.0), (15, 5.0)]);
        // Both segments of the block are read; the later one's value wins a shared timestamp.
        assert_eq!(
            head.select(&[1], 0, 100)[&1],
            vec![(10, 1.0), (15, 5.0), (20, 7.0)]
        );
        head.drop_partitions(&HashSet::from([10]));
        assert_eq!(head.select(&[1], 0, 100)[&1], vec![(15, 5.0), (20, 7.0)]);
        assert_eq!(head.len(), 2);
    }

    #[test]
    fn a_listing_forgets_dropped_partitions_but_not_ones_made_while_it_ran() {
        let head = Head::default();
        head.append(A, 1, &[(10, 1.0)]);
        let epoch = head.begin_listing();
        // Made after the listing began: its partition may be too new for the listing.
        let newer = Partition {
            block: BLOCK_MS,
            oid: 13,
        };
        head.append(newer, 1, &[(BLOCK_MS, 1.0)]);
        head.retain_listed(&HashSet::new(), epoch);
        assert_eq!(head.partitions(), vec![newer]);
        let epoch = head.begin_listing();
        head.retain_listed(&HashSet::from([13]), epoch);
        assert_eq!(head.partitions(), vec![newer]);
        let epoch = head.begin_listing();
        head.retain_listed(&HashSet::new(), epoch);
        assert!(head.is_empty() && head.partitions().is_empty());
    }
}
