//! Archives: before a day's partition passes the retention and is dropped, its lines are
//! written, oldest first, to `<dir>/logs-YYYY-MM-DD.ndjson.gz`: gzipped NDJSON in the shape
//! `POST /api/logs/lines` reads (`time`, `level`, `labels`, `message`, `trace_id`, `span_id`,
//! the fields as the other keys), synced, then renamed into place; only then is the partition
//! dropped, so a failed archive keeps the lines. An archive is read back by searching it with
//! the same query language (matched in memory, as live tails are), or by posting it to
//! `/api/logs/lines` once the retention covers its day.

use super::{line_of, query, tail::Matcher, tail::TailLine, LogsError, LogsService};
use crate::store::logs as db;
use app::api::logs::{ArchivePage, LogArchive, LogLine};
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use serde_json::{Map, Value};
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::io::AsyncWriteExt;

/// Lines read from the partition at a time while archiving.
const BATCH: i64 = 10_000;
/// Most lines one page of an archive search answers.
pub const MAX_PAGE: usize = 1000;
/// Keys of an archived line that are not fields.
const KNOWN: [&str; 8] = [
    "time", "level", "severity", "service", "labels", "message", "trace_id", "span_id",
];

fn invalid(field: &str, message: impl Into<String>) -> LogsError {
    LogsError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The archive file of the day starting at `day_us`.
fn file_name(day_us: i64) -> String {
    let day = crate::store::utc(day_us / 1000).format("%Y-%m-%d");
    format!("logs-{day}.ndjson.gz")
}

/// Whether `name` is an archive's file name (and nothing that leads elsewhere).
fn is_archive_name(name: &str) -> bool {
    name.strip_prefix("logs-")
        .and_then(|rest| rest.strip_suffix(".ndjson.gz"))
        .is_some_and(|day| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok())
}

/// One stored line as an archived NDJSON object.
fn archived(row: db::LineRow) -> Value {
    let line = line_of(row);
    let mut object = Map::new();
    object.insert(
        "time".into(),
        Value::String(
            line.time
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        ),
    );
    object.insert("level".into(), Value::String(line.level));
    object.insert("severity".into(), Value::from(line.severity));
    object.insert("service".into(), Value::String(line.service));
    object.insert(
        "labels".into(),
        serde_json::to_value(&line.labels).unwrap_or_default(),
    );
    object.insert("message".into(), Value::String(line.body));
    if let Some(t) = line.trace_id {
        object.insert("trace_id".into(), Value::String(t));
    }
    if let Some(s) = line.span_id {
        object.insert("span_id".into(), Value::String(s));
    }
    for (k, v) in line.fields {
        let key = if KNOWN.contains(&k.as_str()) {
            format!("field_{k}")
        } else {
            k
        };
        object.insert(key, v);
    }
    Value::Object(object)
}

/// An archived line as the in-memory matcher reads it (`number`: its line in the file).
fn tail_line(object: Map<String, Value>, number: i64) -> Option<TailLine> {
    let text = |k: &str| object.get(k).and_then(Value::as_str).map(str::to_string);
    let time_us = chrono::DateTime::parse_from_rfc3339(&text("time")?)
        .ok()?
        .timestamp_micros();
    let labels: BTreeMap<String, String> = object
        .get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let severity = object
        .get("severity")
        .and_then(Value::as_u64)
        .and_then(|n| u8::try_from(n).ok())
        .or_else(|| text("level").and_then(|l| super::severity_of_text(&l)))
        .unwrap_or(0);
    let fields: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.strip_prefix("field_").unwrap_or(k).to_string(), v.clone()))
        .collect();
    Some(TailLine::new(
        time_us,
        number,
        Arc::new(labels),
        Arc::from(text("service").unwrap_or_default()),
        severity,
        text("message").unwrap_or_default(),
        serde_json::to_vec(&fields).unwrap_or_default(),
        (text("trace_id"), text("span_id")),
    ))
}

