//! Logs: what a search, its histogram, its facets and the lines around a hit answer with, and
//! what a write of lines answers. Times are RFC 3339 with microseconds; a line's `cursor` is
//! what `before` (older) and the context view take to find it again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Severity levels, by the OTLP severity-number ranges they cover.
pub const LEVELS: [(&str, u8); 6] = [
    ("trace", 1),
    ("debug", 5),
    ("info", 9),
    ("warn", 13),
    ("error", 17),
    ("fatal", 21),
];

/// The level name of an OTLP severity number (`unknown` for 0 or out of range).
pub fn level_name(severity: u8) -> &'static str {
    match severity {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warn",
        17..=20 => "error",
        21..=24 => "fatal",
        _ => "unknown",
    }
}

/// The lowest severity number of a level name (`warning`, `err`, `critical` … accepted).
pub fn level_severity(name: &str) -> Option<u8> {
    let severity = match name.trim().to_ascii_lowercase().as_str() {
        "trace" | "trc" | "finest" | "finer" => 1,
        "debug" | "dbg" | "fine" | "debug2" | "debug3" => 5,
        "info" | "inf" | "information" | "informational" | "notice" | "config" => 9,
        "warn" | "warning" | "wrn" => 13,
        "error" | "err" | "eror" | "severe" => 17,
        "fatal" | "critical" | "crit" | "panic" | "emerg" | "emergency" | "alert" | "ftl" => 21,
        "unknown" => 0,
        _ => return None,
    };
    Some(severity)
}

/// One stored line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// Opaque; names this line for `before` and for the context view.
    pub cursor: String,
    pub time: DateTime<Utc>,
    pub service: String,
    /// `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `unknown`.
    pub level: String,
    /// The OTLP severity number (0 when unknown).
    pub severity: u8,
    pub body: String,
    /// The stream's labels.
    pub labels: BTreeMap<String, String>,
    /// Structured fields: attributes, what was parsed out of the line.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
}

/// A page of matching lines, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogPage {
    pub lines: Vec<LogLine>,
    /// Pass as `before` for the next (older) page; none when there are no more.
    pub next: Option<String>,
}

/// How many lines matched in each time bucket, by level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogHistogram {
    pub step_ms: i64,
    pub buckets: Vec<LogBucket>,
    pub total: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogBucket {
    pub time: DateTime<Utc>,
    /// Level name → lines.
    pub counts: BTreeMap<String, u64>,
}

/// The most common values of each field among the newest matching lines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogFacets {
    /// How many of the newest matching lines were counted (at most the sample size).
    pub sampled: u64,
    pub fields: Vec<LogFacet>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogFacet {
    pub field: String,
    /// Values with their counts, most common first.
    pub values: Vec<(String, u64)>,
}

/// The lines of the same stream around one line, like `grep -C`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogContext {
    /// Older lines, oldest first.
    pub before: Vec<LogLine>,
    pub line: LogLine,
    /// Newer lines, oldest first.
    pub after: Vec<LogLine>,
}

/// One failure: the error lines that share a fingerprint (exception type, message with its
/// variable parts as placeholders, top stack frame).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroup {
    pub fingerprint: String,
    /// The exception type (`TimeoutError`), or empty.
    pub kind: String,
    /// The message, its ids, numbers and quoted values as `<id>`, `<number>`, `<quoted>`…
    pub message: String,
    /// Where it was thrown (`agents/llm.py in complete`), or empty.
    pub frame: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Lines per equal slice of the range, oldest first.
    pub trend: Vec<u64>,
    pub services: Vec<String>,
    pub agents: Vec<String>,
    /// The newest line of the group.
    pub example: LogLine,
    /// What was decided about it: open unless resolved or ignored; regressed when it came
    /// back after being resolved.
    #[serde(default)]
    pub status: ErrorStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_changed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_changed_by: Option<String>,
}

/// Where an error group stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorStatus {
    #[default]
    Open,
    /// Marked fixed; its lines from before are not a concern.
    Resolved,
    /// Known and accepted; hidden from the list unless asked for.
    Ignored,
    /// Resolved, then seen again after that.
    Regressed,
}

impl ErrorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
            Self::Regressed => "regressed",
        }
    }

    /// A status people can set (regressed is only ever found).
    pub fn settable(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "resolved" => Some(Self::Resolved),
            "ignored" => Some(Self::Ignored),
            _ => None,
        }
    }
}

/// What was decided about one error group (`GET`/`PUT /api/logs/errors/<fingerprint>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroupState {
    pub fingerprint: String,
    pub status: ErrorStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
}

/// The error groups of a search, the most frequent first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroups {
    pub groups: Vec<ErrorGroup>,
    /// How many error lines were grouped (the newest, at most 20,000).
    pub sampled: u64,
    /// Whether those were all the range's error lines.
    pub complete: bool,
    /// The width of a trend slice.
    pub trend_step_ms: i64,
}

/// A message pattern: lines whose first line, its variable parts masked, fits one template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogPattern {
    /// The template: the tokens the lines share, `<_>` where they differ, `<number>`, `<id>`…
    /// where a masked value was.
    pub pattern: String,
    pub count: u64,
    /// Lines per equal slice of the range, oldest first.
    pub trend: Vec<u64>,
    /// Lines per level.
    pub levels: BTreeMap<String, u64>,
    pub services: Vec<String>,
    /// The newest line.
    pub example: LogLine,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The patterns of a search's lines, the most frequent first; their counts and `others` add up
/// to `sampled`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogPatterns {
    pub patterns: Vec<LogPattern>,
    /// Lines of the patterns past the first 500.
    pub others: u64,
    /// How many lines were clustered (the newest, at most 20,000).
    pub sampled: u64,
    /// Whether those were all the range's matching lines.
    pub complete: bool,
    pub trend_step_ms: i64,
}

/// A search saved by name (`/api/logs/saved-searches`), shared by everyone who reads logs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSearch {
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub query: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
}

/// What saving a search takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveSearch {
    pub name: String,
    pub query: String,
}

/// A day's lines archived before they passed the retention (`GET /api/logs/archives`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogArchive {
    /// `logs-YYYY-MM-DD.ndjson.gz`.
    pub name: String,
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub bytes: u64,
}

/// Matching lines of an archive, oldest first (`GET /api/logs/archives/<name>?query=`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchivePage {
    pub lines: Vec<LogLine>,
    /// Lines of the file read for this page.
    pub scanned: u64,
    /// Where the next page starts (`offset=`), when the file goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<u64>,
}

/// What a write of lines did; refused lines are counted with the reason.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LogWriteSummary {
    pub accepted: u64,
    pub refused: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_names_and_numbers_agree() {
        for (name, severity) in LEVELS {
            assert_eq!(level_name(severity), name);
            assert_eq!(level_severity(name), Some(severity));
            assert_eq!(level_name(severity + 3), name);
        }
        assert_eq!(level_severity("WARNING"), Some(13));
        assert_eq!(level_severity("critical"), Some(21));
        assert_eq!(level_severity("loud"), None);
        assert_eq!(level_name(0), "unknown");
    }
}
