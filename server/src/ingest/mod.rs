//! The ingest path shared by every protocol: decoded series → series ids (a cached dictionary
//! with a per-metric cardinality limit) → samples checked against the accepted time window →
//! one batch row per two-hour block (partitions made on demand), inserted in one statement →
//! the in-memory head. A write is acknowledged only after its rows have committed, so
//! acknowledged samples are never lost.

pub mod otlp;
pub mod prompb;
pub mod remote_write;

use crate::{
    fast_hash::FastMap, labels::SeriesKey, portal_metrics::PortalMetrics, store, tsdb::Storage,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sqlx::PgPool;
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};
use tokio::sync::Semaphore;

/// One series and its samples as a protocol decoded them: (milliseconds since epoch, value).
#[derive(Clone, Debug, PartialEq)]
pub struct IncomingSeries {
    pub key: SeriesKey,
    pub samples: Vec<(i64, f64)>,
}

/// Limits that protect the store; each refusal is counted and explained.
#[derive(Clone, Debug)]
pub struct IngestLimits {
    /// Most series one metric name may have.
    pub max_series_per_metric: i64,
    /// Samples older than this are refused (they would land in dropped partitions).
    pub max_sample_age: Duration,
    /// Samples further in the future than this are refused (clock skew).
    pub max_future_skew: Duration,
    /// Most writes committing at once; more wait, and give up with 503 after `queue_timeout`.
    pub max_concurrent_writes: usize,
    pub queue_timeout: std::time::Duration,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_series_per_metric: 50_000,
            max_sample_age: Duration::days(30),
            max_future_skew: Duration::minutes(10),
            max_concurrent_writes: 8,
            queue_timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// What a write did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteOutcome {
    pub samples_written: u64,
    pub series_created: u64,
    /// New series refused by the cardinality limit, by metric name.
    pub series_refused: HashMap<String, u64>,
    /// Samples of the refused series.
    pub samples_refused_by_limit: u64,
    /// Samples refused because they fall outside the accepted time window.
    pub samples_out_of_bounds: u64,
}

impl WriteOutcome {
    /// A sentence for the sender when something was refused, else `None`.
    pub fn refusal_message(&self, limits: &IngestLimits) -> Option<String> {
        let mut parts = Vec::new();
        if !self.series_refused.is_empty() {
            let mut metrics: Vec<_> = self.series_refused.iter().collect();
            metrics.sort();
            let list: Vec<String> = metrics
                .iter()
                .map(|(m, n)| format!("{m} ({n} new series)"))
                .collect();
            parts.push(format!(
                "series limit of {} per metric reached for {}; their samples were not stored",
                limits.max_series_per_metric,
                list.join(", ")
            ));
        }
        if self.samples_out_of_bounds > 0 {
            parts.push(format!(
                "{} samples were outside the accepted window (older than {}h or more than {}m ahead) and were not stored",
                self.samples_out_of_bounds,
                limits.max_sample_age.num_hours(),
                limits.max_future_skew.num_minutes()
            ));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "{} samples stored; {}",
                self.samples_written,
                parts.join("; ")
            )
        })
    }
}