impl LogsService {
    /// Writes the lines of partition `name` (the day starting at `day_us`) to its archive in
    /// `dir`; returns the file.
    pub(super) async fn archive_partition(
        &self,
        dir: &Path,
        name: &str,
        day_us: i64,
    ) -> Result<PathBuf, LogsError> {
        let archive_error = |e: std::io::Error| {
            LogsError::Archive(format!(
                "writing the archive of {name} in {}: {e}",
                dir.display()
            ))
        };
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(archive_error)?;
        let path = dir.join(file_name(day_us));
        let partial = path.with_extension("gz.partial");
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(archive_error)?;
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        let mut after = None;
        let mut lines = 0u64;
        loop {
            let rows = db::partition_lines(&self.0.pool, name, after, BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = Some((last.time_us, last.id));
            let done = (rows.len() as i64) < BATCH;
            for row in rows {
                serde_json::to_writer(&mut encoder, &archived(row))
                    .map_err(|e| archive_error(e.into()))?;
                encoder.write_all(b"\n").map_err(archive_error)?;
                lines += 1;
            }
            let compressed = std::mem::take(encoder.get_mut());
            file.write_all(&compressed).await.map_err(archive_error)?;
            if done {
                break;
            }
        }
        let rest = encoder.finish().map_err(archive_error)?;
        file.write_all(&rest).await.map_err(archive_error)?;
        file.sync_all().await.map_err(archive_error)?;
        drop(file);
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(archive_error)?;
        if let Ok(d) = tokio::fs::File::open(dir).await {
            // The rename itself made durable.
            let _ = d.sync_all().await;
        }
        tracing::info!(partition = name, lines, file = %path.display(), "log partition archived");
        Ok(path)
    }

    fn archive_dir(&self) -> Result<&Path, LogsError> {
        self.0.limits.archive_dir.as_deref().ok_or_else(|| {
            LogsError::NotFound("no archive directory is set (PORTAL_LOGS_ARCHIVE_DIR)".into())
        })
    }

    /// The archives kept, the newest day first.
    pub async fn archives(&self) -> Result<Vec<LogArchive>, LogsError> {
        let dir = self.archive_dir()?;
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(LogsError::Archive(format!(
                    "reading {}: {e}",
                    dir.display()
                )))
            }
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().to_string();
            if !is_archive_name(&name) {
                continue;
            }
            let bytes = entry.metadata().await.map(|m| m.len()).unwrap_or(0);
            let day = name["logs-".len().."logs-".len() + 10].to_string();
            out.push(LogArchive { name, day, bytes });
        }
        out.sort_by(|a, b| b.day.cmp(&a.day));
        Ok(out)
    }

    /// The lines of archive `name` matching `query_text`, oldest first, from line `offset` of
    /// the file, at most `limit`; stops at the search time limit with where to go on from.
    pub async fn search_archive(
        &self,
        name: &str,
        query_text: &str,
        offset: u64,
        limit: usize,
    ) -> Result<ArchivePage, LogsError> {
        if !is_archive_name(name) {
            return Err(invalid(
                "name",
                "an archive is named logs-YYYY-MM-DD.ndjson.gz",
            ));
        }
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(invalid("limit", format!("must be from 1 to {MAX_PAGE}")));
        }
        let matcher = Matcher::new(&query::parse(query_text)?)?;
        let path = self.archive_dir()?.join(name);
        let budget = self.0.limits.query_timeout;
        tokio::task::spawn_blocking(move || scan(&path, &matcher, offset, limit, budget))
            .await
            .map_err(|e| LogsError::Archive(format!("the archive search stopped: {e}")))?
    }
}

/// Reads an archive from line `offset`, keeping up to `limit` matching lines.
fn scan(
    path: &Path,
    matcher: &Matcher,
    offset: u64,
    limit: usize,
    budget: Duration,
) -> Result<ArchivePage, LogsError> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LogsError::NotFound(format!(
            "no archive {}",
            path.file_name().unwrap_or_default().to_string_lossy()
        )),
        _ => LogsError::Archive(format!("reading {}: {e}", path.display())),
    })?;
    let started = Instant::now();
    let reader = BufReader::new(GzDecoder::new(file));
    let mut lines: Vec<LogLine> = Vec::new();
    let mut number = 0u64;
    let mut scanned = 0u64;
    for text in reader.lines() {
        let text =
            text.map_err(|e| LogsError::Archive(format!("reading {}: {e}", path.display())))?;
        number += 1;
        if number <= offset {
            continue;
        }
        scanned += 1;
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(line) = tail_line(object, number as i64) else {
            continue;
        };
        if matcher.matches(&line) {
            lines.push(line.to_log_line());
            if lines.len() == limit {
                return Ok(ArchivePage {
                    lines,
                    scanned,
                    next_offset: Some(number),
                });
            }
        }
        if scanned.is_multiple_of(4096) && started.elapsed() > budget {
            return Ok(ArchivePage {
                lines,
                scanned,
                next_offset: Some(number),
            });
        }
    }
    Ok(ArchivePage {
        lines,
        scanned,
        next_offset: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_lead_nowhere_else() {
        assert!(is_archive_name("logs-2026-12-01.ndjson.gz"));
        for bad in [
            "../logs-2026-12-01.ndjson.gz",
            "logs-2026-13-01.ndjson.gz",
            "logs-2026-12-01.ndjson.gz/../../etc/passwd",
            "logs-.ndjson.gz",
            "passwd",
        ] {
            assert!(!is_archive_name(bad), "{bad}");
        }
        assert_eq!(
            file_name(1_764_547_200_000_000),
            "logs-2025-12-01.ndjson.gz"
        );
    }

    #[test]
    fn an_archived_line_reads_back_with_its_fields_level_and_labels() {
        let row = db::LineRow {
            time_us: 1_764_547_200_123_456,
            id: 7,
            stream_id: 1,
            service: "coder".into(),
            severity: 17,
            body: "tool call timeout".into(),
            fields: serde_json::json!({"agent.id": "coder-1", "time": "shadowed", "tokens": 12}),
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            span_id: None,
            labels: serde_json::json!({"service_name": "coder"}),
        };
        let object = archived(row);
        assert_eq!(object["time"], "2025-12-01T00:00:00.123456Z");
        assert_eq!(object["field_time"], "shadowed");
        let Value::Object(map) = object else { panic!() };
        let line = tail_line(map, 1).unwrap().to_log_line();
        assert_eq!(line.severity, 17);
        assert_eq!(line.body, "tool call timeout");
        assert_eq!(line.labels["service_name"], "coder");
        assert_eq!(line.fields["agent.id"], "coder-1");
        assert_eq!(line.fields["time"], "shadowed");
        assert_eq!(line.fields["tokens"], 12);
        assert_eq!(
            line.trace_id.as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        let matcher =
            Matcher::new(&query::parse("agent.id:coder-1 level>=error timeout").unwrap()).unwrap();
        let Value::Object(map) = archived(db::LineRow {
            time_us: 1,
            id: 1,
            stream_id: 1,
            service: "coder".into(),
            severity: 17,
            body: "tool call timeout".into(),
            fields: serde_json::json!({"agent.id": "coder-1"}),
            trace_id: None,
            span_id: None,
            labels: serde_json::json!({}),
        }) else {
            panic!()
        };
        assert!(matcher.matches(&tail_line(map, 1).unwrap()));
    }
}
