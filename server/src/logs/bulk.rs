//! Lines sent in bulk to `POST /api/logs/lines`: NDJSON (one JSON object a line, as log files
//! of JSON-logging programs are written) or plain text (one line a line, its format detected).
//! The request's labels name the stream; an object's `service`/`labels` add to them.
//!
//! An NDJSON object's known keys: `time`/`timestamp`/`ts`/`@timestamp` (RFC 3339, or a Unix
//! time in seconds, milliseconds, microseconds or nanoseconds, told apart by size);
//! `message`/`msg`/`body`/`log`/`line` (the body; the whole object when none);
//! `level`/`severity`; `service`; `labels` (an object of strings); `trace_id`, `span_id`.
//! Every other key is a field.

use super::Entry;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const TIME_KEYS: [&str; 5] = ["time", "timestamp", "ts", "@timestamp", "datetime"];
const BODY_KEYS: [&str; 5] = ["message", "msg", "body", "log", "line"];

/// A Unix time of unknown unit, in nanoseconds: its size says the unit.
fn unix_ns(n: f64) -> Option<i64> {
    let ns = match n.abs() {
        x if x < 1e11 => n * 1e9,
        x if x < 1e14 => n * 1e6,
        x if x < 1e17 => n * 1e3,
        _ => n,
    };
    ns.is_finite().then_some(ns as i64)
}

fn time_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => unix_ns(n.as_f64()?),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .or_else(|| s.parse::<f64>().ok().and_then(unix_ns)),
        _ => None,
    }
}

/// NDJSON lines; a line that is not a JSON object is refused naming its number.
pub fn ndjson(
    body: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<Entry>, (String, String)> {
    let base = Arc::new(labels.clone());
    let mut out = Vec::new();
    for (n, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(line) else {
            return Err((format!("line {}", n + 1), "not a JSON object".into()));
        };
        let mut entry = Entry {
            labels: base.clone(),
            ..Entry::default()
        };
        if let Some(t) = TIME_KEYS.iter().find_map(|k| object.get(*k)) {
            entry.time_ns = Some(
                time_of(t)
                    .ok_or_else(|| (format!("line {}", n + 1), format!("{t} is not a time")))?,
            );
            for k in TIME_KEYS {
                object.remove(k);
            }
        }
        if let Some(Value::String(service)) = object.remove("service") {
            Arc::make_mut(&mut entry.labels).insert("service_name".into(), service);
        }
        if let Some(Value::Object(extra)) = object.remove("labels") {
            for (k, v) in extra {
                Arc::make_mut(&mut entry.labels)
                    .insert(k, v.as_str().map_or_else(|| v.to_string(), str::to_string));
            }
        }
        for key in ["trace_id", "span_id"] {
            if let Some(Value::String(id)) = object.get(key) {
                let id = id.clone();
                if key == "trace_id" {
                    entry.trace_id = Some(id);
                } else {
                    entry.span_id = Some(id);
                }
                object.remove(key);
            }
        }
        if let Some(Value::String(level)) =
            ["level", "severity"].iter().find_map(|k| object.get(*k))
        {
            entry.severity = super::severity_of_text(level);
        }
        let body_key = BODY_KEYS
            .iter()
            .find(|k| matches!(object.get(**k), Some(Value::String(_))));
        entry.line = match body_key {
            Some(k) => match object.remove(*k) {
                Some(Value::String(s)) => s,
                _ => String::new(),
            },
            None => Value::Object(object.clone()).to_string(),
        };
        entry.fields = object.into_iter().collect::<Map<String, Value>>();
        out.push(entry);
    }
    Ok(out)
}

/// Plain text: each non-empty line a log line, its fields detected when it is stored.
pub fn text(body: &str, labels: &BTreeMap<String, String>) -> Vec<Entry> {
    let labels = Arc::new(labels.clone());
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| Entry {
            labels: labels.clone(),
            line: line.to_string(),
            ..Entry::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_objects_give_time_body_level_and_fields() {
        let labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        let body = concat!(
            r#"{"ts":1700000000.5,"level":"error","msg":"boom","service":"api","agent_id":"a1","trace_id":"0af7651916cd43dd8448eb211c80319c"}"#,
            "\n\n",
            r#"{"time":"2026-12-07T10:00:00Z","k":1}"#,
            "\n"
        );
        let entries = ndjson(body, &labels).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].time_ns, Some(1_700_000_000_500_000_000));
        assert_eq!(entries[0].line, "boom");
        assert_eq!(entries[0].severity, Some(17));
        assert_eq!(entries[0].labels["service_name"], "api");
        assert_eq!(entries[0].labels["env"], "prod");
        assert_eq!(entries[0].fields["agent_id"], "a1");
        assert!(entries[0].trace_id.is_some());
        assert_eq!(entries[1].line, r#"{"k":1}"#);
        assert_eq!(
            unix_ns(1_700_000_000_000.0),
            Some(1_700_000_000_000_000_000)
        );
        let e = ndjson("{}\n[1]\n", &labels).unwrap_err();
        assert_eq!(e.0, "line 2");
    }
}