/// Why a write did not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("too many writes in progress")]
    Busy,
    /// A back-fill while the head holds as much as it may: the compactor catches up first.
    #[error("{0}")]
    HeadFull(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<crate::tsdb::WriteError> for IngestError {
    fn from(e: crate::tsdb::WriteError) -> Self {
        match e {
            crate::tsdb::WriteError::HeadFull { .. } => Self::HeadFull(e.to_string()),
            crate::tsdb::WriteError::Database(e) => Self::Database(e),
        }
    }
}

/// The shared ingest state: the series dictionary cache and the days each series is known to have.
pub struct Ingester {
    pool: PgPool,
    limits: IngestLimits,
    metrics: PortalMetrics,
    series_ids: Mutex<FastMap<[u8; 16], i64>>,
    /// The span of days each series is known to have samples on (as stored in the dictionary).
    series_days: Mutex<FastMap<i64, (NaiveDate, NaiveDate)>>,
    permits: Semaphore,
    delta_totals: otlp::DeltaTotals,
    storage: Arc<Storage>,
}

impl Ingester {
    pub fn new(
        pool: PgPool,
        storage: Arc<Storage>,
        limits: IngestLimits,
        metrics: PortalMetrics,
    ) -> Self {
        let permits = Semaphore::new(limits.max_concurrent_writes.max(1));
        Self {
            pool,
            limits,
            metrics,
            series_ids: Mutex::default(),
            series_days: Mutex::default(),
            permits,
            delta_totals: otlp::DeltaTotals::default(),
            storage,
        }
    }

    pub fn limits(&self) -> &IngestLimits {
        &self.limits
    }

    /// Records what senders say of their metrics (type, help, unit), for the metadata API.
    pub async fn write_metadata(
        &self,
        metadata: &[remote_write::MetadataEntry],
    ) -> Result<(), IngestError> {
        store::metadata::upsert_metadata(&self.pool, metadata).await?;
        Ok(())
    }

    /// The storage engine writes go to.
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// The running totals that turn OTLP delta series into cumulative ones.
    pub fn delta_totals(&self) -> &otlp::DeltaTotals {
        &self.delta_totals
    }

    /// Stores the series' samples; `protocol` labels the portal's own ingest metrics.
    pub async fn write(
        &self,
        protocol: &str,
        batch: Vec<IncomingSeries>,
    ) -> Result<WriteOutcome, IngestError> {
        self.write_with_known(protocol, Vec::new(), batch).await
    }

    /// The ids of the series with these fingerprints that the portal already knows (from its
    /// cache; `None` for the rest, and for series without a fingerprint).
    pub fn known_ids(&self, fingerprints: &[Option<[u8; 16]>]) -> Vec<Option<i64>> {
        let cache = self.series_ids.lock().unwrap_or_else(|e| e.into_inner());
        fingerprints
            .iter()
            .map(|f| f.and_then(|f| cache.get(&f).copied()))
            .collect()
    }

    /// Stores samples of series known by id (see [`Self::known_ids`]) and of `batch`.
    pub async fn write_with_known(
        &self,
        protocol: &str,
        known: Vec<(i64, Vec<(i64, f64)>)>,
        batch: Vec<IncomingSeries>,
    ) -> Result<WriteOutcome, IngestError> {
        let _permit = tokio::time::timeout(self.limits.queue_timeout, self.permits.acquire())
            .await
            .map_err(|_| IngestError::Busy)?
            .map_err(|_| IngestError::Busy)?;
        let mut outcome = WriteOutcome::default();
        let ids = self.resolve_series(&batch, &mut outcome).await?;
        // From here a series is its id (None: refused by the limit) and its samples.
        let resolved = batch
            .into_iter()
            .map(|s| s.samples)
            .zip(ids)
            .chain(known.into_iter().map(|(id, samples)| (samples, Some(id))));

        let now = Utc::now();
        let oldest = (now - self.limits.max_sample_age).timestamp_millis();
        let newest = (now + self.limits.max_future_skew).timestamp_millis();
        // Per block, per series: the samples to store.
        let mut blocks: BTreeMap<i64, Vec<crate::tsdb::batch::SeriesSamples>> = BTreeMap::new();
        let mut written = 0u64;
        let mut spans: FastMap<i64, (NaiveDate, NaiveDate)> = FastMap::default();
        let day_of = |ms: i64| DateTime::from_timestamp_millis(ms).map(|t| t.date_naive());
        for (samples, id) in resolved {
            let Some(id) = id else {
                outcome.samples_refused_by_limit += samples.len() as u64;
                continue;
            };
            // The series' day span is turned into dates once, from its first and last sample.
            let mut span = |id: i64, first: i64, last: i64| {
                if let (Some(a), Some(b)) = (day_of(first), day_of(last)) {
                    spans.insert(id, (a, b));
                }
            };
            let (first, last) = samples
                .iter()
                .fold((i64::MAX, i64::MIN), |(a, b), &(t, _)| (a.min(t), b.max(t)));
            let block = crate::tsdb::block_start(first);
            if !samples.is_empty()
                && first >= oldest
                && last <= newest
                && crate::tsdb::block_start(last) == block
            {
                // All in bounds and in one block, as nearly every series of a live write is:
                // its samples move there as they are.
                written += samples.len() as u64;
                span(id, first, last);
                blocks.entry(block).or_default().push((id, samples));
                continue;
            }
            // Per sample only integer work: the block of the previous sample is reused.
            let (mut first, mut last) = (i64::MAX, i64::MIN);
            let mut current: Option<(i64, Vec<(i64, f64)>)> = None;
            for &(ts, value) in &samples {
                if ts < oldest || ts > newest {
                    outcome.samples_out_of_bounds += 1;
                    continue;
                }
                let block = crate::tsdb::block_start(ts);
                match &mut current {
                    Some((b, points)) if *b == block => points.push((ts, value)),
                    _ => {
                        if let Some((b, points)) = current.take() {
                            blocks.entry(b).or_default().push((id, points));
                        }
                        current = Some((block, vec![(ts, value)]));
                    }
                }
                written += 1;
                first = first.min(ts);
                last = last.max(ts);
            }
            if let Some((b, points)) = current {
                blocks.entry(b).or_default().push((id, points));
                span(id, first, last);
            }
        }
        if let Err(e) = self.storage.write(&blocks).await {
            if matches!(e, crate::tsdb::WriteError::HeadFull { .. }) {
                self.metrics.observe_ingest_shed("head_full");
            }
            return Err(e.into());
        }
        self.extend_series_days(spans).await?;
        outcome.samples_written = written;
        self.metrics.observe_ingest(
            protocol,
            &crate::portal_metrics::IngestCounts {
                samples_written: outcome.samples_written,
                series_created: outcome.series_created,
                series_refused: outcome.series_refused.values().sum(),
                samples_out_of_bounds: outcome.samples_out_of_bounds,
                samples_refused_by_limit: outcome.samples_refused_by_limit,
            },
        );
        Ok(outcome)
    }

    /// Returns the id of each series in `batch` (None when refused by the limit), creating new
    /// series in the dictionary.
    async fn resolve_series(
        &self,
        batch: &[IncomingSeries],
        outcome: &mut WriteOutcome,
    ) -> Result<Vec<Option<i64>>, sqlx::Error> {
        let fingerprints: Vec<[u8; 16]> = batch.iter().map(|s| s.key.fingerprint()).collect();
        let mut ids: Vec<Option<i64>> = {
            let cache = self.series_ids.lock().unwrap_or_else(|e| e.into_inner());
            fingerprints.iter().map(|f| cache.get(f).copied()).collect()
        };
        let missing: Vec<usize> = (0..batch.len()).filter(|&i| ids[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(ids);
        }

        // Series another replica (or an earlier run) already made.
        let lookup: Vec<[u8; 16]> = missing.iter().map(|&i| fingerprints[i]).collect();
        let mut known: HashMap<[u8; 16], i64> =
            store::series::select_series_ids(&self.pool, &lookup)
                .await?
                .into_iter()
                .collect();

        // New series, within each metric's limit. The counts are read for each batch that
        // makes series, so replicas sharing the database keep to one limit between them.
        let new_metrics: Vec<&str> = {
            let mut m: Vec<&str> = missing
                .iter()
                .filter(|&&i| !known.contains_key(&fingerprints[i]))
                .map(|&i| batch[i].key.metric.as_str())
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        let mut counts = if new_metrics.is_empty() {
            HashMap::new()
        } else {
            store::series::count_series_of_metrics(&self.pool, &new_metrics).await?
        };
        let mut to_create: Vec<usize> = Vec::new();
        let mut planned: std::collections::HashSet<[u8; 16]> = Default::default();
        for &i in &missing {
            let f = fingerprints[i];
            if known.contains_key(&f) || planned.contains(&f) {
                continue;
            }
            let metric = &batch[i].key.metric;
            let count = counts.entry(metric.clone()).or_insert(0);
            if *count >= self.limits.max_series_per_metric {
                *outcome.series_refused.entry(metric.clone()).or_default() += 1;
                continue;
            }
            *count += 1;
            planned.insert(f);
            to_create.push(i);
        }
        if !to_create.is_empty() {
            let keys: Vec<&SeriesKey> = to_create.iter().map(|&i| &batch[i].key).collect();
            let created = store::series::insert_series(&self.pool, &keys).await?;
            outcome.series_created += created.created;
            known.extend(created.ids);
        }

        let mut cache = self.series_ids.lock().unwrap_or_else(|e| e.into_inner());
        for &i in &missing {
            if let Some(&id) = known.get(&fingerprints[i]) {
                cache.insert(fingerprints[i], id);
                ids[i] = Some(id);
            }
        }
        Ok(ids)
    }

    /// Records new days with samples in the dictionary, once per series and day.
    async fn extend_series_days(
        &self,
        spans: FastMap<i64, (NaiveDate, NaiveDate)>,
    ) -> Result<(), sqlx::Error> {
        let wider: Vec<(i64, NaiveDate, NaiveDate)> = {
            let known = self.series_days.lock().unwrap_or_else(|e| e.into_inner());
            spans
                .into_iter()
                .filter(|(id, (first, last))| {
                    known.get(id).is_none_or(|(f, l)| first < f || last > l)
                })
                .map(|(id, (first, last))| (id, first, last))
                .collect()
        };
        store::series::extend_series_days(&self.pool, &wider).await?;
        let mut known = self.series_days.lock().unwrap_or_else(|e| e.into_inner());
        for (id, first, last) in wider {
            let span = known.entry(id).or_insert((first, last));
            *span = (span.0.min(first), span.1.max(last));
        }
        Ok(())
    }
}
