//! Plain lines into fields: a line that is a JSON object, logfmt (`key=value …`), a Python
//! `logging` line (the default `LEVEL:logger:message` and the common
//! `2024-05-01 12:00:00,123 - logger - LEVEL - message`), or a common/combined access-log line
//! gives its fields; the level is taken from a field (`level`, `severity`, `lvl`, …) or, for
//! access logs, from the status. What no format explains stays the body alone.

use serde_json::{Map, Value};

/// What a line says of itself.
#[derive(Debug, Default, PartialEq)]
pub struct Detected {
    /// The format recognised: `json`, `logfmt`, `python`, `access`, or none.
    pub format: Option<&'static str>,
    pub fields: Map<String, Value>,
    /// A severity number, when a field or the format gives one.
    pub severity: Option<u8>,
}

/// Field names that carry a level, in the order they are looked at.
const LEVEL_FIELDS: [&str; 6] = [
    "level",
    "severity",
    "lvl",
    "loglevel",
    "log.level",
    "levelname",
];

/// Most fields taken from one line; the rest stay in the body.
const MAX_FIELDS: usize = 64;

pub fn detect(line: &str) -> Detected {
    let trimmed = line.trim();
    let mut out = if trimmed.starts_with('{') {
        json(trimmed)
    } else {
        None
    }
    .or_else(|| python(trimmed))
    .or_else(|| access(trimmed))
    .or_else(|| text_then_json(trimmed))
    .or_else(|| logfmt(trimmed))
    .unwrap_or_default();
    if out.severity.is_none() {
        out.severity = LEVEL_FIELDS.iter().find_map(|name| {
            let value = out.fields.get(*name)?;
            match value {
                Value::String(s) => crate::logs::severity_of_text(s),
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| (1..=24).contains(n)),
                _ => None,
            }
        });
    }
    out
}

fn json(line: &str) -> Option<Detected> {
    // Parsing is bounded by the line's length (lines are capped before this), and serde_json
    // refuses nesting past 128 levels.
    let Value::Object(object) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let fields = object.into_iter().take(MAX_FIELDS).collect();
    Some(Detected {
        format: Some("json"),
        fields,
        severity: None,
    })
}

/// `message {"key": "value", …}`: a message followed by a JSON object of its metadata, as
/// winston-loki and many JavaScript and Go loggers write.
fn text_then_json(line: &str) -> Option<Detected> {
    if !line.ends_with('}') {
        return None;
    }
    let at = line.find(" {")?;
    let mut out = json(&line[at + 1..])?;
    out.format = Some("text+json");
    Some(out)
}

/// `key=value key2="quoted value"`: at least two pairs, and every word of the line a pair.
fn logfmt(line: &str) -> Option<Detected> {
    let mut fields = Map::new();
    let mut rest = line;
    let mut pairs = 0;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=')?;
        let key = &rest[..eq];
        if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == '"') {
            return None;
        }
        rest = &rest[eq + 1..];
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end?;
            value = quoted[..end].replace("\\\"", "\"").replace("\\\\", "\\");
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value = rest[..end].to_string();
            rest = &rest[end..];
        }
        pairs += 1;
        if fields.len() < MAX_FIELDS {
            fields.insert(key.to_string(), Value::String(value));
        }
    }
    (pairs >= 2).then_some(Detected {
        format: Some("logfmt"),
        fields,
        severity: None,
    })
}

const PYTHON_LEVELS: [&str; 6] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "NOTSET"];

/// Python `logging`: `LEVEL:logger:message` (basicConfig's default) or
/// `<asctime> - <logger> - <LEVEL> - <message>` (the cookbook's format).
fn python(line: &str) -> Option<Detected> {
    let detected = |logger: &str, level: &str, message: &str, time: Option<&str>| {
        let mut fields = Map::new();
        fields.insert("logger".into(), Value::String(logger.to_string()));
        fields.insert("levelname".into(), Value::String(level.to_string()));
        fields.insert("message".into(), Value::String(message.to_string()));
        if let Some(time) = time {
            fields.insert("asctime".into(), Value::String(time.to_string()));
        }
        Detected {
            format: Some("python"),
            fields,
            severity: crate::logs::severity_of_text(level),
        }
    };
    let parts: Vec<&str> = line.splitn(4, " - ").collect();
    if parts.len() == 4 && PYTHON_LEVELS.contains(&parts[2]) && looks_like_time(parts[0]) {
        return Some(detected(parts[1], parts[2], parts[3], Some(parts[0])));
    }
    let mut colon = line.splitn(3, ':');
    let (level, logger, message) = (colon.next()?, colon.next()?, colon.next()?);
    (PYTHON_LEVELS.contains(&level) && !logger.is_empty() && !logger.contains(' '))
        .then(|| detected(logger, level, message, None))
}

