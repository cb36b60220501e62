//! The logs wing: lines from any shipper (OTLP, Loki push, NDJSON, plain text) normalised into
//! one shape (stream labels, time, severity, body, structured fields, trace and span ids),
//! scrubbed of personal data, stored in day partitions, and searched with the query language
//! of `query`. It shares the OTLP front door, write and read admission, accounts and the
//! worker supervisor with the other signals, and never imports the metric engine.

pub mod archive;
pub mod bulk;
pub mod detect;
pub mod errors;
pub mod logql;
pub mod loki;
pub mod loki_query;
pub mod otlp;
pub mod patterns;
pub mod query;
pub mod saved;
pub mod scrub;
pub mod stream;
pub mod tail;

use crate::{
    admission::{AdmissionError, ReadAdmission},
    store::{self, logs as db},
};
use app::api::logs::{
    level_name, LogBucket, LogContext, LogFacet, LogFacets, LogHistogram, LogLine, LogPage,
};
pub use scrub::Scrubber;
use serde_json::{Map, Value};
use sqlx::PgPool;
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use stream::Stream;

/// A stream's labels by name.
pub type Labels = BTreeMap<String, String>;

/// A line as a shipper sent it, before it is checked and normalised.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entry {
    /// When it happened (ns since the epoch); the time it arrives when not given.
    pub time_ns: Option<i64>,
    /// The stream's labels, shared by the entries of one stream of a request.
    pub labels: Arc<Labels>,
    pub line: String,
    /// Text fields (Loki's structured metadata).
    pub metadata: Vec<(String, String)>,
    /// Typed fields (OTLP attributes, NDJSON keys).
    pub fields: Map<String, Value>,
    pub severity: Option<u8>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
}

/// The severity number of a level's name, `None` for an unknown name.
pub fn severity_of_text(text: &str) -> Option<u8> {
    app::api::logs::level_severity(text).filter(|s| *s > 0)
}

/// What protects the store; each refusal is explained.
#[derive(Clone, Debug)]
pub struct LogLimits {
    /// Longest line (body) stored; longer ones are refused, as Loki's `max_line_size`.
    pub max_line_bytes: usize,
    /// Most lines one request may carry (413 past it).
    pub max_lines_per_request: usize,
    /// Lines older than this are refused (their partition is gone or going).
    pub retention: chrono::Duration,
    /// Lines further ahead than this are refused (clock skew).
    pub max_future: chrono::Duration,
    /// Most streams the store keeps; a write making more gets 429.
    pub max_streams: i64,
    /// Bytes a second one stream may send, and the burst it may send at once (429 past it).
    pub stream_rate_bytes: u64,
    pub stream_burst_bytes: u64,
    /// Longest one search may run.
    pub query_timeout: Duration,
    /// Where a day's lines are archived before its partition is dropped (none: not archived).
    pub archive_dir: Option<std::path::PathBuf>,
    /// Whether new and regressed error groups are announced (`errors::announce_error_groups`).
    pub announce_error_groups: bool,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: 256 << 10,
            max_lines_per_request: 100_000,
            retention: chrono::Duration::days(30),
            max_future: chrono::Duration::minutes(10),
            max_streams: 100_000,
            stream_rate_bytes: 8 << 20,
            stream_burst_bytes: 32 << 20,
            query_timeout: Duration::from_secs(30),
            archive_dir: None,
            announce_error_groups: true,
        }
    }
}

