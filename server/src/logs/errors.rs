//! Error groups: the error and fatal lines of a search, grouped by fingerprint (the exception
//! type, the message with its variable parts made placeholders, and the top frame of its stack
//! trace), each with its count, first and last time, trend, services and agents, and its newest
//! line. The fingerprint is a pure function of the line, so the same failure gets the same
//! group on every replica and in every time range. A group can be marked resolved or ignored;
//! a resolved group seen again after that is regressed.

use super::{query, LogsError, LogsService, Search};
use crate::store::logs::{self as db, Condition, Field, Op};
use app::api::logs::{ErrorGroup, ErrorGroupState, ErrorGroups, ErrorStatus, LogLine};
use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::LazyLock,
};

/// Most error lines one grouping reads, the newest first.
pub const MAX_ERROR_LINES: i64 = 20_000;
/// Buckets of a group's trend over the range.
pub const TREND_BUCKETS: usize = 24;

/// What makes two errors the same failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    pub kind: String,
    pub message: String,
    pub frame: String,
}

impl Fingerprint {
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!("{}\n{}\n{}", self.kind, self.message, self.frame));
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        (?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
      | (?P<hex>\b(?:0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\b|\b(?:0x)?[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*[0-9][0-9a-fA-F]*\b)
      | (?P<quoted>"[^"]*"|'[^']*')
      | (?P<id>\b[A-Za-z]+[-_][0-9][0-9A-Za-z_-]*\b)
      | (?P<number>-?\b\d+(?:\.\d+)?\b)
    "#,
    )
    .expect("the variable-part pattern compiles")
});

static EXCEPTION_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Z][A-Za-z0-9_]*(?:Error|Exception|Panic|Fault))\b")
        .expect("the exception-name pattern compiles")
});

/// A message with what varies between occurrences (ids, numbers, quoted values, hex, UUIDs)
/// made placeholders, at most 200 characters.
pub fn normalise(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or("");
    let out = VARIABLE.replace_all(first_line, |c: &regex::Captures| {
        let kind = ["uuid", "hex", "quoted", "id", "number"]
            .into_iter()
            .find(|k| c.name(k).is_some())
            .unwrap_or("x");
        format!("<{kind}>")
    });
    out.chars().take(200).collect()
}

/// The frame an error was thrown from, without line numbers: Python's last `File "…", in f`,
/// Java's and JavaScript's first `at …`, Go's first function of a goroutine's stack.
pub fn top_frame(stack: &str) -> String {
    let lines: Vec<&str> = stack.lines().map(str::trim).collect();
    if let Some(frame) = lines.iter().rev().find(|l| l.starts_with("File \"")) {
        // File "agents/llm.py", line 88, in complete
        let file = frame.split('"').nth(1).unwrap_or("");
        let function = frame.rsplit(", in ").next().unwrap_or("");
        return format!("{file} in {function}");
    }
    if let Some(frame) = lines.iter().find(|l| l.starts_with("at ")) {
        // at com.x.Y.method(Y.java:12) | at handler (/app/src/x.js:10:5)
        let frame = &frame[3..];
        let name = frame.split(['(', ' ']).next().unwrap_or(frame);
        return name.trim().to_string();
    }
    if let Some(at) = lines.iter().position(|l| l.starts_with("goroutine ")) {
        if let Some(function) = lines.get(at + 1) {
            return function.split('(').next().unwrap_or(function).to_string();
        }
    }
    String::new()
}

