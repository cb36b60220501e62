//! Live tail. Each replica keeps the lines it has just stored in a ring (numbered in the order
//! they were stored, bounded in lines and bytes); a tail reads the ring from its own position
//! and filters with the same query as search, so ingest never waits on a tail and there is no
//! cap on how many tails run or for how long. A tail that falls behind the ring's end is told
//! how many lines it missed, and goes on from the oldest line still kept. A reconnecting tail
//! names the position it had reached and resumes exactly there while the ring still holds it,
//! else from the stored lines since its last line's time.

use super::{line_of, query, LogsError, LogsService};
use crate::store::logs::{self as db, Condition, Field, Op};
use app::api::logs::LogLine;
use serde_json::{Map, Value};
use std::{
    collections::{BTreeMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, OnceLock,
    },
};
use tokio::sync::watch;

/// Most lines and bytes the ring keeps.
pub const RING_LINES: usize = 200_000;
pub const RING_BYTES: usize = 64 << 20;
/// Most lines one tail event carries.
pub const EVENT_LINES: usize = 500;
/// Most stored lines a tail starts with.
pub const HISTORY_LINES: i64 = 1000;

/// A stored line as the tail sees it.
pub struct TailLine {
    pub time_us: i64,
    pub id: i64,
    pub labels: Arc<BTreeMap<String, String>>,
    pub service: Arc<str>,
    pub severity: u8,
    pub body: String,
    /// The fields as JSON text, read when a condition needs them.
    pub fields_json: Vec<u8>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    fields: OnceLock<Map<String, Value>>,
}

impl TailLine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        time_us: i64,
        id: i64,
        labels: Arc<BTreeMap<String, String>>,
        service: Arc<str>,
        severity: u8,
        body: String,
        fields_json: Vec<u8>,
        (trace_id, span_id): (Option<String>, Option<String>),
    ) -> Self {
        Self {
            time_us,
            id,
            labels,
            service,
            severity,
            body,
            fields_json,
            trace_id,
            span_id,
            fields: OnceLock::new(),
        }
    }

    fn fields(&self) -> &Map<String, Value> {
        self.fields
            .get_or_init(|| serde_json::from_slice(&self.fields_json).unwrap_or_default())
    }

    fn size(&self) -> usize {
        96 + self.body.len() + self.fields_json.len()
    }

    pub(super) fn to_log_line(&self) -> LogLine {
        line_of(db::LineRow {
            time_us: self.time_us,
            id: self.id,
            stream_id: 0,
            service: self.service.to_string(),
            severity: i16::from(self.severity),
            body: self.body.clone(),
            fields: Value::Object(self.fields().clone()),
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
            labels: serde_json::to_value(&*self.labels).unwrap_or(Value::Null),
        })
    }
}

struct Batch {
    /// The position of its first line.
    first: u64,
    lines: Vec<TailLine>,
    bytes: usize,
}

/// The ring of lines just stored.
pub struct Ring {
    batches: Mutex<RingState>,
    /// The position after the newest line: changes wake the tails.
    end: watch::Sender<u64>,
    /// Tails running on this replica: lines other replicas stored are fetched only then.
    tails: Arc<AtomicUsize>,
}

struct RingState {
    batches: VecDeque<Arc<Batch>>,
    lines: usize,
    bytes: usize,
    next: u64,
}

impl Default for Ring {
    fn default() -> Self {
        Self {
            batches: Mutex::new(RingState {
                batches: VecDeque::new(),
                lines: 0,
                bytes: 0,
                next: 0,
            }),
            end: watch::channel(0).0,
            tails: Arc::default(),
        }
    }
}

impl Ring {
    /// Adds lines just committed; the oldest go past the bounds.
    pub fn push(&self, lines: Vec<TailLine>) {
        if lines.is_empty() {
            return;
        }
        let bytes = lines.iter().map(TailLine::size).sum();
        let mut ring = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let batch = Arc::new(Batch {
            first: ring.next,
            bytes,
            lines,
        });
        ring.next += batch.lines.len() as u64;
        ring.lines += batch.lines.len();
        ring.bytes += bytes;
        ring.batches.push_back(batch);
        while ring.batches.len() > 1 && (ring.lines > RING_LINES || ring.bytes > RING_BYTES) {
            if let Some(old) = ring.batches.pop_front() {
                ring.lines -= old.lines.len();
                ring.bytes -= old.bytes;
            }
        }
        let end = ring.next;
        drop(ring);
        self.end.send_replace(end);
    }

    /// The position after the newest line.
    pub fn end(&self) -> u64 {
        *self.end.borrow()
    }

