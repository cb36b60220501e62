//! Prometheus remote-write 1.0: a snappy-compressed (block format) protobuf `WriteRequest`.
//! Decoding validates everything before anything is stored, so a malformed request changes
//! nothing and its error names the series and the reason.

use super::{prompb, IncomingSeries};
use crate::labels::SeriesKey;
use prost::Message;

/// A decoded request: the series to store and the metadata to remember.
#[derive(Debug, Default)]
pub struct DecodedWrite {
    pub series: Vec<IncomingSeries>,
    pub metadata: Vec<MetadataEntry>,
    /// Exemplars the portal does not store yet; counted, not silently lost.
    pub exemplars_dropped: u64,
}

/// What the sender says a metric is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataEntry {
    pub metric: String,
    pub kind: &'static str,
    pub help: String,
    pub unit: String,
}

/// Why a request could not be decoded; `field` names the part at fault.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub field: String,
    pub message: String,
    /// The decompressed body would exceed the size limit (answered 413).
    pub too_large: bool,
}

impl DecodeError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            too_large: false,
        }
    }
}

/// Decompresses and decodes a remote-write body; `max_decoded` bounds the decompressed size.
pub fn decode(body: &[u8], max_decoded: usize) -> Result<DecodedWrite, DecodeError> {
    let decoded_len = snap::raw::decompress_len(body)
        .map_err(|e| DecodeError::new("body", format!("not snappy block-compressed: {e}")))?;
    if decoded_len > max_decoded {
        return Err(DecodeError {
            field: "body".into(),
            message: format!("decompressed body of {decoded_len} bytes is larger than the limit of {max_decoded}"),
            too_large: true,
        });
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| DecodeError::new("body", format!("not snappy block-compressed: {e}")))?;
    let request = prompb::WriteRequest::decode(raw.as_slice())
        .map_err(|e| DecodeError::new("body", format!("not a Prometheus WriteRequest: {e}")))?;

    let mut out = DecodedWrite::default();
    for (i, ts) in request.timeseries.into_iter().enumerate() {
        let key = SeriesKey::from_pairs(ts.labels.into_iter().map(|l| (l.name, l.value)))
            .map_err(|e| DecodeError::new(format!("timeseries[{i}].labels"), e.0))?;
        if !ts.histograms.is_empty() {
            return Err(DecodeError::new(
                format!("timeseries[{i}].histograms"),
                format!("{key} carries native histograms, which the portal does not store yet; send classic histograms"),
            ));
        }
        out.exemplars_dropped += ts.exemplars.len() as u64;
        if ts.samples.is_empty() {
            continue;
        }
        let samples = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
        out.series.push(IncomingSeries { key, samples });
    }
    for (i, m) in request.metadata.into_iter().enumerate() {
        if !crate::labels::is_valid_metric_name(&m.metric_family_name) {
            return Err(DecodeError::new(
                format!("metadata[{i}].metric_family_name"),
                format!("invalid metric name \"{}\"", m.metric_family_name),
            ));
        }
        let kind = prompb::MetricType::try_from(m.r#type)
            .unwrap_or(prompb::MetricType::Unknown)
            .as_str();
        out.metadata.push(MetadataEntry {
            metric: m.metric_family_name,
            kind,
            help: m.help,
            unit: m.unit,
        });
    }
    Ok(out)
}

/// Encodes series and metadata as a compressed remote-write body, as Prometheus sends it
/// (used by the demo generator and the tests).
pub fn encode(series: &[IncomingSeries], metadata: &[MetadataEntry]) -> Vec<u8> {
    let label = |name: &str, value: &str| prompb::Label {
        name: name.to_string(),
        value: value.to_string(),
    };
    let request = prompb::WriteRequest {
        timeseries: series
            .iter()
            .map(|s| prompb::TimeSeries {
                labels: std::iter::once(label("__name__", &s.key.metric))
                    .chain(s.key.labels.iter().map(|(n, v)| label(n, v)))
                    .collect(),
                samples: s
                    .samples
                    .iter()
                    .map(|&(timestamp, value)| prompb::Sample { value, timestamp })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        metadata: metadata
            .iter()
            .map(|m| prompb::MetricMetadata {
                r#type: metric_type_from_str(m.kind) as i32,
                metric_family_name: m.metric.clone(),
                help: m.help.clone(),
                unit: m.unit.clone(),
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .expect("snappy compresses any input")
}

fn metric_type_from_str(kind: &str) -> prompb::MetricType {
    use prompb::MetricType::*;
    [
        Counter,
        Gauge,
        Histogram,
        Gaugehistogram,
        Summary,
        Info,
        Stateset,
    ]
    .into_iter()
    .find(|t| t.as_str() == kind)
    .unwrap_or(Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompb::{Label, Sample, TimeSeries, WriteRequest};

    /// Label pairs and samples of one series, as a sender might (mis)spell them.
    type RawSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

    /// Builds a body from raw label pairs, which may be invalid on purpose.
    fn encode_raw(series: &[RawSeries<'_>]) -> Vec<u8> {
        let request = WriteRequest {
            timeseries: series
                .iter()
                .map(|(labels, samples)| TimeSeries {
                    labels: labels
                        .iter()
                        .map(|(n, v)| Label {
                            name: n.to_string(),
                            value: v.to_string(),
                        })
                        .collect(),
                    samples: samples
                        .iter()
                        .map(|&(timestamp, value)| Sample { value, timestamp })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            metadata: vec![],
        };
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn encoding_and_decoding_round_trip() {
        let key =
            SeriesKey::from_pairs([("__name__", "agent_queue_depth"), ("queue_name", "triage")])
                .unwrap();
        let series = vec![IncomingSeries {
            key,
            samples: vec![(1_000, 3.0)],
        }];
        let metadata = vec![MetadataEntry {
            metric: "agent_queue_depth".into(),
            kind: "gauge",
            help: "Tasks waiting".into(),
            unit: String::new(),
        }];
        let decoded = decode(&encode(&series, &metadata), 1 << 20).unwrap();
        assert_eq!(decoded.series, series);
        assert_eq!(decoded.metadata, metadata);
    }

    #[test]
    fn a_write_request_decodes_into_validated_series() {
        let body = encode_raw(&[(
            &[("__name__", "up"), ("job", "agents")],
            &[(1_000, 1.0), (2_000, 0.0)],
        )]);
        let decoded = decode(&body, 1 << 20).unwrap();
        assert_eq!(decoded.series.len(), 1);
        assert_eq!(decoded.series[0].key.to_string(), r#"up{job="agents"}"#);
        assert_eq!(decoded.series[0].samples, vec![(1_000, 1.0), (2_000, 0.0)]);
    }

    #[test]
    fn a_bad_series_fails_the_whole_request_and_is_named() {
        let body = encode_raw(&[
            (&[("__name__", "up")], &[(1, 1.0)]),
            (&[("__name__", "up"), ("bad-label", "x")], &[(1, 1.0)]),
        ]);
        let err = decode(&body, 1 << 20).unwrap_err();
        assert_eq!(err.field, "timeseries[1].labels");
        assert!(err.message.contains("invalid label name \"bad-label\""));
    }

    #[test]
    fn bodies_that_are_not_snappy_or_protobuf_are_refused() {
        assert!(decode(b"plain text", 1 << 20)
            .unwrap_err()
            .message
            .contains("snappy"));
        let not_proto = snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff\xff")
            .unwrap();
        assert!(decode(&not_proto, 1 << 20)
            .unwrap_err()
            .message
            .contains("WriteRequest"));
    }

    #[test]
    fn a_body_that_decompresses_beyond_the_limit_is_too_large() {
        let body = encode_raw(&[(&[("__name__", "up")], &[(1, 1.0); 100])]);
        let err = decode(&body, 64).unwrap_err();
        assert!(err.too_large);
    }
}
