//! OTLP metrics → Prometheus series, by Prometheus' own OTLP translation rules: names gain
//! their unit and `_total` suffixes, attribute names are sanitised, `service.name` becomes
//! `job` and `service.instance.id` becomes `instance`, the other resource attributes go to a
//! `target_info` series. Histograms become classic `_bucket{le}`/`_sum`/`_count` series
//! (exponential ones merged to powers of two so their `le` values stay stable), summaries
//! become `{quantile}` series. Delta temporality is turned into cumulative by keeping running
//! totals, so `rate()` works the same whichever temporality the sender chose.
//!
//! A request with a point that cannot be translated is refused whole, naming the point.

use super::{remote_write::MetadataEntry, IncomingSeries};
use crate::labels::SeriesKey;
use crate::otlp::resource::{value_text, Service, IDENTITY_ATTRIBUTES};
use crate::tsdb::STALE_NAN_BITS;
use opentelemetry_proto::tonic::{
    collector::metrics::v1::ExportMetricsServiceRequest,
    common::v1::KeyValue,
    metrics::v1::{
        metric::Data, number_data_point, AggregationTemporality, ExponentialHistogramDataPoint,
        HistogramDataPoint,
    },
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Why a request was refused; `field` is the path of the part at fault.
#[derive(Debug, PartialEq, Eq)]
pub struct TranslateError {
    pub field: String,
    pub message: String,
}

/// The series and metadata a request becomes.
#[derive(Debug, Default)]
pub struct Translated {
    pub series: Vec<IncomingSeries>,
    pub metadata: Vec<MetadataEntry>,
    pub points: u64,
}

/// Running totals of delta series, by series fingerprint. After a restart a delta series starts
/// again from zero, which PromQL's counter functions read as a reset.
#[derive(Default)]
pub struct DeltaTotals(Mutex<HashMap<[u8; 16], f64>>);

impl DeltaTotals {
    fn add(&self, key: &SeriesKey, delta: f64) -> f64 {
        let mut totals = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let total = totals.entry(key.fingerprint()).or_insert(0.0);
        *total += delta;
        *total
    }
}

const NO_RECORDED_VALUE: u32 = 1;
const DELTA: i32 = AggregationTemporality::Delta as i32;

/// Translates a whole request, or refuses it naming the first point at fault.
pub fn translate(
    request: &ExportMetricsServiceRequest,
    totals: &DeltaTotals,
) -> Result<Translated, TranslateError> {
    let mut out = Builder {
        series: BTreeMap::new(),
        metadata: Vec::new(),
        points: 0,
        totals,
    };
    for (r, resource_metrics) in request.resource_metrics.iter().enumerate() {
        let resource_attrs = resource_metrics
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let identity = ResourceIdentity::new(resource_attrs);
        let mut latest_ts = None;
        for (s, scope) in resource_metrics.scope_metrics.iter().enumerate() {
            for (m, metric) in scope.metrics.iter().enumerate() {
                let path = format!("resourceMetrics[{r}].scopeMetrics[{s}].metrics[{m}]");
                let ts = out.metric(&path, metric, &identity)?;
                latest_ts = latest_ts.max(ts);
            }
        }
        if let (Some(ts), false) = (latest_ts, identity.info.is_empty()) {
            let labels = identity.with(identity.info.clone());
            out.push_key(key("target_info", labels), ts, 1.0, false);
        }
    }
    Ok(Translated {
        series: out
            .series
            .into_iter()
            .map(|(key, samples)| IncomingSeries { key, samples })
            .collect(),
        metadata: out.metadata,
        points: out.points,
    })
}

/// The labels a resource gives every series: `job`, `instance`, and the rest for `target_info`.
struct ResourceIdentity {
    job: Option<String>,
    instance: Option<String>,
    info: Vec<(String, String)>,
}

impl ResourceIdentity {
    fn new(attrs: &[KeyValue]) -> Self {
        let service = Service::of(attrs);
        let rest = attrs
            .iter()
            .filter(|kv| !IDENTITY_ATTRIBUTES.contains(&kv.key.as_str()));
        Self {
            job: service.job,
            instance: service.instance,
            info: sanitize_attributes(rest),
        }
    }

    /// `labels` plus `job` and `instance`, which win over point attributes of the same name.
    fn with(&self, mut labels: Vec<(String, String)>) -> Vec<(String, String)> {
        labels.retain(|(name, _)| name != "job" && name != "instance");
        labels.extend(self.job.clone().map(|j| ("job".to_string(), j)));
        labels.extend(self.instance.clone().map(|i| ("instance".to_string(), i)));
        labels
    }
}

/// A histogram point of either kind, its buckets as (upper bound, count in that bucket alone),
/// in increasing order.
struct HistogramPoint<'a> {
    time_unix_nano: u64,
    attributes: &'a [KeyValue],
    flags: u32,
    buckets: Vec<(f64, u64)>,
    count: u64,
    sum: Option<f64>,
}