    /// The batches holding lines from `position` on, and how many lines before them are no
    /// longer kept.
    fn from(&self, position: u64) -> (Vec<Arc<Batch>>, u64) {
        let ring = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = ring.batches.front().map_or(ring.next, |b| b.first);
        let missed = oldest.saturating_sub(position);
        let out = ring
            .batches
            .iter()
            .filter(|b| b.first + b.lines.len() as u64 > position)
            .cloned()
            .collect();
        (out, missed)
    }

    /// Whether `position` is still held (or is the end).
    fn holds(&self, position: u64) -> bool {
        let ring = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = ring.batches.front().map_or(ring.next, |b| b.first);
        position >= oldest && position <= ring.next
    }
}

/// Where a tail starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailFrom {
    /// With the newest stored lines (up to `HISTORY_LINES`) since this time (µs).
    Since(i64),
    /// Where a tail of this replica stopped (its last event's id), exactly when the ring
    /// still holds it; else from the stored lines since that event's last line.
    Resume(String),
}

/// What a tail sends.
#[derive(Debug)]
pub enum TailEvent {
    /// Matching lines, oldest first, and the position to resume from after them.
    Lines { lines: Vec<LogLine>, resume: String },
    /// Lines the tail fell too far behind to see (they may or may not have matched).
    Dropped { lines: u64, resume: String },
}

/// One running tail.
pub struct Tail {
    logs: LogsService,
    matcher: Matcher,
    position: u64,
    end: watch::Receiver<u64>,
    history: Option<Vec<LogLine>>,
    /// Lines sent from the store at the start, which the ring may hold too.
    sent: HashSet<(i64, i64)>,
    last_time_us: i64,
    _running: Running,
}

/// Counts a running tail while it lives.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LogsService {
    /// Starts a tail of the lines matching `query_text`.
    pub async fn tail(&self, query_text: &str, from: TailFrom) -> Result<Tail, LogsError> {
        let condition = query::parse(query_text)?;
        self.tail_condition(condition, from, HISTORY_LINES).await
    }

    /// Starts a tail of the lines matching a condition (LogQL's tail builds its own).
    pub async fn tail_condition(
        &self,
        condition: Condition,
        from: TailFrom,
        history_lines: i64,
    ) -> Result<Tail, LogsError> {
        let matcher = Matcher::new(&condition)?;
        let ring = &self.0.tail;
        let end = ring.end.subscribe();
        let resume = match &from {
            TailFrom::Resume(id) => parse_resume(id, &self.0.instance),
            TailFrom::Since(_) => None,
        };
        if let (Some(Resume::Here(position)), TailFrom::Resume(id)) = (&resume, &from) {
            if ring.holds(*position) {
                return Ok(Tail {
                    logs: self.clone(),
                    matcher,
                    position: *position,
                    end,
                    history: None,
                    sent: HashSet::new(),
                    last_time_us: last_time_of(id),
                    _running: Running::new(&ring.tails),
                });
            }
        }
        let since = match (&from, resume) {
            (TailFrom::Since(t), _) => *t,
            (TailFrom::Resume(_), Some(Resume::Elsewhere(t))) => t,
            (TailFrom::Resume(id), _) => last_time_of(id),
        };
        // Take the ring's position first: a line stored while the history is read is then in
        // both, and sent once.
        let position = ring.end();
        let to_us = chrono::Utc::now().timestamp_micros() + 1_000_000;
        let mut rows = self
            .read(|mut tx| async move {
                let need = db::stored_need(&mut tx, &condition).await?;
                Ok(db::search(
                    &mut tx,
                    &condition,
                    (since.saturating_add(1), to_us),
                    None,
                    history_lines.clamp(0, HISTORY_LINES),
                    need.as_ref(),
                )
                .await?)
            })
            .await?;
        rows.reverse();
        let sent = rows.iter().map(|r| (r.time_us, r.id)).collect();
        let history: Vec<LogLine> = rows.into_iter().map(line_of).collect();
        let last_time_us = history.last().map_or(since, |l| l.time.timestamp_micros());
        Ok(Tail {
            logs: self.clone(),
            matcher,
            position,
            end,
            history: Some(history),
            sent,
            last_time_us,
            _running: Running::new(&self.0.tail.tails),
        })
    }
}

/// What a replica announces of the lines it has committed: itself, the runs of their ids and
/// their time range, as few notifications as fit PostgreSQL's payload limit.
#[derive(serde::Serialize, serde::Deserialize)]
struct Announcement {
    i: String,
    r: Vec<(i64, i64)>,
    t: (i64, i64),
}

