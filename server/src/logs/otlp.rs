//! OTLP logs → entries, as Loki's own OTLP receiver files them: `service.name` and a few
//! resource attributes that say where a line runs (namespace, instance, environment, cloud
//! region and zone, Kubernetes and container names) become stream labels with `_` for `.`;
//! the record's attributes, the resource's other attributes and the scope's name become
//! fields; the severity number (or text), the trace and span ids are kept as they are.

use super::Entry;
use crate::otlp::resource::{value_json, value_text};
use opentelemetry_proto::tonic::{
    collector::logs::v1::ExportLogsServiceRequest, common::v1::any_value,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Resource attributes that become stream labels (Loki's defaults).
pub const STREAM_ATTRIBUTES: [&str; 17] = [
    "service.name",
    "service.namespace",
    "service.instance.id",
    "deployment.environment",
    "deployment.environment.name",
    "cloud.region",
    "cloud.availability_zone",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.name",
    "k8s.replicaset.name",
    "k8s.deployment.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.job.name",
];

/// Most fields one record keeps; the rest are dropped and counted in `fields_dropped`.
const MAX_FIELDS: usize = 128;

fn hex(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty() && bytes.iter().any(|b| *b != 0))
        .then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Every record of the request as an entry.
pub fn entries(request: &ExportLogsServiceRequest) -> Vec<Entry> {
    let mut out = Vec::new();
    for resource_logs in &request.resource_logs {
        let attributes = resource_logs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let mut labels = BTreeMap::new();
        let mut resource_fields = Map::new();
        for kv in attributes {
            if STREAM_ATTRIBUTES.contains(&kv.key.as_str()) {
                labels.insert(
                    crate::otlp::resource::label_name(&kv.key),
                    value_text(kv.value.as_ref()),
                );
            } else if resource_fields.len() < MAX_FIELDS {
                resource_fields.insert(kv.key.clone(), value_json(kv.value.as_ref()));
            }
        }
        labels
            .entry("service_name".to_string())
            .or_insert_with(|| "unknown_service".to_string());
        let labels = std::sync::Arc::new(labels);
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_logs
                .scope
                .as_ref()
                .map(|s| s.name.as_str())
                .filter(|n| !n.is_empty());
            for record in &scope_logs.log_records {
                let mut fields = Map::new();
                for kv in &record.attributes {
                    if fields.len() >= MAX_FIELDS {
                        break;
                    }
                    fields.insert(kv.key.clone(), value_json(kv.value.as_ref()));
                }
                let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
                    None => String::new(),
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::KvlistValue(_)) => {
                        // A structured body: its keys are fields too, its JSON the line.
                        let value = value_json(record.body.as_ref());
                        if let Value::Object(map) = &value {
                            for (k, v) in map {
                                if fields.len() >= MAX_FIELDS {
                                    break;
                                }
                                fields.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                        value.to_string()
                    }
                    Some(_) => value_text(record.body.as_ref()),
                };
                if let Some(scope) = scope {
                    fields
                        .entry("scope".to_string())
                        .or_insert_with(|| Value::String(scope.to_string()));
                }
                for (k, v) in &resource_fields {
                    if fields.len() >= MAX_FIELDS {
                        break;
                    }
                    fields.entry(k.clone()).or_insert_with(|| v.clone());
                }
                let time_ns = [record.time_unix_nano, record.observed_time_unix_nano]
                    .into_iter()
                    .find(|t| *t > 0)
                    .and_then(|t| i64::try_from(t).ok());
                let severity = u8::try_from(record.severity_number)
                    .ok()
                    .filter(|n| (1..=24).contains(n))
                    .or_else(|| super::severity_of_text(&record.severity_text));
                out.push(Entry {
                    time_ns,
                    labels: labels.clone(),
                    line: body,
                    metadata: Vec::new(),
                    fields,
                    severity,
                    trace_id: hex(&record.trace_id),
                    span_id: hex(&record.span_id),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::resource::kv;
    use opentelemetry_proto::tonic::{
        common::v1::{AnyValue, KeyValueList},
        logs::v1::{LogRecord, ResourceLogs, ScopeLogs},
        resource::v1::Resource,
    };

    #[test]
    fn records_keep_their_service_severity_fields_and_trace() {
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", "coder"), kv("host.name", "box")],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(
                        opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                            name: "agents.coder".into(),
                            ..Default::default()
                        },
                    ),
                    log_records: vec![
                        LogRecord {
                            time_unix_nano: 1_700_000_000_000_000_000,
                            severity_number: 17,
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("tool failed".into())),
                            }),
                            attributes: vec![kv("agent_id", "coder-1")],
                            trace_id: vec![1; 16],
                            span_id: vec![2; 8],
                            ..Default::default()
                        },
                        LogRecord {
                            observed_time_unix_nano: 5,
                            severity_text: "WARNING".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::KvlistValue(KeyValueList {
                                    values: vec![kv("msg", "slow")],
                                })),
                            }),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let entries = entries(&request);
        assert_eq!(entries.len(), 2);
        let e = &entries[0];
        assert_eq!(e.labels["service_name"], "coder");
        assert!(!e.labels.contains_key("host_name"));
        assert_eq!(e.fields["host.name"], "box");
        assert_eq!(e.fields["scope"], "agents.coder");
        assert_eq!(e.fields["agent_id"], "coder-1");
        assert_eq!(e.severity, Some(17));
        assert_eq!(
            e.trace_id.as_deref(),
            Some("01010101010101010101010101010101")
        );
        assert_eq!(e.span_id.as_deref(), Some("0202020202020202"));
        let e = &entries[1];
        assert_eq!(e.time_ns, Some(5));
        assert_eq!(e.severity, Some(13));
        assert_eq!(e.line, r#"{"msg":"slow"}"#);
        assert_eq!(e.fields["msg"], "slow");
    }
}
