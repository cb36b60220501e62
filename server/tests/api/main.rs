//! API tests: the real router on a real port, each test with a database of its own.

mod alerting;
mod alerting_prometheus;
mod alerting_receivers;
mod alerting_replicas;
mod alerting_rules;
mod alertmanager_peers;
mod architecture;
mod compaction;
mod dashboards;
mod embedded;
mod errors;
mod health;
mod helpers;
mod maintenance;
mod metrics;
mod otlp;
mod pages;
mod peers;
mod prometheus_api;
mod query;
mod query_guards;
mod remote_write;
mod scrape;
mod silences;
mod status;
mod workers;