/// Most bytes of one notification's payload (PostgreSQL's limit is 8000).
const MAX_PAYLOAD: usize = 7000;

pub fn announcements(instance: &str, ids: &[i64], times: impl Iterator<Item = i64>) -> Vec<String> {
    let (mut low, mut high) = (i64::MAX, i64::MIN);
    for t in times {
        low = low.min(t);
        high = high.max(t);
    }
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for id in sorted {
        match runs.last_mut() {
            Some(run) if run.1 + 1 == id => run.1 = id,
            _ => runs.push((id, id)),
        }
    }
    // A run is at most 42 bytes of JSON: chunks of runs that stay under the limit.
    runs.chunks(MAX_PAYLOAD / 42)
        .filter_map(|chunk| {
            serde_json::to_string(&Announcement {
                i: instance.to_string(),
                r: chunk.to_vec(),
                t: (low, high),
            })
            .ok()
        })
        .collect()
}

impl LogsService {
    /// Feeds this replica's ring with the lines other replicas commit, while tails run here:
    /// listens for their announcements and reads the lines they name. Runs until `stop`.
    pub async fn feed_tails_from_other_replicas(
        &self,
        stop: tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.0.pool).await?;
        listener.listen(db::LINES_CHANNEL).await?;
        loop {
            let notification = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                n = listener.recv() => n?,
            };
            if self.0.tail.tails.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let Ok(a) = serde_json::from_str::<Announcement>(notification.payload()) else {
                continue;
            };
            if a.i == self.0.instance || a.r.is_empty() {
                continue;
            }
            let rows = db::lines_by_ids(&self.0.pool, &a.r, a.t).await?;
            let lines = rows
                .into_iter()
                .map(|row| {
                    let labels = match row.labels {
                        Value::Object(map) => map
                            .into_iter()
                            .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_default()))
                            .collect(),
                        _ => BTreeMap::new(),
                    };
                    TailLine::new(
                        row.time_us,
                        row.id,
                        Arc::new(labels),
                        row.service.into(),
                        u8::try_from(row.severity).unwrap_or(0),
                        row.body,
                        serde_json::to_vec(&row.fields).unwrap_or_default(),
                        (row.trace_id, row.span_id),
                    )
                })
                .collect();
            self.0.tail.push(lines);
        }
    }
}

enum Resume {
    /// A position of this replica's ring.
    Here(u64),
    /// Another replica's (or an earlier process'): resume by the time of its last line.
    Elsewhere(i64),
}

/// `instance.position.time_us`.
fn parse_resume(id: &str, instance: &str) -> Option<Resume> {
    let mut parts = id.rsplitn(3, '.');
    let time_us: i64 = parts.next()?.parse().ok()?;
    let position: u64 = parts.next()?.parse().ok()?;
    let of = parts.next()?;
    Some(if of == instance {
        Resume::Here(position)
    } else {
        Resume::Elsewhere(time_us)
    })
}

fn last_time_of(id: &str) -> i64 {
    id.rsplit('.')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| chrono::Utc::now().timestamp_micros() - 60_000_000)
}

impl Tail {
    fn resume_id(&self) -> String {
        format!(
            "{}.{}.{}",
            self.logs.0.instance, self.position, self.last_time_us
        )
    }