/// `value`, or the stale marker when the point says it has no recorded value.
fn recorded(flags: u32, value: f64) -> f64 {
    if flags & NO_RECORDED_VALUE != 0 {
        f64::from_bits(STALE_NAN_BITS)
    } else {
        value
    }
}

struct Builder<'a> {
    series: BTreeMap<SeriesKey, Vec<(i64, f64)>>,
    metadata: Vec<MetadataEntry>,
    points: u64,
    totals: &'a DeltaTotals,
}

impl Builder<'_> {
    /// Adds one metric's points; returns the latest timestamp seen.
    fn metric(
        &mut self,
        path: &str,
        metric: &opentelemetry_proto::tonic::metrics::v1::Metric,
        identity: &ResourceIdentity,
    ) -> Result<Option<i64>, TranslateError> {
        let err = |field: String, message: String| TranslateError { field, message };
        let Some(data) = &metric.data else {
            return Err(err(
                format!("{path}.data"),
                format!("metric \"{}\" has no data", metric.name),
            ));
        };
        let (kind, monotonic) = match data {
            Data::Gauge(_) => ("gauge", false),
            Data::Sum(s) if s.is_monotonic => ("counter", true),
            Data::Sum(_) => ("gauge", false),
            Data::Histogram(_) | Data::ExponentialHistogram(_) => ("histogram", false),
            Data::Summary(_) => ("summary", false),
        };
        let name = metric_name(&metric.name, &metric.unit, monotonic, kind == "gauge");
        if name.is_empty() {
            return Err(err(
                format!("{path}.name"),
                format!(
                    "metric name \"{}\" has no letters or digits to make a Prometheus name of",
                    metric.name
                ),
            ));
        }
        self.metadata.push(MetadataEntry {
            metric: name.clone(),
            kind,
            help: metric.description.clone(),
            unit: metric.unit.clone(),
        });
        let labels_of = |attrs: &[KeyValue]| identity.with(sanitize_attributes(attrs.iter()));
        let timestamp = |p: usize, nanos: u64| {
            if nanos == 0 {
                return Err(err(
                    format!("{path}.dataPoints[{p}].timeUnixNano"),
                    format!("a point of \"{}\" has no timestamp", metric.name),
                ));
            }
            Ok((nanos / 1_000_000) as i64)
        };
        let mut latest = None;
        let numbers = match data {
            Data::Gauge(g) => Some((&g.data_points, false)),
            Data::Sum(s) => Some((&s.data_points, s.aggregation_temporality == DELTA)),
            _ => None,
        };
        for (p, point) in numbers
            .map(|(points, _)| points)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let delta = numbers.is_some_and(|(_, delta)| delta);
            let ts = timestamp(p, point.time_unix_nano)?;
            let value = number_value(point.value.as_ref(), point.flags).ok_or_else(|| {
                err(
                    format!("{path}.dataPoints[{p}]"),
                    format!("a point of \"{}\" has no value", metric.name),
                )
            })?;
            self.push(&name, labels_of(&point.attributes), ts, value, delta);
            latest = latest.max(Some(ts));
        }
        let mut histograms = None;
        match data {
            Data::Gauge(_) | Data::Sum(_) => {}
            Data::Histogram(h) => {
                let points = h.data_points.iter().enumerate().map(|(p, point)| {
                    let buckets = explicit_buckets(point).map_err(|message| {
                        err(format!("{path}.dataPoints[{p}].bucketCounts"), message)
                    })?;
                    Ok(HistogramPoint {
                        time_unix_nano: point.time_unix_nano,
                        attributes: &point.attributes,
                        flags: point.flags,
                        buckets,
                        count: point.count,
                        sum: point.sum,
                    })
                });
                let points = points.collect::<Result<Vec<_>, _>>()?;
                histograms = Some((points, h.aggregation_temporality == DELTA));
            }
            Data::ExponentialHistogram(h) => {
                let points = h.data_points.iter().map(|point| HistogramPoint {
                    time_unix_nano: point.time_unix_nano,
                    attributes: &point.attributes,
                    flags: point.flags,
                    buckets: exponential_buckets(point),
                    count: point.count,
                    sum: point.sum,
                });
                histograms = Some((points.collect(), h.aggregation_temporality == DELTA));
            }
            Data::Summary(s) => {
                for (p, point) in s.data_points.iter().enumerate() {
                    let ts = timestamp(p, point.time_unix_nano)?;
                    let labels = labels_of(&point.attributes);
                    let v = |x: f64| recorded(point.flags, x);
                    for q in &point.quantile_values {
                        let mut l = labels.clone();
                        l.push(("quantile".into(), format_float(q.quantile)));
                        self.push(&name, l, ts, v(q.value), false);
                    }
                    self.push(
                        &format!("{name}_sum"),
                        labels.clone(),
                        ts,
                        v(point.sum),
                        false,
                    );
                    self.push(
                        &format!("{name}_count"),
                        labels,
                        ts,
                        v(point.count as f64),
                        false,
                    );
                    latest = latest.max(Some(ts));
                }
            }
        }
        for (p, point) in histograms.iter().flat_map(|(points, _)| points).enumerate() {
            let delta = histograms.as_ref().is_some_and(|(_, delta)| *delta);
            let ts = timestamp(p, point.time_unix_nano)?;
            self.histogram(&name, &labels_of(point.attributes), ts, delta, point);
            latest = latest.max(Some(ts));
        }
        Ok(latest)
    }

    /// Adds the `_bucket`, `_sum` and `_count` series of one histogram point.
    fn histogram(
        &mut self,
        name: &str,
        labels: &[(String, String)],
        ts: i64,
        delta: bool,
        point: &HistogramPoint,
    ) {
        let v = |x: f64| recorded(point.flags, x);
        let mut cumulative = 0u64;
        for &(bound, n) in &point.buckets {
            cumulative = cumulative.saturating_add(n);
            let mut l = labels.to_vec();
            l.push(("le".into(), format_float(bound)));
            let value = v(cumulative as f64);
            self.push(&format!("{name}_bucket"), l, ts, value, delta);
        }
        let mut l = labels.to_vec();
        l.push(("le".into(), "+Inf".into()));
        let count = v(point.count as f64);
        self.push(&format!("{name}_bucket"), l, ts, count, delta);
        if let Some(sum) = point.sum {
            self.push(&format!("{name}_sum"), labels.to_vec(), ts, v(sum), delta);
        }
        self.push(&format!("{name}_count"), labels.to_vec(), ts, count, delta);
    }

    fn push(
        &mut self,
        metric: &str,
        labels: Vec<(String, String)>,
        ts: i64,
        value: f64,
        delta: bool,
    ) {
        self.push_key(key(metric, labels), ts, value, delta);
    }

    fn push_key(&mut self, key: SeriesKey, ts: i64, value: f64, delta: bool) {
        self.points += 1;
        let value = if delta && value.to_bits() != STALE_NAN_BITS {
            self.totals.add(&key, value)
        } else {
            value
        };
        self.series.entry(key).or_default().push((ts, value));
    }
}

