//! Series identity: a metric name and a set of labels, validated and normalised the way
//! Prometheus does it (names checked, empty values dropped, sorted by name), with a stable
//! 128-bit fingerprint that keys the series dictionary.

use std::fmt;

/// A series' identity. Labels exclude `__name__`, are sorted by name and have no empty values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub metric: String,
    pub labels: Vec<(String, String)>,
}

/// Why a label set was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelError(pub String);

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Returns whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Returns whether `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl SeriesKey {
    /// Builds a key from name/value pairs that include `__name__`, in any order.
    /// Owned strings are moved into the key, borrowed ones copied.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Result<Self, LabelError>
    where
        N: AsRef<str> + Into<String>,
        V: AsRef<str> + Into<String>,
    {
        let mut metric = None;
        let mut labels: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            if name.as_ref() == "__name__" {
                if metric.is_some() {
                    return Err(LabelError("duplicate label __name__".into()));
                }
                if !is_valid_metric_name(value.as_ref()) {
                    return Err(LabelError(format!(
                        "invalid metric name \"{}\"",
                        value.as_ref()
                    )));
                }
                metric = Some(value.into());
                continue;
            }
            if !is_valid_label_name(name.as_ref()) {
                return Err(LabelError(format!(
                    "invalid label name \"{}\"",
                    name.as_ref()
                )));
            }
            if !value.as_ref().is_empty() {
                labels.push((name.into(), value.into()));
            }
        }
        let metric =
            metric.ok_or_else(|| LabelError("missing metric name (label __name__)".into()))?;
        labels.sort();
        if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(LabelError(format!("duplicate label name \"{}\"", w[0].0)));
        }
        Ok(Self { metric, labels })
    }

    /// A stable 128-bit hash of the name and labels (XXH3-128 of an unambiguous encoding).
    pub fn fingerprint(&self) -> [u8; 16] {
        // Streamed: the same hash as of the concatenated bytes, without building them.
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(self.metric.as_bytes());
        for (name, value) in &self.labels {
            h.update(&[0xff]);
            h.update(name.as_bytes());
            h.update(&[0xfe]);
            h.update(value.as_bytes());
        }
        h.digest128().to_be_bytes()
    }

    /// The labels as a JSON object, for storage.
    pub fn labels_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.labels
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    }
}

impl fmt::Display for SeriesKey {
    /// Writes the series as PromQL does: `name{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.metric)?;
        if self.labels.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, (name, value)) in self.labels.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}={value:?}")?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_those_stored_by_earlier_versions() {
        // The one-shot hash of the concatenated encoding, as the dictionary's rows were keyed.
        let key =
            SeriesKey::from_pairs([("__name__", "up"), ("job", "a"), ("instance", "b:1")]).unwrap();
        let mut buf = b"up".to_vec();
        for (n, v) in [("instance", "b:1"), ("job", "a")] {
            buf.push(0xff);
            buf.extend_from_slice(n.as_bytes());
            buf.push(0xfe);
            buf.extend_from_slice(v.as_bytes());
        }
        assert_eq!(
            key.fingerprint(),
            xxhash_rust::xxh3::xxh3_128(&buf).to_be_bytes()
        );
        let long = SeriesKey::from_pairs([("__name__", "m"), ("v", &"x".repeat(300)[..])]).unwrap();
        let mut buf = b"m\xffv\xfe".to_vec();
        buf.extend_from_slice("x".repeat(300).as_bytes());
        assert_eq!(
            long.fingerprint(),
            xxhash_rust::xxh3::xxh3_128(&buf).to_be_bytes()
        );
    }

    #[test]
    fn names_follow_the_prometheus_rules() {
        for ok in [
            "up",
            "agent_task_duration_seconds",
            "job:rate5m",
            "_x",
            "A1",
        ] {
            assert!(is_valid_metric_name(ok), "{ok}");
        }
        for bad in ["", "1up", "task-duration", "naïve", "a b"] {
            assert!(!is_valid_metric_name(bad), "{bad}");
        }
        assert!(is_valid_label_name("agent_id"));
        assert!(
            !is_valid_label_name("job:rate"),
            "colons are for metric names only"
        );
        assert!(!is_valid_label_name("0day"));
    }

    #[test]
    fn keys_are_sorted_without_empty_values() {
        let key = SeriesKey::from_pairs([
            ("job", "agents"),
            ("__name__", "up"),
            ("empty", ""),
            ("agent_id", "a1"),
        ])
        .unwrap();
        assert_eq!(key.metric, "up");
        assert_eq!(
            key.labels,
            vec![
                ("agent_id".into(), "a1".into()),
                ("job".into(), "agents".into())
            ]
        );
        assert_eq!(key.to_string(), r#"up{agent_id="a1", job="agents"}"#);
    }

    #[test]
    fn bad_label_sets_say_what_is_wrong() {
        let cases = [
            (vec![("job", "x")], "missing metric name"),
            (
                vec![("__name__", "up"), ("job", "a"), ("job", "b")],
                "duplicate label name \"job\"",
            ),
            (
                vec![("__name__", "up"), ("bad-name", "a")],
                "invalid label name \"bad-name\"",
            ),
            (vec![("__name__", "9lives")], "invalid metric name"),
        ];
        for (pairs, needle) in cases {
            let err = SeriesKey::from_pairs(pairs).unwrap_err().0;
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn fingerprints_depend_on_every_name_and_value_but_not_on_order() {
        let a = SeriesKey::from_pairs([("__name__", "up"), ("a", "1"), ("b", "2")]).unwrap();
        let b = SeriesKey::from_pairs([("b", "2"), ("a", "1"), ("__name__", "up")]).unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        let shifted = SeriesKey::from_pairs([("__name__", "up"), ("a", "12"), ("b", "")]).unwrap();
        assert_ne!(a.fingerprint(), shifted.fingerprint());
        let renamed = SeriesKey::from_pairs([("__name__", "up2"), ("a", "1"), ("b", "2")]).unwrap();
        assert_ne!(a.fingerprint(), renamed.fingerprint());
    }
}
