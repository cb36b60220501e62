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
    system_time_ms, Engine, DEFAULT_LOOKBACK_MS, EVAL_STACK_BYTES,
};

use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc, OnceLock,
};
use std::time::Instant;

use promql_parser::label::Matcher;
use std::fmt;

/// Labels of a series or sample, sorted by name, `__name__` included. Shared: a clone is a
/// reference count, so the same series seen at every step of a range query costs no copies;
/// changing a shared set copies it first. Its hash is computed once and kept.
#[derive(Clone, Debug, Default)]
pub struct Labels(std::sync::Arc<LabelSet>);

#[derive(Clone, Debug, Default)]
pub struct LabelSet {
    items: Vec<(String, String)>,
    hash: std::sync::OnceLock<u64>,
}

impl Labels {
    pub fn new() -> Self {
        Self::default()
    }

    /// The address of the shared set: equal for clones of one set.
    pub fn ptr_id(&self) -> usize {
        std::sync::Arc::as_ptr(&self.0) as usize
    }

    fn hash_value(&self) -> u64 {
        *self.0.hash.get_or_init(|| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for (n, v) in &self.0.items {
                h.update(n.as_bytes());
                h.update(&[0xff]);
                h.update(v.as_bytes());
                h.update(&[0xfe]);
            }
            h.digest()
        })
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
            || (self.hash_value() == other.hash_value() && self.0.items == other.0.items)
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash_value());
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.items.cmp(&other.0.items)
    }
}

impl std::ops::Deref for Labels {
    type Target = Vec<(String, String)>;
    fn deref(&self) -> &Self::Target {
        &self.0.items
    }
}

impl std::ops::DerefMut for Labels {
    fn deref_mut(&mut self) -> &mut Self::Target {
        let set = std::sync::Arc::make_mut(&mut self.0);
        set.hash = std::sync::OnceLock::new();
        &mut set.items
    }
}

impl From<Vec<(String, String)>> for Labels {
    fn from(items: Vec<(String, String)>) -> Self {
        Self(std::sync::Arc::new(LabelSet {
            items,
            hash: std::sync::OnceLock::new(),
        }))
    }
}

impl FromIterator<(String, String)> for Labels {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl IntoIterator for Labels {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        std::sync::Arc::unwrap_or_clone(self.0).items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.items.iter()
    }
}

pub use crate::tsdb::{is_stale_marker, STALE_NAN_BITS};

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

/// Why an evaluation was stopped before it finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abort {
    /// Whoever asked went away (the request was dropped).
    Cancelled,
    /// The query ran past its deadline.
    TimedOut,
    /// The query would hold more samples than the limit allows.
    TooManySamples,
}

impl Abort {
    pub fn message(self) -> &'static str {
        match self {
            Self::Cancelled => "query cancelled",
            Self::TimedOut => "query timed out in expression evaluation",
            Self::TooManySamples => {
                "query processing would load too many samples into memory in query execution"
            }
        }
    }
}

/// The limits one evaluation runs under, shared by its threads: a flag that stops it (set when
/// the request is dropped), a deadline, and the most samples it may hold at once (those loaded
/// before evaluation, plus what the evaluation makes: a range query's points, a subquery's).
/// Loops that may run long (steps, subquery steps) call [`Budget::check`], so an abandoned or
/// late query stops within one step instead of running to the end.
#[derive(Debug)]
pub struct Budget {
    stop: Arc<AtomicBool>,
    shutdown: Arc<AtomicBool>,
    deadline: Option<Instant>,
    max_samples: usize,
    loaded: usize,
    produced: AtomicUsize,
    aborted: OnceLock<Abort>,
}

impl Budget {
    /// No deadline, no sample limit, never stopped: for tests and trusted callers.
    pub fn unlimited() -> Self {
        Self::new([Arc::default(), Arc::default()], None, usize::MAX, 0)
    }

    /// A budget stopped by either of `stops` (the request's, the portal's shutdown), ending at
    /// `deadline`, of `max_samples` of which `loaded` are already taken by the query's input.
    pub fn new(
        [stop, shutdown]: [Arc<AtomicBool>; 2],
        deadline: Option<Instant>,
        max_samples: usize,
        loaded: usize,
    ) -> Self {
        Self {
            stop,
            shutdown,
            deadline,
            max_samples,
            loaded,
            produced: AtomicUsize::new(0),
            aborted: OnceLock::new(),
        }
    }

