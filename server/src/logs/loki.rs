//! Loki's push API (`POST /loki/api/v1/push`) as Promtail, Grafana Alloy, Fluent Bit, Vector
//! and the Loki client libraries send it: snappy-compressed protobuf (`logproto.PushRequest`,
//! declared here by hand as Loki's `push.proto` defines it), or JSON
//! (`{"streams": [{"stream": {labels}, "values": [["<unix ns>", "<line>", {metadata}?]]}]}`).

use super::stream::parse_labels;
use super::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// Why a push could not be read; `field` is the path of the part at fault.
#[derive(Debug, PartialEq, Eq)]
pub struct PushError {
    pub field: String,
    pub message: String,
}

fn push_error(field: impl Into<String>, message: impl Into<String>) -> PushError {
    PushError {
        field: field.into(),
        message: message.into(),
    }
}

/// A snappy-compressed protobuf push, at most `max_decoded` bytes once decompressed.
pub fn decode_protobuf(body: &[u8], max_decoded: usize) -> Result<Vec<Entry>, PushError> {
    let length = snap::raw::decompress_len(body)
        .map_err(|e| push_error("body", format!("not snappy-compressed: {e}")))?;
    if length > max_decoded {
        return Err(push_error(
            "body",
            format!("decompresses to {length} bytes, more than the {max_decoded} allowed"),
        ));
    }
    let plain = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| push_error("body", format!("not snappy-compressed: {e}")))?;
    let request: PushRequest = prost::Message::decode(plain.as_slice())
        .map_err(|e| push_error("body", format!("not a Loki PushRequest: {e}")))?;
    let mut entries = Vec::new();
    for (s, stream) in request.streams.into_iter().enumerate() {
        let labels = Arc::new(
            parse_labels(&stream.labels)
                .map_err(|m| push_error(format!("streams[{s}].labels"), m))?,
        );
        for entry in stream.entries {
            let time_ns = entry.timestamp.map(|t| {
                t.seconds
                    .saturating_mul(1_000_000_000)
                    .saturating_add(t.nanos as i64)
            });
            entries.push(Entry {
                time_ns,
                labels: labels.clone(),
                line: entry.line,
                metadata: entry
                    .structured_metadata
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
                ..Entry::default()
            });
        }
    }
    Ok(entries)
}

#[derive(serde::Deserialize)]
struct JsonPush {
    streams: Vec<JsonStream>,
}

#[derive(serde::Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// A JSON push (already decompressed).
pub fn decode_json(body: &[u8]) -> Result<Vec<Entry>, PushError> {
    let push: JsonPush = serde_json::from_slice(body)
        .map_err(|e| push_error("body", format!("not a Loki JSON push: {e}")))?;
    let mut entries = Vec::new();
    for (s, stream) in push.streams.into_iter().enumerate() {
        let labels = Arc::new(stream.stream);
        for (v, value) in stream.values.into_iter().enumerate() {
            let at = || format!("streams[{s}].values[{v}]");
            let mut parts = value.into_iter();
            let time = match parts.next() {
                Some(serde_json::Value::String(t)) => t,
                _ => {
                    return Err(push_error(
                        at(),
                        "expected [\"<unix epoch in nanoseconds>\", \"<line>\"]",
                    ))
                }
            };
            let time_ns: i64 = time.parse().map_err(|_| {
                push_error(
                    format!("{}[0]", at()),
                    format!("{time:?} is not a Unix time in nanoseconds"),
                )
            })?;
            let line = match parts.next() {
                Some(serde_json::Value::String(line)) => line,
                _ => {
                    return Err(push_error(
                        format!("{}[1]", at()),
                        "expected the line as a string",
                    ))
                }
            };
            let metadata = match parts.next() {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Object(map)) => map
                    .into_iter()
                    .map(|(k, v)| match v {
                        serde_json::Value::String(s) => Ok((k, s)),
                        other => Ok((k, other.to_string())),
                    })
                    .collect::<Result<Vec<_>, PushError>>()?,
                Some(_) => {
                    return Err(push_error(
                        format!("{}[2]", at()),
                        "structured metadata is an object of strings",
                    ))
                }
            };
            entries.push(Entry {
                time_ns: Some(time_ns),
                labels: labels.clone(),
                line,
                metadata,
                ..Entry::default()
            });
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn protobuf_pushes_decode_with_labels_times_and_metadata() {
        let request = PushRequest {
            streams: vec![StreamAdapter {
                labels: r#"{job="agents", level="error"}"#.into(),
                entries: vec![EntryAdapter {
                    timestamp: Some(Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 5,
                    }),
                    line: "tool failed".into(),
                    structured_metadata: vec![LabelPairAdapter {
                        name: "trace_id".into(),
                        value: "ab".into(),
                    }],
                }],
                hash: 0,
            }],
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap();
        let entries = decode_protobuf(&body, 1 << 20).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].time_ns, Some(1_700_000_000_000_000_005));
        assert_eq!(entries[0].labels["job"], "agents");
        assert_eq!(
            entries[0].metadata,
            vec![("trace_id".to_string(), "ab".to_string())]
        );
        assert!(decode_protobuf(&body, 4)
            .unwrap_err()
            .message
            .contains("more than"));
        assert!(decode_protobuf(b"\xff\xff\xff", 1 << 20).is_err());
    }

    #[test]
    fn json_pushes_decode_and_name_the_bad_value() {
        let body = br#"{"streams":[{"stream":{"job":"a"},"values":[["1700000000000000000","hello"],["1700000000000000001","x",{"user":"u1"}]]}]}"#;
        let entries = decode_json(body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].metadata[0].1, "u1");
        let e = decode_json(br#"{"streams":[{"stream":{},"values":[["soon","x"]]}]}"#).unwrap_err();
        assert_eq!(e.field, "streams[0].values[0][0]");
    }
}