fn text(fields: &serde_json::Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match fields.get(*n) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

/// The fingerprint of an error line, from OTLP's exception attributes when it has them, else
/// from its text.
pub fn fingerprint(line: &LogLine) -> Fingerprint {
    fingerprint_of(&line.body, &line.fields)
}

/// [`fingerprint`] of a line's body and fields.
pub fn fingerprint_of(body: &str, f: &serde_json::Map<String, Value>) -> Fingerprint {
    let stack = text(
        f,
        &[
            "exception.stacktrace",
            "exception_stacktrace",
            "stacktrace",
            "stack_trace",
            "stack",
            "error.stack",
        ],
    )
    .unwrap_or_else(|| {
        // A stack trace written into the line itself.
        body.lines().skip(1).collect::<Vec<_>>().join("\n")
    });
    let message = text(
        f,
        &["exception.message", "exception_message", "error.message"],
    )
    .unwrap_or_else(|| body.to_string());
    let kind = text(
        f,
        &[
            "exception.type",
            "exception_type",
            "error.type",
            "error_type",
        ],
    )
    .or_else(|| EXCEPTION_NAME.captures(body).map(|c| c[1].to_string()))
    .unwrap_or_default();
    Fingerprint {
        kind,
        message: normalise(&message),
        frame: top_frame(&stack),
    }
}

/// The label of the portal's own stream whose lines announce error groups, and its values.
pub const EVENT_LABEL: &str = "portal_event";
pub const NEW_GROUP: &str = "new_error_group";
pub const REGRESSED_GROUP: &str = "regressed_error_group";
/// Most groups one write announces; past that, one more line says how many were not.
pub const MAX_EVENTS: usize = 50;

/// What of an error or fatal line its group keeps (fingerprint, agent); `None` below the
/// error level.
pub fn error_of(severity: u8, body: &str, fields: &Value) -> Option<(Fingerprint, Option<String>)> {
    if severity < 17 {
        return None;
    }
    let empty = serde_json::Map::new();
    let fields = fields.as_object().unwrap_or(&empty);
    Some((
        fingerprint_of(body, fields),
        text(fields, &["agent.id", "agent_id"]),
    ))
}

/// A write's error lines by group: the group's first line (its fingerprint, time, service,
/// agent and text) and the span and number of its lines.
#[derive(Default)]
pub struct SeenGroups(BTreeMap<String, SeenGroup>);

struct SeenGroup {
    print: Fingerprint,
    first_us: i64,
    last_us: i64,
    lines: i64,
    service: String,
    agent: Option<String>,
    body: String,
}

impl SeenGroups {
    /// Counts an error line in its group; its text is kept only when it is the group's first.
    pub fn add(
        &mut self,
        print: Fingerprint,
        agent: Option<String>,
        time_us: i64,
        service: &str,
        body: &str,
    ) {
        let first = |print| SeenGroup {
            print,
            first_us: time_us,
            last_us: time_us,
            lines: 1,
            service: service.to_string(),
            agent,
            body: body.to_string(),
        };
        match self.0.entry(print.id()) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(first(print));
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let g = o.get_mut();
                let (last_us, lines) = (g.last_us.max(time_us), g.lines + 1);
                if time_us < g.first_us {
                    *g = first(print);
                }
                g.last_us = last_us;
                g.lines = lines;
            }
        }
    }
}

impl LogsService {
    /// Records the groups of a write's error lines as seen, and announces each group seen for
    /// the first time, and each resolved group seen again, with a line of the stream
    /// `{service_name="portal", portal_event="new_error_group"}` (or `regressed_error_group`)
    /// carrying the group's fingerprint, kind, message, frame, service and first line. Log
    /// alert rules count those lines like any other, so a new or regressed error reaches the
    /// rules, routes, silences and notifications. The store decides what is new (one writer
    /// wins the insert), so each group is announced once across replicas.
    pub(super) async fn announce_error_groups(
        &self,
        SeenGroups(groups): SeenGroups,
    ) -> Result<(), LogsError> {
        if groups.is_empty() {
            return Ok(());
        }
        let seen: Vec<db::SeenGroup> = groups
            .iter()
            .map(|(id, g)| db::SeenGroup {
                fingerprint: id,
                first_us: g.first_us,
                last_us: g.last_us,
                lines: g.lines,
            })
            .collect();
        let (new, regressed) = {
            let mut conn = self.0.pool.acquire().await?;
            db::see_error_groups(&mut conn, &seen).await?
        };
        let events: Vec<(&str, &String)> = new
            .iter()
            .map(|f| (NEW_GROUP, f))
            .chain(regressed.iter().map(|f| (REGRESSED_GROUP, f)))
            .collect();
        // Seen groups are recorded either way, so that turning announcements on later does
        // not announce old groups as new.
        if events.is_empty() || !self.0.limits.announce_error_groups {
            return Ok(());
        }
        let now_ns = Utc::now().timestamp_nanos_opt();
        let mut entries: Vec<super::Entry> = events
            .iter()
            .take(MAX_EVENTS)
            .filter_map(|(event, id)| Some(event_entry(event, id, groups.get(*id)?, now_ns)))
            .collect();
        if events.len() > MAX_EVENTS {
            let mut fields = serde_json::Map::new();
            fields.insert(
                "groups".into(),
                Value::from((events.len() - MAX_EVENTS) as u64),
            );
            entries.push(super::Entry {
                time_ns: now_ns,
                labels: event_labels(NEW_GROUP),
                line: format!(
                    "{} more new or regressed error groups in one write (see Explore → Errors)",
                    events.len() - MAX_EVENTS
                ),
                fields,
                severity: Some(13),
                ..Default::default()
            });
        }
        let batch = self.prepare(entries)?;
        Box::pin(self.write(batch)).await?;
        Ok(())
    }