    /// Why the evaluation was stopped, if it was.
    pub fn aborted(&self) -> Option<Abort> {
        self.aborted.get().copied()
    }

    fn abort<T>(&self, why: Abort) -> EvalResult<T> {
        let why = *self.aborted.get_or_init(|| why);
        eval_error(why.message())
    }

    /// Fails once the evaluation is stopped or past its deadline.
    pub fn check(&self) -> EvalResult<()> {
        if let Some(why) = self.aborted() {
            return self.abort(why);
        }
        if self.stop.load(Ordering::Relaxed) || self.shutdown.load(Ordering::Relaxed) {
            return self.abort(Abort::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return self.abort(Abort::TimedOut);
        }
        Ok(())
    }

    /// Fails when `extra` more samples, on top of the input and of what the evaluation keeps,
    /// would pass the limit.
    pub fn fits(&self, extra: usize) -> EvalResult<()> {
        let held = self
            .loaded
            .saturating_add(self.produced.load(Ordering::Relaxed))
            .saturating_add(extra);
        if held > self.max_samples {
            return self.abort(Abort::TooManySamples);
        }
        Ok(())
    }

    /// Counts `n` samples the evaluation keeps until it ends (a range query's points).
    pub fn keep(&self, n: usize) -> EvalResult<()> {
        let before = self.produced.fetch_add(n, Ordering::Relaxed);
        if self.loaded.saturating_add(before).saturating_add(n) > self.max_samples {
            return self.abort(Abort::TooManySamples);
        }
        Ok(())
    }
}

/// Where series come from: every series matching all `matchers`, with the points that fall in
/// `[start, end]` (milliseconds).
/// Called with a series' labels and points.
pub type Visit<'a> = dyn FnMut(&Labels, &[(i64, f64)]) + 'a;

/// Where an evaluation reads series from; shared by the threads of a range query.
pub trait Source: Sync {
    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<Series>;

    /// Calls `f` with the labels and the points (staleness markers included) from `start` to
    /// `end` of each series `matchers` select; a source that holds its data can lend it
    /// without copying.
    fn for_each(&self, matchers: &[Matcher], start: i64, end: i64, f: &mut Visit<'_>) {
        for s in self.select(matchers, start, end) {
            f(&s.labels, &s.points);
        }
    }
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

pub use crate::fast_hash::{FastHasher, FastMap};

thread_local! {
    /// Label sets derived from others during one evaluation, by (kind, source set): a range
    /// query derives the same sets at every step, so each is made once.
    static DERIVED: std::cell::RefCell<FastMap<(usize, usize), (Labels, Labels)>> =
        std::cell::RefCell::default();
}

/// Returns `make(labels)`, made once per evaluation for each shared label set and `kind`.
pub(crate) fn derived(
    kind: usize,
    labels: &Labels,
    make: impl FnOnce(&Labels) -> Labels,
) -> Labels {
    let key = (kind, labels.ptr_id());
    if let Some(found) = DERIVED.with(|m| m.borrow().get(&key).map(|(_, d)| d.clone())) {
        return found;
    }
    let made = make(labels);
    // The source set is kept with its result so its address cannot be reused meanwhile.
    DERIVED.with(|m| m.borrow_mut().insert(key, (labels.clone(), made.clone())));
    made
}

/// Forgets the derived label sets; every evaluation starts with this.
pub(crate) fn forget_derived() {
    DERIVED.with(|m| m.borrow_mut().clear());
}

/// Returns the labels without `__name__`.
pub fn drop_metric_name(labels: &Labels) -> Labels {
    if !labels.iter().any(|(n, _)| n == "__name__") {
        return labels.clone();
    }
    derived(0, labels, |labels| {
        labels
            .iter()
            .filter(|(n, _)| n != "__name__")
            .cloned()
            .collect()
    })
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
/// Which series a selector matches is worked out once and remembered, since a range query asks
/// the same question at every step.
#[derive(Debug, Default)]
pub struct MemorySource {
    pub series: Vec<Series>,
    matches: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Vec<usize>>>>,
}

impl Clone for MemorySource {
    fn clone(&self) -> Self {
        Self::new(self.series.clone())
    }
}

impl MemorySource {
    pub fn new(series: Vec<Series>) -> Self {
        Self {
            series,
            matches: Default::default(),
        }
    }

    /// The indices of the series `matchers` select. Series are only ever added (labels never
    /// change), so the count of series is part of the key.
    fn matching(&self, matchers: &[Matcher]) -> std::sync::Arc<Vec<usize>> {
        let mut key = self.series.len().to_string();
        for m in matchers {
            key.push(',');
            key.push_str(&m.to_string());
        }
        let mut cache = self.matches.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(key)
            .or_insert_with(|| {
                std::sync::Arc::new(
                    self.series
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| {
                            matchers
                                .iter()
                                .all(|m| m.is_match(label_value(&s.labels, &m.name)))
                        })
                        .map(|(i, _)| i)
                        .collect(),
                )
            })
            .clone()
    }
}

/// The index range of `points` (in time order) from `start` to `end` inclusive. The end is
/// found by galloping from the start, as windows are short next to whole series.
fn window(points: &[(i64, f64)], start: i64, end: i64) -> std::ops::Range<usize> {
    let from = points.partition_point(|(t, _)| *t < start);
    let rest = &points[from..];
    let mut bound = 1;
    while bound < rest.len() && rest[bound].0 <= end {
        bound *= 2;
    }
    let lo = bound / 2;
    let hi = bound.min(rest.len());
    let to = lo + rest[lo..hi].partition_point(|(t, _)| *t <= end);
    from..from + to
}

impl Source for MemorySource {
    fn for_each(&self, matchers: &[Matcher], start: i64, end: i64, f: &mut Visit<'_>) {
        for &i in self.matching(matchers).iter() {
            let s = &self.series[i];
            f(&s.labels, &s.points[window(&s.points, start, end)]);
        }
    }

