//! The query service: PromQL instant and range queries, series, label names and values, and
//! metric metadata, for every caller (the Prometheus API, dashboards and their public links,
//! panel images, and alerting), behind Prometheus' guards: a bound on how deeply a query nests,
//! a limit on the samples one query may hold (`--query.max-samples`), a deadline, a concurrency
//! limit with a bounded queue and a fair share per caller (the shared read admission), and evaluation that
//! stops as soon as its caller goes away.

use super::{
    fetch::{fetch_for, FetchError},
    guard::{self, ParseError},
    promql::{self, Abort, Budget, MemorySource, Value, EVAL_STACK_BYTES},
    series::{find_series, Selector},
};
use crate::{
    admission::{AdmissionError, ReadAdmission},
    portal_metrics::PortalMetrics,
    store::{self, series::SeriesRow},
    tsdb::{read::Resolution, Storage},
};
use chrono::{DateTime, Utc};
use promql_parser::parser::{value::ValueType, Expr};
use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

pub use app::api::prometheus::{QueryRange, RangeError, MAX_POINTS_PER_SERIES};

/// The smallest range-query step that reads downsampled data.
pub const DOWNSAMPLED_MIN_STEP_MS: i64 = 20 * 60_000;

/// The limits every query runs under (each one a setting; see `config`).
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Deepest a parsed query may nest (and most operators it may have).
    pub max_depth: usize,
    /// Most samples one query may hold at once: those it loads and those it makes.
    pub max_samples: usize,
    /// Longest one query may run, its wait in the queue included.
    pub timeout: Duration,
    /// Queries evaluated at once; more wait in the queue.
    pub max_concurrent: usize,
    /// Queries that may wait; more are refused with 503 and Retry-After.
    pub max_queued: usize,
}

/// Why a query failed; converted into the API's error at the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A parameter is missing or unreadable (400, naming it).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The query parsed but cannot be evaluated (422).
    #[error("{0}")]
    Execution(String),
    /// Refused by a limit on what one query may do (422).
    #[error("{}", .0.message())]
    Aborted(Abort),
    /// Not let in: too many queries running and waiting (503, Retry-After), or the caller
    /// already has its share of them (429).
    #[error(transparent)]
    Admission(AdmissionError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl QueryError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The label `portal_queries_total` counts this outcome under.
    fn outcome(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid",
            Self::Execution(_) => "execution_error",
            Self::Aborted(Abort::Cancelled) => "cancelled",
            Self::Aborted(Abort::TimedOut) => "timeout",
            Self::Aborted(Abort::TooManySamples) => "too_many_samples",
            Self::Admission(AdmissionError::OverShare(_)) => "over_share",
            Self::Admission(AdmissionError::TimedOut) => "timeout",
            Self::Admission(_) => "busy",
            Self::Database(_) | Self::Internal(_) => "error",
        }
    }
}

impl From<AdmissionError> for QueryError {
    fn from(e: AdmissionError) -> Self {
        Self::Admission(e)
    }
}

impl From<RangeError> for QueryError {
    fn from(e: RangeError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> Self {
        Self::Invalid {
            field: "query",
            message: e.to_string(),
        }
    }
}

impl From<FetchError> for QueryError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::TooManySamples => Self::Aborted(Abort::TooManySamples),
            FetchError::Database(e) => Self::Database(e),
        }
    }
}

/// Runs queries over the stored samples; cheap to clone.
#[derive(Clone)]
pub struct QueryService(Arc<Inner>);

struct Inner {
    pool: sqlx::PgPool,
    storage: Arc<Storage>,
    limits: QueryLimits,
    admission: Arc<ReadAdmission>,
    metrics: PortalMetrics,
    /// Set when the portal stops: running queries end at their next step.
    shutdown: Arc<AtomicBool>,
}

/// Sets the stop flag when dropped: a query whose request is abandoned (a client that went
/// away, the request timeout) stops evaluating at its next step.
struct StopOnDrop {
    stop: Arc<AtomicBool>,
    finished: bool,
    metrics: PortalMetrics,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if !self.finished {
            self.metrics.observe_query("cancelled");
        }
    }
}