fn key(metric: &str, mut labels: Vec<(String, String)>) -> SeriesKey {
    labels.retain(|(_, v)| !v.is_empty());
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    SeriesKey {
        metric: metric.to_string(),
        labels,
    }
}

/// A number point's value; the stale marker when the point says it has no recorded value.
fn number_value(value: Option<&number_data_point::Value>, flags: u32) -> Option<f64> {
    if flags & NO_RECORDED_VALUE != 0 {
        return Some(recorded(flags, 0.0));
    }
    match value? {
        number_data_point::Value::AsDouble(v) => Some(*v),
        number_data_point::Value::AsInt(v) => Some(*v as f64),
    }
}

fn explicit_buckets(point: &HistogramDataPoint) -> Result<Vec<(f64, u64)>, String> {
    if point.bucket_counts.is_empty() {
        return Ok(Vec::new());
    }
    if point.bucket_counts.len() != point.explicit_bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} explicit bounds; there must be one more count than bounds",
            point.bucket_counts.len(),
            point.explicit_bounds.len()
        ));
    }
    if point.explicit_bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("explicit bounds must increase".into());
    }
    // The last count is the (bound, +Inf] bucket, which `count` covers.
    Ok(point
        .explicit_bounds
        .iter()
        .copied()
        .zip(point.bucket_counts.iter().copied())
        .collect())
}