    fn select(&self, matchers: &[Matcher], start: i64, end: i64) -> Vec<Series> {
        self.matching(matchers)
            .iter()
            .map(|&i| {
                let s = &self.series[i];
                Series {
                    labels: s.labels.clone(),
                    points: s.points[window(&s.points, start, end)].to_vec(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_stops_on_either_flag_and_remembers_why() {
        let (stop, shutdown) = (Arc::new(AtomicBool::new(false)), Arc::default());
        let budget = Budget::new([stop.clone(), shutdown], None, 100, 10);
        assert!(budget.check().is_ok());
        stop.store(true, Ordering::Relaxed);
        assert!(budget.check().is_err());
        assert_eq!(budget.aborted(), Some(Abort::Cancelled));
        stop.store(false, Ordering::Relaxed);
        assert!(budget.check().is_err(), "an aborted budget stays aborted");
    }

    #[test]
    fn a_budget_counts_samples_against_its_limit() {
        let budget = Budget::new([Arc::default(), Arc::default()], None, 100, 60);
        assert!(budget.fits(40).is_ok());
        assert!(budget.keep(30).is_ok());
        assert!(budget.fits(11).is_err());
        assert_eq!(budget.aborted(), Some(Abort::TooManySamples));
        let late = Budget::new(
            [Arc::default(), Arc::default()],
            Some(Instant::now()),
            usize::MAX,
            0,
        );
        assert!(late.check().is_err());
        assert_eq!(late.aborted(), Some(Abort::TimedOut));
    }

    #[test]
    fn windows_match_a_plain_search() {
        let points: Vec<(i64, f64)> = (0..300).map(|i| (i * 10, 0.0)).collect();
        for (start, end) in [
            (0, 0),
            (5, 95),
            (-50, 20),
            (2990, 5000),
            (100, 99),
            (0, 10_000),
            (1234, 1236),
        ] {
            let from = points.partition_point(|p| p.0 < start);
            let to = points.partition_point(|p| p.0 <= end).max(from);
            assert_eq!(
                super::window(&points, start, end),
                from..to,
                "{start}..{end}"
            );
        }
        assert_eq!(super::window(&[], 0, 10), 0..0);
    }
}