impl QueryService {
    pub fn new(
        pool: sqlx::PgPool,
        storage: Arc<Storage>,
        limits: QueryLimits,
        reads: Arc<ReadAdmission>,
        metrics: PortalMetrics,
    ) -> Self {
        metrics.set_query_limits(&[
            ("max_concurrent", limits.max_concurrent as i64),
            ("max_queued", limits.max_queued as i64),
            ("max_depth", limits.max_depth as i64),
            ("max_samples", limits.max_samples as i64),
            ("timeout_seconds", limits.timeout.as_secs() as i64),
        ]);
        Self(Arc::new(Inner {
            pool,
            storage,
            admission: reads,
            limits,
            metrics,
            shutdown: Arc::default(),
        }))
    }

    /// Stops every running query (they answer 503) and refuses new ones: the portal is
    /// stopping, and a long query must not hold the shutdown up.
    pub fn shut_down(&self) {
        self.0.shutdown.store(true, Ordering::Relaxed);
        self.0.admission.close();
    }

    /// Parses PromQL, refusing queries that nest deeper than the limit.
    pub fn parse(&self, text: &str) -> Result<Expr, QueryError> {
        guard::parse(text, self.0.limits.max_depth).map_err(|e| {
            if matches!(e, ParseError::TooDeep(_)) {
                self.0.metrics.observe_query("too_deep");
            }
            e.into()
        })
    }

    /// Evaluates `expr` at the instant `at` (ms).
    pub async fn instant(&self, expr: Expr, at: i64) -> Result<Value, QueryError> {
        self.evaluate(
            expr,
            (at, at, 0),
            Resolution::Raw,
            move |source, expr, budget| promql::evaluate_instant(source, expr, at, budget),
        )
        .await
    }