    /// The next event: the history first (possibly empty), then lines as they are stored.
    /// Waits while there is nothing new; cancel-safe (drop it to stop the tail).
    pub async fn next(&mut self) -> TailEvent {
        if let Some(lines) = self.history.take() {
            return TailEvent::Lines {
                lines,
                resume: self.resume_id(),
            };
        }
        loop {
            let (batches, missed) = self.logs.0.tail.from(self.position);
            if missed > 0 {
                self.position += missed;
                self.sent.clear();
                return TailEvent::Dropped {
                    lines: missed,
                    resume: self.resume_id(),
                };
            }
            let mut out = Vec::new();
            'batches: for batch in &batches {
                let skip = self.position.saturating_sub(batch.first) as usize;
                for line in &batch.lines[skip..] {
                    self.position += 1;
                    if self.matcher.matches(line) && !self.sent.remove(&(line.time_us, line.id)) {
                        self.last_time_us = self.last_time_us.max(line.time_us);
                        out.push(line.to_log_line());
                        if out.len() >= EVENT_LINES {
                            break 'batches;
                        }
                    }
                }
            }
            if !out.is_empty() {
                return TailEvent::Lines {
                    lines: out,
                    resume: self.resume_id(),
                };
            }
            if self.position >= *self.end.borrow_and_update() && self.end.changed().await.is_err() {
                // The service is gone (shutting down): wait to be dropped.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// A condition made ready to test lines in memory, as the store would in SQL.
pub(super) enum Matcher {
    All,
    Words(Vec<(String, bool)>),
    Phrase(String),
    Contains(String),
    Regex(Field, regex::Regex),
    Equals(Field, String),
    Prefix(Field, String),
    Compare(Field, Op, f64),
    Exists(Field),
    Not(Box<Matcher>),
    And(Vec<Matcher>),
    Or(Vec<Matcher>),
}

impl Matcher {
    pub(super) fn new(condition: &Condition) -> Result<Self, LogsError> {
        Ok(match condition {
            Condition::All => Matcher::All,
            Condition::Words(words) => Matcher::Words(
                words
                    .iter()
                    .map(|w| match w.strip_suffix('*') {
                        Some(stem) => (stem.to_lowercase(), true),
                        None => (w.to_lowercase(), false),
                    })
                    .collect(),
            ),
            Condition::Phrase(text) => Matcher::Phrase(text.to_lowercase()),
            Condition::Contains(text) => Matcher::Contains(text.clone()),
            Condition::Regex {
                field,
                pattern,
                case_insensitive,
            } => Matcher::Regex(
                field.clone(),
                regex::RegexBuilder::new(pattern)
                    .case_insensitive(*case_insensitive)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| LogsError::Invalid {
                        field: "query".into(),
                        message: format!("not a regular expression: {e}"),
                    })?,
            ),
            Condition::Equals { field, value } => Matcher::Equals(field.clone(), value.clone()),
            Condition::Prefix { field, prefix } => Matcher::Prefix(field.clone(), prefix.clone()),
            Condition::Compare { field, op, value } => Matcher::Compare(field.clone(), *op, *value),
            Condition::Exists(field) => Matcher::Exists(field.clone()),
            Condition::Not(inner) => Matcher::Not(Box::new(Matcher::new(inner)?)),
            Condition::And(parts) => {
                Matcher::And(parts.iter().map(Matcher::new).collect::<Result<_, _>>()?)
            }
            Condition::Or(parts) => {
                Matcher::Or(parts.iter().map(Matcher::new).collect::<Result<_, _>>()?)
            }
        })
    }

    pub(super) fn matches(&self, line: &TailLine) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Words(words) => {
                let body = line.body.to_lowercase();
                words.iter().all(|(w, prefix)| has_word(&body, w, *prefix))
            }
            Matcher::Phrase(text) => has_word(&line.body.to_lowercase(), text, false),
            Matcher::Contains(text) => line.body.contains(text.as_str()),
            Matcher::Regex(field, re) => text_of(line, field).is_some_and(|t| re.is_match(&t)),
            Matcher::Equals(field, value) => equals(line, field, value),
            Matcher::Prefix(field, prefix) => {
                text_of(line, field).is_some_and(|t| t.starts_with(prefix.as_str()))
            }
            Matcher::Compare(field, op, value) => {
                let number = match field {
                    Field::Severity => Some(f64::from(line.severity)),
                    Field::Named(name) => match line.fields().get(name) {
                        Some(Value::String(text)) => {
                            text.parse().ok().filter(|n: &f64| n.is_finite())
                        }
                        other => other.and_then(Value::as_f64),
                    },
                    _ => None,
                };
                number.is_some_and(|n| match op {
                    Op::Lt => n < *value,
                    Op::Le => n <= *value,
                    Op::Gt => n > *value,
                    Op::Ge => n >= *value,
                })
            }
            Matcher::Exists(field) => match field {
                Field::Named(name) => {
                    line.fields().contains_key(name) || line.labels.contains_key(name)
                }
                Field::Label(name) => line.labels.contains_key(name),
                Field::TraceId => line.trace_id.is_some(),
                Field::SpanId => line.span_id.is_some(),
                _ => true,
            },
            Matcher::Not(inner) => !inner.matches(line),
            Matcher::And(parts) => parts.iter().all(|p| p.matches(line)),
            Matcher::Or(parts) => parts.iter().any(|p| p.matches(line)),
        }
    }
}

/// `word` as a whole word of `text` (both lower case), or as a word's start with `prefix`: no
/// word character right before it when it starts with one, nor right after it when it ends
/// with one (a phrase's own spaces and signs are boundaries enough).
fn has_word(text: &str, word: &str, prefix: bool) -> bool {
    let is_word = crate::store::logs::is_word_char;
    let starts_word = word.chars().next().is_some_and(is_word);
    let ends_word = !prefix && word.chars().next_back().is_some_and(is_word);
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let cut_before = starts_word && before.is_some_and(is_word);
        let cut_after = ends_word && after.is_some_and(is_word);
        !(cut_before || cut_after)
    })
}