/// The finest scale kept: exponential buckets are merged to powers of two (scale 0), so their
/// `le` labels do not change when a sender's SDK rescales, and the series count stays small.
const MAX_SCALE: i32 = 0;

/// Exponential buckets as classic ones: (upper bound, count), increasing.
fn exponential_buckets(point: &ExponentialHistogramDataPoint) -> Vec<(f64, u64)> {
    let scale = point.scale.min(MAX_SCALE);
    let shift = (point.scale - scale) as u32;
    // With scale ≤ 0 the base is 2^(2^-scale), so a bound is 2^(index·2^-scale).
    let bound = |index: i64| 2f64.powi((index << (-scale) as u32).clamp(-1100, 1100) as i32);
    let merged = |b: Option<
        &opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets,
    >| {
        let mut out: BTreeMap<i64, u64> = BTreeMap::new();
        if let Some(b) = b {
            for (k, &n) in b.bucket_counts.iter().enumerate() {
                let index = (i64::from(b.offset) + k as i64) >> shift;
                *out.entry(index).or_default() += n;
            }
        }
        out
    };
    let mut buckets = Vec::new();
    // Negative bucket i holds [-base^(i+1), -base^i): its upper bound is -base^i.
    // Empty negative buckets are left out: most senders never see a negative value.
    for (&i, &n) in merged(point.negative.as_ref()).iter().rev() {
        if n > 0 {
            buckets.push((-bound(i), n));
        }
    }
    buckets.push((point.zero_threshold, point.zero_count));
    // Positive bucket i holds (base^i, base^(i+1)].
    for (&i, &n) in &merged(point.positive.as_ref()) {
        buckets.push((bound(i + 1), n));
    }
    // Bounds that collapse to one float (at the extremes) merge.
    buckets.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 += later.1;
            true
        } else {
            false
        }
    });
    buckets
}

/// Formats a bound or quantile as Prometheus does (`0.5`, `1`, `+Inf`).
pub fn format_float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Attributes as labels: names sanitised; values of names that collide joined with `;`, in
/// the order of the original names.
fn sanitize_attributes<'a>(attrs: impl Iterator<Item = &'a KeyValue>) -> Vec<(String, String)> {
    let mut by_name: BTreeMap<String, Vec<(&str, String)>> = BTreeMap::new();
    for kv in attrs {
        let name = crate::otlp::resource::label_name(&kv.key);
        if name.is_empty() {
            continue;
        }
        by_name
            .entry(name)
            .or_default()
            .push((kv.key.as_str(), value_text(kv.value.as_ref())));
    }
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            values.sort();
            let joined: Vec<String> = values.into_iter().map(|(_, v)| v).collect();
            (name, joined.join(";"))
        })
        .collect()
}