    /// Evaluates `expr` at every step of `range`.
    pub async fn range(
        &self,
        expr: Expr,
        range: QueryRange,
    ) -> Result<Vec<promql::Series>, QueryError> {
        if !matches!(expr.value_type(), ValueType::Vector | ValueType::Scalar) {
            return Err(QueryError::invalid(
                "query",
                format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    expr.value_type()
                ),
            ));
        }
        // At steps of 20 minutes and more, compacted days are read from the five-minute
        // downsampled stream: a 30-day graph then reads a tenth of the samples.
        let resolution = if range.step >= DOWNSAMPLED_MIN_STEP_MS {
            Resolution::Downsampled
        } else {
            Resolution::Raw
        };
        let QueryRange { start, end, step } = range;
        self.evaluate(
            expr,
            (start, end, step),
            resolution,
            move |source, expr, budget| {
                promql::evaluate_range(source, expr, start, end, step, budget)
            },
        )
        .await
    }

    /// Runs a parsed instant query and returns its series, each with the one point at `at`: the
    /// shape a dashboard's "instant" target and an alert rule want.
    pub async fn instant_series(
        &self,
        expr: Expr,
        at: i64,
    ) -> Result<Vec<promql::Series>, QueryError> {
        Ok(match self.instant(expr, at).await? {
            Value::Vector(samples) => samples
                .into_iter()
                .map(|s| promql::Series {
                    labels: s.labels,
                    points: vec![(at, s.value)],
                })
                .collect(),
            Value::Scalar(v) => vec![promql::Series {
                labels: promql::Labels::default(),
                points: vec![(at, v)],
            }],
            _ => Vec::new(),
        })
    }

    /// The series `selectors` pick that have samples between `start` and `end` (when given).
    pub async fn series(
        &self,
        selectors: &[Selector],
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<SeriesRow>, QueryError> {
        Ok(find_series(&self.0.pool, selectors, start, end).await?)
    }

    /// Every label name (`__name__` included), or those of the series `selectors` pick.
    pub async fn label_names(
        &self,
        selectors: &[Selector],
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, QueryError> {
        let mut names: BTreeSet<String> = BTreeSet::from(["__name__".to_string()]);
        if selectors.is_empty() {
            names.extend(store::series::select_label_names(&self.0.pool).await?);
        } else {
            for row in self.series(selectors, start, end).await? {
                names.extend(row.labels.into_iter().map(|(k, _)| k));
            }
        }
        Ok(names.into_iter().collect())
    }

    /// The values of label `name` (`__name__` for metric names), of every series or of those
    /// `selectors` pick, sorted.
    pub async fn label_values(
        &self,
        name: &str,
        selectors: &[Selector],
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<String>, QueryError> {
        if selectors.is_empty() {
            return Ok(if name == "__name__" {
                store::series::select_metric_names(&self.0.pool).await?
            } else {
                store::series::select_label_values(&self.0.pool, name).await?
            });
        }
        let rows = self.series(selectors, start, end).await?;
        let set: BTreeSet<String> = rows
            .into_iter()
            .filter_map(|row| {
                if name == "__name__" {
                    Some(row.metric_name)
                } else {
                    row.labels
                        .get(name)
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                }
            })
            .collect();
        Ok(set.into_iter().collect())
    }

    /// Type, help and unit of each metric (or of `metric`), at most `limit` metrics.
    pub async fn metadata(
        &self,
        metric: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<(String, String, String, String)>, QueryError> {
        Ok(store::metadata::select_metadata(&self.0.pool, metric, limit).await?)
    }

    /// Loads what `expr` reaches from `start` to `end` every `step`, then runs `evaluate` on a
    /// thread of its own (with a stack for the deepest query allowed) within the query's budget.
    async fn evaluate<T: Send + 'static>(
        &self,
        expr: Expr,
        (start, end, step): (i64, i64, i64),
        resolution: Resolution,
        evaluate: impl FnOnce(&MemorySource, &Expr, &Budget) -> promql::EvalResult<T> + Send + 'static,
    ) -> Result<T, QueryError> {
        let limits = &self.0.limits;
        let clock = Instant::now();
        let deadline = tokio::time::Instant::now() + limits.timeout;
        let mut stop = StopOnDrop {
            stop: Arc::default(),
            finished: false,
            metrics: self.0.metrics.clone(),
        };
        let result = async {
            let _admitted = self.0.admission.enter(deadline).await?;
            self.0.metrics.query_started();
            let _running = RunningGauge(&self.0.metrics);
            let source = tokio::time::timeout_at(
                deadline,
                fetch_for(
                    &self.0.pool,
                    &self.0.storage,
                    &expr,
                    (start, end, step),
                    resolution,
                    limits.max_samples,
                ),
            )
            .await
            .map_err(|_| QueryError::Aborted(Abort::TimedOut))??;
            let fetched = clock.elapsed();
            let series = source.series.len();
            let samples: usize = source.series.iter().map(|s| s.points.len()).sum();
            let budget = Budget::new(
                [stop.stop.clone(), self.0.shutdown.clone()],
                Some(deadline.into_std()),
                limits.max_samples,
                samples,
            );
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::Builder::new()
                .name("query-eval".into())
                .stack_size(EVAL_STACK_BYTES)
                .spawn(move || {
                    let result = evaluate(&source, &expr, &budget);
                    let aborted = budget.aborted();
                    // The tree and the samples are dropped here, on the large stack.
                    drop((source, expr));
                    let _ = tx.send((result, aborted));
                })
                .map_err(|e| anyhow::anyhow!("failed to start a query thread: {e}"))?;
            let (result, aborted) = rx
                .await
                .map_err(|_| anyhow::anyhow!("the query thread ended without an answer"))?;
            tracing::debug!(
                series,
                samples,
                fetch_ms = fetched.as_secs_f64() * 1000.0,
                eval_ms = (clock.elapsed() - fetched).as_secs_f64() * 1000.0,
                "query evaluated"
            );
            match (result, aborted) {
                (Ok(value), _) => Ok(value),
                (Err(_), Some(why)) => Err(QueryError::Aborted(why)),
                (Err(e), None) => Err(QueryError::Execution(e.0)),
            }
        }
        .await;
        stop.finished = true;
        self.0.metrics.observe_query(match &result {
            Ok(_) => "ok",
            Err(e) => e.outcome(),
        });
        self.0
            .metrics
            .observe_query_duration(clock.elapsed().as_secs_f64());
        result
    }
}

/// Counts a query as running for as long as it holds its slot.
struct RunningGauge<'a>(&'a PortalMetrics);

impl Drop for RunningGauge<'_> {
    fn drop(&mut self) {
        self.0.query_finished();
    }
}
