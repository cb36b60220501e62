//! What a resource's attributes say of who sent the data: the service identity every signal
//! files it under (`service.namespace`/`service.name`, as Prometheus' `job` is made from them,
//! and `service.instance.id`), and attribute values as text or JSON.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};

/// The resource attributes that name the service; every other one describes it.
pub const IDENTITY_ATTRIBUTES: [&str; 3] =
    ["service.name", "service.namespace", "service.instance.id"];

/// Who sent a resource's data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    /// `service.namespace/service.name`, or the name alone (Prometheus' `job`).
    pub job: Option<String>,
    /// `service.name` alone.
    pub name: Option<String>,
    /// `service.instance.id`.
    pub instance: Option<String>,
}

impl Service {
    pub fn of(attributes: &[KeyValue]) -> Self {
        let get = |name: &str| {
            attributes
                .iter()
                .find(|kv| kv.key == name)
                .map(|kv| value_text(kv.value.as_ref()))
                .filter(|v| !v.is_empty())
        };
        let name = get("service.name");
        let job = match (get("service.namespace"), &name) {
            (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
            (_, name) => name.clone(),
        };
        Self {
            job,
            name,
            instance: get("service.instance.id"),
        }
    }
}

/// An attribute value as text: strings as they are, numbers and booleans printed, the rest
/// (arrays, maps, bytes) as OTLP/JSON.
pub fn value_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => format!("{d}"),
        Some(other) => serde_json::to_string(&AnyValue {
            value: Some(other.clone()),
        })
        .unwrap_or_default(),
    }
}

/// An attribute value as plain JSON: strings, numbers and booleans as themselves, arrays and
/// maps as JSON arrays and objects, bytes as lowercase hex.
pub fn value_json(value: Option<&AnyValue>) -> serde_json::Value {
    use serde_json::Value;
    fn of(value: &any_value::Value, depth: usize) -> Value {
        // Senders control the nesting; past a sane depth the rest is kept as text.
        if depth > 16 {
            return Value::String(
                serde_json::to_string(&AnyValue {
                    value: Some(value.clone()),
                })
                .unwrap_or_default(),
            );
        }
        match value {
            any_value::Value::StringValue(s) => Value::String(s.clone()),
            any_value::Value::BoolValue(b) => Value::Bool(*b),
            any_value::Value::IntValue(i) => Value::from(*i),
            any_value::Value::DoubleValue(d) => serde_json::Number::from_f64(*d)
                .map_or_else(|| Value::String(d.to_string()), Value::Number),
            any_value::Value::ArrayValue(a) => Value::Array(
                a.values
                    .iter()
                    .filter_map(|v| v.value.as_ref().map(|v| of(v, depth + 1)))
                    .collect(),
            ),
            any_value::Value::KvlistValue(kvs) => Value::Object(
                kvs.values
                    .iter()
                    .map(|kv| {
                        (
                            kv.key.clone(),
                            kv.value
                                .as_ref()
                                .and_then(|v| v.value.as_ref())
                                .map_or(Value::Null, |v| of(v, depth + 1)),
                        )
                    })
                    .collect(),
            ),
            any_value::Value::BytesValue(b) => {
                Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
            }
            // A reference into a dictionary this portal does not receive: kept as OTLP/JSON.
            other => Value::String(
                serde_json::to_string(&AnyValue {
                    value: Some(other.clone()),
                })
                .unwrap_or_default(),
            ),
        }
    }
    value
        .and_then(|v| v.value.as_ref())
        .map_or(serde_json::Value::Null, |v| of(v, 0))
}

/// A string attribute, as senders (and the demo) attach them.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// Prometheus' (and Loki's) OTLP label-name rule for attribute names: invalid characters become `_`; a leading digit gets a
/// `key_` prefix, a single leading `_` a `key` prefix.
pub fn label_name(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.as_bytes()[0].is_ascii_digit() {
        out.insert_str(0, "key_");
    } else if out.starts_with('_') && !out.starts_with("__") {
        out.insert_str(0, "key");
    }
    debug_assert!(crate::labels::is_valid_label_name(&out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_is_named_by_namespace_and_name_and_its_instance() {
        let service = Service::of(&[
            kv("service.name", "coder"),
            kv("service.namespace", "agents"),
            kv("service.instance.id", "coder-1"),
            kv("host.name", "box"),
        ]);
        assert_eq!(service.job.as_deref(), Some("agents/coder"));
        assert_eq!(service.name.as_deref(), Some("coder"));
        assert_eq!(service.instance.as_deref(), Some("coder-1"));
        assert_eq!(Service::of(&[kv("service.name", "")]), Service::default());
    }

    #[test]
    fn values_become_text_or_json() {
        let int = AnyValue {
            value: Some(any_value::Value::IntValue(42)),
        };
        assert_eq!(value_text(Some(&int)), "42");
        assert_eq!(value_json(Some(&int)), serde_json::json!(42));
        let list = AnyValue {
            value: Some(any_value::Value::ArrayValue(
                opentelemetry_proto::tonic::common::v1::ArrayValue {
                    values: vec![int.clone(), kv("a", "b").value.unwrap()],
                },
            )),
        };
        assert_eq!(value_json(Some(&list)), serde_json::json!([42, "b"]));
    }
    #[test]
    fn label_names_are_sanitised() {
        assert_eq!(label_name("agent.id"), "agent_id");
        assert_eq!(label_name("0day"), "key_0day");
        assert_eq!(label_name("_private"), "key_private");
        assert_eq!(label_name("__reserved"), "__reserved");
    }
}
