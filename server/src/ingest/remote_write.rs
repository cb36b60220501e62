//! Prometheus remote-write 1.0: a snappy-compressed (block format) protobuf `WriteRequest`.
//! Decoding validates everything before anything is stored, so a malformed request changes
//! nothing and its error names the series and the reason.

use super::{prompb, IncomingSeries};
use crate::labels::SeriesKey;
use prost::Message;

/// A decoded request: the series to store and the metadata to remember.
#[derive(Debug, Default)]
pub struct DecodedWrite {
    /// Series the portal already knows, by id (their labels were checked when first seen).
    pub known: Vec<(i64, Vec<(i64, f64)>)>,
    /// Series seen for the first time, checked.
    pub series: Vec<IncomingSeries>,
    pub metadata: Vec<MetadataEntry>,
    /// Exemplars the portal does not store yet; counted, not silently lost.
    pub exemplars_dropped: u64,
}

pub use crate::store::metadata::MetadataEntry;

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

/// The fingerprint `SeriesKey::fingerprint` would give these labels, computed from the raw
/// bytes; `None` unless they are in the canonical form a valid key has (one `__name__`, the
/// others strictly sorted by name), in which case only a full check can tell.
fn raw_fingerprint(labels: &[(&[u8], &[u8])]) -> Option<[u8; 16]> {
    let mut metric: Option<&[u8]> = None;
    let mut previous: Option<&[u8]> = None;
    for &(name, value) in labels {
        if name == b"__name__" {
            if metric.replace(value).is_some() {
                return None;
            }
        } else {
            if previous.is_some_and(|p| p >= name) {
                return None;
            }
            previous = Some(name);
        }
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(metric?);
    for &(name, value) in labels {
        if name != b"__name__" && !value.is_empty() {
            h.update(&[0xff]);
            h.update(name);
            h.update(&[0xfe]);
            h.update(value);
        }
    }
    Some(h.digest128().to_be_bytes())
}

/// Reads protobuf wire format in place: the request is walked once, labels stay slices of it.
struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    /// The next field's number and wire type.
    fn key(&mut self) -> Result<(u64, u8), String> {
        let k = self.varint()?;
        Ok((k >> 3, (k & 7) as u8))
    }

    fn fixed64(&mut self) -> Result<u64, String> {
        let bytes = self
            .buf
            .get(self.pos..self.pos + 8)
            .ok_or("truncated fixed64")?;
        self.pos += 8;
        Ok(u64::from_le_bytes(
            bytes.try_into().map_err(|_| "truncated fixed64")?,
        ))
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()? as usize;
        let end = self.pos.checked_add(len).ok_or("length overflows")?;
        let out = self.buf.get(self.pos..end).ok_or("truncated field")?;
        self.pos = end;
        Ok(out)
    }

    /// Skips a field of wire type `wire`.
    fn skip(&mut self, wire: u8) -> Result<(), String> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.fixed64().map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => {
                self.pos += 4;
                (self.pos <= self.buf.len())
                    .then_some(())
                    .ok_or_else(|| "truncated fixed32".into())
            }
            other => Err(format!("unsupported wire type {other}")),
        }
    }
}

/// One `TimeSeries` as read in place; its labels are a range of the request's label list.
struct RawSeries {
    labels: std::ops::Range<usize>,
    samples: Vec<(i64, f64)>,
    exemplars: u64,
    histograms: u64,
}