    /// The error and fatal lines matching a search, grouped, the most frequent group first.
    pub async fn error_groups(&self, search: &Search<'_>) -> Result<ErrorGroups, LogsError> {
        let condition = Condition::And(vec![
            query::parse(search.query)?,
            Condition::Compare {
                field: Field::Severity,
                op: Op::Ge,
                value: 17.0,
            },
        ]);
        let (lines, complete) = self
            .newest_lines(condition, search, MAX_ERROR_LINES)
            .await?;
        let range = (search.from_us, search.to_us);
        let mut groups = group(lines, range, complete);
        let ids: Vec<String> = groups
            .groups
            .iter()
            .map(|g| g.fingerprint.clone())
            .collect();
        let states = db::error_group_states(&self.0.pool, &ids).await?;
        let states: BTreeMap<String, db::ErrorGroupStateRow> = states
            .into_iter()
            .map(|s| (s.fingerprint.clone(), s))
            .collect();
        for g in &mut groups.groups {
            if let Some(state) = states.get(&g.fingerprint) {
                g.status = status_of(&state.status, state.changed_at, g.last_seen);
                g.status_changed_at = Some(state.changed_at);
                g.status_changed_by = Some(state.changed_by.clone());
            }
        }
        Ok(groups)
    }

    /// What was decided about the group `fingerprint`.
    pub async fn error_group_state(&self, fingerprint: &str) -> Result<ErrorGroupState, LogsError> {
        check_fingerprint(fingerprint)?;
        let rows = db::error_group_states(&self.0.pool, &[fingerprint.to_string()]).await?;
        Ok(match rows.into_iter().next() {
            Some(row) => state_of(row),
            None => ErrorGroupState {
                fingerprint: fingerprint.to_string(),
                status: ErrorStatus::Open,
                changed_at: None,
                changed_by: None,
            },
        })
    }

    /// Marks the group `fingerprint` open, resolved or ignored (a group may be marked before
    /// its lines arrive, e.g. from another range).
    pub async fn set_error_group_status(
        &self,
        fingerprint: &str,
        status: &str,
        by: &str,
    ) -> Result<ErrorGroupState, LogsError> {
        check_fingerprint(fingerprint)?;
        let Some(status) = ErrorStatus::settable(status) else {
            return Err(LogsError::Invalid {
                field: "status".into(),
                message: format!("\"{status}\" is not open, resolved or ignored"),
            });
        };
        let row = db::set_error_group_state(&self.0.pool, fingerprint, status.as_str(), by).await?;
        Ok(state_of(row))
    }
}

fn event_labels(event: &str) -> std::sync::Arc<BTreeMap<String, String>> {
    std::sync::Arc::new(
        [
            ("service_name".to_string(), "portal".to_string()),
            (EVENT_LABEL.to_string(), event.to_string()),
        ]
        .into(),
    )
}