fn text_of(line: &TailLine, field: &Field) -> Option<String> {
    match field {
        Field::Body => Some(line.body.clone()),
        Field::Service => Some(line.service.to_string()),
        Field::TraceId => line.trace_id.clone(),
        Field::SpanId => line.span_id.clone(),
        Field::Severity => None,
        Field::Label(name) => line.labels.get(name).cloned(),
        Field::Named(name) => match line.fields().get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
            None => line.labels.get(name).cloned(),
        },
    }
}

fn equals(line: &TailLine, field: &Field, value: &str) -> bool {
    match field {
        Field::Named(name) => match line.fields().get(name) {
            Some(Value::String(s)) => s == value,
            Some(Value::Number(n)) => value.parse::<f64>().ok() == n.as_f64(),
            Some(Value::Bool(b)) => value.parse::<bool>().ok() == Some(*b),
            _ => line.labels.get(name).is_some_and(|v| v == value),
        },
        Field::Severity => false,
        other => text_of(line, other).is_some_and(|t| t == value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(body: &str, fields: Value) -> TailLine {
        TailLine::new(
            1,
            1,
            Arc::new([("app".to_string(), "api".to_string())].into()),
            "api".into(),
            17,
            body.into(),
            serde_json::to_vec(&fields).unwrap(),
            (Some("abc".into()), None),
        )
    }

    fn matches(query: &str, line: &TailLine) -> bool {
        Matcher::new(&query::parse(query).unwrap())
            .unwrap()
            .matches(line)
    }

    #[test]
    fn lines_match_in_memory_as_they_would_in_sql() {
        let l = line(
            "Tool search failed: upstream timeout (coder-1)",
            serde_json::json!({"status": 504, "agent_id": "coder-1", "ok": false}),
        );
        for (query, expected) in [
            ("timeout", true),
            ("time", false),
            ("time*", true),
            ("TIMEOUT upstream", true),
            ("\"upstream timeout\"", true),
            ("\"timeout upstream\"", false),
            // A phrase is found as whole words at the ends made of word characters.
            ("\"pstream timeou\"", false),
            ("\"timeout (\"", true),
            ("\": upstream\"", true),
            ("status:504", true),
            ("status>=500 level>=error", true),
            ("level:warn", false),
            ("agent_id:coder-*", true),
            ("app:api", true),
            ("-timeout", false),
            ("nothing OR search", true),
            ("/fail(ed|ure)/", true),
            ("ok:false", true),
            ("trace_id:*", true),
            ("span_id:*", false),
        ] {
            assert_eq!(matches(query, &l), expected, "{query}");
        }
    }

    #[test]
    fn the_ring_is_bounded_and_says_what_a_late_reader_missed() {
        let ring = Ring::default();
        for _ in 0..3 {
            ring.push(
                (0..RING_LINES / 2)
                    .map(|_| line("x", serde_json::json!({})))
                    .collect(),
            );
        }
        assert_eq!(ring.end(), 3 * (RING_LINES as u64 / 2));
        let (batches, missed) = ring.from(0);
        assert_eq!(missed, RING_LINES as u64 / 2);
        assert_eq!(batches.len(), 2);
        assert!(ring.holds(RING_LINES as u64 / 2));
        assert!(!ring.holds(0));
        let (batches, missed) = ring.from(ring.end());
        assert_eq!((batches.len(), missed), (0, 0));
    }

    #[test]
    fn announcements_name_runs_of_ids_within_the_payload_limit() {
        let one = announcements("abc", &[5, 3, 4, 9], [10, 30, 20].into_iter());
        assert_eq!(one, vec![r#"{"i":"abc","r":[[3,5],[9,9]],"t":[10,30]}"#]);
        let scattered: Vec<i64> = (0..2000).map(|i| i * 1_000_000_000_000).collect();
        let many = announcements("abc", &scattered, std::iter::once(1));
        assert!(many.len() > 1);
        assert!(many.iter().all(|p| p.len() < 8000));
        let runs: usize = many
            .iter()
            .map(|p| serde_json::from_str::<Announcement>(p).unwrap().r.len())
            .sum();
        assert_eq!(runs, 2000);
    }

    #[test]
    fn resume_ids_name_the_replica_position_and_time() {
        assert!(matches!(
            parse_resume("abc-1.42.1700", "abc-1"),
            Some(Resume::Here(42))
        ));
        assert!(matches!(
            parse_resume("other.42.1700", "abc-1"),
            Some(Resume::Elsewhere(1700))
        ));
        assert!(parse_resume("junk", "abc-1").is_none());
    }
}
