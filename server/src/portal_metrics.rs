//! The portal's own metrics, served at `/metrics` in the Prometheus text format: HTTP requests
//! by route and status, request latency, in-flight requests, the database pool and the process.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sqlx::PgPool;

/// Latency buckets in seconds, from a cached page to a long query.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// What one write stored and refused, as the ingest counters count it.
#[derive(Clone, Copy, Debug, Default)]
pub struct IngestCounts {
    pub samples_written: u64,
    pub series_created: u64,
    pub series_refused: u64,
    pub samples_out_of_bounds: u64,
    pub samples_refused_by_limit: u64,
}

#[derive(Clone)]
pub struct PortalMetrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    db_connections: IntGaugeVec,
    db_max_connections: IntGauge,
    head_samples: IntGauge,
    ingest_samples: IntCounterVec,
    ingest_samples_refused: IntCounterVec,
    ingest_series_created: IntCounterVec,
    ingest_series_refused: IntCounterVec,
    ingest_exemplars_dropped: IntCounterVec,
    ingest_shed: IntCounterVec,
    queries: IntCounterVec,
    query_duration: prometheus::Histogram,
    queries_running: IntGauge,
    queries_waiting: IntGauge,
    query_limits: IntGaugeVec,
    worker_runs: IntCounterVec,
    worker_last_run: prometheus::GaugeVec,
    worker_running: IntGaugeVec,
}