/// The line announcing a group: `new error group in coder: TimeoutError: upstream <id> timed
/// out (agents/llm.py in complete)`, its parts as fields, the group's first line as `example`.
fn event_entry(event: &str, id: &str, line: &SeenGroup, now_ns: Option<i64>) -> super::Entry {
    let print = &line.print;
    let what = if event == NEW_GROUP {
        "new error group"
    } else {
        "regressed error group"
    };
    let mut text = format!("{what} in {}: ", line.service);
    if !print.kind.is_empty() {
        text.push_str(&format!("{}: ", print.kind));
    }
    text.push_str(&print.message);
    if !print.frame.is_empty() {
        text.push_str(&format!(" ({})", print.frame));
    }
    let mut fields = serde_json::Map::new();
    for (name, value) in [
        ("fingerprint", id),
        ("error_kind", &print.kind),
        ("error_message", &print.message),
        ("error_frame", &print.frame),
        ("error_service", &line.service),
    ] {
        fields.insert(name.into(), Value::from(value));
    }
    if let Some(agent) = &line.agent {
        fields.insert("agent_id".into(), Value::from(agent.as_str()));
    }
    fields.insert(
        "example".into(),
        Value::from(line.body.chars().take(2000).collect::<String>()),
    );
    super::Entry {
        time_ns: now_ns,
        labels: event_labels(event),
        line: text,
        fields,
        severity: Some(13),
        ..Default::default()
    }
}

/// A fingerprint as the groups name them: 16 lowercase hex digits.
fn check_fingerprint(fingerprint: &str) -> Result<(), LogsError> {
    let ok = fingerprint.len() == 16
        && fingerprint
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(LogsError::Invalid {
            field: "fingerprint".into(),
            message: "an error group's fingerprint is 16 lowercase hex digits".into(),
        })
    }
}

/// A group's status from what was decided and when it was last seen: resolved, then seen after
/// that, is regressed.
fn status_of(stored: &str, changed_at: DateTime<Utc>, last_seen: DateTime<Utc>) -> ErrorStatus {
    match ErrorStatus::settable(stored).unwrap_or_default() {
        ErrorStatus::Resolved if last_seen > changed_at => ErrorStatus::Regressed,
        other => other,
    }
}

fn state_of(row: db::ErrorGroupStateRow) -> ErrorGroupState {
    ErrorGroupState {
        fingerprint: row.fingerprint,
        status: ErrorStatus::settable(&row.status).unwrap_or_default(),
        changed_at: Some(row.changed_at),
        changed_by: Some(row.changed_by),
    }
}