/// Why logs could not be taken in or searched; `http` maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// A request no retry can fix (400), naming the part at fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// More lines in one request than allowed (413).
    #[error("a request carries at most {limit} lines; this one has {lines}")]
    TooManyLines { limit: usize, lines: usize },
    /// A stream sending faster than its rate (429 with Retry-After); nothing was stored.
    #[error("stream {stream} sends more than {rate} bytes a second; nothing of this request was stored, retry in {retry_after_secs}s")]
    StreamRate {
        stream: String,
        rate: u64,
        retry_after_secs: u64,
    },
    /// A write that would make more streams than the store keeps (429); nothing was stored.
    #[error("the store keeps at most {limit} streams and this request would make more; nothing of it was stored. Use fewer distinct label values (put ids in fields, not labels)")]
    TooManyStreams { limit: i64 },
    /// A query that cannot be read (400), with where.
    #[error("query: {0}")]
    Query(#[from] query::QueryError),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Admission(#[from] AdmissionError),
    /// The search ran past its time.
    #[error("the search ran longer than {0:?}; narrow the time range or the query")]
    TimedOut(Duration),
    /// An archive could not be written or read (the lines stay in the store).
    #[error("{0}")]
    Archive(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl LogsError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A checked, normalised line ready to store.
#[derive(Debug)]
struct Record {
    time_us: i64,
    stream: usize,
    severity: u8,
    body: String,
    fields: Vec<u8>,
    trace_id: Option<String>,
    span_id: Option<String>,
    /// The tokens of the body and fields (sorted, distinct).
    tokens: Vec<i32>,
    /// An error line's group and agent.
    error: Option<(errors::Fingerprint, Option<String>)>,
}

/// Lines ready to store, their streams, and what was refused and why.
#[derive(Debug, Default)]
pub struct Batch {
    streams: Vec<(Stream, [u8; 32])>,
    records: Vec<Record>,
    refused: BTreeMap<String, u64>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// What a write did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WriteOutcome {
    pub accepted: u64,
    pub refused: u64,
    /// Reason → lines refused for it.
    pub reasons: BTreeMap<String, u64>,
}

impl WriteOutcome {
    /// A sentence for the sender when lines were refused, else `None`.
    pub fn refusal_message(&self) -> Option<String> {
        (self.refused > 0).then(|| {
            let reasons: Vec<String> = self
                .reasons
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            format!(
                "{} lines stored, {} refused: {}",
                self.accepted,
                self.refused,
                reasons.join("; ")
            )
        })
    }
}

/// A stream's token bucket (bytes).
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// How far back (µs) the next index look-up of a search goes, having read `scanned` µs of
/// its range and found `hits` lines, `wanted` more to find: the span the hits so far say holds
/// the wanted ones, twice over (a word found nowhere yet is taken as if found once), and at
/// least what was read so far (and a second), so a search of a range ends in a few look-ups
/// however rare the word.
fn index_span(scanned: i64, hits: i64, wanted: i64) -> i64 {
    let scanned = scanned.max(1_000_000);
    let estimate = (scanned as f64) * 2.0 * (wanted as f64) / (hits.max(1) as f64);
    (estimate.min(i64::MAX as f64) as i64).max(scanned)
}

/// Lines for the search API: the query text, the time range (µs), paging.
#[derive(Clone, Debug)]
pub struct Search<'a> {
    pub query: &'a str,
    pub from_us: i64,
    pub to_us: i64,
}

/// Most lines one page may have.
pub const MAX_PAGE: i64 = 1000;
/// Lines a search through the inverted index reads in time order first (see `search`).
const WALKED_LINES: i64 = 20_000;
/// Lines the facets count, the newest first.
pub const FACET_SAMPLE: i64 = 10_000;
/// Most lines of context either side.
pub const MAX_CONTEXT: i64 = 500;

/// The logs service; cheap to clone.
#[derive(Clone)]
pub struct LogsService(Arc<Inner>);

struct Inner {
    pool: PgPool,
    limits: LogLimits,
    scrubber: Scrubber,
    reads: Arc<ReadAdmission>,
    /// Stream hash → id, for the streams this replica has written or read.
    stream_ids: Mutex<HashMap<[u8; 32], i64>>,
    /// How many streams the store has (-1 until first counted).
    stream_count: AtomicI64,
    /// Days whose partition is known to exist.
    partitions: tokio::sync::Mutex<HashSet<i64>>,
    rates: Mutex<HashMap<[u8; 32], Bucket>>,
    /// The lines just stored, for live tails.
    tail: tail::Ring,
    /// This process, as tails' resume positions name it.
    instance: String,
}

impl LogsService {
    pub fn new(
        pool: PgPool,
        limits: LogLimits,
        scrubber: Scrubber,
        reads: Arc<ReadAdmission>,
    ) -> Self {
        Self(Arc::new(Inner {
            pool,
            limits,
            scrubber,
            reads,
            stream_ids: Mutex::default(),
            stream_count: AtomicI64::new(-1),
            partitions: tokio::sync::Mutex::default(),
            rates: Mutex::default(),
            tail: tail::Ring::default(),
            instance: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        }))
    }

    pub fn limits(&self) -> &LogLimits {
        &self.0.limits
    }

    pub fn scrubber(&self) -> &Scrubber {
        &self.0.scrubber
    }

    /// Checks and normalises entries (CPU only: callers run it on the blocking pool for large
    /// requests). Entries that break a rule are refused one by one, with the reason; the
    /// rest are kept.
    pub fn prepare(&self, entries: Vec<Entry>) -> Result<Batch, LogsError> {
        let limits = &self.0.limits;
        if entries.len() > limits.max_lines_per_request {
            return Err(LogsError::TooManyLines {
                limit: limits.max_lines_per_request,
                lines: entries.len(),
            });
        }
        let now_us = chrono::Utc::now().timestamp_micros();
        let oldest = now_us - limits.retention.num_microseconds().unwrap_or(i64::MAX / 2);
        let newest = now_us + limits.max_future.num_microseconds().unwrap_or(0);
        let mut batch = Batch::default();
        let mut stream_index: HashMap<Arc<Labels>, Option<usize>> = HashMap::new();
        // A stream's entries arrive together and share one map: the last one seen answers most
        // look-ups without hashing the labels.
        let mut last: Option<(Arc<Labels>, Option<usize>)> = None;
        let refuse = |batch: &mut Batch, why: String| {
            *batch.refused.entry(why).or_default() += 1;
        };
        for entry in entries {
            let Entry {
                time_ns,
                labels,
                line,
                metadata,
                mut fields,
                severity,
                trace_id,
                span_id,
            } = entry;
            let known = match &last {
                Some((shared, index)) if Arc::ptr_eq(shared, &labels) => Some(*index),
                _ => stream_index.get(&labels).copied(),
            };
            let stream = match known {
                Some(index) => index,
                None => {
                    let index = match Stream::new((*labels).clone()) {
                        Ok(stream) => {
                            let hash = stream.hash();
                            batch.streams.push((stream, hash));
                            Some(batch.streams.len() - 1)
                        }
                        Err(why) => {
                            refuse(&mut batch, format!("in a stream with bad labels ({why})"));
                            stream_index.insert(labels.clone(), None);
                            last = Some((labels, None));
                            continue;
                        }
                    };
                    stream_index.insert(labels.clone(), index);
                    index
                }
            };
            last = Some((labels, stream));
            let Some(stream) = stream else {
                refuse(&mut batch, "in a stream with bad labels".into());
                continue;
            };
            if line.len() > limits.max_line_bytes {
                refuse(
                    &mut batch,
                    format!("longer than {} bytes", limits.max_line_bytes),
                );
                continue;
            }
            let time_us = time_ns.map_or(now_us, |ns| ns.div_euclid(1000));
            if time_us < oldest {
                refuse(
                    &mut batch,
                    format!(
                        "older than the retention ({} days)",
                        limits.retention.num_days()
                    ),
                );
                continue;
            }
            if time_us > newest {
                refuse(
                    &mut batch,
                    format!(
                        "more than {} minutes in the future",
                        limits.max_future.num_minutes()
                    ),
                );
                continue;
            }
            for (name, value) in metadata {
                fields.entry(name).or_insert(Value::String(value));
            }
            let detected = detect::detect(&line);
            let mut severity = severity.or(detected.severity);
            for (name, value) in detected.fields {
                fields.entry(name).or_insert(value);
            }
            if severity.is_none() {
                severity = ["level", "detected_level", "severity"]
                    .iter()
                    .find_map(|l| batch.streams[stream].0 .0.get(*l))
                    .and_then(|l| severity_of_text(l));
            }
            let trace_id = trace_id
                .or_else(|| id_field(&fields, &["trace_id", "traceId", "trace.id", "traceID"]));
            let span_id =
                span_id.or_else(|| id_field(&fields, &["span_id", "spanId", "span.id", "spanID"]));
            let body = self.0.scrubber.text(&line).into_owned();
            let mut fields = Value::Object(fields);
            self.0.scrubber.value(&mut fields);
            let tokens = line_tokens(&body, &fields);
            let error = errors::error_of(severity.unwrap_or(0), &body, &fields);
            batch.records.push(Record {
                time_us,
                stream,
                severity: severity.unwrap_or(0),
                body: if body.contains('\0') {
                    body.replace('\0', "")
                } else {
                    body
                },
                fields: serde_json::to_vec(&fields)
                    .unwrap_or_else(|_| b"{}".to_vec())
                    // PostgreSQL's jsonb refuses the NUL character.
                    .into_iter()
                    .collect::<Vec<u8>>(),
                trace_id,
                span_id,
                tokens,
                error,
            });
        }
        // PostgreSQL's text and jsonb refuse NUL characters; JSON escapes them as \u0000.
        for record in &mut batch.records {
            if memchr_u0000(&record.fields) {
                let text = String::from_utf8_lossy(&record.fields).replace("\\u0000", "");
                record.fields = text.into_bytes();
            }
        }
        Ok(batch)
    }

    /// An OTLP logs export request, prepared.
    pub fn from_otlp(
        &self,
        request: &opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest,
    ) -> Result<Batch, LogsError> {
        self.prepare(otlp::entries(request))
    }

    /// A Loki push in snappy-compressed protobuf, at most `max_decoded` bytes decompressed.
    pub fn from_loki_protobuf(&self, body: &[u8], max_decoded: usize) -> Result<Batch, LogsError> {
        let entries = loki::decode_protobuf(body, max_decoded)
            .map_err(|e| LogsError::invalid(e.field, e.message))?;
        self.prepare(entries)
    }

    /// A Loki push in JSON.
    pub fn from_loki_json(&self, body: &[u8]) -> Result<Batch, LogsError> {
        let entries =
            loki::decode_json(body).map_err(|e| LogsError::invalid(e.field, e.message))?;
        self.prepare(entries)
    }

    /// NDJSON lines (`ndjson`) or plain text lines, under the request's labels.
    pub fn from_bulk(
        &self,
        body: &[u8],
        ndjson: bool,
        labels: BTreeMap<String, String>,
    ) -> Result<Batch, LogsError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| LogsError::invalid("body", format!("not UTF-8 text: {e}")))?;
        let entries = if ndjson {
            bulk::ndjson(text, &labels)
                .map_err(|(field, message)| LogsError::invalid(field, message))?
        } else {
            bulk::text(text, &labels)
        };
        self.prepare(entries)
    }

    /// Stores a batch: every line or none. The answer comes after the lines have committed.
    pub async fn write(&self, mut batch: Batch) -> Result<WriteOutcome, LogsError> {
        let refused: u64 = batch.refused.values().sum();
        if batch.records.is_empty() {
            return Ok(WriteOutcome {
                accepted: 0,
                refused,
                reasons: batch.refused,
            });
        }
        self.charge_streams(&batch)?;
        let ids = self.stream_ids(&batch.streams).await?;
        let days: HashSet<i64> = batch
            .records
            .iter()
            .map(|r| db::day_of(r.time_us))
            .collect();
        self.ensure_partitions(&days).await?;
        let services: Vec<String> = batch.streams.iter().map(|(s, _)| s.service()).collect();
        // Ids are taken before the COPY so that the tail's lines carry them (for their
        // context, and to be told apart from the same lines read back from the store).
        let line_ids = {
            let mut conn = self.0.pool.acquire().await?;
            db::next_line_ids(&mut conn, batch.records.len()).await?
        };
        let lines: Vec<db::NewLine> = batch
            .records
            .iter()
            .zip(&line_ids)
            .map(|(r, &id)| db::NewLine {
                time_us: r.time_us,
                id,
                stream_id: ids[r.stream],
                service: &services[r.stream],
                severity: r.severity as i16,
                body: &r.body,
                fields: &r.fields,
                trace_id: r.trace_id.as_deref(),
                span_id: r.span_id.as_deref(),
                tokens: &r.tokens,
            })
            .collect();
        // Lines and bytes per minute, stream and level, in key order.
        let mut by_minute: BTreeMap<(i64, i64, i16), (usize, i64, i64)> = BTreeMap::new();
        for r in &batch.records {
            let minute = r.time_us.div_euclid(60_000_000) * 60_000_000;
            let class = level_class(r.severity);
            let slot = by_minute
                .entry((minute, ids[r.stream], class))
                .or_insert((r.stream, 0, 0));
            slot.1 += 1;
            slot.2 += r.body.len() as i64;
        }
        let counts: Vec<db::NewCount> = by_minute
            .iter()
            .map(
                |(&(minute_us, stream_id, class), &(stream, lines, bytes))| db::NewCount {
                    minute_us,
                    stream_id,
                    class,
                    service: &services[stream],
                    lines,
                    bytes,
                },
            )
            .collect();
        let announcements = tail::announcements(
            &self.0.instance,
            &line_ids,
            batch.records.iter().map(|r| r.time_us),
        );
        let mut attempt = 0;
        loop {
            let mut tx = self.0.pool.begin().await?;
            match db::copy_lines(&mut tx, &lines).await {
                Ok(()) => {
                    db::add_counts(&mut tx, &counts).await?;
                    for payload in &announcements {
                        db::announce_lines(&mut tx, payload).await?;
                    }
                    tx.commit().await?;
                    break;
                }
                // A partition dropped since it was made (retention): make it again, once.
                Err(sqlx::Error::Database(e))
                    if attempt == 0 && e.code().as_deref() == Some("23514") =>
                {
                    drop(tx);
                    attempt += 1;
                    self.0.partitions.lock().await.clear();
                    self.ensure_partitions(&days).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let accepted = lines.len() as u64;
        drop(lines);
        let mut errors = errors::SeenGroups::default();
        for r in &mut batch.records {
            if let Some((print, agent)) = r.error.take() {
                errors.add(print, agent, r.time_us, &services[r.stream], &r.body);
            }
        }
        self.publish(batch.streams, batch.records, services, line_ids);
        // The lines are stored whatever happens here: a failure only costs announcements.
        if let Err(e) = self.announce_error_groups(errors).await {
            tracing::warn!(error = %e, "error groups not announced");
        }
        Ok(WriteOutcome {
            accepted,
            refused,
            reasons: batch.refused,
        })
    }

    /// Hands committed lines to the live tails.
    fn publish(
        &self,
        streams: Vec<(Stream, [u8; 32])>,
        records: Vec<Record>,
        services: Vec<String>,
        ids: Vec<i64>,
    ) {
        let labels: Vec<Arc<BTreeMap<String, String>>> = streams
            .into_iter()
            .map(|(s, _)| Arc::new(s.0.into_iter().collect()))
            .collect();
        let services: Vec<Arc<str>> = services.into_iter().map(Arc::from).collect();
        let lines = records
            .into_iter()
            .zip(ids)
            .map(|(r, id)| {
                tail::TailLine::new(
                    r.time_us,
                    id,
                    labels[r.stream].clone(),
                    services[r.stream].clone(),
                    r.severity,
                    r.body,
                    r.fields,
                    (r.trace_id, r.span_id),
                )
            })
            .collect();
        self.0.tail.push(lines);
    }

    /// Takes each stream's bytes from its bucket, or refuses the whole write (nothing taken).
    fn charge_streams(&self, batch: &Batch) -> Result<(), LogsError> {
        let limits = &self.0.limits;
        let mut bytes = vec![0u64; batch.streams.len()];
        for r in &batch.records {
            bytes[r.stream] += r.body.len() as u64 + r.fields.len() as u64;
        }
        let rate = limits.stream_rate_bytes.max(1) as f64;
        let burst = limits.stream_burst_bytes.max(limits.stream_rate_bytes) as f64;
        let now = Instant::now();
        let mut rates = self.0.rates.lock().unwrap_or_else(|e| e.into_inner());
        if rates.len() > 4 * limits.max_streams.max(1) as usize {
            rates.retain(|_, b| now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        for ((stream, hash), &want) in batch.streams.iter().zip(&bytes) {
            let bucket = rates.get(hash);
            let tokens = bucket.map_or(burst, |b| {
                (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst)
            });
            if want as f64 > tokens {
                let missing = want as f64 - tokens;
                return Err(LogsError::StreamRate {
                    stream: labels_text(&stream.0),
                    rate: limits.stream_rate_bytes,
                    retry_after_secs: ((missing / rate).ceil() as u64).max(1),
                });
            }
        }
        for ((_, hash), &want) in batch.streams.iter().zip(&bytes) {
            let tokens = rates.get(hash).map_or(burst, |b| {
                (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst)
            });
            rates.insert(
                *hash,
                Bucket {
                    tokens: tokens - want as f64,
                    at: now,
                },
            );
        }
        Ok(())
    }

    /// The id of every stream of a batch, in its order, storing the new ones.
    async fn stream_ids(&self, streams: &[(Stream, [u8; 32])]) -> Result<Vec<i64>, LogsError> {
        let mut ids = vec![0i64; streams.len()];
        let mut missing = Vec::new();
        {
            let cache = self.0.stream_ids.lock().unwrap_or_else(|e| e.into_inner());
            for (i, (_, hash)) in streams.iter().enumerate() {
                match cache.get(hash) {
                    Some(id) => ids[i] = *id,
                    None => missing.push(i),
                }
            }
        }
        if missing.is_empty() {
            return Ok(ids);
        }
        let mut conn = self.0.pool.acquire().await?;
        let mut count = self.0.stream_count.load(Ordering::Relaxed);
        if count < 0 {
            count = db::count_streams(&mut *conn).await?;
        }
        if count + missing.len() as i64 > self.0.limits.max_streams {
            // The count may be stale (other replicas, streams seen before): count again.
            count = db::count_streams(&mut *conn).await?;
            self.0.stream_count.store(count, Ordering::Relaxed);
            if count + missing.len() as i64 > self.0.limits.max_streams {
                let known: Vec<&[u8]> = missing.iter().map(|&i| &streams[i].1[..]).collect();
                let existing = db::count_known_streams(&mut *conn, &known).await?;
                if count + missing.len() as i64 - existing > self.0.limits.max_streams {
                    return Err(LogsError::TooManyStreams {
                        limit: self.0.limits.max_streams,
                    });
                }
            }
        }
        let services: Vec<String> = missing.iter().map(|&i| streams[i].0.service()).collect();
        let new: Vec<db::NewStream> = missing
            .iter()
            .zip(&services)
            .map(|(&i, service)| db::NewStream {
                hash: &streams[i].1,
                labels: serde_json::to_value(&streams[i].0 .0).unwrap_or(Value::Null),
                service,
            })
            .collect();
        let found = db::upsert_streams(&mut conn, &new).await?;
        let mut cache = self.0.stream_ids.lock().unwrap_or_else(|e| e.into_inner());
        for (hash, id) in found {
            if let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) {
                cache.insert(hash, id);
            }
        }
        self.0
            .stream_count
            .store(count + missing.len() as i64, Ordering::Relaxed);
        for i in missing {
            ids[i] = *cache.get(&streams[i].1).ok_or_else(|| {
                LogsError::Database(sqlx::Error::Protocol("a stream was not stored".into()))
            })?;
        }
        Ok(ids)
    }

    async fn ensure_partitions(&self, days: &HashSet<i64>) -> Result<(), LogsError> {
        let mut known = self.0.partitions.lock().await;
        for &day in days {
            if known.insert(day) {
                if let Err(e) = db::create_partition(&self.0.pool, day).await {
                    known.remove(&day);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    /// Runs a read under the shared read admission and the search time limit.
    /// The work runs in a read-only transaction whose statements PostgreSQL itself stops at
    /// the time limit, so a search whose request was dropped (the client went away) does not
    /// go on running in the database either.
    async fn read<T, F>(
        &self,
        work: impl FnOnce(sqlx::Transaction<'static, sqlx::Postgres>) -> F,
    ) -> Result<T, LogsError>
    where
        F: std::future::Future<Output = Result<T, LogsError>>,
    {
        let timeout = self.0.limits.query_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let _slot = self.0.reads.enter(deadline).await?;
        let mut tx = self.0.pool.begin().await?;
        db::limit_transaction(&mut tx, timeout).await?;
        let out = tokio::time::timeout_at(deadline, work(tx)).await;
        match out {
            Ok(Err(LogsError::Database(sqlx::Error::Database(e))))
                if e.code().as_deref() == Some("57014") =>
            {
                Err(LogsError::TimedOut(timeout))
            }
            Ok(result) => result,
            Err(_) => Err(LogsError::TimedOut(timeout)),
        }
    }

    /// The newest lines matching `condition` in the search's range, at most `max`, and whether
    /// those were all of them (error groups and patterns read these).
    async fn newest_lines(
        &self,
        condition: db::Condition,
        search: &Search<'_>,
        max: i64,
    ) -> Result<(Vec<LogLine>, bool), LogsError> {
        check_range(search)?;
        let range = (search.from_us, search.to_us);
        let rows = self
            .read(|mut tx| async move {
                if db::uses_an_inverted_index(&condition) {
                    db::prefer_inverted_indexes(&mut tx).await?;
                }
                Ok(db::lines_in_order(&mut tx, &condition, range, true, max + 1).await?)
            })
            .await?;
        let complete = rows.len() as i64 <= max;
        let lines = rows.into_iter().take(max as usize).map(line_of).collect();
        Ok((lines, complete))
    }

    /// The newest matching lines, `limit` at most, older than the line `before` names.
    pub async fn search(
        &self,
        search: &Search<'_>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<LogPage, LogsError> {
        let condition = query::parse(search.query)?;
        check_range(search)?;
        let before = before.map(parse_cursor).transpose()?;
        let limit = limit.clamp(1, MAX_PAGE);
        let (from_us, to_us) = (search.from_us, search.to_us);
        let rows = self
            .read(|mut tx| async move {
                let mut rows = Vec::new();
                let mut end = before.map_or(to_us, |(t, _)| (t + 1).min(to_us));
                let need = db::stored_need(&mut tx, &condition).await?;
                if db::uses_an_inverted_index(&condition) {
                    // First the newest lines in time order, as far as WALKED_LINES: a common
                    // term is answered there at once, where its index would hand over every
                    // line of the day holding it to be sorted. What is not found there is
                    // rare enough for the index, over a span of time the walk's hits say
                    // should hold the rest (`index_span`), each look-up an index scan of
                    // every partition it touches.
                    let edge =
                        db::newest_edge(&mut *tx, (from_us, end), before, WALKED_LINES).await?;
                    let walked = (edge.map_or(from_us, |t| t + 1), end);
                    rows.extend(
                        db::search(&mut tx, &condition, walked, before, limit + 1, None).await?,
                    );
                    // The walk's own span, from its newest line: lines come in bursts, and
                    // the quiet time since the last one says nothing about how many lines a
                    // span of time holds.
                    let newest = db::newest_edge(&mut *tx, walked, before, 0).await?;
                    let mut scanned = newest.map_or(0, |t| t + 1 - walked.0);
                    end = walked.0;
                    db::prefer_inverted_indexes(&mut tx).await?;
                    while end > from_us {
                        let wanted = limit + 1 - rows.len() as i64;
                        if wanted <= 0 {
                            break;
                        }
                        let width = index_span(scanned, rows.len() as i64, wanted);
                        let slice = (end.saturating_sub(width).max(from_us), end);
                        rows.extend(
                            db::search(&mut tx, &condition, slice, before, wanted, need.as_ref())
                                .await?,
                        );
                        scanned = scanned.saturating_add(slice.1 - slice.0);
                        end = slice.0;
                    }
                }
                // Newest first, a slice of time at a time (`db::slices`).
                for slice in db::slices((from_us, end)) {
                    let wanted = limit + 1 - rows.len() as i64;
                    if wanted <= 0 {
                        break;
                    }
                    rows.extend(
                        db::search(&mut tx, &condition, slice, before, wanted, need.as_ref())
                            .await?,
                    );
                }
                Ok(rows)
            })
            .await?;
        let more = rows.len() as i64 > limit;
        let lines: Vec<LogLine> = rows.into_iter().take(limit as usize).map(line_of).collect();
        let next = if more {
            lines.last().map(|l| l.cursor.clone())
        } else {
            None
        };
        Ok(LogPage { lines, next })
    }

    /// Matching lines over time by level, in about `buckets` buckets of a round size.
    pub async fn histogram(
        &self,
        search: &Search<'_>,
        buckets: i64,
    ) -> Result<LogHistogram, LogsError> {
        let condition = query::parse(search.query)?;
        check_range(search)?;
        let step_us = round_step((search.to_us - search.from_us) / buckets.clamp(1, 1000));
        let (from_us, to_us) = (search.from_us, search.to_us);
        let rows = self
            .read(|mut tx| async move {
                // Whole minutes from the counts when they can answer; the lines themselves
                // for the rest (the partial minutes at the ends, or every line).
                const MINUTE: i64 = 60_000_000;
                let inner = (
                    from_us.div_euclid(MINUTE) * MINUTE
                        + if from_us.rem_euclid(MINUTE) > 0 {
                            MINUTE
                        } else {
                            0
                        },
                    to_us.div_euclid(MINUTE) * MINUTE,
                );
                let need = db::stored_need(&mut tx, &condition).await?;
                if step_us % MINUTE != 0 || inner.0 >= inner.1 || !db::counted_by_minute(&condition)
                {
                    if db::uses_an_inverted_index(&condition) {
                        db::prefer_inverted_indexes(&mut tx).await?;
                    }
                    let range = (from_us, to_us);
                    return Ok(
                        db::histogram(&mut tx, &condition, range, step_us, need.as_ref()).await?,
                    );
                }
                let mut rows =
                    db::histogram_by_minute(&mut *tx, &condition, inner, step_us).await?;
                for edge in [(from_us, inner.0), (inner.1, to_us)] {
                    if edge.0 < edge.1 {
                        rows.extend(
                            db::histogram(&mut tx, &condition, edge, step_us, need.as_ref())
                                .await?,
                        );
                    }
                }
                Ok(rows)
            })
            .await?;
        let mut by_bucket: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
        let mut total = 0;
        for (bucket, class, count) in rows {
            let count = count.max(0) as u64;
            total += count;
            *by_bucket
                .entry(bucket)
                .or_default()
                .entry(level_name(class as u8).to_string())
                .or_default() += count;
        }
        // Every bucket of the range, empty ones too, so charts need not fill gaps.
        let first = search.from_us.div_euclid(step_us) * step_us;
        let mut buckets_out = Vec::new();
        let mut at = first;
        while at < search.to_us {
            buckets_out.push(LogBucket {
                time: store::utc(at / 1000),
                counts: by_bucket.remove(&at).unwrap_or_default(),
            });
            at += step_us;
        }
        Ok(LogHistogram {
            step_ms: step_us / 1000,
            buckets: buckets_out,
            total,
        })
    }

    /// The most common values of each field among the newest matching lines.
    pub async fn facets(&self, search: &Search<'_>) -> Result<LogFacets, LogsError> {
        let condition = query::parse(search.query)?;
        check_range(search)?;
        let range = (search.from_us, search.to_us);
        let (sampled, rows) = self
            .read(|mut tx| async move {
                if db::uses_an_inverted_index(&condition) {
                    db::prefer_inverted_indexes(&mut tx).await?;
                }
                Ok(db::facets(&mut tx, &condition, range, FACET_SAMPLE, 10).await?)
            })
            .await?;
        let mut fields: Vec<LogFacet> = Vec::new();
        for (field, value, count) in rows {
            let value = if field == "level" {
                level_name(value.parse().unwrap_or(0)).to_string()
            } else {
                value
            };
            match fields.last_mut() {
                Some(f) if f.field == field => f.values.push((value, count as u64)),
                _ => fields.push(LogFacet {
                    field,
                    values: vec![(value, count as u64)],
                }),
            }
        }
        Ok(LogFacets {
            sampled: sampled as u64,
            fields,
        })
    }

    /// The lines of the same stream around the line `cursor` names.
    pub async fn context(
        &self,
        cursor: &str,
        before: i64,
        after: i64,
    ) -> Result<LogContext, LogsError> {
        let at = parse_cursor(cursor)?;
        let (before, after) = (before.clamp(0, MAX_CONTEXT), after.clamp(0, MAX_CONTEXT));
        self.read(|mut tx| async move {
            let line = db::line(&mut *tx, at.0, at.1).await?.ok_or_else(|| {
                LogsError::NotFound(
                    "no line with this cursor (it may be past the retention)".into(),
                )
            })?;
            let mut older = db::neighbours(&mut *tx, line.stream_id, at, true, before).await?;
            older.reverse();
            let newer = db::neighbours(&mut *tx, line.stream_id, at, false, after).await?;
            Ok(LogContext {
                before: older.into_iter().map(line_of).collect(),
                line: line_of(line),
                after: newer.into_iter().map(line_of).collect(),
            })
        })
        .await
    }

    /// Rebuilds the token index of each day partition whose day ended (an hour ago at least)
    /// and was not rebuilt yet; how many were. A day's index grown line by line is several
    /// times the size of the same index built at once.
    pub async fn compact_closed_days(&self) -> Result<usize, LogsError> {
        let closed_before = chrono::Utc::now().timestamp_micros() - 3_600_000_000;
        let done: HashSet<String> = db::compacted_partitions(&self.0.pool)
            .await?
            .into_iter()
            .collect();
        let mut compacted = 0;
        for name in db::select_partitions(&self.0.pool).await? {
            let Some(day) = db::partition_day(&name) else {
                continue;
            };
            if day + 86_400_000_000 <= closed_before && !done.contains(&name) {
                db::compact_partition(&self.0.pool, &name).await?;
                compacted += 1;
            }
        }
        Ok(compacted)
    }

    /// Folds the per-minute counts writers appended into one row a minute, stream and level,
    /// a bounded number at a time until none is left; how many keys were folded.
    pub async fn fold_counts(&self) -> Result<u64, LogsError> {
        const KEYS: i64 = 5_000;
        let mut folded = 0;
        loop {
            let n = db::fold_counts(&self.0.pool, KEYS).await?;
            folded += n;
            if n < KEYS as u64 {
                return Ok(folded);
            }
        }
    }

    /// Merges the token entries written to today's and yesterday's partitions since the last
    /// pass into their indexes (writers leave them pending, `db::copy_lines`).
    pub async fn clean_pending_tokens(&self) -> Result<(), LogsError> {
        let today = db::day_of(chrono::Utc::now().timestamp_micros());
        Ok(db::clean_pending_tokens(&self.0.pool, &[today, today - 86_400_000_000]).await?)
    }

    /// Drops the partitions whose whole day is older than the retention; how many went.
    pub async fn drop_expired(&self) -> Result<usize, LogsError> {
        let cut = chrono::Utc::now().timestamp_micros()
            - self
                .0
                .limits
                .retention
                .num_microseconds()
                .unwrap_or(i64::MAX / 2);
        let mut dropped = 0;
        db::delete_counts_before(
            &self.0.pool,
            cut.div_euclid(86_400_000_000) * 86_400_000_000,
        )
        .await?;
        db::forget_error_groups_before(&self.0.pool, cut).await?;
        for name in db::select_partitions(&self.0.pool).await? {
            let Some(day) = db::partition_day(&name) else {
                continue;
            };
            if day + 86_400_000_000 <= cut {
                if let Some(dir) = &self.0.limits.archive_dir {
                    // Written and synced before the lines go; a failed archive keeps them.
                    self.archive_partition(dir, &name, day).await?;
                }
                store::chunks::drop_partition(&self.0.pool, &name).await?;
                db::forget_compacted(&self.0.pool, &name).await?;
                self.0.partitions.lock().await.remove(&day);
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}

/// The tokens of a line's body and fields, sorted and distinct.
fn line_tokens(body: &str, fields: &Value) -> Vec<i32> {
    let mut tokens = Vec::with_capacity(32);
    db::push_word_tokens(body, &mut tokens);
    if let Value::Object(fields) = fields {
        for (name, value) in fields {
            if let Some(text) = db::field_value_text(value) {
                tokens.push(db::field_token(name, &text));
            }
        }
    }
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

/// The level class of a severity: the level's lowest severity number (0 unknown), as the
/// store's histograms count.
fn level_class(severity: u8) -> i16 {
    match severity {
        1..=24 => i16::from((severity - 1) / 4 * 4 + 1),
        _ => 0,
    }
}

fn memchr_u0000(bytes: &[u8]) -> bool {
    bytes.windows(6).any(|w| w == b"\\u0000")
}

/// A trace or span id given as a field: 16 or 32 hex digits (8 or 16 bytes).
fn id_field(fields: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| match fields.get(*name) {
        Some(Value::String(s))
            if matches!(s.len(), 16 | 32) && s.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Some(s.to_ascii_lowercase())
        }
        _ => None,
    })
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn check_range(search: &Search<'_>) -> Result<(), LogsError> {
    if search.to_us <= search.from_us {
        return Err(LogsError::invalid("to", "must be after from"));
    }
    Ok(())
}

/// A line's cursor: its time (µs) and id.
fn cursor_of(time_us: i64, id: i64) -> String {
    format!("{time_us}-{id}")
}

fn parse_cursor(cursor: &str) -> Result<(i64, i64), LogsError> {
    cursor
        .split_once('-')
        .and_then(|(t, id)| Some((t.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| LogsError::invalid("cursor", format!("{cursor:?} is not a line's cursor")))
}

/// A round bucket size (µs) at least `min_us`.
fn round_step(min_us: i64) -> i64 {
    const STEPS_S: [i64; 16] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 10_800, 21_600, 43_200,
    ];
    STEPS_S
        .iter()
        .map(|s| s * 1_000_000)
        .find(|s| *s >= min_us)
        .unwrap_or_else(|| {
            let day = 86_400_000_000;
            ((min_us + day - 1) / day).max(1) * day
        })
}

fn line_of(row: db::LineRow) -> LogLine {
    let severity = u8::try_from(row.severity).unwrap_or(0);
    let labels = match row.labels {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string()),
                )
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    LogLine {
        cursor: cursor_of(row.time_us, row.id),
        time: store::utc(0) + chrono::Duration::microseconds(row.time_us),
        service: row.service,
        level: level_name(severity).to_string(),
        severity,
        body: row.body,
        labels,
        fields: match row.fields {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        trace_id: row.trace_id,
        span_id: row.span_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_spans_reach_the_wanted_lines_in_few_look_ups() {
        let minute = 60_000_000;
        // 30 s walked, nothing found, 101 wanted: about 101 minutes next.
        assert_eq!(index_span(minute / 2, 0, 101), 101 * minute);
        // 40 found in 100 minutes, 61 wanted: the span that should hold them, twice over.
        assert_eq!(index_span(100 * minute, 40, 61), 305 * minute);
        // Nearly there: never less than what was read so far.
        assert_eq!(index_span(10 * minute, 100, 1), 10 * minute);
        assert_eq!(index_span(0, 0, 1), 2_000_000);
        assert_eq!(index_span(i64::MAX / 2, 0, 1000), i64::MAX);
    }

    #[test]
    fn steps_are_round_and_cursors_round_trip() {
        assert_eq!(round_step(1), 1_000_000);
        assert_eq!(round_step(40_000_000), 60_000_000);
        assert_eq!(round_step(3 * 86_400_000_000), 3 * 86_400_000_000);
        assert_eq!(
            parse_cursor(&cursor_of(1_700_000_000_000_000, 42)).unwrap(),
            (1_700_000_000_000_000, 42)
        );
        assert!(parse_cursor("nope").is_err());
    }
}