/// Reads one `TimeSeries` message, adding its labels to `labels` (one list for the whole
/// request, so a series costs no allocation of its own for them).
fn read_series<'a>(
    buf: &'a [u8],
    labels: &mut Vec<(&'a [u8], &'a [u8])>,
) -> Result<RawSeries, String> {
    let mut w = Wire::new(buf);
    let first_label = labels.len();
    let mut out = RawSeries {
        labels: first_label..first_label,
        // Room for as many samples as the message could hold, so the vector rarely grows.
        samples: Vec::with_capacity(sample_room(buf)),
        exemplars: 0,
        histograms: 0,
    };
    while !w.done() {
        match w.key()? {
            (1, 2) => {
                let mut l = Wire::new(w.bytes()?);
                let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
                while !l.done() {
                    match l.key()? {
                        (1, 2) => name = l.bytes()?,
                        (2, 2) => value = l.bytes()?,
                        (_, wire) => l.skip(wire)?,
                    }
                }
                labels.push((name, value));
            }
            (2, 2) => {
                let mut m = Wire::new(w.bytes()?);
                let (mut value, mut timestamp) = (0f64, 0i64);
                while !m.done() {
                    match m.key()? {
                        (1, 1) => value = f64::from_bits(m.fixed64()?),
                        (2, 0) => timestamp = m.varint()? as i64,
                        (_, wire) => m.skip(wire)?,
                    }
                }
                out.samples.push((timestamp, value));
            }
            (3, 2) => {
                w.bytes()?;
                out.exemplars += 1;
            }
            (4, 2) => {
                w.bytes()?;
                out.histograms += 1;
            }
            (_, wire) => w.skip(wire)?,
        }
    }
    out.labels.end = labels.len();
    Ok(out)
}

/// How many samples a `TimeSeries` message of this length could hold, each with a value and a
/// timestamp (13 bytes at least: tag, length, the value's tag and 8 bytes, the timestamp's tag
/// and a byte), capped: a capacity for its vector, not a limit.
fn sample_room(message: &[u8]) -> usize {
    (message.len() / 13).clamp(1, 4096)
}

fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("a label {what} is not UTF-8"))
}

