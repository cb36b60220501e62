//! Stream identity: a stream is its set of labels (a Loki push's, or the service and a few
//! resource attributes of an OTLP sender), named by a hash of the labels in name order. Labels
//! are few and short (Loki's own limits: 15 names, names of 1 KiB, values of 2 KiB); a stream
//! that breaks them is refused naming the label.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MAX_LABELS: usize = 15;
pub const MAX_NAME_BYTES: usize = 1024;
pub const MAX_VALUE_BYTES: usize = 2048;

/// Labels that name a stream's service, in the order they are looked at.
const SERVICE_LABELS: [&str; 5] = ["service_name", "service", "job", "app", "application"];

/// A stream: its labels, by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Stream(pub BTreeMap<String, String>);

impl Stream {
    /// The labels, checked: valid names, values not empty, within the limits.
    pub fn new(labels: BTreeMap<String, String>) -> Result<Self, String> {
        let labels: BTreeMap<String, String> =
            labels.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        if labels.len() > MAX_LABELS {
            return Err(format!(
                "a stream has at most {MAX_LABELS} labels; this one has {}",
                labels.len()
            ));
        }
        for (name, value) in &labels {
            if !crate::labels::is_valid_label_name(name) {
                return Err(format!("label name {name:?} is not [a-zA-Z_][a-zA-Z0-9_]*"));
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(format!(
                    "label name {name:?} is longer than {MAX_NAME_BYTES} bytes"
                ));
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(format!(
                    "the value of label {name:?} is longer than {MAX_VALUE_BYTES} bytes"
                ));
            }
        }
        Ok(Self(labels))
    }

    /// The stream's identity: SHA-256 of its labels in name order.
    pub fn hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for (name, value) in &self.0 {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
            hasher.update([0]);
        }
        hasher.finalize().into()
    }

    /// The service the stream's lines come from.
    pub fn service(&self) -> String {
        SERVICE_LABELS
            .iter()
            .find_map(|name| self.0.get(*name))
            .cloned()
            .unwrap_or_else(|| "unknown_service".into())
    }
}

/// A label set as Prometheus and Loki write it: `{name="value", other="v\"q"}`.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("labels {text:?} are not {{name=\"value\", …}}"))?;
    let mut labels = BTreeMap::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("labels {text:?}: a name without =\"value\""))?;
        let name = rest[..eq].trim();
        if !crate::labels::is_valid_label_name(name) {
            return Err(format!("labels {text:?}: {name:?} is not a label name"));
        }
        let after = rest[eq + 1..].trim_start();
        let quoted = after
            .strip_prefix('"')
            .ok_or_else(|| format!("labels {text:?}: the value of {name} is not quoted"))?;
        let mut value = String::new();
        let mut end = None;
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, other)) => value.push(other),
                    None => break,
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end =
            end.ok_or_else(|| format!("labels {text:?}: the value of {name} is not closed"))?;
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("labels {text:?}: {name} is given twice"));
        }
        rest = quoted[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_parse_with_escapes_and_bad_ones_say_why() {
        let labels = parse_labels(r#"{job="agents", msg="say \"hi\"",level="info"}"#).unwrap();
        assert_eq!(labels["msg"], "say \"hi\"");
        assert_eq!(labels.len(), 3);
        assert!(parse_labels("{}").unwrap().is_empty());
        assert!(parse_labels(r#"{1a="x"}"#)
            .unwrap_err()
            .contains("not a label name"));
        assert!(parse_labels(r#"{a=x}"#).unwrap_err().contains("not quoted"));
        assert!(parse_labels(r#"{a="x""#).unwrap_err().contains("not {name"));
        assert!(parse_labels(r#"{a="x", a="y"}"#)
            .unwrap_err()
            .contains("twice"));
    }

    #[test]
    fn a_stream_is_named_by_its_labels_whatever_their_order() {
        let a = Stream::new(parse_labels(r#"{b="2", a="1"}"#).unwrap()).unwrap();
        let b = Stream::new(parse_labels(r#"{a="1", b="2", c=""}"#).unwrap()).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_eq!(a.service(), "unknown_service");
        let too_many = (0..16)
            .map(|i| (format!("l{i}"), "v".to_string()))
            .collect();
        assert!(Stream::new(too_many).is_err());
    }
}