impl PortalMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "portal_http_requests_total",
                "HTTP requests answered, by method, route and status code",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "portal_http_request_duration_seconds",
                "Time to answer an HTTP request, by method and route",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let http_in_flight = IntGauge::new(
            "portal_http_requests_in_flight",
            "HTTP requests being answered now",
        )
        .expect("valid metric");
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "portal_db_pool_connections",
                "Connections in the PostgreSQL pool, by state",
            ),
            &["state"],
        )
        .expect("valid metric");
        let db_max_connections = IntGauge::new(
            "portal_db_pool_max_connections",
            "Most connections the PostgreSQL pool may open",
        )
        .expect("valid metric");
        let head_samples = IntGauge::new(
            "portal_head_samples",
            "Samples in memory not compacted yet (the head), written by this replica or another",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "portal_build_info",
                "Always 1; the labels say which build is running",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);

        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
        };
        let ingest_samples = counter(
            "portal_ingest_samples_total",
            "Samples stored, by protocol",
            &["protocol"],
        );
        let ingest_samples_refused = counter(
            "portal_ingest_samples_refused_total",
            "Samples refused, by protocol and reason (series_limit, out_of_bounds)",
            &["protocol", "reason"],
        );
        let ingest_series_created = counter(
            "portal_ingest_series_created_total",
            "New series added to the dictionary, by protocol",
            &["protocol"],
        );
        let ingest_series_refused = counter(
            "portal_ingest_series_refused_total",
            "New series refused because their metric reached the series limit, by protocol",
            &["protocol"],
        );
        let ingest_shed = counter(
            "portal_ingest_requests_shed_total",
            "Writes refused with 503 and Retry-After, by reason: inflight_requests and inflight_bytes (before the body was read), head_full (a back-fill while the head is at its limit)",
            &["reason"],
        );
        let ingest_exemplars_dropped = counter(
            "portal_ingest_exemplars_dropped_total",
            "Exemplars received and not stored (the portal keeps no exemplars yet), by protocol",
            &["protocol"],
        );
        let queries = counter(
            "portal_queries_total",
            "PromQL queries by outcome (ok, invalid, too_deep, execution_error, too_many_samples, timeout, cancelled, busy, error)",
            &["outcome"],
        );
        let query_duration = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "portal_query_duration_seconds",
                "Time from a query's arrival to its answer, queueing included",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let queries_running = IntGauge::new(
            "portal_queries_running",
            "PromQL queries loading or evaluating now",
        )
        .expect("valid metric");
        let queries_waiting = IntGauge::new(
            "portal_queries_waiting",
            "PromQL queries waiting for a free slot",
        )
        .expect("valid metric");
        let query_limits = IntGaugeVec::new(
            Opts::new(
                "portal_query_limit",
                "The query limits in force, by limit (max_concurrent, max_queued, max_depth, max_samples, timeout_seconds)",
            ),
            &["limit"],
        )
        .expect("valid metric");
        let worker_runs = counter(
            "portal_worker_runs_total",
            "Passes of each background worker, by worker and outcome (ok, error)",
            &["worker", "outcome"],
        );
        let worker_last_run = prometheus::GaugeVec::new(
            Opts::new(
                "portal_worker_last_run_timestamp_seconds",
                "When each background worker last finished a pass, by worker and outcome",
            ),
            &["worker", "outcome"],
        )
        .expect("valid metric");
        let worker_running = IntGaugeVec::new(
            Opts::new(
                "portal_worker_up",
                "1 while a background worker runs here (for one-replica workers: holds the lock), else 0",
            ),
            &["worker"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(queries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(query_duration.clone()),
            Box::new(queries_running.clone()),
            Box::new(queries_waiting.clone()),
            Box::new(query_limits.clone()),
            Box::new(worker_runs.clone()),
            Box::new(worker_last_run.clone()),
            Box::new(worker_running.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        for collector in [
            Box::new(ingest_samples.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(ingest_samples_refused.clone()),
            Box::new(ingest_series_created.clone()),
            Box::new(ingest_series_refused.clone()),
            Box::new(ingest_exemplars_dropped.clone()),
            Box::new(ingest_shed.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(http_in_flight.clone()),
            Box::new(db_connections.clone()),
            Box::new(db_max_connections.clone()),
            Box::new(head_samples.clone()),
            Box::new(build_info),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            db_connections,
            db_max_connections,
            head_samples,
            ingest_samples,
            ingest_samples_refused,
            ingest_series_created,
            ingest_series_refused,
            ingest_exemplars_dropped,
            ingest_shed,
            queries,
            query_duration,
            queries_running,
            queries_waiting,
            query_limits,
            worker_runs,
            worker_last_run,
            worker_running,
        }
    }

    /// Publishes the query limits in force, by name.
    pub fn set_query_limits(&self, limits: &[(&str, i64)]) {
        for (name, value) in limits {
            self.query_limits.with_label_values(&[name]).set(*value);
        }
    }

    /// Counts one query's outcome.
    pub fn observe_query(&self, outcome: &str) {
        self.queries.with_label_values(&[outcome]).inc();
    }

    pub fn observe_query_duration(&self, seconds: f64) {
        self.query_duration.observe(seconds);
    }

    pub fn query_started(&self) {
        self.queries_running.inc();
    }

    pub fn query_finished(&self) {
        self.queries_running.dec();
    }

    pub fn query_waiting(&self, delta: i64) {
        self.queries_waiting.add(delta);
    }

    /// Records one pass of a background worker.
    pub fn observe_worker_run(&self, worker: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.worker_runs.with_label_values(&[worker, outcome]).inc();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.worker_last_run
            .with_label_values(&[worker, outcome])
            .set(now);
    }

    /// Marks a worker as running here (or not).
    pub fn set_worker_up(&self, worker: &str, up: bool) {
        self.worker_running
            .with_label_values(&[worker])
            .set(i64::from(up));
    }

    /// Counts one answered request; `route` is the matched route pattern, never the raw path,
    /// so the number of series stays bounded.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.http_requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// Counts what one write stored and refused.
    pub fn observe_ingest(&self, protocol: &str, counts: &IngestCounts) {
        self.ingest_samples
            .with_label_values(&[protocol])
            .inc_by(counts.samples_written);
        self.ingest_series_created
            .with_label_values(&[protocol])
            .inc_by(counts.series_created);
        self.ingest_series_refused
            .with_label_values(&[protocol])
            .inc_by(counts.series_refused);
        self.ingest_samples_refused
            .with_label_values(&[protocol, "out_of_bounds"])
            .inc_by(counts.samples_out_of_bounds);
        self.ingest_samples_refused
            .with_label_values(&[protocol, "series_limit"])
            .inc_by(counts.samples_refused_by_limit);
    }

    pub fn observe_exemplars_dropped(&self, protocol: &str, count: u64) {
        self.ingest_exemplars_dropped
            .with_label_values(&[protocol])
            .inc_by(count);
    }

    pub fn observe_ingest_shed(&self, reason: &str) {
        self.ingest_shed.with_label_values(&[reason]).inc();
    }

    pub fn in_flight(&self) -> &IntGauge {
        &self.http_in_flight
    }

    /// The text exposition of every metric, with the pool's connections and the head's size
    /// (`head_samples`) read now.
    pub fn render(&self, pool: &PgPool, head_samples: usize) -> String {
        self.head_samples
            .set(i64::try_from(head_samples).unwrap_or(i64::MAX));
        let open = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
        self.db_connections.with_label_values(&["idle"]).set(idle);
        self.db_connections
            .with_label_values(&["in_use"])
            .set((open - idle).max(0));
        self.db_max_connections
            .set(i64::from(pool.options().get_max_connections()));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for PortalMetrics {
    fn default() -> Self {
        Self::new()
    }
}