/// Decompresses and decodes a remote-write body; `max_decoded` bounds the decompressed size.
/// `known` maps series fingerprints to the ids of series the portal already has: those skip
/// the label checks and key building that new series go through.
pub fn decode(
    body: &[u8],
    max_decoded: usize,
    known: impl FnOnce(&[Option<[u8; 16]>]) -> Vec<Option<i64>>,
) -> Result<DecodedWrite, DecodeError> {
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
    // One pass over the request: series read in place, metadata decoded as messages.
    let not_request =
        |e: String| DecodeError::new("body", format!("not a Prometheus WriteRequest: {e}"));
    let mut series: Vec<RawSeries> = Vec::new();
    let mut labels: Vec<(&[u8], &[u8])> = Vec::new();
    let mut metadata: Vec<prompb::MetricMetadata> = Vec::new();
    let mut w = Wire::new(&raw);
    while !w.done() {
        match w.key().map_err(not_request)? {
            (1, 2) => {
                let message = w.bytes().map_err(not_request)?;
                series.push(read_series(message, &mut labels).map_err(not_request)?)
            }
            (3, 2) => metadata.push(
                prompb::MetricMetadata::decode(w.bytes().map_err(not_request)?)
                    .map_err(|e| not_request(e.to_string()))?,
            ),
            (_, wire) => w.skip(wire).map_err(not_request)?,
        }
    }

    let fingerprints: Vec<Option<[u8; 16]>> = series
        .iter()
        .map(|ts| raw_fingerprint(&labels[ts.labels.clone()]))
        .collect();
    let ids = known(&fingerprints);
    let mut out = DecodedWrite::default();
    for (i, ts) in series.into_iter().enumerate() {
        let known_id = ids.get(i).copied().flatten();
        let key = match known_id {
            Some(_) => None,
            None => {
                let pairs = labels[ts.labels.clone()]
                    .iter()
                    .map(|&(n, v)| Ok((text(n, "name")?, text(v, "value")?)))
                    .collect::<Result<Vec<(String, String)>, String>>()
                    .map_err(|e| DecodeError::new(format!("timeseries[{i}].labels"), e))?;
                Some(
                    SeriesKey::from_pairs(pairs)
                        .map_err(|e| DecodeError::new(format!("timeseries[{i}].labels"), e.0))?,
                )
            }
        };
        if ts.histograms > 0 {
            let name = key
                .as_ref()
                .map_or_else(|| "a series".to_string(), |k| k.to_string());
            return Err(DecodeError::new(
                format!("timeseries[{i}].histograms"),
                format!("{name} carries native histograms, which the portal does not store yet; send classic histograms"),
            ));
        }
        out.exemplars_dropped += ts.exemplars;
        if ts.samples.is_empty() {
            continue;
        }
        match (known_id, key) {
            (Some(id), _) => out.known.push((id, ts.samples)),
            (None, Some(key)) => out.series.push(IncomingSeries {
                key,
                samples: ts.samples,
            }),
            (None, None) => unreachable!("a series is either known or has a checked key"),
        }
    }
    for (i, m) in metadata.into_iter().enumerate() {
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
        name: name.to_string().into(),
        value: value.to_string().into(),
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

    fn none_known(f: &[Option<[u8; 16]>]) -> Vec<Option<i64>> {
        vec![None; f.len()]
    }

    #[test]
    fn known_series_are_recognised_by_their_raw_bytes() {
        let key = SeriesKey::from_pairs([("__name__", "up"), ("job", "a"), ("empty", "")]).unwrap();
        let body = encode(
            &[IncomingSeries {
                key: key.clone(),
                samples: vec![(1, 1.0)],
            }],
            &[],
        );
        let decoded = decode(&body, 1 << 20, |f| {
            assert_eq!(f, [Some(key.fingerprint())]);
            vec![Some(42)]
        })
        .unwrap();
        assert_eq!(decoded.known, vec![(42, vec![(1, 1.0)])]);
        assert!(decoded.series.is_empty());
        // Unsorted labels are not canonical: no fingerprint, so they are checked in full.
        let labels =
            |pairs: &[(&'static str, &'static str)]| -> Vec<(&'static [u8], &'static [u8])> {
                pairs
                    .iter()
                    .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                    .collect()
            };
        assert_eq!(
            raw_fingerprint(&labels(&[("__name__", "up"), ("b", "1"), ("a", "2")])),
            None
        );
        assert_eq!(
            raw_fingerprint(&labels(&[("__name__", "up"), ("__name__", "x")])),
            None
        );
        assert_eq!(raw_fingerprint(&labels(&[("job", "a")])), None);
        // A truncated request is refused, not misread.
        let body = encode(
            &[IncomingSeries {
                key: key.clone(),
                samples: vec![(1, 1.0)],
            }],
            &[],
        );
        let mut raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        raw.truncate(raw.len() - 3);
        let cut = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
        assert_eq!(decode(&cut, 1 << 20, none_known).unwrap_err().field, "body");
    }
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
                            name: n.to_string().into(),
                            value: v.to_string().into(),
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
        let decoded = decode(&encode(&series, &metadata), 1 << 20, none_known).unwrap();
        assert_eq!(decoded.series, series);
        assert_eq!(decoded.metadata, metadata);
    }

    #[test]
    fn a_write_request_decodes_into_validated_series() {
        let body = encode_raw(&[(
            &[("__name__", "up"), ("job", "agents")],
            &[(1_000, 1.0), (2_000, 0.0)],
        )]);
        let decoded = decode(&body, 1 << 20, none_known).unwrap();
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
        let err = decode(&body, 1 << 20, none_known).unwrap_err();
        assert_eq!(err.field, "timeseries[1].labels");
        assert!(err.message.contains("invalid label name \"bad-label\""));
    }

    #[test]
    fn bodies_that_are_not_snappy_or_protobuf_are_refused() {
        assert!(decode(b"plain text", 1 << 20, none_known)
            .unwrap_err()
            .message
            .contains("snappy"));
        let not_proto = snap::raw::Encoder::new()
            .compress_vec(b"\xff\xff\xff")
            .unwrap();
        assert!(decode(&not_proto, 1 << 20, none_known)
            .unwrap_err()
            .message
            .contains("WriteRequest"));
    }

    #[test]
    fn a_body_that_decompresses_beyond_the_limit_is_too_large() {
        let body = encode_raw(&[(&[("__name__", "up")], &[(1, 1.0); 100])]);
        let err = decode(&body, 64, none_known).unwrap_err();
        assert!(err.too_large);
    }
}
