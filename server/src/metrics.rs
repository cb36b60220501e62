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

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    db_connections: IntGaugeVec,
    db_max_connections: IntGauge,
}

impl Metrics {
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

        for collector in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(http_in_flight.clone()),
            Box::new(db_connections.clone()),
            Box::new(db_max_connections.clone()),
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
        }
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

    pub fn in_flight(&self) -> &IntGauge {
        &self.http_in_flight
    }

    /// Reads the pool's state and writes every metric in the text exposition format.
    pub fn render(&self, pool: &PgPool) -> String {
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

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