fn looks_like_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 19 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b' '
}

/// `host ident user [time] "request" status size` and, combined, `"referer" "agent"` after.
fn access(line: &str) -> Option<Detected> {
    let open = line.find(" [")?;
    let head: Vec<&str> = line[..open].split(' ').collect();
    if head.len() != 3 {
        return None;
    }
    let close = open + line[open..].find("] \"")?;
    let time = &line[open + 2..close];
    let rest = &line[close + 3..];
    let request_end = rest.find('"')?;
    let request = &rest[..request_end];
    let mut tail = rest[request_end + 1..].trim_start().splitn(3, ' ');
    let status: u16 = tail.next()?.parse().ok()?;
    let size = tail.next()?;
    let mut fields = Map::new();
    fields.insert("remote_addr".into(), Value::String(head[0].into()));
    if head[2] != "-" {
        fields.insert("remote_user".into(), Value::String(head[2].into()));
    }
    fields.insert("time_local".into(), Value::String(time.into()));
    let mut words = request.splitn(3, ' ');
    if let (Some(method), Some(path)) = (words.next(), words.next()) {
        fields.insert("method".into(), Value::String(method.into()));
        fields.insert("path".into(), Value::String(path.into()));
        if let Some(protocol) = words.next() {
            fields.insert("protocol".into(), Value::String(protocol.into()));
        }
    }
    fields.insert("status".into(), Value::from(status));
    if let Ok(size) = size.parse::<u64>() {
        fields.insert("body_bytes_sent".into(), Value::from(size));
    }
    if let Some(combined) = tail.next() {
        let quoted: Vec<&str> = combined.split('"').collect();
        if quoted.len() >= 4 {
            fields.insert("http_referer".into(), Value::String(quoted[1].into()));
            fields.insert("http_user_agent".into(), Value::String(quoted[3].into()));
        }
    }
    let severity = match status {
        500..=599 => 17,
        400..=499 => 13,
        _ => 9,
    };
    Some(Detected {
        format: Some("access"),
        fields,
        severity: Some(severity),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_lines_give_their_fields_and_level() {
        let d = detect(r#"{"level":"warn","msg":"slow tool call","agent_id":"coder-1","ms":812}"#);
        assert_eq!(d.format, Some("json"));
        assert_eq!(d.severity, Some(13));
        assert_eq!(d.fields["ms"], json!(812));
        assert_eq!(detect("{not json").format, None);
    }

    #[test]
    fn logfmt_needs_two_pairs_and_unquotes_values() {
        let d = detect(r#"level=error msg="tool \"search\" failed" agent=coder-1"#);
        assert_eq!(d.format, Some("logfmt"));
        assert_eq!(d.severity, Some(17));
        assert_eq!(d.fields["msg"], json!("tool \"search\" failed"));
        assert_eq!(detect("x=1 and then some words").format, None);
        assert_eq!(detect("just=one").format, None);
    }

    #[test]
    fn a_message_then_its_metadata_as_json() {
        let d = detect(
            r#"payment failed: card declined {"level":"error","order_id":"o-18","amount":42.5}"#,
        );
        assert_eq!(d.format, Some("text+json"));
        assert_eq!(d.severity, Some(17));
        assert_eq!(d.fields["order_id"], "o-18");
        assert_eq!(d.fields["amount"], 42.5);
        assert_eq!(detect("set {a} to {b}").format, None);
    }

    #[test]
    fn python_logging_lines_in_both_common_formats() {
        let d = detect("WARNING:agents.planner:queue is long");
        assert_eq!(d.format, Some("python"));
        assert_eq!(d.severity, Some(13));
        assert_eq!(d.fields["logger"], json!("agents.planner"));
        let d = detect("2026-12-07 10:00:00,123 - agents.coder - ERROR - tool failed: timeout");
        assert_eq!(d.severity, Some(17));
        assert_eq!(d.fields["message"], json!("tool failed: timeout"));
        assert_eq!(detect("Note: this is prose").format, None);
    }

    #[test]
    fn access_log_lines_common_and_combined() {
        let d = detect(
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
        );
        assert_eq!(d.format, Some("access"));
        assert_eq!(d.fields["status"], json!(200));
        assert_eq!(d.fields["path"], json!("/apache_pb.gif"));
        assert_eq!(d.severity, Some(9));
        let d = detect(
            r#"10.0.0.2 - - [07/Dec/2026:10:00:00 +0000] "POST /api HTTP/1.1" 502 0 "https://x/" "curl/8.0""#,
        );
        assert_eq!(d.severity, Some(17));
        assert_eq!(d.fields["http_user_agent"], json!("curl/8.0"));
    }
}