/// Prometheus' OTLP metric-name rule: the name's words joined by `_`, the unit appended as a
/// word (`s` → `seconds`, `By` → `bytes`, `1/s` → `per_second`, `{things}` dropped), `_total`
/// on monotonic sums, `_ratio` on gauges whose unit is `1`.
pub fn metric_name(name: &str, unit: &str, monotonic: bool, gauge: bool) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    if !main.is_empty() && !main.contains(['{', '}']) {
        let word = clean_word(unit_word(main));
        if !word.is_empty() && !tokens.contains(&word) {
            tokens.push(word);
        }
    }
    if let Some(per) = parts.next().map(str::trim) {
        if !per.is_empty() && !per.contains(['{', '}']) {
            let word = clean_word(per_unit_word(per));
            if !word.is_empty() && !tokens.contains(&word) {
                tokens.push("per".into());
                tokens.push(word);
            }
        }
    }
    if monotonic {
        tokens.retain(|t| t != "total");
        tokens.push("total".into());
    }
    if unit == "1" && gauge {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".into());
    }
    let mut out = tokens.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    // Letters beyond ASCII are words to the rule above but not valid in a name.
    out.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn clean_word(word: &str) -> String {
    word.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{decode, resource::kv, Encoding};
    use opentelemetry_proto::tonic::{
        collector::metrics::v1::ExportMetricsServiceRequest as Request,
        metrics::v1::{
            exponential_histogram_data_point::Buckets, Gauge, Histogram, Metric, NumberDataPoint,
            ResourceMetrics, ScopeMetrics, Sum,
        },
        resource::v1::Resource,
    };

    #[test]
    fn names_follow_prometheus_otlp_rules() {
        assert_eq!(
            metric_name("http.server.duration", "s", false, false),
            "http_server_duration_seconds"
        );
        assert_eq!(
            metric_name("agent.tokens", "{token}", true, false),
            "agent_tokens_total"
        );
        assert_eq!(
            metric_name("requests.total", "1", true, false),
            "requests_total"
        );
        assert_eq!(
            metric_name("cpu.utilization", "1", false, true),
            "cpu_utilization_ratio"
        );
        assert_eq!(
            metric_name("net.io", "By/s", false, true),
            "net_io_bytes_per_second"
        );
        assert_eq!(
            metric_name("memory_bytes", "By", false, true),
            "memory_bytes"
        );
        assert_eq!(metric_name("2xx", "", false, true), "_2xx");
        assert_eq!(metric_name("...", "", false, true), "");
    }

    fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", "planner"),
                        kv("service.instance.id", "planner-1"),
                        kv("host.name", "box"),
                    ],
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn point(t_ms: u64, value: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attrs,
            time_unix_nano: t_ms * 1_000_000,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..Default::default()
        }
    }

    fn find<'a>(t: &'a Translated, text: &str) -> &'a IncomingSeries {
        t.series
            .iter()
            .find(|s| s.key.to_string() == text)
            .unwrap_or_else(|| {
                panic!(
                    "no series {text} in {:?}",
                    t.series
                        .iter()
                        .map(|s| s.key.to_string())
                        .collect::<Vec<_>>()
                )
            })
    }

    #[test]
    fn sums_gain_job_instance_and_target_info() {
        let metric = Metric {
            name: "agent.task.success".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(1000, 3.0, vec![kv("agent.id", "a1")])],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let t = translate(&request(vec![metric]), &DeltaTotals::default()).unwrap();
        let s = find(
            &t,
            r#"agent_task_success_total{agent_id="a1", instance="planner-1", job="planner"}"#,
        );
        assert_eq!(s.samples, vec![(1000, 3.0)]);
        let info = find(
            &t,
            r#"target_info{host_name="box", instance="planner-1", job="planner"}"#,
        );
        assert_eq!(info.samples, vec![(1000, 1.0)]);
        assert_eq!(t.metadata[0].kind, "counter");
    }

    #[test]
    fn delta_sums_accumulate_across_requests() {
        let totals = DeltaTotals::default();
        let metric = |t: u64, v: f64| Metric {
            name: "tokens".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(t, v, vec![])],
                aggregation_temporality: AggregationTemporality::Delta as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let first = translate(&request(vec![metric(1000, 5.0)]), &totals).unwrap();
        let second = translate(&request(vec![metric(2000, 7.0)]), &totals).unwrap();
        let name = r#"tokens_total{instance="planner-1", job="planner"}"#;
        assert_eq!(find(&first, name).samples, vec![(1000, 5.0)]);
        assert_eq!(find(&second, name).samples, vec![(2000, 12.0)]);
    }

    #[test]
    fn explicit_histograms_become_cumulative_buckets() {
        let metric = Metric {
            name: "task.duration".into(),
            unit: "s".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: 5_000_000_000,
                    count: 6,
                    sum: Some(9.5),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![0.5, 2.0],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        };
        let t = translate(&request(vec![metric]), &DeltaTotals::default()).unwrap();
        let b = |le: &str| {
            find(&t, &format!(r#"task_duration_seconds_bucket{{instance="planner-1", job="planner", le="{le}"}}"#)).samples[0].1
        };
        assert_eq!((b("0.5"), b("2"), b("+Inf")), (1.0, 3.0, 6.0));
        assert_eq!(
            find(
                &t,
                r#"task_duration_seconds_sum{instance="planner-1", job="planner"}"#
            )
            .samples[0]
                .1,
            9.5
        );
        assert_eq!(
            find(
                &t,
                r#"task_duration_seconds_count{instance="planner-1", job="planner"}"#
            )
            .samples[0]
                .1,
            6.0
        );
    }

    #[test]
    fn exponential_buckets_merge_to_powers_of_two() {
        // Scale 1: base √2; positive buckets 0..4 cover (1, √2], (√2, 2], (2, 2√2], (2√2, 4].
        let point = ExponentialHistogramDataPoint {
            scale: 1,
            count: 11,
            zero_count: 1,
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: vec![1, 2, 3, 4],
            }),
            ..Default::default()
        };
        assert_eq!(
            exponential_buckets(&point),
            vec![(0.0, 1), (2.0, 3), (4.0, 7)]
        );
        let negative = ExponentialHistogramDataPoint {
            scale: 0,
            negative: Some(Buckets {
                offset: 1,
                bucket_counts: vec![2],
            }),
            ..Default::default()
        };
        // Bucket 1 of the negatives holds [-4, -2).
        assert_eq!(exponential_buckets(&negative), vec![(-2.0, 2), (0.0, 0)]);
    }

    #[test]
    fn a_point_without_timestamp_is_refused_by_path() {
        let metric = Metric {
            name: "queue.depth".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![point(1, 1.0, vec![]), NumberDataPoint::default()],
            })),
            ..Default::default()
        };
        let e = translate(&request(vec![metric]), &DeltaTotals::default()).unwrap_err();
        assert_eq!(
            e.field,
            "resourceMetrics[0].scopeMetrics[0].metrics[0].dataPoints[1].timeUnixNano"
        );
    }

    #[test]
    fn json_requests_decode_with_string_integers() {
        let body = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
            "scopeMetrics":[{"metrics":[{"name":"queue.depth","gauge":{"dataPoints":[
            {"timeUnixNano":"1700000000000000000","asInt":"7","attributes":[{"key":"queue","value":{"stringValue":"q"}}]}]}}]}]}]}"#;
        let request: Request = decode(body, Encoding::Json, "request").unwrap();
        let t = translate(&request, &DeltaTotals::default()).unwrap();
        assert_eq!(
            find(&t, r#"queue_depth{job="svc", queue="q"}"#).samples,
            vec![(1_700_000_000_000, 7.0)]
        );
    }
}
