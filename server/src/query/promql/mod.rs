//! The PromQL engine: expressions parsed by `promql-parser`, evaluated here over series that a
//! [`Source`] provides, with Prometheus' semantics (5-minute lookback, staleness markers,
//! extrapolated rates, vector matching, `offset` and `@`, subqueries). Range queries evaluate
//! the expression at every step.

mod eval;
mod functions;
#[cfg(test)]
mod testfile;

pub use eval::{
    duration_ms, evaluate_instant, evaluate_range, format_value, offset_ms, selector_matchers,
    system_time_ms, Engine, DEFAULT_LOOKBACK_MS,
};

use promql_parser::label::Matcher;
use std::fmt;

/// Labels of a series or sample, sorted by name, `__name__` included.
pub type Labels = Vec<(String, String)>;

/// The value Prometheus writes to mark a series as stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// A series with its points (milliseconds, value) in time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// What an expression evaluates to.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Scalar(_) => "scalar",
            Self::String(_) => "string",
            Self::Vector(_) => "vector",
            Self::Matrix(_) => "matrix",
        }
    }
}

/// Why a query could not be evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

pub type EvalResult<T> = Result<T, EvalError>;

pub fn eval_error<T>(message: impl Into<String>) -> EvalResult<T> {
    Err(EvalError(message.into()))
}

/// Where series come from: every series matching all `matchers`, with the points that fall in
/// `[start, end]` (milliseconds).
pub trait Source {
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<Series>;
}

/// Orders values ascending (or descending), with NaN last either way, as sort() and topk do.
pub fn cmp_nan_last(a: f64, b: f64, descending: bool) -> std::cmp::Ordering {
    a.is_nan().cmp(&b.is_nan()).then_with(|| {
        let order = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
        if descending {
            order.reverse()
        } else {
            order
        }
    })
}

/// Returns the value of label `name`, or "" when absent.
pub fn label_value<'a>(labels: &'a Labels, name: &str) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// Returns the labels without `__name__`.
pub fn drop_metric_name(labels: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(n, _)| n != "__name__")
        .cloned()
        .collect()
}

/// Sets (or, with an empty value, removes) a label, keeping the order.
pub fn set_label(labels: &mut Labels, name: &str, value: &str) {
    match labels.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
        Ok(i) if value.is_empty() => {
            labels.remove(i);
        }
        Ok(i) => labels[i].1 = value.to_string(),
        Err(_) if value.is_empty() => {}
        Err(i) => labels.insert(i, (name.to_string(), value.to_string())),
    }
}

/// Writes labels as PromQL does: `{a="1", b="2"}`.
pub fn format_labels(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// An in-memory source: what the test runner loads, and what a query's prefetched data becomes.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    pub series: Vec<Series>,
}

impl Source for MemorySource {
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<Series> {
        self.series
            .iter()
            .filter(|s| {
                matchers
                    .iter()
                    .all(|m| m.is_match(label_value(&s.labels, &m.name)))
            })
            .map(|s| {
                let from = s.points.partition_point(|(t, _)| *t < start);
                let to = s.points.partition_point(|(t, _)| *t <= end);
                Series {
                    labels: s.labels.clone(),
                    points: s.points[from..to].to_vec(),
                }
            })
            .collect()
    }
}
