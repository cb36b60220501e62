//! The Prometheus HTTP API's envelope and the shapes of its metadata endpoints
//! (`/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/metadata`,
//! `/api/v1/status/buildinfo`), as Prometheus and Grafana expect them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most points one series of a range query may have, as in Prometheus.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// The times of a range query in milliseconds: from `start` to `end` every `step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRange {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

/// Why a range is refused: the parameter at fault and Prometheus' message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeError {
    pub field: &'static str,
    pub message: &'static str,
}

impl QueryRange {
    /// A range with Prometheus' checks: `end` not before `start`, a positive `step`, at most
    /// 11,000 points per series.
    pub fn new(start: i64, end: i64, step: i64) -> Result<Self, RangeError> {
        if end < start {
            return Err(RangeError {
                field: "end",
                message: "end timestamp must not be before start time",
            });
        }
        if step <= 0 {
            return Err(RangeError {
                field: "step",
                message: "zero or negative query resolution step widths are not accepted. Try a positive integer",
            });
        }
        if (end - start) / step > MAX_POINTS_PER_SERIES {
            return Err(RangeError {
                field: "step",
                message: "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            });
        }
        Ok(Self { start, end, step })
    }

    /// How long the range is, in milliseconds.
    pub fn span_ms(&self) -> i64 {
        self.end - self.start
    }
}

/// `{"status": "success", "data": …}` or `{"status": "error", "errorType": …, "error": …}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum PromResponse<T> {
    Success {
        data: T,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: String,
        error: String,
    },
}

impl<T> PromResponse<T> {
    pub fn success(data: T) -> Self {
        Self::Success {
            data,
            warnings: Vec::new(),
        }
    }
}

/// One series: every label, `__name__` included.
pub type SeriesLabels = BTreeMap<String, String>;

/// Writes a series as PromQL does: `name{a="1", b="2"}`; `{}` for a series with no labels.
pub fn series_name(labels: &SeriesLabels) -> String {
    let name = labels.get("__name__").map(String::as_str).unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", rest.join(", "))
    }
}

/// What `/api/v1/metadata` says of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricMetadata {
    #[serde(rename = "type")]
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// `/api/v1/status/buildinfo`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub build_user: String,
    pub build_date: String,
    pub go_version: String,
}

/// A timestamp in seconds and a value written as Prometheus writes floats: `[1700000000.5, "1"]`.
pub type SamplePair = (f64, String);

/// `data` of `/api/v1/query` and `/api/v1/query_range`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
pub enum QueryData {
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
    Scalar(SamplePair),
    String(SamplePair),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstantSample {
    pub metric: SeriesLabels,
    pub value: SamplePair,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangeSeries {
    pub metric: SeriesLabels,
    pub values: Vec<SamplePair>,
}