/// Groups error lines (newest first) over a range (µs).
pub fn group(lines: Vec<LogLine>, (from_us, to_us): (i64, i64), complete: bool) -> ErrorGroups {
    let width = ((to_us - from_us) / TREND_BUCKETS as i64).max(1);
    let sampled = lines.len() as u64;
    let mut groups: BTreeMap<String, ErrorGroup> = BTreeMap::new();
    let mut services: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut agents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in lines {
        let print = fingerprint(&line);
        let id = print.id();
        let at = line.time.timestamp_micros();
        let bucket = (((at - from_us) / width).clamp(0, TREND_BUCKETS as i64 - 1)) as usize;
        services
            .entry(id.clone())
            .or_default()
            .insert(line.service.clone());
        if let Some(agent) = text(&line.fields, &["agent.id", "agent_id"])
            .or_else(|| line.labels.get("agent_id").cloned())
        {
            agents.entry(id.clone()).or_default().insert(agent);
        }
        let group = groups.entry(id.clone()).or_insert_with(|| ErrorGroup {
            fingerprint: id.clone(),
            kind: print.kind.clone(),
            message: print.message.clone(),
            frame: print.frame.clone(),
            count: 0,
            first_seen: line.time,
            last_seen: line.time,
            trend: vec![0; TREND_BUCKETS],
            services: Vec::new(),
            agents: Vec::new(),
            example: line.clone(),
            status: ErrorStatus::Open,
            status_changed_at: None,
            status_changed_by: None,
        });
        group.count += 1;
        group.trend[bucket] += 1;
        group.first_seen = group.first_seen.min(line.time);
        group.last_seen = group.last_seen.max(line.time);
    }
    let mut out: Vec<ErrorGroup> = groups
        .into_values()
        .map(|mut g| {
            g.services = services
                .remove(&g.fingerprint)
                .unwrap_or_default()
                .into_iter()
                .collect();
            g.agents = agents
                .remove(&g.fingerprint)
                .unwrap_or_default()
                .into_iter()
                .collect();
            g
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(b.last_seen.cmp(&a.last_seen)));
    ErrorGroups {
        groups: out,
        sampled,
        complete,
        trend_step_ms: width / 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(body: &str, fields: Value, t: i64) -> LogLine {
        LogLine {
            cursor: format!("{t}-1"),
            time: chrono::DateTime::from_timestamp_micros(t).unwrap(),
            service: "agents".into(),
            level: "error".into(),
            severity: 17,
            body: body.into(),
            labels: Default::default(),
            fields: match fields {
                Value::Object(m) => m,
                _ => Default::default(),
            },
            trace_id: None,
            span_id: None,
        }
    }

    #[test]
    fn variable_parts_become_placeholders() {
        assert_eq!(
            normalise("task t-004211 failed after 3 retries: \"search\" 0x7ffd12 at 4bf92f35-77b3-4da6-a3ce-929d0e0e4736"),
            "task <id> failed after <number> retries: <quoted> <hex> at <uuid>"
        );
        assert_eq!(
            normalise("429 Too Many Requests\nbody"),
            "<number> Too Many Requests"
        );
    }

    #[test]
    fn top_frames_of_python_java_javascript_and_go() {
        let python = "Traceback (most recent call last):\n  File \"agents/runner.py\", line 142, in run_task\n    result = await agent.step(task)\n  File \"agents/llm.py\", line 88, in complete\n    return await x\nTimeoutError: deadline";
        assert_eq!(top_frame(python), "agents/llm.py in complete");
        let java = "java.lang.IllegalStateException: x\n\tat com.acme.Pay.charge(Pay.java:12)\n\tat com.acme.Main.run(Main.java:3)";
        assert_eq!(top_frame(java), "com.acme.Pay.charge");
        let js = "TypeError: x is undefined\n    at handler (/app/src/x.js:10:5)\n    at next (/app/y.js:1:1)";
        assert_eq!(top_frame(js), "handler");
        let go =
            "panic: boom\n\ngoroutine 1 [running]:\nmain.process(0x1)\n\t/app/main.go:12 +0x1d";
        assert_eq!(top_frame(go), "main.process");
    }

    #[test]
    fn the_same_failure_groups_whatever_its_ids_and_times() {
        let stack = |line: u32| {
            format!("Traceback (most recent call last):\n  File \"agents/llm.py\", line {line}, in complete\n    x\nTimeoutError: LLM call exceeded its 60 s deadline")
        };
        let from = 1_700_000_000_000_000i64;
        let lines = vec![
            line(
                "task t-000002 failed: TimeoutError: LLM call exceeded its 60 s deadline",
                serde_json::json!({
                "exception.type": "TimeoutError", "exception.message": "LLM call exceeded its 60 s deadline",
                "exception.stacktrace": stack(88), "agent.id": "coder-1"}),
                from + 3_000_000,
            ),
            line(
                "task t-000001 failed: TimeoutError: LLM call exceeded its 60 s deadline",
                serde_json::json!({
                "exception.type": "TimeoutError", "exception.message": "LLM call exceeded its 60 s deadline",
                "exception.stacktrace": stack(90), "agent.id": "coder-2"}),
                from + 2_000_000,
            ),
            line(
                "payment failed: CardDeclinedError for order o-18",
                serde_json::json!({}),
                from + 1_000_000,
            ),
        ];
        let g = group(lines, (from, from + 24_000_000), true);
        assert_eq!(g.groups.len(), 2);
        let timeout = &g.groups[0];
        assert_eq!(timeout.count, 2);
        assert_eq!(timeout.kind, "TimeoutError");
        assert_eq!(timeout.frame, "agents/llm.py in complete");
        assert_eq!(timeout.agents, vec!["coder-1", "coder-2"]);
        assert_eq!(timeout.trend.iter().sum::<u64>(), 2);
        assert_eq!(timeout.trend[2], 1);
        assert!(timeout.example.body.contains("t-000002"), "the newest line");
        assert!(timeout.first_seen < timeout.last_seen);
        assert_eq!(g.groups[1].kind, "CardDeclinedError");
        assert_eq!(
            g.groups[1].message,
            "payment failed: CardDeclinedError for order <id>"
        );
    }
}
